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

The optional pieces (``search`` and its helpers, ``plotting``, ``benchmarks``, ``sklearn``) are
imported on first use, so ``import esnkit`` loads neither Optuna, Dask, matplotlib nor scikit-learn.
"""

from __future__ import annotations

import importlib
from typing import Any

from . import datasets, metrics
from .errors import MissingExtraError, NonFiniteStateError, NotFittedError, SearchCapWarning, SearchError
from .io import load, save
from .loop import NativeKernelWarning, native, unroll, use_backend
from .models import ESN, Ensemble, ESNState
from .readout import NormalEquations, Readout, RidgePath, kfold_sse, ridge_grid, solve_lstsq, solve_normal_equations
from .reservoir import (
    Drive,
    EchoStatePropertyWarning,
    Reservoir,
    effective_spectral_radius,
    scale_to_spectral_radius,
    spectral_radius,
)

__version__ = "0.1.0"

# name -> (module, attribute or None for the module itself), imported when first asked for
_LAZY = {
    "search": ("esnkit.tuning", "search"),
    "SearchResult": ("esnkit.tuning", "SearchResult"),
    "SearchSpace": ("esnkit.tuning", "SearchSpace"),
    "load_space": ("esnkit.tuning", "load_space"),
    "make_space": ("esnkit.tuning", "make_space"),
    "tuning": ("esnkit.tuning", None),
    "plotting": ("esnkit.plotting", None),
    "benchmarks": ("esnkit.benchmarks", None),
    "sklearn": ("esnkit.sklearn", None),
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module, attr = _LAZY[name]
        value = importlib.import_module(module)
        if attr is not None:
            value = getattr(value, attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'esnkit' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "Drive",
    "ESN",
    "ESNState",
    "Ensemble",
    "EchoStatePropertyWarning",
    "MissingExtraError",
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
