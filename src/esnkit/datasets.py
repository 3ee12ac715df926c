"""Benchmark time series generated locally and deterministically, and sequence classification sets (no downloads).

Every generator returns a NumPy float64 array of shape ``(n_steps, features)`` (NARMA-10 returns an
``(inputs, targets)`` pair). Chaotic flows are integrated accurately (RK4 on a fine grid, or DOP853
at 1e-10 tolerances): loose integration acts as noise and caps how far any model can forecast.

Every parameter is checked before any work, and the work is bounded: a ``ValueError`` names the
parameter when a size is not a positive integer, a number is NaN, infinite or out of range, the
result would not fit the machine's memory, or the integration would take more than
:data:`MAX_STEPS` RK4 steps (Mackey-Glass) or span more than :data:`MAX_SPAN` time units (the
flows). A flow whose parameters make it stiff or diverge is stopped after a budget of
right-hand-side evaluations (:data:`EVALS_PER_UNIT` per time unit) or when its state passes
:data:`BLOW_UP`, with a ``ValueError`` naming the parameters, instead of running for hours.

Spatiotemporal chaos: :func:`kuramoto_sivashinsky` (ETDRK4, pseudo-spectral) and :func:`lorenz96`
(DOP853), ``(n_steps, Q)`` and ``(n_steps, dim)``; :func:`largest_lyapunov_exponent` measures the
largest Lyapunov exponent of those and of :func:`lorenz` by Benettin's method (docs/spatiotemporal.md).
A Kuramoto–Sivashinsky call is bounded by :data:`MAX_KS_WORK`, and one whose solution stops being
finite raises a ``ValueError`` naming ``dt`` and the grid.

Sequence classification sets come as :class:`ClassificationData` (lists of float64 ``(time,
features)`` sequences and their labels, train and test): :func:`japanese_vowels` is bundled with
esnkit (its CC BY 4.0 licence allows it; the tests and CI use it offline); :func:`basic_motions`
and :func:`exercise_watch` read the files an installed sktime or aeon (the UEA archive has no clear
licence, so it is not bundled) or seglearn ship, without importing those packages (``pip install
"esnkit[datasets]"``, or the packages alone with ``--no-deps``; without them
``esnkit.MissingExtraError``). :func:`read_ts` parses any ``.ts`` classification file. Nothing is
downloaded, and no pickle is loaded unrestricted (see ``esnkit._sequence_data``).
"""

from __future__ import annotations

import inspect
import math
import numbers
import os
import warnings
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

import numpy as np

from . import _memory, _sequence_data, _spatiotemporal

MSO_FREQUENCIES = (0.2, 0.311, 0.42, 0.51, 0.63, 0.74, 0.85, 0.97)

# Bounds on the work of one call. Mackey-Glass runs its RK4 steps in Python (about 3 µs each, and a
# Python float per step: 10**8 steps take about 5 minutes and 3 GiB). DOP853 needs about 600
# right-hand-side evaluations per time unit for Lorenz-63 and 130 for Rössler at the default
# parameters (about 8 µs each), so 1e5 time units take Lorenz-63 about 8 minutes; the evaluation
# budget, 10,000 per time unit (at least 2e5, at most 1e8), stops a flow made stiff or divergent by
# its parameters within seconds to minutes.
MAX_STEPS = 10**8
MAX_LORENZ96_DIM = 4096
MAX_SPAN = 1e5
EVALS_PER_UNIT = 10_000
MIN_EVALS, MAX_EVALS = 200_000, 10**8
BLOW_UP = 1e100


def _check_steps(n_steps: int, name: str = "n_steps", *, features: int = 1) -> None:
    if not isinstance(n_steps, (int, np.integer)) or isinstance(n_steps, bool) or n_steps < 1:
        raise ValueError(f"{name} must be a positive integer, got {n_steps!r}")
    _memory.require_memory(32 * features * int(n_steps), f"{name}={n_steps} ({features} feature(s))",
                           f"ask for a smaller {name}")


def _is_real(v: Any) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, (bool, np.bool_))


def _finite(**kw: float) -> None:
    for k, v in kw.items():
        if not (_is_real(v) and math.isfinite(v)):
            raise ValueError(f"{k} must be a finite number, got {v!r}")


