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
from .tasks import DELAYS_MS, SUITES, TASKS, Task, resolve_tasks

__all__ = [
    "AGENTS", "DEFAULT_AGENTS", "DELAYS_MS", "SUITES", "TASKS", "EpisodeRecord", "SuiteResult",
    "Task", "build_agent", "evaluate", "resolve_tasks", "run_agent", "tune_for_task",
]
