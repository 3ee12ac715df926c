"""The ridge path against separate solves, GCV against brute-force leave-one-out, k-fold against refits."""

import numpy as np
import pytest
import torch

from esnkit.readout import (
    LAPACK_EIGH_FROM,
    RidgePath,
    block_folds,
    cheaper_method,
    kfold_sse,
    ridge_grid,
    solve_normal_equations,
)


def problem(M=300, F=12, D=2, seed=0, noise=0.1):
    g = torch.Generator().manual_seed(seed)
    Z = torch.randn(M, F, generator=g, dtype=torch.float64)
    Z[:, 1] = Z[:, 0] + 1e-2 * Z[:, 1]  # correlated features, as reservoir states are
    W = torch.randn(F, D, generator=g, dtype=torch.float64)
    Y = Z @ W + noise * torch.randn(M, D, generator=g, dtype=torch.float64)
    return Z, Y


def close(a, b, tol=1e-10):
    return float((a - b).norm() / b.norm()) <= tol


@pytest.mark.parametrize("M,F", [(300, 12), (1000, LAPACK_EIGH_FROM + 8)])
def test_path_equals_separate_solves(M, F):
    Z, Y = problem(M, F)
    ridges = ridge_grid(1e-6, 10.0, 13)
    path = RidgePath(Z.T @ Z, Z.T @ Y)
    W = path.weights(ridges)
    assert W.shape == (13, 2, F)
    for i, r in enumerate(ridges):
        ref = solve_normal_equations(Z.T @ Z, Z.T @ Y, float(r), "cholesky")
        assert close(W[i], ref)


def test_batched_path_equals_each_member_and_predict_matches_weights():
    probs = [problem(seed=s) for s in range(3)]
    G = torch.stack([Z.T @ Z for Z, _ in probs])
    C = torch.stack([Z.T @ Y for Z, Y in probs])
    ridges = [1e-6, 1e-3, 1.0]
    batched = RidgePath(G, C)
    for k, (Z, Y) in enumerate(probs):
        single = RidgePath(G[k], C[k])
        assert close(batched.weights(ridges)[k], single.weights(ridges))
        pred = single.predict(Z[:50], ridges)
        assert torch.allclose(pred, torch.stack([Z[:50] @ w.T for w in single.weights(ridges)]), atol=1e-10)
        sse = single.sse(Z[:50], Y[:50], ridges)
        assert torch.allclose(sse, ((pred - Y[:50]) ** 2).sum(dim=1), rtol=1e-12)


def test_member_paths_equal_the_batched_path():
    probs = [problem(seed=s) for s in range(2)]
    G = torch.stack([Z.T @ Z for Z, _ in probs])
    C = torch.stack([Z.T @ Y for Z, Y in probs])
    yy = torch.stack([(Y * Y).sum(0) for _, Y in probs])
    path = RidgePath(G, C, yy=yy, count=300)
    ridges = [1e-4, 1e-1]
    for k in range(2):
        assert close(path[k].weights(ridges), path.weights(ridges)[k])
        assert close(path[k].gcv(ridges), path.gcv(ridges)[k])
        assert close(path[k].weights(ridges), RidgePath(G[k], C[k]).weights(ridges))
    with pytest.raises(IndexError, match="one problem"):
        RidgePath(G[0], C[0])[0]


def test_closed_form_residuals_and_gcv_match_direct_computation():
    Z, Y = problem(M=120, F=8, D=1)
    ridges = ridge_grid(1e-6, 1e2, 9)
    path = RidgePath(Z.T @ Z, Z.T @ Y, yy=(Y * Y).sum(0), count=Z.shape[0])
    gcv = path.gcv(ridges)
    for i, r in enumerate(ridges):
        H = Z @ torch.linalg.solve(Z.T @ Z + r * torch.eye(8, dtype=Z.dtype), Z.T)
        resid = Y - H @ Y
        assert path.residual_ss(ridges)[i, 0] == pytest.approx(float((resid**2).sum()), rel=1e-8)
        M = Z.shape[0]
        direct = M * float((resid**2).sum()) / (M - float(torch.trace(H))) ** 2
        assert float(gcv[i]) == pytest.approx(direct, rel=1e-8)


def test_gcv_tracks_brute_force_leave_one_out():
    # GCV is the rotation-invariant form of leave-one-out: on a design with even leverage the two
    # curves agree closely and choose the same ridge value.
    Z, Y = problem(M=80, F=6, D=1, noise=0.5, seed=3)
    Z[:, 1] = torch.randn(80, generator=torch.Generator().manual_seed(9), dtype=torch.float64)
    ridges = ridge_grid(1e-3, 1e3, 13)
    path = RidgePath(Z.T @ Z, Z.T @ Y, yy=(Y * Y).sum(0), count=80)
    gcv = path.gcv(ridges).numpy()
    loo = np.zeros(len(ridges))
    for i, r in enumerate(ridges):
        for j in range(80):
            keep = torch.arange(80) != j
            Zk, Yk = Z[keep], Y[keep]
            w = torch.linalg.solve(Zk.T @ Zk + r * torch.eye(6, dtype=Z.dtype), Zk.T @ Yk)
            loo[i] += float(((Z[j] @ w - Y[j]) ** 2).sum()) / 80
    assert np.max(np.abs(gcv - loo) / loo) < 0.05
    assert abs(int(np.argmin(gcv)) - int(np.argmin(loo))) <= 1


