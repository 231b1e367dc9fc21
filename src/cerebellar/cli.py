"""Command line: ``cerebellar run ENV_ID ...`` and ``cerebellar suite ...``.

``cerebellar run CartPole-v1`` with no other flag is the demo: a blank RLS
forward model learns cart-pole from its first step, and the run writes its
metrics CSV and plot under ``results/``. ``cerebellar suite`` runs the
evaluation harness and writes the README's tables.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import gymnasium as gym

from ._io import atomic_write
from .agent import Agent
from .evaluate import (
    AGENTS,
    CARTPOLE_SUITES,
    DEFAULT_AGENTS,
    SUITES,
    SuiteResult,
    evaluate,
    resolve_tasks,
)
from .models import MODEL_NAMES
from .runner import run_episodes


@dataclass(frozen=True)
class RunConfig:
    """Settings of ``cerebellar run``; each field is a command-line flag.

    Attributes
    ----------
    env_id : str
        Gymnasium environment id.
    model : str
        Forward model: one of ``MODEL_NAMES``.
    iterations : int
        Refinements through the model per step (K); 0 is pure feedback.
    episodes : int
        Episodes per seed; the model keeps learning across them.
    seeds : range
        Seeds to run, each with a fresh, blank model.
    out : str or None
        Folder for the CSV and PNG of each seed; None writes nothing.
    json : bool
        Print one JSON object per seed instead of a text line.
    max_steps : int or None
        Episode step limit, overriding the environment's.
    """

    env_id: str
    model: str = "rls"
    iterations: int = 3
    episodes: int = 3
    seeds: range = range(0, 1)
    out: str | None = "results"
    json: bool = False
    max_steps: int | None = None


def parse_seeds(text: str) -> range:
    """Parse ``A:B`` (seeds A to B-1) or a single seed ``A``."""
    try:
        if ":" in text:
            start, stop = (int(part) for part in text.split(":", 1))
        else:
            start = int(text)
            stop = start + 1
    except ValueError:
        raise argparse.ArgumentTypeError(f"seeds must be A:B or A, got {text!r}") from None
    if stop <= start or start < 0:
        raise argparse.ArgumentTypeError(f"seeds A:B needs 0 <= A < B, got {text!r}")
    return range(start, stop)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _non_negative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be at least 0, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser."""
    parser = argparse.ArgumentParser(
        prog="cerebellar",
        description="Learn a forward model online and control through it.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser(
        "run",
        help="run a forward-model agent on a Gymnasium environment",
        description="Run a blank forward-model agent on ENV_ID for each seed. "
        "`cerebellar run CartPole-v1` is the demo.",
    )
    run.add_argument("env_id", metavar="ENV_ID", help="Gymnasium id, e.g. CartPole-v1")
    run.add_argument("--model", default="rls", choices=MODEL_NAMES, help="forward model (default rls)")
    run.add_argument("--iterations", "-K", type=_non_negative, default=3,
                     help="refinements through the model per step; 0 = pure feedback (default 3)")
    run.add_argument("--episodes", type=_positive, default=3, help="episodes per seed (default 3)")
    run.add_argument("--seeds", type=parse_seeds, default=range(0, 1),
                     help="seeds A:B (A to B-1) or one seed (default 0)")
    run.add_argument("--out", default="results",
                     help="folder for the CSV and PNG of each seed (default results; '' for none)")
    run.add_argument("--json", action="store_true", help="print one JSON object per seed")
    run.add_argument("--max-steps", type=_positive, default=None,
                     help="episode step limit, overriding the environment's")
    suite = commands.add_parser(
        "suite",
        help="evaluate agents on tasks against tuned feedback and the oracle",
        description="Run every agent on every task for every seed (a fresh agent per seed), "
        "beside the no-model opponent tuned on the task and the oracle; write Markdown "
        "tables, a CSV of every episode and PNG plots.",
    )
    suite.add_argument("--tasks", default=",".join(CARTPOLE_SUITES),
                       help="comma-separated task or suite names; suites: "
                       f"{', '.join(SUITES)} (default: the cart-pole suites {', '.join(CARTPOLE_SUITES)})")
    suite.add_argument("--agents", default=",".join(DEFAULT_AGENTS),
                       help=f"comma-separated agents from {', '.join(AGENTS)}, any model "
                       f"({', '.join(MODEL_NAMES)}), doubled-gain (seed test only), rls+practice and "
                       "cerebellum+practice (reaching only: 0.3 s of practice before the session)")
    suite.add_argument("--seeds", type=parse_seeds, default=range(0, 20), help="seeds A:B (default 0:20)")
    suite.add_argument("--episodes", type=_positive, default=None,
                       help="episodes per agent, overriding each task's")
    suite.add_argument("--out", default="results/suite", help="output folder (default results/suite)")
    suite.add_argument("--workers", type=_positive, default=os.cpu_count() or 1,
                       help="parallel processes (default: all cores)")
    suite.add_argument("--tuning-generations", type=_positive, default=40,
                       help="budget of the tuned-feedback search (default 40 generations)")
    return parser


