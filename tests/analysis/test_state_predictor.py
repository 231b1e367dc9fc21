"""The state-predictor analysis finds known answers, and its controls do not show them."""

import json

import numpy as np
import pytest

from cerebellar.analysis import (
    PAPER_R2,
    Session,
    analyse,
    future_copy_session,
    lowpass_control,
    reconstruction_chain,
    shuffled_control,
)

LEADS = list(range(-100, 101, 10))


@pytest.fixture(scope="module")
def known():
    """dentate(t) = W mossy(t + 5 bins), 10 ms bins: the answer is a 50 ms lead."""
    session = future_copy_session(lead_bins=5, seed=0)
    return session, analyse(session, leads_ms=LEADS)


def test_finds_the_exact_future_copy_and_its_lead(known):
    _, result = known
    assert result.model.r2_at(50.0) > 0.999
    assert result.model.peak_lead_ms == 50.0
    # the peak is the lead: R2 falls on both sides of it
    r2 = result.model.r2_mean
    peak = LEADS.index(50)
    assert r2[peak - 1] < r2[peak] and r2[peak + 1] < r2[peak]
    assert result.model.peak_delta_r2 > 0.2
    # the mossy fibres' own present is the better predictor of their past
    delta = np.array(result.model.delta_r2)
    assert np.all(delta[np.array(LEADS) < 0] < 0)


def test_the_peak_follows_the_lead():
    session = future_copy_session(lead_bins=3, seed=1)
    result = analyse(session, leads_ms=range(-60, 61, 10), surrogate=False, chain=False)
    assert result.model.peak_lead_ms == 30.0
    assert result.model.r2_at(30.0) > 0.999


def test_the_lowpass_control_shows_no_positive_lead_peak(known):
    _, result = known
    lowpass = result.controls["lowpass"]
    assert lowpass.peak_lead_ms <= 0.0
    positive = np.array(LEADS) > 0
    assert np.max(np.array(lowpass.delta_r2)[positive]) < 0.0
    # yet its plain R2 is high near zero lead: why a plain R2 says little
    assert lowpass.r2_at(0.0) > 0.7


def test_the_shuffled_surrogate_peaks_at_most_half_as_high(known):
    _, result = known
    shuffled = result.controls["shuffled"]
    assert shuffled.peak_delta_r2 <= 0.5 * result.model.peak_delta_r2
    assert shuffled.r2_at(50.0) < 0.9


def test_controls_are_made_as_documented():
    session = future_copy_session(lead_bins=2, trials=8, directions=4, bins=30, seed=3)
    smooth = lowpass_control(session, 30.0).populations["dentate"]
    decay = np.exp(-10.0 / 30.0)
    mossy = session.populations["mossy"]
    np.testing.assert_allclose(smooth[:, 0], mossy[:, 0])  # started at the first value
    np.testing.assert_allclose(smooth[:, 5], decay * smooth[:, 4] + (1 - decay) * mossy[:, 5])
    shuffled = shuffled_control(session, seed=0).populations["dentate"]
    dentate = session.populations["dentate"]
    for trial in range(session.n_trials):
        sources = [other for other in range(session.n_trials)
                   if np.array_equal(shuffled[trial], dentate[other])]
        assert len(sources) == 1 and sources[0] != trial
        assert session.targets[sources[0]] == session.targets[trial]


def test_extra_controls_go_through_the_same_pipeline(known):
    session, _ = known
    rng = np.random.default_rng(0)
    blank = session.with_population("dentate", rng.normal(size=session.populations["dentate"].shape))
    result = analyse(session, leads_ms=[0, 50], controls={"blank": blank, "feedback": None}, surrogate=False,
                     chain=False)
    assert list(result.controls) == ["lowpass", "blank"]
    assert result.controls["blank"].r2_at(50.0) < 0.1
    assert result.controls["blank"].peak_delta_r2 < 0.0


def test_reconstruction_chain_reports_the_signs_of_the_weights():
    """dentate = mossy excitation - Purkinje inhibition: the fit finds both signs."""
    rng = np.random.default_rng(2)
    trials, bins = 16, 40
    mossy = rng.normal(size=(trials, bins, 4)).cumsum(axis=1)
    purkinje = mossy @ rng.normal(size=(4, 3)) + rng.normal(size=(trials, bins, 3))
    dentate = mossy @ rng.uniform(0.5, 1.5, (4, 5)) - purkinje @ rng.uniform(0.5, 1.5, (3, 5))
    session = Session({"mossy": mossy, "purkinje": purkinje, "dentate": dentate}, 10.0,
                      {"target": np.arange(trials) % 8})
    summary = reconstruction_chain(session).summary()
    assert summary["mossy_weights_positive_fraction"] == 1.0
    assert summary["purkinje_weights_negative_fraction"] == 1.0
    assert summary["dentate_from_mossy_purkinje_r2_mean"] > 0.999
    assert 0.0 < summary["purkinje_from_mossy_r2_mean"] < 1.0


def test_same_seed_same_numbers_and_outputs(known, tmp_path):
    session, result = known
    again = analyse(session, leads_ms=LEADS)
    assert again.to_dict() == result.to_dict()
    out = result.to_dict()
    json.dumps(out, allow_nan=False)
    for key in ("leads_ms", "r2_mean", "delta_r2", "peak_lead_ms", "controls", "chain"):
        assert key in out
    assert len(out["r2_mean"]) == len(out["leads_ms"]) == len(out["delta_r2"]) == len(LEADS)
    assert set(out["controls"]) == {"lowpass", "shuffled"}
    assert {float(k) for k in out["paper_r2"]} == set(PAPER_R2)
    rows = result.to_rows()
    assert len(rows) == 3 * len(LEADS)
    result.to_csv(tmp_path / "r2.csv")
    assert (tmp_path / "r2.csv").read_text().splitlines()[0].startswith("session,lead_ms,r2_mean")
    result.cells_to_csv(tmp_path / "cells.csv")
    assert len((tmp_path / "cells.csv").read_text().splitlines()) == 1 + 3 * len(LEADS) * 6
    figure = result.plot(tmp_path / "state_predictor.png")
    assert (tmp_path / "state_predictor.png").stat().st_size > 0
    assert len(figure.axes) == 2


def test_bad_sessions_are_refused():
    session = future_copy_session(trials=8, bins=30, directions=4)
    with pytest.raises(ValueError, match="no 'dentate' population"):
        analyse(Session({"mossy": session.populations["mossy"]}, 10.0, session.conditions), leads_ms=[0])
    one_direction = Session(session.populations, 10.0, {"target": np.zeros(8, dtype=int)})
    with pytest.raises(ValueError, match="one target direction"):
        analyse(one_direction, leads_ms=[0])
    with pytest.raises(ValueError, match="leave"):
        analyse(session, leads_ms=[-150, 150])
    with pytest.raises(TypeError, match="control 'x'"):
        analyse(session, leads_ms=[0], controls={"x": 3})


def test_without_scikit_learn_the_error_names_the_extra(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "sklearn", None)
    monkeypatch.setitem(sys.modules, "sklearn.linear_model", None)
    with pytest.raises(ImportError, match=r"pip install 'cerebellar\[analysis\]'"):
        analyse(future_copy_session(trials=8, bins=30, directions=4), leads_ms=[0])
