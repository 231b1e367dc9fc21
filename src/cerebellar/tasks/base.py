"""A task: an environment with its perturbations, and the kind that builds, tunes, scores and reports it.

A task is data (ids and numbers only, so it can be sent to worker processes).
Its ``kind`` is a small frozen object (:class:`TaskKind`) that owns everything
that depends on the kind of task: which agents it builds and how, how its
no-model opponent is tuned, how an episode is scored, how the runs of one
agent are summarised, and the table row and learning-curve value that report
them. Adding a kind of task is one file in ``tasks/`` with one such class.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import ClassVar

import gymnasium as gym

from ..envs import DynamicsChange, ObservationNoise, SensoryDelay
from ..models import MODEL_NAMES
from .tuning import TuningResult


@dataclass(frozen=True)
class Task:
    """One evaluation task.

    Attributes
    ----------
    name : str
        Unique name, e.g. ``"delay-160"``.
    kind : TaskKind
        What kind of task it is, with its success criterion (e.g. ``Balance()``).
    env_id : str
        Registered Gymnasium id.
    delay_ms : float
        Sensory delay (0 for none); agents with internal feedback are told it.
    noise_sigma : float
        Standard deviation of Gaussian observation noise on every channel.
    change : dict
        Plant parameters replaced mid-episode (``{}`` for none), at ``change_step``.
    change_step : int
        Step at which the plant changes.
    episodes : int
        Episodes per fresh agent; the model keeps learning across them.
    group : str
        Which suite the task belongs to (``delay``, ``change``, ``precision``,
        ``noise``, ``limbs``, ``swingup``, ``seed``).
    target : str
        The acceptance target in words, for the table.
    estimator : str
        The internal feedback of the learned agents and the oracle:
        ``"smith"`` or ``"kalman"`` (see :meth:`cerebellar.agent.Agent.for_env`).
    told_delay_offset : int
        Steps added to the true delay in what the agents are told (a misjudged delay).
    auto_delay : bool
        The agents are told nothing and estimate their delay online (``delay_steps="auto"``).
    """

    name: str
    kind: TaskKind
    env_id: str
    delay_ms: float = 0.0
    noise_sigma: float = 0.0
    change: dict = field(default_factory=dict)
    change_step: int = 300
    episodes: int = 3
    group: str = ""
    target: str = ""
    estimator: str = "smith"
    told_delay_offset: int = 0
    auto_delay: bool = False

    def make_env(self, with_change: bool = True, **make_kwargs):
        """Return a fresh environment with the task's perturbations.

        ``with_change=False`` leaves out the plant change: the original plant,
        which is what the no-model opponent is tuned on. ``make_kwargs`` go to
        ``gymnasium.make`` (e.g. ``render_mode``, ``max_episode_steps``).
        """
        env = gym.make(self.env_id, **make_kwargs)
        if self.change and with_change:
            env = DynamicsChange(env, at_step=self.change_step, **self.change)
        if self.noise_sigma:
            env = ObservationNoise(env, sigma=self.noise_sigma)
        if self.delay_ms:
            env = SensoryDelay(env, delay_ms=self.delay_ms)
        return env

    @property
    def delay_steps(self) -> int:
        """The delay in whole time steps (0 without a delay)."""
        if not self.delay_ms:
            return 0
        env = self.make_env(with_change=False)
        steps = env.delay_steps
        env.close()
        return steps

    def build_agent(self, name: str, env, seed: int = 0, tuned: TuningResult | None = None):
        """Return a fresh agent called ``name`` (a model name, ``oracle``, ...) built by the task's kind.

        ``tuned`` (a :class:`~cerebellar.tasks.TuningResult` of :meth:`tune`)
        is needed by the ``tuned-feedback`` opponent only.
        """
        return self.kind.build(name, self, env, seed, tuned)

    def score(self, trace, env) -> tuple[bool, dict]:
        """Return ``(success, metrics)`` of one episode's trace, as the task's kind scores it."""
        return self.kind.score(self, trace, env)

    def tune(self, generations: int = 40) -> TuningResult:
        """Tune the no-model opponent on the task's original plant."""
        return self.kind.tune(self, generations)

    def tuning_key(self) -> tuple:
        """Tasks that share this key share their tuned opponent (same plant, delay and noise)."""
        return (self.env_id, self.delay_ms, self.noise_sigma)


