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
import dataclasses
import math
import os
import re
import socket
import threading
import time
import uuid
import warnings
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from .._series import to_batch
from ..errors import SearchBoundaryWarning, SearchCapWarning, SearchError, import_extra
from ..models.esn import ESN
from ..params import DEFAULTS as ESN_DEFAULTS
from ..params import dtype_name, is_int, is_real
from ..readout.ridge_path import block_folds
from ..reservoir import EchoStatePropertyWarning
from .classification import CLASS_OBJECTIVES, ClassificationTask, stratified_folds, stratified_holdout
from .executors import _Dask, _InProcess
from .objectives import OBJECTIVES, Task, _failure, build, free_run_starts, online
from .space import SearchSpace, _searchable, load_space, make_space, model_name, same_family

SAMPLERS = ("tpe", "random", "grid", "cmaes")


# ---------------------------------------------------------------------------------------------
# the driver


@dataclass
class SearchResult:
    """What :func:`search` returns.

    ``table`` has one row per finished trial (number, state, value, the sampled parameters, the
    chosen ridge, the one-step NRMSE, the smallest ridge float64 resolved for it, seconds, error).
    ``best_esn`` (also ``best_model``: an :class:`~esnkit.ESN`, :class:`~esnkit.NVAR` or
    :class:`~esnkit.DeepESN`, the model searched) is the best configuration refitted with its ridge
    value: on the training part (the first ``split`` steps) by default, where it carries the state
    where validation begins and reproduces ``best_value`` on the validation part (the same solver
    gave the scored weights); on all the data with ``refit="train+validation"``. ``best_params``
    are the space's keys (a DeepESN's per-layer keys included); ``best_model.get_params()`` its
    constructor's arguments.
    """

    study: Any
    table: list[dict]
    best_params: dict[str, Any]
    best_value: float
    best_ridge: float
    best_esn: Any
    direction: str
    split: int
    space: SearchSpace = field(repr=False)

    @property
    def best_model(self) -> Any:
        """The refitted best model (:attr:`best_esn`, whichever model the search tuned)."""
        return self.best_esn

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


# ---------------------------------------------------------------------------------------------
# the study's storage, shared by processes

# A process records a heartbeat on its running trials this often (seconds); a running trial whose
# owner has been silent for GRACE_PERIOD seconds, or whose owner is a process of this host that is
# gone, is stale: it is marked failed and its parameters are queued again.
HEARTBEAT_INTERVAL = 10.0
GRACE_PERIOD = 60.0
# How long a writer waits for another process's lock on an SQLite study before it gives up.
SQLITE_BUSY_TIMEOUT = 30.0
# How often a process with nothing left to ask polls for the first finished trial of the others.
POLL_INTERVAL = 0.5


def _storage_errors() -> tuple[type[BaseException], ...]:
    """What the storage layer raises when it fails (a locked, missing, corrupt or read-only database)."""
    import optuna
    import sqlalchemy.exc

    return sqlalchemy.exc.SQLAlchemyError, optuna.exceptions.StorageInternalError


def _says(exc: BaseException) -> str:
    """An exception as one line: the class and first line of the error at the bottom of its chain (the
    database's own words, not the wrapper's, no SQL, no traceback)."""
    for _ in range(8):
        inner = getattr(exc, "orig", None) or exc.__cause__ or exc.__context__
        if not isinstance(inner, BaseException):
            break
        exc = inner
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0] if lines else '?'}"


