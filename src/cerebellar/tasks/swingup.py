"""Swing-up tasks: agents that plan through a forward model learned from a blank start.

Three Gymnasium tasks that a feedback law regulating an observed channel cannot
solve, because energy must be pumped in before the goal can be held or reached:
``Pendulum-v1``, ``Acrobot-v1`` and ``MountainCarContinuous-v0``. For each the
module gives the task's cost for a planner (the task's own per-step cost, plus a
height or energy term where its reward is sparse; for the acrobot a
parameter-free stand-in for energy, from the observation alone), the settings
of the learned agent and of its planner (:class:`SwingupSettings`), and the
agents: :func:`learned_agent` (a blank
:class:`~cerebellar.models.SmoothCerebellum` that learns from every
transition, with an :class:`~cerebellar.control.MPPIController` planning
through it), :func:`oracle_agent` (the same planner through the true dynamics
of :mod:`cerebellar.envs.classic`) and :func:`no_model_agent` (a tuned
feedback law: energy pumping, or bang-bang, with a linear catch), whose gains
:func:`tune_no_model` picks by a grid search over trial episodes on the task.

The learned model is told which observation channels are the cosine and sine of
an angle (the observation's layout, not its dynamics): it learns each angle's
increment and predicts by rotation (``angle_pairs``). For a discrete action
space the planner rolls every candidate through the model with the command it
would actually send (:class:`~cerebellar.control.SentCommands`).
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field

import gymnasium as gym
import numpy as np

from ..agent import Agent, PolicyAgent, run_episode
from ..control import ActionMap, MPPIController, SentCommands
from ..envs.classic import acrobot_dynamics, acrobot_height, mountaincar_dynamics, pendulum_dynamics
from ..models import make_model
from ..models.oracle import DynamicsModel
from .base import TaskKind, need_params, number
from .tuning import TuningResult

#: Weight of the missing swing (heights plus speed) in :func:`acrobot_cost`.
ACROBOT_SWING_WEIGHT = 3.0

#: Weight of the squared joint velocities (rad/s)^2 in the swing of :func:`acrobot_cost`.
ACROBOT_SPEED_WEIGHT = 0.2

#: The swing-up tasks, by Gymnasium id.
SWINGUP_ENV_IDS = ("Pendulum-v1", "Acrobot-v1", "MountainCarContinuous-v0")


# --------------------------------------------------------------------------- planning costs


def pendulum_cost(states: np.ndarray, commands: np.ndarray) -> np.ndarray:
    """``Pendulum-v1``'s own per-step cost (minus its reward), on the next state."""
    theta = np.arctan2(states[:, 1], states[:, 0])
    return theta**2 + 0.1 * states[:, 2] ** 2 + 0.001 * np.clip(commands[:, 0], -2, 2) ** 2


def acrobot_cost(states: np.ndarray, commands: np.ndarray, swing_weight: float = ACROBOT_SWING_WEIGHT,
                 speed_weight: float = ACROBOT_SPEED_WEIGHT) -> np.ndarray:
    """``Acrobot-v1``'s goal as a cost: minus the tip height, plus 10 per step below the goal.

    Plus ``swing_weight`` times the swing still missing to stand upright, as a
    fraction of what hanging at rest misses. The swing is a parameter-free
    stand-in for mechanical energy, read from the observation alone: the elbow's
    and the tip's heights (unit link lengths, as the goal's definition has them)
    plus ``speed_weight`` times the sum of the squared joint velocities. It is 3
    upright at rest and -3 hanging at rest. The tip height alone gives a planner
    nothing to follow while the acrobot hangs nearly still, since no short plan
    lifts the tip noticeably; the missing swing falls with every pump.

    No mass, inertia or gravity of the plant enters (the comparison with the
    true energy, :func:`~cerebellar.envs.classic.acrobot_energy`, is in the docs).
    """
    height = acrobot_height(states)
    swing = -states[:, 0] + height + speed_weight * (states[:, 4] ** 2 + states[:, 5] ** 2)
    missing = np.maximum(3.0 - swing, 0.0) / 6.0
    return -height + 10.0 * (height <= 1.0) + swing_weight * missing


