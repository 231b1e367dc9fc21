"""Session: validation, and exact round trips through .npz and NWB."""

import sys
import zipfile
from datetime import UTC, datetime

import numpy as np
import pytest

from cerebellar.analysis import Session


def make_session(seed=0, trials=8, bins=30):
    rng = np.random.default_rng(seed)
    return Session(
        populations={"mossy": rng.random((trials, bins, 5)) * 50, "purkinje": rng.random((trials, bins, 4)),
                     "dentate": rng.poisson(3.0, (trials, bins, 3)).astype(float)},
        bin_ms=10.0,
        conditions={"target": np.arange(trials) % 4, "go_bin": np.full(trials, 3),
                    "arrival_bin": rng.integers(10, 20, trials), "speed": rng.random(trials)},
        signals={"observation": rng.normal(size=(trials, bins, 2)),
                 "command": rng.normal(size=(trials, bins, 1))},
        metadata={"delay_ms": 100, "noise_sigma": 0.01, "model": "test", "seed": seed, "spikes": True},
    )


def test_npz_round_trip_is_exact(tmp_path):
    session = make_session()
    path = session.save_npz(tmp_path / "session")
    assert path.suffix == ".npz"
    loaded = Session.load_npz(path)
    assert loaded == session
    assert loaded.conditions["target"].dtype == np.int64
    assert loaded.conditions["speed"].dtype == np.float64
    # the layout is the documented one, readable without pickle
    with np.load(path, allow_pickle=False) as archive:
        assert set(archive.files) == {
            "__format__", "bin_ms", "__metadata__", "population/mossy", "population/purkinje",
            "population/dentate", "condition/target", "condition/go_bin", "condition/arrival_bin",
            "condition/speed", "signal/observation", "signal/command"}


def test_nwb_round_trip_is_exact(tmp_path):
    session = make_session(seed=3)
    session.to_nwb(tmp_path / "session.nwb")
    loaded = Session.from_nwb(tmp_path / "session.nwb")
    assert loaded == session
    for name, array in session.populations.items():
        np.testing.assert_array_equal(loaded.populations[name], array)


def test_a_users_own_nwb_file_with_gaps_between_trials_loads(tmp_path):
    """Binned rates written with pynwb directly (timestamps, a pause between trials) load."""
    import pynwb  # the nwb extra (in dev): not skipped, a missing pynwb fails here

    trials, bins, bin_s = 4, 12, 0.02
    rng = np.random.default_rng(1)
    rates = rng.random((trials, bins, 6))
    nwbfile = pynwb.NWBFile(session_description="user", identifier="u1",
                            session_start_time=datetime(2020, 1, 1, tzinfo=UTC))
    nwbfile.add_trial_column(name="target", description="direction index")
    timestamps = []
    for trial in range(trials):
        start = 5.0 * trial + 0.5  # 5 s apart: gaps the series does not cover
        nwbfile.add_trial(start_time=start, stop_time=start + bins * bin_s, target=trial % 2)
        timestamps.append(start + np.arange(bins) * bin_s)
    module = nwbfile.create_processing_module(name="populations", description="binned rates")
    module.add(pynwb.TimeSeries(name="mossy", data=rates.reshape(-1, 6), unit="Hz",
                                timestamps=np.concatenate(timestamps)))
    with pynwb.NWBHDF5IO(str(tmp_path / "user.nwb"), mode="w") as io:
        io.write(nwbfile)
    loaded = Session.from_nwb(tmp_path / "user.nwb")
    np.testing.assert_array_equal(loaded.populations["mossy"], rates)
    np.testing.assert_array_equal(loaded.targets, [0, 1, 0, 1])
    assert loaded.bin_ms == pytest.approx(20.0)


def test_validation_names_what_is_wrong():
    good = make_session()
    mossy = good.populations["mossy"]
    with pytest.raises(ValueError, match="disagree on trials and bins"):
        Session({"mossy": mossy, "dentate": mossy[:, :-1]}, 10.0, {"target": good.targets})
    with pytest.raises(ValueError, match="'target'"):
        Session({"mossy": mossy}, 10.0, {"go_bin": good.targets})
    with pytest.raises(ValueError, match="integer direction"):
        Session({"mossy": mossy}, 10.0, {"target": good.targets + 0.5})
    with pytest.raises(ValueError, match="condition 'target' must have shape"):
        Session({"mossy": mossy}, 10.0, {"target": good.targets[:-1]})
    bad = mossy.copy()
    bad[1, 2, 3] = np.nan
    with pytest.raises(ValueError, match=r"population 'mossy' contains NaN.*\[1, 2, 3\]"):
        Session({"mossy": bad}, 10.0, {"target": good.targets})
    with pytest.raises(ValueError, match="3 dimensions"):
        Session({"mossy": mossy[0]}, 10.0, {"target": good.targets})
    with pytest.raises(ValueError, match="signal 'u'"):
        Session({"mossy": mossy}, 10.0, {"target": good.targets}, signals={"u": mossy[:, :5]})
    with pytest.raises(ValueError, match="bin_ms"):
        Session({"mossy": mossy}, 0.0, {"target": good.targets})
    with pytest.raises(ValueError, match="metadata must be plain JSON"):
        Session({"mossy": mossy}, 10.0, {"target": good.targets}, metadata={"x": object()})


def test_session_copies_its_inputs():
    mossy = np.ones((2, 3, 1))
    session = Session({"mossy": mossy}, 5.0, {"target": [0, 1]})
    mossy[:] = 7.0
    assert np.all(session.populations["mossy"] == 1.0)


def test_load_refuses_pickled_objects_and_foreign_archives(tmp_path):
    path = tmp_path / "objects.npz"
    np.savez(path, **{"__format__": np.array("cerebellar-session-v1"), "bin_ms": np.array(10.0),
                      "population/mossy": np.array([{"a": 1}], dtype=object)})
    with pytest.raises(ValueError, match="pickle"):
        Session.load_npz(path)
    foreign = tmp_path / "foreign.npz"
    np.savez(foreign, x=np.zeros(3))
    with pytest.raises(ValueError, match="not a cerebellar session"):
        Session.load_npz(foreign)
    broken = tmp_path / "broken.npz"
    with zipfile.ZipFile(broken, "w") as archive:
        archive.writestr("junk.txt", "hello")
    with pytest.raises(ValueError, match="not a"):
        Session.load_npz(broken)


def test_concatenate_joins_trials():
    a, b = make_session(0, trials=4), make_session(1, trials=6)
    joined = Session.concatenate([a, b])
    assert joined.n_trials == 10
    np.testing.assert_array_equal(joined.populations["dentate"][4:], b.populations["dentate"])
    np.testing.assert_array_equal(joined.targets, np.concatenate([a.targets, b.targets]))
    with pytest.raises(ValueError, match="differ"):
        Session.concatenate([a, a.with_population("extra", a.populations["mossy"])])


def test_nwb_without_pynwb_names_the_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "pynwb", None)  # import pynwb now raises ImportError
    with pytest.raises(ImportError, match=r"pip install 'cerebellar\[nwb\]'"):
        make_session().to_nwb(tmp_path / "x.nwb")
    with pytest.raises(ImportError, match="nwb"):
        Session.from_nwb(tmp_path / "x.nwb")
