"""Do gains tuned at one sensory delay work at another? And one untuned controller with a model?

Tunes linear feedback on ``cerebellar/CartPoleContinuous-v0`` at a few delays
(the same search as ``cerebellar suite``), then counts, for every delay, the
first episodes (1000 steps) that each set of tuned gains balances with plain
feedback, beside the forward-model agent (rls, the preset's untuned gains, told
the delay) on the same seeds.

Usage::

    python benchmarks/tuned_gain_transfer.py [--seeds 20] [--tune-at 0 100 300] [--workers 2]
        [--delays 0 40 100 160 200 300] [--generations 40] [--population 10] [--tuning-seeds 5]

``--generations``, ``--population`` and ``--tuning-seeds`` (how many of the
suite's tuning seeds) shrink the search for a quick check; by default it is the
suite's. ``--workers 1`` runs in this process. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
from concurrent.futures import ProcessPoolExecutor

from cerebellar.agent import FeedbackAgent, run_episodes
from cerebellar.evaluate import tune_for_task
from cerebellar.tasks import DELAYS_MS, TASKS, make_agent

#: Generations of the suite's gain search (:func:`~cerebellar.evaluate.tune_for_task`'s default).
GENERATIONS = 40


def tuning_task(delay_ms: int, population: int | None = None, tuning_seeds: int | None = None):
    """Return the task ``delay-<delay_ms>``, its gain search shrunk if asked.

    ``population`` replaces the search's population multiplier, ``tuning_seeds``
    keeps that many of its tuning seeds (None: as in the suite).
    """
    task = TASKS[f"delay-{delay_ms}"]
    tuning = task.kind.tuning
    changes = {}
    if population is not None:
        changes["population"] = population
    if tuning_seeds is not None:
        changes["seeds"] = tuning.seeds[:tuning_seeds]
    if not changes:
        return task
    kind = dataclasses.replace(task.kind, tuning=dataclasses.replace(tuning, **changes))
    return dataclasses.replace(task, kind=kind)


def tune(job):
    """Return ``(delay_ms, gains)``: the gains tuned at ``delay_ms``."""
    delay_ms, generations, population, tuning_seeds = job
    return delay_ms, tune_for_task(tuning_task(delay_ms, population, tuning_seeds), generations).gains


def balanced(job) -> int:
    """Return 1 if the agent balances the whole first episode, else 0."""
    gains, delay_ms, seed = job
    task = TASKS[f"delay-{delay_ms}"]
    env = task.make_env()
    if gains is None:
        agent = make_agent(env, model="rls", seed=seed, delay_steps=task.delay_steps)
    else:
        agent = FeedbackAgent.for_env(env, gains)
    return int(run_episodes(agent, env, episodes=1, seed=seed).lengths[0] == 1000)


def main(argv=None) -> None:
    """Tune, evaluate across delays, print the table (``argv``: the arguments, default the command line)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--tune-at", type=int, nargs="+", default=[0, 100, 300])
    parser.add_argument("--delays", type=int, nargs="+", default=list(DELAYS_MS),
                        help="delays (ms) of the evaluation columns")
    parser.add_argument("--generations", type=int, default=GENERATIONS)
    parser.add_argument("--population", type=int, default=None,
                        help="differential evolution's population multiplier (default: the suite's)")
    parser.add_argument("--tuning-seeds", type=int, default=None,
                        help="tune on the first N of the suite's tuning seeds (default: all)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args(argv)
    for ms in set(args.tune_at) | set(args.delays):
        if f"delay-{ms}" not in TASKS:
            parser.error(f"no task delay-{ms}; delays: {', '.join(map(str, DELAYS_MS))}")
    if args.workers > 1:
        pool = ProcessPoolExecutor(args.workers)
        pool_map = pool.map
    else:
        pool, pool_map = None, map
    try:
        jobs = [(ms, args.generations, args.population, args.tuning_seeds) for ms in args.tune_at]
        tuned = dict(pool_map(tune, jobs))
        rows = [(f"linear feedback tuned at {ms} ms", tuned[ms]) for ms in args.tune_at]
        rows.append(("forward model (rls), preset gains, untuned", None))
        print("| controller | " + " | ".join(f"{ms} ms" for ms in args.delays) + " |")
        print("|---|" + "---|" * len(args.delays))
        for name, gains in rows:
            counts = [sum(pool_map(balanced, [(gains, ms, s) for s in range(args.seeds)]))
                      for ms in args.delays]
            print(f"| {name} | " + " | ".join(f"{c}/{args.seeds}" for c in counts) + " |", flush=True)
    finally:
        if pool is not None:
            pool.shutdown()


if __name__ == "__main__":
    main()
