"""Next-generation reservoir computing: an NVAR (nonlinear vector autoregression) with a ridge readout.

Gauthier, Bollt, Griffith and Barbosa, "Next generation reservoir computing", Nat. Commun. 12, 5564
(2021). No reservoir: the features at step t are a constant, k delayed copies of the input ``s``
steps apart, and the unique monomials of those of orders 2..p (:class:`~esnkit.readout.DelayMonomials`)::

    O_lin[t] = [u[t]; u[t-s]; ...; u[t-(k-1)s]]
    y[t]     = W_out [1; O_lin[t]; O_nonlin[t]]               (+ u[t] with predict_increment=True)

``W_out`` is ridge regression over the steps past the washout, through the library's float64 normal
equations streamed chunk by chunk (:class:`~esnkit.readout.Ridge`). The model carries the delay line
(the last ``(k-1)s`` inputs) and the next closed-loop input; which calls start from and move it:

==============  ======================================  ==========================================
call            starts from                             carried state afterwards
==============  ======================================  ==========================================
``fit``         zeros                                   the end of each training sequence
``predict``     the carried delay line                  the end of the inputs (``update_state=True``)
``generate``    the carried state                       the end of the free run (``update_state=True``)
``forecast``    each history's last values              unchanged
``score``       the carried delay line                  unchanged
==============  ======================================  ==========================================
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import torch

from .. import _memory, params
from .._checks import require_finite
from .._series import Batch, from_batch, same_lengths, to_batch
from ..params import is_int, torch_dtype
from ..readout import DelayMonomials, NormalEquations, Ridge, kept_rows
from .engine import chunk_steps, last_steps
from .output_policy import check_outputs, target_range
from .reservoir_model import WeightReadoutModel

# the constructor's defaults (ridge: Gauthier et al.'s value for Lorenz-63)
DEFAULTS = {"delays": 2, "skip": 1, "order": 2, "ridge": 2.5e-6, "bias": True, "predict_increment": False,
            "washout": None, "chunk_size": None, "dtype": "float64", "device": None}


class NVAR(WeightReadoutModel):
    """Next-generation reservoir computing (an NVAR) with a closed-form ridge readout.

    Parameters
    ----------
    delays : k ≥ 1, the number of delayed copies of the input in the linear part (k=1: u[t] alone).
    skip : s ≥ 1, the steps between two delayed copies.
    order : p ≥ 1, the highest order of the monomials (p=1: a linear autoregression).
    ridge : Tikhonov regularisation λ ≥ 0 of the readout (every feature, the constant included).
    bias : whether the constant 1 is a feature.
    predict_increment : learn ``y[t] - u[t]`` and add ``u[t]`` back (inputs and targets of the same
        width), as Gauthier et al. do for Lorenz-63: the readout predicts the step's increment.
    washout : steps of every training sequence left out of the fit. Default (None): ``(k-1) s``,
        the steps before the delay line is full.
    chunk_size : time steps featurised per chunk; memory grows with it (and F), not with the series.
        Default (None): as many as keep a chunk's features near 8 MB.
    dtype, device : floating type (float32 or float64) and device of the weights and features.

    Series are ``(time,)``, ``(time, D)``, ``(batch, time, D)`` or a list of ``(time, D)`` sequences
    of different lengths, as for :class:`~esnkit.ESN`; results come back in the same layout and
    array type. Fitted attributes: ``weight_`` (D_out, F), ``features_`` (the
    :class:`~esnkit.readout.DelayMonomials` it was fitted with), ``input_size_``, ``output_size_``,
    ``n_features_`` (F) and the carried state (``state_history``, ``state_next``). ``set_params``
    changes the next fit, not the fitted model.
    """

    def __init__(
        self,
        delays: int = DEFAULTS["delays"],
        *,
        skip: int = DEFAULTS["skip"],
        order: int = DEFAULTS["order"],
        ridge: float = DEFAULTS["ridge"],
        bias: bool = DEFAULTS["bias"],
        predict_increment: bool = DEFAULTS["predict_increment"],
        washout: int | None = DEFAULTS["washout"],
        chunk_size: int | None = DEFAULTS["chunk_size"],
        dtype: torch.dtype | str | Any = DEFAULTS["dtype"],
        device: torch.device | str | None = DEFAULTS["device"],
    ) -> None:
        super().__init__()
        vars(self).update(delays=delays, skip=skip, order=order, ridge=ridge, bias=bias,
                          predict_increment=predict_increment, washout=washout, chunk_size=chunk_size, dtype=dtype,
                          device=device)
        self._check_params()
        self._sizes: tuple[int, int] | None = None  # (input_size, output_size) once fitted
        self.features_: DelayMonomials | None = None  # the fitted feature map
        self._increment = False
        self.register_buffer("weight_", None)
        self.register_buffer("state_history", None)  # (B, (k-1) s, D_in): the delay line, oldest first
        self.register_buffer("state_next", None)  # (B, D_out): the next closed-loop input
        self.register_buffer("target_range_", None)  # (2, D_out): the training targets' min and max
        self._output_kind = "numpy"
        self._output_layout = "2d"

    # ------------------------------------------------------------------ parameters
    def _check_params(self) -> None:
        for name in ("delays", "skip", "order"):
            v = getattr(self, name)
            if not is_int(v) or v < 1:
                raise ValueError(f"{name} must be a positive integer, got {v!r}")
        for name in ("bias", "predict_increment"):
            if not isinstance(getattr(self, name), (bool, np.bool_)):
                raise TypeError(f"{name} must be True or False, got {getattr(self, name)!r}")
        p = {"ridge": self.ridge, "chunk_size": self.chunk_size, "device": self.device}
        if self.washout is not None:
            p["washout"] = self.washout
        params.check(p)
        torch_dtype(self.dtype)

    def _map(self) -> DelayMonomials:
        return DelayMonomials(int(self.delays), int(self.skip), int(self.order), bool(self.bias))

    def _fitted_as(self, fmap: DelayMonomials, sizes: tuple[int, int]) -> None:
        """What predictions use, fixed at fit (set_params changes the next fit, not the fitted model):
        the feature map ``features_``, whether the increment is learned, (input_size, output_size)."""
        self.features_ = fmap
        self._increment = bool(self.predict_increment)
        self._sizes = sizes

    @property
    def washout_(self) -> int:
        """The steps left out of each training sequence: ``washout``, or ``(delays - 1) * skip``."""
        return (self.delays - 1) * self.skip if self.washout is None else int(self.washout)

    # ------------------------------------------------------------------ fitted model
    @property
    def n_features_(self) -> int:
        """F, the readout's features: ``bias + k D_in`` plus the monomials."""
        return self._require_fitted("n_features_").shape[1]

    def reset(self) -> NVAR:
        """Forget the carried state: the next ``predict``/``generate`` starts from a zero delay line."""
        self.state_history = None
        self.state_next = None
        return self

    # ------------------------------------------------------------------ the passes
    def _histories(self, data: torch.Tensor, ends: list[int], start: torch.Tensor | None) -> torch.Tensor:
        """Each sequence's delay line (B, h, D) just before step ``ends[b]`` of ``data`` (B, T, D), the
        steps before the series taken from ``start`` (B, h, D) (None: zeros)."""
        B, _, D = data.shape
        h = self.features_.history
        if start is None:
            start = torch.zeros(B, h, D, dtype=data.dtype, device=data.device)
        ext = torch.cat([start, data], dim=1)  # step t of data is ext[:, h + t]
        return torch.stack([ext[b, n:n + h] for b, n in enumerate(ends)])

    def _chunks(self, U: Batch, start: torch.Tensor | None, fmap: DelayMonomials):
        """``(slice, features (B, n, F), inputs (B, n, D))`` chunk by chunk over ``U``, the delay line
        carried from ``start`` (B, h, D) (None: zeros)."""
        n = chunk_steps(self.chunk_size, U.batch_size, fmap.size_for(U.features))
        history = start
        for lo in range(0, U.steps, n):
            sl = slice(lo, min(U.steps, lo + n))
            u = U.data[:, sl]
            lin, history = fmap.linear(u, history)
            yield sl, fmap(lin), u

    def _readout(self, z: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        y = z @ self.weight_.T
        return y + u if self._increment else y

    def _driven(self, U: Batch, start: torch.Tensor | None) -> torch.Tensor:
        return torch.cat([self._readout(z, u) for _, z, u in self._chunks(U, start, self.features_)], dim=1)

    def _closed_loop(self, history: torch.Tensor, first: torch.Tensor, n_steps: int) -> tuple[torch.Tensor, ...]:
        """Outputs (B, n_steps, D) of the closed loop whose first input is ``first`` (B, D) after the
        delay line ``history`` (B, h, D), each output the next input; and the delay line and next
        input after it."""
        fmap = self.features_
        B, h, D = history.shape
        k, s = fmap.delays, fmap.skip
        # the series newest first: step t's delay line [u[t]; u[t-s]; ...] is the strided slice from its
        # position, a view; position n_steps holds the first input, the outputs go to n_steps - 1, ..., 0
        rev = torch.empty(B, n_steps + 1 + h, D, dtype=first.dtype, device=first.device)
        rev[:, n_steps] = first
        rev[:, n_steps + 1:] = history.flip(1)
        W = self.weight_.T
        if rev.device.type == "cpu":  # one step at a time, NumPy's per-call cost is a fraction of torch's
            r, W, z = rev.numpy(), self.weight_.numpy()[None], np.empty((B, 1, W.shape[0]), dtype=rev.numpy().dtype)
            with np.errstate(all="ignore"):  # a diverging run is the output policy's to report
                for p in range(n_steps, 0, -1):
                    # each row's sum in the same order whatever the batch (a matrix product's is not), so a
                    # history forecast in a batch gets the bits it gets alone
                    fmap.features_numpy(r[:, p:p + h + 1:s].reshape(B, k * D), out=z[:, 0])
                    y = (z * W).sum(axis=-1)
                    if self._increment:
                        y += r[:, p]
                    r[:, p - 1] = y
        else:
            for p in range(n_steps, 0, -1):
                y = fmap(rev[:, p:p + h + 1:s].reshape(B, k * D)) @ W
                if self._increment:
                    y += rev[:, p]
                rev[:, p - 1] = y
        seq = rev.flip(1)  # oldest first: the history, the first input, the outputs
        return seq[:, h + 1:], seq[:, n_steps:n_steps + h], seq[:, h + n_steps]

    def _start(self, batch: int) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """The carried delay line and next input for ``batch`` sequences (None, None: zeros)."""
        hist, nxt = self.state_history, self.state_next
        if nxt is None:
            return None, None
        if nxt.shape[0] != batch:
            if nxt.shape[0] != 1:
                raise ValueError(f"the model carries the delay lines of {nxt.shape[0]} sequences (from its last fit "
                                 f"or update) but {batch} were given; call reset() to start from zeros")
            hist = None if hist is None else hist.expand(batch, *hist.shape[1:])
            nxt = nxt.expand(batch, nxt.shape[1])
        return hist, nxt

    def _store(self, history: torch.Tensor, nxt: torch.Tensor) -> None:
        self.state_history = history.clone(memory_format=torch.contiguous_format) if history.shape[1] else None
        self.state_next = nxt.clone(memory_format=torch.contiguous_format)

    def _inputs(self, inputs: Any) -> Batch:
        dtype, device = self._run_dtype_device()
        return to_batch(inputs, "inputs", dtype=dtype, device=device, features=self._sizes[0],
                        features_what="the model was fitted on")

    def _require_forecaster(self, what: str) -> None:
        self._require_fitted(what)
        d_in, d_out = self._sizes
        if d_in != d_out:
            raise ValueError(f"this NVAR maps {d_in} input(s) to {d_out} output(s), so its outputs cannot be its next "
                             f"inputs: {what} needs a one-step-ahead forecaster (inputs and targets of the same "
                             "width); use predict(inputs)")

    # ------------------------------------------------------------------ public API
    def fit(self, inputs: Any, targets: Any) -> NVAR:
        """Solve the ridge readout on the features of ``inputs`` against ``targets`` (the same time
        layout), leaving out the first ``washout_`` steps of every sequence; each sequence starts from a
        zero delay line. Afterwards the model carries the end of each sequence, its last target as the
        next input, so ``generate`` continues after the training data. Returns ``self``."""
        self._fit(inputs, targets)
        return self

    def _fit(self, inputs: Any, targets: Any) -> NormalEquations:
        """:meth:`fit`'s work; returns the readout's accumulated normal equations, from which the search
        solves other ridge values: the weights a fit with that ridge gives, bit for bit."""
        self._check_params()
        if inputs is None:
            raise ValueError("an NVAR is driven by its inputs: inputs must be a series, got None")
        dtype, device = self._dtype_device()
        U = to_batch(inputs, "inputs", dtype=dtype, device=device)
        Y = to_batch(targets, "targets", dtype=dtype, device=device)
        same_lengths(U, Y, "inputs", "targets")
        if self.predict_increment and U.features != Y.features:
            raise ValueError(f"predict_increment=True learns targets - inputs, so they must have the same width: "
                             f"inputs have {U.features} feature(s), targets {Y.features}")
        washout = self.washout_
        short = [i for i, n in enumerate(Y.lengths) if n <= washout]
        if short:
            i = short[0]
            which = f"sequence {i} of targets" if Y.batch_size > 1 else "targets"
            raise ValueError(f"{which} has {Y.lengths[i]} time steps, not more than washout={washout}: nothing is "
                             "left to fit the readout on; use a longer series or a smaller washout")
        fmap = self._map()
        F = fmap.size_for(U.features)
        steps = min(U.steps, chunk_steps(self.chunk_size, U.batch_size, F))
        _memory.require_memory(8 * F * (2 * F + Y.features) + 2 * U.batch_size * steps * F * 8,
                               f"fitting an NVAR of {F} features", "use fewer delays, a lower order or a smaller "
                               "chunk_size", device)
        fit = Ridge(self.ridge).start(F, Y.features, device)
        for sl, z, u in self._chunks(U, None, fmap):
            keep = U.kept(washout, sl)
            target = Y.data[:, sl] - u if self.predict_increment else Y.data[:, sl]
            Z = kept_rows(z, keep)
            if Z.shape[0]:
                fit.update(Z, kept_rows(target, keep))
        weight = fit.solve()
        require_finite(weight, "the readout weights", "the features or targets are too large for a float64 solve")
        self.weight_ = weight.to(dtype).contiguous()
        self._fitted_as(fmap, (U.features, Y.features))
        self._store(self._histories(U.data, list(U.lengths), None), last_steps(Y.data, Y.lengths))
        self.target_range_ = target_range(Y)
        self._output_kind = Y.kind
        self._output_layout = Y.layout if Y.layout in ("1d", "2d") else "3d"
        return fit

    def _readout_rows(self, inputs: Any, targets: Any, *, from_zeros: bool = False) -> tuple[torch.Tensor, ...]:
        """The readout's rows for one sequence ``inputs`` (T, D_in) and its ``targets`` (T, D_out): the
        features (M, F), the targets the readout regresses on (M, D_out: the increments ``y - u`` with
        ``predict_increment``) and the targets themselves. From the carried delay line, every step
        (M = T); ``from_zeros``: from a zero delay line past the washout, the rows ``fit`` uses. The
        carried state does not move."""
        self._require_fitted("_readout_rows")
        U = self._inputs(inputs)
        Y = to_batch(targets, "targets", dtype=U.data.dtype, device=U.data.device, features=self._sizes[1],
                     features_what="the model outputs")
        same_lengths(U, Y, "inputs", "targets")
        start = None if from_zeros else self._start(U.batch_size)[0]
        z = torch.cat([z for _, z, _ in self._chunks(U, start, self.features_)], dim=1)[0]
        u, y = U.data[0], Y.data[0]
        lo = self.washout_ if from_zeros else 0
        return z[lo:], (y - u if self._increment else y)[lo:], y[lo:]

    def predict(self, inputs: Any, *, update_state: bool = True, check_finite: bool = True) -> Any:
        """Outputs ``(..., time, D_out)`` for ``inputs`` (open loop), starting from the carried delay line
        (zeros after :meth:`reset`). The carried state moves to the end of ``inputs`` (its last output the
        next closed-loop input) unless ``update_state=False``."""
        self._require_flags(update_state=update_state, check_finite=check_finite)
        self._require_fitted("predict")
        U = self._inputs(inputs)
        hist, _ = self._start(U.batch_size)
        y = self._driven(U, hist)
        if check_finite:
            check_outputs(y, "predict", U.mask(), free=False)
        if update_state:
            self._store(self._histories(U.data, list(U.lengths), hist), last_steps(y, U.lengths))
        return from_batch(y, U)

    def _free(self, history: torch.Tensor, first: torch.Tensor, n_steps: int, what: str,
              check_finite: bool) -> tuple[torch.Tensor, ...]:
        out = self._closed_loop(history, first, n_steps)
        if check_finite:
            check_outputs(out[0], what, target_range=self.target_range_)
        return out

    def generate(self, n_steps: int, *, update_state: bool = True, check_finite: bool = True) -> Any:
        """Run closed-loop for ``n_steps``, each output the next input, from the carried state: after
        ``fit(u, y)`` the first output is the step after the last target. ``(n_steps, D)``, or
        ``(batch, n_steps, D)`` when the model carries several sequences."""
        self._require_flags(update_state=update_state, check_finite=check_finite)
        self._require_forecaster("generate")
        self._require_steps("n_steps", n_steps)
        dtype, device = self._run_dtype_device()
        D, h = self._sizes[0], self.features_.history
        hist, nxt = self._start(1 if self.state_next is None else self.state_next.shape[0])
        B = 1 if nxt is None else nxt.shape[0]
        nxt = torch.zeros(B, D, dtype=dtype, device=device) if nxt is None else nxt
        hist = torch.zeros(B, h, D, dtype=dtype, device=device) if hist is None else hist
        y, hist, nxt = self._free(hist, nxt, int(n_steps), "generate", check_finite)
        if update_state:
            self._store(hist, nxt)
        layout = self._output_layout if B == 1 else "3d"
        return from_batch(y, Batch(y, (int(n_steps),) * B, layout, self._output_kind))

    def forecast(self, histories: Any, horizon: int, *, check_finite: bool = True) -> Any:
        """Forecast ``horizon`` steps past the end of each history, closed-loop: ``(n_histories, horizon,
        D)`` (``(horizon, D)`` for one ``(time, D)`` history). The delay line is each history's values
        before its last, which is the first input; the carried state is not used or changed."""
        self._require_flags(check_finite=check_finite)
        self._require_forecaster("forecast")
        self._require_steps("horizon", horizon)
        dtype, device = self._run_dtype_device()
        H = to_batch(histories, "histories", dtype=dtype, device=device, features=self._sizes[1],
                     features_what="the model outputs")
        h = self.features_.history
        if min(H.lengths) <= h:
            warnings.warn(f"forecast: a history of {min(H.lengths)} step(s) does not fill the delay line of "
                          f"{h + 1} steps (delays={self.features_.delays}, skip={self.features_.skip}): the "
                          "missing values are zeros; "
                          "give longer histories", UserWarning, stacklevel=2)
        ends = [n - 1 for n in H.lengths]
        y = self._free(self._histories(H.data, ends, None), last_steps(H.data, H.lengths), int(horizon), "forecast",
                       check_finite)[0]
        layout = H.layout if H.layout in ("1d", "2d") else "3d"
        return from_batch(y, Batch(y, (int(horizon),) * y.shape[0], layout, H.kind))

    # ------------------------------------------------------------------ state_dict, save and load
    def get_extra_state(self) -> dict[str, Any]:
        if self.weight_ is None:
            return {"fitted": False}
        return {"fitted": True, "input_size": self._sizes[0], "output_size": self._sizes[1],
                "carries_state": self.state_next is not None, "output_kind": self._output_kind,
                "output_layout": self._output_layout, "params": self._comparable_params()}

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):
        """Load a fitted NVAR's ``state_dict`` into an NVAR of the same parameters, once every tensor's
        dtype, shape and finiteness is checked against the parameters and the extra state."""
        extra = state_dict.get("_extra_state")
        if isinstance(extra, dict) and extra.get("fitted"):
            self._require_same_params(extra)
            self._build_from(check_nvar_state(state_dict, extra, self._map()), extra)
        elif isinstance(extra, dict):
            self.weight_ = self.target_range_ = None
            self._sizes = self.features_ = None
            self.reset()
        return super().load_state_dict(state_dict, strict=strict, assign=assign)

    def _build_from(self, named: dict[str, torch.Tensor], extra: dict[str, Any]) -> None:
        """Empty buffers of the shapes ``named`` holds, in this model's dtype and device, to be filled."""
        dtype, device = self._dtype_device()
        for name in ("weight_", "state_history", "state_next", "target_range_"):
            t = named.get(name)
            setattr(self, name, None if t is None else torch.empty(t.shape, dtype=dtype, device=device))
        self._fitted_as(self._map(), (extra["input_size"], extra["output_size"]))
        self._output_kind = extra.get("output_kind", "numpy")
        self._output_layout = extra.get("output_layout", "2d")

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={getattr(self, k)!r}" for k, v in DEFAULTS.items() if getattr(self, k) != v)


