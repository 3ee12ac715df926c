"""Readout feature maps on the forecasting protocols: one search per map, then the untouched test windows.

    OMP_NUM_THREADS=1 python benchmarks/features.py [--trials 60] [--only lorenz] [--maps linear squared]

For each protocol and each map of ``ESN(features=...)`` ('linear' [1; u; x], 'squared' with every
second neuron squared, 'quadratic' [1; u; x; x²]), `esnkit.search` tunes the spectral radius, leak
rate, input and bias scaling (and the ridge, exactly) on the protocol's training series alone, as
benchmarks/tune_protocols.py does (the last 30% validates free runs; N = 1000, reservoir seed 0, TPE
seed 0), with the same number of trials for every map (a map whose readout the native loop cannot
run takes longer per trial: the CPU seconds are in the table). The refitted best model is then scored on the
protocol's test windows, which no search saw. The Lorenz validation horizon is 1500 steps (27.2
Lyapunov times), so that the objective is not capped below the 20 Lyapunov times sought.
Writes benchmarks/results/features.md and .json.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
import time
import warnings

import _report
import torch
from tune_protocols import SETTINGS

import esnkit as ek
from esnkit.benchmarks import protocols
from esnkit.benchmarks.forecasters import ESNForecaster

HORIZONS = {"lorenz": 1500}  # validation horizon overrides (see the module docstring)
RESULTS = os.path.join(os.path.dirname(__file__), "results")


def run(name: str, fmap: str, size: int, trials: int) -> dict:
    p = protocols.get(name)
    train, _ = p.series()
    s = dict(SETTINGS[name])
    s["horizon"] = HORIZONS.get(name, s["horizon"])
    space = dict(s.pop("space"))
    fixed = {"reservoir_size": size, "seed": 0, "features": fmap, **s.pop("fixed")}
    c0 = time.process_time()
    r = ek.search(train, space=space, fixed=fixed, validation=0.3, time_scale=p.time_scale, ridge_candidates=3,
                  n_trials=trials, seed=0, progress=sys.stderr.isatty(), **s)
    search_cpu = time.process_time() - c0
    params = {k: (float(v) if isinstance(v, float) else v) for k, v in r.best_params.items()}
    model = ESNForecaster(**params, ridge=float(r.best_ridge))
    c0 = time.process_time()
    w = p.windows()
    model.fit(w.train)
    fit_cpu = time.process_time() - c0
    c0 = time.process_time()
    score = p.score(model.forecast(w.contexts, p.horizon), w)
    forecast_cpu = time.process_time() - c0
    done = sum(1 for row in r.table if row["state"] == "COMPLETE")
    return {"protocol": name, "features": fmap, "reservoir_size": size, "params": params,
            "ridge": float(r.best_ridge), "objective": s["objective"], "validation_value": float(r.best_value),
            "validation_horizon": s["horizon"], "trials": done, "search_cpu_s": round(search_cpu, 1),
            "fit_cpu_s": round(fit_cpu, 3), "forecast_cpu_s": round(forecast_cpu, 3),
            "starts": len(w.contexts), "headline": float(score.headline), "values": score.values}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--trials", type=int, default=60, help="search trials per protocol and map")
    ap.add_argument("--size", type=int, default=1000)
    ap.add_argument("--only", choices=list(SETTINGS), action="append")
    ap.add_argument("--maps", nargs="+", default=list(ek.readout.FEATURE_MAPS), choices=list(ek.readout.FEATURE_MAPS))
    args = ap.parse_args()
    torch.set_num_threads(1)
    warnings.simplefilter("ignore")
    names = args.only or ["lorenz", "mackey_glass"]
    command = (f"OMP_NUM_THREADS=1 python benchmarks/features.py --trials {args.trials} --size {args.size}"
               + "".join(f" --only {n}" for n in args.only or []) + " --maps " + " ".join(args.maps))
    rows = []
    for name in names:
        for fmap in args.maps:
            row = run(name, fmap, args.size, args.trials)
            print(f"{name} {fmap}: test {row['headline']:.4g} (validation {row['validation_value']:.4g}, "
                  f"{row['trials']} trials)", flush=True)
            rows.append(row)
    meta = {"date": datetime.date.today().isoformat(), "machine": _report.machine(), "command": command}
    with open(os.path.join(RESULTS, "features.json"), "w") as f:
        json.dump({**meta, "rows": rows}, f, indent=2)
    lines = ["# Readout feature maps on the forecasting protocols", "",
             f"{meta['date']}, {meta['machine']}, one thread. Command: `{command}`.", "",
             "Each map is searched on the protocol's training series only (validation: the last 30%, free runs); "
             "the test column scores the refitted best on the protocol's test windows, which the search never saw "
             "(Lorenz: median valid prediction time at ε = 0.3 in Lyapunov times, higher is better; Mackey-Glass: "
             "NRMSE over 84 steps, lower is better). CPU seconds: the search, one fit on the training series, "
             "the forecasts of every test window.", "",
             "| protocol | features | N | test | validation | trials | search s | fit s | forecast s | ridge |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['protocol']} | {r['features']} | {r['reservoir_size']} | {r['headline']:.4g} | "
                     f"{r['validation_value']:.4g} | {r['trials']} | {r['search_cpu_s']:.0f} | {r['fit_cpu_s']:.2f} | "
                     f"{r['forecast_cpu_s']:.2f} | {r['ridge']:.3g} |")
    _report.write(os.path.join(RESULTS, "features.md"), lines)


if __name__ == "__main__":
    main()
