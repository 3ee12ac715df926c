"""Benchmark time series generated locally and deterministically (no downloads).

Every generator returns a NumPy float64 array of shape ``(n_steps, features)`` (NARMA-10 returns an
``(inputs, targets)`` pair). Chaotic flows are integrated accurately (RK4 on a fine grid, or DOP853
at 1e-10 tolerances): loose integration acts as noise and caps how far any model can forecast.
"""

from __future__ import annotations

import math

import numpy as np

MSO_FREQUENCIES = (0.2, 0.311, 0.42, 0.51, 0.63, 0.74, 0.85, 0.97)


def _check_steps(n_steps: int, name: str = "n_steps") -> None:
    if not isinstance(n_steps, (int, np.integer)) or isinstance(n_steps, bool) or n_steps < 1:
        raise ValueError(f"{name} must be a positive integer, got {n_steps!r}")


def _positive(**kw: float) -> None:
    for k, v in kw.items():
        if not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
            raise ValueError(f"{k} must be a finite number > 0, got {v!r}")


def mackey_glass(
    n_steps: int,
    *,
    tau: float = 17.0,
    beta: float = 0.2,
    gamma: float = 0.1,
    exponent: float = 10.0,
    dt: float = 0.1,
    sample_every: int = 10,
    x0: float = 1.2,
    discard: int = 1000,
    seed: int | None = None,
) -> np.ndarray:
    """The Mackey-Glass delay differential equation, sampled like the ESN literature.

    ``dx/dt = beta x(t - tau) / (1 + x(t - tau)^exponent) - gamma x(t)``, integrated by RK4 with
    step ``dt`` and kept every ``sample_every`` steps, so the defaults give one sample per time
    unit from steps of 1/10 (Jaeger 2001). Delayed values between grid points are cubic-
    interpolated (fourth order away from the derivative kinks a constant history leaves at
    t = τ, 2τ, …). The history is the constant ``x0`` (plus uniform ±0.1 noise drawn from
    ``seed`` when one is given); the first ``discard`` samples are dropped as transient. τ = 17
    is mildly chaotic, τ = 30 more so. Returns shape ``(n_steps, 1)``.
    """
    _check_steps(n_steps)
    _positive(tau=tau, dt=dt, beta=beta, gamma=gamma)
    if not isinstance(sample_every, int) or sample_every < 1:
        raise ValueError(f"sample_every must be a positive integer, got {sample_every!r}")
    if not isinstance(discard, int) or discard < 0:
        raise ValueError(f"discard must be an integer ≥ 0, got {discard!r}")
    if tau < 3 * dt:
        raise ValueError(f"tau must be at least 3 integration steps (3 * dt = {3 * dt}), got tau={tau}")
    delay = tau / dt
    n_hist = int(math.ceil(delay)) + 3
    total = (n_steps + discard) * sample_every
    if seed is None:
        hist = [float(x0)] * n_hist
    else:
        hist = list(x0 + np.random.default_rng(seed).uniform(-0.1, 0.1, n_hist))
    xs = hist + [0.0] * total
    p, b, g = exponent, beta, gamma

    def rhs(x: float, xd: float) -> float:
        return b * xd / (1.0 + xd**p) - g * x

    def lagged(pos: float) -> float:
        # Cubic Lagrange interpolation between grid points keeps the scheme fourth order (linear
        # interpolation of the delayed value would cap RK4 at second order).
        k = int(math.floor(pos))
        s = pos - k
        return (-s * (s - 1) * (s - 2) / 6 * xs[k - 1] + (s + 1) * (s - 1) * (s - 2) / 2 * xs[k]
                - (s + 1) * s * (s - 2) / 2 * xs[k + 1] + (s + 1) * s * (s - 1) / 6 * xs[k + 2])

    h = dt
    for i in range(n_hist - 1, n_hist - 1 + total):
        x = xs[i]
        xd0, xdm, xd1 = lagged(i - delay), lagged(i + 0.5 - delay), lagged(i + 1 - delay)
        k1 = rhs(x, xd0)
        k2 = rhs(x + 0.5 * h * k1, xdm)
        k3 = rhs(x + 0.5 * h * k2, xdm)
        k4 = rhs(x + h * k3, xd1)
        xs[i + 1] = x + h / 6.0 * (k1 + 2 * k2 + 2 * k3 + k4)
    out = np.asarray(xs[n_hist:], dtype=np.float64)[sample_every - 1 :: sample_every]
    return out[discard : discard + n_steps, None].copy()


def _flow(rhs, n_steps: int, dt: float, x0, seed: int | None, discard: float, rtol: float, atol: float) -> np.ndarray:
    """Integrate a 3-variable flow with DOP853; ``seed`` perturbs ``x0`` uniformly by ±1."""
    from scipy.integrate import solve_ivp  # imported here: ~0.3 s that import esnkit should not pay

    _check_steps(n_steps)
    _positive(dt=dt)
    x0 = np.asarray(x0, dtype=np.float64)
    if seed is not None:
        x0 = x0 + np.random.default_rng(seed).uniform(-1.0, 1.0, 3)
    t_end = discard + (n_steps - 1) * dt
    t_eval = discard + dt * np.arange(n_steps)
    sol = solve_ivp(rhs, (0.0, t_end), x0, method="DOP853", t_eval=t_eval, rtol=rtol, atol=atol)
    if not sol.success:  # pragma: no cover - DOP853 does not fail on these smooth flows
        raise RuntimeError(f"integration failed: {sol.message}")
    return sol.y.T.copy()


