"""Where does the rollout horizon help? RolloutController at H = 1 (the seed's procedure) and longer.

Two measurements, each from a blank learned model (and the true dynamics beside
it), first episode only, K = 3 refinement sweeps:

1. the continuous cart-pole ``cerebellar/CartPoleContinuous-v0`` (1000 steps)
   behind a :class:`~cerebellar.envs.SensoryDelay` of 0, 200 and 300 ms, with
   the preset feedback (the seed's gains in newtons) and the agent's internal
   feedback across the delay (``delay_steps=env.delay_steps``), for H in
   {1, 2, 5, 10, 20}: balanced (all 1000 steps), median length, and median RMS
   of the true pole angle from step 200 on (as the suite measures it);
2. slow plants with the no-model feedback laws of
   :mod:`cerebellar.tasks.swingup` as the controller C: MountainCarContinuous-v0
   (velocity feedback; the tuned gains, and a weak gain that alone never
   reaches the goal) and Pendulum-v1 (energy pumping with a linear catch,
   tuned gains), for H in {1, 5, 20}, with the feedback alone (K = 0) as
   reference.

The learned model is ``rls``; the oracle is
:class:`~cerebellar.models.oracle.OracleModel` on the cart-pole and
:class:`~cerebellar.models.oracle.DynamicsModel` (the true dynamics written
from Gymnasium's source) on the Gymnasium plants, which expose none. An
episode whose model diverges (a non-finite plan) counts as failed.

Usage::

    python benchmarks/rollout_horizon.py [--seeds 20] [--delays 0 200 300]
        [--horizons 1 2 5 10 20] [--slow-horizons 1 5 20] [--models rls oracle]
        [--slow mountaincar mountaincar-weak pendulum] [--iterations 3]

Prints Markdown tables (single process). Results: ``docs/rollout.md``.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import os
import platform
import time
from dataclasses import dataclass

import gymnasium as gym
import numpy as np

import cerebellar.envs  # noqa: F401  (registers cerebellar/CartPoleContinuous-v0)
from cerebellar import make_agent, run_episodes
from cerebellar.agent import Agent
from cerebellar.control import ActionMap, RolloutController
from cerebellar.envs import SensoryDelay
from cerebellar.models import make_model
from cerebellar.models.oracle import DynamicsModel, OracleModel
from cerebellar.tasks.swingup import SETTINGS, tune_no_model

CARTPOLE_ID = "cerebellar/CartPoleContinuous-v0"
#: First step of the window of the RMS pole angle (the suite's ``rms_start``).
RMS_START = 200


def _run_first_episode(agent, env, seed: int):
    """Return the first episode's trace, or None when the model diverged on the way."""
    try:
        return run_episodes(agent, env, episodes=1, seed=seed).episodes[0]
    except (FloatingPointError, np.linalg.LinAlgError):
        return None
    except ValueError as error:
        # A non-finite prediction reaches the next validated input (an estimate, a state).
        if "NaN or infinite" in str(error):
            return None
        raise


@dataclass(frozen=True)
class SlowPlant:
    """One slow-plant variant: a Gymnasium task of :mod:`cerebellar.tasks.swingup` and its gains.

    Attributes
    ----------
    name : str
        Short name (for ``--slow`` and the tables).
    env_id : str
        A key of ``cerebellar.tasks.swingup.SETTINGS``.
    gains : tuple or None
        Parameters of the task's feedback law; None tunes them with
        :func:`~cerebellar.tasks.swingup.tune_no_model`.
    """

    name: str
    env_id: str
    gains: tuple | None = None


SLOW_PLANTS = {
    plant.name: plant for plant in (
        SlowPlant("mountaincar", "MountainCarContinuous-v0"),
        # Velocity feedback too weak to reach the goal alone (gain 3, first push -1).
        SlowPlant("mountaincar-weak", "MountainCarContinuous-v0", (3.0, -1.0)),
        SlowPlant("pendulum", "Pendulum-v1"),
    )
}


@dataclass(frozen=True)
class Config:
    """What to measure."""

    seeds: int = 20
    delays_ms: tuple[float, ...] = (0.0, 200.0, 300.0)
    horizons: tuple[int, ...] = (1, 2, 5, 10, 20)
    slow_horizons: tuple[int, ...] = (1, 5, 20)
    models: tuple[str, ...] = ("rls", "oracle")
    slow: tuple[str, ...] = ("mountaincar", "mountaincar-weak", "pendulum")
    iterations: int = 3


def cartpole_episode(delay_ms: float, model_name: str, horizon: int, iterations: int, seed: int):
    """Return (length, RMS angle from step 200 or NaN, diverged) of one first episode."""
    env = gym.make(CARTPOLE_ID)
    if delay_ms:
        env = SensoryDelay(env, delay_ms=delay_ms)
    delay_steps = env.delay_steps if delay_ms else 0
    model = OracleModel(env) if model_name == "oracle" else model_name
    agent = make_agent(
        env, model=model, iterations=iterations, seed=seed, delay_steps=delay_steps,
        controller=lambda m, f, a: RolloutController(f, m, horizon=horizon, iterations=iterations,
                                                     low=a.low, high=a.high),
    )
    trace = _run_first_episode(agent, env, seed)
    if trace is None:
        return 0, float("nan"), True
    angles = trace.true_observations[RMS_START + 1:, 2]
    rms = float(np.sqrt(np.mean(angles**2))) if angles.size else float("nan")
    return trace.length, rms, False


