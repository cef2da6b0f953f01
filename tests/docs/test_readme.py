"""The promises of the README and the docs/ pages that can drift: the README's test command is
the one CI runs, and the sessions, error messages, fixtures and the lesson they show are real."""

from __future__ import annotations

import ast
import csv
import io
import math
import re
import shlex
from pathlib import Path

import pytest
import yaml

from tests.conftest import FIXTURES, ROOT, SEED, run

README = (ROOT / "README.md").read_text()
# The README and every page of docs/ (docs/contracts/ holds the contracts, copied: tests/docs/test_docs.py).
PAGES = {
    p.relative_to(ROOT).as_posix(): p.read_text() for p in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
}
LESSON = PAGES["docs/lesson.md"]


def blocks(text: str) -> list[tuple[str, str]]:
    """A page's code blocks: (language, text)."""
    return re.findall(r"^```(\w*)\n(.*?)^```$", text, re.S | re.M)


# Every `$ encoder …` line of the pages' bare code blocks, and the lines after it up to the next `$`.
SESSIONS = [
    (page, command, shown)
    for page, text in PAGES.items()
    for language, block in blocks(text)
    if not language
    for command, shown in re.findall(r"^\$ (encoder .*)\n((?:(?!\$ ).*\n)*)", block, re.M)
]


def lesson_steps() -> list[tuple[str, str, str]]:
    """docs/lesson.md, "A lesson, end to end", one session in one folder, in the page's order:
    ("run", command, shown) for each `$` line of a ```console block (`$ encoder …`, or `$ cat
    FILE`), shown as a terminal shows it, stderr and stdout together (a line ending in ` \\` goes
    on to the next); ("write", NAME, text) for a ```yaml block whose first line is `# NAME.yaml`, a
    file the reader writes before the commands after it."""
    steps = []
    for language, block in blocks(LESSON):
        if language == "yaml" and (name := re.match(r"# (\S+\.yaml)\n", block)):
            steps.append(("write", name[1], block))
        elif language == "console":
            block = re.sub(r" \\\n\s*", " ", block)  # a command continued on the next line
            for command, shown in re.findall(r"^\$ (.*)\n((?:(?!\$ ).*\n)*)", block, re.M):
                steps.append(("run", command, shown))
    return steps


LESSON_RUNS = [(command, shown) for kind, command, shown in lesson_steps() if kind == "run"]


def test_ci_runs_the_readmes_test_command() -> None:
    ci = (ROOT / ".ci" / "run").read_text().strip().splitlines()[-1]
    assert f"```sh\n{ci}\n```" in README


def test_the_error_example_is_what_the_tool_says() -> None:
    result = run("explain", "The dog sat")
    assert f'$ encoder explain "The dog sat"\n{result.stderr}' in PAGES["docs/explain.md"]


def page_files(folder: Path) -> None:
    """The files the pages' sessions name: each answers file a page writes out (a ```yaml block
    whose first line is `# NAME.yaml`; the lesson's are its own, in its own folder), and a w.yaml,
    the seed's example whose W_Q lost its last column."""
    written: dict[str, str] = {}
    for page, text in PAGES.items():
        for language, block in blocks(text):
            if language == "yaml" and page != "docs/lesson.md" and (name := re.match(r"# (\S+\.yaml)\n", block)):
                assert written.setdefault(name[1], block) == block, f"{page}: {name[1]} differs from another page's"
                (folder / name[1]).write_text(block)
    data = yaml.safe_load(SEED.read_text())
    text = SEED.read_text()
    for row in data["layers"][0]["attention"]["W_Q"]:
        text = text.replace(str(row), str(row[:3]), 1)
    (folder / "w.yaml").write_text(text)


@pytest.mark.parametrize(("page", "command", "shown"), SESSIONS, ids=[f"{p}: {c}" for p, c, _ in SESSIONS])
def test_every_session_is_what_the_tool_prints(
    page: str, command: str, shown: str, tmp_path: Path, monkeypatch
) -> None:
    page_files(tmp_path)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "fixtures").symlink_to(FIXTURES)
    result = run(*shlex.split(command)[1:])
    printed = result.stdout if result.exit_code in (0, 1) else result.stderr
    assert "\n".join(line.rstrip() for line in printed.strip().splitlines()) == shown.strip(), (page, command)


def test_the_pages_show_sessions() -> None:
    assert len(SESSIONS) >= 6  # the errors, check, and the worked cells
    shown = {page for page, _, _ in SESSIONS}
    assert {"README.md", "docs/explain.md", "docs/checking.md", "docs/cells.md", "docs/names.md"} <= shown


def test_every_fixture_is_in_the_docs() -> None:
    for path in FIXTURES.glob("*.yaml"):
        assert f"`fixtures/{path.name}`" in PAGES["docs/seed.md"]


def test_the_check_session_is_what_the_tool_prints() -> None:
    checking = PAGES["docs/checking.md"]
    answers = "X'[cat]: [1.34, 0.64, 0.91, 1.70]\nQ[cat,d0]: 2.50\n"
    assert f"```yaml\n# mine.yaml\n{answers}```" in checking
    result = run("check", "--answers", "-", input=answers)
    assert result.exit_code == 1
    shown = "\n".join(line.rstrip() for line in result.stdout.strip().splitlines())
    assert f"$ encoder check --answers mine.yaml\n{shown}\n```" in checking
    fixed = run("check", "--answers", "-", input=answers.replace("2.50", "2.44"))
    assert fixed.exit_code == 0 and fixed.stdout.strip().endswith("5 checked: 5 right, 0 carried, 0 wrong")


PYTHON = [(page, block) for page, text in PAGES.items() for language, block in blocks(text) if language == "python"]


