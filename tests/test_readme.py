"""The README's promises that can drift: its test command is the one CI runs, and the
error messages and fixtures it shows are real."""

from __future__ import annotations

import ast
import re

from tests.conftest import FIXTURES, ROOT, run

README = (ROOT / "README.md").read_text()


def test_ci_runs_the_readmes_test_command() -> None:
    ci = (ROOT / ".ci" / "run").read_text().strip().splitlines()[-1]
    assert f"```sh\n{ci}\n```" in README


def test_the_readmes_error_example_is_what_the_tool_says() -> None:
    result = run("explain", "The dog sat")
    assert f'$ encoder explain "The dog sat"\n{result.stderr}' in README


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
    assert fixed.exit_code == 0 and fixed.stdout.strip().endswith("5 checked: 5 right, 0 wrong")


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
