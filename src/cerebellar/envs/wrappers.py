"""Perturbation wrappers: each adds one difficulty to any suitable Gymnasium env.

Wrappers that alter what the agent sees put the unaltered observation in
``info["true_observation"]``, so experiments can measure true errors. They use
``setdefault``, so in a stack of wrappers the innermost (truest) value survives:
``ObservationNoise(SensoryDelay(env, ...))`` reports the undelayed, noiseless state.

Random wrappers draw from their own generator. It is seeded from the constructor's
``seed`` and reseeded whenever ``reset(seed=...)`` gets a seed, so a seeded run is
reproducible and, as with Gymnasium's own envs, later unseeded resets continue the
stream.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import zlib
from collections import deque
from typing import Any

import gymnasium
import numpy as np
from gymnasium import spaces
from gymnasium.utils import RecordConstructorArgs


def _check_count(value, name: str) -> int:
    """Return ``value`` if it is an integer >= 0, else raise a ValueError naming it."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 0:
        raise ValueError(f"{name} must be an integer >= 0, got {value!r}")
    return int(value)


def _check_seed(seed) -> int | None:
    if seed is None:
        return None
    return _check_count(seed, "seed")


def _make_rng(tag: str, seed: int | None, reset_seed: int | None) -> np.random.Generator:
    """Return a generator determined by the wrapper's class, its seed and the reset seed."""
    if seed is None and reset_seed is None:
        return np.random.default_rng()
    # The class tag keeps stacked wrappers (and the env, seeded with the same reset seed)
    # from drawing one and the same stream. Fixed length and explicit None-flags, because
    # SeedSequence pads with zeros: [a, b] and [a, b, 0] would seed identically.
    entropy = [zlib.crc32(tag.encode()), int(seed is not None), seed or 0,
               int(reset_seed is not None), reset_seed or 0]
    return np.random.default_rng(entropy)


def _copy(observation):
    return observation.copy() if isinstance(observation, np.ndarray) else copy.deepcopy(observation)


def _with_true_observation(info: dict[str, Any], observation) -> dict[str, Any]:
    info = dict(info)  # do not mutate the inner env's dict
    info.setdefault("true_observation", _copy(observation))
    return info


def env_dt(env: gymnasium.Env) -> float:
    """Return the seconds per step of ``env``.

    Looked up on ``env.unwrapped`` as ``params.dt``, then ``dt`` (MuJoCo, Pendulum,
    Acrobot), then ``tau`` (CartPole-v1).

    Parameters
    ----------
    env : gymnasium.Env
        Any environment, wrapped or not.

    Returns
    -------
    float
        The time step in seconds.

    Raises
    ------
    ValueError
        If no time step can be found, or it is not a positive finite number.
    """
    unwrapped = env.unwrapped
    for owner, name in ((getattr(unwrapped, "params", None), "dt"), (unwrapped, "dt"),
                        (unwrapped, "tau")):
        value = getattr(owner, name, None)
        if value is not None:
            value = float(value)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"{type(unwrapped).__name__}.{name} must be a positive "
                                 f"time step, got {value}")
            return value
    raise ValueError(f"cannot find the time step of {type(unwrapped).__name__} (looked for "
                     f"params.dt, dt and tau); give delay_steps instead of delay_ms")


