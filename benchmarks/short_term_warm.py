"""Is the short-term agent short of experience, or unable to cancel the delay at all?

In the race (``cerebellar suite --tasks race``) every agent starts blank. This
benchmark separates how fast the short-term predictor learns from what it can
do once it has learned: the ``short-term`` agent first *watches* ``W`` episodes
in which the oracle drives the body (its predictor and its one-step model learn
from the delayed senses and the efference copies of the commands actually sent,
exactly as when it acts itself), then runs one episode of its own, which is
scored as the task scores it. ``W = 0`` is the race's first episode.

Usage::

    python benchmarks/short_term_warm.py [--seeds 10] [--watch 0 1 3] [--workers 2]
        [--tasks delay-100 delay-200 delay-300 wrist-100]

Prints a Markdown table: per task and number of watched episodes, the seeds
whose own first episode succeeded, its median length, and the median RMS error
of the predictor's estimate of the present (scaled by each channel's typical
magnitude, worst channel, over the last watched episode) beside that of the raw
delayed observation.
"""

from __future__ import annotations

import argparse
import os
import platform
from concurrent.futures import ProcessPoolExecutor

import numpy as np

from cerebellar.agent import run_episodes
from cerebellar.tasks import TASKS, get_preset
from cerebellar.tasks.catalogue import SUITES


class Watching:
    """The oracle drives; the short-term agent learns from what it senses, its own command unused."""

    def __init__(self, learner, driver):
        self.learner, self.driver = learner, driver
        self.actions = driver.actions
        self.last_command_ = None
        self.errors, self.raw_errors = [], []
        self._previous = []

    def act(self, observation):
        self.learner.act(observation)
        estimator = self.learner.internal_feedback
        self._previous.append(np.asarray(observation, dtype=np.float64))
        if estimator.delay_error_ is not None and len(self._previous) > estimator.delay_steps:
            raw = self._previous[-1] - self._previous[-1 - estimator.delay_steps]
            channels = estimator.trust_channels
            scale = estimator.state_scale[channels]
            self.errors.append(float(np.max(np.abs(estimator.delay_error_[channels]) / scale)))
            self.raw_errors.append(float(np.max(np.abs(raw[channels]) / scale)))
        action = self.driver.act(observation)
        self.last_command_ = self.driver.last_command_
        return action

    def observe(self, observation, action, next_observation):
        self.learner.observe(observation, action, next_observation)
        return self.driver.observe(observation, action, next_observation)

    def reset(self):
        for part in (self.learner, self.driver):
            part.reset()
        self.errors, self.raw_errors, self._previous = [], [], []


def run_one(job):
    """Return ``(success, length, estimate error, raw error)`` of one seed after ``watch`` episodes."""
    task_name, watch, seed = job
    task = TASKS[task_name]
    env = task.make_env(with_change=False)
    learner = task.build_agent("short-term", env, seed=seed)
    errors = (np.nan, np.nan)
    if watch:
        watching = Watching(learner, task.build_agent("oracle", env, seed=seed))
        run_episodes(watching, env, episodes=watch, seed=10_000 + seed)
        errors = (float(np.sqrt(np.mean(np.square(watching.errors)))),
                  float(np.sqrt(np.mean(np.square(watching.raw_errors)))))
    trace = run_episodes(learner, env, episodes=1, seed=seed).episodes[0]
    success, _ = task.score(trace, env)
    env.close()
    return bool(success), trace.length, *errors


def main(argv=None) -> str:
    """Run the benchmark and print (and return) its Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--watch", type=int, nargs="+", default=[0, 1, 3])
    parser.add_argument("--tasks", nargs="+", default=list(SUITES["race"]))
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    args = parser.parse_args(argv)
    for name in args.tasks:
        get_preset(TASKS[name].env_id)  # a known task with a preset, or KeyError now
    jobs = [(name, watch, seed) for name in args.tasks for watch in args.watch for seed in range(args.seeds)]
    if args.workers > 1:
        with ProcessPoolExecutor(args.workers) as pool:
            results = list(pool.map(run_one, jobs))
    else:
        results = [run_one(job) for job in jobs]
    lines = [f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}", "",
             "| task | oracle episodes watched | own first episode succeeded | median length "
             "| estimate error (RMS, scaled) | raw delayed observation's error |",
             "|---|---|---|---|---|---|"]
    for name in args.tasks:
        for watch in args.watch:
            rows = [r for job, r in zip(jobs, results, strict=True) if job[:2] == (name, watch)]
            wins = sum(r[0] for r in rows)
            estimate = "-" if not watch else f"{np.median([r[2] for r in rows]):.3g}"
            raw = "-" if not watch else f"{np.median([r[3] for r in rows]):.3g}"
            lines.append(f"| {name} | {watch} | {wins}/{len(rows)} | {np.median([r[1] for r in rows]):g} "
                         f"| {estimate} | {raw} |")
    text = "\n".join(lines)
    print(text)
    return text


if __name__ == "__main__":
    main()