def lorenz(
    n_steps: int,
    *,
    dt: float = 0.02,
    sigma: float = 10.0,
    rho: float = 28.0,
    beta: float = 8.0 / 3.0,
    x0: tuple[float, float, float] = (1.0, 1.0, 1.0),
    discard: float = 50.0,
    seed: int | None = None,
    rtol: float = 1e-10,
    atol: float = 1e-10,
) -> np.ndarray:
    """Lorenz-63, ``(n_steps, 3)`` samples every ``dt`` time units after ``discard`` time units.

    ``x' = sigma (y - x)``, ``y' = x (rho - z) - y``, ``z' = x y - beta z``, integrated by DOP853 at
    ``rtol = atol = 1e-10``. ``seed`` perturbs ``x0`` uniformly by ±1 for independent trajectories.
    Largest Lyapunov exponent at the default parameters: λ ≈ 0.906 (one Lyapunov time ≈ 1.1 units).
    """

    def rhs(_t, s):
        x, y, z = s
        return [sigma * (y - x), x * (rho - z) - y, x * y - beta * z]

    return _flow(rhs, n_steps, dt, x0, seed, discard, rtol, atol)


def rossler(
    n_steps: int,
    *,
    dt: float = 0.1,
    a: float = 0.2,
    b: float = 0.2,
    c: float = 5.7,
    x0: tuple[float, float, float] = (1.0, 1.0, 0.0),
    discard: float = 100.0,
    seed: int | None = None,
    rtol: float = 1e-10,
    atol: float = 1e-10,
) -> np.ndarray:
    """Rössler attractor, ``(n_steps, 3)``: ``x' = -y - z``, ``y' = x + a y``, ``z' = b + z (x - c)``.

    Integrated by DOP853 at ``rtol = atol = 1e-10``; λ ≈ 0.071 at the default parameters.
    """

    def rhs(_t, s):
        x, y, z = s
        return [-y - z, x + a * y, b + z * (x - c)]

    return _flow(rhs, n_steps, dt, x0, seed, discard, rtol, atol)


def narma10(n_steps: int, *, seed: int | None = 0) -> tuple[np.ndarray, np.ndarray]:
    """NARMA-10 input/target pair, each ``(n_steps, 1)``.

    ``u[t] ~ uniform(0, 0.5)`` and ``y[t+1] = 0.3 y[t] + 0.05 y[t] Σ_{i=0..9} y[t-i] +
    1.5 u[t-9] u[t] + 0.1``. Returned so that ``targets[t] = y[t+1]``: a model fed ``inputs[: t+1]``
    predicts ``targets[t]``.
    """
    _check_steps(n_steps)
    u = np.random.default_rng(seed).uniform(0.0, 0.5, n_steps + 1)
    y = np.zeros(n_steps + 1)
    for t in range(9, n_steps):
        y[t + 1] = 0.3 * y[t] + 0.05 * y[t] * y[t - 9 : t + 1].sum() + 1.5 * u[t - 9] * u[t] + 0.1
    return u[:n_steps, None].copy(), y[1:, None].copy()


def sine(n_steps: int, *, period: float = 20.0, amplitude: float = 1.0, phase: float = 0.0) -> np.ndarray:
    """``amplitude * sin(2π t / period + phase)`` for ``t = 0 .. n_steps-1``; shape ``(n_steps, 1)``."""
    _check_steps(n_steps)
    _positive(period=period)
    t = np.arange(n_steps, dtype=np.float64)
    return (amplitude * np.sin(2 * np.pi * t / period + phase))[:, None]


def mso(n_steps: int, *, n_oscillators: int = 2, frequencies: tuple[float, ...] | None = None) -> np.ndarray:
    """Multiple superimposed oscillators: ``Σ_k sin(α_k t)``, shape ``(n_steps, 1)``.

    The classic frequencies are α = 0.2, 0.311, 0.42, 0.51, 0.63, 0.74, 0.85, 0.97; MSO-k uses the
    first k. Pass ``frequencies`` to choose others.
    """
    _check_steps(n_steps)
    if frequencies is None:
        if not isinstance(n_oscillators, int) or not 1 <= n_oscillators <= len(MSO_FREQUENCIES):
            raise ValueError(f"n_oscillators must be in 1..{len(MSO_FREQUENCIES)}, got {n_oscillators!r}")
        frequencies = MSO_FREQUENCIES[:n_oscillators]
    t = np.arange(n_steps, dtype=np.float64)
    return np.sum([np.sin(a * t) for a in frequencies], axis=0)[:, None]
