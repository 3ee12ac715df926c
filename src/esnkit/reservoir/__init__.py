"""Reservoir construction: random initialisers, spectral scaling, and the frozen reservoir module.

The reservoir holds the fixed weights of the state update

    x[t] = (1 - a) * x[t-1] + a * f(W x[t-1] + W_in u[t] + W_fb y[t-1] + b)

This layer knows nothing of time loops, readouts or models.
"""

from .activations import ACTIVATIONS, ACTIVATIONS_OUT, Activation, check_activation, resolve_activation
from .initializers import default_connectivity, random_recurrent
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
    "Drive",
    "EchoStatePropertyWarning",
    "Reservoir",
    "check_activation",
    "clear_spectrum_cache",
    "default_connectivity",
    "effective_spectral_radius",
    "random_recurrent",
    "resolve_activation",
    "scale_to_spectral_radius",
    "seeded_effective_radius",
    "spectral_radius",
]
