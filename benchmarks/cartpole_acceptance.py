"""CartPole-v1 from a blank model: first-episode success over many seeds, and long runs.

Measures, for each forward model and for pure feedback (K = 0):

1. first-episode length on Gymnasium's CartPole-v1 (500-step limit) for seeds
   0-99, with the preset gains and with the seed's gains exactly;
2. one continuous run with the time limit lifted (default 100,000 steps) for
   seeds 0-9: steps survived, and whether the run ended by the pole falling
   (|angle| > 12 deg) or by the cart leaving the track (|x| > 2.4 m).

Usage::

    python benchmarks/cartpole_acceptance.py [--seeds 100] [--long-seeds 10]
        [--long-steps 100000] [--workers 2]

Prints Markdown tables. ``--workers 1`` runs everything in this process.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from concurrent.futures import ProcessPoolExecutor

import gymnasium as gym
import numpy as np

from cerebellar.agent import run_episodes
from cerebellar.tasks import make_agent
from cerebellar.tasks.presets import CARTPOLE_GAINS, SEED_CARTPOLE_GAINS

MODELS = ("rls", "nlms", "cerebellum-cmac", "cerebellum-random")
GAINS = {"preset": CARTPOLE_GAINS, "seed": SEED_CARTPOLE_GAINS}


def first_episode(job):
    """Return the first-episode length for one (model, K, gains, seed)."""
    model, iterations, gains_name, seed = job
    env = gym.make("CartPole-v1")
    agent = make_agent(env, model=model, iterations=iterations, gains=GAINS[gains_name], seed=seed)
    return job, int(run_episodes(agent, env, episodes=1, seed=seed).lengths[0])


def long_run(job):
    """Return (steps survived, how it ended, seconds) for one continuous run."""
    model, gains_name, steps, seed = job
    env = gym.make("CartPole-v1", max_episode_steps=steps)
    agent = make_agent(env, model=model, gains=GAINS[gains_name], seed=seed)
    started = time.perf_counter()
    trace = run_episodes(agent, env, episodes=1, seed=seed).episodes[0]
    x, _, theta, _ = trace.observations[-1]
    if not trace.terminated:
        ending = "survived"
    elif abs(theta) > 12 * np.pi / 180:
        ending = "pole fell"
    else:
        ending = "cart left track"
    return job, trace.length, ending, time.perf_counter() - started


def pool_map(function, jobs, workers: int, chunksize: int = 1) -> list:
    """Map ``function`` over ``jobs`` in ``workers`` processes (1: in this process), in order."""
    if workers <= 1:
        return [function(job) for job in jobs]
    with ProcessPoolExecutor(workers) as pool:
        return list(pool.map(function, jobs, chunksize=chunksize))


def main(argv=None) -> None:
    """Run both measurements and print Markdown tables (``argv``: the arguments, default the command line)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=100)
    parser.add_argument("--long-seeds", type=int, default=10)
    parser.add_argument("--long-steps", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args(argv)
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")

    jobs = [(m, 3, g, s) for m in MODELS for g in GAINS for s in range(args.seeds)]
    jobs += [("rls", 0, g, s) for g in GAINS for s in range(args.seeds)]
    lengths: dict = {}
    for (model, k, gains, _), length in pool_map(first_episode, jobs, args.workers, chunksize=8):
        lengths.setdefault((model, k, gains), []).append(length)
    print(f"\n### First episode on CartPole-v1, seeds 0-{args.seeds - 1}\n")
    print("| model | K | gains | reached 500 | min length | median length |")
    print("|---|---|---|---|---|---|")
    for (model, k, gains), values in lengths.items():
        values = np.array(values)
        name = "none (feedback only)" if k == 0 else model
        print(f"| {name} | {k} | {gains} | {np.sum(values == 500)}/{len(values)} "
              f"| {values.min()} | {np.median(values):.0f} |")

    jobs = [(m, "preset", args.long_steps, s) for m in MODELS for s in range(args.long_seeds)]
    jobs += [("rls", "seed", args.long_steps, s) for s in range(args.long_seeds)]
    outcomes: dict = {}
    for (model, gains, _, _), steps, ending, seconds in pool_map(long_run, jobs, args.workers):
        outcomes.setdefault((model, gains), []).append((steps, ending, seconds))
    print(f"\n### One continuous run, {args.long_steps} steps allowed, seeds 0-{args.long_seeds - 1}\n")
    print("| model | K | gains | survived | fewest steps | endings | seconds per run |")
    print("|---|---|---|---|---|---|---|")
    for (model, gains), runs in outcomes.items():
        steps = np.array([r[0] for r in runs])
        endings = sorted({r[1] for r in runs if r[1] != "survived"}) or ["-"]
        print(f"| {model} | 3 | {gains} | {np.sum(steps == args.long_steps)}/{len(runs)} | {steps.min()} "
              f"| {', '.join(endings)} | {np.median([r[2] for r in runs]):.1f} |")


if __name__ == "__main__":
    main()
