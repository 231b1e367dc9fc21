"""Swing-up tasks from a blank model: learned forward model vs tuned feedback vs oracle.

Three Gymnasium tasks that a simple feedback controller cannot solve by
regulating an observed channel to a setpoint, because the goal needs energy to
be pumped in first:

- ``Pendulum-v1`` (200 steps; acceptance: mean return of episodes 3-10 >= -200),
- ``Acrobot-v1`` (Discrete(3), commands -1/0/+1; acceptance: return >= -100 by episode 5),
- ``MountainCarContinuous-v0`` (acceptance: return >= 90 by episode 5).

Per task and seed, in the same run:

- **learned**: :class:`~cerebellar.Agent` with a blank cerebellar model and an
  :class:`~cerebellar.control.MPPIController` planning through it (cost: the
  task's own per-step cost, with a height/energy term where the task's reward is
  sparse). Optionally the first ``--warmup`` steps of episode 1 send uniformly
  random commands (exploration), and after each episode the model re-learns the
  transitions seen so far ``--replay`` times (offline consolidation).
- **oracle**: the same controller planning through the true dynamics (written
  here, vectorised, from Gymnasium's source).
- **feedback**: a tuned no-model controller (energy pumping / bang-bang with a
  linear catch), its few gains picked by a grid search over trial episodes on
  the task itself; the number of trial episodes is reported.

Usage::

    python benchmarks/swingup.py [--tasks pendulum acrobot mountaincar] [--seeds 5]
        [--episodes 10] [--agents learned oracle feedback]

Prints Markdown tables (mean return per episode over seeds, acceptance figure,
environment steps, wall time) next to the published RL budgets.
"""

from __future__ import annotations

import argparse
import itertools
import os
import platform
import time
from dataclasses import dataclass, field

import gymnasium as gym
import numpy as np

from cerebellar import Agent
from cerebellar.control import ActionMap, LinearFeedback, MPPIController
from cerebellar.models import make_model

# --------------------------------------------------------------------------- true dynamics


def pendulum_dynamics(states, commands):
    """Gymnasium Pendulum-v1, vectorised: observations (N, 3), torques (N, 1) -> next observations."""
    theta = np.arctan2(states[:, 1], states[:, 0])
    torque = np.clip(commands[:, 0], -2.0, 2.0)
    velocity = np.clip(states[:, 2] + (15.0 * np.sin(theta) + 3.0 * torque) * 0.05, -8.0, 8.0)
    theta = theta + velocity * 0.05
    return np.stack([np.cos(theta), np.sin(theta), velocity], axis=1)


def pendulum_cost(states, commands):
    """Pendulum-v1's own per-step cost (minus its reward), on the next state."""
    theta = np.arctan2(states[:, 1], states[:, 0])
    return theta**2 + 0.1 * states[:, 2] ** 2 + 0.001 * np.clip(commands[:, 0], -2, 2) ** 2


def _acrobot_derivatives(theta1, theta2, dtheta1, dtheta2, torque):
    # Gymnasium's "book" dynamics: unit masses and lengths, centres at 0.5, inertia 1.
    d1 = 0.25 + (1.0 + 0.25 + np.cos(theta2)) + 2.0
    d2 = (0.25 + 0.5 * np.cos(theta2)) + 1.0
    phi2 = 0.5 * 9.8 * np.cos(theta1 + theta2 - np.pi / 2)
    phi1 = (-0.5 * dtheta2**2 * np.sin(theta2) - dtheta2 * dtheta1 * np.sin(theta2)
            + 1.5 * 9.8 * np.cos(theta1 - np.pi / 2) + phi2)
    ddtheta2 = ((torque + d2 / d1 * phi1 - 0.5 * dtheta1**2 * np.sin(theta2) - phi2)
                / (0.25 + 1.0 - d2**2 / d1))
    ddtheta1 = -(d2 * ddtheta2 + phi1) / d1
    return np.stack([dtheta1, dtheta2, ddtheta1, ddtheta2])


def acrobot_dynamics(states, commands):
    """Gymnasium Acrobot-v1 (one RK4 step of 0.2 s), vectorised on observations (N, 6)."""
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


def acrobot_cost(states, commands):
    """Acrobot-v1's goal as a cost: minus the tip height (the episode ends above 1)."""
    c1, s1, c2, s2 = states[:, 0], states[:, 1], states[:, 2], states[:, 3]
    height = -c1 - (c1 * c2 - s1 * s2)
    return -height + 10.0 * (height <= 1.0)


