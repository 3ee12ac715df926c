"""Models: the harvest engine, the Echo State Network estimator, ensembles, and model files."""

from .engine import ESNState
from .ensemble import Ensemble
from .esn import ESN
from .saving import load, save

__all__ = ["ESN", "ESNState", "Ensemble", "load", "save"]
