"""The library's control step against a naive 40-line numpy prototype of the same work.

One control step = K = 3 refinements of the seed's procedure through an RLS
forward model plus one RLS learning update, CartPole-v1 sizes (4 state
channels, 1 command, actions -10 N and +10 N), environment step excluded.
:class:`Prototype` does the same arithmetic as ``make_agent(env, "rls")`` in
plain numpy, with no validation and no generality: it is the floor a library
with checks and options is measured against. Both replay the same recorded
transitions in one process, taking turns every 100 steps, so that a busy
machine slows both alike. Per repeat, the ratio is the median over chunks of
library time / prototype time on neighbouring chunks; the printed figure is
the median over repeats (and the range), the microseconds the medians of the
chunks' time per step. The prototype also checks itself: its actions and
final weights must equal the library's bit for bit.

Usage::

    python benchmarks/control_step_prototype.py [--steps 5000] [--repeats 7]
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import time

import gymnasium as gym
import numpy as np

from cerebellar.agent import run_episode
from cerebellar.tasks import make_agent


class Prototype:
    """One RLS forward-model agent for CartPole-v1, the library's arithmetic in plain numpy."""

    def __init__(self, gains, setpoint, action_values, input_scale, forgetting=0.999,
                 initial_covariance=100.0, max_covariance=1e4, iterations=3):
        self.gains, self.setpoint = np.atleast_2d(gains), np.asarray(setpoint, dtype=np.float64)
        self.values = np.asarray(action_values, dtype=np.float64)
        self.low, self.high = self.values.min(), self.values.max()
        self.inverse_scale = 1.0 / np.maximum(np.sqrt(np.asarray(input_scale, dtype=np.float64) ** 2), 1e-3)
        n = len(input_scale) + 1
        self.weights = np.zeros((len(setpoint), n))
        self.covariance = np.eye(n) * initial_covariance
        self.forgetting, self.max_trace, self.iterations = forgetting, max_covariance * n, iterations

    def act(self, observation):
        state = np.asarray(observation, dtype=np.float64)
        n, w, g = state.shape[0], self.weights, self.gains
        command = min(max((g @ (self.setpoint - state)).item(), self.low), self.high)
        offset = w[:, :n] @ (state * self.inverse_scale[:n]) + w[:, -1] + state
        drive = (g @ (self.setpoint - offset)).item()
        coupling = (g @ (w[:, n:-1] * self.inverse_scale[n:])).item()
        for _ in range(self.iterations):
            command = min(max(command + (drive - coupling * command), self.low), self.high)
        return int(np.argmin(np.abs(self.values - command)))

    def observe(self, observation, action, next_observation):
        state = np.asarray(observation, dtype=np.float64)
        target = np.asarray(next_observation, dtype=np.float64) - state
        z = np.concatenate((state, self.values[action:action + 1], (1.0,)))
        z[:-1] *= self.inverse_scale
        error = target - self.weights @ z
        pz = self.covariance @ z
        inverse = 1.0 / (self.forgetting + z @ pz)
        self.weights = self.weights + error[:, None] * (pz * inverse)
        pz *= math.sqrt(inverse / self.forgetting)
        self.covariance *= 1.0 / self.forgetting
        self.covariance -= pz[:, None] * pz
        trace = self.covariance.trace()
        if trace > self.max_trace:
            self.covariance *= self.max_trace / trace
        return error


def prototype_for(agent) -> Prototype:
    """Return the prototype with the agent's gains, setpoint, action values, scale and RLS settings."""
    model, feedback = agent.model, agent.controller.feedback
    return Prototype(feedback.gains, feedback.setpoint, agent.actions.values[:, 0],
                     model.input_scale, model.forgetting, model.initial_covariance,
                     model.max_covariance, agent.controller.iterations)


def record_transitions(steps: int, seed: int = 0) -> list:
    """Record (observation, action, next observation) of CartPole-v1 under the RLS agent, as given."""
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


def replay(agents, transitions, chunk: int = 100) -> tuple[list[np.ndarray], list[list]]:
    """Replay the transitions through each agent; return its microseconds per step by chunk, and actions.

    The agents take turns on chunks of ``chunk`` steps, the first of them
    alternating, so that on a shared machine a busy spell falls on neighbouring
    chunks of both rather than on one agent.
    """
    seconds = [[] for _ in agents]
    actions = [[] for _ in agents]
    clock = time.perf_counter
    for turn, start in enumerate(range(0, len(transitions), chunk)):
        part = transitions[start:start + chunk]
        order = range(len(agents)) if turn % 2 == 0 else reversed(range(len(agents)))
        for number in order:
            agent = agents[number]
            act, observe, keep = agent.act, agent.observe, actions[number].append
            started = clock()
            for observation, action, next_observation in part:
                keep(act(observation))
                observe(observation, action, next_observation)
            seconds[number].append((clock() - started) / len(part) * 1e6)
    # Actions are appended chunk by chunk, so each list is in step order.
    return [np.array(s) for s in seconds], actions


def main(argv=None) -> None:
    """Print library and prototype microseconds per step and their ratio (``argv``: the arguments)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=5000)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--models", default="rls,cerebellum", help="library models to time")
    args = parser.parse_args(argv)
    transitions = record_transitions(args.steps)
    env = gym.make("CartPole-v1")
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, {platform.processor() or '?'}, "
          f"Python {platform.python_version()}, numpy {np.__version__}; pid {os.getpid()}, "
          f"CPUs allowed {sorted(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else '?'}")
    print(f"control step = K=3 refinements + 1 learning update; {args.steps} steps x {args.repeats} "
          "repeats, library and prototype taking turns every 100 steps in this process")
    print(f"{'model':<14}{'library us':>12}{'prototype us':>14}{'ratio median':>14}{'min':>8}{'max':>8}")
    for name in args.models.split(","):
        times, prototype_times, ratios = [], [], []
        for _ in range(args.repeats):
            agent = make_agent(env, model=name, iterations=3, seed=0)
            prototype = prototype_for(make_agent(env, model="rls", iterations=3, seed=0))
            (library_us, prototype_us), (library_actions, prototype_actions) = replay(
                [agent, prototype], transitions)
            if name == "rls" and (library_actions != prototype_actions
                                  or not np.array_equal(agent.model.weights_, prototype.weights)):
                raise AssertionError("the prototype's arithmetic differs from the library's")
            times.append(np.median(library_us))
            prototype_times.append(np.median(prototype_us))
            # The median over chunks of the ratio of neighbouring chunks: a busy spell is an outlier.
            ratios.append(float(np.median(library_us / prototype_us)))
        print(f"{name:<14}{np.median(times):>12.1f}{np.median(prototype_times):>14.1f}"
              f"{np.median(ratios):>14.2f}{min(ratios):>8.2f}{max(ratios):>8.2f}")


if __name__ == "__main__":
    main()
