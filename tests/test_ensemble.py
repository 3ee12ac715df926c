"""Ensembles: K members harvested in one pass equal K separate fits."""

import math
import warnings

import numpy as np
import pytest
import torch

import esnkit as ek
from esnkit import native
from esnkit.loop.cuda_graph import block_dense, ell_layout
from esnkit.loop.eager import _run_torch, _Step
from esnkit.models import Ensemble
from esnkit.reservoir import Reservoir

MEMBERS = [
    dict(spectral_radius=0.5, leak_rate=0.3, seed=1),
    dict(spectral_radius=1.1, input_scaling=0.3, bias_scaling=0.1, seed=2),
    dict(spectral_radius=0.9, feedback_scaling=0.2, seed=1, ridge=1e-5),
    dict(spectral_radius=0.7, connectivity=0.05, leak_rate=0.9, seed=3, solver="pinv", ridge=0.0),
]


def fit_both(data, dtype, **common):
    u, y = data[:-1], data[1:]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ek.EchoStatePropertyWarning)
        together = Ensemble([ek.ESN(120, dtype=dtype, **common, **p) for p in MEMBERS]).fit(u, y)
        alone = [ek.ESN(120, dtype=dtype, **common, **p).fit(u, y) for p in MEMBERS]
    return together, alone


@pytest.mark.skipif(not native.available(), reason="bit-for-bit equality is a property of the native kernel")
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_ensemble_equals_separate_fits_bit_for_bit(dtype):
    data = ek.datasets.mackey_glass(900)
    together, alone = fit_both(data, dtype, washout=50)
    for a, b in zip(together, alone):
        assert torch.equal(a.reservoir_.W_values, b.reservoir_.W_values)
        assert torch.equal(a.readout_.weight, b.readout_.weight)
        assert torch.equal(a.state_x, b.state_x)
        assert np.array_equal(a.generate(40), b.generate(40))


def test_ensemble_equals_separate_fits_on_the_pytorch_loop():
    data = ek.datasets.mackey_glass(600)
    with ek.use_backend("torch"):
        together, alone = fit_both(data, "float64", washout=30)
    for a, b in zip(together, alone):
        # states agree to rounding; the unregularised (pinv) and ridge-1e-8 readouts amplify it in
        # the transient from the zero state, so predictions are compared past a washout
        assert torch.allclose(a.state_x, b.state_x, rtol=0, atol=1e-10)
        assert np.allclose(a.predict(data[:200])[50:], b.predict(data[:200])[50:], rtol=0, atol=1e-6)


def test_harvest_rows_are_the_members_states():
    data = ek.datasets.mackey_glass(400)
    u, y = data[:-1], data[1:]
    models = [ek.ESN(60, seed=s, washout=10) for s in (0, 1)]
    h = Ensemble(models).harvest(u, y, split=300)
    assert h.Z.shape == (2, 99, 62) and h.Y.shape == (99, 1) and h.count == 290
    for k, p in enumerate((0, 1)):
        ref = ek.ESN(60, seed=p, washout=10).fit(u, y)
        states = ref.states(u, targets=y, initial_state=np.zeros(60))
        assert torch.allclose(h.Z[k, :, -60:], torch.as_tensor(states[300:]), atol=1e-12)
        assert torch.allclose(h.at_split[k].x, torch.as_tensor(states[299])[None], atol=1e-12)


def test_stacked_reservoir_is_block_diagonal():
    rs = [Reservoir.random(30, 2, 1, seed=s, spectral_radius=0.5 + 0.1 * s) for s in range(3)]
    block = Reservoir.stack(rs)
    W = block.scipy_recurrent().toarray()
    for k, r in enumerate(rs):
        sl = slice(30 * k, 30 * (k + 1))
        assert np.array_equal(W[sl, sl], r.scipy_recurrent().toarray())
        W[sl, sl] = 0
    assert not W.any()
    assert block.W_in.shape == (90, 2) and block.W_fb.shape == (90, 1)


def test_members_must_share_the_layout():
    with pytest.raises(ValueError, match="reservoir_size"):
        Ensemble([ek.ESN(50), ek.ESN(60)])
    with pytest.raises(ValueError, match="lstsq"):
        Ensemble([ek.ESN(50, solver="lstsq")])
    with pytest.raises(ValueError, match="at least one"):
        Ensemble([])
    with pytest.raises(TypeError, match="esnkit.ESN"):
        Ensemble([object()])


