"""Models: the Echo State Network estimator and ensembles of them."""

from .ensemble import Ensemble
from .esn import ESN, ESNState
from .estimator import Estimator

__all__ = ["ESN", "ESNState", "Ensemble", "Estimator"]
