"""esnkit.search(model="nvar" | "deep_esn"): spaces, objectives, refits, files and the CLI."""

import warnings

import numpy as np
import pytest

import esnkit as ek
from esnkit.cli import main
from esnkit.tuning import load_space, make_space, search

RIDGES = ek.ridge_grid(1e-10, 1e-1, 10)
DEEP_FIXED = {"reservoir_size": 30, "depth": 2, "washout": 30}


@pytest.fixture(scope="module")
def lorenz():
    return ek.datasets.lorenz(900, dt=0.025)


def run(series, **kw):
    kw.setdefault("n_trials", 5)
    kw.setdefault("progress", False)
    kw.setdefault("ridges", RIDGES)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ek.SearchBoundaryWarning)
        return search(series, **kw)


def one_step_nrmse(y, pred):
    """NumPy: the per-feature RMSE over the validation part / its standard deviation, averaged."""
    return float(np.mean(np.sqrt(((pred - y) ** 2).mean(axis=0) / y.var(axis=0))))


@pytest.fixture(scope="module")
def nvar_result(lorenz):
    return run(lorenz, model="nvar", space={"delays": (1, 3), "predict_increment": {"choices": [False, True]}},
               fixed={"order": 2}, n_trials=6)


def test_nvar_search_refits_a_model_that_reproduces_its_value(lorenz, nvar_result):
    r = nvar_result
    assert isinstance(r.best_model, ek.NVAR) and r.best_model is r.best_esn
    assert set(r.best_params) == {"delays", "predict_increment", "order"}
    assert r.best_value == min(row["value"] for row in r.table)
    u, y = lorenz[:-1], lorenz[1:]
    pred = r.best_model.predict(u[r.split:])
    assert one_step_nrmse(y[r.split:], pred) == pytest.approx(r.best_value, rel=1e-9)
    # the ridge is the best of the grid for this configuration: each value fitted and scored on its own
    floor = min(r.table, key=lambda row: row["value"])["ridge_floor"]
    errors = {lam: one_step_nrmse(y[r.split:], ek.NVAR(**{**r.best_params, "ridge": lam}).fit(
        u[:r.split], y[:r.split]).predict(u[r.split:])) for lam in RIDGES if lam >= floor}
    assert min(errors, key=errors.get) == r.best_ridge
    # every trial's value is its configuration's, whatever the others: a predict_increment trial too
    inc = [row for row in r.table if row["predict_increment"]]
    assert inc
    row = inc[0]
    m = ek.NVAR(row["delays"], order=2, predict_increment=True, ridge=row["ridge"]).fit(u[:r.split], y[:r.split])
    assert one_step_nrmse(y[r.split:], m.predict(u[r.split:])) == pytest.approx(row["value"], rel=1e-9)
    again = run(lorenz, model=ek.NVAR, space={"delays": (1, 3), "predict_increment": {"choices": [False, True]}},
                fixed={"order": 2}, n_trials=6)
    assert again.best_params == r.best_params and again.best_value == r.best_value


def test_deep_esn_search_with_per_layer_keys(lorenz):
    r = run(lorenz, model="deep_esn", space={"spectral_radius": (0.5, 1.1), "leak_rate_2": (0.2, 1.0)},
            fixed=DEEP_FIXED, n_trials=4)
    m = r.best_model
    assert isinstance(m, ek.DeepESN)
    # layer 2's leak is the sampled one; layer 1 keeps the shared (default) value
    assert m.leak_rate == [1.0, r.best_params["leak_rate_2"]]
    assert m.spectral_radius == r.best_params["spectral_radius"] and m.seed == 0  # the search's seed
    u, y = lorenz[:-1], lorenz[1:]
    assert one_step_nrmse(y[r.split:], m.predict(u[r.split:])) == pytest.approx(r.best_value, rel=1e-9)
    # per-layer sizes become layers; a fixed per-layer value applies to its layer only
    r2 = run(lorenz, model="deep_esn", space={"reservoir_size_2": {"choices": [10, 20]}},
             fixed={"reservoir_size_1": 25, "depth": 2, "washout": 30, "spectral_radius_1": 0.5}, n_trials=2,
             sampler="grid")
    assert r2.best_model.layers == [25, r2.best_params["reservoir_size_2"]]
    assert r2.best_model.spectral_radius == [0.5, 0.9]
    assert sorted(row["reservoir_size_2"] for row in r2.table) == [10, 20]