def _positive(**kw: float) -> None:
    for k, v in kw.items():
        if not (_is_real(v) and math.isfinite(v) and v > 0):
            raise ValueError(f"{k} must be a finite number > 0, got {v!r}")


def _integer(name: str, v: Any, least: int) -> None:
    if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < least:
        raise ValueError(f"{name} must be an integer ≥ {least}, got {v!r}")


def _seed(seed: Any) -> None:
    if seed is not None:
        _integer("seed", seed, 0)


def _discard(discard: Any) -> None:
    if not (_is_real(discard) and math.isfinite(discard) and discard >= 0):
        raise ValueError(f"discard must be a finite number ≥ 0 (time units), got {discard!r}")


def _state(value: Any, size: int, name: str, meaning: str) -> np.ndarray:
    """``value`` as a new float64 vector of ``size`` finite numbers, else a ValueError naming ``name``."""
    try:
        vector = np.array(value, dtype=np.float64) if not isinstance(value, (str, bytes)) else None
    except (TypeError, ValueError):
        vector = None
    if vector is None or vector.shape != (size,) or not np.isfinite(vector).all():
        raise ValueError(f"{name} must be {size} finite numbers ({meaning}), got {value!r}")
    return vector


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
    if not isinstance(n_steps, (int, np.integer)) or isinstance(n_steps, bool) or n_steps < 1:
        raise ValueError(f"n_steps must be a positive integer, got {n_steps!r}")
    _positive(tau=tau, dt=dt, beta=beta, gamma=gamma, exponent=exponent)
    _finite(x0=x0)
    if not isinstance(sample_every, (int, np.integer)) or isinstance(sample_every, bool) or sample_every < 1:
        raise ValueError(f"sample_every must be a positive integer, got {sample_every!r}")
    _integer("discard", discard, 0)
    _seed(seed)
    if tau < 3 * dt:
        raise ValueError(f"tau must be at least 3 integration steps (3 * dt = {3 * dt}), got tau={tau}")
    delay = tau / dt
    n_hist = int(math.ceil(delay)) + 3
    total = (int(n_steps) + int(discard)) * int(sample_every)
    if n_hist + total > MAX_STEPS:
        raise ValueError(
            f"mackey_glass would take {n_hist + total:.3g} RK4 steps of dt={dt} ((n_steps + discard) x sample_every "
            f"= ({n_steps} + {discard}) x {sample_every}, plus tau / dt = {delay:.3g} of history), more than the "
            f"{MAX_STEPS:.0e} this pure-Python integrator runs in a few minutes; use a larger dt or fewer steps"
        )
    _memory.require_memory(32 * (n_hist + total), f"mackey_glass's {n_hist + total} integration steps",
                           "use a larger dt or fewer steps")
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
    try:
        for i in range(n_hist - 1, n_hist - 1 + total):
            x = xs[i]
            xd0, xdm, xd1 = lagged(i - delay), lagged(i + 0.5 - delay), lagged(i + 1 - delay)
            k1 = rhs(x, xd0)
            k2 = rhs(x + 0.5 * h * k1, xdm)
            k3 = rhs(x + 0.5 * h * k2, xdm)
            k4 = rhs(x + h * k3, xd1)
            xs[i + 1] = x + h / 6.0 * (k1 + 2 * k2 + 2 * k3 + k4)
        out = np.asarray(xs[n_hist:], dtype=np.float64)[sample_every - 1 :: sample_every]
    except (OverflowError, ZeroDivisionError, TypeError) as exc:  # TypeError: a complex power of x < 0
        out = exc
    if isinstance(out, Exception) or not np.isfinite(out).all():
        raise ValueError(
            f"the Mackey-Glass equation diverged or left the real numbers at tau={tau}, beta={beta}, gamma={gamma}, "
            f"exponent={exponent}, x0={x0}, dt={dt}"
            + (f" ({type(out).__name__}: {out})" if isinstance(out, Exception) else "")
            + "; a non-integer exponent needs x > 0 (x0 > 0), and dt must resolve the dynamics"
        )
    return out[discard : discard + n_steps, None].copy()


class _Stop(Exception):
    """Raised inside the right-hand side to stop an integration that blew up or ran out of budget."""


