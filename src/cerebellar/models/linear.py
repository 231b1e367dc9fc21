"""Linear online forward models: recursive least squares and normalised LMS.

These are the reference learners that sit beside the cerebellar substrate. RLS
is the Kalman-like view: it keeps a covariance of its weight estimate and so
learns a linear plant in a handful of steps; NLMS is the cheap gradient rule a
single synapse could implement.
"""

from __future__ import annotations

import math

import numpy as np

from .._validation import check_in_range, check_positive
from .base import _NON_FINITE, InputTooLarge, OnlineForwardModel, check_covariance


def rls_update(weights, covariance, z, error, forgetting: float, max_trace: float) -> np.ndarray:
    """Apply one recursive-least-squares step: return the new weights, update ``covariance`` in place.

    ``weights + error k^T`` with gain ``k = P z / (forgetting + z^T P z)``, and
    ``P <- (P - P z z^T P / (forgetting + z^T P z)) / forgetting``, its trace
    capped at ``max_trace``. Shared by :class:`RLS` and the deep-nuclear
    readout of :class:`~cerebellar.models.Cerebellum`.

    Nothing is changed, and :class:`~cerebellar.models.base.InputTooLarge` is
    raised, when the step would not be finite (or the weights' norm would
    exceed about 1e154, so large that predictions overflow). Checking the
    denominator, the size of the rank-one term ``a a^T`` and the new weights is
    enough: for a positive semi-definite ``P`` of trace at most ``max_trace``
    (what learning keeps and loading checks), ``|a|^2 <= trace(P) / forgetting``,
    so every entry of the new covariance is at most about ``3 max_trace /
    forgetting``, which :func:`check_trace_cap` keeps finite. Callers must call
    this last, after their own checks, since the covariance is changed in place.
    """
    # np.dot rather than @: the same products and sums, with less per-call overhead on small arrays.
    pz = np.dot(covariance, z)
    denominator = forgetting + float(np.dot(z, pz))
    if not 0.0 < denominator < math.inf:
        raise InputTooLarge(_NON_FINITE)
    inverse_denominator = 1.0 / denominator
    new_weights = weights + error[:, None] * (pz * inverse_denominator)
    # Forming the update as (c pz)(c pz)^T, rather than gain pz^T, keeps P exactly
    # symmetric: a_i * a_j == a_j * a_i in floating point, so rounding cannot make
    # P drift asymmetric and lose definiteness.
    pz *= math.sqrt(inverse_denominator / forgetting)
    # vdot: one cheap pass that does not warn on overflow (weights beyond 1e154 count as overflowing).
    if not (np.vdot(pz, pz) <= 2.0 * max_trace / forgetting
            and math.isfinite(np.vdot(new_weights, new_weights))):
        raise InputTooLarge(_NON_FINITE)
    covariance *= 1.0 / forgetting
    covariance -= pz[:, None] * pz
    trace = covariance.trace()
    if trace > max_trace:
        # Wind-up guard: under forgetting with poor excitation P grows without bound.
        covariance *= max_trace / trace
    return new_weights


def check_trace_cap(max_trace: float, forgetting: float, name: str) -> None:
    """Raise ValueError naming ``name`` unless the covariance bound of :func:`rls_update` is finite."""
    if not 4.0 * max_trace / forgetting <= 1e300:
        raise ValueError(f"{name} is too large: the covariance cap {max_trace:.3g} divided by the "
                         f"forgetting factor {forgetting} must stay far below the float64 range")


class AffinePredictor:
    """A prediction that is affine in the command: ``f(u) = offset + slope @ u``.

    Returned by linear models' ``predictor``; the controller can then run the
    refinement as an affine iteration instead of calling the model K times.
    """

    __slots__ = ("offset", "slope")

    def __init__(self, offset: np.ndarray, slope: np.ndarray):
        self.offset = offset
        self.slope = slope

    def __call__(self, command: np.ndarray) -> np.ndarray:
        """Return the predicted next state for ``command``."""
        return self.offset + self.slope @ command


def _linear_predictor(model, state, scaled_state, command_inverse_scale):
    """Predictor for ``change = W z``: the state's share of ``W z`` is computed once."""
    n_state = scaled_state.shape[0]
    weights = model.weights_
    offset = weights[:, :n_state] @ scaled_state + weights[:, -1]
    if model.residual:
        offset += state
    return AffinePredictor(offset, weights[:, n_state:-1] * command_inverse_scale)


class _LinearModel(OnlineForwardModel):
    """A linear readout ``change = W z``: prediction, batch prediction and predictor."""

    def _predict_encoded(self, z):
        return self.weights_ @ z

    def _predict_encoded_many(self, z):
        return z @ self.weights_.T

    _predictor = _linear_predictor

    def _state_arrays(self):
        return {"weights": self.weights_}

    def _set_state_arrays(self, arrays):
        self.weights_ = np.array(arrays["weights"], dtype=np.float64)


