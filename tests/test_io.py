"""Save/load: bit-identical round trips, no code execution, clear errors for bad files."""

import json

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

import esnkit as ek

rng = np.random.default_rng(0)


@pytest.mark.parametrize("kw", [dict(), dict(feedback_scaling=0.3, leak_rate=0.4), dict(dtype="float32"),
                                dict(leak_rate=np.linspace(0.2, 1, 80).tolist(), input_scaling=[0.5])])
def test_round_trip_is_bit_identical(tmp_path, kw):
    s = ek.datasets.mackey_glass(600)
    esn = ek.ESN(80, seed=1, washout=20, **kw).fit(s[:400], s[1:401])
    path = tmp_path / "m.esnkit"
    esn.save(path)
    back = ek.load(path)
    for k, v in esn.state_dict().items():
        assert torch.equal(v, back.state_dict()[k]) if isinstance(v, torch.Tensor) else v == back.state_dict()[k], k
    assert np.array_equal(back.predict(s[401:500]), esn.predict(s[401:500]))
    assert np.array_equal(back.generate(100), esn.generate(100))
    assert back.get_params()["seed"] == 1 and back.readout_.weight.dtype == esn.readout_.weight.dtype


def test_file_is_safetensors_with_versioned_json(tmp_path):
    from safetensors import safe_open

    esn = ek.ESN(30, seed=0).fit(rng.normal(size=50), rng.normal(size=50))
    ek.save(esn, tmp_path / "m.esnkit")
    with safe_open(tmp_path / "m.esnkit", framework="pt") as f:
        config = json.loads(f.metadata()["esnkit"])
    assert config["format_version"] == 2 and config["model"] == "ESN" and config["params"]["reservoir_size"] == 30


def test_custom_activation_must_be_passed_back(tmp_path):
    def softsign(z):
        return z / (1 + z.abs())

    esn = ek.ESN(30, activation=softsign, seed=0).fit(rng.normal(size=50), rng.normal(size=50))
    esn.save(tmp_path / "m.esnkit")
    with pytest.raises(ValueError, match="custom activation.*softsign"):
        ek.load(tmp_path / "m.esnkit")
    back = ek.load(tmp_path / "m.esnkit", activation=softsign)
    u = rng.normal(size=20)
    assert np.array_equal(back.predict(u), esn.predict(u))


def test_damaged_foreign_newer_and_missing_files(tmp_path):
    esn = ek.ESN(30, seed=0).fit(rng.normal(size=50), rng.normal(size=50))
    good = tmp_path / "m.esnkit"
    esn.save(good)
    raw = good.read_bytes()
    (tmp_path / "cut.esnkit").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ValueError, match="not a readable esnkit model"):
        ek.load(tmp_path / "cut.esnkit")
    (tmp_path / "junk.esnkit").write_bytes(b"\x00" * 100)
    with pytest.raises(ValueError, match="not a readable esnkit model"):
        ek.load(tmp_path / "junk.esnkit")
    save_file({"w": torch.zeros(3)}, tmp_path / "other.safetensors")
    with pytest.raises(ValueError, match="not an esnkit model"):
        ek.load(tmp_path / "other.safetensors")
    tensors = {"reservoir.bias": torch.zeros(3)}
    meta = {"esnkit": json.dumps({"format": "esnkit", "format_version": 99, "params": {}})}
    save_file(tensors, tmp_path / "new.esnkit", metadata=meta)
    with pytest.raises(ValueError, match="newer esnkit"):
        ek.load(tmp_path / "new.esnkit")
    with pytest.raises(FileNotFoundError):
        ek.load(tmp_path / "absent.esnkit")


def test_failed_save_keeps_existing_file(tmp_path, monkeypatch):
    esn = ek.ESN(30, seed=0).fit(rng.normal(size=50), rng.normal(size=50))
    path = tmp_path / "m.esnkit"
    esn.save(path)
    before = path.read_bytes()

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr("esnkit.io.save_file", boom)
    with pytest.raises(OSError, match="disk full"):
        esn.save(path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.esnkit"]
