"""The one harvest engine: every run of 1..K reservoirs over a batch of series goes through here.

Series arrive as one padded :class:`~esnkit._series.Batch` ``(batch, time, features)`` with each
sequence's true length, so a list of sequences of different lengths is one batched pass, each
sequence from its own initial state, never a Python loop over sequences. Steps are processed in
chunks, so memory grows with the chunk, not the series; each chunk is one call of the time loop
(:func:`esnkit.loop.unroll`) for all K reservoirs, stacked block-diagonally when K > 1.

- :func:`run` yields the chunks of one pass: teacher-forced, driven with the readout inside the
  loop (output feedback), or closed-loop. ``ESN.predict``, ``states``, ``generate`` and
  ``forecast`` consume it.
- :func:`harvest` is the teacher-forced pass of ``fit``, of ensembles and of the search: each
  member's features (a :class:`~esnkit.readout.FeatureMap`) stream into its
  :class:`~esnkit.readout.Trainer`, and the rows past a split are kept for validation.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import torch

from .._series import Batch, ends_in
from ..loop import Unrolled, unroll
from ..loop.common import OutputMap
from ..readout import FeatureMap, Pooling, Trainer, TrainerFit, kept_rows
from ..reservoir import Drive, Reservoir

# Values per chunk buffer (drive, states, features) when no chunk size is given: 8 MB in float64,
# large enough that the per-chunk BLAS calls run at full speed.
CHUNK_VALUES = 2**20
# A run that keeps no states holds at most its drive per step (often not even that: the native loop
# computes a factored drive itself), so it takes chunks this many times longer: fewer calls.
UNKEPT_CHUNK_FACTOR = 16


class ESNState(NamedTuple):
    """A network state: reservoir state ``x`` (batch, N) and last output ``y`` (batch, D_out)."""

    x: torch.Tensor
    y: torch.Tensor


def chunk_steps(chunk_size: int | None, batch: int, size: int) -> int:
    """Steps per chunk for ``batch`` sequences of a reservoir of ``size`` neurons."""
    return chunk_size or max(64, CHUNK_VALUES // (batch * size))


def shifted(targets: torch.Tensor, y0: torch.Tensor) -> torch.Tensor:
    """The feedback a teacher-forced step sees: ``y[t-1]``, with ``y0`` (B, D) before the first step."""
    return torch.cat([y0[:, None], targets[:, :-1]], dim=1)


def last_steps(seq: torch.Tensor, lengths: Sequence[int]) -> torch.Tensor:
    """The last real step of each sequence of ``seq`` (B, T, D): (B, D)."""
    if all(n == seq.shape[1] for n in lengths):
        return seq[:, -1]
    idx = torch.tensor(list(lengths), device=seq.device) - 1
    return seq[torch.arange(seq.shape[0], device=seq.device), idx]


def run(
    members: Sequence[Reservoir],
    start: ESNState,
    steps: int,
    *,
    inputs: torch.Tensor | None = None,
    teacher: torch.Tensor | None = None,
    readout: OutputMap | None = None,
    closed_loop: bool = False,
    keep_states: bool = True,
    into: Callable[[slice], torch.Tensor] | None = None,
    chunk_size: int | None = None,
    check_finite: bool = True,
) -> Iterator[tuple[slice, torch.Tensor | None, Unrolled]]:
    """Run ``members`` (K reservoirs of one size, stacked into one pass) for ``steps`` steps in
    chunks; yields ``(time slice, inputs of the chunk, Unrolled)``.

    ``start`` holds the states ``x`` (B, K·N) and last outputs ``y`` (B, D). ``inputs`` (B, T, D_in)
    drive the reservoirs. ``teacher`` (B, T, D) is the target sequence: under teacher forcing
    ``y[t-1]`` is fed back from it. Without a teacher, a model with output feedback (or
    ``closed_loop``, where each output is also the next input of a one-step-ahead forecaster) runs
    ``readout`` inside the loop (K = 1 only). ``into`` maps a chunk's time slice to the (B, steps,
    K·N) tensor that receives its states (a feature buffer, say). ``check_finite=False`` lets NaN
    and Inf run on instead of raising :class:`~esnkit.NonFiniteStateError`.
    """
    K = len(members)
    res = members[0] if K == 1 else Reservoir.stack(list(members))
    B = start.x.shape[0]
    feedback = res.W_fb if res.feedback_size else None
    in_loop = teacher is None and (feedback is not None or closed_loop)
    if in_loop and (readout is None or K > 1):
        raise ValueError("a run with output feedback and no teacher needs the readout in the loop (one reservoir)")
    if closed_loop and res.input_size:
        feedback = res.W_in if feedback is None else feedback + res.W_in
    fed_back = None
    if teacher is not None and any(m.feedback_size for m in members):
        fed_back = shifted(teacher, start.y)
    x, y = start
    chunk = chunk_steps(chunk_size, B, members[0].size)
    if not keep_states and into is None and chunk_size is None:
        # A free run holds nothing per step but its outputs: one chunk, one call of the loop.
        chunk = max(steps, 1) if closed_loop else chunk * UNKEPT_CHUNK_FACTOR
    for lo in range(0, steps, chunk):
        sl = slice(lo, min(steps, lo + chunk))
        u = inputs[:, sl] if inputs is not None else None
        fb = fed_back[:, sl] if fed_back is not None else None
        drives = [m.drive(None if closed_loop else u, fb, batch=B, steps=sl.stop - lo) for m in members]
        out = unroll(
            res, drives[0] if K == 1 else Drive.cat(drives), x,
            readout=readout if in_loop else None,
            inputs=u,
            feedback=feedback if in_loop else None,
            y0=y,
            inputs_from_outputs=closed_loop and res.input_size > 0,
            keep_states=keep_states,
            states_out=into(sl) if into is not None else None,
            step_offset=lo,
            check_finite=check_finite,
        )
        x, y = out.x, out.y
        yield sl, u, out


class WithHistory:
    """A readout whose features read the ``lags`` steps before the current one, run step by step: it
    keeps those steps' states ``x_before`` (B, lags, N) and inputs ``u_before`` (B, lags, D_in) or
    None, oldest first, and moves them on with every call (``readout.window`` computes the outputs)."""

    def __init__(self, readout, x_before: torch.Tensor, u_before: torch.Tensor | None) -> None:
        self.readout, self.x_before, self.u_before = readout, x_before, u_before

    def __call__(self, x: torch.Tensor, u: torch.Tensor | None) -> torch.Tensor:
        y = self.readout.window(x[:, None], None if u is None else u[:, None], self.x_before, self.u_before)[:, 0]
        self.x_before = torch.cat([self.x_before[:, 1:], x[:, None]], dim=1)
        if self.u_before is not None and u is not None:
            self.u_before = torch.cat([self.u_before[:, 1:], u[:, None].to(self.u_before.dtype)], dim=1)
        return y


def last_lags(before: torch.Tensor | None, seq: torch.Tensor | None, lengths: Sequence[int], lags: int):
    """The ``lags`` steps before the end of each sequence of ``seq`` (B, T, F), the steps ``before``
    (B, lags, F) it counting: (B, lags, F), oldest first (None for None)."""
    if seq is None or before is None:
        return None
    ext = torch.cat([before, seq.to(before.dtype)], dim=1)
    return torch.stack([ext[b, n: n + lags] for b, n in enumerate(lengths)])


def run_stepwise(
    reservoir: Reservoir,
    readout: Callable[[torch.Tensor, torch.Tensor | None], torch.Tensor],
    start: ESNState,
    steps: int,
    *,
    inputs: torch.Tensor | None = None,
    next_input: Callable[[torch.Tensor], torch.Tensor] | None = None,
    drive: Callable[[torch.Tensor], torch.Tensor] | None = None,
    check_finite: bool = True,
) -> Iterator[tuple[int, torch.Tensor, torch.Tensor]]:
    """Run the loop one step at a time with ``readout`` (any function of the states and inputs, such
    as a readout of squared states, which the loop cannot run) between steps; yields ``(t, x[t],
    y[t])``. Its outputs are fed back (``W_fb``). Driven by ``inputs`` (B, T, D_in), or, with
    ``next_input``, closed-loop: ``u[t] = next_input(y[t-1])`` from ``y[-1] = start.y``. ``drive``,
    when given, maps a step's input (B, D_in) to its drive (B, 1, N) in place of the reservoir's
    ``W_in u + b`` (ParallelESN's groups each read their own window of the input).
    """
    B = start.x.shape[0]
    x, y = start
    fb = reservoir.feedback_size > 0
    for t in range(steps):
        u = inputs[:, t] if inputs is not None else next_input(y) if next_input is not None else None
        if drive is not None:
            d = drive(u)
        else:
            d = reservoir.drive(u[:, None] if u is not None else None, y[:, None] if fb else None, batch=B, steps=1)
        x = unroll(reservoir, d, x, keep_states=False, step_offset=t, check_finite=check_finite).x
        y = readout(x, u)
        yield t, x, y


@dataclass
class Harvest:
    """What one teacher-forced pass of K reservoirs produced.

    ``fits`` are the members' trainer accumulations of the fitting rows (past the washout and
    before ``split``); ``yy`` (K, D) and ``count`` the targets' sums of squares and the row count
    over those rows. ``Z`` (K, M, F) and ``Y`` (M, D) are the rows from ``split`` on (every row
    past the washout with ``keep_all``), materialised in chunk order, sequence after sequence
    within a chunk. ``final`` is each member's state at the end of every sequence, ``at_split``
    after step ``split - 1`` (None when the split is not inside every sequence).
    """

    reservoirs: list[Reservoir]
    fits: list[TrainerFit]
    yy: torch.Tensor
    count: int
    Z: torch.Tensor | None
    Y: torch.Tensor | None
    final: list[ESNState]
    at_split: list[ESNState] | None
    input_size: int
    targets: Batch
    models: list | None = None  # the estimators harvested, when a model class ran the pass
    # a feature map with lags: each member's last lags states (B, lags, N) and the inputs' (B, lags, D_in)
    # at the end of every sequence
    final_lags: list[tuple[torch.Tensor, torch.Tensor | None]] | None = None

    @property
    def G(self) -> torch.Tensor:
        """The members' Gram matrices (K, F, F), when their trainers accumulate normal equations."""
        return torch.stack([f.G for f in self.fits])

    @property
    def C(self) -> torch.Tensor:
        """The members' cross products ``Z^T Y`` (K, F, D), likewise."""
        return torch.stack([f.C for f in self.fits])


