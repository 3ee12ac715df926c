"""Readout feature maps (ESN(features=...)): squared and quadratic states against the NumPy reference,
through fit, driven runs with feedback, closed loops (scaled or not), ensembles, files and bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import esnkit as ek
import reference as ref
from esnkit.readout import Readout, StateInputs, squared_states

SQUARES = {"squared": "half", "quadratic": "all"}


def _series(n=400, seed=0):
    t = np.arange(n) * 0.1
    rng = np.random.default_rng(seed)
    return np.stack([np.sin(t) + 0.05 * rng.standard_normal(n), np.cos(1.3 * t)], axis=1)


def test_squared_states_square_every_second_neuron_or_append_squares():
    x = torch.arange(1.0, 6.0).reshape(1, 5)
    assert squared_states(x, None) is x
    assert squared_states(x, "half").tolist() == [[1.0, 4.0, 3.0, 16.0, 5.0]]
    assert squared_states(x, "all").tolist() == [[1.0, 2.0, 3.0, 4.0, 5.0, 1.0, 4.0, 9.0, 16.0, 25.0]]
    assert x.tolist() == [[1.0, 2.0, 3.0, 4.0, 5.0]]  # not changed in place
    assert StateInputs(squares="all").size(5, 2) == 1 + 2 + 10
    assert StateInputs(squares="half").buffer(1, 4, 5, 2, torch.float64) is None
    with pytest.raises(ValueError, match="squares must be one of"):
        StateInputs(squares="cubes")


@pytest.mark.parametrize("name", ["squared", "quadratic"])
def test_fit_and_free_run_match_numpy_reference(name):
    s = _series()
    esn = ek.ESN(40, spectral_radius=0.8, seed=3, ridge=1e-6, washout=20, features=name).fit(s[:300], s[1:301])
    w = ref.Weights(esn.reservoir_)
    X = ref.harvest(w, s[:300], s[1:301])
    W_ref = ref.ridge_readout([X], [s[:300]], [s[1:301]], 20, 1e-6, squares=SQUARES[name])
    W = esn.readout_.weight.numpy()
    assert W.shape == W_ref.shape
    np.testing.assert_allclose(W, W_ref, rtol=1e-6, atol=1e-8)
    y_ref = ref.run_free(w, W, X[-1], s[300], n=50, forecaster=True, squares=SQUARES[name])
    np.testing.assert_allclose(esn.generate(50), y_ref, rtol=1e-9, atol=1e-10)
    # the one-step predictions read the same features
    p_ref = np.array([W @ ref.feature(x, u, True, True, SQUARES[name]) for x, u in zip(X, s[:300])])
    np.testing.assert_allclose(esn.forward(s[:300]), p_ref, rtol=1e-9, atol=1e-10)


def test_driven_run_with_output_feedback_matches_reference():
    s = _series()
    u, y = s[:-1, :1], s[1:, 1:]
    esn = ek.ESN(30, seed=1, feedback_scaling=0.3, washout=10, ridge=1e-6, features="squared").fit(u[:250], y[:250])
    w = ref.Weights(esn.reservoir_)
    X = ref.harvest(w, u[:250], y[:250])
    W = esn.readout_.weight.numpy()
    y_ref = ref.run_free(w, W, X[-1], y[249], U=u[250:300], squares="half")
    np.testing.assert_allclose(esn.predict(u[250:300]), y_ref, rtol=1e-9, atol=1e-10)
    # a ragged batch: each sequence's run and final state are its own
    parts = [u[250:280], u[250:300]]
    outs, final = esn.predict(parts, initial_state=ek.ESNState(torch.zeros(2, 30, dtype=torch.float64),
                                                               torch.zeros(2, 1, dtype=torch.float64)),
                              update_state=False, return_state=True)
    for b, (p, o) in enumerate(zip(parts, outs)):
        alone, last = esn.predict(p, initial_state=ek.ESNState(torch.zeros(1, 30, dtype=torch.float64),
                                                               torch.zeros(1, 1, dtype=torch.float64)),
                                  update_state=False, return_state=True)
        np.testing.assert_allclose(o, alone, rtol=0, atol=1e-12)
        np.testing.assert_allclose(final.x[b], last.x[0], rtol=0, atol=1e-12)


def test_pattern_generator_with_squared_features_matches_reference():
    t = np.arange(600) * 0.2
    y = np.sin(t)[:, None] * 0.8
    esn = ek.ESN(40, seed=2, feedback_scaling=1.0, washout=50, ridge=1e-8, features="quadratic").fit(None, y)
    w = ref.Weights(esn.reservoir_)
    X = ref.harvest(w, None, y)
    y_ref = ref.run_free(w, esn.readout_.weight.numpy(), X[-1], y[-1], n=40, squares="all")
    np.testing.assert_allclose(esn.generate(40), y_ref, rtol=1e-9, atol=1e-10)


def test_scaled_closed_loop_feeds_back_outputs_in_the_data_units():
    s = _series() * 50 + 7
    esn = ek.ESN(30, seed=4, ridge=1e-6, washout=20, features="squared", scale=True).fit(s[:300], s[1:301])
    g = esn.generate(20, update_state=False)
    # by hand: feed each output back as the next input
    manual, state = [], esn.state
    y = s[300]
    for _ in range(20):
        y, state = esn.predict(y[None], initial_state=state, return_state=True, update_state=False)
        y = y[0]
        manual.append(y)
    np.testing.assert_allclose(g, np.array(manual), rtol=1e-9, atol=1e-8)
    fc = esn.forecast(s[200:301], 20)
    np.testing.assert_allclose(fc, g, rtol=1e-7, atol=1e-6)


def test_custom_feature_map_object_and_its_file():
    class Cubes:
        def size(self, state_size, input_size):
            return 1 + 2 * state_size

        def __call__(self, x, u):
            return torch.cat([torch.ones_like(x[..., :1]), x, x ** 3], dim=-1)

    s = _series()
    esn = ek.ESN(20, seed=0, ridge=1e-6, washout=10, features=Cubes()).fit(s[:300], s[1:301])
    assert esn.readout_.weight.shape == (2, 41)
    w = ref.Weights(esn.reservoir_)
    X = ref.harvest(w, s[:300], s[1:301])
    Z = np.concatenate([np.ones((290, 1)), X[10:], X[10:] ** 3], axis=1)
    W_ref = np.linalg.solve(Z.T @ Z + 1e-6 * np.eye(41), Z.T @ s[11:301]).T
    np.testing.assert_allclose(esn.readout_.weight.numpy(), W_ref, rtol=1e-6, atol=1e-8)
    g = esn.generate(10, update_state=False)
    sd = esn.state_dict()
    loaded = ek.ESN(20, seed=0, ridge=1e-6, washout=10, features="custom")
    loaded.load_state_dict(sd)
    with pytest.raises(ValueError, match="FeatureMap object"):
        loaded.generate(10)
    again = ek.ESN(20, seed=0, ridge=1e-6, washout=10, features=Cubes())
    again.load_state_dict(sd)
    np.testing.assert_array_equal(again.generate(10), g)


@pytest.mark.parametrize("name", ["squared", "quadratic"])
def test_save_and_load_round_trip(tmp_path, name):
    s = _series()
    esn = ek.ESN(25, seed=5, ridge=1e-6, washout=10, features=name, scale=True).fit(s[:300], s[1:301])
    esn.save(tmp_path / "m")
    loaded = ek.load(tmp_path / "m")
    assert loaded.features == name
    np.testing.assert_array_equal(loaded.generate(30), esn.generate(30))


def test_a_state_dict_with_the_wrong_readout_width_is_refused():
    s = _series()
    sd = ek.ESN(25, seed=5, features="quadratic").fit(s[:300], s[1:301]).state_dict()
    with pytest.raises(ValueError, match="other features"):
        ek.ESN(25, seed=5, features="squared").load_state_dict(sd)
    extra = sd["_extra_state"]
    sd["_extra_state"] = {**extra, "features": "squared", "params": {**extra["params"], "features": "squared"}}
    with pytest.raises(ValueError, match="readout_.weight has shape"):
        ek.ESN(25, seed=5, features="squared").load_state_dict(sd)
    sd["_extra_state"] = {**extra, "features": "cubic"}
    with pytest.raises(ValueError, match="features must be one of"):
        ek.ESN(25, seed=5, features="quadratic").load_state_dict(sd)


def test_bad_features_are_refused_with_the_names():
    with pytest.raises(ValueError, match="features must be one of .*'squared'"):
        ek.ESN(10, features="cubic")
    with pytest.raises(TypeError, match="features must be one of"):
        ek.ESN(10, features=3)


def test_ensemble_members_share_features():
    with pytest.raises(ValueError, match="must share features"):
        ek.Ensemble([ek.ESN(10, features="squared"), ek.ESN(10)])


@pytest.mark.parametrize("features", ["quadratic", "squared+delays:1"])
def test_an_ensemble_with_features_fits_each_member_as_alone(features):
    s = _series()
    members = [ek.ESN(20, seed=k, ridge=1e-6, features=features) for k in range(3)]
    ek.Ensemble(members).fit(s[:300], s[1:301])
    for k, m in enumerate(members):
        alone = ek.ESN(20, seed=k, ridge=1e-6, features=features).fit(s[:300], s[1:301])
        np.testing.assert_allclose(m.readout_.weight, alone.readout_.weight, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(m.generate(10), alone.generate(10), rtol=1e-9, atol=1e-12)


def test_the_loop_refuses_a_readout_it_cannot_run():
    from esnkit.loop import unroll
    s = _series()
    esn = ek.ESN(10, seed=0, features=_HalfSquares()).fit(s[:100], s[1:101])
    assert isinstance(esn.readout_, Readout) and not esn.readout_.loop_ready
    with pytest.raises(ValueError, match="other features"):
        unroll(esn.reservoir_, torch.zeros(1, 3, 10, dtype=torch.float64), torch.zeros(1, 10, dtype=torch.float64),
               readout=esn.readout_, inputs=torch.zeros(1, 3, 2, dtype=torch.float64),
               y0=torch.zeros(1, 2, dtype=torch.float64))


class _HalfSquares:
    """The 'squared' map as a FeatureMap object: the same features, run between the loop's steps."""

    def size(self, state_size, input_size):
        return 1 + input_size + state_size

    def __call__(self, x, u):
        return torch.cat([torch.ones_like(x[..., :1]), u, squared_states(x, "half")], dim=-1)


