"""What every benchmark script shares: the machine description and writing its results table."""

from __future__ import annotations

import os

from esnkit.benchmarks.measure import machine  # noqa: F401 - re-exported for the scripts


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
