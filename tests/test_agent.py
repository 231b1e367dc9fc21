import gymnasium as gym
import numpy as np
import pytest

from cerebellar import RLS, Agent, make_agent, run_episodes
from cerebellar.tasks.presets import CARTPOLE_GAINS


def run_first_episode(model, iterations, seed):
    env = gym.make("CartPole-v1")
    agent = make_agent(env, model=model, iterations=iterations, seed=seed)
    return run_episodes(agent, env, episodes=1, seed=seed).lengths[0]


@pytest.mark.parametrize("model", ["rls", "cerebellum-cmac", "cerebellum-random"])
def test_blank_model_balances_cartpole_in_its_first_episode(model):
    # A subset of the seeds the evaluation uses (benchmarks/cartpole_acceptance.py).
    assert [run_first_episode(model, 3, seed) for seed in range(3)] == [500, 500, 500]


def test_same_controller_without_the_model_fails():
    assert all(run_first_episode("rls", 0, seed) < 200 for seed in range(3))


def test_preset_supplies_gains_and_action_values():
    agent = make_agent(gym.make("CartPole-v1"))
    np.testing.assert_array_equal(agent.controller.feedback.gains[0], CARTPOLE_GAINS)
    np.testing.assert_array_equal(agent.actions.values[:, 0], [-10.0, 10.0])
    assert agent.observation_names[2] == "pole angle"


def test_same_seed_same_numbers():
    results = []
    for _ in range(2):
        env = gym.make("CartPole-v1")
        agent = make_agent(env, model="cerebellum", seed=4)
        results.append(run_episodes(agent, env, episodes=2, seed=4))
    for first, second in zip(results[0].episodes, results[1].episodes, strict=True):
        np.testing.assert_array_equal(first.observations, second.observations)
        np.testing.assert_array_equal(first.prediction_errors, second.prediction_errors)


def test_reset_keeps_what_was_learned():
    env = gym.make("CartPole-v1")
    agent = make_agent(env, model="rls")
    run_episodes(agent, env, episodes=1, seed=0)
    weights = agent.model.weights_.copy()
    agent.reset()
    np.testing.assert_array_equal(agent.model.weights_, weights)
    assert agent.model.n_learned_ == 500


def test_model_instance_and_box_action_space():
    env = gym.make("Pendulum-v1")
    agent = Agent.for_env(env, model=RLS(), gains=[2.0, 0.0, 0.0], setpoint=[1.0, 0.0, 0.0])
    result = run_episodes(agent, env, episodes=1, seed=0, max_steps=50)
    assert result.lengths[0] == 50
    assert np.all(np.abs(result.episodes[0].applied) <= 2.0)


def test_missing_settings_and_bad_input_are_named():
    with pytest.raises(ValueError, match="no preset for environment 'Pendulum-v1'"):
        make_agent(gym.make("Pendulum-v1"))
    with pytest.raises(ValueError, match="no controller for 'Pendulum-v1'"):
        Agent.for_env(gym.make("Pendulum-v1"))
    with pytest.raises(ValueError, match="unsupported observation space"):
        Agent.for_env(gym.make("FrozenLake-v1"), gains=[1.0])
    with pytest.raises(ValueError, match="feedback covers 2 channels"):
        make_agent(gym.make("CartPole-v1"), gains=[1.0, 2.0])
    with pytest.raises(ValueError, match="unknown model 'lstm'"):
        make_agent(gym.make("CartPole-v1"), model="lstm")
    agent = make_agent(gym.make("CartPole-v1"))
    with pytest.raises(ValueError, match="observation contains NaN"):
        agent.act([0.0, np.nan, 0.0, 0.0])
    with pytest.raises(ValueError, match="observation must have length 4"):
        agent.act([0.0, 0.0])
