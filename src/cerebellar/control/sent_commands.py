"""A model seen through the commands the plant would actually receive."""

from __future__ import annotations

import numpy as np

from .actions import ActionMap


class SentCommands:
    """A model seen by a planner: every command is replaced by the one the plant would receive.

    With a discrete action space a continuous command goes to the nearest
    action's value; rolling plans through the model with the values actually
    sent keeps the planner from trusting commands the plant never gets.

    Parameters
    ----------
    model : ForwardModel
        The model to plan through (it keeps learning elsewhere).
    actions : ActionMap
        The action map of a discrete space (one command channel).
    """

    def __init__(self, model, actions: ActionMap):
        self.model = model
        self.values = np.sort(actions.values[:, 0])

    def _sent(self, commands):
        commands = np.asarray(commands, dtype=np.float64)
        # Nearest value; ties to the lower one, as ActionMap.to_action does.
        upper = np.clip(np.searchsorted(self.values, commands), 1, len(self.values) - 1)
        lower = upper - 1
        take_upper = np.abs(self.values[upper] - commands) < np.abs(commands - self.values[lower])
        return np.where(take_upper, self.values[upper], self.values[lower])

    def predict(self, state, command) -> np.ndarray:
        """Predict with the command the plant would receive."""
        return self.model.predict(state, self._sent(np.atleast_1d(command)))

    def predict_many(self, states, commands) -> np.ndarray:
        """Predict a batch with the commands the plant would receive."""
        return self.model.predict_many(states, self._sent(commands))

    def learn(self, state, command, next_state) -> np.ndarray:
        """Learn through the wrapped model."""
        return self.model.learn(state, command, next_state)
