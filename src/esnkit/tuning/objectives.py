"""Scoring configurations (runs on the workers): one ensemble harvest, the ridge path, the objective."""

from __future__ import annotations

import contextlib
import math
import threading
import traceback
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ..errors import NonFiniteStateError, SearchError
from ..models.ensemble import SHARED, Ensemble, Harvest, fitted_member
from ..models.esn import ESN, ESNState
from ..readout.ridge_path import RidgePath, cheaper_method, kfold_sse

OBJECTIVES = ("nrmse", "free_run", "vpt")
# Evaluation failures a trial records instead of stopping the search.
TRIAL_ERRORS = (ValueError, TypeError, ArithmeticError, RuntimeError, NonFiniteStateError, np.linalg.LinAlgError)


@dataclass
class Task:
    """Everything a worker needs to score configurations; sent to each Dask worker once."""

    inputs: np.ndarray | None
    targets: np.ndarray
    split: int
    ridges: np.ndarray
    objective: str | Callable
    folds: int | None = None
    horizon: int = 84
    starts: int = 10
    threshold: float = 0.3
    time_scale: float = 1.0
    ridge_candidates: int | None = 5
    dtype: str = "float64"
    device: str = "cpu"


# ---------------------------------------------------------------------------------------------
# scoring (runs on the workers)


def _var(y: torch.Tensor) -> torch.Tensor:
    v = y.to(torch.float64).var(dim=0, unbiased=False)
    return torch.where(v > 0, v, torch.ones_like(v))


def _free_run_windows(n_rows: int, task: Task) -> np.ndarray:
    last = n_rows - task.horizon - 1
    if last < 0:
        raise ValueError(f"the validation part has {n_rows} steps, too few for horizon={task.horizon}: "
                          "lower horizon or raise the validation fraction")
    return np.unique(np.linspace(0, last, task.starts).round().astype(int))


def _free_runs(model: ESN, reservoir, weight, h: Harvest, k: int, task: Task) -> tuple[np.ndarray, np.ndarray]:
    """Free runs from every start: predictions and truth, both (starts, horizon, D)."""
    N = reservoir.size
    rows = _free_run_windows(h.Z.shape[1], task)
    idx = torch.as_tensor(rows, device=h.Z.device)
    x0 = h.Z[k, idx, -N:].to(weight.dtype)
    y0 = h.Y[idx]
    esn = fitted_member(model, reservoir, weight, h.input_size, ESNState(x0, y0), h.targets)
    pred = esn.generate(task.horizon)
    truth = torch.stack([h.Y[r + 1: r + 1 + task.horizon] for r in rows])
    return np.asarray(pred, dtype=np.float64).reshape(truth.shape), truth.double().cpu().numpy()


def _score_free_run(pred: np.ndarray, truth: np.ndarray, std: np.ndarray, task: Task) -> float:
    err = (pred - truth) / std  # (starts, horizon, D)
    if task.objective == "free_run":
        return float(np.sqrt((err**2).mean(axis=(0, 1))).mean())
    rms = np.sqrt((err**2).mean(axis=-1))  # (starts, horizon)
    over = rms > task.threshold
    steps = np.where(over.any(axis=1), over.argmax(axis=1), task.horizon)
    return float(np.median(steps)) * task.time_scale


def _evaluate_ensemble(models: list[ESN], task: Task) -> list[dict]:
    U = None if task.inputs is None else task.inputs
    h = Ensemble(models).harvest(U, task.targets, split=None if task.folds else task.split, keep_all=bool(task.folds))
    ridges = task.ridges
    var = _var(h.Y)
    # A GPU decomposes a batch of symmetric matrices larger than 32 x 32 one at a time, but
    # factors a batch by Cholesky in one call, so a large batch is solved one ridge value at a
    # time (see RidgePath). Ridge values too small for a stable factorisation then score NaN
    # and are passed over.
    method = cheaper_method(h.G, len(ridges))
    if task.folds:
        sse = kfold_sse(h.Z, h.Y, task.folds, ridges, method=method)  # (K, L, D)
        path = None
    else:
        path = RidgePath(h.G, h.C, yy=h.yy, count=h.count, method=method)
        sse = path.sse(h.Z, h.Y, ridges)
    one_step = torch.sqrt(sse / (h.Y.shape[0] * var)).mean(dim=-1)  # (K, L)
    results = []
    std = np.sqrt(var.cpu().numpy())
    for k, model in enumerate(models):
        try:
            results.append(_score_member(model, k, h, path, one_step[k], std, task))
        except SearchError:
            raise
        except Exception as exc:  # noqa: BLE001 - a user objective may raise anything: that trial fails
            results.append(_failure(exc))
    return results


