"""Gymnasium's classic-control plants as pure, vectorised dynamics.

``Pendulum-v1``, ``Acrobot-v1`` and ``MountainCarContinuous-v0``, written from
Gymnasium's source and equal to its ``step``: each maps rows of observations
and commands to the next observations, so that an oracle model or a planner can
roll many candidates at once. Physics only: task costs live in
:mod:`cerebellar.tasks.swingup`.
"""

from __future__ import annotations

import numpy as np

#: The classic plants whose dynamics are here, by Gymnasium id.
CLASSIC_DYNAMICS_IDS = ("Pendulum-v1", "Acrobot-v1", "MountainCarContinuous-v0")


def pendulum_dynamics(states: np.ndarray, commands: np.ndarray) -> np.ndarray:
    """Gymnasium ``Pendulum-v1``, vectorised: observations (N, 3), torques (N, 1) -> next observations."""
    theta = np.arctan2(states[:, 1], states[:, 0])
    torque = np.clip(commands[:, 0], -2.0, 2.0)
    # g = 10, m = l = 1, dt = 0.05: dv = (3 g / (2 l) sin(theta) + 3 / (m l^2) u) dt
    velocity = np.clip(states[:, 2] + (15.0 * np.sin(theta) + 3.0 * torque) * 0.05, -8.0, 8.0)
    theta = theta + velocity * 0.05
    return np.stack([np.cos(theta), np.sin(theta), velocity], axis=1)


def _acrobot_derivatives(theta1, theta2, dtheta1, dtheta2, torque):
    # Gymnasium's "book" dynamics: unit masses and lengths, centres at 0.5, inertia 1, g = 9.8.
    d1 = 0.25 + (1.0 + 0.25 + np.cos(theta2)) + 2.0
    d2 = (0.25 + 0.5 * np.cos(theta2)) + 1.0
    phi2 = 0.5 * 9.8 * np.cos(theta1 + theta2 - np.pi / 2)
    phi1 = (-0.5 * dtheta2**2 * np.sin(theta2) - dtheta2 * dtheta1 * np.sin(theta2)
            + 1.5 * 9.8 * np.cos(theta1 - np.pi / 2) + phi2)
    ddtheta2 = ((torque + d2 / d1 * phi1 - 0.5 * dtheta1**2 * np.sin(theta2) - phi2)
                / (0.25 + 1.0 - d2**2 / d1))
    ddtheta1 = -(d2 * ddtheta2 + phi1) / d1
    return np.stack([dtheta1, dtheta2, ddtheta1, ddtheta2])


def acrobot_dynamics(states: np.ndarray, commands: np.ndarray) -> np.ndarray:
    """Gymnasium ``Acrobot-v1`` (one RK4 step of 0.2 s), vectorised on observations (N, 6)."""
    s = np.stack([np.arctan2(states[:, 1], states[:, 0]), np.arctan2(states[:, 3], states[:, 2]),
                  states[:, 4], states[:, 5]])
    torque = np.clip(commands[:, 0], -1.0, 1.0)
    dt = 0.2
    k1 = _acrobot_derivatives(*s, torque)
    k2 = _acrobot_derivatives(*(s + dt / 2 * k1), torque)
    k3 = _acrobot_derivatives(*(s + dt / 2 * k2), torque)
    k4 = _acrobot_derivatives(*(s + dt * k3), torque)
    n = s + dt / 6.0 * (k1 + 2 * k2 + 2 * k3 + k4)
    v1 = np.clip(n[2], -4 * np.pi, 4 * np.pi)
    v2 = np.clip(n[3], -9 * np.pi, 9 * np.pi)
    return np.stack([np.cos(n[0]), np.sin(n[0]), np.cos(n[1]), np.sin(n[1]), v1, v2], axis=1)


def acrobot_height(states: np.ndarray) -> np.ndarray:
    """Height of the acrobot's tip above its pivot (the episode ends above 1)."""
    c1, s1, c2, s2 = states[:, 0], states[:, 1], states[:, 2], states[:, 3]
    return -c1 - (c1 * c2 - s1 * s2)


def acrobot_energy(states: np.ndarray) -> np.ndarray:
    """Mechanical energy of the acrobot (Gymnasium's parameters), zero when upright at rest.

    Hanging at rest it is -39.2 (= -2 (m1 lc1 + m2 l1 + m2 lc2) g). It uses the
    plant's parameters, so the planners no longer use it (see :func:`acrobot_cost`);
    it is kept to check the dynamics and for analysis.
    """
    c1, s1, c2, s2, v1, v2 = states.T
    potential = -9.8 * (1.5 * c1 + 0.5 * (c1 * c2 - s1 * s2)) - 19.6
    # Mass matrix [[d1, d2], [d2, 1.25]] of Gymnasium's book model.
    d1 = 3.5 + c2
    d2 = 1.25 + 0.5 * c2
    kinetic = 0.5 * (d1 * v1**2 + 2 * d2 * v1 * v2 + 1.25 * v2**2)
    return potential + kinetic


def mountaincar_dynamics(states: np.ndarray, commands: np.ndarray) -> np.ndarray:
    """Gymnasium ``MountainCarContinuous-v0``, vectorised: (N, 2) position, velocity."""
    force = np.clip(commands[:, 0], -1.0, 1.0)
    velocity = np.clip(states[:, 1] + force * 0.0015 - 0.0025 * np.cos(3 * states[:, 0]), -0.07, 0.07)
    position = np.clip(states[:, 0] + velocity, -1.2, 0.6)
    velocity = np.where((position <= -1.2) & (velocity < 0), 0.0, velocity)
    return np.stack([position, velocity], axis=1)


def classic_dynamics(env_id: str):
    """Return the vectorised dynamics of a classic plant by Gymnasium id.

    Raises
    ------
    ValueError
        For an id with no dynamics here.
    """
    table = {"Pendulum-v1": pendulum_dynamics, "Acrobot-v1": acrobot_dynamics,
             "MountainCarContinuous-v0": mountaincar_dynamics}
    if env_id not in table:
        raise ValueError(f"no pure dynamics for {env_id!r}; known: {', '.join(CLASSIC_DYNAMICS_IDS)}")
    return table[env_id]
