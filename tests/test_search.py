"""esnkit.search: spaces, objectives, failures, resume, Dask, and the CLI."""

import math
import os
import signal
import time
import warnings

import numpy as np
import optuna
import pytest

import esnkit as ek
from esnkit.cli import main
from esnkit.tuning import SearchError, load_space, make_space, search

SPACE = {"spectral_radius": (0.3, 1.2), "leak_rate": {"low": 0.2, "high": 1.0, "log": True}}
FIXED = {"reservoir_size": 60, "washout": 20, "seed": 0}


@pytest.fixture(scope="module")
def series():
    return ek.datasets.mackey_glass(700)


def run(series, **kw):
    kw.setdefault("space", SPACE)
    kw.setdefault("fixed", FIXED)
    kw.setdefault("n_trials", 8)
    kw.setdefault("batch_size", 4)
    kw.setdefault("progress", False)
    return search(series, **kw)


def states(study):
    return sorted(t.state.name for t in study.get_trials(deepcopy=False))


def test_search_finds_a_model_and_its_value_is_the_refit_models(series):
    r = run(series, n_trials=12, seed=1)
    assert len(r.table) == 12 and all(row["state"] == "COMPLETE" for row in r.table)
    assert r.best_value == min(row["value"] for row in r.table)
    assert r.best_ridge in set(r.space.ridges)
    # the refitted best model reproduces the trial's one-step validation NRMSE
    u, y = series[:-1], series[1:]
    pred = r.best_esn.predict(u[r.split:])
    err = math.sqrt(((pred - y[r.split:]) ** 2).mean() / y[r.split:].var())
    assert err == pytest.approx(r.best_value, rel=1e-10)
    assert all(row["ridge"] >= row["ridge_floor"] for row in r.table)
    again = run(series, n_trials=12, seed=1)
    assert again.best_params == r.best_params and again.best_value == r.best_value


@pytest.mark.parametrize("objective", ["free_run", "vpt"])
def test_free_running_objectives(series, objective):
    r = run(series, objective=objective, horizon=30, starts=4, ridge_candidates=3)
    assert r.direction == ("maximize" if objective == "vpt" else "minimize")
    if objective == "vpt":
        assert 0 <= r.best_value <= 30
    else:
        assert 0 < r.best_value < 1


@pytest.mark.parametrize("objective", ["vpt", "free_run"])
def test_the_refitted_best_model_reproduces_the_free_run_value(objective):
    # The value a search reports is what its refitted model scores on the same validation windows
    # (warm-up on the history, then ESN.forecast, scored through esnkit.metrics): one solver for both.
    s = ek.datasets.lorenz(1400, dt=0.02)
    r = run(s, space={"spectral_radius": (0.3, 1.2), "input_scaling": (0.05, 0.5)},
            fixed={"reservoir_size": 80, "washout": 50, "seed": 0}, objective=objective, horizon=150, starts=5,
            warmup=60, validation=0.3, time_scale=0.02 * 0.906, ridges=ek.ridge_grid(1e-12, 1e-2, 11))
    u, y = s[:-1], s[1:]
    at = np.unique(np.linspace(r.split + 60, len(y) - 150 + 1, 5).round().astype(int))
    contexts = np.stack([u[p - 60: p] for p in at])
    truth = np.stack([y[p - 1: p + 149] for p in at])
    pred = r.best_esn.forecast(contexts, 150)
    scale = y[: r.split].std(axis=0)
    if objective == "vpt":
        vpt = ek.metrics.valid_prediction_time(truth, pred, scale=scale, dt=0.02 * 0.906)
        assert float(np.median(vpt)) == r.best_value
    else:
        assert ek.metrics.nrmse(truth.reshape(-1, 3), pred.reshape(-1, 3), scale=scale) == r.best_value
    # ridge values below each configuration's float64 resolution were never chosen
    assert all(row["ridge"] >= row["ridge_floor"] for row in r.table if row["state"] == "COMPLETE")


