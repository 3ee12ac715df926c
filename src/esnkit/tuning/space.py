"""Search spaces: which hyper-parameters of an ESN, NVAR or DeepESN a search samples, over what ranges,
and the TOML file form.

A space maps hyper-parameter names to one of::

    (low, high)                      # uniform float (ints if both are ints)
    {"low": a, "high": b, "log": true, "step": s}
    {"choices": [v1, v2, ...]}       # categorical
    value                            # fixed (not sampled)

The ridge is never part of a space: every trial optimises it exactly over a grid (see
:mod:`esnkit.readout.ridge_path`); an ESN whose ``trainer`` is online ('rls', 'lms', 'force') trains
with the model's own ridge instead (see :func:`esnkit.tuning.objectives.evaluate`). The names are the
model's constructor arguments (a DeepESN's per-layer values also as ``<name>_<layer>``, see
:func:`model_arguments`). A search-space file is TOML::

    model = "esn"                # or "nvar", "deep_esn"; default "esn"
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
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import import_extra

# SEARCHABLE: the ESN arguments a search may sample or fix. The ridge is optimised exactly, and
# solver, dtype, device and chunk size are how the search runs, not what it searches.
from ..params import RUN_ONLY, SEARCHABLE, is_int, is_real
from ..params import check as check_params
from ..readout.ridge_path import ridge_grid

SETTINGS = ("model", "objective", "sampler", "trials", "batch_size", "validation", "split", "folds", "horizon",
            "starts", "warmup", "threshold", "time_scale", "ridge_candidates", "seed", "timeout", "dtype", "device")


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
    model: str = "ESN"

    def config(self, sampled: Mapping[str, Any]) -> dict[str, Any]:
        """One trial's parameters, as the space names them (see :func:`model_arguments` for the
        constructor's)."""
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


# The models a search can tune, by the names ``search(model=...)`` takes, and what their classes are called.
FAMILIES = {"esn": "ESN", "nvar": "NVAR", "deep_esn": "DeepESN"}
MODELS = ("ESN", "ESNClassifier", "NVAR", "DeepESN")
CLASSIFIER_SEARCHABLE = (
    "reservoir_size", "spectral_radius", "connectivity", "in_degree", "leak_rate", "input_scaling",
    "input_connectivity", "bias_scaling", "activation", "washout", "pooling", "input_summary", "class_weight",
    "scale", "n_reservoirs", "seed",
)
# DeepESN's per-layer keys: ``<name>_<l>`` sets layer l's value (1-based); a list is no Optuna choice.
PER_LAYER = ("reservoir_size", "spectral_radius", "leak_rate")
_LAYER_KEY = re.compile(rf"^({'|'.join(PER_LAYER)})_([1-9][0-9]*)$")


def model_name(model: Any) -> str:
    """The class name of the model a search tunes: ``model`` is 'esn', 'nvar', 'deep_esn', a class name
    ('ESN', 'NVAR', 'DeepESN', 'ESNClassifier') or the class itself."""
    name = getattr(model, "__name__", model) if isinstance(model, type) else model
    if isinstance(name, str):
        name = FAMILIES.get(name, name)
        if name in MODELS:
            return name
    raise ValueError(f"model must be one of {list(FAMILIES)} (or the class esnkit.ESN, esnkit.NVAR, "
                     f"esnkit.DeepESN), got {model!r}")


def same_family(a: str, b: str) -> bool:
    """Whether class names ``a`` and ``b`` are one model family (an ESN classifies as ESNClassifier)."""
    return a == b or {a, b} == {"ESN", "ESNClassifier"}


def _layer_key(name: str) -> re.Match | None:
    return _LAYER_KEY.match(name) if isinstance(name, str) else None


def _searchable(model: str) -> tuple[str, ...]:
    if model == "ESN":
        return SEARCHABLE
    if model == "ESNClassifier":
        return CLASSIFIER_SEARCHABLE
    from ..models import deep_esn, nvar

    defaults = nvar.DEFAULTS if model == "NVAR" else deep_esn.DEFAULTS
    return tuple(k for k in defaults if k not in RUN_ONLY)


def _valid_keys(model: str) -> str:
    keys = list(_searchable(model))
    if model == "DeepESN":
        keys += [f"{n}_<layer>" for n in PER_LAYER]
    return f"searchable {model} parameters are {keys}"


def model_arguments(model: str, config: Mapping[str, Any]) -> dict[str, Any]:
    """The constructor arguments of one configuration of ``model`` (a class name): a DeepESN's per-layer
    keys ``reservoir_size_<l>``, ``spectral_radius_<l>`` and ``leak_rate_<l>`` become its ``layers``,
    ``spectral_radius`` and ``leak_rate`` lists, one value per layer, each layer without its own key
    taking the shared value. The depth is ``depth`` (or ``len(layers)``), else the highest layer
    named; keys of layers beyond it (a searched depth's deeper layers) are left out."""
    args = {k: v for k, v in config.items() if not _layer_key(k)}
    per = {(m[1], int(m[2])): v for k, v in config.items() if (m := _layer_key(k))}
    if model != "DeepESN" or not per:
        return dict(config)
    from ..models.deep_esn import DEFAULTS

    if args.get("layers") is not None:
        depth = len(args["layers"])
    elif args.get("depth") is not None:
        depth = args["depth"]
    else:
        depth = max(layer for _, layer in per)
    for name in PER_LAYER:
        if not any(n == name for n, _ in per):
            continue
        shared = args.pop("layers" if name == "reservoir_size" else name, None)
        if name == "reservoir_size" and shared is None:
            shared = args.pop("reservoir_size", DEFAULTS["reservoir_size"])
        elif shared is None:
            shared = DEFAULTS[name]
        values = [per.get((name, layer), shared[layer - 1] if isinstance(shared, (list, tuple)) else shared)
                  for layer in range(1, depth + 1)]
        args["layers" if name == "reservoir_size" else name] = values
    if "layers" in args:
        args.pop("depth", None)
    return args


