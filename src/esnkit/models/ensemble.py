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
from typing import Any

from .diagnostics import check_fit
from .engine import Harvest
from .esn import ESN, check_members


class Ensemble:
    """K unfitted :class:`ESN` models with one reservoir size, fitted or harvested together.

    ``models`` share ``reservoir_size``, ``activation``, ``washout``, the readout flags, ``scale``,
    ``chunk_size``, ``dtype`` and ``device``; anything else (spectral radius, leak, scalings,
    feedback, connectivity, seed, ridge, solver) may differ.
    """

    def __init__(self, models: Sequence[ESN]) -> None:
        models = check_members(models)
        for i, m in enumerate(models):
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
        return ESN.harvest(self.models, inputs, targets, split=split, keep_all=keep_all, check_echo_state=build_check,
                           stacklevel=4)

    def fit(self, inputs: Any, targets: Any) -> list[ESN]:
        """Fit every member on the same data in one pass; returns the fitted members (also ``self.models``).

        Each member's readout uses its own ``ridge`` and ``solver``. Equivalent to calling
        ``m.fit(inputs, targets)`` on each member (bit-for-bit with the native kernel and sparse
        reservoirs; see the module notes).
        """
        h = ESN.harvest(self.models, inputs, targets, stacklevel=4)
        fitted = [m.fit_from(h, k) for k, m in enumerate(self.models)]
        features = self.models[0]._features(h.input_size).size(self.models[0].reservoir_size, h.input_size)
        for k, m in enumerate(fitted):  # what ESN.fit says about a fit, member by member
            check_fit(m, h.fits[k], h.count, features, h.targets.lengths, inputs, from_zeros=True, stacklevel=2)
        return fitted
