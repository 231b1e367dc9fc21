"""The Kalman form: the steady-state gain against closed forms, and a fit that recovers a known gain."""

import numpy as np
import pytest

from cerebellar.analysis import Session
from cerebellar.analysis.kalman import (
    fit_kalman_form,
    identify_plant,
    kalman_comparison,
    steady_state_kalman_gain,
)

DT = 0.01
A = np.array([[1.0, DT], [0.0, 0.98]])
B = np.array([[0.0], [DT]])
C = np.array([[1.0, 0.0]])
Q = np.diag([1e-6, 1e-4])


def test_scalar_gain_matches_the_closed_form():
    a, q, r = 0.9, 0.5, 2.0
    # P = a^2 P r / (P + r) + q: the positive root of P^2 + (r - a^2 r - q) P - q r = 0
    b = r - a * a * r - q
    p = (-b + np.sqrt(b * b + 4 * q * r)) / 2
    K, P = steady_state_kalman_gain([[a]], [[1.0]], [[q]], [[r]])
    assert P[0, 0] == pytest.approx(p, rel=1e-12)
    assert K[0, 0] == pytest.approx(a * p / (p + r), rel=1e-12)
    F, _ = steady_state_kalman_gain([[a]], [[1.0]], [[q]], [[r]], form="filter")
    assert F[0, 0] == pytest.approx(p / (p + r), rel=1e-12)


def test_gain_is_the_fixed_point_of_the_riccati_recursion():
    R = np.array([[1e-3]])
    P = np.eye(2)
    for _ in range(20000):
        P = A @ (P - P @ C.T @ np.linalg.solve(C @ P @ C.T + R, C @ P)) @ A.T + Q
    K, P_are = steady_state_kalman_gain(A, C, Q, R)
    np.testing.assert_allclose(P_are, P, rtol=1e-8)
    np.testing.assert_allclose(K, A @ P @ C.T @ np.linalg.inv(C @ P @ C.T + R), rtol=1e-8)


def test_gain_falls_as_the_sensory_noise_rises():
    norms = [np.linalg.norm(steady_state_kalman_gain(A, C, Q, [[r]])[0]) for r in (1e-5, 1e-4, 1e-3, 1e-2)]
    assert all(later < earlier for earlier, later in zip(norms, norms[1:], strict=False))


def simulate(noise_var, trials=12, bins=250, seed=0):
    """A plant observed in noise, and the exact steady-state Kalman predictor run on it."""
    rng = np.random.default_rng(seed)
    R = np.array([[noise_var]])
    K, P = steady_state_kalman_gain(A, C, Q, R)
    state, estimate = np.zeros((trials, bins, 2)), np.zeros((trials, bins, 2))
    command = rng.normal(size=(trials, bins, 1))
    observation = np.zeros((trials, bins, 1))
    for trial in range(trials):
        x = rng.normal(size=2) * 0.1
        e = x + rng.multivariate_normal(np.zeros(2), P)  # start with the stationary error
        for t in range(bins):
            y = C @ x + rng.normal(size=1) * np.sqrt(noise_var)
            state[trial, t], estimate[trial, t], observation[trial, t] = x, e, y
            e = A @ e + B @ command[trial, t] + K @ (y - C @ e)
            x = A @ x + B @ command[trial, t] + rng.multivariate_normal(np.zeros(2), Q)
    return K, state, command, observation, estimate


def test_fit_recovers_the_gain_of_an_exact_kalman_filter():
    K, state, command, observation, estimate = simulate(1e-4)
    fitted = fit_kalman_form(estimate, command, observation)
    np.testing.assert_allclose(fitted.K, K, rtol=1e-7, atol=1e-10)
    np.testing.assert_allclose(fitted.B, B, atol=1e-8)
    np.testing.assert_allclose(fitted.prediction_matrix(C), A, atol=1e-8)
    assert fitted.r2 == pytest.approx(1.0, abs=1e-12)


def test_plant_identification_recovers_the_plant():
    _, state, command, observation, _ = simulate(1e-4, trials=20)
    plant = identify_plant(state, command, observation)
    np.testing.assert_allclose(plant.A, A, atol=5e-3)
    np.testing.assert_allclose(plant.C, C, atol=1e-2)
    assert plant.R[0, 0] == pytest.approx(1e-4, rel=0.1)


