import dataclasses

import numpy as np
import pytest

from cerebellar.cli import main
from cerebellar.control import evaluate_gains, tune_feedback
from cerebellar.evaluate import SUITES, TASKS, evaluate, resolve_tasks, run_agent
from cerebellar.presets import CARTPOLE_CONTINUOUS_GAINS


def test_task_recipes():
    assert TASKS["delay-100"].delay_steps == 5
    assert TASKS["delay-300"].delay_steps == 15
    assert TASKS["delay-0"].delay_steps == 0
    assert SUITES["delay"] == tuple(f"delay-{ms}" for ms in (0, 40, 100, 160, 200, 300))
    assert [t.name for t in resolve_tasks(["change", "change-0", "precision"])] == [
        "change-0", "change-100", "precision"]
    with pytest.raises(ValueError, match="unknown task 'delay-7'"):
        resolve_tasks(["delay-7"])


@pytest.mark.filterwarnings("ignore:.*step\\(\\) called after terminated")  # only params matter here
def test_dynamics_change_task_changes_the_pole():
    env = TASKS["change-0"].make_env()
    env.reset(seed=0)
    for _ in range(301):
        env.step(np.zeros(1, dtype=np.float32))
    assert env.unwrapped.params.pole_half_length == 1.0
    assert env.unwrapped.params.pole_mass == 0.3
    original = TASKS["change-0"].make_env(with_change=False)
    original.reset(seed=0)
    assert original.unwrapped.params.pole_half_length == 0.5


def test_tuning_improves_on_the_start_and_is_reproducible():
    task = TASKS["delay-0"]

    def make():
        return task.make_env()

    start = evaluate_gains(make, CARTPOLE_CONTINUOUS_GAINS, seeds=[1, 2])[1]
    bounds = [(-100.0, 100.0)] * 4
    first = tune_feedback(make, CARTPOLE_CONTINUOUS_GAINS, bounds, seeds=[1, 2], generations=2,
                          population=5, error_channel=2, error_scale=0.2)
    second = tune_feedback(make, CARTPOLE_CONTINUOUS_GAINS, bounds, seeds=[1, 2], generations=2,
                           population=5, error_channel=2, error_scale=0.2)
    assert start < 0.2  # the preset gains alone, without the model, fail
    assert first.survival > start and first.score >= first.initial_score
    np.testing.assert_array_equal(first.gains, second.gains)
    assert first.episodes == 2 * first.evaluations


def test_run_agent_records_every_episode():
    task = dataclasses.replace(TASKS["delay-40"], episodes=2)
    records = run_agent(task, "rls", seed=0)
    assert [r.episode for r in records] == [1, 2]
    assert all(r.success and r.length == 1000 for r in records)
    assert all(0 < r.rms_error < 0.05 for r in records)


def test_tiny_suite_reports_all_agents(tmp_path):
    tasks = [dataclasses.replace(TASKS["delay-0"], episodes=1)]
    result = evaluate(tasks, seeds=range(2), workers=1, tuning_generations=1)
    agents = {row["agent"] for row in result.summary()}
    assert agents == {"rls", "cerebellum", "tuned-feedback", "oracle"}
    table = result.to_markdown()
    assert "| delay-0 | rls | 2/2 |" in table and "Tuned-feedback gains" in table
    assert {p.name for p in result.plot(tmp_path)} == {"success_vs_delay.png", "learning_curves.png"}


def test_suite_command_on_a_tiny_budget(tmp_path, capsys):
    code = main(["suite", "--tasks", "delay-40", "--seeds", "0:2", "--episodes", "1",
                 "--agents", "rls,tuned-feedback", "--tuning-generations", "1", "--workers", "1",
                 "--out", str(tmp_path)])
    assert code == 0
    assert "| delay-40 | rls | 2/2 |" in capsys.readouterr().out
    assert {p.name for p in tmp_path.iterdir()} == {
        "results.md", "episodes.csv", "success_vs_delay.png", "learning_curves.png"}
    assert main(["suite", "--tasks", "nonsense", "--out", ""]) == 2
    assert main(["suite", "--tasks", "delay-0", "--agents", "ppo", "--out", ""]) == 2


def lazy_agent(task, env, seed):
    """A user's own agent: plain feedback with the preset gains (fails without the model)."""
    from cerebellar.control import FeedbackAgent

    return FeedbackAgent.for_env(env, CARTPOLE_CONTINUOUS_GAINS)


def test_any_agent_with_act_and_observe_plugs_in():
    tasks = [dataclasses.replace(TASKS["delay-0"], episodes=1)]
    result = evaluate(tasks, agents=["rls", ("mine", lazy_agent)], seeds=range(2), workers=1)
    rows = {row["agent"]: row for row in result.summary()}
    assert rows["rls"]["first_success"] == 2
    assert rows["mine"]["first_success"] == 0 and rows["mine"]["median_first_length"] < 200
