"""Reaching with the two-link arm and the wrist, with and without a 100 ms sensory delay.

For ``cerebellar/TwoLinkArm-v0`` (gravity on) and ``cerebellar/WristStepTracking-v0``,
delays 0 and 100 ms (:class:`~cerebellar.envs.SensoryDelay`), and each agent, runs
the first episode (session) of a fresh agent per seed and reports, from the true
(undelayed) observations:

- reached: fraction of reaches settled within 0.05 rad in 1.0 s;
- median settle time (s), median overshoot (rad), RMS error (rad);
- wrist only: seeds in which all 8 directions were reached *and held* (every
  peripheral target settled within 1.0 s and stayed within tolerance to its end).

Agents
------
Every agent is an entry of :data:`VARIANTS`, a frozen dataclass that says what
it is (``--agents`` picks entries by name):

- ``rls``, ``cerebellum`` (CMAC), ``cerebellum-random``: the library's reaching agent
  (:func:`cerebellar.tasks.reaching.reaching_agent`, settings
  :data:`~cerebellar.tasks.reaching.DEFAULT_REACHING`): the seed's forward-model
  agent, K = 3, internal feedback (Smith predictor) over the delay; on the arm
  with a delay the model sees the arm through ``ArmFeatures``, gentle PD carries
  the command until the model's own error across the delay is small (``trust_``;
  the "model trusted" column is its value at the end of the episode), and the
  first commands, sent while the agent is blind, carry exploratory noise.
- ``oracle``: the seed's agent with the true dynamics as model.
- ``feedback``: the preset PD gains, no model.
- ``tuned-pd``: PD gains searched by differential evolution with the same delay, on
  a reaching score (fraction reached, then settle time), on seeds 1000-1001.
- Variants investigating the arm-with-delay problem (:data:`INVESTIGATIONS`,
  added by ``--variants``): ``rls+seed`` (the seed's agent as it was: blank
  model on the raw observation, no safeguards); variants of the library agent
  (:class:`Library`): ``+corr`` (the Smith predictor's correction 0.05 on the
  angles and velocities), ``+nofallback`` (model's controller from the first
  step), ``+plainmodel`` (the seed's blank model in place of ``ArmFeatures``),
  ``+babble`` (exploratory noise of 1.5 N m added to the gentle fallback while
  the model is untrusted), ``+noblind`` (no exploratory noise while blind),
  ``+practice`` (0.3 s of practice with exploratory noise on a separate arm
  before the session, ``practised_reaching_agent``), ``+truth@N`` (diagnostic:
  the model is replaced by the true dynamics after N learned transitions),
  ``rigid`` (diagnostic, not cerebellar: the arm's exact rigid-body equations
  with their 8 constants learned by RLS); ``cerebellum-smooth`` (the library
  agent with the generic smooth cerebellum through ``JointKinematics``, no
  posture-shaped features); ``oracle[m2*0.8]`` etc. (:class:`WrongOracle`: the
  true dynamics with a parameter scaled: how much model error the seed's
  controller tolerates); and variants of the seed's agent (:class:`SeedAgent`):
  ``+hold`` (add the command that the model says holds the target), ``+gate``
  (model used only once its own delay-span prediction error is small,
  otherwise PD on the delayed observation with softened gains), ``+feat`` (the
  model also sees ``sin q1``, ``sin(q1 + q2)`` and ``cos(q2) u``), ``+stops`` (no
  learning from transitions that touch a joint stop), ``+rollout``
  (RolloutController, horizon 5).

Usage::

    python benchmarks/limb_reaching.py [--seeds 0-9] [--envs arm,wrist] [--delays 0,100]
        [--agents rls,cerebellum,...] [--variants] [--tune] [--workers 1] [--steps N]
    python benchmarks/limb_reaching.py --plot-first-reach docs/img/arm_first_reach.png [--plot-seed 4]

Tuned gains are cached in ``/tmp/limb_reaching_tuned_v3.json`` (``--tune-cache``;
``--tune`` redoes them). ``--steps`` cuts each session short (for a quick check).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import multiprocessing
import os
import time
from dataclasses import dataclass
from functools import partial

import gymnasium as gym
import numpy as np

import cerebellar.envs  # noqa: F401  (registers the environments)
from cerebellar.agent import Agent, FeedbackAgent, SmithPredictor, run_episode
from cerebellar.control import ForwardModelController, LinearFeedback, RolloutController, TrustGated, pd_gains
from cerebellar.envs import SensoryDelay
from cerebellar.models import RLS, make_model
from cerebellar.models.limb import away_from_stops, integrated_predictor
from cerebellar.models.oracle import OracleModel
from cerebellar.tasks import DEFAULT_REACHING, ReachingAgentConfig, get_preset, make_agent
from cerebellar.tasks.reach_metrics import summarise_reaches
from cerebellar.tasks.reaching import (
    TOLERANCE,
    oracle_reaching_agent,
    pd_agent,
    practised_reaching_agent,
    preset_pd,
    reaching_agent,
    run_reaching_episode,
    tune_pd,
)

ENVS = {"arm": "cerebellar/TwoLinkArm-v0", "wrist": "cerebellar/WristStepTracking-v0"}
#: The ``+babble`` variants: exploratory noise (N m) on every fallback command while untrusted.
UNTRUSTED_BABBLING = 1.5
TUNE_SEEDS = (1000, 1001)
TUNE_CACHE = "/tmp/limb_reaching_tuned_v3.json"


def make_env(env_key: str, delay_ms: float, steps: int | None = None):
    """Return the environment, wrapped in a sensory delay when ``delay_ms > 0``.

    ``steps`` ends the session after that many steps (None: the environment's length).
    """
    env = gym.make(ENVS[env_key], **({"max_episode_steps": int(steps)} if steps else {}))
    return SensoryDelay(env, delay_ms=delay_ms) if delay_ms else env


def delay_of(env) -> int:
    """Return the delay in steps of an environment made by :func:`make_env`."""
    return int(getattr(env, "delay_steps", 0))


# --------------------------------------------------------------------------- models


class FeatureModel:
    """A forward model on the arm's state augmented with posture-dependent features.

    The inner linear model sees the state ``(q1, q2, dq1, dq2, t1, t2)`` plus
    ``sin q1`` and ``sin(q1 + q2)`` (gravity) and the command ``u`` plus
    ``cos(q2) u`` (the posture dependence of the inertia), so a linear learner
    can represent the dominant nonlinearities of the arm.

    Parameters
    ----------
    inner : OnlineForwardModel
        A blank model; it is initialised here for the augmented sizes.
    """

    def __init__(self, inner):
        self.inner = inner
        inner.initialise(8, 4)

    @staticmethod
    def _state(state):
        q1, q2 = state[0], state[1]
        return np.concatenate([state, [math.sin(q1), math.sin(q1 + q2)]])

    @staticmethod
    def _command(state, command):
        return np.concatenate([command, math.cos(state[1]) * command])

    def predict(self, state, command):
        """Return the predicted next state (original channels)."""
        state = np.asarray(state, dtype=np.float64)
        command = np.asarray(command, dtype=np.float64)
        return self.inner.predict(self._state(state), self._command(state, command))[:6]

    def learn(self, state, command, next_state):
        """Learn one transition; return the prediction error (original channels)."""
        state = np.asarray(state, dtype=np.float64)
        command = np.asarray(command, dtype=np.float64)
        next_state = np.asarray(next_state, dtype=np.float64)
        return self.inner.learn(self._state(state), self._command(state, command),
                                self._state(next_state))[:6]


class StopFilter:
    """Wrap a model so that it does not learn transitions that touch a joint stop.

    Parameters
    ----------
    inner : ForwardModel
        The model.
    low, high : array_like
        Joint limits (rad) of the two angles.
    margin : float
        Transitions with an angle within this distance of a limit are skipped.
    """

    def __init__(self, inner, low, high, margin: float = 0.02):
        self.inner = inner
        self.low = np.asarray(low) + margin
        self.high = np.asarray(high) - margin

    def predict(self, state, command):
        """Return the inner model's prediction."""
        return self.inner.predict(state, command)

    def learn(self, state, command, next_state):
        """Learn unless the transition touches a stop; return the prediction error."""
        angles = np.concatenate([np.asarray(state)[:2], np.asarray(next_state)[:2]])
        if np.any(angles < np.tile(self.low, 2)) or np.any(angles > np.tile(self.high, 2)):
            return np.asarray(next_state, dtype=np.float64) - self.predict(state, command)
        return self.inner.learn(state, command, next_state)


# --------------------------------------------------------------------------- agents


class GatedAgent(Agent):
    """A delayed forward-model agent that trusts its model only once it predicts well.

    Every estimate of the present (the Smith predictor's output) is checked when the
    delayed observation of that moment arrives ``d`` steps later; the worst angle
    error, averaged over the last ``window`` checks, is the model's reliability.
    While it exceeds ``threshold`` (rad) the agent acts by plain feedback with
    ``fallback`` gains on the delayed observation; below it, through the model.

    Parameters
    ----------
    *args, **kwargs
        As :class:`~cerebellar.Agent`.
    fallback : LinearFeedback
        The controller used while the model is not trusted.
    threshold : float
        Largest mean delay-span angle error (rad) at which the model is trusted.
    window : int
        Number of recent checks averaged.
    """

    def __init__(self, *args, fallback: LinearFeedback, threshold: float = 0.02, window: int = 50,
                 **kwargs):
        super().__init__(*args, **kwargs)
        self.pd_fallback = fallback
        self.threshold = threshold
        self.window = window
        self._pending: list[np.ndarray] = []
        self._errors: list[float] = []
        self.trusted_steps = 0
        self.steps = 0

    @property
    def trusted(self) -> bool:
        """bool: whether the model's recent delay-span predictions were good enough."""
        return len(self._errors) >= self.window and float(np.mean(self._errors)) < self.threshold

    def act(self, observation):
        """Act through the model if trusted, else by fallback feedback on the observation."""
        observation = np.asarray(observation, dtype=np.float64)
        if self.delay_steps and len(self._pending) == self.delay_steps:
            # The estimate made d steps ago was of the moment this observation shows.
            old = self._pending.pop(0)
            self._errors.append(float(np.max(np.abs(old[:2] - observation[:2]))))
            del self._errors[:-self.window]
        action = super().act(observation)
        self._pending.append(self.estimate_.copy())
        self.steps += 1
        if self.trusted:
            self.trusted_steps += 1
            return action
        command = np.minimum(np.maximum(self.pd_fallback(observation), self.actions.low), self.actions.high)
        self.last_command_ = command
        return self.actions.to_action(command)

    def reset(self) -> None:
        """Start a new episode (the reliability record is kept, the pending estimates not)."""
        super().reset()
        self._pending.clear()


class HoldController:
    """Add to the seed's refinement the command the model says holds the goal still.

    ``u = u_hold + ForwardModelController(state)``, with ``u_hold`` solving
    ``C(model(goal, u_hold)) = 0`` for the goal state ``(t, 0, t)`` (target
    angles, zero velocity) by two Newton steps with a finite-difference Jacobian,
    warm-started from the last solution: a learned gravity compensation, so that
    the PD need not be stiff to settle within tolerance.
    """

    def __init__(self, feedback, model, iterations, low, high):
        self.feedback, self.model = feedback, model
        self.low, self.high = low, high
        self.inner = ForwardModelController(feedback, model, iterations, low=low, high=high)
        self.hold_ = np.zeros(len(low))

    def command(self, state):
        """Return the refined command plus the holding command for the state's target."""
        goal = np.array([state[4], state[5], 0.0, 0.0, state[4], state[5]])
        u = self.hold_.copy()
        for _ in range(2):
            f0 = self.feedback(self.model.predict(goal, u))
            jacobian = np.column_stack([self.feedback(self.model.predict(goal, u + e)) - f0
                                        for e in np.eye(len(u))])
            try:
                u = np.clip(u + np.linalg.solve(jacobian, -f0), self.low, self.high)
            except np.linalg.LinAlgError:
                break
        if np.all(np.isfinite(u)):
            self.hold_ = u
        return np.clip(self.hold_ + self.inner.command(state), self.low, self.high)


class PerturbedOracle:
    """The arm's true dynamics with some parameters changed: a model with a known error."""

    def __init__(self, env_key: str, **changes):
        plant = gym.make(ENVS[env_key]).unwrapped
        plant.params = dataclasses.replace(plant.params, **changes)
        self._plant = plant

    def predict(self, state, command):
        """Return the perturbed plant's next state."""
        return self._plant.dynamics(np.asarray(state, dtype=np.float64),
                                    np.asarray(command, dtype=np.float64))

    def learn(self, state, command, next_state):
        """Learn nothing; return the prediction error."""
        return np.asarray(next_state, dtype=np.float64) - self.predict(state, command)


class RigidBodyModel:
    """Diagnostic: the arm's exact rigid-body equations, with its 8 constants learned by RLS.

    ``tau = M(q) ddq + C(q, dq) dq + G(q) + B dq`` is linear in
    ``(a1, a2, a3, a4, a5, b11, b12, b22)``: inertia terms ``a1 + 2 a2 cos q2``,
    ``a3 + a2 cos q2``, ``a3``; gravity ``a4 sin q1 + a5 sin(q1 + q2)``,
    ``a5 sin(q1 + q2)``; viscosity ``B``. Each transition gives the acceleration
    (velocity change over dt) at the step's midpoint and two regression rows.
    Not a cerebellar model: the dynamics' form is given (adaptive control in the
    manner of Slotine and Li); it measures what knowing the form would buy.
    """

    is_initialised = True

    def __init__(self, params, prior: float = 1e3, stop_margin: float = 0.02, max_speed: float = 40.0):
        self.dt = float(params.dt)
        self.low = np.asarray(params.angle_low, dtype=np.float64)
        self.high = np.asarray(params.angle_high, dtype=np.float64)
        self.theta = np.zeros(8)
        self.covariance = np.eye(8) * prior
        self.stop_margin, self.max_speed = stop_margin, max_speed

    @staticmethod
    def _regressor(q, dq, ddq):
        c, s = math.cos(q[1]), math.sin(q[1])
        g12 = math.sin(q[0] + q[1])
        return np.array([
            [ddq[0], 2 * c * ddq[0] + c * ddq[1] - s * dq[1] * (2 * dq[0] + dq[1]), ddq[1],
             math.sin(q[0]), g12, dq[0], dq[1], 0.0],
            [0.0, c * ddq[0] + s * dq[0] ** 2, ddq[0] + ddq[1], 0.0, g12, 0.0, dq[0], dq[1]],
        ])

    def _affine_acceleration(self, q, dq):
        """Return ``(M^-1, r)`` with ``ddq = M^-1 (tau - r)``."""
        a1, a2, a3, a4, a5, b11, b12, b22 = self.theta
        c, s = math.cos(q[1]), math.sin(q[1])
        mass = np.array([[a1 + 2 * a2 * c, a3 + a2 * c], [a3 + a2 * c, a3]]) + 1e-3 * np.eye(2)
        g12 = math.sin(q[0] + q[1])
        rest = np.array([-a2 * s * dq[1] * (2 * dq[0] + dq[1]) + a4 * math.sin(q[0]) + a5 * g12
                         + b11 * dq[0] + b12 * dq[1],
                         a2 * s * dq[0] ** 2 + a5 * g12 + b12 * dq[0] + b22 * dq[1]])
        try:
            inverse = np.linalg.inv(mass)
        except np.linalg.LinAlgError:
            inverse = np.zeros((2, 2))
        return inverse, rest

    def predictor(self, state):
        """Return the affine ``command -> next observation`` for a fixed state."""
        state = np.asarray(state, dtype=np.float64)
        inverse, rest = self._affine_acceleration(state[:2], state[2:4])
        return integrated_predictor(state, state[2:4] - self.dt * inverse @ rest, self.dt * inverse,
                                    self.dt)

    def predict(self, state, command):
        """Return the predicted next observation (speeds and angles clipped)."""
        state = np.asarray(state, dtype=np.float64)
        affine = self.predictor(state)
        nxt = affine.offset + affine.slope @ np.asarray(command, dtype=np.float64)
        nxt[2:4] = np.clip(nxt[2:4], -self.max_speed, self.max_speed)
        nxt[:2] = np.clip(state[:2] + 0.5 * self.dt * (state[2:4] + nxt[2:4]), self.low, self.high)
        return nxt

    def learn(self, state, command, next_state):
        """Learn the constants from one transition (unless it touches a stop)."""
        state, next_state = np.asarray(state, dtype=np.float64), np.asarray(next_state, dtype=np.float64)
        command = np.asarray(command, dtype=np.float64)
        error = next_state - self.predict(state, command)
        if away_from_stops(state, next_state, self.low, self.high, self.stop_margin):
            ddq = (next_state[2:4] - state[2:4]) / self.dt
            q = 0.5 * (state[:2] + next_state[:2])
            dq = 0.5 * (state[2:4] + next_state[2:4])
            for row, torque in zip(self._regressor(q, dq, ddq), command, strict=True):
                gain = self.covariance @ row / (1.0 + row @ self.covariance @ row)
                self.theta += gain * (torque - row @ self.theta)
                self.covariance -= np.outer(gain, row @ self.covariance)
        return error


class TruthAfter:
    """A learned model that is replaced by the true dynamics after ``after`` learned transitions."""

    is_initialised = True

    def __init__(self, learned, truth, after: int):
        self.learned, self.truth, self.after, self.seen = learned, truth, after, 0

    def _current(self):
        return self.truth if self.seen >= self.after else self.learned

    def predict(self, state, command):
        """Predict with the learned model, or with the truth once it has taken over."""
        return self._current().predict(state, command)

    def predictor(self, state):
        """Return ``command -> next state`` from the current model."""
        model = self._current()
        if hasattr(model, "predictor"):
            return model.predictor(state)
        return lambda command: model.predict(state, command)

    def learn(self, state, command, next_state):
        """Let the learned model learn (it keeps learning after the swap); count it."""
        self.seen += 1
        return self.learned.learn(state, command, next_state)


def tuned_pd(env_key: str, delay_ms: float, generations: int = 15, retune: bool = False,
             cache: str = TUNE_CACHE) -> dict:
    """Return the tuned PD gains ``{"kp", "kd"}`` of a task, cached.

    The gains are searched by :func:`~cerebellar.tasks.reaching.tune_pd`; the cache
    (JSON) holds each task's :class:`~cerebellar.tasks.TuningResult` as a dict.
    """
    results = {}
    if os.path.exists(cache):
        with open(cache) as handle:
            results = json.load(handle)
    key = f"{env_key}-{int(delay_ms)}"
    if key not in results or retune:
        result = tune_pd(lambda: make_env(env_key, delay_ms), seeds=TUNE_SEEDS, generations=generations)
        results[key] = result.to_dict()
        print(f"tuned {key}: {json.dumps(results[key])}", flush=True)
        with open(cache, "w") as handle:
            json.dump(results, handle)
    return results[key]["params"]


def use_model(agent: Agent, model) -> None:
    """Put ``model`` in the place of a library agent's model: its own, its controller's, its fallback's."""
    agent.model = model
    controller = agent.controller
    parts = [controller]
    if isinstance(controller, TrustGated):
        parts = [controller.controller, controller.fallback]
    for part in parts:
        # Babbling wraps the gentle fallback (which, with K = 0, never consults its model).
        getattr(part, "inner", part).model = model


def hold_controller(model, feedback, actions) -> HoldController:
    """Return :class:`HoldController` (K = 3) for an agent's model, feedback and actions."""
    return HoldController(feedback, model, 3, actions.low, actions.high)


def rollout_controller(model, feedback, actions) -> RolloutController:
    """Return a :class:`~cerebellar.control.RolloutController` (horizon 5, K = 3)."""
    return RolloutController(feedback, model, horizon=5, iterations=3, low=actions.low, high=actions.high)


#: The seed's agent's controller, by name: the seed's refinement (None: the default), or a factory.
CONTROLLERS = {"refine": None, "hold": hold_controller, "rollout": rollout_controller}


# --------------------------------------------------------------------------- the variants


@dataclass(frozen=True)
class Variant:
    """One agent of the benchmark, as data; :meth:`build` returns a fresh one for an environment.

    Attributes
    ----------
    name : str
        Its name in ``--agents`` and in the tables.
    """

    name: str

    #: Whether :meth:`build` needs the task's tuned PD gains.
    needs_tuning = False

    def build(self, env, env_key: str, delay_ms: float, seed: int, tuned: dict | None = None):
        """Return a fresh agent for ``env`` (``tuned``: the task's tuned PD gains, if it needs them)."""
        raise NotImplementedError


@dataclass(frozen=True)
class PD(Variant):
    """Plain PD on the observation as it arrives, no model: the preset gains, or ``tuned`` ones."""

    tuned: bool = False

    @property
    def needs_tuning(self) -> bool:  # noqa: D102
        return self.tuned

    def build(self, env, env_key, delay_ms, seed, tuned=None):  # noqa: D102
        if self.tuned:
            return pd_agent(env, tuned)
        return FeedbackAgent.for_env(env, get_preset(ENVS[env_key]).gains)


@dataclass(frozen=True)
class Library(Variant):
    """The library's reaching agent (:func:`~cerebellar.tasks.reaching.reaching_agent`), possibly changed.

    Attributes
    ----------
    model : str
        Its model's name; ``"oracle"``: the true dynamics
        (:func:`~cerebellar.tasks.reaching.oracle_reaching_agent`).
    config : ReachingAgentConfig
        Its settings.
    practice : bool
        Practise before the session (:func:`~cerebellar.tasks.reaching.practised_reaching_agent`).
    correction : float
        The Smith predictor's bias correction on the angles and velocities (0: none).
    truth_after : int, optional
        Diagnostic: the model becomes the true dynamics after this many learned transitions.
    rigid : bool
        Diagnostic: the model is :class:`RigidBodyModel` (the arm's equations, constants learned).
    """

    model: str = "rls"
    config: ReachingAgentConfig = DEFAULT_REACHING
    practice: bool = False
    correction: float = 0.0
    truth_after: int | None = None
    rigid: bool = False

    def build(self, env, env_key, delay_ms, seed, tuned=None):  # noqa: D102
        d = delay_of(env)
        if self.model == "oracle":
            return oracle_reaching_agent(env, delay_steps=d, config=self.config)
        if self.practice:
            agent = practised_reaching_agent(env, partial(make_env, env_key, delay_ms), self.model, seed=seed,
                                             delay_steps=d, config=self.config)
        else:
            agent = reaching_agent(env, self.model, seed=seed, delay_steps=d, config=self.config)
        if self.correction and agent.internal_feedback is not None:
            agent.internal_feedback = SmithPredictor(d, agent.n_state, self.correction,
                                                     corrected_channels=(0, 1, 2, 3))
        if self.rigid:
            use_model(agent, RigidBodyModel(env.unwrapped.params))
        if self.truth_after is not None:
            use_model(agent, TruthAfter(agent.model, OracleModel(env), self.truth_after))
        return agent


@dataclass(frozen=True)
class SeedAgent(Variant):
    """The seed's agent (a blank model on the raw observation refining the preset PD, K = 3), changed.

    Attributes
    ----------
    model : str
        Its model's name; ``"oracle"``: the true dynamics.
    features : bool
        The model sees :class:`FeatureModel`'s posture-dependent features.
    stops : bool
        The model does not learn transitions that touch a joint stop (:class:`StopFilter`).
    gate : bool
        :class:`GatedAgent`: the model is used only once it predicts well across the
        delay, otherwise PD with 5% of the preset gains on the delayed observation.
    controller : str
        A key of :data:`CONTROLLERS`: ``"refine"`` (the seed's), ``"hold"`` or ``"rollout"``.
    """

    model: str = "rls"
    features: bool = False
    stops: bool = False
    gate: bool = False
    controller: str = "refine"

    def build(self, env, env_key, delay_ms, seed, tuned=None):  # noqa: D102
        d = delay_of(env)
        preset = get_preset(ENVS[env_key])
        if self.model == "oracle":
            model = OracleModel(env)
        elif self.features:
            extra_state = (1.0, 1.0)
            inner_scale = tuple(preset.state_scale) + extra_state + tuple(preset.command_scale) * 2
            inner = RLS(input_scale=inner_scale) if self.model == "rls" else make_model(
                self.model, seed=seed, input_scale=inner_scale)
            model = FeatureModel(inner)
        else:
            model = make_model(self.model, seed=seed,
                               input_scale=tuple(preset.state_scale) + tuple(preset.command_scale))
            model.initialise(6, 2)
        if self.stops:
            params = env.unwrapped.params
            model = StopFilter(model, params.angle_low, params.angle_high)
        agent = make_agent(env, model=model, iterations=3, delay_steps=d,
                           controller=CONTROLLERS[self.controller])
        if not self.gate:
            return agent
        # A gentle fallback: 5% of the preset gains, stable under the delay (the
        # limb sags, but it does not flail into its stops).
        kp, kd = preset_pd(env)
        return GatedAgent(agent.model, agent.controller, agent.actions, agent.n_state,
                          internal_feedback=agent.internal_feedback,
                          fallback=LinearFeedback(pd_gains(kp * 0.05, kd * 0.05)))


@dataclass(frozen=True)
class WrongOracle(Variant):
    """The seed's agent through the true dynamics with some parameters scaled: a known model error.

    Attributes
    ----------
    scale : tuple of (str, float)
        ``(field, factor)`` pairs: each plant parameter ``field`` times ``factor``.
    """

    scale: tuple[tuple[str, float], ...] = ()

    def build(self, env, env_key, delay_ms, seed, tuned=None):  # noqa: D102
        params = env.unwrapped.params
        changes = {field: getattr(params, field) * factor for field, factor in self.scale}
        return make_agent(env, model=PerturbedOracle(env_key, **changes), iterations=3,
                          delay_steps=delay_of(env))


#: The library agent's settings in the ``+noblind`` and ``+babble`` variants.
NO_BLIND = dataclasses.replace(DEFAULT_REACHING, babbling=0.0)
BABBLE_UNTRUSTED = dataclasses.replace(DEFAULT_REACHING, babbling=UNTRUSTED_BABBLING, babbling_steps=10**9)

#: The agents of the main tables.
BASE = (
    Library("rls", "rls"),
    Library("cerebellum", "cerebellum"),
    Library("cerebellum-random", "cerebellum-random"),
    Library("oracle", "oracle"),
    PD("feedback"),
    PD("tuned-pd", tuned=True),
)
#: The variants investigating the arm-with-delay problem (``--variants``).
INVESTIGATING = (
    SeedAgent("rls+gate", "rls", gate=True),
    SeedAgent("cerebellum-random+gate", "cerebellum-random", gate=True),
    SeedAgent("rls+feat", "rls", features=True),
    SeedAgent("rls+feat+gate", "rls", features=True, gate=True),
    SeedAgent("rls+stops+gate", "rls", stops=True, gate=True),
    SeedAgent("rls+feat+stops+gate", "rls", features=True, stops=True, gate=True),
    SeedAgent("cerebellum-random+feat+gate", "cerebellum-random", features=True, gate=True),
    SeedAgent("rls+rollout", "rls", controller="rollout"),
    SeedAgent("oracle+rollout", "oracle", controller="rollout"),
    SeedAgent("rls+hold", "rls", controller="hold"),
    SeedAgent("rls+feat+hold", "rls", features=True, controller="hold"),
    SeedAgent("oracle+hold", "oracle", controller="hold"),
    WrongOracle("oracle[m2*0.8]", (("m2", 0.8),)),
    WrongOracle("oracle[g*0.9]", (("g", 0.9),)),
    WrongOracle("oracle[m2*1.25]", (("m2", 1.25),)),
    WrongOracle("oracle[i1*1.5,i2*1.5]", (("i1", 1.5), ("i2", 1.5))),
    SeedAgent("rls+seed", "rls"),
    Library("rls+corr", "rls", correction=0.05),
    Library("rls+nofallback", "rls", dataclasses.replace(DEFAULT_REACHING, fallback=False)),
    Library("rls+plainmodel", "rls", dataclasses.replace(DEFAULT_REACHING, features="plain")),
    Library("cerebellum-smooth", "cerebellum-smooth"),
    Library("rls+babble", "rls", BABBLE_UNTRUSTED),
    Library("cerebellum+babble", "cerebellum", BABBLE_UNTRUSTED),
    Library("rls+noblind", "rls", NO_BLIND),
    Library("cerebellum+noblind", "cerebellum", NO_BLIND),
    Library("rls+practice", "rls", practice=True),
    Library("cerebellum+practice", "cerebellum", practice=True),
    Library("rls+truth@30", "rls", truth_after=30),
    Library("rls+truth@50", "rls", truth_after=50),
    Library("rls+truth@80", "rls", truth_after=80),
    Library("rigid", "rls", rigid=True),
)
#: Every agent, by name (``--agents``); ``nlms`` is the library agent with NLMS
#: (on the delayed arm it fails: its structured model takes only RLS and the cerebellums).
VARIANTS: dict[str, Variant] = {v.name: v for v in (*BASE, *INVESTIGATING, Library("nlms", "nlms"))}
BASE_AGENTS = tuple(v.name for v in BASE)
INVESTIGATIONS = tuple(v.name for v in INVESTIGATING)


# --------------------------------------------------------------------------- running


def all_held(reaches) -> bool:
    """Whether all 8 wrist targets were reached and held.

    A reach counts as reached when it settles within 1 s, i.e. it stays within
    tolerance from then to the end of the target phase, so reached implies held.
    """
    return len(reaches) == 8 and all(r.reached for r in reaches)


def run_job(job) -> dict:
    """Run one ``(env_key, delay_ms, agent_name, seed, steps, tuned)`` job; return its record."""
    env_key, delay_ms, name, seed, steps, tuned = job
    env = make_env(env_key, delay_ms, steps)
    started = time.perf_counter()
    agent = None
    try:
        agent = VARIANTS[name].build(env, env_key, delay_ms, seed, tuned)
        reaches, truths = run_reaching_episode(env, agent, seed)
        failure = None
    except (FloatingPointError, ValueError, np.linalg.LinAlgError) as error:
        reaches, truths, failure = [], None, f"{type(error).__name__}: {error}"
    record = {"env": env_key, "delay": delay_ms, "agent": name, "seed": seed, "reaches": reaches,
              "failure": failure, "seconds": time.perf_counter() - started,
              "all8": env_key == "wrist" and truths is not None and all_held(reaches)}
    if isinstance(agent, GatedAgent) and failure is None:
        record["trusted"] = agent.trusted_steps / max(agent.steps, 1)
    elif isinstance(getattr(agent, "controller", None), TrustGated) and failure is None:
        record["trusted"] = agent.trust_  # at the end of the episode
    return record


def fmt(value: float, digits: int = 3) -> str:
    """Format a number for the tables (inf and NaN as words)."""
    if math.isnan(value):
        return "-"
    if math.isinf(value):
        return "inf"
    return f"{value:.{digits}f}"


def print_table(records, env_key: str, seeds) -> None:
    """Print one Markdown table for an environment."""
    print(f"\n### {ENVS[env_key]} (first episode, seeds {seeds[0]}-{seeds[-1]})\n")
    header = ("| delay | agent | reached (0.05 rad, 1 s) | first reaches | median settle (s) "
              "| median overshoot (rad) | RMS error (rad)")
    rule = "|---|---|---|---|---|---|---"
    if env_key == "wrist":
        header += " | all 8 reached and held"
        rule += "|---"
    header += " | failed runs | model trusted | s/run |"
    rule += "|---|---|---|"
    print(header)
    print(rule)
    groups: dict = {}
    for record in records:
        if record["env"] == env_key:
            groups.setdefault((record["delay"], record["agent"]), []).append(record)
    for (delay, name), group in groups.items():
        reaches = [r for record in group for r in record["reaches"]]
        summary = summarise_reaches(reaches)
        failed = sum(record["failure"] is not None for record in group)
        trusted = [record["trusted"] for record in group if "trusted" in record]
        row = (f"| {int(delay)} ms | {name} | **{fmt(100 * summary.fraction_reached, 1)}%** "
               f"({sum(r.reached for r in reaches)}/{len(reaches)}) "
               f"| {sum(bool(record['reaches']) and record['reaches'][0].reached for record in group)}"
               f"/{len(group)} | {fmt(summary.median_settle_time, 2)} "
               f"| {fmt(summary.median_overshoot)} | {fmt(summary.rms_error)}")
        if env_key == "wrist":
            row += f" | {sum(record['all8'] for record in group)}/{len(group)}"
        row += (f" | {failed} | {fmt(100 * np.mean(trusted), 0) + '%' if trusted else '-'} "
                f"| {np.mean([record['seconds'] for record in group]):.1f} |")
        print(row)


def first_reach_trace(agent, env, seed: int, steps: int = 150) -> dict:
    """Run ``steps`` steps of a session; return per-step true angles, targets, torques and trust."""
    truths, torques, trust = [], [], []

    def start(observation, info):
        truths.append(info.get("true_observation", observation))

    def step(step):
        truths.append(step.info.get("true_observation", step.next_observation))
        torques.append(np.asarray(step.action, dtype=np.float64))
        trust.append(getattr(agent, "trust_", 1.0))

    run_episode(agent, env, seed=seed, max_steps=steps, on_start=start, on_step=step)
    return {"truths": np.array(truths), "torques": np.array(torques), "trust": np.array(trust)}


def plot_first_reach(path: str, seed: int) -> None:
    """Plot the first 1.5 s of a session on the delayed arm: blank, practised and oracle agents."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    agents = {"rls, blank": "rls", "rls after 0.3 s practice": "rls+practice", "oracle": "oracle"}
    traces = {}
    for label, name in agents.items():
        env = make_env("arm", 100.0)
        traces[label] = first_reach_trace(VARIANTS[name].build(env, "arm", 100.0, seed), env, seed)
    dt = gym.make(ENVS["arm"]).unwrapped.params.dt
    figure, axes = plt.subplots(4, 1, sharex=True, figsize=(8, 8.5))
    colours = {"rls, blank": "tab:red", "rls after 0.3 s practice": "tab:blue", "oracle": "0.3"}
    for label, trace in traces.items():
        time_axis = np.arange(len(trace["truths"])) * dt
        for joint, axis in enumerate(axes[:2]):
            axis.plot(time_axis, trace["truths"][:, joint], color=colours[label], lw=1.2,
                      ls="--" if label == "oracle" else "-", label=label)
        axes[2].plot(time_axis[1:], trace["torques"][:, 0], color=colours[label], lw=0.9,
                     ls="--" if label == "oracle" else "-")
        if label != "oracle":
            axes[3].plot(time_axis[1:], trace["trust"], color=colours[label], lw=1.2)
    target = traces["oracle"]["truths"][0, 4:6]
    for joint, (axis, name) in enumerate(zip(axes[:2], ("shoulder q1 (rad)", "elbow q2 (rad)"),
                                             strict=True)):
        axis.axhspan(target[joint] - TOLERANCE, target[joint] + TOLERANCE, color="tab:green",
                     alpha=0.25, lw=0, label="target ± 0.05 rad" if joint == 0 else None)
        axis.set_ylabel(name)
    for axis in axes:
        axis.axvline(1.0, color="0.5", lw=0.8, ls=":")
    axes[2].set_ylabel("shoulder torque (N m)")
    axes[3].set_ylabel("trust in the model")
    axes[3].set_xlabel("time in the session (s); the reach must settle by 1.0 s (dotted)")
    axes[0].legend(loc="best", fontsize=8)
    axes[0].set_title(f"Delayed arm (100 ms), first reach of a session, seed {seed}")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    print(f"wrote {path}")


def parse_seeds(text: str) -> list[int]:
    """Parse ``"0-9"`` or ``"0,3,5"``."""
    if "-" in text:
        low, high = text.split("-")
        return list(range(int(low), int(high) + 1))
    return [int(s) for s in text.split(",")]


def main(argv=None) -> None:
    """Parse the arguments (default: the command line), tune if asked, run the jobs, print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", default="0-9", help="evaluation seeds, e.g. 0-9 or 0,3")
    parser.add_argument("--envs", default="arm,wrist")
    parser.add_argument("--delays", default="0,100", help="sensory delays in ms")
    parser.add_argument("--agents", default=",".join(BASE_AGENTS),
                        help=f"agents, by name: {', '.join(VARIANTS)}")
    parser.add_argument("--variants", action="store_true", help="add the arm-with-delay fixes")
    parser.add_argument("--tune", action="store_true", help="(re)tune the PD opponent first")
    parser.add_argument("--generations", type=int, default=15)
    parser.add_argument("--tune-cache", default=TUNE_CACHE, help="JSON cache of the tuned PD gains")
    parser.add_argument("--steps", type=int, default=None,
                        help="end each session after this many steps (default: the whole session)")
    parser.add_argument("--plot-first-reach", metavar="PNG", default=None,
                        help="only plot the first reach on the delayed arm (blank, practised, oracle)")
    parser.add_argument("--plot-seed", type=int, default=4, help="seed of that plot")
    parser.add_argument("--workers", type=int, default=1,
                        help="processes for the runs (1: in this process)")
    args = parser.parse_args(argv)
    if args.plot_first_reach:
        plot_first_reach(args.plot_first_reach, args.plot_seed)
        return
    seeds = parse_seeds(args.seeds)
    envs = args.envs.split(",")
    delays = [float(d) for d in args.delays.split(",")]
    agents = args.agents.split(",") + (list(INVESTIGATIONS) if args.variants else [])
    unknown = [name for name in agents if name not in VARIANTS]
    if unknown:
        parser.error(f"unknown agents {', '.join(unknown)}; choose from {', '.join(VARIANTS)}")
    tuned = {}
    if any(VARIANTS[name].needs_tuning for name in agents) or args.tune:
        # Tuned before the runs (one process), so that the runs only receive the gains.
        for env_key in envs:
            for delay in delays:
                tuned[env_key, delay] = tuned_pd(env_key, delay, args.generations, retune=args.tune,
                                                 cache=args.tune_cache)
    jobs = [(e, d, a, s, args.steps, tuned.get((e, d)) if VARIANTS[a].needs_tuning else None)
            for e in envs for d in delays for a in agents for s in seeds]
    started = time.perf_counter()
    if args.workers > 1:
        with multiprocessing.Pool(args.workers) as pool:
            records = pool.map(run_job, jobs, chunksize=1)
    else:
        records = [run_job(job) for job in jobs]
    for env_key in envs:
        print_table(records, env_key, seeds)
    print(f"\n{len(jobs)} runs in {time.perf_counter() - started:.0f} s on {args.workers} worker(s)")


if __name__ == "__main__":
    main()
