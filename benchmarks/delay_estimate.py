"""How fast does the agent find its own sensory delay? ``delay_steps="auto"`` on the cart-pole.

For each ``delay-auto-*`` task of the catalogue (the continuous cart-pole
behind a :class:`~cerebellar.envs.SensoryDelay`, the agents told nothing), each
agent and each seed, exactly as the suite runs it (``run_agent``'s env, agent
and episode seeds): the agent's delay estimate (``agent.delay_steps``) after
every episode (as the next one starts: the estimate is refreshed at reset),
against the true delay. Reported per task and agent:
the estimate within one step of the truth at the end of the first episode,
balanced by the third episode, and the median estimate at the end of episode 1.

Usage::

    python benchmarks/delay_estimate.py [--tasks delay-auto-60 delay-auto-300]
        [--agents rls cerebellum oracle] [--seeds 20]

Prints a Markdown table (single process). Results: ``docs/results/kalman-and-delay.md``.
"""

from __future__ import annotations

import argparse
import datetime
import platform

import numpy as np

from cerebellar.agent import run_episodes
from cerebellar.evaluate import build_agent
from cerebellar.tasks import TASKS

DEFAULT_TASKS = tuple(name for name in TASKS if name.startswith("delay-auto-"))


def estimates_per_episode(task_name: str, agent_name: str, seed: int) -> tuple[int, list[int], list[bool]]:
    """Return the true delay, the agent's estimate at the end of each episode, and each episode's success."""
    task = TASKS[task_name]
    env = task.make_env()
    agent = build_agent(agent_name, task, env, seed)
    per_step: list[int] = []
    result = run_episodes(agent, env, episodes=task.episodes, seed=seed, label=agent_name,
                          progress=lambda _: per_step.append(agent.delay_steps))
    ends = np.cumsum([trace.length for trace in result.episodes]) - 1
    successes = [task.score(trace, env)[0] for trace in result.episodes]
    true = env.delay_steps
    env.close()
    # What an episode taught shows at the next one's first step (the estimate is refreshed at reset).
    after = [per_step[i + 1] if i + 1 < len(per_step) else per_step[i] for i in ends]
    return true, after, successes


def main(argv=None) -> int:
    """Print the table of delay estimates."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", nargs="+", default=list(DEFAULT_TASKS))
    parser.add_argument("--agents", nargs="+", default=["rls", "cerebellum", "oracle"])
    parser.add_argument("--seeds", type=int, default=20)
    args = parser.parse_args(argv)
    print(f"{datetime.date.today()}, {platform.processor() or platform.machine()}, seeds 0-{args.seeds - 1}")
    print("| task | agent | true delay (steps) | estimate within 1 step after episode 1 "
          "| estimate after episode 1 (median) | balanced by episode 3 |")
    print("|---|---|---|---|---|---|")
    for task_name in args.tasks:
        for agent_name in args.agents:
            rows = [estimates_per_episode(task_name, agent_name, seed) for seed in range(args.seeds)]
            true = rows[0][0]
            close = sum(abs(est[0] - true) <= 1 for _, est, _ in rows)
            balanced = sum(ok[min(2, len(ok) - 1)] for _, _, ok in rows)
            median = float(np.median([est[0] for _, est, _ in rows]))
            print(f"| {task_name} | {agent_name} | {true} | {close}/{args.seeds} | {median:g} "
                  f"| {balanced}/{args.seeds} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
