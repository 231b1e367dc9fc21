"""cerebellar: the cerebellum as an online forward model, used to control a body.

A forward model predicts the next sensory state from the present one and a copy
of the motor command, learning online from its own prediction error. A simple
feedback controller's command is refined through the model (the seed's
procedure), and internal feedback predicts the present from delayed senses.

Layers, each importing only those before it: ``models`` and ``envs`` ->
``control`` -> ``agent`` -> ``tasks`` -> ``evaluate`` -> ``cli``.
"""

from . import envs  # noqa: F401  (registers the cerebellar/ environments)
from ._io import CheckpointError
from .agent import Agent, EpisodeTrace, RunResult, VectorAgent, run_episodes
from .control import ActionMap, ForwardModelController, LinearFeedback
from .models import NLMS, RLS, Cerebellum, make_model
from .tasks import PRESETS, Preset, make_agent

__version__ = "0.1.0"

__all__ = [
    "PRESETS", "NLMS", "RLS", "ActionMap", "Agent", "Cerebellum", "CheckpointError",
    "EpisodeTrace", "ForwardModelController", "LinearFeedback", "Preset", "RunResult",
    "make_agent", "make_model", "run_episodes",
    "VectorAgent",
]
