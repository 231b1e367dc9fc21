"""The one episode loop: running, practice and tuning all step an agent through it.

An agent is anything with ``act(observation) -> action``, ``observe(observation,
action, next_observation)`` and ``reset()`` (:class:`AgentProtocol`).
:func:`run_episode` runs one episode and hands every step to an optional
callback; :func:`run_episodes` records traces on top of it (bounded, and
optionally streamed to a CSV, for long runs); :func:`practise` lets an agent
learn from its own noisy movements before a task.
"""

from __future__ import annotations

import csv
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np

from .._io import atomic_write
from ..envs import CartPoleVector
from .results import EpisodeTrace, RunResult, csv_header, csv_row


@runtime_checkable
class AgentProtocol(Protocol):
    """What the episode loop needs of an agent."""

    def act(self, observation): ...  # noqa: D102

    def observe(self, observation, action, next_observation): ...  # noqa: D102

    def reset(self) -> None: ...  # noqa: D102


@dataclass(frozen=True)
class Step:
    """One step of an episode, as the loop hands it to a callback.

    Attributes
    ----------
    index : int
        Step number in the episode, from 0.
    observation, action, next_observation
        The transition.
    reward : float
        The environment's reward.
    info : dict
        The environment's info of the step (``true_observation`` where a
        perturbation wrapper reports it).
    error : numpy.ndarray or None
        What ``agent.observe`` returned (a learning agent's prediction error).
    """

    index: int
    observation: Any
    action: Any
    reward: float
    next_observation: Any
    info: dict
    error: Any


@dataclass(frozen=True)
class EpisodeOutcome:
    """How one episode ended: its length, return and whether the env terminated or truncated it."""

    length: int
    total_return: float
    terminated: bool
    truncated: bool


def run_episode(agent, env, seed: int | None = None, max_steps: int | None = None,
                on_start: Callable | None = None, on_step: Callable | None = None) -> EpisodeOutcome:
    """Run one episode of ``agent`` on ``env``; the agent learns from every step.

    Parameters
    ----------
    agent : AgentProtocol
        The agent; it is reset after the environment.
    env : gymnasium.Env
        The environment, reset with ``seed``.
    seed : int or None
        Seed of the environment's reset (None continues its random stream).
    max_steps : int, optional
        End the episode (as truncated) after this many steps.
    on_start : callable, optional
        ``on_start(observation, info)`` after the reset.
    on_step : callable, optional
        ``on_step(step)`` with a :class:`Step` after each step.

    Returns
    -------
    EpisodeOutcome
    """
    observation, info = env.reset(seed=seed)
    agent.reset()
    if on_start is not None:
        on_start(observation, info)
    steps, total = 0, 0.0
    terminated = truncated = False
    while not (terminated or truncated):
        action = agent.act(observation)
        next_observation, reward, terminated, truncated, info = env.step(action)
        error = agent.observe(observation, action, next_observation)
        steps += 1
        total += float(reward)
        if max_steps is not None and steps >= max_steps:
            truncated = True
        if on_step is not None:
            on_step(Step(steps - 1, observation, action, float(reward), next_observation, info, error))
        observation = next_observation
    return EpisodeOutcome(steps, total, bool(terminated), bool(truncated))


class _Rows:
    """Rows of one width appended into a numpy array that doubles as it fills (no per-row objects)."""

    def __init__(self, width: int):
        self.data = np.empty((64, width))
        self.count = 0

    def append(self, row) -> None:
        if self.count == len(self.data):
            self.data = np.concatenate([self.data, np.empty_like(self.data)])
        self.data[self.count] = row
        self.count += 1

    def array(self) -> np.ndarray:
        return self.data[:self.count].copy()


