"""Online readouts: RLS (with forgetting) and NLMS trainers, the ESN's trainer parameter and partial_fit."""

from __future__ import annotations

import pytest
import torch

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
