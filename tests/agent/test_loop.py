"""The one episode loop, bounded traces, streamed CSVs, and agents with only act/observe/reset."""

import csv
import math

import gymnasium as gym
import numpy as np
import pytest

from cerebellar import make_agent
from cerebellar.agent import Agent, SmithPredictor, practise, run_episode, run_episodes


class AlwaysLeft:
    """The smallest agent the loop promises to run: act, observe, reset and nothing else."""

    def __init__(self):
        self.seen = 0

    def act(self, observation):
        return 0

    def observe(self, observation, action, next_observation):
        self.seen += 1

    def reset(self):
        pass


def test_run_episodes_takes_an_agent_with_only_act_observe_reset(tmp_path):
    env = gym.make("CartPole-v1")
    agent = AlwaysLeft()
    result = run_episodes(agent, env, episodes=2, seed=0)
    # Pushing left every step drops the pole within a few dozen steps, on every seed.
    assert all(5 < n < 60 for n in result.lengths) and agent.seen == result.steps
    trace = result.episodes[0]
    assert trace.commands.shape == (trace.length, 1) and np.all(trace.applied == 0.0)
    assert result.label == "AlwaysLeft"
    result.to_csv(tmp_path / "left.csv")


def test_an_object_without_the_protocol_is_refused():
    with pytest.raises(TypeError, match="no observe"):
        run_episodes(type("Half", (), {"act": lambda self, o: 0, "reset": lambda self: None})(),
                     gym.make("CartPole-v1"))


def test_run_episode_reports_every_step_and_the_outcome():
    env = gym.make("CartPole-v1")
    steps = []
    outcome = run_episode(AlwaysLeft(), env, seed=3, on_step=steps.append)
    assert outcome.terminated and not outcome.truncated
    assert [s.index for s in steps] == list(range(outcome.length))
    assert outcome.total_return == pytest.approx(sum(s.reward for s in steps))
    assert run_episode(AlwaysLeft(), env, seed=3, max_steps=4).truncated


def test_long_runs_keep_a_bounded_trace_and_stream_every_step(tmp_path):
    env = gym.make("CartPole-v1", max_episode_steps=3000)
    agent = make_agent(env, model="rls", seed=0)
    path = tmp_path / "run.csv"
    result = run_episodes(agent, env, episodes=1, seed=0, max_recorded_steps=500, csv_path=path)
    trace = result.episodes[0]
    assert trace.length == 3000 and trace.recorded == 500
    assert trace.observations.shape == (501, 4) and trace.total_return == 3000.0
    with open(path) as stream:
        rows = list(csv.DictReader(stream))
    assert len(rows) == 3000 and rows[-1]["step"] == "2999"
    # The streamed rows agree with the trace where both have them.
    assert float(rows[10]["pole angle"]) == pytest.approx(trace.observations[10, 2], rel=1e-5)


def test_the_same_run_recorded_whole_or_capped_gives_the_same_numbers():
    def run(limit):
        env = gym.make("CartPole-v1")
        return run_episodes(make_agent(env, model="rls", seed=0), env, episodes=2, seed=1,
                            max_recorded_steps=limit)

    whole, capped = run(None), run(100)
    assert np.array_equal(whole.lengths, capped.lengths)
    assert np.array_equal(whole.episodes[0].observations[:101], capped.episodes[0].observations)


def test_a_failed_run_leaves_no_csv(tmp_path):
    env = gym.make("CartPole-v1")

    class Breaks(AlwaysLeft):
        def observe(self, observation, action, next_observation):
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        run_episodes(Breaks(), env, csv_path=tmp_path / "run.csv")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("bad", [math.nan, -1, 1.5, "3", True])
def test_delay_steps_must_be_a_non_negative_integer(bad):
    env = gym.make("cerebellar/CartPoleContinuous-v0")
    with pytest.raises(ValueError, match="delay_steps"):
        make_agent(env, delay_steps=bad)
    with pytest.raises(ValueError, match="delay_steps"):
        SmithPredictor(bad, 4)


def test_practice_counts_the_transitions_it_learned_from():
    env = gym.make("cerebellar/CartPoleContinuous-v0")
    agent = make_agent(env, model="rls", seed=0, delay_steps=3)
    # Practice resets the agent afterwards; under a 3-step delay the first 3 steps show nothing.
    assert practise(agent, env, steps=20, noise=0.5, seed=0) == 17
    assert agent.last_command_ is None


def test_agent_needs_a_controller_with_a_command_method():
    env = gym.make("CartPole-v1")
    template = make_agent(env)
    with pytest.raises(TypeError, match="command"):
        Agent(template.model, object(), template.actions, 4)
