"""Feature maps: what the readout sees of the reservoir states and the inputs.

A :class:`FeatureMap` turns states ``x`` (..., N) and inputs ``u`` (..., D_in) into the readout's
features ``z`` (..., F); the readout is linear in ``z``. The default is :class:`StateInputs`,
``z = [1; u; x]``; its ``squares`` option gives the named maps of :data:`FEATURE_MAPS`:

- ``"linear"``: ``z = [1; u; x]``;
- ``"squared"``: ``z = [1; u; x~]`` with ``x~_i = x_i^2`` for every second neuron (i = 1, 3, 5, ...
  counting from 0) and ``x~_i = x_i`` otherwise (Lu et al. 2017; Pathak et al. 2018): it breaks the
  ``x -> -x`` symmetry of a tanh reservoir without bias, which a linear readout of odd features
  cannot;
- ``"quadratic"``: ``z = [1; u; x; x^2]``, every neuron and its square;
- with ``"+delays:k"`` (``"+input_delays:k"``, ``"+skip:s"``): also the states (inputs) of the k
  steps ``s, 2s, ..., ks`` before, ``z[t] = [1; u[t]; u[t-s]; ...; s(x[t]); x[t-s]; ...]``.

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
from ..params import FEATURES, parse_features


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

    def __init__(self, bias: bool = True, inputs: bool = True, squares: str | None = None, *,
                 state_delays: int = 0, input_delays: int = 0, skip: int = 1) -> None:
        if squares not in SQUARES:
            raise ValueError(f"squares must be one of {SQUARES}, got {squares!r}")
        for name, v, least in (("state_delays", state_delays, 0), ("input_delays", input_delays, 0),
                               ("skip", skip, 1)):
            if isinstance(v, bool) or not isinstance(v, int) or v < least:
                raise ValueError(f"{name} must be an integer ≥ {least}, got {v!r}")
        self.bias = bias
        self.inputs = inputs
        self.squares = squares
        self.state_delays, self.input_delays, self.skip = state_delays, input_delays, skip

    @classmethod
    def named(cls, name: str, bias: bool = True, inputs: bool = True) -> StateInputs:
        """The map of a feature-map name (see :func:`esnkit.params.parse_features`)."""
        return cls(bias, inputs, **parse_features(name))

    @property
    def lags(self) -> int:
        """How many steps before the current one the features read (0: none)."""
        return self.skip * max(self.state_delays, self.input_delays if self.inputs else 0)

    @property
    def linear(self) -> bool:
        """Whether the features are the states themselves (a readout the time loop can run)."""
        return self.squares is None and self.lags == 0

    def size(self, state_size: int, input_size: int) -> int:
        extra = state_size if self.squares == "all" else 0
        extra += self.state_delays * state_size + (self.input_delays * input_size if self.inputs else 0)
        return feature_size(state_size, input_size, self.bias, self.inputs) + extra

    def __call__(self, x: torch.Tensor, u: torch.Tensor | None) -> torch.Tensor:
        if self.lags:
            raise ValueError("this feature map reads delayed states or inputs: use window(x, u, x_before, u_before)")
        return features(squared_states(x, self.squares), u, self.bias, self.inputs)

    def window(self, x: torch.Tensor, u: torch.Tensor | None, x_before: torch.Tensor,
               u_before: torch.Tensor | None) -> torch.Tensor:
        """Features (B, n, F) of the states ``x`` (B, n, N) and inputs ``u`` (B, n, D_in) of n steps,
        given the :attr:`lags` steps before them, ``x_before`` (B, lags, N) and ``u_before``
        (B, lags, D_in), oldest first."""
        L, n = self.lags, x.shape[1]
        use_u = self.inputs and u is not None and u.shape[-1] > 0
        parts = [squared_states(x, self.squares)]
        if self.state_delays:
            xe = torch.cat([x_before, x], dim=1)
            parts += [xe[:, L - d * self.skip: L - d * self.skip + n] for d in range(1, self.state_delays + 1)]
        z = torch.cat(parts, dim=-1) if len(parts) > 1 else parts[0]
        lead = []
        if self.bias:
            lead.append(torch.ones(*x.shape[:-1], 1, dtype=x.dtype, device=x.device))
        if use_u:
            u = u.to(x.dtype)
            lead.append(u)
            if self.input_delays:
                ue = torch.cat([u_before.to(x.dtype), u], dim=1)
                lead += [ue[:, L - d * self.skip: L - d * self.skip + n] for d in range(1, self.input_delays + 1)]
        return torch.cat([*lead, z], dim=-1) if lead else z

    def buffer(self, batch: int, steps: int, state_size: int, input_size: int, dtype: torch.dtype,
               device: torch.device | str = "cpu") -> FeatureBuffer | None:
        # None with squares: they are computed from the states, which the loop still reads after
        # writing them, so the loop cannot write into the feature rows.
        if not self.linear:
            return None
        return FeatureBuffer(batch, steps, state_size, input_size, self.bias, self.inputs, dtype, device)

    def __repr__(self) -> str:
        sq = "" if self.squares is None else f", squares={self.squares!r}"
        for k, default in (("state_delays", 0), ("input_delays", 0), ("skip", 1)):
            if getattr(self, k) != default:
                sq += f", {k}={getattr(self, k)}"
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
