"""Find each benchmark protocol's ESN configuration with `esnkit.search`, on its training series only.

    OMP_NUM_THREADS=1 python benchmarks/tune_protocols.py [--budget 300] [--only lorenz]
    OMP_NUM_THREADS=1 python benchmarks/tune_protocols.py --budget 60 --sizes 25 50 75 100 150 200 300

Writes src/esnkit/benchmarks/tuned.json (what `esnkit bench` runs as "esnkit, tuned") and
benchmarks/results/tuned_configs.md. With ``--sizes``, each of those reservoir sizes gets a search
of its own (the same space, objective and validation), which the bench's size sweep then runs at
that size instead of the N=1000 configuration shrunk. The test windows are never seen: the search holds out the
last 30% of the training series and scores free runs there (Mackey-Glass: NRMSE over 84 steps
from 20 points; Lorenz and Rössler: median valid prediction time from 30 and 10 points). TPE sampler,
seed 0, reservoir seed 0, N = 1000 (or each of ``--sizes``), a wall-clock budget per protocol and size.
``--topology`` also searches the reservoir's draw: its seed (one of 64) and the nonzeros per row of W.
``--starts`` validates on that many free runs instead (a less noisy score to choose by; the record
keeps the number, and records validated on different numbers of starts do not compare).
A search replaces an existing record only when it validates better (``--replace``: always).
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

import esnkit as ek
from esnkit.benchmarks import configs, protocols


def _flow_space(input_low: float, input_high: float, bias_high: float = 2.0) -> dict:
    return {"spectral_radius": {"low": 0.05, "high": 1.5, "log": True},
            "leak_rate": {"low": 0.05, "high": 1.0, "log": True},
            "input_scaling": {"low": input_low, "high": input_high, "log": True},
            "bias_scaling": {"low": 0.0, "high": bias_high}}


MAXIMISED = {"vpt"}  # objectives where higher is better (the others are errors)

SETTINGS = {
    "mackey_glass": dict(
        space={"spectral_radius": {"low": 0.3, "high": 1.4}, "leak_rate": {"low": 0.1, "high": 1.0, "log": True},
               "input_scaling": {"low": 0.05, "high": 5.0, "log": True}, "bias_scaling": {"low": 0.0, "high": 1.5}},
        fixed={"washout": 100}, objective="free_run", horizon=84, starts=20,
        ridges={"low": 1e-14, "high": 1e-4, "num": 21}),
    # Lorenz: a 2.0 bias bound was where the best trial sat, so the range runs to 4; the validation
    # median is taken over 30 starts. The horizon caps the objective (a start that never fails scores
    # horizon x dt x lambda): 700 steps capped it at 12.68 Lyapunov times, which the best trials
    # reached, so they tied; 1100 steps cap it at 19.9.
    "lorenz": dict(space=_flow_space(0.005, 1.0, bias_high=4.0), fixed={"washout": 200}, objective="vpt",
                   horizon=1100, starts=30, ridges={"low": 1e-10, "high": 1e-2, "num": 17}),
    "rossler": dict(space=_flow_space(0.002, 0.5), fixed={"washout": 200}, objective="vpt", horizon=1500, starts=10,
                    ridges={"low": 1e-12, "high": 1e-2, "num": 21}),
}


def topology_space(size: int) -> dict:
    """The reservoir's draw as hyper-parameters: which of 64 seeds, and how many nonzeros per row of W
    (2 up to all but one, log-spaced, at most 100). A small reservoir's score depends on its draw as
    much as on its scalings, and trying many draws is what cheap training is for."""
    return {"seed": {"choices": list(range(64))},
            "in_degree": {"low": 2, "high": min(size - 1, 100), "log": True}}


def validates_better(old: dict | None, new: dict) -> bool:
    """Whether the existing record ``old`` scored better than ``new`` on the same validation (same
    objective, horizon and starts): then a search that found less (a larger space in the same time,
    say) does not replace it. Both were chosen on the training series alone."""
    if old is None or any(old.get(k) != new[k] for k in ("objective", "horizon", "starts")):
        return False
    if new["objective"] in MAXIMISED:
        return old["validation_value"] > new["validation_value"]
    return old["validation_value"] < new["validation_value"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--budget", type=float, default=300.0, help="search seconds per protocol")
    ap.add_argument("--size", type=int, default=1000, help="reservoir size of the headline configuration")
    ap.add_argument("--sizes", type=int, nargs="+", help="search these sizes for the size sweep instead")
    ap.add_argument("--only", choices=list(SETTINGS), action="append")
    ap.add_argument("--replace", action="store_true",
                    help="replace an existing record even when it validates better than the new search")
    ap.add_argument("--starts", type=int,
                    help="validation starts (default: each protocol's own); more starts choose on a less noisy score")
    ap.add_argument("--topology", action="store_true",
                    help="search the reservoir's draw too: its seed (0-63) and nonzeros per row of W")
    args = ap.parse_args()
    torch.set_num_threads(1)
    warnings.simplefilter("ignore")
    warnings.simplefilter("always", ek.SearchCapWarning)  # a capped objective could not rank the best trials
    records = json.loads(configs.TUNED_FILE.read_text()) if configs.TUNED_FILE.exists() else {}
    sizes = " --sizes " + " ".join(map(str, args.sizes)) if args.sizes else f" --size {args.size}"
    flags = [f" --only {name}" for name in args.only or []] + ([f" --starts {args.starts}"] if args.starts else [])
    flags += [f" --{flag}" for flag in ("topology", "replace") if getattr(args, flag)]
    command = f"OMP_NUM_THREADS=1 python benchmarks/tune_protocols.py --budget {args.budget:g}{sizes}" + "".join(flags)
    jobs = [(name, n, configs.size_key(name, n)) for name in args.only or list(SETTINGS) for n in args.sizes] \
        if args.sizes else [(name, args.size, name) for name in args.only or list(SETTINGS)]
    for name, size, key in jobs:
        p = protocols.get(name)
        train, _ = p.series()
        s = dict(SETTINGS[name], **({"starts": args.starts} if args.starts else {}))
        space = dict(s.pop("space"))
        fixed = {"reservoir_size": size, **s.pop("fixed")}
        if args.topology:
            space.update(topology_space(size))
        else:
            fixed["seed"] = 0
        t0 = time.perf_counter()
        r = ek.search(train, space=space, fixed=fixed, validation=0.3, time_scale=p.time_scale,
                      ridge_candidates=3, n_trials=100_000, timeout=args.budget, seed=0,
                      progress=sys.stderr.isatty(), **s)
        wall = time.perf_counter() - t0
        done = sum(1 for row in r.table if row["state"] == "COMPLETE")
        params = {k: (float(v) if isinstance(v, float) else v) for k, v in r.best_params.items()}
        record = {
            "params": params, "ridge": float(r.best_ridge), "objective": s["objective"],
            "validation_value": float(r.best_value), "horizon": s["horizon"],
            "starts": s["starts"], "trials": done, "seconds": round(wall, 1),
            "date": datetime.date.today().isoformat(), "machine": _report.machine(), "command": command,
        }
        print(f"{key}: {done} trials in {wall:.0f} s, best {r.best_value:.4g}: {params}, ridge {r.best_ridge:.3g}")
        if args.replace or not validates_better(records.get(key), record):
            records[key] = record
            configs.TUNED_FILE.write_text(json.dumps(records, indent=2) + "\n")
        else:
            print(f"{key}: kept the earlier record, which validates better "
                  f"({records[key]['validation_value']:.4g}, {records[key]['command']})")
    write_table(records)


def write_table(records: dict) -> None:
    """benchmarks/results/tuned_configs.md from the records of tuned.json."""
    lines = ["# ESN configurations found by esnkit.search for the benchmark protocols", "",
             "Written by `benchmarks/tune_protocols.py`; `esnkit bench` runs these as \"esnkit, tuned\", and "
             "`protocol@N` rows at that size in its size sweep.", "",
             "| protocol | objective (validation free runs) | value | trials | s | parameters | ridge | date |",
             "|---|---|---|---|---|---|---|---|"]
    for name, rec in records.items():
        ps = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in rec["params"].items())
        objective = f"{rec['objective']}, {rec['starts']} × {rec['horizon']} steps"
        lines.append(f"| {name} | {objective} | {rec['validation_value']:.4g} | {rec['trials']} | "
                     f"{rec['seconds']:.0f} | {ps} | {rec['ridge']:.3g} | {rec['date']} |")
    by_command: dict[str, list[str]] = {}
    for name, rec in records.items():
        by_command.setdefault(rec["command"], []).append(name)
    lines += ["", f"Machine: {_report.machine()}. Commands: "
              + "; ".join(f"`{c}` ({', '.join(names)})" for c, names in by_command.items()) + "."]
    _report.write(os.path.join(os.path.dirname(__file__), "results", "tuned_configs.md"), lines)


if __name__ == "__main__":
    main()
