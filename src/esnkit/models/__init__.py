"""Models: the harvest engine, the Echo State Network estimator, ensembles, the NVAR, and model files."""

from .classifier import ESNClassifier
from .engine import ESNState
from .ensemble import Ensemble
from .esn import ESN
from .estimator import Estimator
from .nvar import NVAR
from .saving import load, save

__all__ = ["ESN", "ESNClassifier", "ESNState", "Ensemble", "Estimator", "NVAR", "load", "save"]
