"""The worksheet's handouts read by the programs their readers use, as tests/handouts/test_handouts.py
reads explain's: the LaTeX by pdflatex; the Markdown's math, with its \\boxed{\\phantom{…}} blanks,
by pdflatex (amsmath) and by MathJax 2.7 in headless Chromium; the HTML, with its numbered
boxes, by headless Chromium at A4 width and printed on A4."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from tests.conftest import (
    BLANKS,
    SEED,
    WORKSHEET,
    markdown_math,
    math_document,
    mathjax_errors,
    on_a4_screen,
    pdf_text,
    pdflatex,
    printed_on_a4,
    run,
)

KEY = {"sheet": [], "key": ["--key"]}
NUMBER = re.compile(r"-?\d+\.\d{3}")  # a number at the default precision


def sheet(form: str, kind: str, weights: str | None = None) -> str:
    """The issue's worksheet (or its key), of the seed's weights or of these."""
    result = run(*WORKSHEET, "-f", form, *KEY[kind], *(["-w", "-"] if weights else []), input=weights)
    assert result.exit_code == 0, result.stderr
    return result.stdout


def louder() -> str:
    """The seed's weights with embeddings ten times theirs and of the other sign: answers such as
    -12.000 and 338.437, wider than -8.000."""
    weights = yaml.safe_load(SEED.read_text())
    weights["embeddings"] = {token: [-10 * x for x in e] for token, e in weights["embeddings"].items()}
    return yaml.safe_dump(weights)


def boxes(tex: str) -> list[tuple[str, str]]:
    """What each \\boxed{} holds, and the number under it ('' for none), in order."""
    return re.findall(r"\\boxed\{((?:[^{}]|\{[^{}]*\})*)\}(?:_\{(\d+)\})?", tex)


def assert_boxed(tex: str, kind: str) -> None:
    """The sheet: every blank an empty box as wide as -8.000, numbered in order; the key: every
    blank boxed with its answer."""
    if kind == "sheet":
        assert boxes(tex) == [(r"\phantom{-8.000}", str(n)) for n in range(1, BLANKS + 1)]
    else:
        assert len(boxes(tex)) == BLANKS and all(NUMBER.fullmatch(held) and n == "" for held, n in boxes(tex))


@pytest.mark.parametrize("kind", KEY)
def test_the_latex_compiles_on_the_page(kind: str, tmp_path: Path) -> None:
    tex = sheet("latex", kind)
    assert_boxed(tex, kind)
    pdflatex(tex, tmp_path)


@pytest.mark.parametrize("kind", KEY)
def test_the_markdown_math_compiles_in_latex_and_renders_in_mathjax(kind: str, tmp_path: Path) -> None:
    math = markdown_math(sheet("markdown", kind))
    assert_boxed("\n".join(math), kind)
    pdflatex(math_document(math), tmp_path)
    assert mathjax_errors(math, tmp_path) == {"errors": [], "typeset": len(math), "merror": 0}


# Each box as drawn: its text, width and four borders, where its text is (inside the box's
# borders, and its number in the bottom right quarter) and at what size; and the width of
# -8.000, the widest number at this precision, as a matrix's cell prints it.
BOX_CHECK = """
const cell = document.querySelector('table.matrix td'), probe = cell.appendChild(document.createElement('span'));
probe.textContent = '-8.000';
const widest = probe.getBoundingClientRect().width;
probe.remove();
Object.assign(report, {
  widest,
  boxes: [...document.querySelectorAll('td.blank, td.key')].map(td => {
    const box = td.querySelector('.box'), s = getComputedStyle(box), edge = box.getBoundingClientRect();
    const left = edge.left + box.clientLeft, top = edge.top + box.clientTop;
    const inner = {left, top, right: left + box.clientWidth, bottom: top + box.clientHeight};
    const text = document.createRange();
    text.selectNodeContents(box);
    const at = text.getBoundingClientRect();
    return {
      text: td.innerText,
      width: edge.width,
      room: box.clientWidth - parseFloat(s.paddingLeft) - parseFloat(s.paddingRight),
      borders: ['Top', 'Right', 'Bottom', 'Left'].map(side => [s[`border${side}Style`],
        parseFloat(s[`border${side}Width`]), s[`border${side}Color`]]),
      inside: at.width > 0 && at.left >= inner.left && at.right <= inner.right
        && at.top >= inner.top && at.bottom <= inner.bottom,
      corner: at.left > (inner.left + inner.right) / 2 && at.bottom > (inner.top + inner.bottom) / 2
        && inner.bottom - at.bottom < at.top - inner.top,
      scale: parseFloat(getComputedStyle(box.firstElementChild || box).fontSize) / parseFloat(s.fontSize),
    };
  }),
});
"""


@pytest.mark.parametrize("weights", ["seed", "louder"])
def test_the_html_sheet_and_key_in_a_browser_and_printed_on_a4(weights: str, tmp_path: Path) -> None:
    """Every blank a box with a dark border all round, and every box of the sheet and of the key
    as wide as every other (to 0.5 px) and with room for -8.000; the sheet's number inside its
    box, at the bottom right and smaller than the table's numbers; the key's answer inside its
    box, the widest too (the seed's 18.191, as wide as -8.000; louder weights' -12.000 and 338.437).
    Printed, each starts with its title, on A4 within the margin."""
    pages = {kind: sheet("html", kind, louder() if weights == "louder" else None) for kind in KEY}
    answers = re.findall(r'<td class="key"><span class="box">([^<]*)</span></td>', pages["key"])
    assert len(answers) == BLANKS and all(map(NUMBER.fullmatch, answers))
    assert max(map(len, answers)) == {"seed": 6, "louder": 7}[weights]
    widths = []
    for kind, page in pages.items():
        report = on_a4_screen(page, tmp_path, BOX_CHECK)
        drawn = report["boxes"]
        assert [b["text"] for b in drawn] == (answers if kind == "key" else [str(n) for n in range(1, BLANKS + 1)])
        for b in drawn:
            assert all(style == "solid" and width >= 1 and _dark(colour) for style, width, colour in b["borders"]), b
            assert b["room"] >= report["widest"] - 0.5 and b["inside"], (b, report["widest"])
            assert b["corner"] and b["scale"] < 1 if kind == "sheet" else b["scale"] == 1, b
        widths += [b["width"] for b in drawn]
        title = "Answer key" if kind == "key" else "Worksheet"
        assert printed_on_a4(page, tmp_path).startswith(f"{title}: A Transformer encoder, step by step")
    assert max(widths) - min(widths) <= 0.5, sorted(set(widths))


def _dark(colour: str) -> bool:
    """An opaque colour that shows on white paper: rgb(…) well below white."""
    found = re.fullmatch(r"rgb\((\d+), (\d+), (\d+)\)", colour)
    return found is not None and sum(map(int, found.groups())) < 3 * 128


SAME = ["worksheet", "The cat sat", "--blank", "heads.0.output[cat]", "--blank", "norm_1[cat]", "--decimals", "2"]


def test_same_as_marks_and_the_decimals_asked_read_in_pdflatex_and_mathjax(tmp_path: Path) -> None:
    """A sheet whose concat and attention output are the same numbers as head 0's weighted sum
    (the seed: one head, no W_O): their cells for cat are {=}[1] to {=}[4], the blanks they copy;
    the LaTeX compiles and says 'give 2 decimals', and the Markdown's math typesets in MathJax."""
    tex = run(*SAME, "-f", "latex").stdout
    assert tex.count("{=}[1]") == 2 and tex.count("{=}[4]") == 2 and r"\textbf{Answers:} give 2 decimals" in tex
    assert "give 2 decimals" in pdf_text(pdflatex(tex, tmp_path))
    math = markdown_math(run(*SAME, "-f", "markdown").stdout)
    assert sum(m.count("{=}[") for m in math) == 8
    pdflatex(math_document(math), tmp_path)
    assert mathjax_errors(math, tmp_path) == {"errors": [], "typeset": len(math), "merror": 0}


def test_a_wide_sheet_keeps_every_blank_and_fits_the_page(tiny, tmp_path: Path) -> None:
    """ModernBERT's layer 1 (24 columns, 38 in the FFN's hidden layer): Q.rotated[␣cat] and
    ffn.product[␣cat, f2], with the blanks they add, in LaTeX: every blank is boxed, numbered in
    order, and the page compiles with no box past its margin (a matrix whose blanks and givens the
    summary cannot hold is split into parts)."""
    args = ["worksheet", "The cat sat on the mat", "--model", str(tiny("modernbert")), "--layer", "1", "--head", "0"]
    args += ["--blank", "layers.1.attention.heads.0.Q.rotated[␣cat]", "--blank", "layers.1.ffn.product[␣cat,f2]"]
    template = tmp_path / "answers.yaml"
    result = run(*args, "-f", "latex", "--answers-template", str(template))
    assert result.exit_code == 0, result.stderr
    count = sum(line.split("#")[0].count("~") for line in template.read_text().splitlines())
    assert count > 9 and boxes(result.stdout) == [(r"\phantom{-8.000}", str(n)) for n in range(1, count + 1)]
    pdflatex(result.stdout, tmp_path)
