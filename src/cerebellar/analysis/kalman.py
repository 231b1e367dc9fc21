"""The Kalman-filter form of a population's dynamics, and the gain a Kalman filter would use.

Tanaka et al. (2019) found the equations linking the populations to resemble
a Kalman filter: a prediction from the present estimate and the motor
command, corrected by the sensory innovation. In predictor form,

    x(t+1) = A x(t) + B u(t) + K (y(t) - C x(t)),

so that a regression of the estimate's next value on its present value, the
command and the observation,

    x(t+1) = F x(t) + B u(t) + K y(t) + c,    F = A - K C,

gives the gain ``K`` directly (:func:`fit_kalman_form`). The gain an optimal
filter would use follows from the plant and its noise levels
(:func:`steady_state_kalman_gain`, from the discrete algebraic Riccati
equation); :func:`identify_plant` estimates those from recorded state,
command and observation, and :func:`kalman_comparison` puts the two gains
side by side for a :class:`~cerebellar.analysis.Session`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .session import Session


def _as_runs(array, name: str) -> np.ndarray:
    """(trials, bins, k) from (bins, k) or (trials, bins, k); refuses NaN/inf."""
    array = np.asarray(array, dtype=np.float64)
    if array.ndim == 2:
        array = array[None]
    if array.ndim != 3:
        raise ValueError(f"{name} must be (bins, k) or (trials, bins, k), got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return array


def _check_same_runs(arrays: dict) -> None:
    shapes = {name: a.shape[:2] for name, a in arrays.items()}
    if len(set(shapes.values())) != 1:
        raise ValueError(f"the arrays disagree on trials and bins: {shapes}")


def _now_and_next(array: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows of the present and of the next bin within each trial (transitions never cross trials)."""
    k = array.shape[2]
    return array[:, :-1].reshape(-1, k), array[:, 1:].reshape(-1, k)


def steady_state_kalman_gain(A, C, Q, R, *, form: str = "predictor") -> tuple[np.ndarray, np.ndarray]:
    """Return the stationary Kalman gain of ``x(t+1) = A x + B u + w``, ``y = C x + v`` (cov Q, R).

    Parameters
    ----------
    A : array_like, (n, n)
    C : array_like, (m, n)
    Q : array_like, (n, n)
        Process-noise covariance.
    R : array_like, (m, m)
        Observation-noise covariance (positive definite).
    form : {"predictor", "filter"}
        ``"predictor"``: the gain of ``x(t+1|t) = A x(t|t-1) + B u + K (y - C x(t|t-1))``,
        ``K = A P C' (C P C' + R)^-1``, the form :func:`fit_kalman_form` fits.
        ``"filter"``: the measurement-update gain ``P C' (C P C' + R)^-1``.

    Returns
    -------
    K : numpy.ndarray, (n, m)
    P : numpy.ndarray, (n, n)
        The stationary prior error covariance, from
        :func:`scipy.linalg.solve_discrete_are`.
    """
    from scipy.linalg import solve_discrete_are

    A, C, Q, R = (np.atleast_2d(np.asarray(m, dtype=np.float64)) for m in (A, C, Q, R))
    n, m = A.shape[0], C.shape[0]
    if A.shape != (n, n) or C.shape != (m, n) or Q.shape != (n, n) or R.shape != (m, m):
        raise ValueError(f"shapes do not agree: A {A.shape}, C {C.shape}, Q {Q.shape}, R {R.shape}")
    if form not in ("predictor", "filter"):
        raise ValueError(f"form must be 'predictor' or 'filter', got {form!r}")
    P = solve_discrete_are(A.T, C.T, Q, R)  # the filter's Riccati equation is the control one's dual
    filter_gain = np.linalg.solve(C @ P @ C.T + R, C @ P).T
    return (A @ filter_gain if form == "predictor" else filter_gain), P


@dataclass
class Plant:
    """A linear plant identified from data: ``x(t+1) = A x + B u + w``, ``y = C x + v``."""

    A: np.ndarray
    B: np.ndarray
    C: np.ndarray
    Q: np.ndarray
    R: np.ndarray

    def kalman_gain(self, form: str = "predictor") -> np.ndarray:
        """Return the steady-state Kalman gain for this plant and its noise levels."""
        return steady_state_kalman_gain(self.A, self.C, self.Q, self.R, form=form)[0]


