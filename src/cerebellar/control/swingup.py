"""Swing-up tasks: agents that plan through a forward model learned from a blank start.

Three Gymnasium tasks that a feedback law regulating an observed channel cannot
solve, because energy must be pumped in before the goal can be held or reached:
``Pendulum-v1``, ``Acrobot-v1`` and ``MountainCarContinuous-v0``
(:data:`SWINGUP_ENV_IDS`). For each task this module gives

- the true dynamics, vectorised over rows of observations (written from
  Gymnasium's source; equal to its ``step``), for an oracle model;
- the task's cost for a planner: the task's own per-step cost, plus a height or
  energy term where its reward is sparse (for the acrobot a parameter-free
  stand-in for energy, from the observation alone: no plant parameter enters);
- agents with the :class:`~cerebellar.Agent` interface: :func:`learned_agent`
  (a blank :class:`~cerebellar.models.SmoothCerebellum` that learns from every
  transition, with an :class:`~cerebellar.control.MPPIController` planning
  through it), :func:`oracle_agent` (the same planner through the true
  dynamics) and :func:`no_model_agent` (a tuned feedback law: energy pumping,
  or bang-bang, with a linear catch), whose gains :func:`tune_no_model` picks
  by a small grid search over trial episodes on the task itself.

The learned model is told which observation channels are the cosine and sine of
an angle (the observation's layout, not its dynamics): it learns each angle's
increment and predicts by rotation (``angle_pairs``). For a discrete action
space the planner rolls every candidate through the model with the command it
would actually send (the nearest action's value), so plans are judged on what
the plant will receive.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import gymnasium as gym
import numpy as np

from ..agent import Agent
from ..models import make_model
from .actions import ActionMap
from .feedback import LinearFeedback
from .planning import MPPIController

#: Weight of the missing swing (heights plus speed) in :func:`acrobot_cost`.
ACROBOT_SWING_WEIGHT = 3.0

#: Weight of the squared joint velocities (rad/s)^2 in the swing of :func:`acrobot_cost`.
ACROBOT_SPEED_WEIGHT = 0.2

#: The swing-up tasks, by Gymnasium id.
SWINGUP_ENV_IDS = ("Pendulum-v1", "Acrobot-v1", "MountainCarContinuous-v0")

# --------------------------------------------------------------------------- true dynamics


def pendulum_dynamics(states: np.ndarray, commands: np.ndarray) -> np.ndarray:
    """Gymnasium ``Pendulum-v1``, vectorised: observations (N, 3), torques (N, 1) -> next observations."""
    theta = np.arctan2(states[:, 1], states[:, 0])
    torque = np.clip(commands[:, 0], -2.0, 2.0)
    # g = 10, m = l = 1, dt = 0.05: dv = (3 g / (2 l) sin(theta) + 3 / (m l^2) u) dt
    velocity = np.clip(states[:, 2] + (15.0 * np.sin(theta) + 3.0 * torque) * 0.05, -8.0, 8.0)
    theta = theta + velocity * 0.05
    return np.stack([np.cos(theta), np.sin(theta), velocity], axis=1)


def pendulum_cost(states: np.ndarray, commands: np.ndarray) -> np.ndarray:
    """``Pendulum-v1``'s own per-step cost (minus its reward), on the next state."""
    theta = np.arctan2(states[:, 1], states[:, 0])
    return theta**2 + 0.1 * states[:, 2] ** 2 + 0.001 * np.clip(commands[:, 0], -2, 2) ** 2


