"""Damaged and edited model files: every load refuses with a clean ValueError/OSError, or gives back a
model that is exactly what the file holds and predicts; nothing crashes.

Two kinds of bad file: damaged ones (bytes flipped, overwritten, cut off or appended anywhere: length
prefix, safetensors header, JSON config, index tensors, float tensors), which the checksum must
catch or which must load bit-identical to the saved model; and edited ones, whose checksum was
recomputed after the edit (what a deliberate change would do), which the structural validation must
catch or which must load and predict without crashing. The loads and predictions run in a
subprocess, one per kind, so that a crash in the native kernel fails the test instead of pytest.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

import esnkit as ek
from esnkit.models.reservoir_model import FORMAT_VERSION

SEED = 20260513
SRC = os.path.dirname(os.path.dirname(os.path.abspath(ek.__file__)))


def _models(folder) -> dict[str, str]:
    """A few small fitted models, saved: with and without feedback, float32 and float64, with and
    without a carried state, sparse and dense W."""
    g = np.random.default_rng(0)
    u1, u2 = g.normal(size=(80, 1)), g.normal(size=(80, 2))
    models = {
        "plain64": ek.ESN(24, seed=0).fit(u1[:-1], u1[1:]),
        "feedback32": ek.ESN(20, seed=1, feedback_scaling=0.3, leak_rate=np.linspace(0.3, 1, 20).tolist(),
                             dtype="float32").fit(u1[:-1], u1[1:]),
        "stateless2x2": ek.ESN(16, seed=2, feedback_scaling=0.5, readout_input=False, in_degree=3,
                               washout=5).fit(u2[:-1], u2[1:]).reset(),
        "dense": ek.ESN(12, seed=3, connectivity=0.6, bias_scaling=0.1).fit(u2[:-1], u1[1:]),
    }
    paths = {}
    for name, m in models.items():
        paths[name] = os.path.join(folder, f"{name}.esnkit")
        m.save(paths[name])
    return paths


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    folder = tmp_path_factory.mktemp("models")
    return folder, _models(str(folder))


# ---------------------------------------------------------------- the layout of a file

def _regions(raw: bytes) -> dict[str, tuple[int, int]]:
    """Byte ranges of a file's parts: the length prefix, the header JSON, the config inside it, and
    each tensor's data."""
    n = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8 : 8 + n])
    start = end = raw.index(b'"esnkit":"', 8) + len(b'"esnkit":"')
    while raw[end : end + 1] != b'"' or raw[end - 1 : end] == b"\\":  # the config's closing quote
        end += 1
    digest = raw.index(b"sha256:", 8)
    regions = {"prefix": (0, 8), "header": (8, 8 + n), "config": (start, end), "checksum": (digest, digest + 71)}
    for name, info in header.items():
        if name != "__metadata__":
            a, b = info["data_offsets"]
            if b > a:
                regions[name] = (8 + n + a, 8 + n + b)
    return regions


def _damage(raw: bytes, g: np.random.Generator) -> tuple[bytes, str]:
    """``raw`` with one random kind of damage in one random part; and a description of it."""
    regions = _regions(raw)
    part = g.choice([*regions, "anywhere"])
    a, b = regions.get(part, (0, len(raw)))
    data = bytearray(raw)
    kind = g.choice(["flip", "flip", "overwrite", "truncate", "append", "delete"])
    at = int(g.integers(a, b))
    if kind == "flip":
        for _ in range(int(g.integers(1, 4))):
            data[int(g.integers(a, b))] ^= 1 << int(g.integers(8))
    elif kind == "overwrite":
        n = min(int(g.integers(1, 17)), len(data) - at)
        fill = g.choice(["random", "zeros", "ones"])
        data[at : at + n] = (g.bytes(n) if fill == "random" else bytes([0 if fill == "zeros" else 255]) * n)
    elif kind == "truncate":
        del data[at:]
    elif kind == "append":
        data += g.bytes(int(g.integers(1, 65)))
    else:
        del data[at : at + int(g.integers(1, 9))]
    return bytes(data), f"{kind} in {part} at byte {at}"


