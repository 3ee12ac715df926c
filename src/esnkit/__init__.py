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

Nothing is imported with the package itself, not even PyTorch: each name below is imported when
first used, so ``esnkit --help`` answers at once and ``import esnkit`` costs nothing. The optional
pieces (``search`` and its helpers, ``plotting``, ``benchmarks``, ``sklearn``) need extras (``pip
install "esnkit[search]"``, ``[plot]``, ``[sklearn]``), whose absence is reported when they are used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# name -> (module, attribute or None for the module itself), imported when first asked for
_LAZY = {
    "datasets": ("esnkit.datasets", None),
    "errors": ("esnkit.errors", None),
    "io": ("esnkit.io", None),
    "loop": ("esnkit.loop", None),
    "metrics": ("esnkit.metrics", None),
    "models": ("esnkit.models", None),
    "readout": ("esnkit.readout", None),
    "reservoir": ("esnkit.reservoir", None),
    "MissingExtraError": ("esnkit.errors", "MissingExtraError"),
    "NonFiniteStateError": ("esnkit.errors", "NonFiniteStateError"),
    "NotFittedError": ("esnkit.errors", "NotFittedError"),
    "OutputRangeWarning": ("esnkit.errors", "OutputRangeWarning"),
    "EsnkitWarning": ("esnkit.errors", "EsnkitWarning"),
    "UnderdeterminedFitWarning": ("esnkit.errors", "UnderdeterminedFitWarning"),
    "SaturationWarning": ("esnkit.errors", "SaturationWarning"),
    "ShortWashoutWarning": ("esnkit.errors", "ShortWashoutWarning"),
    "SearchBoundaryWarning": ("esnkit.errors", "SearchBoundaryWarning"),
    "SearchCapWarning": ("esnkit.errors", "SearchCapWarning"),
    "SearchError": ("esnkit.errors", "SearchError"),
    "load": ("esnkit.models", "load"),
    "save": ("esnkit.models", "save"),
    "NativeKernelWarning": ("esnkit.loop", "NativeKernelWarning"),
    "native": ("esnkit.loop", "native"),
    "unroll": ("esnkit.loop", "unroll"),
    "use_backend": ("esnkit.loop", "use_backend"),
    "ESN": ("esnkit.models", "ESN"),
    "ESNState": ("esnkit.models", "ESNState"),
    "ESNClassifier": ("esnkit.models", "ESNClassifier"),
    "NVAR": ("esnkit.models", "NVAR"),
    "DeepESN": ("esnkit.models", "DeepESN"),
    "ParallelESN": ("esnkit.models", "ParallelESN"),
    "DelayMonomials": ("esnkit.readout", "DelayMonomials"),
    "Pooling": ("esnkit.readout", "Pooling"),
    "Ensemble": ("esnkit.models", "Ensemble"),
    "NormalEquations": ("esnkit.readout", "NormalEquations"),
    "Readout": ("esnkit.readout", "Readout"),
    "RidgePath": ("esnkit.readout", "RidgePath"),
    "kfold_sse": ("esnkit.readout", "kfold_sse"),
    "ridge_grid": ("esnkit.readout", "ridge_grid"),
    "solve_lstsq": ("esnkit.readout", "solve_lstsq"),
    "solve_normal_equations": ("esnkit.readout", "solve_normal_equations"),
    "Drive": ("esnkit.reservoir", "Drive"),
    "EchoStatePropertyWarning": ("esnkit.reservoir", "EchoStatePropertyWarning"),
    "Reservoir": ("esnkit.reservoir", "Reservoir"),
    "effective_spectral_radius": ("esnkit.reservoir", "effective_spectral_radius"),
    "scale_to_spectral_radius": ("esnkit.reservoir", "scale_to_spectral_radius"),
    "spectral_radius": ("esnkit.reservoir", "spectral_radius"),
    # the optional pieces
    "search": ("esnkit.tuning", "search"),
    "SearchResult": ("esnkit.tuning", "SearchResult"),
    "SearchSpace": ("esnkit.tuning", "SearchSpace"),
    "load_space": ("esnkit.tuning", "load_space"),
    "make_space": ("esnkit.tuning", "make_space"),
    "tuning": ("esnkit.tuning", None),
    "forecast_series": ("esnkit.forecasting", "forecast_series"),
    "tune_forecaster": ("esnkit.forecasting", "tune_forecaster"),
    "SeriesForecaster": ("esnkit.forecasting", "SeriesForecaster"),
    "Forecast": ("esnkit.forecasting", "Forecast"),
    "forecasting": ("esnkit.forecasting", None),
    "tabular": ("esnkit.tabular", None),
    "plotting": ("esnkit.plotting", None),
    "benchmarks": ("esnkit.benchmarks", None),
    "sklearn": ("esnkit.sklearn", None),
}

if TYPE_CHECKING:  # what type checkers and editors see: the core names of _LAZY (a test keeps them in step)
    from . import datasets, metrics
    from . import errors as errors
    from . import io as io
    from . import loop as loop
    from . import models as models
    from . import readout as readout
    from . import reservoir as reservoir
    from . import tabular as tabular
    from .errors import (
        EsnkitWarning,
        MissingExtraError,
        NonFiniteStateError,
        NotFittedError,
        OutputRangeWarning,
        SaturationWarning,
        SearchBoundaryWarning,
        SearchCapWarning,
        SearchError,
        ShortWashoutWarning,
        UnderdeterminedFitWarning,
    )
    from .loop import NativeKernelWarning, native, unroll, use_backend
    from .models import ESN, NVAR, DeepESN, Ensemble, ESNClassifier, ESNState, ParallelESN, load, save
    from .readout import (
        DelayMonomials,
        NormalEquations,
        Pooling,
        Readout,
        RidgePath,
        kfold_sse,
        ridge_grid,
        solve_lstsq,
        solve_normal_equations,
    )
    from .reservoir import (
        Drive,
        EchoStatePropertyWarning,
        Reservoir,
        effective_spectral_radius,
        scale_to_spectral_radius,
        spectral_radius,
    )


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
    "DeepESN",
    "DelayMonomials",
    "Drive",
    "ESN",
    "ESNClassifier",
    "ESNState",
    "Ensemble",
    "Forecast",
    "SeriesForecaster",
    "EchoStatePropertyWarning",
    "MissingExtraError",
    "NativeKernelWarning",
    "NVAR",
    "NonFiniteStateError",
    "ParallelESN",
    "NormalEquations",
    "NotFittedError",
    "EsnkitWarning",
    "OutputRangeWarning",
    "SaturationWarning",
    "SearchBoundaryWarning",
    "ShortWashoutWarning",
    "UnderdeterminedFitWarning",
    "Pooling",
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
    "forecast_series",
    "forecasting",
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
    "tabular",
    "tune_forecaster",
    "unroll",
    "use_backend",
    "__version__",
]