def _open_storage(storage: Any) -> tuple[Any, str]:
    """The Optuna storage for ``storage`` (None, a ``.db`` path, a URL, or a storage object) and how to
    name it in messages.

    An SQLite file gets a busy timeout (concurrent writers wait for each other instead of failing
    with "database is locked") and transactions that take the write lock when they begin
    (``BEGIN IMMEDIATE``): a read and the write it decides on are then one step, so two processes
    cannot both take the same queued trial, nor both requeue the same stale one.
    """
    optuna = _require_optuna()
    if storage is None or isinstance(storage, optuna.storages.BaseStorage):
        return storage, "memory" if storage is None else type(storage).__name__
    if not isinstance(storage, (str, os.PathLike)):
        raise ValueError(f"storage must be a .db file, a storage URL or an Optuna storage, got {storage!r}")
    import sqlalchemy
    import sqlalchemy.exc

    text = os.fspath(storage)
    label = repr(text)
    # a URL has a scheme (more than a drive letter) and a slash; anything else is an SQLite file
    url = text if re.match(r"[A-Za-z][A-Za-z0-9+.-]+:/", text) else f"sqlite:///{os.path.abspath(text)}"
    try:
        parsed = sqlalchemy.engine.make_url(url)
        parsed.get_dialect()
    except (sqlalchemy.exc.ArgumentError, ValueError) as exc:  # NoSuchModuleError is an ArgumentError
        raise ValueError(f"storage {label} is not a storage URL Optuna can open ({_says(exc)}); give a .db file, "
                         "or a URL such as sqlite:///study.db or postgresql://user@host/db") from None
    except ImportError as exc:
        raise SearchError(f"storage {label}: its database driver is not installed ({_says(exc)})") from None
    hint = ""
    engine_kwargs: dict[str, Any] = {}
    sqlite_file = parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:")
    if sqlite_file:
        folder = os.path.dirname(os.path.abspath(parsed.database))
        if not parsed.database.startswith("file:") and not os.path.isdir(folder):
            why = "is not a folder" if os.path.exists(folder) else "does not exist"
            raise SearchError(f"storage {label}: {folder} {why}")
        connect_args: dict[str, Any] = {"isolation_level": None}  # transactions begin as below
        if "timeout" not in parsed.query:
            connect_args["timeout"] = SQLITE_BUSY_TIMEOUT
        engine_kwargs["connect_args"] = connect_args
        hint = "; an SQLite study needs an SQLite file, or none yet, in a folder this process can write to"
    for attempt in range(6):
        try:
            rdb = optuna.storages.RDBStorage(url, engine_kwargs=engine_kwargs)
            break
        except (sqlalchemy.exc.OperationalError, sqlalchemy.exc.IntegrityError) as exc:
            # two processes creating the same new database at once: one finds the other's tables
            racing = isinstance(exc, sqlalchemy.exc.IntegrityError) or any(
                s in str(exc) for s in ("already exists", "database is locked"))
            if not racing or attempt == 5:
                raise SearchError(f"storage {label} cannot be opened ({_says(exc)}){hint}") from None
            time.sleep(0.05 * (attempt + 1))
        except ImportError as exc:
            raise SearchError(f"storage {label}: its database driver is not installed ({_says(exc)})") from None
        except (RuntimeError, *_storage_errors()) as exc:  # a schema of another Optuna version, a corrupt file
            raise SearchError(f"storage {label} cannot be opened ({_says(exc)}){hint}") from None
    if sqlite_file:
        sqlalchemy.event.listen(rdb.engine, "begin", _begin_immediate)
    return rdb, label


def _begin_immediate(connection) -> None:
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def _open_study(storage: Any, label: str, study_name: str, direction: str, sampler: Any):
    """The study ``study_name`` in ``storage``, created if it is not there; a storage that refuses
    (read-only, locked past the busy timeout) is a :class:`SearchError` naming it."""
    optuna = _require_optuna()
    try:
        return optuna.create_study(storage=storage, study_name=study_name, direction=direction, sampler=sampler,
                                   load_if_exists=True)
    except _storage_errors() as exc:
        raise SearchError(f"storage {label}: study {study_name!r} cannot be created or loaded ({_says(exc)})"
                          ) from None


def _host() -> str:
    """This machine (its name and boot) and this process namespace: where process ids mean the same."""
    parts = [socket.gethostname()]
    with contextlib.suppress(OSError):
        with open("/proc/sys/kernel/random/boot_id") as f:
            parts.append(f.read().strip())
    with contextlib.suppress(OSError, AttributeError):
        parts.append(os.readlink("/proc/self/ns/pid"))
    return "/".join(parts)


def _started(pid: int) -> int | None:
    """When process ``pid`` started (clock ticks since boot, from /proc), or None if it is gone, a zombie,
    or this system has no /proc."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    if fields[0] in ("Z", "X"):  # killed and not yet reaped: dead
        return None
    return int(fields[19])


@dataclass(frozen=True)
class _Owner:
    """The process that asked a trial, as recorded in the trial (user attribute ``owner``)."""

    host: str
    pid: int
    start: int | None
    token: str

    @classmethod
    def this_process(cls) -> _Owner:
        pid = os.getpid()
        return cls(_host(), pid, _started(pid), uuid.uuid4().hex)

    def record(self) -> dict:
        return {"host": self.host, "pid": self.pid, "start": self.start, "token": self.token, "since": time.time()}

    def alive(self, owner: Mapping) -> bool | None:
        """Whether the process ``owner`` records is running: True or False where this process can tell
        for sure (the same host, process ids checked with their start time), None where it cannot."""
        if owner.get("host") != self.host or not isinstance(owner.get("pid"), int):
            return None
        if owner.get("start") is not None and self.start is not None:
            return _started(owner["pid"]) == owner["start"]
        if os.name != "posix":
            return None  # os.kill(pid, 0) is no probe on Windows
        try:
            os.kill(owner["pid"], 0)
        except ProcessLookupError:
            return False
        except OSError:
            return None
        return None  # a process with that id runs, but it may not be the owner: the heartbeat decides

    def stale(self, t, now: float) -> bool:
        """Whether running trial ``t`` of another process (or a leftover of this one) will never finish."""
        owner = t.user_attrs.get("owner")
        if not isinstance(owner, Mapping):  # asked by another program, or an instant ago
            return t.datetime_start is not None and now - t.datetime_start.timestamp() > GRACE_PERIOD
        if owner.get("token") == self.token:
            return True  # ours but not in flight: its round is over
        alive = self.alive(owner)
        if alive is not None:
            return not alive
        beat = t.user_attrs.get("heartbeat", owner.get("since"))
        return isinstance(beat, (int, float)) and now - beat > GRACE_PERIOD


class _Heartbeat:
    """Records the time on this process's running trials every HEARTBEAT_INTERVAL seconds, so that
    processes on other hosts can tell them from a dead process's."""

    def __init__(self, study) -> None:
        self.study = study
        self.ids: set[int] = set()
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="esnkit-search-heartbeat", daemon=True)
        self.thread.start()

    def add(self, trials) -> None:
        with self.lock:
            self.ids.update(t._trial_id for t in trials)

    def remove(self, trials) -> None:
        with self.lock:
            self.ids.difference_update(t._trial_id for t in trials)

    def _run(self) -> None:
        import optuna

        errors = (optuna.exceptions.UpdateFinishedTrialError, *_storage_errors())
        while not self.stop.wait(HEARTBEAT_INTERVAL):
            with self.lock:
                ids = list(self.ids)
            now = time.time()
            for trial_id in ids:
                with contextlib.suppress(*errors):  # finished meanwhile, or the storage is busy: next beat
                    self.study._storage.set_trial_user_attr(trial_id, "heartbeat", now)

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=HEARTBEAT_INTERVAL)


