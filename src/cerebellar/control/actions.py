"""Mapping continuous motor commands to a Gymnasium action space, and back.

The controller and the forward model work with continuous commands in the
plant's own units (for CartPole-v1, a force in newtons). The action map turns
a command into an action the environment accepts, and an action back into the
command that was actually sent: the efference copy the model learns from.

- ``Box`` spaces: the command is clipped to ``[low, high]``.
- ``Discrete`` spaces: each action stands for a command value (CartPole-v1:
  action 0 = -10 N, action 1 = +10 N), and a command is mapped to the action
  whose value is nearest (ties go to the lower action index). For CartPole-v1
  this is the sign of the force; a command of exactly 0 N gives action 0.
"""

from __future__ import annotations

import numpy as np
from gymnasium import spaces


class ActionMap:
    """Continuous commands <-> actions of one Gymnasium space.

    Parameters
    ----------
    space : gymnasium.spaces.Box or gymnasium.spaces.Discrete
        The environment's action space.
    action_values : array_like, optional
        Discrete spaces only: the command each action stands for, shape
        ``(n,)`` or ``(n, n_command)``. Required for a discrete space.
    """

    def __init__(self, space, action_values=None):
        self.space = space
        if isinstance(space, spaces.Box):
            if len(space.shape) != 1:
                raise ValueError(f"only 1-D Box action spaces are supported, got shape {space.shape}")
            self.discrete = False
            self.low = np.asarray(space.low, dtype=np.float64)
            self.high = np.asarray(space.high, dtype=np.float64)
            self.values = None
        elif isinstance(space, spaces.Discrete):
            if action_values is None:
                raise ValueError(
                    f"a Discrete({space.n}) action space needs action_values: the command "
                    "(e.g. force) each action stands for"
                )
            values = np.array(action_values, dtype=np.float64)
            if values.ndim == 1:
                values = values[:, None]
            if values.shape[0] != space.n or not np.all(np.isfinite(values)):
                raise ValueError(
                    f"action_values must give {space.n} finite values (one per action), "
                    f"got {action_values!r}"
                )
            self.discrete = True
            self.values = values
            self._scalar = values.shape[1] == 1
            self._flat_values = values[:, 0]
            self.low = values.min(axis=0)
            self.high = values.max(axis=0)
        else:
            raise ValueError(
                f"unsupported action space {space!r}: cerebellar controls Box and Discrete spaces"
            )

    @property
    def n_command(self) -> int:
        """Length of the command vector."""
        return self.low.shape[0]

    def to_action(self, command: np.ndarray):
        """Return the action that sends ``command`` (clipped or nearest)."""
        if self.discrete:
            if self._scalar:
                return int(np.argmin(np.abs(self._flat_values - command[0])))
            return int(np.argmin(np.sum((self.values - command) ** 2, axis=1)))
        return np.clip(command, self.low, self.high).astype(self.space.dtype)

    def to_command(self, action) -> np.ndarray:
        """Return the command an action actually sends (the efference copy)."""
        if self.discrete:
            return self.values[int(action)].copy()
        return np.clip(np.asarray(action, dtype=np.float64).reshape(-1), self.low, self.high)
