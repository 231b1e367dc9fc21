"""The one protocol every forward model follows, and the machinery they share.

A forward model maps the current sensory state and a copy of the motor command
to a prediction of the next sensory state, and learns online from its own
prediction error (the climbing-fiber signal). Concrete models subclass
:class:`OnlineForwardModel` and fill in three small methods; there is no deeper
hierarchy.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

from .._io import CheckpointError, load_checkpoint, save_checkpoint
from .._validation import as_finite_vector
from .encoding import MossyFibers


@runtime_checkable
class ForwardModel(Protocol):
    """What the controller and the agent need from a forward model."""

    def predict(self, state, command) -> np.ndarray:
        """Return the predicted next state."""

    def learn(self, state, command, next_state) -> np.ndarray:
        """Learn from one transition; return the prediction error before the update."""


class OnlineForwardModel:
    """Shared machinery: validation, lazy sizing, mossy encoding, residual targets, I/O.

    Subclasses set their hyperparameters in ``__init__`` (and nothing else), and
    implement ``_initialise(n_inputs, n_outputs, rng)``, ``_predict_encoded(z)``
    and ``_learn_encoded(z, target)``, where ``z`` is the encoded mossy-fiber
    vector (bias included) and ``target`` the change of state to predict. Learned
    state lives in attributes ending in ``_``. ``_state_arrays`` and
    ``_set_state_arrays`` give the learned arrays for a checkpoint.

    The model is sized on its first call, from the lengths of the state and the
    command; later calls must keep those lengths.

    With ``residual=True`` (the default) the model learns the change of state,
    ``next_state - state``, and adds it back; a blank model therefore predicts
    that nothing changes.
    """

    #: Hyperparameter names, in ``__init__`` order; used for ``get_params`` and checkpoints.
    _param_names: tuple[str, ...] = ()
    #: Whether ``input_scale=None`` means "estimate the scale online" (else: no scaling).
    _estimates_scale: bool = True

    # -- public protocol ---------------------------------------------------------------
    def predict(self, state, command) -> np.ndarray:
        """Predict the next sensory state.

        Parameters
        ----------
        state : array_like, shape (n_state,)
            The current sensory state.
        command : array_like, shape (n_command,) or scalar
            The motor command (efference copy).

        Returns
        -------
        numpy.ndarray, shape (n_state,)
            The predicted next state.
        """
        state, command = self._check(state, command)
        z = self.mossy_.encode(np.concatenate((state, command)))
        change = self._predict_encoded(z)
        return self._apply(state, change) if self.residual else change

    def learn(self, state, command, next_state) -> np.ndarray:
        """Learn from one observed transition.

        Parameters
        ----------
        state : array_like, shape (n_state,)
            The sensory state when the command was sent.
        command : array_like, shape (n_command,) or scalar
            The command actually sent.
        next_state : array_like, shape (n_state,)
            The sensory state one step later: the ground truth.

        Returns
        -------
        numpy.ndarray, shape (n_state,)
            The prediction error ``next_state - predict(state, command)`` before
            this update: the climbing-fiber signal.
        """
        state, command = self._check(state, command)
        next_state = as_finite_vector(next_state, "next_state", self.n_state_)
        raw = np.concatenate((state, command))
        if self.n_learned_ == 0:
            self.mossy_.observe(raw)  # the first sample sets an estimated scale
        z = self.mossy_.encode(raw)
        target = self._target(state, next_state) if self.residual else next_state
        error = self._learn_encoded(z, target)
        if self.residual:
            error = self._observation_error(state, next_state, target, error)
        # Update an estimated scale only after learning, so that the error returned
        # is exactly next_state - predict(state, command) as it was before the call.
        if self.n_learned_ > 0:
            self.mossy_.observe(raw)
        self.n_learned_ += 1
        return error

    def predictor(self, state):
        """Return a function ``command -> predicted next state`` for one fixed state.

        The controller asks the model about several commands for the same state
        (the K refinements). The part of the computation that depends on the
        state alone is done once, here. The returned function is valid until the
        model next learns, and trusts its argument: a finite float64 vector of
        the command's length.

        Parameters
        ----------
        state : array_like, shape (n_state,)
            The current sensory state.

        Returns
        -------
        callable
            ``f(command) -> numpy.ndarray`` equal to ``predict(state, command)``.
        """
        if not self.is_initialised:
            raise RuntimeError(
                "a blank model does not know its sizes yet: call initialise(n_state, n_command) "
                "or predict once before asking for a predictor"
            )
        state = as_finite_vector(state, "state", self.n_state_)
        inverse_scale = self.mossy_._inverse_scale
        return self._predictor(
            state, state * inverse_scale[: self.n_state_], inverse_scale[self.n_state_ :]
        )

    def _predictor(self, state, scaled_state, command_inverse_scale):
        """Return a generic predictor that encodes and predicts per command (models may cache)."""

        def predict_command(command):
            z = np.concatenate((scaled_state, command * command_inverse_scale, (1.0,)))
            change = self._predict_encoded(z)
            return self._apply(state, change) if self.residual else change

        return predict_command

    def predict_many(self, states, commands) -> np.ndarray:
        """Predict the next state for each row of ``states`` and ``commands``."""
        states = np.asarray(states, dtype=np.float64)
        commands = np.asarray(commands, dtype=np.float64)
        if commands.ndim == 1:
            commands = commands[:, None]
        if states.ndim != 2 or commands.ndim != 2 or states.shape[0] != commands.shape[0]:
            raise ValueError(
                f"states and commands must be 2-D with the same number of rows, "
                f"got {states.shape} and {commands.shape}"
            )
        if not (np.all(np.isfinite(states)) and np.all(np.isfinite(commands))):
            raise ValueError("states or commands contain NaN or infinite values")
        if not self.is_initialised:
            self._setup(states.shape[1], commands.shape[1])
        self._check_sizes(states.shape[1], commands.shape[1])
        z = self.mossy_.encode_many(np.hstack((states, commands)))
        change = self._predict_encoded_many(z)
        return self._apply(states, change) if self.residual else change

    def _apply(self, states, change):
        """Turn a predicted (residual) change into the next state; rows allowed (models may rotate)."""
        return states + change

    def _target(self, state, next_state):
        """Return the residual change to learn: the inverse of :meth:`_apply`."""
        return next_state - state

    def _observation_error(self, state, next_state, target, error):
        """Return the error in observation space from the error on the learned ``target``.

        For a plain difference the two are the same; a model whose change is not
        a difference (e.g. a rotation) overrides this.
        """
        return error

    @property
    def is_initialised(self) -> bool:
        """Whether the model has been sized by a first call."""
        return hasattr(self, "n_state_")

    def get_params(self) -> dict:
        """Return the hyperparameters as a dict (``__init__`` keyword arguments)."""
        params = {}
        for name in self._param_names:
            value = getattr(self, name)
            params[name] = value.tolist() if isinstance(value, np.ndarray) else value
        return params

    def clone(self):
        """Return a blank model with the same hyperparameters."""
        return type(self)(**self.get_params())

    # -- checkpoints -------------------------------------------------------------------
    def save(self, path):
        """Save hyperparameters and learned state to an ``.npz`` file, atomically.

        Returns
        -------
        pathlib.Path
            The path written (``.npz`` appended when missing).
        """
        arrays = {}
        if self.is_initialised:
            arrays = {
                "n_state": np.array(self.n_state_),
                "n_command": np.array(self.n_command_),
                "n_learned": np.array(self.n_learned_),
                **self.mossy_.state_arrays(),
                **self._state_arrays(),
            }
        return save_checkpoint(path, type(self).__name__, self.get_params(), arrays)

    @classmethod
    def load(cls, path):
        """Load a model saved with :meth:`save`.

        Raises
        ------
        CheckpointError
            If the file is missing, corrupt, or holds another kind of model.
        """
        kind, params, arrays = load_checkpoint(path)
        if kind != cls.__name__:
            raise CheckpointError(f"{path} holds a {kind}, not a {cls.__name__}")
        try:
            model = cls(**params)
            if arrays:
                model._setup(int(arrays["n_state"]), int(arrays["n_command"]))
                model.n_learned_ = int(arrays["n_learned"])
                model.mossy_.set_state_arrays(arrays)
                for key, blank in model._state_arrays().items():
                    if arrays[key].shape != np.shape(blank):
                        raise ValueError(
                            f"array {key!r} has shape {arrays[key].shape}, expected {np.shape(blank)}"
                        )
                model._set_state_arrays(arrays)
        except (KeyError, TypeError, ValueError) as error:
            raise CheckpointError(f"checkpoint {path} is incomplete or inconsistent: {error}") from error
        return model

    # -- internals ---------------------------------------------------------------------
    def _check(self, state, command) -> tuple[np.ndarray, np.ndarray]:
        if not self.is_initialised:
            state = as_finite_vector(state, "state")
            command = as_finite_vector(command, "command")
            self._setup(state.shape[0], command.shape[0])
            return state, command
        return (
            as_finite_vector(state, "state", self.n_state_),
            as_finite_vector(command, "command", self.n_command_),
        )

    def _check_sizes(self, n_state: int, n_command: int) -> None:
        if (n_state, n_command) != (self.n_state_, self.n_command_):
            raise ValueError(
                f"model was sized for state length {self.n_state_} and command length "
                f"{self.n_command_}, got {n_state} and {n_command}"
            )

    def initialise(self, n_state: int, n_command: int) -> None:
        """Size a blank model for states of length ``n_state`` and commands of ``n_command``.

        Models size themselves on their first call; this does it ahead of time
        (the agent calls it, knowing the spaces). On a model already sized the
        same way it does nothing; other sizes raise ValueError.
        """
        if self.is_initialised:
            self._check_sizes(n_state, n_command)
            return
        if int(n_state) < 1 or int(n_command) < 1:
            raise ValueError(f"n_state and n_command must be positive, got {n_state}, {n_command}")
        self._setup(int(n_state), int(n_command))

    def _setup(self, n_state: int, n_command: int) -> None:
        self.n_state_ = n_state
        self.n_command_ = n_command
        self.n_learned_ = 0
        scale = self.input_scale
        if scale is None and not self._estimates_scale:
            scale = np.ones(n_state + n_command)
        self.mossy_ = MossyFibers(scale)
        self.mossy_.initialise(n_state + n_command)
        rng = np.random.default_rng(self.seed)
        self._initialise(n_state + n_command + 1, n_state, rng)

    def _predict_encoded_many(self, z: np.ndarray) -> np.ndarray:
        return np.array([self._predict_encoded(row) for row in z])

    def _initialise(self, n_inputs: int, n_outputs: int, rng: np.random.Generator) -> None:
        raise NotImplementedError

    def _predict_encoded(self, z: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _learn_encoded(self, z: np.ndarray, target: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _state_arrays(self) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def _set_state_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        raise NotImplementedError

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"
