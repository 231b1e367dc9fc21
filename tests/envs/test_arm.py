import dataclasses
import math

import gymnasium
import numpy as np
import pytest

import cerebellar.envs  # noqa: F401  (registers the env ids)
from cerebellar.control import LinearFeedback
from cerebellar.envs import TWO_LINK_ARM_ID, ArmParams, TwoLinkArmEnv
from cerebellar.envs.arm import energy, gravity_torque, hand_position, mass_matrix, step_dynamics
from cerebellar.tasks.presets import get_preset
from cerebellar.tasks.reach_metrics import Reach, reach_metrics, summarise_reaches

FREE = dict(angle_low=(-100.0, -100.0), angle_high=(100.0, 100.0), damping=((0.0, 0.0), (0.0, 0.0)))


@pytest.mark.parametrize("gravity", [True, False])
def test_check_env_passes_without_error_warnings(gravity, serious_warnings):
    assert serious_warnings(gymnasium.make(TWO_LINK_ARM_ID, gravity=gravity).unwrapped) == []


def test_registration_gives_ten_reaches_and_a_gravity_switch():
    env = gymnasium.make(TWO_LINK_ARM_ID)
    assert env.spec.max_episode_steps == 1500 == 10 * env.unwrapped.params.reach_steps
    assert env.unwrapped.params.gravity is True
    assert gymnasium.make(TWO_LINK_ARM_ID, gravity=False).unwrapped.params.gravity is False
    np.testing.assert_array_equal(env.action_space.high, [30.0, 20.0])
    assert env.observation_space.shape == (6,) and env.observation_space.dtype == np.float64


# ---------------------------------------------------------------- the dynamics

@pytest.mark.parametrize("gravity", [False, True])
def test_undamped_unforced_arm_conserves_energy_to_fourth_order(gravity):
    drift = []
    for dt in (0.01, 0.005):
        params = ArmParams(gravity=gravity, dt=dt, **FREE)
        state = np.array([0.8, 1.0, 2.0, -3.0])  # a fast, whipping motion
        start = sum(energy(state, params))
        worst = 0.0
        for _ in range(int(round(1.5 / dt))):
            state = step_dynamics(state, np.zeros(2), params)
            worst = max(worst, abs(sum(energy(state, params)) - start) / start)
        drift.append(worst)
    assert drift[0] < (1e-6 if not gravity else 2e-5)
    # RK4: halving the step cuts the error by about 2^4.
    assert drift[0] / drift[1] > 10


def test_kinetic_energy_from_the_mass_matrix_equals_the_segments_energies():
    params = ArmParams()
    rng = np.random.default_rng(0)
    for q1, q2, dq1, dq2 in rng.uniform([-1, 0, -3, -3], [3, 2.6, 3, 3], size=(20, 4)):
        # Centre-of-mass velocities by differentiating the positions by hand.
        v1 = params.c1 * dq1 * np.array([math.cos(q1), math.sin(q1)])
        v2 = (params.l1 * dq1 * np.array([math.cos(q1), math.sin(q1)])
              + params.c2 * (dq1 + dq2) * np.array([math.cos(q1 + q2), math.sin(q1 + q2)]))
        expected = 0.5 * (params.m1 * v1 @ v1 + params.i1 * dq1**2
                          + params.m2 * v2 @ v2 + params.i2 * (dq1 + dq2) ** 2)
        kinetic, _ = energy([q1, q2, dq1, dq2], params)
        assert kinetic == pytest.approx(expected, rel=1e-12)


def test_gravity_torque_is_the_gradient_of_the_potential_energy():
    params = ArmParams()
    h = 1e-6
    for q in np.random.default_rng(1).uniform([-0.8, 0.0], [3.0, 2.6], size=(10, 2)):
        numeric = [(energy([*(q + h * e), 0, 0], params)[1] - energy([*(q - h * e), 0, 0], params)[1])
                   / (2 * h) for e in np.eye(2)]
        np.testing.assert_allclose(gravity_torque(q, params), numeric, rtol=1e-6, atol=1e-8)
    np.testing.assert_array_equal(gravity_torque([1.0, 1.0], ArmParams(gravity=False)), [0.0, 0.0])


def test_mass_matrix_is_symmetric_positive_definite_over_the_elbow_range():
    params = ArmParams()
    matrices = mass_matrix(np.linspace(-math.pi, math.pi, 361), params)
    np.testing.assert_array_equal(matrices, np.swapaxes(matrices, -1, -2))
    assert np.linalg.eigvalsh(matrices).min() > 0.005


