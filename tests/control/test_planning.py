import numpy as np
import pytest

from cerebellar.control import (
    ForwardModelController,
    LinearFeedback,
    MPPIController,
    QuantityFeedback,
    RolloutController,
)
from cerebellar.models import RLS


class Integrator:
    """Exact model of x' = x + 0.1 u (one state, one command)."""

    def predict(self, state, command):
        return np.asarray(state, float) + 0.1 * np.asarray(command, float)

    def predict_many(self, states, commands):
        return states + 0.1 * commands

    def learn(self, state, command, next_state):
        return next_state - self.predict(state, command)


def trained_rls():
    rng = np.random.default_rng(0)
    a, b = np.array([[1.0, 0.05], [0.3, 0.98]]), np.array([[0.0], [0.2]])
    model = RLS(forgetting=1.0)
    for _ in range(100):
        s, u = rng.normal(size=2), rng.normal(size=1)
        model.learn(s, u, a @ s + b @ u)
    return model


def test_rollout_with_horizon_one_is_the_seed_procedure():
    model = trained_rls()
    feedback = LinearFeedback([[0.7, 0.2]], setpoint=[0.3, 0.0])
    seed_procedure = ForwardModelController(feedback, model, iterations=3, low=-2.0, high=2.0)
    rollout = RolloutController(feedback, model, horizon=1, iterations=3, low=-2.0, high=2.0)
    for state in np.random.default_rng(1).normal(size=(10, 2)):
        np.testing.assert_allclose(rollout.command(state), seed_procedure.command(state), rtol=1e-12)


def test_rollout_refines_every_planned_command_within_limits():
    feedback = LinearFeedback([2.0], setpoint=[1.0])
    rollout = RolloutController(feedback, Integrator(), horizon=5, iterations=2, low=-3.0, high=3.0)
    plan = rollout.plan([0.0])
    assert len(plan) == 5
    assert all(-3.0 <= u.item() <= 3.0 for u in plan)
    # The first command: C(0) = 2, then the mean verdict on the five states the feedback plan
    # leads to (0.2, 0.36, 0.488, 0.5904, 0.67232): 2 + 5.37856 / 5 = 3.076 -> clipped to 3. The
    # second sweep's states all fall short of the setpoint, so its verdicts only push further up.
    assert plan[0].item() == pytest.approx(3.0)
    # Later commands see the state their predecessors lead to, nearer the setpoint.
    assert plan[-1].item() < plan[0].item()


class LinearPlant:
    """Exact model of s' = A s + B u."""

    def __init__(self, a, b):
        self.a, self.b = np.asarray(a, float), np.asarray(b, float)

    def predict(self, state, command):
        return self.a @ np.asarray(state, float) + self.b @ np.asarray(command, float)


class Bent:
    """A nonlinear model: a pendulum-like map with a saturating actuator."""

    def predict(self, state, command):
        x, v = state
        v = v + 0.05 * (3.0 * np.sin(x) + 2.0 * np.tanh(command[0]))
        return np.array([x + 0.05 * v, v])


