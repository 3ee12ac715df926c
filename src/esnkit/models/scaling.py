"""Standardising series with statistics of the training data (the models' ``scale=True``).

Each feature ``j`` becomes ``(v_j - mean_j) / sd_j``, with the mean and the population standard
deviation of the training steps' real values (padding and, for a search's fit, the validation steps
left out). A feature that does not vary gets ``sd_j = 1``, so it is centred, not blown up. The
statistics are computed in float64, so a series far from zero (1e6 ± 1, say) keeps its digits.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import torch

from .._series import Batch


def standardisation(batch: Batch, *, until: int | None = None,
                    sequences: Sequence[int] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-feature ``(mean, sd)`` (float64, shape ``(features,)``) of ``batch``'s real steps before
    ``until`` (all when None), of the sequences ``sequences`` only when given."""
    mask = batch.mask()
    if until is not None:
        mask = mask & (torch.arange(batch.steps, device=mask.device) < until)[None]
    if sequences is not None:
        keep = torch.zeros(batch.batch_size, dtype=torch.bool, device=mask.device)
        keep[torch.as_tensor(list(sequences), dtype=torch.long, device=mask.device)] = True
        mask = mask & keep[:, None]
    values = batch.data[mask].to(torch.float64)
    mean = values.mean(dim=0)
    sd = values.std(dim=0, unbiased=False)
    # a constant feature (up to rounding of its values) is centred only
    sd = torch.where(sd > 1e-12 * (1 + mean.abs()), sd, torch.ones_like(sd))
    return mean, sd


def standardised(batch: Batch, mean: torch.Tensor, sd: torch.Tensor, *, dtype: torch.dtype | None = None) -> Batch:
    """``batch`` with every feature standardised, as ``dtype`` (default: the batch's); padding stays zero.
    A float32 model reads its data in float64 and standardises them before the cast, so a series
    far from zero keeps the digits that vary."""
    data = ((batch.data.to(torch.float64) - mean.to(torch.float64)) / sd.to(torch.float64)).to(
        dtype or batch.data.dtype)
    if batch.ragged:
        data = data * batch.mask()[..., None]
    return dataclasses.replace(batch, data=data)


def restored(y: torch.Tensor, mean: torch.Tensor, sd: torch.Tensor) -> torch.Tensor:
    """Standardised values ``y`` (..., features) back in the data's units."""
    return (y.to(torch.float64) * sd.to(torch.float64) + mean.to(torch.float64)).to(y.dtype)
