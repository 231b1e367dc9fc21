"""RLS against its closed forms, and its numerical guards over a million steps."""

import numpy as np
import pytest

from cerebellar.models import RLS

N_STATE, N_COMMAND = 3, 2


def regression_data(n_steps, seed=0, noise=0.1):
    """Transitions of a random linear plant with noise, channels on different scales."""
    rng = np.random.default_rng(seed)
    states = rng.standard_normal((n_steps, N_STATE)) * [1.0, 10.0, 0.1]
    commands = rng.standard_normal((n_steps, N_COMMAND)) * [2.0, 0.5]
    z = np.hstack((states, commands, np.ones((n_steps, 1))))
    true_weights = rng.standard_normal((N_STATE, z.shape[1]))
    changes = z @ true_weights.T + noise * rng.standard_normal((n_steps, N_STATE))
    return states, commands, states + changes, z, changes


def train(model, states, commands, next_states):
    for s, u, n in zip(states, commands, next_states, strict=True):
        model.learn(s, u, n)
    return model


def weighted_ridge(z, y, forgetting, initial_covariance):
    """Minimiser of sum_i lambda^(n-i) |y_i - W z_i|^2 + lambda^n |W|^2 / initial_covariance."""
    n = z.shape[0]
    weights = forgetting ** (n - 1 - np.arange(n))  # the newest sample has weight 1
    gram = (z.T * weights) @ z + forgetting**n * np.eye(z.shape[1]) / initial_covariance
    return np.linalg.solve(gram, (z.T * weights) @ y).T, np.linalg.inv(gram)


@pytest.mark.parametrize("initial_covariance", [0.1, 100.0])
def test_without_forgetting_equals_closed_form_ridge(initial_covariance):
    states, commands, next_states, z, y = regression_data(200)
    model = train(RLS(forgetting=1.0, initial_covariance=initial_covariance, input_scale=None),
                  states, commands, next_states)
    ridge = np.linalg.solve(z.T @ z + np.eye(z.shape[1]) / initial_covariance, z.T @ y).T
    np.testing.assert_allclose(model.weights_, ridge, rtol=0, atol=1e-8)
    # The covariance is the inverse of the regularised Gram matrix.
    gram = z.T @ z + np.eye(z.shape[1]) / initial_covariance
    np.testing.assert_allclose(model.covariance_, np.linalg.inv(gram), rtol=0, atol=1e-8)
    # And the predictions are state + W z.
    np.testing.assert_allclose(model.predict(states[0], commands[0]), states[0] + ridge @ z[0], atol=1e-8)


def test_ridge_regulariser_matters():
    # The closed form above is not trivially satisfied: the two priors give different answers.
    states, commands, next_states, z, y = regression_data(20)
    weak = train(RLS(forgetting=1.0, initial_covariance=100.0), states, commands, next_states)
    strong = train(RLS(forgetting=1.0, initial_covariance=0.1), states, commands, next_states)
    assert np.max(np.abs(weak.weights_ - strong.weights_)) > 1e-2


@pytest.mark.parametrize("forgetting", [0.99, 0.95])
def test_with_forgetting_equals_exponentially_weighted_ridge(forgetting):
    states, commands, next_states, z, y = regression_data(300, seed=1)
    model = RLS(forgetting=forgetting, initial_covariance=10.0, input_scale=None)
    train(model, states, commands, next_states)
    # The closed form holds only while the trace cap has not acted.
    assert np.trace(model.covariance_) < model.max_covariance * z.shape[1]
    expected, covariance = weighted_ridge(z, y, forgetting, 10.0)
    np.testing.assert_allclose(model.weights_, expected, rtol=0, atol=1e-8)
    np.testing.assert_allclose(model.covariance_, covariance, rtol=0, atol=1e-8)
    # Forgetting really changes the answer compared with the unweighted fit.
    unweighted, _ = weighted_ridge(z, y, 1.0, 10.0)
    assert np.max(np.abs(expected - unweighted)) > 1e-3


def test_forgetting_tracks_a_change_of_plant():
    states, commands, _, z, _ = regression_data(500, seed=2, noise=0.0)
    rng = np.random.default_rng(3)
    before, after = rng.standard_normal((2, N_STATE, z.shape[1]))
    changes = np.where(np.arange(500)[:, None] < 200, z @ before.T, z @ after.T)
    forgetful = train(RLS(forgetting=0.95), states, commands, states + changes)
    # 300 steps after the change the old plant's data weigh 0.95**300 ~ 2e-7.
    np.testing.assert_allclose(forgetful.weights_, after, atol=1e-4)
    # Without forgetting the estimate stays a compromise between the two plants.
    faithful = train(RLS(forgetting=1.0), states, commands, states + changes)
    assert np.max(np.abs(faithful.weights_ - after)) > 0.1


