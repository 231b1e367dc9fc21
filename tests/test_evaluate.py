import dataclasses

import numpy as np
import pytest

from cerebellar.cli import main
from cerebellar.evaluate import evaluate, run_agent
from cerebellar.tasks import SUITES, TASKS, evaluate_gains, resolve_tasks, tune_feedback
from cerebellar.tasks.presets import CARTPOLE_CONTINUOUS_GAINS


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
    assert "| delay-0 | rls | 2/2 |" in table and "Tuned no-model opponents" in table
    assert {p.name for p in result.plot(tmp_path)} == {"success_vs_delay.png", "learning_curves.png"}


def test_suite_command_on_a_tiny_budget(tmp_path, capsys):
    code = main(["suite", "--tasks", "delay-40", "--seeds", "0:2", "--episodes", "1",
                 "--agents", "rls,tuned-feedback", "--tuning-generations", "1", "--workers", "1",
                 "--out", str(tmp_path)])
    assert code == 0
    assert "| delay-40 | rls | 2/2 |" in capsys.readouterr().out
    assert {p.name for p in tmp_path.iterdir()} == {
        "results.md", "config.json", "episodes.csv", "success_vs_delay.png", "learning_curves.png"}
    assert main(["suite", "--tasks", "nonsense", "--out", ""]) == 2
    assert main(["suite", "--tasks", "delay-0", "--agents", "ppo", "--out", ""]) == 2


def lazy_agent(task, env, seed):
    """A user's own agent: plain feedback with the preset gains (fails without the model)."""
    from cerebellar.agent import FeedbackAgent

    return FeedbackAgent.for_env(env, CARTPOLE_CONTINUOUS_GAINS)


def test_any_agent_with_act_and_observe_plugs_in():
    tasks = [dataclasses.replace(TASKS["delay-0"], episodes=1)]
    result = evaluate(tasks, agents=["rls", ("mine", lazy_agent)], seeds=range(2), workers=1)
    rows = {row["agent"]: row for row in result.summary()}
    assert rows["rls"]["first_success"] == 2
    assert rows["mine"]["first_success"] == 0 and rows["mine"]["median_first_length"] < 200


def test_nonlinear_suites_name_their_tasks():
    assert [t.name for t in resolve_tasks(["limbs"])] == ["arm-0", "arm-100", "wrist-0", "wrist-100"]
    assert [t.kind.name for t in resolve_tasks(["swingup", "seed"])] == ["return"] * 3 + ["seed-test"]
    assert TASKS["arm-100"].delay_steps == 10 and TASKS["arm-100"].kind.success_fraction == 0.9
    assert TASKS["pendulum"].kind.mean_window == (3, 10)


def _records(task, returns_by_seed, **metrics):
    from cerebellar.evaluate import EpisodeRecord

    return [EpisodeRecord(task.name, "rls", seed, e + 1, value >= task.kind.success_return, 200, value,
                          dict(metrics))
            for seed, returns in enumerate(returns_by_seed) for e, value in enumerate(returns)]


def test_return_summary_against_hand_figures():
    from cerebellar.evaluate import SuiteResult

    pendulum = TASKS["pendulum"]
    task = dataclasses.replace(pendulum, episodes=4,
                               kind=dataclasses.replace(pendulum.kind, mean_window=(3, 4)))
    records = _records(task, [[-900, -400, -150, -260], [-1000, -180, -100, -120]])
    row = SuiteResult([task], ("rls",), (0, 1), records).summary()[0]
    assert row["mean_returns"] == [-950, -290, -125, -190]
    assert row["window_mean"] == (-205 + -110) / 2 and row["window_success"] == 1
    assert row["first_success"] == 0 and row["final_success"] == 2
    assert row["median_episodes_to_success"] == 2.5  # seeds succeed at episodes 3 and 2
    assert row["median_steps_to_success"] == 500.0  # 600 and 400 steps
    table = SuiteResult([task], ("rls",), (0, 1), records).to_markdown()
    assert "mean eps 3-4: -158 (1/2 seeds)" in table


