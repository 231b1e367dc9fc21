"""The predefined tasks and the suites that group them (``cerebellar suite --tasks``)."""

from __future__ import annotations

import dataclasses

from .. import envs
from .balance import Balance
from .base import Task
from .reaching import Reaching
from .seed_test import SeedTest
from .swingup import Return
from .tracking import Tracking

#: Sensory delays (ms) of the delay suite.
DELAYS_MS = (0, 40, 100, 160, 200, 300)
#: Delays (ms) of the misjudged-delay suite (told one step short or long).
TOLD_WRONG_DELAYS_MS = (100, 200, 300)
#: Delays (ms) of the delay-auto suite (the agents estimate their delay).
AUTO_DELAYS_MS = (60, 100, 200, 300)
#: The plant change of the change suite: a longer, heavier pole.
POLE_CHANGE = {"pole_half_length": 1.0, "pole_mass": 0.3}


def _reaching_task(limb: str, delay_ms: int) -> Task:
    if limb == "arm":
        fraction = 0.9 if delay_ms else 0.95
        return Task(f"arm-{delay_ms}", Reaching(success_fraction=fraction), envs.TWO_LINK_ARM_ID,
                    delay_ms=delay_ms, episodes=1, group="limbs",
                    target=f">= {fraction:.0%} of reaches within 0.05 rad in 1 s")
    return Task(f"wrist-{delay_ms}", Reaching(all_held=8), envs.WRIST_STEP_TRACKING_ID, delay_ms=delay_ms,
                episodes=1, group="limbs", target="all 8 directions reached and held")


def _estimator_tasks(cartpole: str) -> list[Task]:
    """Return the Kalman estimator's tasks, the misjudged delays and the delays estimated online."""
    tasks = [Task("noise-100-kalman", Balance(), cartpole, delay_ms=100, noise_sigma=0.01, group="kalman",
                  estimator="kalman")]
    tasks += [Task(f"delay-{ms}-kalman", Balance(), cartpole, delay_ms=ms, group="kalman", estimator="kalman")
              for ms in DELAYS_MS]
    for ms in TOLD_WRONG_DELAYS_MS:
        for side, offset in (("short", -1), ("long", 1)):
            for estimator in ("smith", "kalman"):
                suffix = "" if estimator == "smith" else "-kalman"
                tasks.append(Task(f"delay-{ms}-told-{side}{suffix}", Balance(), cartpole, delay_ms=ms,
                                  group="told-wrong", estimator=estimator, told_delay_offset=offset,
                                  target="balanced by the third episode"))
    for ms in AUTO_DELAYS_MS:
        for estimator in ("smith", "kalman"):
            suffix = "" if estimator == "smith" else "-kalman"
            tasks.append(Task(f"delay-auto-{ms}{suffix}", Balance(), cartpole, delay_ms=ms,
                              group="delay-auto", estimator=estimator, auto_delay=True,
                              target="balanced by the third episode"))
    return tasks


def _build_tasks() -> dict[str, Task]:
    cartpole = envs.CARTPOLE_CONTINUOUS_ID
    # The demo's task: Gymnasium's CartPole-v1 (discrete +-10 N, 500 steps); in no suite.
    tasks = [Task("cartpole", Balance(), "CartPole-v1", episodes=3, group="demo",
                  target="balanced all 500 steps")]
    tasks += [Task(f"delay-{ms}", Balance(), cartpole, delay_ms=ms, group="delay") for ms in DELAYS_MS]
    tasks += [Task(f"change-{ms}", Balance(), cartpole, delay_ms=ms, change=POLE_CHANGE, group="change")
              for ms in (0, 100)]
    tasks.append(Task("precision", Balance(), cartpole, group="precision", episodes=1))
    tasks.append(Task("noise-100", Balance(), cartpole, delay_ms=100, noise_sigma=0.01, group="noise"))
    tasks += [_reaching_task(limb, ms) for limb in ("arm", "wrist") for ms in (0, 100)]
    tasks += _estimator_tasks(cartpole)
    tasks += [
        Task("pendulum", Return(success_return=-200.0, mean_window=(3, 10)), "Pendulum-v1", episodes=10,
             group="swingup", target="mean return of episodes 3-10 >= -200"),
        Task("acrobot", Return(success_return=-100.0), "Acrobot-v1", episodes=5, group="swingup",
             target="return >= -100 by episode 5"),
        Task("mountaincar", Return(success_return=90.0), "MountainCarContinuous-v0", episodes=5,
             group="swingup", target="return >= 90 by episode 5"),
        Task("dmc-seed-test", SeedTest(), envs.DMC_CARTPOLE_BALANCE_ID, episodes=3, group="seed",
             target="3 consecutive 10 s trials with |sin angle| < 0.66, >= 19/20 seeds"),
    ]
    tasks += [
        Task("arm-tracking", Tracking(), envs.ARM_TRACKING_ID, episodes=8, group="tracking",
             target="trial-8 RMS <= 0.5 x trial 1; feedback share falls every trial"),
        Task("arm-tracking-100", Tracking(), envs.ARM_TRACKING_ID, delay_ms=100, episodes=8, group="tracking",
             target="every trial stable (RMS < 0.1 rad) on >= 19/20 seeds"),
        Task("wrist-tracking", Tracking(arm=False), envs.WRIST_TRACKING_ID, episodes=8, group="tracking",
             target="trial-8 RMS <= 0.5 x trial 1; feedback share falls every trial"),
    ]
    return {task.name: task for task in tasks}


#: Every predefined task, by name.
TASKS: dict[str, Task] = _build_tasks()

#: Named groups of tasks for ``cerebellar suite --tasks``.
SUITES: dict[str, tuple[str, ...]] = {
    group: tuple(name for name, task in TASKS.items() if task.group == group)
    for group in ("delay", "change", "precision", "noise", "limbs", "swingup", "seed",
                  "kalman", "told-wrong", "delay-auto")
}
#: The race of the two theories on a delayed body (docs/results/short-term-race.md).
SUITES["race"] = ("delay-100", "delay-200", "delay-300", "wrist-100")
SUITES["tracking"] = tuple(name for name, task in TASKS.items() if task.group == "tracking")
#: The cart-pole suites (the default of ``cerebellar suite``).
CARTPOLE_SUITES = ("delay", "change", "precision", "noise")
#: The limbs, swing-up and seed-test suites.
NONLINEAR_SUITES = ("limbs", "swingup", "seed")


def resolve_tasks(names) -> list[Task]:
    """Turn task or suite names into tasks, in order, without repeats.

    Raises
    ------
    ValueError
        For a name that is neither a task nor a suite, or for no names at all.
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
    if not chosen:
        raise ValueError(f"no tasks given; tasks: {', '.join(TASKS)}; suites: {', '.join(SUITES)}")
    return chosen


def task_for_env(env_id: str, delay_ms: float = 0.0) -> Task | None:
    """Return the predefined task on ``env_id`` with this sensory delay and no other perturbation.

    Without such a task, the unperturbed task on ``env_id`` with the delay put
    in (e.g. the wrist at 60 ms); None when ``env_id`` has no task at all.
    """
    plain = [task for task in TASKS.values()
             if task.env_id == env_id and not (task.noise_sigma or task.change)
             and task.estimator == "smith" and not (task.told_delay_offset or task.auto_delay)]
    for task in plain:
        if task.delay_ms == delay_ms:
            return task
    unperturbed = next((task for task in plain if not task.delay_ms), None)
    if unperturbed is None:
        return None
    return dataclasses.replace(unperturbed, name=f"{unperturbed.name}+{delay_ms:g}ms", delay_ms=delay_ms)
