"""Internal feedback that filters noisy senses and finds its own delay.

Two pieces, used by :class:`KalmanPredictor` and testable on their own:

- :class:`InnovationGain` estimates, from the model's one-step residuals on
  the raw observations alone (no noise level given), the observation noise
  ``R`` and the process noise ``Q`` (which includes the model's own error),
  and from them the steady-state Kalman gain of the filter ``x = x_pred + K
  (y - x_pred)`` for a fully observed state (``C = I``).
- :class:`DelayEstimator` finds the sensory delay: which lag of the efference
  copies best explains the observed changes.

Method of :class:`InnovationGain` (covariance matching from residual
autocovariances, in the spirit of Mehra 1970 and of the autocovariance
least-squares method of Odelson, Rajamani & Rawlings 2006, here in the closed
form that a fully observed state allows). With ``y_t = x_t + v_t`` and
``x_{t+1} = A x_t + B u_t + w_t`` (white ``v ~ (0, R)``, ``w ~ (0, Q)``), the
residual of a one-step prediction from the *raw* previous observation,
``e_t = y_t - f(y_{t-1}, u_{t-1}) = w_{t-1} + v_t - A v_{t-1}``, has

- lag-0 covariance ``G0 = Q + R + A R A'`` and
- lag-1 covariance ``G1 = E[e_t e_{t-1}'] = -A R``,

so ``R = -A^{-1} G1`` (taken diagonal, independent sensors: each ``R_jj`` by
least squares on column ``j``, clipped at 0) and ``Q = G0 - R - A R A'``
(projected onto the positive semi-definite cone). ``A`` is the model's own
Jacobian (finite differences), averaged along the states met. The gain
comes from the filter Riccati recursion ``P <- A (P - P S^-1 P) A' + Q``,
``S = P + R``, run a few steps at each update from the last ``P`` (so it
settles on the solution of the discrete algebraic Riccati equation), and the
filtered state is written ``y - R S^{-1} (y - x_pred)``, which is exactly the
observation when ``R = 0``: on noiseless senses the filter is the Smith
predictor. A model error that persists from step to step (positively
autocorrelated) makes ``G1`` less negative, so ``R`` is under- rather than
over-estimated: an imperfect model errs towards trusting the senses.

Method of :class:`DelayEstimator`: for each candidate delay ``k``, a linear
least-squares regression (with exponential forgetting) of the change of the
observed change, ``dy_t - dy_{t-1}`` with ``dy_t = y_t - y_{t-1}``, on the
previous change ``dy_{t-1}`` and the change of the command sent ``k + 1``
steps before (``u_{t-1-k} - u_{t-2-k}``: if the senses lag ``k`` steps, the
command that last pushed what they show). Differencing removes the state's
slow part, so that few regressors are needed and a few dozen steps decide.
The delay is the ``k`` whose regression leaves the least residual (summed over
channels, each normalised by its total variance): the classic choice of the
dead time of an ARX model by its fit (Ljung 1999, *System Identification*).
Miall, Weir, Wolpert & Stein (1993, *J. Motor Behavior* 25:203) pair the
forward model with such a model of the loop delay.

References: Kalman (1960); Mehra (1970), *IEEE Trans. Automatic Control*
15:175; Odelson, Rajamani & Rawlings (2006), *Automatica* 42:303; Mohamed &
Schwarz (1999), *J. Geodesy* 73:193 (innovation-based adaptive estimation);
see ``docs/references.md``.
"""

from __future__ import annotations

from collections import deque

import numpy as np

from .internal_feedback import SmithPredictor, check_delay_steps, fold_delay_error, roll_forward

#: Largest delay ``delay_steps="auto"`` considers by default (500 ms at 50 Hz).
MAX_DELAY_STEPS = 25


