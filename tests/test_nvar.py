"""esnkit.NVAR (next-generation reservoir computing) against plain NumPy and against reservoirpy."""

import itertools
import pathlib
import re

import numpy as np
import pytest
import torch

import esnkit as ek
import reference as ref
from esnkit import io
from esnkit.models.reservoir_model import FORMAT_VERSION
from esnkit.readout import DelayMonomials

ROOT = pathlib.Path(__file__).resolve().parents[1]
SHAPES = [(1, 1, 1), (2, 1, 2), (3, 2, 2), (2, 3, 3), (1, 1, 3)]  # (delays, skip, order)


def series(T, D, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(T)[:, None]
    return np.sin(2 * np.pi * t / rng.uniform(10, 40, D) + rng.uniform(0, 6, D)) + 0.1 * rng.standard_normal((T, D))


def ridge_numpy(Z, Y, ridge):
    return np.linalg.solve(Z.T @ Z + ridge * np.eye(Z.shape[1]), Z.T @ Y).T


@pytest.mark.parametrize("k, s, p", SHAPES)
@pytest.mark.parametrize("D", [1, 3])
@pytest.mark.parametrize("chunk", [1, 7, None])
def test_features_match_numpy_reference(k, s, p, D, chunk):
    u = series(40, D)
    fmap = DelayMonomials(k, s, p)
    want = ref.nvar_features(u, k, s, p)
    assert fmap.size_for(D) == want.shape[1]
    U = torch.tensor(u)[None]
    step = chunk or len(u)
    history, got = None, []
    for lo in range(0, len(u), step):
        lin, history = fmap.linear(U[:, lo:lo + step], history)
        got.append(fmap(lin))
    got = torch.cat(got, dim=1)[0]
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-13, atol=1e-15)
    # the closed loop's NumPy path gives the same bits
    lin = fmap.linear(U)[0][0]
    assert np.array_equal(fmap.features_numpy(lin.numpy()), got.numpy())
    no_bias = DelayMonomials(k, s, p, bias=False)
    np.testing.assert_allclose(no_bias(no_bias.linear(U)[0])[0].numpy(), want[:, 1:], rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("k, s, p", SHAPES)
@pytest.mark.parametrize("chunk", [1, 7, None])
def test_fit_weights_equal_numpy_ridge_on_reference_features(k, s, p, chunk):
    # ragged list of multivariate sequences: each from its own zero delay line, past its own washout
    us = [series(n, 2, seed=i) for i, n in enumerate((60, 45, 80))]
    ys = [np.column_stack([np.roll(u[:, 0], -1), u[:, 1] ** 2]) for u in us]
    ridge = 1e-3
    m = ek.NVAR(k, skip=s, order=p, ridge=ridge, chunk_size=chunk).fit(us, ys)
    w = (k - 1) * s
    Z = np.vstack([ref.nvar_features(u, k, s, p)[w:] for u in us])
    Y = np.vstack([y[w:] for y in ys])
    want = ridge_numpy(Z, Y, ridge)
    got = m.weight_.numpy()
    assert got.shape == want.shape == (2, m.n_features_)
    assert np.abs(got - want).max() <= 1e-10 * np.abs(want).max()
    # predictions from a zero delay line, chunk by chunk, are the reference features times the weights
    m.reset()
    pred = m.predict(us, update_state=False)
    for u, pr in zip(us, pred):
        np.testing.assert_allclose(pr, ref.nvar_features(u, k, s, p) @ got.T, rtol=1e-11, atol=1e-12)


def test_layouts_and_carried_state():
    u = series(100, 1)[:, 0]
    m = ek.NVAR(2, skip=2).fit(u[:-1], u[1:])
    assert m.predict(u[:10]).shape == (10,)
    assert m.washout_ == 2 and m.input_size_ == m.output_size_ == 1
    # predict continues from the carried delay line: two halves equal one call
    m.fit(u[:60], u[1:61])
    whole = m.predict(u[60:90], update_state=False)
    halves = np.concatenate([m.predict(u[60:75]), m.predict(u[75:90])])
    np.testing.assert_allclose(halves, whole, rtol=0, atol=0)
    # 3-D batch and tensors
    x3 = torch.tensor(series(50, 2)).reshape(2, 25, 2)
    m3 = ek.NVAR(2).fit(x3[:, :-1], x3[:, 1:])
    out = m3.predict(x3[:, :-1])
    assert isinstance(out, torch.Tensor) and out.shape == (2, 24, 2)
    assert m3.generate(5).shape == (2, 5, 2)
    assert m3.forecast(x3, 4).shape == (2, 4, 2)
    assert ek.NVAR(3, order=3).clone(order=2).get_params()["order"] == 2
    assert 0.9 < m.score(u[60:90], u[61:91]) <= 1.0
    # set_params changes the next fit, not the fitted model
    before = m.predict(u[60:90], update_state=False)
    m.set_params(order=3, delays=4, predict_increment=True)
    assert np.array_equal(m.predict(u[60:90], update_state=False), before)


@pytest.mark.parametrize("increment", [False, True])
def test_closed_loop_forecast_equals_numpy_loop(increment):
    k, s, p = 3, 2, 2
    u = series(400, 2, seed=3)
    m = ek.NVAR(k, skip=s, order=p, ridge=1e-4, predict_increment=increment).fit(u[:-1], u[1:])
    W = m.weight_.numpy()
    hists = [u[:150], u[:233]]
    got = m.forecast(hists, 30)
    for h, g in zip(hists, got):
        seq = list(h)
        for _ in range(30):
            z = ref.nvar_features(np.array(seq[-(k - 1) * s - 1:]), k, s, p)[-1]
            seq.append(W @ z + (seq[-1] if increment else 0))
        np.testing.assert_allclose(g, np.array(seq[len(h):]), rtol=1e-10, atol=1e-12)
    # a history forecast in a batch gets the bits it gets alone
    assert np.array_equal(got[1], m.forecast(hists[1], 30))
    # generate after fit continues after the last target, as forecast from the whole series does
    np.testing.assert_allclose(m.generate(10), m.forecast(u, 10), rtol=0, atol=0)


def test_agrees_with_reservoirpy():
    pytest.importorskip("reservoirpy")
    from reservoirpy.nodes import NVAR as RpyNVAR
    from reservoirpy.nodes import Ridge as RpyRidge

    # standardised: on Lorenz in its own units (values up to 45, quadratic features up to 2000) the
    # normal equations at ridge 2.5e-6 are so ill-conditioned that any two float64 solvers, these two
    # included, differ by ~1e-7 (each is ~1e-7 from a least-squares solve; benchmarks/nvar.py)
    x = ek.datasets.lorenz(900, dt=0.025)
    x = (x - x.mean(axis=0)) / x.std(axis=0)
    train, test = x[:600], x[600:899]
    for k, s, ridge in ((2, 1, 2.5e-6), (3, 2, 1e-4)):
        # reservoirpy's NVAR has no constant and its Ridge's intercept is not regularised: compare the
        # same problem, esnkit without the constant against reservoirpy's Ridge without its intercept
        nvar = RpyNVAR(delay=k, order=2, strides=s)
        readout = RpyRidge(ridge=ridge, fit_bias=False)
        model = nvar >> readout
        model.fit(train, x[1:601] - train, warmup=(k - 1) * s)
        theirs = model.run(test)
        m = ek.NVAR(k, skip=s, order=2, ridge=ridge, bias=False).fit(train, x[1:601] - train)
        ours = m.predict(test)
        rel = np.abs(ours - theirs).max() / np.abs(theirs).max()
        assert rel <= 1e-8, rel
    # order 3: reservoirpy's features hold the monomials of order 3 alone, ours those of orders 2 and 3
    f3 = RpyNVAR(delay=2, order=3, strides=1).run(test)
    lin = 6
    n2 = len(list(itertools.combinations_with_replacement(range(lin), 2)))
    fmap = DelayMonomials(2, 1, 3, bias=False)
    ours3 = fmap(fmap.linear(torch.tensor(test)[None])[0])[0].numpy()
    np.testing.assert_allclose(ours3[:, :lin], f3[:, :lin], rtol=1e-14)
    np.testing.assert_allclose(ours3[:, lin + n2:], f3[:, lin:], rtol=1e-12)


def test_save_load_round_trip_and_damaged_weight(tmp_path):
    u = series(200, 2)
    m = ek.NVAR(2, skip=2, order=3, predict_increment=True, ridge=1e-4).fit(u[:-1], u[1:])
    path = tmp_path / "nvar.esnkit"
    ek.save(m, path)
    back = ek.load(path)
    assert isinstance(back, ek.NVAR) and back.get_params() == m.get_params()
    assert torch.equal(back.weight_, m.weight_)
    assert np.array_equal(back.predict(u[:50], update_state=False), m.predict(u[:50], update_state=False))
    assert np.array_equal(back.generate(20), m.generate(20))
    assert np.array_equal(back.forecast(u[:120], 15), m.forecast(u[:120], 15))
    tensors, config = io.read(path, newest=FORMAT_VERSION)
    tensors["weight_"] = tensors["weight_"][:, :-1].contiguous()
    io.write(tmp_path / "bad.esnkit", tensors, config)
    with pytest.raises(ValueError, match="weight_ has shape"):
        ek.load(tmp_path / "bad.esnkit")
    tensors, config = io.read(path, newest=FORMAT_VERSION)
    config["params"]["order"] = config["extra"]["params"]["order"] = 2  # the weight no longer fits them
    io.write(tmp_path / "bad2.esnkit", tensors, config)
    with pytest.raises(ValueError, match="weight_"):
        ek.load(tmp_path / "bad2.esnkit")
    tensors, config = io.read(path, newest=FORMAT_VERSION)
    tensors["state_next"] = torch.full_like(tensors["state_next"], float("nan"))
    io.write(tmp_path / "bad3.esnkit", tensors, config)
    with pytest.raises(ValueError, match="state_next"):
        ek.load(tmp_path / "bad3.esnkit")


def test_bad_input_errors():
    for name in ("delays", "order", "skip"):
        with pytest.raises(ValueError, match=name):
            ek.NVAR(**{name: 0})
    with pytest.raises(ValueError, match="ridge"):
        ek.NVAR(ridge=-1.0)
    with pytest.raises(TypeError, match="bias"):
        ek.NVAR(bias="yes")
    u = series(50, 2)
    with pytest.raises(ek.NotFittedError, match="forecast"):
        ek.NVAR().forecast(u, 5)
    with pytest.raises(ek.NotFittedError, match="predict"):
        ek.NVAR().predict(u)
    m = ek.NVAR().fit(u[:-1], u[1:])
    with pytest.raises(ValueError, match="inputs has 3 feature"):
        m.predict(series(10, 3))
    bad = u.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match="inputs"):
        m.predict(bad)
    with pytest.raises(ValueError, match="targets"):
        ek.NVAR().fit(u[:-1], bad[1:])
    with pytest.raises(ValueError, match="inputs has 49 time steps but targets has 50"):
        ek.NVAR().fit(u[:-1], u)
    with pytest.raises(ValueError, match="washout"):
        ek.NVAR(washout=60).fit(u[:-1], u[1:])
    with pytest.raises(ValueError, match="horizon"):
        m.forecast(u, 0)
    narrow = ek.NVAR().fit(u[:-1], u[1:, :1])
    with pytest.raises(ValueError, match="forecaster"):
        narrow.forecast(u, 5)
    with pytest.raises(ValueError, match="forecaster"):
        narrow.generate(5)
    with pytest.raises(ValueError, match="same width"):
        ek.NVAR(predict_increment=True).fit(u[:-1], u[1:, :1])
    with pytest.warns(UserWarning, match="delay line"):
        ek.NVAR(3, skip=2).fit(u[:-1], u[1:]).forecast(u[:3], 2)


def test_doc_example_runs_and_quotes_the_committed_run(capsys):
    text = (ROOT / "docs" / "nvar.md").read_text()
    for block in re.findall(r"```python\n(.*?)```", text, flags=re.S):
        exec(compile(block, "docs/nvar.md", "exec"), {})  # noqa: S102 - our own docs
    assert "NRMSE" in capsys.readouterr().out
    written = (ROOT / "benchmarks" / "results" / "nvar.md").read_text()
    section = text.split("### Benchmark", 1)[1]
    rows = [line for line in section.splitlines() if line.startswith("| ") and "---" not in line]
    assert rows, "the benchmark section quotes no table"
    for row in rows:
        assert row in written, f"docs/nvar.md quotes a row the run did not write: {row}"
