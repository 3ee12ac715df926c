"""Scoring configurations (runs on the workers): one ensemble harvest, the ridge path, the objective;
an ESN whose readout trains online, one configuration at a time by its own fit."""

from __future__ import annotations

import contextlib
import copy
import math
import threading
import traceback
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .. import metrics
from ..errors import NonFiniteStateError, SearchError
from ..models import ESN
from ..models.engine import Harvest
from ..models.ensemble import Ensemble
from ..models.esn import SHARED
from ..params import DEFAULTS
from ..readout.ridge_path import RidgePath, cheaper_method, kfold_sse, resolution_floor
from .space import model_arguments

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
    warmup: int = 100
    direction: str = "minimize"
    model: str = "ESN"  # the class name of the model family searched (see space.FAMILIES)


# ---------------------------------------------------------------------------------------------
# scoring (runs on the workers)


def _var(y: torch.Tensor) -> torch.Tensor:
    v = y.to(torch.float64).var(dim=0, unbiased=False)
    return torch.where(v > 0, v, torch.ones_like(v))


def free_run_starts(task: Task) -> np.ndarray:
    """Where the validation free runs start: ``task.starts`` steps ``p``, evenly spread over the
    validation part, each with ``warmup`` steps of it before ``p`` and ``horizon`` after."""
    T = task.targets.shape[0]
    first, last = task.split + task.warmup, T - task.horizon + 1
    if last < first:
        raise ValueError(f"the validation part has {T - task.split} steps, too few for warmup={task.warmup} and "
                         f"horizon={task.horizon}: lower them or raise the validation fraction")
    return np.unique(np.linspace(first, last, task.starts).round().astype(int))


def free_run_windows(task: Task) -> tuple[np.ndarray, np.ndarray]:
    """The validation histories (starts, warmup, D) and what follows each (starts, horizon, D), as
    a benchmark protocol's contexts and truths: the inputs ``u[p - warmup : p]`` warm the model up,
    and its forecast is compared with the targets ``y[p - 1 : p - 1 + horizon]``, the values after
    ``u[p - 1]``."""
    at = free_run_starts(task)
    contexts = np.stack([task.inputs[p - task.warmup: p] for p in at])
    truth = np.stack([task.targets[p - 1: p - 1 + task.horizon] for p in at])
    return contexts, truth


def score_free_runs(pred: Any, truth: np.ndarray, task: Task) -> float:
    """The free-run objectives, through :mod:`esnkit.metrics`: NRMSE over every step of every run
    (``"free_run"``) or the median valid prediction time times ``time_scale`` (``"vpt"``), both
    normalised by the standard deviation of the training targets, as the benchmark protocols do.
    A run that diverged (NaN or Inf from some step on) scores what it reached: its valid prediction
    time up to the divergence, or an infinite NRMSE."""
    scale = task.targets[: task.split].std(axis=0)
    scale = np.where(scale > 0, scale, 1.0)
    pred = np.asarray(pred, dtype=np.float64).reshape(truth.shape)
    if task.objective == "free_run":
        if not np.all(np.isfinite(pred)):
            return math.inf  # a run that diverged scores what it reached: an infinite error
        D = truth.shape[-1]
        return metrics.nrmse(truth.reshape(-1, D), pred.reshape(-1, D), scale=scale)
    vpt = metrics.valid_prediction_time(truth, pred, threshold=task.threshold, scale=scale, dt=task.time_scale)
    return float(np.median(vpt))


@dataclass
class Rows:
    """What scoring needs of one configuration's pass when no ensemble harvest made it (NVAR, DeepESN),
    in the engine :class:`~esnkit.models.engine.Harvest`'s layout for K = 1: the readout's accumulated
    normal equations ``fits`` and the validation rows ``Z`` (1, M, F), ``Y`` (M, D)."""

    fits: list
    Z: torch.Tensor
    Y: torch.Tensor
    count: int
    yy: torch.Tensor | None = None


