"""The one protocol every forward model follows, and the machinery they share.

A forward model maps the current sensory state and a copy of the motor command
to a prediction of the next sensory state, and learns online from its own
prediction error (the climbing-fiber signal). Concrete models subclass
:class:`OnlineForwardModel` and fill in three small methods; there is no deeper
hierarchy.
"""

from __future__ import annotations

import json
import math
from typing import Protocol, runtime_checkable

import numpy as np

from .._io import CheckpointError, load_checkpoint, save_checkpoint
from .._validation import (
    MAX_NORM,
    as_finite_matrix,
    as_finite_vector,
    check_bool,
    check_integer,
    check_scale,
    check_seed,
)
from .encoding import MossyFibers

_MAX_SQUARED_NORM = MAX_NORM * MAX_NORM
# Covariances are symmetric and positive semi-definite up to this relative rounding.
_COVARIANCE_TOLERANCE = 1e-9
_MISSING, _KEEP = object(), object()  # sentinels for OnlineForwardModel._undo


class InputTooLarge(ArithmeticError):
    """Raised inside a model when an input is too large to compute with; the message says why.

    A model's ``_learn_encoded`` raises it before changing anything, e.g. when its
    update would make its state non-finite; :meth:`OnlineForwardModel.learn` and
    :meth:`~OnlineForwardModel.predict` turn it into a ValueError naming the input
    that was too large.
    """

_NON_FINITE = "learning from it would make the model's state non-finite"


@runtime_checkable
class ForwardModel(Protocol):
    """What the controller and the agent need from a forward model."""

    def predict(self, state, command) -> np.ndarray:
        """Return the predicted next state."""

    def learn(self, state, command, next_state) -> np.ndarray:
        """Learn from one transition; return the prediction error before the update."""


