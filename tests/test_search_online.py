"""esnkit.search over the online readouts: trainer, forgetting, learning_rate and force_alpha as ESN
parameters (checked, saved, cloned) and as space keys, each online configuration scored by its own fit."""

import numpy as np
import pytest
import torch

import esnkit as ek
import test_search_family as family
from esnkit import io, params
from esnkit.readout import FORCE, LMS, RLS
from esnkit.tuning import load_space, make_space
from test_search_family import RIDGES, one_step_nrmse

FIXED = {"reservoir_size": 40, "washout": 50}
MG = ek.datasets.mackey_glass(800, tau=17)


def run(series=MG, **kw):
    """test_search_family's quiet search, of small reservoirs unless ``fixed`` says otherwise."""
    kw.setdefault("n_trials", 4)
    kw.setdefault("fixed", FIXED)
    return family.run(series, **kw)


def sampled(row, space):
    return {**FIXED, "seed": 0, **{k: row[k] for k in space}}


# ---------------------------------------------------------------- the parameters
def test_named_trainers_take_their_settings_from_the_parameters():
    rng = np.random.default_rng(0)
    u = np.sin(np.arange(601) * 0.1)[:, None] + 0.05 * rng.standard_normal((601, 1))
    x, y = u[:-1], u[1:]
    kw = {"reservoir_size": 30, "seed": 1, "washout": 20, "ridge": 1e-3}
    pairs = [({"trainer": "rls", "forgetting": 0.99}, RLS(forgetting=0.99, ridge=1e-3)),
             ({"trainer": "lms", "learning_rate": 0.2}, LMS(learning_rate=0.2))]
    for named, obj in pairs:
        a = ek.ESN(**kw, **named).fit(x, y)
        b = ek.ESN(**kw, trainer=obj).fit(x, y)
        assert torch.equal(a.readout_.weight, b.readout_.weight)
        # the setting changes the fit: a test of the plumbing, not of two defaults
        default = ek.ESN(**kw, trainer=named["trainer"]).fit(x, y)
        assert not torch.equal(a.readout_.weight, default.readout_.weight)
    fb = {"reservoir_size": 30, "seed": 1, "washout": 20, "feedback_scaling": 0.1}
    a = ek.ESN(**fb, trainer="force", force_alpha=0.05, forgetting=0.999).fit(x, y)
    b = ek.ESN(**fb, trainer=FORCE(alpha=0.05, forgetting=0.999)).fit(x, y)
    assert torch.equal(a.readout_.weight, b.readout_.weight)
    assert not torch.equal(a.readout_.weight, ek.ESN(**fb, trainer="force").fit(x, y).readout_.weight)


@pytest.mark.parametrize("bad", [{"forgetting": 0}, {"forgetting": 1.5}, {"forgetting": -0.5},
                                 {"forgetting": float("nan")}, {"forgetting": True}, {"learning_rate": -0.1},
                                 {"learning_rate": 0.0}, {"learning_rate": 2.0}, {"learning_rate": float("nan")},
                                 {"force_alpha": 0.0}, {"force_alpha": float("inf")}, {"force_alpha": "1"}])
def test_bad_values_name_the_parameter(bad):
    name = next(iter(bad))
    with pytest.raises(ValueError, match=name):
        ek.ESN(10, **bad)
    with pytest.raises(ValueError, match=name):
        ek.ESN(10).set_params(**bad)
    with pytest.raises(ValueError, match=name):
        make_space({name: {"choices": [list(bad.values())[0]]}})


def test_params_round_trip_through_files_clone_and_sklearn(tmp_path):
    x = np.sin(np.arange(300) * 0.1)[:, None]
    kw = {"forgetting": 0.995, "learning_rate": 0.3, "force_alpha": 0.5}
    m = ek.ESN(30, seed=0, washout=50, trainer="rls", ridge=1e-4, **kw).fit(x[:-1], x[1:])
    assert {k: m.get_params()[k] for k in kw} == kw and {k: getattr(m.clone(), k) for k in kw} == kw
    m.save(tmp_path / "m.esnkit")
    loaded = ek.load(tmp_path / "m.esnkit")
    assert {k: getattr(loaded, k) for k in kw} == kw and loaded.trainer == "rls"
    refit = loaded.clone().fit(x[:-1], x[1:])  # the file holds what refits the same readout
    assert torch.equal(refit.readout_.weight, m.readout_.weight)
    sk = pytest.importorskip("sklearn.base")
    reg = ek.sklearn.ESNRegressor(30, trainer="lms", learning_rate=0.25)
    assert sk.clone(reg).get_params()["learning_rate"] == 0.25
    # a file written before these parameters existed loads with their defaults
    tensors, config = io.read(tmp_path / "m.esnkit", newest=5)
    for p in (config["params"], config["extra"]["params"]):
        for k in kw:
            del p[k]
    io.write(tmp_path / "old.esnkit", tensors, {**config, "format_version": 4})
    old = ek.load(tmp_path / "old.esnkit")
    assert (old.forgetting, old.learning_rate, old.force_alpha) == (1.0, 0.5, 1.0)
    assert np.array_equal(old.predict(x[:50]), m.predict(x[:50]))


