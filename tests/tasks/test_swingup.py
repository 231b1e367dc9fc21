"""Swing-up tasks: true dynamics equal Gymnasium's, agents are reproducible, tuning is reported."""

import json

import gymnasium as gym
import numpy as np
import pytest

from cerebellar.agent import run_episodes
from cerebellar.control import ActionMap, SentCommands
from cerebellar.envs.classic import acrobot_energy, acrobot_height
from cerebellar.tasks.swingup import (
    SETTINGS,
    SWINGUP_ENV_IDS,
    acrobot_cost,
    learned_agent,
    no_model_agent,
    oracle_agent,
    tune_no_model,
)


def gym_transitions(env_id, n=40, seed=0):
    """Observations, commands and Gymnasium's next observations from random states and actions."""
    env = gym.make(env_id)
    settings = SETTINGS[env_id]
    actions = ActionMap(env.action_space, settings.action_values)
    rng = np.random.default_rng(seed)
    states, commands, nexts = [], [], []
    observation, _ = env.reset(seed=seed)
    for step in range(n):
        if step % 10 == 0:
            observation, _ = env.reset(seed=seed + step)
        if actions.discrete:
            action = int(rng.integers(env.action_space.n))
        else:
            action = rng.uniform(actions.low, actions.high).astype(np.float32)
        next_observation, _, terminated, truncated, _ = env.step(action)
        states.append(observation)
        commands.append(actions.to_command(action))
        nexts.append(next_observation)
        observation = next_observation
        if terminated or truncated:
            observation, _ = env.reset(seed=seed + 1000 + step)
    return (np.array(states, dtype=np.float64), np.array(commands, dtype=np.float64),
            np.array(nexts, dtype=np.float64))


@pytest.mark.parametrize("env_id", SWINGUP_ENV_IDS)
def test_vectorised_dynamics_equal_gymnasium_step(env_id):
    states, commands, nexts = gym_transitions(env_id)
    predicted = SETTINGS[env_id].dynamics(states, commands)
    # Gymnasium returns float32 observations for Pendulum and Acrobot: compare at that precision
    # there, and exactly (1e-9) for MountainCar, whose observations are float64 throughout.
    tolerance = 1e-9 if nexts.dtype == np.float64 and env_id.startswith("Mountain") else 1e-5
    np.testing.assert_allclose(predicted, nexts, atol=tolerance)


def test_pendulum_dynamics_equal_gymnasium_to_1e9_on_its_own_state():
    env = gym.make("Pendulum-v1").unwrapped
    rng = np.random.default_rng(3)
    for _ in range(20):
        env.reset(seed=0)
        env.state = np.array([rng.uniform(-np.pi, np.pi), rng.uniform(-8, 8)])
        theta, velocity = env.state
        torque = rng.uniform(-2, 2)
        env.step(np.array([torque], dtype=np.float32))
        expected = np.array([np.cos(env.state[0]), np.sin(env.state[0]), env.state[1]])
        observed = np.array([[np.cos(theta), np.sin(theta), velocity]])
        got = SETTINGS["Pendulum-v1"].dynamics(observed, np.array([[np.float32(torque)]], dtype=np.float64))
        np.testing.assert_allclose(got[0], expected, atol=1e-9)


def test_acrobot_height_is_one_at_the_goal_threshold():
    # Upright first link, second link horizontal: tip height 1 (Gymnasium's goal is > 1).
    state = np.array([[np.cos(np.pi), np.sin(np.pi), np.cos(np.pi / 2), np.sin(np.pi / 2), 0, 0]])
    assert acrobot_height(state)[0] == pytest.approx(1.0)


def test_acrobot_energy_is_conserved_without_torque():
    rng = np.random.default_rng(5)
    angles, rates = rng.uniform(-3, 3, (8, 2)), rng.uniform(-2, 2, (8, 2))
    states = np.column_stack([np.cos(angles[:, 0]), np.sin(angles[:, 0]), np.cos(angles[:, 1]),
                              np.sin(angles[:, 1]), rates])
    after = SETTINGS["Acrobot-v1"].dynamics(states, np.zeros((8, 1)))
    # Up to the RK4 step's error (measured: below 0.1 of energies around -20).
    np.testing.assert_allclose(acrobot_energy(after), acrobot_energy(states), atol=0.1)
    upright, hanging = np.array([[-1.0, 0, 1, 0, 0, 0]]), np.array([[1.0, 0, 1, 0, 0, 0]])
    assert acrobot_energy(upright)[0] == pytest.approx(0.0)
    assert acrobot_energy(hanging)[0] == pytest.approx(-39.2)


