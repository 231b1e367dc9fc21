"""Internal feedback: estimate the present from delayed senses with the forward model."""

from __future__ import annotations

import math
from collections import deque

import numpy as np


def check_delay_steps(delay_steps) -> int:
    """Return ``delay_steps`` as an int, or raise ``ValueError`` naming it."""
    if isinstance(delay_steps, bool) or not isinstance(delay_steps, (int, float, np.integer, np.floating)):
        raise ValueError(f"delay_steps must be a non-negative integer, got {delay_steps!r}")
    if not math.isfinite(delay_steps) or int(delay_steps) != delay_steps or delay_steps < 0:
        raise ValueError(f"delay_steps must be a non-negative integer, got {delay_steps!r}")
    return int(delay_steps)


def roll_forward(model, estimate: np.ndarray, commands) -> np.ndarray:
    """Run the forward model from ``estimate`` through ``commands`` (oldest first): the present."""
    for command in commands:
        estimate = model.predict(estimate, command)
    return estimate


def fold_delay_error(correction_: np.ndarray, weight: float, corrected: np.ndarray,
                     error: np.ndarray) -> None:
    """Fold ``error`` into the running bias ``correction_`` (in place) on the ``corrected`` channels."""
    correction_ += weight * (np.where(corrected, error, 0.0) - correction_)


class SmithPredictor:
    """Predict the present from a delayed observation and the commands sent since.

    The senses arrive ``delay_steps`` steps late. The predictor keeps the
    efference copies of the last ``d`` commands and runs the forward model from
    the delayed observation through them (a Smith predictor in its
    forward-model form, Miall et al. 1993), so that control acts on an
    estimate of the present instead of waiting for the world. Each estimate is
    checked when the observation of its moment arrives, ``d`` steps later:
    ``delay_error_`` holds the latest such error, the model's own measure of
    how well it predicts across the delay. The model learns each delayed
    transition with the command that actually produced it, ``d`` steps before
    the current one (:meth:`record` returns it).

    Parameters
    ----------
    delay_steps : int
        The sensory delay ``d`` in steps (positive).
    n_state : int
        Number of observation channels.
    correction : float
        Weight in [0, 1] of each new ``delay_error_`` in a running average that
        is added to every estimate (the correction of the classic Smith
        predictor, which removes a steady bias of the model across the delay);
        0 adds nothing.
    corrected_channels : sequence of int, optional
        Channels the correction applies to (all by default); leave out
        exogenous channels such as targets, whose jumps are not the model's error.
    """

    def __init__(self, delay_steps: int, n_state: int, correction: float = 0.0, corrected_channels=None):
        self.delay_steps = check_delay_steps(delay_steps)
        if self.delay_steps < 1:
            raise ValueError(f"a Smith predictor needs a delay of at least one step, got {delay_steps}")
        if not (isinstance(correction, (int, float)) and 0.0 <= correction <= 1.0):
            raise ValueError(f"correction must be a number in [0, 1], got {correction!r}")
        self.n_state = int(n_state)
        self.correction = float(correction)
        self._corrected = np.zeros(self.n_state, dtype=bool)
        self._corrected[list(range(self.n_state)) if corrected_channels is None
                        else list(corrected_channels)] = True
        # Efference copies: the commands sent, newest last. d + 1 are kept: the
        # newest d roll the delayed observation forward to the present, and the
        # oldest is the command behind the transition being learned.
        self._sent = deque(maxlen=self.delay_steps + 1)
        # Estimates of the present made in the last d steps, oldest first: the
        # oldest is of the moment the next delayed observation will show.
        self._estimates = deque(maxlen=self.delay_steps)
        self.correction_ = np.zeros(self.n_state)
        self.estimate_ = None
        self.delay_error_ = None

    def estimate(self, model, observation: np.ndarray) -> np.ndarray:
        """Return the estimate of the present from the (validated) delayed ``observation``.

        Once ``d`` steps have passed in the episode, ``delay_error_`` becomes
        ``observation`` minus the estimate (before any correction) made ``d``
        steps earlier, and is folded into the correction.
        """
        # Commands sent since the observation was taken: all of them early in an
        # episode (the delayed senses still show the initial state), then the newest d.
        estimate = roll_forward(model, observation, list(self._sent)[-self.delay_steps:])
        if len(self._estimates) == self.delay_steps:
            self.delay_error_ = observation - self._estimates[0]
            if self.correction:
                fold_delay_error(self.correction_, self.correction, self._corrected, self.delay_error_)
        self._estimates.append(estimate)
        if self.correction:
            estimate = estimate + self.correction_
        self.estimate_ = estimate
        return estimate

    def record(self, command: np.ndarray):
        """Keep the efference copy of ``command``; return the command behind the delayed transition.

        None while no transition can be seen yet (the first ``d`` steps of an
        episode, whose observations all repeat the initial one).
        """
        self._sent.append(command)
        return self._sent[0] if len(self._sent) > self.delay_steps else None

    def reset(self) -> None:
        """Start a new episode: forget the commands, estimates and correction."""
        self._sent.clear()
        self._estimates.clear()
        self.correction_ = np.zeros(self.n_state)
        self.estimate_ = None
        self.delay_error_ = None
