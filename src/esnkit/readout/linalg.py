"""The linear algebra of closed-form readouts: symmetric Gram updates, eigendecompositions, and the
solves of the regularised normal equations ``W_out (G + ridge I) = C^T``."""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch
from scipy.linalg.blas import dsyrk
from scipy.linalg.lapack import dpotrf, dpotrs, dsyevd

from .. import _alloc, params
from .._checks import all_finite
from ..errors import NonFiniteStateError

Solver = Literal["auto", "cholesky", "pinv", "lstsq"]
SOLVERS = params.SOLVERS


def _add_lower_gram(G: torch.Tensor, Z: torch.Tensor) -> None:
    """``tril(G) += tril(Z^T Z)`` in place for a CPU float64 ``G`` (F, F) and rows ``Z`` (M, F), by
    BLAS's symmetric rank-k update (``dsyrk``: half the flops of a general product)."""
    Z = Z.contiguous()
    # Fortran views of the C-ordered arrays: Z^T is (F, M), and G's storage read as Fortran is
    # G^T, whose upper triangle is G's lower one.
    g = G.numpy().T
    out = dsyrk(1.0, Z.numpy().T, beta=1.0, c=g, trans=0, lower=0, overwrite_c=1)
    if not np.shares_memory(out, g):  # scipy copied: keep the result all the same
        g[...] = out


def _from_lower(G: torch.Tensor) -> torch.Tensor:
    """The symmetric matrix (..., F, F) whose lower triangle is ``G``'s (the upper is not read)."""
    return torch.tril(G) + torch.tril(G, -1).mT


def gram(Z: torch.Tensor) -> torch.Tensor:
    """The symmetric float64 Gram matrix ``Z^T Z`` (..., F, F) of rows ``Z`` (..., M, F), by
    ``dsyrk`` on the CPU."""
    Z = Z.to(torch.float64)
    if Z.device.type != "cpu" or Z.requires_grad:
        return Z.mT @ Z
    F = Z.shape[-1]
    G = _alloc.zeros((*Z.shape[:-2], F, F), torch.float64, "cpu")
    for g, z in zip(G.view(-1, F, F), Z.reshape(-1, *Z.shape[-2:])):
        _add_lower_gram(g, z)
    return _from_lower(G)


# The size from which SciPy's LAPACK decomposes a CPU float64 Gram matrix faster than PyTorch's
# (see eigh); both read only the lower triangle.
LAPACK_EIGH_FROM = 192