def check_nvar_state(tensors: dict[str, Any], extra: dict[str, Any], fmap: DelayMonomials) -> dict[str, torch.Tensor]:
    """The tensors of a fitted NVAR's state dict by name, once the extra state's sizes and flags, every
    tensor's presence, dtype (all float32 or all float64), shape and finiteness are checked: each
    failure a ``ValueError`` naming the field."""
    for k in ("input_size", "output_size"):
        v = extra.get(k)
        if type(v) is not int or v < 1:
            raise ValueError(f"the extra state's {k} must be an integer >= 1, got {v!r}")
    if type(extra.get("carries_state")) is not bool:
        raise ValueError(f"the extra state's carries_state must be true or false, got {extra.get('carries_state')!r}")
    for k, allowed in (("output_kind", ("numpy", "torch")), ("output_layout", ("1d", "2d", "3d"))):
        if extra.get(k, allowed[0]) not in allowed:
            raise ValueError(f"the extra state's {k} must be one of {allowed}, got {extra.get(k)!r}")
    d_in, d_out, h = extra["input_size"], extra["output_size"], fmap.history
    names = ["weight_", "target_range_"]
    if extra["carries_state"]:
        names += ["state_next"] + (["state_history"] if h else [])
    missing = [k for k in names if k not in tensors]
    if missing:
        raise ValueError(f"the state dict is missing {missing}")
    extra_names = [k for k in ("state_next", "state_history") if k in tensors and k not in names]
    if extra_names:
        raise ValueError(f"the state dict holds {extra_names}, which its extra state (carries_state, delays, skip) "
                         "says it has not")
    named = {k: tensors[k] for k in names}
    for k, t in named.items():
        if not isinstance(t, torch.Tensor) or not t.is_floating_point():
            raise ValueError(f"{k} must be a floating tensor, got {getattr(t, 'dtype', type(t).__name__)}")
    if len({t.dtype for t in named.values()}) > 1 or named["weight_"].dtype not in (torch.float32, torch.float64):
        raise ValueError("the floating tensors must all be float32 or all float64, got "
                         + ", ".join(f"{k} {str(t.dtype).replace('torch.', '')}" for k, t in named.items()))
    F = fmap.size_for(d_in)
    expect = {"weight_": (d_out, F), "target_range_": (2, d_out)}
    if extra["carries_state"]:
        b = named["state_next"].shape[0] if named["state_next"].ndim == 2 else -1
        expect["state_next"] = (max(b, 1), d_out)
        if h:
            expect["state_history"] = (max(b, 1), h, d_in)
    for k, shape in expect.items():
        if tuple(named[k].shape) != shape:
            raise ValueError(f"{k} has shape {tuple(named[k].shape)}, expected {shape} for delays={fmap.delays}, "
                             f"skip={fmap.skip}, order={fmap.order}, bias={fmap.bias}, {d_in} input(s) and "
                             f"{d_out} output(s)")
    for k, t in named.items():
        require_finite(t, k, "a model's weights and state must be finite")
    if bool((named["target_range_"][0] > named["target_range_"][1]).any()):
        raise ValueError("target_range_ must hold each output's minimum, then its maximum")
    return named
