"""Forecast Mackey-Glass: one-step predictions, then a free-running forecast, plotted."""

import esnkit as ek

data = ek.datasets.mackey_glass(6000, tau=17)
esn = ek.ESN(1000, spectral_radius=0.9, leak_rate=1.0, input_scaling=1.0, bias_scaling=0.5,
             ridge=1e-9, washout=100, seed=0)
esn.fit(data[:4000], data[1:4001])

forecast = esn.generate(300, update_state=False)  # from the end of training
one_step = esn.predict(data[4000:5000])           # driven, one step ahead
print(f"one-step NRMSE: {ek.metrics.nrmse(data[4001:5001], one_step):.2e}")
print(f"free-run NRMSE over 84 steps: {ek.metrics.nrmse(data[4001:4085], forecast[:84]):.2e}")
print("plot:", ek.plotting.plot_forecast(data[4001:4301], forecast, "mackey_glass_forecast.png", threshold=0.3))
