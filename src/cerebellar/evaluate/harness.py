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
from ..agent import VectorAgent, VectorFeedbackAgent, run_episodes, run_vector_episodes
from ..agent.vector import unsupported_reason
from ..tasks import TASKS, Task, TuningResult

#: Agents the harness knows by name, on every kind of task (the seed test adds
#: ``doubled-gain``); learned agents are named by their model.
AGENTS = ("rls", "cerebellum", "cerebellum-random", "nlms", "tuned-feedback", "oracle",
          "short-term", "short-term-feedback")
AGENTS += ("fel",)  # feedback-error learning, on tracking tasks
#: The agents of a default run.
DEFAULT_AGENTS = ("rls", "cerebellum", "tuned-feedback", "oracle")

__all__ = ["AGENTS", "DEFAULT_AGENTS", "EpisodeRecord", "SuiteResult", "build_agent", "evaluate",
           "run_agent", "run_agent_seeds", "score_episodes", "tune_for_task"]

#: Tuning survival below which a tuned opponent is flagged as under-tuned in the tables.
UNDER_TUNED_SURVIVAL = 0.9


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


def build_agent(name: str, task: Task, env, seed: int, tuned: TuningResult | None = None):
    """Return a fresh agent called ``name`` for ``task`` (built by the task's kind).

    Learned agents and the oracle get the task's delay for internal feedback;
    the tuned-feedback opponent acts on the observation as it arrives.
    """
    return task.kind.build(name, task, env, seed, tuned)


def tune_for_task(task: Task, generations: int = 40) -> TuningResult:
    """Tune the no-model opponent on ``task``'s original plant (no mid-episode change)."""
    return task.kind.tune(task, generations)


