"""Search throughput and ridge-path costs: esnkit vs reservoirpy's `research` / `parallel_research`.

    OMP_NUM_THREADS=1 python benchmarks/search_speed.py [--trials 48] [--repeats 3] [--quick] [--device cuda]

Problem (issue 4): Mackey-Glass (tau 17, one sample per time unit) one-step forecasting, N = 500,
2000 training steps (washout 100) and 500 validation steps; the space is spectral radius,
leak rate, input scaling and ridge, sampled at random (hyperopt's `rand` for reservoirpy,
Optuna's RandomSampler for esnkit) for the same number of trials. reservoirpy samples the ridge
as a fourth dimension; esnkit solves every trial over a 25-value ridge grid exactly.
Both use ~10 recurrent connections per neuron, no bias (reservoirpy's default) and one fixed seed.

With ``--device cuda`` the esnkit search also runs its ensembles on the GPU (batches of 8 and of
all trials at once), and the ridge-path and k-fold costs are measured there too; the peers
still run on the CPU of the same machine.

Also measured: the ridge path (50 ridge values vs one, harvest included) and blocked 5-fold
validation vs one split (both over the 25-value grid). Writes benchmarks/results/search_speed.md.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import sys
import tempfile
import time
import warnings

import _report
import torch

import esnkit as ek
from esnkit.models import Ensemble
from esnkit.readout import RidgePath, kfold_sse, ridge_grid, solve_normal_equations

N, TRAIN, VAL, WASHOUT = 500, 2000, 500, 100
PARALLEL = f"reservoirpy parallel_research ({os.cpu_count()} processes)"
SPACE = {"spectral_radius": {"low": 0.1, "high": 1.5, "log": True},
         "leak_rate": {"low": 0.05, "high": 1.0, "log": True},
         "input_scaling": {"low": 0.1, "high": 5.0, "log": True}}


def median_time(fn, repeats):
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def esnkit_search(series, trials, **kw):
    r = ek.search(series, space=SPACE, fixed={"reservoir_size": N, "washout": WASHOUT, "seed": 1234,
                                                "bias_scaling": 0.0},
                  n_trials=trials, validation=VAL / (TRAIN + VAL), sampler="random", progress=False,
                  refit=False, **kw)
    return r.best_value


def reservoirpy_search(series, trials, parallel):
    from reservoirpy.hyper import parallel_research, research
    from reservoirpy.nodes import Reservoir, Ridge
    from reservoirpy.observables import nrmse

    u, y = series[:-1], series[1:]
    dataset = ((u[:TRAIN], y[:TRAIN]), (u[TRAIN:TRAIN + VAL], y[TRAIN:TRAIN + VAL]))

    def objective(dataset, config, *, sr, lr, iss, ridge, seed):
        (xt, yt), (xv, yv) = dataset
        model = Reservoir(N, sr=sr, lr=lr, input_scaling=iss, rc_connectivity=10 / N,
                          seed=seed) >> Ridge(ridge=ridge)
        model.fit(xt, yt, warmup=WASHOUT)
        return {"loss": float(nrmse(yv, model.run(xv)))}

    with tempfile.TemporaryDirectory() as d:
        conf = {"exp": "bench", "hp_max_evals": trials, "hp_method": "random", "seed": 1, "instances_per_trial": 1,
                "hp_space": {"sr": ["loguniform", 0.1, 1.5], "lr": ["loguniform", 0.05, 1.0],
                             "iss": ["loguniform", 0.1, 5.0], "ridge": ["loguniform", 1e-12, 1.0],
                             "seed": ["choice", 1234]}}
        path = os.path.join(d, "bench.config.json")
        with open(path, "w") as f:
            json.dump(conf, f)
        stderr, sys.stderr = sys.stderr, open(os.devnull, "w")  # its progress bar
        try:
            if parallel:
                best, _ = parallel_research(objective, dataset, path, d, n_jobs=os.cpu_count())
            else:
                best, _ = research(objective, dataset, path, d)
        finally:
            sys.stderr.close()
            sys.stderr = stderr
        losses = []
        for root, _, files in os.walk(d):
            for name in files:
                if name.endswith(".json") and "results" in root:
                    with open(os.path.join(root, name)) as f:
                        losses.append(json.load(f)["returned_dict"]["loss"])
    return min(losses) if losses else float("nan")


def path_costs(series, repeats, device=None):
    u, y = (torch.as_tensor(a, device=device) for a in (series[:-1], series[1:]))
    model = ek.ESN(N, spectral_radius=0.9, leak_rate=0.5, washout=WASHOUT, seed=1234, device=device)
    Ensemble([model]).harvest(u, y, split=TRAIN)  # warm the spectral-radius cache and the kernel

    # each returns its errors on the CPU, so that a GPU's queued work is inside the timing
    def one():
        h = Ensemble([model]).harvest(u, y, split=TRAIN)
        w = solve_normal_equations(h.G[0], h.C[0], 1e-8, "cholesky")
        return ((h.Z[0] @ w.T - h.Y) ** 2).sum().cpu()

    def many(num):
        def run():
            h = Ensemble([model]).harvest(u, y, split=TRAIN)
            return RidgePath(h.G, h.C).sse(h.Z, h.Y, ridge_grid(num=num)).cpu()
        return run

    def kfold():
        h = Ensemble([model]).harvest(u, y, keep_all=True)
        return kfold_sse(h.Z, h.Y, 5, ridge_grid()).cpu()

    t1, _ = median_time(one, repeats)
    t50, _ = median_time(many(50), repeats)
    t25, _ = median_time(many(25), repeats)
    tk, _ = median_time(kfold, repeats)
    return t1, t50, t25, tk


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--trials", type=int, default=48)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="16 trials, one repeat, no Dask run")
    ap.add_argument("--device", help="also run the esnkit search on this device (e.g. cuda)")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results", "search_speed.md"))
    args = ap.parse_args()
    if args.quick:
        args.trials, args.repeats = 16, 1
    torch.set_num_threads(1)
    warnings.simplefilter("ignore")
    series = ek.datasets.mackey_glass(TRAIN + VAL + 1, tau=17)
    esnkit_search(series, 8)  # imports, kernel load, spectral-radius cache: paid once per process
    if args.device:
        esnkit_search(series, 8, device=args.device)  # the device's context and libraries
    rows = []
    try:
        import reservoirpy

        rp_version = reservoirpy.__version__
        for parallel in (False, True):
            t, best = median_time(lambda p=parallel: reservoirpy_search(series, args.trials, p), args.repeats)
            name = PARALLEL if parallel else "reservoirpy research"
            rows.append((name, t, best))
    except ImportError:
        rp_version = None
    try:
        import distributed  # noqa: F401
        dask = not args.quick
    except ImportError:
        dask = False
    gpu = [] if not args.device else [
        (f"esnkit search, {args.device}, {dtype}, batches of {b}", {"device": args.device, "dtype": dtype,
                                                                    "batch_size": b})
        for dtype in ("float64", "float32") for b in (8, args.trials)]
    for label, kw in [("esnkit search, in process, float64", {}),
                      ("esnkit search, in process, float32 harvest", {"dtype": "float32"}),
                      *([("esnkit search, Dask LocalCluster (2 workers)", {"scheduler": "local", "workers": 2})]
                        if dask else []),
                      *gpu]:
        t, best = median_time(lambda kw=kw: esnkit_search(series, args.trials, **kw), args.repeats)
        rows.append((label, t, best))
    costs = {"CPU": path_costs(series, max(3, args.repeats))}
    if args.device:
        costs[args.device] = path_costs(series, max(3, args.repeats), args.device)
    ref = {name: t for name, t, _ in rows if name.startswith("reservoirpy")}
    lines = [
        f"# Search speed — {datetime.date.today()}",
        "",
        f"Machine: {_report.machine()}{' (about one core of throughput)' if os.cpu_count() == 2 else ''}"
        f"{f', GPU {torch.cuda.get_device_name()}' if args.device else ''}, one torch/BLAS thread per "
        f"process; Python {platform.python_version()}, torch "
        f"{torch.__version__}, esnkit {ek.__version__}, reservoirpy {rp_version or 'not installed'}. "
        f"Command: `OMP_NUM_THREADS=1 python benchmarks/search_speed.py"
        f"{' --quick' if args.quick else ''}{f' --device {args.device}' if args.device else ''}"
        f"{f' --trials {args.trials}' if args.trials != 48 and not args.quick else ''}"
        f"{f' --repeats {args.repeats}' if args.repeats != 3 and not args.quick else ''}` "
        f"({args.trials} trials, median of {args.repeats}).",
        "",
        "Mackey-Glass one-step forecasting, N = 500, 2000 training + 500 validation steps, random sampling.",
        "",
        "| searcher | seconds | configurations/s | vs research | vs parallel_research | best validation NRMSE |",
        "|---|---|---|---|---|---|",
    ]
    for name, t, best in rows:
        rate = args.trials / t
        r1 = f"{ref['reservoirpy research'] / t:.2f}×" if "reservoirpy research" in ref else "—"
        r2 = f"{ref[PARALLEL] / t:.2f}×" if PARALLEL in ref else "—"
        lines.append(f"| {name} | {t:.2f} | {rate:.1f} | {r1} | {r2} | {best:.3g} |")
    lines += [
        "",
        "Ridge path and k-fold, one configuration (harvest of 2500 steps included, median of "
        f"{max(3, args.repeats)}):",
        "",
        "| work | " + " | ".join(f"{where} seconds | ratio" for where in costs) + " |",
        "|---|" + "---|---|" * len(costs),
    ]
    works = [("harvest + one ridge value (Cholesky) + validation error", 0, None, "1"),
             ("harvest + 50 ridge values (one eigendecomposition) + validation errors", 1, 0, "× one value"),
             ("single split, 25 ridge values", 2, None, "1"),
             ("blocked 5-fold, 25 ridge values", 3, 2, "× single split")]
    for label, i, base, unit in works:
        cells = [f"{c[i]:.3f} | " + (unit if base is None else f"{c[i] / c[base]:.2f}{unit}") for c in costs.values()]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    _report.write(args.out, lines)


if __name__ == "__main__":
    main()
