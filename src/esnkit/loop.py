"""The one time loop behind every mode: teacher-forced harvest, driven prediction, free-running generation.

Per step, for a batch of ``B`` sequences with states ``x`` of shape ``(B, N)``::

    pre[t] = W x[t-1] + drive[t] + M y[t-1]        # M only when outputs are fed back in the loop
    x[t]   = (1 - a) * x[t-1] + a * f(pre[t])
    y[t]   = W_out [1; u[t]; x[t]]                  # only when a readout runs inside the loop

``drive[t] = W_in u[t] + b`` (plus ``W_fb y_teacher[t-1]`` under teacher forcing) is precomputed for
all steps in one matmul by the caller. The modes differ only in what is passed:

- teacher-forced harvest, or driven prediction without feedback: ``drive`` only, no readout;
- driven prediction with output feedback: ``readout``, ``inputs`` (for the readout's input term),
  ``feedback = W_fb`` and ``y0``;
- free-running generation: ``readout``, ``feedback = W_fb (+ W_in when outputs become the next
  inputs)``, ``inputs_from_outputs=True`` for a one-step-ahead forecaster, and ``y0``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .errors import NonFiniteStateError
from .readout import Readout
from .reservoir import Reservoir


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
    drive: torch.Tensor,
    x0: torch.Tensor,
    *,
    readout: Readout | None = None,
    inputs: torch.Tensor | None = None,
    feedback: torch.Tensor | None = None,
    y0: torch.Tensor | None = None,
    inputs_from_outputs: bool = False,
    keep_states: bool = True,
    step_offset: int = 0,
) -> Unrolled:
    """Run the reservoir over ``drive`` (B, T, N) from state ``x0`` (B, N).

    ``feedback`` is an (N, D) matrix applied to the previous output ``y`` (starting from ``y0``,
    shape (B, D)); ``inputs`` (B, T, D_in) is what the readout's input term sees. ``step_offset``
    only shifts the step numbers quoted in errors. Raises :class:`NonFiniteStateError` when the
    state or output stops being finite.
    """
    B, T, N = drive.shape
    W = reservoir.recurrent_matrix()
    sparse = W.layout == torch.sparse_csr
    f = reservoir.f
    leak = reservoir.leak
    full_leak = bool((leak == 1).all())
    if readout is not None:
        w_bias, w_in, w_x = readout.parts()
    x, y = x0, y0
    states = torch.empty(B, T, N, dtype=x0.dtype, device=x0.device) if keep_states else None
    outputs = torch.empty(B, T, readout.output_size, dtype=x0.dtype, device=x0.device) if readout else None
    for t in range(T):
        if sparse:
            pre = torch.addmm(drive[:, t].T, W, x.T).T
        else:
            pre = torch.addmm(drive[:, t], x, W.T)
        if feedback is not None:
            pre = pre.addmm(y, feedback.T)
        h = f(pre)
        x = h if full_leak else torch.lerp(x, h, leak)
        if readout is not None:
            u = y if inputs_from_outputs else (inputs[:, t] if inputs is not None else None)
            y = torch.addmm(w_bias, x, w_x.T) if w_bias is not None else x @ w_x.T
            if w_in is not None and u is not None:
                y = y.addmm(u, w_in.T)
            outputs[:, t] = y
        if keep_states:
            states[:, t] = x
    _check_finite(x, y, states, outputs, step_offset)
    return Unrolled(states, outputs, x, y)


def _check_finite(x, y, states, outputs, step_offset: int) -> None:
    # NaN and Inf propagate through every later step, so the final values tell whether any step
    # went bad; only then is the first bad step searched for.
    if torch.isfinite(x).all() and (y is None or torch.isfinite(y).all()):
        return
    where = ""
    for name, seq in (("state", states), ("output", outputs)):
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