def slow_episode(plant: SlowPlant, gains, model_name: str, horizon: int, iterations: int, seed: int):
    """Return (return, length, reached goal / ended upright, diverged) of one first episode."""
    task = SETTINGS[plant.env_id]
    env = gym.make(plant.env_id)
    n_state = env.observation_space.shape[0]
    if model_name == "oracle":
        model = DynamicsModel(task.dynamics)
    else:
        model = make_model(model_name, seed=seed, input_scale=task.input_scale)
        model.initialise(n_state, 1)
    actions = ActionMap(env.action_space)
    controller = RolloutController(task.feedback(gains), model, horizon=horizon, iterations=iterations,
                                   low=actions.low, high=actions.high)
    agent = Agent(model, controller, actions, n_state)
    trace = _run_first_episode(agent, env, seed)
    if trace is None:
        return float("nan"), 0, False, True
    if plant.env_id == "Pendulum-v1":
        # Upright through the last second: cos(theta) > 0.95 on the last 20 steps.
        done = bool(np.all(trace.observations[-20:, 0] > 0.95))
    else:
        done = bool(trace.terminated)
    return float(trace.rewards.sum()), trace.length, done, False


def _median(values, fmt: str) -> str:
    values = [v for v in values if np.isfinite(v)]
    return format(float(np.median(values)), fmt) if values else "-"


def measure_cartpole(config: Config) -> None:
    """Print the delayed cart-pole table."""
    print(f"\n### Delayed continuous cart-pole, first episode, seeds 0-{config.seeds - 1}, "
          f"K = {config.iterations}\n")
    print("| delay (ms) | model | H | balanced | median length | median RMS angle (rad) "
          "| diverged | s per episode |")
    print("|---|---|---|---|---|---|---|---|")
    for delay_ms in config.delays_ms:
        for model_name in config.models:
            for horizon in config.horizons:
                started = time.perf_counter()
                runs = [cartpole_episode(delay_ms, model_name, horizon, config.iterations, seed)
                        for seed in range(config.seeds)]
                seconds = (time.perf_counter() - started) / config.seeds
                lengths = [r[0] for r in runs]
                balanced = sum(length >= 1000 for length in lengths)
                print(f"| {delay_ms:g} | {model_name} | {horizon} | {balanced}/{config.seeds} "
                      f"| {np.median(lengths):g} | {_median([r[1] for r in runs], '.2g')} "
                      f"| {sum(r[2] for r in runs)} | {seconds:.2f} |", flush=True)


def measure_slow(config: Config) -> None:
    """Print the slow-plant table."""
    print(f"\n### Slow plants, first episode, seeds 0-{config.seeds - 1}\n")
    print("| plant | gains | model | H | K | goal reached / upright at the end | median return "
          "| median length | diverged | s per episode |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name in config.slow:
        plant = SLOW_PLANTS[name]
        gains = plant.gains or tuple(tune_no_model(plant.env_id).params["gains"])
        settings = [(1, 0)] + [(h, config.iterations) for h in config.slow_horizons]
        for model_name in config.models:
            for horizon, iterations in settings:
                if iterations == 0 and model_name != config.models[0]:
                    continue  # the feedback alone does not use the model
                started = time.perf_counter()
                runs = [slow_episode(plant, gains, model_name, horizon, iterations, seed)
                        for seed in range(config.seeds)]
                seconds = (time.perf_counter() - started) / config.seeds
                shown_model = "none (feedback alone)" if iterations == 0 else model_name
                shown_h = "-" if iterations == 0 else horizon
                print(f"| {name} | {', '.join(f'{g:g}' for g in gains)} | {shown_model} | {shown_h} "
                      f"| {iterations} | {sum(r[2] for r in runs)}/{config.seeds} "
                      f"| {_median([r[0] for r in runs], '.1f')} | {np.median([r[1] for r in runs]):g} "
                      f"| {sum(r[3] for r in runs)} | {seconds:.2f} |", flush=True)


def parse_config(argv=None) -> Config:
    """Build the :class:`Config` from the command line."""
    defaults = Config()
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=defaults.seeds, help="seeds 0..N-1")
    parser.add_argument("--delays", type=float, nargs="*", default=defaults.delays_ms,
                        help="cart-pole sensory delays in ms (none: skip the cart-pole)")
    parser.add_argument("--horizons", type=int, nargs="+", default=defaults.horizons)
    parser.add_argument("--slow-horizons", type=int, nargs="+", default=defaults.slow_horizons)
    parser.add_argument("--models", nargs="+", choices=("rls", "nlms", "oracle"), default=defaults.models)
    parser.add_argument("--slow", nargs="*", choices=tuple(SLOW_PLANTS), default=defaults.slow,
                        help="slow-plant variants (none: skip them)")
    parser.add_argument("--iterations", type=int, default=defaults.iterations)
    args = parser.parse_args(argv)
    return dataclasses.replace(
        defaults, seeds=args.seeds, delays_ms=tuple(args.delays), horizons=tuple(args.horizons),
        slow_horizons=tuple(args.slow_horizons), models=tuple(args.models), slow=tuple(args.slow),
        iterations=args.iterations)


def main(argv=None) -> None:
    """Run the measurements and print Markdown tables."""
    config = parse_config(argv)
    print(f"{datetime.date.today()}, {platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}, numpy {np.__version__}, gymnasium {gym.__version__}; "
          f"one process; {config}")
    started = time.perf_counter()
    if config.delays_ms:
        measure_cartpole(config)
    if config.slow:
        measure_slow(config)
    print(f"\ntotal {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
