"""Save/load: bit-identical round trips, no code execution, clear errors for bad files."""

import errno
import json
import os
import stat

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

import esnkit as ek
from esnkit.models.reservoir_model import FORMAT_VERSION

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
        assert f.metadata()["esnkit.checksum"].startswith("sha256:")
    assert config["format_version"] == FORMAT_VERSION and config["model"] == "ESN"
    assert config["params"]["reservoir_size"] == 30


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


# ---------------------------------------------------------------- checksums and older formats

def _fitted(**kw):
    return ek.ESN(30, seed=0, **kw).fit(rng.normal(size=60), rng.normal(size=60))


def _raw(path):
    """The tensors and the config of an esnkit file, read with safetensors alone (no checks)."""
    from safetensors import safe_open

    with safe_open(path, framework="pt") as f:
        return {k: f.get_tensor(k) for k in f.keys()}, json.loads(f.metadata()["esnkit"])


def test_a_changed_byte_fails_the_checksum(tmp_path):
    esn = _fitted()
    path = tmp_path / "m.esnkit"
    esn.save(path)
    raw = bytearray(path.read_bytes())
    raw[-3] ^= 0x01  # the last tensor's data: the file still parses
    path.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match=r"m\.esnkit'? is damaged: checksum mismatch"):
        ek.load(path)


def test_files_of_format_2_and_1_without_a_checksum_still_load(tmp_path):
    esn = _fitted(feedback_scaling=0.2)
    esn.save(tmp_path / "m.esnkit")
    tensors, config = _raw(tmp_path / "m.esnkit")
    u = rng.normal(size=20)
    want = esn.predict(u)
    # format 2: the same tensors and config, no checksum
    save_file(tensors, tmp_path / "v2.esnkit", metadata={"esnkit": json.dumps({**config, "format_version": 2})})
    assert np.array_equal(ek.load(tmp_path / "v2.esnkit").predict(u), want)
    # format 1: other tensor names, the extra state at the top level, no model name
    v1 = {k.replace("_.", ".", 1).replace("state_", "state."): v for k, v in tensors.items()}
    extra = config.pop("extra")
    old = {**config, "format_version": 1, **{k: extra[k] for k in ("input_size", "output_size", "readout_bias",
                                                                     "readout_input")}}
    del old["model"]
    save_file(v1, tmp_path / "v1.esnkit", metadata={"esnkit": json.dumps(old)})
    assert np.array_equal(ek.load(tmp_path / "v1.esnkit").predict(u), want)
    # format 3 and later always carry one
    save_file(tensors, tmp_path / "v3.esnkit", metadata={"esnkit": json.dumps({**config, "extra": extra})})
    with pytest.raises(ValueError, match=f"v3.esnkit'? is damaged: format version {FORMAT_VERSION} files carry a "
                                         "checksum"):
        ek.load(tmp_path / "v3.esnkit")


# ---------------------------------------------------------------- saving: mode, atomicity, clear errors

@pytest.mark.parametrize("umask", [0o022, 0o077])
def test_a_saved_file_has_the_usual_mode(tmp_path, umask):
    esn = _fitted()
    old = os.umask(umask)
    try:
        esn.save(tmp_path / "m.esnkit")
        esn.save(tmp_path / "m.esnkit")  # replacing a file gives the same
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "m.esnkit").stat().st_mode) == 0o666 & ~umask


def test_saving_where_no_file_can_be_raises_oserror_naming_the_path(tmp_path):
    esn = _fitted()
    with pytest.raises(FileNotFoundError, match=r"cannot save the model to .*nowhere.*there is no directory"):
        esn.save(tmp_path / "nowhere" / "m.esnkit")
    with pytest.raises(IsADirectoryError, match=r"cannot save the model to .*: it is a directory"):
        esn.save(tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_saving_into_a_read_only_directory_raises_oserror_naming_the_path(tmp_path, monkeypatch):
    esn = _fitted()
    esn.save(tmp_path / "m.esnkit")
    before = (tmp_path / "m.esnkit").read_bytes()
    real_open = os.open

    def read_only(path, flags, *a, **k):  # what a read-only file system answers (root ignores a chmod)
        if flags & os.O_CREAT:
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), path)
        return real_open(path, flags, *a, **k)

    monkeypatch.setattr(os, "open", read_only)
    with pytest.raises(OSError, match=r"cannot save the model to .*m\.esnkit'?: Read-only file system") as e:
        esn.save(tmp_path / "m.esnkit")
    assert e.value.errno == errno.EROFS
    monkeypatch.undo()
    assert (tmp_path / "m.esnkit").read_bytes() == before and len(list(tmp_path.iterdir())) == 1


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0,
                    reason="root writes into read-only directories")
