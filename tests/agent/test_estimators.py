"""The Kalman form of internal feedback and the online delay estimate, against known answers."""

from __future__ import annotations

from collections import deque

import gymnasium as gym
import numpy as np
import pytest
from scipy.linalg import solve_discrete_are

import cerebellar.envs  # noqa: F401  (registers the cart-pole)
from cerebellar.agent import Agent, SmithPredictor, run_episodes
from cerebellar.agent.estimators import (
    DelayEstimator,
    InnovationGain,
    KalmanPredictor,
    make_internal_feedback,
)
from cerebellar.envs import SensoryDelay
from cerebellar.tasks import TASKS, make_agent
from cerebellar.tasks.base import internal_feedback_options
from cerebellar.tasks.catalogue import task_for_env

# A damped position-velocity plant, stable under random commands.
A = np.array([[1.0, 0.1], [-0.05, 0.95]])
B = np.array([[0.0], [0.1]])


class LinearModel:
    """The exact plant as a forward model (learns nothing)."""

    def predict(self, state, command):
        return A @ state + B @ command

    def learn(self, state, command, next_state):
        return next_state - self.predict(state, command)


def simulate(steps, process_sd, noise_sd, seed=0):
    """Return true states, noisy observations and the (white, random) commands."""
    rng = np.random.default_rng(seed)
    x = np.zeros(2)
    states, observations, commands = [], [], []
    for _ in range(steps):
        u = rng.normal(size=1)
        states.append(x)
        observations.append(x + noise_sd * rng.normal(size=2))
        commands.append(u)
        x = A @ x + B @ u + process_sd * rng.normal(size=2)
    return np.array(states), np.array(observations), np.array(commands)


def steady_state_gain(Q, R):
    """The steady-state Kalman gain of the filter for y = x + v (C = I)."""
    P = solve_discrete_are(A.T, np.eye(2), Q, R)
    return P @ np.linalg.inv(P + R)


def test_innovation_gain_converges_to_the_steady_state_kalman_gain():
    process_sd, noise_sd = 0.02, np.array([0.05, 0.03])
    _, y, u = simulate(40_000, process_sd, noise_sd)
    gain = InnovationGain(2, window=1e9)
    for t in range(1, len(y)):
        gain.update(y[t] - (A @ y[t - 1] + B @ u[t - 1]))
    gain.update_dynamics(A)
    for _ in range(10):
        gain.refresh()
    R, Q = np.diag(noise_sd**2), process_sd**2 * np.eye(2)
    np.testing.assert_allclose(np.diag(gain.R_), noise_sd**2, rtol=0.1)
    np.testing.assert_allclose(gain.gain_, steady_state_gain(Q, R), atol=0.04)
    # More sensory noise, less trust in the senses: the gain falls.
    _, y2, u2 = simulate(40_000, process_sd, 3 * noise_sd, seed=1)
    noisier = InnovationGain(2, window=1e9)
    for t in range(1, len(y2)):
        noisier.update(y2[t] - (A @ y2[t - 1] + B @ u2[t - 1]))
    noisier.update_dynamics(A)
    noisier.refresh()
    assert np.all(np.diag(noisier.gain_) < np.diag(gain.gain_) - 0.1)


def run_predictor(predictor, y, u, model):
    estimates = []
    for t in range(len(y)):
        estimates.append(predictor.estimate(model, y[t]).copy())
        predictor.record(u[t])
    return np.array(estimates)


def delayed(observations, d):
    """The observations as a SensoryDelay shows them: the first repeated d times."""
    return np.concatenate([np.repeat(observations[:1], d, axis=0), observations[:-d]])


def test_kalman_predictor_filters_noise_better_than_the_smith_predictor():
    d = 3
    x, y, u = simulate(5000, 0.005, np.array([0.05, 0.05]), seed=2)
    kalman = run_predictor(KalmanPredictor(d, 2, 1), delayed(y, d), u, LinearModel())
    smith = run_predictor(SmithPredictor(d, 2), delayed(y, d), u, LinearModel())
    late = slice(1000, None)
    kalman_error = np.sqrt(np.mean((kalman[late] - x[late]) ** 2))
    smith_error = np.sqrt(np.mean((smith[late] - x[late]) ** 2))
    assert kalman_error < 0.6 * smith_error


def test_kalman_predictor_is_the_smith_predictor_on_noiseless_senses():
    d = 4
    _, y, u = simulate(600, 0.0, 0.0, seed=3)
    kalman = KalmanPredictor(d, 2, 1)
    estimates = run_predictor(kalman, delayed(y, d), u, LinearModel())
    smith = run_predictor(SmithPredictor(d, 2), delayed(y, d), u, LinearModel())
    assert kalman.gain.count_ > kalman.gain.min_samples
    np.testing.assert_array_equal(estimates, smith)
    np.testing.assert_array_equal(kalman.gain.gain_, np.eye(2))


