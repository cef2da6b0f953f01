"""The handouts and the SVG, each read by the program its readers use: pdflatex for the LaTeX,
pdflatex and MathJax (in headless Chromium) for the Markdown's math, headless Chromium for the
HTML on screen and printed, an XML parser for the SVG. Their numbers are compared with the
JSON, which the PyTorch tests check. These tools are required: a missing one fails the run
(docs/house.md's "Tests" lists the Debian packages)."""

from __future__ import annotations

import html
import json
import re
import shutil
import xml.etree.ElementTree as ET
from collections import defaultdict
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import (
    MAT,
    MATHJAX,
    PRE,
    ROOT,
    SEED,
    SENTENCES,
    markdown_math,
    math_document,
    mathjax_errors,
    on_a4_screen,
    pdf_text,
    pdflatex,
    printed_on_a4,
    run,
    wide_model,
)

FIXTURES = [SEED, MAT, PRE]
Matrix = list[tuple[str, list[str]]]  # (row label, cells as printed), one block of a step
Blocks = dict[str, list[tuple[str, list[str], Matrix]]]  # step id -> (part caption, column labels, block) in order


def explain(path: Path, form: str, *more: str, words: list[str] | None = None, weights: str | None = None) -> str:
    """A fixture's sentence and weights, or these words and weights (given on stdin)."""
    sentence = SENTENCES[path] if words is None else " ".join(words)
    result = run("explain", sentence, "-w", str(path) if weights is None else "-", "-f", form, *more, input=weights)
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    return result.stdout


def json_steps(path: Path, *more: str, words: list[str] | None = None, weights: str | None = None) -> dict[str, dict]:
    return {s["id"]: s for s in json.loads(explain(path, "json", *more, words=words, weights=weights))["steps"]}


def test_the_readers_are_installed() -> None:
    missing = [tool for tool in ("pdflatex", "pdftotext", "chromium") if not shutil.which(tool)]
    missing += [] if MATHJAX.exists() else [str(MATHJAX)]
    packages = "texlive-latex-base lmodern poppler-utils chromium libjs-mathjax"
    assert not missing, f"missing {missing}: apt-get install {packages}"


# --- reading the numbers back ---------------------------------------------------------

_TEX_MATRIX = re.compile(
    r"(?:(?:\\emph\{|\*)(rows [^}*\n]+)[}*]\n+(?:\\\[|\$\$)\n)?"  # the part of a split matrix
    r"\\begin\{array\}\{r\|r+\}\n"  # labels down the left, a rule, the numbers
    r"(.*?) \\\\ \\hline\n"  # the column labels, and a rule under them
    r"(.*?)\n\\end\{array\}",  # a row a line: its label, then its numbers
    re.S,
)
_TEX_ID = {
    "latex": re.compile(r"\\texttt\{([^}]+)\} \\textperiodcentered"),
    "markdown": re.compile(r"^`([^`]+)` · ", re.M),
}


def tex_blocks(doc: str, form: str) -> Blocks:
    """The matrices of a LaTeX or Markdown handout by step: each step's blocks come before its id."""
    out: Blocks = {}
    chunks = _TEX_ID[form].split(doc)
    for chunk, step in zip(chunks[::2], chunks[1::2], strict=False):
        blocks = []
        for part, head, body in _TEX_MATRIX.findall(chunk):
            cols = [_tex_label(c) for c in head.split(" & ")[1:]]
            rows = [line.removesuffix(r" \\").split(" & ") for line in body.split("\n")]
            blocks.append((part, cols, [(_tex_label(r[0]), [_tex_cell(c) for c in r[1:]]) for r in rows]))
        out[step.replace(r"\_", "_").replace("-{}", "-")] = blocks
    return out


def _tex_label(s: str) -> str:
    s = re.sub(r"\\texttt\{([^}]*)\}", r"\1", s).replace(r"\_", "_")
    return {r"\vdots": "⋮", r"\cdots": "⋯"}.get(s, s)


def _tex_cell(s: str) -> str:
    s = re.sub(r"\\phantom\{[^}]*\}", "", s).strip("{}")
    return {r"\vdots": "⋮", r"\cdots": "⋯", r"\ddots": "⋱"}.get(s, s)


