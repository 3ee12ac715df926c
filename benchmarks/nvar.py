"""Next-generation reservoir computing on Lorenz-63: esnkit.NVAR under Gauthier et al.'s protocol, and
reservoirpy's NVAR on the same data and features, side by side.

    OMP_NUM_THREADS=1 python benchmarks/nvar.py            # about a minute
    OMP_NUM_THREADS=1 python benchmarks/nvar.py --quick    # 3 timing repeats instead of 11

Gauthier, Bollt, Griffith and Barbosa, "Next generation reservoir computing", Nat. Commun. 12, 5564
(2021), Lorenz-63 forecasting: dt = 0.025, k = 2 delays, skip s = 1, monomials of order 2 (28
features with the constant), ridge 2.5e-6, the readout learning the increment X[t+1] - X[t]; a
warm-up of 5 time units (200 steps, left out of the fit), then 10 time units of training (400 steps).

Two trajectories from Gauthier et al.'s x0 = (17.677, 12.931, 43.914):

- "DOP853 1e-10": integrated accurately (``esnkit.datasets.lorenz``: DOP853, rtol = atol = 1e-10);
- "RK23 1e-3": scipy's RK23 at its default tolerances (rtol 1e-3, atol 1e-6) as Gauthier et al.'s
  published code and reservoirpy's NVAR example integrate it.

Reported per trajectory (and ridge): the training NRMSE (one-step-ahead, the 400 training steps),
the one-step testing NRMSE (steps 1000..10000), the NRMSE of the closed-loop forecast over its first
Lyapunov time (44 steps; median over the starts), and the valid prediction time in Lyapunov times
(λ = 0.9056; normalised error above 0.3, ``esnkit.metrics.valid_prediction_time``, scaled by the
attractor's standard deviation per variable) over 20 test starts 500 steps apart from step 1000,
each forecast 600 steps (13.6 Lyapunov times) past its history.

reservoirpy: ``NVAR(delay=2, order=2, strides=1) >> Ridge(ridge=2.5e-6, fit_bias=False)`` against
``esnkit.NVAR(2, bias=False)`` (reservoirpy's NVAR has no constant and its Ridge leaves the intercept
unregularised: without both, the two solve the same problem). Fit time: building and fitting the
model on the 600 steps; forecast time: the 20 starts x 600 steps (esnkit: one batched ``forecast``
call, and the starts one by one; reservoirpy: its documented closed loop ``u = u + model(u)`` per
start, after running the model over the start's delay line). Process CPU time, one thread, medians
of interleaved repeats after a warm-up. Writes benchmarks/results/nvar.md.
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
from scipy.integrate import solve_ivp

import esnkit as ek

HERE = Path(__file__).resolve().parent
DT, K, S, P, RIDGE = 0.025, 2, 1, 2, 2.5e-6
WARMUP, TRAIN = 200, 400
LYAPUNOV = 0.9056
X0 = (17.67715816276679, 12.931379185960404, 43.91404334248268)
N_STEPS = 12000
STARTS = [1000 + 500 * i for i in range(20)]
HORIZON = 600
ONE_LT = round(1 / LYAPUNOV / DT)  # steps in one Lyapunov time (44)


def lorenz_rk23(n: int) -> np.ndarray:
    def rhs(_t, s):
        x, y, z = s
        return [10.0 * (y - x), x * (28.0 - z) - y, x * y - 8.0 / 3.0 * z]

    t = np.arange(n) * DT
    return solve_ivp(rhs, (0.0, t[-1]), X0, t_eval=t, method="RK23").y.T


def trajectories() -> dict[str, np.ndarray]:
    return {"DOP853 1e-10": ek.datasets.lorenz(N_STEPS, dt=DT, x0=X0, discard=0.0, rtol=1e-10, atol=1e-10),
            "RK23 1e-3": lorenz_rk23(N_STEPS)}


def fit_esnkit(X: np.ndarray, ridge: float = RIDGE, bias: bool = True) -> ek.NVAR:
    return ek.NVAR(K, skip=S, order=P, ridge=ridge, bias=bias, predict_increment=True,
                   washout=WARMUP).fit(X[:WARMUP + TRAIN], X[1:WARMUP + TRAIN + 1])


def scores(X: np.ndarray, ridge: float) -> dict:
    m = fit_esnkit(X, ridge)
    n = WARMUP + TRAIN
    scale = X[STARTS[0]:].std(axis=0)  # the attractor's, per variable
    m.reset()
    train_pred = m.predict(X[:n], update_state=False)[WARMUP:]
    train = ek.metrics.nrmse(X[WARMUP + 1:n + 1], train_pred, scale=scale)
    test_pred = m.predict(X[STARTS[0] - 1:10000 - 1], update_state=False)[K * S:]
    test = ek.metrics.nrmse(X[STARTS[0] + K * S:10000], test_pred, scale=scale)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ek.OutputRangeWarning)
        f = m.forecast([X[:s] for s in STARTS], HORIZON, check_finite=False)
    true = np.stack([X[s:s + HORIZON] for s in STARTS])
    f = np.nan_to_num(f, nan=1e12, posinf=1e12, neginf=-1e12)
    vpt = ek.metrics.valid_prediction_time(true, f, dt=DT, lyapunov_exponent=LYAPUNOV, scale=scale)
    with np.errstate(over="ignore", invalid="ignore"):
        lt = [ek.metrics.nrmse(true[i, :ONE_LT], f[i, :ONE_LT], scale=scale) for i in range(len(STARTS))]
    return {"train": train, "test": test, "one_lt": statistics.median(lt), "vpt": vpt}


# ------------------------------------------------------------------ reservoirpy, side by side
def fit_reservoirpy(X: np.ndarray):
    from reservoirpy.nodes import NVAR, Ridge

    model = NVAR(delay=K, order=P, strides=S) >> Ridge(ridge=RIDGE, fit_bias=False)
    n = WARMUP + TRAIN
    return model.fit(X[:n], X[1:n + 1] - X[:n], warmup=WARMUP)


def forecast_reservoirpy(model, X: np.ndarray) -> np.ndarray:
    h = (K - 1) * S
    out = np.empty((len(STARTS), HORIZON, 3))
    for i, s in enumerate(STARTS):
        if h:
            model.run(X[s - 1 - h:s - 1])  # the start's delay line
        u = X[s - 1]
        for t in range(HORIZON):
            u = u + model(u)
            out[i, t] = u
    return out


def forecast_esnkit(m: ek.NVAR, X: np.ndarray, one_by_one: bool = False) -> np.ndarray:
    if one_by_one:
        return np.stack([m.forecast(X[:s], HORIZON, check_finite=False) for s in STARTS])
    return m.forecast([X[:s] for s in STARTS], HORIZON, check_finite=False)


def cpu(fn) -> float:
    t0 = time.process_time()
    fn()
    return time.process_time() - t0


def interleaved(fns: dict, repeats: int) -> dict:
    for fn in fns.values():
        fn()  # warm-up
    times = {k: [] for k in fns}
    names = list(fns)
    for r in range(repeats):
        for k in (names if r % 2 == 0 else names[::-1]):
            times[k].append(cpu(fns[k]))
    return {k: statistics.median(v) for k, v in times.items()}


def rel(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a - b).max() / np.abs(b).max())


def valid_steps(f: np.ndarray, true: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """Per start, the steps before the normalised error of ``f`` first exceeds 0.3."""
    return np.round(ek.metrics.valid_prediction_time(true, f, dt=1.0, scale=scale)).astype(int)


def side_by_side(name: str, X: np.ndarray, repeats: int) -> str:
    """The table row of esnkit against reservoirpy on trajectory ``X``."""
    n = WARMUP + TRAIN
    ours = ek.NVAR(K, skip=S, order=P, ridge=RIDGE, bias=False, predict_increment=True, washout=WARMUP)
    m = ours.clone().fit(X[:n], X[1:n + 1])
    theirs = fit_reservoirpy(X)
    one_ours = m.predict(X[n:10000], update_state=False)
    one_theirs = X[n:10000] + theirs.run(X[n:10000])  # continues from the end of training, as ours does
    f_ours = np.nan_to_num(forecast_esnkit(m, X), nan=1e12, posinf=1e12, neginf=-1e12)
    with np.errstate(all="ignore"):
        f_theirs = np.nan_to_num(forecast_reservoirpy(theirs, X), nan=1e12, posinf=1e12, neginf=-1e12)
    true = np.stack([X[s:s + HORIZON] for s in STARTS])
    scale = X[STARTS[0]:].std(axis=0)
    # the forecasts compared while both are valid (error below 0.3): a diverged run has no digits to agree on
    valid = np.minimum(valid_steps(f_ours, true, scale), valid_steps(f_theirs, true, scale))
    pairs = [(f_ours[i, :v], f_theirs[i, :v]) for i, v in enumerate(valid) if v]
    forecast_agree = max(rel(a, b) for a, b in pairs)
    fit_t = interleaved({"esnkit": lambda: ours.clone().fit(X[:n], X[1:n + 1]),
                         "reservoirpy": lambda: fit_reservoirpy(X)}, repeats)
    fc_t = interleaved({"batched": lambda: forecast_esnkit(m, X),
                        "one": lambda: forecast_esnkit(m, X, one_by_one=True),
                        "reservoirpy": lambda: forecast_reservoirpy(theirs, X)}, max(3, repeats // 3))
    return (f"| {name} | {fit_t['esnkit'] * 1e3:.2f} | {fit_t['reservoirpy'] * 1e3:.2f} | "
            f"{fc_t['batched'] * 1e3:.0f} | {fc_t['one'] * 1e3:.0f} | {fc_t['reservoirpy'] * 1e3:.0f} | "
            f"{rel(one_ours[STARTS[0] - n:], one_theirs[STARTS[0] - n:]):.1e} | {forecast_agree:.1e} "
            f"({int(np.median(valid))}) |")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="3 timing repeats instead of 11")
    ap.add_argument("--out", type=Path, default=HERE / "results" / "nvar.md")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    repeats = 3 if args.quick else 11
    data = trajectories()
    lines = [
        f"# Next-generation RC on Lorenz-63: esnkit.NVAR and reservoirpy's NVAR ({datetime.date.today().isoformat()})",
        "",
        f"Machine: {_report.machine()}, one thread. Python {platform.python_version()}, torch {torch.__version__}, "
        f"esnkit {ek.__version__}. Command: `OMP_NUM_THREADS=1 python benchmarks/nvar.py"
        f"{' --quick' if args.quick else ''}`.",
        "",
        f"Gauthier et al.'s protocol: dt={DT}, k={K}, s={S}, p={P} (28 features), the increment learned, warm-up "
        f"{WARMUP} steps, training {TRAIN} steps. NRMSE: esnkit.metrics.nrmse scaled by the attractor's standard "
        "deviation per variable; "
        f"one step: one-step-ahead, training steps / test steps 1000..10000; 1 LT: closed-loop forecast over its "
        f"first {ONE_LT} steps (one Lyapunov time), median over the starts; VPT: valid prediction time in Lyapunov "
        f"times (λ={LYAPUNOV}, threshold 0.3), median [min, max] over {len(STARTS)} starts, horizon {HORIZON} steps. "
        "inf: more than half the forecasts diverged within one Lyapunov time.",
        "",
        "| data | ridge | training NRMSE (one step) | testing NRMSE (one step) | forecast NRMSE (1 LT) | "
        "VPT median [min, max] |",
        "|---|---|---|---|---|---|",
    ]
    for name, X in data.items():
        ridges = (RIDGE, 1e-4, 1e-3, 1e-2) if name.startswith("DOP853") else (RIDGE,)
        for ridge in ridges:
            r = scores(X, ridge)
            v = r["vpt"]
            lines.append(f"| {name} | {ridge:g} | {r['train']:.2e} | {r['test']:.2e} | {r['one_lt']:.2e} | "
                         f"{np.median(v):.2f} [{v.min():.2f}, {v.max():.2f}] |")
            print(lines[-1], flush=True)
    try:
        import reservoirpy  # noqa: F401
    except ImportError:
        lines += ["", "reservoirpy is not installed: no side-by-side comparison."]
        _report.write(str(args.out), lines)
        return 0
    lines += [
        "",
        f"## Side by side with reservoirpy {reservoirpy.__version__} (same data, same features, same ridge problem)",
        "",
        "esnkit `NVAR(2, bias=False, predict_increment=True)` against reservoirpy `NVAR(delay=2, order=2, strides=1) "
        ">> Ridge(fit_bias=False)`, ridge 2.5e-6. Process CPU time, one thread, medians of "
        f"{repeats} interleaved repeats after a warm-up. Forecast: {len(STARTS)} starts x {HORIZON} steps. "
        "Agreement: max |esnkit - reservoirpy| / max |reservoirpy| of the one-step predictions on steps "
        "1000..10000, and of the forecasts over the steps where both are valid (normalised error below 0.3; "
        "median of those steps per start in brackets).",
        "",
        "| data | esnkit fit ms | reservoirpy fit ms | esnkit forecast ms (batched) | "
        "esnkit forecast ms (one by one) | reservoirpy forecast ms | one-step agreement | "
        "forecast agreement (valid steps) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, X in data.items():
        lines.append(side_by_side(name, X, repeats))
        print(lines[-1], flush=True)
    _report.write(str(args.out), lines)
    return 0


if __name__ == "__main__":
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        sys.exit(main())
