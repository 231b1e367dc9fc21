"""The evaluation harness: tasks x agents x seeds, a fresh agent per seed.

Every agent runs on the same tasks, with the same seeds, in the same run,
beside the strongest no-model opponent (linear feedback with gains tuned on the
task) and an oracle (the same controller with the true dynamics as its model).
Anything with ``act``, ``observe`` and ``reset`` can be evaluated.
"""

from __future__ import annotations

import csv
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path

import numpy as np

from .._io import atomic_write
from ..agent import Agent
from ..control import FeedbackAgent, TuningResult, tune_feedback
from ..envs import SensoryDelay
from ..models.oracle import OracleModel
from ..presets import get_preset
from ..runner import run_episodes
from .tasks import Task

#: Agents the harness knows by name.
AGENTS = ("rls", "cerebellum", "cerebellum-random", "nlms", "tuned-feedback", "oracle")
#: The agents of a default run.
DEFAULT_AGENTS = ("rls", "cerebellum", "tuned-feedback", "oracle")
#: Seeds of the tuning episodes: apart from any evaluation seed. Five, so that the
#: gains found do not merely fit three lucky initial states.
TUNING_SEEDS = (10_000, 10_001, 10_002, 10_003, 10_004)


@dataclass(frozen=True)
class EpisodeRecord:
    """Metrics of one episode of one agent on one task."""

    task: str
    agent: str
    seed: int
    episode: int
    success: bool
    length: int
    total_return: float
    rms_error: float


def build_agent(name: str, task: Task, env, seed: int, tuned_gains=None):
    """Return a fresh agent called ``name`` for ``task``.

    Learned agents and the oracle get the task's delay for internal feedback;
    the tuned-feedback opponent acts on the observation as it arrives.
    """
    if name == "tuned-feedback":
        if tuned_gains is None:
            raise ValueError("the tuned-feedback agent needs tuned gains")
        return FeedbackAgent.for_env(env, tuned_gains)
    # The task's env has its SensoryDelay outermost: read the delay from it rather
    # than building a second env through task.delay_steps.
    delay_steps = env.delay_steps if isinstance(env, SensoryDelay) else 0
    if name == "oracle":
        return Agent.for_env(env, model=OracleModel(env), delay_steps=delay_steps)
    if name not in AGENTS:
        raise ValueError(f"unknown agent {name!r}; choose from {', '.join(AGENTS)}")
    return Agent.for_env(env, model=name, seed=seed, delay_steps=delay_steps)


def tuning_key(task: Task) -> tuple:
    """Tasks that share this key share their tuned gains (same plant, delay and noise)."""
    return (task.env_id, task.delay_ms, task.noise_sigma)


def tune_for_task(task: Task, generations: int = 40, population: int = 10) -> TuningResult:
    """Tune linear feedback gains on ``task``'s original plant (no mid-episode change).

    The search box allows each gain up to 20 times the command range over the
    channel's scale, either sign, and starts from the preset gains.
    """
    preset = get_preset(task.env_id)
    command_scale = preset.command_scale[0]
    bounds = [(-20.0 * command_scale / s, 20.0 * command_scale / s) for s in preset.state_scale]
    return tune_feedback(
        partial(task.make_env, with_change=False), preset.gains, bounds, seeds=TUNING_SEEDS,
        error_channel=task.error_channel, error_scale=task.error_scale,
        generations=generations, population=population,
    )


def run_agent(task: Task, agent_name: str, seed: int, tuned_gains=None,
              factory=None) -> list[EpisodeRecord]:
    """Run one fresh agent on one task for the task's episodes; return per-episode metrics.

    ``factory(task, env, seed) -> agent``, when given, builds the agent instead
    of the named built-in one.
    """
    env = task.make_env()
    if factory is not None:
        agent = factory(task, env, seed)
    else:
        agent = build_agent(agent_name, task, env, seed, tuned_gains)
    result = run_episodes(agent, env, episodes=task.episodes, seed=seed, label=agent_name)
    env.close()
    limit = env.spec.max_episode_steps
    records = []
    for number, trace in enumerate(result.episodes):
        errors = trace.true_observations[task.rms_start + 1 :, task.error_channel]
        rms = float(np.sqrt(np.mean(errors**2))) if errors.size else float("nan")
        records.append(EpisodeRecord(
            task=task.name, agent=agent_name, seed=seed, episode=number + 1,
            success=bool(not trace.terminated and trace.length >= limit),
            length=trace.length, total_return=trace.total_return, rms_error=rms,
        ))
    return records


def _run_job(job):
    return run_agent(*job)


def _tune_job(job):
    task, generations = job
    return tuning_key(task), tune_for_task(task, generations)


