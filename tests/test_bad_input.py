"""Every kind of bad input gets a clear ValueError/TypeError naming the argument."""

import numpy as np
import pytest
import torch

import esnkit as ek

rng = np.random.default_rng(0)
U, Y = rng.uniform(-1, 1, (200, 2)), rng.uniform(-1, 1, (200, 1))


@pytest.fixture(scope="module")
def fitted():
    return ek.ESN(50, washout=10, seed=0).fit(U, Y)


@pytest.mark.parametrize("kwargs, match", [
    (dict(spectral_radius=0), "spectral_radius"),
    (dict(spectral_radius=-1), "spectral_radius"),
    (dict(spectral_radius=float("nan")), "spectral_radius"),
    (dict(leak_rate=0), "leak_rate"),
    (dict(leak_rate=1.5), "leak_rate"),
    (dict(leak_rate=np.ones(7)), "leak_rate"),
    (dict(connectivity=0), "connectivity"),
    (dict(connectivity=1.2), "connectivity"),
    (dict(connectivity=0.1, in_degree=3), "not both"),
    (dict(in_degree=0), "in_degree"),
    (dict(ridge=-1e-3), "ridge"),
    (dict(ridge=0.1, solver="pinv"), "pinv"),
    (dict(solver="qr"), "solver"),
    (dict(washout=-1), "washout"),
    (dict(washout=2.5), "washout"),
    (dict(input_scaling=-1), "input_scaling"),
    (dict(bias_scaling=-0.1), "bias_scaling"),
    (dict(feedback_scaling=float("inf")), "feedback_scaling"),
    (dict(activation="softsign"), "activation"),
    (dict(seed=-3), "seed"),
    (dict(dtype=torch.int32), "dtype"),
    (dict(chunk_size=0), "chunk_size"),
])
def test_impossible_hyperparameters(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        ek.ESN(50, **kwargs)


def test_reservoir_size_must_be_positive_integer():
    for bad in (0, -5, 10.5, True):
        with pytest.raises(ValueError, match="reservoir_size"):
            ek.ESN(bad)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_inputs_and_targets(bad):
    u, y = U.copy(), Y.copy()
    u[17, 1] = bad
    with pytest.raises(ValueError, match=r"inputs contains NaN or Inf \(first at index \(17, 1\)\)"):
        ek.ESN(50).fit(u, Y)
    y[3, 0] = bad
    with pytest.raises(ValueError, match="targets contains NaN or Inf"):
        ek.ESN(50).fit(U, y)


def test_length_mismatch_and_too_short_and_empty():
    with pytest.raises(ValueError, match="inputs has 200 time steps but targets has 150"):
        ek.ESN(50).fit(U, Y[:150])
    with pytest.raises(ValueError, match="not more than washout=100"):
        ek.ESN(50, washout=100).fit(U[:100], Y[:100])
    with pytest.raises(ValueError, match="sequence 1 of targets has 5 time steps"):
        ek.ESN(50, washout=10).fit([U, U[:5]], [Y, Y[:5]])
    with pytest.raises(ValueError, match="inputs is empty"):
        ek.ESN(50).fit(np.zeros((0, 2)), np.zeros((0, 1)))
    with pytest.raises(ValueError, match="inputs is empty"):
        ek.ESN(50).fit([], Y)


def test_wrong_dtypes_and_shapes():
    with pytest.raises(TypeError, match="inputs must hold real numbers"):
        ek.ESN(50).fit(np.array(["a"] * 200), Y)
    with pytest.raises(TypeError, match="inputs must hold real numbers"):
        ek.ESN(50).fit(torch.ones(200, 1, dtype=torch.complex64), Y)
    with pytest.raises(ValueError, match="inputs must have shape"):
        ek.ESN(50).fit(np.zeros((2, 3, 4, 5)), Y)
    with pytest.raises(ValueError, match="input_scaling has 3 values but inputs have 2"):
        ek.ESN(50, input_scaling=[1, 1, 1]).fit(U, Y)


def test_wrong_feature_count_after_fit(fitted):
    with pytest.raises(ValueError, match="inputs has 3 feature.* the model was fitted on 2"):
        fitted.predict(rng.normal(size=(10, 3)))


def test_use_before_fit():
    esn = ek.ESN(50)
    for call in (lambda: esn.predict(U), lambda: esn.generate(10), lambda: esn.states(U), lambda: esn.save("x")):
        with pytest.raises(ek.NotFittedError, match="not fitted yet"):
            call()


def test_generate_on_model_whose_outputs_cannot_be_fed_back(fitted):
    with pytest.raises(ValueError, match="cannot drive it alone"):
        fitted.generate(10)
    with pytest.raises(ValueError, match="n_steps"):
        ek.ESN(50, seed=0).fit(Y, Y).generate(0)


def test_pattern_generator_needs_feedback():
    with pytest.raises(ValueError, match="feedback_scaling > 0"):
        ek.ESN(50).fit(None, Y)
    pg = ek.ESN(50, feedback_scaling=0.5, seed=0).fit(None, Y)
    with pytest.raises(ValueError, match="use generate"):
        pg.predict(U)


def test_initial_state_checks(fitted):
    with pytest.raises(ValueError, match=r"initial_state.x must have shape \(50,\)"):
        fitted.predict(U, initial_state=np.zeros(49))
    with pytest.raises(ValueError, match="initial_state.x contains NaN"):
        fitted.predict(U, initial_state=np.full(50, np.nan))
    batch = ek.ESN(50, seed=0).fit(np.stack([U, U]), np.stack([Y, Y]))
    with pytest.raises(ValueError, match="carries the states of 2 sequences"):
        batch.predict(U)
    assert batch.reset().predict(U).shape == (200, 1)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error raised where CUDA is absent")
def test_cuda_device_without_cuda_is_a_clear_error(tmp_path, fitted):
    with pytest.raises(ValueError, match="CUDA is not available"):
        ek.ESN(50, device="cuda")
    fitted.save(tmp_path / "m.esnkit")
    with pytest.raises(ValueError, match="CUDA is not available"):
        ek.load(tmp_path / "m.esnkit", device="cuda")


def test_tensor_on_other_device_is_refused(fitted):
    meta = torch.zeros(10, 2, device="meta")
    with pytest.raises(ValueError, match="inputs is on device 'meta'"):
        fitted.predict(meta)


def test_diverging_run_is_reported_not_returned_as_nan():
    s = ek.datasets.sine(300)
    esn = ek.ESN(30, activation="identity", spectral_radius=0.5, ridge=0.0, seed=0).fit(s[:-1], s[1:])
    # Blow up the fed-back loop: an output weight on the input term far above 1 makes it explode.
    esn.readout_.weight[:, 1] = 50.0
    with pytest.raises(ek.NonFiniteStateError, match=r"first non-finite at step \d+.*spectral_radius"):
        esn.generate(2000)


def test_huge_input_scaling_with_identity_activation_is_reported():
    u = np.full((3000, 1), 1e300)
    esn = ek.ESN(20, activation="identity", spectral_radius=0.99, input_scaling=1.0, seed=0)
    with pytest.raises(ek.NonFiniteStateError):
        esn.fit(u, np.zeros((3000, 1)))