def test_acrobot_cost_known_answers():
    upright, hanging = np.array([[-1.0, 0, 1, 0, 0, 0]]), np.array([[1.0, 0, 1, 0, 0, 0]])
    command = np.zeros((1, 1))
    # Upright at rest: tip height 2, no swing missing. Hanging at rest: height -2, 10 for
    # being below the goal, and the whole swing missing (weight 3).
    assert acrobot_cost(upright, command)[0] == pytest.approx(-2.0)
    assert acrobot_cost(hanging, command)[0] == pytest.approx(2.0 + 10.0 + 3.0)
    # Hanging with squared joint speeds summing to 30 (x 0.2 = the 6 by which the elbow's and
    # the tip's heights fall short) misses nothing: only the height and the goal term remain;
    # with half of that, half the swing is missing.
    swinging = np.array([[1.0, 0, 1, 0, 5.0, np.sqrt(5.0)], [1.0, 0, 1, 0, 3.0, np.sqrt(6.0)]])
    np.testing.assert_allclose(acrobot_cost(swinging, np.zeros((2, 1))), [12.0, 12.0 + 1.5])
    assert SETTINGS["Acrobot-v1"].cost is acrobot_cost


def test_sent_commands_match_the_action_map():
    env = gym.make("Acrobot-v1")
    actions = ActionMap(env.action_space, SETTINGS["Acrobot-v1"].action_values)
    wrapper = SentCommands(None, actions)
    commands = np.array([-3.0, -1.0, -0.6, -0.5, -0.2, 0.0, 0.5, 0.51, 2.0])
    expected = [actions.to_command(actions.to_action(np.array([c])))[0] for c in commands]
    np.testing.assert_array_equal(wrapper._sent(commands), expected)


@pytest.mark.parametrize("env_id", SWINGUP_ENV_IDS)
def test_learned_agent_is_reproducible_and_learns(env_id):
    returns = []
    for _ in range(2):
        env = gym.make(env_id)
        agent = learned_agent(env, seed=3)
        result = run_episodes(agent, env, episodes=1, seed=3, max_steps=15)
        returns.append(result.episodes[0].rewards)
    np.testing.assert_array_equal(returns[0], returns[1])
    assert agent.model.n_learned_ == 15  # a blank model that learned every transition


def test_oracle_swings_the_pendulum_up_in_its_first_episode():
    env = gym.make("Pendulum-v1")
    result = run_episodes(oracle_agent(env, seed=0), env, episodes=1, seed=0)
    # Measured: -125 (a pendulum left hanging scores below -1,000).
    assert result.episodes[0].rewards.sum() > -300


def test_learned_agent_swings_the_pendulum_up_by_its_second_episode():
    env = gym.make("Pendulum-v1")
    result = run_episodes(learned_agent(env, seed=0), env, episodes=2, seed=0)
    # Measured: -260 then -240 (the oracle: -125, -240); its first 20 prediction errors are
    # those of a blank model, its last ones about 400 times smaller.
    assert result.episodes[1].rewards.sum() > -300
    errors = np.abs(np.concatenate([e.prediction_errors for e in result.episodes]))
    assert errors[-20:].mean() < 0.01 * errors[:20].mean()


def test_tune_no_model_reports_gains_and_trial_episodes():
    tuned = tune_no_model("MountainCarContinuous-v0", seeds=(1000,))
    assert json.loads(json.dumps(tuned.params)) == tuned.params
    json.dumps(tuned.to_dict())
    assert tuned.episodes == len(SETTINGS["MountainCarContinuous-v0"].feedback_grid)
    env = gym.make("MountainCarContinuous-v0")
    result = run_episodes(no_model_agent(env, tuned.params), env, episodes=1, seed=0)
    # Bang-bang on velocity reaches the flag from any start: reward 100 minus the effort.
    assert result.episodes[0].rewards.sum() > 90


def test_unknown_environment_is_refused():
    with pytest.raises(ValueError, match="no swing-up task"):
        learned_agent(gym.make("CartPole-v1"))
    with pytest.raises(ValueError, match="no swing-up task"):
        tune_no_model("CartPole-v1")
