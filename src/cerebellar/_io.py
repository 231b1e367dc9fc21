"""Checkpoint files: ``.npz`` archives written atomically and read without pickle.

A checkpoint holds a format tag, the class name, the hyperparameters as JSON and
the learned arrays. Loading never unpickles (``allow_pickle=False``), so a file
from an untrusted source cannot run code; anything unreadable raises
:class:`CheckpointError` naming the file and the problem.
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from contextlib import contextmanager
from pathlib import Path

import numpy as np

FORMAT_TAG = "cerebellar-checkpoint-v1"


class CheckpointError(ValueError):
    """A checkpoint file is missing, corrupt, or of the wrong kind."""


@contextmanager
def atomic_write(path, mode: str = "w", **open_kwargs):
    """Open a temporary file beside ``path``; on success, rename it over ``path``.

    A reader never sees a half-written file, and a failure (an exception in the
    ``with`` block) leaves the previous file at ``path`` untouched and removes the
    temporary one. Parent folders are created.

    Parameters
    ----------
    path : str or os.PathLike
        The destination.
    mode : str
        ``"w"`` for text or ``"wb"`` for bytes.
    **open_kwargs
        Passed to :func:`open` (e.g. ``newline=""`` for CSV).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, mode, **open_kwargs) as stream:
            yield stream
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def save_checkpoint(path, kind: str, params: dict, arrays: dict[str, np.ndarray]) -> Path:
    """Write a checkpoint atomically: to a temporary file, then rename over ``path``.

    Parameters
    ----------
    path : str or os.PathLike
        Destination; ``.npz`` is appended when missing, as numpy would.
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
    """
    path = Path(path)
    if path.suffix != ".npz":
        path = path.with_name(path.name + ".npz")
    payload = {
        "__format__": np.array(FORMAT_TAG),
        "__kind__": np.array(kind),
        "__params__": np.array(json.dumps(params, sort_keys=True)),
    }
    for key, value in arrays.items():
        payload[key] = np.asarray(value)
    with atomic_write(path, "wb") as stream:
        np.savez(stream, **payload)
    return path


def load_checkpoint(path) -> tuple[str, dict, dict[str, np.ndarray]]:
    """Read a checkpoint written by :func:`save_checkpoint`.

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
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"checkpoint {path} does not exist")
    try:
        with np.load(path, allow_pickle=False) as archive:
            contents = {key: archive[key] for key in archive.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError, NotImplementedError, RuntimeError) as error:
        # A damaged zip directory can also claim an unknown compression method
        # (NotImplementedError) or encryption (RuntimeError).
        raise CheckpointError(f"checkpoint {path} is corrupt or not an .npz file: {error}") from error
    if "__format__" not in contents or str(contents["__format__"]) != FORMAT_TAG:
        raise CheckpointError(f"{path} is not a cerebellar checkpoint (no {FORMAT_TAG!r} tag)")
    try:
        kind = str(contents.pop("__kind__"))
        params = json.loads(str(contents.pop("__params__")))
    except (KeyError, json.JSONDecodeError) as error:
        raise CheckpointError(f"checkpoint {path} has a damaged header: {error}") from error
    contents.pop("__format__")
    for key, value in contents.items():
        if value.dtype.kind == "f" and not np.all(np.isfinite(value)):
            raise CheckpointError(f"checkpoint {path}: array {key!r} holds NaN or infinite values")
    return kind, params, contents
