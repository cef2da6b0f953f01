"""`encoder worksheet` at the command line's edge: the issue's example, its template through
`check`, the answer key, the HTML's cells, the terminal sheet's title, and what the user typed
reaching the terminal escaped (tests/test_worksheet_handouts.py reads the handouts with their
real readers)."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import pytest
from typer.testing import CliRunner

from encoder_cli.cli import app
from tests.conftest import BLANKS, WORKSHEET, run


class Cells(HTMLParser):
    """The text of each <td>, by its class."""

    def __init__(self) -> None:
        super().__init__()
        self.cells: dict[str, list[str]] = {}
        self._in: str | None = None

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag == "td":
            self._in = dict(attrs).get("class") or ""
            self.cells.setdefault(self._in, []).append("")

    def handle_data(self, data: str) -> None:
        if self._in is not None:
            self.cells[self._in][-1] += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "td":
            self._in = None


def test_the_issues_example_with_its_template(tmp_path: Path) -> None:
    template = tmp_path / "answers.yaml"
    result = run(*WORKSHEET, "-f", "html", "-o", str(tmp_path / "sheet.html"), "--answers-template", str(template))
    assert result.exit_code == 0, result.stderr
    notes = result.stderr.splitlines()
    assert all(line.startswith("note: ") for line in notes) and any(re.search(r"scores\b.*\b3 more", n) for n in notes)
    cells = Cells()
    cells.feed((tmp_path / "sheet.html").read_text())
    assert [int(n) for n in cells.cells["blank"]] == list(range(1, BLANKS + 1))  # numbered boxes, nothing else
    assert set(cells.cells["out"]) == {""}  # left out: empty
    untouched = run("check", "The cat sat", "--answers", str(template))
    assert untouched.exit_code == 1 and "nothing attempted" in untouched.stdout
    again = run(*WORKSHEET, "--answers-template", str(template))
    assert again.exit_code == 2 and "--force" in again.stderr and again.stdout == ""


def test_the_key_fills_the_blanks_with_the_truth() -> None:
    key = run(*WORKSHEET, "-f", "html", "--key")
    cells = Cells()
    cells.feed(key.stdout)
    assert len(cells.cells["key"]) == BLANKS and "blank" not in cells.cells
    assert cells.cells["key"][:4] == ["0.841", "0.540", "0.010", "1.000"]  # PE[cat]: sin 1, cos 1, sin 0.01, cos 0.01


def test_a_filled_template_grades(tmp_path: Path) -> None:
    template = tmp_path / "answers.yaml"
    assert run(*WORKSHEET, "--answers-template", str(template)).exit_code == 0
    text = template.read_text().replace(
        '"positional[cat]": [~, ~, ~, ~]', '"positional[cat]": [0.84, 0.54, 0.01, 1.00]'
    )
    template.write_text(text)
    graded = run("check", "The cat sat", "--answers", str(template), "-f", "json")
    assert graded.exit_code == 0, graded.stdout  # some judged, none wrong


def test_what_cannot_be_a_blank() -> None:
    for args, message in ((["--blank", "X[cat]"], "nothing to work out"), ([], "give at least one blank")):
        result = run("worksheet", "The cat sat", *args)
        assert result.exit_code == 2 and message in result.stderr and result.stdout == ""


@pytest.mark.parametrize(("flags", "title"), [([], "Worksheet"), (["--key"], "Answer key")])
def test_the_terminal_sheet_has_the_handouts_title_in_its_header(flags: list[str], title: str) -> None:
    """The title line heads the facts, in bold as their names are, and reads as the handout's <h1>."""
    handout = run(*WORKSHEET, *flags, "-f", "html").stdout
    for columns in ("80", "120"):
        lines = run(*WORKSHEET, *flags, env={"COLUMNS": columns}).stdout.splitlines()
        assert lines[0].startswith(f"{title}: ") and f"<h1>{lines[0]}</h1>" in handout
        assert lines[1].startswith("Sentence  'The cat sat'") and lines[2].startswith("Tokens    The · cat · sat")
    coloured = CliRunner(env={"COLUMNS": "80", "NO_COLOR": None, "FORCE_COLOR": "1"}).invoke(app, [*WORKSHEET, *flags])
    lines = coloured.stdout.splitlines()
    assert lines[0].startswith(f"\x1b[1m{title}: ") and lines[1].startswith("\x1b[1mSentence")


# An OSC that sets the window's title, BEL, a line separator, a C1 CSI, a bidi override, a
# newline; then accents, CJK and an emoji, which must print as they are.
HOSTILE = "\x1b]0;pwned\x07 cat\u2028sat \x9b31m \u202eevil\n naïve 中文 😀"
RAW = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")  # all but the newline


