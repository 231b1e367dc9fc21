"""Delay cancelling by the short-term predictor: emit the delayed senses as they are now.

The second theory of the cerebellum in the source material: it learns to emit
each signal it watches a fraction of a second before the signal arrives,
trained when the real signal comes in. Here the signals are the delayed senses
and the efference copy of the commands, and the advance is the delay, so that
the senses it emits are the present. Unlike the Smith predictor
(:class:`~cerebellar.agent.SmithPredictor`), nothing here models the physics
one step at a time: the present is read off a learned linear readout of the
recent context.
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np

from .._validation import as_finite_vector, check_in_range, check_integer
from ..predictors import ShortTermPredictor
from .internal_feedback import check_delay_steps


class ShortTermAnticipation:
    """Estimate the present from delayed senses with a :class:`~cerebellar.predictors.ShortTermPredictor`.

    The predictor watches ``n_state + delay_steps * n_command`` channels: the
    delayed observation and the efference copies of the last ``delay_steps``
    commands, newest first (a tapped delay line). Every channel samples every
    other one, so the context of each observation channel holds the delayed
    observation and all the commands sent since it was taken, which is what
    the present depends on (for a linear plant, exactly:
    ``s(t) = A^d s(t - d) + sum_k A^(k - 1) B u(t - k)``). The commands enter
    as channels of their own rather than as lags of one command channel
    (``sampled_lags``), which would also bring in lags of every observation
    channel: redundant, highly correlated features that slow the predictor's
    normalised LMS readout. Its advance is the delay: the
    prediction it makes now of the observation channels ``delay_steps`` ahead
    is the observation of the present, which arrives ``delay_steps`` later and
    trains it then.

    Early in the first episode the predictor has learned nothing, so the
    estimate falls back to the raw delayed observation until the prediction has
    been clearly closer to the truth than the raw observation would have been.
    Trust is measured as :class:`~cerebellar.control.TrustGated` measures it
    (a mean over the last ``window`` checked estimates of the largest absolute
    error over ``trust_channels``, divided by ``state_scale``), for both the
    prediction and the raw observation; ``trust_`` is 1 when the prediction's
    error is at most ``low`` times the raw observation's, 0 at ``high`` times
    or above, linear between, and the estimate is ``(1 - trust_) * raw +
    trust_ * predicted``. Comparing against the raw observation, not against
    fixed thresholds, needs no constant per task, and it leans on the raw
    observation exactly while the raw observation is the better guess (a body at
    rest, or a predictor that has not learned yet). Trust is kept across
    episodes (it is in the predictor, not in an episode).

    Parameters
    ----------
    delay_steps : int
        The sensory delay ``d`` in steps (positive); the predictor's advance.
    n_state : int
        Number of observation channels.
    n_command : int
        Number of command channels (the efference copy).
    state_scale : array_like, optional
        Typical magnitude of each observation channel, which makes the errors
        of different channels comparable (ones by default).
    trust_channels : sequence of int, optional
        Observation channels whose errors measure trust (all by default);
        leave out exogenous channels such as targets, whose jumps nothing can predict.
    low, high : float
        Ratios of the prediction's error to the raw observation's at which
        trust is full and nil, ``0 <= low < high``.
    window : int
        Checked estimates averaged for the trust.
    seed : int or None
        Seeds the predictor.
    **predictor_params
        Hyperparameters of the :class:`~cerebellar.predictors.ShortTermPredictor`
        (``history``, ``learning_rate``, ...); ``sources`` defaults to every
        other channel and ``sampled_lags`` to 1.

    Attributes
    ----------
    predictor_ : ShortTermPredictor
        The predictor (it learns inside :meth:`estimate`).
    estimate_ : numpy.ndarray or None
        The latest estimate of the present.
    predicted_ : numpy.ndarray or None
        The predictor's latest output for the observation channels.
    delay_error_ : numpy.ndarray or None
        The latest checked error of the predictor's estimate (observation minus
        the prediction made ``d`` steps earlier).
    trust_ : float
        How much the estimate relies on the predictor.
    """

    def __init__(self, delay_steps: int, n_state: int, n_command: int, state_scale=None, trust_channels=None,
                 low: float = 0.5, high: float = 1.0, window: int = 20, seed: int | None = 0,
                 **predictor_params):
        self.delay_steps = check_delay_steps(delay_steps)
        if self.delay_steps < 1:
            raise ValueError(f"delay cancelling needs a delay of at least one step, got {delay_steps}")
        self.n_state = check_integer(n_state, "n_state", minimum=1)
        self.n_command = check_integer(n_command, "n_command", minimum=1)
        check_in_range(low, "low", 0.0, math.inf)
        check_in_range(high, "high", 0.0, math.inf)
        if not low < high:
            raise ValueError(f"trust ratios must have low < high, got {low}, {high}")
        self.low, self.high = float(low), float(high)
        self.window = check_integer(window, "window", minimum=1)
        self.state_scale = (np.ones(self.n_state) if state_scale is None
                            else as_finite_vector(state_scale, "state_scale", self.n_state))
        if np.any(self.state_scale <= 0):
            raise ValueError(f"state_scale must be positive, got {self.state_scale}")
        self.trust_channels = (list(range(self.n_state)) if trust_channels is None
                               else [int(c) for c in trust_channels])
        n = self.n_state + self.delay_steps * self.n_command
        if predictor_params.get("sources") is None and "n_sampled" not in predictor_params:
            predictor_params["sources"] = np.array([[j for j in range(n) if j != i] for i in range(n)])
        # The taps already are the commands' lags; lags of the other channels too would only
        # add redundant, correlated features.
        predictor_params.setdefault("sampled_lags", 1)
        self.predictor_ = ShortTermPredictor(n, self.delay_steps, seed=seed, **predictor_params)
        self._recent = deque(maxlen=self.window)  # (prediction's error, raw observation's error)
        self.trust_ = 0.0
        self._begin()

    def _begin(self) -> None:
        # Efference copies, newest last: d + 1, the oldest being the command behind the
        # transition the delayed observations show now (see :meth:`record`).
        self._sent = deque(maxlen=self.delay_steps + 1)
        # Predictions and raw observations of the last d steps, oldest first: the
        # oldest are of the moment the next delayed observation will show.
        self._predicted = deque(maxlen=self.delay_steps)
        self._raw = deque(maxlen=self.delay_steps)
        self.estimate_ = None
        self.predicted_ = None
        self.delay_error_ = None

    def estimate(self, model, observation: np.ndarray) -> np.ndarray:
        """Return the estimate of the present from the delayed ``observation``.

        ``model`` is ignored (it is there so that the estimator can stand where
        an :class:`~cerebellar.agent.Agent` keeps its internal feedback): the
        present comes from the short-term predictor alone.
        """
        observation = as_finite_vector(observation, "observation", self.n_state)
        # The commands sent since the observation was taken, newest first; none yet: zeros.
        sent = list(self._sent)[::-1][: self.delay_steps]
        taps = np.zeros((self.delay_steps, self.n_command))
        if sent:
            taps[: len(sent)] = sent
        output = self.predictor_.step(np.concatenate([observation, taps.ravel()]))
        predicted = output[: self.n_state].astype(np.float64)
        if len(self._predicted) == self.delay_steps:
            self.delay_error_ = observation - self._predicted[0]
            channels = self.trust_channels
            worst = float(np.max(np.abs(self.delay_error_[channels]) / self.state_scale[channels]))
            raw = float(np.max(np.abs(observation - self._raw[0])[channels] / self.state_scale[channels]))
            self._recent.append((worst if math.isfinite(worst) else math.inf, raw))
            if len(self._recent) == self._recent.maxlen:
                errors = np.mean(self._recent, axis=0)
                # A floor keeps a body at rest (both errors ~0) from making the ratio noise.
                ratio = errors[0] / max(errors[1], 1e-3)
                self.trust_ = min(max((self.high - ratio) / (self.high - self.low), 0.0), 1.0)
        self._predicted.append(predicted)
        self._raw.append(observation)
        self.predicted_ = predicted
        self.estimate_ = (observation if self.trust_ <= 0.0 else
                          (1.0 - self.trust_) * observation + self.trust_ * predicted)
        return self.estimate_

    def record(self, command: np.ndarray):
        """Keep the efference copy of ``command``; return the command behind the delayed transition.

        None while no transition can be seen yet (the first ``d`` steps of an episode).
        """
        command = as_finite_vector(command, "command", self.n_command)
        self._sent.append(command)
        return self._sent[0] if len(self._sent) > self.delay_steps else None

    def reset(self) -> None:
        """Start a new episode: forget the context and pending checks; keep what was learned and the trust."""
        self.predictor_.reset()
        self._begin()
