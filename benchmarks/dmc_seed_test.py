"""The seed's own test, on DeepMind Control Suite cartpole/balance, from a blank model.

The seed's proof of concept: the controller ``1.0 sin(angle) + 0.01 x + 0.01
angular_velocity`` clipped to +-5, refined once (K = 1) through a one-step
forward model that starts blank; it passes when three consecutive 10 s trials
keep ``|sin(angle)| < 0.66`` throughout. Here, per seed (a fresh blank model
each), trials run until that happens or the budget is spent, for:

- ``rls``, ``cerebellum``: the seed's procedure with a learned model (K = 1);
- ``oracle``: the same with the true dynamics as the model (a ceiling);
- no model (K = 0), with the seed's gains and with them doubled.

The model learns across trials and is never reset within a seed; every variant
sees the same sequence of initial states for a given seed. Prints Markdown tables:
per variant, how many seeds passed and when, and how soon the pole went down
(``|sin(angle)| >= 0.66``) in trial 1; per seed, the trial at which it
passed; per trial, the RMS of sin(angle) over the trial's last 5 s.

Usage::

    python benchmarks/dmc_seed_test.py [--seeds 20] [--trials 20] [--workers 2]

``--workers 1`` runs in this process. Needs the ``dmc`` extra (``pip install -e '.[dmc]'``).
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import gymnasium
import numpy as np

from cerebellar.agent import Agent, run_episode
from cerebellar.control import ActionMap, ForwardModelController, LinearFeedback
from cerebellar.envs import dmc
from cerebellar.models import make_model
from cerebellar.models.oracle import OracleModel
from cerebellar.tasks.presets import DMC_CARTPOLE_PRESET, SEED_COMMAND_LIMIT, SEED_PASS_SINE


@dataclass(frozen=True)
class Variant:
    """One agent of the table: the seed's controller, refined ``iterations`` times through ``model``.

    Attributes
    ----------
    model : str
        A model name for a blank model, or ``"oracle"`` for the true dynamics.
    iterations : int
        Refinements per step (K); 0 is the controller alone (the model still learns).
    gain : float
        Multiplier of the seed's gains.
    """

    model: str
    iterations: int
    gain: float = 1.0


VARIANTS = {
    "rls, K=1": Variant("rls", 1),
    "cerebellum, K=1": Variant("cerebellum", 1),
    "oracle, K=1": Variant("oracle", 1),
    "no model, K=0": Variant("rls", 0),
    "no model, K=0, gains x2": Variant("rls", 0, 2.0),
}
SINE = dmc.OBSERVATION_NAMES["cartpole"].index("pole angle sine")
CONSECUTIVE = 3
LAST_STEPS = 500  # the last 5 s of a 10 s trial at 0.01 s


def seed_agent(env, variant: Variant, seed: int) -> Agent:
    """Build the seed's agent: its gains (times ``variant.gain``), its +-5 output clip, a blank model."""
    preset = DMC_CARTPOLE_PRESET
    # The preset has no output limits, so the +-5 clip is added here.
    feedback = LinearFeedback(np.multiply(variant.gain, preset.gains), preset.setpoint,
                              low=-SEED_COMMAND_LIMIT, high=SEED_COMMAND_LIMIT)
    actions = ActionMap(env.action_space)
    n_state = len(preset.state_scale)
    if variant.model == "oracle":
        model = OracleModel(env)
    else:
        model = make_model(variant.model, seed=seed,
                           input_scale=preset.state_scale + preset.command_scale)
        model.initialise(n_state, actions.n_command)
    controller = ForwardModelController(feedback, model, variant.iterations, low=actions.low,
                                        high=actions.high)
    return Agent(model, controller, actions, n_state, observation_names=preset.observation_names)


def trial_sines(agent, env, seed: int | None) -> np.ndarray:
    """Run one trial; return sin(angle) from the reset on, ending in NaN if the model diverged."""
    sines = []
    try:
        run_episode(agent, env, seed=seed,
                    on_start=lambda observation, _: sines.append(observation[SINE]),
                    on_step=lambda step: sines.append(step.next_observation[SINE]))
    except (FloatingPointError, ValueError):
        sines.append(np.nan)  # the model diverged: count the trial as failed
    return np.array(sines)


