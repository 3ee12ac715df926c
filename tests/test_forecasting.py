"""The forecasting workflow: forms of a series, the tuned forecaster, the band, and their errors."""

import numpy as np
import pytest

pytest.importorskip("optuna")
pd = pytest.importorskip("pandas")

from esnkit.forecasting import SeriesForecaster, forecast_series, tune_forecaster  # noqa: E402

PARAMS = {"reservoir_size": 30, "washout": 5, "ridge": 1e-6, "spectral_radius": 0.5}


def _seasonal(n=300, trend=0.05, noise=0.3, seed=0):
    t = np.arange(n)
    rng = np.random.default_rng(seed)
    return 50 + trend * t + 3 * np.sin(2 * np.pi * t / 12) + noise * rng.standard_normal(n)


def test_differences_are_summed_back_exactly():
    """The steps of a straight line are one constant: standardised, the readout learns zero, and the
    forecast is the line continued."""
    y = 3.0 + 0.25 * np.arange(100)
    f = SeriesForecaster(PARAMS, difference=1, ensemble=2).fit(y)
    np.testing.assert_allclose(f.forecast(y, 7)[:, 0], 3.0 + 0.25 * np.arange(100, 107), rtol=1e-10)


def test_seasonal_means_are_added_back_at_the_right_phase():
    """A pattern that repeats exactly is its own seasonal profile: the rest is zero, and the forecast
    is the pattern continued, from any history start."""
    pattern = np.array([5.0, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8])
    y = np.tile(pattern, 12)
    f = SeriesForecaster(PARAMS, season=12, deseason=True, ensemble=2).fit(y)
    np.testing.assert_allclose(f.forecast(y, 15)[:, 0], np.tile(pattern, 3)[:15], atol=1e-9)
    # a history starting at index 5 of the series: its phases follow from start=5
    np.testing.assert_allclose(f.forecast(y[5:50], 4, start=5)[:, 0], y[50:54], atol=1e-9)
    g = SeriesForecaster(PARAMS, difference=1, season=12, deseason=True, ensemble=2).fit(y)
    np.testing.assert_allclose(g.forecast(y[:60], 12)[:, 0], y[60:72], atol=1e-9)


def test_forecaster_checks_its_arguments():
    with pytest.raises(ValueError, match="difference must be 0 or 1"):
        SeriesForecaster(PARAMS, difference=2)
    with pytest.raises(ValueError, match="spectral_radius"):
        SeriesForecaster({"spectral_radius": -1})
    f = SeriesForecaster(PARAMS)
    with pytest.raises(ValueError, match="not fitted"):
        f.forecast(np.ones(20), 3)
    f.fit(_seasonal(100))
    with pytest.raises(ValueError, match="history holds 1 missing"):
        f.forecast(np.r_[np.ones(10), np.nan], 3)
    with pytest.raises(ValueError, match="horizon must be a positive integer"):
        f.forecast(np.ones(20), 0)
    with pytest.raises(ValueError, match="start must be"):
        f.forecast([np.ones(20), np.ones(20)], 2, start=[0])


def test_tuning_chooses_differences_for_a_trend():
    """A strong trend leaves the range the levels model was trained on; its steps do not."""
    y = _seasonal(260, trend=0.5, noise=0.2)
    f = tune_forecaster(y, 12, trials=6, reservoir_size=50, ensemble=2)
    assert f.difference == 1
    assert f.params["scale"] is True and f.params["reservoir_size"] == 50


