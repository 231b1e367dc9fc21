"""Delay cancelling by the short-term predictor, on a linear plant whose present is known."""

import numpy as np
import pytest

from cerebellar.agent.anticipation import ShortTermAnticipation

#: A lightly damped oscillator (position, velocity), dt = 0.05, driven by one command.
A = np.array([[1.0, 0.05], [-0.1, 0.98]])
B = np.array([0.0, 0.05])


def run_linear_plant(anticipation, delay, steps, seed=0):
    """Drive the plant with a smooth random command (open loop); return the true states, the delayed
    observations and the estimates of the present, step by step."""
    rng = np.random.default_rng(seed)
    state = np.array([0.3, 0.0])
    truths, observed, estimates = [], [], []
    history = [state.copy()] * (delay + 1)  # the delayed senses show the initial state at first
    command = 0.0
    for _ in range(steps):
        observation = history[-(delay + 1)]
        estimates.append(anticipation.estimate(None, observation).copy())
        truths.append(state.copy())
        observed.append(observation.copy())
        command = 0.9 * command + 0.3 * rng.standard_normal()
        anticipation.record(np.array([command]))
        state = A @ state + B * command
        history.append(state.copy())
    return np.array(truths), np.array(observed), np.array(estimates)


@pytest.mark.parametrize("delay", [3, 8])
def test_estimate_of_the_present_beats_the_delayed_observation_after_learning(delay):
    # The present is a linear function of the delayed state and the commands sent since:
    # once the predictor has learned it, its estimate is far closer to the present than
    # the delayed observation, and its error has fallen from where it started.
    anticipation = ShortTermAnticipation(delay, 2, 1, seed=0)
    truths, observed, estimates = run_linear_plant(anticipation, delay, 3000)
    late = slice(2500, 3000)
    estimate_error = np.sqrt(np.mean((estimates[late] - truths[late]) ** 2))
    raw_error = np.sqrt(np.mean((observed[late] - truths[late]) ** 2))
    predicted = np.array(anticipation.predicted_)
    assert predicted.shape == (2,)
    assert estimate_error < 0.2 * raw_error
    early = slice(delay, 200)
    assert estimate_error < 0.5 * np.sqrt(np.mean((estimates[early] - truths[early]) ** 2))
    assert anticipation.trust_ == 1.0  # and then the estimate is the prediction itself
    np.testing.assert_allclose(anticipation.estimate_, anticipation.predicted_)


def test_falls_back_on_the_raw_observation_until_the_prediction_is_checked():
    # Before window checked estimates exist, nothing says the predictor is any good.
    delay, window = 4, 10
    anticipation = ShortTermAnticipation(delay, 2, 1, window=window, seed=0)
    truths, observed, estimates = run_linear_plant(anticipation, delay, delay + window - 1)
    np.testing.assert_array_equal(estimates, observed)
    assert anticipation.trust_ == 0.0


def test_delay_error_is_the_observation_minus_the_prediction_made_d_steps_before():
    delay = 3
    anticipation = ShortTermAnticipation(delay, 2, 1, seed=0)
    rng = np.random.default_rng(1)
    predictions = []
    for step in range(10):
        observation = rng.standard_normal(2)
        anticipation.estimate(None, observation)
        predictions.append(anticipation.predicted_.copy())
        anticipation.record(rng.standard_normal(1))
        if step < delay:
            assert anticipation.delay_error_ is None
        else:
            np.testing.assert_allclose(anticipation.delay_error_, observation - predictions[step - delay])


def test_seeded_runs_are_identical_and_reset_keeps_what_was_learned():
    runs = []
    for _ in range(2):
        anticipation = ShortTermAnticipation(5, 2, 1, seed=3)
        first = run_linear_plant(anticipation, 5, 400, seed=2)[2]
        weights = anticipation.predictor_.weights_.copy()
        trust = anticipation.trust_
        anticipation.reset()
        np.testing.assert_array_equal(anticipation.predictor_.weights_, weights)
        assert anticipation.trust_ == trust and anticipation.estimate_ is None
        runs.append((first, run_linear_plant(anticipation, 5, 100, seed=4)[2]))
    for a, b in zip(*runs, strict=True):
        np.testing.assert_array_equal(a, b)


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="delay"):
        ShortTermAnticipation(0, 2, 1)
    with pytest.raises(ValueError, match="low < high"):
        ShortTermAnticipation(3, 2, 1, low=1.0, high=0.5)
    with pytest.raises(ValueError, match="state_scale"):
        ShortTermAnticipation(3, 2, 1, state_scale=[1.0, 0.0])
    anticipation = ShortTermAnticipation(3, 2, 1)
    with pytest.raises(ValueError, match="observation"):
        anticipation.estimate(None, np.array([np.nan, 0.0]))
    with pytest.raises(ValueError, match="observation"):
        anticipation.estimate(None, np.zeros(3))
    with pytest.raises(ValueError, match="command"):
        anticipation.record(np.array([np.inf]))
