import math

import gymnasium
import numpy as np
import pytest

import cerebellar.envs  # noqa: F401  (registers the env ids)
from cerebellar.control import LinearFeedback
from cerebellar.envs import WRIST_STEP_TRACKING_ID, WristParams, WristStepTrackingEnv
from cerebellar.envs.wrist import step_dynamics
from cerebellar.tasks.presets import get_preset
from cerebellar.tasks.reach_metrics import reach_metrics, summarise_reaches

UNDAMPED = ((0.0, 0.0), (0.0, 0.0))


def test_check_env_passes_without_error_warnings(serious_warnings):
    assert serious_warnings(gymnasium.make(WRIST_STEP_TRACKING_ID).unwrapped) == []


def test_registration_gives_eight_trials():
    env = gymnasium.make(WRIST_STEP_TRACKING_ID)
    params = env.unwrapped.params
    assert env.spec.max_episode_steps == 1200 == 8 * (params.centre_steps + params.target_steps)
    assert (params.centre_steps, params.target_steps) == (50, 100)


# ---------------------------------------------------------------- the dynamics

def test_undamped_axes_oscillate_at_sqrt_stiffness_over_inertia():
    params = WristParams(damping=UNDAMPED)
    state = np.array([0.1, -0.2, 0.0, 0.0])
    omega = np.sqrt(np.diag(params.stiffness) / np.array(params.inertia))
    # RK4 lags by about (omega dt)^5 / 120 rad a step: 1.2e-4 rad over 1 s at 17 rad/s,
    # 2.4e-5 rad of angle at 0.2 rad of amplitude.
    for step in range(1, 101):
        state = step_dynamics(state, np.zeros(2), params)
        t = step * params.dt
        np.testing.assert_allclose(state[:2], [0.1, -0.2] * np.cos(omega * t), atol=3e-5)
        np.testing.assert_allclose(state[2:], -np.array([0.1, -0.2]) * omega * np.sin(omega * t), atol=5e-4)


def test_damped_axis_decays_as_the_analytic_underdamped_oscillator():
    params = WristParams()
    inertia, damping, stiffness = params.inertia[0], params.damping[0][0], params.stiffness[0][0]
    rate = damping / (2 * inertia)
    wd = math.sqrt(stiffness / inertia - rate**2)
    state = np.array([0.3, 0.0, 0.0, 0.0])
    for step in range(1, 101):
        state = step_dynamics(state, np.zeros(2), params)
        t = step * params.dt
        expected = 0.3 * math.exp(-rate * t) * (math.cos(wd * t) + rate / wd * math.sin(wd * t))
        assert state[0] == pytest.approx(expected, abs=2e-6)


def test_constant_torque_holds_the_wrist_where_stiffness_balances_it():
    params = WristParams()
    state = np.zeros(4)
    for _ in range(3000):
        state = step_dynamics(state, [0.4, -0.8], params)
    np.testing.assert_allclose(state[:2], np.linalg.solve(params.stiffness, [0.4, -0.8]), atol=1e-9)


def test_params_are_validated_and_phases_round_to_steps():
    with pytest.raises(ValueError, match="inertia"):
        WristParams(inertia=(0.005, -1.0))
    with pytest.raises(ValueError, match="stiffness"):
        WristParams(stiffness=(1.0, 1.0))
    with pytest.raises(ValueError, match="at least one step"):
        WristParams(centre_hold=0.001)
    assert WristParams(target_hold=0.753).target_steps == 75
    np.testing.assert_allclose(WristParams().target_of(3), 0.3 * np.array([-1, 1]) / math.sqrt(2))


# ---------------------------------------------------------------- the environment

def test_torque_limits_are_enforced():
    env = WristStepTrackingEnv()
    env.reset(seed=0)
    state = env.state
    env.step(np.array([100.0, -100.0]))
    np.testing.assert_array_equal(env.state, step_dynamics(state, [5.0, -5.0], env.params))


def test_dynamics_equals_the_step_except_for_the_exogenous_target():
    env = WristStepTrackingEnv()
    observation, _ = env.reset(seed=1)
    rng = np.random.default_rng(1)
    for t in range(1, 400):
        action = rng.uniform(-1, 1, size=2).astype(np.float32)
        predicted = env.dynamics(observation, action)
        observation, *_, info = env.step(action)
        np.testing.assert_array_equal(predicted[:4], observation[:4])
        if t % 150 not in (0, 50):  # phase changes: centre -> target at 50, back at 150
            np.testing.assert_array_equal(predicted, observation)
        np.testing.assert_array_equal(info["angles"], observation[:2])


