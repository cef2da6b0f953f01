"""`encoder worksheet` at the command line's edge: the issue's example, its template through
`check`, the answer key, the HTML's cells, the terminal sheet's title, and what the user typed
reaching the terminal escaped (tests/handouts/test_worksheet_handouts.py reads the handouts with their
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
from tests.conftest import BLANKS, FIXTURES, WORKSHEET, run


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
    text = template.read_text().replace('"PE[cat]": [~, ~, ~, ~]', '"PE[cat]": [0.84, 0.54, 0.01, 1.00]')
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


# Issue #17's worksheets on one head: the fixture with two heads and two layers, PE[cat] and
# head 1's scores for cat as blanks.
MAT = ["worksheet", "The cat sat on the mat", "-w", str(FIXTURES / "the-cat-sat-on-the-mat.yaml")]
HEAD_1 = [*MAT, "--blank", "PE[cat]", "--blank", "layers.0.attention.heads.1.scores[cat]"]
ON_HEAD_1 = "layers.0.attention.heads.1."


def _ids(sheet: str) -> list[str]:
    """The step ids a terminal sheet prints, in order (each table's caption: its id, then its shape)."""
    return re.findall(r"^(\S+)   \d+ × \d+$", sheet, re.M)


def test_a_sheet_on_one_head_shows_what_the_filters_keep_and_what_the_blanks_are_worked_from() -> None:
    """--layer 0 --head 1: no step of head 0, of layer 1, of the FFN or the norms. Everything
    after the scaled scores is left out (the blanks reach it), so the sheet is what head 1's
    scores for cat are worked from: X and PE[cat] for X'[cat] (shown although --layer 0 drops
    them: a blank is worked from them), X' for Q and K, and the columns of W_Q, b_Q, W_K, b_K."""
    result = run(*HEAD_1, "--layer", "0", "--head", "1")
    assert result.exit_code == 0, result.stderr
    assert _ids(result.stdout) == [
        "embeddings", "positional", "input",
        f"{ON_HEAD_1}Q.W_Q", f"{ON_HEAD_1}Q.b_Q", f"{ON_HEAD_1}Q",
        f"{ON_HEAD_1}K.W_K", f"{ON_HEAD_1}K.b_K", f"{ON_HEAD_1}K",
        f"{ON_HEAD_1}V", f"{ON_HEAD_1}scores", f"{ON_HEAD_1}scaled",
    ]  # fmt: skip
    unfiltered = _ids(run(*HEAD_1).stdout)  # the same blanks, no filter: head 0 too, as explain shows it
    assert "layers.0.attention.heads.0.Q" in unfiltered and len(unfiltered) > 12
    # -s keeps the steps named, the blanks and what they are worked from: not V, not the scaled scores
    only = run(*HEAD_1, "-s", "heads.1.scores").stdout
    assert _ids(only) == [i for i in _ids(result.stdout) if not i.endswith(("V", "scaled"))]
    # the template and the blanks do not depend on the filters
    numbered = [re.findall(r"\[(\d+)\]", run(*HEAD_1, *f).stdout) for f in ([], ["--head", "1", "-s", "scores"])]
    assert numbered[0] == numbered[1] == [str(n) for n in range(1, 19)]


def test_the_filters_are_explains() -> None:
    """A filter that keeps nothing, or names what is not there, says what explain says."""
    for args, message in (
        (["--head", "2"], "error: --head 2: the model has 2 heads, numbered 0 to 1"),
        (["-s", "nope"], "error: --step 'nope' is not a step or parameter"),
        (["--layer", "1", "-s", "layers.0.ffn.W_1"], "error: these filters together keep no step"),
    ):
        result, explained = run(*HEAD_1, *args), run("explain", *MAT[1:], *args)
        assert result.exit_code == 2 and result.stdout == "" and result.stderr == explained.stderr, result.stderr
        assert result.stderr.startswith(message), result.stderr


def test_a_cell_two_blank_steps_need_is_counted_once() -> None:
    """X'[cat] is 4 cells; head 1's Q[cat] and K[cat] both need it: 4 more blanks, not 8."""
    result = run(*HEAD_1)
    assert result.exit_code == 0
    why = "since a blank needs them and they need a blank"
    assert result.stderr.splitlines() == [
        f"note: Encoder input, row cat (X'): 4 more blanks, {why}",
        f"note: Queries (head 1), row cat ({ON_HEAD_1}Q): 2 more blanks, {why}",
        f"note: Keys (head 1), row cat ({ON_HEAD_1}K): 2 more blanks, {why}",
    ]


def test_a_heads_parameter_columns_are_labelled_by_the_files_columns() -> None:
    """Head 1 owns columns 2 and 3 of W_Q (d_k 2): its table of W_Q is headed d2, d3, and its
    numbers are the file's columns 2 and 3 (read from the YAML)."""
    import yaml

    W_Q = yaml.safe_load((FIXTURES / "the-cat-sat-on-the-mat.yaml").read_text())["layers"][0]["attention"]["W_Q"]
    table = next(t for t in run(*HEAD_1).stdout.split("\n\n") if t.startswith("W_Q: the columns the blanks use"))
    header, _, *rows, caption = table.splitlines()[1:]
    assert header.split() == ["d2", "d3"] and caption.startswith(f"{ON_HEAD_1}Q.W_Q ")
    assert [[float(x) for x in row.split()[1:]] for row in rows] == [r[2:4] for r in W_Q]
    assert [row.split()[0] for row in rows] == ["d0", "d1", "d2", "d3"]  # its rows: x's columns


# The seed's model has one head and no W_O: its concat and attention output are head 0's
# weighted sum, number for number.
SAME = ["worksheet", "The cat sat", "--blank", "heads.0.output[cat]", "--blank", "norm_1[cat]"]


def test_a_step_that_passes_a_blank_through_is_same_as_it_not_a_blank_again(tmp_path: Path) -> None:
    """norm_1[cat] needs residual_1[cat], which needs the attention output for cat: head 0's
    weighted sum, passed through concat and the attention output unchanged. Those 4 numbers are
    blanked once (1–4), and concat and the attention output show '=[1]'… instead; blanks: 4 for
    the weighted sum, 4 for the residual, 1 mean, 1 variance, 4 for norm_1."""
    steps = {s["id"]: s["values"] for s in json.loads(run("explain", "The cat sat", "-f", "json").stdout)["steps"]}
    heads = steps["layers.0.attention.heads.0.output"]
    assert steps["layers.0.attention.concat"] == steps["layers.0.attention.output"] == heads  # the premise
    template = tmp_path / "answers.yaml"
    result = run(*SAME, "--answers-template", str(template))
    assert result.exit_code == 0, result.stderr
    keys = re.findall(r'^"([^"]+)": .*# (blanks? [\d–]+)$', template.read_text(), re.M)
    assert keys == [
        ("heads.0.output[cat]", "blanks 1–4"),  # the learner's names, as check takes them back
        ("residual_1[cat]", "blanks 5–8"),
        ("norm_1.mean[cat,mean]", "blank 9"),
        ("norm_1.variance[cat,variance]", "blank 10"),
        ("norm_1[cat]", "blanks 11–14"),
    ]
    tables = {_ids(t)[0]: t for t in result.stdout.split("\n\n") if _ids(t)}
    for name in ("concat", "output"):
        table = tables[f"layers.0.attention.{name}"]
        assert ": the same numbers as Weighted sum of values (head 0)" in table.splitlines()[0]
        assert re.search(r"^cat +=\[1\] +=\[2\] +=\[3\] +=\[4\]$", table, re.M), table
    assert "more blanks" not in result.stderr.split("residual_1")[0]  # no note for concat or the output
    assert len(re.findall(r"\[\d+\]", result.stdout)) - len(re.findall(r"=\[\d+\]", result.stdout)) == 14


def test_a_blank_asked_on_a_copy_is_worked_where_the_numbers_are_made() -> None:
    """The attention output's row for cat (no W_O: concat, which is head 0's weighted sum) is
    blanked on the weighted sum: concat's row can never give it away."""
    result = run("worksheet", "The cat sat", "--blank", "layers.0.attention.output[cat]")
    assert result.exit_code == 0 and result.stderr == ""
    tables = {_ids(t)[0]: t for t in result.stdout.split("\n\n") if _ids(t)}
    assert re.search(r"^cat +\[1\] +\[2\] +\[3\] +\[4\]$", tables["layers.0.attention.heads.0.output"], re.M)
    for name in ("concat", "output"):
        assert re.search(r"^cat +=\[1\] +=\[2\] +=\[3\] +=\[4\]$", tables[f"layers.0.attention.{name}"], re.M)
    key = run("worksheet", "The cat sat", "--blank", "layers.0.attention.output[cat]", "--key").stdout
    assert "=[" not in key and len(re.findall(r"\[-?\d+\.\d{3}\]", key)) == 4


@pytest.mark.parametrize("form", ["terminal", "markdown", "latex", "html"])
def test_decimals_are_asked_for_on_the_sheet_in_every_format(form: str) -> None:
    asked = run(*WORKSHEET, "--decimals", "2", "-f", form)
    assert asked.exit_code == 0 and asked.stdout.count("give 2 decimals") == 1, asked.stderr
    assert "give" not in run(*WORKSHEET, "-f", form).stdout
    one = run(*WORKSHEET, "--decimals", "1", "-f", form).stdout
    assert "give 1 decimal" in one and "give 1 decimals" not in one


def test_decimals_reach_the_templates_check_command(tmp_path: Path) -> None:
    template = tmp_path / "answers.yaml"
    assert run(*WORKSHEET, "--decimals", "2", "--answers-template", str(template)).exit_code == 0
    lines = template.read_text().splitlines()
    assert lines[1] == (
        "# 2 decimals the sheet asks for (fewer are too coarse); leave ~ where you did not attempt it. Then:"
    )
    assert lines[2] == f"#   encoder check 'The cat sat' --answers {template} --decimals 2"
    plain = tmp_path / "plain.yaml"
    assert run(*WORKSHEET, "--answers-template", str(plain)).exit_code == 0
    assert plain.read_text().splitlines()[2] == f"#   encoder check 'The cat sat' --answers {plain}"
    bad = run(*WORKSHEET, "--decimals", "-1")
    assert bad.exit_code == 2 and bad.stderr.startswith("error: Invalid value for '--decimals'") and bad.stdout == ""


def test_the_help_speaks_of_what_worksheet_writes() -> None:
    """worksheet writes no JSON: its help does not speak of it, and names its filters and --decimals."""
    text = run("worksheet", "--help").stdout
    assert "JSON" not in text  # (config.json and tokenizer.json, in --model's help, are files it reads)
    for option in ("--layer", "--head", "--step", "--decimals N", "Decimals shown in the sheet and the key."):
        assert option in text, option


@pytest.mark.parametrize("form", ["terminal", "html"])
def test_a_summarised_matrix_keeps_every_blank_and_what_it_is_worked_from(tiny, form: str, tmp_path: Path) -> None:
    """The trial's sheet on ModernBERT's layer 1, head 0: Q.rotated[␣cat] (8 columns, wider than 80
    characters) and ffn.product[␣cat, f2] (19 columns, summarised). Every blank the template lists is
    drawn, numbered in order; the activation's and the gate's column f2, which product[␣cat, f2] is
    worked from, is shown; and --full, which the caption of a summarised matrix names, is taken."""
    template = tmp_path / "answers.yaml"
    blanks = ["--blank", "layers.1.attention.heads.0.Q.rotated[␣cat]", "--blank", "layers.1.ffn.product[␣cat,f2]"]
    args = ["worksheet", "The cat sat on the mat", "--model", str(tiny("modernbert")), "--layer", "1", "--head", "0"]
    args += blanks
    result = run(*args, "-f", form, "--answers-template", str(template), env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.stderr
    count = sum(line.split("#")[0].count("~") for line in template.read_text().splitlines())
    assert count > 8 + 1  # the premise: the two steps' 9 blanks, and those added
    if form == "html":
        cells = Cells()
        cells.feed(result.stdout)
        assert [int(n) for n in cells.cells["blank"]] == list(range(1, count + 1))
    else:
        assert [int(n) for n in re.findall(r"(?<!=)\[(\d+)\]", result.stdout)] == list(range(1, count + 1))
        assert "…" in result.stdout and "summarised: --full" in result.stdout  # the premise: it summarises
        for name in ("activation", "gate"):
            table = next(t for t in result.stdout.split("\n\n") if re.search(rf"^layers\.1\.ffn\.{name}   ", t, re.M))
            header = table.splitlines()[len(_caption(table))]  # the column labels, under the title and formula
            assert "f2" in header.split() and "…" in header.split(), header
    full = run(*args, "-f", form, "--full", env={"COLUMNS": "80"})
    assert full.exit_code == 0 and "summarised" not in full.stdout and "…" not in full.stdout, full.stderr
