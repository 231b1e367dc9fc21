"""Command line: ``cerebellar run ENV_ID ...`` and ``cerebellar suite ...``.

``cerebellar run CartPole-v1`` with no other flag is the demo: a blank RLS
forward model learns cart-pole from its first step, and the run writes its
metrics CSV and plot under ``results/``. ``run`` takes any environment of the
suite (``Pendulum-v1``, ``cerebellar/TwoLinkArm-v0``, ...) and builds the
agent and the score from that task's own object. ``cerebellar suite`` runs the
evaluation harness and writes the docs' tables.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import gymnasium as gym
import numpy as np

from . import __version__
from ._io import atomic_write
from .agent import run_episode, run_episodes
from .agent.estimators import ESTIMATORS
from .control import RolloutController
from .evaluate import AGENTS, DEFAULT_AGENTS, SuiteResult, evaluate, score_episodes
from .evaluate.ray_backend import import_ray
from .models import MODEL_NAMES
from .tasks import CARTPOLE_SUITES, SUITES, TASKS, make_agent, resolve_tasks, task_for_env

#: Steps of trace kept in memory per run for the plot (the CSV gets every step).
RECORDED_STEPS = 50_000
#: Frames written to a ``--video`` at most.
VIDEO_FRAMES = 1000
CONTROLLERS = ("seed", "rollout", "mppi")


@dataclass(frozen=True)
class RunConfig:
    """Settings of ``cerebellar run``; each field is a command-line flag.

    Attributes
    ----------
    env_id : str
        Gymnasium environment id.
    model : str or None
        Forward model, one of ``MODEL_NAMES``; None: the task's own learned
        model (``cerebellum-smooth`` for the swing-up tasks, else ``rls``).
    iterations : int or None
        Refinements through the model per step (K); 0 is pure feedback. None:
        the task's own (3; 1 for the DMC seed test).
    episodes : int or None
        Episodes per seed; the model keeps learning across them. None: the
        task's own number (3 for an environment without a task).
    seeds : range
        Seeds to run, each with a fresh, blank model.
    out : str or None
        Folder for the CSV and PNG of each seed; None writes nothing.
    json : bool
        Print one JSON object per seed instead of a text line.
    max_steps : int or None
        Episode step limit, overriding the environment's.
    gains : list or None
        Feedback gains overriding the preset (one per channel, or rows).
    controller : str or None
        ``seed`` (the seed's procedure), ``rollout`` (the refinement over a
        horizon) or ``mppi`` (sampling planner, swing-up tasks only); None:
        the task's own.
    horizon : int
        Plan length of ``rollout``.
    delay_ms : float
        Sensory delay added to the task, compensated by internal feedback.
    video : str or None
        Write a GIF or MP4 of one further episode of the last seed's agent.
    estimator : str
        Internal feedback across the delay: ``smith`` or ``kalman`` (see
        :meth:`cerebellar.agent.Agent.for_env`).
    auto_delay : bool
        The agent is not told the delay and estimates it online (``delay_steps="auto"``).
    """

    env_id: str
    model: str | None = None
    iterations: int | None = None
    episodes: int | None = None
    seeds: range = range(0, 1)
    out: str | None = "results"
    json: bool = False
    max_steps: int | None = None
    gains: list | None = None
    controller: str | None = None
    horizon: int = 10
    delay_ms: float = 0.0
    video: str | None = None
    estimator: str = "smith"
    auto_delay: bool = False


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


def parse_gains(text: str) -> list:
    """Parse gains: comma-separated numbers (one row) or a JSON list of rows."""
    try:
        gains = json.loads(text) if text.strip().startswith("[") else [float(v) for v in text.split(",")]
        array = np.asarray(gains, dtype=np.float64)
    except (ValueError, TypeError):
        raise argparse.ArgumentTypeError(
            f"gains must be numbers separated by commas, or a JSON list of rows, got {text!r}") from None
    if array.ndim not in (1, 2) or array.size == 0 or not np.all(np.isfinite(array)):
        raise argparse.ArgumentTypeError(f"gains must be a finite vector or matrix, got {text!r}")
    return array.tolist()


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


def _delay(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number of milliseconds, got {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"must be a non-negative number of milliseconds, got {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser."""
    parser = argparse.ArgumentParser(
        prog="cerebellar",
        description="Learn a forward model online and control through it.",
    )
    parser.add_argument("--version", action="version", version=f"cerebellar {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    task_envs = sorted({task.env_id for task in TASKS.values()})
    run = commands.add_parser(
        "run",
        help="run a forward-model agent on a Gymnasium environment",
        description="Run a blank forward-model agent on ENV_ID for each seed, scored by the task's "
        "own measure. `cerebellar run CartPole-v1` is the demo. Environments with a task: "
        + ", ".join(task_envs) + ".",
    )
    run.add_argument("env_id", metavar="ENV_ID", help="Gymnasium id, e.g. CartPole-v1 or Pendulum-v1")
    run.add_argument("--model", default=None, choices=MODEL_NAMES,
                     help="forward model (default: the task's, rls or cerebellum-smooth for swing-up)")
    run.add_argument("--iterations", "-K", type=_non_negative, default=None,
                     help="refinements through the model per step; 0 = pure feedback "
                     "(default: the task's, 3; 1 on the DMC seed test)")
    run.add_argument("--episodes", type=_positive, default=None,
                     help="episodes per seed (default: the task's, 3 without a task)")
    run.add_argument("--seeds", type=parse_seeds, default=range(0, 1),
                     help="seeds A:B (A to B-1) or one seed (default 0)")
    run.add_argument("--out", default="results",
                     help="folder for the CSV and PNG of each seed (default results; '' for none)")
    run.add_argument("--json", action="store_true", help="print one JSON object per seed")
    run.add_argument("--max-steps", type=_positive, default=None,
                     help="episode step limit, overriding the environment's")
    run.add_argument("--gains", type=parse_gains, default=None,
                     help="feedback gains overriding the preset: '-0.1,0,-10,-0.1' or '[[...], [...]]'")
    run.add_argument("--controller", choices=CONTROLLERS, default=None,
                     help="seed (the seed's refinement), rollout (over --horizon steps) or mppi "
                     "(sampling planner; swing-up tasks); default: the task's own")
    run.add_argument("--horizon", type=_positive, default=10, help="plan length of --controller rollout")
    run.add_argument("--delay-ms", type=_delay, default=0.0,
                     help="sensory delay (ms), compensated by the agent's internal feedback")
    run.add_argument("--video", default=None, metavar="FILE",
                     help="write a GIF or MP4 of one further episode (needs the video extra)")
    run.add_argument("--estimator", choices=ESTIMATORS, default="smith",
                     help="internal feedback across a delay: smith (default) or kalman (filters the senses)")
    run.add_argument("--auto-delay", action="store_true",
                     help="do not tell the agent the delay: it estimates it online")
    suite = commands.add_parser(
        "suite",
        help="evaluate agents on tasks against tuned feedback and the oracle",
        description="Run every agent on every task for every seed (a fresh agent per seed), "
        "beside the no-model opponent tuned on the task and the oracle; write Markdown "
        "tables, a CSV of every episode, the run's configuration and PNG plots.",
    )
    suite.add_argument("--tasks", default=",".join(CARTPOLE_SUITES),
                       help="comma-separated task or suite names. Suites: "
                       + "; ".join(f"{name} ({', '.join(members)})" for name, members in SUITES.items())
                       + f". Default: the cart-pole suites {', '.join(CARTPOLE_SUITES)}")
    suite.add_argument("--agents", default=",".join(DEFAULT_AGENTS),
                       help=f"comma-separated agents from {', '.join(AGENTS)}, any model "
                       f"({', '.join(MODEL_NAMES)}), doubled-gain (seed test only), rls+practice and "
                       "cerebellum+practice (reaching only: 0.3 s of practice before the session)")
    suite.add_argument("--seeds", type=parse_seeds, default=range(0, 20), help="seeds A:B (default 0:20)")
    suite.add_argument("--episodes", type=_positive, default=None,
                       help="episodes per agent, overriding each task's")
    suite.add_argument("--out", default="results/suite",
                       help="output folder (default results/suite; '' for none)")
    suite.add_argument("--workers", type=_positive, default=os.cpu_count() or 1,
                       help="parallel processes (default: all cores)")
    suite.add_argument("--tuning-generations", type=_positive, default=40,
                       help="budget of the tuned-feedback search (default 40 generations)")
    suite.add_argument("--backend", choices=("local", "ray"), default="local",
                       help="where the jobs run: local (--workers processes, the default) or ray "
                       "(Ray tasks, one per task, agent and block of seeds; needs the ray extra)")
    suite.add_argument("--address", default=None, metavar="ADDR",
                       help="with --backend ray: the Ray cluster, e.g. auto or HOST:6379 (default: "
                       "RAY_ADDRESS, else a Ray instance started on this machine)")
    suite.add_argument("--seed-block", type=_positive, default=5,
                       help="with --backend ray: seeds per Ray task (default 5)")
    suite.add_argument("--json", action="store_true",
                       help="print one JSON object per episode (task, agent, seed, episode, metrics) "
                       "instead of the tables")
    analyse = commands.add_parser(
        "analyse",
        help="neuroscience analyses of recorded or simulated populations",
        description="Analyses of population recordings (see docs/guide/state-predictor.md).",
    )
    analyses = analyse.add_subparsers(dest="analysis", required=True)
    predictor = analyses.add_parser(
        "state-predictor",
        help="Tanaka et al. (2019): mossy(t + t1) reconstructed from dentate(t), with controls",
        description="Reconstruct mossy-fibre rates at t + t1 from dentate rates at t (ridge, leave one "
        "target direction out), the gain over the mossy fibres' own present (delta R2), and the "
        "same pipeline on controls that must not show the effect. Runs on a simulation of the "
        "population model on the wrist task, or on a recording (--input).",
    )
    predictor.add_argument("--delay-ms", type=_delay, default=100.0,
                           help="sensory delay of the simulation, ms (default 100)")
    predictor.add_argument("--noise", type=_non_negative_float, default=0.0,
                           help="observation noise sigma of the simulation (default 0)")
    predictor.add_argument("--seeds", type=parse_seeds, default=range(0, 1),
                           help="seeds A:B of the simulation (default 0)")
    predictor.add_argument("--sessions", type=_positive, default=1,
                           help="simulated sessions per seed, pooled (default 1)")
    predictor.add_argument("--input", default=None, metavar="FILE",
                           help="analyse a recording instead: a session .npz or .nwb file")
    predictor.add_argument("--out", default="results/state-predictor",
                           help="folder for the figure, CSV tables and JSON (default "
                           "results/state-predictor; '' for none)")
    predictor.add_argument("--json", action="store_true", help="print one JSON object with the results")
    return parser


def check_writable(folder) -> Path:
    """Create ``folder`` if needed and check that a file can be written there.

    Raises
    ------
    ValueError
        Naming the folder, when it cannot be written.
    """
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".cerebellar-check-"):
            pass
    except OSError as error:
        raise ValueError(f"cannot write to --out {str(folder)!r}: {error.strerror or error}") from None
    return folder


