"""What a fit can tell about itself, as warnings that say the number and what to do.

All three read what the harvest already has (the readout's normal equations, the row count, the
parameters), so they cost nothing beyond a pass over the Gram matrix's diagonal:

- too few rows for the readout's features (:class:`~esnkit.UnderdeterminedFitWarning`);
- saturated neurons: the mean of ``x_i²`` over the training rows, which is the Gram matrix's
  diagonal over the row count, above :data:`SATURATED` for more than :data:`SATURATED_SHARE` of
  the neurons (:class:`~esnkit.SaturationWarning`);
- a washout shorter than the reservoir's memory of its zero start (:class:`~esnkit.ShortWashoutWarning`).
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import torch

from .._series import to_batch
from ..errors import SaturationWarning, ShortWashoutWarning, UnderdeterminedFitWarning
from ..params import _value_range, parse_features

# A tanh neuron whose mean x² exceeds this sits beyond |x| ≈ 0.95 most of the time.
SATURATED = 0.9
# More than this share saturated is "most of the reservoir": a searched configuration may saturate
# some neurons on purpose (a large bias makes them constant features; the tuned Lorenz-63 one, 35 %).
SATURATED_SHARE = 0.5
# The zero start is forgotten when its trace has decayed to this fraction.
FORGOTTEN = 0.01
# Transient rows matter when they are more than this share of a sequence's training rows.
TRANSIENT_SHARE = 0.05


def memory_steps(spectral_radius: float, leak_rate: Any) -> float:
    """Steps until a perturbation of the state decays to :data:`FORGOTTEN` of itself, by the linear
    bound ``r = 1 - a (1 - ρ)`` of the leaky update's contraction (``a`` the smallest leak rate;
    tanh contracts further). Infinite for ρ ≥ 1."""
    a = _value_range(leak_rate)[1]
    r = 1 - a * (1 - spectral_radius)
    if r <= 0:
        return 0.0  # no leak and no recurrence: the next step forgets the start
    return math.inf if r >= 1 else math.log(FORGOTTEN) / math.log(r)


def check_fit(model: Any, fit: Any, rows: int, features: int, lengths: tuple[int, ...], inputs: Any, *,
              from_zeros: bool, stacklevel: int) -> None:
    """Warn about ``model``'s fit: ``fit`` its trainer's accumulation, ``rows`` the rows it holds,
    ``features`` the readout's width, ``lengths`` the training sequences' lengths, ``inputs`` the
    training inputs as given (None for a pattern generator), ``from_zeros`` whether the harvest
    started from the zero state."""
    kw = {"stacklevel": stacklevel + 1}
    if 0 < rows < features:
        warnings.warn(
            f"fit: {rows} training rows (after washout={model.washout}) for a readout of {features} features: "
            f"the readout is under-determined, fits the training targets exactly and only ridge={model.ridge:g} "
            "decides what it does elsewhere; use a smaller reservoir_size (well under the row count), more data, "
            "and a ridge chosen on validation data (esnkit.search)", UnderdeterminedFitWarning, **kw)
    G = getattr(fit, "G", None)
    cols = _state_columns(model, features)
    if G is not None and rows > 0 and model.activation == "tanh" and cols is not None:
        mean_sq = G.diagonal()[cols] / rows
        share = float((mean_sq > SATURATED).double().mean())
        if share > SATURATED_SHARE:
            hint = "lower input_scaling and bias_scaling (and spectral_radius)"
            if inputs is not None and not model.scale:
                U = to_batch(inputs, "inputs", dtype=torch.float64, device=G.device)
                data = U.data[U.mask()]
                hint = (f"the inputs have mean {_fmt(data.mean(dim=0))} and std {_fmt(data.std(dim=0))}: pass "
                        "scale=True to standardise them, or " + hint)
            warnings.warn(
                f"fit: {share:.0%} of the reservoir's neurons are saturated (mean x² > {SATURATED} over the training "
                f"rows: tanh near ±1, where the states stop following the inputs); {hint}", SaturationWarning, **kw)
    if not from_zeros:
        return
    if isinstance(getattr(model, "initializer", None), str) and model.initializer == "delay_line":
        # nilpotent W: the zero start walks down the line for N steps, then leaks away as (1 - a)^t
        memory = model.reservoir_size + memory_steps(0.0, model.leak_rate)
    else:
        memory = memory_steps(model.spectral_radius, model.leak_rate)
    shortest = min(lengths)
    if math.isfinite(memory) and model.washout < memory and memory - model.washout > TRANSIENT_SHARE * shortest:
        steps = math.ceil(memory)
        fix = (f"set washout={steps}" if steps < shortest - 1 else
               f"a washout that long leaves nothing of the {shortest}-step sequence to fit on: use longer sequences, "
               "a larger leak_rate or a smaller spectral_radius")
        warnings.warn(
            f"fit: washout={model.washout} but the reservoir takes about {steps} steps to forget its zero "
            f"start (spectral radius {model.spectral_radius:g}, smallest leak rate "
            f"{_value_range(model.leak_rate)[1]:g}), more than {TRANSIENT_SHARE:.0%} of the shortest training "
            f"sequence ({shortest} steps): the readout fits those transient states too; {fix}",
            ShortWashoutWarning, **kw)


def _state_columns(model: Any, features: int) -> Any:
    """Where the readout's features hold the states ``x`` themselves (for their mean x²), by the
    named feature map; None for a FeatureMap object, whose layout is its own."""
    N, name = model.reservoir_size, getattr(model, "features", "linear")
    if not isinstance(name, str) or name == "custom":
        return None
    p = parse_features(name)
    start = features - N * (p["state_delays"] + (2 if p["squares"] == "all" else 1))  # where s(x[t]) begins
    return slice(start, start + N, 2 if p["squares"] == "half" else 1)


def _fmt(v: Any) -> str:
    values = [f"{float(x):.3g}" for x in v.flatten()[:3]]
    return values[0] if len(values) == 1 else "[" + ", ".join(values) + (", ...]" if v.numel() > 3 else "]")
