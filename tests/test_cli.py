"""The command line: every suite task from `run`, its flags, and its failures in one line."""

import json
import os

import gymnasium as gym
import pytest

import cerebellar.cli as cli
from cerebellar import __version__
from cerebellar.cli import main
from cerebellar.evaluate import SuiteResult
from cerebellar.tasks import TASKS, TuningResult


def test_version(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code == 0
    assert capsys.readouterr().out.strip() == f"cerebellar {__version__}"


@pytest.mark.parametrize("env_id", sorted({t.env_id for t in TASKS.values()}))
def test_run_covers_every_suite_environment_and_prints_its_score(env_id, capsys):
    if env_id.startswith("cerebellar/DMC"):
        pytest.importorskip("dm_control")
    assert main(["run", env_id, "--episodes", "1", "--max-steps", "30", "--out", "", "--json"]) == 0
    record = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    task = cli.task_for_env(env_id)
    assert record["task"] == task.name and record["lengths"] == [30]
    assert isinstance(record["score"], str) and record["score"]
    assert [e["episode"] for e in record["episodes_scored"]] == [1]


def test_run_prints_the_reaching_score_not_a_bare_return(capsys):
    assert main(["run", "cerebellar/WristStepTracking-v0", "--episodes", "1", "--out", ""]) == 0
    out = capsys.readouterr().out
    assert "reaches settled within 0.05 rad in 1 s" in out and "all 8 held" in out


def test_run_with_a_delay_uses_the_delayed_task(capsys):
    assert main(["run", "cerebellar/CartPoleContinuous-v0", "--delay-ms", "100", "--episodes", "1",
                 "--out", "", "--max-steps", "200"]) == 0
    assert "delay-100:" in capsys.readouterr().out


def test_gains_and_controller_flags_change_the_commands(tmp_path, capsys):
    args = ["run", "CartPole-v1", "--episodes", "1", "--max-steps", "200", "--out", "", "--json"]
    assert main(args) == 0
    seed = json.loads(capsys.readouterr().out)
    # K = 0 with the preset gains never balances for long: the gains alone are too weak.
    assert main(args + ["--iterations", "0"]) == 0
    plain = json.loads(capsys.readouterr().out)
    assert plain["lengths"][0] < seed["lengths"][0] == 200
    assert main(args + ["--gains=-0.5,-1,-30,-3", "--iterations", "0"]) == 0
    strong = json.loads(capsys.readouterr().out)
    assert strong["lengths"] == [200]
    assert main(args + ["--controller", "rollout", "--horizon", "3"]) == 0
    assert json.loads(capsys.readouterr().out)["lengths"] == [200]
    assert main(args + ["--controller", "mppi"]) == 2
    assert "needs a planning cost" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(args + ["--gains", "1,nan"])


def test_unwritable_out_is_refused_before_any_work(tmp_path, capsys, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setattr(cli, "evaluate", lambda *a, **k: pytest.fail("work started"))
    monkeypatch.setattr(cli, "run_episodes", lambda *a, **k: pytest.fail("work started"))
    for command in (["run", "CartPole-v1"], ["suite", "--tasks", "delay-0"]):
        assert main(command + ["--out", str(blocker / "out")]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and str(blocker / "out") in err


def test_empty_task_list_is_an_error_and_writes_nothing(tmp_path, capsys):
    assert main(["suite", "--tasks", ",", "--out", str(tmp_path / "suite")]) == 2
    assert "no tasks given" in capsys.readouterr().err
    assert not (tmp_path / "suite").exists()


def test_suite_help_lists_the_task_names(capsys):
    with pytest.raises(SystemExit):
        main(["suite", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for name in ("delay-160", "arm-100", "pendulum", "dmc-seed-test"):
        assert name in text


def test_suite_json_prints_one_object_per_episode(tmp_path, capsys):
    assert main(["suite", "--tasks", "precision", "--agents", "rls,oracle", "--seeds", "0:2",
                 "--json", "--out", str(tmp_path), "--workers", "1"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.strip().splitlines()]
    assert [(r["agent"], r["seed"], r["episode"]) for r in rows] == [
        ("rls", 0, 1), ("rls", 1, 1), ("oracle", 0, 1), ("oracle", 1, 1)]
    assert all(r["task"] == "precision" and r["success"] and "rms_error" in r for r in rows)
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["tasks"][0]["kind"] == {"name": "balance", **config["tasks"][0]["kind"]}
    assert config["tasks"][0]["kind"]["rms_start"] == 200


def test_under_tuned_opponent_is_flagged_in_the_table():
    task = TASKS["delay-0"]

    def result(survival):
        tuned = TuningResult({"gains": [0.0, 0.0, -1.0, 0.0]}, 0.5, 10, 1.0, details={"survival": survival})
        return SuiteResult([task], ("tuned-feedback",), (0,), [], tuning={task.tuning_key(): tuned})

    assert "under-tuned" in result(0.5).to_markdown()
    assert "under-tuned" not in result(1.0).to_markdown()


def test_ctrl_c_exits_130_in_one_line_and_leaves_no_file(tmp_path, capsys, monkeypatch):
    real = cli.run_episodes

    def interrupted(*args, **kwargs):
        steps = 0

        def tick(_):
            nonlocal steps
            steps += 1
            if steps == 50:
                raise KeyboardInterrupt

        kwargs["progress"] = tick
        return real(*args, **kwargs)

    monkeypatch.setattr(cli, "run_episodes", interrupted)
    assert main(["run", "CartPole-v1", "--out", str(tmp_path)]) == 130
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "interrupted" in err
    assert os.listdir(tmp_path) == []


def test_video_of_an_episode(tmp_path, capsys):
    pytest.importorskip("imageio")
    pytest.importorskip("pygame")
    path = tmp_path / "episode.gif"
    assert main(["run", "CartPole-v1", "--episodes", "1", "--max-steps", "20", "--out", "",
                 "--video", str(path)]) == 0
    # The reset frame and one per step (the GIF encoder merges identical neighbours).
    assert f"wrote {path} (21 frames)" in capsys.readouterr().err
    import imageio.v2 as imageio

    frames = imageio.mimread(path)
    assert 2 <= len(frames) <= 21 and frames[0].shape == (400, 600, 3)
    env = gym.make("cerebellar/CartPoleContinuous-v0")
    assert env.metadata["render_modes"] == []
    assert main(["run", "cerebellar/CartPoleContinuous-v0", "--episodes", "1", "--max-steps", "5",
                 "--out", "", "--video", str(tmp_path / "none.gif")]) == 2