@pytest.mark.parametrize("name", ["squared", "quadratic"])
@pytest.mark.parametrize("width", [2, 70])  # the kernel sums a readout of 64 outputs or more another way
def test_the_native_loop_runs_squared_readouts_as_the_torch_loop_and_the_readout_between_steps(name, width):
    rng = np.random.default_rng(0)
    s = np.cumsum(rng.standard_normal((500, width)), axis=0) * 0.05
    s = np.sin(s)
    esn = ek.ESN(40, seed=1, ridge=1e-4, washout=20, features=name).fit(s[:400], s[1:401])
    assert esn.readout_.loop_ready
    H = np.stack([s[300:380], s[310:390], s[320:400]])
    native = esn.forecast(H, 30)
    one = esn.forecast(H[1], 30)
    with ek.use_backend("torch"):
        torch_loop = esn.forecast(H, 30)
    np.testing.assert_allclose(native, torch_loop, rtol=1e-10, atol=1e-12)
    np.testing.assert_array_equal(one, native[1])  # a history in a batch gets the bits it gets alone
    if name == "squared":  # the same features as a map object, which runs between the loop's steps
        other = ek.ESN(40, seed=1, ridge=1e-4, washout=20, features=_HalfSquares()).fit(s[:400], s[1:401])
        np.testing.assert_allclose(other.readout_.weight, esn.readout_.weight, rtol=0, atol=0)
        np.testing.assert_allclose(other.forecast(H, 30), native, rtol=1e-10, atol=1e-12)


