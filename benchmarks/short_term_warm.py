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
magnitude, worst channel, over the last watched episode) beside that of the
forward-model agent's (``rls``, watching the same episodes, its Smith
predictor's estimate) and that of the raw delayed observation.
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
    """The oracle drives; the learners learn from what they sense, their own commands unused.

    ``errors[i]`` collects the worst scaled error of learner ``i``'s estimate of the
    present, checked when that moment's observation arrives; ``raw_errors`` the
    same for the raw delayed observation. Channels and scales are those of the
    first learner's short-term estimator.
    """

    def __init__(self, learners, driver):
        self.learners, self.driver = list(learners), driver
        self.actions = driver.actions
        self.last_command_ = None
        self.reset_errors()

    def reset_errors(self):
        self.errors = [[] for _ in self.learners]
        self.raw_errors = []
        self._previous = []

    def act(self, observation):
        for learner in self.learners:
            learner.act(observation)
        estimator = self.learners[0].internal_feedback
        channels = estimator.trust_channels
        scale = estimator.state_scale[channels]
        self._previous.append(np.asarray(observation, dtype=np.float64))
        if estimator.delay_error_ is not None and len(self._previous) > estimator.delay_steps:
            raw = self._previous[-1] - self._previous[-1 - estimator.delay_steps]
            self.raw_errors.append(float(np.max(np.abs(raw[channels]) / scale)))
            for errors, learner in zip(self.errors, self.learners, strict=True):
                error = learner.delay_error_
                errors.append(np.nan if error is None else float(np.max(np.abs(error[channels]) / scale)))
        action = self.driver.act(observation)
        self.last_command_ = self.driver.last_command_
        return action

    def observe(self, observation, action, next_observation):
        for learner in self.learners:
            learner.observe(observation, action, next_observation)
        return self.driver.observe(observation, action, next_observation)

    def reset(self):
        for part in (*self.learners, self.driver):
            part.reset()
        self.reset_errors()


def run_one(job):
    """Return ``(success, length, estimate error, forward model's error, raw error)`` of one seed.

    The errors are RMS over the last of ``watch`` watched episodes (NaN without any).
    """
    task_name, watch, seed = job
    task = TASKS[task_name]
    env = task.make_env(with_change=False)
    learner = task.build_agent("short-term", env, seed=seed)
    errors = (np.nan, np.nan, np.nan)
    if watch:
        forward = task.build_agent("rls", env, seed=seed)
        watching = Watching([learner, forward], task.build_agent("oracle", env, seed=seed))
        run_episodes(watching, env, episodes=watch, seed=10_000 + seed)
        rms = [float(np.sqrt(np.nanmean(np.square(e)))) for e in (*watching.errors, watching.raw_errors)]
        errors = tuple(rms)
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
             "| short-term estimate's error (RMS, scaled) | forward model's (rls) "
             "| raw delayed observation's |",
             "|---|---|---|---|---|---|---|"]
    for name in args.tasks:
        for watch in args.watch:
            rows = [r for job, r in zip(jobs, results, strict=True) if job[:2] == (name, watch)]
            wins = sum(r[0] for r in rows)
            errors = ["-" if not watch else f"{np.median([r[column] for r in rows]):.3g}"
                      for column in (2, 3, 4)]
            lines.append(f"| {name} | {watch} | {wins}/{len(rows)} | {np.median([r[1] for r in rows]):g} "
                         f"| {' | '.join(errors)} |")
    text = "\n".join(lines)
    print(text)
    return text


if __name__ == "__main__":
    main()
