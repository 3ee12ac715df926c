"""Loading and calling the native time loop (``_kernel.c``) through ctypes.

The kernel is a small C library built by the package's set-up (``setup.py``) with the system C
compiler. It does not link against Python or PyTorch, so it is loaded with :mod:`ctypes` and fed
raw tensor pointers; ctypes releases the GIL for the call. When it cannot be loaded, esnkit runs
the pure-PyTorch loop and says so once (:class:`NativeKernelWarning`). ``ESNKIT_NATIVE=0`` in the
environment turns the kernel off without a warning.
"""

from __future__ import annotations

import ctypes
import importlib.machinery
import os
import warnings
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from ..reservoir import Drive, Reservoir
from .common import Unrolled, _buffers

ABI_VERSION = 4
ACTIVATION_CODES = {"identity": 0, "tanh": 1, "relu": 2, "sigmoid": 3}
_ERRORS = {1: "out of memory", 2: "invalid arguments"}


class NativeKernelWarning(UserWarning):
    """The native time loop is unavailable; the (slower) pure-PyTorch loop runs instead."""


class _Args(ctypes.Structure):
    # Field by field the esn_args struct of _kernel.c.
    _fields_ = [
        ("batch", ctypes.c_int64), ("steps", ctypes.c_int64), ("size", ctypes.c_int64),
        ("n_out", ctypes.c_int64), ("activation", ctypes.c_int64),
        ("row_ptr", ctypes.c_void_p), ("col", ctypes.c_void_p), ("val", ctypes.c_void_p),
        ("dense", ctypes.c_void_p),
        ("sell_ptr", ctypes.c_void_p), ("sell_col", ctypes.c_void_p), ("sell_val", ctypes.c_void_p),
        ("drive", ctypes.c_void_p), ("drive_bs", ctypes.c_int64), ("drive_ts", ctypes.c_int64),
        ("leak", ctypes.c_void_p), ("x", ctypes.c_void_p),
        ("states", ctypes.c_void_p), ("states_bs", ctypes.c_int64), ("states_ts", ctypes.c_int64),
        ("w_x", ctypes.c_void_p),
        ("ydrive", ctypes.c_void_p), ("ydrive_bs", ctypes.c_int64), ("ydrive_ts", ctypes.c_int64),
        ("w_y", ctypes.c_void_p), ("feedback", ctypes.c_void_p), ("y", ctypes.c_void_p),
        ("outputs", ctypes.c_void_p), ("outputs_bs", ctypes.c_int64), ("outputs_ts", ctypes.c_int64),
        ("in_v", ctypes.c_void_p), ("in_bs", ctypes.c_int64), ("in_ts", ctypes.c_int64),
        ("n_in", ctypes.c_int64), ("in_wt", ctypes.c_void_p), ("in_bias", ctypes.c_void_p),
        ("w_q", ctypes.c_void_p),
    ]


def _library_path() -> Path | None:
    here = Path(__file__).parent.parent  # built next to the package's __init__ by setup.py
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        candidate = here / f"_kernel{suffix}"
        if candidate.exists():
            return candidate
    return None


@lru_cache(maxsize=1)
def _load() -> tuple[ctypes.CDLL | None, str]:
    """The loaded library, or None and the reason it is not there."""
    if os.environ.get("ESNKIT_NATIVE", "1").strip().lower() in ("0", "false", "no", "off"):
        return None, "disabled by ESNKIT_NATIVE=0"
    path = _library_path()
    if path is None:
        return None, "esnkit/_kernel was not built (no C compiler at install time?)"
    try:
        lib = ctypes.CDLL(str(path))
    except OSError as exc:
        return None, f"could not load {path.name}: {exc}"
    if lib.esn_abi_version() != ABI_VERSION:
        return None, f"{path.name} is from another esnkit version: reinstall esnkit"
    mismatch = _layout_mismatch(lib, _Args)
    if mismatch:
        # a build whose struct disagrees with its ctypes mirror would hand the kernel wrong
        # pointers: never call it, and say so now (this is a bug or a stale build, not a missing
        # compiler)
        global _warned
        _warned = True
        reason = f"{path.name} does not match native._Args: {mismatch}"
        warnings.warn(f"esnkit's native time loop is unavailable ({reason}); using the slower PyTorch loop. "
                      "Rebuild the kernel (pip install, or python setup.py build_ext --inplace).",
                      NativeKernelWarning, stacklevel=3)
        return None, reason
    for name in ("esn_run_f64", "esn_run_f32"):
        fn = getattr(lib, name)
        fn.argtypes = [ctypes.POINTER(_Args)]
        fn.restype = ctypes.c_int
    for name in ("esn_tanh_f64", "esn_tanh_f32"):
        getattr(lib, name).argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64]
    return lib, ""