def _requeued(t) -> bool:
    """A trial that stands for nothing: failed by :func:`_requeue` (stale, interrupted, over the budget),
    not by its own evaluation (whose error it would record)."""
    return t.state.name == "FAIL" and "requeued" in t.user_attrs and "error" not in t.user_attrs


def _finished(study) -> int:
    import optuna

    done = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.FAIL, optuna.trial.TrialState.PRUNED)
    return sum(1 for t in study.get_trials(deepcopy=False, states=done) if not _requeued(t))


def _requeue(study, trials, reason: str) -> int:
    """Mark running trials failed and queue their parameters again, so that nothing asked is lost.

    A trial another process finished or requeued meanwhile is passed over, as is one the storage
    cannot update now (it stays running, and stale, for the next look). On SQLite the state change
    is atomic (see :func:`_open_storage`), so of several processes requeueing one trial, one does.
    Returns how many this call requeued.
    """
    import optuna

    skip = (optuna.exceptions.UpdateFinishedTrialError, ValueError, KeyError, *_storage_errors())
    storage, n = study._storage, 0
    for t in trials:
        try:
            storage.set_trial_user_attr(t._trial_id, "requeued", reason)
            if not storage.set_trial_state_values(t._trial_id, state=optuna.trial.TrialState.FAIL):
                continue
            frozen = storage.get_trial(t._trial_id)
        except skip:
            continue
        n += 1
        params = {**frozen.system_attrs.get("fixed_params", {}), **frozen.params}
        if not params:  # a trial stopped before its parameters were drawn leaves only its place in the budget
            continue
        for attempt in range(3):
            try:
                study.enqueue_trial(params, skip_if_exists=False)
                break
            except _storage_errors():
                if attempt == 2:
                    warnings.warn(f"trial {t.number} was marked failed but its parameters {params} could not be "
                                  "queued again: the storage refused", RuntimeWarning, stacklevel=2)
                time.sleep(0.2)
    return n


class _Budget:
    """``n_trials`` as the study's budget, shared with every process working on it.

    The trials that spend it: finished ones (but those requeued), waiting ones (queued to run
    next), and running ones not stale (this process's, and the live ones of others). Ordered by
    number (the storage numbers trials in the order they are created), the first ``target`` of them
    are within the budget. A new trial can only move up that order (trials before it may be
    requeued, never new ones added), so a trial found within it stays within it; one found beyond
    it is requeued at once, which is how two processes asking for the last places at the same
    moment get exactly the places left between them.
    """

    def __init__(self, study, target: int, owner: _Owner) -> None:
        self.study, self.target, self.owner = study, target, owner
        self.mine: set[int] = set()  # numbers of this process's trials in flight

    def _spending(self, requeue: bool):
        """The trials that spend the budget, in order, and the running ones of others found stale."""
        now, spending, stale = time.time(), [], []
        for t in sorted(self.study.get_trials(deepcopy=False), key=lambda t: t.number):
            name = t.state.name
            if name == "RUNNING" and t.number not in self.mine and requeue and self.owner.stale(t, now):
                stale.append(t)
            elif name in ("RUNNING", "WAITING") or not _requeued(t):
                spending.append(t)
        return spending, stale

    def survey(self) -> tuple[int, int, int]:
        """Requeue stale trials; returns how many new trials the budget allows, how many waiting
        trials are within it, and how many trials of other processes are running."""
        for _ in range(3):
            spending, stale = self._spending(requeue=True)
            if not stale or not _requeue(self.study, stale, "its process stopped"):
                break
        within = spending[: self.target]
        waiting = sum(1 for t in within if t.state.name == "WAITING")
        others = sum(1 for t in spending if t.state.name == "RUNNING" and t.number not in self.mine)
        return max(0, self.target - len(spending)), waiting, others

    def ask(self, k: int) -> list:
        """Up to ``k`` new trials (queued ones first) within the budget, recorded as this process's."""
        fresh, waiting, _ = self.survey()
        k = min(k, fresh + waiting)
        if k <= 0:
            return []
        trials = [self.study.ask() for _ in range(k)]
        record = self.owner.record()
        for t in trials:
            t.set_user_attr("owner", record)
        self.mine.update(t.number for t in trials)
        place = {t.number: i for i, t in enumerate(self._spending(requeue=False)[0])}
        over = [t for t in trials if place.get(t.number, self.target) >= self.target]
        if over:
            _requeue(self.study, over, "over the study's n_trials")
            self.mine.difference_update(t.number for t in over)
        return [t for t in trials if t not in over]

    def done(self, trials) -> None:
        self.mine.difference_update(t.number for t in trials)


