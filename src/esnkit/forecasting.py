"""The everyday forecasting job on one real series: tune, check, refit, forecast, with a band.

:func:`forecast_series` does what a careful analyst does by hand:

1. **split** the series: the last part (``validation``, at least a warm-up plus ``horizon`` plus a
   few origins) is held out; the rest trains;
2. **tune** on the training part with :func:`tune_forecaster`: for each *form* of the series (its
   values or their first differences, each as it is or, with a ``season``, less its mean at each
   phase of the season), :func:`esnkit.search` picks the reservoir (size, spectral radius, leak,
   input and bias scaling, and the ridge exactly) by the error of free runs of ``horizon`` steps
   on validation windows at the end of the training part, the data standardised by the model
   (``scale=True``); the form kept is the one with the lowest error in a small rolling-origin
   backtest on the last quarter of the training part. Or take a given configuration;
3. **backtest**: the tuned :class:`SeriesForecaster` (an ensemble of ``ensemble`` reservoirs,
   seeds ``seed, seed+1, ...``), fitted on the training part, forecasts ``horizon`` steps from
   origins spread over the validation part; its errors by lead time make the band;
4. **refit** on all the data and forecast ``horizon`` steps past the last observation (the
   ensemble's mean);
5. **band**: at each lead time ``h``, the forecast plus the ``(1 - coverage) / 2`` and
   ``(1 + coverage) / 2`` quantiles of the backtest errors at that lead: an empirical interval
   from out-of-sample errors, not a model assumption. With few origins it is rough, and it assumes
   the future is as predictable as the validation part was.

The band is the backtest errors', not the spread of the ensemble's members: members that agree can
all be wrong together, which only out-of-sample errors show.

A differenced form is forecast as steps and summed back onto the last value: a trending series
leaves the range a reservoir was trained on, its differences do not. A deseasonalised form has
the training data's mean at each phase (the index modulo ``season``) removed and added back.
"""

from __future__ import annotations

import csv
import math
import os
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import tabular
from .errors import EsnkitWarning, NonFiniteStateError, NotFittedError, import_extra
from .models import ESN, Ensemble
from .models.output_policy import RANGE_FACTOR
from .params import DEFAULTS, is_int, is_real
from .reservoir import EchoStatePropertyWarning, seeded_effective_radius

# The search space of the workflow: wide ranges on standardised data, with the ridge solved exactly
# over its grid at every trial (see esnkit.search). The spectral radius may pass 1: on short noisy
# series the validation decides, and a recommended reservoir without the echo state property is
# announced (EchoStatePropertyWarning).
SPACE = {
    "spectral_radius": {"low": 0.05, "high": 1.3},
    "leak_rate": {"low": 0.05, "high": 1.0, "log": True},
    "input_scaling": {"low": 0.02, "high": 2.0, "log": True},
    "bias_scaling": {"low": 0.0, "high": 1.0},
}
RESERVOIR_SIZES = (50, 100, 200, 300)
RIDGES = {"low": 1e-10, "high": 1e2, "num": 25}
MIN_STEPS = 30
# Backtest origins at most (evenly spread), and the history each forecast warms up on at most: far
# more than a reservoir remembers, and it keeps a long series' backtest one short batched pass.
MAX_ORIGINS = 200
MAX_HISTORY = 2000
INNER_ORIGINS = 12  # the form-choosing backtest inside the training part


def _as_series(series: Any, name: str = "series") -> np.ndarray:
    if hasattr(series, "detach"):
        series = series.detach().cpu().numpy()
    try:
        a = np.asarray(series, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be an array of numbers (time,) or (time, features), got "
                        f"{type(series).__name__}") from None
    if a.ndim == 1:
        a = a[:, None]
    if a.ndim != 2 or a.shape[1] == 0:
        raise ValueError(f"{name} must have shape (time,) or (time, features), got {a.shape}")
    bad = np.argwhere(~np.isfinite(a))
    if bad.size:
        r, c = (int(i) for i in bad[0])
        raise ValueError(f"{name} holds {len(bad)} missing or non-finite value(s), the first at row {r}, column {c}: "
                         "impute or drop them first")
    return a


def _positive_int(v: Any, name: str) -> int:
    if not is_int(v) or v < 1:
        raise ValueError(f"{name} must be a positive integer, got {v!r}")
    return int(v)


