"""Controller presets for known environments, keyed by environment id.

A preset names the observation channels, and supplies the feedback gains, the
setpoint, the command each discrete action stands for, and the typical scale of
each channel (used to encode the mossy-fiber inputs). :func:`make_agent` builds
a forward-model agent from an environment's preset; for any other environment,
pass these to :meth:`cerebellar.agent.Agent.for_env` yourself. Environments
know only their physics and task: the gains live here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..agent import Agent, VectorAgent
from ..agent.vector import single_envs
from ..control import pd_gains
from ..envs import CARTPOLE_CONTINUOUS_ID, DMC_CARTPOLE_BALANCE_ID, TWO_LINK_ARM_ID, WRIST_STEP_TRACKING_ID
from ..envs.dmc import OBSERVATION_NAMES as DMC_OBSERVATION_NAMES
from ..envs.tracking import ARM_TRACKING_ID, WRIST_TRACKING_ID


@dataclass(frozen=True)
class Preset:
    """Everything the agent needs to know about one environment.

    Attributes
    ----------
    observation_names : tuple of str
        One name per observation channel.
    gains : tuple
        Feedback gains on the setpoint error ``setpoint - observation``: one per
        channel, or one row of them per command.
    setpoint : tuple of float or None
        Desired observation; zero when None.
    action_values : tuple or None
        For a discrete action space, the command (in the plant's units) each
        action stands for.
    state_scale : tuple of float
        Typical magnitude of each observation channel.
    command_scale : tuple of float
        Typical magnitude of each command.
    note : str
        Where the numbers come from.
    observation_units : tuple of str
        The unit of each observation channel (for plots).
    command_names, command_units : tuple of str
        The name and unit of each command.
    """

    observation_names: tuple[str, ...]
    gains: tuple
    setpoint: tuple[float, ...] | None
    action_values: tuple | None
    state_scale: tuple[float, ...]
    command_scale: tuple[float, ...]
    note: str = ""
    observation_units: tuple[str, ...] = ()
    command_names: tuple[str, ...] = ()
    command_units: tuple[str, ...] = ()


#: The seed's cart-pole controller: 1.0 on the pole angle, 0.01 on the cart
#: position and 0.01 on the pole's angular velocity. In Gymnasium a positive force
#: pushes the cart right, which is what moves it under a pole leaning right
#: (angle > 0), so on the error ``0 - observation`` the gains are negative.
#: The seed's gains leave the cart's slow drift undamped (a ~20 s oscillation whose
#: amplitude random-walks until the cart leaves the track after ~30,000-50,000
#: steps), so the preset adds 0.002 on the cart velocity. ``SEED_CARTPOLE_GAINS``
#: are the seed's gains exactly.
SEED_CARTPOLE_GAINS = (-0.01, 0.0, -1.0, -0.01)
CARTPOLE_GAINS = (-0.01, -0.002, -1.0, -0.01)

#: On the continuous cart-pole the command is a force in newtons. The seed's gains
#: were written for a normalised actuator command (DeepMind Control's cart-pole:
#: action +-1 times gear 10 = +-10 N), so in newtons they are ten times larger.
CARTPOLE_CONTINUOUS_GAINS = tuple(10.0 * g for g in CARTPOLE_GAINS)

def _rows(gains: np.ndarray) -> tuple[tuple[float, ...], ...]:
    return tuple(tuple(float(g) for g in row) for row in gains)


#: PD gains on the observation ``(q1, q2, dq1, dq2, t1, t2)``. The command is
#: ``u = G @ (0 - obs) = -G @ obs``; for ``u = Kp (t - q) - Kd dq`` each joint's row
#: is therefore ``+Kp`` on its angle, ``+Kd`` on its velocity and ``-Kp`` on its
#: target. Independent joints, no gravity compensation: alone this controller sags
#: below targets by up to ``G(q) / Kp`` (up to 0.17 rad at the shoulder with the arm
#: forward), which is what the forward model's refinement has to remove. Kp is the
#: smallest round value with which the K = 3 refinement settles every reach within
#: 0.05 rad under gravity (it multiplies the static gain by about K + 1); Kd gives a
#: damping ratio of 0.3-0.65 at the shoulder (it varies with the posture) for the
#: plain controller.
ARM_KP = (60.0, 30.0)
ARM_KD = (4.0, 1.5)
ARM_GAINS = _rows(pd_gains(ARM_KP, ARM_KD))

ARM_PRESET = Preset(
    observation_names=("shoulder angle", "elbow angle", "shoulder velocity", "elbow velocity",
                       "shoulder target", "elbow target"),
    gains=ARM_GAINS,
    setpoint=None,
    action_values=None,
    state_scale=(1.0, 1.0, 3.0, 3.0, 1.0, 1.0),
    command_scale=(10.0, 10.0),
    note="independent joint PD (Kp 60 and 30 N m/rad, Kd 4 and 1.5 N m s/rad) on target - angle, "
         "no gravity compensation; scales: angles ~1 rad, velocities ~3 rad/s, torques ~10 N m",
    observation_units=("rad", "rad", "rad/s", "rad/s", "rad", "rad"),
    command_names=("shoulder torque", "elbow torque"),
    command_units=("N m", "N m"),
)


#: PD gains on ``(theta_fe, theta_ru, omega_fe, omega_ru, target_fe, target_ru)``:
#: ``u = G @ (0 - obs) = Kp (target - theta) - Kd omega``, so each axis's row is
#: ``+Kp`` on its angle, ``+Kd`` on its velocity and ``-Kp`` on its target. No
#: stiffness compensation: alone it stops short of a 0.3 rad target by
#: ``0.3 k / (Kp + k)``, 0.064 rad in FE and 0.10 rad in RU, which the forward model's
#: refinement has to remove. Kd gives a damping ratio of about 0.5 for the plain controller.
WRIST_KP = (3.0, 3.0)
WRIST_KD = (0.12, 0.12)
WRIST_GAINS = _rows(pd_gains(WRIST_KP, WRIST_KD))

WRIST_PRESET = Preset(
    observation_names=("FE angle", "RU angle", "FE velocity", "RU velocity", "FE target", "RU target"),
    gains=WRIST_GAINS,
    setpoint=None,
    action_values=None,
    state_scale=(0.3, 0.3, 3.0, 3.0, 0.3, 0.3),
    command_scale=(1.0, 1.0),
    note="independent axis PD (Kp 3 N m/rad, Kd 0.12 N m s/rad) on target - angle, no stiffness "
         "compensation; scales: angles ~0.3 rad, velocities ~3 rad/s, torques ~1 N m",
    observation_units=("rad", "rad", "rad/s", "rad/s", "rad", "rad"),
    command_names=("FE torque", "RU torque"),
    command_units=("N m", "N m"),
)


#: The seed's controller on sin(angle): ``command = 1.0 sin(angle) + 0.01 x +
#: 0.01 angular_velocity``. A positive command pushes the cart towards +x, under a
#: pole leaning towards +x (sin(angle) > 0), so on the error ``setpoint - obs`` the
#: gains are negative. The order is the observation's: x, cos, sin, x_dot, omega.
SEED_DMC_CARTPOLE_GAINS = (-0.01, 0.0, -1.0, 0.0, -0.01)

#: The seed clips its controller's output to +-5. The actuator takes +-1, and every
#: command is clipped to that before it is sent (and before each prediction), so on
#: this task the +-5 limit never changes an action.
SEED_COMMAND_LIMIT = 5.0

#: The seed's pass test: the pole counts as up while ``|sin(angle)| < 0.66``.
SEED_PASS_SINE = 0.66

DMC_CARTPOLE_PRESET = Preset(
    observation_names=DMC_OBSERVATION_NAMES["cartpole"],
    gains=SEED_DMC_CARTPOLE_GAINS,
    # Upright and centred. The cosine has no gain, so its setpoint only documents intent.
    setpoint=(0.0, 1.0, 0.0, 0.0, 0.0),
    action_values=None,
    state_scale=(1.8, 1.0, 0.2, 1.0, 1.0),
    command_scale=(1.0,),
    note="the seed's gains on sin(angle); action +-1 (x gear 10 = +-10 N). The seed's "
         "+-5 output clip is not in the preset: the +-1 actuator limit is tighter",
    observation_units=("m", "", "", "m/s", "rad/s"),
    command_names=("actuator command",),
    command_units=("x 10 N",),
)


#: Every preset, by environment id.
PRESETS: dict[str, Preset] = {
    "CartPole-v1": Preset(
        observation_names=("cart position", "cart velocity", "pole angle", "pole angular velocity"),
        gains=CARTPOLE_GAINS,
        setpoint=None,
        action_values=(-10.0, 10.0),
        state_scale=(2.4, 1.0, 0.2, 1.0),
        command_scale=(10.0,),
        note="seed's gains plus 0.002 on cart velocity; actions are -10 N and +10 N",
        observation_units=("m", "m/s", "rad", "rad/s"),
        command_names=("force",),
        command_units=("N",),
    ),
    CARTPOLE_CONTINUOUS_ID: Preset(
        observation_names=("cart position", "cart velocity", "pole angle", "pole angular velocity"),
        gains=CARTPOLE_CONTINUOUS_GAINS,
        setpoint=None,
        action_values=None,
        state_scale=(2.4, 1.0, 0.2, 1.0),
        command_scale=(10.0,),
        note="the CartPole-v1 preset in newtons (x10); continuous force in [-10, 10] N",
        observation_units=("m", "m/s", "rad", "rad/s"),
        command_names=("force",),
        command_units=("N",),
    ),
    TWO_LINK_ARM_ID: ARM_PRESET,
    WRIST_STEP_TRACKING_ID: WRIST_PRESET,
    DMC_CARTPOLE_BALANCE_ID: DMC_CARTPOLE_PRESET,
    ARM_TRACKING_ID: ARM_PRESET,  # the same limbs tracking a trajectory
    WRIST_TRACKING_ID: WRIST_PRESET,
}


def get_preset(env_id: str | None) -> Preset | None:
    """Return the preset for an environment id, or None when there is none."""
    return PRESETS.get(env_id) if env_id is not None else None


def make_agent(env, model="rls", **options):
    """Build a forward-model agent for ``env`` from its preset (gains, scales, channel names).

    Everything :meth:`cerebellar.agent.Agent.for_env` takes may be given to
    override the preset; for an environment without a preset, ``gains=`` (or
    ``feedback=``) is required.

    Parameters
    ----------
    env : gymnasium.Env
        The environment (possibly wrapped).
    model : str or ForwardModel
        A model name for a blank model, or a model instance.
    **options
        As :meth:`~cerebellar.agent.Agent.for_env`.

    Returns
    -------
    Agent

    Raises
    ------
    ValueError
        For an environment with no preset and no gains.
    """
    env_id = env.spec.id if env.spec is not None else None
    preset = get_preset(env_id)
    if preset is None and options.get("gains") is None and options.get("feedback") is None:
        raise ValueError(
            f"no preset for environment {env_id!r}: pass gains= (one per observation channel, "
            f"{env.observation_space.shape[0]} here, or one row per command); presets: {', '.join(PRESETS)}"
        )
    if preset is not None:
        defaults = {"setpoint": preset.setpoint, "action_values": preset.action_values,
                    "input_scale": tuple(preset.state_scale) + tuple(preset.command_scale),
                    "observation_names": preset.observation_names,
                    "observation_units": preset.observation_units or None,
                    "command_names": preset.command_names or None,
                    "command_units": preset.command_units or None}
        if options.get("feedback") is None:
            defaults["gains"] = preset.gains
        for key, value in defaults.items():
            if options.get(key) is None:
                options[key] = value
    return Agent.for_env(env, model=model, **options)


def make_vector_agent(vec_env, model="rls", seed: int | None = 0, **options) -> VectorAgent:
    """Build a :class:`~cerebellar.agent.VectorAgent` from the envs' preset, agent ``i`` seeded ``seed + i``.

    Agent ``i`` is what ``make_agent(env, model=model, seed=seed + i,
    **options)`` builds, and acts exactly as it would.

    Parameters
    ----------
    vec_env : gymnasium.vector.VectorEnv or sequence of gymnasium.Env
        A Gymnasium vector env (e.g. ``gymnasium.make_vec``) or a list of envs.
    model : str
        A model name (``"rls"``, ``"cerebellum"``).
    seed : int or None
        Seed of agent 0.
    **options
        As :func:`make_agent`.
    """
    if not isinstance(model, str):
        raise ValueError("give the model by name: every agent of a vector needs its own model")
    return VectorAgent([make_agent(env, model=model, seed=None if seed is None else seed + i, **options)
                        for i, env in enumerate(single_envs(vec_env))])
