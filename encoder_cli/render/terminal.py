"""The terminal view: the seed's story, stage by stage, one table per matrix (laid out by MatrixView)."""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterator, Sequence
from functools import cache, lru_cache
from itertools import groupby

import numpy as np
from rich.cells import cell_len
from rich.color import Color
from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.measure import Measurement
from rich.rule import Rule
from rich.segment import Segment
from rich.style import Style
from rich.table import Table
from rich.text import Text

from encoder_cli.errors import printable
from encoder_cli.render import fmt, work
from encoder_cli.trace import ELLIPSIS, Marked, MarkKind, Marks, Step, Trace, columns, cut_label, labels


def render(
    trace: Trace,
    steps: Sequence[Step],
    *,
    precision: int,
    width: int | None,
    max_rows: int | None,
    show_work: bool = False,
    marks: Marks | None = None,
    title: str | None = None,
    asks: Sequence[tuple[str, str]] = (),
    top: int = fmt.TOP,
) -> Iterator[RenderableType]:
    """Header (under its title, if any), then per stage a rule and its tables (with their first
    cell worked out, if show_work). width/max_rows None: never summarise (a step over the
    vocabulary is else its top words). marks: a worksheet's blanks; asks: what it asks of the
    answers, after the facts. What the user gave (the tokens, the source's path) is shown by printable."""
    yield _header(trace, title, asks)
    section = None
    for step in steps:
        if (step.layer, step.stage) != section:
            section = (step.layer, step.stage)
            yield Rule(Text(fmt.heading(step), style="bold"), align="left", style="dim")
        marked = (marks or {}).get(step.id)
        summary = step.op.vocabulary and width is not None and not marked
        table = _table(fmt.top(trace, step, top) if summary else step, precision, width, max_rows, marked)
        if show_work:
            table.renderables.append(WorkedLine(work.first(trace, step, precision).text))
        yield table


def overview(trace: Trace, steps: Sequence[Step], *, precision: int) -> Iterator[RenderableType]:
    """The header, then a line per step (Overview): for a reader to find the step to ask for."""
    yield _header(trace, None)
    yield Overview(steps, precision)


class Overview:
    """A line per step: its id, title, shape, smallest, largest and mean value, and its first
    row as a heat strip (fmt.strip: bars of viridis colour, their height the value). The id
    and the numbers are never cut: narrower than the line, the strip gets shorter (down to
    nothing, below STRIP bars only when the title is gone) and the title is cut, or left out when
    fewer than TITLE characters of it fit."""

    HEAD = ("step", "title", "shape", "min", "max", "mean", "row 0")
    TITLE, STRIP = 10, 8  # the fewest characters of a title and bars of a strip worth showing

    def __init__(self, steps: Sequence[Step], precision: int) -> None:
        self.steps = steps
        self.cells = [(s.id, s.title, fmt.shape(s), *fmt.glance(s, precision)) for s in steps]

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        widths = [max(cell_len(line[k]) for line in [self.HEAD, *self.cells]) for k in range(6)]
        room = max(options.max_width - widths[0] - sum(widths[2:]) - 2 * 5, 0)  # past the gaps of 2
        bars = min(fmt.STRIP, max(s.value.shape[1] for s in self.steps))  # the longest strip
        strip = min(bars, max(room - widths[1] - 2, min(room, self.STRIP)))  # the title first, past 8 bars
        title = room - strip - 2
        widths[1] = min(widths[1], title) if title >= self.TITLE else 0
        head = self._line(self.HEAD[:6], widths, "bold").append(f"  {self.HEAD[6][:strip]}", "bold")
        lines = [head, Text("─" * (cell_len(head.plain) - len(self.HEAD[6][:strip]) + strip))]
        for step, cells in zip(self.steps, self.cells, strict=True):
            levels = fmt.strip(step, strip)
            bars = [(fmt.spark(x), Style(color=Color.from_rgb(*fmt.heat(x)[0]))) for x in levels]
            lines.append(self._line(cells, widths, "green").append_tokens([("  ", None), *bars]))
        yield Text("\n", no_wrap=True, overflow="crop").join(lines)

    @staticmethod
    def _line(cells: Sequence[str], widths: list[int], style: str) -> Text:
        """The id (in style), the title cut to its width (none at 0), the shape and numbers right-aligned."""
        (name, title, *rest), (first, room, *others) = cells, widths
        parts: list[str | tuple[str, str]] = [(name + " " * (first - cell_len(name)), style)]
        if room:
            cut = cut_label(title, cell_len, room)
            parts.append("  " + cut + " " * (room - cell_len(cut)))
        parts += ["  " + " " * (w - cell_len(c)) + c for c, w in zip(rest, others, strict=True)]
        return Text.assemble(*parts)


