"""A plain NumPy re-implementation of the ESN equations, written straight from docs/model.md.

    x[t] = (1 - a) x[t-1] + a f(W x[t-1] + W_in u[t] + W_fb y[t-1] + b)
    y[t] = W_out [1; u[t]; x[t]]
    W_out = Y^T Z (Z^T Z + ridge I)^-1   over the steps t >= washout

One sequence at a time, one step at a time, dense matrices, no chunking: deliberately nothing in
common with the library's implementation but the equations.
"""

from __future__ import annotations

import itertools

import numpy as np


class Weights:
    """Dense float64 copies of a fitted esnkit reservoir's weights."""

    def __init__(self, reservoir) -> None:
        self.W = reservoir.scipy_recurrent().toarray()
        self.W_in = reservoir.W_in.double().cpu().numpy()
        self.W_fb = reservoir.W_fb.double().cpu().numpy()
        self.b = reservoir.bias.double().cpu().numpy()
        self.a = reservoir.leak.double().cpu().numpy()
        self.f = {"tanh": np.tanh, "identity": lambda z: z, "relu": lambda z: np.maximum(z, 0.0),
                  "sigmoid": lambda z: 1.0 / (1.0 + np.exp(-z))}[reservoir.activation]


def step(w: Weights, x: np.ndarray, u: np.ndarray | None, y_prev: np.ndarray | None) -> np.ndarray:
    pre = w.W @ x + w.b
    if u is not None and w.W_in.shape[1]:
        pre = pre + w.W_in @ u
    if y_prev is not None and w.W_fb.shape[1]:
        pre = pre + w.W_fb @ y_prev
    return (1 - w.a) * x + w.a * w.f(pre)


def feature(x, u, use_bias: bool, use_input: bool, squares: str | None = None) -> np.ndarray:
    """[1; u; s(x)]: s(x) = x; with squares='half' x_i^2 for odd i; with 'all' [x; x^2]."""
    if squares == "half":
        x = [v * v if i % 2 else v for i, v in enumerate(x)]
    elif squares == "all":
        x = list(x) + [v * v for v in x]
    parts = ([1.0] if use_bias else []) + (list(u) if use_input and u is not None else []) + list(x)
    return np.array(parts)


def harvest(w: Weights, U, Y, x0=None, y0=None) -> np.ndarray:
    """Teacher-forced states (T, N): the output fed back at step t is the target Y[t-1]."""
    T = len(Y) if U is None else len(U)
    n = w.W.shape[0]
    x = np.zeros(n) if x0 is None else np.array(x0, dtype=float)
    y_prev = np.zeros(w.W_fb.shape[1]) if y0 is None else np.array(y0, dtype=float)
    xs = []
    for t in range(T):
        x = step(w, x, None if U is None else U[t], y_prev)
        xs.append(x)
        if Y is not None:
            y_prev = Y[t]
    return np.array(xs)


def ridge_readout(Xs, Us, Ys, washout: int, ridge: float, use_bias=True, use_input=True, squares=None) -> np.ndarray:
    """W_out (D, F) from lists of per-sequence states, inputs and targets."""
    Z, T = [], []
    for X, U, Y in zip(Xs, Us, Ys):
        for t in range(washout, len(X)):
            Z.append(feature(X[t], None if U is None else U[t], use_bias, use_input, squares))
            T.append(Y[t])
    Z, T = np.array(Z), np.array(T)
    return np.linalg.solve(Z.T @ Z + ridge * np.eye(Z.shape[1]), Z.T @ T).T


def run_free(w: Weights, W_out, x0, y0, *, U=None, n=None, forecaster=False, use_bias=True, use_input=True,
             squares=None):
    """Outputs (T, D) of a driven (``U``) or free-running (``n`` steps) network feeding back its outputs."""
    x, y = np.array(x0, dtype=float), np.array(y0, dtype=float)
    out = []
    for t in range(len(U) if U is not None else n):
        u = U[t] if U is not None else (y if forecaster else None)
        x = step(w, x, u, y)
        y = W_out @ feature(x, u, use_bias, use_input and u is not None, squares)
        out.append(y)
    return np.array(out)


