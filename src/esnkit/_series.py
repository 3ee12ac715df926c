"""Turning user series (NumPy, tensors, lists of either) into one padded batch tensor and back.

Every public entry point routes its array arguments through :func:`to_batch`, so the rules for
shapes, dtypes, devices and non-finite values live here once, and every error names the argument.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch

from ._checks import MAX_ABS, require_bounded

Layout = Literal["1d", "2d", "3d", "list"]
Kind = Literal["numpy", "torch"]


@dataclass(frozen=True)
class Batch:
    """A padded batch of sequences plus what is needed to hand results back in the caller's form.

    ``data`` has shape ``(batch, time, features)``; ``lengths[b]`` is the true length of sequence
    ``b`` (steps past it are zero padding).
    """

    data: torch.Tensor
    lengths: tuple[int, ...]
    layout: Layout
    kind: Kind

    @property
    def batch_size(self) -> int:
        return self.data.shape[0]

    @property
    def steps(self) -> int:
        return self.data.shape[1]

    @property
    def features(self) -> int:
        return self.data.shape[2]

    @property
    def ragged(self) -> bool:
        return any(n != self.steps for n in self.lengths)

    def mask(self, washout: int = 0) -> torch.Tensor:
        """Boolean ``(batch, time)`` mask of the steps that are real data and past the washout."""
        t = torch.arange(self.steps, device=self.data.device)
        lengths = torch.tensor(self.lengths, device=self.data.device)
        return (t[None, :] >= washout) & (t[None, :] < lengths[:, None])

    def kept(self, start: int, chunk: slice, until: int | None = None) -> slice | torch.Tensor:
        """The steps ``start ≤ t < until`` of ``chunk`` that are real data, as
        :func:`~esnkit.readout.kept_rows` takes them: a slice of the chunk's steps when every
        sequence has the same length, else a ``(batch, chunk steps)`` mask."""
        n = chunk.stop - chunk.start
        lo = min(max(start - chunk.start, 0), n)
        hi = n if until is None else min(max(until - chunk.start, 0), n)
        if not self.ragged:
            return slice(lo, max(lo, hi))
        mask = self.mask(start)[:, chunk]
        if until is not None:
            mask = mask & (torch.arange(n, device=mask.device) < hi)[None]
        return mask


def _describe(x: Any) -> str:
    if isinstance(x, (np.ndarray, torch.Tensor)):
        return f"{type(x).__module__.split('.')[0]} array of shape {tuple(x.shape)} and dtype {x.dtype}"
    return type(x).__name__


def _one_sequence(
    x: Any, name: str, dtype: torch.dtype, device: torch.device, *, allow_3d: bool
) -> tuple[torch.Tensor, Kind]:
    """Convert one array-like to a float tensor of shape (time, features) or (batch, time, features)."""
    if isinstance(x, torch.Tensor):
        kind: Kind = "torch"
        if x.is_complex() or x.dtype == torch.bool:
            raise TypeError(f"{name} must hold real numbers, got a tensor of dtype {x.dtype}")
        if x.device.type != torch.device(device).type:
            raise ValueError(
                f"{name} is on device '{x.device}' but the model is on '{device}'; "
                f"move one of them (tensor.to(...) or esn.to(...))"
            )
        t = x.detach()
    else:
        kind = "numpy"
        try:
            arr = np.asarray(x)
        except Exception as exc:  # ragged nested lists and the like
            if "inhomogeneous" in str(exc):
                raise ValueError(
                    f"{name} is a nested {type(x).__name__} whose rows differ in length; give a (time, features) "
                    f"array, or a list of (time, features) arrays for sequences of different lengths"
                ) from None
            raise TypeError(f"{name} must be an array of numbers, got {_describe(x)}: {exc}") from None
        if arr.dtype.kind not in "iuf":  # not bool, complex, str, object, dates or timedeltas
            raise TypeError(f"{name} must hold real numbers, got {_describe(x)}")
        if arr.ndim == 0:
            raise ValueError(f"{name} must be a series of shape (time,), (time, features) or (batch, time, "
                             f"features), got the single number {arr.item()!r}")
        arr = np.ascontiguousarray(arr)
        if not arr.flags.writeable:  # torch cannot wrap a read-only array without a warning: copy it
            arr = arr.copy()
        t = torch.from_numpy(arr)
    if t.ndim == 1:
        t = t[:, None]
    max_ndim = 3 if allow_3d else 2
    if t.ndim < 1 or t.ndim > max_ndim:
        expected = "(time,), (time, features) or (batch, time, features)" if allow_3d else "(time, features)"
        raise ValueError(f"{name} must have shape {expected}, got shape {tuple(t.shape)}")
    if t.shape[-2] == 0:
        raise ValueError(f"{name} is empty: it has no time steps (shape {tuple(t.shape)})")
    if t.shape[-1] == 0:
        raise ValueError(f"{name} has no features (shape {tuple(t.shape)})")
    if t.ndim == 3 and t.shape[0] == 0:
        raise ValueError(f"{name} holds no sequences (shape {tuple(t.shape)})")
    if t.is_floating_point():  # checked before the cast, which would turn 1e300 into inf in float32
        limit = MAX_ABS[dtype]
        require_bounded(t, name, limit, "a float32 model holds no larger values (dtype='float64' holds up to 1e150)"
                        if dtype == torch.float32 else "the readout sums squares of the values in float64, "
                        "which overflow beyond that")
    t = t.to(device=device, dtype=dtype)
    return t, kind


def to_batch(
    x: Any,
    name: str,
    *,
    dtype: torch.dtype,
    device: torch.device | str,
    features: int | None = None,
    features_what: str = "",
) -> Batch:
    """Validate ``x`` and return it as a padded :class:`Batch`.

    Accepted forms: ``(time,)``, ``(time, features)``, ``(batch, time, features)`` arrays or tensors,
    and lists/tuples of ``(time, features)`` arrays or tensors of possibly different lengths.
    Floating dtypes are cast to ``dtype``; NaN/Inf, empty series and wrong feature counts raise.
    """
    device = torch.device(device)
    if isinstance(x, (list, tuple)) and len(x) > 0 and all(
        isinstance(s, (np.ndarray, torch.Tensor)) for s in x
    ):
        seqs, kinds = [], set()
        for i, s in enumerate(x):
            t, kind = _one_sequence(s, f"{name}[{i}]", dtype, device, allow_3d=False)
            seqs.append(t)
            kinds.add(kind)
        widths = {s.shape[1] for s in seqs}
        if len(widths) > 1:
            raise ValueError(f"the sequences in {name} have different numbers of features: {sorted(widths)}")
        lengths = tuple(s.shape[0] for s in seqs)
        data = torch.nn.utils.rnn.pad_sequence(seqs, batch_first=True)
        batch = Batch(data, lengths, "list", "torch" if kinds == {"torch"} else "numpy")
    elif isinstance(x, (list, tuple)) and len(x) == 0:
        raise ValueError(f"{name} is empty")
    else:
        t, kind = _one_sequence(x, name, dtype, device, allow_3d=True)
        one_d = (x.ndim if isinstance(x, (torch.Tensor, np.ndarray)) else np.ndim(x)) == 1
        layout: Layout = "3d" if t.ndim == 3 else "1d" if one_d else "2d"
        if t.ndim == 2:
            t = t[None]
        batch = Batch(t, (t.shape[1],) * t.shape[0], layout, kind)
    if features is not None and batch.features != features:
        raise ValueError(
            f"{name} has {batch.features} feature(s) per step but {features_what or 'the model expects'} "
            f"{features}"
        )
    return batch


def from_batch(y: torch.Tensor, like: Batch):
    """Hand a ``(batch, time, features)`` result back in the layout and array type of ``like``."""

    def out(t: torch.Tensor):
        return t.cpu().numpy() if like.kind == "numpy" else t

    if like.layout == "list":
        return [out(y[b, :n]) for b, n in enumerate(like.lengths)]
    if like.layout == "1d":  # one feature in, one out: drop the feature axis again
        return out(y[0, :, 0]) if y.shape[-1] == 1 else out(y[0])
    if like.layout == "2d":
        return out(y[0])
    return out(y)


def ends_in(lengths: Sequence[int], chunk: slice) -> list[tuple[int, int]]:
    """``(sequence, index within the chunk)`` of the sequences whose last step falls in ``chunk``."""
    return [(b, n - 1 - chunk.start) for b, n in enumerate(lengths) if chunk.start < n <= chunk.stop]


def same_lengths(a: Batch, b: Batch, name_a: str, name_b: str) -> None:
    if a.batch_size != b.batch_size:
        raise ValueError(f"{name_a} holds {a.batch_size} sequence(s) but {name_b} holds {b.batch_size}")
    if a.lengths != b.lengths:
        for i, (la, lb) in enumerate(zip(a.lengths, b.lengths)):
            if la != lb:
                where = f" (sequence {i})" if a.batch_size > 1 else ""
                raise ValueError(f"{name_a} has {la} time steps but {name_b} has {lb}{where}; they must match")
