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
readout did not train on (:func:`fit_temperature`).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from .linalg import Solver, solve_normal_equations


def standardizing(G: torch.Tensor) -> torch.Tensor:
    """``M`` (1+F, 1+F) mapping rows ``[1; f]`` to ``[1; (f - m) / s]`` for the weighted mean ``m`` and
    standard deviation ``s`` of the features in ``G`` (a constant feature keeps ``s = 1``)."""
    n = G[0, 0]
    m = G[0, 1:] / n
    var = (torch.diagonal(G)[1:] / n - m * m).clamp(min=0)
    s = var.sqrt()
    # G_ii / n - m² cancels: a constant feature is left with s of about 1e-8 |m| from rounding alone,
    # which must not be blown up to unit variance
    s = torch.where(s > 1e-7 * m.abs() + 1e-12, s, torch.ones_like(s))
    M = torch.zeros_like(G)
    M[0, 0] = 1.0
    M[1:, 0] = -m / s
    M[1:, 1:] = torch.diag(1.0 / s)
    return M


def solve_classifier(G: torch.Tensor, C: torch.Tensor, ridge: float, solver: Solver = "auto"
                     ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Weights ``W`` (classes, 1+F) on raw rows from the normal equations ``G`` (1+F, 1+F) and ``C``
    (1+F, classes) of rows ``[1; f]``; also ``M`` and the standardised weights ``W'`` (see the module
    docstring)."""
    G = G.to(torch.float64)
    C = C.to(torch.float64)
    M = standardizing(G)
    Gs, Cs = M @ G @ M.T, M @ C
    intercept = Cs[0] / Gs[0, 0]
    if Gs.shape[0] > 1:
        Wf = solve_normal_equations(Gs[1:, 1:], Cs[1:], ridge, solver)  # (classes, F)
        Ws = torch.cat([intercept[:, None], Wf], dim=1)
    else:
        Ws = intercept[:, None]
    return Ws @ M, M, Ws


def leave_one_out(Z: torch.Tensor, Y: torch.Tensor, weights: torch.Tensor, G: torch.Tensor, W: torch.Tensor,
                  M: torch.Tensor, ridge: float) -> torch.Tensor:
    """The decision values each training row (``Z`` (B, 1+F), one-hot ``Y`` (B, classes), row
    ``weights`` (B,)) would get from the ridge readout fitted without it: ``y - (y - d) / (1 - h)``.
    Exact for the standardisation ``M`` of all rows (the left-out row's share of the features' mean
    and spread is not taken out)."""
    Z = Z.to(torch.float64)
    Zs = Z @ M.T
    Gs = M @ G.to(torch.float64) @ M.T
    d = Z @ W.T
    h = weights / Gs[0, 0]
    if Zs.shape[1] > 1:
        A = Gs[1:, 1:] + ridge * torch.eye(Gs.shape[0] - 1, dtype=torch.float64, device=Gs.device)
        sol = torch.linalg.lstsq(A, Zs[:, 1:].T).solution if ridge == 0 else torch.linalg.solve(A, Zs[:, 1:].T)
        h = h + weights * (Zs[:, 1:] * sol.T).sum(dim=1)
    h = h.clamp(max=1 - 1e-9)
    return Y - (Y - d) / (1 - h)[:, None]


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