def test_cached_radius_gives_the_same_weights_and_exact_radius():
    a = Reservoir.random(200, 1, seed=5, spectral_radius=0.8)
    b = Reservoir.random(200, 1, seed=5, spectral_radius=1.3)
    assert a.spectral_radius() == pytest.approx(0.8, rel=1e-9)
    assert b.spectral_radius() == pytest.approx(1.3, rel=1e-9)
    assert torch.allclose(a.W_values * (1.3 / 0.8), b.W_values, rtol=1e-14)


@pytest.mark.cuda
def test_ensemble_on_cuda_equals_the_cpu_ensemble():
    data = ek.datasets.mackey_glass(600)
    u, y = data[:-1], data[1:]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ek.EchoStatePropertyWarning)
        cpu = Ensemble([ek.ESN(120, washout=30, **p) for p in MEMBERS]).fit(u, y)
        gpu = Ensemble([ek.ESN(120, washout=30, device="cuda", **p) for p in MEMBERS]).fit(
            torch.from_numpy(u).cuda(), torch.from_numpy(y).cuda())
    for a, b in zip(gpu, cpu):
        assert a.readout_.weight.device.type == "cuda"
        assert torch.allclose(a.state_x.cpu(), b.state_x, rtol=0, atol=1e-10)
        # cuSOLVER and LAPACK round differently, and the near-singular Grams of the unregularised
        # (pinv) and ridge-1e-8 members turn that into ~1e-5 in the predictions
        pa = a.predict(torch.from_numpy(data[:200]).cuda()).cpu().numpy()
        assert np.allclose(pa[50:], b.predict(data[:200])[50:], rtol=0, atol=1e-4)


def gathered_rows_as_dense(cols, vals):
    dense = torch.zeros(cols.shape[0], cols.shape[0], dtype=vals.dtype)
    dense.scatter_add_(1, cols, vals)
    return dense


@pytest.mark.parametrize("layout", ["blocks", "gathered rows"])
@pytest.mark.parametrize("B", [1, 3])
def test_gpu_step_layouts_equal_the_stacked_step(B, layout):
    """The GPU's step layouts (run here on the CPU): batched dense blocks, or each row's nonzeros
    gathered (ELL), against the stacked reservoir's own W."""
    members = [Reservoir.random(40, 2, 1, spectral_radius=0.5 + 0.2 * k, leak_rate=0.6, feedback_scaling=0.3, seed=k)
               for k in range(3)]
    r = Reservoir.stack(members)
    assert r.blocks == 3
    if layout == "blocks":
        W = blocks = block_dense(r)
        torch.testing.assert_close(torch.block_diag(*blocks), r.recurrent_matrix().to_dense(), rtol=0, atol=0)
    else:
        W = cols, vals = ell_layout(r)
        assert cols.shape == vals.shape == (120, int(r.W_crow.diff().max()))
        torch.testing.assert_close(gathered_rows_as_dense(cols, vals), r.recurrent_matrix().to_dense(), rtol=0, atol=0)
    g = torch.Generator().manual_seed(B)
    T = 30
    u = torch.randn(B, T, 2, generator=g, dtype=torch.float64)
    y_prev = torch.randn(B, T, 1, generator=g, dtype=torch.float64)
    drive = r.drive(u, y_prev, batch=B, steps=T).materialise()
    x0 = torch.randn(B, 120, generator=g, dtype=torch.float64)
    want = _run_torch(r, drive, x0, None, None, None, None, False, True)
    got = _run_torch(r, drive, x0, None, None, None, None, False, True, step=_Step(r, None, None, False, W=W))
    torch.testing.assert_close(got.states, want.states, rtol=0, atol=1e-13)
    assert Reservoir.stack([members[0], Reservoir.random(30, 2, 1, seed=9)]).blocks == 1  # unequal sizes


def test_gathered_rows_pad_within_their_own_row_so_an_overflow_stays_in_its_member():
    members = [Reservoir.random(30, 1, connectivity=0.2, seed=k) for k in range(2)]
    r = Reservoir.stack(members)
    cols, vals = ell_layout(r)
    counts = r.W_crow.diff()
    assert int(counts.min()) < cols.shape[1]  # some rows are padded
    for i in range(60):
        pad = slice(int(counts[i]), None)
        assert (cols[i, pad] == i).all() and (vals[i, pad] == 0).all()
    x = torch.zeros(1, 60, dtype=torch.float64)
    x[0, 0] = math.inf  # member 0 overflowed
    drive = torch.zeros(1, 60, dtype=torch.float64)
    x1, _ = _Step(r, None, None, False, W=(cols, vals))(x, None, drive, None)
    assert torch.isfinite(x1[0, 30:]).all()
