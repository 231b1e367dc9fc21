"""CartPoleVector: a task's wrapped cart-poles stepped as arrays, bitwise the separate envs."""

from __future__ import annotations

import dataclasses
from functools import partial

import gymnasium as gym
import numpy as np
import pytest

from cerebellar.envs import CARTPOLE_CONTINUOUS_ID, CartPoleVector
from cerebellar.tasks import TASKS
from cerebellar.tasks.presets import get_preset
from cerebellar.tasks.tuning import evaluate_gains


@pytest.mark.parametrize("task", ["delay-0", "delay-100", "noise-100", "change-100"])
def test_steps_are_the_separate_envs_steps(task):
    # The plant change moved to step 5, before random pushes topple the poles.
    task = TASKS[task]
    if task.change:
        task = dataclasses.replace(task, change_step=5)
    seeds = [3, 4, 5]
    batch = CartPoleVector.from_envs([task.make_env() for _ in seeds])
    separate = [task.make_env() for _ in seeds]
    observations, truths = batch.reset(seeds)
    for i, (env, seed) in enumerate(zip(separate, seeds, strict=True)):
        observation, info = env.reset(seed=seed)
        assert np.array_equal(observations[i], observation)
        assert np.array_equal(truths[i], info.get("true_observation", observation))
    rng = np.random.default_rng(0)
    active = np.ones(3, dtype=bool)
    ended = 0
    for _ in range(400):
        actions = rng.uniform(-3, 3, (3, 1)).astype(np.float32)
        observations, truths, terminated, truncated = batch.step(actions, active)
        for i in np.flatnonzero(active):
            observation, _, done, cut, info = separate[i].step(actions[i])
            assert np.array_equal(observations[i], observation)
            assert np.array_equal(truths[i], info.get("true_observation", observation))
            assert (terminated[i], truncated[i]) == (done, cut)
            # The plant the oracle reads has changed as the separate env's has.
            assert batch.envs[i].unwrapped.params == separate[i].unwrapped.params
            if done or cut:
                active[i] = False
                ended += 1
        if not active.any():
            break
    assert ended == 3  # random pushes topple every pole


def test_other_stacks_are_left_to_the_one_env_loop():
    assert CartPoleVector.from_envs([gym.make("CartPole-v1")]) is None
    assert CartPoleVector.from_envs([TASKS["change-100"].make_env()]) is not None
    mixed = [TASKS["delay-0"].make_env(), TASKS["delay-100"].make_env()]
    assert CartPoleVector.from_envs(mixed) is None
    assert CartPoleVector.from_envs([gym.make(CARTPOLE_CONTINUOUS_ID)]) is not None


def test_tuning_trials_score_the_same_in_a_batch(monkeypatch):
    task = TASKS["noise-100"]
    make_env = partial(task.make_env, with_change=False)
    gains = np.array(get_preset(task.env_id).gains) * 3.0
    batched = evaluate_gains(make_env, gains, range(10_000, 10_003), error_channel=2, error_scale=0.2094)
    monkeypatch.setattr(CartPoleVector, "from_envs", classmethod(lambda cls, envs: None))
    assert evaluate_gains(make_env, gains, range(10_000, 10_003), error_channel=2,
                          error_scale=0.2094) == batched
