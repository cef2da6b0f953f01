"""What a handout shows, whatever its format (Markdown, LaTeX, HTML): a title and the facts,
then, stage by stage as in the seed's summary table, each step's title, formula, matrix and id.

A page is narrower than a terminal can be: a matrix is summarised to fit it, NumPy style, or
with full=True cut into blocks that each fit, so that every number is printed and none runs
off the page.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from encoder_cli.errors import printable
from encoder_cli.render import fmt, work
from encoder_cli.trace import PURPOSES, Marked, Marks, Step, Trace, labels

TITLE = "A Transformer encoder, step by step"
WIDTH = 90  # characters (digits of the body font) across a page: A4, portrait
# digits between two columns: LaTeX's 2 \arraycolsep (10 pt, two digits of 5 pt); the HTML's
# padding (.9rem, 14.4 px: two digits of its 12 px type, 7.2 px each)
GAP = 2
ROWS = 40  # matrix rows that one page holds with its title and formula
BOX = 3  # digits a blank's box takes past its number: LaTeX's \fboxsep and rules, and the blank's number under it
TOKENS = 60  # tokens listed in the facts


@dataclass(frozen=True)
class Block:
    """Part of a step's matrix: row and column indices, None where "…" stands for the rest."""

    rows: list[int | None]
    cols: list[int | None]
    part: str  # which part of a split matrix: "rows 0–39, columns d0–d8"; "" for the whole


@dataclass(frozen=True)
class Shown:
    step: Step
    rows: list[str]  # row labels: the tokens, with positions where one repeats ("sentence" for pooled)
    cols: list[str]  # column labels: d0…, f0…, mean, or (n x n) the row labels
    blocks: list[Block]
    caption: str  # "3 × 4", and how the matrix was summarised or split (the step id goes before it)
    work: str | None  # --show-work: the first cell, worked out
    marks: Marked | None = None  # a worksheet's cells: blank (numbered), key (filled), left out, or same as a blank


@dataclass(frozen=True)
class Section:
    heading: str  # "Layer 0 · Step 3 · Multi-head self-attention"
    purpose: str  # the seed's "Purpose" column
    steps: list[Shown]


@dataclass(frozen=True)
class Glance:
    """A step in an overview (--overview): what it is, and its numbers at a glance."""

    step: Step
    title: str
    shape: str  # "3 × 4"
    numbers: tuple[str, str, str]  # its smallest, largest and mean value
    strip: list[float]  # its first row, from its smallest value (0) to its largest (1): fmt.strip


@dataclass(frozen=True)
class Page:
    title: str
    facts: list[tuple[str, str]]  # ("Sentence", "The cat sat"), ("Model", "d_model 4 · …")
    sections: list[Section]
    overview: list[Glance] = field(default_factory=list)  # --overview: a line per step, no sections


def layout(
    trace: Trace,
    steps: Sequence[Step],
    precision: int,
    full: bool,
    show_work: bool,
    width: Callable[[str], int] = len,
    marks: Marks | None = None,
    title: str = TITLE,
    asks: Sequence[tuple[str, str]] = (),
    overview: bool = False,
    top: int = fmt.TOP,
) -> Page:
    """The page of these steps; `width` measures a row label in digits as the format prints it.
    With marks (a worksheet), its blanks and the cells left out; asks: what a worksheet asks of
    the answers, after the facts ("Answers", "give 2 decimals"). What the user gave (the
    sentence, the tokens, a path) is escaped here, once, as the terminal view does (printable):
    each format then escapes its own markup. A step over the vocabulary shows its `top` words (fmt.top), unless full."""
    facts = [*fmt.sentences(trace), *fmt.tokenization(trace, TOKENS)]
    facts += [("Tokens", fmt.tokens(trace, TOKENS)), *fmt.models(trace)]
    if trace.unknown:
        facts.append(("Unknown", fmt.unknown(trace)))
    facts = [(name, printable(value)) for name, value in [*facts, *asks]]
    if overview:
        lines = [Glance(s, s.title, fmt.shape(s), fmt.glance(s, precision), fmt.strip(s)) for s in steps]
        return Page(title, facts, [], lines)
    sections: list[Section] = []
    for step in steps:
        heading = fmt.heading(step)
        if not sections or sections[-1].heading != heading:
            sections.append(Section(heading, PURPOSES[step.stage], []))
        worked = printable(work.first(trace, step, precision).text) if show_work else None
        marked = (marks or {}).get(step.id)
        summary = step.op.vocabulary and not full and not marked  # its top words
        shown = _shown(fmt.top(trace, step, top) if summary else step, width, precision, full, worked, marked)
        said = None if marked else fmt.verdict(step, precision)  # a classifier's label, unless it is asked
        sections[-1].steps.append(replace(shown, marks=marked, caption=shown.caption + (f" · {said}" if said else "")))
    return Page(title, facts, sections)


def _shown(
    step: Step, width: Callable[[str], int], precision: int, full: bool, worked: str | None, marked: Marked | None
) -> Shown:
    """The step's matrix summarised, or (full, or a worksheet's cells that the summary cannot hold,
    blanks and what they are worked from, never left out) split into parts."""
    n, m = step.value.shape
    rows = [printable(label) for label in labels(step.rows, width)]
    whole = rows if step.cols == step.rows else list(step.cols)  # n x n: the tokens across too
    box = BOX if any(mark.kind.boxed for mark in (marked or {}).values()) else 0  # a worksheet's numbered boxes

    def fits(cell: int) -> int:
        return fmt.room(WIDTH, max(map(width, rows)), cell + box, GAP)

    caption = f"{n} × {m}"
    _, fit, cols = fmt.sized(step, precision, whole, fits, width)  # columns as wide as their numbers, if more show
    keep_rows, keep_cols = fmt.kept(marked)
    block = Block(fmt.shown(n, ROWS, keep_rows), fmt.shown(m, fit, keep_cols), "")
    if not full and len(block.rows) <= max(ROWS, 3) and len(block.cols) <= max(fit, 3):
        if None in block.rows or None in block.cols:
            caption += " · summarised: --full shows every row and column"
        return Shown(step, rows, cols, [block], caption, worked)
    cols = whole  # split into parts, every label whole
    fit = fits(fmt.cell_width(step, precision, cols, width))
    parts = [(r, c) for r in _chunks(n, ROWS) for c in _chunks(m, fit)]
    if len(parts) > 1:
        caption += f" · in {len(parts)} parts"
    blocks = [
        Block(list(r), list(c), f"rows {r[0]}–{r[-1]}, columns {cols[c[0]]}–{cols[c[-1]]}" if len(parts) > 1 else "")
        for r, c in parts
    ]
    return Shown(step, rows, cols, blocks, caption, worked)


def _chunks(count: int, size: int) -> list[range]:
    return [range(start, min(start + size, count)) for start in range(0, count, size)]
