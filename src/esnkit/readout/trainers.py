"""Trainers: streaming statistics of the readout's regression, solved into weights.

A :class:`Trainer` is the recipe (``Ridge(ridge, solver)``, ``Lstsq(ridge)``); its ``start(F, D,
device)`` returns a :class:`TrainerFit`, the accumulation of one fit, fed chunk by chunk with
``update(Z, Y)`` (rows of features and targets) and turned into weights ``(D, F)`` by ``solve()``.
The harvest engine drives one per reservoir; a new trainer (an online RLS, say) plugs in by
implementing these three methods.


``y[t] = W_out z[t]`` with features ``z[t] = [1; u[t]; x[t]]`` (the constant and the input are
optional). ``W_out`` has shape ``(D_out, F)`` and minimises, over the harvested steps,

    sum_t ||W_out z[t] - y_target[t]||^2 + ridge * ||W_out||_F^2

(every feature, the constant included, is regularised), whose normal equations are
``W_out (G + ridge I) = C^T`` with ``G = sum z z^T`` and ``C = sum z y^T``. ``G`` and ``C`` are
accumulated in float64 chunk by chunk, so memory does not grow with the series length.
"""

from __future__ import annotations

from typing import Protocol

import torch

from .. import _alloc, params
from .linalg import SOLVERS, Solver, _add_lower_gram, _from_lower, solve_lstsq, solve_normal_equations


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


class TrainerFit(Protocol):
    """One fit's accumulation: rows in, weights out."""

    def update(self, Z: torch.Tensor, Y: torch.Tensor) -> None:
        """Add feature rows ``Z`` (M, F) and their targets ``Y`` (M, D)."""
        ...

    def solve(self) -> torch.Tensor:
        """The readout weights (D, F), float64."""
        ...


class Trainer(Protocol):
    """Streaming statistics -> weights: ``start`` one accumulation per fit."""

    def start(self, n_features: int, n_outputs: int, device: torch.device | str) -> TrainerFit: ...


class _RidgeFit(NormalEquations):
    def __init__(self, n_features: int, n_outputs: int, device, ridge: float, solver: Solver) -> None:
        super().__init__(n_features, n_outputs, device)
        self.ridge, self.solver = ridge, solver

    def solve(self, ridge: float | None = None, solver: Solver | None = None) -> torch.Tensor:
        return super().solve(self.ridge if ridge is None else ridge, self.solver if solver is None else solver)


class Ridge:
    """Ridge regression (``ridge`` = 0: the pseudoinverse) through float64 normal equations
    accumulated chunk by chunk: memory O(F²) whatever the series length. ``solver``: 'auto',
    'cholesky' or 'pinv' (see :func:`~esnkit.readout.solve_normal_equations`)."""

    def __init__(self, ridge: float = 1e-8, solver: Solver = "auto") -> None:
        if solver not in SOLVERS or solver == "lstsq":
            raise ValueError(f"Ridge solves the normal equations: solver must be 'auto', 'cholesky' or 'pinv', "
                             f"got {solver!r} (use Lstsq for least squares on the rows)")
        params.check({"ridge": ridge, "solver": solver})  # a finite ridge >= 0, and pinv only without one
        self.ridge, self.solver = ridge, solver

    def start(self, n_features: int, n_outputs: int, device: torch.device | str = "cpu") -> _RidgeFit:
        return _RidgeFit(n_features, n_outputs, device, self.ridge, self.solver)


class _LstsqFit:
    def __init__(self, ridge: float) -> None:
        self.ridge = ridge
        self.rows_z: list[torch.Tensor] = []
        self.rows_y: list[torch.Tensor] = []

    def update(self, Z: torch.Tensor, Y: torch.Tensor) -> None:
        self.rows_z.append(Z.clone())  # the caller may reuse its buffer for the next chunk
        self.rows_y.append(Y)

    def solve(self) -> torch.Tensor:
        return solve_lstsq(torch.cat(self.rows_z), torch.cat(self.rows_y), self.ridge)


class Lstsq:
    """Least squares on the materialised rows (never forming ``Z^T Z``): better conditioned than the
    normal equations, but memory grows with the series."""

    def __init__(self, ridge: float = 0.0) -> None:
        params.check({"ridge": ridge})
        self.ridge = ridge

    def start(self, n_features: int, n_outputs: int, device: torch.device | str = "cpu") -> _LstsqFit:
        return _LstsqFit(self.ridge)

