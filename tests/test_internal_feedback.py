import gymnasium as gym
import numpy as np
import pytest

from cerebellar import make_agent, run_episodes
from cerebellar.envs import CARTPOLE_CONTINUOUS_ID, SensoryDelay, step_dynamics
from cerebellar.models import RLS
from cerebellar.models.oracle import OracleModel


def delayed_env(delay_steps):
    return SensoryDelay(gym.make(CARTPOLE_CONTINUOUS_ID), delay_steps=delay_steps)


@pytest.mark.parametrize("delay", [1, 5, 10])
def test_oracle_estimate_is_the_true_present(delay):
    # With the true dynamics as model, rolling the delayed observation forward
    # through the commands sent since gives the present state exactly.
    env = delayed_env(delay)
    agent = make_agent(env, model=OracleModel(env), delay_steps=delay)
    observation, info = env.reset(seed=3)
    for _ in range(60):
        action = agent.act(observation)
        np.testing.assert_allclose(agent.estimate_, info["true_observation"], rtol=0, atol=1e-12)
        next_observation, _, terminated, _, info = env.step(action)
        agent.observe(observation, action, next_observation)
        observation = next_observation
        assert not terminated


def run_delayed(delay, steps=600):
    """Run a delayed RLS agent; also train a naive model that pairs each delayed
    observation with the newest command. Return both models and the true
    (state, command, next state) transitions of the run."""
    env = delayed_env(delay)
    agent = make_agent(env, model=RLS(forgetting=1.0), delay_steps=delay)
    naive = RLS(forgetting=1.0)
    observation, info = env.reset(seed=0)
    truths, errors, transitions = [info["true_observation"]], [], []
    for _ in range(steps):
        action = agent.act(observation)
        next_observation, _, terminated, _, info = env.step(action)
        errors.append(agent.observe(observation, action, next_observation))
        command = agent.actions.to_command(action)
        naive.learn(observation, command, next_observation)
        transitions.append((truths[-1], command, info["true_observation"]))
        truths.append(info["true_observation"])
        observation = next_observation
        assert not terminated
    return agent.model, naive, transitions, errors


def true_transition_error(model, transitions):
    return max(np.abs(model.predict(s, u) - s_next).max() for s, u, s_next in transitions)


def test_delayed_agent_learns_the_right_transitions():
    # Each delayed transition must be paired with the command sent d steps
    # earlier; then the model predicts the plant's true transitions. (In closed
    # loop the command is nearly a linear function of the state, so it is the
    # transitions the loop visits, not every (state, force) pair, that are learned.)
    delay = 5
    model, naive, transitions, errors = run_delayed(delay)
    assert all(e is None for e in errors[:delay])  # the senses still show the start
    assert all(e is not None for e in errors[delay:])
    held_out = transitions[-200:]
    assert true_transition_error(model, held_out) < 1e-4
    # The same data paired with the newest command gives a far worse model.
    assert true_transition_error(naive, held_out) > 10 * true_transition_error(model, held_out)


def test_delay_steps_validation_and_reset():
    env = delayed_env(3)
    with pytest.raises(ValueError, match="delay_steps"):
        make_agent(env, delay_steps=-1)
    agent = make_agent(env, delay_steps=3)
    run_episodes(agent, env, episodes=1, seed=0, max_steps=10)
    agent.reset()
    assert agent.estimate_ is None and len(agent.internal_feedback._sent) == 0


def test_oracle_needs_true_dynamics():
    with pytest.raises(ValueError, match="exposes no true dynamics"):
        OracleModel(gym.make("CartPole-v1"))
    env = gym.make(CARTPOLE_CONTINUOUS_ID)
    env.reset(seed=0)
    oracle = OracleModel(env)
    state = env.unwrapped.state
    expected = step_dynamics(state, 3.0, env.unwrapped.params)
    np.testing.assert_array_equal(oracle.predict(state, [3.0]), expected)
    next_state, *_ = env.step(np.array([3.0], dtype=np.float32))
    np.testing.assert_allclose(oracle.learn(state, [3.0], next_state), 0.0, atol=1e-12)
