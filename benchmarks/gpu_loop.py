"""GPU time loop: CUDA-graph replay vs the eager PyTorch loop, in the same run.

    python benchmarks/gpu_loop.py            # needs a CUDA device

Harvest (teacher-forced states) and closed-loop generation for N=1000, float32 and float64,
1 and 64 sequences; medians of 5 repeats after a warm-up. Prints a Markdown table.
"""

from __future__ import annotations

import statistics
import sys
import time

import torch

import esnkit as ek
from esnkit.loop import unroll


def timed(fn, repeats=5):
    fn()
    torch.cuda.synchronize()
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        torch.cuda.synchronize()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts)


def main() -> int:
    if not torch.cuda.is_available():
        print("no CUDA device: nothing to measure")
        return 0
    print(f"device: {torch.cuda.get_device_name()}, torch {torch.__version__}\n")
    print("| mode | N | batch | dtype | eager seq-steps/s | cuda-graph seq-steps/s | speed-up |")
    print("|---|---|---|---|---|---|---|")
    T = 2048
    for dtype in (torch.float32, torch.float64):
        for B in (1, 64):
            N = 1000
            r = ek.Reservoir.random(N, 1, 1, in_degree=10, bias_scaling=0.5, feedback_scaling=0.1, seed=0,
                                    dtype=dtype, device="cuda")
            u = torch.randn(B, T, 1, dtype=dtype, device="cuda")
            x0 = torch.zeros(B, N, dtype=dtype, device="cuda")
            drive = r.input_drive(u, B, T)
            readout = ek.Readout(0.01 * torch.randn(1, N + 2, dtype=dtype, device="cuda"), input_size=1,
                                 use_bias=True, use_input=True)
            y0 = torch.zeros(B, 1, dtype=dtype, device="cuda")
            gen = dict(readout=readout, feedback=r.W_fb + r.W_in, y0=y0, inputs_from_outputs=True)
            for mode, kw, d in (("harvest", {}, drive), ("generate", gen, r.input_drive(None, B, T))):
                te = timed(lambda r=r, d=d, x0=x0, kw=kw: unroll(r, d, x0, backend="torch", **kw))
                tg = timed(lambda r=r, d=d, x0=x0, kw=kw: unroll(r, d, x0, backend="cuda-graph", **kw))
                name = str(dtype).replace("torch.", "")
                print(f"| {mode} | {N} | {B} | {name} | {B * T / te:,.0f} | {B * T / tg:,.0f} | {te / tg:.1f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
