"""VectorAgent: N agents as one batch take bitwise the actions of N separate agents."""

from __future__ import annotations

import dataclasses

import gymnasium as gym
import numpy as np
import pytest

from cerebellar import Agent, VectorAgent
from cerebellar.agent import run_episodes, run_vector_episodes
from cerebellar.control import MPPIController
from cerebellar.envs import CARTPOLE_CONTINUOUS_ID, SensoryDelay
from cerebellar.evaluate.harness import run_agent, run_agent_seeds, tune_for_task
from cerebellar.models.batched import BatchedCerebellum, BatchedRLS
from cerebellar.tasks import TASKS, make_agent

ENVS = ("CartPole-v1", CARTPOLE_CONTINUOUS_ID)


def make_envs(env_id, n, delay):
    envs = [gym.make(env_id) for _ in range(n)]
    return [SensoryDelay(env, delay_steps=delay) for env in envs] if delay else envs


def lockstep(env_id, model, delay, n=3, steps=250, seed=5, **options):
    """Step separate agents and a vector of the same agents on the same observations; compare every step.

    The separate agents' actions drive the envs; an env whose episode ends is
    reset with its agent alone (the vector's per-agent reset). Returns the
    number of per-agent resets.
    """
    envs = make_envs(env_id, n, delay)
    separate = [make_agent(env, model=model, seed=seed + i, delay_steps=delay, **options)
                for i, env in enumerate(envs)]
    vector = VectorAgent([make_agent(env, model=model, seed=seed + i, delay_steps=delay, **options)
                          for i, env in enumerate(envs)])
    observations = [env.reset(seed=100 + i)[0] for i, env in enumerate(envs)]
    resets = 0
    for _ in range(steps):
        batch = np.stack(observations).astype(np.float64)
        vector_actions = vector.act(batch)
        actions = [agent.act(obs) for agent, obs in zip(separate, observations, strict=True)]
        np.testing.assert_array_equal(vector_actions, np.stack(actions))
        assert np.array_equal(vector.last_command_, np.stack([a.last_command_ for a in separate]))
        steps = [env.step(action) for env, action in zip(envs, actions, strict=True)]
        nexts = [step[0] for step in steps]
        errors = vector.observe(batch, vector_actions, np.stack(nexts).astype(np.float64))
        for i, agent in enumerate(separate):
            error = agent.observe(observations[i], actions[i], nexts[i])
            if error is None:
                assert np.all(np.isnan(errors[i]))
            else:
                assert np.array_equal(error, errors[i])
        observations = nexts
        for i, step in enumerate(steps):
            if step[2] or step[3]:
                observations[i] = envs[i].reset()[0]
                separate[i].reset()
                vector.reset([i])
                resets += 1
    # What each model learned is the separate model's, to the last bit.
    for mine, theirs in zip(vector.to_agents(), separate, strict=True):
        for name, value in vars(theirs.model).items():
            if name.endswith("_") and isinstance(value, np.ndarray):
                assert np.array_equal(getattr(mine.model, name), value), name
    return resets


@pytest.mark.parametrize("env_id", ENVS)
@pytest.mark.parametrize("model", ["rls", "cerebellum"])
@pytest.mark.parametrize("delay", [0, 5])
def test_vector_takes_the_separate_agents_actions_bitwise(env_id, model, delay):
    lockstep(env_id, model, delay)


def test_per_agent_resets_keep_agents_apart():
    # With feedback alone (K = 0) the discrete pole falls within ~10-60 steps: many resets,
    # each of one agent, at different times; the others' delay lines carry on.
    assert lockstep("CartPole-v1", "rls", 3, n=4, steps=300, iterations=0) >= 8


def test_vector_agent_with_a_smith_correction():
    lockstep(CARTPOLE_CONTINUOUS_ID, "rls", 4, steps=120, correction=0.2)


def test_for_env_on_a_gymnasium_vector_env_seeds_agent_i_with_seed_plus_i():
    vec_env = gym.make_vec(CARTPOLE_CONTINUOUS_ID, num_envs=3)
    single = gym.make(CARTPOLE_CONTINUOUS_ID)
    vector = VectorAgent.for_env(vec_env, model="cerebellum", gains=(-0.1, -0.02, -10.0, -0.1),
                                 input_scale=(2.4, 1.0, 0.2, 1.0, 10.0), seed=7)
    separate = [Agent.for_env(single, model="cerebellum", gains=(-0.1, -0.02, -10.0, -0.1),
                              input_scale=(2.4, 1.0, 0.2, 1.0, 10.0), seed=7 + i) for i in range(3)]
    layers = [a.model.granule_layer_ for a in separate]
    assert np.array_equal(vector.model.multipliers, np.stack([layer.multipliers for layer in layers]))
    assert len({tuple(layer.multipliers) for layer in layers}) == 3  # three different hashes
    observations, _ = vec_env.reset(seed=0)
    for _ in range(30):
        actions = vector.act(observations)
        np.testing.assert_array_equal(actions, np.stack([a.act(o) for a, o in zip(separate, observations,
                                                                                     strict=True)]))
        nexts, *_ = vec_env.step(actions)
        vector.observe(observations, actions, nexts)
        for agent, obs, action, nxt in zip(separate, observations, actions, nexts, strict=True):
            agent.observe(obs, action, nxt)
        observations = nexts
    vec_env.close()