def _edit(tensors: dict, config: dict, g: np.random.Generator) -> str:
    """One random edit of a model's tensors or config, in place (the file is then rewritten with a
    valid checksum); a description of it."""
    names = sorted(tensors)
    kind = g.choice(["index bits", "index bits", "float bits", "float bits", "config", "config", "dtype", "shape",
                     "drop", "extra tensor"])
    name = str(g.choice(names))
    if kind == "index bits" or kind == "float bits":
        pool = [k for k in names if (tensors[k].dtype == torch.int64) == (kind == "index bits") and tensors[k].numel()]
        name = str(g.choice(pool))
        flat = tensors[name].reshape(-1).view(torch.uint8)  # every byte of the tensor, in place
        for _ in range(int(g.integers(1, 3))):
            flat[int(g.integers(flat.numel()))] ^= 1 << int(g.integers(8))
        return f"{kind} of {name}"
    if kind == "config":
        return "config: " + _edit_config(config, g)
    if kind == "dtype":
        tensors[name] = tensors[name].to(g.choice([torch.int32, torch.int64, torch.float16, torch.float32,
                                                    torch.float64, torch.uint8, torch.bool]))
        return f"dtype of {name} -> {tensors[name].dtype}"
    if kind == "shape":
        t = tensors[name]
        how = g.choice(["shorter", "longer", "flat", "unsqueeze"])
        if how == "shorter":
            t = t[: max(t.shape[0] - 1, 0)] if t.ndim else t
        elif how == "longer":
            t = torch.cat([t, t[:1]]) if t.ndim and t.shape[0] else t
        elif how == "flat":
            t = t.reshape(-1)
        else:
            t = t.unsqueeze(0)
        tensors[name] = t.contiguous()
        return f"shape of {name} -> {tuple(t.shape)}"
    if kind == "drop":
        del tensors[name]
        return f"dropped {name}"
    tensors["reservoir_.extra"] = torch.zeros(3)
    return "an extra tensor"


JUNK = [None, True, False, 0, -1, 1, 3, 2**70, -(2**70), 0.5, -0.5, 1e308, float("inf"), float("nan"), "", "x",
        "float16", "cpu", "cuda", "tanh", "torch", "3d", [], [1, 2], [0.5] * 3, {}, {"a": 1}]


def _edit_config(config: dict, g: np.random.Generator) -> str:
    """Replace, delete or add one value somewhere in ``config``."""
    leaves = []

    def walk(node, path):
        items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
        for k, v in items:
            leaves.append((node, k, path + [k]))
            walk(v, path + [k])

    walk(config, [])
    node, key, path = leaves[int(g.integers(len(leaves)))]
    action = g.choice(["replace", "replace", "replace", "delete", "add"])
    if action == "delete" and isinstance(node, dict):
        del node[key]
        return f"deleted {path}"
    if action == "add" and isinstance(node, dict):
        node["surprise"] = JUNK[int(g.integers(len(JUNK)))]
        return f"added 'surprise' beside {path}"
    node[key] = JUNK[int(g.integers(len(JUNK)))]
    return f"{path} = {node[key]!r}"


# ---------------------------------------------------------------- the subprocess that loads and predicts

RUNNER = r"""
import json, sys
import numpy as np, torch
import esnkit as ek
from esnkit.errors import NonFiniteStateError
from safetensors.torch import load_file
torch.set_num_threads(1)
cases = json.load(open(sys.argv[1]))
out = open(sys.argv[2], "w")
references = {}
for i, case in enumerate(cases):
    ref = case["reference"]
    if ref not in references:
        references[ref] = ek.load(ref).state_dict()
    row = {"i": i}
    try:
        model = ek.load(case["path"])
    except (ValueError, OSError) as exc:
        row.update(outcome="refused", type=type(exc).__name__, message=str(exc))
    except Exception as exc:
        row.update(outcome="wrong error", type=type(exc).__name__, message=str(exc))
    else:
        row["outcome"] = "loaded"
        state = model.state_dict()
        want = references[ref] if case["damaged"] else {**load_file(case["path"]), "_extra_state": None}
        row["same"] = set(state) == set(want) and all(
            k == "_extra_state" or (state[k].dtype == want[k].dtype and torch.equal(state[k], want[k]))
            for k in state
        ) and (not case["damaged"] or state["_extra_state"] == want["_extra_state"])
        x = model.state_x
        batch = x.shape[0] if x is not None else 1
        u = np.random.default_rng(i).normal(size=(batch, 30, model.input_size_))
        try:
            y = model.predict(u if batch > 1 else u[0])
            row["predict"] = "ok" if np.shape(y)[-2] == 30 else f"shape {np.shape(y)}"
        except NonFiniteStateError:
            row["predict"] = "diverged"
        except Exception as exc:
            row["predict"] = f"{type(exc).__name__}: {exc}"
    out.write(json.dumps(row) + "\n")
    out.flush()
"""