def closed_form_plan(a, b, gains, setpoint, state, horizon, iterations):
    """The plan of RolloutController on s' = A s + B u, C(s) = G (r - s), with no limit reached.

    U_0 is the feedback rollout; each sweep is U <- U + W (R - Phi s - Gamma U), i.e.
    U_K = M^K U_0 + sum_{i<K} M^i W (R - Phi s) with M = I - W Gamma.
    """
    n, m = b.shape
    h_ = horizon
    closed = a - b @ gains
    # U_0: u_h = G (r - x_h), x_{h+1} = (A - B G) x_h + B G r, x_0 = s.
    x, u0 = state, []
    for _ in range(h_):
        u0.append(gains @ (setpoint - x))
        x = closed @ x + b @ gains @ setpoint
    u0 = np.concatenate(u0)
    phi = np.vstack([np.linalg.matrix_power(a, j) for j in range(1, h_ + 1)])
    gamma = np.zeros((h_ * n, h_ * m))
    for j in range(1, h_ + 1):  # state s_hat_j
        for i in range(j):  # command u_i
            gamma[(j - 1) * n:j * n, i * m:(i + 1) * m] = np.linalg.matrix_power(a, j - 1 - i) @ b
    w = np.zeros((h_ * m, h_ * n))
    for h in range(h_):
        for j in range(h + 1, h_ + 1):
            w[h * m:(h + 1) * m, (j - 1) * n:j * n] = gains / (h_ - h)
    big_m = np.eye(h_ * m) - w @ gamma
    drive = w @ (np.tile(setpoint, h_) - phi @ state)
    plan = np.linalg.matrix_power(big_m, iterations) @ u0
    plan += sum((np.linalg.matrix_power(big_m, i) @ drive for i in range(iterations)), np.zeros(h_ * m))
    return plan.reshape(h_, m)


