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

- ``native``: the C kernel (``_kernel.c``) runs all steps in one call on the CPU;
- ``cuda-graph``: on a GPU, blocks of steps are captured once as a CUDA graph and replayed, which
  removes the per-step kernel-launch latency; a captured step multiplies by a dense W, or gathers
  each row's nonzeros where the dense W would be large (see :func:`_graph_layout`);
- ``torch``: one Python iteration per step with eager PyTorch ops; any device, any activation.
"""

from __future__ import annotations

import contextlib
import contextvars
import itertools
from collections.abc import Iterator
from dataclasses import dataclass

import torch

from . import _alloc, native
from .errors import NonFiniteStateError
from .readout import Readout
from .reservoir import ACTIVATIONS_OUT, Drive, Reservoir

BACKENDS = ("auto", "native", "cuda-graph", "torch")
# Steps per captured CUDA graph: long enough to amortise a replay's launch, short enough that
# capturing (once per call) stays in the milliseconds.
GRAPH_BLOCK = 64
# Largest ensemble (K n² values) whose W blocks a GPU step keeps dense: 1 GB in float64.
BLOCK_DENSE_MAX = 1 << 27
# Largest reservoir whose W a GPU step keeps dense (512 MB in float64).
DENSE_GRAPH_MAX = 8192
# From this many dense values of W (64 MB in float64, N ≈ 2900) on, a GPU step that gathers each
# row's nonzeros beats the dense product when few sequences run (see _graph_layout).
GATHER_MIN_DENSE = 1 << 23
# The native kernel computes a factored drive inside the loop up to this many drive inputs;
# beyond, one matmul over all steps is cheaper than K multiply-adds per neuron and step.
FUSED_DRIVE_MAX_INPUTS = 16
# The native kernel multiplies by a dense W when it is this dense (the CSR indices then cost more
# than the zeros they skip).
NATIVE_DENSE_DENSITY = 0.25

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


@dataclass
class Unrolled:
    """Result of :func:`unroll`. ``states`` (B, T, N) when kept, ``outputs`` (B, T, D) when a readout ran."""

    states: torch.Tensor | None
    outputs: torch.Tensor | None
    x: torch.Tensor
    y: torch.Tensor | None


@torch.no_grad()
def unroll(
    reservoir: Reservoir,
    drive: torch.Tensor | Drive,
    x0: torch.Tensor,
    *,
    readout: Readout | None = None,
    inputs: torch.Tensor | None = None,
    feedback: torch.Tensor | None = None,
    y0: torch.Tensor | None = None,
    inputs_from_outputs: bool = False,
    keep_states: bool = True,
    states_out: torch.Tensor | None = None,
    step_offset: int = 0,
    backend: str | None = None,
) -> Unrolled:
    """Run the reservoir over ``drive`` (B, T, N), a tensor or a :class:`Drive`, from state ``x0`` (B, N).

    ``feedback`` is an (N, D) matrix applied to the previous output ``y`` (starting from ``y0``,
    shape (B, D)); ``inputs`` (B, T, D_in) is what the readout's input term sees. ``step_offset``
    only shifts the step numbers quoted in errors. ``backend`` overrides :func:`use_backend`.
    ``states_out`` (B, T, N), any strides with a contiguous last axis, receives the states instead
    of a new tensor (the caller's feature buffer, say); it is what ``Unrolled.states`` then holds.
    Raises :class:`NonFiniteStateError` when the state or output stops being finite.
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
    _check_finite(out, step_offset)
    return out


def _check_shapes(reservoir, drive, x0, readout, inputs, feedback, y0, inputs_from_outputs) -> None:
    # unroll is public and the native kernel trusts its pointers: a wrong shape must stop here,
    # not read past a buffer.
    N = reservoir.size

    def expect(name, t, shape):
        if t is None or tuple(t.shape) != tuple(shape):
            got = "None" if t is None else tuple(t.shape)
            raise ValueError(f"unroll: {name} must have shape {tuple(shape)}, got {got}")

    if drive.ndim != 3 or drive.shape[2] != N:
        raise ValueError(f"unroll: drive must have shape (batch, steps, {N}), got {tuple(drive.shape)}")
    B, T = drive.shape[:2]  # a Drive checked its own parts' shapes when it was made
    expect("x0", x0, (B, N))
    D = readout.output_size if readout is not None else (feedback.shape[1] if feedback is not None else None)
    if D is not None:
        expect("y0", y0, (B, D))
    if feedback is not None:
        expect("feedback", feedback, (N, D))
    if inputs is not None:
        width = readout.input_size if readout is not None and readout.input_size else inputs.shape[-1]
        expect("inputs", inputs, (B, T, width))
    if readout is not None:
        if readout.weight.shape[1] - int(readout.use_bias) - (readout.input_size if readout.use_input else 0) != N:
            raise ValueError(f"unroll: the readout reads {readout.weight.shape[1]} features, not from {N} states")
        if inputs_from_outputs and readout.use_input and readout.input_size != D:
            raise ValueError("unroll: inputs_from_outputs needs a readout whose input width equals its output width")
    given = [drive, x0, y0, feedback, inputs]
    if isinstance(drive, Drive):
        given += [drive.v, drive.weight]
    dtypes = {t.dtype for t in given if t is not None}
    devices = {t.device.type for t in given if t is not None}
    if len(dtypes) > 1 or len(devices) > 1:
        raise ValueError(f"unroll: drive, x0, y0, feedback and inputs must share one dtype and device, "
                         f"got {sorted(map(str, dtypes))} on {sorted(devices)}")


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
    )
    graph_ok = drive.device.type == "cuda" and _graph_layout(reservoir, drive.shape[0]) is not None
    if name == "native":
        if not native.available():
            raise RuntimeError(f"backend='native' but the native time loop is unavailable: "
                               f"{native.unavailable_reason()}")
        if not native_ok:
            raise ValueError("backend='native' runs CPU tensors of one dtype with a named activation "
                             "('tanh', 'identity', 'relu', 'sigmoid')")
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


