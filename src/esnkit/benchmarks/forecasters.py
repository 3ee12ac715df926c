"""Reservoir contestants behind the protocols' two-method interface: esnkit's ESN and reservoirpy's.

Both are one-step-ahead forecasters: ``fit(series)`` trains ``series[t] -> series[t+1]``;
``forecast(contexts, horizon)`` warms the network up on each context from a zero state, takes its
last output as the first forecast and then runs it free (``ESN.forecast``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..models import ESN


def _series(series: Any) -> np.ndarray:
    s = np.asarray(series, dtype=np.float64)
    if s.ndim != 2 or s.shape[0] < 3:
        raise ValueError(f"series must be a (time, features) array with at least 3 steps, got shape {s.shape}")
    return s


def _contexts(contexts: Any, horizon: Any, features: int) -> np.ndarray:
    c = np.asarray(contexts, dtype=np.float64)
    if c.ndim != 3 or c.shape[1] < 1 or c.shape[2] != features:
        raise ValueError(f"contexts must be (starts, steps, {features}), got shape {c.shape}")
    if not isinstance(horizon, (int, np.integer)) or horizon < 1:
        raise ValueError(f"horizon must be a positive integer, got {horizon!r}")
    return c


class ESNForecaster:
    """An :class:`esnkit.ESN` as a one-step forecaster; ``params`` are ESN constructor arguments."""

    def __init__(self, **params: Any) -> None:
        ESN(**params)  # validates the parameters now, not at fit time
        self.params = params
        self.esn: ESN | None = None

    def fit(self, series: Any) -> ESNForecaster:
        s = _series(series)
        self.esn = ESN(**self.params).fit(s[:-1], s[1:])
        return self

    def forecast(self, contexts: Any, horizon: int) -> np.ndarray:
        if self.esn is None:
            raise ValueError("call fit(series) before forecast")
        c = _contexts(contexts, horizon, self.esn.output_size_)
        # A start that diverges is a score, not a crash: its forecast runs on as NaN/Inf from the step
        # it blew up (the protocol scores that as an infinite error), and the other starts keep theirs.
        return np.asarray(self.esn.forecast(c, horizon, check_finite=False))


def reservoirpy_available() -> str | None:
    """None when reservoirpy can be imported, else why not."""
    try:
        import reservoirpy  # noqa: F401
    except Exception as exc:  # noqa: BLE001 - any import failure means: skip it
        return f"reservoirpy is not installed ({type(exc).__name__}: {exc}); pip install 'esnkit[bench]'"
    return None


class ReservoirpyForecaster:
    """The same ESN in reservoirpy: the same size, spectral radius, leak, input and bias scaling, about
    10 recurrent connections per neuron, dense input weights, the input in the readout and the same
    ridge. Random draws differ (each library has its own generators), so seeds do not map one to one."""

    def __init__(self, *, reservoir_size: int, spectral_radius: float, leak_rate: float = 1.0,
                 input_scaling: float = 1.0, bias_scaling: float = 0.5, ridge: float = 1e-8, washout: int = 0,
                 seed: int = 0) -> None:
        why = reservoirpy_available()
        if why:
            raise ImportError(why)
        self.kw = dict(reservoir_size=reservoir_size, spectral_radius=spectral_radius, leak_rate=leak_rate,
                       input_scaling=input_scaling, bias_scaling=bias_scaling, ridge=ridge, washout=washout,
                       seed=seed)
        self.model = None

    def fit(self, series: Any) -> ReservoirpyForecaster:
        from reservoirpy.mat_gen import uniform
        from reservoirpy.nodes import Input, Reservoir, Ridge

        s = _series(series)
        k = self.kw
        n = k["reservoir_size"]
        bias = uniform(low=-k["bias_scaling"], high=k["bias_scaling"]) if k["bias_scaling"] > 0 else 0.0
        res = Reservoir(n, sr=k["spectral_radius"], lr=k["leak_rate"], input_scaling=k["input_scaling"],
                        input_connectivity=1.0, rc_connectivity=min(1.0, 10 / n), bias=bias, seed=k["seed"])
        inp = Input()
        self.model = [inp >> res, inp] >> Ridge(ridge=k["ridge"])
        self.model.fit(s[:-1], s[1:], warmup=k["washout"])
        return self

    def forecast(self, contexts: Any, horizon: int) -> np.ndarray:
        if self.model is None:
            raise ValueError("call fit(series) before forecast")
        c = _contexts(contexts, horizon, contexts.shape[-1])
        out = np.empty((c.shape[0], horizon, c.shape[2]))
        for i, ctx in enumerate(c):
            self.model.reset()
            y = np.asarray(self.model.run(ctx))[-1]
            out[i, 0] = y
            for h in range(1, horizon):  # reservoirpy has no batched closed loop: one step call per step
                y = np.asarray(self.model.step(y)).reshape(-1)
                out[i, h] = y
        return out
