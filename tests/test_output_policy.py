"""The output policy: a non-finite output raises naming the step, a free run far beyond the training
range warns naming the step, check_finite=False returns runs as they are, and the search scores a
diverged run as what it reached."""

import math
import warnings

import numpy as np
import pytest
import torch

import esnkit as ek
from esnkit.models.output_policy import RANGE_FACTOR
from esnkit.tuning.objectives import Task, score_free_runs


@pytest.fixture()
def fitted():
    s = ek.datasets.sine(600, period=30)
    return ek.ESN(40, seed=0, washout=20).fit(s[:400], s[1:401]), s


def test_a_driven_run_whose_outputs_overflow_raises_naming_the_step(fitted):
    esn, s = fitted
    esn.readout_.weight.fill_(1e308)  # finite weights, finite states, overflowing outputs
    with pytest.raises(ek.NonFiniteStateError, match=r"predict: output 0 of sequence 0 is (-?inf|nan) at step 0"):
        esn.predict(s[400:450])
    y = esn.predict(s[400:450], check_finite=False, update_state=False)
    assert not np.all(np.isfinite(y))
    with pytest.raises(ek.NonFiniteStateError, match="forward"):
        esn(torch.from_numpy(s[400:450]))


def test_a_free_run_far_beyond_the_training_range_warns_naming_the_step(fitted):
    esn, s = fitted
    esn.readout_.weight.mul_(3.0)  # an explosive closed loop that stays finite for a while
    expected = (r"generate: output 0 of sequence 0 is .* at step \d+, more than 10 half-ranges from the "
                r"training targets' range \[-0\.99\d*, 0\.99\d*\]")
    with pytest.warns(ek.OutputRangeWarning, match=expected):
        try:
            esn.generate(300, update_state=False)
        except ek.NonFiniteStateError:
            pass
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        esn.generate(300, update_state=False, check_finite=False)  # no check, no warning, no error
        with pytest.raises((ek.OutputRangeWarning, ek.NonFiniteStateError)):
            esn.forecast(s[300:400], 300)


def test_a_sound_model_stays_quiet(fitted):
    esn, s = fitted
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        esn.generate(500, update_state=False)
        esn.forecast([s[400:500], s[450:520]], 100)
        esn.predict(s[400:600])
    r = esn.target_range_.numpy()
    np.testing.assert_allclose(r, [[s[1:401].min()], [s[1:401].max()]])
    assert RANGE_FACTOR == 10.0


def test_the_target_range_survives_save_and_load(fitted, tmp_path):
    esn, _ = fitted
    esn.save(tmp_path / "m.esnkit")
    assert torch.equal(ek.load(tmp_path / "m.esnkit").target_range_, esn.target_range_)


@pytest.mark.parametrize("objective", ["vpt", "free_run"])
def test_the_search_scores_a_diverged_run_as_what_it_reached(objective):
    rng = np.random.default_rng(0)
    y = rng.normal(size=(200, 1))
    task = Task(inputs=y, targets=y, split=100, ridges=np.array([1.0]), objective=objective, horizon=20,
                threshold=0.5, time_scale=1.0)
    truth = np.zeros((3, 20, 1))
    pred = np.zeros((3, 20, 1))
    pred[0, 12:] = 5.0       # crosses the threshold at step 12, then diverges to NaN
    pred[0, 15:] = np.nan
    pred[1, 7:] = np.inf     # diverges at step 7
    value = score_free_runs(pred, truth, task)
    if objective == "vpt":
        assert value == 12.0  # the median of 12, 7 and 20 steps: what the runs reached
    else:
        assert value == math.inf


def test_a_history_shorter_than_the_washout_is_said(fitted):
    esn, s = fitted  # washout 20
    with pytest.warns(UserWarning, match=r"warms the reservoir up for 9 step\(s\), fewer than its washout=20"):
        esn.forecast([s[:10], s[100:200]], 5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        esn.forecast([s[:21], s[100:200]], 5)
        esn.forecast([s[:3]], 5, initial_state=esn.state.x[:1])
