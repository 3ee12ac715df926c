"""Deep echo state networks (Gallicchio & Micheli): L stacked leaky tanh reservoirs, one ridge readout.

Gallicchio, Micheli and Pedrelli, "Deep reservoir computing: a critical experimental analysis",
Neurocomputing 268 (2017); Gallicchio and Micheli, "Echo state property of deep reservoir computing
networks", Cogn. Comput. 9 (2017). Layer 1 is driven by the input, layer l > 1 by layer l-1's states
(and also by the input with ``input_to_all=True``)::

    x1[t] = (1 - a1) x1[t-1] + a1 tanh(W1 x1[t-1] + W_in1 u[t] + b1)
    xl[t] = (1 - al) xl[t-1] + al tanh(Wl xl[t-1] + W_inl [x(l-1)[t]; u[t]] + bl)     (l > 1)
    y[t]  = W_out [1; u[t]; x1[t]; ...; xL[t]]

Every layer is an :class:`~esnkit.Reservoir` run by the one harvest engine (:func:`~esnkit.models.engine.run`),
layer after layer over each chunk of time steps: layer l writes its states straight into the chunk's
feature rows, which are layer l+1's inputs and, once every layer has run, the ridge readout's rows
(streamed into the float64 normal equations of :class:`~esnkit.readout.Ridge`). Memory: the states of
all layers for one chunk (B x chunk x F values), not for the series. Closed-loop runs (``generate``,
``forecast``) step all layers one step at a time in Python (NumPy on the CPU: about 5 µs plus 7 µs per
layer and step for layers of 25 to 200 neurons, against about 1.3 µs per step for an ESN's compiled
closed loop), since each step's input is the previous step's output.

Which calls start from and move the carried state (each layer's state and the last output):

==============  ======================================  ==========================================
call            starts from                             carried state afterwards
==============  ======================================  ==========================================
``fit``         zeros                                   the end of each training sequence
``predict``     the carried state                       the end of the inputs (``update_state=True``)
``generate``    the carried state                       the end of the free run (``update_state=True``)
``forecast``    zeros per history                       unchanged
``score``       the carried state                       unchanged
==============  ======================================  ==========================================
"""

from __future__ import annotations

import dataclasses
import warnings
from typing import Any

import numpy as np
import torch
from torch import nn

from .. import _memory, params
from .._checks import require_finite
from .._series import Batch, ends_in, from_batch, same_lengths, to_batch
from ..params import is_int, is_real, torch_dtype
from ..readout import NormalEquations, Ridge, kept_rows
from ..reservoir import Reservoir
from .engine import ESNState, chunk_steps, last_steps, run
from .output_policy import check_outputs, target_range
from .reservoir_model import WeightReadoutModel
from .scaling import restored, standardisation, standardised
from .state_dict import RESERVOIR_KEYS

# the constructor's defaults
DEFAULTS = {"layers": None, "depth": None, "reservoir_size": 100, "spectral_radius": 0.9, "leak_rate": 1.0,
            "input_scaling": 1.0, "inter_scaling": 1.0, "bias_scaling": 0.5, "connectivity": None,
            "input_to_all": False, "ridge": 1e-8, "washout": 0, "scale": False, "chunk_size": None, "seed": None,
            "dtype": "float64", "device": None}
# layers when neither ``layers`` nor ``depth`` is given
DEFAULT_DEPTH = 2
SCALE_BUFFERS = ("input_mean_", "input_scale_", "target_mean_", "target_scale_")


def layer_seed(seed: int | None, layer: int) -> int | None:
    """The seed of layer ``layer`` (0-based): ``seed`` itself for the first layer (so a one-layer
    DeepESN draws the reservoir an :class:`~esnkit.ESN` of that seed draws), then a 32-bit word of
    ``numpy.random.SeedSequence([seed, layer])``; None stays None (fresh entropy)."""
    if seed is None or layer == 0:
        return seed
    return int(np.random.SeedSequence([int(seed), layer]).generate_state(1)[0])


