"""The evaluation harness: tasks x agents x seeds, a fresh agent per seed.

Every agent runs on the same tasks, with the same seeds, in the same run,
beside the strongest no-model opponent (linear feedback with gains tuned on the
task) and an oracle (the same controller with the true dynamics as its model).
Anything with ``act``, ``observe`` and ``reset`` can be evaluated.
"""

from __future__ import annotations

import csv
import json
import math
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from .._io import atomic_write
from ..models import MODEL_NAMES
from ..runner import run_episodes
from .recipes import TUNING_SEEDS, Tuned, recipe_for
from .tasks import Task

#: Agents the harness knows by name, on every kind of task (the seed test adds
#: ``doubled-gain``); learned agents are named by their model.
AGENTS = ("rls", "cerebellum", "cerebellum-random", "nlms", "tuned-feedback", "oracle")
#: The agents of a default run.
DEFAULT_AGENTS = ("rls", "cerebellum", "tuned-feedback", "oracle")

__all__ = ["AGENTS", "DEFAULT_AGENTS", "TUNING_SEEDS", "EpisodeRecord", "SuiteResult", "build_agent",
           "evaluate", "run_agent", "tune_for_task", "tuning_key"]


@dataclass(frozen=True)
class EpisodeRecord:
    """Metrics of one episode of one agent on one task.

    ``metrics`` holds what the task's kind measures besides success, length and
    return: ``rms_error`` of the controlled channel (balance, seed test), and for
    reaching the number of reaches, how many settled, their settle times and
    whether all were held.
    """

    task: str
    agent: str
    seed: int
    episode: int
    success: bool
    length: int
    total_return: float
    metrics: dict = field(default_factory=dict)

    @property
    def rms_error(self) -> float:
        """RMS of the controlled error (NaN where the task does not measure one)."""
        return float(self.metrics.get("rms_error", math.nan))


def build_agent(name: str, task: Task, env, seed: int, tuned: Tuned | None = None):
    """Return a fresh agent called ``name`` for ``task``.

    Learned agents and the oracle get the task's delay for internal feedback;
    the tuned-feedback opponent acts on the observation as it arrives.
    """
    return recipe_for(task).build(name, task, env, seed, tuned)


def tuning_key(task: Task) -> tuple:
    """Tasks that share this key share their tuned opponent (same plant, delay and noise)."""
    return (task.env_id, task.delay_ms, task.noise_sigma)


def tune_for_task(task: Task, generations: int = 40) -> Tuned:
    """Tune the no-model opponent on ``task``'s original plant (no mid-episode change)."""
    return recipe_for(task).tune(task, generations)


def run_agent(task: Task, agent_name: str, seed: int, tuned: Tuned | None = None,
              factory=None) -> list[EpisodeRecord]:
    """Run one fresh agent on one task for the task's episodes; return per-episode metrics.

    ``factory(task, env, seed) -> agent``, when given, builds the agent instead
    of the named built-in one.
    """
    env = task.make_env()
    if factory is not None:
        agent = factory(task, env, seed)
    else:
        agent = build_agent(agent_name, task, env, seed, tuned)
    result = run_episodes(agent, env, episodes=task.episodes, seed=seed, label=agent_name)
    env.close()
    score = recipe_for(task).score
    records = []
    for number, trace in enumerate(result.episodes):
        success, metrics = score(task, trace, env)
        records.append(EpisodeRecord(
            task=task.name, agent=agent_name, seed=seed, episode=number + 1, success=bool(success),
            length=trace.length, total_return=trace.total_return, metrics=metrics,
        ))
    return records


def _run_job(job):
    return run_agent(*job)


def _tune_job(job):
    task, generations = job
    return tuning_key(task), tune_for_task(task, generations)


