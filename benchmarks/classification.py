"""Sequence classification: esnkit's recipes against reservoirpy's documented recipes and
non-reservoir baselines, on the same data, in the same run.

    OMP_NUM_THREADS=1 python benchmarks/classification.py                 # Japanese Vowels, ~10 minutes
    OMP_NUM_THREADS=1 python benchmarks/classification.py --datasets japanese_vowels basic_motions exercise_watch
    OMP_NUM_THREADS=1 python benchmarks/classification.py --quick         # 3 seeds, few trials: a smoke test

For every dataset (``esnkit.datasets``: Japanese Vowels is bundled; BasicMotions and the exercise
watch set need sktime and seglearn installed):

- **esnkit, searched** (one reservoir, N = 500) and **esnkit ensemble** (``--ensemble`` reservoirs of
  ``--ensemble-size`` neurons): hyper-parameters (spectral radius, leak rate, input scaling; the
  ridge exactly over its grid) chosen by ``esnkit.search(objective="accuracy", folds=5)`` on the
  **training sequences only**, reservoir seed 0; then fitted with each of the seeds 0..S-1 on all
  training sequences and scored on the test set. The search's time is reported apart.
- **esnkit, reservoir model space** (Bianchi et al. 2020; ``pooling="model"``, N = 30): each
  sequence is represented by the coefficients of its own ridge model of the next input from the
  state; searched like the others.
- **esnkit ensemble, Jaeger et al. (2007)'s recipe**: their Japanese Vowels setting, fixed (no
  search): 100 fully connected reservoirs of 4 leaky neurons (spectral radius 0.2, leak rate 0.2,
  input scaling 1.5), each sequence represented by its inputs and states at three support points
  (``pooling="seg3", input_summary="seg3"``), least squares without regularisation (``ridge=0``),
  the members' decisions averaged; once on the raw inputs as in the paper (``scale=False``) and
  once on inputs standardised with the training frames' mean and std (esnkit's default).
- **esnkit, reservoirpy's recipes**: the same two recipes as reservoirpy's tutorial, on esnkit's
  reservoir: the last state (``pooling="last"``, no input summary, no scaling) and every step
  (``pooling="steps"``), with the tutorial's spectral radius, leak and ridge.
- **reservoirpy** 0.4.2: its tutorial's last-state and per-step recipes (benchmarks/classification_peers.py).
- **logistic regression** on each sequence's mean, std, first and last frames (no reservoir), and
  **MiniRocket** (aeon, through ``/work/bench-venv`` or ``ESNKIT_MINIROCKET_PYTHON`` when aeon is not
  importable here; skipped when neither works).

Every recipe runs with seeds 0..S-1 (deterministic ones once). Reported: test accuracy (median,
min, max over seeds), training time on all training sequences and prediction time per test
sequence (medians of process CPU time, one thread; wall-clock times are in the JSON). Writes
benchmarks/results/classification.md and .json after each dataset.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import sys
import time
import warnings

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(__file__))
import _report  # noqa: E402
import classification_peers as peers  # noqa: E402

import esnkit as ek  # noqa: E402

SPACE = {"spectral_radius": {"low": 0.1, "high": 1.5}, "leak_rate": {"low": 0.02, "high": 1.0, "log": True},
         "input_scaling": {"low": 0.05, "high": 2.0, "log": True}}
# reservoirpy's tutorial hyper-parameters (see classification_peers.py), as esnkit arguments
LAST_STATE = dict(spectral_radius=0.9, leak_rate=0.1, input_scaling=1.0, ridge=1e-6, pooling="last",
                  input_summary=None, scale=False)
# Jaeger, Lukosevicius, Popovici & Siewert (2007), section on the Japanese Vowels: 4-neuron leaky ESNs,
# [u; x] at D = 3 support points, a linear readout by least squares, outputs averaged over the ensemble
JAEGER = dict(reservoir_size=4, n_reservoirs=100, spectral_radius=0.2, leak_rate=0.2, input_scaling=1.5,
              connectivity=1.0, pooling="seg3", input_summary="seg3", ridge=0.0)
# Bianchi et al. (2020)'s reservoir model space: each sequence's ridge model of its next input from
# its state as the features; a small reservoir, since the features grow as (N + 1) x inputs
MODEL_SPACE = dict(pooling="model", input_summary=None)
MODEL_SPACE_N = 30
PER_STEP = dict(spectral_radius=0.05, leak_rate=1.0, input_scaling=1.0, ridge=1e-1, pooling="steps",
                input_summary=None, scale=False)


def _timed_esnkit(name: str, params: dict, data, seed: int) -> dict:
    X_train, y_train, X_test, y_test = data
    clf = ek.ESNClassifier(**{**params, "seed": seed})
    w0, c0 = time.perf_counter(), time.process_time()
    clf.fit(X_train, y_train)
    w1, c1 = time.perf_counter(), time.process_time()
    predicted = clf.predict(X_test)
    w2, c2 = time.perf_counter(), time.process_time()
    n = len(X_test)
    return {"recipe": name, "seed": seed, "params": {k: v for k, v in params.items()},
            "accuracy": float(np.mean(predicted == np.asarray(y_test))), "train_s": w1 - w0, "train_cpu_s": c1 - c0,
            "predict_s_per_seq": (w2 - w1) / n, "predict_cpu_s_per_seq": (c2 - c1) / n}


def _searched(data, fixed: dict, trials: int) -> tuple[dict, float, float]:
    X_train, y_train = data[0], data[1]
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = ek.search(X_train, y_train, space=SPACE, fixed={**fixed, "seed": 0}, objective="accuracy", folds=5,
                      n_trials=trials, batch_size=4, seed=0, progress=False, refit=False)
    params = {**r.best_params, "ridge": r.best_ridge}
    params.pop("seed", None)
    return params, r.best_value, time.perf_counter() - t0


def _summary(rows: list[dict]) -> dict:
    acc = [r["accuracy"] for r in rows]
    return {"median": statistics.median(acc), "min": min(acc), "max": max(acc), "n": len(acc),
            "train_s": statistics.median(r["train_cpu_s"] for r in rows),
            "predict_ms": 1e3 * statistics.median(r["predict_cpu_s_per_seq"] for r in rows)}


def run(dataset: str, seeds: int, trials: int, n: int, ensemble: int, ensemble_size: int) -> dict:
    data = ek.datasets.CLASSIFICATION[dataset]()
    out = {"dataset": dataset, "train": len(data[0]), "test": len(data[2]), "recipes": {}, "search": {}}
    print(f"== {dataset}: {len(data[0])} train / {len(data[2])} test", flush=True)
    single, cv, secs = _searched(data, {"reservoir_size": n}, trials)
    out["search"]["single"] = {"params": single, "cv_accuracy": cv, "seconds": secs}
    print(f"  search (N={n}): cv accuracy {cv:.4f} in {secs:.0f} s: {single}", flush=True)
    ens, cv_e, secs_e = _searched(data, {"reservoir_size": ensemble_size, "n_reservoirs": ensemble}, trials)
    out["search"]["ensemble"] = {"params": ens, "cv_accuracy": cv_e, "seconds": secs_e}
    print(f"  search ({ensemble} x {ensemble_size}): cv accuracy {cv_e:.4f} in {secs_e:.0f} s: {ens}", flush=True)
    space_model, cv_m, secs_m = _searched(data, {"reservoir_size": MODEL_SPACE_N, **MODEL_SPACE}, trials)
    out["search"]["model space"] = {"params": space_model, "cv_accuracy": cv_m, "seconds": secs_m}
    print(f"  search (model space, N={MODEL_SPACE_N}): cv accuracy {cv_m:.4f} in {secs_m:.0f} s", flush=True)
    esn_recipes = {
        f"esnkit, searched (N={n})": {"reservoir_size": n, **single},
        f"esnkit ensemble, searched ({ensemble} x {ensemble_size})": {
            "reservoir_size": ensemble_size, "n_reservoirs": ensemble, **ens},
        f"esnkit, reservoir model space, searched (N={MODEL_SPACE_N})": {"reservoir_size": MODEL_SPACE_N,
                                                                         **space_model},
        "esnkit ensemble, Jaeger et al. 2007's recipe, raw inputs (100 x 4)": {**JAEGER, "scale": False},
        "esnkit ensemble, Jaeger et al. 2007's recipe, standardised inputs (100 x 4)": {**JAEGER, "scale": True},
        f"esnkit, reservoirpy's last-state recipe (N={n})": {"reservoir_size": n, **LAST_STATE},
        f"esnkit, reservoirpy's per-step recipe (N={n})": {"reservoir_size": n, **PER_STEP},
    }
    peer_recipes = {
        f"reservoirpy 0.4.2, last state (N={n})": peers.reservoirpy_last_state,
        f"reservoirpy 0.4.2, per step (N={n})": peers.reservoirpy_per_step,
        "logistic regression on mean/std/first/last frames": peers.logistic_summary,
        "MiniRocket (aeon)": peers.minirocket,
    }
    deterministic = {"logistic regression on mean/std/first/last frames"}
    rows: dict[str, list[dict]] = {k: [] for k in [*esn_recipes, *peer_recipes]}
    skipped: dict[str, str] = {}
    # seeds interleaved: every recipe runs once per seed before the next seed, so a slow spell of the
    # machine touches them alike
    for seed in range(seeds):
        for name, params in esn_recipes.items():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                rows[name].append(_timed_esnkit(name, params, data, seed))
        for name, fn in peer_recipes.items():
            if name in skipped or (name in deterministic and rows[name]):
                continue
            r = fn(*data, seed=seed, n=n)
            if "skipped" in r:
                skipped[name] = r["skipped"]
                continue
            rows[name].append(r)
        print(f"  seed {seed}: " + ", ".join(f"{k.split(',')[0]} {v[-1]['accuracy']:.4f}" for k, v in rows.items()
                                            if v), flush=True)
    out["recipes"] = {k: {"summary": _summary(v), "runs": v} for k, v in rows.items() if v}
    out["skipped"] = skipped
    return out


def table(results: list[dict], args) -> list[str]:
    today = datetime.date.today().isoformat()
    lines = [
        "# Sequence classification: esnkit vs reservoirpy and non-reservoir baselines",
        "",
        f"Run {today} with `{' '.join(['python', *sys.argv])}`. Machine: {_report.machine()}, one thread "
        f"(OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}, torch threads {torch.get_num_threads()}). "
        f"Python {platform.python_version()}, torch {torch.__version__}, esnkit {ek.__version__}.",
        "",
        f"Accuracy on the test set over seeds 0..{args.seeds - 1} (median, min-max); training time on all "
        "training sequences and prediction time per test sequence are medians of process CPU time. esnkit's "
        "searched hyper-parameters come from a 5-fold stratified search on the training sequences only.",
    ]
    for res in results:
        lines += ["", f"## {res['dataset']} ({res['train']} train / {res['test']} test)", "",
                  "| recipe | test accuracy, median | min - max | seeds | train (s) | predict (ms/seq) |",
                  "|---|---|---|---|---|---|"]
        for name, r in res["recipes"].items():
            s = r["summary"]
            lines.append(f"| {name} | {100 * s['median']:.2f} % | {100 * s['min']:.2f} - {100 * s['max']:.2f} % | "
                         f"{s['n']} | {s['train_s']:.3f} | {s['predict_ms']:.3f} |")
        for name, why in res["skipped"].items():
            lines.append(f"| {name} | skipped: {why} | | | | |")
        lines.append("")
        for which, srch in res["search"].items():
            p = ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in srch["params"].items())
            lines.append(f"- search, {which}: 5-fold CV accuracy {100 * srch['cv_accuracy']:.2f} % in "
                         f"{srch['seconds']:.0f} s ({args.trials} trials): {p}")
    return lines


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--datasets", nargs="+", default=["japanese_vowels"], choices=list(ek.datasets.CLASSIFICATION))
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--trials", type=int, default=32)
    ap.add_argument("--reservoir-size", type=int, default=500)
    ap.add_argument("--ensemble", type=int, default=30, help="reservoirs in the ensemble recipe")
    ap.add_argument("--ensemble-size", type=int, default=100, help="neurons per ensemble member")
    ap.add_argument("--quick", action="store_true", help="3 seeds and 4 trials: a smoke test, not for quoting")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results", "classification.md"))
    args = ap.parse_args(argv)
    if args.quick:
        args.seeds, args.trials = 3, 4
    torch.set_num_threads(1)
    results = []
    for d in args.datasets:  # the files are rewritten after each dataset: an interrupted run keeps what finished
        results.append(run(d, args.seeds, args.trials, args.reservoir_size, args.ensemble, args.ensemble_size))
        _report.write(args.out, table(results, args))
        with open(os.path.splitext(args.out)[0] + ".json", "w") as f:
            json.dump(results, f, indent=1, default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main())
