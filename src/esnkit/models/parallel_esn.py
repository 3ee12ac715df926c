"""Parallel reservoirs for spatiotemporal series (Pathak et al., PRL 120, 024102, 2018).

A field ``s[t]`` of ``Q`` grid points (periodic in space) is cut into ``g`` contiguous stretches of
``q = Q / g`` points. Group ``k`` reads its stretch plus ``l`` neighbours on each side, the window

    u_k[t] = s[t][i_k],    i_k = (k q - l, ..., (k + 1) q + l - 1) mod Q      (q + 2l points)

drives its own reservoir (N neurons) and predicts its own stretch one step ahead::

    x_k[t] = (1 - a) x_k[t-1] + a tanh(W_k x_k[t-1] + W_in,k u_k[t] + b_k)
    s[t+1][k q : (k+1) q] ≈ W_out,k [1; u_k[t]; x_k[t]]

with ``φ(x_k)`` the group's state block of the named readout ('linear': ``x_k``; 'squared': every
second neuron squared; 'quadratic': ``[x_k; x_k²]``).

Training: each group is one teacher-forced harvest of its reservoir, driven by its window, with
its stretch as targets (groups are independent, so they also run as Dask tasks). Running: the g
reservoirs are one block-diagonal reservoir of g·N neurons (``reservoir_``) advanced by one pass
of the time loop, while the input and readout products stay per group: the drive of block k is
``W_in,k u_k + b_k`` (g products with (N, q + 2l) matrices) and stretch k's output ``W_out,k
[1; u_k; φ(x_k)]`` (g products with (q, F) matrices). A step then costs g·N·(q + 2l) + Q·F
multiply-adds beside the recurrent product, where one dense field-wide input matrix (g·N, Q) and
readout (Q, g·N) would cost 2·Q·g·N, g times more. In the closed loop every step's assembled field
is cut into the next windows.

``shared=True`` uses one reservoir and one readout for every group (the field's translation
symmetry): the g windows' rows add into one regression.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch

from .. import _alloc, _memory, params
from .._checks import require_finite
from .._series import Batch, ends_in, from_batch, to_batch
from ..errors import NotFittedError
from ..loop import unroll
from ..params import FEATURES, is_int
from ..readout import StateInputs, solve_normal_equations
from ..reservoir import Activation, Reservoir
from .deep_esn import layer_seed
from .engine import ESNState, chunk_steps, harvest, last_steps, run_stepwise
from .esn import ESN, SCALE_BUFFERS
from .output_policy import check_outputs, target_range
from .reservoir_model import ReservoirModel, using
from .scaling import restored, standardised
from .state_dict import RESERVOIR_KEYS, check_flags, check_range_and_scaling, check_types

_D = params.DEFAULTS
# The ESN parameters a group's reservoir and readout take, by the same names and checks.
GROUP_PARAMS = ("reservoir_size", "spectral_radius", "connectivity", "in_degree", "leak_rate", "input_scaling",
                "bias_scaling", "activation", "ridge", "washout", "features", "chunk_size", "dtype", "device")
# The readouts a group may have: the state block's named maps (a readout between the loop's steps
# reads the state and window of that step only: no delays, no FeatureMap objects).
GROUP_FEATURES = ("linear", "squared", "quadratic")
# The parameters that shape the fitted weights: running reads them as they were at fit (or load),
# so set_params afterwards changes the next fit only.
SHAPE_PARAMS = ("groups", "overlap", "shared", "reservoir_size", "features", "activation")
# The state dict's arrangement: the stacked reservoir with each group's (N, q + 2l) input weights
# and the groups' own readouts.
LAYOUT = "groups"


def windows(Q: int, groups: int, overlap: int) -> list[np.ndarray]:
    """Each group's window of grid points, ``(k q - l, ..., (k + 1) q + l - 1) mod Q`` (q = Q / g)."""
    q = Q // groups
    return [np.arange(k * q - overlap, (k + 1) * q + overlap) % Q for k in range(groups)]


# Groups per training task: a fixed partition, so that shared groups' normal equations add up in
# the same order (the same bits) whether fit runs here or as Dask tasks on any number of workers.
BLOCK = 8


def blocks(groups: int) -> list[list[int]]:
    """The groups in training tasks: consecutive runs of at most :data:`BLOCK`."""
    return [list(range(i, min(i + BLOCK, groups))) for i in range(0, groups, BLOCK)]


