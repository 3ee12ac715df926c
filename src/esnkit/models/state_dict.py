"""Checking a fitted model's ``state_dict`` before any of it is used: everything the time loop
(and its C kernel) will trust, against the extra state and the model's parameters.

``load_state_dict`` (and so :func:`esnkit.load`, after a file's checksum) calls
:func:`check_state_dict` first; each failure is a ``ValueError`` naming the field. The reservoir
module then checks W's CSR structure and its leak (:class:`~esnkit.Reservoir`).
"""

from __future__ import annotations

from typing import Any

import torch

from .._checks import require_finite
from ..readout import StateInputs

RESERVOIR_KEYS = ("W_crow", "W_col", "W_values", "W_in", "W_fb", "bias", "leak")


def check_state_dict(tensors: dict[str, Any], extra: dict[str, Any], reservoir_size: int) -> dict[str, torch.Tensor]:
    """The tensors of a fitted ESN's state dict, by name, once the extra state's types, every tensor's
    presence, dtype (int64 indices, floats all float32 or all float64) and shape, and the finiteness
    of the weights, the state and the training range are checked."""
    sizes = {"input_size": 0, "output_size": 1, "feedback_size": 0}  # the least each may be
    for k, least in sizes.items():
        v = extra.get(k)
        if type(v) is not int or v < least:
            raise ValueError(f"the extra state's {k} must be an integer >= {least}, got {v!r}")
    check_flags(extra, ("readout_bias", "readout_input", "carries_state"))
    n, d_in, d_out, d_fb = reservoir_size, extra["input_size"], extra["output_size"], extra["feedback_size"]
    if d_fb not in (0, d_out):
        raise ValueError(f"the extra state's feedback_size must be 0 or output_size ({d_out}), got {d_fb}")
    names = [f"reservoir_.{k}" for k in RESERVOIR_KEYS] + ["readout_.weight"]
    carried = ["state_x", "state_y"] if extra["carries_state"] else []
    missing = [k for k in names + carried if k not in tensors]
    if missing:
        raise ValueError(f"the state dict is missing {missing}")
    if not carried and ("state_x" in tensors or "state_y" in tensors):
        raise ValueError("the state dict holds state_x or state_y but its extra state's carries_state is false")
    named = {k: tensors[k] for k in names + carried}
    check_types(named)
    feats = extra.get("features", "linear")  # files before feature maps: the linear readout
    lags = 0
    if feats == "custom":  # a FeatureMap object's width, which only the file says
        F = extra.get("readout_features")
        if type(F) is not int or F < 1:
            raise ValueError(f"the extra state's readout_features must be an integer >= 1, got {F!r}")
    else:
        try:
            fmap = StateInputs.named(feats, extra["readout_bias"], extra["readout_input"])
        except ValueError as exc:
            raise ValueError(f"the extra state's features: {exc}") from None
        F = fmap.size(n, d_in)
        lags = fmap.lags
    expect = {"reservoir_.bias": (n,), "reservoir_.leak": (n,), "reservoir_.W_in": (n, d_in),
              "reservoir_.W_fb": (n, d_fb), "reservoir_.W_crow": (n + 1,), "readout_.weight": (d_out, F)}
    if carried:
        b = named["state_x"].shape[0] if named["state_x"].ndim == 2 else -1
        expect.update({"state_x": (max(b, 1), n), "state_y": (max(b, 1), d_out)})
    # a readout with lags carries the steps before its state (the inputs' only with inputs)
    lag_names = ["state_lags_x"] + (["state_lags_u"] if d_in else []) if carried and lags else []
    for k in ("state_lags_x", "state_lags_u"):
        t = tensors.get(k)
        if k in lag_names:
            if not isinstance(t, torch.Tensor) or not t.is_floating_point():
                raise ValueError(f"the state dict is missing {k} (a float tensor), which a readout with lags carries")
            named[k] = t
            expect[k] = (max(b, 1), lags, n if k.endswith("x") else d_in)
        elif t is not None:
            raise ValueError(f"the state dict holds {k} but its model carries no steps before its state")
    for k, shape in expect.items():
        if tuple(named[k].shape) != shape:
            raise ValueError(f"{k} has shape {tuple(named[k].shape)}, expected {shape} for reservoir_size={n}, "
                             f"{d_in} input(s) and {d_out} output(s)")
    for k in ["readout_.weight"] + carried + lag_names:
        require_finite(named[k], k, "a model's weights and state must be finite")
    named.update(check_range_and_scaling(tensors, extra, d_in, d_out))
    return named


