"""FORCE learning (Sussillo & Abbott 2009): the readout trained by recursive least squares while the
network runs on its own fed-back output, for ``ESN(trainer="force")`` or ``trainer=FORCE(...)``.

Per step ``t`` of a training sequence, from the state ``x[t-1]`` and the network's last output
``z[t-1]`` (docs/online.md)::

    x[t] = (1 - a) x[t-1] + a f(W x[t-1] + W_in u[t] + W_fb z[t-1] + b)
    z[t] = W_out r[t],   r[t] = [1; u[t]; x[t]]            the output fed back at step t + 1
    e[t] = z[t] - y[t]                                      a-priori error
    k = P r / (λ + r^T P r);  W_out <- W_out - e k^T;  P <- (P - k (P r)^T) / λ

from ``W_out = 0`` and ``P = I / alpha``, the update on every ``every``-th step past the washout.
With ``posterior=True`` the output fed back after an update is ``W_out r[t]`` with the new weights.
The step is the time loop's own (:class:`esnkit.loop.eager._Step`, the one the ``torch`` executor
runs) and the update the RLS fit's one-row update (:meth:`_RLSFit.row`): only their order, with the
weights changing between steps, is written here. That order is inherently sequential: one Python
iteration per step. The sequences of a batch are trained one after another, each from its own start
state, the weights carried over.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch

from .._checks import all_finite
from .._series import Batch
from ..errors import NonFiniteStateError
from ..loop.eager import _Step
from ..readout import FORCE, FeatureMap, Readout, TrainerFit
from ..reservoir import Reservoir
from .engine import ESNState, chunk_steps

if TYPE_CHECKING:
    from .esn import ESN

NOT_IN_HARVEST = ("trainer='force' trains in closed loop, on the network's own outputs: ESN.fit and "
                  "ESN.partial_fit run it, but a harvest (ESN.harvest, an Ensemble, the search) is "
                  "teacher-forced and cannot")


def force_trainer(model: ESN) -> FORCE | None:
    """The FORCE recipe ``model`` trains with (``trainer='force'``: ``FORCE`` of the model's
    ``force_alpha`` and ``forgetting``), else None."""
    t = model.trainer
    if isinstance(t, FORCE):
        return t
    if isinstance(t, str) and t == "force":
        return FORCE(alpha=model.force_alpha, forgetting=model.forgetting)
    return None


def _require_feedback(model: ESN) -> None:
    if model.feedback_scaling == 0:
        raise ValueError("FORCE learning (trainer='force') feeds the network's own output back while it trains, "
                         "so it needs output feedback: set feedback_scaling > 0")
    if model.features != "linear":
        raise ValueError("FORCE learning (trainer='force') updates the readout of [1; u; x] inside the loop's "
                         f"steps; features={model.features!r} is not supported with it: use features='linear'")


def fit(model: ESN, inputs: Any, targets: Any, *, initial_state: Any = None, check_finite: bool = True,
        online: bool = False) -> ESN:
    """``model.fit`` for a FORCE trainer: draw the reservoir, train the readout in closed loop over
    every sequence (washout: the first steps run with the output fed back and no update), install
    the final weights and carry each sequence's final state (``x``, and the network's own last
    output). ``online``: keep the RLS accumulation for ``partial_fit``."""
    trainer = force_trainer(model)
    model._check_params()
    _require_feedback(model)
    U, Y, scaling = model._fit_data(inputs, targets)
    model._require_fit_memory(U, Y, 1)
    d_in = U.features if U is not None else 0
    reservoir = model._build_reservoir(d_in, Y.features)
    model._check_echo_state(reservoir, stacklevel=5)
    start = model._start(initial_state, Y.batch_size, carried=False, outputs=Y.features)
    features = model._features(d_in)
    acc = trainer.start(features.size(model.reservoir_size, d_in), Y.features, Y.data.device)
    final = train(reservoir, acc, features, trainer, U, Y, start, washout=model.washout,
                  chunk_size=model.chunk_size, check_finite=check_finite)
    model._set_fitted(reservoir, acc.solve(), final, Y, scaling)
    vars(model)["_online"] = (acc, model.state, None) if online else None
    return model


def resume(model: ESN, acc: TrainerFit, U: Batch | None, Y: Batch, start: ESNState, check_finite: bool) -> ESNState:
    """``partial_fit``'s next piece: FORCE from the accumulation ``acc`` (its weights and ``P``) and
    the state where the previous piece ended, no washout; returns the final state."""
    _require_feedback(model)
    if not callable(getattr(acc, "row", None)):
        raise ValueError("partial_fit continues the accumulation its first call started, which another trainer "
                         "made: call fit, then partial_fit, to train with FORCE")
    res = model.reservoir_
    return train(res, acc, model._features(res.input_size), force_trainer(model), U, Y, start, washout=0,
                 chunk_size=model.chunk_size, check_finite=check_finite)


@torch.no_grad()
def train(reservoir: Reservoir, acc: TrainerFit, features: FeatureMap, recipe: FORCE, U: Batch | None, Y: Batch,
          start: ESNState, *, washout: int, chunk_size: int | None, check_finite: bool) -> ESNState:
    """FORCE over each sequence of ``Y`` (B, T, D) (and ``U`` (B, T, D_in)) in turn from ``start``
    (x (B, N), y (B, D)), updating ``acc`` (an RLS fit: ``W`` (D, F) float64, ``row``,
    ``symmetrise``) on every ``recipe.every``-th step past ``washout``. Returns each sequence's
    final state: ``x`` and its last output ``z``."""
    d_in = U.features if U is not None else 0
    dtype = Y.data.dtype
    readout = Readout(acc.W.to(dtype), input_size=d_in, use_bias=features.bias,
                      use_input=features.inputs and d_in > 0)
    weight = readout.weight  # the step reads views of it: updated in place, they follow
    step = _Step(reservoir, readout, reservoir.W_fb, False)
    chunk = chunk_steps(chunk_size, 1, reservoir.size)
    final_x, final_y = start.x.clone(), start.y.clone()
    for b, n in enumerate(Y.lengths):
        x, z = start.x[b:b + 1], start.y[b:b + 1]
        for lo in range(0, n, chunk):
            hi = min(n, lo + chunk)
            u = U.data[b:b + 1, lo:hi] if U is not None else None
            drive = reservoir.drive(u, None, batch=1, steps=hi - lo).materialise()
            targets = Y.data[b, lo:hi].to(torch.float64)
            zs = torch.empty(hi - lo, Y.features, dtype=dtype, device=Y.data.device)
            us = u.unbind(1) if u is not None else [None] * (hi - lo)
            for i, (drive_t, u_t) in enumerate(zip(drive.unbind(1), us)):
                x, z = step(x, z, drive_t, u_t)
                zs[i] = z[0]
                t = lo + i - washout
                if t >= 0 and t % recipe.every == 0:
                    acc.row(features(x, u_t)[0].to(torch.float64), targets[i])
                    weight.copy_(acc.W)
                    if recipe.posterior:
                        z = readout(x, u_t)
                        zs[i] = z[0]
            acc.symmetrise()
            if check_finite:
                _check_finite(x, zs, acc.W, b, lo, Y.batch_size)
        final_x[b], final_y[b] = x[0], z[0]
    return ESNState(final_x, final_y)


def _check_finite(x: torch.Tensor, zs: torch.Tensor, W: torch.Tensor, b: int, lo: int, batch: int) -> None:
    # NaN and Inf run on through every later step: a chunk's last state, its outputs and the weights
    # tell whether anything went bad
    if all_finite(x) and all_finite(zs) and all_finite(W):
        return
    bad = (~torch.isfinite(zs)).any(dim=1).nonzero()
    when = f"output first non-finite at step {lo + int(bad[0])}" if len(bad) else f"by step {lo + zs.shape[0] - 1}"
    where = f" ({when}{f' of sequence {b}' if batch > 1 else ''})"
    raise NonFiniteStateError(
        "FORCE learning diverged: reservoir states, outputs or readout weights became NaN/Inf" + where + ". "
        "Raise alpha (a smaller first P), lower feedback_scaling or spectral_radius, or update less often."
    )
