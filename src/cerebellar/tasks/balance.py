"""Balance tasks: keep a pole up (cart-pole with delay, plant change, noise).

An episode succeeds when it survives to the time limit. The learned agents run
the seed's procedure through a blank model (with internal feedback over any
delay); the opponent is linear feedback with gains tuned by differential
evolution on the task itself; the oracle is the same agent with the true dynamics.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import partial

import numpy as np

from ..agent import FeedbackAgent
from ..models.oracle import OracleModel
from .base import Task, TaskKind, delay_steps_of, internal_feedback_options, need_params, number
from .presets import get_preset, make_agent
from .short_term import SHORT_TERM_AGENTS, short_term_agent
from .tuning import TuningResult, tune_feedback


@dataclass(frozen=True)
class LinearTuning:
    """Budget of the linear-gain search (:func:`~cerebellar.tasks.tuning.tune_feedback`).

    Attributes
    ----------
    seeds : tuple of int
        Seeds of the trial episodes, apart from any evaluation seed. Five, so
        that the gains found do not merely fit three lucky initial states.
    population : int
        Differential evolution's population multiplier.
    box : float
        Each gain may reach ``box`` times the command range over the channel's
        scale, either sign.
    max_generations : int or None
        A cap on the generations asked for (None: no cap).
    """

    seeds: tuple[int, ...] = (10_000, 10_001, 10_002, 10_003, 10_004)
    population: int = 10
    box: float = 20.0
    max_generations: int | None = None


def tune_linear(task: Task, generations: int, tuning: LinearTuning, error_channel: int,
                error_scale: float) -> TuningResult:
    """Differential evolution over linear gains, from the preset, on the task's original plant."""
    preset = get_preset(task.env_id)
    command_scale = preset.command_scale[0]
    bounds = [(-tuning.box * command_scale / s, tuning.box * command_scale / s) for s in preset.state_scale]
    if tuning.max_generations is not None:
        generations = min(generations, tuning.max_generations)
    return tune_feedback(
        partial(task.make_env, with_change=False), preset.gains, bounds, seeds=tuning.seeds,
        setpoint=preset.setpoint, error_channel=error_channel, error_scale=error_scale,
        generations=generations, population=tuning.population,
    )


@dataclass(frozen=True)
class Balance(TaskKind):
    """Keep the pole up for the whole episode.

    Attributes
    ----------
    error_channel : int
        Observation channel whose true value is the controlled error (the pole angle).
    error_scale : float
        Its failure threshold (rad), which normalises the tuning's RMS penalty.
    rms_start : int
        First step of the window over which the RMS error is measured.
    iterations : int
        Refinements per step (K) of the learned agents and the oracle.
    tuning : LinearTuning
        Budget of the opponent's gain search.
    """

    error_channel: int = 2
    error_scale: float = 0.2094
    rms_start: int = 200
    iterations: int = 3
    tuning: LinearTuning = field(default_factory=LinearTuning)

    name = "balance"
    extra_agents = ("tuned-feedback", "oracle", *SHORT_TERM_AGENTS)
    table_header = ("| task | agent | first episode balanced | balanced by last episode | "
                    "episodes to success (median) | first-episode length (median) | RMS pole angle (rad) |")
    curve_label = "mean length (steps)"

    def build(self, name, task, env, seed, tuned):  # noqa: D102
        self.check_name(name)
        if name == "tuned-feedback":
            return FeedbackAgent.for_env(env, need_params(tuned, name)["gains"])
        if name in SHORT_TERM_AGENTS:
            return short_term_agent(env, name, seed=seed, delay_steps=delay_steps_of(env))
        model = OracleModel(env) if name == "oracle" else name
        return make_agent(env, model=model, iterations=self.iterations, seed=seed,
                          **internal_feedback_options(task, env))

    def tune(self, task, generations):  # noqa: D102
        return tune_linear(task, generations, self.tuning, self.error_channel, self.error_scale)

    def score(self, task, trace, env):  # noqa: D102
        limit = env.spec.max_episode_steps
        errors = trace.true_observations[self.rms_start + 1:, self.error_channel]
        rms = float(np.sqrt(np.mean(errors**2))) if errors.size else math.nan
        return bool(not trace.terminated and trace.length >= limit), {"rms_error": rms}

    def summarise(self, task, runs):  # noqa: D102
        return {"median_first_length": float(np.median([rs[0].length for rs in runs]))}

    def table_line(self, row, task):  # noqa: D102
        n = row["seeds"]
        return (f"| {row['task']} | {row['agent']} | {row['first_success']}/{n} "
                f"| {row['final_success']}/{n} (of {task.episodes}) "
                f"| {number(row['median_episodes_to_success'])} "
                f"| {row['median_first_length']:g} | {number(row['median_rms'], '.2g')} |")

    def curve_value(self, record):  # noqa: D102
        return record.length

    def headline(self, row, task):  # noqa: D102
        return (f"balanced the whole episode in {row['first_success']}/{row['seeds']} first episodes, "
                f"{row['final_success']}/{row['seeds']} by episode {task.episodes}; "
                f"first-episode length {row['median_first_length']:g} (median)")
