"""Where rounds of configurations run: in this process, or as Dask tasks on a cluster."""

from __future__ import annotations

import time
from typing import Any

from .._dask import close, connect
from ..errors import SearchError
from .objectives import Task, _evaluate_on_worker, evaluate


class _Round:
    """A round of configurations waiting to run in this process (hashable by identity)."""

    def __init__(self, configs) -> None:
        self.configs = configs


class _InProcess:
    """Runs each round here, when it is collected (no parallelism, no start-up cost)."""

    def __init__(self, task: Task) -> None:
        self.task = task
        self.slots = 1
        self.workers = 1

    def submit(self, configs):
        return _Round(configs)

    def wait_any(self, handles):
        h = handles[0]
        try:
            return h, evaluate(self.task, h.configs), None
        except SearchError:
            raise
        except Exception as exc:  # noqa: BLE001 - a user objective may raise anything; the trial records it
            return h, None, exc

    def cancel(self, handles) -> None:
        pass

    def close(self) -> None:
        pass


# A round whose task the cluster loses (a killed worker) is submitted again up to this many times.
ROUND_RESUBMITS = 3


class _DaskRound:
    """A round of configurations on the cluster: its current future, and how often it was resubmitted."""

    def __init__(self, configs, future) -> None:
        self.configs = configs
        self.future = future
        self.resubmitted = 0


class _Dask:
    """Runs rounds as Dask tasks: on a LocalCluster, or on the cluster at ``scheduler``."""

    def __init__(self, task: Task, scheduler: Any, workers: int | None, connect_timeout: float) -> None:
        self.client, self.cluster = connect(scheduler, workers=workers, connect_timeout=connect_timeout,
                                            error=SearchError)
        n_workers = len(self.client.scheduler_info().get("workers", {})) or 1
        self.workers = n_workers
        self.slots = 2 * n_workers  # one queued round per worker keeps each busy
        self.task = task
        self.task_ref = self.client.scatter(task, broadcast=True)

    def submit(self, configs):
        return _DaskRound(configs, self._submit(configs))

    def _submit(self, configs):
        return self.client.submit(_evaluate_on_worker, self.task_ref, configs, pure=False, retries=1)

    def wait_any(self, handles):
        from distributed import wait

        while True:
            try:
                wait([h.future for h in handles], return_when="FIRST_COMPLETED")
            except Exception as exc:  # noqa: BLE001
                # distributed raises here when a finished future was cancelled: a killed worker's
                # task that the scheduler forgot. That round is found below; anything else is real.
                if all(h.future.status == "pending" for h in handles):
                    raise SearchError(f"waiting for the Dask cluster failed: {exc}") from exc
            h = next(h for h in handles if h.future.status != "pending")
            if h.future.cancelled():
                if h.resubmitted >= ROUND_RESUBMITS:
                    return h, None, RuntimeError(
                        f"its Dask task was lost {h.resubmitted + 1} times (workers died or left)")
                # Run the round again rather than fail its trials, once the cluster has had a
                # moment to replace the worker. The scattered task goes out again too: the copy
                # the lost round depended on may have gone with the worker.
                h.resubmitted += 1
                time.sleep(0.5 * h.resubmitted)
                self.task_ref = self.client.scatter(self.task, broadcast=True)
                h.future = self._submit(h.configs)
                continue
            try:
                return h, h.future.result(), None
            except SearchError:
                raise
            except Exception as exc:  # noqa: BLE001 - a killed worker, a user error: the trials record it
                return h, None, exc

    def cancel(self, handles) -> None:
        if handles:
            self.client.cancel([h.future for h in handles])

    def close(self) -> None:
        close(self.client, self.cluster)
