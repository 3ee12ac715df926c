"""Classifier readouts in closed form: ridge regression on one-hot targets over standardised features.

Rows are ``z = [1; f]`` (a constant, then the features ``f``). Their normal equations ``G = Σ w z z^T``
and ``C = Σ w z y^T`` (``y`` the one-hot class indicator, ``w`` a per-row weight: 1, or the class
balance weight) are accumulated as for regression (:class:`~esnkit.readout.NormalEquations`). The
solve then standardises the features without another pass over the rows: with ``m`` and ``s`` the
features' (weighted) mean and standard deviation, which ``G`` holds (``z_0 = 1``), the standardised
rows are ``z' = M z`` with ``M = [[1, 0], [-m/s, diag(1/s)]]``, so ``G' = M G M^T`` and ``C' = M C``.
The centred features decouple the intercept, which is not regularised::

    b' = C'_0 / G'_00,        W'_f (G'_ff + ridge I) = C'_f^T,        W = [b', W'_f] M

``W`` (classes, 1 + F) acts on raw rows, so prediction needs no standardisation: the decision
values are ``d = W z`` and the class is ``argmax d``.

Probabilities are ``softmax(T d)``. ``T`` is fitted by minimising the log-loss of the
leave-one-out decisions of the training rows (closed form for ridge: a row's left-out residual is
its residual over ``1 - h``, ``h`` its leverage), so the temperature is set on predictions the
readout did not train on (:func:`fit_temperature`). ``M`` is never formed: :class:`Standardization`
applies it in O(F²).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import torch

from .linalg import Solver, solve_normal_equations


class Standardization:
    """The features' standardisation ``z' = [1; (f - m) / s]`` of rows ``z = [1; f]``, taken from
    their normal equations ``G`` (``m`` and ``s`` the weighted mean and standard deviation; a
    constant feature keeps ``s = 1``). It is the transform ``M`` of the module docstring, applied
    in O(F²) without forming ``M``."""

    def __init__(self, G: torch.Tensor) -> None:
        G = G.to(torch.float64)
        self._set(G[0], torch.diagonal(G))

    @classmethod
    def from_rows(cls, Z: torch.Tensor) -> Standardization:
        """The standardisation of the normal equations ``G = ZᵀZ`` of rows ``Z`` (n, 1+F) (weighted
        rows: each times the square root of its weight), without forming ``G``: it needs only
        ``G``'s first row and diagonal."""
        Z = Z.to(torch.float64)
        std = cls.__new__(cls)
        std._set(Z[:, 0] @ Z, (Z * Z).sum(dim=0))
        return std

    def _set(self, first_row: torch.Tensor, diagonal: torch.Tensor) -> None:
        self.n = first_row[0]
        self.m = first_row[1:] / self.n
        var = (diagonal[1:] / self.n - self.m * self.m).clamp(min=0)
        s = var.sqrt()
        # G_ii / n - m² cancels: a constant feature is left with s of about 1e-8 |m| from rounding
        # alone, which must not be blown up to unit variance
        self.s = torch.where(s > 1e-7 * self.m.abs() + 1e-12, s, torch.ones_like(s))

    def gram(self, G: torch.Tensor) -> torch.Tensor:
        """``M G Mᵀ``: the normal equations of the standardised rows (their features are centred, so
        the constant's row and column are zero but for ``n``)."""
        G = G.to(torch.float64)
        out = torch.zeros_like(G)
        out[0, 0] = self.n
        out[1:, 1:] = (G[1:, 1:] - self.n * torch.outer(self.m, self.m)) / torch.outer(self.s, self.s)
        return out

    def cross(self, C: torch.Tensor) -> torch.Tensor:
        """``M C``."""
        C = C.to(torch.float64)
        return torch.cat([C[:1], (C[1:] - self.m[:, None] * C[:1]) / self.s[:, None]])

    def rows(self, Z: torch.Tensor) -> torch.Tensor:
        """``Z Mᵀ``: rows (..., 1+F) standardised."""
        Z = Z.to(torch.float64)
        return torch.cat([Z[..., :1], (Z[..., 1:] - self.m) / self.s], dim=-1)

    def raw(self, Ws: torch.Tensor) -> torch.Tensor:
        """``Ws M``: weights on standardised rows as weights on raw rows."""
        Wf = Ws[..., 1:] / self.s
        return torch.cat([Ws[..., :1] - (Wf * self.m).sum(dim=-1, keepdim=True), Wf], dim=-1)


class ClassifierFit(NamedTuple):
    """A solved classifier readout: ``weight`` (classes, 1+F) on raw rows, and what the
    leave-one-out decisions reuse (the standardisation and the standardised Gram matrix)."""

    weight: torch.Tensor
    standardization: Standardization
    gram: torch.Tensor