class _Pace:
    """With a ``timeout``: how many configurations a new round may hold, so that the rounds in flight,
    it, and the refit of the best model finish by the deadline at the rate measured so far.

    The rate is the configurations finished over the time the last ``window`` rounds took (the
    first of them counted from its submission). Before any round has finished, rounds hold one
    configuration each, one per worker; the first always runs. The search therefore ends within
    the timeout plus about one configuration's time: what a round's fixed cost and the noise of
    the measure add.
    """

    def __init__(self, timeout: float | None, window: int, workers: int, reserve: int) -> None:
        self.deadline = None if timeout is None else time.perf_counter() + timeout
        self.workers, self.reserve = workers, reserve
        self.ends: deque = deque(maxlen=window + 1)  # (time, configurations finished then)

    def submitted(self) -> None:
        if not self.ends:
            self.ends.append((time.perf_counter(), 0))

    def finished(self, configs: int) -> None:
        self.ends.append((time.perf_counter(), configs))

    def over(self) -> bool:
        return self.deadline is not None and time.perf_counter() >= self.deadline

    def allow(self, want: int, in_flight: int, rounds: int) -> int:
        """How many configurations a round submitted now may hold (0: none)."""
        if self.deadline is None:
            return want
        left = self.deadline - time.perf_counter()
        if not self.ends:  # the first round, one configuration, runs whatever the time
            return min(want, 1)
        if left <= 0:
            return 0
        if len(self.ends) < 2:  # nothing measured yet
            return min(want, 1) if rounds < self.workers else 0
        (t0, _), (t1, _) = self.ends[0], self.ends[-1]
        rate = sum(c for _, c in list(self.ends)[1:]) / max(t1 - t0, 1e-9)  # configurations per second
        return max(0, min(want, math.floor(left * rate - in_flight - self.reserve)))


def _seeded_sampler(make: Callable[[int | None], Any], seed: int | None):
    """The sampler ``make(seed)`` makes (TPE or random: no state but the generator's), drawing each
    trial's parameters from a seed of its own: a function of ``seed`` and the trial's number. The
    same call draws the same trials; two processes on one study, or a resumed search, draw new ones
    instead of each other's (with one generator per process, seeded alike, every process would
    propose the same configurations, and a resumed search those it ran before)."""
    if seed is None:
        return make(None)
    import optuna

    class PerTrialSeed(optuna.samplers.BaseSampler):
        def __init__(self) -> None:
            self.number: int | None = None
            self.inner = make(seed)

        def _for(self, trial) -> Any:
            if trial.number != self.number:
                self.number = trial.number
                self.inner = make(int(np.random.SeedSequence([seed, trial.number]).generate_state(1)[0]))
            return self.inner

        def infer_relative_search_space(self, study, trial):
            return self._for(trial).infer_relative_search_space(study, trial)

        def sample_relative(self, study, trial, search_space):
            return self._for(trial).sample_relative(study, trial, search_space)

        def sample_independent(self, study, trial, param_name, param_distribution):
            return self._for(trial).sample_independent(study, trial, param_name, param_distribution)

        def before_trial(self, study, trial) -> None:
            self._for(trial).before_trial(study, trial)

        def after_trial(self, study, trial, state, values) -> None:
            self._for(trial).after_trial(study, trial, state, values)

        def reseed_rng(self) -> None:
            self.inner.reseed_rng()

    return PerTrialSeed()


