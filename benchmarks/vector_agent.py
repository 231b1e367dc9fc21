"""Throughput of N cart-pole agents stepped as one VectorAgent, against separate agents.

One agent step = act (K = 3 refinements through the model) + observe (one
learning update), the environment excluded: transitions are recorded once
from the continuous cart-pole and replayed, agent ``i`` starting ``i`` steps
into the recording so that every agent sees its own inputs. Separate agents
are ``Agent`` objects stepped one after the other; the vector steps all N as
one batch. For the sizes in ``--check`` the actions of the vector are compared
bitwise with those of N separate agents on the same observations.

Usage::

    python benchmarks/vector_agent.py [--models rls,cerebellum] [--sizes 1,16,256,4096]
        [--steps 200] [--repeats 3] [--separate 256] [--check 256,4096]

Prints agent steps per second (median of repeats) and the ratio to
``--separate`` separate agents, with the machine noted. ``--clock cpu`` times
with the process's CPU time instead of the wall clock, for a machine shared with
other jobs (where the wall clock counts their time too).
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import gymnasium as gym
import numpy as np

from cerebellar import VectorAgent
from cerebellar.agent import run_episode
from cerebellar.envs import CARTPOLE_CONTINUOUS_ID
from cerebellar.tasks import make_agent


def record_transitions(steps: int, seed: int = 0):
    """Return (observations, actions, next observations) of the continuous cart-pole under an rls agent."""
    env = gym.make(CARTPOLE_CONTINUOUS_ID, max_episode_steps=10**9)
    agent = make_agent(env, model="rls", seed=seed)
    rows = []
    first = True
    while len(rows) < steps:
        run_episode(agent, env, seed=seed if first else None, max_steps=steps - len(rows),
                    on_step=lambda step: rows.append((step.observation, step.action, step.next_observation)))
        first = False
    observations, actions, nexts = (np.array(column, dtype=np.float64) for column in zip(*rows, strict=True))
    return observations, actions, nexts


def agents(model: str, n: int, env):
    """Return ``n`` separate agents seeded 0 .. n - 1."""
    return [make_agent(env, model=model, seed=i) for i in range(n)]


def inputs(transitions, n: int, step: int):
    """Return the observations, actions and next observations of ``n`` agents at ``step``."""
    observations, actions, nexts = transitions
    rows = (np.arange(n) + step) % len(observations)
    return observations[rows], actions[rows], nexts[rows]


CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}
clock = time.perf_counter


def time_separate(model, n, transitions, steps, env) -> float:
    """Return agent steps per second of ``n`` separate agents."""
    separate = agents(model, n, env)
    started = clock()
    for step in range(steps):
        observations, actions, nexts = inputs(transitions, n, step)
        for i, agent in enumerate(separate):
            agent.act(observations[i])
            agent.observe(observations[i], actions[i], nexts[i])
    return n * steps / (clock() - started)


def time_vector(model, n, transitions, steps, env) -> float:
    """Return agent steps per second of one VectorAgent of ``n`` agents."""
    vector = VectorAgent(agents(model, n, env))
    started = clock()
    for step in range(steps):
        observations, actions, nexts = inputs(transitions, n, step)
        vector.act(observations)
        vector.observe(observations, actions, nexts)
    return n * steps / (clock() - started)


def identical_actions(model, n, transitions, steps, env) -> bool:
    """Whether the vector's actions equal ``n`` separate agents' actions at every step, bitwise."""
    separate = agents(model, n, env)
    vector = VectorAgent(agents(model, n, env))
    for step in range(steps):
        observations, actions, nexts = inputs(transitions, n, step)
        batch = vector.act(observations)
        single = np.stack([agent.act(observations[i]) for i, agent in enumerate(separate)])
        if not np.array_equal(batch, single):
            return False
        vector.observe(observations, actions, nexts)
        for i, agent in enumerate(separate):
            agent.observe(observations[i], actions[i], nexts[i])
    return True


def main(argv=None) -> None:
    """Run the benchmark and print a table (``argv``: the arguments, default the command line)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", default="rls,cerebellum")
    parser.add_argument("--sizes", default="1,4,16,64,256,1024,4096")
    parser.add_argument("--steps", type=int, default=200, help="steps timed per repeat")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--separate", type=int, default=256, help="separate agents to compare with")
    parser.add_argument("--check", default="256,4096", help="sizes whose actions are compared bitwise")
    parser.add_argument("--check-steps", type=int, default=20)
    parser.add_argument("--clock", choices=tuple(CLOCKS), default="wall")
    args = parser.parse_args(argv)
    global clock
    clock = CLOCKS[args.clock]
    sizes = [int(s) for s in args.sizes.split(",")]
    checked = [int(s) for s in args.check.split(",") if s]
    env = gym.make(CARTPOLE_CONTINUOUS_ID)
    transitions = record_transitions(max(args.steps, args.check_steps) + max(sizes + checked))
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, {platform.processor() or '?'}, "
          f"Python {platform.python_version()}, numpy {np.__version__}")
    print(f"agent step = act (K=3) + observe, env excluded; {args.steps} steps x {args.repeats} "
          f"repeats, median; {args.clock} clock")
    for model in args.models.split(","):
        separate = float(np.median([time_separate(model, args.separate, transitions, args.steps, env)
                                    for _ in range(args.repeats)]))
        print(f"\n### {model}: {args.separate} separate agents: {separate:,.0f} agent steps/s\n")
        print("| agents | vector agent steps/s | x separate | identical actions |")
        print("|---|---|---|---|")
        for n in sizes:
            rate = float(np.median([time_vector(model, n, transitions, args.steps, env)
                                    for _ in range(args.repeats)]))
            same = (("yes" if identical_actions(model, n, transitions, args.check_steps, env) else "NO")
                    if n in checked else "-")
            print(f"| {n} | {rate:,.0f} | {rate / separate:.1f} | {same} |")


if __name__ == "__main__":
    main()