def _flow(rhs, n_steps: int, dt: float, x0, seed: int | None, discard: float, rtol: float, atol: float,
          name: str = "the flow", params: str = "", typical: int = 600, dim: int = 3) -> np.ndarray:
    """Integrate a ``dim``-variable flow with DOP853; ``seed`` perturbs ``x0`` uniformly by ±1."""
    from scipy.integrate import solve_ivp  # imported here: ~0.3 s that import esnkit should not pay

    _check_steps(n_steps, features=dim)
    _positive(dt=dt, atol=atol)
    if not (_is_real(rtol) and 0 < rtol < 1):
        raise ValueError(f"rtol must be a number in (0, 1), got {rtol!r}")
    _discard(discard)
    _seed(seed)
    x0 = _state(x0, dim, "x0", "the initial state")
    if seed is not None:
        x0 = x0 + np.random.default_rng(seed).uniform(-1.0, 1.0, dim)
    t_end = discard + (n_steps - 1) * dt
    if t_end > MAX_SPAN:
        raise ValueError(
            f"{name} would be integrated over discard + (n_steps - 1) x dt = {discard} + {n_steps - 1} x {dt} = "
            f"{t_end:.3g} time units, more than the {MAX_SPAN:.0e} it integrates in a few minutes; use a smaller dt, "
            "fewer n_steps or a shorter discard"
        )
    if discard + dt == discard:
        raise ValueError(f"dt={dt} is below the resolution of the time axis at discard={discard}")
    if t_end == 0:  # one sample of the start: solve_ivp returns no array for an empty span
        return x0[None].copy()
    budget = int(min(MAX_EVALS, max(MIN_EVALS, EVALS_PER_UNIT * t_end)))
    calls = 0

    def counted(t, s):
        nonlocal calls
        calls += 1
        if calls > budget:
            raise _Stop(f"it needed more than {budget} right-hand-side evaluations for {t_end:.3g} time units "
                        f"(reaching t = {t:.3g}), where the default parameters need about {typical} per time unit")
        if not (float(s @ s) < BLOW_UP * BLOW_UP):  # also catches NaN
            raise _Stop(f"its state reached {s.tolist()} at t = {t:.3g}")
        return rhs(t, s)

    t_eval = discard + dt * np.arange(n_steps)
    failure = None
    try:
        with np.errstate(over="ignore", invalid="ignore"):
            sol = solve_ivp(counted, (0.0, t_end), x0, method="DOP853", t_eval=t_eval, rtol=rtol, atol=atol)
        if not sol.success:
            failure = f"the integrator stopped: {sol.message}"
    except _Stop as exc:
        failure = str(exc)
    if failure is not None:
        raise ValueError(
            f"{name} with {params}, x0={x0.tolist()}, rtol={rtol}, atol={atol} is stiff or diverges: {failure}; "
            "use parameters with a bounded attractor (the defaults), or a looser rtol/atol"
        )
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

    _finite(sigma=sigma, rho=rho, beta=beta)
    rhs, _ = _spatiotemporal.lorenz_field(sigma, rho, beta)
    return _flow(rhs, n_steps, dt, x0, seed, discard, rtol, atol, "lorenz", f"sigma={sigma}, rho={rho}, beta={beta}",
                 600)


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

    _finite(a=a, b=b, c=c)

    def rhs(_t, s):
        x, y, z = s
        return [-y - z, x + a * y, b + z * (x - c)]

    return _flow(rhs, n_steps, dt, x0, seed, discard, rtol, atol, "rossler", f"a={a}, b={b}, c={c}", 130)


# Bound on one Kuramoto–Sivashinsky call: ETDRK4 steps x max(Q, 512). One step (four FFT pairs,
# NumPy, one core) costs 40 to 90 µs from Q = 16 to Q = 512, about the same whatever Q up to there,
# and grows like Q log Q beyond: the bound is 5 million steps at Q <= 512, some 7 minutes (the tangent
# run of largest_lyapunov_exponent about twice that).
MAX_KS_WORK = 512 * 5 * 10**6


