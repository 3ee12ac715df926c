"""The online readouts against the closed-form ridge readout, on the same feature rows: fit time and
agreement.

    OMP_NUM_THREADS=1 python benchmarks/online.py            # under a minute
    OMP_NUM_THREADS=1 python benchmarks/online.py --quick    # 3 timing repeats instead of 7, 3 FORCE seeds instead of 5

Rows: the features ``[1; u; x]`` of an esnkit ESN (reservoir_size N, seed 0, washout 100) driven by
Mackey-Glass (tau = 17, ``esnkit.datasets.mackey_glass``), one-step-ahead targets; T rows in chunks
of 500, as the harvest feeds a trainer. Timed: ``start``, every ``update`` and ``solve`` of
``Ridge(1e-6)``, ``RLS(ridge=1e-6)`` (forgetting 1: Woodbury blocks of 64 rows), ``RLS(0.999,
ridge=1e-6)`` (one row at a time) and ``LMS(0.5)`` (normalised, one pass). Agreement: the relative
Frobenius distance of the weights to Ridge's, and the training NRMSE. Process CPU time, one thread,
medians of interleaved repeats after a warm-up.

FORCE: pattern generators (no input) of a sine and a triangle wave of period 50, trained in closed
loop for 2000 steps (the first 100 run without updates), then run free for 5 periods; the free run's
NRMSE against the wave (RMSE / the wave's standard deviation), median and worst over seeds 0-4
(0-2 with --quick). esnkit: ``ESN(200, spectral_radius=1.2, leak_rate=0.3, feedback_scaling=1,
washout=100, trainer=FORCE(...))``, alpha 0.01 unless said. reservoirpy (when installed; it has no FORCE node):
its online ``RLS(alpha=0.01)`` readout fed back to a ``Reservoir(200, lr=0.3, sr=1.2,
rc_connectivity=0.05, input_connectivity=1, bias uniform in ±0.5)`` (``res << (res >> rls)``), run
100 steps, then ``Model.partial_fit`` on the other 1900 steps, then ``run`` free: the same closed-loop
training, with the output of the updated weights fed back. Timed: the whole training (the reservoir
drawn, the 2000 steps), process CPU time per training step. Writes benchmarks/results/online.md and
online.json.
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import statistics
import time
import warnings
from pathlib import Path

import _report
import numpy as np
import torch

import esnkit as ek
from esnkit.readout import FORCE, LMS, RLS, Ridge

CHUNK = 500
PERIOD, TRAIN, FREE, WASHOUT, N_FORCE = 50, 2000, 5 * 50, 100, 200
WAVES = {
    "sine": lambda t: np.sin(2 * np.pi * t / PERIOD),
    "triangle": lambda t: 4 * np.abs((t % PERIOD) / PERIOD - 0.5) - 1,
}


def rows(n: int, steps: int) -> tuple[torch.Tensor, torch.Tensor]:
    series = np.asarray(ek.datasets.mackey_glass(steps + 101), dtype=float).reshape(-1, 1)
    x, y = series[:-1], series[1:]
    m = ek.ESN(n, seed=0, washout=100, ridge=1e-6).fit(x, y)
    X = torch.as_tensor(m.states(x, initial_state=np.zeros(n)), dtype=torch.float64)[100:]
    U = torch.as_tensor(x, dtype=torch.float64)[100:]
    Z = torch.cat([torch.ones(len(U), 1, dtype=torch.float64), U, X], dim=1)
    return Z, torch.as_tensor(y, dtype=torch.float64)[100:]


def fit(trainer, Z, Y) -> tuple[torch.Tensor, float]:
    t0 = time.process_time()
    f = trainer.start(Z.shape[1], Y.shape[1], "cpu")
    for lo in range(0, len(Z), CHUNK):
        f.update(Z[lo:lo + CHUNK], Y[lo:lo + CHUNK])
    W = f.solve()
    return W, time.process_time() - t0


def nrmse(free: np.ndarray, wave: np.ndarray) -> float:
    return float(np.sqrt(np.mean((free - wave) ** 2)) / wave.std())


def force_esnkit(wave: np.ndarray, seed: int, **force) -> tuple[float, float]:
    """(training CPU seconds per step, free-run NRMSE) of esnkit's FORCE."""
    m = ek.ESN(N_FORCE, spectral_radius=1.2, leak_rate=0.3, feedback_scaling=1.0, washout=WASHOUT, seed=seed,
               trainer=FORCE(**{"alpha": 0.01, **force}))
    t0 = time.process_time()
    m.fit(None, wave[:TRAIN])
    dt = time.process_time() - t0
    return dt / TRAIN, nrmse(m.generate(FREE, check_finite=False), wave[TRAIN:])


def force_reservoirpy(wave: np.ndarray, seed: int) -> tuple[float, float]:
    """The same task with reservoirpy's online RLS readout fed back to its reservoir."""
    from reservoirpy.nodes import RLS as RpyRLS
    from reservoirpy.nodes import Reservoir

    bias = np.random.default_rng(seed).uniform(-0.5, 0.5, N_FORCE)
    res = Reservoir(N_FORCE, lr=0.3, sr=1.2, rc_connectivity=0.05, input_connectivity=1.0, bias=bias, seed=seed)
    model = res << (res >> RpyRLS(alpha=0.01))
    zeros = np.zeros((TRAIN, 1))  # a reservoirpy model needs an input: a zero one
    t0 = time.process_time()
    model.initialize(zeros[:WASHOUT], wave[:WASHOUT])  # the readout's width comes from the targets
    model.run(zeros[:WASHOUT])
    model.partial_fit(zeros[WASHOUT:], wave[WASHOUT:TRAIN])
    dt = time.process_time() - t0
    return dt / TRAIN, nrmse(model.run(np.zeros((FREE, 1))), wave[TRAIN:])


