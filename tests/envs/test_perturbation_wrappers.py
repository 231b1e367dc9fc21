import dataclasses

import gymnasium
import numpy as np
import pytest

import cerebellar.envs  # noqa: F401  (registers the env ids)
from cerebellar.envs import (
    CARTPOLE_CONTINUOUS_ID,
    ActionNoise,
    CartPoleContinuousEnv,
    CartPoleParams,
    DynamicsChange,
    ObservationDropout,
    ObservationNoise,
    SensoryDelay,
    env_dt,
    step_dynamics,
)

GAINS = np.array([1.0, 2.0, 30.0, 5.0])  # balances the pole, before and after the changes


def random_actions(seed, n):
    return np.random.default_rng(seed).uniform(-10, 10, size=(n, 1)).astype(np.float32)


def run(env, actions, seed=0):
    """Step through ``actions``, resetting on episode end; return observations and infos."""
    observation, info = env.reset(seed=seed)
    observations, infos = [observation], [info]
    for action in actions:
        observation, _, terminated, truncated, info = env.step(action)
        observations.append(observation)
        infos.append(info)
        if terminated or truncated:
            observation, info = env.reset()
            observations.append(observation)
            infos.append(info)
    return np.array(observations), infos


# ---------------------------------------------------------------- SensoryDelay

@pytest.mark.parametrize("delay", [0, 1, 3, 7])
def test_sensory_delay_returns_the_observation_from_d_steps_earlier(delay):
    env = SensoryDelay(CartPoleContinuousEnv(), delay_steps=delay)
    observation, info = env.reset(seed=4)
    true_history = [info["true_observation"]]
    assert np.array_equal(observation, true_history[0])
    for t in range(1, 31):
        # Gentle feedback on the true state keeps the pole up for the whole check.
        action = np.array([GAINS @ true_history[-1]], dtype=np.float32)
        observation, _, terminated, _, info = env.step(action)
        true_history.append(info["true_observation"])
        assert not terminated
        assert np.array_equal(observation, true_history[max(t - delay, 0)])
        if t <= delay:
            assert np.array_equal(observation, true_history[0])
    assert env.delay_steps == delay


def test_sensory_delay_refills_the_line_at_reset():
    env = SensoryDelay(CartPoleContinuousEnv(), delay_steps=3)
    env.reset(seed=0)
    for _ in range(5):
        env.step(np.zeros(1, dtype=np.float32))
    first, _ = env.reset(seed=1)
    observation = env.step(np.zeros(1, dtype=np.float32))[0]
    assert np.array_equal(observation, first)


def test_sensory_delay_in_ms_uses_the_env_time_step():
    assert SensoryDelay(CartPoleContinuousEnv(), delay_ms=100).delay_steps == 5
    slow = CartPoleContinuousEnv(params=CartPoleParams(dt=0.05))
    assert SensoryDelay(slow, delay_ms=100).delay_steps == 2
    # Gymnasium's own envs: CartPole-v1 names it tau, Pendulum-v1 dt (0.05 s).
    assert SensoryDelay(gymnasium.make("CartPole-v1"), delay_ms=100).delay_steps == 5
    assert SensoryDelay(gymnasium.make("Pendulum-v1"), delay_ms=100).delay_steps == 2
    # Not a multiple of 20 ms: rounded to the nearest step, halves up.
    assert SensoryDelay(CartPoleContinuousEnv(), delay_ms=45).delay_steps == 2
    assert SensoryDelay(CartPoleContinuousEnv(), delay_ms=55).delay_steps == 3
    assert SensoryDelay(CartPoleContinuousEnv(), delay_ms=30).delay_steps == 2
    assert env_dt(gymnasium.make(CARTPOLE_CONTINUOUS_ID)) == 0.02


def test_sensory_delay_works_on_a_gymnasium_env():
    env = SensoryDelay(gymnasium.make("CartPole-v1"), delay_steps=2)
    observations, infos = run(env, [0, 1, 0, 1, 1])
    true = [info["true_observation"] for info in infos]
    assert np.array_equal(observations[4], true[2])
    assert observations.dtype == np.float32


class NoClockEnv(gymnasium.Env):
    observation_space = gymnasium.spaces.Box(-1.0, 1.0, shape=(2,))
    action_space = gymnasium.spaces.Discrete(2)