def _ks_prepare(L: float, Q: int, dt: float, substeps: int, dealias: bool, seed: int, u0: Any, discard: float,
                later_steps: int, name: str) -> tuple[_spatiotemporal.KSSolver, np.ndarray, int, float,
                                                      np.random.Generator]:
    """Check the Kuramoto–Sivashinsky arguments; the solver, the initial grid values, the number of
    discarded steps, the step and the generator the initial condition was drawn from."""
    _positive(L=L, dt=dt)
    _integer("Q", Q, 4)
    if Q % 2:
        raise ValueError(f"Q must be an even integer ≥ 4 (grid points), got {Q!r}")
    _integer("substeps", substeps, 1)
    if not isinstance(dealias, (bool, np.bool_)):
        raise ValueError(f"dealias must be True or False, got {dealias!r}")
    _integer("seed", seed, 0)
    _discard(discard)
    h = dt / substeps
    n_discard = int(math.ceil(discard / h - 1e-9))
    steps = n_discard + later_steps * substeps
    if steps * max(Q, 512) > MAX_KS_WORK:
        raise ValueError(
            f"{name} would take {steps:.3g} ETDRK4 steps of {Q} grid points, more than the "
            f"{MAX_KS_WORK // max(Q, 512):.3g} it runs in some 7 minutes at this Q; ask for fewer steps, a shorter "
            "discard, a larger dt or fewer substeps"
        )
    rng = np.random.default_rng(seed)
    if u0 is None:
        start = 0.1 * rng.standard_normal(Q)
        start -= start.mean()  # the mean of u is conserved; the attractor is studied at mean 0
    else:
        start = _state(u0, Q, "u0", f"u on the grid x_j = j L / Q, Q={Q}")
    return _spatiotemporal.KSSolver(float(L), int(Q), h, bool(dealias)), start, n_discard, h, rng


def _ks_diverged(step: int, h: float, L: float, Q: int, dt: float, substeps: int) -> ValueError:
    return ValueError(
        f"the Kuramoto–Sivashinsky solution stopped being finite after {step} ETDRK4 steps (t = {step * h:.4g}) "
        f"with L={L}, Q={Q}, dt={dt}, substeps={substeps}; use a smaller dt (or more substeps), or a finer grid "
        "(larger Q) for this L"
    )


def kuramoto_sivashinsky(
    n_steps: int,
    *,
    L: float = 22.0,
    Q: int = 64,
    dt: float = 0.25,
    discard: float = 1000.0,
    seed: int = 0,
    u0: np.ndarray | None = None,
    substeps: int = 1,
    dealias: bool = False,
) -> np.ndarray:
    """The Kuramoto–Sivashinsky equation on a periodic domain, ``(n_steps, Q)``: u on the grid
    ``x_j = j L / Q`` every ``dt`` time units.

    ``u_t = -u u_x - u_xx - u_xxxx`` on ``[0, L)``, periodic. Pseudo-spectral in space (Fourier
    modes ``k_m = 2π m / L``, ``|m| <= Q/2``), ETDRK4 in time (Cox & Matthews 2002; the coefficients
    by Kassam & Trefethen's 2005 contour integral), in float64: the stiff linear part ``k² - k⁴``
    is integrated exactly and the nonlinear term ``-(u²)_x / 2`` at fourth order in the step
    ``h = dt / substeps``. ETDRK4 with a fixed step is one smooth map, so the series is an exact
    orbit of a map within ``O(h⁴)`` of the equation's flow, not a noisy sample of it.

    Without ``dealias`` the quadratic term is not dealiased: at the defaults (and L = 200, Q = 512)
    the attractor's spectrum falls by more than 12 decades before two thirds of the resolved
    wavenumbers, so what aliasing feeds back is far below the time-stepping error;
    ``dealias=True`` applies the 2/3 rule for coarser grids.

    The initial condition is ``0.1 N(0, 1)`` white noise on the grid drawn from ``seed``, minus its
    mean (the spatial mean of u is conserved; the attractor is the one at mean 0), or ``u0``; rows
    start after ``ceil(discard / h)`` steps (``discard`` time units rounded up to whole steps: the
    default reaches the chaotic attractor from small noise for L = 22 and L = 200). The largest
    Lyapunov exponent is about 0.04–0.05 for L = 22 and 0.09–0.1 for L = 200
    (:func:`largest_lyapunov_exponent` measures it; docs/spatiotemporal.md quotes measured values).
    """
    _integer("Q", Q, 4)
    _check_steps(n_steps, features=Q)
    if _is_real(L) and L > 0 and L / Q > 2.0:
        # the attractor's energy sits at wavelengths near 2π√2 ≈ 9, carried down to about 1 by the
        # cascade: a coarser grid integrates a different, under-resolved system
        warnings.warn(f"kuramoto_sivashinsky: the grid spacing L/Q = {L / Q:.3g} is coarser than 2, which leaves "
                      f"the small scales of the solution unresolved; use Q ≥ {math.ceil(L / 2)} for L={L}",
                      UserWarning, stacklevel=2)
    solver, start, n_discard, h, _ = _ks_prepare(L, Q, dt, substeps, dealias, seed, u0, discard, int(n_steps) - 1,
                                                 "kuramoto_sivashinsky")
    try:
        return _spatiotemporal.ks_run(solver, start, n_discard, int(n_steps), int(substeps))
    except FloatingPointError as exc:
        raise _ks_diverged(exc.args[0], h, L, Q, dt, substeps) from None


