"""`esnkit bench`: every protocol, every contestant, one table, the plots.

Contestants per protocol, all trained on the protocol's training series and scored on its test
windows: esnkit with its defaults, esnkit with the configuration `esnkit.search` found
(:mod:`.configs`), reservoirpy with that same configuration (skipped with a note when it is not
installed) and an LSTM tuned over a small grid and trained by BPTT with early stopping. Reservoir
contestants are repeated over reservoir seeds, the LSTM over initialisation seeds; times are
medians over those repeats. Then the time each needs to reach the LSTM's best accuracy is compared.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import os
import statistics
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import torch

from .. import __version__, plotting
from ..reservoir import clear_spectrum_cache
from . import configs, lstm
from .forecasters import ESNForecaster, ReservoirpyForecaster, reservoirpy_available
from .measure import PeakRSS, machine, timed
from .protocols import Protocol, Score, get

# How the LSTM's validation free runs are scored during training, per protocol (steps).
LSTM_VAL_HORIZON = {"mackey_glass": 84, "lorenz": 200, "rossler": 500}
# Long free runs drawn in the attractor plots (steps), and the plane drawn.
# Free-running steps shown in the forecast plots.
FORECAST_PLOT = {"mackey_glass": 84, "lorenz": 830, "rossler": 2800}
ATTRACTOR = {"mackey_glass": (3000, {"delay": 17}), "lorenz": (5000, {"dims": (0, 2)}),
             "rossler": (8000, {"dims": (0, 1)})}


@dataclass(frozen=True)
class Settings:
    """How much of everything a run does. ``Settings.full()`` is the published run;
    ``Settings.quick()`` is the smoke test (same protocols, fewer starts, seeds and seconds)."""

    quick: bool = False
    protocols: tuple[str, ...] = ("mackey_glass", "lorenz", "rossler")
    esn_seeds: int = 5
    rpy_seeds: int = 3
    lstm_seeds: int = 3
    lstm_budget: float = 180.0
    lstm_patience: int = 60
    lstm_tune_budget: float = 24.0
    lstm_candidates: tuple[dict[str, Any], ...] = lstm.CANDIDATES
    sizes: tuple[int, ...] = (25, 50, 75, 100, 150, 200, 300, 500, 1000)
    sweep_fits: int = 7  # first fits timed per size of the sweep (the median is reported)
    starts: dict[str, int] = field(default_factory=dict)
    reservoirpy: bool = True

    @classmethod
    def full(cls, **kw: Any) -> Settings:
        return cls(**kw)

    @classmethod
    def quick_run(cls, **kw: Any) -> Settings:
        base = dict(quick=True, esn_seeds=2, rpy_seeds=1, lstm_seeds=1, lstm_budget=5.0, lstm_patience=5,
                    lstm_tune_budget=1.5,
                    lstm_candidates=lstm.CANDIDATES[:2], sizes=(50, 200), sweep_fits=2,
                    starts={"mackey_glass": 20, "lorenz": 4, "rossler": 3})
        return cls(**{**base, **kw})

    def __post_init__(self) -> None:
        for name in ("esn_seeds", "rpy_seeds", "lstm_seeds", "lstm_patience", "sweep_fits"):
            v = getattr(self, name)
            if not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be a positive integer, got {v!r}")
        for name in ("lstm_budget", "lstm_tune_budget"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0 seconds, got {getattr(self, name)!r}")
        if not self.protocols:
            raise ValueError("protocols must name at least one protocol")
        for p in self.protocols:
            get(p)  # raises on an unknown name
        if not self.sizes or any(not isinstance(n, int) or n < 1 for n in self.sizes):
            raise ValueError(f"sizes must be positive integers, got {self.sizes!r}")


@dataclass
class Entry:
    """One contestant on one protocol, over its seeds."""

    protocol: str
    contestant: str
    config: str
    seeds: list[int] = field(default_factory=list)
    scores: list[Score] = field(default_factory=list)
    fit_s: list[float] = field(default_factory=list)
    forecast_s: list[float] = field(default_factory=list)
    peak_mb: list[float | None] = field(default_factory=list)
    best_s: list[float] = field(default_factory=list)  # LSTM: training time to its kept weights
    history: list[dict[str, list[float]]] = field(default_factory=list)  # LSTM: validation error per epoch
    note: str = ""

    @property
    def headlines(self) -> list[float]:
        return [s.headline for s in self.scores]

    def median(self, key: str | None = None) -> float:
        vals = self.headlines if key is None else [s.values[key] for s in self.scores]
        return float(np.median(vals)) if vals else float("nan")

    def as_dict(self) -> dict[str, Any]:
        return {"protocol": self.protocol, "contestant": self.contestant, "config": self.config, "seeds": self.seeds,
                "headline": self.headlines, "values": [s.values for s in self.scores], "fit_s": self.fit_s,
                "forecast_s": self.forecast_s, "peak_mb": self.peak_mb, "best_s": self.best_s, "history": self.history,
                "note": self.note}


@dataclass
class ProtocolResult:
    protocol: Protocol
    entries: list[Entry]
    sweep: list[dict[str, Any]]
    lstm_tuning: list[tuple[dict[str, Any], float]]
    lstm_choice: dict[str, Any]
    plots: list[str]


def _first_fit(model: Any, w, memory: bool = True) -> tuple[float, PeakRSS | None]:
    """Fit ``model`` on the training series as a first fit of its reservoir runs: seconds, and the
    memory it took when ``memory`` (else None).

    Measuring memory returns freed memory to the OS first (see :class:`PeakRSS`), so the fit then
    faults its buffers back in: 1.3-2.5 ms more for a fit of 25-75 neurons, 10-20 % of it. Fits
    timed for their speed alone (the size sweep's) skip it.
    """
    clear_spectrum_cache()  # every fit pays for its own eigenvalue problem, as a user's first fit does
    if not memory:
        return timed(lambda: model.fit(w.train))[1], None
    with PeakRSS() as mem:
        _, fit_s = timed(lambda: model.fit(w.train))
    return fit_s, mem


def _measure(entry: Entry, model: Any, seed: int, p: Protocol, w, memory: bool = True) -> Any:
    """Fit, forecast and score one seed; a contestant that fails is noted, and the run goes on."""
    try:
        fit_s, mem = _first_fit(model, w, memory)
        forecasts, fc_s = timed(lambda: model.forecast(w.contexts, p.horizon))
    except Exception as exc:  # noqa: BLE001 - one contestant's failure must not lose the others' results
        entry.note += f"seed {seed} failed: {type(exc).__name__}: {exc}; "
        return None
    score = p.score(forecasts, w)
    entry.seeds.append(seed)
    entry.scores.append(score)
    entry.fit_s.append(fit_s)
    entry.forecast_s.append(fc_s)
    entry.peak_mb.append(mem.mb if mem is not None else None)
    return forecasts


def _describe(params: dict[str, Any]) -> str:
    keys = ("reservoir_size", "spectral_radius", "leak_rate", "input_scaling", "bias_scaling", "ridge", "washout")
    short = {"reservoir_size": "N", "spectral_radius": "ρ", "leak_rate": "leak", "input_scaling": "in",
             "bias_scaling": "bias", "ridge": "ridge", "washout": "washout"}
    full = {"spectral_radius": 0.9, "leak_rate": 1.0, "input_scaling": 1.0, "bias_scaling": 0.5, "ridge": 1e-8,
            **params}
    return ", ".join(f"{short[k]} {full[k]:.3g}" if isinstance(full[k], float) else f"{short[k]} {full[k]}"
                     for k in keys if k in full)


def run_protocol(name: str, settings: Settings, out: str, log: Callable[[str], None] = print) -> ProtocolResult:
    """Run every contestant on one protocol; writes its three PNGs into ``out``."""
    starts = settings.starts.get(name)
    p = get(name, **({"starts": starts} if starts else {}))
    w = p.windows()
    log(f"[{name}] {p.title}: train {w.train.shape[0]} steps, {w.contexts.shape[0]} test starts, "
        f"horizon {p.horizon}")
    entries: list[Entry] = []
    examples: dict[str, np.ndarray] = {}
    long_models: dict[str, Any] = {}

    tuned = configs.tuned(name)
    rows: list[tuple[str, Callable[[int], dict[str, Any]]]] = [
        ("esnkit, defaults", lambda s: configs.default(name, seed=s)),
    ]
    if tuned is not None:
        rows.append(("esnkit, tuned by esnkit.search", lambda s: configs.tuned(name, seed=s)))
    else:
        log(f"[{name}] no tuned configuration in {configs.TUNED_FILE.name}: run benchmarks/tune_protocols.py")
    for label, params_of in rows:
        e = Entry(name, label, _describe(params_of(0)))
        for s in range(settings.esn_seeds):
            model = ESNForecaster(**params_of(s))
            f = _measure(e, model, s, p, w)
            if s == 0 and f is not None:
                examples[label], long_models[label] = f[0], model
        entries.append(e)
        log(f"[{name}] {label}: {_fmt_headline(p, e)}, fit {_median_s(e.fit_s)}")

    if settings.reservoirpy and tuned is not None:
        why = reservoirpy_available()
        e = Entry(name, "reservoirpy, same configuration", _describe(tuned))
        if why:
            e.note = why
            log(f"[{name}] reservoirpy skipped: {why}")
        else:
            for s in range(settings.rpy_seeds):
                _measure(e, ReservoirpyForecaster(**configs.tuned(name, seed=s)), s, p, w)
            log(f"[{name}] reservoirpy: {_fmt_headline(p, e)}, fit {_median_s(e.fit_s)}")
        entries.append(e)

    # LSTM: the grid first (each candidate for lstm_tune_budget seconds), then the chosen one per seed.
    common = {"val_horizon": LSTM_VAL_HORIZON[name], "patience": settings.lstm_patience}
    choice, tried = lstm.tune(w.train, settings.lstm_candidates, time_budget=settings.lstm_tune_budget, **common)
    for cand, err in tried:
        log(f"[{name}] LSTM tuning {cand}: validation error {err:.3g}")
    e = Entry(name, "LSTM (BPTT, tuned)", lstm.LSTMForecaster(**choice).describe())
    for s in range(settings.lstm_seeds):
        model = lstm.LSTMForecaster(**choice, **common, time_budget=settings.lstm_budget, seed=s)
        f = _measure(e, model, s, p, w)
        if f is None:
            continue
        e.best_s.append(model.history.best_seconds)
        e.history.append({"seconds": model.history.seconds, "validation": model.history.validation})
        if s == 0:
            examples[e.contestant], long_models[e.contestant] = f[0], model
    entries.append(e)
    log(f"[{name}] LSTM: {_fmt_headline(p, e)}, trained {_median_s(e.fit_s)}")

    sweep = []
    if tuned is not None:
        # Rounds over all sizes rather than each size's fits back to back: on a shared machine load
        # comes in bursts of seconds, which would otherwise land on every fit of one size.
        # each size's configuration with its own seed (0 unless its search chose the draw too)
        sized_params = {n: configs.tuned(name, reservoir_size=n) for n in settings.sizes}

        def sized_model(n: int) -> ESNForecaster:
            return ESNForecaster(**sized_params[n])

        sized = {n: Entry(name, f"esnkit tuned, N={n}", "") for n in settings.sizes}
        for n, e_n in sized.items():
            _measure(e_n, sized_model(n), 0, p, w, memory=False)
        for _ in range(settings.sweep_fits - 1):
            for n, e_n in sized.items():
                if not e_n.scores or e_n.note:  # the score is the same for every fit of one seed: only times
                    continue
                try:
                    e_n.fit_s.append(_first_fit(sized_model(n), w, memory=False)[0])
                except Exception as exc:  # noqa: BLE001 - keep the fits timed so far, and the run
                    e_n.note = f"fit {len(e_n.fit_s) + 1} failed: {type(exc).__name__}: {exc}"
        for n, e_n in sized.items():
            if e_n.note:
                log(f"[{name}] N={n}: {e_n.note}")
            if not e_n.scores:
                continue
            sweep.append({"reservoir_size": n, "fit_s": statistics.median(e_n.fit_s), "headline": e_n.headlines[0],
                          "fits": len(e_n.fit_s), "searched_at_size": configs.searched_at(name, n),
                          "seed": sized_params[n].get("seed", 0)})
        log(f"[{name}] size sweep: " + ", ".join(f"N={r['reservoir_size']}{_own(r)}: {r['headline']:.3g} "
                                                 f"in {r['fit_s'] * 1e3:.1f} ms" for r in sweep))

    plots = _plots(p, w, examples, entries, long_models, out)
    return ProtocolResult(p, entries, sweep, tried, choice, plots)


def _plots(p: Protocol, w, examples, entries, long_models, out: str) -> list[str]:
    dt = p.time_scale
    unit = "Lyapunov times" if p.lyapunov_exponent else "steps"
    n = min(FORECAST_PLOT[p.name], p.horizon)
    paths = [plotting.plot_forecasts(
        w.truth[0, :n], {k: v[:n] for k, v in examples.items()}, os.path.join(out, f"{p.name}_forecast.png"),
        dt=dt, time_unit=unit, title=f"{p.title}: first test start, free-running (seed 0 of each)")]
    curves = {e.contestant: e.scores[0].error_curve for e in entries if e.scores}
    paths.append(plotting.plot_error_growth(
        curves, os.path.join(out, f"{p.name}_error_growth.png"), dt=dt, time_unit=unit,
        threshold=None if p.metric == "nrmse84" else p.thresholds[0],
        title=f"{p.title}: error growth, RMS over {w.contexts.shape[0]} test starts (seed 0)"))
    _, test = p.series()
    steps, plane = ATTRACTOR[p.name]
    steps = min(steps, len(test) - p.warmup)
    runs = {k: m.forecast(w.contexts[:1], steps)[0] for k, m in long_models.items()}
    paths.append(plotting.plot_attractor(
        test[p.warmup: p.warmup + steps], runs, os.path.join(out, f"{p.name}_attractor.png"),
        title=f"{p.title}: {steps}-step free run vs truth", **plane))
    return paths


def _fmt(v: float, metric: str) -> str:
    return f"{v:.3g}" if metric == "nrmse84" else f"{v:.2f}"


def _spread(p: Protocol, e: Entry) -> str:
    """'median [lowest–highest]' of the headline over seeds."""
    h = e.headlines
    spread = f" [{_fmt(min(h), p.metric)}–{_fmt(max(h), p.metric)}]" if len(h) > 1 else ""
    return f"{_fmt(float(np.median(h)), p.metric)}{spread}"


def _fmt_headline(p: Protocol, e: Entry) -> str:
    what = "NRMSE84" if p.metric == "nrmse84" else "median VPT (Lyapunov times)"
    return f"{what} {_spread(p, e)}" if e.scores else "not run"


def _median_s(vals: list[float]) -> str:
    return f"{statistics.median(vals):.3g} s" if vals else "— (failed)"


def _mb(vals: list[float | None]) -> str:
    v = [x for x in vals if x is not None]
    return ("<1" if max(v) < 1 else f"{max(v):.0f}") if v else "n/a"


def _own(row: dict[str, Any]) -> str:
    """A sweep row's mark when its configuration was searched at its own size."""
    return "*" if row.get("searched_at_size") else ""


def speed_comparison(r: ProtocolResult) -> dict[str, Any] | None:
    """The LSTM's best accuracy, its training time to reach it, and the fastest ESN at least as accurate."""
    p = r.protocol
    lstm_e = next((e for e in r.entries if e.contestant.startswith("LSTM")), None)
    tuned_e = next((e for e in r.entries if e.contestant.startswith("esnkit, tuned")), None)
    if lstm_e is None or not lstm_e.scores or tuned_e is None or not r.sweep:
        return None
    i = max(range(len(lstm_e.scores)), key=lambda k: lstm_e.headlines[k] if p.metric == "vpt"
            else -lstm_e.headlines[k])
    best, t_best = lstm_e.headlines[i], lstm_e.best_s[i]
    reaching = [row for row in r.sweep if p.better(row["headline"], best)]
    fastest = min(reaching, key=lambda row: row["fit_s"]) if reaching else None
    tuned = tuned_e.median()
    if p.metric == "nrmse84":
        quality = best / tuned if tuned > 0 else float("inf")  # how many times lower the ESN's error is
    else:
        quality = tuned / best if best > 0 else float("inf")  # how many times longer the ESN forecasts
    return {"lstm_best": best, "lstm_seed": lstm_e.seeds[i], "lstm_time_to_best": t_best,
            "lstm_train_s": lstm_e.fit_s[i], "esn_size": fastest and fastest["reservoir_size"],
            "esn_fit_s": fastest and fastest["fit_s"], "esn_headline": fastest and fastest["headline"],
            "esn_searched_at_size": bool(fastest and fastest.get("searched_at_size")),
            "speedup": (t_best / fastest["fit_s"]) if fastest else None, "tuned": tuned, "quality_ratio": quality}


def report(results: list[ProtocolResult], settings: Settings, command: str, seconds: float) -> list[str]:
    """The results as Markdown lines."""
    try:
        import reservoirpy
        rpy = reservoirpy.__version__
    except Exception:  # noqa: BLE001
        rpy = "not installed"
    kind = "quick run: a smoke test with few starts, seeds and seconds, not for quoting" if settings.quick \
        else "full run"
    lines = [
        f"# esnkit bench: chaotic forecasting, esnkit vs LSTM vs reservoirpy ({kind})", "",
        f"{datetime.date.today().isoformat()}, {machine()}, {torch.get_num_threads()} torch thread(s); "
        f"esnkit {__version__}, torch {torch.__version__}, numpy {np.__version__}, reservoirpy {rpy}. "
        f"Command: `{command}`; {seconds:.0f} s in all.", "",
        "Times are medians over the seeds; the error columns give the median over seeds and, in brackets, "
        "the lowest and highest seed. Training time is everything `fit` does (reservoir construction "
        "with its eigenvalue problem, harvest and solve; for the LSTM every epoch until early stopping); "
        "forecast time covers all test starts; peak MB is the growth of the process's peak RSS during "
        "training (the largest over seeds).", "",
    ]
    for r in results:
        p = r.protocol
        lines += [f"## {p.title}", "", p.description + ".", ""]
        if p.metric == "nrmse84":
            lines += ["| contestant | configuration | seeds | NRMSE84 | RMS over 84 steps | one-step | training s "
                      "| forecast s | peak MB |", "|---|---|---|---|---|---|---|---|---|"]
        else:
            lines += ["| contestant | configuration | seeds | median VPT ε=0.3 (LT) | median VPT ε=0.5 (LT) | "
                      "training s | forecast s | peak MB |", "|---|---|---|---|---|---|---|---|"]
        for e in r.entries:
            if not e.scores:
                cols = 6 if p.metric == "nrmse84" else 5
                status = "failed" if "failed" in e.note else "skipped"
                lines.append(f"| {e.contestant} | {e.config} | — | " + " | ".join([status] * (cols - 1))
                             + f" | {e.note.strip().rstrip(';')} |")
                continue
            head = _spread(p, e)
            if p.metric == "nrmse84":
                mid = f"{head} | {e.median('nrmse_horizon'):.3g} | {e.median('nrmse_one_step'):.3g}"
            else:
                mid = f"{head} | {e.median('vpt_median@0.5'):.2f}"
            lines.append(f"| {e.contestant} | {e.config} | {len(e.seeds)} | {mid} | "
                         f"{statistics.median(e.fit_s):.3g} | {statistics.median(e.forecast_s):.3g} | "
                         f"{_mb(e.peak_mb)} |")
        for e in r.entries:
            if e.note and e.scores:
                lines += ["", f"Note, {e.contestant}: {e.note.strip().rstrip(';')}."]
        tuned_rec = configs.tuned_record(p.name)
        if tuned_rec:
            lines += ["", f"Tuned configuration: found by `esnkit.search` ({tuned_rec['objective']} objective on "
                          f"the last 30% of the training series, {tuned_rec['trials']} trials in "
                          f"{tuned_rec['seconds']:.0f} s, {tuned_rec['date']}; `{tuned_rec['command']}`)."]
        tuning = ", ".join(f"{lstm.LSTMForecaster(**c).describe()}: {err:.3g}" for c, err in r.lstm_tuning)
        lines += ["", f"LSTM tuning: {len(r.lstm_tuning)} candidates × {settings.lstm_tune_budget:g} s "
                      f"(validation free-run error {tuning}); the chosen one trained for up to "
                      f"{settings.lstm_budget:g} s per seed, early stopping on that error (patience "
                      f"{settings.lstm_patience} epochs of 50 batches)."]
        if r.sweep:
            own = any(row.get("searched_at_size") for row in r.sweep)
            fits = max(row["fits"] for row in r.sweep)
            lines += ["", f"Tuned ESN by reservoir size (reservoir seed 0 unless given; fit time median of {fits}, "
                      f"in {fits} rounds over the sizes, without the memory measurement"
                      + ("; * = configuration searched at that size, the others run the N=1000 one" if own else "")
                      + "): " + "; ".join(f"N={row['reservoir_size']}{_own(row)}"
                                          + (f" (seed {row['seed']})" if row.get("seed", 0) else "")
                                          + f": {_fmt(row['headline'], p.metric)} "
                                          f"in {row['fit_s'] * 1e3:.1f} ms"
                                          + (f" (median of {row['fits']}: a later fit failed)"
                                             if row["fits"] < fits else "") for row in r.sweep) + "."]
        lines += ["", " ".join(f"![{os.path.basename(x)}]({os.path.basename(x)})" for x in r.plots), ""]
    lines += ["## Training time to reach the LSTM's best accuracy", "",
              "The LSTM's best: its best seed's test score, reached after its best-validation epoch (the weights "
              "early stopping keeps). The ESN: of the size sweep, the cheapest to fit that scores at least as "
              "well on the same test windows (* = its configuration was searched at that size, on the training "
              "series only); its full fit time (median of the sweep's fits).", "",
              "| protocol | LSTM best | LSTM training time to it (s) | fastest ESN that matches it | its fit (ms) | "
              "speed-up | tuned ESN (N=1000) | accuracy vs LSTM best |", "|---|---|---|---|---|---|---|---|"]
    for r in results:
        c = speed_comparison(r)
        if c is None:
            continue
        p = r.protocol
        esn = (f"N={c['esn_size']}{'*' if c['esn_searched_at_size'] else ''} ({_fmt(c['esn_headline'], p.metric)})"
               if c["esn_size"] else "none in the sweep")
        fit = f"{c['esn_fit_s'] * 1e3:.1f}" if c["esn_fit_s"] else "—"
        speed = f"{c['speedup']:,.0f}×" if c["speedup"] else "—"
        quality = (f"{c['quality_ratio']:.1f}× lower error" if p.metric == "nrmse84"
                   else f"{c['quality_ratio']:.1f}× longer VPT")
        lines.append(f"| {p.name} | {_fmt(c['lstm_best'], p.metric)} | {c['lstm_time_to_best']:.1f} | {esn} | {fit} | "
                     f"{speed} | {_fmt(c['tuned'], p.metric)} | {quality} |")
    return lines


def _write(path: str, text: str) -> None:
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)  # never leave half a results file behind