@pytest.mark.parametrize("kwargs, name", [
    ({"delay_steps": -1}, "delay_steps"),
    ({"delay_steps": 1.5}, "delay_steps"),
    ({"delay_ms": -20.0}, "delay_ms"),
    ({"delay_ms": float("nan")}, "delay_ms"),
    ({}, "delay_ms and delay_steps"),
    ({"delay_ms": 20.0, "delay_steps": 1}, "delay_ms and delay_steps"),
])
def test_sensory_delay_rejects_bad_arguments(kwargs, name):
    with pytest.raises(ValueError, match=name):
        SensoryDelay(CartPoleContinuousEnv(), **kwargs)


def test_sensory_delay_in_ms_needs_a_known_time_step():
    with pytest.raises(ValueError, match="time step"):
        SensoryDelay(NoClockEnv(), delay_ms=100)
    assert SensoryDelay(NoClockEnv(), delay_steps=2).delay_steps == 2


# -------------------------------------------------------------- ObservationNoise

def test_observation_noise_has_the_requested_std_per_channel():
    sigma = np.array([0.1, 0.5, 0.0, 2.0])
    env = ObservationNoise(CartPoleContinuousEnv(), sigma=sigma, seed=3)
    observations, infos = run(env, random_actions(0, 6000))
    errors = observations - np.array([info["true_observation"] for info in infos])
    # Standard error of a std estimate is sigma / sqrt(2 n), under 1% here: 4% is ~4 SE.
    np.testing.assert_allclose(errors.std(axis=0), sigma, rtol=0.04)
    np.testing.assert_allclose(errors.mean(axis=0), 0.0, atol=0.05)
    assert np.all(errors[:, 2] == 0.0)


def test_observation_noise_is_reproducible_given_a_seed():
    actions = random_actions(1, 200)

    def noisy_run(reset_seed, seed=None):
        return run(ObservationNoise(CartPoleContinuousEnv(), sigma=0.1, seed=seed), actions,
                   seed=reset_seed)[0]

    assert np.array_equal(noisy_run(5), noisy_run(5))
    assert not np.array_equal(noisy_run(5), noisy_run(6))
    assert np.array_equal(noisy_run(5, seed=1), noisy_run(5, seed=1))
    assert not np.array_equal(noisy_run(5, seed=1), noisy_run(5, seed=2))


def test_observation_noise_widens_only_the_noisy_bounds_and_keeps_dtype():
    env = ObservationNoise(CartPoleContinuousEnv(), sigma=[0.1, 0.0, 0.0, 0.1])
    assert env.observation_space.high[0] == np.inf
    assert env.observation_space.high[2] == CartPoleContinuousEnv().observation_space.high[2]
    observation, _ = env.reset(seed=0)
    assert observation.dtype == np.float64
    pendulum = ObservationNoise(gymnasium.make("Pendulum-v1"), sigma=0.01, seed=0)
    assert pendulum.reset(seed=0)[0].dtype == np.float32


def test_true_observation_survives_a_stack_of_wrappers():
    inner = SensoryDelay(CartPoleContinuousEnv(), delay_steps=2)
    env = ObservationDropout(ObservationNoise(inner, sigma=0.1, seed=0), p=0.5, seed=0)
    observation, info = env.reset(seed=0)
    state_history = [env.unwrapped.state]
    assert np.array_equal(info["true_observation"], state_history[0])
    for _ in range(10):
        _, _, _, _, info = env.step(np.zeros(1, dtype=np.float32))
        state_history.append(env.unwrapped.state)
        assert np.array_equal(info["true_observation"], state_history[-1])


@pytest.mark.parametrize("sigma, match", [
    (-0.1, "sigma"), ([0.1, -0.1, 0.1, 0.1], "sigma"), ([0.1, 0.1], "sigma"),
    (float("nan"), "sigma"), ("loud", "sigma"),
])
def test_observation_noise_rejects_bad_sigma(sigma, match):
    with pytest.raises(ValueError, match=match):
        ObservationNoise(CartPoleContinuousEnv(), sigma=sigma)


def test_noise_wrappers_reject_bad_seeds_and_spaces():
    with pytest.raises(ValueError, match="seed"):
        ObservationNoise(CartPoleContinuousEnv(), sigma=0.1, seed=-1)
    with pytest.raises(ValueError, match="Box"):
        ActionNoise(gymnasium.make("CartPole-v1"), sigma=0.1)


