"""Trajectory tracking environments and the limbs' inverse dynamics."""

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import cerebellar.envs  # noqa: F401  (registers the ids)
from cerebellar.envs import ARM_TRACKING_ID, WRIST_TRACKING_ID, ArmParams, Trajectory, WristParams, arm, wrist


@pytest.mark.parametrize("shape", ["figure-eight", "ellipse"])
def test_trajectory_derivatives_are_the_analytic_ones(shape):
    path, h = Trajectory(shape=shape, speed=1.5), 1e-5
    for t in (0.0, 0.37, 1.9):
        q0, dq0, ddq0 = path.at(t - h)
        q1, dq1, ddq1 = path.at(t + h)
        _, dq, ddq = path.at(t)
        np.testing.assert_allclose((q1 - q0) / (2 * h), dq, atol=1e-6)
        np.testing.assert_allclose((dq1 - dq0) / (2 * h), ddq, atol=1e-5)


def test_trajectory_rejects_bad_settings():
    with pytest.raises(ValueError, match="shape"):
        Trajectory(shape="square")
    with pytest.raises(ValueError, match="speed"):
        Trajectory(speed=0.0)


@pytest.mark.parametrize("env_id", [ARM_TRACKING_ID, WRIST_TRACKING_ID])
def test_tracking_env_follows_the_trajectory(env_id):
    env = gym.make(env_id)
    check_env(env.unwrapped)
    path = env.get_wrapper_attr("trajectory")
    observation, info = env.reset(seed=0)
    q, dq, _ = path.at(0.0)
    np.testing.assert_allclose(observation, np.concatenate([q, dq, q]))
    for _ in range(5):
        observation, reward, _, _, info = env.step(np.zeros(2))
    q, _, ddq = path.at(5 * 0.01)
    np.testing.assert_allclose(observation[4:6], q)
    np.testing.assert_allclose(info["desired_acceleration"], ddq)
    assert reward == pytest.approx(-np.sum((q - observation[:2]) ** 2))
    assert gym.make(env_id, speed=2.0).get_wrapper_attr("trajectory").speed == 2.0


def test_inverse_dynamics_invert_the_equations_of_motion():
    rng = np.random.default_rng(0)
    states = np.column_stack([rng.uniform(0.2, 1.6, 50), rng.uniform(0.3, 1.8, 50),
                              rng.normal(0, 2, (50, 2))])
    torques = rng.normal(0, 5, (50, 2))
    params = ArmParams()
    acceleration = arm._acceleration(states[:, :2], states[:, 2:], torques, params)
    np.testing.assert_allclose(arm.inverse_dynamics(states, acceleration, params), torques, atol=1e-9)
    wrist_params = WristParams()
    acceleration = wrist._acceleration(states[:, :2] * 0.1, states[:, 2:], torques, wrist_params)
    wrist_states = np.column_stack([states[:, :2] * 0.1, states[:, 2:]])
    np.testing.assert_allclose(wrist.inverse_dynamics(wrist_states, acceleration, wrist_params), torques,
                               atol=1e-9)
