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


# -- every array is validated -------------------------------------------------------------


def tampered(tmp_path, checkpoint, **changes):
    """Rewrite ``checkpoint`` with some arrays replaced (None: removed); return the new path."""
    data = contents(checkpoint)
    for key, value in changes.items():
        if value is None:
            del data[key]
        else:
            data[key] = value
    path = tmp_path / "tampered.npz"
    np.savez(path, **data)
    return path


def with_entry(array, index, value):
    array = np.array(array, copy=True)
    array[index] = value
    return array


@pytest.mark.parametrize(
    ("name", "change", "message"),
    [
        # wrong shapes, including ones consistent with nothing else in the file
        ("rls", {"mossy_mean_square": np.ones(7)}, "mossy_mean_square.*shape"),
        ("rls", {"weights": np.zeros((2, 5))}, "weights.*shape"),
        ("rls", {"covariance": np.eye(5)}, "covariance.*shape"),
        ("rls", {"n_state": np.array([2])}, "n_state.*shape"),
        ("rls", {"n_state": np.array(3)}, "mossy_mean_square.*shape"),
        ("cerebellum", {"cmac_salt": np.zeros(3, dtype=np.int64)}, "cmac_salt.*shape"),
        # wrong dtypes
        ("rls", {"weights": np.zeros((2, 4), dtype=complex)}, "weights.*complex"),
        ("rls", {"covariance": np.eye(4).astype(int)}, "covariance.*dtype"),
        ("rls", {"n_learned": np.array(50.0)}, "n_learned.*integer"),
        ("cerebellum", {"cmac_multipliers": np.ones(3)}, "cmac_multipliers.*integer"),
        ("rls", {"weights": np.zeros((2, 4), dtype=bool)}, "weights.*dtype"),
        # out of range
        ("nlms", {"mossy_mean_square": np.array([1.0, -0.5, 1.0])}, "mossy_mean_square.*negative"),
        ("rls", {"mossy_mean_square": np.array([1.0, 2.0, 1.0])}, "mossy_mean_square.*fixed input scale"),
        ("rls", {"n_learned": np.array(-1)}, "n_learned.*at least 0"),
        ("nlms", {"mossy_count": np.array(-3)}, "mossy_count.*at least 0"),
        ("rls", {"n_command": np.array(0)}, "n_command.*at least 1"),
        ("rls", {"covariance": with_entry(np.eye(4), (0, 3), 0.5)}, "covariance.*not symmetric"),
        ("rls", {"covariance": -np.eye(4)}, "covariance.*positive semi-definite"),
        ("rls", {"covariance": 1e9 * np.eye(4)}, "covariance.*trace cap"),
        ("cerebellum", {"nuclear_covariance": with_entry(np.eye(4), (1, 2), 1.0)}, "nuclear_covariance"),
        ("cerebellum-smooth", {"covariance": None}, "covariance.*missing"),
        # missing and unexpected arrays
        ("rls", {"n_learned": None}, "n_learned.*missing"),
        ("nlms", {"mossy_mean_square": None}, "mossy_mean_square.*missing"),
        ("rls", {"extra": np.zeros(2)}, "unexpected arrays.*extra"),
    ],
)
def test_tampered_arrays_are_refused(tmp_path, name, change, message):
    checkpoint = trained(name).save(tmp_path / "model.npz")
    path = tampered(tmp_path, checkpoint, **change)
    model_class = type(make_model(name))
    for loader in (load, model_class.load):
        with pytest.raises(CheckpointError, match=message):
            loader(path)


def test_a_checkpoint_from_float32_and_int32_arrays_still_loads(tmp_path, checkpoint):
    # Other real dtypes are converted, as before (the dtype kind is what is checked).
    data = contents(checkpoint)
    path = tampered(tmp_path, checkpoint, n_learned=data["n_learned"].astype(np.int32),
                    mossy_count=data["mossy_count"].astype(np.uint8))
    np.testing.assert_array_equal(load(path).predict(*PROBE), trained().predict(*PROBE))


def npy_bytes(array):
    import io

    stream = io.BytesIO()
    np.lib.format.write_array(stream, array)
    return stream.getvalue()


