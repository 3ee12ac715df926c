"""Random draws of a reservoir's weights: the sparse recurrent matrix and its seeded random streams."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

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