def test_large_prior_equals_ordinary_least_squares():
    states, commands, next_states, z, y = regression_data(200, seed=4)
    # max_covariance must not be below initial_covariance, or the trace cap rescales the
    # covariance on the first step and the estimate is no longer least squares.
    model = RLS(forgetting=1.0, initial_covariance=1e8, max_covariance=1e8, input_scale=None)
    train(model, states, commands, next_states)
    least_squares = np.linalg.lstsq(z, y, rcond=None)[0].T
    relative = np.linalg.norm(model.weights_ - least_squares) / np.linalg.norm(least_squares)
    assert relative < 1e-6


def test_input_scale_does_not_change_the_fit():
    # With forgetting=1 and a flat prior, RLS is invariant to rescaling its inputs.
    states, commands, next_states, _, _ = regression_data(200, seed=5)
    plain = train(RLS(forgetting=1.0, initial_covariance=1e8, max_covariance=1e8),
                  states, commands, next_states)
    scaled = train(RLS(forgetting=1.0, initial_covariance=1e8, max_covariance=1e8,
                       input_scale=[1.0, 10.0, 0.1, 2.0, 0.5]),
                   states, commands, next_states)
    probe_states, probe_commands, *_ = regression_data(10, seed=6)
    np.testing.assert_allclose(scaled.predict_many(probe_states, probe_commands),
                               plain.predict_many(probe_states, probe_commands), rtol=1e-6, atol=1e-6)


def test_residual_false_learns_the_next_state_itself():
    states, commands, next_states, z, _ = regression_data(200, seed=7)
    model = RLS(forgetting=1.0, initial_covariance=100.0, residual=False)
    train(model, states, commands, next_states)
    expected = np.linalg.solve(z.T @ z + np.eye(z.shape[1]) / 100.0, z.T @ next_states).T
    np.testing.assert_allclose(model.weights_, expected, rtol=0, atol=1e-8)
    assert np.array_equal(RLS(residual=False).predict(states[0], commands[0]), np.zeros(N_STATE))


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"forgetting": 0.0}, "forgetting"),
        ({"forgetting": 1.01}, "forgetting"),
        ({"initial_covariance": -1.0}, "initial_covariance"),
        ({"max_covariance": 0.0}, "max_covariance"),
    ],
)
def test_bad_hyperparameters_rejected_on_first_call(params, message):
    model = RLS(**params)  # hyperparameters are only stored in __init__
    with pytest.raises(ValueError, match=message):
        model.predict(np.zeros(N_STATE), np.zeros(N_COMMAND))


def test_covariance_stays_healthy_over_a_million_poorly_excited_steps():
    """1,000,000 steps of x' = 0.9 x + 0.5 u with forgetting 0.99 and long constant stretches.

    While the command is constant the state settles and the regressor [x, u, 1] stops
    changing: with forgetting, the covariance grows in the two unexcited directions
    (wind-up) until the trace cap holds it. After each stretch a burst of random
    commands returns the excitation, and the model must be accurate again.
    """
    a, b = 0.9, 0.5
    quiet, burst, cycles = 23_000, 2_000, 40  # 40 * 25_000 = 1,000,000 steps
    model = RLS(forgetting=0.99)
    cap = model.max_covariance * 3
    rng = np.random.default_rng(0)
    grid_x, grid_u = (g.ravel() for g in np.meshgrid(np.linspace(-3, 3, 7), np.linspace(-2, 2, 5)))
    state = 0.0
    largest_trace, smallest_eigenvalue, worst_error = 0.0, np.inf, 0.0
    for _ in range(cycles):
        level = rng.uniform(-2.0, 2.0)
        commands = np.concatenate((np.full(quiet, level), rng.standard_normal(burst)))
        for step, command in enumerate(commands):
            next_state = a * state + b * command
            model.learn([state], [command], [next_state])
            state = next_state
            if step % 1000 == 999 or step == quiet - 1:  # includes the end of each quiet stretch
                covariance = model.covariance_
                assert np.array_equal(covariance, covariance.T)  # exactly: the code symmetrises
                smallest_eigenvalue = min(smallest_eigenvalue, np.linalg.eigvalsh(covariance)[0])
                largest_trace = max(largest_trace, np.trace(covariance))
        # Excitation has returned: the model is accurate over the whole operating range.
        predictions = model.predict_many(grid_x[:, None], grid_u[:, None])[:, 0]
        assert np.all(np.isfinite(predictions))
        worst_error = max(worst_error, np.max(np.abs(predictions - (a * grid_x + b * grid_u))))
    assert model.n_learned_ == 1_000_000
    assert smallest_eigenvalue > 0
    # The cap rescales the covariance so that its trace equals the cap, up to rounding.
    assert largest_trace <= cap * (1 + 1e-12)
    # The guard was actually exercised: wind-up drove the trace up to the cap.
    assert largest_trace > 0.99 * cap
    assert worst_error < 1e-9
    np.testing.assert_allclose(model.weights_, [[a - 1, b, 0.0]], atol=1e-9)