def run(settings: Settings | None = None, out: str = "esnkit-bench", *, command: str = "esnkit bench",
        log: Callable[[str], None] = print) -> list[ProtocolResult]:
    """Run the benchmark; writes ``out/results.md``, ``out/results.json`` and three PNGs per protocol.

    The results files are rewritten after every protocol, so an interrupted run keeps the protocols
    it finished (``results.md`` then says which are missing).
    """
    import time

    settings = settings or Settings.full()
    os.makedirs(out, exist_ok=True)
    t0 = time.perf_counter()
    results: list[ProtocolResult] = []
    for name in settings.protocols:
        results.append(run_protocol(name, settings, out, log))
        text = _write_results(results, settings, command, time.perf_counter() - t0, out)
    log(text)
    return results


def _write_results(results: list[ProtocolResult], settings: Settings, command: str, seconds: float,
                   out: str) -> str:
    lines = report(results, settings, command, seconds)
    missing = [n for n in settings.protocols if n not in {r.protocol.name for r in results}]
    if missing:
        lines[1:1] = ["", f"**Incomplete: not run yet: {', '.join(missing)}.**"]
    text = "\n".join(lines) + "\n"
    _write(os.path.join(out, "results.md"), text)
    payload = {"settings": dataclasses.asdict(settings),
               "entries": [e.as_dict() for r in results for e in r.entries],
               "sweeps": {r.protocol.name: r.sweep for r in results},
               "speed": {r.protocol.name: speed_comparison(r) for r in results}}
    _write(os.path.join(out, "results.json"), json.dumps(payload, indent=1, default=float) + "\n")
    return text
