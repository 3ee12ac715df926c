"""The ``esnkit`` command line.

``esnkit demo`` trains on Mackey-Glass and plots a free-running forecast; ``esnkit search`` runs a
hyper-parameter search on a built-in dataset or a CSV file and writes its results; ``esnkit bench``
runs the chaotic forecasting benchmark (esnkit vs an LSTM and reservoirpy).

The arguments are parsed before anything heavy is imported: this module imports the standard
library and ``esnkit.__version__`` (``esnkit/__init__.py`` imports nothing), and each command imports
what it needs (PyTorch, the search, the plots) when it runs, so ``esnkit --help`` and a mistyped
option answer at once. The library's values the parser shows are literals below, in one place.
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
PROTOCOLS = ("mackey_glass", "lorenz", "rossler")  # esnkit.benchmarks.PROTOCOLS
# esnkit.search's defaults, quoted by --help (trials: its n_trials)
SEARCH_DEFAULTS = {"trials": 100, "batch_size": 8, "validation": 0.2, "horizon": 84, "starts": 10,
                   "warmup": 100, "threshold": 0.3, "seed": 0}
LSTM_BUDGET = {"full": 180.0, "quick": 5.0}  # esnkit.benchmarks.runner.Settings.full() and .quick_run()


def _need_plots(args: argparse.Namespace, command: str) -> None:
    """Fail before the work, not after it, where the plots it ends with cannot be drawn."""
    if not getattr(args, "no_plot", False):
        from esnkit.errors import import_extra

        hint = " (or pass --no-plot)" if hasattr(args, "no_plot") else ""
        import_extra("matplotlib", "plot", f"esnkit {command}'s plots{hint}")


def _demo(args: argparse.Namespace) -> int:
    _need_plots(args, "demo")
    import torch

    import esnkit as ek

    torch.set_num_threads(args.threads)
    n_train, n_test = 4000, 1000
    data = ek.datasets.mackey_glass(args.washout + n_train + n_test + 1, tau=17)
    train_in, train_out = data[:n_train], data[1 : n_train + 1]
    test = data[n_train + 1 : n_train + 1 + n_test]
    esn = ek.ESN(
        args.reservoir_size, spectral_radius=0.9, leak_rate=1.0, input_scaling=1.0, bias_scaling=0.5,
        ridge=1e-9, washout=args.washout, seed=args.seed,
    )
    print(f"esnkit {ek.__version__} demo: Mackey-Glass (tau=17), one sample per time unit")
    print(f"  reservoir: N={args.reservoir_size}, spectral radius 0.9, ~10 connections per neuron, seed {args.seed}")
    t0 = time.perf_counter()
    esn.fit(train_in, train_out)
    fit_s = time.perf_counter() - t0
    print(f"  fit on {n_train} steps (washout {args.washout}): {fit_s:.3f} s")
    one_step = esn.predict(data[n_train : n_train + n_test], update_state=False)
    t0 = time.perf_counter()
    forecast = esn.generate(n_test)
    gen_s = time.perf_counter() - t0
    h = args.horizon
    rows = [
        (f"one-step NRMSE ({n_test} test steps)", ek.metrics.nrmse(test, one_step)),
        ("free-run NRMSE (first 84 steps)", ek.metrics.nrmse(test[:84], forecast[:84])),
        (f"free-run NRMSE (first {h} steps)", ek.metrics.nrmse(test[:h], forecast[:h])),
    ]
    for label, value in rows:
        print(f"  {label:<40} {value:.3e}")
    vpt = ek.metrics.valid_prediction_time(test, forecast, threshold=0.3, scale=data.std(axis=0))
    print(f"  {'valid prediction time (error < 0.3 std)':<40} {vpt:.0f} time units")
    print(f"  generated {n_test} free-running steps in {gen_s:.3f} s")
    if not args.no_plot:
        os.makedirs(args.out, exist_ok=True)
        path = os.path.join(args.out, "mackey_glass_forecast.png")
        ek.plotting.plot_forecast(
            test[: args.horizon], forecast[: args.horizon], path, threshold=0.3,
            title=f"Mackey-Glass: free-running ESN (N={args.reservoir_size}) vs truth",
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


def _read_csv(path: str):
    """A CSV series as a (rows, columns) float array; a non-numeric first row is a header."""
    import numpy as np

    if not os.path.isfile(path):
        raise ValueError(f"--data {path!r}: no such file (and not a built-in dataset: {sorted(BUILTIN)})")
    with open(path) as f:
        first = f.readline()
    try:
        [float(v) for v in first.strip().split(",")]
        skip = 0
    except ValueError:
        skip = 1  # a header row
    try:
        data = np.loadtxt(path, delimiter=",", skiprows=skip, ndmin=2)
    except ValueError as exc:
        raise ValueError(f"--data {path!r}: every row must be comma-separated numbers ({exc})") from None
    if data.shape[0] < 10:
        raise ValueError(f"--data {path!r} has {data.shape[0]} rows; a search needs a longer series")
    return data


def _search(args: argparse.Namespace) -> int:
    _need_plots(args, "search")
    import torch

    import esnkit as ek
    from esnkit.tuning import SearchError, load_space, make_space, search

    torch.set_num_threads(args.threads)
    if args.space:
        space = load_space(args.space)
    else:
        space = make_space(DEFAULT_SPACE, DEFAULT_FIXED)
    settings = dict(space.settings)
    for key in ("objective", "sampler", "trials", "batch_size", "validation", "split", "folds", "horizon", "starts",
                "warmup", "threshold", "time_scale", "ridge_candidates", "seed", "timeout", "dtype", "device"):
        v = getattr(args, key)
        if v is not None:
            settings[key] = v
    time_scale, unit = 1.0, "steps"
    if args.data in BUILTIN:
        kwargs, time_scale, unit = BUILTIN[args.data]
        data = getattr(ek.datasets, args.data)(args.steps, **kwargs)
        name = args.data
    else:
        data = _read_csv(args.data)
        name = os.path.basename(args.data)
    os.makedirs(args.out, exist_ok=True)
    storage = args.storage or os.path.join(args.out, "study.db")
    objective = settings.pop("objective", "nrmse")
    n_trials = settings.pop("trials", SEARCH_DEFAULTS["trials"])
    settings.setdefault("time_scale", time_scale)
    print(f"esnkit search: {name} ({data.shape[0]} steps, {data.shape[1]} feature(s)), objective {objective}, "
          f"{n_trials} trials, study {args.study_name!r} in {storage}")
    try:
        result = search(
            data, space=space, objective=objective, n_trials=n_trials, scheduler=args.scheduler,
            workers=args.workers, storage=storage, study_name=args.study_name, progress=not args.quiet, **settings,
        )
    except KeyboardInterrupt:
        print(f"\ninterrupted: finished trials are kept in {storage}; run the same command again to resume",
              file=sys.stderr)
        return 130
    except SearchError as exc:
        print(f"esnkit: error: {exc}", file=sys.stderr)
        return 1
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


def _bench(args: argparse.Namespace) -> int:
    _need_plots(args, "bench")
    import warnings

    import torch

    from esnkit.benchmarks.runner import Settings, run
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
        # Searched configurations may sit above ρ = 1 on purpose; the warning would repeat for every seed.
        warnings.simplefilter("ignore", category=EchoStatePropertyWarning)
        try:
            run(settings, args.out, command=args.command_line)
        except KeyboardInterrupt:
            print(f"\ninterrupted: {os.path.join(args.out, 'results.md')} holds the protocols that finished",
                  file=sys.stderr)
            return 130
    print(f"  results: {os.path.join(args.out, 'results.md')} (and results.json, PNGs beside it)")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="esnkit", description="Echo State Networks on PyTorch.")
    parser.add_argument("--version", action="version", version=f"esnkit {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo = sub.add_parser("demo", help="train on Mackey-Glass, forecast, print errors and write a plot")
    demo.add_argument("--reservoir-size", type=int, default=1000, metavar="N")
    demo.add_argument("--washout", type=int, default=100)
    demo.add_argument("--horizon", type=int, default=500, help="free-run steps to score and plot")
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    demo.add_argument("--out", default="esnkit-demo", help="folder for the plot (default ./esnkit-demo)")
    demo.add_argument("--no-plot", action="store_true", help="skip writing the PNG")
    demo.set_defaults(run=_demo)

    se = sub.add_parser("search", help="search hyper-parameters (Optuna + ensembles + exact ridge path)",
                        description="Search ESN hyper-parameters on a built-in dataset or a CSV series; "
                                    "writes results.csv, plots and the best model to --out.")
    se.add_argument("--data", default="mackey_glass",
                    help=f"built-in dataset ({', '.join(BUILTIN)}) or a CSV file of one series (default mackey_glass)")
    se.add_argument("--steps", type=int, default=3000, help="length of a built-in series (default 3000)")
    se.add_argument("--space", help="search-space TOML file (default: spectral radius, leak, input scaling "
                                    "at N=500)")
    d = SEARCH_DEFAULTS
    se.add_argument("--objective", choices=OBJECTIVES)
    se.add_argument("--sampler", choices=SAMPLERS)
    se.add_argument("--trials", type=int, help=f"trials the study should hold when done (default {d['trials']})")
    se.add_argument("--batch-size", type=int, help=f"configurations harvested together (default {d['batch_size']})")
    se.add_argument("--validation", type=float, help=f"fraction of the series held out (default {d['validation']})")
    se.add_argument("--split", type=int, help="index of the first validation step, instead of --validation")
    se.add_argument("--folds", type=int, help="blocked k-fold validation instead of one split")
    se.add_argument("--horizon", type=int, help=f"free-run steps scored (default {d['horizon']})")
    se.add_argument("--starts", type=int, help=f"free-run starting points (default {d['starts']})")
    se.add_argument("--warmup", type=int, help=f"steps each free run is warmed up on (default {d['warmup']})")
    se.add_argument("--threshold", type=float, help=f"VPT error threshold (default {d['threshold']})")
    se.add_argument("--time-scale", type=float, help="VPT units per step (default: Lyapunov times for "
                                                     "lorenz/rossler, else steps)")
    se.add_argument("--ridge-candidates", type=int)
    se.add_argument("--dtype", choices=DTYPES)
    se.add_argument("--device", help="torch device the ensembles run on, e.g. cuda (default cpu)")
    se.add_argument("--seed", type=int, help=f"sampler seed (default {d['seed']})")
    se.add_argument("--timeout", type=float, help="stop proposing trials after this many seconds")
    se.add_argument("--scheduler", help="'local' for a Dask LocalCluster, or a scheduler address "
                                        "tcp://host:8786 (default: run in this process)")
    se.add_argument("--workers", type=int, help="LocalCluster worker processes (default: CPU count)")
    se.add_argument("--storage", help="Optuna storage URL or SQLite file (default OUT/study.db)")
    se.add_argument("--study-name", default="esnkit-search")
    se.add_argument("--out", default="esnkit-search", help="output folder (default ./esnkit-search)")
    se.add_argument("--plot-horizon", type=int, default=500)
    se.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    se.add_argument("--no-plot", action="store_true")
    se.add_argument("--quiet", action="store_true", help="no progress bar")
    se.set_defaults(run=_search)

    be = sub.add_parser("bench", help="chaotic forecasting benchmark: esnkit vs an LSTM and reservoirpy",
                        description="Run the pinned Mackey-Glass NRMSE84, Lorenz-63 and Rössler VPT protocols "
                                    "against a tuned LSTM (and reservoirpy when installed); writes results.md, "
                                    "results.json and PNGs to --out.")
    be.add_argument("--quick", action="store_true", help="smoke test: few test starts, seeds and LSTM seconds "
                                                         "(about a minute; numbers not for quoting)")
    be.add_argument("--protocol", action="append", choices=PROTOCOLS,
                    help="run only this protocol (repeatable; default all)")
    be.add_argument("--lstm-budget", type=float, help=f"LSTM training seconds per seed (default "
                                                      f"{LSTM_BUDGET['full']:g}; quick {LSTM_BUDGET['quick']:g})")
    be.add_argument("--no-reservoirpy", action="store_true", help="skip reservoirpy even when installed")
    be.add_argument("--out", default="esnkit-bench", help="output folder (default ./esnkit-bench)")
    be.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    be.set_defaults(run=_bench)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.command_line = " ".join(["esnkit", *(sys.argv[1:] if argv is None else argv)])
    if args.command is None:
        parser.print_help()
        return 2
    if getattr(args, "reservoir_size", 1) < 1:
        parser.error("--reservoir-size must be ≥ 1")
    if args.command == "demo" and not 1 <= args.horizon <= 1000:
        parser.error("--horizon must be in 1..1000")
    from esnkit.errors import MissingExtraError  # the arguments are fine: now esnkit may be imported

    try:
        return args.run(args)
    except (ValueError, TypeError, FloatingPointError, FileNotFoundError, MissingExtraError) as exc:
        print(f"esnkit: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
