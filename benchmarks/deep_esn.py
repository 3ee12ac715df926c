"""Deep against shallow echo state networks at equal total size: memory capacity and Mackey-Glass.

    OMP_NUM_THREADS=1 python benchmarks/deep_esn.py            # about a minute and a half
    OMP_NUM_THREADS=1 python benchmarks/deep_esn.py --quick    # 2 seeds instead of 7

Gallicchio, Micheli and Pedrelli ("Deep reservoir computing: a critical experimental analysis",
Neurocomputing 268, 2017) report that the short-term memory capacity grows with the number of layers
when the total number of neurons is fixed. Here the 200 neurons are split as 1 x 200, 2 x 100,
4 x 50 and 8 x 25 (``esnkit.DeepESN``), every layer a tanh reservoir of spectral radius 0.9, no leak,
about 10 nonzeros per row, no bias, and the readout reads ``[1; u; x1; ...; xL]``.

- Memory capacity (Jaeger 2002, as ``esnkit.metrics.memory_capacity`` computes it for an ESN):
  i.i.d. uniform(-1, 1) input, input scaling 0.1 (layer 1), inter-layer scaling 1; one ridge readout
  (λ = 1e-8) per delay k = 1..400 recalls u[t-k]; MC = Σ_k r² on 2000 held-out steps after 200 washout
  steps and 4000 training steps. The readout also reads u[t], which is independent of u[t-k].
  A second table repeats the memory capacity with a leak rate of 0.55 (with inter-layer scaling 1 and
  0.5), dense reservoirs (connectivity 1) and input scaling 1.
- Mackey-Glass (τ = 17, ``esnkit.datasets.mackey_glass``) one-step-ahead NRMSE (RMSE / std of the
  test targets): input scaling 1, 2000 training steps (100 washout), 2000 test steps driven from the
  training state; ridge 1e-8. Fit time: process CPU time of ``fit`` (building the layers, the
  layer-by-layer harvest and the solve), one thread, median over the seeds; free run: process CPU time
  per step of ``generate(2000)`` (every layer stepped in Python). ``ESN(200)`` of the same settings
  is the last row, for comparison.

Medians over the seeds (0..6). Writes benchmarks/results/deep_esn.md.
"""

from __future__ import annotations

import argparse
import datetime
import platform
import statistics
import time
from pathlib import Path

import _report
import numpy as np
import torch

import esnkit as ek

HERE = Path(__file__).resolve().parent
SPLITS = [[200], [100, 100], [50] * 4, [25] * 8]
MAX_DELAY, WASHOUT, TRAIN, TEST = 400, 200, 4000, 2000
MG_TRAIN, MG_TEST, MG_WASHOUT = 2000, 2000, 100
FREE = 2000  # closed-loop steps timed (generate)
# memory capacity under other settings (each changes one or two of the main table's)
VARIANTS = [{"leak_rate": 0.55}, {"leak_rate": 0.55, "inter_scaling": 0.5}, {"connectivity": 1.0},
            {"input_scaling": 1.0}]


def memory_capacity(layers: list[int], seed: int, **variant) -> float:
    total = WASHOUT + MAX_DELAY + TRAIN + TEST
    u = np.random.default_rng(1000 + seed).uniform(-1.0, 1.0, size=total)
    lagged = np.stack([u[MAX_DELAY - k:total - k] for k in range(1, MAX_DELAY + 1)], axis=1)
    inputs = u[MAX_DELAY:, None]
    split = WASHOUT + TRAIN
    p = dict(spectral_radius=0.9, input_scaling=0.1, inter_scaling=1.0, bias_scaling=0.0, ridge=1e-8, washout=WASHOUT,
             seed=seed)
    m = ek.DeepESN(layers, **{**p, **variant}).fit(inputs[:split], lagged[:split])
    pred, target = m.predict(inputs[split:]), lagged[split:]
    pc, tc = pred - pred.mean(axis=0), target - target.mean(axis=0)
    r2 = (pc * tc).sum(axis=0) ** 2 / ((pc ** 2).sum(axis=0) * (tc ** 2).sum(axis=0))
    return float(r2.sum())


