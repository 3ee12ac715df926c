"""The readers behind esnkit.datasets' sequence-classification sets; nothing here imports a data package.

Where each set comes from, and why:

* Japanese Vowels is bundled (``esnkit/data/japanese_vowels.npz``): its UCI licence, CC BY 4.0,
  allows redistribution with attribution (``esnkit/data/JAPANESE_VOWELS_LICENSE.txt``), so the
  anchor set of the tests loads offline with no extra dependency. The file holds numeric arrays
  only and is read by a small reader of its own (:func:`read_npz`), which checks every member's
  header against its size before it allocates anything; no pickle is ever involved.
  ``benchmarks/data/make_japanese_vowels.py`` wrote it from the ``.ts`` files aeon and sktime ship.
* BasicMotions (UEA archive) has no clear licence, so it is not bundled: its ``.ts`` files are read
  from an installed aeon or sktime, found with ``importlib.util.find_spec`` and never imported
  (importing either takes seconds and may change global settings).
* seglearn's smartwatch exercise set is read from an installed seglearn the same way. Its
  ``watch_dataset.npy`` is a pickled dict: it is unpickled by :class:`RestrictedUnpickler`, which
  builds NumPy arrays, lists, dicts and strings and refuses every other global, so the file can
  run no code.
"""

from __future__ import annotations

import _codecs
import errno
import importlib.util
import io
import math
import os
import pathlib
import pickle
import re
import zipfile
from collections.abc import Iterable
from typing import Any

import numpy as np

from . import _memory
from .errors import MissingExtraError

DATA_DIR = pathlib.Path(__file__).resolve().parent / "data"
JAPANESE_VOWELS = DATA_DIR / "japanese_vowels.npz"
# Japanese Vowels as the UCI archive splits it: the number of sequences and their features.
JAPANESE_VOWELS_SIZES = {"train": 270, "test": 370}
JAPANESE_VOWELS_FEATURES = 12

# Largest files read: the .ts reader parses text into float64 (at most 4 bytes of float per byte of
# text, since a value takes at least two characters with its separator, plus the line it parses) and
# asks the memory guard for 5 bytes per byte of text first; a npz member or a pickled file beyond
# these sizes is not one of the files esnkit reads.
MAX_NPZ_MEMBER_BYTES = 64 << 20
MAX_PICKLE_BYTES = 256 << 20

BASIC_MOTIONS_PROVIDERS = ("aeon", "sktime")  # both ship datasets/data/BasicMotions/BasicMotions_{TRAIN,TEST}.ts
BASIC_MOTIONS_DIR = "datasets/data/BasicMotions"
BASIC_MOTIONS_SHAPE = {"train": 40, "test": 40, "features": 6, "steps": 100, "classes": 4}
WATCH_FILE = "data/watch_dataset.npy"  # inside seglearn
WATCH_FEATURES = 6
WATCH_TEST_SUBJECTS = (3, 6, 9)  # every third of the ten subjects: 98 training and 42 test sequences

_INTEGER = re.compile(r"[+-]?[0-9]+\Z")


# ------------------------------------------------------------------------------------------- .ts files


def _bad(name: str, lineno: int, what: str) -> ValueError:
    return ValueError(f"{name}, line {lineno}: {what}")


def _flag(name: str, lineno: int, tag: str, args: list[str]) -> bool:
    if len(args) != 1 or args[0].lower() not in ("true", "false"):
        raise _bad(name, lineno, f"@{tag} must be followed by true or false, got {' '.join(args)!r}")
    return args[0].lower() == "true"


def _count(name: str, lineno: int, tag: str, args: list[str]) -> int:
    if len(args) != 1 or not (args[0].isascii() and args[0].isdigit()) or int(args[0]) < 1:
        raise _bad(name, lineno, f"@{tag} must be followed by a positive integer, got {' '.join(args)!r}")
    return int(args[0])