class SensoryDelay(gymnasium.Wrapper, RecordConstructorArgs):
    """Show the agent the observation from ``delay_steps`` steps ago.

    After ``reset`` the delay line is filled with the initial observation, so for the
    first ``delay_steps`` steps the agent keeps seeing it. The current observation is
    in ``info["true_observation"]``.

    Parameters
    ----------
    env : gymnasium.Env
        The environment to delay.
    delay_ms : float, optional
        Delay in milliseconds, converted with the env's time step (see :func:`env_dt`)
        and rounded to the nearest whole step (halves round up).
    delay_steps : int, optional
        Delay in steps. Give exactly one of ``delay_ms`` and ``delay_steps``.

    Attributes
    ----------
    delay_steps : int
        The delay actually applied, in steps.
    """

    def __init__(self, env: gymnasium.Env, delay_ms: float | None = None,
                 delay_steps: int | None = None):
        RecordConstructorArgs.__init__(self, delay_ms=delay_ms, delay_steps=delay_steps)
        gymnasium.Wrapper.__init__(self, env)
        if (delay_ms is None) == (delay_steps is None):
            raise ValueError("give exactly one of delay_ms and delay_steps, "
                             f"got delay_ms={delay_ms!r}, delay_steps={delay_steps!r}")
        if delay_steps is not None:
            self.delay_steps = _check_count(delay_steps, "delay_steps")
        else:
            try:
                milliseconds = float(delay_ms)
            except (TypeError, ValueError) as error:
                raise ValueError(f"delay_ms must be a number >= 0, got {delay_ms!r}") from error
            if not (math.isfinite(milliseconds) and milliseconds >= 0):
                raise ValueError(f"delay_ms must be a finite number >= 0, got {delay_ms!r}")
            # The + 0.5 makes a half step round up, where round() would go to even.
            self.delay_steps = int(math.floor(milliseconds / (1000.0 * env_dt(env)) + 0.5))
        # Oldest first: holds the observations of the last delay_steps + 1 steps.
        self._buffer: deque = deque(maxlen=self.delay_steps + 1)

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        """Reset the env and fill the delay line with its initial observation."""
        observation, info = self.env.reset(seed=seed, options=options)
        self._buffer.clear()
        self._buffer.extend(_copy(observation) for _ in range(self.delay_steps + 1))
        return _copy(self._buffer[0]), _with_true_observation(info, observation)

    def step(self, action):
        """Step the env; return the observation from ``delay_steps`` steps ago."""
        observation, reward, terminated, truncated, info = self.env.step(action)
        self._buffer.append(_copy(observation))
        return (_copy(self._buffer[0]), reward, terminated, truncated,
                _with_true_observation(info, observation))


class ObservationNoise(gymnasium.Wrapper, RecordConstructorArgs):
    """Add zero-mean Gaussian noise to every observation (including the initial one).

    The noiseless observation is in ``info["true_observation"]``. The observation
    space's bounds are lifted to infinity on the noisy channels, since noise can carry
    a value past them.

    Parameters
    ----------
    env : gymnasium.Env
        An environment with a floating-point ``Box`` observation space.
    sigma : float or array_like
        Standard deviation, one for all channels or one per channel (broadcast to the
        observation shape); each >= 0.
    seed : int, optional
        Seeds the noise generator; ``reset(seed=...)`` reseeds it.
    """

    def __init__(self, env: gymnasium.Env, sigma, seed: int | None = None):
        RecordConstructorArgs.__init__(self, sigma=sigma, seed=seed)
        gymnasium.Wrapper.__init__(self, env)
        space = env.observation_space
        if not (isinstance(space, spaces.Box) and np.issubdtype(space.dtype, np.floating)):
            raise ValueError(f"ObservationNoise needs a floating-point Box observation space, "
                             f"got {space}")
        self.sigma = _check_sigma(sigma, space.shape)
        self.seed = _check_seed(seed)
        noisy = self.sigma > 0
        self.observation_space = spaces.Box(np.where(noisy, -np.inf, space.low),
                                            np.where(noisy, np.inf, space.high),
                                            dtype=space.dtype)
        self._rng = _make_rng(type(self).__name__, self.seed, None)

    def _noisy(self, observation: np.ndarray) -> np.ndarray:
        noise = self._rng.standard_normal(self.sigma.shape) * self.sigma
        return (observation + noise).astype(observation.dtype, copy=False)

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        """Reset the env (and the noise generator, if ``seed`` is given)."""
        observation, info = self.env.reset(seed=seed, options=options)
        if seed is not None:
            self._rng = _make_rng(type(self).__name__, self.seed, seed)
        return self._noisy(observation), _with_true_observation(info, observation)

    def step(self, action):
        """Step the env; return its observation plus noise."""
        observation, reward, terminated, truncated, info = self.env.step(action)
        return (self._noisy(observation), reward, terminated, truncated,
                _with_true_observation(info, observation))


