"""Parallel reservoirs for spatiotemporal series (Pathak et al., PRL 120, 024102, 2018).

A field ``s[t]`` of ``Q`` grid points (periodic in space) is cut into ``g`` contiguous stretches of
``q = Q / g`` points. Group ``k`` reads its stretch plus ``l`` neighbours on each side, the window

    u_k[t] = s[t][i_k],    i_k = (k q - l, ..., (k + 1) q + l - 1) mod Q      (q + 2l points)

drives its own reservoir (N neurons) and predicts its own stretch one step ahead::

    x_k[t] = (1 - a) x_k[t-1] + a tanh(W_k x_k[t-1] + W_in,k u_k[t] + b_k)
    s[t+1][k q : (k+1) q] ≈ W_out,k [1; u_k[t]; x_k[t]]

Each window is a fixed 0/1 selection of the field, ``u_k = G_k s`` (G_k is (q + 2l) x Q), so the
g reservoirs are one block-diagonal reservoir of g·N neurons driven by the whole field through
``W_in' = [W_in,1 G_1; ...; W_in,g G_g]``, and the g readouts are one readout
``s[t+1] = W_out' [1; s[t]; x[t]]`` whose rows of stretch k hold ``W_out,k``'s columns placed at
the window's grid points and at block k's neurons. Training, forecasting and the closed loop
(each assembled field fed back as the next input) are then the plain ones of that stacked
network: one pass of the time loop advances every group.

``shared=True`` uses one reservoir and one readout for every group (the field's translation
symmetry): the g windows' rows stream into one regression.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch

from .. import _memory, params
from .._series import Batch, to_batch
from ..errors import NotFittedError
from ..params import FEATURES, is_int
from ..readout import Readout, StateInputs, TrainerFit, solve_normal_equations
from ..reservoir import Activation, Reservoir
from .deep_esn import layer_seed
from .engine import chunk_steps, harvest
from .esn import ESN, SCALE_BUFFERS
from .output_policy import target_range
from .reservoir_model import ReservoirModel
from .scaling import standardised

_D = params.DEFAULTS
# The ESN parameters a group's reservoir and readout take, by the same names and checks.
GROUP_PARAMS = ("reservoir_size", "spectral_radius", "connectivity", "in_degree", "leak_rate", "input_scaling",
                "bias_scaling", "activation", "ridge", "washout", "features", "chunk_size", "dtype", "device")
# The readouts a group may have: the state block's named maps (delays and FeatureMap objects would
# take the assembled closed loop out of the native loop).
GROUP_FEATURES = ("linear", "squared", "quadratic")


def windows(Q: int, groups: int, overlap: int) -> list[np.ndarray]:
    """Each group's window of grid points, ``(k q - l, ..., (k + 1) q + l - 1) mod Q`` (q = Q / g)."""
    q = Q // groups
    return [np.arange(k * q - overlap, (k + 1) * q + overlap) % Q for k in range(groups)]


class _WindowFit:
    """A group's accumulation fed the rows of the whole field: it keeps the window's columns of the
    features ``[1; s; x_k]`` (so ``[1; u_k; x_k]``) and the stretch's columns of the targets."""

    def __init__(self, fit: TrainerFit, columns: torch.Tensor, stretch: slice) -> None:
        self.fit, self.columns, self.stretch = fit, columns, stretch

    def update(self, Z: torch.Tensor, Y: torch.Tensor) -> None:
        self.fit.update(Z[:, self.columns], Y[:, self.stretch])

    def solve(self) -> torch.Tensor:
        return self.fit.solve()


class _Window:
    """The trainer of one group (see :class:`_WindowFit`): ``trainer``'s fit of the window's features."""

    def __init__(self, trainer: Any, columns: torch.Tensor, stretch: slice) -> None:
        self.trainer, self.columns, self.stretch = trainer, columns, stretch

    def start(self, n_features: int, n_outputs: int, device: torch.device | str) -> _WindowFit:
        width = self.stretch.stop - self.stretch.start
        return _WindowFit(self.trainer.start(len(self.columns), width, device), self.columns, self.stretch)


@dataclass
class _GroupFit:
    """What training group ``k`` produced: its reservoir, its readout weight (q, 1 + q + 2l + N)
    (independent groups) or its normal equations ``G``, ``C`` (shared), and its final states (B, N)."""

    k: int
    reservoir: Reservoir
    weight: torch.Tensor | None
    G: torch.Tensor | None
    C: torch.Tensor | None
    final: torch.Tensor