def lorenz96(
    n_steps: int,
    *,
    dim: int = 40,
    F: float = 8.0,
    dt: float = 0.01,
    discard: float = 100.0,
    seed: int | None = 0,
    x0: np.ndarray | None = None,
    rtol: float = 1e-10,
    atol: float = 1e-10,
) -> np.ndarray:
    """Lorenz-96, ``(n_steps, dim)`` samples every ``dt`` time units after ``discard`` time units.

    ``dx_i/dt = (x_{i+1} - x_{i-2}) x_{i-1} - x_i + F`` for ``i = 0 .. dim-1``, indices modulo
    ``dim`` (Lorenz 1996), integrated by DOP853 at ``rtol = atol = 1e-10``. The start is ``x0``,
    default ``x_i = F`` with ``x_0 = F + 0.01``; ``seed`` perturbs it uniformly by ±1 (``None``: no
    perturbation). At F = 8 and dim = 40 the largest Lyapunov exponent is about 1.7 (one Lyapunov
    time ≈ 0.6 units; :func:`largest_lyapunov_exponent` measures it) and each variable has mean
    ≈ 2.3 and standard deviation ≈ 3.6.
    """
    _integer("dim", dim, 4)
    if dim > MAX_LORENZ96_DIM:
        # the evaluation budget counts right-hand sides, each of which costs dim
        raise ValueError(f"dim={dim} is more than the {MAX_LORENZ96_DIM} variables lorenz96 integrates in a few "
                         "minutes; use fewer variables")
    _finite(F=F)
    rhs, _ = _spatiotemporal.lorenz96_field(int(dim), float(F))
    return _flow(rhs, n_steps, dt, _lorenz96_start(dim, F, x0), seed, discard, rtol, atol, "lorenz96",
                 f"dim={dim}, F={F}", 500, dim=int(dim))


def _lorenz96_start(dim: int, F: float, x0: Any) -> Any:
    if x0 is not None:
        return x0
    start = np.full(int(dim), float(F))
    start[0] += 0.01  # the uniform state x_i = F is a fixed point: nudge it off
    return start


class LyapunovEstimate(NamedTuple):
    """The largest Lyapunov exponent measured by :func:`largest_lyapunov_exponent`.

    ``exponent``: the mean of ``segments``, in 1 / time units (one Lyapunov time is
    ``1 / exponent``); ``stderr``: ``std(segments) / sqrt(len(segments))``, the standard error of
    that mean if the segments' exponents were independent; ``segments``: ``(segments,)`` the
    finite-time exponents of consecutive, equally long segments of the run.
    """

    exponent: float
    stderr: float
    segments: np.ndarray


LYAPUNOV_SYSTEMS = ("kuramoto_sivashinsky", "lorenz96", "lorenz")
_LYAPUNOV_DURATION = {"kuramoto_sivashinsky": 5000.0, "lorenz96": 500.0, "lorenz": 500.0}


