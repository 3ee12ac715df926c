"""Random draws of a reservoir's weights: the sparse recurrent matrix and its seeded random streams."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from .. import params

# Dense in-degree rows draw their columns from uniform keys this many at a time (8 MB of float64).
KEY_BLOCK_VALUES = 1 << 20


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


def _uniform(rng: np.random.Generator, shape: tuple[int, ...], density: float) -> np.ndarray:
    w = rng.uniform(-1.0, 1.0, size=shape)
    if density < 1.0:
        w *= rng.random(shape) < density
    return w


# ---------------------------------------------------------------------------------------------------
# Deterministic and orthogonal reservoirs, and the registry ESN(initializer=...) reads.
#
# An initializer is a callable ``(size, rng) -> scipy.sparse.csr_matrix`` giving the unscaled W;
# the reservoir then rescales it to the requested spectral radius. Two optional attributes say
# what is known without an eigenvalue problem: ``radius`` (the unscaled matrix's spectral radius)
# and ``nilpotent`` (all eigenvalues 0: W cannot be rescaled, its nonzeros are multiplied by the
# spectral radius instead).


def delay_line(size: int, rng: np.random.Generator | None = None) -> sp.csr_matrix:
    """The delay line reservoir (DLR) of Rodan & Tiňo 2011: ``W[i + 1, i] = 1``, a shift register.

    W is nilpotent (every eigenvalue is 0), so it cannot be rescaled to a spectral radius: a
    reservoir built from it multiplies its links by ``spectral_radius`` instead (the ``r`` of the
    paper), and its spectral radius stays 0. ``rng`` is not used: the matrix is deterministic.
    """
    rows = np.arange(1, size)
    return sp.csr_matrix((np.ones(size - 1), (rows, rows - 1)), shape=(size, size))


delay_line.nilpotent = True


def orthogonal(size: int, rng: np.random.Generator) -> sp.csr_matrix:
    """A random orthogonal matrix, uniform (Haar) over the orthogonal group: ``Q`` of the QR
    factorisation of a standard Gaussian matrix, each column's sign fixed by ``R``'s diagonal.

    Every eigenvalue has modulus 1, so the spectral radius is 1 before scaling (dense: N² nonzeros).
    """
    q, r = np.linalg.qr(rng.standard_normal((size, size)))
    q *= np.where(np.diag(r) < 0, -1.0, 1.0)[None, :]
    return sp.csr_matrix(q)


orthogonal.radius = 1.0


class CycleJumps:
    """The cycle reservoir with regular jumps (CRJ) of Rodan & Tiňo 2012.

    A unidirectional cycle ``W[(i + 1) mod N, i] = cycle_weight`` plus bidirectional jumps of
    length ``jump`` between units ``0, jump, 2·jump, ...``: ``W[i, i + jump] = W[i + jump, i] =
    jump_weight`` for ``i = 0, jump, 2·jump, ...`` while ``i + jump < N``, and a last jump from
    ``N - jump`` back to unit 0 when ``jump`` divides ``N``. ``jump_weight=0`` gives the simple
    cycle reservoir (SCR) of Rodan & Tiňo 2011.

    The reservoir rescales W to the requested spectral radius, so only the ratio
    ``jump_weight / cycle_weight`` matters. ``jump`` must be in [2, N/2] for jumps to be added
    (a reservoir smaller than ``2 * jump`` gets the plain cycle).

    The defaults (jumps of 7, a tenth of the cycle's weight) keep most of the cycle's memory
    (benchmarks/results/initializers.md); Rodan & Tiňo choose ``jump`` and both weights per task on
    validation data, which a search can do with initializer objects fixed one by one.
    """

    name = "cycle_jumps"

    def __init__(self, jump: int = 7, cycle_weight: float = 1.0, jump_weight: float = 0.1) -> None:
        if isinstance(jump, bool) or not isinstance(jump, (int, np.integer)) or jump < 2:
            raise ValueError(f"CycleJumps: jump must be an integer ≥ 2, got {jump!r}")
        for label, w in (("cycle_weight", cycle_weight), ("jump_weight", jump_weight)):
            if isinstance(w, bool) or not isinstance(w, (int, float, np.floating, np.integer)) or not np.isfinite(w):
                raise ValueError(f"CycleJumps: {label} must be a finite number, got {w!r}")
        if cycle_weight == 0:
            raise ValueError("CycleJumps: cycle_weight must not be 0 (the cycle is the reservoir)")
        self.jump, self.cycle_weight, self.jump_weight = int(jump), float(cycle_weight), float(jump_weight)

    def __call__(self, size: int, rng: np.random.Generator | None = None) -> sp.csr_matrix:
        i = np.arange(size)
        rows, cols, vals = [(i + 1) % size], [i], [np.full(size, self.cycle_weight)]
        if self.jump_weight != 0 and size >= 2 * self.jump:
            a = np.arange(0, size - self.jump, self.jump)
            b = a + self.jump
            if size % self.jump == 0:
                a, b = np.append(a, size - self.jump), np.append(b, 0)
            rows += [a, b]
            cols += [b, a]
            vals += [np.full(a.size, self.jump_weight)] * 2
        W = sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(size, size))
        W.sum_duplicates()
        return W

    def _key(self) -> tuple:
        return (self.jump, self.cycle_weight, self.jump_weight)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CycleJumps) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return f"CycleJumps(jump={self.jump}, cycle_weight={self.cycle_weight}, jump_weight={self.jump_weight})"


# name -> initializer; "random" is drawn with connectivity / in_degree and its spectrum kept per seed
INITIALIZERS: dict = {
    "random": random_recurrent,
    "cycle_jumps": CycleJumps(),
    "delay_line": delay_line,
    "orthogonal": orthogonal,
}


def register_initializer(name: str, fn) -> None:
    """Make ``ESN(initializer=name)`` build W with ``fn(size, rng) -> scipy.sparse matrix`` (then
    rescaled to the spectral radius). The built-in names cannot be replaced."""
    if not isinstance(name, str) or not name or name == "custom":
        raise ValueError(f"an initializer's name must be a non-empty string other than 'custom', got {name!r}")
    if name in ("random", "cycle_jumps", "delay_line", "orthogonal"):
        raise ValueError(f"{name!r} is a built-in initializer and cannot be replaced")
    if not callable(fn):
        raise TypeError(f"initializer {name!r} must be callable as fn(size, rng), got {type(fn).__name__}")
    INITIALIZERS[name] = fn
    if name not in params.INITIALIZERS:
        params.INITIALIZERS.append(name)


def as_recurrent_matrix(m, size: int) -> sp.csr_matrix:
    """A user's recurrent matrix (dense NumPy, SciPy sparse, or a dense or sparse torch tensor) as a
    float64 CSR matrix with sorted indices, once it is ``size x size``, finite and not all zeros."""
    if sp.issparse(m):
        W = sp.csr_matrix(m, dtype=np.float64)
    elif type(m).__module__.startswith("torch"):
        import torch

        t = m.detach().cpu()
        if t.layout != torch.strided:
            t = t.to_dense()
        if not (t.is_floating_point() or t.dtype in (torch.int32, torch.int64)):
            raise ValueError(f"initializer: the matrix must hold real numbers, got a tensor of dtype {t.dtype}")
        W = sp.csr_matrix(t.to(dtype=torch.float64).numpy())
    else:
        try:
            a = np.asarray(m)
        except (TypeError, ValueError):
            a = None
        if a is None or a.dtype.kind not in "iuf":
            raise ValueError(f"initializer must be a registered name, an initializer or a matrix, got "
                             f"{type(m).__name__}")
        W = sp.csr_matrix(a.astype(np.float64))
    if W.shape != (size, size):
        raise ValueError(f"initializer: the matrix has shape {W.shape} but reservoir_size={size} needs "
                         f"({size}, {size})")
    if not np.isfinite(W.data).all():
        raise ValueError("initializer: the matrix holds NaN or infinite values; give a finite matrix")
    W.eliminate_zeros()
    if W.nnz == 0:
        raise ValueError("initializer: the matrix is all zeros, which cannot be rescaled to a spectral radius")
    W.sort_indices()
    return W