def test_the_new_keys_are_searchable_and_ridge_is_not():
    assert {"trainer", "forgetting", "learning_rate", "force_alpha"} <= set(params.SEARCHABLE)
    with pytest.raises(ValueError, match="ridge is not sampled"):
        make_space({"ridge": (1e-6, 1e-2)})
    with pytest.raises(ValueError, match="solver"):
        make_space({"solver": {"choices": ["auto"]}})


# ---------------------------------------------------------------- the search
SPACE = {"trainer": {"choices": ["ridge", "rls", "lms"]}, "spectral_radius": {"choices": [0.7, 0.9]}}


@pytest.fixture(scope="module")
def mixed():
    return run(MG, space=SPACE, sampler="grid", n_trials=6)


def test_a_mixed_space_scores_every_trainer_as_its_refit_does(mixed):
    r = mixed
    assert sorted((row["trainer"], row["spectral_radius"]) for row in r.table) == sorted(
        (t, s) for t in ["ridge", "rls", "lms"] for s in [0.7, 0.9])
    assert all(row["state"] == "COMPLETE" for row in r.table)
    u, y = MG[:-1], MG[1:]
    for row in r.table:
        if row["trainer"] == "ridge":  # the ridge path: a grid value, above the resolution floor
            assert row["ridge"] in RIDGES and row["ridge_floor"] is not None
            continue
        # an online readout keeps the model's ridge and is scored by its own fit on the training part
        assert row["ridge"] == 1e-8 and row["ridge_floor"] is None and row["value"] == row["one_step_nrmse"]
        m = ek.ESN(**sampled(row, SPACE)).fit(u[:r.split], y[:r.split])
        assert one_step_nrmse(y[r.split:], m.predict(u[r.split:])) == pytest.approx(row["value"], rel=1e-9)
    lms = [row["value"] for row in r.table if row["trainer"] == "lms"]
    rls = [row["value"] for row in r.table if row["trainer"] == "rls"]
    assert max(rls) < min(lms)  # NLMS converges slowly on reservoir states: the ranking means something
    assert isinstance(r.best_model, ek.ESN) and r.best_model.trainer == r.best_params["trainer"]


def test_ridge_trials_of_a_mixed_space_are_the_ridge_only_search_bit_for_bit(mixed):
    plain = run(MG, space={"spectral_radius": {"choices": [0.7, 0.9]}}, sampler="grid", n_trials=2)
    want = {row["spectral_radius"]: (row["value"], row["ridge"]) for row in plain.table}
    got = {row["spectral_radius"]: (row["value"], row["ridge"]) for row in mixed.table if row["trainer"] == "ridge"}
    assert got == want


@pytest.mark.parametrize("trainer,key,rng", [("rls", "forgetting", (0.97, 1.0)), ("lms", "learning_rate", (0.1, 1.9))])
def test_the_refit_reproduces_an_online_best(trainer, key, rng, tmp_path):
    r = run(MG, space={key: rng}, fixed={**FIXED, "trainer": trainer}, n_trials=3)
    m = r.best_model
    assert m.trainer == trainer and getattr(m, key) == r.best_params[key]
    assert r.best_ridge == m.ridge == 1e-8
    u, y = MG[:-1], MG[1:]
    assert one_step_nrmse(y[r.split:], m.predict(u[r.split:])) == pytest.approx(r.best_value, rel=1e-9)
    values = {row[key]: row["value"] for row in r.table}
    assert len(set(values.values())) == len(values)  # the searched key changes the fit
    m.save(tmp_path / "best.esnkit")
    assert getattr(ek.load(tmp_path / "best.esnkit"), key) == r.best_params[key]


