"""Parallel reservoirs against one global reservoir on spatiotemporal chaos: Kuramoto–Sivashinsky and Lorenz-96.

    OMP_NUM_THREADS=1 python benchmarks/spatiotemporal.py            # about ten minutes on 2 vCPUs
    OMP_NUM_THREADS=1 python benchmarks/spatiotemporal.py --quick    # a smoke run: small models, short series
    OMP_NUM_THREADS=1 python benchmarks/spatiotemporal.py --cost     # the closed loop's cost at L = 200 scale

- Kuramoto–Sivashinsky, L = 22, Q = 64 grid points, dt = 0.25 (``esnkit.datasets.kuramoto_sivashinsky``),
  and Lorenz-96, 40 variables, F = 8, dt = 0.01 (``esnkit.datasets.lorenz96``). Each series is
  standardised with one mean and one standard deviation of its training part.
- 20,000 training steps; after them a validation part (5 starts) and a test part (20 starts), never
  seen in training. Each start warms a model up on ``HISTORY`` steps and forecasts ``HORIZON`` steps
  in closed loop.
- Valid prediction time (``esnkit.metrics.valid_prediction_time``, threshold 0.3, the error
  normalised by the training part's per-point standard deviation) in Lyapunov times, with the largest
  Lyapunov exponent ``esnkit.datasets.largest_lyapunov_exponent`` measures for the same system; the
  table gives the median (and quartiles) over the test starts.
- Models: one global ``esnkit.ESN`` and ``esnkit.ParallelESN`` (independent and shared, with a linear
  readout or, as Pathak et al. 2018, every second neuron squared: ``features="squared"``), every
  reservoir of spectral radius 0.6, 3 nonzeros per row, bias scaling 0.5, no leak, washout 100.
  Input scaling and ridge are picked per model from a small grid by the validation starts' median;
  the test starts are scored once, with that choice.
- Fit time: wall-clock seconds of ``fit`` with one thread; peak memory: growth of the process's peak
  RSS over fit and forecast (``esnkit.benchmarks.measure.PeakRSS``); forecast time: wall-clock seconds
  of the batched forecast of the 20 test starts.

Writes benchmarks/results/spatiotemporal.md, .json and one space-time PNG per system (truth,
forecast and error of the best parallel model on the first test start).

``--cost`` times instead the closed loop at the scale of Kuramoto–Sivashinsky with L = 200 (Q = 512,
g = 64 groups, overlap 6): a model fitted on 500 steps, then ``generate(100)`` (milliseconds per
step, one thread), next to the multiply-adds per step of the stacked network (dense ``(g N) x Q``
input weights and ``Q x (1 + Q + g N)`` readout, 3 nonzeros per row of W) and of its block structure
alone. Writes benchmarks/results/spatiotemporal_cost.md and .json.
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
COMMON = dict(spectral_radius=0.6, in_degree=3, bias_scaling=0.5, washout=100, seed=0)
GRID = {"input_scaling": (0.02, 0.05, 0.1), "ridge": (1e-8, 1e-6, 1e-4)}

SYSTEMS = {
    "ks": dict(title="Kuramoto–Sivashinsky, L = 22, Q = 64, dt = 0.25", history=200, horizon=800, stride=500,
               dt=0.25, data=dict(L=22.0, Q=64, dt=0.25),
               models=[("ESN, N = 2000 (global)", "esn", dict(reservoir_size=2000)),
                       ("ParallelESN g = 8, l = 6, N = 1000, independent", "par",
                        dict(groups=8, overlap=6, reservoir_size=1000)),
                       ("ParallelESN g = 8, l = 6, N = 1000, shared", "par",
                        dict(groups=8, overlap=6, shared=True, reservoir_size=1000)),
                       ("ParallelESN g = 8, l = 6, N = 1000, shared, squared", "par",
                        dict(groups=8, overlap=6, shared=True, reservoir_size=1000, features="squared")),
                       ("ParallelESN g = 16, l = 6, N = 500, independent", "par",
                        dict(groups=16, overlap=6, reservoir_size=500))]),
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
    if name == "ks":
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
    for label, kind, size in spec["models"]:
        tried = []
        for isc, ridge in itertools.product(GRID["input_scaling"], GRID["ridge"]):
            model = fit(build(kind, size, quick, input_scaling=isc, ridge=ridge), train)
            v, _, _ = vpt(model, Hv, Tv, dt, lyap.exponent, scale)
            tried.append({"input_scaling": isc, "ridge": ridge, "val_median": float(np.median(v))})
            print(f"  {name} {label}: input_scaling={isc} ridge={ridge}: validation median {np.median(v):.2f}",
                  flush=True)
        pick = max(tried, key=lambda r: r["val_median"])
        with PeakRSS() as mem:
            model = build(kind, size, quick, input_scaling=pick["input_scaling"], ridge=pick["ridge"])
            t0 = time.perf_counter()
            fit(model, train)
            fit_seconds = time.perf_counter() - t0
            v, f, fc_seconds = vpt(model, Ht, Tt, dt, lyap.exponent, scale)
        row = {"model": label, "input_scaling": pick["input_scaling"], "ridge": pick["ridge"],
               "reservoir_size": model.reservoir_size, "val_median": pick["val_median"],
               "median": float(np.median(v)), "q25": float(np.quantile(v, 0.25)), "q75": float(np.quantile(v, 0.75)),
               "vpt": v.round(4).tolist(), "fit_seconds": fit_seconds, "forecast_seconds": fc_seconds,
               "peak_mb": mem.mb, "grid": tried}
        rows.append(row)
        print(f"{name} {label}: test median {row['median']:.2f} Lyapunov times, fit {fit_seconds:.1f} s", flush=True)
        if kind == "par" and (best_parallel is None or row["median"] > best_parallel[0]):
            best_parallel = (row["median"], label, f[0], Tt[0])
    image = out_dir / f"spatiotemporal_{name}.png"
    space_time(image, spec["title"], best_parallel, dt * lyap.exponent)
    return {"system": spec["title"], "lyapunov_exponent": lyap.exponent, "lyapunov_stderr": lyap.stderr,
            "train_steps": train_n, "history": hist, "horizon": hor, "test_starts": TEST_STARTS,
            "validation_starts": VAL_STARTS, "data_seconds": data_seconds, "image": image.name, "rows": rows}


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
    for N in (250, 500):
        model = ek.ParallelESN(g, l, reservoir_size=N, input_scaling=0.05, ridge=1e-6, **COMMON)
        t0 = time.perf_counter()
        model.fit(field)
        fit_seconds = time.perf_counter() - t0
        model.generate(5, check_finite=False)
        t0 = time.perf_counter()
        model.generate(steps, check_finite=False)
        per_step = (time.perf_counter() - t0) / steps
        gN, w = g * N, Q // g + 2 * l
        rows.append({"N": N, "fit_seconds_500_steps": fit_seconds, "ms_per_step": 1e3 * per_step,
                     "stacked_madds": 3 * gN + gN * Q + Q * (1 + Q + gN),
                     "block_madds": 3 * gN + gN * w + Q * (1 + w + N)})
    cmd = "OMP_NUM_THREADS=1 python benchmarks/spatiotemporal.py --cost"
    meta = {"date": datetime.date.today().isoformat(), "machine": _report.machine(), "command": cmd,
            "Q": Q, "groups": g, "overlap": l, "rows": rows}
    out.with_suffix(".json").write_text(json.dumps(meta, indent=1))
    lines = ["# ParallelESN closed loop at Kuramoto–Sivashinsky L = 200 scale", "",
             f"Command: `{cmd}` ({meta['date']}; {meta['machine']}, one thread). Q = {Q}, g = {g}, overlap {l}; "
             "protocol: benchmarks/spatiotemporal.py's docstring.", "",
             "| N per group | fit on 500 steps [s] | closed loop [ms/step] | multiply-adds per step, stacked | "
             "multiply-adds per step, block structure |", "|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['N']} | {r['fit_seconds_500_steps']:.1f} | {r['ms_per_step']:.1f} | "
                     f"{r['stacked_madds'] / 1e6:.1f} M | {r['block_madds'] / 1e6:.2f} M |")
    _report.write(str(out), lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="a smoke run: models a tenth the size, 2000 training steps")
    ap.add_argument("--out", default=None, help="the results table (default benchmarks/results/spatiotemporal.md; "
                    "with --quick a temporary directory's, so a smoke run never replaces the results)")
    ap.add_argument("--systems", default="ks,l96", help="comma-separated: ks, l96")
    ap.add_argument("--cost", action="store_true", help="time the closed loop at L = 200 scale instead")
    args = ap.parse_args()
    torch.set_num_threads(1)
    if args.cost:
        cost(Path(args.out or HERE / "results" / "spatiotemporal_cost.md"))
        return
    out = Path(args.out or (Path(tempfile.mkdtemp()) / "spatiotemporal.md" if args.quick
                            else HERE / "results" / "spatiotemporal.md"))
    out.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    results = [run_system(name, args.quick, out.parent) for name in args.systems.split(",")]
    if args.quick:  # the labels name the full sizes
        for r in results:
            for row in r["rows"]:
                row["model"] += f" [--quick: N = {row['reservoir_size']}]"
    cmd = "OMP_NUM_THREADS=1 python benchmarks/spatiotemporal.py" + (" --quick" if args.quick else "")
    meta = {"date": datetime.date.today().isoformat(), "machine": _report.machine(), "command": cmd,
            "python": platform.python_version(), "torch": torch.__version__, "common": COMMON, "grid": GRID,
            "seconds": time.perf_counter() - started, "systems": results}
    out.with_suffix(".json").write_text(json.dumps(meta, indent=1))
    lines = [
        "# Parallel reservoirs on spatiotemporal chaos",
        "",
        f"Command: `{cmd}` ({meta['date']}; {meta['machine']}, one thread; Python {meta['python']}, "
        f"torch {meta['torch']}; {meta['seconds']:.0f} s in all). Protocol: benchmarks/spatiotemporal.py's docstring.",
        "",
        f"Every reservoir: {', '.join(f'{k}={v}' for k, v in COMMON.items())}; input scaling and ridge picked "
        f"from {GRID['input_scaling']} x {GRID['ridge']} on the validation starts.",
    ]
    for r in results:
        lines += ["", f"## {r['system']}", "",
                  f"Largest Lyapunov exponent {r['lyapunov_exponent']:.4f} ± {r['lyapunov_stderr']:.4f} "
                  f"(one Lyapunov time = {1 / r['lyapunov_exponent']:.3g} time units). {r['train_steps']} training "
                  f"steps; {r['test_starts']} test starts, each warmed up on {r['history']} steps and forecast "
                  f"{r['horizon']} steps. Space-time image: {r['image']}.", "",
                  "| model | input scaling | ridge | valid time, median (quartiles) [Lyapunov times] | validation "
                  "median | fit [s] | forecast of all starts [s] | peak memory [MB] |",
                  "|---|---|---|---|---|---|---|---|"]
        for row in r["rows"]:
            mb = "n/a" if row["peak_mb"] is None else f"{row['peak_mb']:.0f}"
            lines.append(f"| {row['model']} | {row['input_scaling']} | {row['ridge']:g} | {row['median']:.2f} "
                         f"({row['q25']:.2f}–{row['q75']:.2f}) | {row['val_median']:.2f} | {row['fit_seconds']:.1f} | "
                         f"{row['forecast_seconds']:.2f} | {mb} |")
    _report.write(str(out), lines)


if __name__ == "__main__":
    main()