def solve_classifier(G: torch.Tensor, C: torch.Tensor, ridge: float, solver: Solver = "auto") -> ClassifierFit:
    """The readout from the normal equations ``G`` (1+F, 1+F) and ``C`` (1+F, classes) of rows
    ``[1; f]`` (see the module docstring)."""
    std = Standardization(G)
    Gs, Cs = std.gram(G), std.cross(C)
    intercept = Cs[0] / Gs[0, 0]
    if Gs.shape[0] > 1:
        Wf = solve_normal_equations(Gs[1:, 1:], Cs[1:], ridge, solver)  # (classes, F)
        Ws = torch.cat([intercept[:, None], Wf], dim=1)
    else:
        Ws = intercept[:, None]
    return ClassifierFit(std.raw(Ws), std, Gs)


def leverages(Zs: torch.Tensor, Gs: torch.Tensor, weights: torch.Tensor, ridge: float) -> torch.Tensor:
    """Each standardised row's leverage ``h = w (1/n + z_fᵀ (G'_ff + ridge I)⁻¹ z_f)`` in the ridge
    fit of normal equations ``Gs`` (the intercept is not regularised; the features are centred)."""
    h = weights / Gs[0, 0]
    B, F = Zs.shape[0], Gs.shape[0] - 1
    if F == 0:
        return h
    if ridge > 0 and B < F:
        # fewer rows than features (the usual case of pooled sequences): the B x B dual,
        # z_fᵀ (Xᵀ X + λI)⁻¹ z_f = [K (K + λI)⁻¹]_ii = 1 - λ [(K + λI)⁻¹]_ii with K = X Xᵀ, X the weighted rows
        X = Zs[:, 1:] * weights.sqrt()[:, None]
        K = X @ X.T + ridge * torch.eye(B, dtype=torch.float64, device=Gs.device)
        L, info = torch.linalg.cholesky_ex(K)
        if int(info) == 0:
            inv = torch.linalg.solve_triangular(L, torch.eye(B, dtype=torch.float64, device=Gs.device), upper=False)
            return h + 1 - ridge * (inv * inv).sum(dim=0)
    A = Gs[1:, 1:] + ridge * torch.eye(F, dtype=torch.float64, device=Gs.device)
    L, info = torch.linalg.cholesky_ex(A)
    if int(info) == 0:
        half = torch.linalg.solve_triangular(L, Zs[:, 1:].T, upper=False)  # L⁻¹ z_f for every row
        return h + weights * (half * half).sum(dim=0)
    sol = torch.linalg.lstsq(A, Zs[:, 1:].T).solution  # singular without a ridge: the least-squares leverage
    return h + weights * (Zs[:, 1:] * sol.T).sum(dim=1)


def leave_one_out(Z: torch.Tensor, Y: torch.Tensor, weights: torch.Tensor, fit: ClassifierFit,
                  ridge: float) -> torch.Tensor:
    """The decision values each training row (``Z`` (B, 1+F), one-hot ``Y`` (B, classes), row
    ``weights`` (B,)) would get from the ridge readout ``fit`` fitted without it:
    ``y - (y - d) / (1 - h)``. Exact for the standardisation of all rows (the left-out row's share
    of the features' mean and spread is not taken out)."""
    Z = Z.to(torch.float64)
    return left_out(Y, Z @ fit.weight.T, leverages(fit.standardization.rows(Z), fit.gram, weights, ridge))


def left_out(Y: torch.Tensor, d: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    """Leave-one-out decisions from the in-sample decisions ``d`` (..., B, classes) of rows with
    targets ``Y`` (B, classes) and leverages ``h`` (..., B): a row's left-out residual is its
    residual over ``1 - h`` (``h`` kept below 1)."""
    return Y - (Y - d) / (1 - h.clamp(max=1 - 1e-9))[..., None]


def softmax(d: torch.Tensor, temperature: float | torch.Tensor = 1.0) -> torch.Tensor:
    """Probabilities ``softmax(T d)`` over the last axis."""
    return torch.softmax(d.to(torch.float64) * temperature, dim=-1)


def log_loss(d: torch.Tensor, labels: torch.Tensor, temperature: float = 1.0,
             weights: torch.Tensor | None = None) -> float:
    """Mean negative log-likelihood of class indices ``labels`` (B,) under ``softmax(T d)``
    (weighted by ``weights`` (B,) when given)."""
    logp = torch.log_softmax(d.to(torch.float64) * temperature, dim=-1)
    nll = -logp[torch.arange(len(labels)), labels]
    if weights is None:
        return float(nll.mean())
    return float((nll * weights).sum() / weights.sum())


def fit_temperature(d: torch.Tensor, labels: torch.Tensor, weights: torch.Tensor | None = None) -> float:
    """The ``T > 0`` minimising :func:`log_loss` of decisions ``d`` (B, classes) for ``labels`` (B,)
    (with the rows' ``weights``, as the readout was fitted), searched on a log scale in [1e-3, 1e4]."""
    from scipy.optimize import minimize_scalar

    if d.shape[0] == 0 or not bool(torch.isfinite(d).all()):
        return 1.0
    res = minimize_scalar(lambda lt: log_loss(d, labels, math.exp(lt), weights), bounds=(math.log(1e-3), math.log(1e4)),
                          method="bounded", options={"xatol": 1e-4})
    return float(np.exp(res.x))
