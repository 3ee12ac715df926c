"""Closed-form readout solvers: normal equations, pseudoinverse, lstsq, streaming accumulation."""

import numpy as np
import pytest
import torch

from esnkit.readout import (
    LAPACK_EIGH_FROM,
    FeatureBuffer,
    NormalEquations,
    Readout,
    eigh,
    feature_size,
    features,
    gram,
    kept_rows,
    solve_lstsq,
    solve_normal_equations,
)

rng = np.random.default_rng(0)


def problem(T=300, F=20, D=2, cond_scale=1.0):
    Z = rng.normal(size=(T, F)) * np.logspace(0, -cond_scale, F)
    Y = rng.normal(size=(T, D))
    return torch.from_numpy(Z), torch.from_numpy(Y)


def accumulate(Z, Y, chunks=1):
    ne = NormalEquations(Z.shape[1], Y.shape[1])
    for z, y in zip(torch.tensor_split(Z, chunks), torch.tensor_split(Y, chunks)):
        ne.update(z, y)
    return ne


@pytest.mark.parametrize("ridge", [1e-6, 1e-2, 10.0])
def test_ridge_solution_satisfies_normal_equations(ridge):
    Z, Y = problem()
    ne = accumulate(Z, Y)
    W = solve_normal_equations(ne.G, ne.C, ridge)
    residual = W @ (ne.G + ridge * torch.eye(20, dtype=torch.float64)) - ne.C.T
    assert residual.abs().max() < 1e-10 * ne.C.abs().max()


def test_streaming_equals_one_shot_and_counts_rows():
    Z, Y = problem(T=1000)
    a, b = accumulate(Z, Y, 1), accumulate(Z, Y, 13)
    assert torch.allclose(a.G, b.G, rtol=1e-13, atol=1e-10) and torch.allclose(a.C, b.C, rtol=1e-13, atol=1e-10)
    assert b.count == 1000


def test_float32_rows_are_accumulated_in_float64():
    Z, Y = problem()
    ne = accumulate(Z.float(), Y.float())
    assert ne.G.dtype == torch.float64
    exact = Z.float().double()
    assert torch.allclose(ne.G, exact.T @ exact, rtol=1e-12)


def test_ridge_zero_equals_pseudoinverse():
    Z, Y = problem(cond_scale=2)
    ne = accumulate(Z, Y)
    W = solve_normal_equations(ne.G, ne.C, 0.0)
    expected = (np.linalg.pinv(Z.numpy()) @ Y.numpy()).T
    np.testing.assert_allclose(W.numpy(), expected, rtol=1e-8, atol=1e-10)


def test_pinv_is_minimum_norm_for_rank_deficient_features():
    Z, Y = problem(F=10)
    Z = torch.cat([Z, Z[:, :3]], dim=1)  # duplicated columns: infinitely many least-squares solutions
    ne = accumulate(Z, Y)
    W = solve_normal_equations(ne.G, ne.C, 0.0)
    np.testing.assert_allclose(W.numpy(), (np.linalg.pinv(Z.numpy()) @ Y.numpy()).T, atol=1e-9)


def test_lstsq_equals_ridge_and_pinv():
    Z, Y = problem()
    ne = accumulate(Z, Y)
    for ridge in (0.0, 1e-3):
        np.testing.assert_allclose(solve_lstsq(Z, Y, ridge).numpy(),
                                   solve_normal_equations(ne.G, ne.C, ridge).numpy(), rtol=1e-8, atol=1e-10)


def test_cholesky_falls_back_when_not_positive_definite():
    Z, Y = problem(F=10)
    ne = accumulate(Z, Y)
    G = ne.G.clone()
    G[0, 0] = -1e6  # not positive definite even with the ridge: Cholesky fails, eigh path answers
    W = solve_normal_equations(G, ne.C, 1e-3, "cholesky")
    assert torch.isfinite(W).all()
    s, V = torch.linalg.eigh(G)
    expected = (V * (1 / (s.clamp_min(0) + 1e-3))) @ V.T @ ne.C
    np.testing.assert_allclose(W.numpy(), expected.T.numpy(), rtol=1e-10)


def lower_triangle_problem(ridge, solver):
    """Rows, their normal equations, G with NaN above the diagonal, and the CPU solution."""
    Z, Y = problem()
    ne = accumulate(Z, Y)
    G = torch.tril(ne.G) + torch.triu(torch.full_like(ne.G, float("nan")), 1)
    return (Z, Y), ne, G, solve_normal_equations(ne.G, ne.C, ridge, solver)