def mountaincar_dynamics(states, commands):
    """Gymnasium MountainCarContinuous-v0, vectorised: (N, 2) position, velocity."""
    force = np.clip(commands[:, 0], -1.0, 1.0)
    velocity = np.clip(states[:, 1] + force * 0.0015 - 0.0025 * np.cos(3 * states[:, 0]), -0.07, 0.07)
    position = np.clip(states[:, 0] + velocity, -1.2, 0.6)
    velocity = np.where((position <= -1.2) & (velocity < 0), 0.0, velocity)
    return np.stack([position, velocity], axis=1)


def mountaincar_cost(states, commands):
    """MountainCarContinuous-v0's reward as a cost, plus minus the car's mechanical energy.

    The reward (+100 at the goal, -0.1 u^2 per step) is sparse: no 20-step plan
    from the valley sees the goal, so the planner also maximises energy.
    """
    position, velocity = states[:, 0], states[:, 1]
    energy = 0.0025 / 3 * np.sin(3 * position) + 0.5 * velocity**2
    goal = position >= 0.45
    return 0.1 * np.clip(commands[:, 0], -1, 1) ** 2 - 100.0 * goal - 2e4 * energy


class TrueModel:
    """The true dynamics as a forward model with ``predict``/``predict_many`` (learns nothing)."""

    def __init__(self, dynamics):
        self.dynamics = dynamics

    def predict(self, state, command):
        """Return the true next state."""
        return self.dynamics(np.atleast_2d(state), np.atleast_2d(command))[0]

    def predict_many(self, states, commands):
        """Return the true next states of a batch."""
        return self.dynamics(np.asarray(states, dtype=np.float64),
                             np.asarray(commands, dtype=np.float64).reshape(len(states), -1))

    def learn(self, state, command, next_state):
        """Learn nothing; return the prediction error."""
        return np.asarray(next_state, dtype=np.float64) - self.predict(state, command)


# --------------------------------------------------------------------------- tuned feedback


def pendulum_feedback(params):
    """Energy pumping far from the top, linear catch near it: ``params = (k_energy, k_angle, k_rate)``."""
    k_energy, k_angle, k_rate = params

    def policy(obs):
        cos, sin, rate = obs
        theta = np.arctan2(sin, cos)
        if cos > 0.85:
            return np.array([-(k_angle * theta + k_rate * rate)])
        energy = 0.5 * rate**2 / 3 + 5.0 * cos  # per unit m l^2 / 3; top = 5
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
    """A no-model agent from a ``policy(obs) -> command`` (nothing is learned)."""

    def __init__(self, policy, actions: ActionMap):
        self.policy = policy
        self.actions = actions
        self.last_command_ = None

    def act(self, observation):
        """Return the action for ``observation``."""
        self.last_command_ = np.clip(self.policy(np.asarray(observation, dtype=np.float64)),
                                     self.actions.low, self.actions.high)
        return self.actions.to_action(self.last_command_)

    def observe(self, observation, action, next_observation):
        """Learn nothing."""

    def reset(self):
        """Nothing to reset."""


# --------------------------------------------------------------------------- tasks


@dataclass
class Task:
    """One swing-up task: environment, true dynamics, planning cost, opponent, acceptance."""

    name: str
    env_id: str
    n_state: int
    dynamics: object
    cost: object
    input_scale: tuple
    feedback: object
    feedback_grid: list
    acceptance: str
    rl_budget: str
    action_values: list | None = None
    low: float = -1.0
    high: float = 1.0
    mppi: dict = field(default_factory=dict)
    model: dict = field(default_factory=dict)


