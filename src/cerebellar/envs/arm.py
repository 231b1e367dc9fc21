"""A planar two-joint arm (shoulder, elbow) reaching to joint-angle targets.

The physics is one pure function, :func:`step_dynamics`, with every constant in
the frozen dataclass :class:`ArmParams`; the environment
:class:`TwoLinkArmEnv` adds the task: a new target angle pair every 1.5 s.

Rigid two-link dynamics
-----------------------
With joint angles ``q = (q1, q2)`` (shoulder, elbow) and joint torques ``tau``::

    M(q) q'' + C(q, q') q' + G(q) + B q' = tau

    M11 = I1 + I2 + m1 c1^2 + m2 (l1^2 + c2^2 + 2 l1 c2 cos q2)
    M12 = M21 = I2 + m2 (c2^2 + l1 c2 cos q2)
    M22 = I2 + m2 c2^2
    C(q, q') q' = (-h q2' (2 q1' + q2'), h q1'^2),   h = m2 l1 c2 sin q2
    G(q) = g ((m1 c1 + m2 l1) sin q1 + m2 c2 sin(q1 + q2),  m2 c2 sin(q1 + q2))

``q1`` is the upper arm's angle from the downward vertical (0 = hanging, pi/2 =
pointing forward, horizontal), ``q2`` the elbow's flexion relative to the upper
arm (0 = straight). With gravity the arm moves in a vertical (sagittal) plane;
without it, in a horizontal plane (the arm resting on a planar manipulandum), where
the same angles apply.

Segment parameters (anthropometry)
----------------------------------
Masses and lengths are those of an adult man of about 70 kg and 1.75 m; the
centres of mass and the radii of gyration are Winter's segment fractions
(D. A. Winter, *Biomechanics and Motor Control of Human Movement*, 4th ed., Wiley
2009, Table 4.1):

- upper arm (shoulder to elbow): 1.9 kg (Winter: 0.028 of body mass = 1.96 kg),
  ``l1 = 0.30 m``; centre of mass at 0.436 ``l1`` = 0.131 m from the shoulder;
  radius of gyration about the centre of mass 0.322 ``l1`` = 0.0966 m, so
  ``I1 = 1.9 * 0.0966^2 = 0.0177 kg m^2``.
- forearm and hand: 1.6 kg (Winter: 0.022 of body mass = 1.54 kg); Winter's
  fractions refer to the forearm length (elbow to ulnar styloid), 0.26 m here
  (0.146 of height, Winter's Fig. 4.1): centre of mass at 0.682 of it = 0.177 m
  from the elbow; radius of gyration about it 0.468 of it = 0.122 m, so
  ``I2 = 1.6 * 0.122^2 = 0.0237 kg m^2``. ``l2 = 0.35 m`` is the elbow to the
  centre of the hand, used only for the hand's position (it does not enter the
  dynamics).

Joint viscosity ``B = [[0.05, 0.025], [0.025, 0.05]] N m s/rad`` is the value
used for the same kind of arm model by Li & Todorov (2004, "Iterative linear
quadratic regulator design for nonlinear biological movement systems", ICINCO).
Torque limits: 30 N m at the shoulder, 20 N m at the elbow, well below the peak
isometric torques of adult shoulders and elbows (several tens of N m); they bind
at the start of fast reaches.

Integrator
----------
Classical fourth-order Runge-Kutta with the torque held over the step (a
zero-order hold, as a digital controller applies it), at ``dt = 0.01 s``. A
semi-implicit Euler step is symplectic only for separable Hamiltonians; here the
kinetic energy depends on ``q2`` through ``M(q)``, so it would drift, while RK4's
global error is O(dt^4): over 1.5 s of a fast (2-3 rad/s) unforced swing the
undamped arm's energy stays within 1e-7 (horizontal plane) and 1e-5 (vertical)
of its initial value, which the tests check. ``M^-1`` is a closed-form 2 x 2
inverse; a step costs about 0.1 ms, mostly numpy's per-call overhead.

Joint stops: after each step the angles are clipped to the joint limits and a
velocity carrying a joint past its limit is set to zero (an inelastic stop).
While a joint is pressed into its stop it is held there, and the other joint
moves with it still. Targets stay well inside the
limits, so only a wild movement meets a stop.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
from gymnasium import spaces

from .._validation import check_no_rendering, check_positive, reset_options
from ._limb import (
    LimbEnv,
    check_limb_inputs,
    initial_state,
    rk4_second_order,
)

TWO_LINK_ARM_ID = "cerebellar/TwoLinkArm-v0"


def _pair(value, name: str) -> tuple[float, float]:
    """Return ``value`` as a tuple of two finite floats, or raise ValueError naming it."""
    array = np.asarray(value, dtype=np.float64)
    if array.shape != (2,) or not np.all(np.isfinite(array)):
        raise ValueError(f"{name} must be two finite numbers, got {value!r}")
    return float(array[0]), float(array[1])


@dataclasses.dataclass(frozen=True)
class ArmParams:
    """Physical constants of the two-link arm and the settings of the reaching task.

    Parameters
    ----------
    m1, m2 : float
        Masses of the upper arm and of the forearm with the hand (kg).
    l1, l2 : float
        Shoulder-to-elbow length, and elbow to the centre of the hand (m); ``l2``
        only places the hand (:func:`hand_position`).
    c1, c2 : float
        Distance from the proximal joint to each segment's centre of mass (m).
    i1, i2 : float
        Moments of inertia about each segment's centre of mass (kg m^2).
    gravity : bool
        Whether gravity acts (in the arm's plane, towards ``q1 = 0``).
    g : float
        Gravitational acceleration (m/s^2), used when ``gravity`` is True.
    damping : tuple of tuples, shape (2, 2)
        Joint viscosity matrix ``B`` (N m s/rad).
    torque_limit : tuple of float
        Largest torque magnitude at the shoulder and at the elbow (N m); actions
        are clipped to it.
    dt : float
        Seconds per step.
    angle_low, angle_high : tuple of float
        Joint limits (rad): shoulder from 0.8 rad of extension to 3.0 rad of
        flexion, elbow from straight to 2.6 rad (150 degrees) of flexion.
    target_low, target_high : tuple of float
        Range from which targets (and the initial posture) are drawn, uniformly
        and independently per joint (rad).
    reach_steps : int
        Steps per reach: a new target appears every ``reach_steps`` steps (150,
        i.e. 1.5 s).

    Notes
    -----
    The numbers and their sources are in the module docstring.
    """

    m1: float = 1.9
    m2: float = 1.6
    l1: float = 0.30
    l2: float = 0.35
    c1: float = 0.436 * 0.30
    c2: float = 0.682 * 0.26
    i1: float = 1.9 * (0.322 * 0.30) ** 2
    i2: float = 1.6 * (0.468 * 0.26) ** 2
    gravity: bool = True
    g: float = 9.81
    damping: tuple = ((0.05, 0.025), (0.025, 0.05))
    torque_limit: tuple = (30.0, 20.0)
    dt: float = 0.01
    angle_low: tuple = (-0.8, 0.0)
    angle_high: tuple = (3.0, 2.6)
    target_low: tuple = (0.2, 0.3)
    target_high: tuple = (1.6, 1.8)
    reach_steps: int = 150

    def __post_init__(self):
        for name in ("m1", "m2", "l1", "l2", "c1", "c2", "i1", "i2", "dt"):
            check_positive(getattr(self, name), name)
        if not math.isfinite(self.g):
            raise ValueError(f"g must be finite, got {self.g}")
        if not isinstance(self.gravity, bool | np.bool_):
            raise ValueError(f"gravity must be True or False, got {self.gravity!r}")
        damping = np.asarray(self.damping, dtype=np.float64)
        if damping.shape != (2, 2) or not np.all(np.isfinite(damping)):
            raise ValueError(f"damping must be a finite 2 x 2 matrix, got {self.damping!r}")
        for name in ("torque_limit", "angle_low", "angle_high", "target_low", "target_high"):
            _pair(getattr(self, name), name)
        if min(self.torque_limit) <= 0:
            raise ValueError(f"torque_limit must be positive, got {self.torque_limit}")
        low, high = np.asarray(self.angle_low), np.asarray(self.angle_high)
        target_low, target_high = np.asarray(self.target_low), np.asarray(self.target_high)
        if np.any(low >= high):
            raise ValueError(f"angle_low must be below angle_high, got {self.angle_low}, {self.angle_high}")
        if np.any(target_low > target_high) or np.any(target_low < low) or np.any(target_high > high):
            raise ValueError(f"the target range {self.target_low}..{self.target_high} must be ordered "
                             f"and inside the joint limits {self.angle_low}..{self.angle_high}")
        if isinstance(self.reach_steps, bool) or int(self.reach_steps) != self.reach_steps \
                or self.reach_steps < 1:
            raise ValueError(f"reach_steps must be a positive integer, got {self.reach_steps!r}")


def mass_matrix(q2, params: ArmParams) -> np.ndarray:
    """Return the inertia matrix ``M(q)``, which depends on the elbow angle only.

    Parameters
    ----------
    q2 : float or array_like
        Elbow angle(s) (rad).
    params : ArmParams
        Segment parameters.

    Returns
    -------
    numpy.ndarray, shape (..., 2, 2)
        ``M`` for each elbow angle.
    """
    m11, m12, m22 = _inertia(np.cos(np.asarray(q2, dtype=np.float64)), params)
    m22 = np.broadcast_to(m22, np.shape(m11))
    return np.stack([np.stack([m11, m12], axis=-1), np.stack([m12, m22], axis=-1)], axis=-2)


def _inertia(cos2, p: ArmParams):
    """Return the entries ``M11, M12, M22`` of the mass matrix given ``cos q2``."""
    m22 = p.i2 + p.m2 * p.c2**2
    coupling = p.m2 * p.l1 * p.c2 * cos2
    return p.i1 + p.m1 * p.c1**2 + p.m2 * p.l1**2 + m22 + 2 * coupling, m22 + coupling, m22


def _gravity(q1, q2, p: ArmParams):
    """Return the gravity torques at the shoulder and at the elbow (zero without gravity)."""
    g = p.g if p.gravity else 0.0
    forearm = g * p.m2 * p.c2 * np.sin(q1 + q2)
    return g * (p.m1 * p.c1 + p.m2 * p.l1) * np.sin(q1) + forearm, forearm


def gravity_torque(q, params: ArmParams) -> np.ndarray:
    """Return ``G(q)``, the joint torques gravity exerts (zero when gravity is off).

    Parameters
    ----------
    q : array_like, shape (..., 2)
        Shoulder and elbow angles (rad).
    params : ArmParams
        Segment parameters.

    Returns
    -------
    numpy.ndarray, shape (..., 2)
        The torque needed at each joint to hold the posture ``q`` still.
    """
    q = np.asarray(q, dtype=np.float64)
    return np.stack(_gravity(q[..., 0], q[..., 1], params), axis=-1)


def energy(state, params: ArmParams) -> tuple[np.ndarray, np.ndarray]:
    """Return the kinetic and the potential energy (J) of the arm in ``state``.

    The potential energy is zero with the arm hanging straight down (or always,
    without gravity); the total is conserved without damping and torque.
    """
    state = np.asarray(state, dtype=np.float64)
    q, dq = state[..., :2], state[..., 2:]
    kinetic = 0.5 * np.einsum("...i,...ij,...j->...", dq, mass_matrix(q[..., 1], params), dq)
    g = params.g if params.gravity else 0.0
    q1, q2 = q[..., 0], q[..., 1]
    height = (params.m1 * params.c1 + params.m2 * params.l1) * (1 - np.cos(q1)) \
        + params.m2 * params.c2 * (1 - np.cos(q1 + q2))
    return kinetic, g * height


def hand_position(q, params: ArmParams) -> np.ndarray:
    """Return the position (m) of the centre of the hand relative to the shoulder.

    ``x`` points where ``q1 = pi/2`` points (forward) and ``y`` against gravity
    (up), so the hand of the arm hanging straight is at ``(0, -(l1 + l2))``.
    """
    q = np.asarray(q, dtype=np.float64)
    q1, q12 = q[..., 0], q[..., 0] + q[..., 1]
    x = params.l1 * np.sin(q1) + params.l2 * np.sin(q12)
    y = -params.l1 * np.cos(q1) - params.l2 * np.cos(q12)
    return np.stack([x, y], axis=-1)


def _acceleration(q, dq, torque, params: ArmParams) -> np.ndarray:
    """Return ``q'' = M^-1 (tau - C q' - G - B q')``, with a joint held by its stop if need be.

    A joint at a limit whose acceleration points further out is held there by the
    stop (its acceleration is zero, the stop supplying whatever torque that takes)
    and the other joint moves on its own equation with that joint still. Without
    this, a torque pressing a joint into its stop would still drive the other joint
    through the inertial coupling ``M12``, as if the stop were not there.
    """
    p = params
    q1, q2, dq1, dq2 = q[..., 0], q[..., 1], dq[..., 0], dq[..., 1]
    m11, m12, m22 = _inertia(np.cos(q2), p)
    h = p.m2 * p.l1 * p.c2 * np.sin(q2)
    (b11, b12), (b21, b22) = p.damping
    g1, g2 = _gravity(q1, q2, p)
    # Right-hand sides: tau - C q' - G - B q'.
    r1 = torque[..., 0] + h * dq2 * (2 * dq1 + dq2) - b11 * dq1 - b12 * dq2 - g1
    r2 = torque[..., 1] - h * dq1 * dq1 - b21 * dq1 - b22 * dq2 - g2
    det = m11 * m22 - m12 * m12
    a1 = (m22 * r1 - m12 * r2) / det
    a2 = (m11 * r2 - m12 * r1) / det
    (low1, low2), (high1, high2) = p.angle_low, p.angle_high
    # Held: at (or past) a limit, not moving back inside, and pushed further out.
    held1 = ((q1 <= low1) & (dq1 <= 0) & (a1 < 0)) | ((q1 >= high1) & (dq1 >= 0) & (a1 > 0))
    held2 = ((q2 <= low2) & (dq2 <= 0) & (a2 < 0)) | ((q2 >= high2) & (dq2 >= 0) & (a2 > 0))
    if np.any(held1) or np.any(held2):
        a1 = np.where(held2, r1 / m11, a1)
        a2 = np.where(held1, r2 / m22, a2)
        # With one joint held, the other may now press into its own stop too.
        held1 = held1 | (held2 & (((q1 <= low1) & (dq1 <= 0) & (a1 < 0))
                                  | ((q1 >= high1) & (dq1 >= 0) & (a1 > 0))))
        held2 = held2 | (held1 & (((q2 <= low2) & (dq2 <= 0) & (a2 < 0))
                                  | ((q2 >= high2) & (dq2 >= 0) & (a2 > 0))))
        a1 = np.where(held1, 0.0, a1)
        a2 = np.where(held2, 0.0, a2)
    return np.stack([a1, a2], axis=-1)


def step_dynamics(state, torque, params: ArmParams) -> np.ndarray:
    """Advance the arm by one time step ``params.dt`` (RK4, torque held, joint limits).

    Parameters
    ----------
    state : array_like, shape (4,) or (..., 4)
        ``(q1, q2, dq1, dq2)``: shoulder and elbow angles (rad) and angular
        velocities (rad/s); a batch of states is stepped elementwise.
    torque : array_like, shape (2,) or (..., 2)
        Shoulder and elbow torques (N m). Not clipped here: limiting the actuator
        is the environment's job.
    params : ArmParams
        Physical constants.

    Returns
    -------
    numpy.ndarray
        The next state, a new float64 array with the shape of ``state``.
    """
    state, torque = check_limb_inputs(state, torque)
    dt = params.dt
    q, dq = state[..., :2], state[..., 2:]
    q_next, dq_next = rk4_second_order(
        q, dq, lambda angles, rates: _acceleration(angles, rates, torque, params), dt
    )
    low, high = np.asarray(params.angle_low), np.asarray(params.angle_high)
    # An inelastic stop: a joint at its limit keeps only velocity pointing back inside.
    dq_next = np.where(q_next < low, np.maximum(dq_next, 0.0), dq_next)
    dq_next = np.where(q_next > high, np.minimum(dq_next, 0.0), dq_next)
    q_next = np.clip(q_next, low, high)
    return np.concatenate([q_next, dq_next], axis=-1)


def inverse_dynamics(state, acceleration, params: ArmParams) -> np.ndarray:
    """Return the torques ``M(q) q'' + C(q, q') q' + G(q) + B q'`` that give ``acceleration`` in ``state``.

    The continuous-time inverse of the equations of motion (joint stops and
    torque limits left out): the computed-torque controller's feedforward.

    Parameters
    ----------
    state : array_like, shape (4,) or (..., 4)
        ``(q1, q2, dq1, dq2)``.
    acceleration : array_like, shape (2,) or (..., 2)
        Joint accelerations (rad/s^2).
    params : ArmParams
        Physical constants.

    Returns
    -------
    numpy.ndarray, shape (..., 2)
        Shoulder and elbow torques (N m).
    """
    state, acceleration = check_limb_inputs(state, acceleration)
    p = params
    q1, q2, dq1, dq2 = state[..., 0], state[..., 1], state[..., 2], state[..., 3]
    a1, a2 = acceleration[..., 0], acceleration[..., 1]
    m11, m12, m22 = _inertia(np.cos(q2), p)
    h = p.m2 * p.l1 * p.c2 * np.sin(q2)
    (b11, b12), (b21, b22) = p.damping
    g1, g2 = _gravity(q1, q2, p)
    tau1 = m11 * a1 + m12 * a2 - h * dq2 * (2 * dq1 + dq2) + b11 * dq1 + b12 * dq2 + g1
    tau2 = m12 * a1 + m22 * a2 + h * dq1 * dq1 + b21 * dq1 + b22 * dq2 + g2
    return np.stack([tau1, tau2], axis=-1)


class TwoLinkArmEnv(LimbEnv):
    """Reach a new shoulder-elbow angle target every 1.5 s with a two-link arm.

    Observation (float64): ``(q1, q2, dq1, dq2, target1, target2)``: the joint
    angles and velocities (the sensed state), then the current target angle pair.
    The target is part of the observation so that a linear feedback on
    ``0 - observation`` can express a PD law on ``target - q``; it is exogenous
    (the arm's motion does not affect it).

    Action: shoulder and elbow torques (N m), shape ``(2,)``, clipped to
    ``params.torque_limit``.

    Task: the arm starts at rest in a random posture drawn from the target range;
    a target pair is drawn uniformly from ``[target_low, target_high]`` at reset
    and anew every ``reach_steps`` steps. The registered id truncates after 10
    reaches (1500 steps). Reward: ``-|target - q|^2`` (rad^2, summed over the two
    joints), with ``q`` after the step and the target in force during it.

    ``info`` holds ``target`` (the target in the returned observation),
    ``reach_index`` (0 for the first target) and ``time_in_reach`` (seconds since
    that target appeared).

    Parameters
    ----------
    gravity : bool, optional
        Gravity on (vertical plane) or off (horizontal plane); by default as in
        ``params`` (on). ``gym.make(TWO_LINK_ARM_ID, gravity=False)`` gives the
        gravity-free arm under the same id and preset.
    params : ArmParams, optional
        Physical constants and task settings; readable and replaceable as
        ``env.unwrapped.params``.
    render_mode : None
        Rendering is not implemented; only ``None`` is accepted.

    Notes
    -----
    ``reset(options=...)`` accepts ``{"state": (q1, q2, dq1, dq2)}`` for an exact
    initial state and ``{"target": (t1, t2)}`` for the first target.
    """

    metadata = {"render_modes": [], "render_fps": 100}
    _advance = staticmethod(step_dynamics)
    _inverse = staticmethod(inverse_dynamics)

    def __init__(self, gravity: bool | None = None, params: ArmParams | None = None,
                 render_mode: str | None = None):
        check_no_rendering(render_mode)
        self.render_mode = render_mode
        params = ArmParams() if params is None else params
        if gravity is not None and isinstance(params, ArmParams):
            params = dataclasses.replace(params, gravity=bool(gravity))
        self.params = params
        self._state: np.ndarray | None = None
        self._target = np.zeros(2)
        self._reach_index = 0
        self._steps_in_reach = 0

    @property
    def params(self) -> ArmParams:
        """ArmParams: the physical constants used by the next step."""
        return self._params

    @params.setter
    def params(self, value: ArmParams) -> None:
        if not isinstance(value, ArmParams):
            raise TypeError(f"params must be an ArmParams, got {type(value).__name__}")
        self._params = value
        # Spaces follow the params so that they stay truthful if a wrapper changes them.
        limit = np.array(value.torque_limit, dtype=np.float32)
        self.action_space = spaces.Box(-limit, limit, dtype=np.float32)
        inf = np.inf
        low = np.array([*value.angle_low, -inf, -inf, *value.target_low])
        high = np.array([*value.angle_high, inf, inf, *value.target_high])
        self.observation_space = spaces.Box(low, high, dtype=np.float64)

    @property
    def target(self) -> np.ndarray:
        """numpy.ndarray: a copy of the current target ``(t1, t2)``."""
        return self._target.copy()

    def _observation(self) -> np.ndarray:
        return np.concatenate([self._state, self._target])

    def _info(self) -> dict[str, Any]:
        return {"target": self._target.copy(), "reach_index": self._reach_index,
                "time_in_reach": self._steps_in_reach * self._params.dt}

    def _draw_target(self) -> np.ndarray:
        return self.np_random.uniform(self._params.target_low, self._params.target_high)

    def step(self, action) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """Apply the torques ``action`` (clipped to the limits) for one time step.

        Returns
        -------
        observation, reward, terminated, truncated, info
            As :meth:`gymnasium.Env.step`; ``terminated`` and ``truncated`` are
            always False here (the registration's ``TimeLimit`` ends episodes).
        """
        reward = self._apply_torque(action)
        self._steps_in_reach += 1
        if self._steps_in_reach >= self._params.reach_steps:
            self._target = self._draw_target()
            self._reach_index += 1
            self._steps_in_reach = 0
        return self._observation(), reward, False, False, self._info()

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        """Start an episode at rest in a random (or given) posture, with a fresh target.

        Parameters
        ----------
        seed : int, optional
            Seeds the environment's random generator (postures and targets).
        options : dict, optional
            ``{"state": s}`` for an exact initial state, ``{"target": t}`` for the
            first target.

        Returns
        -------
        observation, info
        """
        super().reset(seed=seed)
        options = reset_options(options, ("state", "target"))
        params = self._params
        # Both draws happen whatever the options, so a seed gives the same later targets.
        posture = self.np_random.uniform(params.target_low, params.target_high)
        target = self._draw_target()
        state = initial_state(options, posture)
        if "target" in options:
            target = np.array(_pair(options["target"], "reset option 'target'"))
        self._state = state
        self._target = target
        self._reach_index = 0
        self._steps_in_reach = 0
        return self._observation(), self._info()
