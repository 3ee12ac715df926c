"""Sequence classification sets: the bundled Japanese Vowels, the .ts reader, the sets read from
installed packages (located, never imported) and the restricted unpickler."""

from __future__ import annotations

import collections
import importlib.machinery
import importlib.util
import io
import pathlib
import pickle
import re
import shutil
import subprocess
import sys
import zipfile

import numpy as np
import pytest

import esnkit as ek
from esnkit import _sequence_data as sd
from esnkit import datasets as ds

ROOT = pathlib.Path(__file__).resolve().parents[1]
JV_TS = "datasets/data/JapaneseVowels/JapaneseVowels_{}.ts"
TS_PROVIDER = sd.package_file(("aeon", "sktime"), JV_TS.format("TRAIN"), JV_TS.format("TEST"))
HAS_BASIC_MOTIONS = sd.package_file(sd.BASIC_MOTIONS_PROVIDERS, f"{sd.BASIC_MOTIONS_DIR}/BasicMotions_TRAIN.ts",
                                    f"{sd.BASIC_MOTIONS_DIR}/BasicMotions_TEST.ts") is not None
HAS_SEGLEARN = sd.package_file(("seglearn",), sd.WATCH_FILE) is not None


# ------------------------------------------------------------------------------------ Japanese Vowels


@pytest.fixture(scope="module")
def vowels():
    return ds.japanese_vowels()


def test_japanese_vowels_sizes_lengths_and_classes(vowels):
    assert isinstance(vowels, ds.ClassificationData)
    assert len(vowels.X_train) == 270 and len(vowels.X_test) == 370
    for X, y in ((vowels.X_train, vowels.y_train), (vowels.X_test, vowels.y_test)):
        assert y.dtype == np.int64 and y.shape == (len(X),)
        for x in X:
            assert x.dtype == np.float64 and x.ndim == 2 and x.shape[1] == 12 and 7 <= len(x) <= 29
            assert np.isfinite(x).all()
    lengths = [len(x) for x in vowels.X_train + vowels.X_test]
    assert min(lengths) == 7 and max(lengths) == 29
    assert collections.Counter(vowels.y_train.tolist()) == {k: 30 for k in range(1, 10)}
    test_counts = [31, 35, 88, 44, 29, 24, 40, 50, 29]
    assert collections.Counter(vowels.y_test.tolist()) == dict(zip(range(1, 10), test_counts))


def test_japanese_vowels_is_the_same_on_every_call(vowels):
    again = ds.japanese_vowels()
    for a, b in ((vowels.X_train, again.X_train), (vowels.X_test, again.X_test)):
        assert len(a) == len(b) and all(np.array_equal(x, z) for x, z in zip(a, b))
        assert not any(np.shares_memory(x, z) for x, z in zip(a, b))  # fresh arrays: a caller may write
    assert np.array_equal(vowels.y_train, again.y_train) and np.array_equal(vowels.y_test, again.y_test)


@pytest.mark.skipif(TS_PROVIDER is None, reason="neither aeon nor sktime is installed")
def test_japanese_vowels_equals_the_ts_files(vowels):
    train = TS_PROVIDER[1]
    for path, X, y in ((train, vowels.X_train, vowels.y_train),
                       (train.with_name("JapaneseVowels_TEST.ts"), vowels.X_test, vowels.y_test)):
        series, labels = ds.read_ts(path)
        assert len(series) == len(X) and all(np.array_equal(a, b) for a, b in zip(series, X))
        assert labels.dtype == np.int64 and np.array_equal(labels, y)


def test_the_bundled_file_is_package_data():
    text = (ROOT / "pyproject.toml").read_text()
    assert '"data/japanese_vowels.npz"' in text and '"benchmarks/tuned.json"' in text
    assert (sd.DATA_DIR / "JAPANESE_VOWELS_LICENSE.txt").read_text().count("CC BY 4.0") >= 1
    with zipfile.ZipFile(sd.JAPANESE_VOWELS) as zf:  # plain .npy members: numeric arrays, no pickle
        for name in zf.namelist():
            header = zf.read(name)[:128]
            assert header.startswith(b"\x93NUMPY") and b"'O'" not in header and b"|O" not in header


def _write_npz(path, arrays):
    with zipfile.ZipFile(path, "w") as zf:
        for key, a in arrays.items():
            buf = io.BytesIO()
            np.lib.format.write_array(buf, a, allow_pickle=True)
            zf.writestr(f"{key}.npy", buf.getvalue())