def _header(name: str, lineno: int, tags: dict[str, tuple[list[str], int]]) -> dict[str, Any]:
    """Check the header at the @data line; return the classes, dimensions and series length it fixes."""
    if "targetlabel" in tags and _flag(name, tags["targetlabel"][1], "targetLabel", tags["targetlabel"][0]):
        raise _bad(name, tags["targetlabel"][1], "this is a regression file (@targetLabel true); read_ts reads "
                                                 "classification files (@classLabel true and the labels)")
    if "timestamps" in tags and _flag(name, tags["timestamps"][1], "timeStamps", tags["timestamps"][0]):
        raise _bad(name, tags["timestamps"][1], "time-stamped series (@timeStamps true, values as (t,v) pairs) "
                                                "are not supported; give the values only")
    if "classlabel" not in tags:
        raise _bad(name, lineno, "no @classLabel line before @data; read_ts reads classification files "
                                 "(@classLabel true followed by the labels)")
    args, at = tags["classlabel"]
    if not args or args[0].lower() not in ("true", "false"):
        raise _bad(name, at, f"@classLabel must be followed by true and the labels, got {' '.join(args)!r}")
    if args[0].lower() == "false":
        raise _bad(name, at, "@classLabel false: the file has no class labels; read_ts reads classification files")
    if len(args) < 2:
        raise _bad(name, at, "@classLabel true lists no labels")
    out = {"classes": set(args[1:]), "class_list": args[1:], "dimensions": None, "length": None}
    if "dimensions" in tags:
        out["dimensions"] = _count(name, tags["dimensions"][1], "dimensions", tags["dimensions"][0])
    if "univariate" in tags and _flag(name, tags["univariate"][1], "univariate", tags["univariate"][0]):
        if out["dimensions"] not in (None, 1):
            raise _bad(name, tags["univariate"][1], f"@univariate true but @dimensions {out['dimensions']}")
        out["dimensions"] = 1
    equal = "equallength" in tags and _flag(name, tags["equallength"][1], "equalLength", tags["equallength"][0])
    if equal and "serieslength" in tags:
        out["length"] = _count(name, tags["serieslength"][1], "seriesLength", tags["serieslength"][0])
    return out


def _case(name: str, lineno: int, line: str, header: dict[str, Any]) -> tuple[np.ndarray, str]:
    """One case: its (time, dimensions) float64 array and its label."""
    fields = line.split(":")
    if len(fields) < 2:
        raise _bad(name, lineno, "expected the values of each dimension separated by ':' and the class label last")
    label = fields[-1].strip()
    if label not in header["classes"]:
        shown = header["class_list"][:20]
        raise _bad(name, lineno, f"class label {label!r} is not one of @classLabel's ({' '.join(shown)}"
                                 f"{' ...' if len(header['class_list']) > 20 else ''})")
    dims = fields[:-1]
    if header["dimensions"] is not None and len(dims) != header["dimensions"]:
        raise _bad(name, lineno, f"{len(dims)} dimension(s), but the file has {header['dimensions']}")
    columns = []
    for d, text in enumerate(dims, 1):
        if "(" in text:
            raise _bad(name, lineno, "time-stamped values ((t,v) pairs) are not supported; give the values only")
        tokens = text.split(",")
        values = []
        for token in tokens:
            try:
                v = float(token)
            except ValueError:
                if token.strip() == "?":
                    raise _bad(name, lineno, f"dimension {d} has a missing value ('?'); missing values are not "
                                             "supported") from None
                raise _bad(name, lineno, f"dimension {d}: {token.strip()!r} is not a number") from None
            if not math.isfinite(v):
                raise _bad(name, lineno, f"dimension {d}: {token.strip()!r} is not a finite number (missing "
                                         "values are not supported)")
            values.append(v)
        columns.append(values)
    lengths = [len(c) for c in columns]
    if len(set(lengths)) > 1:
        raise _bad(name, lineno, f"the dimensions have different lengths ({', '.join(map(str, lengths))}); "
                                 "ragged dimensions within a case are not supported")
    if header["length"] is not None and lengths[0] != header["length"]:
        raise _bad(name, lineno, f"{lengths[0]} values per dimension, but @seriesLength is {header['length']}")
    return np.array(columns, dtype=np.float64).T.copy(), label


