"""What every benchmark script shares: the machine description and writing its results table."""

from __future__ import annotations

import os
import platform
from pathlib import Path


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


def machine() -> str:
    """e.g. 'x86_64, Intel(R) Xeon(R) CPU @ 2.00GHz, 2 vCPU'."""
    return f"{platform.processor() or platform.machine()}, {cpu_name()}, {os.cpu_count()} vCPU"


def write(path: str, lines: list[str]) -> str:
    """Write the results table (through a temporary file, so a failed run never leaves half a table) and print it."""
    text = "\n".join(lines) + "\n"
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)
    print(text)
    return text
