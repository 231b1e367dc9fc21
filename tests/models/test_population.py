"""The population cerebellum: conformance, an exact read-out, and learning the delayed wrist."""

import gymnasium as gym
import numpy as np
import pytest

import cerebellar.envs  # noqa: F401  (registers the environments)
from cerebellar.agent import run_episode
from cerebellar.envs import SensoryDelay
from cerebellar.models import load
from cerebellar.models.conformance import check_learner
from cerebellar.models.population import PopulationCerebellum, channel_groups
from cerebellar.tasks.presets import get_preset, make_agent

SMALL = {"n_mossy": 30, "n_purkinje": 12, "n_nuclear": 15, "n_granule": 120, "n_active": 12,
         "purkinje_fan_in": 40, "nuclear_fan_in": 4}


def small(seed=0, **params):
    return PopulationCerebellum(**{**SMALL, "seed": seed, **params})


def test_passes_the_conformance_suite():
    check_learner(lambda seed: small(seed))


def test_populations_have_the_configured_sizes_and_the_read_out_is_the_prediction():
    model = small(n_mossy=33, n_purkinje=11, n_nuclear=17)
    rng = np.random.default_rng(1)
    for _ in range(50):
        model.learn(rng.standard_normal(6), rng.standard_normal(2), rng.standard_normal(6))
    state, command = rng.standard_normal(6), rng.standard_normal(2)
    prediction = model.predict(state, command)
    activity = model.activity()
    assert activity["mossy"].shape == (33,)
    assert activity["purkinje"].shape == (11,)
    assert activity["nuclear"].shape == (17,)
    # The nuclei's linear read-out is exactly what the model predicts, Purkinje inhibition included.
    assert np.any(model.purkinje_weights_ != 0)
    np.testing.assert_allclose(model.read_out(activity["nuclear"]), prediction, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(activity["mossy"], model.encode_inputs(state, command))


def test_a_blank_model_relays_the_state_through_its_nuclei():
    model = small()
    state = np.array([0.1, -0.2, 1.0, 0.5, 0.3, 0.0])
    np.testing.assert_array_equal(model.predict(state, np.zeros(2)), state)
    np.testing.assert_allclose(model.read_out(model.activity()["nuclear"]), state, atol=1e-12)


def test_mossy_tuning_mixes_the_wrist_modalities():
    assert channel_groups(6, 2) == [[0, 1], [2, 3], [4, 5], [6, 7]]
    model = small(mossy_modalities=(1.0, 1.0, 0.2, 0.2))
    model.initialise(6, 2)
    tuning = model.mossy_tuning_
    # Each cell reads every 2-D modality along one preferred direction, weights summing to one.
    weights = np.stack([np.linalg.norm(tuning[:, g], axis=1) for g in channel_groups(6, 2)], axis=1)
    np.testing.assert_allclose(weights.sum(axis=1), 1.0)
    with pytest.raises(ValueError, match="mossy_modalities"):
        small(mossy_modalities=(1.0, 1.0)).initialise(6, 2)


def test_checkpoint_round_trip_keeps_the_cells(tmp_path):
    model = small(seed=None)
    rng = np.random.default_rng(2)
    for _ in range(20):
        model.learn(rng.standard_normal(6), rng.standard_normal(2), rng.standard_normal(6))
    path = model.save(tmp_path / "population")
    loaded = load(path)
    state, command = rng.standard_normal(6), rng.standard_normal(2)
    np.testing.assert_array_equal(loaded.predict(state, command), model.predict(state, command))
    np.testing.assert_array_equal(loaded.activity()["nuclear"], model.activity()["nuclear"])


def test_prediction_error_falls_while_driving_the_delayed_wrist():
    env = SensoryDelay(gym.make("cerebellar/WristStepTracking-v0"), delay_ms=100)
    preset = get_preset("cerebellar/WristStepTracking-v0")
    model = small(input_scale=tuple(preset.state_scale) + tuple(preset.command_scale))
    agent = make_agent(env, model=model, iterations=3, delay_steps=env.delay_steps)
    errors = []
    run_episode(agent, env, seed=0, max_steps=600,
                on_step=lambda step: errors.append(np.abs(step.error[:4]) / np.array([0.3, 0.3, 3, 3])
                                                   if step.error is not None else None))
    errors = np.array([e for e in errors if e is not None])
    early, late = errors[:100].mean(), errors[-200:].mean()
    assert late < 0.2 * early
