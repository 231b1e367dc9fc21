import csv
import json

import gymnasium as gym
import numpy as np
import pytest

from cerebellar import make_agent, run_episodes
from cerebellar.cli import main, parse_seeds


def test_csv_has_one_row_per_step_and_named_columns(tmp_path):
    env = gym.make("CartPole-v1")
    result = run_episodes(make_agent(env), env, episodes=2, seed=1, max_steps=30)
    path = result.to_csv(tmp_path / "run.csv")
    with open(path) as stream:
        rows = list(csv.DictReader(stream))
    assert len(rows) == result.steps == 60
    assert {"episode", "step", "pole angle", "command_0", "applied_0", "prediction_error"} <= set(rows[0])
    assert float(rows[0]["pole angle"]) == pytest.approx(result.episodes[0].observations[0, 2], rel=1e-5)
    assert [p.name for p in tmp_path.iterdir()] == ["run.csv"]  # no temporary left behind


def test_plot_writes_png(tmp_path):
    env = gym.make("CartPole-v1")
    result = run_episodes(make_agent(env), env, episodes=1, seed=0, max_steps=40)
    result.plot(tmp_path / "run.png")
    assert (tmp_path / "run.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_json_per_seed_and_outputs(tmp_path, capsys):
    code = main(["run", "CartPole-v1", "--episodes", "1", "--seeds", "0:2", "--json",
                 "--out", str(tmp_path), "--max-steps", "100"])
    assert code == 0
    lines = capsys.readouterr().out.strip().splitlines()
    records = [json.loads(line) for line in lines]
    assert [r["seed"] for r in records] == [0, 1]
    assert {"env", "model", "seed", "returns", "lengths", "steps", "seconds"} <= set(records[0])
    assert records[0]["lengths"] == [100]
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == [f"CartPole-v1_rls_K3_seed{s}.{ext}" for s in (0, 1) for ext in ("csv", "png")]


def test_cli_text_summary(tmp_path, capsys):
    assert main(["run", "CartPole-v1", "--episodes", "1", "--out", "", "--model", "nlms"]) == 0
    out = capsys.readouterr().out
    assert "CartPole-v1 nlms K=3 seed 0: episode lengths [500]" in out


def test_cli_errors_are_clear(capsys):
    assert main(["run", "NoSuchEnv-v9", "--out", ""]) == 2
    assert "unknown or unusable environment 'NoSuchEnv-v9'" in capsys.readouterr().err
    assert main(["run", "LunarLander-v3", "--out", ""]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cerebellar: " in err
    assert main(["run", "Pendulum-v1", "--controller", "seed", "--out", ""]) == 2
    assert "no preset for environment 'Pendulum-v1'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["run", "CartPole-v1", "--seeds", "5:2"])


def test_parse_seeds():
    assert parse_seeds("3:6") == range(3, 6)
    assert parse_seeds("4") == range(4, 5)
    assert np.array_equal(list(parse_seeds("0:2")), [0, 1])
