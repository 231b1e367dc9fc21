"""Feedback-error learning on the arm: transfer to trajectories never trained on, and controls.

For each seed a blank ``fel`` agent (the generic CMAC inverse model) practises
``trials`` 10 s trials of the figure-eight at 0.5 Hz; then, with learning
frozen, it runs one trial on each test trajectory: the same trajectory
(``trained``), the figure-eight twice as fast (``2x faster``) and an ellipse
(``untrained``). Beside it, on the same trajectories: feedback alone (the same
PD, a blank inverse model that never learns, i.e. the ``fel-frozen`` control)
and the computed-torque oracle. The gain of the learned model over feedback
alone is ``1 - RMS(fel) / RMS(feedback)``; transfer keeps half of it when the
gain on a test trajectory is at least half the gain on the trained one.

Run ``python benchmarks/inverse_transfer.py --seeds 0:20``; ``--trials`` and
``--steps`` shrink it (the smoke test uses a tiny budget).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time

import gymnasium as gym
import numpy as np

import cerebellar.envs  # noqa: F401  (registers the tracking ids)
from cerebellar.agent import run_episodes
from cerebellar.envs import ARM_TRACKING_ID
from cerebellar.tasks.tracking import fel_agent, oracle_tracking_agent, tracking_scores

#: Test trajectories: keyword arguments of ``gymnasium.make(ARM_TRACKING_ID, ...)``.
TESTS = {"trained": {}, "2x faster": {"speed": 2.0}, "untrained": {"shape": "ellipse"}}


@dataclasses.dataclass(frozen=True)
class Config:
    """What to run.

    Attributes
    ----------
    seeds : tuple of int
        Seeds of the learned agents (the other agents are deterministic).
    trials : int
        Practice trials on the trained trajectory.
    steps : int or None
        Steps per trial (None: the full 10 s).
    """

    seeds: tuple = tuple(range(20))
    trials: int = 8
    steps: int | None = None


def _trial(agent, env, seed, steps) -> tuple[float, float]:
    agent.trajectory = env.get_wrapper_attr("trajectory")
    return tracking_scores(run_episodes(agent, env, seed=seed, max_steps=steps).episodes[0])


def run(config: Config) -> dict:
    """Return the RMS per agent, test and seed, and the practice curve of each seed."""
    envs = {name: gym.make(ARM_TRACKING_ID, **options) for name, options in TESTS.items()}
    results = {"fel": {name: [] for name in TESTS}, "feedback alone": {}, "computed torque": {},
               "practice": []}
    for name, env in envs.items():
        results["feedback alone"][name] = _trial(fel_agent(env, learning=False), env, 0, config.steps)[0]
        results["computed torque"][name] = _trial(oracle_tracking_agent(env), env, 0, config.steps)[0]
    for seed in config.seeds:
        train = envs["trained"]
        agent = fel_agent(train, seed=seed)
        curve = [tracking_scores(t)[0] for t in run_episodes(agent, train, episodes=config.trials, seed=seed,
                                                              max_steps=config.steps).episodes]
        results["practice"].append(curve)
        agent.learning = False
        for name, env in envs.items():
            results["fel"][name].append(_trial(agent, env, seed, config.steps)[0])
    return results


def table(results: dict) -> str:
    """Return the transfer table (medians over seeds)."""
    lines = ["| trajectory | feedback alone RMS (rad) | fel RMS (rad, median) | computed torque RMS (rad) "
             "| gain over feedback alone (median) | seeds keeping >= half the trained gain |",
             "|---|---|---|---|---|---|"]
    feedback = results["feedback alone"]
    gains = {name: 1.0 - np.array(values) / feedback[name] for name, values in results["fel"].items()}
    trained = gains["trained"]
    for name, values in results["fel"].items():
        kept = int(np.sum(gains[name] >= 0.5 * trained))
        lines.append(f"| {name} | {feedback[name]:.4f} | {np.median(values):.4f} "
                     f"| {results['computed torque'][name]:.4f} | {np.median(gains[name]):.1%} "
                     f"| {kept}/{len(values)} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    """Run the benchmark and print its table (``--json`` for the raw figures)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0:20", help="seeds A:B")
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--table-from", default=None, help="print the table of a saved --json output")
    args = parser.parse_args(argv)
    if args.table_from:
        with open(args.table_from) as stream:
            print(table(json.load(stream)))
        return 0
    low, high = (int(x) for x in args.seeds.split(":"))
    started = time.perf_counter()
    results = run(Config(seeds=tuple(range(low, high)), trials=args.trials, steps=args.steps))
    print(json.dumps(results) if args.json else table(results))
    print(f"{time.perf_counter() - started:.0f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
