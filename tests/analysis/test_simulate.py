"""The simulated recordings: shapes as configured, seeded runs identical, spikes with the right mean."""

import numpy as np
import pytest

from cerebellar.analysis import Session
from cerebellar.analysis.simulate import CONDITIONS, POPULATIONS, poisson_counts, simulate_sessions

SMALL = {"n_mossy": 24, "n_purkinje": 10, "n_nuclear": 14, "n_granule": 100, "n_active": 10,
         "purkinje_fan_in": 30, "nuclear_fan_in": 4}
RUN = {"delay_ms": 40, "seeds": [3], "bin_ms": 20, "trials_per_target": 1, "learning_episodes": 1,
       "model_params": SMALL}


@pytest.fixture(scope="module")
def rates():
    return simulate_sessions(**RUN)


def test_sessions_have_the_configured_cells_trials_and_bins(rates):
    assert set(rates) == set(CONDITIONS)
    cells = {"mossy": 24, "purkinje": 10, "dentate": 14}
    # 1.3 s trials (300 ms before the target, the 1 s hold) in 20 ms bins; 8 directions.
    for session in rates.values():
        assert isinstance(session, Session)
        assert session.bin_ms == 20
        for name in POPULATIONS:
            assert session.populations[name].shape == (8, 65, cells[name])
        np.testing.assert_array_equal(session.conditions["target"], np.arange(8))
        np.testing.assert_array_equal(session.conditions["go_bin"], np.full(8, 15))
        assert session.signals["state"].shape == (8, 65, 4)
        assert session.signals["command"].shape == (8, 65, 2)
        assert session.metadata["delay_ms"] == 40 and session.metadata["spikes"] is False
    # The trained model reaches every target; the blank replays its very inputs.
    assert np.all(rates["model"].conditions["arrival_bin"] > 15)
    np.testing.assert_array_equal(rates["blank"].populations["mossy"], rates["model"].populations["mossy"])
    assert not np.allclose(rates["blank"].populations["dentate"], rates["model"].populations["dentate"])


def test_the_blank_nuclei_relay_the_delayed_senses(rates):
    # A blank model predicts no change: its read-out is the observation it was given.
    blank = rates["blank"]
    np.testing.assert_allclose(blank.signals["prediction"], blank.signals["observation"], atol=1e-9)


def test_spike_counts_are_integers_with_the_rates_mean(rates):
    rng = np.random.default_rng(0)
    for name in POPULATIONS:
        rate = rates["model"].populations[name]
        counts = poisson_counts(np.broadcast_to(rate, (50, *rate.shape)), 20, rng)
        assert counts.dtype.kind == "i" and counts.min() >= 0
        # Poisson: over 50 draws each bin's count averages rate * 20 ms, within 6 standard errors.
        mean, expected = counts.mean(axis=0), rate * 0.020
        assert np.all(np.abs(mean - expected) <= 6 * np.sqrt(expected / 50) + 0.05)
        assert abs(mean.mean() - expected.mean()) < 0.01 * expected.mean()


@pytest.mark.slow
def test_seeded_simulations_are_identical_and_spikes_are_drawn_from_the_rates(rates):
    again = simulate_sessions(**RUN)
    for condition in CONDITIONS:
        assert again[condition] == rates[condition]
    counted = simulate_sessions(**RUN, spikes=True)
    rng = np.random.default_rng([3, 7919])
    for condition in CONDITIONS:
        for name in POPULATIONS:
            expected = poisson_counts(rates[condition].populations[name], 20, rng)
            np.testing.assert_array_equal(counted[condition].populations[name], expected)
        assert counted[condition].metadata["spikes"] is True


@pytest.mark.slow
def test_the_trained_nuclei_tell_the_mossy_fibres_future_one_delay_ahead():
    # The acceptance figure at a small budget: with a 100 ms delay, delta R2 is positive at
    # the delay plus one step and larger there than at 20 ms; the blank control shows no such gain.
    from cerebellar.analysis import analyse

    sessions = simulate_sessions(delay_ms=100, seeds=[0], trials_per_target=2, learning_episodes=2)
    result = analyse(sessions["model"], leads_ms=[20, 110], controls={"blank": sessions["blank"]},
                     surrogate=False, chain=False)
    model, blank = result.model, result.controls["blank"]
    assert model.peak_lead_ms == 110 and model.peak_delta_r2 > 0.02
    assert model.r2_at(20) > 0.8
    assert blank.peak_delta_r2 <= 0.5 * model.peak_delta_r2
