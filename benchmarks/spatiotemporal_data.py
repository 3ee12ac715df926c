"""Spatiotemporal chaos data: the largest Lyapunov exponents of esnkit's Kuramoto–Sivashinsky and
Lorenz-96 series (and Lorenz-63), the accuracy of the ETDRK4 solver, and generation times.

    OMP_NUM_THREADS=1 python benchmarks/spatiotemporal_data.py            # about 7 minutes
    OMP_NUM_THREADS=1 python benchmarks/spatiotemporal_data.py --quick    # shorter runs, 1.5 minutes

Exponents: ``esnkit.datasets.largest_lyapunov_exponent`` (Benettin's method on the tangent
dynamics) for several seeds (independent initial conditions and tangent vectors), each run split
into segments; reported per seed (exponent ± standard error over its segments) and over all seeds
(mean, standard deviation of the seeds' exponents, standard error of the mean).

Solver accuracy (Kuramoto–Sivashinsky, from a state on the attractor): the difference after one
step and after 10 time units between ETDRK4 at dt and at dt/16; the observed order (slopes of
log error against log dt, 10 time units, dt = 0.5 .. 0.0625 against dt/64); the effect of the 2/3
dealiasing rule over 10 time units; the time-averaged energy of the modes past two thirds of the
resolved wavenumbers relative to the peak mode's.

Generation time: process CPU time of one call of each generator at its defaults (discard
included), median of 3.
Writes benchmarks/results/spatiotemporal_data.md and .json.
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import statistics
import time
from pathlib import Path

import _report
import numpy as np

import esnkit as ek
from esnkit import datasets as ds

RESULTS = Path(__file__).parent / "results"


def exponents(system: str, seeds: int, duration: float, segments: int, **params) -> dict:
    runs = []
    for seed in range(seeds):
        t0 = time.process_time()
        est = ds.largest_lyapunov_exponent(system, duration=duration, segments=segments, seed=seed, **params)
        runs.append({"seed": seed, "exponent": est.exponent, "stderr": est.stderr,
                     "segments": est.segments.tolist(), "cpu_s": time.process_time() - t0})
    values = [r["exponent"] for r in runs]
    return {"system": system, "params": params, "duration": duration, "segments": segments, "runs": runs,
            "mean": statistics.fmean(values), "std": statistics.stdev(values),
            "stderr": statistics.stdev(values) / len(values) ** 0.5}


def ks_accuracy(L: float, Q: int, dt: float) -> dict:
    state = ds.kuramoto_sivashinsky(1, L=L, Q=Q, dt=dt, seed=0)[0]  # on the attractor
    n = int(round(10 / dt))
    scale = np.abs(ds.kuramoto_sivashinsky(n + 1, L=L, Q=Q, dt=dt, discard=0.0, u0=state)).max()
    coarse = ds.kuramoto_sivashinsky(n + 1, L=L, Q=Q, dt=dt, discard=0.0, u0=state)
    fine = ds.kuramoto_sivashinsky(n + 1, L=L, Q=Q, dt=dt, discard=0.0, u0=state, substeps=16)
    dealiased = ds.kuramoto_sivashinsky(n + 1, L=L, Q=Q, dt=dt, discard=0.0, u0=state, dealias=True)
    steps = [0.5, 0.25, 0.125, 0.0625]
    ref = ds.kuramoto_sivashinsky(2, L=L, Q=Q, dt=10.0, discard=0.0, u0=state, substeps=640)[-1]
    errors = [float(np.abs(ds.kuramoto_sivashinsky(2, L=L, Q=Q, dt=10.0, discard=0.0, u0=state,
                                                   substeps=int(round(10 / h)))[-1] - ref).max()) for h in steps]
    slopes = [float(np.log2(errors[i] / errors[i + 1])) for i in range(len(errors) - 1)]
    series = ds.kuramoto_sivashinsky(4000, L=L, Q=Q, dt=dt)
    energy = (np.abs(np.fft.rfft(series, axis=1)) ** 2).mean(axis=0)
    q = 2 * np.pi / L * np.arange(Q // 2 + 1)
    return {"L": L, "Q": Q, "dt": dt, "max_abs_u": float(scale),
            "one_step_error": float(np.abs(coarse[1] - fine[1]).max()),
            "ten_units_error": float(np.abs(coarse[-1] - fine[-1]).max()),
            "dealias_difference_ten_units": float(np.abs(coarse[-1] - dealiased[-1]).max()),
            "order_steps": steps, "order_errors": errors, "order_slopes": slopes,
            "peak_q": float(q[int(energy.argmax())]),
            "energy_past_two_thirds": float(energy[Q // 3 + 1:].max() / energy.max())}


def generation(name: str, fn, n: int, **kw) -> dict:
    times = []
    for _ in range(3):
        t0 = time.process_time()
        fn(n, **kw)
        times.append(time.process_time() - t0)
    return {"generator": name, "n_steps": n, "params": kw, "cpu_s": statistics.median(times)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out", type=Path, default=RESULTS / "spatiotemporal_data.md")
    args = ap.parse_args(argv)
    f = 0.2 if args.quick else 1.0
    command = "OMP_NUM_THREADS=1 python benchmarks/spatiotemporal_data.py" + (" --quick" if args.quick else "")
    started = time.time()
    cases = [
        ("KS L=22 (Q=64, dt=0.25)", exponents("kuramoto_sivashinsky", 4, 20000 * f, 20)),
        ("KS L=22 (Q=64, dt=0.25, 4 substeps)", exponents("kuramoto_sivashinsky", 2, 20000 * f, 20, substeps=4)),
        ("KS L=200 (Q=512, dt=0.25)", exponents("kuramoto_sivashinsky", 4, 5000 * f, 10, L=200.0, Q=512)),
        ("Lorenz-96 (dim=40, F=8)", exponents("lorenz96", 4, 1000 * f, 20)),
        ("Lorenz-63 (σ=10, ρ=28, β=8/3)", exponents("lorenz", 4, 1000 * f, 20)),
    ]
    accuracy = [ks_accuracy(22.0, 64, 0.25), ks_accuracy(200.0, 512, 0.25)]
    gen = [generation("kuramoto_sivashinsky", ds.kuramoto_sivashinsky, 10000),
           generation("kuramoto_sivashinsky", ds.kuramoto_sivashinsky, 10000, L=200.0, Q=512),
           generation("lorenz96", ds.lorenz96, 10000)]
    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")
    header = (f"Machine: {_report.machine()}, one thread. Python {platform.python_version()}, numpy {np.__version__}, "
              f"esnkit {ek.__version__}. Command: `{command}` ({time.time() - started:.0f} s).")
    lines = [f"# Spatiotemporal chaos data: Lyapunov exponents and solver accuracy ({date})", "", header, "",
             "## Largest Lyapunov exponents", "",
             "`esnkit.datasets.largest_lyapunov_exponent`: each seed is an independent initial condition and "
             "tangent vector, its run (after the generator's default discard) split into segments; per seed the "
             "exponent ± the standard error over its segments; all seeds: mean, standard deviation over the seeds, "
             "standard error of the mean.", "",
             "| system | duration per seed (time units) | segments | per seed | mean over seeds | std over seeds "
             "| stderr of the mean | CPU s per seed |", "|---|---|---|---|---|---|---|---|"]
    for label, r in cases:
        per_seed = ", ".join(f"{x['exponent']:.4f} ± {x['stderr']:.4f}" for x in r["runs"])
        cpu = statistics.fmean(x["cpu_s"] for x in r["runs"])
        lines.append(f"| {label} | {r['duration']:g} | {r['segments']} | {per_seed} | {r['mean']:.4f} | "
                     f"{r['std']:.4f} | {r['stderr']:.4f} | {cpu:.1f} |")
    lines += ["", "## ETDRK4 accuracy (Kuramoto–Sivashinsky, from a state on the attractor)", "",
              "Errors: max |u| difference against dt/16 (after one step of dt and after 10 time units); order: "
              "error after 10 time units against dt/64 for dt = 0.5, 0.25, 0.125, 0.0625 and the slopes "
              "log2(e(dt) / e(dt/2)); dealiasing: max |u| difference after 10 time units with and without the "
              "2/3 rule; energy past 2/3: the largest time-averaged |û_q|² with q past two thirds of the resolved "
              "wavenumbers over the peak mode's (4000 samples).", "",
              "| L | Q | dt | max abs u | error, one step | error, 10 units | order slopes | dealiasing difference "
              "| energy past 2/3 | peak q |", "|---|---|---|---|---|---|---|---|---|---|"]
    for a in accuracy:
        lines.append(f"| {a['L']:g} | {a['Q']} | {a['dt']} | {a['max_abs_u']:.2f} | {a['one_step_error']:.1e} | "
                     f"{a['ten_units_error']:.1e} | {', '.join(f'{s:.2f}' for s in a['order_slopes'])} | "
                     f"{a['dealias_difference_ten_units']:.1e} | {a['energy_past_two_thirds']:.1e} | "
                     f"{a['peak_q']:.3f} |")
    lines += ["", "## Generation time (process CPU time, median of 3, discard included)", "",
              "| generator | n_steps | parameters | CPU s |", "|---|---|---|---|"]
    for g in gen:
        params = ", ".join(f"{k}={v}" for k, v in g["params"].items()) or "defaults"
        lines.append(f"| {g['generator']} | {g['n_steps']} | {params} | {g['cpu_s']:.2f} |")
    _report.write(str(args.out), lines)
    payload = {"date": date, "machine": _report.machine(), "command": command, "python": platform.python_version(),
               "numpy": np.__version__, "esnkit": ek.__version__,
               "exponents": [{"label": label, **r} for label, r in cases], "accuracy": accuracy, "generation": gen}
    args.out.with_suffix(".json").write_text(json.dumps(payload, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
