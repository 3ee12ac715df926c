"""Forecasting real series: esnkit's tuned ESN forecaster against statsmodels baselines, by a
rolling-origin backtest, on series that ship inside installed packages (nothing is downloaded).

    python benchmarks/real_data.py            # every series, every origin: about 4 minutes on one core
    python benchmarks/real_data.py --quick    # 3 origins, few trials, sunspots only: a smoke test (written to /tmp)
    python benchmarks/real_data.py --series sunspots co2

Series (statsmodels.datasets): annual sunspot numbers (season 11), Mauna Loa CO2 (weekly, made
monthly; season 12), El Niño sea temperatures (monthly; season 12) and US unemployment (quarterly;
season 4). The last 20 % of each series is held out; at every origin o in it (or ``--origins N``
evenly spaced ones) every method sees y[:o] only, forecasts up to the largest lead time and is scored at
the lead times {1, 12, season} by MASE (scaled by the seasonal-naive in-sample error of y[:o]) and
sMAPE (esnkit.metrics), averaged over origins. Methods:

1. seasonal naive (plain naive for season 1);
2. statsmodels AutoReg, lags chosen by ``ar_select_order`` (AIC), seasonal dummies for calendar seasons;
3. statsmodels ETSModel, additive error, trend none/additive/damped and seasonal none/additive, lowest AIC;
4. statsmodels ARIMA, (p, d, q) x (P, D, Q)_m over a small grid, lowest AIC;
5. esnkit: ``esnkit_forecaster`` below, the library's ``esnkit.tune_forecaster`` (forms of the series searched by
   their free-run error, an ensemble of reservoirs).

Orders, model forms and esnkit's hyper-parameters are chosen once per series, on the first
origin's training window; the parameters (the ESN readouts) are refitted at every origin.
Times are process CPU time, one thread. Writes benchmarks/results/real_data.md and .json after
each series and a plot per series under benchmarks/results/real_data/.
"""

from __future__ import annotations

import os

if __name__ == "__main__":  # one thread, set before NumPy and torch start theirs (not when a test imports this)
    os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import datetime  # noqa: E402
import itertools  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from collections.abc import Callable  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, os.path.dirname(__file__))
import _report  # noqa: E402

import esnkit as ek  # noqa: E402
from esnkit import metrics  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
Forecaster = Callable[[np.ndarray, int], np.ndarray]


# ---------------------------------------------------------------------------------------------
# The series


@dataclass
class Series:
    name: str
    values: np.ndarray  # (T,) float64
    season: int
    calendar: bool  # whether the season is a calendar one (months, quarters), so seasonal dummies make sense
    time: np.ndarray  # x axis for the plots (decimal years)
    source: str
    preprocessing: str


def _sunspots() -> Series:
    import statsmodels.api as sm

    d = sm.datasets.sunspots.load_pandas().data
    return Series("sunspots", d["SUNACTIVITY"].to_numpy(float), 11, False, d["YEAR"].to_numpy(float),
                  "statsmodels.datasets.sunspots: yearly mean sunspot numbers 1700-2008 (SUNACTIVITY)", "none")


def _co2() -> Series:
    import statsmodels.api as sm

    d = sm.datasets.co2.load_pandas().data["co2"]
    monthly = d.resample("MS").mean()
    missing = int(monthly.isna().sum())
    monthly = monthly.interpolate("linear")
    t = monthly.index.year + (monthly.index.month - 1) / 12
    return Series("co2", monthly.to_numpy(float), 12, True, np.asarray(t, float),
                  "statsmodels.datasets.co2: weekly atmospheric CO2 at Mauna Loa, 1958-2001 (ppm)",
                  f"weekly values averaged per calendar month (resample('MS').mean()); {missing} month(s) with no "
                  "weekly value filled by linear interpolation")