def mountaincar_cost(states: np.ndarray, commands: np.ndarray) -> np.ndarray:
    """``MountainCarContinuous-v0``'s reward as a cost, minus the car's mechanical energy.

    The reward (+100 at the goal, -0.1 u^2 per step) is sparse: no 20-step plan
    from the valley sees the goal, so the planner also maximises energy.
    """
    position, velocity = states[:, 0], states[:, 1]
    energy = 0.0025 / 3 * np.sin(3 * position) + 0.5 * velocity**2
    goal = position >= 0.45
    return 0.1 * np.clip(commands[:, 0], -1, 1) ** 2 - 100.0 * goal - 2e4 * energy


# --------------------------------------------------------------------------- no-model controllers


def pendulum_feedback(params):
    """Energy pumping far from the top, linear catch near it: ``params = (k_energy, k_angle, k_rate)``."""
    k_energy, k_angle, k_rate = params

    def policy(obs):
        cos, sin, rate = obs
        theta = np.arctan2(sin, cos)
        if cos > 0.85:
            return np.array([-(k_angle * theta + k_rate * rate)])
        energy = 0.5 * rate**2 / 3 + 5.0 * cos  # per unit m l^2 / 3; upright at rest = 5
        return np.array([k_energy * (5.0 - energy) * np.sign(rate if rate != 0 else 1.0)])

    return policy


def acrobot_feedback(params):
    """Pump with the first joint's velocity and damp the second: ``params = (k1, k2)``."""
    k1, k2 = params

    def policy(obs):
        return np.array([k1 * obs[4] + k2 * obs[5]])

    return policy


def mountaincar_feedback(params):
    """Bang-bang on velocity with an initial direction: ``params = (gain, initial push)``."""
    gain, push = params

    def policy(obs):
        return np.array([gain * obs[1] if abs(obs[1]) > 1e-6 else push])

    return policy


# --------------------------------------------------------------------------- settings and agents


@dataclass(frozen=True)
class SwingupSettings:
    """One swing-up task's settings: true dynamics, planning cost, model, planner and opponent.

    Attributes
    ----------
    env_id : str
        The Gymnasium id.
    dynamics, cost : callable
        Vectorised true dynamics (for the oracle) and planning cost.
    input_scale : tuple of float
        Scale of each observation channel then the command, for the model.
    feedback : callable
        ``feedback(gains) -> policy``: the no-model law.
    feedback_grid : tuple
        The gain sets the no-model law is searched over.
    angle_pairs : tuple
        ``(cos, sin)`` channel pairs of the observation's angles.
    action_values : tuple or None
        For a discrete action space, the command each action stands for.
    mppi : dict
        The planner's settings.
    granule_cells : int
        Granule cells of the learned ``cerebellum-smooth``: the acrobot's
        7-input map needs more than the pendulum's, which angle pairs make nearly linear.
    """

    env_id: str
    dynamics: object
    cost: object
    input_scale: tuple
    feedback: object
    feedback_grid: tuple
    angle_pairs: tuple = ()
    action_values: tuple | None = None
    mppi: dict = field(default_factory=dict)
    granule_cells: int = 200


