"""Measuring a contestant: wall time (medians of repeats), peak memory, and the machine it ran on."""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import platform
import statistics
import time
from pathlib import Path
from typing import Any, Callable


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def machine() -> str:
    """e.g. 'x86_64, Intel(R) Xeon(R) CPU @ 2.00GHz, 2 vCPU'."""
    return f"{platform.machine()}, {cpu_name()}, {os.cpu_count()} vCPU"


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def _release_free_memory() -> None:
    """Hand memory that was freed back to the OS (glibc's ``malloc_trim``), so that RSS drops to what
    is in use. Otherwise a block that reuses memory an earlier one freed shows no growth at all."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: nothing to trim with
        pass


class PeakRSS:
    """Growth of the process's peak resident memory over a block, in MB (``.mb``).

    On entry freed memory is returned to the OS and Linux's peak-RSS mark is reset to the current RSS
    (``/proc/self/clear_refs``), so what ran before (imports, data generation, earlier contestants)
    neither counts nor hides the block's own allocations. Where that is not possible (another OS, a
    locked-down /proc) ``.mb`` is None.
    """

    def __init__(self) -> None:
        self.mb: float | None = None
        self._base: int | None = None

    def __enter__(self) -> PeakRSS:
        _release_free_memory()
        try:
            Path("/proc/self/clear_refs").write_text("5")
            self._base = _status_kb("VmRSS")
        except (OSError, KeyError):
            self._base = None
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._base is not None:
            self.mb = max(0.0, (_status_kb("VmHWM") - self._base) / 1024)


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    """``(fn(), seconds)``."""
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def median_time(fn: Callable[[], Any], repeats: int = 5) -> float:
    """Median wall time of ``repeats`` calls, in seconds."""
    return statistics.median(timed(fn)[1] for _ in range(repeats))