def identify_plant(state, command, observation) -> Plant:
    """Least-squares plant and noise covariances from recorded state, command and observation.

    ``[A B]`` regresses ``x(t+1)`` on ``x(t), u(t)`` and ``C`` regresses
    ``y(t)`` on ``x(t)`` (:class:`sklearn.linear_model.LinearRegression`,
    no intercept); Q and R are the covariances of the residuals.

    Parameters
    ----------
    state, command, observation : array_like
        (bins, k) or (trials, bins, k) each, on the same bins.
    """
    from sklearn.linear_model import LinearRegression

    arrays = {"state": _as_runs(state, "state"), "command": _as_runs(command, "command"),
              "observation": _as_runs(observation, "observation")}
    _check_same_runs(arrays)
    x, u, y = arrays["state"], arrays["command"], arrays["observation"]
    n = x.shape[2]
    x_now, x_next = _now_and_next(x)
    u_now = u[:, :-1].reshape(-1, u.shape[2])
    dynamics = LinearRegression(fit_intercept=False).fit(np.hstack([x_now, u_now]), x_next)
    weights = np.atleast_2d(dynamics.coef_)
    process = x_next - dynamics.predict(np.hstack([x_now, u_now])).reshape(x_next.shape)
    x_all, y_all = x.reshape(-1, n), y.reshape(-1, y.shape[2])
    sensing = LinearRegression(fit_intercept=False).fit(x_all, y_all)
    measurement = y_all - sensing.predict(x_all).reshape(y_all.shape)
    return Plant(A=weights[:, :n], B=weights[:, n:], C=np.atleast_2d(sensing.coef_),
                 Q=np.atleast_2d(np.cov(process, rowvar=False)),
                 R=np.atleast_2d(np.cov(measurement, rowvar=False)))


@dataclass
class KalmanForm:
    """A fitted ``x(t+1) = F x(t) + B u(t) + K y(t) + c`` (``F = A - K C``).

    Attributes
    ----------
    F, B, K : numpy.ndarray
        The regression's weights on the present estimate, the command and the observation.
    offset : numpy.ndarray
        The intercept ``c``.
    r2 : float
        In-sample R2 of the fit (uniform over the estimate's components).
    """

    F: np.ndarray
    B: np.ndarray
    K: np.ndarray
    offset: np.ndarray
    r2: float

    def prediction_matrix(self, C) -> np.ndarray:
        """Return ``A = F + K C``, the prediction part, given the observation matrix ``C``."""
        return self.F + self.K @ np.atleast_2d(C)


def fit_kalman_form(estimate, command, observation) -> KalmanForm:
    """Regress an estimate's next value on its present, the command and the observation.

    :class:`sklearn.linear_model.LinearRegression` with an intercept (rates
    have baselines), over the transitions within each trial.

    Parameters
    ----------
    estimate, command, observation : array_like
        (bins, k) or (trials, bins, k) each, on the same bins.
    """
    from sklearn.linear_model import LinearRegression

    arrays = {"estimate": _as_runs(estimate, "estimate"), "command": _as_runs(command, "command"),
              "observation": _as_runs(observation, "observation")}
    _check_same_runs(arrays)
    x, u, y = arrays["estimate"], arrays["command"], arrays["observation"]
    n, k = x.shape[2], u.shape[2]
    x_now, x_next = _now_and_next(x)
    inputs = np.hstack([x_now, u[:, :-1].reshape(-1, k), y[:, :-1].reshape(-1, y.shape[2])])
    fit = LinearRegression().fit(inputs, x_next)
    weights = np.atleast_2d(fit.coef_)
    return KalmanForm(F=weights[:, :n], B=weights[:, n:n + k], K=weights[:, n + k:],
                      offset=np.atleast_1d(fit.intercept_), r2=float(fit.score(inputs, x_next)))