def _start(cases: list[dict], folder, name: str) -> tuple[subprocess.Popen, str]:
    spec, results = os.path.join(folder, f"{name}.json"), os.path.join(folder, f"{name}.results")
    with open(spec, "w") as f:
        json.dump(cases, f)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([SRC, os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, "-c", RUNNER, spec, results], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    return proc, results


def _finish(proc: subprocess.Popen, results: str, cases: list[dict]) -> list[dict]:
    output, _ = proc.communicate(timeout=240)
    rows = [json.loads(line) for line in open(results)] if os.path.exists(results) else []
    if proc.returncode != 0:
        crashed = cases[len(rows)]["what"] if len(rows) < len(cases) else "after the last case"
        pytest.fail(f"the loader process died (exit status {proc.returncode}) on case {len(rows)} "
                    f"({crashed}):\n{output[-3000:]}")
    assert len(rows) == len(cases)
    return rows


def _cases(folder, paths: dict[str, str], g: np.random.Generator) -> tuple[list[dict], list[dict]]:
    damaged, edited = [], []
    for name, path in paths.items():
        raw = open(path, "rb").read()
        tensors, config = ek.io.read(path, newest=FORMAT_VERSION)
        for j in range(110):
            data, what = _damage(raw, g)
            target = os.path.join(folder, f"{name}.damaged{j}")
            with open(target, "wb") as f:
                f.write(data)
            damaged.append({"path": target, "reference": path, "damaged": True, "what": f"{name}: {what}"})
        for j in range(60):
            t = {k: v.clone() for k, v in tensors.items()}
            c = json.loads(json.dumps(config))
            what = _edit(t, c, g)
            target = os.path.join(folder, f"{name}.edited{j}")
            ek.io.write(target, t, c)
            edited.append({"path": target, "reference": path, "damaged": False, "what": f"{name}: {what}"})
    return damaged, edited


def test_damaged_and_edited_files_never_crash_and_never_load_wrong(saved):
    folder, paths = saved
    damaged, edited = _cases(str(folder), paths, np.random.default_rng(SEED))
    runs = [(_start(cases, str(folder), kind), cases) for kind, cases in (("damaged", damaged), ("edited", edited))]
    problems, counts = [], {}
    for (proc, results), cases in runs:
        for row, case in zip(_finish(proc, results, cases), cases):
            what = case["what"]
            key = ("damaged" if case["damaged"] else "edited", row["outcome"])
            counts[key] = counts.get(key, 0) + 1
            if row["outcome"] == "wrong error":
                problems.append(f"{what}: {row['type']}: {row['message']}")
            elif row["outcome"] == "refused" and case["path"] not in row["message"]:
                problems.append(f"{what}: the message does not name the file: {row['message']}")
            elif row["outcome"] == "loaded":
                if not row["same"]:
                    problems.append(f"{what}: loaded, but not what the file holds" if not case["damaged"]
                                    else f"{what}: loaded a model that differs from the saved one")
                if row["predict"] not in ("ok", "diverged"):
                    problems.append(f"{what}: loaded, then predict failed: {row['predict']}")
    assert not problems, f"{len(problems)} bad outcome(s):\n" + "\n".join(problems[:40])
    # the fuzzing reached both outcomes, and the checksum caught every damage that changed a value
    assert counts.get(("damaged", "refused"), 0) > 300 and counts.get(("edited", "refused"), 0) > 100
    assert counts.get(("edited", "loaded"), 0) > 10


# ---------------------------------------------------------------- edits that the validation must name

def _tensor(name, change):
    def edit(tensors, config):
        tensors[name] = change(tensors[name].clone())

    return edit


def _set(name, index, value):
    def change(t):
        t[index] = value
        return t

    return _tensor(name, change)


def _config(path, value):
    def edit(tensors, config):
        node = config
        for k in path[:-1]:
            node = node[k]
        node[path[-1]] = value

    return edit


EDITS = {
    "a column past N": (_set("reservoir_.W_col", 3, 24 + 5), r"W_col\[3\] = 29 is not a column"),
    "a negative column": (_set("reservoir_.W_col", 0, -1), r"W_col\[0\] = -1 is not a column"),
    "decreasing row pointers": (_set("reservoir_.W_crow", 5, 0), r"W_crow must be non-decreasing"),
    "row pointers not from 0": (_set("reservoir_.W_crow", 0, 1), r"W_crow\[0\] must be 0"),
    "row pointers past nnz": (_set("reservoir_.W_crow", -1, 10**6), r"W_crow\[-1\] = 1000000 must equal"),
    "NaN in the readout": (_set("readout_.weight", (0, 3), float("nan")), r"readout_\.weight contains NaN"),
    "Inf in W": (_set("reservoir_.W_values", 7, float("inf")), r"W_values contains NaN or Inf"),
    "NaN in the carried state": (_set("state_x", (0, 2), float("nan")), r"state_x contains NaN"),
    "leak 0": (_set("reservoir_.leak", 4, 0.0), r"leak must lie in \(0, 1\], got leak\[4\] = 0"),
    "leak above 1": (_set("reservoir_.leak", 0, 1.5), r"leak must lie in \(0, 1\]"),
    "int32 columns": (_tensor("reservoir_.W_col", lambda t: t.int()), r"reservoir_\.W_col must be int64"),
    "float row pointers": (_tensor("reservoir_.W_crow", lambda t: t.double()), r"reservoir_\.W_crow must be int64"),
    "float32 W in a float64 model": (_tensor("reservoir_.W_values", lambda t: t.float()),
                                     r"reservoir_\.W_values is torch\.float32 but params\.dtype is torch\.float64"),
    "float16 everywhere": (lambda t, c: t.update({k: v.half() for k, v in t.items() if v.is_floating_point()}),
                           r"float16"),
    "W_in of the wrong width": (_tensor("reservoir_.W_in", lambda t: torch.cat([t, t], 1)),
                                r"reservoir_\.W_in has shape \(24, 2\), expected \(24, 1\)"),
    "a state of the wrong width": (_tensor("state_y", lambda t: torch.cat([t, t], 1)), r"state_y has shape"),
    "W_values shorter than W_col": (_tensor("reservoir_.W_values", lambda t: t[:-1]), r"W_values must have shape"),
    "a missing tensor": (lambda t, c: t.pop("reservoir_.bias"), r"missing \['reservoir_\.bias'\]"),
    "another reservoir size": (_config(["params", "reservoir_size"], 25),
                               r"other reservoir_size \(reservoir_size=24\)"),
    "another reservoir size, params of the state too": (
        lambda t, c: (_config(["params", "reservoir_size"], 25)(t, c), c["extra"].pop("params")),
        r"reservoir_\.bias has shape \(24,\)"),
    "a string size": (_config(["extra", "input_size"], "1"), r"extra state's input_size must be an integer"),
    "a bool size": (_config(["extra", "output_size"], True), r"extra state's output_size must be an integer"),
    "an unknown output kind": (_config(["extra", "output_kind"], "pickle"), r"output_kind must be one of"),
    "feedback wider than the outputs": (_config(["extra", "feedback_size"], 3), r"feedback_size must be 0 or"),
    "an unknown model": (_config(["model"], "GPT"), r"unknown model 'GPT'"),
    "params as a list": (_config(["params"], [1, 2]), r"params must be an object"),
    "an unfitted model": (_config(["extra", "fitted"], False), r"extra\.fitted must be true"),
    "an unknown activation": (_config(["params", "activation"], "gelu"), r"unknown activation 'gelu'"),
    "a bad parameter": (_config(["params", "spectral_radius"], -1), r"spectral_radius"),
}


@pytest.mark.parametrize("edit", EDITS)
def test_an_edited_file_with_a_valid_checksum_is_refused_naming_the_field(saved, tmp_path, edit):
    change, message = EDITS[edit]
    tensors, config = ek.io.read(saved[1]["plain64"], newest=FORMAT_VERSION)
    change(tensors, config)
    path = tmp_path / "edited.esnkit"
    ek.io.write(path, tensors, config)
    with pytest.raises(ValueError, match=message) as e:
        ek.load(path)
    assert str(path) in str(e.value)


def test_the_saved_models_themselves_load_bit_identical(saved):
    for path in saved[1].values():
        state = ek.load(path).state_dict()
        for k, v in load_file(path).items():
            assert state[k].dtype == v.dtype and torch.equal(state[k], v), (path, k)