def run_seed(job):
    """Run one variant on one seed until it passes or the budget is spent."""
    variant, seed, budget = job
    dmc.register()
    env = gymnasium.make(dmc.DMC_CARTPOLE_BALANCE_ID)
    agent = seed_agent(env, VARIANTS[variant], seed)
    started = time.perf_counter()
    kept, rms, fell, passed_at, streak = [], [], [], None, 0
    for trial in range(budget):
        sines = trial_sines(agent, env, seed if trial == 0 else None)
        down = np.flatnonzero(~(np.abs(sines) < SEED_PASS_SINE))
        up = down.size == 0
        kept.append(up)
        fell.append(None if up else float(down[0]) * env.unwrapped.dt)
        rms.append(float(np.sqrt(np.mean(sines[-LAST_STEPS:] ** 2))))
        streak = streak + 1 if up else 0
        if streak == CONSECUTIVE:
            passed_at = trial + 1
            break
    return variant, seed, passed_at, kept, rms, fell, time.perf_counter() - started


def pool_map(function, jobs, workers: int) -> list:
    """Map ``function`` over ``jobs`` in ``workers`` processes (1: in this process), in order."""
    if workers <= 1:
        return [function(job) for job in jobs]
    with ProcessPoolExecutor(workers) as pool:
        return list(pool.map(function, jobs))


def main(argv=None) -> None:
    """Run every variant on every seed and print Markdown tables (``argv``: default the command line)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--trials", type=int, default=20, help="trial budget per seed")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args(argv)
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}, {args.workers} workers")
    started = time.perf_counter()
    jobs = [(v, s, args.trials) for v in VARIANTS for s in range(args.seeds)]
    results = {}
    for variant, seed, passed_at, kept, rms, fell, seconds in pool_map(run_seed, jobs, args.workers):
        results[variant, seed] = (passed_at, kept, rms, seconds, fell)

    print(f"\n### The seed's test on DMC cartpole/balance, seeds 0-{args.seeds - 1}, "
          f"budget {args.trials} trials\n")
    print("| variant | passed | trial of passing: median (range) | trial 1 kept up "
          "| trial 1: s until down (median) | RMS sin, last 5 s, trial 1 (median) "
          "| same, last trial run (median) | seconds per seed |")
    print("|---|---|---|---|---|---|---|---|")
    for variant in VARIANTS:
        runs = [results[variant, s] for s in range(args.seeds)]
        at = [r[0] for r in runs if r[0] is not None]
        when = f"{np.median(at):g} ({min(at)}-{max(at)})" if at else "-"
        down = [r[4][0] for r in runs if r[4][0] is not None]
        down = f"{np.median(down):.2f} ({len(down)} fell)" if down else "-"
        print(f"| {variant} | {len(at)}/{len(runs)} | {when} | {sum(r[1][0] for r in runs)}/{len(runs)} "
              f"| {down} | {np.median([r[2][0] for r in runs]):.3g} "
              f"| {np.median([r[2][-1] for r in runs]):.3g} "
              f"| {np.median([r[3] for r in runs]):.1f} |")

    print(f"\n### Trial at which each seed passed ('-' = not within {args.trials})\n")
    print("| seed | " + " | ".join(VARIANTS) + " |")
    print("|---" * (len(VARIANTS) + 1) + "|")
    for seed in range(args.seeds):
        cells = [str(results[v, seed][0] or "-") for v in VARIANTS]
        print(f"| {seed} | " + " | ".join(cells) + " |")

    longest = max(len(r[1]) for r in results.values())
    print("\n### RMS of sin(angle) over each trial's last 5 s: median over the seeds that "
          "ran the trial (how many)\n")
    print("| trial | " + " | ".join(VARIANTS) + " |")
    print("|---" * (len(VARIANTS) + 1) + "|")
    for trial in range(longest):
        cells = []
        for variant in VARIANTS:
            values = [results[variant, s][2][trial] for s in range(args.seeds)
                      if len(results[variant, s][2]) > trial]
            cells.append(f"{np.median(values):.3g} ({len(values)})" if values else "")
        print(f"| {trial + 1} | " + " | ".join(cells) + " |")
    print(f"\ntotal {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