def _layout_mismatch(lib: ctypes.CDLL, mirror: type[ctypes.Structure]) -> str:
    """How ``mirror``'s layout differs from the C struct's that ``lib`` reports ('' when it does not):
    the first field whose name, offset or size differs, a field one side lacks, or the struct's size."""
    for fn in ("esn_args_size", "esn_args_fields", "esn_args_offset", "esn_args_field_size"):
        getattr(lib, fn).restype = ctypes.c_int64
    lib.esn_args_offset.argtypes = lib.esn_args_field_size.argtypes = lib.esn_args_name.argtypes = [ctypes.c_int64]
    lib.esn_args_name.restype = ctypes.c_char_p
    names = [f[0] for f in mirror._fields_]
    count = lib.esn_args_fields()
    for i in range(min(count, len(names))):
        name, c_name = names[i], lib.esn_args_name(i).decode()
        field = getattr(mirror, name)
        if c_name != name:
            return f"field {i} is {name!r} in native._Args but {c_name!r} in the C struct"
        for what, mine, theirs in (("offset", field.offset, lib.esn_args_offset(i)),
                                   ("size", field.size, lib.esn_args_field_size(i))):
            if mine != theirs:
                return f"field {name!r} has {what} {mine} in native._Args but {theirs} in the C struct"
    if len(names) > count:
        return f"field {names[count]!r} of native._Args is not in the C struct"
    if count > len(names):
        return f"field {lib.esn_args_name(len(names)).decode()!r} of the C struct is missing from native._Args"
    if ctypes.sizeof(mirror) != lib.esn_args_size():
        return f"the struct has {ctypes.sizeof(mirror)} bytes in native._Args but {lib.esn_args_size()} in C"
    return ""


def available() -> bool:
    """Whether the native time loop is loaded."""
    return _load()[0] is not None


def unavailable_reason() -> str:
    return _load()[1]


_warned = False


def warn_unavailable() -> None:
    """Say once per process that the slower pure-PyTorch loop is running, unless that was asked for."""
    global _warned
    lib, reason = _load()
    if lib is None and not _warned and not reason.startswith("disabled"):
        _warned = True
        warnings.warn(
            f"esnkit's native time loop is unavailable ({reason}); using the slower PyTorch loop. "
            "Reinstall with a C compiler present (gcc/clang) to enable it.",
            NativeKernelWarning,
            stacklevel=4,
        )


def _ptr(t: torch.Tensor | None) -> int | None:
    return None if t is None else t.data_ptr()


def _strides(t: torch.Tensor | None) -> tuple[int, int]:
    return (0, 0) if t is None else (t.stride(0), t.stride(1))


