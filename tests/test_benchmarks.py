"""esnkit.benchmarks: pinned protocols, their scores, the contestants and the `esnkit bench` runner."""

from __future__ import annotations

import importlib
import json
import math
from pathlib import Path

import numpy as np
import pytest

import esnkit as ek
import esnkit.benchmarks as bm
from esnkit.benchmarks import configs, lstm, runner
from esnkit.benchmarks.measure import PeakRSS


@pytest.fixture(scope="module")
def mg():
    return bm.mackey_glass(starts=6)


def test_protocol_windows_are_pinned_and_contiguous(mg):
    train, test = mg.series()
    assert train.shape == (3000, 1) and test.shape == (mg.test_steps, 1)
    # The same call gives the same numbers (no randomness left open).
    again = bm.mackey_glass(starts=6)
    np.testing.assert_array_equal(again.series()[1], test)
    w = mg.windows()
    assert w.contexts.shape == (6, 500, 1) and w.truth.shape == (6, 84, 1)
    for i in range(6):  # truth continues each context without a gap
        s = mg.warmup + i * mg.stride
        np.testing.assert_array_equal(w.contexts[i, -1], test[s - 1])
        np.testing.assert_array_equal(w.truth[i, 0], test[s])
    # Jaeger's squashing: tanh(x - 1) of the raw series, and the test part lies 1000 samples past training.
    raw = ek.datasets.mackey_glass(3000 + 1000 + 10, tau=17)
    np.testing.assert_allclose(train, np.tanh(raw[:3000] - 1), rtol=0, atol=0)
    np.testing.assert_allclose(test[:10], np.tanh(raw[4000:4010] - 1), rtol=0, atol=0)
    np.testing.assert_allclose(w.scale, train.std(axis=0))


def test_nrmse84_is_the_last_step_error_pooled_over_starts(mg):
    w = mg.windows()
    rng = np.random.default_rng(0)
    err = rng.normal(0, 1e-3, w.truth.shape)
    score = mg.score(w.truth + err, w)
    sigma = w.train.std()
    assert math.isclose(score.values["nrmse84"], np.sqrt(np.mean(err[:, -1, 0] ** 2)) / sigma, rel_tol=1e-12)
    assert math.isclose(score.values["nrmse_horizon"], np.sqrt(np.mean(err**2)) / sigma, rel_tol=1e-12)
    assert math.isclose(score.values["nrmse_one_step"], np.sqrt(np.mean(err[:, 0, 0] ** 2)) / sigma, rel_tol=1e-12)
    assert score.headline == score.values["nrmse84"]
    assert score.error_curve.shape == (84,)
    assert mg.score(w.truth, w).headline == 0.0


def test_vpt_counts_steps_until_the_threshold_in_lyapunov_times():
    p = bm.lorenz(starts=3)
    w = p.windows()
    crossing = [100, 400, 1500]  # the last never crosses: it gets the whole horizon
    pred = w.truth.copy()
    for i, c in enumerate(crossing):
        if c < p.horizon:
            pred[i, c:] += 0.31 * w.scale  # normalised error exactly 0.31 from step c on
    s = p.score(pred, w)
    expected = np.array(crossing) * 0.02 * 0.906
    np.testing.assert_allclose(s.per_start, expected)
    assert math.isclose(s.headline, np.median(expected))
    # 0.31 stays below 0.5: at the second threshold every start keeps the whole horizon.
    assert math.isclose(s.values["vpt_median@0.5"], 1500 * 0.02 * 0.906)


def test_diverged_forecast_scores_instead_of_crashing(mg):
    w = mg.windows()
    pred = w.truth.copy()
    pred[0, 10:] = np.nan
    s = mg.score(pred, w)
    assert s.values["nrmse84"] == math.inf and math.isfinite(s.values["nrmse_one_step"])
    with pytest.raises(ValueError, match="forecasts must have shape"):
        mg.score(pred[:, :10], w)
    with pytest.raises(ValueError, match="forecasts must be an array of numbers"):
        mg.score([[["a"]]], w)


