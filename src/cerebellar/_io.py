"""Checkpoint files: ``.npz`` archives written atomically and read without pickle.

A checkpoint holds a format tag, the class name, the hyperparameters as JSON and
the learned arrays. Loading never unpickles: the archive is read member by
member with :mod:`zipfile` and the ``.npy`` headers parsed by
:mod:`numpy.lib.format`; an array of Python objects (which only pickle could
read) is refused before its data is touched. So a file from an untrusted source
cannot run code, and anything unreadable raises :class:`CheckpointError` naming
the file and the problem.

Writing goes through :func:`atomic_write`: a temporary file beside the target,
renamed over it when complete. Temporary files are named
``.<target name>.<pid>.<random>.tmp``; one left behind by a process that was
killed mid-save is removed by the next save to the same target.
"""

from __future__ import annotations

import json
import math
import os
import re
import secrets
import stat
import time
import zipfile
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from ._validation import check_path

FORMAT_TAG = "cerebellar-checkpoint-v1"

#: A temporary file whose process is not running, or untouched for this many seconds, is stale.
STALE_AFTER = 3600.0
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")  # a member, or an empty archive
_NPY_MAGIC = b"\x93NUMPY"
_HEADER_KEYS = ("__format__", "__kind__", "__params__")
# dtype kinds a checkpoint may hold: numbers (complex only to be refused with a clear
# message later) and text for the header.
_READABLE_KINDS = "biufcU"


class CheckpointError(ValueError):
    """A checkpoint file is missing, corrupt, or of the wrong kind."""


class _Damaged(Exception):
    """What is wrong with a file that cannot be read as an .npz archive (for CheckpointError)."""


# -- writing ---------------------------------------------------------------------------------


def pyplot(headless: bool = False):
    """Return ``matplotlib.pyplot``, on the Agg backend when ``headless`` (a figure saved, not shown).

    Raises
    ------
    ImportError
        Naming the ``plot`` extra, when matplotlib is not installed.
    """
    try:
        import matplotlib

        if headless:
            matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as error:  # pragma: no cover - depends on the extra
        raise ImportError("plotting needs matplotlib: pip install 'cerebellar[plot]'") from error
    return plt


def _temporary_pattern(name: str) -> re.Pattern:
    # New names carry the writer's pid; the older mkstemp names (8 random characters,
    # no pid) are recognised too, so that files left by earlier versions are cleaned.
    escaped = re.escape(name)
    return re.compile(rf"\.{escaped}\.(?:(?P<pid>\d+)\.[A-Za-z0-9_]+|[a-z0-9_]{{8}})\.tmp")


def _process_running(pid: int) -> bool:
    if os.name != "posix":
        return True  # no safe probe (os.kill would signal it): rely on the age alone
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True  # PermissionError: it exists, under another user
    return True


def remove_stale_temporaries(path) -> list[Path]:
    """Remove temporary files that interrupted saves to ``path`` left behind.

    A temporary file of ``path`` (see the module docstring) is stale when the
    process that created it is no longer running, or it has not been modified
    for :data:`STALE_AFTER` seconds (which covers files from other machines and
    from older versions, whose names carry no process id). Files of live saves,
    including this process's, are kept.

    Returns
    -------
    list of pathlib.Path
        The files removed.
    """
    path = Path(path)
    pattern = _temporary_pattern(path.name)
    removed = []
    try:
        candidates = [entry for entry in os.scandir(path.parent) if pattern.fullmatch(entry.name)]
    except OSError:
        return removed
    now = time.time()
    for entry in candidates:
        pid = pattern.fullmatch(entry.name).group("pid")
        try:
            if not entry.is_file(follow_symlinks=False):
                continue
            age = now - entry.stat(follow_symlinks=False).st_mtime
            own = pid is not None and int(pid) == os.getpid()
            dead = pid is not None and not own and not _process_running(int(pid))
            if dead or (not own and age > STALE_AFTER):
                os.unlink(entry.path)
                removed.append(Path(entry.path))
        except OSError:
            continue  # another process removed or replaced it first
    return removed