class _Step:
    """One step of the equations in eager PyTorch, shared by the ``torch`` and ``cuda-graph`` executors."""

    def __init__(self, reservoir, readout, feedback, inputs_from_outputs, W=None) -> None:
        # (N, d) columns and values: every row's nonzeros, gathered and summed per step
        self.ell = W if isinstance(W, tuple) else None
        self.W = reservoir.recurrent_matrix() if W is None else W
        self.sparse = self.ell is None and self.W.layout == torch.sparse_csr
        # (K, n, n): an ensemble's diagonal blocks, one batched product per step
        self.blocks = self.W.transpose(1, 2) if self.ell is None and self.W.ndim == 3 else None
        self.f = reservoir.f
        # a named activation can write where it is told: into the states buffer, or over its argument
        self.f_out = ACTIVATIONS_OUT.get(reservoir.activation) if isinstance(reservoir.activation, str) else None
        self.leak = None if bool((reservoir.leak == 1).all()) else reservoir.leak
        self.feedback = feedback
        self.readout = readout
        self.inputs_from_outputs = inputs_from_outputs
        if readout is not None:
            self.w_bias, self.w_in, self.w_x = readout.parts()

    def __call__(self, x, y, drive_t, u_t, out=None):
        """One step from ``x`` (B, N). With ``out`` (B, N), a slice of the states buffer, the new
        state is written there (saving the eager loop a copy per step) and returned."""
        if self.ell is not None:
            cols, vals = self.ell
            pre = torch.mul(x[:, cols], vals).sum(dim=-1).add_(drive_t)
        elif self.blocks is not None:
            B, (K, n, _) = x.shape[0], self.blocks.shape
            pre = torch.baddbmm(drive_t.reshape(B, K, n).transpose(0, 1), x.reshape(B, K, n).transpose(0, 1),
                                self.blocks).transpose(0, 1).reshape(B, K * n)
        elif self.sparse:
            pre = torch.addmm(drive_t.T, self.W, x.T).T
        else:
            pre = torch.addmm(drive_t, x, self.W.T)
        if self.feedback is not None:
            pre.addmm_(y, self.feedback.T)
        if self.f_out is None:
            h = self.f(pre)
        else:  # pre is this step's own new tensor, so it may be overwritten
            h = self.f_out(pre, out if out is not None and self.leak is None else pre)
        if self.leak is not None:
            h = torch.lerp(x, h, self.leak, out=out)
        elif out is not None and h is not out:
            h = out.copy_(h)
        x = h
        if self.readout is not None:
            u = y if self.inputs_from_outputs else u_t
            y = torch.addmm(self.w_bias, x, self.w_x.T) if self.w_bias is not None else x @ self.w_x.T
            if self.w_in is not None and u is not None:
                y = y.addmm(u, self.w_in.T)
        return x, y


