import importlib
import warnings

import gymnasium
import numpy as np
import pytest

import cerebellar.envs
from cerebellar.envs import (
    CARTPOLE_CONTINUOUS_ID,
    CartPoleContinuousEnv,
    CartPoleParams,
    step_dynamics,
)

# A linear state feedback that balances the pole (checked below), as a bang-bang
# +-10 N push for the discrete env.
GAINS = np.array([1.0, 2.0, 30.0, 5.0])


def test_check_env_passes_without_error_warnings(serious_warnings):
    assert serious_warnings(gymnasium.make(CARTPOLE_CONTINUOUS_ID).unwrapped) == []


def test_spaces_match_cartpole_v1_with_a_continuous_force():
    env = CartPoleContinuousEnv()
    reference = gymnasium.make("CartPole-v1").unwrapped
    # CartPole-v1's bounds are float32 roundings of the same numbers.
    np.testing.assert_allclose(env.observation_space.high, reference.observation_space.high,
                               rtol=1e-7)
    assert env.observation_space.dtype == np.float64
    assert env.action_space.shape == (1,)
    assert env.action_space.dtype == np.float32
    np.testing.assert_array_equal(env.action_space.high, [10.0])
    np.testing.assert_array_equal(env.action_space.low, [-10.0])
    assert env.params.theta_threshold == reference.theta_threshold_radians


@pytest.mark.parametrize("integrator", ["euler", "semi-implicit euler"])
def test_step_dynamics_is_bit_identical_to_gymnasium_cartpole(integrator):
    reference = gymnasium.make("CartPole-v1").unwrapped
    reference.kinematics_integrator = integrator
    params = CartPoleParams(integrator=integrator)
    env = CartPoleContinuousEnv(params=params)
    reference.reset(seed=7)
    start = reference.state.copy()
    env.reset(options={"state": start})
    state = start
    for _ in range(400):
        push_right = GAINS @ state > 0
        _, _, gym_terminated, _, _ = reference.step(int(push_right))
        force = 10.0 if push_right else -10.0
        state = step_dynamics(state, force, params)
        observation, _, terminated, _, _ = env.step(np.array([force], dtype=np.float32))
        assert np.array_equal(state, reference.state)
        assert np.array_equal(observation, reference.state)
        assert terminated == gym_terminated
    assert not terminated  # the comparison covered a long balanced run


def test_step_dynamics_on_a_batch_equals_one_state_at_a_time():
    rng = np.random.default_rng(1)
    states = rng.uniform(-0.2, 0.2, size=(5, 4))
    forces = rng.uniform(-10, 10, size=5)
    batch = step_dynamics(states, forces, CartPoleParams())
    for state, force, row in zip(states, forces, batch, strict=True):
        assert np.array_equal(step_dynamics(state, force, CartPoleParams()), row)


def test_step_dynamics_does_not_mutate_and_rejects_bad_shape():
    state = np.array([0.0, 0.1, 0.02, -0.1])
    before = state.copy()
    step_dynamics(state, 3.0, CartPoleParams())
    assert np.array_equal(state, before)
    with pytest.raises(ValueError, match="state"):
        step_dynamics(np.zeros(3), 0.0, CartPoleParams())


def test_upright_rest_is_an_equilibrium_and_gravity_topples_a_tilt():
    params = CartPoleParams()
    assert np.array_equal(step_dynamics(np.zeros(4), 0.0, params), np.zeros(4))
    # From a small tilt at rest, one Euler step leaves theta unchanged and gives
    # theta_dot = dt * g sin(theta) / (l (4/3 - m_p cos^2 / M)).
    theta = 0.1
    expected = params.dt * 9.8 * np.sin(theta) / (0.5 * (4 / 3 - 0.1 * np.cos(theta) ** 2 / 1.1))
    next_state = step_dynamics([0.0, 0.0, theta, 0.0], 0.0, params)
    assert next_state[2] == theta
    assert next_state[3] == pytest.approx(expected, rel=1e-12)


def test_reset_is_reproducible_and_matches_cartpole_v1_for_the_same_seed():
    env = CartPoleContinuousEnv()
    reference = gymnasium.make("CartPole-v1").unwrapped
    first, info = env.reset(seed=123)
    again, _ = env.reset(seed=123)
    other, _ = env.reset(seed=124)
    reference.reset(seed=123)
    assert info == {}
    assert np.array_equal(first, again)
    assert not np.array_equal(first, other)
    assert np.array_equal(first, reference.state)
    assert np.all(np.abs(first) <= 0.05)
    assert np.array_equal(env.unwrapped.state, other)


def test_reset_bounds_option_and_bad_options():
    env = CartPoleContinuousEnv()
    observation, _ = env.reset(seed=0, options={"low": -0.001, "high": 0.001})
    assert np.all(np.abs(observation) <= 0.001)
    with pytest.raises(ValueError, match="unknown reset options"):
        env.reset(options={"angle": 0.1})
    with pytest.raises(ValueError, match="state"):
        env.reset(options={"state": [0.0, 0.0]})


def test_state_property_is_a_copy():
    env = CartPoleContinuousEnv()
    env.reset(options={"state": [0.1, 0.0, 0.0, 0.0]})
    env.unwrapped.state[0] = 5.0
    assert env.unwrapped.state[0] == 0.1