# ------------------------------------------------------------------ ActionNoise

def test_action_noise_is_applied_to_the_plant_with_the_requested_std():
    env = ActionNoise(CartPoleContinuousEnv(), sigma=2.0, seed=0)
    env.reset(seed=0)
    applied = []
    for _ in range(4000):
        before = env.unwrapped.state
        observation, _, terminated, _, info = env.step(np.zeros(1, dtype=np.float32))
        force = float(info["applied_action"][0])
        # The plant really felt the noisy force.
        assert np.array_equal(observation, step_dynamics(before, force, CartPoleParams()))
        applied.append(force)
        if terminated:
            env.reset()
    applied = np.array(applied)
    assert applied.std() == pytest.approx(2.0, rel=0.05)
    assert abs(applied.mean()) < 0.15


def test_action_noise_clips_to_the_action_space():
    env = ActionNoise(CartPoleContinuousEnv(), sigma=5.0, seed=1)
    env.reset(seed=0, options={"state": np.zeros(4)})
    applied = []
    for _ in range(400):
        _, _, terminated, _, info = env.step(np.array([10.0], dtype=np.float32))
        applied.append(info["applied_action"][0])
        if terminated:
            env.reset(options={"state": np.zeros(4)})
    applied = np.array(applied)
    assert applied.max() == 10.0
    assert applied.min() >= -10.0
    # Half of the noise pushes past the limit and is clipped back to it.
    assert np.mean(applied == 10.0) == pytest.approx(0.5, abs=0.08)
    assert applied.dtype == np.float32


def test_action_noise_is_reproducible_and_validates():
    def forces(seed):
        env = ActionNoise(CartPoleContinuousEnv(), sigma=1.0)
        env.reset(seed=seed)
        return [env.step(np.zeros(1))[4]["applied_action"][0] for _ in range(20)]

    assert forces(3) == forces(3)
    assert forces(3) != forces(4)
    with pytest.raises(ValueError, match="sigma"):
        ActionNoise(CartPoleContinuousEnv(), sigma=-1.0)
    env = ActionNoise(CartPoleContinuousEnv(), sigma=1.0)
    env.reset(seed=0)
    with pytest.raises(ValueError, match="action"):
        env.step(np.zeros(3))


# --------------------------------------------------------------- DynamicsChange

def test_dynamics_change_happens_exactly_at_the_step_and_is_undone_at_reset():
    original = CartPoleParams()
    changed = dataclasses.replace(original, pole_half_length=1.0, pole_mass=0.3)
    env = DynamicsChange(gymnasium.make(CARTPOLE_CONTINUOUS_ID), at_step=50,
                         pole_half_length=1.0, pole_mass=0.3)
    for episode in range(2):
        observation, info = env.reset(seed=episode)
        assert env.unwrapped.params == original
        assert info["dynamics_changed"] is False
        for t in range(120):
            action = np.clip(np.array([GAINS @ observation], dtype=np.float32), -10, 10)
            expected_params = changed if t >= 50 else original
            expected = step_dynamics(observation, float(action[0]), expected_params)
            observation, _, terminated, _, info = env.step(action)
            assert info["dynamics_changed"] is (t >= 50)
            assert env.unwrapped.params == expected_params
            assert not terminated
            assert np.array_equal(observation, expected)
    env.reset()
    assert env.unwrapped.params == original


def test_dynamics_change_makes_the_longer_heavier_pole_fall_slower():
    # Sanity check on the physics the change selects: from the same tilt, a pole twice
    # as long gains angular speed more slowly (roughly half as fast).
    env = DynamicsChange(CartPoleContinuousEnv(), at_step=0, pole_half_length=1.0,
                         pole_mass=0.3)
    env.reset(options={"state": [0.0, 0.0, 0.1, 0.0]})
    after = env.step(np.zeros(1))[0]
    plain = CartPoleContinuousEnv()
    plain.reset(options={"state": [0.0, 0.0, 0.1, 0.0]})
    before = plain.step(np.zeros(1))[0]
    assert 0.4 < after[3] / before[3] < 0.6


