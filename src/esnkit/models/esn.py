"""The Echo State Network estimator: a frozen reservoir plus a closed-form readout.

State update and readout (documented in full in ``docs/model.md``)::

    x[t] = (1 - a) * x[t-1] + a * f(W x[t-1] + W_in u[t] + W_fb y[t-1] + b)
    y[t] = W_out [1; u[t]; x[t]]

``fit`` harvests the states in one teacher-forced pass (the ``y[t-1]`` fed back is the previous
target) and solves for ``W_out`` in closed form. ``predict`` drives the network with new inputs,
feeding back its own outputs; ``generate`` runs it free, each output becoming the next feedback
(and, for a one-step-ahead forecaster, the next input).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

import numpy as np
import torch
from torch import nn

from .. import _alloc
from .._series import Batch, ends_in, from_batch, same_lengths, to_batch
from ..errors import NotFittedError
from ..loop import Unrolled, unroll
from ..readout import (
    SOLVERS,
    FeatureBuffer,
    NormalEquations,
    Readout,
    Solver,
    feature_size,
    kept_rows,
    solve_lstsq,
)
from ..reservoir import Activation, Reservoir, resolve_activation, seeded_effective_radius
from .estimator import Estimator

# Values per chunk buffer (drive, states, features) when chunk_size is None: 8 MB in float64,
# large enough that the per-chunk BLAS calls run at full speed.
CHUNK_VALUES = 2**20
DTYPES = {"float32": torch.float32, "float64": torch.float64}


class ESNState(NamedTuple):
    """A network state: reservoir state ``x`` (batch, N) and last output ``y`` (batch, D_out)."""

    x: torch.Tensor
    y: torch.Tensor


def _dtype(value: Any) -> torch.dtype:
    if isinstance(value, str) and value in DTYPES:
        return DTYPES[value]
    if value in (torch.float32, torch.float64):
        return value
    raise TypeError(f"dtype must be torch.float32 or torch.float64 (or 'float32'/'float64'), got {value!r}")


def _is_int(v: Any) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def _is_real(v: Any) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(v)


def _value_range(v: Any) -> tuple[tuple[int, ...], float, float] | None:
    """``(shape, smallest, largest)`` of a number or array-like of numbers (NaN bounds when it is
    empty or holds NaN); None when it is not numeric."""
    if _is_real(v):
        return (), float(v), float(v)
    if isinstance(v, str):
        return None
    try:
        a = np.asarray(v, dtype=float)
    except (TypeError, ValueError):
        return None
    if a.size == 0 or np.isnan(a).any():
        return a.shape, math.nan, math.nan
    return a.shape, float(a.min()), float(a.max())


def shifted(targets: torch.Tensor, y0: torch.Tensor) -> torch.Tensor:
    """The feedback a teacher-forced step sees: ``y[t-1]``, with ``y0`` (B, D) before the first step."""
    return torch.cat([y0[:, None], targets[:, :-1]], dim=1)


class ESN(Estimator, nn.Module):
    """Echo State Network with a sparse random reservoir and a ridge-regression readout.

    Parameters
    ----------
    reservoir_size : N, the number of reservoir neurons.
    spectral_radius : ρ > 0; ``W`` is rescaled so its largest absolute eigenvalue is exactly ρ.
        ρ < 1 is the usual choice for the echo state property; larger values are allowed with a warning.
    connectivity : fraction of nonzero entries of ``W`` in (0, 1]. Default: about 10 per row.
    in_degree : alternatively, exactly this many nonzeros in every row of ``W``.
    leak_rate : a in (0, 1], a scalar or one value per neuron (shape (N,)). 1 means no leak.
    input_scaling : scale of ``W_in``, a scalar or one value per input feature.
    input_connectivity : fraction of nonzero entries of ``W_in`` (default 1: dense).
    bias_scaling : scale of the bias ``b`` (uniform in ±bias_scaling, default 0.5). 0 disables it.
    feedback_scaling : scale of the output-feedback weights ``W_fb`` (dense). 0 disables feedback.
    activation : 'tanh' (default), 'identity', 'relu', 'sigmoid', or an elementwise callable.
    ridge : Tikhonov regularisation λ ≥ 0 of the readout. 0 gives the pseudoinverse solution.
    solver : 'auto' (Cholesky for λ > 0, pseudoinverse for λ = 0), 'cholesky', 'pinv', or 'lstsq'
        (least squares on the materialised states: more accurate, memory grows with the series).
    washout : number of initial steps of every training sequence left out of the readout fit.
    readout_bias, readout_input : whether the constant 1 and the input u[t] enter the readout.
    chunk_size : time steps processed per chunk; memory grows with chunk_size, not series length.
        Default (None): as many steps as keep each per-chunk buffer near 8 MB (2^20 values).
    seed : integer seed; the same seed gives bit-identical weights and results on the same machine.
    dtype, device : floating type (float32 or float64) and device of the weights and states.

    Shapes: series are ``(time, features)`` or ``(batch, time, features)``, or a list of
    ``(time, features)`` sequences of different lengths; 1-D arrays are one feature. Results come
    back in the same layout and array type (NumPy in, NumPy out; tensors in, tensors out).
    """

    def __init__(
        self,
        reservoir_size: int = 500,
        *,
        spectral_radius: float = 0.9,
        connectivity: float | None = None,
        in_degree: int | None = None,
        leak_rate: float | np.ndarray | list[float] = 1.0,
        input_scaling: float | np.ndarray | list[float] = 1.0,
        input_connectivity: float = 1.0,
        bias_scaling: float = 0.5,
        feedback_scaling: float = 0.0,
        activation: Activation = "tanh",
        ridge: float = 1e-8,
        solver: Solver = "auto",
        washout: int = 0,
        readout_bias: bool = True,
        readout_input: bool = True,
        chunk_size: int | None = None,
        seed: int | None = None,
        dtype: torch.dtype | str = torch.float64,
        device: torch.device | str | None = None,
    ) -> None:
        super().__init__()
        # Plain values, stored without nn.Module.__setattr__'s checks for parameters, buffers and
        # modules (a few µs each; a search builds thousands of models). The activation may be a
        # module, which nn.Module registers.
        self.activation = activation
        vars(self).update(
            reservoir_size=reservoir_size, spectral_radius=spectral_radius, connectivity=connectivity,
            in_degree=in_degree, leak_rate=leak_rate, input_scaling=input_scaling,
            input_connectivity=input_connectivity, bias_scaling=bias_scaling, feedback_scaling=feedback_scaling,
            ridge=ridge, solver=solver, washout=washout, readout_bias=readout_bias,
            readout_input=readout_input, chunk_size=chunk_size, seed=seed, dtype=dtype, device=device,
        )
        self._check_params()
        self.reservoir: Reservoir | None = None
        self.readout: Readout | None = None
        self.register_buffer("state_x", None)
        self.register_buffer("state_y", None)
        self.output_kind = "numpy"
        self.output_layout = "2d"

    # ------------------------------------------------------------------ parameters
    PARAMS = (
        "reservoir_size", "spectral_radius", "connectivity", "in_degree", "leak_rate", "input_scaling",
        "input_connectivity", "bias_scaling", "feedback_scaling", "activation", "ridge", "solver",
        "washout", "readout_bias", "readout_input", "chunk_size", "seed", "dtype", "device",
    )

    def _check_params(self) -> None:
        """The one place every hyper-parameter is validated (at construction and again at fit)."""
        n = self.reservoir_size
        if not _is_int(n) or n < 1:
            raise ValueError(f"reservoir_size must be a positive integer, got {n!r}")
        if not _is_real(self.spectral_radius) or self.spectral_radius <= 0:
            raise ValueError(f"spectral_radius must be a finite number > 0, got {self.spectral_radius!r}")
        if self.connectivity is not None and self.in_degree is not None:
            raise ValueError("give connectivity or in_degree, not both")
        if self.connectivity is not None and not (_is_real(self.connectivity) and 0 < self.connectivity <= 1):
            raise ValueError(f"connectivity must be in (0, 1], got {self.connectivity!r}")
        if self.in_degree is not None and not (_is_int(self.in_degree) and 1 <= self.in_degree <= n):
            raise ValueError(f"in_degree must be an integer in [1, reservoir_size={n}], got {self.in_degree!r}")
        # Plain numbers, the common case, are checked without NumPy, whose per-call overhead is most
        # of this method's cost (it runs at construction and at every fit).
        leak = _value_range(self.leak_rate)
        if leak is None or leak[0] not in ((), (n,)):
            raise ValueError(f"leak_rate must be a number or an array of shape ({n},), got {self.leak_rate!r}")
        if not 0 < leak[1] <= leak[2] <= 1:  # NaN compares false
            raise ValueError(f"leak_rate must lie in (0, 1], got {self.leak_rate!r}")
        scaling = _value_range(self.input_scaling)
        if scaling is None or len(scaling[0]) > 1 or not 0 <= scaling[1] <= scaling[2] < math.inf:
            raise ValueError(
                f"input_scaling must be a number ≥ 0 or one such number per input, got {self.input_scaling!r}"
            )
        if not (_is_real(self.input_connectivity) and 0 < self.input_connectivity <= 1):
            raise ValueError(f"input_connectivity must be in (0, 1], got {self.input_connectivity!r}")
        for name in ("bias_scaling", "feedback_scaling"):
            v = getattr(self, name)
            if not _is_real(v) or v < 0:
                raise ValueError(f"{name} must be a finite number ≥ 0, got {v!r}")
        resolve_activation(self.activation)
        if not _is_real(self.ridge) or self.ridge < 0:
            raise ValueError(f"ridge must be a finite number ≥ 0, got {self.ridge!r}")
        if self.solver not in SOLVERS:
            raise ValueError(f"solver must be one of {SOLVERS}, got {self.solver!r}")
        if self.solver == "pinv" and self.ridge > 0:
            raise ValueError("solver='pinv' is the unregularised solution: set ridge=0, or use solver='cholesky'")
        if not _is_int(self.washout) or self.washout < 0:
            raise ValueError(f"washout must be an integer ≥ 0, got {self.washout!r}")
        if self.chunk_size is not None and (not _is_int(self.chunk_size) or self.chunk_size < 1):
            raise ValueError(f"chunk_size must be None or a positive integer, got {self.chunk_size!r}")
        if self.seed is not None and not (_is_int(self.seed) and self.seed >= 0):
            raise ValueError(f"seed must be None or an integer ≥ 0, got {self.seed!r}")
        for name in ("readout_bias", "readout_input"):
            if not isinstance(getattr(self, name), bool):
                raise TypeError(f"{name} must be True or False, got {getattr(self, name)!r}")
        _dtype(self.dtype)
        try:
            device = torch.device(self.device or "cpu")
        except (RuntimeError, TypeError) as exc:
            raise ValueError(f"device {self.device!r} is not a valid torch device: {exc}") from None
        if device.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"device={self.device!r} but CUDA is not available here; use device='cpu'")

    # ------------------------------------------------------------------ fitted model
    @property
    def is_fitted(self) -> bool:
        return self.readout is not None

    def _require_fitted(self, what: str) -> Readout:
        if self.readout is None:
            raise NotFittedError(f"this ESN is not fitted yet: call fit(inputs, targets) before {what}()")
        return self.readout

    @property
    def input_size(self) -> int:
        self._require_fitted("input_size")
        return self.reservoir.input_size

    @property
    def output_size(self) -> int:
        return self._require_fitted("output_size").output_size

    def _dtype_device(self) -> tuple[torch.dtype, torch.device]:
        # After fit the buffers are the truth (they follow .to()); before, the constructor arguments.
        if self.readout is not None:
            w = self.readout.weight
            return w.dtype, w.device
        return _dtype(self.dtype), torch.device(self.device or "cpu")

    @property
    def state(self) -> ESNState | None:
        """The state the next ``predict``/``generate`` starts from (None: zeros)."""
        if self.state_x is None:
            return None
        return ESNState(self.state_x, self.state_y)

    def reset(self) -> ESN:
        """Forget the carried state: the next ``predict``/``generate`` starts from zeros."""
        self.state_x = None
        self.state_y = None
        return self

    def spectral_radius_(self) -> float:
        """Spectral radius of the fitted recurrent matrix ``W``."""
        self._require_fitted("spectral_radius_")
        return self.reservoir.spectral_radius()

    def effective_spectral_radius(self) -> float:
        """Spectral radius of the leaky linearisation ``(1 - a) I + a W`` of the fitted reservoir."""
        self._require_fitted("effective_spectral_radius")
        return self.reservoir.effective_spectral_radius()

    # ------------------------------------------------------------------ state handling
    def _start_state(self, initial_state: Any, batch: int | None, outputs: int | None = None) -> ESNState:
        """The state a run starts from: ``initial_state``, else the carried state, else zeros.

        ``outputs`` is the output width, needed only while fitting (before the readout exists).
        """
        dtype, device = self._dtype_device()
        N = self.reservoir.size
        D = self.readout.output_size if outputs is None else outputs
        if initial_state is None:
            state = self.state
            if state is None:
                b = batch or 1
                return ESNState(torch.zeros(b, N, dtype=dtype, device=device),
                                torch.zeros(b, D, dtype=dtype, device=device))
            if batch is not None and state.x.shape[0] != batch:
                if state.x.shape[0] == 1:
                    return ESNState(state.x.expand(batch, N), state.y.expand(batch, D))
                raise ValueError(
                    f"the model carries the states of {state.x.shape[0]} sequences (from its last fit or "
                    f"update) but {batch} were given; pass initial_state=..., or call reset() to start from zeros"
                )
            return state
        if isinstance(initial_state, ESNState) or (isinstance(initial_state, tuple) and len(initial_state) == 2):
            x, y = initial_state
        else:
            x, y = initial_state, None
        x = self._state_tensor(x, "initial_state.x", N, dtype, device)
        y = (torch.zeros(x.shape[0], D, dtype=dtype, device=device) if y is None
             else self._state_tensor(y, "initial_state.y", D, dtype, device))
        if y.shape[0] != x.shape[0]:
            raise ValueError(f"initial_state.x holds {x.shape[0]} state(s) but initial_state.y holds {y.shape[0]}")
        if batch is not None and x.shape[0] != batch:
            if x.shape[0] != 1:
                raise ValueError(f"initial_state holds {x.shape[0]} states but {batch} sequences were given")
            x, y = x.expand(batch, N), y.expand(batch, D)
        return ESNState(x, y)

    @staticmethod
    def _state_tensor(v: Any, name: str, width: int, dtype, device) -> torch.Tensor:
        if isinstance(v, torch.Tensor) and v.device.type != device.type:
            raise ValueError(f"{name} is on device '{v.device}' but the model is on '{device}'")
        t = torch.as_tensor(np.asarray(v) if not isinstance(v, torch.Tensor) else v).to(dtype=dtype, device=device)
        if t.ndim == 1:
            t = t[None]
        if t.ndim != 2 or t.shape[1] != width:
            raise ValueError(f"{name} must have shape ({width},) or (batch, {width}), got {tuple(t.shape)}")
        if not torch.isfinite(t).all():
            raise ValueError(f"{name} contains NaN or Inf")
        return t

    def _store(self, state: ESNState) -> None:
        self.state_x = state.x.detach().clone()
        self.state_y = state.y.detach().clone()

    # ------------------------------------------------------------------ the chunked run
    def _chunks(
        self,
        steps: int,
        start: ESNState,
        *,
        inputs: Batch | None = None,
        teacher: torch.Tensor | None = None,
        closed_loop: bool = False,
        keep_states: bool = True,
        into: Callable[[slice], torch.Tensor] | None = None,
    ) -> Iterator[tuple[slice, torch.Tensor | None, Unrolled]]:
        """Run over ``steps`` in chunks of ``chunk_size``; yields ``(time slice, inputs, Unrolled)``.

        ``teacher`` (B, T, D) is the target sequence fed back under teacher forcing. Without it, a
        model with output feedback (or ``closed_loop``) runs its readout inside the loop. ``into``
        maps a chunk's time slice to the (B, steps, N) tensor that receives its states; the
        yielded states are that tensor.
        """
        res, readout = self.reservoir, self.readout
        B = start.x.shape[0]
        feedback = res.W_fb if res.feedback_size else None
        in_loop = teacher is None and (feedback is not None or closed_loop)
        if closed_loop and res.input_size:
            feedback = res.W_in if feedback is None else feedback + res.W_in
        if teacher is not None:
            teacher = shifted(teacher, start.y) if feedback is not None else None
        x, y = start
        chunk = self._chunk_steps(B)
        for lo in range(0, steps, chunk):
            sl = slice(lo, min(steps, lo + chunk))
            u = inputs.data[:, sl] if inputs is not None else None
            drive = res.drive(None if closed_loop else u, teacher[:, sl] if teacher is not None else None,
                              batch=B, steps=sl.stop - lo)
            out = unroll(
                res, drive, x,
                readout=readout if in_loop else None,
                inputs=u,
                feedback=feedback if in_loop else None,
                y0=y,
                inputs_from_outputs=closed_loop and res.input_size > 0,
                keep_states=keep_states,
                states_out=into(sl) if into is not None else None,
                step_offset=lo,
            )
            x, y = out.x, out.y
            yield sl, u, out

    def _build_reservoir(self, d_in: int, d_out: int) -> Reservoir:
        """Draw the reservoir for ``d_in`` inputs and ``d_out`` outputs (fed back when feedback_scaling > 0)."""
        scaling = np.asarray(self.input_scaling, dtype=float)
        if scaling.ndim == 1 and scaling.shape[0] != d_in:
            raise ValueError(f"input_scaling has {scaling.shape[0]} values but inputs have {d_in} feature(s)")
        return Reservoir.random(
            self.reservoir_size, d_in, d_out if self.feedback_scaling > 0 else 0,
            spectral_radius=self.spectral_radius, connectivity=self.connectivity, in_degree=self.in_degree,
            leak_rate=np.asarray(self.leak_rate, dtype=float), input_scaling=scaling,
            input_connectivity=self.input_connectivity, bias_scaling=self.bias_scaling,
            feedback_scaling=self.feedback_scaling, activation=self.activation, seed=self.seed,
            dtype=_dtype(self.dtype), device=torch.device(self.device or "cpu"),
        )

    def _check_echo_state(self, reservoir: Reservoir, stacklevel: int) -> None:
        _, a, largest = _value_range(self.leak_rate)
        known = None
        if a == largest:  # one leak rate for every neuron
            if a == 1.0:
                known = self.spectral_radius  # no leak: the radius W was just scaled to
            elif self.spectral_radius < 1.0:
                # One leak rate a: the eigenvalues are 1 - a + a λ_i, so |.| ≤ 1 - a + a ρ < 1 and the
                # warning cannot fire; skipping saves a second eigenvalue problem per fit.
                return
            elif self.seed is not None:
                known = seeded_effective_radius(self.reservoir_size, self.connectivity, self.in_degree,
                                                self.seed, self.spectral_radius, a)
        reservoir.check_echo_state(stacklevel=stacklevel, radius=known)

    def _chunk_steps(self, batch: int) -> int:
        return self.chunk_size or max(64, CHUNK_VALUES // (batch * self.reservoir_size))

    @staticmethod
    def _final(seq: torch.Tensor, lengths: tuple[int, ...]) -> torch.Tensor:
        """The last real step of each sequence of ``seq`` (B, T, D): (B, D)."""
        if all(n == seq.shape[1] for n in lengths):
            return seq[:, -1]
        idx = torch.tensor(lengths, device=seq.device) - 1
        return seq[torch.arange(seq.shape[0], device=seq.device), idx]

    def _fit_data(self, inputs: Any, targets: Any) -> tuple[Batch | None, Batch]:
        """Check and convert fit's arguments (see :meth:`fit`)."""
        dtype, device = _dtype(self.dtype), torch.device(self.device or "cpu")
        U = None if inputs is None else to_batch(inputs, "inputs", dtype=dtype, device=device)
        Y = to_batch(targets, "targets", dtype=dtype, device=device)
        if U is not None:
            same_lengths(U, Y, "inputs", "targets")
        elif self.feedback_scaling == 0:
            raise ValueError(
                "inputs=None trains a pattern generator driven only by output feedback, which needs "
                "feedback_scaling > 0"
            )
        short = [i for i, n in enumerate(Y.lengths) if n <= self.washout]
        if short:
            i = short[0]
            which = f"sequence {i} of targets" if Y.batch_size > 1 else "targets"
            raise ValueError(
                f"{which} has {Y.lengths[i]} time steps, not more than washout={self.washout}: nothing is "
                "left to fit the readout on; use a longer series or a smaller washout"
            )
        return U, Y

    # ------------------------------------------------------------------ public API
    def fit(self, inputs: Any, targets: Any, *, initial_state: Any = None) -> ESN:
        """Harvest states under teacher forcing and solve the readout in closed form.

        ``inputs`` (T, D_in), (B, T, D_in), a list of sequences, or None for a network driven only by
        its output feedback (a pattern generator; needs ``feedback_scaling > 0``). ``targets`` has the
        same time layout with D_out features. The first ``washout`` steps of every sequence are left
        out of the fit. Afterwards the model carries the final state of each sequence, so ``predict``
        and ``generate`` continue where the training data ended. Returns ``self``.
        """
        self._check_params()
        U, Y = self._fit_data(inputs, targets)
        d_in = U.features if U is not None else 0
        self.reservoir = self._build_reservoir(d_in, Y.features)
        self._check_echo_state(self.reservoir, stacklevel=4)
        self.readout = None
        start = self._start_state(initial_state, Y.batch_size, Y.features)

        use_input = self.readout_input and d_in > 0
        n_feat = feature_size(self.reservoir_size, d_in, self.readout_bias, use_input)
        normal = NormalEquations(n_feat, Y.features, Y.data.device)
        buffer = FeatureBuffer(Y.batch_size, min(Y.steps, self._chunk_steps(Y.batch_size)), self.reservoir_size,
                               d_in, self.readout_bias, use_input, Y.data.dtype, Y.data.device)
        keep_rows = self.solver == "lstsq"
        rows_z, rows_y = [], []
        final_x = start.x.clone()
        for sl, u, out in self._chunks(Y.steps, start, inputs=U, teacher=Y.data,
                                       into=lambda sl: buffer.states(sl.stop - sl.start)):
            keep = Y.kept(self.washout, sl)
            for b, t in ends_in(Y.lengths, sl):
                final_x[b] = out.states[b, t]
            z, y = buffer.rows(u, keep), kept_rows(Y.data[:, sl], keep)
            if keep_rows:
                rows_z.append(z.clone())  # the buffer is reused by the next chunk
                rows_y.append(y)
            else:
                normal.update(z, y)
        if keep_rows:
            weight = solve_lstsq(torch.cat(rows_z), torch.cat(rows_y), self.ridge)
        else:
            weight = normal.solve(self.ridge, self.solver)
        self._set_fitted(weight, d_in, ESNState(final_x, self._final(Y.data, Y.lengths)), Y)
        return self

    def _set_fitted(self, weight: torch.Tensor, d_in: int, final: ESNState, like: Batch) -> None:
        """Install the solved readout ``weight`` (D_out, F) and the carried final state."""
        use_input = self.readout_input and d_in > 0
        self.readout = Readout(weight.to(_dtype(self.dtype)), input_size=d_in, use_bias=self.readout_bias,
                               use_input=use_input)
        self._store(final)
        self.output_kind = like.kind
        self.output_layout = "2d" if like.layout == "2d" else "3d"

    def predict(
        self,
        inputs: Any,
        *,
        initial_state: Any = None,
        update_state: bool = False,
        return_state: bool = False,
    ) -> Any:
        """Drive the network with ``inputs`` (open loop); returns outputs ``(..., time, D_out)``.

        Starts from ``initial_state``, else from the carried state (where ``fit`` left off), else
        zeros. With output feedback the network's own previous output is fed back. The carried state
        is left unchanged unless ``update_state=True``; ``return_state=True`` also returns the final
        :class:`ESNState`.
        """
        readout = self._require_fitted("predict")
        dtype, device = self._dtype_device()
        if self.reservoir.input_size == 0:
            raise ValueError("this model was fitted without inputs (a pattern generator): use generate(n_steps)")
        U = to_batch(inputs, "inputs", dtype=dtype, device=device,
                     features=self.reservoir.input_size, features_what="the model was fitted on")
        start = self._start_state(initial_state, U.batch_size)
        in_loop = self.reservoir.feedback_size > 0
        ys = []
        final_x, final_y = start.x.clone(), start.y.clone()
        for sl, u, out in self._chunks(U.steps, start, inputs=U, keep_states=not in_loop or U.ragged):
            y = out.outputs if in_loop else readout(out.states, u)
            ys.append(y)
            for b, t in ends_in(U.lengths, sl):
                final_x[b] = out.states[b, t] if out.states is not None else out.x[b]
                final_y[b] = y[b, t]
        y = torch.cat(ys, dim=1)
        return self._finish(y, U, ESNState(final_x, final_y), update_state, return_state)

    def generate(
        self,
        n_steps: int,
        *,
        initial_state: Any = None,
        update_state: bool = False,
        return_state: bool = False,
    ) -> Any:
        """Run free for ``n_steps``: each output is fed back (as feedback, and as the next input of a
        one-step-ahead forecaster). Returns ``(n_steps, D_out)``, or ``(batch, n_steps, D_out)`` when
        the state holds several sequences.

        The first output continues from the carried state: after ``fit(u, y)`` on a forecaster it
        predicts the step after the last target.
        """
        readout = self._require_fitted("generate")
        if not _is_int(n_steps) or n_steps < 1:
            raise ValueError(f"n_steps must be a positive integer, got {n_steps!r}")
        res = self.reservoir
        forecaster = res.input_size > 0 and res.input_size == readout.output_size
        if not forecaster and (res.input_size > 0 or res.feedback_size == 0):
            raise ValueError(
                f"this model maps {res.input_size} input(s) to {readout.output_size} output(s) and has "
                f"{'no ' if res.feedback_size == 0 else ''}output feedback, so its outputs cannot drive it "
                "alone. generate needs a one-step-ahead forecaster (inputs and targets of the same width) "
                "or a pattern generator (fit(None, targets) with feedback_scaling > 0); use predict(inputs)"
            )
        start = self._start_state(initial_state, None)
        ys, x_last = [], start.x
        for _, _, out in self._chunks(n_steps, start, closed_loop=True, keep_states=False):
            ys.append(out.outputs)
            x_last = out.x
        y = torch.cat(ys, dim=1)
        layout = self.output_layout if y.shape[0] == 1 else "3d"
        like = Batch(y, (n_steps,) * y.shape[0], layout, self.output_kind)
        return self._finish(y, like, ESNState(x_last, y[:, -1]), update_state, return_state)

    def states(self, inputs: Any, *, targets: Any = None, initial_state: Any = None) -> Any:
        """Reservoir states ``(..., time, N)`` for ``inputs`` (None for a pattern generator).

        With ``targets`` the feedback is teacher-forced, exactly as during ``fit``; without, the
        model's own outputs are fed back. The carried state is not changed.
        """
        self._require_fitted("states")
        dtype, device = self._dtype_device()
        U = None if inputs is None else to_batch(
            inputs, "inputs", dtype=dtype, device=device,
            features=self.reservoir.input_size, features_what="the model was fitted on")
        Y = None if targets is None else to_batch(
            targets, "targets", dtype=dtype, device=device,
            features=self.readout.output_size, features_what="the model was fitted on")
        if U is not None and Y is not None:
            same_lengths(U, Y, "inputs", "targets")
        ref = U if U is not None else Y
        if ref is None:
            raise ValueError("states needs inputs, targets, or both")
        start = self._start_state(initial_state, ref.batch_size)
        # written in place by each chunk: concatenating the chunks afterwards took longer than the
        # time loop (a second pass over memory the allocator had just mapped page by page)
        xs = _alloc.empty((ref.batch_size, ref.steps, self.reservoir_size), dtype, device)
        for _ in self._chunks(ref.steps, start, inputs=U, teacher=Y.data if Y is not None else None,
                              into=lambda sl: xs[:, sl]):
            pass
        return from_batch(xs, ref)

    def save(self, path) -> None:
        """Write the fitted model to ``path``; see :func:`esnkit.save`."""
        from ..io import save

        save(self, path)

    def _finish(self, y: torch.Tensor, like: Batch, final: ESNState, update_state: bool, return_state: bool):
        if update_state:
            self._store(final)
        out = from_batch(y, like)
        return (out, final) if return_state else out

    def extra_repr(self) -> str:
        defaults = ESN.__init__.__kwdefaults__ or {}
        shown = [f"reservoir_size={self.reservoir_size}"]
        for k in self.PARAMS[1:]:
            v = getattr(self, k)
            if k in defaults and not isinstance(v, (np.ndarray, list)) and v == defaults[k]:
                continue
            shown.append(f"{k}={v!r}" if not isinstance(v, (np.ndarray, list)) else f"{k}=<array>")
        return ", ".join(shown)