def _evaluate_ensemble(models: list[ESN], task: Task) -> list[dict]:
    U = None if task.inputs is None else task.inputs
    h = Ensemble(models).harvest(U, task.targets, split=None if task.folds else task.split, keep_all=bool(task.folds))

    def fitted(k: int, w: torch.Tensor) -> ESN:
        return models[k].clone().fit_from(h, k, weight=w, state=h.at_split[k])

    return _score_harvest(h, _var(h.Y), fitted, task)


def _evaluate_single(model: Any, task: Task) -> dict:
    """Score one NVAR or DeepESN: its own fit on the training part gives the normal equations (those of
    a refit, bit for bit), and the fitted model, carrying the state where validation begins, gives the
    validation rows (every row past the washout, from zeros, for k-fold validation)."""
    U, Y, split = task.inputs, task.targets, task.split
    # the training fit's own ridge is never used: the weights come from the path's grid
    model.set_params(ridge=float(task.ridges.max()))
    fit = model._fit(U[:split], Y[:split])
    if task.folds:
        Z, Yr, Yt = model._readout_rows(U, Y, from_zeros=True)
    else:
        Z, Yr, Yt = model._readout_rows(U[split:], Y[split:])
    h = Rows([fit], Z[None], Yr, fit.count)

    def fitted(k: int, w: torch.Tensor) -> Any:
        m = copy.deepcopy(model)  # a callable objective may move the carried state: each candidate its own
        m.weight_ = w.to(model.weight_.dtype).contiguous()
        return m

    return _score_harvest(h, _var(Yt), fitted, task)[0]


def _score_harvest(h: Any, var: torch.Tensor, fitted: Callable[[int, torch.Tensor], Any], task: Task) -> list[dict]:
    """Every member's result from its harvest ``h`` (a :class:`~esnkit.models.engine.Harvest` or
    :class:`Rows`): the ridge path over the grid, then :func:`_score_member`. ``var`` (D,) is the
    validation targets' variance in the readout's units, ``fitted(k, w)`` member ``k`` as a fitted
    model with readout weights ``w``, carrying the state where validation begins."""
    ridges = task.ridges
    # A GPU decomposes a batch of symmetric matrices larger than 32 x 32 one at a time, but
    # factors a batch by Cholesky in one call, so a large batch is solved one ridge value at a
    # time (see RidgePath). Ridge values too small for a stable factorisation then score NaN
    # and are passed over.
    G = torch.stack([f.G for f in h.fits])  # what Harvest.G holds, computed once
    method = cheaper_method(G, len(ridges))
    if task.folds:
        sse = kfold_sse(h.Z, h.Y, task.folds, ridges, method=method)  # (K, L, D)
        floor = resolution_floor(h.Z)
        path = None
    else:
        path = RidgePath(G, torch.stack([f.C for f in h.fits]), yy=h.yy, count=h.count, method=method)
        sse = path.sse(h.Z, h.Y, ridges)
        floor = path.floor()
    # NRMSE as metrics.nrmse defines it: RMSE over the validation rows / their standard deviation
    one_step = torch.sqrt(sse / (h.Y.shape[0] * var)).mean(dim=-1)  # (K, L)
    windows = free_run_windows(task) if task.objective in ("free_run", "vpt") else None
    results = []
    for k in range(one_step.shape[0]):
        try:
            results.append(_score_member(lambda w, k=k: fitted(k, w), k, h, var, one_step[k], float(floor[k]),
                                         windows, task))
        except SearchError:
            raise
        except Exception as exc:  # noqa: BLE001 - a user objective may raise anything: that trial fails
            results.append(_failure(exc))
    return results