def run_suite(args, stdout=None, stderr=None) -> SuiteResult:
    """Run ``cerebellar suite``: evaluate, print and write the table, CSV, configuration and plots."""
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    tasks = resolve_tasks([name.strip() for name in args.tasks.split(",") if name.strip()])
    if args.episodes is not None:
        tasks = [dataclasses.replace(task, episodes=args.episodes) for task in tasks]
    agents = tuple(name.strip() for name in args.agents.split(",") if name.strip())
    if not agents:
        raise ValueError(f"no agents given; agents: {', '.join(AGENTS)}")
    folder = check_writable(args.out) if args.out else None
    if args.backend == "ray":
        try:
            import_ray()
        except ImportError as error:
            raise ValueError(str(error)) from None
    runs = sum(task.kind.builds(agent) for task in tasks for agent in agents) * len(args.seeds)
    tunings = len({task.tuning_key() for task in tasks}) if "tuned-feedback" in agents else 0
    progress = None
    if stderr.isatty():
        from tqdm import tqdm

        progress = tqdm(total=runs + tunings, desc="suite (tuning, then runs)", unit=" jobs", file=stderr,
                        leave=False)
    try:
        result = evaluate(tasks, agents, args.seeds, workers=args.workers,
                          tuning_generations=args.tuning_generations,
                          progress=progress.update if progress else None,
                          backend=args.backend, address=args.address, seed_block=args.seed_block)
    finally:
        if progress:
            progress.close()
    table = result.to_markdown()
    if args.json:
        for row in result.rows():
            print(json.dumps(row, allow_nan=True), file=stdout, flush=True)
    else:
        print(table, file=stdout)
    for key, survival in result.under_tuned():
        print(f"cerebellar: warning: the tuned opponent of {key[0]}, {key[1]:g} ms, noise {key[2]:g} is "
              f"under-tuned (survival {survival:.2f}); raise --tuning-generations", file=stderr)
    if folder is not None:
        with atomic_write(folder / "results.md") as stream:
            stream.write(table)
        with atomic_write(folder / "config.json") as stream:
            json.dump(result.config(), stream, indent=1, default=str)
        result.to_csv(folder / "episodes.csv")
        try:
            result.plot(folder)
        except ImportError:
            print("cerebellar: no plots written: install matplotlib (pip install 'cerebellar[plot]')",
                  file=stderr)
        print(f"wrote {folder}/results.md, config.json, episodes.csv and plots in {result.seconds:.0f} s",
              file=stderr if args.json else stdout)
    return result


