"""Synthetic sessions with a known answer, for tests, examples and checking one's own pipeline."""

from __future__ import annotations

import numpy as np

from .._validation import check_integer, check_positive, check_seed
from .session import Session


def future_copy_session(lead_bins: int = 5, *, trials: int = 16, bins: int = 80, directions: int = 8,
                        mossy_cells: int = 6, dentate_cells: int = 8, purkinje_cells: int = 5,
                        bin_ms: float = 10.0, seed: int | None = 0) -> Session:
    """Make a session whose dentate is an exact linear function of the mossy fibres' future.

    ``dentate(t) = mossy(t + lead_bins) @ W`` with ``W`` of full row rank
    (more dentate cells than mossy fibres), so ``mossy(t + lead_bins)`` is
    exactly recoverable from ``dentate(t)``. The mossy fibres are a
    direction-tuned bell-shaped course (cosine tuning, as in wrist
    step-tracking) plus trial-specific smooth noise (white noise through a
    first-order low-pass of time constant about 6 bins), so their own
    present predicts their future only in part. Purkinje cells are a fixed
    linear mix of the mossy fibres (present).

    Parameters
    ----------
    lead_bins : int
        How far ahead of the mossy fibres the dentate runs.
    trials, bins, directions : int
        Trials (assigned to directions in turn), bins per trial, target directions.
    mossy_cells, dentate_cells, purkinje_cells : int
        Cell counts; ``dentate_cells >= mossy_cells`` for an exact answer.
    bin_ms : float
        Bin width.
    seed : int or None
        Seed of every random draw.

    Returns
    -------
    Session
        Metadata records ``lead_bins`` and ``lead_ms``.
    """
    from scipy.signal import lfilter

    lead_bins = check_integer(lead_bins, "lead_bins", minimum=0)
    trials = check_integer(trials, "trials", minimum=2)
    bins = check_integer(bins, "bins", minimum=2)
    directions = check_integer(directions, "directions", minimum=2)
    bin_ms = check_positive(bin_ms, "bin_ms")
    rng = np.random.default_rng(check_seed(seed))
    target = np.arange(trials) % directions
    angle = 2 * np.pi * target / directions
    total = bins + lead_bins
    tuning = rng.normal(size=(2, mossy_cells))
    course = np.exp(-0.5 * ((np.arange(total) - total / 2) / (total / 8)) ** 2)
    tuned = np.stack([np.cos(angle), np.sin(angle)], axis=1) @ tuning  # (trials, mossy)
    smooth_noise = lfilter([0.15], [1.0, -0.85], rng.normal(size=(trials, total, mossy_cells)), axis=1)
    mossy = 10.0 + course[None, :, None] * tuned[:, None, :] + smooth_noise
    dentate = mossy[:, lead_bins:] @ rng.normal(size=(mossy_cells, dentate_cells))
    purkinje = mossy[:, :bins] @ rng.normal(size=(mossy_cells, purkinje_cells))
    return Session(populations={"mossy": mossy[:, :bins], "purkinje": purkinje, "dentate": dentate},
                   bin_ms=bin_ms, conditions={"target": target},
                   metadata={"synthetic": "future_copy", "lead_bins": lead_bins,
                             "lead_ms": lead_bins * bin_ms, "seed": seed})