def _positions(p: str, v: np.ndarray, washout: int) -> np.ndarray | None:
    """The rows of ``v`` (one sequence's states or inputs) that position pool ``p`` keeps, flattened."""
    L = len(v)
    if p == "last":
        return v[-1]
    if p == "first":
        return v[washout]
    for prefix in ("last", "at", "seg"):
        if p.startswith(prefix) and p[len(prefix):].isdigit():
            k = int(p[len(prefix):])
            break
    else:
        return None
    if prefix == "last":
        padded = np.vstack([np.zeros((max(k - L, 0), v.shape[1])), v])
        return padded[-k:].ravel()
    fracs = [j / (k - 1) for j in range(k)] if prefix == "at" else [(j + 1) / k for j in range(k)]
    return v[[washout + int(np.round((L - 1 - washout) * f)) for f in fracs]].ravel()


def model_space(xs: np.ndarray, u: np.ndarray, washout: int, relative_ridge: float) -> np.ndarray:
    """The reservoir model space: ridge coefficients of u[t+1] on [1; x[t]], t = washout..L-2, with
    λ = relative_ridge · mean(x²) on the states (the intercept not shrunk), flattened (N+1, D_in)."""
    Z = np.hstack([np.ones((len(xs), 1)), xs])[washout:-1]
    G = Z.T @ Z
    lam = relative_ridge * np.diag(G)[1:].mean() + 1e-12 if len(Z) else 1e-12
    reg = np.r_[1e-12, np.ones(xs.shape[1])]
    return np.linalg.solve(G + np.diag(lam * reg), Z.T @ u[washout + 1:]).ravel()


def _pool(p: str, v: np.ndarray, washout: int) -> np.ndarray:
    """Pool ``p`` of one sequence's states or inputs ``v``: a statistic over the steps after the
    washout, or the rows at chosen steps."""
    kept = v[washout:]
    stats = {"mean": np.mean, "std": np.std, "max": np.max}
    return stats[p](kept, axis=0) if p in stats else _positions(p, v, washout)


def pooled(w: Weights, u: np.ndarray, pools: list[str], inputs: list[str], washout: int = 0) -> np.ndarray:
    """One sequence's pooled features: [input summary; pools of its states], from the zero state.
    ``inputs`` lists the statistics ('mean', 'std') first, then input position pools."""
    xs = harvest(w, u, None)
    from esnkit.readout.pooling import MODEL_RIDGE

    return np.concatenate([_pool(s, u, washout) for s in inputs]
                          + [model_space(xs, u, washout, MODEL_RIDGE) if p == "model" else _pool(p, xs, washout)
                             for p in pools])


def ridge_classifier(F: np.ndarray, labels: np.ndarray, ridge: float, weights: np.ndarray | None = None) -> np.ndarray:
    """W (classes, 1 + F): ridge on one-hot targets over standardised features, intercept not
    regularised, mapped back to raw rows [1; f]."""
    classes = np.unique(labels)
    Y = (labels[:, None] == classes[None]).astype(float)
    w = np.ones(len(F)) if weights is None else weights
    m = (w[:, None] * F).sum(0) / w.sum()
    s = np.sqrt((w[:, None] * (F - m) ** 2).sum(0) / w.sum())
    s[s < 1e-12 * (1 + np.abs(m))] = 1.0
    Fs = (F - m) / s
    ym = (w[:, None] * Y).sum(0) / w.sum()
    A = (Fs * w[:, None]).T @ Fs + ridge * np.eye(F.shape[1])
    Wf = np.linalg.solve(A, (Fs * w[:, None]).T @ (Y - ym)).T  # (classes, F) on standardised features
    b = ym - Wf @ np.zeros(F.shape[1])
    return np.hstack([(b - Wf @ (m / s))[:, None], Wf / s])


def nvar_features(u, delays: int, skip: int, order: int, bias: bool = True) -> np.ndarray:
    """Next-generation RC features (T, F) of one sequence ``u`` (T, D) from a zero delay line:
    ``[1; O_lin; monomials of O_lin of orders 2..order]`` with ``O_lin = [u[t]; u[t-skip]; ...]``,
    each order's monomials as ``itertools.combinations_with_replacement`` lists their indices."""
    u = np.asarray(u, dtype=float).reshape(len(u), -1)
    T, D = u.shape
    rows = []
    for t in range(T):
        lin = np.concatenate([u[t - j * skip] if t - j * skip >= 0 else np.zeros(D) for j in range(delays)])
        mono = [np.prod(lin[list(c)]) for q in range(2, order + 1)
                for c in itertools.combinations_with_replacement(range(len(lin)), q)]
        rows.append(np.concatenate([[1.0] if bias else [], lin, mono]))
    return np.array(rows)


