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

import math
from functools import partial

import numpy as np

from .._validation import as_finite_vector
from ..models.linear import AffinePredictor
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
        self._scalar_limits = (float(np.max(self.low)), float(np.min(self.high)))

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
        low, high = self.low, self.high
        command = np.minimum(np.maximum(self.feedback(state), low), high)
        if self.iterations == 0:
            return command
        # A model that can precompute its state-dependent part does so once for
        # all K refinements (see OnlineForwardModel.predictor).
        if hasattr(self.model, "predictor") and getattr(self.model, "is_initialised", False):
            predict = self.model.predictor(state)
        else:
            predict = partial(self.model.predict, state)
        if isinstance(predict, AffinePredictor) and isinstance(self.feedback, LinearFeedback):
            command = self._refine_affine(command, predict)
        else:
            for _ in range(self.iterations):
                command = np.minimum(
                    np.maximum(command + self.feedback(predict(command)), low), high
                )
        if not math.isfinite(command @ command):
            raise FloatingPointError(
                f"the refined command is not finite ({command}): the forward model diverged"
            )
        return command

    def _refine_affine(self, command, predict):
        """Run the refinement when model and controller are both affine.

        With ``s_hat = a + B u`` and ``C(s) = clip(G (r - s))``, each refinement
        is ``u <- clip(u + clip(G (r - a) - G B u))``: the same arithmetic as the
        general loop, with the products by G computed once.
        """
        feedback = self.feedback
        gains = feedback.gains
        drive = gains @ (feedback.setpoint - predict.offset)
        coupling = gains @ predict.slope
        low, high = self.low, self.high
        if command.shape[0] == 1:
            # One command channel: the same iteration in Python floats, which for
            # a handful of scalars is several times faster than numpy calls.
            u, d, g = command.item(), drive.item(), coupling.item()
            lo, hi = self._scalar_limits
            c_lo, c_hi = feedback.low.item(), feedback.high.item()
            for _ in range(self.iterations):
                u = min(max(u + min(max(d - g * u, c_lo), c_hi), lo), hi)
            return np.array([u])
        for _ in range(self.iterations):
            correction = drive - coupling @ command
            if feedback._bounded:
                correction = np.minimum(np.maximum(correction, feedback.low), feedback.high)
            command = np.minimum(np.maximum(command + correction, low), high)
        return command
