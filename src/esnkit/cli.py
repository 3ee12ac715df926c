"""The ``esnkit`` command line.

``esnkit demo`` trains on Mackey-Glass and plots a free-running forecast; ``esnkit search`` runs a
hyper-parameter search on a built-in dataset or a CSV file and writes its results; ``esnkit forecast``
forecasts a CSV series past its end with a band; ``esnkit bench``
runs the chaotic forecasting benchmark (esnkit vs an LSTM and reservoirpy); ``esnkit classify``
trains a sequence classifier on a named dataset or ``.ts`` files and reports its test accuracy.

The arguments are parsed before anything heavy is imported: this module imports the standard
library and ``esnkit.__version__`` (``esnkit/__init__.py`` imports nothing), and each command imports
what it needs (PyTorch, the search, the plots) when it runs, so ``esnkit --help`` and a mistyped
option answer at once. The library's values the parser shows are literals below, in one place.

Bad arguments and bad files end the command with exactly one line ``esnkit: error: ...`` on
stderr, naming the option or path and what was expected, and a non-zero exit status (2 for an
argument the parser refuses, 1 for anything found later); no traceback, unless ``--debug`` is
given, which lets the exception propagate with its traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

from esnkit import __version__

# The library's values the parser shows, as literals here (importing them would import PyTorch);
# tests/test_cli.py checks that they are still the library's.
OBJECTIVES = ("nrmse", "free_run", "vpt")  # esnkit.tuning.objectives.OBJECTIVES
SAMPLERS = ("tpe", "random", "grid", "cmaes")  # esnkit.tuning.driver.SAMPLERS
DTYPES = ("float32", "float64")  # esnkit.search(dtype=...)
SEARCH_MODELS = ("esn", "nvar", "deep_esn")  # esnkit.tuning.space.FAMILIES
PROTOCOLS = ("mackey_glass", "lorenz", "rossler")  # esnkit.benchmarks.PROTOCOLS
# esnkit.search's defaults, quoted by --help (trials: its n_trials)
SEARCH_DEFAULTS = {"objective": "nrmse", "sampler": "tpe", "trials": 100, "batch_size": 8, "validation": 0.2,
                   "horizon": 84, "starts": 10, "warmup": 100, "threshold": 0.3, "ridge_candidates": 5, "seed": 0}
LSTM_BUDGET = {"full": 180.0, "quick": 5.0}  # esnkit.benchmarks.runner.Settings.full() and .quick_run()
DEMO_TRAIN, DEMO_TEST = 4000, 1000  # the demo's training and test steps
DEMO_VALIDATION = 1000  # the training steps the demo's ridge is chosen on
DEMO_RIDGES = (1e-10, 1e-9, 1e-8, 1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2)  # the ridge values it chooses from
DEMO_RIDGE = 1e-9  # its ridge when the washout leaves too few training steps to choose one
# esnkit.forecasting.forecast_series's defaults (reservoir_sizes: its RESERVOIR_SIZES)
FORECAST_DEFAULTS = {"trials": 60, "washout": 20, "validation": 0.2, "ensemble": 10, "coverage": 0.8,
                     "reservoir_sizes": (50, 100, 200, 300)}
MAX_THREADS = 1024  # torch crashes with absurd thread counts (10**6)
CLASSIFICATION_DATASETS = ("japanese_vowels", "basic_motions", "exercise_watch")  # esnkit.datasets.CLASSIFICATION
POOLINGS = "mean+last (default), e.g. mean, max, last, first, last<k>, at<k>, seg<k>, model joined by '+', or steps"


class CommandError(ValueError):
    """A bad option value or file found after parsing: reported as one line naming it."""


class _Parser(argparse.ArgumentParser):
    """argparse, whose errors are one line ``esnkit: error: ...`` (no usage block) and exit status 2."""

    def error(self, message: str):
        self.exit(2, f"esnkit: error: {message} (see '{self.prog} --help')\n")


def _ranged(convert, within, expected: str):
    """An argparse type: ``convert(text)`` for which ``within`` holds, else a message saying what was expected."""

    def parse(text: str):
        try:
            value = convert(text)
        except ValueError:
            value = None
        if value is None or not within(value):
            raise argparse.ArgumentTypeError(f"must be {expected}, got {text!r}")
        return value

    return parse


def _integer(least: int, most: int | None = None):
    """An argparse type: an integer in [least, most]."""
    expected = f"an integer ≥ {least}" if most is None else f"an integer in {least}..{most}"
    return _ranged(int, lambda v: least <= v and (most is None or v <= most), expected)


def _number(low: float, *, high: float | None = None):
    """An argparse type: a finite number > low (and < high when given); NaN and infinities are refused."""
    expected = f"a finite number > {low:g}" if high is None else f"a number in ({low:g}, {high:g})"
    return _ranged(float, lambda v: low < v < (float("inf") if high is None else high), expected)


def _output_folder(path: str) -> None:
    """``--out`` is a folder that exists or can be made, and can be written to; else a CommandError."""
    if os.path.exists(path) and not os.path.isdir(path):
        raise CommandError(f"--out {path!r} is a file, not a folder: give a folder for the results")
    try:
        os.makedirs(path, exist_ok=True)
        import tempfile

        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as exc:
        raise CommandError(f"--out {path!r}: cannot write results there ({exc.strerror or exc})") from None


def _need_plots(args: argparse.Namespace, command: str) -> None:
    """Fail before the work, not after it, where the plots it ends with cannot be drawn."""
    if not getattr(args, "no_plot", False):
        from esnkit.errors import import_extra

        hint = " (or pass --no-plot)" if hasattr(args, "no_plot") else ""
        import_extra("matplotlib", "plot", f"esnkit {command}'s plots{hint}")


def _off_range(y, targets):
    """Which values of ``y`` are off the output range: not finite, or more than the library's
    RANGE_FACTOR half-ranges of ``targets`` from their centre (a diverging free run)."""
    import numpy as np

    from esnkit.models.output_policy import RANGE_FACTOR

    lo, hi = targets.min(axis=0), targets.max(axis=0)
    with np.errstate(invalid="ignore", over="ignore"):
        return ~(np.abs(y - (hi + lo) / 2) <= RANGE_FACTOR * (hi - lo) / 2)


def _demo_ridge(esn, inputs, targets) -> tuple[float, int]:
    """(the ridge of DEMO_RIDGES whose readout, fitted on all but the last ``v`` steps, gives the best
    free runs from points in them, ``v``): the longest median valid prediction time, then the fewest
    runs off the output range, then the lowest median NRMSE. ``v`` is DEMO_VALIDATION, or half of
    the steps past a long washout; (DEMO_RIDGE, 0) when too few are left. One harvest; each ridge value
    costs one solve and the runs."""
    import warnings

    import numpy as np

    from esnkit.metrics import valid_prediction_time

    validation = min(DEMO_VALIDATION, (len(targets) - esn.washout) // 2)
    if validation < 40:
        return DEMO_RIDGE, 0
    split = len(targets) - validation
    h = type(esn).harvest([esn], inputs, targets, split=split)
    horizon, warmup = validation // 2, min(200, split - esn.washout)
    starts = range(split, len(targets) - horizon + 1, validation // 10)
    histories = np.stack([targets[s - warmup: s] for s in starts])  # values up to the step before each start
    truth = np.stack([targets[s: s + horizon] for s in starts])
    scale = targets[:split].std(axis=0)
    best, best_key = DEMO_RIDGES[-1], None
    for ridge in DEMO_RIDGES:
        candidate = esn.clone(ridge=ridge).fit_from(h, 0, weight=h.fits[0].solve(ridge, "auto"))
        with warnings.catch_warnings():  # 200 steps forget the zero start, however long the washout
            warnings.filterwarnings("ignore", message="forecast: a history warms the reservoir up")
            runs = candidate.forecast(histories, horizon, check_finite=False)
        far = _off_range(runs, targets)
        runs = np.where(far, np.nan, runs)  # off the range counts as past the threshold
        vpt = valid_prediction_time(truth, runs, threshold=0.3, scale=scale)
        with np.errstate(invalid="ignore"):
            err = np.sqrt(np.nanmean((runs - truth) ** 2, axis=(1, 2)) / np.mean(scale ** 2))
        key = (float(np.median(vpt)), -int(far.any(axis=(1, 2)).sum()),
               -float(np.median(np.nan_to_num(err, nan=np.inf))))
        if best_key is None or key > best_key:
            best, best_key = ridge, key
    return best, validation


def _demo(args: argparse.Namespace) -> int:
    _need_plots(args, "demo")
    from esnkit import params

    try:
        params.check({"reservoir_size": args.reservoir_size})  # one that fits the machine
    except ValueError as exc:
        raise CommandError(f"--reservoir-size: {exc}") from None
    if not args.no_plot:
        _output_folder(args.out)
    import numpy as np
    import torch

    import esnkit as ek

    torch.set_num_threads(args.threads)
    n_train, n_test = DEMO_TRAIN, DEMO_TEST
    data = ek.datasets.mackey_glass(args.washout + n_train + n_test + 1, tau=17)
    train_in, train_out = data[:n_train], data[1 : n_train + 1]
    test = data[n_train + 1 : n_train + 1 + n_test]
    esn = ek.ESN(
        args.reservoir_size, spectral_radius=0.9, leak_rate=1.0, input_scaling=1.0, bias_scaling=0.5,
        washout=args.washout, seed=args.seed,
    )
    print(f"esnkit {ek.__version__} demo: Mackey-Glass (tau=17), one sample per time unit")
    print(f"  reservoir: N={args.reservoir_size}, spectral radius 0.9, ~10 connections per neuron, seed {args.seed}")
    t0 = time.perf_counter()
    ridge, validation = _demo_ridge(esn, train_in, train_out)
    choose_s = time.perf_counter() - t0
    if validation:
        print(f"  ridge {ridge:.0e}, of {len(DEMO_RIDGES)} values {DEMO_RIDGES[0]:.0e}..{DEMO_RIDGES[-1]:.0e}: the "
              f"longest free runs from the last {validation} training steps ({choose_s:.3f} s)")
    else:
        print(f"  ridge {ridge:.0e} (too few steps past the washout to choose it on)")
    esn.set_params(ridge=ridge)
    t0 = time.perf_counter()
    esn.fit(train_in, train_out)
    fit_s = time.perf_counter() - t0
    print(f"  fit on {n_train} steps (washout {args.washout}): {fit_s:.3f} s")
    one_step = esn.predict(data[n_train : n_train + n_test], update_state=False)
    t0 = time.perf_counter()
    # A free run that diverges is a result too (a small reservoir's may): report where, not abort.
    forecast = esn.generate(n_test, check_finite=False)
    gen_s = time.perf_counter() - t0
    h = args.horizon
    # off the output range (non-finite, or more than RANGE_FACTOR half-ranges from the training targets)
    far = _off_range(forecast, train_out).any(axis=1)
    diverged = int(np.argmax(far)) if far.any() else None

    def free_run_nrmse(steps: int) -> str:
        if diverged is not None and diverged < steps:
            return f"diverged at step {diverged + 1}"
        return f"{ek.metrics.nrmse(test[:steps], forecast[:steps]):.3e}"

    rows = [
        (f"one-step NRMSE ({n_test} test steps)", f"{ek.metrics.nrmse(test, one_step):.3e}"),
        ("free-run NRMSE (first 84 steps)", free_run_nrmse(84)),
        (f"free-run NRMSE (first {h} steps)", free_run_nrmse(h)),
    ]
    for label, value in rows:
        print(f"  {label:<40} {value}")
    shown = np.where(far[:, None], np.nan, forecast)  # a step off the range counts as an error past the threshold
    vpt = ek.metrics.valid_prediction_time(test, shown, threshold=0.3, scale=data.std(axis=0))
    print(f"  {'valid prediction time (error < 0.3 std)':<40} {vpt:.0f} time units")
    print(f"  generated {n_test} free-running steps in {gen_s:.3f} s")
    if not args.no_plot:
        os.makedirs(args.out, exist_ok=True)
        path = os.path.join(args.out, "mackey_glass_forecast.png")
        # values off the output range (a diverging run) are left out of the plot, not drawn to scale
        shown = shown[: args.horizon]
        off = "" if diverged is None else ", diverging"
        ek.plotting.plot_forecast(
            test[: args.horizon], shown, path, threshold=0.3,
            title=f"Mackey-Glass: free-running ESN (N={args.reservoir_size}) vs truth{off}",
        )
        print(f"  plot: {path}")
    return 0


BUILTIN = {
    # name: (generator keyword arguments, VPT time scale = dt x largest Lyapunov exponent, unit)
    "mackey_glass": ({"tau": 17}, 1.0, "steps"),
    "lorenz": ({"dt": 0.02}, 0.02 * 0.906, "Lyapunov times"),
    "rossler": ({"dt": 0.1}, 0.1 * 0.0714, "Lyapunov times"),
}
DEFAULT_SPACE = {
    "spectral_radius": {"low": 0.1, "high": 1.5},
    "leak_rate": {"low": 0.05, "high": 1.0, "log": True},
    "input_scaling": {"low": 0.05, "high": 5.0, "log": True},
}
DEFAULT_FIXED = {"reservoir_size": 500, "washout": 100, "seed": 0}
# the spaces searched without --space, for --model nvar and deep_esn
DEFAULT_SPACES = {
    "nvar": ({"delays": {"low": 1, "high": 4}, "skip": {"low": 1, "high": 3}, "order": {"choices": [1, 2, 3]},
              "predict_increment": {"choices": [False, True]}}, {}),
    "deep_esn": (DEFAULT_SPACE, {"depth": 2, "reservoir_size": 250, "washout": 100, "seed": 0}),
}


def _read_csv(path: str, columns: list[str] | None, flag: str = "--data", date_column: str | None = None):
    """The chosen columns of a CSV series (see esnkit.tabular.read_series); its errors name ``flag``."""
    if not os.path.isfile(path):
        what = "a folder, not a file" if os.path.isdir(path) else "no such file"
        builtin = f" (and not a built-in dataset: {', '.join(BUILTIN)})" if flag == "--data" else ""
        raise CommandError(f"{flag} {path!r}: {what}{builtin}")
    from esnkit.tabular import read_series

    try:
        return read_series(path, column=columns, date_column=date_column)
    except (OSError, ValueError, TypeError) as exc:
        text = str(exc)
        text = text[len(path):].lstrip(": ") if text.startswith(path) else text  # the messages start with the path
        raise CommandError(f"{flag} {path!r}: {text}") from None


def _spec(p) -> dict:
    """A search-space parameter (esnkit.tuning.space.Param) as the mapping make_space reads."""
    if p.choices is not None:
        return {"choices": list(p.choices)}
    return {"low": p.low, "high": p.high, "log": p.log, **({"step": p.step} if p.step is not None else {})}


def _override_fixed(space, overrides: dict, where: str):
    """``space`` with the fixed values ``overrides`` (--reservoir-size, --washout) in place of its own."""
    from esnkit.tuning import make_space

    flags = " ".join(f"--{k.replace('_', '-')} {v}" for k, v in overrides.items())
    for key, value in overrides.items():
        if key in space.params:
            raise CommandError(f"--{key.replace('_', '-')} {value}: {where} searches {key} as a range or choices; "
                               f"give it a fixed value there, or leave out the option")
    try:
        return make_space({n: _spec(p) for n, p in space.params.items()}, {**space.fixed, **overrides},
                          space.ridges, space.settings, model=space.model)
    except (ValueError, TypeError) as exc:
        raise CommandError(f"{flags}: {exc}") from None


def _search(args: argparse.Namespace) -> int:
    _need_plots(args, "search")
    import torch

    import esnkit as ek
    from esnkit.tuning import load_space, make_space, search

    torch.set_num_threads(args.threads)
    if args.device is not None:
        from esnkit.params import check_device

        try:
            check_device(args.device)
        except ValueError as exc:
            raise CommandError(f"--device: {exc}") from None
    if args.space:
        try:
            space = load_space(args.space, args.model)
        except (OSError, ValueError, TypeError) as exc:
            text = str(exc).removeprefix(f"{args.space}: ")  # load_space's messages start with the path
            raise CommandError(f"--space {args.space!r}: {text}") from None
    else:
        space = make_space(*DEFAULT_SPACES.get(args.model, (DEFAULT_SPACE, DEFAULT_FIXED)), model=args.model or "esn")
    overrides = {k: getattr(args, k) for k in ("reservoir_size", "washout") if getattr(args, k) is not None}
    if overrides:
        space = _override_fixed(space, overrides, f"--space {args.space!r}" if args.space else "the default space")
    settings = dict(space.settings)
    for key in ("model", "objective", "sampler", "trials", "batch_size", "validation", "split", "folds", "horizon",
                "starts", "warmup", "threshold", "time_scale", "ridge_candidates", "seed", "timeout", "dtype",
                "device"):
        v = getattr(args, key)
        if v is not None:
            settings[key] = v
    time_scale, unit = 1.0, "steps"
    if args.data in BUILTIN:
        if args.column:
            raise CommandError(f"--column {args.column[0]!r}: --column picks columns of a CSV file, and --data "
                               f"{args.data} is a built-in dataset")
        kwargs, time_scale, unit = BUILTIN[args.data]
        try:
            data = getattr(ek.datasets, args.data)(args.steps, **kwargs)
        except ValueError as exc:
            raise CommandError(f"--steps {args.steps}: {exc}") from None
        name = args.data
    else:
        table = _read_csv(args.data, args.column)
        data, name = table.values, f"{os.path.basename(args.data)} [{', '.join(table.columns)}]"
        if space.model != "NVAR" and "scale" not in space.params and "scale" not in space.fixed:
            # a file's series comes in its own units: standardised for the reservoir, unless the space says
            space = _override_fixed(space, {"scale": True}, "the space")
    _output_folder(args.out)
    storage = args.storage  # None: in memory (a SQLite file costs seconds per search)
    objective = settings.pop("objective", "nrmse")
    n_trials = settings.pop("trials", SEARCH_DEFAULTS["trials"])
    settings.setdefault("time_scale", time_scale)
    where = storage if storage else "memory; pass --storage to keep or resume it"
    print(f"esnkit search: {name} ({data.shape[0]} steps, {data.shape[1]} feature(s)), objective {objective}, "
          f"{n_trials} trials, study {args.study_name!r} in {where}")
    try:
        result = search(
            data, space=space, objective=objective, n_trials=n_trials, scheduler=args.scheduler,
            workers=args.workers, storage=storage, study_name=args.study_name, progress=not args.quiet, **settings,
        )
    except KeyboardInterrupt:
        print(f"\ninterrupted: finished trials are kept in {storage}; run the same command again to resume"
              if storage else "\ninterrupted: the study was in memory and is gone; pass --storage FILE.db to keep "
              "the trials of a search you may interrupt", file=sys.stderr)
        return 130
    csv_path = os.path.join(args.out, "results.csv")
    result.to_csv(csv_path)
    model_path = os.path.join(args.out, "best.esnkit")
    result.best_esn.save(model_path)
    done = [r for r in result.table if r["state"] == "COMPLETE"]
    failed = [r for r in result.table if r["state"] == "FAIL"]
    shown = f"{result.best_value:.4g}" + (f" {unit}" if objective == "vpt" else "")
    print(f"  {len(done)} trials completed, {len(failed)} failed; best {objective}: {shown} "
          f"(ridge {result.best_ridge:.3g})")
    for k, v in result.best_params.items():
        print(f"    {k} = {v!r}")
    print(f"  results: {csv_path}\n  best model: {model_path}")
    if not args.no_plot:
        p1 = ek.plotting.plot_search(result.table, list(space.params),
                                     os.path.join(args.out, "objective_vs_params.png"), objective=objective)
        esn, split = result.best_esn, result.split
        truth = data[split + 1: split + 1 + args.plot_horizon]
        if esn.input_size_ == esn.output_size_:
            pred, what = esn.generate(len(truth)), "free-running"
        else:  # pragma: no cover - every built-in and CSV search is a one-step forecaster
            pred, what = esn.predict(data[split: split + len(truth)]), "driven"
        p2 = ek.plotting.plot_forecast(truth, pred, os.path.join(args.out, "best_forecast.png"), threshold=0.3,
                                       title=f"{name}: best configuration, {what} from the end of training")
        print(f"  plots: {p1}, {p2}")
    return 0


def _forecast(args: argparse.Namespace) -> int:
    _need_plots(args, "forecast")
    import json

    import numpy as np
    import torch

    from esnkit import forecasting
    from esnkit.metrics import mase
    from esnkit.tabular import seasonal_period

    torch.set_num_threads(args.threads)
    table = _read_csv(args.data, args.column, "DATA", args.date_column)
    config = None
    if args.config is not None:
        try:
            with open(args.config) as f:
                config = json.load(f)
        except OSError as exc:
            raise CommandError(f"--config {args.config!r}: cannot read it ({exc.strerror or exc})") from None
        except (ValueError, UnicodeDecodeError) as exc:
            raise CommandError(f"--config {args.config!r} is not a JSON file ({exc})") from None
        if not isinstance(config, dict):
            raise CommandError(f"--config {args.config!r} must hold a JSON object of ESN arguments, as the "
                               "config.json a run writes")
    _output_folder(args.out)
    season = args.season if args.season is not None else seasonal_period(table.freq)
    T, D = table.values.shape
    span = (f", {np.datetime_as_string(table.dates[0], unit='D')} .. {np.datetime_as_string(table.dates[-1], unit='D')}"
            f" ({table.freq or 'irregular'})" if table.dates is not None else "")
    print(f"esnkit forecast: {os.path.basename(args.data)} [{', '.join(table.columns)}], {T} rows{span}; "
          f"horizon {args.horizon}, season {season}")
    if table.gaps:
        import warnings

        warnings.warn(f"{args.data}: the dates skip {table.gaps} step(s) of their frequency {table.freq} (holidays, "
                      "missing days): the rows are modelled as consecutive steps; fill the gaps for a calendar-true "
                      "model", UserWarning, stacklevel=2)
    what = "configuration from --config" if config is not None else f"tuning ({args.trials} trials per form)"
    print(f"  {what}, backtest on the last {args.validation:.0%} or more, refit on all rows, "
          f"ensemble of {args.ensemble}")
    t0 = time.perf_counter()
    try:
        fc = forecasting.forecast_series(
            table.values, args.horizon, season=season, dates=table.dates, future_dates=table.future_dates(args.horizon),
            columns=table.columns, config=config, validation=args.validation, trials=args.trials,
            reservoir_size=args.reservoir_size, washout=args.washout, ensemble=args.ensemble, coverage=args.coverage,
            seed=args.seed, progress=not args.quiet, timeout=args.timeout)
    except KeyboardInterrupt:
        print("\ninterrupted: nothing was written", file=sys.stderr)
        return 130
    seconds = time.perf_counter() - t0
    train = fc.history[: fc.split]
    leads = sorted({1, min(season, args.horizon), args.horizon})
    by_lead = {}
    ok = np.isfinite(fc.backtest_forecasts).all(axis=(1, 2))  # origins where some reservoir stayed in range
    for h in leads:
        pred = fc.backtest_forecasts[ok, h - 1]
        try:  # scaled by the training part's in-sample seasonal-naive error
            score = float(mase(fc.backtest_truth[ok, h - 1], pred, insample=train, season=season)) if ok.any() \
                else float("inf")
        except ValueError:  # a training part that repeats itself exactly at the season: no scale
            score = float("nan")
        by_lead[h] = {"mase": score, "nrmse": float(np.mean(fc.backtest_nrmse[h - 1]))}
    print(f"  chosen: {fc.forecaster.form}, " + ", ".join(
        f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in fc.forecaster.params.items()
        if k not in ("scale",)))
    print(f"  backtest ({len(fc.backtest_errors)} origins): " + "; ".join(
        f"lead {h}: MASE {v['mase']:.3f}, NRMSE {v['nrmse']:.3f}" for h, v in by_lead.items())
        + ("" if D == 1 else " (means over the columns)")
        + ("" if ok.all() else f"; every reservoir diverged from {int((~ok).sum())} origin(s), left out"))
    csv_path = fc.to_csv(os.path.join(args.out, "forecast.csv"))
    config_path = os.path.join(args.out, "config.json")
    with open(config_path, "w") as f:
        json.dump(fc.params, f, indent=2)
    by_lead = {h: {k: (v if np.isfinite(v) else None) for k, v in scores.items()}  # JSON has no NaN
               for h, scores in by_lead.items()}
    results = {"data": os.path.abspath(args.data), "columns": fc.columns, "rows": T, "horizon": args.horizon,
               "season": season, "coverage": fc.coverage, "band": "empirical quantiles of the backtest errors by lead",
               "backtest_origins": len(fc.backtest_errors), "backtest": {str(h): v for h, v in by_lead.items()},
               "params": fc.params, "seconds": seconds}
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump(results, f, indent=2)
    print(f"  {seconds:.1f} s; forecast: {csv_path}; configuration: {config_path} (reuse with --config)")
    if not args.no_plot:
        png = fc.plot(os.path.join(args.out, "forecast.png"),
                      title=f"{os.path.basename(args.data)}: {args.horizon}-step forecast, {fc.coverage:.0%} band")
        print(f"  plot: {png}")
    return 0


def _bench(args: argparse.Namespace) -> int:
    _need_plots(args, "bench")
    _output_folder(args.out)
    import warnings

    import torch

    from esnkit.benchmarks.runner import Settings, run
    from esnkit.errors import SaturationWarning
    from esnkit.reservoir import EchoStatePropertyWarning

    torch.set_num_threads(args.threads)
    kw = {}
    if args.protocol:
        kw["protocols"] = tuple(dict.fromkeys(args.protocol))
    if args.no_reservoirpy:
        kw["reservoirpy"] = False
    if args.lstm_budget is not None:
        kw["lstm_budget"] = args.lstm_budget
    settings = Settings.quick_run(**kw) if args.quick else Settings.full(**kw)
    with warnings.catch_warnings():
        # Searched configurations may sit above ρ = 1 on purpose, and the "defaults" row saturates on raw
        # data by design (it is the row that shows what tuning buys): the warnings would repeat every seed.
        warnings.simplefilter("ignore", category=EchoStatePropertyWarning)
        warnings.simplefilter("ignore", category=SaturationWarning)
        try:
            run(settings, args.out, command=args.command_line)
        except KeyboardInterrupt:
            print(f"\ninterrupted: {os.path.join(args.out, 'results.md')} holds the protocols that finished",
                  file=sys.stderr)
            return 130
    print(f"  results: {os.path.join(args.out, 'results.md')} (and results.json, PNGs beside it)")
    return 0


def _classify(args: argparse.Namespace) -> int:
    _need_plots(args, "classify")
    import json

    import numpy as np
    import torch

    import esnkit as ek
    from esnkit.readout import parse_input_summary, parse_pools

    torch.set_num_threads(args.threads)
    if (args.train is None) != (args.test is None):
        raise CommandError("--train and --test go together: give both files, or --dataset")
    if args.train is not None:
        parts = []
        for flag, path in (("--train", args.train), ("--test", args.test)):
            try:
                parts.extend(ek.datasets.read_ts(path))
            except (OSError, ValueError) as exc:
                raise CommandError(f"{flag} {path!r}: {exc}") from None
        X_train, y_train, X_test, y_test = parts
        name = os.path.basename(args.train)
    else:
        X_train, y_train, X_test, y_test = ek.datasets.CLASSIFICATION[args.dataset]()
        name = args.dataset
    _output_folder(args.out)
    checks = [("--input-summary", args.input_summary, parse_input_summary)]
    if args.pooling != "steps":
        checks.append(("--pooling", args.pooling, parse_pools))
    for flag, value, parse in checks:
        try:
            parse(value)
        except ValueError as exc:  # named as the command line has it
            raise CommandError(f"{flag} {value!r}: {str(exc).split(': ', 1)[-1]}") from None
    clf = ek.ESNClassifier(
        args.reservoir_size, spectral_radius=args.spectral_radius, leak_rate=args.leak_rate,
        input_scaling=args.input_scaling, ridge=args.ridge, washout=args.washout, pooling=args.pooling,
        input_summary=None if args.input_summary == "none" else args.input_summary, scale=not args.no_scale,
        readout=args.readout, n_reservoirs=args.ensemble, seed=args.seed)
    print(f"esnkit classify: {name}, {len(X_train)} training and {len(X_test)} test sequences, "
          f"{len(np.unique(y_train))} classes; {clf.n_reservoirs} reservoir(s) of {clf.reservoir_size} neurons")
    t0 = time.perf_counter()
    clf.fit(X_train, y_train)
    train_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    predicted = clf.predict(X_test)
    predict_s = time.perf_counter() - t0
    truth = np.asarray(y_test)
    hit = predicted.astype(object) == truth.astype(object)  # no casting: "10" must not become "1"
    accuracy = float(np.mean(hit))
    print(f"  test accuracy {accuracy:.2%} ({int(np.sum(~hit))} errors), fit {train_s:.3f} s, "
          f"predict {1e3 * predict_s / len(X_test):.3f} ms per sequence")
    model_path = os.path.join(args.out, "model.esnkit")
    clf.save(model_path)
    results = {"dataset": name, "accuracy": accuracy, "errors": int(np.sum(~hit)),
               "train_s": train_s, "predict_s_per_sequence": predict_s / len(X_test),
               "params": {k: v for k, v in clf.get_params().items() if k not in ("device",)}}
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump(results, f, indent=2, default=str)
    print(f"  model: {model_path}; results: {os.path.join(args.out, 'results.json')}")
    if not args.no_plot:
        from esnkit.plotting import plot_confusion_matrix

        png = plot_confusion_matrix(truth.astype(str), predicted.astype(str),
                                    os.path.join(args.out, "confusion_matrix.png"),
                                    title=f"esnkit classify: {name}")
        print(f"  plot: {png}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="esnkit", description="Echo State Networks on PyTorch.")
    parser.add_argument("--version", action="version", version=f"esnkit {__version__}")
    debug_help = "show the full traceback of an error instead of one line"
    parser.add_argument("--debug", action="store_true", help=debug_help)
    common = argparse.ArgumentParser(add_help=False)  # --debug after the command, too
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=debug_help)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    count, natural, positive = _integer(1), _integer(0), _number(0)
    threads = _integer(1, MAX_THREADS)
    demo = sub.add_parser("demo", help="train on Mackey-Glass, forecast, print errors and write a plot",
                          parents=[common])
    demo.add_argument("--reservoir-size", type=count, default=1000, metavar="N",
                      help="reservoir neurons (default 1000; any size down to 10 runs)")
    demo.add_argument("--washout", type=_integer(0, DEMO_TRAIN - 1), default=100,
                      help=f"steps left out of the fit (0..{DEMO_TRAIN - 1}; default 100)")
    demo.add_argument("--horizon", type=_integer(1, DEMO_TEST), default=500,
                      help=f"free-run steps to score and plot (1..{DEMO_TEST}; default 500)")
    demo.add_argument("--seed", type=natural, default=0, help="reservoir seed (default 0)")
    demo.add_argument("--threads", type=threads, default=1, help="torch threads (default 1)")
    demo.add_argument("--out", default="esnkit-demo", help="folder for the plot (default ./esnkit-demo)")
    demo.add_argument("--no-plot", action="store_true", help="skip writing the PNG")
    demo.set_defaults(run=_demo)

    se = sub.add_parser("search", help="search hyper-parameters (Optuna + ensembles + exact ridge path)",
                        description="Search ESN hyper-parameters on a built-in dataset or a CSV series; "
                                    "writes results.csv, plots and the best model to --out.", parents=[common])
    se.add_argument("--data", default="mackey_glass",
                    help=f"built-in dataset ({', '.join(BUILTIN)}) or a CSV file, one time step per row, usually "
                         "under a header row; a date column and the index column pandas writes are not features "
                         "(default mackey_glass)")
    se.add_argument("--column", action="append", metavar="NAME",
                    help="a target column of the CSV file (repeatable; default every numeric column)")
    se.add_argument("--steps", type=_integer(10), default=3000, help="length of a built-in series (default 3000)")
    se.add_argument("--model", choices=SEARCH_MODELS,
                    help="the model searched: an ESN, an NVAR (next-generation RC) or a DeepESN (default: the "
                         "--space file's model setting, else esn)")
    se.add_argument("--space", help="search-space TOML file (default: spectral radius, leak, input scaling "
                                    "at N=500; for --model nvar delays, skip, order and predict_increment; for "
                                    "--model deep_esn those of an ESN, for 2 layers of 250)")
    se.add_argument("--reservoir-size", type=count, metavar="N",
                    help=f"fixed reservoir size, in place of the space's (default {DEFAULT_FIXED['reservoir_size']}, "
                         "or the --space file's)")
    se.add_argument("--washout", type=natural, metavar="STEPS",
                    help=f"fixed washout, in place of the space's (default {DEFAULT_FIXED['washout']}, or the "
                         "--space file's)")
    d = SEARCH_DEFAULTS
    se.add_argument("--objective", choices=OBJECTIVES,
                    help="what is scored on the validation part: one-step NRMSE, free-run NRMSE (both minimised) "
                         f"or valid prediction time (maximised) (default {d['objective']})")
    se.add_argument("--sampler", choices=SAMPLERS, help=f"Optuna sampler (default {d['sampler']})")
    se.add_argument("--trials", type=count, help=f"trials the study should hold when done (default {d['trials']})")
    se.add_argument("--batch-size", type=count, help=f"configurations harvested together (default {d['batch_size']})")
    se.add_argument("--validation", type=_number(0, high=1),
                    help=f"fraction of the series held out (default {d['validation']})")
    se.add_argument("--split", type=count,
                    help="index of the first validation step, instead of --validation (default: from --validation)")
    se.add_argument("--folds", type=_integer(2),
                    help="blocked k-fold validation instead of one split (default: one split)")
    se.add_argument("--horizon", type=count, help=f"free-run steps scored (default {d['horizon']})")
    se.add_argument("--starts", type=count, help=f"free-run starting points (default {d['starts']})")
    se.add_argument("--warmup", type=count, help=f"steps each free run is warmed up on (default {d['warmup']})")
    se.add_argument("--threshold", type=positive, help=f"VPT error threshold (default {d['threshold']})")
    se.add_argument("--time-scale", type=positive, help="VPT units per step (default: Lyapunov times for "
                                                        "lorenz/rossler, else steps)")
    se.add_argument("--ridge-candidates", type=count,
                    help="ridge values, the best of each configuration's exact ridge path, scored with refitted "
                         f"weights (default {d['ridge_candidates']})")
    se.add_argument("--dtype", choices=DTYPES, help=f"precision of the reservoirs (default {DTYPES[-1]})")
    se.add_argument("--device", help="torch device the ensembles run on, e.g. cuda (default cpu)")
    se.add_argument("--seed", type=natural, help=f"sampler seed (default {d['seed']})")
    se.add_argument("--timeout", type=positive,
                    help="stop proposing trials after this many seconds (default: no limit)")
    se.add_argument("--scheduler", help="'local' for a Dask LocalCluster, or a scheduler address "
                                        "tcp://host:8786 (default: run in this process)")
    se.add_argument("--workers", type=count, help="LocalCluster worker processes (default: CPU count)")
    se.add_argument("--storage", help="Optuna storage URL or SQLite .db file, to keep the study and resume it "
                                      "(default: in memory)")
    se.add_argument("--study-name", default="esnkit-search",
                    help="name of the study in --storage (default esnkit-search)")
    se.add_argument("--out", default="esnkit-search", help="output folder (default ./esnkit-search)")
    se.add_argument("--plot-horizon", type=count, default=500,
                    help="free-run steps of the best model drawn in best_forecast.png (default 500)")
    se.add_argument("--threads", type=threads, default=1, help="torch threads (default 1)")
    se.add_argument("--no-plot", action="store_true", help="skip the PNGs")
    se.add_argument("--quiet", action="store_true", help="no progress bar")
    se.set_defaults(run=_search)

    fo = sub.add_parser("forecast", help="forecast a CSV series past its end, with a band (tune, backtest, refit)",
                        description="Read a time series from a CSV file (header, index and date columns as pandas "
                                    "and spreadsheets write them), tune an ESN forecaster on a validation split (or "
                                    "take --config), backtest it, refit it on all rows and forecast --horizon steps "
                                    "past the last one. Writes forecast.csv (dated rows, the forecast and its band), "
                                    "forecast.png, config.json and results.json to --out.", parents=[common])
    fo.add_argument("data", metavar="DATA", help="CSV file, one time step per row")
    fo.add_argument("--column", action="append", metavar="NAME",
                    help="the column to forecast (repeatable; default every numeric column)")
    fo.add_argument("--date-column", metavar="NAME", help="the column of dates (default: detected)")
    fo.add_argument("--horizon", type=count, default=12, help="steps to forecast past the last row (default 12)")
    fo.add_argument("--season", type=count, help="seasonal period in rows (default: from the dates' frequency, e.g. "
                                                 "12 for monthly, 4 quarterly, 52 weekly, 7 daily; else 1, none)")
    fo.add_argument("--config", metavar="FILE.json", help="a configuration to use instead of tuning (the "
                                                          "config.json an earlier run wrote)")
    fo.add_argument("--trials", type=count, default=FORECAST_DEFAULTS["trials"],
                    help=f"search trials per form of the series (default {FORECAST_DEFAULTS['trials']})")
    fo.add_argument("--reservoir-size", type=count, metavar="N",
                    help=f"neurons per reservoir (default: searched among {FORECAST_DEFAULTS['reservoir_sizes']})")
    fo.add_argument("--washout", type=natural, default=FORECAST_DEFAULTS["washout"],
                    help=f"steps each fit leaves out at its start (default {FORECAST_DEFAULTS['washout']})")
    fo.add_argument("--validation", type=_number(0, high=1), default=FORECAST_DEFAULTS["validation"],
                    help=f"fraction of the rows held out to backtest (default {FORECAST_DEFAULTS['validation']}; "
                         "more when the horizon needs it)")
    fo.add_argument("--ensemble", type=_integer(1, 1000), default=FORECAST_DEFAULTS["ensemble"], metavar="K",
                    help=f"reservoirs averaged (default {FORECAST_DEFAULTS['ensemble']})")
    fo.add_argument("--coverage", type=_number(0, high=1), default=FORECAST_DEFAULTS["coverage"],
                    help=f"the band's nominal coverage (default {FORECAST_DEFAULTS['coverage']})")
    fo.add_argument("--seed", type=natural, default=0, help="reservoir and sampler seed (default 0)")
    fo.add_argument("--timeout", type=positive, help="stop each form's search after this many seconds")
    fo.add_argument("--threads", type=threads, default=1, help="torch threads (default 1)")
    fo.add_argument("--out", default="esnkit-forecast", help="output folder (default ./esnkit-forecast)")
    fo.add_argument("--no-plot", action="store_true", help="skip forecast.png")
    fo.add_argument("--quiet", action="store_true", help="no progress bars")
    fo.set_defaults(run=_forecast)

    be = sub.add_parser("bench", help="chaotic forecasting benchmark: esnkit vs an LSTM and reservoirpy",
                        description="Run the pinned Mackey-Glass NRMSE84, Lorenz-63 and Rössler VPT protocols "
                                    "against a tuned LSTM (and reservoirpy when installed); writes results.md, "
                                    "results.json and PNGs to --out.", parents=[common])
    be.add_argument("--quick", action="store_true", help="smoke test: few test starts, seeds and LSTM seconds "
                                                         "(about a minute; numbers not for quoting)")
    be.add_argument("--protocol", action="append", choices=PROTOCOLS,
                    help="run only this protocol (repeatable; default all)")
    be.add_argument("--lstm-budget", type=positive, help=f"LSTM training seconds per seed (default "
                                                      f"{LSTM_BUDGET['full']:g}; quick {LSTM_BUDGET['quick']:g})")
    be.add_argument("--no-reservoirpy", action="store_true", help="skip reservoirpy even when installed")
    be.add_argument("--out", default="esnkit-bench", help="output folder (default ./esnkit-bench)")
    be.add_argument("--threads", type=threads, default=1, help="torch threads (default 1)")
    be.set_defaults(run=_bench)

    cl = sub.add_parser("classify", help="train a sequence classifier and report its test accuracy",
                        description="Fit an ESNClassifier on a named dataset or on .ts train/test files, report "
                                    "test accuracy and times, and write model.esnkit, results.json and "
                                    "confusion_matrix.png to --out.", parents=[common])
    source = cl.add_mutually_exclusive_group()
    source.add_argument("--dataset", choices=CLASSIFICATION_DATASETS, default="japanese_vowels",
                        help="named dataset (default japanese_vowels, bundled; the others read an installed "
                             "sktime or seglearn)")
    source.add_argument("--train", metavar="FILE.ts", help="training sequences in the .ts format (with --test)")
    cl.add_argument("--test", metavar="FILE.ts", help="test sequences in the .ts format (with --train)")
    cl.add_argument("--reservoir-size", type=count, default=500, metavar="N", help="neurons per reservoir "
                                                                                   "(default 500)")
    cl.add_argument("--ensemble", type=_integer(1, 1000), default=1, metavar="K",
                    help="reservoirs whose decisions are averaged (default 1)")
    cl.add_argument("--spectral-radius", type=positive, default=0.9, help="default 0.9")
    cl.add_argument("--leak-rate", type=_ranged(float, lambda v: 0 < v <= 1, "a number in (0, 1]"), default=0.2,
                    help="in (0, 1]; default 0.2")
    cl.add_argument("--input-scaling", type=positive, default=0.5,
                    help="of the standardised inputs (of the raw ones with --no-scale; default 0.5)")
    cl.add_argument("--no-scale", action="store_true",
                    help="feed the inputs as they are, not standardised with the training frames' mean and std")
    cl.add_argument("--ridge", type=_ranged(float, lambda v: 0 <= v < float("inf"), "a finite number >= 0"),
                    default=1.0, help="readout regularisation (default 1.0)")
    cl.add_argument("--washout", type=natural, default=0, help="steps left out of the pooled averages (default 0)")
    cl.add_argument("--pooling", default="mean+last", help=f"sequence-to-vector features: {POOLINGS}")
    cl.add_argument("--input-summary", default="mean+std",
                    help="the inputs' own features beside the pooled states: mean+std (default), mean, std or "
                         "input positions (last, first, last<k>, at<k>, seg<k>) joined by '+', or none")
    cl.add_argument("--readout", choices=("ridge", "logistic"), default="ridge",
                    help="closed-form ridge (default) or logistic regression (needs scikit-learn)")
    cl.add_argument("--seed", type=natural, default=0, help="reservoir seed (default 0)")
    cl.add_argument("--threads", type=threads, default=1, help="torch threads (default 1)")
    cl.add_argument("--out", default="esnkit-classify", help="output folder (default ./esnkit-classify)")
    cl.add_argument("--no-plot", action="store_true", help="skip the confusion-matrix PNG")
    cl.set_defaults(run=_classify)
    return parser


def _one_line(exc: BaseException) -> str:
    """The error's message on one line; an unexpected kind of error is named, with the way to see more."""
    from esnkit.errors import MissingExtraError, NonFiniteStateError, SearchError

    text = " ".join(str(exc).split()) or type(exc).__name__
    expected = (CommandError, ValueError, TypeError, OSError, NonFiniteStateError, MissingExtraError, SearchError)
    if isinstance(exc, expected):
        return text
    return f"unexpected {type(exc).__name__}: {text} (run again with --debug for the traceback)"


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.command_line = " ".join(["esnkit", *(sys.argv[1:] if argv is None else argv)])
    if args.command is None:
        parser.print_help()
        return 2
    import warnings

    before = warnings.formatwarning
    # a warning is one line, as the errors are: what happened and what to do, not where in the source
    warnings.formatwarning = lambda message, category, *_, **__: f"esnkit: {category.__name__}: {message}\n"
    try:
        return args.run(args)
    except Exception as exc:
        if args.debug:
            raise
        print(f"esnkit: error: {_one_line(exc)}", file=sys.stderr)
        return 1
    finally:
        warnings.formatwarning = before


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
