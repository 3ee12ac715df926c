"""Write esnkit's bundled Japanese Vowels file (src/esnkit/data/japanese_vowels.npz) from the .ts files.

    python benchmarks/data/make_japanese_vowels.py [--source DIR_OR_WHEEL] [--out PATH]

The source is JapaneseVowels_TRAIN.ts and JapaneseVowels_TEST.ts (the files with the true lengths,
7 to 29 steps; not the "_eq" ones padded to one length): a folder holding them, an aeon or sktime
wheel, or by default an installed aeon or sktime (found, not imported). esnkit's file was written
from aeon 1.6.0's wheel; sktime 1.2.0 ships the same two files, byte for byte.

The npz holds numeric arrays only, per part (train, test): ``values``, every sequence's frames one
after the other (float64, 12 columns); ``lengths``, the number of frames of each sequence (int64);
``labels``, the speaker 1..9 (int64). Its zip entries carry a fixed date, so a rerun writes the same
bytes. Before writing, every number of the text is checked to be the float64 stored for it
(``float(token) == value``), and the written file is read back with esnkit's loader and compared.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import pathlib
import sys
import tempfile
import zipfile

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "src"))

from esnkit import _sequence_data  # noqa: E402
from esnkit.datasets import read_ts  # noqa: E402

NAMES = {"train": "JapaneseVowels_TRAIN.ts", "test": "JapaneseVowels_TEST.ts"}
IN_PACKAGE = "datasets/data/JapaneseVowels"


def source_files(source: str | None, scratch: pathlib.Path) -> dict[str, pathlib.Path]:
    if source is None:
        found = _sequence_data.package_file(("aeon", "sktime"), f"{IN_PACKAGE}/{NAMES['train']}",
                                            f"{IN_PACKAGE}/{NAMES['test']}")
        if found is None:
            sys.exit("no installed aeon or sktime holds the JapaneseVowels files: give --source")
        return {part: found[1].with_name(name) for part, name in NAMES.items()}
    path = pathlib.Path(source)
    if path.is_dir():
        return {part: path / name for part, name in NAMES.items()}
    with zipfile.ZipFile(path) as wheel:  # a wheel: aeon/... or sktime/...
        out = {}
        for part, name in NAMES.items():
            member = next(m for m in wheel.namelist() if m.endswith(f"{IN_PACKAGE}/{name}"))
            out[part] = scratch / name
            out[part].write_bytes(wheel.read(member))
        return out


def check_text(path: pathlib.Path, series: list[np.ndarray], labels: np.ndarray) -> None:
    """Every token of the data lines, parsed on its own, is the value read_ts stored."""
    lines = path.read_text().split("@data", 1)[1].split("\n")
    cases = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    assert len(cases) == len(series) == len(labels), path
    for line, x, label in zip(cases, series, labels):
        *dims, text_label = line.split(":")
        assert int(text_label) == label and len(dims) == x.shape[1], (path, line[:40])
        for d, text in enumerate(dims):
            values = [float(token) for token in text.split(",")]
            assert values == x[:, d].tolist(), (path, line[:40], d)


def write_npz(path: pathlib.Path, arrays: dict[str, np.ndarray]) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for key, array in arrays.items():
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, array, allow_pickle=False)
            info = zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, buffer.getvalue())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", help="folder of the two .ts files, or an aeon/sktime wheel")
    parser.add_argument("--out", default=str(_sequence_data.JAPANESE_VOWELS), help="the npz to write")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        files = source_files(args.source, pathlib.Path(scratch))
        arrays, parts = {}, {}
        for part, path in files.items():
            series, labels = read_ts(path)
            check_text(path, series, labels)
            assert labels.dtype == np.int64 and all(x.shape[1] == 12 for x in series)
            print(f"{path.name}: sha256 {hashlib.sha256(path.read_bytes()).hexdigest()}, {len(series)} sequences, "
                  f"lengths {min(map(len, series))}..{max(map(len, series))}, "
                  f"class counts {np.unique(labels, return_counts=True)[1].tolist()}")
            arrays[f"{part}_values"] = np.concatenate(series).astype("<f8")
            arrays[f"{part}_lengths"] = np.array([len(x) for x in series], dtype="<i8")
            arrays[f"{part}_labels"] = labels.astype("<i8")
            parts[part] = (series, labels)
    out = pathlib.Path(args.out)
    write_npz(out, arrays)
    back = _sequence_data.japanese_vowels(out)
    for i, part in enumerate(("train", "test")):
        series, labels = parts[part]
        assert len(back[2 * i]) == len(series) and all(np.array_equal(a, b) for a, b in zip(back[2 * i], series))
        assert np.array_equal(back[2 * i + 1], labels)
    print(f"wrote {out} ({out.stat().st_size} bytes, sha256 {hashlib.sha256(out.read_bytes()).hexdigest()}); "
          "read back equal")


if __name__ == "__main__":
    main()