@pytest.mark.parametrize(("page", "block"), PYTHON, ids=[page for page, _ in PYTHON])
def test_each_python_example_says_what_python_says(page: str, block: str, monkeypatch) -> None:
    """Each line of a page's Python block runs, in a scope of its own, and one with a value in its
    comment evaluates to that value."""
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
        assert eval(code, scope) == said, (page, line)
        checked += 1
    assert checked >= (4 if page == "docs/python-api.md" else 1)


def test_the_python_examples_are_the_readmes_and_the_api_pages() -> None:
    assert sorted(page for page, _ in PYTHON) == ["README.md", "docs/python-api.md"]


def test_the_terminal_view_is_what_the_tool_prints() -> None:
    shown = re.search(r"```\n(Layer 0 · Step 3 .*?)```", PAGES["docs/explain.md"], re.S)[1]  # type: ignore[index]
    width = len(shown.splitlines()[0])
    view = run("explain", "-s", "heads.0.Q", "-s", "weights", env={"COLUMNS": str(width)}).stdout
    printed = "\n".join(line.rstrip() for line in view.splitlines())
    assert shown.strip() in printed


@pytest.fixture(scope="module")
def lesson(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """The lesson run in an empty folder: the folder, and what each command printed."""
    folder = tmp_path_factory.mktemp("lesson")
    printed = {}
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(folder)
        for kind, what, text in lesson_steps():
            if kind == "write":
                (folder / what).write_text(text)
            elif what.startswith("encoder "):
                result = run(*shlex.split(what)[1:])
                # the lesson says both check runs exit 1 (a cell is wrong or carried)
                assert result.exit_code == (1 if what.startswith("encoder check") else 0), (what, result.output)
                printed[what] = result.output
            else:
                assert what.startswith("cat "), f"the lesson's test runs encoder and cat only: {what}"
                printed[what] = (folder / what.removeprefix("cat ")).read_text()
    return folder, printed


@pytest.mark.parametrize(("command", "shown"), LESSON_RUNS, ids=[c for c, _ in LESSON_RUNS])
def test_the_lesson_is_what_the_tool_prints(command: str, shown: str, lesson) -> None:
    printed = lesson[1][command]
    assert "\n".join(line.rstrip() for line in printed.strip().splitlines()) == shown.strip(), command


def test_the_lesson_runs_the_whole_loop() -> None:
    steps = [(kind, what.split(" ")[:2]) for kind, what, _ in lesson_steps()]
    assert steps == [
        ("run", ["encoder", "init"]),
        ("run", ["encoder", "explain"]),
        ("run", ["encoder", "worksheet"]),
        ("run", ["cat", "answers.yaml"]),
        ("write", ["ada.yaml"]),
        ("write", ["ben.yaml"]),
        ("run", ["encoder", "check"]),
        ("run", ["encoder", "check"]),
    ]


def test_the_lessons_slip_is_carried_exactly_where_it_reaches(lesson) -> None:
    """The students' numbers as the lesson writes them, checked with plain Python against the
    model init wrote: Ada's are the truth; Ben has one PE cell wrong, and his X' is X + his PE
    and his head-1 Q[cat, d0] his X' times W_Q's column 2 (head 1's first). The CSV says wrong
    for that PE cell, carried for exactly the cells of his that miss the truth, and right for
    the rest."""
    folder, printed = lesson
    model = yaml.safe_load((folder / "class.yaml").read_text())
    assert model["model"]["heads"] == 2 and "b_Q" not in model["layers"][0]["attention"]
    x = model["embeddings"]["cat"]
    w_q2 = [row[2] for row in model["layers"][0]["attention"]["W_Q"]]  # head 1 owns columns 2 and 3
    pe = [math.sin(1), math.cos(1), math.sin(1 / 100), math.cos(1 / 100)]  # position 1, d_model 4
    x_ = [a + b for a, b in zip(x, pe, strict=True)]
    q = sum(a * w for a, w in zip(x_, w_q2, strict=True))
    near = lambda written, value: abs(written - value) <= 0.005 + 1e-12  # noqa: E731 (two decimals)
    keys = ["PE[cat]", "X'[cat]", "heads.1.Q[cat,d0]"]
    ada, ben = ([yaml.safe_load((folder / f"{name}.yaml").read_text())[k] for k in keys] for name in ("ada", "ben"))

    assert all(map(near, ada[0], pe)) and all(map(near, ada[1], x_)) and near(ada[2], q)
    assert [d for d in range(4) if not near(ben[0][d], pe[d])] == [1]
    assert ben[1] == [round(a + b, 2) for a, b in zip(x, ben[0], strict=True)]
    assert near(ben[2], sum(a * w for a, w in zip(ben[1], w_q2, strict=True)))
    carried = {f"X'[cat,d{d}]" for d in range(4) if not near(ben[1][d], x_[d])}
    carried |= set() if near(ben[2], q) else {"heads.1.Q[cat,d0]"}
    assert carried == {"X'[cat,d1]", "heads.1.Q[cat,d0]"}

    csv_run = next(command for command in printed if command.endswith("--format csv"))
    rows = {row["file"]: row for row in csv.DictReader(io.StringIO(printed[csv_run]))}
    cells = [column for column in rows["ben.yaml"] if "[" in column]
    assert len(cells) == 9 and {rows["ada.yaml"][c] for c in cells} == {"right"}
    verdicts = {c: rows["ben.yaml"][c] for c in cells}
    assert {c for c, v in verdicts.items() if v == "wrong"} == {"PE[cat,d1]"}
    assert {c for c, v in verdicts.items() if v == "carried"} == carried
    assert {v for c, v in verdicts.items() if c not in carried | {"PE[cat,d1]"}} == {"right"}