@pytest.mark.parametrize("objective", ["free_run", "vpt"])
@pytest.mark.parametrize("model", ["nvar", "deep_esn"])
def test_free_run_objectives_are_what_the_refit_model_forecasts(lorenz, model, objective):
    space = {"delays": (1, 3)} if model == "nvar" else {"spectral_radius": (0.5, 1.1)}
    fixed = {"order": 2} if model == "nvar" else DEEP_FIXED
    h = 40 if objective == "free_run" else 200  # a valid prediction time below the horizon ranks the trials
    r = run(lorenz, model=model, space=space, fixed=fixed, objective=objective, horizon=h, starts=3, warmup=40,
            validation=0.3, n_trials=3, ridge_candidates=3, time_scale=0.025 * 0.906)
    u, y = lorenz[:-1], lorenz[1:]
    at = np.unique(np.linspace(r.split + 40, len(y) - h + 1, 3).round().astype(int))
    contexts = np.stack([u[p - 40: p] for p in at])
    truth = np.stack([y[p - 1: p - 1 + h] for p in at])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ek.OutputRangeWarning)  # a diverging window scores what it reached
        pred = r.best_model.forecast(contexts, h, check_finite=False)
    scale = y[: r.split].std(axis=0)
    if objective == "vpt":
        vpt = ek.metrics.valid_prediction_time(truth, pred, scale=scale, dt=0.025 * 0.906)
        assert r.direction == "maximize" and float(np.median(vpt)) == r.best_value
    else:
        assert ek.metrics.nrmse(truth.reshape(-1, 3), pred.reshape(-1, 3), scale=scale) == r.best_value


def test_a_callable_objective_gets_the_model_carrying_the_validation_start(lorenz):
    def score(m, val_u, val_y):
        assert isinstance(m, ek.NVAR)
        return one_step_nrmse(val_y, m.predict(val_u))

    r = run(lorenz, model="nvar", space={"delays": (1, 3)}, fixed={"order": 2}, objective=score, n_trials=3,
            ridge_candidates=None)
    u, y = lorenz[:-1], lorenz[1:]
    assert score(r.best_model, u[r.split:], y[r.split:]) == r.best_value


def test_kfold_validation_runs_for_both(lorenz):
    r = run(lorenz, model="nvar", space={"delays": (1, 3)}, fixed={"order": 2}, folds=3, n_trials=2)
    assert all(row["state"] == "COMPLETE" for row in r.table) and 0 < r.best_value < 1
    r = run(lorenz, model="deep_esn", space={"spectral_radius": (0.5, 1.1)}, fixed=DEEP_FIXED, folds=3, n_trials=2)
    assert all(row["state"] == "COMPLETE" for row in r.table) and 0 < r.best_value < 1
    with pytest.raises(ValueError, match="folds"):
        run(lorenz, model="nvar", space={"delays": (1, 3)}, folds=3, objective="free_run")


