"""Jaeger's pattern generator: no input at all, trained by teacher forcing through output feedback."""

import esnkit as ek

signal = ek.datasets.mso(3000, n_oscillators=2)  # sin(0.2 t) + sin(0.311 t)
esn = ek.ESN(200, spectral_radius=0.95, feedback_scaling=0.3, leak_rate=0.5, bias_scaling=0.2,
             ridge=1e-8, washout=200, seed=0)
esn.fit(None, signal[:2000])
generated = esn.generate(1000)
print(f"free-run NRMSE over 1000 steps: {ek.metrics.nrmse(signal[2000:3000], generated):.2e}")
print("plot:", ek.plotting.plot_forecast(signal[2000:2300], generated[:300], "pattern_generator.png"))
