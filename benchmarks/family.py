"""The reservoir model family on the pinned forecasting protocols, each model beside reservoirpy's where
reservoirpy 0.4.2 has it: one line per (model, system).

    OMP_NUM_THREADS=1 python benchmarks/family.py            # about 10 minutes of CPU
    OMP_NUM_THREADS=1 python benchmarks/family.py --quick    # smoke run: N 100, few starts, one repeat

Systems: the protocols ``lorenz`` (median valid prediction time at ε = 0.3, Lyapunov times, 20 test
starts) and ``mackey_glass`` (NRMSE84, 100 test starts) of ``esnkit.benchmarks``, each with its own
training series and test windows; every model is fitted once on the whole training series
(one-step-ahead, ``series[t] -> series[t+1]``) and forecasts every test window (teacher-forced
through the context, then free-running).

Models (esnkit; reservoirpy beside it where it has the model):

- ``ESN``: the tuned configuration of ``tuned.json`` (N = 1000, reservoir seed 0), and the same with
  ``initializer`` "cycle_jumps", "delay_line", "orthogonal", ``features`` "squared", "quadratic" and
  ``trainer`` "rls" (RLS, forgetting 1, δ = the tuned ridge; where that fit fails, one more row with δ
  chosen on the training series). reservoirpy: the benchmark's
  ``ReservoirpyForecaster`` (same size, spectral radius, leak, input and bias scaling, about 10
  recurrent connections per neuron, the input in the readout, the same ridge); its ``orthogonal``
  and ``line`` matrices for the orthogonal and delay-line reservoirs; an ``RLS(alpha=ridge)`` node
  trained online step by step for the RLS row. It has no cycle-with-jumps reservoir (``ring`` is the
  cycle without jumps) and no squared-state readout.
- ``NVAR``: Lorenz with Gauthier et al. (2021)'s k = 2, s = 1, p = 2, ridge 2.5e-6, the increment
  learned, at the protocol's Δt = 0.02 (theirs: 0.025) and on its 6000 training steps (theirs: 400),
  and the same k, s, p with the ridge chosen on the training series. Mackey-Glass: k, s, p and ridge
  chosen on the training series only (below). reservoirpy:
  ``NVAR(delay=k, order=p, strides=s) >> Ridge`` (it has no constant, its Ridge fits an unregularised
  intercept where esnkit regularises the constant feature, and its monomials are those of order p
  alone: the same features for p = 2 only).
- ``DeepESN``: 2 layers x 500 with the tuned ESN's spectral radius, leak, input and bias scaling and
  ridge; the inter-layer scaling chosen on the training series only. reservoirpy:
  ``[input, input >> res1, input >> res1 >> res2] >> Ridge`` with the same hyper-parameters.

Choosing on the training series: the first 70 % of it fits each candidate, which then forecasts
windows whose truth lies in the last 30 % (contexts of the protocol's warm-up length, the protocol's
horizon for Mackey-Glass and 1100 steps for Lorenz, 20 starts), scored by the protocol's metric; the
test windows are never seen. Times: process CPU time, one thread; fit: median of the repeats,
esnkit and reservoirpy interleaved (alternating which goes first); forecast: one call over all test
windows (esnkit one batched call; reservoirpy one start at a time, its closed loop one ``step`` per
step). Writes benchmarks/results/family.md and family.json.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import json
import math
import platform
import statistics
import sys
import time
import warnings
from functools import partial
from pathlib import Path
from typing import Any, Callable

import _report
import numpy as np
import torch

import esnkit as ek
import esnkit.benchmarks as bm
from esnkit.benchmarks.forecasters import ReservoirpyForecaster, _contexts, _series
from esnkit.benchmarks.protocols import Windows

HERE = Path(__file__).resolve().parent
SYSTEMS = ("lorenz", "mackey_glass")
GAUTHIER = dict(delays=2, skip=1, order=2, ridge=2.5e-6)
# Mackey-Glass NVAR candidates (k, s, p), every one with each ridge of RIDGES: at most 1001 features
MG_NVAR = [(k, s, p) for p in (2, 3, 4) for k in (2, 4, 6, 8, 10) for s in (1, 2, 3, 4)]
RIDGES = (1e-13, 1e-11, 1e-9, 1e-7, 1e-5)
LORENZ_RIDGES = (2.5e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0)  # NVAR ridges tried on Lorenz at Gauthier's k, s, p
INTER = (0.1, 0.3, 1.0)  # DeepESN inter-layer scalings tried
RLS_DELTAS = (1e-8, 1e-7, 1e-6)  # RLS regularisations tried where the tuned ridge fails


# ------------------------------------------------------------------ esnkit models behind the two-method interface
class ModelForecaster:
    """An esnkit model built by ``make()``, fitted one step ahead; ``forecast`` is its batched forecast."""

    def __init__(self, make: Callable[[], Any]) -> None:
        self.make = make
        self.model = None

    def fit(self, series: Any) -> ModelForecaster:
        s = _series(series)
        self.model = self.make().fit(s[:-1], s[1:])
        return self

    def forecast(self, contexts: Any, horizon: int) -> np.ndarray:
        c = _contexts(contexts, horizon, contexts.shape[-1])
        return np.asarray(self.model.forecast(c, horizon, check_finite=False))


def esn(params: dict, **change: Any) -> bm.ESNForecaster:
    return bm.ESNForecaster(**{**params, **change})


def nvar(cfg: dict) -> ModelForecaster:
    return ModelForecaster(lambda: ek.NVAR(cfg["delays"], skip=cfg["skip"], order=cfg["order"], ridge=cfg["ridge"],
                                           predict_increment=True))


def deep(params: dict, inter: float) -> ModelForecaster:
    half = params["reservoir_size"] // 2
    return ModelForecaster(lambda: ek.DeepESN(
        [half, half], spectral_radius=params["spectral_radius"], leak_rate=params["leak_rate"],
        input_scaling=params["input_scaling"], inter_scaling=inter, bias_scaling=params["bias_scaling"],
        ridge=params["ridge"], washout=params["washout"], seed=params["seed"]))


# ------------------------------------------------------------------ reservoirpy models, the same forecast loop
class RpyForecaster(ReservoirpyForecaster):
    """The benchmark's reservoirpy ESN with another recurrent matrix, readout or depth (``kind``)."""

    def __init__(self, kind: str, inter_scaling: float = 1.0, **kw: Any) -> None:
        self.kind = kind
        super().__init__(**kw)
        self.kw["inter_scaling"] = inter_scaling

    def _reservoir(self, n: int, input_scaling: float, seed: int, W: Any = None):
        from reservoirpy.mat_gen import uniform
        from reservoirpy.nodes import Reservoir

        k = self.kw
        bias = uniform(low=-k["bias_scaling"], high=k["bias_scaling"]) if k["bias_scaling"] > 0 else 0.0
        extra = {} if W is None else {"W": W}
        return Reservoir(n, sr=k["spectral_radius"], lr=k["leak_rate"], input_scaling=input_scaling,
                         input_connectivity=1.0, rc_connectivity=min(1.0, 10 / n), bias=bias, seed=seed, **extra)

    def fit(self, series: Any) -> RpyForecaster:
        from reservoirpy.mat_gen import line, orthogonal
        from reservoirpy.nodes import RLS, Input, Ridge

        s = _series(series)
        k = self.kw
        n, seed = k["reservoir_size"], k["seed"]
        inp = Input()
        if self.kind == "deep":
            r1 = self._reservoir(n // 2, k["input_scaling"], seed)
            r2 = self._reservoir(n // 2, k["inter_scaling"], seed + 1)
            self.model = [inp, inp >> r1, inp >> r1 >> r2] >> Ridge(ridge=k["ridge"])
        else:
            W = None
            if self.kind == "orthogonal":
                W = orthogonal(n, n, sr=k["spectral_radius"], seed=seed)
            elif self.kind == "delay_line":  # links of ρ, as esnkit's delay line (its spectral radius is 0)
                W = line(n, n, weights=np.full(n - 1, k["spectral_radius"]))
            res = self._reservoir(n, k["input_scaling"], seed, W)
            readout = RLS(alpha=k["ridge"]) if self.kind == "rls" else Ridge(ridge=k["ridge"])
            self.model = [inp >> res, inp] >> readout
        self.model.fit(s[:-1], s[1:], warmup=k["washout"])
        return self


class RpyNVAR:
    """reservoirpy's NVAR >> Ridge learning the increment, closed loop ``u = u + model(u)``. Its NVAR holds the
    linear part and the monomials of order p alone (esnkit's: orders 2..p): the same features for p = 2."""

    def __init__(self, cfg: dict) -> None:
        self.cfg = cfg
        self.model = None

    def fit(self, series: Any) -> RpyNVAR:
        from reservoirpy.nodes import NVAR, Ridge

        s = _series(series)
        c = self.cfg
        self.model = NVAR(delay=c["delays"], order=c["order"], strides=c["skip"]) >> Ridge(ridge=c["ridge"])
        self.model.fit(s[:-1], s[1:] - s[:-1], warmup=(c["delays"] - 1) * c["skip"])
        return self

    def forecast(self, contexts: Any, horizon: int) -> np.ndarray:
        c = _contexts(contexts, horizon, contexts.shape[-1])
        out = np.empty((c.shape[0], horizon, c.shape[2]))
        for i, ctx in enumerate(c):
            self.model.reset()
            u = ctx[-1] + np.asarray(self.model.run(ctx))[-1]
            out[i, 0] = u
            for h in range(1, horizon):
                u = u + np.asarray(self.model.step(u)).reshape(-1)
                out[i, h] = u
        return out


# ------------------------------------------------------------------ choosing on the training series only
def validation_windows(p: bm.Protocol, starts: int) -> tuple[np.ndarray, Windows]:
    """The first 70 % of the training series, and windows whose truth lies in the last 30 %."""
    train = p.series()[0]
    cut = int(0.7 * len(train))
    horizon = min(p.horizon, 1100)
    last = len(train) - horizon
    at = np.linspace(cut, last, starts).astype(int)
    contexts = np.stack([train[t - p.warmup:t] for t in at])
    truth = np.stack([train[t:t + horizon] for t in at])
    fit_part = np.array(train[:cut])
    return fit_part, Windows(fit_part, contexts, truth, fit_part.std(axis=0))


def validate(p: bm.Protocol, candidates: dict[str, Any], starts: int) -> tuple[str, dict[str, float]]:
    """Each candidate forecaster's validation score; the best one's name."""
    fit_part, w = validation_windows(p, starts)
    scores = {}
    for name, f in candidates.items():
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                f.fit(fit_part)
                scores[name] = p.score(f.forecast(w.contexts, w.truth.shape[1]), w).headline
        except Exception as exc:  # noqa: BLE001 - a candidate that fails is not chosen
            print(f"  {name}: {type(exc).__name__}: {exc}", flush=True)
            scores[name] = -np.inf if p.metric == "vpt" else np.inf
    best = max(scores, key=scores.get) if p.metric == "vpt" else min(scores, key=scores.get)
    return best, scores


# ------------------------------------------------------------------ one row: interleaved fits, one forecast each
def cpu_fit(make: Callable[[], Any], train: np.ndarray) -> tuple[Any, float]:
    f = make()
    t0 = time.process_time()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        f.fit(train)
    return f, time.process_time() - t0


def measure(p: bm.Protocol, w: Windows, makers: dict[str, Callable[[], Any] | None], repeats: int) -> dict:
    """Fit each library's model ``repeats`` times (interleaved), forecast all test windows once, score."""
    names = [k for k, m in makers.items() if m is not None]
    fits: dict[str, list[float]] = {k: [] for k in names}
    fitted: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for r in range(repeats):
        for k in (names if r % 2 == 0 else names[::-1]):
            if k in errors:
                continue
            try:
                fitted[k], dt = cpu_fit(makers[k], w.train)
            except Exception as exc:  # noqa: BLE001 - a fit that fails is a result of the row
                errors[k] = f"{type(exc).__name__}: {str(exc).splitlines()[0]}"
                continue
            fits[k].append(dt)
    out = {}
    for k in names:
        if k in errors:
            out[k] = {"error": errors[k]}
            continue
        t0 = time.process_time()
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            pred = fitted[k].forecast(w.contexts, p.horizon)
        fc = time.process_time() - t0
        s = p.score(pred, w)
        out[k] = {"fit_s": statistics.median(fits[k]), "fit_all_s": fits[k], "forecast_s": fc,
                  "score": s.headline, "values": s.values}
    return out


def cells(metric: str, r: dict | None) -> str:
    if r is None:
        return "— | — | — |"
    if "error" in r:
        why = "Cholesky: not positive definite" if "cholesky" in r["error"] else r["error"].split(":")[0]
        return f"fit fails ({why}) | — | — |"
    return f"{r['fit_s']:.3f} | {r['forecast_s']:.3f} | {fmt_score(metric, r['score'])} |"


def nvar_size(cfg: dict, d: int) -> int:
    """NVAR features: the constant, k d delayed values and their monomials of orders 2..p."""
    lin = cfg["delays"] * d
    return 1 + sum(math.comb(lin + q - 1, q) for q in range(1, cfg["order"] + 1))


def fmt_score(metric: str, v: float | None) -> str:
    if v is None:
        return "—"
    if not np.isfinite(v):
        return "inf"
    return f"{v:.2f}" if metric == "vpt" else f"{v:.3g}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smoke run: N 100, 3/5 test starts, one repeat, "
                                                         "no reservoirpy RLS")
    ap.add_argument("--out", type=Path, default=HERE / "results" / "family.md")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    quick = args.quick
    repeats = 1 if quick else 3
    val_starts = 5 if quick else 20
    have_rpy = bm.reservoirpy_available() is None
    t_start = time.process_time()
    rows, records, choices = [], [], {}
    for system in SYSTEMS:
        p = bm.get(system, starts=3 if system == "lorenz" else 5) if quick else bm.get(system)
        w = p.windows()
        params = bm.configs.tuned(system)
        if quick:  # the N=1000 configuration at N=100: a smoke run, not a result
            params["reservoir_size"] = 100
        n = params["reservoir_size"]
        d = w.train.shape[1]
        rpy_kw = {k: params[k] for k in ("reservoir_size", "spectral_radius", "leak_rate", "input_scaling",
                                         "bias_scaling", "ridge", "washout", "seed")}

        # NVAR configurations: Gauthier et al.'s for Lorenz (and its ridge chosen on the training series),
        # k, s, p and ridge chosen on the training series for Mackey-Glass
        if system == "lorenz":
            nvar_rows = [(dict(GAUTHIER), "Gauthier et al. (2021): k 2, s 1, p 2, ridge 2.5e-6, increment learned "
                                          "(not searched)")]
            cands = {f"ridge {r:g}": nvar({**GAUTHIER, "ridge": r}) for r in (LORENZ_RIDGES[:2] if quick else
                                                                              LORENZ_RIDGES)}
            what = "k 2, s 1, p 2 of Gauthier et al.; ridge"
        else:
            cands = {f"k {k}, s {s}, p {o}, ridge {r:g}": nvar(dict(delays=k, skip=s, order=o, ridge=r))
                     for (k, s, o) in (MG_NVAR[:2] if quick else MG_NVAR) for r in (RIDGES[:2] if quick else RIDGES)}
            nvar_rows = []
            what = "k, s, p and ridge"
        best, scores = validate(p, cands, val_starts)
        c = cands[best].make()
        ncfg = dict(delays=c.delays, skip=c.skip, order=c.order, ridge=c.ridge)
        nvar_rows.append((ncfg, f"{what} of {len(cands)} candidates by the best validation "
                                f"{'VPT' if p.metric == 'vpt' else 'NRMSE84'} on the training series "
                                f"({fmt_score(p.metric, scores[best])})"))
        choices[f"{system} NVAR"] = {"chosen": best, "validation": scores}
        print("NVAR", system, best, f"{scores[best]:.3g}", flush=True)
        # DeepESN inter-layer scaling, chosen on the training series
        inter_c = {f"inter_scaling {g:g}": deep(params, g) for g in (INTER[:2] if quick else INTER)}
        best, scores = validate(p, inter_c, val_starts)
        inter = float(best.split()[-1])
        choices[f"{system} DeepESN"] = {"chosen": best, "validation": scores}
        print("DeepESN", system, best, {k: round(v, 6) for k, v in scores.items()}, flush=True)

        feats = {"linear": 1 + d + n, "squared": 1 + d + n, "quadratic": 1 + d + 2 * n}
        rp = have_rpy
        entries = [
            ("ESN (tuned)", f"N {n}, F {feats['linear']}", "tuned.json (esnkit.search on the training series)",
             partial(esn, params), partial(ReservoirpyForecaster, **rpy_kw) if rp else None),
            ("ESN, cycle_jumps", f"N {n}, F {feats['linear']}", "tuned config, initializer changed",
             partial(esn, params, initializer="cycle_jumps"), None),
            ("ESN, delay_line", f"N {n}, F {feats['linear']}", "tuned config, initializer changed",
             partial(esn, params, initializer="delay_line"),
             partial(RpyForecaster, "delay_line", **rpy_kw) if rp else None),
            ("ESN, orthogonal", f"N {n}, F {feats['linear']}", "tuned config, initializer changed",
             partial(esn, params, initializer="orthogonal"),
             partial(RpyForecaster, "orthogonal", **rpy_kw) if rp else None),
            ("ESN, squared", f"N {n}, F {feats['squared']}", "tuned config, features changed",
             partial(esn, params, features="squared"), None),
            ("ESN, quadratic", f"N {n}, F {feats['quadratic']}", "tuned config, features changed",
             partial(esn, params, features="quadratic"), None),
            ("ESN, rls", f"N {n}, F {feats['linear']}", "tuned config, trainer RLS (δ = ridge, forgetting 1)",
             partial(esn, params, trainer="rls"),
             partial(RpyForecaster, "rls", **rpy_kw) if rp and not quick else None),
            *[(f"NVAR k {c['delays']}, s {c['skip']}, p {c['order']}, ridge {c['ridge']:g}", f"F {nvar_size(c, d)}",
               how, partial(nvar, c), partial(RpyNVAR, c) if rp else None) for c, how in nvar_rows],
            (f"DeepESN 2 x {n // 2}", f"N {n}, F {1 + d + n}",
             f"tuned scalings shared; inter_scaling {inter:g} by validation on the training series",
             partial(deep, params, inter),
             partial(RpyForecaster, "deep", inter_scaling=inter, **rpy_kw) if rp else None),
        ]
        for i, (name, size, how, ours, theirs) in enumerate(entries):  # a row inserted after i is run next
            res = measure(p, w, {"esnkit": ours, "reservoirpy": theirs}, repeats)
            e, r = res["esnkit"], res.get("reservoirpy")
            row = f"| {name} | {p.name} | {size} | {cells(p.metric, e)} {cells(p.metric, r)}"
            rows.append(row)
            records.append({"model": name, "system": system, "size": size, "config_chosen_by": how,
                            "metric": p.metric, "esnkit": e, "reservoirpy": r})
            print(row, flush=True)
            if name == "ESN, rls" and "error" in e:  # the tuned ridge fails RLS: choose δ on the training series
                cands = {f"δ {g:g}": esn(params, trainer="rls", ridge=g)
                         for g in (RLS_DELTAS[:1] if quick else RLS_DELTAS)}
                best, scores = validate(p, cands, val_starts)
                delta = float(best.split()[-1])
                choices[f"{system} ESN rls"] = {"chosen": best, "validation": scores}
                print("RLS", system, best, scores, flush=True)
                tried = ", ".join(c[2:] for c in cands)
                entries.insert(i + 1, (f"ESN, rls, δ {delta:g}", size,
                                f"trainer RLS at the tuned config with δ {delta:g} (of {tried}) by validation "
                                "on the training series (RLS fails at the tuned ridge)",
                                partial(esn, params, trainer="rls", ridge=delta),
                                partial(RpyForecaster, "rls", **{**rpy_kw, "ridge": delta}) if rp and not quick
                                else None))
    cpu_total = time.process_time() - t_start
    rpy_version = importlib.metadata.version("reservoirpy") if have_rpy else "not installed"

    cmd = "OMP_NUM_THREADS=1 python benchmarks/family.py" + (" --quick" if quick else "")
    today = datetime.date.today().isoformat()
    lines = [
        f"# The reservoir model family against reservoirpy ({today}{', quick smoke run' if quick else ''})",
        "",
        f"Machine: {_report.machine()}, one thread. Python {platform.python_version()}, torch {torch.__version__}, "
        f"esnkit {ek.__version__}, reservoirpy {rpy_version}. Command: `{cmd}` "
        f"({cpu_total:.0f} s of CPU in all).",
        "",
        "Systems: the pinned protocols `lorenz` (score: median valid prediction time at ε = 0.3 in Lyapunov "
        f"times over {bm.get('lorenz').starts if not quick else 3} test starts, higher is better) and "
        f"`mackey_glass` (score: NRMSE84 over {bm.get('mackey_glass').starts if not quick else 5} test starts, "
        "lower is better), each model fitted once on the protocol's training series, one reservoir seed (0). "
        f"Fit: process CPU time of `fit` in seconds, median of {repeats} repeat(s), esnkit and reservoirpy "
        "interleaved; forecast: CPU seconds of one forecast of all test windows (esnkit batched, reservoirpy one "
        "start and one step at a time). N: reservoir neurons; F: readout features (with the constant). "
        "—: reservoirpy 0.4.2 has no such model.",
        "",
        "| model | system | size | esnkit fit s | esnkit forecast s | esnkit score | reservoirpy fit s | "
        "reservoirpy forecast s | reservoirpy score |",
        "|---|---|---|---|---|---|---|---|---|",
        *rows,
        "",
        "How each configuration was chosen:",
        "",
    ]
    seen = set()
    for rec in records:
        key = (rec["system"], rec["config_chosen_by"])
        how = rec["config_chosen_by"]
        if ("validation" in how or "Gauthier" in how) and key not in seen:
            seen.add(key)
            lines.append(f"- {rec['model']} on {rec['system']}: {rec['config_chosen_by']}.")
    lines += [
        "- ESN rows: the tuned configuration of each protocol (`esnkit.benchmarks.configs.tuned`, found by "
        "`esnkit.search` on the training series), with only the named setting changed (not re-tuned).",
        "- Validation (the rows chosen \"by validation\" above): each candidate fitted on the first 70 % of the "
        f"training series, scored by the protocol's metric on {val_starts} windows whose truth lies in its last "
        "30 % (Lorenz: 1100-step horizon); the test windows are not used. Every candidate's score is in "
        "family.json.",
        "",
        "Notes:",
        "",
        "- Random reservoirs are drawn by each library's own generators from the same hyper-parameters, so the "
        "two scores of a row are two draws, not the same network; reservoirpy's input weights are ±scaling "
        "(Bernoulli), esnkit's uniform. The orthogonal and delay-line reservoirs are the same construction in "
        "both (reservoirpy `mat_gen.orthogonal`, and `mat_gen.line` with links of ρ).",
        "- esnkit remembers the spectral radius of a reservoir it has drawn (per process, size and seed), so its "
        "repeats after the first skip that eigenvalue problem; reservoirpy computes it at every fit. The "
        "median of the repeats is one of those later fits.",
        "- RLS: esnkit's `trainer=\"rls\"` solves the ridge problem of δ = ridge with blocks of 64 rows (Woodbury); "
        "reservoirpy's `RLS(alpha=ridge)` starts from P = I/alpha, updates one step at a time, and learns its "
        "bias as a running mean of the errors (not the least-squares intercept). At the tuned ridges "
        "(1e-9, 3e-11) P starts at 1e9 to 3e10 · I, where one-row updates in float64 lose accuracy.",
        "- NVAR: reservoirpy's NVAR has no constant feature and its Ridge fits an unregularised intercept; "
        "esnkit regularises the constant like every other feature. For p = 2 the features are otherwise the same; "
        "for p > 2 reservoirpy's NVAR holds the monomials of order p alone (esnkit: orders 2..p), so its row "
        "is a smaller model with the same k, s, p and ridge, not the same one.",
        "- DeepESN (reservoirpy): the second reservoir reads the first's states scaled by the inter-layer "
        "scaling; the readout reads [input, layer 1, layer 2], as esnkit's.",
    ]
    _report.write(str(args.out), lines)
    payload = {"date": today, "machine": _report.machine(), "command": cmd, "quick": quick, "repeats": repeats,
               "cpu_seconds": cpu_total, "python": platform.python_version(), "torch": torch.__version__,
               "esnkit": ek.__version__, "reservoirpy": rpy_version, "rows": records,
               "choices": choices}
    args.out.with_suffix(".json").write_text(json.dumps(payload, indent=1, default=float) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
