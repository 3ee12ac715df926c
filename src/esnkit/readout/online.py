"""Online trainers: recursive least squares (RLS, with forgetting), normalised least mean squares
(NLMS), and the recipe of FORCE learning (RLS in closed loop, :class:`FORCE`). Each is a
:class:`~esnkit.readout.Trainer`: ``start(F, D, device)`` gives a fit whose ``update(Z, Y)`` moves
the weights row by row and whose ``solve()`` returns them (D, F), float64.

RLS with forgetting factor λ ∈ (0, 1] and start ``P0 = I / delta``, for each row ``z`` (F,) and
target ``y`` (D,)::

    k = P z / (λ + z^T P z)          gain (F,)
    e = y - W z                      a-priori error (D,)
    W <- W + e k^T                   (D, F), every output at once
    P <- (P - k (P z)^T) / λ

It minimises ``sum_t λ^(n-t) ||y_t - W z_t||^2 + λ^n delta ||W||_F^2``: with λ = 1 that is the ridge
problem of ridge = delta, so RLS then equals :class:`~esnkit.readout.Ridge` (delta) in exact
arithmetic. With λ = 1 the rows of a chunk go in as blocks (the Woodbury identity, ``block`` rows
at a time), which is the same update in exact arithmetic and far fewer Python steps.

NLMS with learning rate μ and ``eps`` > 0::

    W <- W + μ (y - W z) z^T / (eps + z^T z)

(``normalised=False``: plain LMS, ``W <- W + μ (y - W z) z^T``.) NLMS is stable for 0 < μ < 2.
"""

from __future__ import annotations

import torch

from ..params import is_int, is_real


class _RLSFit:
    def __init__(self, n_features: int, n_outputs: int, device, forgetting: float, delta: float, block: int) -> None:
        f64 = torch.float64
        self.forgetting, self.block = forgetting, block
        self.W = torch.zeros(n_outputs, n_features, dtype=f64, device=device)
        self.P = torch.eye(n_features, dtype=f64, device=device) / delta
        self.count = 0

    def update(self, Z: torch.Tensor, Y: torch.Tensor) -> None:
        Z, Y = Z.to(torch.float64), Y.to(torch.float64)
        if self.forgetting == 1.0:
            for lo in range(0, Z.shape[0], self.block):
                self._block(Z[lo:lo + self.block], Y[lo:lo + self.block])
            self.count += Z.shape[0]
        else:
            for z, y in zip(Z, Y):
                self.row(z, y)  # counts its row
            self.symmetrise()
        if not (bool(torch.isfinite(self.W).all()) and bool(torch.isfinite(self.P).all())):
            if self.forgetting < 1.0:  # P grows by 1 / forgetting every row the features leave unexcited
                raise ValueError(f"RLS: the weights stopped being finite: with forgetting={self.forgetting:g}, P grows "
                                 "by 1 / forgetting at every row in the directions the features do not excite, and "
                                 "overflowed; use a forgetting factor closer to 1 (0.99 or more, say)")
            raise ValueError("RLS: the weights stopped being finite (P starts at I / delta, and delta is too small "
                             "for the features' scale): use a larger ridge (delta), or scale=True")

    def row(self, z: torch.Tensor, y: torch.Tensor) -> None:
        """One row's update (the module docstring's four lines): ``z`` (F,) and ``y`` (D,), float64.
        The error is the a-priori one, ``y - W z`` with the weights before this row."""
        lam, W, P = self.forgetting, self.W, self.P
        Pz = P @ z
        k = Pz / (lam + z @ Pz)
        W.addr_(y - W @ z, k)
        P.addr_(k, Pz, alpha=-1.0)
        if lam != 1.0:
            P.div_(lam)
        self.count += 1

    def symmetrise(self) -> None:
        """Put ``P`` back on its symmetric part: rounding drifts it off symmetry, and a drifting ``P``
        is RLS's known weak point."""
        self.P.copy_((self.P + self.P.T) * 0.5)

    def _block(self, Z: torch.Tensor, Y: torch.Tensor) -> None:
        # Woodbury for M rows at once: S = I + Z P Z^T, K = P Z^T S^-1, W += (Y - Z W^T)^T K^T, P -= K Z P
        PZt = self.P @ Z.T  # (F, M)
        S = Z @ PZt
        S.diagonal().add_(1.0)
        L, info = torch.linalg.cholesky_ex(S)
        if int(info) == 0:
            K = torch.cholesky_solve(PZt.T, L).T  # (F, M)
        else:
            # S is positive definite in exact arithmetic, but with a tiny delta (P0 = I / delta huge)
            # rounding leaves it indefinite: LU with pivoting still solves it
            K = torch.linalg.solve(S, PZt.T).T
        E = Y - Z @ self.W.T  # (M, D)
        self.W.addmm_(E.T, K.T)
        self.P.addmm_(K, PZt.T, alpha=-1.0)
        self.symmetrise()

    def solve(self) -> torch.Tensor:
        return self.W.clone()