def _task(config: RunConfig):
    """Return the task to run (with the run's delay and episodes), or None for a plain environment."""
    task = task_for_env(config.env_id, config.delay_ms)
    if task is None:
        return None
    changes = {}
    if config.episodes is not None:
        changes["episodes"] = config.episodes
    if config.estimator != "smith" or config.auto_delay:
        if task.kind.name != "balance":
            raise ValueError("--estimator and --auto-delay apply to the balance tasks (the cart-poles) "
                             "and to environments without a task")
        changes.update(estimator=config.estimator, auto_delay=config.auto_delay,
                       name=task.name + ("-auto" if config.auto_delay else "") + f"-{config.estimator}")
    return dataclasses.replace(task, **changes)


def _make_env(config: RunConfig, task, **kwargs):
    if config.max_steps is not None:
        kwargs["max_episode_steps"] = config.max_steps
    try:
        if task is not None:
            return task.make_env(**kwargs)
        env = gym.make(config.env_id, **kwargs)
    except gym.error.Error as error:
        raise ValueError(f"unknown or unusable environment {config.env_id!r}: {error}") from None
    if config.delay_ms:
        from .envs import SensoryDelay

        env = SensoryDelay(env, delay_ms=config.delay_ms)
    return env


def _plans(task) -> bool:
    """Whether the task's own learned agent plans (the swing-up tasks: MPPI through cerebellum-smooth)."""
    return task is not None and task.kind.name == "return"


