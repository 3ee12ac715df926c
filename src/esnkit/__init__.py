"""esnkit: Echo State Networks on PyTorch.

A large, sparse, random and frozen reservoir is driven by the input; only a linear readout is
trained, in closed form (ridge regression or the pseudoinverse)::

    x[t] = (1 - a) x[t-1] + a f(W x[t-1] + W_in u[t] + W_fb y[t-1] + b)
    y[t] = W_out [1; u[t]; x[t]]

Quick start::

    import esnkit as ek
    data = ek.datasets.mackey_glass(6000)
    esn = ek.ESN(1000, spectral_radius=0.9, leak_rate=0.3, ridge=1e-7, washout=100, seed=0)
    esn.fit(data[:4000], data[1:4001])
    forecast = esn.generate(500)
"""

from . import benchmarks, datasets, metrics, native, plotting
from .ensemble import Ensemble
from .errors import NonFiniteStateError, NotFittedError
from .esn import ESN, ESNState
from .io import load, save
from .loop import unroll, use_backend
from .native import NativeKernelWarning
from .readout import NormalEquations, Readout, solve_lstsq, solve_normal_equations
from .reservoir import (
    Drive,
    EchoStatePropertyWarning,
    Reservoir,
    effective_spectral_radius,
    scale_to_spectral_radius,
    spectral_radius,
)
from .ridge_path import RidgePath, kfold_sse, ridge_grid
from .search_space import SearchSpace, load_space, make_space
from .searching import SearchCapWarning, SearchError, SearchResult, search

__version__ = "0.1.0"

__all__ = [
    "Drive",
    "ESN",
    "ESNState",
    "Ensemble",
    "EchoStatePropertyWarning",
    "NativeKernelWarning",
    "NonFiniteStateError",
    "NormalEquations",
    "NotFittedError",
    "Readout",
    "Reservoir",
    "RidgePath",
    "SearchCapWarning",
    "SearchError",
    "SearchResult",
    "SearchSpace",
    "benchmarks",
    "datasets",
    "effective_spectral_radius",
    "kfold_sse",
    "load",
    "load_space",
    "make_space",
    "metrics",
    "native",
    "plotting",
    "ridge_grid",
    "save",
    "scale_to_spectral_radius",
    "search",
    "solve_lstsq",
    "solve_normal_equations",
    "spectral_radius",
    "unroll",
    "use_backend",
    "__version__",
]