class SeriesForecaster:
    """A forecasting recipe for one series: a form of the series and an ensemble of ESNs on it.

    ``params``: the ESN arguments (``scale=True`` unless they say otherwise); ``difference``: 0
    (model the values) or 1 (model the steps ``y[t+1] - y[t]``, summed back); ``season`` > 1 with
    ``deseason=True``: the fitted series' mean at each phase ``t mod season`` is removed before and
    added back after; ``ensemble`` reservoirs (seeds ``seed, seed+1, ...``) are averaged.

    ``fit(series)`` fits every member on the whole series (one pass for all of them);
    ``forecast(history, horizon)`` warms the members up on ``history`` and returns the mean of their
    free runs, ``(horizon, D)`` (``(n, horizon, D)`` for a list of histories). A history is taken to
    start at index ``start`` of the fitted series' time axis (default 0: the history begins where
    the fitted series began), which places its seasonal phases: pass ``start`` for a history that
    begins elsewhere (its last 100 steps, say), or the seasonal means are added at the wrong phases.
    """

    def __init__(self, params: dict[str, Any], *, difference: int = 0, season: int = 1, deseason: bool = False,
                 ensemble: int = 10, seed: int = 0) -> None:
        if not isinstance(params, dict):
            raise TypeError(f"params must be a dict of ESN arguments, got {type(params).__name__}")
        if difference not in (0, 1) or isinstance(difference, bool):
            raise ValueError(f"difference must be 0 or 1, got {difference!r}")
        if not isinstance(deseason, bool):
            raise TypeError(f"deseason must be True or False, got {deseason!r}")
        self.params = {"scale": True, **{k: v for k, v in params.items() if k != "seed"}}
        ESN(**self.params)  # a bad argument fails here, naming it
        self.difference = difference
        self.season = _positive_int(season, "season")
        self.deseason = deseason and self.season > 1
        self.ensemble = _positive_int(ensemble, "ensemble")
        if not is_int(seed) or seed < 0:
            raise ValueError(f"seed must be an integer ≥ 0, got {seed!r}")
        self.seed = int(seed)
        self.members_: list[ESN] | None = None
        self.profile_: np.ndarray | None = None

    @property
    def form(self) -> str:
        return ("differences" if self.difference else "values") + (" less seasonal means" if self.deseason else "")

    def _phase(self, start: int, n: int) -> np.ndarray:
        return (start + self.difference + np.arange(n)) % self.season

    def _transformed(self, y: np.ndarray, start: int = 0) -> np.ndarray:
        z = np.diff(y, axis=0) if self.difference else y
        return z - self.profile_[self._phase(start, len(z))] if self.deseason else z

    def _prepared(self, y: np.ndarray) -> np.ndarray:
        """``y`` in the form the reservoirs model, with the seasonal profile taken from it."""
        z = np.diff(y, axis=0) if self.difference else y
        if self.deseason:
            phase = self._phase(0, len(z))
            self.profile_ = np.stack([z[phase == k].mean(axis=0) if (phase == k).any() else np.zeros(z.shape[1])
                                      for k in range(self.season)])
        else:
            self.profile_ = np.zeros((1, z.shape[1]))
        return self._transformed(y)

    def fit(self, series: Any) -> SeriesForecaster:
        """Fit the ensemble on ``series`` ``(time,)`` or ``(time, D)``. Returns ``self``."""
        y = _as_series(series)
        washout = self.params.get("washout", 0)
        if len(y) - self.difference <= washout + 1:
            raise ValueError(f"series has {len(y)} steps: too few for washout={washout}")
        if self.deseason and len(y) - self.difference < 2 * self.season:
            raise ValueError(f"series has {len(y)} steps: removing seasonal means needs two full seasons of "
                             f"{self.season} at least; use deseason=False or a shorter season")
        x = self._prepared(y)
        members = [ESN(**{**self.params, "seed": self.seed + k}) for k in range(self.ensemble)]
        with warnings.catch_warnings():
            # said once by tune_forecaster for the configuration it recommends, not at every refit
            warnings.simplefilter("ignore", EchoStatePropertyWarning)
            Ensemble(members).fit(x[:-1], x[1:])
        self.members_ = members
        return self

    def forecast(self, history: Any, horizon: int, *, start: Any = 0) -> np.ndarray:
        """The ensemble's mean forecast of the ``horizon`` values after ``history`` (a series, or a
        list of them starting at the indices ``start``); a member whose free run diverges (not
        finite, or more than ``RANGE_FACTOR`` half-ranges of its training data from their centre) is
        left out, and when all do the forecast is NaN."""
        if self.members_ is None:
            raise NotFittedError("this SeriesForecaster is not fitted yet: call fit(series) first")
        horizon = _positive_int(horizon, "horizon")
        # a list of series is several histories; a list of numbers, one
        one = not isinstance(history, (list, tuple)) or all(is_real(v) for v in history)
        ys = [_as_series(history, "history")] if one else [_as_series(h, f"history[{i}]")
                                                            for i, h in enumerate(history)]
        starts = [start] * len(ys) if is_int(start) else start
        if not isinstance(starts, (list, tuple, np.ndarray)) or len(starts) != len(ys) or not all(
                is_int(s) and s >= 0 for s in starts):
            raise ValueError(f"start must be an integer ≥ 0 (or one per history): the index of the history's first "
                             f"step on the fitted series' time axis, got {start!r}")
        need = self.difference + 1
        short = [i for i, y in enumerate(ys) if len(y) < need + 1]
        if short:
            raise ValueError(f"history{'' if one else f'[{short[0]}]'} has {len(ys[short[0]])} step(s); a forecast "
                             f"needs at least {need + 1}")
        xs = [self._transformed(y, s) for y, s in zip(ys, starts)]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a diverging member is left out below
            runs = np.stack([np.asarray(m.forecast(xs, horizon, check_finite=False)) for m in self.members_])
        # a run that is not finite, or leaves the range of what its member was trained on by the output
        # policy's factor, is diverging: left out of the mean
        lo, hi = np.stack([m.target_range_.cpu().numpy() for m in self.members_], axis=1)  # (members, D) each
        centre, half = (hi + lo) / 2, np.maximum((hi - lo) / 2, 1e-12)
        with np.errstate(invalid="ignore"):
            far = np.abs(runs - centre[:, None, None]) > RANGE_FACTOR * half[:, None, None]
        finite = (np.isfinite(runs) & ~far).all(axis=(2, 3))  # (members, histories)
        runs = np.where(finite[..., None, None], runs, 0.0)
        count = finite.sum(axis=0)
        steps = np.where(count[:, None, None] > 0, runs.sum(axis=0) / np.maximum(count, 1)[:, None, None], np.nan)
        out = []
        for b, (y, s) in enumerate(zip(ys, starts)):
            f = steps[b]
            if self.deseason:
                f = f + self.profile_[self._phase(s + len(y) - self.difference, horizon)]
            out.append(y[-1] + np.cumsum(f, axis=0) if self.difference else f)
        return out[0] if one else np.stack(out)