def test_shoulder_with_the_elbow_held_in_its_stop_swings_as_a_compound_pendulum():
    # Elbow torque presses the straight elbow into its stop, so the arm swings as
    # one rigid body about the shoulder: period 2 pi sqrt(I / (m g l)).
    params = dataclasses.replace(ArmParams(), damping=((0.0, 0.0), (0.0, 0.0)))
    inertia = mass_matrix(0.0, params)[0, 0]
    mgl = params.g * (params.m1 * params.c1 + params.m2 * (params.l1 + params.c2))
    expected = 2 * math.pi * math.sqrt(inertia / mgl)
    period, states = _period(np.array([0.05, 0.0, 0.0, 0.0]), np.array([0.0, -5.0]), params, joint=0)
    # 0.05 rad of amplitude lengthens the period by a factor 1 + 0.05^2 / 16 = 1.00016.
    assert period == pytest.approx(expected, rel=1e-3)
    assert np.all(states[:, 1] == 0.0) and np.all(states[:, 3] == 0.0)  # the elbow never moved


def test_elbow_with_the_shoulder_held_in_its_stop_swings_as_a_pendulum():
    # Shoulder torque presses the upper arm into its extension stop (-0.8 rad);
    # the forearm hangs at q2 = 0.8 and swings about the elbow.
    params = dataclasses.replace(ArmParams(), damping=((0.0, 0.0), (0.0, 0.0)))
    inertia = params.i2 + params.m2 * params.c2**2
    expected = 2 * math.pi * math.sqrt(inertia / (params.m2 * params.g * params.c2))
    period, states = _period(np.array([-0.8, 0.85, 0.0, 0.0]), np.array([-20.0, 0.0]), params, joint=1)
    assert period == pytest.approx(expected, rel=1e-3)
    assert np.all(states[:, 0] == -0.8)


def _period(state, torque, params, joint):
    """Mean period of oscillation of ``joint`` from its upward zero crossings (about the mean)."""
    states = [state]
    for _ in range(400):
        states.append(step_dynamics(states[-1], torque, params))
    states = np.array(states)
    x = states[:, joint] - states[:, joint].mean()
    crossings = []
    for k in np.flatnonzero((x[:-1] < 0) & (x[1:] >= 0)):
        crossings.append((k + x[k] / (x[k] - x[k + 1])) * params.dt)  # linear interpolation
    assert len(crossings) >= 3
    return np.mean(np.diff(crossings)), states


def test_a_joint_meeting_its_stop_is_clipped_and_stops():
    params = ArmParams(gravity=False)
    state = np.array([1.0, 0.02, 0.0, -5.0])  # the elbow straightening fast
    after = step_dynamics(state, np.zeros(2), params)
    assert after[1] == 0.0 and after[3] == 0.0


def test_hanging_arm_at_rest_stays_at_rest():
    params = ArmParams()
    np.testing.assert_array_equal(step_dynamics(np.zeros(4), np.zeros(2), params), np.zeros(4))
    np.testing.assert_allclose(hand_position([0.0, 0.0], params), [0.0, -0.65])


def test_step_dynamics_on_a_batch_equals_one_state_at_a_time():
    params = ArmParams()
    rng = np.random.default_rng(2)
    states = rng.uniform([0, 0.1, -2, -2], [2, 2, 2, 2], size=(6, 4))
    torques = rng.uniform(-20, 20, size=(6, 2))
    batch = step_dynamics(states, torques, params)
    for state, torque, row in zip(states, torques, batch, strict=True):
        np.testing.assert_allclose(step_dynamics(state, torque, params), row, rtol=0, atol=1e-14)


def test_params_are_validated():
    with pytest.raises(ValueError, match="m1"):
        ArmParams(m1=0.0)
    with pytest.raises(ValueError, match="target range"):
        ArmParams(target_high=(3.5, 1.0))
    with pytest.raises(ValueError, match="damping"):
        ArmParams(damping=(0.1, 0.1))
    with pytest.raises(TypeError):
        TwoLinkArmEnv().params = object()


# ---------------------------------------------------------------- the environment

def test_torque_limits_are_enforced():
    env = TwoLinkArmEnv()
    observation, _ = env.reset(seed=3)
    state = env.state
    observation, *_ = env.step(np.array([500.0, -500.0]))
    np.testing.assert_array_equal(env.state, step_dynamics(state, [30.0, -20.0], env.params))
    np.testing.assert_array_equal(env.dynamics(np.concatenate([state, [1.0, 1.0]]), [500.0, -500.0])[:4],
                                  env.state)


def test_dynamics_equals_the_step_and_keeps_the_target():
    env = TwoLinkArmEnv()
    observation, _ = env.reset(seed=5)
    rng = np.random.default_rng(5)
    for t in range(1, 320):
        action = rng.uniform(-20, 20, size=2).astype(np.float32)
        predicted = env.dynamics(observation, action)
        observation, *_, info = env.step(action)
        np.testing.assert_array_equal(predicted[:4], observation[:4])
        if t % 150:
            np.testing.assert_array_equal(predicted, observation)
        else:  # a new target appeared: only the target channels differ
            assert not np.array_equal(predicted[4:], observation[4:])
    np.testing.assert_array_equal(env.dynamics(env.state, [1.0, 2.0]),
                                  step_dynamics(env.state, [1.0, 2.0], env.params))