@pytest.mark.parametrize("M,F", [(200, 10), (1000, LAPACK_EIGH_FROM + 8)])
def test_kfold_equals_refitting_each_fold(M, F):
    Z, Y = problem(M=M, F=F, D=2)
    ridges = [1e-4, 1e-1]
    got = kfold_sse(Z, Y, 5, ridges)
    want = torch.zeros(2, 2, dtype=torch.float64)
    for f in block_folds(M, 5):
        train = torch.ones(M, dtype=torch.bool)
        train[f] = False
        for i, r in enumerate(ridges):
            W = solve_normal_equations(Z[train].T @ Z[train], Z[train].T @ Y[train], r, "cholesky")
            want[i] += ((Z[f] @ W.T - Y[f]) ** 2).sum(0)
    assert torch.allclose(got, want, rtol=1e-9)


def test_cholesky_method_equals_the_eigendecomposition_path():
    probs = [problem(seed=s) for s in range(3)]
    G = torch.stack([Z.T @ Z for Z, _ in probs])
    C = torch.stack([Z.T @ Y for Z, Y in probs])
    yy = torch.stack([(Y * Y).sum(0) for _, Y in probs])
    ridges = ridge_grid(1e-6, 10.0, 5)
    eig = RidgePath(G, C, yy=yy, count=300)
    chol = RidgePath(G, C, yy=yy, count=300, method="cholesky")
    assert chol._eig is None  # nothing decomposed until an eigenvalue is needed
    assert close(chol.weights(ridges), eig.weights(ridges))
    Z, Y = probs[1]
    assert close(chol[1].sse(Z[:50], Y[:50], ridges), eig[1].sse(Z[:50], Y[:50], ridges))
    for i, r in enumerate(ridges):
        assert close(chol[2].weights(ridges)[i], solve_normal_equations(G[2], C[2], float(r), "cholesky"))
    assert close(chol.gcv(ridges), eig.gcv(ridges))
    assert close(kfold_sse(Z, Y, 4, ridges, method="cholesky"), kfold_sse(Z, Y, 4, ridges))


def test_cholesky_method_marks_a_ridge_without_a_factorisation_nan():
    Z, Y = problem(F=2)
    # rounding can leave a nearly singular Gram matrix indefinite; the factorisation stops at the
    # negative pivot and a solve with what it left would be finite garbage
    indefinite = torch.tensor([[1.0, 2.0], [2.0, 1.0]], dtype=torch.float64)
    G = torch.stack([Z.T @ Z, indefinite])
    C = torch.stack([Z.T @ Y, torch.ones(2, 2, dtype=torch.float64)])
    W = RidgePath(G, C, method="cholesky").weights([1e-20, 10.0])  # (K, L, D, F)
    assert torch.isfinite(W[0]).all() and torch.isfinite(W[1, 1]).all()
    assert torch.isnan(W[1, 0]).all()


def test_bad_arguments_are_clear():
    with pytest.raises(ValueError, match="low ≤ high"):
        ridge_grid(1.0, 1e-3)
    with pytest.raises(ValueError, match="folds"):
        block_folds(100, 1)
    with pytest.raises(ValueError, match="too few"):
        block_folds(5, 3)
    Z, Y = problem()
    path = RidgePath(Z.T @ Z, Z.T @ Y)
    with pytest.raises(ValueError, match="ridges"):
        path.weights([0.0, 1.0])
    with pytest.raises(ValueError, match="count"):
        path.gcv([1.0])
    with pytest.raises(ValueError, match="method must be one of"):
        RidgePath(Z.T @ Z, Z.T @ Y, method="qr")


def test_the_cpu_decomposes_whatever_the_batch():
    assert cheaper_method(torch.zeros(48, 5, 5), 25) == "eigh"
    assert cheaper_method(torch.zeros(5, 5), 1) == "eigh"


@pytest.mark.cuda
def test_path_on_cuda_equals_the_cpu_path():
    Z, Y = problem()
    ridges = ridge_grid(1e-6, 10.0, 7)
    cpu = RidgePath(Z.T @ Z, Z.T @ Y)
    Zc, Yc = Z.cuda(), Y.cuda()
    gpu = RidgePath(Zc.T @ Zc, Zc.T @ Yc)
    assert close(gpu.weights(ridges).cpu(), cpu.weights(ridges))
    assert close(gpu.sse(Zc[:50], Yc[:50], ridges).cpu(), cpu.sse(Z[:50], Y[:50], ridges))


@pytest.mark.cuda
def test_cholesky_path_on_cuda_equals_the_cpu_path():
    probs = [problem(seed=s) for s in range(4)]
    G = torch.stack([Z.T @ Z for Z, _ in probs])
    C = torch.stack([Z.T @ Y for Z, Y in probs])
    ridges = ridge_grid(1e-6, 10.0, 7)
    cpu = RidgePath(G, C)
    gpu = RidgePath(G.cuda(), C.cuda(), method="cholesky")
    assert close(gpu.weights(ridges).cpu(), cpu.weights(ridges))
    # a GPU factors a batch in one call but decomposes it matrix by matrix
    assert cheaper_method(torch.zeros(8, 5, 5, device="cuda"), 25) == "cholesky"
    assert cheaper_method(torch.zeros(8, 5, 5, device="cuda"), 50) == "eigh"
    assert cheaper_method(torch.zeros(5, 5, device="cuda"), 25) == "eigh"