class _HTMLTables(HTMLParser):
    """The matrices of the HTML handout by step: each .step div holds its tables."""

    def __init__(self) -> None:
        super().__init__()
        self.blocks: Blocks = {}
        self.step = self.part = ""
        self.row: list[str] | None = None
        self.cell: str | None = None
        self.in_part = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "div" and a.get("class") == "step":
            self.step = a["id"] or ""
            self.blocks[self.step] = []
        elif tag == "p" and a.get("class") == "part":
            self.in_part, self.part = True, ""
        elif tag == "table":
            self.blocks[self.step].append((self.part, [], []))
            self.part = ""
        elif tag == "tr" and self.blocks.get(self.step):
            self.row = []
        elif tag in ("th", "td") and self.row is not None:
            self.cell = ""

    def handle_endtag(self, tag: str) -> None:
        if tag in ("th", "td") and self.row is not None and self.cell is not None:
            self.row.append(self.cell)
            self.cell = None
        elif tag == "tr" and self.row is not None:
            _, cols, rows = self.blocks[self.step][-1]
            if self.row[0]:
                rows.append((self.row[0], self.row[1:]))
            else:  # the header
                cols += self.row[1:]
            self.row = None
        elif tag == "p":
            self.in_part = False

    def handle_data(self, data: str) -> None:
        if self.cell is not None:
            self.cell += data
        if self.in_part:
            self.part += data


def html_blocks(doc: str) -> Blocks:
    parser = _HTMLTables()
    parser.feed(doc)
    return parser.blocks


def agree(blocks: Blocks, steps: dict[str, dict], precision: int, labels: list[str], whole: bool = True) -> None:
    """Every step is there in order, and every number printed is its JSON value to the printed
    precision, in its row and column; a summary's "…" stands for the rows or columns between
    the first and the last ones shown. whole: no step was summarised."""
    assert list(blocks) == list(steps)
    half = Decimal("0.5").scaleb(-precision)
    number = rf"-?\d+\.\d{{{precision}}}" if precision else r"-?\d+"  # the precision's decimals
    for sid, parts in blocks.items():
        value = steps[sid]["values"]
        n, m = len(value), len(value[0])
        names = labels if steps[sid]["cols"] == steps[sid]["rows"] else steps[sid]["cols"]  # n x n: the tokens
        seen = set()
        for part, head, block in parts:
            rows, cols = _ranges(part, n, m, block, steps[sid]["cols"])
            assert [label for label, _ in block] == ["⋮" if i is None else labels[i] for i in rows], sid
            assert head == ["⋯" if j is None else names[j] for j in cols], (sid, head)
            for i, (_, cells) in zip(rows, block, strict=True):
                assert len(cells) == len(cols), sid
                for j, cell in zip(cols, cells, strict=True):
                    if i is None or j is None:
                        assert cell in "⋮⋯⋱", (sid, cell)
                        continue
                    assert re.fullmatch(number, cell), (sid, cell)
                    assert abs(Decimal(cell) - Decimal(value[i][j])) <= half, (sid, i, j, cell)  # exact
                    seen.add((i, j))
        if whole:
            assert len(seen) == n * m, sid


def _ranges(part: str, n: int, m: int, block: Matrix, columns: list[str]) -> tuple[list, list]:
    """Which rows and columns of the step a block shows: its part caption's ranges, or (one
    block) all of them with None where the dots stand, the same number either side."""
    if part:
        found = re.fullmatch(r"rows (\d+)–(\d+), columns (\S+)–(\S+)", part.strip())
        assert found, part
        r0, r1 = int(found[1]), int(found[2])
        c0, c1 = columns.index(found[3]), columns.index(found[4])
        return list(range(r0, r1 + 1)), list(range(c0, c1 + 1))

    def around(shown: list[bool], count: int) -> list:
        if all(shown):
            assert len(shown) == count
            return list(range(count))
        gap = shown.index(False)
        after = len(shown) - gap - 1
        return [*range(gap), None, *range(count - after, count)]

    rows = around([label != "⋮" for label, _ in block], n)
    cols = around([cell not in "⋯⋱" for cell in block[0][1]], m)
    return rows, cols