def test_saving_into_a_chmod_read_only_directory(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        with pytest.raises(PermissionError, match=r"cannot save the model to .*ro"):
            _fitted().save(folder / "m.esnkit")
    finally:
        folder.chmod(0o755)


def test_an_interrupted_save_leaves_no_temporary_file(tmp_path, monkeypatch):
    esn = _fitted()
    esn.save(tmp_path / "m.esnkit")
    before = (tmp_path / "m.esnkit").read_bytes()
    real = ek.io.save_file

    def interrupted(tensors, path, metadata):
        real(tensors, path, metadata)  # the temporary file is complete, the rename never comes
        raise KeyboardInterrupt

    monkeypatch.setattr("esnkit.io.save_file", interrupted)
    with pytest.raises(KeyboardInterrupt):
        _fitted(ridge=1.0).save(tmp_path / "m.esnkit")
    assert [p.name for p in tmp_path.iterdir()] == ["m.esnkit"] and (tmp_path / "m.esnkit").read_bytes() == before


# ---------------------------------------------------------------- loading: one clear error per kind of file

def test_each_unloadable_file_gives_one_clear_error(tmp_path):
    good = tmp_path / "m.esnkit"
    _fitted().save(good)
    with pytest.raises(FileNotFoundError, match=r"no model file at .*absent"):
        ek.load(tmp_path / "absent.esnkit")
    with pytest.raises(IsADirectoryError, match="is a directory, not an esnkit model file"):
        ek.load(tmp_path)
    (tmp_path / "empty.esnkit").write_bytes(b"")
    with pytest.raises(ValueError, match=r"empty\.esnkit'? is empty"):
        ek.load(tmp_path / "empty.esnkit")
    (tmp_path / "text.esnkit").write_text("W_in = [[1, 2], [3, 4]]\n" * 10)
    with pytest.raises(ValueError, match=r"text\.esnkit'? is not a readable esnkit model file"):
        ek.load(tmp_path / "text.esnkit")
    if hasattr(os, "mkfifo"):  # a pipe would block a reader forever
        os.mkfifo(tmp_path / "pipe.esnkit")
        with pytest.raises(ValueError, match=r"pipe\.esnkit'? is not a regular file"):
            ek.load(tmp_path / "pipe.esnkit")
    save_file({"w": torch.zeros(3)}, tmp_path / "other.safetensors", metadata={"format": "pt"})
    with pytest.raises(ValueError, match=r"other\.safetensors'? is a safetensors file but not an esnkit model"):
        ek.load(tmp_path / "other.safetensors")
    for device, why in (("gpu", "not a valid torch device"), ("cuda:99", "CUDA"), ("meta", "cannot run a reservoir")):
        with pytest.raises(ValueError, match=f"device.*{why}"):
            ek.load(good, device=device)


def test_a_newer_file_says_so_even_with_a_checksum_this_version_cannot_verify(tmp_path):
    tensors, config = _raw(_saved(tmp_path))
    text = json.dumps({**config, "format_version": FORMAT_VERSION + 1})
    save_file(tensors, tmp_path / "new.esnkit", metadata={"esnkit": text, "esnkit.checksum": "sha512:00"})
    with pytest.raises(ValueError, match=rf"newer esnkit \(format version {FORMAT_VERSION + 1}; this one reads up to "
                                         rf"{FORMAT_VERSION}\)"):
        ek.load(tmp_path / "new.esnkit")


def _saved(tmp_path):
    path = tmp_path / "m.esnkit"
    _fitted().save(path)
    return path


def test_load_state_dict_converts_to_the_models_dtype():
    esn = _fitted()
    u = rng.normal(size=20)
    single = ek.ESN(30, seed=0, dtype="float32")
    single.load_state_dict(esn.state_dict())
    assert {t.dtype for t in single.state_dict().values() if isinstance(t, torch.Tensor) and t.is_floating_point()} \
        == {torch.float32}
    np.testing.assert_allclose(single.predict(u), esn.predict(u), rtol=0, atol=1e-4)


def test_a_file_describes_the_fitted_model_after_set_params_of_activation_or_dtype(tmp_path):
    x = np.sin(np.arange(600) * 0.1)[:, None]
    esn = ek.ESN(30, seed=0, washout=50).fit(x[:-1], x[1:])
    f = esn.forecast(x[:300], 20)
    esn.set_params(activation="identity", dtype="float32")  # for the next fit
    esn.save(tmp_path / "m")
    loaded = ek.load(tmp_path / "m")
    assert loaded.activation == "tanh" and ek.params.torch_dtype(loaded.dtype) == torch.float64
    np.testing.assert_array_equal(loaded.forecast(x[:300], 20), f)
