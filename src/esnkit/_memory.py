"""The memory guard: a size no machine here could hold fails at once with a ``ValueError`` naming it.

A reservoir of a million neurons, ``generate(10**12)`` or a data set of 10**12 samples would
otherwise allocate for minutes and end in a ``MemoryError`` deep inside NumPy or PyTorch (or in
the kernel's OOM killer). Every entry point that sizes a large buffer from its arguments asks
:func:`require_memory` first: the estimate of what the call needs is compared with the memory of
the machine (physical memory, or the container's cgroup limit when lower; a CUDA device's own
memory for tensors there). Only what could never fit is refused; a request that fits the machine
but not what is free at the moment still runs. Plain Python at import (PyTorch is asked only about
a CUDA device), so the data sets and the command line can use it without loading PyTorch.
"""

from __future__ import annotations

import functools
import os
from typing import Any

_CGROUP_LIMITS = ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes")


@functools.cache
def _host_memory() -> int | None:
    """Bytes of memory this process may use: physical memory, or a lower cgroup limit (None: unknown)."""
    total = None
    try:
        total = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):  # not a POSIX system
        pass
    for path in _CGROUP_LIMITS:
        try:
            with open(path) as f:
                limit = int(f.read().strip())  # "max": no limit (ValueError)
        except (OSError, ValueError):
            continue
        if 0 < limit < 1 << 60:  # cgroup v1 writes a huge number for "no limit"
            total = limit if total is None else min(total, limit)
    return total


def memory_limit(device: Any = None) -> int | None:
    """Bytes of memory a computation on ``device`` (None: the CPU) can have at most; None if unknown."""
    kind = getattr(device, "type", None) or (str(device).split(":")[0] if device is not None else "cpu")
    if kind == "cuda":
        import torch

        try:
            index = torch.device(device).index
            return int(torch.cuda.get_device_properties(torch.cuda.current_device() if index is None else index)
                       .total_memory)
        except (RuntimeError, AssertionError, ValueError):  # no such device: the device check says so
            return None
    return _host_memory()


def size(nbytes: float) -> str:
    """``nbytes`` for people: '74.5 GiB', '8 TiB'."""
    for unit, scale in (("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if nbytes >= scale:
            return f"{nbytes / scale:.3g} {unit}"
    return f"{int(nbytes)} bytes"


def require_memory(nbytes: float, what: str, hint: str, device: Any = None) -> None:
    """Raise ``ValueError`` when ``what`` (e.g. "reservoir_size=1000000000: the readout's normal
    equations") needs more than ``nbytes`` the machine has; ``hint`` says what to change."""
    limit = memory_limit(device)
    if limit is None or nbytes <= limit:
        return
    where = "this machine has" if device is None or str(device).startswith("cpu") else f"device {device} has"
    raise ValueError(f"{what} needs about {size(nbytes)} of memory, more than the {size(limit)} {where}; {hint}")
