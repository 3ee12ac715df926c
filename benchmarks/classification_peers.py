"""Peer and baseline recipes for the Japanese Vowels sequence-classification benchmark.

Each recipe has the same signature::

    recipe(X_train, y_train, X_test, y_test, *, seed, n=500) -> dict

``X_*`` are lists of float64 arrays of shape (time, features) and different lengths, ``y_*`` integer
labels (1..9 on Japanese Vowels; any integer labels work). ``n`` is the reservoir size (ignored by the
recipes without a reservoir). The returned dict always holds either ``"skipped"`` (why the recipe did
not run) or:

- ``accuracy``: fraction of test utterances whose predicted label is right;
- ``train_s`` / ``train_cpu_s``: training time, wall clock (``time.perf_counter``) and this process's
  CPU time (``time.process_time``), for all training utterances together;
- ``predict_s_per_seq`` / ``predict_cpu_s_per_seq``: prediction time over all test utterances divided
  by their number, wall and process CPU;
- ``recipe``, ``seed``, ``params`` (the hyper-parameters used) and recipe-specific extras.

Run it with ``OMP_NUM_THREADS=1`` (and ``torch.set_num_threads(1)`` in the caller): with one thread the
CPU time is close to the wall time on a quiet machine and stays meaningful on a busy one.

The recipes
-----------
``reservoirpy_last_state`` (sequence-to-vector)
    reservoirpy's tutorial "Classification with Reservoir Computing" (``tutorials/5-Classification-
    with-RC.ipynb`` in https://github.com/reservoirpy/reservoirpy, the version written for the
    reservoirpy 0.4 API), section "Classification (sequence-to-vector model)": run a
    ``Reservoir(500, sr=0.9, lr=0.1)`` over each utterance from a zero state (``run`` then ``reset``),
    keep the state after the last frame, fit ``Ridge(ridge=1e-6)`` on those states against one-hot
    labels, predict the argmax of the readout on each test utterance's last state. Input scaling is
    reservoirpy's default (1.0), as in the tutorial; ``units`` is ``n`` and the reservoir's ``seed``
    is ``seed``.
``reservoirpy_per_step`` (sequence-to-sequence, "transduction")
    The same tutorial, section "Transduction (sequence-to-sequence model)": the readout sees the
    reservoir state and the input (``[source >> reservoir, source] >> readout``) with
    ``Reservoir(500, sr=0.05)`` (leak rate and input scaling at reservoirpy's default 1.0) and
    ``Ridge(ridge=1e-1)``, trained with ``fit(..., warmup=2)`` on every time step against the
    utterance's one-hot label repeated along time. The tutorial scores the per-time-step argmax
    (reported here as ``per_step_accuracy``) and says nothing about one label per utterance; here
    an utterance's label is the argmax of the readout output averaged over all its time steps
    (``accuracy``), and the majority vote of the per-step argmaxes is reported as ``vote_accuracy``.
    Unlike the tutorial's literal code, the model is reset before predicting, so every test
    utterance starts from the zero state that every training utterance started from (without the
    reset, in reservoirpy 0.4 every test utterance would start from the final state of the last
    training utterance).
``logistic_summary`` (no reservoir)
    Each utterance summarised by the per-coefficient mean, standard deviation, first frame and last
    frame (4 x 12 = 48 features), standardised (``StandardScaler`` fitted on the training set), then
    scikit-learn's multinomial ``LogisticRegression`` with the fixed default C = 1.0 (no tuning,
    hence nothing fitted on the test set) and lbfgs. Deterministic: ``seed`` changes nothing.
``minirocket`` (no reservoir)
    aeon's ``MiniRocketClassifier`` (multivariate MiniRocket transform, 10,000 kernels, at most 32
    dilations per kernel, ``StandardScaler(with_mean=False)`` and ``RidgeClassifierCV`` over
    ``alphas=np.logspace(-3, 3, 10)`` -- aeon's defaults), ``random_state=seed``, ``n_jobs=1``.
    aeon's MiniRocket needs equal lengths: every utterance is padded to the longest training
    utterance (29 frames on Japanese Vowels) by repeating its last frame (a longer test utterance
    would be cut to that length; none is on Japanese Vowels). aeon needs numba, which is not in
    esnkit's environment: when aeon cannot be imported here the recipe runs in a subprocess of the
    interpreter named by ``ESNKIT_MINIROCKET_PYTHON`` (default ``/work/bench-venv/bin/python``)
    through ``_minirocket_worker.py``, and times itself there. numba compiles on first use and
    the first fit in a fresh process is slower (lazy imports): an untimed warm-up fit and prediction
    on the same data (its wall time reported as ``warmup_s``) runs first, so the timings are steady
    state, as for the other recipes called repeatedly in one process.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
MINIROCKET_PYTHON = os.environ.get("ESNKIT_MINIROCKET_PYTHON", "/work/bench-venv/bin/python")

LAST_STATE_PARAMS = {"sr": 0.9, "lr": 0.1, "input_scaling": 1.0, "ridge": 1e-6}
PER_STEP_PARAMS = {"sr": 0.05, "lr": 1.0, "input_scaling": 1.0, "ridge": 1e-1, "warmup": 2}
LOGISTIC_PARAMS = {"C": 1.0, "solver": "lbfgs", "max_iter": 10_000, "features": "mean,std,first,last"}
MINIROCKET_PARAMS = {"n_kernels": 10_000, "max_dilations_per_kernel": 32, "pad": "repeat last frame"}


class _Clock:
    """Wall and process CPU time of a ``with`` block."""

    def __enter__(self) -> _Clock:
        self._cpu0 = time.process_time()
        self._wall0 = time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        self.wall = time.perf_counter() - self._wall0
        self.cpu = time.process_time() - self._cpu0


def _as_series(X) -> list[np.ndarray]:
    out = [np.ascontiguousarray(x, dtype=np.float64) for x in X]
    for x in out:
        if x.ndim != 2 or len(x) == 0:
            raise ValueError(f"each sequence must be a non-empty (time, features) array, got shape {x.shape}")
    return out


def _result(name, seed, params, accuracy, train: _Clock, predict: _Clock, n_test: int, **extra) -> dict:
    return {
        "recipe": name,
        "seed": seed,
        "params": params,
        "accuracy": float(accuracy),
        "train_s": train.wall,
        "train_cpu_s": train.cpu,
        "predict_s_per_seq": predict.wall / n_test,
        "predict_cpu_s_per_seq": predict.cpu / n_test,
        **extra,
    }


def _reservoirpy_nodes():
    try:
        from reservoirpy.nodes import Input, Reservoir, Ridge
    except ImportError as err:
        return None, f"reservoirpy not importable: {err}"
    return (Input, Reservoir, Ridge), None


def _prepare(X_train, y_train, X_test, y_test):
    """Float64 series, label arrays, the sorted training classes and the one-hot training targets."""
    y_train, y_test = np.asarray(y_train), np.asarray(y_test)
    classes = np.unique(y_train)
    onehot = (y_train[:, None] == classes[None, :]).astype(np.float64)
    return _as_series(X_train), y_train, _as_series(X_test), y_test, classes, onehot


def reservoirpy_last_state(X_train, y_train, X_test, y_test, *, seed: int, n: int = 500) -> dict:
    """reservoirpy's documented sequence-to-vector recipe: Ridge on each utterance's last state."""
    nodes, why = _reservoirpy_nodes()
    if nodes is None:
        return {"recipe": "reservoirpy_last_state", "skipped": why}
    _, Reservoir, Ridge = nodes
    X_train, y_train, X_test, y_test, classes, targets = _prepare(X_train, y_train, X_test, y_test)
    p = LAST_STATE_PARAMS

    with _Clock() as train:
        reservoir = Reservoir(n, sr=p["sr"], lr=p["lr"], input_scaling=p["input_scaling"], seed=seed)
        readout = Ridge(ridge=p["ridge"])
        last = np.empty((len(X_train), n))
        for i, x in enumerate(X_train):
            last[i] = reservoir.run(x)[-1]
            reservoir.reset()
        readout.fit(last, targets)

    with _Clock() as predict:
        pred = np.empty(len(X_test), dtype=classes.dtype)
        for i, x in enumerate(X_test):
            state = reservoir.run(x)[-1:]
            reservoir.reset()
            pred[i] = classes[np.argmax(readout.run(state)[0])]

    return _result("reservoirpy_last_state", seed, {"units": n, **p}, np.mean(pred == y_test), train, predict,
                   len(X_test))


def reservoirpy_per_step(X_train, y_train, X_test, y_test, *, seed: int, n: int = 500) -> dict:
    """reservoirpy's documented transduction recipe: Ridge on every time step, one label per utterance."""
    nodes, why = _reservoirpy_nodes()
    if nodes is None:
        return {"recipe": "reservoirpy_per_step", "skipped": why}
    Input, Reservoir, Ridge = nodes
    X_train, y_train, X_test, y_test, classes, onehot = _prepare(X_train, y_train, X_test, y_test)
    targets = [np.repeat(onehot[i : i + 1], len(x), axis=0) for i, x in enumerate(X_train)]
    p = PER_STEP_PARAMS

    with _Clock() as train:
        source = Input()
        reservoir = Reservoir(n, sr=p["sr"], lr=p["lr"], input_scaling=p["input_scaling"], seed=seed)
        readout = Ridge(ridge=p["ridge"])
        model = [source >> reservoir, source] >> readout
        model.fit(X_train, targets, warmup=p["warmup"])

    with _Clock() as predict:
        model.reset()
        outputs = model.run(X_test)
        pred = classes[np.array([np.argmax(out.mean(axis=0)) for out in outputs])]

    step_hits = np.concatenate([np.argmax(out, axis=1) == np.searchsorted(classes, y) for out, y in
                                zip(outputs, y_test, strict=True)])
    votes = classes[[np.bincount(np.argmax(out, axis=1), minlength=len(classes)).argmax() for out in outputs]]
    return _result("reservoirpy_per_step", seed, {"units": n, **p, "label": "argmax of the mean output"},
                   np.mean(pred == y_test), train, predict, len(X_test),
                   per_step_accuracy=float(step_hits.mean()), vote_accuracy=float(np.mean(votes == y_test)))