def _header(trace: Trace, title: str | None, asks: Sequence[tuple[str, str]] = ()) -> RenderableType:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column()
    for name, sentence in fmt.sentences(trace):
        grid.add_row(name, Text(repr(sentence), no_wrap=True, overflow="ellipsis"))
    for name, value in fmt.tokenization(trace, 24):  # broken between items (" · "), a path folded
        grid.add_row(name, Caption(Text(printable(value), overflow="fold")))
    grid.add_row("Tokens", Text(printable(fmt.tokens(trace, 24))))
    for name, value in fmt.models(trace):  # broken between settings, not inside one
        grid.add_row(name, Caption(Text(value)))
    if trace.unknown:
        grid.add_row(Text("Unknown", style="yellow"), Text(fmt.unknown(trace)))
    for name, value in asks:
        grid.add_row(name, Text(value))
    return grid if title is None else Group(Text(title, style="bold"), grid)


def _table(step: Step, precision: int, width: int | None, max_rows: int | None, marked: Marked | None) -> Group:
    """Title and formula, the matrix, then the step id and shape (own lines: an id is never wrapped)."""
    value = step.value
    n, m = value.shape
    rows = [printable(label) for label in labels(step.rows)]
    cols = [printable(label) for label in columns(step)]  # n x n: tokens
    fits = (lambda cell: m) if width is None else (lambda cell: fmt.room(width, max(map(len, rows)), cell))
    cell, room_cols, cols = fmt.sized(step, precision, cols, fits, cell_len)
    keep_rows, keep_cols = fmt.kept(marked)  # a worksheet's blanks, and what they are worked from
    show_rows = fmt.shown(n, n if max_rows is None else max_rows, keep_rows)
    show_cols = fmt.shown(m, room_cols, keep_cols)

    title = Text.assemble((step.title, "bold"), "   ", (step.formula, "cyan"))
    caption = Text.assemble((step.id, "green"), f"   {n} × {m}", style="dim")
    if len(show_rows) < n or len(show_cols) < m:
        caption.append("   summarised: --full shows every row and column")
    if not marked and (said := fmt.verdict(step, precision)):  # a classifier's label, unless a worksheet asks it
        caption.append(f"   {said}", style="bold")
    header: Cells = [("", BOLD), *((ELLIPSIS if j is None else cols[j], BOLD) for j in show_cols)]
    heat = step.op.level if step.op.heatmap else None
    body = [
        [(ELLIPSIS if i is None else rows[i], BOLD), *(_cell(value, i, j, precision, heat, marked) for j in show_cols)]
        for i in show_rows
    ]
    # a worksheet's blanks and answers, in brackets: at their line and column in the matrix, if shown
    line, column = ({index: k for k, index in enumerate(shown, start=1)} for shown in (show_rows, show_cols))
    marks = (marked or {}).items()
    bracketed = {(line[i], column[j]) for (i, j), mark in marks if mark.kind.boxed and i in line and j in column}
    return Group(Caption(title), MatrixView([header, *body], cell, bracketed), Caption(caption))


Cells = list[tuple[str, Style | None]]  # a line of a matrix: each cell's text and style
BOLD = Style(bold=True)
BLANK = Style(reverse=True)


