"""The ``esnkit`` command line: ``esnkit demo`` trains on Mackey-Glass and plots a free-running forecast."""

from __future__ import annotations

import argparse
import os
import sys
import time


def _demo(args: argparse.Namespace) -> int:
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
    one_step = esn.predict(data[n_train : n_train + n_test])
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


def build_parser() -> argparse.ArgumentParser:
    import esnkit as ek

    parser = argparse.ArgumentParser(prog="esnkit", description="Echo State Networks on PyTorch.")
    parser.add_argument("--version", action="version", version=f"esnkit {ek.__version__}")
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
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    if getattr(args, "reservoir_size", 1) < 1:
        parser.error("--reservoir-size must be ≥ 1")
    if getattr(args, "horizon", 1) < 1 or getattr(args, "horizon", 1) > 1000:
        parser.error("--horizon must be in 1..1000")
    try:
        return args.run(args)
    except (ValueError, TypeError, FloatingPointError) as exc:
        print(f"esnkit: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