# --- every fixture, every format --------------------------------------------------------


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.stem)
def test_latex_compiles_and_shows_every_step_and_number(path: Path, tmp_path: Path) -> None:
    doc = explain(path, "latex", "--show-work", "--full")
    steps = json_steps(path, "--show-work")
    agree(tex_blocks(doc, "latex"), steps, 3, _labels(json.loads(explain(path, "json"))["tokens"]))
    text = plain(pdf_text(pdflatex(doc, tmp_path)))
    position = 0
    for step in steps.values():  # in order, with its title and its worked first cell
        position = text.index(step["id"], position)
        assert plain(step["title"]) in text and plain(step["work"]["text"]) in text


def plain(text: str) -> str:
    """Text as read: minus signs as hyphens, no square-root signs (pdftotext drops the one
    LaTeX draws), squares as a 2 and … as ... (as pdftotext reads them), no spaces (pdftotext
    puts some where LaTeX kerns)."""
    return "".join(text.replace("−", "-").replace("√", "").replace("²", "2").replace("…", "...").split())


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.stem)
def test_markdown_math_compiles_in_latex_and_renders_in_mathjax(path: Path, tmp_path: Path) -> None:
    doc = explain(path, "markdown", "--show-work", "--full")
    steps = json_steps(path, "--show-work")
    agree(tex_blocks(doc, "markdown"), steps, 3, _labels(json.loads(explain(path, "json"))["tokens"]))
    for step in steps.values():
        assert f"`{step['id']}` · " in doc and f"### {step['title']}" in doc.replace("\\", "")
        assert f"`{step['work']['text']}`" in doc
    math = markdown_math(doc)
    assert len(math) == len(steps) + sum(map(len, tex_blocks(doc, "markdown").values()))  # formulas, matrices
    pdflatex(math_document(math), tmp_path)
    assert mathjax_errors(math, tmp_path) == {"errors": [], "typeset": len(math), "merror": 0}


HTML_CHECK = """
const background = td => getComputedStyle(td).backgroundColor;
Object.assign(report, {
  steps: [...document.querySelectorAll('.step')].map(s => [s.id, s.innerText, s.getBoundingClientRect().height]),
  weights: [...document.querySelectorAll('.step[id$=".weights"] td')].map(td => [+td.textContent, background(td)]),
  printed: [...document.querySelectorAll('.step[id$=".weights"] td')].map(td => getComputedStyle(td).printColorAdjust),
  others: [...document.querySelectorAll('.step:not([id$=".weights"]) td')].map(background),
});
"""


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.stem)
def test_html_in_a_browser_and_printed_on_a4(path: Path, tmp_path: Path) -> None:
    doc = explain(path, "html", "--show-work", "--full")
    steps = json_steps(path, "--show-work")
    agree(html_blocks(doc), steps, 3, _labels(json.loads(explain(path, "json"))["tokens"]))

    report = on_a4_screen(doc, tmp_path, HTML_CHECK)
    assert [s[0] for s in report["steps"]] == list(steps)
    for (sid, seen, height), step in zip(report["steps"], steps.values(), strict=True):
        assert height > 0 and step["title"] in seen and sid in seen
        assert " ".join(step["work"]["text"].split()) in " ".join(seen.split())
    heat = [(weight, [int(c) for c in re.findall(r"\d+", colour)]) for weight, colour in report["weights"]]
    by_weight = sorted(heat, key=lambda cell: (cell[0], cell[1][1]))
    greens = [rgb[1] for _, rgb in by_weight]  # viridis: the green rises from dark purple to yellow
    assert all(len(rgb) == 3 for _, rgb in heat) and greens == sorted(greens) and greens[-1] > greens[0]
    assert set(report["others"]) == {"rgba(0, 0, 0, 0)"}  # the other tables are plain
    assert set(report["printed"]) == {"exact"}  # printed in colour, even with "background graphics" off

    text = printed_on_a4(doc, tmp_path)
    assert all(sid in text for sid in steps)


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.stem)
def test_svg_is_valid_xml_with_the_terminal_views_numbers(path: Path) -> None:
    svg = explain(path, "svg", "--show-work")
    root = ET.fromstring(svg)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    lines: dict[float, list[tuple[float, str]]] = defaultdict(list)
    for t in root.iter("{http://www.w3.org/2000/svg}text"):
        if t.get("y") is not None:
            lines[float(t.get("y", 0))].append((float(t.get("x", 0)), "".join(t.itertext())))
    drawn = [re.findall(r"-?\d+\.\d{3}\b", " ".join(s for _, s in sorted(lines[y]))) for y in sorted(lines)]
    printed = [re.findall(r"-?\d+\.\d{3}\b", line) for line in explain(path, "terminal", "--show-work").splitlines()]
    assert [n for line in drawn for n in line] == [n for line in printed for n in line]
    assert terminal_blocks(explain(path, "terminal", "--full")).keys() == json_steps(path).keys()


