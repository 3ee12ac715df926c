"""Numerics of the spatiotemporal systems of :mod:`esnkit.datasets`: the Kuramoto–Sivashinsky
equation by ETDRK4, the Lorenz-96 vector field, and the tangent dynamics behind
``datasets.largest_lyapunov_exponent``. Arguments are checked by the callers in ``datasets``.

Kuramoto–Sivashinsky, ``u_t = -u u_x - u_xx - u_xxxx`` on ``[0, L)`` with periodic boundaries, in
Fourier space (``v = rfft(u)`` on ``Q`` grid points, wavenumbers ``k_m = 2π m / L``)::

    v_t = Λ v + N(v),    Λ_m = k_m² - k_m⁴,    N(v) = -(i k / 2) rfft(irfft(v)²)

ETDRK4 (Cox & Matthews 2002) integrates the stiff linear part exactly and the nonlinear part at
fourth order; the coefficients ``(e^z - 1)/z``-like functions of ``z = h Λ_m`` are evaluated by
Kassam & Trefethen's (2005) contour integral (the mean over 32 points of a unit half-circle around
each ``z``, real part), which avoids their cancellation error at small ``|z|``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

# Kassam & Trefethen's M. The functions are entire, so the trapezoidal rule on the circle converges
# geometrically; 32 points (64 with the mirrored half) match the closed forms where those are
# accurate (|z| > 10, to z = -1700 at L = 22, Q = 64) and the limits at z = 0 (tests).
CONTOUR_POINTS = 32


class KSSolver:
    """One ETDRK4 step of size ``h`` of the Kuramoto–Sivashinsky equation, on arrays of Fourier
    coefficients ``(..., Q//2 + 1)`` (any leading axes: the state alone, or state and tangent).

    ``dealias``: the 2/3 rule (the nonlinear term is zeroed above two thirds of the resolved
    wavenumbers, so the quadratic product aliases nothing back into the kept modes).
    """

    def __init__(self, L: float, Q: int, h: float, dealias: bool) -> None:
        self.Q = Q
        m = np.arange(Q // 2 + 1)
        k = 2.0 * np.pi / L * m
        lam = k**2 - k**4
        # ∂x of the Nyquist mode of a real grid function is not representable: its derivative is 0.
        g = -0.5j * k
        g[-1] = 0.0
        if dealias:
            g[m > Q // 3] = 0.0
        self.g = g
        z = h * lam
        self.E, self.E2 = np.exp(z), np.exp(z / 2)
        r = np.exp(1j * np.pi * (np.arange(1, CONTOUR_POINTS + 1) - 0.5) / CONTOUR_POINTS)
        zr = z[:, None] + r[None, :]
        ez = np.exp(zr)

        def mean(values: np.ndarray) -> np.ndarray:
            return h * np.real(values.mean(axis=1))

        self.Qc = mean((np.exp(zr / 2) - 1.0) / zr)
        self.f1 = mean((-4.0 - zr + ez * (4.0 - 3.0 * zr + zr**2)) / zr**3)
        self.f2 = mean((2.0 + zr + ez * (-2.0 + zr)) / zr**3)
        self.f3 = mean((-4.0 - 3.0 * zr - zr**2 + ez * (4.0 - zr)) / zr**3)

    def nonlinear(self, v: np.ndarray) -> np.ndarray:
        """``N(v) = -(i k / 2) rfft(u²)``, ``u = irfft(v)``."""
        u = np.fft.irfft(v, n=self.Q, axis=-1)
        return self.g * np.fft.rfft(u * u, axis=-1)

    def nonlinear_tangent(self, z: np.ndarray) -> np.ndarray:
        """``z = (v, w)`` stacked on the first axis: ``(N(v), N'(v) w)``, ``N'(v) w = -i k rfft(u δu)``.

        ETDRK4 applied to the pair advances ``w`` by exactly the Jacobian of the ETDRK4 step of ``v``
        (each stage is linear in ``w``), so the tangent is that of the map the generator iterates.
        """
        u = np.fft.irfft(z, n=self.Q, axis=-1)
        return self.g * np.fft.rfft(np.stack([u[0] * u[0], 2.0 * u[0] * u[1]]), axis=-1)

    def step(self, v: np.ndarray, nonlinear: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
        """Cox & Matthews' ETDRK4 (Kassam & Trefethen 2005, eq. 2.5)."""
        Nv = nonlinear(v)
        a = self.E2 * v + self.Qc * Nv
        Na = nonlinear(a)
        b = self.E2 * v + self.Qc * Na
        Nb = nonlinear(b)
        c = self.E2 * a + self.Qc * (2.0 * Nb - Nv)
        Nc = nonlinear(c)
        return self.E * v + self.f1 * Nv + 2.0 * self.f2 * (Na + Nb) + self.f3 * Nc


def ks_run(solver: KSSolver, u0: np.ndarray, n_discard: int, n_steps: int, every: int = 1) -> np.ndarray:
    """The grid values ``(n_steps, Q)`` after ``n_discard`` steps, one row every ``every`` steps.

    Raises ``FloatingPointError`` (with the time step reached) when the state stops being finite.
    """
    v = np.fft.rfft(u0)
    out = np.empty((n_steps, v.shape[-1]), dtype=np.complex128)
    with np.errstate(over="ignore", invalid="ignore"):
        for i in range(n_discard):
            v = solver.step(v, solver.nonlinear)
            if i % 64 == 63 and not np.isfinite(v).all():
                raise FloatingPointError(i + 1)
        out[0] = v
        for row in range(1, n_steps):
            for _ in range(every):
                v = solver.step(v, solver.nonlinear)
            out[row] = v
            if row % 64 == 63 and not np.isfinite(v).all():
                raise FloatingPointError(n_discard + row * every)
    u = np.fft.irfft(out, n=solver.Q, axis=-1)
    if not np.isfinite(u).all():
        raise FloatingPointError(n_discard + (n_steps - 1) * every)
    return u


def ks_tangent_growth(solver: KSSolver, u0: np.ndarray, w0: np.ndarray, n_discard: int, segments: int,
                      per_segment: int) -> np.ndarray:
    """Benettin's method on the ETDRK4 map: the log growth of the tangent vector in each segment.

    State and tangent advance together; after every step the tangent is divided by its norm (the
    Euclidean norm of its Fourier coefficients; any norm gives the same exponent) and the log of
    that norm is added to the segment's sum. The first ``n_discard`` steps align the tangent with
    the most unstable direction and are not counted. Returns ``(segments,)`` sums of log growth.
    """
    z = np.stack([np.fft.rfft(u0), np.fft.rfft(w0)])
    z[1] /= np.linalg.norm(z[1])
    sums = np.zeros(segments)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for i in range(n_discard + segments * per_segment):
            z = solver.step(z, solver.nonlinear_tangent)
            # the mean mode is neutral (the mean of u is conserved): rounding that reaches it would
            # grow as fast as the leading decaying mode shrinks, and win where no mode grows
            z[1, 0] = 0.0
            norm = np.linalg.norm(z[1])
            if not (np.isfinite(norm) and norm > 0.0 and np.isfinite(z[0]).all()):
                raise FloatingPointError(i + 1)
            z[1] /= norm
            if i >= n_discard:
                sums[(i - n_discard) // per_segment] += np.log(norm)
    return sums


def lorenz96_field(dim: int, F: float) -> tuple[Callable, Callable]:
    """Lorenz-96: ``dx_i/dt = (x_{i+1} - x_{i-2}) x_{i-1} - x_i + F`` (indices mod ``dim``) and its
    Jacobian-vector product ``J(x) d``, as ``(rhs(t, x), jvp(x, d))``."""
    i = np.arange(dim)
    p1, m1, m2 = (i + 1) % dim, (i - 1) % dim, (i - 2) % dim

    def rhs(_t, x):
        return (x[p1] - x[m2]) * x[m1] - x + F

    def jvp(x, d):
        return (d[p1] - d[m2]) * x[m1] + (x[p1] - x[m2]) * d[m1] - d

    return rhs, jvp


def tangent_flow(rhs: Callable, jvp: Callable, dim: int) -> Callable:
    """The flow extended by its tangent vector, renormalised continuously, for Benettin's method.

    On ``z = (x, d, ℓ)``: ``x' = f(x)``, ``d' = J d - r d``, ``ℓ' = r`` with ``r = dᵀ J d / dᵀ d``.
    The ``- r d`` term keeps ``|d|`` constant (``d/dt |d|² = 2 dᵀJd - 2 r |d|² = 0``), which is
    Benettin's renormalisation in the limit of short intervals, and ``ℓ(t)`` is the log of the
    growth the unrenormalised tangent would have had: ``(ℓ(t₁) - ℓ(t₀)) / (t₁ - t₀)`` is the
    finite-time exponent over ``[t₀, t₁]``. No overflow however long the run.
    """

    def extended(t, z):
        x, d = z[:dim], z[dim : 2 * dim]
        Jd = np.asarray(jvp(x, d), dtype=np.float64)
        r = float(d @ Jd) / float(d @ d)
        out = np.empty_like(z)
        out[:dim] = rhs(t, x)
        out[dim : 2 * dim] = Jd - r * d
        out[-1] = r
        return out

    return extended


def lorenz_field(sigma: float, rho: float, beta: float) -> tuple[Callable, Callable]:
    """Lorenz-63: ``x' = σ (y - x)``, ``y' = x (ρ - z) - y``, ``z' = x y - β z`` and ``J(s) d``."""

    def rhs(_t, s):
        x, y, z = s
        return [sigma * (y - x), x * (rho - z) - y, x * y - beta * z]

    def jvp(s, d):
        x, y, z = s
        return [sigma * (d[1] - d[0]), (rho - z) * d[0] - d[1] - x * d[2], y * d[0] + x * d[1] - beta * d[2]]

    return rhs, jvp