def test_keys_a_model_does_not_take_are_rejected(lorenz):
    with pytest.raises(ValueError, match=r"unknown parameter 'reservoir_size'.*NVAR parameters are \['delays'"):
        run(lorenz, model="nvar", space={"reservoir_size": (10, 50)})
    with pytest.raises(ValueError, match=r"fixed: unknown parameter 'spectral_radius'.*'skip', 'order'"):
        run(lorenz, model="nvar", space={"delays": (1, 3)}, fixed={"spectral_radius": 0.9})
    with pytest.raises(ValueError, match=r"unknown parameter 'delays'.*DeepESN parameters.*'spectral_radius_<layer>'"):
        run(lorenz, model="deep_esn", space={"delays": (1, 3)})
    with pytest.raises(ValueError, match=r"unknown parameter 'depth'.*ESN parameters"):
        run(lorenz, space={"depth": (1, 3)})
    with pytest.raises(ValueError, match="layers is a list"):
        run(lorenz, model="deep_esn", space={"layers": [10, 20]})
    with pytest.raises(ValueError, match=r"\['leak_rate_3'\] name layers.*depth is 2"):
        run(lorenz, model="deep_esn", space={"leak_rate_3": (0.1, 1.0)}, fixed=DEEP_FIXED)
    with pytest.raises(ValueError, match=r"leak_rate_3.*depth is searched up to 2"):
        run(lorenz, model="deep_esn", space={"leak_rate_3": (0.1, 1.0), "depth": (1, 2)})
    with pytest.raises(ValueError, match=r"delays = 0 is not a valid NVAR setting: delays must be a positive"):
        run(lorenz, model="nvar", space={"delays": (0, 3)})
    with pytest.raises(ValueError, match="model must be one of"):
        run(lorenz, model="lstm", space={"delays": (1, 3)})
    with pytest.raises(ValueError, match="classification objectives"):
        run(lorenz, model="nvar", space={"delays": (1, 3)}, objective="accuracy")
    with pytest.raises(ValueError, match="driven by its inputs"):
        search(None, lorenz, model="nvar", space={"delays": (1, 3)}, progress=False)
    nvar_space = make_space({"delays": (1, 3)}, model="nvar")
    assert nvar_space.model == "NVAR"
    with pytest.raises(ValueError, match="search space of NVAR parameters"):
        run(lorenz, model="deep_esn", space=nvar_space)


def test_a_space_file_names_its_model(tmp_path, lorenz):
    path = tmp_path / "nvar.toml"
    path.write_text('model = "nvar"\n[space]\ndelays = { low = 1, high = 3 }\n[fixed]\norder = 2\n')
    space = load_space(path)
    assert space.model == "NVAR" and space.settings["model"] == "nvar"
    r = run(lorenz, space=str(path), n_trials=2)
    assert isinstance(r.best_model, ek.NVAR)
    assert isinstance(run(lorenz, space=str(path), model="nvar", n_trials=2).best_model, ek.NVAR)
    with pytest.raises(ValueError, match="model = 'nvar', but the search is of DeepESN"):
        run(lorenz, space=str(path), model="deep_esn")
    bad = tmp_path / "bad.toml"
    bad.write_text('[search]\nmodel = "nvar"\n[space]\nspectral_radius = { low = 0.1, high = 1.0 }\n')
    with pytest.raises(ValueError, match="unknown parameter 'spectral_radius'; searchable NVAR"):
        load_space(bad)


def test_cli_search_model(tmp_path, capsys):
    from esnkit import cli
    from esnkit.tuning.space import FAMILIES

    assert cli.SEARCH_MODELS == tuple(FAMILIES)
    out = tmp_path / "o"
    code = main(["search", "--model", "nvar", "--data", "lorenz", "--steps", "900", "--trials", "3", "--quiet",
                 "--no-plot", "--out", str(out)])
    assert code == 0
    assert "delays = " in capsys.readouterr().out
    assert isinstance(ek.load(out / "best.esnkit"), ek.NVAR)
    space = tmp_path / "deep.toml"
    space.write_text('model = "deep_esn"\n[space]\nspectral_radius = { low = 0.5, high = 1.1 }\n'
                     "[fixed]\nreservoir_size = 20\ndepth = 2\nwashout = 20\n")
    assert main(["search", "--space", str(space), "--data", "lorenz", "--steps", "600", "--trials", "2", "--quiet",
                 "--no-plot", "--out", str(tmp_path / "d")]) == 0
    assert isinstance(ek.load(tmp_path / "d" / "best.esnkit"), ek.DeepESN)
    assert main(["search", "--space", str(space), "--model", "nvar", "--out", str(tmp_path / "x")]) == 1
    assert "model = 'deep_esn', but the search is of NVAR" in capsys.readouterr().err
    assert main(["search", "--model", "nvar", "--reservoir-size", "30", "--out", str(tmp_path / "x")]) == 1
    assert "unknown parameter 'reservoir_size'" in capsys.readouterr().err

