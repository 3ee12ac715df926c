"""The estimator mixin: scikit-learn's parameter protocol, clone, R² score and tags on the torch ESN."""

import inspect
import subprocess
import sys

import numpy as np
import pytest
import torch
from sklearn.base import clone, is_regressor
from sklearn.metrics import r2_score as sk_r2
from sklearn.model_selection import GridSearchCV, TimeSeriesSplit, cross_val_score
from sklearn.utils import get_tags

import esnkit as ek
from esnkit.metrics import r2_score
from esnkit.models import Estimator


@pytest.fixture(scope="module")
def one_step():
    """A one-step-ahead Mackey-Glass task as one series: X (n_samples, 1), y (n_samples, 1)."""
    series = ek.datasets.mackey_glass(2001)
    return series[:-1], series[1:]


def test_esn_is_an_estimator_with_params_from_its_signature():
    assert issubclass(ek.ESN, Estimator) and issubclass(ek.ESN, torch.nn.Module)
    assert ek.ESN.__mro__.index(Estimator) < ek.ESN.__mro__.index(torch.nn.Module)  # its protocol first
    names = tuple(inspect.signature(ek.ESN.__init__).parameters)[1:]
    assert ek.ESN.PARAMS == names
    assert tuple(ek.ESN().get_params(deep=True)) == names == tuple(ek.ESN().get_params(deep=False))
    assert is_regressor(ek.ESN()) and ek.ESN._estimator_type == "regressor"
    tags = get_tags(ek.ESN())
    assert tags.target_tags.required and not tags.input_tags.allow_nan and tags.input_tags.three_d_array


def test_sklearn_clone_gives_an_unfitted_model_with_equal_params(one_step):
    X, y = one_step
    esn = ek.ESN(30, spectral_radius=0.7, activation=torch.nn.Tanh(), washout=10, seed=4).fit(X[:200], y[:200])
    copy = clone(esn)
    assert type(copy) is ek.ESN and not copy.is_fitted and copy.state is None
    params, copied = esn.get_params(), copy.get_params()
    assert type(copied.pop("activation")) is torch.nn.Tanh and copy._modules["activation"] is not esn.activation
    assert copied == {k: v for k, v in params.items() if k != "activation"}
    assert esn.clone(ridge=1e-3).get_params() == {**esn.get_params(), "ridge": 1e-3}


def test_get_params_set_params_round_trip():
    source = ek.ESN(20, spectral_radius=0.5, leak_rate=0.3, activation=torch.nn.Tanh(), solver="lstsq", seed=1)
    params = source.get_params(deep=True)
    target = ek.ESN()
    assert target.set_params(**params) is target
    assert target.get_params(deep=True) == params
    assert target._modules["activation"] is params["activation"]  # a module is registered as one
    target.set_params(activation="relu")
    assert target.activation == "relu" and "activation" not in target._modules


def test_set_params_validates_and_restores_the_old_values():
    esn = ek.ESN(20, spectral_radius=0.5, ridge=1e-6)
    with pytest.raises(ValueError, match="spectral_radius"):
        esn.set_params(spectral_radius=-1.0)
    assert esn.spectral_radius == 0.5
    with pytest.raises(ValueError, match="pinv"):  # each value is fine alone, not together
        esn.set_params(solver="pinv", ridge=1e-3)
    assert (esn.solver, esn.ridge) == ("auto", 1e-6)
    with pytest.raises(ValueError, match="invalid parameter 'radius'.*valid parameters: reservoir_size, "):
        esn.set_params(radius=0.3)


class Toy(Estimator):
    def __init__(self, a=1, inner=None):
        self.a = a
        self.inner = inner

    def _check_params(self):
        if self.a < 0 or (self.inner is not None and self.inner.a < 0):
            raise ValueError("a must be >= 0")


def test_the_mixin_alone_nested_parameters_and_their_rollback():
    model = Toy(2, inner=Toy(3))
    assert model.get_params() == {"a": 2, "inner": model.inner, "inner__a": 3, "inner__inner": None}
    assert model.get_params(deep=False) == {"a": 2, "inner": model.inner}
    model.set_params(a=4, inner__a=5)
    assert (model.a, model.inner.a) == (4, 5)
    with pytest.raises(ValueError, match="a must be"):
        model.set_params(a=6, inner__a=-1)
    assert (model.a, model.inner.a) == (4, 5)
    with pytest.raises(ValueError, match="invalid parameter 'b' for Toy; valid parameters: a, inner"):
        model.set_params(b=1)
    copy = clone(model)
    assert copy.inner is not model.inner and copy.get_params(deep=False)["a"] == 4 and copy.inner.a == 5


def test_score_is_r2_of_predict_and_leaves_the_state(one_step):
    X, y = one_step
    esn = ek.ESN(50, washout=20, seed=0).fit(X[:500], y[:500])
    state = esn.state
    expected = sk_r2(y[500:700], esn.predict(X[500:700], update_state=False))
    assert esn.score(X[500:700], y[500:700]) == pytest.approx(expected, rel=1e-12)
    assert torch.equal(esn.state.x, state.x)
    # sequences of different lengths: their steps are pooled
    seqs = [X[700:800], X[800:850]]
    pooled = np.concatenate(esn.predict(seqs, initial_state=state, update_state=False))
    assert esn.score(seqs, [y[700:800, 0], y[800:850, 0]]) == pytest.approx(sk_r2(y[700:850], pooled), rel=1e-12)


