"""Structured forward models of jointed limbs: what is given is a limb's description, not an env.

Both models take a limb description with the time step ``dt`` and the joint
limits ``angle_low`` and ``angle_high`` (e.g. :class:`cerebellar.envs.ArmParams`)
and an inner, blank online learner:

- :class:`ArmFeatures`: the two-link arm through mossy-fibre features in the
  exact form of its equations of motion (the weights are learned);
- :class:`JointKinematics`: any limb, with only its kinematics given (angles
  integrate velocities, targets are carried, joint stops are not learned).
"""

from __future__ import annotations

import math

import numpy as np

from .linear import AffinePredictor


def integrated_predictor(state, velocity, velocity_slope, dt: float) -> AffinePredictor:
    """Return the affine ``command -> next observation`` of a limb whose next velocity is affine.

    The next velocities are ``velocity + velocity_slope @ command``; the angles
    (the first ``len(velocity)`` channels) advance by the trapezoid rule; other
    channels (targets) are carried unchanged. No clipping.
    """
    n = len(velocity)
    offset = state.copy()
    offset[n:2 * n] = velocity
    offset[:n] = state[:n] + 0.5 * dt * (state[n:2 * n] + velocity)
    slope = np.zeros((state.shape[0], velocity_slope.shape[1]))
    slope[n:2 * n] = velocity_slope
    slope[:n] = 0.5 * dt * velocity_slope
    return AffinePredictor(offset, slope)


def away_from_stops(state, next_state, low, high, margin: float) -> bool:
    """Whether a transition keeps every joint more than ``margin`` (rad) inside its limits.

    A transition that touches a joint stop is a collision, not the limb's
    dynamics, so the limb models do not learn from it. ``low`` and ``high``
    give the limits of the first ``len(low)`` channels (the joint angles).
    """
    n = len(low)
    angles = np.concatenate([state[:n], next_state[:n]])
    return bool(np.all(angles > np.tile(low + margin, 2)) and np.all(angles < np.tile(high - margin, 2)))


