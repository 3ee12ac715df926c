"""Every ridge solution of a least-squares readout from one eigendecomposition.

For the normal equations ``W (G + λ I) = C^T`` (``G = Z^T Z`` (F, F), ``C = Z^T Y`` (F, D), see
:mod:`esnkit.readout`), one eigendecomposition ``G = V diag(s) V^T`` gives the readout for any λ::

    W(λ)^T = V diag(1 / (s + λ)) V^T C

so a whole path of ridge values costs one O(F^3) factorization plus O(F^2 D) per value, and the
reservoir is never rerun. No inverse is formed; everything is float64. Shapes may carry leading
batch axes (an ensemble of K readouts: ``G`` (K, F, F), ``C`` (K, F, D)); the eigendecompositions
then run as one batch. On a GPU a batch is cheaper solved one λ at a time by Cholesky
(``method="cholesky"``; see :class:`RidgePath`).

Validation errors are computed from materialised validation features (predictions minus targets),
not from a validation Gram matrix: with small λ the weights are large and the Gram form
``w^T G_v w - 2 w^T c_v + y^T y`` loses every significant digit to cancellation.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from .linalg import _check_finite, eigh, gram


def ridge_grid(low: float = 1e-12, high: float = 1.0, num: int = 25) -> np.ndarray:
    """``num`` ridge values spaced evenly in log between ``low`` and ``high`` (both > 0)."""
    if not (np.isfinite(low) and np.isfinite(high) and 0 < low <= high):
        raise ValueError(f"ridge grid needs 0 < low ≤ high, got low={low!r}, high={high!r}")
    if int(num) != num or num < 1:
        raise ValueError(f"ridge grid needs num ≥ 1 values, got {num!r}")
    if num > 1 and low == high:
        raise ValueError(f"ridge grid low == high == {low} cannot hold {num} distinct values")
    return np.logspace(np.log10(low), np.log10(high), int(num))


METHODS = ("eigh", "cholesky")
# On a GPU, one eigendecomposition of a Gram matrix (decomposed one at a time, even in a batch)
# costs about as much as this many Cholesky factorisations of a batch of 8 in one call (on an
# H100: 4.9 against 1.2 ms at F = 502, 11.4 against 3.7 ms at F = 1002). For 25 ridge values
# the two cross over near a batch of 8; larger batches favour Cholesky ever more (4.7x at 48).
GPU_EIGH_PER_CHOLESKY = 4


def cheaper_method(G: torch.Tensor, n_ridges: int) -> str:
    """The :class:`RidgePath` method that costs less for the Gram matrices ``G`` (..., F, F) on
    their device over ``n_ridges`` values: ``"cholesky"`` on a GPU when the batch is large enough
    that ``n_ridges`` batched factorisations undercut its eigendecompositions, else ``"eigh"``.
    """
    batch = math.prod(G.shape[:-2])
    if G.device.type == "cuda" and batch > 1 and GPU_EIGH_PER_CHOLESKY * batch >= n_ridges:
        return "cholesky"
    return "eigh"


def _ridges(ridges, device) -> torch.Tensor:
    r = torch.as_tensor(np.atleast_1d(np.asarray(ridges, dtype=np.float64)), device=device)
    if r.ndim != 1 or r.numel() == 0 or not bool(torch.isfinite(r).all()) or bool((r <= 0).any()):
        raise ValueError(f"ridges must be a non-empty list of finite values > 0, got {ridges!r}")
    return r


# Power iterations for a Gram matrix's largest eigenvalue when no eigendecomposition is at hand:
# enough for the resolution floor, which needs its order of magnitude.
POWER_ITERATIONS = 30


def _floor(s_max: torch.Tensor) -> torch.Tensor:
    return torch.finfo(torch.float64).eps * s_max


def _largest_eigenvalue(apply, n: int, batch: tuple[int, ...], device) -> torch.Tensor:
    """The largest eigenvalue of a symmetric positive semi-definite operator ``apply`` (…, n) ->
    (…, n), by power iteration from a fixed vector (deterministic)."""
    v = torch.full((*batch, n), n ** -0.5, dtype=torch.float64, device=device)
    for _ in range(POWER_ITERATIONS):
        w = apply(v)
        v = w / w.norm(dim=-1, keepdim=True).clamp_min(torch.finfo(torch.float64).tiny)
    return (v * apply(v)).sum(dim=-1)


def resolution_floor(Z: torch.Tensor) -> torch.Tensor:
    """The smallest ridge value float64 resolves for the normal equations of rows ``Z`` (…, M, F):
    ``ε · s_max``, ``s_max`` the largest eigenvalue of ``Z^T Z`` (see :meth:`RidgePath.floor`)."""
    Z = Z.to(torch.float64)
    s = _largest_eigenvalue(lambda v: ((Z @ v[..., None]).mT @ Z)[..., 0, :], Z.shape[-1], Z.shape[:-2], Z.device)
    return _floor(s)


class RidgePath:
    """The ridge-regression path of one (or a batch of) least-squares problems.

    ``G`` (..., F, F) and ``C`` (..., F, D) are the accumulated Gram and cross products. ``yy``
    (..., D), the per-output sum of squared targets, and ``count``, the number of rows, are needed
    only for :meth:`gcv`.

    ``method`` says how the solutions for the ridge values are found:

    - ``"eigh"`` (default): one eigendecomposition of ``G``, then every λ at the cost of a
      matrix product (see the module notes).
    - ``"cholesky"``: one Cholesky factorisation of ``G + λI`` per λ (what
      :func:`~esnkit.readout.solve_normal_equations` does for a single ridge value), each a
      single batched call over the leading axes. On a GPU this is the cheaper way to a batch's
      path: cuSOLVER's batched eigensolver stops at 32 × 32, so torch decomposes larger
      matrices one at a time, while a batch of Cholesky factorisations runs as one call. A λ at
      which a member's ``G + λI`` is not numerically positive definite has no solution this way:
      its weights, predictions and errors are NaN (the eigendecomposition would resolve nothing
      there but rounding). :meth:`residual_ss` and :meth:`gcv` still use the eigendecomposition,
      computed when first needed.
    """

    def __init__(
        self,
        G: torch.Tensor,
        C: torch.Tensor,
        *,
        yy: torch.Tensor | None = None,
        count: int | None = None,
        method: str = "eigh",
    ) -> None:
        if G.shape[-1] != G.shape[-2] or G.shape[:-1] != C.shape[:-1]:
            raise ValueError(f"G must be (..., F, F) and C (..., F, D); got {tuple(G.shape)} and {tuple(C.shape)}")
        if method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {method!r}")
        self.G = G.to(torch.float64)
        self.C = C.to(torch.float64)
        _check_finite(self.G, self.C)
        self.method = method
        self._eig: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None
        if method == "eigh":
            self._eigen()
        self.yy = None if yy is None else yy.to(torch.float64)
        self.count = count

    def _eigen(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(s, V, A)``: eigenvalues and eigenvectors of ``G = V diag(s) V^T``, and ``A = V^T C``."""
        if self._eig is None:
            s, V = eigh(self.G)
            # G is positive semi-definite; eigenvalues a rounding error below zero are zero.
            self._eig = (s.clamp_min(0.0), V, V.mT @ self.C)
        return self._eig

    @property
    def n_features(self) -> int:
        return self.G.shape[-1]

    def floor(self) -> torch.Tensor:
        """The smallest ridge value at which float64 still resolves the normal equations, per
        problem (…,): ``ε · s_max``, with ``ε`` the float64 machine epsilon and ``s_max`` the
        largest eigenvalue of ``G``. Below it the condition number of ``G + λI``, at most
        ``(s_max + λ) / λ``, can exceed ``1/ε``: a backward-stable solve (Cholesky, as a refit's)
        then guarantees no correct digit, and two correct solvers may give unrelated weights. The
        search skips those values."""
        if self._eig is not None:
            s_max = self._eig[0].amax(dim=-1)
        else:
            s_max = _largest_eigenvalue(lambda v: (self.G @ v[..., None])[..., 0], self.n_features,
                                        self.G.shape[:-2], self.G.device)
        return _floor(s_max)

    def __getitem__(self, index) -> RidgePath:
        """The path of the problem(s) at batch ``index``, sharing this path's factorisations."""
        if self.G.ndim < 3:
            raise IndexError("this path holds one problem: only a batched path (G of shape (K, F, F)) has members")
        sub = RidgePath.__new__(RidgePath)
        sub.G, sub.C, sub.method, sub.count = self.G[index], self.C[index], self.method, self.count
        sub._eig = None if self._eig is None else tuple(t[index] for t in self._eig)
        sub.yy = None if self.yy is None else self.yy[index]
        return sub

    def _stacked(self, ridges) -> tuple[torch.Tensor, int]:
        """``W(λ)^T`` for every λ side by side: (..., F, L·D), column ``l·D + d``."""
        r = _ridges(ridges, self.G.device)
        if self.method == "cholesky":
            return self._by_cholesky(r), r.numel()
        s, V, A = self._eigen()
        scaled = A[..., None, :, :] / (s[..., None, :, None] + r[:, None, None])  # (..., L, F, D)
        L, F, D = scaled.shape[-3:]
        # one (F, F) x (F, L·D) product rather than L broadcast copies of V
        flat = scaled.movedim(-3, -2).reshape(*scaled.shape[:-3], F, L * D)
        return V @ flat, L

    def _by_cholesky(self, r: torch.Tensor) -> torch.Tensor:
        eye = torch.eye(self.n_features, dtype=torch.float64, device=self.G.device)
        blocks = []
        for lam in r.cpu().tolist():
            factor, info = torch.linalg.cholesky_ex(self.G + lam * eye)
            solved = torch.cholesky_solve(self.C, factor)
            # info > 0 marks a member whose factorisation broke down: its solution is NaN, not garbage
            blocks.append(solved.masked_fill((info != 0)[..., None, None], float("nan")))
        return torch.cat(blocks, dim=-1)

    def coefficients(self, ridges) -> torch.Tensor:
        """``W(λ)^T`` for every λ: shape (..., L, F, D)."""
        flat, L = self._stacked(ridges)
        return flat.unflatten(-1, (L, -1)).movedim(-2, -3)

    def weights(self, ridges) -> torch.Tensor:
        """Readout weights ``W(λ)`` as :class:`~esnkit.readout.Readout` stores them: (..., L, D, F)."""
        return self.coefficients(ridges).mT

    def predict(self, Z: torch.Tensor, ridges) -> torch.Tensor:
        """Predictions of features ``Z`` (..., M, F) for every λ: (..., L, M, D)."""
        flat, L = self._stacked(ridges)
        out = Z.to(torch.float64) @ flat  # (..., M, L·D)
        return out.unflatten(-1, (L, -1)).movedim(-2, -3)

    def sse(self, Z: torch.Tensor, Y: torch.Tensor, ridges) -> torch.Tensor:
        """Per-output sum of squared errors on rows ``Z`` (..., M, F), targets ``Y`` (..., M, D): (..., L, D)."""
        err = self.predict(Z, ridges) - Y.to(torch.float64)[..., None, :, :]
        return (err * err).sum(dim=-2)

    def residual_ss(self, ridges) -> torch.Tensor:
        """Per-output training residual sum of squares for every λ, in closed form: (..., L, D).

        ``||Y - Z w||^2 = y^T y - sum_i a_i^2 (s_i + 2λ) / (s_i + λ)^2`` with ``a = V^T C``. Every
        term is bounded by ``y^T y``, so the cancellation costs at most ~F·eps relative to it.
        """
        if self.yy is None:
            raise ValueError("residual_ss needs yy (the per-output sum of squared targets)")
        r = _ridges(ridges, self.G.device)
        eigenvalues, _, A = self._eigen()
        s = eigenvalues[..., None, :, None]
        lam = r[:, None, None]
        shrink = (s + 2 * lam) / (s + lam) ** 2
        explained = (A[..., None, :, :] ** 2 * shrink).sum(dim=-2)
        return (self.yy[..., None, :] - explained).clamp_min(0.0)

    def gcv(self, ridges) -> torch.Tensor:
        """Generalised cross-validation score per λ (..., L), averaged over outputs.

        ``GCV(λ) = M · RSS(λ) / (M - tr H(λ))^2`` with ``tr H = sum_i s_i / (s_i + λ)``, the
        rotation-invariant stand-in for leave-one-out error (Golub, Heath & Wahba 1979).
        """
        if self.count is None:
            raise ValueError("gcv needs count (the number of rows the Gram matrix was built from)")
        r = _ridges(ridges, self.G.device)
        s = self._eigen()[0]
        dof = (s[..., None, :] / (s[..., None, :] + r[:, None])).sum(dim=-1)  # (..., L)
        rss = self.residual_ss(ridges).mean(dim=-1)
        m = float(self.count)
        return m * rss / (m - dof) ** 2


