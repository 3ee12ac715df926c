"""Random reservoir construction and the frozen reservoir module.

The reservoir holds the fixed weights of the state update

    x[t] = (1 - a) * x[t-1] + a * f(W x[t-1] + W_in u[t] + W_fb y[t-1] + b)

with ``W`` (N x N) sparse and rescaled to a chosen spectral radius, ``W_in`` (N x D_in), ``W_fb``
(N x D_out, optional), bias ``b`` (N,) and leak rate ``a`` (scalar or one per neuron).
"""

from __future__ import annotations

import collections
import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Union

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla
import torch
from torch import nn

from . import _alloc

Activation = Union[str, Callable[[torch.Tensor], torch.Tensor]]

ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "tanh": torch.tanh,
    "identity": lambda z: z,
    "relu": torch.relu,
    "sigmoid": torch.sigmoid,
}
# The same functions writing into a given tensor (which may be their argument): the eager step
# puts each new state straight into the states buffer, or overwrites a temporary it owns.
ACTIVATIONS_OUT: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "tanh": lambda z, out: torch.tanh(z, out=out),
    "identity": lambda z, out: z if out is z else out.copy_(z),
    "relu": lambda z, out: torch.clamp_min(z, 0.0, out=out),
    "sigmoid": lambda z, out: torch.sigmoid(z, out=out),
}

# Up to this size dense eigenvalues are exact and about as quick as ARPACK, and they are kept for
# the leaky echo-state check; above it ARPACK on the sparse matrix is cheaper (measured at 10
# nonzeros per row, one thread: 65 vs 43 ms at 200 neurons, 144 vs 60 ms at 300, 413 vs 41 ms at
# 500) and still reaches the 1e-6 relative accuracy we promise on the spectral radius.
DENSE_EIG_MAX = 200
# ARPACK is asked for the ARPACK_WANTED eigenvalues of largest modulus, not one: a random matrix's
# eigenvalues crowd the rim of a disc, and asked for one (64 Arnoldi vectors, tolerance 1e-10),
# ARPACK settled on a smaller one while reporting convergence for 6 of 210 reservoirs of 250-3000
# neurons (default and 50 nonzeros per row, seeds from 0; up to 0.4% low, so W came out that much
# too large), and took up to 45 s on one of 1000 neurons. Asked for six with 64 vectors and
# tolerance 1e-8 it found the largest for all 210 (against dense eigenvalues up to 1000 neurons,
# above that against ARPACK asked for 20 with 300 vectors) to 2.1e-10 relative at worst, in median
# times of 0.08 s at 500 neurons, 0.12 s at 1000 and 0.43 s at 2000 (one thread; asked for one:
# 0.07, 0.12, 0.26 s), never more than 0.8 s. Fewer vectors (32) missed it again.
ARPACK_WANTED = 6
ARPACK_NCV = 64
ARPACK_TOL = 1e-8
# Up to this size the dense eigenvalues come from PyTorch's LAPACK (MKL in the x86 wheels), about
# twice as fast as NumPy's here (7 vs 14 ms at 100 neurons, one thread), which matters when the
# eigenvalue problem is a third of a small reservoir's first fit. MKL may split the work over
# threads, and its last bits then depend on the thread count (from 132 neurons on an Intel Xeon,
# from 128 or fewer on an AMD EPYC), so it runs on one thread; NumPy's do not, and larger
# matrices stay with NumPy. The weights a seed draws do not depend on the thread count.
TORCH_EIG_MAX = 128
# The pure-PyTorch step uses a dense matmul when W is small or not really sparse (measured: dense
# addmm beats CSR below a few hundred units at ~10 nonzeros per row, and above ~10% density).
DENSE_MATMUL_MAX = 256
DENSE_MATMUL_DENSITY = 0.1
# Dense in-degree rows draw their columns from uniform keys this many at a time (8 MB of float64).
KEY_BLOCK_VALUES = 1 << 20


def resolve_activation(activation: Activation) -> Callable[[torch.Tensor], torch.Tensor]:
    if callable(activation):
        return activation
    if isinstance(activation, str) and activation in ACTIVATIONS:
        return ACTIVATIONS[activation]
    raise ValueError(
        f"activation must be one of {sorted(ACTIVATIONS)} or an elementwise callable, got {activation!r}"
    )


