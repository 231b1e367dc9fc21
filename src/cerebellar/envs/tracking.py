"""Tracking a smooth desired trajectory with a limb, instead of stepping between targets.

A :class:`Trajectory` is a periodic joint-space path with analytic velocity and
acceleration (what a motor plan provides: the desired position, velocity and
acceleration at every moment). :class:`TrajectoryTracking` puts it into a
limb's task: the target channels of the observation follow the trajectory's
position, the reward is ``-|desired - angles|^2`` and the episode starts on the
trajectory, moving with it. The limb's physics is untouched.

Registered ids (10 s trials, 1000 steps):

- ``cerebellar/TwoLinkArmTracking-v0``: :class:`~cerebellar.envs.TwoLinkArmEnv`
  tracking a joint-space figure-eight at 0.5 Hz around ``(0.9, 1.0)`` rad;
- ``cerebellar/WristTracking-v0``: :class:`~cerebellar.envs.WristStepTrackingEnv`
  tracking a figure-eight at 0.5 Hz around the neutral posture.

``gymnasium.make(id, shape=..., speed=..., ...)`` changes the trajectory (e.g.
``speed=2.0`` for the same path twice as fast, ``shape="ellipse"`` for a path
never trained on); other keywords go to the limb (e.g. ``params=``).
"""

from __future__ import annotations

import dataclasses
import math

import gymnasium
import numpy as np
from gymnasium.utils import RecordConstructorArgs

ARM_TRACKING_ID = "cerebellar/TwoLinkArmTracking-v0"
WRIST_TRACKING_ID = "cerebellar/WristTracking-v0"
#: Trajectory shapes: a figure-eight (the second joint at twice the frequency) or an ellipse.
SHAPES = ("figure-eight", "ellipse")


