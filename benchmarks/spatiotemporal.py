"""Parallel reservoirs against one global reservoir on spatiotemporal chaos: Kuramoto–Sivashinsky and Lorenz-96.

    OMP_NUM_THREADS=1 python benchmarks/spatiotemporal.py                  # KS L = 22 and Lorenz-96: about an hour
    OMP_NUM_THREADS=1 python benchmarks/spatiotemporal.py --systems ks200  # KS L = 200: about 45 minutes
    OMP_NUM_THREADS=1 python benchmarks/spatiotemporal.py --quick          # a smoke run: small models, short series
    OMP_NUM_THREADS=1 python benchmarks/spatiotemporal.py --cost           # the closed loop's cost at L = 200 scale

- Kuramoto–Sivashinsky, L = 22, Q = 64 grid points, and L = 200, Q = 512, both dt = 0.25
  (``esnkit.datasets.kuramoto_sivashinsky``), and Lorenz-96, 40 variables, F = 8, dt = 0.01
  (``esnkit.datasets.lorenz96``). Each series is standardised with one mean and one standard
  deviation of its training part.
- 20,000 training steps; after them a validation part (5 starts) and a test part (20 starts), never
  seen in training. Each start warms a model up on ``history`` steps and forecasts ``horizon`` steps
  in closed loop.
- Valid prediction time (``esnkit.metrics.valid_prediction_time``, threshold 0.3, the error
  normalised by the training part's per-point standard deviation) in Lyapunov times, with the largest
  Lyapunov exponent ``esnkit.datasets.largest_lyapunov_exponent`` measures for the same system.
- Models: one global ``esnkit.ESN`` and ``esnkit.ParallelESN`` (independent and shared, with a linear
  readout or, as Pathak et al. 2018, every second neuron squared: ``features="squared"``), every
  reservoir of spectral radius 0.6, 3 nonzeros per row, bias scaling 0.5, no leak, washout 100.
  Input scaling and ridge are picked per model from a small grid (``GRID``, or the system's own) by
  the validation starts' median with reservoir seed 0; the test starts are then scored once per seed
  in ``SEEDS`` with that choice, and the table gives the median (and quartiles) over seeds and starts
  together, and each seed's median.
- Fit time: wall-clock seconds of ``fit`` with one thread (seed 0); peak memory: growth of the
  process's peak RSS over fit and forecast (``esnkit.benchmarks.measure.PeakRSS``, seed 0); forecast
  time: wall-clock seconds of the batched forecast of the 20 test starts (seed 0).

Writes benchmarks/results/spatiotemporal.md (``--systems ks200``: spatiotemporal_l200.md), .json and
one space-time PNG per system (truth, forecast and error of the best parallel model, seed 0, on the
first test start).

``--cost`` times instead the closed loop at the scale of Kuramoto–Sivashinsky with L = 200 (Q = 512,
g = 64 groups, overlap 6): a model fitted on 500 steps, then ``generate(100)`` (milliseconds per
step, one thread), next to the multiply-adds per step of the groups' own input and readout products
(what ParallelESN computes) and of one dense field-wide input matrix ``(g N) x Q`` and readout
``Q x (1 + Q + g N)`` (3 nonzeros per row of W in both). Writes
benchmarks/results/spatiotemporal_cost.md and .json.
"""

from __future__ import annotations

import argparse
import datetime
import itertools
import json
import platform
import tempfile
import time
import warnings
from pathlib import Path

import _report
import numpy as np
import torch

import esnkit as ek
from esnkit.benchmarks.measure import PeakRSS

HERE = Path(__file__).resolve().parent
TRAIN, VAL_STARTS, TEST_STARTS = 20_000, 5, 20
COMMON = dict(spectral_radius=0.6, in_degree=3, bias_scaling=0.5, washout=100)
GRID = {"input_scaling": (0.02, 0.05, 0.1), "ridge": (1e-8, 1e-6, 1e-4)}
# Reservoir seeds of the test runs (the grid is searched with the first): the median is over seeds and starts.
SEEDS = (0, 1, 2)

