"""Evaluation tasks: an environment with its perturbations, and how to score it.

A task is a recipe (ids and numbers only, so it can be sent to worker
processes): the registered environment, the sensory delay, the observation
noise, a mid-episode plant change, the number of episodes each fresh agent
gets, and the channel whose RMS error measures precision.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import gymnasium as gym

from .. import envs
from ..envs import DynamicsChange, ObservationNoise, SensoryDelay


@dataclass(frozen=True)
class Task:
    """One evaluation task.

    Attributes
    ----------
    name : str
        Unique name, e.g. ``"delay-160"``.
    env_id : str
        Registered Gymnasium id.
    delay_ms : float
        Sensory delay (0 for none); agents with internal feedback are told it.
    noise_sigma : float
        Standard deviation of Gaussian observation noise on every channel.
    change : dict
        Plant parameters replaced mid-episode (``{}`` for none), at ``change_step``.
    change_step : int
        Step at which the plant changes.
    episodes : int
        Episodes per fresh agent; the model keeps learning across them.
    error_channel : int
        Observation channel whose true value is the controlled error (pole angle).
    error_scale : float
        Scale of that channel (the failure threshold), for the tuning score.
    rms_start : int
        First step of the window over which the RMS error is measured.
    group : str
        Which suite the task belongs to (``delay``, ``change``, ``precision``, ``noise``).
    """

    name: str
    env_id: str = envs.CARTPOLE_CONTINUOUS_ID
    delay_ms: float = 0.0
    noise_sigma: float = 0.0
    change: dict = field(default_factory=dict)
    change_step: int = 300
    episodes: int = 3
    error_channel: int = 2
    error_scale: float = 0.2094
    rms_start: int = 200
    group: str = ""

    def make_env(self, with_change: bool = True):
        """Return a fresh environment with the task's perturbations.

        ``with_change=False`` leaves out the plant change: the original plant,
        which is what the tuned-feedback opponent is tuned on.
        """
        env = gym.make(self.env_id)
        if self.change and with_change:
            env = DynamicsChange(env, at_step=self.change_step, **self.change)
        if self.noise_sigma:
            env = ObservationNoise(env, sigma=self.noise_sigma)
        if self.delay_ms:
            env = SensoryDelay(env, delay_ms=self.delay_ms)
        return env

    @property
    def delay_steps(self) -> int:
        """The delay in whole time steps (0 without a delay)."""
        if not self.delay_ms:
            return 0
        env = self.make_env(with_change=False)
        steps = env.delay_steps
        env.close()
        return steps


DELAYS_MS = (0, 40, 100, 160, 200, 300)
POLE_CHANGE = {"pole_half_length": 1.0, "pole_mass": 0.3}


def _build_tasks() -> dict[str, Task]:
    tasks = [Task(f"delay-{ms}", delay_ms=ms, group="delay") for ms in DELAYS_MS]
    tasks += [Task(f"change-{ms}", delay_ms=ms, change=POLE_CHANGE, group="change") for ms in (0, 100)]
    tasks.append(Task("precision", group="precision", episodes=1))
    tasks.append(Task("noise-100", delay_ms=100, noise_sigma=0.01, group="noise"))
    return {task.name: task for task in tasks}


#: Every predefined task, by name.
TASKS: dict[str, Task] = _build_tasks()

#: Named groups of tasks for ``cerebellar suite --tasks``.
SUITES: dict[str, tuple[str, ...]] = {
    group: tuple(name for name, task in TASKS.items() if task.group == group)
    for group in ("delay", "change", "precision", "noise")
}


def resolve_tasks(names) -> list[Task]:
    """Turn task or suite names into tasks, in order, without repeats.

    Raises
    ------
    ValueError
        For a name that is neither a task nor a suite.
    """
    chosen: list[Task] = []
    for name in names:
        if name in SUITES:
            members = SUITES[name]
        elif name in TASKS:
            members = (name,)
        else:
            raise ValueError(
                f"unknown task {name!r}; tasks: {', '.join(TASKS)}; suites: {', '.join(SUITES)}"
            )
        chosen.extend(TASKS[m] for m in members if TASKS[m] not in chosen)
    return chosen