class _Recorder:
    """Builds the traces of a run, keeping at most ``limit`` steps in memory; may stream a CSV."""

    def __init__(self, agent, n_state: int, n_command: int, limit: int | None, writer=None):
        self.agent = agent
        self.n_state = n_state
        self.n_command = n_command
        self.limit = math.inf if limit is None else int(limit)
        self.writer = writer
        self.kept = 0
        self.episode = -1

    def start(self, observation, info) -> None:
        self.episode += 1
        n, m = self.n_state, self.n_command
        self.observations, self.truths, self.errors = _Rows(n), _Rows(n), _Rows(n)
        self.commands, self.applied, self.rewards = _Rows(m), _Rows(m), _Rows(1)
        self.observations.append(observation)
        self.truths.append(info.get("true_observation", observation))
        self.components: dict[str, _Rows] = {}

    def step(self, step: Step) -> None:
        command, applied = _commands_of(self.agent, step.action)
        # A delayed agent has nothing to learn at first: record NaN.
        error = np.full(self.n_state, np.nan) if step.error is None else np.asarray(step.error, dtype=float)
        if self.writer is not None:
            self.writer.writerow(csv_row(self.episode, step.index, np.asarray(step.observation, dtype=float),
                                         command, applied, step.reward, error))
        if self.kept >= self.limit:
            return
        self.kept += 1
        self.commands.append(command)
        self.applied.append(applied)
        self.rewards.append(step.reward)
        self.errors.append(error)
        for name, part in (getattr(self.agent, "last_components_", None) or {}).items():
            self.components.setdefault(name, _Rows(len(part))).append(part)
        self.observations.append(step.next_observation)
        self.truths.append(step.info.get("true_observation", step.next_observation))

    def trace(self, outcome: EpisodeOutcome) -> EpisodeTrace:
        rewards = self.rewards.array()[:, 0]
        # With every step kept, the return is numpy's sum of the rewards (pairwise, as
        # traces have always summed it); a capped trace keeps the loop's running sum.
        total = float(rewards.sum()) if len(rewards) == outcome.length else outcome.total_return
        return EpisodeTrace(
            observations=self.observations.array(),
            commands=self.commands.array(),
            applied=self.applied.array(),
            rewards=rewards,
            prediction_errors=self.errors.array(),
            terminated=outcome.terminated,
            truncated=outcome.truncated,
            true_observations=self.truths.array(),
            length=outcome.length,
            total_return=total,
            components={name: rows.array() for name, rows in self.components.items()},
        )


def _commands_of(agent, action) -> tuple[np.ndarray, np.ndarray]:
    """Return the agent's continuous command and the command its action sent (the efference copy).

    For an agent without an action map or a ``last_command_`` (any
    act/observe/reset agent), both are the action itself, as numbers.
    """
    actions = getattr(agent, "actions", None)
    applied = (actions.to_command(action) if actions is not None
               else np.atleast_1d(np.asarray(action, dtype=np.float64)).ravel())
    command = getattr(agent, "last_command_", None)
    command = applied if command is None else np.atleast_1d(np.asarray(command, dtype=np.float64))
    return command, applied


def run_episodes(agent, env, episodes: int = 1, seed: int = 0, max_steps: int | None = None,
                 progress=None, label: str | None = None, max_recorded_steps: int | None = None,
                 csv_path=None) -> RunResult:
    """Run ``agent`` on ``env``; the agent learns throughout and is reset between episodes.

    Parameters
    ----------
    agent : AgentProtocol
        Anything with ``act(obs)``, ``observe(obs, action, next_obs)`` and
        ``reset()``. Where it has them, ``last_command_`` (its continuous
        command) and ``actions`` (an :class:`~cerebellar.control.ActionMap`)
        are recorded too; otherwise the action stands for both.
    env : gymnasium.Env
        The environment. It is reset with ``seed`` before the first episode and
        without a seed afterwards, so a run is reproducible from its seed.
    episodes : int
        Number of episodes.
    seed : int
        Seed of the environment's first reset.
    max_steps : int, optional
        Stop an episode after this many steps even if the environment would not.
    progress : callable, optional
        Called with the number of steps taken after each step (for progress bars).
    label : str, optional
        A name for what ran; by default the agent's ``label`` or class name.
    max_recorded_steps : int, optional
        Keep at most this many steps of traces in memory over the whole run
        (the first ones); lengths and returns still count every step. None
        keeps everything.
    csv_path : str or os.PathLike, optional
        Stream one row per step (every step, whatever is kept in memory) to
        this CSV, written atomically when the run ends (no file on failure).

    Returns
    -------
    RunResult
    """
    if int(episodes) != episodes or episodes < 1:
        raise ValueError(f"episodes must be a positive integer, got {episodes}")
    if max_recorded_steps is not None and (int(max_recorded_steps) != max_recorded_steps
                                           or max_recorded_steps < 0):
        raise ValueError(f"max_recorded_steps must be a non-negative integer, got {max_recorded_steps}")
    for method in ("act", "observe", "reset"):
        if not callable(getattr(agent, method, None)):
            raise TypeError(f"agent must have act, observe and reset methods; {agent!r} has no {method}")
    env_id = env.spec.id if env.spec is not None else type(env.unwrapped).__name__
    if label is None:
        label = getattr(agent, "label", type(agent).__name__)
    n_state = int(np.prod(env.observation_space.shape))
    names = tuple(getattr(agent, "observation_names", ()) or ())
    started = time.perf_counter()
    if csv_path is None:
        return _run(agent, env, episodes, seed, max_steps, progress, label, max_recorded_steps, None,
                    env_id, n_state, names, started)
    with atomic_write(csv_path, "w", newline="") as stream:
        writer = csv.writer(stream)
        n_command = _command_width(agent, env)
        writer.writerow(csv_header(names, n_state, n_command))
        return _run(agent, env, episodes, seed, max_steps, progress, label, max_recorded_steps, writer,
                    env_id, n_state, names, started)


