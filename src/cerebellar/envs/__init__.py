"""Gymnasium environments and perturbation wrappers.

Importing this package registers ``cerebellar/CartPoleContinuous-v0`` (CartPole-v1's
physics with a continuous force, 1000-step episodes), ``cerebellar/TwoLinkArm-v0``
(a shoulder-elbow arm reaching a new joint-angle target every 1.5 s, 10 reaches;
``gravity=False`` for the horizontal plane) and ``cerebellar/WristStepTracking-v0``
(a two-axis wrist stepping from the centre to 8 targets in turn, as in the monkey
task of Tanaka, Ishikawa & Kakei 2019), and
``cerebellar/DMC-cartpole-balance-v0`` (DeepMind Control Suite's cart-pole through a
Gymnasium adapter; needs the ``dmc`` extra only when made). The wrappers each add
one perturbation: sensory delay, observation or action noise, a mid-episode change
of the plant, or dropped frames.
"""

import gymnasium

from .arm import TWO_LINK_ARM_ID, ArmParams, TwoLinkArmEnv
from .cartpole import CartPoleContinuousEnv, CartPoleParams, step_dynamics
from .cartpole_vector import CartPoleVector
from .dmc import DMC_CARTPOLE_BALANCE_ID, DMControlEnv
from .dmc import register as _register_dmc
from .tracking import ARM_TRACKING_ID, WRIST_TRACKING_ID, Trajectory, TrajectoryTracking
from .wrappers import (
    ActionNoise,
    DynamicsChange,
    ObservationDropout,
    ObservationNoise,
    SensoryDelay,
    env_dt,
)
from .wrist import WRIST_STEP_TRACKING_ID, WristParams, WristStepTrackingEnv

CARTPOLE_CONTINUOUS_ID = "cerebellar/CartPoleContinuous-v0"

# Guarded so that re-importing (or reloading) the package does not re-register the id,
# which Gymnasium would warn about.
if CARTPOLE_CONTINUOUS_ID not in gymnasium.registry:
    gymnasium.register(
        id=CARTPOLE_CONTINUOUS_ID,
        entry_point="cerebellar.envs.cartpole:CartPoleContinuousEnv",
        max_episode_steps=1000,
    )
if TWO_LINK_ARM_ID not in gymnasium.registry:
    gymnasium.register(
        id=TWO_LINK_ARM_ID,
        entry_point="cerebellar.envs.arm:TwoLinkArmEnv",
        max_episode_steps=1500,  # 10 reaches of 150 steps
    )
if WRIST_STEP_TRACKING_ID not in gymnasium.registry:
    gymnasium.register(
        id=WRIST_STEP_TRACKING_ID,
        entry_point="cerebellar.envs.wrist:WristStepTrackingEnv",
        max_episode_steps=1200,  # 8 trials (centre hold + target hold) of 150 steps
    )

for _id, _entry in ((ARM_TRACKING_ID, "arm_tracking"), (WRIST_TRACKING_ID, "wrist_tracking")):
    if _id not in gymnasium.registry:
        gymnasium.register(id=_id, entry_point=f"cerebellar.envs.tracking:{_entry}",
                           max_episode_steps=1000)  # 10 s trials

_register_dmc()  # guarded like the others; dm_control is imported only when the env is made

__all__ = [
    "CartPoleVector",
    "CARTPOLE_CONTINUOUS_ID", "DMC_CARTPOLE_BALANCE_ID", "TWO_LINK_ARM_ID", "WRIST_STEP_TRACKING_ID",
    "ActionNoise", "ArmParams", "CartPoleContinuousEnv", "CartPoleParams", "DMControlEnv",
    "DynamicsChange", "ObservationDropout", "ObservationNoise", "SensoryDelay", "TwoLinkArmEnv",
    "WristParams", "WristStepTrackingEnv", "env_dt", "step_dynamics",
    "ARM_TRACKING_ID", "WRIST_TRACKING_ID", "Trajectory", "TrajectoryTracking",
]
