"""Tasks: one object per kind of task, the predefined tasks, presets and tuners.

A :class:`Task` is an environment with its perturbations and a kind
(:class:`Balance`, :class:`Reaching`, :class:`Return`, :class:`SeedTest`) that
builds its agents, tunes its no-model opponent, scores an episode, summarises
runs and renders its table row. :func:`make_agent` builds a forward-model agent
from an environment's preset.
"""

from .balance import Balance, LinearTuning
from .base import Task, TaskKind, delay_steps_of
from .catalogue import (
    CARTPOLE_SUITES,
    DELAYS_MS,
    NONLINEAR_SUITES,
    SUITES,
    TASKS,
    resolve_tasks,
    task_for_env,
)
from .presets import PRESETS, Preset, get_preset, make_agent, make_vector_agent
from .reaching import DEFAULT_REACHING, Reaching, ReachingAgentConfig
from .seed_test import SeedTest
from .swingup import Return, SwingupSettings
from .tuning import TuningResult, evaluate_gains, tune_feedback

__all__ = [
    "CARTPOLE_SUITES", "DEFAULT_REACHING", "DELAYS_MS", "NONLINEAR_SUITES", "PRESETS", "SUITES", "TASKS",
    "Balance", "LinearTuning", "Preset", "Reaching", "ReachingAgentConfig", "Return", "SeedTest",
    "SwingupSettings", "Task", "TaskKind", "TuningResult", "delay_steps_of", "evaluate_gains",
    "get_preset", "make_agent", "resolve_tasks", "task_for_env", "tune_feedback",
    "make_vector_agent",
]
