"""Reservoir construction: exact spectral radius, sparsity, seeding, echo-state warnings."""

import itertools

import numpy as np
import pytest
import scipy.sparse as sp
import scipy.stats
import torch

import esnkit as ek
from esnkit.reservoir import Reservoir, random_recurrent, seeded_effective_radius
from esnkit.reservoir.spectral import DENSE_EIG_MAX


# the dense path (NumPy's LAPACK) and the ARPACK path; seed 6 at 500 neurons is a W
# whose largest eigenvalue ARPACK missed when asked for one (0.90008 after scaling to 0.9)
@pytest.mark.parametrize("n,seed", [(50, 1), (DENSE_EIG_MAX, 1), (DENSE_EIG_MAX + 200, 1), (500, 6)])
@pytest.mark.parametrize("rho", [0.5, 0.95, 1.3])
def test_spectral_radius_after_scaling_matches_request(n, seed, rho):
    r = Reservoir.random(n, 1, spectral_radius=rho, seed=seed)
    dense = r.scipy_recurrent().toarray()
    actual = np.abs(np.linalg.eigvals(dense)).max()
    assert abs(actual - rho) / rho <= 1e-6


# 100, 128 and 132 neurons: where PyTorch's LAPACK (MKL), which esnkit used to call, began to depend on
# the thread count
@pytest.mark.parametrize("n", [100, 128, 132, DENSE_EIG_MAX])
def test_dense_spectra_agree_with_numpy_and_do_not_depend_on_the_thread_count(n):
    import esnkit.reservoir as res

    W = random_recurrent(n, np.random.default_rng(n), in_degree=10)
    expected = np.abs(np.linalg.eigvals(W.toarray())).max()
    threads = torch.get_num_threads()
    try:
        radii = []
        for t in (1, 2):
            torch.set_num_threads(t)
            radii.append(res.spectral_radius(W))
            assert torch.get_num_threads() == t  # and nothing global was switched on the way
    finally:
        torch.set_num_threads(threads)
    assert radii[0] == radii[1]  # bit for bit: the seed fixes the weights whatever the thread count
    assert abs(radii[0] - expected) <= 1e-12 * expected


@pytest.mark.parametrize("n", [100, 132, DENSE_EIG_MAX])
def test_dense_spectra_do_not_depend_on_the_blas_thread_count(n):
    threadpoolctl = pytest.importorskip("threadpoolctl")  # installed with scikit-learn (the test extra)
    from esnkit.reservoir.spectral import _eigvals

    W = random_recurrent(n, np.random.default_rng(n), in_degree=10).toarray()
    spectra = []
    for t in (1, 2, 4):
        with threadpoolctl.threadpool_limits(t, user_api="blas"):
            spectra.append(_eigvals(W))
    assert all(np.array_equal(spectra[0], s) for s in spectra[1:])


def test_connectivity_and_in_degree():
    rng = np.random.default_rng(0)
    W = random_recurrent(400, rng, connectivity=0.05)
    assert W.nnz == round(0.05 * 400 * 400)
    W = random_recurrent(300, rng, in_degree=7)
    assert (np.diff(W.indptr) == 7).all()
    assert all(len(set(W.indices[W.indptr[i]:W.indptr[i + 1]])) == 7 for i in range(300))
    assert np.abs(W.data).max() <= 1.0