def _score_member(fitted: Callable[[torch.Tensor], Any], k: int, h: Harvest | Rows, var: torch.Tensor,
                  curve: torch.Tensor, floor: float, windows: tuple[np.ndarray, np.ndarray] | None,
                  task: Task) -> dict:
    """The member's value at its best ridge. The one-step path ranks the ridge values; the best
    (for a free-run or callable objective, the best ``ridge_candidates``) are then scored with the
    weights the same solver gives a refit (the model's ``fit``'s), so the value is what the refitted
    model reproduces; ``var`` (D,) normalises the one-step error. Ridge values below the
    member's float64 resolution floor (see :func:`~esnkit.readout.resolution_floor`) are skipped:
    their solutions are rounding."""
    ridges = task.ridges
    usable = torch.isfinite(curve) & torch.as_tensor(ridges >= floor, device=curve.device)
    if not bool(usable.any()):
        raise ValueError(f"every ridge value on the grid is below {floor:.3g}, the smallest this configuration's "
                         "normal equations resolve in float64 (or scored NaN): raise the grid's low end")
    ranked = torch.where(usable, curve, torch.full_like(curve, math.inf))
    order = torch.argsort(ranked).tolist()
    best = order[0]
    res = {"one_step_nrmse": float(curve[best]), "ridge": float(ridges[best]), "ridge_floor": floor}
    if task.folds:  # blocked k-fold: the cross-validated error at the best ridge (no single refit gives it)
        res["value"] = res["one_step_nrmse"]
        return res
    # The one-step error is what the path ranks by, exactly: its best ridge is the one-step
    # objective's, whose value is then recomputed with the refit's weights. Other objectives are
    # not the path's, so its best candidates are each scored.
    n = 1 if task.objective == "nrmse" else len(ridges) if task.ridge_candidates is None else task.ridge_candidates
    cand = [r for r in order[:n] if bool(usable[r])]
    best_val, best_ridge, errors = None, None, []
    maximise = task.direction == "maximize"
    for r in cand:
        w = h.fits[k].solve(float(ridges[r]), "auto")
        try:
            v = _objective_value(w, h.Z[k], h.Y, var, fitted, windows, task)
        except NonFiniteStateError as exc:
            errors.append(str(exc))
            continue
        if math.isnan(v):  # ±inf is a score (a diverged free run's NRMSE); NaN is none
            errors.append(f"the objective returned {v!r}")
            continue
        if best_val is None or (v > best_val if maximise else v < best_val):
            best_val, best_ridge = v, float(ridges[r])
    if best_val is None:
        raise ValueError("; ".join(dict.fromkeys(errors)) or "no ridge value could be scored")
    res["value"], res["ridge"] = best_val, best_ridge
    return res


def _one_step(w: torch.Tensor, Z: torch.Tensor, Y: torch.Tensor, var: torch.Tensor) -> float:
    """The one-step NRMSE of readout weights ``w`` (D, F) on the validation rows ``Z`` (M, F), ``Y`` (M, D)."""
    pred = Z.to(torch.float64) @ w.T
    return float(torch.sqrt(((pred - Y.to(torch.float64)) ** 2).mean(dim=0) / var).mean())


def _objective_value(w: torch.Tensor, Z: torch.Tensor, Y: torch.Tensor, var: torch.Tensor,
                     fitted: Callable[[torch.Tensor], Any], windows: tuple[np.ndarray, np.ndarray] | None,
                     task: Task) -> float:
    """The task's objective for readout weights ``w``: the one-step NRMSE on the validation rows, else
    the callable's or the free runs' value of the fitted model ``fitted(w)``."""
    if task.objective == "nrmse":
        return _one_step(w, Z, Y, var)
    esn = fitted(w)
    if callable(task.objective):
        val_in = None if task.inputs is None else task.inputs[task.split:]
        return float(task.objective(esn, val_in, task.targets[task.split:]))
    contexts, truth = windows
    return score_free_runs(esn.forecast(contexts, task.horizon, check_finite=False), truth, task)


