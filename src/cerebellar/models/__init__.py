"""Online forward models: linear references and the cerebellar substrate.

Every model follows one protocol (:class:`ForwardModel`): ``predict(state,
command)`` returns the predicted next state and ``learn(state, command,
next_state)`` returns the prediction error before the update.
"""

from __future__ import annotations

from .._io import CheckpointError, load_checkpoint
from .base import ForwardModel, OnlineForwardModel
from .cerebellum import GRANULE_LAYERS, Cerebellum
from .inverse import INVERSE_SUBSTRATES, InverseModel
from .linear import NLMS, RLS
from .population import PopulationCerebellum
from .smooth import SmoothCerebellum

#: Model names accepted by :func:`make_model`, the agent and the command line.
MODEL_NAMES = ("rls", "nlms", "cerebellum", "cerebellum-cmac", "cerebellum-random", "cerebellum-smooth")

_CLASSES = {cls.__name__: cls for cls in (RLS, NLMS, Cerebellum, SmoothCerebellum)}
# Loadable, but not among MODEL_NAMES: every name there becomes an agent of every task.
_CLASSES[PopulationCerebellum.__name__] = PopulationCerebellum
_CLASSES[InverseModel.__name__] = InverseModel  # inverse models load through load() too


def make_model(name: str, **params) -> OnlineForwardModel:
    """Build a blank model by name.

    Parameters
    ----------
    name : str
        One of :data:`MODEL_NAMES`. ``"cerebellum"`` uses the CMAC granule layer;
        ``"cerebellum-random"`` the sparse random expansion; ``"cerebellum-smooth"``
        (:class:`SmoothCerebellum`) a dense random-Fourier granule layer with a
        least-squares readout.
    **params
        Hyperparameters passed to the model's constructor.

    Raises
    ------
    ValueError
        For an unknown name.
    TypeError
        If ``name`` is not a string.
    """
    if not isinstance(name, str):
        raise TypeError(f"model name must be a string, one of {', '.join(MODEL_NAMES)}; got {name!r}")
    key = name.lower()
    if key == "rls":
        return RLS(**params)
    if key == "nlms":
        return NLMS(**params)
    if key in ("cerebellum", "cerebellum-cmac"):
        return Cerebellum(**{"granule": "cmac", **params})
    if key == "cerebellum-random":
        return Cerebellum(**{"granule": "random", **params})
    if key == "cerebellum-smooth":
        return SmoothCerebellum(**params)
    raise ValueError(f"unknown model {name!r}; choose one of {', '.join(MODEL_NAMES)}")


def load(path) -> OnlineForwardModel:
    """Load any model saved with ``model.save(path)``.

    Raises
    ------
    CheckpointError
        If the file is missing, corrupt, or names no known model.
    """
    kind, _, _ = load_checkpoint(path)
    if kind not in _CLASSES:
        raise CheckpointError(f"{path} holds an unknown model kind {kind!r}")
    return _CLASSES[kind].load(path)


__all__ = [
    "GRANULE_LAYERS", "MODEL_NAMES", "CheckpointError", "Cerebellum", "ForwardModel",
    "INVERSE_SUBSTRATES", "InverseModel",
    "NLMS", "OnlineForwardModel", "PopulationCerebellum", "RLS", "SmoothCerebellum", "load", "make_model",
]