def fit_groups(model: ParallelESN, U: Batch, Y: Batch, ks: Sequence[int], chunk: int,
               check_finite: bool = True) -> list[_GroupFit]:
    """Train groups ``ks`` of ``model`` on the whole field's inputs ``U`` and targets ``Y`` (B, T, Q)
    in one teacher-forced pass of their stacked reservoirs, ``chunk`` steps at a time.

    ``fit`` calls it for every group at once, or a Dask task for some of them (two or more, so each
    pass runs a stacked reservoir in the native kernel's sparse layout), with one ``chunk`` for all:
    the kernel computes each block's rows as it computes them in any stack, and each group's normal
    equations see the same chunks, so the groups' results are the same bits however they are split.
    """
    Q = U.features
    wins = windows(Q, model.groups, model.overlap)
    q, d_w = Q // model.groups, len(wins[0])
    members, trainers = [], []
    for k in ks:
        esn = model._group_model(k)
        res = esn._build_reservoir(d_w, q)
        esn._check_echo_state(res, stacklevel=5)
        members.append(_through_field(res, wins[k], Q))
        columns = torch.as_tensor(np.concatenate([[0], 1 + wins[k], 1 + Q + np.arange(model._state_width())]),
                                  device=U.data.device)
        trainers.append(_Window(esn._trainer(), columns, slice(k * q, (k + 1) * q)))
    fmap = StateInputs(bias=True, inputs=True, squares=FEATURES[model.features])
    h = harvest(members, U, Y, trainers, features=fmap, washout=model.washout, chunk_size=chunk,
                check_finite=check_finite)
    out = []
    for i, k in enumerate(ks):
        fit = h.fits[i].fit
        res = members[i]
        if model.shared:
            out.append(_GroupFit(k, res, None, fit.G, fit.C.clone(), h.final[i].x.clone()))
        else:
            out.append(_GroupFit(k, res, fit.solve(), None, None, h.final[i].x.clone()))
    return out


