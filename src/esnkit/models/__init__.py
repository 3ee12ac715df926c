"""Models: the Echo State Network estimator and ensembles of them."""

from .ensemble import Ensemble
from .esn import ESN, ESNState

__all__ = ["ESN", "ESNState", "Ensemble"]
