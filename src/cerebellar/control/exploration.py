"""Exploration: a controller plus exploratory noise (motor babbling)."""

from __future__ import annotations

import numpy as np


class Babbling:
    """A controller plus Gaussian exploratory noise of ``amplitude`` (command units) per channel.

    Used as a learning agent's fallback, it excites the plant so that the
    model can tell what the commands do from what the plant does on its own
    (for an arm: gravity): a blank model that sees only commands that follow
    the posture (feedback) cannot separate the two. A fresh draw every call,
    seeded, for the first ``steps`` calls of the controller's life (all calls
    if None): the count is of the agent's life, not of an episode.

    Parameters
    ----------
    inner : object
        The controller whose command is perturbed (``command(state)``).
    amplitude : float
        Standard deviation of the noise.
    n_command : int
        Number of command channels.
    seed : int
        Seeds the noise.
    steps : int, optional
        How many calls carry noise; all of them if None.
    """

    def __init__(self, inner, amplitude: float, n_command: int, seed: int = 0,
                 steps: int | None = None):
        self.inner = inner
        self.amplitude = float(amplitude)
        self.n_command = int(n_command)
        self.steps = steps
        self.calls = 0
        self._rng = np.random.default_rng(seed)

    def command(self, state) -> np.ndarray:
        """Return the inner controller's command, plus noise while the babbling lasts."""
        command = np.asarray(self.inner.command(state), dtype=np.float64)
        self.calls += 1
        if self.steps is not None and self.calls > self.steps:
            return command
        return command + self.amplitude * self._rng.standard_normal(self.n_command)

    def reset(self) -> None:
        """Nothing to reset (the babbling counts the agent's life, not an episode)."""
