"""Controllers: simple feedback, and commands refined through a forward model."""

from .actions import ActionMap
from .feedback import LinearFeedback, QuantityFeedback
from .forward_model import ForwardModelController
from .planning import MPPIController, RolloutController
from .tuning import FeedbackAgent, TuningResult, evaluate_gains, tune_feedback

__all__ = [
    "ActionMap", "FeedbackAgent", "ForwardModelController", "LinearFeedback", "MPPIController",
    "QuantityFeedback", "RolloutController", "TuningResult",
    "evaluate_gains", "tune_feedback",
]
