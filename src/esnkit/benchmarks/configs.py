"""The ESN configurations the benchmark runs: esnkit's defaults, and the ones `esnkit.search` found.

The tuned configurations live in ``tuned.json`` beside this file, written by
``benchmarks/tune_protocols.py`` (which records the command, date, search budget and validation
score with each); nothing in it is typed in by hand.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .protocols import PROTOCOLS

TUNED_FILE = Path(__file__).with_name("tuned.json")


def default(protocol: str, reservoir_size: int = 1000, seed: int = 0) -> dict[str, Any]:
    """esnkit's own defaults (ρ 0.9, no leak, input scaling 1, bias 0.5, ridge 1e-8) with the washout a
    forecaster needs; the same for every protocol."""
    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown protocol {protocol!r}; choose from {sorted(PROTOCOLS)}")
    return {"reservoir_size": reservoir_size, "washout": 100, "seed": seed}


def size_key(protocol: str, reservoir_size: int) -> str:
    """The ``tuned.json`` key of a configuration searched at one reservoir size (the size sweep)."""
    return f"{protocol}@{reservoir_size}"


def tuned_record(protocol: str, reservoir_size: int | None = None) -> dict[str, Any] | None:
    """The search record for ``protocol`` (params, ridge, command, date, ...), or None if none was run.
    With ``reservoir_size``, the record of a search run at that size, if there is one."""
    if not TUNED_FILE.exists():
        return None
    records = json.loads(TUNED_FILE.read_text())
    return records.get(protocol if reservoir_size is None else size_key(protocol, reservoir_size))


def tuned(protocol: str, seed: int | None = None, reservoir_size: int | None = None) -> dict[str, Any] | None:
    """ESN parameters found by the search for ``protocol`` (optionally with another seed or size).

    Another size takes the configuration searched at that size when there is one, else the headline
    configuration with only ``reservoir_size`` changed."""
    rec = tuned_record(protocol)
    if rec is None:
        return None
    if reservoir_size is not None:
        rec = tuned_record(protocol, reservoir_size) or rec
    params = {**rec["params"], "ridge": rec["ridge"]}
    if seed is not None:
        params["seed"] = seed
    if reservoir_size is not None:
        params["reservoir_size"] = reservoir_size
    return params


def searched_at(protocol: str, reservoir_size: int) -> bool:
    """Whether the size sweep's ``reservoir_size`` has a configuration of its own."""
    return tuned_record(protocol, reservoir_size) is not None