def test_force_learning_takes_the_linear_readout_only():
    y = np.sin(np.arange(300) * 0.2)[:, None]
    with pytest.raises(ValueError, match="features='squared' is not supported"):
        ek.ESN(30, seed=0, feedback_scaling=1.0, trainer="force", features="squared").fit(None, y)


LAGGED = {"delays:2": dict(state_delays=2),
          "squared+input_delays:2+skip:3": dict(squares="half", input_delays=2, skip=3),
          "quadratic+delays:1+input_delays:1": dict(squares="all", state_delays=1, input_delays=1)}


@pytest.mark.parametrize("name", list(LAGGED))
def test_delayed_features_fit_and_run_free_as_the_reference(name):
    s = _series(500)
    opts = LAGGED[name]
    esn = ek.ESN(30, seed=3, ridge=1e-6, washout=20, features=name, chunk_size=37).fit(s[:400], s[1:401])
    w = ref.Weights(esn.reservoir_)
    X = ref.harvest(w, s[:400], s[1:401])
    Z = np.array([ref.lagged_feature(X, s[:400], t, True, True, **opts) for t in range(20, 400)])
    W_ref = np.linalg.solve(Z.T @ Z + 1e-6 * np.eye(Z.shape[1]), Z.T @ s[21:401]).T
    W = esn.readout_.weight.numpy()
    np.testing.assert_allclose(W, W_ref, rtol=1e-6, atol=1e-8)
    # closed loop: each output the next input, the lagged states and inputs carried on from the fit
    xs, us, x, y, out = list(X), list(s[:400]), X[-1], s[400], []
    for _ in range(30):
        u = y
        x = ref.step(w, x, u, None)
        xs.append(x)
        us.append(u)
        y = W @ ref.lagged_feature(xs, us, len(xs) - 1, True, True, **opts)
        out.append(y)
    g = esn.generate(30, update_state=False)
    np.testing.assert_allclose(g, np.array(out), rtol=1e-8, atol=1e-9)
    # a forecast from zeros over the training history is the fit's run continued
    np.testing.assert_allclose(esn.forecast(s[:401], 30), g, rtol=1e-8, atol=1e-9)
    # driven: one call, or two that carry the steps before the state
    u = s[400:499]
    whole = esn.predict(u, update_state=False)
    first = esn.predict(u[:40])
    np.testing.assert_allclose(np.concatenate([first, esn.predict(u[40:])]), whole, rtol=1e-10, atol=1e-12)


