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
    if isinstance(activation, type):  # torch.nn.Tanh, float, str: callable, but not a function of a tensor
        hint = f" (pass an instance, {activation.__name__}())" if issubclass(activation, torch.nn.Module) else ""
        raise TypeError(
            f"activation must be one of {sorted(ACTIVATIONS)} or an elementwise function of a tensor such as "
            f"torch.tanh, got the class {activation.__module__}.{activation.__qualname__}{hint}"
        )
    if callable(activation):
        return activation
    if isinstance(activation, str) and activation in ACTIVATIONS:
        return ACTIVATIONS[activation]
    raise ValueError(
        f"activation must be one of {sorted(ACTIVATIONS)} or an elementwise callable, got {activation!r}"
    )


def check_activation(activation: Activation, dtype: torch.dtype = torch.float64) -> None:
    """Resolve ``activation`` and, for a callable, try it on a small tensor of ``dtype``: it must return a
    tensor of the same shape (an elementwise function), or a ``TypeError`` says what it did instead.

    A ``RuntimeError`` of the trial (a module whose weights live on another device or in another
    dtype) is not held against it: the run itself will tell."""
    f = resolve_activation(activation)
    if isinstance(activation, str):
        return
    x = torch.linspace(-2.0, 2.0, 5, dtype=dtype)
    try:
        with torch.no_grad():
            out = f(x)
    except RuntimeError:
        return
    except Exception as exc:
        raise TypeError(
            f"activation {activation!r} must be an elementwise function of a tensor, such as torch.tanh; "
            f"called on a tensor of shape (5,) it raised {type(exc).__name__}: {exc}"
        ) from None
    if not isinstance(out, torch.Tensor) or out.shape != x.shape:
        got = f"a tensor of shape {tuple(out.shape)}" if isinstance(out, torch.Tensor) else type(out).__name__
        raise TypeError(
            f"activation {activation!r} must be an elementwise function of a tensor, such as torch.tanh, "
            f"returning a tensor of its argument's shape; for a tensor of shape (5,) it returned {got}"
        )
