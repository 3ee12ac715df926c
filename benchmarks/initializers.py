"""Short-term memory capacity of each reservoir initialiser, linear and tanh units.

    OMP_NUM_THREADS=1 python benchmarks/initializers.py            # about 10 seconds

``esnkit.metrics.memory_capacity`` (Jaeger 2002: MC = Σ_k r²(u[t-k], ŷ_k[t]), k = 1..2N; i.i.d.
uniform(-1, 1) input, 200 washout, 4000 training and 2000 test steps) of ``ESN(N, initializer=...)``
(the four names and the plain cycle) for N = 50 and 100, ``activation`` 'identity' (linear units) and
'tanh', every initialiser at spectral radius 0.95 (the delay line: links of 0.95, its spectral radius
being 0), input_scaling 0.1, no bias, ridge 1e-9. Mean and [min, max] over 3 seeds (the reservoir's and the input's).

The published fact to compare: N linear units have MC ≤ N (Jaeger 2002); a delay line, a cycle or an
orthogonal reservoir of linear units comes close to N (Rodan & Tiňo 2011, 2012), random ones less.
Writes benchmarks/results/initializers.md.
"""

from __future__ import annotations

import argparse
import datetime
import platform
import sys
import time

import numpy as np
import torch

import esnkit as ek
from esnkit.metrics import memory_capacity
from esnkit.reservoir import CycleJumps

sys.path.insert(0, __file__.rsplit("/", 1)[0])
import _report  # noqa: E402

# the simple cycle reservoir (SCR) is CycleJumps without jumps
INITIALIZERS = {"random": "random", "orthogonal": "orthogonal", "cycle_jumps": "cycle_jumps",
                "cycle (SCR)": CycleJumps(jump_weight=0.0), "delay_line": "delay_line"}
SIZES = (50, 100)
ACTIVATIONS = ("identity", "tanh")
SEEDS = (0, 1, 2)
SETTINGS = dict(spectral_radius=0.95, input_scaling=0.1, bias_scaling=0.0, ridge=1e-9)


def measure(n: int, activation: str, initializer) -> list[float]:
    return [memory_capacity(ek.ESN(n, initializer=initializer, activation=activation, seed=s, **SETTINGS), seed=s)
            for s in SEEDS]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="benchmarks/results/initializers.md")
    args = parser.parse_args()
    start = time.monotonic()
    rows = []
    for activation in ACTIVATIONS:
        for n in SIZES:
            for name, init in INITIALIZERS.items():
                mc = measure(n, activation, init)
                rows.append(f"| {activation} | {n} | {name} | {np.mean(mc):.1f} | [{min(mc):.1f}, {max(mc):.1f}] "
                            f"| {np.mean(mc) / n:.3f} |")
    lines = [
        f"# Memory capacity of the reservoir initialisers ({datetime.date.today().isoformat()})",
        "",
        f"Machine: {_report.machine()}. Python {platform.python_version()}, torch {torch.__version__}, esnkit "
        f"{ek.__version__}. Command: `OMP_NUM_THREADS=1 python benchmarks/initializers.py` "
        f"({time.monotonic() - start:.0f} s wall).",
        "",
        "`esnkit.metrics.memory_capacity` (delays 1..2N; uniform(-1, 1) input; washout 200, 4000 training and 2000 "
        "test steps) of `ESN(N, initializer=..., activation=...)` with spectral_radius 0.95 (the delay line: links "
        "of 0.95), input_scaling 0.1, bias_scaling 0, ridge 1e-9; cycle_jumps is `CycleJumps()` (jumps of 7 at a "
        "tenth of the cycle's weight), cycle (SCR) `CycleJumps(jump_weight=0)`. Mean and [min, max] over seeds "
        "0, 1, 2 (the reservoir's and the input's). MC/N: the mean over N, at most 1 for linear units (Jaeger 2002).",
        "",
        "| activation | N | initializer | MC | [min, max] | MC/N |",
        "|---|---|---|---|---|---|",
        *rows,
    ]
    _report.write(args.out, lines)


if __name__ == "__main__":
    main()
