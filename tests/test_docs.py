"""Every code snippet in README.md and docs/ runs as a test.

Fenced blocks are found in each Markdown file and checked by their language:

- ``python``: executed in order, all blocks of a file sharing one namespace (so a
  page can build up state), in a temporary working directory, with matplotlib's
  Agg backend;
- ``pycon``: run as a doctest in the same namespace, so the output shown is checked;
- ``bash``, ``sh``, ``console``: each ``cerebellar ...`` command is parsed by the
  command line's own parser (a flag that does not exist fails), each ``pip install
  .[extra]`` must name extras that pyproject.toml defines, and each ``python
  benchmarks/....py`` must name a file that exists;
- anything else (``text``, no language) is not run; a synopsis block that starts
  with ``cerebellar run`` or ``cerebellar suite`` still has its ``--flags`` checked.

The two fresh-machine commands, the blocks right after ``<!-- demo-command -->`` and
``<!-- test-command -->`` in README.md, are exempt: CI runs the second one itself.
There is one test per block, named ``FILE:LINE``, and a failing Python block's
traceback points at the Markdown line.
"""

from __future__ import annotations

import argparse
import contextlib
import doctest
import io
import os
import re
import shlex
import time
import tomllib
import traceback
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOC_FILES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
EXEMPT_MARKERS = ("<!-- demo-command -->", "<!-- test-command -->")
PYTHON = {"python", "py", "python3"}
PYCON = {"pycon"}
SHELL = {"bash", "sh", "shell", "console"}
# A snippet is meant to take a few seconds; this only catches a full experiment pasted in.
SLOW_SECONDS = 60.0

FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[^`\s]*)[^`]*$")


@dataclass(frozen=True, repr=False)
class Block:
    """One fenced code block: where it is, its language and its text."""

    path: str  # relative to the repository root
    line: int  # 1-based line of the opening fence
    lang: str
    text: str
    exempt: bool = False

    @property
    def id(self) -> str:
        return f"{self.path}:{self.line}"

    def __repr__(self) -> str:
        return f"Block({self.id}, {self.lang or 'no language'})"


def find_blocks(markdown: str, path: str) -> list[Block]:
    """Return the fenced code blocks of a Markdown text, in order."""
    lines = markdown.splitlines()
    blocks = []
    i = 0
    while i < len(lines):
        match = FENCE.match(lines[i])
        if not match:
            i += 1
            continue
        indent, fence = len(match["indent"]), match["fence"]
        lang = match["info"].lower().lstrip("{.").rstrip("}")
        previous = next((lines[j].strip() for j in range(i - 1, -1, -1) if lines[j].strip()), "")
        body = []
        j = i + 1
        while j < len(lines):
            stripped = lines[j].strip()
            if stripped.startswith(fence[0] * len(fence)) and set(stripped) == {fence[0]}:
                break
            # Strip the fence's own indentation (a block inside a list item).
            body.append(lines[j][indent:] if lines[j][:indent].strip() == "" else lines[j].lstrip())
            j += 1
        blocks.append(Block(path, i + 1, lang, "\n".join(body) + "\n",
                            exempt=previous in EXEMPT_MARKERS))
        i = j + 1
    return blocks


def _all_blocks() -> list[Block]:
    blocks = []
    for file in DOC_FILES:
        blocks += find_blocks(file.read_text(encoding="utf-8"), file.relative_to(ROOT).as_posix())
    return blocks


BLOCKS = _all_blocks()


class SnippetError(AssertionError):
    """A snippet failed; the message names the file and line."""


# --- Python and doctest blocks ---------------------------------------------------------------

@dataclass
class FileSession:
    """The namespace shared by one file's Python blocks, and how far it has run."""

    workdir: Path
    namespace: dict = field(default_factory=dict)
    done: int = 0  # number of the file's runnable blocks executed successfully, in order


def _fresh_namespace() -> dict:
    return {"__name__": "__snippet__", "__builtins__": __builtins__}


def run_python(block: Block, namespace: dict) -> None:
    """Execute one block in ``namespace``; raise SnippetError naming the block on failure."""
    if block.lang in PYCON:
        parser = doctest.DocTestParser()
        test = parser.get_doctest(block.text, namespace, block.id, block.path, block.line)
        runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
        report = io.StringIO()
        runner.run(test, out=report.write, clear_globs=False)
        namespace.update(test.globs)
        if runner.failures:
            raise SnippetError(f"{block.id}: doctest failed\n{report.getvalue()}")
        return
    # Pad with blank lines so that a traceback's line number is the Markdown file's.
    source = "\n" * block.line + block.text
    try:
        code = compile(source, block.path, "exec")
        exec(code, namespace)
    except Exception as error:
        raise SnippetError(f"{block.id}: {type(error).__name__}: {error}") from error
    finally:
        _close_figures()


def _close_figures() -> None:
    try:
        import matplotlib.pyplot as plt
    except ImportError:
        return
    plt.close("all")


