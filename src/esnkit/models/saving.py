"""Saving and loading fitted models: ``state_dict`` tensors plus a versioned JSON config (no pickle).

A model file is what :meth:`ESN.save` writes through :mod:`esnkit.io`: the tensors of the model's
``state_dict``, and a config naming the model class, its constructor parameters and its extra state.
:func:`load` builds the model from the parameters and loads the tensors with ``load_state_dict``,
which checks every shape against the parameters before anything runs.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import torch

from .. import io, params
from .esn import ESN, FORMAT_VERSION

MODELS = {"ESN": ESN}


def save(model: ESN, path: str | os.PathLike) -> None:
    """Write a fitted model to ``path``; see :meth:`ESN.save`."""
    if not isinstance(model, tuple(MODELS.values())):
        raise TypeError(f"save expects an esnkit model ({', '.join(MODELS)}), got {type(model).__name__}")
    model.save(path)


def _from_version_1(tensors: dict[str, torch.Tensor], config: dict[str, Any]) -> tuple[dict, dict]:
    """Format 1 (esnkit 0.1's first files): other tensor names, and the extra state at the top level."""
    renamed = {}
    for k, v in tensors.items():
        if k.startswith("reservoir.") or k.startswith("readout."):
            k = k.replace(".", "_.", 1)
        renamed[{"state.x": "state_x", "state.y": "state_y"}.get(k, k)] = v
    W_fb = renamed.get("reservoir_.W_fb")
    config["extra"] = {
        "fitted": True, "input_size": config["input_size"], "output_size": config["output_size"],
        "feedback_size": W_fb.shape[1] if W_fb is not None and W_fb.ndim == 2 else 0,
        "readout_bias": config["readout_bias"], "readout_input": config["readout_input"],
        "carries_state": "state_x" in renamed, "output_kind": config.get("output_kind", "numpy"),
        "output_layout": config.get("output_layout", "2d"),
    }
    config["model"] = "ESN"
    return renamed, config


def load(
    path: str | os.PathLike,
    *,
    device: torch.device | str | None = None,
    activation: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> ESN:
    """Read a model written by :meth:`ESN.save`; predictions are bit-identical to the saved model's.

    ``device`` places the weights (default CPU). ``activation`` must be given for a model saved
    with a custom activation callable. A damaged or foreign file raises ``ValueError`` naming it.
    """
    path = os.fspath(path)
    if device is not None:
        params.check_device(device)
    tensors, config = io.read(path)
    version = config["format_version"]
    if version > FORMAT_VERSION:
        raise ValueError(
            f"{path!r} was written by a newer esnkit (format version {version}; this one reads up to "
            f"{FORMAT_VERSION}): upgrade esnkit"
        )
    try:
        if version == 1:
            tensors, config = _from_version_1(tensors, config)
        cls = MODELS[config["model"]]
        p = dict(config["params"])
        extra = dict(config["extra"])
    except (KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"{path!r} has a damaged esnkit config (missing or malformed {exc})") from None
    if p.get("activation") == "custom":
        if activation is None:
            raise ValueError(
                f"{path!r} was saved with a custom activation ({config.get('custom_activation')}); pass the "
                "same callable: esnkit.load(path, activation=fn)"
            )
        p["activation"] = activation
    elif p.get("activation") not in params.ACTIVATIONS:
        raise ValueError(f"{path!r} names an unknown activation {p.get('activation')!r}")
    p["device"] = None if device is None else str(device)
    try:
        model = cls(**p)
        model.load_state_dict({**tensors, "_extra_state": extra})
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise ValueError(f"{path!r} has an inconsistent esnkit config or tensors: {exc}") from None
    return model