class DeepESN(WeightReadoutModel):
    """Deep Echo State Network: stacked reservoirs, each driven by the one below, and a ridge readout
    over the input and every layer's states.

    Parameters
    ----------
    layers : the layer sizes ``[N1, N2, ...]`` (L = len(layers) ≥ 1). Alternatively:
    depth, reservoir_size : L layers of ``reservoir_size`` neurons each (default: 2 layers of 100).
    spectral_radius : ρ > 0 of every layer's ``W``, or a list of one per layer.
    leak_rate : a in (0, 1] of every layer, or a list of one per layer.
    input_scaling : scale of layer 1's ``W_in`` (a number or one per input feature); also of the input
        columns of the deeper layers with ``input_to_all``.
    inter_scaling : scale of the weights from layer l-1's states into layer l (l > 1).
    bias_scaling : scale of every layer's bias (uniform in ±bias_scaling). 0 disables it.
    connectivity : fraction of nonzero entries of every ``W`` (default: about 10 per row).
    input_to_all : also drive every deeper layer with the input (its ``W_in`` reads ``[x(l-1); u]``).
    ridge : Tikhonov regularisation λ ≥ 0 of the readout.
    washout : initial steps of every training sequence left out of the readout fit.
    scale : standardise inputs and targets with the training data's statistics (as :class:`~esnkit.ESN`).
    chunk_size : time steps per chunk (default: as many as keep a chunk's features near 8 MB).
    seed : integer seed; the same seed gives bit-identical weights (layer l's seed: :func:`layer_seed`).
    dtype, device : floating type and device of the weights and states.

    Series are laid out as for :class:`~esnkit.ESN`. Fitted attributes: ``reservoirs_`` (an
    ``nn.ModuleList`` of the L :class:`~esnkit.Reservoir`), ``weight_`` (D_out, F) with
    ``F = 1 + D_in + ΣN_l``, ``input_size_``, ``output_size_``, ``layer_sizes_``; the carried state is
    ``state_x`` (B, ΣN_l: the layers' states side by side) and ``state_y`` (B, D_out).
    """

    def __init__(
        self,
        layers: list[int] | None = DEFAULTS["layers"],
        *,
        depth: int | None = DEFAULTS["depth"],
        reservoir_size: int = DEFAULTS["reservoir_size"],
        spectral_radius: float | list[float] = DEFAULTS["spectral_radius"],
        leak_rate: float | list[float] = DEFAULTS["leak_rate"],
        input_scaling: float | list[float] | np.ndarray = DEFAULTS["input_scaling"],
        inter_scaling: float = DEFAULTS["inter_scaling"],
        bias_scaling: float = DEFAULTS["bias_scaling"],
        connectivity: float | None = DEFAULTS["connectivity"],
        input_to_all: bool = DEFAULTS["input_to_all"],
        ridge: float = DEFAULTS["ridge"],
        washout: int = DEFAULTS["washout"],
        scale: bool = DEFAULTS["scale"],
        chunk_size: int | None = DEFAULTS["chunk_size"],
        seed: int | None = DEFAULTS["seed"],
        dtype: torch.dtype | str | Any = DEFAULTS["dtype"],
        device: torch.device | str | None = DEFAULTS["device"],
    ) -> None:
        super().__init__()
        vars(self).update(layers=layers, depth=depth, reservoir_size=reservoir_size, spectral_radius=spectral_radius,
                          leak_rate=leak_rate, input_scaling=input_scaling, inter_scaling=inter_scaling,
                          bias_scaling=bias_scaling, connectivity=connectivity, input_to_all=input_to_all,
                          ridge=ridge, washout=washout, scale=scale, chunk_size=chunk_size, seed=seed, dtype=dtype,
                          device=device)
        self._check_params()
        self.reservoirs_: nn.ModuleList | None = None
        self._sizes: tuple[int, int] | None = None  # (input_size, output_size) once fitted
        self.register_buffer("weight_", None)
        self.register_buffer("state_x", None)
        self.register_buffer("state_y", None)
        self.register_buffer("target_range_", None)
        for name in SCALE_BUFFERS:
            self.register_buffer(name, None)
        self._output_kind = "numpy"
        self._output_layout = "2d"

    # ------------------------------------------------------------------ parameters
    def _layer_sizes(self) -> list[int]:
        if self.layers is not None:
            return [int(n) for n in self.layers]
        return [int(self.reservoir_size)] * (DEFAULT_DEPTH if self.depth is None else int(self.depth))

    def _per_layer(self, name: str) -> list[float]:
        v, L = getattr(self, name), len(self._layer_sizes())
        if isinstance(v, (list, tuple, np.ndarray)):
            return [float(x) for x in v]
        return [float(v)] * L

    def _check_params(self) -> None:
        layers, depth = self.layers, self.depth
        if layers is not None:
            if isinstance(layers, (str, bytes)) or not hasattr(layers, "__len__"):
                raise TypeError(f"layers must be a list of layer sizes, got {layers!r}")
            if len(layers) == 0:
                raise ValueError("layers must hold at least one layer size, got []")
            bad = [n for n in layers if not is_int(n) or n < 1]
            if bad:
                raise ValueError(f"layers must hold positive integers, got {list(layers)!r}")
            if depth is not None and (not is_int(depth) or depth != len(layers)):
                raise ValueError(f"give layers or depth, not both (depth={depth!r} but layers has {len(layers)})")
        elif depth is not None and (not is_int(depth) or depth < 1):
            raise ValueError(f"depth must be a positive integer, got {depth!r}")
        L = len(self._layer_sizes())
        for name, low, high in (("spectral_radius", 0.0, None), ("leak_rate", 0.0, 1.0)):
            v = getattr(self, name)
            values = list(v) if isinstance(v, (list, tuple, np.ndarray)) else [v]
            if isinstance(v, (list, tuple, np.ndarray)) and len(values) != L:
                raise ValueError(f"{name} must be a number or a list of one per layer ({L}), got {v!r}")
            for x in values:
                if not is_real(x) or not (x > low and (high is None or x <= high)):
                    what = "> 0" if high is None else f"in ({low:g}, {high:g}]"
                    raise ValueError(f"{name} must be {what} (a number or one per layer), got {v!r}")
        if not is_real(self.inter_scaling) or self.inter_scaling < 0:
            raise ValueError(f"inter_scaling must be a finite number ≥ 0, got {self.inter_scaling!r}")
        if not isinstance(self.input_to_all, (bool, np.bool_)):
            raise TypeError(f"input_to_all must be True or False, got {self.input_to_all!r}")
        params.check({"reservoir_size": max(self._layer_sizes()), "input_scaling": self.input_scaling,
                      "bias_scaling": self.bias_scaling, "connectivity": self.connectivity, "ridge": self.ridge,
                      "washout": self.washout, "scale": self.scale, "chunk_size": self.chunk_size, "seed": self.seed,
                      "device": self.device})
        torch_dtype(self.dtype)

    # ------------------------------------------------------------------ fitted model
    @property
    def layer_sizes_(self) -> list[int]:
        self._require_fitted("layer_sizes_")
        return [r.size for r in self.reservoirs_]

    def reset(self) -> DeepESN:
        """Forget the carried state: the next ``predict``/``generate`` starts from zeros."""
        self.state_x = None
        self.state_y = None
        return self

    # ------------------------------------------------------------------ building blocks
    def _build(self, d_in: int) -> nn.ModuleList:
        """Draw the L reservoirs for ``d_in`` input features."""
        sizes = self._layer_sizes()
        scaling = np.asarray(self.input_scaling, dtype=float)
        if scaling.ndim == 1 and scaling.shape[0] != d_in:
            raise ValueError(f"input_scaling has {scaling.shape[0]} values but inputs have {d_in} feature(s)")
        u_scaling = np.broadcast_to(scaling, (d_in,))
        radii, leaks = self._per_layer("spectral_radius"), self._per_layer("leak_rate")
        dtype, device = self._dtype_device()
        out = []
        for l, n in enumerate(sizes):
            if l == 0:
                s = u_scaling
            else:
                s = np.concatenate([np.full(sizes[l - 1], float(self.inter_scaling)),
                                    u_scaling if self.input_to_all else np.zeros(0)])
            out.append(Reservoir.random(
                n, s.shape[0], 0, spectral_radius=radii[l], connectivity=self.connectivity, leak_rate=leaks[l],
                input_scaling=np.array(s), bias_scaling=self.bias_scaling, activation="tanh",
                seed=layer_seed(self.seed, l), dtype=dtype, device=device))
        return nn.ModuleList(out)

    def _layout(self) -> tuple[int, list[slice]]:
        """The readout's feature count F and each layer's columns in ``[1; u; x1; ...; xL]``."""
        d_in = self._sizes[0]
        lo, cols = 1 + d_in, []
        for r in self.reservoirs_:
            cols.append(slice(lo, lo + r.size))
            lo += r.size
        return lo, cols

    def _pass(self, U: Batch, start: list[torch.Tensor], check_finite: bool = True):
        """Drive the layers over ``U`` from the layers' states ``start``, chunk by chunk and layer by layer
        through the engine; yields ``(slice, z)`` with ``z`` (B, n, F) the chunk's feature rows (a reused
        buffer) and finally leaves each sequence's last states in ``self._final`` (one (B, N_l) per layer)."""
        F, cols = self._layout()
        B, d_in = U.batch_size, U.features
        dtype, device = U.data.dtype, U.data.device
        n = min(max(U.steps, 1), chunk_steps(self.chunk_size, B, F))
        buf = torch.empty(B, n, F, dtype=dtype, device=device)
        buf[..., 0] = 1.0
        xs = list(start)
        final = [x.clone() for x in start]
        y0 = torch.zeros(B, 0, dtype=dtype, device=device)
        for lo in range(0, U.steps, n):
            sl = slice(lo, min(U.steps, lo + n))
            m = sl.stop - lo
            z = buf[:, :m]
            u = U.data[:, sl]
            z[..., 1:1 + d_in] = u
            for k, res in enumerate(self.reservoirs_):
                if k == 0:
                    inp = u
                else:
                    inp = z[..., cols[k - 1]]
                    if self.input_to_all:
                        inp = torch.cat([inp, u], dim=-1)
                c = cols[k]
                for _, _, out in run([res], ESNState(xs[k], y0), m, inputs=inp, chunk_size=m,
                                     into=lambda s, c=c, z=z: z[:, s, c], check_finite=check_finite):
                    xs[k] = out.x
            for b, t in ends_in(U.lengths, sl):
                for k in range(len(xs)):
                    final[k][b] = z[b, t, cols[k]]
            yield sl, z
        self._final = final

    def _zeros(self, batch: int) -> list[torch.Tensor]:
        w = self.reservoirs_[0].W_in  # the layers being fitted, or the fitted ones
        return [torch.zeros(batch, r.size, dtype=w.dtype, device=w.device) for r in self.reservoirs_]

    def _split(self, x: torch.Tensor) -> list[torch.Tensor]:
        return list(torch.split(x, [r.size for r in self.reservoirs_], dim=1))

    def _store(self, xs: list[torch.Tensor], y: torch.Tensor) -> None:
        self.state_x = torch.cat(xs, dim=1).contiguous()
        self.state_y = torch.empty(y.shape, dtype=y.dtype, device=y.device).copy_(y)

    def _start(self, batch: int) -> tuple[list[torch.Tensor], torch.Tensor]:
        """The carried layers' states and last output for ``batch`` sequences (zeros when none)."""
        if self.state_x is None:
            dtype, device = self._run_dtype_device()
            return self._zeros(batch), torch.zeros(batch, self.weight_.shape[0], dtype=dtype, device=device)
        x, y = self.state_x, self.state_y
        if x.shape[0] != batch:
            if x.shape[0] != 1:
                raise ValueError(f"the model carries the states of {x.shape[0]} sequences (from its last fit or "
                                 f"update) but {batch} were given; call reset() to start from zeros")
            x, y = x.expand(batch, x.shape[1]), y.expand(batch, y.shape[1])
        return self._split(x), y

    def _inputs(self, inputs: Any, name: str = "inputs", features: int | None = None) -> Batch:
        dtype, device = self._run_dtype_device()
        scaled = self.input_mean_ is not None
        U = to_batch(inputs, name, dtype=torch.float64 if scaled else dtype, device=device,
                     features=self._sizes[0] if features is None else features,
                     features_what="the model was fitted on" if features is None else "the model outputs")
        return standardised(U, self.input_mean_, self.input_scale_, dtype=dtype) if scaled else U

    def _outputs(self, y: torch.Tensor) -> torch.Tensor:
        return y if self.target_mean_ is None else restored(y, self.target_mean_, self.target_scale_)

    def _next_input(self, y: torch.Tensor) -> torch.Tensor:
        """A standardised output as the next standardised input (a one-step-ahead forecaster)."""
        if self.input_mean_ is None:
            return y
        data = self._outputs(y).to(torch.float64)
        return ((data - self.input_mean_.to(torch.float64)) / self.input_scale_.to(torch.float64)).to(y.dtype)

    def _closed_loop(self, xs: list[torch.Tensor], u: torch.Tensor, n_steps: int) -> tuple[torch.Tensor, list]:
        """Outputs (B, n_steps, D) of the closed loop whose first input is ``u`` (B, D) from the layers'
        states ``xs``, every layer stepped once per step; and the layers' states after it."""
        if u.device.type == "cpu":
            return self._closed_loop_numpy(xs, u, n_steps)
        return self._closed_loop_torch(xs, u, n_steps)

    def _closed_loop_torch(self, xs: list[torch.Tensor], u: torch.Tensor, n_steps: int) -> tuple[torch.Tensor, list]:
        B = u.shape[0]
        W = self.weight_
        dense = [(r.dense_recurrent().T, r.W_in.T, r.bias, r.leak) for r in self.reservoirs_]
        one = torch.ones(B, 1, dtype=u.dtype, device=u.device)
        ys = torch.empty(B, n_steps, W.shape[0], dtype=u.dtype, device=u.device)
        xs = list(xs)
        for t in range(n_steps):
            inp = u
            for k, (Wt, Wint, b, a) in enumerate(dense):
                if k > 0:
                    inp = torch.cat([xs[k - 1], u], dim=1) if self.input_to_all else xs[k - 1]
                xs[k] = (1 - a) * xs[k] + a * torch.tanh(xs[k] @ Wt + inp @ Wint + b)
            y = torch.cat([one, u, *xs], dim=1) @ W.T
            ys[:, t] = y
            u = self._next_input(y)
        return ys, xs

    def _closed_loop_numpy(self, xs: list[torch.Tensor], u: torch.Tensor, n_steps: int) -> tuple[torch.Tensor, list]:
        """:meth:`_closed_loop` on the CPU in NumPy, whose per-call cost is a fraction of torch's: the
        features ``[1; u; x1; ...; xL]`` of the step live in one row per sequence, each layer's state
        written into its columns, and the output is mapped to the next input by one affine map."""
        B, d = u.shape
        F, cols = self._layout()
        z = np.empty((B, F), dtype=u.numpy().dtype)
        z[:, 0] = 1.0
        z[:, 1:1 + d] = u.numpy()
        for c, x in zip(cols, xs):
            z[:, c] = x.numpy()
        layers = []
        for k, r in enumerate(self.reservoirs_):
            W_in = r.W_in.numpy()
            n_x = 0 if k == 0 else cols[k - 1].stop - cols[k - 1].start
            reads = [(cols[k - 1], W_in[:, :n_x].T)] if k else []
            if k == 0 or self.input_to_all:
                reads.append((slice(1, 1 + d), W_in[:, n_x:].T))
            layers.append((cols[k], r.dense_recurrent().numpy().T, reads, r.bias.numpy(), r.leak.numpy()))
        W = self.weight_.numpy().T
        gain, shift = None, None
        if self.input_mean_ is not None:  # standardised output -> data -> standardised input
            gain = (self.target_scale_.double() / self.input_scale_.double()).numpy().astype(z.dtype)
            shift = ((self.target_mean_.double() - self.input_mean_.double()) / self.input_scale_.double()).numpy()
            shift = shift.astype(z.dtype)
        ys = np.empty((B, n_steps, W.shape[1]), dtype=z.dtype)
        with np.errstate(all="ignore"):  # a diverging run is the output policy's to report
            for t in range(n_steps):
                for c, Wt, reads, b, a in layers:
                    pre = z[:, c] @ Wt + b
                    for rc, Win in reads:
                        pre += z[:, rc] @ Win
                    z[:, c] = (1 - a) * z[:, c] + a * np.tanh(pre)
                y = z @ W
                ys[:, t] = y
                z[:, 1:1 + d] = y if gain is None else y * gain + shift
        return torch.from_numpy(ys), [torch.from_numpy(z[:, c].copy()) for c in cols]

    def _require_forecaster(self, what: str) -> None:
        self._require_fitted(what)
        d_in, d_out = self._sizes
        if d_in != d_out:
            raise ValueError(f"this DeepESN maps {d_in} input(s) to {d_out} output(s), so its outputs cannot be its "
                             f"next inputs: {what} needs a one-step-ahead forecaster (inputs and targets of the same "
                             "width); use predict(inputs)")

    # ------------------------------------------------------------------ public API
    def fit(self, inputs: Any, targets: Any, *, check_finite: bool = True) -> DeepESN:
        """Harvest every layer's states (from zeros) driven by ``inputs`` and solve the ridge readout on
        ``[1; u; x1; ...; xL]`` against ``targets``, leaving out the first ``washout`` steps of every
        sequence. Afterwards the model carries the end of each sequence (its last target as the last
        output), so ``generate`` continues after the training data. Returns ``self``."""
        self._fit(inputs, targets, check_finite=check_finite)
        return self

    def _fit(self, inputs: Any, targets: Any, *, check_finite: bool = True) -> NormalEquations:
        """:meth:`fit`'s work; returns the readout's accumulated normal equations, from which the search
        solves other ridge values: the weights a fit with that ridge gives, bit for bit."""
        self._require_flags(check_finite=check_finite)
        self._check_params()
        if inputs is None:
            raise ValueError("a DeepESN is driven by its inputs: inputs must be a series, got None")
        dtype, device = self._dtype_device()
        read = torch.float64 if self.scale else dtype
        U = to_batch(inputs, "inputs", dtype=read, device=device)
        Y = to_batch(targets, "targets", dtype=read, device=device)
        same_lengths(U, Y, "inputs", "targets")
        short = [i for i, n in enumerate(Y.lengths) if n <= self.washout]
        if short:
            i = short[0]
            which = f"sequence {i} of targets" if Y.batch_size > 1 else "targets"
            raise ValueError(f"{which} has {Y.lengths[i]} time steps, not more than washout={self.washout}: nothing "
                             "is left to fit the readout on; use a longer series or a smaller washout")
        scaling = None
        if self.scale:
            scaling = dict(zip(SCALE_BUFFERS[2:], standardisation(Y)))
            scaling.update(zip(SCALE_BUFFERS[:2], standardisation(U)))
            Y = standardised(Y, scaling["target_mean_"], scaling["target_scale_"], dtype=dtype)
            U = standardised(U, scaling["input_mean_"], scaling["input_scale_"], dtype=dtype)
            scaling = {k: v.to(dtype) for k, v in scaling.items()}
        F = 1 + U.features + sum(self._layer_sizes())
        steps = min(U.steps, chunk_steps(self.chunk_size, U.batch_size, F))
        _memory.require_memory(8 * F * (2 * F + Y.features) + U.batch_size * steps * F * 8,
                               f"fitting a DeepESN of {F} features", "use smaller layers or a smaller chunk_size",
                               device)
        self.reservoirs_ = self._build(U.features)
        self._sizes = (U.features, Y.features)
        fit = Ridge(self.ridge).start(F, Y.features, device)
        for sl, z in self._pass(U, self._zeros(U.batch_size), check_finite):
            keep = Y.kept(self.washout, sl)
            Z = kept_rows(z, keep)
            if Z.shape[0]:
                fit.update(Z, kept_rows(Y.data[:, sl], keep))
        weight = fit.solve()
        require_finite(weight, "the readout weights", "the states or targets are too large for a float64 solve")
        self.weight_ = weight.to(dtype).contiguous()
        for name in SCALE_BUFFERS:
            setattr(self, name, None if scaling is None else scaling[name])
        self._store(self._final, last_steps(Y.data, Y.lengths))
        rng = target_range(Y)
        self.target_range_ = rng if scaling is None else restored(rng, self.target_mean_, self.target_scale_)
        self._output_kind = Y.kind
        self._output_layout = Y.layout if Y.layout in ("1d", "2d") else "3d"
        return fit

    def _readout_rows(self, inputs: Any, targets: Any, *, from_zeros: bool = False) -> tuple[torch.Tensor, ...]:
        """The readout's rows for one sequence ``inputs`` (T, D_in) and its ``targets`` (T, D_out), in the
        readout's units (standardised with ``scale``): the features ``[1; u; x1; ...; xL]`` (M, F) and the
        targets (M, D_out), twice (the readout regresses on the targets themselves). From the carried
        state, every step (M = T); ``from_zeros``: from zeros past the washout, the rows ``fit`` uses.
        The carried state does not move."""
        self._require_fitted("_readout_rows")
        U = self._inputs(inputs)
        Y = to_batch(targets, "targets", dtype=torch.float64 if self.target_mean_ is not None else U.data.dtype,
                     device=U.data.device, features=self._sizes[1], features_what="the model outputs")
        same_lengths(U, Y, "inputs", "targets")
        if self.target_mean_ is not None:
            Y = standardised(Y, self.target_mean_, self.target_scale_, dtype=U.data.dtype)
        xs = self._zeros(U.batch_size) if from_zeros else self._start(U.batch_size)[0]
        z = torch.cat([z.clone() for _, z in self._pass(U, xs)], dim=1)[0]
        lo = self.washout if from_zeros else 0
        return z[lo:], Y.data[0, lo:], Y.data[0, lo:]

    def _driven(self, U: Batch, xs: list[torch.Tensor], y0: torch.Tensor, check_finite: bool,
                what: str) -> tuple[torch.Tensor, list[torch.Tensor], torch.Tensor]:
        W = self.weight_
        ys = [z @ W.T for _, z in self._pass(U, xs, check_finite)]
        y = torch.cat(ys, dim=1) if ys else torch.zeros(U.batch_size, 0, W.shape[0], dtype=W.dtype, device=W.device)
        if check_finite:
            check_outputs(self._outputs(y), what, U.mask(), free=False)
        final_y = y0.clone()
        for b, n in enumerate(U.lengths):
            if n:
                final_y[b] = y[b, n - 1]
        return y, self._final, final_y

    def predict(self, inputs: Any, *, update_state: bool = True, check_finite: bool = True) -> Any:
        """Outputs ``(..., time, D_out)`` driven by ``inputs`` (open loop), layer by layer, from the carried
        state (zeros after :meth:`reset`); the carried state moves to the end of ``inputs`` unless
        ``update_state=False``."""
        self._require_flags(update_state=update_state, check_finite=check_finite)
        self._require_fitted("predict")
        U = self._inputs(inputs)
        xs, y0 = self._start(U.batch_size)
        y, final, final_y = self._driven(U, xs, y0, check_finite, "predict")
        if update_state:
            self._store(final, final_y)
        return from_batch(self._outputs(y), U)

    def states(self, inputs: Any, *, check_finite: bool = True) -> Any:
        """Every layer's states ``(..., time, ΣN_l)`` (layer 1's first) driven by ``inputs`` from the
        carried state, which is not changed."""
        self._require_flags(check_finite=check_finite)
        self._require_fitted("states")
        U = self._inputs(inputs)
        lo = 1 + U.features
        xs = torch.cat([z[..., lo:].clone() for _, z in self._pass(U, self._start(U.batch_size)[0], check_finite)],
                       dim=1)
        return from_batch(xs, U)

    def generate(self, n_steps: int, *, update_state: bool = True, check_finite: bool = True) -> Any:
        """Run closed-loop for ``n_steps``, each output the next input, from the carried state: after
        ``fit(u, y)`` the first output is the step after the last target. ``(n_steps, D)``, or
        ``(batch, n_steps, D)`` when the model carries several sequences."""
        self._require_flags(update_state=update_state, check_finite=check_finite)
        self._require_forecaster("generate")
        self._require_steps("n_steps", n_steps)
        B = 1 if self.state_x is None else self.state_x.shape[0]
        xs, y0 = self._start(B)
        y, xs = self._closed_loop(xs, self._next_input(y0), int(n_steps))
        if check_finite:
            check_outputs(self._outputs(y), "generate", target_range=self.target_range_)
        if update_state:
            self._store(xs, y[:, -1])
        layout = self._output_layout if B == 1 else "3d"
        return from_batch(self._outputs(y), Batch(y, (int(n_steps),) * B, layout, self._output_kind))

    def forecast(self, histories: Any, horizon: int, *, check_finite: bool = True) -> Any:
        """Warm up on each history (driven, layer by layer, by all its values but the last, from zeros),
        then run closed-loop for ``horizon`` steps from its last value: ``(n_histories, horizon, D)``
        (``(horizon, D)`` for one ``(time, D)`` history). The carried state is not used or changed."""
        self._require_flags(check_finite=check_finite)
        self._require_forecaster("forecast")
        self._require_steps("horizon", horizon)
        H = self._inputs(histories, "histories", features=self._sizes[1])
        warm = [n - 1 for n in H.lengths]
        if min(warm) < self.washout:
            warnings.warn(f"forecast: a history warms the layers up for {min(warm)} step(s), fewer than the washout="
                          f"{self.washout}: its forecast starts from a state that still remembers the zero start; "
                          "give longer histories", UserWarning, stacklevel=2)
        steps = max(warm)
        W = dataclasses.replace(H, data=H.data[:, :steps], lengths=tuple(warm))
        for _ in self._pass(W, self._zeros(H.batch_size), check_finite):
            pass
        xs = self._final if steps else self._zeros(H.batch_size)
        y, _ = self._closed_loop(xs, last_steps(H.data, H.lengths), int(horizon))
        if check_finite:
            check_outputs(self._outputs(y), "forecast", target_range=self.target_range_)
        layout = H.layout if H.layout in ("1d", "2d") else "3d"
        return from_batch(self._outputs(y), Batch(y, (int(horizon),) * y.shape[0], layout, H.kind))

    # ------------------------------------------------------------------ state_dict, save and load
    def get_extra_state(self) -> dict[str, Any]:
        if self.weight_ is None:
            return {"fitted": False}
        return {"fitted": True, "input_size": self._sizes[0], "output_size": self._sizes[1],
                "carries_state": self.state_x is not None, "scaled": self.target_mean_ is not None,
                "output_kind": self._output_kind, "output_layout": self._output_layout,
                "params": self._comparable_params()}

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):
        """Load a fitted DeepESN's ``state_dict`` into a DeepESN of the same parameters, once every tensor's
        presence, dtype, shape and finiteness is checked (:func:`check_deep_state`)."""
        extra = state_dict.get("_extra_state")
        if isinstance(extra, dict) and extra.get("fitted"):
            self._require_same_params(extra)
            named = check_deep_state(state_dict, extra, self._layer_sizes(), bool(self.input_to_all))
            self._build_from(named, extra)
        elif isinstance(extra, dict):
            self.weight_ = self.target_range_ = None
            self.reservoirs_ = None
            self._sizes = None
            for name in SCALE_BUFFERS:
                setattr(self, name, None)
            self.reset()
        return super().load_state_dict(state_dict, strict=strict, assign=assign)

    def _build_from(self, named: dict[str, torch.Tensor], extra: dict[str, Any]) -> None:
        dtype, device = self._dtype_device()

        def moved(t: torch.Tensor) -> torch.Tensor:
            return t.to(device=device, dtype=dtype if t.is_floating_point() else None, copy=True)

        self.reservoirs_ = nn.ModuleList(
            Reservoir(*(moved(named[f"reservoirs_.{k}.{key}"]) for key in RESERVOIR_KEYS), activation="tanh")
            for k in range(len(self._layer_sizes())))
        for name in ("weight_", "state_x", "state_y", "target_range_", *SCALE_BUFFERS):
            t = named.get(name)
            setattr(self, name, None if t is None else torch.empty(t.shape, dtype=dtype, device=device))
        self._sizes = (extra["input_size"], extra["output_size"])
        self._output_kind = extra.get("output_kind", "numpy")
        self._output_layout = extra.get("output_layout", "2d")

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={getattr(self, k)!r}" for k, v in DEFAULTS.items() if repr(getattr(self, k)) != repr(v))