TASKS = {
    "pendulum": Task(
        "pendulum", "Pendulum-v1", 3, pendulum_dynamics, pendulum_cost, (1.0, 1.0, 8.0, 2.0),
        pendulum_feedback,
        list(itertools.product([0.5, 1.0, 2.0], [5.0, 10.0, 20.0], [1.0, 2.0, 4.0])),
        "mean return of episodes 3-10 >= -200", "SAC/TD3 ~20,000 steps (about -150); PPO 100,000",
        low=-2.0, high=2.0, mppi=dict(horizon=15, samples=128, noise=1.0, temperature=0.1),
    ),
    "acrobot": Task(
        "acrobot", "Acrobot-v1", 6, acrobot_dynamics, acrobot_cost,
        (1.0, 1.0, 1.0, 1.0, 4 * np.pi, 9 * np.pi, 1.0),
        acrobot_feedback, list(itertools.product([-1.0, -0.3, 0.0, 0.3, 1.0], [-1.0, -0.3, 0.0, 0.3, 1.0])),
        "return >= -100 by episode 5", "DQN 100,000 steps (-77); PPO 1,000,000",
        action_values=[-1.0, 0.0, 1.0], mppi=dict(horizon=15, samples=128, noise=1.0, temperature=0.1),
    ),
    "mountaincar": Task(
        "mountaincar", "MountainCarContinuous-v0", 2, mountaincar_dynamics, mountaincar_cost,
        (1.0, 0.07, 1.0), mountaincar_feedback,
        list(itertools.product([10.0, 100.0, 1000.0], [-1.0, 1.0])),
        "return >= 90 by episode 5", "SAC ~50,000 steps; TD3 300,000 (RL Zoo)",
        mppi=dict(horizon=20, samples=64, noise=1.0, temperature=0.1),
    ),
}


# --------------------------------------------------------------------------- agents and runs


class Explore:
    """Wrap a controller: the first ``steps`` commands (over the whole run) are uniformly random."""

    def __init__(self, controller, steps, low, high, seed):
        self.controller = controller
        self.steps = int(steps)
        self.low, self.high = low, high
        self.rng = np.random.default_rng(seed)
        self.sent = 0

    def command(self, state):
        """Return a random command while exploring, else the wrapped controller's."""
        self.sent += 1
        if self.sent <= self.steps:
            return self.rng.uniform(self.low, self.high, size=1)
        return self.controller.command(state)

    def reset(self):
        """Reset the wrapped controller."""
        if hasattr(self.controller, "reset"):
            self.controller.reset()


def make_planning_agent(task, env, model, seed, warmup=0):
    """An :class:`Agent` whose controller is MPPI (with the task's cost) through ``model``."""
    actions = ActionMap(env.action_space, task.action_values)
    controller = MPPIController(model, task.cost, low=task.low, high=task.high, seed=seed, **task.mppi)
    if warmup:
        controller = Explore(controller, warmup, task.low, task.high, seed)
    feedback = LinearFeedback(np.zeros(task.n_state))
    return Agent(model, feedback, actions, iterations=0, controller=controller)


def make_learned_model(task, seed, kind, **params):
    """A blank cerebellar model for ``task``."""
    params = {**task.model, **params}
    model = make_model(kind, seed=seed, input_scale=task.input_scale, **params)
    model.initialise(task.n_state, 1)
    return model


def run(agent, env, episodes, seed, replay=0):
    """Run episodes; return (returns, steps per episode, seconds). Optionally replay after each."""
    returns, lengths, memory = [], [], []
    started = time.perf_counter()
    for number in range(episodes):
        observation, _ = env.reset(seed=seed if number == 0 else None)
        agent.reset()
        total, steps, done = 0.0, 0, False
        while not done:
            action = agent.act(observation)
            next_observation, reward, terminated, truncated, _ = env.step(action)
            agent.observe(observation, action, next_observation)
            memory.append((observation, agent.actions.to_command(action), next_observation))
            total += float(reward)
            steps += 1
            observation = next_observation
            done = terminated or truncated
        for _ in range(replay):
            for transition in memory:
                agent.model.learn(*transition)
        returns.append(total)
        lengths.append(steps)
    return np.array(returns), np.array(lengths), time.perf_counter() - started


def tune(task, trial_seeds=(1000, 1001, 1002)):
    """Grid-search the opponent's gains on trial episodes; return (params, trial episodes)."""
    env = gym.make(task.env_id)
    actions = ActionMap(env.action_space, task.action_values)
    best, best_score, trials = None, -np.inf, 0
    for params in task.feedback_grid:
        agent = PolicyAgent(task.feedback(params), actions)
        score = np.mean([run(agent, env, 1, s)[0][0] for s in trial_seeds])
        trials += len(trial_seeds)
        if score > best_score:
            best, best_score = params, score
    return best, trials


def acceptance(task, returns):
    """The acceptance figure of one seed's run and whether it passes."""
    if task.name == "pendulum":
        value = float(np.mean(returns[2:10]))
        return value, value >= -200
    threshold = -100 if task.name == "acrobot" else 90
    first = next((i + 1 for i, r in enumerate(returns) if r >= threshold), None)
    return first, first is not None and first <= 5


