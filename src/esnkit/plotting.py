"""Plots people would rather look at than read: forecast against truth, and the error over time."""

from __future__ import annotations

import os
from typing import Any

import numpy as np


def _np(a: Any) -> np.ndarray:
    a = a.detach().cpu().numpy() if hasattr(a, "detach") else np.asarray(a)
    return a[:, None] if a.ndim == 1 else a


def plot_forecast(
    truth: Any,
    forecast: Any,
    path: str | os.PathLike,
    *,
    title: str = "",
    dt: float = 1.0,
    threshold: float | None = None,
) -> str:
    """Write a PNG with truth vs forecast per feature and the normalised error below.

    ``truth`` and ``forecast`` are ``(time,)`` or ``(time, features)``. ``threshold`` draws the
    valid-prediction-time line on the error panel. Returns the path written.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .metrics import normalized_error

    y, p = _np(truth), _np(forecast)
    if y.shape != p.shape:
        raise ValueError(f"truth has shape {y.shape} but forecast has shape {p.shape}")
    t = np.arange(len(y)) * dt
    d = y.shape[1]
    fig, axes = plt.subplots(d + 1, 1, figsize=(9, 2.2 * (d + 1)), sharex=True, constrained_layout=True)
    for i in range(d):
        ax = axes[i]
        ax.plot(t, y[:, i], color="black", lw=1.2, label="truth")
        ax.plot(t, p[:, i], color="tab:orange", lw=1.2, ls="--", label="forecast")
        ax.set_ylabel(f"feature {i}" if d > 1 else "value")
        if i == 0:
            ax.legend(loc="upper right", frameon=False)
            if title:
                ax.set_title(title)
    err = normalized_error(y, p)
    axes[-1].semilogy(t, np.maximum(err, 1e-16), color="tab:red", lw=1)
    if threshold is not None:
        axes[-1].axhline(threshold, color="gray", ls=":", lw=1, label=f"threshold {threshold:g}")
        axes[-1].legend(loc="lower right", frameon=False)
    axes[-1].set_ylabel("normalised error")
    axes[-1].set_xlabel("time")
    path = os.fspath(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_search(table: list[dict], params: list[str], path: str | os.PathLike, *, objective: str = "objective",
                log_value: bool = True) -> str:
    """Write a PNG with the objective of every completed trial against each searched parameter.

    ``table`` is :attr:`esnkit.search.SearchResult.table` (rows with ``state``, ``value`` and one
    column per parameter); the best trial is circled. Returns the path written.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in table if r.get("state") == "COMPLETE" and r.get("value") is not None]
    if not rows:
        raise ValueError("no completed trial to plot")
    if not params:
        raise ValueError("params is empty: nothing to plot against")
    values = np.array([r["value"] for r in rows], dtype=float)
    log_value = log_value and bool(np.all(values > 0))
    best = int(np.argmin(values)) if objective != "vpt" else int(np.argmax(values))
    cols = min(3, len(params))
    nrows = -(-len(params) // cols)
    fig, axes = plt.subplots(nrows, cols, figsize=(4 * cols, 3.2 * nrows), squeeze=False, constrained_layout=True)
    for ax, name in zip(axes.ravel(), params):
        x = [r.get(name) for r in rows]
        numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in x)
        xs = np.array(x, dtype=float) if numeric else np.array([str(v) for v in x])
        ax.scatter(xs, values, s=12, alpha=0.6, color="tab:blue")
        ax.scatter([xs[best]], [values[best]], s=80, facecolors="none", edgecolors="tab:red", lw=1.5, label="best")
        if numeric and np.all(xs > 0) and xs.max() / xs.min() > 50:
            ax.set_xscale("log")
        if log_value:
            ax.set_yscale("log")
        ax.set_xlabel(name)
        ax.set_ylabel(objective)
    for ax in axes.ravel()[len(params):]:
        ax.set_visible(False)
    axes.ravel()[0].legend(loc="best", frameon=False)
    fig.suptitle(f"{len(rows)} completed trials")
    path = os.fspath(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