def _through_field(res: Reservoir, window: np.ndarray, Q: int) -> Reservoir:
    """``res`` driven by the whole field: its input weights placed at the window's grid points
    (``W_in G``; the window's points are distinct, so this is a placement, not a sum)."""
    W_in = torch.zeros(res.size, Q, dtype=res.W_in.dtype, device=res.W_in.device)
    W_in[:, torch.as_tensor(window, device=W_in.device)] = res.W_in
    return Reservoir(res.W_crow, res.W_col, res.W_values, W_in, res.W_fb, res.bias, res.leak,
                     activation=res.activation)


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

    Fitted attributes: ``reservoir_`` (the stacked :class:`~esnkit.Reservoir` of g·N neurons driven by the
    whole field), ``readout_`` (the assembled :class:`~esnkit.Readout`, ``(Q, 1 + Q + g·N)``; with squared
    states ``(Q, 1 + Q + 2g·N)``, the states' and their squares' weights), ``group_weights_`` (the g
    readouts, each ``(Q / g, 1 + Q / g + 2l + N)``, or ``+ 2N`` with ``'quadratic'``), ``input_size_``,
    ``output_size_`` (both Q).
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
        self.readout_: Readout | None = None
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
        return self.readout_ is not None

    def _require_fitted(self, what: str) -> Readout:
        if self.readout_ is None:
            raise NotFittedError(f"this ParallelESN is not fitted yet: call fit(series) before {what}()")
        return self.readout_

    @property
    def input_size_(self) -> int:
        """Q, the grid points of the field the model was fitted on."""
        return self._require_fitted("input_size_").input_size

    @property
    def output_size_(self) -> int:
        """Q, as :attr:`input_size_` (a one-step-ahead forecaster of the field)."""
        return self._require_fitted("output_size_").output_size

    def reset(self) -> ParallelESN:
        """Forget the carried state: the next ``predict``/``generate`` starts from zeros."""
        self.state_x = None
        self.state_y = None
        return self

    def _network(self) -> ESN:
        """The fitted model as the plain ESN of the stacked reservoir and the assembled readout, whose
        predict, generate and forecast (and closed loop) are this model's."""
        esn = ESN(self.groups * self.reservoir_size, spectral_radius=self.spectral_radius, activation=self.activation,
                  washout=self.washout, features=self._network_features(), chunk_size=self.chunk_size,
                  dtype=self.dtype, device=self.device)
        esn.reservoir_, esn.readout_, esn.target_range_ = self.reservoir_, self.readout_, self.target_range_
        for name in SCALE_BUFFERS:
            setattr(esn, name, getattr(self, name))
        esn.state_x, esn.state_y = self.state_x, self.state_y
        esn._output_kind, esn._output_layout = self._output_kind, self._output_layout
        return esn

    def _network_features(self, features: str | None = None) -> str:
        # the assembled readout keeps every neuron and its square: g groups' 'squared' neurons are
        # every second neuron of each group, not of the stack, unless N is even
        return "linear" if (features or self.features) == "linear" else "quadratic"

    def _fitted(self) -> str:
        """The features the fitted readout reads (set_params may have changed ``features`` since)."""
        return vars(self).get("_fitted_features") or self.features

    def _json_params(self, p: dict[str, Any]) -> dict[str, Any]:
        # a fitted model's file describes the readout it holds
        return {**p, "features": self._fitted()} if self.readout_ is not None else p

    def _carry(self, esn: ESN) -> None:
        self.state_x, self.state_y = esn.state_x, esn.state_y

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

        ``scheduler`` None trains all groups in one pass here; ``"local"`` (a Dask LocalCluster),
        an address (``"tcp://host:8786"``) or a ``distributed.Client`` runs each group's pass and
        solve as a Dask task (needs ``pip install "esnkit[search]"``): the same bits either way.
        Afterwards the model carries the final state of each sequence. Returns ``self``.
        """
        self._require_flags(check_finite=check_finite)
        self._check_params()
        raw, U, Y, scaling = self._fit_data(series)
        Q = U.features
        q, d_w = self._check_field(Q)
        g, N = self.groups, self.reservoir_size
        F = 1 + d_w + N
        dtype, device = self._dtype_device()
        itemsize = torch.finfo(dtype).bits // 8
        _memory.require_memory(8 * g * F * (F + q) + U.batch_size * min(U.steps, 4096) * g * (N + F) * itemsize,
                               f"fitting {g} group(s) of reservoir_size={N}", "use a smaller reservoir_size", device)
        chunk = chunk_steps(self.chunk_size, U.batch_size, g * N)
        if scheduler is None:
            fits = fit_groups(self, U, Y, range(g), chunk, check_finite)
        else:
            fits = self._fit_on_dask(scheduler, U, Y, chunk, check_finite)
        if self.shared:
            G = fits[0].G
            C = fits[0].C
            for f in fits[1:]:
                G = G + f.G
                C = C + f.C
            shared_weight = solve_normal_equations(G, C, self.ridge, "auto")
            weights = [shared_weight] * g
        else:
            weights = [f.weight for f in fits]
        self._install([f.reservoir for f in fits], weights, torch.cat([f.final for f in fits], dim=1),
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
            workers = len(client.scheduler_info().get("workers", {})) or 1
            parts = np.array_split(np.arange(self.groups), max(1, min(workers, self.groups // 2)))
            futures = [client.submit(fit_groups, unfitted, data[0], data[1], [int(k) for k in ks], chunk,
                                     check_finite, pure=False) for ks in parts]
            return [f for part in client.gather(futures) for f in part]
        finally:
            close(client, cluster)

    def _install(self, reservoirs: list[Reservoir], weights: list[torch.Tensor], final_x: torch.Tensor, Y: Batch,
                 raw: Batch, scaling: dict[str, torch.Tensor] | None) -> None:
        """The stacked reservoir and the assembled readout from the groups' reservoirs (driven by the
        field) and readout weights ``(q, 1 + d_w + N)``; the carried state and the scaling."""
        dtype, device = self._dtype_device()
        Q, g, N = Y.features, self.groups, self.reservoir_size
        q, d_w = self._check_field(Q)
        wins = windows(Q, g, self.overlap)
        squares = self._network_features() == "quadratic"
        vars(self)["_fitted_features"] = self.features
        full = torch.zeros(Q, 1 + Q + g * N * (2 if squares else 1), dtype=torch.float64, device=device)
        for k, w in enumerate(weights):
            rows = slice(k * q, (k + 1) * q)
            full[rows, 0] = w[:, 0]
            full[rows, 1 + torch.as_tensor(wins[k], device=device)] = w[:, 1:1 + d_w]
            ws = w[:, 1 + d_w:]
            lin, sq = (ws[:, :N], ws[:, N:]) if self.features == "quadratic" else (ws.clone(), torch.zeros_like(ws))
            if self.features == "squared":  # every second neuron of the group is squared
                sq[:, 1::2], lin[:, 1::2] = ws[:, 1::2], 0
            full[rows, 1 + Q + k * N:1 + Q + (k + 1) * N] = lin
            if squares:
                full[rows, 1 + Q + (g + k) * N:1 + Q + (g + k + 1) * N] = sq
        self.reservoir_ = reservoirs[0] if g == 1 else Reservoir.stack(reservoirs)
        self.readout_ = Readout(full.to(dtype), input_size=Q, use_bias=True, use_input=True,
                                squares="all" if squares else None)
        self.group_weights_ = torch.stack(weights).to(dtype)
        for name in SCALE_BUFFERS:
            setattr(self, name, None if scaling is None else scaling[name].to(dtype))
        self.state_x = final_x.detach().clone(memory_format=torch.contiguous_format)
        last = torch.stack([Y.data[b, n - 1] for b, n in enumerate(Y.lengths)])
        self.state_y = last.clone()
        self.target_range_ = target_range(replace(raw, data=raw.data.to(dtype)))
        self._output_kind = raw.kind
        self._output_layout = raw.layout if raw.layout in ("1d", "2d") else "3d"

    # ------------------------------------------------------------------ running
    def predict(self, series: Any, *, update_state: bool = True, check_finite: bool = True) -> Any:
        """One-step-ahead predictions ``(..., time, Q)`` of the field driven by ``series`` (its value at
        step t predicts t + 1), from the carried state; the state moves to the end of ``series``
        unless ``update_state=False``."""
        self._require_fitted("predict")
        esn = self._network()
        y = esn.predict(series, update_state=update_state, check_finite=check_finite)
        self._carry(esn)
        return y

    def forward(self, series: Any) -> Any:
        """One-step-ahead predictions from zeros, the carried state neither used nor changed."""
        self._require_fitted("forward")
        return self._network().forward(series)

    def generate(self, n_steps: int, *, update_state: bool = True, check_finite: bool = True) -> Any:
        """Run free for ``n_steps``: every step's assembled field is the next input. ``(n_steps, Q)``
        (``(batch, n_steps, Q)`` when the state holds several sequences); continues from the carried
        state (after ``fit``: the step after the training series)."""
        self._require_fitted("generate")
        esn = self._network()
        y = esn.generate(n_steps, update_state=update_state, check_finite=check_finite)
        self._carry(esn)
        return y

    def forecast(self, histories: Any, horizon: int, *, check_finite: bool = True) -> Any:
        """Warm up on each history (``(time, Q)``, ``(n, time, Q)`` or a list), then run free for
        ``horizon`` steps: ``(horizon, Q)`` or ``(n, horizon, Q)``, as :meth:`ESN.forecast`. All
        histories run in one batched pass from zeros; the carried state is not used or changed."""
        self._require_fitted("forecast")
        return self._network().forecast(histories, horizon, check_finite=check_finite)

    # ------------------------------------------------------------------ state_dict, save and load
    def get_extra_state(self) -> dict[str, Any]:
        if self.readout_ is None:
            return {"fitted": False}
        Q = self.readout_.output_size
        return {"fitted": True, "input_size": Q, "output_size": Q, "feedback_size": 0, "readout_bias": True,
                "readout_input": True, "carries_state": self.state_x is not None,
                "features": self._network_features(self._fitted()),
                "scaled": self.target_mean_ is not None, "output_kind": self._output_kind,
                "output_layout": self._output_layout, "params": self._comparable_params()}

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):
        """Load a fitted ParallelESN's ``state_dict`` into this model of the same parameters; every
        tensor is checked as :meth:`ESN.load_state_dict` checks it, and the layout against groups."""
        extra = state_dict.get("_extra_state")
        if isinstance(extra, dict) and extra.get("fitted"):
            self._require_same_params(extra)
            Q = extra.get("input_size")
            if type(Q) is not int or Q < 1:
                raise ValueError(f"the extra state's input_size must be a positive integer, got {Q!r}")
            q, d_w = self._check_field(Q)
            esn = self._network()
            esn._build_from(state_dict, extra)  # the ESN's checks of every tensor
            gw = state_dict.get("group_weights_")
            want = (self.groups, q, 1 + d_w + self._state_width())
            vars(self)["_fitted_features"] = self.features
            if not isinstance(gw, torch.Tensor) or tuple(gw.shape) != want:
                raise ValueError(f"group_weights_ must be a tensor of shape {want}, got "
                                 f"{tuple(gw.shape) if isinstance(gw, torch.Tensor) else type(gw).__name__}")
            dtype, device = self._dtype_device()
            self.reservoir_, self.readout_ = esn.reservoir_, esn.readout_
            self.target_range_ = esn.target_range_
            for name in SCALE_BUFFERS:
                setattr(self, name, getattr(esn, name))
            self.state_x, self.state_y = esn.state_x, esn.state_y
            self.group_weights_ = torch.empty(want, dtype=dtype, device=device)
            self._output_kind, self._output_layout = esn._output_kind, esn._output_layout
        elif isinstance(extra, dict):
            self.reservoir_ = self.readout_ = self.group_weights_ = None
            self.reset()
        return super().load_state_dict(state_dict, strict=strict, assign=assign)

    def extra_repr(self) -> str:
        return (f"groups={self.groups}, overlap={self.overlap}, shared={self.shared}, "
                f"reservoir_size={self.reservoir_size}")