@pytest.mark.parametrize("size,p", [(1, 1.0), (10, 0.3), (75, None), (400, 0.05), (30, 1e-4)])
def test_connectivity_draws_sorted_csr_and_matches_a_dense_reference(size, p):
    W = random_recurrent(size, np.random.default_rng(5), connectivity=p)
    assert W.has_canonical_format  # rows sorted, no duplicates: what the kernels and from_arrays expect
    assert W.nnz == round((min(1.0, 10 / size) if p is None else p) * size * size)
    # the same draws placed by a plain dense reference: distinct flat positions, column-major, then values
    rng = np.random.default_rng(5)
    flat = rng.choice(size * size, size=W.nnz, replace=False)
    dense = np.zeros((size, size))
    dense[flat % size, flat // size] = rng.uniform(-1.0, 1.0, W.nnz)
    assert np.array_equal(W.toarray(), dense)


# sparse rows, and the three ways of drawing dense ones: keys (50, 18), (200, 150); repeats drawn
# again (1000, 100), (200, 21); the left-out columns drawn (1000, 950), (40, 40)
@pytest.mark.parametrize("size,k", [(50, 1), (50, 10), (1000, 10), (50, 18), (200, 150), (1000, 100), (200, 21),
                                    (1000, 950), (40, 40)])
def test_in_degree_rows_are_distinct_uniform_and_seeded(size, k):
    W = random_recurrent(size, np.random.default_rng(3), in_degree=k)
    assert (np.diff(W.indptr) == k).all()
    rows = W.indices.reshape(size, k)
    assert (np.diff(rows, axis=1) > 0).all()  # sorted, no repeats
    same = random_recurrent(size, np.random.default_rng(3), in_degree=k)
    assert np.array_equal(W.indices, same.indices) and np.array_equal(W.data, same.data)
    # every column is equally likely: how often each is used is binomial(size, k / size)
    counts = np.bincount(rows.ravel(), minlength=size)
    assert counts.std() <= 1.5 * np.sqrt(k * (1 - k / size)) + 0.1


@pytest.mark.parametrize("size,k", [(6, 4), (9, 7), (200, 21)])
def test_in_degree_rows_are_uniform_subsets(size, k):
    """Each k-subset of columns is equally likely (chi-square over all subsets, or for the larger
    case over the pairs of columns a row holds)."""
    rows = np.concatenate([random_recurrent(size, np.random.default_rng(s), in_degree=k).indices.reshape(size, k)
                           for s in range(20_000 // size)])
    if size < 10:
        subsets = {c: i for i, c in enumerate(itertools.combinations(range(size), k))}
        counts = np.bincount([subsets[tuple(r)] for r in rows], minlength=len(subsets))
    else:  # every pair of columns is held together equally often
        a, b = np.triu_indices(k, 1)
        counts = np.bincount(rows[:, a].ravel() * size + rows[:, b].ravel(), minlength=size * size)
        i, j = np.triu_indices(size, 1)
        counts = counts[i * size + j]
    expected = counts.sum() / counts.size
    assert scipy.stats.chi2.sf(((counts - expected) ** 2 / expected).sum(), counts.size - 1) > 1e-3


def test_default_connectivity_is_about_ten_per_row():
    r = Reservoir.random(1000, 1, seed=0)
    assert r.W_values.numel() == 10_000


def test_dense_recurrent_is_the_csr_matrix_densified():
    r = Reservoir.random(60, 1, seed=2, in_degree=30)
    assert torch.equal(r.dense_recurrent(), torch.from_numpy(r.scipy_recurrent().toarray()))
    # CSR with a repeated column in row 0: CSR means the sum, so the dense matrix holds it
    crow, col = torch.tensor([0, 2, 3]), torch.tensor([1, 1, 0])
    vals = torch.tensor([0.25, 0.5, -1.0], dtype=torch.float64)
    dup = Reservoir(crow, col, vals, torch.ones(2, 1, dtype=torch.float64), torch.ones(2, 0, dtype=torch.float64),
                    torch.zeros(2, dtype=torch.float64), torch.ones(2, dtype=torch.float64))
    assert torch.equal(dup.dense_recurrent(), torch.tensor([[0.0, 0.75], [-1.0, 0.0]], dtype=torch.float64))


def test_recurrent_weights_do_not_depend_on_input_or_output_counts():
    a = Reservoir.random(100, 1, 0, seed=5)
    b = Reservoir.random(100, 4, 2, feedback_scaling=1.0, seed=5)
    assert torch.equal(a.W_values, b.W_values) and torch.equal(a.bias, b.bias)


def test_input_scaling_per_input_and_input_connectivity():
    r = Reservoir.random(500, 2, input_scaling=[1.0, 0.01], input_connectivity=0.2, seed=0)
    W_in = r.W_in.numpy()
    assert np.abs(W_in[:, 0]).max() > 0.9 and np.abs(W_in[:, 1]).max() <= 0.01
    assert 0.15 < (W_in != 0).mean() < 0.25


@pytest.mark.parametrize("kw,match", [
    (dict(connectivity=1.5), r"connectivity must be in \(0, 1\], got 1.5"),
    (dict(connectivity=-0.1), "connectivity must be in"),
    (dict(connectivity=float("nan")), "connectivity must be in"),
    (dict(in_degree=51), r"in_degree must be an integer in \[1, size=50\]"),
    (dict(in_degree=2.5), "in_degree must be an integer"),
    (dict(connectivity=0.1, in_degree=3), "not both"),
])
def test_reservoir_random_rejects_impossible_sparsity(kw, match):
    with pytest.raises(ValueError, match=match):
        Reservoir.random(50, 1, seed=0, **kw)


def test_nilpotent_matrix_cannot_be_rescaled():
    with pytest.raises(ValueError, match="spectral radius 0"):
        ek.scale_to_spectral_radius(sp.csr_matrix(np.triu(np.ones((5, 5)), 1)), 0.9)


def test_effective_spectral_radius_formula():
    r = Reservoir.random(80, 1, spectral_radius=0.9, leak_rate=0.25, seed=2)
    lam = np.linalg.eigvals(r.scipy_recurrent().toarray())
    assert r.effective_spectral_radius() == pytest.approx(np.abs(0.75 + 0.25 * lam).max(), rel=1e-9)


def test_warns_when_echo_state_property_cannot_hold_but_allows_it():
    x = np.random.default_rng(0).normal(size=(100, 1))
    with pytest.warns(ek.EchoStatePropertyWarning, match="effective spectral radius"):
        ek.ESN(100, spectral_radius=1.5, seed=0).fit(x, x)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", ek.EchoStatePropertyWarning)
        ek.ESN(100, spectral_radius=0.9, seed=0).fit(x, x)


@pytest.mark.parametrize("n,backend", [(25, "native"), (300, "native"), (300, "torch")])
def test_fitting_in_a_loop_shows_the_echo_state_warning_once(n, backend):
    # The default filter shows a warning once per calling line; a catch_warnings block anywhere in
    # fit resets that bookkeeping (Python clears every registry when filters change), and the
    # warning would then come back on every fit of a loop.
    import warnings

    x = np.random.default_rng(0).normal(size=(100, 1))
    with warnings.catch_warnings(record=True) as caught, ek.use_backend(backend):
        warnings.simplefilter("default")
        for _ in range(3):
            ek.ESN(n, spectral_radius=1.5, seed=0).fit(x, x)
    assert sum(issubclass(w.category, ek.EchoStatePropertyWarning) for w in caught) == 1


def test_one_leak_rate_below_radius_one_needs_no_second_eigenproblem(monkeypatch):
    # Analytic fact behind the shortcut: with one leak a and ρ < 1, |1 - a + a λ| ≤ 1 - a + a ρ < 1.
    for seed, (a, rho) in enumerate([(0.1, 0.99), (0.5, 0.9), (0.9, 0.3)]):
        r = Reservoir.random(120, 1, spectral_radius=rho, leak_rate=a, seed=seed)
        assert r.effective_spectral_radius() <= 1 - a + a * rho + 1e-9
    x = np.random.default_rng(0).normal(size=(100, 1))
    calls = []
    monkeypatch.setattr(Reservoir, "effective_spectral_radius", lambda self: calls.append(1) or 0.5)
    ek.ESN(100, spectral_radius=0.95, leak_rate=0.3, seed=0).fit(x, x)
    assert calls == []
    n = DENSE_EIG_MAX + 50  # ρ ≥ 1 and no dense eigenvalues kept from scaling W: it must look
    ek.ESN(n, spectral_radius=1.2, leak_rate=0.3, seed=0).fit(x, x)
    ek.ESN(100, spectral_radius=0.95, leak_rate=np.linspace(0.1, 1, 100), seed=0).fit(x, x)  # per-neuron leaks
    assert calls == [1, 1]
    monkeypatch.undo()
    with pytest.warns(ek.EchoStatePropertyWarning):
        ek.ESN(100, spectral_radius=1.5, leak_rate=0.9, seed=0).fit(x, x)


@pytest.mark.parametrize("rho,a,seed", [(1.2, 0.3, 0), (1.5, 0.9, 1), (1.05, 0.5, 2), (2.0, 0.1, 3)])
def test_leaky_check_reuses_the_eigenvalues_kept_from_scaling(rho, a, seed):
    n = DENSE_EIG_MAX // 2
    r = Reservoir.random(n, 1, spectral_radius=rho, leak_rate=a, seed=seed)
    direct = r.effective_spectral_radius()  # a fresh eigenvalue problem of (1 - a) I + a W
    assert seeded_effective_radius(n, None, None, seed, rho, a) == pytest.approx(direct, rel=1e-9)
    assert seeded_effective_radius(DENSE_EIG_MAX + 1, None, None, seed, rho, a) is None
    x = np.random.default_rng(0).normal(size=(60, 1))
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ek.ESN(n, spectral_radius=rho, leak_rate=a, seed=seed).fit(x, x)
    warned = any(issubclass(w.category, ek.EchoStatePropertyWarning) for w in caught)
    assert warned == (direct >= 1.0)


def test_constructor_checks_shapes():
    r = Reservoir.random(10, 1, seed=0)
    with pytest.raises(ValueError, match="bias must have shape"):
        Reservoir(r.W_crow, r.W_col, r.W_values, r.W_in, r.W_fb, r.bias[:5], r.leak)
    with pytest.raises(ValueError, match="activation"):
        Reservoir(r.W_crow, r.W_col, r.W_values, r.W_in, r.W_fb, r.bias, r.leak, activation="softsign")


def test_a_seed_draws_its_matrix_once_and_solves_its_eigenvalue_problem_once(monkeypatch):
    import esnkit.reservoir.spectral as res

    res.clear_spectrum_cache()
    calls = {"draw": 0, "eig": 0}
    draw, eig = res.random_recurrent, res._spectrum

    def counted(fn, name):
        def wrapper(*a, **k):
            calls[name] += 1
            return fn(*a, **k)
        return wrapper

    monkeypatch.setattr(res, "random_recurrent", counted(draw, "draw"))
    monkeypatch.setattr(res, "_spectrum", counted(eig, "eig"))
    first = Reservoir.random(120, 1, spectral_radius=0.7, seed=11)
    assert calls == {"draw": 1, "eig": 1}
    again = Reservoir.random(120, 1, spectral_radius=0.7, seed=11)  # matrix and radius come from the cache
    other = Reservoir.random(120, 1, spectral_radius=1.1, seed=11)
    assert calls == {"draw": 1, "eig": 1}
    # bit for bit: the kept matrix was not rescaled in place by the first reservoir
    torch.testing.assert_close(again.W_values, first.W_values, rtol=0, atol=0)
    torch.testing.assert_close(other.W_values * 0.7 / 1.1, first.W_values, rtol=1e-15, atol=0)
    torch.testing.assert_close(Reservoir.random(120, 1, spectral_radius=0.7, seed=12).W_in,
                               Reservoir.random(120, 1, spectral_radius=0.7, seed=12).W_in, rtol=0, atol=0)
    res.clear_spectrum_cache()
    fresh = Reservoir.random(120, 1, spectral_radius=0.7, seed=11)
    assert calls == {"draw": 3, "eig": 3}
    torch.testing.assert_close(fresh.W_values, first.W_values, rtol=0, atol=0)
    torch.testing.assert_close(fresh.W_in, first.W_in, rtol=0, atol=0)
    # a matrix with more nonzeros than are kept is drawn again each time; its spectrum is still kept
    monkeypatch.setattr(res, "_KEEP_DRAW_NNZ", 100)
    Reservoir.random(120, 1, spectral_radius=0.7, seed=13)
    big = Reservoir.random(120, 1, spectral_radius=0.7, seed=13)
    assert calls == {"draw": 5, "eig": 4}
    torch.testing.assert_close(big.W_values, Reservoir.random(120, 1, spectral_radius=0.7, seed=13).W_values,
                               rtol=0, atol=0)