@dataclass
class _GroupFit:
    """What training groups ``ks`` produced: their reservoirs (each driven by its window), their readout
    weights (q, 1 + q + 2l + S) (independent groups) or the sums of their normal equations ``G``, ``C``
    in the order of ``ks`` (shared), and their final states side by side (B, len(ks) N)."""

    ks: list[int]
    reservoirs: list[Reservoir]
    weights: list[torch.Tensor] | None
    G: torch.Tensor | None
    C: torch.Tensor | None
    final: torch.Tensor


def fit_groups(model: ParallelESN, U: Batch, Y: Batch, ks: Sequence[int], chunk: int,
               check_finite: bool = True) -> _GroupFit:
    """Train groups ``ks`` of ``model`` on the whole field's inputs ``U`` and targets ``Y`` (B, T, Q):
    each group is one teacher-forced harvest of its reservoir driven by its window ``U[..., i_k]``
    with targets its stretch, ``chunk`` steps at a time.

    ``fit`` calls it for each block of :func:`blocks`, here or as a Dask task: a group's harvest
    does not depend on the others, so the results are the same bits however the work is placed.
    """
    Q = U.features
    wins = windows(Q, model.groups, model.overlap)
    q = Q // model.groups
    fmap = model._group_features(model.features)
    reservoirs, weights, finals, G, C = [], [], [], None, None
    for k in ks:
        esn = model._group_model(k)
        if model.shared and reservoirs:  # every group draws the same reservoir: build and check it once
            res = reservoirs[0]
        else:
            res = esn._build_reservoir(len(wins[k]), q)
            esn._check_echo_state(res, stacklevel=5)
        cols = torch.as_tensor(wins[k], device=U.data.device)
        Uk = replace(U, data=U.data.index_select(2, cols))
        Yk = replace(Y, data=Y.data[..., k * q:(k + 1) * q].contiguous())
        h = harvest([res], Uk, Yk, [esn._trainer()], features=fmap, washout=model.washout, chunk_size=chunk,
                    check_finite=check_finite)
        fit = h.fits[0]
        if model.shared:
            G = fit.G.clone() if G is None else G.add_(fit.G)
            C = fit.C.clone() if C is None else C.add_(fit.C)
        else:
            weights.append(fit.solve())
        reservoirs.append(res)
        finals.append(h.final[0].x)
    return _GroupFit(list(ks), reservoirs, None if model.shared else weights, G, C, torch.cat(finals, dim=1))


