"""The one time loop: modes agree with each other and with a step-by-step run."""

import numpy as np
import torch

import esnkit as ek
from esnkit.loop import unroll


def test_closed_loop_generation_equals_step_by_step_generation():
    s = ek.datasets.sine(400, period=17)
    esn = ek.ESN(60, leak_rate=0.7, feedback_scaling=0.2, seed=0).fit(s[:-1], s[1:])
    fused = esn.generate(50)
    # One step at a time through the public API, feeding each output back as the next input.
    state, outs = esn.state, []
    for _ in range(50):
        y, state = esn.predict(state.y.numpy(), initial_state=state, return_state=True)
        outs.append(y[-1])
    np.testing.assert_allclose(fused, np.array(outs), atol=1e-12)


def test_dense_and_sparse_recurrent_paths_agree(monkeypatch):
    import esnkit.reservoir as res

    r = res.Reservoir.random(300, 1, seed=0)
    drive = torch.randn(2, 40, 300, dtype=torch.float64)
    x0 = torch.zeros(2, 300, dtype=torch.float64)
    assert r.recurrent_matrix().layout == torch.sparse_csr
    sparse = unroll(r, drive, x0).states
    monkeypatch.setattr(res, "DENSE_MATMUL_MAX", 10_000)
    assert r.recurrent_matrix().layout == torch.strided
    dense = unroll(r, drive, x0).states
    torch.testing.assert_close(sparse, dense, rtol=0, atol=1e-12)
