"""The Echo State Network estimator: a frozen reservoir plus a closed-form readout.

State update and readout (documented in full in ``docs/model.md``)::

    x[t] = (1 - a) * x[t-1] + a * f(W x[t-1] + W_in u[t] + W_fb y[t-1] + b)
    y[t] = W_out [1; u[t]; x[t]]        (or W_out z[t] of another feature map: ``features``)

``fit`` harvests the states in one teacher-forced pass (the ``y[t-1]`` fed back is the previous
target) and solves for ``W_out`` in closed form. Which calls start from and move the carried state:

==============  ======================================  ==========================================
call            starts from                             carried state afterwards
==============  ======================================  ==========================================
``fit``         zeros, or ``initial_state``             the end of each training sequence
``predict``     the carried state, or ``initial_state``  the end of the inputs (``update_state=True``)
``generate``    the carried state, or ``initial_state``  the end of the free run (``update_state=True``)
``forecast``    zeros per history, or ``initial_state``  unchanged
``forward``     zeros, or ``initial_state``              unchanged
``states``      the carried state, or ``initial_state``  unchanged
``score``       the carried state                        unchanged
==============  ======================================  ==========================================

The carried state is zeros before the first fit and after :meth:`ESN.reset`.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from .. import _alloc, _memory, io, params
from .._checks import require_finite
from .._series import Batch, ends_in, from_batch, same_lengths, to_batch
from ..errors import NotFittedError
from ..params import is_int, torch_dtype
from ..readout import LMS, RLS, FeatureMap, Lstsq, Readout, Ridge, StateInputs, Trainer, TrainerFit
from ..reservoir import Activation, Reservoir, check_activation, seeded_effective_radius
from ..reservoir.initializers import as_recurrent_matrix
from . import force
from .diagnostics import check_fit
from .engine import ESNState, Harvest, WithHistory, chunk_steps, harvest, last_lags, last_steps, run, run_stepwise
from .output_policy import check_outputs, target_range
from .reservoir_model import ReservoirModel, using
from .scaling import restored, standardisation, standardised
from .state_dict import RESERVOIR_KEYS, check_state_dict

_D = params.DEFAULTS  # the constructor's defaults, shared with the search space and the command line


# Parameters every model of one harvest must share: they fix the layout of the stacked run and of
# the features.
SHARED = ("reservoir_size", "activation", "washout", "readout_bias", "readout_input", "features", "scale",
          "chunk_size", "dtype", "device")
# The standardisation of scale=True: (D_in,) for the inputs, (D_out,) for the targets.
SCALE_BUFFERS = ("input_mean_", "input_scale_", "target_mean_", "target_scale_")
# What a readout's solve depends on, beyond the harvest itself.
READOUT_PARAMS = ("ridge", "solver", "trainer", "forgetting", "learning_rate", "force_alpha")


class _Continue:
    """A trainer whose ``start`` hands back an accumulation already under way (partial_fit's)."""

    def __init__(self, fit: TrainerFit) -> None:
        self.fit = fit

    def start(self, n_features: int, n_outputs: int, device: torch.device | str) -> TrainerFit:
        return self.fit


def _same_features(a: Any, b: Any) -> bool:
    return a is b or (isinstance(a, str) and isinstance(b, str) and a == b)


class _Unsaved:
    """The FeatureMap object a loaded model was saved with (features='custom'), which files do not hold."""

    linear = False

    def size(self, state_size: int, input_size: int) -> int:
        return self(None, None)

    def __call__(self, x: Any, u: Any) -> torch.Tensor:
        raise ValueError("this ESN was loaded from a file saved with a FeatureMap object (features='custom'), "
                         "which is not saved: set_params(features=...) with the same map, then load_state_dict "
                         "again (or refit)")


def check_members(models: Any) -> list[ESN]:
    """``models`` as a non-empty list of ESNs that share the :data:`SHARED` parameters."""
    try:
        models = list(models)
    except TypeError:
        raise TypeError(f"models must be a sequence of esnkit.ESN, got {type(models).__name__}") from None
    if not models:
        raise ValueError("models holds no ESN: give at least one")
    for i, m in enumerate(models):
        if not isinstance(m, ESN):
            raise TypeError(f"models[{i}] must be an esnkit.ESN, got {type(m).__name__}")
        for name in SHARED:
            if _same(getattr(m, name), getattr(models[0], name)) is False:
                raise ValueError(f"the models must share {name}: models[{i}] has {getattr(m, name)!r}, "
                                 f"models[0] has {getattr(models[0], name)!r}")
    return models


def _same(a: Any, b: Any) -> bool:
    """Whether two parameter values are equal (arrays and lists element by element)."""
    return repr(io.jsonable(a)) == repr(io.jsonable(b))


def _n_series(x: Any) -> int:
    """How many sequences a series argument holds, read without converting it (1 where unclear)."""
    if isinstance(x, (list, tuple)) and x and all(hasattr(s, "shape") for s in x):
        return len(x)
    shape = getattr(x, "shape", ())
    return int(shape[0]) if len(shape) == 3 else 1


class ESN(ReservoirModel):
    """Echo State Network with a sparse random reservoir and a ridge-regression readout.

    Parameters
    ----------
    reservoir_size : N, the number of reservoir neurons.
    spectral_radius : ρ > 0; ``W`` is rescaled so its largest absolute eigenvalue is exactly ρ.
        ρ < 1 is the usual choice for the echo state property; larger values are allowed with a warning.
    initializer : how ``W`` is built before its rescaling to ρ (docs/initializers.md): 'random' (default,
        sparse uniform(-1, 1)), 'cycle_jumps' (a cycle with regular jumps; :class:`esnkit.reservoir.CycleJumps`
        for other jumps), 'delay_line' (a shift register; nilpotent, so its links are set to ρ and its
        spectral radius is 0), 'orthogonal' (random orthogonal), an initializer callable ``(size, rng)``,
        or an N x N matrix (NumPy, SciPy sparse or torch). A model with a callable or a matrix saves it
        as 'custom' and :func:`esnkit.load` rebuilds it from the saved ``W``.
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
        For trainer='ridge' only.
    trainer : how the readout is trained (docs/online.md): 'ridge' (default: the closed-form ridge
        solution of ``ridge`` and ``solver``), 'rls' (recursive least squares, :class:`esnkit.readout.RLS`
        with forgetting 1 and ``P0 = I / ridge``: the ridge solution again, up to rounding, computed
        row by row), 'lms' (normalised least mean squares, :class:`esnkit.readout.LMS` with its
        defaults), 'force' (FORCE learning, :class:`esnkit.readout.FORCE` with its defaults: RLS while
        the network runs on its own fed-back output; needs feedback_scaling > 0), or a Trainer object
        (``RLS(forgetting=0.99)``, say). The named trainers take their settings from
        ``forgetting``, ``learning_rate`` and ``force_alpha`` (below), which are saved with the
        model and searchable; a Trainer object carries its own. A model with a Trainer object saves
        it as 'custom': a loaded one predicts, and needs a trainer again to be fitted.
    forgetting : forgetting factor λ in (0, 1] of trainer='rls' and trainer='force' (default 1: every
        row weighs alike; below 1 a row ``s`` steps old weighs ``λ^s``, so the readout tracks a
        mapping that changes).
    learning_rate : learning rate μ in (0, 2) of trainer='lms' (normalised LMS; default 0.5).
    force_alpha : alpha > 0 of trainer='force': ``P`` starts at ``I / alpha`` (default 1; small values
        give fast, aggressive first updates).
    washout : number of initial steps of every training sequence left out of the readout fit.
    readout_bias, readout_input : whether the constant 1 and the input u[t] enter the readout.
    features : what the readout reads (docs/model.md, "Readout features"): 'linear' (default,
        ``z = [1; u; x]``), 'squared' (``[1; u; x~]`` with every second neuron squared, Pathak et al.
        2018's fix of the tanh reservoir's sign symmetry), 'quadratic' (``[1; u; x; x²]``), or a
        :class:`~esnkit.readout.FeatureMap` object ``z = map(x, u)`` (then ``readout_bias`` and
        ``readout_input`` are the map's business). A linear readout runs inside the native time loop;
        any other runs between its steps (closed loops and output feedback are then slower). A model
        with a FeatureMap object saves it as 'custom': a loaded one needs ``set_params(features=...)``
        again before it predicts.
    scale : standardise every input and target feature with the mean and standard deviation of the
        training data (``fit``'s steps; a search's training part), and give outputs back in the data's
        units. ``input_scaling``, ``ridge`` and the bias then act on standardised data, whatever the
        data's units. Off by default, so that a model on data already scaled (the chaotic benchmarks,
        say) is the textbook ESN; ``esnkit forecast`` and the forecasting workflow turn it on.
        The statistics are fitted attributes (``input_mean_``, ``input_scale_``, ``target_mean_``,
        ``target_scale_``), saved with the model; the carried state's ``y`` and an
        ``initial_state``'s are in standardised units.
    chunk_size : time steps processed per chunk; memory grows with chunk_size, not series length.
        Default (None): as many steps as keep each per-chunk buffer near 8 MB (2^20 values).
    seed : integer seed; the same seed gives bit-identical weights and results on the same machine.
    dtype, device : floating type (float32 or float64, torch or NumPy) and device of the weights and
        states. ``esn.to(dtype)`` / ``esn.to(device)`` moves a fitted model and updates both.

    Shapes: series are ``(time,)``, ``(time, features)`` or ``(batch, time, features)``, or a list
    of ``(time, features)`` sequences of different lengths. Results come back in the same layout
    and array type (NumPy in, NumPy out; tensors in, tensors out; 1-D in, 1-D out for one output).

    Fitted attributes: ``reservoir_`` (the frozen :class:`~esnkit.Reservoir`), ``readout_`` (the
    :class:`~esnkit.Readout`), ``input_size_``, ``output_size_``; the carried state is
    :attr:`state`. See the module docstring for which calls start from and move it.
    """

    def __init__(
        self,
        reservoir_size: int = _D["reservoir_size"],
        *,
        spectral_radius: float = _D["spectral_radius"],
        initializer: Any = _D["initializer"],
        connectivity: float | None = _D["connectivity"],
        in_degree: int | None = _D["in_degree"],
        leak_rate: float | np.ndarray | list[float] = _D["leak_rate"],
        input_scaling: float | np.ndarray | list[float] = _D["input_scaling"],
        input_connectivity: float = _D["input_connectivity"],
        bias_scaling: float = _D["bias_scaling"],
        feedback_scaling: float = _D["feedback_scaling"],
        activation: Activation = _D["activation"],
        ridge: float = _D["ridge"],
        solver: str = _D["solver"],
        trainer: Any = _D["trainer"],
        forgetting: float = _D["forgetting"],
        learning_rate: float = _D["learning_rate"],
        force_alpha: float = _D["force_alpha"],
        washout: int = _D["washout"],
        readout_bias: bool = _D["readout_bias"],
        readout_input: bool = _D["readout_input"],
        features: str | FeatureMap = _D["features"],
        scale: bool = _D["scale"],
        chunk_size: int | None = _D["chunk_size"],
        seed: int | None = _D["seed"],
        dtype: torch.dtype | str | Any = _D["dtype"],
        device: torch.device | str | None = _D["device"],
    ) -> None:
        super().__init__()
        # Plain values, stored without nn.Module.__setattr__'s checks for parameters, buffers and
        # modules (a few µs each; a search builds thousands of models). The activation may be a
        # module, which nn.Module registers.
        self.activation = activation
        vars(self).update(
            reservoir_size=reservoir_size, spectral_radius=spectral_radius, initializer=initializer,
            connectivity=connectivity, in_degree=in_degree, leak_rate=leak_rate, input_scaling=input_scaling,
            input_connectivity=input_connectivity, bias_scaling=bias_scaling, feedback_scaling=feedback_scaling,
            ridge=ridge, solver=solver, trainer=trainer, forgetting=forgetting, learning_rate=learning_rate,
            force_alpha=force_alpha, washout=washout, readout_bias=readout_bias,
            readout_input=readout_input, features=features, scale=scale, chunk_size=chunk_size, seed=seed,
            dtype=dtype, device=device,
        )
        self._check_params()
        vars(self)["_online"] = None  # partial_fit's accumulation and where its data ended
        vars(self)["_fitted_features"] = None  # the features the fitted readout reads (set_params may change them)
        self.reservoir_: Reservoir | None = None
        self.readout_: Readout | None = None
        self.register_buffer("state_x", None)
        self.register_buffer("state_y", None)
        # a readout with lags (features='...+delays:k'): the steps before the carried state, oldest first
        self.register_buffer("state_lags_x", None)  # (B, lags, N)
        self.register_buffer("state_lags_u", None)  # (B, lags, D_in), None without inputs
        self.register_buffer("target_range_", None)  # (2, D_out): the training targets' min and max
        for name in SCALE_BUFFERS:  # scale=True: each feature's training mean and standard deviation
            self.register_buffer(name, None)
        self._output_kind = "numpy"
        self._output_layout = "2d"

    # ------------------------------------------------------------------ parameters
    PARAMS = tuple(params.DEFAULTS)

    def _check_params(self) -> None:
        """Every hyper-parameter, checked at construction and again at fit (see :mod:`esnkit.params`)."""
        params.check({k: getattr(self, k) for k in self.PARAMS})
        check_activation(self.activation, torch_dtype(self.dtype))
        init = self.initializer
        if not isinstance(init, str) and not callable(init):
            as_recurrent_matrix(init, self.reservoir_size)

    # ------------------------------------------------------------------ fitted model
    @property
    def is_fitted(self) -> bool:
        return self.readout_ is not None

    def _require_fitted(self, what: str) -> Readout:
        if self.readout_ is None:
            raise NotFittedError(f"this ESN is not fitted yet: call fit(inputs, targets) before {using(what)}")
        return self.readout_

    @property
    def input_size_(self) -> int:
        """Input features the model was fitted on (0 for a pattern generator)."""
        self._require_fitted("input_size_")
        return self.reservoir_.input_size

    @property
    def output_size_(self) -> int:
        """Outputs (targets' features) the model was fitted on."""
        return self._require_fitted("output_size_").output_size

    @property
    def state(self) -> ESNState | None:
        """The carried state the next ``predict``/``generate`` starts from (None: zeros)."""
        if self.state_x is None:
            return None
        return ESNState(self.state_x, self.state_y)

    def reset(self) -> ESN:
        """Forget the carried state: the next ``predict``/``generate`` starts from zeros."""
        self.state_x = None
        self.state_y = None
        self.state_lags_x = self.state_lags_u = None
        return self

    def spectral_radius_(self) -> float:
        """Spectral radius of the fitted recurrent matrix ``W`` (0 for a delay line)."""
        self._require_fitted("spectral_radius_")
        if self._structured():
            return self.reservoir_.dense_spectral_radius(nilpotent=self._named("delay_line"))
        return self.reservoir_.spectral_radius()

    def effective_spectral_radius(self) -> float:
        """Spectral radius of the leaky linearisation ``(1 - a) I + a W`` of the fitted reservoir."""
        self._require_fitted("effective_spectral_radius")
        if self._structured():
            return self.reservoir_.dense_spectral_radius(leaky=True, nilpotent=self._named("delay_line"))
        return self.reservoir_.effective_spectral_radius()

    def _named(self, name: str) -> bool:
        """Whether the initializer is the registered ``name`` (not a callable or a matrix)."""
        return isinstance(self.initializer, str) and self.initializer == name

    def _structured(self) -> bool:
        """Whether W came from an initializer other than 'random' (a cycle's or an orthogonal matrix's
        eigenvalues crowd a circle, where ARPACK takes minutes: their spectra are computed densely)."""
        return not self._named("random")

    # ------------------------------------------------------------------ state handling
    def _zeros(self, batch: int, outputs: int, where: tuple[torch.dtype, torch.device]) -> ESNState:
        dtype, device = where
        return ESNState(torch.zeros(batch, self.reservoir_size, dtype=dtype, device=device),
                        torch.zeros(batch, outputs, dtype=dtype, device=device))

    def _start(self, initial_state: Any, batch: int | None, *, carried: bool, outputs: int | None = None) -> ESNState:
        """The state a run starts from: ``initial_state``; else the carried state when ``carried``
        (see the table in the module docstring); else zeros. ``outputs`` is the output width, needed
        only while fitting (before the readout exists), which runs as the parameters say; otherwise
        the fitted model runs as its weights are."""
        N = self.reservoir_size
        D = self.readout_.output_size if outputs is None else outputs
        where = self._dtype_device() if outputs is not None else self._run_dtype_device()
        if initial_state is None:
            state = self.state if carried else None
            if state is None:
                return self._zeros(batch or 1, D, where)
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
        x = self._state_tensor(x, "initial_state.x", N, where)
        y = (torch.zeros(x.shape[0], D, dtype=x.dtype, device=x.device) if y is None
             else self._state_tensor(y, "initial_state.y", D, where))
        if y.shape[0] != x.shape[0]:
            raise ValueError(f"initial_state.x holds {x.shape[0]} state(s) but initial_state.y holds {y.shape[0]}")
        if batch is not None and x.shape[0] != batch:
            if x.shape[0] != 1:
                raise ValueError(f"initial_state holds {x.shape[0]} states but {batch} sequences were given")
            x, y = x.expand(batch, N), y.expand(batch, D)
        return ESNState(x, y)

    def _state_tensor(self, v: Any, name: str, width: int, where: tuple[torch.dtype, torch.device]) -> torch.Tensor:
        dtype, device = where
        if isinstance(v, torch.Tensor) and v.device.type != device.type:
            raise ValueError(f"{name} is on device '{v.device}' but the model is on '{device}'")
        if isinstance(v, torch.Tensor) and (v.is_complex() or v.dtype == torch.bool):
            raise TypeError(f"{name} must hold real numbers, got a tensor of dtype {v.dtype}")
        try:
            a = v if isinstance(v, torch.Tensor) else np.asarray(v)
            if isinstance(a, np.ndarray) and a.dtype.kind not in "iuf":
                raise TypeError(f"it is {type(v).__name__} of dtype {a.dtype}")
            t = torch.as_tensor(a).to(dtype=dtype, device=device)
        except (TypeError, ValueError, RuntimeError) as exc:
            raise TypeError(f"{name} must be an array of real numbers of shape ({width},) or (batch, {width}): "
                            f"{exc}") from None
        if t.ndim == 1:
            t = t[None]
        if t.ndim != 2 or t.shape[1] != width:
            raise ValueError(f"{name} must have shape ({width},) or (batch, {width}), got {tuple(t.shape)}")
        if t.shape[0] == 0:
            raise ValueError(f"{name} holds no state: shape {tuple(t.shape)}, expected ({width},) or (batch, {width})")
        require_finite(t, name, "give a finite state")
        return t

    def _fitted_tensor(self) -> torch.Tensor | None:
        return None if self.readout_ is None else self.readout_.weight

    def _batch_of(self, initial_state: Any) -> int:
        """How many sequences a run from ``initial_state`` (else the carried state) holds, for the memory
        guard before the run (the state itself is checked when the run starts)."""
        if initial_state is None:
            return 1 if self.state_x is None else self.state_x.shape[0]
        x = initial_state[0] if isinstance(initial_state, tuple) else initial_state
        shape = getattr(x, "shape", None)
        return int(shape[0]) if shape is not None and len(shape) == 2 else 1

    def _require_output_memory(self, what: str, steps: int, batch: int) -> None:
        """A free run of ``steps`` outputs for ``batch`` sequences must fit the machine (its outputs and,
        where a run is chunked, their joined copy: up to twice their size)."""
        itemsize = torch.finfo(self._run_dtype_device()[0]).bits // 8
        D = self.readout_.output_size
        hint = ("ask for fewer steps, or generate them in pieces: generate(k) continues where the last call ended"
                if what == "n_steps" else "ask for a shorter horizon")
        _memory.require_memory(2 * batch * steps * D * itemsize,
                               f"{what}={steps} ({batch} x {steps} x {D} outputs)", hint, self._run_dtype_device()[1])

    def _store(self, state: ESNState, lags: tuple[torch.Tensor, torch.Tensor | None] | None = None) -> None:
        # dense copies with standard strides (an indexed last step may carry a zero stride)
        self.state_x = state.x.detach().clone(memory_format=torch.contiguous_format)
        self.state_y = torch.empty(state.y.shape, dtype=state.y.dtype, device=state.y.device).copy_(state.y)
        hx, hu = lags if lags is not None else (None, None)
        self.state_lags_x = None if hx is None else hx.detach().clone(memory_format=torch.contiguous_format)
        self.state_lags_u = None if hu is None else hu.detach().clone(memory_format=torch.contiguous_format)

    def _lags(self, batch: int, initial_state: Any, *, carried: bool):
        """The steps before a run's first one that a readout with lags reads: the carried ones (for a
        run from the carried state), else zeros; None for a readout without lags."""
        L = self.readout_.lags
        if not L:
            return None
        if initial_state is not None:
            warnings.warn(f"initial_state holds the reservoir state and last output, not the {L} steps before them "
                          f"that features={self.features!r} reads: those read zeros. To continue a run, let the "
                          "model carry its state (update_state=True) instead", UserWarning, stacklevel=3)
        dtype, device = self._run_dtype_device()
        d_in = self.reservoir_.input_size
        if carried and initial_state is None and self.state_lags_x is not None:
            hx, hu = self.state_lags_x, self.state_lags_u
            if hx.shape[0] != batch:  # one carried sequence, continued by several
                hx = hx.expand(batch, *hx.shape[1:])
                hu = None if hu is None else hu.expand(batch, *hu.shape[1:])
            return hx, hu
        return (torch.zeros(batch, L, self.reservoir_size, dtype=dtype, device=device),
                torch.zeros(batch, L, d_in, dtype=dtype, device=device) if d_in else None)

    # ------------------------------------------------------------------ building blocks of fit
    def _build_reservoir(self, d_in: int, d_out: int) -> Reservoir:
        """Draw the reservoir for ``d_in`` inputs and ``d_out`` outputs (fed back when feedback_scaling > 0)."""
        scaling = np.asarray(self.input_scaling, dtype=float)
        if scaling.ndim == 1 and scaling.shape[0] != d_in:
            raise ValueError(f"input_scaling has {scaling.shape[0]} values but inputs have {d_in} feature(s)")
        dtype, device = self._dtype_device()
        return Reservoir.random(
            self.reservoir_size, d_in, d_out if self.feedback_scaling > 0 else 0,
            spectral_radius=self.spectral_radius, initializer=self.initializer, connectivity=self.connectivity,
            in_degree=self.in_degree, leak_rate=np.asarray(self.leak_rate, dtype=float), input_scaling=scaling,
            input_connectivity=self.input_connectivity, bias_scaling=self.bias_scaling,
            feedback_scaling=self.feedback_scaling, activation=self.activation, seed=self.seed,
            dtype=dtype, device=device,
        )

    def _check_echo_state(self, reservoir: Reservoir, stacklevel: int) -> None:
        leak = params._value_range(self.leak_rate)
        a, largest = leak[1], leak[2]
        known = None
        named = self.initializer if isinstance(self.initializer, str) else None
        if named == "delay_line":
            # W is strictly lower triangular, so (1 - a) I + a W has the eigenvalues 1 - a_i < 1: no warning
            return
        if a == largest:  # one leak rate for every neuron
            if a == 1.0:
                known = self.spectral_radius  # no leak: the radius W was just scaled to
            elif self.spectral_radius < 1.0:
                # One leak rate a: the eigenvalues are 1 - a + a λ_i, so |.| ≤ 1 - a + a ρ < 1 and the
                # warning cannot fire; skipping saves a second eigenvalue problem per fit.
                return
            elif self.seed is not None and named == "random":
                known = seeded_effective_radius(self.reservoir_size, self.connectivity, self.in_degree,
                                                self.seed, self.spectral_radius, a)
        if known is None and self._structured():
            known = reservoir.dense_spectral_radius(leaky=True)
        reservoir.check_echo_state(stacklevel=stacklevel, radius=known)

    def _features(self, d_in: int) -> FeatureMap:
        f = self.features
        if not isinstance(f, str):
            return f
        if f == "custom":
            raise ValueError("this ESN was loaded from a file saved with a FeatureMap object (features='custom'), "
                             "which is not saved: set_params(features=...) with the same map first")
        return StateInputs.named(f, bias=self.readout_bias, inputs=self.readout_input and d_in > 0)

    def _make_readout(self, weight: torch.Tensor, d_in: int, *, use_bias: bool | None = None,
                      use_input: bool | None = None) -> Readout:
        """The readout of ``weight`` (D_out, F) for this model's features."""
        fmap = None if self.features == "linear" else _Unsaved() if self.features == "custom" else self._features(d_in)
        return Readout(weight, input_size=d_in, use_bias=self.readout_bias if use_bias is None else use_bias,
                       use_input=(self.readout_input and d_in > 0) if use_input is None else use_input,
                       feature_map=fmap)

    def _trainer(self) -> Trainer:
        t = self.trainer
        if force.force_trainer(self) is not None:
            raise ValueError(force.NOT_IN_HARVEST)
        if not isinstance(t, str):
            return t
        if t == "rls":
            return RLS(forgetting=self.forgetting, ridge=self.ridge)
        if t == "lms":
            return LMS(learning_rate=self.learning_rate)
        if t == "custom":
            raise ValueError("this ESN was loaded from a file saved with a Trainer object (trainer='custom'), which "
                             "is not saved: set_params(trainer=...) before fitting it again")
        return Lstsq(self.ridge) if self.solver == "lstsq" else Ridge(self.ridge, self.solver)

    def _fit_data(self, inputs: Any, targets: Any,
                  until: int | None = None) -> tuple[Batch | None, Batch, dict[str, torch.Tensor] | None]:
        """Check and convert fit's arguments (see :meth:`fit`); with ``scale``, standardise them with the
        statistics of the steps before ``until`` (all steps when None), returned by buffer name."""
        dtype, device = self._dtype_device()
        read = torch.float64 if self.scale else dtype  # standardised in float64, then cast: digits kept
        U = None if inputs is None else to_batch(inputs, "inputs", dtype=read, device=device)
        Y = to_batch(targets, "targets", dtype=read, device=device)
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
        if not self.scale:
            return U, Y, None
        stats = dict(zip(SCALE_BUFFERS[2:], standardisation(Y, until=until)))
        Y = standardised(Y, *stats.values(), dtype=dtype)
        if U is not None:
            stats.update(zip(SCALE_BUFFERS[:2], standardisation(U, until=until)))
            U = standardised(U, stats["input_mean_"], stats["input_scale_"], dtype=dtype)
        return U, Y, {k: v.to(dtype) for k, v in stats.items()}

    def _set_fitted(self, reservoir: Reservoir, weight: torch.Tensor, final: ESNState, like: Batch,
                    scaling: dict[str, torch.Tensor] | None = None) -> None:
        """Install the reservoir, the solved readout ``weight`` (D_out, F), the carried final state and
        the standardisation (``scaling``, by buffer name)."""
        d_in = reservoir.input_size
        for name in SCALE_BUFFERS:
            setattr(self, name, None if scaling is None else scaling.get(name))
        self.reservoir_ = reservoir
        self.readout_ = self._make_readout(weight.to(self._dtype_device()[0]), d_in)
        vars(self)["_fitted_features"] = self.features
        self._store(final)
        rng = target_range(like)  # in the data's units, as the output policy's messages quote it
        self.target_range_ = rng if self.target_mean_ is None else restored(rng, self.target_mean_, self.target_scale_)
        self._output_kind = like.kind
        self._output_layout = like.layout if like.layout in ("1d", "2d") else "3d"

    # ------------------------------------------------------------------ public API
    def fit(self, inputs: Any, targets: Any, *, initial_state: Any = None, check_finite: bool = True) -> ESN:
        """Harvest states under teacher forcing and solve the readout in closed form.

        ``inputs`` (T, D_in), (B, T, D_in), a list of sequences, or None for a network driven only by
        its output feedback (a pattern generator; needs ``feedback_scaling > 0``). ``targets`` has the
        same time layout with D_out features. The first ``washout`` steps of every sequence are left
        out of the fit. The run starts from zeros (or ``initial_state``), so ``fit`` is a function of
        the parameters, the data and ``initial_state`` alone: fitting twice gives bit-identical
        weights. Afterwards the model carries the final state of each sequence, so ``predict`` and
        ``generate`` continue where the training data ended. A harvest whose states stop being
        finite raises :class:`~esnkit.NonFiniteStateError` naming the step (``check_finite=False``
        skips that check; the readout's regression still refuses non-finite statistics). Returns
        ``self``. A FORCE trainer (``trainer='force'``) trains in closed loop instead (docs/online.md).
        """
        self._require_flags(check_finite=check_finite)
        if force.force_trainer(self) is not None:
            return force.fit(self, inputs, targets, initial_state=initial_state, check_finite=check_finite)
        h = ESN.harvest([self], inputs, targets, initial_state=initial_state, stacklevel=4,
                        check_finite=check_finite)
        self.fit_from(h)
        features = self._features(h.input_size).size(self.reservoir_size, h.input_size)
        check_fit(self, h.fits[0], h.count, features, h.targets.lengths, inputs, from_zeros=initial_state is None,
                  stacklevel=2)
        return self

    def partial_fit(self, inputs: Any, targets: Any, *, check_finite: bool = True) -> ESN:
        """Train on the next piece of the data without starting over: the first call (on a model not
        yet fitted, or fitted by :meth:`fit`) fits as ``fit`` does, washout included; each later call
        continues, with no new washout, from the reservoir state where the previous piece ended and
        from the trainer's accumulation (the normal equations for trainer='ridge', re-solved; the
        online weights of 'rls' and 'lms'), then installs the new weights and carries the state, as
        ``fit`` does. So ``partial_fit(u[:t], y[:t]); partial_fit(u[t:], y[t:])`` fits what
        ``fit(u, y)`` fits (to rounding), for sequences that go on, batch for batch.

        The reservoir, the input and output widths and, with ``scale``, the standardisation are those
        of the first call. The accumulation lives in memory only (O(F²) for ridge and rls): ``save``,
        ``state_dict``, ``fit``, ``fit_from`` and loading keep or set the weights, not it, so after
        them the next partial_fit starts over. solver='lstsq' keeps every row and is refused.
        A state that ``predict`` or ``generate`` moved in between does not matter: training continues
        from the end of the previous piece. Returns ``self``.
        """
        self._require_flags(check_finite=check_finite)
        if self.solver == "lstsq":
            raise ValueError("partial_fit keeps the trainer's accumulation between calls, and solver='lstsq' keeps "
                             "every row: use solver='auto' (or 'cholesky'), or fit on the whole series")
        online = vars(self).get("_online")
        if online is None or not self.is_fitted:
            if force.force_trainer(self) is not None:
                return force.fit(self, inputs, targets, check_finite=check_finite, online=True)
            h = ESN.harvest([self], inputs, targets, stacklevel=4, check_finite=check_finite)
            self.fit_from(h)
            features = self._features(h.input_size).size(self.reservoir_size, h.input_size)
            check_fit(self, h.fits[0], h.count, features, h.targets.lengths, inputs, from_zeros=True, stacklevel=2)
            vars(self)["_online"] = (h.fits[0], self.state, self._carried_lags())
            return self
        fit, end, end_lags = online
        if not _same_features(self.features, vars(self).get("_fitted_features")):
            raise ValueError(f"features={self.features!r} is not the map the model was fitted with "
                             f"({vars(self).get('_fitted_features')!r}): partial_fit continues that fit; call fit to "
                             "start over with the new features")
        res = self.reservoir_
        if res.input_size == 0 and inputs is not None:
            raise ValueError("this model was fitted without inputs (a pattern generator): pass inputs=None")
        if res.input_size > 0 and inputs is None:
            raise ValueError(f"this model was fitted on {res.input_size} input feature(s): pass inputs")
        U = None if inputs is None else self._inputs(inputs)
        dtype, device = self._run_dtype_device()
        scaled = self.target_mean_ is not None
        Y = to_batch(targets, "targets", dtype=torch.float64 if scaled else dtype, device=device,
                     features=self.readout_.output_size, features_what="the model was fitted on")
        raw_range = target_range(Y)  # in the data's units, as fit keeps it
        if scaled:
            Y = standardised(Y, self.target_mean_, self.target_scale_, dtype=dtype)
        if U is not None:
            same_lengths(U, Y, "inputs", "targets")
        if Y.batch_size != end.x.shape[0]:
            raise ValueError(f"partial_fit continues {end.x.shape[0]} sequence(s) but {Y.batch_size} were given: "
                             "pass the next piece of each, or call fit to start over")
        lags = None
        if force.force_trainer(self) is not None:
            final = force.resume(self, fit, U, Y, end, check_finite)
        else:
            h = harvest([res], U, Y, [_Continue(fit)], features=self._features(res.input_size), washout=0,
                        start=end, chunk_size=self.chunk_size, check_finite=check_finite, history=end_lags)
            final, lags = h.final[0], h.final_lags[0] if h.final_lags else None
        self.readout_ = self._make_readout(fit.solve().to(dtype), res.input_size)
        self._store(final, lags)
        rng = self.target_range_
        self.target_range_ = torch.stack([torch.minimum(rng[0], raw_range[0].to(rng)),
                                          torch.maximum(rng[1], raw_range[1].to(rng))])
        vars(self)["_online"] = (fit, self.state, self._carried_lags())
        return self

    def _carried_lags(self) -> tuple[torch.Tensor, torch.Tensor | None] | None:
        return None if self.state_lags_x is None else (self.state_lags_x, self.state_lags_u)

    @staticmethod
    def harvest(
        models: Sequence[ESN],
        inputs: Any,
        targets: Any,
        *,
        split: int | None = None,
        keep_all: bool = False,
        check_echo_state: bool = True,
        initial_state: Any = None,
        stacklevel: int = 3,
        check_finite: bool = True,
    ) -> Harvest:
        """One teacher-forced pass of ``models`` (ESNs of one reservoir size and layout, see
        :class:`~esnkit.Ensemble`) over the same data, through the one harvest engine.

        Each model's reservoir is drawn from its parameters; rows at steps ``washout ≤ t < split``
        stream into each model's trainer, rows from ``split`` on are kept for validation
        (``keep_all``: every row past the washout is kept and none accumulated). ``initial_state``
        (one model only) replaces the zero start. ``fit`` is this for one model, then
        :meth:`fit_from`.
        """
        models = check_members(models)
        lead = models[0]
        for m in models:
            m._check_params()
        if split is not None and (not is_int(split) or split <= lead.washout):
            raise ValueError(f"split must be an integer above washout={lead.washout} (the rows before it fit the "
                             f"readout), got {split!r}")
        U, Y, scaling = lead._fit_data(inputs, targets, until=split)
        lead._require_fit_memory(U, Y, len(models))
        for m in models[1:]:
            if m.feedback_scaling > 0 or U is None:
                m._fit_data(inputs, targets)  # the same checks, in that model's terms
        d_in = U.features if U is not None else 0
        reservoirs = [m._build_reservoir(d_in, Y.features) for m in models]
        if check_echo_state:
            for m, r in zip(models, reservoirs):
                m._check_echo_state(r, stacklevel=stacklevel + 1)
        start = None
        if initial_state is not None:
            if len(models) > 1:
                raise ValueError("initial_state applies to one model at a time")
            start = lead._start(initial_state, Y.batch_size, carried=False, outputs=Y.features)
        h = harvest(reservoirs, U, Y, [m._trainer() for m in models], features=lead._features(d_in),
                    washout=lead.washout, start=start, split=split, keep_all=keep_all, chunk_size=lead.chunk_size,
                    check_finite=check_finite)
        h.models = models
        h.scaling = scaling
        return h

    def _require_fit_memory(self, U: Batch | None, Y: Batch, n_models: int) -> None:
        """Fail before the pass when what it holds cannot fit: each model's float64 normal equations
        (F x F) and one factorisation, the chunk's states and features, and the rows lstsq keeps."""
        dtype, device = self._dtype_device()
        N, d_in, B = self.reservoir_size, (U.features if U is not None else 0), Y.batch_size
        F = self._features(d_in).size(N, d_in)
        steps = min(Y.steps, chunk_steps(self.chunk_size, B, N * n_models))
        itemsize = torch.finfo(dtype).bits // 8
        need = 8 * F * (n_models * (F + Y.features) + F) + B * steps * (n_models * N + F) * itemsize
        if self.solver == "lstsq":
            need += 8 * n_models * sum(Y.lengths) * (F + Y.features)
        what = f"fitting {n_models} model(s) of reservoir_size={N} on {B} x {Y.steps} steps"
        hint = ("use a smaller reservoir_size or chunk_size" + (", or solver='cholesky' (lstsq keeps every row)"
                if self.solver == "lstsq" else ""))
        _memory.require_memory(need, what, hint, device)

    def fit_from(self, h: Harvest, k: int = 0, *, weight: torch.Tensor | None = None,
                 state: ESNState | None = None) -> ESN:
        """Become model ``k`` of harvest ``h`` (:meth:`harvest`): its reservoir, the readout its trainer
        solves (or ``weight`` (D_out, F)), and its final state (or ``state``) as the carried state.
        Returns ``self``."""
        if not isinstance(h, Harvest):
            raise TypeError(f"h must be what ESN.harvest returned (an esnkit Harvest), got {type(h).__name__}")
        if not is_int(k) or not 0 <= k < len(h.reservoirs):
            raise ValueError(f"k must be the index of one of the harvest's {len(h.reservoirs)} model(s), got {k!r}")
        if h.models is not None:
            # the parameters say what the model is: they must be those the harvested reservoir was drawn with
            skip = READOUT_PARAMS if weight is not None else ()
            theirs = h.models[k].get_params(deep=False)
            differ = [n for n, v in self.get_params(deep=False).items() if n not in skip and not _same(v, theirs[n])]
            if differ:
                raise ValueError(f"this ESN's {', '.join(differ)} differ from model {k} of the harvest: fit_from "
                                 "takes the reservoir and readout of a model with the same parameters")
        weight = h.fits[k].solve() if weight is None else weight
        vars(self)["_online"] = None
        self._set_fitted(h.reservoirs[k], weight, h.final[k] if state is None else state, h.targets, h.scaling)
        if h.final_lags is not None and state is None:
            self._store(h.final[k], h.final_lags[k])
        return self

    def _inputs(self, inputs: Any, name: str = "inputs") -> Batch:
        """``inputs`` as a batch the reservoir takes (standardised when the model scales)."""
        dtype, device = self._run_dtype_device()
        scaled = self.input_mean_ is not None
        U = to_batch(inputs, name, dtype=torch.float64 if scaled else dtype, device=device,
                     features=self.reservoir_.input_size, features_what="the model was fitted on")
        return standardised(U, self.input_mean_, self.input_scale_, dtype=dtype) if scaled else U

    def _targets(self, targets: Any) -> Batch:
        """``targets`` as a batch in the readout's units (standardised when the model scales)."""
        dtype, device = self._run_dtype_device()
        scaled = self.target_mean_ is not None
        Y = to_batch(targets, "targets", dtype=torch.float64 if scaled else dtype, device=device,
                     features=self.readout_.output_size, features_what="the model was fitted on")
        return standardised(Y, self.target_mean_, self.target_scale_, dtype=dtype) if scaled else Y

    def _readout_rows(self, inputs: Any, targets: Any) -> tuple[torch.Tensor, torch.Tensor]:
        """The readout's rows over ``inputs`` (T, D_in) (None for a pattern generator) and ``targets``
        (T, D_out) from the carried state, teacher-forced as ``fit``'s are, in the readout's units:
        the features (T, F) and the targets (T, D_out). What a validation part that follows the
        training data scores the fitted readout on; the carried state does not move."""
        self._require_fitted("_readout_rows")
        res = self.reservoir_
        U = None if inputs is None else self._inputs(inputs)
        Y = self._targets(targets)
        if U is not None:
            same_lengths(U, Y, "inputs", "targets")
        h = harvest([res], U, Y, [Ridge()], features=self._features(res.input_size), washout=0,
                    start=self._start(None, Y.batch_size, carried=True), keep_all=True, chunk_size=self.chunk_size,
                    history=self._lags(Y.batch_size, None, carried=True))
        return h.Z[0], h.Y

    def _outputs(self, y: torch.Tensor) -> torch.Tensor:
        """The readout's outputs in the data's units."""
        return y if self.target_mean_ is None else restored(y, self.target_mean_, self.target_scale_)

    def _closed_loop(self) -> tuple[Reservoir, Readout]:
        """The reservoir and readout of a closed loop, in which each output (in the targets' units)
        is the next input (in the inputs' units): with standardisation ``u = A y + c`` where
        ``A = target_scale_ / input_scale_`` and ``c = (target_mean_ - input_mean_) / input_scale_``,
        folded into ``W_in``, the bias and the readout's input columns, so the loop itself is the plain
        one. Without scaling, or for a pattern generator, the model's own."""
        res, readout = self.reservoir_, self.readout_
        if self.input_mean_ is None or res.input_size == 0:
            return res, readout
        f64 = torch.float64
        A, c = self._unit_change()
        W_in = res.W_in.to(f64)
        dtype = res.W_in.dtype
        loop_res = Reservoir(res.W_crow, res.W_col, res.W_values, (W_in * A).to(dtype), res.W_fb,
                             (res.bias.to(f64) + W_in @ c).to(dtype), res.leak, activation=res.activation)
        b, w_u, _ = readout.parts()
        D, d_in = readout.output_size, res.input_size
        b = torch.zeros(D, dtype=f64, device=c.device) if b is None else b.to(f64)
        w_u = torch.zeros(D, d_in, dtype=f64, device=c.device) if w_u is None else w_u.to(f64)
        weight = torch.cat([(b + w_u @ c)[:, None], w_u * A, readout.state_weight().to(f64)], dim=1).to(dtype)
        return loop_res, Readout(weight, input_size=d_in, use_bias=True, use_input=True, squares=readout.squares)

    def _unit_change(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``(A, c)`` in float64 with ``u = A y + c``: an output in the standardised targets' units as
        an input in the standardised inputs' units."""
        f64 = torch.float64
        A = self.target_scale_.to(f64) / self.input_scale_.to(f64)
        c = (self.target_mean_.to(f64) - self.input_mean_.to(f64)) / self.input_scale_.to(f64)
        return A, c

    def _next_input(self):
        """The closed loop's map from an output to the next input (None for a pattern generator)."""
        if self.reservoir_.input_size == 0:
            return None
        if self.input_mean_ is None:
            return lambda y: y
        A, c = self._unit_change()
        return lambda y: (y.to(torch.float64) * A + c).to(y.dtype)

    def _driven(self, U: Batch, start: ESNState, check_finite: bool, what: str, lags=None):
        """Outputs (B, T, D) of a driven run over ``U`` from ``start``, each sequence's final state, and,
        for a readout with lags (which starts from ``lags``), the steps before each sequence's end."""
        readout = self.readout_
        in_loop = self.reservoir_.feedback_size > 0
        final_x, final_y = start.x.clone(), start.y.clone()
        L = readout.lags
        if in_loop and not readout.loop_ready:  # fed-back outputs of features the loop cannot compute
            y = _alloc.empty((U.batch_size, U.steps, readout.output_size), start.x.dtype, start.x.device)
            xs = _alloc.empty((U.batch_size, U.steps, self.reservoir_size), start.x.dtype, start.x.device) \
                if L else None
            read = WithHistory(readout, *lags) if L else readout
            for t, x_t, y_t in run_stepwise(self.reservoir_, read, start, U.steps, inputs=U.data,
                                            check_finite=check_finite):
                y[:, t] = y_t
                if L:
                    xs[:, t] = x_t
                for b, _ in ends_in(U.lengths, slice(t, t + 1)):
                    final_x[b], final_y[b] = x_t[b], y_t[b]
        else:
            ys, xs = [], []
            before = lags
            for sl, u, out in run([self.reservoir_], start, U.steps, inputs=U.data, readout=readout,
                                  keep_states=not in_loop or U.ragged or bool(L), chunk_size=self.chunk_size,
                                  check_finite=check_finite):
                if in_loop:
                    y = out.outputs
                elif L:  # each chunk's features read the steps before it
                    y = readout.window(out.states, u, *before)
                    before = (torch.cat([before[0], out.states], 1)[:, -L:],
                              None if before[1] is None else torch.cat([before[1], u.to(before[1].dtype)], 1)[:, -L:])
                    xs.append(out.states)
                else:
                    y = readout(out.states, u)
                ys.append(y)
                for b, t in ends_in(U.lengths, sl):
                    final_x[b] = out.states[b, t] if out.states is not None else out.x[b]
                    final_y[b] = y[b, t]
            y = torch.cat(ys, dim=1)
            xs = torch.cat(xs, dim=1) if L else None
        if check_finite:
            check_outputs(self._outputs(y), what, U.mask(), free=False)
        end_lags = None
        if L:
            end_lags = (last_lags(lags[0], xs, U.lengths, L), last_lags(lags[1], U.data, U.lengths, L))
        return y, ESNState(final_x, final_y), end_lags

    def predict(
        self,
        inputs: Any,
        *,
        initial_state: Any = None,
        update_state: bool = True,
        return_state: bool = False,
        check_finite: bool = True,
    ) -> Any:
        """Drive the network with ``inputs`` (open loop); returns outputs ``(..., time, D_out)``.

        Starts from ``initial_state``, else from the carried state (where ``fit`` or the last
        update left off), else zeros. With output feedback the network's own previous output is
        fed back. The carried state moves to the end of ``inputs`` unless ``update_state=False``
        (so "warm up on recent data, then generate" is ``predict(recent); generate(n)``);
        ``return_state=True`` also returns the final :class:`ESNState`. A non-finite output raises
        :class:`~esnkit.NonFiniteStateError` naming the step (``check_finite=False`` skips the
        check, for speed or to see a diverging run as it is).
        """
        self._require_flags(update_state=update_state, return_state=return_state, check_finite=check_finite)
        self._require_fitted("predict")
        if self.reservoir_.input_size == 0:
            raise ValueError("this model was fitted without inputs (a pattern generator): use generate(n_steps)")
        U = self._inputs(inputs)
        y, final, lags = self._driven(U, self._start(initial_state, U.batch_size, carried=True), check_finite,
                                      "predict", self._lags(U.batch_size, initial_state, carried=True))
        if update_state:
            self._store(final, lags)
        return self._finish(y, U, final, False, return_state)

    def forward(self, inputs: Any, initial_state: Any = None, check_finite: bool = True) -> Any:
        """Driven prediction from zeros (or ``initial_state``), as ``torch.nn.RNN`` does: outputs
        ``(..., time, D_out)`` for inputs ``(..., time, D_in)``; the carried state is not used or
        changed. Tensors in, tensors out."""
        self._require_flags(check_finite=check_finite)
        self._require_fitted("forward")
        U = self._inputs(inputs)
        y = self._driven(U, self._start(initial_state, U.batch_size, carried=False), check_finite, "forward",
                         self._lags(U.batch_size, initial_state, carried=False))[0]
        return from_batch(self._outputs(y), U)

    def _check_free_run(self, what: str) -> tuple[bool, Readout]:
        """Whether the model is a one-step-ahead forecaster (else a pattern generator); raises when
        its outputs cannot drive it alone."""
        readout = self._require_fitted(what)
        res = self.reservoir_
        forecaster = res.input_size > 0 and res.input_size == readout.output_size
        if not forecaster and (res.input_size > 0 or res.feedback_size == 0):
            raise ValueError(
                f"this model maps {res.input_size} input(s) to {readout.output_size} output(s) and has "
                f"{'no ' if res.feedback_size == 0 else ''}output feedback, so its outputs cannot drive it "
                f"alone. {what} needs a one-step-ahead forecaster (inputs and targets of the same width) "
                "or a pattern generator (fit(None, targets) with feedback_scaling > 0); use predict(inputs)"
            )
        return forecaster, readout

    def _free_run(self, n_steps: int, start: ESNState, check_finite: bool = True, lags=None):
        """Outputs (B, n_steps, D) of a closed-loop run from ``start``, the final reservoir state, and,
        for a readout with lags (which starts from ``lags``), the steps before the end (else None)."""
        if not self.readout_.loop_ready:  # a readout the loop cannot run: between its steps
            y = _alloc.empty((start.x.shape[0], n_steps, self.readout_.output_size), start.x.dtype, start.x.device)
            x_last = start.x
            read = WithHistory(self.readout_, *lags) if self.readout_.lags else self.readout_
            for t, x_t, y_t in run_stepwise(self.reservoir_, read, start, n_steps,
                                            next_input=self._next_input(), check_finite=check_finite):
                y[:, t], x_last = y_t, x_t
            return y, x_last, (read.x_before, read.u_before) if self.readout_.lags else None
        ys, x_last = [], start.x
        reservoir, readout = self._closed_loop()
        for _, _, out in run([reservoir], start, n_steps, readout=readout, closed_loop=True,
                             keep_states=False, chunk_size=self.chunk_size, check_finite=check_finite):
            ys.append(out.outputs)
            x_last = out.x
        return torch.cat(ys, dim=1), x_last, None

    def generate(
        self,
        n_steps: int,
        *,
        initial_state: Any = None,
        update_state: bool = True,
        return_state: bool = False,
        check_finite: bool = True,
    ) -> Any:
        """Run free for ``n_steps``: each output is fed back (as feedback, and as the next input of a
        one-step-ahead forecaster). Returns ``(n_steps, D_out)``, or ``(batch, n_steps, D_out)`` when
        the state holds several sequences.

        The first output continues from the carried state: after ``fit(u, y)`` on a forecaster it
        predicts the step after the last target. The carried state moves to the end of the run
        unless ``update_state=False``. A non-finite output raises :class:`~esnkit.NonFiniteStateError`
        and one more than ``RANGE_FACTOR`` (10) half-ranges of the training targets from their
        centre warns :class:`~esnkit.OutputRangeWarning`, both naming the step;
        ``check_finite=False`` skips both checks.
        """
        self._require_flags(update_state=update_state, return_state=return_state, check_finite=check_finite)
        self._check_free_run("generate")
        self._require_steps("n_steps", n_steps)
        self._require_output_memory("n_steps", n_steps, self._batch_of(initial_state))
        start = self._start(initial_state, None, carried=True)
        y, x_last, lags = self._free_run(n_steps, start, check_finite,
                                         self._lags(start.x.shape[0], initial_state, carried=True))
        if check_finite:
            check_outputs(self._outputs(y), "generate", target_range=self.target_range_)
        layout = self._output_layout if y.shape[0] == 1 else "3d"
        like = Batch(y, (n_steps,) * y.shape[0], layout, self._output_kind)
        if update_state:
            self._store(ESNState(x_last, y[:, -1]), lags)
        return self._finish(y, like, ESNState(x_last, y[:, -1]), False, return_state)

    def forecast(self, histories: Any, horizon: int, *, initial_state: Any = None, check_finite: bool = True) -> Any:
        """Warm up on each history, then run free for ``horizon`` steps: ``(n_histories, horizon,
        D_out)`` (``(horizon, D_out)`` for one ``(time, D)`` history), whose first step is the value
        right after each history's last one.

        ``histories``: ``(time, D)``, ``(n, time, D)`` or a list of ``(time, D)`` series of
        different lengths, in the model's output space. All histories run in one batched pass, each
        from zeros (or ``initial_state``), teacher-forced through the history (its own values are
        fed back where the model has feedback); the carried state is not used or changed. For a
        one-step-ahead forecaster the history drives the inputs and the last driven output is the
        first forecast; a pattern generator is driven by its fed-back history alone. The forecasts
        follow the output policy of :meth:`generate`; with ``check_finite=False`` a diverging
        forecast comes back as it is, NaN and Inf included (the search scores such runs so).
        """
        self._require_flags(check_finite=check_finite)
        forecaster, readout = self._check_free_run("forecast")
        self._require_steps("horizon", horizon)
        self._require_output_memory("horizon", horizon, _n_series(histories))
        dtype, device = self._run_dtype_device()
        scaled = self.target_mean_ is not None
        raw = to_batch(histories, "histories", dtype=torch.float64 if scaled else dtype, device=device,
                       features=readout.output_size, features_what="the model outputs")
        H = standardised(raw, self.target_mean_, self.target_scale_, dtype=dtype) if scaled else raw
        # a forecaster is driven by the histories in its inputs' units
        H_in = raw if self.input_mean_ is None else standardised(raw, self.input_mean_, self.input_scale_, dtype=dtype)
        start = self._start(initial_state, H.batch_size, carried=False)
        # Warm-up, teacher-forced: a forecaster is driven by all but the last value of each history
        # (targets: the next values), and that last value is the closed loop's first input; a pattern
        # generator runs through the whole history, fed back its values. Both runs stay inside the
        # time loop, so a history forecast in a batch gets the bits it gets alone.
        warm = [n - 1 for n in H.lengths] if forecaster else list(H.lengths)
        if initial_state is None and min(warm) < self.washout:
            warnings.warn(f"forecast: a history warms the reservoir up for {min(warm)} step(s), fewer than its "
                          f"washout={self.washout}: its forecast starts from a state that still remembers the zero "
                          "start; give longer histories (or an initial_state)", UserWarning, stacklevel=2)
        steps = max(warm)
        x = start.x
        lags = self._lags(H.batch_size, initial_state, carried=False)
        if steps:
            ragged = any(n != steps for n in warm) or lags is not None
            xs = _alloc.empty((H.batch_size, steps, self.reservoir_size), dtype, device) if ragged else None
            for _, _, out in run([self.reservoir_], start, steps, inputs=H_in.data[:, :steps] if forecaster else None,
                                 teacher=H.data[:, 1:steps + 1] if forecaster else H.data, keep_states=ragged,
                                 chunk_size=self.chunk_size, into=(lambda sl: xs[:, sl]) if ragged else None,
                                 check_finite=check_finite):
                x = out.x
            if ragged:
                x = torch.stack([xs[b, n - 1] if n else start.x[b] for b, n in enumerate(warm)])
            if lags is not None:
                lags = (last_lags(lags[0], xs, warm, self.readout_.lags),
                        last_lags(lags[1], H_in.data[:, :steps] if forecaster else None, warm, self.readout_.lags))
        y = self._free_run(horizon, ESNState(x, last_steps(H.data, H.lengths)), check_finite, lags)[0]
        if check_finite:
            check_outputs(self._outputs(y), "forecast", target_range=self.target_range_)
        layout = H.layout if H.layout in ("1d", "2d") else "3d"
        return from_batch(self._outputs(y), Batch(y, (horizon,) * y.shape[0], layout, H.kind))

    def states(self, inputs: Any, *, targets: Any = None, initial_state: Any = None) -> Any:
        """Reservoir states ``(..., time, N)`` for ``inputs`` (None for a pattern generator).

        With ``targets`` the feedback is teacher-forced, exactly as during ``fit``; without, the
        model's own outputs are fed back. Starts from ``initial_state``, else the carried state; the
        carried state is not changed.
        """
        self._require_fitted("states")
        dtype, device = self._run_dtype_device()
        U = None if inputs is None else self._inputs(inputs)
        Y = None if targets is None else self._targets(targets)
        if U is not None and Y is not None:
            same_lengths(U, Y, "inputs", "targets")
        ref = U if U is not None else Y
        if ref is None:
            raise ValueError("states needs inputs, targets, or both")
        start = self._start(initial_state, ref.batch_size, carried=True)
        # written in place by each chunk: concatenating the chunks afterwards took longer than the
        # time loop (a second pass over memory the allocator had just mapped page by page)
        _memory.require_memory(ref.batch_size * ref.steps * self.reservoir_size * torch.finfo(dtype).bits // 8,
                               f"the states of {ref.batch_size} x {ref.steps} steps of reservoir_size="
                               f"{self.reservoir_size}", "pass a shorter series, in pieces", device)
        xs = _alloc.empty((ref.batch_size, ref.steps, self.reservoir_size), dtype, device)
        for _ in run([self.reservoir_], start, ref.steps, inputs=U.data if U is not None else None,
                     teacher=Y.data if Y is not None else None, readout=self.readout_,
                     into=lambda sl: xs[:, sl], chunk_size=self.chunk_size):
            pass
        return from_batch(xs, ref)

    def _finish(self, y: torch.Tensor, like: Batch, final: ESNState, update_state: bool, return_state: bool):
        if update_state:
            self._store(final)
        out = from_batch(self._outputs(y), like)
        return (out, final) if return_state else out

    # ------------------------------------------------------------------ state_dict, save and load
    def _json_params(self, p: dict[str, Any]) -> dict[str, Any]:
        # an initializer callable or matrix is not JSON: files and state dicts say 'custom', and
        # esnkit.load rebuilds the reservoir from the saved W; a Trainer object is saved as 'custom' too
        if not isinstance(self.trainer, str):
            p = {**p, "trainer": "custom"}
        # a fitted model's file describes the readout it holds, whatever set_params changed since
        feats = vars(self).get("_fitted_features") if self.readout_ is not None else None
        feats = self.features if feats is None else feats
        p = {**p, "features": feats if isinstance(feats, str) else "custom"}
        return p if isinstance(self.initializer, str) else {**p, "initializer": "custom"}

    def get_extra_state(self) -> dict[str, Any]:
        """What the tensors do not say (sizes, readout layout, output format), for ``state_dict``."""
        if self.readout_ is None:
            return {"fitted": False}
        return {
            "fitted": True,
            "input_size": self.reservoir_.input_size,
            "output_size": self.readout_.output_size,
            "feedback_size": self.reservoir_.feedback_size,
            "readout_bias": self.readout_.use_bias,
            "readout_input": self.readout_.use_input,
            "features": self._json_params({})["features"],
            "readout_features": self.readout_.weight.shape[1],
            "carries_state": self.state_x is not None,
            "scaled": self.target_mean_ is not None,
            "output_kind": self._output_kind,
            "output_layout": self._output_layout,
            "params": self._comparable_params(),
        }

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):
        """Load a fitted model's ``state_dict`` into this (possibly unfitted) ESN of the same
        parameters: the reservoir and readout are rebuilt from the tensors, checked, then filled."""
        extra = state_dict.get("_extra_state")
        vars(self)["_online"] = None
        if isinstance(extra, dict) and extra.get("fitted"):
            self._require_same_params(extra)
            self._build_from(state_dict, extra)
        elif isinstance(extra, dict):  # an unfitted model's: this one becomes unfitted
            self.reservoir_ = self.readout_ = self.target_range_ = None
            for name in SCALE_BUFFERS:
                setattr(self, name, None)
            self.reset()
        return super().load_state_dict(state_dict, strict=strict, assign=assign)

    def _build_from(self, tensors: dict[str, torch.Tensor], extra: dict[str, Any]) -> None:
        """Empty reservoir and readout modules of the shapes ``tensors`` hold, once
        :func:`~esnkit.models.state_dict.check_state_dict` has validated them against ``extra`` and
        this model's parameters (the reservoir then checks W's CSR structure and its leak).
        Floating tensors are converted to this model's dtype and device."""
        named = check_state_dict(tensors, extra, self.reservoir_size)
        d_in, d_out = extra["input_size"], extra["output_size"]
        r = {k: named[f"reservoir_.{k}"] for k in RESERVOIR_KEYS}
        w, carried = named["readout_.weight"], "state_x" in named
        dtype, device = self._dtype_device()
        self.reservoir_ = Reservoir(*(r[k].to(device=device, dtype=dtype if r[k].is_floating_point() else None,
                                              copy=True) for k in RESERVOIR_KEYS), activation=self.activation)
        self.readout_ = self._make_readout(w.to(device=device, dtype=dtype), d_in, use_bias=extra["readout_bias"],
                                           use_input=extra["readout_input"])
        vars(self)["_fitted_features"] = self.features
        rng = named.get("target_range_")
        self.target_range_ = None if rng is None else torch.empty((2, d_out), dtype=dtype, device=device)
        for name in SCALE_BUFFERS:
            t = named.get(name)
            setattr(self, name, None if t is None else torch.empty(t.shape, dtype=dtype, device=device))
        if carried:
            self.state_x = torch.empty_like(named["state_x"], dtype=dtype, device=device)
            self.state_y = torch.empty_like(named["state_y"], dtype=dtype, device=device)
            for k in ("state_lags_x", "state_lags_u"):
                setattr(self, k, torch.empty_like(named[k], dtype=dtype, device=device) if k in named else None)
        else:
            self.reset()
        self._output_kind = extra.get("output_kind", "numpy")
        self._output_layout = extra.get("output_layout", "2d")

    def extra_repr(self) -> str:
        shown = [f"reservoir_size={self.reservoir_size}"]
        for k in self.PARAMS[1:]:
            v = getattr(self, k)
            if k == "initializer" and not isinstance(v, str):
                shown.append(f"initializer={v!r}" if callable(v) else "initializer=<matrix>")
                continue
            if not isinstance(v, (np.ndarray, list)) and v == params.DEFAULTS[k]:
                continue
            shown.append(f"{k}={v!r}" if not isinstance(v, (np.ndarray, list)) else f"{k}=<array>")
        return ", ".join(shown)
