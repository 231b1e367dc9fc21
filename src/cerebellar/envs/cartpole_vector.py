"""Several continuous cart-poles with a task's wrappers, stepped as arrays.

:class:`CartPoleVector` takes ``N`` environments built as a task builds them
(``cerebellar/CartPoleContinuous-v0`` under Gymnasium's time limit, with an
optional :class:`~cerebellar.envs.DynamicsChange` and
:class:`~cerebellar.envs.ObservationNoise`, and an optional outermost
:class:`~cerebellar.envs.SensoryDelay`) and steps all of them in one call:
the physics is :func:`~cerebellar.envs.cartpole.step_dynamics` on a stack of
states, the noise is drawn from each environment's own generator and each
delay line is a row of one array. Every row is bitwise what stepping that
environment alone gives. Resets go through each environment's own ``reset``
(its seeding, its noise generator), so nothing about a reset is copied.

It serves the tuner of the no-model opponent, which runs thousands of short
trial episodes; any other stack of wrappers is refused (:meth:`from_envs`
returns None) and the caller steps the environments one by one.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from gymnasium.wrappers import OrderEnforcing, PassiveEnvChecker, TimeLimit

from .._grouping import EqualityClasses
from .cartpole import CartPoleContinuousEnv, step_dynamics
from .wrappers import DynamicsChange, ObservationNoise, SensoryDelay


def _layers(env):
    """Return ``(delay, noise, change, time_limit, plant)`` of a supported stack, or None."""
    delay = noise = change = None
    if isinstance(env, SensoryDelay):
        delay, env = env, env.env
    if isinstance(env, ObservationNoise):
        noise, env = env, env.env
    if isinstance(env, DynamicsChange):
        change, env = env, env.env
    if not isinstance(env, TimeLimit):
        return None
    time_limit, env = env, env.env
    while isinstance(env, (OrderEnforcing, PassiveEnvChecker)):
        env = env.env
    if type(env) is not CartPoleContinuousEnv:
        return None
    return delay, noise, change, time_limit, env


class CartPoleVector:
    """``N`` wrapped continuous cart-poles stepped as one batch (see the module docstring).

    Build it with :meth:`from_envs`. The environments themselves are only reset
    through it; between resets the batch holds their state.
    """

    def __init__(self, envs, layers):
        self.envs = list(envs)
        self.n_envs = len(self.envs)
        delays = {None if layer[0] is None else layer[0].delay_steps for layer in layers}
        limits = {layer[3]._max_episode_steps for layer in layers}
        if len(delays) != 1 or len(limits) != 1:
            raise ValueError("the environments differ in delay or time limit")
        self.delay_steps = delays.pop() or 0
        self.max_episode_steps = limits.pop()
        self._noises = [layer[1] for layer in layers]
        self._changes = [layer[2] for layer in layers]
        self._plants = [layer[4] for layer in layers]
        self._changing = any(change is not None for change in self._changes)
        self._classes = EqualityClasses()  # of plant parameters: rows of one class step together
        if any(noise is None for noise in self._noises) and any(n is not None for n in self._noises):
            raise ValueError("some environments have observation noise and others not")
        self._noisy = self._noises[0] is not None
        self._sigma = self._noises[0].sigma if self._noisy else None
        if self._noisy and any(not np.array_equal(n.sigma, self._sigma) for n in self._noises):
            raise ValueError("the environments' noise differs")
        self.observation_space = self.envs[0].observation_space
        self.action_space = self.envs[0].action_space
        self._states = np.zeros((self.n_envs, 4))
        self._lines = np.zeros((self.n_envs, self.delay_steps + 1, 4))
        self._elapsed = np.zeros(self.n_envs, dtype=np.int64)

    @property
    def params(self):
        """The plant parameters of environment 0 (as it is now)."""
        return self._plants[0].params

    @classmethod
    def from_envs(cls, envs) -> CartPoleVector | None:
        """Return the batch of ``envs``, or None if one of them is not a supported stack."""
        envs = list(envs)
        layers = [_layers(env) for env in envs]
        if not envs or any(layer is None for layer in layers):
            return None
        try:
            return cls(envs, layers)
        except ValueError:
            return None

    def reset(self, seeds, rows=None) -> tuple[np.ndarray, np.ndarray]:
        """Reset the environments (all, or those in ``rows``) each with its seed (None: no seed).

        Returns the observations and the true states of all environments (N, 4).
        """
        rows = range(self.n_envs) if rows is None else rows
        for i, seed in zip(rows, seeds, strict=True):
            observation, info = self.envs[i].reset(seed=None if seed is None else int(seed))
            self._states[i] = info.get("true_observation", observation)
            self._lines[i] = observation
            self._elapsed[i] = 0
        return self._lines[:, 0].copy(), self._states.copy()

    def step(self, actions, active) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Step the environments of the boolean mask ``active`` with their rows of ``actions``.

        Returns
        -------
        observations : numpy.ndarray, shape (N, 4)
            What each environment shows (delayed, noisy); rows not stepped are unchanged.
        true_states : numpy.ndarray, shape (N, 4)
            The undelayed, noiseless states (``info["true_observation"]``).
        terminated, truncated : numpy.ndarray of bool, shape (N,)
            For the rows stepped (False elsewhere).
        """
        rows = np.flatnonzero(active)
        for i in rows if self._changing else ():
            change = self._changes[i]
            if change is not None and self._elapsed[i] == change.at_step and change._before_change is None:
                # What DynamicsChange.step does on this step (its reset restores the parameters).
                plant = self._plants[i]
                change._before_change = plant.params
                plant.params = dataclasses.replace(plant.params, **change.new_params)
        # Rows whose plants have equal parameters step together.
        groups: dict = {}
        for position, i in enumerate(rows):
            params = self._plants[i].params
            groups.setdefault(self._classes.index(params), (params, []))[1].append(position)
        forces = np.asarray(actions, dtype=np.float64)[rows].reshape(len(rows), -1)[:, 0]
        states = np.empty((len(rows), 4))
        falls = np.empty(len(rows), dtype=bool)
        for params, positions in groups.values():
            limit = params.force_limit
            stepped = step_dynamics(self._states[rows[positions]], np.clip(forces[positions], -limit, limit),
                                    params)
            states[positions] = stepped
            falls[positions] = ((np.abs(stepped[:, 0]) > params.x_threshold)
                                | (np.abs(stepped[:, 2]) > params.theta_threshold))
        self._states[rows] = states
        terminated = np.zeros(self.n_envs, dtype=bool)
        terminated[rows] = falls
        self._elapsed[rows] += 1
        truncated = np.zeros(self.n_envs, dtype=bool)
        truncated[rows] = self._elapsed[rows] >= self.max_episode_steps
        seen = states
        if self._noisy:
            noise = np.stack([self._noises[i]._rng.standard_normal(self._sigma.shape) for i in rows])
            seen = states + noise * self._sigma
        lines = self._lines[rows]
        lines[:, :-1] = lines[:, 1:].copy()
        lines[:, -1] = seen
        self._lines[rows] = lines
        return self._lines[:, 0].copy(), self._states.copy(), terminated, truncated
