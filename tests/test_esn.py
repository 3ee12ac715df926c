"""The ESN estimator against the NumPy reference, plus its state, layout and dtype contracts."""

import numpy as np
import pytest
import torch

import esnkit as ek
import reference as ref

RNG = np.random.default_rng(7)


def small(**kw):
    base = dict(spectral_radius=0.8, connectivity=0.3, input_scaling=0.7, bias_scaling=0.3, ridge=1e-3, seed=3)
    return ek.ESN(40, **{**base, **kw})


CONFIGS = {
    "plain": dict(leak_rate=1.0, bias_scaling=0.0),
    "leak": dict(leak_rate=0.3),
    "per-neuron-leak": dict(leak_rate=np.linspace(0.1, 1.0, 40)),
    "feedback": dict(leak_rate=0.5, feedback_scaling=0.4),
    "washout-no-readout-bias-input": dict(washout=10, readout_bias=False, readout_input=False),
    "identity": dict(activation="identity", spectral_radius=0.5),
    "in-degree": dict(connectivity=None, in_degree=5),
}


@pytest.mark.parametrize("name", CONFIGS)
def test_fit_states_readout_and_predictions_match_numpy_reference(name):
    esn = small(**CONFIGS[name])
    U, Y = RNG.uniform(-1, 1, (120, 2)), RNG.uniform(-1, 1, (120, 3))
    esn.fit(U, Y)
    w = ref.Weights(esn.reservoir_)
    X = ref.harvest(w, U, Y)
    np.testing.assert_allclose(esn.states(U, targets=Y, initial_state=np.zeros(40)), X, rtol=0, atol=1e-12)
    W_out = ref.ridge_readout([X], [U], [Y], esn.washout, esn.ridge, esn.readout_bias, esn.readout_input)
    np.testing.assert_allclose(esn.readout_.weight.numpy(), W_out, rtol=1e-9, atol=1e-10)
    # Driven prediction continues from the end of training and feeds back its own outputs.
    U2 = RNG.uniform(-1, 1, (30, 2))
    expected = ref.run_free(w, esn.readout_.weight.numpy(), X[-1], Y[-1], U=U2,
                            use_bias=esn.readout_bias, use_input=esn.readout_input)
    np.testing.assert_allclose(esn.predict(U2), expected, rtol=0, atol=1e-10)


def test_batch_and_ragged_lists_match_per_sequence_reference():
    esn = small(leak_rate=0.4, feedback_scaling=0.3, washout=5)
    seqs_u = [RNG.uniform(-1, 1, (n, 1)) for n in (50, 80, 20)]
    seqs_y = [np.sin(3 * u) for u in seqs_u]
    esn.fit(seqs_u, seqs_y)
    w = ref.Weights(esn.reservoir_)
    Xs = [ref.harvest(w, u, y) for u, y in zip(seqs_u, seqs_y)]
    W_out = ref.ridge_readout(Xs, seqs_u, seqs_y, 5, esn.ridge)
    np.testing.assert_allclose(esn.readout_.weight.numpy(), W_out, rtol=1e-9, atol=1e-10)
    states = esn.states(seqs_u, targets=seqs_y, initial_state=np.zeros(40))
    assert [s.shape for s in states] == [(50, 40), (80, 40), (20, 40)]
    for s, X in zip(states, Xs):
        np.testing.assert_allclose(s, X, atol=1e-12)
    # Each sequence's final state is carried: predictions continue from each sequence's own end.
    np.testing.assert_allclose(esn.state.x.numpy(), np.stack([X[-1] for X in Xs]), atol=1e-12)
    nxt = [RNG.uniform(-1, 1, (n, 1)) for n in (7, 3, 5)]
    preds = esn.predict(nxt)
    for p, u, X, y in zip(preds, nxt, Xs, seqs_y):
        np.testing.assert_allclose(p, ref.run_free(w, esn.readout_.weight.numpy(), X[-1], y[-1], U=u), atol=1e-10)


