"""Cart-pole with a continuous force: Gymnasium CartPole-v1's physics, made reusable.

The physics lives in one pure function, :func:`step_dynamics`, with its constants
in the frozen dataclass :class:`CartPoleParams`, so an oracle model or a planner
can simulate the plant with exactly the equations the environment uses, and a
perturbation wrapper can swap the parameters mid-episode.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import gymnasium
import numpy as np
from gymnasium import logger, spaces
from gymnasium.envs.classic_control import utils

from .._validation import check_no_rendering, check_positive, reset_options

INTEGRATORS = ("euler", "semi-implicit euler")


@dataclasses.dataclass(frozen=True)
class CartPoleParams:
    """Physical constants of the cart-pole; the defaults are Gymnasium CartPole-v1's.

    Parameters
    ----------
    gravity : float
        Gravitational acceleration (m/s^2).
    cart_mass : float
        Mass of the cart (kg).
    pole_mass : float
        Mass of the pole (kg); zero is allowed (a massless pole).
    pole_half_length : float
        Half the pole's length (m): the distance from the pivot to its centre of mass.
    force_limit : float
        Largest force magnitude the actuator can apply (N); actions are clipped to it.
    dt : float
        Seconds between state updates (Gymnasium's ``tau``).
    x_threshold : float
        The episode terminates when ``|x|`` exceeds this (m).
    theta_threshold : float
        The episode terminates when ``|theta|`` exceeds this (rad); 12 degrees.
    integrator : {"euler", "semi-implicit euler"}
        Integration scheme, as Gymnasium's ``kinematics_integrator``.
    """

    gravity: float = 9.8
    cart_mass: float = 1.0
    pole_mass: float = 0.1
    pole_half_length: float = 0.5
    force_limit: float = 10.0
    dt: float = 0.02
    x_threshold: float = 2.4
    # Written as Gymnasium writes it, so that the termination test agrees to the last bit.
    theta_threshold: float = 12 * 2 * math.pi / 360
    integrator: str = "euler"

    def __post_init__(self):
        for name in ("cart_mass", "pole_half_length", "force_limit", "dt", "x_threshold",
                     "theta_threshold"):
            check_positive(getattr(self, name), name)
        if not (math.isfinite(self.pole_mass) and self.pole_mass >= 0):
            raise ValueError(f"pole_mass must be a finite number >= 0, got {self.pole_mass}")
        if not math.isfinite(self.gravity):
            raise ValueError(f"gravity must be finite, got {self.gravity}")
        if self.integrator not in INTEGRATORS:
            raise ValueError(f"integrator must be one of {INTEGRATORS}, got {self.integrator!r}")


def step_dynamics(state, force, params: CartPoleParams) -> np.ndarray:
    """Advance the cart-pole by one time step ``params.dt``.

    The arithmetic is Gymnasium CartPole-v1's, operation for operation, so that with
    default parameters and ``force = +-10`` the result is bit-identical to it.

    Parameters
    ----------
    state : array_like, shape (4,) or (..., 4)
        ``(x, x_dot, theta, theta_dot)``; a batch of states is stepped elementwise.
    force : float or array_like, shape (...)
        Horizontal force on the cart (N), positive to the right. Not clipped here:
        limiting the actuator is the environment's job.
    params : CartPoleParams
        Physical constants.

    Returns
    -------
    numpy.ndarray
        The next state, a new float64 array with the shape of ``state``.
    """
    state = np.asarray(state, dtype=np.float64)
    if state.shape[-1:] != (4,):
        raise ValueError(f"state must have shape (4,) or (..., 4), got {state.shape}")
    x, x_dot, theta, theta_dot = state[..., 0], state[..., 1], state[..., 2], state[..., 3]
    total_mass = params.pole_mass + params.cart_mass
    polemass_length = params.pole_mass * params.pole_half_length
    costheta = np.cos(theta)
    sintheta = np.sin(theta)
    temp = (force + polemass_length * np.square(theta_dot) * sintheta) / total_mass
    thetaacc = (params.gravity * sintheta - costheta * temp) / (
        params.pole_half_length * (4.0 / 3.0 - params.pole_mass * np.square(costheta) / total_mass)
    )
    xacc = temp - polemass_length * thetaacc * costheta / total_mass
    tau = params.dt
    if params.integrator == "euler":
        x, x_dot, theta, theta_dot = (
            x + tau * x_dot, x_dot + tau * xacc, theta + tau * theta_dot, theta_dot + tau * thetaacc
        )
    else:  # semi-implicit Euler: positions use the updated velocities
        x_dot = x_dot + tau * xacc
        x = x + tau * x_dot
        theta_dot = theta_dot + tau * thetaacc
        theta = theta + tau * theta_dot
    return np.stack([x, x_dot, theta, theta_dot], axis=-1)


class CartPoleContinuousEnv(gymnasium.Env[np.ndarray, np.ndarray]):
    """Gymnasium CartPole-v1 with a continuous force instead of two fixed pushes.

    Observation: ``(x, x_dot, theta, theta_dot)`` as float64, the true state itself,
    so a model fed observations sees the plant exactly (float32 would round it).
    Action: a force in ``[-force_limit, force_limit]``, shape ``(1,)``; values outside
    are clipped. Reward: 1 per step, including the terminating one. Terminates when
    ``|x| > x_threshold`` or ``|theta| > theta_threshold``; the registered id
    ``cerebellar/CartPoleContinuous-v0`` truncates at 1000 steps.

    Parameters
    ----------
    params : CartPoleParams, optional
        Physical constants; CartPole-v1's by default. Readable and replaceable as
        ``env.unwrapped.params`` (the observation bounds follow the thresholds).
    render_mode : None
        Rendering is not implemented; only ``None`` is accepted.

    Notes
    -----
    ``reset(options=...)`` accepts ``{"low": l, "high": h}`` (bounds of the uniform
    initial state, default -0.05 and 0.05, as CartPole-v1) or ``{"state": s}`` to
    start from an exact state.
    """

    metadata = {"render_modes": [], "render_fps": 50}

    def __init__(self, params: CartPoleParams | None = None, render_mode: str | None = None):
        check_no_rendering(render_mode)
        self.render_mode = render_mode
        self.params = CartPoleParams() if params is None else params
        self._state: np.ndarray | None = None
        self._steps_beyond_terminated: int | None = None

    @property
    def params(self) -> CartPoleParams:
        """CartPoleParams: the physical constants used by the next step."""
        return self._params

    @params.setter
    def params(self, value: CartPoleParams) -> None:
        if not isinstance(value, CartPoleParams):
            raise TypeError(f"params must be a CartPoleParams, got {type(value).__name__}")
        self._params = value
        # The spaces are derived from the params so that they stay truthful if a wrapper
        # changes the thresholds or the force limit.
        limit = np.array([value.force_limit], dtype=np.float32)
        self.action_space = spaces.Box(-limit, limit, dtype=np.float32)
        # Twice the thresholds, as CartPole-v1, so the terminating observation is in bounds.
        high = np.array([2 * value.x_threshold, np.inf, 2 * value.theta_threshold, np.inf])
        self.observation_space = spaces.Box(-high, high, dtype=np.float64)

    @property
    def state(self) -> np.ndarray | None:
        """numpy.ndarray or None: a copy of the true state ``(x, x_dot, theta, theta_dot)``."""
        return None if self._state is None else self._state.copy()

    def dynamics(self, state, command) -> np.ndarray:
        """Return the next state from ``state`` under ``command`` with the current params.

        The true plant as a pure function: what an oracle forward model uses.
        The force is clipped to the actuator limit, as :meth:`step` does.
        """
        force = float(np.clip(np.asarray(command, dtype=np.float64).reshape(-1)[0],
                              -self.params.force_limit, self.params.force_limit))
        return step_dynamics(state, force, self.params)

    def dynamics_many(self, states, commands) -> np.ndarray:
        """Return :meth:`dynamics` of every row of ``states`` (N, 4) and ``commands`` (N, 1), bitwise."""
        limit = self.params.force_limit
        forces = np.clip(np.asarray(commands, dtype=np.float64).reshape(len(states), -1)[:, 0], -limit, limit)
        return step_dynamics(states, forces, self.params)

    def step(self, action) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """Apply the force ``action`` (clipped to the force limit) for one time step.

        Parameters
        ----------
        action : array_like
            One number: the force (N).

        Returns
        -------
        observation, reward, terminated, truncated, info
            As :meth:`gymnasium.Env.step`; ``truncated`` is always False here (the
            time limit comes from the registration's ``TimeLimit`` wrapper).
        """
        if self._state is None:
            raise RuntimeError("call reset() before step()")
        force = np.asarray(action, dtype=np.float64).reshape(-1)
        if force.shape != (1,) or not np.isfinite(force[0]):
            raise ValueError(f"action must be one finite number, got {action!r}")
        limit = self._params.force_limit
        force = float(np.clip(force[0], -limit, limit))

        self._state = step_dynamics(self._state, force, self._params)
        x, theta = self._state[0], self._state[2]
        terminated = bool(abs(x) > self._params.x_threshold
                          or abs(theta) > self._params.theta_threshold)

        reward = 1.0
        if terminated:
            # After the terminating step further steps earn nothing, as in CartPole-v1.
            if self._steps_beyond_terminated is None:
                self._steps_beyond_terminated = 0
            else:
                if self._steps_beyond_terminated == 0:
                    logger.warn("step() called after terminated=True; call reset() first. "
                                "Further steps are undefined behaviour and earn reward 0.")
                self._steps_beyond_terminated += 1
                reward = 0.0
        return self._state.copy(), reward, terminated, False, {}

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        """Start an episode from a random (or given) state.

        Parameters
        ----------
        seed : int, optional
            Seeds the environment's random generator.
        options : dict, optional
            ``{"low": l, "high": h}`` for the uniform initial-state bounds, or
            ``{"state": s}`` for an exact initial state.

        Returns
        -------
        observation, info
            The initial state and an empty dict.
        """
        super().reset(seed=seed)
        options = reset_options(options, ("low", "high", "state"))
        if "state" in options:
            if "low" in options or "high" in options:
                raise ValueError("reset options 'state' and 'low'/'high' are exclusive")
            state = np.array(options["state"], dtype=np.float64)
            if state.shape != (4,) or not np.all(np.isfinite(state)):
                raise ValueError(f"reset option 'state' must be 4 finite numbers, got {state}")
        else:
            low, high = utils.maybe_parse_reset_bounds(options, -0.05, 0.05)
            # Same call as CartPole-v1, so a seed gives the same initial state as there.
            state = self.np_random.uniform(low=low, high=high, size=(4,))
        self._state = state
        self._steps_beyond_terminated = None
        return self._state.copy(), {}