def run(
    *,
    drive: torch.Tensor | None = None,
    factored: tuple[torch.Tensor | None, torch.Tensor | None, torch.Tensor] | None = None,
    steps: int | None = None,
    x: torch.Tensor,
    activation: str,
    row_ptr: torch.Tensor | None = None,
    col: torch.Tensor | None = None,
    val: torch.Tensor | None = None,
    dense: torch.Tensor | None = None,
    sell: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None,
    leak: torch.Tensor | None = None,
    states: torch.Tensor | None = None,
    w_x: torch.Tensor | None = None,
    ydrive: torch.Tensor | None = None,
    w_y: torch.Tensor | None = None,
    w_q: torch.Tensor | None = None,
    feedback: torch.Tensor | None = None,
    y: torch.Tensor | None = None,
    outputs: torch.Tensor | None = None,
) -> None:
    """Run all steps of ``drive`` (B, T, N), updating ``x`` (B, N) and ``y`` (B, D) in place.

    Callers pass CPU tensors of one floating dtype: ``x``, ``y``, the weights and the row pointer
    contiguous (``col`` as int32), ``drive``/``ydrive``/``states``/``outputs`` with a contiguous
    last axis (strides 0 broadcast). ``factored = (v (B, T, K) or None, W_v^T (K, N) contiguous
    or None, bias (N,))`` with ``steps`` replaces ``drive`` by ``bias + W_v v[t]``, computed in
    the loop; ``v`` needs a contiguous last axis. ``sell`` is W in the SELL layout of
    :func:`sell_layout`, used for a single sequence. The loop's equations are in ``loop.py``.
    """
    lib, reason = _load()
    if lib is None:
        raise RuntimeError(f"esnkit's native time loop is unavailable: {reason}")
    if drive is not None:
        B, T, N = drive.shape
    else:
        v, wt, bias = factored
        (B, N), T = x.shape, steps
    args = _Args(
        batch=B, steps=T, size=N, n_out=0 if y is None else y.shape[1],
        activation=ACTIVATION_CODES[activation],
        row_ptr=_ptr(row_ptr), col=_ptr(col), val=_ptr(val), dense=_ptr(dense),
        sell_ptr=_ptr(sell[0]) if sell else None, sell_col=_ptr(sell[1]) if sell else None,
        sell_val=_ptr(sell[2]) if sell else None,
        drive=_ptr(drive), leak=_ptr(leak), x=_ptr(x), states=_ptr(states),
        w_x=_ptr(w_x), ydrive=_ptr(ydrive), w_y=_ptr(w_y), feedback=_ptr(feedback), y=_ptr(y),
        outputs=_ptr(outputs), w_q=_ptr(w_q),
    )
    args.drive_bs, args.drive_ts = _strides(drive)
    args.states_bs, args.states_ts = _strides(states)
    args.ydrive_bs, args.ydrive_ts = _strides(ydrive)
    args.outputs_bs, args.outputs_ts = _strides(outputs)
    if factored is not None:
        args.in_v, args.in_wt, args.in_bias = _ptr(v), _ptr(wt), _ptr(bias)
        args.in_bs, args.in_ts = _strides(v)
        args.n_in = 0 if v is None else v.shape[2]
    fn = lib.esn_run_f64 if x.dtype == torch.float64 else lib.esn_run_f32
    status = fn(ctypes.byref(args))
    if status:
        raise RuntimeError(f"esnkit's native time loop failed: {_ERRORS.get(status, status)}")


SLICE = 8  # ESN_SLICE in _kernel.c


