"""Scoring sequence-classifier configurations (runs on the workers): one pooled harvest, every fold
and every ridge value from it.

A configuration's reservoirs run once over every sequence (the pooled features of a sequence do
not depend on the others). Each fold's readout is then solved on the other folds' rows only: the
standardisation (:class:`~esnkit.readout.Standardization`) and the normal equations come from the
training rows, and the whole ridge grid from one eigendecomposition (:class:`~esnkit.readout.RidgePath`;
of the rows' kernel instead when there are more features than training rows).
Probabilities use the temperature a refit would use (the log-loss minimiser on the training rows'
leave-one-out decisions), so ``"log_loss"`` scores what the refitted model predicts. The input
standardisation (``scale=True``) is a refit's with one validation part (the training sequences'
frames); with k folds it is taken once from all sequences' frames (it uses no labels), so a
k-fold value can differ from any single refit by that much.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ..models.classifier import ESNClassifier
from ..readout import RidgePath, Standardization, fit_temperature, left_out, log_loss

CLASS_OBJECTIVES = ("accuracy", "log_loss")


@dataclass
class ClassificationTask:
    """Everything a worker needs to score classifier configurations."""

    sequences: list[np.ndarray]
    labels: np.ndarray  # the raw labels, one per sequence
    folds: list[np.ndarray]  # the validation sequences of each fold
    ridges: np.ndarray
    objective: str
    dtype: str = "float64"
    device: str = "cpu"
    direction: str = "maximize"
    train: np.ndarray | None = None  # the sequences a refit on the training part uses


def stratified_folds(labels: np.ndarray, k: int, seed: int | None) -> list[np.ndarray]:
    """``k`` validation index sets, each class's sequences dealt round-robin after a seeded shuffle,
    so every fold holds about 1/k of each class."""
    rng = np.random.default_rng(seed)
    folds: list[list[int]] = [[] for _ in range(k)]
    offset = 0
    for c in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == c))
        for j, i in enumerate(members):
            folds[(offset + j) % k].append(int(i))
        offset += len(members)
    return [np.sort(np.array(f, dtype=np.int64)) for f in folds]


def stratified_holdout(labels: np.ndarray, fraction: float, seed: int | None) -> np.ndarray:
    """The validation sequences: about ``fraction`` of each class (at least one of a class with two or more)."""
    rng = np.random.default_rng(seed)
    val = []
    for c in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == c))
        n = int(round(fraction * len(members)))
        n = min(max(n, 1 if len(members) > 1 else 0), len(members) - 1)
        val.extend(members[:n].tolist())
    return np.sort(np.array(val, dtype=np.int64))


def _fold_decisions(Z: torch.Tensor, onehot: torch.Tensor, weights: torch.Tensor, train: np.ndarray,
                    val: np.ndarray, ridges: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """Member ``Z`` (B, 1+F): the decisions of the ``val`` rows (L, n_val, C) and the leave-one-out
    decisions of the ``train`` rows (L, n_train, C), for every ridge, from the ``train`` rows."""
    if Z.shape[1] - 1 > len(train):
        return _fold_decisions_dual(Z, onehot, weights, train, val, ridges)
    root = weights[train].sqrt()[:, None]
    Zt, Yt = Z[train] * root, onehot[train] * root
    G, C = Zt.T @ Zt, Zt.T @ Yt
    std = Standardization(G)
    Gs, Cs = std.gram(G), std.cross(C)
    intercept = Cs[0] / Gs[0, 0]
    path = RidgePath(Gs[1:, 1:], Cs[1:])
    Zs_val, Zs_tr = std.rows(Z[val]), std.rows(Z[train])
    d_val = intercept + path.predict(Zs_val[:, 1:], ridges)
    d_tr = intercept + path.predict(Zs_tr[:, 1:], ridges)
    s, V, _ = path._eigen()
    P = Zs_tr[:, 1:] @ V  # (n_train, F)
    r = torch.as_tensor(ridges, dtype=torch.float64, device=Z.device)
    h = weights[train][:, None] * (1 / Gs[0, 0] + (P * P) @ (1 / (s[:, None] + r[None, :])))  # (n_train, L)
    return d_val, left_out(onehot[train], d_tr, h.T)



def _fold_decisions_dual(Z: torch.Tensor, onehot: torch.Tensor, weights: torch.Tensor, train: np.ndarray,
                         val: np.ndarray, ridges: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`_fold_decisions` for more features than training rows: the same ridge path from the
    rows' (n, n) kernel instead of the features' (F, F) Gram matrix. With ``A`` the weighted
    standardised training rows, ``(AᵀA + λ)⁻¹ Aᵀ = Aᵀ (AAᵀ + λ)⁻¹``, so one eigendecomposition
    ``AAᵀ = Q diag(μ) Qᵀ`` gives every λ, and the leverages are ``Σ_j Q_ij² μ_j / (μ_j + λ)``."""
    w = weights[train]
    root = w.sqrt()[:, None]
    std = Standardization.from_rows(Z[train] * root)
    Zs_tr, Zs_val = std.rows(Z[train])[:, 1:], std.rows(Z[val])[:, 1:]
    A = Zs_tr * root
    intercept = (w[:, None] * onehot[train]).sum(dim=0) / std.n
    mu, Q = torch.linalg.eigh(A @ A.T)
    mu = mu.clamp_min(0.0)
    r = torch.as_tensor(ridges, dtype=torch.float64, device=Z.device)
    resolved = mu > torch.finfo(torch.float64).eps * mu.max().clamp_min(1e-300)  # directions with data
    denom = mu[None, :] + r[:, None]  # (L, n)
    inv = torch.where(resolved[None, :], 1 / denom.clamp_min(1e-300), torch.zeros_like(denom))
    B = Q.T @ (onehot[train] * root)  # (n, C)
    dual = Q @ (inv[..., None] * B)  # (L, n, C): W(λ) = Aᵀ dual
    d_val = intercept + (Zs_val @ A.T) @ dual
    d_tr = intercept + (Zs_tr @ A.T) @ dual
    h = w[:, None] / std.n + (Q * Q) @ (mu[:, None] * inv.T)  # (n_train, L)
    return d_val, left_out(onehot[train], d_tr, h.T)