@pytest.mark.parametrize("solver,ridge", [("cholesky", 1e-3), ("pinv", 0.0)])
def test_only_the_lower_triangle_of_G_is_read(solver, ridge):
    _, ne, G, want = lower_triangle_problem(ridge, solver)
    torch.testing.assert_close(solve_normal_equations(G, ne.C, ridge, solver), want, rtol=0, atol=0)
    # the accumulated triangle itself (no symmetric copy) gives the same weights
    torch.testing.assert_close(ne.solve(ridge, solver), want, rtol=0, atol=0)


@pytest.mark.parametrize("F", [LAPACK_EIGH_FROM - 172, LAPACK_EIGH_FROM + 8])
def test_eigh_decomposes_a_batch_from_its_lower_triangle(F):
    # both sides of the size where the CPU switches from PyTorch's LAPACK to SciPy's
    Z = torch.from_numpy(rng.normal(size=(2, 3, 2 * F, F)) * np.logspace(0, -3, F))
    G = Z.mT @ Z
    G = (G + G.mT) / 2
    upper_nan = torch.tril(G) + torch.triu(torch.full_like(G, float("nan")), 1)
    s, V = eigh(upper_nan)
    assert s.shape == (2, 3, F) and V.shape == (2, 3, F, F)
    scale = float(s.abs().max())
    torch.testing.assert_close(s, torch.linalg.eigh(G).eigenvalues, rtol=0, atol=1e-13 * scale)
    assert bool((s[..., 1:] >= s[..., :-1]).all())
    eye = torch.eye(F, dtype=torch.float64)
    torch.testing.assert_close(V.mT @ V, eye.expand_as(V), rtol=0, atol=1e-12)
    torch.testing.assert_close((V * s[..., None, :]) @ V.mT, G, rtol=0, atol=1e-13 * scale)


def test_gram_equals_the_product_for_a_batch_and_promotes_float32():
    Z = torch.from_numpy(rng.normal(size=(2, 3, 50, 7)))
    G = gram(Z)
    assert G.dtype == torch.float64 and G.shape == (2, 3, 7, 7)
    assert torch.equal(G, G.mT)
    torch.testing.assert_close(G, Z.mT @ Z, rtol=1e-14, atol=1e-12)
    z32 = Z[0, 0].float()
    torch.testing.assert_close(gram(z32), z32.double().T @ z32.double(), rtol=1e-14, atol=1e-12)


def test_feature_buffer_rows_equal_concatenated_features():
    g = torch.Generator().manual_seed(0)
    B, T, N, D = 3, 7, 5, 2
    buf = FeatureBuffer(B, 10, N, D, use_bias=True, use_input=True, dtype=torch.float64)
    x = torch.randn(B, T, N, generator=g, dtype=torch.float64)
    u = torch.randn(B, T, D, generator=g, dtype=torch.float64)
    buf.states(T).copy_(x)
    full = torch.ones(B, T, dtype=torch.bool)
    torch.testing.assert_close(kept_rows(buf.fill(T, u), full), features(x, u, True, True).reshape(-1, N + D + 1))
    mask = full.clone()
    mask[0, :3] = False
    mask[2, 5:] = False
    torch.testing.assert_close(kept_rows(buf.fill(T, u), mask), features(x[mask], u[mask], True, True))
    # one sequence over the whole buffer: the rows are a view, not a copy
    one = FeatureBuffer(1, T, N, 0, use_bias=False, use_input=False, dtype=torch.float64)
    assert kept_rows(one.fill(T, None), torch.ones(1, T, dtype=torch.bool)).data_ptr() == one.states(T).data_ptr()


def test_kept_rows_are_a_view_for_a_washout_prefix_and_a_selection_otherwise():
    t = torch.arange(2 * 6 * 3, dtype=torch.float64).view(2, 6, 3)
    one = torch.tensor([[False, False, True, True, True, True]])
    rows = kept_rows(t[:1], one)
    assert rows.data_ptr() == t[0, 2].data_ptr()
    torch.testing.assert_close(rows, t[:1][one])
    gap = torch.tensor([[True, False, True, True, True, True]])  # not a prefix: selected, in order
    torch.testing.assert_close(kept_rows(t[:1], gap), t[:1][gap])
    two = torch.tensor([[False, True, True, True, True, True], [True, True, True, True, False, False]])
    torch.testing.assert_close(kept_rows(t, two), t[two])
    torch.testing.assert_close(kept_rows(t, torch.ones(2, 6, dtype=torch.bool)), t.reshape(12, 3))