def _command_width(agent, env) -> int:
    actions = getattr(agent, "actions", None)
    if actions is not None:
        return actions.n_command
    shape = getattr(env.action_space, "shape", None)
    return int(np.prod(shape)) if shape else 1


def _run(agent, env, episodes, seed, max_steps, progress, label, limit, writer, env_id, n_state, names,
         started) -> RunResult:
    recorder = _Recorder(agent, n_state, _command_width(agent, env), limit, writer)

    def on_step(step):
        recorder.step(step)
        if progress is not None:
            progress(1)

    traces = []
    for number in range(episodes):
        outcome = run_episode(agent, env, seed=seed if number == 0 else None, max_steps=max_steps,
                              on_start=recorder.start, on_step=on_step)
        traces.append(recorder.trace(outcome))
    return RunResult(env_id=env_id, label=label, seed=seed, episodes=traces,
                     seconds=time.perf_counter() - started, observation_names=names,
                     observation_units=tuple(getattr(agent, "observation_units", ()) or ()),
                     command_names=tuple(getattr(agent, "command_names", ()) or ()),
                     command_units=tuple(getattr(agent, "command_units", ()) or ()))


class _Exploring:
    """An agent whose every command carries Gaussian exploratory noise (for :func:`practise`)."""

    def __init__(self, agent, noise: float, rng):
        self.agent = agent
        self.noise = noise
        self.rng = rng

    def act(self, observation):
        action = self.agent.act(observation)
        if not self.noise:
            return action
        command = self.agent.last_command_
        return self.agent.actions.to_action(command + self.noise * self.rng.standard_normal(command.shape))

    def observe(self, observation, action, next_observation):
        return self.agent.observe(observation, action, next_observation)

    def reset(self) -> None:
        self.agent.reset()


def practise(agent, env, steps: int, noise: float = 0.0, seed: int | None = None) -> int:
    """Let ``agent`` learn from ``steps`` steps of its own movements in ``env``, then start afresh.

    Motor babbling before a task: the agent acts as it would (its controller,
    its internal feedback over any delay) with Gaussian exploratory noise of
    standard deviation ``noise`` (command units) added to every command, and
    learns from every transition. Nothing is scored; afterwards the agent is
    reset for a new episode (what it learned is kept). An episode that ends
    is reset and the practice goes on.

    Parameters
    ----------
    agent : Agent
        A learning agent with ``last_command_`` and ``actions`` (as
        :class:`~cerebellar.agent.Agent`).
    env : gymnasium.Env
        The environment to practise in: a separate instance of the task's
        (with the same delay, since the agent compensates it).
    steps : int
        Environment steps of practice.
    noise : float
        Standard deviation of the exploratory noise; 0 practises without it.
    seed : int or None
        Seeds the environment's first reset and the noise.

    Returns
    -------
    int
        The number of transitions learned (fewer than ``steps`` under a
        delay: the first ``d`` of each episode show no transition yet).
    """
    if isinstance(steps, bool) or int(steps) != steps or steps < 1:
        raise ValueError(f"steps must be a positive integer, got {steps}")
    if not (math.isfinite(noise) and noise >= 0.0):
        raise ValueError(f"noise must be a finite non-negative number, got {noise}")
    exploring = _Exploring(agent, float(noise), np.random.default_rng(seed))
    learned = 0

    def count(step):
        nonlocal learned
        learned += step.error is not None

    remaining, first = int(steps), True
    while remaining:
        outcome = run_episode(exploring, env, seed=seed if first else None, max_steps=remaining,
                              on_step=count)
        remaining -= outcome.length
        first = False
    agent.reset()
    return learned


