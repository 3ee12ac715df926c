"""Models: the harvest engine, the Echo State Network estimator, ensembles, and model files."""

from .classifier import ESNClassifier
from .engine import ESNState
from .ensemble import Ensemble
from .esn import ESN
from .estimator import Estimator
from .saving import load, save

__all__ = ["ESN", "ESNClassifier", "ESNState", "Ensemble", "Estimator", "load", "save"]