def _create_temporary(target: Path) -> tuple[int, Path]:
    """Create a new temporary file beside ``target``; return its descriptor and path.

    Created like :func:`open` creates a file (mode 0666 less the umask), unless
    ``target`` exists, whose permission bits are then kept, as writing into it
    would keep them.
    """
    flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0) | getattr(os, "O_NOFOLLOW", 0)
    for _ in range(100):
        temporary = target.with_name(f".{target.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
        try:
            handle = os.open(temporary, flags, 0o666)
        except FileExistsError:
            continue
        try:
            existing = os.stat(target)
        except FileNotFoundError:
            pass
        else:
            try:
                os.chmod(handle, stat.S_IMODE(existing.st_mode))
            except (OSError, NotImplementedError):
                pass  # e.g. a file system without modes: the umask default stands
        return handle, temporary
    raise FileExistsError(f"could not create a temporary file beside {target}")


@contextmanager
def atomic_write(path, mode: str = "w", **open_kwargs):
    """Open a temporary file beside ``path``; on success, rename it over ``path``.

    A reader never sees a half-written file, and a failure (an exception in the
    ``with`` block) leaves the previous file at ``path`` untouched and removes the
    temporary one. Parent folders are created. Stale temporary files of ``path``
    from killed saves are removed first (:func:`remove_stale_temporaries`).

    A new file gets the permissions :func:`open` would give it (0666 less the
    umask); an existing file keeps its permission bits. If ``path`` is a
    symbolic link, it is followed: the link's target is replaced atomically and
    the link itself is kept.

    Parameters
    ----------
    path : str or os.PathLike
        The destination.
    mode : str
        ``"w"`` for text or ``"wb"`` for bytes.
    **open_kwargs
        Passed to :func:`open` (e.g. ``newline=""`` for CSV).
    """
    path = Path(check_path(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    # Follow symbolic links (also a dangling one, as open would): replacing the link
    # itself would turn it into a regular file and leave its target stale.
    target = Path(os.path.realpath(path)) if path.is_symlink() else path
    if target.is_dir():
        raise ValueError(f"path {path} is a directory, not a file")
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(target)
    handle, temporary = _create_temporary(target)
    try:
        with os.fdopen(handle, mode, **open_kwargs) as stream:
            yield stream
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def save_checkpoint(path, kind: str, params: dict, arrays: dict[str, np.ndarray]) -> Path:
    """Write a checkpoint atomically: to a temporary file, then rename over ``path``.

    Parameters
    ----------
    path : str or os.PathLike
        Destination; ``.npz`` is appended when missing, as numpy would. A
        symbolic link is followed (see :func:`atomic_write`).
    kind : str
        The class name stored for dispatch on load.
    params : dict
        JSON-serialisable hyperparameters.
    arrays : dict of str to numpy.ndarray
        Learned state. Keys must not start with ``__``.

    Returns
    -------
    pathlib.Path
        The path written.

    Raises
    ------
    ValueError
        If ``path`` names no file, or the hyperparameters are not JSON-serialisable.
    TypeError
        If ``path`` is not a str or os.PathLike.
    """
    path = Path(check_path(path))
    if path.suffix != ".npz":
        path = path.with_name(path.name + ".npz")
    try:
        header = json.dumps(params, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as error:
        raise ValueError(f"cannot save to {path}: the hyperparameters are not plain JSON values: "
                         f"{error}") from error
    payload = {
        "__format__": np.array(FORMAT_TAG),
        "__kind__": np.array(kind),
        "__params__": np.array(header),
    }
    for key, value in arrays.items():
        if key.startswith("__"):
            raise ValueError(f"array names must not start with '__', got {key!r}")
        payload[key] = np.asarray(value)
    with atomic_write(path, "wb") as stream:
        np.savez(stream, **payload)
    return path


# -- reading ---------------------------------------------------------------------------------


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, key: str) -> np.ndarray:
    """Read one ``.npy`` member, refusing object arrays and sizes the member cannot hold."""
    with archive.open(info) as member:
        try:
            version = np.lib.format.read_magic(member)
            if version == (1, 0):
                shape, fortran_order, dtype = np.lib.format.read_array_header_1_0(member)
            elif version == (2, 0):
                shape, fortran_order, dtype = np.lib.format.read_array_header_2_0(member)
            else:
                raise ValueError(f"unsupported .npy format version {version}")
        except zipfile.BadZipFile:
            raise  # a damaged archive (e.g. a bad CRC), not a damaged header
        except Exception as error:  # numpy raises ValueError, tokenize.TokenError, SyntaxError...
            detail = str(error).splitlines()[0][:200] if str(error) else ""
            if "pickle" in str(error):  # never pass on numpy's advice to use allow_pickle
                detail = "the header is too large to parse safely"
            kind = type(error).__name__
            raise _Damaged(f"array {key!r} has a damaged header ({kind}: {detail})") from error
        if dtype.hasobject:
            raise _Damaged(f"array {key!r} holds Python objects, which only pickle could read; "
                           "checkpoints never load pickled data")
        if dtype.kind not in _READABLE_KINDS or dtype.fields is not None or dtype.subdtype is not None:
            raise _Damaged(f"array {key!r} has unsupported dtype {dtype}")
        if any(size < 0 for size in shape):
            raise _Damaged(f"array {key!r} has a negative size in its shape {shape}")
        count = math.prod(shape)
        expected = count * dtype.itemsize
        if expected > info.file_size:  # before allocating anything of that size
            raise _Damaged(f"array {key!r} claims shape {shape} of {dtype}, more than its "
                           f"{info.file_size} bytes hold")
        # Reading one byte past the end makes zipfile verify the member's CRC.
        data = member.read(expected + 1)
    if len(data) != expected:
        raise _Damaged(f"array {key!r} holds {len(data)} bytes of data, expected {expected}")
    flat = np.frombuffer(data, dtype=dtype, count=count)
    return flat.reshape(shape, order="F" if fortran_order else "C").copy()


def _read_arrays(path: Path) -> dict[str, np.ndarray]:
    with open(path, "rb") as stream:
        head = stream.read(8)
    if head.startswith(_NPY_MAGIC):
        raise _Damaged("it is a single .npy array (save a model with model.save)")
    if head[:1] == b"\x80":
        raise _Damaged("it looks like a Python pickle, and checkpoints never load pickled data")
    if not head.startswith(_ZIP_MAGIC):
        raise _Damaged("it has no zip signature")
    arrays = {}
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            if not info.filename.endswith(".npy") or info.is_dir():
                raise _Damaged(f"unexpected member {info.filename!r}")
            key = info.filename[: -len(".npy")]
            if key in arrays:
                raise _Damaged(f"array {key!r} is stored twice")
            arrays[key] = _read_member(archive, info, key)
    return arrays


def _header_text(contents: dict, key: str) -> str:
    value = contents[key]
    if value.dtype.kind != "U" or value.shape != ():
        raise ValueError(f"{key} must be a text scalar, got {value.dtype} of shape {value.shape}")
    return str(value)


def load_checkpoint(path) -> tuple[str, dict, dict[str, np.ndarray]]:
    """Read a checkpoint written by :func:`save_checkpoint`.

    The header is checked (format tag, kind, hyperparameters as a JSON
    object), and every other array must be real numbers and finite; checking
    shapes and ranges against the hyperparameters is the model's job.

    Returns
    -------
    kind : str
        The stored class name.
    params : dict
        The hyperparameters.
    arrays : dict of str to numpy.ndarray
        The learned state.

    Raises
    ------
    CheckpointError
        If the file is missing, not a cerebellar checkpoint, or corrupt.
    """
    try:
        path = Path(check_path(path))
    except (TypeError, ValueError) as error:
        raise CheckpointError(str(error)) from error
    if not path.exists():
        raise CheckpointError(f"checkpoint {path} does not exist")
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} is not a file")
    try:
        contents = _read_arrays(path)
    except _Damaged as error:
        raise CheckpointError(f"checkpoint {path} is corrupt or not an .npz file: {error}") from error
    except Exception as error:
        # Damage can surface from zipfile, zlib or struct as almost any exception
        # (BadZipFile, EOFError, NotImplementedError for an unknown compression method,
        # RuntimeError for "encryption"...): all of it means a corrupt file.
        raise CheckpointError(f"checkpoint {path} is corrupt or not an .npz file: "
                              f"{type(error).__name__}: {error}") from error
    if "__format__" not in contents or contents["__format__"].dtype.kind != "U" or \
            str(contents["__format__"]) != FORMAT_TAG:
        raise CheckpointError(f"{path} is not a cerebellar checkpoint (no {FORMAT_TAG!r} tag)")
    try:
        kind = _header_text(contents, "__kind__")
        params = json.loads(_header_text(contents, "__params__"))
        if not isinstance(params, dict):
            raise ValueError(f"the hyperparameters must be a JSON object, got {params!r}")
    except (KeyError, ValueError, RecursionError) as error:  # JSONDecodeError is a ValueError
        raise CheckpointError(f"checkpoint {path} has a damaged header: {error!r}") from error
    for key in _HEADER_KEYS:
        contents.pop(key)
    for key, value in contents.items():
        if value.dtype.kind not in "biuf":
            raise CheckpointError(f"checkpoint {path}: array {key!r} has dtype {value.dtype}; "
                                  "checkpoints hold real numbers only")
        if value.dtype.kind == "f" and not np.all(np.isfinite(value)):
            raise CheckpointError(f"checkpoint {path}: array {key!r} holds NaN or infinite values")
    return kind, params, contents
