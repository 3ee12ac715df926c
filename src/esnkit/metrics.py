"""Error measures for forecasts and the memory capacity of a reservoir: the one definition of each.

All functions take ``y_true`` and ``y_pred`` of the same shape, ``(time,)``, ``(time, features)`` or
``(batch, time, features)``, as NumPy arrays or tensors, and return Python floats (or NumPy arrays
with ``multioutput="raw_values"``). The search objectives and the benchmark protocols score
through these functions:

- NRMSE: ``RMSE / s`` per feature, ``s`` the feature's standard deviation (of ``y_true``, of a
  ``reference`` series, or given as ``scale``), averaged over features;
- normalised error at a step: ``sqrt(mean_i ((y_true_i - y_pred_i) / s_i)²)`` over features ``i``;
- valid prediction time: the first step at which that error exceeds a threshold;
- MASE: mean absolute error over the in-sample mean absolute error of the seasonal-naive forecast;
- sMAPE: ``200 · mean(|y - ŷ| / (|y| + |ŷ|))``, in percent on 0..200.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import torch

from . import _memory
from ._checks import MAX_ABS, require_bounded, require_finite
from .params import is_int

Normalization = Literal["std", "var", "range", "mean"]

# The largest magnitude of y_true (and a reference): the metrics square it in float64.
_LIMIT = MAX_ABS[torch.float64]
_WHY = "a metric squares the values in float64, which overflow beyond that"


def _truth(v: Any, name: str) -> np.ndarray:
    """``y_true`` or a reference series: real numbers, finite and at most 1e150 in magnitude."""
    a = _array(v, name)
    require_bounded(a, name, _LIMIT, _WHY, "a metric needs finite values")
    return a


def _pair(y_true: Any, y_pred: Any, names: tuple[str, str] = ("y_true", "y_pred")) -> tuple[np.ndarray, np.ndarray]:
    t = _truth(y_true, names[0])
    p = _array(y_pred, names[1])
    require_finite(p, names[1], "a metric needs finite values")
    if t.shape != p.shape:
        raise ValueError(f"{names[0]} has shape {t.shape} but {names[1]} has shape {p.shape}; they must match")
    return t.reshape(-1, t.shape[-1]), p.reshape(-1, p.shape[-1])


def _reduce(per_feature: np.ndarray, multioutput: str):
    if multioutput == "raw_values":
        return per_feature
    if multioutput == "uniform_average":
        return float(per_feature.mean())
    raise ValueError(f"multioutput must be 'uniform_average' or 'raw_values', got {multioutput!r}")


def mse(y_true: Any, y_pred: Any, *, multioutput: str = "uniform_average"):
    """Mean squared error per feature, averaged over features by default.

    ``y_true`` must be finite and at most 1e150 in magnitude (its squares must fit in float64);
    ``y_pred`` finite. A prediction so far off that the squared error overflows float64 scores
    ``inf``, as a diverged forecast does. The other squared-error metrics follow the same rules."""
    t, p = _pair(y_true, y_pred)
    return _reduce(((t - p) ** 2).mean(axis=0), multioutput)


def rmse(y_true: Any, y_pred: Any, *, multioutput: str = "uniform_average"):
    """Root mean squared error per feature, averaged over features by default."""
    t, p = _pair(y_true, y_pred)
    return _reduce(np.sqrt(((t - p) ** 2).mean(axis=0)), multioutput)


def nrmse(
    y_true: Any,
    y_pred: Any,
    *,
    normalization: Normalization = "std",
    reference: Any = None,
    scale: Any = None,
    multioutput: str = "uniform_average",
):
    """Normalised root mean squared error, per feature, averaged over features by default.

    ``NRMSE = RMSE / s`` where ``s`` is, per feature, the standard deviation (``"std"``, the
    default: ``NRMSE² = MSE / Var``, so 1 means no better than predicting the mean), max − min
    (``"range"``) or the absolute mean (``"mean"``). ``"var"`` returns ``MSE / Var`` (the NMSE, no
    square root). The statistic is taken from ``reference`` when given (e.g. the whole series, as
    Jaeger's NRMSE84 does), else from ``y_true``; or given per feature as ``scale`` (the
    normalization's statistic itself: a standard deviation for ``"std"``).
    """
    t, p = _pair(y_true, y_pred)
    err = ((t - p) ** 2).mean(axis=0)
    if scale is not None:
        if reference is not None:
            raise ValueError("give reference or scale, not both")
        s = _scale(scale, t.shape[1])
        value = err / s if normalization == "var" else np.sqrt(err) / s
        return _reduce(value, multioutput)
    if reference is None:
        ref = t
    else:
        ref = _truth(reference, "reference")
        ref = ref.reshape(-1, ref.shape[-1])
    if ref.shape[-1] != t.shape[-1]:
        raise ValueError(f"reference has {ref.shape[-1]} feature(s) but y_true has {t.shape[-1]}")
    if normalization == "std":
        scale = ref.std(axis=0)
    elif normalization == "var":
        scale = ref.var(axis=0)
    elif normalization == "range":
        scale = ref.max(axis=0) - ref.min(axis=0)
    elif normalization == "mean":
        scale = np.abs(ref.mean(axis=0))
    else:
        raise ValueError(f"normalization must be 'std', 'var', 'range' or 'mean', got {normalization!r}")
    if np.any(scale == 0):
        raise ValueError(f"cannot normalise: the {normalization} of a target feature is 0 (a constant series)")
    value = err / scale if normalization == "var" else np.sqrt(err) / scale
    return _reduce(value, multioutput)


def mase(y_true: Any, y_pred: Any, *, insample: Any, season: int = 1, multioutput: str = "uniform_average"):
    """Mean absolute scaled error (Hyndman and Koehler 2006), per feature, averaged over features by default.

    ``MASE = mean|y_true - y_pred| / mean_t |insample[t] - insample[t - season]|``: the forecast's
    mean absolute error over the in-sample mean absolute error of the seasonal-naive forecast
    (the naive one, ``y[t-1]``, for ``season=1``). ``insample`` is the training series the forecast
    was made from, ``(time,)`` or ``(time, features)`` with the features of ``y_true`` and more
    than ``season`` steps; ``season`` an integer ≥ 1. Below 1 the forecast beats the in-sample
    seasonal-naive forecast on average. An ``insample`` that repeats itself exactly at lag
    ``season`` in a feature (a scale of 0) raises ``ValueError``.
    """
    if not is_int(season) or season < 1:
        raise ValueError(f"season must be an integer ≥ 1, got {season!r}")
    t, p = _pair(y_true, y_pred)
    x = _truth(insample, "insample")
    if x.ndim != 2:
        raise ValueError(f"insample must be a (time,) or (time, features) series, got shape {x.shape}")
    if x.shape[1] != t.shape[1]:
        raise ValueError(f"insample has {x.shape[1]} feature(s) but y_true has {t.shape[1]}")
    if x.shape[0] <= season:
        raise ValueError(f"insample has {x.shape[0]} step(s); the seasonal-naive scale with season={season} "
                         f"needs more than {season}")
    scale = np.abs(x[season:] - x[:-season]).mean(axis=0)
    if np.any(scale == 0):
        raise ValueError(f"cannot scale: insample repeats itself exactly at lag {season} in feature "
                         f"{int(np.argmax(scale == 0))} (its seasonal-naive error is 0)")
    with np.errstate(over="ignore"):
        value = np.abs(t - p).mean(axis=0) / scale
    return _reduce(value, multioutput)


def smape(y_true: Any, y_pred: Any, *, multioutput: str = "uniform_average"):
    """Symmetric mean absolute percentage error, in percent on 0..200, per feature, averaged over
    features by default.

    ``sMAPE = 200 · mean(|y_true - y_pred| / (|y_true| + |y_pred|))`` (the M3/M4 competitions'
    definition). A step where both are 0 is a perfect forecast and counts 0; a step where one of
    them is 0 and the other not counts 200, the most.
    """
    t, p = _pair(y_true, y_pred)
    with np.errstate(over="ignore", invalid="ignore"):
        num, den = np.abs(t - p), np.abs(t) + np.abs(p)
        ratio = np.where(den > 0, num / np.where(den > 0, den, 1.0), 0.0)
    ratio = np.where(np.isfinite(ratio), ratio, 1.0)  # |y_pred| beyond float64 after the sum: 200 %
    return _reduce(200.0 * ratio.mean(axis=0), multioutput)


def _scale(scale: Any, features: int) -> np.ndarray:
    expected = f"scale must be a finite number > 0, or one per feature ({features})"
    a = np.asarray(scale.detach().cpu() if isinstance(scale, torch.Tensor) else scale)
    if a.dtype.kind not in "iuf":
        raise TypeError(f"{expected}, got {scale!r}")
    if a.ndim > 1 or a.ndim == 1 and a.shape[0] not in (1, features):
        raise ValueError(f"{expected}, got shape {a.shape}")
    s = np.broadcast_to(a.astype(np.float64), (features,))
    if not np.all(np.isfinite(s)) or np.any(s <= 0):
        raise ValueError(f"{expected}, got {scale!r}")
    return s


def _positive(value: Any, name: str) -> float:
    """A finite real number > 0 (not a bool), or a ``ValueError``/``TypeError`` naming ``name``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a finite number > 0, got {value!r}")
    if not (np.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return float(value)


def normalized_error(y_true: Any, y_pred: Any, *, scale: Any = None) -> np.ndarray:
    """Error at each step: ``sqrt(mean_i ((y_true_i - y_pred_i) / s_i)²)`` over features ``i``.

    ``s`` is the per-feature standard deviation of ``y_true`` unless given. ``y_true``/``y_pred``
    are ``(time,)``, ``(time, features)`` or ``(batch, time, features)``; returns ``(time,)`` or
    ``(batch, time)``. ``y_pred`` may hold NaN or Inf (a free run that diverged): the error is
    infinite at those steps.
    """
    t, p = _truth(y_true, "y_true"), _array(y_pred, "y_pred")
    if t.shape != p.shape:
        raise ValueError(f"y_true has shape {t.shape} but y_pred has shape {p.shape}; they must match")
    if scale is None:
        scale = t.reshape(-1, t.shape[-1]).std(axis=0)
        if np.any(scale == 0):
            raise ValueError(
                f"y_true is constant in feature {int(np.argmax(scale == 0))} (standard deviation 0), so the error "
                "has nothing to be normalised by; pass scale= (e.g. the standard deviation of the whole series)"
            )
    s = _scale(scale, t.shape[-1])
    with np.errstate(over="ignore", invalid="ignore"):
        err = np.sqrt((((t - p) / s) ** 2).mean(axis=-1))
    return np.where(np.isfinite(err), err, np.inf)


def valid_prediction_time(
    y_true: Any,
    y_pred: Any,
    *,
    threshold: float = 0.3,
    dt: float = 1.0,
    lyapunov_exponent: float | None = None,
    scale: Any = None,
):
    """Time until the normalised error (:func:`normalized_error`) first exceeds ``threshold``.

    Counted in steps times ``dt`` (time units); multiplied by ``lyapunov_exponent`` (λ) it is in
    Lyapunov times. A forecast that never crosses the threshold gets the full horizon; a step
    whose forecast is NaN or Inf counts as crossed. ``scale`` is the per-feature standard
    deviation to normalise by (default: that of ``y_true``; pass the long-run attractor statistics
    for short test windows). One series gives a float, a ``(batch, time, features)`` batch one
    value per series.
    """
    threshold, dt = _positive(threshold, "threshold"), _positive(dt, "dt")
    if lyapunov_exponent is not None:
        dt *= _positive(lyapunov_exponent, "lyapunov_exponent")
    err = normalized_error(y_true, y_pred, scale=scale)
    over = err > threshold
    steps = np.where(over.any(axis=-1), over.argmax(axis=-1), err.shape[-1])
    t = steps * dt
    return float(t) if np.ndim(t) == 0 else t.astype(np.float64)


def _array(v: Any, name: str) -> np.ndarray:
    if isinstance(v, torch.Tensor):
        v = v.detach().cpu().numpy()
    try:
        a = np.asarray(v)
    except (TypeError, ValueError) as exc:  # ragged nested lists
        raise TypeError(f"{name} must be an array of real numbers, got {type(v).__name__}: {exc}") from None
    if a.dtype.kind not in "iuf":  # booleans, complex numbers, strings, objects (None) are refused, not cast
        raise TypeError(f"{name} must hold real numbers, got {type(v).__name__} of dtype {a.dtype}")
    a = a.astype(np.float64, copy=False)
    if a.ndim == 1:
        a = a[:, None]
    if a.ndim not in (2, 3) or a.shape[-2] == 0 or a.shape[-1] == 0:
        raise ValueError(f"{name} must be a non-empty (time,), (time, features) or (batch, time, features) "
                         f"array, got shape {a.shape}")
    return a


def memory_capacity(
    esn: Any,
    *,
    max_delay: int | None = None,
    train_steps: int = 4000,
    test_steps: int = 2000,
    washout: int = 200,
    seed: int = 0,
    return_all: bool = False,
):
    """Short-term memory capacity (Jaeger 2002): ``MC = Σ_k r²(u[t-k], ŷ_k[t])``, k = 1..max_delay.

    A fresh copy of ``esn`` (its parameters, with one input) is driven by i.i.d. uniform(-1, 1) input;
    one readout per delay ``k`` is trained to recall ``u[t-k]`` and scored by the squared correlation
    on held-out steps. ``max_delay`` defaults to twice the reservoir size. Returns the total, or
    ``(total, per-delay array)`` with ``return_all``. For N linear neurons MC ≤ N.
    """
    if not (hasattr(esn, "clone") and is_int(getattr(esn, "reservoir_size", None))):
        raise TypeError(f"esn must be an esnkit.ESN (its parameters are copied), got {type(esn).__name__}")
    n = esn.reservoir_size
    for name, value, least in (("max_delay", max_delay, 1), ("train_steps", train_steps, 1),
                               ("test_steps", test_steps, 2), ("washout", washout, 0), ("seed", seed, 0)):
        if (value is not None or name not in ("max_delay", "seed")) and not (
                is_int(value) and value >= least):
            raise ValueError(f"{name} must be an integer ≥ {least}, got {value!r}")
    if not isinstance(return_all, (bool, np.bool_)):
        raise TypeError(f"return_all must be True or False, got {return_all!r}")
    K = 2 * n if max_delay is None else int(max_delay)
    total = washout + K + train_steps + test_steps
    _memory.require_memory(8 * (total * (2 * K + 2) + (n + 1) * (n + 1 + K)),
                           f"memory_capacity with max_delay={K} over {total} steps: the delayed targets",
                           "use a smaller max_delay, train_steps or test_steps")
    u = np.random.default_rng(seed).uniform(-1.0, 1.0, size=total)
    # Row t of the targets holds u[t-1], ..., u[t-K]; rows before K have no full history.
    lagged = np.stack([u[K - k : total - k] for k in range(1, K + 1)], axis=1)
    inputs = u[K:, None]
    split = washout + train_steps
    model = esn.clone(washout=washout, feedback_scaling=0.0, readout_input=False)
    model.fit(inputs[:split], lagged[:split])
    pred = model.predict(inputs[split:])
    target = lagged[split:]
    pred_c = pred - pred.mean(axis=0)
    targ_c = target - target.mean(axis=0)
    cov = (pred_c * targ_c).sum(axis=0)
    r2 = cov**2 / ((pred_c**2).sum(axis=0) * (targ_c**2).sum(axis=0))
    mc = float(r2.sum())
    return (mc, r2) if return_all else mc


def r2_score(y_true: Any, y_pred: Any, *, multioutput: str = "uniform_average"):
    """Coefficient of determination ``R² = 1 − Σ(y − ŷ)² / Σ(y − ȳ)²`` per feature, averaged over
    features by default (scikit-learn's ``r2_score``; batch and time steps are pooled).

    1 is a perfect prediction, 0 no better than the mean of ``y_true``, and it is negative for worse.
    A constant target feature (``Σ(y − ȳ)² = 0``) scores 1 when predicted exactly and 0 otherwise,
    scikit-learn's convention (``force_finite=True``) rather than NaN or −∞. Fewer than two values
    per feature raise ValueError (scikit-learn warns and returns NaN).
    """
    return _r2_score(y_true, y_pred, multioutput)


def _r2_score(y_true: Any, y_pred: Any, multioutput: str = "uniform_average",
              names: tuple[str, str] = ("y_true", "y_pred")):
    """:func:`r2_score`, its errors naming the arguments ``names`` (``score`` names its own)."""
    t, p = _pair(y_true, y_pred, names)
    if t.shape[0] < 2:
        raise ValueError("R² is not defined for fewer than two values per feature (got one time step)")
    residual = ((t - p) ** 2).sum(axis=0)
    total = ((t - t.mean(axis=0)) ** 2).sum(axis=0)
    constant = total == 0
    value = np.where(constant, (residual == 0).astype(float), 1.0 - residual / np.where(constant, 1.0, total))
    return _reduce(value, multioutput)