def _table(study, space: SearchSpace) -> list[dict]:
    rows = []
    for t in study.get_trials(deepcopy=False):
        if _requeued(t) or t.state.name in ("RUNNING", "WAITING"):
            continue
        row = {"number": t.number, "state": t.state.name, "value": t.value}
        row.update({n: t.params.get(n) for n in space.params})
        for key in ("ridge", "one_step_nrmse", "ridge_floor", "accuracy", "log_loss", "seconds", "error"):
            if key in t.user_attrs or key not in ("accuracy", "log_loss"):
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
    model: str | type | None = None,
) -> SearchResult:
    """Search ESN (or NVAR, or DeepESN) hyper-parameters on one series; returns a :class:`SearchResult`.

    ``model``: ``"esn"`` (the default, or a space file's ``model`` setting), ``"nvar"`` or
    ``"deep_esn"`` (or the classes :class:`~esnkit.ESN`, :class:`~esnkit.NVAR`,
    :class:`~esnkit.DeepESN`): the model whose parameters ``space`` names (see "Searching NVAR and
    DeepESN" in docs/search.md). ESN configurations are harvested ``batch_size`` at a time as one
    ensemble; NVAR and DeepESN configurations one at a time, each through its own ``fit`` on the
    training part; every configuration's ridge is then optimised exactly on the same path, and
    scored by the same objectives.

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
    ``fixed`` sets parameters that are not searched (e.g. ``reservoir_size``). A reservoir ``seed``
    neither searched nor fixed is fixed to ``seed`` (a random one when ``seed`` is None), so that
    every trial and the refit draw the same reservoir and ``best_esn`` reproduces ``best_value``.
    The ridge is optimised exactly for every trial over ``ridges`` (default 25 values 1e-12..1).
    ``trainer`` is searchable too, with the online trainers' ``forgetting``, ``learning_rate`` and
    ``force_alpha``: an ESN configuration whose trainer is not 'ridge' is fitted by itself with that
    trainer and the model's own ridge (not the grid's), then scored by the same objective, so its
    refit reproduces its value too; ``folds`` refuses a space that can give one (see "Searching the
    online readouts" in docs/search.md).

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
    again resumes ``study_name``: finished trials are kept and ``n_trials`` counts them, and the
    trials a killed process left running are queued again and run first. Several processes may
    search one study at once: ``n_trials`` is then the study's budget (finished, queued and live
    running trials of every process spend it), each process asks only for what is left, and a
    process that finds it spent returns the study's best (see "Concurrency and resume" in
    docs/search.md). A storage that cannot be opened, or fails, is a :class:`SearchError` (a
    ``ValueError`` for a URL that is none) naming it. ``timeout`` (seconds, from the call): no
    trial is proposed after it, and a round holds no more configurations than the time left
    allows at the seconds per configuration measured so far (the refit included), so the search
    returns within the timeout plus about one configuration's time; the first round (one
    configuration) always runs. ``dtype='float32'`` harvests faster
    (the normal equations stay float64). ``device`` runs the ensembles, their solves and the
    refitted model there (``'cuda'``: a larger ``batch_size`` fills the GPU); the data stay on
    the CPU until a worker moves them.
    """
    called = time.perf_counter()
    _require_optuna()
    if not (callable(objective) or objective in OBJECTIVES + CLASS_OBJECTIVES):
        raise ValueError(f"objective must be one of {OBJECTIVES + CLASS_OBJECTIVES} or a callable, got {objective!r}")
    classifying = objective in CLASS_OBJECTIVES
    if isinstance(space, (str, os.PathLike)):  # the file's model setting, unless model or the objective says
        space = load_space(space, "ESNClassifier" if classifying else None if model is None else model_name(model))
    model = _model(model, space, objective)
    if not isinstance(space, SearchSpace):
        space = make_space(space, fixed, ridges, model=model)
    elif fixed or ridges is not None or space.model != model:
        space = make_space({n: _spec(p) for n, p in space.params.items()}, {**space.fixed, **(fixed or {})},
                           space.ridges if ridges is None else ridges, model=model)
    if "seed" in _searchable(model) and "seed" not in space.params and space.fixed.get("seed") is None:
        # Every trial, and the refit, draw the same reservoir: otherwise each configuration is scored
        # on a random one, the study is not reproducible and best_esn (a new draw) would not
        # reproduce best_value. Without a search seed, one random reservoir seed for the whole search.
        drawn = seed if seed is not None else int(np.random.SeedSequence().generate_state(1)[0] >> 1)
        space = dataclasses.replace(space, fixed={**space.fixed, "seed": drawn})
    _check_settings(n_trials=n_trials, batch_size=batch_size, horizon=horizon, starts=starts, validation=validation,
                    split=split, warmup=warmup, threshold=threshold, time_scale=time_scale,
                    connect_timeout=connect_timeout, ridge_candidates=ridge_candidates, folds=folds, timeout=timeout)
    direction = _direction(objective, direction)
    if refit not in (True, False, "train", "train+validation"):
        raise ValueError(f"refit must be True or 'train' (the training part), 'train+validation' or False, "
                         f"got {refit!r}")
    if split is not None and validation is not None:
        raise ValueError("give split (the index where validation begins) or validation (a fraction), not both")
    if folds is not None and objective not in ("nrmse",) + CLASS_OBJECTIVES:
        raise ValueError("folds (k-fold validation) scores the one-step error or a classification objective: "
                         "use objective='nrmse', 'accuracy' or 'log_loss'")
    trainers = (space.params["trainer"].choices if "trainer" in space.params else [space.fixed.get("trainer")]) \
        if model == "ESN" else []
    if ridges is not None and "rls" in trainers:
        warnings.warn("ridges sets the grid of trainer='ridge' trials only: trainer='rls' trials start from "
                      f"P = I / ridge with the ESN's default ridge ({ESN_DEFAULTS['ridge']:g}), which the search "
                      "does not vary", UserWarning, stacklevel=2)
    if folds is not None and model == "ESN":
        named = [t for t in trainers if online({"trainer": t if t is not None else "ridge"})]
        if named:
            raise ValueError(f"folds (k-fold validation) solves each fold's readout by the ridge path, which "
                             f"trainer={named[0]!r} (an online readout) does not have: search trainer='ridge' only, "
                             "or validate on one split (validation or split) instead of folds")
    dtype = dtype_name(dtype)  # torch or NumPy dtypes, or their names
    ESN(10, device=device)  # an unknown device, or CUDA where there is none: ESN's own clear error
    device = str(torch.device(device))

    if classifying:
        task, train = _classification_task(inputs, targets, space, objective, validation, split, folds, seed,
                                           dtype, device, direction)
        T = split = len(train)
    elif targets is None:
        series = _as_array(inputs, "inputs")
        if series.shape[0] < 3:
            raise ValueError(f"the series has {series.shape[0]} steps; a search needs far more")
        U, Y = series[:-1], series[1:]
    else:
        U = None if inputs is None else _as_array(inputs, "inputs")
        Y = _as_array(targets, "targets")
        if U is not None and U.shape[0] != Y.shape[0]:
            raise ValueError(f"inputs have {U.shape[0]} steps but targets have {Y.shape[0]}")
    if not classifying:
        task, T, split = _series_task(U, Y, space, objective, validation, split, folds, horizon, starts, threshold,
                                      time_scale, ridge_candidates, dtype, device, warmup, direction, model)

    storage, label = _open_storage(storage)
    if sampler in ("tpe", "random"):
        optuna_sampler = _seeded_sampler(lambda s: _sampler(sampler, space, s), seed)
    else:  # the grid's order and CMA-ES's state come from the seed: every process needs the same one
        optuna_sampler = _sampler(sampler, space, seed)
    study = _open_study(storage, label, study_name, direction, optuna_sampler)
    if study.direction.name.lower() != direction:
        raise SearchError(f"study {study_name!r} in {label} was created to {study.direction.name.lower()}, "
                          f"but objective={objective!r} needs {direction}: use another study_name")
    target = n_trials
    if sampler == "grid":
        target = min(target, math.prod(len(p.grid()) for p in space.params.values()))

    tqdm = import_extra("tqdm.auto", "search", "the search's progress bar (progress=True)").tqdm if progress else None
    errors = _storage_errors()
    owner = _Owner.this_process()
    budget = _Budget(study, target, owner)
    inflight: dict[Any, list] = {}
    bar = heartbeat = executor = None
    try:
        budget.survey()  # stale trials of stopped processes are queued again before anything else
        if scheduler is None:
            executor = _InProcess(task)
        else:
            executor = _Dask(task, scheduler, workers, connect_timeout)
        pace = _Pace(None if timeout is None else timeout - (time.perf_counter() - called), executor.slots,
                     executor.workers, reserve=executor.workers if refit else 0)
        if storage is not None:
            heartbeat = _Heartbeat(study)
        if tqdm is not None:
            bar = tqdm(total=target, initial=min(_finished(study), target), unit="trial", desc="esnkit search",
                       dynamic_ncols=True)
        while True:
            while len(inflight) < executor.slots:
                configs_in_flight = sum(len(ts) for ts in inflight.values())
                k = pace.allow(batch_size, configs_in_flight, len(inflight))
                trials = budget.ask(k) if k > 0 else []
                if not trials:
                    break
                if heartbeat is not None:
                    heartbeat.add(trials)
                configs = [space.config({n: p.suggest(t) for n, p in space.params.items()}) for t in trials]
                pace.submitted()
                inflight[executor.submit(configs)] = [(t, time.perf_counter()) for t in trials]
            if not inflight:
                # Nothing left to ask. Where the others' running trials hold the rest of the budget
                # and none has finished yet, wait for the first (or for them to turn out stale).
                _, _, others = budget.survey()
                if others and _best(study) is None and not pace.over():
                    time.sleep(POLL_INTERVAL)
                    continue
                break
            handle, results, exc = executor.wait_any(list(inflight))
            trials = inflight.pop(handle)
            pace.finished(len(trials))
            for j, (trial, t0) in enumerate(trials):
                _tell(study, trial, results[j] if results is not None else _failure(exc), time.perf_counter() - t0)
            budget.done([t for t, _ in trials])
            if heartbeat is not None:
                heartbeat.remove([t for t, _ in trials])
            if bar is not None:
                bar.update(len(trials))
                best = _best(study)
                if best is not None:
                    bar.set_postfix_str(f"best {best.value:.4g}", refresh=False)
    except BaseException as exc:
        if executor is not None:
            executor.cancel(list(inflight))
        _requeue(study, [t for ts in inflight.values() for t, _ in ts], "interrupted")
        if isinstance(exc, errors):
            raise SearchError(f"storage {label} failed during the search ({_says(exc)}); the trials finished "
                              "before are kept") from None
        raise
    finally:
        if heartbeat is not None:
            heartbeat.close()
        if bar is not None:
            bar.close()
        if executor is not None:
            executor.close()

    best = _best(study)
    if best is None:
        others = budget.survey()[2]
        if others:
            raise SearchError(f"no trial of study {study_name!r} has finished yet: {others} trial(s) running in "
                              f"other processes hold what is left of n_trials={n_trials}"
                              + (f", and timeout={timeout:g} s has passed" if timeout is not None else ""))
        errors = [t.user_attrs.get("error") for t in study.trials if t.user_attrs.get("error")]
        raise SearchError(f"no trial succeeded ({len(errors)} failed); first error: {errors[0] if errors else '?'}")
    cap = horizon * time_scale
    if objective == "vpt" and best.value >= cap:
        at_cap = sum(1 for t in study.trials if t.value is not None and t.value >= cap)
        warnings.warn(
            f"the best trial's valid prediction time is the horizon itself ({cap:.4g}: horizon={horizon} steps "
            f"x time_scale={time_scale:g}), reached by {at_cap} trial(s): the objective cannot tell those "
            "apart, so the search could not rank the best configurations; raise horizon",
            SearchCapWarning, stacklevel=3)  # past the verbosity decorator's frame
    params = space.config(best.params)
    ridge = float(best.user_attrs["ridge"])
    best_esn = None
    if refit and classifying:
        from ..models.classifier import ESNClassifier

        keep = np.arange(len(task.labels)) if refit == "train+validation" else task.train
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            best_esn = ESNClassifier(**{**params, "ridge": ridge, "dtype": dtype, "device": device}).fit(
                [task.sequences[i] for i in keep], task.labels[keep])
    elif refit:
        end = T if refit == "train+validation" else split
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            best_esn = build(model, params, ridge=ridge, dtype=dtype, device=device).fit(
                None if U is None else U[:end], Y[:end])
    # an online trainer's ridge is the model's own, not a point of the grid
    _check_best(space, best.params, None if model == "ESN" and online(params) else ridge, best_esn)
    return SearchResult(study, _table(study, space), params, float(best.value), ridge, best_esn, direction, split,
                        space)


