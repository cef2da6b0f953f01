"""LaTeX shared by the Markdown and LaTeX handouts: token labels and matrices.

What is written here reads the same in pdflatex (amsmath) and in MathJax (GitHub, Jupyter):
LaTeX's special characters become math symbols, never text-mode escapes, which MathJax's
\\text{} would print as they are; a matrix is an array, one row a line, each ending in \\\\.
"""

from __future__ import annotations

import re

from encoder_cli.render import fmt
from encoder_cli.render.page import Block, Shown
from encoder_cli.trace import MarkKind

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


def matrix(shown: Shown, block: Block, precision: int) -> list[str]:
    """A block of a step's matrix as lines of LaTeX: one array, labelled as the terminal view and
    the HTML are, the column labels across the top over a rule and the row labels (the tokens)
    down the left beside one; right-aligned numbers, so that signs and decimal points line up."""
    head = ["", *(r"\cdots" if j is None else label(shown.cols[j]) for j in block.cols)]
    body = [
        [r"\vdots" if i is None else label(shown.rows[i]), *(_cell(shown, i, j, precision) for j in block.cols)]
        for i in block.rows
    ]
    begin = rf"\begin{{array}}{{r|{'r' * len(block.cols)}}}"
    return [begin, " & ".join(head) + r" \\ \hline", *_lines(body), r"\end{array}"]


def _cell(shown: Shown, i: int | None, j: int | None, precision: int) -> str:
    if i is None:
        return r"\vdots" if j is not None else r"\ddots"
    if j is None:
        return r"\cdots"
    number = fmt.number(float(shown.step.value[i, j]), precision)
    mark = (shown.marks or {}).get((i, j))
    if mark is None or mark.kind == MarkKind.given:
        return number
    kind, n = mark
    if kind == MarkKind.blank:  # an empty box, numbered, as wide whatever the number (its width says nothing)
        return rf"\boxed{{\phantom{{{fmt.number(-8.0, precision)}}}}}_{{{n}}}"
    if kind == MarkKind.key:
        return rf"\boxed{{{number}}}"
    return "" if kind == MarkKind.out else f"{{=}}[{n}]"  # same: as blank n


def _lines(rows: list[list[str]]) -> list[str]:
    return [" & ".join(row) + (r" \\" if k < len(rows) - 1 else "") for k, row in enumerate(rows)]