def _score_member(model: ESN, k: int, h: Harvest, path: RidgePath | None, curve: torch.Tensor, std: np.ndarray,
                  task: Task) -> dict:
    ridges = task.ridges
    best = int(torch.argmin(torch.nan_to_num(curve, nan=math.inf)))
    res = {"one_step_nrmse": float(curve[best]), "ridge": float(ridges[best])}
    if task.objective == "nrmse":
        res["value"] = res["one_step_nrmse"]
    else:
        finite = torch.isfinite(curve).tolist()
        order = torch.argsort(torch.nan_to_num(curve, nan=math.inf))
        cand = [r for r in order[: task.ridge_candidates or len(ridges)].tolist() if finite[r]]
        weights = path[k].weights(ridges[cand])  # (L', D, F)
        best_val, best_ridge, errors = None, None, []
        maximise = task.objective == "vpt"
        for j, r in enumerate(cand):
            w = weights[j].to(h.reservoirs[k].W_values.dtype)
            try:
                if callable(task.objective):
                    esn = fitted_member(model, h.reservoirs[k], w, h.input_size, h.at_split[k], h.targets)
                    val_in = None if task.inputs is None else task.inputs[task.split:]
                    v = float(task.objective(esn, val_in, task.targets[task.split:]))
                else:
                    pred, truth = _free_runs(model, h.reservoirs[k], w, h, k, task)
                    v = _score_free_run(pred, truth, std, task)
            except NonFiniteStateError as exc:
                errors.append(str(exc))
                continue
            if not math.isfinite(v):
                errors.append(f"the objective returned {v!r}")
                continue
            if best_val is None or (v > best_val if maximise else v < best_val):
                best_val, best_ridge = v, float(ridges[r])
        if best_val is None:
            raise ValueError("; ".join(errors) or "no ridge value could be scored")
        res["value"], res["ridge"] = best_val, best_ridge
    if not math.isfinite(res["value"]):
        raise ValueError(f"the objective is {res['value']!r} for every ridge value")
    return res


def _failure(exc: BaseException) -> dict:
    return {"error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc(limit=6)}


def evaluate(task: Task, configs: Sequence[Mapping[str, Any]]) -> list[dict]:
    """Score ``configs`` (ESN arguments) on ``task``; one result dict per configuration.

    Configurations sharing the ensemble-layout parameters run as one ensemble. A configuration
    that fails gets ``{"error": ...}``; when a shared run fails (a diverging member makes the
    whole stacked state non-finite) its members are retried one by one, so only the culprit fails.
    """
    results: list[dict | None] = [None] * len(configs)
    groups: dict[tuple, list[tuple[int, ESN]]] = {}
    for i, cfg in enumerate(configs):
        try:
            m = ESN(**{**cfg, "dtype": task.dtype, "device": task.device})
        except (ValueError, TypeError) as exc:
            results[i] = _failure(exc)
            continue
        key = tuple(repr(getattr(m, name)) for name in SHARED)
        groups.setdefault(key, []).append((i, m))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # echo-state and convergence notices, trial after trial
        for members in groups.values():
            pending = [members]
            while pending:
                group = pending.pop()
                try:
                    out = _evaluate_ensemble([m for _, m in group], task)
                except SearchError:
                    raise
                except TRIAL_ERRORS as exc:
                    if len(group) > 1:
                        pending.extend([[g] for g in group])
                        continue
                    results[group[0][0]] = _failure(exc)
                    continue
                for (i, _), r in zip(group, out):
                    results[i] = r
    return results


# Rounds running in this process under _one_torch_thread, and the thread count to restore after the last.
_ONE_THREAD_LOCK = threading.Lock()
_ONE_THREAD_USERS = 0
_THREADS_BEFORE = 1


@contextlib.contextmanager
def _one_torch_thread():
    """torch on one thread while the block runs, then the worker's own setting again.

    The worker may belong to the user's cluster and run other work after ours; it may also run
    several rounds at once in threads, so the count is set by the first round to start and restored
    by the last to finish (torch's setting is per process).
    """
    global _ONE_THREAD_USERS, _THREADS_BEFORE
    with _ONE_THREAD_LOCK:
        if _ONE_THREAD_USERS == 0:
            _THREADS_BEFORE = torch.get_num_threads()
            torch.set_num_threads(1)
        _ONE_THREAD_USERS += 1
    try:
        yield
    finally:
        with _ONE_THREAD_LOCK:
            _ONE_THREAD_USERS -= 1
            if _ONE_THREAD_USERS == 0:
                torch.set_num_threads(_THREADS_BEFORE)


def _evaluate_on_worker(task: Task, configs: Sequence[Mapping[str, Any]]) -> list[dict]:
    # one worker process per core: a multi-threaded BLAS inside each would oversubscribe them
    with _one_torch_thread():
        return evaluate(task, configs)