def check_deep_state(tensors: dict[str, Any], extra: dict[str, Any], sizes: list[int],
                     input_to_all: bool) -> dict[str, torch.Tensor]:
    """The tensors of a fitted DeepESN's state dict by name, once the extra state's sizes and flags, every
    tensor's presence, dtype (int64 indices, floats all float32 or all float64), shape and finiteness are
    checked against the layer sizes: each failure a ``ValueError`` naming the field (the reservoirs then
    check W's CSR structure and their leak)."""
    for k in ("input_size", "output_size"):
        v = extra.get(k)
        if type(v) is not int or v < 1:
            raise ValueError(f"the extra state's {k} must be an integer >= 1, got {v!r}")
    for k in ("carries_state", "scaled"):
        if type(extra.get(k, False)) is not bool:
            raise ValueError(f"the extra state's {k} must be true or false, got {extra.get(k)!r}")
    for k, allowed in (("output_kind", ("numpy", "torch")), ("output_layout", ("1d", "2d", "3d"))):
        if extra.get(k, allowed[0]) not in allowed:
            raise ValueError(f"the extra state's {k} must be one of {allowed}, got {extra.get(k)!r}")
    d_in, d_out = extra["input_size"], extra["output_size"]
    F = 1 + d_in + sum(sizes)
    expect: dict[str, tuple[int, ...]] = {}
    for k, n in enumerate(sizes):
        width = d_in if k == 0 else sizes[k - 1] + (d_in if input_to_all else 0)
        p = f"reservoirs_.{k}."
        expect.update({p + "W_crow": (n + 1,), p + "W_in": (n, width), p + "W_fb": (n, 0), p + "bias": (n,),
                       p + "leak": (n,)})
    expect.update({"weight_": (d_out, F), "target_range_": (2, d_out)})
    if extra["carries_state"]:
        x = tensors.get("state_x")
        b = x.shape[0] if isinstance(x, torch.Tensor) and x.ndim == 2 else -1
        expect.update({"state_x": (max(b, 1), sum(sizes)), "state_y": (max(b, 1), d_out)})
    if extra.get("scaled", False):
        expect.update({"input_mean_": (d_in,), "input_scale_": (d_in,), "target_mean_": (d_out,),
                       "target_scale_": (d_out,)})
    names = list(expect) + [f"reservoirs_.{k}.{key}" for k in range(len(sizes)) for key in ("W_col", "W_values")]
    missing = [k for k in names if k not in tensors]
    if missing:
        raise ValueError(f"the state dict is missing {missing}")
    unexpected = [k for k in ("state_x", "state_y", *SCALE_BUFFERS) if k in tensors and k not in expect]
    if unexpected:
        raise ValueError(f"the state dict holds {unexpected}, which its extra state (carries_state, scaled) says it "
                         "has not")
    named = {k: tensors[k] for k in names}
    for k, t in named.items():
        if not isinstance(t, torch.Tensor):
            raise ValueError(f"{k} must be a tensor, got {type(t).__name__}")
    ints = [k for k in named if k.endswith(("W_crow", "W_col"))]
    for k in ints:
        if named[k].dtype != torch.int64:
            raise ValueError(f"{k} must be int64, got {named[k].dtype}")
    floats = {k: t.dtype for k, t in named.items() if k not in ints}
    if len(set(floats.values())) > 1 or next(iter(floats.values())) not in (torch.float32, torch.float64):
        raise ValueError("the floating tensors must all be float32 or all float64, got "
                         + ", ".join(f"{k} {str(v).replace('torch.', '')}" for k, v in floats.items()))
    for k, shape in expect.items():
        if tuple(named[k].shape) != shape:
            raise ValueError(f"{k} has shape {tuple(named[k].shape)}, expected {shape} for layers={sizes}, "
                             f"input_to_all={input_to_all}, {d_in} input(s) and {d_out} output(s)")
    for k in ("weight_", "target_range_", "state_x", "state_y", *SCALE_BUFFERS):
        if k in named:
            require_finite(named[k], k, "a model's weights, state and statistics must be finite")
    if bool((named["target_range_"][0] > named["target_range_"][1]).any()):
        raise ValueError("target_range_ must hold each output's minimum, then its maximum")
    for k in ("input_scale_", "target_scale_"):
        if k in named and not bool((named[k] > 0).all()):
            raise ValueError(f"{k} must be positive: it divides the data")
    return named
