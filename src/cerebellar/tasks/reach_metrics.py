"""Reaching metrics: how fast, how far past, and how closely a limb tracks stepped targets.

For environments whose observation holds joint angles and a piecewise-constant
target, such as ``cerebellar/TwoLinkArm-v0`` and ``cerebellar/WristStepTracking-v0``
(layout ``(angle1, angle2, velocity1, velocity2, target1, target2)``). A *reach*
is a run of consecutive observations with the same target; its time 0 is the
first observation showing that target (the first the controller could react to).

Per reach, with the error ``e(t) = max_j |target_j - angle_j(t)|`` (the worst joint):

- **first entry time**: the first time ``e <= tolerance``;
- **settle time** ("time to reach"): the first time from which ``e <= tolerance``
  holds until the reach ends; infinite when the reach ends outside the tolerance;
- **overshoot**: the largest excursion past the target along the step direction,
  ``max_t (angle(t) - target) . d`` with ``d`` the unit vector from the angles at
  the reach's start to the target, in rad (0 if the limb never passes the
  target); **relative overshoot** divides it by the step's length;
- **RMS error**: the root mean square of ``target - angle`` over the reach's
  observations and both joints (rad);
- **reached**: settled within ``within`` seconds (1.0 s by default).

Use the true observations (``EpisodeTrace.true_observations``), not delayed or
noisy ones::

    reaches = reach_metrics(trace.true_observations, dt=0.01)
    summary = summarise_reaches(reaches)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Reach:
    """The metrics of one reach.

    Attributes
    ----------
    start : int
        Row of the first observation showing the target.
    steps : int
        Number of observations in the reach.
    target : tuple of float
        The target angles (rad).
    distance : float
        Length of the step: the distance from the angles at ``start`` to the target (rad).
    first_entry_time : float
        Seconds from ``start`` to the first observation within tolerance; ``inf`` if none.
    settle_time : float
        Seconds from ``start`` until the error enters the tolerance for good; ``inf``
        if the reach ends outside it.
    overshoot : float
        Largest excursion past the target along the step direction (rad, >= 0).
    relative_overshoot : float
        ``overshoot / distance``; NaN for a step of length 0.
    rms_error : float
        Root mean square tracking error over the reach (rad).
    reached : bool
        Whether ``settle_time <= within``.
    """

    start: int
    steps: int
    target: tuple[float, ...]
    distance: float
    first_entry_time: float
    settle_time: float
    overshoot: float
    relative_overshoot: float
    rms_error: float
    reached: bool


@dataclass(frozen=True)
class ReachSummary:
    """Reaching performance over a list of reaches.

    Attributes
    ----------
    n_reaches : int
        Number of reaches summarised.
    fraction_reached : float
        Fraction that settled within the time allowed.
    median_settle_time : float
        Median settle time (s), counting unsettled reaches as infinite (so it is
        infinite when half or more never settle).
    median_first_entry_time : float
        Median first entry time (s), on the same convention.
    median_overshoot : float
        Median overshoot (rad).
    median_relative_overshoot : float
        Median relative overshoot (NaN-valued reaches left out).
    rms_error : float
        RMS tracking error pooled over every observation of every reach (rad).
    """

    n_reaches: int
    fraction_reached: float
    median_settle_time: float
    median_first_entry_time: float
    median_overshoot: float
    median_relative_overshoot: float
    rms_error: float


def reach_metrics(observations, dt: float, tolerance: float = 0.05, within: float = 1.0,
                  angles: Sequence[int] = (0, 1), targets: Sequence[int] = (4, 5),
                  centre=None) -> list[Reach]:
    """Split an episode into reaches at every change of target and measure each.

    Parameters
    ----------
    observations : array_like, shape (T, n_channels)
        One episode's observations, the reset one first (use the true ones).
    dt : float
        Seconds between observations.
    tolerance : float
        Largest error on any joint that counts as on target (rad).
    within : float
        A reach counts as reached if it settles within this many seconds.
    angles, targets : sequence of int
        Columns of the joint angles and of the matching targets.
    centre : array_like, optional
        A target that is a rest position, not a reach: segments with this target
        are left out. For the wrist task pass ``(0, 0)``, so that only the
        target phases count and the returns to the centre are not scored
        (they are the hold before the next reach).

    Returns
    -------
    list of Reach
        In time order. A final segment shorter than ``within`` is left out: the
        episode ended before it could be judged (in ``TwoLinkArm-v0`` the last
        observation already shows the next target).

    Raises
    ------
    ValueError
        For a malformed array, a non-positive ``dt``, ``tolerance`` or ``within``.
    """
    data = np.asarray(observations, dtype=np.float64)
    if data.ndim != 2 or data.shape[0] == 0:
        raise ValueError(f"observations must be a non-empty 2-D array, got shape {data.shape}")
    for value, name in ((dt, "dt"), (tolerance, "tolerance"), (within, "within")):
        if not (math.isfinite(value) and value > 0):
            raise ValueError(f"{name} must be a positive finite number, got {value}")
    angles, targets = list(angles), list(targets)
    if len(angles) != len(targets) or not angles:
        raise ValueError(f"angles and targets must name the same number of columns, "
                         f"got {angles} and {targets}")
    q, goal = data[:, angles], data[:, targets]
    changes = np.flatnonzero(np.any(goal[1:] != goal[:-1], axis=1)) + 1
    starts = np.concatenate([[0], changes])
    ends = np.concatenate([changes, [data.shape[0]]])
    centre = None if centre is None else np.asarray(centre, dtype=np.float64)
    reaches = []
    for start, end in zip(starts, ends, strict=True):
        target = goal[start]
        if centre is not None and np.array_equal(target, centre):
            continue
        # A half-step margin so that a segment of exactly `within` seconds is kept.
        if end == data.shape[0] and (end - start) * dt < within - 0.5 * dt:
            continue
        reaches.append(_measure(q[start:end], target, int(start), dt, tolerance, within))
    return reaches


def _measure(q, target, start, dt, tolerance, within) -> Reach:
    error = target - q
    worst = np.max(np.abs(error), axis=1)
    inside = worst <= tolerance
    first_entry = float(np.argmax(inside)) * dt if inside.any() else math.inf
    if inside[-1]:
        outside = np.flatnonzero(~inside)
        settle = (outside[-1] + 1 if outside.size else 0) * dt
    else:
        settle = math.inf
    step = target - q[0]
    distance = float(np.linalg.norm(step))
    if distance > 0:
        overshoot = max(0.0, float(np.max((q - target) @ (step / distance))))
        relative = overshoot / distance
    else:
        overshoot, relative = 0.0, math.nan
    return Reach(
        start=start, steps=int(q.shape[0]), target=tuple(float(t) for t in target), distance=distance,
        first_entry_time=first_entry, settle_time=float(settle), overshoot=overshoot,
        relative_overshoot=relative, rms_error=float(np.sqrt(np.mean(error**2))),
        reached=bool(settle <= within + 1e-9),
    )


def summarise_reaches(reaches: Sequence[Reach]) -> ReachSummary:
    """Summarise reaches (from one or several episodes).

    Parameters
    ----------
    reaches : sequence of Reach
        As returned by :func:`reach_metrics`, possibly concatenated over episodes.

    Returns
    -------
    ReachSummary
        NaN-valued fields (and ``n_reaches = 0``) for an empty sequence.
    """
    if not reaches:
        nan = math.nan
        return ReachSummary(0, nan, nan, nan, nan, nan, nan)
    relative = [r.relative_overshoot for r in reaches if not math.isnan(r.relative_overshoot)]
    steps = np.array([r.steps for r in reaches], dtype=np.float64)
    squares = np.array([r.rms_error for r in reaches]) ** 2
    return ReachSummary(
        n_reaches=len(reaches),
        fraction_reached=float(np.mean([r.reached for r in reaches])),
        median_settle_time=float(np.median([r.settle_time for r in reaches])),
        median_first_entry_time=float(np.median([r.first_entry_time for r in reaches])),
        median_overshoot=float(np.median([r.overshoot for r in reaches])),
        median_relative_overshoot=float(np.median(relative)) if relative else math.nan,
        rms_error=float(np.sqrt(np.sum(squares * steps) / np.sum(steps))),
    )
