"""esnkit's time loop and fit vs reservoirpy, side by side in the same run.

    OMP_NUM_THREADS=1 python benchmarks/speed.py            # full run, ~5 minutes
    OMP_NUM_THREADS=1 python benchmarks/speed.py --quick    # smaller sizes, ~1 minute

Every figure is the median of at least 3 repeats after a warm-up, with one thread. Reservoirs are
sparse with exactly 10 nonzeros per row, float64 unless stated. The pure-PyTorch loop is esnkit's
own fallback (what runs without the native kernel). Peak memory of a fit is measured in a fresh
subprocess as the growth of the peak RSS over the RSS just before ``fit`` (interpreter, imports and
data already loaded; Linux's peak mark is reset there).
Writes the Markdown table to benchmarks/results/speed.md (or --out).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import _report
import numpy as np
import torch

import esnkit as ek
from esnkit import native
from esnkit.benchmarks.measure import PeakRSS
from esnkit.loop import unroll
from esnkit.reservoir import clear_spectrum_cache

try:
    import reservoirpy
    from reservoirpy.nodes import Reservoir as RpyReservoir
    from reservoirpy.nodes import Ridge as RpyRidge
except ImportError:  # optional peer: its columns say "not installed"
    reservoirpy = None

HERE = Path(__file__).resolve().parent


def median_time(fn, repeats: int = 3) -> float:
    fn()  # warm-up: caches, lazy initialisation
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def esn_reservoir(N: int, dtype=torch.float64) -> ek.Reservoir:
    return ek.Reservoir.random(N, 1, in_degree=10, spectral_radius=0.9, bias_scaling=0.5, seed=0, dtype=dtype)


def rpy_reservoir(N: int):
    return RpyReservoir(units=N, sr=0.9, rc_connectivity=10 / N, input_connectivity=1.0, seed=0)


def harvest_rate(N: int, T: int, B: int = 1, dtype=torch.float64, backend: str = "native", keep: bool = True) -> float:
    """Sequence-steps per second of a harvest (input drive included; states kept unless ``keep`` is False)."""
    r = esn_reservoir(N, dtype)
    u = torch.from_numpy(np.random.default_rng(0).uniform(-1, 1, (B, T, 1))).to(dtype)
    x0 = torch.zeros(B, N, dtype=dtype)
    return B * T / median_time(lambda: unroll(r, ek.Drive(u, r.W_in, r.bias, B, T), x0, backend=backend,
                                              keep_states=keep))


def fit_parts(N: int, T: int) -> dict:
    """Seconds of the parts of a float64 fit of T steps: the time loop (states not kept), the Gram
    update over T random feature rows in the fit's chunks, and the solve; plus the Gram update's
    GFlop/s and a square ``dgemm``'s on this core, for the BLAS ceiling."""
    from scipy.linalg.blas import dgemm

    from esnkit.models.engine import CHUNK_VALUES
    from esnkit.readout import NormalEquations, solve_normal_equations

    r = esn_reservoir(N)
    u = torch.from_numpy(np.random.default_rng(0).uniform(-1, 1, (1, T, 1)))
    x0 = torch.zeros(1, N, dtype=torch.float64)
    loop = median_time(lambda: unroll(r, ek.Drive(u, r.W_in, r.bias, 1, T), x0, keep_states=False))
    F, chunk = N + 2, CHUNK_VALUES // N
    rows = torch.from_numpy(np.random.default_rng(1).uniform(-1, 1, (chunk, F)))
    ys = rows[:, :1].clone()
    ne = NormalEquations(F, 1)

    def gram():
        for lo in range(0, T, chunk):
            n = min(chunk, T - lo)
            ne.update(rows[:n], ys[:n])
    t_gram = median_time(gram)
    solve = median_time(lambda: solve_normal_equations(ne.G, ne.C, 1e-8))
    a = np.random.default_rng(2).uniform(-1, 1, (2000, 2000))
    t_mm = median_time(lambda: dgemm(1.0, a, a))
    return {"loop": loop, "gram": t_gram, "solve": solve, "gram_gflops": F * F * T / t_gram / 1e9,
            "dgemm_gflops": 2 * 2000**3 / t_mm / 1e9}


def rpy_harvest_rate(N: int, T: int, B: int = 1) -> float | None:
    if reservoirpy is None:
        return None
    res = rpy_reservoir(N)
    u = np.random.default_rng(0).uniform(-1, 1, (B, T, 1))
    seqs = list(u) if B > 1 else u[0]

    return B * T / median_time(lambda: res.run(seqs))


