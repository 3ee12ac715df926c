"""The one harvest engine against the NumPy reference: K reservoirs, ragged batches, chunk boundaries."""

import numpy as np
import pytest
import torch

import esnkit as ek
import reference as ref
from esnkit._series import to_batch
from esnkit.models.engine import ESNState, harvest, run
from esnkit.readout import Lstsq, Ridge, StateInputs

RNG = np.random.default_rng(7)
N = 30


def members(feedback: bool):
    kw = dict(feedback_scaling=0.4) if feedback else {}
    return [ek.ESN(N, spectral_radius=rho, leak_rate=a, input_scaling=0.6, seed=s, washout=3, ridge=1e-6, **kw)
            for rho, a, s in ((0.8, 1.0, 0), (1.1, 0.4, 1), (0.5, 0.7, 2))]


@pytest.mark.parametrize("chunk", [1, 4, 7, 1000])
@pytest.mark.parametrize("feedback", [False, True])
def test_harvest_of_k_reservoirs_over_a_ragged_batch_equals_the_reference(chunk, feedback):
    lengths = (23, 9, 17)
    U = [RNG.uniform(-1, 1, (n, 2)) for n in lengths]
    Y = [RNG.uniform(-1, 1, (n, 1)) for n in lengths]
    models = members(feedback)
    for m in models:
        m.set_params(chunk_size=chunk)
    split = 12  # rows past it are kept, the ones before accumulate (sequences shorter than it keep none)
    h = ek.ESN.harvest(models, U, Y, split=split, check_echo_state=False)
    assert len(h.reservoirs) == 3 and h.Z.shape[0] == 3
    keep_rows = []
    for k, res in enumerate(h.reservoirs):
        w = ref.Weights(res)
        states = [ref.harvest(w, u, y) for u, y in zip(U, Y)]
        # fitting rows: washout ≤ t < split; kept rows: t ≥ split, chunk by chunk, sequence after sequence
        Z_fit = np.array([ref.feature(x[t], u[t], True, True) for x, u in zip(states, U)
                          for t in range(3, min(split, len(x)))])
        Y_fit = np.array([y[t] for y in Y for t in range(3, min(split, len(y)))])
        np.testing.assert_allclose(h.fits[k].G.numpy(), Z_fit.T @ Z_fit, rtol=1e-11, atol=1e-11)
        np.testing.assert_allclose(h.fits[k].C.numpy(), Z_fit.T @ Y_fit, rtol=1e-11, atol=1e-11)
        order = [(lo, b, t) for lo in range(0, max(lengths), chunk) for b, n in enumerate(lengths)
                 for t in range(max(lo, split), min(lo + chunk, n))]
        Z_keep = np.array([ref.feature(states[b][t], U[b][t], True, True) for _, b, t in order])
        np.testing.assert_allclose(h.Z[k].numpy(), Z_keep, rtol=0, atol=1e-12)
        keep_rows = [Y[b][t] for _, b, t in order]
        for b, x in enumerate(states):  # each sequence's own final state
            np.testing.assert_allclose(h.final[k].x[b].numpy(), x[-1], rtol=0, atol=1e-12)
        # the solved readout is the reference's ridge solution over the fitting rows (few rows: the
        # weights are ill-conditioned, so their fitted values are compared)
        W = np.linalg.solve(Z_fit.T @ Z_fit + 1e-6 * np.eye(Z_fit.shape[1]), Z_fit.T @ Y_fit).T
        np.testing.assert_allclose(Z_fit @ h.fits[k].solve().numpy().T, Z_fit @ W.T, rtol=0, atol=1e-7)
    np.testing.assert_array_equal(h.Y.numpy(), np.array(keep_rows))
    assert h.count == sum(max(0, min(split, n) - 3) for n in lengths)
    assert h.at_split is None  # the split is not inside every sequence


def test_a_ragged_batch_is_one_pass_with_the_states_of_separate_runs():
    lengths = (40, 11, 26)
    U = [RNG.uniform(-1, 1, (n, 1)) for n in lengths]
    esn = ek.ESN(N, seed=4, chunk_size=8).fit(U, [u ** 2 for u in U])
    x0 = RNG.uniform(-1, 1, N)
    together = esn.states(U, initial_state=x0)
    for u, x in zip(U, together):
        np.testing.assert_allclose(x, esn.states(u, initial_state=x0), rtol=0, atol=1e-13)
        np.testing.assert_allclose(x, ref.harvest(ref.Weights(esn.reservoir_), u, None, x0=x0), rtol=0, atol=1e-12)


