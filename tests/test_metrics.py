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


def test_mase_by_hand_and_seasonal_naive_scale():
    insample = np.array([1.0, 3.0, 2.0, 5.0, 4.0])  # naive errors 2, 1, 3, 1: scale 7/4
    assert m.mase([6.0, 6.0], [5.0, 8.0], insample=insample) == pytest.approx((1 + 2) / 2 / (7 / 4))
    # season 2: errors |2-1|, |5-3|, |4-2| = 1, 2, 2: scale 5/3
    assert m.mase([6.0], [5.0], insample=insample, season=2) == pytest.approx(1 / (5 / 3))
    # per feature, then averaged; a (time, features) insample
    two = np.stack([insample, 2 * insample], axis=1)
    raw = m.mase([[6.0, 6.0]], [[5.0, 8.0]], insample=two, multioutput="raw_values")
    assert raw == pytest.approx([1 / (7 / 4), 2 / (7 / 2)])
    assert m.mase([[6.0, 6.0]], [[5.0, 8.0]], insample=two) == pytest.approx(raw.mean())
    assert m.mase(torch.tensor([6.0]), torch.tensor([6.0]), insample=torch.from_numpy(insample)) == 0.0


def test_mase_of_the_seasonal_naive_forecast_in_sample_is_one():
    # The seasonal-naive forecast of the insample's own steps (y[t - m] for y[t]) has, by definition,
    # the mean absolute error that scales MASE: its MASE is exactly 1, for any series and season.
    y = np.random.default_rng(0).normal(size=(60, 1)).cumsum(axis=0)
    for season in (1, 4, 12):
        assert m.mase(y[season:], y[:-season], insample=y, season=season) == pytest.approx(1.0, rel=1e-12)


def test_smape_by_hand_and_bounds():
    y = np.array([100.0, 50.0, 0.0, 0.0])
    p = np.array([110.0, 50.0, 0.0, 3.0])  # 10/210, 0, both zero: 0, one zero: 1
    assert m.smape(y, p) == pytest.approx(200 * (10 / 210 + 0 + 0 + 1) / 4)
    assert m.smape(y, y) == 0.0
    assert m.smape([1.0, -2.0], [-1.0, 2.0]) == pytest.approx(200.0)  # the most: opposite signs
    assert m.smape([[1.0, 10.0]], [[2.0, 10.0]], multioutput="raw_values") == pytest.approx([200 / 3, 0.0])
    assert m.smape([1.0], [1e308]) == pytest.approx(200.0)


def test_mase_smape_bad_input_names_the_argument():
    y = np.arange(5.0)
    with pytest.raises(ValueError, match="insample"):
        m.mase(y, y, insample=np.ones(10))  # a constant insample: a scale of 0
    with pytest.raises(ValueError, match="insample"):
        m.mase(y, y, insample=np.arange(3.0), season=3)  # too short for the season
    with pytest.raises(ValueError, match="insample contains NaN"):
        m.mase(y, y, insample=np.array([1.0, np.nan, 2.0]))
    with pytest.raises(ValueError, match="insample has 2 feature"):
        m.mase(y, y, insample=np.ones((10, 2)).cumsum(axis=0))
    with pytest.raises(ValueError, match="insample must be"):
        m.mase(y, y, insample=np.ones((2, 10, 1)))
    for bad in (0, -1, 1.5, True, None):
        with pytest.raises(ValueError, match="season"):
            m.mase(y, y, insample=np.arange(20.0), season=bad)
    with pytest.raises(ValueError, match="y_pred contains NaN"):
        m.mase(y, np.full(5, np.nan), insample=np.arange(20.0))
    with pytest.raises(ValueError, match="y_true has shape"):
        m.smape(y, np.zeros(4))
    with pytest.raises(ValueError, match="y_pred contains NaN"):
        m.smape(y, np.full(5, np.inf))
    with pytest.raises(TypeError, match="y_true"):
        m.smape(["a"], [1.0])
    with pytest.raises(TypeError, match="insample"):
        m.mase(y, y, insample=None)
