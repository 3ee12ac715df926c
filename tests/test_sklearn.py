"""esnkit.sklearn.ESNRegressor: scikit-learn's estimator checks, pipelines, searches and time-series semantics."""

import inspect
import re

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, TimeSeriesSplit, cross_val_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

import esnkit as ek
from esnkit.sklearn import ESNRegressor
from test_docs import run_python_blocks


@pytest.fixture(scope="module")
def series():
    """A one-step-ahead Mackey-Glass task: X (2000, 1), y (2000,)."""
    s = ek.datasets.mackey_glass(2001)
    return s[:-1], s[1:, 0]


@parametrize_with_checks(
    [ESNRegressor(reservoir_size=50, seed=0)],
    expected_failed_checks=lambda estimator: ESNRegressor._expected_failed_checks,
    xfail_strict=True,  # a listed check that passes fails the test: the list stays as short as it can be
)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def test_expected_failed_checks_are_documented_with_their_reasons():
    doc = " ".join(ESNRegressor.__doc__.split())
    assert ESNRegressor._expected_failed_checks, "nothing is expected to fail?"
    for name, reason in ESNRegressor._expected_failed_checks.items():
        assert f"``{name}``: {reason}." in doc, name


def test_parameters_are_exactly_esns():
    esn = inspect.signature(ek.ESN.__init__).parameters
    ours = inspect.signature(ESNRegressor.__init__).parameters
    assert ESNRegressor._get_param_names() == sorted(ek.ESN.PARAMS)
    assert list(ours) == list(esn)
    assert all(ours[k].default == esn[k].default and ours[k].kind == esn[k].kind for k in esn)
    reg = ESNRegressor(30, ridge=1e-3, seed=2)
    assert reg.get_params()["ridge"] == 1e-3 and clone(reg).get_params() == reg.get_params()
    with pytest.raises(TypeError, match="radius"):
        ESNRegressor(radius=0.5)


def test_fit_builds_an_esn_and_predict_continues_from_the_end_of_training(series):
    X, y = series
    reg = ESNRegressor(100, washout=50, seed=0).fit(X[:1000], y[:1000])
    assert reg.n_features_in_ == 1 and reg.esn_.readout_.weight.dtype == torch.float64
    esn = ek.ESN(100, washout=50, seed=0).fit(X[:1000], y[:1000, None])
    warm = reg.predict(X[1000:1100])
    assert warm.shape == (100,)
    np.testing.assert_array_equal(warm, esn.predict(X[1000:1100], update_state=False)[:, 0])
    np.testing.assert_array_equal(reg.predict(X[1000:1100]), warm)  # the stored state does not move
    cold = esn.predict(X[1000:1100], initial_state=np.zeros(100), update_state=False)[:, 0]
    assert np.abs(warm - y[1000:1100]).max() < np.abs(cold - y[1000:1100])[:10].max()
    two = ESNRegressor(100, washout=50, seed=0).fit(X[:1000], np.c_[y[:1000], -y[:1000]])
    assert two.predict(X[1000:1100]).shape == (100, 2)


def test_bad_parameters_and_short_series_raise_at_fit(series):
    X, y = series
    reg = ESNRegressor(spectral_radius=-1.0)  # scikit-learn's convention: validated by fit, not __init__
    with pytest.raises(ValueError, match="spectral_radius"):
        reg.fit(X[:100], y[:100])
    with pytest.raises(ValueError, match=re.escape("n_samples=20 time steps, not more than washout=20")):
        ESNRegressor(20, washout=20).fit(X[:20], y[:20])
    with pytest.raises(ValueError, match="NaN"):
        ESNRegressor(20).fit(np.full((10, 1), np.nan), y[:10])


def test_pipeline_cross_val_score_and_grid_search(series):
    X, y = series
    pipe = Pipeline([("scale", StandardScaler()), ("esn", ESNRegressor(100, washout=50, seed=0))])
    scores = cross_val_score(pipe, X, y, cv=TimeSeriesSplit(3))
    assert scores.shape == (3,) and scores.min() > 0.9
    search = GridSearchCV(pipe, {"esn__spectral_radius": [0.5, 0.9], "esn__ridge": [1e-8, 1e-4]},
                          cv=TimeSeriesSplit(3)).fit(X[:1500], y[:1500])
    assert set(search.best_params_) == {"esn__spectral_radius", "esn__ridge"} and search.best_score_ > 0.9
    assert search.score(X[1500:], y[1500:]) > 0.9
    assert cross_val_score(ESNRegressor(100, washout=50, seed=0), X, y, cv=TimeSeriesSplit(3)).min() > 0.9


def test_api_doc_python_blocks_run(capsys):
    assert run_python_blocks("docs/api.md") >= 2
    assert "esn__spectral_radius" in capsys.readouterr().out
