"""The strongest no-model opponent: linear feedback with gains tuned on the task itself.

Every claim that the forward model helps is measured against this: a plain
linear feedback controller (no model, no internal feedback) whose gains were
searched with as many trial episodes on the true task as the search wants.
The search is SciPy's differential evolution, started from the preset gains.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import differential_evolution

from ..agent import FeedbackAgent, VectorFeedbackAgent, run_batch_episode, run_episode
from ..envs import CartPoleVector


@dataclass(frozen=True)
class TuningResult:
    """What every tuner of a no-model opponent returns.

    Attributes
    ----------
    params : dict
        What the opponent needs, JSON-serialisable: ``{"gains": [...]}`` for
        linear feedback, ``{"kp": [...], "kd": [...]}`` for PD, ``{"gains": [...]}``
        for a swing-up law.
    score : float
        The search's score of these parameters (higher is better; what it is
        depends on the tuner).
    episodes : int
        Trial episodes run on the task.
    seconds : float
        Wall-clock time of the search.
    evaluations : int
        Parameter sets tried.
    initial_score : float
        Score of the starting parameters (NaN for a grid search).
    history : tuple of float
        Best score after each generation (empty for a grid search).
    details : dict
        Further figures of the tuner, JSON-serialisable (e.g. ``survival``, the
        mean fraction of the episode survived by the best gains).
    """

    params: dict
    score: float
    episodes: int
    seconds: float
    evaluations: int = 0
    initial_score: float = math.nan
    history: tuple = ()
    details: dict = field(default_factory=dict)

    @property
    def gains(self) -> np.ndarray:
        """numpy.ndarray: ``params["gains"]`` as an array."""
        return np.asarray(self.params["gains"], dtype=np.float64)

    @property
    def survival(self) -> float:
        """float: mean fraction of the episode survived on the tuning episodes (balance tuners)."""
        return float(self.details["survival"])

    def describe(self) -> str:
        """Return the parameters in one short line."""
        parts = []
        for key, value in self.params.items():
            array = np.asarray(value, dtype=float)
            parts.append(f"{key}=" + np.array2string(array.ravel(), precision=3, separator=", "))
        return "; ".join(parts)

    def to_dict(self) -> dict:
        """Return the result as plain Python types for standard JSON (NaN and infinities as None)."""
        def plain(value):
            return None if isinstance(value, float) and not math.isfinite(value) else value

        return {"params": self.params, "score": plain(self.score), "episodes": self.episodes,
                "seconds": self.seconds, "evaluations": self.evaluations,
                "initial_score": plain(self.initial_score), "history": [plain(h) for h in self.history],
                "details": {key: plain(value) for key, value in self.details.items()}}


def evaluate_gains(make_env, gains, seeds, setpoint=None, action_values=None,
                   error_channel: int | None = None, error_scale: float = 1.0) -> tuple[float, float]:
    """Run plain feedback with ``gains`` for one episode per seed.

    Returns
    -------
    score : float
        Mean survived fraction minus ``0.1 * min(RMS error / error_scale, 1)``,
        the RMS taken over the controlled channel's true values.
    survival : float
        Mean survived fraction.
    """
    seeds = list(seeds)
    envs = [make_env() for _ in seeds]
    batch = CartPoleVector.from_envs(envs) if len(envs) > 1 else None
    try:
        if batch is not None:
            return _batch_score(batch, gains, seeds, setpoint, action_values, error_channel, error_scale)
    finally:
        for env in envs:
            env.close()
    survived, penalties = [], []
    for seed in seeds:
        env = make_env()
        agent = FeedbackAgent.for_env(env, gains, setpoint, action_values)
        limit = env.spec.max_episode_steps if env.spec and env.spec.max_episode_steps else 1000
        squares = 0.0

        def accumulate(step):
            nonlocal squares
            true = step.info.get("true_observation", step.next_observation)
            squares += float(true[error_channel]) ** 2

        outcome = run_episode(agent, env, seed=int(seed),
                              on_step=accumulate if error_channel is not None else None)
        env.close()
        survived.append(outcome.length / limit if outcome.terminated else 1.0)
        rms = np.sqrt(squares / max(outcome.length, 1)) if error_channel is not None else 0.0
        penalties.append(0.1 * min(rms / error_scale, 1.0))
    survival = float(np.mean(survived))
    return survival - float(np.mean(penalties)), survival


def _batch_trials(batch, gains, seeds, setpoint, action_values, error_channel):
    """Run the trials of :func:`evaluate_gains` as one batch; return their outcomes and sums of squares."""
    single = FeedbackAgent.for_env(batch.envs[0], gains, setpoint, action_values)
    agent = VectorFeedbackAgent(single.feedback, single.actions, batch.n_envs)
    squares = [0.0] * batch.n_envs

    def accumulate(rows, true_states):
        # Python floats, in step order, as the one-episode loop sums them.
        for i in rows:
            squares[i] += float(true_states[i, error_channel]) ** 2

    outcomes = run_batch_episode(agent, batch, seeds,
                                 on_step=accumulate if error_channel is not None else None)
    return outcomes, squares


def _batch_score(batch, gains, seeds, setpoint, action_values, error_channel, error_scale):
    """Return :func:`evaluate_gains`'s ``(score, survival)`` from trials run in ``batch``."""
    outcomes, squares = _batch_trials(batch, gains, seeds, setpoint, action_values, error_channel)
    limit = batch.max_episode_steps
    survived, penalties = [], []
    for outcome, total in zip(outcomes, squares, strict=True):
        survived.append(outcome.length / limit if outcome.terminated else 1.0)
        rms = np.sqrt(total / max(outcome.length, 1)) if error_channel is not None else 0.0
        penalties.append(0.1 * min(rms / error_scale, 1.0))
    survival = float(np.mean(survived))
    return survival - float(np.mean(penalties)), survival