def _acrobot_derivatives(theta1, theta2, dtheta1, dtheta2, torque):
    # Gymnasium's "book" dynamics: unit masses and lengths, centres at 0.5, inertia 1, g = 9.8.
    d1 = 0.25 + (1.0 + 0.25 + np.cos(theta2)) + 2.0
    d2 = (0.25 + 0.5 * np.cos(theta2)) + 1.0
    phi2 = 0.5 * 9.8 * np.cos(theta1 + theta2 - np.pi / 2)
    phi1 = (-0.5 * dtheta2**2 * np.sin(theta2) - dtheta2 * dtheta1 * np.sin(theta2)
            + 1.5 * 9.8 * np.cos(theta1 - np.pi / 2) + phi2)
    ddtheta2 = ((torque + d2 / d1 * phi1 - 0.5 * dtheta1**2 * np.sin(theta2) - phi2)
                / (0.25 + 1.0 - d2**2 / d1))
    ddtheta1 = -(d2 * ddtheta2 + phi1) / d1
    return np.stack([dtheta1, dtheta2, ddtheta1, ddtheta2])


def acrobot_dynamics(states: np.ndarray, commands: np.ndarray) -> np.ndarray:
    """Gymnasium ``Acrobot-v1`` (one RK4 step of 0.2 s), vectorised on observations (N, 6)."""
    s = np.stack([np.arctan2(states[:, 1], states[:, 0]), np.arctan2(states[:, 3], states[:, 2]),
                  states[:, 4], states[:, 5]])
    torque = np.clip(commands[:, 0], -1.0, 1.0)
    dt = 0.2
    k1 = _acrobot_derivatives(*s, torque)
    k2 = _acrobot_derivatives(*(s + dt / 2 * k1), torque)
    k3 = _acrobot_derivatives(*(s + dt / 2 * k2), torque)
    k4 = _acrobot_derivatives(*(s + dt * k3), torque)
    n = s + dt / 6.0 * (k1 + 2 * k2 + 2 * k3 + k4)
    v1 = np.clip(n[2], -4 * np.pi, 4 * np.pi)
    v2 = np.clip(n[3], -9 * np.pi, 9 * np.pi)
    return np.stack([np.cos(n[0]), np.sin(n[0]), np.cos(n[1]), np.sin(n[1]), v1, v2], axis=1)


def acrobot_height(states: np.ndarray) -> np.ndarray:
    """Height of the acrobot's tip above its pivot (the episode ends above 1)."""
    c1, s1, c2, s2 = states[:, 0], states[:, 1], states[:, 2], states[:, 3]
    return -c1 - (c1 * c2 - s1 * s2)