def _python_blocks(path: str) -> list[Block]:
    return [b for b in BLOCKS if b.path == path and b.lang in PYTHON | PYCON and not b.exempt]


_SESSIONS: dict[str, FileSession] = {}


@pytest.fixture(scope="session", autouse=True)
def _agg_backend():
    try:
        import matplotlib
    except ImportError:
        yield
        return
    matplotlib.use("Agg")
    yield


def _session(path: str, tmp_path_factory) -> FileSession:
    if path not in _SESSIONS:
        name = re.sub(r"[^A-Za-z0-9]+", "_", path)
        _SESSIONS[path] = FileSession(tmp_path_factory.mktemp(name), _fresh_namespace())
    return _SESSIONS[path]


@pytest.mark.parametrize("block", [b for b in BLOCKS if b.lang in PYTHON | PYCON and not b.exempt],
                         ids=lambda b: b.id)
def test_python_snippet(block: Block, tmp_path_factory, monkeypatch):
    blocks = _python_blocks(block.path)
    index = blocks.index(block)
    session = _session(block.path, tmp_path_factory)
    monkeypatch.chdir(session.workdir)
    if session.done != index:
        # Run on its own (-k), or after an earlier block failed: replay the blocks before it.
        session.namespace, session.done = _fresh_namespace(), 0
        for earlier in blocks[:index]:
            try:
                run_python(earlier, session.namespace)
            except SnippetError as error:
                raise SnippetError(f"{block.id} not run: the earlier block {error}") from error
            session.done += 1
    start = time.perf_counter()
    run_python(block, session.namespace)
    seconds = time.perf_counter() - start
    session.done = index + 1
    assert seconds < SLOW_SECONDS, f"{block.id} took {seconds:.0f} s: use a tiny budget in docs snippets"


# --- Shell blocks ----------------------------------------------------------------------------

_OPERATORS = {"&&", "||", ";", "|", "&"}


def shell_commands(block: Block) -> list[list[str]]:
    """Split a shell block into commands (lists of words), joining continued lines."""
    lines = block.text.splitlines()
    if block.lang == "console":
        lines = [line[2:] if line.startswith("$ ") else "" for line in lines]
    text = re.sub(r"\\\n", " ", "\n".join(lines))
    commands = []
    for line in text.splitlines():
        lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        lexer.commenters = "#"
        current: list[str] = []
        for token in lexer:
            if token in _OPERATORS:
                if current:
                    commands.append(current)
                current = []
            else:
                current.append(token)
        if current:
            commands.append(current)
    return commands


def check_cerebellar(words: list[str], where: str) -> None:
    """Parse ``cerebellar ...`` with the command line's parser; raise SnippetError if it fails."""
    from cerebellar.cli import build_parser

    errors = io.StringIO()
    try:
        with contextlib.redirect_stderr(errors), contextlib.redirect_stdout(io.StringIO()):
            build_parser().parse_args(words[1:])
    except SystemExit as exit_:
        if exit_.code not in (0, None):
            message = f"{where}: {shlex.join(words)!r} does not parse:\n{errors.getvalue()}"
            raise SnippetError(message) from None


def _pyproject_extras() -> set[str]:
    with open(ROOT / "pyproject.toml", "rb") as file:
        return set(tomllib.load(file)["project"].get("optional-dependencies", {}))


def check_shell(block: Block) -> None:
    """Check the commands of one shell block."""
    for words in shell_commands(block):
        program = os.path.basename(words[0])
        if program == "cerebellar":
            check_cerebellar(words, block.id)
        elif program.startswith("python") and len(words) > 1 and words[1].startswith("benchmarks/"):
            if not (ROOT / words[1]).is_file():
                raise SnippetError(f"{block.id}: {words[1]} does not exist")
        elif program == "pip" and "install" in words:
            for word in words:
                match = re.fullmatch(r"\.\[([\w,-]+)\]", word)
                missing = set(match[1].split(",")) - _pyproject_extras() if match else set()
                if missing:
                    raise SnippetError(f"{block.id}: pyproject.toml has no extra {sorted(missing)}")


@pytest.mark.parametrize("block", [b for b in BLOCKS if b.lang in SHELL and not b.exempt],
                         ids=lambda b: b.id)
def test_shell_snippet(block: Block):
    check_shell(block)


# --- Blocks that are not run -----------------------------------------------------------------

def check_synopsis(block: Block) -> None:
    """Check that every ``--flag`` in a ``cerebellar run|suite`` synopsis exists."""
    from cerebellar.cli import build_parser

    words = block.text.split()
    if len(words) < 2 or words[0] != "cerebellar":
        return
    parser = build_parser()
    commands = next(a for a in parser._actions if a.dest == "command").choices
    if words[1] not in commands:
        raise SnippetError(f"{block.id}: no command {words[1]!r}")
    command = commands[words[1]]
    nested = [a for a in command._actions if isinstance(a, argparse._SubParsersAction)]
    if nested and len(words) > 2 and words[2] in nested[0].choices:  # e.g. analyse state-predictor
        command = nested[0].choices[words[2]]
    known = {s for action in command._actions for s in action.option_strings}
    unknown = sorted(set(re.findall(r"--[a-z][a-z-]*", block.text)) - known)
    if unknown:
        raise SnippetError(f"{block.id}: cerebellar {words[1]} has no {', '.join(unknown)}")