class _OneOfVector:
    """Agent ``index`` of a vector agent, as the recorder reads an agent (its actions and last command)."""

    def __init__(self, vector, index: int):
        self.vector = vector
        self.index = index
        self.actions = vector.actions

    @property
    def last_command_(self):
        commands = self.vector.last_command_
        return None if commands is None else commands[self.index]


def run_vector_episodes(agent, envs, episodes: int = 1, seeds=None, max_steps: int | None = None,
                        progress=None, label: str | None = None,
                        max_recorded_steps: int | None = None) -> list[RunResult]:
    """Run a vector agent on one environment per agent; what :func:`run_episodes` gives for each.

    Agent ``i`` (of a :class:`~cerebellar.agent.VectorAgent`) acts in
    ``envs[i]``, which is reset with ``seeds[i]`` before its first episode and
    without a seed afterwards; when one environment's episode ends, that
    environment and its agent alone are reset. All agents act and learn as one
    batch, and each result is the one ``run_episodes(agent_i, envs[i],
    episodes, seeds[i], ...)`` returns for the separate agent (the same traces,
    step for step; ``seconds`` is the whole run's).

    Parameters
    ----------
    agent : VectorAgent
        ``act(observations)``, ``observe(observations, actions, next_observations,
        active)`` and ``reset(indices)`` over ``len(envs)`` agents.
    envs : sequence of gymnasium.Env
        One environment per agent.
    episodes : int
        Episodes per agent.
    seeds : sequence of int, optional
        Seed of each environment's first reset; ``0 .. N - 1`` by default.
    max_steps, progress, label, max_recorded_steps
        As :func:`run_episodes`.

    Returns
    -------
    list of RunResult
        One per environment, in order.
    """
    envs = list(envs)
    n = len(envs)
    if int(episodes) != episodes or episodes < 1:
        raise ValueError(f"episodes must be a positive integer, got {episodes}")
    if getattr(agent, "n_agents", None) != n:
        raise ValueError(f"the vector agent has {getattr(agent, 'n_agents', None)} agents for {n} envs")
    seeds = list(range(n)) if seeds is None else [int(s) for s in seeds]
    if len(seeds) != n:
        raise ValueError(f"need one seed per env ({n}), got {len(seeds)}")
    label = getattr(agent, "label", type(agent).__name__) if label is None else label
    started = time.perf_counter()
    n_state = int(np.prod(envs[0].observation_space.shape))
    names = tuple(getattr(agent, "observation_names", ()) or ())
    views = [_OneOfVector(agent, i) for i in range(n)]
    recorders = [_Recorder(views[i], n_state, _command_width(views[i], envs[i]), max_recorded_steps)
                 for i in range(n)]
    traces: list[list[EpisodeTrace]] = [[] for _ in range(n)]
    discrete = agent.actions.discrete
    # Wrapped continuous cart-poles are stepped as one batch (bitwise the same steps).
    batch_env = CartPoleVector.from_envs(envs) if n > 1 else None
    observations = [None] * n
    agent.reset()
    if batch_env is not None:
        shown, truths = batch_env.reset(seeds)
    for i, env in enumerate(envs):
        if batch_env is not None:
            observations[i], info = shown[i], {"true_observation": truths[i]}
        else:
            observations[i], info = env.reset(seed=seeds[i])
        recorders[i].start(observations[i], info)
    steps, totals = [0] * n, [0.0] * n
    active = np.ones(n, dtype=bool)
    while np.any(active):
        batch = np.stack([np.asarray(o, dtype=np.float64) for o in observations])
        actions = agent.act(batch)
        moved = np.flatnonzero(active)
        nexts = list(observations)
        outcomes = {}
        if batch_env is not None:
            shown, truths, ends, cuts = batch_env.step(actions, active)
        for i in moved:
            action = int(actions[i]) if discrete else actions[i].copy()
            if batch_env is not None:
                nexts[i], reward, terminated, truncated = shown[i], 1.0, ends[i], cuts[i]
                info = {"true_observation": truths[i]}
            else:
                nexts[i], reward, terminated, truncated, info = envs[i].step(action)
            steps[i] += 1
            totals[i] += float(reward)
            if max_steps is not None and steps[i] >= max_steps:
                truncated = True
            outcomes[i] = (action, float(reward), info, bool(terminated), bool(truncated))
        errors = agent.observe(batch, actions, np.stack([np.asarray(o, dtype=np.float64) for o in nexts]),
                               active=active)
        for i in moved:
            action, reward, info, terminated, truncated = outcomes[i]
            error = None if np.all(np.isnan(errors[i])) else errors[i]
            recorders[i].step(Step(steps[i] - 1, observations[i], action, reward, nexts[i], info, error))
            if progress is not None:
                progress(1)
            observations[i] = nexts[i]
            if terminated or truncated:
                outcome = EpisodeOutcome(steps[i], totals[i], terminated, truncated)
                traces[i].append(recorders[i].trace(outcome))
                if len(traces[i]) == episodes:
                    active[i] = False
                    continue
                if batch_env is not None:
                    shown, truths = batch_env.reset([None], rows=[i])
                    observations[i], info = shown[i], {"true_observation": truths[i]}
                else:
                    observations[i], info = envs[i].reset(seed=None)
                agent.reset([i])
                recorders[i].start(observations[i], info)
                steps[i], totals[i] = 0, 0.0
    seconds = time.perf_counter() - started
    units = {key: tuple(getattr(agent, key, ()) or ())
             for key in ("observation_units", "command_names", "command_units")}
    return [RunResult(env_id=env.spec.id if env.spec is not None else type(env.unwrapped).__name__,
                      label=label, seed=seeds[i], episodes=traces[i], seconds=seconds,
                      observation_names=names, **units)
            for i, env in enumerate(envs)]