def harvest(
    members: Sequence[Reservoir],
    inputs: Batch | None,
    targets: Batch,
    trainers: Sequence[Trainer],
    *,
    features: FeatureMap,
    washout: int,
    start: ESNState | None = None,
    split: int | None = None,
    keep_all: bool = False,
    chunk_size: int | None = None,
    check_finite: bool = True,
    history: tuple[torch.Tensor, torch.Tensor | None] | None = None,
) -> Harvest:
    """One teacher-forced pass of ``members`` over ``inputs``/``targets`` (``inputs`` None: a
    pattern generator driven by its fed-back targets alone).

    Rows at steps ``washout ≤ t < split`` go into each member's trainer (``trainers[k]``); rows at
    ``t ≥ split`` are materialised (``keep_all``: every row past the washout is materialised and
    none is accumulated, as k-fold validation needs). ``start`` defaults to zeros. A feature map
    with ``lags`` reads the states and inputs of the steps before: ``history`` holds those before
    the first step, ``(B, lags, K·N)`` and ``(B, lags, D_in)`` (default zeros).
    """
    Y, U = targets, inputs
    K, N = len(members), members[0].size
    B, dtype, device = Y.batch_size, Y.data.dtype, Y.data.device
    d_in = U.features if U is not None else 0
    F = features.size(N, d_in)
    if start is None:
        start = ESNState(torch.zeros(B, K * N, dtype=dtype, device=device),
                         torch.zeros(B, Y.features, dtype=dtype, device=device))
    split = washout if keep_all else (Y.steps if split is None else int(split))
    fits = [t.start(F, Y.features, device) for t in trainers]
    yy = torch.zeros(K, Y.features, dtype=torch.float64, device=device)
    count = 0
    rows_z: list[list[torch.Tensor]] = [[] for _ in members]
    rows_y: list[torch.Tensor] = []
    # One reservoir writes its states straight into the feature rows' state columns when the feature
    # map offers such a buffer: no copy of the states per chunk.
    buffer = None
    if K == 1 and hasattr(features, "buffer"):
        buffer = features.buffer(B, min(Y.steps, chunk_steps(chunk_size, B, N)), N, d_in, dtype, device)
    final_x = start.x.clone()
    split_x = None
    into = (lambda sl: buffer.states(sl.stop - sl.start)) if buffer is not None else None
    L = getattr(features, "lags", 0)
    if L:
        hx = history[0] if history is not None else torch.zeros(B, L, K * N, dtype=dtype, device=device)
        hu = (history[1] if history is not None else torch.zeros(B, L, d_in, dtype=dtype, device=device)) \
            if U is not None else None
        lag_x, lag_u = hx.clone(), None if hu is None else hu.clone()
    for sl, u, out in run(members, start, Y.steps, inputs=U.data if U is not None else None, teacher=Y.data,
                          into=into, chunk_size=chunk_size, check_finite=check_finite):
        fit_rows = Y.kept(washout, sl, until=split)
        val_rows = Y.kept(max(washout, split), sl)
        y_chunk = Y.data[:, sl]
        for k in range(K):
            xs = out.states if K == 1 else out.states[..., k * N:(k + 1) * N]
            if buffer is not None:
                z_all = buffer.fill(sl.stop - sl.start, u)
                z_fit, z_val = kept_rows(z_all, fit_rows), kept_rows(z_all, val_rows)
            elif L:
                z_all = features.window(xs, u, hx[..., k * N:(k + 1) * N], hu)
                z_fit, z_val = kept_rows(z_all, fit_rows), kept_rows(z_all, val_rows)
            else:
                z_fit, z_val = (features(kept_rows(xs, r), kept_rows(u, r) if u is not None else None)
                                for r in (fit_rows, val_rows))
            if z_fit.shape[-1] != F:
                raise ValueError(f"the feature map {features!r} gives {z_fit.shape[-1]} features, but its size() "
                                 f"says {F}: size(state_size, input_size) must be the width __call__ returns")
            if z_fit.shape[0]:
                fits[k].update(z_fit, kept_rows(y_chunk, fit_rows))
            if z_val.shape[0]:
                rows_z[k].append(z_val.clone() if buffer is not None else z_val)  # the buffer is reused
        y_fit = kept_rows(y_chunk, fit_rows)
        if y_fit.shape[0]:
            yy += (y_fit.to(torch.float64) ** 2).sum(dim=0)
            count += y_fit.shape[0]
        y_val = kept_rows(y_chunk, val_rows)
        if y_val.shape[0]:
            rows_y.append(y_val)
        for b, t in ends_in(Y.lengths, sl):
            final_x[b] = out.states[b, t]
        if L:  # the lags steps before the next chunk, and before each sequence's end
            xe = torch.cat([hx, out.states], dim=1)
            ue = torch.cat([hu, u], dim=1) if hu is not None else None
            for b, t in ends_in(Y.lengths, sl):
                lag_x[b] = xe[b, t + 1: t + 1 + L]
                if ue is not None:
                    lag_u[b] = ue[b, t + 1: t + 1 + L]
            hx, hu = xe[:, -L:], ue[:, -L:] if ue is not None else None
        if sl.start < split <= sl.stop:
            split_x = out.states[:, split - 1 - sl.start].clone()
    last_y = last_steps(Y.data, Y.lengths)
    at_split = None
    if split_x is not None and 0 < split <= min(Y.lengths) and not keep_all:
        at_split = [ESNState(split_x[:, k * N:(k + 1) * N], Y.data[:, split - 1]) for k in range(K)]
    kept = bool(rows_y)
    return Harvest(
        reservoirs=list(members),
        fits=fits,
        yy=yy,
        count=count,
        Z=torch.stack([torch.cat(r) for r in rows_z]) if kept else None,
        Y=torch.cat(rows_y) if kept else None,
        final=[ESNState(final_x[:, k * N:(k + 1) * N], last_y) for k in range(K)],
        at_split=at_split,
        input_size=d_in,
        targets=Y,
        final_lags=[(lag_x[..., k * N:(k + 1) * N], lag_u) for k in range(K)] if L else None,
    )


def pool(
    members: Sequence[Reservoir],
    inputs: Batch,
    pooling: Pooling,
    *,
    washout: int = 0,
    chunk_size: int | None = None,
    check_finite: bool = True,
) -> torch.Tensor:
    """One pass of ``members`` over ``inputs`` (every sequence from the zero state), pooled into one
    feature vector per sequence and member (see :class:`~esnkit.readout.Pooling`): (K, B, F).

    The sequences of a ragged batch run together, padded; the pooling ignores the padding, so each
    sequence's features are those of its run alone.
    """
    K, N = len(members), members[0].size
    U = inputs
    dtype, device = U.data.dtype, U.data.device
    start = ESNState(torch.zeros(U.batch_size, K * N, dtype=dtype, device=device),
                     torch.zeros(U.batch_size, 0, dtype=dtype, device=device))
    acc = pooling.start(U.lengths, N, U.features, washout=washout, members=K, dtype=dtype, device=device)
    for sl, u, out in run(members, start, U.steps, inputs=U.data, chunk_size=chunk_size, check_finite=check_finite):
        acc.update(sl, out.states, u)
    return acc.result()
