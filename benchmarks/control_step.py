"""Microseconds per control step for each forward model.

One control step = K = 3 refinements through the model (three predictions) plus
one learning update, on CartPole-v1-sized inputs (4 state channels, 1 command);
the environment step is excluded. Transitions are recorded once from a real
CartPole-v1 episode so every model sees realistic inputs.

Usage::

    python benchmarks/control_step.py [--steps 5000] [--repeats 7]

Prints the median over repeats of the mean time per step, with the machine noted.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import gymnasium as gym
import numpy as np

from cerebellar.agent import run_episode
from cerebellar.models import MODEL_NAMES
from cerebellar.tasks import make_agent


def record_transitions(steps: int, seed: int = 0):
    """Record (state, action, next state) from CartPole-v1 under the default agent."""
    env = gym.make("CartPole-v1", max_episode_steps=10**9)
    agent = make_agent(env, model="rls", seed=seed)
    transitions = []

    def keep(step):
        transitions.append((step.observation, step.action, step.next_observation))

    first = True
    while len(transitions) < steps:
        # A fallen pole starts a new episode (the first seeded); the model keeps learning.
        run_episode(agent, env, seed=seed if first else None, max_steps=steps - len(transitions),
                    on_step=keep)
        first = False
    return transitions


def time_model(name: str, transitions, repeats: int) -> list[float]:
    """Return the mean microseconds per control step, once per repeat."""
    env = gym.make("CartPole-v1")
    results = []
    for _ in range(repeats):
        agent = make_agent(env, model=name, iterations=3, seed=0)
        act, observe = agent.act, agent.observe
        # Not run_episode: the recorded transitions are replayed so that the time
        # excludes the environment step and every model sees the same inputs.
        started = time.perf_counter()
        for observation, action, next_observation in transitions:
            act(observation)
            observe(observation, action, next_observation)
        results.append((time.perf_counter() - started) / len(transitions) * 1e6)
    return results


def main(argv=None) -> None:
    """Run the benchmark and print a table (``argv``: the arguments, default the command line)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=5000)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args(argv)
    transitions = record_transitions(args.steps)
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, {platform.processor() or '?'}, "
          f"Python {platform.python_version()}, numpy {np.__version__}")
    print(f"control step = K=3 refinements + 1 learning update; {args.steps} steps x {args.repeats}")
    print(f"{'model':<20}{'median us/step':>16}{'min':>10}{'max':>10}")
    for name in MODEL_NAMES:
        if name == "cerebellum":
            continue  # same as cerebellum-cmac
        times = time_model(name, transitions, args.repeats)
        print(f"{name:<20}{np.median(times):>16.1f}{min(times):>10.1f}{max(times):>10.1f}")


if __name__ == "__main__":
    main()