def _default_model(task) -> str:
    return "cerebellum-smooth" if _plans(task) else "rls"


def _own_controller(task) -> str:
    return "mppi" if _plans(task) else "seed"


def _build_agent(config: RunConfig, task, env, seed: int):
    """Return the task's own learned agent, or a forward-model agent with the run's gains and controller."""
    model = config.model or _default_model(task)
    controller = config.controller or _own_controller(task)
    custom = config.gains is not None or controller != _own_controller(task) or config.iterations is not None
    if task is not None and not custom:
        return task.kind.build(model, task, env, seed, None)
    if controller == "mppi":
        if not _plans(task):
            raise ValueError("--controller mppi needs a planning cost: it is available for the swing-up "
                             "tasks (Pendulum-v1, Acrobot-v1, MountainCarContinuous-v0)")
        return task.kind.build(model, task, env, seed, None)
    iterations = _iterations(config, task)
    factory = None
    if controller == "rollout":
        def factory(m, f, a):
            return RolloutController(f, m, horizon=config.horizon, iterations=iterations,
                                     low=a.low, high=a.high)
    delay = env.delay_steps if hasattr(env, "delay_steps") else 0
    return make_agent(env, model=model, iterations=iterations, seed=seed, gains=config.gains,
                      controller=factory, delay_steps="auto" if config.auto_delay else delay,
                      estimator=config.estimator)