def test_3d_batch_equals_separate_fits_of_each_sequence_in_its_states():
    esn = small(leak_rate=0.5)
    U = RNG.uniform(-1, 1, (4, 60, 2))
    Y = RNG.uniform(-1, 1, (4, 60, 1))
    esn.fit(U, Y)
    states = esn.states(U, targets=Y, initial_state=np.zeros(40))
    assert states.shape == (4, 60, 40)
    w = ref.Weights(esn.reservoir_)
    for b in range(4):
        np.testing.assert_allclose(states[b], ref.harvest(w, U[b], Y[b]), atol=1e-12)
    assert esn.predict(U[:, :10]).shape == (4, 10, 1)


def test_generate_forecaster_and_pattern_generator_match_reference():
    esn = small(leak_rate=0.6)
    s = ek.datasets.sine(300, period=25)
    esn.fit(s[:-1], s[1:])
    w = ref.Weights(esn.reservoir_)
    g = esn.generate(40)
    X = ref.harvest(w, s[:-1], s[1:])
    np.testing.assert_allclose(g, ref.run_free(w, esn.readout_.weight.numpy(), X[-1], s[-1], n=40, forecaster=True),
                               atol=1e-10)
    pg = small(feedback_scaling=1.0, leak_rate=0.7).fit(None, s)
    w = ref.Weights(pg.reservoir_)
    X = ref.harvest(w, None, s)
    np.testing.assert_allclose(pg.generate(40), ref.run_free(w, pg.readout_.weight.numpy(), X[-1], s[-1], n=40),
                               atol=1e-10)


