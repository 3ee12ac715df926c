"""Feature maps: what the readout sees of the reservoir states and the inputs.

A :class:`FeatureMap` turns states ``x`` (..., N) and inputs ``u`` (..., D_in) into the readout's
features ``z`` (..., F); the readout is linear in ``z``. The default is :class:`StateInputs`,
``z = [1; u; x]``; its ``squares`` option gives the named maps of :data:`FEATURE_MAPS`:

- ``"linear"``: ``z = [1; u; x]``;
- ``"squared"``: ``z = [1; u; x~]`` with ``x~_i = x_i^2`` for every second neuron (i = 1, 3, 5, ...
  counting from 0) and ``x~_i = x_i`` otherwise (Lu et al. 2017; Pathak et al. 2018): it breaks the
  ``x -> -x`` symmetry of a tanh reservoir without bias, which a linear readout of odd features
  cannot;
- ``"quadratic"``: ``z = [1; u; x; x^2]``, every neuron and its square.

Adding one takes two methods (see docs/architecture.md for a worked example)::

    class SquaredStates:                     # z = [1; x; x²]
        def size(self, state_size, input_size):
            return 1 + 2 * state_size
        def __call__(self, x, u):
            return torch.cat([torch.ones_like(x[..., :1]), x, x * x], dim=-1)

A map may also offer ``buffer(batch, steps, state_size, input_size, dtype, device)`` returning a
:class:`FeatureBuffer`-like object (or None), so that the time loop writes states straight into its rows.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import torch

from .. import _alloc
from ..params import FEATURES


def feature_size(state_size: int, input_size: int, use_bias: bool, use_input: bool) -> int:
    return int(use_bias) + (input_size if use_input else 0) + state_size


def features(x: torch.Tensor, u: torch.Tensor | None, use_bias: bool, use_input: bool) -> torch.Tensor:
    """``z = [1; u; x]`` along the last axis, for any leading shape."""
    parts = []
    if use_bias:
        parts.append(torch.ones(*x.shape[:-1], 1, dtype=x.dtype, device=x.device))
    if use_input and u is not None:
        parts.append(u.to(x.dtype))
    parts.append(x)
    return torch.cat(parts, dim=-1) if len(parts) > 1 else x


@runtime_checkable
class FeatureMap(Protocol):
    """States and inputs -> readout features."""

    def size(self, state_size: int, input_size: int) -> int:
        """The number of features F for ``state_size`` states and ``input_size`` inputs."""
        ...

    def __call__(self, x: torch.Tensor, u: torch.Tensor | None) -> torch.Tensor:
        """Features (..., F) of states ``x`` (..., N) and inputs ``u`` (..., D_in) or None."""
        ...


# The named feature maps: ESN(features=name). Each is StateInputs with this ``squares`` option.
FEATURE_MAPS = FEATURES
SQUARES = (None, "half", "all")


def squared_states(x: torch.Tensor, squares: str | None) -> torch.Tensor:
    """The state block of the readout features: ``x`` itself (None), ``x`` with every second neuron
    squared (``"half"``: neurons 1, 3, 5, ...), or ``[x; x^2]`` (``"all"``), along the last axis."""
    if squares is None:
        return x
    if squares == "all":
        return torch.cat([x, x * x], dim=-1)
    out = x.clone()
    odd = out[..., 1::2]
    odd.mul_(odd)
    return out


class StateInputs:
    """The readout features ``z = [1; u; s(x)]``: the constant (``bias``) and the inputs (``inputs``)
    are optional; the state block ``s(x)`` comes last, so a readout's weight splits into
    ``(bias, W_u, W_x)`` column blocks. ``squares``: None (``s(x) = x``, the classic readout),
    ``"half"`` (every second neuron squared) or ``"all"`` (``s(x) = [x; x^2]``); see
    :func:`squared_states`. Only the linear one can run inside the native time loop."""

    def __init__(self, bias: bool = True, inputs: bool = True, squares: str | None = None) -> None:
        if squares not in SQUARES:
            raise ValueError(f"squares must be one of {SQUARES}, got {squares!r}")
        self.bias = bias
        self.inputs = inputs
        self.squares = squares

    @classmethod
    def named(cls, name: str, bias: bool = True, inputs: bool = True) -> StateInputs:
        """The map of a name of :data:`FEATURE_MAPS`."""
        if name not in FEATURE_MAPS:
            raise ValueError(f"features must be one of {tuple(FEATURE_MAPS)} or a FeatureMap object, got {name!r}")
        return cls(bias, inputs, FEATURE_MAPS[name])

    @property
    def linear(self) -> bool:
        """Whether the features are the states themselves (a readout the time loop can run)."""
        return self.squares is None

    def size(self, state_size: int, input_size: int) -> int:
        extra = state_size if self.squares == "all" else 0
        return feature_size(state_size, input_size, self.bias, self.inputs) + extra

    def __call__(self, x: torch.Tensor, u: torch.Tensor | None) -> torch.Tensor:
        return features(squared_states(x, self.squares), u, self.bias, self.inputs)

    def buffer(self, batch: int, steps: int, state_size: int, input_size: int, dtype: torch.dtype,
               device: torch.device | str = "cpu") -> FeatureBuffer | None:
        # None with squares: they are computed from the states, which the loop still reads after
        # writing them, so the loop cannot write into the feature rows.
        if self.squares is not None:
            return None
        return FeatureBuffer(batch, steps, state_size, input_size, self.bias, self.inputs, dtype, device)

    def __repr__(self) -> str:
        sq = "" if self.squares is None else f", squares={self.squares!r}"
        return f"StateInputs(bias={self.bias}, inputs={self.inputs}{sq})"


class FeatureBuffer:
    """Reusable feature rows ``z = [1; u; x]`` for chunks of up to ``steps`` steps of ``batch`` sequences.

    The time loop writes states straight into the state columns (:meth:`states` is passed to
    ``unroll(states_out=...)``), so a fit gets its features without concatenating or copying the
    states, and without allocating a buffer per chunk.
    """

    def __init__(self, batch: int, steps: int, state_size: int, input_size: int, use_bias: bool,
                 use_input: bool, dtype: torch.dtype, device: torch.device | str = "cpu") -> None:
        self.n_features = feature_size(state_size, input_size, use_bias, use_input)
        self._buf = _alloc.empty((batch, steps, self.n_features), dtype, device)
        if use_bias:
            self._buf[..., 0] = 1.0
        self._inputs = slice(int(use_bias), int(use_bias) + input_size) if use_input and input_size else None
        self._states = self.n_features - state_size

    def states(self, steps: int) -> torch.Tensor:
        """The state columns of the first ``steps`` steps: a (batch, steps, N) view to fill."""
        return self._buf[:, :steps, self._states:]

    def fill(self, steps: int, u: torch.Tensor | None) -> torch.Tensor:
        """The features (batch, steps, F) of the first ``steps`` steps, once the loop has written
        their states: ``u`` (batch, steps, D_in) fills the input columns. A view of the buffer."""
        z = self._buf[:, :steps]
        if self._inputs is not None:
            z[..., self._inputs] = u
        return z


def kept_rows(t: torch.Tensor, keep: slice | torch.Tensor) -> torch.Tensor:
    """The rows of ``t`` (B, n, F) that ``keep`` selects, sequence by sequence: (rows, F).

    ``keep`` is a slice ``lo:n`` (the same steps of every sequence) or a (B, n) mask. A view,
    not a copy, when every step is kept, or for one sequence when the dropped steps are a prefix
    (its washout).
    """
    if isinstance(keep, slice):
        return t[:, keep].reshape(-1, t.shape[-1])
    mask = keep
    B, n = mask.shape
    if bool(mask.all()):
        return t.reshape(B * n, t.shape[-1])
    if B == 1:
        k = int(mask.sum())
        if bool(mask[0, n - k:].all()):
            return t[0, n - k:]
    return t[mask]
