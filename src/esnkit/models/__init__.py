"""Models: the harvest engine, the Echo State Network estimator, ensembles, the NVAR, the deep ESN, parallel reservoirs,
and model files."""

from .classifier import ESNClassifier
from .deep_esn import DeepESN
from .engine import ESNState
from .ensemble import Ensemble
from .esn import ESN
from .estimator import Estimator
from .nvar import NVAR
from .parallel_esn import ParallelESN
from .saving import load, save

__all__ = ["DeepESN", "ESN", "ESNClassifier", "ESNState", "Ensemble", "Estimator", "NVAR", "ParallelESN", "load",
           "save"]