def episode(seed):
    env = gymnasium.make(WRIST_STEP_TRACKING_ID)
    observation, info = env.reset(seed=seed)
    rows, infos, truncated = [observation], [info], False
    while not truncated:
        observation, _, _, truncated, info = env.step(np.zeros(2, dtype=np.float32))
        rows.append(observation)
        infos.append(info)
    return np.array(rows), infos


def test_an_episode_visits_all_eight_directions_in_a_seeded_order():
    rows, infos = episode(7)
    assert len(rows) == 1201
    phases = [info["phase"] for info in infos]
    for trial in range(8):
        start = 150 * trial
        assert set(phases[start:start + 50]) == {"centre"}
        assert set(phases[start + 50:start + 150]) == {"target"}
        np.testing.assert_array_equal(rows[start:start + 50, 4:], 0.0)
        target = rows[start + 50, 4:]
        np.testing.assert_array_equal(rows[start + 50:start + 150, 4:], np.broadcast_to(target, (100, 2)))
        assert np.hypot(*target) == pytest.approx(0.3)
        direction = infos[start + 50]["direction_index"]
        assert math.degrees(math.atan2(target[1], target[0])) % 360 == pytest.approx(45 * direction)
        assert infos[start]["direction_index"] == direction  # the centre phase announces it
    order = [infos[150 * k + 50]["direction_index"] for k in range(8)]
    assert sorted(order) == list(range(8))
    again, other = episode(7)[1], episode(8)[1]
    assert [again[150 * k + 50]["direction_index"] for k in range(8)] == order
    assert [other[150 * k + 50]["direction_index"] for k in range(8)] != order


def test_a_fresh_permutation_follows_every_eight_trials():
    env = WristStepTrackingEnv()
    env.reset(seed=3)
    directions = []
    for _ in range(3 * 1200):
        _, _, _, _, info = env.step(np.zeros(2))
        if info["phase"] == "target" and info["time_in_phase"] == 0.0:
            directions.append(info["direction_index"])
    assert len(directions) == 24
    for block in range(3):
        assert sorted(directions[8 * block:8 * block + 8]) == list(range(8))
    assert directions[:8] != directions[8:16]


# ---------------------------------------------------------------- the preset and the metrics

def test_preset_gains_are_pd_and_alone_stop_short_by_the_passive_stiffness():
    preset = get_preset(WRIST_STEP_TRACKING_ID)
    feedback = LinearFeedback(preset.gains, preset.setpoint)
    env = WristStepTrackingEnv(params=WristParams(target_hold=5.0))
    observation, _ = env.reset(seed=0, options={"state": [0, 0, 0, 0]})
    for _ in range(50 + 400):
        observation, *_ = env.step(feedback(observation))
    target = observation[4:]
    kp = np.array([preset.gains[0][0], preset.gains[1][1]])
    # At rest: Kp (target - theta) = K theta, so theta = (Kp + K)^-1 Kp target.
    expected = np.linalg.solve(np.diag(kp) + np.array(env.params.stiffness), kp * target)
    np.testing.assert_allclose(observation[:2], expected, atol=1e-6)
    command = feedback(np.array([0.0, 0.0, 0.5, 0.0, 0.3, 0.0]))
    np.testing.assert_allclose(command, [3.0 * 0.3 - 0.12 * 0.5, 0.0])


def test_reach_metrics_count_only_the_target_phases():
    rows, _ = episode(2)
    # Replace the (passive, zero-torque) angles by perfect tracking that lags one phase step.
    tracked = rows.copy()
    tracked[1:, :2] = rows[:-1, 4:]
    reaches = reach_metrics(tracked, 0.01, centre=(0.0, 0.0))
    assert [r.start for r in reaches] == [150 * k + 50 for k in range(8)]
    assert all(r.reached and r.settle_time == pytest.approx(0.01) for r in reaches)
    assert summarise_reaches(reaches).fraction_reached == 1.0
    # Without the centre option the returns to the centre count as reaches too.
    assert len(reach_metrics(tracked, 0.01)) == 16
