"""Ensembles: K echo state networks of one reservoir size harvested in one pass.

The K reservoirs (which may differ in spectral radius, leak, input and bias scaling, feedback,
connectivity and seed) are stacked into one block-diagonal reservoir (:meth:`Reservoir.stack`),
so each time step is one sparse matrix-vector product and one activation for all K members::

    x = [x_1; ...; x_K]                       # (batch, K·N)
    x[t] = (1 - a) x[t-1] + a f(blockdiag(W_1..W_K) x[t-1] + [W_in,k u[t] + b_k + W_fb,k y[t-1]]_k)

Each member's readout is accumulated in its own float64 normal equations and all K are solved
together. With the native kernel and sparse reservoirs, member k's weights, states and readout
are bit-for-bit those of ``ESN(**params_k).fit(...)``: the drive is computed per member with the
same operations, and the kernel computes every row of a block exactly as it computes that row of
the member alone. (Elsewhere they agree to rounding: the PyTorch loop multiplies a small member's
W densely but the stacked one as sparse.)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from .._series import Batch, ends_in
from ..loop import unroll
from ..readout import NormalEquations, feature_size, features, solve_normal_equations
from ..reservoir import Drive, Reservoir
from .esn import ESN, ESNState, shifted

# Parameters every member must share: they fix the layout of the stacked run and of the features.
SHARED = ("reservoir_size", "activation", "washout", "readout_bias", "readout_input", "chunk_size", "dtype", "device")


@dataclass
class Harvest:
    """What one teacher-forced pass of an ensemble produced.

    ``G`` (K, F, F), ``C`` (K, F, D), ``yy`` (K, D) and ``count`` are the normal equations of the
    fitting rows (past the washout and before ``split``). ``Z`` (K, M, F) and ``Y`` (M, D) are the
    materialised rows from ``split`` on (all rows past the washout with ``keep_all``), in time
    order, sequence after sequence. ``final`` is each
    member's state at the end of every sequence, ``at_split`` after step ``split - 1`` (None
    when the split is not inside every sequence).
    """

    reservoirs: list[Reservoir]
    G: torch.Tensor
    C: torch.Tensor
    yy: torch.Tensor
    count: int
    Z: torch.Tensor | None
    Y: torch.Tensor | None
    final: list[ESNState]
    at_split: list[ESNState] | None
    input_size: int
    targets: Batch


class Ensemble:
    """K unfitted :class:`ESN` models with one reservoir size, fitted or harvested together.

    ``models`` share ``reservoir_size``, ``activation``, ``washout``, the readout flags,
    ``chunk_size``, ``dtype`` and ``device``; anything else (spectral radius, leak, scalings,
    feedback, connectivity, seed, ridge, solver) may differ.
    """

    def __init__(self, models: Sequence[ESN]) -> None:
        models = list(models)
        if not models:
            raise ValueError("an ensemble needs at least one ESN")
        for i, m in enumerate(models):
            if not isinstance(m, ESN):
                raise TypeError(f"ensemble member {i} must be an esnkit.ESN, got {type(m).__name__}")
            m._check_params()
            for name in SHARED:
                if getattr(m, name) != getattr(models[0], name):
                    raise ValueError(
                        f"ensemble members must share {name}: member {i} has {getattr(m, name)!r}, "
                        f"member 0 has {getattr(models[0], name)!r}"
                    )
            if m.solver == "lstsq":
                raise ValueError(f"ensemble member {i} uses solver='lstsq', which needs every state in memory; "
                                 "use 'auto', 'cholesky' or 'pinv'")
        self.models = models

    def __len__(self) -> int:
        return len(self.models)

    def harvest(
        self,
        inputs: Any,
        targets: Any,
        *,
        split: int | None = None,
        keep_all: bool = False,
        build_check: bool = False,
    ) -> Harvest:
        """One teacher-forced pass of every member over ``inputs``/``targets`` (as in :meth:`ESN.fit`).

        Rows at steps ``washout ≤ t < split`` go into each member's normal equations; rows at
        ``t ≥ split`` are materialised (``keep_all``: every row past the washout is materialised,
        none accumulated — for k-fold validation). ``build_check`` runs each member's
        echo-state-property check (a warning) as ``fit`` does.
        """
        lead = self.models[0]
        U, Y = lead._fit_data(inputs, targets)
        for m in self.models[1:]:
            if m.feedback_scaling > 0 or U is None:
                m._fit_data(inputs, targets)  # the same checks, in that member's terms
        d_in = U.features if U is not None else 0
        members = [m._build_reservoir(d_in, Y.features) for m in self.models]
        if build_check:
            for m, r in zip(self.models, members):
                m._check_echo_state(r, stacklevel=4)
        block = Reservoir.stack(members) if len(members) > 1 else members[0]
        N, K, B = lead.reservoir_size, len(members), Y.batch_size
        use_input = lead.readout_input and d_in > 0
        F = feature_size(N, d_in, lead.readout_bias, use_input)
        dtype, device = Y.data.dtype, Y.data.device
        normals = [NormalEquations(F, Y.features, device) for _ in members]
        yy = torch.zeros(K, Y.features, dtype=torch.float64, device=device)
        count = 0
        split = Y.steps if split is None else int(split)
        if keep_all:
            split = lead.washout
        fed_back = shifted(Y.data, torch.zeros(B, Y.features, dtype=dtype, device=device)) if any(
            r.feedback_size for r in members) else None
        mask = Y.mask(lead.washout)
        steps = torch.arange(Y.steps, device=device)
        rows_z: list[list[torch.Tensor]] = [[] for _ in members]
        rows_y = []
        x = torch.zeros(B, K * N, dtype=dtype, device=device)
        final_x = torch.zeros(B, K * N, dtype=dtype, device=device)
        chunk = lead._chunk_steps(B)
        for lo in range(0, Y.steps, chunk):
            sl = slice(lo, min(Y.steps, lo + chunk))
            u = U.data[:, sl] if U is not None else None
            drive = [r.drive(u, fed_back[:, sl] if fed_back is not None else None, batch=B, steps=sl.stop - lo)
                     for r in members]
            out = unroll(block, Drive.cat(drive) if K > 1 else drive[0], x, step_offset=lo)
            x = out.x
            fit_m = mask[:, sl] & (steps[sl] < split)[None]
            keep_m = mask[:, sl] & (steps[sl] >= split)[None]
            y_chunk = Y.data[:, sl]
            n_fit = int(fit_m.sum())
            for k in range(K):
                xs = out.states if K == 1 else out.states[..., k * N:(k + 1) * N]
                if n_fit:
                    z = features(xs[fit_m], u[fit_m] if u is not None else None, lead.readout_bias, use_input)
                    normals[k].update(z, y_chunk[fit_m])
                if bool(keep_m.any()):
                    rows_z[k].append(features(xs[keep_m], u[keep_m] if u is not None else None,
                                              lead.readout_bias, use_input))
            if n_fit:
                yf = y_chunk[fit_m].to(torch.float64)
                yy += (yf * yf).sum(dim=0)
                count += n_fit
            if bool(keep_m.any()):
                rows_y.append(y_chunk[keep_m])
            for b, t in ends_in(Y.lengths, sl):
                final_x[b] = out.states[b, t]
            if lo < split <= sl.stop:
                split_x = out.states[:, split - 1 - lo].clone()
        last_y = ESN._final(Y.data, Y.lengths)
        at_split = None
        if 0 < split <= min(Y.lengths) and not keep_all:
            at_split = [ESNState(split_x[:, k * N:(k + 1) * N], Y.data[:, split - 1]) for k in range(K)]
        final = [ESNState(final_x[:, k * N:(k + 1) * N], last_y) for k in range(K)]
        kept = bool(rows_y)
        return Harvest(
            reservoirs=members,
            G=torch.stack([n.G for n in normals]),
            C=torch.stack([n.C for n in normals]),
            yy=yy,
            count=count,
            Z=torch.stack([torch.cat(r) for r in rows_z]) if kept else None,
            Y=torch.cat(rows_y) if kept else None,
            final=final,
            at_split=at_split,
            input_size=d_in,
            targets=Y,
        )

    def fit(self, inputs: Any, targets: Any) -> list[ESN]:
        """Fit every member on the same data in one pass; returns the fitted members (also ``self.models``).

        Each member's readout uses its own ``ridge`` and ``solver``. Equivalent to calling
        ``m.fit(inputs, targets)`` on each member (bit-for-bit with the native kernel and sparse
        reservoirs; see the module notes).
        """
        h = self.harvest(inputs, targets, build_check=True)
        for k, m in enumerate(self.models):
            weight = solve_normal_equations(h.G[k], h.C[k], m.ridge, m.solver)
            m.reservoir = h.reservoirs[k]
            m._set_fitted(weight, h.input_size, h.final[k], h.targets)
        return self.models


def fitted_member(model: ESN, reservoir: Reservoir, weight: torch.Tensor, input_size: int, final: ESNState,
                  like: Batch) -> ESN:
    """A fitted copy of ``model`` from harvested parts (a reservoir and a solved readout weight)."""
    m = model.clone()
    m.reservoir = reservoir
    m._set_fitted(weight, input_size, final, like)
    return m