def _buffers(drive, x0, readout, keep):
    """States and outputs buffers. ``keep``: True for a new states tensor, False for none, or the
    caller's (B, T, N) tensor to fill."""
    B, T, N = drive.shape
    if isinstance(keep, torch.Tensor):
        states = keep
    else:
        states = _alloc.empty((B, T, N), x0.dtype, x0.device) if keep else None
    outputs = (_alloc.empty((B, T, readout.output_size), x0.dtype, x0.device)
               if readout is not None else None)
    return states, outputs


def _run_torch(reservoir, drive, x0, readout, inputs, feedback, y0, inputs_from_outputs, keep,
               step=None, buffers=None) -> Unrolled:
    if isinstance(drive, Drive):
        drive = drive.materialise()
    step = step or _Step(reservoir, readout, feedback, inputs_from_outputs)
    states, outputs = buffers or _buffers(drive, x0, readout, keep)
    # each buffer's per-step slices made in one call, not one indexing op per step and buffer
    steps = zip(drive.unbind(1), *(t.unbind(1) if t is not None else itertools.repeat(None)
                                   for t in (inputs, states, outputs)))
    x, y = x0, y0
    for drive_t, u_t, state_t, output_t in steps:
        x, y = step(x, y, drive_t, u_t, out=state_t)
        if output_t is not None:
            output_t.copy_(y)
    return Unrolled(states, outputs, x, y)


def _run_native(reservoir, drive, x0, readout, inputs, feedback, y0, inputs_from_outputs, keep):
    B, T, N = drive.shape
    states, outputs = _buffers(drive, x0, readout, keep)
    x = x0.clone(memory_format=torch.contiguous_format)
    y = y0.clone(memory_format=torch.contiguous_format) if y0 is not None else None
    factored = None
    if isinstance(drive, Drive):
        if drive.inputs <= FUSED_DRIVE_MAX_INPUTS:
            v = drive.v if drive.v is None or drive.v.stride(2) == 1 else drive.v.contiguous()
            wt = None if drive.weight is None else drive.weight.T.contiguous()
            factored, drive = (v, wt, drive.bias.contiguous()), None
        else:
            drive = drive.materialise()
    if drive is not None and drive.stride(2) != 1:
        drive = drive.contiguous()
    weights = _native_weights(reservoir, single=B == 1)
    leak = None if bool((reservoir.leak == 1).all()) else reservoir.leak.contiguous()
    w_x = ydrive = w_y = None
    if readout is not None:
        bias, w_in, w_x = readout.parts()
        D = readout.output_size
        base = bias.contiguous() if bias is not None else torch.zeros(D, dtype=x.dtype)
        if inputs_from_outputs:
            w_y = w_in.contiguous() if w_in is not None else None
        if w_in is not None and inputs is not None and not inputs_from_outputs:
            ydrive = torch.addmm(base, inputs.reshape(-1, inputs.shape[-1]), w_in.T).view(B, T, D)
        else:
            ydrive = base.expand(B, T, D)
        w_x = w_x.contiguous()
    native.run(
        drive=drive, factored=factored, steps=T, x=x, activation=reservoir.activation, leak=leak, states=states,
        w_x=w_x, ydrive=ydrive, w_y=w_y, feedback=feedback.contiguous() if feedback is not None else None,
        y=y if (readout is not None or feedback is not None) else None, outputs=outputs, **weights,
    )
    return Unrolled(states, outputs, x, y)