def _iterations(config: RunConfig, task) -> int:
    if config.iterations is not None:
        return config.iterations
    kind = task.kind if task is not None else None
    return int(getattr(kind, "iterations", getattr(getattr(kind, "agent", None), "iterations", 3)))


def _scores(task, result, env) -> tuple[list, str]:
    """Score each episode with the task's kind; return the records and the headline."""
    records = score_episodes(task, result, env, result.label)
    summary = SuiteResult([task], (result.label,), (result.seed,), records).summary()[0]
    return records, task.kind.headline(summary, task)


def run(config: RunConfig, stdout=None, stderr=None) -> list:
    """Run the configured seeds; print a line (or JSON) per seed; return the results."""
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    folder = check_writable(config.out) if config.out else None
    if config.video:
        check_writable(Path(config.video).parent if Path(config.video).parent != Path("") else ".")
    task = _task(config)
    episodes = config.episodes or (task.episodes if task is not None else 3)
    model = config.model or _default_model(task)
    iterations = _iterations(config, task)
    planned = (config.controller or _own_controller(task)) == "mppi"
    label = f"{model} MPPI" if planned else f"{model} K={iterations}"
    results = []
    progress = _progress_bar(config, stderr)
    try:
        for seed in config.seeds:
            env = _make_env(config, task)
            agent = _build_agent(config, task, env, seed)
            stem = f"{config.env_id.replace('/', '_')}_{model}_K{iterations}_seed{seed}"
            result = run_episodes(
                agent, env, episodes=episodes, seed=seed, max_steps=config.max_steps,
                progress=progress.update if progress else None, label=label,
                max_recorded_steps=RECORDED_STEPS,
                csv_path=folder / f"{stem}.csv" if folder is not None else None,
            )
            headline = None
            if task is not None:
                records, headline = _scores(task, result, env)
            env.close()
            results.append(result)
            if folder is not None:
                _write_plot(result, folder / f"{stem}.png", stderr)
            if config.video and seed == config.seeds[-1]:
                _write_video(config, task, agent, seed, stderr)
            if config.json:
                record = result.to_dict()
                record["model"] = model
                record["iterations"] = iterations
                if task is not None:
                    record["task"] = task.name
                    record["score"] = headline
                    record["episodes_scored"] = [
                        {"episode": r.episode, "success": r.success,
                         **{k: v for k, v in r.metrics.items() if not isinstance(v, list)}}
                        for r in records]
                print(json.dumps(record), file=stdout, flush=True)
            else:
                line = result.summary() + (f"\n  {task.name}: {headline}" if headline else "")
                if progress:
                    progress.write(line, file=stdout)
                else:
                    print(line, file=stdout, flush=True)
    finally:
        if progress:
            progress.close()
    return results


def _progress_bar(config: RunConfig, stderr):
    if config.json or not stderr.isatty():
        return None
    from tqdm import tqdm

    return tqdm(desc=f"{config.env_id} {config.model or ''}".strip(), unit=" steps", file=stderr,
                leave=False)


def _write_plot(result, path: Path, stderr) -> None:
    try:
        import matplotlib.pyplot as plt

        figure = result.plot(path)
        plt.close(figure)
    except ImportError:
        print("cerebellar: no plot written: install matplotlib (pip install 'cerebellar[plot]')",
              file=stderr)


def _write_video(config: RunConfig, task, agent, seed: int, stderr) -> None:
    """Write one further episode of ``agent`` (which keeps learning) as a GIF or MP4."""
    try:
        import imageio.v2 as imageio
    except ImportError:
        raise ValueError("--video needs imageio: pip install 'cerebellar[video]'") from None
    env = _make_env(config, task, render_mode="rgb_array")
    suffix = Path(config.video).suffix.lower()
    if suffix not in (".gif", ".mp4"):
        raise ValueError(f"--video FILE must end in .gif or .mp4, got {config.video!r}")
    dt = getattr(env.unwrapped, "dt", None) or getattr(env.unwrapped, "tau", None) or 0.02
    fps = max(1, min(50, round(1.0 / dt)))
    frames = 0
    with atomic_write(config.video, "wb") as stream:
        writer = imageio.get_writer(stream, format=suffix[1:], mode="I", fps=fps) if suffix == ".mp4" \
            else imageio.get_writer(stream, format="gif", mode="I", duration=1000.0 / fps, loop=0)

        def grab(*_):
            nonlocal frames
            if frames < VIDEO_FRAMES:
                frame = env.render()
                if frame is None:
                    raise ValueError(f"{config.env_id} draws no frames (render_mode='rgb_array')")
                writer.append_data(np.asarray(frame))
                frames += 1

        try:
            run_episode(agent, env, seed=seed + 1, max_steps=config.max_steps, on_start=grab, on_step=grab)
        finally:
            writer.close()
            env.close()
    print(f"wrote {config.video} ({frames} frames)", file=stderr)


