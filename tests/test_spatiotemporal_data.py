"""Kuramoto–Sivashinsky and Lorenz-96 series and the largest Lyapunov exponent: shapes, determinism,
argument checks, agreement with independent NumPy/SciPy integrations, the solver's order, and
known facts (conservation, spectra, statistics, exponents analytic or from the literature)."""

import numpy as np
import pytest
from scipy.integrate import solve_ivp

from esnkit import _spatiotemporal as st
from esnkit import datasets as ds


def smooth_u0(L, Q):
    x = L * np.arange(Q) / Q
    return np.cos(2 * np.pi * x / L) * (1 + np.sin(2 * np.pi * x / L))


def test_ks_shape_dtype_and_determinism():
    a = ds.kuramoto_sivashinsky(50, Q=32, discard=50.0)
    assert a.shape == (50, 32) and a.dtype == np.float64 and np.isfinite(a).all()
    assert np.array_equal(a, ds.kuramoto_sivashinsky(50, Q=32, discard=50.0))
    b = ds.kuramoto_sivashinsky(50, Q=32, discard=50.0, seed=1)
    assert not np.array_equal(a, b) and np.array_equal(b, ds.kuramoto_sivashinsky(50, Q=32, discard=50.0, seed=1))
    # rows are consecutive: a longer series starts with the shorter one
    assert np.array_equal(ds.kuramoto_sivashinsky(80, Q=32, discard=50.0)[:50], a)