SETTINGS: dict[str, SwingupSettings] = {
    "Pendulum-v1": SwingupSettings(
        "Pendulum-v1", pendulum_dynamics, pendulum_cost, (1.0, 1.0, 8.0, 2.0),
        pendulum_feedback, tuple(itertools.product([0.5, 1.0, 2.0], [5.0, 10.0, 20.0], [1.0, 2.0, 4.0])),
        # A low temperature (near-greedy averaging) saves about 20 per episode with the true model.
        angle_pairs=((0, 1),), mppi=dict(horizon=20, samples=128, noise=1.0, temperature=0.03),
        granule_cells=100,
    ),
    "Acrobot-v1": SwingupSettings(
        # Velocities scaled by their typical size in a swing-up (about 2 and 4 rad/s),
        # not by their bounds (4 pi, 9 pi), so that granule tuning resolves them.
        "Acrobot-v1", acrobot_dynamics, acrobot_cost, (1.0, 1.0, 1.0, 1.0, 2.0, 4.0, 1.0),
        acrobot_feedback, tuple(itertools.product([-1.0, -0.3, 0.0, 0.3, 1.0], [-1.0, -0.3, 0.0, 0.3, 1.0])),
        angle_pairs=((0, 1), (2, 3)), action_values=(-1.0, 0.0, 1.0),
        mppi=dict(horizon=20, samples=128, noise=1.0, temperature=0.1), granule_cells=400,
    ),
    "MountainCarContinuous-v0": SwingupSettings(
        "MountainCarContinuous-v0", mountaincar_dynamics, mountaincar_cost, (1.0, 0.07, 1.0),
        mountaincar_feedback, tuple(itertools.product([10.0, 100.0, 1000.0], [-1.0, 1.0])),
        mppi=dict(horizon=20, samples=64, noise=1.0, temperature=0.1),
    ),
}


def settings_for(env) -> SwingupSettings:
    """Return the swing-up settings of ``env``'s id, or raise ``ValueError``."""
    env_id = env.spec.id if env.spec is not None else None
    if env_id not in SETTINGS:
        raise ValueError(f"no swing-up task for {env_id!r}; choose one of {', '.join(SWINGUP_ENV_IDS)}")
    return SETTINGS[env_id]


def _planning_agent(env, settings: SwingupSettings, model, seed: int) -> Agent:
    actions = ActionMap(env.action_space, settings.action_values)
    planned = SentCommands(model, actions) if actions.discrete else model
    controller = MPPIController(planned, settings.cost, low=actions.low, high=actions.high, seed=seed,
                                **settings.mppi)
    return Agent(model, controller, actions, env.observation_space.shape[0])


def learned_agent(env, model: str = "cerebellum-smooth", seed: int = 0) -> Agent:
    """Build an MPPI agent planning through a blank model that learns from every transition.

    Parameters
    ----------
    env : gymnasium.Env
        One of :data:`SWINGUP_ENV_IDS`.
    model : str
        A model name for :func:`~cerebellar.models.make_model`. For
        ``"cerebellum-smooth"`` (the default) the task's angle pairs and
        granule cells are used.
    seed : int
        Seeds the model and the planner's exploration noise.

    Returns
    -------
    Agent
    """
    settings = settings_for(env)
    params = {}
    if model == "cerebellum-smooth":
        params = dict(n_granule=settings.granule_cells,
                      angle_pairs=[list(pair) for pair in settings.angle_pairs] or None)
    learner = make_model(model, seed=seed, input_scale=settings.input_scale, **params)
    learner.initialise(env.observation_space.shape[0], 1)
    return _planning_agent(env, settings, learner, seed)


def oracle_agent(env, seed: int = 0) -> Agent:
    """Build the same planner as :func:`learned_agent`, through the true dynamics."""
    settings = settings_for(env)
    return _planning_agent(env, settings, DynamicsModel(settings.dynamics), seed)


def no_model_agent(env, params: dict) -> PolicyAgent:
    """Build the tuned no-model controller with gains from :func:`tune_no_model`."""
    settings = settings_for(env)
    return PolicyAgent(settings.feedback(tuple(params["gains"])),
                       ActionMap(env.action_space, settings.action_values))


