"""The ``cuda-graph`` executor: blocks of steps captured once as a CUDA graph and replayed."""

from __future__ import annotations

import torch

from ..reservoir import Drive, Reservoir
from .common import Unrolled, _buffers
from .eager import _run_torch, _Step

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