def terminal_blocks(view: str) -> Blocks:
    """The tables of the terminal view (no colour) by step: the rows between the rule under the
    column labels and the step id."""
    out: Blocks = {}
    lines = view.splitlines()
    for k, line in enumerate(lines):
        found = re.match(r"(\S+)   \d+ × (\d+)", line)
        if found:
            rule = max(i for i in range(k) if lines[i].startswith("─"))
            m = int(found[2])
            rows = [re.split(r"\s+", row.strip()) for row in lines[rule + 1 : k]]
            head = re.split(r"\s{2,}", lines[rule - 1].strip())  # labels hold single spaces: "the (0)"
            out[found[1]] = [("", head, [(" ".join(r[:-m]), r[-m:]) for r in rows])]
    return out


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.stem)
def test_the_terminal_views_numbers_agree_with_the_json(path: Path) -> None:
    tokens = json.loads(explain(path, "json"))["tokens"]
    agree(terminal_blocks(explain(path, "terminal", "-p", "4", "--full")), json_steps(path), 4, _labels(tokens))


def _labels(tokens: list[str]) -> list[str]:
    """Row labels as a reader expects them: the token, and its position where it repeats."""
    return [f"{t} ({p})" if tokens.count(t) > 1 else t for p, t in enumerate(tokens)]


# --- the same filters, precision and worked cells in every format ---------------------

FILTERS = ("--layer", "1", "--head", "1", "-s", "heads.*", "-s", "norm_2", "-s", "output", "-p", "2", "--show-work")


@pytest.mark.parametrize("form", ["markdown", "latex", "html"])
def test_every_handout_honours_the_filters_precision_and_worked_cells(form: str, tmp_path: Path) -> None:
    doc = explain(MAT, form, *FILTERS)
    steps = json_steps(MAT, *FILTERS)
    assert len(steps) == 9 and all(s["id"].startswith("layers.1.") or s["id"] == "output" for s in steps.values())
    assert "output" in steps  # outside every layer, and named: --layer keeps it
    tokens = _labels(json.loads(explain(MAT, "json"))["tokens"])
    blocks = html_blocks(doc) if form == "html" else tex_blocks(doc, form)
    agree(blocks, steps, 2, tokens)
    shown = plain(pdf_text(pdflatex(doc, tmp_path)) if form == "latex" else html.unescape(doc))
    assert all(plain(step["work"]["text"]) in shown for step in steps.values())


def test_terminal_and_svg_honour_the_filters() -> None:
    view = explain(MAT, "terminal", *FILTERS)
    steps = json_steps(MAT, *FILTERS)
    tokens = _labels(json.loads(explain(MAT, "json"))["tokens"])
    agree(terminal_blocks(view), steps, 2, tokens)
    svg = "".join(ET.fromstring(explain(MAT, "svg", *FILTERS)).itertext()).replace("\xa0", " ")
    assert all(sid in svg for sid in steps) and not re.search(r"layers\.0\.[\w.]+   \d+ × \d+", svg)  # no layer 0 table


# --- big models: summarised, or split with --full, never off the page ---------------------

BIG = [f"w{i}" for i in range(60)]  # the words of test_cli's wide model: d_model 64, d_ff 256
BIG_ARGS = ("-s", "ffn.hidden", "-s", "heads.0.weights", "-s", "output")