def _native_weights(reservoir: Reservoir, single: bool) -> dict:
    """W as the kernel wants it (dense, SELL for one sequence, CSR for a batch), cached on the
    reservoir until its values change."""
    N, values = reservoir.size, reservoir.W_values
    layout = "dense" if values.numel() > NATIVE_DENSE_DENSITY * N * N else "sell" if single else "csr"
    key = (layout, values.data_ptr(), values._version, values.dtype)
    cache = reservoir.__dict__.setdefault("_native_cache", {})
    if key not in cache:
        if len(cache) > 4:
            cache.clear()
        if layout == "dense":
            cache[key] = {"dense": reservoir.dense_recurrent()}
        elif layout == "sell":
            cache[key] = {"sell": native.sell_layout(reservoir.W_crow, reservoir.W_col, values)}
        else:
            cache[key] = {"row_ptr": reservoir.W_crow.contiguous(), "col": reservoir.W_col.to(torch.int32),
                          "val": values.contiguous()}
    return cache[key]


def _graph_layout(reservoir: Reservoir, batch: int) -> str | None:
    """How a captured GPU step holds W: ``"gather"`` (each row's nonzeros, :func:`ell_layout`),
    ``"blocks"`` (an ensemble's K dense diagonal blocks), ``"dense"``, or None when none fits.

    A dense step reads all K·n² values of W (n = N / K), a gathering one the B·N·d it gathers
    and their products. Below ``GATHER_MIN_DENSE`` values the step is bound by kernel launches,
    where one matmul beats the gather's three kernels. cuSPARSE is avoided: its calls may
    allocate during capture.
    """
    K, N = reservoir.blocks, reservoir.size
    n = N // K
    if K * n * n >= GATHER_MIN_DENSE and 3 * batch * _row_width(reservoir) <= n:
        return "gather"
    if K > 1 and K * n * n <= BLOCK_DENSE_MAX:
        return "blocks"
    if N <= DENSE_GRAPH_MAX:
        return "dense"
    return None


def _graph_matrix(reservoir: Reservoir, layout: str) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    if layout == "gather":
        return ell_layout(reservoir)
    if layout == "blocks":
        return block_dense(reservoir)
    return reservoir.dense_recurrent()


def _row_width(reservoir: Reservoir) -> int:
    """The most nonzeros in one row of W."""
    return int(reservoir.W_crow.diff().max()) if reservoir.size else 0


def ell_layout(reservoir: Reservoir) -> tuple[torch.Tensor, torch.Tensor]:
    """W's rows padded to the longest: columns (N, d) and values (N, d), d the most nonzeros in a row.

    A padding slot points at its own row with value zero, so it adds nothing, and a member of an
    ensemble whose state overflows cannot spread NaN (0 · inf) into the other members' rows.
    """
    N, device = reservoir.size, reservoir.W_crow.device
    d = max(_row_width(reservoir), 1)
    rows = reservoir.nonzero_rows()
    slot = torch.arange(rows.numel(), device=device) - reservoir.W_crow[rows]
    cols = torch.arange(N, device=device)[:, None].repeat(1, d)
    vals = torch.zeros(N, d, dtype=reservoir.W_values.dtype, device=device)
    cols[rows, slot] = reservoir.W_col
    vals[rows, slot] = reservoir.W_values
    return cols, vals


