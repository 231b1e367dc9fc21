"""Agent.practise: motor babbling before a task, and the practised reaching agent."""

from functools import partial

import gymnasium as gym
import numpy as np
import pytest

import cerebellar.envs  # noqa: F401
from cerebellar import make_agent
from cerebellar.envs import SensoryDelay
from cerebellar.tasks.reaching import (
    practised_reaching_agent,
    reaching_agent,
    run_reaching_episode,
)

ARM = "cerebellar/TwoLinkArm-v0"


class Recorder:
    """A model that predicts no change and records what it is taught."""

    def __init__(self):
        self.taught = []

    def predict(self, state, command):
        return np.asarray(state, dtype=np.float64)

    def learn(self, state, command, next_state):
        self.taught.append((np.array(state), np.array(command)))
        return np.asarray(next_state) - np.asarray(state)


def test_practice_learns_every_transition_the_delay_lets_through():
    d = 5
    delayed = SensoryDelay(gym.make(ARM), delay_steps=d)
    assert make_agent(delayed, model=Recorder(), delay_steps=d).practise(delayed, 40) == 40 - d
    plain = gym.make(ARM)
    recorder = Recorder()
    assert make_agent(plain, model=recorder).practise(plain, 40) == 40
    assert len(recorder.taught) == 40


def test_practice_goes_on_through_episode_ends():
    # Episodes of 10 steps: 25 steps are 10 + 10 + 5, and each episode's first
    # d = 3 observations show no transition: 7 + 7 + 2 learned.
    env = SensoryDelay(gym.make(ARM, max_episode_steps=10), delay_steps=3)
    agent = make_agent(env, model=Recorder(), delay_steps=3)
    assert agent.practise(env, 25, seed=1) == 16


def test_practice_noise_is_added_to_the_commands_the_model_learns():
    # K = 0 and a still model: the command is the feedback on the observation,
    # so what the model is taught is that feedback plus exactly the noise drawn
    # (the command, then the command with noise, clipped to the torque limits).
    env = gym.make(ARM, gravity=False)
    recorder = Recorder()
    agent = make_agent(env, model=recorder, iterations=0)
    noise, seed = 0.2, 7
    agent.practise(env, 30, noise=noise, seed=seed)
    drawn = noise * np.random.default_rng(seed).standard_normal((30, 2))
    for (state, command), expected in zip(recorder.taught, drawn, strict=True):
        low, high = agent.actions.low, agent.actions.high
        sent = np.clip(np.clip(agent.controller.feedback.command(state), low, high) + expected, low, high)
        np.testing.assert_allclose(command, sent, atol=1e-5)


def test_practice_without_noise_teaches_the_controller_commands():
    env = gym.make(ARM, gravity=False)
    recorder = Recorder()
    agent = make_agent(env, model=recorder, iterations=0)
    agent.practise(env, 20, seed=0)
    for state, command in recorder.taught:
        sent = np.clip(agent.controller.feedback.command(state), agent.actions.low, agent.actions.high)
        np.testing.assert_allclose(command, sent, atol=1e-5)


def test_practice_keeps_the_model_and_starts_a_fresh_episode():
    env = SensoryDelay(gym.make(ARM), delay_steps=4)
    agent = make_agent(env, model="rls", delay_steps=4)
    agent.practise(env, 30, noise=1.0, seed=0)
    assert np.any(agent.model.weights_ != 0.0)
    assert agent.estimate_ is None and agent.delay_error_ is None and agent.last_command_ is None


def test_practice_is_reproducible():
    def weights(seed):
        env = gym.make(ARM)
        agent = make_agent(env, model="rls")
        agent.practise(env, 30, noise=2.0, seed=seed)
        return agent.model.weights_

    np.testing.assert_array_equal(weights(3), weights(3))
    assert not np.array_equal(weights(3), weights(4))


@pytest.mark.parametrize(("steps", "noise", "message"), [
    (0, 0.0, "steps"), (2.5, 0.0, "steps"), (10, -1.0, "noise"), (10, float("nan"), "noise"),
])
def test_bad_practice_settings_are_named(steps, noise, message):
    env = gym.make(ARM)
    with pytest.raises(ValueError, match=message):
        make_agent(env, model="rls").practise(env, steps, noise=noise)


@pytest.mark.slow
def test_practice_rescues_the_first_reach_of_the_delayed_arm():
    # One reach per episode (150 steps); 100 ms delay. The blank agent's first
    # reach mostly fails (the arm falls while the model knows nothing; known
    # runs: 2 of these 10 settle); after 0.3 s of practice most do (9 of 10).
    def make():
        return SensoryDelay(gym.make(ARM, max_episode_steps=150), delay_ms=100)

    blank, practised = 0, 0
    for seed in range(2, 12):
        env = make()
        agent = reaching_agent(env, "rls", seed=seed, delay_steps=env.delay_steps)
        blank += run_reaching_episode(env, agent, seed)[0][0].reached
        env = make()
        agent = practised_reaching_agent(env, partial(make), "rls", seed=seed,
                                         delay_steps=env.delay_steps)
        practised += run_reaching_episode(env, agent, seed)[0][0].reached
    assert blank <= 3
    assert practised >= 7