def run_agent(task: Task, agent_name: str, seed: int, tuned: TuningResult | None = None,
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
    return score_episodes(task, result, env, agent_name)


def run_agent_seeds(task: Task, agent_name: str, seeds, tuned: TuningResult | None = None,
                    factory=None) -> list[EpisodeRecord]:
    """Run one fresh agent per seed on ``task``: the records of :func:`run_agent` for each seed, in order.

    Where the agents can be stepped as one batch (learned ``rls`` and
    ``cerebellum`` agents and the oracle with the seed's refinement, see
    :class:`~cerebellar.agent.VectorAgent`; tuned feedback) they run as one vector, one
    environment per seed; otherwise one after the other. The records are the
    same either way.
    """
    seeds = [int(seed) for seed in seeds]
    envs = [task.make_env() for _ in seeds]
    agents = [factory(task, env, seed) if factory is not None
              else build_agent(agent_name, task, env, seed, tuned)
              for env, seed in zip(envs, seeds, strict=True)]
    vector = None
    if len(agents) > 1:
        vector = (VectorAgent(agents) if unsupported_reason(agents) is None
                  else VectorFeedbackAgent.from_agents(agents))
    if vector is not None:
        results = run_vector_episodes(vector, envs, episodes=task.episodes, seeds=seeds, label=agent_name)
    else:
        results = [run_episodes(agent, env, episodes=task.episodes, seed=seed, label=agent_name)
                   for agent, env, seed in zip(agents, envs, seeds, strict=True)]
    records = []
    for env, result in zip(envs, results, strict=True):
        env.close()
        records.extend(score_episodes(task, result, env, agent_name))
    return records


def score_episodes(task: Task, result, env, agent_name: str) -> list[EpisodeRecord]:
    """Score every episode of a :class:`~cerebellar.agent.RunResult` as ``task``'s kind does."""
    records = []
    for number, trace in enumerate(result.episodes):
        success, metrics = task.score(trace, env)
        records.append(EpisodeRecord(
            task=task.name, agent=agent_name, seed=result.seed, episode=number + 1,
            success=bool(success), length=trace.length, total_return=trace.total_return, metrics=metrics,
        ))
    return records


def _run_job(job):
    return run_agent_seeds(*job)


def _run_block_job(job):
    """Run one agent on one task for a block of seeds (one Ray task), in seed order."""
    return run_agent_seeds(*job)


def _tune_job(job):
    task, generations = job
    return task.tuning_key(), tune_for_task(task, generations)


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
                    "task": task.name, "kind": task.kind.name, "agent": agent, "seeds": len(runs),
                    "first_success": sum(r.success for r in firsts),
                    "final_success": len(to_success),
                    "median_episodes_to_success": float(np.median(to_success)) if to_success else None,
                    "median_steps_to_success": float(np.median(steps)) if steps else None,
                    "median_rms": float(np.median(rms)) if rms else None,
                }
                row.update(task.kind.summarise(task, runs))
                rows.append(row)
        return rows

    def to_markdown(self) -> str:
        """Return the summary as Markdown tables (one per kind of task), then the tuned opponents.

        A tuned opponent whose search kept the pole up on less than
        :data:`UNDER_TUNED_SURVIVAL` of its trial episodes is flagged under its
        table: its rows understate what tuned feedback can do.
        """
        rows = self.summary()
        tasks = {t.name: t for t in self.tasks}
        blocks = []
        kinds = list(dict.fromkeys(type(t.kind) for t in self.tasks))
        for kind in kinds:
            selected = [r for r in rows if type(tasks[r["task"]].kind) is kind]
            if selected:
                header = kind.table_header
                lines = [header, "|---" * header.count(" | ") + "|---|"]
                lines += [tasks[r["task"]].kind.table_line(r, tasks[r["task"]]) for r in selected]
                blocks.append("\n".join(lines))
        if self.tuning:
            lines = ["Tuned no-model opponents (searched on the task itself):", "",
                     "| task plant (env, delay ms, noise) | parameters | score | trial episodes "
                     "| seconds |", "|---|---|---|---|---|"]
            for key, tuned in self.tuning.items():
                lines.append(f"| {key[0]}, {key[1]:g}, {key[2]:g} | {tuned.describe()} "
                             f"| {tuned.score:.3f} | {tuned.episodes} | {tuned.seconds:.0f} |")
            blocks.append("\n".join(lines))
            warnings = self.under_tuned()
            if warnings:
                blocks.append("\n".join(f"**Warning: the tuned opponent of {key[0]}, {key[1]:g} ms, noise "
                                         f"{key[2]:g} is under-tuned** (tuning survival {survival:.2f} < "
                                         f"{UNDER_TUNED_SURVIVAL}): raise --tuning-generations before "
                                         "comparing against it." for key, survival in warnings))
        return "\n\n".join(blocks) + "\n"

    def under_tuned(self) -> list[tuple[tuple, float]]:
        """Return ``(tuning key, survival)`` of every tuned opponent below :data:`UNDER_TUNED_SURVIVAL`."""
        return [(key, tuned.details["survival"]) for key, tuned in self.tuning.items()
                if "survival" in tuned.details and tuned.details["survival"] < UNDER_TUNED_SURVIVAL]

    def rows(self) -> list[dict]:
        """Return one plain dict per episode record (``task``, ``agent``, ``seed``, ``episode``, metrics)."""
        out = []
        for record in self.records:
            row = asdict(record)
            row.update(row.pop("metrics"))
            out.append(row)
        return out

    def config(self) -> dict:
        """Return what ran, as plain data: every task with its kind's settings, agents, seeds, tuning."""
        return {
            "tasks": [{**asdict(task), "kind": {"name": task.kind.name, **asdict(task.kind)}}
                      for task in self.tasks],
            "agents": list(self.agents), "seeds": list(self.seeds),
            "tuning": {f"{k[0]}, {k[1]:g}, {k[2]:g}": t.to_dict() for k, t in self.tuning.items()},
        }

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
            for row in self.rows():
                writer.writerow({k: json.dumps(v) if isinstance(v, list) else v for k, v in row.items()})
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
            label, value = task.kind.curve_label, task.kind.curve_value
            for agent in self.agents:
                records = self._select(task.name, agent)
                if not records:
                    continue
                episodes = sorted({r.episode for r in records})
                means = [np.mean([value(r) for r in records if r.episode == e]) for e in episodes]
                axis.plot(episodes, means, label=agent, **_style(agent))
            if hasattr(task.kind, "success_return"):
                axis.axhline(task.kind.success_return, color="0.5", linewidth=0.8, linestyle=":")
            elif task.kind.name != "balance":
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


_STYLES = {
    "rls": {"marker": "o", "color": "tab:blue"},
    "cerebellum": {"marker": "s", "color": "tab:orange"},
    "cerebellum-random": {"marker": "D", "color": "tab:purple"},
    "nlms": {"marker": "v", "color": "tab:brown"},
    "cerebellum-smooth": {"marker": "P", "color": "tab:cyan"},
    "doubled-gain": {"marker": "*", "color": "tab:olive"},
    "tuned-feedback": {"marker": "^", "color": "tab:green"},
    "oracle": {"marker": "x", "color": "tab:red", "linestyle": "--"},
    "short-term": {"marker": "h", "color": "tab:pink"},
    "short-term-feedback": {"marker": "p", "color": "tab:gray"},
    "fel": {"marker": "8", "color": "tab:olive"},
}


def _style(agent: str) -> dict:
    # Distinct markers and a dashed oracle, so that agents on the same values stay visible.
    return {"markersize": 6, "alpha": 0.85, **_STYLES.get(agent, {"marker": "o"})}


