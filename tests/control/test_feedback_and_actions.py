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


# -- invalid actions are refused, not guessed ---------------------------------------------


@pytest.mark.parametrize(
    ("action", "message"),
    [
        (-1, r"action -1 is out of range.*integers 0 to 1"),  # was +10 N: Python's index from the end
        (2, r"action 2 is out of range.*integers 0 to 1"),
        (7, r"action 7 is out of range.*integers 0 to 1"),  # was a raw IndexError
        (1.7, r"action 1.7 is not an integer.*integers 0 to 1"),  # was truncated to 1
        (1.0, r"action 1.0 is not an integer"),
        (np.float64(0.0), r"not an integer"),
        (np.nan, r"action nan is not an integer"),
        (np.array([1]), r"not an integer"),  # a 1-D array is not a Discrete action
        ("1", r"not an integer"),
        (None, r"not an integer"),
    ],
)
def test_discrete_rejects_invalid_actions(action, message):
    actions = ActionMap(spaces.Discrete(2), action_values=[-10.0, 10.0])
    with pytest.raises(ValueError, match=message):
        actions.to_command(action)


@pytest.mark.parametrize("action", [1, np.int64(1), np.int8(1), np.uint8(1), np.array(1)])
def test_discrete_accepts_what_gymnasium_accepts(action):
    space = spaces.Discrete(2)
    assert space.contains(action)
    np.testing.assert_array_equal(ActionMap(space, action_values=[-10.0, 10.0]).to_command(action), [10.0])


def test_discrete_space_with_a_start_offset():
    space = spaces.Discrete(3, start=-1)  # actions -1, 0, 1
    actions = ActionMap(space, action_values=[-5.0, 0.0, 5.0])
    np.testing.assert_array_equal(actions.to_command(-1), [-5.0])
    np.testing.assert_array_equal(actions.to_command(1), [5.0])
    assert actions.to_action(np.array([4.0])) == 1 and space.contains(actions.to_action(np.array([4.0])))
    assert actions.to_action(np.array([-4.0])) == -1
    with pytest.raises(ValueError, match="integers -1 to 1"):
        actions.to_command(2)


@pytest.mark.parametrize(
    ("action", "message"),
    [
        (np.array([np.nan]), "action contains NaN"),
        (np.array([np.inf]), "action contains NaN"),
        (np.array([1.0, 2.0]), "action must have length 1"),
        (np.array([[1.0]]), "action must be a 1-D vector"),
        (np.array([]), "action must have length 1"),
        (np.array([1j]), "action must be real"),
        ("1.0", "action must be numeric"),
    ],
)
def test_box_rejects_invalid_actions_naming_the_range(action, message):
    actions = ActionMap(spaces.Box(-2.0, 2.0, shape=(1,), dtype=np.float32))
    with pytest.raises(ValueError, match=message) as caught:
        actions.to_command(action)
    assert "within [[-2.0], [2.0]]" in str(caught.value)


def test_box_actions_beyond_the_bounds_are_clipped_like_the_environment_does():
    import gymnasium as gym

    # The model must learn the command actually applied: Pendulum clips its torque to +-2.
    env = gym.make("Pendulum-v1")
    actions = ActionMap(env.action_space)
    np.testing.assert_array_equal(actions.to_command(np.array([5.0])), [2.0])
    np.testing.assert_array_equal(actions.to_command(np.array([1e300])), [2.0])
    np.testing.assert_array_equal(actions.to_command(np.array([-0.5])), [-0.5])
    env.reset(seed=0)
    clipped_state = env.unwrapped.state.copy()
    env.step(np.array([5.0], dtype=np.float32))
    after_clip = env.unwrapped.state.copy()
    env.unwrapped.state = clipped_state
    env.step(actions.to_command(np.array([5.0])).astype(np.float32))
    np.testing.assert_array_equal(env.unwrapped.state, after_clip)
