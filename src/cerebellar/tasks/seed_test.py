"""The seed's own test on DeepMind Control Suite ``cartpole/balance``.

Its controller on sin(angle), one refinement through a blank model, trials of
10 s that must keep ``|sin(angle)| < 0.66``; it passes when every trial does.
The extra opponent ``doubled-gain`` is the same controller with doubled gains
and no model: over one 10 ms step the prediction is close to the present, so
one refinement roughly doubles the gain, which is what this opponent tests.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..agent import FeedbackAgent
from ..models.oracle import OracleModel
from .balance import LinearTuning, tune_linear
from .base import TaskKind, need_params, number
from .presets import get_preset, make_agent


@dataclass(frozen=True)
class SeedTest(TaskKind):
    """Trials of the seed's test: each succeeds when the pole stays up all through.

    Attributes
    ----------
    error_channel : int
        The observation channel of sin(angle).
    error_scale : float
        The pass threshold on ``|sin(angle)|``.
    iterations : int
        The seed's procedure exactly: one refinement.
    rms_seconds : float
        The RMS of sin(angle) is measured over the last this many seconds of a trial.
    tuning : LinearTuning
        The linear search on a smaller budget than for balance: a MuJoCo trial costs ~0.25 s.
    """

    error_channel: int = 2
    error_scale: float = 0.66
    iterations: int = 1
    rms_seconds: float = 5.0
    tuning: LinearTuning = field(default_factory=lambda: LinearTuning(
        seeds=(10_000, 10_001), population=5, max_generations=10))

    name = "seed-test"
    extra_agents = ("tuned-feedback", "oracle", "doubled-gain")
    table_header = ("| task | agent | passed (every trial up) | trial 1 up "
                    "| RMS sin(angle), last 5 s of trial 1 (median) |")
    curve_label = "fraction of trials up"

    def build(self, name, task, env, seed, tuned):  # noqa: D102
        self.check_name(name)
        preset = get_preset(task.env_id)
        if name == "tuned-feedback":
            return FeedbackAgent.for_env(env, need_params(tuned, name)["gains"], preset.setpoint)
        if name == "doubled-gain":
            return FeedbackAgent.for_env(env, 2.0 * np.asarray(preset.gains), preset.setpoint)
        model = OracleModel(env) if name == "oracle" else name
        return make_agent(env, model=model, iterations=self.iterations, seed=seed)

    def tune(self, task, generations):  # noqa: D102
        return tune_linear(task, generations, self.tuning, self.error_channel, self.error_scale)

    def score(self, task, trace, env):  # noqa: D102
        sines = trace.true_observations[:, self.error_channel]
        kept = bool(np.all(np.abs(sines) < self.error_scale))
        last = int(round(self.rms_seconds / env.unwrapped.dt))
        return kept, {"rms_error": float(np.sqrt(np.mean(sines[-last:] ** 2)))}

    def summarise(self, task, runs):  # noqa: D102
        return {"passed": sum(all(r.success for r in rs) and len(rs) == task.episodes for rs in runs)}

    def table_line(self, row, task):  # noqa: D102
        n = row["seeds"]
        return (f"| {row['task']} | {row['agent']} | {row['passed']}/{n} | {row['first_success']}/{n} "
                f"| {number(row['median_rms'], '.2g')} |")

    def curve_value(self, record):  # noqa: D102
        return float(record.success)

    def headline(self, row, task):  # noqa: D102
        return (f"passed (every one of {task.episodes} trials up) in {row['passed']}/{row['seeds']} seeds; "
                f"RMS sin(angle) {number(row['median_rms'], '.2g')}")
