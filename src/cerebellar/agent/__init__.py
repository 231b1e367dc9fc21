"""Agents: the protocol, the forward-model agent, internal feedback and the one episode loop.

An agent is anything with ``act(observation)``, ``observe(observation,
action, next_observation)`` and ``reset()``. :class:`Agent` acts through a
learned forward model (the seed's procedure, or any controller) and, with a
sensory delay, on the :class:`SmithPredictor`'s estimate of the present.
:func:`run_episode` is the one loop that running, practice and tuning use.
"""

from .anticipation import ShortTermAnticipation
from .core import Agent
from .estimators import DelayEstimator, InnovationGain, KalmanPredictor
from .feedback_error import FeedbackErrorAgent
from .internal_feedback import SmithPredictor, check_delay_steps
from .loop import (
    AgentProtocol,
    EpisodeOutcome,
    Step,
    practise,
    run_batch_episode,
    run_episode,
    run_episodes,
    run_vector_episodes,
)
from .no_model import FeedbackAgent, PolicyAgent
from .results import EpisodeTrace, RunResult
from .vector import VectorAgent, VectorFeedbackAgent

__all__ = [
    "Agent", "AgentProtocol", "EpisodeOutcome", "EpisodeTrace", "FeedbackAgent", "PolicyAgent",
    "RunResult", "SmithPredictor", "Step", "check_delay_steps", "practise", "run_episode",
    "run_episodes",
    "ShortTermAnticipation",
    "FeedbackErrorAgent",
    "VectorAgent", "run_vector_episodes",
    "VectorFeedbackAgent", "run_batch_episode",
]
__all__ += ["DelayEstimator", "InnovationGain", "KalmanPredictor"]