def _check_model_params(p: Mapping[str, Any], model: str) -> None:
    if model == "ESN":
        check_params(p)
        return
    from ..models import NVAR, DeepESN, ESNClassifier

    cls = {"ESNClassifier": ESNClassifier, "NVAR": NVAR, "DeepESN": DeepESN}[model]
    cls(**model_arguments(model, p))


def _check_value(name: str, value: Any, fixed: Mapping[str, Any], where: str, model: str = "ESN") -> None:
    """Fail now, not in trial 57, when a value the space can produce is not a valid model argument."""
    p = {**fixed, name: value}
    if model == "ESN" and name == "trainer" and value == "force" and not p.get("feedback_scaling"):
        # FORCE's need for feedback is the trial's: one sampled without it fails alone, and the search goes on
        p["feedback_scaling"] = 1.0
    try:
        _check_model_params(p, model)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{where}{name} = {value!r} is not a valid {model} setting: {exc}") from None


def _check_layers(params: Mapping[str, Param], fixed: Mapping[str, Any], where: str) -> None:
    """A DeepESN's per-layer keys name layers its depth has."""
    named = [(k, int(m[2])) for k in [*params, *fixed] if (m := _layer_key(k))]
    if not named:
        return
    if fixed.get("layers") is not None:
        deepest, why = len(fixed["layers"]), f"layers has {len(fixed['layers'])}"
    elif "depth" in params:
        p = params["depth"]
        deepest = max(p.choices) if p.choices is not None else p.high
        why = f"depth is searched up to {deepest}"
    elif fixed.get("depth") is not None:
        deepest, why = fixed["depth"], f"depth is {fixed['depth']}"
    else:
        return  # the depth is the deepest layer named
    beyond = sorted(k for k, layer in named if not is_int(deepest) or layer > deepest)
    if beyond:
        raise ValueError(f"{where}{beyond} name layers the model does not have: {why}")


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
    arguments ('esn', 'nvar', 'deep_esn', or their classes or class names; 'ESNClassifier' for the
    classification objectives). A name the model does not take is a ``ValueError`` listing those it
    does.

    ``ridges`` is a list of values, or a mapping ``{low, high, num}`` (default 1e-12..1, 25 values;
    for a classifier, whose features are standardised, 1e-3..1e3, 13 values).
    """
    model = model_name(model)
    searchable = _searchable(model)
    if not isinstance(space, Mapping):
        raise TypeError(f"space must be a mapping of parameter names to ranges, got {type(space).__name__}")
    fixed = dict(fixed or {})
    params: dict[str, Param] = {}
    for name, spec in space.items():
        if name == "ridge":
            raise ValueError(f"{where}ridge is not sampled: every trial optimises it exactly over the ridge "
                             "grid; set the grid with ridges={'low':..., 'high':..., 'num':...} ([ridge] in a file)")
        if model == "DeepESN" and name == "layers":
            raise ValueError(f"{where}layers is a list, which a space cannot sample: fix it (fixed={{'layers': "
                             "[...]}, [fixed] in a file), or search depth and reservoir_size, or reservoir_size_<l> "
                             "per layer")
        if name not in searchable and not (model == "DeepESN" and _layer_key(name)):
            raise ValueError(f"{where}unknown parameter {name!r}; {_valid_keys(model)}")
        p = _param(name, spec, where)
        if p is None:
            fixed[name] = spec
        else:
            params[name] = p
    for name in fixed:
        if name not in searchable and not (model == "DeepESN" and _layer_key(name)):
            raise ValueError(f"fixed: unknown parameter {name!r}; {_valid_keys(model)}")
    if not params:
        raise ValueError(f"{where}nothing to search: give at least one parameter a range or choices")
    try:
        _check_model_params(fixed, model)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"fixed parameters are not a valid {model}: {exc}") from None
    if model == "DeepESN":
        _check_layers(params, fixed, where)
    for p in params.values():
        for v in (p.choices if p.choices is not None else (p.low, p.high)):
            _check_value(p.name, v, fixed, where, model)
    if ridges is None:
        grid = ridge_grid(1e-3, 1e3, 13) if model == "ESNClassifier" else ridge_grid()
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
    if "model" in settings and not same_family(model_name(settings["model"]), model):
        raise ValueError(f"search: the setting model={settings['model']!r} is not the space's model {model}")
    return SearchSpace(params, fixed, np.sort(grid), settings, model)


def load_space(path: str | os.PathLike, model: str | None = None) -> SearchSpace:
    """Read a TOML search-space file (format in the module docstring) of ``model``'s arguments
    (default: the file's ``model`` setting, else 'ESNClassifier' when the file's objective is 'accuracy'
    or 'log_loss', else 'ESN'); a ``model`` given that is not the file's is a ``ValueError``."""
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
    if "model" in settings:
        try:
            named = model_name(settings["model"])
        except ValueError as exc:
            raise ValueError(f"{path}: {exc}") from None
        if model is not None and not same_family(model_name(model), named):
            raise ValueError(f"{path}: model = {settings['model']!r}, but the search is of {model_name(model)}")
        if model is None and named != "ESN":
            model = named
    if model is None:
        model = "ESNClassifier" if settings.get("objective") in ("accuracy", "log_loss") else "ESN"
    return make_space(doc["space"], doc.get("fixed"), doc.get("ridge"), settings, where=f"{path}: [space] ",
                      model=model)
