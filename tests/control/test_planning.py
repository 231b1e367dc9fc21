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
    # The first command: C(0) = 2, then two refinements by C on its predicted consequence:
    # 2 + C(0.2) = 3.6 -> clipped to 3; 3 + C(0.3) = 4.4 -> clipped to 3.
    assert plan[0].item() == pytest.approx(3.0)
    # Later commands see the state their predecessors lead to, nearer the setpoint.
    assert plan[-1].item() < plan[0].item()


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