SYSTEMS = {
    "ks": dict(title="Kuramoto–Sivashinsky, L = 22, Q = 64, dt = 0.25", history=200, horizon=800, stride=500,
               dt=0.25, data=dict(L=22.0, Q=64, dt=0.25),
               models=[("ESN, N = 2000 (global)", "esn", dict(reservoir_size=2000)),
                       ("ESN, N = 8000 (global, the size of g = 8 x 1000)", "esn", dict(reservoir_size=8000)),
                       ("ESN, N = 16000 (global, the size of g = 8 x 2000)", "esn", dict(reservoir_size=16000)),
                       ("ParallelESN g = 8, l = 6, N = 1000, independent", "par",
                        dict(groups=8, overlap=6, reservoir_size=1000)),
                       ("ParallelESN g = 8, l = 6, N = 1000, shared", "par",
                        dict(groups=8, overlap=6, shared=True, reservoir_size=1000)),
                       ("ParallelESN g = 8, l = 6, N = 1000, shared, squared", "par",
                        dict(groups=8, overlap=6, shared=True, reservoir_size=1000, features="squared")),
                       ("ParallelESN g = 8, l = 6, N = 2000, shared, squared", "par",
                        dict(groups=8, overlap=6, shared=True, reservoir_size=2000, features="squared")),
                       ("ParallelESN g = 16, l = 6, N = 500, independent", "par",
                        dict(groups=16, overlap=6, reservoir_size=500))]),
    "ks200": dict(title="Kuramoto–Sivashinsky, L = 200, Q = 512, dt = 0.25", history=200, horizon=800, stride=500,
                  dt=0.25, data=dict(L=200.0, Q=512, dt=0.25),
                  grid={"input_scaling": (0.05, 0.1), "ridge": (1e-3, 1e-2)},
                  models=[("ESN, N = 4000 (global)", "esn", dict(reservoir_size=4000)),
                          ("ParallelESN g = 64, l = 6, N = 1000, shared, squared", "par",
                           dict(groups=64, overlap=6, shared=True, reservoir_size=1000, features="squared")),
                          ("ParallelESN g = 64, l = 6, N = 1000, independent, squared", "par",
                           dict(groups=64, overlap=6, reservoir_size=1000, features="squared"))]),
    "l96": dict(title="Lorenz-96, 40 variables, F = 8, dt = 0.01", history=300, horizon=600, stride=1000, dt=0.01,
                data=dict(dim=40, F=8.0, dt=0.01),
                models=[("ESN, N = 4000 (global)", "esn", dict(reservoir_size=4000)),
                        ("ParallelESN g = 8, l = 3, N = 500, independent", "par",
                         dict(groups=8, overlap=3, reservoir_size=500)),
                        ("ParallelESN g = 8, l = 3, N = 500, shared", "par",
                         dict(groups=8, overlap=3, shared=True, reservoir_size=500)),
                        ("ParallelESN g = 8, l = 3, N = 500, shared, squared", "par",
                         dict(groups=8, overlap=3, shared=True, reservoir_size=500, features="squared"))]),
}


def generate(name: str, n: int, quick: bool) -> tuple[np.ndarray, float]:
    """The series (n, Q) and its largest Lyapunov exponent."""
    spec = SYSTEMS[name]["data"]
    if name.startswith("ks"):
        data = ek.datasets.kuramoto_sivashinsky(n, seed=0, **spec)
        lyap = ek.datasets.largest_lyapunov_exponent("kuramoto_sivashinsky", duration=500 if quick else None, **spec)
    else:
        data = ek.datasets.lorenz96(n, seed=0, **spec)
        flow = {k: v for k, v in spec.items() if k != "dt"}  # a flow's exponent does not depend on the sampling
        lyap = ek.datasets.largest_lyapunov_exponent("lorenz96", duration=50 if quick else None, **flow)
    return data, lyap


def windows(series: np.ndarray, first: int, starts: int, history: int, horizon: int, stride: int):
    """Histories (starts, history, Q) and the truth that follows each (starts, horizon, Q)."""
    idx = [first + i * stride for i in range(starts)]
    return (np.stack([series[i:i + history] for i in idx]),
            np.stack([series[i + history:i + history + horizon] for i in idx]))


