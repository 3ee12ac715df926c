"""The hyper-parameters of the reservoir models: defaults, one-line help and the one check.

:class:`~esnkit.ESN` takes its defaults from :data:`DEFAULTS` and validates through
:func:`check`; the search space checks fixed values and ranges with it; the command line shows
:data:`HELP` and the same defaults. Plain Python at import (no torch, no NumPy), so the command
line can build its help from it without loading either.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from typing import Any

ACTIVATIONS = ("tanh", "identity", "relu", "sigmoid")
SOLVERS = ("auto", "cholesky", "pinv", "lstsq")
# "custom" names a Trainer object in a saved model's config (objects are not saved; pass one again to fit).
TRAINERS = ("ridge", "rls", "lms", "force")
DTYPES = ("float32", "float64")
# The named readout feature maps, each the squares option of esnkit.readout.StateInputs. "custom" names a
# FeatureMap object in a saved model's config (objects are not saved). Delays join them with '+'
# (see parse_features).
FEATURES: dict[str, str | None] = {"linear": None, "squared": "half", "quadratic": "all"}
DELAY_TERMS = ("delays", "input_delays", "skip")


def parse_features(name: str) -> dict[str, Any]:
    """A feature-map name as StateInputs' options: terms joined by '+', one of 'linear', 'squared',
    'quadratic' (the state block) and any of 'delays:k' (k delayed states), 'input_delays:k' (k
    delayed inputs) and 'skip:s' (delays s steps apart; default 1), e.g. 'squared+delays:2'."""
    out: dict[str, Any] = {"squares": None, "state_delays": 0, "input_delays": 0, "skip": 1}
    seen: set[str] = set()
    if not isinstance(name, str) or not name:
        raise ValueError(f"features must be a feature-map name, got {name!r}")
    for term in name.split("+"):
        key, _, arg = term.partition(":")
        if key in seen or (key in FEATURES and seen & set(FEATURES)):
            raise ValueError(f"features={name!r} names {key!r} or another state block twice")
        seen.add(key)
        if key in FEATURES and not arg:
            out["squares"] = FEATURES[key]
        elif key in DELAY_TERMS and arg.isdigit() and int(arg) >= (0 if key != "skip" else 1):
            out[{"delays": "state_delays", "input_delays": "input_delays", "skip": "skip"}[key]] = int(arg)
        else:
            raise ValueError(
                f"features must be one of {tuple(FEATURES)} or a FeatureMap object; delays join a name with '+' as "
                f"'delays:k', 'input_delays:k' and 'skip:s' (k ≥ 0, s ≥ 1), e.g. 'squared+delays:2'; got {name!r}")
    if "skip" in seen and not (out["state_delays"] or out["input_delays"]):
        raise ValueError(f"features={name!r} sets skip without delays")
    return out
# The names of the reservoir initialisers (esnkit.reservoir.INITIALIZERS; register_initializer adds to both).
INITIALIZERS = ["random", "cycle_jumps", "delay_line", "orthogonal"]

DEFAULTS: dict[str, Any] = {
    "reservoir_size": 500,
    "spectral_radius": 0.9,
    "initializer": "random",
    "connectivity": None,
    "in_degree": None,
    "leak_rate": 1.0,
    "input_scaling": 1.0,
    "input_connectivity": 1.0,
    "bias_scaling": 0.5,
    "feedback_scaling": 0.0,
    "activation": "tanh",
    "ridge": 1e-8,
    "solver": "auto",
    "trainer": "ridge",
    "forgetting": 1.0,
    "learning_rate": 0.5,
    "force_alpha": 1.0,
    "washout": 0,
    "readout_bias": True,
    "readout_input": True,
    "features": "linear",
    "scale": False,
    "chunk_size": None,
    "seed": None,
    "dtype": "float64",
    "device": None,
}

HELP: dict[str, str] = {
    "reservoir_size": "N, the number of reservoir neurons (integer ≥ 1)",
    "spectral_radius": "ρ > 0: W is rescaled so its largest absolute eigenvalue is exactly ρ",
    "initializer": f"how W is built: one of {', '.join(INITIALIZERS)}, or an N x N matrix (then rescaled to ρ)",
    "connectivity": "fraction of nonzero entries of W in (0, 1] (default: about 10 per row)",
    "in_degree": "alternatively, exactly this many nonzeros in every row of W",
    "leak_rate": "a in (0, 1], a number or one per neuron; 1 means no leak",
    "input_scaling": "scale of W_in (≥ 0), a number or one per input feature",
    "input_connectivity": "fraction of nonzero entries of W_in in (0, 1]",
    "bias_scaling": "scale of the bias b, uniform in ±bias_scaling (≥ 0; 0 disables it)",
    "feedback_scaling": "scale of the output-feedback weights W_fb (≥ 0; 0 disables feedback)",
    "activation": f"one of {', '.join(ACTIVATIONS)}, or an elementwise callable",
    "ridge": "Tikhonov regularisation λ ≥ 0 of the readout (0: the pseudoinverse)",
    "solver": f"readout solver, one of {', '.join(SOLVERS)}",
    "trainer": f"readout trainer, one of {', '.join(TRAINERS)} (rls starts from P = I / ridge; force: FORCE "
               "learning in closed loop, needs feedback_scaling > 0), or a Trainer object",
    "forgetting": "forgetting factor λ in (0, 1] of trainer='rls' and 'force' (1: every row weighs alike)",
    "learning_rate": "learning rate μ in (0, 2) of trainer='lms' (normalised LMS)",
    "force_alpha": "alpha > 0 of trainer='force': P starts at I / alpha",
    "washout": "initial steps of every training sequence left out of the readout fit (integer ≥ 0)",
    "readout_bias": "whether the constant 1 enters the readout",
    "readout_input": "whether the input u[t] enters the readout",
    "features": "what the readout reads of the states: linear ([1; u; x]), squared (every second neuron "
                "squared) or quadratic ([1; u; x; x²]), with '+delays:k' / '+input_delays:k' (and '+skip:s') "
                "for delayed states or inputs, or a FeatureMap object",
    "scale": "standardise inputs and targets with the training data's mean and std (outputs come back in the "
             "data's units)",
    "chunk_size": "time steps per chunk (memory grows with it, not with the series); None: about 8 MB buffers",
    "seed": "integer ≥ 0; the same seed gives bit-identical weights and results on the same machine",
    "dtype": "float32 or float64 (states and weights; the readout's regression is float64 either way)",
    "device": "torch device of the weights and states (default CPU)",
}

# How a run computes, not what it computes: never searched (the search optimises the ridge exactly
# through its ridge path instead, see esnkit.tuning).
RUN_ONLY = ("ridge", "solver", "dtype", "device", "chunk_size")
# Parameters a search may vary (the others fix the run's layout or precision).
SEARCHABLE = tuple(p for p in DEFAULTS if p not in RUN_ONLY)


def is_int(v: Any) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def is_real(v: Any) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(v)


def _value_range(v: Any) -> tuple[tuple[int, ...], float, float] | None:
    """``(shape, smallest, largest)`` of a number or array-like of numbers (NaN bounds when it is
    empty or holds NaN); None when it is not numeric."""
    if is_real(v):
        return (), float(v), float(v)
    if isinstance(v, (str, bool)) or isinstance(v, type):
        return None
    import numpy as np

    try:
        a = np.asarray(v)
        if a.dtype.kind not in "iuf":  # booleans, complex numbers, strings, objects: not numbers here
            return None
        a = a.astype(float)
    except (TypeError, ValueError):
        return None
    if a.size == 0 or np.isnan(a).any():
        return a.shape, math.nan, math.nan
    return a.shape, float(a.min()), float(a.max())


def dtype_name(value: Any) -> str:
    """'float32' or 'float64' for a torch dtype, a NumPy dtype or type, or their names."""
    name = getattr(value, "name", None) if not isinstance(value, str) else value  # np.dtype('float32').name
    if name is None:
        name = str(value).replace("torch.", "")  # torch.float32, or the class np.float32
        name = {"<class 'numpy.float32'>": "float32", "<class 'numpy.float64'>": "float64"}.get(name, name)
    if name in ("float", "double"):
        name = {"float": "float32", "double": "float64"}[name]
    if name not in DTYPES:
        raise TypeError(f"dtype must be float32 or float64 (torch or NumPy dtype, or its name), got {value!r}")
    return name


def torch_dtype(value: Any):
    """The torch dtype for a torch or NumPy float32/float64 dtype, or its name."""
    import torch

    return {"float32": torch.float32, "float64": torch.float64}[dtype_name(value)]


def check(p: Mapping[str, Any]) -> None:
    """Validate model hyper-parameters ``p`` (names as in :data:`DEFAULTS`; missing ones are not
    checked); raises ``ValueError``/``TypeError`` naming the parameter and what it must be."""
    n = p.get("reservoir_size", DEFAULTS["reservoir_size"])
    if not is_int(n) or n < 1:
        raise ValueError(f"reservoir_size must be a positive integer, got {n!r}")
    _check_fits(n, p.get("device"))
    if "spectral_radius" in p and (not is_real(p["spectral_radius"]) or p["spectral_radius"] <= 0):
        raise ValueError(f"spectral_radius must be a finite number > 0, got {p['spectral_radius']!r}")
    conn, deg = p.get("connectivity"), p.get("in_degree")
    if conn is not None and deg is not None:
        raise ValueError("give connectivity or in_degree, not both")
    _check_initializer(p.get("initializer", "random"), n, conn, deg)
    if conn is not None and not (is_real(conn) and 0 < conn <= 1):
        raise ValueError(f"connectivity must be in (0, 1], got {conn!r}")
    if deg is not None and not (is_int(deg) and 1 <= deg <= n):
        raise ValueError(f"in_degree must be an integer in [1, reservoir_size={n}], got {deg!r}")
    # Plain numbers, the common case, are checked without NumPy, whose per-call overhead is most
    # of this function's cost (it runs at construction and at every fit).
    if "leak_rate" in p:
        leak = _value_range(p["leak_rate"])
        if leak is None or leak[0] not in ((), (n,)):
            raise ValueError(f"leak_rate must be a number or an array of shape ({n},), got {p['leak_rate']!r}")
        if not 0 < leak[1] <= leak[2] <= 1:  # NaN compares false
            raise ValueError(f"leak_rate must lie in (0, 1], got {p['leak_rate']!r}")
    if "input_scaling" in p:
        scaling = _value_range(p["input_scaling"])
        if scaling is None or len(scaling[0]) > 1 or not 0 <= scaling[1] <= scaling[2] < math.inf:
            raise ValueError(
                f"input_scaling must be a number ≥ 0 or one such number per input, got {p['input_scaling']!r}"
            )
    if "input_connectivity" in p and not (is_real(p["input_connectivity"]) and 0 < p["input_connectivity"] <= 1):
        raise ValueError(f"input_connectivity must be in (0, 1], got {p['input_connectivity']!r}")
    for name in ("bias_scaling", "feedback_scaling", "ridge"):
        if name in p and (not is_real(p[name]) or p[name] < 0):
            raise ValueError(f"{name} must be a finite number ≥ 0, got {p[name]!r}")
    act = p.get("activation", "tanh")
    if not (callable(act) or (isinstance(act, str) and act in ACTIVATIONS)):
        raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)} or an elementwise callable, got {act!r}")
    solver = p.get("solver", "auto")
    if solver not in SOLVERS:
        raise ValueError(f"solver must be one of {SOLVERS}, got {solver!r}")
    if solver == "pinv" and p.get("ridge", 0) > 0:
        raise ValueError("solver='pinv' is the unregularised solution: set ridge=0, or use solver='cholesky'")
    trainer = p.get("trainer", "ridge")
    if isinstance(trainer, str):
        if trainer not in TRAINERS + ("custom",):
            raise ValueError(f"trainer must be one of {TRAINERS} or a Trainer object (with a start method), "
                             f"got {trainer!r}")
    elif not callable(getattr(trainer, "start", None)):
        raise TypeError(f"trainer must be one of {TRAINERS} or a Trainer object (with a start method), "
                        f"got {type(trainer).__name__}")
    if trainer != "ridge" and solver != "auto":
        raise ValueError(f"solver={solver!r} applies to trainer='ridge' only; leave solver='auto' with "
                         f"trainer={trainer if isinstance(trainer, str) else type(trainer).__name__!r}")
    if "forgetting" in p and not (is_real(p["forgetting"]) and 0 < p["forgetting"] <= 1):
        raise ValueError(f"forgetting must be a number in (0, 1], got {p['forgetting']!r}")
    # trainer='lms' is normalised LMS, which diverges from μ = 2 on
    if "learning_rate" in p and not (is_real(p["learning_rate"]) and 0 < p["learning_rate"] < 2):
        raise ValueError(f"learning_rate must be a number in (0, 2), got {p['learning_rate']!r}")
    if "force_alpha" in p and not (is_real(p["force_alpha"]) and p["force_alpha"] > 0):
        raise ValueError(f"force_alpha must be a finite number > 0 (P starts at I / force_alpha), "
                         f"got {p['force_alpha']!r}")
    if trainer == "rls" and p.get("ridge", DEFAULTS["ridge"]) <= 0:
        raise ValueError("trainer='rls' starts from P = I / ridge: set ridge > 0")
    feats = p.get("features", "linear")
    if isinstance(feats, str):
        if feats != "custom":
            parse_features(feats)
    elif not (callable(feats) and callable(getattr(feats, "size", None))):
        raise TypeError(f"features must be one of {tuple(FEATURES)} or a FeatureMap object (with size and "
                        f"__call__ methods), got {type(feats).__name__}")
    if trainer == "force" and p.get("feedback_scaling", DEFAULTS["feedback_scaling"]) == 0:
        raise ValueError("trainer='force' (FORCE learning) feeds the network's own output back while it trains, "
                         "so it needs output feedback: set feedback_scaling > 0")
    if "washout" in p and (not is_int(p["washout"]) or p["washout"] < 0):
        raise ValueError(f"washout must be an integer ≥ 0, got {p['washout']!r}")
    chunk = p.get("chunk_size")
    if chunk is not None and (not is_int(chunk) or chunk < 1):
        raise ValueError(f"chunk_size must be None or a positive integer, got {chunk!r}")
    seed = p.get("seed")
    if seed is not None and not (is_int(seed) and seed >= 0):
        raise ValueError(f"seed must be None or an integer ≥ 0, got {seed!r}")
    for name in ("readout_bias", "readout_input", "scale"):
        if name in p and not isinstance(p[name], bool):
            raise TypeError(f"{name} must be True or False, got {p[name]!r}")
    if "dtype" in p and dtype_name(p["dtype"]) == "float32":
        for name in ("spectral_radius", "input_scaling", "bias_scaling", "feedback_scaling"):
            if name in p and _value_range(p[name])[2] > FLOAT32_MAX:
                raise ValueError(
                    f"{name}={p[name]!r} is beyond the range of float32 (largest {FLOAT32_MAX:.3g}): the weights "
                    "would be infinite; use a smaller value or dtype='float64'"
                )
    if p.get("device") is not None:
        check_device(p["device"])


FLOAT32_MAX = 3.4028234663852886e38


def _check_initializer(init: Any, n: int, conn: Any, deg: Any) -> None:
    """A registered name, an initializer callable ``fn(size, rng)`` or a matrix (whose shape and values
    :class:`~esnkit.ESN` checks); connectivity and in_degree only with the random initializer."""
    if isinstance(init, str):
        if init not in INITIALIZERS:
            raise ValueError(f"initializer must be one of {INITIALIZERS}, an initializer callable or a {n} x {n} "
                             f"matrix, got {init!r}")
    elif not callable(init) and len(getattr(init, "shape", ())) != 2:
        raise ValueError(f"initializer must be one of {INITIALIZERS}, an initializer callable or a {n} x {n} "
                         f"matrix, got {type(init).__name__}")
    if not (isinstance(init, str) and init == "random") and (conn is not None or deg is not None):
        raise ValueError(f"connectivity and in_degree set the random initializer's sparsity; initializer="
                         f"{_name(init)} fixes W's structure itself: leave them None")


def _name(init: Any) -> str:
    return repr(init) if isinstance(init, str) or callable(init) else "<matrix>"


def _check_fits(n: int, device: Any) -> None:
    """A reservoir whose readout can never be solved here fails at construction, not after minutes of
    allocation: fitting holds the float64 normal equations ``G`` (at least N × N) and a factorisation of
    them, ``16 N²`` bytes, which must fit the machine's memory (the device's for a CUDA model)."""
    need = 16 * n * n
    if need < 1 << 28:  # 256 MiB, N ≤ 4096: no machine is asked
        return
    from . import _memory

    limit = _memory.memory_limit(device)
    if limit is not None and need > limit:
        largest = math.isqrt(limit // 16)
        raise ValueError(
            f"reservoir_size={n}: fitting its readout needs the {n} x {n} float64 normal equations and their "
            f"factorisation, about {_memory.size(need)}, more than the {_memory.size(limit)} of memory "
            f"{'this machine' if device is None or str(device).startswith('cpu') else f'device {device}'} has; "
            f"use a reservoir_size of at most about {largest}"
        )


def check_device(device: Any) -> None:
    """A valid torch device that exists here (CUDA only where it is available)."""
    import torch

    expected = "give a torch device or its name, such as 'cpu', 'cuda' or 'cuda:1'"
    if isinstance(device, bool) or not isinstance(device, (str, int, torch.device)):
        raise ValueError(f"device {device!r} is not a valid torch device: {expected}")
    try:
        d = torch.device(device)
    except (RuntimeError, TypeError, ValueError) as exc:
        raise ValueError(f"device {device!r} is not a valid torch device ({str(exc).splitlines()[0]}): "
                         f"{expected}") from None
    if d.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device={device!r} but CUDA is not available here; use device='cpu'")
        if d.index is not None and d.index >= torch.cuda.device_count():
            raise ValueError(f"device={device!r} but this machine has {torch.cuda.device_count()} CUDA device(s), "
                             f"numbered from 0")
    elif d.type != "cpu":
        backend = {"mps": getattr(torch.backends, "mps", None), "xpu": getattr(torch, "xpu", None)}.get(d.type)
        if backend is None or not backend.is_available():
            raise ValueError(f"device={device!r} cannot run a reservoir here: esnkit computes on 'cpu' or 'cuda' "
                             f"(or 'mps'/'xpu' where available), and {d.type!r} is not one of them")