def test_delayed_features_with_feedback_partial_fit_and_files(tmp_path):
    s = _series(500)
    u, y = s[:-1, :1], s[1:, 1:]
    kw = dict(seed=1, feedback_scaling=0.3, washout=10, ridge=1e-6, features="delays:2+skip:2")
    esn = ek.ESN(25, **kw).fit(u[:300], y[:300])
    w = ref.Weights(esn.reservoir_)
    X = ref.harvest(w, u[:300], y[:300])
    W = esn.readout_.weight.numpy()
    us = list(u[:340])
    xs, x, yp, out = list(X), X[-1], y[299], []
    for t in range(300, 340):
        x = ref.step(w, x, u[t], yp)
        xs.append(x)
        yp = W @ ref.lagged_feature(xs, us[:len(xs)], len(xs) - 1, True, True, state_delays=2, skip=2)
        out.append(yp)
    np.testing.assert_allclose(esn.predict(u[300:340], update_state=False), np.array(out), rtol=1e-8, atol=1e-10)
    # streamed in pieces: the same readout
    parts = ek.ESN(25, **kw)
    parts.partial_fit(u[:150], y[:150]).partial_fit(u[150:300], y[150:300])
    np.testing.assert_allclose(parts.readout_.weight, esn.readout_.weight, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(parts.predict(u[300:340]), esn.predict(u[300:340]), rtol=1e-7, atol=1e-9)
    # saved with the steps before its state
    esn.save(tmp_path / "m")
    loaded = ek.load(tmp_path / "m")
    assert loaded.state_lags_x.shape == (1, 4, 25)
    np.testing.assert_array_equal(loaded.predict(u[340:380]), esn.predict(u[340:380]))
    sd = esn.state_dict()
    del sd["state_lags_x"]
    with pytest.raises(ValueError, match="missing state_lags_x"):
        ek.ESN(25, **kw).load_state_dict(sd)


@pytest.mark.parametrize("bad", ["delays", "delays:x", "squared+quadratic", "skip:2", "delays:1+delays:2",
                                 "input_delays:-1", "linear+"])
def test_bad_feature_names_are_refused(bad):
    with pytest.raises(ValueError, match="features"):
        ek.ESN(10, features=bad)


def test_a_state_inputs_object_reads_its_own_constant_and_inputs():
    from esnkit.readout import StateInputs
    t = np.arange(600) * 0.1
    x, y = np.sin(t)[:, None], np.sin(t + 0.3)[:, None] + 2
    a = ek.ESN(30, seed=1, features=StateInputs(bias=False, inputs=True, squares="half"),
               readout_input=False).fit(x[:500], y[:500])
    b = ek.ESN(30, seed=1, features="squared", readout_bias=False, readout_input=True).fit(x[:500], y[:500])
    assert torch.equal(a.readout_.weight, b.readout_.weight)
    np.testing.assert_allclose(a.predict(x[500:]), b.predict(x[500:]), rtol=0, atol=1e-12)


def test_set_params_features_on_a_fitted_model_keeps_its_file_and_partial_fit_honest(tmp_path):
    s = _series()
    m = ek.ESN(40, seed=1, ridge=1e-6).fit(s[:-1], s[1:])
    p0 = m.predict(s[:5], update_state=False)
    m.set_params(features="squared")  # the fitted readout stays the linear one until the next fit
    np.testing.assert_array_equal(m.predict(s[:5], update_state=False), p0)
    m.save(tmp_path / "m")
    loaded = ek.load(tmp_path / "m")
    assert loaded.features == "linear"
    np.testing.assert_array_equal(loaded.predict(s[:5], update_state=False), p0)
    online = ek.ESN(40, seed=1, ridge=1e-6).partial_fit(s[:200], s[1:201])
    online.set_params(features="squared+delays:1")
    with pytest.raises(ValueError, match="not the map the model was fitted with"):
        online.partial_fit(s[200:300], s[201:301])


def test_an_initial_state_with_delayed_features_warns_that_the_delays_read_zeros():
    s = _series()
    m = ek.ESN(30, seed=1, ridge=1e-6, features="delays:2").fit(s[:-1], s[1:])
    _, st = m.predict(s[:100], update_state=False, return_state=True)
    with pytest.warns(UserWarning, match="read zeros"):
        m.predict(s[100:150], update_state=False, initial_state=st)


def test_a_feature_map_whose_size_is_wrong_is_named():
    class Bad:
        def size(self, state_size, input_size):
            return 5

        def __call__(self, x, u):
            return torch.cat([x, x * x], dim=-1)

    s = _series()
    with pytest.raises(ValueError, match="gives 60 features, but its size\\(\\) says 5"):
        ek.ESN(30, features=Bad()).fit(s[:-1], s[1:])


def test_unroll_refuses_a_squares_readout_of_an_odd_state_block():
    from esnkit.loop import unroll
    s = _series()
    res = ek.ESN(10, seed=0).fit(s[:100], s[1:101]).reservoir_
    bad = Readout(torch.randn(2, 1 + 2 + 21, dtype=torch.float64), input_size=2, use_bias=True, use_input=True,
                  squares="all")
    with pytest.raises(ValueError, match="reads 24 features"):
        unroll(res, torch.zeros(1, 3, 10, dtype=torch.float64), torch.zeros(1, 10, dtype=torch.float64),
               readout=bad, inputs=torch.zeros(1, 3, 2, dtype=torch.float64), y0=torch.zeros(1, 2, dtype=torch.float64))
