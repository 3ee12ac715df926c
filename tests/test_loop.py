"""The one time loop: modes agree with each other and with a step-by-step run."""

import numpy as np
import pytest
import torch

import esnkit as ek
from esnkit.loop import unroll
from reference import Weights, harvest


def test_closed_loop_generation_equals_step_by_step_generation():
    s = ek.datasets.sine(400, period=17)
    esn = ek.ESN(60, leak_rate=0.7, feedback_scaling=0.2, seed=0).fit(s[:-1], s[1:])
    fused = esn.generate(50, update_state=False)
    # One step at a time through the public API, feeding each output back as the next input.
    state, outs = esn.state, []
    for _ in range(50):
        y, state = esn.predict(state.y.numpy(), initial_state=state, return_state=True)
        outs.append(y[-1])
    np.testing.assert_allclose(fused, np.array(outs), atol=1e-12)


@pytest.mark.parametrize("activation", ["tanh", "relu", "sigmoid", "identity"])
@pytest.mark.parametrize("B", [1, 3])
@pytest.mark.parametrize("leak", [1.0, "per-neuron"])
def test_eager_loop_equals_the_reference_for_both_layouts(monkeypatch, activation, B, leak):
    # The eager step writes each state into the states buffer (in place where the activation allows),
    # with a CSR W above DENSE_MATMUL_MAX and a dense one below: both must give the reference's states.
    import esnkit.reservoir.module as res

    n = 300
    a = np.random.default_rng(5).uniform(0.2, 1.0, n) if leak == "per-neuron" else leak
    r = res.Reservoir.random(n, 2, 1, spectral_radius=0.8, leak_rate=a, bias_scaling=0.3, feedback_scaling=0.4,
                             activation=activation, seed=3)
    g = torch.Generator().manual_seed(0)
    u = torch.randn(B, 40, 2, generator=g, dtype=torch.float64)
    teacher = torch.randn(B, 40, 1, generator=g, dtype=torch.float64)
    drive = r.input_drive(u, B, 40) + teacher @ r.W_fb.T
    x0 = 0.1 * torch.randn(B, n, generator=g, dtype=torch.float64)
    assert r.recurrent_matrix().layout == torch.sparse_csr
    sparse = unroll(r, drive, x0, backend="torch")
    monkeypatch.setattr(res, "DENSE_MATMUL_MAX", 10_000)
    assert r.recurrent_matrix().layout == torch.strided
    dense = unroll(r, drive, x0, backend="torch")
    w = Weights(r)
    for b in range(B):
        y_ref = np.vstack([teacher[b, 1:].numpy(), np.zeros((1, 1))])  # the drive already holds y[t-1]
        want = harvest(w, u[b].numpy(), y_ref, x0=x0[b].numpy(), y0=teacher[b, 0].numpy())
        for got in (sparse, dense):
            np.testing.assert_allclose(got.states[b].numpy(), want, rtol=0, atol=1e-12)
            np.testing.assert_array_equal(got.x[b].numpy(), got.states[b, -1].numpy())


@pytest.mark.parametrize("leak", [1.0, 0.6])
def test_eager_loop_with_a_callable_activation_equals_the_named_one(leak):
    # a callable is not known to be safe to apply in place: it gets a tensor of its own
    named = ek.Reservoir.random(300, 1, leak_rate=leak, seed=2)
    calls = 0

    def tanh(z):
        nonlocal calls
        calls += 1
        return torch.tanh(z)

    custom = ek.Reservoir.random(300, 1, leak_rate=leak, activation=tanh, seed=2)
    u = torch.randn(2, 30, 1, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    x0 = torch.zeros(2, 300, dtype=torch.float64)
    want = unroll(named, named.input_drive(u, 2, 30), x0, backend="torch")
    got = unroll(custom, custom.input_drive(u, 2, 30), x0, backend="torch")
    assert calls == 30
    torch.testing.assert_close(got.states, want.states, rtol=0, atol=0)


def test_a_captured_gpu_step_gathers_rows_where_a_dense_w_would_be_large():
    from esnkit.loop.cuda_graph import _graph_layout

    def ensemble(K, n):
        return ek.Reservoir.stack([ek.Reservoir.random(n, 1, in_degree=10, seed=k) for k in range(K)])

    assert _graph_layout(ek.Reservoir.random(1000, 1, in_degree=10, seed=0), 1) == "dense"
    big = ek.Reservoir.random(4096, 1, in_degree=10, seed=0)
    assert _graph_layout(big, 1) == "gather"
    assert _graph_layout(big, 200) == "dense"  # 200 sequences gather more than W holds
    assert _graph_layout(ek.Reservoir.random(12_000, 1, in_degree=10, seed=0), 500) is None
    search = ensemble(48, 500)  # a search batch of trials, one sequence
    assert _graph_layout(search, 1) == "gather"
    assert _graph_layout(search, 32) == "blocks"
    assert _graph_layout(ensemble(4, 300), 1) == "blocks"