def default_connectivity(size: int) -> float:
    """About ten recurrent connections per neuron, the usual sparse-reservoir choice."""
    return min(1.0, 10.0 / size)


def random_recurrent(
    size: int,
    rng: np.random.Generator,
    *,
    connectivity: float | None = None,
    in_degree: int | None = None,
) -> sp.csr_matrix:
    """A random sparse ``size x size`` matrix with uniform(-1, 1) nonzeros (not yet rescaled).

    Give either ``connectivity`` (each entry nonzero with that probability) or ``in_degree`` (every
    row has exactly that many nonzeros, in distinct random columns).
    """
    if connectivity is not None and in_degree is not None:
        raise ValueError("give connectivity or in_degree, not both")
    if in_degree is not None:
        if isinstance(in_degree, bool) or not isinstance(in_degree, (int, np.integer)) or not 1 <= in_degree <= size:
            raise ValueError(f"in_degree must be an integer in [1, size={size}], got {in_degree!r}")
        cols = _distinct_columns(rng, size, in_degree)
        vals = rng.uniform(-1.0, 1.0, size=(size, in_degree))
        indptr = np.arange(0, size * in_degree + 1, in_degree)
        W = sp.csr_matrix((vals.ravel(), cols.ravel(), indptr), shape=(size, size))
        W.has_sorted_indices = True  # _distinct_columns sorts each row
        return W
    p = default_connectivity(size) if connectivity is None else connectivity
    if not (isinstance(p, (int, float, np.floating)) and 0 < p <= 1):  # NaN fails the comparison too
        raise ValueError(f"connectivity must be in (0, 1], got {connectivity!r}")
    # The draws scipy.sparse.random makes (distinct flat positions in column-major order, then the
    # values), put into sorted CSR directly: half the time of scipy's COO round trip (0.45 vs
    # 0.9 ms at N = 75, a sizeable part of a small reservoir's first fit), and the same weights.
    nnz = int(round(p * size * size))
    flat = rng.choice(size * size, size=nnz, replace=False)
    vals = rng.uniform(-1.0, 1.0, nnz)
    row_major = (flat % size) * size + flat // size
    order = np.argsort(row_major)
    row_major = row_major[order]
    indptr = np.searchsorted(row_major, np.arange(0, size * size + 1, size))
    idx = np.int32 if nnz < 2**31 else np.int64
    W = sp.csr_matrix((vals[order], (row_major % size).astype(idx), indptr.astype(idx)), shape=(size, size))
    W.has_sorted_indices = True
    return W


