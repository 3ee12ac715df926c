"""ESN(scale=True): standardisation from the training data, folded exactly into closed loops."""

import os

import numpy as np
import pytest
import torch

import esnkit as ek


def _series(n=400, offset=400.0, seed=0):
    t = np.arange(n)
    rng = np.random.default_rng(seed)
    return np.stack([offset + 20 * np.sin(t / 8) + 0.01 * t, -3 + 0.2 * np.cos(t / 5) + 0.01 * rng.standard_normal(n)],
                    axis=1)


def _stats(a):
    return a.mean(axis=0), a.std(axis=0)


def test_scale_is_the_same_model_as_on_standardised_data():
    s = _series()
    u, y = s[:-1], s[1:]
    (mu, su), (my, sy) = _stats(u), _stats(y)
    kw = dict(seed=3, ridge=1e-4, washout=10)
    a = ek.ESN(60, scale=True, **kw).fit(u, y)
    b = ek.ESN(60, **kw).fit((u - mu) / su, (y - my) / sy)
    np.testing.assert_allclose(a.input_mean_.numpy(), mu, rtol=1e-12)
    np.testing.assert_allclose(a.target_scale_.numpy(), sy, rtol=1e-12)
    np.testing.assert_allclose(a.readout_.weight.numpy(), b.readout_.weight.numpy(), rtol=1e-8, atol=1e-10)
    test = _series(80, seed=1)
    np.testing.assert_allclose(a.predict(test), b.predict((test - mu) / su) * sy + my, rtol=1e-9)


def test_closed_loop_equals_feeding_each_output_back_by_hand():
    """generate/forecast fold u = A y + c into W_in, the bias and the readout: the same as driving the
    model one step at a time with its own previous output, for every readout layout and with feedback."""
    s = _series(300)
    for kw in ({}, {"readout_bias": False}, {"readout_input": False}, {"feedback_scaling": 0.3}):
        m = ek.ESN(40, scale=True, seed=2, ridge=1e-3, washout=10, **kw).fit(s[:-1], s[1:])
        auto = m.generate(15, update_state=False)
        y, manual = s[-1], []
        for _ in range(15):
            y = m.predict(y[None], update_state=True)[0]
            manual.append(y)
        np.testing.assert_allclose(auto, np.array(manual), rtol=1e-10, err_msg=str(kw))
        if kw.get("feedback_scaling"):
            continue  # forecast teacher-forces a history's feedback; predict feeds back its outputs
        # forecast from a history = driven through it from zeros, then the same closed loop
        f = m.forecast(s[:200], 5)
        m.reset()
        y = m.predict(s[:200])[-1]
        manual = [y]
        for _ in range(4):
            y = m.predict(y[None])[0]
            manual.append(y)
        np.testing.assert_allclose(f, np.array(manual), rtol=1e-10, err_msg=str(kw))


def test_scale_keeps_far_offsets_accurate():
    """A series near 1e6 with unit swings: standardised in float64 before the reservoir sees it."""
    s = _series(400, offset=1e6)
    m = ek.ESN(60, scale=True, seed=0, ridge=1e-6, washout=10).fit(s[:-1], s[1:])
    err = np.abs(m.predict(s[300:-1]) - s[301:]).mean(axis=0)
    assert err[0] < 1.0  # the swings are ±20: a useful one-step forecast
    unscaled = ek.ESN(60, seed=0, ridge=1e-6, washout=10).fit(s[:-1], s[1:])
    assert np.abs(unscaled.predict(s[300:-1]) - s[301:]).mean(axis=0)[0] > 2 * err[0]


def test_constant_feature_is_centred_not_blown_up():
    s = _series(200)
    s[:, 1] = 7.0
    m = ek.ESN(30, scale=True, seed=0, washout=5).fit(s[:-1], s[1:])
    assert m.input_scale_[1].item() == 1.0 and m.input_mean_[1].item() == 7.0
    assert np.isfinite(m.predict(s[:20])).all()


def test_pattern_generator_and_lists_of_sequences():
    s = _series(300)
    gen = ek.ESN(40, scale=True, feedback_scaling=0.5, seed=1, ridge=1e-6, washout=20).fit(None, s)
    assert gen.input_mean_ is None and gen.target_mean_ is not None
    assert gen.generate(10).shape == (10, 2)
    # ragged sequences: statistics over the real steps only (padding is not data)
    seqs = [s[:100], s[100:250]]
    m = ek.ESN(30, scale=True, seed=0).fit([q[:-1] for q in seqs], [q[1:] for q in seqs])
    pooled = np.concatenate([q[:-1] for q in seqs])
    np.testing.assert_allclose(m.input_mean_.numpy(), pooled.mean(axis=0), rtol=1e-12)


def test_scale_saves_loads_and_refuses_a_damaged_scale(tmp_path):
    s = _series(200)
    m = ek.ESN(30, scale=True, seed=0, washout=5).fit(s[:-1], s[1:])
    path = os.path.join(tmp_path, "m.esnkit")
    m.save(path)
    back = ek.load(path)
    assert back.scale is True
    np.testing.assert_array_equal(back.forecast(s[:100], 7), m.forecast(s[:100], 7))
    state = m.state_dict()
    state["input_scale_"] = torch.zeros_like(state["input_scale_"])
    with pytest.raises(ValueError, match="input_scale_ must be positive"):
        ek.ESN(30, scale=True, seed=0, washout=5).load_state_dict(state)
    state = m.state_dict()
    del state["target_mean_"]
    with pytest.raises(ValueError, match="target_mean_ must be a floating tensor"):
        ek.ESN(30, scale=True, seed=0, washout=5).load_state_dict(state)
    with pytest.raises(ValueError, match="scale"):
        ek.ESN(30, seed=0, washout=5).load_state_dict(m.state_dict())  # a model of other parameters


def test_scale_is_a_checked_parameter():
    with pytest.raises(TypeError, match="scale must be True or False"):
        ek.ESN(10, scale="yes")
    assert ek.ESN(10, scale=True).get_params()["scale"] is True


def test_search_standardises_with_the_training_part_only():
    s = _series(500)
    space = {"spectral_radius": {"low": 0.5, "high": 0.95}}
    res = ek.search(s, space=space, fixed={"reservoir_size": 30, "washout": 10, "seed": 0, "scale": True},
                    n_trials=2, batch_size=2, validation=0.3, progress=False, storage=None)
    split = res.split
    np.testing.assert_allclose(res.best_esn.input_mean_.numpy(), s[:-1][:split].mean(axis=0), rtol=1e-12)


def test_output_messages_speak_in_the_data_units():
    t = np.arange(400)
    y = (1000 + 50 * np.sin(t / 5))[:, None]
    m = ek.ESN(50, scale=True, seed=0, washout=20, ridge=1e-9, spectral_radius=1.5, input_scaling=3).fit(y[:-1], y[1:])
    np.testing.assert_allclose(m.target_range_.numpy().ravel(), [y[1:].min(), y[1:].max()])
    with pytest.warns(ek.OutputRangeWarning, match=r"training targets' range \[950, 1050\]"):
        m.generate(300)


def test_float32_models_standardise_in_float64():
    """Data near 1e6: a float32 model keeps the varying digits (its float32 outputs carry ~7 digits)."""
    t = np.arange(400)
    s = (1e6 + np.sin(t / 5))[:, None]
    m = ek.ESN(50, scale=True, seed=0, washout=20, ridge=1e-6, dtype="float32").fit(s[:-1], s[1:])
    assert np.abs(m.forecast(s[:300], 5) - s[300:305]).max() < 0.2  # 0.0625 is one float32 step at 1e6