def largest_lyapunov_exponent(
    system: str,
    *,
    duration: float | None = None,
    segments: int = 10,
    discard: float | None = None,
    seed: int = 0,
    **params: Any,
) -> LyapunovEstimate:
    """The largest Lyapunov exponent of one of esnkit's generated systems, by Benettin's method.

    ``system``: ``"kuramoto_sivashinsky"``, ``"lorenz96"`` or ``"lorenz"``; ``params``: that
    generator's keyword arguments (``L``, ``Q``, ``dt``, ``substeps``, ``dealias``, ``u0``; ``dim``,
    ``F``, ``x0``, ``rtol``, ``atol``; ``sigma``, ``rho``, ``beta``, ``x0``, ``rtol``, ``atol``),
    defaults as there. The trajectory starts as the generator's does for ``seed``, a tangent vector
    ``δ`` (unit norm, random from ``seed``) with it, and the exponent is the mean growth rate of
    ``|δ|`` under the linearised dynamics:

    ``λ = lim (1/T) log |δ(T)| / |δ(0)|``.

    - Kuramoto–Sivashinsky: the tangent of the ETDRK4 map itself (``δ`` advanced by the same
      four stages, linearised, so λ is the exponent of the series the generator returns), divided
      by its norm after every step, the logs of the norms summed. ``δ`` has mean 0: a change of the
      conserved mean is not a perturbation of the attractor.
    - Flows: the equations extended by ``δ' = J δ - r δ``, ``ℓ' = r``, ``r = δᵀJδ / δᵀδ`` (Benettin's
      renormalisation made continuous: ``|δ|`` stays constant and ``ℓ`` accumulates the log
      growth), integrated by DOP853 at the generator's ``rtol``/``atol``.

    The first ``discard`` time units (default: the generator's) take the state to the attractor
    and ``δ`` to the most unstable direction and are not counted; then ``duration`` time units
    (default 5000 for Kuramoto–Sivashinsky, 500 for the flows) are split into ``segments`` equal
    segments, each giving a finite-time exponent. Their spread is the error estimate:
    ``stderr`` is their standard deviation over ``sqrt(segments)``, honest when the segments are
    much longer than the time correlations of the finite-time exponents (tens of Lyapunov times).
    The result is a deterministic function of the arguments.
    """
    if system not in LYAPUNOV_SYSTEMS:
        raise ValueError(f"system must be one of {', '.join(map(repr, LYAPUNOV_SYSTEMS))}, got {system!r}")
    generator = {"kuramoto_sivashinsky": kuramoto_sivashinsky, "lorenz96": lorenz96, "lorenz": lorenz}[system]
    defaults = {p.name: p.default for p in inspect.signature(generator).parameters.values()
                if p.kind is inspect.Parameter.KEYWORD_ONLY}
    allowed = set(defaults) - {"discard", "seed"} - ({"dt"} if system != "kuramoto_sivashinsky" else set())
    unknown = sorted(set(params) - allowed)
    if unknown:
        raise TypeError(f"largest_lyapunov_exponent({system!r}) got unexpected parameter(s) {', '.join(unknown)}; "
                        f"it takes {', '.join(sorted(allowed))}")
    p = {**defaults, **params}
    duration = _LYAPUNOV_DURATION[system] if duration is None else duration
    discard = defaults["discard"] if discard is None else discard
    _positive(duration=duration)
    _integer("segments", segments, 2)
    _integer("seed", seed, 0)
    if system == "kuramoto_sivashinsky":
        _positive(dt=p["dt"])
        _integer("substeps", p["substeps"], 1)
        h = p["dt"] / p["substeps"]
        per_segment = int(round(duration / segments / h))
        if per_segment < 1:
            raise ValueError(f"duration / segments = {duration / segments:.3g} must be at least one step "
                             f"h = dt / substeps = {h:.3g}")
        solver, start, n_discard, h, rng = _ks_prepare(p["L"], p["Q"], p["dt"], p["substeps"], p["dealias"], seed,
                                                       p["u0"], discard, segments * per_segment, system)
        tangent = rng.standard_normal(p["Q"])
        tangent -= tangent.mean()
        try:
            sums = _spatiotemporal.ks_tangent_growth(solver, start, tangent, n_discard, segments, per_segment)
        except FloatingPointError as exc:
            raise _ks_diverged(exc.args[0], h, p["L"], p["Q"], p["dt"], p["substeps"]) from None
        rates = sums / (per_segment * h)
    else:
        _discard(discard)
        if discard + duration > MAX_SPAN:
            raise ValueError(f"discard + duration = {discard} + {duration} time units is more than the {MAX_SPAN:.0e} "
                             "integrated in a few minutes; use a shorter duration or discard")
        if system == "lorenz96":
            _integer("dim", p["dim"], 4)
            _finite(F=p["F"])
            dim = int(p["dim"])
            rhs, jvp = _spatiotemporal.lorenz96_field(dim, float(p["F"]))
            x0, described, typical = _lorenz96_start(dim, p["F"], p["x0"]), f"dim={dim}, F={p['F']}", 480
        else:
            _finite(sigma=p["sigma"], rho=p["rho"], beta=p["beta"])
            dim = 3
            rhs, jvp = _spatiotemporal.lorenz_field(p["sigma"], p["rho"], p["beta"])
            x0 = p["x0"]
            described, typical = f"sigma={p['sigma']}, rho={p['rho']}, beta={p['beta']}", 640
        rng = np.random.default_rng(seed)
        start = _state(x0, dim, "x0", "the initial state") + rng.uniform(-1.0, 1.0, dim)  # as the generator does
        tangent = rng.standard_normal(dim)
        z0 = np.concatenate([start, tangent / np.linalg.norm(tangent), [0.0]])
        extended = _spatiotemporal.tangent_flow(rhs, jvp, dim)
        path = _flow(extended, segments + 1, duration / segments, z0, None, discard, p["rtol"], p["atol"],
                     f"largest_lyapunov_exponent({system!r})", described, typical, dim=2 * dim + 1)
        rates = np.diff(path[:, -1]) / (duration / segments)
    if not np.isfinite(rates).all():
        raise ValueError(f"the tangent dynamics of {system} did not stay finite with {params}")
    return LyapunovEstimate(float(rates.mean()), float(rates.std(ddof=1) / math.sqrt(segments)), rates)


