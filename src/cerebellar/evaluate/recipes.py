"""How each kind of task builds its agents, tunes its no-model opponent and scores an episode.

A task's ``kind`` picks its recipe:

- ``"balance"``: keep a pole up (cart-pole with delay, plant change, noise);
  success is surviving the whole episode; the opponent is linear feedback with
  gains tuned by differential evolution; agents run the seed's procedure.
- ``"reaching"``: the two-link arm and the wrist; an episode (a session of
  reaches) succeeds when enough reaches settle within 0.05 rad in 1 s (the wrist:
  all 8 directions reached and held); the opponent is PD tuned with the task's delay.
  ``rls+practice`` and ``cerebellum+practice`` are the learned agents after 0.3 s
  of practice (motor babbling) before the session: not a blank start.
- ``"return"``: swing-up tasks scored by the environment's return (Pendulum,
  Acrobot, MountainCarContinuous); agents plan through the learned model; the
  opponent is an energy-pumping / bang-bang controller with a linear catch,
  its few gains grid-searched on the task.
- ``"seed-test"``: the seed's own test on DeepMind Control Suite cartpole/balance:
  its controller on sin(angle), one refinement, trials of 10 s that keep
  ``|sin(angle)| < 0.66``; the extra opponent ``doubled-gain`` is the same
  controller with doubled gains and no model.

Every recipe builds ``oracle`` (the same agent with the true dynamics as its
model) and ``tuned-feedback`` (the no-model opponent), beside the learned agents,
whose name is the model's (``rls``, ``cerebellum``, ...).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import numpy as np

from ..agent import Agent
from ..control import FeedbackAgent, tune_feedback
from ..envs import SensoryDelay
from ..models import MODEL_NAMES
from ..models.oracle import OracleModel
from ..presets import get_preset
from .reaching import reach_metrics

#: Seeds of the tuning episodes: apart from any evaluation seed. Five, so that the
#: gains found do not merely fit three lucky initial states.
TUNING_SEEDS = (10_000, 10_001, 10_002, 10_003, 10_004)


@dataclass(frozen=True)
class Tuned:
    """The tuned no-model opponent of one task plant.

    Attributes
    ----------
    params : dict
        What the opponent needs (JSON-serialisable), e.g. ``{"gains": [[...]]}``.
    score : float
        The search's score of these parameters (higher is better; recipe-specific).
    episodes : int
        Trial episodes the search ran on the task.
    seconds : float
        Wall-clock time of the search.
    """

    params: dict
    score: float
    episodes: int
    seconds: float

    def describe(self) -> str:
        """Return the parameters in one short line."""
        parts = []
        for key, value in self.params.items():
            if key == "episodes":
                continue
            array = np.asarray(value, dtype=float) if not isinstance(value, str) else None
            if array is None:
                parts.append(f"{key}={value}")
            else:
                parts.append(f"{key}=" + np.array2string(array.ravel(), precision=3, separator=", "))
        return "; ".join(parts)


@dataclass(frozen=True)
class Recipe:
    """The parts of the harness that depend on the kind of task.

    Attributes
    ----------
    agents : tuple of str
        Agent names it builds besides the model names.
    build : callable
        ``build(name, task, env, seed, tuned) -> agent``.
    tune : callable
        ``tune(task, generations) -> Tuned``: the no-model opponent's search.
    score : callable
        ``score(task, trace, env) -> (success, metrics)`` for one episode.
    """

    agents: tuple[str, ...]
    build: Callable
    tune: Callable
    score: Callable


def delay_steps_of(env) -> int:
    """Return the sensory delay in steps of a task's env (its ``SensoryDelay`` is outermost)."""
    return env.delay_steps if isinstance(env, SensoryDelay) else 0


def _check_name(name: str, recipe_agents) -> None:
    if name not in MODEL_NAMES and name not in recipe_agents:
        raise ValueError(
            f"unknown agent {name!r}; choose from {', '.join((*MODEL_NAMES, *recipe_agents))}"
        )


def _need(tuned, name):
    if tuned is None:
        raise ValueError(f"the {name} agent needs tuned parameters")
    return tuned.params


# --------------------------------------------------------------------------- balance


def _balance_build(name, task, env, seed, tuned):
    _check_name(name, BALANCE.agents)
    if name == "tuned-feedback":
        return FeedbackAgent.for_env(env, _need(tuned, name)["gains"])
    if name == "oracle":
        return Agent.for_env(env, model=OracleModel(env), delay_steps=delay_steps_of(env))
    return Agent.for_env(env, model=name, seed=seed, delay_steps=delay_steps_of(env))


def _linear_tune(task, generations, population: int = 10, seeds=TUNING_SEEDS) -> Tuned:
    """Differential evolution over linear gains, from the preset, on the original plant.

    The search box allows each gain up to 20 times the command range over the
    channel's scale, either sign.
    """
    preset = get_preset(task.env_id)
    command_scale = preset.command_scale[0]
    bounds = [(-20.0 * command_scale / s, 20.0 * command_scale / s) for s in preset.state_scale]
    result = tune_feedback(
        partial(task.make_env, with_change=False), preset.gains, bounds, seeds=seeds,
        setpoint=preset.setpoint, error_channel=task.error_channel, error_scale=task.error_scale,
        generations=generations, population=population,
    )
    return Tuned({"gains": np.asarray(result.gains).tolist()}, result.score, result.episodes,
                 result.seconds)