def read_ts(path: str | os.PathLike) -> tuple[list[np.ndarray], np.ndarray]:
    """Parse a ``.ts`` classification file: a list of float64 ``(time, dims)`` arrays and the labels."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a file name (str or os.PathLike), got {type(path).__name__}")
    name = os.fsdecode(os.fspath(path))
    if os.path.isdir(name):
        raise IsADirectoryError(errno.EISDIR, "is a directory, not a .ts file", name)
    with open(name, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        if size == 0:
            raise ValueError(f"{name} is empty, not a .ts file")
        _memory.require_memory(5 * size, f"reading the .ts file {name} ({_memory.size(size)})",
                               "split the file")
        tags: dict[str, tuple[list[str], int]] = {}
        header = None
        series: list[np.ndarray] = []
        labels: list[str] = []
        for lineno, raw in enumerate(f, 1):
            if b"\x00" in raw:
                raise _bad(name, lineno, "a NUL byte: this is a binary file, not a .ts file")
            try:
                line = raw.decode("utf-8-sig" if lineno == 1 else "utf-8").strip()
            except UnicodeDecodeError:
                raise _bad(name, lineno, "not UTF-8 text: this is not a .ts file") from None
            if not line or line.startswith("#"):
                continue
            if line.startswith("@"):
                if header is not None:
                    raise _bad(name, lineno, f"a header line after @data: {line[:40]!r}")
                words = line.split()
                tag = words[0][1:].lower()
                if tag == "data":
                    header = _header(name, lineno, tags)
                elif tag in tags:
                    raise _bad(name, lineno, f"@{words[0][1:]} again (first on line {tags[tag][1]})")
                else:
                    tags[tag] = (words[1:], lineno)
                continue
            if header is None:
                raise _bad(name, lineno, "values before @data (header lines start with @, comments with #)")
            x, label = _case(name, lineno, line, header)
            series.append(x)
            labels.append(label)
    if header is None:
        raise ValueError(f"{name} has no @data line: not a .ts file (or a truncated one)")
    if not series:
        raise ValueError(f"{name} has no cases after its @data line")
    return series, _labels(labels, header["class_list"])


def _labels(labels: list[str], declared: list[str]) -> np.ndarray:
    """int64 when every declared label is an integer literal (that fits, one number per label), else str."""
    if (all(_INTEGER.match(c) and abs(int(c)) < 2**63 for c in declared)
            and len({int(c) for c in declared}) == len(set(declared))):
        return np.array([int(v) for v in labels], dtype=np.int64)
    return np.array(labels, dtype=str)


# ------------------------------------------------------------------------------------- bundled files


def read_npz(path: pathlib.Path, spec: dict[str, tuple[str, int]]) -> dict[str, np.ndarray]:
    """Read the arrays ``spec`` names (``key -> (dtype, ndim)``) from a npz file of plain .npy members.

    Each member's header must give that dtype (little-endian), C order and a shape whose size is the
    rest of the member; the zip's checksums catch damaged bytes. Nothing is unpickled.
    """

    def damaged(why: str) -> ValueError:
        return ValueError(f"{path} is damaged ({why}); reinstall esnkit")

    if not path.is_file():
        raise FileNotFoundError(errno.ENOENT, "esnkit's bundled data file is missing; reinstall esnkit (the "
                                              "package data belongs in every install)", str(path))
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise damaged(f"not a readable zip file: {exc}") from None
    out = {}
    with zf:
        names = sorted(zf.namelist())
        if names != sorted(k + ".npy" for k in spec):
            raise damaged(f"it holds {names}, expected {sorted(k + '.npy' for k in spec)}")
        for key, (dtype, ndim) in spec.items():
            info = zf.getinfo(key + ".npy")
            if info.file_size > MAX_NPZ_MEMBER_BYTES:
                raise damaged(f"{key}.npy is {_memory.size(info.file_size)}")
            try:
                raw = zf.read(info)
                f = io.BytesIO(raw)
                version = np.lib.format.read_magic(f)
                if version not in ((1, 0), (2, 0)):
                    raise ValueError(f"npy format version {version}")
                read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
                shape, fortran, found = read(f)
            except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
                raise damaged(f"{key}.npy: {exc}") from None
            want = np.dtype(dtype).newbyteorder("<")
            if found != want or fortran or len(shape) != ndim:
                raise damaged(f"{key}.npy holds {found} {'Fortran' if fortran else 'C'}-order {shape}, "
                              f"expected a C-order {ndim}-d {want} array")
            count = math.prod(shape)
            if count * want.itemsize != len(raw) - f.tell():
                raise damaged(f"{key}.npy's shape {shape} does not match its {len(raw) - f.tell()} bytes of data")
            out[key] = np.frombuffer(raw, dtype=want, count=count, offset=f.tell()).reshape(shape).astype(dtype)
    return out


def _split_ragged(values: np.ndarray, lengths: np.ndarray) -> list[np.ndarray]:
    return [part.copy() for part in np.split(values, np.cumsum(lengths)[:-1])]


def japanese_vowels(path: pathlib.Path = JAPANESE_VOWELS) -> tuple:
    """Read and check the bundled Japanese Vowels file: ``(X_train, y_train, X_test, y_test)``."""
    spec = {f"{part}_{key}": kind for part in ("train", "test")
            for key, kind in (("values", ("float64", 2)), ("lengths", ("int64", 1)), ("labels", ("int64", 1)))}
    arrays = read_npz(path, spec)
    out = []
    for part, n in JAPANESE_VOWELS_SIZES.items():
        values, lengths, labels = (arrays[f"{part}_{k}"] for k in ("values", "lengths", "labels"))
        problems = []
        if values.shape[1] != JAPANESE_VOWELS_FEATURES:
            problems.append(f"{part}_values has {values.shape[1]} columns, not {JAPANESE_VOWELS_FEATURES}")
        if len(lengths) != n or len(labels) != n:
            problems.append(f"{len(lengths)} {part} lengths and {len(labels)} labels, not {n}")
        if len(lengths) and (lengths.min() < 1 or lengths.sum() != len(values)):
            problems.append(f"the {part} lengths (sum {lengths.sum()}, least {lengths.min()}) do not cut the "
                            f"{len(values)} rows of {part}_values into sequences")
        if len(labels) and not np.isin(labels, np.arange(1, 10)).all():
            problems.append(f"{part}_labels are not all speakers 1..9")
        if not np.isfinite(values).all():
            problems.append(f"{part}_values holds NaN or infinite values")
        if problems:
            raise ValueError(f"{path} is damaged ({'; '.join(problems)}); reinstall esnkit")
        out += [_split_ragged(values, lengths), labels]
    return tuple(out)


# --------------------------------------------------------------------------------- installed packages


def package_file(packages: Iterable[str], relative: str, *others: str) -> tuple[str, pathlib.Path] | None:
    """The first of ``packages`` that is installed and holds the file ``relative`` (and ``others``,
    beside it): ``(package, path of relative)``. The packages are located, never imported."""
    for name in packages:
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):  # ValueError: a module in sys.modules without a __spec__
            continue
        for location in (spec.submodule_search_locations or []) if spec is not None else []:
            base = pathlib.Path(location)
            if all((base / r).is_file() for r in (relative, *others)):
                return name, base / relative
    return None


def basic_motions() -> tuple:
    """BasicMotions' ``.ts`` files from an installed aeon or sktime: ``(X_train, y_train, X_test, y_test)``."""
    train, test = f"{BASIC_MOTIONS_DIR}/BasicMotions_TRAIN.ts", f"{BASIC_MOTIONS_DIR}/BasicMotions_TEST.ts"
    found = package_file(BASIC_MOTIONS_PROVIDERS, train, test)
    if found is None:
        raise MissingExtraError(
            "basic_motions reads the BasicMotions files (UEA archive, not bundled with esnkit: it has no clear "
            f"licence) from an installed aeon or sktime, and neither is installed with {train}: "
            'pip install "esnkit[datasets]", or pip install --no-deps sktime (only its data files are read; '
            "esnkit does not import it)", name="sktime")
    shape = BASIC_MOTIONS_SHAPE
    out = []
    for path, n in ((found[1], shape["train"]), (found[1].with_name("BasicMotions_TEST.ts"), shape["test"])):
        series, labels = read_ts(path)
        sizes = {x.shape for x in series}
        if len(series) != n or sizes != {(shape["steps"], shape["features"])} or len(set(labels)) != shape["classes"]:
            raise ValueError(f"{path} is not the BasicMotions file esnkit knows: {len(series)} cases of shapes "
                             f"{sorted(sizes)[:3]} in {len(set(labels))} classes, expected {n} of "
                             f"({shape['steps']}, {shape['features']}) in {shape['classes']}")
        out += [series, labels]
    return tuple(out)


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickles NumPy arrays, dtypes, lists, dicts, strings and numbers, and nothing else.

    Every global a pickle asks for goes through :meth:`find_class`; only NumPy's array
    reconstruction, its dtype and latin-1 encoding of the array bytes (what NumPy's pickles of
    plain arrays need) are given out, as wrappers that check their arguments. Any other global
    raises ``pickle.UnpicklingError`` before anything runs.
    """

    def find_class(self, module: str, name: str) -> Any:
        allowed = _ALLOWED.get((module, name))
        if allowed is None:
            raise pickle.UnpicklingError(
                f"the pickle asks for {module}.{name}; only NumPy arrays, lists, dicts and strings are read "
                "(refused: loading it could run code)")
        return allowed


class _NdarrayMarker:
    """Stands for numpy.ndarray in a pickle: only _reconstruct may use it (calling it builds nothing)."""

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        raise pickle.UnpicklingError("numpy.ndarray called directly, which NumPy's pickles of plain arrays never do")


_RECONSTRUCT = np.empty(0).__reduce__()[0]  # numpy._core.multiarray._reconstruct, without naming the module


def _reconstruct(cls: Any, shape: Any, typecode: Any) -> np.ndarray:
    if cls is not _NdarrayMarker or shape != (0,) or typecode not in (b"b", "b"):
        raise pickle.UnpicklingError("an array reconstruction that NumPy's pickles of plain arrays never write")
    return _RECONSTRUCT(np.ndarray, (0,), b"b")


def _dtype(obj: Any, align: Any = False, copy: Any = False) -> np.dtype:
    flags = all(type(v) in (bool, int) and v in (0, 1) for v in (align, copy))  # NumPy writes 0/1 or False/True
    if not isinstance(obj, str) or not flags:
        raise pickle.UnpicklingError(f"a dtype built from {obj!r:.40}, {align!r:.20}, {copy!r:.20}, not a type code")
    return np.dtype(obj, align=bool(align), copy=bool(copy))


def _encode(text: Any, encoding: Any = "utf-8") -> bytes:
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise pickle.UnpicklingError(f"an encoding to {encoding!r}, where array bytes use latin1")
    return _codecs.encode(text, "latin1")


_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy", "ndarray"): _NdarrayMarker,
    ("numpy", "dtype"): _dtype,
    ("_codecs", "encode"): _encode,
}


def read_pickled_npy(path: pathlib.Path) -> Any:
    """The object of a .npy file holding one pickled object (a 0-d object array), unpickled safely."""
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        if size > MAX_PICKLE_BYTES:
            raise ValueError(f"{path} is {_memory.size(size)}, larger than the {_memory.size(MAX_PICKLE_BYTES)} "
                             "esnkit reads from a pickled .npy file")
        try:
            version = np.lib.format.read_magic(f)
            if version not in ((1, 0), (2, 0)):
                raise ValueError(f"npy format version {version}")
            read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            shape, _, dtype = read(f)
        except (ValueError, EOFError) as exc:
            raise ValueError(f"{path} is not a readable .npy file ({exc})") from None
        if shape != () or dtype != np.dtype(object):
            raise ValueError(f"{path} holds a {dtype} array of shape {shape}, not one pickled object")
        try:
            obj = RestrictedUnpickler(f).load()
        except pickle.UnpicklingError as exc:
            raise ValueError(f"{path}: {exc}") from None
        except (EOFError, ValueError, TypeError, AttributeError, IndexError, KeyError, MemoryError,
                RecursionError, OverflowError) as exc:
            raise ValueError(f"{path} is damaged: its pickle does not load ({type(exc).__name__}: {exc})") from None
    if not (isinstance(obj, np.ndarray) and obj.shape == () and obj.dtype == object):
        raise ValueError(f"{path} holds a {type(obj).__name__}, not a 0-d object array")
    return obj.item()


def _check_watch(path: pathlib.Path, data: Any) -> tuple[list[np.ndarray], np.ndarray, list[str], np.ndarray]:
    """X, y, y_labels and subject of seglearn's watch data, each checked."""

    def wrong(why: str) -> ValueError:
        return ValueError(f"{path} is not the exercise data esnkit knows: {why}")

    if not isinstance(data, dict) or not {"X", "y", "y_labels", "subject"} <= set(data):
        raise wrong(f"expected a dict with X, y, y_labels and subject, got {type(data).__name__}"
                    + (f" with keys {sorted(map(str, data))}" if isinstance(data, dict) else ""))
    X, y, names, subject = data["X"], data["y"], data["y_labels"], data["subject"]
    if not isinstance(X, (list, tuple)) or not X:
        raise wrong("X is not a non-empty list of arrays")
    for i, x in enumerate(X):
        if not (isinstance(x, np.ndarray) and x.dtype == np.float64 and x.ndim == 2 and x.shape[0] >= 1
                and x.shape[1] == WATCH_FEATURES and np.isfinite(x).all()):
            raise wrong(f"X[{i}] is not a finite float64 (time, {WATCH_FEATURES}) array")
    if not (isinstance(names, list) and names and all(isinstance(s, str) for s in names)
            and len(set(names)) == len(names)):
        raise wrong("y_labels is not a list of distinct class names")
    for key, arr in (("y", y), ("subject", subject)):
        if not (isinstance(arr, np.ndarray) and arr.dtype.kind in "iu" and arr.shape == (len(X),)):
            raise wrong(f"{key} is not an integer array of one value per sequence ({len(X)})")
    if y.min() < 0 or y.max() >= len(names):
        raise wrong(f"y holds class numbers outside 0..{len(names) - 1}")
    return list(X), y.astype(np.int64), names, subject.astype(np.int64)