# A best value within this share of its range's width (in the range's own scale) is at its edge.
EDGE = 0.02


def _check_best(space: SearchSpace, sampled: Mapping[str, Any], ridge: float | None, best_esn: Any) -> None:
    """Warn when the best configuration sits at the edge of a searched range or of the ridge grid (None:
    its ridge is not the grid's), or is recommended without the echo state property."""
    where = {"stacklevel": 4}  # past search() and the verbosity decorator
    ridges = np.asarray(space.ridges, dtype=float)
    if ridge is not None and len(ridges) > 1 and ridge in (ridges.min(), ridges.max()):
        end = "lowest" if ridge == ridges.min() else "highest"
        warnings.warn(f"search: the best ridge {ridge:.3g} is the {end} value of the ridge grid "
                      f"({ridges.min():.3g}..{ridges.max():.3g}): the best may lie beyond it; widen the grid "
                      "(ridges={'low': ..., 'high': ..., 'num': ...}, [ridge] in a space file)",
                      SearchBoundaryWarning, **where)
    for name, p in space.params.items():
        v = sampled.get(name)
        if p.choices is not None or not is_real(v) or p.low == p.high:
            continue
        scale = np.log if p.log else (lambda x: x)
        at = (scale(v) - scale(p.low)) / (scale(p.high) - scale(p.low))
        if min(at, 1 - at) <= EDGE:
            end = "upper" if at > 0.5 else "lower"
            warnings.warn(f"search: the best {name} = {v:.4g} is at the {end} end of its range [{p.low:g}, {p.high:g}] "
                          f"(within {EDGE:.0%}): the best may lie beyond it; widen the range",
                          SearchBoundaryWarning, **where)
    if isinstance(best_esn, ESN) and best_esn.is_fitted:
        rho = best_esn.effective_spectral_radius()
        if rho >= 1:
            shown = ", ".join(f"{k}={v:.3g}" if is_real(v) else f"{k}={v!r}" for k, v in sampled.items())
            warnings.warn(f"search: the best configuration ({shown}) has an effective spectral radius {rho:.4g} ≥ 1, "
                          "so the echo state property is not guaranteed: its states may depend on where they started, "
                          "not only on the data. It scored best on this validation data; check it on other data, or "
                          "search spectral_radius below 1", EchoStatePropertyWarning, **where)


