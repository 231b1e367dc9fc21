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
- ``rls``, ``cerebellum`` (CMAC), ``cerebellum-random``, ``oracle``: the forward-model
  agent, K = 3, internal feedback (Smith predictor) over the delay.
- ``feedback``: the preset PD gains, no model.
- ``tuned-pd``: PD gains searched by differential evolution with the same delay, on
  a reaching score (fraction reached, then settle time), on seeds 1000-1001.
- Variants investigating the arm-with-delay problem (see ``--variants``):
  ``+gate`` (model used only once its own delay-span prediction error is small,
  otherwise PD on the delayed observation with the tuned or softened gains),
  ``+feat`` (the model also sees ``sin q1``, ``sin(q1 + q2)`` and ``cos(q2) u``),
  ``+stops`` (no learning from transitions that touch a joint stop),
  ``+rollout`` (RolloutController, horizon 5).

Usage::

    python benchmarks/limb_reaching.py [--seeds 0-9] [--envs arm,wrist] [--delays 0,100]
        [--agents rls,cerebellum,...] [--variants] [--workers 2]

Tuned gains are cached in ``/tmp/limb_reaching_tuned.json`` (``--retune`` redoes them).
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import os
import time

import gymnasium as gym
import numpy as np
from scipy.optimize import differential_evolution

import cerebellar.envs  # noqa: F401  (registers the environments)
from cerebellar import Agent
from cerebellar.control import FeedbackAgent, LinearFeedback, RolloutController
from cerebellar.envs import SensoryDelay
from cerebellar.evaluate.reaching import reach_metrics, summarise_reaches
from cerebellar.models import RLS, make_model
from cerebellar.models.oracle import OracleModel
from cerebellar.presets import get_preset

ENVS = {"arm": "cerebellar/TwoLinkArm-v0", "wrist": "cerebellar/WristStepTracking-v0"}
BASE_AGENTS = ("rls", "cerebellum", "cerebellum-random", "oracle", "feedback", "tuned-pd")
VARIANTS = ("rls+gate", "cerebellum-random+gate", "rls+feat", "rls+feat+gate", "rls+stops+gate",
            "rls+feat+stops+gate", "cerebellum-random+feat+gate", "rls+rollout", "oracle+rollout")
TUNE_SEEDS = (1000, 1001)
TUNE_CACHE = "/tmp/limb_reaching_tuned.json"
TOLERANCE, WITHIN = 0.05, 1.0


def make_env(env_key: str, delay_ms: float):
    """Return the environment, wrapped in a sensory delay when ``delay_ms > 0``."""
    env = gym.make(ENVS[env_key])
    return SensoryDelay(env, delay_ms=delay_ms) if delay_ms else env


def delay_of(env) -> int:
    """Return the delay in steps of an environment made by :func:`make_env`."""
    return int(getattr(env, "delay_steps", 0))


def pd_gains(kp, kd) -> np.ndarray:
    """Return the 2 x 6 gain matrix of independent-joint PD on ``(q, dq, target)``."""
    return np.array([[kp[0], 0.0, kd[0], 0.0, -kp[0], 0.0],
                     [0.0, kp[1], 0.0, kd[1], 0.0, -kp[1]]])


def preset_pd(env_key: str) -> tuple[np.ndarray, np.ndarray]:
    """Return the preset's ``(Kp, Kd)`` per joint."""
    gains = np.asarray(get_preset(ENVS[env_key]).gains)
    return np.array([gains[0, 0], gains[1, 1]]), np.array([gains[0, 2], gains[1, 3]])


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
        self.fallback = fallback
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
        command = np.minimum(np.maximum(self.fallback(observation), self.actions.low), self.actions.high)
        self.last_command_ = command
        return self.actions.to_action(command)

    def reset(self) -> None:
        """Start a new episode (the reliability record is kept, the pending estimates not)."""
        super().reset()
        self._pending.clear()


