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