def narma10(n_steps: int, *, seed: int | None = 0) -> tuple[np.ndarray, np.ndarray]:
    """NARMA-10 input/target pair, each ``(n_steps, 1)``.

    ``u[t] ~ uniform(0, 0.5)`` and ``y[t+1] = 0.3 y[t] + 0.05 y[t] Σ_{i=0..9} y[t-i] +
    1.5 u[t-9] u[t] + 0.1``. Returned so that ``targets[t] = y[t+1]``: a model fed ``inputs[: t+1]``
    predicts ``targets[t]``.
    """
    _check_steps(n_steps, features=2)
    _seed(seed)
    u = np.random.default_rng(seed).uniform(0.0, 0.5, n_steps + 1)
    y = np.zeros(n_steps + 1)
    with np.errstate(over="ignore", invalid="ignore"):
        for t in range(9, n_steps):
            y[t + 1] = 0.3 * y[t] + 0.05 * y[t] * y[t - 9 : t + 1].sum() + 1.5 * u[t - 9] * u[t] + 0.1
    diverged = ~(np.abs(y) < 1e3)  # NARMA-10 stays near [0, 1] until its quadratic term runs away
    if diverged.any():
        raise ValueError(
            f"NARMA-10 diverged at step {int(np.argmax(diverged)) - 1} with seed={seed} (its quadratic term runs away "
            "for some input sequences, more likely the longer the series); use another seed or a smaller n_steps"
        )
    return u[:n_steps, None].copy(), y[1:, None].copy()


def sine(n_steps: int, *, period: float = 20.0, amplitude: float = 1.0, phase: float = 0.0) -> np.ndarray:
    """``amplitude * sin(2π t / period + phase)`` for ``t = 0 .. n_steps-1``; shape ``(n_steps, 1)``."""
    _check_steps(n_steps)
    _positive(period=period)
    _finite(amplitude=amplitude, phase=phase)
    t = np.arange(n_steps, dtype=np.float64)
    return (amplitude * np.sin(2 * np.pi * t / period + phase))[:, None]


