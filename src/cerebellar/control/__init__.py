"""Controllers: simple feedback, commands refined through a forward model, planners.

Pure controllers: nothing here knows a task or imports the agent. Each has
``command(state) -> command`` (and optionally ``reset()``).
"""

from .actions import ActionMap
from .exploration import Babbling
from .fallback import TrustGated
from .feedback import LinearFeedback, QuantityFeedback, pd_gains
from .forward_model import ForwardModelController
from .planning import MPPIController, RolloutController
from .sent_commands import SentCommands

__all__ = [
    "ActionMap", "Babbling", "ForwardModelController", "LinearFeedback", "MPPIController",
    "QuantityFeedback", "RolloutController", "SentCommands", "TrustGated", "pd_gains",
]