def test_split_by_index_or_fraction_and_refit_on_train_and_validation(series):
    by_index = run(series, split=500, n_trials=4)
    assert by_index.split == 500
    assert run(series, validation=0.25, n_trials=4).split == round(699 * 0.75)
    with pytest.raises(ValueError, match="not both"):
        run(series, split=500, validation=0.2)
    with pytest.raises(ValueError, match="split"):
        run(series, split=699)
    full = run(series, split=500, n_trials=4, refit="train+validation")
    u, y = series[:-1], series[1:]
    again = ek.ESN(**{**full.best_params, "ridge": full.best_ridge}).fit(u, y)
    assert np.array_equal(full.best_esn.readout_.weight.numpy(), again.readout_.weight.numpy())
    with pytest.raises(ValueError, match="refit"):
        run(series, refit="everything")


def test_a_callable_objective_says_its_direction(series):
    def score(esn, u, y):
        return -ek.metrics.nrmse(y, esn.predict(u))

    r = run(series, objective=score, direction="maximize", n_trials=4)
    assert r.direction == "maximize" and r.best_value == max(row["value"] for row in r.table)
    score.direction = "maximize"
    assert run(series, objective=score, n_trials=4).direction == "maximize"
    with pytest.raises(ValueError, match="direction"):
        run(series, objective="vpt", direction="minimize", horizon=20, warmup=20)


def test_a_vpt_search_that_reaches_the_horizon_says_so():
    sine = ek.datasets.sine(700, period=25)
    with pytest.warns(ek.SearchCapWarning, match=r"horizon itself \(0.5: horizon=10 steps x time_scale=0.05\).*raise"):
        r = run(sine, objective="vpt", horizon=10, starts=4, time_scale=0.05)
    assert r.best_value == pytest.approx(0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ek.SearchCapWarning)
        r = run(ek.datasets.mackey_glass(700), objective="vpt", horizon=100, starts=4, threshold=0.01, warmup=30)
    assert r.best_value < 100


def test_kfold_validation(series):
    r = run(series, folds=4)
    assert all(row["state"] == "COMPLETE" for row in r.table)


def test_a_failing_or_nan_objective_fails_that_trial_only(series):
    calls = {"n": 0}

    def objective(esn, u, y):
        calls["n"] += 1
        if esn.spectral_radius > 0.9:
            raise RuntimeError("boom")
        if esn.spectral_radius > 0.7:
            return float("nan")
        return float(ek.metrics.nrmse(y, esn.predict(u)))

    r = run(series, objective=objective, n_trials=16, sampler="random", ridge_candidates=1)
    failed = [row for row in r.table if row["state"] == "FAIL"]
    done = [row for row in r.table if row["state"] == "COMPLETE"]
    assert failed and done and len(failed) + len(done) == 16
    assert all(row["spectral_radius"] > 0.7 for row in failed)
    assert any("boom" in row["error"] for row in failed) and any("nan" in row["error"] for row in failed)


def test_resume_continues_the_same_study(series, tmp_path):
    db = tmp_path / "s.db"
    first = run(series, storage=str(db), n_trials=8)
    second = run(series, storage=str(db), n_trials=12)
    assert len(second.table) == 12
    assert [row["value"] for row in second.table[:8]] == [row["value"] for row in first.table]


def test_interrupted_search_keeps_finished_trials_and_resumes(series, tmp_path):
    db = tmp_path / "s.db"
    seen = {"n": 0}

    def objective(esn, u, y):
        seen["n"] += 1
        if seen["n"] == 6:  # mid-way through the second round
            raise KeyboardInterrupt
        return float(ek.metrics.nrmse(y, esn.predict(u)))

    with pytest.raises(KeyboardInterrupt):
        run(series, storage=str(db), objective=objective, ridge_candidates=1)
    study = optuna.load_study(study_name="esnkit-search", storage=f"sqlite:///{db}")
    assert states(study).count("COMPLETE") == 4 and "RUNNING" not in states(study)
    r = run(series, storage=str(db), objective=objective, ridge_candidates=1)
    assert len(r.table) == 8 and all(row["state"] == "COMPLETE" for row in r.table)
    assert "RUNNING" not in states(r.study)