@dataclasses.dataclass(frozen=True)
class Trajectory:
    """A periodic joint-space trajectory of two joints, with analytic derivatives.

    ``figure-eight``: ``q1 = c1 + a1 sin(w t)``, ``q2 = c2 + a2 sin(2 w t)``;
    ``ellipse``: ``q1 = c1 + a1 sin(w t)``, ``q2 = c2 + a2 cos(w t)``; with
    ``w = 2 pi frequency speed``.

    Parameters
    ----------
    shape : {"figure-eight", "ellipse"}
        The path.
    centre, amplitude : tuple of float
        Centre and amplitude per joint (rad).
    frequency : float
        Base frequency (Hz) of the first joint.
    speed : float
        Time scaling: 2 runs the same path twice as fast.
    """

    shape: str = "figure-eight"
    centre: tuple = (0.9, 1.0)
    amplitude: tuple = (0.5, 0.4)
    frequency: float = 0.5
    speed: float = 1.0

    def __post_init__(self):
        if self.shape not in SHAPES:
            raise ValueError(f"shape must be one of {', '.join(SHAPES)}, got {self.shape!r}")
        for name in ("centre", "amplitude"):
            value = np.asarray(getattr(self, name), dtype=np.float64)
            if value.shape != (2,) or not np.all(np.isfinite(value)):
                raise ValueError(f"{name} must be two finite numbers, got {getattr(self, name)!r}")
        for name in ("frequency", "speed"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a positive number, got {value!r}")

    def at(self, time: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return the desired ``(position, velocity, acceleration)`` at ``time`` (s)."""
        w = 2.0 * math.pi * self.frequency * self.speed
        a1, a2 = self.amplitude
        c1, c2 = self.centre
        s, c = math.sin(w * time), math.cos(w * time)
        if self.shape == "figure-eight":
            s2, c2w = math.sin(2 * w * time), math.cos(2 * w * time)
            q = (c1 + a1 * s, c2 + a2 * s2)
            dq = (a1 * w * c, 2 * a2 * w * c2w)
            ddq = (-a1 * w * w * s, -4 * a2 * w * w * s2)
        else:
            q = (c1 + a1 * s, c2 + a2 * c)
            dq = (a1 * w * c, -a2 * w * s)
            ddq = (-a1 * w * w * s, -a2 * w * w * c)
        return np.array(q), np.array(dq), np.array(ddq)


class TrajectoryTracking(gymnasium.Wrapper, RecordConstructorArgs):
    """Make a limb track a :class:`Trajectory`: its target channels follow the desired position.

    The limb's observation is ``(angles, velocities, targets)``; here the two
    target channels hold the desired position at the moment of the
    observation, the reward is ``-|desired - angles|^2`` (rad^2) and ``info``
    adds ``desired_velocity``, ``desired_acceleration`` and ``time`` (s).
    Reset starts the limb on the trajectory at its desired velocity (unless
    ``options={"state": ...}`` says otherwise).

    Parameters
    ----------
    env : gymnasium.Env
        A limb environment (``TwoLinkArmEnv``, ``WristStepTrackingEnv``).
    trajectory : Trajectory
        The path to track.
    """

    def __init__(self, env: gymnasium.Env, trajectory: Trajectory):
        RecordConstructorArgs.__init__(self, trajectory=trajectory)
        gymnasium.Wrapper.__init__(self, env)
        if not isinstance(trajectory, Trajectory):
            raise TypeError(f"trajectory must be a Trajectory, got {type(trajectory).__name__}")
        self.trajectory = trajectory
        self.dt = float(env.unwrapped.params.dt)
        low = np.array(env.observation_space.low, dtype=np.float64)
        high = np.array(env.observation_space.high, dtype=np.float64)
        # The desired positions may leave the limb's target range: widen those channels.
        low[4:6], high[4:6] = -np.inf, np.inf
        self.observation_space = gymnasium.spaces.Box(low, high, dtype=np.float64)
        self._steps = 0

    def _desired(self, observation, info):
        position, velocity, acceleration = self.trajectory.at(self._steps * self.dt)
        observation = np.array(observation, dtype=np.float64)
        observation[4:6] = position
        info = {**info, "target": position, "desired_velocity": velocity,
                "desired_acceleration": acceleration, "time": self._steps * self.dt}
        return observation, info

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        """Reset the limb onto the trajectory (or to ``options["state"]``)."""
        self._steps = 0
        options = dict(options or {})
        if "state" not in options:
            position, velocity, _ = self.trajectory.at(0.0)
            options["state"] = np.concatenate([position, velocity])
        observation, info = self.env.reset(seed=seed, options=options)
        return self._desired(observation, info)

    def step(self, action):
        """Step the limb; the target channels and the reward follow the trajectory."""
        observation, _, terminated, truncated, info = self.env.step(action)
        self._steps += 1
        observation, info = self._desired(observation, info)
        error = observation[4:6] - observation[:2]
        return observation, -float(error @ error), terminated, truncated, info


def _make(limb_entry: str, default: Trajectory, shape=None, centre=None, amplitude=None,
          frequency=None, speed=None, **limb_options):
    changes = {k: v for k, v in (("shape", shape), ("centre", centre), ("amplitude", amplitude),
                                  ("frequency", frequency), ("speed", speed)) if v is not None}
    limb = gymnasium.envs.registration.load_env_creator(limb_entry)(**limb_options)
    return TrajectoryTracking(limb, dataclasses.replace(default, **changes))


#: The arm's default path: a figure-eight inside the reaching targets' range.
ARM_TRAJECTORY = Trajectory(centre=(0.9, 1.0), amplitude=(0.5, 0.4))
#: The wrist's default path: a figure-eight around the neutral posture, inside its range.
WRIST_TRAJECTORY = Trajectory(centre=(0.0, 0.0), amplitude=(0.25, 0.15))


def arm_tracking(**options) -> TrajectoryTracking:
    """Return the arm tracking :data:`ARM_TRAJECTORY` (keywords change the path or the arm)."""
    return _make("cerebellar.envs.arm:TwoLinkArmEnv", ARM_TRAJECTORY, **options)


def wrist_tracking(**options) -> TrajectoryTracking:
    """Return the wrist tracking :data:`WRIST_TRAJECTORY` (keywords change the path or the wrist)."""
    return _make("cerebellar.envs.wrist:WristStepTrackingEnv", WRIST_TRAJECTORY, **options)
