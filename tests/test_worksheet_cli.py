"""`encoder worksheet` at the command line's edge: the issue's example, its template through
`check`, the answer key, and the LaTeX and HTML read back by their real readers."""

from __future__ import annotations

import re
import subprocess
from html.parser import HTMLParser
from pathlib import Path

from tests.conftest import run

EXAMPLE = ["worksheet", "The cat sat", "--blank", "PE[cat]", "--blank", "Q", "--blank", "weights[cat]"]
BLANKS = 4 + 4 + 12 + 4 + 3 * 3  # PE[cat], X'[cat], Q, K[cat], scores/scaled/weights[cat]: tests/test_worksheet.py


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
    result = run(*EXAMPLE, "-f", "html", "-o", str(tmp_path / "sheet.html"), "--answers-template", str(template))
    assert result.exit_code == 0, result.stderr
    notes = result.stderr.splitlines()
    assert all(line.startswith("note: ") for line in notes) and any("scores: 3 more blank(s)" in n for n in notes)
    cells = Cells()
    cells.feed((tmp_path / "sheet.html").read_text())
    assert [int(n) for n in cells.cells["blank"]] == list(range(1, BLANKS + 1))  # numbered boxes, nothing else
    assert set(cells.cells["out"]) == {""}  # left out: empty
    untouched = run("check", "The cat sat", "--answers", str(template))
    assert untouched.exit_code == 1 and "nothing attempted" in untouched.stdout
    again = run(*EXAMPLE, "--answers-template", str(template))
    assert again.exit_code == 2 and "--force" in again.stderr and again.stdout == ""


def test_the_key_fills_the_blanks_with_the_truth() -> None:
    key = run(*EXAMPLE, "-f", "html", "--key")
    cells = Cells()
    cells.feed(key.stdout)
    assert len(cells.cells["key"]) == BLANKS and "blank" not in cells.cells
    assert cells.cells["key"][:4] == ["0.841", "0.540", "0.010", "1.000"]  # PE[cat]: sin 1, cos 1, sin 0.01, cos 0.01


def test_a_filled_template_grades(tmp_path: Path) -> None:
    template = tmp_path / "answers.yaml"
    assert run(*EXAMPLE, "--answers-template", str(template)).exit_code == 0
    text = template.read_text().replace(
        '"positional[cat]": [~, ~, ~, ~]', '"positional[cat]": [0.84, 0.54, 0.01, 1.00]'
    )
    template.write_text(text)
    graded = run("check", "The cat sat", "--answers", str(template), "-f", "json")
    assert graded.exit_code == 0, graded.stdout  # some judged, none wrong


def test_the_latex_sheet_compiles_on_the_page_and_gives_nothing_away(tmp_path: Path) -> None:
    tex = run(*EXAMPLE, "-f", "latex").stdout
    (tmp_path / "s.tex").write_text(tex)
    done = subprocess.run(["pdflatex", "-halt-on-error", "s.tex"], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-2000:]
    assert "Overfull" not in (tmp_path / "s.log").read_text()
    boxes = re.findall(r"\\boxed\{\\phantom\{([^}]*)\}\}_\{(\d+)\}", tex)
    assert len(boxes) == BLANKS and {width for width, _ in boxes} == {"-8.000"}  # every box as wide


def test_what_cannot_be_a_blank() -> None:
    for args, message in ((["--blank", "X[cat]"], "nothing to work out"), ([], "give at least one blank")):
        result = run("worksheet", "The cat sat", *args)
        assert result.exit_code == 2 and message in result.stderr and result.stdout == ""
