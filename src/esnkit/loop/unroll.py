"""The one time loop behind every mode: teacher-forced harvest, driven prediction, free-running generation.

Per step, for a batch of ``B`` sequences with states ``x`` of shape ``(B, N)``::

    pre[t] = W x[t-1] + drive[t] + M y[t-1]        # M only when outputs are fed back in the loop
    x[t]   = (1 - a) * x[t-1] + a * f(pre[t])
    y[t]   = W_out [1; u[t]; x[t]]                  # only when a readout runs inside the loop

``drive[t] = W_in u[t] + b`` (plus ``W_fb y_teacher[t-1]`` under teacher forcing) comes from the
caller, either as a (B, T, N) tensor or factored as a :class:`~esnkit.reservoir.Drive`, which the
native kernel evaluates inside the loop and the other executors materialise in one matmul. The
modes differ only in what is passed:

- teacher-forced harvest, or driven prediction without feedback: ``drive`` only, no readout;
- driven prediction with output feedback: ``readout``, ``inputs`` (for the readout's input term),
  ``feedback = W_fb`` and ``y0``;
- free-running generation: ``readout``, ``feedback = W_fb (+ W_in when outputs become the next
  inputs)``, ``inputs_from_outputs=True`` for a one-step-ahead forecaster, and ``y0``.

Three executors run these same equations, picked per call (see :func:`use_backend`):

- ``native``: the C kernel (``_kernel.c``) runs all steps in one call on the CPU; each sequence of a
  batch gets the same bits as when run alone (a drive of at most ``FUSED_DRIVE_MAX_INPUTS`` inputs);
- ``cuda-graph``: on a GPU, blocks of steps are captured once as a CUDA graph and replayed, which
  removes the per-step kernel-launch latency; a captured step multiplies by a dense W, or gathers
  each row's nonzeros where the dense W would be large (see :func:`_graph_layout`);
- ``torch``: one Python iteration per step with eager PyTorch ops; any device, any activation.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator

import torch

from .._checks import all_finite
from ..errors import NonFiniteStateError
from ..reservoir import Drive, Reservoir
from . import native
from .common import OutputMap, Unrolled
from .cuda_graph import GRAPH_BLOCK, _graph_layout, _run_cuda_graph
from .eager import _run_torch
from .native import _run_native

BACKENDS = ("auto", "native", "cuda-graph", "torch")

_backend: contextvars.ContextVar[str] = contextvars.ContextVar("esnkit_loop_backend", default="auto")


@contextlib.contextmanager
def use_backend(name: str) -> Iterator[None]:
    """Run every loop inside the ``with`` block on ``name``: 'auto' (default), 'native',
    'cuda-graph' or 'torch'. 'auto' picks the native kernel on the CPU and CUDA graphs on a GPU
    when they apply, else the PyTorch loop."""
    if name not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {name!r}")
    token = _backend.set(name)
    try:
        yield
    finally:
        _backend.reset(token)


@torch.no_grad()
def unroll(
    reservoir: Reservoir,
    drive: torch.Tensor | Drive,
    x0: torch.Tensor,
    *,
    readout: OutputMap | None = None,
    inputs: torch.Tensor | None = None,
    feedback: torch.Tensor | None = None,
    y0: torch.Tensor | None = None,
    inputs_from_outputs: bool = False,
    keep_states: bool = True,
    states_out: torch.Tensor | None = None,
    step_offset: int = 0,
    backend: str | None = None,
    check_finite: bool = True,
) -> Unrolled:
    """Run the reservoir over ``drive`` (B, T, N), a tensor or a :class:`Drive`, from state ``x0`` (B, N).

    ``feedback`` is an (N, D) matrix applied to the previous output ``y`` (starting from ``y0``,
    shape (B, D)); ``inputs`` (B, T, D_in) is what the readout's input term sees. ``step_offset``
    only shifts the step numbers quoted in errors. ``backend`` overrides :func:`use_backend`.
    ``states_out`` (B, T, N), any strides with a contiguous last axis, receives the states instead
    of a new tensor (the caller's feature buffer, say); it is what ``Unrolled.states`` then holds.
    Raises :class:`NonFiniteStateError` when the state or output stops being finite, unless
    ``check_finite=False`` (then NaN and Inf run on and are returned, as the search's scoring wants).
    """
    _check_shapes(reservoir, drive, x0, readout, inputs, feedback, y0, inputs_from_outputs)
    if states_out is not None:
        _check_states_out(states_out, drive, x0)
    name = _pick(backend or _backend.get(), reservoir, drive, x0)
    args = (reservoir, drive, x0, readout, inputs, feedback, y0, inputs_from_outputs,
            states_out if states_out is not None else keep_states)
    if name == "native":
        out = _run_native(*args)
    elif name == "cuda-graph":
        out = _run_cuda_graph(*args)
    else:
        out = _run_torch(*args)
    if check_finite:
        _check_finite(out, step_offset)
    return out


def _check_shapes(reservoir, drive, x0, readout, inputs, feedback, y0, inputs_from_outputs) -> None:
    # unroll is public and the native kernel trusts its pointers: a wrong shape, dtype or device
    # must stop here, not read past a buffer. Strides need no check: each executor copies what it
    # needs contiguous (x0, y0, the weights) or passes the strides on (drive, inputs, states_out,
    # whose last axis _check_states_out requires contiguous).
    if not isinstance(reservoir, Reservoir):
        raise TypeError(f"unroll: reservoir must be an esnkit Reservoir, got {type(reservoir).__name__}")
    reservoir.check()  # W's CSR structure, the weights' dtype, finiteness and leak; cached until they change
    N = reservoir.size
    for name, t in (("drive", drive), ("x0", x0), ("y0", y0), ("feedback", feedback), ("inputs", inputs)):
        if t is not None and not isinstance(t, (torch.Tensor, Drive) if name == "drive" else torch.Tensor):
            raise TypeError(f"unroll: {name} must be a torch.Tensor, got {type(t).__name__}")

    def expect(name, t, shape):
        if t is None or tuple(t.shape) != tuple(shape):
            got = "None" if t is None else tuple(t.shape)
            raise ValueError(f"unroll: {name} must have shape {tuple(shape)}, got {got}")

    if drive.ndim != 3 or drive.shape[2] != N:
        raise ValueError(f"unroll: drive must have shape (batch, steps, {N}), got {tuple(drive.shape)}")
    B, T = drive.shape[:2]  # a Drive checked its own parts' shapes when it was made
    if B == 0 or T == 0:
        raise ValueError(f"unroll: drive must hold at least one sequence and one step, got shape {tuple(drive.shape)}")
    expect("x0", x0, (B, N))
    if feedback is not None and feedback.ndim != 2:
        raise ValueError(f"unroll: feedback must have shape ({N}, outputs), got {tuple(feedback.shape)}")
    if readout is not None:
        if not getattr(readout, "loop_ready", True):
            raise ValueError("unroll: the loop runs readouts of [1; u; x] and squared states only; this one reads "
                             "other features (run the loop a step at a time and the readout between steps)")
        w = readout.weight
        if not isinstance(w, torch.Tensor) or w.ndim != 2 or w.shape[0] != readout.output_size:
            raise ValueError("unroll: the readout's weight must be a (outputs, features) tensor")
        width = w.shape[1] - int(readout.use_bias) - (readout.input_size if readout.use_input else 0)
        if getattr(readout, "squares", None) == "all":
            width = width // 2 if width % 2 == 0 else -1  # x and x*x: two blocks of N
        if width != N or readout.input_size < 0:
            raise ValueError(f"unroll: the readout reads {w.shape[1]} features, not from {N} states")
    D = readout.output_size if readout is not None else (feedback.shape[1] if feedback is not None else None)
    if D is not None:
        expect("y0", y0, (B, D))
    if feedback is not None:
        expect("feedback", feedback, (N, D))
    if inputs is not None:
        width = readout.input_size if readout is not None and readout.input_size else inputs.shape[-1]
        expect("inputs", inputs, (B, T, width))
    if readout is not None and inputs_from_outputs and readout.use_input and readout.input_size != D:
        raise ValueError("unroll: inputs_from_outputs needs a readout whose input width equals its output width")
    given = {"drive": drive, "x0": x0, "y0": y0, "feedback": feedback, "inputs": inputs,
             "the reservoir's weights": reservoir.W_values,
             "the readout's weight": readout.weight if readout is not None else None}
    if isinstance(drive, Drive):
        given.update({"drive.v": drive.v, "drive.weight": drive.weight})
    given = {k: t for k, t in given.items() if t is not None}
    dtypes = {t.dtype for t in given.values()}
    devices = {t.device for t in given.values()}
    if len(dtypes) > 1 or len(devices) > 1 or not x0.dtype.is_floating_point:
        raise ValueError("unroll: drive, x0, y0, feedback, inputs, the reservoir and the readout must share one "
                         "dtype and device (a floating dtype), got " + ", ".join(
                             f"{k} {str(t.dtype).replace('torch.', '')} on {t.device}" for k, t in given.items()))


def _check_states_out(states_out: torch.Tensor, drive: torch.Tensor, x0: torch.Tensor) -> None:
    if tuple(states_out.shape) != tuple(drive.shape):
        raise ValueError(f"unroll: states_out must have shape {tuple(drive.shape)}, got {tuple(states_out.shape)}")
    if states_out.dtype != x0.dtype or states_out.device != x0.device:
        raise ValueError(f"unroll: states_out must be {x0.dtype} on {x0.device}, "
                         f"got {states_out.dtype} on {states_out.device}")
    if states_out.stride(2) != 1:
        raise ValueError("unroll: states_out needs a contiguous last axis (stride 1 along the neurons)")


def _pick(name: str, reservoir: Reservoir, drive: torch.Tensor, x0: torch.Tensor) -> str:
    if name not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {name!r}")
    native_ok = (
        drive.device.type == "cpu"
        and isinstance(reservoir.activation, str)
        and x0.dtype in (torch.float32, torch.float64)
        and all(t.dtype == x0.dtype for t in (drive, reservoir.W_values, reservoir.leak))
        and reservoir.W_values.numel() > 0  # the kernel wants W's arrays, and an empty W has none
    )
    graph_ok = drive.device.type == "cuda" and _graph_layout(reservoir, drive.shape[0]) is not None
    if name == "native":
        if not native.available():
            raise RuntimeError(f"backend='native' but the native time loop is unavailable: "
                               f"{native.unavailable_reason()}")
        if not native_ok:
            raise ValueError("backend='native' runs CPU tensors of one dtype with a named activation "
                             "('tanh', 'identity', 'relu', 'sigmoid') and a W with at least one nonzero")
        return name
    if name == "cuda-graph":
        if not graph_ok:
            raise ValueError("backend='cuda-graph' needs CUDA tensors and a reservoir whose W a captured step "
                             "can hold (dense up to N = 8192, or few enough sequences to gather sparse rows)")
        return name
    if name == "auto":
        if native_ok:
            if native.available():
                return "native"
            native.warn_unavailable()
        if graph_ok and drive.shape[1] >= 2 * GRAPH_BLOCK:
            return "cuda-graph"
    return "torch"


def _check_finite(out: Unrolled, step_offset: int) -> None:
    # NaN and Inf propagate through every later step, so the final values tell whether any step
    # went bad; only then is the first bad step searched for.
    x, y = out.x, out.y
    if all_finite(x) and (y is None or all_finite(y)):
        return
    where = ""
    for name, seq in (("state", out.states), ("output", out.outputs)):
        if seq is not None:
            bad = (~torch.isfinite(seq)).flatten(2).any(2).any(0).nonzero()
            if len(bad):
                where = f" ({name} first non-finite at step {step_offset + int(bad[0])})"
                break
    raise NonFiniteStateError(
        "reservoir states or fed-back outputs became NaN/Inf" + where + ". The run diverged: lower "
        "spectral_radius, input_scaling or feedback_scaling, use a bounded activation such as 'tanh', "
        "or raise ridge so the readout's feedback loop is not explosive."
    )
