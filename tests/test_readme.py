"""The README's promises that can drift: its test command is the one CI runs, and the
sessions, error messages and fixtures it shows are real."""

from __future__ import annotations

import ast
import re
import shlex
from pathlib import Path

import pytest
import yaml

from tests.conftest import FIXTURES, ROOT, SEED, run

README = (ROOT / "README.md").read_text()
# Every `$ encoder …` line of the README's code blocks, and the lines after it up to the next `$`.
SESSIONS = [
    (command, shown)
    for language, block in re.findall(r"^```(\w*)\n(.*?)^```$", README, re.S | re.M)
    if not language
    for command, shown in re.findall(r"^\$ (encoder .*)\n((?:(?!\$ ).*\n)*)", block, re.M)
]


def test_ci_runs_the_readmes_test_command() -> None:
    ci = (ROOT / ".ci" / "run").read_text().strip().splitlines()[-1]
    assert f"```sh\n{ci}\n```" in README


def test_the_readmes_error_example_is_what_the_tool_says() -> None:
    result = run("explain", "The dog sat")
    assert f'$ encoder explain "The dog sat"\n{result.stderr}' in README


def readme_files(folder: Path) -> None:
    """The files the README's sessions name: its answers file, and a w.yaml, the seed's example
    whose W_Q lost its last column."""
    (folder / "mine.yaml").write_text(re.search(r"```yaml\n# mine.yaml\n(.*?)```", README, re.S)[1])  # type: ignore[index]
    data = yaml.safe_load(SEED.read_text())
    text = SEED.read_text()
    for row in data["layers"][0]["attention"]["W_Q"]:
        text = text.replace(str(row), str(row[:3]), 1)
    (folder / "w.yaml").write_text(text)


@pytest.mark.parametrize(("command", "shown"), SESSIONS, ids=[c for c, _ in SESSIONS])
def test_every_readme_session_is_what_the_tool_prints(command: str, shown: str, tmp_path: Path, monkeypatch) -> None:
    readme_files(tmp_path)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "fixtures").symlink_to(FIXTURES)
    result = run(*shlex.split(command)[1:])
    printed = result.stdout if result.exit_code in (0, 1) else result.stderr
    assert "\n".join(line.rstrip() for line in printed.strip().splitlines()) == shown.strip(), command


def test_the_readme_shows_sessions() -> None:
    assert len(SESSIONS) >= 6  # the errors, check, and the worked cells


def test_every_fixture_is_in_the_readme() -> None:
    for path in FIXTURES.glob("*.yaml"):
        assert f"`fixtures/{path.name}`" in README


def test_the_readmes_check_session_is_what_the_tool_prints() -> None:
    answers = "X'[cat]: [1.34, 0.64, 0.91, 1.70]\nQ[cat,d0]: 2.50\n"
    assert f"```yaml\n# mine.yaml\n{answers}```" in README
    result = run("check", "--answers", "-", input=answers)
    assert result.exit_code == 1
    shown = "\n".join(line.rstrip() for line in result.stdout.strip().splitlines())
    assert f"$ encoder check --answers mine.yaml\n{shown}\n```" in README
    fixed = run("check", "--answers", "-", input=answers.replace("2.50", "2.44"))
    assert fixed.exit_code == 0 and fixed.stdout.strip().endswith("5 checked: 5 right, 0 carried, 0 wrong")


def test_the_readmes_python_example_says_what_python_says(monkeypatch) -> None:
    """Each line of the README's Python block runs, and one with a value in its comment
    evaluates to that value."""
    block = re.search(r"```python\n(.*?)```", README, re.S)[1]  # type: ignore[index]
    monkeypatch.chdir(ROOT)  # the example names fixtures/ as a user in the checkout would
    scope: dict = {}
    checked = 0
    for line in block.splitlines():
        code, _, comment = (part.strip() for part in line.partition("# "))
        try:
            said = ast.literal_eval(comment.split(" (")[0])
        except (ValueError, SyntaxError):
            exec(code, scope)
            continue
        assert eval(code, scope) == said, line
        checked += 1
    assert checked >= 4


def test_the_readmes_terminal_view_is_what_the_tool_prints() -> None:
    shown = re.search(r"```\n(Layer 0 · Step 3 .*?)```", README, re.S)[1]  # type: ignore[index]
    width = len(shown.splitlines()[0])
    view = run("explain", "-s", "heads.0.Q", "-s", "weights", env={"COLUMNS": str(width)}).stdout
    printed = "\n".join(line.rstrip() for line in view.splitlines())
    assert shown.strip() in printed
