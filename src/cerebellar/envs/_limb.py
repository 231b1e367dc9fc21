"""Pieces shared by the jointed-limb environments (the arm and the wrist)."""

from __future__ import annotations

from collections.abc import Callable

import gymnasium
import numpy as np


def rk4_second_order(q, dq, acceleration, dt: float) -> tuple[np.ndarray, np.ndarray]:
    """One classical Runge-Kutta step of ``q'' = acceleration(q, q')``, the input held.

    Returns the next positions and velocities.
    """
    k1q, k1v = dq, acceleration(q, dq)
    k2q = dq + 0.5 * dt * k1v
    k2v = acceleration(q + 0.5 * dt * k1q, k2q)
    k3q = dq + 0.5 * dt * k2v
    k3v = acceleration(q + 0.5 * dt * k2q, k3q)
    k4q = dq + dt * k3v
    k4v = acceleration(q + dt * k3q, k4q)
    return (q + dt / 6 * (k1q + 2 * k2q + 2 * k3q + k4q),
            dq + dt / 6 * (k1v + 2 * k2v + 2 * k3v + k4v))


def check_limb_inputs(state, torque) -> tuple[np.ndarray, np.ndarray]:
    """Return ``state`` (..., 4) and ``torque`` (..., 2) as float64, or raise ValueError."""
    state = np.asarray(state, dtype=np.float64)
    if state.shape[-1:] != (4,):
        raise ValueError(f"state must have shape (4,) or (..., 4), got {state.shape}")
    torque = np.asarray(torque, dtype=np.float64)
    if torque.shape[-1:] != (2,):
        raise ValueError(f"torque must have shape (2,) or (..., 2), got {torque.shape}")
    return state, torque


def clip_torque(command, limit) -> np.ndarray:
    """Clip a torque command to +-limit per joint."""
    limit = np.asarray(limit)
    return np.clip(np.asarray(command, dtype=np.float64).reshape(-1), -limit, limit)


def limb_dynamics(state, command, limit, step) -> np.ndarray:
    """Next observation ``(angles, velocities, target)`` or next state, for an oracle model.

    ``step(state4, torque)`` advances the limb; the target channels of an
    observation are exogenous and carried over unchanged.
    """
    state = np.asarray(state, dtype=np.float64)
    if state.shape not in ((4,), (6,)):
        raise ValueError(f"state must be an observation (6,) or a state (4,), got {state.shape}")
    torque = clip_torque(command, limit)
    if torque.shape != (2,):
        raise ValueError(f"command must be two torques, got {command!r}")
    limb = step(state[:4], torque)
    return limb if state.shape == (4,) else np.concatenate([limb, state[4:]])


def initial_state(options: dict, posture) -> np.ndarray:
    """Return the state at reset: ``options["state"]`` if given (checked), else ``posture`` at rest."""
    if "state" in options:
        state = np.array(options["state"], dtype=np.float64)
        if state.shape != (4,) or not np.all(np.isfinite(state)):
            raise ValueError(f"reset option 'state' must be 4 finite numbers, got {state}")
        return state
    return np.concatenate([posture, np.zeros(2)])


class LimbEnv(gymnasium.Env[np.ndarray, np.ndarray]):
    """What the jointed-limb environments share: a torque-driven limb, its state and pure dynamics.

    A subclass sets ``_advance = staticmethod(step_dynamics)`` (its module's
    ``step_dynamics(state, torque, params)``), keeps its constants in
    ``_params`` (with ``torque_limit``) and its state ``(angle1, angle2,
    velocity1, velocity2)`` in ``_state``, and has a ``target`` property; the
    task (when targets change, the info) is its own.
    """

    _advance: Callable
    _inverse: Callable
    _params: object
    _state: np.ndarray | None = None

    @property
    def state(self) -> np.ndarray | None:
        """numpy.ndarray or None: a copy of the limb's state ``(angle1, angle2, velocity1, velocity2)``."""
        return None if self._state is None else self._state.copy()

    def dynamics(self, state, command) -> np.ndarray:
        """Return the next observation (or state) under ``command`` with the current params.

        The true plant as a pure function, for an oracle forward model. The torque
        is clipped to the limits, as :meth:`step` does.

        Parameters
        ----------
        state : array_like, shape (6,) or (4,)
            An observation ``(angles, velocities, targets)``, or the limb's state alone.
        command : array_like, shape (2,)
            Joint torques (N m).

        Returns
        -------
        numpy.ndarray
            The next observation with the target unchanged (it is exogenous: where
            the target changes, :meth:`step` differs in those two channels only),
            or the next state when given a state.
        """
        params = self._params
        return limb_dynamics(state, command, params.torque_limit,
                             lambda limb, torque: self._advance(limb, torque, params))

    def inverse_dynamics(self, state, acceleration) -> np.ndarray:
        """Return the torques that give ``acceleration`` in ``state`` under the current params.

        The true inverse dynamics, for an oracle inverse model (the
        computed-torque feedforward); ``state`` may be an observation (its
        first four channels are used). Torque limits are not applied.
        """
        state = np.asarray(state, dtype=np.float64)
        return self._inverse(state[..., :4], acceleration, self._params)

    def _apply_torque(self, action) -> float:
        """Check ``action``, advance the limb one step under it (clipped); return the reward.

        The reward is ``-|target - angles|^2`` after the step, with the target in
        force during it.
        """
        if self._state is None:
            raise RuntimeError("call reset() before step()")
        torque = np.asarray(action, dtype=np.float64).reshape(-1)
        if torque.shape != (2,) or not np.all(np.isfinite(torque)):
            raise ValueError(f"action must be two finite torques, got {action!r}")
        self._state = self._advance(self._state, clip_torque(torque, self._params.torque_limit),
                                    self._params)
        error = self.target - self._state[:2]
        return -float(error @ error)
