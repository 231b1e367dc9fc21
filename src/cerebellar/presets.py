"""Controller presets for known environments.

A preset names the observation channels, and supplies the feedback gains, the
setpoint, the command each discrete action stands for, and the typical scale of
each channel (used to encode the mossy-fiber inputs). For any other
environment, pass these to :meth:`cerebellar.Agent.for_env` yourself.
"""

from __future__ import annotations

from dataclasses import dataclass


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
    """

    observation_names: tuple[str, ...]
    gains: tuple
    setpoint: tuple[float, ...] | None
    action_values: tuple | None
    state_scale: tuple[float, ...]
    command_scale: tuple[float, ...]
    note: str = ""


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

PRESETS: dict[str, Preset] = {
    "CartPole-v1": Preset(
        observation_names=("cart position", "cart velocity", "pole angle", "pole angular velocity"),
        gains=CARTPOLE_GAINS,
        setpoint=None,
        action_values=(-10.0, 10.0),
        state_scale=(2.4, 1.0, 0.2, 1.0),
        command_scale=(10.0,),
        note="seed's gains plus 0.002 on cart velocity; actions are -10 N and +10 N",
    ),
    "cerebellar/CartPoleContinuous-v0": Preset(
        observation_names=("cart position", "cart velocity", "pole angle", "pole angular velocity"),
        gains=CARTPOLE_CONTINUOUS_GAINS,
        setpoint=None,
        action_values=None,
        state_scale=(2.4, 1.0, 0.2, 1.0),
        command_scale=(10.0,),
        note="the CartPole-v1 preset in newtons (x10); continuous force in [-10, 10] N",
    ),
}


def register_preset(env_id: str, preset: Preset) -> None:
    """Add (or replace) the preset of an environment id; environment modules call this."""
    if not isinstance(preset, Preset):
        raise TypeError(f"preset must be a Preset, got {type(preset).__name__}")
    PRESETS[env_id] = preset


def get_preset(env_id: str | None) -> Preset | None:
    """Return the preset for an environment id, or None when there is none."""
    return PRESETS.get(env_id) if env_id is not None else None
