"""The atomic writer: stale temporaries are cleaned, permissions follow the umask, symlinks are kept."""

import os
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

import cerebellar
from cerebellar._io import atomic_write
from cerebellar.models import load, make_model

posix_only = pytest.mark.skipif(os.name != "posix", reason="POSIX permissions, signals and links")
PROBE = (np.array([0.3, -1.2]), np.array([0.7]))


def trained(n_steps=30, seed=0):
    model = make_model("rls", seed=seed)
    rng = np.random.default_rng(seed)
    for _ in range(n_steps):
        state, command = rng.standard_normal(2), rng.standard_normal(1)
        model.learn(state, command, 0.9 * state + 0.2 * command)
    return model


def names(directory):
    return sorted(p.name for p in Path(directory).iterdir())


@posix_only
def test_a_save_killed_midway_leaves_a_temporary_that_the_next_save_removes(tmp_path):
    path = tmp_path / "model.npz"
    trained().save(path)
    # A separate process starts saving over the checkpoint and is killed (SIGKILL: no
    # cleanup runs) after writing part of the archive.
    script = textwrap.dedent(f"""
        import os, signal, sys
        sys.path.insert(0, {str(Path(cerebellar.__file__).parents[1])!r})
        import numpy as np
        from cerebellar.models import make_model

        def savez_killed(stream, **arrays):
            stream.write(b"PK\\x03\\x04" + bytes(100000))
            stream.flush()
            os.kill(os.getpid(), signal.SIGKILL)

        np.savez = savez_killed
        model = make_model("rls")
        model.learn([0.0, 1.0], [1.0], [1.0, 0.0])
        model.save({str(path)!r})
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=120)
    assert result.returncode == -9, result.stderr.decode()
    leftovers = [name for name in names(tmp_path) if name != "model.npz"]
    assert len(leftovers) == 1 and leftovers[0].startswith(".model.npz.") and leftovers[0].endswith(".tmp")
    new = trained(n_steps=60)
    new.save(path)
    assert names(tmp_path) == ["model.npz"]
    np.testing.assert_array_equal(load(path).predict(*PROBE), new.predict(*PROBE))


def test_old_temporaries_without_a_process_id_are_removed_but_young_ones_kept(tmp_path):
    # Names as the previous writer (tempfile.mkstemp) made them: no process id to check.
    path = tmp_path / "model.npz"
    old, young = tmp_path / ".model.npz.ab12cd_9.tmp", tmp_path / ".model.npz.zz99yy00.tmp"
    for leftover in (old, young):
        leftover.write_bytes(b"partial")
    two_hours_ago = time.time() - 7200
    os.utime(old, (two_hours_ago, two_hours_ago))
    trained().save(path)
    assert names(tmp_path) == [young.name, "model.npz"]


def test_temporaries_of_live_saves_and_of_other_files_are_kept(tmp_path):
    path = tmp_path / "model.npz"
    mine = tmp_path / f".model.npz.{os.getpid()}.0123abcd.tmp"  # this process: a save in progress
    other_target = tmp_path / ".model.npz.backup.npz.99999999.0123abcd.tmp"
    unrelated = tmp_path / "notes.tmp"
    for keep in (mine, other_target, unrelated):
        keep.write_bytes(b"keep")
    long_ago = time.time() - 7200
    os.utime(mine, (long_ago - 1, long_ago))  # old, but its process is alive
    trained().save(path)
    assert names(tmp_path) == sorted([mine.name, other_target.name, unrelated.name, "model.npz"])


def test_a_failed_write_removes_its_temporary(tmp_path):
    with pytest.raises(RuntimeError, match="boom"):
        with atomic_write(tmp_path / "out.csv", "w") as stream:
            stream.write("half")
            raise RuntimeError("boom")
    assert names(tmp_path) == []


@posix_only
@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_new_files_respect_the_umask(tmp_path, umask, mode):
    previous = os.umask(umask)
    try:
        path = trained().save(tmp_path / "model.npz")
        with atomic_write(tmp_path / "table.csv") as stream:
            stream.write("a,b\n")
    finally:
        os.umask(previous)
    assert stat.S_IMODE(path.stat().st_mode) == mode
    assert stat.S_IMODE((tmp_path / "table.csv").stat().st_mode) == mode


@posix_only
def test_an_existing_file_keeps_its_permissions(tmp_path):
    path = trained().save(tmp_path / "model.npz")
    path.chmod(0o640)
    previous = os.umask(0o077)
    try:
        trained(n_steps=60).save(path)
    finally:
        os.umask(previous)
    assert stat.S_IMODE(path.stat().st_mode) == 0o640


@posix_only
def test_saving_through_a_symlink_replaces_its_target_and_keeps_the_link(tmp_path):
    (tmp_path / "runs").mkdir()
    target = trained().save(tmp_path / "runs" / "model-v1.npz")
    link = tmp_path / "latest.npz"
    link.symlink_to(Path("runs") / "model-v1.npz")
    new = trained(n_steps=60)
    assert new.save(link) == link
    assert link.is_symlink() and link.resolve() == target.resolve()
    np.testing.assert_array_equal(load(target).predict(*PROBE), new.predict(*PROBE))
    assert names(tmp_path / "runs") == ["model-v1.npz"]
    assert names(tmp_path) == ["latest.npz", "runs"]


@posix_only
def test_a_dangling_symlink_is_followed_as_open_would(tmp_path):
    link = tmp_path / "latest.npz"
    link.symlink_to("model.npz")
    model = trained()
    model.save(link)
    assert link.is_symlink() and (tmp_path / "model.npz").is_file()
    np.testing.assert_array_equal(load(tmp_path / "model.npz").predict(*PROBE), model.predict(*PROBE))
