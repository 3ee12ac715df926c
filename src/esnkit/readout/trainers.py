"""Trainers: streaming statistics of the readout's regression, solved into weights.

``y[t] = W_out z[t]`` with features ``z[t] = [1; u[t]; x[t]]`` (the constant and the input are
optional). ``W_out`` has shape ``(D_out, F)`` and minimises, over the harvested steps,

    sum_t ||W_out z[t] - y_target[t]||^2 + ridge * ||W_out||_F^2

(every feature, the constant included, is regularised), whose normal equations are
``W_out (G + ridge I) = C^T`` with ``G = sum z z^T`` and ``C = sum z y^T``. ``G`` and ``C`` are
accumulated in float64 chunk by chunk, so memory does not grow with the series length.
"""

from __future__ import annotations

import torch

from .. import _alloc
from .linalg import Solver, _add_lower_gram, _from_lower, solve_normal_equations


class NormalEquations:
    """Streaming float64 accumulation of ``G = Z^T Z`` and ``C = Z^T Y`` (rows of Z are features z[t]).

    On the CPU ``G`` is updated with BLAS's symmetric rank-k update (``dsyrk``, one triangle, half
    the flops of a general product); elsewhere with ``addmm``. Memory is O(F^2) whatever the
    number of rows.
    """

    def __init__(self, n_features: int, n_outputs: int, device: torch.device | str = "cpu") -> None:
        self._G = _alloc.zeros((n_features, n_features), torch.float64, device)
        self.C = torch.zeros(n_features, n_outputs, dtype=torch.float64, device=device)
        self.count = 0
        self._one_triangle = self._G.device.type == "cpu"

    def update(self, Z: torch.Tensor, Y: torch.Tensor) -> None:
        """Add rows ``Z`` (M, F) and targets ``Y`` (M, D); float32 rows are promoted before the product."""
        Z = Z.to(torch.float64)
        if self._one_triangle:
            _add_lower_gram(self._G, Z)
        else:
            self._G.addmm_(Z.T, Z)
        self.C.addmm_(Z.T, Y.to(torch.float64))
        self.count += Z.shape[0]

    @property
    def G(self) -> torch.Tensor:
        """The full symmetric Gram matrix ``Z^T Z`` (F, F), float64 (a copy on the CPU)."""
        if not self._one_triangle:
            return self._G
        return _from_lower(self._G)

    def solve(self, ridge: float, solver: Solver = "auto") -> torch.Tensor:
        """Readout weights ``(D, F)``, as :func:`solve_normal_equations` but from the accumulated
        triangle itself: no symmetric copy of ``G`` is made."""
        return solve_normal_equations(self._G, self.C, ridge, solver)