def test_targets_change_every_150_steps_and_are_reproducible_from_the_seed():
    def targets(seed):
        env = gymnasium.make(TWO_LINK_ARM_ID)
        observation, info = env.reset(seed=seed)
        rows, infos = [observation], [info]
        truncated = False
        while not truncated:
            observation, reward, _, truncated, info = env.step(np.zeros(2, dtype=np.float32))
            rows.append(observation)
            infos.append(info)
        return np.array(rows), infos

    rows, infos = targets(11)
    assert len(rows) == 1501
    changes = np.flatnonzero(np.any(rows[1:, 4:] != rows[:-1, 4:], axis=1)) + 1
    np.testing.assert_array_equal(changes, np.arange(150, 1501, 150))
    assert np.all(rows[:, 4:] >= [0.2, 0.3]) and np.all(rows[:, 4:] <= [1.6, 1.8])
    assert [infos[t]["reach_index"] for t in (0, 149, 150, 1499)] == [0, 0, 1, 9]
    assert infos[149]["time_in_reach"] == pytest.approx(1.49)
    assert infos[150]["time_in_reach"] == 0.0
    np.testing.assert_array_equal(infos[300]["target"], rows[300, 4:])
    again, _ = targets(11)
    np.testing.assert_array_equal(rows, again)
    other, _ = targets(12)
    assert not np.array_equal(rows[:, 4:], other[:, 4:])


def test_reward_is_minus_the_squared_angle_error_to_the_target_in_force():
    env = TwoLinkArmEnv()
    env.reset(seed=0, options={"state": [0.5, 0.5, 0.0, 0.0], "target": [1.0, 0.7]})
    observation, reward, *_ = env.step(np.zeros(2))
    assert reward == pytest.approx(-np.sum((np.array([1.0, 0.7]) - observation[:2]) ** 2))


# ---------------------------------------------------------------- the preset

def test_preset_gains_are_pd_on_target_minus_angle():
    preset = get_preset(TWO_LINK_ARM_ID)
    feedback = LinearFeedback(preset.gains, preset.setpoint)
    # Target above the angle -> positive torque; moving towards it -> braking torque.
    kp, kd = np.array([60.0, 30.0]), np.array([4.0, 1.5])
    observation = np.array([0.5, 0.4, 0.2, -0.1, 0.7, 0.3])
    expected = kp * (observation[4:] - observation[:2]) - kd * observation[2:4]
    np.testing.assert_allclose(feedback(observation), expected)


def test_preset_controller_alone_sags_by_gravity_over_its_stiffness():
    # Plain PD, no model: at rest it balances gravity, Kp (t - q) = G(q). Without
    # gravity it reaches the target itself.
    preset = get_preset(TWO_LINK_ARM_ID)
    feedback = LinearFeedback(preset.gains, preset.setpoint)
    kp = np.array([preset.gains[0][0], preset.gains[1][1]])
    for gravity in (True, False):
        env = TwoLinkArmEnv(params=ArmParams(gravity=gravity, reach_steps=10_000))
        observation, _ = env.reset(seed=0, options={"state": [0.4, 0.6, 0, 0], "target": [1.2, 1.0]})
        for _ in range(300):
            observation, *_ = env.step(feedback(observation))
        q = observation[:2]
        np.testing.assert_allclose(kp * (observation[4:] - q), gravity_torque(q, env.params), atol=1e-3)
        sag = np.abs(observation[4:] - q).max()
        assert sag > 0.1 if gravity else sag < 1e-4


# ---------------------------------------------------------------- reaching metrics

DT = 0.01


def synthetic(q, target):
    """Observations (T, 6) with angles ``q`` (T, 2) and a constant target."""
    q = np.asarray(q, dtype=np.float64)
    return np.column_stack([q, np.zeros_like(q), np.broadcast_to(target, q.shape)])


def test_first_order_approach_settles_when_the_exponential_enters_the_tolerance():
    # q = t - d exp(-t / tau): the worst joint's error d1 exp(-t/tau) <= 0.05 from
    # t = tau ln(d1 / 0.05) = 0.1 ln 10 = 0.2303 s, i.e. at the sample t = 0.24 s.
    t = np.arange(150) * DT
    target = np.array([1.0, 0.5])
    decay = np.exp(-t / 0.1)[:, None]
    q = target - np.array([0.5, 0.2]) * decay
    [reach] = reach_metrics(synthetic(q, target), DT)
    assert reach.settle_time == pytest.approx(0.24)
    assert reach.first_entry_time == pytest.approx(0.24)
    assert reach.overshoot == 0.0 and reach.reached
    assert reach.distance == pytest.approx(math.hypot(0.5, 0.2))
    expected_rms = math.sqrt(np.mean((np.array([0.5, 0.2]) * decay) ** 2))
    assert reach.rms_error == pytest.approx(expected_rms)