def deep_esn_states(layers: list[Weights], U, input_to_all: bool = False) -> list[np.ndarray]:
    """Each layer's states (T, N_l) of a deep ESN driven by ``U`` (T, D) from zeros: layer 1 reads
    ``u[t]``, layer l > 1 reads ``[x(l-1)[t]; u[t]]`` (``input_to_all``) or ``x(l-1)[t]``."""
    U = np.asarray(U, dtype=float).reshape(len(U), -1)
    xs = [np.zeros(w.W.shape[0]) for w in layers]
    out: list[list[np.ndarray]] = [[] for _ in layers]
    for t in range(len(U)):
        for k, w in enumerate(layers):
            inp = U[t] if k == 0 else (np.concatenate([xs[k - 1], U[t]]) if input_to_all else xs[k - 1])
            xs[k] = step(w, xs[k], inp, None)
            out[k].append(xs[k])
    return [np.array(o) for o in out]


def deep_esn_free(layers: list[Weights], W_out, xs, u0, n: int, input_to_all: bool = False) -> np.ndarray:
    """Outputs (n, D) of a deep ESN run closed-loop from the layers' states ``xs`` with first input
    ``u0``, each output ``W_out [1; u; x1; ...; xL]`` the next input."""
    xs, u, out = [np.array(x, dtype=float) for x in xs], np.array(u0, dtype=float), []
    for _ in range(n):
        for k, w in enumerate(layers):
            inp = u if k == 0 else (np.concatenate([xs[k - 1], u]) if input_to_all else xs[k - 1])
            xs[k] = step(w, xs[k], inp, None)
        u = W_out @ np.concatenate([[1.0], u, *xs])
        out.append(u)
    return np.array(out)


def force(w: Weights, U, Y, alpha: float, *, every: int = 1, forgetting: float = 1.0, washout: int = 0,
          posterior: bool = False, use_bias: bool = True, use_input: bool = True, x0=None, z0=None):
    """FORCE learning (Sussillo & Abbott 2009) on one sequence from zeros (or ``x0``, ``z0``), as
    docs/online.md writes it: the network feeds back its own output ``z[t] = W_out r[t]`` while
    ``W_out`` is updated by RLS with the a-priori error ``z[t] - Y[t]`` on every ``every``-th step
    past the washout, from ``W_out = 0``, ``P = I / alpha``; ``posterior``: after an update the output
    fed back is ``W_out r[t]`` with the new weights. Returns ``W_out`` (D, F), the outputs fed back
    (T, D) and the last state ``x``."""
    Y = np.asarray(Y, dtype=float).reshape(len(Y), -1)
    x = np.zeros(w.W.shape[0]) if x0 is None else np.array(x0, dtype=float)
    z = np.zeros(Y.shape[1]) if z0 is None else np.array(z0, dtype=float)
    W_out = P = None
    out = []
    for t in range(len(Y)):
        u = None if U is None else np.atleast_1d(U[t])
        x = step(w, x, u, z)
        r = feature(x, u, use_bias, use_input and u is not None)
        if W_out is None:
            W_out, P = np.zeros((Y.shape[1], len(r))), np.eye(len(r)) / alpha
        z = W_out @ r
        if t >= washout and (t - washout) % every == 0:
            Pr = P @ r
            k = Pr / (forgetting + r @ Pr)
            W_out = W_out - np.outer(z - Y[t], k)
            P = (P - np.outer(k, Pr)) / forgetting
            if posterior:
                z = W_out @ r
        out.append(z)
    return W_out, np.array(out), x


def lagged_feature(xs, us, t, use_bias, use_input, squares=None, state_delays=0, input_delays=0, skip=1):
    """z[t] = [1; u[t]; u[t-s]; ...; s(x[t]); x[t-s]; ...] of the states ``xs`` and inputs ``us`` (lists
    indexed by step; a step before the first reads zeros)."""
    def at(seq, i):
        return np.asarray(seq[i]) if i >= 0 else np.zeros_like(np.asarray(seq[0]))
    parts = [1.0] if use_bias else []
    if use_input and us is not None:
        for d in range(input_delays + 1):
            parts += list(at(us, t - d * skip))
    parts += list(feature(xs[t], None, False, False, squares))
    for d in range(1, state_delays + 1):
        parts += list(at(xs, t - d * skip))
    return np.array(parts)
