"""Metrics against hand computations and known bounds."""

import numpy as np
import pytest
import torch

import esnkit as ek
from esnkit import metrics as m


def test_mse_rmse_nrmse_by_hand():
    y = np.array([[1.0, 0.0], [2.0, 2.0], [3.0, 4.0]])
    p = y + np.array([[0.5, 0.0], [0.0, 1.0], [-0.5, 0.0]])
    assert m.mse(y, p, multioutput="raw_values") == pytest.approx([1 / 6, 1 / 3])
    assert m.rmse(y, p) == pytest.approx((np.sqrt(1 / 6) + np.sqrt(1 / 3)) / 2)
    std = y.std(axis=0)
    assert m.nrmse(y, p, multioutput="raw_values") == pytest.approx(np.sqrt([1 / 6, 1 / 3]) / std)
    assert m.nrmse(y, p, normalization="var", multioutput="raw_values") == pytest.approx([1 / 6, 1 / 3] / std**2)
    by_range = m.nrmse(y, p, normalization="range", multioutput="raw_values")
    assert by_range == pytest.approx(np.sqrt([1 / 6, 1 / 3]) / [2, 4])
    ref = np.array([[0.0, 0.0], [10.0, 10.0]])
    assert m.nrmse(y, p, reference=ref, multioutput="raw_values") == pytest.approx(np.sqrt([1 / 6, 1 / 3]) / 5)


def test_nrmse_of_mean_predictor_is_one_and_tensors_accepted():
    y = np.random.default_rng(0).normal(size=500)
    assert m.nrmse(y, np.full_like(y, y.mean())) == pytest.approx(1.0)
    assert m.nrmse(torch.from_numpy(y), torch.from_numpy(y)) == 0.0


def test_metric_errors():
    with pytest.raises(ValueError, match="y_true has shape"):
        m.mse(np.zeros(5), np.zeros(6))
    with pytest.raises(ValueError, match="y_pred contains NaN"):
        m.mse(np.zeros(5), np.full(5, np.nan))
    with pytest.raises(ValueError, match="constant series"):
        m.nrmse(np.ones(5), np.zeros(5))
    with pytest.raises(ValueError, match="normalization"):
        m.nrmse(np.arange(5.0), np.zeros(5), normalization="max")


def test_valid_prediction_time():
    t = np.linspace(0, 10, 101)
    y = np.sin(t)[:, None]
    p = y.copy()
    p[40:] += 1.0  # error jumps at step 40
    s = y.std()
    assert m.valid_prediction_time(y, p) == 40
    assert m.valid_prediction_time(y, p, dt=0.1) == pytest.approx(4.0)
    assert m.valid_prediction_time(y, p, dt=0.1, lyapunov_exponent=0.906) == pytest.approx(4.0 * 0.906)
    assert m.valid_prediction_time(y, y) == 101  # never crosses: the full horizon
    assert m.valid_prediction_time(y, p, threshold=2.0 / s) == 101
    err = m.normalized_error(y, p)
    assert err[40] == pytest.approx(1.0 / s)


def test_memory_capacity_bounds_linear_reservoir():
    linear = ek.ESN(20, activation="identity", spectral_radius=0.95, input_scaling=0.1, ridge=1e-10, seed=0)
    mc, per_delay = m.memory_capacity(linear, max_delay=60, return_all=True)
    assert 14 < mc <= 20 + 0.5  # MC ≤ N, and near N for a linear reservoir (Jaeger 2002)
    assert per_delay[0] > 0.99 and per_delay[-1] < 0.1
    saturated = ek.ESN(20, spectral_radius=0.95, input_scaling=5.0, ridge=1e-10, seed=0)
    assert m.memory_capacity(saturated, max_delay=60) < mc
