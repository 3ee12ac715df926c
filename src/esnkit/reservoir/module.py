"""The frozen reservoir module and its input drive.

The reservoir holds the fixed weights of the state update

    x[t] = (1 - a) * x[t-1] + a * f(W x[t-1] + W_in u[t] + W_fb y[t-1] + b)

with ``W`` (N x N) sparse and rescaled to a chosen spectral radius, ``W_in`` (N x D_in), ``W_fb``
(N x D_out, optional), bias ``b`` (N,) and leak rate ``a`` (scalar or one per neuron).
"""

from __future__ import annotations

import functools
import warnings
import weakref
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch
from torch import nn

from .. import _alloc
from .._checks import require_finite
from ..params import torch_dtype
from .activations import Activation, resolve_activation
from .initializers import INITIALIZERS, CycleJumps, _Streams, _uniform, as_recurrent_matrix, random_recurrent
from .spectral import (
    EchoStatePropertyWarning,
    _rescale_factor,
    _seeded_draw,
    effective_spectral_radius,
    spectral_radius,
)

# The pure-PyTorch step uses a dense matmul when W is small or not really sparse (measured: dense
# addmm beats CSR below a few hundred units at ~10 nonzeros per row, and above ~10% density).
DENSE_MATMUL_MAX = 256
DENSE_MATMUL_DENSITY = 0.1


