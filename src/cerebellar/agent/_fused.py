"""The fused control step: the common agent's act and observe without per-call layering.

An :class:`~cerebellar.agent.Agent` built by ``Agent.for_env`` with its
defaults on an RLS model and one command (CartPole-v1, the continuous
cart-pole, ...) spends most of a step crossing layers: the agent validates the
observation, the controller validates it again, the model builds a predictor
and validates it a third time, and the learning step validates the state, the
command and the next state before encoding them. :class:`FusedStep` does the
same arithmetic, operation for operation (the same products and sums on the
same arrays, the same scalar iteration, the same clips), with the checks made
once per input, the scalars kept as Python floats, and ``np.dot`` where the
general path writes ``@`` (the same BLAS dot and matrix-vector kernels, with
less overhead per call on arrays this small). Every result is bit for bit
what the general path gives, and what a plain numpy transcription written
with ``@`` gives (tests/agent/test_fused.py holds both).

It takes only inputs it can check cheaply: a float64 or float32 vector of the
right length, finite and within the magnitude limit; a discrete action as a
Python int in range, or a Box action as a numpy vector. Anything else (a list,
a NaN, a wrong shape, a numpy integer action, a step that would overflow) makes
it return None, and the agent then runs the general path, which gives the
answer or raises the error it always raised.
"""

from __future__ import annotations

import math

import numpy as np

from .._validation import MAX_NORM
from ..control import ActionMap, ForwardModelController, LinearFeedback
from ..models import RLS
from ..models.base import InputTooLarge
from ..models.linear import rls_update

_F64 = np.dtype(np.float64)
_F32 = np.dtype(np.float32)
_MAX_SQUARED_NORM = MAX_NORM * MAX_NORM
_dot, _vdot, _array = np.dot, np.vdot, np.array


def _scalar(limit):
    """Return a command limit (a float, or an array of one) as a float; None for any other shape."""
    if type(limit) is np.ndarray:
        return limit.item() if limit.shape == (1,) else None
    return limit