def rewrite_member(path, key, change):
    """Rewrite one .npy member's bytes with ``change``, keeping the zip itself valid (CRCs recomputed)."""
    import zipfile

    members = {k: npy_bytes(v) for k, v in contents(path).items()}
    members[key] = change(members[key])
    with zipfile.ZipFile(path, "w") as archive:
        for k, data in members.items():
            archive.writestr(k + ".npy", data)


@pytest.mark.parametrize(
    "change",
    [
        lambda b: b.replace(b"{'descr'", b"{'''descr'", 1),  # tokenize.TokenError before the fix
        lambda b: b.replace(b"'shape': (", b"'shape': [(", 1),  # tokenize.TokenError as well
        lambda b: b.replace(b"{'descr'", b"('descr'", 1),
        lambda b: b.replace(b"'shape': (2, 4)", b"'shape': (-2, -4)", 1),
        lambda b: b[:8] + (60000).to_bytes(2, "little") + b[10:],
        lambda b: b[:6] + b"\x07\x00" + b[8:],  # unknown .npy version
    ],
    ids=["open-string", "open-bracket", "not-a-dict", "negative-shape", "header-length", "version"],
)
def test_damaged_npy_headers_are_checkpoint_errors(checkpoint, change):
    rewrite_member(checkpoint, "weights", change)
    with pytest.raises(CheckpointError, match="corrupt"):
        load(checkpoint)


def test_a_header_claiming_a_huge_shape_allocates_nothing(checkpoint):
    # Before the fix numpy tried to allocate 60 GB (MemoryError) for a 200-byte member.
    rewrite_member(checkpoint, "weights",
                   lambda b: b.replace(b"'shape': (2, 4)", b"'shape': (2000000, 4000)", 1))
    with pytest.raises(CheckpointError, match="claims shape"):
        load(checkpoint)


def test_no_message_advises_allow_pickle(tmp_path, checkpoint):
    import pickle

    cases = {}
    data = contents(checkpoint)
    data["weights"] = np.array([1, "a"], dtype=object)
    cases["object array"] = tmp_path / "object.npz"
    np.savez(cases["object array"], **data)
    cases["pickle"] = tmp_path / "pickle.npz"
    cases["pickle"].write_bytes(pickle.dumps({"weights": [1.0]}))
    cases["huge header"] = tmp_path / "header.npz"
    cases["huge header"].write_bytes(checkpoint.read_bytes())

    def big_header(member):
        header = "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 4), " + " " * 20000 + "}\n"
        return b"\x93NUMPY\x02\x00" + len(header).to_bytes(4, "little") + header.encode() + member[-64:]

    rewrite_member(cases["huge header"], "weights", big_header)
    for label, path in cases.items():
        with pytest.raises(CheckpointError) as caught:
            load(path)
        assert "allow_pickle" not in str(caught.value), label
        assert "corrupt or not an .npz file" in str(caught.value), label


def test_a_npy_file_is_a_checkpoint_error(tmp_path):
    path = tmp_path / "weights.npy"
    np.save(path, np.eye(3))
    with pytest.raises(CheckpointError, match="single .npy array"):
        load(path)
    with pytest.raises(CheckpointError, match="single .npy array"):
        RLS.load(path)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"__params__": np.array("[1, 2]")}, "damaged header.*JSON object"),
        ({"__params__": np.array(3.0)}, "damaged header.*text"),
        ({"__params__": np.array(["{}", "{}"])}, "damaged header.*text"),
        ({"__kind__": np.array(["RLS", "RLS"])}, "damaged header"),
        ({"__params__": np.array("[" * 100000 + "]" * 100000)}, "damaged header"),
        ({"__format__": np.array(["cerebellar-checkpoint-v1"])}, "not a cerebellar checkpoint"),
        ({"__params__": np.array('{"forgetting": "0.999"}')}, "incomplete or inconsistent.*forgetting"),
        ({"__params__": np.array('{"forgetting": NaN}')}, "incomplete or inconsistent.*forgetting"),
    ],
)
def test_damaged_metadata(tmp_path, checkpoint, change, message):
    path = tampered(tmp_path, checkpoint, **change)
    with pytest.raises(CheckpointError, match=message):
        load(path)


def test_a_directory_or_an_empty_path_is_a_checkpoint_error(tmp_path):
    with pytest.raises(CheckpointError, match="not a file"):
        load(tmp_path)
    with pytest.raises(CheckpointError, match="path"):
        load("")
