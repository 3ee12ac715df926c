"""Chaotic forecasting benchmarks: pinned protocols anyone can score a model on, and the contestants.

    import esnkit.benchmarks as bm
    p = bm.lorenz()                                   # or bm.mackey_glass(), bm.rossler()
    score = p.evaluate(bm.ESNForecaster(**bm.configs.tuned("lorenz")))
    print(score.headline, score.values)               # median VPT in Lyapunov times, ...

Any object with ``fit(series)`` and ``forecast(contexts, horizon)`` can be scored (see
:class:`Forecaster`). ``esnkit bench`` runs every protocol against an LSTM and reservoirpy.
"""

from . import configs
from .forecasters import ESNForecaster, ReservoirpyForecaster, reservoirpy_available
from .protocols import PROTOCOLS, Forecaster, Protocol, Score, Windows, get, lorenz, mackey_glass, rossler

__all__ = [
    "PROTOCOLS",
    "ESNForecaster",
    "Forecaster",
    "Protocol",
    "ReservoirpyForecaster",
    "Score",
    "Windows",
    "configs",
    "get",
    "lorenz",
    "mackey_glass",
    "reservoirpy_available",
    "rossler",
]
