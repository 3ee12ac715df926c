"""Reservoir construction: random initialisers, spectral scaling, and the frozen reservoir module.

The reservoir holds the fixed weights of the state update

    x[t] = (1 - a) * x[t-1] + a * f(W x[t-1] + W_in u[t] + W_fb y[t-1] + b)

This layer knows nothing of time loops, readouts or models.
"""

from .activations import ACTIVATIONS, ACTIVATIONS_OUT, Activation, check_activation, resolve_activation
from .initializers import (
    INITIALIZERS,
    CycleJumps,
    default_connectivity,
    delay_line,
    orthogonal,
    random_recurrent,
    register_initializer,
)
from .module import Drive, Reservoir
from .spectral import (
    EchoStatePropertyWarning,
    clear_spectrum_cache,
    effective_spectral_radius,
    scale_to_spectral_radius,
    seeded_effective_radius,
    spectral_radius,
)

__all__ = [
    "ACTIVATIONS",
    "ACTIVATIONS_OUT",
    "Activation",
    "CycleJumps",
    "Drive",
    "INITIALIZERS",
    "EchoStatePropertyWarning",
    "Reservoir",
    "check_activation",
    "clear_spectrum_cache",
    "default_connectivity",
    "delay_line",
    "effective_spectral_radius",
    "orthogonal",
    "random_recurrent",
    "register_initializer",
    "resolve_activation",
    "scale_to_spectral_radius",
    "seeded_effective_radius",
    "spectral_radius",
]
