"""The seed's refinement for many agents at once (one row per agent).

The same arithmetic as :class:`~cerebellar.control.ForwardModelController`,
operation for operation, applied to a stack of states: ``N`` agents with one
linear feedback law, each refining its command through its own model (a batch
of models, see :mod:`cerebellar.models.batched`). Products are taken per row
with ``numpy.matmul`` on stacks, which calls the same BLAS kernel as the single
product, so every row is bitwise the single controller's command.
"""

from __future__ import annotations

import numpy as np

from ..models.batched import BatchedAffinePredictor, matvec
from .feedback import LinearFeedback


def feedback_batch(feedback: LinearFeedback, states: np.ndarray) -> np.ndarray:
    """Return ``feedback(state)`` for every row of ``states``."""
    commands = matvec(feedback.gains, feedback.setpoint - states)
    if feedback._bounded:
        commands = np.minimum(np.maximum(commands, feedback.low), feedback.high)
    return commands


def refine_batch(feedback: LinearFeedback, predict, states: np.ndarray, iterations: int, low, high):
    """Return the refined command of every agent: the seed's procedure on each row of ``states``.

    Parameters
    ----------
    feedback : LinearFeedback
        The feedback law every agent refines.
    predict : callable or None
        ``predict(commands) -> next states`` for the fixed ``states`` (one row
        per agent), e.g. a batch's ``predictor(states)``; a
        :class:`~cerebellar.models.batched.BatchedAffinePredictor` runs the
        affine iteration. Not called (may be None) when ``iterations`` is 0.
    states : numpy.ndarray, shape (N, n_state)
        The (estimated) states.
    iterations : int
        Refinements K.
    low, high : numpy.ndarray
        The command limits.

    Raises
    ------
    FloatingPointError
        If a refined command is not finite (a model diverged).
    """
    commands = np.minimum(np.maximum(feedback_batch(feedback, states), low), high)
    if iterations == 0:
        return commands
    if isinstance(predict, BatchedAffinePredictor):
        commands = _refine_affine(feedback, predict, commands, iterations, low, high)
    else:
        for _ in range(iterations):
            corrections = feedback_batch(feedback, predict(commands))
            commands = np.minimum(np.maximum(commands + corrections, low), high)
    if not np.all(np.isfinite(commands)):
        bad = int(np.flatnonzero(~np.all(np.isfinite(commands), axis=1))[0])
        raise FloatingPointError(f"the refined command of agent {bad} is not finite ({commands[bad]}): "
                                 "its forward model diverged")
    return commands


def _refine_affine(feedback, predict, commands, iterations, low, high):
    """Run the affine iteration of ``ForwardModelController._refine_affine`` on every row."""
    gains = feedback.gains
    drive = matvec(gains, feedback.setpoint - predict.offset)
    coupling = np.matmul(gains, predict.slope)
    if commands.shape[1] == 1:
        # The single controller iterates in Python floats; these are the same IEEE operations.
        u, d, g = commands[:, 0], drive[:, 0], coupling[:, 0, 0]
        lo, hi = float(np.max(low)), float(np.min(high))
        c_lo, c_hi = feedback.low.item(), feedback.high.item()
        for _ in range(iterations):
            u = np.minimum(np.maximum(u + np.minimum(np.maximum(d - g * u, c_lo), c_hi), lo), hi)
        return u[:, None]
    for _ in range(iterations):
        correction = drive - matvec(coupling, commands)
        if feedback._bounded:
            correction = np.minimum(np.maximum(correction, feedback.low), feedback.high)
        commands = np.minimum(np.maximum(commands + correction, low), high)
    return commands
