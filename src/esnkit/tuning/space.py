"""Search spaces: which ESN hyper-parameters a search samples, over what ranges, and the TOML file form.

A space maps hyper-parameter names to one of::

    (low, high)                      # uniform float (ints if both are ints)
    {"low": a, "high": b, "log": true, "step": s}
    {"choices": [v1, v2, ...]}       # categorical
    value                            # fixed (not sampled)

The ridge is never part of a space: every trial optimises it exactly over a grid (see
:mod:`esnkit.readout.ridge_path`). A search-space file is TOML::

    objective = "nrmse"          # optional [search] settings may also sit at the top level
    [space]
    spectral_radius = { low = 0.1, high = 1.5 }
    leak_rate = { low = 0.05, high = 1.0, log = true }
    seed = { choices = [0, 1, 2] }
    [fixed]
    reservoir_size = 500
    [ridge]
    low = 1e-12
    high = 1.0
    num = 25
"""

from __future__ import annotations

import math
import numbers
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import import_extra

# SEARCHABLE: the ESN arguments a search may sample or fix. The ridge is optimised exactly, and
# solver, dtype, device and chunk size are how the search runs, not what it searches.
from ..params import SEARCHABLE, is_real
from ..params import check as check_params
from ..readout.ridge_path import ridge_grid

SETTINGS = ("objective", "sampler", "trials", "batch_size", "validation", "split", "folds", "horizon", "starts",
            "warmup", "threshold", "time_scale", "ridge_candidates", "seed", "timeout", "dtype", "device")


@dataclass(frozen=True)
class Param:
    """One sampled hyper-parameter: a numeric range (optionally log-spaced or stepped) or choices."""

    name: str
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = None
    choices: tuple | None = None

    @property
    def is_int(self) -> bool:
        return self.choices is None and all(isinstance(v, numbers.Integral) and not isinstance(v, bool)
                                            for v in (self.low, self.high)) and (
            self.step is None or float(self.step).is_integer())

    def suggest(self, trial) -> Any:
        """Draw a value through an Optuna trial."""
        if self.choices is not None:
            return trial.suggest_categorical(self.name, list(self.choices))
        if self.is_int:
            return trial.suggest_int(self.name, int(self.low), int(self.high), log=self.log,
                                     step=int(self.step or 1))
        return trial.suggest_float(self.name, float(self.low), float(self.high), log=self.log, step=self.step)

    def grid(self) -> list:
        """Every value, for grid search (choices, or a stepped range)."""
        if self.choices is not None:
            return list(self.choices)
        if self.step is None:
            raise ValueError(
                f"grid search needs choices or a step for every parameter; {self.name!r} is a continuous "
                f"range [{self.low}, {self.high}]: give it step = ... or choices = [...]"
            )
        n = int(math.floor((self.high - self.low) / self.step + 1e-9)) + 1
        values = [self.low + i * self.step for i in range(n)]
        return [int(v) for v in values] if self.is_int else [float(v) for v in values]


@dataclass
class SearchSpace:
    """Sampled parameters, fixed parameters and the ridge grid every trial is solved over."""

    params: dict[str, Param]
    fixed: dict[str, Any] = field(default_factory=dict)
    ridges: np.ndarray = field(default_factory=lambda: ridge_grid())
    settings: dict[str, Any] = field(default_factory=dict)

    def config(self, sampled: Mapping[str, Any]) -> dict[str, Any]:
        """ESN constructor arguments for one trial."""
        return {**self.fixed, **sampled}


_number = is_real


def _param(name: str, spec: Any, where: str) -> Param | None:
    """A :class:`Param`, or None when ``spec`` is a fixed value."""
    if isinstance(spec, (tuple, list)) and len(spec) == 2 and all(_number(v) for v in spec):
        spec = {"low": spec[0], "high": spec[1]}
    if not isinstance(spec, Mapping):
        return None
    unknown = set(spec) - {"low", "high", "log", "step", "choices"}
    if unknown:
        raise ValueError(f"{where}{name}: unknown key(s) {sorted(unknown)}; use low/high/log/step or choices")
    if "choices" in spec:
        if set(spec) != {"choices"}:
            raise ValueError(f"{where}{name}: give either choices or low/high, not both")
        choices = spec["choices"]
        if not isinstance(choices, (list, tuple)) or len(choices) == 0:
            raise ValueError(f"{where}{name}: choices must be a non-empty list, got {choices!r}")
        return Param(name, choices=tuple(choices))
    if "low" not in spec or "high" not in spec:
        raise ValueError(f"{where}{name}: a range needs both low and high, got {dict(spec)!r}")
    low, high, log, step = spec["low"], spec["high"], spec.get("log", False), spec.get("step")
    if not (_number(low) and _number(high)):
        raise ValueError(f"{where}{name}: low and high must be finite numbers, got {low!r} and {high!r}")
    if not low < high:
        raise ValueError(f"{where}{name}: empty range, low={low!r} must be below high={high!r}")
    if not isinstance(log, bool):
        raise ValueError(f"{where}{name}: log must be true or false, got {log!r}")
    if log and low <= 0:
        raise ValueError(f"{where}{name}: a log range needs low > 0, got {low!r}")
    if step is not None and (not _number(step) or step <= 0 or log):
        raise ValueError(f"{where}{name}: step must be a number > 0 (and not combined with log), got {step!r}")
    return Param(name, low=low, high=high, log=log, step=step)