def _bundled_arrays():
    with np.load(sd.JAPANESE_VOWELS, allow_pickle=False) as npz:
        return {k: npz[k] for k in npz.files}


def test_a_missing_bundled_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"missing; reinstall esnkit.*nothere\.npz"):
        sd.japanese_vowels(tmp_path / "nothere.npz")


@pytest.mark.parametrize("damage, message", [
    (lambda p, a: p.write_bytes(sd.JAPANESE_VOWELS.read_bytes()[:5000]), "not a readable zip file"),
    (lambda p, a: p.write_bytes(b"hello"), "not a readable zip file"),
    (lambda p, a: _write_npz(p, {**a, "train_labels": a["train_labels"].astype(float)}), "expected a C-order 1-d"),
    (lambda p, a: _write_npz(p, {**a, "train_labels": a["train_labels"].astype(object)}), "expected a C-order 1-d"),
    (lambda p, a: _write_npz(p, {k: v for k, v in a.items() if k != "test_values"}), "expected"),
    (lambda p, a: _write_npz(p, {**a, "train_lengths": a["train_lengths"] + 1}), "do not cut"),
    (lambda p, a: _write_npz(p, {**a, "test_labels": a["test_labels"] + 9}), "not all speakers"),
    (lambda p, a: _write_npz(p, {**a, "train_values": a["train_values"][:, :11].copy()}), "11 columns"),
    (lambda p, a: _write_npz(p, {**a, "train_values": np.where(a["train_values"] > 1, np.nan,
                                                               a["train_values"])}), "NaN"),
])
def test_a_damaged_bundled_file_is_named(tmp_path, damage, message):
    path = tmp_path / "jv.npz"
    damage(path, _bundled_arrays())
    with pytest.raises(ValueError, match=f"{re.escape(str(path))} is damaged.*{message}"):
        sd.japanese_vowels(path)


def test_a_member_whose_header_claims_more_than_its_bytes_is_refused_before_allocating(tmp_path):
    arrays = _bundled_arrays()
    path = tmp_path / "jv.npz"
    _write_npz(path, {k: v for k, v in arrays.items() if k != "train_values"})
    member = io.BytesIO()  # the real frames under a header that claims 10**12 rows
    np.lib.format.write_array_header_1_0(member, {"descr": "<f8", "fortran_order": False, "shape": (10**12, 12)})
    member.write(arrays["train_values"].tobytes())
    with zipfile.ZipFile(path, "a") as zf:
        zf.writestr("train_values.npy", member.getvalue())
    with pytest.raises(ValueError, match="does not match its"):
        sd.japanese_vowels(path)


def test_the_converted_file_is_what_the_converter_writes(tmp_path):
    # the converter's writer gives fixed bytes for given arrays (fixed zip dates), which the loader reads
    spec = importlib.util.spec_from_file_location("make_jv", ROOT / "benchmarks" / "data" / "make_japanese_vowels.py")
    make = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make)
    arrays = {k: v for k, v in _bundled_arrays().items()}
    make.write_npz(tmp_path / "a.npz", arrays)
    make.write_npz(tmp_path / "b.npz", arrays)
    assert (tmp_path / "a.npz").read_bytes() == (tmp_path / "b.npz").read_bytes()
    assert (tmp_path / "a.npz").read_bytes() == sd.JAPANESE_VOWELS.read_bytes()


# ------------------------------------------------------------------------------------------- read_ts

GOOD = """# a comment
@problemName Tiny
@timeStamps false
@missing false
@univariate false
@dimensions 2
@equalLength false
@classLabel true {labels}
@data
1.5,2,3e-2:4,5,-6:{a}
# a comment between cases
-0.25,1E3:7,8:{b}

"""


@pytest.mark.parametrize("labels, a, b, dtype", [("1 2 10", "10", "1", np.int64), ("up down", "down", "up", "<U4"),
                                                 ("1 x", "1", "x", "<U1")])