def generate_vs_harvest(N: int, T: int) -> tuple[float, float]:
    """Per-step time of closed-loop generation (readout and feedback in the loop) and of a harvest."""
    s = ek.datasets.mackey_glass(3000)
    esn = ek.ESN(N, in_degree=10, ridge=1e-8, seed=0).fit(s[:-1], s[1:])
    u = np.random.default_rng(0).uniform(-1, 1, (T, 1))
    t_gen = median_time(lambda: esn.generate(T, update_state=False)) / T
    t_harvest = median_time(lambda: esn.states(u)) / T
    return t_gen, t_harvest


def fit_time(N: int, T: int, first: bool = True) -> float:
    """Median fit time. ``first``: every fit solves its eigenvalue problem, as a fresh process's
    first fit does (and reservoirpy's every fit); else a refit with the same seed, which reuses it."""
    u, y = _fit_data(T)

    def fit():
        if first:
            clear_spectrum_cache()
        ek.ESN(N, in_degree=10, ridge=1e-8, seed=0).fit(u, y)
    return median_time(fit)


def rpy_fit_time(N: int, T: int) -> float | None:
    if reservoirpy is None:
        return None
    u, y = _fit_data(T)
    return median_time(lambda: (rpy_reservoir(N) >> RpyRidge(ridge=1e-8)).fit(u, y))


