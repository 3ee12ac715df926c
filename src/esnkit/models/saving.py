"""Saving and loading fitted models: ``state_dict`` tensors plus a versioned JSON config (no pickle).

A model file is what :meth:`ESN.save` writes through :mod:`esnkit.io`: the tensors of the model's
``state_dict``, a config naming the model class, its constructor parameters and its extra state, and
a checksum of both. :func:`load` verifies the checksum (in :func:`esnkit.io.read`), checks the
config's types, builds the model from the parameters (which the constructor validates) and loads
the tensors with ``load_state_dict``, which validates every dtype, shape and value the time loop
will trust before anything runs.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import torch

from .. import io, params
from .classifier import ESNClassifier
from .deep_esn import DeepESN
from .esn import ESN
from .estimator import _param_names
from .nvar import NVAR
from .parallel_esn import ParallelESN
from .reservoir_model import FORMAT_VERSION

# the first format version whose files carry a checksum (esnkit.io)
CHECKSUM_VERSION = 3

MODELS = {"ESN": ESN, "ESNClassifier": ESNClassifier, "NVAR": NVAR, "DeepESN": DeepESN, "ParallelESN": ParallelESN}


def save(model: ESN | ESNClassifier | NVAR | DeepESN | ParallelESN, path: str | os.PathLike) -> None:
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


def _saved_recurrent(tensors: dict[str, torch.Tensor], size: Any) -> Any:
    """The saved reservoir's W as a float64 SciPy CSR matrix (its checks come with the model's): an
    ESN's, or a classifier's first (an initializer matrix or callable gives every member that W)."""
    import scipy.sparse as sp

    prefix = "reservoirs_.0." if "reservoirs_.0.W_crow" in tensors else "reservoir_."
    try:
        crow, col, values = (tensors[f"{prefix}{k}"] for k in ("W_crow", "W_col", "W_values"))
        return sp.csr_matrix((values.double().numpy(), col.numpy(), crow.numpy()), shape=(size, size))
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise ValueError(f"initializer='custom' needs the saved W: {exc}") from None


def load(
    path: str | os.PathLike,
    *,
    device: torch.device | str | None = None,
    activation: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> ESN | ESNClassifier | NVAR | DeepESN | ParallelESN:
    """Read a model written by :meth:`ESN.save`, :meth:`ESNClassifier.save`, :meth:`NVAR.save` or
    :meth:`DeepESN.save`; predictions are bit-identical to the saved model's.

    ``device`` places the weights (default CPU). ``activation`` must be given for a model saved
    with a custom activation callable. The file's checksum is verified, then everything the time
    loop will trust is validated before anything runs (see docs/model.md, "Model files"). A missing
    file raises ``FileNotFoundError``; a damaged, foreign, newer or inconsistent file ``ValueError``
    naming it and what is wrong.
    """
    if not isinstance(path, (str, bytes, os.PathLike)):
        raise TypeError(f"path must be a file path (a str or os.PathLike), got {type(path).__name__}")
    path = os.fspath(path)
    if device is not None:
        params.check_device(device)
    # Format 1 and 2 files were written without a checksum and still load; from format 3 on every
    # file carries one.
    tensors, config = io.read(path, newest=FORMAT_VERSION, checksum_since=CHECKSUM_VERSION)
    try:
        if config["format_version"] == 1:
            tensors, config = _from_version_1(tensors, config)
        model_name, p, extra = config["model"], config["params"], config["extra"]
    except (KeyError, TypeError, AttributeError, IndexError) as exc:
        raise ValueError(f"{path!r} has a damaged esnkit config (missing or malformed {exc})") from None
    if not isinstance(model_name, str) or model_name not in MODELS:
        raise ValueError(f"{path!r} names an unknown model {model_name!r} (esnkit reads {', '.join(MODELS)})")
    for name, v in (("params", p), ("extra", extra)):
        if not isinstance(v, dict):
            raise ValueError(f"{path!r} has a damaged esnkit config: {name} must be an object, got {v!r}")
    if extra.get("fitted") is not True:
        raise ValueError(f"{path!r} has a damaged esnkit config: extra.fitted must be true (only fitted models "
                         "are saved)")
    cls, p, extra = MODELS[model_name], dict(p), dict(extra)
    if "activation" not in _param_names(cls):  # an NVAR has none
        if "activation" in p:
            raise ValueError(f"{path!r} has a damaged esnkit config: params.activation is no parameter of {model_name}")
    elif p.get("activation") == "custom":
        if activation is None:
            raise ValueError(
                f"{path!r} was saved with a custom activation ({config.get('custom_activation')}); pass the "
                "same callable: esnkit.load(path, activation=fn)"
            )
        p["activation"] = activation
    elif not isinstance(p.get("activation"), str) or p.get("activation") not in params.ACTIVATIONS:
        raise ValueError(f"{path!r} names an unknown activation {p.get('activation')!r}")
    p["device"] = None if device is None else str(device)
    try:
        if p.get("initializer") == "custom":  # an initializer callable or matrix: W itself, as saved
            p["initializer"] = _saved_recurrent(tensors, p.get("reservoir_size"))
        model = cls(**p)
        dtype = model._dtype_device()[0]
        for k, t in tensors.items():
            if t.is_floating_point() and t.dtype != dtype:
                raise ValueError(f"tensor {k} is {t.dtype} but params.dtype is {dtype}")
        model.load_state_dict({**tensors, "_extra_state": extra})
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise ValueError(f"{path!r} has an inconsistent esnkit config or tensors: {exc}") from None
    return model
