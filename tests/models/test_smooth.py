"""The smooth cerebellum: conformance, a known smooth function learned, angle pairs kept on the circle."""

import numpy as np
import pytest

from cerebellar.models import SmoothCerebellum, load, make_model
from cerebellar.models.conformance import CHECKS


@pytest.mark.parametrize("check", CHECKS, ids=lambda check: check.__name__)
@pytest.mark.parametrize("granule", ["fourier", "products"])
def test_passes_conformance(granule, check):
    check(lambda seed: make_model("cerebellum-smooth", seed=seed, granule=granule))


def pendulum_step(states, torques):
    # Pendulum-v1 without its clips: the target is smooth.
    theta = np.arctan2(states[:, 1], states[:, 0])
    velocity = states[:, 2] + (15.0 * np.sin(theta) + 3.0 * torques[:, 0]) * 0.05
    theta = theta + 0.05 * velocity
    return np.stack([np.cos(theta), np.sin(theta), velocity], axis=1)


def pendulum_samples(n, seed):
    rng = np.random.default_rng(seed)
    theta, velocity = rng.uniform(-np.pi, np.pi, n), rng.uniform(-6, 6, n)
    states = np.stack([np.cos(theta), np.sin(theta), velocity], axis=1)
    torques = rng.uniform(-2, 2, (n, 1))
    return states, torques, pendulum_step(states, torques)


def trained(n=300, **params):
    model = SmoothCerebellum(input_scale=(1.0, 1.0, 8.0, 2.0), prior=100.0, seed=0, **params)
    for s, u, n_ in zip(*pendulum_samples(n, seed=1), strict=True):
        model.learn(s, u, n_)
    return model


def test_learns_pendulum_from_few_hundred_samples():
    states, torques, truth = pendulum_samples(500, seed=2)
    blank_error = np.sqrt(np.mean((states - truth) ** 2))
    error = np.sqrt(np.mean((trained().predict_many(states, torques) - truth) ** 2))
    # Measured: about 0.004 after 300 samples (a blank model: about 0.23).
    assert blank_error > 0.1
    assert error < 0.01


def test_angle_pairs_learn_pendulum_almost_exactly_and_stay_on_circle():
    states, torques, truth = pendulum_samples(500, seed=2)
    model = trained(angle_pairs=[(0, 1)])
    prediction = model.predict_many(states, torques)
    # The angle increment is linear in (velocity, sin, torque): the direct path learns it.
    assert np.sqrt(np.mean((prediction - truth) ** 2)) < 1e-3
    np.testing.assert_allclose(prediction[:, 0] ** 2 + prediction[:, 1] ** 2, 1.0, atol=1e-12)
    one_by_one = [model.predict(s, u) for s, u in zip(states, torques, strict=True)]
    np.testing.assert_allclose(prediction, one_by_one, atol=1e-12)


def test_learn_returns_error_of_prediction_before_update():
    model = trained(n=50, angle_pairs=[(0, 1)])
    states, torques, truth = pendulum_samples(1, seed=3)
    before = model.predict(states[0], torques[0])
    np.testing.assert_allclose(model.learn(states[0], torques[0], truth[0]), truth[0] - before, atol=1e-12)


def test_products_layer_holds_every_monomial_of_degree_two_to_three():
    model = SmoothCerebellum(granule="products", degree=3, input_scale=(1.0, 1.0, 1.0))
    model.predict([0.5, -2.0], [3.0])  # mossy inputs a, b, c = 0.5, -2, 3
    # a2 b2 c2 ab ac bc, then a3 b3 c3 a2b a2c ab2 b2c ac2 bc2 abc
    expected = [0.25, 4.0, 9.0, -1.0, 1.5, -6.0,
                0.125, -8.0, 27.0, -0.5, 0.75, 2.0, 12.0, 4.5, -18.0, -3.0]
    np.testing.assert_allclose(np.sort(model.activity()["granule"]), np.sort(expected))


def test_save_load_round_trip_with_angle_pairs(tmp_path):
    model = trained(n=40, angle_pairs=[(0, 1)])
    copy = load(model.save(tmp_path / "smooth"))
    states, torques, _ = pendulum_samples(20, seed=4)
    np.testing.assert_array_equal(copy.predict_many(states, torques), model.predict_many(states, torques))
    assert copy.get_params()["angle_pairs"] == [[0, 1]]


@pytest.mark.parametrize("params, message", [
    (dict(angle_pairs=[(0, 5)]), "angle_pairs"),
    (dict(angle_pairs=[(0, 0)]), "angle_pairs"),
    (dict(angle_pairs=[(0, 1)], residual=False), "residual"),
    (dict(granule="wavelet"), "granule"),
    (dict(n_granule=0), "n_granule"),
    (dict(granule="products", degree=1), "degree"),
])
def test_rejects_bad_settings(params, message):
    with pytest.raises(ValueError, match=message):
        SmoothCerebellum(**params).initialise(3, 1)