# The searchable arguments of each model a search can tune, and how a set of them is checked.
MODELS = ("ESN", "ESNClassifier")
CLASSIFIER_SEARCHABLE = (
    "reservoir_size", "spectral_radius", "connectivity", "in_degree", "leak_rate", "input_scaling",
    "input_connectivity", "bias_scaling", "activation", "washout", "pooling", "input_summary", "class_weight",
    "scale", "n_reservoirs", "seed",
)


def _searchable(model: str) -> tuple[str, ...]:
    return SEARCHABLE if model == "ESN" else CLASSIFIER_SEARCHABLE


def _check_model_params(p: Mapping[str, Any], model: str) -> None:
    if model == "ESN":
        check_params(p)
    else:
        from ..models.classifier import ESNClassifier

        ESNClassifier(**p)


def _check_value(name: str, value: Any, fixed: Mapping[str, Any], where: str, model: str = "ESN") -> None:
    """Fail now, not in trial 57, when a value the space can produce is not a valid model argument."""
    try:
        _check_model_params({**fixed, name: value}, model)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{where}{name} = {value!r} is not a valid {model} setting: {exc}") from None


def make_space(
    space: Mapping[str, Any],
    fixed: Mapping[str, Any] | None = None,
    ridges: Any = None,
    settings: Mapping[str, Any] | None = None,
    *,
    where: str = "space: ",
    model: str = "ESN",
) -> SearchSpace:
    """Validate a space (see the module docstring) into a :class:`SearchSpace` of ``model``'s
    arguments ('ESN', or 'ESNClassifier' for the classification objectives).

    ``ridges`` is a list of values, or a mapping ``{low, high, num}`` (default 1e-12..1, 25 values;
    for a classifier, whose features are standardised, 1e-3..1e3, 13 values).
    """
    if model not in MODELS:
        raise ValueError(f"model must be one of {MODELS}, got {model!r}")
    searchable = _searchable(model)
    if not isinstance(space, Mapping):
        raise TypeError(f"space must be a mapping of parameter names to ranges, got {type(space).__name__}")
    fixed = dict(fixed or {})
    params: dict[str, Param] = {}
    for name, spec in space.items():
        if name == "ridge":
            raise ValueError(f"{where}ridge is not sampled: every trial optimises it exactly over the ridge "
                             "grid; set the grid with ridges={'low':..., 'high':..., 'num':...} ([ridge] in a file)")
        if name not in searchable:
            raise ValueError(f"{where}unknown parameter {name!r}; searchable {model} parameters are "
                             f"{list(searchable)}")
        p = _param(name, spec, where)
        if p is None:
            fixed[name] = spec
        else:
            params[name] = p
    for name in fixed:
        if name not in searchable:
            raise ValueError(f"fixed: unknown parameter {name!r}; searchable {model} parameters are "
                             f"{list(searchable)}")
    if not params:
        raise ValueError(f"{where}nothing to search: give at least one parameter a range or choices")
    try:
        _check_model_params(fixed, model)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"fixed parameters are not a valid {model}: {exc}") from None
    for p in params.values():
        for v in (p.choices if p.choices is not None else (p.low, p.high)):
            _check_value(p.name, v, fixed, where, model)
    if ridges is None:
        grid = ridge_grid() if model == "ESN" else ridge_grid(1e-3, 1e3, 13)
    elif isinstance(ridges, Mapping):
        unknown = set(ridges) - {"low", "high", "num"}
        if unknown:
            raise ValueError(f"ridge: unknown key(s) {sorted(unknown)}; use low, high, num")
        grid = ridge_grid(ridges.get("low", 1e-12), ridges.get("high", 1.0), ridges.get("num", 25))
    else:
        grid = np.atleast_1d(np.asarray(ridges, dtype=np.float64))
        if grid.ndim != 1 or grid.size == 0 or not np.all(np.isfinite(grid)) or np.any(grid <= 0):
            raise ValueError(f"ridges must be a non-empty list of finite values > 0, got {ridges!r}")
    settings = dict(settings or {})
    unknown = set(settings) - set(SETTINGS)
    if unknown:
        raise ValueError(f"search: unknown setting(s) {sorted(unknown)}; known: {list(SETTINGS)}")
    return SearchSpace(params, fixed, np.sort(grid), settings)


def load_space(path: str | os.PathLike, model: str | None = None) -> SearchSpace:
    """Read a TOML search-space file (format in the module docstring) of ``model``'s arguments
    (default: 'ESNClassifier' when the file's objective is 'accuracy' or 'log_loss', else 'ESN')."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python < 3.11: tomli, in the search extra
        tomllib = import_extra("tomli", "search", "reading a search-space file on Python < 3.11")
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no search-space file at {path!r}")
    try:
        with open(path, "rb") as f:
            doc = tomllib.load(f)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{path}: not valid TOML: {exc}") from None
    known = {"space", "fixed", "ridge", "search"}
    settings = dict(doc.get("search", {}))
    for key in list(doc):
        if key in SETTINGS:
            settings[key] = doc.pop(key)
    unknown = set(doc) - known
    if unknown:
        raise ValueError(f"{path}: unknown section(s) {sorted(unknown)}; expected [space], [fixed], [ridge], "
                         f"[search] or the settings {list(SETTINGS)}")
    if "space" not in doc or not isinstance(doc["space"], Mapping):
        raise ValueError(f"{path}: a search-space file needs a [space] table")
    for section in ("fixed", "ridge", "search"):
        if section in doc and not isinstance(doc[section], Mapping):
            raise ValueError(f"{path}: [{section}] must be a table")
    if model is None:
        model = "ESNClassifier" if settings.get("objective") in ("accuracy", "log_loss") else "ESN"
    return make_space(doc["space"], doc.get("fixed"), doc.get("ridge"), settings, where=f"{path}: [space] ",
                      model=model)
