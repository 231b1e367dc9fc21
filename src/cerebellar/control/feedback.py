"""The very simple feedback controller the forward model refines."""

from __future__ import annotations

import numpy as np

from .._validation import as_finite_vector


class LinearFeedback:
    """Linear feedback on the setpoint error: ``u = clip(G @ (setpoint - state))``.

    This is step 2 of the seed's procedure (``command = setpoint - sensed``, with
    gains). Channels with zero gain are not controlled.

    Parameters
    ----------
    gains : array_like, shape (n_state,) or (n_command, n_state)
        Feedback gains; a 1-D vector gives a single command.
    setpoint : array_like, shape (n_state,), optional
        Desired state; zero when omitted.
    low, high : float or array_like, optional
        Output limits, per command; unbounded when omitted.
    """

    def __init__(self, gains, setpoint=None, low=None, high=None):
        gains = np.array(gains, dtype=np.float64)
        if gains.ndim == 1:
            gains = gains[None, :]
        if gains.ndim != 2 or gains.size == 0:
            raise ValueError(f"gains must be a vector or a matrix, got shape {gains.shape}")
        if not np.all(np.isfinite(gains)):
            raise ValueError(f"gains contain NaN or infinite values: {gains}")
        self.gains = gains
        n_command, n_state = gains.shape
        self.setpoint = (
            np.zeros(n_state) if setpoint is None
            else as_finite_vector(setpoint, "setpoint", n_state)
        )
        self.low = np.full(n_command, -np.inf) if low is None else np.broadcast_to(
            np.asarray(low, dtype=np.float64), (n_command,)).copy()
        self.high = np.full(n_command, np.inf) if high is None else np.broadcast_to(
            np.asarray(high, dtype=np.float64), (n_command,)).copy()
        if np.any(self.low > self.high) or np.any(np.isnan(self.low) | np.isnan(self.high)):
            raise ValueError(f"output limits must satisfy low <= high, got {self.low}, {self.high}")
        self._bounded = bool(np.any(np.isfinite(self.low)) or np.any(np.isfinite(self.high)))

    @property
    def n_state(self) -> int:
        """Length of the state the controller reads."""
        return self.gains.shape[1]

    @property
    def n_command(self) -> int:
        """Length of the command the controller writes."""
        return self.gains.shape[0]

    def __call__(self, state: np.ndarray) -> np.ndarray:
        """Return the command for ``state`` (assumed already validated)."""
        command = self.gains @ (self.setpoint - state)
        if self._bounded:
            command = np.minimum(np.maximum(command, self.low), self.high)
        return command

    def command(self, state) -> np.ndarray:
        """Validate ``state`` and return the command."""
        return self(as_finite_vector(state, "state", self.n_state))

    def __repr__(self) -> str:
        return f"LinearFeedback(gains={self.gains.tolist()}, setpoint={self.setpoint.tolist()})"


class QuantityFeedback:
    """Feedback on a chosen sensory quantity: ``u = feedback(quantity(state))``.

    Step 1 of the seed's procedure is to decide *what* sensory input to
    control. Often it is a channel of the observation (an angle); sometimes a
    function of several (a pendulum's energy during a swing-up, ``sin(angle)``
    on a cart-pole). This wraps any state -> quantity map around a linear
    feedback law on that quantity, so the forward-model controllers can
    evaluate it on predicted states like any other controller.

    Parameters
    ----------
    quantity : callable
        Maps a state vector to the vector of controlled quantities.
    feedback : LinearFeedback
        Feedback on the quantity (its gains have one column per quantity).
    n_state : int
        Length of the state vector the quantity reads.
    """

    def __init__(self, quantity, feedback: LinearFeedback, n_state: int):
        if not callable(quantity):
            raise TypeError(f"quantity must be callable, got {quantity!r}")
        self.quantity = quantity
        self.feedback = feedback
        self.n_state = int(n_state)
        self.n_command = feedback.n_command
        self.low, self.high = feedback.low, feedback.high

    def __call__(self, state: np.ndarray) -> np.ndarray:
        """Return the command for ``state`` (assumed already validated)."""
        return self.feedback(np.asarray(self.quantity(state), dtype=np.float64).reshape(-1))

    def command(self, state) -> np.ndarray:
        """Validate ``state`` and return the command."""
        return self(as_finite_vector(state, "state", self.n_state))


def pd_gains(kp, kd) -> np.ndarray:
    """Return the gain matrix of independent-joint PD on ``(angles, velocities, targets)``.

    With the feedback ``u = G (0 - obs)`` (:class:`LinearFeedback` with a zero
    setpoint), each joint's row is ``+Kp`` on its angle, ``+Kd`` on its
    velocity and ``-Kp`` on its target, i.e. ``u = Kp (t - q) - Kd dq``.

    Parameters
    ----------
    kp, kd : array_like, shape (n_joints,)
        Proportional (N m/rad) and derivative (N m s/rad) gains per joint.

    Returns
    -------
    numpy.ndarray, shape (n_joints, 3 * n_joints)
    """
    kp = np.asarray(kp, dtype=np.float64).ravel()
    kd = np.asarray(kd, dtype=np.float64).ravel()
    if kp.shape != kd.shape or kp.size == 0:
        raise ValueError(f"kp and kd need one gain per joint each, got {kp.shape} and {kd.shape}")
    n = kp.size
    gains = np.zeros((n, 3 * n))
    joints = np.arange(n)
    gains[joints, joints] = kp
    gains[joints, n + joints] = kd
    gains[joints, 2 * n + joints] = -kp
    return gains