def force_rows(seeds: int) -> tuple[list[str], list[dict]]:
    runs = {"esnkit `FORCE()` (alpha=1)": lambda w, s: force_esnkit(w, s, alpha=1.0),
            "esnkit `FORCE(alpha=0.01)`": lambda w, s: force_esnkit(w, s),
            "esnkit `FORCE(alpha=0.01, posterior=True)`": lambda w, s: force_esnkit(w, s, posterior=True),
            "esnkit `FORCE(alpha=0.01, every=5)`": lambda w, s: force_esnkit(w, s, every=5)}
    try:
        import reservoirpy
        runs[f"reservoirpy {reservoirpy.__version__} online `RLS(alpha=0.01)` fed back"] = force_reservoirpy
    except ImportError:
        pass
    lines, records = [], []
    for name, f in WAVES.items():
        wave = f(np.arange(TRAIN + FREE))[:, None]
        for label, run in runs.items():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # the reservoirs' effective radius is above 1 on purpose
                run(wave, 0)  # warm-up
                results = [run(wave, s) for s in range(seeds)]
            per_step = statistics.median(r[0] for r in results)
            errors = [r[1] for r in results]
            lines.append(f"| {name} | {label} | {per_step * 1e6:.0f} | {statistics.median(errors):.4f} | "
                         f"{max(errors):.4f} |")
            records.append({"wave": name, "run": label, "cpu_us_per_step": per_step * 1e6,
                            "free_nrmse": errors})
    return lines, records


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "online.md")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    repeats = 3 if args.quick else 7
    trainers = {"Ridge(1e-6)": Ridge(1e-6), "RLS(ridge=1e-6)": RLS(ridge=1e-6),
                "RLS(0.999, ridge=1e-6)": RLS(0.999, ridge=1e-6), "LMS(0.5)": LMS(0.5)}
    date = datetime.date.today().isoformat()
    lines = ["# Online readouts against the ridge readout", "",
             f"Date: {date}. Machine: {_report.machine()}, one thread. Python {platform.python_version()}, "
             f"torch {torch.__version__}, "
             f"esnkit {ek.__version__}. `OMP_NUM_THREADS=1 python benchmarks/online.py` "
             f"({repeats} repeats; see the script's docstring for the protocol).", "",
             "| N | rows | trainer | fit CPU time (s) | weights vs Ridge (rel.) | training NRMSE |",
             "|---|---|---|---|---|---|"]
    for n, steps in ((100, 4000), (300, 4000)):
        Z, Y = rows(n, steps)
        for t in trainers.values():  # warm-up
            fit(t, Z[:CHUNK], Y[:CHUNK])
        times = {k: [] for k in trainers}
        weights = {}
        for _ in range(repeats):
            for k, t in trainers.items():
                weights[k], dt = fit(t, Z, Y)
                times[k].append(dt)
        ref = weights["Ridge(1e-6)"]
        for k in trainers:
            W = weights[k]
            rel = float((W - ref).norm() / ref.norm())
            nrmse = float(((Z @ W.T - Y) ** 2).mean().sqrt() / Y.std())
            lines.append(f"| {n} | {len(Z)} | `{k}` | {statistics.median(times[k]):.4f} | {rel:.1e} | {nrmse:.2e} |")
    lines += ["", "Notes: without forgetting RLS gives Ridge's weights up to the rounding of two different float64 "
              "computations on ill-conditioned reservoir states (identical training NRMSE), at several times "
              "Ridge's CPU time (Ridge: one rank-k update per chunk and one solve). With forgetting 0.999 the rows "
              "go in one at a time (a Python step each) and the regularisation fades as 0.999^n * ridge, so its "
              "weights are another, less regularised fit (lower training NRMSE here, not a better model). One "
              "pass of normalised LMS is far from the least-squares fit on correlated reservoir states."]
    seeds = 3 if args.quick else 5
    force_lines, records = force_rows(seeds)
    lines += ["", "## FORCE", "",
              f"Pattern generators, N = {N_FORCE}, {TRAIN} closed-loop training steps, free run of 5 periods "
              f"(see the script's docstring); CPU time per training step, median over seeds 0-{seeds - 1}; "
              "free-run NRMSE median and worst over those seeds.", "",
              "| wave | run | CPU µs per training step | free-run NRMSE (median) | (worst) |",
              "|---|---|---|---|---|", *force_lines, "",
              "Notes: the two libraries' reservoirs are drawn differently (esnkit: W uniform, W_fb uniform in "
              "±1; reservoirpy: W normal, the fed-back output through its W_in, entries ±1), so the rows compare "
              "two implementations of closed-loop RLS training on one task, not identical networks. reservoirpy's "
              "RLS feeds back the output of the updated weights (as esnkit's posterior=True) and learns its bias "
              "as a running mean of the errors. every=5 updates on every fifth step only: cheaper, and a "
              "worse generator here."]
    _report.write(str(args.out), lines)
    with open(args.out.with_suffix(".json"), "w") as f:
        json.dump({"date": date, "machine": _report.machine(), "seeds": seeds, "force": records}, f, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