def summary_features(X) -> np.ndarray:
    """Per-utterance mean, std, first and last frame, concatenated: (n_utterances, 4 * features)."""
    return np.stack([np.concatenate([x.mean(axis=0), x.std(axis=0), x[0], x[-1]]) for x in X])


def logistic_summary(X_train, y_train, X_test, y_test, *, seed: int, n: int = 500) -> dict:
    """Multinomial logistic regression on standardised summary features (no reservoir; ``n`` unused)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X_train, y_train, X_test, y_test, _, _ = _prepare(X_train, y_train, X_test, y_test)
    p = LOGISTIC_PARAMS

    with _Clock() as train:
        model = make_pipeline(StandardScaler(),
                              LogisticRegression(C=p["C"], solver=p["solver"], max_iter=p["max_iter"],
                                                 random_state=seed))
        model.fit(summary_features(X_train), y_train)

    with _Clock() as predict:
        pred = model.predict(summary_features(X_test))

    return _result("logistic_summary", seed, dict(p), np.mean(pred == y_test), train, predict, len(X_test))


def pad_repeat_last(X, length: int) -> np.ndarray:
    """(n, features, length) array: each series cut or padded to ``length`` by repeating its last frame."""
    out = np.empty((len(X), X[0].shape[1], length))
    for i, x in enumerate(X):
        x = x[:length]
        out[i, :, : len(x)] = x.T
        out[i, :, len(x) :] = x[-1][:, None]
    return out


def _minirocket_run(X_train, y_train, X_test, y_test, seed: int) -> dict:
    """The MiniRocket recipe in a process where aeon imports; times itself."""
    from aeon.classification.convolution_based import MiniRocketClassifier

    length = max(len(x) for x in X_train)
    p = MINIROCKET_PARAMS

    def classifier():
        return MiniRocketClassifier(n_kernels=p["n_kernels"], max_dilations_per_kernel=p["max_dilations_per_kernel"],
                                    n_jobs=1, random_state=seed)

    with _Clock() as warmup:  # numba compilation (or loading its cache), lazy imports: not part of the timings
        classifier().fit(pad_repeat_last(X_train, length), y_train).predict(pad_repeat_last(X_test, length))

    with _Clock() as train:
        model = classifier()
        model.fit(pad_repeat_last(X_train, length), y_train)

    with _Clock() as predict:
        pred = model.predict(pad_repeat_last(X_test, length))

    import aeon

    return _result("minirocket", seed, {**p, "padded_length": length, "aeon": aeon.__version__},
                   np.mean(pred == y_test), train, predict, len(X_test), warmup_s=warmup.wall)


def _aeon_importable() -> bool:
    try:
        import aeon.classification.convolution_based  # noqa: F401
    except Exception:
        return False
    return True


def minirocket(X_train, y_train, X_test, y_test, *, seed: int, n: int = 500, timeout: float = 900) -> dict:
    """aeon's MiniRocket + RidgeClassifierCV on padded utterances (no reservoir; ``n`` unused)."""
    X_train, y_train, X_test, y_test, _, _ = _prepare(X_train, y_train, X_test, y_test)
    if _aeon_importable():
        return {**_minirocket_run(X_train, y_train, X_test, y_test, seed), "where": "in process"}
    if not Path(MINIROCKET_PYTHON).exists():
        return {"recipe": "minirocket",
                "skipped": f"aeon is not importable here and {MINIROCKET_PYTHON} (ESNKIT_MINIROCKET_PYTHON) is missing"}
    with tempfile.TemporaryDirectory(prefix="esnkit-minirocket-") as tmp:
        np.savez(Path(tmp) / "in.npz", seed=seed, y_train=y_train, y_test=y_test,
                 train=np.concatenate(X_train), train_len=[len(x) for x in X_train],
                 test=np.concatenate(X_test), test_len=[len(x) for x in X_test])
        t0 = time.perf_counter()
        try:
            done = subprocess.run([MINIROCKET_PYTHON, str(HERE / "_minirocket_worker.py"), tmp],
                                  capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return {"recipe": "minirocket", "skipped": f"{MINIROCKET_PYTHON} ran past {timeout} s"}
        total = time.perf_counter() - t0
        out = Path(tmp) / "out.json"
        if done.returncode != 0 or not out.exists():
            tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
            return {"recipe": "minirocket", "skipped": f"{MINIROCKET_PYTHON} failed (exit {done.returncode}): "
                                                        + " | ".join(tail)}
        result = json.loads(out.read_text())
    return {**result, "where": f"subprocess {MINIROCKET_PYTHON}", "subprocess_wall_s": total}


RECIPES = {
    "reservoirpy_last_state": reservoirpy_last_state,
    "reservoirpy_per_step": reservoirpy_per_step,
    "logistic_summary": logistic_summary,
    "minirocket": minirocket,
}
