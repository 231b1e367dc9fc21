"""Input checks shared by models, controllers and the agent.

Every public entry point that takes numbers from a user or an environment goes
through :func:`as_finite_vector` (or :func:`as_finite_matrix` for batches), so
that a NaN, an infinity, a huge value, a wrong shape, an empty vector, a complex
number or a string is reported where it enters, with the name of the offending
argument. Hyperparameters are checked with the ``check_*`` helpers, which raise
:class:`TypeError` for a wrong type and :class:`ValueError` for a value out of
range, always naming the argument.

Magnitude limit: a vector whose Euclidean norm exceeds :data:`MAX_NORM` (1e150)
is rejected like a NaN. Learning rules form squares and products of their inputs
(``z @ z``, ``z^T P z``, running mean squares); with this limit those stay finite
in float64, whose largest value is about 1.8e308. No physical quantity in any
unit comes near it.
"""

from __future__ import annotations

import math
import numbers
import os

import numpy as np

#: Largest Euclidean norm of an input vector (see the module docstring).
MAX_NORM = 1e150
_MAX_SQUARED_NORM = MAX_NORM * MAX_NORM
# dtype kinds that are real numbers: bool, signed and unsigned integers, floats.
_REAL_KINDS = "biuf"
_vdot = np.vdot


def _as_real_array(value, name: str) -> np.ndarray:
    """Return ``value`` as a float64 array of any shape, refusing non-real and non-numeric input."""
    try:
        array = np.asarray(value)
    except (TypeError, ValueError) as error:  # e.g. a ragged nested list
        raise ValueError(f"{name} must be a vector of numbers, got {value!r}: {error}") from error
    kind = array.dtype.kind
    if kind not in _REAL_KINDS:
        if kind == "c":
            raise TypeError(f"{name} must be real, got complex values {value!r}")
        # An object array is fine if it holds plain numbers (e.g. Fractions, big ints);
        # strings are refused even when numpy could parse them ("1.0").
        if kind != "O" or not all(isinstance(item, numbers.Real) for item in array.flat):
            raise TypeError(f"{name} must be numeric, got {value!r} (dtype {array.dtype})")
    try:
        return array.astype(np.float64, copy=False)
    except (TypeError, ValueError, OverflowError) as error:
        raise TypeError(f"{name} must be numeric, got {value!r}") from error


def _reject_values(array: np.ndarray, name: str) -> None:
    """Raise the ValueError for an array that is non-finite or exceeds the magnitude limit."""
    bad = np.flatnonzero(~np.isfinite(array)).tolist()
    if bad:
        raise ValueError(f"{name} contains NaN or infinite values at index {bad[:10]}: {array}")
    largest = int(np.argmax(np.abs(array)))
    raise ValueError(
        f"{name} is too large: entry {largest} is {array.flat[largest]:.3g}, and vectors are "
        f"limited to a Euclidean norm of {MAX_NORM:.0e} so that the squares learning forms stay finite"
    )


def as_finite_vector(value, name: str, size: int | None = None, *, limit_norm: bool = True) -> np.ndarray:
    """Return ``value`` as a 1-D float64 array, or raise a clear error.

    This sits on every hot path, so it avoids work where it can: a float64
    vector is returned as is (callers never modify it), and finiteness and the
    magnitude limit are checked through one dot product, which exceeds
    ``MAX_NORM**2`` (or is NaN) exactly when the vector is non-finite or too large.

    Parameters
    ----------
    value : array_like
        A scalar or a 1-D sequence of real numbers.
    name : str
        The argument's name, used in error messages.
    size : int, optional
        The required length; when omitted, any length but 0.
    limit_norm : bool
        Whether to enforce :data:`MAX_NORM` (off for values that are clipped
        afterwards anyway, such as Box actions).

    Returns
    -------
    numpy.ndarray
        The values as float64; the input itself when it already is one.

    Raises
    ------
    ValueError
        If the value is not 1-D, is empty, has the wrong length, holds NaN or
        infinity, or its norm exceeds :data:`MAX_NORM` (with ``limit_norm``).
    TypeError
        If the value is complex, a string, or otherwise not real numbers.
    """
    if type(value) is np.ndarray and value.dtype == np.float64:
        array = value
    else:
        array = _as_real_array(value, name)
    if array.ndim != 1:
        if array.ndim != 0:
            raise ValueError(f"{name} must be a 1-D vector, got shape {array.shape}")
        array = array.reshape(1)
    if size is not None:
        if array.shape[0] != size:
            raise ValueError(f"{name} must have length {size}, got length {array.shape[0]}")
    elif array.shape[0] == 0:
        raise ValueError(f"{name} must not be empty")
    # vdot, unlike @, raises no overflow warning for a huge entry; the comparison is False for NaN.
    if not _vdot(array, array) <= _MAX_SQUARED_NORM and (limit_norm or not np.all(np.isfinite(array))):
        _reject_values(array, name)
    return array