def test_forecast_series_end_to_end_with_dates_and_a_band(tmp_path):
    y = _seasonal(240)
    dates = pd.date_range("2000-01-01", periods=len(y), freq="MS").to_numpy()
    fc = forecast_series(y, 12, season=12, dates=dates, trials=6, reservoir_size=50, ensemble=3)
    assert fc.values.shape == fc.lower.shape == fc.upper.shape == (12, 1)
    assert (fc.lower <= fc.upper).all()
    assert str(fc.dates[0])[:10] == "2020-01-01" and str(fc.dates[-1])[:10] == "2020-12-01"
    # the band is the backtest errors' quantiles at each lead: it holds their central 80 %
    inside = (fc.backtest_errors >= fc.lower - fc.values) & (fc.backtest_errors <= fc.upper - fc.values)
    assert 0.7 <= inside.mean() <= 0.9
    # out of sample, one step ahead, it beats the seasonal-naive forecast on this noisy seasonal series
    naive = np.abs(y[fc.split - 12 + np.arange(len(y) - fc.split)] - y[fc.split:]).mean()
    assert np.nanmean(np.abs(fc.backtest_errors[:, 0])) < naive  # NaN: every member of an origin diverged
    path = fc.to_csv(tmp_path / "f.csv")
    back = pd.read_csv(path)
    assert list(back.columns) == ["date", "value", "value_lower", "value_upper"]
    np.testing.assert_array_equal(back["value"].to_numpy(), fc.values[:, 0])
    assert (tmp_path / "f.png").exists() is False
    fc.plot(tmp_path / "f.png")
    assert (tmp_path / "f.png").stat().st_size > 10_000
    # the configuration it reports reproduces it, bit for bit
    again = forecast_series(y, 12, season=12, dates=dates, config=fc.params, ensemble=3)
    np.testing.assert_array_equal(again.values, fc.values)
    np.testing.assert_array_equal(again.lower, fc.lower)


def test_forecast_series_bad_input():
    y = _seasonal(200)
    with pytest.raises(ValueError, match="horizon must be a positive integer"):
        forecast_series(y, 0)
    with pytest.raises(ValueError, match="series has 20 steps"):
        forecast_series(y[:20], 3)
    with pytest.raises(ValueError, match="series holds 1 missing or non-finite value"):
        forecast_series(np.r_[y, np.nan], 3)
    with pytest.raises(ValueError, match="dates has 3 values but the series has 200 rows"):
        forecast_series(y, 3, dates=np.arange(3))
    with pytest.raises(TypeError, match="config must be a dict"):
        forecast_series(y, 3, config=[1, 2])
    with pytest.raises(ValueError, match="coverage must be in"):
        forecast_series(y, 3, coverage=1.5)
    with pytest.raises(ValueError, match="a 20-step forecast with washout=20 needs at least 150"):
        forecast_series(y[:60], 20, trials=2)


def test_a_tuned_forecaster_without_the_echo_state_property_is_announced(monkeypatch):
    import esnkit as ek
    from esnkit import forecasting

    monkeypatch.setitem(forecasting.SPACE, "spectral_radius", {"low": 1.2, "high": 1.3})
    monkeypatch.setitem(forecasting.SPACE, "leak_rate", {"low": 0.99, "high": 1.0})
    with pytest.warns(ek.EchoStatePropertyWarning, match=r"the tuned forecaster \(values, spectral_radius=1\.[23]"):
        tune_forecaster(_seasonal(200), 6, difference=0, trials=3, reservoir_size=30, ensemble=2)


def test_review_cases_fail_clearly_or_work():
    y = _seasonal(150)
    cfg = {"reservoir_size": 30, "ridge": 1e-4}
    with pytest.raises(ValueError, match="season"):
        forecast_series(y, 12, config={**cfg, "deseason": True}, season=200, ensemble=1)
    # tune_forecaster hands back an unfitted forecaster, whatever it fitted to choose a form
    f = tune_forecaster(_seasonal(260), 12, season=12, trials=3, reservoir_size=30, ensemble=2)
    with pytest.raises(ValueError, match="not fitted"):
        f.forecast(np.ones(30), 3)
    # a list of numbers is one history; string and timezone-aware dates are parsed
    g = SeriesForecaster(cfg, ensemble=2).fit(y)
    assert g.forecast([1.0, 2.0, 3.0], 2).shape == (2, 1)
    days = [str(d)[:10] for d in pd.date_range("2000-01-01", periods=150, freq="D")]
    fc = forecast_series(y, 5, config=cfg, ensemble=2, dates=days)
    assert str(fc.dates[0])[:10] == "2000-05-30"
    assert fc.params["seed"] == 0
    with pytest.raises(TypeError, match="columns must be a list"):
        forecast_series(y, 5, config=cfg, columns=3)


def test_seasonal_period_of_pandas_frequencies():
    from esnkit.tabular import seasonal_period

    cases = {"MS": 12, "ME": 12, "BME": 12, "QE-DEC": 4, "BQE-DEC": 4, "QS-OCT": 4, "W-SUN": 52, "D": 7, "B": 5,
             "h": 24, "YS-JAN": 1, "2D": 1, None: 1}
    assert {f: seasonal_period(f) for f in cases} == cases
