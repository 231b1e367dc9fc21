"""Mapping continuous motor commands to a Gymnasium action space, and back.

The controller and the forward model work with continuous commands in the
plant's own units (for CartPole-v1, a force in newtons). The action map turns
a command into an action the environment accepts, and an action back into the
command that was actually sent: the efference copy the model learns from.

- ``Box`` spaces: the command is clipped to ``[low, high]``. An action outside
  the bounds is clipped too when turned back into a command: environments clip
  such actions (Gymnasium's continuous-control environments and those of
  cerebellar do), so the clipped command is the one actually applied, and the
  one the model must learn. A non-finite action or one of the wrong shape is
  refused.
- ``Discrete`` spaces: each action stands for a command value (CartPole-v1:
  action 0 = -10 N, action 1 = +10 N), and a command is mapped to the action
  whose value is nearest (ties go to the lower action index). For CartPole-v1
  this is the sign of the force; a command of exactly 0 N gives action 0. A
  valid action is what ``Discrete.contains`` accepts: a Python or NumPy integer
  in ``[start, start + n)``; anything else (a negative index, ``1.7``, ``n``) is
  refused rather than guessed.
"""

from __future__ import annotations

import numpy as np
from gymnasium import spaces

from .._validation import as_finite_vector


class ActionMap:
    """Continuous commands <-> actions of one Gymnasium space.

    Parameters
    ----------
    space : gymnasium.spaces.Box or gymnasium.spaces.Discrete
        The environment's action space.
    action_values : array_like, optional
        Discrete spaces only: the command each action stands for, shape
        ``(n,)`` or ``(n, n_command)``, in action order (row ``i`` for action
        ``start + i``). Required for a discrete space.
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
            self._start = int(space.start)
            self._n = int(space.n)
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
                return int(np.argmin(np.abs(self._flat_values - command[0]))) + self._start
            return int(np.argmin(np.sum((self.values - command) ** 2, axis=1))) + self._start
        return np.clip(command, self.low, self.high).astype(self.space.dtype)

    def to_command(self, action) -> np.ndarray:
        """Return the command an action actually sends (the efference copy).

        Raises
        ------
        ValueError
            For an action the space does not contain: for a Discrete space, not
            an integer in ``[start, start + n)``; for a Box, not a finite vector
            of the space's length (a value beyond the bounds is clipped, as the
            environment clips it).
        """
        if self.discrete:
            return self.values[self._index(action)].copy()
        try:
            command = as_finite_vector(action, "action", self.n_command, limit_norm=False)
        except (TypeError, ValueError) as error:
            raise ValueError(f"{error}; {self._valid()}") from None
        return np.clip(command, self.low, self.high)

    def _index(self, action) -> int:
        """Return the row of ``values`` for a valid discrete action, else raise ValueError."""
        # What Discrete.contains accepts: an int, or a NumPy integer scalar or 0-d array.
        # Floats are refused rather than truncated, and the range is checked before
        # indexing, since Python would read a negative index from the end.
        if isinstance(action, int) or (isinstance(action, (np.integer, np.ndarray))
                                       and action.dtype.kind in "iu" and action.shape == ()):
            index = int(action) - self._start
            if 0 <= index < self._n:
                return index
            raise ValueError(f"action {action!r} is out of range; {self._valid()}")
        raise ValueError(f"action {action!r} is not an integer; {self._valid()}")

    def _valid(self) -> str:
        if self.discrete:
            return (f"valid actions of {self.space} are the integers {self._start} to "
                    f"{self._start + self._n - 1}")
        return (f"valid actions of {self.space} are finite vectors of length {self.n_command} "
                f"within [{self.low.tolist()}, {self.high.tolist()}] (values beyond are clipped)")