def test_protocol_arguments_are_checked():
    with pytest.raises(ValueError, match="unknown protocol 'henon'"):
        bm.get("henon")
    with pytest.raises(ValueError, match="starts must be an integer"):
        bm.lorenz(starts=0)
    with pytest.raises(ValueError, match="train_steps must be an integer"):
        bm.mackey_glass(train_steps=10)
    with pytest.raises(TypeError, match="fit\\(series\\) and forecast"):
        bm.mackey_glass(starts=2).evaluate(object())


def test_esn_forecaster_feeds_its_own_output_back(mg):
    w = mg.windows()
    f = bm.ESNForecaster(reservoir_size=100, washout=100, seed=0).fit(w.train)
    out = f.forecast(w.contexts, 3)
    assert out.shape == (6, 3, 1)
    # Step 2 of the free run equals the driven prediction with step 1's forecast appended as input.
    extended = np.concatenate([w.contexts, out[:, :1]], axis=1)
    driven = f.esn.predict(extended, initial_state=np.zeros(100))
    np.testing.assert_allclose(out[:, 0], driven[:, -2], rtol=0, atol=1e-12)
    np.testing.assert_allclose(out[:, 1], driven[:, -1], rtol=0, atol=1e-12)
    score = mg.score(f.forecast(w.contexts, mg.horizon), w)
    assert score.headline < 0.5  # even N=100 forecasts Mackey-Glass 84 steps far better than the mean
    with pytest.raises(ValueError, match="horizon must be a positive integer"):
        f.forecast(w.contexts, 0)
    with pytest.raises(ValueError, match="contexts must be"):
        f.forecast(w.contexts[0], 3)
    with pytest.raises(ValueError, match="spectral_radius"):
        bm.ESNForecaster(spectral_radius=-1)


def test_esn_forecaster_keeps_the_other_starts_when_one_free_run_blows_up(monkeypatch, mg):
    from esnkit.models.esn import ESN

    w = mg.windows(3)
    f = bm.ESNForecaster(reservoir_size=50, washout=100, seed=0).fit(w.train)
    good = f.forecast(w.contexts, 84)
    real = ESN._free_run

    def blows_up(self, n_steps, start, check_finite=True, lags=None):  # start 1 diverges 50 steps into its free run
        y, x, after = real(self, n_steps, start, check_finite, lags)
        y[1, 50:] = float("nan")
        if check_finite:
            raise ek.NonFiniteStateError("start 1 blew up")
        return y, x, after

    monkeypatch.setattr(ESN, "_free_run", blows_up)
    out = f.forecast(w.contexts, 84)
    np.testing.assert_array_equal(out[[0, 2]], good[[0, 2]])
    np.testing.assert_array_equal(out[1, :50], good[1, :50])
    assert np.all(np.isnan(out[1, 50:]))
    score = mg.score(out, w)
    assert score.per_start[1] == math.inf and math.isfinite(score.per_start[0])


def test_runner_notes_a_failing_contestant_and_goes_on(monkeypatch, tmp_path):
    def broken_fit(self, series):
        raise RuntimeError("out of luck")

    monkeypatch.setattr(bm.ReservoirpyForecaster, "__init__", lambda self, **kw: None)
    monkeypatch.setattr(bm.ReservoirpyForecaster, "fit", broken_fit)
    monkeypatch.setattr(runner, "reservoirpy_available", lambda: None)
    settings = runner.Settings.quick_run(
        protocols=("mackey_glass",), esn_seeds=1, lstm_budget=0.3, lstm_tune_budget=0.2, sizes=(20,),
        lstm_candidates=({"hidden_size": 8, "num_layers": 1, "lr": 3e-3, "window": 16},),
        starts={"mackey_glass": 2})
    runner.run(settings, str(tmp_path), log=lambda s: None)
    text = (tmp_path / "results.md").read_text()
    assert "| reservoirpy, same configuration |" in text and "RuntimeError: out of luck" in text
    assert "| LSTM (BPTT, tuned) |" in text