def _evaluate_online(model: ESN, task: Task) -> dict:
    """Score one ESN whose readout trains online (trainer 'rls', 'lms' or 'force', or a Trainer object).
    No ridge path applies: the model is fitted on the training part with its own trainer and its own
    ``ridge`` (RLS's ``P0 = I / ridge``; the search does not vary it), which is what the refit does, bit
    for bit; the fitted model, carrying the state where validation begins, is then scored as a ridge
    path's candidate is (the one-step error on the validation rows, teacher-forced from that state)."""
    if task.folds:
        raise ValueError(f"folds (k-fold validation) solves every fold's readout from the normal equations of the "
                         f"other folds, which trainer={_trainer_name(model)!r} does not keep: use trainer='ridge', "
                         "or one validation split")
    U, Y, split = task.inputs, task.targets, task.split
    model.fit(None if U is None else U[:split], Y[:split])
    Z, Yv = model._readout_rows(None if U is None else U[split:], Y[split:])
    var = _var(Yv)
    w = model.readout_.weight.to(torch.float64)
    windows = free_run_windows(task) if task.objective in ("free_run", "vpt") else None
    try:  # a callable objective may move the carried state: it gets a copy
        v = _objective_value(w, Z, Yv, var, lambda _: copy.deepcopy(model), windows, task)
    except SearchError:
        raise
    except Exception as exc:  # noqa: BLE001 - a user objective may raise anything: that trial fails
        return _failure(exc)
    if math.isnan(v):  # ±inf is a score (a diverged free run's NRMSE); NaN is none
        raise ValueError(f"the objective returned {v!r}")
    return {"value": v, "one_step_nrmse": _one_step(w, Z, Yv, var), "ridge": float(model.ridge)}


def _trainer_name(model: ESN) -> str:
    return model.trainer if isinstance(model.trainer, str) else type(model.trainer).__name__


def online(config: Mapping[str, Any]) -> bool:
    """Whether an ESN configuration's readout trains online (a trainer other than 'ridge')."""
    trainer = config.get("trainer", DEFAULTS["trainer"])
    return not (isinstance(trainer, str) and trainer == "ridge")


def _failure(exc: BaseException) -> dict:
    return {"error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc(limit=6)}


def evaluate(task: Task, configs: Sequence[Mapping[str, Any]]) -> list[dict]:
    """Score ``configs`` (ESN arguments) on ``task``; one result dict per configuration.

    Configurations sharing the ensemble-layout parameters run as one ensemble. A configuration
    that fails gets ``{"error": ...}``; when a shared run fails (a diverging member makes the
    whole stacked state non-finite) its members are retried one by one, so only the culprit fails.
    A configuration whose readout trains online (see :func:`online`) runs by itself
    (:func:`_evaluate_online`).
    """
    from .classification import ClassificationTask, evaluate_classification

    if isinstance(task, ClassificationTask):
        return evaluate_classification(task, configs)
    if task.model != "ESN":
        return _evaluate_each(task, configs)
    results: list[dict | None] = [None] * len(configs)
    alone = [i for i, cfg in enumerate(configs) if online(cfg)]
    for i, r in zip(alone, _evaluate_each(task, [configs[i] for i in alone])):
        results[i] = r
    groups: dict[tuple, list[tuple[int, ESN]]] = {}
    for i, cfg in enumerate(configs):
        if results[i] is not None:  # scored alone above
            continue
        try:
            m = build(task.model, cfg, dtype=task.dtype, device=task.device)
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


def _evaluate_each(task: Task, configs: Sequence[Mapping[str, Any]]) -> list[dict]:
    """Score configurations that run one at a time (NVAR, DeepESN, an ESN that trains online); a failure
    fails its own."""
    score = _evaluate_online if task.model == "ESN" else _evaluate_single
    results = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # short forecast histories, echo-state notices, trial after trial
        for cfg in configs:
            try:
                results.append(score(build(task.model, cfg, dtype=task.dtype, device=task.device), task))
            except SearchError:
                raise
            except TRIAL_ERRORS as exc:
                results.append(_failure(exc))
    return results


def build(model: str, config: Mapping[str, Any], **kwargs: Any) -> Any:
    """An unfitted ``model`` (a class name of :data:`~esnkit.tuning.space.FAMILIES`) of one
    configuration (space keys, see :func:`~esnkit.tuning.space.model_arguments`) and ``kwargs``."""
    from ..models import NVAR, DeepESN

    cls = {"ESN": ESN, "NVAR": NVAR, "DeepESN": DeepESN}[model]
    return cls(**{**model_arguments(model, config), **kwargs})


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
