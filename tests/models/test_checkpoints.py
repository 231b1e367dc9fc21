"""Checkpoint files: every kind of damage is reported as CheckpointError; saving is atomic."""

import pathlib

import numpy as np
import pytest

import cerebellar
from cerebellar import CheckpointError
from cerebellar.models import NLMS, RLS, Cerebellum, load, make_model

PROBE = (np.array([0.3, -1.2]), np.array([0.7]))


def trained(name="rls", n_steps=50, seed=0):
    model = make_model(name, seed=seed)
    rng = np.random.default_rng(seed)
    for _ in range(n_steps):
        state, command = rng.standard_normal(2), rng.standard_normal(1)
        model.learn(state, command, 0.9 * state + 0.2 * command)
    return model


def contents(path):
    with np.load(path) as archive:
        return {key: archive[key] for key in archive.files}


@pytest.fixture
def checkpoint(tmp_path):
    return trained().save(tmp_path / "model.npz")


def test_round_trip_is_exact(checkpoint):
    original = trained()
    for loaded in (load(checkpoint), RLS.load(checkpoint)):
        assert isinstance(loaded, RLS)
        np.testing.assert_array_equal(loaded.predict(*PROBE), original.predict(*PROBE))


def test_save_appends_npz(tmp_path):
    path = trained().save(tmp_path / "model")
    assert path == tmp_path / "model.npz"
    assert path.is_file()


def test_missing_file(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist"):
        load(tmp_path / "nowhere.npz")


@pytest.mark.parametrize("keep", [0, 10, 100, 0.5, -22, -1])
def test_truncated_file(checkpoint, keep):
    data = checkpoint.read_bytes()
    size = int(len(data) * keep) if isinstance(keep, float) else keep % len(data)
    checkpoint.write_bytes(data[:size])
    with pytest.raises(CheckpointError, match="corrupt or not an .npz file"):
        load(checkpoint)


@pytest.mark.parametrize("seed", range(5))
def test_random_bytes(tmp_path, seed):
    path = tmp_path / "noise.npz"
    path.write_bytes(np.random.default_rng(seed).bytes(3000))
    with pytest.raises(CheckpointError, match="corrupt or not an .npz file"):
        load(path)


def test_corrupted_array_data_fails_the_zip_checksum(checkpoint):
    # Flip one byte inside the stored covariance matrix (its last bytes end the array data).
    data = bytearray(checkpoint.read_bytes())
    position = data.index(np.ascontiguousarray(trained().covariance_).tobytes()[-16:])
    data[position] ^= 0x01
    checkpoint.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="corrupt"):
        load(checkpoint)


def test_npz_without_format_tag(tmp_path, checkpoint):
    untagged = {key: value for key, value in contents(checkpoint).items() if key != "__format__"}
    path = tmp_path / "plain.npz"
    np.savez(path, **untagged)
    with pytest.raises(CheckpointError, match="not a cerebellar checkpoint"):
        load(path)
    # An .npz of someone else's arrays is no better.
    np.savez(path, weights=np.eye(3))
    with pytest.raises(CheckpointError, match="not a cerebellar checkpoint"):
        load(path)


def test_wrong_format_tag(tmp_path, checkpoint):
    data = contents(checkpoint)
    data["__format__"] = np.array("cerebellar-checkpoint-v0")
    path = tmp_path / "old.npz"
    np.savez(path, **data)
    with pytest.raises(CheckpointError, match="not a cerebellar checkpoint"):
        load(path)


@pytest.mark.parametrize(
    ("cls", "wrong_class"),
    [(RLS, NLMS), (NLMS, Cerebellum), (Cerebellum, RLS)],
)
def test_checkpoint_of_another_kind(tmp_path, cls, wrong_class):
    model = cls()
    model.learn([0.1, 0.2], [0.3], [0.2, 0.1])
    path = model.save(tmp_path / "model.npz")
    with pytest.raises(CheckpointError, match=f"holds a {cls.__name__}, not a {wrong_class.__name__}"):
        wrong_class.load(path)
    assert type(load(path)) is type(model)  # the generic loader dispatches correctly


