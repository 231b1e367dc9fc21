"""The package's layers import only downward, and one loop steps environments.

Layers, lowest first: the private helpers (``_io``, ``_validation``); ``models``
and ``envs`` (peers: neither imports the other); ``control``; ``agent``;
``tasks``; ``analysis`` and ``evaluate`` (peers); ``cli``; the package itself.
Every import is checked, including those inside functions, so a cycle cannot
hide behind a late import.
"""

import ast
from pathlib import Path

import pytest

SOURCE = Path(__file__).resolve().parents[1] / "src" / "cerebellar"

LAYERS = {
    "_validation": 0, "_grouping": 0, "_io": 0.5,  # the checkpoint reader validates with _validation
    "models": 1, "envs": 1,
    "predictors": 1,
    "control": 2,
    "agent": 3,
    "tasks": 4,
    "analysis": 5, "evaluate": 5,
    "cli": 6,
    "__init__": 7, "__main__": 7,
}


def _part(path: Path) -> str:
    """The top-level part of the package a source file belongs to."""
    relative = path.relative_to(SOURCE)
    return relative.parts[0].removesuffix(".py")


def _imports(path: Path):
    """Yield (line, imported top-level part of cerebellar) for every import in ``path``."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = [SOURCE.name, *path.relative_to(SOURCE).parent.parts]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "cerebellar" and len(parts) > 1:
                    yield node.lineno, parts[1]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                module = base + (node.module.split(".") if node.module else [])
            else:
                module = (node.module or "").split(".")
            if module[0] != "cerebellar":
                continue
            if len(module) > 1:
                yield node.lineno, module[1]
            else:  # from cerebellar import x / from .. import x
                for alias in node.names:
                    yield node.lineno, alias.name


FILES = sorted(SOURCE.rglob("*.py"))


def test_every_part_of_the_package_has_a_layer():
    unknown = {_part(path) for path in FILES} - set(LAYERS)
    assert not unknown, f"add these to LAYERS in {__file__}: {sorted(unknown)}"


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(SOURCE)))
def test_imports_point_down(path):
    here = _part(path)
    wrong = []
    for line, target in _imports(path):
        if target == here or target not in LAYERS:
            continue
        if LAYERS[target] >= LAYERS[here]:
            wrong.append(f"line {line}: {here} (layer {LAYERS[here]}) imports {target} "
                         f"(layer {LAYERS[target]})")
    assert not wrong, "\n".join(wrong)


def test_the_checker_catches_an_upward_import(tmp_path, monkeypatch):
    # A known answer for the checker itself: control importing the agent is flagged.
    fake = tmp_path / "cerebellar"
    (fake / "control").mkdir(parents=True)
    module = fake / "control" / "bad.py"
    module.write_text("def late():\n    from ..agent import Agent\n    return Agent\n")
    monkeypatch.setattr(__import__(__name__), "SOURCE", fake)
    assert list(_imports(module)) == [(2, "agent")]


def test_environments_register_no_controller_preset():
    for path in (SOURCE / "envs").rglob("*.py"):
        text = path.read_text()
        assert "Preset" not in text and "register_preset" not in text, path


def _steps_an_environment(node) -> bool:
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "step"):
        return False
    target = node.func.value
    name = target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", "")
    return "env" in name.lower()


def test_one_episode_loop_steps_environments_outside_envs():
    # Wrappers in envs/ step the environment they wrap; elsewhere only the agent's loop does.
    stepping = []
    for path in FILES:
        if _part(path) == "envs":
            continue
        tree = ast.parse(path.read_text())
        if any(_steps_an_environment(node) for node in ast.walk(tree)):
            stepping.append(str(path.relative_to(SOURCE)))
    assert stepping == ["agent/loop.py"]
