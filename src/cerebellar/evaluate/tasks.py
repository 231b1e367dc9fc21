"""Evaluation tasks: an environment with its perturbations, and how to score it.

A task is data (ids and numbers only, so it can be sent to worker processes):
the registered environment, the sensory delay, the observation noise, a
mid-episode plant change, the number of episodes each fresh agent gets, its
kind (which picks how agents are built and episodes scored, see
:mod:`cerebellar.evaluate.recipes`) and the kind's success criterion.
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
        Which suite the task belongs to (``delay``, ``change``, ``precision``,
        ``noise``, ``limbs``, ``swingup``, ``seed``).
    kind : str
        ``"balance"`` (success: the whole episode survived), ``"reaching"``,
        ``"return"`` or ``"seed-test"``; see :mod:`cerebellar.evaluate.recipes`.
    success_fraction : float
        Reaching: an episode succeeds when this fraction of its reaches settle
        within 0.05 rad in 1 s.
    all_held : int
        Reaching: if non-zero, an episode succeeds only when exactly this many
        targets were all reached and held (the wrist's 8 directions).
    success_return : float
        Return: an episode succeeds when its return is at least this.
    mean_window : tuple of int, optional
        Return: first and last episode (1-based) whose mean return is the
        acceptance figure (Pendulum: episodes 3-10).
    target : str
        The acceptance target in words, for the table.
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
    kind: str = "balance"
    success_fraction: float = 0.95
    all_held: int = 0
    success_return: float = 0.0
    mean_window: tuple[int, int] | None = None
    target: str = ""

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
    tasks += [_reaching_task(limb, ms) for limb in ("arm", "wrist") for ms in (0, 100)]
    tasks += [
        Task("pendulum", "Pendulum-v1", kind="return", episodes=10, success_return=-200.0,
             mean_window=(3, 10), group="swingup", target="mean return of episodes 3-10 >= -200"),
        Task("acrobot", "Acrobot-v1", kind="return", episodes=5, success_return=-100.0,
             group="swingup", target="return >= -100 by episode 5"),
        Task("mountaincar", "MountainCarContinuous-v0", kind="return", episodes=5,
             success_return=90.0, group="swingup", target="return >= 90 by episode 5"),
        Task("dmc-seed-test", envs.DMC_CARTPOLE_BALANCE_ID, kind="seed-test", episodes=3,
             error_channel=2, error_scale=0.66, group="seed",
             target="3 consecutive 10 s trials with |sin angle| < 0.66, >= 19/20 seeds"),
    ]
    return {task.name: task for task in tasks}


def _reaching_task(limb: str, delay_ms: int) -> Task:
    if limb == "arm":
        fraction = 0.9 if delay_ms else 0.95
        return Task(f"arm-{delay_ms}", envs.TWO_LINK_ARM_ID, delay_ms=delay_ms, kind="reaching",
                    episodes=1, success_fraction=fraction, group="limbs",
                    target=f">= {fraction:.0%} of reaches within 0.05 rad in 1 s")
    return Task(f"wrist-{delay_ms}", envs.WRIST_STEP_TRACKING_ID, delay_ms=delay_ms, kind="reaching",
                episodes=1, all_held=8, group="limbs", target="all 8 directions reached and held")


#: Every predefined task, by name.
TASKS: dict[str, Task] = _build_tasks()

#: Named groups of tasks for ``cerebellar suite --tasks``.
SUITES: dict[str, tuple[str, ...]] = {
    group: tuple(name for name, task in TASKS.items() if task.group == group)
    for group in ("delay", "change", "precision", "noise", "limbs", "swingup", "seed")
}
#: The cart-pole suites of the internal-feedback issue (the default of ``cerebellar suite``).
CARTPOLE_SUITES = ("delay", "change", "precision", "noise")
#: The limbs, swing-up and seed-test suites.
NONLINEAR_SUITES = ("limbs", "swingup", "seed")


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