def test_underdamped_approach_gives_the_second_order_overshoot_and_a_late_settle():
    # Step response of a second-order system with damping ratio 0.3, peak at 0.2 s
    # (a sample): overshoot = d exp(-zeta pi / sqrt(1 - zeta^2)) = 0.186 d.
    zeta, peak_time, d = 0.3, 0.2, 0.4
    wd = math.pi / peak_time
    wn = wd / math.sqrt(1 - zeta**2)
    t = np.arange(150) * DT
    x = 1 - np.exp(-zeta * wn * t) * (np.cos(wd * t) + zeta / math.sqrt(1 - zeta**2) * np.sin(wd * t))
    q = np.column_stack([d * x, np.zeros_like(t)])  # a step of d on joint 1 only
    [reach] = reach_metrics(synthetic(q, [d, 0.0]), DT)
    expected = d * math.exp(-zeta * math.pi / math.sqrt(1 - zeta**2))
    assert reach.overshoot == pytest.approx(expected, rel=1e-9)
    assert reach.relative_overshoot == pytest.approx(expected / d, rel=1e-9)
    # It enters the 0.05 band on the way up, leaves it past the peak, and settles later.
    assert reach.first_entry_time < peak_time < reach.settle_time < 1.0
    error = np.abs(d - q[:, 0])
    outside = np.flatnonzero(error > 0.05)
    assert reach.settle_time == pytest.approx((outside[-1] + 1) * DT)


def test_overshoot_is_measured_along_the_step_direction():
    target = np.array([0.5, 0.5])
    q = np.array([[0.0, 0.0], [0.3, 0.3], [0.53, 0.53], [0.5, 0.54], [0.5, 0.5]] + [[0.5, 0.5]] * 100)
    [reach] = reach_metrics(synthetic(q, target), DT)
    assert reach.overshoot == pytest.approx(0.03 * math.sqrt(2))  # (0.5, 0.54) is sideways, not past
    assert reach.first_entry_time == pytest.approx(0.02)
    assert reach.settle_time == pytest.approx(0.02)


def test_a_reach_that_ends_outside_the_tolerance_never_settled():
    q = np.concatenate([np.full((60, 2), 0.49), np.full((60, 2), 0.3)])
    [reach] = reach_metrics(synthetic(q, [0.5, 0.5]), DT)
    assert reach.first_entry_time == 0.0
    assert reach.settle_time == math.inf and not reach.reached
    assert reach.rms_error == pytest.approx(math.sqrt((60 * 0.01**2 + 60 * 0.2**2) / 120))


def test_reaches_are_split_at_target_changes_and_a_cut_final_one_is_dropped():
    first = synthetic(np.full((150, 2), 0.2), [0.2, 0.2])
    second = synthetic(np.full((150, 2), 0.6), [0.2, 0.7])  # 0.5 rad off on joint 2: never reached
    last = synthetic(np.full((1, 2), 0.6), [1.0, 1.0])  # the next target, seen on the final row only
    reaches = reach_metrics(np.concatenate([first, second, last]), DT)
    assert [r.start for r in reaches] == [0, 150]
    assert [r.reached for r in reaches] == [True, False]
    assert reaches[1].target == (0.2, 0.7)
    summary = summarise_reaches(reaches)
    assert summary.n_reaches == 2 and summary.fraction_reached == 0.5
    assert summary.median_settle_time == math.inf  # one of two never settled
    assert summary.rms_error == pytest.approx(math.sqrt((0.4**2 + 0.1**2) / 2 / 2))


def test_summary_medians_and_the_empty_case():
    def reach(settle, overshoot):
        return Reach(start=0, steps=100, target=(0.0, 0.0), distance=0.5, first_entry_time=settle,
                     settle_time=settle, overshoot=overshoot, relative_overshoot=overshoot / 0.5,
                     rms_error=0.1, reached=settle <= 1.0)

    summary = summarise_reaches([reach(0.2, 0.0), reach(0.4, 0.01), reach(1.5, 0.05)])
    assert summary.fraction_reached == pytest.approx(2 / 3)
    assert summary.median_settle_time == pytest.approx(0.4)
    assert summary.median_overshoot == pytest.approx(0.01)
    assert summary.median_relative_overshoot == pytest.approx(0.02)
    assert summary.rms_error == pytest.approx(0.1)
    empty = summarise_reaches([])
    assert empty.n_reaches == 0 and math.isnan(empty.fraction_reached)
    with pytest.raises(ValueError, match="dt"):
        reach_metrics(np.zeros((10, 6)), dt=0.0)
