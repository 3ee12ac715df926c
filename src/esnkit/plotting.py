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
