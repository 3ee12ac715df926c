"""The trained readout module ``y = W_out z``, linear in the features ``z`` (``[1; u; x]`` by default,
or those of a :class:`~esnkit.readout.FeatureMap`)."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn


class Readout(nn.Module):
    """Readout ``y = W_out z`` with the weight as a buffer of shape ``(D_out, F)``: ``z = [1; u; x]``
    (the constant and the inputs as ``use_bias`` and ``use_input`` say), or ``z = feature_map(x, u)``
    for another :class:`~esnkit.readout.FeatureMap`. Only the first (:attr:`linear`) runs inside the
    time loop."""

    def __init__(self, weight: torch.Tensor, *, input_size: int, use_bias: bool, use_input: bool,
                 feature_map: Any = None) -> None:
        super().__init__()
        if feature_map is not None and getattr(feature_map, "linear", False):
            feature_map = None  # [1; u; x] itself: the loop's term-by-term path
        self.feature_map = feature_map
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
        """Whether ``z = [1; u; x]``, so that the time loop can run this readout."""
        return self.feature_map is None

    @property
    def output_size(self) -> int:
        return self.weight.shape[0]

    def parts(self) -> tuple[torch.Tensor | None, torch.Tensor | None, torch.Tensor]:
        """``(bias (D,), W_u (D, D_in), W_x (D, N))`` views of the weight; absent parts are None."""
        i = 0
        bias = w_in = None
        if self.use_bias:
            bias, i = self.weight[:, 0], 1
        if self.use_input and self.input_size:
            w_in, i = self.weight[:, i : i + self.input_size], i + self.input_size
        return bias, w_in, self.weight[:, i:]

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
        if w_in is not None:
            if u is None or u.shape[-1] != self.input_size or u.shape[:-1] != x.shape[:-1]:
                got = "none" if u is None else tuple(u.shape)
                raise ValueError(f"this readout also reads the inputs: give u (..., {self.input_size}) with the "
                                 f"leading shape of x {tuple(x.shape[:-1])}, got {got}")
            y += u.to(x.dtype) @ w_in.T
        if bias is not None:
            y += bias
        return y
