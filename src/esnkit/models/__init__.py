"""Models: the harvest engine, the Echo State Network estimator, ensembles, and model files."""

from .engine import ESNState
from .ensemble import Ensemble
from .esn import ESN
from .estimator import Estimator
from .saving import load, save

__all__ = ["ESN", "ESNState", "Ensemble", "Estimator", "load", "save"]