def _cell(
    value: np.ndarray,
    i: int | None,
    j: int | None,
    precision: int,
    level: Callable[[float], float] | None,
    marked: Marked | None = None,
) -> tuple[str, Style | None]:
    if i is None or j is None:
        return ELLIPSIS, None
    v = float(value[i, j])
    mark = marked.get((i, j)) if marked else None
    if mark is not None and mark.kind != MarkKind.given:  # a worksheet's blank [n] or its answer in the key
        kind, number = mark  # [0.841] (MatrixView adds the [ ]), left out, or the same as blank n: =[n]
        text = {MarkKind.blank: str(number), MarkKind.key: fmt.number(v, precision), MarkKind.out: "",
                MarkKind.same: f"=[{number}]"}[kind]  # fmt: skip
        return text, BLANK if kind.boxed else None
    return fmt.number(v, precision), None if level is None else _heat(level(v))


class MatrixView:
    """A matrix laid out as Rich lays out a Table with box.SIMPLE_HEAD and no edge (labels on the
    left, numbers right-aligned under their column labels, columns three spaces apart, a rule
    under the header), a line at a time: Rich's Table takes seconds for 300 × 300 numbers.

    lines: the header, then the rows; each a list of (text, style), the row's label first, all
    printable (the tokens through printable).
    A column is at least `cell` wide (its label column: as wide as its widest label).
    bracketed: the (line, column) of the cells drawn in brackets that stand in the gaps beside
    them ("  [0.841]  "), so that the digits stay under their column's."""

    def __init__(self, lines: list[Cells], cell: int, bracketed: Collection[tuple[int, int]] = ()) -> None:
        self.lines = lines
        self.bracketed = bracketed
        self.widths = [max(cell_len(line[k][0]) for line in self.lines) for k in range(len(self.lines[0]))]
        self.widths[1:] = [max(w, cell) for w in self.widths[1:]]
        last = len(self.widths) - 1  # a bracket after the last column stands past its edge
        self.width = sum(self.widths) + 3 * last + any(c == last for _, c in bracketed)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        for k, line in enumerate(self.lines):
            (label, style), *cells = line
            parts = [(label + " " * (self.widths[0] - cell_len(label)), style)]
            hung = False  # after a bracketed cell: its "]" stands in this gap
            for c, ((text, style), width) in enumerate(zip(cells, self.widths[1:], strict=True), start=1):
                gap, pad = " " * (3 - hung), " " * (width - cell_len(text))
                hung = (k, c) in self.bracketed  # its "[" stands in its padding, or in the gap
                parts += [((gap + pad)[1:], None), (f"[{text}]", style)] if hung else [(gap, None), (pad + text, style)]
            # one segment for each run of one style: a plain row is two segments, not 2m + 1
            for style, run in groupby(parts, key=lambda part: part[1]):
                yield Segment("".join(text for text, _ in run), style)
            yield Segment.line()
            if k == 0:
                yield Segment("─" * self.width)
                yield Segment.line()

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        return Measurement(self.width, self.width)


class WorkedLine:
    """A worked line, in italics. Wider than the screen, it breaks before a + − or = between
    terms (outside any parentheses but a sum's own: never inside (x − μ)²), and its next
    lines are indented under the first."""

    def __init__(self, text: str, indent: str = "") -> None:
        self.pieces = _terms(printable(text))
        self.indent = indent

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        lines = [self.indent + self.pieces[0]]
        for piece in self.pieces[1:]:
            if cell_len(lines[-1]) + 1 + cell_len(piece) <= options.max_width:
                lines[-1] += " " + piece
            else:
                lines.append(f"{self.indent}    {piece}")
        yield Text("\n".join(lines), style="italic", overflow="fold")

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        whole = cell_len(self.indent) + cell_len(" ".join(self.pieces))
        return Measurement(min(whole, max(map(cell_len, self.pieces)) + len(self.indent) + 4), whole)


LINE, INSIDE = 4**3, 4**6  # what a caption's line costs, and a break inside each parenthesis


