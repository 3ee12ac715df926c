"""Hyper-parameter search: Optuna proposes, ensembles evaluate, the ridge path picks λ, Dask distributes.

One round of the search:

1. Optuna's sampler (TPE, random, grid or CMA-ES) proposes ``batch_size`` configurations.
2. They are evaluated together as one :class:`~esnkit.models.Ensemble`: one harvest pass over
   the training and validation data for all of them, all readouts solved as a batch.
3. For every configuration the whole ridge path comes from one eigendecomposition
   (:class:`~esnkit.readout.RidgePath`): the validation error of every ridge value on the grid,
   exactly, without rerunning the reservoir. The trial's value is its best ridge value's.
4. Results go back to the Optuna study (in a storage such as SQLite, so an interrupted search
   resumes where it stopped); rounds run in parallel on Dask workers, or in this process.

Objectives: ``"nrmse"`` one-step NRMSE on the validation part (or blocked k-fold with ``folds``),
``"free_run"`` NRMSE of ``horizon``-step free runs from ``starts`` points in the validation part,
``"vpt"`` valid prediction time of those free runs (maximised), or a callable
``objective(esn, val_inputs, val_targets) -> float`` (minimised) given the fitted model.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from .._series import to_batch
from ..errors import SearchCapWarning, SearchError, import_extra
from ..models.esn import ESN
from ..params import dtype_name, is_int, is_real
from ..readout.ridge_path import block_folds
from .executors import _Dask, _InProcess
from .objectives import OBJECTIVES, Task, _failure, free_run_starts
from .space import SearchSpace, load_space, make_space

SAMPLERS = ("tpe", "random", "grid", "cmaes")


# ---------------------------------------------------------------------------------------------
# the driver


@dataclass
class SearchResult:
    """What :func:`search` returns.

    ``table`` has one row per finished trial (number, state, value, the sampled parameters, the
    chosen ridge, the one-step NRMSE, the smallest ridge float64 resolved for it, seconds, error).
    ``best_esn`` is the best configuration refitted with its ridge value: on the training part (the
    first ``split`` steps) by default, where it carries the state where validation begins and
    reproduces ``best_value`` on the validation part (the same solver gave the scored weights);
    on all the data with ``refit="train+validation"``.
    """

    study: Any
    table: list[dict]
    best_params: dict[str, Any]
    best_value: float
    best_ridge: float
    best_esn: ESN | None
    direction: str
    split: int
    space: SearchSpace = field(repr=False)

    def to_csv(self, path: str | os.PathLike) -> None:
        """Write :attr:`table` as CSV (written to a temporary file first, then renamed)."""
        import csv

        cols: list[str] = []
        for row in self.table:
            cols.extend(c for c in row if c not in cols)
        tmp = f"{os.fspath(path)}.tmp"
        with open(tmp, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=cols)
            w.writeheader()
            w.writerows(self.table)
        os.replace(tmp, path)


def _require_optuna():
    return import_extra("optuna", "search", "esnkit.search")


@contextlib.contextmanager
def _optuna_warnings_only():
    """Optuna logs warnings only (not every trial) while the search runs; its level is restored after,
    as the caller had it, whether the search returns or raises."""
    optuna = _require_optuna()
    previous = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        yield
    finally:
        optuna.logging.set_verbosity(previous)


def _sampler(name: str, space: SearchSpace, seed: int | None):
    optuna = _require_optuna()
    if name == "tpe":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.samplers.TPESampler(seed=seed, multivariate=True, constant_liar=True)
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if name == "grid":

        class Grid(optuna.samplers.GridSampler):
            # Optuna's grid sampler calls study.stop() once the grid is covered, which only works
            # inside study.optimize; the driver here asks for exactly the grid's size instead.
            def after_trial(self, study, trial, state, values) -> None:
                pass

        return Grid({n: p.grid() for n, p in space.params.items()}, seed=seed)
    if name == "cmaes":
        import_extra("cmaes", "search", "sampler='cmaes'")
        if any(p.choices is not None for p in space.params.values()):
            raise SearchError("sampler='cmaes' searches numeric ranges only; this space has choices "
                              f"({[n for n, p in space.params.items() if p.choices is not None]}): use 'tpe'")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.samplers.CmaEsSampler(seed=seed, warn_independent_sampling=False)
    raise ValueError(f"sampler must be one of {SAMPLERS}, got {name!r}")


def _finished(study) -> int:
    import optuna

    done = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.FAIL)
    return sum(1 for t in study.get_trials(deepcopy=False, states=done) if not t.user_attrs.get("requeued"))


def _requeue(study, numbers: Sequence[int], reason: str) -> None:
    """Mark unfinished trials failed and queue their parameters again, so nothing asked is lost."""
    import optuna

    for t in study.get_trials(deepcopy=False):
        if t.number in numbers and t.state == optuna.trial.TrialState.RUNNING:
            study._storage.set_trial_user_attr(t._trial_id, "requeued", reason)
            study.tell(t.number, state=optuna.trial.TrialState.FAIL)
            study.enqueue_trial(t.params, skip_if_exists=False)


def _table(study, space: SearchSpace) -> list[dict]:
    rows = []
    for t in study.get_trials(deepcopy=False):
        if t.user_attrs.get("requeued") or t.state.name in ("RUNNING", "WAITING"):
            continue
        row = {"number": t.number, "state": t.state.name, "value": t.value}
        row.update({n: t.params.get(n) for n in space.params})
        for key in ("ridge", "one_step_nrmse", "ridge_floor", "seconds", "error"):
            row[key] = t.user_attrs.get(key)
        rows.append(row)
    return rows


def _as_array(x: Any, name: str) -> np.ndarray:
    """One series as a float64 (time, features) array, through the same checks as every entry point."""
    b = to_batch(x, name, dtype=torch.float64, device=torch.device("cpu"))
    if b.batch_size != 1:
        raise ValueError(f"{name} must be one series of shape (time,) or (time, features); got {b.batch_size} "
                         "sequences")
    return b.data[0].numpy()


_real = is_real


def _count(v: Any) -> bool:
    return is_int(v) and v >= 1


def _check_settings(**kw: Any) -> None:
    """The numeric settings of :func:`search`, checked before anything runs."""
    valid = {
        "n_trials": _count, "batch_size": _count, "horizon": _count, "starts": _count,
        "validation": lambda v: v is None or (_real(v) and 0 < v < 1),
        "split": lambda v: v is None or _count(v),
        "warmup": _count,
        "threshold": lambda v: _real(v) and v > 0,
        "time_scale": lambda v: _real(v) and v > 0,
        "connect_timeout": lambda v: _real(v) and v > 0,
        "ridge_candidates": lambda v: v is None or _count(v),
        "folds": lambda v: v is None or (_count(v) and v >= 2),
        "timeout": lambda v: v is None or (_real(v) and v > 0),
    }
    for name, v in kw.items():
        if not valid[name](v):
            raise ValueError(f"{name} has an impossible value {v!r}")


# The validation fraction when neither ``split`` nor ``validation`` is given.
DEFAULT_VALIDATION = 0.2


@_optuna_warnings_only()
def search(
    inputs: Any,
    targets: Any = None,
    *,
    space: Mapping[str, Any] | SearchSpace | str | os.PathLike,
    objective: str | Callable = "nrmse",
    n_trials: int = 100,
    batch_size: int = 8,
    validation: float | None = None,
    split: int | None = None,
    folds: int | None = None,
    ridges: Any = None,
    fixed: Mapping[str, Any] | None = None,
    sampler: str = "tpe",
    seed: int | None = 0,
    horizon: int = 84,
    starts: int = 10,
    warmup: int = 100,
    threshold: float = 0.3,
    time_scale: float = 1.0,
    ridge_candidates: int | None = 5,
    dtype: str = "float64",
    device: torch.device | str = "cpu",
    scheduler: Any = None,
    workers: int | None = None,
    connect_timeout: float = 10.0,
    storage: str | None = None,
    study_name: str = "esnkit-search",
    timeout: float | None = None,
    progress: bool = True,
    refit: bool | str = True,
    direction: str | None = None,
) -> SearchResult:
    """Search ESN hyper-parameters on one series; returns a :class:`SearchResult`.

    ``inputs`` (T, D_in) and ``targets`` (T, D_out) are one time series pair; with ``targets``
    None, ``inputs`` is a series (T, D) to forecast one step ahead (inputs ``s[t]``, targets
    ``s[t+1]``). The steps before ``split`` (an index into the targets' time axis), or the first
    ``1 - validation`` of them (a fraction; default 0.2 when neither is given; not both), train
    each configuration (past its ``washout``); the rest validate it, driven on from where training
    ended. With ``folds=k`` the one-step error is blocked k-fold cross-validation over all steps
    instead.

    ``space`` maps parameter names to ranges or choices (see :mod:`esnkit.tuning.space`), or is a
    TOML file path (its ``[space]``, ``[fixed]`` and ``[ridge]`` apply; its search settings such as
    ``objective`` are read by the ``esnkit search`` command, and here are this function's arguments).
    ``fixed`` sets parameters that are not searched (e.g. ``reservoir_size``).
    The ridge is optimised exactly for every trial over ``ridges`` (default 25 values 1e-12..1).

    ``objective``: ``"nrmse"`` (one-step NRMSE on the validation part, normalised by its standard
    deviation as :func:`esnkit.metrics.nrmse` does; minimised), ``"free_run"`` or ``"vpt"``: the
    benchmark protocols' measures on ``starts`` validation windows, each warmed up on ``warmup``
    steps and forecast ``horizon`` steps with :meth:`ESN.forecast`, normalised by the training
    targets' standard deviation: NRMSE over the free runs (minimised), or the median valid
    prediction time at ``threshold`` times ``time_scale`` (:func:`esnkit.metrics.valid_prediction_time`;
    maximised); or ``objective(esn, val_inputs, val_targets) -> float``, whose ``direction``
    ('minimize', the default, or 'maximize') is this argument or the callable's ``direction``
    attribute. The one-step path ranks the ridge values; the best ``ridge_candidates`` (None:
    every value) are scored with the weights a refit computes, and values below the float64
    resolution floor of each configuration's normal equations are skipped (see
    :meth:`esnkit.readout.RidgePath.floor`), so ``best_esn`` reproduces ``best_value``.

    ``sampler``: 'tpe', 'random', 'grid' or 'cmaes' (Optuna's). ``batch_size`` configurations are
    proposed at a time and harvested as one ensemble. ``scheduler``: None runs in this process;
    'local' starts a Dask LocalCluster with ``workers`` processes; 'tcp://host:8786' uses that
    cluster; a ``distributed.Client`` is used as is. ``storage``: an Optuna storage URL or a
    ``.db`` path (SQLite); None keeps the study in memory. With a storage, running the same call
    again resumes ``study_name``: finished trials are kept and ``n_trials`` counts them. ``timeout``
    (seconds) stops proposing new trials after that long. ``dtype='float32'`` harvests faster
    (the normal equations stay float64). ``device`` runs the ensembles, their solves and the
    refitted model there (``'cuda'``: a larger ``batch_size`` fills the GPU); the data stay on
    the CPU until a worker moves them.
    """
    optuna = _require_optuna()
    if isinstance(space, (str, os.PathLike)):
        space = load_space(space)
    if not isinstance(space, SearchSpace):
        space = make_space(space, fixed, ridges)
    elif fixed or ridges is not None:
        space = make_space({n: _spec(p) for n, p in space.params.items()}, {**space.fixed, **(fixed or {})},
                           space.ridges if ridges is None else ridges)
    if not (callable(objective) or objective in OBJECTIVES):
        raise ValueError(f"objective must be one of {OBJECTIVES} or a callable, got {objective!r}")
    _check_settings(n_trials=n_trials, batch_size=batch_size, horizon=horizon, starts=starts, validation=validation,
                    split=split, warmup=warmup, threshold=threshold, time_scale=time_scale,
                    connect_timeout=connect_timeout, ridge_candidates=ridge_candidates, folds=folds, timeout=timeout)
    direction = _direction(objective, direction)
    if refit not in (True, False, "train", "train+validation"):
        raise ValueError(f"refit must be True or 'train' (the training part), 'train+validation' or False, "
                         f"got {refit!r}")
    if split is not None and validation is not None:
        raise ValueError("give split (the index where validation begins) or validation (a fraction), not both")
    if folds is not None and objective != "nrmse":
        raise ValueError("folds (k-fold validation) scores the one-step error: use objective='nrmse'")
    dtype = dtype_name(dtype)  # torch or NumPy dtypes, or their names
    ESN(10, device=device)  # an unknown device, or CUDA where there is none: ESN's own clear error
    device = str(torch.device(device))

    if targets is None:
        series = _as_array(inputs, "inputs")
        if series.shape[0] < 3:
            raise ValueError(f"the series has {series.shape[0]} steps; a search needs far more")
        U, Y = series[:-1], series[1:]
    else:
        U = None if inputs is None else _as_array(inputs, "inputs")
        Y = _as_array(targets, "targets")
        if U is not None and U.shape[0] != Y.shape[0]:
            raise ValueError(f"inputs have {U.shape[0]} steps but targets have {Y.shape[0]}")
    T = Y.shape[0]
    if split is None:
        split = int(round(T * (1 - (DEFAULT_VALIDATION if validation is None else validation))))
    elif split >= T:
        raise ValueError(f"split={split} leaves no validation steps: the targets have {T}")
    washout = max([space.fixed.get("washout", 0)] + [p.high or 0 for n, p in space.params.items()
                                                      if n == "washout"])
    if split - washout < 10 or T - split < 2:
        raise ValueError(f"{T} steps split at {split} with washout={washout} leave too few steps "
                         "to train or to validate on")
    if folds:
        block_folds(T - washout, folds)  # enough rows for the folds, or a clear error now
    if objective in ("free_run", "vpt") and (U is None or U.shape[1] != Y.shape[1]):
        raise ValueError(f"objective={objective!r} free-runs the model, which needs a one-step forecaster "
                         "(inputs and targets of the same width, or a single series)")
    task = Task(U, Y, split, space.ridges, objective, folds, horizon, starts, threshold, time_scale,
                ridge_candidates, dtype, device, warmup, direction)
    if objective in ("free_run", "vpt"):
        free_run_starts(task)  # enough validation steps for the windows, or a clear error now

    if isinstance(storage, (str, os.PathLike)) and "://" not in os.fspath(storage):
        storage = f"sqlite:///{os.path.abspath(os.fspath(storage))}"
    study = optuna.create_study(storage=storage, study_name=study_name, direction=direction,
                                sampler=_sampler(sampler, space, seed), load_if_exists=True)
    if study.direction.name.lower() != direction:
        raise SearchError(f"study {study_name!r} in {storage} was created to {study.direction.name.lower()}, "
                          f"but objective={objective!r} needs {direction}: use another study_name")
    stale = [t.number for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,))]
    _requeue(study, stale, "interrupted run")
    target = n_trials
    if sampler == "grid":
        target = min(target, math.prod(len(p.grid()) for p in space.params.values()))

    tqdm = import_extra("tqdm.auto", "search", "the search's progress bar (progress=True)").tqdm if progress else None
    if scheduler is None:
        executor: Any = _InProcess(task)
    else:
        executor = _Dask(task, scheduler, workers, connect_timeout)
    bar = None
    if tqdm is not None:
        bar = tqdm(total=target, initial=min(_finished(study), target), unit="trial", desc="esnkit search",
                   dynamic_ncols=True)
    inflight: dict[Any, list] = {}
    started = time.perf_counter()
    asked = _finished(study)
    try:
        while True:
            out_of_time = timeout is not None and time.perf_counter() - started > timeout
            while len(inflight) < executor.slots and asked < target and not out_of_time:
                trials = [study.ask() for _ in range(min(batch_size, target - asked))]
                asked += len(trials)
                configs = [space.config({n: p.suggest(t) for n, p in space.params.items()}) for t in trials]
                inflight[executor.submit(configs)] = [(t, time.perf_counter()) for t in trials]
            if not inflight:
                break
            handle, results, exc = executor.wait_any(list(inflight))
            trials = inflight.pop(handle)
            for j, (trial, t0) in enumerate(trials):
                res = results[j] if results is not None else _failure(exc)
                trial.set_user_attr("seconds", round(time.perf_counter() - t0, 4))
                if "error" in res:
                    trial.set_user_attr("error", res["error"][:2000])
                    study.tell(trial, state=optuna.trial.TrialState.FAIL)
                else:
                    trial.set_user_attr("ridge", res["ridge"])
                    trial.set_user_attr("one_step_nrmse", res["one_step_nrmse"])
                    trial.set_user_attr("ridge_floor", res["ridge_floor"])
                    study.tell(trial, res["value"])
            if bar is not None:
                bar.update(len(trials))
                best = _best(study)
                if best is not None:
                    bar.set_postfix_str(f"best {best.value:.4g}", refresh=False)
    except BaseException:
        executor.cancel(list(inflight))
        _requeue(study, [t.number for ts in inflight.values() for t, _ in ts], "interrupted")
        raise
    finally:
        if bar is not None:
            bar.close()
        executor.close()

    best = _best(study)
    if best is None:
        errors = [t.user_attrs.get("error") for t in study.trials if t.user_attrs.get("error")]
        raise SearchError(f"no trial succeeded ({len(errors)} failed); first error: {errors[0] if errors else '?'}")
    cap = horizon * time_scale
    if objective == "vpt" and best.value >= cap:
        at_cap = sum(1 for t in study.trials if t.value is not None and t.value >= cap)
        warnings.warn(
            f"the best trial's valid prediction time is the horizon itself ({cap:.4g}: horizon={horizon} steps "
            f"x time_scale={time_scale:g}), reached by {at_cap} trial(s): the objective cannot tell those "
            "apart, so the search could not rank the best configurations; raise horizon",
            SearchCapWarning, stacklevel=2)
    params = space.config(best.params)
    ridge = float(best.user_attrs["ridge"])
    best_esn = None
    if refit:
        end = T if refit == "train+validation" else split
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            best_esn = ESN(**{**params, "ridge": ridge, "dtype": dtype, "device": device}).fit(
                None if U is None else U[:end], Y[:end])
    return SearchResult(study, _table(study, space), params, float(best.value), ridge, best_esn, direction, split,
                        space)


def _direction(objective: str | Callable, direction: str | None) -> str:
    """The study's direction: the named objectives' own, or what a callable says."""
    if callable(objective):
        d = direction or getattr(objective, "direction", "minimize")
    else:
        d = "maximize" if objective == "vpt" else "minimize"
        if direction is not None and direction != d:
            raise ValueError(f"objective={objective!r} is {d}d; direction={direction!r} applies to callables")
    if d not in ("minimize", "maximize"):
        raise ValueError(f"direction must be 'minimize' or 'maximize', got {d!r}")
    return d


def _best(study):
    try:
        return study.best_trial
    except ValueError:
        return None


def _spec(p) -> Any:
    if p.choices is not None:
        return {"choices": list(p.choices)}
    spec = {"low": p.low, "high": p.high, "log": p.log}
    if p.step is not None:
        spec["step"] = p.step
    return spec
