"""The true dynamics as a forward model: the ceiling a learned model can reach."""

from __future__ import annotations

import numpy as np

from .._validation import as_finite_vector


class OracleModel:
    """A forward model that knows the plant: it calls the environment's true dynamics.

    It follows the plant as it is now, so after a
    :class:`~cerebellar.envs.DynamicsChange` it predicts with the new
    parameters. It does not learn; ``learn`` returns its (zero, up to noise)
    prediction error so that traces stay comparable with learned models.

    Parameters
    ----------
    env : gymnasium.Env
        An environment (possibly wrapped) whose unwrapped plant has a method
        ``dynamics(state, command) -> next_state``, such as
        ``cerebellar/CartPoleContinuous-v0``.

    Raises
    ------
    ValueError
        If the environment exposes no true dynamics.
    """

    def __init__(self, env):
        plant = env.unwrapped
        if not callable(getattr(plant, "dynamics", None)):
            raise ValueError(
                f"{type(plant).__name__} exposes no true dynamics (a dynamics(state, command) "
                "method), so no oracle model can be built for it"
            )
        self._plant = plant

    def predict(self, state, command) -> np.ndarray:
        """Return the true next state."""
        return self._plant.dynamics(as_finite_vector(state, "state"), as_finite_vector(command, "command"))

    def learn(self, state, command, next_state) -> np.ndarray:
        """Learn nothing; return the prediction error."""
        return as_finite_vector(next_state, "next_state") - self.predict(state, command)


class DynamicsModel:
    """Known dynamics as a forward model with ``predict`` and ``predict_many`` (learns nothing).

    Parameters
    ----------
    dynamics : callable
        ``dynamics(states (N, n), commands (N, m)) -> next states (N, n)``.
    """

    def __init__(self, dynamics):
        self.dynamics = dynamics

    def predict(self, state, command) -> np.ndarray:
        """Return the true next state."""
        return self.dynamics(np.atleast_2d(np.asarray(state, dtype=np.float64)),
                             np.atleast_2d(np.asarray(command, dtype=np.float64)))[0]

    def predict_many(self, states, commands) -> np.ndarray:
        """Return the true next states of a batch."""
        states = np.asarray(states, dtype=np.float64)
        return self.dynamics(states, np.asarray(commands, dtype=np.float64).reshape(len(states), -1))

    def learn(self, state, command, next_state) -> np.ndarray:
        """Learn nothing; return the prediction error."""
        return np.asarray(next_state, dtype=np.float64) - self.predict(state, command)


class OracleInverseModel:
    """An inverse model that knows the plant: the environment's true inverse dynamics.

    ``predict(state, desired)`` returns the torques that give the desired
    accelerations ``desired`` in ``state`` (the computed-torque feedforward);
    it follows the plant as it is now (e.g. after a payload change). It does
    not learn; ``learn`` returns the command error it was given.

    Parameters
    ----------
    env : gymnasium.Env
        An environment whose unwrapped plant has ``inverse_dynamics(state,
        acceleration)``, such as ``cerebellar/TwoLinkArm-v0``.

    Raises
    ------
    ValueError
        If the environment exposes no inverse dynamics.
    """

    def __init__(self, env):
        plant = env.unwrapped
        if not callable(getattr(plant, "inverse_dynamics", None)):
            raise ValueError(f"{type(plant).__name__} exposes no inverse dynamics (an "
                             "inverse_dynamics(state, acceleration) method)")
        self._plant = plant

    def predict(self, state, desired) -> np.ndarray:
        """Return the true torques for the desired accelerations."""
        return self._plant.inverse_dynamics(as_finite_vector(state, "state"),
                                            as_finite_vector(desired, "desired"))

    def learn(self, state, desired, error_command) -> np.ndarray:
        """Learn nothing; return the command error."""
        return as_finite_vector(error_command, "error_command")