def _origins(lo: int, hi: int, count: int) -> np.ndarray:
    """Up to ``count`` origins spread evenly over ``lo..hi`` (inclusive)."""
    if hi < lo:
        return np.zeros(0, dtype=int)
    return np.unique(np.linspace(lo, hi, min(count, hi - lo + 1)).round().astype(int))


def _backtest(forecaster: SeriesForecaster, y: np.ndarray, fit_until: int, origins: np.ndarray,
              horizon: int) -> tuple[np.ndarray, np.ndarray]:
    """The truth and the forecasts ``(origins, horizon, D)`` of ``forecaster`` fitted on
    ``y[:fit_until]``, forecasting from each origin ``o`` (history ``y[:o]``, at most the last
    :data:`MAX_HISTORY` steps)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EsnkitWarning)  # the final fit on all the data says it once
        forecaster.fit(y[:fit_until])
    lo = [max(0, o - MAX_HISTORY) for o in origins]
    pred = forecaster.forecast([y[a:o] for a, o in zip(lo, origins)], horizon, start=lo)
    return np.stack([y[o: o + horizon] for o in origins]), pred


def tune_forecaster(
    series: Any,
    horizon: int,
    *,
    season: int = 1,
    difference: int | str = "auto",
    deseason: bool | str = "auto",
    reservoir_size: int | None = None,
    washout: int = 20,
    trials: int = 60,
    ensemble: int = 10,
    seed: int = 0,
    progress: bool = False,
    timeout: float | None = None,
) -> SeriesForecaster:
    """Tune a :class:`SeriesForecaster` on ``series`` for forecasts of up to ``horizon`` steps.

    Each form (``difference`` 0/1 and ``deseason`` False/True; ``"auto"`` tries both, and
    deseasonalising needs ``season`` > 1) is searched with :func:`esnkit.search` (``trials`` trials,
    objective: the NRMSE of free runs of ``horizon`` steps from 10 points of a validation part at
    the end of ``series``; ``reservoir_size`` None searches it among :data:`RESERVOIR_SIZES`). The
    form kept is the one with the lowest mean absolute scaled error at the lead times one, one season
    and ``horizon`` in a rolling-origin backtest on the last quarter of ``series``, refitted at each
    origin. Returns the forecaster, unfitted.
    """
    from .tuning import search

    y = _as_series(series)
    horizon = _positive_int(horizon, "horizon")
    season = _positive_int(season, "season")
    trials = _positive_int(trials, "trials")
    if difference not in (0, 1, "auto") or isinstance(difference, bool):
        raise ValueError(f"difference must be 0, 1 or 'auto', got {difference!r}")
    if deseason not in (False, True, "auto"):
        raise ValueError(f"deseason must be True, False or 'auto', got {deseason!r}")
    if reservoir_size is not None:
        _positive_int(reservoir_size, "reservoir_size")
    if not is_int(washout) or washout < 0:
        raise ValueError(f"washout must be an integer ≥ 0, got {washout!r}")
    T = len(y)
    warmup, starts = max(washout, 10), 10
    n_val = warmup + horizon + 2 * starts
    if T - n_val - washout < 20:
        raise ValueError(f"series has {T} steps: too few to tune forecasts of horizon={horizon} (a validation part of "
                         f"{n_val} steps, washout={washout} and 20 training rows at least)")
    validation = min(0.5, max(0.2, n_val / T))
    seasonal = season > 1 and T - 1 >= 2 * season  # two full seasons to take means over
    if deseason is True and not seasonal:
        raise ValueError(f"deseason=True needs a season > 1 and two full seasons of data: series has {T} steps, "
                         f"season={season}")
    forms = [(d, s) for d in ((0, 1) if difference == "auto" else (difference,))
             for s in (((False, True) if deseason == "auto" else (deseason,)) if seasonal else (False,))]
    inner = _origins(max(int(T * 0.75), season + 2), T - horizon, INNER_ORIGINS)
    if len(forms) > 1 and len(inner) == 0:
        raise ValueError(f"series has {T} steps: too few to compare the forms of the series by a backtest of "
                         f"horizon={horizon} on its last quarter; fix difference= and deseason=, or shorten the "
                         "horizon")
    fixed = {"washout": washout, "seed": seed, "scale": True}
    space = dict(SPACE)
    if reservoir_size is None:
        space["reservoir_size"] = {"choices": list(RESERVOIR_SIZES)}
    else:
        fixed["reservoir_size"] = reservoir_size
    best, best_score = None, math.inf
    for d, s in forms:
        # the search sees the series in the form the forecaster will fit
        z = SeriesForecaster({"washout": washout}, difference=d, season=season, deseason=s)._prepared(y)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")  # kept, and repeated below for the form chosen only
            r = search(z, space=space, fixed=fixed, ridges=RIDGES, objective="free_run", horizon=horizon,
                       warmup=warmup, starts=starts, validation=validation, n_trials=trials, seed=seed,
                       progress=progress, timeout=timeout, storage=None, refit=False)
        params = {**fixed, **r.best_params, "ridge": r.best_ridge}
        candidate = SeriesForecaster(params, difference=d, season=season, deseason=s, ensemble=ensemble, seed=seed)
        candidate.search_ = r
        candidate.warnings_ = [w for w in caught if issubclass(w.category, EsnkitWarning)]
        if len(forms) == 1:
            return _announced(candidate)
        score = _inner_score(candidate, y, inner, horizon, season) if len(inner) else 0.0
        candidate.inner_score_ = score
        if best is None or score < best_score:
            best, best_score = candidate, score
    return _announced(best)


def _inner_score(forecaster: SeriesForecaster, y: np.ndarray, origins: np.ndarray, horizon: int, season: int) -> float:
    """How well ``forecaster`` does, refitted on ``y[:o]`` at each origin: its mean absolute error at
    the lead times one, one season and ``horizon``, each over the training part's seasonal-naive
    in-sample error (MASE), averaged. Refitting per origin is how the forecaster will be used; the
    three leads weigh the near term as much as the horizon."""
    leads = sorted({1, min(season, horizon), horizon})
    scale = np.abs(y[season:origins[0]] - y[:origins[0] - season]).mean(axis=0) if origins[0] > season else 1.0
    scale = np.where(np.asarray(scale) > 0, scale, 1.0)
    errors = []
    for o in origins:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", EsnkitWarning)  # the final fit on all the data says it once
            forecaster.fit(y[:o])
        pred = forecaster.forecast(y[max(0, o - MAX_HISTORY):o], horizon, start=max(0, o - MAX_HISTORY))
        errors.append([np.abs(y[o + h - 1] - pred[h - 1]) / scale for h in leads])
    return float(np.nanmean(errors)) if np.isfinite(errors).any() else math.inf


def _announced(forecaster: SeriesForecaster) -> SeriesForecaster:
    """Repeat the warnings of the chosen form's search (a best value at the edge of its range...), and
    say so when its reservoirs lack the echo state property. Returns it unfitted."""
    forecaster.members_ = forecaster.profile_ = None
    for w in dict((str(w.message), w) for w in forecaster.warnings_).values():
        warnings.warn(f"{forecaster.form}: {w.message}", w.category, stacklevel=3)
    p = {**DEFAULTS, **forecaster.params}
    radii = [seeded_effective_radius(p["reservoir_size"], p.get("connectivity"), p.get("in_degree"),
                                     forecaster.seed + k, p["spectral_radius"], p.get("leak_rate", 1.0))
             for k in range(forecaster.ensemble)] if is_real(p.get("leak_rate", 1.0)) else []
    radii = [r for r in radii if r is not None]
    if radii and max(radii) >= 1:
        warnings.warn(f"the tuned forecaster ({forecaster.form}, spectral_radius={p['spectral_radius']:.3g}, "
                      f"leak_rate={p.get('leak_rate', 1.0):.3g}) has reservoirs of effective spectral radius up to "
                      f"{max(radii):.4g} ≥ 1, without the echo state property: their states may depend on where they "
                      "started. It forecast best on the validation part; the backtest band says how far to trust it",
                      EchoStatePropertyWarning, stacklevel=3)
    return forecaster


@dataclass
class Forecast:
    """What :func:`forecast_series` found. Arrays are ``(steps, D)`` in the data's units.

    ``values``, ``lower``, ``upper``: the forecast past the last observation and its band;
    ``dates``: their dates (None without dates); ``validation``: the training-only forecaster's free
    run over the validation part (what the plot shows against the truth); ``backtest_truth`` and
    ``backtest_forecasts`` ``(origins, horizon, D)``: what followed each validation origin and what
    was forecast from it (``backtest_errors``: their difference); ``backtest_nrmse``:
    the backtest's RMSE by lead time over the training part's standard deviation ``(horizon, D)``;
    ``forecaster``: the :class:`SeriesForecaster`, refitted on all the data.
    """

    values: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    dates: np.ndarray | None
    coverage: float
    columns: list[str]
    history: np.ndarray
    history_dates: np.ndarray | None
    split: int
    validation: np.ndarray
    backtest_truth: np.ndarray
    backtest_forecasts: np.ndarray
    backtest_nrmse: np.ndarray
    forecaster: SeriesForecaster = field(repr=False)

    @property
    def horizon(self) -> int:
        return self.values.shape[0]

    @property
    def backtest_errors(self) -> np.ndarray:
        """Truth minus forecast, ``(origins, horizon, D)``."""
        return self.backtest_truth - self.backtest_forecasts

    @property
    def params(self) -> dict[str, Any]:
        """The configuration: the ESN arguments plus the form (``difference``, ``season``, ``deseason``),
        the ensemble's size and its first seed: ``forecast_series(..., config=params)`` repeats it."""
        f = self.forecaster
        return {**f.params, "difference": f.difference, "season": f.season, "deseason": f.deseason,
                "ensemble": f.ensemble, "seed": f.seed}

    def to_csv(self, path: str | os.PathLike) -> str:
        """Write the forecast: a ``date`` (or ``step``) column, then per series column ``name``,
        ``name_lower``, ``name_upper``. Returns the path."""
        path = os.fspath(path)
        T = len(self.history)
        first = "date" if self.dates is not None else "step"
        keys = _date_strings(self.dates) if self.dates is not None else np.arange(T, T + self.horizon).astype(str)
        with open(path, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow([first] + [f"{c}{s}" for c in self.columns for s in ("", "_lower", "_upper")])
            for i, key in enumerate(keys):
                row = [key]
                for j in range(len(self.columns)):
                    row += [repr(float(v)) for v in (self.values[i, j], self.lower[i, j], self.upper[i, j])]
                w.writerow(row)
        return path

    def plot(self, path: str | os.PathLike, *, title: str = "") -> str:
        """A PNG per series column: the history, the validation forecast against it, the future
        forecast and its band."""
        from .plotting import plot_forecast_band

        dated = self.history_dates is not None and self.dates is not None  # else both count steps
        return plot_forecast_band(self.history, self.split, self.validation, self.values, self.lower, self.upper,
                                  path, dates=self.history_dates if dated else None,
                                  future_dates=self.dates if dated else None, columns=self.columns,
                                  coverage=self.coverage, title=title)


def _date_strings(dates: np.ndarray) -> list[str]:
    """Dates written one way in a column: days alone when every date is at midnight, else date and
    time to the second ("2024-03-01 01:00:00"), as spreadsheets and pandas read them back."""
    days = dates.astype("datetime64[D]")
    if (dates == days).all():
        return [str(d) for d in days]
    return [str(d).replace("T", " ") for d in dates.astype("datetime64[s]")]


def _dates(dates: Any, n: int, name: str) -> np.ndarray | None:
    """``dates`` as datetime64 (strings and timezone-aware dates parsed by pandas; a timezone is
    converted to UTC and dropped), checked to hold ``n`` values."""
    if dates is None:
        return None
    a = np.asarray(dates)
    if len(a) != n:
        what = "the series has" if name == "dates" else "horizon is"
        n_text = f"{n} rows" if name == "dates" else str(n)
        raise ValueError(f"{name} has {len(a)} values but {what} {n_text}")
    if np.issubdtype(a.dtype, np.datetime64):
        return a
    pd = import_extra("pandas", "search", f"reading {name}")
    try:
        index = pd.DatetimeIndex(pd.to_datetime(list(a), utc=any(getattr(d, "tzinfo", None) for d in a)))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be dates (datetime64, datetime or date strings): {exc}") from None
    if index.tz is not None:
        index = index.tz_convert("UTC").tz_localize(None)
    return index.to_numpy()


def forecast_series(
    series: Any,
    horizon: int,
    *,
    season: int = 1,
    dates: Any = None,
    future_dates: Any = None,
    columns: list[str] | None = None,
    config: dict[str, Any] | None = None,
    validation: float = 0.2,
    trials: int = 60,
    reservoir_size: int | None = None,
    washout: int = 20,
    ensemble: int = 10,
    coverage: float = 0.8,
    seed: int = 0,
    progress: bool = False,
    timeout: float | None = None,
) -> Forecast:
    """Tune on a validation split, backtest, refit on all data and forecast ``horizon`` steps past
    the end of ``series`` (``(time,)`` or ``(time, features)``), with a band from the backtest's
    errors by lead time (see the module docstring for each step).

    ``season``: the period of the series' seasonality in steps (12 for monthly data), 1 for none.
    ``dates`` (one per row) date the history and ``future_dates`` (``horizon`` of them) the forecast
    rows, for the CSV and the plot (by default continued from ``dates`` at their frequency).
    ``config``: a configuration to use instead of tuning, as :attr:`Forecast.params` gives it (ESN
    arguments, ``ridge`` included, plus optional ``difference``, ``deseason``, ``ensemble``).
    ``reservoir_size`` (default: searched), ``washout`` and ``trials`` (per form, at most
    ``timeout`` seconds) go to :func:`tune_forecaster`.
    """
    y = _as_series(series)
    horizon = _positive_int(horizon, "horizon")
    season = _positive_int(season, "season")
    if not (is_real(validation) and 0 < validation < 1):
        raise ValueError(f"validation must be a fraction in (0, 1), got {validation!r}")
    if not (is_real(coverage) and 0 < coverage < 1):
        raise ValueError(f"coverage must be in (0, 1), got {coverage!r}")
    T, D = y.shape
    if T < MIN_STEPS:
        raise ValueError(f"series has {T} steps; forecasting with a validation part needs at least {MIN_STEPS}")
    if columns is None:
        columns = [str(j) for j in range(D)] if D > 1 else ["value"]
    if not isinstance(columns, (list, tuple)) or not all(isinstance(c, str) for c in columns):
        raise TypeError(f"columns must be a list of column names (str), got {columns!r}")
    if len(columns) != D:
        raise ValueError(f"columns names {len(columns)} column(s) but the series has {D}")
    if not is_int(washout) or washout < 0:
        raise ValueError(f"washout must be an integer ≥ 0, got {washout!r}")
    warmup, starts = max(washout, 10), 10
    n_val = max(int(round(validation * T)), warmup + horizon + starts)
    split = T - n_val  # the forecaster is tuned and fitted on y[:split]
    need = washout + max(20, 2 * horizon)  # rows to fit on
    if config is None:  # and to tune on: tune_forecaster's own validation part and training rows
        need = max(need, washout + max(washout, 10) + horizon + 40)
    if season > T // 2:
        raise ValueError(f"season={season} is longer than half the series ({T} rows): give the period of the "
                         "series' seasonality in rows, or 1 for none")
    if split < need:
        lower = "validation, " if n_val == int(round(validation * T)) else ""
        raise ValueError(f"series has {T} rows; a {horizon}-step forecast with washout={washout} needs at least "
                         f"{n_val + need}: {n_val} to validate on (a warm-up of {warmup}, the horizon and "
                         f"{starts} origins) and {need} to {'tune and ' if config is None else ''}fit on; lower "
                         f"{lower}washout or the horizon, or give a longer series")
    dates = _dates(dates, T, "dates")
    future_dates = _dates(future_dates, horizon, "future_dates")

    if config is None:
        forecaster = tune_forecaster(y[:split], horizon, season=season, reservoir_size=reservoir_size,
                                     washout=washout, trials=trials, ensemble=ensemble, seed=seed, progress=progress,
                                     timeout=timeout)
    else:
        if not isinstance(config, dict):
            raise TypeError(f"config must be a dict of ESN arguments, got {type(config).__name__}")
        cfg = dict(config)
        form = {k: cfg.pop(k) for k in ("difference", "deseason", "ensemble", "season", "seed") if k in cfg}
        forecaster = SeriesForecaster({"washout": washout, **cfg}, difference=form.get("difference", 0),
                                      season=form.get("season", season), deseason=form.get("deseason", False),
                                      ensemble=form.get("ensemble", ensemble), seed=form.get("seed", seed))
    origins = _origins(split + warmup, T - horizon, MAX_ORIGINS)
    bar = None
    if progress:  # the steps after the search: a long series makes each take seconds
        tqdm = import_extra("tqdm.auto", "search", "the forecast's progress bar (progress=True)").tqdm
        bar = tqdm(total=3, unit="step", desc="esnkit forecast", postfix="backtest", leave=False)
    truth, pred = _backtest(forecaster, y, split, origins, horizon)
    errors = truth - pred
    sd = y[:split].std(axis=0)
    backtest_nrmse = np.sqrt(np.nanmean(errors ** 2, axis=0)) / np.where(sd > 0, sd, 1.0)
    lo = max(0, split - MAX_HISTORY)
    validation_run = forecaster.forecast(y[lo:split], T - split, start=lo)
    if bar is not None:
        bar.update()
        bar.set_postfix_str("refit on all rows")
    forecaster.fit(y)
    if bar is not None:
        bar.update()
        bar.set_postfix_str("forecast")
    lo = max(0, T - MAX_HISTORY)
    values = forecaster.forecast(y[lo:], horizon, start=lo)
    if not np.isfinite(values).all():
        raise NonFiniteStateError(
            f"every reservoir's free run diverged (left the range of the data it was fitted on) within "
            f"{horizon} steps: this configuration does not forecast this series; tune it on these data (no "
            "config), or use a shorter horizon")
    q = np.nanquantile(errors, [(1 - coverage) / 2, (1 + coverage) / 2], axis=0)  # (2, horizon, D)
    lower, upper = values + q[0], values + q[1]
    if bar is not None:
        bar.update()
        bar.close()
    if dates is not None and future_dates is None:
        future_dates = tabular.future_dates(dates, horizon)
    return Forecast(values, lower, upper, future_dates, float(coverage), list(columns), y, dates, split,
                    validation_run, truth, pred, backtest_nrmse, forecaster)
