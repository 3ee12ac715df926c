"""The trained linear readout and its closed-form solvers.

``y[t] = W_out z[t]`` with features ``z[t] = [1; u[t]; x[t]]`` (the constant and the input are
optional). ``W_out`` has shape ``(D_out, F)`` and minimises, over the harvested steps,

    sum_t ||W_out z[t] - y_target[t]||^2 + ridge * ||W_out||_F^2

(every feature, the constant included, is regularised), whose normal equations are
``W_out (G + ridge I) = C^T`` with ``G = sum z z^T`` and ``C = sum z y^T``. ``G`` and ``C`` are
accumulated in float64 chunk by chunk, so memory does not grow with the series length.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch
from scipy.linalg.blas import dsyrk
from scipy.linalg.lapack import dpotrf, dpotrs, dsyevd
from torch import nn

from . import _alloc
from .errors import NonFiniteStateError

Solver = Literal["auto", "cholesky", "pinv", "lstsq"]
SOLVERS = ("auto", "cholesky", "pinv", "lstsq")


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
    if not all(_all_finite(t) for t in tensors):
        raise NonFiniteStateError(
            "the readout's regression overflowed (features or targets too large even for float64): "
            "rescale the inputs and targets, or lower input_scaling"
        )


def _all_finite(t: torch.Tensor) -> bool:
    # NumPy for CPU tensors: half the fixed cost of torch's isfinite-all, which a small readout notices
    if t.device.type == "cpu" and t.dtype in (torch.float32, torch.float64) and not t.requires_grad:
        return bool(np.isfinite(t.numpy()).all())
    return bool(torch.isfinite(t).all())


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


class Readout(nn.Module):
    """Linear readout ``y = W_out [1; u; x]`` with the weight as a buffer of shape ``(D_out, F)``."""

    def __init__(self, weight: torch.Tensor, *, input_size: int, use_bias: bool, use_input: bool) -> None:
        super().__init__()
        # A fresh allocation (64-byte aligned): BLAS may sum in a different order for differently
        # aligned operands, and the W_x view's alignment follows the weight's. A weight that is a
        # view of the solver's output, or sits at an arbitrary offset in a loaded file, would
        # otherwise predict differently in the last bits from the same numbers.
        self.register_buffer("weight", weight.detach().clone(memory_format=torch.contiguous_format))
        self.input_size = input_size
        self.use_bias = use_bias
        self.use_input = use_input

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