class ArmFeatures:
    """A learned forward model of the two-link arm through posture-shaped mossy-fibre features.

    The inner model (RLS, or a cerebellum whose direct path is RLS) learns only
    the change of the joint velocities, from features in which the arm's
    dynamics ``M(q2)^-1 (tau - C(q, dq) dq - G(q) - B dq)`` are exactly linear in
    the weights. The inverse inertia is ``adj(M) / det(M)``: the adjugate is
    linear in ``cos q2`` and the determinant is ``D - k cos^2 q2``. So, with
    ``c = cos q2``, the velocity change times ``D`` is a linear function of

    - the gravity terms ``sin q1`` and ``sin(q1 + q2)``, each times ``1, c``;
    - the velocities times ``1, c``;
    - the Coriolis terms ``sin q2 dq2 (2 dq1 + dq2)`` and ``sin q2 dq1^2``, times ``1, c``;
    - the torques times ``1, c``;
    - and ``c^2`` times the velocity change itself (the determinant's ``k c^2``).

    The last is an *implicit* input: it is measured when learning, and when
    predicting the model solves for the change that agrees with it (a 2 x 2
    linear system). The weights are learned; only the form is given (it is
    the arm's equations of motion, overparameterised: 2 x 19 weights, with the
    bias, where the physics has 8 constants). The angles are integrated from the velocities
    (trapezoid rule) and clipped to the joint limits; the targets are carried
    unchanged (they are exogenous). Transitions that touch a joint stop are not
    learned: a stop is a collision, not the arm's dynamics.

    Parameters
    ----------
    inner : OnlineForwardModel
        A blank model; it is sized here for the features.
    params : ArmParams
        The arm's time step and joint limits (``env.unwrapped.params``).
    stop_margin : float
        Transitions with an angle within this distance (rad) of a limit are not learned.
    max_speed : float
        Velocities (rad/s) are clipped to this in predictions and features, so
        that an untrained model cannot roll an estimate off to infinity.
    """

    #: Velocities are in units of 3 rad/s and torques of 10 N m inside the model,
    #: so that every feature is of order 1.
    _SPEED, _TORQUE = 3.0, 10.0
    #: Positions of the two implicit inputs in the feature vector.
    _IMPLICIT = slice(12, 14)
    #: The implicit solve is skipped while the learned coupling is implausible
    #: (for the arm, ``k c^2 / D`` is between 0 and 0.5, so ``det(I - c^2 V)`` > 0.5).
    _MIN_DETERMINANT = 0.25

    def __init__(self, inner, params, stop_margin: float = 0.02, max_speed: float = 40.0):
        self.inner = inner
        self.dt = float(params.dt)
        self.low = np.asarray(params.angle_low, dtype=np.float64)
        self.high = np.asarray(params.angle_high, dtype=np.float64)
        self.stop_margin = stop_margin
        self.max_speed = max_speed
        features = self._features(np.zeros(6))
        inner.initialise(len(features), 4)
        # Whether the inner model is affine in its inputs (a linear learner): then one
        # affine predictor per state serves every command. Decided once, not per call.
        self._affine = isinstance(getattr(inner, "predictor", lambda _: None)(features),
                                  AffinePredictor)

    @property
    def is_initialised(self) -> bool:
        """bool: always True (the inner model is sized at construction)."""
        return True

    def _scaled_speeds(self, velocities):
        return np.clip(velocities, -self.max_speed, self.max_speed) / self._SPEED

    def _features(self, state, implicit=(0.0, 0.0)):
        """Return the mossy-fibre features; the velocities sit at 2:4 (the inner model's residual)."""
        q1, q2 = state[0], state[1]
        d1, d2 = self._scaled_speeds(state[2:4])
        c, s = math.cos(q2), math.sin(q2)
        g1, g2 = math.sin(q1), math.sin(q1 + q2)
        coriolis1, coriolis2 = s * d2 * (2.0 * d1 + d2), s * d1 * d1
        return np.array([g1, g2, d1, d2, g1 * c, g2 * c, d1 * c, d2 * c,
                         coriolis1, coriolis2, coriolis1 * c, coriolis2 * c,
                         implicit[0], implicit[1]])

    def _command_map(self, state):
        """Return the matrix taking the torques (N m) to the command features."""
        c = math.cos(state[1])
        return np.vstack([np.eye(2), c * np.eye(2)]) / self._TORQUE

    def _coupling(self, x, base, velocity_output):
        """Return ``V``: how each implicit input moves the inner model's velocity output."""
        coupling = np.empty((2, 2))
        for j in range(2):
            probe = x.copy()
            probe[self._IMPLICIT.start + j] = 1.0
            coupling[:, j] = velocity_output(probe) - base
        return coupling

    def _solve_implicit(self, state, coupling, *rows):
        """Solve ``x = r + c^2 V x`` for each right-hand side ``r`` (kept as is if implausible)."""
        system = np.eye(2) - math.cos(state[1]) ** 2 * coupling
        determinant = float(np.linalg.det(system))
        if not (math.isfinite(determinant) and determinant > self._MIN_DETERMINANT):
            return rows
        return tuple(np.linalg.solve(system, row) for row in rows)

    def _speed_change(self, state):
        """Return ``(a, S)`` for an affine inner model: the scaled velocity change is ``a + S @ torques``.

        The inner model gives the change with the implicit inputs at zero
        (``a0 + S0 u``), and how each implicit input moves it (``V``); the change
        ``x`` then solves ``x = a0 + S0 u + c^2 V x``.
        """
        x = self._features(state)
        inner = self.inner.predictor(x)
        base = inner.offset[2:4]
        coupling = self._coupling(x, base, lambda probe: self.inner.predictor(probe).offset[2:4])
        return self._solve_implicit(state, coupling, base - x[2:4],
                                    inner.slope[2:4] @ self._command_map(state))

    def _speed_change_at(self, state, command):
        """Return the scaled velocity change for one command (any inner model)."""
        if self._affine:
            change, slope = self._speed_change(state)
            return change + slope @ command
        # A nonlinear inner model: linearise it in the implicit inputs around zero.
        x = self._features(state)
        features = self._command_map(state) @ command
        base = self.inner.predict(x, features)[2:4]
        coupling = self._coupling(x, base, lambda probe: self.inner.predict(probe, features)[2:4])
        return self._solve_implicit(state, coupling, base - x[2:4])[0]

    def _next(self, state, velocity):
        nxt = state.copy()
        nxt[2:4] = np.clip(velocity, -self.max_speed, self.max_speed)
        nxt[:2] = np.clip(state[:2] + 0.5 * self.dt * (state[2:4] + nxt[2:4]), self.low, self.high)
        return nxt

    def predict(self, state, command) -> np.ndarray:
        """Return the predicted next observation."""
        state = np.asarray(state, dtype=np.float64)
        command = np.asarray(command, dtype=np.float64)
        speeds = self._scaled_speeds(state[2:4])
        return self._next(state, self._SPEED * (speeds + self._speed_change_at(state, command)))

    def predictor(self, state):
        """Return ``command -> next observation`` for a fixed state (affine when the inner model is).

        The affine form leaves out the clipping of :meth:`predict`, which only
        binds for an estimate far outside the arm's range.
        """
        state = np.asarray(state, dtype=np.float64)
        if not self._affine:
            return lambda command: self.predict(state, command)
        change, slope = self._speed_change(state)
        velocity = self._SPEED * (self._scaled_speeds(state[2:4]) + change)
        return integrated_predictor(state, velocity, self._SPEED * slope, self.dt)

    def learn(self, state, command, next_state) -> np.ndarray:
        """Learn one transition (unless it touches a stop); return the prediction error before it."""
        state = np.asarray(state, dtype=np.float64)
        command = np.asarray(command, dtype=np.float64)
        next_state = np.asarray(next_state, dtype=np.float64)
        error = next_state - self.predict(state, command)
        if away_from_stops(state, next_state, self.low, self.high, self.stop_margin):
            before, after = self._scaled_speeds(state[2:4]), self._scaled_speeds(next_state[2:4])
            x = self._features(state, math.cos(state[1]) ** 2 * (after - before))
            target = x.copy()
            target[2:4] = after
            self.inner.learn(x, self._command_map(state) @ command, target)
        return error