class RLS(_LinearModel):
    """Recursive least squares with exponential forgetting.

    Predicts the change of state as ``W @ z`` with ``z = [state, command, 1]``
    (scaled only when ``input_scale`` is given: RLS does not need it). With
    ``forgetting=1`` the weights equal the ridge solution
    ``(Z^T Z + I / initial_covariance)^-1 Z^T Y`` on all data seen, which tends
    to ordinary least squares as data accumulate.

    Numerical guards, so that the covariance stays usable over millions of steps:
    it is symmetrised after every update, and its trace is capped at
    ``max_covariance * n_inputs`` (under forgetting with poor excitation the
    covariance would otherwise grow without bound: "wind-up").

    Parameters
    ----------
    forgetting : float
        Forgetting factor in (0, 1]; the memory is about ``1 / (1 - forgetting)`` steps.
    initial_covariance : float
        Initial covariance ``P = initial_covariance * I``; large means a weak prior.
    max_covariance : float
        Cap on the mean diagonal of the covariance.
    input_scale : array_like or None
        Optional fixed scale of the state and command channels.
    residual : bool
        Learn the change of state (default) rather than the next state itself.
    seed : int or None
        Unused by RLS (it is deterministic); accepted so all models share one signature.
    """

    _param_names = (
        "forgetting", "initial_covariance", "max_covariance", "input_scale", "residual", "seed",
    )
    _estimates_scale = False

    def __init__(
        self,
        forgetting: float = 0.999,
        initial_covariance: float = 100.0,
        max_covariance: float = 1e4,
        input_scale=None,
        residual: bool = True,
        seed: int | None = None,
    ):
        self.forgetting = forgetting
        self.initial_covariance = initial_covariance
        self.max_covariance = max_covariance
        self.input_scale = input_scale
        self.residual = residual
        self.seed = seed

    def _check_params(self):
        super()._check_params()
        check_in_range(self.forgetting, "forgetting", 0.0, 1.0)
        check_positive(self.initial_covariance, "initial_covariance")
        check_positive(self.max_covariance, "max_covariance")
        if self.initial_covariance > self.max_covariance:
            raise ValueError(
                f"initial_covariance ({self.initial_covariance}) must not exceed max_covariance "
                f"({self.max_covariance}): the cap would rescale the prior on the first step"
            )

    def _initialise(self, n_inputs, n_outputs, rng):
        self._max_trace = self.max_covariance * n_inputs
        check_trace_cap(self._max_trace, self.forgetting, "max_covariance")
        self.weights_ = np.zeros((n_outputs, n_inputs))
        self.covariance_ = np.eye(n_inputs) * self.initial_covariance

    def _learn_encoded(self, z, target):
        error = target - self.weights_ @ z
        self.weights_ = rls_update(self.weights_, self.covariance_, z, error, self.forgetting,
                                   self._max_trace)
        return error

    def _state_arrays(self):
        return {**super()._state_arrays(), "covariance": self.covariance_}

    def _check_state_values(self, arrays):
        super()._check_state_values(arrays)
        check_covariance(arrays, "covariance", self._max_trace)

    def _set_state_arrays(self, arrays):
        super()._set_state_arrays(arrays)
        self.covariance_ = np.array(arrays["covariance"], dtype=np.float64)


class NLMS(_LinearModel):
    """Normalised least mean squares: ``W += rate * e z^T / (eps + |z|^2)``.

    Parameters
    ----------
    rate : float
        Step size in (0, 2) (2 itself would flip the error's sign every step);
        each update removes this fraction of the error on the current input.
    epsilon : float
        Regulariser of the normalisation.
    input_scale : array_like or None
        Fixed scale of the state and command channels, or ``None`` to estimate it
        online. NLMS converges slowly on badly scaled inputs, so this matters.
    residual : bool
        Learn the change of state (default) rather than the next state itself.
    seed : int or None
        Unused (NLMS is deterministic); accepted so all models share one signature.
    """

    _param_names = ("rate", "epsilon", "input_scale", "residual", "seed")

    def __init__(
        self,
        rate: float = 0.5,
        epsilon: float = 1e-3,
        input_scale=None,
        residual: bool = True,
        seed: int | None = None,
    ):
        self.rate = rate
        self.epsilon = epsilon
        self.input_scale = input_scale
        self.residual = residual
        self.seed = seed

    def _check_params(self):
        super()._check_params()
        check_in_range(self.rate, "rate", 0.0, 2.0, include_high=False)
        check_positive(self.epsilon, "epsilon")

    def _initialise(self, n_inputs, n_outputs, rng):
        self.weights_ = np.zeros((n_outputs, n_inputs))

    def _learn_encoded(self, z, target):
        error = target - self.weights_ @ z
        power = z @ z
        weights = self.weights_ + error[:, None] * (z * (self.rate / (self.epsilon + power)))
        if not (math.isfinite(power) and math.isfinite(np.vdot(weights, weights))):
            raise InputTooLarge(_NON_FINITE)
        self.weights_ = weights
        return error