def test_chunked_run_equals_single_chunk():
    U, Y = RNG.uniform(-1, 1, (200, 1)), RNG.uniform(-1, 1, (200, 1))
    a = small(feedback_scaling=0.2, chunk_size=7).fit(U, Y)
    b = small(feedback_scaling=0.2, chunk_size=10_000).fit(U, Y)
    np.testing.assert_allclose(a.readout_.weight.numpy(), b.readout_.weight.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(a.predict(U[:50]), b.predict(U[:50]), atol=1e-12)
    np.testing.assert_allclose(a.generate(30), b.generate(30), atol=1e-12)


@pytest.mark.parametrize("chunk_size", [7, 64, 10_000])
def test_states_of_a_ragged_batch_are_each_sequences_own_in_any_chunking(chunk_size):
    # states are written chunk by chunk into one (batch, time, N) buffer: every chunk must land
    # in its own place, for every sequence of a batch
    esn = small(leak_rate=0.6, chunk_size=chunk_size).fit(RNG.uniform(-1, 1, (120, 1)), RNG.uniform(-1, 1, (120, 1)))
    seqs = [RNG.uniform(-1, 1, (n, 1)) for n in (70, 33, 64)]
    w = ref.Weights(esn.reservoir_)
    x0 = RNG.uniform(-1, 1, 40)
    got = esn.states(seqs, initial_state=x0)
    assert [g.shape for g in got] == [(70, 40), (33, 40), (64, 40)]
    for g, u in zip(got, seqs):
        np.testing.assert_allclose(g, ref.harvest(w, u, np.zeros((len(u), 1)), x0=x0), rtol=0, atol=1e-12)
        np.testing.assert_allclose(g, esn.states(u, initial_state=x0), rtol=0, atol=1e-13)


def test_the_state_table_which_calls_start_from_and_move_the_carried_state():
    s = ek.datasets.sine(400, period=30)
    esn = small().fit(s[:200], s[1:201])
    end_of_fit = esn.state
    # predict starts from the carried state and moves it by default; update_state=False is pure
    first = esn.predict(s[201:250], update_state=False)
    assert np.array_equal(first, esn.predict(s[201:250], update_state=False))
    assert torch.equal(esn.state.x, end_of_fit.x)
    whole = esn.predict(s[201:300], update_state=False)
    a = esn.predict(s[201:250])
    b = esn.predict(s[250:300])
    np.testing.assert_allclose(np.concatenate([a, b]), whole, atol=1e-12)
    # "warm up on recent data, then generate" continues from the end of the warm-up
    after_warmup = esn.state
    g = esn.generate(20)
    assert np.array_equal(g, esn.generate(20, initial_state=after_warmup, update_state=False))
    assert not torch.equal(esn.state.x, after_warmup.x)  # generate moved it too
    y, state = esn.predict(s[300:310], update_state=False, return_state=True)
    np.testing.assert_allclose(esn.predict(s[310:320], initial_state=state, update_state=False),
                               esn.predict(s[300:320], update_state=False)[10:], atol=1e-12)
    # forecast, forward, states and score leave it alone
    moved = esn.state
    esn.forecast(s[100:200], 5)
    esn.forward(torch.from_numpy(s[:50]))
    esn.states(s[:50])
    esn.score(s[201:250], s[202:251])
    assert torch.equal(esn.state.x, moved.x) and torch.equal(esn.state.y, moved.y)
    esn.reset()
    assert esn.state is None
    zero_start = esn.predict(s[201:250], update_state=False)
    explicit = esn.predict(s[201:250], initial_state=np.zeros(40))
    assert np.array_equal(zero_start, explicit)
    # fit starts from zeros, whatever the model carried: twice gives the same weights, bit for bit
    w1 = esn.fit(s[:200], s[1:201]).readout_.weight.clone()
    esn.predict(s[200:300])
    assert torch.equal(esn.fit(s[:200], s[1:201]).readout_.weight, w1)


def test_forecast_warms_up_each_history_and_runs_free_in_one_batch():
    s = ek.datasets.mackey_glass(1500)
    esn = ek.ESN(80, spectral_radius=0.9, washout=50, ridge=1e-8, seed=0).fit(s[:1000], s[1:1001])
    hist = [s[1000:1200], s[1100:1250], s[900:1300]]
    out = esn.forecast(hist, 30)
    assert out.shape == (3, 30, 1)
    for h, o in zip(hist, out):
        # the same as: predict through the history from zeros, then generate from there
        drive, st = esn.predict(h, initial_state=np.zeros(80), update_state=False, return_state=True)
        ref_free = esn.generate(29, initial_state=st, update_state=False)
        np.testing.assert_allclose(o, np.concatenate([drive[-1:], ref_free]), rtol=0, atol=1e-12)
        # one history alone: (horizon, D), bit for bit what it gets in the (ragged) batch
        np.testing.assert_array_equal(esn.forecast(h, 30), o)
    # its first step is the value right after the history's last one
    assert abs(out[0, 0, 0] - s[1200, 0]) < 0.01
    assert esn.forecast(s[1000:1200, 0], 30).shape == (30,)  # 1-D in, 1-D out
    assert isinstance(esn.forecast(torch.from_numpy(s[1000:1200]), 5), torch.Tensor)
    with pytest.raises(ValueError, match="horizon"):
        esn.forecast(hist, 0)
    with pytest.raises(ValueError, match="feature"):
        esn.forecast(np.zeros((2, 10, 3)), 5)  # histories live in the output space


def test_forecast_of_a_pattern_generator_continues_its_history():
    s = ek.datasets.sine(3000, period=20)
    pg = ek.ESN(200, spectral_radius=0.8, feedback_scaling=1.0, ridge=1e-8, washout=200, seed=0).fit(None, s[:2000])
    out = pg.forecast(np.stack([s[1850:2100], s[1855:2105]]), 50)  # longer than the washout
    np.testing.assert_allclose(out[0], s[2100:2150], atol=1e-4)
    np.testing.assert_allclose(out[1], s[2105:2155], atol=1e-4)


def test_forward_is_driven_prediction_from_zeros_on_tensors():
    s = ek.datasets.sine(300, period=25)
    esn = small().fit(s[:200], s[1:201])
    u = torch.from_numpy(s[200:260])
    y = esn.forward(u)
    assert isinstance(y, torch.Tensor) and y.shape == (60, 1)
    assert torch.equal(y, esn(u))
    np.testing.assert_array_equal(y.numpy(), esn.predict(s[200:260], initial_state=np.zeros(40), update_state=False))


def test_echo_state_property_different_initial_states_converge():
    esn = ek.ESN(200, spectral_radius=0.9, leak_rate=0.5, seed=1).fit(RNG.uniform(-1, 1, 300), RNG.normal(size=300))
    u = RNG.uniform(-1, 1, (400, 1))
    x1 = esn.states(u, initial_state=RNG.uniform(-1, 1, 200))
    x2 = esn.states(u, initial_state=RNG.uniform(-1, 1, 200))
    gap = np.linalg.norm(x1 - x2, axis=1)
    assert gap[0] > 1.0
    assert gap[-1] < 1e-8 * gap[0]


def test_same_seed_bit_identical_and_different_seed_differs():
    U, Y = RNG.uniform(-1, 1, (150, 1)), RNG.uniform(-1, 1, (150, 1))
    a, b, c = (ek.ESN(300, seed=s).fit(U, Y) for s in (11, 11, 12))
    for k, v in a.state_dict().items():
        assert torch.equal(v, b.state_dict()[k]) if isinstance(v, torch.Tensor) else v == b.state_dict()[k], k
    assert np.array_equal(a.generate(50), b.generate(50))
    assert not torch.equal(a.reservoir_.W_values, c.reservoir_.W_values)


def test_numpy_in_numpy_out_tensor_in_tensor_out_and_float32():
    U, Y = RNG.uniform(-1, 1, (100, 1)), RNG.uniform(-1, 1, (100, 1))
    esn = small().fit(U, Y)
    assert isinstance(esn.predict(U, update_state=False), np.ndarray)
    assert isinstance(esn.predict(torch.from_numpy(U), update_state=False), torch.Tensor)
    assert isinstance(esn.generate(3, update_state=False), np.ndarray)
    t = small(dtype=torch.float32).fit(torch.from_numpy(U), torch.from_numpy(Y))
    out = t.predict(torch.from_numpy(U), update_state=False)
    assert out.dtype == torch.float32 and isinstance(t.generate(3, update_state=False), torch.Tensor)
    np.testing.assert_allclose(out.numpy(), esn.predict(U, update_state=False), atol=1e-3)
    # 1-D series are one feature, and one output comes back 1-D
    assert esn.predict(U[:, 0], update_state=False).shape == (100,)
    e1 = small().fit(U[:, 0], Y[:, 0])
    assert e1.predict(U[:, 0]).shape == (100,) and e1.generate(4).shape == (4,) and e1.predict(U).shape == (100, 1)
    # NumPy dtypes are accepted wherever torch dtypes are
    for dt in (np.float32, np.dtype("float32"), "float32", torch.float32):
        assert small(dtype=dt).fit(U, Y).readout_.weight.dtype == torch.float32


def test_module_to_then_fit_and_state_dict_round_trip():
    U, Y = RNG.uniform(-1, 1, (100, 1)), RNG.uniform(-1, 1, (100, 1))
    esn = small().fit(U, Y)
    expected = esn.predict(U, update_state=False)
    esn.to(torch.float32)
    assert esn.readout_.weight.dtype == torch.float32 and esn.reservoir_.W_col.dtype == torch.int64
    assert esn.dtype == torch.float32  # the parameter follows the module
    np.testing.assert_allclose(esn.predict(U, update_state=False), expected, atol=1e-4)
    esn.fit(U, Y)  # fits in float32 now
    assert esn.readout_.weight.dtype == torch.float32 and esn.state_x.dtype == torch.float32
    esn.double()
    state = esn.state_dict()
    assert {"reservoir_.W_values", "readout_.weight", "state_x", "state_y", "_extra_state"} <= set(state)
    fresh = small(dtype="float64")
    fresh.load_state_dict(state)
    assert np.array_equal(fresh.predict(U, update_state=False), esn.predict(U, update_state=False))
    assert np.array_equal(fresh.generate(5), esn.generate(5))
    with pytest.raises(ValueError, match="other reservoir_size, .*seed"):
        ek.ESN(41, seed=0).load_state_dict(state)
    with pytest.raises(ValueError, match=r"other leak_rate, activation \(leak_rate=1.0, activation='tanh'\)"):
        small(leak_rate=0.3, activation="relu").load_state_dict(state)
    with pytest.raises(TypeError, match="float32 or float64"):
        esn.half()
    assert esn.readout_.weight.dtype == torch.float64  # refused before anything was converted
    unfitted = small()
    assert unfitted.load_state_dict(small().state_dict()) is not None and not unfitted.is_fitted


def test_spectral_radius_and_effective_radius_of_fitted_model():
    esn = ek.ESN(300, spectral_radius=0.75, leak_rate=0.4, seed=0).fit(RNG.normal(size=50), RNG.normal(size=50))
    assert abs(esn.spectral_radius_() - 0.75) / 0.75 < 1e-6
    W = esn.reservoir_.scipy_recurrent().toarray()
    lam = np.linalg.eigvals(W)
    assert esn.effective_spectral_radius() == pytest.approx(np.abs(0.6 + 0.4 * lam).max(), rel=1e-9)


def test_float64_normal_equations_for_float32_states():
    U, Y = RNG.uniform(-1, 1, (500, 1)), RNG.uniform(-1, 1, (500, 1))
    e32 = small(dtype="float32", ridge=1e-9).fit(U, Y)
    e64 = small(ridge=1e-9).fit(U, Y)
    np.testing.assert_allclose(e32.readout_.weight.double().numpy(), e64.readout_.weight.numpy(), rtol=0, atol=1e-2)


# ----------------------------------------------------------------- acceptance targets from the issue
@pytest.mark.parametrize("signal, params", [
    ("sine", dict(spectral_radius=0.8, feedback_scaling=1.0, leak_rate=1.0, bias_scaling=0.0)),
    ("mso2", dict(spectral_radius=0.95, feedback_scaling=0.3, leak_rate=0.5, bias_scaling=0.2)),
])
def test_feedback_only_pattern_generator_free_runs_1000_steps(signal, params):
    s = ek.datasets.sine(3000, period=20) if signal == "sine" else ek.datasets.mso(3000, n_oscillators=2)
    esn = ek.ESN(200, ridge=1e-8, washout=200, seed=0, **params)
    esn.fit(None, s[:2000])
    g = esn.generate(1000)
    assert ek.metrics.nrmse(s[2000:3000], g) < 1e-2


def test_mackey_glass_one_step_n500(mackey):
    esn = ek.ESN(500, spectral_radius=0.9, leak_rate=1.0, input_scaling=1.0, bias_scaling=0.5,
                 ridge=1e-10, washout=100, seed=0)
    esn.fit(mackey[:4000], mackey[1:4001])
    y = esn.predict(mackey[4000:5000])
    assert ek.metrics.nrmse(mackey[4001:5001], y) < 1e-3


def test_mackey_glass_84_step_free_run_n1000_issue_example(mackey):
    esn = ek.ESN(reservoir_size=1000, spectral_radius=0.9, connectivity=0.01, leak_rate=0.3,
                 input_scaling=1.0, ridge=1e-7, washout=100, seed=0)
    esn.fit(mackey[:4000], mackey[1:4001])
    g = esn.generate(84)
    assert ek.metrics.nrmse(mackey[4001:4085], g) < 0.05


@pytest.mark.cuda
def test_cuda_matches_cpu():
    s = ek.datasets.sine(500, period=23)
    cpu = small(feedback_scaling=0.2).fit(s[:-1], s[1:])
    t = torch.from_numpy(s).cuda()
    gpu = small(feedback_scaling=0.2, device="cuda").fit(t[:-1], t[1:])
    assert gpu.readout_.weight.device.type == "cuda"
    np.testing.assert_allclose(gpu.generate(50).cpu().numpy(), cpu.generate(50), atol=1e-8)