@pytest.mark.parametrize("vocabulary", ["own", "[UNK]"])
def test_what_the_user_typed_reaches_the_terminal_escaped(vocabulary: str) -> None:
    """In the terminal view, the worksheet and the SVG, the tokens (facts, row and column labels,
    worked lines) and the sentence show control characters, separators and bidi overrides
    escaped; JSON keeps them exact. The tokens have embeddings of their own, or use [UNK]."""
    own = vocabulary == "own"
    weights = run("init", "--sentence", HOSTILE if own else "cat sat", *([] if own else ["--unk"])).stdout

    def out(*args: str) -> str:
        result = run(*args[:1], HOSTILE, "-w", "-", *args[1:], input=weights)
        assert result.exit_code == 0 and not RAW.search(result.stderr), result.stderr
        return result.stdout

    assert json.loads(out("explain", "-f", "json"))["tokens"][:6] == ["\x1b", "]", "0", ";", "pwned", "\x07"]
    views = {
        "explain": out("explain", "-s", "scores", "--show-work"),
        "worksheet": out("worksheet", "--blank", "weights[0]"),
        "svg": "".join(ET.fromstring(out("explain", "-s", "scores", "-f", "svg")).itertext()).replace("\xa0", " "),
    }
    for name, view in views.items():
        assert not RAW.search(view), (name, RAW.findall(view))
        assert all(shown in view for shown in (r"\x1b", r"\x07", r"\x9b", r"\u202e", "naïve", "中文", "😀")), name
        assert r"'\x1b]0;pwned\x07 cat\u2028sat \x9b31m \u202eevil\n naïve 中文 😀'" in view, name  # the sentence
    assert r"scores[\x1b, \x1b] = Q[\x1b] · K[\x1b]" in views["explain"]  # a worked line
    assert re.search(r"^\\x1b +\[1\] +\[2\]", views["worksheet"], re.M)  # a row label, by its blanks


def test_the_key_marks_its_answers_without_colour_too() -> None:
    """Without colour (NO_COLOR, or not a terminal) the key's answers stand in brackets as the
    sheet's blank numbers do, their digits under their column's label, where the sheet's numbers
    stand; with colour the brackets are there too, in reverse video."""
    args = ["worksheet", "The cat sat", "--blank", "PE[cat]", "--blank", "Q[cat,d0]"]
    sheet, key = run(*args).stdout, run(*args, "--key").stdout
    assert "\ncat   [0.841]  [0.540]  [0.010]  [1.000]\n" in key  # PE[cat]: sin 1, cos 1, sin 0.01, cos 0.01
    answers = re.findall(r"\[(-?\d+\.\d{3})\]", key)
    assert len(answers) == len(re.findall(r"\[\d+\]", sheet)) == 4 + 4 + 1  # PE[cat], X'[cat] (added), Q[cat,d0]
    for text in (sheet, key):
        ends = [_ends(table) for table in text.split("\n\n") if "[" in table]
        assert len(ends) == 3 and all(marks <= labels for labels, marks in ends), ends
    coloured = CliRunner(env={"COLUMNS": "100", "NO_COLOR": None, "FORCE_COLOR": "1"}).invoke(app, [*args, "--key"])
    assert re.findall(r"\x1b\[7m\[(-?\d+\.\d{3})\]\x1b\[0m", coloured.stdout) == answers


def _ends(table: str) -> tuple[set[int], set[int]]:
    """Where a matrix's column labels end (the line over its rule), and where what stands in
    brackets ends."""
    lines = table.splitlines()
    header = lines[next(k for k, line in enumerate(lines) if line.startswith("─")) - 1]
    marks = {m.end(1) for line in lines for m in re.finditer(r"\[([^\]]+)\]", line)}
    return {m.end() for m in re.finditer(r"\S+", header)}, marks


@pytest.mark.parametrize("columns", [40, 60, 80, 100])
def test_a_title_and_its_formula_wrap_between_terms(columns: int) -> None:
    """In explain's view, the worksheet and its key, a step's title and formula break only where
    no parenthesis is open (at these widths there is always such a place: sin(pos / 10000^(2i/d))
    stays whole), every line fits, and nothing is lost: the lines are the title and formula cut
    at runs of spaces (explain's, every step's; the worksheet's, or a parameter's title)."""
    steps = json.loads(run("explain", "The cat sat", "-f", "json").stdout)["steps"]
    whole = [f"{s['title']}   {s['formula']}" for s in steps]
    for args in (["explain", "The cat sat"], WORKSHEET, [*WORKSHEET, "--key"]):
        blocks = run(*args, env={"COLUMNS": str(columns)}).stdout.split("\n\n")
        captions = [_caption(block) for block in blocks if "\n─" in block]
        for lines in captions:
            cut = re.compile(" +".join(map(re.escape, lines)))
            assert any(cut.fullmatch(w) for w in whole) or re.fullmatch(r"(W_\w): the columns .*   \1", lines[0]), lines
            assert all(len(line) <= columns for line in lines), lines
            ends = [len(" ".join(lines[: k + 1])) for k in range(len(lines) - 1)]
            assert all(_depth(" ".join(lines)[:end]) == 0 for end in ends), lines
        if args[0] == "explain":
            assert len(captions) == len(steps)  # every step's
        positional = next(lines for lines in captions if lines[0].startswith("Positional encoding"))
        assert any("sin(pos / 10000^(2i/d))" in line for line in positional), positional


def _caption(block: str) -> list[str]:
    """A matrix's title and formula: the lines over its column labels and rule."""
    lines = block.splitlines()
    return lines[: next(k for k, line in enumerate(lines) if line.startswith("─")) - 1]


def _depth(text: str) -> int:
    """How many parentheses are open at the end of the text."""
    return text.count("(") - text.count(")")
