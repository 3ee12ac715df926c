"""Forecasting a batch of histories vs forecasting them one by one, on the CPU, in the same run.

    OMP_NUM_THREADS=1 python benchmarks/forecast_batch.py            # under a minute
    OMP_NUM_THREADS=1 python benchmarks/forecast_batch.py --quick    # 5 repeats instead of 15

A one-step-ahead forecaster of D outputs (inputs = outputs = D, D in {1, 64}; N=1000, a sparse
reservoir with the default ~10 nonzeros per row, float64; fitted on random-phase sines, not timed)
forecasts 16 histories: a warm-up of 300 steps driven by the history, then 200 free-running steps,
each output the next input. Two ways of running it:

- the time loop, as a forecasting API calls it: ``unroll`` driven by the history without a readout
  and without keeping states, then one closed loop (``inputs_from_outputs=True``) whose first input
  is the history's last value (see ``through_unroll``);
- the ESN API: ``esn.forecast(h, 200)``, which runs the same two loops.

(a) the 16 histories one by one, (b) all 16 as one batch. The two are timed alternately, each the
median of the process CPU time over the repeats (one thread), after a warm-up; the table gives
(b)/(a) per history and (a)'s time per step of one history. The forecasts of (b) are compared with
those of (a) bit for bit. Writes the Markdown table to benchmarks/results/forecast_batch.md.
"""

from __future__ import annotations

import argparse
import datetime
import platform
import statistics
import sys
import time
import warnings
from pathlib import Path

import _report
import numpy as np
import torch

import esnkit as ek
from esnkit import native
from esnkit.loop import unroll

HERE = Path(__file__).resolve().parent
N, HISTORIES, WARMUP, HORIZON = 1000, 16, 300, 200


def sines(steps: int, D: int, seed: int) -> np.ndarray:
    """D sines of random periods (15 to 60 steps) and phases, (steps, D)."""
    rng = np.random.default_rng(seed)
    t = np.arange(steps)[:, None]
    return np.sin(2 * np.pi * t / rng.uniform(15, 60, D) + rng.uniform(0, 2 * np.pi, D))


def forecaster(D: int) -> ek.ESN:
    s = sines(3000, D, seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ek.EchoStatePropertyWarning)
        return ek.ESN(N, ridge=1e-6, washout=100, seed=0).fit(s[:-1], s[1:])


def through_unroll(esn: ek.ESN, h: torch.Tensor) -> torch.Tensor:
    """Forecast the HORIZON steps after the histories ``h`` (B, WARMUP, D), from the zero state.

    The reservoir is driven by all but the last value of each history; the last is the first
    input of the closed loop, whose first output is the forecast of the step after the history.
    No PyTorch operation lies between the two runs of the kernel, so a history forecast in a batch
    gets the bits it gets alone.
    """
    res, B = esn.reservoir_, h.shape[0]
    x0 = torch.zeros(B, N, dtype=h.dtype)
    warm = unroll(res, res.drive(h[:, :-1], batch=B, steps=WARMUP - 1), x0, keep_states=False)
    feedback = res.W_in if not res.feedback_size else res.W_fb + res.W_in
    free = unroll(res, res.drive(None, batch=B, steps=HORIZON), warm.x, readout=esn.readout_, feedback=feedback,
                  y0=h[:, -1], inputs_from_outputs=True, keep_states=False)
    return free.outputs


def through_esn(esn: ek.ESN, h: torch.Tensor) -> torch.Tensor:
    """The same through the ESN API: ``forecast`` warms up on each history and runs free."""
    return esn.forecast(h, HORIZON)


def cpu_seconds(fn) -> float:
    t0 = time.process_time()
    fn()
    return time.process_time() - t0


def measure(run, esn: ek.ESN, histories: torch.Tensor, repeats: int) -> dict:
    one_by_one = lambda: torch.cat([run(esn, histories[b:b + 1]) for b in range(HISTORIES)])  # noqa: E731
    batched = lambda: run(esn, histories)  # noqa: E731
    a, b = one_by_one(), batched()  # warm-up, and the forecasts compared
    ta, tb = [], []
    for r in range(repeats):  # alternately, each first in every other repeat
        for fn, ts in ((one_by_one, ta), (batched, tb)) if r % 2 == 0 else ((batched, tb), (one_by_one, ta)):
            ts.append(cpu_seconds(fn))
    return {"a": statistics.median(ta), "b": statistics.median(tb), "identical": torch.equal(a, b),
            "max_rel": float(((a - b).abs().max() / a.abs().max()).item())}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="5 repeats instead of 15")
    ap.add_argument("--out", type=Path, default=HERE / "results" / "forecast_batch.md")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    if not native.available():
        print(f"warning: native kernel unavailable ({native.unavailable_reason()})", file=sys.stderr)
    repeats = 5 if args.quick else 15
    lines = [
        f"# Forecasting {HISTORIES} histories as one batch vs one by one ({datetime.date.today().isoformat()})",
        "",
        f"Machine: {_report.machine()}, one thread. Python {platform.python_version()}, torch {torch.__version__}, "
        f"esnkit {ek.__version__} (native kernel: {'yes' if native.available() else 'no'}). "
        f"Command: `OMP_NUM_THREADS=1 python benchmarks/forecast_batch.py{' --quick' if args.quick else ''}`.",
        "",
        f"N={N}, float64, one-step-ahead forecasters of D outputs; each history: a warm-up on its {WARMUP} steps "
        f"(through `unroll`, the last is the closed loop's first input), then {HORIZON} free-running steps. (a) the "
        f"{HISTORIES} histories one by one, (b) as one batch; medians of {repeats} alternating repeats of process CPU "
        f"time; µs per step: per {WARMUP + HORIZON} steps. Identical: (b)'s forecasts equal (a)'s bit for bit.",
        "",
        "| run through | D | (a) ms per history | (b) ms per history | (b)/(a) per history | "
        "(a) µs per step | identical |",
        "|---|---|---|---|---|---|---|",
    ]
    for D in (1, 64):
        esn = forecaster(D)
        histories = torch.from_numpy(np.stack([sines(WARMUP, D, seed=1 + k) for k in range(HISTORIES)]))
        for name, run in (("`unroll`", through_unroll), ("ESN API", through_esn)):
            m = measure(run, esn, histories, repeats)
            per_a, per_b = m["a"] / HISTORIES, m["b"] / HISTORIES
            same = "yes" if m["identical"] else f"no (max rel. diff {m['max_rel']:.1e})"
            lines.append(f"| {name} | {D} | {per_a * 1e3:.2f} | {per_b * 1e3:.2f} | {per_b / per_a:.2f} | "
                         f"{per_a / (WARMUP + HORIZON) * 1e6:.2f} | {same} |")
            print(lines[-1], flush=True)
    _report.write(str(args.out), lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