class JointKinematics:
    """A generic learned forward model of a jointed limb: only its kinematics are given.

    The observation is ``(positions, velocities, exogenous channels)`` (for the
    arm: 2 angles, 2 velocities, 2 targets). What is assumed is generic to any
    limb, not the arm's equations: the exogenous channels (targets) are carried
    unchanged; the positions are the integral of the velocities (trapezoid
    rule), clipped to the joint limits; transitions that touch a joint stop are
    not learned (a collision is not the limb's dynamics). The inner model, a
    blank generic learner, maps ``(positions, velocities)`` and the command to
    the next ``(positions, velocities)``, of which only the velocities are used.

    Parameters
    ----------
    inner : OnlineForwardModel
        A blank model; it is sized here (``2 * n_joints`` states, ``n_command`` commands).
    params : ArmParams
        The time step and joint limits (``env.unwrapped.params``).
    n_joints, n_command : int
        Number of joints (positions) and of command channels.
    stop_margin, max_speed : float
        As :class:`ArmFeatures`.
    """

    def __init__(self, inner, params, n_joints: int = 2, n_command: int = 2,
                 stop_margin: float = 0.02, max_speed: float = 40.0):
        self.inner = inner
        self.dt = float(params.dt)
        self.low = np.asarray(params.angle_low, dtype=np.float64)
        self.high = np.asarray(params.angle_high, dtype=np.float64)
        self.n = int(n_joints)
        self.stop_margin = stop_margin
        self.max_speed = max_speed
        inner.initialise(2 * self.n, int(n_command))

    @property
    def is_initialised(self) -> bool:
        """bool: always True (the inner model is sized at construction)."""
        return True

    def predict(self, state, command) -> np.ndarray:
        """Return the predicted next observation."""
        state = np.asarray(state, dtype=np.float64)
        n = self.n
        core = self.inner.predict(state[:2 * n], np.asarray(command, dtype=np.float64))
        nxt = state.copy()
        nxt[n:2 * n] = np.clip(core[n:2 * n], -self.max_speed, self.max_speed)
        nxt[:n] = np.clip(state[:n] + 0.5 * self.dt * (state[n:2 * n] + nxt[n:2 * n]),
                          self.low, self.high)
        return nxt

    def learn(self, state, command, next_state) -> np.ndarray:
        """Learn one transition (unless it touches a stop); return the prediction error before it."""
        state = np.asarray(state, dtype=np.float64)
        next_state = np.asarray(next_state, dtype=np.float64)
        error = next_state - self.predict(state, command)
        n = self.n
        if away_from_stops(state, next_state, self.low, self.high, self.stop_margin):
            self.inner.learn(state[:2 * n], np.asarray(command, dtype=np.float64), next_state[:2 * n])
        return error
