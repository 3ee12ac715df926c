"""The reservoir's activation functions, by name or as a callable."""

from __future__ import annotations

from collections.abc import Callable
from typing import Union

import torch

Activation = Union[str, Callable[[torch.Tensor], torch.Tensor]]

ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "tanh": torch.tanh,
    "identity": lambda z: z,
    "relu": torch.relu,
    "sigmoid": torch.sigmoid,
}
# The same functions writing into a given tensor (which may be their argument): the eager step
# puts each new state straight into the states buffer, or overwrites a temporary it owns.
ACTIVATIONS_OUT: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "tanh": lambda z, out: torch.tanh(z, out=out),
    "identity": lambda z, out: z if out is z else out.copy_(z),
    "relu": lambda z, out: torch.clamp_min(z, 0.0, out=out),
    "sigmoid": lambda z, out: torch.sigmoid(z, out=out),
}


def resolve_activation(activation: Activation) -> Callable[[torch.Tensor], torch.Tensor]:
    if callable(activation):
        return activation
    if isinstance(activation, str) and activation in ACTIVATIONS:
        return ACTIVATIONS[activation]
    raise ValueError(
        f"activation must be one of {sorted(ACTIVATIONS)} or an elementwise callable, got {activation!r}"
    )