def test_free_run_objective_with_an_online_trainer_is_what_the_refit_forecasts():
    r = run(MG, space={"forgetting": (0.99, 1.0)}, fixed={**FIXED, "trainer": "rls"}, objective="free_run",
            horizon=30, starts=3, warmup=60, n_trials=2)
    u, y = MG[:-1], MG[1:]
    at = np.unique(np.linspace(r.split + 60, len(y) - 30 + 1, 3).round().astype(int))
    contexts = np.stack([u[p - 60: p] for p in at])
    truth = np.stack([y[p - 1: p - 1 + 30] for p in at])
    pred = r.best_model.forecast(contexts, 30, check_finite=False)
    assert ek.metrics.nrmse(truth.reshape(-1, 1), pred.reshape(-1, 1), scale=y[:r.split].std(axis=0)) == r.best_value


def test_force_scores_in_a_feedback_task():
    fixed = {**FIXED, "trainer": "force", "feedback_scaling": 0.1}
    r = run(MG, space={"force_alpha": {"low": 0.01, "high": 1.0, "log": True}}, fixed=fixed, n_trials=2)
    assert all(row["state"] == "COMPLETE" for row in r.table)
    m = r.best_model
    assert m.trainer == "force" and m.force_alpha == r.best_params["force_alpha"]
    # the one-step error, teacher-forced from where training ended: [1; u; x] through the readout
    u, y = MG[:-1], MG[1:]
    xs = m.states(u[r.split:], targets=y[r.split:])
    z = np.concatenate([np.ones((len(xs), 1)), u[r.split:], xs], axis=1)
    pred = z @ m.readout_.weight.numpy().T
    assert one_step_nrmse(y[r.split:], pred) == pytest.approx(r.best_value, rel=1e-9)


def test_force_without_feedback_fails_its_trial_and_the_search_goes_on():
    r = run(MG, space={"trainer": {"choices": ["ridge", "force"]}}, sampler="grid", n_trials=2)
    rows = {row["trainer"]: row for row in r.table}
    assert rows["ridge"]["state"] == "COMPLETE" and rows["force"]["state"] == "FAIL"
    assert "needs output feedback: set feedback_scaling > 0" in rows["force"]["error"]
    assert r.best_params["trainer"] == "ridge"


def test_folds_refuse_an_online_trainer():
    with pytest.raises(ValueError, match=r"folds .*trainer='lms'"):
        run(MG, space={"trainer": {"choices": ["ridge", "lms"]}}, folds=3)
    with pytest.raises(ValueError, match=r"folds .*trainer='rls'"):
        run(MG, space={"forgetting": (0.9, 1.0)}, fixed={**FIXED, "trainer": "rls"}, folds=3)


def test_a_space_file_takes_the_new_keys(tmp_path):
    path = tmp_path / "online.toml"
    path.write_text('[space]\ntrainer = { choices = ["ridge", "rls"] }\nforgetting = { low = 0.98, high = 1.0 }\n'
                    '[fixed]\nreservoir_size = 40\nwashout = 50\nlearning_rate = 0.3\n')
    space = load_space(path)
    assert space.params["trainer"].choices == ("ridge", "rls") and space.fixed["learning_rate"] == 0.3
    r = run(MG, space=str(path), fixed=None, n_trials=4)
    assert all(row["state"] == "COMPLETE" for row in r.table) and r.best_model.learning_rate == 0.3
    path.write_text("[space]\nforgetting = { low = 0.5, high = 1.5 }\n")
    with pytest.raises(ValueError, match="forgetting"):
        load_space(path)


def test_a_callable_objective_gets_the_fitted_online_model_and_its_failure_fails_the_trial():
    def score(m, val_u, val_y):
        if m.trainer == "lms":
            raise KeyError("no lms here")
        m.predict(val_u)  # moves the state it was given: a copy
        return 1.0 - m.forgetting

    r = run(space={"trainer": {"choices": ["rls", "lms"]}}, fixed={**FIXED, "forgetting": 0.99}, objective=score,
            sampler="grid", n_trials=2)
    rows = {row["trainer"]: row for row in r.table}
    assert rows["rls"]["value"] == pytest.approx(0.01) and "no lms here" in rows["lms"]["error"]


def test_a_ridge_grid_with_rls_in_the_space_says_it_sets_the_ridge_trials_only():
    with pytest.warns(UserWarning, match="ridges sets the grid of trainer='ridge' trials only"):
        run(MG, space={"trainer": {"choices": ["ridge", "rls"]}}, ridges=RIDGES, n_trials=2)


def test_an_rls_overflow_with_a_small_forgetting_factor_names_it():
    x = np.sin(np.arange(600) * 0.1)[:, None]
    with pytest.raises(ValueError, match="forgetting=0.1"):
        ek.ESN(50, trainer="rls", forgetting=0.1, seed=0, washout=50).fit(x[:-1], x[1:])