def test_read_ts_round_trip(tmp_path, labels, a, b, dtype):
    path = tmp_path / "tiny.ts"
    path.write_text(GOOD.format(labels=labels, a=a, b=b))
    X, y = ds.read_ts(path)
    assert len(X) == 2 and all(x.dtype == np.float64 and x.flags.c_contiguous for x in X)
    assert np.array_equal(X[0], [[1.5, 4], [2, 5], [0.03, -6]]) and np.array_equal(X[1], [[-0.25, 7], [1000, 8]])
    assert y.dtype == np.dtype(dtype) and y.tolist() == ([int(a), int(b)] if dtype == np.int64 else [a, b])
    assert np.array_equal(ds.read_ts(str(path))[1], y)  # str or PathLike


def test_read_ts_univariate_equal_length(tmp_path):
    path = tmp_path / "uni.ts"
    path.write_text("@univariate true\n@equalLength true\n@seriesLength 3\n@classLabel true a b\n@data\n"
                    "1,2,3:a\r\n4,5,6:b\r\n")
    X, y = ds.read_ts(path)
    assert [x.shape for x in X] == [(3, 1), (3, 1)] and y.tolist() == ["a", "b"]


HEAD = "@dimensions 2\n@classLabel true a b\n@data\n"


@pytest.mark.parametrize("text, message", [
    ("@classLabel true a b\n@dimensions 1\n", "has no @data line"),
    ("@classLabel true a b\n@data\n", "has no cases after its @data line"),
    (HEAD + "1,2:3,4:a\n1,2,3:4,5:b\n", r"line 5: the dimensions have different lengths \(3, 2\); ragged"),
    (HEAD + "1,2:3,4:c\n", r"line 4: class label 'c' is not one of @classLabel's \(a b\)"),
    (HEAD + "1,2:3,x:a\n", "line 4: dimension 2: 'x' is not a number"),
    (HEAD + "1,,2:3,4,5:a\n", "line 4: dimension 1: '' is not a number"),
    (HEAD + "1,?:3,4:a\n", r"line 4: dimension 1 has a missing value \('\?'\); missing values are not supported"),
    (HEAD + "1,nan:3,4:a\n", "line 4: dimension 1: 'nan' is not a finite number"),
    (HEAD + "1,2:a\n", "line 4: 1 dimension.s., but the file has 2"),
    (HEAD + "1,2,3,4:a\n", "line 4: 1 dimension"),
    (HEAD + "(0,1),(1,2):(0,3),(1,4):a\n", r"line 4: time-stamped values \(\(t,v\) pairs\) are not supported"),
    ("@timeStamps true\n" + HEAD + "(0,1):(0,3):a\n", r"line 1: time-stamped series .* are not supported"),
    ("@targetLabel true\n@data\n1,2:0.5\n", r"line 1: this is a regression file \(@targetLabel true\)"),
    ("@classLabel false\n@data\n1,2\n", "line 1: @classLabel false: the file has no class labels"),
    ("@dimensions 1\n@data\n1,2:a\n", "line 2: no @classLabel line before @data"),
    ("@classLabel true\n@data\n1,2:a\n", "line 1: @classLabel true lists no labels"),
    ("@classLabel maybe a\n@data\n1,2:a\n", "line 1: @classLabel must be followed by true"),
    ("@dimensions two\n@classLabel true a\n@data\n1:a\n", "line 1: @dimensions must be followed by a positive"),
    ("@univariate yes\n@classLabel true a\n@data\n1:a\n", "line 1: @univariate must be followed by true or false"),
    ("@univariate true\n@dimensions 3\n@classLabel true a\n@data\n1:a\n", "line 1: @univariate true but"),
    ("@equalLength true\n@seriesLength 3\n@classLabel true a\n@data\n1,2:a\n",
     "line 5: 2 values per dimension, but @seriesLength is 3"),
    ("@classLabel true a\n@classLabel true b\n@data\n1:a\n", r"line 2: @classLabel again \(first on line 1\)"),
    ("@classLabel true a\n1:a\n@data\n", "line 2: values before @data"),
    (HEAD + "1,2:3,4:a\n@data\n", "line 5: a header line after @data"),
    (HEAD + "1,2,3\n", "line 4: expected the values of each dimension separated by ':'"),
])
def test_read_ts_rejections_name_the_file_and_line(tmp_path, text, message):
    path = tmp_path / "bad.ts"
    path.write_text(text)
    with pytest.raises(ValueError, match=f"^{re.escape(str(path))}(, | ).*{message}"):
        ds.read_ts(path)


