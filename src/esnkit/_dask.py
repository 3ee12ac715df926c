"""A Dask client from the one ``scheduler`` convention of the search and of ParallelESN's fit:
``"local"`` (a LocalCluster on this machine), an address (``"tcp://host:8786"``) or a
``distributed.Client`` the caller owns. Dask is an optional extra, imported only here and only
when asked for."""

from __future__ import annotations

import os
from typing import Any

from .errors import import_extra


def connect(scheduler: Any, *, workers: int | None = None, connect_timeout: float = 10.0,
            extra: str = "search", error: type[Exception] = RuntimeError) -> tuple[Any, Any]:
    """``(client, cluster)`` for ``scheduler``; ``cluster`` is the LocalCluster started here (None
    when the client connects to, or is, someone else's), which the caller closes with the client.

    ``"local"`` starts ``workers`` processes (default: one per CPU) of one thread each. An address
    that cannot be reached within ``connect_timeout`` seconds raises ``error`` saying so.
    """
    distributed = import_extra("distributed", extra, "a Dask scheduler")
    Client, LocalCluster = distributed.Client, distributed.LocalCluster
    if scheduler == "local":
        n = workers or max(1, os.cpu_count() or 1)
        cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None)
        return Client(cluster), cluster
    if isinstance(scheduler, str):
        if ":" not in scheduler:
            raise ValueError(f"scheduler must be 'local' or a Dask scheduler address such as 'tcp://host:8786', "
                             f"got {scheduler!r}")
        try:
            return Client(scheduler, timeout=connect_timeout), None
        except (OSError, TimeoutError) as exc:
            raise error(
                f"could not reach the Dask scheduler at {scheduler!r} within {connect_timeout:g} s ({exc}); "
                "check the address, or run locally with scheduler='local' (CLI: --scheduler local)"
            ) from None
    return scheduler, None


def close(client: Any, cluster: Any) -> None:
    """Close what :func:`connect` started (a client the caller passed in is left open)."""
    if cluster is not None:
        client.close()
        cluster.close()
