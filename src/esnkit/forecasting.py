"""The everyday forecasting job on one real series, in one call: tune, check, refit, forecast.

:func:`forecast_series` does what a careful analyst does by hand:

1. **split** the series: the last part (``validation``, at least a warm-up plus ``horizon`` plus a
   few origins) is held out; the rest trains;
2. **tune** the reservoir on that split with :func:`esnkit.search` (objective: the NRMSE of free runs
   of ``horizon`` steps from several points of the validation part), the data standardised by the
   model (``scale=True``) — or take a given configuration;
3. **backtest**: an ensemble of ``ensemble`` reservoirs (seeds ``seed, seed+1, ...``) with that
   configuration, fitted on the training part, forecasts ``horizon`` steps from every origin of the
   validation part; its errors by lead time are what the band is made of;
4. **refit** the ensemble on all the data and forecast ``horizon`` steps past the last observation,
   as the ensemble's mean;
5. **band**: at each lead time ``h``, the forecast plus the ``(1 - coverage) / 2`` and
   ``(1 + coverage) / 2`` quantiles of the backtest errors at that lead (an empirical interval from
   out-of-sample errors, not a model assumption; with few origins it is rough, and it assumes the
   future is as predictable as the validation part was).

The band is the backtest errors', not the spread of the ensemble's members: members that agree can
all be wrong together, which only out-of-sample errors show.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .models import ESN, Ensemble
from .params import is_int, is_real

# The search space of the workflow: wide ranges on standardised data, with the ridge solved exactly
# over its grid at every trial (see esnkit.search).
SPACE = {
    "spectral_radius": {"low": 0.1, "high": 0.99},
    "leak_rate": {"low": 0.05, "high": 1.0, "log": True},
    "input_scaling": {"low": 0.02, "high": 3.0, "log": True},
    "bias_scaling": {"low": 0.0, "high": 1.0},
}
RIDGES = {"low": 1e-8, "high": 1e2, "num": 21}
MIN_STEPS = 30
# Backtest origins at most (evenly spread), and the history each forecast warms up on at most: far
# more than a reservoir remembers, and it keeps a long series' backtest one short batched pass.
MAX_ORIGINS = 200
MAX_HISTORY = 2000


@dataclass
class Forecast:
    """What :func:`forecast_series` found. Arrays are ``(steps, D)`` in the data's units.

    ``values``, ``lower``, ``upper``: the forecast past the last observation and its band;
    ``dates``: their dates (None without dates); ``validation``: the training-only ensemble's free
    run from the start of the validation part (what the plot shows against the truth);
    ``backtest_errors`` ``(origins, horizon, D)``: truth minus forecast from every validation origin;
    ``backtest_nrmse``: the backtest's RMSE by lead time over the training part's standard deviation
    ``(horizon, D)``; ``params``: the ESN arguments used (ridge included), ``models``: the refitted
    ensemble; ``search``: the search's result (None with a given configuration).
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
    backtest_errors: np.ndarray
    backtest_nrmse: np.ndarray
    params: dict[str, Any]
    models: list[ESN] = field(repr=False)
    search: Any = field(default=None, repr=False)

    @property
    def horizon(self) -> int:
        return self.values.shape[0]

    def to_csv(self, path: str | os.PathLike) -> str:
        """Write the forecast: a ``date`` (or ``step``) column, then per series column ``name``,
        ``name_lower``, ``name_upper``. Returns the path."""
        path = os.fspath(path)
        first = "date" if self.dates is not None else "step"
        keys = self.dates.astype(str) if self.dates is not None else np.arange(len(self.history), len(
            self.history) + self.horizon).astype(str)
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

        return plot_forecast_band(self.history, self.split, self.validation, self.values, self.lower, self.upper,
                                  path, dates=self.history_dates, future_dates=self.dates, columns=self.columns,
                                  coverage=self.coverage, title=title)


def _as_series(series: Any) -> np.ndarray:
    if hasattr(series, "detach"):
        series = series.detach().cpu().numpy()
    try:
        a = np.asarray(series, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"series must be an array of numbers (time,) or (time, features), got "
                        f"{type(series).__name__}") from None
    if a.ndim == 1:
        a = a[:, None]
    if a.ndim != 2 or a.shape[1] == 0:
        raise ValueError(f"series must have shape (time,) or (time, features), got {a.shape}")
    if a.shape[0] < MIN_STEPS:
        raise ValueError(f"series has {a.shape[0]} steps; forecasting with a validation part needs at least "
                         f"{MIN_STEPS}")
    bad = np.argwhere(~np.isfinite(a))
    if bad.size:
        r, c = (int(i) for i in bad[0])
        raise ValueError(f"series holds {len(bad)} missing or non-finite value(s), the first at row {r}, column {c}: "
                         "impute or drop them first")
    return a