@pytest.mark.parametrize("content, error, message", [
    (b"", ValueError, "is empty, not a .ts file"),
    (b"@classLabel true a\n@data\n1,2\x00\x01:a\n", ValueError, "line 3: a NUL byte: this is a binary file"),
    (b"\x89PNG\r\n\x1a\n\xff\xfe\xfa", ValueError, "line 1: not UTF-8 text"),
])
def test_read_ts_rejects_files_that_are_not_ts(tmp_path, content, error, message):
    path = tmp_path / "file.ts"
    path.write_bytes(content)
    with pytest.raises(error, match=f"{re.escape(str(path))}.*{message}"):
        ds.read_ts(path)


def test_read_ts_rejects_a_directory_a_missing_file_and_a_non_path(tmp_path):
    with pytest.raises(IsADirectoryError, match=f"is a directory, not a .ts file: '{re.escape(str(tmp_path))}'"):
        ds.read_ts(tmp_path)
    with pytest.raises(FileNotFoundError, match="nothere.ts"):
        ds.read_ts(tmp_path / "nothere.ts")
    with pytest.raises(TypeError, match="path must be a file name"):
        ds.read_ts(5)


# ------------------------------------------------------------------------------ installed providers


def _spec_at(name, folder):
    spec = importlib.machinery.ModuleSpec(name, None, is_package=True)
    spec.submodule_search_locations.append(str(folder))
    return spec


@pytest.fixture
def providers(monkeypatch):
    """``providers({"seglearn": folder, "sktime": None})``: find_spec sees only these (None: absent)."""
    real = importlib.util.find_spec

    def install(table):
        def find_spec(name, package=None):
            if name in table:
                return None if table[name] is None else _spec_at(name, table[name])
            return real(name, package)

        monkeypatch.setattr(importlib.util, "find_spec", find_spec)

    return install


def test_no_provider_raises_missing_extra_error(providers, tmp_path):
    providers({"aeon": None, "sktime": None, "seglearn": None})
    with pytest.raises(ek.MissingExtraError, match=r'pip install "esnkit\[datasets\]", or pip install --no-deps '
                                                   "sktime") as info:
        ds.basic_motions()
    assert isinstance(info.value, ModuleNotFoundError) and info.value.name == "sktime"
    with pytest.raises(ek.MissingExtraError, match="pip install --no-deps seglearn"):
        ds.exercise_watch()
    providers({"aeon": tmp_path, "sktime": tmp_path, "seglearn": tmp_path})  # installed, but without the files
    with pytest.raises(ek.MissingExtraError, match="BasicMotions"):
        ds.basic_motions()
    with pytest.raises(ek.MissingExtraError, match="watch_dataset.npy"):
        ds.exercise_watch()


def test_loading_imports_no_data_package():
    code = ("import sys, esnkit as ek\n"
            "ek.datasets.japanese_vowels()\n"
            "for name in ('basic_motions', 'exercise_watch'):\n"
            "    try:\n"
            "        getattr(ek.datasets, name)()\n"
            "    except ek.MissingExtraError:\n"
            "        pass\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "{'pandas', 'sklearn', 'aeon', 'sktime', 'seglearn', 'pyts', 'torch'}))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={"PYTHONPATH": str(ROOT / "src"), "PATH": "/usr/bin:/bin"})
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


@pytest.mark.skipif(not HAS_BASIC_MOTIONS, reason="neither aeon nor sktime is installed")
def test_basic_motions():
    d = ds.basic_motions()
    assert len(d.X_train) == len(d.X_test) == 40
    assert all(x.shape == (100, 6) and x.dtype == np.float64 and np.isfinite(x).all() for x in d.X_train + d.X_test)
    classes = {"Standing", "Running", "Walking", "Badminton"}
    for y in (d.y_train, d.y_test):
        assert y.dtype.kind == "U" and collections.Counter(y.tolist()) == {c: 10 for c in classes}


@pytest.mark.skipif(not HAS_BASIC_MOTIONS, reason="neither aeon nor sktime is installed")
def test_a_basic_motions_file_of_other_shape_is_named(providers, tmp_path):
    folder = tmp_path / "datasets" / "data" / "BasicMotions"
    real = sd.package_file(sd.BASIC_MOTIONS_PROVIDERS, f"{sd.BASIC_MOTIONS_DIR}/BasicMotions_TRAIN.ts")[1]
    shutil.copytree(real.parent, folder)
    train = folder / "BasicMotions_TRAIN.ts"
    train.write_text("\n".join(train.read_text().splitlines()[:-1]) + "\n")  # one case less
    providers({"aeon": None, "sktime": tmp_path})
    with pytest.raises(ValueError, match=f"{re.escape(str(train))} is not the BasicMotions file.*39 cases"):
        ds.basic_motions()