class RLS:
    """Recursive least squares in float64: weights ``W`` (D, F) and inverse correlation ``P`` (F, F)
    updated row by row (see the module docstring for the equations).

    ``forgetting`` λ ∈ (0, 1]: 1 weighs every row alike (then RLS equals ``Ridge(delta)`` up to
    rounding); below 1 a row ``s`` steps old weighs ``λ^s``, a memory of about ``1 / (1 - λ)`` rows,
    so the weights track a mapping that changes. ``delta`` > 0: the start ``P0 = I / delta``, the
    regularisation; ``ridge`` is its name in :class:`~esnkit.readout.Ridge`'s terms, used when
    ``delta`` is None (so ``RLS(ridge=r)`` solves the problem ``Ridge(r)`` does). With forgetting
    the regularisation fades as ``λ^n delta``. ``block``: rows per Woodbury block when λ = 1.
    Memory O(F²), whatever the series length.
    """

    def __init__(self, forgetting: float = 1.0, delta: float | None = None, ridge: float = 1e-8,
                 block: int = 64) -> None:
        if not is_real(forgetting) or not 0 < forgetting <= 1:
            raise ValueError(f"forgetting must be a number in (0, 1], got {forgetting!r}")
        if not is_real(ridge) or ridge <= 0:
            raise ValueError(f"RLS starts from P = I / ridge: ridge must be a finite number > 0, got {ridge!r}")
        if delta is not None and (not is_real(delta) or delta <= 0):
            raise ValueError(f"delta must be None or a finite number > 0 (P starts at I / delta), got {delta!r}")
        if not is_int(block) or block < 1:
            raise ValueError(f"block must be a positive integer, got {block!r}")
        self.forgetting, self.ridge, self.block = float(forgetting), float(ridge), block
        self.delta = float(ridge if delta is None else delta)

    def start(self, n_features: int, n_outputs: int, device: torch.device | str = "cpu") -> _RLSFit:
        return _RLSFit(n_features, n_outputs, device, self.forgetting, self.delta, self.block)

    def __repr__(self) -> str:
        return f"RLS(forgetting={self.forgetting!r}, delta={self.delta!r})"