def as_finite_matrix(value, name: str, columns: int | None = None) -> np.ndarray:
    """Return ``value`` as a 2-D float64 array of rows, with the checks of :func:`as_finite_vector`.

    A 1-D value is taken as one column (a batch of scalars). Every row must be
    finite, of norm at most :data:`MAX_NORM`, and have ``columns`` entries (at
    least one when ``columns`` is omitted).

    Raises
    ------
    ValueError
        If the value is not 1-D or 2-D, has no columns or the wrong number of
        them, or a row is non-finite or too large.
    TypeError
        If the value is complex, strings, or otherwise not real numbers.
    """
    array = _as_real_array(value, name)
    if array.ndim == 1:
        array = array[:, None]
    if array.ndim != 2:
        raise ValueError(f"{name} must be 2-D (one row per sample), got shape {array.shape}")
    if columns is not None and array.shape[1] != columns:
        raise ValueError(f"{name} must have {columns} columns, got shape {array.shape}")
    if array.shape[1] == 0:
        raise ValueError(f"{name} must not have empty rows, got shape {array.shape}")
    with np.errstate(over="ignore"):  # a huge entry is reported below, not warned about
        squares = np.einsum("ij,ij->i", array, array)
    if not np.all(squares <= _MAX_SQUARED_NORM):
        row = int(np.flatnonzero(~(squares <= _MAX_SQUARED_NORM))[0])
        _reject_values(array[row], f"{name} (row {row})")
    return array


# -- hyperparameters -----------------------------------------------------------------------


def check_real(value, name: str) -> float:
    """Return ``value`` as a float if it is a real number (not a bool or a string), else raise TypeError."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    return float(value)


def check_positive(value, name: str) -> float:
    """Return ``value`` as a float if it is finite and > 0, else raise ValueError (TypeError: no number)."""
    value = check_real(value, name)
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a positive finite number, got {value}")
    return value


def check_in_range(value, name: str, low: float, high: float, *, include_high: bool = True) -> float:
    """Return ``value`` as a float if ``low < value <= high`` (``< high`` without ``include_high``).

    Raises
    ------
    ValueError
        If the value is outside the interval, or NaN.
    TypeError
        If the value is not a real number.
    """
    value = check_real(value, name)
    inside = low < value <= high if include_high else low < value < high
    if not inside:
        interval = f"({low}, {high}]" if include_high else f"({low}, {high})"
        raise ValueError(f"{name} must be in {interval}, got {value}")
    return value


def check_integer(value, name: str, minimum: int | None = None) -> int:
    """Return ``value`` as an int if it is an integer (not a bool, a float or a string) >= ``minimum``.

    Raises
    ------
    TypeError
        If the value is not an integer; ``10.5`` and ``10.0`` alike.
    ValueError
        If it is below ``minimum``.
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be an integer of at least {minimum}, got {value}")
    return value


def check_bool(value, name: str) -> bool:
    """Return ``value`` as a bool if it is one (Python or numpy), else raise TypeError."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def check_choice(value, name: str, choices: tuple[str, ...]) -> str:
    """Return ``value`` if it is one of ``choices``, else raise ValueError naming them."""
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"unknown {name} {value!r}; choose one of {', '.join(map(repr, choices))}")
    return value


def check_seed(value, name: str = "seed") -> int | None:
    """Return a seed: None or a non-negative integer (what a checkpoint can store as JSON)."""
    return None if value is None else check_integer(value, name, minimum=0)


def check_scale(value, name: str) -> np.ndarray | None:
    """Return ``value`` as a vector of positive finite numbers, or None for None."""
    if value is None:
        return None
    scale = as_finite_vector(value, name)
    if not np.all(scale > 0):
        raise ValueError(f"{name} must be positive, got {scale}")
    return scale


def check_path(path, name: str = "path") -> str:
    """Return ``path`` as a str if it is a non-empty str or os.PathLike naming a file, else raise."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{name} must be a str or os.PathLike, got {path!r}")
    text = os.fspath(path)
    if not isinstance(text, str):
        raise TypeError(f"{name} must be a text path, got {path!r}")
    if text == "" or os.path.basename(text.rstrip("/" + os.sep)) in ("", ".", ".."):
        raise ValueError(f"{name} must name a file, got {text!r}")
    return text


def reset_options(options, allowed: tuple[str, ...]) -> dict:
    """Return ``options`` as a new dict (empty for None), or raise on unknown keys.

    Every environment's ``reset`` checks its options this way, so a misspelt
    option is an error naming the allowed ones, never silently ignored.
    """
    options = {} if options is None else dict(options)
    unknown = set(options) - set(allowed)
    if unknown:
        expected = " or ".join(f"'{name}'" for name in allowed)
        raise ValueError(f"unknown reset options {sorted(unknown)}; expected {expected}")
    return options


def check_no_rendering(render_mode) -> None:
    """Raise ValueError unless ``render_mode`` is None (no environment here renders)."""
    if render_mode is not None:
        raise ValueError(f"render_mode must be None (rendering is not implemented), got {render_mode!r}")