def _elnino() -> Series:
    import statsmodels.api as sm

    d = sm.datasets.elnino.load_pandas().data
    months = d.columns[1:]
    values = d[months].to_numpy(float).reshape(-1)
    t = (d["YEAR"].to_numpy(float)[:, None] + np.arange(12)[None, :] / 12).reshape(-1)
    return Series("elnino", values, 12, True, t,
                  "statsmodels.datasets.elnino: monthly sea surface temperatures (El Niño region), 1950-2010 (°C)",
                  "the year x month table read row by row into one monthly series")


def _unemp() -> Series:
    import statsmodels.api as sm

    d = sm.datasets.macrodata.load_pandas().data
    t = d["year"].to_numpy(float) + (d["quarter"].to_numpy(float) - 1) / 4
    return Series("unemp", d["unemp"].to_numpy(float), 4, True, t,
                  "statsmodels.datasets.macrodata: US unemployment rate, quarterly 1959Q1-2009Q3 (%)", "none")


SERIES: dict[str, Callable[[], Series]] = {"sunspots": _sunspots, "co2": _co2, "elnino": _elnino, "unemp": _unemp}


# ---------------------------------------------------------------------------------------------
# The protocol


def lead_times(season: int) -> list[int]:
    """The lead times scored: 1, 12 and one season ahead (each once)."""
    return sorted({1, 12, season})


def origins(n: int, count: int | None, max_lead: int, holdout: float = 0.2) -> list[int]:
    """The forecast origins in the last ``holdout`` of a series of ``n`` values: every one (``count``
    None), or ``count`` evenly spaced; the last one leaves ``max_lead`` values after it, so every
    lead time is scored at every origin."""
    first, last = n - int(np.ceil(holdout * n)), n - max_lead
    if last < first:
        raise ValueError(f"a series of {n} values holds out {n - first}, fewer than the largest lead time {max_lead}")
    if count is None:
        return list(range(first, last + 1))
    return sorted({int(o) for o in np.linspace(first, last, count).round()})


@dataclass
class Backtest:
    """One method's scores on one series: per lead time, the MASE and sMAPE at each origin."""

    mase: dict[int, list[float]] = field(default_factory=dict)
    smape: dict[int, list[float]] = field(default_factory=dict)
    tune_cpu_s: float = 0.0  # choosing orders / hyper-parameters, once
    fit_cpu_s: list[float] = field(default_factory=list)  # refit + forecast, per origin
    last_forecast: np.ndarray | None = None
    detail: str = ""

    def summary(self) -> dict:
        return {"mase": {h: float(np.mean(v)) for h, v in self.mase.items()},
                "smape": {h: float(np.mean(v)) for h, v in self.smape.items()},
                "tune_cpu_s": self.tune_cpu_s, "fit_cpu_s_total": float(np.sum(self.fit_cpu_s)),
                "cpu_s_total": self.tune_cpu_s + float(np.sum(self.fit_cpu_s)),
                "cpu_s_per_origin": (self.tune_cpu_s + float(np.sum(self.fit_cpu_s))) / max(len(self.fit_cpu_s), 1),
                "detail": self.detail}


def backtest(y: np.ndarray, season: int, make: Callable[..., Forecaster], at: list[int], leads: list[int],
             seed: int = 0) -> Backtest:
    """Run one method over the origins ``at``: ``make(y[:at[0]], season, seed)`` chooses its form
    once (timed as tuning); the forecaster it returns is called with ``y[:o]`` at every origin
    (timed as fitting). A forecast that is not finite at a lead time scores an infinite MASE and
    sMAPE there (never a crash)."""
    out = Backtest()
    c0 = time.process_time()
    forecaster = make(y[: at[0]], season, seed)
    out.tune_cpu_s = time.process_time() - c0
    out.detail = getattr(forecaster, "detail", "")
    H = max(leads)
    for o in at:
        c0 = time.process_time()
        pred = np.asarray(forecaster(y[:o], H), dtype=np.float64).reshape(-1)
        out.fit_cpu_s.append(time.process_time() - c0)
        if pred.shape != (H,):
            raise RuntimeError(f"a forecaster returned shape {pred.shape} for horizon {H}")
        for h in leads:
            truth, guess = y[o + h - 1: o + h], pred[h - 1: h]
            if np.isfinite(guess).all():
                m = metrics.mase(truth, guess, insample=y[:o], season=season)
                s = metrics.smape(truth, guess)
            else:
                m = s = float("inf")
            out.mase.setdefault(h, []).append(m)
            out.smape.setdefault(h, []).append(s)
        out.last_forecast = pred
    return out