def _model(model: Any, space: Any, objective: Any) -> str:
    """The class name of the model searched: ``model`` (None: a space's own, else ESN), checked against
    the space's and the objective's."""
    own = space.model if isinstance(space, SearchSpace) else "ESN"
    name = own if model is None else model_name(model)
    if model is not None and isinstance(space, SearchSpace) and not same_family(name, own):
        raise ValueError(f"model={model!r}, but space is a search space of {own} parameters")
    if objective in CLASS_OBJECTIVES:
        if name not in ("ESN", "ESNClassifier"):
            raise ValueError(f"the classification objectives ({', '.join(CLASS_OBJECTIVES)}) search ESNClassifier "
                             f"configurations; model={model!r} forecasts: use objective='nrmse', 'free_run' or 'vpt'")
        return "ESNClassifier"
    if name == "ESNClassifier":
        raise ValueError(f"an ESNClassifier is searched with objective='accuracy' or 'log_loss', got {objective!r}")
    return name


def _series_task(U, Y, space, objective, validation, split, folds, horizon, starts, threshold, time_scale,
                 ridge_candidates, dtype, device, warmup, direction, model="ESN") -> tuple[Task, int, int]:
    """The forecasting search's task: the series split into training and validation steps."""
    T = Y.shape[0]
    if split is None:
        split = int(round(T * (1 - (DEFAULT_VALIDATION if validation is None else validation))))
    elif split >= T:
        raise ValueError(f"split={split} leaves no validation steps: the targets have {T}")
    if model != "ESN" and U is None:
        raise ValueError(f"model={model}: it is driven by its inputs; give inputs and targets, or a single series")
    washout = _largest_washout(space, model)
    if split - washout < 10 or T - split < 2:
        raise ValueError(f"{T} steps split at {split} with washout={washout} leave too few steps "
                         "to train or to validate on")
    if folds:
        block_folds(T - washout, folds)  # enough rows for the folds, or a clear error now
    if objective in ("free_run", "vpt") and (U is None or U.shape[1] != Y.shape[1]):
        raise ValueError(f"objective={objective!r} free-runs the model, which needs a one-step forecaster "
                         "(inputs and targets of the same width, or a single series)")
    task = Task(U, Y, split, space.ridges, objective, folds, horizon, starts, threshold, time_scale,
                ridge_candidates, dtype, device, warmup, direction, model)
    if objective in ("free_run", "vpt"):
        free_run_starts(task)  # enough validation steps for the windows, or a clear error now

    return task, T, split


