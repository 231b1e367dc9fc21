"""The evaluation harness: tasks x agents x seeds -> tables and plots.

``cerebellar suite`` runs it from the command line; :func:`evaluate` from Python.
"""

from .harness import (
    AGENTS,
    DEFAULT_AGENTS,
    EpisodeRecord,
    SuiteResult,
    build_agent,
    evaluate,
    run_agent,
    tune_for_task,
)
from .recipes import RECIPES, Recipe, Tuned
from .tasks import CARTPOLE_SUITES, DELAYS_MS, NONLINEAR_SUITES, SUITES, TASKS, Task, resolve_tasks

__all__ = [
    "AGENTS", "CARTPOLE_SUITES", "DEFAULT_AGENTS", "DELAYS_MS", "NONLINEAR_SUITES", "RECIPES", "SUITES",
    "TASKS", "EpisodeRecord", "Recipe", "SuiteResult", "Tuned",
    "Task", "build_agent", "evaluate", "resolve_tasks", "run_agent", "tune_for_task",
]