class OnlineForwardModel:
    """Shared machinery: validation, lazy sizing, mossy encoding, residual targets, I/O.

    Subclasses set their hyperparameters in ``__init__`` (and nothing else),
    check them in ``_check_params``, and implement ``_initialise(n_inputs, n_outputs,
    rng)``, ``_predict_encoded(z)`` and ``_learn_encoded(z, target)``, where
    ``z`` is the encoded mossy-fiber vector (bias included) and ``target`` the
    change of state to predict. Learned state lives in attributes ending in
    ``_``. ``_state_arrays`` and ``_set_state_arrays`` give the learned arrays
    for a checkpoint.

    The model is sized on its first call, from the lengths of the state and the
    command; later calls must keep those lengths.

    With ``residual=True`` (the default) the model learns the change of state,
    ``next_state - state``, and adds it back; a blank model therefore predicts
    that nothing changes.

    Bad input never corrupts a model. Inputs are checked where they enter (see
    :func:`~cerebellar._validation.as_finite_vector`: NaN, infinity, a norm
    above 1e150, a wrong length, an empty vector, complex numbers or strings
    raise). A learning step is computed into temporaries and committed only if
    everything it would store is finite; otherwise ``learn`` raises ValueError
    and the model is exactly as it was before the call (a blank model stays
    blank). Subclasses keep this contract by raising :class:`InputTooLarge`
    from ``_learn_encoded`` before they change any attribute. A checkpoint is
    checked array by array, on :meth:`load` and before :meth:`save` writes it.

    Hyperparameters are checked when the model is sized (its first call, or
    :meth:`initialise`), as scikit-learn checks them in ``fit``, and when a
    checkpoint is loaded or saved: a wrong type raises TypeError, a value out of
    range ValueError, each naming the hyperparameter.
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

        Raises
        ------
        ValueError
            If an input is invalid (see the class docstring), or the prediction
            is not finite; the model is unchanged.
        """
        blank = None if self.is_initialised else dict(self.__dict__)
        last = self.__dict__.get("_last", _MISSING)
        try:
            state, command = self._check(state, command)
            z = self.mossy_.encode(np.concatenate((state, command)))
            try:
                change = self._predict_encoded(z)
            except InputTooLarge as error:
                raise self._too_large("predict from", str(error), state=state, command=command) from None
            prediction = self._apply(state, change) if self.residual else change
            # One cheap dot product in the usual case; vdot does not warn on overflow.
            if (not np.vdot(prediction, prediction) <= _MAX_SQUARED_NORM
                    and not np.all(np.isfinite(prediction))):
                raise ValueError(
                    f"the prediction for this state and command is not finite (largest |state| entry "
                    f"{np.max(np.abs(state)):.3g}, |command| {np.max(np.abs(command)):.3g}): the model's "
                    "weights are too large for them; the model is unchanged")
        except Exception:
            self._undo(blank, last)
            raise
        return prediction

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

        Raises
        ------
        ValueError
            If an input is invalid (see the class docstring), or learning from
            it would make the model's state non-finite. The model is then
            exactly as it was before the call.
        """
        blank = None if self.is_initialised else dict(self.__dict__)
        try:
            state, command = self._check(state, command)
            next_state = as_finite_vector(next_state, "next_state", self.n_state_)
        except Exception:
            self._undo(blank)
            raise
        raw = np.concatenate((state, command))
        mossy = self.mossy_
        # An estimated scale's new statistics are computed now and committed with the
        # update, so that a rejected step leaves no trace in them.
        proposal = None if mossy.scale is not None else mossy.propose(raw)
        last = self.__dict__.get("_last", _MISSING)
        try:
            if proposal is not None:
                before = mossy.snapshot()
                if not math.isfinite(proposal[0].sum()):
                    raise InputTooLarge("its running mean square would overflow")
                if self.n_learned_ == 0:
                    mossy.accept(proposal)  # the first sample sets an estimated scale
            z = mossy.encode(raw)
            target = self._target(state, next_state) if self.residual else next_state
            error = self._learn_encoded(z, target)
        except Exception as error:
            # Also for other errors (e.g. a warning turned into one): models change nothing
            # before they raise, so undoing the scale and the activity restores the model.
            if proposal is not None:
                mossy.restore(before)
            self._undo(blank, last)
            if not isinstance(error, InputTooLarge):
                raise
            raise self._too_large("learn from", str(error), state=state, command=command,
                                  next_state=next_state) from None
        if self.residual:
            error = self._observation_error(state, next_state, target, error)
        # Update an estimated scale only after learning, so that the error returned
        # is exactly next_state - predict(state, command) as it was before the call.
        if proposal is not None and self.n_learned_ > 0:
            mossy.accept(proposal)
        self.n_learned_ += 1
        return error

    def _undo(self, blank: dict | None, last=_KEEP) -> None:
        """After a rejected call: make a model that the call sized blank again, or restore its activity.

        ``last`` is what ``self.__dict__.get("_last", _MISSING)`` was before the
        call; by default the activity is left alone.
        """
        if blank is not None:
            self.__dict__.clear()
            self.__dict__.update(blank)
        elif last is _MISSING:
            self.__dict__.pop("_last", None)
        elif last is not _KEEP:
            self._last = last

    @staticmethod
    def _too_large(action: str, consequence: str, **arguments) -> ValueError:
        # Name the argument holding the largest magnitude: with one huge input, the culprit.
        sizes = {name: float(np.max(np.abs(value))) for name, value in arguments.items()}
        name = max(sizes, key=sizes.get)
        return ValueError(f"{name} is too large to {action} (largest |{name}| entry {sizes[name]:.3g}): "
                          f"{consequence}; the model is unchanged")

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
        """Predict the next state for each row of ``states`` and ``commands``.

        Raises
        ------
        ValueError
            For rows of the wrong length, non-finite or too large values, or a
            prediction that is not finite; the model is unchanged.
        """
        blank = None if self.is_initialised else dict(self.__dict__)
        last = self.__dict__.get("_last", _MISSING)
        try:
            sized = blank is None
            states = as_finite_matrix(states, "states", self.n_state_ if sized else None)
            commands = as_finite_matrix(commands, "commands", self.n_command_ if sized else None)
            if states.shape[0] != commands.shape[0]:
                raise ValueError(
                    f"states and commands must have the same number of rows, "
                    f"got {states.shape} and {commands.shape}"
                )
            if not sized:
                self._setup(states.shape[1], commands.shape[1])
            z = self.mossy_.encode_many(np.hstack((states, commands)))
            try:
                change = self._predict_encoded_many(z)
            except InputTooLarge as error:
                raise ValueError(f"states or commands are too large to predict from: {error}") from None
            predictions = self._apply(states, change) if self.residual else change
            if not np.all(np.isfinite(predictions)):
                raise ValueError("states or commands are too large to predict from: a prediction is not "
                                 "finite; the model is unchanged")
        except Exception:
            self._undo(blank, last)
            raise
        return predictions

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
            if isinstance(value, (np.ndarray, np.generic)):
                value = value.tolist()  # plain Python values, as JSON stores them
            params[name] = value
        return params

    def clone(self):
        """Return a blank model with the same hyperparameters."""
        return type(self)(**self.get_params())

    # -- hyperparameters ---------------------------------------------------------------
    def _check_params(self) -> None:
        """Check the hyperparameters, raising TypeError or ValueError naming the bad one.

        Called when the model is sized and when a checkpoint is loaded or saved
        (``__init__`` only stores). Subclasses extend it.
        """
        check_scale(self.input_scale, "input_scale")
        check_bool(self.residual, "residual")
        check_seed(self.seed)

    # -- checkpoints -------------------------------------------------------------------
    def save(self, path):
        """Save hyperparameters and learned state to an ``.npz`` file, atomically.

        The checkpoint is first checked exactly as :meth:`load` would check it,
        so a model whose state would not load back is never written (and an
        existing file at ``path`` is left alone). A symbolic link at ``path`` is
        followed: its target is replaced and the link kept.

        Parameters
        ----------
        path : str or os.PathLike
            The destination; ``.npz`` is appended when missing.

        Returns
        -------
        pathlib.Path
            The path written (``.npz`` appended when missing).

        Raises
        ------
        ValueError
            If the model's state would not load back (e.g. a NaN in it), or the
            path names no file.
        """
        arrays = self._checkpoint_arrays()
        try:
            params = json.loads(json.dumps(self.get_params(), sort_keys=True))
            type(self)._from_checkpoint(params, {key: np.asarray(value) for key, value in arrays.items()})
        except (KeyError, TypeError, ValueError) as error:
            raise ValueError(f"refusing to save {type(self).__name__} to {path!s}: the checkpoint would "
                             f"not load back: {error}") from error
        return save_checkpoint(path, type(self).__name__, self.get_params(), arrays)

    @classmethod
    def load(cls, path):
        """Load a model saved with :meth:`save`.

        Every array is checked: present, of the shape the hyperparameters
        imply, of a real floating or integer dtype as expected, finite, and in
        range (mean squares >= 0, counters >= 0, covariances symmetric and
        positive semi-definite, as learning keeps them).

        Raises
        ------
        CheckpointError
            If the file is missing, corrupt, malformed, or holds another kind of model.
        """
        kind, params, arrays = load_checkpoint(path)
        if kind != cls.__name__:
            raise CheckpointError(f"{path} holds a {kind}, not a {cls.__name__}")
        try:
            return cls._from_checkpoint(params, arrays)
        except (KeyError, TypeError, ValueError) as error:
            raise CheckpointError(f"checkpoint {path} is incomplete or inconsistent: {error}") from error

    def _checkpoint_arrays(self) -> dict[str, np.ndarray]:
        """Return every array a checkpoint of this model holds (none for a blank model)."""
        if not self.is_initialised:
            return {}
        return {
            "n_state": np.array(self.n_state_),
            "n_command": np.array(self.n_command_),
            "n_learned": np.array(self.n_learned_),
            **self.mossy_.state_arrays(),
            **self._state_arrays(),
        }

    @classmethod
    def _from_checkpoint(cls, params, arrays: dict[str, np.ndarray]):
        """Build a model from a checkpoint's hyperparameters and arrays, checking every array.

        Raises
        ------
        ValueError, TypeError, KeyError
            Naming the first problem found.
        """
        if not isinstance(params, dict):
            raise ValueError(f"the hyperparameters must be a JSON object, got {params!r}")
        model = cls(**params)
        model._check_params()
        if not arrays:
            return model
        n_state = _stored_count(arrays, "n_state", 1)
        n_command = _stored_count(arrays, "n_command", 1)
        _stored_count(arrays, "n_learned", 0)
        # Checked before sizing, so that a tampered size cannot make _setup allocate
        # arrays far larger than the file.
        stored_scale = _stored(arrays, "mossy_mean_square")
        if stored_scale.shape != (n_state + n_command,):
            raise ValueError(f"array 'mossy_mean_square' has shape {stored_scale.shape}, expected "
                             f"({n_state + n_command},) for n_state={n_state}, n_command={n_command}")
        model._setup(n_state, n_command)
        expected = model._checkpoint_arrays()
        unexpected = sorted(set(arrays) - set(expected))
        if unexpected:
            raise ValueError(f"unexpected arrays {unexpected} for a {cls.__name__}")
        checked = {key: _checked_array(key, _stored(arrays, key), blank) for key, blank in expected.items()}
        model._check_state_values(checked)
        model.n_learned_ = int(checked["n_learned"])
        model.mossy_.set_state_arrays(checked)
        model._set_state_arrays(checked)
        return model

    def _check_state_values(self, arrays: dict[str, np.ndarray]) -> None:
        """Check the ranges of a checkpoint's arrays (shapes and dtypes are already checked).

        ``self`` is a freshly sized blank model; subclasses extend this for their
        own arrays.
        """
        _check_count(arrays, "mossy_count", 0)
        mean_square = arrays["mossy_mean_square"]
        if np.any(mean_square < 0):
            raise ValueError(f"array 'mossy_mean_square' has negative entries: {mean_square}")
        if self.mossy_.scale is not None and not np.array_equal(mean_square, self.mossy_.mean_square_):
            raise ValueError("array 'mossy_mean_square' disagrees with the fixed input scale "
                             f"{self.mossy_.mean_square_ ** 0.5}")

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
        n_state = check_integer(n_state, "n_state", minimum=1)
        n_command = check_integer(n_command, "n_command", minimum=1)
        if self.is_initialised:
            self._check_sizes(n_state, n_command)
            return
        self._setup(n_state, n_command)

    def _setup(self, n_state: int, n_command: int) -> None:
        self._check_params()
        blank = dict(self.__dict__)
        try:
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
        except Exception:
            self._undo(blank)  # checks that need the sizes (e.g. input_scale's length) leave it blank
            raise

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


# -- checkpoint arrays -------------------------------------------------------------------------


def _stored(arrays: dict, key: str) -> np.ndarray:
    if key not in arrays:
        raise ValueError(f"array {key!r} is missing")
    return np.asarray(arrays[key])


def _stored_count(arrays: dict, key: str, minimum: int) -> int:
    """Return a stored scalar integer (a size or a counter), checking its dtype and range."""
    value = _checked_array(key, _stored(arrays, key), np.array(0))
    _check_count({key: value}, key, minimum)
    return int(value)


def _check_count(arrays: dict, key: str, minimum: int) -> None:
    if int(arrays[key]) < minimum:
        raise ValueError(f"array {key!r} must be at least {minimum}, got {int(arrays[key])}")


def _checked_array(key: str, value: np.ndarray, blank) -> np.ndarray:
    """Return ``value`` if it has the shape and kind of dtype of ``blank`` and is finite, else raise."""
    blank = np.asarray(blank)
    if value.shape != blank.shape:
        raise ValueError(f"array {key!r} has shape {value.shape}, expected {blank.shape}")
    if blank.dtype.kind == "f":
        if value.dtype.kind != "f":
            raise ValueError(f"array {key!r} has dtype {value.dtype}, expected a real floating dtype")
        if not np.all(np.isfinite(value)):
            raise ValueError(f"array {key!r} holds NaN or infinite values")
    elif value.dtype.kind not in "iu":
        raise ValueError(f"array {key!r} has dtype {value.dtype}, expected an integer dtype")
    elif value.size and value.dtype.kind == "u" and value.max() > np.iinfo(np.int64).max:
        raise ValueError(f"array {key!r} holds integers beyond the int64 range")
    return value


def check_covariance(arrays: dict, key: str, max_trace: float) -> None:
    """Check a stored RLS covariance: symmetric, positive semi-definite, within the trace cap.

    Learning keeps the covariance exactly symmetric and its trace at most the
    cap; positive semi-definiteness holds up to rounding, hence the tolerance.
    These bounds are also what keeps a learning step from overflowing.

    Raises
    ------
    ValueError
        Naming the array and what is wrong with it.
    """
    covariance = arrays[key]
    scale = max_trace * _COVARIANCE_TOLERANCE
    if np.max(np.abs(covariance - covariance.T), initial=0.0) > scale:
        raise ValueError(f"array {key!r} is not symmetric")
    if np.max(np.abs(covariance), initial=0.0) > max_trace + scale:
        raise ValueError(f"array {key!r} has entries beyond the trace cap {max_trace:.3g}")
    if np.linalg.eigvalsh(covariance).min(initial=0.0) < -scale:
        raise ValueError(f"array {key!r} is not positive semi-definite")