def test_reaching_summary_pools_the_first_sessions():
    from cerebellar.evaluate import EpisodeRecord, SuiteResult

    task = TASKS["wrist-100"]
    records = [
        EpisodeRecord(task.name, "rls", 0, 1, True, 1200, 0.0,
                      {"reaches": 8, "reached": 8, "settle_times": [0.3] * 8, "all_held": True,
                       "rms_error": 0.1}),
        EpisodeRecord(task.name, "rls", 1, 1, False, 1200, 0.0,
                      {"reaches": 8, "reached": 6, "settle_times": [0.5] * 6 + [float("inf")] * 2,
                       "all_held": False, "rms_error": 0.2}),
    ]
    row = SuiteResult([task], ("rls",), (0, 1), records).summary()[0]
    assert row["reached_fraction"] == 14 / 16 and row["all_held"] == 1
    assert row["median_settle_time"] == 0.4 and row["reaches"] == 16
    assert abs(row["median_rms"] - 0.15) < 1e-12


def test_seed_test_runs_with_its_own_opponent():
    task = dataclasses.replace(TASKS["dmc-seed-test"], episodes=1)
    result = evaluate([task, dataclasses.replace(TASKS["delay-0"], episodes=1)],
                      agents=["rls", "doubled-gain"], seeds=[0], workers=1)
    rows = {(r["task"], r["agent"]): r for r in result.summary()}
    assert set(rows) == {("dmc-seed-test", "rls"), ("dmc-seed-test", "doubled-gain"),
                         ("delay-0", "rls")}  # doubled-gain exists only on the seed test
    assert rows["dmc-seed-test", "rls"]["passed"] == 1
    # The model's refinement holds the pole closer to upright than doubling the gain does.
    assert rows["dmc-seed-test", "rls"]["median_rms"] < rows["dmc-seed-test", "doubled-gain"]["median_rms"]


def test_episode_table_reads_back_to_the_same_summary(tmp_path):
    from cerebellar.evaluate import EpisodeRecord, SuiteResult

    wrist, pendulum = TASKS["wrist-100"], TASKS["pendulum"]
    records = _records(pendulum, [[-300.0] * 10]) + [
        EpisodeRecord(wrist.name, "rls", 0, 1, False, 1200, 0.0,
                      {"reaches": 8, "reached": 7, "settle_times": [0.25] * 7 + [float("inf")],
                       "all_held": False, "rms_error": 0.1})]
    result = SuiteResult([pendulum, wrist], ("rls",), (0,), records)
    result.to_csv(tmp_path / "episodes.csv")
    again = SuiteResult.from_csv(tmp_path / "episodes.csv")
    assert again.summary() == result.summary()
    (tmp_path / "bad.csv").write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match="not an episode table"):
        SuiteResult.from_csv(tmp_path / "bad.csv")


def test_reaching_and_return_tasks_run_through_the_harness():
    tasks = [TASKS["wrist-0"], dataclasses.replace(TASKS["mountaincar"], episodes=1)]
    result = evaluate(tasks, agents=["rls", "oracle"], seeds=[0], workers=1)
    rows = {(r["task"], r["agent"]): r for r in result.summary()}
    for agent in ("rls", "oracle"):
        wrist = rows["wrist-0", agent]
        assert wrist["reaches"] == 8 and wrist["all_held"] == 1 and wrist["first_success"] == 1
        assert 0.0 < wrist["median_settle_time"] < 0.5
        car = rows["mountaincar", agent]
        assert car["first_success"] == 1 and car["mean_returns"][0] >= 90


def test_practised_agents_run_on_reaching_tasks_only():
    tasks = [TASKS["arm-100"], dataclasses.replace(TASKS["mountaincar"], episodes=1)]
    result = evaluate(tasks, agents=["rls+practice"], seeds=[3], workers=1)
    rows = {(r["task"], r["agent"]): r for r in result.summary()}
    assert set(rows) == {("arm-100", "rls+practice")}
    assert rows["arm-100", "rls+practice"]["reaches"] == 10
    with pytest.raises(ValueError, match="unknown agent"):
        evaluate(tasks, agents=["nlms+practice"], seeds=[3], workers=1)
