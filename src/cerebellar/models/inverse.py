"""Inverse models: from the movement wanted to the command that makes it.

A forward model maps (state, command) to the next state; an inverse model maps
(state, desired movement) to the command. In Kawato's feedback-error learning
the inverse model has no teacher that knows the right command: it learns from
the feedback controller's command, which is zero exactly when the inverse
model's command was right. So ``learn(state, desired, error_command)`` takes
the error of the command (not a target command) and moves the prediction by it.

:class:`InverseModel` is built on the same substrates as the forward models
(RLS, the CMAC and random-expansion cerebellum, the smooth cerebellum): it
holds one blank forward model of :mod:`cerebellar.models` in its non-residual
form (``residual=False``, which learns its output directly) and composes its
inputs as the structured forward models (:mod:`cerebellar.models.limb`) do.
The substrate's output has one entry per channel of its first argument, so the
inverse model puts the desired movement there (one desired quantity per
command: a desired acceleration per joint of a fully actuated limb, or a
desired next state of a plant with as many commands as states) and the state
in the second argument. Every input is encoded by the substrate's own mossy
fibres and granule layer; nothing is copied.

With ``features="arm"`` the two-link arm's inverse dynamics
``tau = M(q2) q'' + C(q, q') q' + G(q) + B q'`` are given in form (not in
value): the substrate sees features in which they are exactly linear, as
:class:`~cerebellar.models.limb.ArmFeatures` does for the forward model.
"""

from __future__ import annotations

import math

import numpy as np

from .._io import CheckpointError, load_checkpoint, save_checkpoint
from .._validation import as_finite_vector, check_choice, check_seed

#: Substrates an inverse model can be built on (names of :func:`cerebellar.models.make_model`).
INVERSE_SUBSTRATES = ("rls", "nlms", "cerebellum", "cerebellum-cmac", "cerebellum-random",
                      "cerebellum-smooth")
#: How the inputs reach the substrate.
INVERSE_FEATURES = ("raw", "arm")


