"""Inverse models: known answers on a linear plant, determinism, checkpoints, bad input."""

import numpy as np
import pytest

from cerebellar.models import CheckpointError, InverseModel, load
from cerebellar.models.inverse import arm_inverse_features

A = np.array([[0.9, 0.1], [-0.2, 0.95]])
B = np.array([[0.5, 0.1], [0.0, 0.3]])
SUBSTRATES = ("rls", "cerebellum", "cerebellum-random", "cerebellum-smooth")


def _stream(n, seed=1):
    rng = np.random.default_rng(seed)
    states = rng.standard_normal((n, 2))
    commands = rng.standard_normal((n, 2))
    return states, commands, states @ A.T + commands @ B.T


def _train(model, n=300, seed=1):
    errors = []
    for x, u, nxt in zip(*_stream(n, seed), strict=True):
        errors.append(model.learn(x, nxt, u - model.predict(x, nxt)))
    return np.array(errors)


def test_rls_inverse_equals_ridge_solution_of_the_exact_inverse():
    prior = 1e6
    model = InverseModel("rls", substrate_params={"forgetting": 1.0, "initial_covariance": prior,
                                                  "max_covariance": prior})
    states, commands, nexts = _stream(200)
    _train(model, 200)
    # The substrate's inputs are [desired, state, 1]; the ridge solution on the same data:
    z = np.hstack([nexts, states, np.ones((200, 1))])
    ridge = np.linalg.solve(z.T @ z + np.eye(5) / prior, z.T @ commands).T
    np.testing.assert_allclose(model.substrate_.weights_, ridge, rtol=1e-6, atol=1e-8)
    # ... which is the plant's exact inverse u = B^-1 (x' - A x).
    np.testing.assert_allclose(model.substrate_.weights_[:, :2], np.linalg.inv(B), atol=1e-4)
    np.testing.assert_allclose(model.substrate_.weights_[:, 2:4], -np.linalg.solve(B, A), atol=1e-4)


def test_learn_returns_the_command_error_and_moves_the_prediction_by_it():
    model = InverseModel("rls")
    x, d, e = np.array([0.3, -0.2]), np.array([0.1, 0.5]), np.array([1.0, -2.0])
    before = model.predict(x, d)
    np.testing.assert_allclose(model.learn(x, d, e), e)
    after = model.predict(x, d)
    # RLS with a weak prior moves the prediction nearly all the way on one sample.
    assert np.linalg.norm(after - before - e) < 0.05 * np.linalg.norm(e)


@pytest.mark.parametrize("substrate", SUBSTRATES)
def test_every_substrate_learns_the_inverse(substrate):
    errors = _train(InverseModel(substrate), 400)
    early, late = np.abs(errors[:20]).mean(), np.abs(errors[-50:]).mean()
    assert late < 0.3 * early


@pytest.mark.parametrize("substrate", SUBSTRATES)
def test_seeded_runs_are_identical_and_inputs_are_not_mutated(substrate):
    first, second = InverseModel(substrate, seed=3), InverseModel(substrate, seed=3)
    x, d, e = np.array([0.3, -0.2]), np.array([0.1, 0.5]), np.array([1.0, -2.0])
    copies = x.copy(), d.copy(), e.copy()
    for model in (first, second):
        for _ in range(5):
            model.learn(x, d, e)
    np.testing.assert_array_equal(first.predict(x, d), second.predict(x, d))
    for original, copy in zip((x, d, e), copies, strict=True):
        np.testing.assert_array_equal(original, copy)


@pytest.mark.parametrize("substrate", SUBSTRATES)
def test_checkpoint_round_trip_is_exact_and_keeps_learning_alike(substrate, tmp_path):
    model = InverseModel(substrate, seed=2)
    _train(model, 50)
    path = model.save(tmp_path / "inverse")
    loaded = load(path)
    assert isinstance(loaded, InverseModel) and loaded.get_params() == model.get_params()
    x, d = np.array([0.2, 0.1]), np.array([-0.3, 0.4])
    np.testing.assert_array_equal(loaded.predict(x, d), model.predict(x, d))
    np.testing.assert_array_equal(loaded.learn(x, d, [0.5, 0.5]), model.learn(x, d, [0.5, 0.5]))
    np.testing.assert_array_equal(loaded.predict(x, d), model.predict(x, d))
    blank = load(InverseModel(substrate).save(tmp_path / "blank"))
    assert not blank.is_initialised


def test_tampered_checkpoint_is_refused(tmp_path):
    model = InverseModel("rls")
    _train(model, 10)
    path = model.save(tmp_path / "inverse")
    with np.load(path) as stored:
        arrays = dict(stored)
    arrays["substrate_weights"] = arrays["substrate_weights"][:, :3]
    np.savez(path, **arrays)
    with pytest.raises(CheckpointError):
        InverseModel.load(path)


@pytest.mark.parametrize("argument, bad", [("state", [np.nan, 0.0]), ("desired", [np.inf, 0.0]),
                                           ("state", [1.0, 2.0, 3.0]), ("error_command", [1.0])])
def test_bad_input_is_rejected_by_name_and_changes_nothing(argument, bad):
    model = InverseModel("rls")
    _train(model, 10)
    weights = model.substrate_.weights_.copy()
    good = {"state": [0.1, 0.2], "desired": [0.3, 0.4], "error_command": [0.5, 0.6]}
    with pytest.raises(ValueError, match=argument):
        model.learn(**{**good, argument: bad})
    np.testing.assert_array_equal(model.substrate_.weights_, weights)


def test_bad_hyperparameters_are_named():
    with pytest.raises(ValueError, match="substrate"):
        InverseModel("nope").predict([0.0, 0.0], [0.0, 0.0])
    with pytest.raises(ValueError, match="residual"):
        InverseModel("rls", substrate_params={"residual": True}).predict([0.0], [0.0])
    with pytest.raises(ValueError, match="arm"):
        InverseModel("rls", features="arm").predict([0.0, 0.0], [0.0, 0.0])


def test_arm_features_make_the_arm_inverse_dynamics_exactly_learnable():
    from cerebellar.envs.arm import ArmParams, inverse_dynamics

    params, rng = ArmParams(), np.random.default_rng(0)
    model = InverseModel("rls", features="arm", substrate_params={"forgetting": 1.0})
    for _ in range(300):
        state = np.concatenate([rng.uniform(0.2, 1.8, 2), rng.uniform(-3, 3, 2)])
        acceleration = rng.uniform(-20, 20, 2)
        model.learn_command(state, acceleration, inverse_dynamics(state, acceleration, params))
    state, acceleration = np.array([0.9, 1.1, 1.0, -0.5]), np.array([4.0, -6.0])
    np.testing.assert_allclose(model.predict(state, acceleration),
                               inverse_dynamics(state, acceleration, params), atol=1e-3)
    first, rest = arm_inverse_features(state, acceleration)
    assert first.shape == (2,) and rest.shape == (8,)