class FORCE:
    """FORCE learning (Sussillo & Abbott 2009): recursive least squares on the readout while the
    network runs on its own fed-back output, so that the output's error stays small from the first
    steps on. A model with output feedback trains with it (``ESN(trainer=FORCE(...))``; the closed
    loop is the model's, :mod:`esnkit.models.force`); this object holds the recipe.

    Per training step ``t``, with the features ``r[t]`` and the network's output ``z[t] = W r[t]``
    (the weights before the step, the output that is fed back)::

        e[t] = z[t] - y[t]                  a-priori error (D,)
        k    = P r / (λ + r^T P r)          gain (F,)
        W   <- W - e k^T
        P   <- (P - k (P r)^T) / λ

    from ``W = 0`` and ``P0 = I / alpha``: the one-row update of :class:`RLS`, whose error
    ``y - W r`` is ``-e``. ``alpha`` > 0 sets the learning rate at the start (small ``alpha``: large
    ``P0``, fast and aggressive first updates); ``every`` ≥ 1 updates on every ``every``-th step only
    (that step's row; the outputs in between use the weights as they are), which divides the cost
    of the updates; ``forgetting`` λ ∈ (0, 1] as in :class:`RLS` (1: none). ``start`` gives that
    RLS accumulation, ``RLS(forgetting, delta=alpha)`` row by row.

    ``posterior``: feed back, after each update, the a-posteriori output ``W r[t]`` of the updated
    weights instead of ``z[t]`` (Sussillo & Abbott feed back ``z[t]``, the default). Its error
    ``e+`` is the smaller one, so the network trains on outputs nearer the targets.
    """

    def __init__(self, alpha: float = 1.0, every: int = 1, forgetting: float = 1.0, posterior: bool = False) -> None:
        if not is_real(alpha) or alpha <= 0:
            raise ValueError(f"alpha must be a finite number > 0 (P starts at I / alpha), got {alpha!r}")
        if not is_int(every) or every < 1:
            raise ValueError(f"every must be a positive integer (update the weights every that many steps), "
                             f"got {every!r}")
        if not is_real(forgetting) or not 0 < forgetting <= 1:
            raise ValueError(f"forgetting must be a number in (0, 1], got {forgetting!r}")
        if not isinstance(posterior, bool):
            raise TypeError(f"posterior must be True or False, got {posterior!r}")
        self.alpha, self.every, self.forgetting, self.posterior = float(alpha), int(every), float(forgetting), posterior

    def start(self, n_features: int, n_outputs: int, device: torch.device | str = "cpu") -> _RLSFit:
        return _RLSFit(n_features, n_outputs, device, self.forgetting, self.alpha, 1)

    def __repr__(self) -> str:
        return (f"FORCE(alpha={self.alpha!r}, every={self.every!r}, forgetting={self.forgetting!r}, "
                f"posterior={self.posterior!r})")


class _LMSFit:
    def __init__(self, n_features: int, n_outputs: int, device, rate: float, normalised: bool, eps: float) -> None:
        self.rate, self.normalised, self.eps = rate, normalised, eps
        self.W = torch.zeros(n_outputs, n_features, dtype=torch.float64, device=device)
        self.count = 0

    def update(self, Z: torch.Tensor, Y: torch.Tensor) -> None:
        Z, Y = Z.to(torch.float64), Y.to(torch.float64)
        steps = (self.rate / (self.eps + (Z * Z).sum(dim=1))) if self.normalised else \
            torch.full((Z.shape[0],), self.rate, dtype=torch.float64, device=Z.device)
        W = self.W
        for z, y, mu in zip(Z, Y, steps.tolist()):
            W.addr_(y - W @ z, z, alpha=mu)
        self.count += Z.shape[0]

    def solve(self) -> torch.Tensor:
        return self.W.clone()


class LMS:
    """Least mean squares, normalised by default (NLMS): ``W <- W + μ e z^T / (eps + ||z||²)`` per row,
    from ``W = 0`` (see the module docstring). ``learning_rate`` μ > 0 (NLMS: stable for μ < 2);
    ``normalised=False`` gives plain LMS, whose stable rates depend on the features' scale. O(F D)
    memory and work per row, no regularisation: an LMS readout converges slowly where the features
    are ill-conditioned, as reservoir states usually are; RLS does not have that weakness."""

    def __init__(self, learning_rate: float = 0.5, normalised: bool = True, eps: float = 1e-8) -> None:
        if not is_real(learning_rate) or learning_rate <= 0:
            raise ValueError(f"learning_rate must be a finite number > 0, got {learning_rate!r}")
        if normalised and learning_rate >= 2:
            raise ValueError(f"normalised LMS diverges for learning_rate ≥ 2, got {learning_rate!r}")
        if not isinstance(normalised, bool):
            raise TypeError(f"normalised must be True or False, got {normalised!r}")
        if not is_real(eps) or eps <= 0:
            raise ValueError(f"eps must be a finite number > 0, got {eps!r}")
        self.learning_rate, self.normalised, self.eps = float(learning_rate), normalised, float(eps)

    def start(self, n_features: int, n_outputs: int, device: torch.device | str = "cpu") -> _LMSFit:
        return _LMSFit(n_features, n_outputs, device, self.learning_rate, self.normalised, self.eps)

    def __repr__(self) -> str:
        return f"LMS(learning_rate={self.learning_rate!r}, normalised={self.normalised!r})"


__all__ = ["FORCE", "LMS", "RLS"]
