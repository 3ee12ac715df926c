"""Sequence -> vector features: each sequence's states (and inputs) pooled over its time steps.

A sequence classifier's readout sees one feature vector per sequence. :class:`Pooling` describes
how it is made from the states ``x[t]`` (N per reservoir) and inputs ``u[t]`` (D_in) of a sequence
of ``L`` steps, of which the first ``washout`` are left out of the averages::

    f = [ mean_t u ; std_t u ; pool_1(x) ; pool_2(x) ; ... ]      (t = washout .. L-1)

with pools ``"mean"`` (average state), ``"max"`` (largest value of each neuron), ``"last"`` (the
final state ``x[L-1]``), ``"first"`` (``x[washout]``) and ``"last<k>"`` (the last k states
``x[L-k] .. x[L-1]`` concatenated, oldest first; steps before the sequence began count as the zero
initial state; like ``"last"`` they ignore the washout), ``"at<k>"`` (the states at k evenly
spaced points from ``x[washout]`` to ``x[L-1]``, so sequences of any length give the same number of
snapshots, at the same relative times) and ``"seg<k>"`` (the states at the ends of k equal segments
of the steps after the washout: at fractions 1/k, 2/k, ..., 1 of the way from ``x[washout]`` to
``x[L-1]``, the nearest step to each; Jaeger et al. 2007's "support points", which leave out the
start, where the state has seen little of the sequence). Every position is rounded to the nearest step
(a tie to the even one).

The input summary (``inputs``) comes first: its statistics ``"mean"`` and ``"std"`` (in that order),
then any position pools of the inputs themselves (``"last"``, ``"first"``, ``"last<k>"``,
``"at<k>"``, ``"seg<k>"``: the inputs ``u`` at those steps, as for the states; steps before a
sequence began count as zero inputs, in the units the reservoir sees, so the training mean where
the model standardises its inputs). So
``Pooling(("mean",), inputs=("mean",))`` is the average of the per-step features ``[u; x]`` of
:class:`~esnkit.readout.StateInputs`, and ``Pooling("seg3", inputs=("seg3",))`` is Jaeger et al.'s
sequence representation: ``[u; x]`` at three support points.

The pool ``"model"`` is the reservoir model space of Bianchi et al. (2020): the sequence's own
linear model of its dynamics, a ridge regression of the next input on the state,
``u[t+1] ≈ θᵀ [1; x[t]]`` over ``t = washout .. L-2``, solved per sequence (and per reservoir of
an ensemble) with ``λ = MODEL_RIDGE`` times the mean diagonal of its ``Σ x xᵀ`` (the intercept
not regularised); its features are the coefficients ``θ``, ``(N + 1) · D_in`` of them. It keeps
an ``(N + 1)²`` accumulator per sequence: for small reservoirs (N of tens to a few hundred).

Pooling streams: :meth:`Pooling.start` returns an accumulator fed chunk after chunk of the time
loop's states, so memory grows with the chunk and the batch, not with the sequences' lengths.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import torch

POOLS = ("mean", "max", "last", "first", "model")  # and "last<k>", "at<k>", "seg<k>", k >= 2
MODEL_RIDGE = 1.0  # the reservoir model space's ridge, relative to the mean squared state: short sequences need it
INPUT_SUMMARIES = ("mean", "std")  # and the position pools: "last", "first", "last<k>", "at<k>", "seg<k>"
_LAST_K = re.compile(r"(?:last|at|seg)([1-9][0-9]*)", re.ASCII)  # k as written plainly: seg3, not seg03
_POOL_NAMES = ", ".join(POOLS) + ", 'last<k>', 'at<k>' or 'seg<k>' (k >= 2)"


def _is_position(pool: str) -> bool:
    """Whether ``pool`` keeps the values at chosen steps (rather than a statistic over all of them)."""
    m = _LAST_K.fullmatch(pool)
    return pool in ("last", "first") or bool(m and int(m.group(1)) >= 2)


def _names(value: str | Sequence[str], name: str, example: str) -> tuple[str, ...]:
    """A name, names joined by ``+`` or a sequence of names, as a tuple."""
    if isinstance(value, str):
        return tuple(p.strip() for p in value.split("+"))
    if isinstance(value, (list, tuple)) and all(isinstance(p, str) for p in value):
        return tuple(value)
    raise TypeError(f"{name} must be a string such as {example!r} or a sequence of names, got {value!r}")


def parse_pools(pools: str | Sequence[str]) -> tuple[str, ...]:
    """``pools`` as a tuple of pool names: a name, names joined by ``+`` (``"mean+last"``) or a sequence."""
    names = _names(pools, "pooling", "mean+last")
    if not names:
        raise ValueError(f"pooling names no pool: give at least one of {_POOL_NAMES}")
    for p in names:
        if p not in POOLS and not _is_position(p):
            raise ValueError(f"unknown pool {p!r} in pooling: use {_POOL_NAMES}, joined by '+'")
    if len(set(names)) != len(names):
        raise ValueError(f"pooling names a pool twice: {'+'.join(names)}")
    return names


def parse_input_summary(inputs: str | Sequence[str] | None, name: str = "inputs") -> tuple[str, ...]:
    """``inputs`` as the tuple :class:`Pooling` keeps: the statistics ``"mean"``, ``"std"`` first (in
    that order), then the input position pools in the order given. ``None``, ``"none"`` and ``()``
    give no input features. Errors name the argument as ``name``."""
    if inputs is None or inputs == "none":
        return ()
    names = _names(inputs, name, "mean+std")
    bad = [p for p in names if p not in INPUT_SUMMARIES and not _is_position(p)]
    if bad or len(set(names)) != len(names) or (isinstance(inputs, str) and not all(names)):
        what = f"unknown name {bad[0]!r}" if bad else "a name twice or an empty name"
        raise ValueError(f"{name} {inputs!r} has {what}: use 'mean', 'std', 'last', 'first', 'last<k>', "
                         "'at<k>' or 'seg<k>' (k >= 2) joined by '+', or None ('none')")
    return tuple(i for i in INPUT_SUMMARIES if i in names) + tuple(p for p in names if _is_position(p))


def _width(pool: str) -> int:
    m = _LAST_K.fullmatch(pool)
    return int(m.group(1)) if m else 1


def _size(pool: str, width: int, input_size: int) -> int:
    """Features of ``pool`` over vectors of ``width`` (the states, or the inputs)."""
    return (width + 1) * input_size if pool == "model" else _width(pool) * width


class Pooling:
    """States and inputs of whole sequences -> one feature vector per sequence (see the module
    docstring for the features and their order)."""

    def __init__(self, pools: str | Sequence[str] = ("mean", "last"),
                 inputs: str | Sequence[str] | None = ("mean", "std")) -> None:
        self.pools = parse_pools(pools)
        self.inputs = parse_input_summary(inputs)

    def size(self, state_size: int, input_size: int) -> int:
        """The number of features per sequence for ``state_size`` states and ``input_size`` inputs."""
        return (sum(_size(p, input_size, input_size) for p in self.inputs)
                + sum(_size(p, state_size, input_size) for p in self.pools))

    def memory(self, batch: int, state_size: int, input_size: int, members: int = 1) -> int:
        """Bytes the accumulators of a pass hold, beyond the features: the model space's per-sequence
        normal equations (float64)."""
        if "model" not in self.pools:
            return 0
        return 8 * batch * members * (state_size + 1) * (state_size + 1 + input_size)

    def start(self, lengths: Sequence[int], state_size: int, input_size: int, *, washout: int = 0,
              members: int = 1, dtype: torch.dtype = torch.float64,
              device: torch.device | str = "cpu") -> PoolingRun:
        """An accumulator for sequences of ``lengths`` steps run through ``members`` reservoirs of
        ``state_size`` neurons each, stacked side by side (states ``(batch, steps, members·N)``)."""
        return PoolingRun(self, lengths, state_size, input_size, washout, members, dtype, device)

    def __repr__(self) -> str:
        return f"Pooling({'+'.join(self.pools)!r}, inputs={self.inputs})"


class PoolingRun:
    """One pass's accumulation: :meth:`update` with each chunk, then :meth:`result`."""

    def __init__(self, pooling: Pooling, lengths: Sequence[int], N: int, d_in: int, washout: int, members: int,
                 dtype: torch.dtype, device: torch.device | str) -> None:
        self.pooling, self.N, self.d_in, self.K, self.washout = pooling, N, d_in, members, washout
        B, KN = len(lengths), members * N
        self.lengths = torch.as_tensor(list(lengths), dtype=torch.int64, device=device)
        self.count = (self.lengths - washout).clamp(min=1).to(dtype)[:, None]
        self.dtype = dtype
        self._acc: dict[str, torch.Tensor] = {}
        self._model = None
        for p in pooling.pools:
            if p == "model":  # per sequence and member: Σ z zᵀ and Σ z u[t+1]ᵀ, z = [1; x[t]]
                self._model = (torch.zeros(B, members, N + 1, N + 1, dtype=torch.float64, device=device),
                               torch.zeros(B, members, N + 1, d_in, dtype=torch.float64, device=device))
                self._last_x = torch.zeros(B, KN, dtype=dtype, device=device)
            elif p == "mean":
                self._acc[p] = torch.zeros(B, KN, dtype=dtype, device=device)
            elif p == "max":
                self._acc[p] = torch.full((B, KN), -torch.inf, dtype=dtype, device=device)
            else:
                self._acc[p] = torch.zeros(B, _width(p), KN, dtype=dtype, device=device)
        self._u_acc = {p: torch.zeros(B, _width(p), d_in, dtype=dtype, device=device)
                       for p in pooling.inputs if _is_position(p)}
        self._u_stats = any(p in INPUT_SUMMARIES for p in pooling.inputs)
        if self._u_stats:  # running count, mean and sum of squared deviations per sequence (float64)
            self._u_n = torch.zeros(B, 1, dtype=torch.float64, device=device)
            self._u_mean = torch.zeros(B, d_in, dtype=torch.float64, device=device)
            self._u_m2 = torch.zeros(B, d_in, dtype=torch.float64, device=device)

    def _wanted(self, pool: str) -> torch.Tensor:
        """(B, k) steps a position pool keeps: the last k, the first past the washout, or the k chosen
        relative positions after it."""
        if pool == "first":
            return torch.full_like(self.lengths[:, None], self.washout)
        k = _width(pool)
        if pool.startswith(("at", "seg")):
            span = (self.lengths - 1 - self.washout).to(torch.float64)[:, None]
            j = torch.arange(k, dtype=torch.float64, device=self.lengths.device)
            frac = j / (k - 1) if pool.startswith("at") else (j + 1) / k
            return self.washout + torch.round(span * frac).to(torch.int64)
        return self.lengths[:, None] - k + torch.arange(k, device=self.lengths.device)

    def _take(self, pool: str, acc: torch.Tensor, start: int, v: torch.Tensor) -> None:
        """Copy into ``acc`` (B, k, ·) the rows of ``v`` (B, n, ·), steps ``start..start+n-1``, that
        position pool ``pool`` keeps."""
        steps = self._wanted(pool)  # (B, k)
        inside = (steps >= start) & (steps < start + v.shape[1])
        if bool(inside.any()):
            b, j = inside.nonzero(as_tuple=True)
            acc[b, j] = v[b, steps[b, j] - start].to(acc.dtype)

    def update(self, chunk: slice, x: torch.Tensor, u: torch.Tensor | None) -> None:
        """Add the states ``x`` (B, n, K·N) and inputs ``u`` (B, n, D_in) of steps ``chunk`` (n steps)."""
        n = x.shape[1]
        t = torch.arange(chunk.start, chunk.start + n, device=x.device)
        kept = (t[None, :] >= self.washout) & (t[None, :] < self.lengths[:, None])  # (B, n)
        for p, acc in self._acc.items():
            if p == "mean":
                acc += (x * kept[..., None]).sum(dim=1)
            elif p == "max":
                if bool(kept.any()):
                    acc.copy_(torch.maximum(acc, x.masked_fill(~kept[..., None], -torch.inf).amax(dim=1)))
            else:
                self._take(p, acc, chunk.start, x)
        if u is not None:
            for p, acc in self._u_acc.items():
                self._take(p, acc, chunk.start, u)
        if self._model is not None and u is not None:
            self._model_update(chunk.start, t, x, u)
        if self._u_stats and u is not None:
            # the chunk's own mean and squared deviations, merged into the running ones (Chan et al.):
            # no E[u²] - mean² cancellation for inputs far from zero
            w = kept[..., None].to(torch.float64)
            n = w.sum(dim=1)
            if bool((n > 0).any()):
                u64 = u.to(torch.float64)
                mean = (u64 * w).sum(dim=1) / n.clamp(min=1)
                m2 = (((u64 - mean[:, None]) ** 2) * w).sum(dim=1)
                total = self._u_n + n
                delta = mean - self._u_mean
                share = torch.where(total > 0, n / total.clamp(min=1), torch.zeros_like(n))
                self._u_mean += delta * share
                self._u_m2 += m2 + delta * delta * self._u_n * share
                self._u_n = total

    def _model_update(self, start: int, t: torch.Tensor, x: torch.Tensor, u: torch.Tensor) -> None:
        """Add the pairs (x[t-1], u[t]) of this chunk (the first state from the chunk before)."""
        B = x.shape[0]
        if start > 0:
            xs, tx = torch.cat([self._last_x[:, None], x[:, :-1]], dim=1), t - 1
        else:
            xs, tx, u = x[:, :-1], t[:-1], u[:, 1:]
        self._last_x = x[:, -1].clone()
        if xs.shape[1] == 0:
            return
        ok = ((tx[None, :] >= self.washout) & (tx[None, :] <= self.lengths[:, None] - 2)).to(torch.float64)
        z = xs.to(torch.float64).view(B, -1, self.K, self.N) * ok[..., None, None]
        Z = torch.cat([ok[..., None, None].expand(-1, -1, self.K, 1), z], dim=3)  # (B, m, K, N+1)
        G, C = self._model
        G += torch.einsum("bmki,bmkj->bkij", Z, Z)
        C += torch.einsum("bmki,bmd->bkid", Z, u.to(torch.float64) * ok[..., None])

    def _model_features(self) -> torch.Tensor:
        """Each sequence's ridge coefficients (B, K, (N+1)·D_in) of the next input on ``[1; x]``."""
        G, C = self._model
        diag = torch.diagonal(G, dim1=2, dim2=3)
        lam = MODEL_RIDGE * diag[..., 1:].mean(dim=2) + 1e-12  # (B, K): scale-free, never singular
        reg = torch.ones(self.N + 1, dtype=torch.float64, device=G.device)
        reg[0] = 1e-12  # the intercept is not shrunk (only kept solvable for a sequence with no pairs)
        A = G + torch.diag_embed(lam[..., None] * reg)
        theta = torch.linalg.solve(A, C)  # (B, K, N+1, D_in)
        return theta.reshape(*theta.shape[:2], -1).to(self.dtype)

    def result(self) -> torch.Tensor:
        """The features (K, B, F) of every sequence for each of the K members."""
        B = self.lengths.shape[0]
        dtype = self.dtype
        model = self._model_features() if self._model is not None else None
        parts_u = []
        for s in self.pooling.inputs:
            if s == "mean":
                parts_u.append(self._u_mean.to(dtype))
            elif s == "std":
                parts_u.append((self._u_m2 / self._u_n.clamp(min=1)).sqrt().to(dtype))
            else:
                parts_u.append(self._u_acc[s].reshape(B, -1))
        u_feats = torch.cat(parts_u, dim=1) if parts_u else None
        members = []
        for k in range(self.K):
            cols = slice(k * self.N, (k + 1) * self.N)
            parts = [] if u_feats is None else [u_feats]
            for p in self.pooling.pools:
                if p == "model":
                    parts.append(model[:, k])
                elif p == "mean":
                    parts.append(self._acc[p][:, cols] / self.count)
                elif p == "max":
                    parts.append(self._acc[p][:, cols])
                else:
                    parts.append(self._acc[p][:, :, cols].reshape(B, -1))
            members.append(torch.cat(parts, dim=1))
        return torch.stack(members)