def tune_no_model(env_id: str, seeds=(1000, 1001, 1002)) -> TuningResult:
    """Pick the no-model controller's gains by a grid search over trial episodes.

    Parameters
    ----------
    env_id : str
        One of :data:`SWINGUP_ENV_IDS`.
    seeds : sequence of int
        Seeds of the trial episodes each gain set is scored on (mean return).

    Returns
    -------
    TuningResult
        ``params["gains"]``; ``score`` is the best mean return.
    """
    if env_id not in SETTINGS:
        raise ValueError(f"no swing-up task for {env_id!r}; choose one of {', '.join(SWINGUP_ENV_IDS)}")
    started = time.perf_counter()
    settings = SETTINGS[env_id]
    env = gym.make(env_id)
    actions = ActionMap(env.action_space, settings.action_values)
    best, best_score, episodes = None, -np.inf, 0
    for gains in settings.feedback_grid:
        agent = PolicyAgent(settings.feedback(gains), actions)
        score = float(np.mean([run_episode(agent, env, seed=seed).total_return for seed in seeds]))
        episodes += len(seeds)
        if score > best_score:
            best, best_score = gains, score
    env.close()
    return TuningResult(params={"gains": [float(g) for g in best]}, score=best_score, episodes=episodes,
                        seconds=time.perf_counter() - started, evaluations=len(settings.feedback_grid),
                        details={"grid_size": len(settings.feedback_grid)})


@dataclass(frozen=True)
class Return(TaskKind):
    """Swing-up tasks scored by the environment's return.

    Attributes
    ----------
    success_return : float
        An episode succeeds when its return is at least this.
    mean_window : tuple of int, optional
        First and last episode (1-based) whose mean return is the acceptance
        figure (Pendulum: episodes 3-10).
    tuning_seeds : tuple of int
        Seeds of the grid search's trial episodes.
    """

    success_return: float = 0.0
    mean_window: tuple[int, int] | None = None
    tuning_seeds: tuple[int, ...] = (1000, 1001, 1002)

    name = "return"
    table_header = ("| task | agent | target | acceptance figure | mean return per episode "
                    "| episodes to success (median) | env steps to success (median) |")
    curve_label = "mean return"

    def build(self, name, task, env, seed, tuned):  # noqa: D102
        self.check_name(name)
        if name == "tuned-feedback":
            return no_model_agent(env, need_params(tuned, name))
        if name == "oracle":
            return oracle_agent(env, seed=seed)
        return learned_agent(env, model=name, seed=seed)

    def tune(self, task, generations):  # noqa: D102
        return tune_no_model(task.env_id, seeds=self.tuning_seeds)

    def score(self, task, trace, env):  # noqa: D102
        return bool(trace.total_return >= self.success_return), {}

    def summarise(self, task, runs):  # noqa: D102
        count = max(len(rs) for rs in runs)
        means = [float(np.mean([rs[e].total_return for rs in runs if len(rs) > e])) for e in range(count)]
        row = {"mean_returns": means}
        if self.mean_window:
            first, last = self.mean_window
            window = [np.mean([r.total_return for r in rs[first - 1:last]]) for rs in runs if len(rs) >= last]
            row["window_mean"] = float(np.mean(window)) if window else float("nan")
            row["window_success"] = int(sum(w >= self.success_return for w in window))
        return row

    def _figure(self, row, task) -> str:
        n = row["seeds"]
        if self.mean_window and "window_mean" in row:
            return (f"mean eps {self.mean_window[0]}-{self.mean_window[1]}: "
                    f"{number(row['window_mean'], '.0f')} ({row['window_success']}/{n} seeds)")
        return f"{row['final_success']}/{n} seeds by episode {task.episodes}"

    def table_line(self, row, task):  # noqa: D102
        returns = ", ".join(f"{v:.0f}" for v in row["mean_returns"])
        return (f"| {row['task']} | {row['agent']} | {task.target} | {self._figure(row, task)} | {returns} "
                f"| {number(row['median_episodes_to_success'])} "
                f"| {number(row['median_steps_to_success'], '.0f')} |")

    def curve_value(self, record):  # noqa: D102
        return record.total_return

    def headline(self, row, task):  # noqa: D102
        returns = ", ".join(f"{v:.1f}" for v in row["mean_returns"])
        return f"returns per episode [{returns}]; {self._figure(row, task)}"