def _check_window(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not np.isfinite(value) or value < 1:
        raise ValueError(f"{name} must be a number >= 1, got {value!r}")
    return float(value)


def _check_count(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def _jacobian(model, state: np.ndarray, command: np.ndarray, step: float) -> np.ndarray:
    """Finite-difference Jacobian of ``model.predict`` in the state (central differences)."""
    n = state.size
    jac = np.empty((n, n))
    for j in range(n):
        delta = np.zeros(n)
        delta[j] = step * max(1.0, abs(state[j]))
        jac[:, j] = (np.asarray(model.predict(state + delta, command), dtype=float)
                     - np.asarray(model.predict(state - delta, command), dtype=float)) / (2 * delta[j])
    return jac


class InnovationGain:
    """The steady-state Kalman gain of a fully observed state, estimated from residuals.

    See the module docstring for the method. Feed it the raw one-step
    residuals with :meth:`update` and the model's Jacobian with
    :meth:`update_dynamics`; :meth:`shrink` gives ``R S^{-1} nu``, the part
    of an innovation ``nu`` the filter does not believe.

    Parameters
    ----------
    n_state : int
        Number of observation channels.
    window : float
        Memory of the residual statistics in steps (exponential forgetting
        with weight ``max(1/count, 1/window)``).
    min_samples : int
        Residual pairs needed before the gain departs from trusting the
        observation (``K = I``).
    riccati_steps : int
        Riccati iterations per :meth:`refresh`.

    Attributes
    ----------
    R_, Q_ : numpy.ndarray
        Estimated observation and process noise covariances.
    P_ : numpy.ndarray
        Prior (predicted) state covariance of the filter.
    A_ : numpy.ndarray or None
        Averaged model Jacobian.
    count_ : int
        Residual pairs seen.
    """

    def __init__(self, n_state: int, window: float = 2000.0, min_samples: int = 20,
                 riccati_steps: int = 20):
        self.n_state = _check_count(n_state, "n_state")
        self.window = _check_window(window, "window")
        self.min_samples = _check_count(min_samples, "min_samples")
        self.riccati_steps = _check_count(riccati_steps, "riccati_steps")
        n = self.n_state
        self.count_ = 0
        self.jacobians_ = 0
        self.mean_ = np.zeros(n)
        self.G0_ = np.zeros((n, n))
        self.G1_ = np.zeros((n, n))
        self.A_ = None
        self.R_ = np.zeros((n, n))
        self.Q_ = np.zeros((n, n))
        self.P_ = None
        self._shrink = None
        self._previous = None

    def update(self, residual: np.ndarray) -> None:
        """Add one raw one-step residual (consecutive to the last unless :meth:`break_chain`)."""
        residual = np.asarray(residual, dtype=float)
        self.count_ += 1
        weight = max(1.0 / self.count_, 1.0 / self.window)
        self.mean_ += weight * (residual - self.mean_)
        centred = residual - self.mean_
        self.G0_ += weight * (np.outer(centred, centred) - self.G0_)
        if self._previous is not None:
            self.G1_ += weight * (np.outer(centred, self._previous) - self.G1_)
        self._previous = centred

    def break_chain(self) -> None:
        """Mark that the next residual does not follow the last one (a new episode)."""
        self._previous = None

    def update_dynamics(self, jacobian: np.ndarray) -> None:
        """Fold one model Jacobian into the running average ``A_``."""
        self.jacobians_ += 1
        weight = max(1.0 / self.jacobians_, 20.0 / self.window)
        self.A_ = jacobian.copy() if self.A_ is None else self.A_ + weight * (jacobian - self.A_)

    def refresh(self) -> None:
        """Re-estimate ``R_`` and ``Q_`` and step the Riccati recursion towards the new gain."""
        if self.count_ < self.min_samples or self.A_ is None:
            self._shrink = None
            return
        A = self.A_
        columns = np.einsum("ij,ij->j", A, A)
        r = np.where(columns > 0, -np.einsum("ij,ij->j", A, self.G1_) / np.where(columns > 0, columns, 1.0),
                     0.0)
        r = np.clip(r, 0.0, np.diag(self.G0_))  # no channel is noisier than its whole residual
        self.R_ = np.diag(r)
        Q = self.G0_ - self.R_ - A @ self.R_ @ A.T
        values, vectors = np.linalg.eigh(0.5 * (Q + Q.T))
        self.Q_ = (vectors * np.clip(values, 0.0, None)) @ vectors.T
        if not np.any(r > 0):
            self._shrink = None  # noiseless senses: trust them (the Smith predictor)
            self.P_ = self.Q_.copy()
            return
        P = self.Q_ + self.R_ if self.P_ is None else self.P_
        for _ in range(self.riccati_steps):
            S = P + self.R_
            P_post = P - P @ np.linalg.pinv(S) @ P
            P = A @ P_post @ A.T + self.Q_
            P = 0.5 * (P + P.T)
        self.P_ = P
        self._shrink = self.R_ @ np.linalg.pinv(P + self.R_)

    @property
    def gain_(self) -> np.ndarray:
        """The current Kalman gain ``K = P S^{-1} = I - R S^{-1}`` (identity until estimated)."""
        return np.eye(self.n_state) - (self._shrink if self._shrink is not None else 0.0)

    def shrink(self, innovation: np.ndarray) -> np.ndarray | None:
        """Return ``R S^{-1} innovation`` (what the filter removes), or None while it trusts the senses."""
        return None if self._shrink is None else self._shrink @ innovation

    def reset(self) -> None:
        """Start a new episode: the statistics are kept, the residual chain is broken."""
        self.break_chain()


class DelayEstimator:
    """Estimate the sensory delay from which lag of the commands best explains the observed changes.

    See the module docstring for the method.

    Parameters
    ----------
    candidates : sequence of int
        Delays (steps) considered.
    initial : int
        The delay assumed until ``min_samples`` changes have been seen.
    n_state, n_command : int
        Sizes of the observation and the command.
    window : float
        Memory of the regression statistics in steps.
    min_samples : int
        Changes seen before the estimate departs from ``initial``.
    ridge : float
        Regularisation of each regression (relative to its Gram matrix's scale).

    Attributes
    ----------
    delay_steps_ : int
        The current estimate.
    scores_ : numpy.ndarray or None
        Normalised residual of each candidate at the last update (lower is better).
    count_ : int
        Changes seen.
    """

    def __init__(self, candidates, initial: int, n_state: int, n_command: int, window: float = 3000.0,
                 min_samples: int = 10, ridge: float = 1e-6):
        self.candidates = np.array(sorted({check_delay_steps(k) for k in candidates}), dtype=int)
        if self.candidates.size == 0:
            raise ValueError("DelayEstimator needs at least one candidate delay")
        self.initial = check_delay_steps(initial)
        if self.initial not in self.candidates:
            raise ValueError(f"the initial delay {initial} is not among the candidates "
                             f"{self.candidates.tolist()}")
        self.n_state = _check_count(n_state, "n_state")
        self.n_command = _check_count(n_command, "n_command")
        self.window = _check_window(window, "window")
        self.min_samples = _check_count(min_samples, "min_samples")
        self.ridge = float(ridge)
        p = self.n_state + self.n_command
        k = self.candidates.size
        self._last_change = None
        self.count_ = 0
        self.gram_ = np.zeros((k, p, p))
        self.cross_ = np.zeros((k, p, self.n_state))
        self.change_square_ = np.zeros(self.n_state)
        self.change_mean_ = np.zeros(self.n_state)
        self.delay_steps_ = self.initial
        self.scores_ = None

    @property
    def max_delay_steps(self) -> int:
        """The largest candidate."""
        return int(self.candidates[-1])

    def update(self, previous: np.ndarray, observation: np.ndarray, sent) -> None:
        """Add one observed change; ``sent`` holds the commands sent so far, newest last.

        A lag longer than the episode so far stands for no command (zeros); a
        change of exactly zero (the senses still repeating the initial state,
        before the first delayed change arrives) is not counted.
        """
        change = observation - previous
        last, self._last_change = self._last_change, change
        if len(sent) < 2 or not np.any(change) or last is None or not np.any(last):
            return
        nothing = np.zeros_like(np.asarray(sent[-1], dtype=float))

        def command(k):
            return np.asarray(sent[-(k + 1)], dtype=float) if k < len(sent) else nothing

        # The change of the change against the change of the command k + 1 steps back.
        target = change - last
        steps = np.stack([command(k) - command(k + 1) for k in self.candidates])  # (K, m)
        shared = np.broadcast_to(last, (self.candidates.size, last.size))
        regressors = np.concatenate([shared, steps], axis=1)
        self.count_ += 1
        weight = max(1.0 / self.count_, 1.0 / self.window)
        self.gram_ += weight * (np.einsum("ki,kj->kij", regressors, regressors) - self.gram_)
        self.cross_ += weight * (np.einsum("ki,j->kij", regressors, target) - self.cross_)
        self.change_square_ += weight * (target**2 - self.change_square_)
        self.change_mean_ += weight * (target - self.change_mean_)

    def reset(self) -> None:
        """Start a new episode (the statistics are kept)."""
        self._last_change = None

    def refresh(self) -> int:
        """Recompute the scores and the estimate; return the estimate."""
        if self.count_ < self.min_samples:
            return self.delay_steps_
        p = self.gram_.shape[1]
        scale = np.trace(self.gram_, axis1=1, axis2=2)[:, None, None] / p
        gram = self.gram_ + (self.ridge * scale + 1e-12) * np.eye(p)
        coefficients = np.linalg.solve(gram, self.cross_)  # (K, p, n)
        explained = np.einsum("kpn,kpn->kn", coefficients, self.cross_)
        residual = self.change_square_ - explained  # mean squared residual per channel
        total = self.change_square_ - self.change_mean_**2
        active = total > 1e-12 * max(1.0, float(np.max(total)))
        self.scores_ = np.sum(residual[:, active] / total[active], axis=1)
        self.delay_steps_ = int(self.candidates[int(np.argmin(self.scores_))])
        return self.delay_steps_


class KalmanPredictor:
    """Internal feedback that filters each delayed observation and may estimate the delay.

    Like :class:`~cerebellar.agent.SmithPredictor`, it runs the forward model
    from the delayed state through the efference copies of the commands sent
    since; but the delayed state is first *filtered*: the model's prediction of
    it (from the previous filtered state and the command behind the
    transition) is fused with the noisy observation by the gain of an
    :class:`InnovationGain`, estimated online from the residuals (no noise
    level given). With noiseless senses the gain trusts the observation and
    the estimate is the Smith predictor's.

    With a :class:`DelayEstimator` (``delay_candidates``), the delay it
    compensates is its own online estimate ``delay_steps_`` rather than the
    one it was told, which then only serves until the estimate is made.

    Parameters
    ----------
    delay_steps : int
        The sensory delay told (or the initial guess with ``delay_candidates``).
    n_state, n_command : int
        Sizes of the observation and the command.
    filtering : bool
        Fuse the observation with the prediction (the Kalman form); False
        keeps the raw delayed observation (the Smith predictor, e.g. with only
        the delay estimated).
    delay_candidates : sequence of int, optional
        Delays to choose from online; None trusts ``delay_steps``.
    correction, corrected_channels : optional
        The Smith predictor's bias correction (see
        :class:`~cerebellar.agent.SmithPredictor`).
    window : float
        Memory (steps) of the gain's and the delay's statistics.
    update_every : int
        Steps between re-estimates of the model Jacobian, the gain and the delay.
    learn_when_known : bool
        With ``delay_candidates``: return no command behind a transition (so
        the model does not learn it) until the delay has been estimated once.

    Attributes
    ----------
    delay_steps_ : int
        The delay compensated now.
    gain : InnovationGain or None
        The gain estimator (None without filtering).
    delay_estimator : DelayEstimator or None
        The delay estimator (None with a trusted delay).
    estimate_, delay_error_, filtered_ : numpy.ndarray or None
        The last estimate of the present, the model's latest error across the
        delay, and the last filtered delayed state.
    """

    def __init__(self, delay_steps: int, n_state: int, n_command: int, filtering: bool = True,
                 delay_candidates=None, correction: float = 0.0, corrected_channels=None,
                 window: float = 2000.0, update_every: int = 5, learn_when_known: bool = True):
        self.told_delay_steps = check_delay_steps(delay_steps)
        self.n_state = _check_count(n_state, "n_state")
        self.n_command = _check_count(n_command, "n_command")
        if not (isinstance(correction, (int, float)) and 0.0 <= correction <= 1.0):
            raise ValueError(f"correction must be a number in [0, 1], got {correction!r}")
        self.correction = float(correction)
        self.update_every = _check_count(update_every, "update_every")
        self.filtering = bool(filtering)
        self.learn_when_known = bool(learn_when_known)
        self._corrected = np.zeros(self.n_state, dtype=bool)
        self._corrected[list(range(self.n_state)) if corrected_channels is None
                        else list(corrected_channels)] = True
        self.gain = InnovationGain(self.n_state, window=window) if self.filtering else None
        self.delay_estimator = (None if delay_candidates is None else
                                DelayEstimator(delay_candidates, self.told_delay_steps, self.n_state,
                                               self.n_command, window=window))
        self.delay_steps_ = self.told_delay_steps
        longest = self.delay_steps_ if self.delay_estimator is None else self.delay_estimator.max_delay_steps
        self._sent = deque(maxlen=longest + 1)
        self._estimates = deque(maxlen=max(1, longest))
        self._steps = 0
        self.correction_ = np.zeros(self.n_state)
        self.estimate_ = None
        self.delay_error_ = None
        self.filtered_ = None
        self._previous = None

    @property
    def delay_steps(self) -> int:
        """int: the delay compensated now (the estimate, with a delay estimator)."""
        return self.delay_steps_

    @property
    def max_delay_steps(self) -> int:
        """int: the largest delay it can compensate."""
        return self._sent.maxlen - 1

    def _delay_known(self) -> bool:
        return self.delay_estimator is None or self.delay_estimator.count_ >= self.delay_estimator.min_samples

    def estimate(self, model, observation: np.ndarray) -> np.ndarray:
        """Return the estimate of the present from the (validated) delayed ``observation``."""
        sent = self._sent
        self._steps += 1
        if self._previous is not None and self.delay_estimator is not None:
            self.delay_estimator.update(self._previous, observation, sent)
        if self._steps % self.update_every == 0 and self.delay_estimator is not None:
            self.delay_steps_ = self.delay_estimator.refresh()
        d = self.delay_steps_
        filtered = observation
        if self.filtering and self._previous is not None and len(sent) >= d + 1 and self._delay_known():
            behind = sent[-(d + 1)]
            self.gain.update(observation - np.asarray(model.predict(self._previous, behind), dtype=float))
            if self._steps % self.update_every == 0:
                self.gain.update_dynamics(_jacobian(model, self._previous, behind, 1e-4))
                self.gain.refresh()
            prediction = np.asarray(model.predict(self.filtered_, behind), dtype=float)
            removed = self.gain.shrink(observation - prediction)
            if removed is not None:
                filtered = observation - removed
        self._previous = observation
        self.filtered_ = filtered
        estimate = roll_forward(model, filtered, list(sent)[-d:]) if d else filtered
        if d and len(self._estimates) >= d:
            self.delay_error_ = observation - self._estimates[-d]
            if self.correction:
                fold_delay_error(self.correction_, self.correction, self._corrected, self.delay_error_)
        self._estimates.append(estimate)
        if self.correction:
            estimate = estimate + self.correction_
        self.estimate_ = estimate
        return estimate

    def record(self, command: np.ndarray):
        """Keep the efference copy of ``command``; return the command behind the delayed transition.

        None while no transition can be seen yet (the first ``d`` steps of an
        episode) and, with ``learn_when_known``, while the delay is unknown.
        """
        self._sent.append(command)
        d = self.delay_steps_
        if len(self._sent) <= d or (self.learn_when_known and not self._delay_known()):
            return None
        return self._sent[-(d + 1)]

    def reset(self) -> None:
        """Start a new episode: forget the commands and estimates; the gain and delay statistics are kept."""
        self._sent.clear()
        self._estimates.clear()
        self._steps = 0
        self._previous = None
        self.correction_ = np.zeros(self.n_state)
        self.estimate_ = None
        self.delay_error_ = None
        self.filtered_ = None
        if self.gain is not None:
            self.gain.reset()
        if self.delay_estimator is not None:  # what the episode showed counts from the next one on
            self.delay_estimator.reset()
            self.delay_steps_ = self.delay_estimator.refresh()


#: The estimators :meth:`~cerebellar.agent.Agent.for_env` builds.
ESTIMATORS = ("smith", "kalman")
#: Steps either side of a told delay that ``estimator="kalman"`` checks online.
DELAY_SEARCH = 2


def make_internal_feedback(estimator: str, delay_steps, n_state: int, n_command: int, correction: float = 0.0,
                           corrected_channels=None, max_delay_steps: int | None = None):
    """Return the internal feedback for these options (None for no delay with a trusted delay).

    Parameters
    ----------
    estimator : {"smith", "kalman"}
        The Smith predictor on the raw delayed observation, or the
        :class:`KalmanPredictor` that filters it (and checks the delays within
        :data:`DELAY_SEARCH` steps of a told one).
    delay_steps : int or "auto"
        The delay told, or ``"auto"`` to estimate it from 0 to ``max_delay_steps``.
    n_state, n_command : int
        Sizes of the observation and the command.
    correction, corrected_channels : optional
        The Smith predictor's bias correction.
    max_delay_steps : int, optional
        The largest delay considered (default :data:`MAX_DELAY_STEPS`; with a
        told delay, it caps the search of ``"kalman"``).

    Raises
    ------
    ValueError
        For an unknown estimator, a bad delay or a bad maximum.
    """
    if estimator not in ESTIMATORS:
        raise ValueError(f"unknown estimator {estimator!r}; choose from {', '.join(ESTIMATORS)}")
    if max_delay_steps is not None:
        max_delay_steps = check_delay_steps(max_delay_steps)
    auto = isinstance(delay_steps, str)
    if auto and delay_steps != "auto":
        raise ValueError(f'delay_steps must be a non-negative integer or "auto", got {delay_steps!r}')
    if auto:
        limit = MAX_DELAY_STEPS if max_delay_steps is None else max_delay_steps
        if limit < 1:
            raise ValueError(f'delay_steps="auto" needs max_delay_steps >= 1, got {max_delay_steps!r}')
        return KalmanPredictor(0, n_state, n_command, filtering=estimator == "kalman",
                               delay_candidates=range(limit + 1), correction=correction,
                               corrected_channels=corrected_channels)
    delay_steps = check_delay_steps(delay_steps)
    if max_delay_steps is not None and delay_steps > max_delay_steps:
        raise ValueError(f"delay_steps {delay_steps} exceeds max_delay_steps {max_delay_steps}")
    if estimator == "smith":
        return SmithPredictor(delay_steps, n_state, correction, corrected_channels) if delay_steps else None
    top = delay_steps + DELAY_SEARCH
    if max_delay_steps is not None:
        top = min(top, max_delay_steps)
    # The told delay is a good first guess: the model learns with it until the estimate is made.
    return KalmanPredictor(delay_steps, n_state, n_command, filtering=True,
                           delay_candidates=range(max(0, delay_steps - DELAY_SEARCH), top + 1),
                           correction=correction, corrected_channels=corrected_channels,
                           learn_when_known=False)