def exercise_watch(test_subjects: Any = WATCH_TEST_SUBJECTS) -> tuple:
    """seglearn's smartwatch exercises split by subject: ``(X_train, y_train, X_test, y_test)``."""
    if isinstance(test_subjects, (str, bytes)) or not isinstance(test_subjects, Iterable):
        raise TypeError(f"test_subjects must be a sequence of subject numbers, got {test_subjects!r}")
    chosen = list(test_subjects)
    if not chosen or not all(isinstance(s, (int, np.integer)) and not isinstance(s, bool) for s in chosen):
        raise ValueError(f"test_subjects must be a non-empty sequence of subject numbers, got {test_subjects!r}")
    if len(set(chosen)) != len(chosen):
        raise ValueError(f"test_subjects names a subject twice: {test_subjects!r}")
    found = package_file(("seglearn",), WATCH_FILE)
    if found is None:
        raise MissingExtraError(
            f"exercise_watch reads seglearn's {WATCH_FILE}, and seglearn is not installed (or lacks the file): "
            'pip install "esnkit[datasets]", or pip install --no-deps seglearn (only its data file is read; '
            "esnkit does not import it)", name="seglearn")
    path = found[1]
    X, y, names, subject = _check_watch(path, read_pickled_npy(path))
    subjects = sorted(set(subject.tolist()))
    unknown = sorted(set(chosen) - set(subjects))
    if unknown:
        raise ValueError(f"test_subjects: no subject {unknown} in the data (its subjects: {subjects})")
    if len(chosen) == len(subjects):
        raise ValueError(f"test_subjects holds every subject ({subjects}): none would be left for training")
    test = np.isin(subject, chosen)
    for part, mask in (("training", ~test), ("test", test)):
        missing = sorted(set(range(len(names))) - set(y[mask].tolist()))
        if missing:
            raise ValueError(f"test_subjects={test_subjects!r} leaves no {part} sequence of the class(es) "
                             f"{[names[c] for c in missing]}; choose other subjects")
    labels = np.array(names, dtype=str)[y]
    return ([np.array(X[i], dtype=np.float64) for i in np.flatnonzero(~test)], labels[~test],
            [np.array(X[i], dtype=np.float64) for i in np.flatnonzero(test)], labels[test])
