"""Sequence classification: pooled features, the closed-form classifier readout, ESNClassifier,
its scikit-learn adapter, saving and the search's classification objectives."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import esnkit as ek
import reference as ref
from esnkit._series import to_batch
from esnkit.models.engine import ESNState, pool, run
from esnkit.readout import Pooling, fit_temperature, leave_one_out, log_loss, solve_classifier
from esnkit.reservoir import Reservoir


def _ragged(seed=0, n=9, d=3, lo=3, hi=15):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=(int(rng.integers(lo, hi)), d)) for _ in range(n)]


def _toy(seed=0, n=60, classes=3):
    """Sequences whose class sets the frequency of a noisy sine and the level of a noisy second channel,
    at random lengths."""
    rng = np.random.default_rng(seed)
    X, y = [], []
    for i in range(n):
        c = i % classes
        L = int(rng.integers(15, 40))
        t = np.arange(L)
        X.append(np.stack([np.sin(0.3 * (c + 1) * t + rng.uniform(0, 6)), 0.4 * c + rng.normal(0, 0.3, L)], axis=1))
        y.append(c)
    return X, np.array(y)


@pytest.mark.parametrize("chunk", [1, 4, None])
@pytest.mark.parametrize("pools, inputs", [(("mean", "last"), ("mean", "std")),
                                           (("max", "first", "last3"), ("mean", "std")),
                                           (("at4",), ("mean", "std")), (("seg3",), ("seg3",)),
                                           (("mean", "seg2", "at3"), ("std", "first", "last2", "at3", "seg4")),
                                           (("model", "last"), ("mean",))])
def test_pooled_ragged_batch_matches_each_sequence_alone(chunk, pools, inputs):
    seqs = _ragged()
    res = Reservoir.random(20, 3, 0, spectral_radius=0.9, leak_rate=np.array(0.5), seed=1, dtype=torch.float64)
    U = to_batch(seqs, "X", dtype=torch.float64, device="cpu")
    P = Pooling(pools, inputs=inputs)
    Z = pool([res], U, P, washout=2, chunk_size=chunk)[0].numpy()
    assert Z.shape == (len(seqs), P.size(20, 3))
    w = ref.Weights(res)
    for b, u in enumerate(seqs):
        np.testing.assert_allclose(Z[b], ref.pooled(w, u, list(pools), list(inputs), washout=2), rtol=0, atol=1e-12)


def test_seg_pool_keeps_the_ends_of_equal_segments():
    # 13 steps after a washout of 1: seg3 keeps steps 1 + round(12 j / 3), j = 1..3, i.e. 5, 9, 13;
    # at3 keeps 1, 7, 13 (the first included)
    u = np.arange(14.0)[:, None]
    U = to_batch([u], "X", dtype=torch.float64, device="cpu")
    res = Reservoir.random(2, 1, 0, seed=0, dtype=torch.float64)
    seg = pool([res], U, Pooling("last", inputs="seg3"), washout=1)[0, 0, :3]
    at = pool([res], U, Pooling("last", inputs="at3"), washout=1)[0, 0, :3]
    assert seg.tolist() == [5.0, 9.0, 13.0] and at.tolist() == [1.0, 7.0, 13.0]


def test_model_space_features_are_the_sequence_s_own_linear_model():
    # a sequence whose next input is exactly linear in the state has that model as its features:
    # with a tiny relative ridge the coefficients come back (here u[t+1] = 0.5 + A x[t])
    from esnkit.readout import pooling

    res = Reservoir.random(3, 2, 0, seed=4, dtype=torch.float64)
    rng = np.random.default_rng(0)
    u = np.zeros((40, 2))
    u[0] = rng.normal(size=2)
    w = ref.Weights(res)
    A = rng.normal(size=(2, 3))
    for t in range(39):  # u[t+1] depends on the state after u[0..t], which is in the loop
        xs = ref.harvest(w, u[: t + 1], None)
        u[t + 1] = 0.5 + A @ xs[-1]
    U = to_batch([u], "X", dtype=torch.float64, device="cpu")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(pooling, "MODEL_RIDGE", 1e-12)
        theta = pool([res], U, Pooling("model", inputs=None))[0, 0].numpy().reshape(4, 2)
    np.testing.assert_allclose(theta[0], [0.5, 0.5], atol=1e-6)
    np.testing.assert_allclose(theta[1:], A.T, atol=1e-6)
    assert Pooling("model", inputs=None).size(3, 2) == 8 and Pooling("model").memory(5, 3, 2) == 8 * 5 * 4 * 6
    with pytest.raises(ValueError, match="inputs"):
        Pooling("last", inputs="model")


def test_input_summary_order_is_statistics_then_positions():
    assert Pooling("last", inputs="seg3+std+mean").inputs == ("mean", "std", "seg3")
    assert Pooling("last", inputs=None).inputs == () and Pooling("last", inputs="none").inputs == ()
    assert Pooling("seg3", inputs="seg3").size(4, 12) == 3 * 12 + 3 * 4


def test_input_summary_is_accurate_far_from_zero():
    rng = np.random.default_rng(3)
    seqs = [1e6 + rng.normal(size=(int(rng.integers(5, 40)), 2)) for _ in range(5)]
    res = Reservoir.random(5, 2, 0, seed=0, dtype=torch.float64)
    U = to_batch(seqs, "X", dtype=torch.float64, device="cpu")
    Z = pool([res], U, Pooling("mean", inputs=("mean", "std")), washout=2, chunk_size=3)[0].numpy()
    for b, s in enumerate(seqs):
        np.testing.assert_allclose(Z[b, 2:4], s[2:].std(axis=0), rtol=1e-8)


def test_ragged_states_identical_to_per_sequence_runs():
    seqs = _ragged(1)
    res = Reservoir.random(16, 3, 0, seed=2, dtype=torch.float64)
    U = to_batch(seqs, "X", dtype=torch.float64, device="cpu")
    xs = torch.zeros(U.batch_size, U.steps, 16, dtype=torch.float64)
    f64 = torch.float64
    start = ESNState(torch.zeros(U.batch_size, 16, dtype=f64), torch.zeros(U.batch_size, 0, dtype=f64))
    for _ in run([res], start, U.steps, inputs=U.data, into=lambda sl: xs[:, sl], chunk_size=5):
        pass
    for b, u in enumerate(seqs):
        alone = torch.zeros(1, len(u), 16, dtype=torch.float64)
        one = to_batch(u, "u", dtype=torch.float64, device="cpu")
        s1 = ESNState(torch.zeros(1, 16, dtype=torch.float64), torch.zeros(1, 0, dtype=torch.float64))
        for _ in run([res], s1, len(u), inputs=one.data, into=lambda sl, alone=alone: alone[:, sl]):
            pass
        assert torch.equal(xs[b, :len(u)], alone[0])  # bit for bit


@pytest.mark.parametrize("pools", ["mean+max+last", "model+seg3"])
def test_stacked_members_pool_like_each_member_alone(pools):
    seqs = _ragged(2)
    members = [Reservoir.random(12, 3, 0, seed=s, dtype=torch.float64) for s in (3, 4, 5)]
    U = to_batch(seqs, "X", dtype=torch.float64, device="cpu")
    P = Pooling(pools)
    Z = pool(members, U, P)
    for k, m in enumerate(members):
        torch.testing.assert_close(Z[k], pool([m], U, P)[0], rtol=0, atol=1e-13)


def test_parse_pools_rejects_unknown_names():
    with pytest.raises(ValueError, match="unknown pool 'median'"):
        Pooling("mean+median")
    with pytest.raises(ValueError, match="twice"):
        Pooling("mean+mean")
    with pytest.raises(ValueError, match="unknown pool 'last1'"):
        Pooling("last1")
    with pytest.raises(ValueError, match="inputs .* unknown name 'var'"):
        Pooling("mean", inputs=("var",))
    for bad in ("max", "seg1", "mean+mean", "mean+", "at"):
        with pytest.raises(ValueError, match="inputs"):
            Pooling("mean", inputs=bad)
    with pytest.raises(TypeError, match="inputs"):
        Pooling("mean", inputs=3)
    with pytest.raises(ValueError, match="unknown pool 'seg1'"):
        Pooling("seg1")
    for bad in ("seg02", ["seg3\n"], "seg\u0663", "at01"):  # k as plain digits, no leading zero
        with pytest.raises(ValueError, match="unknown pool"):
            Pooling(bad)
    with pytest.raises(ValueError, match="pooling='steps'"):
        ek.ESNClassifier(10, pooling="steps", input_summary="seg3")


def test_solve_classifier_matches_reference_with_weights():
    rng = np.random.default_rng(0)
    F = rng.normal(size=(40, 6)) * [1, 10, 0.1, 3, 1, 1] + [0, 5, -2, 0, 1, 0]
    labels = rng.integers(0, 3, 40)
    w = rng.uniform(0.5, 2.0, 40)
    Z = np.c_[np.ones(40), F]
    Y = np.eye(3)[labels]
    r = np.sqrt(w)[:, None]
    G, C = torch.from_numpy((Z * r).T @ (Z * r)), torch.from_numpy((Z * r).T @ (Y * r))
    fit = solve_classifier(G, C, 2.5)
    np.testing.assert_allclose(fit.weight.numpy(), ref.ridge_classifier(F, labels, 2.5, w), rtol=1e-9, atol=1e-10)
    # the O(F²) standardisation is the transform M of the docstring
    M = np.zeros((7, 7))
    m, s = fit.standardization.m.numpy(), fit.standardization.s.numpy()
    M[0, 0], M[1:, 0], M[1:, 1:] = 1, -m / s, np.diag(1 / s)
    np.testing.assert_allclose(fit.gram.numpy(), M @ G.numpy() @ M.T, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(fit.standardization.rows(torch.from_numpy(Z)).numpy(), Z @ M.T, rtol=1e-12)


def test_leave_one_out_matches_refitting_without_each_row():
    rng = np.random.default_rng(1)
    F = rng.normal(size=(25, 4))
    labels = rng.integers(0, 2, 25)
    w = torch.from_numpy(rng.uniform(0.5, 2.0, 25))
    Z = torch.from_numpy(np.c_[np.ones(25), F])
    Y = torch.from_numpy(np.eye(2)[labels])
    r = w.sqrt()[:, None]
    G = (Z * r).T @ (Z * r)
    fit = solve_classifier(G, (Z * r).T @ (Y * r), 0.7)
    loo = leave_one_out(Z, Y, w, fit, 0.7)
    Zs = fit.standardization.rows(Z)  # the standardisation is held at all rows', as the closed form says
    penalty = torch.diag(torch.tensor([0.0] + [0.7] * 4, dtype=torch.float64))
    for i in (0, 7, 24):
        keep = np.r_[0:i, i + 1:25]
        A = (Zs[keep] * r[keep]).T @ (Zs[keep] * r[keep]) + penalty
        Wi = torch.linalg.solve(A, (Zs[keep] * r[keep]).T @ (Y[keep] * r[keep])).T
        np.testing.assert_allclose(loo[i].numpy(), (Zs[i] @ Wi.T).numpy(), rtol=1e-9, atol=1e-9)


def test_fit_temperature_minimises_log_loss():
    rng = np.random.default_rng(2)
    labels = torch.from_numpy(rng.integers(0, 3, 200))
    d = torch.from_numpy(np.eye(3)[labels.numpy()] * 0.3 + rng.normal(0, 0.2, (200, 3)))
    T = fit_temperature(d, labels)
    for other in (T * 0.8, T * 1.25):
        assert log_loss(d, labels, T) < log_loss(d, labels, other)


def test_classifier_learns_and_is_reproducible():
    X, y = _toy()
    clf = ek.ESNClassifier(60, seed=0).fit(X[:45], y[:45])
    assert clf.score(X[45:], y[45:]) >= 0.85
    again = ek.ESNClassifier(60, seed=0).fit(X[:45], y[:45])
    assert torch.equal(clf.weight_, again.weight_)
    p = clf.predict_proba(X[45:])
    np.testing.assert_allclose(p.sum(1), 1.0, rtol=1e-12)
    assert np.array_equal(clf.classes_[p.argmax(1)], clf.predict(X[45:]))
    np.testing.assert_allclose(np.exp(clf.predict_log_proba(X[45:])), p, rtol=1e-10)


def test_classifier_weights_match_reference():
    X, y = _toy(1, n=30)
    clf = ek.ESNClassifier(15, seed=3, scale=False, pooling="mean+last", input_summary="mean", ridge=0.5).fit(X, y)
    w = ref.Weights(clf.reservoirs_[0])
    F = np.stack([ref.pooled(w, u, ["mean", "last"], ["mean"]) for u in X])
    np.testing.assert_allclose(clf.weight_[0].numpy(), ref.ridge_classifier(F, y, 0.5), rtol=1e-8, atol=1e-10)


def test_first_member_is_the_esn_reservoir():
    X, y = _toy(2, n=12)
    clf = ek.ESNClassifier(20, seed=7, n_reservoirs=3).fit(X, y)
    esn = ek.ESN(20, leak_rate=0.2, input_scaling=0.5, seed=7).fit(np.zeros((5, 2)), np.zeros((5, 1)))
    assert torch.equal(clf.reservoirs_[0].W_in, esn.reservoir_.W_in)
    assert not torch.equal(clf.reservoirs_[1].W_in, clf.reservoirs_[0].W_in)


def test_string_labels_binary_decision_and_layouts():
    X, y = _toy(3, n=40, classes=2)
    names = np.array(["low", "high"])[y]
    clf = ek.ESNClassifier(30, seed=0).fit(X, names)
    assert list(clf.classes_) == ["high", "low"]
    d = clf.decision_function(X)
    assert d.shape == (40,)
    assert np.array_equal(np.where(d > 0, "low", "high"), clf.predict(X))
    # equal lengths: a 3-D array and a list of its sequences agree; a 2-D array holds univariate sequences
    eq = np.stack([x[:15] for x in X])
    torch.testing.assert_close(torch.from_numpy(clf.decision_function(eq)),
                               torch.from_numpy(clf.decision_function(list(eq))))
    uni = ek.ESNClassifier(20, seed=0).fit(eq[..., 0], names)
    assert uni.input_size_ == 1 and uni.predict(eq[:3, :, 0]).shape == (3,)


@pytest.mark.parametrize("kw", [dict(pooling="steps"), dict(readout="logistic"), dict(class_weight="balanced"),
                                dict(n_reservoirs=3), dict(pooling="max+at3", input_summary=None),
                                dict(washout=3, pooling="mean+last4"), dict(dtype="float32")])
def test_options_fit_predict(kw):
    pytest.importorskip("sklearn") if kw.get("readout") == "logistic" else None
    X, y = _toy(4)
    clf = ek.ESNClassifier(40, seed=1, **kw).fit(X[:45], y[:45])
    assert clf.score(X[45:], y[45:]) >= 0.6
    assert clf.predict_proba(X[45:]).shape == (15, 3)


def test_predict_steps_labels_each_step():
    X, y = _toy(5)
    clf = ek.ESNClassifier(40, seed=1, pooling="steps").fit(X, y)
    steps = clf.predict_steps(X[:4])
    assert [len(s) for s in steps] == [len(x) for x in X[:4]]
    assert all(set(s) <= set(clf.classes_) for s in steps)
    with pytest.raises(ValueError, match="pooling='steps'"):
        ek.ESNClassifier(20, seed=1).fit(X, y).predict_steps(X[:2])


def test_class_weight_balanced_changes_an_imbalanced_fit():
    X, y = _toy(6, n=60, classes=2)
    keep = np.r_[np.flatnonzero(y == 0), np.flatnonzero(y == 1)[:6]]
    Xi, yi = [X[i] for i in keep], y[keep]
    a = ek.ESNClassifier(20, seed=0, ridge=10.0).fit(Xi, yi)
    b = ek.ESNClassifier(20, seed=0, ridge=10.0, class_weight="balanced").fit(Xi, yi)
    c = ek.ESNClassifier(20, seed=0, ridge=10.0, class_weight={0: 36 / 60, 1: 36 / 12}).fit(Xi, yi)
    assert not torch.equal(a.weight_, b.weight_)
    torch.testing.assert_close(b.weight_, c.weight_)


@pytest.mark.parametrize("bad, err, match", [
    (dict(pooling="median"), ValueError, "unknown pool"),
    (dict(readout="svm"), ValueError, "readout"),
    (dict(readout="logistic", ridge=0.0), ValueError, "ridge > 0"),
    (dict(class_weight="auto"), ValueError, "class_weight"),
    (dict(class_weight={0: -1.0}), ValueError, "class_weight"),
    (dict(n_reservoirs=0), ValueError, "n_reservoirs"),
    (dict(input_summary="var"), ValueError, "input_summary"),
    (dict(scale="yes"), TypeError, "scale"),
    (dict(pooling="steps", class_weight="balanced"), ValueError, "class_weight"),
    (dict(spectral_radius=-1.0), ValueError, "spectral_radius"),
    (dict(ridge=float("nan")), ValueError, "ridge"),
    (dict(ridge=-1.0), ValueError, "ridge"),
])
def test_bad_parameters_are_named(bad, err, match):
    with pytest.raises(err, match=match):
        ek.ESNClassifier(10, **bad)


def test_bad_data_is_named():
    X, y = _toy(7, n=12)
    clf = ek.ESNClassifier(10, seed=0)
    with pytest.raises(ValueError, match="one class"):
        clf.fit(X, np.zeros(12))
    with pytest.raises(ValueError, match="continuous"):
        clf.fit(X, np.linspace(0, 1, 12))
    with pytest.raises(ValueError, match="12 sequence"):
        clf.fit(X, y[:5])
    with pytest.raises(ValueError, match="washout"):
        ek.ESNClassifier(10, washout=20).fit(X, y)
    with pytest.raises(ValueError, match="NaN|finite"):
        clf.fit([np.full((5, 2), np.nan)] + X[1:], y)
    with pytest.raises(ek.NotFittedError):
        clf.predict(X)
    clf.fit(X, y)
    with pytest.raises(ValueError, match="fitted on 2"):
        clf.predict([np.zeros((5, 3))])
    with pytest.raises(TypeError, match="labels"):
        clf.fit(X, np.array([1 + 2j] * 12))


def test_save_load_round_trip(tmp_path):
    X, y = _toy(8)
    names = np.array(["a", "b", "c"])[y]
    for kw in (dict(), dict(n_reservoirs=2, pooling="steps", scale=False), dict(dtype="float32")):
        clf = ek.ESNClassifier(25, seed=2, **kw).fit(X, names)
        path = tmp_path / "clf.esnkit"
        ek.save(clf, path)
        back = ek.load(path)
        assert isinstance(back, ek.ESNClassifier) and back.get_params() == clf.get_params()
        assert np.array_equal(back.classes_, clf.classes_)
        np.testing.assert_array_equal(back.predict_proba(X), clf.predict_proba(X))
    int_clf = ek.ESNClassifier(10, seed=0).fit(X, y)
    int_clf.save(tmp_path / "i.esnkit")
    assert ek.load(tmp_path / "i.esnkit").predict(X[:3]).dtype.kind == "i"


def test_load_state_dict_checks_shapes():
    X, y = _toy(9, n=20)
    clf = ek.ESNClassifier(10, seed=0).fit(X, y)
    state = clf.state_dict()
    state["weight_"] = state["weight_"][:, :2]
    with pytest.raises(ValueError, match="weight_"):
        ek.ESNClassifier(10, seed=0).load_state_dict(state)
    with pytest.raises(ValueError, match="other reservoir_size"):
        ek.ESNClassifier(11, seed=0).load_state_dict(clf.state_dict())


def test_get_set_params_clone():
    clf = ek.ESNClassifier(10, pooling="max")
    assert clf.get_params()["pooling"] == "max"
    clf.set_params(pooling="mean+last", n_reservoirs=2)
    assert clf.clone().n_reservoirs == 2
    with pytest.raises(ValueError, match="pool"):
        clf.set_params(pooling="bad")
    assert clf.pooling == "mean+last"  # rolled back


def test_search_accuracy_with_folds_and_holdout():
    pytest.importorskip("optuna")
    X, y = _toy(10, n=45)
    r = ek.search(X, y, objective="accuracy", folds=3, n_trials=4, batch_size=2, seed=0, progress=False,
                  space={"leak_rate": {"low": 0.1, "high": 1.0}}, fixed={"reservoir_size": 20, "seed": 0})
    assert 0 <= r.best_value <= 1 and r.direction == "maximize"
    assert isinstance(r.best_esn, ek.ESNClassifier)
    assert {"accuracy", "log_loss", "ridge"} <= set(r.table[0])
    r2 = ek.search(X, y, objective="log_loss", validation=0.3, n_trials=2, batch_size=2, seed=0, progress=False,
                   space={"pooling": {"choices": ["mean+last", "max"]}}, fixed={"reservoir_size": 20, "seed": 0})
    assert r2.direction == "minimize" and r2.best_value >= 0
    with pytest.raises(ValueError, match="searchable ESNClassifier"):
        ek.search(X, y, objective="accuracy", space={"feedback_scaling": (0.1, 1.0)}, progress=False)
    with pytest.raises(ValueError, match="split"):
        ek.search(X, y, objective="accuracy", split=10, space={"leak_rate": (0.1, 1.0)}, progress=False)


def test_search_value_is_what_a_refit_scores_on_the_holdout():
    pytest.importorskip("optuna")
    from esnkit.tuning.classification import stratified_holdout

    X, y = _toy(11, n=45)
    r = ek.search(X, y, objective="accuracy", validation=0.3, n_trials=1, batch_size=1, seed=0, progress=False,
                  space={"leak_rate": {"choices": [0.3]}}, fixed={"reservoir_size": 20, "seed": 0})
    val = stratified_holdout(y, 0.3, 0)
    assert r.best_esn.score([X[i] for i in val], y[val]) == pytest.approx(r.best_value)
    rng = np.random.default_rng(5)  # overlapping classes: a log-loss well away from zero
    X = [rng.normal(size=(int(rng.integers(8, 20)), 2)) + 0.4 * c for c in y]
    r = ek.search(X, y, objective="log_loss", validation=0.3, n_trials=1, batch_size=1, seed=0, progress=False,
                  space={"leak_rate": {"choices": [0.3]}}, fixed={"reservoir_size": 20, "seed": 0})
    p = r.best_esn.predict_proba([X[i] for i in val])
    nll = -np.log(p[np.arange(len(val)), np.searchsorted(r.best_esn.classes_, y[val])]).mean()
    assert 0.05 < nll == pytest.approx(r.best_value, rel=1e-6)


def test_search_with_more_features_than_sequences_scores_what_a_refit_does():
    # 10 snapshots of 40 states: 440 features for 31 training sequences; the folds are solved from
    # the rows' kernel (the features' 440 x 440 Gram is never factored), and the value is still the
    # refitted model's
    pytest.importorskip("optuna")
    from esnkit.tuning.classification import stratified_holdout

    rng = np.random.default_rng(5)
    X, y = _toy(11, n=45)
    X = [x + rng.normal(0, 0.6, x.shape) for x in X]
    val = stratified_holdout(y, 0.3, 0)
    for objective in ("accuracy", "log_loss"):
        r = ek.search(X, y, objective=objective, validation=0.3, n_trials=1, batch_size=1, seed=0, progress=False,
                      space={"leak_rate": {"choices": [0.3]}},
                      fixed={"reservoir_size": 40, "seed": 0, "pooling": "seg10", "input_summary": "seg10"})
        assert r.best_esn.n_features_ == 10 * 40 + 10 * 2
        if objective == "accuracy":
            assert r.best_esn.score([X[i] for i in val], y[val]) == pytest.approx(r.best_value)
        else:
            p = r.best_esn.predict_proba([X[i] for i in val])
            nll = -np.log(p[np.arange(len(val)), np.searchsorted(r.best_esn.classes_, y[val])]).mean()
            assert nll == pytest.approx(r.best_value, rel=1e-6)


def test_kernel_fold_path_equals_the_gram_path():
    from esnkit.tuning import classification as tc

    rng = np.random.default_rng(0)
    n, F = 40, 5
    Z = torch.as_tensor(np.hstack([np.ones((n, 1)), rng.normal(size=(n, F)) * rng.uniform(0.1, 3, F) + 2]))
    onehot = torch.nn.functional.one_hot(torch.as_tensor(rng.integers(0, 3, n)), 3).double()
    w = torch.as_tensor(rng.uniform(0.5, 2, n))
    train, val, ridges = np.arange(30), np.arange(30, n), np.array([1e-3, 0.1, 1.0, 10.0])
    for a, b in zip(tc._fold_decisions_dual(Z, onehot, w, train, val, ridges),
                    tc._fold_decisions(Z, onehot, w, train, val, ridges)):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-9)


def test_sklearn_adapter_in_pipeline_and_grid_search():
    sk = pytest.importorskip("sklearn")
    del sk
    from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_val_score
    from sklearn.pipeline import make_pipeline

    from esnkit.sklearn import ESNClassifier

    X, y = _toy(12, n=45)
    eq = np.stack([x[:15] for x in X])
    scores = cross_val_score(ESNClassifier(20, seed=0), eq, y, cv=StratifiedKFold(3))
    assert scores.shape == (3,) and scores.mean() > 0.5
    gs = GridSearchCV(ESNClassifier(20, seed=0), {"ridge": [0.1, 10.0]}, cv=3).fit(eq[..., 0], y)
    assert gs.best_estimator_.classes_.tolist() == [0, 1, 2]
    from sklearn.preprocessing import FunctionTransformer

    pipe = make_pipeline(FunctionTransformer(lambda a: a * 2.0), ESNClassifier(20, seed=0)).fit(eq[..., 0], y)
    assert pipe.predict(eq[:3, :, 0]).shape == (3,)


def test_sklearn_check_estimator_classifier():
    pytest.importorskip("sklearn")
    from sklearn.utils.estimator_checks import check_estimator

    from esnkit.sklearn import ESNClassifier

    results = check_estimator(ESNClassifier(20, seed=0), on_fail=None)
    failed = [(r["check_name"], str(r["exception"])[:200]) for r in results if r["status"] == "failed"]
    assert not failed, failed


def test_japanese_vowels_single_reservoir_accuracy():
    """The bundled anchor dataset: a single N=200 reservoir clears 97 % on the test set (the benchmark
    reports the full figures)."""
    datasets = pytest.importorskip("esnkit.datasets")
    if not hasattr(datasets, "japanese_vowels"):
        pytest.skip("japanese_vowels is not available")
    Xtr, ytr, Xte, yte = datasets.japanese_vowels()
    clf = ek.ESNClassifier(200, seed=0, ridge=10.0).fit(Xtr, ytr)
    assert clf.score(Xte, yte) >= 0.97


def test_object_labels_and_dict_class_weight_survive_save_load(tmp_path):
    X, y = _toy(13, n=30)
    names = np.array(["a", "b", "c"])[y].astype(object)
    clf = ek.ESNClassifier(15, seed=1, class_weight={"a": 2.0}).fit(X, names)
    clf.save(tmp_path / "o.esnkit")
    back = ek.load(tmp_path / "o.esnkit")
    np.testing.assert_array_equal(back.predict(X), clf.predict(X))
    ints = ek.ESNClassifier(15, seed=1, class_weight={0: 2.0}).fit(X, y)
    ints.save(tmp_path / "i.esnkit")
    again = ek.load(tmp_path / "i.esnkit").fit(X, y)  # the JSON's string keys still name the classes
    torch.testing.assert_close(again.weight_, ints.weight_)


def test_a_single_2d_sequence_gets_a_hint():
    X, y = _toy(14, n=12)
    clf = ek.ESNClassifier(10, seed=0).fit(X, y)
    with pytest.raises(ValueError, match=r"as a list, \[x\]"):
        clf.predict(X[0])


def test_leverages_dual_and_primal_agree():
    from esnkit.readout import Standardization, leverages

    rng = np.random.default_rng(4)
    for B, F in ((10, 30), (40, 6)):  # fewer rows than features (the dual), and more (the primal)
        Z = torch.from_numpy(np.c_[np.ones(B), rng.normal(size=(B, F))])
        w = torch.from_numpy(rng.uniform(0.5, 2.0, B))
        r = w.sqrt()[:, None]
        G = (Z * r).T @ (Z * r)
        std = Standardization(G)
        Zs, Gs = std.rows(Z), std.gram(G)
        A = Gs[1:, 1:] + 0.3 * torch.eye(F, dtype=torch.float64)
        expect = w * (1 / Gs[0, 0] + (Zs[:, 1:] * torch.linalg.solve(A, Zs[:, 1:].T).T).sum(1))
        torch.testing.assert_close(leverages(Zs, Gs, w, 0.3), expect, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("initializer", ["cycle_jumps", "orthogonal", "matrix"])
def test_the_classifier_takes_an_initializer_and_saves_it(tmp_path, initializer):
    rng = np.random.default_rng(0)
    X = [rng.standard_normal((int(rng.integers(8, 15)), 2)) + (i % 2) for i in range(40)]
    y = np.arange(40) % 2
    init = rng.standard_normal((30, 30)) if initializer == "matrix" else initializer
    clf = ek.ESNClassifier(30, initializer=init, seed=0).fit(X, y)
    res = clf.reservoirs_[0]
    expected = ek.ESN(30, initializer=init, seed=0, leak_rate=0.2, input_scaling=0.5)._build_reservoir(2, 0)
    torch.testing.assert_close(res.recurrent_matrix().to_dense(), expected.recurrent_matrix().to_dense())
    clf.save(tmp_path / "c")
    loaded = ek.load(tmp_path / "c")
    if initializer == "matrix":  # rebuilt from the saved W, as an ESN's is
        assert not isinstance(loaded.initializer, str)
    else:
        assert loaded.initializer == initializer
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))