def build(kind: str, size: dict, quick: bool, **hyper):
    p = {**COMMON, **hyper}
    if quick:
        size = {**size, "reservoir_size": max(50, size["reservoir_size"] // 10)}
    return ek.ESN(**size, **p) if kind == "esn" else ek.ParallelESN(**size, **p)


def fit(model, train: np.ndarray):
    if isinstance(model, ek.ParallelESN):
        return model.fit(train)
    return model.fit(train[:-1], train[1:])


def vpt(model, H, T, dt: float, lyap: float, scale: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ek.OutputRangeWarning)  # a diverged forecast is scored, not stopped
        f = model.forecast(H, T.shape[1], check_finite=False)
    seconds = time.perf_counter() - t0
    v = ek.metrics.valid_prediction_time(T, f, threshold=0.3, dt=dt, lyapunov_exponent=lyap, scale=scale)
    return np.asarray(v), f, seconds


def run_system(name: str, quick: bool, out_dir: Path) -> dict:
    spec = SYSTEMS[name]
    hist, hor, stride, dt = spec["history"], spec["horizon"], spec["stride"], spec["dt"]
    train_n = 2000 if quick else TRAIN
    val_first = train_n + 200
    test_first = val_first + VAL_STARTS * stride + 200
    n = test_first + (TEST_STARTS - 1) * stride + hist + hor
    t0 = time.perf_counter()
    raw, lyap = generate(name, n, quick)
    data_seconds = time.perf_counter() - t0
    mean, sd = raw[:train_n].mean(), raw[:train_n].std()
    s = (raw - mean) / sd
    train = s[:train_n]
    scale = train.std(axis=0)
    Hv, Tv = windows(s, val_first, VAL_STARTS, hist, hor, stride)
    Ht, Tt = windows(s, test_first, TEST_STARTS, hist, hor, stride)
    rows = []
    best_parallel = None
    grid = spec.get("grid", GRID)
    for label, kind, size in spec["models"]:
        tried = []
        for isc, ridge in itertools.product(grid["input_scaling"], grid["ridge"]):
            model = fit(build(kind, size, quick, input_scaling=isc, ridge=ridge, seed=SEEDS[0]), train)
            v, _, _ = vpt(model, Hv, Tv, dt, lyap.exponent, scale)
            tried.append({"input_scaling": isc, "ridge": ridge, "val_median": float(np.median(v))})
            print(f"  {name} {label}: input_scaling={isc} ridge={ridge}: validation median {np.median(v):.2f}",
                  flush=True)
        pick = max(tried, key=lambda r: r["val_median"])
        per_seed = []
        for seed in SEEDS:
            with PeakRSS() as mem:
                model = build(kind, size, quick, input_scaling=pick["input_scaling"], ridge=pick["ridge"], seed=seed)
                t0 = time.perf_counter()
                fit(model, train)
                fit_seconds = time.perf_counter() - t0
                v, f, fc_seconds = vpt(model, Ht, Tt, dt, lyap.exponent, scale)
            per_seed.append({"seed": seed, "vpt": v.round(4).tolist(), "median": float(np.median(v)),
                             "fit_seconds": fit_seconds, "forecast_seconds": fc_seconds, "peak_mb": mem.mb})
            if seed == SEEDS[0]:
                first = f
        v = np.concatenate([r["vpt"] for r in per_seed])
        row = {"model": label, "input_scaling": pick["input_scaling"], "ridge": pick["ridge"],
               "reservoir_size": model.reservoir_size, "val_median": pick["val_median"],
               "median": float(np.median(v)), "q25": float(np.quantile(v, 0.25)), "q75": float(np.quantile(v, 0.75)),
               "seed_medians": [r["median"] for r in per_seed], "fit_seconds": per_seed[0]["fit_seconds"],
               "forecast_seconds": per_seed[0]["forecast_seconds"], "peak_mb": per_seed[0]["peak_mb"],
               "seeds": per_seed, "grid": tried}
        rows.append(row)
        print(f"{name} {label}: test median {row['median']:.2f} Lyapunov times (per seed "
              f"{', '.join(f'{m:.2f}' for m in row['seed_medians'])}), fit {row['fit_seconds']:.1f} s", flush=True)
        if kind == "par" and (best_parallel is None or row["median"] > best_parallel[0]):
            best_parallel = (row["median"], label, first[0], Tt[0])
    image = out_dir / f"spatiotemporal_{name}.png"
    space_time(image, spec["title"], best_parallel, dt * lyap.exponent)
    return {"system": spec["title"], "lyapunov_exponent": lyap.exponent, "lyapunov_stderr": lyap.stderr,
            "train_steps": train_n, "history": hist, "horizon": hor, "test_starts": TEST_STARTS,
            "validation_starts": VAL_STARTS, "data_seconds": data_seconds, "image": image.name, "grid": grid,
            "rows": rows}


def space_time(path: Path, title: str, best, lyap_per_step: float) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    _, label, forecast, truth = best
    extent = [0, truth.shape[0] * lyap_per_step, 0, truth.shape[1]]
    fig, axes = plt.subplots(3, 1, figsize=(9, 6), sharex=True)
    lim = np.abs(truth).max()
    for ax, (name, field, cmap) in zip(axes, [("truth", truth, "RdBu_r"), ("forecast", forecast, "RdBu_r"),
                                            ("error", forecast - truth, "RdBu_r")]):
        im = ax.imshow(np.clip(field, -2 * lim, 2 * lim).T, aspect="auto", origin="lower", extent=extent, cmap=cmap,
                       vmin=-lim, vmax=lim)
        ax.set_ylabel(f"{name}\ngrid point")
        fig.colorbar(im, ax=ax)
    axes[0].set_title(f"{title}\n{label}, first test start", fontsize=10)
    axes[-1].set_xlabel("Lyapunov times")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def cost(out: Path) -> None:
    Q, g, l, steps = 512, 64, 6, 100
    field = ek.datasets.kuramoto_sivashinsky(500, L=200.0, Q=Q, dt=0.25, seed=0)
    field = (field - field.mean()) / field.std()
    rows = []
    for N in (250, 500, 1000, 2000):
        model = ek.ParallelESN(g, l, reservoir_size=N, input_scaling=0.05, ridge=1e-6, seed=0, **COMMON)
        t0 = time.perf_counter()
        model.fit(field)
        fit_seconds = time.perf_counter() - t0
        model.generate(5, check_finite=False)
        t0 = time.perf_counter()
        model.generate(steps, check_finite=False)
        per_step = (time.perf_counter() - t0) / steps
        gN, w = g * N, Q // g + 2 * l
        rows.append({"N": N, "fit_seconds_500_steps": fit_seconds, "ms_per_step": 1e3 * per_step,
                     "dense_madds": 3 * gN + gN * Q + Q * (1 + Q + gN),
                     "block_madds": 3 * gN + gN * w + Q * (1 + w + N)})
        print(f"N = {N}: fit {fit_seconds:.1f} s, {1e3 * per_step:.2f} ms per closed-loop step", flush=True)
    cmd = "OMP_NUM_THREADS=1 python benchmarks/spatiotemporal.py --cost"
    meta = {"date": datetime.date.today().isoformat(), "machine": _report.machine(), "command": cmd,
            "Q": Q, "groups": g, "overlap": l, "rows": rows}
    out.with_suffix(".json").write_text(json.dumps(meta, indent=1))
    lines = ["# ParallelESN closed loop at Kuramoto–Sivashinsky L = 200 scale", "",
             f"Command: `{cmd}` ({meta['date']}; {meta['machine']}, one thread). Q = {Q}, g = {g}, overlap {l}; "
             "protocol: benchmarks/spatiotemporal.py's docstring.", "",
             "| N per group | fit on 500 steps [s] | closed loop [ms/step] | multiply-adds per step, the groups' "
             "products | with dense field-wide input and readout matrices |", "|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['N']} | {r['fit_seconds_500_steps']:.1f} | {r['ms_per_step']:.2f} | "
                     f"{r['block_madds'] / 1e6:.2f} M | {r['dense_madds'] / 1e6:.1f} M |")
    _report.write(str(out), lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="a smoke run: models a tenth the size, 2000 training steps")
    ap.add_argument("--out", default=None, help="the results table (default benchmarks/results/spatiotemporal.md; "
                    "with --quick a temporary directory's, so a smoke run never replaces the results)")
    ap.add_argument("--systems", default="ks,l96", help="comma-separated: ks, l96, ks200 (Kuramoto–Sivashinsky "
                    "with L = 200: about 45 minutes; its results go to spatiotemporal_l200.md unless --out says)")
    ap.add_argument("--cost", action="store_true", help="time the closed loop at L = 200 scale instead")
    args = ap.parse_args()
    torch.set_num_threads(1)
    if args.cost:
        cost(Path(args.out or HERE / "results" / "spatiotemporal_cost.md"))
        return
    systems = args.systems.split(",")
    unknown = [n for n in systems if n not in SYSTEMS]
    if unknown:
        ap.error(f"unknown system(s) {unknown}: choose among {list(SYSTEMS)}")
    stem = "spatiotemporal_l200" if systems == ["ks200"] else "spatiotemporal"
    out = Path(args.out or (Path(tempfile.mkdtemp()) / f"{stem}.md" if args.quick
                            else HERE / "results" / f"{stem}.md"))
    out.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    results = [run_system(name, args.quick, out.parent) for name in systems]
    if args.quick:  # the labels name the full sizes
        for r in results:
            for row in r["rows"]:
                row["model"] += f" [--quick: N = {row['reservoir_size']}]"
    cmd = "OMP_NUM_THREADS=1 python benchmarks/spatiotemporal.py" + (" --quick" if args.quick else "") \
        + ("" if args.systems == "ks,l96" else f" --systems {args.systems}")
    meta = {"date": datetime.date.today().isoformat(), "machine": _report.machine(), "command": cmd,
            "python": platform.python_version(), "torch": torch.__version__, "common": COMMON, "seeds": SEEDS,
            "seconds": time.perf_counter() - started, "systems": results}
    out.with_suffix(".json").write_text(json.dumps(meta, indent=1))
    lines = [
        "# Parallel reservoirs on spatiotemporal chaos",
        "",
        f"Command: `{cmd}` ({meta['date']}; {meta['machine']}, one thread; Python {meta['python']}, "
        f"torch {meta['torch']}; {meta['seconds']:.0f} s in all). Protocol: benchmarks/spatiotemporal.py's docstring.",
        "",
        f"Every reservoir: {', '.join(f'{k}={v}' for k, v in COMMON.items())}; input scaling and ridge picked "
        f"on the validation starts with seed {SEEDS[0]}, then every model tested with seeds {SEEDS}: the "
        "median and quartiles are over seeds and test starts together.",
    ]
    for r in results:
        lines += ["", f"## {r['system']}", "",
                  f"Largest Lyapunov exponent {r['lyapunov_exponent']:.4f} ± {r['lyapunov_stderr']:.4f} "
                  f"(one Lyapunov time = {1 / r['lyapunov_exponent']:.3g} time units). {r['train_steps']} training "
                  f"steps; {r['test_starts']} test starts, each warmed up on {r['history']} steps and forecast "
                  f"{r['horizon']} steps; input scaling x ridge grid {r['grid']['input_scaling']} x "
                  f"{r['grid']['ridge']}. Space-time image: {r['image']}.", "",
                  "| model | input scaling | ridge | valid time, median (quartiles) [Lyapunov times] | median per "
                  "seed | validation median | fit [s] | forecast of all starts [s] | peak memory [MB] |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for row in r["rows"]:
            mb = "n/a" if row["peak_mb"] is None else f"{row['peak_mb']:.0f}"
            seeds = ", ".join(f"{m:.2f}" for m in row["seed_medians"])
            lines.append(f"| {row['model']} | {row['input_scaling']} | {row['ridge']:g} | {row['median']:.2f} "
                         f"({row['q25']:.2f}–{row['q75']:.2f}) | {seeds} | {row['val_median']:.2f} | "
                         f"{row['fit_seconds']:.1f} | {row['forecast_seconds']:.2f} | {mb} |")
    _report.write(str(out), lines)


if __name__ == "__main__":
    main()
