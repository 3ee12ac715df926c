"""What every executor of the loop shares: the readout it may run inside the loop, and its output buffers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import torch

from .. import _alloc


def _buffers(drive, x0, readout, keep):
    """States and outputs buffers. ``keep``: True for a new states tensor, False for none, or the
    caller's (B, T, N) tensor to fill."""
    B, T, N = drive.shape
    if isinstance(keep, torch.Tensor):
        states = keep
    else:
        states = _alloc.empty((B, T, N), x0.dtype, x0.device) if keep else None
    outputs = (_alloc.empty((B, T, readout.output_size), x0.dtype, x0.device)
               if readout is not None else None)
    return states, outputs


class OutputMap(Protocol):
    """A readout run inside the loop: ``y = bias + W_u u + W_x x (+ W_q (x * x))``, from ``parts()``
    and, where the object has it, ``squares_weight()`` (``W_q`` or None). The loop knows no readout
    class; :class:`esnkit.readout.Readout` is one such object (one whose ``loop_ready`` is true: a
    readout of other features is run between steps by its caller)."""

    input_size: int
    use_input: bool
    use_bias: bool
    weight: torch.Tensor

    @property
    def output_size(self) -> int: ...

    def parts(self) -> tuple[torch.Tensor | None, torch.Tensor | None, torch.Tensor]: ...


@dataclass
class Unrolled:
    """Result of :func:`unroll`. ``states`` (B, T, N) when kept, ``outputs`` (B, T, D) when a readout ran."""

    states: torch.Tensor | None
    outputs: torch.Tensor | None
    x: torch.Tensor
    y: torch.Tensor | None
