"""The evaluation harness: tasks x agents x seeds -> tables and plots.

``cerebellar suite`` runs it from the command line; :func:`evaluate` from Python.
The tasks themselves (and how each kind builds, tunes and scores) are in
:mod:`cerebellar.tasks`.
"""

from .harness import (
    AGENTS,
    DEFAULT_AGENTS,
    UNDER_TUNED_SURVIVAL,
    EpisodeRecord,
    SuiteResult,
    build_agent,
    evaluate,
    run_agent,
    score_episodes,
    tune_for_task,
)

__all__ = [
    "AGENTS", "DEFAULT_AGENTS", "UNDER_TUNED_SURVIVAL", "EpisodeRecord", "SuiteResult", "build_agent",
    "evaluate", "run_agent", "score_episodes", "tune_for_task",
]