def _take_csr_notice() -> None:
    """Take torch's "CSR support is in beta" notice, which it gives once per process, here at import.

    Silencing it with a ``catch_warnings`` block around each CSR construction instead would reset
    Python's once-per-line bookkeeping (every registry is cleared when filters change), and the
    user's own warnings, the echo-state one say, would then repeat on every fit of a loop.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        torch.sparse_csr_tensor(torch.zeros(2, dtype=torch.int64), torch.zeros(0, dtype=torch.int64),
                                torch.zeros(0), (1, 1), check_invariants=False)


_take_csr_notice()


BUFFERS = ("W_crow", "W_col", "W_values", "W_in", "W_fb", "bias", "leak")


def _check_buffers(t: dict[str, torch.Tensor]) -> None:
    """Raise ``ValueError`` naming the first of a reservoir's buffers that the time loop cannot trust.

    The native kernel reads W through raw pointers: ``W_crow`` (N + 1,) int64 row pointers starting
    at 0, non-decreasing, ending at nnz; ``W_col`` (nnz,) int64 columns in [0, N); ``W_values``
    (nnz,). Columns need not be sorted nor distinct within a row: the kernel, SciPy, torch's CSR
    product and the dense and gathered layouts all sum a row's entries in whatever order they
    come (a repeated column adds up, as CSR means). The floating buffers share one dtype and are
    finite, the leak lies in (0, 1], and everything sits on one device.
    """
    for name, v in t.items():
        if not isinstance(v, torch.Tensor):
            raise TypeError(f"Reservoir: {name} must be a torch.Tensor, got {type(v).__name__}")
    crow, col = t["W_crow"], t["W_col"]
    for name in ("W_crow", "W_col"):
        if t[name].dtype != torch.int64 or t[name].ndim != 1:
            raise ValueError(f"Reservoir: {name} must be a 1-D int64 tensor, got {t[name].dtype} of shape "
                             f"{tuple(t[name].shape)}")
    if crow.shape[0] < 2:
        raise ValueError(f"Reservoir: W_crow must hold N + 1 row pointers for N >= 1 neurons, got {crow.shape[0]}")
    n, nnz = crow.shape[0] - 1, col.shape[0]  # the CSR row pointer fixes N
    expected = {"W_values": (nnz,), "bias": (n,), "leak": (n,)}
    for name, shape in expected.items():
        if tuple(t[name].shape) != shape:
            raise ValueError(f"Reservoir: {name} must have shape {shape}, got {tuple(t[name].shape)}")
    for name in ("W_in", "W_fb"):
        if t[name].ndim != 2 or t[name].shape[0] != n:
            raise ValueError(f"Reservoir: {name} must have shape ({n}, features), got {tuple(t[name].shape)}")
    floats = {name: t[name].dtype for name in ("W_values", "W_in", "W_fb", "bias", "leak")}
    if len(set(floats.values())) > 1 or not next(iter(floats.values())).is_floating_point:
        raise ValueError("Reservoir: W_values, W_in, W_fb, bias and leak must share one floating dtype, got "
                         + ", ".join(f"{k} {str(v).replace('torch.', '')}" for k, v in floats.items()))
    devices = {name: v.device for name, v in t.items()}
    if len(set(devices.values())) > 1:
        raise ValueError("Reservoir: every buffer must be on one device, got "
                         + ", ".join(f"{k} on {v}" for k, v in devices.items()))
    if int(crow[0]) != 0:
        raise ValueError(f"Reservoir: W_crow[0] must be 0, got {int(crow[0])}")
    if bool((crow[1:] < crow[:-1]).any()):
        i = int((crow[1:] < crow[:-1]).nonzero()[0])
        raise ValueError(f"Reservoir: W_crow must be non-decreasing, but W_crow[{i + 1}] = {int(crow[i + 1])} < "
                         f"W_crow[{i}] = {int(crow[i])}")
    if int(crow[-1]) != nnz:
        raise ValueError(f"Reservoir: W_crow[-1] = {int(crow[-1])} must equal the number of nonzeros, "
                         f"len(W_col) = {nnz}")
    if nnz and (int(col.min()) < 0 or int(col.max()) >= n):
        i = int(((col < 0) | (col >= n)).nonzero()[0])
        raise ValueError(f"Reservoir: W_col[{i}] = {int(col[i])} is not a column of the {n} x {n} matrix W")
    for name in floats:
        require_finite(t[name], f"Reservoir: {name}", "a reservoir's weights must be finite")
    leak = t["leak"]
    if not bool(((leak > 0) & (leak <= 1)).all()):
        i = int((~((leak > 0) & (leak <= 1))).nonzero()[0])
        raise ValueError(f"Reservoir: leak must lie in (0, 1], got leak[{i}] = {float(leak[i])}")


@dataclass(frozen=True)
class Drive:
    """The drive of every step in factored form: ``drive[t] = bias + weight @ v[t]``.

    ``v`` (B, T, K) holds what drives the reservoir at each step (the inputs ``u[t]``, and under
    teacher forcing the previous targets ``y[t-1]``), ``weight`` (N, K) the matching columns
    ``[W_in, W_fb]`` and ``bias`` (N,). ``v`` and ``weight`` are None when the bias alone drives it.
    :func:`~esnkit.unroll` takes this or the materialised (B, T, N) tensor; kept factored, the
    native kernel computes it inside the loop and no (B, T, N) buffer is written and read back.
    """

    v: torch.Tensor | None
    weight: torch.Tensor | None
    bias: torch.Tensor
    batch: int
    steps: int

    def __post_init__(self) -> None:
        if self.bias.ndim != 1:
            raise ValueError(f"Drive: bias must have shape (N,), got {tuple(self.bias.shape)}")
        if (self.v is None) != (self.weight is None):
            raise ValueError("Drive: give v and weight together, or neither (the bias alone drives)")
        if self.v is not None:
            k = self.v.shape[-1]
            if tuple(self.v.shape) != (self.batch, self.steps, k):
                raise ValueError(f"Drive: drive.v must have shape ({self.batch}, {self.steps}, K), "
                                 f"got {tuple(self.v.shape)}")
            if tuple(self.weight.shape) != (self.bias.shape[0], k):
                raise ValueError(f"Drive: drive.weight must have shape ({self.bias.shape[0]}, {k}), "
                                 f"got {tuple(self.weight.shape)}")

    @property
    def shape(self) -> torch.Size:
        return torch.Size((self.batch, self.steps, self.bias.shape[0]))

    ndim = 3

    @property
    def dtype(self) -> torch.dtype:
        return self.bias.dtype

    @property
    def device(self) -> torch.device:
        return self.bias.device

    @property
    def inputs(self) -> int:
        """K, the number of drive inputs."""
        return 0 if self.v is None else self.v.shape[2]

    def materialise(self) -> torch.Tensor:
        """The (B, T, N) drive tensor (the bias broadcast, not copied, when nothing else drives)."""
        B, T, N = self.shape
        if self.v is None:
            return self.bias.expand(B, T, N)
        out = _alloc.empty((B * T, N), self.dtype, self.device)
        return torch.addmm(self.bias, self.v.reshape(B * T, -1), self.weight.T, out=out).view(B, T, N)

    @staticmethod
    def cat(drives: list[Drive]) -> Drive:
        """Drives of one ``v`` for several reservoirs, stacked along the neurons (an ensemble block)."""
        first = drives[0]
        if any(d.inputs != first.inputs or d.shape[:2] != first.shape[:2] for d in drives):
            raise ValueError("Drive.cat: every drive must have the same batch, steps and inputs v")
        weight = None if first.v is None else torch.cat([d.weight for d in drives])
        return Drive(first.v, weight, torch.cat([d.bias for d in drives]), first.batch, first.steps)


def _initial_recurrent(initializer: Any, size: int, streams: _Streams, rho: float) -> tuple[sp.csr_matrix, np.ndarray]:
    """W (CSR, sorted indices) and its nonzeros scaled to spectral radius ``rho`` for an initializer other
    than 'random': a registered name, an initializer callable or a matrix."""
    fn = INITIALIZERS.get(initializer) if isinstance(initializer, str) else initializer
    if fn is None:
        raise ValueError(f"initializer must be one of {sorted(INITIALIZERS)}, an initializer callable or a matrix, "
                         f"got {initializer!r}")
    if getattr(fn, "nilpotent", False):  # nothing to rescale: the links carry the spectral radius
        W = sp.csr_matrix(fn(size, streams[0]), dtype=np.float64)  # a delay line of one neuron has no link
        W.sort_indices()
        return W, W.data * rho
    W = as_recurrent_matrix(fn(size, streams[0]) if callable(fn) else fn, size)
    known = getattr(fn, "radius", None)
    if known is None:
        known = _cycle_jumps_radius(size, fn) if isinstance(fn, CycleJumps) else _structured_radius(W)
    if known <= 1e-12 * np.abs(W.data).max():
        raise ValueError(f"initializer: W has spectral radius {known:.3g} (nilpotent, as a delay line is), so it "
                         f"cannot be rescaled to spectral_radius={rho}; use initializer='delay_line' for a delay "
                         "line, or give a matrix with a nonzero eigenvalue")
    return W, W.data * (rho / known)


# Up to this size the spectral radius of a matrix given by the user (or a registered initializer) comes from
# dense eigenvalues: exact, and 1.8 s at 2000 neurons, where ARPACK may take minutes on a structured matrix
# (a cycle's or an orthogonal matrix's eigenvalues all share one modulus). Above it, ARPACK.
STRUCTURED_DENSE_MAX = 2000


def _structured_radius(W: sp.csr_matrix) -> float:
    if W.shape[0] > STRUCTURED_DENSE_MAX:
        return spectral_radius(W)
    return float(np.abs(np.linalg.eigvals(W.toarray())).max())


@functools.lru_cache(maxsize=64)
def _cycle_jumps_radius(size: int, fn: CycleJumps) -> float:
    """The spectral radius of a cycle reservoir with jumps, once per process for each size and shape.

    A plain cycle's eigenvalues are its weight times the N-th roots of unity. With jumps, dense
    eigenvalues: ARPACK, which the random reservoirs use above 200 neurons, struggles with the
    eigenvalues crowding a circle here (37 s for a plain cycle of 300 neurons; 52 s for jumps of 3
    at 1000, and 3e-4 off), while dense ones take 0.45 s at 1000 neurons and 1.8 s at 2000.
    """
    W = fn(size)
    if W.nnz == size:  # no jumps
        return abs(fn.cycle_weight)
    return float(np.abs(np.linalg.eigvals(W.toarray())).max())  # dense at any size: see the docstring


class Reservoir(nn.Module):
    """The frozen random reservoir: weights as buffers, no trainable parameters.

    Shapes: ``W_in`` (N, D_in), ``W`` (N, N) stored as CSR (``W_crow``, ``W_col``, ``W_values``),
    ``W_fb`` (N, D_fb) with D_fb = 0 when there is no output feedback, ``bias`` (N,), ``leak`` (N,).
    Build one with :meth:`random`; the time loop lives in :mod:`esnkit.loop`.
    """

    def __init__(
        self,
        W_crow: torch.Tensor,
        W_col: torch.Tensor,
        W_values: torch.Tensor,
        W_in: torch.Tensor,
        W_fb: torch.Tensor,
        bias: torch.Tensor,
        leak: torch.Tensor,
        activation: Activation = "tanh",
    ) -> None:
        super().__init__()
        given = dict(W_crow=W_crow, W_col=W_col, W_values=W_values, W_in=W_in, W_fb=W_fb, bias=bias, leak=leak)
        _check_buffers(given)
        for name, t in given.items():
            self.register_buffer(name, t)
        self.activation = activation
        # equal diagonal blocks of W (an ensemble from stack): a GPU step can multiply them as a batch
        self.blocks = 1
        self.f = resolve_activation(activation)
        self._remember_checked()

    def check(self) -> None:
        """Validate everything the time loop trusts (see :func:`_check_buffers`): shapes, dtypes, one
        device, W's CSR structure, finite weights and a leak in (0, 1]. Raises ``ValueError``.

        :func:`~esnkit.unroll` calls this before every run, since buffers can be replaced or changed
        in place after construction; the result is remembered until one of them is (each buffer's
        identity and version counter), so a run pays for the O(nnz) pass only after a change.
        """
        buffers = self._buffers
        now = tuple(buffers.get(name) for name in BUFFERS)
        done = self.__dict__.get("_checked")
        if done is not None and all(ref() is t and t._version == v for (ref, v), t in zip(done, now, strict=True)):
            return
        _check_buffers(dict(zip(BUFFERS, now)))
        self._remember_checked()

    def _remember_checked(self) -> None:
        self._checked = tuple((weakref.ref(t), t._version) for t in (self._buffers[name] for name in BUFFERS))

    def __getstate__(self) -> dict:
        state = super().__getstate__()
        state.pop("_checked", None)  # weak references do not pickle; a copy checks itself again
        return state

    @classmethod
    def from_arrays(
        cls,
        W: sp.spmatrix,
        W_in: np.ndarray,
        W_fb: np.ndarray,
        bias: np.ndarray,
        leak: float | np.ndarray,
        activation: Activation = "tanh",
        *,
        dtype: torch.dtype = torch.float64,
        device: torch.device | str | None = None,
    ) -> Reservoir:
        """Build from SciPy/NumPy weights: ``W`` (N, N) sparse, ``W_in`` (N, D_in), ``W_fb`` (N, D_fb)."""
        W = sp.csr_matrix(W)
        W.sort_indices()
        return cls._from_csr(W, W.data, W_in, W_fb, bias, leak, activation, torch_dtype(dtype), device)

    @classmethod
    def _from_csr(cls, W: sp.csr_matrix, values: np.ndarray, W_in: np.ndarray, W_fb: np.ndarray, bias: np.ndarray,
                  leak: float | np.ndarray, activation: Activation, dtype: torch.dtype,
                  device: torch.device | str | None) -> Reservoir:
        """:meth:`from_arrays` for a CSR ``W`` with sorted indices, its nonzeros replaced by ``values``."""
        n = W.shape[0]

        def t(a, kind: torch.dtype = dtype) -> torch.Tensor:
            return torch.as_tensor(np.array(a, copy=True), dtype=kind, device=device)

        return cls(
            t(W.indptr, torch.int64), t(W.indices, torch.int64), t(values),
            t(np.asarray(W_in).reshape(n, -1)), t(np.asarray(W_fb).reshape(n, -1)), t(bias),
            t(np.broadcast_to(np.asarray(leak, dtype=np.float64), (n,))), activation,
        )

    @classmethod
    def random(
        cls,
        size: int,
        input_size: int,
        feedback_size: int = 0,
        *,
        spectral_radius: float = 0.9,
        initializer: Any = "random",
        connectivity: float | None = None,
        in_degree: int | None = None,
        leak_rate: float | np.ndarray = 1.0,
        input_scaling: float | np.ndarray = 1.0,
        input_connectivity: float = 1.0,
        bias_scaling: float = 0.0,
        feedback_scaling: float = 1.0,
        activation: Activation = "tanh",
        seed: int | None = None,
        dtype: torch.dtype = torch.float64,
        device: torch.device | str | None = None,
    ) -> Reservoir:
        """Draw a reservoir; the same ``seed`` gives bit-identical weights.

        Each weight block has its own random stream (spawned from ``seed``), so ``W`` does not
        change when the number of inputs or outputs does. Nonzeros are uniform in (-1, 1); ``W_in``
        columns are scaled by ``input_scaling`` (scalar or one per input) and kept with probability
        ``input_connectivity``; ``W_fb`` is dense, scaled by ``feedback_scaling``; the bias is
        uniform(-1, 1) times ``bias_scaling``.

        ``initializer`` builds ``W`` (see :mod:`esnkit.reservoir.initializers` and docs/initializers.md):
        'random' (sparse uniform, shaped by ``connectivity`` or ``in_degree``), 'cycle_jumps',
        'delay_line', 'orthogonal', another registered name, an initializer callable
        ``(size, rng) -> sparse matrix``, or an N x N matrix. W is rescaled to ``spectral_radius``,
        except a nilpotent one (the delay line), whose nonzeros are multiplied by it.
        """
        streams = _Streams(seed)
        if isinstance(initializer, str) and initializer == "random":
            if seed is None:
                W, known = random_recurrent(size, streams[0], connectivity=connectivity, in_degree=in_degree), None
            else:
                W, known = _seeded_draw(size, connectivity, in_degree, seed, streams)
            # scaled into new values, as scale_to_spectral_radius does, without a second SciPy matrix
            values = W.data * _rescale_factor(W, spectral_radius, known)
        else:
            W, values = _initial_recurrent(initializer, size, streams, spectral_radius)
        W_in = _uniform(streams[1], (size, input_size), input_connectivity)
        W_in *= np.broadcast_to(np.asarray(input_scaling, dtype=np.float64), (input_size,))[None, :]
        W_fb = _uniform(streams[2], (size, feedback_size), 1.0) * feedback_scaling if feedback_size else \
            np.zeros((size, 0))
        bias = _uniform(streams[3], (size,), 1.0) * bias_scaling
        return cls._from_csr(W, values, W_in, W_fb, bias, leak_rate, activation, torch_dtype(dtype), device)

    @classmethod
    def stack(cls, members: list[Reservoir]) -> Reservoir:
        """One reservoir holding ``members`` side by side: block-diagonal ``W``, stacked ``W_in``,
        ``W_fb``, bias and leak. Its state is the members' states concatenated, so one step of it
        is one step of every member (an ensemble). Members share the input width and activation;
        a member without output feedback gets zero feedback rows.
        """
        if not members:
            raise ValueError("stack needs at least one reservoir")
        first = members[0]
        for i, m in enumerate(members):
            if m.input_size != first.input_size:
                raise ValueError(f"member {i} has {m.input_size} inputs, member 0 has {first.input_size}")
            if m.activation != first.activation:
                raise ValueError(f"member {i} has activation {m.activation!r}, member 0 has {first.activation!r}")
        d_fb = max(m.feedback_size for m in members)
        offsets = np.cumsum([0] + [m.size for m in members])
        nnz = np.cumsum([0] + [m.W_values.numel() for m in members])
        crow = torch.cat([members[0].W_crow[:1]] + [m.W_crow[1:] + int(z) for m, z in zip(members, nnz[:-1])])
        col = torch.cat([m.W_col + int(off) for m, off in zip(members, offsets[:-1])])

        def fb(m: Reservoir) -> torch.Tensor:
            if m.feedback_size == d_fb:
                return m.W_fb
            return torch.zeros(m.size, d_fb, dtype=m.W_fb.dtype, device=m.W_fb.device)

        stacked = cls(
            crow, col, torch.cat([m.W_values for m in members]), torch.cat([m.W_in for m in members]),
            torch.cat([fb(m) for m in members]), torch.cat([m.bias for m in members]),
            torch.cat([m.leak for m in members]), first.activation,
        )
        if all(m.size == first.size for m in members):
            stacked.blocks = len(members)
        return stacked

    @property
    def size(self) -> int:
        return self.bias.shape[0]

    @property
    def input_size(self) -> int:
        return self.W_in.shape[1]

    @property
    def feedback_size(self) -> int:
        return self.W_fb.shape[1]

    def recurrent_matrix(self) -> torch.Tensor:
        """``W`` in the layout the step is fastest with: dense for small or dense W, CSR otherwise."""
        n = self.size
        if n <= DENSE_MATMUL_MAX or self.W_values.numel() > DENSE_MATMUL_DENSITY * n * n:
            return self.dense_recurrent()
        crow, col = self.W_crow, self.W_col
        if crow.device.type == "cpu" and self.W_values.numel() < 2**31:
            # torch's CPU CSR product runs ~1.6x faster with 32-bit indices (52 vs 84 µs at N=1000,
            # 10 per row, one thread), and the eager loop spends most of its step there
            crow, col = crow.to(torch.int32), col.to(torch.int32)
        return torch.sparse_csr_tensor(crow, col, self.W_values, (n, n), check_invariants=False)

    def dense_recurrent(self) -> torch.Tensor:
        """``W`` as a dense (N, N) tensor (duplicate entries, if any, summed as CSR means them).

        Built from the CSR buffers with one scatter: torch's CSR ``to_dense`` takes ~0.2 ms even
        at N = 50, a sizeable part of a small reservoir's first fit.
        """
        n = self.size
        dense = torch.zeros(n, n, dtype=self.W_values.dtype, device=self.W_values.device)
        return dense.index_put_((self.nonzero_rows(), self.W_col), self.W_values, accumulate=True)

    def nonzero_rows(self) -> torch.Tensor:
        """The row of each stored nonzero of W, in CSR order."""
        crow = self.W_crow
        return torch.repeat_interleave(torch.arange(self.size, device=crow.device), crow.diff())

    def scipy_recurrent(self) -> sp.csr_matrix:
        n = self.size
        return sp.csr_matrix(
            (self.W_values.double().cpu().numpy(), self.W_col.cpu().numpy(), self.W_crow.cpu().numpy()),
            shape=(n, n),
        )

    def spectral_radius(self) -> float:
        """Spectral radius of ``W`` as stored (equals the requested one up to ~1e-6 relative)."""
        return spectral_radius(self.scipy_recurrent())

    def effective_spectral_radius(self) -> float:
        """Spectral radius of the leaky linearisation ``(I - A) + A W``; see :func:`effective_spectral_radius`."""
        return effective_spectral_radius(self.scipy_recurrent(), self.leak.double().cpu().numpy())

    def dense_spectral_radius(self, *, leaky: bool = False, nilpotent: bool = False) -> float:
        """The spectral radius of ``W`` (or, ``leaky``, of ``(I - A) + A W``) from dense eigenvalues.

        For the structured initializers' ``W``: ARPACK, which :meth:`spectral_radius` uses above 200
        neurons, took 91 s on an orthogonal W of 300 neurons (all eigenvalues of modulus 1) and 17 s
        on a cycle with jumps; dense eigenvalues take 0.05 s there, 0.5 s at 1000 neurons. A
        ``nilpotent`` W (a delay line) has eigenvalues 0, and its leaky linearisation (triangular)
        ``1 - a``.
        """
        a = self.leak.double().cpu().numpy()
        if nilpotent:
            return float(np.max(1.0 - a)) if leaky else 0.0
        W = self.dense_recurrent().double().cpu().numpy()
        if leaky:
            W = a[:, None] * W
            W[np.diag_indices_from(W)] += 1.0 - a
        return float(np.abs(np.linalg.eigvals(W)).max())

    def input_drive(self, u: torch.Tensor | None, batch: int, steps: int) -> torch.Tensor:
        """``W_in u[t] + b`` for all steps in one matmul: ``(batch, steps, N)``.

        With no input (``u`` None, or a reservoir without inputs) the bias is broadcast, not copied.
        """
        return self.drive(u, batch=batch, steps=steps).materialise()

    def drive(self, u: torch.Tensor | None = None, fed_back: torch.Tensor | None = None, *, batch: int,
              steps: int) -> Drive:
        """``W_in u[t] + b (+ W_fb y[t-1])`` for ``steps`` steps of ``batch`` sequences, factored.

        ``u`` (batch, steps, D_in) are the inputs, ``fed_back`` (batch, steps, D_fb) the teacher's
        previous outputs under teacher forcing. A reservoir without feedback weights gives
        ``fed_back`` zero columns, so that every member of an ensemble shares one ``v``.
        """
        v, w = [], []
        if u is not None and self.input_size:
            v.append(u)
            w.append(self.W_in)
        if fed_back is not None:
            v.append(fed_back)
            w.append(self.W_fb if self.feedback_size else self.bias.new_zeros(self.size, fed_back.shape[-1]))
        if not v:
            return Drive(None, None, self.bias, batch, steps)
        return Drive(torch.cat(v, dim=-1) if len(v) > 1 else v[0], torch.cat(w, dim=1) if len(w) > 1 else w[0],
                     self.bias, batch, steps)

    def check_echo_state(self, stacklevel: int = 3, radius: float | None = None) -> float:
        """Warn when the leaky linearisation has spectral radius ≥ 1; return that radius.

        ``radius`` is that radius when the caller already knows it (W freshly scaled, no leak),
        which saves an eigenvalue computation.
        """
        rho_eff = self.effective_spectral_radius() if radius is None else radius
        if rho_eff >= 1.0:
            warnings.warn(
                f"the reservoir's effective spectral radius (leak included) is {rho_eff:.4g} ≥ 1, so the "
                "echo state property cannot hold around the zero state: states may not forget their "
                "initial condition. Lower spectral_radius below 1 if that is not intended.",
                EchoStatePropertyWarning,
                stacklevel=stacklevel,
            )
        return rho_eff

    def extra_repr(self) -> str:
        act = self.activation if isinstance(self.activation, str) else getattr(self.activation, "__name__", "custom")
        return (f"size={self.size}, input_size={self.input_size}, feedback_size={self.feedback_size}, "
                f"nnz={self.W_values.numel()}, activation={act}")
