"""Allocation of large CPU buffers (states, input drives) on transparent huge pages.

PyTorch's CPU allocator maps a large tensor with 4 KiB pages, so the first write to a fresh
64 MB state buffer takes 16,000 page faults; on a virtual machine that costs more than the time
loop writing it. NumPy's allocator asks Linux for
transparent huge pages for allocations of 4 MiB and more (``madvise(MADV_HUGEPAGE)``), so large
buffers are allocated by NumPy and shared with a tensor without a copy. Elsewhere (other devices
and dtypes, small buffers, other systems) this is ``torch.empty``.
"""

from __future__ import annotations

import numpy as np
import torch

_NUMPY_DTYPES = {torch.float32: np.float32, torch.float64: np.float64}
# NumPy's own threshold for asking for huge pages
_HUGE = 4 << 20


def empty(shape: tuple[int, ...], dtype: torch.dtype, device: torch.device | str = "cpu") -> torch.Tensor:
    """An uninitialised tensor like ``torch.empty(shape, dtype=dtype, device=device)``."""
    device = torch.device(device)
    if device.type == "cpu" and dtype in _NUMPY_DTYPES:
        n = int(np.prod(shape, dtype=np.int64))
        if n * torch.finfo(dtype).bits // 8 >= _HUGE:
            return torch.from_numpy(np.empty(shape, dtype=_NUMPY_DTYPES[dtype]))
    return torch.empty(shape, dtype=dtype, device=device)


def zeros(shape: tuple[int, ...], dtype: torch.dtype, device: torch.device | str = "cpu") -> torch.Tensor:
    """A zero tensor like ``torch.zeros``, on huge pages where :func:`empty` uses them."""
    return empty(shape, dtype, device).zero_()
