"""`cerebellar analyse state-predictor`: on a generated recording (--input), and its simulation wiring."""

import json
import sys
import types

import numpy as np
import pytest

from cerebellar.analysis import future_copy_session
from cerebellar.cli import main

LEAD_MS = 50.0


@pytest.fixture(scope="module")
def recording(tmp_path_factory):
    folder = tmp_path_factory.mktemp("recording")
    session = future_copy_session(lead_bins=5, trials=16, bins=60, seed=4)
    return session, session.save_npz(folder / "session.npz"), session.to_nwb(folder / "session.nwb")


@pytest.mark.parametrize("kind", ["npz", "nwb"])
def test_input_prints_one_json_object_with_the_answer(recording, kind, capsys):
    _, npz, nwb = recording
    assert main(["analyse", "state-predictor", "--input", str(npz if kind == "npz" else nwb),
                 "--out", "", "--json"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1
    out = json.loads(lines[0])
    assert len(out["leads_ms"]) == len(out["r2_mean"]) == len(out["delta_r2"]) == 41
    assert out["peak_lead_ms"] == LEAD_MS
    assert out["r2_mean"][out["leads_ms"].index(LEAD_MS)] > 0.999
    assert set(out["controls"]) == {"lowpass", "shuffled"}
    for control in out["controls"].values():
        assert len(control["r2_mean"]) == len(control["delta_r2"]) == 41
    assert out["controls"]["lowpass"]["peak_lead_ms"] <= 0


def test_input_from_npz_and_nwb_give_the_same_numbers(recording, capsys):
    _, npz, nwb = recording
    outputs = []
    for path in (npz, nwb):
        main(["analyse", "state-predictor", "--input", str(path), "--out", "", "--json"])
        out = json.loads(capsys.readouterr().out)
        out.pop("source")
        out["settings"].pop("metadata")
        outputs.append(out)
    assert outputs[0] == outputs[1]


def test_out_writes_the_figure_and_tables(recording, tmp_path, capsys):
    _, npz, _ = recording
    assert main(["analyse", "state-predictor", "--input", str(npz), "--out", str(tmp_path)]) == 0
    text = capsys.readouterr().out
    assert "delta R2 peaks at 50 ms" in text
    for name in ("state_predictor.png", "state_predictor.csv", "state_predictor_cells.csv",
                 "state_predictor.json"):
        assert (tmp_path / name).stat().st_size > 0
    header = (tmp_path / "state_predictor.csv").read_text().splitlines()[0]
    assert header == "session,lead_ms,r2_mean,r2_q25,r2_median,r2_q75,baseline_r2_mean,delta_r2"


def test_bad_input_is_an_error_naming_it(tmp_path, capsys):
    assert main(["analyse", "state-predictor", "--input", str(tmp_path / "x.csv"), "--out", ""]) == 2
    assert "--input must be a .npz or .nwb" in capsys.readouterr().err
    assert main(["analyse", "state-predictor", "--input", str(tmp_path / "none.npz"), "--out", ""]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_simulation_path_passes_the_flags_and_analyses_every_control(monkeypatch, capsys):
    """The CLI calls analysis.simulate.simulate_sessions (the population model's) with its flags."""
    calls = []

    def simulate_sessions(delay_ms, noise_sigma, seeds, sessions):
        calls.append((delay_ms, noise_sigma, list(seeds), sessions))
        model = future_copy_session(lead_bins=4, trials=16, bins=60, seed=0)
        rng = np.random.default_rng(0)
        blank = model.with_population("dentate", rng.normal(size=model.populations["dentate"].shape))
        return {"model": model, "blank": blank, "feedback": future_copy_session(lead_bins=0, trials=16,
                                                                                 bins=60, seed=1)}

    fake = types.ModuleType("cerebellar.analysis.simulate")
    fake.simulate_sessions = simulate_sessions
    monkeypatch.setitem(sys.modules, "cerebellar.analysis.simulate", fake)
    assert main(["analyse", "state-predictor", "--delay-ms", "40", "--noise", "0.01", "--seeds", "2:4",
                 "--sessions", "3", "--out", "", "--json"]) == 0
    assert calls == [(40.0, 0.01, [2, 3], 3)]
    out = json.loads(capsys.readouterr().out)
    assert out["peak_lead_ms"] == 40.0
    assert set(out["controls"]) == {"lowpass", "shuffled", "blank", "feedback"}
    assert out["controls"]["feedback"]["peak_delta_r2"] < 0.5 * out["peak_delta_r2"]
