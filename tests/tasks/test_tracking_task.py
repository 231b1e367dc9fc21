"""The tracking task kind: its agents, scores and the suite rows."""

import dataclasses
import math

import numpy as np

from cerebellar.evaluate import run_agent
from cerebellar.evaluate.harness import SuiteResult
from cerebellar.tasks import TASKS
from cerebellar.tasks.tracking import tracking_scores


def _short(name, episodes=2):
    return dataclasses.replace(TASKS[name], episodes=episodes)


def test_suite_rows_carry_rms_and_feedback_share_and_fel_learns(monkeypatch):
    import gymnasium as gym

    task = _short("wrist-tracking", episodes=4)
    # 3 s trials keep the test fast; the task's scoring is the same.
    monkeypatch.setattr(type(task), "make_env",
                        lambda self, with_change=True: gym.make(self.env_id, max_episode_steps=300))
    fel = run_agent(task, "fel", seed=0)
    frozen = run_agent(task, "fel-frozen", seed=0)
    for record in fel + frozen:
        assert {"rms", "feedback_share"} <= set(record.metrics)
    assert fel[-1].metrics["rms"] < 0.6 * fel[0].metrics["rms"]
    assert fel[-1].metrics["feedback_share"] < fel[0].metrics["feedback_share"]
    # The frozen control repeats its first trial exactly: no gain.
    assert frozen[0].metrics["rms"] == frozen[-1].metrics["rms"]
    assert frozen[0].metrics["feedback_share"] == 1.0
    result = SuiteResult([task], ("fel", "fel-frozen"), (0,), fel + frozen)
    rows = {r["agent"]: r for r in result.summary()}
    assert rows["fel"]["share_falls"] and not rows["fel-frozen"]["share_falls"]
    assert "| wrist-tracking | fel |" in result.to_markdown()
    assert all("rms" in row and "feedback_share" in row for row in result.rows())


def test_scores_of_a_known_trace():
    class Trace:
        true_observations = np.array([[0.0, 0.0, 0, 0, 0.3, 0.4]] * 3)
        components = {"feedback": np.array([[1.0, 1.0]] * 2), "feedforward": np.array([[3.0, -3.0]] * 2)}

    rms, share = tracking_scores(Trace())
    assert rms == math.sqrt(0.3**2 + 0.4**2) and share == 0.25
    Trace.components = {}
    assert math.isnan(tracking_scores(Trace())[1])


def test_the_arm_task_builds_every_agent_and_the_wrist_no_arm_features():
    assert TASKS["arm-tracking"].kind.builds("fel-arm")
    assert not TASKS["wrist-tracking"].kind.builds("fel-arm")
    assert TASKS["arm-tracking-100"].delay_steps == 10
    env = TASKS["arm-tracking-100"].make_env()
    agent = TASKS["arm-tracking-100"].build_agent("fel", env, seed=0)
    assert agent.delay_steps == 10 and agent.forward_model is not None and agent.gentle is not None