@dataclass
class SuiteResult:
    """Per-episode records of a suite run, with summaries, tables and plots."""

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

        Keys for every task: ``task``, ``kind``, ``agent``, ``seeds``,
        ``first_success`` (seeds whose first episode succeeded),
        ``final_success`` (seeds that succeeded by their last episode),
        ``median_episodes_to_success`` and ``median_steps_to_success``
        (environment steps up to the end of the first successful episode), both
        over the seeds that succeeded, and ``median_rms`` (first episode, where
        the kind measures one). Then by kind:

        - balance: ``median_first_length``;
        - reaching (first episode, reaches pooled over seeds): ``reaches``,
          ``reached_fraction``, ``median_settle_time`` (unsettled reaches count
          as infinite), ``all_held`` (seeds that reached and held every target);
        - return: ``mean_returns`` (per episode, over seeds) and, with a
          ``mean_window``, ``window_mean`` (over seeds of each seed's mean over
          the window) and ``window_success`` (seeds whose window mean meets the
          task's return);
        - seed test: ``passed`` (seeds whose every trial kept the pole up).
        """
        rows = []
        for task in self.tasks:
            for agent in self.agents:
                records = self._select(task.name, agent)
                if not records:
                    continue
                by_seed: dict[int, list[EpisodeRecord]] = {}
                for record in sorted(records, key=lambda r: (r.seed, r.episode)):
                    by_seed.setdefault(record.seed, []).append(record)
                runs = list(by_seed.values())
                firsts = [rs[0] for rs in runs]
                to_success, steps = [], []
                for rs in runs:
                    hit = next((i for i, r in enumerate(rs) if r.success), None)
                    if hit is not None:
                        to_success.append(rs[hit].episode)
                        steps.append(sum(r.length for r in rs[: hit + 1]))
                rms = [r.rms_error for r in firsts if np.isfinite(r.rms_error)]
                row = {
                    "task": task.name, "kind": task.kind, "agent": agent, "seeds": len(runs),
                    "first_success": sum(r.success for r in firsts),
                    "final_success": len(to_success),
                    "median_episodes_to_success": float(np.median(to_success)) if to_success else None,
                    "median_steps_to_success": float(np.median(steps)) if steps else None,
                    "median_rms": float(np.median(rms)) if rms else None,
                }
                row.update(_KIND_SUMMARIES[task.kind](task, runs))
                rows.append(row)
        return rows

    def to_markdown(self) -> str:
        """Return the summary as Markdown tables (one per kind of task), then the tuned opponents."""
        rows = self.summary()
        tasks = {t.name: t for t in self.tasks}
        blocks = []
        for kind, (header, line) in _TABLES.items():
            selected = [r for r in rows if r["kind"] == kind]
            if selected:
                blocks.append("\n".join([header, "|---" * header.count(" | ") + "|---|"]
                                         + [line(r, tasks[r["task"]]) for r in selected]))
        if self.tuning:
            lines = ["Tuned no-model opponents (searched on the task itself):", "",
                     "| task plant (env, delay ms, noise) | parameters | score | trial episodes "
                     "| seconds |", "|---|---|---|---|---|"]
            for key, tuned in self.tuning.items():
                lines.append(f"| {key[0]}, {key[1]:g}, {key[2]:g} | {tuned.describe()} "
                             f"| {tuned.score:.3f} | {tuned.episodes} | {tuned.seconds:.0f} |")
            blocks.append("\n".join(lines))
        return "\n\n".join(blocks) + "\n"

    @classmethod
    def from_csv(cls, path, tasks=None) -> SuiteResult:
        """Read back the episodes written by :meth:`to_csv` (e.g. to re-plot a run).

        Parameters
        ----------
        path : str or Path
            An ``episodes.csv``.
        tasks : sequence of Task, optional
            The run's tasks; by default looked up by name in :data:`~cerebellar.evaluate.TASKS`.

        Returns
        -------
        SuiteResult
            Without the tuned opponents' parameters (the CSV does not hold them).

        Raises
        ------
        ValueError
            For a file that is not an episode table, or a task name not known.
        """
        from .tasks import TASKS

        known = {t.name: t for t in tasks} if tasks is not None else TASKS
        with open(path, newline="") as stream:
            rows = list(csv.DictReader(stream))
        base = [f for f in EpisodeRecord.__dataclass_fields__ if f != "metrics"]
        if not rows or any(f not in rows[0] for f in base):
            raise ValueError(f"{path} is not an episode table written by SuiteResult.to_csv")
        records, names, agents, seeds = [], [], [], []
        for row in rows:
            if row["task"] not in known:
                raise ValueError(f"unknown task {row['task']!r} in {path}; pass tasks=")
            metrics = {k: _parse_cell(v) for k, v in row.items() if k not in base and v != ""}
            records.append(EpisodeRecord(
                row["task"], row["agent"], int(row["seed"]), int(row["episode"]), row["success"] == "True",
                int(row["length"]), float(row["total_return"]), metrics))
            for value, seen in ((row["task"], names), (row["agent"], agents), (int(row["seed"]), seeds)):
                if value not in seen:
                    seen.append(value)
        return cls([known[n] for n in names], tuple(agents), tuple(seeds), records)

    def to_csv(self, path) -> Path:
        """Write one row per episode, atomically; lists of metrics are written as JSON."""
        keys = list(dict.fromkeys(k for r in self.records for k in r.metrics))
        fields = [f for f in EpisodeRecord.__dataclass_fields__ if f != "metrics"] + keys
        with atomic_write(path, "w", newline="") as stream:
            writer = csv.DictWriter(stream, fieldnames=fields, restval="")
            writer.writeheader()
            for record in self.records:
                row = asdict(record)
                metrics = row.pop("metrics")
                row.update({k: json.dumps(v) if isinstance(v, list) else v for k, v in metrics.items()})
                writer.writerow(row)
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
        figure, axes = plt.subplots(rows_count, columns, figsize=size, squeeze=False)
        for axis, task in zip(axes.flat, self.tasks, strict=False):
            label, value = _CURVES[task.kind]
            for agent in self.agents:
                records = self._select(task.name, agent)
                if not records:
                    continue
                episodes = sorted({r.episode for r in records})
                means = [np.mean([value(r) for r in records if r.episode == e]) for e in episodes]
                axis.plot(episodes, means, label=agent, **_style(agent))
            if task.kind == "return":
                axis.axhline(task.success_return, color="0.5", linewidth=0.8, linestyle=":")
            elif task.kind != "balance":
                axis.set_ylim(-0.03, 1.03)  # a fraction: the whole range
            axis.set_title(task.name, fontsize="small")
            axis.set_ylabel(label, fontsize="small")
            axis.set_xlabel("episode", fontsize="small")
            axis.set_xticks(range(1, task.episodes + 1))
            axis.grid(alpha=0.3)
        for axis in axes.flat[len(self.tasks):]:
            axis.set_visible(False)
        # One legend for the figure: an agent may run on some tasks only (doubled-gain).
        handles = {}
        for axis in axes.flat:
            for handle, label in zip(*axis.get_legend_handles_labels(), strict=True):
                handles.setdefault(label, handle)
        figure.legend(handles.values(), handles.keys(), loc="lower center", ncol=min(len(handles), 7),
                      fontsize="small", frameon=False)
        figure.tight_layout(rect=(0, 0.1 / rows_count, 1, 1))
        written.append(_save(figure, folder / "learning_curves.png"))
        plt.close(figure)
        return written


def _parse_cell(text: str):
    if text in ("True", "False"):
        return text == "True"
    if text.startswith("["):
        return json.loads(text)
    try:
        return int(text)
    except ValueError:
        return float(text)


def _balance_summary(task, runs) -> dict:
    return {"median_first_length": float(np.median([rs[0].length for rs in runs]))}


def _reaching_summary(task, runs) -> dict:
    firsts = [rs[0].metrics for rs in runs]
    settle = [t for m in firsts for t in m.get("settle_times", [])]
    reaches = sum(m.get("reaches", 0) for m in firsts)
    return {
        "reaches": reaches,
        "reached_fraction": sum(m.get("reached", 0) for m in firsts) / reaches if reaches else math.nan,
        "median_settle_time": float(np.median(settle)) if settle else math.nan,
        "all_held": sum(bool(m.get("all_held")) for m in firsts),
    }


def _return_summary(task, runs) -> dict:
    count = max(len(rs) for rs in runs)
    means = [float(np.mean([rs[e].total_return for rs in runs if len(rs) > e])) for e in range(count)]
    row = {"mean_returns": means}
    if task.mean_window:
        first, last = task.mean_window
        window = [np.mean([r.total_return for r in rs[first - 1 : last]]) for rs in runs
                  if len(rs) >= last]
        row["window_mean"] = float(np.mean(window)) if window else math.nan
        row["window_success"] = int(sum(w >= task.success_return for w in window))
    return row


def _seed_summary(task, runs) -> dict:
    return {"passed": sum(all(r.success for r in rs) and len(rs) == task.episodes for rs in runs)}


_KIND_SUMMARIES = {"balance": _balance_summary, "reaching": _reaching_summary,
                   "return": _return_summary, "seed-test": _seed_summary}


def _number(value, spec: str = "g") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return "inf" if value == math.inf else format(value, spec)


def _balance_line(row, task) -> str:
    n = row["seeds"]
    return (f"| {row['task']} | {row['agent']} | {row['first_success']}/{n} "
            f"| {row['final_success']}/{n} (of {task.episodes}) "
            f"| {_number(row['median_episodes_to_success'])} "
            f"| {row['median_first_length']:g} | {_number(row['median_rms'], '.2g')} |")


def _reaching_line(row, task) -> str:
    n = row["seeds"]
    held = f"{row['all_held']}/{n}" if task.all_held else "-"
    return (f"| {row['task']} | {row['agent']} | {task.target} "
            f"| {_number(row['reached_fraction'], '.1%')} of {row['reaches']} "
            f"| {row['first_success']}/{n} | {_number(row['median_settle_time'], '.2f')} | {held} "
            f"| {_number(row['median_rms'], '.3f')} |")


def _return_line(row, task) -> str:
    n = row["seeds"]
    returns = ", ".join(f"{v:.0f}" for v in row["mean_returns"])
    if task.mean_window:
        figure = (f"mean eps {task.mean_window[0]}-{task.mean_window[1]}: "
                  f"{_number(row['window_mean'], '.0f')} ({row['window_success']}/{n} seeds)")
    else:
        figure = f"{row['final_success']}/{n} seeds by episode {task.episodes}"
    return (f"| {row['task']} | {row['agent']} | {task.target} | {figure} | {returns} "
            f"| {_number(row['median_episodes_to_success'])} "
            f"| {_number(row['median_steps_to_success'], '.0f')} |")


def _seed_line(row, task) -> str:
    n = row["seeds"]
    return (f"| {row['task']} | {row['agent']} | {row['passed']}/{n} | {row['first_success']}/{n} "
            f"| {_number(row['median_rms'], '.2g')} |")


_TABLES = {
    "balance": ("| task | agent | first episode balanced | balanced by last episode | "
                "episodes to success (median) | first-episode length (median) | RMS pole angle (rad) |",
                _balance_line),
    "reaching": ("| task | agent | target | reaches settled in 1 s (first session) | seeds meeting "
                 "the target | median settle time (s) | all 8 held | RMS error (rad, median) |",
                 _reaching_line),
    "return": ("| task | agent | target | acceptance figure | mean return per episode "
               "| episodes to success (median) | env steps to success (median) |", _return_line),
    "seed-test": ("| task | agent | passed (every trial up) | trial 1 up "
                  "| RMS sin(angle), last 5 s of trial 1 (median) |", _seed_line),
}

_CURVES = {
    "balance": ("mean length (steps)", lambda r: r.length),
    "reaching": ("fraction of reaches settled",
                 lambda r: r.metrics["reached"] / max(r.metrics["reaches"], 1)),
    "return": ("mean return", lambda r: r.total_return),
    "seed-test": ("fraction of trials up", lambda r: float(r.success)),
}


_STYLES = {
    "rls": {"marker": "o", "color": "tab:blue"},
    "cerebellum": {"marker": "s", "color": "tab:orange"},
    "cerebellum-random": {"marker": "D", "color": "tab:purple"},
    "nlms": {"marker": "v", "color": "tab:brown"},
    "cerebellum-smooth": {"marker": "P", "color": "tab:cyan"},
    "doubled-gain": {"marker": "*", "color": "tab:olive"},
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
        Agent names from :data:`AGENTS` or model names (``doubled-gain`` on the
        seed test; an agent a task's kind does not build is left out of that
        task), or ``(name, factory)`` pairs for any
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
        Budget of the tuned-feedback search on balance tasks and the seed test
        (generations of differential evolution); the other kinds search a fixed grid.
    progress : callable, optional
        Called with 1 after each finished (task, agent, seed) job.

    Returns
    -------
    SuiteResult
    """
    factories = {a[0]: a[1] for a in agents if isinstance(a, tuple)}
    agents = tuple(a[0] if isinstance(a, tuple) else a for a in agents)
    tasks, seeds = list(tasks), tuple(int(s) for s in seeds)
    known = set(AGENTS) | set(MODEL_NAMES) | {a for t in tasks for a in recipe_for(t).agents}
    unknown = [a for a in agents if a not in known and a not in factories]
    if unknown:
        raise ValueError(f"unknown agent(s) {unknown}; choose from {', '.join(sorted(known))}")

    def applies(task, agent):  # e.g. the seed test's doubled-gain opponent exists only there
        return agent in factories or agent in MODEL_NAMES or agent in recipe_for(task).agents

    started = time.perf_counter()
    tuning: dict = {}
    with ProcessPoolExecutor(max(1, workers)) as pool:
        if "tuned-feedback" in agents:
            unique = {tuning_key(t): t for t in tasks}
            jobs = [(task, tuning_generations) for task in unique.values()]
            tuning = dict(pool.map(_tune_job, jobs))
        jobs = [
            (task, agent, seed, tuning[tuning_key(task)] if agent == "tuned-feedback" else None,
             factories.get(agent))
            for task in tasks for agent in agents if applies(task, agent) for seed in seeds
        ]
        records: list[EpisodeRecord] = []
        for batch in pool.map(_run_job, jobs):
            records.extend(batch)
            if progress is not None:
                progress(1)
    return SuiteResult(tasks=tasks, agents=agents, seeds=seeds, records=records, tuning=tuning,
                       seconds=time.perf_counter() - started)
