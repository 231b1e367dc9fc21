"""Gymnasium environments and perturbation wrappers.

Importing this package registers ``cerebellar/CartPoleContinuous-v0`` (CartPole-v1's
physics with a continuous force, 1000-step episodes). The wrappers each add one
perturbation: sensory delay, observation or action noise, a mid-episode change of
the plant, or dropped frames.
"""

import gymnasium

from .cartpole import CartPoleContinuousEnv, CartPoleParams, step_dynamics
from .wrappers import (
    ActionNoise,
    DynamicsChange,
    ObservationDropout,
    ObservationNoise,
    SensoryDelay,
    env_dt,
)

CARTPOLE_CONTINUOUS_ID = "cerebellar/CartPoleContinuous-v0"

# Guarded so that re-importing (or reloading) the package does not re-register the id,
# which Gymnasium would warn about.
if CARTPOLE_CONTINUOUS_ID not in gymnasium.registry:
    gymnasium.register(
        id=CARTPOLE_CONTINUOUS_ID,
        entry_point="cerebellar.envs.cartpole:CartPoleContinuousEnv",
        max_episode_steps=1000,
    )

__all__ = [
    "CARTPOLE_CONTINUOUS_ID", "ActionNoise", "CartPoleContinuousEnv", "CartPoleParams",
    "DynamicsChange", "ObservationDropout", "ObservationNoise", "SensoryDelay", "env_dt",
    "step_dynamics",
]
