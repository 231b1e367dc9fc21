"""Do gains tuned at one sensory delay work at another? And one untuned controller with a model?

Tunes linear feedback on ``cerebellar/CartPoleContinuous-v0`` at a few delays
(the same search as ``cerebellar suite``), then counts, for every delay, the
first episodes (1000 steps) that each set of tuned gains balances with plain
feedback, beside the forward-model agent (rls, the preset's untuned gains, told
the delay) on the same seeds.

Usage::

    python benchmarks/tuned_gain_transfer.py [--seeds 20] [--tune-at 0 100 300] [--workers 2]

Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import os
from concurrent.futures import ProcessPoolExecutor

from cerebellar import Agent, run_episodes
from cerebellar.control import FeedbackAgent
from cerebellar.evaluate import DELAYS_MS, TASKS, tune_for_task


def tune(delay_ms: int):
    """Return the gains tuned at ``delay_ms``."""
    return delay_ms, tune_for_task(TASKS[f"delay-{delay_ms}"]).gains


def balanced(job) -> int:
    """Return 1 if the agent balances the whole first episode, else 0."""
    gains, delay_ms, seed = job
    task = TASKS[f"delay-{delay_ms}"]
    env = task.make_env()
    if gains is None:
        agent = Agent.for_env(env, model="rls", seed=seed, delay_steps=task.delay_steps)
    else:
        agent = FeedbackAgent.for_env(env, gains)
    return int(run_episodes(agent, env, episodes=1, seed=seed).lengths[0] == 1000)


def main() -> None:
    """Tune, evaluate across delays, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--tune-at", type=int, nargs="+", default=[0, 100, 300])
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    with ProcessPoolExecutor(args.workers) as pool:
        tuned = dict(pool.map(tune, args.tune_at))
        rows = [(f"linear feedback tuned at {ms} ms", tuned[ms]) for ms in args.tune_at]
        rows.append(("forward model (rls), preset gains, untuned", None))
        print("| controller | " + " | ".join(f"{ms} ms" for ms in DELAYS_MS) + " |")
        print("|---|" + "---|" * len(DELAYS_MS))
        for name, gains in rows:
            counts = [sum(pool.map(balanced, [(gains, ms, s) for s in range(args.seeds)]))
                      for ms in DELAYS_MS]
            print(f"| {name} | " + " | ".join(f"{c}/{args.seeds}" for c in counts) + " |", flush=True)


if __name__ == "__main__":
    main()
