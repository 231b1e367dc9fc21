"""Mossy-fiber encoding: the inputs every forward model sees.

A forward model receives the sensory state and an efference copy of the motor
command. :class:`MossyFibers` turns the pair into one input vector
``[state / scale, command / scale, 1]``: the constant 1 is a bias fibre, and the
scale puts channels measured in metres, radians and newtons on a common footing,
which normalised learning rules (NLMS, CMAC, the granule layer) need.

The scale is either given (for instance from a Gymnasium preset) or estimated
online as a running root-mean-square of each channel, with a bounded memory.
"""

from __future__ import annotations

import numpy as np


class MossyFibers:
    """Encode ``(state, command)`` as scaled mossy-fiber rates plus a bias fibre.

    Parameters
    ----------
    scale : array_like or None
        One positive number per input channel (state first, then command), or
        ``None`` to estimate it online as a running RMS.
    memory : int
        With an online estimate, the number of recent steps the RMS averages
        over (an exponential window); earlier steps use a plain running mean.
    floor : float
        Smallest scale allowed, so a channel that has been zero does not blow up.
    """

    def __init__(self, scale=None, memory: int = 1000, floor: float = 1e-3):
        self.scale = scale
        self.memory = memory
        self.floor = floor

    def initialise(self, n_inputs: int) -> None:
        """Allocate the running statistics for ``n_inputs`` channels."""
        if self.scale is not None:
            fixed = np.asarray(self.scale, dtype=np.float64).reshape(-1)
            if fixed.shape != (n_inputs,):
                raise ValueError(
                    f"input_scale must have one entry per state and command channel "
                    f"({n_inputs}), got {fixed.shape[0]}"
                )
            if not np.all(np.isfinite(fixed) & (fixed > 0)):
                raise ValueError(f"input_scale must be positive and finite, got {fixed}")
            self.mean_square_ = fixed**2
        else:
            self.mean_square_ = np.zeros(n_inputs)
        self.count_ = 0
        self._refresh()

    def observe(self, raw: np.ndarray) -> None:
        """Update the running scale with one raw input vector (no-op for a fixed scale)."""
        self.accept(self.propose(raw))

    def propose(self, raw: np.ndarray):
        """Return the running statistics after observing ``raw``, without changing them.

        Returns
        -------
        tuple or None
            ``(mean_square, count)`` (a new array), or None for a fixed scale.
            :meth:`accept` makes it current; a caller that finds the step must
            not happen just drops it.
        """
        if self.scale is not None:
            return None
        count = self.count_ + 1
        rate = max(1.0 / count, 1.0 / self.memory)
        return self.mean_square_ + rate * (raw * raw - self.mean_square_), count

    def accept(self, proposal) -> None:
        """Make a :meth:`propose` result the current statistics (None: nothing to do)."""
        if proposal is not None:
            self.mean_square_, self.count_ = proposal
            self._refresh()

    def snapshot(self) -> tuple:
        """Return the current statistics, for :meth:`restore` (no copy: updates replace the arrays)."""
        return self.mean_square_, self.count_, self._inverse_scale

    def restore(self, snapshot: tuple) -> None:
        """Return to the statistics of a :meth:`snapshot`."""
        self.mean_square_, self.count_, self._inverse_scale = snapshot

    def _refresh(self) -> None:
        self._inverse_scale = 1.0 / np.maximum(np.sqrt(self.mean_square_), self.floor)

    def encode(self, raw: np.ndarray) -> np.ndarray:
        """Return the scaled inputs followed by the bias fibre (a new array)."""
        out = np.empty(raw.shape[0] + 1)
        np.multiply(raw, self._inverse_scale, out=out[:-1])
        out[-1] = 1.0
        return out

    def encode_many(self, raw: np.ndarray) -> np.ndarray:
        """Encode a batch of raw inputs, one per row."""
        return np.hstack([raw * self._inverse_scale, np.ones((raw.shape[0], 1))])

    def state_arrays(self) -> dict[str, np.ndarray]:
        """Learned state for a checkpoint."""
        return {"mossy_mean_square": self.mean_square_, "mossy_count": np.array(self.count_)}

    def set_state_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        """Restore the learned state from a checkpoint."""
        self.mean_square_ = np.array(arrays["mossy_mean_square"], dtype=np.float64)
        self.count_ = int(arrays["mossy_count"])
        self._refresh()