def test_lstm_trains_deterministically_and_forecasts():
    s = ek.datasets.sine(600, period=25)
    kw = dict(hidden_size=8, window=16, batch_size=8, batches_per_epoch=5, max_epochs=3, time_budget=1e6,
              val_horizon=20, seed=3)
    a = lstm.LSTMForecaster(**kw).fit(s)
    b = lstm.LSTMForecaster(**kw).fit(s)
    for pa, pb in zip(a.net.parameters(), b.net.parameters()):
        assert np.array_equal(pa.detach().numpy(), pb.detach().numpy())
    assert len(a.history.seconds) == 3 and 0 <= a.history.best_epoch < 3
    assert a.history.best_validation == min(a.history.validation)
    out = a.forecast(s[None, :40], 30)
    assert out.shape == (1, 30, 1) and np.all(np.isfinite(out))
    with pytest.raises(ValueError, match="window must be"):
        lstm.LSTMForecaster(window=2)
    with pytest.raises(ValueError, match="lr must be"):
        lstm.LSTMForecaster(lr=0)
    with pytest.raises(ValueError, match="context must be"):
        lstm.LSTMForecaster(context=0)
    with pytest.raises(ValueError, match="too short"):
        lstm.LSTMForecaster(window=64).fit(s[:60])
    with pytest.raises(ValueError, match="call fit"):
        lstm.LSTMForecaster().forecast(s[None, :40], 3)
    bad = s.copy()
    bad[5] = np.nan
    with pytest.raises(ValueError, match="series contains NaN"):
        lstm.LSTMForecaster(**kw).fit(bad)
    with pytest.raises(ValueError, match="contexts contain NaN"):
        a.forecast(bad[None, :40], 3)


def test_lstm_learns_a_sine():
    s = ek.datasets.sine(1500, period=25)
    m = lstm.LSTMForecaster(hidden_size=16, window=32, batches_per_epoch=20, max_epochs=15, time_budget=1e6,
                            val_horizon=50, seed=0).fit(s)
    assert m.history.best_validation < 0.5 * m.history.validation[0]


def test_reservoirpy_forecaster_matches_interface(mg):
    pytest.importorskip("reservoirpy")
    w = mg.windows(2)
    f = bm.ReservoirpyForecaster(reservoir_size=100, spectral_radius=0.9, washout=100, seed=0).fit(w.train)
    out = f.forecast(w.contexts, mg.horizon)
    assert out.shape == (2, 84, 1) and np.all(np.isfinite(out))
    with pytest.raises(TypeError, match="connectivity"):
        bm.ReservoirpyForecaster(reservoir_size=100, spectral_radius=0.9, connectivity=0.1)
    assert mg.score(out, w).values["nrmse_one_step"] < 0.1