def score(cfg: Mapping[str, Any], task: ClassificationTask) -> dict:
    """One configuration's value at its best ridge (accuracy: ties broken by the lower log-loss)."""
    clf = ESNClassifier(**{**cfg, "dtype": task.dtype, "device": task.device})
    if clf.readout != "ridge":
        raise ValueError("the search solves the ridge readout exactly over its grid: readout must be 'ridge'")
    if clf.pooling == "steps":
        raise ValueError("the search scores pooled readouts: pooling='steps' (trained on every step) is not "
                         "searchable yet; fit it directly")
    U = clf._inputs(task.sequences, fitting=True)
    clf._require_memory(U, False)  # what the refit of this configuration will need
    classes, index = np.unique(task.labels, return_inverse=True)
    # one validation part: the scaling a refit on the training sequences computes
    clf._set_scaling(U, np.setdiff1d(np.arange(U.batch_size), task.folds[0]) if len(task.folds) == 1 else None)
    U = clf._scaled(U)
    reservoirs = [clf._esn(k)._build_reservoir(U.features, 0) for k in range(clf.n_reservoirs)]
    Z = clf._features(reservoirs, U)  # (K, B, 1+F)
    device = Z.device
    idx = torch.as_tensor(index, device=device)
    onehot = torch.nn.functional.one_hot(idx, len(classes)).to(torch.float64)
    L = len(task.ridges)
    decisions = torch.zeros(L, len(index), len(classes), dtype=torch.float64, device=device)
    losses = torch.zeros(L, dtype=torch.float64)
    every = np.arange(len(index))
    for val in task.folds:
        train = np.setdiff1d(every, val)
        # the class weights a refit on these training sequences would use
        weights = torch.as_tensor(clf._class_weights(classes, index[train])[index], dtype=torch.float64,
                                  device=device)
        d_val = loo = 0
        for k in range(Z.shape[0]):
            dv, dl = _fold_decisions(Z[k], onehot, weights, train, val, task.ridges)
            d_val, loo = d_val + dv / Z.shape[0], loo + dl / Z.shape[0]
        decisions[:, val] = d_val
        for j in range(L):
            T = fit_temperature(loo[j], idx[train], weights[train])
            losses[j] += log_loss(d_val[j], idx[val], T) * len(val)
    held = np.concatenate(task.folds)
    accuracy = (decisions[:, held].argmax(dim=-1) == idx[held]).to(torch.float64).mean(dim=-1).cpu()
    losses /= len(held)
    if task.objective == "accuracy":
        best = int(np.lexsort((losses.numpy(), -accuracy.numpy()))[0])
        value = float(accuracy[best])
    else:
        best = int(torch.argmin(losses))
        value = float(losses[best])
    return {"value": value, "ridge": float(task.ridges[best]), "accuracy": float(accuracy[best]),
            "log_loss": float(losses[best])}


def evaluate_classification(task: ClassificationTask, configs: Sequence[Mapping[str, Any]]) -> list[dict]:
    """Score ``configs`` (ESNClassifier arguments); a failing configuration gets ``{"error": ...}``."""
    from .objectives import TRIAL_ERRORS, _failure

    results = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # echo-state notices, trial after trial
        for cfg in configs:
            try:
                results.append(score(cfg, task))
            except TRIAL_ERRORS as exc:
                results.append(_failure(exc))
    return results