def acrobot_energy(states: np.ndarray) -> np.ndarray:
    """Mechanical energy of the acrobot (Gymnasium's parameters), zero when upright at rest.

    Hanging at rest it is -39.2 (= -2 (m1 lc1 + m2 l1 + m2 lc2) g). It uses the
    plant's parameters, so the planners no longer use it (see :func:`acrobot_cost`);
    it is kept to check the dynamics and for analysis.
    """
    c1, s1, c2, s2, v1, v2 = states.T
    potential = -9.8 * (1.5 * c1 + 0.5 * (c1 * c2 - s1 * s2)) - 19.6
    # Mass matrix [[d1, d2], [d2, 1.25]] of Gymnasium's book model.
    d1 = 3.5 + c2
    d2 = 1.25 + 0.5 * c2
    kinetic = 0.5 * (d1 * v1**2 + 2 * d2 * v1 * v2 + 1.25 * v2**2)
    return potential + kinetic


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

    No mass, inertia or gravity of the plant enters. History (learned agent,
    seeds 0-19, return >= -100 by episode 5): tip height alone 14/20 seeds; plus
    3 x the missing true energy (:func:`acrobot_energy`, the plant's masses,
    lengths and inertias) 20/20, median episode 3; this cost 20/20, median
    episode 2 (the oracle: 20/20 in episode 1). Chosen on seeds 0-9 among swings
    of the tip alone or of elbow and tip, speed weights 0.05 to 0.2; confirmed
    on seeds 10-19.
    """
    height = acrobot_height(states)
    swing = -states[:, 0] + height + speed_weight * (states[:, 4] ** 2 + states[:, 5] ** 2)
    missing = np.maximum(3.0 - swing, 0.0) / 6.0
    return -height + 10.0 * (height <= 1.0) + swing_weight * missing


def mountaincar_dynamics(states: np.ndarray, commands: np.ndarray) -> np.ndarray:
    """Gymnasium ``MountainCarContinuous-v0``, vectorised: (N, 2) position, velocity."""
    force = np.clip(commands[:, 0], -1.0, 1.0)
    velocity = np.clip(states[:, 1] + force * 0.0015 - 0.0025 * np.cos(3 * states[:, 0]), -0.07, 0.07)
    position = np.clip(states[:, 0] + velocity, -1.2, 0.6)
    velocity = np.where((position <= -1.2) & (velocity < 0), 0.0, velocity)
    return np.stack([position, velocity], axis=1)


def mountaincar_cost(states: np.ndarray, commands: np.ndarray) -> np.ndarray:
    """``MountainCarContinuous-v0``'s reward as a cost, minus the car's mechanical energy.

    The reward (+100 at the goal, -0.1 u^2 per step) is sparse: no 20-step plan
    from the valley sees the goal, so the planner also maximises energy.
    """
    position, velocity = states[:, 0], states[:, 1]
    energy = 0.0025 / 3 * np.sin(3 * position) + 0.5 * velocity**2
    goal = position >= 0.45
    return 0.1 * np.clip(commands[:, 0], -1, 1) ** 2 - 100.0 * goal - 2e4 * energy


class DynamicsModel:
    """Known dynamics as a forward model with ``predict`` and ``predict_many`` (learns nothing).

    Parameters
    ----------
    dynamics : callable
        ``dynamics(states (N, n), commands (N, m)) -> next states (N, n)``.
    """

    def __init__(self, dynamics):
        self.dynamics = dynamics

    def predict(self, state, command) -> np.ndarray:
        """Return the true next state."""
        return self.dynamics(np.atleast_2d(np.asarray(state, dtype=np.float64)),
                             np.atleast_2d(np.asarray(command, dtype=np.float64)))[0]

    def predict_many(self, states, commands) -> np.ndarray:
        """Return the true next states of a batch."""
        states = np.asarray(states, dtype=np.float64)
        return self.dynamics(states, np.asarray(commands, dtype=np.float64).reshape(len(states), -1))

    def learn(self, state, command, next_state) -> np.ndarray:
        """Learn nothing; return the prediction error."""
        return np.asarray(next_state, dtype=np.float64) - self.predict(state, command)


class SentCommands:
    """A model seen by a planner: every command is replaced by the one the plant would receive.

    With a discrete action space a continuous command goes to the nearest
    action's value; rolling plans through the model with the values actually
    sent keeps the planner from trusting commands the plant never gets.

    Parameters
    ----------
    model : ForwardModel
        The model to plan through (it keeps learning elsewhere).
    actions : ActionMap
        The action map of a discrete space (one command channel).
    """

    def __init__(self, model, actions: ActionMap):
        self.model = model
        self.values = np.sort(actions.values[:, 0])

    def _sent(self, commands):
        commands = np.asarray(commands, dtype=np.float64)
        # Nearest value; ties to the lower one, as ActionMap.to_action does.
        upper = np.clip(np.searchsorted(self.values, commands), 1, len(self.values) - 1)
        lower = upper - 1
        take_upper = np.abs(self.values[upper] - commands) < np.abs(commands - self.values[lower])
        return np.where(take_upper, self.values[upper], self.values[lower])

    def predict(self, state, command) -> np.ndarray:
        """Predict with the command the plant would receive."""
        return self.model.predict(state, self._sent(np.atleast_1d(command)))

    def predict_many(self, states, commands) -> np.ndarray:
        """Predict a batch with the commands the plant would receive."""
        return self.model.predict_many(states, self._sent(commands))

    def learn(self, state, command, next_state) -> np.ndarray:
        """Learn through the wrapped model."""
        return self.model.learn(state, command, next_state)


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


class PolicyAgent:
    """A no-model agent from a ``policy(obs) -> command`` (nothing is learned).

    Parameters
    ----------
    policy : callable
        ``policy(observation) -> command``.
    actions : ActionMap
        Maps commands to the environment's actions.
    """

    iterations = 0
    model = None

    def __init__(self, policy, actions: ActionMap):
        self.policy = policy
        self.actions = actions
        self.last_command_ = None

    def act(self, observation):
        """Return the action for ``observation``."""
        command = self.policy(np.asarray(observation, dtype=np.float64))
        self.last_command_ = np.clip(command, self.actions.low, self.actions.high)
        return self.actions.to_action(self.last_command_)

    def observe(self, observation, action, next_observation) -> None:
        """Learn nothing."""
        return None

    def reset(self) -> None:
        """Nothing to reset."""
        self.last_command_ = None


# --------------------------------------------------------------------------- tasks


@dataclass(frozen=True)
class SwingupTask:
    """One swing-up task: true dynamics, planning cost, model and planner settings, opponent."""

    env_id: str
    dynamics: object
    cost: object
    input_scale: tuple
    feedback: object
    feedback_grid: tuple
    angle_pairs: tuple = ()
    action_values: tuple | None = None
    mppi: dict = field(default_factory=dict)


TASKS = {
    "Pendulum-v1": SwingupTask(
        "Pendulum-v1", pendulum_dynamics, pendulum_cost, (1.0, 1.0, 8.0, 2.0),
        pendulum_feedback, tuple(itertools.product([0.5, 1.0, 2.0], [5.0, 10.0, 20.0], [1.0, 2.0, 4.0])),
        # A low temperature (near-greedy averaging) saves about 20 per episode with the true model.
        angle_pairs=((0, 1),), mppi=dict(horizon=20, samples=128, noise=1.0, temperature=0.03),
    ),
    "Acrobot-v1": SwingupTask(
        # Velocities scaled by their typical size in a swing-up (about 2 and 4 rad/s),
        # not by their bounds (4 pi, 9 pi), so that granule tuning resolves them.
        "Acrobot-v1", acrobot_dynamics, acrobot_cost, (1.0, 1.0, 1.0, 1.0, 2.0, 4.0, 1.0),
        acrobot_feedback, tuple(itertools.product([-1.0, -0.3, 0.0, 0.3, 1.0], [-1.0, -0.3, 0.0, 0.3, 1.0])),
        angle_pairs=((0, 1), (2, 3)), action_values=(-1.0, 0.0, 1.0),
        mppi=dict(horizon=20, samples=128, noise=1.0, temperature=0.1),
    ),
    "MountainCarContinuous-v0": SwingupTask(
        "MountainCarContinuous-v0", mountaincar_dynamics, mountaincar_cost, (1.0, 0.07, 1.0),
        mountaincar_feedback, tuple(itertools.product([10.0, 100.0, 1000.0], [-1.0, 1.0])),
        mppi=dict(horizon=20, samples=64, noise=1.0, temperature=0.1),
    ),
}

#: Granule cells of the learned ``cerebellum-smooth`` model per task: the acrobot's
#: 7-input map needs more than the pendulum's, which angle pairs make nearly linear.
_GRANULE_CELLS = {"Pendulum-v1": 100, "Acrobot-v1": 400, "MountainCarContinuous-v0": 200}


def _task(env) -> SwingupTask:
    env_id = env.spec.id if env.spec is not None else None
    if env_id not in TASKS:
        raise ValueError(f"no swing-up task for {env_id!r}; choose one of {', '.join(SWINGUP_ENV_IDS)}")
    return TASKS[env_id]


def _planning_agent(env, task: SwingupTask, model, seed: int) -> Agent:
    actions = ActionMap(env.action_space, task.action_values)
    planned = SentCommands(model, actions) if actions.discrete else model
    controller = MPPIController(planned, task.cost, low=actions.low, high=actions.high, seed=seed,
                                **task.mppi)
    feedback = LinearFeedback(np.zeros(env.observation_space.shape[0]))
    return Agent(model, feedback, actions, iterations=0, controller=controller)


def learned_agent(env, model: str = "cerebellum-smooth", seed: int = 0) -> Agent:
    """Build an MPPI agent planning through a blank model that learns from every transition.

    Parameters
    ----------
    env : gymnasium.Env
        One of :data:`SWINGUP_ENV_IDS`.
    model : str
        A model name for :func:`~cerebellar.models.make_model`. For
        ``"cerebellum-smooth"`` (the default) the task's angle pairs and tuned
        settings are used.
    seed : int
        Seeds the model and the planner's exploration noise.

    Returns
    -------
    Agent
    """
    task = _task(env)
    params = {}
    if model == "cerebellum-smooth":
        params = dict(n_granule=_GRANULE_CELLS[task.env_id],
                      angle_pairs=[list(pair) for pair in task.angle_pairs] or None)
    learner = make_model(model, seed=seed, input_scale=task.input_scale, **params)
    learner.initialise(env.observation_space.shape[0], 1)
    return _planning_agent(env, task, learner, seed)


def oracle_agent(env, seed: int = 0) -> Agent:
    """Build the same planner as :func:`learned_agent`, through the true dynamics."""
    task = _task(env)
    return _planning_agent(env, task, DynamicsModel(task.dynamics), seed)


def no_model_agent(env, params: dict) -> PolicyAgent:
    """Build the tuned no-model controller with gains from :func:`tune_no_model`."""
    task = _task(env)
    return PolicyAgent(task.feedback(tuple(params["gains"])), ActionMap(env.action_space, task.action_values))


def _episode_return(agent, env, seed: int) -> float:
    observation, _ = env.reset(seed=seed)
    agent.reset()
    total, done = 0.0, False
    while not done:
        observation, reward, terminated, truncated, _ = env.step(agent.act(observation))
        total += float(reward)
        done = terminated or truncated
    return total


def tune_no_model(env_id: str, seeds=(1000, 1001, 1002)) -> dict:
    """Pick the no-model controller's gains by a grid search over trial episodes.

    Parameters
    ----------
    env_id : str
        One of :data:`SWINGUP_ENV_IDS`.
    seeds : sequence of int
        Seeds of the trial episodes each gain set is scored on (mean return).

    Returns
    -------
    dict
        ``env_id``, ``gains`` (list), ``trial_return`` (the best mean return),
        ``grid_size`` and ``episodes`` (trial episodes used); JSON-serialisable.
    """
    if env_id not in TASKS:
        raise ValueError(f"no swing-up task for {env_id!r}; choose one of {', '.join(SWINGUP_ENV_IDS)}")
    task = TASKS[env_id]
    env = gym.make(env_id)
    actions = ActionMap(env.action_space, task.action_values)
    best, best_score, episodes = None, -np.inf, 0
    for gains in task.feedback_grid:
        agent = PolicyAgent(task.feedback(gains), actions)
        score = float(np.mean([_episode_return(agent, env, seed) for seed in seeds]))
        episodes += len(seeds)
        if score > best_score:
            best, best_score = gains, score
    env.close()
    return {"env_id": env_id, "gains": [float(g) for g in best], "trial_return": best_score,
            "grid_size": len(task.feedback_grid), "episodes": episodes}


__all__ = [
    "ACROBOT_SPEED_WEIGHT", "ACROBOT_SWING_WEIGHT", "SWINGUP_ENV_IDS", "TASKS", "DynamicsModel",
    "PolicyAgent", "SentCommands", "SwingupTask", "acrobot_cost", "acrobot_dynamics", "acrobot_energy",
    "acrobot_height", "learned_agent", "mountaincar_cost", "mountaincar_dynamics", "no_model_agent",
    "oracle_agent", "pendulum_cost", "pendulum_dynamics", "tune_no_model",
]
