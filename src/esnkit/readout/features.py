"""Readout features: ``z = [1; u; x]`` and the reusable buffer the time loop writes states into."""

from __future__ import annotations

import torch

from .. import _alloc


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

    def rows(self, u: torch.Tensor | None, keep: slice | torch.Tensor) -> torch.Tensor:
        """The features (rows, F) of the steps ``keep`` selects (see :func:`kept_rows`), sequence
        by sequence.

        ``u`` (batch, steps, D_in) fills the input columns. See :func:`kept_rows` for when this is
        a view of the buffer.
        """
        z = self._buf[:, : keep.stop if isinstance(keep, slice) else keep.shape[1]]
        if self._inputs is not None:
            z[..., self._inputs] = u
        return kept_rows(z, keep)


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