def mso(n_steps: int, *, n_oscillators: int = 2, frequencies: tuple[float, ...] | None = None) -> np.ndarray:
    """Multiple superimposed oscillators: ``Σ_k sin(α_k t)``, shape ``(n_steps, 1)``.

    The classic frequencies are α = 0.2, 0.311, 0.42, 0.51, 0.63, 0.74, 0.85, 0.97; MSO-k uses the
    first k. Pass ``frequencies`` to choose others.
    """
    if frequencies is None:
        if (not isinstance(n_oscillators, (int, np.integer)) or isinstance(n_oscillators, bool)
                or not 1 <= n_oscillators <= len(MSO_FREQUENCIES)):
            raise ValueError(f"n_oscillators must be an integer in 1..{len(MSO_FREQUENCIES)}, got {n_oscillators!r}")
        frequencies = MSO_FREQUENCIES[:n_oscillators]
    elif (isinstance(frequencies, (str, bytes)) or not hasattr(frequencies, "__len__") or len(frequencies) == 0
          or np.ndim(frequencies) != 1 or not all(_is_real(f) and math.isfinite(f) for f in frequencies)):
        raise ValueError(f"frequencies must be a non-empty sequence of finite numbers, got {frequencies!r}")
    _check_steps(n_steps, features=len(frequencies) + 1)
    t = np.arange(n_steps, dtype=np.float64)
    return np.sum([np.sin(a * t) for a in frequencies], axis=0)[:, None]


class ClassificationData(NamedTuple):
    """A sequence-classification set: sequences (float64 ``(time, features)`` arrays, whose lengths
    may differ) with one label each (int64 or str, as the source has them), train and test."""

    X_train: list[np.ndarray]
    y_train: np.ndarray
    X_test: list[np.ndarray]
    y_test: np.ndarray


def japanese_vowels() -> ClassificationData:
    """Japanese Vowels (UCI; Kudo, Toyama & Shimbo 1999), bundled with esnkit: 270 training and 370
    test utterances of 12 LPC cepstrum coefficients, 7 to 29 steps each; the label is the speaker, 1..9.

    Read from ``esnkit/data/japanese_vowels.npz`` (numeric arrays only) and checked: a missing file
    raises ``FileNotFoundError``, a damaged one ``ValueError``, each naming it. Licence CC BY 4.0:
    ``esnkit/data/JAPANESE_VOWELS_LICENSE.txt``.
    """
    return ClassificationData(*_sequence_data.japanese_vowels())


def basic_motions() -> ClassificationData:
    """BasicMotions (UEA archive): 40 training and 40 test smartwatch recordings, 100 steps of 6
    features (3-D accelerometer and gyroscope), 4 classes ('Standing', 'Running', 'Walking', 'Badminton').

    Read from the ``.ts`` files of an installed aeon or sktime (found, not imported); without one,
    ``esnkit.MissingExtraError``: ``pip install "esnkit[datasets]"`` or ``pip install --no-deps sktime``.
    """
    return ClassificationData(*_sequence_data.basic_motions())


def exercise_watch(*, test_subjects: Iterable[int] = _sequence_data.WATCH_TEST_SUBJECTS) -> ClassificationData:
    """seglearn's smartwatch exercise set (Burns & Whyne 2018): 140 recordings (50 Hz) of 6 channels
    (3-D accelerometer and gyroscope), 947 to 2618 steps, of 7 shoulder exercises by 10 subjects, each
    recording every exercise twice.

    The labels are the exercise names of seglearn's ``y_labels`` ('PEN', 'ABD', 'FEL', 'IR', 'ER',
    'TRAP', 'ROW'). The set has no official split: whole subjects are held out, so that nobody in the
    test part was seen in training. ``test_subjects`` names them (default every third subject, 3, 6 and
    9: 98 training and 42 test recordings); every class must stay in both parts. Read from an installed
    seglearn (found, not imported) by a restricted unpickler; without it, ``esnkit.MissingExtraError``.
    """
    return ClassificationData(*_sequence_data.exercise_watch(test_subjects))


def read_ts(path: str | os.PathLike) -> tuple[list[np.ndarray], np.ndarray]:
    """Parse one ``.ts`` classification file (the format of sktime, aeon and the UEA/UCR archives).

    Returns the cases as float64 ``(time, dimensions)`` arrays and their labels: int64 when every label
    of ``@classLabel`` is an integer literal, else str. Raises ``ValueError`` naming the file and line
    for what it does not read: no ``@data``, a label missing from ``@classLabel``, a non-numeric value,
    dimensions of different lengths within a case, missing values (``?``), time stamps (``(t,v)``) and
    regression files (``@targetLabel``); ``OSError`` for a missing file or a directory.
    """
    return _sequence_data.read_ts(path)


# name -> loader, for the command line
CLASSIFICATION: dict[str, Callable[[], ClassificationData]] = {
    "japanese_vowels": japanese_vowels,
    "basic_motions": basic_motions,
    "exercise_watch": exercise_watch,
}