def _save(figure, path: Path) -> Path:
    with atomic_write(path, "wb") as stream:
        figure.savefig(stream, format="png", dpi=110)
    return path


def evaluate(tasks, agents=DEFAULT_AGENTS, seeds=range(20), workers: int = 1,
             tuning_generations: int = 40, progress=None, backend: str = "local",
             address: str | None = None, seed_block: int = 5) -> SuiteResult:
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
    backend : {"local", "ray"}
        Where the jobs run: ``"local"``, a pool of ``workers`` processes on
        this machine; ``"ray"``, Ray tasks (needs the ``ray`` extra), one per
        tuned opponent and one per (task, agent, block of seeds). The records
        are the same, in the same order, either way.
    address : str, optional
        With ``backend="ray"``: the cluster to connect to (``ray.init``'s
        address, e.g. ``"auto"`` or ``"HOST:6379"``); by default the
        ``RAY_ADDRESS`` environment variable, else a Ray instance started on
        this machine. Ignored when Ray is already initialised by the caller.
    seed_block : int
        With ``backend="ray"``: seeds per Ray task.

    Returns
    -------
    SuiteResult
    """
    factories = {a[0]: a[1] for a in agents if isinstance(a, tuple)}
    agents = tuple(a[0] if isinstance(a, tuple) else a for a in agents)
    tasks, seeds = list(tasks), tuple(int(s) for s in seeds)
    if not tasks:
        raise ValueError("no tasks to evaluate")
    if not agents:
        raise ValueError("no agents to evaluate")
    if not seeds:
        raise ValueError("no seeds to evaluate")
    known = set(AGENTS) | {a for t in tasks for a in t.kind.agent_names()}
    unknown = [a for a in agents if a not in known and a not in factories]
    if unknown:
        raise ValueError(f"unknown agent(s) {unknown}; choose from {', '.join(sorted(known))}")

    def applies(task, agent):  # e.g. the seed test's doubled-gain opponent exists only there
        return agent in factories or task.kind.builds(agent)

    if backend not in ("local", "ray"):
        raise ValueError(f"unknown backend {backend!r}; choose 'local' or 'ray'")
    if backend == "ray":
        return _evaluate_on_ray(tasks, agents, seeds, factories, applies, tuning_generations, progress,
                                address, seed_block)

    started = time.perf_counter()
    tuning: dict = {}
    with ProcessPoolExecutor(max(1, workers)) as pool:
        if "tuned-feedback" in agents:
            unique = {t.tuning_key(): t for t in tasks}
            jobs = [(task, tuning_generations) for task in unique.values()]
            tuning = dict(pool.map(_tune_job, jobs))
        # All seeds of one task and agent are one job: run as one vector where the agent allows.
        jobs = [
            (task, agent, seeds, tuning[task.tuning_key()] if agent == "tuned-feedback" else None,
             factories.get(agent))
            for task in tasks for agent in agents if applies(task, agent)
        ]
        records: list[EpisodeRecord] = []
        for batch in pool.map(_run_job, jobs):
            records.extend(batch)
            if progress is not None:
                for _ in seeds:
                    progress(1)
    return SuiteResult(tasks=tasks, agents=agents, seeds=seeds, records=records, tuning=tuning,
                       seconds=time.perf_counter() - started)


def _evaluate_on_ray(tasks, agents, seeds, factories, applies, tuning_generations, progress, address,
                     seed_block) -> SuiteResult:
    """Run :func:`evaluate`'s jobs as Ray tasks, seeds in blocks (its ray backend)."""
    from .ray_backend import RayPool

    if int(seed_block) != seed_block or seed_block < 1:
        raise ValueError(f"seed_block must be a positive integer, got {seed_block!r}")
    seed_block = int(seed_block)
    started = time.perf_counter()
    tuning: dict = {}
    with RayPool(address) as pool:
        if "tuned-feedback" in agents:
            unique = {t.tuning_key(): t for t in tasks}
            tuning = dict(pool.map(_tune_job, [(task, tuning_generations) for task in unique.values()]))
        blocks = [seeds[i:i + seed_block] for i in range(0, len(seeds), seed_block)]
        jobs = [
            (task, agent, block, tuning[task.tuning_key()] if agent == "tuned-feedback" else None,
             factories.get(agent))
            for task in tasks for agent in agents if applies(task, agent) for block in blocks
        ]

        def done(job, _records):
            for _ in job[2]:
                progress(1)

        batches = pool.map(_run_block_job, jobs, on_done=done if progress is not None else None)
    records = [record for batch in batches for record in batch]
    return SuiteResult(tasks=tasks, agents=agents, seeds=seeds, records=records, tuning=tuning,
                       seconds=time.perf_counter() - started)
