"""Reaching tasks: the two-link arm and the wrist, with or without a sensory delay.

For ``cerebellar/TwoLinkArm-v0`` and ``cerebellar/WristStepTracking-v0``
(possibly wrapped in :class:`~cerebellar.envs.SensoryDelay`) this module builds
the agents that the evaluation suite and the reaching benchmark compare:

- :func:`reaching_agent`: the cerebellar agent, a blank learned forward model
  refining the preset PD controller (K = 3), with internal feedback (a Smith
  predictor) over the delay; on the arm with a delay, the model sees the arm
  through :class:`~cerebellar.models.limb.ArmFeatures`, the agent leans on gentle
  feedback until its own predictions across the delay are good
  (:class:`~cerebellar.control.TrustGated`), and it babbles while blind;
- :func:`practised_reaching_agent`: the same agent after 0.3 s of practice;
- :func:`oracle_reaching_agent`: the same agent with the true dynamics as model;
- :func:`tune_pd` and :func:`pd_agent`: the strongest no-model opponent, PD
  gains searched on the (delayed) task itself.

Every tuned constant is a field of :class:`ReachingAgentConfig`. Scoring uses
:func:`~cerebellar.tasks.reach_metrics.reach_metrics` on the true (undelayed)
observations: a reach counts when it settles within 0.05 rad in 1.0 s.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from functools import partial

import numpy as np
from scipy.optimize import differential_evolution

from ..agent import Agent, FeedbackAgent, run_episode
from ..control import Babbling, ForwardModelController, LinearFeedback, TrustGated, pd_gains
from ..envs import TWO_LINK_ARM_ID, WRIST_STEP_TRACKING_ID
from ..models import make_model
from ..models.limb import ArmFeatures, JointKinematics
from ..models.oracle import OracleModel
from .base import TaskKind, delay_steps_of, need_params, number
from .presets import get_preset, make_agent
from .reach_metrics import reach_metrics, summarise_reaches
from .short_term import SHORT_TERM_AGENTS, short_term_agent
from .tuning import TuningResult

#: Reaching criterion: worst-joint error (rad) and time allowed to settle (s).
TOLERANCE, WITHIN = 0.05, 1.0

#: Environments whose centre target is a hold, not a reach (left out of the scores).
_CENTRED = (WRIST_STEP_TRACKING_ID,)


@dataclass(frozen=True)
class ReachingAgentConfig:
    """Every setting of the cerebellar reaching agent, with where it comes from.

    Attributes
    ----------
    iterations : int
        Refinements per step (the seed's K).
    features : str
        The delayed arm's model: ``"arm"`` (:class:`~cerebellar.models.limb.ArmFeatures`,
        the arm's equations in form, weights learned), ``"kinematics"``
        (:class:`~cerebellar.models.limb.JointKinematics`, only the kinematics
        given) or ``"plain"`` (the model on the raw observation). The generic
        ``cerebellum-smooth`` always uses ``"kinematics"``.
    fallback : bool
        Delayed arm: lean on gentle PD while the model is untrusted.
    gentle_kp, gentle_kd : tuple of float
        The gentle PD (per joint), stable on the arm under a 100 ms delay
        (:func:`tune_pd` on that task).
    forgetting : float
        Model memory (RLS forgetting factor) of the delayed arm's model (chosen
        on seeds 0-9 of the reaching benchmark).
    purkinje_rate : float
        A slow Purkinje rate for the cerebellum inside ArmFeatures: the granule
        path only refines the direct path.
    trust : tuple of float
        Trust thresholds (rad) on the model's error across the delay.
    trust_window : int
        Steps of delay error averaged for the trust.
    babbling : float
        Exploratory noise (N m) of the delayed arm agent's first commands, sent
        while it is still blind (chosen among 3, 5 and 8 N m on seeds 100-119,
        checked on seeds 200-219, 300-319 and 400-419).
    babbling_steps : int or None
        How many of the first fallback commands carry the noise; None: the
        delay in steps (while blind).
    practice_steps, practice_noise : int, float
        Practice before the first target (:func:`practised_reaching_agent`):
        steps (0.3 s) of the agent's own movements with exploratory noise (N m).
    practice_seed_offset : int
        Offset of the practice arm's seed from the session's.
    smooth : dict
        The generic smooth cerebellum on the delayed arm (chosen on seeds 0-9):
        granule cells, length scale and a weak prior, so that the readout fits
        the first few hundred transitions almost unregularised.
    """

    iterations: int = 3
    features: str = "arm"
    fallback: bool = True
    gentle_kp: tuple[float, float] = (4.31, 1.85)
    gentle_kd: tuple[float, float] = (0.271, 0.240)
    forgetting: float = 0.995
    purkinje_rate: float = 0.02
    trust: tuple[float, float] = (0.03, 0.15)
    trust_window: int = 20
    babbling: float = 5.0
    babbling_steps: int | None = None
    practice_steps: int = 30
    practice_noise: float = 3.0
    practice_seed_offset: int = 20_000
    smooth: dict = field(default_factory=lambda: {"n_granule": 200, "fan_in": 4, "length_scale": 3.0,
                                                  "prior": 1e6, "max_covariance": 1e6})

    def __post_init__(self):
        if self.features not in ("arm", "kinematics", "plain"):
            raise ValueError(f"features must be 'arm', 'kinematics' or 'plain', got {self.features!r}")
        if not (math.isfinite(self.babbling) and self.babbling >= 0):
            raise ValueError(f"babbling must be a finite non-negative number, got {self.babbling}")
        if self.babbling_steps is not None and (int(self.babbling_steps) != self.babbling_steps
                                                or self.babbling_steps < 0):
            raise ValueError(f"babbling_steps must be a non-negative integer, got {self.babbling_steps}")


#: The defaults: the settings of the reaching results in the docs.
DEFAULT_REACHING = ReachingAgentConfig()


def _env_id(env) -> str | None:
    spec = env.unwrapped.spec or env.spec
    return spec.id if spec is not None else None


def preset_pd(env) -> tuple[np.ndarray, np.ndarray]:
    """Return the preset ``(Kp, Kd)`` per joint of a reaching environment."""
    gains = np.asarray(get_preset(_env_id(env)).gains, dtype=np.float64)
    return np.array([gains[0, 0], gains[1, 1]]), np.array([gains[0, 2], gains[1, 3]])


def reach_centre(env):
    """Return the centre target to leave out of the scores (the wrist's), or None."""
    return (0.0, 0.0) if _env_id(env) in _CENTRED else None


def run_reaching_episode(env, agent, seed: int):
    """Run one episode of ``agent`` (which keeps learning); return its reaches and true observations.

    Returns
    -------
    reaches : list of Reach
        Scored on the true observations (``info["true_observation"]`` when delayed).
    truths : numpy.ndarray, shape (T + 1, 6)
        The true observations, the reset one first.
    """
    truths = []
    run_episode(agent, env, seed=int(seed),
                on_start=lambda observation, info: truths.append(info.get("true_observation", observation)),
                on_step=lambda step: truths.append(step.info.get("true_observation", step.next_observation)))
    truths = np.array(truths)
    reaches = reach_metrics(truths, env.unwrapped.params.dt, tolerance=TOLERANCE, within=WITHIN,
                            centre=reach_centre(env))
    return reaches, truths


def arm_model(env, model: str = "rls", seed: int = 0, config: ReachingAgentConfig = DEFAULT_REACHING):
    """Return a blank structured model of the arm of ``env`` (as ``config.features`` says).

    ``"rls"``: recursive least squares; ``"cerebellum"``: the CMAC cerebellum
    (its direct mossy-fibre path learns by RLS, its granule path adds a local
    correction); ``"cerebellum-random"``: the same with a random granule layer.
    ``"cerebellum-smooth"``: the generic smooth cerebellum (``config.smooth``)
    through :class:`~cerebellar.models.limb.JointKinematics`.
    """
    if model not in ("rls", "cerebellum", "cerebellum-random", "cerebellum-smooth"):
        raise ValueError(f"the delayed arm agent takes model 'rls', 'cerebellum', "
                         f"'cerebellum-random' or 'cerebellum-smooth', got {model!r}")
    params = env.unwrapped.params
    if model == "cerebellum-smooth":
        preset = get_preset(_env_id(env))
        scale = tuple(preset.state_scale[:4]) + tuple(preset.command_scale)
        return JointKinematics(make_model(model, seed=seed, input_scale=scale, **config.smooth), params)
    options = {"forgetting": config.forgetting}
    if model != "rls":
        options["purkinje_rate"] = config.purkinje_rate
    inner = make_model(model, seed=seed, **options)
    if config.features == "kinematics":
        return JointKinematics(inner, params)
    return ArmFeatures(inner, params)


def reaching_agent(env, model="rls", seed: int = 0, delay_steps: int = 0,
                   config: ReachingAgentConfig = DEFAULT_REACHING) -> Agent:
    """Return the cerebellar reaching agent: a blank model refining the preset PD.

    Without a delay, and on the wrist, this is the seed's agent: K = 3
    refinements of the preset PD through a blank model, with internal feedback
    (a Smith predictor) over any delay. On the arm with a delay, three things
    are added (each can be turned off in ``config``), without which it flails
    into its stops or misses its first reaches:

    - the model sees the arm through :class:`~cerebellar.models.limb.ArmFeatures`
      (features in the form of the arm's equations, angles integrated from
      velocities, joint-stop contacts not learned);
    - while the model's own error across the delay is large, the command
      leans on gentle PD on the estimate, ramping to the model's controller
      as the error falls (:class:`~cerebellar.control.TrustGated`);
    - while it is blind (its first ``delay_steps`` commands, before any
      consequence can be seen), it babbles: exploratory noise on the gentle PD
      (:class:`~cerebellar.control.Babbling`), so that its first data tell the
      commands' effect apart from gravity's.

    Parameters
    ----------
    env : gymnasium.Env
        ``cerebellar/TwoLinkArm-v0`` or ``cerebellar/WristStepTracking-v0``,
        possibly wrapped in a sensory delay.
    model : str or ForwardModel
        A model name (``"rls"``, ``"cerebellum"``, ``"cerebellum-random"``,
        ``"cerebellum-smooth"``; ``"nlms"`` where the arm's delay does not call
        for a structured model), or a model instance (used as it is).
    seed : int
        Seeds the model and the babbling.
    delay_steps : int
        The sensory delay in steps, compensated by internal feedback.
    config : ReachingAgentConfig
        The agent's settings.

    Returns
    -------
    Agent
        ``delay_error_`` reports the model's error across the delay and
        ``trust_`` how much the command relies on the model.
    """
    if not delay_steps or _env_id(env) != TWO_LINK_ARM_ID or not isinstance(model, str):
        return make_agent(env, model=model, iterations=config.iterations, seed=seed,
                          delay_steps=delay_steps)
    learned = model if config.features == "plain" else arm_model(env, model, seed, config)
    template = make_agent(env, model=learned, iterations=config.iterations, seed=seed,
                          delay_steps=delay_steps)
    if not config.fallback:
        return template
    actions = template.actions
    gentle = ForwardModelController(LinearFeedback(pd_gains(config.gentle_kp, config.gentle_kd)),
                                    template.model, 0, low=actions.low, high=actions.high)
    babbling_steps = int(delay_steps) if config.babbling_steps is None else int(config.babbling_steps)
    if config.babbling and babbling_steps:
        gentle = Babbling(gentle, config.babbling, actions.n_command, seed=seed, steps=babbling_steps)
    controller = TrustGated(template.controller, gentle, *config.trust, window=config.trust_window,
                            channels=(0, 1), command_low=actions.low, command_high=actions.high)
    return Agent(template.model, controller, actions, template.n_state,
                 internal_feedback=template.internal_feedback,
                 observation_names=template.observation_names, observation_units=template.observation_units,
                 command_names=template.command_names, command_units=template.command_units)


def practised_reaching_agent(env, make_env, model: str = "rls", seed: int = 0, delay_steps: int = 0,
                             config: ReachingAgentConfig = DEFAULT_REACHING) -> Agent:
    """Return :func:`reaching_agent` after ``config.practice_steps`` of practice with exploratory noise.

    The blank agent babbles on a separate arm (``make_env()``, the same task
    with its delay; seeded ``config.practice_seed_offset + seed``), learning
    from its own movements, and starts the session at rest.
    """
    agent = reaching_agent(env, model, seed=seed, delay_steps=delay_steps, config=config)
    practice_env = make_env()
    try:
        agent.practise(practice_env, config.practice_steps, config.practice_noise,
                       seed=config.practice_seed_offset + int(seed))
    finally:
        practice_env.close()
    return agent


def oracle_reaching_agent(env, delay_steps: int = 0, config: ReachingAgentConfig = DEFAULT_REACHING) -> Agent:
    """Return :func:`reaching_agent` with the true dynamics as its model (the ceiling)."""
    return make_agent(env, model=OracleModel(env), iterations=config.iterations, delay_steps=delay_steps)


def pd_agent(env, params: dict) -> FeedbackAgent:
    """Return plain PD on the observation as it arrives, with gains ``params["kp"]``, ``params["kd"]``."""
    return FeedbackAgent.for_env(env, pd_gains(params["kp"], params["kd"]))


def reaching_score(reaches) -> float:
    """Return a score to maximise: fraction reached, less small penalties on time and error.

    ``fraction - 0.1 * mean(min(settle, 1.5)) / 1.5 - 0.1 * min(RMS error, 1)``: among
    equally reliable gains the faster wins, and gains that reach nothing are
    still ranked by how close they stay. An empty list scores ``-inf``.
    """
    if not reaches:
        return -math.inf
    fraction = float(np.mean([r.reached for r in reaches]))
    settle = float(np.mean([min(r.settle_time, 1.5) for r in reaches]))
    rms = summarise_reaches(reaches).rms_error
    return fraction - 0.1 * settle / 1.5 - 0.1 * min(rms, 1.0)


def tune_pd(make_env, seeds=(1000, 1001), generations: int = 15, popsize: int = 5) -> TuningResult:
    """Search independent-joint PD gains on the task by differential evolution.

    The search is over ``log Kp`` and ``log Kd`` of both joints, from the preset
    gains down to 1/20 and up to 5 times them, maximising :func:`reaching_score`
    of the first episode on each seed. Deterministic (the search is seeded).

    Parameters
    ----------
    make_env : callable
        ``make_env()`` returns a fresh environment (with the delay to tune for).
    seeds : sequence of int
        Environment seeds of the trial episodes, per gain set.
    generations : int
        Differential-evolution generations.
    popsize : int
        Population size multiplier (SciPy's ``popsize``).

    Returns
    -------
    TuningResult
        ``params``: ``kp`` and ``kd`` (lists of two floats); ``details``:
        ``fraction_reached`` and ``median_settle_time`` on the tuning seeds
        (None for an infinite time).
    """
    started = time.perf_counter()
    seeds = tuple(int(s) for s in seeds)
    env = make_env()
    kp0, kd0 = preset_pd(env)
    x0 = np.log(np.concatenate([kp0, kd0]))
    bounds = [(x - math.log(20.0), x + math.log(5.0)) for x in x0]
    episodes = evaluations = 0

    def trial(x):
        nonlocal episodes, evaluations
        evaluations += 1
        params = {"kp": np.exp(x[:2]).tolist(), "kd": np.exp(x[2:]).tolist()}
        reaches = []
        for seed in seeds:
            trial_env = make_env()
            reaches += run_reaching_episode(trial_env, pd_agent(trial_env, params), seed)[0]
            episodes += 1
        return reaches

    history = []
    result = differential_evolution(lambda x: -reaching_score(trial(x)), bounds, x0=x0,
                                    maxiter=generations, popsize=popsize, seed=0, tol=0.0,
                                    polish=False, init="sobol", updating="immediate",
                                    callback=lambda intermediate_result: history.append(
                                        -float(intermediate_result.fun)))
    reaches = trial(result.x)
    summary = summarise_reaches(reaches)
    settle = summary.median_settle_time
    return TuningResult(
        params={"kp": np.exp(result.x[:2]).tolist(), "kd": np.exp(result.x[2:]).tolist()},
        score=reaching_score(reaches), episodes=episodes, seconds=time.perf_counter() - started,
        evaluations=evaluations, history=tuple(history),
        details={"fraction_reached": summary.fraction_reached,
                 "median_settle_time": settle if math.isfinite(settle) else None},
    )


#: Reaching agents beyond the models, by name: the model of each learned agent that
#: practises ``practice_steps`` (0.3 s) before the session, reported beside the blank
#: agents, never in their place.
PRACTISED_AGENTS = {"rls+practice": "rls", "cerebellum+practice": "cerebellum"}


@dataclass(frozen=True)
class Reaching(TaskKind):
    """A session of reaches; it succeeds when enough reaches settle within 0.05 rad in 1 s.

    Attributes
    ----------
    success_fraction : float
        An episode succeeds when this fraction of its reaches settle.
    all_held : int
        If non-zero, an episode succeeds only when exactly this many targets
        were all reached and held (the wrist's 8 directions).
    agent : ReachingAgentConfig
        The settings of the learned agents.
    tuning_seeds : tuple of int
        Seeds of the PD search's trial episodes.
    tuning_generations : int
        Generations of the PD search (a fixed budget: it ignores the suite's).
    """

    success_fraction: float = 0.95
    all_held: int = 0
    agent: ReachingAgentConfig = DEFAULT_REACHING
    tuning_seeds: tuple[int, ...] = (1000, 1001)
    tuning_generations: int = 15

    name = "reaching"
    extra_agents = ("tuned-feedback", "oracle", *PRACTISED_AGENTS, *SHORT_TERM_AGENTS)
    table_header = ("| task | agent | target | reaches settled in 1 s (first session) | seeds meeting "
                    "the target | median settle time (s) | all 8 held | RMS error (rad, median) |")
    curve_label = "fraction of reaches settled"

    def build(self, name, task, env, seed, tuned):  # noqa: D102
        self.check_name(name)
        delay = delay_steps_of(env)
        if name == "tuned-feedback":
            return pd_agent(env, need_params(tuned, name))
        if name == "oracle":
            return oracle_reaching_agent(env, delay_steps=delay, config=self.agent)
        if name in SHORT_TERM_AGENTS:
            return short_term_agent(env, name, seed=seed, delay_steps=delay)
        if name in PRACTISED_AGENTS:
            return practised_reaching_agent(env, partial(task.make_env, with_change=False),
                                            model=PRACTISED_AGENTS[name], seed=seed, delay_steps=delay,
                                            config=self.agent)
        return reaching_agent(env, model=name, seed=seed, delay_steps=delay, config=self.agent)

    def tune(self, task, generations):  # noqa: D102
        return tune_pd(partial(task.make_env, with_change=False), seeds=self.tuning_seeds,
                       generations=self.tuning_generations)

    def score(self, task, trace, env):  # noqa: D102
        dt = env.unwrapped.params.dt
        centre = (0.0, 0.0) if self.all_held else None
        reaches = reach_metrics(trace.true_observations, dt, centre=centre)
        reached = [r.reached for r in reaches]
        fraction = float(np.mean(reached)) if reached else math.nan
        held = bool(reaches) and all(reached) and (not self.all_held or len(reaches) == self.all_held)
        success = held if self.all_held else bool(reached) and fraction >= self.success_fraction
        return success, {
            "reaches": len(reaches), "reached": int(sum(reached)),
            "settle_times": [r.settle_time for r in reaches],
            "all_held": held,
            "rms_error": float(np.sqrt(np.mean([r.rms_error**2 for r in reaches]))) if reaches else math.nan,
        }

    def summarise(self, task, runs):  # noqa: D102
        firsts = [rs[0].metrics for rs in runs]
        settle = [t for m in firsts for t in m.get("settle_times", [])]
        reaches = sum(m.get("reaches", 0) for m in firsts)
        return {
            "reaches": reaches,
            "reached_fraction": sum(m.get("reached", 0) for m in firsts) / reaches if reaches else math.nan,
            "median_settle_time": float(np.median(settle)) if settle else math.nan,
            "all_held": sum(bool(m.get("all_held")) for m in firsts),
        }

    def table_line(self, row, task):  # noqa: D102
        n = row["seeds"]
        held = f"{row['all_held']}/{n}" if self.all_held else "-"
        return (f"| {row['task']} | {row['agent']} | {task.target} "
                f"| {number(row['reached_fraction'], '.1%')} of {row['reaches']} "
                f"| {row['first_success']}/{n} | {number(row['median_settle_time'], '.2f')} | {held} "
                f"| {number(row['median_rms'], '.3f')} |")

    def curve_value(self, record):  # noqa: D102
        return record.metrics["reached"] / max(record.metrics["reaches"], 1)

    def headline(self, row, task):  # noqa: D102
        held = f"; all {self.all_held} held in {row['all_held']}/{row['seeds']}" if self.all_held else ""
        return (f"{number(row['reached_fraction'], '.1%')} of {row['reaches']} reaches settled within "
                f"{TOLERANCE} rad in {WITHIN:g} s (first session){held}")