def test_timeout_ends_within_one_configuration_of_it(series):
    # Configurations that take a known time (the objective sleeps 0.2 s): the search stops asking
    # once the time is up and cuts its last round to what the time left allows, so it returns
    # within the timeout plus about one configuration, where rounds of 8 overran by up to 8.
    delay, timeout = 0.2, 2.0

    def slow(esn, u, y):
        time.sleep(delay)
        return float(ek.metrics.nrmse(y, esn.predict(u)))

    t0 = time.perf_counter()
    r = run(series, objective=slow, n_trials=1000, batch_size=8, ridge_candidates=1, timeout=timeout)
    elapsed = time.perf_counter() - t0
    assert elapsed <= timeout + delay + 0.5, elapsed
    assert 4 <= len(r.table) < 1000 and "RUNNING" not in states(r.study)


def test_samplers(series):
    grid = run(series, space={"spectral_radius": {"low": 0.5, "high": 1.0, "step": 0.25}}, sampler="grid",
               n_trials=50)
    assert sorted(row["spectral_radius"] for row in grid.table) == [0.5, 0.75, 1.0]
    cma = run(series, sampler="cmaes")
    assert len(cma.table) == 8
    with pytest.raises(ValueError, match="step"):
        run(series, sampler="grid")


@pytest.mark.parametrize(
    "space, message",
    [
        ({"spectral_radus": (0.1, 1.0)}, "unknown parameter 'spectral_radus'"),
        ({"spectral_radius": (1.0, 0.5)}, "empty range"),
        ({"leak_rate": {"low": 0.0, "high": 1.0, "log": True}}, "log range needs low > 0"),
        ({"ridge": (1e-9, 1e-3)}, "not sampled"),
        ({"seed": {"choices": []}}, "non-empty list"),
        ({"leak_rate": (0.5, 1.5)}, "leak_rate = 1.5 is not a valid ESN setting"),
        ({"spectral_radius": {"low": 0.1, "hi": 1.0}}, "unknown key"),
        ({}, "nothing to search"),
    ],
)
def test_bad_spaces_are_clear_errors(space, message):
    with pytest.raises(ValueError, match=message):
        make_space(space, FIXED)


def test_space_files(tmp_path):
    good = tmp_path / "good.toml"
    good.write_text('objective = "vpt"\n[space]\nspectral_radius = {low = 0.1, high = 1.2}\n'
                    'seed = {choices = [0, 1]}\n[fixed]\nreservoir_size = 80\n'
                    '[ridge]\nlow = 1e-9\nhigh = 1e-3\nnum = 7\n')
    s = load_space(good)
    assert set(s.params) == {"spectral_radius", "seed"} and s.fixed == {"reservoir_size": 80}
    assert len(s.ridges) == 7 and s.settings == {"objective": "vpt"}
    bad = tmp_path / "bad.toml"
    bad.write_text("[space\nspectral_radius = 1")
    with pytest.raises(ValueError, match="not valid TOML"):
        load_space(bad)
    bad.write_text("[spaces]\nx = 1\n")
    with pytest.raises(ValueError, match="unknown section"):
        load_space(bad)
    with pytest.raises(FileNotFoundError):
        load_space(tmp_path / "missing.toml")


def test_bad_search_arguments(series):
    with pytest.raises(ValueError, match="objective"):
        run(series, objective="mse")
    with pytest.raises(ValueError, match="horizon"):
        run(series, objective="free_run", horizon=500)
    with pytest.raises(ValueError, match="too few steps"):
        run(series[:30])
    with pytest.raises(ValueError, match="NaN"):
        run(np.full(100, np.nan))
    with pytest.raises(ValueError, match="validation"):
        run(series, validation=1.5)
    with pytest.raises(ValueError, match="not a valid torch device"):
        run(series, device="banana")


def test_unreachable_scheduler_is_a_clear_error(series):
    with pytest.raises(SearchError, match="could not reach the Dask scheduler"):
        run(series, scheduler="tcp://127.0.0.1:9", connect_timeout=2)