def _check(horizon, validation, ensemble, coverage, reservoir_size, washout, trials) -> None:
    if not is_int(horizon) or horizon < 1:
        raise ValueError(f"horizon must be a positive integer, got {horizon!r}")
    if not (is_real(validation) and 0 < validation < 1):
        raise ValueError(f"validation must be a fraction in (0, 1), got {validation!r}")
    if not is_int(ensemble) or ensemble < 1:
        raise ValueError(f"ensemble must be a positive integer, got {ensemble!r}")
    if not (is_real(coverage) and 0 < coverage < 1):
        raise ValueError(f"coverage must be in (0, 1), got {coverage!r}")
    if not is_int(reservoir_size) or reservoir_size < 1:
        raise ValueError(f"reservoir_size must be a positive integer, got {reservoir_size!r}")
    if washout is not None and (not is_int(washout) or washout < 0):
        raise ValueError(f"washout must be None or an integer ≥ 0, got {washout!r}")
    if not is_int(trials) or trials < 1:
        raise ValueError(f"trials must be a positive integer, got {trials!r}")


def _members(params: dict[str, Any], ensemble: int, seed: int) -> list[ESN]:
    return [ESN(**{**params, "seed": seed + k}) for k in range(ensemble)]


def _mean_forecast(models: list[ESN], histories: Any, horizon: int) -> np.ndarray:
    """The members' mean forecast; a member whose run diverges (non-finite) is left out, and when all
    do, the forecast is NaN (scored as such, not raised)."""
    runs = np.stack([np.asarray(m.forecast(histories, horizon, check_finite=False)) for m in models])
    ok = np.isfinite(runs).reshape(len(models), -1).all(axis=1)
    return runs[ok].mean(axis=0) if ok.any() else np.full(runs.shape[1:], np.nan)


def _differenced(y: np.ndarray, d: int) -> np.ndarray:
    return np.diff(y, n=d, axis=0) if d else y


def _integrated(last: np.ndarray, steps: np.ndarray, d: int) -> np.ndarray:
    """Forecasts of the differenced series ``steps`` (..., horizon, D) back as levels after the last
    observed values ``last`` (..., d, D): the inverse of ``d`` differences."""
    for k in range(d, 0, -1):
        # the k-th difference's forecast integrates onto the last value of the (k-1)-th difference
        base = np.diff(last, n=k - 1, axis=-2)[..., -1:, :]
        steps = base + np.cumsum(steps, axis=-2)
    return steps


@dataclass
class _Fitted:
    """One candidate transform (``d`` differences), tuned and backtested."""

    d: int
    params: dict[str, Any]
    search: Any
    errors: np.ndarray  # (origins, horizon, D)
    members: list[ESN]
    score: float = field(init=False)

    def __post_init__(self):
        self.score = float(np.sqrt(np.nanmean(self.errors ** 2))) if np.isfinite(self.errors).any() else math.inf


def _forecast_levels(models: list[ESN], y: np.ndarray, origins: Any, horizon: int, d: int) -> np.ndarray:
    """The ensemble's mean forecast of ``horizon`` levels after each origin ``o`` (from ``y[:o]``), for a
    model of the ``d``-times differenced series: ``(len(origins), horizon, D)``."""
    histories = [_differenced(y[max(0, o - MAX_HISTORY): o], d) for o in origins]
    steps = _mean_forecast(models, histories, horizon)
    last = np.stack([y[o - d: o] for o in origins]) if d else None
    return _integrated(last, steps, d) if d else steps


def _candidate(y, d, split, origins, horizon, config, reservoir_size, washout, warmup, starts, trials, ensemble, seed,
               progress, timeout) -> _Fitted:
    z = _differenced(y, d)
    split_z = split - d  # the same training rows of y, fewer of z
    result = None
    if config is None:
        from .tuning import search

        result = search(
            z, space=SPACE, fixed={"reservoir_size": reservoir_size, "washout": washout, "seed": seed, "scale": True},
            ridges=RIDGES, objective="free_run", horizon=horizon, starts=starts, warmup=warmup, split=split_z,
            n_trials=trials, seed=seed, progress=progress, timeout=timeout, storage=None)
        params = {**result.best_params, "ridge": result.best_ridge}
    else:
        params = {"scale": True, "washout": washout, **config}
    params = {k: v for k, v in params.items() if k != "seed"}
    members = _members(params, ensemble, seed)
    Ensemble(members).fit(z[:split_z], z[1:split_z + 1])
    truth = np.stack([y[o: o + horizon] for o in origins])
    errors = truth - _forecast_levels(members, y, origins, horizon, d)
    return _Fitted(d, params, result, errors, members)