@pytest.mark.parametrize(
    "block",
    [b for b in BLOCKS if b.lang not in PYTHON | PYCON | SHELL and b.text.startswith("cerebellar ")],
    ids=lambda b: b.id,
)
def test_cli_synopsis(block: Block):
    check_synopsis(block)


# --- The README's contract with CI, and the sources ------------------------------------------

def test_fresh_machine_commands_follow_their_markers():
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    for marker in EXEMPT_MARKERS:
        assert lines.count(marker) == 1, f"README.md needs exactly one {marker}"
        at = lines.index(marker)
        assert lines[at + 1] == "```bash" and lines[at + 3] == "```", f"{marker}: one line in a bash block"
    # .ci/run reads the line two after the marker and runs it.
    test_command = lines[lines.index("<!-- test-command -->") + 2]
    for part in ("ruff check .", "mkdocs build --strict", "pytest"):
        assert part in test_command
    demo = [b for b in BLOCKS if b.path == "README.md" and b.exempt]
    assert len(demo) == 2


def test_readme_links_and_images_exist():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+:", target) or target.startswith("#"):
            continue
        assert (ROOT / target.split("#")[0]).exists(), f"README.md links to missing {target}"


def test_sources_are_cited_not_the_reference_notes():
    for file in DOC_FILES:
        assert "REFERENCE.md" not in file.read_text(encoding="utf-8"), f"{file.name} cites REFERENCE.md"


# --- The runner can fail ---------------------------------------------------------------------

SAMPLE = """\
# A page

<!-- test-command -->
```bash
exempt --anything
```

```python
x = 1
```

- in a list:

  ```python
  y = x + 1
  ```

```pycon
>>> y
2
```

```text
not run(
```

```
not run either(
```

```console
$ cerebellar run CartPole-v1 --episodes 1
output line --no-such-flag
```
"""


def test_runner_finds_blocks_with_their_lines_and_languages():
    blocks = find_blocks(SAMPLE, "sample.md")
    assert [(b.line, b.lang, b.exempt) for b in blocks] == [
        (4, "bash", True), (8, "python", False), (14, "python", False), (18, "pycon", False),
        (23, "text", False), (27, "", False), (31, "console", False),
    ]
    assert blocks[2].text == "y = x + 1\n"


def test_runner_shares_a_namespace_per_file_and_checks_doctest_output():
    blocks = find_blocks(SAMPLE, "sample.md")
    namespace = _fresh_namespace()
    for block in blocks[1:4]:
        run_python(block, namespace)
    assert namespace["y"] == 2
    wrong = Block("sample.md", 40, "pycon", ">>> y\n3\n")
    with pytest.raises(SnippetError, match="sample.md:40"):
        run_python(wrong, namespace)


def test_runner_reports_a_failing_block_with_its_markdown_line():
    block = find_blocks("text\n\n```python\nok = 1\nraise RuntimeError('boom')\n```\n", "bad.md")[0]
    with pytest.raises(SnippetError, match=r"bad.md:3: RuntimeError: boom") as info:
        run_python(block, _fresh_namespace())
    # The traceback points at line 5 of bad.md, where the raise is.
    frames = [frame for frame in traceback.extract_tb(info.value.__cause__.__traceback__)
              if frame.filename == "bad.md"]
    assert frames and frames[-1].lineno == 5


def test_runner_rejects_undefined_names():
    block = Block("bad.md", 1, "python", "error = model.learn(state, command, next_state)\n")
    with pytest.raises(SnippetError, match="NameError"):
        run_python(block, _fresh_namespace())


def test_runner_rejects_unknown_flags_extras_and_benchmarks():
    console = find_blocks(SAMPLE, "sample.md")[-1]
    check_shell(console)  # the output line is not a command
    for text, message in [
        ("cerebellar run CartPole-v1 --no-such-flag\n", "does not parse"),
        (".venv/bin/cerebellar suite --seeds 3:1\n", "does not parse"),
        ("cd x && .venv/bin/cerebellar \\\n  walk CartPole-v1\n", "does not parse"),
        (".venv/bin/pip install -q -e '.[plot,nope]'\n", "no extra"),
        ("python benchmarks/no_such_benchmark.py\n", "does not exist"),
    ]:
        with pytest.raises(SnippetError, match=message):
            check_shell(Block("bad.md", 1, "bash", text))
    with pytest.raises(SnippetError, match="--no-such-flag"):
        check_synopsis(Block("bad.md", 1, "text", "cerebellar run ENV [--no-such-flag]\n"))
