"""DeepMind Control Suite tasks as Gymnasium environments (cartpole/balance first).

The seed's proof of concept ran on the Control Suite's ``cartpole``/``balance``,
not on Gymnasium's CartPole-v1. :class:`DMControlEnv` wraps any suite task as a
``gymnasium.Env`` so the agent, the runner and the wrappers work on it unchanged,
and for cart-pole it exposes the true plant as ``dynamics(observation, command)``
so that an oracle model can be built.

dm_control is an optional dependency (``pip install 'cerebellar[dmc]'``): it is
imported when an environment is built, not when this module is. Nothing here
renders: unless ``MUJOCO_GL`` is already set, it is set to ``"disable"`` before
dm_control is first imported, which keeps dm_control from probing for a display.

cartpole/balance, as the suite defines it (``dm_control/suite/cartpole.py``):

- time step 0.01 s (one MuJoCo RK4 step per control step), 10 s episodes
  (1000 steps), never terminated early;
- action: one number in [-1, 1], a motor with gear 10 on the cart's slider (so
  +-10 N); a positive action pushes the cart towards +x;
- pole angle: the hinge turns about +y, so a positive angle tilts the pole's tip
  towards +x; the pole then falls further towards +x, and pushing the cart
  towards +x (a positive action) moves it back under the pole;
- the cart's slider is limited to +-1.8 m (a soft end stop); contacts are off;
- the initial state: cart position uniform in +-0.1 m, pole angle uniform in
  +-0.034 rad, both velocities Gaussian with standard deviation 0.01.
"""

from __future__ import annotations

import math
import os
from typing import Any

import gymnasium
import numpy as np
from gymnasium import spaces

from .._validation import check_no_rendering, reset_options

DMC_CARTPOLE_BALANCE_ID = "cerebellar/DMC-cartpole-balance-v0"

#: Channel names of the flattened observation, per domain, in the order of the
#: suite's observation dict (``position`` then ``velocity`` for cart-pole). For
#: other domains the names are ``key[i]``.
OBSERVATION_NAMES = {
    "cartpole": ("cart position", "pole angle cosine", "pole angle sine", "cart velocity",
                 "pole angular velocity"),
}



def _import_suite():
    """Import ``dm_control.suite``, or explain which extra to install."""
    # Set before dm_control's first import, which is when it picks a GL backend.
    os.environ.setdefault("MUJOCO_GL", "disable")
    try:
        from dm_control import suite
    except ImportError as error:
        raise ImportError(
            f"DMControlEnv needs dm_control, which could not be imported ({error}); "
            "install it with: pip install 'cerebellar[dmc]'"
        ) from error
    return suite