class ActionNoise(gymnasium.Wrapper, RecordConstructorArgs):
    """Add zero-mean Gaussian noise to every action, then clip it to the action space.

    The action actually sent to the env is in ``info["applied_action"]``.

    Parameters
    ----------
    env : gymnasium.Env
        An environment with a floating-point ``Box`` action space.
    sigma : float or array_like
        Standard deviation, one for all dimensions or one per dimension; each >= 0.
    seed : int, optional
        Seeds the noise generator; ``reset(seed=...)`` reseeds it.
    """

    def __init__(self, env: gymnasium.Env, sigma, seed: int | None = None):
        RecordConstructorArgs.__init__(self, sigma=sigma, seed=seed)
        gymnasium.Wrapper.__init__(self, env)
        space = env.action_space
        if not (isinstance(space, spaces.Box) and np.issubdtype(space.dtype, np.floating)):
            raise ValueError(f"ActionNoise needs a floating-point Box action space, got {space}")
        self.sigma = _check_sigma(sigma, space.shape)
        self.seed = _check_seed(seed)
        self._rng = _make_rng(type(self).__name__, self.seed, None)

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        """Reset the env (and the noise generator, if ``seed`` is given)."""
        observation, info = self.env.reset(seed=seed, options=options)
        if seed is not None:
            self._rng = _make_rng(type(self).__name__, self.seed, seed)
        return observation, info

    def step(self, action):
        """Step the env with ``action`` plus noise, clipped to the action space."""
        space = self.env.action_space
        try:
            intended = np.asarray(action, dtype=np.float64).reshape(space.shape)
        except ValueError as error:
            raise ValueError(f"action must have shape {space.shape}, got {action!r}") from error
        noise = self._rng.standard_normal(space.shape) * self.sigma
        applied = np.clip(intended + noise, space.low, space.high).astype(space.dtype)
        observation, reward, terminated, truncated, info = self.env.step(applied)
        info = dict(info)
        info["applied_action"] = applied.copy()
        return observation, reward, terminated, truncated, info


class DynamicsChange(gymnasium.Wrapper, RecordConstructorArgs):
    """Change the plant's physical parameters partway through every episode.

    The first ``at_step`` steps of an episode use the env's parameters; from then on
    ``env.unwrapped.params`` is ``dataclasses.replace(params, **new_params)``.
    ``reset`` restores the parameters in force before the change.
    ``info["dynamics_changed"]`` tells whether the step just taken used the new ones.

    Parameters
    ----------
    env : gymnasium.Env
        An environment whose ``unwrapped.params`` is a dataclass instance that its
        ``step`` reads (e.g. :class:`~cerebellar.envs.CartPoleContinuousEnv`).
    at_step : int
        Number of steps, counted from ``reset``, before the change (0 changes the
        plant from the first step).
    **new_params
        Parameter names and their new values, e.g. ``pole_half_length=1.0``.
    """

    def __init__(self, env: gymnasium.Env, at_step: int, **new_params):
        RecordConstructorArgs.__init__(self, at_step=at_step, **new_params)
        gymnasium.Wrapper.__init__(self, env)
        self.at_step = _check_count(at_step, "at_step")
        if not new_params:
            raise ValueError("DynamicsChange needs at least one parameter to change, "
                             "e.g. pole_half_length=1.0")
        params = getattr(env.unwrapped, "params", None)
        if not dataclasses.is_dataclass(params) or isinstance(params, type):
            raise ValueError(f"DynamicsChange needs env.unwrapped.params to be a dataclass "
                             f"instance; {type(env.unwrapped).__name__} has {params!r}")
        known = {field.name for field in dataclasses.fields(params) if field.init}
        unknown = sorted(set(new_params) - known)
        if unknown:
            raise ValueError(f"unknown parameter(s) {unknown} for {type(params).__name__}; "
                             f"known: {sorted(known)}")
        # Build once now so that an invalid value fails here rather than mid-episode.
        dataclasses.replace(params, **new_params)
        self.new_params = dict(new_params)
        self._steps = 0
        self._before_change = None  # the params replaced by the change, until reset

    def _restore(self) -> None:
        if self._before_change is not None:
            self.env.unwrapped.params = self._before_change
            self._before_change = None

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        """Restore the parameters in force before the change, then reset the env."""
        self._restore()
        self._steps = 0
        observation, info = self.env.reset(seed=seed, options=options)
        info = dict(info)
        info["dynamics_changed"] = False
        return observation, info

    def step(self, action):
        """Step the env, first changing its parameters if this is step ``at_step``."""
        if self._steps == self.at_step and self._before_change is None:
            unwrapped = self.env.unwrapped
            self._before_change = unwrapped.params
            unwrapped.params = dataclasses.replace(self._before_change, **self.new_params)
        observation, reward, terminated, truncated, info = self.env.step(action)
        self._steps += 1
        info = dict(info)
        info["dynamics_changed"] = self._before_change is not None
        return observation, reward, terminated, truncated, info


