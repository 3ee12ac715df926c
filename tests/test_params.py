"""esnkit.params: the one list of hyper-parameters, defaults and checks, shared by ESN, search and CLI."""

import inspect

import numpy as np
import pytest
import torch

import esnkit as ek
from esnkit import params
from esnkit.readout import SOLVERS
from esnkit.reservoir import ACTIVATIONS


def test_esn_takes_its_parameters_and_defaults_from_params():
    sig = inspect.signature(ek.ESN.__init__).parameters
    assert list(sig)[1:] == list(params.DEFAULTS) == list(params.HELP)
    assert all(sig[k].default == v for k, v in params.DEFAULTS.items())
    assert set(ACTIVATIONS) == set(params.ACTIVATIONS) and SOLVERS == params.SOLVERS
    assert set(params.SEARCHABLE) == set(ek.tuning.space.SEARCHABLE)


@pytest.mark.parametrize("bad,match", [
    ({"reservoir_size": 0}, "reservoir_size"), ({"spectral_radius": float("nan")}, "spectral_radius"),
    ({"connectivity": 0.1, "in_degree": 3}, "not both"), ({"leak_rate": [0.5, 0.5]}, "leak_rate"),
    ({"input_scaling": -1}, "input_scaling"), ({"ridge": -1e-3}, "ridge"), ({"solver": "qr"}, "solver"),
    ({"solver": "pinv", "ridge": 1.0}, "pinv"), ({"washout": 1.5}, "washout"), ({"seed": -1}, "seed"),
    ({"activation": "softsign"}, "activation"), ({"dtype": np.int32}, "dtype"), ({"device": "gpu:x"}, "device"),
])
def test_check_names_the_parameter(bad, match):
    with pytest.raises((ValueError, TypeError), match=match):
        params.check(bad)
    with pytest.raises((ValueError, TypeError), match=match):
        ek.ESN(**{"reservoir_size": 10, **bad})


def test_dtype_names():
    for v in (np.float32, np.dtype("float32"), "float32", torch.float32, "float"):
        assert params.dtype_name(v) == "float32"
    for v in (np.float64, "float64", torch.float64, "double"):
        assert params.dtype_name(v) == "float64"
