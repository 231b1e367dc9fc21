import numpy as np
import pytest

from cerebellar.control import ForwardModelController, LinearFeedback
from cerebellar.models import RLS


class LinearPlantModel:
    """An exact model s' = A s + B u, exposing only predict (the generic path)."""

    def __init__(self, a, b):
        self.a, self.b = np.asarray(a, float), np.asarray(b, float)
        self.asked = []

    def predict(self, state, command):
        self.asked.append(np.array(command))
        return self.a @ state + self.b @ command

    def learn(self, state, command, next_state):
        return next_state - self.predict(state, command)


A = np.array([[1.0, 0.1], [0.2, 0.95]])
B = np.array([[0.0], [0.5]])
G = np.array([[0.8, 0.3]])


def test_zero_iterations_is_pure_feedback():
    feedback = LinearFeedback(G, setpoint=[0.5, 0.0])
    controller = ForwardModelController(feedback, LinearPlantModel(A, B), iterations=0)
    state = np.array([0.1, -0.2])
    np.testing.assert_allclose(controller.command(state), G @ (np.array([0.5, 0.0]) - state))


@pytest.mark.parametrize("iterations", [1, 2, 3, 7])
def test_refinement_matches_closed_form(iterations):
    # u_{k+1} = u_k + G (r - A s - B u_k) has the closed form
    # u_K = u* + (1 - GB)^K (u_0 - u*), with u* = G (r - A s) / (G B).
    setpoint = np.array([0.2, 0.0])
    state = np.array([0.3, -0.1])
    controller = ForwardModelController(LinearFeedback(G, setpoint), LinearPlantModel(A, B), iterations)
    gb = (G @ B).item()
    fixed = (G @ (setpoint - A @ state)).item() / gb
    first = (G @ (setpoint - state)).item()
    expected = fixed + (1 - gb) ** iterations * (first - fixed)
    assert controller.command(state).item() == pytest.approx(expected, rel=1e-12, abs=1e-12)


def test_many_refinements_zero_the_predicted_error():
    # At the fixed point, the controller sees no error in the predicted next state.
    setpoint = np.array([0.2, 0.0])
    model = LinearPlantModel(A, B)
    controller = ForwardModelController(LinearFeedback(G, setpoint), model, iterations=200)
    state = np.array([0.3, -0.1])
    command = controller.command(state)
    assert (G @ (setpoint - model.predict(state, command))).item() == pytest.approx(0.0, abs=1e-12)


def test_affine_fast_path_equals_generic_loop():
    rng = np.random.default_rng(3)
    model = RLS(forgetting=1.0)
    for _ in range(50):
        s, u = rng.normal(size=2), rng.normal(size=1)
        model.learn(s, u, A @ s + B @ u + 0.01 * rng.normal(size=2))
    feedback = LinearFeedback(G, setpoint=[0.1, 0.0], low=-0.5, high=0.5)

    class PredictOnly:
        def predict(self, state, command):
            return model.predict(state, command)

    fast = ForwardModelController(feedback, model, iterations=4, low=-1.0, high=1.0)
    slow = ForwardModelController(feedback, PredictOnly(), iterations=4, low=-1.0, high=1.0)
    for _ in range(20):
        s = rng.normal(size=2)
        np.testing.assert_allclose(fast.command(s), slow.command(s), rtol=1e-12, atol=1e-14)


def test_commands_are_clipped_before_the_model_sees_them():
    model = LinearPlantModel(A, B)
    controller = ForwardModelController(LinearFeedback(G * 100), model, iterations=3, low=-1.0, high=2.0)
    command = controller.command(np.array([5.0, 5.0]))
    assert -1.0 <= command.item() <= 2.0
    assert all(-1.0 <= asked.item() <= 2.0 for asked in model.asked)


def test_diverged_model_is_reported():
    class NanModel:
        def predict(self, state, command):
            return np.full_like(state, np.nan)

    controller = ForwardModelController(LinearFeedback(G), NanModel(), iterations=2)
    with pytest.raises(FloatingPointError, match="diverged"):
        controller.command(np.array([0.1, 0.1]))


def test_bad_iterations_and_state():
    with pytest.raises(ValueError, match="iterations"):
        ForwardModelController(LinearFeedback(G), LinearPlantModel(A, B), iterations=-1)
    controller = ForwardModelController(LinearFeedback(G), LinearPlantModel(A, B))
    with pytest.raises(ValueError, match="state"):
        controller.command([np.nan, 0.0])
    with pytest.raises(ValueError, match="length 2"):
        controller.command([0.0, 0.0, 0.0])
