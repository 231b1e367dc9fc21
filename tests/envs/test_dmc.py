import math
import sys

import gymnasium
import numpy as np
import pytest

from cerebellar import ActionMap, Agent, ForwardModelController, LinearFeedback, make_agent
from cerebellar.envs import dmc
from cerebellar.envs.dmc import DMC_CARTPOLE_BALANCE_ID, DMControlEnv
from cerebellar.models import make_model
from cerebellar.models.oracle import OracleModel
from cerebellar.tasks.presets import DMC_CARTPOLE_PRESET, SEED_COMMAND_LIMIT, get_preset

dmc.register()

# Stiffer than the seed's gains (on x, cos, sin, x_dot, omega): it keeps the cart near
# the centre while noise is added to its commands.
BALANCING = np.array([0.05, 0.0, 3.0, 0.1, 0.2])

# check_env's advice that is not an error: the suite's observation spec is unbounded.
ADVISORY = ("infinity. This is probably",)


def at(env, observation):
    """Reset ``env`` to the state ``observation`` describes and return the observation."""
    return env.reset(seed=0, options={"observation": observation})[0]


def state(x=0.0, angle=0.0, x_dot=0.0, omega=0.0):
    return np.array([x, math.cos(angle), math.sin(angle), x_dot, omega])


def test_check_env_passes_without_error_warnings(serious_warnings):
    # Only the unbounded-observation advice is expected here: the action range is [-1, 1].
    assert serious_warnings(gymnasium.make(DMC_CARTPOLE_BALANCE_ID).unwrapped, ADVISORY) == []


def test_registration_and_preset_are_idempotent():
    dmc.register()
    dmc.register()
    spec = gymnasium.spec(DMC_CARTPOLE_BALANCE_ID)
    assert spec.max_episode_steps == 1000
    assert spec.kwargs == {"domain": "cartpole", "task": "balance"}
    assert get_preset(DMC_CARTPOLE_BALANCE_ID) is DMC_CARTPOLE_PRESET


def test_observation_layout_names_and_spaces():
    env = DMControlEnv()
    assert env.observation_names == ("cart position", "pole angle cosine", "pole angle sine",
                                     "cart velocity", "pole angular velocity")
    assert env.observation_space.shape == (5,) and env.observation_space.dtype == np.float64
    assert env.action_space.dtype == np.float64
    np.testing.assert_array_equal(env.action_space.low, [-1.0])
    np.testing.assert_array_equal(env.action_space.high, [1.0])
    assert env.dt == 0.01
    observation = at(env, state(0.3, 0.2, -0.4, 0.5))
    qpos, qvel = env.physics.data.qpos, env.physics.data.qvel
    np.testing.assert_allclose(qpos, [0.3, 0.2], atol=1e-15)
    np.testing.assert_allclose(qvel, [-0.4, 0.5], atol=1e-15)
    np.testing.assert_allclose(observation, state(0.3, 0.2, -0.4, 0.5), atol=1e-15)
    # The suite's dict, key by key: position (x, cos, sin), then velocity.
    raw = env._env.task.get_observation(env.physics)
    assert list(raw) == ["position", "velocity"]
    np.testing.assert_array_equal(observation, np.concatenate([raw["position"], raw["velocity"]]))


def test_other_domains_get_generic_names_and_no_dynamics():
    env = DMControlEnv("pendulum", "swingup")
    assert env.observation_names == ("orientation[0]", "orientation[1]", "velocity")
    observation, _ = env.reset(seed=0)
    with pytest.raises(NotImplementedError, match="cart-pole"):
        env.dynamics(observation, [0.0])


def test_reset_is_reproducible_and_matches_the_suite():
    env = DMControlEnv()
    first, info = env.reset(seed=5)
    again, _ = env.reset(seed=5)
    other, _ = env.reset(seed=6)
    assert info == {}
    assert np.array_equal(first, again)
    assert not np.array_equal(first, other)
    from dm_control import suite  # after DMControlEnv() has chosen no GL backend

    reference = suite.load("cartpole", "balance", task_kwargs={"random": 5}).reset().observation
    assert np.array_equal(first, np.concatenate([reference["position"], reference["velocity"]]))
    # The whole run, unseeded resets included, follows from the first seed.
    runs = []
    for _ in range(2):
        env.reset(seed=3)
        trace = [env.step([0.5])[0] for _ in range(20)] + [env.reset()[0]]
        runs.append(np.array(trace))
    assert np.array_equal(runs[0], runs[1])


def test_truncates_at_1000_steps_and_refuses_to_step_on():
    env = gymnasium.make(DMC_CARTPOLE_BALANCE_ID)
    env.reset(seed=0)
    endings = [env.step(np.zeros(1))[2:4] for _ in range(1000)]
    assert endings[-1] == (False, True)
    assert all(ending == (False, False) for ending in endings[:-1])
    with pytest.raises(RuntimeError, match="reset"):
        env.unwrapped.step(np.zeros(1))


def test_dynamics_equals_the_env_step_and_leaves_it_untouched():
    env = DMControlEnv()
    observation, _ = env.reset(seed=1)
    rng = np.random.default_rng(0)
    for _ in range(300):
        # A balancing feedback plus noise: the cart stays off its end stop (checked
        # below), and about one command in five is out of range.
        command = BALANCING @ observation + rng.normal(0.0, 0.7, size=1)
        live = env.physics.get_state().copy()
        predicted = env.dynamics(observation, command)
        assert np.array_equal(env.physics.get_state(), live)
        observation, *_ = env.step(command)
        np.testing.assert_allclose(predicted, observation, rtol=0, atol=1e-12)
        assert abs(observation[0]) < 1.8