def delay_steps_of(env) -> int:
    """Return the sensory delay in steps of a task's env (its ``SensoryDelay`` is outermost)."""
    return env.delay_steps if isinstance(env, SensoryDelay) else 0


def internal_feedback_options(task: Task, env) -> dict:
    """Return the ``delay_steps`` and ``estimator`` a task's agents are built with (what they are told)."""
    if task.auto_delay:
        return {"delay_steps": "auto", "estimator": task.estimator}
    told = delay_steps_of(env) + task.told_delay_offset
    if told < 0:
        raise ValueError(f"task {task.name!r} tells its agents a negative delay ({told} steps)")
    return {"delay_steps": told, "estimator": task.estimator}


class TaskKind:
    """What every kind of task provides; each kind is a frozen dataclass subclassing this.

    Class attributes
    ----------------
    name : str
        The kind's name in tables and CSVs (``"balance"``, ``"reaching"``, ...).
    extra_agents : tuple of str
        Agent names it builds besides the learned agents named by their model
        (always ``tuned-feedback`` and ``oracle``).
    table_header : str
        The Markdown header of its table.
    curve_label : str
        The y label of its learning curve.
    """

    name: ClassVar[str] = ""
    extra_agents: ClassVar[tuple[str, ...]] = ("tuned-feedback", "oracle")
    table_header: ClassVar[str] = ""
    curve_label: ClassVar[str] = ""

    def agent_names(self) -> tuple[str, ...]:
        """Every agent name this kind builds."""
        return (*MODEL_NAMES, *self.extra_agents)

    def builds(self, name: str) -> bool:
        """Whether this kind builds an agent called ``name``."""
        return name in self.agent_names()

    def check_name(self, name: str) -> None:
        """Raise ``ValueError`` for an agent name this kind does not build."""
        if not self.builds(name):
            raise ValueError(f"unknown agent {name!r} for a {self.name} task; choose from "
                             f"{', '.join(self.agent_names())}")

    def build(self, name: str, task: Task, env, seed: int, tuned: TuningResult | None):
        """Return a fresh agent called ``name`` for ``task`` on ``env``."""
        raise NotImplementedError

    def tune(self, task: Task, generations: int) -> TuningResult:
        """Tune the no-model opponent on the task's original plant."""
        raise NotImplementedError

    def score(self, task: Task, trace, env) -> tuple[bool, dict]:
        """Return ``(success, metrics)`` for one episode's trace."""
        raise NotImplementedError

    def summarise(self, task: Task, runs) -> dict:
        """Return the kind's own summary figures of one agent's runs (a list of records per seed)."""
        return {}

    def table_line(self, row: dict, task: Task) -> str:
        """Return the Markdown row of one agent's summary."""
        raise NotImplementedError

    def curve_value(self, record) -> float:
        """Return the learning-curve value of one episode record."""
        raise NotImplementedError

    def headline(self, row: dict, task: Task) -> str:
        """Return the task's own score of one run in words (for ``cerebellar run``)."""
        return f"{row['first_success']}/{row['seeds']} first episodes succeeded"


def need_params(tuned: TuningResult | None, name: str) -> dict:
    """Return the tuned parameters, or raise ``ValueError`` when the agent needs them and has none."""
    if tuned is None:
        raise ValueError(f"the {name} agent needs tuned parameters")
    return tuned.params


def number(value, spec: str = "g") -> str:
    """Format a table figure: ``-`` for none or NaN, ``inf`` for infinity."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return "inf" if value == math.inf else format(value, spec)
