"""Input checks shared by models, controllers and the agent.

Every public entry point that takes numbers from a user or an environment goes
through :func:`as_finite_vector`, so that a NaN, an infinity or a wrong shape is
reported where it enters, with the name of the offending argument.
"""

from __future__ import annotations

import math

import numpy as np


def as_finite_vector(value, name: str, size: int | None = None) -> np.ndarray:
    """Return ``value`` as a 1-D float64 array, or raise a clear error.

    This sits on every hot path, so it avoids work where it can: a float64
    vector is returned as is (callers never modify it), and finiteness is
    checked through one dot product, which is NaN or infinite exactly when an
    entry is (or, rarely, on overflow, which the slow path then clears).

    Parameters
    ----------
    value : array_like
        A scalar or a 1-D sequence of numbers.
    name : str
        The argument's name, used in error messages.
    size : int, optional
        The required length; not checked when omitted.

    Returns
    -------
    numpy.ndarray
        The values as float64; the input itself when it already is one.

    Raises
    ------
    ValueError
        If the value is not 1-D, has the wrong length, or holds NaN or infinity.
    TypeError
        If the value is not numeric.
    """
    if type(value) is np.ndarray and value.dtype == np.float64:
        array = value
    else:
        try:
            array = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError) as error:
            raise TypeError(f"{name} must be numeric, got {value!r}") from error
    if array.ndim != 1:
        if array.ndim != 0:
            raise ValueError(f"{name} must be a 1-D vector, got shape {array.shape}")
        array = array.reshape(1)
    if size is not None and array.shape[0] != size:
        raise ValueError(f"{name} must have length {size}, got length {array.shape[0]}")
    if not math.isfinite(array @ array) and not np.all(np.isfinite(array)):
        bad = np.flatnonzero(~np.isfinite(array)).tolist()
        raise ValueError(f"{name} contains NaN or infinite values at index {bad}: {array}")
    return array


def check_positive(value: float, name: str) -> float:
    """Return ``value`` as a float if it is finite and > 0, else raise ValueError."""
    value = float(value)
    if not np.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a positive finite number, got {value}")
    return value


def check_in_range(value: float, name: str, low: float, high: float) -> float:
    """Return ``value`` as a float if ``low < value <= high``, else raise ValueError."""
    value = float(value)
    if not (low < value <= high):
        raise ValueError(f"{name} must be in ({low}, {high}], got {value}")
    return value


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