def test_run_drives_k_reservoirs_in_one_stacked_pass():
    models = members(False)
    U = RNG.uniform(-1, 1, (2, 15, 2))
    h = ek.ESN.harvest(models, U, U[..., :1], check_echo_state=False)
    B = to_batch(U, "u", dtype=torch.float64, device="cpu")
    start = ESNState(torch.zeros(2, 3 * N, dtype=torch.float64), torch.zeros(2, 1, dtype=torch.float64))
    outs = [out.states for _, _, out in run(h.reservoirs, start, 15, inputs=B.data, chunk_size=4)]
    states = torch.cat(outs, dim=1)
    for k, res in enumerate(h.reservoirs):
        for b in range(2):
            expect = ref.harvest(ref.Weights(res), U[b], None)
            np.testing.assert_allclose(states[b, :, k * N:(k + 1) * N].numpy(), expect, rtol=0, atol=1e-12)


def test_trainers_plug_into_the_engine():
    s = ek.datasets.mackey_glass(500)
    res = ek.ESN(N, seed=0).fit(s[:-1], s[1:]).reservoir_
    U, Y = (to_batch(a, n, dtype=torch.float64, device="cpu") for a, n in ((s[:-1], "u"), (s[1:], "y")))
    h = harvest([res, res], U, Y, [Ridge(1e-4), Lstsq(1e-4)], features=StateInputs(), washout=50, chunk_size=64)
    torch.testing.assert_close(h.fits[0].solve(), h.fits[1].solve(), rtol=1e-6, atol=1e-8)

    class SquaredStates:  # the worked example of docs/architecture.md: z = [1; x; x²]
        def size(self, state_size, input_size):
            return 1 + 2 * state_size

        def __call__(self, x, u):
            return torch.cat([torch.ones_like(x[..., :1]), x, x * x], dim=-1)

    h2 = harvest([res, res], U, Y, [Ridge(1e-8)] * 2, features=SquaredStates(), washout=50)
    assert h2.fits[0].G.shape == (1 + 2 * N, 1 + 2 * N)
    x = torch.from_numpy(ref.harvest(ref.Weights(res), s[:-1], None))[50:]
    Z = SquaredStates()(x, None)
    torch.testing.assert_close(h2.fits[0].G, Z.T @ Z, rtol=1e-10, atol=1e-10)


def test_esn_harvest_and_fit_from_check_what_they_are_given():
    s = ek.datasets.mackey_glass(600)
    u, y = s[:-1], s[1:]
    m = ek.ESN(N, washout=50, seed=0)
    for split in (0, 50, -5, 1500.0):
        with pytest.raises(ValueError, match="split must be an integer above washout=50"):
            ek.ESN.harvest([m], u, y, split=split)
    with pytest.raises(ValueError, match="must share washout"):
        ek.ESN.harvest([m, ek.ESN(N, washout=60, seed=1)], u, y)
    with pytest.raises(ValueError, match="must share reservoir_size"):
        ek.ESN.harvest([m, ek.ESN(N + 1, washout=50, seed=1)], u, y)
    with pytest.raises(ValueError, match="holds no ESN"):
        ek.ESN.harvest([], u, y)
    with pytest.raises(TypeError, match=r"models\[0\] must be an esnkit.ESN"):
        ek.ESN.harvest([object()], u, y)
    h = ek.ESN.harvest((x for x in [m, ek.ESN(N, washout=50, seed=1)]), u, y)  # any iterable
    with pytest.raises(ValueError, match="k must be the index of one of the harvest's 2"):
        ek.ESN(N, washout=50, seed=0).fit_from(h, 5)
    with pytest.raises(ValueError, match="spectral_radius, seed differ from model 0"):
        ek.ESN(N, washout=50, seed=99, spectral_radius=1.3).fit_from(h, 0)
    # model 1 of the pass is that model fitted alone (its readout ill-conditioned at this size: compare outputs)
    np.testing.assert_allclose(ek.ESN(N, washout=50, seed=1).fit_from(h, 1).predict(u[:200], update_state=False),
                               ek.ESN(N, washout=50, seed=1).fit(u, y).predict(u[:200], update_state=False),
                               rtol=0, atol=1e-6)
    # with its own weight (the search's way), the readout's ridge may differ from the harvest's
    ek.ESN(N, washout=50, seed=0, ridge=1e-3).fit_from(h, 0, weight=h.fits[0].solve(1e-3, "auto"))


def test_trainers_and_fit_from_refuse_bad_arguments():
    for bad in (lambda: Ridge(-1.0), lambda: Ridge(float("nan")), lambda: Lstsq("x"), lambda: Ridge(1e-3, "qr")):
        with pytest.raises(ValueError, match="ridge|solver"):
            bad()
    with pytest.raises(TypeError, match="h must be what ESN.harvest returned"):
        ek.ESN(N).fit_from(None)