def test_kalman_gain_trusts_noiseless_senses_under_process_noise():
    _, y, u = simulate(20_000, 0.02, 0.0, seed=4)
    gain = InnovationGain(2, window=1e9)
    for t in range(1, len(y)):
        gain.update(y[t] - (A @ y[t - 1] + B @ u[t - 1]))
    gain.update_dynamics(A)
    gain.refresh()
    np.testing.assert_allclose(gain.gain_, np.eye(2), atol=0.03)


@pytest.mark.parametrize("true_delay", [0, 2, 7])
def test_delay_estimator_finds_the_true_delay_on_a_linear_plant(true_delay):
    _, y, u = simulate(1500, 0.001, 0.001, seed=5)
    shown = delayed(y, true_delay) if true_delay else y
    estimator = DelayEstimator(range(11), initial=5, n_state=2, n_command=1)
    sent = deque(maxlen=12)
    for t in range(len(u)):
        if t:
            estimator.update(shown[t - 1], shown[t], sent)
        sent.append(u[t])
    assert estimator.refresh() == true_delay


def test_auto_delay_agent_finds_the_cartpole_delay_in_one_episode():
    env = SensoryDelay(gym.make("cerebellar/CartPoleContinuous-v0"), delay_ms=200)
    agent = make_agent(env, "rls", delay_steps="auto", seed=0)
    assert agent.delay_steps == 0 and agent.internal_feedback.max_delay_steps == 25
    run_episodes(agent, env, episodes=1, seed=0)
    assert abs(agent.delay_steps - env.delay_steps) <= 1


def test_seeded_kalman_runs_are_identical():
    task = TASKS["noise-100-kalman"]
    lengths = []
    for _ in range(2):
        env = task.make_env()
        agent = task.build_agent("rls", env, seed=3)
        result = run_episodes(agent, env, episodes=1, seed=3)
        lengths.append((result.episodes[0].length, agent.estimate_.tolist()))
    assert lengths[0] == lengths[1]


def test_for_env_builds_the_estimators():
    env = SensoryDelay(gym.make("cerebellar/CartPoleContinuous-v0"), delay_steps=5)
    assert isinstance(make_agent(env, delay_steps=5).internal_feedback, SmithPredictor)
    kalman = make_agent(env, estimator="kalman", delay_steps=5).internal_feedback
    assert isinstance(kalman, KalmanPredictor) and kalman.filtering
    assert kalman.delay_estimator.candidates.tolist() == [3, 4, 5, 6, 7]
    auto = make_agent(env, delay_steps="auto", max_delay_steps=8).internal_feedback
    assert not auto.filtering and auto.delay_estimator.candidates.tolist() == list(range(9))


@pytest.mark.parametrize("options, message", [
    ({"estimator": "particle", "delay_steps": 3}, "unknown estimator"),
    ({"delay_steps": "soon"}, "delay_steps"),
    ({"delay_steps": -1}, "delay_steps"),
    ({"delay_steps": 9, "max_delay_steps": 8}, "exceeds max_delay_steps"),
    ({"delay_steps": "auto", "max_delay_steps": 0}, "max_delay_steps >= 1"),
    ({"delay_steps": "auto", "max_delay_steps": 1.5}, "delay_steps"),
])
def test_bad_estimator_options_raise(options, message):
    env = gym.make("cerebellar/CartPoleContinuous-v0")
    with pytest.raises(ValueError, match=message):
        make_agent(env, **options)


def test_bad_estimator_parts_raise():
    with pytest.raises(ValueError, match="window"):
        InnovationGain(2, window=0)
    with pytest.raises(ValueError, match="initial delay"):
        DelayEstimator(range(3), initial=5, n_state=2, n_command=1)
    with pytest.raises(ValueError, match="correction"):
        KalmanPredictor(2, 2, 1, correction=2.0)
    with pytest.raises(ValueError, match="unknown estimator"):
        make_internal_feedback("kalmann", 3, 2, 1)


def test_tasks_tell_their_agents_a_misjudged_or_no_delay():
    short = TASKS["delay-200-told-short"]
    env = short.make_env()
    assert internal_feedback_options(short, env) == {"delay_steps": env.delay_steps - 1, "estimator": "smith"}
    auto = TASKS["delay-auto-100-kalman"]
    assert internal_feedback_options(auto, auto.make_env()) == {"delay_steps": "auto", "estimator": "kalman"}
    agent = auto.build_agent("rls", auto.make_env())
    assert isinstance(agent, Agent) and agent.internal_feedback.delay_estimator is not None
    # The plain task for a delay is never one of these.
    assert task_for_env("cerebellar/CartPoleContinuous-v0", 60).name == "delay-0+60ms"


def test_cli_runs_the_kalman_estimator_and_refuses_it_where_unused(capsys):
    from cerebellar.cli import main

    argv = ["run", "cerebellar/CartPoleContinuous-v0", "--delay-ms", "100", "--estimator", "kalman",
            "--auto-delay", "--max-steps", "60", "--out", "", "--json"]
    assert main(argv) == 0
    assert "delay-100-auto-kalman" in capsys.readouterr().out
    assert main(["run", "Pendulum-v1", "--estimator", "kalman", "--out", ""]) == 2
    assert "--estimator" in capsys.readouterr().err
