"""The reservoir initialisers: structure, spectral radius, seeding, user matrices, saving and search."""

import numpy as np
import pytest
import scipy.sparse as sp
import torch

import esnkit as ek
from esnkit.reservoir import INITIALIZERS, CycleJumps, Reservoir, delay_line, orthogonal, register_initializer

U = np.sin(0.3 * np.arange(400)) + 0.1 * np.cos(1.7 * np.arange(400))


def W_of(model: ek.ESN) -> np.ndarray:
    return model.reservoir_.scipy_recurrent().toarray()


def fitted(n: int = 40, **kw) -> ek.ESN:
    kw.setdefault("seed", 3)
    return ek.ESN(n, washout=30, **kw).fit(U[:-1], U[1:])


def radius(W: np.ndarray) -> float:
    return float(np.abs(np.linalg.eigvals(W)).max())


def test_delay_line_is_a_shift_register_whose_links_carry_the_spectral_radius():
    D = delay_line(6).toarray()
    assert np.array_equal(D, np.eye(6, k=-1))
    W = W_of(fitted(initializer="delay_line", spectral_radius=0.7))
    assert np.array_equal(W, 0.7 * np.eye(40, k=-1))
    assert radius(W) == 0.0


def test_cycle_with_jumps_pattern():
    W = CycleJumps(jump=3, cycle_weight=1.0, jump_weight=0.5)(12).toarray()
    expected = np.zeros((12, 12))
    expected[(np.arange(12) + 1) % 12, np.arange(12)] = 1.0  # the unidirectional cycle
    for a in (0, 3, 6, 9):  # jumps 0-3, 3-6, 6-9 and, as 3 divides 12, 9-0; both ways
        b = (a + 3) % 12
        expected[a, b] = expected[b, a] = 0.5
    assert np.array_equal(W, expected)
    W = CycleJumps(jump=3, jump_weight=0.5)(11).toarray()  # 3 does not divide 11: jumps 0-3, 3-6, 6-9, none back to 0
    assert W[9, 0] == 0 and W[0, 9] == 0 and W[6, 9] == W[9, 6] == 0.5
    assert np.count_nonzero(W) == 11 + 2 * 3
    assert np.array_equal(CycleJumps(jump_weight=0)(8).toarray(), np.roll(np.eye(8), 1, axis=0))


def test_orthogonal_is_orthogonal_before_scaling_and_seeded():
    Q = orthogonal(30, np.random.default_rng(0)).toarray()
    assert np.allclose(Q.T @ Q, np.eye(30), atol=1e-12)
    assert np.array_equal(Q, orthogonal(30, np.random.default_rng(0)).toarray())
    W = W_of(fitted(initializer="orthogonal", spectral_radius=0.8))
    assert np.allclose(W.T @ W, 0.64 * np.eye(40), atol=1e-12)


@pytest.mark.parametrize("init", ["random", "cycle_jumps", "orthogonal", CycleJumps(jump=5, jump_weight=-0.3)])
@pytest.mark.parametrize("rho", [0.5, 0.95, 1.3])
def test_spectral_radius_is_the_one_asked_for(init, rho):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        W = W_of(fitted(initializer=init, spectral_radius=rho))
    assert abs(radius(W) - rho) <= 1e-10


@pytest.mark.parametrize("init", ["random", "cycle_jumps", "delay_line", "orthogonal"])
def test_same_seed_same_weights(init):
    a, b = fitted(initializer=init, seed=5), fitted(initializer=init, seed=5)
    for k, t in a.reservoir_.state_dict().items():
        assert torch.equal(t, b.reservoir_.state_dict()[k]), k
    np.testing.assert_array_equal(a.predict(U), b.predict(U))


def test_random_initializer_is_todays_reservoir():
    named = Reservoir.random(50, 1, spectral_radius=0.9, initializer="random", seed=11)
    plain = Reservoir.random(50, 1, spectral_radius=0.9, seed=11)
    assert torch.equal(named.W_values, plain.W_values) and torch.equal(named.W_col, plain.W_col)


def test_user_matrix_dense_scipy_and_torch_give_one_reservoir():
    M = np.random.default_rng(1).standard_normal((40, 40)) * (np.random.default_rng(2).random((40, 40)) < 0.2)
    forms = [M, sp.csr_matrix(M), sp.coo_matrix(M), torch.tensor(M), torch.tensor(M).to_sparse(),
             torch.tensor(M).to_sparse_csr()]
    models = [fitted(initializer=m, spectral_radius=0.9) for m in forms]
    for m in models[1:]:
        assert torch.equal(m.reservoir_.W_values, models[0].reservoir_.W_values)
        assert torch.equal(m.reservoir_.W_col, models[0].reservoir_.W_col)
    W = W_of(models[0])
    np.testing.assert_allclose(W, M * (0.9 / radius(M)), rtol=1e-13)
    assert abs(radius(W) - 0.9) <= 1e-10
    assert abs(models[0].spectral_radius_() - 0.9) <= 1e-10 and models[0].effective_spectral_radius() > 0
    assert "initializer=<matrix>" in repr(models[0])


