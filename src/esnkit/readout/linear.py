"""The trained readout module ``y = W_out z``, linear in the features ``z`` (``[1; u; x]`` by default,
with squared states, or those of any :class:`~esnkit.readout.FeatureMap`)."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn


class Readout(nn.Module):
    """Readout ``y = W_out z`` with the weight as a buffer of shape ``(D_out, F)``.

    ``z = [1; u; s(x)]`` (the constant and the inputs as ``use_bias`` and ``use_input`` say) where
    the state block ``s(x)`` is ``x``, or squared states (``squares``: ``"half"``, every second
    neuron squared, or ``"all"``, ``[x; x^2]``); those are written ``y = b + W_u u + W_x x + W_q
    (x * x)`` (:meth:`parts`, :meth:`squares_weight`), which the time loop runs inside its steps.
    ``feature_map``: ``z = feature_map(x, u)`` for any other :class:`~esnkit.readout.FeatureMap`
    (a :class:`~esnkit.readout.StateInputs` is taken as its ``squares``), which the loop cannot run.
    """

    def __init__(self, weight: torch.Tensor, *, input_size: int, use_bias: bool, use_input: bool,
                 squares: str | None = None, feature_map: Any = None) -> None:
        super().__init__()
        if (feature_map is not None and hasattr(feature_map, "squares") and hasattr(feature_map, "bias")
                and not getattr(feature_map, "lags", 0)):
            # [1; u; s(x)], which the loop runs: the map says which of the constant and the inputs it reads
            squares, use_bias = feature_map.squares, bool(feature_map.bias)
            use_input, feature_map = bool(feature_map.inputs) and input_size > 0, None
        if squares not in (None, "half", "all"):
            raise ValueError(f"squares must be None, 'half' or 'all', got {squares!r}")
        self.feature_map = feature_map
        self.squares = squares
        # A fresh allocation (64-byte aligned): BLAS may sum in a different order for differently
        # aligned operands, and the W_x view's alignment follows the weight's. A weight that is a
        # view of the solver's output, or sits at an arbitrary offset in a loaded file, would
        # otherwise predict differently in the last bits from the same numbers.
        self.register_buffer("weight", weight.detach().clone(memory_format=torch.contiguous_format))
        self.input_size = input_size
        self.use_bias = use_bias
        self.use_input = use_input

    @property
    def linear(self) -> bool:
        """Whether ``z = [1; u; x]``."""
        return self.feature_map is None and self.squares is None

    @property
    def loop_ready(self) -> bool:
        """Whether the time loop can run this readout inside its steps (any but a ``feature_map``)."""
        return self.feature_map is None

    @property
    def output_size(self) -> int:
        return self.weight.shape[0]

    def _state_start(self) -> int:
        return int(self.use_bias) + (self.input_size if self.use_input else 0)

    def state_weight(self) -> torch.Tensor:
        """The columns of the state block ``s(x)``: (D, N), or (D, 2N) with ``squares="all"``."""
        return self.weight[:, self._state_start():]

    def parts(self) -> tuple[torch.Tensor | None, torch.Tensor | None, torch.Tensor]:
        """``(bias (D,), W_u (D, D_in), W_x (D, N))``, absent parts None: views of the weight, except
        that with ``squares="half"`` ``W_x`` is a copy with the squared neurons' columns zero."""
        i = 0
        bias = w_in = None
        if self.use_bias:
            bias, i = self.weight[:, 0], 1
        if self.use_input and self.input_size:
            w_in, i = self.weight[:, i : i + self.input_size], i + self.input_size
        w_x = self.weight[:, i:]
        if self.squares == "all":
            w_x = w_x[:, : w_x.shape[1] // 2]
        elif self.squares == "half":
            w_x = w_x.clone()
            w_x[:, 1::2] = 0
        return bias, w_in, w_x

    def squares_weight(self) -> torch.Tensor | None:
        """``W_q`` (D, N), the weights of the squared states ``x * x`` (zero on the neurons not
        squared), or None for a readout without squares."""
        if self.squares is None:
            return None
        w = self.state_weight()
        if self.squares == "all":
            return w[:, w.shape[1] // 2 :]
        w_q = torch.zeros_like(w)
        w_q[:, 1::2] = w[:, 1::2]
        return w_q

    @property
    def lags(self) -> int:
        """How many steps before the current one the features read (0: none; see :meth:`window`)."""
        return getattr(self.feature_map, "lags", 0) if self.feature_map is not None else 0

    def window(self, x: torch.Tensor, u: torch.Tensor | None, x_before: torch.Tensor,
               u_before: torch.Tensor | None) -> torch.Tensor:
        """Outputs (B, n, D_out) of n steps ``x`` (B, n, N), ``u`` (B, n, D_in), for features that read
        the :attr:`lags` steps before them, ``x_before`` (B, lags, N) and ``u_before``."""
        z = self.feature_map.window(x, u, x_before, u_before)
        if z.shape[-1] != self.weight.shape[1]:
            raise ValueError(f"the feature map gives {z.shape[-1]} features, but this readout reads "
                             f"{self.weight.shape[1]}")
        return z @ self.weight.T

    def forward(self, x: torch.Tensor, u: torch.Tensor | None = None) -> torch.Tensor:
        """``x`` (..., N), ``u`` (..., D_in) -> ``y`` (..., D_out)."""
        if self.feature_map is not None:
            z = self.feature_map(x, u)
            if z.shape[-1] != self.weight.shape[1]:
                raise ValueError(f"the feature map gives {z.shape[-1]} features of states {tuple(x.shape)}, "
                                 f"but this readout reads {self.weight.shape[1]}")
            return z @ self.weight.T
        # term by term from views of the weight: no [1; u; x] copy of the states is built
        bias, w_in, w_x = self.parts()
        if x.shape[-1] != w_x.shape[1]:
            raise ValueError(f"x must have shape (..., {w_x.shape[1]}) (the reservoir states this readout "
                             f"reads), got {tuple(x.shape)}")
        y = x @ w_x.T
        w_q = self.squares_weight()
        if w_q is not None:
            y += (x * x) @ w_q.T
        if w_in is not None:
            if u is None or u.shape[-1] != self.input_size or u.shape[:-1] != x.shape[:-1]:
                got = "none" if u is None else tuple(u.shape)
                raise ValueError(f"this readout also reads the inputs: give u (..., {self.input_size}) with the "
                                 f"leading shape of x {tuple(x.shape[:-1])}, got {got}")
            y += u.to(x.dtype) @ w_in.T
        if bias is not None:
            y += bias
        return y