class ObservationDropout(gymnasium.Wrapper, RecordConstructorArgs):
    """Lose each observation with probability ``p``; the agent then sees the last one again.

    ``info["dropped"]`` flags a repeated frame and ``info["true_observation"]`` holds
    the one that was lost. The initial observation is never dropped.

    Parameters
    ----------
    env : gymnasium.Env
        Any environment.
    p : float
        Probability in [0, 1] that a step's observation is missing.
    seed : int, optional
        Seeds the dropout generator; ``reset(seed=...)`` reseeds it.
    """

    def __init__(self, env: gymnasium.Env, p: float, seed: int | None = None):
        RecordConstructorArgs.__init__(self, p=p, seed=seed)
        gymnasium.Wrapper.__init__(self, env)
        try:
            probability = float(p)
        except (TypeError, ValueError) as error:
            raise ValueError(f"p must be a probability in [0, 1], got {p!r}") from error
        if not 0.0 <= probability <= 1.0:  # also rejects NaN
            raise ValueError(f"p must be a probability in [0, 1], got {p!r}")
        self.p = probability
        self.seed = _check_seed(seed)
        self._rng = _make_rng(type(self).__name__, self.seed, None)
        self._last = None

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        """Reset the env (and the dropout generator, if ``seed`` is given)."""
        observation, info = self.env.reset(seed=seed, options=options)
        if seed is not None:
            self._rng = _make_rng(type(self).__name__, self.seed, seed)
        self._last = _copy(observation)
        info = _with_true_observation(info, observation)
        info["dropped"] = False
        return observation, info

    def step(self, action):
        """Step the env; with probability ``p`` repeat the last delivered observation."""
        observation, reward, terminated, truncated, info = self.env.step(action)
        info = _with_true_observation(info, observation)
        # One draw per step whatever p is, so the stream does not depend on the outcomes.
        dropped = bool(self._rng.random() < self.p)
        if dropped:
            observation = _copy(self._last)
        else:
            self._last = _copy(observation)
        info["dropped"] = dropped
        return observation, reward, terminated, truncated, info


def _check_sigma(sigma, shape: tuple[int, ...]) -> np.ndarray:
    """Return ``sigma`` broadcast to ``shape`` as float64, or raise a ValueError naming it."""
    try:
        values = np.asarray(sigma, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise ValueError(f"sigma must be a number or an array of numbers, got {sigma!r}") from error
    if not np.all(np.isfinite(values)) or np.any(values < 0):
        raise ValueError(f"sigma must be finite and >= 0, got {sigma!r}")
    try:
        return np.broadcast_to(values, shape).copy()
    except ValueError as error:
        raise ValueError(f"sigma must be a scalar or broadcast to shape {shape}, "
                         f"got shape {values.shape}") from error