def tuned_pd(env_key: str, delay_ms: float, retune: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Return the tuned ``(Kp, Kd)`` for a task, from the cache or by searching."""
    cache = {}
    if os.path.exists(TUNE_CACHE):
        with open(TUNE_CACHE) as handle:
            cache = json.load(handle)
    key = f"{env_key}-{int(delay_ms)}"
    if key in cache and not retune:
        kp, kd = cache[key]
        return np.array(kp), np.array(kd)
    raise KeyError(f"no tuned gains for {key}: run with --tune first")


def pd_score(params, env_key: str, delay_ms: float, seeds=TUNE_SEEDS) -> float:
    """Return the reaching score of PD gains ``exp(params)`` (to minimise).

    Score: fraction reached within 0.05 rad in 1 s, minus 0.1 x the mean settle
    time capped at 1.5 s (so that among equally reliable gains the faster wins),
    minus 0.1 x the RMS error capped at 1 rad (so that gains that reach nothing
    are still ranked).
    """
    kp, kd = np.exp(params[:2]), np.exp(params[2:])
    reaches = []
    for seed in seeds:
        env = make_env(env_key, delay_ms)
        agent = FeedbackAgent.for_env(env, pd_gains(kp, kd))
        reaches += run_episode(env, agent, env_key, seed)[0]
    fraction = np.mean([r.reached for r in reaches])
    settle = np.mean([min(r.settle_time, 1.5) for r in reaches])
    rms = summarise_reaches(reaches).rms_error
    return -(fraction - 0.1 * settle / 1.5 - 0.1 * min(rms, 1.0))


def tune(task) -> tuple[str, list, list, float, float]:
    """Search PD gains for one ``(env_key, delay_ms, generations)`` task."""
    env_key, delay_ms, generations = task
    kp0, kd0 = preset_pd(env_key)
    x0 = np.log(np.concatenate([kp0, kd0]))
    bounds = [(x - math.log(20), x + math.log(5)) for x in x0]
    started = time.perf_counter()
    result = differential_evolution(pd_score, bounds, args=(env_key, delay_ms), x0=x0,
                                    maxiter=generations, popsize=5, seed=0, tol=0.0, polish=False,
                                    init="sobol", updating="immediate")
    best = np.exp(result.x)
    return f"{env_key}-{int(delay_ms)}", best[:2].tolist(), best[2:].tolist(), -float(result.fun), \
        time.perf_counter() - started


def build_agent(name: str, env, env_key: str, delay_ms: float, seed: int):
    """Build agent ``name`` (a base agent or a ``+``-variant) for ``env``."""
    d = delay_of(env)
    if name == "feedback":
        return FeedbackAgent.for_env(env, get_preset(ENVS[env_key]).gains)
    if name == "tuned-pd":
        return FeedbackAgent.for_env(env, pd_gains(*tuned_pd(env_key, delay_ms)))
    base, *mods = name.split("+")
    preset = get_preset(ENVS[env_key])
    scale = tuple(preset.state_scale) + tuple(preset.command_scale)
    if base == "oracle":
        model = OracleModel(env)
    elif "feat" in mods:
        extra_state = (1.0, 1.0)
        inner_scale = tuple(preset.state_scale) + extra_state + tuple(preset.command_scale) * 2
        inner = RLS(input_scale=inner_scale) if base == "rls" else make_model(
            base, seed=seed, input_scale=inner_scale)
        model = FeatureModel(inner)
    else:
        model = make_model(base, seed=seed, input_scale=scale)
        model.initialise(6, 2)
    if "stops" in mods:
        params = env.unwrapped.params
        model = StopFilter(model, params.angle_low, params.angle_high)
    if "gate" in mods:
        # A gentle fallback: 5% of the preset gains, stable under the delay (the
        # limb sags, but it does not flail into its stops).
        kp, kd = preset_pd(env_key)
        kp, kd = kp * 0.05, kd * 0.05
        template = Agent.for_env(env, model=model, iterations=3, delay_steps=d)
        agent = GatedAgent(model, template.feedback, template.actions, 3, delay_steps=d,
                           fallback=LinearFeedback(pd_gains(kp, kd)))
    else:
        agent = Agent.for_env(env, model=model, iterations=3, delay_steps=d)
    if "rollout" in mods:
        agent.controller = RolloutController(agent.feedback, model, horizon=5, iterations=3,
                                             low=agent.actions.low, high=agent.actions.high)
    return agent


# --------------------------------------------------------------------------- running


def run_episode(env, agent, env_key: str, seed: int):
    """Run one episode; return its reaches and the true observations."""
    observation, info = env.reset(seed=int(seed))
    agent.reset()
    truths = [info.get("true_observation", observation)]
    truncated = terminated = False
    while not (terminated or truncated):
        action = agent.act(observation)
        next_observation, _, terminated, truncated, info = env.step(action)
        agent.observe(observation, action, next_observation)
        truths.append(info.get("true_observation", next_observation))
        observation = next_observation
    truths = np.array(truths)
    dt = env.unwrapped.params.dt
    centre = (0.0, 0.0) if env_key == "wrist" else None
    return reach_metrics(truths, dt, tolerance=TOLERANCE, within=WITHIN, centre=centre), truths


def all_held(reaches) -> bool:
    """Whether all 8 wrist targets were reached and held.

    A reach counts as reached when it settles within 1 s, i.e. it stays within
    tolerance from then to the end of the target phase, so reached implies held.
    """
    return len(reaches) == 8 and all(r.reached for r in reaches)


def run_job(job) -> dict:
    """Run one ``(env_key, delay_ms, agent_name, seed)`` job; return its record."""
    env_key, delay_ms, name, seed = job
    env = make_env(env_key, delay_ms)
    started = time.perf_counter()
    try:
        agent = build_agent(name, env, env_key, delay_ms, seed)
        reaches, truths = run_episode(env, agent, env_key, seed)
        failure = None
    except (FloatingPointError, ValueError, np.linalg.LinAlgError) as error:
        reaches, truths, failure = [], None, f"{type(error).__name__}: {error}"
    record = {"env": env_key, "delay": delay_ms, "agent": name, "seed": seed, "reaches": reaches,
              "failure": failure, "seconds": time.perf_counter() - started,
              "all8": env_key == "wrist" and truths is not None and all_held(reaches)}
    if isinstance(agent, GatedAgent) and failure is None:
        record["trusted"] = agent.trusted_steps / max(agent.steps, 1)
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
    header = ("| delay | agent | reached (0.05 rad, 1 s) | median settle (s) | median overshoot (rad) "
              "| RMS error (rad)")
    rule = "|---|---|---|---|---|---"
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
               f"({sum(r.reached for r in reaches)}/{len(reaches)}) | {fmt(summary.median_settle_time, 2)} "
               f"| {fmt(summary.median_overshoot)} | {fmt(summary.rms_error)}")
        if env_key == "wrist":
            row += f" | {sum(record['all8'] for record in group)}/{len(group)}"
        row += (f" | {failed} | {fmt(100 * np.mean(trusted), 0) + '%' if trusted else '-'} "
                f"| {np.mean([record['seconds'] for record in group]):.1f} |")
        print(row)


def parse_seeds(text: str) -> list[int]:
    """Parse ``"0-9"`` or ``"0,3,5"``."""
    if "-" in text:
        low, high = text.split("-")
        return list(range(int(low), int(high) + 1))
    return [int(s) for s in text.split(",")]


def main() -> None:
    """Parse the command line, tune if asked, run the jobs, print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", default="0-9", help="evaluation seeds, e.g. 0-9 or 0,3")
    parser.add_argument("--envs", default="arm,wrist")
    parser.add_argument("--delays", default="0,100", help="sensory delays in ms")
    parser.add_argument("--agents", default=",".join(BASE_AGENTS))
    parser.add_argument("--variants", action="store_true", help="add the arm-with-delay fixes")
    parser.add_argument("--tune", action="store_true", help="(re)tune the PD opponent first")
    parser.add_argument("--generations", type=int, default=15)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    seeds = parse_seeds(args.seeds)
    envs = args.envs.split(",")
    delays = [float(d) for d in args.delays.split(",")]
    agents = args.agents.split(",") + (list(VARIANTS) if args.variants else [])
    with multiprocessing.Pool(args.workers) as pool:
        if args.tune or ("tuned-pd" in agents and not os.path.exists(TUNE_CACHE)):
            cache = {}
            if os.path.exists(TUNE_CACHE):
                with open(TUNE_CACHE) as handle:
                    cache = json.load(handle)
            tasks = [(e, d, args.generations) for e in envs for d in delays]
            for key, kp, kd, score, seconds in pool.imap_unordered(tune, tasks):
                cache[key] = [kp, kd]
                print(f"tuned {key}: Kp {np.round(kp, 2).tolist()} Kd {np.round(kd, 3).tolist()} "
                      f"score {score:.3f} ({seconds:.0f} s)", flush=True)
            with open(TUNE_CACHE, "w") as handle:
                json.dump(cache, handle)
        jobs = [(e, d, a, s) for e in envs for d in delays for a in agents for s in seeds]
        started = time.perf_counter()
        records = pool.map(run_job, jobs, chunksize=1)
    for env_key in envs:
        print_table(records, env_key, seeds)
    print(f"\n{len(jobs)} runs in {time.perf_counter() - started:.0f} s on {args.workers} workers")


if __name__ == "__main__":
    main()