def test_dynamics_change_at_step_zero_changes_from_the_first_step():
    env = DynamicsChange(CartPoleContinuousEnv(), at_step=0, gravity=0.0)
    env.reset(options={"state": [0.0, 0.0, 0.1, 0.0]})
    observation, _, _, _, info = env.step(np.zeros(1))
    assert info["dynamics_changed"] is True
    assert np.array_equal(observation, [0.0, 0.0, 0.1, 0.0])  # no gravity: nothing moves


def test_dynamics_change_restores_params_set_by_the_user():
    base = CartPoleContinuousEnv(params=CartPoleParams(cart_mass=2.0))
    env = DynamicsChange(base, at_step=1, pole_mass=0.5)
    env.reset(seed=0)
    env.step(np.zeros(1))
    env.step(np.zeros(1))
    assert base.params == CartPoleParams(cart_mass=2.0, pole_mass=0.5)
    env.reset(seed=0)
    assert base.params == CartPoleParams(cart_mass=2.0)


def test_dynamics_change_rejects_bad_arguments():
    with pytest.raises(ValueError, match=r"unknown parameter\(s\) \['pole_lenght'\]"):
        DynamicsChange(CartPoleContinuousEnv(), at_step=10, pole_lenght=1.0)
    with pytest.raises(ValueError, match="at_step"):
        DynamicsChange(CartPoleContinuousEnv(), at_step=-1, pole_mass=0.3)
    with pytest.raises(ValueError, match="at least one parameter"):
        DynamicsChange(CartPoleContinuousEnv(), at_step=10)
    with pytest.raises(ValueError, match="pole_mass"):
        DynamicsChange(CartPoleContinuousEnv(), at_step=10, pole_mass=-0.3)
    with pytest.raises(ValueError, match="params"):
        DynamicsChange(gymnasium.make("CartPole-v1"), at_step=10, masspole=0.3)


# ----------------------------------------------------------- ObservationDropout

def test_dropout_rate_is_close_to_p_and_repeats_are_flagged():
    env = ObservationDropout(CartPoleContinuousEnv(), p=0.3, seed=2)
    observation, info = env.reset(seed=0)
    assert info["dropped"] is False
    dropped = []
    delivered = observation
    for _ in range(10_000):
        observation, _, terminated, _, info = env.step(np.zeros(1, dtype=np.float32))
        if info["dropped"]:
            assert np.array_equal(observation, delivered)
            assert not np.array_equal(observation, info["true_observation"])
        else:
            assert np.array_equal(observation, info["true_observation"])
        delivered = observation
        dropped.append(info["dropped"])
        if terminated:
            delivered, _ = env.reset()
    # Binomial standard error sqrt(0.21 / 10_000) ~ 0.0046: 0.02 is over 4 SE.
    assert np.mean(dropped) == pytest.approx(0.3, abs=0.02)


def test_dropout_extremes_and_reproducibility():
    never = ObservationDropout(CartPoleContinuousEnv(), p=0.0)
    _, infos = run(never, random_actions(2, 100))
    assert not any(info["dropped"] for info in infos)

    always = ObservationDropout(CartPoleContinuousEnv(), p=1.0)
    first, _ = always.reset(seed=0)
    for _ in range(10):
        observation, _, _, _, info = always.step(np.zeros(1))
        assert info["dropped"] is True
        assert np.array_equal(observation, first)

    def flags(reset_seed):
        env = ObservationDropout(CartPoleContinuousEnv(), p=0.5)
        return [info["dropped"] for info in run(env, random_actions(3, 100), reset_seed)[1]]

    assert flags(9) == flags(9)
    assert flags(9) != flags(10)


@pytest.mark.parametrize("p", [-0.1, 1.5, float("nan"), "half"])
def test_dropout_rejects_p_outside_the_unit_interval(p):
    with pytest.raises(ValueError, match="p must be a probability"):
        ObservationDropout(CartPoleContinuousEnv(), p=p)


# ----------------------------------------------------------------------- specs

def test_wrappers_record_their_arguments_in_the_spec():
    env = ObservationNoise(SensoryDelay(gymnasium.make(CARTPOLE_CONTINUOUS_ID), delay_ms=100),
                           sigma=0.1, seed=0)
    wrappers = {spec.name: spec.kwargs for spec in env.spec.additional_wrappers}
    assert wrappers["SensoryDelay"] == {"delay_ms": 100, "delay_steps": None}
    assert wrappers["ObservationNoise"] == {"sigma": 0.1, "seed": 0}