def run_batch_episode(agent, vector_env, seeds, on_step: Callable | None = None) -> list[EpisodeOutcome]:
    """Run one episode in every environment of a batched env (e.g. :class:`~cerebellar.envs.CartPoleVector`).

    The batch version of :func:`run_episode` for agents that learn nothing
    (e.g. :class:`~cerebellar.agent.VectorFeedbackAgent`): every environment
    is reset with its seed, all act as one batch, and an environment stops
    when its episode ends while the others go on.

    Parameters
    ----------
    agent : object
        ``act(observations) -> actions`` (one row per environment) and ``reset()``.
    vector_env : object
        ``reset(seeds) -> (observations, true_states)`` and ``step(actions, active)
        -> (observations, true_states, terminated, truncated)``.
    seeds : sequence of int
        One reset seed per environment.
    on_step : callable, optional
        ``on_step(rows, true_states)`` after each step, with the indices of the
        environments that stepped.

    Returns
    -------
    list of EpisodeOutcome
        One per environment (returns count 1 per step, as the cart-pole's reward).
    """
    observations, _ = vector_env.reset(seeds)
    agent.reset()
    n = len(seeds)
    active = np.ones(n, dtype=bool)
    lengths = np.zeros(n, dtype=np.int64)
    ended = np.zeros((n, 2), dtype=bool)
    while np.any(active):
        actions = agent.act(observations)
        observations, true_states, terminated, truncated = vector_env.step(actions, active)
        rows = np.flatnonzero(active)
        lengths[rows] += 1
        if on_step is not None:
            on_step(rows, true_states)
        done = terminated | truncated
        ended[done, 0] = terminated[done]
        ended[done, 1] = truncated[done]
        active &= ~done
    return [EpisodeOutcome(int(lengths[i]), float(lengths[i]), bool(ended[i, 0]), bool(ended[i, 1]))
            for i in range(n)]
