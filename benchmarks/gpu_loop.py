"""GPU time loop: CUDA-graph replay vs the eager PyTorch loop, in the same run.

    python benchmarks/gpu_loop.py            # needs a CUDA device

Harvest (teacher-forced states) and closed-loop generation for N=1000 and N=8192, float32 and
float64, 1 and 64 sequences; medians of 5 repeats after a warm-up. (At N=1000 a captured step
multiplies by a dense W; at N=8192 it gathers each row's nonzeros.) Then whole fits (reservoir, harvest,
solve) on the GPU and on the same machine's CPU (native kernel). Prints Markdown tables.
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
        for N, B in ((1000, 1), (1000, 64), (8192, 1), (8192, 64)):
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
    fits()
    return 0


def fits() -> None:
    """ESN.fit on the GPU vs the CPU of the same machine; the eigenvalue problem is cached after
    the warm-up fit on both, as in a search or a second fit."""
    threads = torch.get_num_threads()
    print(f"\n| fit | N | sequences x steps | dtype | CPU (native, {threads} threads) s | CUDA s | CPU / CUDA |")
    print("|---|---|---|---|---|---|---|")
    for N, B, T, dtype in ((1000, 1, 5000, "float64"), (2000, 1, 20_000, "float64"),
                           (1000, 64, 2000, "float32"), (1000, 64, 2000, "float64")):
        s = torch.from_numpy(ek.datasets.mackey_glass(T + B, tau=17)).to(getattr(torch, dtype))
        seqs = torch.stack([s[b: b + T + 1] for b in range(B)])  # (B, T + 1, 1)
        u, y = seqs[:, :-1], seqs[:, 1:]
        if B == 1:
            u, y = u[0], y[0]

        def cpu(u=u, y=y, N=N, dtype=dtype):
            ek.ESN(N, in_degree=10, ridge=1e-8, seed=0, dtype=dtype).fit(u, y)

        ug, yg = u.cuda(), y.cuda()

        def gpu(u=ug, y=yg, N=N, dtype=dtype):
            ek.ESN(N, in_degree=10, ridge=1e-8, seed=0, dtype=dtype, device="cuda").fit(u, y)

        tc, tg = timed(cpu), timed(gpu)
        print(f"| harvest + solve | {N} | {B} x {T:,} | {dtype} | {tc:.3f} | {tg:.3f} | {tc / tg:.1f}x |")


if __name__ == "__main__":
    sys.exit(main())