def benchmark(task, agents, seeds, episodes, learned, warmup, replay):
    """Run every agent on ``task`` for each seed; print the tables."""
    rows = {}
    notes = {}
    if "feedback" in agents:
        params, trials = tune(task)
        notes["feedback"] = f"gains {tuple(params)} from a grid of {len(task.feedback_grid)} " \
                            f"({trials} trial episodes, seeds 1000-1002)"
    for agent_name in agents:
        per_seed = []
        for seed in seeds:
            env = gym.make(task.env_id)
            if agent_name == "feedback":
                agent = PolicyAgent(task.feedback(params), ActionMap(env.action_space, task.action_values))
                result = run(agent, env, episodes, seed)
            elif agent_name == "oracle":
                agent = make_planning_agent(task, env, TrueModel(task.dynamics), seed)
                result = run(agent, env, episodes, seed)
            else:
                kind, params_ = learned
                model = make_learned_model(task, seed, kind, **params_)
                agent = make_planning_agent(task, env, model, seed, warmup)
                result = run(agent, env, episodes, seed, replay)
            per_seed.append(result)
            print(f"  [{task.name}] {agent_name} seed {seed}: returns {np.round(result[0]).astype(int)} "
                  f"({result[2]:.0f} s)", flush=True)
        rows[agent_name] = per_seed
    if "learned" in agents:
        notes["learned"] = f"{learned[0]} {learned[1]}, warm-up {warmup} random steps, replay {replay}"
    print_tables(task, rows, notes, episodes)


def print_tables(task, rows, notes, episodes):
    """Print the per-episode table and the acceptance table for one task."""
    print(f"\n### {task.env_id}\n")
    header = "| agent | " + " | ".join(f"ep {i + 1}" for i in range(episodes)) + " |"
    print(header)
    print("|---" * (episodes + 1) + "|")
    for name, per_seed in rows.items():
        returns = np.array([r[0] for r in per_seed])
        print(f"| {name} | " + " | ".join(f"{v:.0f}" for v in returns.mean(axis=0)) + " |")
    print(f"\nAcceptance: {task.acceptance}. Published RL budget: {task.rl_budget}.\n")
    print("| agent | acceptance figure per seed | seeds passing | env steps (to acceptance / total) "
          "| seconds per seed |")
    print("|---|---|---|---|---|")
    for name, per_seed in rows.items():
        figures, passes, used = [], 0, []
        for returns, lengths, _ in per_seed:
            value, ok = acceptance(task, returns)
            passes += bool(ok)
            if value is None:
                figures.append("-")
            else:
                figures.append(f"{value:.0f}" if task.name == "pendulum" else str(value))
            if task.name == "pendulum":
                used.append(int(lengths[:10].sum()))
            else:
                used.append(int(lengths[:value].sum()) if value is not None else int(lengths.sum()))
        seconds = np.mean([r[2] for r in per_seed])
        total = int(np.mean([r[1].sum() for r in per_seed]))
        print(f"| {name} | {', '.join(figures)} | {passes}/{len(per_seed)} | "
              f"{int(np.median(used)):,} / {total:,} | {seconds:.0f} |")
    for name, note in notes.items():
        print(f"\n- {name}: {note}")
    print()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", nargs="+", default=list(TASKS), choices=list(TASKS))
    parser.add_argument("--agents", nargs="+", default=["learned", "oracle", "feedback"],
                        choices=["learned", "oracle", "feedback"])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--episodes", type=int, default=10)
    parser.add_argument("--model", default="cerebellum-random")
    parser.add_argument("--model-params", default="",
                        help="comma-separated key=value, e.g. n_granule=512,n_active=32")
    parser.add_argument("--warmup", type=int, default=0, help="random steps at the start of episode 1")
    parser.add_argument("--replay", type=int, default=0, help="re-learn all transitions after each episode")
    parser.add_argument("--horizon", type=int, default=None)
    parser.add_argument("--samples", type=int, default=None)
    args = parser.parse_args()
    params = {}
    for item in filter(None, args.model_params.split(",")):
        key, value = item.split("=")
        params[key] = float(value) if "." in value or "e" in value else int(value)
    print(f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"numpy {np.__version__}, gymnasium {gym.__version__}\n")
    for name in args.tasks:
        task = TASKS[name]
        if args.horizon:
            task.mppi["horizon"] = args.horizon
        if args.samples:
            task.mppi["samples"] = args.samples
        benchmark(task, args.agents, range(args.seeds), args.episodes, (args.model, params),
                  args.warmup, args.replay)


if __name__ == "__main__":
    main()
