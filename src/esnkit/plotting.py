"""Plots people would rather look at than read: forecast against truth, and the error over time.

Every function writes a PNG through matplotlib's object-oriented API (a ``Figure`` on its own Agg
canvas): no pyplot, so the caller's backend and pyplot's figure list are left alone. It needs the
``plot`` extra (``pip install "esnkit[plot]"``).
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from .errors import import_extra


def _np(a: Any) -> np.ndarray:
    a = a.detach().cpu().numpy() if hasattr(a, "detach") else np.asarray(a)
    return a[:, None] if a.ndim == 1 else a


def _figure(figsize: tuple[float, float]):
    """A constrained-layout figure drawn on its own Agg canvas (files only: never needs a display)."""
    figure = import_extra("matplotlib.figure", "plot", "esnkit.plotting")
    backend_agg = import_extra("matplotlib.backends.backend_agg", "plot", "esnkit.plotting")
    fig = figure.Figure(figsize=figsize, layout="constrained")
    backend_agg.FigureCanvasAgg(fig)
    return fig


def _save(fig, path: str | os.PathLike) -> str:
    path = os.fspath(path)
    fig.savefig(path, dpi=110)
    return path


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
    from .metrics import normalized_error

    y, p = _np(truth), _np(forecast)
    if y.shape != p.shape:
        raise ValueError(f"truth has shape {y.shape} but forecast has shape {p.shape}")
    t = np.arange(len(y)) * dt
    d = y.shape[1]
    fig = _figure((9, 2.2 * (d + 1)))
    axes = fig.subplots(d + 1, 1, sharex=True)
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
    return _save(fig, path)


def plot_search(table: list[dict], params: list[str], path: str | os.PathLike, *, objective: str = "objective",
                log_value: bool = True) -> str:
    """Write a PNG with the objective of every completed trial against each searched parameter.

    ``table`` is :attr:`esnkit.search.SearchResult.table` (rows with ``state``, ``value`` and one
    column per parameter); the best trial is circled. Returns the path written.
    """
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
    fig = _figure((4 * cols, 3.2 * nrows))
    axes = fig.subplots(nrows, cols, squeeze=False)
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
    return _save(fig, path)


def plot_forecasts(truth: Any, forecasts: dict[str, Any], path: str | os.PathLike, *, dt: float = 1.0,
                   time_unit: str = "time", title: str = "") -> str:
    """Write a PNG with the truth and several models' forecasts, one panel per feature.

    ``truth`` and every forecast are ``(time,)`` or ``(time, features)``; ``dt`` converts steps to
    ``time_unit``. Returns the path written.
    """
    y = _np(truth)
    runs = {k: _np(v) for k, v in forecasts.items()}
    for k, v in runs.items():
        if v.shape != y.shape:
            raise ValueError(f"forecast {k!r} has shape {v.shape} but truth has shape {y.shape}")
    t = np.arange(len(y)) * dt
    d = y.shape[1]
    fig = _figure((9, 2.2 * d + 0.6))
    axes = fig.subplots(d, 1, sharex=True, squeeze=False)
    for i, ax in enumerate(axes[:, 0]):
        ax.plot(t, y[:, i], color="black", lw=1.4, label="truth")
        for k, v in runs.items():
            ax.plot(t, v[:, i], lw=1.1, ls="--", label=k)
        # Keep the truth's range in view: a diverged forecast would otherwise flatten everything.
        lo, hi = y[:, i].min(), y[:, i].max()
        pad = 0.25 * (hi - lo) or 1.0
        ax.set_ylim(lo - pad, hi + pad)
        ax.set_ylabel(f"feature {i}" if d > 1 else "value")
    axes[0, 0].legend(loc="upper right", frameon=False, fontsize=8)
    axes[-1, 0].set_xlabel(time_unit)
    if title:
        axes[0, 0].set_title(title)
    return _save(fig, path)


def plot_error_growth(curves: dict[str, Any], path: str | os.PathLike, *, dt: float = 1.0,
                      time_unit: str = "steps", threshold: float | None = None, title: str = "") -> str:
    """Write a PNG of normalised error against forecast time (log scale), one line per model.

    ``curves`` maps a model name to its error at each step of the horizon, ``(H,)``, e.g.
    :attr:`esnkit.benchmarks.Score.error_curve`. Returns the path written.
    """
    fig = _figure((8, 4))
    ax = fig.subplots()
    for k, c in curves.items():
        c = np.asarray(c, dtype=float)
        ax.semilogy((np.arange(len(c)) + 1) * dt, np.clip(c, 1e-16, 1e6), lw=1.3, label=k)
    if threshold is not None:
        ax.axhline(threshold, color="gray", ls=":", lw=1, label=f"threshold {threshold:g}")
    ax.set_xlabel(time_unit)
    ax.set_ylabel("normalised RMS error")
    ax.legend(loc="lower right", frameon=False, fontsize=8)
    if title:
        ax.set_title(title)
    return _save(fig, path)


def plot_attractor(truth: Any, runs: dict[str, Any], path: str | os.PathLike, *, dims: tuple[int, int] = (0, 2),
                   delay: int | None = None, title: str = "") -> str:
    """Write a PNG comparing the attractor of long free runs with the true one, side by side.

    Each array is ``(time, features)``; the plane drawn is features ``dims`` or, with ``delay``, the
    delay embedding ``(x[t], x[t - delay])`` of the first feature (for scalar series such as
    Mackey-Glass). Returns the path written.
    """
    panels = {"truth": _np(truth), **{k: _np(v) for k, v in runs.items()}}

    def plane(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if delay is not None:
            return a[delay:, 0], a[:-delay, 0]
        return a[:, dims[0]], a[:, dims[1]]

    tx, ty = plane(panels["truth"])
    pad_x, pad_y = 0.15 * np.ptp(tx), 0.15 * np.ptp(ty)
    fig = _figure((3.6 * len(panels), 3.6))
    axes = fig.subplots(1, len(panels), squeeze=False)
    for ax, (k, a) in zip(axes[0], panels.items()):
        x, y = plane(a)
        finite = np.isfinite(x) & np.isfinite(y)
        ax.plot(x[finite], y[finite], lw=0.3, color="black" if k == "truth" else "tab:blue")
        ax.set_xlim(tx.min() - pad_x, tx.max() + pad_x)
        ax.set_ylim(ty.min() - pad_y, ty.max() + pad_y)
        ax.set_title(k, fontsize=9)
        ax.set_xlabel("x[t]" if delay is not None else f"feature {dims[0]}")
        ax.set_ylabel(f"x[t-{delay}]" if delay is not None else f"feature {dims[1]}")
    if title:
        fig.suptitle(title)
    return _save(fig, path)


def plot_confusion_matrix(y_true: Any, y_pred: Any, path: str | os.PathLike, *, labels: Any = None,
                          title: str = "") -> str:
    """Write a PNG of the confusion matrix: row ``i``, column ``j`` counts the sequences of class
    ``labels[i]`` predicted as ``labels[j]`` (each cell also shows its share of the row). ``labels``
    defaults to the sorted labels of both. Returns the path written."""
    t, p = np.asarray(y_true), np.asarray(y_pred)
    if t.shape != p.shape or t.ndim != 1:
        raise ValueError(f"y_true and y_pred must be 1-D of one length, got shapes {t.shape} and {p.shape}")
    labels = np.unique(np.concatenate([t, p])) if labels is None else np.asarray(labels)
    index = {v: i for i, v in enumerate(labels.tolist())}
    unknown = [v for v in set(t.tolist()) | set(p.tolist()) if v not in index]
    if unknown:
        raise ValueError(f"label {unknown[0]!r} is not in labels")
    n = len(labels)
    counts = np.zeros((n, n), dtype=int)
    for a, b in zip(t.tolist(), p.tolist()):
        counts[index[a], index[b]] += 1
    share = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    size = min(2.5 + 0.6 * n, 14)
    fig = _figure((size + 1, size))
    ax = fig.subplots()
    im = ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    fig.colorbar(im, ax=ax, label="share of the true class")
    ax.set_xticks(range(n), [str(v) for v in labels], rotation=45 if n > 6 else 0)
    ax.set_yticks(range(n), [str(v) for v in labels])
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    if n <= 30:
        for i in range(n):
            for j in range(n):
                if counts[i, j]:
                    ax.text(j, i, str(counts[i, j]), ha="center", va="center", fontsize=8,
                            color="white" if share[i, j] > 0.6 else "black")
    accuracy = np.trace(counts) / max(counts.sum(), 1)
    ax.set_title((title + "\n" if title else "") + f"accuracy {accuracy:.2%} ({counts.sum() - np.trace(counts)} errors "
                 f"of {counts.sum()})")
    return _save(fig, path)


def plot_forecast_band(
    history: Any,
    split: int,
    validation: Any,
    forecast: Any,
    lower: Any,
    upper: Any,
    path: str | os.PathLike,
    *,
    dates: Any = None,
    future_dates: Any = None,
    columns: list[str] | None = None,
    coverage: float | None = None,
    title: str = "",
) -> str:
    """Write a PNG per series column: the ``history`` ``(T, D)``, the ``validation`` forecast
    ``(T - split, D)`` drawn from row ``split`` on, and the ``forecast`` past the end with its band
    ``lower``..``upper`` ``(horizon, D)``. ``dates`` (T) and ``future_dates`` (horizon) date the
    x axis; without them it counts steps."""
    h, v, f, lo, hi = (_np(a) for a in (history, validation, forecast, lower, upper))
    T, D = h.shape
    if isinstance(split, bool) or not isinstance(split, (int, np.integer)) or not 0 < split < T:
        raise ValueError(f"split must be an integer in 1..{T - 1} (the first validation row), got {split!r}")
    for name, d, n in (("dates", dates, T), ("future_dates", future_dates, len(f))):
        if d is not None and len(d) != n:
            raise ValueError(f"{name} has {len(d)} values, expected {n}")
    if v.shape != (T - split, D) or f.shape[1] != D or lo.shape != f.shape or hi.shape != f.shape:
        raise ValueError(f"shapes do not fit together: history {h.shape}, split {split}, validation {v.shape}, "
                         f"forecast {f.shape}, lower {lo.shape}, upper {hi.shape}")
    x = np.asarray(dates) if dates is not None else np.arange(T)
    xf = np.asarray(future_dates) if future_dates is not None else np.arange(T, T + len(f))
    if dates is not None and future_dates is None:
        raise ValueError("dates are given but future_dates are not: give both, or neither")
    # the recent past only, so the forecasts are legible: the validation part and twice as much before
    # it, but no more than 20 horizons back (a long series' validation part is long)
    first = max(0, split - 2 * (T - split), T - 20 * len(f))
    h, x = h[first:], x[first:]
    v = v[max(0, first - split):]
    split = max(split - first, 0)
    names = columns or [f"feature {j}" for j in range(D)]
    fig = _figure((10, 2.8 * D))
    axes = np.atleast_1d(fig.subplots(D, 1, sharex=True))
    band = "band" if coverage is None else f"{coverage:.0%} band (backtest errors)"
    for j, ax in enumerate(axes):
        ax.plot(x, h[:, j], color="black", lw=1.0, label="history")
        ax.plot(x[split:], v[:, j], color="tab:blue", lw=1.1, ls="--", label="validation forecast")
        if split > 0:
            ax.axvline(x[split], color="gray", ls=":", lw=1)
        ax.plot(xf, f[:, j], color="tab:orange", lw=1.4, label="forecast")
        ax.fill_between(xf, lo[:, j], hi[:, j], color="tab:orange", alpha=0.25, lw=0, label=band)
        ax.set_ylabel(names[j])
        if j == 0:
            ax.legend(loc="best", frameon=True, framealpha=0.8, fontsize=8)
            if title:
                ax.set_title(title)
    axes[-1].set_xlabel("date" if dates is not None else "step")
    return _save(fig, path)