def test_unknown_kind(tmp_path, checkpoint):
    data = contents(checkpoint)
    data["__kind__"] = np.array("Hippocampus")
    path = tmp_path / "other.npz"
    np.savez(path, **data)
    with pytest.raises(CheckpointError, match="unknown model kind 'Hippocampus'"):
        load(path)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"__params__": np.array("{not json")}, "damaged header"),
        ({"__kind__": None}, "damaged header"),
        ({"__params__": np.array('{"learning_rate": 0.1}')}, "incomplete or inconsistent"),
        ({"covariance": None}, "incomplete or inconsistent.*covariance"),
    ],
)
def test_damaged_contents(tmp_path, checkpoint, change, message):
    data = contents(checkpoint)
    for key, value in change.items():
        if value is None:
            del data[key]
        else:
            data[key] = value
    path = tmp_path / "damaged.npz"
    np.savez(path, **data)
    with pytest.raises(CheckpointError, match=message):
        RLS.load(path)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
@pytest.mark.parametrize("key", ["weights", "covariance", "mossy_mean_square"])
def test_non_finite_array(tmp_path, checkpoint, key, bad):
    data = contents(checkpoint)
    data[key] = data[key].copy()
    data[key].flat[0] = bad
    path = tmp_path / "nan.npz"
    np.savez(path, **data)
    with pytest.raises(CheckpointError, match=f"array '{key}' holds NaN or infinite values"):
        load(path)


class _Payload:
    """Unpickling this creates a marker file: proof that code ran."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return pathlib.Path.touch, (self.marker,)


def test_pickled_object_array_is_refused_without_unpickling(tmp_path, checkpoint):
    marker = tmp_path / "pwned"
    data = contents(checkpoint)
    data["weights"] = np.array([_Payload(marker)], dtype=object)
    path = tmp_path / "evil.npz"
    np.savez(path, **data)  # numpy pickles object arrays when saving
    for loader in (load, RLS.load):
        with pytest.raises(CheckpointError, match="corrupt or not an .npz file.*pickle"):
            loader(path)
    assert not marker.exists()
    # The payload is live: unpickling it does create the marker.
    with np.load(path, allow_pickle=True) as archive:
        archive["weights"]
    assert marker.exists()


def test_pickle_file_renamed_npz_is_refused(tmp_path):
    import pickle

    marker = tmp_path / "pwned"
    path = tmp_path / "evil.npz"
    path.write_bytes(pickle.dumps(_Payload(marker)))
    with pytest.raises(CheckpointError, match="pickle"):
        load(path)
    assert not marker.exists()


# -- atomic saving ------------------------------------------------------------------------


def test_save_leaves_only_the_checkpoint(tmp_path):
    model = trained()
    model.save(tmp_path / "model.npz")
    model.learn([0.5, 0.5], [0.5], [0.1, 0.1])
    model.save(tmp_path / "model.npz")  # replaces the first one
    assert [p.name for p in tmp_path.iterdir()] == ["model.npz"]
    np.testing.assert_array_equal(load(tmp_path / "model.npz").predict(*PROBE), model.predict(*PROBE))


def test_save_creates_missing_directories(tmp_path):
    path = trained().save(tmp_path / "runs" / "7" / "model.npz")
    assert path.is_file()


def test_failed_save_keeps_the_old_file_and_leaves_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "model.npz"
    old = trained(n_steps=50)
    old.save(path)
    old_bytes = path.read_bytes()
    real_savez = np.savez

    def savez_that_dies_midway(stream, **arrays):
        real_savez(stream, **arrays)  # the whole archive is written to the temporary file ...
        stream.truncate(stream.tell() // 2)  # ... then half of it is lost, and the process fails
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", savez_that_dies_midway)
    new = trained(n_steps=80)
    with pytest.raises(OSError, match="disk full"):
        new.save(path)
    monkeypatch.undo()
    assert path.read_bytes() == old_bytes
    np.testing.assert_array_equal(load(path).predict(*PROBE), old.predict(*PROBE))
    assert [p.name for p in tmp_path.iterdir()] == ["model.npz"]
    # The new model really was different, so an overwrite would have been detected.
    assert not np.array_equal(new.predict(*PROBE), old.predict(*PROBE))


def test_interrupted_save_keeps_the_old_file(tmp_path, monkeypatch):
    # KeyboardInterrupt is not an Exception; the temporary must still be cleaned up.
    path = tmp_path / "model.npz"
    trained().save(path)
    old_bytes = path.read_bytes()

    def interrupted(stream, **arrays):
        stream.write(b"PK\x03\x04 partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "savez", interrupted)
    with pytest.raises(KeyboardInterrupt):
        trained(n_steps=10).save(path)
    assert path.read_bytes() == old_bytes
    assert [p.name for p in tmp_path.iterdir()] == ["model.npz"]


def test_checkpoint_error_is_exported_and_a_value_error():
    assert cerebellar.CheckpointError is CheckpointError
    assert issubclass(CheckpointError, ValueError)