class ParallelESN(ReservoirModel):
    """g echo state networks on the windows of a spatiotemporal field, trained as one-step-ahead
    forecasters and run together as one network (see the module docstring for the equations).

    Parameters
    ----------
    groups : g ≥ 1, the number of reservoirs; the field's Q grid points must divide into g stretches.
    overlap : l ≥ 0, the neighbours each group reads on each side of its stretch (periodic in space);
        the window (Q / g + 2l points) may not exceed the field.
    shared : one reservoir and one readout for every group (the field is translation invariant) instead
        of g independent ones.
    features : each group's readout, as for :class:`~esnkit.ESN`: 'linear' ``[1; u_k; x_k]``, 'squared'
        (every second neuron squared, Pathak et al. 2018's readout) or 'quadratic' ``[1; u_k; x_k; x_k²]``.
    reservoir_size, spectral_radius, connectivity, in_degree, leak_rate, input_scaling, bias_scaling,
    activation, ridge, washout, chunk_size, seed, dtype, device : as for :class:`~esnkit.ESN`, per
        group (``reservoir_size`` is N per group; ``input_scaling`` a number or one per window point).
        Group k's reservoir is the one ``ESN(seed=s_k)`` draws, with ``s_0 = seed`` and later ones
        derived from it (:func:`esnkit.models.deep_esn.layer_seed`); shared groups all use ``seed``.
    scale : standardise the field with one mean and one standard deviation over every grid point
        and training step (a per-point standardisation would break the translation symmetry that
        ``shared`` relies on); outputs come back in the data's units.

    Series are ``(time, Q)``, ``(batch, time, Q)`` or a list of ``(time, Q)`` fields of different lengths.

    Fitted attributes: ``reservoir_`` (the g reservoirs as one :class:`~esnkit.Reservoir` of g·N neurons,
    block-diagonal ``W``; its ``W_in`` (g·N, q + 2l) holds each group's input weights, which read that
    group's window), ``group_weights_`` (the g readouts, each ``(Q / g, 1 + Q / g + 2l + N)``, or ``+ 2N``
    with ``'quadratic'``; with ``shared`` all equal), ``input_size_``, ``output_size_`` (both Q).
    """

    def __init__(
        self,
        groups: int = 1,
        overlap: int = 0,
        shared: bool = False,
        *,
        reservoir_size: int = _D["reservoir_size"],
        spectral_radius: float = _D["spectral_radius"],
        connectivity: float | None = _D["connectivity"],
        in_degree: int | None = _D["in_degree"],
        leak_rate: float = _D["leak_rate"],
        input_scaling: float | np.ndarray | list[float] = _D["input_scaling"],
        bias_scaling: float = _D["bias_scaling"],
        activation: Activation = _D["activation"],
        ridge: float = _D["ridge"],
        washout: int = _D["washout"],
        features: str = _D["features"],
        scale: bool = _D["scale"],
        chunk_size: int | None = _D["chunk_size"],
        seed: int | None = _D["seed"],
        dtype: torch.dtype | str | Any = _D["dtype"],
        device: torch.device | str | None = _D["device"],
    ) -> None:
        super().__init__()
        self.activation = activation
        vars(self).update(groups=groups, overlap=overlap, shared=shared, reservoir_size=reservoir_size,
                          spectral_radius=spectral_radius, connectivity=connectivity, in_degree=in_degree,
                          leak_rate=leak_rate, input_scaling=input_scaling, bias_scaling=bias_scaling, ridge=ridge,
                          washout=washout, features=features, scale=scale, chunk_size=chunk_size, seed=seed,
                          dtype=dtype, device=device)
        self._check_params()
        self.reservoir_: Reservoir | None = None
        for name in ("state_x", "state_y", "target_range_", "group_weights_", *SCALE_BUFFERS):
            self.register_buffer(name, None)
        self._output_kind = "numpy"
        self._output_layout = "2d"

    # ------------------------------------------------------------------ parameters
    def _check_params(self) -> None:
        if not is_int(self.groups) or self.groups < 1:
            raise ValueError(f"groups must be a positive integer, got {self.groups!r}")
        if not is_int(self.overlap) or self.overlap < 0:
            raise ValueError(f"overlap must be an integer >= 0 (grid points read on each side), got {self.overlap!r}")
        if not isinstance(self.shared, (bool, np.bool_)):
            raise TypeError(f"shared must be True or False, got {self.shared!r}")
        if not isinstance(self.scale, (bool, np.bool_)):
            raise TypeError(f"scale must be True or False, got {self.scale!r}")
        if not isinstance(self.features, str) or self.features not in GROUP_FEATURES:
            raise ValueError(f"features must be one of {GROUP_FEATURES} (each group's readout), got {self.features!r}")
        self._group_model(0)  # the ESN parameters, by the ESN's own checks

    def _group_model(self, k: int) -> ESN:
        """Group ``k``'s unfitted ESN: its parameters, reservoir and trainer."""
        p = {name: getattr(self, name) for name in GROUP_PARAMS}
        return ESN(**p, seed=self.seed if self.shared else layer_seed(self.seed, k))

    def _state_width(self) -> int:
        """The width of a group's state block: N, or 2N with 'quadratic'."""
        return self.reservoir_size * (2 if self.features == "quadratic" else 1)

    def _check_field(self, Q: int) -> tuple[int, int]:
        """Stretch and window widths for a field of ``Q`` points; raises when the groups cannot cut it."""
        g, l = self.groups, self.overlap
        if Q % g:
            raise ValueError(f"the field has {Q} grid points, which groups={g} does not divide: choose groups "
                             f"among the divisors of {Q}")
        q = Q // g
        if q + 2 * l > Q:
            raise ValueError(f"overlap={l} makes each window {q} + 2 x {l} = {q + 2 * l} points, more than the "
                             f"field's {Q}: overlap may be at most {(Q - q) // 2}")
        return q, q + 2 * l

    # ------------------------------------------------------------------ fitted model
    @property
    def is_fitted(self) -> bool:
        return self.group_weights_ is not None

    def _require_fitted(self, what: str) -> torch.Tensor:
        if self.group_weights_ is None:
            raise NotFittedError(f"this ParallelESN is not fitted yet: call fit(series) before {using(what)}")
        return self.group_weights_

    @property
    def input_size_(self) -> int:
        """Q, the grid points of the field the model was fitted on."""
        w = self._require_fitted("input_size_")
        return w.shape[0] * w.shape[1]

    @property
    def output_size_(self) -> int:
        """Q, as :attr:`input_size_` (a one-step-ahead forecaster of the field)."""
        return self.input_size_

    def reset(self) -> ParallelESN:
        """Forget the carried state: the next ``predict``/``generate`` starts from zeros."""
        self.state_x = None
        self.state_y = None
        return self

    def _group_features(self, features: str | None = None) -> StateInputs:
        """A group's readout features ``[1; u_k; φ(x_k)]`` (of the fitted model, else of ``features``)."""
        return StateInputs(bias=True, inputs=True, squares=FEATURES[features or self._fitted("features")])

    def _fitted(self, name: str) -> Any:
        """Parameter ``name`` (one of :data:`SHAPE_PARAMS`) as the fitted weights have it: set_params
        may have changed it since."""
        return vars(self).get("_fitted_shape", {}).get(name, getattr(self, name))

    def _snapshot(self) -> None:
        vars(self)["_fitted_shape"] = {name: getattr(self, name) for name in SHAPE_PARAMS}

    def _json_params(self, p: dict[str, Any]) -> dict[str, Any]:
        # a fitted model's file describes the weights it holds
        if self.group_weights_ is None:
            return p
        return {**p, **{name: self._fitted(name) for name in SHAPE_PARAMS}}

    def _fitted_tensor(self) -> torch.Tensor | None:
        return self.group_weights_

    # ------------------------------------------------------------------ fit
    def _fit_data(self, series: Any) -> tuple[Batch, Batch, Batch, dict[str, torch.Tensor] | None]:
        """Raw field, inputs ``s[t]`` and targets ``s[t+1]`` (standardised with ``scale``), and the scaling."""
        dtype, device = self._dtype_device()
        S = to_batch(series, "series", dtype=torch.float64 if self.scale else dtype, device=device)
        self._check_field(S.features)
        short = [i for i, n in enumerate(S.lengths) if n - 1 <= self.washout]
        if short:
            i = short[0]
            which = f"sequence {i} of series" if S.batch_size > 1 else "series"
            raise ValueError(f"{which} has {S.lengths[i]} time steps, so {S.lengths[i] - 1} one-step-ahead pairs, "
                             f"not more than washout={self.washout}: use a longer series or a smaller washout")
        raw = S
        scaling = None
        if self.scale:
            values = S.data[S.mask()].to(torch.float64)
            mean, sd = values.mean(), values.std(unbiased=False)
            sd = sd if sd > 1e-12 * (1 + mean.abs()) else torch.ones_like(sd)
            stat = {"mean": torch.full((S.features,), float(mean), dtype=torch.float64, device=device),
                    "sd": torch.full((S.features,), float(sd), dtype=torch.float64, device=device)}
            S = standardised(S, stat["mean"], stat["sd"], dtype=dtype)
            scaling = {"input_mean_": stat["mean"], "input_scale_": stat["sd"], "target_mean_": stat["mean"],
                       "target_scale_": stat["sd"]}
        lengths = tuple(n - 1 for n in S.lengths)
        U = replace(S, data=S.data[:, :-1], lengths=lengths)
        Y = replace(S, data=S.data[:, 1:], lengths=lengths)
        return raw, U, Y, scaling

    def fit(self, series: Any, *, scheduler: Any = None, check_finite: bool = True) -> ParallelESN:
        """Train every group one step ahead on ``series`` (``(time, Q)``, ``(batch, time, Q)`` or a list
        of fields): inputs ``s[t]``, targets ``s[t+1]``, the first ``washout`` pairs of each sequence left out.

        ``scheduler`` None trains the groups here, one after another; ``"local"`` (a Dask LocalCluster),
        an address (``"tcp://host:8786"``) or a ``distributed.Client`` trains blocks of them as Dask
        tasks (needs ``pip install "esnkit[search]"``): the same bits either way.
        Afterwards the model carries the final state of each sequence. Returns ``self``.
        """
        self._require_flags(check_finite=check_finite)
        self._check_params()
        # one concrete seed for every block of groups, here or on Dask: without it each block would
        # draw its own reservoir from fresh entropy, and shared groups would not share one
        work = self if self.seed is not None else self.clone().set_params(
            seed=int(np.random.SeedSequence().generate_state(1)[0]))
        raw, U, Y, scaling = self._fit_data(series)
        Q = U.features
        q, d_w = self._check_field(Q)
        g, N = self.groups, self.reservoir_size
        F = self._group_features(self.features).size(N, d_w)
        dtype, device = self._dtype_device()
        itemsize = torch.finfo(dtype).bits // 8
        chunk = chunk_steps(self.chunk_size, U.batch_size, N)
        # a task's normal equations (and the shared sum), its chunk of features, a window's inputs
        _memory.require_memory(8 * F * (F + q) * (2 if self.shared else 1)
                               + U.batch_size * (chunk * (N + F) + U.steps * d_w) * itemsize,
                               f"fitting {g} group(s) of reservoir_size={N}", "use a smaller reservoir_size", device)
        if scheduler is None:
            parts = [fit_groups(work, U, Y, ks, chunk, check_finite) for ks in blocks(g)]
        else:
            parts = work._fit_on_dask(scheduler, U, Y, chunk, check_finite)
        if self.shared:
            G, C = parts[0].G, parts[0].C
            for p in parts[1:]:
                G, C = G.add_(p.G), C.add_(p.C)
            weights = [solve_normal_equations(G, C, self.ridge, "auto")] * g
        else:
            weights = [w for p in parts for w in p.weights]
        self._install([r for p in parts for r in p.reservoirs], weights, torch.cat([p.final for p in parts], dim=1),
                      Y, raw, scaling)
        return self

    def _fit_on_dask(self, scheduler: Any, U: Batch, Y: Batch, chunk: int, check_finite: bool) -> list[_GroupFit]:
        from .._dask import close, connect

        if not (isinstance(scheduler, str) or hasattr(scheduler, "submit")):
            raise TypeError(f"scheduler must be None, 'local', a scheduler address ('tcp://host:8786') or a "
                            f"distributed.Client, got {type(scheduler).__name__}")
        client, cluster = connect(scheduler)
        try:
            unfitted = self.clone()
            data = client.scatter([U, Y], broadcast=True)
            futures = [client.submit(fit_groups, unfitted, data[0], data[1], ks, chunk, check_finite, pure=False)
                       for ks in blocks(self.groups)]
            return client.gather(futures)
        finally:
            close(client, cluster)

    def _install(self, reservoirs: list[Reservoir], weights: list[torch.Tensor], final_x: torch.Tensor, Y: Batch,
                 raw: Batch, scaling: dict[str, torch.Tensor] | None) -> None:
        """The stacked reservoir from the groups' reservoirs, the groups' readout weights
        ``(q, 1 + d_w + S)``, the carried state and the scaling."""
        dtype, _ = self._dtype_device()
        self._snapshot()
        self.reservoir_ = reservoirs[0] if self.groups == 1 else Reservoir.stack(reservoirs)
        self.group_weights_ = torch.stack(weights).to(dtype)
        for name in SCALE_BUFFERS:
            setattr(self, name, None if scaling is None else scaling[name].to(dtype))
        self.state_x = final_x.detach().clone(memory_format=torch.contiguous_format)
        self.state_y = torch.stack([Y.data[b, n - 1] for b, n in enumerate(Y.lengths)]).clone()
        self.target_range_ = target_range(replace(raw, data=raw.data.to(dtype)))
        self._output_kind = raw.kind
        self._output_layout = raw.layout if raw.layout in ("1d", "2d") else "3d"

    # ------------------------------------------------------------------ the groups' products
    def _index(self) -> torch.Tensor:
        """The windows' grid points, (g, q + 2l)."""
        Q = self.input_size_
        wins = windows(Q, self._fitted("groups"), self._fitted("overlap"))
        return torch.as_tensor(np.stack(wins), device=self.group_weights_.device)

    def _drive(self, u: torch.Tensor) -> torch.Tensor:
        """``W_in,k u_k + b_k`` of every group, (B, T, g N), from the windows ``u`` (B, T, g, d_w): g
        products of the groups' own (N, d_w) input weights, not one (g N, Q) matrix of mostly zeros."""
        B, T, g, d_w = u.shape
        res = self.reservoir_
        W_in = res.W_in.view(g, self._fitted("reservoir_size"), d_w)
        d = torch.bmm(u.reshape(B * T, g, d_w).transpose(0, 1), W_in.transpose(1, 2))  # (g, B T, N)
        return d.transpose(0, 1).reshape(B, T, -1).add_(res.bias)

    def _read(self, x: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        """The field ``W_out,k [1; u_k; φ(x_k)]`` of every group, (M, Q), from the states ``x``
        (M, g N) and windows ``u`` (M, g, d_w)."""
        M, g, _ = u.shape
        z = self._group_features()(x.reshape(M, g, self._fitted("reservoir_size")), u)  # (M, g, F)
        W = self.group_weights_
        if self._fitted("shared"):  # one readout: a single product over every group's rows
            return (z.reshape(M * g, -1) @ W[0].T).reshape(M, -1)
        return torch.bmm(z.transpose(0, 1), W.transpose(1, 2)).transpose(0, 1).reshape(M, -1)

    def _run_driven(self, S: Batch, x0: torch.Tensor, check_finite: bool,
                    outputs: bool = True) -> tuple[torch.Tensor | None, torch.Tensor]:
        """Drive the groups with the fields ``S`` (B, T, Q) from ``x0`` (B, g N): the outputs (B, T, Q)
        (when ``outputs``) and each sequence's state after its last step (``x0`` where it has none)."""
        idx = self._index()
        B, T, Q = S.data.shape
        y = _alloc.empty((B, T, Q), x0.dtype, x0.device) if outputs else None
        x, final = x0, x0.clone()
        keep = outputs or S.ragged  # a warm-up of equal lengths needs the last state only
        chunk = chunk_steps(self.chunk_size, B, self.reservoir_.size)
        for t0 in range(0, T, chunk):
            sl = slice(t0, min(T, t0 + chunk))
            u = S.data[:, sl][..., idx]  # (B, n, g, d_w)
            out = unroll(self.reservoir_, self._drive(u), x, keep_states=keep, step_offset=t0,
                         check_finite=check_finite)
            if y is not None:
                n = sl.stop - sl.start
                y[:, sl] = self._read(out.states.reshape(B * n, -1), u.reshape(B * n, *u.shape[2:])).view(B, n, Q)
            if keep:
                for b, t in ends_in(S.lengths, sl):
                    final[b] = out.states[b, t]
            x = out.x
        return y, final if keep or T == 0 else x

    def _free_run(self, n_steps: int, x0: torch.Tensor, s0: torch.Tensor,
                  check_finite: bool) -> tuple[torch.Tensor, torch.Tensor]:
        """The closed loop from states ``x0`` (B, g N) and field ``s0`` (B, Q), the last input: every
        step cuts the last field into the windows, advances every group in one step of the time
        loop and assembles the next field. Returns the fields (B, n_steps, Q) and the last state."""
        idx = self._index()
        y = _alloc.empty((s0.shape[0], n_steps, s0.shape[1]), x0.dtype, x0.device)
        x_last = x0
        for t, x, s in run_stepwise(self.reservoir_, lambda x, s: self._read(x, s[:, idx]), ESNState(x0, s0),
                                    n_steps, next_input=lambda s: s, drive=lambda s: self._drive(s[:, idx][:, None]),
                                    check_finite=check_finite):
            y[:, t], x_last = s, x
        return y, x_last

    # ------------------------------------------------------------------ running
    def _field(self, series: Any, name: str) -> Batch:
        """``series`` as a batch of fields in the model's units (standardised when it scales)."""
        dtype, device = self._run_dtype_device()
        scaled = self.input_mean_ is not None
        S = to_batch(series, name, dtype=torch.float64 if scaled else dtype, device=device,
                     features=self.input_size_, features_what="the model was fitted on")
        return standardised(S, self.input_mean_, self.input_scale_, dtype=dtype) if scaled else S

    def _outputs(self, y: torch.Tensor) -> torch.Tensor:
        return y if self.target_mean_ is None else restored(y, self.target_mean_, self.target_scale_)

    def _zeros(self, batch: int) -> torch.Tensor:
        dtype, device = self._run_dtype_device()
        return torch.zeros(batch, self.reservoir_.size, dtype=dtype, device=device)

    def _carried(self, batch: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The carried state and last field for ``batch`` sequences (zeros and None when none is carried)."""
        if self.state_x is None:
            return self._zeros(batch), None
        if self.state_x.shape[0] == batch:
            return self.state_x, self.state_y
        if self.state_x.shape[0] == 1:
            return self.state_x.expand(batch, -1), self.state_y.expand(batch, -1)
        raise ValueError(f"the model carries the states of {self.state_x.shape[0]} sequences (from its last fit or "
                         f"update) but {batch} were given; call reset() to start from zeros")

    def _require_output_memory(self, name: str, steps: int, batch: int) -> None:
        dtype, device = self._run_dtype_device()
        _memory.require_memory(2 * batch * steps * self.input_size_ * (torch.finfo(dtype).bits // 8),
                               f"{name}={steps} for {batch} sequence(s) of {self.input_size_} grid points",
                               f"use a smaller {name}", device)

    def predict(self, series: Any, *, update_state: bool = True, check_finite: bool = True) -> Any:
        """One-step-ahead predictions ``(..., time, Q)`` of the field driven by ``series`` (its value at
        step t predicts t + 1), from the carried state; the state moves to the end of ``series``
        unless ``update_state=False``."""
        self._require_flags(update_state=update_state, check_finite=check_finite)
        self._require_fitted("predict")
        S = self._field(series, "series")
        y, final = self._run_driven(S, self._carried(S.batch_size)[0], check_finite)
        if check_finite:
            check_outputs(self._outputs(y), "predict", S.mask(), free=False)
        if update_state:
            self.state_x, self.state_y = final, torch.stack([y[b, n - 1] for b, n in enumerate(S.lengths)])
        return from_batch(self._outputs(y), S)

    def forward(self, series: Any, check_finite: bool = True) -> Any:
        """One-step-ahead predictions from zeros, the carried state neither used nor changed."""
        self._require_flags(check_finite=check_finite)
        self._require_fitted("forward")
        S = self._field(series, "series")
        y, _ = self._run_driven(S, self._zeros(S.batch_size), check_finite)
        if check_finite:
            check_outputs(self._outputs(y), "forward", S.mask(), free=False)
        return from_batch(self._outputs(y), S)

    def generate(self, n_steps: int, *, update_state: bool = True, check_finite: bool = True) -> Any:
        """Run free for ``n_steps``: every step's assembled field is the next input. ``(n_steps, Q)``
        (``(batch, n_steps, Q)`` when the state holds several sequences); continues from the carried
        state (after ``fit``: the step after the training series)."""
        self._require_flags(update_state=update_state, check_finite=check_finite)
        self._require_fitted("generate")
        self._require_steps("n_steps", n_steps)
        if self.state_x is None:
            raise ValueError("this model carries no state (reset() or a file saved without one): warm it up with "
                             "predict(series) first, or use forecast(histories, horizon)")
        self._require_output_memory("n_steps", n_steps, self.state_x.shape[0])
        y, x = self._free_run(n_steps, self.state_x, self.state_y, check_finite)
        if check_finite:
            check_outputs(self._outputs(y), "generate", target_range=self.target_range_)
        if update_state:
            self.state_x, self.state_y = x, y[:, -1]
        layout = self._output_layout if y.shape[0] == 1 else "3d"
        return from_batch(self._outputs(y), Batch(y, (n_steps,) * y.shape[0], layout, self._output_kind))

    def forecast(self, histories: Any, horizon: int, *, check_finite: bool = True) -> Any:
        """Warm up on each history (``(time, Q)``, ``(n, time, Q)`` or a list of different lengths), then
        run free for ``horizon`` steps: ``(horizon, Q)`` or ``(n, horizon, Q)``, whose first step is the
        value right after each history's last one. Every history is driven from zeros by all but its
        last value, which is the closed loop's first input; all run in one batched pass, and the
        carried state is not used or changed."""
        self._require_flags(check_finite=check_finite)
        self._require_fitted("forecast")
        self._require_steps("horizon", horizon)
        H = self._field(histories, "histories")
        self._require_output_memory("horizon", horizon, H.batch_size)
        warm = [n - 1 for n in H.lengths]
        if min(warm) < self.washout:
            warnings.warn(f"forecast: a history warms the reservoir up for {min(warm)} step(s), fewer than its "
                          f"washout={self.washout}: its forecast starts from a state that still remembers the zero "
                          "start; give longer histories", UserWarning, stacklevel=2)
        W = replace(H, data=H.data[:, :max(warm)], lengths=tuple(warm))
        _, x = self._run_driven(W, self._zeros(H.batch_size), check_finite, outputs=False)
        y, _ = self._free_run(horizon, x, last_steps(H.data, H.lengths), check_finite)
        if check_finite:
            check_outputs(self._outputs(y), "forecast", target_range=self.target_range_)
        layout = H.layout if H.layout in ("1d", "2d") else "3d"
        return from_batch(self._outputs(y), Batch(y, (horizon,) * y.shape[0], layout, H.kind))

    # ------------------------------------------------------------------ state_dict, save and load
    def get_extra_state(self) -> dict[str, Any]:
        if self.group_weights_ is None:
            return {"fitted": False}
        return {"fitted": True, "layout": LAYOUT, "field_size": self.input_size_,
                "carries_state": self.state_x is not None, "features": self._fitted("features"),
                "scaled": self.target_mean_ is not None, "output_kind": self._output_kind,
                "output_layout": self._output_layout, "params": self._comparable_params()}

    def _check_state_dict(self, tensors: dict[str, Any], extra: dict[str, Any]) -> dict[str, torch.Tensor]:
        """The tensors of a fitted ParallelESN's state dict, by name, checked against ``extra`` and
        this model's parameters as :func:`~esnkit.models.state_dict.check_state_dict` checks an ESN's."""
        if extra.get("layout") != LAYOUT:
            raise ValueError(f"the extra state's layout must be {LAYOUT!r} (the groups' own input and readout "
                             f"weights), got {extra.get('layout')!r}: a file of an earlier layout must be refitted")
        Q = extra.get("field_size")
        if type(Q) is not int or Q < 1:
            raise ValueError(f"the extra state's field_size must be a positive integer, got {Q!r}")
        check_flags(extra, ("carries_state",))
        if extra.get("features") != self.features:
            raise ValueError(f"the extra state's features must be the model's {self.features!r}, got "
                             f"{extra.get('features')!r}")
        q, d_w = self._check_field(Q)
        g, N = self.groups, self.reservoir_size
        n = g * N
        F = StateInputs(bias=True, inputs=True, squares=FEATURES[self.features]).size(N, d_w)
        expect = {"reservoir_.W_crow": (n + 1,), "reservoir_.W_in": (n, d_w), "reservoir_.W_fb": (n, 0),
                  "reservoir_.bias": (n,), "reservoir_.leak": (n,), "group_weights_": (g, q, F)}
        names = [f"reservoir_.{k}" for k in RESERVOIR_KEYS] + ["group_weights_"]
        if extra["carries_state"]:
            b = tensors["state_x"].shape[0] if isinstance(tensors.get("state_x"), torch.Tensor) else 1
            expect.update({"state_x": (max(b, 1), n), "state_y": (max(b, 1), Q)})
            names += ["state_x", "state_y"]
        elif "state_x" in tensors or "state_y" in tensors:
            raise ValueError("the state dict holds state_x or state_y but its extra state's carries_state is false")
        missing = [k for k in names if k not in tensors]
        if missing:
            raise ValueError(f"the state dict is missing {missing}")
        named = {k: tensors[k] for k in names}
        check_types(named)
        for k, shape in expect.items():
            if tuple(named[k].shape) != shape:
                raise ValueError(f"{k} has shape {tuple(named[k].shape)}, expected {shape} for groups={g}, "
                                 f"reservoir_size={N} and a field of {Q} grid points")
        for k in names[len(RESERVOIR_KEYS):]:
            require_finite(named[k], k, "a model's weights and state must be finite")
        crow, col = named["reservoir_.W_crow"], named["reservoir_.W_col"]
        if col.numel() == int(crow[-1]) and bool((col >= 0).all()) and bool((col < n).all()):
            rows = torch.repeat_interleave(torch.arange(n), (crow[1:] - crow[:-1]).clamp_min(0))
            if len(rows) == col.numel() and bool((rows // N != col // N).any()):
                raise ValueError("reservoir_.W_col links neurons of different groups: the stacked reservoir of "
                                 f"{g} groups must be block-diagonal (blocks of reservoir_size={N})")
        named.update(check_range_and_scaling(tensors, extra, Q, Q))
        return named

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):
        """Load a fitted ParallelESN's ``state_dict`` into this model of the same parameters; every
        tensor is checked first (shapes against groups, overlap and reservoir_size, dtypes,
        finiteness; the reservoir's CSR structure by :class:`~esnkit.Reservoir`)."""
        extra = state_dict.get("_extra_state")
        if isinstance(extra, dict) and extra.get("fitted"):
            self._require_same_params(extra)
            named = self._check_state_dict(state_dict, extra)
            dtype, device = self._dtype_device()
            r = [named[f"reservoir_.{k}"] for k in RESERVOIR_KEYS]
            self.reservoir_ = Reservoir(*(t.to(device=device, dtype=dtype if t.is_floating_point() else None,
                                                copy=True) for t in r), activation=self.activation)
            self._snapshot()

            def empty(name: str) -> torch.Tensor | None:
                t = named.get(name)
                return None if t is None else torch.empty(t.shape, dtype=dtype, device=device)

            self.group_weights_ = empty("group_weights_")
            self.target_range_ = empty("target_range_")
            for name in SCALE_BUFFERS:
                setattr(self, name, empty(name))
            self.state_x, self.state_y = empty("state_x"), empty("state_y")
            self._output_kind = extra.get("output_kind", "numpy")
            self._output_layout = extra.get("output_layout", "2d")
        elif isinstance(extra, dict):
            self.reservoir_ = self.group_weights_ = self.target_range_ = None
            for name in SCALE_BUFFERS:
                setattr(self, name, None)
            vars(self).pop("_fitted_shape", None)
            self.reset()
        return super().load_state_dict(state_dict, strict=strict, assign=assign)

    def extra_repr(self) -> str:
        return (f"groups={self.groups}, overlap={self.overlap}, shared={self.shared}, "
                f"reservoir_size={self.reservoir_size}")