@pytest.mark.cuda
@pytest.mark.parametrize("solver,ridge", [("cholesky", 1e-3), ("pinv", 0.0)])
def test_cuda_solve_reads_the_lower_triangle_and_equals_the_cpu_solve(solver, ridge):
    (Z, Y), ne, G, want = lower_triangle_problem(ridge, solver)
    got = solve_normal_equations(G.cuda(), ne.C.cuda(), ridge, solver)
    assert got.device.type == "cuda"
    torch.testing.assert_close(got.cpu(), want, rtol=1e-9, atol=1e-12)
    # streaming on the GPU accumulates the same triangle
    ne_gpu = NormalEquations(Z.shape[1], Y.shape[1], "cuda")
    ne_gpu.update(Z.cuda(), Y.cuda())
    torch.testing.assert_close(ne_gpu.solve(ridge, solver).cpu(), want, rtol=1e-9, atol=1e-12)


@pytest.mark.cuda
def test_cuda_cholesky_falls_back_when_not_positive_definite():
    Z, Y = problem(F=10)
    ne = accumulate(Z, Y)
    G = ne.G.clone()
    G[0, 0] = -1e6
    want = solve_normal_equations(G, ne.C, 1e-3, "cholesky")
    got = solve_normal_equations(G.cuda(), ne.C.cuda(), 1e-3, "cholesky")
    torch.testing.assert_close(got.cpu(), want, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("use_bias,use_input", [(True, True), (True, False), (False, True), (False, False)])
def test_readout_forward_equals_weight_times_features(use_bias, use_input):
    g = torch.Generator().manual_seed(1)
    x = torch.randn(3, 7, 5, generator=g, dtype=torch.float64)
    u = torch.randn(3, 7, 2, generator=g, dtype=torch.float64)
    w = torch.randn(4, feature_size(5, 2, use_bias, use_input), generator=g, dtype=torch.float64)
    r = Readout(w, input_size=2, use_bias=use_bias, use_input=use_input)
    torch.testing.assert_close(r(x, u), features(x, u, use_bias, use_input) @ w.T, rtol=1e-14, atol=1e-14)
    if use_input:
        with pytest.raises(ValueError, match=r"give u \(\.\.\., 2\).*got none"):
            r(x)
        with pytest.raises(ValueError, match=r"give u \(\.\.\., 2\).*got \(3, 7, 3\)"):
            r(x, torch.zeros(3, 7, 3, dtype=torch.float64))
        with pytest.raises(ValueError, match=r"leading shape of x \(3, 7\), got \(3, 6, 2\)"):
            r(x, u[:, :6])
    with pytest.raises(ValueError, match=r"x must have shape \(\.\.\., 5\).*got \(3, 7, 4\)"):
        r(x[..., :4], u)


@pytest.mark.parametrize("offset", [1, 3, 5])
def test_readout_output_does_not_depend_on_where_the_weight_sits_in_memory(offset):
    # A loaded model's weight sits at whatever offset the file gave it; BLAS kernels may sum in a
    # different order for a differently aligned operand, which changed a reloaded model's
    # predictions in the last bit (seen with PyTorch's CPU BLAS on an AMD EPYC).
    g = torch.Generator().manual_seed(2)
    x = torch.randn(1, 99, 80, generator=g, dtype=torch.float64)
    u = torch.randn(1, 99, 1, generator=g, dtype=torch.float64)
    w = torch.randn(1, 82, generator=g, dtype=torch.float64)
    shifted = torch.empty(82 + offset, dtype=torch.float64)[offset:].view(1, 82).copy_(w)
    assert shifted.data_ptr() % 64 != 0
    a = Readout(w, input_size=1, use_bias=True, use_input=True)
    b = Readout(shifted, input_size=1, use_bias=True, use_input=True)
    assert a.weight.data_ptr() % 64 == 0 and b.weight.data_ptr() % 64 == 0
    assert torch.equal(a(x, u), b(x, u))


@pytest.mark.parametrize("lengths", [(9,), (9, 9, 9), (9, 4, 7)])
@pytest.mark.parametrize("washout", [0, 2, 5])
def test_the_steps_a_chunk_keeps_select_what_the_mask_does(lengths, washout):
    """Batch.kept (a slice for equal lengths, a mask otherwise) picks the rows the full mask picks,
    chunk by chunk; for one sequence a kept slice is a view."""
    from esnkit._series import to_batch

    Y = to_batch([torch.randn(n, 2, dtype=torch.float64) for n in lengths], "targets", dtype=torch.float64,
                 device="cpu")
    t = torch.arange(len(lengths) * 9 * 3, dtype=torch.float64).view(len(lengths), 9, 3)
    mask = Y.mask(washout)
    for sl in (slice(0, 4), slice(4, 8), slice(8, 9)):
        keep = Y.kept(washout, sl)
        assert isinstance(keep, slice) == (len(set(lengths)) == 1)
        rows = kept_rows(t[:, sl], keep)
        torch.testing.assert_close(rows, t[:, sl][mask[:, sl]])
        if len(lengths) == 1 and rows.numel():
            assert rows.data_ptr() == t[0, sl][keep].data_ptr()
