"""Model files without pickle: one safetensors file of tensors whose header holds a JSON config.

This module knows files, tensors and JSON, not models: a model writes its ``state_dict`` tensors
and a config through :func:`write`, and :func:`esnkit.load` reads them back through :func:`read`
and rebuilds the model (``esnkit.models.saving``). Reading parses JSON and raw tensors only, so it
never executes code from the file.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

FORMAT = "esnkit"


def jsonable(v: Any) -> Any:
    """``v`` as JSON can hold it (arrays as lists, dtypes and devices as their names)."""
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, torch.dtype):
        return str(v).replace("torch.", "")
    if isinstance(v, torch.device):
        return str(v)
    if isinstance(v, (np.floating, np.integer)):
        return v.item()
    if isinstance(v, type) and issubclass(v, np.generic):
        return np.dtype(v).name
    if isinstance(v, np.dtype):
        return v.name
    return v


def write(path: str | os.PathLike, tensors: Mapping[str, torch.Tensor], config: Mapping[str, Any]) -> None:
    """Write ``tensors`` and the JSON ``config`` to ``path``, atomically: the file is written under a
    temporary name and moved into place, so a failed write never leaves a truncated file."""
    path = os.fspath(path)
    data = {k: v.detach().contiguous().cpu() for k, v in tensors.items()}
    tmp = f"{path}.tmp-{os.getpid()}"
    try:
        save_file(data, tmp, metadata={FORMAT: json.dumps({"format": FORMAT, **config})})
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def read(path: str | os.PathLike) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """The tensors (on the CPU) and the config of a file :func:`write` wrote. A missing file raises
    ``FileNotFoundError``; a damaged or foreign one ``ValueError`` naming the file."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no model file at {path!r}")
    try:
        with safe_open(path, framework="pt", device="cpu") as f:
            meta = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise ValueError(f"{path!r} is not a readable esnkit model file (damaged or another format): {exc}") from None
    if FORMAT not in meta:
        raise ValueError(f"{path!r} is a safetensors file but not an esnkit model (no '{FORMAT}' metadata)")
    try:
        config = json.loads(meta[FORMAT])
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path!r} has a damaged esnkit config: {exc}") from None
    if not (isinstance(config, dict) and config.get("format") == FORMAT
            and isinstance(config.get("format_version"), int)):
        raise ValueError(f"{path!r} has an unrecognised esnkit config")
    return tensors, config