def forecast_series(
    series: Any,
    horizon: int,
    *,
    dates: Any = None,
    future_dates: Any = None,
    columns: list[str] | None = None,
    config: dict[str, Any] | None = None,
    difference: int | str = "auto",
    validation: float = 0.2,
    trials: int = 60,
    reservoir_size: int = 200,
    washout: int | None = None,
    ensemble: int = 5,
    coverage: float = 0.8,
    seed: int = 0,
    progress: bool = False,
    timeout: float | None = None,
) -> Forecast:
    """Tune on a validation split, backtest, refit on all data and forecast ``horizon`` steps past
    the end of ``series`` (``(time,)`` or ``(time, features)``), with a band from the backtest's
    errors by lead time (see the module docstring for each step).

    ``difference``: model the series itself (0) or its first differences (1), whose forecasts are
    summed back onto the last value: a trending series leaves the range a reservoir was trained
    on, its differences do not. ``"auto"`` tunes both and keeps the one with the lower backtest
    error. ``dates`` (one per row) date the history and ``future_dates`` (``horizon`` of them) the
    forecast rows, for the CSV and the plot (by default continued from ``dates`` at their
    frequency). ``config``: ESN arguments to use instead of tuning (``ridge`` included; ``scale`` is
    on unless it says otherwise). ``reservoir_size`` and ``washout`` (default: a tenth of the
    series, at most 100) fix those of the search; ``trials`` is its budget per transform
    (``timeout`` seconds at most); ``ensemble`` reservoirs are averaged.
    """
    y = _as_series(series)
    _check(horizon, validation, ensemble, coverage, reservoir_size, washout, trials)
    if difference not in (0, 1, "auto") or isinstance(difference, bool):
        raise ValueError(f"difference must be 0, 1 or 'auto', got {difference!r}")
    T, D = y.shape
    if columns is None:
        columns = [str(j) for j in range(D)] if D > 1 else ["value"]
    if len(columns) != D:
        raise ValueError(f"columns names {len(columns)} column(s) but the series has {D}")
    washout = min(100, T // 10) if washout is None else washout
    warmup = max(washout, 1)
    starts = 10
    # the validation part holds a warm-up, the horizon and the origins after it
    n_val = max(int(round(validation * T)), warmup + horizon + starts)
    split = T - 1 - n_val  # index into the one-step targets y[1:]: the model trains on y[:split + 1]
    if split - washout - 1 < max(20, horizon):
        raise ValueError(f"series has {T} steps: too few for washout={washout}, horizon={horizon} and a validation "
                         f"part of {n_val} steps (a warm-up, the horizon and {starts} origins); use a shorter horizon "
                         "or washout, or a longer series")
    if dates is not None:
        dates = np.asarray(dates)
        if len(dates) != T:
            raise ValueError(f"dates has {len(dates)} values but the series has {T} rows")
    if future_dates is not None:
        future_dates = np.asarray(future_dates)
        if len(future_dates) != horizon:
            raise ValueError(f"future_dates has {len(future_dates)} values but horizon is {horizon}")
    if config is not None:
        if not isinstance(config, dict):
            raise TypeError(f"config must be a dict of ESN arguments, got {type(config).__name__}")
        ESN(**{k: v for k, v in config.items() if k != "seed"})  # a bad argument fails here, naming it

    origins = np.unique(np.linspace(split + 1 + warmup, T - horizon, min(MAX_ORIGINS, T - horizon - split - warmup))
                        .round().astype(int))
    candidates = [_candidate(y, d, split, origins, horizon, config, reservoir_size, washout, warmup, starts, trials,
                             ensemble, seed, progress, timeout)
                  for d in ((0, 1) if difference == "auto" else (difference,))]
    best = min(candidates, key=lambda c: c.score)
    errors = best.errors
    sd = y[: split + 1].std(axis=0)
    backtest_nrmse = np.sqrt(np.nanmean(errors ** 2, axis=0)) / np.where(sd > 0, sd, 1.0)
    validation_run = _forecast_levels(best.members, y, [split + 1], T - split - 1, best.d)[0]

    # refit on everything, forecast past the end
    models = _members(best.params, ensemble, seed)
    z = _differenced(y, best.d)
    Ensemble(models).fit(z[:-1], z[1:])
    values = _forecast_levels(models, y, [T], horizon, best.d)[0]
    q = np.nanquantile(errors, [(1 - coverage) / 2, (1 + coverage) / 2], axis=0)  # (2, horizon, D)
    lower, upper = values + q[0], values + q[1]
    if dates is not None and future_dates is None:
        future_dates = _future_dates(dates, horizon)
    return Forecast(values, lower, upper, future_dates, float(coverage), list(columns), y, dates, split + 1,
                    validation_run, errors, backtest_nrmse, {**best.params, "difference": best.d}, models,
                    best.search)


def _future_dates(dates: np.ndarray, n: int) -> np.ndarray | None:
    """``n`` dates after the last: by the calendar frequency pandas infers (monthly data step by
    months), else by a constant step; None when neither exists."""
    if not np.issubdtype(dates.dtype, np.datetime64) or len(dates) < 3:
        return None
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover - pandas comes with the search extra
        pd = None
    if pd is not None:
        index = pd.DatetimeIndex(dates)
        freq = pd.infer_freq(index)
        if freq is not None:
            return pd.date_range(index[-1], periods=n + 1, freq=freq)[1:].to_numpy()
    step = np.diff(dates)
    if not (step == step[0]).all():
        return None
    return dates[-1] + step[0] * np.arange(1, n + 1)
