"""``esnkit classify`` end to end: .ts files in, accuracy, model, results and the confusion matrix out."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

import esnkit as ek
from esnkit.cli import main


def _write_ts(path, X, y):
    lines = ["@problemName toy", "@timeStamps false", "@missing false", "@univariate false", "@dimensions 2",
             "@equalLength false", f"@classLabel true {' '.join(sorted(set(map(str, y))))}", "@data"]
    for x, label in zip(X, y):
        dims = [",".join(f"{v:.6f}" for v in x[:, d]) for d in range(x.shape[1])]
        lines.append(":".join(dims) + f":{label}")
    path.write_text("\n".join(lines) + "\n")


def _toy(seed, n):
    rng = np.random.default_rng(seed)
    X, y = [], []
    for i in range(n):
        c = i % 2
        L = int(rng.integers(10, 25))
        X.append(np.stack([np.sin(0.4 * (c + 1) * np.arange(L)), 0.5 * c + rng.normal(0, 0.2, L)], axis=1))
        y.append(["up", "down"][c])
    return X, y


def test_classify_ts_files_round_trip(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    train, test = tmp_path / "t_TRAIN.ts", tmp_path / "t_TEST.ts"
    _write_ts(train, *_toy(0, 30))
    _write_ts(test, *_toy(1, 12))
    out = tmp_path / "out"
    assert main(["classify", "--train", str(train), "--test", str(test), "--reservoir-size", "30",
                 "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "test accuracy" in printed
    results = json.loads((out / "results.json").read_text())
    assert 0.8 <= results["accuracy"] <= 1.0
    assert os.path.getsize(out / "confusion_matrix.png") > 1000
    model = ek.load(out / "model.esnkit")
    assert isinstance(model, ek.ESNClassifier) and set(model.classes_) == {"up", "down"}


def test_classify_errors_are_one_line(tmp_path, capsys):
    train = tmp_path / "a.ts"
    _write_ts(train, *_toy(0, 6))
    assert main(["classify", "--train", str(train), "--no-plot"]) == 1
    assert "--train and --test go together" in capsys.readouterr().err
    assert main(["classify", "--train", str(train), "--test", str(tmp_path / "missing.ts"), "--no-plot"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("esnkit: error: --test") and err.count("\n") == 1
    with pytest.raises(SystemExit) as e:
        main(["classify", "--leak-rate", "0"])
    assert e.value.code == 2


def test_classify_jaeger_recipe_from_the_command_line(tmp_path, capsys):
    """Jaeger et al. (2007)'s Japanese Vowels recipe through the CLI: 100 four-neuron reservoirs,
    [u; x] at three support points, raw inputs; the published result is no test error, and esnkit
    gets at most one of 370 (99.7 %) with any seed."""
    out = tmp_path / "jv"
    assert main(["classify", "--dataset", "japanese_vowels", "--reservoir-size", "4", "--ensemble", "100",
                 "--spectral-radius", "0.2", "--leak-rate", "0.2", "--input-scaling", "1.5", "--no-scale",
                 "--pooling", "seg3", "--input-summary", "seg3", "--ridge", "0", "--seed", "1", "--no-plot",
                 "--out", str(out)]) == 0
    results = json.loads((out / "results.json").read_text())
    assert results["errors"] <= 1
    assert results["params"]["input_summary"] == "seg3" and results["params"]["scale"] is False
    assert main(["classify", "--input-summary", "median", "--reservoir-size", "10", "--no-plot",
                 "--out", str(tmp_path / "bad")]) == 1
    err = capsys.readouterr().err
    assert "--input-summary 'median'" in err and err.count("\n") == 1
    assert main(["classify", "--pooling", "seg02", "--no-plot", "--out", str(tmp_path / "bad")]) == 1
    assert "--pooling 'seg02'" in capsys.readouterr().err
