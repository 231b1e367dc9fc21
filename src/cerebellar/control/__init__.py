"""Controllers: simple feedback, and commands refined through a forward model."""

from .actions import ActionMap
from .feedback import LinearFeedback
from .forward_model import ForwardModelController

__all__ = ["ActionMap", "ForwardModelController", "LinearFeedback"]