def _fit_data(T: int):
    s = ek.datasets.mackey_glass(min(T + 1, 20_001))
    reps = -(-(T + 1) // len(s))
    s = np.tile(s, (reps, 1))[: T + 1]  # long series repeat a 20k stretch: the cost is what matters
    return s[:-1], s[1:]


def fit_memory(library: str, N: int, T: int) -> dict:
    """Fit once in a fresh interpreter; returns its time and peak-RSS growth in MB."""
    out = subprocess.run([sys.executable, __file__, "--child", library, str(N), str(T)],
                         capture_output=True, text=True, check=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    return json.loads(out.stdout.strip().splitlines()[-1])


def _child(library: str, N: int, T: int) -> None:
    torch.set_num_threads(1)
    u, y = _fit_data(T)
    if library == "esnkit":
        model = ek.ESN(N, in_degree=10, ridge=1e-8, seed=0)
    else:
        model = rpy_reservoir(N) >> RpyRidge(ridge=1e-8)
    with PeakRSS() as peak:
        t0 = time.perf_counter()
        model.fit(u, y)
        seconds = time.perf_counter() - t0
    print(json.dumps({"seconds": seconds, "peak_mb": peak.mb}))


def fmt(v: float | None, spec: str = ",.0f") -> str:
    return "not installed" if v is None else format(v, spec)


def ratio(a: float | None, b: float | None) -> str:
    # two decimals below 1: the fit targets are fractions of reservoirpy's time (0.41 is not 0.4)
    return "–" if a is None or b is None else f"{a / b:.2f}×" if a < b else f"{a / b:.1f}×"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smaller sizes and series (about a minute)")
    ap.add_argument("--out", type=Path, default=HERE / "results" / "speed.md")
    ap.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        _child(args.child[0], int(args.child[1]), int(args.child[2]))
        return 0
    torch.set_num_threads(1)
    if not native.available():
        print(f"warning: native kernel unavailable ({native.unavailable_reason()})", file=sys.stderr)
    q = args.quick
    lines = [
        f"# esnkit speed vs reservoirpy ({datetime.date.today().isoformat()})",
        "",
        f"Machine: {_report.machine()}, "
        f"one thread. Python {platform.python_version()}, torch {torch.__version__}, numpy {np.__version__}, "
        f"esnkit {ek.__version__} (native kernel: {'yes' if native.available() else 'no'}), "
        f"reservoirpy {getattr(reservoirpy, '__version__', 'not installed')}. "
        f"Command: `OMP_NUM_THREADS=1 python benchmarks/speed.py{' --quick' if q else ''}`.",
        "",
        "## Harvest (teacher-forced states, input drive included), sequence-steps per second",
        "",
        "| N | batch | dtype | esnkit native | esnkit PyTorch loop | reservoirpy | native / reservoirpy |",
        "|---|---|---|---|---|---|---|",
    ]
    cases = [(100, 1, torch.float64), (1000, 1, torch.float64), (5000, 1, torch.float64),
             (1000, 1, torch.float32), (1000, 64, torch.float32)]
    for N, B, dtype in cases:
        T = {100: 40_000, 1000: 8000, 5000: 2000}[N] // (8 if B > 1 else 1) // (4 if q else 1)
        fast = harvest_rate(N, T, B, dtype, "native") if native.available() else None
        slow = harvest_rate(N, min(T, 2000), B, dtype, "torch")
        peer = rpy_harvest_rate(N, T // (4 if B > 1 else 1), B)
        name = str(dtype).replace("torch.", "")
        lines.append(f"| {N} | {B} | {name} | {fmt(fast)} | {fmt(slow)} | {fmt(peer)} | {ratio(fast, peer)} |")
        print(lines[-1], flush=True)

    T = 1000 // (4 if q else 1)
    kept, dropped = (harvest_rate(1000, T, 64, torch.float32, "native", keep) if native.available() else None
                     for keep in (True, False))
    lines += ["", "## States kept or not (native, N=1000, 64 float32 sequences), sequence-steps per second", "",
              "Measured again, one after the other: the machine's speed drifts between this and the table above.", "",
              "| states kept | states not kept | not kept / kept |", "|---|---|---|",
              f"| {fmt(kept)} | {fmt(dropped)} | {ratio(dropped, kept)} |"]
    print(lines[-1], flush=True)

    t_gen, t_harvest = generate_vs_harvest(1000, 2000 if q else 8000)
    lines += ["", "## Closed-loop generation vs harvest (N=1000, float64, B=1)", "",
              "| generate µs/step | harvest µs/step | generate / harvest |", "|---|---|---|",
              f"| {t_gen * 1e6:.1f} | {t_harvest * 1e6:.1f} | {t_gen / t_harvest:.2f} |"]
    print(lines[-1], flush=True)

    lines += ["", "## Fit (harvest + readout solve), seconds and peak memory", "",
              "esnkit s: a first fit, which solves the eigenvalue problem that scales W (ARPACK above 200 "
              "neurons), as reservoirpy does on every fit; refit s: the same seed again in one process, "
              "which reuses it (a search over ρ, leak and scalings on one seed pays for it once).", "",
              "| N | T | esnkit s | esnkit refit s | reservoirpy s | esnkit / reservoirpy | esnkit peak MB | "
              "reservoirpy peak MB |",
              "|---|---|---|---|---|---|---|---|"]
    t_e, t_re, t_r = fit_time(1000, 5000), fit_time(1000, 5000, first=False), rpy_fit_time(1000, 5000)
    lines.append(f"| 1000 | 5000 | {t_e:.3f} | {t_re:.3f} | {fmt(t_r, '.3f')} | {ratio(t_e, t_r)} | | |")
    print(lines[-1], flush=True)
    big = [(1000, 20_000)] if q else [(2000, 20_000), (1000, 1_000_000)]
    for N, T in big:
        runs = [fit_memory("esnkit", N, T) for _ in range(1 if T > 100_000 else 3)]
        e = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
        p = None
        if reservoirpy is not None and T <= 100_000:
            runs = [fit_memory("reservoirpy", N, T) for _ in range(3)]
            p = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
        lines.append(
            f"| {N} | {T:,} | {e['seconds']:.2f} | – | "
            f"{fmt(p and p['seconds'], '.2f') if T <= 100_000 else 'not run'} | "
            f"{ratio(e['seconds'], p and p['seconds'])} | {e['peak_mb']:.0f} | "
            f"{fmt(p and p['peak_mb'], '.0f') if T <= 100_000 else 'not run'} |")
        print(lines[-1], flush=True)
    N, T = big[0]
    parts = fit_parts(N, T)
    lines += ["", f"## Where a fit's time goes (N={N}, T={T:,}, float64), seconds", "",
              "Each part timed alone: the time loop without keeping states, the Gram update `Z^T Z` "
              "(BLAS `dsyrk`) over T rows of N + 2 features in the fit's chunks, the Cholesky solve; "
              "and a 2000 × 2000 `dgemm` for this core's BLAS ceiling.", "",
              "| time loop | Gram update | solve | Gram GFlop/s | dgemm GFlop/s |", "|---|---|---|---|---|",
              f"| {parts['loop']:.2f} | {parts['gram']:.2f} | {parts['solve']:.2f} | {parts['gram_gflops']:.1f} | "
              f"{parts['dgemm_gflops']:.1f} |"]
    print(lines[-1], flush=True)
    _report.write(str(args.out), lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