def run_suite(args, stdout=None, stderr=None) -> SuiteResult:
    """Run ``cerebellar suite``: evaluate, print and write the table, CSV and plots."""
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    tasks = resolve_tasks([name.strip() for name in args.tasks.split(",") if name.strip()])
    if args.episodes is not None:
        tasks = [dataclasses.replace(task, episodes=args.episodes) for task in tasks]
    agents = tuple(name.strip() for name in args.agents.split(",") if name.strip())
    total = len(tasks) * len(agents) * len(args.seeds)
    progress = None
    if stderr.isatty():
        from tqdm import tqdm

        progress = tqdm(total=total, desc="suite", unit=" runs", file=stderr, leave=False)
    try:
        result = evaluate(tasks, agents, args.seeds, workers=args.workers,
                          tuning_generations=args.tuning_generations,
                          progress=progress.update if progress else None)
    finally:
        if progress:
            progress.close()
    table = result.to_markdown()
    print(table, file=stdout)
    if args.out:
        folder = Path(args.out)
        folder.mkdir(parents=True, exist_ok=True)
        with atomic_write(folder / "results.md") as stream:
            stream.write(table)
        result.to_csv(folder / "episodes.csv")
        try:
            result.plot(folder)
        except ImportError:
            print("cerebellar: no plots written: install matplotlib (pip install 'cerebellar[plot]')",
                  file=stderr)
        print(f"wrote {folder}/results.md, episodes.csv and plots in {result.seconds:.0f} s",
              file=stdout)
    return result


def run(config: RunConfig, stdout=None, stderr=None) -> list:
    """Run the configured seeds; print a line (or JSON) per seed; return the results."""
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    results = []
    progress = _progress_bar(config, stderr)
    try:
        for seed in config.seeds:
            env = _make_env(config)
            agent = Agent.for_env(env, model=config.model, iterations=config.iterations, seed=seed)
            result = run_episodes(
                agent, env, episodes=config.episodes, seed=seed, max_steps=config.max_steps,
                progress=progress.update if progress else None,
                label=f"{config.model} K={config.iterations}",
            )
            env.close()
            results.append(result)
            if config.out:
                _write_outputs(result, config, seed, stderr)
            if config.json:
                record = result.to_dict()
                record["model"] = config.model
                record["iterations"] = config.iterations
                print(json.dumps(record), file=stdout, flush=True)
            else:
                line = result.summary()
                if progress:
                    progress.write(line, file=stdout)
                else:
                    print(line, file=stdout, flush=True)
    finally:
        if progress:
            progress.close()
    return results


def _make_env(config: RunConfig):
    # The cerebellar/ ids are registered by importing the package.
    try:
        if config.max_steps is not None:
            return gym.make(config.env_id, max_episode_steps=config.max_steps)
        return gym.make(config.env_id)
    except gym.error.Error as error:
        raise SystemExit(f"cerebellar: unknown or unusable environment {config.env_id!r}: {error}") from None


def _progress_bar(config: RunConfig, stderr):
    if config.json or not stderr.isatty():
        return None
    from tqdm import tqdm

    return tqdm(desc=f"{config.env_id} {config.model}", unit=" steps", file=stderr, leave=False)


def _write_outputs(result, config: RunConfig, seed: int, stderr) -> None:
    folder = Path(config.out)
    stem = f"{config.env_id.replace('/', '_')}_{config.model}_K{config.iterations}_seed{seed}"
    result.to_csv(folder / f"{stem}.csv")
    try:
        import matplotlib.pyplot as plt

        figure = result.plot(folder / f"{stem}.png")
        plt.close(figure)
    except ImportError:
        print("cerebellar: no plot written: install matplotlib (pip install 'cerebellar[plot]')",
              file=stderr)


def main(argv=None) -> int:
    """Entry point of the ``cerebellar`` command."""
    args = build_parser().parse_args(argv)
    if args.command == "suite":
        try:
            run_suite(args)
        except ValueError as error:
            print(f"cerebellar: {error}", file=sys.stderr)
            return 2
        return 0
    config = RunConfig(
        env_id=args.env_id, model=args.model, iterations=args.iterations, episodes=args.episodes,
        seeds=args.seeds, out=args.out or None, json=args.json, max_steps=args.max_steps,
    )
    try:
        run(config)
    except (ValueError, FloatingPointError) as error:
        print(f"cerebellar: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