def mackey_glass(layers: list[int] | None, seed: int, s: np.ndarray) -> tuple[float, float, float]:
    """One-step NRMSE, fit seconds and free-run seconds per step of a DeepESN (``layers`` None: ESN(200))."""
    kw = dict(spectral_radius=0.9, input_scaling=1.0, bias_scaling=0.0, ridge=1e-8, washout=MG_WASHOUT, seed=seed)
    m = ek.ESN(200, **kw) if layers is None else ek.DeepESN(layers, inter_scaling=1.0, **kw)
    t0 = time.process_time()
    m.fit(s[:MG_TRAIN], s[1:MG_TRAIN + 1])
    fit_s = time.process_time() - t0
    t0 = time.process_time()
    m.generate(FREE, update_state=False, check_finite=False)
    free_s = (time.process_time() - t0) / FREE
    pred = m.predict(s[MG_TRAIN:MG_TRAIN + MG_TEST])
    return float(ek.metrics.nrmse(s[MG_TRAIN + 1:MG_TRAIN + MG_TEST + 1], pred)), fit_s, free_s


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="2 seeds instead of 7")
    ap.add_argument("--out", default=str(HERE / "results" / "deep_esn.md"))
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    seeds = range(2 if args.quick else 7)
    s = ek.datasets.mackey_glass(MG_TRAIN + MG_TEST + 1)
    mackey_glass([20], 0, s)  # warm-up: imports, the native kernel
    rows = []
    for layers in SPLITS:
        mcs = [memory_capacity(layers, k) for k in seeds]
        mg = [mackey_glass(layers, k, s) for k in seeds]
        rows.append((layers, mcs, [r[0] for r in mg], [r[1] for r in mg], [r[2] for r in mg]))
        print(layers, f"MC {statistics.median(mcs):.1f}", f"NRMSE {statistics.median(r[0] for r in mg):.2e}",
              flush=True)
    esn = [mackey_glass(None, k, s) for k in seeds]
    variants = []
    for v in VARIANTS:
        variants.append((v, [statistics.median(memory_capacity(layers, k, **v) for k in seeds) for layers in SPLITS]))
        print(v, [round(x, 1) for x in variants[-1][1]], flush=True)
    cmd = "OMP_NUM_THREADS=1 python benchmarks/deep_esn.py" + (" --quick" if args.quick else "")
    lines = [
        f"# Deep against shallow ESNs at equal total size: esnkit.DeepESN ({datetime.date.today().isoformat()})",
        "",
        f"Machine: {_report.machine()}, one thread. Python {platform.python_version()}, torch {torch.__version__}, "
        f"esnkit {ek.__version__}. Command: `{cmd}`.",
        "",
        f"200 neurons in L layers; every layer tanh, spectral radius 0.9, no leak, no bias, about 10 nonzeros per "
        f"row; readout ridge 1e-8 over [1; u; x1; ...; xL]. Medians over {len(seeds)} seeds [min, max]. MC: "
        f"memory capacity (Jaeger), i.i.d. uniform(-1, 1) input, input scaling 0.1, inter-layer scaling 1, delays "
        f"1..{MAX_DELAY}, {TRAIN} training / {TEST} test steps after {WASHOUT} washout steps. Mackey-Glass (tau 17): "
        f"one-step-ahead NRMSE (RMSE / std), input scaling 1, {MG_TRAIN} training steps ({MG_WASHOUT} washout), "
        f"{MG_TEST} test steps; fit: process CPU time of `fit` ({MG_TRAIN} steps), one thread; free run: process CPU "
        f"time per step of `generate({FREE})` (closed loop, every layer stepped in Python). A fit includes drawing "
        "its reservoirs, whose spectral radius comes from the eigenvalues of W (about 10 ms for N=200 the first "
        "time a seed is drawn, remembered after): the models' fit times differ by what was drawn before them.",
        "",
        "| layers | MC median [min, max] | Mackey-Glass NRMSE median [min, max] | fit ms | free run µs/step |",
        "|---|---|---|---|---|",
    ]
    for layers, mcs, errs, fits, frees in rows:
        name = f"{len(layers)} x {layers[0]}"
        lines.append(f"| {name} | {statistics.median(mcs):.1f} [{min(mcs):.1f}, {max(mcs):.1f}] | "
                     f"{statistics.median(errs):.2e} [{min(errs):.2e}, {max(errs):.2e}] | "
                     f"{1e3 * statistics.median(fits):.1f} | {1e6 * statistics.median(frees):.1f} |")
    errs = [r[0] for r in esn]
    lines.append(f"| ESN(200), for comparison | | {statistics.median(errs):.2e} [{min(errs):.2e}, {max(errs):.2e}] | "
                 f"{1e3 * statistics.median(r[1] for r in esn):.1f} | "
                 f"{1e6 * statistics.median(r[2] for r in esn):.1f} |")
    lines += [
        "",
        "Memory capacity under other settings (each changes the MC setting above as named; median over the seeds):",
        "",
        "| setting | " + " | ".join(f"{len(layers)} x {layers[0]}" for layers in SPLITS) + " |",
        "|---|" + "---|" * len(SPLITS),
    ]
    for v, mcs in variants:
        name = ", ".join(f"{k} {x}" for k, x in v.items())
        lines.append(f"| {name} | " + " | ".join(f"{x:.1f}" for x in mcs) + " |")
    _report.write(args.out, lines)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