def arm_inverse_features(state: np.ndarray, acceleration: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return the two-link arm's inverse-dynamics features, split as the substrate takes them.

    With ``c = cos q2`` and ``s = sin q2`` the torques are linear in the
    accelerations, ``c`` times them, the Coriolis terms ``s dq2 (2 dq1 + dq2)``
    and ``s dq1^2``, the gravity terms ``sin q1`` and ``sin(q1 + q2)``, and the
    velocities (with a bias, which the substrate adds).

    Parameters
    ----------
    state : numpy.ndarray
        ``(q1, q2, dq1, dq2, ...)``; further channels are ignored.
    acceleration : numpy.ndarray, shape (2,)
        The desired joint accelerations (rad/s^2).

    Returns
    -------
    first : numpy.ndarray, shape (2,)
        The accelerations, scaled (the substrate's first argument).
    rest : numpy.ndarray, shape (8,)
        The other features (its second argument).
    """
    q1, q2, d1, d2 = state[0], state[1], state[2], state[3]
    c, s = math.cos(q2), math.sin(q2)
    # Accelerations in units of 10 rad/s^2 and velocities of 3 rad/s: features of order 1.
    a = acceleration / 10.0
    v1, v2 = d1 / 3.0, d2 / 3.0
    rest = np.array([c * a[0], c * a[1], s * v2 * (2.0 * v1 + v2), s * v1 * v1,
                     math.sin(q1), math.sin(q1 + q2), v1, v2])
    return a, rest


class InverseModel:
    """An online inverse model ``(state, desired) -> command`` on a cerebellar substrate.

    Parameters
    ----------
    substrate : str
        The learner it is built on, one of :data:`INVERSE_SUBSTRATES`
        (:func:`~cerebellar.models.make_model` names); always in its
        non-residual form.
    features : {"raw", "arm"}
        ``"raw"``: the substrate sees the state and the desired movement as
        they are (the generic model). ``"arm"``: the two-link arm's
        inverse-dynamics features (:func:`arm_inverse_features`); the state
        must start with ``(q1, q2, dq1, dq2)`` and the desired movement be the
        two joint accelerations.
    input_scale : array_like or None
        ``"raw"`` only: the scale of each state channel, then of each desired
        channel, for the substrate's mossy-fibre encoding; None lets the
        substrate estimate it (or, for RLS, not scale).
    substrate_params : dict or None
        Further hyperparameters of the substrate (e.g. ``n_granule``).
    seed : int or None
        Seeds the substrate's granule layer.

    Attributes
    ----------
    substrate_ : OnlineForwardModel
        The substrate (a forward model of :mod:`cerebellar.models`, ``residual=False``).
    n_state_, n_desired_ : int
        Input sizes, fixed on the first call; the command has ``n_desired_`` entries.
    n_learned_ : int
        Learning steps taken.
    """

    _param_names = ("substrate", "features", "input_scale", "substrate_params", "seed")

    def __init__(self, substrate: str = "cerebellum-smooth", features: str = "raw", input_scale=None,
                 substrate_params: dict | None = None, seed: int | None = 0):
        self.substrate = substrate
        self.features = features
        self.input_scale = input_scale
        self.substrate_params = substrate_params
        self.seed = seed

    # -- protocol ------------------------------------------------------------------------
    def predict(self, state, desired) -> np.ndarray:
        """Return the command expected to produce ``desired`` from ``state``.

        Raises
        ------
        ValueError
            For NaN, infinite, empty or wrongly sized inputs, or lengths the
            features cannot take (the model is unchanged).
        """
        first, rest = self._inputs(state, desired)
        return self.substrate_.predict(first, rest)

    def learn(self, state, desired, error_command) -> np.ndarray:
        """Move the command for ``(state, desired)`` by ``error_command``; return the error learned.

        ``error_command`` is how much the command should have been larger (in
        feedback-error learning: the feedback controller's command). The
        substrate learns the target ``predict(state, desired) + error_command``.

        Returns
        -------
        numpy.ndarray
            The command error before the update (``error_command`` itself, up to rounding).

        Raises
        ------
        ValueError
            For bad inputs (named), or an update that would not be finite; the
            model is then unchanged.
        """
        first, rest = self._inputs(state, desired)
        error = as_finite_vector(error_command, "error_command", len(first))
        target = self.substrate_.predict(first, rest) + error
        return self.substrate_.learn(first, rest, target)

    def learn_command(self, state, desired, command) -> np.ndarray:
        """Learn that ``command`` produced ``desired`` from ``state`` (direct inverse learning).

        Returns
        -------
        numpy.ndarray
            ``command - predict(state, desired)`` before the update.
        """
        first, rest = self._inputs(state, desired)
        return self.substrate_.learn(first, rest, as_finite_vector(command, "command", len(first)))

    @property
    def is_initialised(self) -> bool:
        """bool: whether the input sizes are fixed yet."""
        return hasattr(self, "n_state_")

    def get_params(self) -> dict:
        """Return the hyperparameters (as the constructor takes them)."""
        params = {name: getattr(self, name) for name in self._param_names}
        if params["input_scale"] is not None:
            params["input_scale"] = [float(x) for x in np.asarray(params["input_scale"]).ravel()]
        return params

    # -- inputs ----------------------------------------------------------------------------
    def _check_params(self) -> None:
        check_choice(self.substrate, "substrate", INVERSE_SUBSTRATES)
        check_choice(self.features, "features", INVERSE_FEATURES)
        check_seed(self.seed)
        if self.substrate_params is not None and not isinstance(self.substrate_params, dict):
            raise TypeError(f"substrate_params must be a dict or None, got {self.substrate_params!r}")
        if "residual" in (self.substrate_params or {}):
            raise ValueError("substrate_params must not set residual: an inverse model learns commands")
        if self.features == "arm" and self.input_scale is not None:
            raise ValueError("input_scale applies to features='raw' only (the arm features are scaled)")

    def _setup(self, n_state: int, n_desired: int) -> None:
        from . import make_model  # here: the registry imports this module

        self._check_params()
        if self.features == "arm" and (n_state < 4 or n_desired != 2):
            raise ValueError(f"features='arm' needs a state starting (q1, q2, dq1, dq2) and two desired "
                             f"accelerations, got {n_state} state and {n_desired} desired channels")
        params = dict(self.substrate_params or {})
        if self.features == "raw" and self.input_scale is not None:
            scale = as_finite_vector(self.input_scale, "input_scale", n_state + n_desired)
            if np.any(scale <= 0):
                raise ValueError(f"input_scale must be positive, got {scale}")
            # The substrate takes the desired channels first (see the module docstring).
            params["input_scale"] = tuple(np.concatenate([scale[n_state:], scale[:n_state]]).tolist())
        substrate = make_model(self.substrate, seed=self.seed, residual=False, **params)
        n_rest = 8 if self.features == "arm" else n_state
        substrate.initialise(n_desired, n_rest)
        self.substrate_ = substrate
        self.n_state_ = n_state
        self.n_desired_ = n_desired

    def _inputs(self, state, desired) -> tuple[np.ndarray, np.ndarray]:
        sized = self.is_initialised
        state = as_finite_vector(state, "state", self.n_state_ if sized else None)
        desired = as_finite_vector(desired, "desired", self.n_desired_ if sized else None)
        if not sized:
            self._setup(len(state), len(desired))
        if self.features == "arm":
            return arm_inverse_features(state, desired)
        return desired, state

    @property
    def n_learned_(self) -> int:
        """int: learning steps taken (0 for a blank model)."""
        return self.substrate_.n_learned_ if self.is_initialised else 0

    # -- checkpoints -------------------------------------------------------------------------
    def save(self, path):
        """Write the model to ``path`` (``.npz``, atomically; see :mod:`cerebellar._io`).

        Returns
        -------
        pathlib.Path
            The path written.
        """
        arrays = {}
        if self.is_initialised:
            arrays = {"n_state": np.array(self.n_state_), "n_desired": np.array(self.n_desired_),
                      **{f"substrate_{k}": v for k, v in self.substrate_._checkpoint_arrays().items()}}
        return save_checkpoint(path, type(self).__name__, self.get_params(), arrays)

    @classmethod
    def load(cls, path) -> InverseModel:
        """Load a model written by :meth:`save`; every array is checked by the substrate.

        Raises
        ------
        CheckpointError
            For a missing, corrupt or inconsistent file, or another kind of model.
        """
        kind, params, arrays = load_checkpoint(path)
        if kind != cls.__name__:
            raise CheckpointError(f"{path} holds a {kind}, not a {cls.__name__}")
        try:
            model = cls(**params)
            model._check_params()
            if arrays:
                n_state, n_desired = int(arrays["n_state"]), int(arrays["n_desired"])
                if not (1 <= n_state <= 10_000 and 1 <= n_desired <= 10_000):
                    raise ValueError(f"implausible sizes {n_state}, {n_desired}")
                model._setup(n_state, n_desired)
                inner = {k.removeprefix("substrate_"): v for k, v in arrays.items()
                         if k.startswith("substrate_")}
                substrate = type(model.substrate_)
                model.substrate_ = substrate._from_checkpoint(model.substrate_.get_params(), inner)
                if model.substrate_.n_state_ != n_desired:
                    raise ValueError("the substrate's sizes disagree with n_desired")
        except (KeyError, TypeError, ValueError) as error:
            raise CheckpointError(f"checkpoint {path} is incomplete or inconsistent: {error}") from error
        return model

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"


__all__ = ["INVERSE_FEATURES", "INVERSE_SUBSTRATES", "InverseModel", "arm_inverse_features"]
