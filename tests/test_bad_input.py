"""Every kind of bad input gets a clear ValueError/TypeError naming the argument."""

import re

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


@pytest.mark.parametrize("model", [ek.ESN(50), ek.ESNClassifier(), ek.NVAR(), ek.DeepESN(), ek.ParallelESN(2)],
                         ids=lambda m: type(m).__name__)
def test_fitted_attributes_before_fit_say_not_fitted(model):
    # not nn.Module's generic "has no attribute", which a property's AttributeError would fall back to
    with pytest.raises(ek.NotFittedError, match="not fitted yet: call fit.* before reading input_size_"):
        _ = model.input_size_
    with pytest.raises(AttributeError, match="no attribute 'no_such_thing'"):
        _ = model.no_such_thing


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
    u = np.full((3000, 1), 1e100)  # a value the inputs may hold (≤ 1e150), driving states of 1e200
    esn = ek.ESN(20, activation="identity", spectral_radius=0.99, input_scaling=1e100, seed=0)
    with pytest.raises(ek.NonFiniteStateError):
        esn.fit(u, np.zeros((3000, 1)))


# ---------------------------------------------------------------------------------------------------
# A new user's mistakes, several of each kind. A call that could hang or allocate for minutes when a
# guard regresses runs in a fresh interpreter under a time limit (and an address-space limit), so the
# regression fails the test instead of hanging the suite.