class Caption:
    """A line of a table's caption (a title and its formula; a step's id and shape) that, wider
    than the screen, breaks between terms: at the best spaces on the fewest lines. From best to
    worst: a gap between parts ("   "), the end of a clause (",  ", ", ", ": "), before an =,
    before an operator, any other space, each four times worse than the one before; a line as
    bad as a break before an operator; a break inside parentheses, worse than any of them, and
    the worse the deeper (so never inside sin(pos / 10000^(2i/d)) while a line has room to break
    elsewhere). Of equals, the longest first line."""

    def __init__(self, text: Text) -> None:
        self.text = text
        plain = text.plain
        self.breaks: list[tuple[int, int, int, int]] = []  # each run of spaces within: depth, kind, start, end
        for run in re.finditer(r"(?<=\S) +(?=\S)", plain):
            (k, end), before = run.span(), plain[: run.start()]
            depth = before.count("(") - before.count(")")
            after, clause = plain[end : end + 2], end - k == 2 or plain[k - 1] in ",:"
            kind = 0 if end - k > 2 else 1 if clause else 2 if after == "= " else 3 if after[0] in "+−·/×" else 4
            self.breaks.append((depth, kind, k, end))

    def lines(self, width: int) -> list[tuple[int, int]]:
        """Where each line starts and ends, the spaces at the breaks left out."""
        plain = self.text.plain

        @cache
        def best(start: int) -> tuple[tuple[int, int], list[tuple[int, int]]]:
            # cost: (the breaks and lines weighed, the first line's end negated)
            later = [b for b in self.breaks if b[2] > start]
            if cell_len(plain[start:]) <= width or not later:  # fits, or cannot break: folded
                return (LINE, 0), [(start, len(plain))]
            fits = [b for b in later if cell_len(plain[start : b[2]]) <= width] or later[:1]
            options = []
            for depth, kind, cut, end in fits:
                (weight, _), rest = best(end)
                options.append(((weight + INSIDE * depth + 4**kind + LINE, -cut), [(start, cut), *rest]))
            return min(options)

        return best(0)[1]

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        lines = (self.text[start:end] for start, end in self.lines(options.max_width))
        yield Text("\n", overflow=self.text.overflow).join(lines)

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        plain = self.text.plain
        return Measurement(max(map(cell_len, plain.split()), default=0), cell_len(plain))


def _terms(text: str) -> list[str]:
    """The text cut before each " + ", " − " and " = " at most one parenthesis deep."""
    pieces, start, depth = [], 0, 0
    for k, char in enumerate(text):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth <= 1 and text[k : k + 3] in (" + ", " − ", " = "):
            pieces.append(text[start:k])
            start = k + 1
    return [*pieces, text[start:]]


@lru_cache(maxsize=1024)
def _viridis(rgb: tuple[int, int, int], black: bool) -> Style:
    return Style(color="black" if black else "white", bgcolor=Color.from_rgb(*rgb))


def _heat(weight: float) -> Style:
    """A softmax weight in [0, 1] as a viridis background, with text that stays readable."""
    return _viridis(*fmt.heat(weight))


# Rich's SVG template, with fonts that are installed rather than fetched: the SVG renders
# offline (Rich fixes every line's width with textLength, so any monospace font lines up).
SVG_TEMPLATE = """\
<svg class="rich-terminal" viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg">
    <!-- encoder-cli's terminal view, recorded by Rich -->
    <style>
    .{unique_id}-matrix {{
        font-family: "DejaVu Sans Mono", "Menlo", "Consolas", "Liberation Mono", monospace;
        font-size: {char_height}px;
        line-height: {line_height}px;
        font-variant-east-asian: full-width;
    }}
    .{unique_id}-title {{
        font-size: 18px;
        font-weight: bold;
        font-family: "DejaVu Sans", "Helvetica", "Arial", sans-serif;
    }}
    {styles}
    </style>
    <defs>
    <clipPath id="{unique_id}-clip-terminal">
      <rect x="0" y="0" width="{terminal_width}" height="{terminal_height}" />
    </clipPath>
    {lines}
    </defs>
    {chrome}
    <g transform="translate({terminal_x}, {terminal_y})" clip-path="url(#{unique_id}-clip-terminal)">
    {backgrounds}
    <g class="{unique_id}-matrix">
    {matrix}
    </g>
    </g>
</svg>
"""
