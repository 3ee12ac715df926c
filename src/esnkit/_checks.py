"""The one finiteness check: every entry point that must refuse NaN or Inf asks here."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch


def all_finite(t: torch.Tensor | np.ndarray) -> bool:
    """Whether every value of ``t`` is finite."""
    if isinstance(t, np.ndarray):
        return bool(np.isfinite(t).all())
    # NumPy for CPU tensors: half the fixed cost of torch's isfinite-all, which a small model notices
    if t.device.type == "cpu" and t.dtype in (torch.float32, torch.float64) and not t.requires_grad:
        return bool(np.isfinite(t.numpy()).all())
    return bool(torch.isfinite(t).all())


def require_finite(t: torch.Tensor | np.ndarray, name: str, hint: str = "clean or impute it first") -> None:
    """Raise ``ValueError`` naming ``name`` and the index of its first NaN or Inf."""
    if all_finite(t):
        return
    bad = np.argwhere(~np.isfinite(t.detach().cpu().numpy() if isinstance(t, torch.Tensor) else t))[0]
    where: Any = tuple(int(i) for i in bad)
    raise ValueError(f"{name} contains NaN or Inf (first at index {where}); {hint}")


# The largest magnitude a series may hold: beyond it a float32 model's values are infinite, and a
# float64 model's readout, which sums squares of features and targets in float64, overflows.
MAX_ABS = {torch.float32: 3.4028234663852886e38, torch.float64: 1e150}


def _bounded(t: torch.Tensor | np.ndarray, limit: float) -> bool:
    """Whether every value of ``t`` is finite and at most ``limit`` in magnitude (False for NaN)."""
    if isinstance(t, torch.Tensor):
        if t.numel() == 0:
            return True
        if t.device.type == "cpu" and t.dtype in (torch.float32, torch.float64) and not t.requires_grad:
            t = t.numpy()
        else:
            lo, hi = torch.aminmax(t.detach())
            return bool(-limit <= lo.item() and hi.item() <= limit)
    if t.size == 0:
        return True
    # compared as Python floats: a limit beyond float32's range must not be cast to the array's dtype
    return bool(-limit <= float(t.min()) and float(t.max()) <= limit)  # NaN compares false


def require_bounded(t: torch.Tensor | np.ndarray, name: str, limit: float, why: str,
                    hint: str = "clean or impute it first") -> None:
    """Raise ``ValueError`` naming ``name`` where ``t`` holds NaN or Inf (as :func:`require_finite`) or a
    value beyond ``±limit``: the message gives the value, its index and ``why`` the limit exists."""
    if _bounded(t, limit):
        return
    require_finite(t, name, hint)
    a = t.detach().cpu().numpy() if isinstance(t, torch.Tensor) else t
    bad = np.argwhere(np.abs(a) > limit)[0]
    where: Any = tuple(int(i) for i in bad)
    raise ValueError(
        f"{name} holds {float(a[tuple(bad)]):.3g} at index {where}, beyond ±{limit:.3g}: {why}; "
        "rescale it (standardise it, for instance)"
    )
