"""The fused control step gives bit for bit what the general path and the plain arithmetic give."""

import importlib.util
import sys
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

from cerebellar.agent._fused import FusedStep
from cerebellar.models import RLS
from cerebellar.tasks import make_agent

PROTOTYPE = Path(__file__).resolve().parents[2] / "benchmarks" / "control_step_prototype.py"


def load_prototype():
    """Import the benchmark's plain-numpy prototype (the reference arithmetic, written with @)."""
    name = "benchmark_control_step_prototype"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, PROTOTYPE)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def replay_three_ways(env_id, steps, **options):
    """Drive ``env_id`` with a fused agent; replay each observation through the general path.

    The general path is the agent's parts called one by one, as ``Agent.act``
    and ``Agent.observe`` call them without the fused step. Returns the fused
    agent, the reference parts, and per step (fused action, reference action,
    fused error, reference error).
    """
    env = gym.make(env_id)
    agent = make_agent(env, model="rls", seed=0, **options)
    reference = make_agent(env, model="rls", seed=0, **options)
    observation, _ = env.reset(seed=3)
    steps_seen = []
    for _ in range(steps):
        action = agent.act(observation)
        command = reference.controller.command(observation)
        assert np.array_equal(agent.last_command_, command) and agent.last_command_.dtype == command.dtype
        assert np.array_equal(agent.estimate_, observation.astype(np.float64))
        expected = reference.actions.to_action(command)
        next_observation, _, terminated, truncated, _ = env.step(action)
        error = agent.observe(observation, action, next_observation)
        expected_error = reference.model.learn(observation, reference.actions.to_command(action),
                                               next_observation)
        steps_seen.append((action, expected, error, expected_error))
        observation = next_observation
        if terminated or truncated:
            observation, _ = env.reset()
            agent.reset()
    return agent, reference, steps_seen


def assert_same_state(model, other):
    assert np.array_equal(model.weights_, other.weights_)
    assert np.array_equal(model.covariance_, other.covariance_)
    assert model.n_learned_ == other.n_learned_


CAPPED = {"forgetting": 0.9, "initial_covariance": 1.0, "max_covariance": 1.0}


@pytest.mark.parametrize("options", [{}, CAPPED], ids=["defaults", "covariance-cap"])
def test_fused_step_equals_the_general_path_and_the_prototype_on_cartpole(options):
    agent, reference, steps = replay_three_ways("CartPole-v1", 600, **options)
    assert isinstance(agent._fused, FusedStep) and agent._fused.active
    for action, expected, error, expected_error in steps:
        assert action == expected and type(action) is int
        assert np.array_equal(error, expected_error)
    assert_same_state(agent.model, reference.model)
    assert len({a for a, *_ in steps}) == 2  # both actions were taken
    if options:  # the cap was reached, so the trace's rescaling ran too
        assert np.trace(agent.model.covariance_) == pytest.approx(agent.model._max_trace)

    # The prototype (plain numpy, @) replays the same observations to the same bits.
    prototype = load_prototype().prototype_for(make_agent(gym.make("CartPole-v1"), model="rls", **options))
    env = gym.make("CartPole-v1")
    observation, _ = env.reset(seed=3)
    for action, *_ in steps:
        assert prototype.act(observation) == action
        next_observation, _, terminated, truncated, _ = env.step(action)
        prototype.observe(observation, action, next_observation)
        observation = env.reset()[0] if terminated or truncated else next_observation
    assert np.array_equal(prototype.weights, agent.model.weights_)
    assert np.array_equal(prototype.covariance, agent.model.covariance_)


def test_fused_step_equals_the_general_path_with_a_box_action():
    agent, reference, steps = replay_three_ways("cerebellar/CartPoleContinuous-v0", 300)
    assert agent._fused.active
    for action, expected, error, expected_error in steps:
        assert np.array_equal(action, expected) and action.dtype == expected.dtype
        assert np.array_equal(error, expected_error)
    assert_same_state(agent.model, reference.model)


def test_bad_input_still_raises_and_changes_nothing():
    env = gym.make("CartPole-v1")
    agent = make_agent(env, model="rls", seed=0)
    observation, _ = env.reset(seed=0)
    agent.observe(observation, agent.act(observation), env.step(0)[0])
    weights, covariance = agent.model.weights_.copy(), agent.model.covariance_.copy()
    bad = observation.copy()
    bad[2] = np.nan
    with pytest.raises(ValueError, match="observation contains NaN"):
        agent.act(bad)
    with pytest.raises(ValueError, match="observation must have length 4"):
        agent.act(observation[:3])
    with pytest.raises(ValueError, match="next_state contains NaN"):
        agent.observe(observation, 0, bad)
    with pytest.raises(ValueError, match="too large"):
        agent.observe(observation, 0, np.full(4, 1e151))
    with pytest.raises(ValueError, match="out of range"):
        agent.observe(observation, 2, observation)
    with pytest.raises(ValueError, match="not an integer"):
        agent.observe(observation, 1.0, observation)
    assert np.array_equal(agent.model.weights_, weights)
    assert np.array_equal(agent.model.covariance_, covariance)
    # Inputs the fused step leaves to the general path give the same answers.
    assert agent.act(observation.tolist()) == agent.act(observation)
    half = observation.astype(np.float16)
    assert agent.act(half) == agent.act(half.astype(np.float64))


def test_a_replaced_part_is_used_at_once():
    env = gym.make("CartPole-v1")
    agent = make_agent(env, model="rls", seed=0)
    observation, _ = env.reset(seed=0)
    agent.observe(observation, agent.act(observation), env.step(0)[0])
    other = RLS(input_scale=agent.model.input_scale)
    other.initialise(4, 1)
    agent.model = agent.controller.model = other
    agent.observe(observation, 1, observation + 0.01)
    assert other.n_learned_ == 1 and agent._fused.model is other
    agent.controller.iterations = 0  # read on every call, as the general path reads it
    assert agent.act(observation) == agent.actions.to_action(agent.controller.command(observation))


def test_the_fused_path_is_the_one_taken(monkeypatch):
    env = gym.make("CartPole-v1")
    agent = make_agent(env, model="rls", seed=0)
    observation, _ = env.reset(seed=0)

    def general_path(*_):
        raise AssertionError("the general path ran")

    # The fused step calls neither of these (the float32 observation stays on it).
    monkeypatch.setattr(agent.controller, "command", general_path)
    monkeypatch.setattr(agent.model, "learn", general_path)
    action = agent.act(observation)
    agent.observe(observation, action, env.step(action)[0])
    assert agent.model.n_learned_ == 1
    with pytest.raises(AssertionError, match="the general path ran"):
        agent.act(observation.tolist())  # a list goes the general way
