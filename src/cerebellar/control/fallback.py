"""The trust-gated fallback: rely on a safe controller until the model's own errors are small."""

from __future__ import annotations

import math
from collections import deque

import numpy as np


class TrustGated:
    """Blend a model-based controller with a fallback by how much the model is trusted.

    The command is ``(1 - trust_) * fallback + trust_ * controller``, both on
    the same state, clipped to the command limits. ``trust_`` is 1 when the
    mean over the last ``window`` errors reported by :meth:`observe_error` of
    the largest absolute error over ``channels`` is at most ``low``, 0 at
    ``high`` or above, linear between; it starts at 0 and is kept across
    episodes (trust is in the model, not in an episode). The agent reports
    the model's measured error across a sensory delay (its internal
    feedback's ``delay_error_``), so the gate needs a delayed agent.

    Parameters
    ----------
    controller : object
        The model's controller (``command(state)``).
    fallback : object
        The controller relied on while the model is not yet trusted, e.g.
        gentle feedback that is stable under the delay.
    low, high : float
        Error thresholds, ``0 <= low < high``.
    window : int
        Number of recent errors averaged.
    channels : sequence of int, optional
        Channels whose error measures trust (all by default).
    command_low, command_high : array_like, optional
        Command limits of the blend (unbounded by default).
    """

    def __init__(self, controller, fallback, low: float, high: float, window: int = 20, channels=None,
                 command_low=None, command_high=None):
        if not (math.isfinite(low) and math.isfinite(high) and 0.0 <= low < high):
            raise ValueError(f"trust thresholds must be finite with 0 <= low < high, got {low}, {high}")
        if int(window) != window or window < 1:
            raise ValueError(f"window must be a positive integer, got {window}")
        self.controller = controller
        self.fallback = fallback
        self.low, self.high = float(low), float(high)
        self.channels = None if channels is None else list(channels)
        self.command_low = -np.inf if command_low is None else np.asarray(command_low, dtype=np.float64)
        self.command_high = np.inf if command_high is None else np.asarray(command_high, dtype=np.float64)
        self._recent = deque(maxlen=int(window))
        self.trust_ = 0.0

    def observe_error(self, error) -> None:
        """Fold one measured prediction error (across the delay) into ``trust_``."""
        error = np.asarray(error, dtype=np.float64)
        if self.channels is not None:
            error = error[self.channels]
        worst = float(np.max(np.abs(error)))
        self._recent.append(worst if math.isfinite(worst) else math.inf)
        if len(self._recent) == self._recent.maxlen:
            mean = float(np.mean(self._recent))
            self.trust_ = min(max((self.high - mean) / (self.high - self.low), 0.0), 1.0)

    def command(self, state) -> np.ndarray:
        """Return the blended command for ``state``."""
        if self.trust_ >= 1.0:
            return self.controller.command(state)
        # The model's controller is asked only once it is trusted at all: an
        # untrained model's refinement may not even be finite.
        command = np.asarray(self.fallback.command(state), dtype=np.float64)
        if self.trust_ > 0.0:
            command = (1.0 - self.trust_) * command + self.trust_ * self.controller.command(state)
        return np.minimum(np.maximum(command, self.command_low), self.command_high)

    def reset(self) -> None:
        """Start a new episode: reset both controllers; the trust is kept."""
        for part in (self.controller, self.fallback):
            if hasattr(part, "reset"):
                part.reset()