class FusedStep:
    """The seed's procedure on an RLS model with one command, as one act and one observe.

    Built for an agent's present parts; :attr:`active` says whether they are
    the ones covered. It holds no learned state: every call reads the model's
    weights, covariance and scale, and the controller's gains, setpoint,
    limits and iterations, as the general path does.
    """

    __slots__ = ("model", "controller", "actions", "internal_feedback", "active", "_initialised",
                 "_shape", "_values", "_start", "_inverse", "_inverse_state", "_inverse_command",
                 "_inverse_encoded", "_raw")

    def __init__(self, agent):
        model, controller, actions = agent.model, agent.controller, agent.actions
        self.model, self.controller, self.actions = model, controller, actions
        self.internal_feedback = agent.internal_feedback
        self._initialised = getattr(model, "is_initialised", False)
        #: Whether the agent's parts are the ones covered; if not, act and observe are never called.
        self.active = self._covered(agent)
        n_state = agent.n_state
        self._shape = (n_state,)
        self._values = actions._flat_values.tolist() if self.active and actions.discrete else None
        self._start = actions._start if self.active and actions.discrete else 0
        self._inverse = None
        # [state, command, 1]: filled per step, then scaled into a new z (z is not kept).
        self._raw = np.empty(n_state + 2)

    @staticmethod
    def _covered(agent) -> bool:
        """Whether the agent's parts are the ones this step covers.

        Covered: no internal feedback; a :class:`ForwardModelController` on a
        :class:`LinearFeedback` of one command; an initialised :class:`RLS`
        with a fixed input scale; an :class:`ActionMap` of one command (exact
        types, so that a subclass overriding any step gets the general path).
        """
        model, controller, actions = agent.model, agent.controller, agent.actions
        if (agent.internal_feedback is not None or type(controller) is not ForwardModelController
                or type(model) is not RLS or type(actions) is not ActionMap
                or type(controller.feedback) is not LinearFeedback or not model.is_initialised):
            return False
        if model.mossy_.scale is None or actions.n_command != 1 or (actions.discrete and not actions._scalar):
            return False
        return (model.n_state_, model.n_command_) == (agent.n_state, 1)

    def covers(self, agent) -> bool:
        """Whether this step was built for ``agent``'s present parts (else the agent builds a new one)."""
        return (agent.model is self.model and agent.controller is self.controller
                and agent.actions is self.actions and agent.internal_feedback is self.internal_feedback
                and (self.active or self._initialised == getattr(self.model, "is_initialised", False)))

    def _vector(self, value):
        """Return ``value`` as the float64 vector the general path would, or None to use that path."""
        if type(value) is not np.ndarray:
            return None
        dtype = value.dtype
        if dtype is not _F64:
            if dtype is not _F32:
                return None
            value = value.astype(_F64)
        if value.shape != self._shape or not _vdot(value, value) <= _MAX_SQUARED_NORM:
            return None
        return value

    def _scale(self, inverse) -> None:
        # The scale is fixed, but a loaded checkpoint replaces the array: slice it again then.
        n = self._shape[0]
        self._inverse = inverse
        self._inverse_state = inverse[:n]
        self._inverse_command = inverse[n:].item()  # one command
        self._inverse_encoded = np.append(inverse, 1.0)
        self._raw[-1] = 1.0

    def act(self, agent, observation):
        """Return the action for ``observation`` (as the agent sets it), or None: use the general path."""
        state = self._vector(observation)
        if state is None:
            return None
        controller, model = self.controller, self.model
        feedback = controller.feedback
        if type(feedback) is not LinearFeedback or feedback.gains.shape != (1, self._shape[0]):
            return None
        gains, setpoint = feedback.gains, feedback.setpoint
        # min(max(x, low), high) written out: the same choice, tie and NaN rules, without two calls.
        # LinearFeedback.__call__ (clipped to its own limits), then the controller's action limits.
        u = _dot(gains, setpoint - state).item()
        c_low, c_high = feedback.low.item(), feedback.high.item()
        if feedback._bounded:
            u = c_low if c_low > u else u
            u = c_high if c_high < u else u
        # The controller clips the feedback to its low and high, the refinement to _scalar_limits.
        low, high = _scalar(controller.low), _scalar(controller.high)
        if low is None or high is None:
            return None
        u = low if low > u else u
        u = high if high < u else u
        iterations = controller.iterations
        if iterations:
            # OnlineForwardModel.predictor -> _linear_predictor, then _refine_affine.
            inverse = model.mossy_._inverse_scale
            if inverse is not self._inverse:
                self._scale(inverse)
            weights = model.weights_
            n = self._shape[0]
            offset = _dot(weights[:, :n], state * self._inverse_state) + weights[:, -1]
            if model.residual:
                offset += state
            drive = _dot(gains, setpoint - offset).item()
            # gains @ slope with slope = weights[:, n:-1] * inverse scale: for one command both
            # forms are one BLAS dot of the same two length-n vectors.
            coupling = _dot(gains, weights[:, n] * self._inverse_command).item()
            low, high = controller._scalar_limits
            if c_low == -math.inf and c_high == math.inf:  # the correction's clip changes nothing
                for _ in range(iterations):
                    u = u + (drive - coupling * u)
                    u = low if low > u else u
                    u = high if high < u else u
            else:
                for _ in range(iterations):
                    correction = drive - coupling * u
                    correction = c_low if c_low > correction else correction
                    correction = c_high if c_high < correction else correction
                    u = u + correction
                    u = low if low > u else u
                    u = high if high < u else u
            if not math.isfinite(u * u):
                return None  # the general path raises its FloatingPointError
        agent._observed = state
        command = agent.last_command_ = _array([u])
        values = self._values
        if values is None:
            return self.actions.to_action(command)
        if not math.isfinite(u):
            return self.actions.to_action(command)  # numpy's argmin on NaN, exactly
        best, nearest = 0, abs(values[0] - u)
        for index in range(1, len(values)):
            distance = abs(values[index] - u)
            if distance < nearest:
                best, nearest = index, distance
        return best + self._start

    def observe(self, observation, action, next_observation):
        """Learn from one transition as ``model.learn`` does; return the error, or None (general path)."""
        values = self._values
        if values is not None:
            index = action - self._start if type(action) is int else -1
            if not 0 <= index < len(values):
                return None
            u = values[index]
        else:
            if type(action) is not np.ndarray:
                return None
            command = self.actions.to_command(action)
            u = command.item()
            if not u * u <= _MAX_SQUARED_NORM:
                return None
        state = self._vector(observation)
        next_state = self._vector(next_observation)
        if state is None or next_state is None:
            return None
        model = self.model
        inverse = model.mossy_._inverse_scale
        if inverse is not self._inverse:
            self._scale(inverse)
        raw = self._raw
        n = self._shape[0]
        raw[:n] = state
        raw[n] = u
        z = raw * self._inverse_encoded
        target = next_state - state if model.residual else next_state
        weights = model.weights_
        error = target - _dot(weights, z)
        try:
            model.weights_ = rls_update(weights, model.covariance_, z, error, model.forgetting,
                                        model._max_trace)
        except InputTooLarge:
            return None  # nothing was changed; the general path raises the model's ValueError
        model.n_learned_ += 1
        return error
