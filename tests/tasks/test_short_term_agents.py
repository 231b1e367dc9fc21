"""The short-term agents on the race's tasks: built by name, wired to the delay, seeded."""

import numpy as np
import pytest

from cerebellar.agent import Agent, run_episodes
from cerebellar.agent.anticipation import ShortTermAnticipation
from cerebellar.control import ForwardModelController
from cerebellar.evaluate import AGENTS, run_agent
from cerebellar.tasks import TASKS
from cerebellar.tasks.catalogue import SUITES, resolve_tasks
from cerebellar.tasks.short_term import SHORT_TERM_AGENTS, short_term_agent


def test_the_race_suite_lists_the_delayed_bodies():
    assert [t.name for t in resolve_tasks(["race"])] == ["delay-100", "delay-200", "delay-300", "wrist-100"]
    assert set(SHORT_TERM_AGENTS) <= set(AGENTS)


@pytest.mark.parametrize("task_name", SUITES["race"])
@pytest.mark.parametrize("name", list(SHORT_TERM_AGENTS))
def test_the_agent_builds_on_each_race_task_with_the_delay_as_its_advance(task_name, name):
    task = TASKS[task_name]
    env = task.make_env()
    agent = task.build_agent(name, env, seed=0)
    assert isinstance(agent, Agent) and agent.label == name
    estimator = agent.internal_feedback
    assert isinstance(estimator, ShortTermAnticipation)
    assert estimator.delay_steps == estimator.predictor_.advance == task.delay_steps > 0
    n_command = agent.actions.n_command
    assert estimator.predictor_.n_channels == agent.n_state + task.delay_steps * n_command
    # The controller is the forward-model agent's, with its refinements or none.
    assert isinstance(agent.controller, ForwardModelController)
    assert agent.controller.iterations == (3 if name == "short-term" else 0)
    if task.env_id.startswith("cerebellar/Wrist"):
        assert estimator.trust_channels == [0, 1, 2, 3]  # the targets' jumps are nobody's error
    env.close()


def test_without_a_delay_there_is_nothing_to_cancel():
    env = TASKS["delay-0"].make_env()
    agent = short_term_agent(env, "short-term", seed=0, delay_steps=0)
    assert agent.internal_feedback is None
    with pytest.raises(ValueError, match="unknown short-term agent"):
        short_term_agent(env, "long-term")
    env.close()


def test_seeded_runs_are_identical():
    first = run_agent(TASKS["delay-100"], "short-term", seed=0)
    second = run_agent(TASKS["delay-100"], "short-term", seed=0)
    assert [(r.length, r.total_return) for r in first] == [(r.length, r.total_return) for r in second]
    other = run_agent(TASKS["delay-100"], "short-term", seed=1)
    assert [r.total_return for r in other] != [r.total_return for r in first]


def test_the_agent_learns_from_its_delayed_senses():
    # The predictor learns only from the present as it arrives d steps late: after an
    # episode its weights have moved, and the one-step model has learned as rls's does.
    task = TASKS["delay-100"]
    env = task.make_env()
    agent = task.build_agent("short-term", env, seed=0)
    run_episodes(agent, env, episodes=1, seed=0)
    assert np.any(agent.internal_feedback.predictor_.weights_ != 0)
    assert agent.internal_feedback.delay_error_ is not None
    env.close()
