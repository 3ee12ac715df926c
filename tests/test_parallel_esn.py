"""ParallelESN against a plain ESN (one group) and a NumPy re-implementation of the windows, the
per-group ridge readouts and the closed-loop assembly (tests/reference.py's equations)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

import esnkit as ek
from esnkit.models.parallel_esn import windows
from reference import feature, step


def lorenz96(n: int, dim: int = 8, F: float = 8.0, dt: float = 0.05, seed: int = 0) -> np.ndarray:
    """Lorenz-96 by RK4, transient dropped: (n, dim)."""
    x = F + 0.01 * np.random.default_rng(seed).standard_normal(dim)

    def f(x):
        return (np.roll(x, -1) - np.roll(x, 2)) * np.roll(x, 1) - x + F

    out = np.empty((n, dim))
    for i in range(n + 300):
        k1 = f(x)
        k2 = f(x + dt / 2 * k1)
        k3 = f(x + dt / 2 * k2)
        x = x + dt / 6 * (k1 + 2 * k2 + 2 * k3 + f(x + dt * k3))
        if i >= 300:
            out[i - 300] = x
    return out


@pytest.fixture(scope="module")
def field():
    return lorenz96(700) / 4.0


KW = dict(reservoir_size=20, in_degree=3, spectral_radius=0.6, input_scaling=0.5, bias_scaling=0.4, leak_rate=0.8,
          ridge=1e-3, washout=10, seed=11)


class GroupWeights:
    """Dense float64 weights of group ``k`` cut out of the fitted stacked reservoir, in the attribute
    names tests/reference.py's ``step`` reads (its input weights read the window's points)."""

    def __init__(self, model, k: int, window: np.ndarray) -> None:
        res, N = model.reservoir_, model.reservoir_size
        rows = slice(k * N, (k + 1) * N)
        assert res.W_in.shape == (model.groups * N, len(window))
        self.W = res.scipy_recurrent().toarray()[rows, rows]
        W = res.scipy_recurrent().toarray()[rows]
        assert not np.delete(W, np.r_[rows], axis=1).any()  # no links between groups
        self.W_in = res.W_in.double().numpy()[rows]
        self.W_fb = np.zeros((N, 0))
        self.b = res.bias.double().numpy()[rows]
        self.a = res.leak.double().numpy()[rows]
        self.f = np.tanh


def reference(model, s: np.ndarray, history: np.ndarray, horizon: int, ridge: float, washout: int, squares=None):
    """Per-group ridge readouts (q, 1 + d_w + N) and the closed-loop forecast after warming up on ``history``,
    one group and one step at a time in NumPy."""
    Q, g = s.shape[1], model.groups
    q = Q // g
    wins = windows(Q, g, model.overlap)
    ws = [GroupWeights(model, k, wins[k]) for k in range(g)]
    N = model.reservoir_size
    readouts, Zs, Ys = [], [], []
    for k in range(g):
        x, Z = np.zeros(N), []
        for t in range(len(s) - 1):
            x = step(ws[k], x, s[t, wins[k]], None)
            Z.append(feature(x, s[t, wins[k]], True, True, squares))
        Zs.append(np.array(Z)[washout:])
        Ys.append(s[1 + washout:, k * q:(k + 1) * q])
    if model.shared:
        Z, Y = np.concatenate(Zs), np.concatenate(Ys)
        W = np.linalg.solve(Z.T @ Z + ridge * np.eye(Z.shape[1]), Z.T @ Y).T
        readouts = [W] * g
    else:
        readouts = [np.linalg.solve(Z.T @ Z + ridge * np.eye(Z.shape[1]), Z.T @ Y).T for Z, Y in zip(Zs, Ys)]
    xs = [np.zeros(N) for _ in range(g)]
    for t in range(len(history) - 1):
        xs = [step(ws[k], xs[k], history[t, wins[k]], None) for k in range(g)]
    y, out = history[-1], []
    for _ in range(horizon):
        xs = [step(ws[k], xs[k], y[wins[k]], None) for k in range(g)]
        y = np.concatenate([readouts[k] @ feature(xs[k], y[wins[k]], True, True, squares) for k in range(g)])
        out.append(y)
    return np.array(readouts), np.array(out)


def test_one_group_is_the_plain_esn(field):
    s = field[:400]
    p = ek.ParallelESN(1, 0, **KW).fit(s)
    e = ek.ESN(**KW).fit(s[:-1], s[1:])
    for name in ("W_values", "W_in", "bias", "leak"):
        assert torch.equal(getattr(p.reservoir_, name), getattr(e.reservoir_, name))
    np.testing.assert_allclose(p.group_weights_[0], e.readout_.weight, rtol=0, atol=1e-12)
    # the same equations; the input products are summed in another order (per group, not in the loop)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ek.OutputRangeWarning)  # this small model's free run leaves the range
        np.testing.assert_allclose(p.forecast(field[300:400], 60), e.forecast(field[300:400], 60), rtol=1e-9,
                                   atol=1e-12)
        np.testing.assert_allclose(p.predict(field[400:450]), e.predict(field[400:450]), rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(p.generate(30), e.generate(30), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("groups,overlap,shared", [(2, 0, False), (2, 2, False), (4, 1, False), (4, 3, False),
                                                    (4, 1, True), (2, 2, True)])
def test_groups_match_numpy_reference(field, groups, overlap, shared):
    s, history = field[:400], field[400:460]
    p = ek.ParallelESN(groups, overlap, shared, **KW).fit(s)
    W_ref, f_ref = reference(p, s, history, 25, KW["ridge"], KW["washout"])
    np.testing.assert_allclose(p.group_weights_.numpy(), W_ref, rtol=1e-7, atol=1e-7)
    f = p.forecast(history, 25)
    assert f.shape == (25, 8)
    np.testing.assert_allclose(f, f_ref, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("features,squares", [("squared", "half"), ("quadratic", "all")])
@pytest.mark.parametrize("groups,overlap,shared", [(4, 1, False), (2, 2, True)])
def test_squared_readouts_match_numpy_reference_and_files(field, tmp_path, features, squares, groups, overlap, shared):
    s, history = field[:400], field[400:460]
    p = ek.ParallelESN(groups, overlap, shared, features=features, **{**KW, "reservoir_size": 21}).fit(s)
    W_ref, f_ref = reference(p, s, history, 25, KW["ridge"], KW["washout"], squares)
    np.testing.assert_allclose(p.group_weights_.numpy(), W_ref, rtol=1e-7, atol=1e-7)
    f = p.forecast(history, 25)
    np.testing.assert_allclose(f, f_ref, rtol=1e-6, atol=1e-6)
    p.save(tmp_path / "m")
    np.testing.assert_array_equal(ek.load(tmp_path / "m").forecast(history, 25), f)


def test_shared_and_independent_groups(field):
    s = field[:300]
    shared = ek.ParallelESN(4, 1, True, **KW).fit(s)
    indep = ek.ParallelESN(4, 1, False, **KW).fit(s)
    N = KW["reservoir_size"]
    wins = windows(8, 4, 1)
    W_in = shared.reservoir_.W_in
    assert W_in.shape == (4 * N, len(wins[0]))
    for k in range(1, 4):  # one reservoir, one readout: the same weights on every window
        assert torch.equal(W_in[k * N:(k + 1) * N], W_in[:N])
        assert torch.equal(shared.group_weights_[k], shared.group_weights_[0])
        assert not torch.equal(indep.group_weights_[k], indep.group_weights_[0])
    assert not torch.equal(indep.reservoir_.W_in[N:2 * N], indep.reservoir_.W_in[:N])
    # group 0 of the independent model is the reservoir the shared model draws for every group
    assert torch.equal(indep.reservoir_.W_in[:N], shared.reservoir_.W_in[:N])


def test_same_seed_same_bits_and_batches(field):
    a = ek.ParallelESN(2, 1, **KW).fit(field[:300])
    b = ek.ParallelESN(2, 1, **KW).fit(field[:300])
    assert torch.equal(a.group_weights_, b.group_weights_)
    both = a.forecast(np.stack([field[300:360], field[400:460]]), 20)
    assert both.shape == (2, 20, 8)
    np.testing.assert_array_equal(both[1], a.forecast(field[400:460], 20))
    ragged = a.forecast([field[300:360], field[400:430]], 20)  # histories of different lengths
    np.testing.assert_array_equal(ragged[1], a.forecast(field[400:430], 20))
    c = ek.ParallelESN(2, 1, **KW).fit([field[:300], field[350:500]])  # a list of fields: one pass
    assert c.state_x.shape == (2, 2 * KW["reservoir_size"])
    assert c.generate(5).shape == (2, 5, 8)


def test_scale_is_one_affine_map_of_the_field(field):
    kw = {**KW, "scale": True}
    a = ek.ParallelESN(4, 1, **kw).fit(field[:300])
    b = ek.ParallelESN(4, 1, **kw).fit(10 * field[:300] + 3)
    np.testing.assert_allclose(b.forecast(10 * field[400:460] + 3, 30), 10 * a.forecast(field[400:460], 30) + 3,
                               rtol=1e-8, atol=1e-8)
    assert torch.all(a.input_mean_ == a.input_mean_[0])  # one mean for the field: translation symmetric


@pytest.mark.parametrize("shared,scale", [(False, False), (True, True)])
def test_save_load_round_trip(field, tmp_path, shared, scale):
    p = ek.ParallelESN(4, 2, shared, **{**KW, "scale": scale}).fit(field[:300])
    path = tmp_path / "p.esnkit"
    p.save(path)
    q = ek.load(path)
    assert isinstance(q, ek.ParallelESN) and q.get_params() == p.get_params()
    np.testing.assert_array_equal(q.forecast(field[400:460], 50), p.forecast(field[400:460], 50))
    np.testing.assert_array_equal(q.generate(10), p.generate(10))
    assert torch.equal(q.group_weights_, p.group_weights_)
    other = ek.ParallelESN(2, 2, shared, **{**KW, "scale": scale})
    with pytest.raises(ValueError, match="groups"):
        other.load_state_dict(p.state_dict())


def test_estimator_protocol_and_to(field):
    p = ek.ParallelESN(2, 1, **KW)
    assert p.get_params()["groups"] == 2 and p.set_params(overlap=2) is p and p.overlap == 2
    c = p.clone()
    assert c.get_params() == p.get_params() and not c.is_fitted
    p.fit(field[:300])
    f64 = p.forecast(field[400:460], 10)
    p.to(torch.float32)
    assert p.group_weights_.dtype == torch.float32 and p.dtype == torch.float32
    np.testing.assert_allclose(p.forecast(field[400:460], 10), f64, rtol=1e-3, atol=1e-3)


def test_bad_inputs(field):
    with pytest.raises(ValueError, match="does not divide"):
        ek.ParallelESN(3, **KW).fit(field[:300])
    with pytest.raises(ValueError, match="overlap"):
        ek.ParallelESN(2, -1, **KW)
    with pytest.raises(ValueError, match="overlap may be at most 2"):
        ek.ParallelESN(2, 3, **KW).fit(field[:300])
    with pytest.raises(ValueError, match="groups"):
        ek.ParallelESN(0, **KW)
    with pytest.raises(TypeError, match="shared"):
        ek.ParallelESN(2, 1, "yes", **KW)
    with pytest.raises(ValueError, match="spectral_radius"):
        ek.ParallelESN(2, 1, **{**KW, "spectral_radius": -1})
    with pytest.raises(ValueError, match="washout"):
        ek.ParallelESN(2, 1, **KW).fit(field[:5])
    with pytest.raises(ek.NotFittedError):
        ek.ParallelESN(2, 1, **KW).forecast(field[:50], 5)
    p = ek.ParallelESN(2, 1, **KW).fit(field[:300])
    with pytest.raises(ValueError, match="8"):
        p.forecast(field[:50, :6], 5)
    with pytest.raises(ValueError, match="horizon"):
        p.forecast(field[:50], 0)
    with pytest.raises(ValueError, match="NaN|finite"):
        ek.ParallelESN(2, 1, **KW).fit(np.where(np.arange(300)[:, None] == 7, np.nan, field[:300]))
    with pytest.raises(TypeError, match="scheduler"):
        ek.ParallelESN(2, 1, **KW).fit(field[:300], scheduler=3)


@pytest.mark.parametrize("groups,block", [(4, 8), (8, 3)])
def test_dask_fit_is_bit_identical(field, monkeypatch, groups, block):
    # (8, 3): several training tasks, so shared groups' normal equations add up block by block in one order
    distributed = pytest.importorskip("distributed")
    from esnkit.models import parallel_esn

    monkeypatch.setattr(parallel_esn, "BLOCK", block)
    assert parallel_esn.blocks(8) == ([[0, 1, 2], [3, 4, 5], [6, 7]] if block == 3 else [list(range(8))])
    s = field[:300]
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        for shared in (False, True):
            here = ek.ParallelESN(groups, 1, shared, **KW).fit(s)
            there = ek.ParallelESN(groups, 1, shared, **KW).fit(s, scheduler=client)
            assert torch.equal(there.group_weights_, here.group_weights_)
            assert torch.equal(there.state_x, here.state_x)
            np.testing.assert_array_equal(there.forecast(field[400:460], 30), here.forecast(field[400:460], 30))
    W_ref, _ = reference(here, s, field[400:420], 1, KW["ridge"], KW["washout"])
    np.testing.assert_allclose(here.group_weights_.numpy(), W_ref, rtol=1e-7, atol=1e-7)


def test_predict_carries_the_state_and_takes_ragged_fields(field):
    p = ek.ParallelESN(4, 1, **KW).fit(field[:300])
    a = p.clone().fit(field[:300])
    whole = a.predict(field[300:360])
    p.predict(field[300:330])
    np.testing.assert_allclose(p.predict(field[330:360]), whole[30:], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(p.generate(5), a.generate(5), rtol=1e-12, atol=1e-12)
    p.reset()
    out = p.predict([field[300:360], field[400:430]])  # from zeros, one pass
    assert [o.shape for o in out] == [(60, 8), (30, 8)]
    np.testing.assert_allclose(out[1], p.forward(field[400:430]), rtol=1e-12, atol=1e-12)
    assert p.state_x.shape == (2, 4 * KW["reservoir_size"])
    with pytest.raises(ValueError, match="carries the states of 2 sequences"):
        p.predict(np.stack([field[:20]] * 3))
    with pytest.raises(ValueError, match="carries no state"):
        p.reset().generate(3)


def test_corrupted_state_dicts_are_refused(field):
    p = ek.ParallelESN(4, 1, True, **KW).fit(field[:300])
    good = p.state_dict()

    def load(**change):
        sd = {**good, **change}
        ek.ParallelESN(4, 1, True, **KW).load_state_dict(sd)

    load()  # the untouched one loads
    extra = good["_extra_state"]
    with pytest.raises(ValueError, match="layout"):
        load(_extra_state={k: v for k, v in extra.items() if k != "layout"})
    with pytest.raises(ValueError, match="field_size"):
        load(_extra_state={**extra, "field_size": 0})
    with pytest.raises(ValueError, match="does not divide"):
        load(_extra_state={**extra, "field_size": 10})
    with pytest.raises(ValueError, match="group_weights_ has shape"):
        load(group_weights_=good["group_weights_"][:, :, :-1])
    with pytest.raises(ValueError, match="reservoir_.W_in has shape"):
        load(**{"reservoir_.W_in": good["reservoir_.W_in"][:, :3]})
    with pytest.raises(ValueError, match="finite"):
        load(group_weights_=torch.full_like(good["group_weights_"], float("nan")))
    with pytest.raises(ValueError, match="float32 or all float64"):
        load(state_y=good["state_y"].float())
    with pytest.raises(ValueError, match="int64"):
        load(**{"reservoir_.W_col": good["reservoir_.W_col"].int()})
    with pytest.raises(ValueError, match="missing"):
        ek.ParallelESN(4, 1, True, **KW).load_state_dict({k: v for k, v in good.items() if k != "group_weights_"})
    bad_col = good["reservoir_.W_col"].clone()
    bad_col[0] = 10**6
    with pytest.raises(ValueError):
        load(**{"reservoir_.W_col": bad_col})


def test_shared_groups_without_a_seed_share_one_reservoir_across_blocks(field):
    p = ek.ParallelESN(8, 0, True, **{**KW, "seed": None, "reservoir_size": 10})
    from esnkit.models import parallel_esn

    assert len(parallel_esn.blocks(8)) == 1  # the default block holds 8 groups: use smaller blocks
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(parallel_esn, "BLOCK", 3)
        p.fit(field[:300])
    W = p.reservoir_.W_in.view(8, 10, -1)
    assert all(torch.equal(W[0], W[k]) for k in range(8)) and p.seed is None


def test_set_params_of_dtype_or_activation_after_fit_keeps_the_fitted_model_and_file(field, tmp_path):
    p = ek.ParallelESN(4, 1, **KW).fit(field[:300])
    f = p.forecast(field[400:460], 10)
    p.set_params(dtype="float32", activation="identity")
    np.testing.assert_array_equal(p.forecast(field[400:460], 10), f)
    assert p.predict(field[:10]).dtype == np.float64
    p.save(tmp_path / "m")
    loaded = ek.load(tmp_path / "m")
    assert ek.params.torch_dtype(loaded.dtype) == torch.float64 and loaded.activation == "tanh"
    np.testing.assert_array_equal(loaded.forecast(field[400:460], 10), f)
    p.fit(field[:300])  # the next fit takes the new parameters
    assert p.group_weights_.dtype == torch.float32 and p.reservoir_.activation == "identity"


@pytest.mark.parametrize("make", [lambda: ek.ParallelESN(4, 1, **KW), lambda: ek.ESN(**KW)])
def test_loading_an_unfitted_state_dict_unfits_the_model(field, make):
    m = make()
    m.fit(field[:300]) if isinstance(m, ek.ParallelESN) else m.fit(field[:299], field[1:300])
    m.load_state_dict(make().state_dict())
    assert not m.is_fitted and m.target_range_ is None
    with pytest.raises(ek.NotFittedError):
        m.forecast(field[:50], 3)


def test_a_file_that_links_groups_or_names_other_features_is_refused(field):
    p = ek.ParallelESN(4, 1, **KW).fit(field[:300])
    good = p.state_dict()
    col = good["reservoir_.W_col"].clone()
    col[0] = (col[0] + KW["reservoir_size"]) % (4 * KW["reservoir_size"])  # row 0 reads group 1
    with pytest.raises(ValueError, match="block-diagonal"):
        ek.ParallelESN(4, 1, **KW).load_state_dict({**good, "reservoir_.W_col": col})
    with pytest.raises(ValueError, match="features"):
        ek.ParallelESN(4, 1, **KW).load_state_dict({**good, "_extra_state": {**good["_extra_state"],
                                                                             "features": "squared"}})


def test_scheduler_names_that_are_no_address_are_refused_by_name(field):
    pytest.importorskip("distributed")
    with pytest.raises(ValueError, match="scheduler must be 'local' or a Dask scheduler address"):
        ek.ParallelESN(2, 1, **KW).fit(field[:300], scheduler="nonsense")


def test_doc_python_blocks_run():
    from test_docs import run_python_blocks

    assert run_python_blocks("docs/parallel_esn.md") == 1


def test_doc_quotes_the_committed_benchmark_run():
    import json
    import pathlib

    root = pathlib.Path(__file__).resolve().parents[1]
    doc = (root / "docs/parallel_esn.md").read_text()
    for name in ("spatiotemporal.json", "spatiotemporal_l200.json", "spatiotemporal_cost.json"):
        results = json.loads((root / "benchmarks/results" / name).read_text())
        for row in results.get("rows", []):  # the closed loop's cost
            assert f"| {row['N']} | {row['ms_per_step']:.2f} | {row['block_madds'] / 1e6:.2f} M | " \
                   f"{row['dense_madds'] / 1e6:.1f} M |" in doc
        for system in results.get("systems", []):
            for row in system["rows"]:
                seeds = ", ".join(f"{m:.2f}" for m in row["seed_medians"])
                quoted = f"| {row['model']} | {row['median']:.2f} ({row['q25']:.2f}–{row['q75']:.2f}) | {seeds} | " \
                         f"{row['fit_seconds']:.1f} s |"
                assert quoted in doc, quoted
    assert "COST_SENTENCE" not in doc


@pytest.mark.parametrize("features", ["delays:1", "squared+delays:1", "cubes", 3])
def test_group_readouts_are_the_state_block_maps_only(features):
    with pytest.raises(ValueError, match="features must be one of"):
        ek.ParallelESN(2, 1, features=features)


def test_set_params_features_after_fit_keeps_the_file_of_the_fitted_readout(field, tmp_path):
    p = ek.ParallelESN(4, 2, features="squared", **KW).fit(field[:400])
    f = p.forecast(field[400:460], 10)
    p.set_params(features="quadratic", groups=2, overlap=1, shared=True, reservoir_size=7)
    np.testing.assert_array_equal(p.forecast(field[400:460], 10), f)
    p.save(tmp_path / "m")
    loaded = ek.load(tmp_path / "m")
    assert (loaded.features, loaded.groups, loaded.overlap, loaded.shared, loaded.reservoir_size) == \
        ("squared", 4, 2, False, KW["reservoir_size"])
    np.testing.assert_array_equal(loaded.forecast(field[400:460], 10), f)