def test_dynamics_after_the_pole_fell_and_at_the_end_stop():
    env = DMControlEnv()
    # Pole spinning through the bottom: the angle from atan2 differs by whole turns.
    observation = at(env, state(0.2, 3.0, 0.5, 8.0))
    for _ in range(50):
        predicted = env.dynamics(observation, [0.3])
        observation, *_ = env.step([0.3])
        np.testing.assert_allclose(predicted, observation, rtol=0, atol=1e-12)
    # Pressing on the slider's end stop (1.8 m): the constraint solver's warm start
    # is not in the observation, so the two agree to the solver's tolerance only.
    observation = at(env, state(1.75, 0.0, 2.0, 0.0))
    worst = 0.0
    for _ in range(30):
        predicted = env.dynamics(observation, [1.0])
        observation, *_ = env.step([1.0])
        worst = max(worst, np.max(np.abs(predicted - observation)))
    assert env.physics.data.qpos[0] > 1.8
    assert worst < 1e-6


def test_oracle_model_uses_the_dynamics():
    env = gymnasium.make(DMC_CARTPOLE_BALANCE_ID)
    observation, _ = env.reset(seed=2)
    oracle = OracleModel(env)
    predicted = oracle.predict(observation, np.array([0.4]))
    np.testing.assert_allclose(predicted, env.step(np.array([0.4]))[0], atol=1e-12)


@pytest.mark.parametrize("side", [1.0, -1.0])
def test_the_preset_pushes_the_cart_under_a_falling_pole(side):
    env = DMControlEnv()
    start = state(angle=side * 0.1)
    feedback = LinearFeedback(DMC_CARTPOLE_PRESET.gains, DMC_CARTPOLE_PRESET.setpoint)
    command = feedback.command(start)
    # command = 1.0 sin(angle): the sign of the lean.
    assert command[0] == pytest.approx(side * math.sin(0.1))
    # Left alone, the pole falls further to the side it leans (sin(angle) grows) ...
    at(env, start)
    for _ in range(10):
        idle, *_ = env.step([0.0])
    assert side * idle[2] > side * start[2]
    # ... and the preset's command drives the cart towards that side, under the pole,
    # which leans less than it would have.
    at(env, start)
    for _ in range(10):
        pushed, *_ = env.step(command)
    assert side * pushed[3] > 0 and side * pushed[0] > 0
    assert side * pushed[2] < side * idle[2]


def test_actions_are_clipped_to_the_actuator_range():
    env = DMControlEnv()
    start = state(angle=0.05)
    results = {}
    for action in (1.0, 3.0, -1.0, -7.0):
        at(env, start)
        results[action] = env.step([action])[:2]
        np.testing.assert_array_equal(env.dynamics(start, [action]), results[action][0])
    assert np.array_equal(results[3.0][0], results[1.0][0]) and results[3.0][1] == results[1.0][1]
    assert np.array_equal(results[-7.0][0], results[-1.0][0])
    np.testing.assert_array_equal(ActionMap(env.action_space).to_action(np.array([4.0])), [1.0])
    with pytest.raises(ValueError, match="action"):
        env.step([np.nan])


def test_the_seeds_five_limit_never_changes_an_action():
    # The seed clips its controller to +-5; the actuator's +-1 is tighter, and the
    # agent clips to it before every prediction and on return, so the runs coincide.
    preset = DMC_CARTPOLE_PRESET
    clipped = LinearFeedback(preset.gains, preset.setpoint, low=-SEED_COMMAND_LIMIT,
                             high=SEED_COMMAND_LIMIT)
    assert clipped.command(state(angle=0.5, omega=1000.0))[0] == SEED_COMMAND_LIMIT
    actions = []
    for feedback in (clipped, LinearFeedback(preset.gains, preset.setpoint)):
        env = gymnasium.make(DMC_CARTPOLE_BALANCE_ID)
        model = make_model("rls", seed=0, input_scale=preset.state_scale + preset.command_scale)
        action_map = ActionMap(env.action_space)
        controller = ForwardModelController(feedback, model, 1, low=action_map.low, high=action_map.high)
        agent = Agent(model, controller, action_map, 5)
        model.initialise(5, 1)
        observation, _ = env.reset(seed=0)
        trace = []
        for _ in range(300):
            action = agent.act(observation)
            next_observation, *_ = env.step(action)
            agent.observe(observation, action, next_observation)
            observation = next_observation
            trace.append(action)
        actions.append(np.array(trace))
    assert np.array_equal(actions[0], actions[1])


def test_make_agent_uses_the_preset():
    env = gymnasium.make(DMC_CARTPOLE_BALANCE_ID)
    agent = make_agent(env, model="rls", iterations=1, seed=0)
    assert agent.observation_names == DMC_CARTPOLE_PRESET.observation_names
    observation, _ = env.reset(seed=0)
    assert env.action_space.contains(agent.act(observation))


def test_render_mode_bad_options_and_missing_dm_control(monkeypatch):
    with pytest.raises(ValueError, match="render_mode"):
        DMControlEnv(render_mode="rgb_array")
    env = DMControlEnv()
    with pytest.raises(ValueError, match="unknown reset options"):
        env.reset(options={"state": [0.0]})
    with pytest.raises(ValueError, match="5 finite"):
        env.reset(options={"observation": [0.0, 1.0]})
    monkeypatch.setitem(sys.modules, "dm_control", None)
    with pytest.raises(ImportError, match=r"cerebellar\[dmc\]"):
        DMControlEnv()