def test_peak_rss_sees_an_allocation():
    with PeakRSS() as m:
        a = np.ones(64 * 2**20 // 8)  # 64 MB, touched
        a[::512] = 2.0
    if m.mb is None:
        pytest.skip("peak RSS cannot be reset on this system")
    assert m.mb >= 50


def test_tuned_configurations_are_recorded():
    for name in bm.PROTOCOLS:
        rec = configs.tuned_record(name)
        assert rec is not None, f"no tuned configuration for {name}: run benchmarks/tune_protocols.py"
        params = configs.tuned(name, seed=4)
        assert params["seed"] == 4 and params["reservoir_size"] <= 1000 and params["ridge"] == rec["ridge"]
        assert "tune_protocols.py" in rec["command"]
        ek.ESN(**params)  # a valid configuration
    with pytest.raises(ValueError, match="unknown protocol"):
        configs.default("henon")


def test_a_size_with_its_own_search_runs_its_own_configuration(monkeypatch, tmp_path):
    def rec(n, rho, ridge):
        return {"params": {"reservoir_size": n, "seed": 0, "spectral_radius": rho}, "ridge": ridge}

    f = tmp_path / "tuned.json"
    f.write_text(json.dumps({"lorenz": rec(1000, 0.7, 1e-9), configs.size_key("lorenz", 50): rec(50, 0.3, 1e-6)}))
    monkeypatch.setattr(configs, "TUNED_FILE", f)
    assert configs.tuned("lorenz", seed=2, reservoir_size=50) == {
        "reservoir_size": 50, "seed": 2, "spectral_radius": 0.3, "ridge": 1e-6}
    # a size without a search of its own shrinks the headline configuration
    assert configs.tuned("lorenz", reservoir_size=70) == {
        "reservoir_size": 70, "seed": 0, "spectral_radius": 0.7, "ridge": 1e-9}
    assert configs.tuned("lorenz")["reservoir_size"] == 1000
    assert configs.searched_at("lorenz", 50) and not configs.searched_at("lorenz", 70)
    assert configs.tuned("rossler", reservoir_size=50) is None


def test_a_tuning_search_replaces_only_a_record_that_validates_worse(monkeypatch):
    monkeypatch.syspath_prepend(str(Path(__file__).parents[1] / "benchmarks"))
    tune = importlib.import_module("tune_protocols")

    def rec(objective, value, horizon=84):
        return {"objective": objective, "validation_value": value, "horizon": horizon, "starts": 20}

    assert tune.validates_better(rec("free_run", 0.01), rec("free_run", 0.02))  # errors: lower is better
    assert not tune.validates_better(rec("free_run", 0.03), rec("free_run", 0.02))
    assert tune.validates_better(rec("vpt", 9.0), rec("vpt", 8.0))  # valid prediction time: higher
    assert not tune.validates_better(rec("vpt", 7.0), rec("vpt", 8.0))
    assert not tune.validates_better(rec("vpt", 9.0, horizon=700), rec("vpt", 8.0))  # another validation
    assert not tune.validates_better(None, rec("vpt", 8.0))


def test_settings_are_checked():
    with pytest.raises(ValueError, match="esn_seeds"):
        runner.Settings(esn_seeds=0)
    with pytest.raises(ValueError, match="lstm_budget"):
        runner.Settings(lstm_budget=0)
    with pytest.raises(ValueError, match="unknown protocol"):
        runner.Settings(protocols=("nope",))
    with pytest.raises(ValueError, match="sweep_fits"):
        runner.Settings(sweep_fits=0)


def test_runner_writes_table_json_and_plots(tmp_path):
    settings = runner.Settings.quick_run(
        protocols=("mackey_glass",), esn_seeds=1, lstm_budget=0.5, lstm_tune_budget=0.3, sizes=(20,),
        lstm_candidates=({"hidden_size": 8, "num_layers": 1, "lr": 3e-3, "window": 16},),
        starts={"mackey_glass": 3}, reservoirpy=False)
    results = runner.run(settings, str(tmp_path), log=lambda s: None)
    text = (tmp_path / "results.md").read_text()
    assert "| esnkit, tuned by esnkit.search |" in text and "| LSTM (BPTT, tuned) |" in text
    assert "## Training time to reach the LSTM's best accuracy" in text
    assert "## Targets" not in text and "| met |" not in text  # results only, no internal goals
    data = json.loads((tmp_path / "results.json").read_text())
    assert {e["contestant"] for e in data["entries"]} == {e.contestant for e in results[0].entries}
    for kind in ("forecast", "error_growth", "attractor"):
        assert (tmp_path / f"mackey_glass_{kind}.png").stat().st_size > 5000
    speed = runner.speed_comparison(results[0])
    assert speed["lstm_time_to_best"] > 0 and speed["tuned"] > 0
    # the sweep times each size settings.sweep_fits times and reports the median
    (row,) = results[0].sweep
    assert row["fits"] == settings.sweep_fits == 2 and row["fit_s"] > 0
    assert "fit time median of 2, in 2 rounds over the sizes" in text


def _sweep_of_sizes_20_and_30(tmp_path, sweep_fits: int):
    """A minimal Mackey-Glass run whose size sweep fits N=20 and N=30: its result and results.md."""
    settings = runner.Settings.quick_run(
        protocols=("mackey_glass",), esn_seeds=1, lstm_budget=0.3, lstm_tune_budget=0.2, sizes=(20, 30),
        sweep_fits=sweep_fits, lstm_candidates=({"hidden_size": 8, "num_layers": 1, "lr": 3e-3, "window": 16},),
        starts={"mackey_glass": 2}, reservoirpy=False)
    (result,) = runner.run(settings, str(tmp_path), log=lambda s: None)
    return result, (tmp_path / "results.md").read_text()


def test_a_sweep_fit_that_fails_later_keeps_the_times_so_far(monkeypatch, tmp_path):
    real, calls = runner._first_fit, []

    def flaky(model, w, memory=True):
        n = model.params["reservoir_size"]
        calls.append(n)
        if n == 30 and calls.count(30) >= 2:
            raise MemoryError("no room")
        return real(model, w, memory)

    monkeypatch.setattr(runner, "_first_fit", flaky)
    result, text = _sweep_of_sizes_20_and_30(tmp_path, sweep_fits=3)
    assert [(row["reservoir_size"], row["fits"]) for row in result.sweep] == [(20, 3), (30, 1)]
    assert "fit time median of 3, in 3 rounds" in text and "(median of 1: a later fit failed)" in text


def test_the_sweep_runs_the_seed_a_search_of_the_draw_chose(monkeypatch, tmp_path):
    def rec(**params):
        return {"params": {"washout": 100, **params}, "ridge": 1e-8, "objective": "free_run", "trials": 1,
                "seconds": 1.0, "date": "2026-11-23", "command": "tune"}

    f = tmp_path / "tuned.json"
    f.write_text(json.dumps({"mackey_glass": rec(reservoir_size=1000, seed=0),
                             configs.size_key("mackey_glass", 20): rec(reservoir_size=20, seed=7, in_degree=5)}))
    monkeypatch.setattr(configs, "TUNED_FILE", f)
    real, seen = runner._first_fit, []

    def spy(model, w, memory=True):
        seen.append((model.params["reservoir_size"], model.params["seed"], model.params.get("in_degree"),
                     memory))
        return real(model, w, memory)

    monkeypatch.setattr(runner, "_first_fit", spy)
    result, text = _sweep_of_sizes_20_and_30(tmp_path, sweep_fits=1)
    # the sweep's fits are timed without the memory measurement's malloc_trim before them
    assert (20, 7, 5, False) in seen and (30, 0, None, False) in seen
    assert [(row["reservoir_size"], row["seed"]) for row in result.sweep] == [(20, 7), (30, 0)]
    assert "N=20* (seed 7): " in text and "N=30: " in text


def test_bench_cli_rejects_unknown_protocol(capsys):
    from esnkit.cli import main

    with pytest.raises(SystemExit):
        main(["bench", "--protocol", "henon"])
    assert "invalid choice: 'henon'" in capsys.readouterr().err


def test_interrupted_run_keeps_the_finished_protocols(monkeypatch, tmp_path):
    real = runner.run_protocol

    def stop_at_lorenz(name, *a, **kw):
        if name == "lorenz":
            raise KeyboardInterrupt
        return real(name, *a, **kw)

    monkeypatch.setattr(runner, "run_protocol", stop_at_lorenz)
    settings = runner.Settings.quick_run(
        protocols=("mackey_glass", "lorenz"), esn_seeds=1, lstm_budget=0.3, lstm_tune_budget=0.2, sizes=(20,),
        lstm_candidates=({"hidden_size": 8, "num_layers": 1, "lr": 3e-3, "window": 16},),
        starts={"mackey_glass": 2}, reservoirpy=False)
    with pytest.raises(KeyboardInterrupt):
        runner.run(settings, str(tmp_path), log=lambda s: None)
    text = (tmp_path / "results.md").read_text()
    assert "Incomplete: not run yet: lorenz" in text and "## Mackey-Glass" in text
    assert not list(tmp_path.glob("*.tmp"))


def test_real_data_backtest_scores_seasonal_naive_as_by_hand(monkeypatch):
    pytest.importorskip("statsmodels")
    monkeypatch.syspath_prepend(str(Path(__file__).parents[1] / "benchmarks"))
    rd = importlib.import_module("real_data")
    assert rd.lead_times(4) == [1, 4, 12] and rd.lead_times(12) == [1, 12] and rd.lead_times(1) == [1, 12]
    # y[t] = t mod 4 + t / 2: the seasonal-naive forecast at lead h is y[t + h] less 2 per season it
    # spans, and the in-sample seasonal-naive error is 2 at every step: MASE 1 at h = 1..4, 3 at h = 12.
    t = np.arange(80.0)
    y = t % 4 + t / 2
    at = rd.origins(len(y), 5, 12)
    assert at == [64, 65, 66, 67, 68]  # the last 20 % (16 values), the last origin 12 values before the end
    assert rd.origins(len(y), None, 12) == at  # by default every origin: here the same five
    assert rd.origins(len(y), 3, 12) == [64, 66, 68]
    b = rd.backtest(y, 4, rd.seasonal_naive, at, [1, 4, 12])
    assert b.mase[1] == pytest.approx([1.0] * 5) and b.mase[4] == pytest.approx([1.0] * 5)
    assert b.mase[12] == pytest.approx([3.0] * 5)
    truth = y[np.array(at)]  # lead 1: y[o] against y[o] - 2
    assert b.smape[1] == pytest.approx(200 * 2 / (truth + truth - 2))
    assert len(b.fit_cpu_s) == 5 and b.last_forecast.shape == (12,)
    summary = b.summary()
    assert summary["mase"] == pytest.approx({1: 1.0, 4: 1.0, 12: 3.0})
    # A forecaster that diverges scores inf, never a crash; the table's cells compare methods by MASE.
    diverging = rd.backtest(y, 4, lambda tr, m, s: lambda h, H: np.full(H, np.nan), at, [1])
    assert diverging.summary()["mase"][1] == float("inf")
    res = {"leads": [1], "methods": {"seasonal naive": summary, "esnkit": {**summary, "mase": {1: 1.04}}}}
    (cell,) = rd._cells(res)
    assert cell["best"] == "seasonal naive" and cell["esnkit_within_5pct"] and not cell["esnkit_not_worse_than_naive"]


def test_real_data_esnkit_forecaster_runs_on_a_short_series(monkeypatch):
    pytest.importorskip("statsmodels")
    pytest.importorskip("optuna")
    monkeypatch.syspath_prepend(str(Path(__file__).parents[1] / "benchmarks"))
    rd = importlib.import_module("real_data")
    t = np.arange(160.0)
    y = 10 + np.sin(2 * np.pi * t / 4) + 0.05 * t + 0.1 * np.random.default_rng(0).normal(size=t.size)
    forecast = rd.esnkit_forecaster(y[:140], 4, 0, trials=2, members=2)
    f = forecast(y[:150], 12)
    assert f.shape == (12,) and np.isfinite(f).all()
    assert forecast.detail


def test_family_script_quick_run_writes_its_table(tmp_path):
    # benchmarks/family.py --quick: every model on both protocols, the table and its JSON (a few seconds)
    import os
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    out = tmp_path / "family.md"
    env = {**os.environ, "OMP_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join([str(root / "src"), os.environ.get("PYTHONPATH", "")])}
    run = subprocess.run([sys.executable, str(root / "benchmarks" / "family.py"), "--quick", "--out", str(out)],
                         capture_output=True, text=True, env=env, timeout=300)
    assert run.returncode == 0, run.stderr
    text = out.read_text()
    assert "quick smoke run" in text.splitlines()[0]
    for system in ("lorenz", "mackey_glass"):
        for model in ("ESN (tuned)", "ESN, cycle_jumps", "ESN, delay_line", "ESN, orthogonal", "ESN, squared",
                      "ESN, quadratic", "ESN, rls", "NVAR k", "DeepESN 2 x 50"):
            assert any(line.startswith(f"| {model}") and f"| {system} |" in line for line in text.splitlines()), \
                (model, system)
    record = json.loads(out.with_suffix(".json").read_text())
    assert record["quick"] and {r["system"] for r in record["rows"]} == {"lorenz", "mackey_glass"}
