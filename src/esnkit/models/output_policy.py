"""The output policy: what a run's outputs must be before they are handed back (docs/reliability.md).

A non-finite output raises :class:`~esnkit.NonFiniteStateError`; an output of a free run more than
``RANGE_FACTOR`` half-ranges of the training targets from their centre warns
:class:`~esnkit.OutputRangeWarning` (finite values like 1e287 are a diverging run, not a forecast).
Both name the output, the sequence and the first such step. A driven run is not range-checked:
from a cold state its first outputs may legitimately be far off.
"""

from __future__ import annotations

import warnings

import torch

from .._checks import all_finite
from .._series import Batch
from ..errors import NonFiniteStateError, OutputRangeWarning

# An output farther than this many half-ranges of the training targets from their centre is far
# outside anything the readout was fitted on.
RANGE_FACTOR = 10.0


def target_range(targets: Batch) -> torch.Tensor:
    """The training targets' minimum and maximum per output, (2, D), over the real steps only."""
    mask = targets.mask()[..., None]
    big = torch.finfo(targets.data.dtype).max
    return torch.stack([targets.data.masked_fill(~mask, big).amin(dim=(0, 1)),
                        targets.data.masked_fill(~mask, -big).amax(dim=(0, 1))]).detach()


def check_outputs(y: torch.Tensor, what: str, mask: torch.Tensor | None = None, *, free: bool = True,
                  target_range: torch.Tensor | None = None) -> None:
    """Apply the policy to outputs ``y`` (B, T, D) of ``what`` (the call's name, for the message).

    ``mask`` (B, T) marks the real steps of a padded batch; ``target_range`` (2, D) is the model's
    training range (None: no range check), used for a free run (``free``) only.
    """
    if mask is not None and not bool(mask.all()):
        y = y.masked_fill(~mask[..., None], 0.0)
    r = target_range if free else None
    if r is not None:
        centre, half = (r[1] + r[0]) / 2, ((r[1] - r[0]) / 2).clamp_min(torch.finfo(r.dtype).tiny)
    # One pass for the common case: the extremes of each output (NaN and Inf show there too).
    flat = y.reshape(-1, y.shape[-1])
    lo, hi = flat.amin(dim=0), flat.amax(dim=0)
    if all_finite(lo) and all_finite(hi) and (
            r is None or not bool(((hi - centre).maximum(centre - lo) > RANGE_FACTOR * half).any())):
        return
    if not all_finite(y):
        b, s, d = (int(i) for i in torch.nonzero(~torch.isfinite(y))[0])
        raise NonFiniteStateError(
            f"{what}: output {d} of sequence {b} is {float(y[b, s, d])} at step {s}: the run "
            "diverged. Lower spectral_radius, input_scaling or feedback_scaling, or raise ridge; "
            "check_finite=False returns such runs as they are")
    if r is None:
        return
    far = (y - centre).abs() > RANGE_FACTOR * half
    if mask is not None:
        far &= mask[..., None]
    if bool(far.any()):
        b, s, d = (int(i) for i in torch.nonzero(far)[0])
        warnings.warn(
            f"{what}: output {d} of sequence {b} is {float(y[b, s, d]):.4g} at step {s}, more than "
            f"{RANGE_FACTOR:g} half-ranges from the training targets' range [{float(r[0, d]):.4g}, "
            f"{float(r[1, d]):.4g}]: the run is probably diverging", OutputRangeWarning, stacklevel=3)
