"""Pinned chaotic forecasting protocols: the exact data, the test windows and the score.

A protocol generates its training series and its test windows itself (no downloads) and scores any
forecaster that follows the two-method interface of :class:`Forecaster`::

    fit(series)                      # series (T, D): learn one-step-ahead prediction
    forecast(contexts, horizon)      # contexts (S, W, D) -> forecasts (S, horizon, D)

``forecast`` is teacher-forced through each context (the true values are the inputs) and then runs
free: its first output is the forecast of the step right after the context, each later output is
fed back as the next input. Everything that decides a score is a field of :class:`Protocol`, so two
libraries scored by the same protocol object saw the same numbers.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any, Callable, runtime_checkable
from typing import Protocol as TypingProtocol

import numpy as np

from .. import datasets, metrics

LORENZ_LYAPUNOV = 0.906
ROSSLER_LYAPUNOV = 0.0714


@runtime_checkable
class Forecaster(TypingProtocol):
    """What a protocol needs from a model (an ESN, an LSTM, another library's model...)."""

    def fit(self, series: np.ndarray) -> Any: ...

    def forecast(self, contexts: np.ndarray, horizon: int) -> np.ndarray: ...


@dataclass(frozen=True)
class Windows:
    """A protocol's data: ``train`` (T, D); ``contexts`` (S, W, D) and ``truth`` (S, H, D) of the S test
    starts; ``scale`` (D,), the per-variable standard deviation of ``train`` that errors are divided by."""

    train: np.ndarray
    contexts: np.ndarray
    truth: np.ndarray
    scale: np.ndarray


@dataclass(frozen=True)
class Score:
    """A forecaster's result on a protocol.

    ``headline`` is the protocol's number (NRMSE84, or median VPT at the first threshold in Lyapunov
    times); ``values`` has every reported statistic; ``per_start`` the headline measure at each test
    start; ``error_curve`` (H,) the normalised RMS error over starts at each step of the horizon.
    """

    protocol: str
    headline: float
    values: dict[str, float]
    per_start: np.ndarray
    error_curve: np.ndarray


@dataclass(frozen=True)
class Protocol:
    """One benchmark, pinned: how the series is made, how it is split, and how a forecast is scored.

    ``metric`` is ``"nrmse84"`` (Jaeger's: the error at the last step of the horizon, pooled over
    the test starts, ``sqrt(mean_s (y_s[H] - d_s[H])² / σ²)`` with σ² the variance of the training
    series) or ``"vpt"`` (valid prediction time: the first step where
    ``sqrt(mean_i ((y_i - d_i) / σ_i)²)`` exceeds the threshold, times ``dt × λ`` in Lyapunov times).
    """

    name: str
    title: str
    description: str
    metric: str
    train_steps: int
    warmup: int
    horizon: int
    starts: int
    stride: int
    dt: float
    make: Callable[[int, int], tuple[np.ndarray, np.ndarray]] = field(repr=False)
    lyapunov_exponent: float | None = None
    thresholds: tuple[float, ...] = (0.3, 0.5)

    @property
    def test_steps(self) -> int:
        return self.warmup + (self.starts - 1) * self.stride + self.horizon

    @property
    def time_scale(self) -> float:
        """Lyapunov times per step (1 when the protocol counts steps)."""
        return self.dt * self.lyapunov_exponent if self.lyapunov_exponent else 1.0

    def series(self) -> tuple[np.ndarray, np.ndarray]:
        """The training series ``(train_steps, D)`` and the test series ``(test_steps, D)``."""
        return _series(self)

    def windows(self, starts: int | None = None) -> Windows:
        """Train series, and the ``starts`` (default: all) test contexts and truths."""
        train, test = self.series()
        n = self.starts if starts is None else starts
        if not isinstance(n, int) or not 1 <= n <= self.starts:
            raise ValueError(f"starts must be an integer in 1..{self.starts}, got {starts!r}")
        at = [self.warmup + i * self.stride for i in range(n)]
        contexts = np.stack([test[s - self.warmup: s] for s in at])
        truth = np.stack([test[s: s + self.horizon] for s in at])
        return Windows(train, contexts, truth, train.std(axis=0))

    def score(self, forecasts: Any, windows: Windows | None = None) -> Score:
        """Score ``forecasts`` (S, horizon, D) against the first S test starts."""
        try:
            pred = np.asarray(forecasts, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"forecasts must be an array of numbers (starts, horizon, features): {exc}") from None
        w = windows if windows is not None else self.windows(pred.shape[0] if pred.ndim == 3 else None)
        if pred.shape != w.truth.shape:
            raise ValueError(f"forecasts must have shape {w.truth.shape} (starts, horizon, features), "
                             f"got {pred.shape}")
        # A diverged free run is a score, not a crash: its steps count as an infinite error.
        err = metrics.normalized_error(w.truth, pred, scale=w.scale)  # (S, H)
        curve = np.sqrt(np.mean(err**2, axis=0))
        if self.metric == "nrmse84":
            last = err[:, -1]
            values = {  # NRMSE over the starts at a step: the RMS of the normalised errors there
                "nrmse84": float(np.sqrt(np.mean(last**2))),
                "nrmse_horizon": float(np.sqrt(np.mean(err**2))),
                "nrmse_one_step": float(np.sqrt(np.mean(err[:, 0] ** 2))),
            }
            return Score(self.name, values["nrmse84"], values, last, curve)
        values = {}
        per_start = None
        for eps in self.thresholds:
            vpt = metrics.valid_prediction_time(w.truth, pred, threshold=eps, scale=w.scale, dt=self.time_scale)
            q25, q50, q75 = np.percentile(vpt, [25, 50, 75])
            tag = "" if eps == self.thresholds[0] else f"@{eps:g}"
            values.update({f"vpt_median{tag}": float(q50), f"vpt_q25{tag}": float(q25),
                           f"vpt_q75{tag}": float(q75), f"vpt_min{tag}": float(vpt.min())})
            if per_start is None:
                per_start = vpt
        return Score(self.name, values["vpt_median"], values, per_start, curve)

    def evaluate(self, model: Forecaster, *, starts: int | None = None) -> Score:
        """Fit ``model`` on the training series, forecast every test start and score it."""
        if not isinstance(model, Forecaster):
            raise TypeError(f"model must have fit(series) and forecast(contexts, horizon); got {type(model).__name__}")
        w = self.windows(starts)
        model.fit(w.train)
        return self.score(model.forecast(w.contexts, self.horizon), w)

    def better(self, a: float, b: float) -> bool:
        """Whether headline ``a`` is at least as good as ``b``."""
        return a >= b if self.metric == "vpt" else a <= b


@functools.lru_cache(maxsize=8)
def _series(p: Protocol) -> tuple[np.ndarray, np.ndarray]:
    train, test = p.make(p.train_steps, p.test_steps)
    train.setflags(write=False)
    test.setflags(write=False)
    return train, test


def _mackey_glass(train_steps: int, test_steps: int) -> tuple[np.ndarray, np.ndarray]:
    # One trajectory; the test part follows the training part after a gap of 1000 samples so no
    # test context overlaps what the model was trained on.
    gap = 1000
    s = np.tanh(datasets.mackey_glass(train_steps + gap + test_steps, tau=17) - 1.0)
    return s[:train_steps], s[train_steps + gap:]


def _flow(generator: Callable, dt: float):
    def make(train_steps: int, test_steps: int) -> tuple[np.ndarray, np.ndarray]:
        # The test trajectory starts from another initial condition (seed 1): an independent orbit.
        return generator(train_steps, dt=dt), generator(test_steps, dt=dt, seed=1)

    return make


# Module-level, so that equal protocols hash equal and share the cached series.
_lorenz = _flow(datasets.lorenz, 0.02)
_rossler = _flow(datasets.rossler, 0.1)


def mackey_glass(*, train_steps: int = 3000, starts: int = 100) -> Protocol:
    """Mackey-Glass τ = 17, Jaeger's NRMSE84 (Jaeger & Haas 2004, Science 304:78-80).

    ``dx/dt = 0.2 x(t-17) / (1 + x(t-17)^10) - 0.1 x(t)`` by RK4 with step 1/10, one sample per time
    unit, constant history 1.2, the first 1000 samples dropped; squashed as ``tanh(x - 1)``. Train on
    the first ``train_steps`` samples; 1000 samples later the test part begins: ``starts`` starts 100
    samples apart, each teacher-forced for 500 steps, then 84 free-running steps. Best published
    ESN result: NRMSE84 = 10^-4.2 ≈ 6.3e-5 with N = 1000.
    """
    _check(train_steps, starts, 200)
    return Protocol(
        name="mackey_glass", title="Mackey-Glass τ=17, NRMSE84",
        description=("Mackey-Glass (β 0.2, γ 0.1, n 10, τ 17), RK4 step 1/10, one sample per time unit, tanh(x − 1); "
                     f"{train_steps} training steps; {starts} test starts 100 apart after a 1000-step gap, "
                     "500 teacher-forced steps each, then 84 free-running; NRMSE84 = error at step 84 "
                     "pooled over starts / std of the training series"),
        metric="nrmse84", train_steps=train_steps, warmup=500, horizon=84, starts=starts, stride=100, dt=1.0,
        make=_mackey_glass,
    )


def _flow_protocol(name: str, title: str, system: str, *, dt: float, lyapunov_exponent: float, make: Callable,
                   train_steps: int, starts: int, warmup: int, horizon: int, stride: int) -> Protocol:
    _check(train_steps, starts, 500)
    lt = horizon * dt * lyapunov_exponent
    return Protocol(
        name=name, title=title,
        description=(f"{system}, DOP853 rtol=atol=1e-10, Δt {dt}; {train_steps} training steps; {starts} test starts "
                     f"{stride} steps apart on an independent orbit, {warmup} teacher-forced steps, {horizon} "
                     f"free-running ({lt:.0f} Lyapunov times); λ {lyapunov_exponent}; ε 0.3 and 0.5 of each "
                     "variable's std"),
        metric="vpt", train_steps=train_steps, warmup=warmup, horizon=horizon, starts=starts, stride=stride, dt=dt,
        make=make, lyapunov_exponent=lyapunov_exponent,
    )


def lorenz(*, train_steps: int = 6000, starts: int = 20) -> Protocol:
    """Lorenz-63 (σ 10, ρ 28, β 8/3) valid prediction time in Lyapunov times (λ = 0.906).

    DOP853 at rtol = atol = 1e-10, Δt = 0.02, 50 time units of transient dropped. Train on
    ``train_steps`` samples from (1, 1, 1); test on an independent orbit (start perturbed with seed 1):
    ``starts`` starts 300 steps apart, 200 teacher-forced steps each, then 1500 free-running steps
    (27 Lyapunov times). Errors are divided by each variable's standard deviation on the training
    series; VPT at ε = 0.3 (headline) and 0.5.
    """
    return _flow_protocol("lorenz", "Lorenz-63, valid prediction time", "Lorenz-63 (σ 10, ρ 28, β 8/3)", dt=0.02,
                          lyapunov_exponent=LORENZ_LYAPUNOV, make=_lorenz, train_steps=train_steps, starts=starts,
                          warmup=200, horizon=1500, stride=300)


def rossler(*, train_steps: int = 6000, starts: int = 20) -> Protocol:
    """Rössler (a 0.2, b 0.2, c 5.7) valid prediction time in Lyapunov times (λ = 0.0714).

    DOP853 at rtol = atol = 1e-10, Δt = 0.1, 100 time units of transient dropped. Train on
    ``train_steps`` samples; test on an independent orbit (seed 1): ``starts`` starts 500 steps apart,
    300 teacher-forced steps each, then 4200 free-running steps (30 Lyapunov times). VPT at ε = 0.3
    (headline) and 0.5 of each variable's standard deviation on the training series.
    """
    return _flow_protocol("rossler", "Rössler, valid prediction time", "Rössler (a 0.2, b 0.2, c 5.7)", dt=0.1,
                          lyapunov_exponent=ROSSLER_LYAPUNOV, make=_rossler, train_steps=train_steps, starts=starts,
                          warmup=300, horizon=4200, stride=500)


PROTOCOLS: dict[str, Callable[..., Protocol]] = {
    "mackey_glass": mackey_glass,
    "lorenz": lorenz,
    "rossler": rossler,
}


def get(name: str, **kwargs: Any) -> Protocol:
    """A protocol by name (``mackey_glass``, ``lorenz`` or ``rossler``)."""
    if name not in PROTOCOLS:
        raise ValueError(f"unknown protocol {name!r}; choose from {sorted(PROTOCOLS)}")
    return PROTOCOLS[name](**kwargs)


def _check(train_steps: Any, starts: Any, min_train: int) -> None:
    for name, v, low in (("train_steps", train_steps, min_train), ("starts", starts, 1)):
        if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < low:
            raise ValueError(f"{name} must be an integer ≥ {low}, got {v!r}")
