"""The ``torch`` executor: one Python iteration per step with eager PyTorch ops (any device, any activation)."""

from __future__ import annotations

import itertools

import torch

from ..reservoir import ACTIVATIONS_OUT, Drive
from .common import Unrolled, _buffers


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
        self.w_q = None
        if readout is not None:
            self.w_bias, self.w_in, self.w_x = readout.parts()
            get = getattr(readout, "squares_weight", None)
            self.w_q = get() if get is not None else None

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
            if self.w_q is not None:
                y = y.addmm(x * x, self.w_q.T)
        return x, y


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
