"""Built-in series: shapes, determinism, and integration accuracy."""

import numpy as np
import pytest

import esnkit as ek
from esnkit import datasets as ds


def test_mackey_glass_shape_range_and_determinism():
    a = ds.mackey_glass(1000)
    assert a.shape == (1000, 1) and a.dtype == np.float64
    assert 0.2 < a.min() < 0.6 and 1.1 < a.max() < 1.45  # the tau=17 attractor's known range
    assert np.array_equal(a, ds.mackey_glass(1000))
    b, c = ds.mackey_glass(1000, seed=1), ds.mackey_glass(1000, seed=2)
    assert not np.array_equal(b, c) and np.array_equal(b, ds.mackey_glass(1000, seed=1))


def test_mackey_glass_integration_converges_under_step_refinement():
    coarse = ds.mackey_glass(300, discard=100)
    fine = ds.mackey_glass(300, discard=100, dt=0.05, sample_every=20)
    finer = ds.mackey_glass(300, discard=100, dt=0.025, sample_every=40)
    e1, e2 = np.abs(coarse - fine).max(), np.abs(fine - finer).max()
    assert e1 < 2e-4 and e2 < e1 / 3  # small, and shrinking at least at second order


def test_mackey_glass_equation_holds_on_samples():
    # Central differences of a fine-step series satisfy the delay equation.
    x = ds.mackey_glass(3100, dt=0.01, sample_every=1, discard=3000)[:, 0]  # one sample per 0.01
    t, lag = np.arange(2000, 3000), 1700
    dxdt = (x[t + 1] - x[t - 1]) / 0.02
    rhs = 0.2 * x[t - lag] / (1 + x[t - lag] ** 10) - 0.1 * x[t]
    assert np.abs(dxdt - rhs).max() < 1e-4


def test_lorenz_accuracy_and_statistics():
    a = ds.lorenz(500, dt=0.02, discard=5.0)
    assert a.shape == (500, 3)
    tight = ds.lorenz(500, dt=0.02, discard=5.0, rtol=1e-12, atol=1e-12)
    # Over ~10 time units (9 Lyapunov times) a 1e-10 integration stays close to a 1e-12 one.
    assert np.abs(a - tight).max() < 1e-4
    assert np.array_equal(ds.lorenz(100, seed=3), ds.lorenz(100, seed=3))
    assert np.abs(ds.lorenz(3000).mean(axis=0)[:2]).max() < 3  # symmetric wings


def test_rossler_shape():
    r = ds.rossler(200)
    assert r.shape == (200, 3) and np.isfinite(r).all()


def test_narma10_recursion():
    u, y = ds.narma10(300, seed=1)
    assert u.shape == y.shape == (300, 1)
    t = 50  # targets[t] = y[t+1] from u[t], u[t-9] and y[t-9..t] = targets[t-10..t-1]
    yy = np.concatenate([[0.0], y[:, 0]])
    expected = 0.3 * yy[t] + 0.05 * yy[t] * yy[t - 9 : t + 1].sum() + 1.5 * u[t - 9, 0] * u[t, 0] + 0.1
    assert y[t, 0] == pytest.approx(expected, rel=1e-12)


def test_sine_and_mso():
    assert ds.sine(5, period=4)[:, 0] == pytest.approx([0, 1, 0, -1, 0], abs=1e-12)
    m = ds.mso(100, n_oscillators=3)
    t = np.arange(100)
    assert m[:, 0] == pytest.approx(np.sin(0.2 * t) + np.sin(0.311 * t) + np.sin(0.42 * t))


@pytest.mark.parametrize("call", [
    lambda: ds.mackey_glass(0), lambda: ds.mackey_glass(10, tau=-1), lambda: ds.lorenz(10, dt=0),
    lambda: ds.mso(10, n_oscillators=9), lambda: ds.sine(-1), lambda: ds.mackey_glass(10, discard=-1),
])
def test_bad_arguments(call):
    with pytest.raises(ValueError):
        call()


def test_datasets_are_reachable_from_package():
    assert ek.datasets.mackey_glass is ds.mackey_glass
