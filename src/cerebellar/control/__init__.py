"""Controllers: simple feedback, and commands refined through a forward model."""

from .actions import ActionMap
from .feedback import LinearFeedback
from .forward_model import ForwardModelController
from .tuning import FeedbackAgent, TuningResult, evaluate_gains, tune_feedback

__all__ = [
    "ActionMap", "FeedbackAgent", "ForwardModelController", "LinearFeedback", "TuningResult",
    "evaluate_gains", "tune_feedback",
]
