"""Every teaching warning: triggered by the case it names, silent on a well-set model, and saying the number."""

import math
import warnings

import numpy as np
import pytest

import esnkit as ek
from esnkit.models.diagnostics import memory_steps


def _co2_like(n=600):
    t = np.arange(n)
    return (400 + 20 * np.sin(t / 8) + 0.02 * t)[:, None]


def _quiet_fit(model, u, y):
    with warnings.catch_warnings():
        warnings.simplefilter("error", ek.EsnkitWarning)
        return model.fit(u, y)


def test_a_well_set_fit_is_silent():
    s = _co2_like()
    _quiet_fit(ek.ESN(100, seed=1, washout=50, scale=True), s[:-1], s[1:])
    d = ek.datasets.mackey_glass(2100, tau=17)
    _quiet_fit(ek.ESN(200, seed=0, washout=100), d[:2000], d[1:2001])


def test_saturated_states_warn_with_the_share_and_the_inputs_scale():
    s = _co2_like()
    match = r"100% of the reservoir's neurons are saturated.*mean 40\d.*scale=True"
    with pytest.warns(ek.SaturationWarning, match=match):
        ek.ESN(100, seed=1, washout=50).fit(s[:-1], s[1:])
    # standardised data but a huge input scaling: the hint is the scalings, not scale=True
    with pytest.warns(ek.SaturationWarning, match="lower input_scaling") as rec:
        ek.ESN(100, seed=1, washout=50, scale=True, input_scaling=50.0).fit(s[:-1], s[1:])
    assert "scale=True" not in str(rec[0].message)


def test_fewer_rows_than_features_warns_with_both_counts():
    s = _co2_like(300)
    with pytest.warns(ek.UnderdeterminedFitWarning, match="150 training rows .* readout of 302 features"):
        ek.ESN(300, seed=1, washout=50, scale=True).fit(s[:200], s[1:201])


def test_short_washout_warns_with_the_memory_and_the_fix():
    s = _co2_like()
    memory = memory_steps(0.9, 0.1)
    assert memory == pytest.approx(math.log(0.01) / math.log(0.99))
    with pytest.warns(ek.ShortWashoutWarning, match=f"washout=0 .* about {math.ceil(memory)} steps.*"
                                                    f"set washout={math.ceil(memory)}"):
        ek.ESN(100, seed=1, leak_rate=0.1, scale=True).fit(s[:-1], s[1:])
    # a start given by the caller is no zero start: nothing to forget
    m = ek.ESN(100, seed=1, leak_rate=0.1, scale=True, washout=300).fit(s[:-1], s[1:])
    with warnings.catch_warnings():
        warnings.simplefilter("error", ek.ShortWashoutWarning)
        ek.ESN(100, seed=1, leak_rate=0.1, scale=True).fit(s[:-1], s[1:], initial_state=m.state)
    assert memory_steps(1.0, 1.0) == math.inf


def test_search_warns_at_the_edge_of_a_range_and_of_the_ridge_grid():
    d = ek.datasets.mackey_glass(1500, tau=17)
    with pytest.warns(ek.SearchBoundaryWarning) as rec:
        # a grid of the two ends only: wherever the best is, it is at an end
        ek.search(d, space={"input_scaling": {"low": 0.1, "high": 5.0, "step": 4.9}}, sampler="grid",
                  fixed={"reservoir_size": 30, "washout": 50, "seed": 0}, n_trials=2, progress=False,
                  ridges=[1e-2, 1e-1, 1.0])
    messages = " | ".join(str(r.message) for r in rec)
    assert "the best ridge 0.01 is the lowest value of the ridge grid (0.01..1)" in messages
    assert "the best input_scaling" in messages and "end of its range [0.1, 5]" in messages


def test_search_warns_when_it_recommends_a_configuration_without_the_echo_state_property():
    d = ek.datasets.mackey_glass(1500, tau=17)
    with pytest.warns(ek.EchoStatePropertyWarning, match=r"search: the best configuration \(spectral_radius=1\.\d+\) "
                                                         r"has an effective spectral radius 1\.\d+ ≥ 1"):
        ek.search(d, space={"spectral_radius": {"low": 1.2, "high": 1.3}},
                  fixed={"reservoir_size": 30, "washout": 50, "seed": 0}, n_trials=2, progress=False)


def test_every_warning_is_an_esnkit_warning():
    for w in (ek.SaturationWarning, ek.UnderdeterminedFitWarning, ek.ShortWashoutWarning, ek.SearchBoundaryWarning,
              ek.EchoStatePropertyWarning, ek.OutputRangeWarning, ek.SearchCapWarning):
        assert issubclass(w, ek.EsnkitWarning) and issubclass(w, UserWarning)


def test_saturation_reads_the_states_not_their_squares():
    s = _co2_like()
    for name in ("squared", "quadratic"):  # saturated: the plain states' columns say so
        with pytest.warns(ek.SaturationWarning, match="100% of the reservoir's neurons are saturated"):
            ek.ESN(100, seed=1, washout=50, features=name).fit(s[:-1], s[1:])
    # not saturated: x⁴ columns (mean far below x²) must not dilute or trip the count either way
    with warnings.catch_warnings():
        warnings.simplefilter("error", ek.SaturationWarning)
        for name in ("squared", "quadratic"):
            ek.ESN(100, seed=1, washout=50, scale=True, features=name).fit(s[:-1], s[1:])


def test_a_delay_line_remembers_its_zero_start_for_its_length():
    s = _co2_like()
    # spectral radius 0 (nilpotent), but the zero start takes N steps to leave the line
    with pytest.warns(ek.ShortWashoutWarning, match="about 120 steps"):
        ek.ESN(120, seed=1, initializer="delay_line", washout=10, scale=True).fit(s[:-1], s[1:])
    with warnings.catch_warnings():
        warnings.simplefilter("error", ek.ShortWashoutWarning)
        ek.ESN(120, seed=1, initializer="delay_line", washout=120, scale=True).fit(s[:-1], s[1:])