def _cartpole_state(observation: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(qpos, qvel)`` of the single-pole cart-pole implied by an observation."""
    x, cosine, sine, x_dot, omega = observation
    # atan2 recovers the angle modulo 2 pi; the dynamics do not depend on the turn count.
    return np.array([x, math.atan2(sine, cosine)]), np.array([x_dot, omega])


#: Per domain: observation -> (qpos, qvel). MuJoCo's full physics state for these
#: models is (time, qpos, qvel, act); cart-pole has no actuator activations
#: (``model.na == 0``: the motor applies its force at once) and nothing depends on time.
_STATE_FROM_OBSERVATION = {"cartpole": _cartpole_state}


class DMControlEnv(gymnasium.Env[np.ndarray, np.ndarray]):
    """A DeepMind Control Suite task as a Gymnasium environment.

    Observation: the suite's observation dict flattened, key by key in the suite's
    order, into one float64 vector with unbounded limits (as the suite's spec).
    For cart-pole: ``(x, cos(angle), sin(angle), x_dot, angular_velocity)``, names
    in :attr:`observation_names`. Action: a Box with the suite's bounds and dtype;
    actions outside are clipped to it (MuJoCo would clip the force anyway; clipping
    first also keeps the reward's control cost on the force actually applied).
    Reward: the suite's. ``terminated`` is True only if the suite ends an episode
    with discount 0 (cart-pole never does); ``truncated`` is True at the suite's
    time limit (cart-pole balance: 10 s, 1000 steps).

    Parameters
    ----------
    domain, task : str
        Suite names, e.g. ``"cartpole"``, ``"balance"``.
    task_kwargs : dict, optional
        Passed to ``dm_control.suite.load`` (e.g. ``time_limit``). The suite's
        ``random`` is reseeded by ``reset(seed=...)``.
    environment_kwargs : dict, optional
        Passed to ``dm_control.suite.load``.
    render_mode : None
        Rendering is not supported; only ``None`` is accepted.

    Raises
    ------
    ImportError
        If dm_control is not installed (``pip install 'cerebellar[dmc]'``).

    Notes
    -----
    ``reset(seed=s)`` reseeds the suite task's random generator with ``s``, so it
    starts from the same state as ``dm_control.suite.load(domain, task,
    task_kwargs={"random": s}).reset()``. ``reset(options={"observation": obs})``
    (cart-pole) starts from the state that ``obs`` describes instead.
    """

    metadata = {"render_modes": []}

    def __init__(self, domain: str = "cartpole", task: str = "balance",
                 task_kwargs: dict | None = None, environment_kwargs: dict | None = None,
                 render_mode: str | None = None):
        check_no_rendering(render_mode)
        self.render_mode = render_mode
        suite = _import_suite()
        self.domain, self.task = domain, task
        self._env = suite.load(domain, task, task_kwargs=task_kwargs,
                               environment_kwargs=environment_kwargs)
        spec = self._env.observation_spec()
        self._keys = tuple(spec)
        sizes = [int(np.prod(item.shape)) for item in spec.values()]
        names = OBSERVATION_NAMES.get(domain)
        if names is None or len(names) != sum(sizes):
            names = tuple(key if size == 1 else f"{key}[{i}]"
                          for key, size in zip(self._keys, sizes, strict=True) for i in range(size))
        self.observation_names: tuple[str, ...] = names
        self.observation_space = spaces.Box(-np.inf, np.inf, shape=(sum(sizes),), dtype=np.float64)
        action = self._env.action_spec()
        self.action_space = spaces.Box(
            np.broadcast_to(action.minimum, action.shape).astype(action.dtype),
            np.broadcast_to(action.maximum, action.shape).astype(action.dtype),
            dtype=action.dtype,
        )
        #: float: seconds per step (read by the delay wrappers).
        self.dt = float(self._env.control_timestep())
        self._substeps = round(self.dt / self._env.physics.timestep())  # as the suite steps
        self._scratch = None  # a second physics on the same model, for dynamics()
        self._needs_reset = True

    @property
    def physics(self):
        """dm_control.mujoco.Physics: the live simulation (read it; do not step it)."""
        return self._env.physics

    def _observe(self, observation: dict) -> np.ndarray:
        return np.concatenate([np.asarray(observation[key], dtype=np.float64).ravel()
                               for key in self._keys])

    def _state_from_observation(self, observation) -> tuple[np.ndarray, np.ndarray]:
        convert = _STATE_FROM_OBSERVATION.get(self.domain)
        if convert is None or self.observation_space.shape != (5,):
            raise NotImplementedError(
                f"the physics state cannot be recovered from the observation of "
                f"{self.domain}/{self.task}; only single-pole cart-pole is supported"
            )
        observation = np.asarray(observation, dtype=np.float64).reshape(-1)
        if observation.shape != (5,) or not np.all(np.isfinite(observation)):
            raise ValueError(f"observation must be 5 finite numbers, got {observation!r}")
        return convert(observation)

    def _clip(self, action) -> np.ndarray:
        action = np.asarray(action, dtype=np.float64).reshape(-1)
        if action.shape != self.action_space.shape or not np.all(np.isfinite(action)):
            raise ValueError(f"action must be {self.action_space.shape[0]} finite number(s), "
                             f"got {action!r}")
        return np.clip(action, self.action_space.low, self.action_space.high)

    def dynamics(self, observation, command) -> np.ndarray:
        """Return the next observation from ``observation`` under ``command``: the true plant.

        A second physics on the same model is set to the state the observation
        describes (cart position, angle ``atan2(sin, cos)``, both velocities),
        the command (clipped to the action bounds) is applied, and it is stepped
        once exactly as :meth:`step` steps the live one. The live simulation is
        not touched. Cart-pole only.

        Notes
        -----
        The observation holds the whole of cart-pole's physics state (there are no
        actuator activations and nothing depends on time), so the result equals
        :meth:`step`'s to rounding (about 1e-15). One exception: while the cart
        presses on its end stop (``|x| > 1.8``) MuJoCo's constraint solver runs,
        warm-started from the previous step's accelerations, which no observation
        holds; here it starts from zero, and results agree to the solver's
        tolerance instead.
        """
        qpos, qvel = self._state_from_observation(observation)
        if self._scratch is None:
            self._scratch = self._env.physics.copy(share_model=True)
            self._scratch.legacy_step = self._env.physics.legacy_step
        physics = self._scratch
        data = physics.data
        data.time = 0.0
        data.qpos[:] = qpos
        data.qvel[:] = qvel
        data.qacc_warmstart[:] = 0.0
        data.ctrl[:] = self._clip(command)
        physics.step(self._substeps)
        return self._observe(self._env.task.get_observation(physics))

    def step(self, action) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """Apply ``action`` (clipped to the action bounds) for one control step.

        Returns
        -------
        observation, reward, terminated, truncated, info
            As :meth:`gymnasium.Env.step`; see the class notes.

        Raises
        ------
        RuntimeError
            If called before :meth:`reset` or after the episode ended (the suite
            would silently start a new one).
        """
        if self._needs_reset:
            raise RuntimeError("call reset() before step() (at start and after an episode ends)")
        time_step = self._env.step(self._clip(action))
        terminated = time_step.last() and time_step.discount == 0.0
        truncated = time_step.last() and not terminated
        self._needs_reset = time_step.last()
        return self._observe(time_step.observation), float(time_step.reward), terminated, truncated, {}

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        """Start an episode.

        Parameters
        ----------
        seed : int, optional
            Reseeds the suite task's random generator (and ``np_random``).
        options : dict, optional
            ``{"observation": obs}`` (cart-pole): start from the state ``obs``
            describes, after the suite's own reset (which still draws from the
            generator, so later episodes stay reproducible).

        Returns
        -------
        observation, info
            The first observation and an empty dict.
        """
        super().reset(seed=seed)
        options = reset_options(options, ("observation",))
        if seed is not None:
            self._env.task.random.seed(seed)
        time_step = self._env.reset()
        observation = time_step.observation
        if "observation" in options:
            qpos, qvel = self._state_from_observation(options["observation"])
            physics = self._env.physics
            with physics.reset_context():
                physics.data.qpos[:] = qpos
                physics.data.qvel[:] = qvel
            observation = self._env.task.get_observation(physics)
        self._needs_reset = False
        return self._observe(observation), {}


def register() -> None:
    """Register ``cerebellar/DMC-cartpole-balance-v0``; safe to call again.

    Needs no dm_control: the environment is only imported when it is made.
    """
    # Guarded so that a second call (or a reload) does not re-register the id,
    # which Gymnasium would warn about.
    if DMC_CARTPOLE_BALANCE_ID not in gymnasium.registry:
        gymnasium.register(
            id=DMC_CARTPOLE_BALANCE_ID,
            entry_point="cerebellar.envs.dmc:DMControlEnv",
            kwargs={"domain": "cartpole", "task": "balance"},
            max_episode_steps=1000,
        )