@dataclass
class SuiteResult:
    """Per-episode records of a suite run, with summaries, a table and plots."""

    tasks: list[Task]
    agents: tuple[str, ...]
    seeds: tuple[int, ...]
    records: list[EpisodeRecord]
    tuning: dict = field(default_factory=dict)
    seconds: float = 0.0

    def _select(self, task: str, agent: str) -> list[EpisodeRecord]:
        return [r for r in self.records if r.task == task and r.agent == agent]

    def summary(self) -> list[dict]:
        """One row per task and agent.

        Keys: ``task``, ``agent``, ``seeds``, ``first_success`` (seeds whose
        first episode succeeded), ``final_success`` (seeds that succeeded by
        their last episode), ``median_episodes_to_success`` (over seeds that
        succeeded), ``median_first_length`` and ``median_rms`` (RMS of the
        controlled error over the task's window in the first episode, over seeds
        whose first episode lasted past the window's start).
        """
        rows = []
        for task in self.tasks:
            for agent in self.agents:
                records = self._select(task.name, agent)
                if not records:
                    continue
                by_seed: dict[int, list[EpisodeRecord]] = {}
                for record in records:
                    by_seed.setdefault(record.seed, []).append(record)
                firsts = [min(rs, key=lambda r: r.episode) for rs in by_seed.values()]
                to_success = [
                    min(r.episode for r in rs if r.success) for rs in by_seed.values()
                    if any(r.success for r in rs)
                ]
                rms = [r.rms_error for r in firsts if np.isfinite(r.rms_error)]
                rows.append({
                    "task": task.name, "agent": agent, "seeds": len(by_seed),
                    "first_success": sum(r.success for r in firsts),
                    "final_success": len(to_success),
                    "median_episodes_to_success": float(np.median(to_success)) if to_success else None,
                    "median_first_length": float(np.median([r.length for r in firsts])),
                    "median_rms": float(np.median(rms)) if rms else None,
                })
        return rows

    def to_markdown(self) -> str:
        """Return the summary as a Markdown table, with the tuned gains below it."""
        episodes = {t.name: t.episodes for t in self.tasks}
        lines = [
            "| task | agent | first episode balanced | balanced by last episode | "
            "episodes to success (median) | first-episode length (median) | RMS pole angle (rad) |",
            "|---|---|---|---|---|---|---|",
        ]
        for row in self.summary():
            n = row["seeds"]
            to_success = row["median_episodes_to_success"]
            rms = row["median_rms"]
            lines.append(
                f"| {row['task']} | {row['agent']} | {row['first_success']}/{n} "
                f"| {row['final_success']}/{n} (of {episodes[row['task']]}) "
                f"| {'-' if to_success is None else f'{to_success:g}'} "
                f"| {row['median_first_length']:g} | {'-' if rms is None else f'{rms:.2g}'} |"
            )
        if self.tuning:
            lines += ["", "Tuned-feedback gains (differential evolution on the task, no model):", "",
                      "| task plant (env, delay ms, noise) | gains | tuning survival | gain sets tried "
                      "| trial episodes | seconds |", "|---|---|---|---|---|---|"]
            for key, tuned in self.tuning.items():
                gains = ", ".join(f"{g:.3g}" for g in tuned.gains)
                lines.append(f"| {key[0]}, {key[1]:g}, {key[2]:g} | [{gains}] | {tuned.survival:.3f} "
                             f"| {tuned.evaluations} | {tuned.episodes} | {tuned.seconds:.0f} |")
        return "\n".join(lines) + "\n"

    def to_csv(self, path) -> Path:
        """Write one row per episode, atomically."""
        with atomic_write(path, "w", newline="") as stream:
            writer = csv.DictWriter(stream, fieldnames=list(EpisodeRecord.__dataclass_fields__))
            writer.writeheader()
            for record in self.records:
                writer.writerow(asdict(record))
        return Path(path)

    def plot(self, folder) -> list[Path]:
        """Write ``success_vs_delay.png`` (delay tasks) and ``learning_curves.png``."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        written = []
        rows = {(r["task"], r["agent"]): r for r in self.summary()}
        delay_tasks = [t for t in self.tasks if t.group == "delay"]
        if delay_tasks:
            figure, axes = plt.subplots(1, 2, figsize=(10, 3.8), sharey=True)
            for agent in self.agents:
                delays = [t.delay_ms for t in delay_tasks if (t.name, agent) in rows]
                if not delays:
                    continue
                selected = [rows[(t.name, agent)] for t in delay_tasks if (t.name, agent) in rows]
                for axis, key in zip(axes, ("first_success", "final_success"), strict=True):
                    axis.plot(delays, [r[key] / r["seeds"] for r in selected], label=agent,
                              **_style(agent))
            axes[0].set_title("balanced all 1000 steps in the first episode")
            axes[1].set_title(f"balanced by episode {max(t.episodes for t in delay_tasks)}")
            for axis in axes:
                axis.set_xlabel("sensory delay (ms)")
                axis.set_ylim(-0.03, 1.03)  # the whole range, so that small dips look small
                axis.grid(alpha=0.3)
            axes[0].set_ylabel("fraction of seeds")
            axes[1].legend(fontsize="small")
            figure.tight_layout()
            written.append(_save(figure, folder / "success_vs_delay.png"))
            plt.close(figure)
        columns = min(5, len(self.tasks))
        rows_count = -(-len(self.tasks) // columns)
        size = (2.8 * columns + 0.5, 2.6 * rows_count + 0.4)
        figure, axes = plt.subplots(rows_count, columns, figsize=size, sharey=True, squeeze=False)
        for axis, task in zip(axes.flat, self.tasks, strict=False):
            for agent in self.agents:
                records = self._select(task.name, agent)
                if not records:
                    continue
                episodes = sorted({r.episode for r in records})
                means = [np.mean([r.length for r in records if r.episode == e]) for e in episodes]
                axis.plot(episodes, means, label=agent, **_style(agent))
            axis.set_title(task.name, fontsize="small")
            axis.set_xticks(range(1, task.episodes + 1))
            axis.grid(alpha=0.3)
        for axis in axes.flat[len(self.tasks):]:
            axis.set_visible(False)
        for axis in axes[:, 0]:
            axis.set_ylabel("mean length (steps)")
        for axis in axes[-1]:
            axis.set_xlabel("episode")
        axes.flat[0].legend(fontsize="x-small")
        figure.tight_layout()
        written.append(_save(figure, folder / "learning_curves.png"))
        plt.close(figure)
        return written


_STYLES = {
    "rls": {"marker": "o", "color": "tab:blue"},
    "cerebellum": {"marker": "s", "color": "tab:orange"},
    "cerebellum-random": {"marker": "D", "color": "tab:purple"},
    "nlms": {"marker": "v", "color": "tab:brown"},
    "tuned-feedback": {"marker": "^", "color": "tab:green"},
    "oracle": {"marker": "x", "color": "tab:red", "linestyle": "--"},
}


def _style(agent: str) -> dict:
    # Distinct markers and a dashed oracle, so that agents on the same values stay visible.
    return {"markersize": 6, "alpha": 0.85, **_STYLES.get(agent, {"marker": "o"})}


def _save(figure, path: Path) -> Path:
    with atomic_write(path, "wb") as stream:
        figure.savefig(stream, format="png", dpi=110)
    return path


def evaluate(tasks, agents=DEFAULT_AGENTS, seeds=range(20), workers: int = 1,
             tuning_generations: int = 40, progress=None) -> SuiteResult:
    """Run every agent on every task for every seed.

    Parameters
    ----------
    tasks : sequence of Task
        The tasks (see :data:`cerebellar.evaluate.TASKS`).
    agents : sequence of str or (str, callable)
        Agent names from :data:`AGENTS`, or ``(name, factory)`` pairs for any
        other agent: ``factory(task, env, seed)`` returns an object with
        ``act(obs)``, ``observe(obs, action, next_obs)`` and ``reset()`` (and,
        for the runner's traces, ``actions`` and ``last_command_`` as
        :class:`~cerebellar.Agent` has them). With ``workers > 1`` the factory
        must be picklable (a module-level function).
    seeds : sequence of int
        Evaluation seeds; each gets a fresh agent and a freshly seeded env.
    workers : int
        Processes to run in parallel.
    tuning_generations : int
        Budget of the tuned-feedback search (generations of differential evolution).
    progress : callable, optional
        Called with 1 after each finished (task, agent, seed) job.

    Returns
    -------
    SuiteResult
    """
    factories = {a[0]: a[1] for a in agents if isinstance(a, tuple)}
    agents = tuple(a[0] if isinstance(a, tuple) else a for a in agents)
    unknown = [a for a in agents if a not in AGENTS and a not in factories]
    if unknown:
        raise ValueError(f"unknown agent(s) {unknown}; choose from {', '.join(AGENTS)}")
    started = time.perf_counter()
    tasks, seeds = list(tasks), tuple(int(s) for s in seeds)
    tuning: dict = {}
    with ProcessPoolExecutor(max(1, workers)) as pool:
        if "tuned-feedback" in agents:
            unique = {tuning_key(t): t for t in tasks}
            jobs = [(task, tuning_generations) for task in unique.values()]
            tuning = dict(pool.map(_tune_job, jobs))
        jobs = [
            (task, agent, seed, tuning[tuning_key(task)].gains if agent == "tuned-feedback" else None,
             factories.get(agent))
            for task in tasks for agent in agents for seed in seeds
        ]
        records: list[EpisodeRecord] = []
        for batch in pool.map(_run_job, jobs):
            records.extend(batch)
            if progress is not None:
                progress(1)
    return SuiteResult(tasks=tasks, agents=agents, seeds=seeds, records=records, tuning=tuning,
                       seconds=time.perf_counter() - started)