def test_cross_val_score_and_grid_search_with_time_series_splits(one_step):
    X, y = one_step
    esn = ek.ESN(100, washout=50, seed=0)
    scores = cross_val_score(esn, X, y, cv=TimeSeriesSplit(3))
    assert scores.shape == (3,) and scores.min() > 0.9
    search = GridSearchCV(esn, {"spectral_radius": [0.5, 0.9]}, cv=TimeSeriesSplit(3)).fit(X, y[:, 0])
    assert search.best_params_["spectral_radius"] in (0.5, 0.9) and search.best_score_ > 0.9
    assert search.best_estimator_.is_fitted and not esn.is_fitted


@pytest.mark.parametrize("shape", [(40,), (40, 3), (2, 20, 3)])
def test_r2_score_matches_sklearn(shape):
    rng = np.random.default_rng(0)
    y = rng.normal(size=shape)
    p = y + rng.normal(scale=0.5, size=shape)
    flat_y, flat_p = (a.reshape(-1, shape[-1]) if len(shape) == 3 else a for a in (y, p))  # sklearn: 1-D or 2-D
    assert r2_score(y, p) == pytest.approx(sk_r2(flat_y, flat_p), rel=1e-12)
    raw = r2_score(torch.from_numpy(y), torch.from_numpy(p), multioutput="raw_values")
    np.testing.assert_allclose(raw, np.atleast_1d(sk_r2(flat_y, flat_p, multioutput="raw_values")), rtol=1e-12)


def test_r2_score_constant_targets_and_errors():
    y = np.c_[np.ones(5), np.arange(5.0), np.full(5, 2.0)]
    p = y.copy()
    p[:, 0] += 0.1  # a constant feature predicted wrong scores 0, one predicted exactly scores 1
    np.testing.assert_array_equal(r2_score(y, p, multioutput="raw_values"), [0.0, 1.0, 1.0])
    assert r2_score(y, p) == pytest.approx(sk_r2(y, p)) == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="fewer than two"):
        r2_score([1.0], [1.0])
    with pytest.raises(ValueError, match="multioutput"):
        r2_score(y, p, multioutput="variance_weighted")


def test_import_esnkit_and_using_the_estimator_do_not_import_sklearn():
    code = (
        "import sys, numpy as np, esnkit as ek\n"
        "x = np.sin(np.arange(200) / 5)\n"
        "esn = ek.ESN(20, seed=0).fit(x[:-1], x[1:]).set_params(ridge=1e-4).clone()\n"
        "esn.fit(x[:-1], x[1:]).score(x[:-1], x[1:])\n"
        "assert 'sklearn' not in sys.modules, sorted(m for m in sys.modules if 'sklearn' in m)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def _models():
    """Each model with a function fitting it and one giving its predictions (NumPy)."""
    t = np.arange(400) * 0.1
    u = np.sin(t)[:, None]
    field = np.stack([np.sin(t + k) for k in range(4)], axis=1)
    seqs = [np.stack([np.sin(0.2 * (i % 3 + 1) * np.arange(15)), np.cos(0.1 * i * np.arange(15))], 1)
            for i in range(30)]
    labels = np.arange(30) % 3
    series = (lambda m: m.fit(u[:-1], u[1:]), lambda m: m.predict(u[:30], update_state=False))
    return [
        (ek.ESN(40, seed=0), *series),
        (ek.NVAR(2), *series),
        (ek.DeepESN(reservoir_size=20, depth=2, seed=0), *series),
        (ek.ESNClassifier(20, seed=0), lambda m: m.fit(seqs, labels), lambda m: m.decision_function(seqs)),
        (ek.ParallelESN(2, overlap=1, reservoir_size=20, seed=0), lambda m: m.fit(field),
         lambda m: m.forecast(field[:50], 5)),
    ]


@pytest.mark.filterwarnings("ignore")
def test_set_params_dtype_after_fit_runs_the_fitted_model_until_the_next_fit(tmp_path):
    # scikit-learn's contract: parameters take effect at the next fit; the fitted weights run as fitted
    for m, fit, run in _models():
        name = type(m).__name__
        before = np.asarray(run(fit(m)))
        m.set_params(dtype="float32")
        after = np.asarray(run(m))
        np.testing.assert_array_equal(after, before, err_msg=name)
        assert m._fitted_tensor().dtype == torch.float64, name
        m.save(tmp_path / "m")
        assert ek.params.torch_dtype(ek.load(tmp_path / "m").dtype) == torch.float64, name
        refit = np.asarray(run(fit(m)))  # the next fit takes the new dtype
        assert m._fitted_tensor().dtype == torch.float32, name
        np.testing.assert_allclose(refit, before, rtol=1e-3, atol=1e-3, err_msg=name)
        m.set_params(dtype="float64")
        m.to(torch.float64)  # moving the model itself converts the fitted weights
        assert m._fitted_tensor().dtype == torch.float64 and np.isfinite(np.asarray(run(m))).all(), name
