"""Feedback-error learning: the inverse model learns from the feedback command."""

import gymnasium as gym
import numpy as np
import pytest

import cerebellar.envs  # noqa: F401
from cerebellar.agent import FeedbackErrorAgent, SmithPredictor, run_episodes
from cerebellar.control import ActionMap
from cerebellar.envs import WRIST_TRACKING_ID, SensoryDelay
from cerebellar.models import InverseModel
from cerebellar.models.oracle import OracleInverseModel, OracleModel

KP, KD = (3.0, 3.0), (0.12, 0.12)


def _agent(env, inverse, learning=True, **options):
    return FeedbackErrorAgent(inverse, env.get_wrapper_attr("trajectory"), KP, KD,
                              ActionMap(env.action_space), 0.01, learning=learning, **options)


def _rms(trace):
    error = trace.true_observations[:, 4:6] - trace.true_observations[:, :2]
    return float(np.sqrt(np.mean(np.sum(error**2, axis=1))))


def test_the_linear_inverse_learns_the_wrist_and_the_feedback_share_falls():
    # The wrist is linear: its inverse dynamics are linear in (q, dq, ddq), so the
    # linear NLMS inverse model can learn them exactly from the feedback command.
    env = gym.make(WRIST_TRACKING_ID)
    agent = _agent(env, InverseModel("nlms", substrate_params={"rate": 0.05}))
    traces = run_episodes(agent, env, episodes=3, seed=0, max_steps=400).episodes
    rms = [_rms(t) for t in traces]
    feedback = [np.abs(t.components["feedback"]).sum() for t in traces]
    assert rms[2] < 0.5 * rms[0]
    assert feedback[2] < 0.5 * feedback[0]
    np.testing.assert_allclose(traces[0].commands,
                               np.clip(traces[0].components["feedback"] + traces[0].components["feedforward"],
                                       -5, 5))


def test_frozen_learning_repeats_the_same_trial_and_seeded_runs_agree():
    env = gym.make(WRIST_TRACKING_ID)
    frozen = run_episodes(_agent(env, InverseModel("nlms"), learning=False), env, episodes=2, seed=0,
                          max_steps=200).episodes
    np.testing.assert_array_equal(frozen[0].observations, frozen[1].observations)
    np.testing.assert_array_equal(frozen[0].components["feedforward"], 0.0)
    runs = [run_episodes(_agent(env, InverseModel("cerebellum", seed=4)), env, seed=1, max_steps=100)
            for _ in range(2)]
    np.testing.assert_array_equal(runs[0].episodes[0].commands, runs[1].episodes[0].commands)


def test_computed_torque_leaves_little_to_feedback_even_across_a_delay():
    env = SensoryDelay(gym.make(WRIST_TRACKING_ID), delay_steps=5)
    agent = _agent(env, OracleInverseModel(env), learning=False, forward_model=OracleModel(env),
                   internal_feedback=SmithPredictor(5, 6))
    trace = run_episodes(agent, env, seed=0, max_steps=300).episodes[0]
    assert _rms(trace) < 0.005
    parts = trace.components
    assert np.abs(parts["feedback"]).sum() < 0.1 * np.abs(parts["feedforward"]).sum()


def test_bad_construction_is_refused():
    env = gym.make(WRIST_TRACKING_ID)
    with pytest.raises(TypeError, match="inverse"):
        _agent(env, object())
    with pytest.raises(ValueError, match="internal feedback"):
        _agent(env, InverseModel(), forward_model=OracleModel(env))
    with pytest.raises(ValueError, match="learning_rate"):
        _agent(env, InverseModel(), learning_rate=0.0)


def test_untrusted_forward_model_leaves_the_feedback_to_gentle_pd_on_the_delayed_senses():
    env = SensoryDelay(gym.make(WRIST_TRACKING_ID), delay_steps=5)
    path = env.get_wrapper_attr("trajectory")
    gentle = ((1.0, 1.0), (0.05, 0.05))
    agent = _agent(env, InverseModel("nlms"), learning=False, forward_model=StillForwardModel(),
                   internal_feedback=SmithPredictor(5, 6), gentle=gentle)
    observation, _ = env.reset(seed=0)
    agent.reset()
    agent.act(observation)
    # Blind (no delay error yet): trust 0, so the feedback is the gentle PD on the senses.
    q, dq, _ = path.at(0.0)
    expected = np.array(gentle[0]) * (q - observation[:2]) + np.array(gentle[1]) * (dq - observation[2:4])
    assert agent.trust_ == 0.0
    np.testing.assert_allclose(agent.last_components_["feedback"], expected)


class StillForwardModel:
    """A forward model that predicts no change (so that its error across the delay is large)."""

    def predict(self, state, command):
        return np.asarray(state, dtype=float)

    def learn(self, state, command, next_state):
        return np.asarray(next_state, dtype=float) - np.asarray(state, dtype=float)
