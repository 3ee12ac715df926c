"""Sequence classification with reservoirs: :class:`ESNClassifier`.

Each sequence runs through the frozen reservoir(s) from the zero state (all sequences of a batch
or list in one pass, whatever their lengths), its states are pooled into one feature vector
(:class:`~esnkit.readout.Pooling`: e.g. the mean and the last state, plus the input's mean and
standard deviation), and a linear readout maps that vector to class scores::

    x[t] = (1 - a) x[t-1] + a tanh(W x[t-1] + W_in u[t] + b),   x[-1] = 0
    f    = [mean u; std u; mean_t x; x[L-1]]            (pooling="mean+last")
    d    = W_out [1; f],    class = argmax d,    P(class) = softmax(T d)

``W_out`` is ridge regression on one-hot targets over standardised features, in closed form
(:mod:`esnkit.readout.classification`), or multinomial logistic regression (``readout="logistic"``).
With ``pooling="steps"`` the readout is trained on every time step instead (the sequence's label
repeated), and a sequence's decision is the average of its steps' decisions (a soft vote).
``n_reservoirs=K`` runs K reservoirs of different seeds in the same pass and averages their
decisions (an ensemble vote).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from .. import _alloc, _memory, params
from .._series import Batch, to_batch
from ..errors import NotFittedError, import_extra
from ..params import is_int, is_real
from ..readout import (
    INPUT_SUMMARIES,
    NormalEquations,
    Pooling,
    Ridge,
    Standardization,
    StateInputs,
    fit_temperature,
    leave_one_out,
    parse_input_summary,
    parse_pools,
    softmax,
    solve_classifier,
)
from ..reservoir import Activation, Reservoir
from .engine import chunk_steps, harvest, pool, run
from .esn import ESN
from .reservoir_model import ReservoirModel, using
from .scaling import standardisation, standardised

_D = params.DEFAULTS
READOUTS = ("ridge", "logistic")
# The reservoir parameters an ESNClassifier passes to the ESN that draws (and checks) its reservoirs.
RESERVOIR_PARAMS = ("reservoir_size", "spectral_radius", "initializer", "connectivity", "in_degree", "leak_rate",
                    "input_scaling",
                    "input_connectivity", "bias_scaling", "activation", "ridge", "solver", "washout", "chunk_size",
                    "dtype", "device")


def member_seed(seed: int | None, k: int) -> int | None:
    """The seed of member ``k`` of an ensemble seeded ``seed``: ``seed`` itself for the first (so one
    reservoir is the one ``ESN(seed=seed)`` draws), independent streams for the others."""
    if seed is None or k == 0:
        return seed
    return int(np.random.SeedSequence([int(seed), k]).generate_state(1, dtype=np.uint32)[0])


def _labels(y: Any, n: int | None) -> np.ndarray:
    """``y`` as a 1-D NumPy array of class labels (numbers or strings), ``n`` of them."""
    if isinstance(y, torch.Tensor):
        y = y.detach().cpu().numpy()
    try:
        arr = np.asarray(y)
    except Exception as exc:  # noqa: BLE001 - ragged nested lists and the like
        raise TypeError(f"y must be a 1-D array of class labels, got {type(y).__name__}: {exc}") from None
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1:
        raise ValueError(f"y must be a 1-D array of class labels, one per sequence, got shape {arr.shape}")
    if n is not None and arr.shape[0] != n:
        raise ValueError(f"y holds {arr.shape[0]} label(s) but X holds {n} sequence(s): give one label per sequence")
    kind = arr.dtype.kind
    if kind == "f":
        if not np.all(np.isfinite(arr)):
            raise ValueError("y holds NaN or infinite labels")
        if not np.all(arr == np.round(arr)):
            bad = arr[arr != np.round(arr)][0]
            raise ValueError(f"y holds continuous values (e.g. {bad!r}), not class labels: a classifier needs "
                             "labels such as integers or strings (use an ESN for regression)")
    elif kind == "O":
        types = {type(v) for v in arr}
        if None in set(arr.tolist()):
            raise ValueError("y holds None as a label")
        if all(issubclass(t, str) for t in types):
            return arr.astype(str)
        if all(issubclass(t, (bool, np.bool_)) for t in types):
            return arr.astype(bool)
        if all(issubclass(t, (int, np.integer)) and not issubclass(t, (bool, np.bool_)) for t in types):
            return arr.astype(np.int64)
        raise TypeError(f"y must hold labels of one kind (all strings, all integers or all booleans), got "
                        f"{sorted(t.__name__ for t in types)}")
    elif kind == "S":
        return arr.astype(str)
    elif kind not in "iubUS":
        raise TypeError(f"y must hold class labels (integers, booleans or strings), got dtype {arr.dtype}")
    return arr


def _sequences(X: Any, name: str, dtype: torch.dtype, device: torch.device, features: int | None = None) -> Batch:
    """``X`` as a padded batch: a list of (time, features) sequences, a (sequences, time, features)
    array, or a (sequences, time) array of univariate sequences."""
    if isinstance(X, (list, tuple)) and X and not all(isinstance(s, (np.ndarray, torch.Tensor)) for s in X):
        try:
            X = np.asarray(X)
        except ValueError:
            raise ValueError(f"{name} is a nested list whose rows differ in length: give a list of (time, features) "
                             "arrays for sequences of different lengths") from None
    if isinstance(X, (list, tuple)):
        if not X:
            raise ValueError(f"{name} holds no sequences")
        if all(getattr(s, "ndim", 2) == 1 for s in X):  # univariate sequences as 1-D arrays
            X = [s[:, None] for s in X]
        b = to_batch(list(X), name, dtype=dtype, device=device)
    else:
        ndim = getattr(X, "ndim", None)
        if ndim is None:
            raise TypeError(f"{name} must be a list of (time, features) sequences or an array of shape "
                            f"(sequences, time[, features]), got {type(X).__name__}")
        if ndim == 2:
            X = X[..., None]
        elif ndim != 3:
            raise ValueError(f"{name} must be a list of (time, features) sequences or an array of shape "
                             f"(sequences, time) or (sequences, time, features), got shape {tuple(X.shape)}")
        b = to_batch(X, name, dtype=dtype, device=device)
    if features is not None and b.features != features:
        hint = (" (a 2-D array is read as (sequences, time) univariate sequences: pass one (time, features) "
                "sequence as a list, [x])") if getattr(X, "ndim", 0) == 3 and b.features == 1 else ""
        raise ValueError(f"{name} has {b.features} feature(s) per step but the classifier was fitted on "
                         f"{features}{hint}")
    return b


class ESNClassifier(ReservoirModel):
    """Sequence classifier: frozen reservoir(s), pooled states, a closed-form (or logistic) readout.

    Parameters
    ----------
    reservoir_size, spectral_radius, initializer, connectivity, in_degree, leak_rate, input_scaling,
    input_connectivity, bias_scaling, activation, solver, chunk_size, dtype, device :
        the reservoir's, as for :class:`~esnkit.ESN` (no output feedback). An initializer callable or
        matrix is saved as 'custom' (the file keeps the drawn reservoirs, so a loaded model predicts as
        saved); loading makes the first reservoir's W the initializer, so refitting a loaded ensemble
        (``n_reservoirs > 1``) whose callable drew each member its own W gives every member that one.
    ridge : λ ≥ 0, the readout's regularisation on standardised features (``readout="logistic"``:
        sklearn's ``C = 1 / ridge``; λ must then be > 0).
    washout : steps at the start of every sequence left out of the pooled averages (and, with
        ``pooling="steps"``, out of the training rows). Every sequence must be longer.
    pooling : how a sequence's states become one vector: pool names joined by '+' among 'mean',
        'max', 'last', 'first', 'last<k>' (the last k states), 'at<k>' (k evenly spaced snapshots,
        the first and last included), 'seg<k>' (the ends of k equal segments), 'model' (the
        reservoir model space: the sequence's ridge model of its next input from its state), e.g.
        'mean+last'; or
        'steps': train on every step and average the steps' decisions (see the module docstring and
        :class:`~esnkit.readout.Pooling`).
    input_summary : the inputs' own features beside the pooled states: 'mean+std' (default; their
        per-sequence mean and standard deviation), any of 'mean', 'std' and the position pools
        'last', 'first', 'last<k>', 'at<k>', 'seg<k>' (the inputs at those steps) joined by '+', or
        None. ``pooling="seg3", input_summary="seg3"`` is Jaeger et al. (2007)'s representation,
        ``[u; x]`` at three support points. ('steps' uses the inputs' mean only.)
    readout : 'ridge' (closed form, default) or 'logistic' (scikit-learn's multinomial logistic
        regression on the pooled features; needs scikit-learn).
    class_weight : None, 'balanced' (each sequence weighted by n / (classes · its class's count)), or
        a dict {label: weight ≥ 0} (labels it does not name weigh 1).
    scale : standardise every input feature with the training frames' mean and standard deviation
        (stored with the model and applied to every later input). Default True.
    n_reservoirs : K ≥ 1 reservoirs (seeds derived from ``seed``) whose decisions are averaged.
    seed : integer seed; the same seed gives bit-identical weights and results on the same machine.

    Shapes: ``X`` is a list of ``(time, features)`` sequences of any lengths, an array
    ``(sequences, time, features)``, or ``(sequences, time)`` for univariate sequences; ``y`` holds
    one label per sequence (integers, booleans or strings). Results are NumPy arrays whatever the
    input's type (labels may be strings, which no tensor holds).

    Fitted attributes: ``classes_`` (sorted labels), ``reservoirs_`` (K :class:`~esnkit.Reservoir`),
    ``weight_`` (K, classes, 1 + F), ``temperature_``, ``input_size_``, ``n_features_`` (F).
    ``predict_proba`` is ``softmax(T d)`` of the averaged decision values ``d``; for the ridge
    readout ``T`` minimises the log-loss of the leave-one-out decisions of the training sequences
    (``pooling="steps"``: of their in-sample decisions), for the logistic readout ``T = 1``.
    """

    _estimator_type = "classifier"

    def __init__(
        self,
        reservoir_size: int = _D["reservoir_size"],
        *,
        spectral_radius: float = _D["spectral_radius"],
        initializer: Any = _D["initializer"],
        connectivity: float | None = _D["connectivity"],
        in_degree: int | None = _D["in_degree"],
        leak_rate: float | np.ndarray | list[float] = 0.2,
        input_scaling: float | np.ndarray | list[float] = 0.5,
        input_connectivity: float = _D["input_connectivity"],
        bias_scaling: float = _D["bias_scaling"],
        activation: Activation = _D["activation"],
        ridge: float = 1.0,
        solver: str = _D["solver"],
        washout: int = 0,
        pooling: str = "mean+last",
        input_summary: str | None = "mean+std",
        readout: str = "ridge",
        class_weight: str | None = None,
        scale: bool = True,
        n_reservoirs: int = 1,
        chunk_size: int | None = _D["chunk_size"],
        seed: int | None = _D["seed"],
        dtype: torch.dtype | str | Any = _D["dtype"],
        device: torch.device | str | None = _D["device"],
    ) -> None:
        super().__init__()
        self.activation = activation
        vars(self).update(
            reservoir_size=reservoir_size, spectral_radius=spectral_radius, initializer=initializer,
            connectivity=connectivity,
            in_degree=in_degree, leak_rate=leak_rate, input_scaling=input_scaling,
            input_connectivity=input_connectivity, bias_scaling=bias_scaling, ridge=ridge, solver=solver,
            washout=washout, pooling=pooling, input_summary=input_summary, readout=readout,
            class_weight=class_weight, scale=scale, n_reservoirs=n_reservoirs, chunk_size=chunk_size, seed=seed,
            dtype=dtype, device=device,
        )
        self._check_params()
        self.reservoirs_: nn.ModuleList | None = None
        self.classes_: np.ndarray | None = None
        for name in ("weight_", "temperature_", "input_mean_", "input_scale_"):
            self.register_buffer(name, None)

    # ------------------------------------------------------------------ parameters
    def _esn(self, k: int = 0) -> ESN:
        """The ESN whose parameters draw (and check) member ``k``'s reservoir."""
        p = {n: getattr(self, n) for n in RESERVOIR_PARAMS}
        if not (is_real(p["ridge"]) and math.isfinite(p["ridge"]) and p["ridge"] >= 0):
            p["ridge"] = _D["ridge"]  # _check_params names a bad ridge itself
        return ESN(**p, seed=member_seed(self.seed, k))

    def _json_params(self, p: dict[str, Any]) -> dict[str, Any]:
        return p if isinstance(self.initializer, str) else {**p, "initializer": "custom"}

    def _check_params(self) -> None:
        if not (is_real(self.ridge) and math.isfinite(self.ridge) and self.ridge >= 0):
            raise ValueError(f"ridge must be a finite number >= 0, got {self.ridge!r}")
        self._esn()  # the reservoir's parameters, as ESN checks them
        if self.pooling != "steps":
            parse_pools(self.pooling)
        self._input_summary()
        if self.readout not in READOUTS:
            raise ValueError(f"readout must be one of {READOUTS}, got {self.readout!r}")
        if self.readout == "logistic":
            if not self.ridge > 0:
                raise ValueError(f"readout='logistic' needs ridge > 0 (its C is 1 / ridge), got {self.ridge!r}")
            if self.pooling == "steps":
                raise ValueError("readout='logistic' fits pooled features: use a pooling other than 'steps'")
        cw = self.class_weight
        if isinstance(cw, dict):
            bad = [v for v in cw.values() if not (is_real(v) and math.isfinite(v) and v >= 0)]
            if bad:
                raise ValueError(f"class_weight's weights must be finite numbers >= 0, got {bad[0]!r}")
        elif cw not in (None, "balanced"):
            raise ValueError(f"class_weight must be None, 'balanced' or a dict {{label: weight}}, got {cw!r}")
        positions = [i for i in self._input_summary() if i not in INPUT_SUMMARIES]
        if positions and self.pooling == "steps":
            raise ValueError(f"input_summary={self.input_summary!r} names input positions ({'+'.join(positions)}), "
                             "which only pooled features have: pooling='steps' trains on every step's inputs")
        if self.class_weight is not None and self.pooling == "steps":
            raise ValueError("class_weight weights pooled sequences: it does not apply to pooling='steps'")
        if not isinstance(self.scale, (bool, np.bool_)):
            raise TypeError(f"scale must be True or False, got {self.scale!r}")
        if not is_int(self.n_reservoirs) or not 1 <= self.n_reservoirs <= 1000:
            raise ValueError(f"n_reservoirs must be an integer from 1 to 1000, got {self.n_reservoirs!r}")

    def _input_summary(self) -> tuple[str, ...]:
        s = self.input_summary
        if s is not None and not isinstance(s, str):
            raise TypeError(f"input_summary must be a string such as 'mean+std' or None, got {s!r}")
        return parse_input_summary(s, "input_summary")

    def _pooling(self) -> Pooling:
        if self.pooling == "steps":  # the average of the per-step features [u; x]
            return Pooling(("mean",), inputs=("mean",))
        return Pooling(self.pooling, inputs=self._input_summary())

    # ------------------------------------------------------------------ fitted model
    @property
    def is_fitted(self) -> bool:
        return self.weight_ is not None

    def _fitted_tensor(self) -> torch.Tensor | None:
        return self.weight_

    def _require_fitted(self, what: str) -> None:
        if self.weight_ is None:
            raise NotFittedError(f"this ESNClassifier is not fitted yet: call fit(X, y) before {using(what)}")

    @property
    def input_size_(self) -> int:
        """Input features per step the classifier was fitted on."""
        self._require_fitted("input_size_")
        return self.reservoirs_[0].input_size

    @property
    def n_features_(self) -> int:
        """Pooled features per sequence (F), before the constant."""
        self._require_fitted("n_features_")
        return self.weight_.shape[-1] - 1

    # ------------------------------------------------------------------ data
    def _inputs(self, X: Any, *, fitting: bool = False) -> Batch:
        dtype, device = self._dtype_device() if fitting else self._run_dtype_device()
        U = _sequences(X, "X", dtype, device, None if fitting else self.input_size_)
        short = [i for i, n in enumerate(U.lengths) if n <= self.washout]
        if short:
            raise ValueError(f"sequence {short[0]} of X has {U.lengths[short[0]]} step(s), not more than washout="
                             f"{self.washout}: every sequence must be longer than the washout")
        return U

    def _scaled(self, U: Batch) -> Batch:
        if self.input_mean_ is None:
            return U
        return standardised(U, self.input_mean_, self.input_scale_)

    def _set_scaling(self, U: Batch, sequences: np.ndarray | None = None) -> None:
        """The input standardisation from the frames of ``U``'s sequences (only ``sequences``, when given)."""
        if not self.scale:
            self.input_mean_ = self.input_scale_ = None
            return
        mean, sd = standardisation(U, sequences=None if sequences is None else np.asarray(sequences).tolist())
        self.input_mean_, self.input_scale_ = mean.to(U.data.dtype), sd.to(U.data.dtype)

    def _require_memory(self, U: Batch, steps_mode: bool) -> None:
        dtype, device = self._dtype_device()
        K, N, B = self.n_reservoirs, self.reservoir_size, U.batch_size
        pooling = self._pooling()
        F = pooling.size(N, U.features) + 1
        n = min(U.steps, chunk_steps(self.chunk_size, B, K * N))
        item = torch.finfo(dtype).bits // 8
        need = (B * n * K * N * item * (2 if steps_mode else 1) + 8 * K * (F * F + B * F)
                + pooling.memory(B, N, U.features, K))
        _memory.require_memory(need, f"classifying {B} sequences with {K} reservoir(s) of size {N}",
                               "use a smaller reservoir_size, chunk_size or n_reservoirs, or fewer or shorter pools (a "
                               "smaller k in last<k>, at<k>, seg<k>)", device)

    # ------------------------------------------------------------------ fit
    def fit(self, X: Any, y: Any) -> ESNClassifier:
        """Fit on sequences ``X`` (see the class docstring for its forms) and their labels ``y``.
        Every sequence runs from the zero state, so ``fit`` depends only on the parameters and the
        data: fitting twice gives bit-identical weights. Returns ``self``."""
        self._check_params()
        U = self._inputs(X, fitting=True)
        labels = _labels(y, U.batch_size)
        classes, index = np.unique(labels, return_inverse=True)
        if len(classes) < 2:
            raise ValueError(f"y holds one class ({classes[0].item()!r}): a classifier needs at least two classes "
                             "to fit")
        steps_mode = self.pooling == "steps"
        self._require_memory(U, steps_mode)
        self._set_scaling(U)
        U = self._scaled(U)
        members = [self._esn(k) for k in range(self.n_reservoirs)]
        reservoirs = [m._build_reservoir(U.features, 0) for m in members]
        for m, r in zip(members, reservoirs):
            m._check_echo_state(r, stacklevel=4)
        idx = torch.as_tensor(index, dtype=torch.int64)
        C = len(classes)
        onehot = torch.nn.functional.one_hot(idx, C).to(torch.float64)
        class_w = self._class_weights(classes, index)
        weights = torch.as_tensor(class_w[index], dtype=torch.float64)
        if not float(weights.sum()) > 0:
            raise ValueError("class_weight gives every sequence weight 0: nothing is left to fit")
        if steps_mode:
            W, T = self._fit_steps(reservoirs, U, onehot, idx)
        else:
            W, T = self._fit_pooled(reservoirs, U, onehot, idx, weights)
        self.reservoirs_ = nn.ModuleList(reservoirs)
        self.weight_ = W.to(U.data.dtype)
        self.temperature_ = torch.tensor(T, dtype=U.data.dtype, device=U.data.device)
        self.classes_ = classes
        return self

    def _class_weights(self, classes: np.ndarray, index: np.ndarray) -> np.ndarray:
        """One weight per class (1 without ``class_weight``)."""
        C = len(classes)
        if self.class_weight is None:
            return np.ones(C)
        if self.class_weight == "balanced":
            return len(index) / (C * np.maximum(np.bincount(index, minlength=C), 1))
        # keys are matched by their text as well, so a dict read back from a saved model's JSON
        # (whose keys are strings) weighs the same classes
        by_text = {str(k): float(v) for k, v in self.class_weight.items()}
        names = {str(c) for c in classes.tolist()}
        unknown = [k for k in by_text if k not in names]
        if unknown:
            raise ValueError(f"class_weight names label {unknown[0]!r}, which is not among y's classes "
                             f"{classes.tolist()}")
        return np.array([by_text.get(str(c), 1.0) for c in classes.tolist()])

    def _features(self, reservoirs: Sequence[Reservoir], U: Batch) -> torch.Tensor:
        """Rows ``[1; f]`` (K, B, 1+F) of every sequence for every member."""
        Z = pool(reservoirs, U, self._pooling(), washout=self.washout, chunk_size=self.chunk_size)
        ones = torch.ones(*Z.shape[:2], 1, dtype=torch.float64, device=Z.device)
        return torch.cat([ones, Z.to(torch.float64)], dim=2)

    def _fit_pooled(self, reservoirs, U: Batch, onehot, idx, weights) -> tuple[torch.Tensor, float]:
        Z = self._features(reservoirs, U)
        K, B, F1 = Z.shape
        device = Z.device
        onehot, weights = onehot.to(device), weights.to(device)
        root = weights.sqrt()[:, None]
        Ws, decisions = [], []
        for k in range(K):
            eq = NormalEquations(F1, onehot.shape[1], device)  # the streaming trainer's accumulation
            eq.update(Z[k] * root, onehot * root)
            if self.readout == "ridge":
                fit = solve_classifier(eq.G, eq.C, self.ridge, self._solver())
                W = fit.weight
                decisions.append(leave_one_out(Z[k], onehot, weights, fit, self.ridge))
            else:
                W = self._logistic(eq.G, Z[k], idx, onehot.shape[1], weights)
            Ws.append(W)
        T = 1.0
        if self.readout == "ridge":
            T = fit_temperature(torch.stack(decisions).mean(dim=0), idx.to(device), weights)
        return torch.stack(Ws), T

    def _solver(self) -> str:
        return "auto" if self.solver == "lstsq" else self.solver

    def _logistic(self, G: torch.Tensor, Z: torch.Tensor, idx: torch.Tensor, C: int, weights: torch.Tensor
                  ) -> torch.Tensor:
        """Multinomial logistic regression on the standardised features, as weights on raw rows."""
        lm = import_extra("sklearn.linear_model", "sklearn", "readout='logistic'")
        std = Standardization(G)
        Zs = std.rows(Z)[:, 1:].cpu().numpy()
        model = lm.LogisticRegression(C=1.0 / self.ridge, max_iter=1000)
        model.fit(Zs, idx.cpu().numpy(), sample_weight=weights.cpu().numpy())
        coef = np.concatenate([model.intercept_[:, None], model.coef_], axis=1)
        if C == 2:  # one logit for class 1: softmax([0, d]) is its sigmoid
            coef = np.concatenate([np.zeros_like(coef), coef], axis=0)
        return std.raw(torch.as_tensor(coef, dtype=torch.float64, device=G.device))

    def _fit_steps(self, reservoirs, U: Batch, onehot, idx) -> tuple[torch.Tensor, float]:
        """Every step after the washout is a training row ``[1; u; x]`` with its sequence's label."""
        dtype, device = U.data.dtype, U.data.device
        targets = onehot.to(device=device, dtype=dtype)[:, None, :].expand(-1, U.steps, -1).contiguous()
        Y = Batch(targets, U.lengths, U.layout, U.kind)
        # the trainers only accumulate G and C here: solve_classifier standardises and solves them
        h = harvest(reservoirs, U, Y, [Ridge(0.0)] * len(reservoirs), features=StateInputs(bias=True, inputs=True),
                    washout=self.washout, chunk_size=self.chunk_size)
        W = torch.stack([solve_classifier(f.G, f.C, self.ridge, self._solver()).weight for f in h.fits])
        d = (self._features(reservoirs, U) @ W.mT).mean(dim=0)  # in-sample sequence decisions
        return W, fit_temperature(d, idx.to(device))

    # ------------------------------------------------------------------ prediction
    def _decisions(self, X: Any) -> torch.Tensor:
        self._require_fitted("decision_function")
        U = self._scaled(self._inputs(X))
        Z = self._features(list(self.reservoirs_), U)
        return (Z @ self.weight_.to(torch.float64).mT).mean(dim=0)  # (B, classes)

    def decision_function(self, X: Any) -> np.ndarray:
        """Decision values: (sequences, classes), or (sequences,) for two classes (the second class's
        score minus the first's, positive for ``classes_[1]``)."""
        d = self._decisions(X).cpu().numpy()
        return d[:, 1] - d[:, 0] if d.shape[1] == 2 else d

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities (sequences, classes) in the order of ``classes_``: ``softmax(T d)``."""
        return softmax(self._decisions(X), self.temperature_).cpu().numpy()

    def predict_log_proba(self, X: Any) -> np.ndarray:
        """The logarithms of :meth:`predict_proba`, computed stably."""
        return torch.log_softmax(self._decisions(X) * self.temperature_, dim=-1).cpu().numpy()

    def predict(self, X: Any) -> np.ndarray:
        """The class of every sequence: ``classes_[argmax d]``."""
        return self.classes_[self._decisions(X).argmax(dim=1).cpu().numpy()]

    def predict_steps(self, X: Any) -> list[np.ndarray]:
        """Per-step labels (transduction): for every sequence, the class each step's features
        ``[1; u[t]; x[t]]`` score highest (the members' decisions averaged). Needs ``pooling='steps'``,
        whose readout was trained on steps; the sequence's own label (:meth:`predict`) is the class
        of the average of its steps' decisions after the washout."""
        self._require_fitted("predict_steps")
        if self.pooling != "steps":
            raise ValueError("predict_steps needs a readout trained on steps: fit with pooling='steps'")
        U = self._scaled(self._inputs(X))
        K, N = len(self.reservoirs_), self.reservoir_size
        dtype, device = U.data.dtype, U.data.device
        _memory.require_memory(U.batch_size * U.steps * K * N * torch.finfo(dtype).bits // 8,
                               f"the states of {U.batch_size} x {U.steps} steps", "pass fewer sequences at a time",
                               device)
        xs = _alloc.empty((U.batch_size, U.steps, K * N), dtype, device)
        from .engine import ESNState

        start = ESNState(torch.zeros(U.batch_size, K * N, dtype=dtype, device=device),
                         torch.zeros(U.batch_size, 0, dtype=dtype, device=device))
        for _ in run(list(self.reservoirs_), start, U.steps, inputs=U.data, into=lambda sl: xs[:, sl],
                     chunk_size=self.chunk_size):
            pass
        d = 0
        for k in range(K):
            z = StateInputs(True, True)(xs[..., k * N:(k + 1) * N], U.data).to(torch.float64)
            d = d + z @ self.weight_[k].to(torch.float64).T
        best = (d / K).argmax(dim=-1).cpu().numpy()
        return [self.classes_[best[b, :n]] for b, n in enumerate(U.lengths)]

    def score(self, X: Any, y: Any) -> float:
        """Accuracy: the fraction of sequences whose predicted class is ``y``'s."""
        predicted = self.predict(X)
        labels = _labels(y, len(predicted))
        return float(np.mean(predicted == labels))

    def __sklearn_tags__(self):
        from sklearn.utils import ClassifierTags, InputTags, Tags, TargetTags

        return Tags(
            estimator_type="classifier",
            target_tags=TargetTags(required=True, single_output=True, multi_output=False),
            classifier_tags=ClassifierTags(multi_class=True),
            input_tags=InputTags(two_d_array=True, three_d_array=True, allow_nan=False),
        )

    # ------------------------------------------------------------------ state_dict, save and load
    def get_extra_state(self) -> dict[str, Any]:
        if self.weight_ is None:
            return {"fitted": False}
        kind = self.classes_.dtype.kind
        return {
            "fitted": True,
            "input_size": self.input_size_,
            "members": len(self.reservoirs_),
            "classes": [c.item() if hasattr(c, "item") else c for c in self.classes_],
            "classes_kind": "str" if kind in "US" else "bool" if kind == "b" else "int" if kind in "iu" else
            "float" if kind == "f" else "object",
            "scaled": self.input_mean_ is not None,
            "params": self._comparable_params(),
        }

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):
        """Load a fitted classifier's ``state_dict`` into one of the same parameters; every tensor the
        time loop trusts is checked first."""
        extra = state_dict.get("_extra_state")
        if isinstance(extra, dict) and extra.get("fitted"):
            self._require_same_params(extra)
            self._build_from(state_dict, extra)
        elif isinstance(extra, dict):
            self.reservoirs_ = self.weight_ = self.temperature_ = self.input_mean_ = self.input_scale_ = None
            self.classes_ = None
        return super().load_state_dict(state_dict, strict=strict, assign=assign)

    def _build_from(self, tensors: dict[str, Any], extra: dict[str, Any]) -> None:
        """Modules and buffers of the shapes ``tensors`` hold, once they are checked against ``extra``."""
        K, d_in = extra.get("members"), extra.get("input_size")
        for name, v, least in (("members", K, 1), ("input_size", d_in, 1)):
            if type(v) is not int or v < least:
                raise ValueError(f"the extra state's {name} must be an integer >= {least}, got {v!r}")
        if K != self.n_reservoirs:
            raise ValueError(f"the state dict holds {K} reservoir(s) but n_reservoirs={self.n_reservoirs}")
        classes = extra.get("classes")
        kinds = {"str": str, "int": int, "bool": bool, "float": float}
        kind = extra.get("classes_kind")
        if (not isinstance(classes, list) or len(classes) < 2 or kind not in kinds
                or not all(type(c) is kinds[kind] for c in classes) or len(set(classes)) != len(classes)):
            raise ValueError("the extra state's classes must be a list of at least two distinct labels of its "
                             f"classes_kind, got {classes!r} ({kind!r})")
        N, C = self.reservoir_size, len(classes)
        F1 = self._pooling().size(N, d_in) + 1
        dtype, device = self._dtype_device()
        reservoirs = []
        for k in range(K):
            parts = {}
            for name in ("W_crow", "W_col", "W_values", "W_in", "W_fb", "bias", "leak"):
                t = tensors.get(f"reservoirs_.{k}.{name}")
                if not isinstance(t, torch.Tensor):
                    raise ValueError(f"the state dict is missing the tensor reservoirs_.{k}.{name}")
                parts[name] = t
            if tuple(parts["W_in"].shape) != (N, d_in) or tuple(parts["W_fb"].shape) != (N, 0):
                raise ValueError(f"reservoirs_.{k} has W_in {tuple(parts['W_in'].shape)} and W_fb "
                                 f"{tuple(parts['W_fb'].shape)}, expected ({N}, {d_in}) and ({N}, 0)")
            floats = {n: t.to(device=device, dtype=dtype) if t.is_floating_point() else t.to(device)
                      for n, t in parts.items()}
            reservoirs.append(Reservoir(**floats, activation=self.activation))  # checks CSR, shapes, finiteness
        expect = {"weight_": (K, C, F1), "temperature_": ()}
        if extra.get("scaled") is True:
            expect.update(input_mean_=(d_in,), input_scale_=(d_in,))
        elif extra.get("scaled") is not False:
            raise ValueError(f"the extra state's scaled must be true or false, got {extra.get('scaled')!r}")
        for name, shape in expect.items():
            t = tensors.get(name)
            if not isinstance(t, torch.Tensor) or not t.is_floating_point() or tuple(t.shape) != shape:
                got = tuple(t.shape) if isinstance(t, torch.Tensor) else type(t).__name__
                raise ValueError(f"{name} must be a floating tensor of shape {shape}, got {got}")
            if not bool(torch.isfinite(t).all()):
                raise ValueError(f"{name} holds NaN or infinite values")
        if float(tensors["temperature_"]) <= 0:
            raise ValueError("temperature_ must be positive")
        if extra["scaled"] and not bool((tensors["input_scale_"] > 0).all()):
            raise ValueError("input_scale_ must be positive")
        self.reservoirs_ = nn.ModuleList(reservoirs)
        self.weight_ = torch.empty((K, C, F1), dtype=dtype, device=device)
        self.temperature_ = torch.empty((), dtype=dtype, device=device)
        if extra["scaled"]:
            self.input_mean_ = torch.empty(d_in, dtype=dtype, device=device)
            self.input_scale_ = torch.empty(d_in, dtype=dtype, device=device)
        else:
            self.input_mean_ = self.input_scale_ = None
        self.classes_ = np.array(classes)

    def extra_repr(self) -> str:
        return f"reservoir_size={self.reservoir_size}, pooling={self.pooling!r}, readout={self.readout!r}"