@pytest.fixture(scope="module")
def watch():
    if not HAS_SEGLEARN:
        pytest.skip("seglearn is not installed")
    return ds.exercise_watch()


def test_exercise_watch_sizes_and_labels(watch):
    X = watch.X_train + watch.X_test
    assert len(watch.X_train) == 98 and len(watch.X_test) == 42
    assert all(x.dtype == np.float64 and x.ndim == 2 and x.shape[1] == 6 and np.isfinite(x).all() for x in X)
    assert min(map(len, X)) == 947 and max(map(len, X)) == 2618
    names = ["PEN", "ABD", "FEL", "IR", "ER", "TRAP", "ROW"]
    assert collections.Counter(watch.y_train.tolist()) == {c: 14 for c in names}
    assert collections.Counter(watch.y_test.tolist()) == {c: 6 for c in names}
    assert watch.y_train.dtype.kind == "U"


def test_exercise_watch_holds_out_whole_subjects(watch):
    path = sd.package_file(("seglearn",), sd.WATCH_FILE)[1]
    data = sd.read_pickled_npy(path)
    subject, y = data["subject"], data["y"]
    test = np.isin(subject, (3, 6, 9))
    assert set(subject[~test]).isdisjoint(subject[test])
    assert set(y[test]) == set(y[~test]) == set(range(7))
    # the parts are seglearn's recordings in their order, labelled by y_labels
    assert len(watch.X_test) == test.sum()
    assert all(np.array_equal(a, data["X"][i]) for a, i in zip(watch.X_test, np.flatnonzero(test)))
    assert watch.y_train.tolist() == [data["y_labels"][c] for c in y[~test]]
    other = ds.exercise_watch(test_subjects=[1, 10])
    assert len(other.X_train) == 112 and len(other.X_test) == 28
    assert ds.exercise_watch(test_subjects=np.array([3, 6, 9])).y_test.tolist() == watch.y_test.tolist()


@pytest.mark.skipif(not HAS_SEGLEARN, reason="seglearn is not installed")
@pytest.mark.parametrize("subjects, error, message", [
    ("3", TypeError, "must be a sequence of subject numbers"),
    (3, TypeError, "must be a sequence of subject numbers"),
    ([], ValueError, "non-empty sequence"),
    ([3, 3], ValueError, "names a subject twice"),
    ([3.0], ValueError, "non-empty sequence of subject numbers"),
    ([True], ValueError, "non-empty sequence of subject numbers"),
    ([11], ValueError, r"no subject \[11\] in the data"),
    (range(1, 11), ValueError, "holds every subject"),
])
def test_exercise_watch_checks_test_subjects(subjects, error, message):
    with pytest.raises(error, match=message):
        ds.exercise_watch(test_subjects=subjects)


def _npy_with_pickle(payload: bytes) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": "|O", "fortran_order": False, "shape": ()})
    return buf.getvalue() + payload


def _fake_seglearn(tmp_path, payload: bytes) -> pathlib.Path:
    (tmp_path / "data").mkdir()
    path = tmp_path / "data" / "watch_dataset.npy"
    path.write_bytes(_npy_with_pickle(payload))
    return path


class _Evil:
    def __init__(self, command):
        self.command = command

    def __reduce__(self):
        import os

        return os.system, (self.command,)


@pytest.mark.parametrize("protocol", [0, 2, 4, 5])
def test_the_unpickler_refuses_a_forbidden_global_before_it_runs(tmp_path, providers, protocol):
    marker = tmp_path / "ran"
    command = f"touch {marker}"
    if protocol == 0:  # written by hand: GLOBAL os.system, MARK, the command, TUPLE, REDUCE, STOP
        payload = b"cos\nsystem\n(V" + command.encode() + b"\ntR."
    else:
        payload = pickle.dumps(_Evil(command), protocol=protocol)
    path = _fake_seglearn(tmp_path, payload)
    with pytest.raises(ValueError, match=rf"{re.escape(str(path))}: the pickle asks for (os|posix)\.system; only "
                                         "NumPy arrays"):
        sd.read_pickled_npy(path)
    providers({"seglearn": tmp_path})
    with pytest.raises(ValueError, match=r"(os|posix)\.system.*refused: loading it could run code"):
        ds.exercise_watch()
    assert not marker.exists()
    with pytest.raises(pickle.UnpicklingError, match="builtins.eval"):
        sd.RestrictedUnpickler(io.BytesIO(b"cbuiltins\neval\n(Vprint(1)\ntR.")).load()