def outcomes(calls: list[str], *, setup: str = "", timeout: float = 120) -> list[tuple[str, str]]:
    """``(exception type name, message)`` of each expression of ``calls`` (``("returned", repr)`` when
    it returned), evaluated one after another in a new Python process after ``setup``, which
    must finish within ``timeout`` seconds in all (else the test fails, naming the calls)."""
    import json
    import os
    import subprocess
    import sys
    import textwrap

    script = textwrap.dedent("""
        import json, resource, sys
        resource.setrlimit(resource.RLIMIT_AS, (16 << 30, 16 << 30))  # a runaway allocation fails, not the machine
        import numpy as np
        import esnkit as ek
        {setup}
        out = []
        for expr in json.loads(sys.argv[1]):
            try:
                out.append(["returned", repr(eval(expr))[:200]])
            except Exception as exc:
                out.append([type(exc).__name__, str(exc)])
        print(json.dumps(out))
    """).format(setup=setup)
    import esnkit

    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [os.path.dirname(os.path.dirname(esnkit.__file__)), os.environ.get("PYTHONPATH", "")]))
    try:
        proc = subprocess.run([sys.executable, "-c", script, json.dumps(calls)], capture_output=True, text=True,
                              timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        pytest.fail(f"these calls did not finish within {timeout} s (a guard against endless work regressed): {calls}")
    assert proc.returncode == 0, proc.stderr
    return [tuple(o) for o in json.loads(proc.stdout.splitlines()[-1])]


def assert_clear(results, calls, *expected):
    """Every call raised ValueError or TypeError (or ``expected``) whose message names its match."""
    for (kind, message), (call, match) in zip(results, calls):
        assert kind in (expected or ("ValueError", "TypeError")), f"{call}: {kind}: {message}"
        assert re.search(match, message), f"{call}: {message!r} does not match {match!r}"


@pytest.mark.parametrize("kwargs, match", [
    # bools and classes where numbers or callables go
    (dict(leak_rate=True), "leak_rate"),
    (dict(input_scaling=True), "input_scaling"),
    (dict(input_scaling=[True, False]), "input_scaling"),
    (dict(leak_rate=np.full(50, 0.5, dtype=complex)), "leak_rate"),
    (dict(input_scaling=[1 + 1j]), "input_scaling"),
    (dict(spectral_radius=float), "spectral_radius"),
    (dict(leak_rate=float), "leak_rate"),
    (dict(ridge=True), "ridge"),
    (dict(chunk_size=True), "chunk_size"),
    (dict(seed=True), "seed"),
    (dict(activation=torch.nn.Tanh), r"activation .*class.*Tanh\(\)"),
    (dict(activation=float), "activation"),
    (dict(activation=str), "activation"),
    (dict(activation=lambda a, b: a), "activation .*missing 1 required"),
    (dict(activation=lambda z: 1.0), "activation .*returned float"),
    (dict(activation=lambda z: z.sum()), r"activation .*shape \(\)"),
    # strings, None, NaN and infinities
    (dict(spectral_radius="0.9"), "spectral_radius"),
    (dict(spectral_radius=np.float32("nan")), "spectral_radius"),
    (dict(bias_scaling=None), "bias_scaling"),
    (dict(ridge=float("inf")), "ridge"),
    (dict(input_connectivity=float("nan")), "input_connectivity"),
    (dict(leak_rate=[0.5, float("nan")] * 25), "leak_rate"),
    # weights a float32 model cannot hold
    (dict(spectral_radius=1e39, dtype="float32"), "spectral_radius.*float32"),
    (dict(input_scaling=[1.0, 1e40], dtype=torch.float32), "input_scaling.*float32"),
    (dict(feedback_scaling=1e300, dtype=np.float32), "feedback_scaling.*float32"),
    (dict(bias_scaling=1e39, dtype="float32"), "bias_scaling.*float32"),
    # devices and dtypes
    (dict(device="gpu"), "device 'gpu'"),
    (dict(device="meta"), "device='meta' cannot run"),
    (dict(device=True), "device True is not a valid torch device: give"),
    (dict(device=1.5), "device 1.5 is not a valid torch device"),
    (dict(device=torch.float32), "not a valid torch device"),
    (dict(dtype="float16"), "dtype"),
    (dict(dtype=np.int64), "dtype"),
    (dict(dtype=None), "dtype"),
    (dict(dtype=True), "dtype"),
])
def test_more_impossible_hyperparameters(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        ek.ESN(50, **kwargs)


def test_an_impossible_reservoir_size_fails_at_once_not_after_minutes():
    """A reservoir whose readout could not fit any machine fails at construction, without allocating."""
    calls = ["ek.ESN(10**9)", "ek.ESN(10**6, seed=0)", "ek.ESN(5 * 10**5).fit(np.zeros((20, 1)), np.zeros((20, 1)))",
             "ek.ESN(50).set_params(reservoir_size=10**7)"]
    results = outcomes(calls, timeout=60)
    expected = r"reservoir_size=\d+: fitting its readout needs .* more than the .* of memory"
    assert_clear(results, [(c, expected) for c in calls])
    assert "use a reservoir_size of at most about" in results[0][1]


def test_the_memory_guard_compares_with_the_machine(monkeypatch):
    from esnkit import _memory

    monkeypatch.setattr(_memory, "memory_limit", lambda device=None: 1 << 30)  # a 1 GiB machine
    with pytest.raises(ValueError, match=r"reservoir_size=10000: .*1\.49 GiB.* than the 1 GiB .* at most about 8192"):
        ek.ESN(10_000)
    ek.ESN(8000)  # 0.95 GiB: fits
    esn = ek.ESN(20, seed=0).fit(U[:, :1], U[:, :1])
    with pytest.raises(ValueError, match=r"n_steps=100000000 \(1 x 100000000 x 1 outputs\) needs about 1\.49 GiB"):
        esn.generate(10**8)
    with pytest.raises(ValueError, match=r"horizon=100000000 .* ask for a shorter horizon"):
        esn.forecast(U[:50, :1], 10**8)
    with pytest.raises(ValueError, match=r"the states of 1 x 2000000 steps of reservoir_size=100 .* pass a shorter"):
        ek.ESN(100, seed=0).fit(U[:, :1], U[:, :1]).states(np.zeros((2_000_000, 1)))
    with pytest.raises(ValueError, match=r"fitting 1 model\(s\) of reservoir_size=20 .* solver='cholesky'"):
        ek.ESN(20, solver="lstsq", ridge=0.0).fit(np.zeros((10**7, 1)), np.zeros((10**7, 1)))


def test_generate_and_forecast_refuse_absurd_lengths_at_once():
    setup = "s = ek.datasets.sine(300); f = ek.ESN(30, seed=0).fit(s[:-1], s[1:])"
    calls = [("f.generate(10**12)", r"n_steps=1000000000000 .* needs about .* more than .*generate\(k\) continues"),
             ("f.generate(10**15, update_state=False)", "n_steps=1000000000000000"),
             ("f.forecast(s[:50], 10**12)", r"horizon=1000000000000 .* ask for a shorter horizon"),
             ("f.forecast([s[:50], s[:40]], 10**13)", r"horizon=10000000000000 \(2 x "),
             ("f.generate(10**12, initial_state=np.zeros((3, 30)))", r"\(3 x 1000000000000 x 1 outputs\)")]
    assert_clear(outcomes([c for c, _ in calls], setup=setup, timeout=60), calls)


@pytest.mark.parametrize("n", [0, -1, 2.5, True, None, "5", float("nan"), np.float64(3.0)])
def test_generate_n_steps_must_be_a_positive_integer(n):
    s = ek.datasets.sine(300)
    f = ek.ESN(30, seed=0).fit(s[:-1], s[1:])
    with pytest.raises(ValueError, match=f"n_steps must be a positive integer, got {re.escape(repr(n))}"):
        f.generate(n)
    assert f.generate(np.int64(3)).shape == (3, 1)  # NumPy integers are integers


@pytest.fixture(scope="module")
def forecaster():
    s = ek.datasets.sine(300)
    return ek.ESN(30, seed=0).fit(s[:-1], s[1:]), s


@pytest.mark.parametrize("histories, horizon, match", [
    ([], 5, "histories is empty"),
    ([np.zeros((10, 1)), np.zeros((10, 2))], 5, r"different numbers of features: \[1, 2\]"),
    (np.zeros((10, 2)), 5, "histories has 2 feature.* the model outputs 1"),
    ([np.zeros((10, 1)), np.zeros((0, 1))], 5, r"histories\[1\] is empty"),
    (np.zeros((10, 1)), True, "horizon must be a positive integer, got True"),
    (np.zeros((10, 1)), 2.0, "horizon must be a positive integer, got 2.0"),
    (np.zeros((10, 1)), 0, "horizon must be a positive integer, got 0"),
    (np.zeros((10, 1)), -4, "horizon must be a positive integer"),
    (np.zeros((10, 1)), "3", "horizon must be a positive integer"),
    (np.float64(3.0), 5, "histories must be a series .* got the single number 3.0"),
    (np.full((10, 1), np.nan), 5, "histories contains NaN"),
])
def test_forecast_edge_cases(forecaster, histories, horizon, match):
    f, _ = forecaster
    with pytest.raises((ValueError, TypeError), match=match):
        f.forecast(histories, horizon)


class ArrayLike:
    """Something NumPy converts (as pandas objects are), but neither an array nor a tensor."""

    def __init__(self, a):
        self.a = a

    def __array__(self, dtype=None, copy=None):
        return np.asarray(self.a, dtype=dtype)


BAD_SERIES = [
    (np.full((50, 2), np.nan), ValueError, r"contains NaN or Inf \(first at index \(0, 0\)\)"),
    (np.zeros((0, 2)), ValueError, "is empty: it has no time steps"),
    ([], ValueError, "is empty"),
    (np.zeros((50, 0)), ValueError, "has no features"),
    ([[1.0, 2.0], [3.0]], ValueError, "nested list whose rows differ in length"),
    (((1.0, 2.0), (3.0,)), ValueError, "nested tuple whose rows differ in length"),
    (np.float64(3.0), ValueError, "got the single number 3.0"),
    (np.zeros((1, 2, 3, 2)), ValueError, r"must have shape .* got shape \(1, 2, 3, 2\)"),
    (np.array([1, "a"], dtype=object), TypeError, "must hold real numbers.*dtype object"),
    (np.ones((50, 2), dtype=complex), TypeError, "must hold real numbers.*complex128"),
    (np.array([["a", "b"]] * 50), TypeError, "must hold real numbers.*<U1"),
    (np.ones((50, 2), dtype=bool), TypeError, "must hold real numbers.*bool"),
    (torch.ones(50, 2, dtype=torch.bool), TypeError, "must hold real numbers.*torch.bool"),
    (torch.ones(50, 2, dtype=torch.complex64), TypeError, "must hold real numbers.*complex64"),
    (np.array(["2020-01-01"] * 50, dtype="datetime64[D]"), TypeError, "must hold real numbers.*datetime64"),
    (np.array([1] * 50, dtype="timedelta64[s]"), TypeError, "must hold real numbers.*timedelta64"),
    ("abc", TypeError, "must hold real numbers, got str"),
    ({"a": [1, 2]}, TypeError, "must hold real numbers, got dict"),
    (np.full((50, 2), 1e300), ValueError, r"holds 1e\+300 at index \(0, 0\), beyond ±1e\+150: the readout sums"),
    (np.full((50, 2), -1e200), ValueError, r"holds -1e\+200 .* beyond ±1e\+150"),
]


@pytest.mark.parametrize("bad, error, match", BAD_SERIES)
def test_bad_series_name_the_argument_everywhere(fitted, forecaster, bad, error, match):
    f, _ = forecaster
    y = np.zeros((50, 1))
    for name, call in [("inputs", lambda: ek.ESN(30, seed=0).fit(bad, y)),
                       ("targets", lambda: ek.ESN(30, seed=0).fit(np.zeros((50, 2)), bad)),
                       ("inputs", lambda: fitted.predict(bad, update_state=False)),
                       ("inputs", lambda: fitted.states(bad)),
                       ("inputs", lambda: fitted.score(bad, y)),
                       ("inputs", lambda: fitted(bad) if isinstance(bad, torch.Tensor) else fitted.forward(bad)),
                       ("histories", lambda: f.forecast(bad, 5))]:
        with pytest.raises(error, match=f"^{name} .*{match}|^{name} {match}"):
            call()


def test_none_where_a_series_is_needed(fitted, forecaster):
    """None means "no inputs" to fit and states (a pattern generator); elsewhere it is a mistake."""
    for name, call in [("inputs", lambda: fitted.predict(None)), ("targets", lambda: ek.ESN(30).fit(U, None)),
                       ("histories", lambda: forecaster[0].forecast(None, 5))]:
        with pytest.raises(TypeError, match=f"{name} must hold real numbers, got NoneType"):
            call()
    with pytest.raises(ValueError, match="inputs=None trains a pattern generator .* feedback_scaling > 0"):
        ek.ESN(30).fit(None, Y)
    with pytest.raises(ValueError, match="states needs inputs, targets, or both"):
        fitted.states(None)


def test_values_beyond_float32_are_refused_by_a_float32_model_before_they_become_inf():
    esn = ek.ESN(30, seed=0, dtype="float32").fit(U, Y)
    for bad in (np.full((20, 2), 1e39), torch.full((20, 2), 1e300, dtype=torch.float64)):
        with pytest.raises(ValueError, match=r"inputs holds 1e\+(39|300) at index \(0, 0\), beyond ±3\.4e\+38: "
                                             "a float32 model holds no larger values"):
            esn.predict(bad)
    esn.predict(np.full((20, 2), 1e38))  # representable in float32: accepted (whatever the model makes of it)


def test_integer_float16_and_array_like_series_are_accepted(fitted):
    """Not mistakes: integers, half precision and objects NumPy converts are series of numbers."""
    base = fitted.predict(U[:50].round(), update_state=False)
    for same in (U[:50].round().astype(np.int64), ArrayLike(U[:50].round()), torch.from_numpy(U[:50].round()).int()):
        out = fitted.predict(same, update_state=False)
        np.testing.assert_allclose(out.numpy() if isinstance(out, torch.Tensor) else out, base)


def test_pandas_objects_are_series_and_their_mistakes_are_named(fitted):
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(U[:50], columns=["a", "b"])
    assert fitted.predict(frame, update_state=False).shape == (50, 1)
    frame["b"] = ["x"] * 50
    with pytest.raises(TypeError, match="inputs must hold real numbers"):
        fitted.predict(frame)
    with pytest.raises(ValueError, match="inputs contains NaN"):
        fitted.predict(pd.DataFrame(U[:50]).where(lambda d: d > 0))


@pytest.mark.parametrize("inputs, targets, match", [
    (U, Y[:10], "targets has shape .* but predict\\(inputs\\) has shape"),
    (U, np.zeros((200, 3)), r"targets has shape \(200, 3\) but predict\(inputs\) has shape \(200, 1\)"),
    ([U[:10], U[:20]], Y[:30], "inputs is a list of 2 sequences, so targets must be a list of as many, got ndarray"),
    ([U[:10], U[:20]], [Y[:10]], "targets must be a list of as many, got a list of 1"),
    ([U[:10], U[:20]], [Y[:10], Y[:5]], r"targets\[1\] has 5 time steps but inputs\[1\] has 20"),
    (U, np.full((200, 1), np.nan), "targets contains NaN"),
    (U, np.full((200, 1), "a"), "targets must hold real numbers"),
])
def test_score_names_its_arguments(fitted, inputs, targets, match):
    with pytest.raises((ValueError, TypeError), match=match):
        fitted.score(inputs, targets)


@pytest.mark.parametrize("state, error, match", [
    (np.zeros(49), ValueError, r"initial_state.x must have shape \(50,\) or \(batch, 50\), got \(1, 49\)"),
    (np.zeros((3, 50, 1)), ValueError, "initial_state.x must have shape"),
    ("abc", TypeError, "initial_state.x must be an array of real numbers .* dtype <U3"),
    ({"x": 1}, TypeError, "initial_state.x must be an array of real numbers"),
    (object(), TypeError, "initial_state.x must be an array of real numbers"),
    (True, TypeError, "initial_state.x must be an array of real numbers .*dtype bool"),
    (np.zeros(50, dtype=complex), TypeError, "initial_state.x must be an array of real numbers .*complex128"),
    (torch.zeros(50, dtype=torch.complex64), TypeError, "initial_state.x must hold real numbers"),
    (np.zeros(50, dtype=bool), TypeError, "initial_state.x .*dtype bool"),
    ([[0.0] * 50, [0.0]], TypeError, "initial_state.x must be an array of real numbers"),
    (np.full(50, np.nan), ValueError, "initial_state.x contains NaN"),
    (np.zeros((0, 50)), ValueError, r"initial_state.x holds no state: shape \(0, 50\)"),
    ((np.zeros(50), np.zeros(3)), ValueError, r"initial_state.y must have shape \(1,\)"),
    ((np.zeros(50), np.array([np.inf])), ValueError, "initial_state.y contains NaN or Inf"),
    (np.zeros((3, 50)), ValueError, "initial_state holds 3 states but 1 sequences were given"),
    (torch.zeros(50, device="meta"), ValueError, "initial_state.x is on device 'meta'"),
])
def test_bad_initial_states_everywhere(fitted, state, error, match):
    calls = [lambda: fitted.predict(U, initial_state=state, update_state=False),
             lambda: ek.ESN(50, seed=0).fit(U, Y, initial_state=state),
             lambda: fitted.states(U, initial_state=state)]
    for call in calls:
        with pytest.raises(error, match=match):
            call()


def test_integer_initial_states_are_numbers(fitted):
    a = fitted.predict(U, initial_state=np.zeros(50), update_state=False)
    b = fitted.predict(U, initial_state=torch.zeros(50, dtype=torch.int32), update_state=False)
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("flag", ["update_state", "return_state"])
@pytest.mark.parametrize("value", ["no", 1, None])
def test_flags_must_be_booleans(fitted, forecaster, flag, value):
    with pytest.raises(TypeError, match=f"{flag} must be True or False, got {re.escape(repr(value))}"):
        fitted.predict(U, **{flag: value})
    with pytest.raises(TypeError, match=f"{flag} must be True or False"):
        forecaster[0].generate(3, **{flag: value})


def test_esnregressor_reports_the_same_parameter_errors_at_fit():
    pytest.importorskip("sklearn")
    from esnkit.sklearn import ESNRegressor

    X, y = U[:100], Y[:100, 0]
    for kwargs, match in [(dict(reservoir_size=10**9), r"reservoir_size=1000000000: fitting its readout needs"),
                          (dict(reservoir_size=True), "reservoir_size must be a positive integer, got True"),
                          (dict(reservoir_size=50, spectral_radius=True), "spectral_radius"),
                          (dict(reservoir_size=50, leak_rate=True), "leak_rate"),
                          (dict(reservoir_size=50, activation=torch.nn.ReLU), r"pass an instance, ReLU\(\)"),
                          (dict(reservoir_size=50, ridge=float("nan")), "ridge"),
                          (dict(reservoir_size=50, device="meta"), "device='meta'"),
                          (dict(reservoir_size=50, dtype="int8"), "dtype"),
                          (dict(reservoir_size=50, washout=100), "n_samples=100 time steps, not more than washout")]:
        model = ESNRegressor(**kwargs)  # scikit-learn's rule: __init__ stores, fit validates
        with pytest.raises((ValueError, TypeError), match=match):
            model.fit(X, y)
    model = ESNRegressor(50, seed=0).fit(X, y)
    with pytest.raises(ValueError, match="X"):
        model.predict(np.full((10, 2), np.nan))
    with pytest.raises(ValueError, match="X has 3 features"):
        model.predict(np.zeros((10, 3)))
    with pytest.raises(ValueError, match=r"0 sample\(s\) \(shape=\(0, 2\)\)"):
        model.predict(np.zeros((0, 2)))