def ks_reference(u0, L, T):
    """Method of lines in real space, spectral derivatives by the complex FFT, DOP853 at 1e-12."""
    Q = len(u0)
    k = 2 * np.pi / L * np.fft.fftfreq(Q, 1.0 / Q)
    k_odd = k.copy()
    k_odd[Q // 2] = 0.0  # the Nyquist mode's odd derivative vanishes on a real grid

    def rhs(_t, u):
        u2x = np.real(np.fft.ifft(1j * k_odd * np.fft.fft(u * u)))
        uhat = np.fft.fft(u)
        return -0.5 * u2x - np.real(np.fft.ifft((-(k**2) + k**4) * uhat))

    return solve_ivp(rhs, (0.0, T), u0, method="DOP853", rtol=1e-12, atol=1e-12).y[:, -1]


def test_ks_agrees_with_an_independent_method_of_lines():
    L, Q, T = 22.0, 32, 2.0
    u0 = smooth_u0(L, Q)
    ours = ds.kuramoto_sivashinsky(2, L=L, Q=Q, dt=T, discard=0.0, u0=u0, substeps=200)[-1]
    ref = ks_reference(u0, L, T)
    assert np.abs(ref - u0).max() > 0.1  # the solution moved
    assert np.abs(ours - ref).max() < 1e-8


def test_etdrk4_converges_at_fourth_order():
    # a short smooth run where h k_max^4 is small enough for the asymptotic regime (at the defaults
    # the stiff modes lower the observed order: benchmarks/results/spatiotemporal_data.md)
    L, Q, T = 22.0, 16, 0.5
    u0 = smooth_u0(L, Q)

    def at_T(h):
        return ds.kuramoto_sivashinsky(2, L=L, Q=Q, dt=T, discard=0.0, u0=u0, substeps=int(round(T / h)))[-1]

    ref = at_T(T / 2048)
    errors = [np.abs(at_T(h) - ref).max() for h in (1 / 16, 1 / 32, 1 / 64, 1 / 128)]
    slopes = np.log2(np.array(errors[:-1]) / np.array(errors[1:]))
    assert errors[-1] > 1e-13 and np.all((slopes > 3.7) & (slopes < 4.3)), (errors, slopes)


def test_ks_sampling_with_substeps_is_the_finer_run():
    u0 = smooth_u0(22.0, 32)
    fine = ds.kuramoto_sivashinsky(9, Q=32, dt=0.125, discard=0.0, u0=u0)
    sub = ds.kuramoto_sivashinsky(5, Q=32, dt=0.25, discard=0.0, u0=u0, substeps=2)
    np.testing.assert_allclose(sub, fine[::2], rtol=0, atol=1e-12)
    np.testing.assert_allclose(sub[0], u0, rtol=0, atol=1e-14)  # row 0 is the start


def test_ks_conserves_the_spatial_mean():
    L, Q = 22.0, 64
    u0 = 0.3 + 0.1 * np.random.default_rng(0).standard_normal(Q)
    u = ds.kuramoto_sivashinsky(400, L=L, Q=Q, discard=100.0, u0=u0)
    assert u.std() > 0.5  # chaotic, not decayed
    assert np.abs(u.mean(axis=1) - u0.mean()).max() < 1e-12
    assert np.abs(ds.kuramoto_sivashinsky(200, Q=Q, discard=100.0).mean(axis=1)).max() < 1e-12


def test_ks_energy_spectrum_peaks_near_the_most_unstable_wavenumber():
    L, Q = 100.0, 256
    u = ds.kuramoto_sivashinsky(800, L=L, Q=Q, dt=0.5, discard=500.0)
    energy = (np.abs(np.fft.rfft(u, axis=1)) ** 2).mean(axis=0)
    q = 2 * np.pi / L * np.arange(Q // 2 + 1)
    assert 0.5 < q[energy.argmax()] < 0.9  # k² - k⁴ is largest at 1/√2
    rel = energy / energy.max()
    assert rel[q > 2.0].max() < 1e-2 and rel[q > 4.0].max() < 1e-7 and rel[q > 6.0].max() < 1e-12  # fast decay
    assert rel[(q > 1.5) & (q < 2.0)].max() > 10 * rel[(q > 2.5) & (q < 3.0)].max()


def test_dealiasing_changes_little_at_the_default_resolution():
    u = ds.kuramoto_sivashinsky(41, discard=200.0)
    d = ds.kuramoto_sivashinsky(41, discard=200.0, dealias=True)
    diff = np.abs(u - d).max()
    assert 0 < diff < 1e-4


def test_ks_tangent_is_the_jacobian_of_the_step():
    L, Q, h = 22.0, 64, 0.25
    solver = st.KSSolver(L, Q, h, False)
    v = np.fft.rfft(ds.kuramoto_sivashinsky(1, discard=200.0)[0])
    w = np.fft.rfft(np.random.default_rng(1).standard_normal(Q))
    eps = 1e-6
    fd = (solver.step(v + eps * w, solver.nonlinear) - solver.step(v - eps * w, solver.nonlinear)) / (2 * eps)
    tangent = solver.step(np.stack([v, w]), solver.nonlinear_tangent)
    np.testing.assert_allclose(tangent[0], solver.step(v, solver.nonlinear), rtol=0, atol=1e-12)
    assert np.abs(tangent[1] - fd).max() < 1e-7 * np.abs(fd).max()


@pytest.mark.parametrize("field, dim", [(lambda: st.lorenz96_field(40, 8.0), 40),
                                        (lambda: st.lorenz_field(10.0, 28.0, 8 / 3), 3)])
def test_flow_jacobian_vector_products_match_finite_differences(field, dim):
    rhs, jvp = field()
    rng = np.random.default_rng(2)
    x, d = 5 * rng.standard_normal(dim), rng.standard_normal(dim)
    eps = 1e-6
    fd = (np.asarray(rhs(0, x + eps * d)) - np.asarray(rhs(0, x - eps * d))) / (2 * eps)
    np.testing.assert_allclose(np.asarray(jvp(x, d)), fd, rtol=1e-7, atol=1e-7)


def test_lorenz96_against_a_plain_rk4_loop():
    dim, F, dt = 8, 8.0, 0.05
    x = ds.lorenz96(1, dim=dim, discard=20.0)[0]  # on the attractor
    ours = ds.lorenz96(41, dim=dim, F=F, dt=dt, discard=0.0, seed=None, x0=x)
    assert np.array_equal(ours[0], x)
    start = ds.lorenz96(1, dim=dim, discard=0.0, seed=None)[0]
    assert start[0] == F + 0.01 and np.all(start[1:] == F)  # Lorenz's start

    def f(x):
        return np.array([(x[(i + 1) % dim] - x[i - 2]) * x[i - 1] - x[i] + F for i in range(dim)])

    h, out = dt / 50, [x.copy()]
    for _ in range(40):
        for _ in range(50):
            k1 = f(x)
            k2 = f(x + h / 2 * k1)
            k3 = f(x + h / 2 * k2)
            k4 = f(x + h * k3)
            x = x + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
        out.append(x.copy())
    assert np.abs(ours - np.array(out)).max() < 1e-7


def test_lorenz96_shape_determinism_and_statistics():
    a = ds.lorenz96(30, dim=8, discard=5.0)
    assert a.shape == (30, 8) and a.dtype == np.float64
    assert np.array_equal(a, ds.lorenz96(30, dim=8, discard=5.0))
    assert not np.array_equal(a, ds.lorenz96(30, dim=8, discard=5.0, seed=1))
    x = ds.lorenz96(2000, dt=0.1, discard=20.0)  # F = 8, dim = 40: 200 time units
    assert x.shape == (2000, 40)
    assert 2.2 < x.mean() < 2.45 and 3.5 < x.std() < 3.75  # literature: mean ≈ 2.3, std ≈ 3.6


def test_lyapunov_exponents_at_stable_equilibria_are_the_analytic_ones():
    # KS with L < 2π: every mode decays, u → 0, and the tangent map is exactly exp(h(k² - k⁴))
    q = 2 * np.pi / 5.0
    ks = ds.largest_lyapunov_exponent("kuramoto_sivashinsky", L=5.0, Q=16, duration=20.0, discard=200.0)
    assert abs(ks.exponent - (q**2 - q**4)) < 1e-9
    # Lorenz-63 with rho < 1: the origin is stable; the largest eigenvalue of the Jacobian there
    lo = ds.largest_lyapunov_exponent("lorenz", rho=0.5, duration=20.0, segments=4)
    assert abs(lo.exponent - (-11 + np.sqrt(121 - 4 * (10 - 10 * 0.5))) / 2) < 1e-7
    # Lorenz-96 with F < 8/9: x_i = F is stable; its circulant Jacobian has Re λ_j = F(cos θ_j - cos 2θ_j) - 1
    theta = 2 * np.pi * np.arange(20) / 20
    l96 = ds.largest_lyapunov_exponent("lorenz96", dim=20, F=0.5, duration=20.0, discard=300.0, segments=4)
    assert abs(l96.exponent - (0.5 * (np.cos(theta) - np.cos(2 * theta)) - 1).max()) < 1e-6


def test_lyapunov_exponents_of_the_chaotic_flows():
    l96 = ds.largest_lyapunov_exponent("lorenz96", duration=200.0, segments=10, rtol=1e-8, atol=1e-8)
    assert l96.segments.shape == (10,) and l96.stderr > 0
    assert 1.6 - 2 * l96.stderr < l96.exponent < 1.7 + 2 * l96.stderr  # literature: 1.6–1.7 at F = 8, dim 40
    lo = ds.largest_lyapunov_exponent("lorenz", duration=150.0, rtol=1e-8, atol=1e-8)
    assert abs(lo.exponent - 0.9056) < max(2 * lo.stderr, 0.03)  # Sprott's 0.9056


def test_lyapunov_is_deterministic_and_seeded():
    kw = dict(L=22.0, Q=32, duration=50.0, discard=50.0, segments=5)
    a = ds.largest_lyapunov_exponent("kuramoto_sivashinsky", **kw)
    b = ds.largest_lyapunov_exponent("kuramoto_sivashinsky", **kw)
    c = ds.largest_lyapunov_exponent("kuramoto_sivashinsky", seed=1, **kw)
    assert a.exponent == b.exponent and np.array_equal(a.segments, b.segments)
    assert a.exponent != c.exponent
    assert a.exponent == pytest.approx(a.segments.mean(), abs=0, rel=1e-15)
    assert a.stderr == pytest.approx(a.segments.std(ddof=1) / np.sqrt(5))


BAD = [
    (lambda: ds.kuramoto_sivashinsky(0), "n_steps must be a positive integer"),
    (lambda: ds.kuramoto_sivashinsky(10, L=-1.0), "L must be a finite number > 0"),
    (lambda: ds.kuramoto_sivashinsky(10, L=float("nan")), "L must be a finite number > 0"),
    (lambda: ds.kuramoto_sivashinsky(10, Q=63), "Q must be an even integer"),
    (lambda: ds.kuramoto_sivashinsky(10, Q=2), "Q must be an integer ≥ 4"),
    (lambda: ds.kuramoto_sivashinsky(10, Q=64.0), "Q must be an integer"),
    (lambda: ds.kuramoto_sivashinsky(10, dt=0), "dt must be a finite number > 0"),
    (lambda: ds.kuramoto_sivashinsky(10, discard=-1.0), "discard must be a finite number ≥ 0"),
    (lambda: ds.kuramoto_sivashinsky(10, seed=-1), "seed must be an integer ≥ 0"),
    (lambda: ds.kuramoto_sivashinsky(10, seed=None), "seed must be an integer ≥ 0"),
    (lambda: ds.kuramoto_sivashinsky(10, substeps=0), "substeps must be an integer ≥ 1"),
    (lambda: ds.kuramoto_sivashinsky(10, dealias="yes"), "dealias must be True or False"),
    (lambda: ds.kuramoto_sivashinsky(10, u0=np.zeros(5)), "u0 must be 64 finite numbers"),
    (lambda: ds.kuramoto_sivashinsky(10, u0=np.full(64, np.nan)), "u0 must be 64 finite numbers"),
    (lambda: ds.kuramoto_sivashinsky(10, discard=1e9), "ETDRK4 steps"),
    (lambda: ds.kuramoto_sivashinsky(5, Q=8, discard=50.0, u0=smooth_u0(22.0, 8)), "stopped being finite"),
    (lambda: ds.lorenz96(0), "n_steps must be a positive integer"),
    (lambda: ds.lorenz96(10, dim=3), "dim must be an integer ≥ 4"),
    (lambda: ds.lorenz96(10, F=float("inf")), "F must be a finite number"),
    (lambda: ds.lorenz96(10, dt=-0.1), "dt must be a finite number > 0"),
    (lambda: ds.lorenz96(10, x0=np.zeros(3)), "x0 must be 40 finite numbers"),
    (lambda: ds.lorenz96(10, seed=1.5), "seed must be an integer ≥ 0"),
    (lambda: ds.lorenz96(10, x0=[1e10] + [0] * 39, seed=None, discard=1.0), "stiff or diverges"),
    (lambda: ds.largest_lyapunov_exponent("henon"), "system must be one of"),
    (lambda: ds.largest_lyapunov_exponent("lorenz96", duration=0.0), "duration must be a finite number > 0"),
    (lambda: ds.largest_lyapunov_exponent("lorenz96", segments=1), "segments must be an integer ≥ 2"),
    (lambda: ds.largest_lyapunov_exponent("lorenz96", discard=-1.0), "discard must be a finite number ≥ 0"),
    (lambda: ds.largest_lyapunov_exponent("lorenz96", duration=1e6), "more than the"),
    (lambda: ds.largest_lyapunov_exponent("kuramoto_sivashinsky", duration=1.0, segments=10),
     "must be at least one step"),
    (lambda: ds.largest_lyapunov_exponent("kuramoto_sivashinsky", Q=7), "Q must be an even integer"),
    (lambda: ds.largest_lyapunov_exponent("lorenz", x0=[1, 2]), "x0 must be 3 finite numbers"),
]


@pytest.mark.parametrize("call, message", BAD)
def test_bad_arguments_raise_clear_value_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call()


@pytest.mark.parametrize("system, param", [("lorenz96", "n_steps"), ("lorenz96", "dt"), ("lorenz", "bogus"),
                                           ("kuramoto_sivashinsky", "seeds")])
def test_lyapunov_rejects_parameters_the_system_does_not_take(system, param):
    with pytest.raises(TypeError, match=f"unexpected parameter.*{param}"):
        ds.largest_lyapunov_exponent(system, **{param: 1})


def test_one_sample_without_discard_is_the_start():
    assert np.array_equal(ds.lorenz(1, discard=0.0, seed=None), [[1.0, 1.0, 1.0]])
    assert ds.lorenz96(1, dim=6, discard=0.0, seed=None).tolist() == [[8.01] + [8.0] * 5]


def test_the_data_section_quotes_the_committed_benchmark_run():
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    section = (root / "docs" / "spatiotemporal.md").read_text().split("## Data", 1)[1].split("\n## ", 1)[0]
    written = (root / "benchmarks" / "results" / "spatiotemporal_data.md").read_text()
    rows = [line for line in section.splitlines() if line.startswith("| ") and "---" not in line]
    assert len(rows) >= 9
    for row in rows:
        assert row in written, f"docs/spatiotemporal.md quotes a row the run did not write: {row}"
    date = written.split("(", 1)[1].split(")", 1)[0]
    machine = written.split("Machine: ", 1)[1].split(", one thread", 1)[0]
    assert date in section and machine in " ".join(section.split())


@pytest.mark.parametrize("L, Q, h", [(22.0, 64, 0.25), (200.0, 512, 0.25), (22.0, 64, 1 / 64)])
def test_contour_coefficients_match_the_closed_forms_and_their_limits(L, Q, h):
    s = st.KSSolver(L, Q, h, False)
    k = 2 * np.pi / L * np.arange(Q // 2 + 1)
    z = h * (k**2 - k**4)
    far = np.abs(z) > 10  # no cancellation in the closed forms there
    zf, e = z[far], np.exp(z[far])
    closed = {"Qc": (np.exp(zf / 2) - 1) / zf, "f1": (-4 - zf + e * (4 - 3 * zf + zf**2)) / zf**3,
              "f2": (2 + zf + e * (-2 + zf)) / zf**3, "f3": (-4 - 3 * zf - zf**2 + e * (4 - zf)) / zf**3}
    assert far.sum() >= 10
    for name, value in closed.items():
        np.testing.assert_allclose(getattr(s, name)[far], h * value, rtol=1e-12, atol=0)
    # z = 0 (the mean mode): the RK4 weights h/2 and h/6
    np.testing.assert_allclose([s.Qc[0], s.f1[0], s.f2[0], s.f3[0]], [h / 2, h / 6, h / 6, h / 6], rtol=1e-14)
    np.testing.assert_array_equal(s.E, np.exp(z))


def test_ks_exponent_of_a_stable_domain_is_the_decay_of_its_slowest_mode():
    # L = 2 < 2π: u = 0 is stable; the slowest nonzero mode q = 2π/L decays at q² - q⁴ (the neutral mean
    # mode, which the mean's conservation excludes, must not stand in for it)
    q = 2 * np.pi / 2.0
    est = ds.largest_lyapunov_exponent("kuramoto_sivashinsky", L=2.0, Q=16, duration=50, discard=10)
    assert est.exponent == pytest.approx(q * q - q ** 4, rel=1e-6)


def test_an_under_resolved_grid_warns_and_a_huge_lorenz96_is_refused():
    with pytest.warns(UserWarning, match="coarser than 2"):
        ds.kuramoto_sivashinsky(5, L=200.0, Q=64, discard=1.0)
    with pytest.raises(ValueError, match="dim=100000 is more than"):
        ds.lorenz96(2, dim=100_000)
