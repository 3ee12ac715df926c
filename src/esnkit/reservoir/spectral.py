"""Spectral radius, rescaling to a chosen radius, and the echo-state check.

Eigenvalue problems are the costly part of building a reservoir, so the spectrum of the matrix
each seed draws is kept (bounded, keyed by size, connectivity, in-degree and seed).
"""

from __future__ import annotations

import collections
import threading

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from ..errors import EsnkitWarning
from .initializers import _Streams, random_recurrent

# Up to this size dense eigenvalues are exact and about as quick as ARPACK, and they are kept for
# the leaky echo-state check; above it ARPACK on the sparse matrix is cheaper (measured at 10
# nonzeros per row, one thread: 65 vs 43 ms at 200 neurons, 144 vs 60 ms at 300, 413 vs 41 ms at
# 500) and still reaches the 1e-6 relative accuracy we promise on the spectral radius.
# Dense eigenvalues come from NumPy's LAPACK (OpenBLAS in NumPy's wheels). Up to DENSE_EIG_MAX its
# results do not depend on the BLAS thread count (checked bit for bit at 2 to 216 neurons with 1, 2
# and 4 threads on an Intel Xeon, OpenBLAS 0.3.31; from 220 neurons they do), nor on torch's, so the
# weights a seed draws do not either, and no process-wide setting is switched to get there.
# PyTorch's LAPACK (MKL) is quicker at 100 neurons on one thread (1.6 vs 2.5 ms, medians on that
# Xeon; paid once per seed and process, as the spectrum is kept), but its last bits depend on its
# thread count from about 130 neurons, so it had to run with torch set to one thread, a setting all
# threads of the process share.
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
    """All eigenvalues of a square float64 matrix (NumPy's LAPACK: see ``DENSE_EIG_MAX``)."""
    return np.linalg.eigvals(np.asarray(dense, dtype=np.float64))


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


class EchoStatePropertyWarning(EsnkitWarning):
    """The configuration cannot have the echo state property."""