def test_dask_local_cluster_survives_a_killed_worker(series, tmp_path):
    marker = tmp_path / "killed-once"

    def objective(esn, u, y):
        if not marker.exists():  # the first evaluation kills its worker process
            marker.write_text("x")
            os.kill(os.getpid(), signal.SIGKILL)
        return float(ek.metrics.nrmse(y, esn.predict(u)))

    r = run(series, objective=objective, scheduler="local", workers=2, n_trials=8, ridge_candidates=1,
            storage=str(tmp_path / "s.db"))
    assert marker.exists()
    assert len(r.table) == 8 and all(row["state"] == "COMPLETE" for row in r.table)
    assert "RUNNING" not in states(r.study)


def test_cli_search_writes_results_plots_and_model(tmp_path, capsys):
    out = tmp_path / "run"
    code = main(["search", "--steps", "800", "--trials", "8", "--batch-size", "4", "--quiet", "--out", str(out),
                 "--storage", str(out / "study.db")])
    assert code == 0
    for name in ("results.csv", "objective_vs_params.png", "best_forecast.png", "best.esnkit", "study.db"):
        assert (out / name).stat().st_size > 0
    model = ek.load(out / "best.esnkit")
    assert model.reservoir_size == 500
    assert "best nrmse" in capsys.readouterr().out


def test_cli_search_bad_space_file(tmp_path, capsys):
    bad = tmp_path / "s.toml"
    bad.write_text("[space]\nspectral_radius = {low = 2, high = 1}\n")
    assert main(["search", "--space", str(bad), "--out", str(tmp_path / "o")]) == 1
    assert "empty range" in capsys.readouterr().err
    assert main(["search", "--device", "banana", "--out", str(tmp_path / "o")]) == 1
    assert "not a valid torch device" in capsys.readouterr().err


@pytest.mark.parametrize("kw, name", [({"ridge_candidates": 0}, "ridge_candidates"), ({"folds": 1}, "folds"),
                                      ({"threshold": "big"}, "threshold"), ({"batch_size": 0}, "batch_size"),
                                      ({"timeout": -1}, "timeout")])
def test_impossible_settings_name_the_argument(series, kw, name):
    with pytest.raises(ValueError, match=name):
        run(series, **kw)


def test_too_many_folds_is_refused_before_any_trial(series):
    with pytest.raises(ValueError, match="too few for 400 folds"):
        run(series, folds=400)


@pytest.mark.cuda
@pytest.mark.parametrize("objective, folds", [("nrmse", None), ("nrmse", 3), ("free_run", None)])
def test_search_on_cuda_scores_the_trials_as_the_cpu_does(series, objective, folds):
    # ridges of 1e-6 and up: below that the readout amplifies rounding (a dense GPU matmul sums in
    # another order than the sparse CPU kernel, and the GPU solves by Cholesky where the CPU
    # decomposes) past any tolerance, on either device
    kw = dict(objective=objective, sampler="random", seed=3, horizon=30, starts=4, ridge_candidates=3,
              ridges={"low": 1e-6, "high": 1.0, "num": 7}, folds=folds, batch_size=8)
    cpu, gpu = run(series, **kw), run(series, device="cuda", **kw)  # on the GPU: a Cholesky per ridge
    assert gpu.best_esn.readout_.weight.device.type == "cuda"
    # free runs carry the weights' last-digit differences through every step fed back
    rel = 1e-6 if objective == "nrmse" else 1e-4
    for a, b in zip(gpu.table, cpu.table):
        assert {k: a[k] for k in SPACE} == {k: b[k] for k in SPACE}
        assert a["value"] == pytest.approx(b["value"], rel=rel), (a, b)


def test_a_space_without_a_reservoir_seed_gets_the_search_seed():
    """Every trial and the refit draw one reservoir: the search repeats itself and best_esn
    reproduces best_value (each trial once drew a random reservoir, and the refit another)."""
    d = ek.datasets.mackey_glass(1500, tau=17)
    kw = dict(space={"spectral_radius": {"low": 0.5, "high": 0.95}}, fixed={"reservoir_size": 40, "washout": 50},
              n_trials=3, progress=False, seed=5)
    a, b = ek.search(d, **kw), ek.search(d, **kw)
    assert a.best_params == b.best_params and a.best_value == b.best_value and a.best_params["seed"] == 5
    pred = a.best_esn.predict(d[a.split:-1])
    assert ek.metrics.nrmse(d[a.split + 1:], pred) == pytest.approx(a.best_value, rel=1e-9)