def eigh(G: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Eigenvalues (..., F), ascending, and eigenvectors (..., F, F) of the symmetric ``G`` (..., F, F),
    read from its lower triangle only, as :func:`torch.linalg.eigh`.

    From ``F = 192`` on the CPU in float64 this calls LAPACK's divide-and-conquer ``dsyevd``
    through SciPy, one matrix at a time. On reservoirs' Gram matrices on a 2 vCPU AMD EPYC it ran
    1.2-1.4x as fast as PyTorch's CPU LAPACK at F = 502 and 1002 (24 against 31 ms at 502) and
    1.1x at 202, but 0.75-0.88x at 52 and 102; a search spends a third of each configuration here.
    """
    if G.device.type != "cpu" or G.dtype != torch.float64 or G.requires_grad or G.shape[-1] < LAPACK_EIGH_FROM:
        return torch.linalg.eigh(G)
    F = G.shape[-1]
    flat = G.reshape(-1, F, F)
    values = torch.empty(flat.shape[:-1], dtype=torch.float64)
    vectors = torch.empty_like(flat)
    for k, g in enumerate(flat):
        # Row-major g read column-major is g^T, whose upper triangle is g's lower one; the
        # column-major eigenvectors come back as the rows of vectors[k].T, i.e. its columns.
        w, v, info = dsyevd(g.numpy().T, compute_v=1, lower=0)
        if info != 0:
            raise np.linalg.LinAlgError(f"the symmetric eigensolver did not converge (LAPACK dsyevd info={info})")
        values[k] = torch.from_numpy(w)
        vectors[k] = torch.from_numpy(v)
    return values.reshape(G.shape[:-1]), vectors.reshape(G.shape)


def _eigh_solve(G: torch.Tensor, C: torch.Tensor, ridge: float) -> torch.Tensor:
    s, V = eigh(G)
    s = s.clamp_min(0.0)
    if ridge > 0:
        inv = 1.0 / (s + ridge)
    else:
        # Eigenvalues of G below this carry no information in float64 (they are squared singular
        # values of Z, resolved only to eps * largest): the pseudoinverse drops them.
        cutoff = s.max() * G.shape[0] * torch.finfo(torch.float64).eps
        inv = torch.where(s > cutoff, 1.0 / s.clamp_min(torch.finfo(torch.float64).tiny), torch.zeros_like(s))
    return (V * inv) @ (V.T @ C)


def _check_finite(*tensors: torch.Tensor) -> None:
    if not all(all_finite(t) for t in tensors):
        raise NonFiniteStateError(
            "the readout's regression overflowed (features or targets too large even for float64): "
            "rescale the inputs and targets, or lower input_scaling"
        )


def solve_normal_equations(G: torch.Tensor, C: torch.Tensor, ridge: float, solver: Solver = "auto") -> torch.Tensor:
    """Readout weights ``(D, F)`` from accumulated ``G`` (F, F) and ``C`` (F, D), in float64.

    Only the lower triangle of the symmetric ``G`` is read. ``cholesky`` factors ``G + ridge I``
    and falls back to an eigendecomposition when that is not numerically positive definite;
    ``pinv`` (ridge must be 0) is the minimum-norm least-squares solution through the
    eigendecomposition of ``G``. ``auto`` picks ``cholesky`` for ridge > 0.
    """
    # |G_ij| <= sqrt(G_ii G_jj) for a Gram matrix, so a finite diagonal vouches for the rest.
    _check_finite(G.diagonal(), C)
    if solver == "auto":
        solver = "cholesky" if ridge > 0 else "pinv"
    if solver == "cholesky" and ridge > 0:
        if G.device.type == "cpu":
            # LAPACK directly rather than through cho_factor/cho_solve, whose checks cost more than
            # the factorisation itself for a small reservoir's readout; in place on one copy of G.
            # Row-major G read column-major is G^T, whose upper triangle (all dpotrf/dpotrs read,
            # clean=0 leaves the other alone) is G's lower one.
            A = G.numpy().copy()
            A.flat[:: A.shape[0] + 1] += ridge
            factor, info = dpotrf(A.T, lower=0, overwrite_a=1, clean=0)
            if info == 0:
                solution, info = dpotrs(factor, C.numpy(), lower=0)
                if info == 0:
                    return torch.from_numpy(solution).T
        else:
            A = _from_lower(G)
            A.diagonal().add_(ridge)
            L, info = torch.linalg.cholesky_ex(A)
            if int(info) == 0:
                return torch.cholesky_solve(C, L).T
    return _eigh_solve(G, C, ridge).T


def solve_lstsq(Z: torch.Tensor, Y: torch.Tensor, ridge: float) -> torch.Tensor:
    """Readout weights ``(D, F)`` by least squares on the materialised rows, never forming ``Z^T Z``.

    With ``ridge > 0`` the problem is augmented with ``sqrt(ridge) I`` rows, which is exactly ridge
    regression but with the conditioning of ``Z`` rather than its square.
    """
    Z = Z.to(torch.float64)
    Y = Y.to(torch.float64)
    _check_finite(Z.T @ Z, Y)
    if ridge > 0:
        F = Z.shape[1]
        Z = torch.cat([Z, ridge**0.5 * torch.eye(F, dtype=Z.dtype, device=Z.device)])
        Y = torch.cat([Y, torch.zeros(F, Y.shape[1], dtype=Y.dtype, device=Y.device)])
    if Z.device.type == "cpu":
        return torch.linalg.lstsq(Z, Y, driver="gelsd").solution.T
    # CUDA's lstsq only supports full-rank tall problems; the pseudoinverse covers the rest.
    return (torch.linalg.pinv(Z) @ Y).T