# ---------------------------------------------------------------------------------------------
# The methods: make(train, season, seed) -> forecaster(history, horizon) -> (horizon,) array


def seasonal_naive(train: np.ndarray, season: int, seed: int) -> Forecaster:
    def forecast(history: np.ndarray, horizon: int) -> np.ndarray:
        last = history[-season:]
        return np.array([last[h % season] for h in range(horizon)], dtype=np.float64)

    forecast.detail = f"y[t + h] = y[t + h - {season}k]" if season > 1 else "y[t + h] = y[t]"
    return forecast


def autoreg(train: np.ndarray, season: int, seed: int, calendar: bool = True) -> Forecaster:
    from statsmodels.tsa.ar_model import AutoReg, ar_select_order

    dummies = season > 1 and calendar
    maxlag = int(min(max(2 * season, 8), len(train) // 5))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sel = ar_select_order(train, maxlag=maxlag, ic="aic", trend="c", seasonal=dummies,
                              period=season if dummies else None)
    lags = sel.ar_lags or 0

    def forecast(history: np.ndarray, horizon: int) -> np.ndarray:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = AutoReg(history, lags=lags, trend="c", seasonal=dummies, period=season if dummies else None).fit()
            return np.asarray(res.predict(start=len(history), end=len(history) + horizon - 1))

    forecast.detail = f"lags {list(lags) if lags else 0} (maxlag {maxlag})" + (", seasonal dummies" if dummies else "")
    return forecast


def _lowest_aic(fit: Callable[[dict], object], candidates: list[dict]) -> tuple[dict, np.ndarray]:
    """The candidate (model arguments) whose fit has the lowest finite AIC, and its fitted parameters
    (the start of every refit); a candidate whose fit fails is passed over."""
    best = None
    for kw in candidates:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                res = fit(kw)
            except (ValueError, np.linalg.LinAlgError):
                continue
        if np.isfinite(res.aic) and (best is None or res.aic < best[0]):
            best = (res.aic, kw, res.params)
    if best is None:
        raise RuntimeError("no candidate model could be fitted")
    return best[1], best[2]


def ets(train: np.ndarray, season: int, seed: int) -> Forecaster:
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel

    seasonal = [None] + (["add"] if season > 1 and len(train) >= 3 * season else [])
    candidates = [dict(error="add", trend=trend, damped_trend=damped, seasonal=seas,
                       seasonal_periods=season if seas else None)
                  for trend, damped in ((None, False), ("add", False), ("add", True)) for seas in seasonal]
    kw, start = _lowest_aic(lambda kw: ETSModel(train, **kw).fit(disp=False), candidates)

    def forecast(history: np.ndarray, horizon: int) -> np.ndarray:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = ETSModel(history, **kw)
            try:
                res = model.fit(disp=False, start_params=start)
            except (ValueError, np.linalg.LinAlgError):
                res = model.fit(disp=False)
            return np.asarray(res.forecast(horizon))

    name = ("A" if kw["trend"] else "N") + ("d" if kw["damped_trend"] else "") + ("A" if kw["seasonal"] else "N")
    forecast.detail = f"ETS(A,{name[:-1]},{name[-1]})"
    return forecast


def arima(train: np.ndarray, season: int, seed: int) -> Forecaster:
    from statsmodels.tsa.arima.model import ARIMA

    seasonal_orders = [(0, 0, 0)] + ([(1, 0, 0), (0, 1, 1), (1, 0, 1)] if season > 1 else [])
    candidates = [dict(order=(p, d, q), seasonal_order=(*S, season) if S != (0, 0, 0) else (0, 0, 0, 0),
                       trend="c" if d + S[1] == 0 else "n")
                  for (p, d, q), S in itertools.product(itertools.product((0, 1, 2), (0, 1), (0, 1, 2)),
                                                        seasonal_orders) if p + q > 0 or S != (0, 0, 0)]
    kw, start = _lowest_aic(lambda kw: ARIMA(train, **kw).fit(), candidates)

    def forecast(history: np.ndarray, horizon: int) -> np.ndarray:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = ARIMA(history, **kw).fit(start_params=start)
            return np.asarray(res.forecast(horizon))

    S = kw["seasonal_order"]
    forecast.detail = f"ARIMA{kw['order']}" + (f"({S[0]},{S[1]},{S[2]})_{S[3]}" if S[3] else "") + \
        (" with constant" if kw["trend"] == "c" else "")
    return forecast


# esnkit's budget: search trials per form of the series, and reservoirs averaged in a forecast.
ESN_TRIALS, ESN_MEMBERS = 96, 20


def esnkit_forecaster(train: np.ndarray, season: int, seed: int, *, trials: int | None = None,
                      members: int | None = None) -> Forecaster:
    """esnkit's forecaster for one series, the library's workflow: ``esnkit.tune_forecaster`` on
    ``train`` (each form of the series, values or first differences, each as it is or less its
    seasonal means, searched by the free-run error over the largest lead time; the form kept by a
    small backtest on the last quarter of ``train``; the data standardised by the model), then at
    every origin the :class:`esnkit.SeriesForecaster` refitted on the history and run free from its
    end, the mean of ``members`` reservoirs."""
    trials = ESN_TRIALS if trials is None else trials
    members = ESN_MEMBERS if members is None else members
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the search's notices; the scores below are what counts
        tuned = ek.tune_forecaster(train, max(lead_times(season)), season=season, trials=trials, ensemble=members,
                                   seed=seed)

    def forecast(history: np.ndarray, horizon: int) -> np.ndarray:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return tuned.fit(history).forecast(history, horizon)[:, 0]

    p = tuned.params
    forecast.detail = (f"{tuned.form}, N={p['reservoir_size']} x {members} seeds, "
                       + ", ".join(f"{k}={p[k]:.3g}" for k in (*ek.forecasting.SPACE, "ridge"))
                       + f"; validation free-run NRMSE {tuned.search_.best_value:.3f}")
    return forecast


# ---------------------------------------------------------------------------------------------
# The run and its report


METHODS = ["seasonal naive", "AutoReg", "ETS", "ARIMA", "esnkit"]


def run_series(s: Series, count: int | None, trials: int, members: int, plot_dir: str | None) -> dict:
    leads = lead_times(s.season)
    at = origins(len(s.values), count, max(leads))
    makers = {
        "seasonal naive": seasonal_naive,
        "AutoReg": lambda tr, m, seed: autoreg(tr, m, seed, calendar=s.calendar),
        "ETS": ets,
        "ARIMA": arima,
        "esnkit": lambda tr, m, seed: esnkit_forecaster(tr, m, seed, trials=trials, members=members),
    }
    print(f"== {s.name}: {len(s.values)} values, season {s.season}, origins {at[0]}..{at[-1]} ({len(at)}), "
          f"leads {leads}", flush=True)
    results, lasts = {}, {}
    for name, make in makers.items():
        b = backtest(s.values, s.season, make, at, leads)
        results[name] = b.summary()
        lasts[name] = b.last_forecast.tolist()
        print(f"  {name:15s} MASE " + " ".join(f"h={h}: {v:.3f}" for h, v in results[name]["mase"].items()) +
              f"  ({results[name]['cpu_s_total']:.1f} s CPU; {b.detail})", flush=True)
    out = {"series": s.name, "n": len(s.values), "season": s.season, "leads": leads, "origins": at,
           "source": s.source, "preprocessing": s.preprocessing, "methods": results, "last_forecasts": lasts}
    out["cells"] = _cells(out)
    if plot_dir:
        out["plot"] = plot(s, at[-1], lasts, max(leads), plot_dir)
    return out


def _cells(res: dict) -> list[dict]:
    """Per lead time: the best method by MASE and whether esnkit is best or within 5 % of it and
    no worse than seasonal naive."""
    cells = []
    for h in res["leads"]:
        mase = {name: r["mase"][h] for name, r in res["methods"].items()}
        best = min(mase, key=mase.get)
        e = mase.get("esnkit", float("inf"))
        cells.append({"lead": h, "best": best, "best_mase": mase[best], "esnkit_mase": e,
                      "esnkit_ratio": e / mase[best] if mase[best] > 0 else float("inf"),
                      "esnkit_within_5pct": e <= 1.05 * mase[best],
                      "esnkit_not_worse_than_naive": e <= mase["seasonal naive"]})
    return cells


def plot(s: Series, o: int, lasts: dict, H: int, plot_dir: str) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    os.makedirs(plot_dir, exist_ok=True)
    lo = max(0, o - max(8 * s.season, 60))
    fig, ax = plt.subplots(figsize=(9, 4))
    ax.plot(s.time[lo:o], s.values[lo:o], color="0.3", lw=1.2, label="history")
    ax.plot(s.time[o - 1:o + H], s.values[o - 1:o + H], color="k", lw=2, label="truth")
    for name, f in lasts.items():
        ax.plot(s.time[o:o + H], f[:H], lw=1.5, ls="--" if name != "esnkit" else "-", label=name)
    ax.axvline(s.time[o] - (s.time[1] - s.time[0]) / 2, color="0.7", lw=0.8)
    ax.set_title(f"{s.name}: forecasts from the last origin ({H} steps)")
    ax.legend(fontsize=8, ncol=3)
    fig.tight_layout()
    path = os.path.join(plot_dir, f"{s.name}.png")
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return os.path.relpath(path, os.path.join(HERE, "results"))


def target(results: list[dict]) -> dict:
    cells = [c for r in results for c in r["cells"]]
    good = sum(c["esnkit_within_5pct"] for c in cells)
    never_worse = all(c["esnkit_not_worse_than_naive"] for c in cells)
    return {"cells": len(cells), "esnkit_best_or_within_5pct": good, "never_worse_than_seasonal_naive": never_worse,
            "met": bool(cells) and good * 2 >= len(cells) and never_worse}


def table(results: list[dict], args) -> list[str]:
    today = datetime.date.today().isoformat()
    lines = [
        "# Real series: esnkit against statsmodels baselines (rolling-origin backtest)",
        "",
        f"Run {today} with `{' '.join(['python', *sys.argv])}`. Machine: {_report.machine()}, one thread "
        f"(OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}, torch threads {torch.get_num_threads()}). "
        f"Python {platform.python_version()}, torch {torch.__version__}, esnkit {ek.__version__}, "
        f"statsmodels {_version('statsmodels')}.",
        "",
        ("The last 20 % of each series is held out; every origin in it that leaves the largest lead time after it"
         if args.origins is None else f"The last 20 % of each series is held out; {args.origins} evenly spaced "
         "origins in it (fewer when the held-out part is short)") + "; at each origin every method sees only the "
        "values before it. MASE (scaled by the "
        "seasonal-naive in-sample error of the values before the origin) and sMAPE (%), averaged over origins, at "
        "each lead time h. **Bold**: the lowest MASE in the row. Orders, model forms and esnkit's hyper-parameters "
        "are chosen once per series on the first origin's window; parameters are refitted at every origin.",
        "",
        "| series | h | " + " | ".join(f"{m} MASE" for m in METHODS) + " | best | esnkit / best |",
        "|---|---|" + "---|" * len(METHODS) + "---|---|",
    ]
    for r in results:
        for c in r["cells"]:
            h = c["lead"]
            row = []
            for m in METHODS:
                v = r["methods"][m]["mase"][h]
                row.append(f"**{v:.3f}**" if m == c["best"] else f"{v:.3f}")
            lines.append(f"| {r['series']} | {h} | " + " | ".join(row) + f" | {c['best']} | {c['esnkit_ratio']:.2f} |")
    lines += ["", "sMAPE (%), same cells:", "",
              "| series | h | " + " | ".join(METHODS) + " |", "|---|---|" + "---|" * len(METHODS)]
    for r in results:
        for h in r["leads"]:
            vals = {m: r["methods"][m]["smape"][h] for m in METHODS}
            best = min(vals, key=vals.get)
            lines.append(f"| {r['series']} | {h} | " + " | ".join(
                f"**{v:.2f}**" if m == best else f"{v:.2f}" for m, v in vals.items()) + " |")
    lines += ["", "Fit + tune time, process CPU seconds over all origins (per origin in brackets; the one-off "
              "selection / tuning included):", "",
              "| series | origins | " + " | ".join(METHODS) + " |", "|---|---|" + "---|" * len(METHODS)]
    for r in results:
        lines.append(f"| {r['series']} | {len(r['origins'])} | " + " | ".join(
            f"{r['methods'][m]['cpu_s_total']:.2f} ({r['methods'][m]['cpu_s_per_origin']:.2f})" for m in METHODS)
            + " |")
    t = target(results)
    lines += ["", f"**Target** (esnkit's MASE the best or within 5 % of the best in at least half of the cells, and "
              f"never worse than seasonal naive): **{'met' if t['met'] else 'missed'}**: best or within 5 % in "
              f"{t['esnkit_best_or_within_5pct']} of {t['cells']} cells; never worse than seasonal naive: "
              f"{'yes' if t['never_worse_than_seasonal_naive'] else 'no'}.", "", "## Series and chosen models", ""]
    for r in results:
        lines.append(f"- **{r['series']}** ({r['n']} values, season {r['season']}, origins {r['origins'][0]}.."
                     f"{r['origins'][-1]}): {r['source']}; preprocessing: {r['preprocessing']}.")
        for m in METHODS:
            lines.append(f"  - {m}: {r['methods'][m]['detail']}")
        if "plot" in r:
            lines.append(f"  - plot: [{r['plot']}]({r['plot']})")
    return lines


def _version(module: str) -> str:
    try:
        return __import__(module).__version__
    except ImportError:
        return "not installed"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--series", nargs="+", default=list(SERIES), choices=list(SERIES))
    ap.add_argument("--origins", type=int, default=None,
                    help="evenly spaced forecast origins per series (default: every origin in the held-out part)")
    ap.add_argument("--trials", type=int, default=ESN_TRIALS, help="esnkit search trials per series")
    ap.add_argument("--members", type=int, default=ESN_MEMBERS, help="reservoirs averaged in esnkit's forecast")
    ap.add_argument("--quick", action="store_true", help="3 origins, 8 trials, 3 members, sunspots only: a smoke test")
    ap.add_argument("--out", default=None, help="the results table (default benchmarks/results/real_data.md; "
                    "with --quick, real_data.md in the system's temporary folder, so a smoke test leaves the "
                    "quoted results alone)")
    args = ap.parse_args(argv)
    if args.quick:
        args.origins, args.trials, args.members = 3, 8, 3
        if "--series" not in (sys.argv if argv is None else argv):
            args.series = ["sunspots"]
    if args.out is None:
        folder = os.path.join(tempfile.gettempdir(), "esnkit-real-data") if args.quick else HERE + "/results"
        args.out = os.path.join(folder, "real_data.md")
    torch.set_num_threads(1)
    plot_dir = os.path.join(os.path.dirname(os.path.abspath(args.out)), "real_data")
    results = []
    for name in args.series:  # the files are rewritten after each series: an interrupted run keeps what finished
        results.append(run_series(SERIES[name](), args.origins, args.trials, args.members, plot_dir))
        _report.write(args.out, table(results, args))
        with open(os.path.splitext(args.out)[0] + ".json", "w") as f:
            json.dump({"command": " ".join(["python", *sys.argv]), "date": datetime.date.today().isoformat(),
                       "machine": _report.machine(), "threads": torch.get_num_threads(),
                       "target": target(results), "series": results}, f, indent=1, default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main())