def test_batches_are_built_for_rls_and_the_cmac_cerebellum_only():
    env = gym.make(CARTPOLE_CONTINUOUS_ID)
    assert isinstance(VectorAgent.for_env([env, env], model="rls", gains=(0, 0, -10.0, 0)).model, BatchedRLS)
    assert isinstance(VectorAgent([make_agent(env, model="cerebellum", seed=i) for i in range(2)]).model,
                      BatchedCerebellum)
    with pytest.raises(ValueError, match="no batched form of SmoothCerebellum"):
        VectorAgent([make_agent(env, model="cerebellum-smooth", seed=i) for i in range(2)])
    with pytest.raises(ValueError, match="only the cerebellum with a CMAC"):
        VectorAgent([make_agent(env, model="cerebellum-random", seed=i) for i in range(2)])
    with pytest.raises(ValueError, match="MPPIController controller is not batched"):
        VectorAgent([make_agent(env, controller=lambda m, f, a: MPPIController(f, m, low=a.low, high=a.high))
                     for _ in range(2)])
    with pytest.raises(ValueError, match="controllers differ"):
        VectorAgent([make_agent(env, iterations=k) for k in (1, 3)])
    with pytest.raises(ValueError, match="model by name"):
        VectorAgent.for_env([env], model=make_agent(env).model, gains=(0, 0, -10.0, 0))


def test_bad_batches_of_input_are_refused():
    env = gym.make("CartPole-v1")
    vector = VectorAgent([make_agent(env, seed=i) for i in range(2)])
    observations = np.zeros((2, 4))
    with pytest.raises(ValueError, match="one row per agent"):
        vector.act(np.zeros((3, 4)))
    with pytest.raises(ValueError, match="NaN"):
        vector.act(np.array([[0.0, 0.0, np.nan, 0.0], [0.0] * 4]))
    with pytest.raises(ValueError, match="out of range"):
        vector.observe(observations, np.array([0, 2]), observations)
    with pytest.raises(ValueError, match="2 integers"):
        vector.observe(observations, np.array([0.0, 1.0]), observations)


def test_run_vector_episodes_gives_the_traces_of_run_episodes():
    # K = 0 on the discrete cart-pole: episodes of different lengths, so the envs fall out of step.
    envs = [gym.make("CartPole-v1") for _ in range(3)]
    seeds = (4, 5, 6)
    vector = VectorAgent([make_agent(env, seed=s, iterations=0, delay_steps=2) for env, s in zip(envs, seeds,
                                                                                               strict=True)])
    results = run_vector_episodes(vector, [SensoryDelay(e, delay_steps=2) for e in envs], episodes=3,
                                  seeds=seeds, label="rls", max_steps=300)
    for seed, result in zip(seeds, results, strict=True):
        env = SensoryDelay(gym.make("CartPole-v1"), delay_steps=2)
        expected = run_episodes(make_agent(env, seed=seed, iterations=0, delay_steps=2), env, episodes=3,
                                seed=seed, label="rls", max_steps=300)
        assert result.seed == seed and result.label == "rls"
        assert [t.length for t in result.episodes] == [t.length for t in expected.episodes]
        assert len({t.length for r in results for t in r.episodes}) > 1
        for mine, theirs in zip(result.episodes, expected.episodes, strict=True):
            for field in dataclasses.fields(theirs):
                a, b = getattr(mine, field.name), getattr(theirs, field.name)
                if isinstance(b, np.ndarray):
                    np.testing.assert_array_equal(a, b, err_msg=field.name)
                else:
                    assert a == b, field.name


@pytest.mark.slow
@pytest.mark.parametrize("task, agent", [("delay-40", "rls"), ("noise-100", "rls"),
                                         ("change-100", "cerebellum"), ("change-100", "oracle"),
                                         ("noise-100", "tuned-feedback")])
def test_harness_records_are_the_same_as_one_agent_at_a_time(task, agent):
    task = dataclasses.replace(TASKS[task], episodes=2)
    tuned = tune_for_task(task, 0) if agent == "tuned-feedback" else None
    seeds = (0, 1, 2)
    expected = [record for seed in seeds for record in run_agent(task, agent, seed, tuned)]
    assert run_agent_seeds(task, agent, seeds, tuned) == expected


def test_make_vector_agent_fills_in_the_preset_as_make_agent_does():
    from cerebellar.tasks import make_vector_agent

    vec_env = gym.make_vec(CARTPOLE_CONTINUOUS_ID, num_envs=2)
    vector = make_vector_agent(vec_env, model="cerebellum", seed=3, iterations=2)
    separate = [make_agent(gym.make(CARTPOLE_CONTINUOUS_ID), model="cerebellum", seed=3 + i, iterations=2)
                for i in range(2)]
    assert vector.iterations == 2 and vector.observation_names == separate[0].observation_names
    assert np.array_equal(vector.model.salt, np.stack([a.model.granule_layer_.tiling_salt for a in separate]))
    observations, _ = vec_env.reset(seed=1)
    np.testing.assert_array_equal(vector.act(observations),
                                  np.stack([a.act(o) for a, o in zip(separate, observations, strict=True)]))
    vec_env.close()