def block_dense(reservoir: Reservoir) -> torch.Tensor:
    """The K equal diagonal blocks of a stacked reservoir's W as one dense (K, n, n) tensor."""
    K, N = reservoir.blocks, reservoir.size
    n = N // K
    rows = reservoir.nonzero_rows()
    blocks = torch.zeros(K, n, n, dtype=reservoir.W_values.dtype, device=reservoir.W_values.device)
    blocks[rows // n, rows % n, reservoir.W_col % n] = reservoir.W_values
    return blocks


def _run_cuda_graph(reservoir, drive, x0, readout, inputs, feedback, y0, inputs_from_outputs, keep):
    """The first block runs eagerly (which also warms up cuBLAS), the next blocks replay one
    captured graph of ``GRAPH_BLOCK`` steps, and the remainder runs eagerly again."""
    if isinstance(drive, Drive):
        drive = drive.materialise()
    B, T, N = drive.shape
    K = GRAPH_BLOCK
    step = _Step(reservoir, readout, feedback, inputs_from_outputs,
                 W=_graph_matrix(reservoir, _graph_layout(reservoir, B)))
    states, outputs = _buffers(drive, x0, readout, keep)

    def block(lo, hi):
        return (states[:, lo:hi] if states is not None else None,
                outputs[:, lo:hi] if outputs is not None else None)

    def eager(lo, hi, x, y):
        u = inputs[:, lo:hi] if inputs is not None else None
        out = _run_torch(reservoir, drive[:, lo:hi], x, readout, u, feedback, y, inputs_from_outputs,
                         keep, step=step, buffers=block(lo, hi))
        return out.x, out.y

    x, y = eager(0, K, x0, y0)
    static_x = x.clone()
    static_y = y.clone() if y is not None else None
    static_drive = drive[:, :K].clone()
    static_u = inputs[:, :K].clone() if inputs is not None else None
    static_states = torch.empty(B, K, N, dtype=x.dtype, device=x.device) if states is not None else None
    static_out = torch.empty_like(outputs[:, :K]) if outputs is not None else None

    def body():
        x, y = static_x, static_y
        for k in range(K):
            x, y = step(x, y, static_drive[:, k], static_u[:, k] if static_u is not None else None)
            if static_states is not None:
                static_states[:, k].copy_(x)
            if static_out is not None:
                static_out[:, k].copy_(y)
        static_x.copy_(x)
        if static_y is not None:
            static_y.copy_(y)

    # Captured on a side stream through the graph's own API rather than torch.cuda.graph, which
    # also synchronises the device and empties the allocator's cache: every later allocation of
    # the fit would then go back to cudaMalloc, for each chunk of steps.
    graph = torch.cuda.CUDAGraph()
    side = torch.cuda.Stream(device=x.device)
    side.wait_stream(torch.cuda.current_stream(x.device))
    with torch.cuda.stream(side):
        graph.capture_begin()
        try:
            body()
        finally:
            graph.capture_end()
    torch.cuda.current_stream(x.device).wait_stream(side)
    end = T // K * K
    for lo in range(K, end, K):
        static_drive.copy_(drive[:, lo:lo + K])
        if static_u is not None:
            static_u.copy_(inputs[:, lo:lo + K])
        graph.replay()
        s, o = block(lo, lo + K)
        if s is not None:
            s.copy_(static_states)
        if o is not None:
            o.copy_(static_out)
    x = static_x.clone()
    y = static_y.clone() if static_y is not None else None
    if end < T:
        x, y = eager(end, T, x, y)
    return Unrolled(states, outputs, x, y)


def _check_finite(out: Unrolled, step_offset: int) -> None:
    # NaN and Inf propagate through every later step, so the final values tell whether any step
    # went bad; only then is the first bad step searched for.
    x, y = out.x, out.y
    if torch.isfinite(x).all() and (y is None or torch.isfinite(y).all()):
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
