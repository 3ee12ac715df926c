"""The features of next-generation reservoir computing (an NVAR: a nonlinear vector autoregression).

Gauthier, Bollt, Griffith and Barbosa, "Next generation reservoir computing", Nat. Commun. 12, 5564
(2021). At step t, with k delays of skip s and monomials up to order p::

    O_lin[t]    = [u[t]; u[t-s]; ...; u[t-(k-1)s]]                      (L = k D values)
    O_nonlin[t] = the unique monomials of O_lin[t]'s entries of orders 2..p
    z[t]        = [1; O_lin[t]; O_nonlin[t]]

The monomials of one order q are ordered as ``itertools.combinations_with_replacement(range(L), q)``
lists their index tuples (``i1 ≤ i2 ≤ ... ≤ iq``), the orders one after another; the constant is
optional. :class:`DelayMonomials` is a :class:`~esnkit.readout.FeatureMap` whose "states" are the
delay line's linear part ``O_lin`` (``state_size = L``), plus :meth:`DelayMonomials.linear`, which
builds ``O_lin`` for a chunk of inputs from the delay line carried over from the previous chunk, so
a series of any length is featurised chunk by chunk.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import torch

from .. import _alloc


def monomial_count(linear_size: int, order: int) -> int:
    """The number of unique monomials of orders 2..``order`` in ``linear_size`` variables."""
    return sum(math.comb(linear_size + q - 1, q) for q in range(2, order + 1))


class DelayMonomials:
    """``z[t] = [1; O_lin[t]; O_nonlin[t]]`` of ``delays`` delayed copies of the input, ``skip`` steps
    apart, and their monomials of orders 2..``order`` (``order=1``: the linear part alone).

    The delay line an NVAR carries between chunks (and calls) is its last :attr:`history` =
    ``(delays - 1) * skip`` inputs, ``(batch, history, D)``, oldest first; before any input it is zeros.
    """

    def __init__(self, delays: int = 2, skip: int = 1, order: int = 2, bias: bool = True) -> None:
        for name, v in (("delays", delays), ("skip", skip), ("order", order)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be a positive integer, got {v!r}")
        self.delays, self.skip, self.order, self.bias = delays, skip, order, bool(bias)
        self._index: dict[tuple[int, str], list[torch.Tensor]] = {}

    @property
    def history(self) -> int:
        """How many past inputs the delay line holds: ``(delays - 1) * skip``."""
        return (self.delays - 1) * self.skip

    def size(self, state_size: int, input_size: int = 0) -> int:
        """Features F for a linear part of ``state_size`` = L values (``input_size`` is not used: the
        inputs enter through the linear part). See :meth:`size_for` for F from the input width."""
        return int(self.bias) + state_size + monomial_count(state_size, self.order)

    def size_for(self, input_size: int) -> int:
        """Features F for inputs of ``input_size`` features."""
        return self.size(self.delays * input_size)

    def linear(self, u: torch.Tensor, history: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """``O_lin`` (B, n, k D) of a chunk of inputs ``u`` (B, n, D) following the delay line
        ``history`` (B, (k-1) s, D), oldest first (None: zeros), and the delay line after the chunk."""
        B, n, D = u.shape
        h = self.history
        if history is None:
            history = torch.zeros(B, h, D, dtype=u.dtype, device=u.device)
        if tuple(history.shape) != (B, h, D):
            raise ValueError(f"history must have shape {(B, h, D)} (batch, (delays - 1) * skip, features), "
                             f"got {tuple(history.shape)}")
        ext = torch.cat([history.to(u.dtype), u], dim=1) if h else u
        lin = torch.cat([ext[:, h - j * self.skip: h - j * self.skip + n] for j in range(self.delays)], dim=-1)
        return lin, ext[:, ext.shape[1] - h:]

    def _indices(self, L: int, device: torch.device) -> list[torch.Tensor]:
        """Per order 2..p, the (q, M_q) index tensor of its monomials' factors."""
        key = (L, str(device))
        if key not in self._index:
            self._index[key] = [
                torch.tensor(list(itertools.combinations_with_replacement(range(L), q)), dtype=torch.int64,
                             device=device).T.contiguous()
                for q in range(2, self.order + 1)]
        return self._index[key]

    def __call__(self, x: torch.Tensor, u: torch.Tensor | None = None) -> torch.Tensor:
        """Features (..., F) of the linear part ``x`` = ``O_lin`` (..., L); ``u`` is not used."""
        L = x.shape[-1]
        shape = (*x.shape[:-1], self.size(L))
        # a closed loop featurises one step at a time: the small case skips _alloc's size arithmetic
        z = torch.empty(shape, dtype=x.dtype, device=x.device) if x.dim() == 2 else _alloc.empty(shape, x.dtype,
                                                                                                 x.device)
        i = 0
        if self.bias:
            z[..., 0] = 1.0
            i = 1
        z[..., i:i + L] = x
        i += L
        for idx in self._indices(L, x.device):
            # the factors multiplied left to right, (x[i1] x[i2]) x[i3] ..., as NumPy's prod does
            block = z[..., i:i + idx.shape[1]]
            block.copy_(x.index_select(-1, idx[0]))
            for row in idx[1:]:
                block.mul_(x.index_select(-1, row))
            i += idx.shape[1]
        return z

    def features_numpy(self, x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """:meth:`__call__` on a NumPy array ``x`` (B, L), into ``out`` (B, F) when given: the same
        features, the same bits. A closed loop featurises one step at a time, where NumPy's per-call
        cost is a fraction of PyTorch's."""
        L = x.shape[-1]
        z = np.empty((x.shape[0], self.size(L)), dtype=x.dtype) if out is None else out
        i = 0
        if self.bias:
            z[:, 0] = 1.0
            i = 1
        z[:, i:i + L] = x
        i += L
        for idx in self._indices(L, torch.device("cpu")):
            rows = idx.numpy()
            block = z[:, i:i + rows.shape[1]]
            np.multiply(x[:, rows[0]], x[:, rows[1]], out=block)
            for row in rows[2:]:
                block *= x[:, row]
            i += rows.shape[1]
        return z

    def __repr__(self) -> str:
        return f"DelayMonomials(delays={self.delays}, skip={self.skip}, order={self.order}, bias={self.bias})"