@pytest.mark.parametrize("precision", [3, 15])
def test_big_matrices_summarised_or_split_fit_the_page(precision: int, tmp_path: Path) -> None:
    model: dict[str, Any] = {"words": BIG, "weights": wide_model()}
    steps = json_steps(SEED, *BIG_ARGS, "-p", str(precision), **model)
    for full in ([], ["--full"]):
        args = (*BIG_ARGS, "-p", str(precision), *full)
        latex = explain(SEED, "latex", *args, **model)
        agree(tex_blocks(latex, "latex"), steps, precision, BIG, whole=bool(full))
        pdflatex(latex, tmp_path)
        page = explain(SEED, "html", *args, **model)
        agree(html_blocks(page), steps, precision, BIG, whole=bool(full))
        on_a4_screen(page, tmp_path)
    markdown = explain(SEED, "markdown", *BIG_ARGS, "-p", str(precision), "--full", **model)
    agree(tex_blocks(markdown, "markdown"), steps, precision, BIG)


def test_long_and_unusual_tokens_stay_on_the_page(tmp_path: Path) -> None:
    """Tokens beyond Latin print as code points in the LaTeX (its fonts lack them), long ones
    are cut short as row labels, LaTeX's special characters are typeset, and nothing runs past
    the margin."""
    words = ["W" * 60, "中文字", "x_y^z", "{&}%$#", "naïve", "Straße", "😀", "\\"]
    generated = run("init", "--sentence", " ".join(words))
    assert generated.exit_code == 0
    model: dict[str, Any] = {"words": words, "weights": generated.stdout}
    latex = explain(SEED, "latex", **model)
    text = pdf_text(pdflatex(latex, tmp_path))
    for shown in ("[U+4E2D][U+6587][U+5B57]", "[U+1F600]", "Straße", "naïve", "x_y^z", "{&}%$#", "W" * 19 + "…"):
        assert shown in text.replace(" ", "").replace("...", "…"), shown
    page = explain(SEED, "html", **model)
    assert "中文字" in page and "W" * 19 + "…" in page
    on_a4_screen(page, tmp_path)
    math = markdown_math(explain(SEED, "markdown", **model))
    assert mathjax_errors(math, tmp_path) == {"errors": [], "typeset": len(math), "merror": 0}


@pytest.mark.parametrize("form", ["markdown", "latex", "html", "svg"])
def test_a_cell_is_text_or_json_not_a_handout(form: str) -> None:
    result = run("explain", "-c", "Q[0,0]", "-f", form)
    assert result.exit_code == 2 and result.stdout == ""
    assert f"--format {form}" in result.stderr and "Traceback" not in result.stderr


def test_the_readme_shows_the_html_handout_and_the_terminal_view() -> None:
    readme = (ROOT / "README.md").read_text()
    for picture, magic in (("docs/handout.png", b"\x89PNG\r\n\x1a\n"), ("docs/terminal.svg", b"<svg")):
        assert f"]({picture})" in readme and (ROOT / picture).read_bytes().startswith(magic)


@pytest.mark.parametrize("family", ["modernbert", "deberta-v2"])
def test_a_checkpoints_latex_prints_every_symbol_and_token(family: str, tiny: Any, tmp_path: Path) -> None:
    """ModernBERT's and DeBERTa's steps (rotary θ, the window's ≤, δ, Q Kᵀ, ␣cat) print in Latin Modern, none
    as a code point; a token with a leading space (␣cat) heads its column whole, as it heads its row."""
    sentence, model = "The cat sat on the mat", str(tiny(family))
    args = ("--model", model, "--layer", "1", "--head", "0", "--show-work")
    doc = run("explain", sentence, *args, "-f", "latex").stdout
    text = pdf_text(pdflatex(doc, tmp_path))
    assert "[U+" not in text and "␣cat" in text
    steps = {s["id"]: s for s in json.loads(run("explain", sentence, *args, "-f", "json").stdout)["steps"]}
    square = {
        step: blocks for step, blocks in tex_blocks(doc, "latex").items() if steps[step]["cols"] == steps[step]["rows"]
    }
    assert "layers.1.attention.heads.0.weights" in square  # and ModernBERT's mask
    for step, blocks in square.items():
        assert {c for _, cols, _ in blocks for c in cols} - {"⋯"} <= set(steps[step]["rows"]), step  # whole tokens
    position, text = 0, plain(text).replace("ᵀ", "T")
    for step in steps.values():  # in order, with its title and its worked first cell, as written
        position = text.index(step["id"], position)
        assert plain(step["title"]).replace("ᵀ", "T") in text and plain(step["work"]["text"]) in text, step["id"]