def _largest_washout(space: SearchSpace, model: str) -> int:
    """The most steps of the training part a configuration of the space leaves out of its fit."""
    def largest(name: str, default: Any) -> Any:
        if name in space.params:
            p = space.params[name]
            return max([v for v in p.choices if is_int(v)] or [default]) if p.choices is not None else p.high
        v = space.fixed.get(name, default)
        return v if is_int(v) else default

    washout = int(largest("washout", 0))
    if model == "NVAR":  # an NVAR's default washout (None) fills its delay line: (delays - 1) * skip steps
        from ..models.nvar import DEFAULTS

        washout = max(washout, (largest("delays", DEFAULTS["delays"]) - 1) * largest("skip", DEFAULTS["skip"]))
    return washout


def _classification_task(inputs, targets, space, objective, validation, split, folds, seed, dtype, device,
                         direction) -> tuple[ClassificationTask, np.ndarray]:
    """The classification search's task: sequences, labels, and stratified folds (or one stratified
    validation part); also the training sequences a refit uses."""
    from ..models.classifier import _labels, _sequences

    if split is not None:
        raise ValueError("split is an index into one series: a classification search takes validation (a fraction "
                         "of each class) or folds")
    if targets is None:
        raise ValueError("a classification search needs targets: one label per sequence")
    U = _sequences(inputs, "inputs", torch.float64, torch.device("cpu"))
    labels = _labels(targets, U.batch_size)
    seqs = [U.data[b, :n].numpy() for b, n in enumerate(U.lengths)]
    classes, counts = np.unique(labels, return_counts=True)
    if len(classes) < 2:
        raise ValueError(f"targets hold one class ({classes[0].item()!r}): a classifier needs at least two")
    if counts.min() < 2:
        raise ValueError(f"class {classes[counts.argmin()].item()!r} has one sequence: every class needs two or more "
                         "to be both trained and validated")
    if folds:
        fold_sets = stratified_folds(labels, folds, seed)
        if any(len(f) == 0 for f in fold_sets):
            raise ValueError(f"folds={folds} exceeds the {len(labels)} sequences")
        train = np.arange(len(labels))
    else:
        val = stratified_holdout(labels, DEFAULT_VALIDATION if validation is None else validation, seed)
        fold_sets = [val]
        train = np.setdiff1d(np.arange(len(labels)), val)
    return ClassificationTask(seqs, labels, fold_sets, space.ridges, objective, dtype, device, direction, train), train


def _tell(study, trial, res: Mapping[str, Any], seconds: float) -> None:
    """Record a trial's result. A trial that another process requeued meanwhile (taking this one for
    dead) is left as it is: its parameters are queued again already."""
    import optuna

    try:
        trial.set_user_attr("seconds", round(seconds, 4))
        if "error" in res:
            trial.set_user_attr("error", res["error"][:2000])
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
        else:
            for key in ("ridge", "one_step_nrmse", "ridge_floor", "accuracy", "log_loss"):
                if key in res:
                    trial.set_user_attr(key, res[key])
            study.tell(trial, res["value"])
    except (optuna.exceptions.UpdateFinishedTrialError, ValueError):
        if not study._storage.get_trial(trial._trial_id).state.is_finished():
            raise


def _direction(objective: str | Callable, direction: str | None) -> str:
    """The study's direction: the named objectives' own, or what a callable says."""
    if callable(objective):
        d = direction or getattr(objective, "direction", "minimize")
    else:
        d = "maximize" if objective in ("vpt", "accuracy") else "minimize"
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