@dataclass
class KalmanComparison:
    """The gain fitted to a population's dynamics beside the Kalman gain of the identified plant."""

    fitted: KalmanForm
    plant: Plant
    kalman_gain: np.ndarray

    @property
    def fitted_gain(self) -> np.ndarray:
        """The fitted ``K``."""
        return self.fitted.K

    def summary(self) -> dict:
        """Return both gains (as nested lists), their norms and the noise levels, JSON-ready."""
        return {"fitted_gain": self.fitted.K.tolist(), "kalman_gain": self.kalman_gain.tolist(),
                "fitted_gain_norm": float(np.linalg.norm(self.fitted.K)),
                "kalman_gain_norm": float(np.linalg.norm(self.kalman_gain)),
                "observation_noise_var": np.diag(self.plant.R).tolist(),
                "process_noise_var": np.diag(self.plant.Q).tolist(), "fit_r2": self.fitted.r2}


def decode_state(rates, state) -> np.ndarray:
    """Read a population's activity out in state coordinates (ridge of the state on the rates).

    A :class:`sklearn.linear_model.RidgeCV` fit over all bins of standardised
    rates (the penalty by its leave-one-out cross-validation).

    Parameters
    ----------
    rates : numpy.ndarray, (trials, bins, cells)
    state : numpy.ndarray, (trials, bins, k)

    Returns
    -------
    numpy.ndarray, (trials, bins, k)
    """
    from sklearn.linear_model import RidgeCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    flat = rates.reshape(-1, rates.shape[2])
    readout = make_pipeline(StandardScaler(), RidgeCV(alphas=np.logspace(-6, 2, 9)))
    readout.fit(flat, state.reshape(-1, state.shape[2]))
    return readout.predict(flat).reshape(state.shape)


def kalman_comparison(session: Session, population: str = "dentate", *, state: str = "state",
                      command: str = "command", observation: str = "observation",
                      observation_lag_bins: int = 0, estimate: str | None = None) -> KalmanComparison:
    """Fit the Kalman form to a population and compare its gain with the optimal one.

    The population is read out in state coordinates (:func:`decode_state`),
    the Kalman form fitted to that estimate (:func:`fit_kalman_form`), and the
    plant and noise levels identified from the session's true state, command
    and observation (:func:`identify_plant`) give the steady-state gain.

    Parameters
    ----------
    session : Session
        With the population and the signals ``state``, ``command`` and ``observation``.
    population : str
        The population whose dynamics are fitted.
    state, command, observation : str
        Names of the signals.
    observation_lag_bins : int
        For delayed senses: the observation at bin ``t`` reports the state at
        ``t - observation_lag_bins``. The comparison is then that of the filter
        of the delayed state: the population at ``t`` is read out as an
        estimate of the state at ``t - lag``, beside the command of that time
        (the part of the estimate beyond it is prediction, not filtering).
    estimate : str, optional
        A signal to use as the estimate (e.g. the model's own ``"prediction"``)
        instead of the population's readout.

    Raises
    ------
    ValueError
        If the session lacks the population or one of the signals, or the lag
        is not shorter than a trial.
    """
    if population not in session.populations:
        raise ValueError(f"the session has no {population!r} population")
    for name in (state, command, observation, *([estimate] if estimate else [])):
        if name not in session.signals:
            raise ValueError(f"the Kalman comparison needs the signal {name!r}; "
                             f"the session has {sorted(session.signals)}")
    lag = int(observation_lag_bins)
    if not 0 <= lag < session.n_bins - 1:
        raise ValueError(f"observation_lag_bins must be in [0, {session.n_bins - 1}), got {lag}")
    end = session.n_bins - lag
    x = session.signals[state][:, :end]
    u = session.signals[command][:, :end]
    y = session.signals[observation][:, lag:]
    if estimate is None:
        estimated = decode_state(session.populations[population][:, lag:], x)
    else:
        estimated = session.signals[estimate][:, lag:]
    fitted = fit_kalman_form(estimated, u, y)
    plant = identify_plant(x, u, y)
    return KalmanComparison(fitted=fitted, plant=plant, kalman_gain=plant.kalman_gain())