@pytest.mark.parametrize("bad, message", [
    (np.ones((3, 4)), "shape"),
    (np.ones((30, 30)), "shape"),
    (np.zeros((40, 40)), "all zeros"),
    (np.full((40, 40), np.nan), "NaN or infinite"),
    (np.eye(40, k=1), "nilpotent"),
    ("cycle", "initializer must be one of"),
    (np.array(["a"] * 4).reshape(2, 2), "initializer"),
])
def test_bad_initializers_are_refused(bad, message):
    with pytest.raises(ValueError, match="initializer") as info:
        fitted(initializer=bad)
    assert message in str(info.value)


def test_connectivity_belongs_to_the_random_initializer():
    with pytest.raises(ValueError, match="connectivity and in_degree"):
        ek.ESN(40, initializer="orthogonal", connectivity=0.2)
    with pytest.raises(ValueError, match="jump"):
        CycleJumps(jump=1)


def test_registered_initializer():
    def ring(size, rng):
        return sp.csr_matrix(np.roll(np.eye(size), 1, axis=0) * rng.uniform(0.5, 1.0, size)[:, None])

    register_initializer("test_ring", ring)
    assert INITIALIZERS["test_ring"] is ring
    W = W_of(fitted(initializer="test_ring", spectral_radius=0.6))
    assert np.count_nonzero(W) == 40 and abs(radius(W) - 0.6) <= 1e-10
    with pytest.raises(ValueError, match="built-in"):
        register_initializer("random", ring)


@pytest.mark.parametrize("init", ["random", "cycle_jumps", "delay_line", "orthogonal", "matrix", "object"])
def test_save_and_load(tmp_path, init):
    value = {"matrix": np.random.default_rng(4).standard_normal((40, 40)), "object": CycleJumps(jump=4)}.get(init, init)
    model = fitted(initializer=value)
    path = tmp_path / "m.esn"
    model.save(path)
    back = ek.load(path)
    np.testing.assert_array_equal(back.predict(U), model.predict(U))
    custom = init in ("matrix", "object")
    assert (not isinstance(back.initializer, str)) if custom else back.initializer == init
    if custom:  # the saved W, rescaled again on a refit: the same reservoir up to rounding
        refit = back.clone().fit(U[:-1], U[1:])
        np.testing.assert_allclose(W_of(refit), W_of(model), rtol=1e-13, atol=1e-15)
    assert model is not None and model.initializer is value  # saving leaves the parameter as it was


def test_search_over_initializer_names():
    r = ek.search(U, space={"initializer": {"choices": ["random", "orthogonal", "cycle_jumps"]},
                            "spectral_radius": (0.5, 1.0)},
                  fixed={"reservoir_size": 30, "washout": 20, "seed": 0}, n_trials=4, batch_size=2, progress=False)
    assert r.best_params["initializer"] in ("random", "orthogonal", "cycle_jumps")
    assert r.best_esn.initializer == r.best_params["initializer"]
    assert {row["initializer"] for row in r.table} <= {"random", "orthogonal", "cycle_jumps"}


def test_doc_example_runs_and_quotes_the_committed_run(tmp_path, monkeypatch):
    import pathlib
    import re

    root = pathlib.Path(__file__).resolve().parents[1]
    text = (root / "docs" / "initializers.md").read_text()
    monkeypatch.chdir(tmp_path)
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert len(blocks) == 1
    exec(compile(blocks[0], "docs/initializers.md", "exec"), {})  # noqa: S102 - our own docs
    written = (root / "benchmarks" / "results" / "initializers.md").read_text()
    rows = [line for line in text.split("## Benchmark", 1)[1].splitlines() if line.startswith("| ")]
    assert len(rows) == 22
    for row in rows:
        assert row in written, f"docs/initializers.md quotes a row the run did not write: {row}"


@pytest.mark.parametrize("init", ["orthogonal", "cycle_jumps", "delay_line"])
def test_echo_state_check_of_structured_reservoirs(init):
    # above 200 neurons, where ARPACK would take minutes on eigenvalues crowding a circle
    with pytest.warns(ek.EchoStatePropertyWarning) if init != "delay_line" else _no_warning():
        model = fitted(250, initializer=init, spectral_radius=1.1, leak_rate=0.5)
    a = 0.5
    M = (1 - a) * np.eye(250) + a * W_of(model)
    expected = 0.5 if init == "delay_line" else radius(M)
    assert abs(model.effective_spectral_radius() - expected) <= 1e-10
    assert model.spectral_radius_() == (0.0 if init == "delay_line" else pytest.approx(1.1, abs=1e-10))


def _no_warning():
    import contextlib
    import warnings

    @contextlib.contextmanager
    def block():
        with warnings.catch_warnings():
            warnings.simplefilter("error", ek.EchoStatePropertyWarning)
            yield

    return block()
