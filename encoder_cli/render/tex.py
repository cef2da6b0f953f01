"""LaTeX shared by the Markdown and LaTeX handouts: token labels and matrices.

What is written here reads the same in pdflatex (amsmath) and in MathJax (GitHub, Jupyter):
LaTeX's special characters become math symbols, never text-mode escapes, which MathJax's
\\text{} would print as they are; a matrix is one row a line, each ending in \\\\.
"""

from __future__ import annotations

import re

from encoder_cli.render import fmt
from encoder_cli.render.page import Block
from encoder_cli.trace import Step

MATRIX_COLUMNS = 10  # amsmath's matrices hold at most 10 columns; wider ones are arrays
ESCAPED = {c: "\\" + c for c in "{}#$%&_"}  # LaTeX's special characters written alike in text and math
_SPECIAL = {
    **ESCAPED,
    "\\": r"\backslash",
    "~": r"\sim",
    "^": r"\hat{}",
    "<": "{<}",
    ">": "{>}",
}
_SPLIT = re.compile("([" + re.escape("".join(_SPECIAL)) + "])")


def label(text: str) -> str:
    """A token as a row label in math mode, in typewriter type whose letters are as wide as
    digits (page.py counts widths in digits): \\texttt{cat}, \\texttt{don}\\_\\texttt{t}."""
    return "".join(_SPECIAL.get(part, rf"\texttt{{{part}}}") for part in _SPLIT.split(text) if part)


def matrix(step: Step, block: Block, rows: list[str], precision: int) -> list[str]:
    """A block of a step's matrix as lines of LaTeX: the row labels, then the numbers as a
    bmatrix (as a bracketed array of right-aligned columns where a bmatrix cannot hold them)."""
    body = [[_cell(step, i, j, precision) for j in block.cols] for i in block.rows]
    if len(block.cols) > MATRIX_COLUMNS:
        begin, end = r"\left[\begin{array}{" + "r" * len(block.cols) + "}", r"\end{array}\right]"
    else:  # bmatrix centres its columns: pad them to one width, so that they line up on the right
        begin, end = r"\begin{bmatrix}", r"\end{bmatrix}"
        body = [list(row) for row in zip(*map(_aligned, zip(*body, strict=True)), strict=True)]
    names = [[r"\vdots" if i is None else label(rows[i])] for i in block.rows]
    return [r"\begin{array}{r}", *_lines(names), r"\end{array}", begin, *_lines(body), end]


def _aligned(column: tuple[str, ...]) -> list[str]:
    """A column's numbers padded on the left to its sign and integer digits: \\phantom{-0}{1.5}
    beside -12.5 (braced, so that a minus stays a sign, not a binary operator after the pad)."""
    numbers = [s for s in column if not s.startswith("\\")]  # not the dots
    sign = any(s.startswith("-") for s in numbers)
    digits = max((_digits(s) for s in numbers), default=0)
    pads = {s: ("-" if sign and not s.startswith("-") else "") + "0" * (digits - _digits(s)) for s in numbers}
    return [rf"\phantom{{{pads[s]}}}{{{s}}}" if pads.get(s) else s for s in column]


def _digits(number: str) -> int:
    return len(number.lstrip("-").partition(".")[0])


def _cell(step: Step, i: int | None, j: int | None, precision: int) -> str:
    if i is None:
        return r"\vdots" if j is not None else r"\ddots"
    return r"\cdots" if j is None else fmt.number(float(step.value[i, j]), precision)


def _lines(rows: list[list[str]]) -> list[str]:
    return [" & ".join(row) + (r" \\" if k < len(rows) - 1 else "") for k, row in enumerate(rows)]