def _non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"must be a non-negative number, got {text!r}")
    return value


def _load_session(path: str):
    from .analysis import Session

    suffix = Path(path).suffix.lower()
    if suffix == ".npz":
        return Session.load_npz(path)
    if suffix == ".nwb":
        return Session.from_nwb(path)
    raise ValueError(f"--input must be a .npz or .nwb session file, got {path!r}")


def run_state_predictor(args, stdout=None, stderr=None):
    """Run ``cerebellar analyse state-predictor``: analyse, print, and write figure and tables."""
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    folder = check_writable(args.out) if args.out else None
    try:
        from .analysis import analyse

        if args.input is not None:
            session, controls = _load_session(args.input), {}
            source = args.input
        else:
            try:
                from .analysis.simulate import simulate_sessions
            except ModuleNotFoundError as error:
                if error.name != "cerebellar.analysis.simulate":
                    raise
                raise ValueError("this build has no simulation of the population model "
                                 "(cerebellar.analysis.simulate); analyse a recording with "
                                 "--input") from error
            sessions = simulate_sessions(delay_ms=args.delay_ms, noise_sigma=args.noise,
                                         seeds=list(args.seeds), sessions=args.sessions)
            session = sessions.pop("model")
            controls = sessions
            source = f"simulation, delay {args.delay_ms:g} ms, noise {args.noise:g}"
        result = analyse(session, controls=controls)
    except ImportError as error:  # scikit-learn or pynwb missing: the message names the extra
        raise ValueError(str(error)) from None
    summary = result.to_dict()
    summary["source"] = source
    if folder is not None:
        result.plot(folder / "state_predictor.png")
        result.to_csv(folder / "state_predictor.csv")
        result.cells_to_csv(folder / "state_predictor_cells.csv")
        with atomic_write(folder / "state_predictor.json", "w") as stream:
            json.dump(summary, stream, indent=2)
    if args.json:
        print(json.dumps(summary), file=stdout)
    else:
        model = result.model
        print(f"{source}: mean R2 {model.r2_at(20.0):.3f} at 20 ms, {model.r2_at(100.0):.3f} at 100 ms "
              f"(paper 0.89, 0.86); delta R2 peaks at {model.peak_lead_ms:g} ms "
              f"({model.peak_delta_r2:+.3f})", file=stdout)
        for name, control in result.controls.items():
            print(f"  control {name}: R2 {control.r2_at(20.0):.3f} at 20 ms; delta R2 peak "
                  f"{control.peak_delta_r2:+.3f} at {control.peak_lead_ms:g} ms", file=stdout)
        if folder is not None:
            print(f"wrote {folder}/state_predictor.png, .csv, _cells.csv, .json", file=stderr)
    return result


def main(argv=None) -> int:
    """Entry point of the ``cerebellar`` command."""
    args = build_parser().parse_args(argv)
    try:
        if args.command == "suite":
            run_suite(args)
            return 0
        if args.command == "analyse":
            run_state_predictor(args)
            return 0
        config = RunConfig(
            env_id=args.env_id, model=args.model, iterations=args.iterations, episodes=args.episodes,
            seeds=args.seeds, out=args.out or None, json=args.json, max_steps=args.max_steps,
            gains=args.gains, controller=args.controller, horizon=args.horizon, delay_ms=args.delay_ms,
            video=args.video, estimator=args.estimator, auto_delay=args.auto_delay,
        )
        run(config)
    except (ValueError, FloatingPointError) as error:
        print(f"cerebellar: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("cerebellar: interrupted; nothing half-written was kept", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