def _balance_score(task, trace, env):
    limit = env.spec.max_episode_steps
    errors = trace.true_observations[task.rms_start + 1 :, task.error_channel]
    rms = float(np.sqrt(np.mean(errors**2))) if errors.size else math.nan
    return bool(not trace.terminated and trace.length >= limit), {"rms_error": rms}


BALANCE = Recipe(("tuned-feedback", "oracle"), _balance_build, _linear_tune, _balance_score)


# --------------------------------------------------------------------------- reaching


def _reaching_build(name, task, env, seed, tuned):
    from ..control import reaching

    _check_name(name, REACHING.agents)
    delay = delay_steps_of(env)
    if name == "tuned-feedback":
        return reaching.pd_agent(env, _need(tuned, name))
    if name == "oracle":
        return reaching.oracle_reaching_agent(env, delay_steps=delay)
    if name.endswith(PRACTICE_SUFFIX):
        return reaching.practised_reaching_agent(
            env, partial(task.make_env, with_change=False), model=name[: -len(PRACTICE_SUFFIX)],
            seed=seed, delay_steps=delay)
    return reaching.reaching_agent(env, model=name, seed=seed, delay_steps=delay)


def _reaching_tune(task, generations) -> Tuned:
    from ..control import reaching

    started = time.perf_counter()
    params = reaching.tune_pd(partial(task.make_env, with_change=False))
    # Keep what pd_agent needs; the search's own figures go to score and episodes.
    return Tuned({"kp": params["kp"], "kd": params["kd"]}, float(params["score"]),
                 int(params["episodes"]), time.perf_counter() - started)


def _reaching_score(task, trace, env):
    dt = env.unwrapped.params.dt
    centre = (0.0, 0.0) if task.all_held else None
    reaches = reach_metrics(trace.true_observations, dt, centre=centre)
    reached = [r.reached for r in reaches]
    fraction = float(np.mean(reached)) if reached else math.nan
    held = bool(reaches) and all(reached) and (not task.all_held or len(reaches) == task.all_held)
    success = held if task.all_held else bool(reached) and fraction >= task.success_fraction
    return success, {
        "reaches": len(reaches), "reached": int(sum(reached)),
        "settle_times": [r.settle_time for r in reaches],
        "all_held": held,
        "rms_error": float(np.sqrt(np.mean([r.rms_error**2 for r in reaches]))) if reaches else math.nan,
    }


#: Suffix of a reaching agent that practises 0.3 s before its session (``rls+practice``).
PRACTICE_SUFFIX = "+practice"
REACHING = Recipe(("tuned-feedback", "oracle", "rls" + PRACTICE_SUFFIX,
                   "cerebellum" + PRACTICE_SUFFIX), _reaching_build, _reaching_tune, _reaching_score)


# --------------------------------------------------------------------------- swing-up (return)


def _return_build(name, task, env, seed, tuned):
    from ..control import swingup

    _check_name(name, RETURN.agents)
    if name == "tuned-feedback":
        return swingup.no_model_agent(env, _need(tuned, name))
    if name == "oracle":
        return swingup.oracle_agent(env, seed=seed)
    return swingup.learned_agent(env, model=name, seed=seed)


def _return_tune(task, generations) -> Tuned:
    from ..control import swingup

    started = time.perf_counter()
    params = swingup.tune_no_model(task.env_id)
    shown = {key: value for key, value in params.items() if key not in ("env_id", "trial_return")}
    return Tuned(shown, float(params["trial_return"]), int(params["episodes"]),
                 time.perf_counter() - started)


def _return_score(task, trace, env):
    return bool(trace.total_return >= task.success_return), {}


RETURN = Recipe(("tuned-feedback", "oracle"), _return_build, _return_tune, _return_score)


# --------------------------------------------------------------------------- the seed's test


def _seed_build(name, task, env, seed, tuned):
    _check_name(name, SEED_TEST.agents)
    preset = get_preset(task.env_id)
    if name == "tuned-feedback":
        return FeedbackAgent.for_env(env, _need(tuned, name)["gains"], preset.setpoint)
    if name == "doubled-gain":
        return FeedbackAgent.for_env(env, 2.0 * np.asarray(preset.gains), preset.setpoint)
    model = OracleModel(env) if name == "oracle" else name
    # The seed's procedure exactly: one refinement.
    return Agent.for_env(env, model=model, iterations=1, seed=seed)


def _seed_tune(task, generations) -> Tuned:
    """Differential evolution as for balance, on a smaller budget: a MuJoCo trial costs ~0.25 s."""
    return _linear_tune(task, min(generations, 10), population=5, seeds=TUNING_SEEDS[:2])


def _seed_score(task, trace, env):
    sines = trace.true_observations[:, task.error_channel]
    kept = bool(np.all(np.abs(sines) < task.error_scale))
    last = int(round(5.0 / env.unwrapped.dt))
    return kept, {"rms_error": float(np.sqrt(np.mean(sines[-last:] ** 2)))}


SEED_TEST = Recipe(("tuned-feedback", "oracle", "doubled-gain"), _seed_build, _seed_tune, _seed_score)

#: Recipes by task kind.
RECIPES: dict[str, Recipe] = {
    "balance": BALANCE, "reaching": REACHING, "return": RETURN, "seed-test": SEED_TEST,
}


def recipe_for(task) -> Recipe:
    """Return the recipe of ``task``'s kind."""
    try:
        return RECIPES[task.kind]
    except KeyError:
        raise ValueError(f"unknown task kind {task.kind!r}; kinds: {', '.join(RECIPES)}") from None