def _distinct_columns(rng: np.random.Generator, size: int, k: int) -> np.ndarray:
    """``(size, k)`` sorted column indices, each row ``k`` distinct draws from ``range(size)``.

    Every row is a uniformly random k-subset, drawn for all rows at once: a per-row ``choice``
    costs ~10-20 µs of Python per neuron, most of a small reservoir's construction.

    - Sparse rows (k(k-1) ≤ 2·size, so a row of k uniform draws is likely free of repeats): all
      rows are drawn and rows with a repeat are drawn again.
    - Denser rows, ``m = min(k, size - k)`` up to size/8: m draws per row, and each repeated
      value drawn again until none is left; for k > size/2 the m drawn are the columns left out.
      The redraws treat every column alike, so each m-subset stays equally likely.
    - Denser still: the k smallest of ``size`` uniform keys per row (O(size²) work, which the
      output's size·k already is within a factor of 8).
    """
    if k * (k - 1) <= 2 * size:
        cols = np.sort(rng.integers(0, size, size=(size, k)), axis=1)
        redo = np.flatnonzero(_repeats(cols).any(axis=1))
        while redo.size:
            fresh = np.sort(rng.integers(0, size, size=(redo.size, k)), axis=1)
            cols[redo] = fresh
            redo = redo[_repeats(fresh).any(axis=1)]
        return cols
    m = min(k, size - k)
    if 8 * m > size:
        block = max(1, KEY_BLOCK_VALUES // size)  # rows of keys at a time: bounded memory, same draws
        parts = [np.argpartition(rng.random((min(block, size - lo), size)), k - 1, axis=1)[:, :k]
                 for lo in range(0, size, block)]
        return np.sort(np.concatenate(parts), axis=1)
    cols = np.sort(rng.integers(0, size, size=(size, m)), axis=1)
    redo = np.arange(size)
    while True:
        rows = cols[redo]
        repeat = _repeats(rows)
        hit = repeat.any(axis=1)
        if not hit.any():
            break
        redo, rows, repeat = redo[hit], rows[hit], repeat[hit]
        r, c = np.nonzero(repeat)
        rows[r, c + 1] = rng.integers(0, size, size=r.size)
        rows.sort(axis=1)
        cols[redo] = rows
    if m == k:
        return cols
    kept = np.ones((size, size), dtype=bool)
    kept[np.arange(size)[:, None], cols] = False
    return np.nonzero(kept)[1].reshape(size, k)


def _repeats(rows: np.ndarray) -> np.ndarray:
    """``(r, k - 1)``: where each sorted row holds the value just before it again."""
    return rows[:, 1:] == rows[:, :-1]


def spectral_radius(W: sp.spmatrix | np.ndarray) -> float:
    """Largest absolute eigenvalue of ``W``: dense ``eigvals`` for small matrices, ARPACK otherwise."""
    return _spectrum(W)[0]


def _spectrum(W: sp.spmatrix | np.ndarray) -> tuple[float, np.ndarray | None]:
    """The spectral radius of ``W`` and, when they were computed densely, all its eigenvalues."""
    n = W.shape[0]
    if n <= DENSE_EIG_MAX:
        dense = W.toarray() if sp.issparse(W) else np.asarray(W)
        eigenvalues = _eigvals(dense)
        return float(np.max(np.abs(eigenvalues))), eigenvalues
    # A fixed start vector keeps ARPACK, and so the rescaled weights, bit-reproducible.
    v0 = np.random.default_rng(12345).standard_normal(n)
    try:
        vals = spla.eigs(
            sp.csr_matrix(W), k=ARPACK_WANTED, which="LM", v0=v0, tol=ARPACK_TOL, ncv=min(n, ARPACK_NCV),
            maxiter=50 * n, return_eigenvectors=False,
        )
        return float(np.abs(vals).max()), None
    except spla.ArpackNoConvergence:
        dense = W.toarray() if sp.issparse(W) else np.asarray(W)
        eigenvalues = _eigvals(dense)
        return float(np.max(np.abs(eigenvalues))), eigenvalues


def _eigvals(dense: np.ndarray) -> np.ndarray:
    """All eigenvalues of a square float64 matrix (see ``TORCH_EIG_MAX`` for which LAPACK)."""
    dense = np.asarray(dense, dtype=np.float64)
    if dense.shape[0] > TORCH_EIG_MAX:
        return np.linalg.eigvals(dense)
    threads = torch.get_num_threads()
    if threads == 1:
        return torch.linalg.eigvals(torch.from_numpy(dense)).numpy()
    torch.set_num_threads(1)
    try:
        return torch.linalg.eigvals(torch.from_numpy(dense)).numpy()
    finally:
        torch.set_num_threads(threads)


def effective_spectral_radius(W: sp.spmatrix | np.ndarray, leak_rate: float | np.ndarray) -> float:
    """Spectral radius of the leaky system's linearisation at the origin, ``(I - A) + A W``.

    ``A = diag(a)`` holds the leak rates. For a scalar leak rate this is ``max |1 - a + a λ_i|``
    over the eigenvalues ``λ_i`` of ``W``. Values ≥ 1 mean the echo state property cannot hold
    around the zero state.
    """
    n = W.shape[0]
    a = np.broadcast_to(np.asarray(leak_rate, dtype=np.float64), (n,))
    A = sp.diags(a)
    return spectral_radius(sp.identity(n) - A + A @ sp.csr_matrix(W))


def scale_to_spectral_radius(W: sp.csr_matrix, target: float, current: float | None = None) -> sp.csr_matrix:
    """Rescale ``W`` so its spectral radius equals ``target``; a nilpotent ``W`` cannot be rescaled.

    ``current`` is ``W``'s spectral radius when the caller already knows it.
    """
    return (W * _rescale_factor(W, target, current)).tocsr()


def _rescale_factor(W: sp.csr_matrix, target: float, current: float | None = None) -> float:
    """What :func:`scale_to_spectral_radius` multiplies ``W`` by."""
    current = spectral_radius(W) if current is None else current
    largest = np.abs(W.data).max() if W.nnz else 0.0
    if current <= 1e-12 * max(largest, 1e-300):
        raise ValueError(
            f"the random recurrent matrix has spectral radius 0 ({W.nnz} nonzeros in a {W.shape[0]}x"
            f"{W.shape[0]} matrix), so it cannot be rescaled to spectral_radius={target}; "
            "raise connectivity (or in_degree) so each neuron has a few recurrent connections"
        )
    return target / current


class _Streams:
    """The four random streams of a reservoir (W, W_in, W_fb, bias), spawned from ``seed``.

    ``streams[i]`` is the generator of ``SeedSequence(seed).spawn(4)[i]``, made when first asked
    for: a reservoir without feedback, or whose ``W`` is kept from an earlier draw, does not pay
    the ~10 µs each generator costs to seed.
    """

    def __init__(self, seed: int | None) -> None:
        self._entropy = np.random.SeedSequence(seed).entropy  # drawn from the OS once when seed is None

    def __getitem__(self, i: int) -> np.random.Generator:
        if not 0 <= i < 4:
            raise IndexError(f"a reservoir has 4 random streams, not {i + 1}")
        # what SeedSequence(seed).spawn(4)[i] is, without making the other three
        return np.random.default_rng(np.random.SeedSequence(self._entropy, spawn_key=(i,)))


# Spectra of the unscaled recurrent matrices seeds drew, most recent last: (size, connectivity,
# in_degree, seed) -> (spectral radius, eigenvalues or None).
_SPECTRA: collections.OrderedDict[tuple, tuple[float, np.ndarray | None]] = collections.OrderedDict()
_SPECTRA_MAX = 64
_SPECTRA_LOCK = threading.Lock()  # fits may run in threads (a threaded Dask worker, say)
# The unscaled matrices themselves, kept up to this many nonzeros each (0.8 MB; ~50 MB in all).
_DRAWS: collections.OrderedDict[tuple, sp.csr_matrix] = collections.OrderedDict()
_KEEP_DRAW_NNZ = 1 << 16


def _seeded_spectrum(
    size: int, connectivity: float | None, in_degree: int | None, seed: int, W: sp.spmatrix | None = None
) -> tuple[float, np.ndarray | None]:
    """Spectral radius (and eigenvalues, when dense) of the unscaled recurrent matrix a seed draws.

    The matrix is a pure function of these four arguments, so its eigenvalue problem (the costly
    part of building a reservoir) is solved once per process: a search that tries many spectral
    radii, leaks and scalings on one seed pays for it once. ``W``, when the caller has just drawn
    it, saves drawing it again.
    """
    key = (size, connectivity, in_degree, seed)
    with _SPECTRA_LOCK:
        if key in _SPECTRA:
            _SPECTRA.move_to_end(key)
            return _SPECTRA[key]
    if W is None:
        W = random_recurrent(size, _Streams(seed)[0], connectivity=connectivity, in_degree=in_degree)
    spectrum = _spectrum(W)
    with _SPECTRA_LOCK:
        _SPECTRA[key] = spectrum
        if len(_SPECTRA) > _SPECTRA_MAX:
            _SPECTRA.popitem(last=False)
    return spectrum


def _seeded_draw(
    size: int, connectivity: float | None, in_degree: int | None, seed: int, streams: _Streams
) -> tuple[sp.csr_matrix, float]:
    """The unscaled recurrent matrix a seed draws (from ``streams[0]``, when it is not kept) and
    its spectral radius.

    A sparse enough matrix is drawn once per process, as its eigenvalue problem is solved once:
    the draw is a sizeable part of a small reservoir's construction, which a search on one seed
    repeats trial after trial. The matrix returned may be shared: rescale it into a new one.
    """
    key = (size, connectivity, in_degree, seed)
    with _SPECTRA_LOCK:
        W = _DRAWS.get(key)
        if W is not None:
            _DRAWS.move_to_end(key)
    drawn = W is None
    if drawn:
        W = random_recurrent(size, streams[0], connectivity=connectivity, in_degree=in_degree)
    radius = _seeded_spectrum(size, connectivity, in_degree, seed, W)[0]
    if drawn and W.nnz <= _KEEP_DRAW_NNZ:
        with _SPECTRA_LOCK:
            _DRAWS[key] = W
            if len(_DRAWS) > _SPECTRA_MAX:
                _DRAWS.popitem(last=False)
    return W, radius


def clear_spectrum_cache() -> None:
    """Forget the spectra and matrices kept by :func:`_seeded_spectrum` and :func:`_seeded_draw` (the
    next reservoir of each seed draws its matrix and pays for its eigenvalue problem again, as a
    first fit in a fresh process does)."""
    with _SPECTRA_LOCK:
        _SPECTRA.clear()
        _DRAWS.clear()


def seeded_effective_radius(
    size: int, connectivity: float | None, in_degree: int | None, seed: int, spectral_radius: float,
    leak_rate: float,
) -> float | None:
    """:func:`effective_spectral_radius` of the reservoir :meth:`Reservoir.random` draws with these
    arguments and one leak rate, from the eigenvalues kept when its ``W`` was scaled: the
    eigenvalues of ``(1 - a) I + a W`` are ``1 - a + a λ_i``. None when they were not kept (large
    reservoirs, whose spectral radius comes from ARPACK)."""
    radius, eigenvalues = _seeded_spectrum(size, connectivity, in_degree, seed)
    if eigenvalues is None or radius == 0.0:
        return None
    return float(np.max(np.abs(1.0 - leak_rate + leak_rate * (spectral_radius / radius) * eigenvalues)))


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


def _uniform(rng: np.random.Generator, shape: tuple[int, ...], density: float) -> np.ndarray:
    w = rng.uniform(-1.0, 1.0, size=shape)
    if density < 1.0:
        w *= rng.random(shape) < density
    return w


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
        n = W_crow.shape[0] - 1  # the CSR row pointer fixes N
        expected = {"bias": (n,), "leak": (n,), "W_values": tuple(W_col.shape)}
        for name, shape in expected.items():
            if tuple(locals()[name].shape) != shape:
                raise ValueError(f"{name} must have shape {shape}, got {tuple(locals()[name].shape)}")
        for name, t in (("W_in", W_in), ("W_fb", W_fb)):
            if t.ndim != 2 or t.shape[0] != n:
                raise ValueError(f"{name} must have shape ({n}, features), got {tuple(t.shape)}")
        for name, t in (("W_crow", W_crow), ("W_col", W_col), ("W_values", W_values), ("W_in", W_in),
                        ("W_fb", W_fb), ("bias", bias), ("leak", leak)):
            self.register_buffer(name, t)
        self.activation = activation
        # equal diagonal blocks of W (an ensemble from stack): a GPU step can multiply them as a batch
        self.blocks = 1
        self.f = resolve_activation(activation)

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
        return cls._from_csr(W, W.data, W_in, W_fb, bias, leak, activation, dtype, device)

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
        """
        streams = _Streams(seed)
        if seed is None:
            W, known = random_recurrent(size, streams[0], connectivity=connectivity, in_degree=in_degree), None
        else:
            W, known = _seeded_draw(size, connectivity, in_degree, seed, streams)
        # scaled into new values, as scale_to_spectral_radius does, without a second SciPy matrix
        values = W.data * _rescale_factor(W, spectral_radius, known)
        W_in = _uniform(streams[1], (size, input_size), input_connectivity)
        W_in *= np.broadcast_to(np.asarray(input_scaling, dtype=np.float64), (input_size,))[None, :]
        W_fb = _uniform(streams[2], (size, feedback_size), 1.0) * feedback_scaling if feedback_size else \
            np.zeros((size, 0))
        bias = _uniform(streams[3], (size,), 1.0) * bias_scaling
        return cls._from_csr(W, values, W_in, W_fb, bias, leak_rate, activation, dtype, device)

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


class EchoStatePropertyWarning(UserWarning):
    """The configuration cannot have the echo state property."""