@pytest.mark.parametrize("payload, message", [
    # numpy.ndarray called directly (NEWOBJ would allocate from a crafted shape): not given out
    (b"\x80\x02cnumpy\nndarray\nK\x05\x85R.", "numpy.ndarray called directly"),
    (b"\x80\x02cnumpy\nndarray\n)\x81.", "numpy.ndarray called directly"),  # NEWOBJ
    # _reconstruct with a shape NumPy's pickles never write
    (b"\x80\x02cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\nJ\x00\xe1\xf5\x05\x85Vb\n\x87R.",
     "never write"),
    (b"\x80\x02cnumpy\ndtype\n]\x85R.", "a dtype built from"),
    (b"\x80\x02c_codecs\nencode\nVx\nVzlib\n\x86R.", "an encoding to 'zlib'"),
    (b"\x80\x02}q\x00.", "holds a dict, not a 0-d object array"),
    (b"\x80\x02(", "is damaged: its pickle does not load"),
])
def test_the_unpickler_gives_out_only_checked_wrappers(tmp_path, payload, message):
    path = tmp_path / "x.npy"
    path.write_bytes(_npy_with_pickle(payload))
    with pytest.raises(ValueError, match=message):
        sd.read_pickled_npy(path)


def test_the_unpickler_reads_numpys_own_pickles(tmp_path):
    X = [np.random.default_rng(0).normal(size=(5 + i, 6)) for i in range(3)]
    obj = np.empty((), dtype=object)
    obj[()] = {"X": X, "y": np.array([0, 1, 1]), "y_labels": ["a", "b"], "subject": np.array([1, 2, 2])}
    for protocol in (2, 3, 4):
        path = tmp_path / f"p{protocol}.npy"
        with open(path, "wb") as f:
            np.lib.format.write_array_header_1_0(f, {"descr": "|O", "fortran_order": False, "shape": ()})
            pickle.dump(obj, f, protocol=protocol)
        back = sd.read_pickled_npy(path)
        assert len(back["X"]) == 3 and all(np.array_equal(a, b) for a, b in zip(back["X"], X))
        assert back["y_labels"] == ["a", "b"]
    np.save(tmp_path / "saved.npy", obj, allow_pickle=True)  # what np.save writes (protocol 3)
    assert sd.read_pickled_npy(tmp_path / "saved.npy")["subject"].tolist() == [1, 2, 2]


def test_a_watch_file_of_other_content_is_named(tmp_path, providers):
    obj = np.empty((), dtype=object)
    obj[()] = {"X": [np.ones((4, 5))], "y": np.array([0]), "y_labels": ["a"], "subject": np.array([1])}
    path = tmp_path / "data" / "watch_dataset.npy"
    path.parent.mkdir()
    np.save(path, obj, allow_pickle=True)
    providers({"seglearn": tmp_path})
    with pytest.raises(ValueError, match=rf"{re.escape(str(path))} is not the exercise data .*X\[0\] is not a finite"):
        ds.exercise_watch()
    np.save(path, np.zeros(3))
    with pytest.raises(ValueError, match="holds a float64 array of shape .3,., not one pickled object"):
        ds.exercise_watch()


# ---------------------------------------------------------------------------------------- public API


def test_classification_map_and_docs_example(capsys):
    assert ds.CLASSIFICATION == {"japanese_vowels": ds.japanese_vowels, "basic_motions": ds.basic_motions,
                                 "exercise_watch": ds.exercise_watch}
    assert ds.ClassificationData._fields == ("X_train", "y_train", "X_test", "y_test")
    doc = (ROOT / "docs" / "api.md").read_text().split("## Sequence classification datasets", 1)[1]
    blocks = re.findall(r"```python\n(.*?)```", doc.split("\n## ", 1)[0], flags=re.S)
    assert len(blocks) == 1
    exec(compile("import esnkit as ek\n" + blocks[0], "docs/api.md", "exec"), {})  # noqa: S102 - our own docs
    assert "270 370 (20, 12) [1 1 1]\n7 29\n" in capsys.readouterr().out
