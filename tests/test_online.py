"""Online readouts: RLS (with forgetting) and NLMS trainers, the ESN's trainer parameter and partial_fit."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import esnkit as ek
from esnkit.readout import LMS, RLS, Ridge


def _data(T=2000, F=50, D=3, noise=0.1, seed=0):
    g = torch.Generator().manual_seed(seed)
    Z = torch.randn(T, F, generator=g, dtype=torch.float64)
    W = torch.randn(D, F, generator=g, dtype=torch.float64)
    Y = Z @ W.T + noise * torch.randn(T, D, generator=g, dtype=torch.float64)
    return Z, Y, W, g


def _fit(trainer, Z, Y, chunk=300):
    f = trainer.start(Z.shape[1], Y.shape[1], "cpu")
    for lo in range(0, Z.shape[0], chunk):
        f.update(Z[lo:lo + chunk], Y[lo:lo + chunk])
    return f.solve()


def _rel(a, b):
    return float((a - b).norm() / b.norm())


@pytest.mark.parametrize("ridge", [1e-2, 1.0])
@pytest.mark.parametrize("block", [1, 64, 1000])
def test_rls_without_forgetting_is_ridge(ridge, block):
    Z, Y, _, _ = _data()
    ref = _fit(Ridge(ridge), Z, Y)
    w = _fit(RLS(ridge=ridge, block=block), Z, Y)
    assert w.shape == ref.shape == (3, 50) and w.dtype == torch.float64
    assert _rel(w, ref) < 1e-8


def test_rls_delta_is_the_ridge():
    Z, Y, _, _ = _data()
    assert _rel(_fit(RLS(delta=0.5), Z, Y), _fit(Ridge(0.5), Z, Y)) < 1e-8
    # the default ridge (1e-8: P starts at 1e8 I) still holds the ridge solution to a few digits more than needed
    assert _rel(_fit(RLS(), Z, Y), _fit(Ridge(1e-8), Z, Y)) < 1e-6


def test_rls_row_loop_with_forgetting_close_to_one_is_ridge():
    Z, Y, _, _ = _data()
    w = _fit(RLS(forgetting=1 - 1e-13, ridge=1e-2), Z, Y)  # the row-by-row path
    assert _rel(w, _fit(Ridge(1e-2), Z, Y)) < 1e-8


def test_rls_with_forgetting_tracks_a_switch():
    Z, Y, W1, g = _data(noise=0.0)
    W2 = torch.randn(W1.shape, generator=g, dtype=torch.float64)
    T = Z.shape[0]
    Y = torch.cat([Z[:T // 2] @ W1.T, Z[T // 2:] @ W2.T]) + 0.01 * torch.randn(Y.shape, generator=g,
                                                                                 dtype=torch.float64)
    w = _fit(RLS(forgetting=0.98, ridge=1e-2), Z, Y)
    recent = _fit(Ridge(1e-2), Z[-300:], Y[-300:])
    everything = _fit(Ridge(1e-2), Z, Y)
    assert _rel(w, recent) < 0.1
    assert _rel(w, everything) > 5 * _rel(w, recent)
    assert _rel(w, W2) < 0.1
    # without forgetting it stays with the mixture of both mappings
    assert _rel(_fit(RLS(ridge=1e-2), Z, Y), W2) > 0.3


def test_nlms_converges_on_a_noiseless_linear_target():
    g = torch.Generator().manual_seed(1)
    F, D, T = 20, 2, 500
    mix = torch.eye(F, dtype=torch.float64) + 0.3 * torch.randn(F, F, generator=g, dtype=torch.float64)
    Z = torch.randn(T, F, generator=g, dtype=torch.float64) @ mix  # correlated features
    W = torch.randn(D, F, generator=g, dtype=torch.float64)
    Y = Z @ W.T
    f = LMS(learning_rate=0.5).start(F, D, "cpu")
    errors = []
    for _ in range(20):
        f.update(Z, Y)
        errors.append(float(((Z @ f.solve().T - Y) ** 2).mean()))
    start = float((Y ** 2).mean())
    assert errors[0] < start
    assert errors[-1] < 1e-4 * start  # four orders of magnitude below the zero start
    assert all(b <= a * 1.0001 for a, b in zip(errors, errors[1:]))


def test_plain_lms_converges_with_a_small_rate():
    Z, _, W, _ = _data(T=1000, F=10, D=1, noise=0.0)
    Y = Z @ W.T
    f = LMS(learning_rate=0.01, normalised=False).start(10, 1, "cpu")
    for _ in range(10):
        f.update(Z, Y)
    assert _rel(f.solve(), W) < 1e-6


@pytest.mark.parametrize("kwargs", [{"forgetting": 0.0}, {"forgetting": 1.5}, {"forgetting": -0.1},
                                    {"forgetting": float("nan")}, {"ridge": 0.0}, {"ridge": -1.0},
                                    {"delta": 0.0}, {"block": 0}])
def test_rls_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        RLS(**kwargs)


@pytest.mark.parametrize("kwargs", [{"learning_rate": -0.1}, {"learning_rate": 0.0}, {"learning_rate": 2.0},
                                    {"learning_rate": float("inf")}, {"eps": 0.0}])
def test_lms_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        LMS(**kwargs)


# ---------------------------------------------------------------- the ESN's trainer and partial_fit
def _series(T=1000, seed=0):
    rng = np.random.default_rng(seed)
    u = np.sin(np.arange(T + 1) * 0.1)[:, None] + 0.1 * rng.standard_normal((T + 1, 1))
    return u[:-1], u[1:]


def _w(model):
    return model.readout_.weight.double()


def test_esn_trainer_default_is_ridge():
    assert ek.ESN().trainer == "ridge"
    assert "trainer" in ek.tuning.space.SEARCHABLE  # and searched (tests/test_search_online.py)


def test_esn_rls_trainer_matches_ridge():
    x, y = _series()
    ridge = ek.ESN(100, seed=1, washout=20, ridge=1e-2).fit(x, y)
    rls = ek.ESN(100, seed=1, washout=20, ridge=1e-2, trainer="rls").fit(x, y)
    assert _rel(_w(rls), _w(ridge)) < 1e-8
    obj = ek.ESN(100, seed=1, washout=20, trainer=RLS(ridge=1e-2)).fit(x, y)
    assert _rel(_w(obj), _w(ridge)) < 1e-8


def test_esn_lms_trainer_learns():
    x, y = _series()
    m = ek.ESN(50, seed=1, washout=20, trainer=LMS(learning_rate=0.5))
    errors = []
    for _ in range(4):  # passes over the series: a pattern LMS learns slowly from correlated states
        m.partial_fit(x, y)
        errors.append(np.mean((m.predict(x, initial_state=np.zeros(50))[20:] - y[20:]) ** 2))
    assert errors[-1] < errors[0] < np.mean(y ** 2)
    assert errors[-1] < 0.2 * np.var(y)


@pytest.mark.parametrize("trainer", ["ridge", "rls", "lms"])
def test_partial_fit_in_two_pieces_is_fit_bit_for_bit_on_aligned_chunks(trainer):
    x, y = _series()
    kw = dict(seed=1, washout=20, ridge=1e-4, chunk_size=100, trainer=trainer)
    a = ek.ESN(100, **kw).fit(x, y)
    b = ek.ESN(100, **kw)
    assert b.partial_fit(x[:500], y[:500]) is b
    b.partial_fit(x[500:], y[500:])
    assert torch.equal(a.readout_.weight, b.readout_.weight)
    assert torch.equal(a.state_x, b.state_x) and torch.equal(a.state_y, b.state_y)
    assert torch.equal(a.target_range_, b.target_range_)


@pytest.mark.parametrize("kw", [{}, {"feedback_scaling": 0.3}])
def test_partial_fit_in_pieces_is_fit(kw):
    x, y = _series()
    a = ek.ESN(100, seed=1, washout=20, ridge=1e-2, **kw).fit(x, y)
    b = ek.ESN(100, seed=1, washout=20, ridge=1e-2, **kw)
    for lo, hi in ((0, 500), (500, 501), (501, 1000)):
        b.partial_fit(x[lo:hi], y[lo:hi])
    assert _rel(_w(b), _w(a)) < 1e-10
    if not kw:  # (with feedback the driven run's loop amplifies the last digits)
        pa, pb = a.predict(x), b.predict(x)
        assert np.abs(pa - pb).max() <= 1e-10 * np.abs(pa).max()


def test_partial_fit_continues_from_where_the_last_piece_ended():
    x, y = _series()
    a = ek.ESN(100, seed=1, washout=20, ridge=1e-2, chunk_size=100).fit(x, y)
    b = ek.ESN(100, seed=1, washout=20, ridge=1e-2, chunk_size=100)
    b.partial_fit(x[:500], y[:500])
    b.predict(x[:37])  # moves the carried state, not where training continues
    b.reset()
    b.partial_fit(x[500:], y[500:])
    assert torch.equal(a.readout_.weight, b.readout_.weight)


def test_partial_fit_batches_and_pattern_generators():
    x, y = _series()
    xb, yb = np.stack([x, -x]), np.stack([y, -y])
    a = ek.ESN(60, seed=2, washout=50, ridge=1e-2, chunk_size=50).fit(xb, yb)
    b = ek.ESN(60, seed=2, washout=50, ridge=1e-2, chunk_size=50)
    b.partial_fit(xb[:, :300], yb[:, :300])
    b.partial_fit(xb[:, 300:], yb[:, 300:])
    assert torch.equal(a.readout_.weight, b.readout_.weight)
    with pytest.raises(ValueError, match="continues 2 sequence"):
        b.partial_fit(x, y)
    g = ek.ESN(60, seed=2, washout=50, ridge=1e-2, feedback_scaling=0.5, chunk_size=50)
    ref = ek.ESN(60, seed=2, washout=50, ridge=1e-2, feedback_scaling=0.5, chunk_size=50).fit(None, y)
    g.partial_fit(None, y[:300])
    g.partial_fit(None, y[300:])
    assert torch.equal(g.readout_.weight, ref.readout_.weight)


def test_fit_and_load_start_partial_fit_over(tmp_path):
    x, y = _series()
    m = ek.ESN(60, seed=3, washout=50, ridge=1e-2, chunk_size=50)
    m.partial_fit(x[:300], y[:300])
    m.fit(x[:300], y[:300])  # fit starts over, and keeps no accumulation
    m.partial_fit(x[300:600], y[300:600])  # so this is a first piece again
    ref = ek.ESN(60, seed=3, washout=50, ridge=1e-2, chunk_size=50).fit(x[300:600], y[300:600])
    assert torch.equal(m.readout_.weight, ref.readout_.weight)
    m.save(tmp_path / "m.esn")
    loaded = ek.load(tmp_path / "m.esn")
    assert torch.equal(loaded.readout_.weight, m.readout_.weight)


def test_saved_trainers(tmp_path):
    x, y = _series(300)
    m = ek.ESN(40, seed=3, washout=50, ridge=1e-2, trainer="rls").fit(x, y)
    m.save(tmp_path / "rls.esn")
    assert ek.load(tmp_path / "rls.esn").trainer == "rls"
    m = ek.ESN(40, seed=3, washout=50, trainer=RLS(0.99, ridge=1e-2)).fit(x, y)
    m.save(tmp_path / "obj.esn")
    loaded = ek.load(tmp_path / "obj.esn")
    assert loaded.trainer == "custom"
    np.testing.assert_array_equal(loaded.predict(x), m.predict(x))
    with pytest.raises(ValueError, match="Trainer object"):
        loaded.fit(x, y)
    loaded.set_params(trainer=RLS(0.99, ridge=1e-2))
    loaded.fit(x, y)


def test_partial_fit_bad_arguments():
    x, y = _series(300)
    m = ek.ESN(40, seed=3, washout=50, ridge=1e-2).partial_fit(x, y)
    with pytest.raises(ValueError, match="feature"):
        m.partial_fit(np.hstack([x, x]), y)  # another input width
    with pytest.raises(ValueError):
        m.partial_fit(x, np.hstack([y, y]))  # another output width
    with pytest.raises(ValueError, match="pass inputs"):
        m.partial_fit(None, y)
    with pytest.raises(ValueError):
        m.partial_fit(x[:10], y[:11])
    with pytest.raises(ValueError, match="lstsq"):
        ek.ESN(40, solver="lstsq").partial_fit(x, y)
    with pytest.raises(TypeError):
        m.partial_fit(x, y, check_finite="yes")


@pytest.mark.parametrize("kw, error", [({"trainer": "force"}, ValueError), ({"trainer": 3}, TypeError),
                                       ({"trainer": "rls", "ridge": 0.0}, ValueError),
                                       ({"trainer": "rls", "solver": "lstsq"}, ValueError),
                                       ({"trainer": "lms", "solver": "cholesky"}, ValueError)])
def test_esn_bad_trainers(kw, error):
    with pytest.raises(error):
        ek.ESN(**kw)


def test_online_doc_python_blocks_run(capsys):
    import pathlib
    import re

    doc = pathlib.Path(__file__).resolve().parents[1] / "docs" / "online.md"
    blocks = re.findall(r"```python\n(.*?)```", doc.read_text(), flags=re.S)
    assert blocks
    for block in blocks:
        exec(compile(block, str(doc), "exec"), {})  # noqa: S102 - our own docs
    assert float(capsys.readouterr().out.split()[-1]) < 0.01


def test_rls_with_a_tiny_ridge_does_not_fail_where_rounding_makes_its_block_indefinite():
    # P0 = I / 1e-9: the Woodbury block's S = I + Z P Z^T is positive definite in exact arithmetic
    # only; with the tuned Lorenz configuration at N = 100 rounding made its Cholesky factorisation
    # fail. It now falls back to a pivoted solve.
    from esnkit.benchmarks import configs, protocols

    w = protocols.get("lorenz").windows(2)
    kw = {**configs.tuned("lorenz"), "reservoir_size": 100, "ridge": 1e-9}
    u, y = w.train[:3000], w.train[1:3001]
    rls = ek.ESN(**kw, trainer="rls").fit(u, y)
    ridge = ek.ESN(**kw).fit(u, y)
    assert np.all(np.isfinite(rls.readout_.weight.numpy()))
    v, t = w.train[3000:3499], w.train[3001:3500]
    one_step = [ek.metrics.nrmse(t, m.predict(v, update_state=False)) for m in (rls, ridge)]
    assert one_step[0] < 2 * one_step[1] + 1e-4


def test_rls_that_stops_being_finite_raises_instead_of_fitting_nan():
    t = np.arange(600) * 0.1
    X = np.stack([np.sin(t), np.cos(1.3 * t)], 1) * 1e150
    with pytest.raises(ValueError, match="RLS: the weights stopped being finite"):
        ek.ESN(50, seed=1, ridge=1e-14, trainer="rls").fit(X[:-1], X[1:])
