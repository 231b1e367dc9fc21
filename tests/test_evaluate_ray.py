"""The ray backend of the harness: the same records as the local backend, row for row."""

import dataclasses
import subprocess
import sys

import pytest

from cerebellar.cli import main
from cerebellar.evaluate import evaluate
from cerebellar.tasks import TASKS

# Two quick tasks (one episode each) and a learned agent beside the tuned opponent,
# whose tuning runs as Ray tasks too.
TASKS_USED = [dataclasses.replace(TASKS["precision"], episodes=1),
              dataclasses.replace(TASKS["delay-40"], episodes=1)]
AGENTS_USED = ("rls", "tuned-feedback")


@pytest.mark.slow
def test_ray_backend_gives_the_local_records_row_for_row():
    ray = pytest.importorskip("ray")  # in the dev extra, so CI runs it
    local = evaluate(TASKS_USED, AGENTS_USED, seeds=range(2), workers=1, tuning_generations=1)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        finished = []
        # Both seeds in one Ray task (the command's test below runs one seed per task).
        remote = evaluate(TASKS_USED, AGENTS_USED, seeds=range(2), tuning_generations=1,
                          backend="ray", seed_block=2, progress=finished.append)
        assert ray.is_initialized()  # a Ray the caller started is left running
    finally:
        ray.shutdown()
    assert len(local.records) == 2 * 2 * 2
    # repr compares NaN metrics as equal and floats exactly.
    assert repr(remote.rows()) == repr(local.rows())
    assert remote.tuning.keys() == local.tuning.keys()
    for key, tuned in local.tuning.items():
        assert remote.tuning[key].to_dict() == tuned.to_dict() | {"seconds": remote.tuning[key].seconds}
    assert remote.to_markdown().split("Tuned")[0] == local.to_markdown().split("Tuned")[0]
    assert finished == [1] * 8


def test_ray_backend_without_ray_names_the_extra(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray now raises ImportError
    with pytest.raises(ImportError, match=r"pip install 'cerebellar\[ray\]'"):
        evaluate(TASKS_USED, ["rls"], seeds=[0], backend="ray")
    assert main(["suite", "--tasks", "delay-40", "--agents", "rls", "--backend", "ray", "--out", ""]) == 2
    assert "pip install 'cerebellar[ray]'" in capsys.readouterr().err


def test_unknown_backend_and_bad_block_are_refused():
    with pytest.raises(ValueError, match="unknown backend 'spark'"):
        evaluate(TASKS_USED, ["rls"], seeds=[0], backend="spark")
    with pytest.raises(ValueError, match="seed_block must be a positive integer"):
        evaluate(TASKS_USED, ["rls"], seeds=[0], backend="ray", seed_block=0)


def test_the_local_backend_never_imports_ray():
    code = ("import sys, dataclasses; from cerebellar.cli import main; "
            "main(['suite', '--tasks', 'cartpole', '--agents', 'rls', '--seeds', '0:1', "
            "'--episodes', '1', '--workers', '1', '--out', '']); "
            "assert 'ray' not in sys.modules, 'ray was imported'")
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert completed.returncode == 0, completed.stderr


@pytest.mark.slow
def test_suite_command_on_ray_prints_the_local_rows(capsys):
    ray = pytest.importorskip("ray")
    command = ["suite", "--tasks", "precision,delay-40", "--agents", "rls,oracle", "--seeds", "0:2",
               "--episodes", "1", "--json", "--out", ""]
    assert main([*command, "--workers", "1"]) == 0
    local = capsys.readouterr().out.splitlines()
    # No Ray running: the command starts one on this machine for the run and stops it after.
    assert main([*command, "--backend", "ray", "--seed-block", "1"]) == 0
    remote = capsys.readouterr().out.splitlines()
    assert not ray.is_initialized()
    assert len(local) == 2 * 2 * 2 and remote == local
