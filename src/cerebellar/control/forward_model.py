"""Motor commands from a forward model: the seed's procedure.

1. the feedback controller proposes ``u = C(s)``;
2. the forward model predicts what ``u`` will do: ``s_hat = model.predict(s, u)``;
3. the controller is evaluated on the prediction and its output is added:
   ``u = u + C(s_hat)``;
4. steps 2-3 repeat ``iterations`` times, and ``u`` is returned.

With ``iterations = 0`` this is plain feedback. For a linear model
``s_hat = A s + B u`` and a linear controller ``C(s) = G (r - s)`` the
refinement is the fixed-point iteration ``u <- u + G (r - A s - B u)``: it
converges (when ``|1 - G B| < 1``) to the command whose predicted consequence
zeroes the controlled error one step ahead; with few iterations and a small
``G B`` it instead adds the controller's output on the predicted next state,
a phase lead taken from the model.
"""

from __future__ import annotations

import numpy as np

from .._validation import as_finite_vector
from .feedback import LinearFeedback


class ForwardModelController:
    """Refine a feedback controller's command through a forward model.

    Parameters
    ----------
    feedback : LinearFeedback or callable
        The simple controller ``C``: maps a state vector to a command vector.
    model : ForwardModel
        Anything with ``predict(state, command) -> next state``.
    iterations : int
        Number of refinements K; 0 gives pure feedback.
    low, high : array_like, optional
        Limits of the command the plant accepts (e.g. the action space). The
        command is clipped to them before each prediction and on return, so the
        model is only asked about commands that could actually be sent.
    """

    def __init__(self, feedback, model, iterations: int = 3, low=None, high=None):
        if int(iterations) != iterations or iterations < 0:
            raise ValueError(f"iterations must be a non-negative integer, got {iterations}")
        self.feedback = feedback
        self.model = model
        self.iterations = int(iterations)
        self.low = -np.inf if low is None else np.asarray(low, dtype=np.float64)
        self.high = np.inf if high is None else np.asarray(high, dtype=np.float64)

    def command(self, state) -> np.ndarray:
        """Return the refined command for ``state``.

        Parameters
        ----------
        state : array_like
            The (estimated) current sensory state.

        Returns
        -------
        numpy.ndarray
            The command, clipped to ``[low, high]``.
        """
        n_state = self.feedback.n_state if isinstance(self.feedback, LinearFeedback) else None
        state = as_finite_vector(state, "state", n_state)
        command = np.clip(self.feedback(state), self.low, self.high)
        for _ in range(self.iterations):
            predicted = self.model.predict(state, command)
            command = np.clip(command + self.feedback(predicted), self.low, self.high)
        return command
