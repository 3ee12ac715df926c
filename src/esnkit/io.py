"""Saving and loading fitted models without pickle: safetensors tensors plus a versioned JSON config.

The file is one safetensors file; its header metadata holds the JSON config under the key
``"esnkit"`` (format version, constructor parameters, array types). Loading parses JSON and reads
raw tensors, so it never executes code from the file.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from .models.esn import ESN
from .readout import Readout
from .reservoir import ACTIVATIONS, Reservoir

FORMAT = "esnkit"
FORMAT_VERSION = 1
_RESERVOIR_KEYS = ("W_crow", "W_col", "W_values", "W_in", "W_fb", "bias", "leak")


def _jsonable(v: Any) -> Any:
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, torch.dtype):
        return str(v).replace("torch.", "")
    if isinstance(v, torch.device):
        return str(v)
    if isinstance(v, (np.floating, np.integer)):
        return v.item()
    return v


def save(model: ESN, path: str | os.PathLike) -> None:
    """Write a fitted ESN to ``path`` (weights, readout, carried state and parameters).

    A model with a custom activation callable saves its name only; pass the callable again to
    :func:`load`. The file is written to a temporary name and moved into place, so a failed save
    never leaves a truncated file behind.
    """
    if not isinstance(model, ESN):
        raise TypeError(f"save expects an esnkit.ESN, got {type(model).__name__}")
    model._require_fitted("save")
    params = {k: _jsonable(v) for k, v in model.get_params().items()}
    act = model.activation
    params["activation"] = act if isinstance(act, str) else "custom"
    params["dtype"] = _jsonable(model.readout.weight.dtype)
    params["device"] = None
    config = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "params": params,
        "custom_activation": None if isinstance(act, str) else getattr(act, "__qualname__", repr(act)),
        "input_size": model.reservoir.input_size,
        "output_size": model.readout.output_size,
        "readout_bias": model.readout.use_bias,
        "readout_input": model.readout.use_input,
        "output_kind": model.output_kind,
        "output_layout": model.output_layout,
    }
    tensors = {f"reservoir.{k}": getattr(model.reservoir, k) for k in _RESERVOIR_KEYS}
    tensors["readout.weight"] = model.readout.weight
    if model.state_x is not None:
        tensors["state.x"] = model.state_x
        tensors["state.y"] = model.state_y
    tensors = {k: v.detach().contiguous().cpu() for k, v in tensors.items()}
    path = os.fspath(path)
    tmp = f"{path}.tmp-{os.getpid()}"
    try:
        save_file(tensors, tmp, metadata={FORMAT: json.dumps(config)})
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def load(
    path: str | os.PathLike,
    *,
    device: torch.device | str | None = None,
    activation: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> ESN:
    """Read a model written by :func:`save`; predictions are bit-identical to the saved model's.

    ``device`` places the weights (default CPU). ``activation`` must be given for a model saved
    with a custom activation callable. A damaged or foreign file raises ``ValueError``.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no model file at {path!r}")
    if device is not None and torch.device(device).type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} but CUDA is not available here; load with device='cpu'")
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
        version = config["format_version"]
        params = config["params"]
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise ValueError(f"{path!r} has a damaged esnkit config: {exc}") from None
    if config.get("format") != FORMAT or not isinstance(version, int):
        raise ValueError(f"{path!r} has an unrecognised esnkit config")
    if version > FORMAT_VERSION:
        raise ValueError(
            f"{path!r} was written by a newer esnkit (format version {version}; this one reads up to "
            f"{FORMAT_VERSION}): upgrade esnkit"
        )
    if params.get("activation") == "custom":
        if activation is None:
            raise ValueError(
                f"{path!r} was saved with a custom activation ({config.get('custom_activation')}); pass the "
                "same callable: esnkit.load(path, activation=fn)"
            )
        params["activation"] = activation
    elif params.get("activation") not in ACTIVATIONS:
        raise ValueError(f"{path!r} names an unknown activation {params.get('activation')!r}")
    missing = [k for k in (*(f"reservoir.{k}" for k in _RESERVOIR_KEYS), "readout.weight") if k not in tensors]
    if missing:
        raise ValueError(f"{path!r} is missing tensors {missing}: the file is damaged")
    params["device"] = None if device is None else str(device)
    try:
        model = ESN(**params)
        dtype = tensors["readout.weight"].dtype
        n = params["reservoir_size"]
        r = {k: tensors[f"reservoir.{k}"] for k in _RESERVOIR_KEYS}
        if r["bias"].shape != (n,) or r["W_in"].shape[1] != config["input_size"] or (
            tensors["readout.weight"].shape[0] != config["output_size"]
        ):
            raise ValueError("tensor shapes do not match the config")
        where = device or "cpu"
        reservoir = Reservoir(*(r[k].to(device=where) for k in _RESERVOIR_KEYS), activation=params["activation"])
        model.reservoir = reservoir
        model.readout = Readout(
            tensors["readout.weight"].to(device=where), input_size=config["input_size"],
            use_bias=config["readout_bias"], use_input=config["readout_input"],
        )
        if "state.x" in tensors:
            model.state_x = tensors["state.x"].to(device=where, dtype=dtype)
            model.state_y = tensors["state.y"].to(device=where, dtype=dtype)
        model.output_kind = config.get("output_kind", "numpy")
        model.output_layout = config.get("output_layout", "2d")
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{path!r} has an inconsistent esnkit config or tensors: {exc}") from None
    return model