def test_registered_env_truncates_at_1000_steps():
    env = gymnasium.make(CARTPOLE_CONTINUOUS_ID)
    assert env.spec.max_episode_steps == 1000
    # The upright rest state with zero force stays put, so only the time limit ends it.
    env.reset(seed=0, options={"state": np.zeros(4)})
    steps = 0
    terminated = truncated = False
    while not (terminated or truncated):
        _, reward, terminated, truncated, _ = env.step(np.zeros(1, dtype=np.float32))
        steps += 1
        assert reward == 1.0
    assert (steps, terminated, truncated) == (1000, False, True)


def test_a_feedback_controller_balances_for_the_whole_registered_episode():
    env = gymnasium.make(CARTPOLE_CONTINUOUS_ID)
    observation, _ = env.reset(seed=3)
    total = 0.0
    terminated = truncated = False
    while not (terminated or truncated):
        action = np.array([GAINS @ observation], dtype=np.float32)
        observation, reward, terminated, truncated, _ = env.step(action)
        total += reward
    assert (total, terminated) == (1000.0, False)


def test_actions_beyond_the_force_limit_are_clipped():
    start = np.array([0.0, 0.1, 0.03, -0.2])
    env = CartPoleContinuousEnv()
    results = {}
    for action in (50.0, 10.0, -1e6, -10.0, 3.5):
        env.reset(options={"state": start})
        results[action] = env.step(np.array([action], dtype=np.float32))[0]
    assert np.array_equal(results[50.0], results[10.0])
    assert np.array_equal(results[-1e6], results[-10.0])
    assert np.array_equal(results[3.5], step_dynamics(start, 3.5, CartPoleParams()))
    # A plain float is accepted too.
    env.reset(options={"state": start})
    assert np.array_equal(env.step(3.5)[0], results[3.5])


def test_bad_actions_and_step_before_reset_raise():
    env = CartPoleContinuousEnv()
    with pytest.raises(RuntimeError, match="reset"):
        env.step(np.zeros(1))
    env.reset(seed=0)
    with pytest.raises(ValueError, match="action"):
        env.step(np.array([np.nan]))
    with pytest.raises(ValueError, match="action"):
        env.step(np.zeros(2))


def test_termination_at_the_thresholds():
    env = CartPoleContinuousEnv()
    # x = 2.39 moving at 1 m/s crosses 2.4 in one 0.02 s step.
    env.reset(options={"state": [2.39, 1.0, 0.0, 0.0]})
    observation, reward, terminated, _, _ = env.step(np.zeros(1))
    assert observation[0] == pytest.approx(2.41)
    assert (reward, terminated) == (1.0, True)
    env.reset(options={"state": [0.0, 0.0, 0.2, 1.0]})  # theta 0.2 -> 0.22 > 12 degrees
    assert env.step(np.zeros(1))[2] is True
    env.reset(options={"state": [0.0, 0.0, 0.2, 0.0]})  # 0.2 rad < 12 degrees: still up
    assert env.step(np.zeros(1))[2] is False


def test_steps_after_termination_earn_nothing_and_warn():
    env = CartPoleContinuousEnv()
    env.reset(options={"state": [2.39, 1.0, 0.0, 0.0]})
    assert env.step(np.zeros(1))[1:3] == (1.0, True)
    with pytest.warns(UserWarning, match="after terminated=True"):
        assert env.step(np.zeros(1))[1:3] == (0.0, True)


def test_params_are_set_by_make_and_readable_on_unwrapped():
    params = CartPoleParams(pole_mass=0.3, pole_half_length=1.0)
    env = gymnasium.make(CARTPOLE_CONTINUOUS_ID, params=params)
    assert env.unwrapped.params is params
    env.reset(options={"state": [0.0, 0.0, 0.05, 0.0]})
    observation = env.step(np.array([2.0], dtype=np.float32))[0]
    assert np.array_equal(observation, step_dynamics([0.0, 0.0, 0.05, 0.0], 2.0, params))


def test_changing_params_updates_the_spaces():
    env = CartPoleContinuousEnv()
    env.params = CartPoleParams(force_limit=5.0, x_threshold=1.0)
    np.testing.assert_array_equal(env.action_space.high, [5.0])
    assert env.observation_space.high[0] == 2.0
    with pytest.raises(TypeError, match="params"):
        env.params = {"gravity": 9.8}


@pytest.mark.parametrize("name, value", [
    ("cart_mass", -1.0), ("pole_half_length", 0.0), ("dt", float("nan")),
    ("pole_mass", -0.1), ("gravity", float("inf")), ("integrator", "rk4"),
])
def test_bad_params_raise_naming_the_field(name, value):
    with pytest.raises(ValueError, match=name):
        CartPoleParams(**{name: value})


def test_params_are_frozen():
    with pytest.raises(AttributeError):
        CartPoleParams().gravity = 1.0


def test_render_modes_other_than_none_are_refused():
    with pytest.raises(ValueError, match="render_mode"):
        CartPoleContinuousEnv(render_mode="human")


def test_registration_is_idempotent():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        importlib.reload(cerebellar.envs)
    assert CARTPOLE_CONTINUOUS_ID in gymnasium.registry
    spec = gymnasium.registry[CARTPOLE_CONTINUOUS_ID]
    assert spec.entry_point == "cerebellar.envs.cartpole:CartPoleContinuousEnv"
