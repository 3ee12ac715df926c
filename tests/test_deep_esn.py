"""esnkit.DeepESN (stacked reservoirs) against a plain NumPy loop, against ESN at depth 1, and its files."""

import pathlib
import re

import numpy as np
import pytest
import torch

import esnkit as ek
import reference as ref
from esnkit import io
from esnkit.models.deep_esn import layer_seed
from esnkit.models.reservoir_model import FORMAT_VERSION

CASES = [([40], False), ([30, 20], False), ([30, 20], True), ([25, 15, 10], False), ([25, 15, 10], True)]


def series(T, D, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(T)[:, None]
    return np.sin(2 * np.pi * t / rng.uniform(10, 40, D) + rng.uniform(0, 6, D)) + 0.1 * rng.standard_normal((T, D))


def weights(m):
    return [ref.Weights(r) for r in m.reservoirs_]


def features(m, u, input_to_all):
    """[1; u; x1; ...; xL] rows (T, F) of one sequence from zeros, by the NumPy reference."""
    xs = ref.deep_esn_states(weights(m), u, input_to_all)
    return np.hstack([np.ones((len(u), 1)), u, *xs]), np.hstack(xs)


@pytest.mark.parametrize("layers,to_all", CASES)
def test_states_predictions_and_readout_match_numpy(layers, to_all):
    u, y = series(160, 2, seed=1), series(160, 1, seed=2)
    m = ek.DeepESN(layers, input_to_all=to_all, spectral_radius=[0.8, 0.9, 0.95][:len(layers)],
                   leak_rate=0.7, inter_scaling=0.5, ridge=1e-4, washout=10, seed=3, chunk_size=37).fit(u, y)
    assert [r.input_size for r in m.reservoirs_] == [2] + [n + (2 if to_all else 0) for n in layers[:-1]]
    Z, X = features(m, u, to_all)
    W = np.linalg.solve(Z[10:].T @ Z[10:] + 1e-4 * np.eye(Z.shape[1]), Z[10:].T @ y[10:]).T
    np.testing.assert_allclose(m.weight_.numpy(), W, rtol=1e-7, atol=1e-9)
    m.reset()
    np.testing.assert_allclose(m.states(u), X, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(m.predict(u), Z @ m.weight_.numpy().T, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("layers,to_all", CASES[1:3])
def test_ragged_lists_each_sequence_from_zeros(layers, to_all):
    seqs = [series(n, 1, seed=n) for n in (90, 61, 120)]
    targets = [np.roll(s, -1, axis=0) for s in seqs]
    m = ek.DeepESN(layers, input_to_all=to_all, ridge=1e-3, washout=5, seed=0, chunk_size=32).fit(seqs, targets)
    rows = [features(m, s, to_all)[0] for s in seqs]
    Z = np.vstack([r[5:] for r in rows])
    Y = np.vstack([t[5:] for t in targets])
    W = np.linalg.solve(Z.T @ Z + 1e-3 * np.eye(Z.shape[1]), Z.T @ Y).T
    np.testing.assert_allclose(m.weight_.numpy(), W, rtol=1e-7, atol=1e-9)
    # the carried state is each sequence's end
    ends = np.stack([features(m, s, to_all)[1][-1] for s in seqs])
    np.testing.assert_allclose(m.state_x.numpy(), ends, rtol=1e-10, atol=1e-12)
    m.reset()
    out = m.predict(seqs)
    assert [len(o) for o in out] == [90, 61, 120]
    for o, r in zip(out, rows):
        np.testing.assert_allclose(o, r @ m.weight_.numpy().T, rtol=1e-10, atol=1e-12)


def test_depth_one_is_the_esn_of_that_seed():
    s = ek.datasets.mackey_glass(1200)
    kw = dict(spectral_radius=0.85, leak_rate=0.6, input_scaling=0.7, bias_scaling=0.3, ridge=1e-6, washout=50,
              seed=11)
    e = ek.ESN(80, **kw).fit(s[:-1], s[1:])
    d = ek.DeepESN([80], **kw).fit(s[:-1], s[1:])
    assert ek.DeepESN(depth=1, reservoir_size=80, **kw).fit(s[:-1], s[1:]).weight_.equal(d.weight_)
    for k in ("W_crow", "W_col", "W_values", "W_in", "bias", "leak"):
        assert torch.equal(getattr(e.reservoir_, k), getattr(d.reservoirs_[0], k)), k
    assert torch.equal(e.readout_.weight, d.weight_)
    np.testing.assert_allclose(d.predict(s[:300]), e.predict(s[:300]), rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(d.generate(30), e.generate(30), rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(d.forecast(s[:400], 20), e.forecast(s[:400], 20), rtol=1e-9, atol=1e-11)


def test_fit_twice_is_bit_identical_and_seeds_per_layer():
    u = series(300, 1)
    a = ek.DeepESN(depth=3, reservoir_size=30, seed=5).fit(u[:-1], u[1:])
    b = ek.DeepESN(depth=3, reservoir_size=30, seed=5).fit(u[:-1], u[1:])
    assert torch.equal(a.weight_, b.weight_)
    assert torch.equal(a.state_x, b.state_x)
    a.fit(u[:-1], u[1:])
    assert torch.equal(a.weight_, b.weight_)
    for ra, rb in zip(a.reservoirs_, b.reservoirs_):
        assert all(torch.equal(x, y) for x, y in zip(ra.buffers(), rb.buffers()))
    assert not torch.equal(a.reservoirs_[1].W_values, a.reservoirs_[2].W_values)
    assert len({layer_seed(5, k) for k in range(4)}) == 4 and layer_seed(None, 2) is None


@pytest.mark.parametrize("scale", [False, True])
def test_forecast_generate_close_the_loop(scale):
    s = 3.0 + 2.0 * ek.datasets.mackey_glass(900)
    m = ek.DeepESN([40, 30], input_to_all=True, ridge=1e-6, washout=50, scale=scale, seed=2).fit(s[:599], s[1:600])
    # one step of the closed loop is the last driven prediction over the whole history
    h = s[300:500]
    driven = m.clone().fit(s[:599], s[1:600]).reset().predict(h)[-1]
    np.testing.assert_allclose(m.forecast(h, 1)[0], driven, rtol=1e-10)
    # a generate after fit continues the training series, as a forecast of it does
    np.testing.assert_allclose(m.generate(25, update_state=False), m.forecast(s[:600], 25), rtol=1e-9)
    many = m.forecast([s[:400], s[100:350]], 10)
    np.testing.assert_allclose(many[1], m.forecast(s[100:350], 10), rtol=1e-12)
    if not scale:  # against the NumPy closed loop
        xs = [x[-1] for x in ref.deep_esn_states(weights(m), h[:-1], True)]
        free = ref.deep_esn_free(weights(m), m.weight_.numpy(), xs, h[-1], 15, True)
        np.testing.assert_allclose(m.forecast(h, 15), free, rtol=1e-9, atol=1e-11)
    # the NumPy closed loop (CPU) and the torch one (other devices) agree
    xs, u0 = m._split(m.state_x), m._next_input(m.state_y)
    a, b = m._closed_loop_numpy(xs, u0, 30), m._closed_loop_torch(xs, u0, 30)
    np.testing.assert_allclose(a[0].numpy(), b[0].numpy(), rtol=1e-9, atol=1e-12)
    for x, y in zip(a[1], b[1]):
        np.testing.assert_allclose(x.numpy(), y.numpy(), rtol=1e-9, atol=1e-12)
    assert np.abs(m.forecast(h, 5) - s[500:505]).max() < 0.05 * np.ptp(s)


def test_save_load_round_trip_and_damaged_files(tmp_path):
    u = series(250, 2)
    m = ek.DeepESN([20, 15, 10], input_to_all=True, scale=True, leak_rate=[1.0, 0.8, 0.5], seed=4).fit(u[:-1], u[1:])
    path = tmp_path / "deep.esnkit"
    m.save(path)
    back = ek.load(path)
    assert isinstance(back, ek.DeepESN) and back.get_params() == m.get_params()
    assert torch.equal(back.weight_, m.weight_)
    assert np.array_equal(back.predict(u[:60], update_state=False), m.predict(u[:60], update_state=False))
    assert np.array_equal(back.generate(10), m.generate(10))
    assert np.array_equal(back.forecast(u[:120], 12), m.forecast(u[:120], 12))
    for name, damage, match in (
            ("reservoirs_.1.W_in", lambda t: t[:, :-1].contiguous(), "reservoirs_.1.W_in has shape"),
            ("reservoirs_.2.leak", lambda t: t[:-1].contiguous(), "reservoirs_.2.leak has shape"),
            ("weight_", lambda t: t[:, :-1].contiguous(), "weight_ has shape"),
            ("state_x", lambda t: torch.full_like(t, float("nan")), "state_x"),
            ("input_scale_", lambda t: -t, "input_scale_")):
        tensors, config = io.read(path, newest=FORMAT_VERSION)
        tensors[name] = damage(tensors[name])
        io.write(tmp_path / "bad.esnkit", tensors, config)
        with pytest.raises(ValueError, match=match):
            ek.load(tmp_path / "bad.esnkit")
    tensors, config = io.read(path, newest=FORMAT_VERSION)
    config["params"]["layers"] = config["extra"]["params"]["layers"] = [20, 15, 11]
    io.write(tmp_path / "bad.esnkit", tensors, config)
    with pytest.raises(ValueError, match="reservoirs_.2"):
        ek.load(tmp_path / "bad.esnkit")


def test_parameters_and_errors():
    with pytest.raises(ValueError, match="layers"):
        ek.DeepESN([])
    with pytest.raises(ValueError, match="depth"):
        ek.DeepESN(depth=0)
    with pytest.raises(ValueError, match="layers"):
        ek.DeepESN([10, 0])
    with pytest.raises(ValueError, match="not both"):
        ek.DeepESN([10, 10], depth=3)
    with pytest.raises(ValueError, match="spectral_radius"):
        ek.DeepESN([10, 10], spectral_radius=[0.9])
    with pytest.raises(ValueError, match="leak_rate"):
        ek.DeepESN(depth=2, leak_rate=[0.5, 1.5])
    m = ek.DeepESN([10, 5], seed=0)
    assert m._layer_sizes() == [10, 5] and ek.DeepESN()._layer_sizes() == [100, 100]
    with pytest.raises(ek.NotFittedError):
        m.forecast(np.zeros(20), 5)
    with pytest.raises(ek.NotFittedError):
        m.predict(np.zeros(20))
    u = series(100, 2)
    with pytest.raises(ValueError, match="finite|NaN"):
        m.fit(np.where(np.arange(100)[:, None] == 7, np.nan, u), u)
    m.fit(u, u[:, :1])
    with pytest.raises(ValueError, match="feature"):
        m.predict(series(30, 3))
    with pytest.raises(ValueError, match="one-step-ahead"):
        m.generate(5)
    with pytest.raises(ValueError, match="washout"):
        ek.DeepESN([5], washout=200).fit(u, u)
    with pytest.warns(UserWarning, match="washout"):
        ek.DeepESN([5], washout=20).fit(u, u).forecast(u[:10], 2)
    with pytest.raises(ValueError, match="inter_scaling"):
        m.set_params(inter_scaling=-1.0)
    c = m.clone(layers=[8])
    assert c.layers == [8] and not c.is_fitted and m.get_params()["layers"] == [10, 5]
    assert 0.5 < ek.DeepESN([30, 20], seed=1, ridge=1e-6).fit(u[:-1], u[1:]).score(u[:-1], u[1:]) <= 1.0


def test_doc_example_runs_and_quotes_the_committed_run(tmp_path, monkeypatch):
    root = pathlib.Path(__file__).resolve().parents[1]
    text = (root / "docs" / "deep_esn.md").read_text()
    monkeypatch.chdir(tmp_path)
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert len(blocks) == 1
    exec(compile(blocks[0], "docs/deep_esn.md", "exec"), {})  # noqa: S102 - our own docs
    written = (root / "benchmarks" / "results" / "deep_esn.md").read_text()
    rows = [line for line in text.split("## Deep against shallow", 1)[1].splitlines()
            if line.startswith("| ") and "---" not in line]
    assert len(rows) >= 10
    for row in rows:
        assert row in written, f"docs/deep_esn.md quotes a row the run did not write: {row}"
