"""Tracking tasks: a limb follows a smooth desired trajectory, trial after trial.

On ``cerebellar/TwoLinkArmTracking-v0`` and ``cerebellar/WristTracking-v0``
(:mod:`cerebellar.envs.tracking`: a figure-eight at 0.5 Hz, 10 s trials) this
module builds the agents the suite compares:

- ``fel``: feedback-error learning (:class:`~cerebellar.agent.FeedbackErrorAgent`)
  with a blank generic inverse model (the CMAC cerebellum, no limb equations);
  under a sensory delay its feedback acts on the estimate of a generic forward
  model (the smooth cerebellum through
  :class:`~cerebellar.models.limb.JointKinematics`) run by a Smith predictor;
- ``fel-arm``: the same with the arm's inverse-dynamics features (structured, arm only);
- ``fel-frozen``: the ``fel`` agent with learning off (a control that must show no gain);
- ``tuned-feedback``: PD on the trajectory error (with the desired velocity),
  gains searched on the task itself;
- ``oracle``: the computed-torque controller, the true inverse dynamics as
  feedforward plus the same PD (with the true forward model under a delay);
- the forward-model agents (by model name): the reaching agent of
  :mod:`cerebellar.tasks.reaching` (PD refined through a learned forward model).

An episode is one 10 s trial; the model keeps learning across trials. Scores:
the tracking RMS (rad, both joints, on the true observations) and the feedback
share ``|u_fb| / (|u_fb| + |u_ff|)`` averaged over the trial (1 for feedback
alone; absent for agents that do not split their command).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from functools import partial

import numpy as np
from scipy.optimize import differential_evolution

from ..agent import FeedbackErrorAgent, SmithPredictor, run_episodes
from ..control import ActionMap
from ..models import InverseModel
from ..models.oracle import OracleInverseModel, OracleModel
from .base import TaskKind, delay_steps_of, need_params, number
from .reaching import DEFAULT_REACHING, arm_model, preset_pd, reaching_agent
from .tuning import TuningResult


@dataclass(frozen=True)
class TrackingAgentConfig:
    """Settings of the feedback-error-learning agents.

    Attributes
    ----------
    substrate : str
        The generic inverse model's substrate (:class:`~cerebellar.models.InverseModel`).
    substrate_params : dict
        Its hyperparameters: gradient (Marr-Albus-Ito) learning in both the
        nuclear and the Purkinje synapses. A recursive-least-squares readout
        corrects its whole error at once, which turns feedback-error learning
        into an integral action of gain ``1 / dt`` and destabilises the loop;
        slow gradient rates keep the feedback share falling from trial to trial
        (chosen on seed 0 among nuclear/Purkinje rates 0.01-0.02 / 0.02-0.2).
    structured_rate : float
        NLMS rate of the structured (arm features) inverse model.
    input_scale : tuple of float
        Scale of the inverse model's inputs: desired angles (rad), velocities
        (rad/s), accelerations (rad/s^2).
    delayed_kp, delayed_kd : tuple of float
        Gentle PD gains on the delayed senses (those of the delayed reaching
        agent, stable at 100 ms), which the FEL feedback leans on while its
        forward model's error across the delay is large; the preset PD acts on
        the forward model's estimate.
    forward_model : str
        The generic forward model of the internal feedback under a delay.
    """

    substrate: str = "cerebellum"
    substrate_params: dict = field(default_factory=lambda: {"nuclear_rule": "nlms", "nuclear_rate": 0.01,
                                                            "purkinje_rate": 0.02})
    structured_rate: float = 0.02
    input_scale: tuple = (1.0, 1.0, 3.0, 3.0, 10.0, 10.0)
    delayed_kp: tuple = DEFAULT_REACHING.gentle_kp
    delayed_kd: tuple = DEFAULT_REACHING.gentle_kd
    forward_model: str = "cerebellum-smooth"


DEFAULT_TRACKING = TrackingAgentConfig()


def trajectory_of(env):
    """Return the desired trajectory of a tracking environment (through any wrappers)."""
    return env.get_wrapper_attr("trajectory")


def tracking_scores(trace) -> tuple[float, float]:
    """Return ``(rms, feedback_share)`` of one trial's trace.

    ``rms``: root mean square over the steps of the tracking error's norm
    (rad), on the true observations ``(angles, velocities, desired angles)``.
    ``feedback_share``: mean over the steps of ``|u_fb|_1 / (|u_fb|_1 +
    |u_ff|_1)``, NaN when the agent does not report its command's parts.
    """
    observations = trace.true_observations
    error = observations[:, 4:6] - observations[:, :2]
    rms = float(np.sqrt(np.mean(np.sum(error * error, axis=1))))
    parts = trace.components
    if "feedback" not in parts or "feedforward" not in parts or not len(parts["feedback"]):
        return rms, math.nan
    feedback = np.abs(parts["feedback"]).sum(axis=1)
    total = feedback + np.abs(parts["feedforward"]).sum(axis=1)
    share = np.divide(feedback, total, out=np.ones_like(feedback), where=total > 0)
    return rms, float(np.mean(share))


def _fel_agent(env, inverse, kp, kd, delay_steps, forward_model, learning=True, label=None, gentle=None):
    internal = None
    if delay_steps:
        internal = SmithPredictor(delay_steps, env.observation_space.shape[0])
    else:
        forward_model = None
    return FeedbackErrorAgent(inverse, trajectory_of(env), kp, kd, ActionMap(env.action_space),
                              env.unwrapped.params.dt, forward_model=forward_model,
                              internal_feedback=internal, learning=learning, label=label, gentle=gentle)


def fel_agent(env, seed: int = 0, delay_steps: int = 0, structured: bool = False, learning: bool = True,
              config: TrackingAgentConfig = DEFAULT_TRACKING) -> FeedbackErrorAgent:
    """Return the feedback-error-learning agent with a blank inverse model.

    Parameters
    ----------
    env : gymnasium.Env
        A tracking environment, possibly wrapped in a sensory delay.
    seed : int
        Seeds the models.
    delay_steps : int
        Sensory delay (steps): the feedback acts on a generic forward model's
        estimate of the present (a Smith predictor), leaning on gentle PD on
        the delayed senses while that model is untrusted.
    structured : bool
        Use the arm's inverse-dynamics features (NLMS) instead of the generic cerebellum.
    learning : bool
        False for the frozen control.
    config : TrackingAgentConfig
        The settings.
    """
    if structured:
        inverse = InverseModel("nlms", features="arm", substrate_params={"rate": config.structured_rate},
                               seed=seed)
    else:
        inverse = InverseModel(config.substrate, input_scale=config.input_scale,
                               substrate_params=dict(config.substrate_params), seed=seed)
    kp, kd = preset_pd(env)
    forward = arm_model(env, config.forward_model, seed=seed) if delay_steps else None
    gentle = (config.delayed_kp, config.delayed_kd) if delay_steps else None
    return _fel_agent(env, inverse, kp, kd, delay_steps, forward, learning=learning, gentle=gentle)


def oracle_tracking_agent(env, delay_steps: int = 0, config: TrackingAgentConfig = DEFAULT_TRACKING):
    """Return the computed-torque controller: true inverse dynamics plus the same PD as ``fel``.

    Under a delay its PD acts on the true forward model's estimate (a perfect Smith predictor).
    """
    kp, kd = preset_pd(env)
    return _fel_agent(env, OracleInverseModel(env), kp, kd, delay_steps, OracleModel(env), learning=False,
                      label="computed torque")


def pd_tracking_agent(env, params: dict) -> FeedbackErrorAgent:
    """Return PD on the trajectory error, ``Kp (q_d - q) + Kd (dq_d - dq)``, on the observation as it is."""
    # A blank inverse model that never learns commands nothing: feedback alone.
    return _fel_agent(env, InverseModel("rls"), params["kp"], params["kd"], 0, None, learning=False,
                      label="PD")


def tune_tracking_pd(make_env, seeds=(1000,), generations: int = 8, popsize: int = 5) -> TuningResult:
    """Search PD gains on the tracking task by differential evolution, minimising the trial RMS.

    Over ``log Kp`` and ``log Kd`` per joint, from 1/20 to 5 times the preset;
    an unstable gain set scores its (large) RMS. Deterministic.
    """
    started = time.perf_counter()
    env = make_env()
    kp0, kd0 = preset_pd(env)
    x0 = np.log(np.concatenate([kp0, kd0]))
    bounds = [(x - math.log(20.0), x + math.log(5.0)) for x in x0]
    episodes = evaluations = 0

    def trial(x) -> float:
        nonlocal episodes, evaluations
        evaluations += 1
        params = {"kp": np.exp(x[:2]).tolist(), "kd": np.exp(x[2:]).tolist()}
        values = []
        for seed in seeds:
            trial_env = make_env()
            result = run_episodes(pd_tracking_agent(trial_env, params), trial_env, seed=int(seed))
            values.append(tracking_scores(result.episodes[0])[0])
            episodes += 1
        return float(np.mean(values))

    history = []
    result = differential_evolution(trial, bounds, x0=x0, maxiter=generations, popsize=popsize, seed=0,
                                    tol=0.0, polish=False, init="sobol", updating="immediate",
                                    callback=lambda intermediate_result: history.append(
                                        -float(intermediate_result.fun)))
    rms = trial(result.x)
    return TuningResult(params={"kp": np.exp(result.x[:2]).tolist(), "kd": np.exp(result.x[2:]).tolist()},
                        score=-rms, episodes=episodes, seconds=time.perf_counter() - started,
                        evaluations=evaluations, history=tuple(history), details={"rms": rms})


def _median(values) -> float:
    values = [v for v in values if math.isfinite(v)]
    return float(np.median(values)) if values else math.nan


@dataclass(frozen=True)
class Tracking(TaskKind):
    """Trials of tracking a trajectory; a trial succeeds when its RMS stays below ``stable_rms``.

    Attributes
    ----------
    stable_rms : float
        A trial whose tracking RMS (rad) is below this counts as stable.
    agent : TrackingAgentConfig
        The settings of the feedback-error-learning agents.
    tuning_seeds : tuple of int
        Seeds of the PD search's trials.
    tuning_generations : int
        Generations of the PD search (a fixed budget: it ignores the suite's).
    arm : bool
        Whether the limb is the two-link arm (then ``fel-arm``, with its
        inverse-dynamics features, is built too).
    """

    stable_rms: float = 0.1
    agent: TrackingAgentConfig = DEFAULT_TRACKING
    tuning_seeds: tuple[int, ...] = (1000,)
    tuning_generations: int = 8
    arm: bool = True

    name = "tracking"
    extra_agents = ("tuned-feedback", "oracle", "fel", "fel-arm", "fel-frozen")
    table_header = ("| task | agent | stable trials (all seeds) | RMS trial 1 (rad, median) | RMS last trial "
                    "| last / first | feedback share trial 1 | feedback share last "
                    "| share falls every trial |")
    curve_label = "tracking RMS (rad)"

    def agent_names(self):  # noqa: D102
        names = super().agent_names()
        return names if self.arm else tuple(n for n in names if n != "fel-arm")

    def build(self, name, task, env, seed, tuned):  # noqa: D102
        self.check_name(name)
        delay = delay_steps_of(env)
        if name == "tuned-feedback":
            return pd_tracking_agent(env, need_params(tuned, name))
        if name == "oracle":
            return oracle_tracking_agent(env, delay_steps=delay, config=self.agent)
        if name in ("fel", "fel-arm", "fel-frozen"):
            return fel_agent(env, seed=seed, delay_steps=delay, structured=name == "fel-arm",
                             learning=name != "fel-frozen", config=self.agent)
        return reaching_agent(env, model=name, seed=seed, delay_steps=delay)

    def tune(self, task, generations):  # noqa: D102
        return tune_tracking_pd(partial(task.make_env, with_change=False), seeds=self.tuning_seeds,
                                generations=self.tuning_generations)

    def score(self, task, trace, env):  # noqa: D102
        rms, share = tracking_scores(trace)
        return rms < self.stable_rms, {"rms": rms, "rms_error": rms, "feedback_share": share}

    def summarise(self, task, runs):  # noqa: D102
        trials = max(len(rs) for rs in runs)
        rms = [_median([rs[i].metrics["rms"] for rs in runs if len(rs) > i]) for i in range(trials)]
        share = [_median([rs[i].metrics["feedback_share"] for rs in runs if len(rs) > i])
                 for i in range(trials)]
        falls = all(b < a for a, b in zip(share, share[1:], strict=False)) if trials > 1 else False
        return {"median_rms_per_trial": rms, "median_share_per_trial": share,
                "stable_trials": sum(r.success for rs in runs for r in rs),
                "trials": sum(len(rs) for rs in runs),
                "share_falls": bool(falls) and all(math.isfinite(s) for s in share)}

    def table_line(self, row, task):  # noqa: D102
        rms, share = row["median_rms_per_trial"], row["median_share_per_trial"]
        ratio = rms[-1] / rms[0] if rms and rms[0] > 0 else math.nan
        falls = "yes" if row["share_falls"] else "no"
        return (f"| {row['task']} | {row['agent']} | {row['stable_trials']}/{row['trials']} "
                f"| {number(rms[0], '.4f')} | {number(rms[-1], '.4f')} | {number(ratio, '.2f')} "
                f"| {number(share[0], '.3f')} | {number(share[-1], '.3f')} | {falls} |")

    def curve_value(self, record):  # noqa: D102
        return record.metrics["rms"]

    def headline(self, row, task):  # noqa: D102
        rms = row["median_rms_per_trial"]
        return (f"median tracking RMS {number(rms[0], '.4f')} rad in trial 1, {number(rms[-1], '.4f')} rad "
                f"in trial {len(rms)}; {row['stable_trials']}/{row['trials']} trials stable")