@pytest.mark.parametrize("horizon", [1, 2, 5])
@pytest.mark.parametrize("iterations", [0, 1, 3])
def test_rollout_plan_on_a_linear_plant_is_the_closed_form(horizon, iterations):
    rng = np.random.default_rng(horizon * 10 + iterations)
    # Three states, two commands: a lightly coupled, slightly unstable plant.
    a = np.eye(3) + 0.05 * rng.normal(size=(3, 3))
    b = 0.1 * rng.normal(size=(3, 2))
    gains = rng.normal(size=(2, 3))
    setpoint = rng.normal(size=3)
    rollout = RolloutController(LinearFeedback(gains, setpoint=setpoint), LinearPlant(a, b),
                                horizon=horizon, iterations=iterations)
    for state in rng.normal(size=(5, 3)):
        expected = closed_form_plan(a, b, gains, setpoint, state, horizon, iterations)
        np.testing.assert_allclose(np.array(rollout.plan(state)), expected, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(rollout.command(state), expected[0], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("iterations", [0, 1, 3, 10])
def test_rollout_with_horizon_one_is_the_seed_procedure_for_any_k_and_a_nonlinear_model(iterations):
    rng = np.random.default_rng(iterations)
    linear = LinearFeedback([[0.7, 0.2]], setpoint=[0.3, 0.0])
    quantity = QuantityFeedback(lambda s: [np.sin(s[0]), s[1]], LinearFeedback([[1.5, 0.4]]), n_state=2)
    for model, feedback in ((trained_rls(), linear), (Bent(), linear), (Bent(), quantity)):
        seed_procedure = ForwardModelController(feedback, model, iterations=iterations, low=-1.0, high=1.0)
        rollout = RolloutController(feedback, model, horizon=1, iterations=iterations, low=-1.0, high=1.0)
        for state in rng.normal(size=(20, 2)):
            np.testing.assert_allclose(rollout.command(state), seed_procedure.command(state),
                                       rtol=1e-12, atol=1e-12)


def test_rollout_command_depends_on_the_horizon_where_it_should():
    # A double integrator (a slow plant: force -> velocity -> position) approaching its target
    # fast, under feedback on the position error alone. One step ahead the position is still
    # short of the target, so H = 1 keeps pushing; longer horizons see the overshoot coming and
    # push less (3.7, 2.92 and 0.87 here).
    dt = 0.1
    plant = LinearPlant([[1.0, dt], [0.0, 1.0]], [[0.0], [dt]])
    feedback = LinearFeedback([[1.0, 0.0]], setpoint=[1.0, 0.0])
    state = np.array([0.0, 1.0])
    commands = {h: RolloutController(feedback, plant, horizon=h, iterations=3).command(state).item()
                for h in (1, 5, 20)}
    assert commands[1] > commands[5] + 0.5 > commands[20] + 1.0


def test_rollout_converged_sweeps_reach_the_seed_fixed_point_whatever_the_horizon():
    # Where the sweeps converge, every predicted state is put at C = 0: u_0 then zeroes the
    # controlled error one step ahead, which is the seed's fixed point u = (G B)^-1 G (r - A s).
    # (Here the sweep matrix M of closed_form_plan has spectral radius 0, 0.63 and 0.89 for
    # H = 1, 2, 5: the more commands share the verdicts, the slower the sweeps converge.)
    a = np.array([[0.5, 0.1], [0.0, 0.4]])
    b = np.array([[0.0], [1.0]])
    gains = np.array([[0.5, 1.0]])
    plant, feedback = LinearPlant(a, b), LinearFeedback(gains, setpoint=[0.5, 0.0])
    state = np.array([0.2, -0.3])
    fixed_point = np.linalg.solve(gains @ b, gains @ (feedback.setpoint - a @ state))
    for horizon in (1, 2, 5):
        command = RolloutController(feedback, plant, horizon=horizon, iterations=400).command(state)
        np.testing.assert_allclose(command, fixed_point, rtol=1e-9)


def test_rollout_rejects_bad_settings():
    with pytest.raises(ValueError, match="horizon"):
        RolloutController(LinearFeedback([1.0]), Integrator(), horizon=0)
    with pytest.raises(ValueError, match="iterations"):
        RolloutController(LinearFeedback([1.0]), Integrator(), iterations=-2)


def test_mppi_drives_an_integrator_to_the_target_and_is_reproducible():
    def cost(states, commands):
        return states[:, 0] ** 2 + 0.01 * commands[:, 0] ** 2

    trajectories = []
    for _ in range(2):
        controller = MPPIController(Integrator(), cost, horizon=10, samples=64, noise=1.0,
                                    low=-1.0, high=1.0, seed=3)
        x, xs = np.array([1.0]), []
        for _ in range(40):
            u = controller.command(x)
            assert -1.0 <= u.item() <= 1.0
            x = x + 0.1 * u
            xs.append(x.item())
        trajectories.append(xs)
    assert trajectories[0] == trajectories[1]
    assert abs(trajectories[0][-1]) < 0.05
    # It heads for the target from the first step (the plan starts at zero commands).
    assert all(b < a for a, b in zip(trajectories[0][:10], trajectories[0][1:10], strict=False))
    assert trajectories[0][2] < 0.9


def test_quantity_feedback_controls_a_function_of_the_state():
    # Control sin(angle) rather than the angle, as the seed's dm_control test does.
    feedback = QuantityFeedback(lambda s: [np.sin(s[0])], LinearFeedback([2.0], setpoint=[0.5]), n_state=2)
    np.testing.assert_allclose(feedback.command([np.pi / 2, 0.0]), [2.0 * (0.5 - 1.0)])
    with pytest.raises(ValueError, match="length 2"):
        feedback.command([0.0])
    with pytest.raises(TypeError, match="callable"):
        QuantityFeedback(3, LinearFeedback([1.0]), n_state=1)


def test_agent_for_env_takes_a_controller_factory():
    import gymnasium as gym

    from cerebellar import make_agent, run_episodes

    env = gym.make("CartPole-v1")
    agent = make_agent(
        env, model="rls", seed=0,
        controller=lambda m, f, a: RolloutController(f, m, horizon=1, iterations=3, low=a.low, high=a.high),
    )
    assert isinstance(agent.controller, RolloutController)
    # Horizon 1 is the seed's procedure: the same first episode as the default agent.
    default = make_agent(gym.make("CartPole-v1"), model="rls", seed=0)
    first = run_episodes(agent, env, episodes=1, seed=0).episodes[0]
    second = run_episodes(default, gym.make("CartPole-v1"), episodes=1, seed=0).episodes[0]
    np.testing.assert_allclose(first.observations, second.observations, rtol=1e-12, atol=1e-12)
