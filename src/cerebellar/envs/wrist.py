"""A two-axis wrist doing the step-tracking task of Tanaka, Ishikawa & Kakei (2019).

The monkeys of Tanaka, Ishikawa & Kakei ("Neural evidence of the cerebellum as a
state predictor", *The Cerebellum* 18:349-371, 2019) held a cursor driven by
their wrist at a central target, then stepped it to one of 8 peripheral targets
spaced every 45 degrees, held it there, and returned. Here the wrist is two
rotational axes, flexion-extension (FE) and radial-ulnar deviation (RU), each
moving the hand's inertia against passive viscosity and stiffness::

    I theta'' = tau - B theta' - K theta

with diagonal ``I`` and, by default, diagonal ``B`` and ``K`` (off-diagonal
terms are accepted). Inertial coupling between the axes, gravity and the
forearm's pronation-supination are left out: for wrist rotations the dynamics
are dominated by the passive stiffness and the inertial interaction torques are
negligible (Charles & Hogan, "Dynamics of wrist rotations", *J. Biomech.*
44:614-621, 2011; "Stiffness, not inertial coupling, determines path curvature
of wrist motions", *J. Neurophysiol.* 107:1230-1240, 2012).

Parameter values (human)
------------------------
- Inertia of the hand about the wrist axes: of the order of 0.004-0.006 kg m^2
  (Charles & Hogan 2011, from de Leva's 1996 anthropometric tables); 0.0045 about
  the FE axis and 0.0055 about the RU axis, which also sees the hand's width.
- Viscosity: 0.03 N m s/rad on each axis (the value Charles & Hogan 2011 use).
- Passive stiffness: anisotropic, larger in RU than in FE (Formica, Charles et
  al., "The passive stiffness of the wrist and forearm", *J. Neurophysiol.*
  108:1158-1166, 2012); 0.8 N m/rad in FE and 1.6 N m/rad in RU, rounded.
- Torque limits: 5 N m on each axis, below the peak isometric wrist torques
  (roughly 7-12 N m; Delp, Grierson & Buchanan, *J. Biomech.* 29:1371-1375, 1996).

Angles: ``theta_fe`` positive in flexion, ``theta_ru`` positive in ulnar
deviation, 0 at the neutral posture. There are no hard stops: the targets
(0.3 rad) stay inside the ranges of motion (about 1.2 rad in FE each way; about
0.35 rad radial and 0.6 rad ulnar). The integrator is the same as the arm's
(:mod:`cerebellar.envs.arm`): RK4 with the torque held over the step, dt = 0.01 s;
for this linear plant RK4 is the fourth-order Taylor expansion of the exact
zero-order-hold map (a phase error of about (omega dt)^5 / 120 per step, with
omega = sqrt(k / I) about 17 rad/s: 1e-6 rad).
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

WRIST_STEP_TRACKING_ID = "cerebellar/WristStepTracking-v0"

#: Number of peripheral targets, every 45 degrees.
N_DIRECTIONS = 8


def _matrix(value, name: str) -> np.ndarray:
    array = np.asarray(value, dtype=np.float64)
    if array.shape != (2, 2) or not np.all(np.isfinite(array)):
        raise ValueError(f"{name} must be a finite 2 x 2 matrix, got {value!r}")
    return array


@dataclasses.dataclass(frozen=True)
class WristParams:
    """Physical constants of the wrist and the timing of the step-tracking task.

    Parameters
    ----------
    inertia : tuple of float
        Moments of inertia of the hand about the FE and the RU axis (kg m^2).
    damping : tuple of tuples, shape (2, 2)
        Passive viscosity matrix ``B`` (N m s/rad).
    stiffness : tuple of tuples, shape (2, 2)
        Passive stiffness matrix ``K`` (N m/rad), about the neutral posture.
    torque_limit : tuple of float
        Largest torque magnitude on each axis (N m); actions are clipped to it.
    dt : float
        Seconds per step.
    radius : float
        Distance of the peripheral targets from the centre (rad).
    centre_hold : float
        Duration of the centre phase of each trial (s).
    target_hold : float
        Duration of the target phase of each trial (s).
    initial_spread : float
        The wrist starts at rest at a posture drawn uniformly within this
        distance of the centre on each axis (rad).

    Notes
    -----
    The numbers and their sources are in the module docstring. The phase
    durations are rounded to whole steps.
    """

    inertia: tuple = (0.0045, 0.0055)
    damping: tuple = ((0.03, 0.0), (0.0, 0.03))
    stiffness: tuple = ((0.8, 0.0), (0.0, 1.6))
    torque_limit: tuple = (5.0, 5.0)
    dt: float = 0.01
    radius: float = 0.3
    centre_hold: float = 0.5
    target_hold: float = 1.0
    initial_spread: float = 0.02

    def __post_init__(self):
        for name in ("dt", "radius", "centre_hold", "target_hold"):
            check_positive(getattr(self, name), name)
        if not (math.isfinite(self.initial_spread) and self.initial_spread >= 0):
            raise ValueError(f"initial_spread must be a finite number >= 0, got {self.initial_spread}")
        for name in ("inertia", "torque_limit"):
            array = np.asarray(getattr(self, name), dtype=np.float64)
            if array.shape != (2,) or not np.all(np.isfinite(array)) or np.any(array <= 0):
                raise ValueError(f"{name} must be two positive numbers, got {getattr(self, name)!r}")
        _matrix(self.damping, "damping")
        _matrix(self.stiffness, "stiffness")
        if self.centre_steps < 1 or self.target_steps < 1:
            raise ValueError("centre_hold and target_hold must each last at least one step")

    @property
    def centre_steps(self) -> int:
        """int: steps of the centre phase."""
        return int(round(self.centre_hold / self.dt))

    @property
    def target_steps(self) -> int:
        """int: steps of the target phase."""
        return int(round(self.target_hold / self.dt))

    def target_of(self, direction: int) -> np.ndarray:
        """Return the peripheral target ``(fe, ru)`` of direction ``0..7`` (45-degree steps)."""
        angle = direction * 2 * math.pi / N_DIRECTIONS
        return self.radius * np.array([math.cos(angle), math.sin(angle)])


def _acceleration(theta, omega, torque, params: WristParams) -> np.ndarray:
    damping = np.asarray(params.damping)
    stiffness = np.asarray(params.stiffness)
    passive = omega @ damping.T + theta @ stiffness.T
    return (torque - passive) / np.asarray(params.inertia)


def step_dynamics(state, torque, params: WristParams) -> np.ndarray:
    """Advance the wrist by one time step ``params.dt`` (RK4, torque held).

    Parameters
    ----------
    state : array_like, shape (4,) or (..., 4)
        ``(theta_fe, theta_ru, omega_fe, omega_ru)``: angles (rad) and angular
        velocities (rad/s); a batch of states is stepped elementwise.
    torque : array_like, shape (2,) or (..., 2)
        FE and RU torques (N m). Not clipped here: that is the environment's job.
    params : WristParams
        Physical constants.

    Returns
    -------
    numpy.ndarray
        The next state, a new float64 array with the shape of ``state``.
    """
    state, torque = check_limb_inputs(state, torque)
    dt = params.dt
    theta, omega = state[..., :2], state[..., 2:]
    theta_next, omega_next = rk4_second_order(
        theta, omega, lambda angles, rates: _acceleration(angles, rates, torque, params), dt
    )
    return np.concatenate([theta_next, omega_next], axis=-1)


def inverse_dynamics(state, acceleration, params: WristParams) -> np.ndarray:
    """Return the torques ``I theta'' + B theta' + K theta`` that give ``acceleration`` in ``state``.

    Parameters
    ----------
    state : array_like, shape (4,) or (..., 4)
        ``(theta_fe, theta_ru, omega_fe, omega_ru)``.
    acceleration : array_like, shape (2,) or (..., 2)
        Angular accelerations (rad/s^2).
    params : WristParams
        Physical constants.

    Returns
    -------
    numpy.ndarray, shape (..., 2)
        FE and RU torques (N m).
    """
    state, acceleration = check_limb_inputs(state, acceleration)
    passive = state[..., 2:] @ np.asarray(params.damping).T + state[..., :2] @ np.asarray(params.stiffness).T
    return acceleration * np.asarray(params.inertia) + passive


class WristStepTrackingEnv(LimbEnv):
    """Step the wrist from the centre to each of 8 targets in turn, holding each.

    Each trial is a centre phase (``centre_hold``, 0.5 s: the target is the
    centre) then a target phase (``target_hold``, 1.0 s: the target is one of 8
    points at ``radius`` from the centre, every 45 degrees). The next trial's
    centre phase is the return. The directions come in a random order, a fresh
    permutation of all 8 for every 8 trials (drawn from the reset seed); the
    registered id truncates after 8 trials (1200 steps), so an episode visits
    every direction once.

    Observation (float64): ``(theta_fe, theta_ru, omega_fe, omega_ru, target_fe,
    target_ru)``; the target is exogenous. Action: FE and RU torques (N m),
    clipped to ``params.torque_limit``. Reward: ``-|target - theta|^2`` (rad^2),
    with the angles after the step and the target in force during it.

    ``info`` holds, for the returned observation: ``target``, ``phase``
    (``"centre"`` or ``"target"``), ``direction_index`` (the trial's direction,
    0-7, where direction k points at ``k * 45`` degrees from flexion towards
    ulnar deviation; in a centre phase, the direction about to come), ``trial_index``,
    ``time_in_phase`` (s) and ``angles`` (the raw ``(theta_fe, theta_ru)``).

    Parameters
    ----------
    params : WristParams, optional
        Physical constants and task timing; readable and replaceable as
        ``env.unwrapped.params``.
    render_mode : None
        Rendering is not implemented; only ``None`` is accepted.

    Notes
    -----
    ``reset(options={"state": s})`` starts from an exact state instead of near the
    centre.
    """

    metadata = {"render_modes": [], "render_fps": 100}
    _advance = staticmethod(step_dynamics)
    _inverse = staticmethod(inverse_dynamics)

    def __init__(self, params: WristParams | None = None, render_mode: str | None = None):
        check_no_rendering(render_mode)
        self.render_mode = render_mode
        self.params = WristParams() if params is None else params
        self._state: np.ndarray | None = None
        self._order = np.arange(N_DIRECTIONS)
        self._trial = 0
        self._in_target_phase = False
        self._steps_in_phase = 0

    @property
    def params(self) -> WristParams:
        """WristParams: the physical constants used by the next step."""
        return self._params

    @params.setter
    def params(self, value: WristParams) -> None:
        if not isinstance(value, WristParams):
            raise TypeError(f"params must be a WristParams, got {type(value).__name__}")
        self._params = value
        limit = np.array(value.torque_limit, dtype=np.float32)
        self.action_space = spaces.Box(-limit, limit, dtype=np.float32)
        inf, radius = np.inf, value.radius
        self.observation_space = spaces.Box(np.array([-inf, -inf, -inf, -inf, -radius, -radius]),
                                            np.array([inf, inf, inf, inf, radius, radius]),
                                            dtype=np.float64)

    @property
    def direction_index(self) -> int:
        """int: the direction of the current trial (0-7)."""
        return int(self._order[self._trial % N_DIRECTIONS])

    @property
    def target(self) -> np.ndarray:
        """numpy.ndarray: the current target ``(fe, ru)``: the centre or a peripheral one."""
        if self._in_target_phase:
            return self._params.target_of(self.direction_index)
        return np.zeros(2)

    def _observation(self) -> np.ndarray:
        return np.concatenate([self._state, self.target])

    def _info(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "phase": "target" if self._in_target_phase else "centre",
            "direction_index": self.direction_index,
            "trial_index": self._trial,
            "time_in_phase": self._steps_in_phase * self._params.dt,
            "angles": self._state[:2].copy(),
        }

    def step(self, action) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """Apply the torques ``action`` (clipped to the limits) for one time step.

        Returns
        -------
        observation, reward, terminated, truncated, info
            As :meth:`gymnasium.Env.step`; ``terminated`` and ``truncated`` are
            always False here (the registration's ``TimeLimit`` ends episodes).
        """
        reward = self._apply_torque(action)
        self._steps_in_phase += 1
        params = self._params
        if self._in_target_phase and self._steps_in_phase >= params.target_steps:
            self._in_target_phase = False
            self._steps_in_phase = 0
            self._trial += 1
            if self._trial % N_DIRECTIONS == 0:
                self._order = self.np_random.permutation(N_DIRECTIONS)
        elif not self._in_target_phase and self._steps_in_phase >= params.centre_steps:
            self._in_target_phase = True
            self._steps_in_phase = 0
        return self._observation(), reward, False, False, self._info()

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        """Start an episode at rest near the centre, with a fresh order of directions.

        Parameters
        ----------
        seed : int, optional
            Seeds the environment's random generator (posture and order).
        options : dict, optional
            ``{"state": s}`` for an exact initial state.

        Returns
        -------
        observation, info
        """
        super().reset(seed=seed)
        options = reset_options(options, ("state",))
        spread = self._params.initial_spread
        posture = self.np_random.uniform(-spread, spread, size=2)
        self._order = self.np_random.permutation(N_DIRECTIONS)
        state = initial_state(options, posture)
        self._state = state
        self._trial = 0
        self._in_target_phase = False
        self._steps_in_phase = 0
        return self._observation(), self._info()