def tune_feedback(make_env, initial_gains, bounds, seeds=range(1000, 1003), setpoint=None,
                  action_values=None, error_channel: int | None = None, error_scale: float = 1.0,
                  generations: int = 30, population: int = 10, seed: int = 0,
                  log_span: float = 6.0) -> TuningResult:
    """Search linear feedback gains on the true task; return the best found.

    Parameters
    ----------
    make_env : callable
        Returns a fresh environment of the task (with its delay, noise, ...).
    initial_gains : array_like
        Where the search starts (e.g. the preset gains); included in the population.
    bounds : sequence of (low, high)
        Search box, one pair per gain.
    seeds : sequence of int
        Episode seeds of each trial (keep them apart from evaluation seeds).
    setpoint, action_values : optional
        As for :class:`~cerebellar.control.LinearFeedback` and
        :class:`~cerebellar.control.ActionMap`.
    error_channel : int, optional
        Observation channel whose RMS (true value) breaks ties between gain
        sets that survive equally long; ``error_scale`` normalises it.
    generations, population : int
        Differential-evolution budget: about ``population * len(gains) *
        (generations + 1)`` gain sets, each tried on every seed.
    seed : int
        Seeds the search.
    log_span : float
        The search runs on ``p`` in [-1, 1] per gain, with
        ``gain = B sinh(log_span p) / sinh(log_span)`` (B the larger bound
        magnitude), so that small and large gains are searched alike, each
        decade about equally: good gains under a long delay are small, and a
        box searched uniformly almost never samples them.

    Returns
    -------
    TuningResult
    """
    initial_gains = np.asarray(initial_gains, dtype=np.float64).ravel()
    bounds = [(float(low), float(high)) for low, high in bounds]
    if len(bounds) != initial_gains.size:
        raise ValueError(f"need one bound per gain ({initial_gains.size}), got {len(bounds)}")
    seeds = list(seeds)
    evaluations = 0
    history: list[float] = []
    low, high = np.array(bounds).T
    magnitude = np.maximum(np.abs(low), np.abs(high))
    stretch = np.sinh(log_span)

    def to_gains(p):
        return np.clip(magnitude * np.sinh(log_span * np.asarray(p)) / stretch, low, high)

    # The trial envs are made once and reset with each trial's seed, which starts them
    # exactly as fresh ones: seeded resets reseed the plant and its noise.
    trial_envs = [make_env() for _ in seeds]
    batch = CartPoleVector.from_envs(trial_envs) if len(seeds) > 1 else None

    def evaluate(gains):
        if batch is not None:
            return _batch_score(batch, gains, seeds, setpoint, action_values, error_channel, error_scale)
        return evaluate_gains(make_env, gains, seeds, setpoint, action_values, error_channel, error_scale)

    def cost(p):
        nonlocal evaluations
        evaluations += 1
        return -evaluate(to_gains(p))[0]

    started = time.perf_counter()
    x0 = np.clip(np.arcsinh(np.clip(initial_gains, low, high) * stretch / magnitude) / log_span, -1, 1)
    initial_score = -cost(x0)
    result = differential_evolution(
        cost, [(-1.0, 1.0)] * len(bounds), x0=x0, maxiter=generations, popsize=population, seed=seed,
        tol=0.0, polish=False, init="sobol", updating="immediate",
        callback=lambda intermediate_result: history.append(-float(intermediate_result.fun)),
    )
    best, best_score = to_gains(result.x), -float(result.fun)
    if initial_score >= best_score:
        best, best_score = initial_gains, initial_score
    survival = evaluate(best)[1]
    for env in trial_envs:
        env.close()
    evaluations += 1
    return TuningResult(
        params={"gains": np.asarray(best, dtype=np.float64).tolist()}, score=best_score,
        episodes=evaluations * len(seeds), seconds=time.perf_counter() - started,
        evaluations=evaluations, initial_score=initial_score, history=tuple(history),
        details={"survival": survival},
    )
