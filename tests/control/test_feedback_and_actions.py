import numpy as np
import pytest
from gymnasium import spaces

from cerebellar.control import ActionMap, LinearFeedback


def test_feedback_is_gain_times_setpoint_error():
    feedback = LinearFeedback([2.0, -1.0], setpoint=[1.0, 0.5])
    np.testing.assert_allclose(feedback.command([0.0, 0.0]), [2.0 * 1.0 - 1.0 * 0.5])


def test_feedback_limits_and_matrix_gains():
    feedback = LinearFeedback([[1.0, 0.0], [0.0, 3.0]], low=-1.0, high=[1.0, 2.0])
    np.testing.assert_allclose(feedback.command([-5.0, -5.0]), [1.0, 2.0])
    np.testing.assert_allclose(feedback.command([5.0, 5.0]), [-1.0, -1.0])


@pytest.mark.parametrize("gains", [[np.nan, 1.0], [[[1.0]]], []])
def test_feedback_rejects_bad_gains(gains):
    with pytest.raises(ValueError, match="gains"):
        LinearFeedback(gains)


def test_feedback_rejects_inverted_limits():
    with pytest.raises(ValueError, match="low <= high"):
        LinearFeedback([1.0], low=1.0, high=-1.0)


def test_discrete_maps_to_nearest_action_value():
    actions = ActionMap(spaces.Discrete(2), action_values=[-10.0, 10.0])
    assert actions.to_action(np.array([0.03])) == 1
    assert actions.to_action(np.array([-0.03])) == 0
    assert actions.to_action(np.array([0.0])) == 0  # tie: lower index
    np.testing.assert_array_equal(actions.to_command(1), [10.0])
    three = ActionMap(spaces.Discrete(3), action_values=[-1.0, 0.0, 1.0])
    assert three.to_action(np.array([0.4])) == 1
    assert three.to_action(np.array([0.6])) == 2


def test_box_actions_are_clipped():
    actions = ActionMap(spaces.Box(-2.0, 2.0, shape=(1,), dtype=np.float32))
    action = actions.to_action(np.array([5.0]))
    assert action.dtype == np.float32 and action.item() == 2.0
    np.testing.assert_array_equal(actions.to_command(np.array([-3.0])), [-2.0])


def test_unsupported_spaces_are_named():
    with pytest.raises(ValueError, match="unsupported action space"):
        ActionMap(spaces.MultiDiscrete([2, 2]))
    with pytest.raises(ValueError, match="1-D Box"):
        ActionMap(spaces.Box(-1, 1, shape=(2, 2)))
    with pytest.raises(ValueError, match="action_values"):
        ActionMap(spaces.Discrete(2))
    with pytest.raises(ValueError, match="one per action"):
        ActionMap(spaces.Discrete(2), action_values=[1.0, 2.0, 3.0])