def test_session_comparison_puts_a_population_kalman_filter_beside_the_optimal_gain():
    """Dentate cells that mix an exact Kalman estimate: its gain is found, and falls with the noise."""
    gains = {}
    for noise_var in (1e-4, 1e-2):
        K, state, command, observation, estimate = simulate(noise_var)
        mixing = np.random.default_rng(1).normal(size=(2, 6))
        populations = {"dentate": estimate @ mixing + 5.0, "mossy": observation * [1.0, -2.0]}
        session = Session(populations=populations,
                          bin_ms=10.0, conditions={"target": np.arange(12) % 4},
                          signals={"state": state, "command": command, "observation": observation})
        comparison = kalman_comparison(session)
        np.testing.assert_allclose(comparison.fitted_gain, K, rtol=0.15)
        direct = kalman_comparison(Session(populations, 10.0, session.conditions,
                                           signals={**session.signals, "prediction": estimate}),
                                   estimate="prediction")
        np.testing.assert_allclose(direct.fitted_gain, K, rtol=1e-7)
        np.testing.assert_allclose(comparison.kalman_gain, K, rtol=0.15)
        gains[noise_var] = comparison.summary()
    assert gains[1e-2]["fitted_gain_norm"] < gains[1e-4]["fitted_gain_norm"] / 5
    assert gains[1e-2]["kalman_gain_norm"] < gains[1e-4]["kalman_gain_norm"] / 5


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="shapes do not agree"):
        steady_state_kalman_gain(A, [[1.0, 0.0, 0.0]], Q, [[1.0]])
    with pytest.raises(ValueError, match="disagree on trials and bins"):
        fit_kalman_form(np.zeros((10, 2)), np.zeros((9, 1)), np.zeros((10, 1)))
    with pytest.raises(ValueError, match="NaN"):
        fit_kalman_form(np.full((10, 2), np.nan), np.zeros((10, 1)), np.zeros((10, 1)))
    session = Session({"dentate": np.ones((2, 5, 1)), "mossy": np.ones((2, 5, 1))}, 10.0, {"target": [0, 1]})
    with pytest.raises(ValueError, match="signal 'state'"):
        kalman_comparison(session)


def test_delayed_observations_are_aligned_by_the_lag():
    """Senses 3 bins late: with observation_lag_bins=3 the comparison is that of the undelayed one."""
    K, state, command, observation, estimate = simulate(1e-4)
    lag = 3
    mixing = np.random.default_rng(1).normal(size=(2, 6))
    late = np.concatenate([np.zeros((12, lag, 1)), observation[:, :-lag]], axis=1)
    dentate = np.concatenate([np.zeros((12, lag, 6)), (estimate @ mixing)[:, :-lag]], axis=1) + 5.0
    session = Session(populations={"dentate": dentate, "mossy": late * [1.0, 2.0]}, bin_ms=10.0,
                      conditions={"target": np.arange(12) % 4},
                      signals={"state": state, "command": command, "observation": late})
    aligned = kalman_comparison(session, observation_lag_bins=lag)
    np.testing.assert_allclose(aligned.fitted_gain, K, rtol=0.15)
    np.testing.assert_allclose(aligned.kalman_gain, K, rtol=0.15)
    unaligned = kalman_comparison(session)
    assert not np.allclose(unaligned.kalman_gain, K, rtol=0.15)


def test_analyse_reports_the_kalman_comparison_of_sessions_with_signals():
    from cerebellar.analysis import analyse

    K, state, command, observation, estimate = simulate(1e-4, bins=120)
    mixing = np.random.default_rng(1).normal(size=(2, 6))
    session = Session(populations={"dentate": estimate @ mixing + 5.0, "mossy": observation * [1.0, -2.0]},
                      bin_ms=10.0, conditions={"target": np.arange(12) % 4},
                      signals={"state": state, "command": command, "observation": observation})
    out = analyse(session, leads_ms=[0, 10], surrogate=False).to_dict()
    assert list(out["kalman"]) == ["model"]
    np.testing.assert_allclose(out["kalman"]["model"]["fitted_gain"], K, rtol=0.15)