def sell_layout(
    row_ptr: torch.Tensor, col: torch.Tensor, val: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """CSR -> SELL-8: rows in slices of 8, each slice stored column-block by column-block.

    Element ``k`` of row ``i`` lands at ``ptr[i // 8] + 8 k + i % 8``; slices are padded with
    zero weights (column 0) to their longest row. Returns ``(ptr, col int32, val)``.
    """
    # NumPy rather than torch: a dozen small array operations, which NumPy runs in half the time
    # (0.24 vs 0.54 ms at 75 neurons); a fresh reservoir pays for this on its first run.
    rp = row_ptr.numpy()
    n = rp.size - 1
    degree = np.diff(rp)
    if n and (degree == degree[0]).all():
        # Every row equally long (an in_degree reservoir): each slice is its 8 rows transposed.
        d, slices = int(degree[0]), -(-n // SLICE)
        parts = []
        for a, dtype in ((col.numpy(), np.int32), (val.numpy(), val.numpy().dtype)):
            rows = np.zeros((slices * SLICE, d), dtype=dtype)
            rows[:n] = a.reshape(n, d)
            parts.append(torch.from_numpy(rows.reshape(slices, SLICE, d).transpose(0, 2, 1).ravel()))
        return torch.from_numpy(np.arange(slices + 1, dtype=np.int64) * (SLICE * d)), parts[0], parts[1]
    return _sell_any_degree(rp, degree, col.numpy(), val.numpy())


def _sell_any_degree(
    rp: np.ndarray, degree: np.ndarray, col: np.ndarray, val: np.ndarray
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """:func:`sell_layout` for rows of any length (CSR row pointer ``rp`` and its ``degree`` per row)."""
    n = rp.size - 1
    slices = -(-n // SLICE)
    padded = np.zeros(slices * SLICE, dtype=np.int64)
    padded[:n] = degree
    width = padded.reshape(slices, SLICE).max(axis=1)
    ptr = np.zeros(slices + 1, dtype=np.int64)
    np.cumsum(width * SLICE, out=ptr[1:])
    row = np.repeat(np.arange(n), degree)
    k = np.arange(col.size) - rp[row]
    at = ptr[row // SLICE] + k * SLICE + row % SLICE
    out_col = np.zeros(int(ptr[-1]), dtype=np.int32)
    out_val = np.zeros(int(ptr[-1]), dtype=val.dtype)
    out_col[at] = col
    out_val[at] = val
    return torch.from_numpy(ptr), torch.from_numpy(out_col), torch.from_numpy(out_val)


def tanh(v: torch.Tensor) -> torch.Tensor:
    """The kernel's vectorised tanh on a contiguous CPU tensor (exposed for accuracy tests)."""
    lib, reason = _load()
    if lib is None:
        raise RuntimeError(f"esnkit's native time loop is unavailable: {reason}")
    v = v.contiguous()
    out = torch.empty_like(v)
    fn = lib.esn_tanh_f64 if v.dtype == torch.float64 else lib.esn_tanh_f32
    fn(v.data_ptr(), out.data_ptr(), v.numel())
    return out

# The native kernel computes a factored drive inside the loop up to this many drive inputs (a batch
# in register tiles of neurons x sequences, one sequence 32 steps at a time from 8 inputs on);
# beyond, one matmul over all steps was as fast or faster. Time per sequence-step at N=1000 on a
# Xeon with AVX-512, fused vs materialised: 64 inputs 7.6 vs 7.4 µs for one sequence, 3.2 vs 6.1
# for 16; 256 inputs 14.1 vs 11.4 and 9.6 vs 8.6. Fused, a batch's states equal each sequence's
# run alone bit for bit; a materialised drive is as the matmul rounds it for the batch's shape.
FUSED_DRIVE_MAX_INPUTS = 64
# The native kernel multiplies by a dense W when it is this dense (the CSR indices then cost more
# than the zeros they skip).
NATIVE_DENSE_DENSITY = 0.25


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
    w_x = ydrive = w_y = w_q = None
    if readout is not None:
        bias, w_in, w_x = readout.parts()
        w_q = _squares_weight(readout)
        D = readout.output_size
        base = bias.contiguous() if bias is not None else torch.zeros(D, dtype=x.dtype)
        if inputs_from_outputs:
            w_y = w_in.contiguous() if w_in is not None else None
        if w_in is not None and inputs is not None and not inputs_from_outputs:
            ydrive = torch.addmm(base, inputs.reshape(-1, inputs.shape[-1]), w_in.T).view(B, T, D)
        else:
            ydrive = base.expand(B, T, D)
        w_x = w_x.contiguous()
    run(
        drive=drive, factored=factored, steps=T, x=x, activation=reservoir.activation, leak=leak, states=states,
        w_x=w_x, ydrive=ydrive, w_y=w_y, w_q=w_q, feedback=feedback.contiguous() if feedback is not None else None,
        y=y if (readout is not None or feedback is not None) else None, outputs=outputs, **weights,
    )
    return Unrolled(states, outputs, x, y)


def _squares_weight(readout) -> torch.Tensor | None:
    """``W_q`` of a readout of squared states, contiguous (None for a readout without squares)."""
    get = getattr(readout, "squares_weight", None)
    w_q = get() if get is not None else None
    return None if w_q is None else w_q.contiguous()


def _native_weights(reservoir: Reservoir, single: bool) -> dict:
    """W as the kernel wants it (dense, SELL for one sequence, CSR for a batch), cached on the
    reservoir until its values change."""
    N, values = reservoir.size, reservoir.W_values
    layout = "dense" if values.numel() > NATIVE_DENSE_DENSITY * N * N else "sell" if single else "csr"
    # keyed on every tensor the layout is made of: an in-place change to the structure rebuilds it too
    key = (layout, values.dtype, *((t.data_ptr(), t._version) for t in (values, reservoir.W_col, reservoir.W_crow)))
    cache = reservoir.__dict__.setdefault("_native_cache", {})
    if key not in cache:
        if len(cache) > 4:
            cache.clear()
        if layout == "dense":
            cache[key] = {"dense": reservoir.dense_recurrent()}
        elif layout == "sell":
            cache[key] = {"sell": sell_layout(reservoir.W_crow, reservoir.W_col, values)}
        else:
            cache[key] = {"row_ptr": reservoir.W_crow.contiguous(), "col": reservoir.W_col.to(torch.int32),
                          "val": values.contiguous()}
    return cache[key]