def block_folds(n_rows: int, k: int) -> list[slice]:
    """``k`` contiguous blocks covering ``range(n_rows)`` (blocked cross-validation for time series)."""
    if int(k) != k or k < 2:
        raise ValueError(f"folds must be an integer ≥ 2, got {k!r}")
    if n_rows < 2 * k:
        raise ValueError(f"{n_rows} rows are too few for {k} folds (need at least {2 * k})")
    edges = np.linspace(0, n_rows, k + 1).round().astype(int)
    return [slice(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:])]


def kfold_sse(Z: torch.Tensor, Y: torch.Tensor, k: int, ridges, method: str = "eigh") -> torch.Tensor:
    """Blocked k-fold validation: per-output sum of squared errors over all held-out rows, (..., L, D).

    ``Z`` (..., M, F) and ``Y`` (M, D) or (..., M, D) are the rows in time order. Each fold's
    Gram matrix is built once; the training Gram of fold f is ``total − fold f`` (likewise ``C``),
    so the rows are multiplied out once whatever k is, and each fold costs one eigendecomposition
    (``method="cholesky"``: one Cholesky factorisation per ridge value, see :class:`RidgePath`).
    """
    Z = Z.to(torch.float64)
    Y = Y.to(torch.float64)
    if Y.ndim < Z.ndim:
        Y = Y.expand(*Z.shape[:-2], *Y.shape)
    folds = block_folds(Z.shape[-2], k)
    G_f = [gram(Z[..., f, :]) for f in folds]
    C_f = [Z[..., f, :].mT @ Y[..., f, :] for f in folds]
    G, C = sum(G_f), sum(C_f)
    total = None
    for f, Gf, Cf in zip(folds, G_f, C_f):
        sse = RidgePath(G - Gf, C - Cf, method=method).sse(Z[..., f, :], Y[..., f, :], ridges)
        total = sse if total is None else total + sse
    return total