def check_flags(extra: dict[str, Any], flags: tuple[str, ...]) -> None:
    """The extra state's ``flags`` are booleans and its output kind and layout known names."""
    for k in flags:
        if type(extra.get(k)) is not bool:
            raise ValueError(f"the extra state's {k} must be true or false, got {extra.get(k)!r}")
    for k, allowed in (("output_kind", ("numpy", "torch")), ("output_layout", ("1d", "2d", "3d"))):
        if extra.get(k, allowed[0]) not in allowed:
            raise ValueError(f"the extra state's {k} must be one of {allowed}, got {extra.get(k)!r}")


def check_types(named: dict[str, Any]) -> None:
    """Every entry of ``named`` is a tensor; the reservoir's CSR indices are int64 and the floating
    tensors all float32 or all float64."""
    for k, t in named.items():
        if not isinstance(t, torch.Tensor):
            raise ValueError(f"{k} must be a tensor, got {type(t).__name__}")
    index = ("reservoir_.W_crow", "reservoir_.W_col")
    for k in index:
        if k in named and named[k].dtype != torch.int64:
            raise ValueError(f"{k} must be int64, got {named[k].dtype}")
    floats = {k: t.dtype for k, t in named.items() if k not in index}
    if len(set(floats.values())) > 1 or next(iter(floats.values())) not in (torch.float32, torch.float64):
        raise ValueError("the floating tensors must all be float32 or all float64, got "
                         + ", ".join(f"{k} {str(v).replace('torch.', '')}" for k, v in floats.items()))


def check_range_and_scaling(tensors: dict[str, Any], extra: dict[str, Any], d_in: int,
                            d_out: int) -> dict[str, torch.Tensor]:
    """The training range ``target_range_`` (2, d_out) and, when the extra state says ``scaled``,
    the standardisation buffers, checked; returned by name (those present)."""
    named = {}
    rng = tensors.get("target_range_")
    if rng is not None:
        if not isinstance(rng, torch.Tensor) or tuple(rng.shape) != (2, d_out) or not rng.is_floating_point():
            raise ValueError(f"target_range_ must be a floating tensor of shape (2, {d_out})")
        require_finite(rng, "target_range_", "a model's training range must be finite")
        if bool((rng[0] > rng[1]).any()):
            raise ValueError("target_range_ must hold each output's minimum, then its maximum")
        named["target_range_"] = rng
    scaled = extra.get("scaled", False)
    if type(scaled) is not bool:
        raise ValueError(f"the extra state's scaled must be true or false, got {scaled!r}")
    widths = {"input_mean_": d_in, "input_scale_": d_in, "target_mean_": d_out, "target_scale_": d_out}
    for name, width in widths.items():
        t = tensors.get(name)
        if not scaled or (width == d_in and d_in == 0 and t is None):
            if t is not None:
                raise ValueError(f"the state dict holds {name} but its extra state's scaled is false")
            continue
        if not isinstance(t, torch.Tensor) or not t.is_floating_point() or tuple(t.shape) != (width,):
            got = tuple(t.shape) if isinstance(t, torch.Tensor) else type(t).__name__
            raise ValueError(f"{name} must be a floating tensor of shape ({width},), got {got}")
        require_finite(t, name, "a model's standardisation must be finite")
        if name.endswith("scale_") and not bool((t > 0).all()):
            raise ValueError(f"{name} must be positive: it divides the data")
        named[name] = t
    return named
