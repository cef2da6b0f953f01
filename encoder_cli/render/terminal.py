"""The terminal view: the seed's story, stage by stage, one Rich table per matrix."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from rich import box
from rich.color import Color
from rich.console import Group, RenderableType
from rich.rule import Rule
from rich.style import Style
from rich.table import Table
from rich.text import Text

from encoder_cli.render import fmt, work
from encoder_cli.trace import ELLIPSIS, Step, Trace, columns, labels

if TYPE_CHECKING:
    from encoder_cli.check import Report


def render(
    trace: Trace,
    steps: Sequence[Step],
    *,
    precision: int,
    width: int | None,
    max_rows: int | None,
    show_work: bool = False,
) -> Iterator[RenderableType]:
    """Header, then per stage a rule and its tables (with their first cell worked out, if
    show_work). width/max_rows None: never summarise."""
    yield _header(trace)
    section = None
    for step in steps:
        if (step.layer, step.stage) != section:
            section = (step.layer, step.stage)
            yield Rule(Text(fmt.heading(step), style="bold"), align="left", style="dim")
        table = _table(step, labels(step.rows), precision, width, max_rows)
        if show_work:
            table.renderables.append(Text(work.cell(trace, step, 0, 0, precision).text, style="italic"))
        yield table


def _header(trace: Trace) -> RenderableType:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column()
    grid.add_row("Sentence", Text(repr(trace.sentence), no_wrap=True, overflow="ellipsis"))
    for name, value in fmt.tokenization(trace, 24):
        grid.add_row(name, Text(value))
    grid.add_row("Tokens", Text(fmt.tokens(trace, 24)))
    grid.add_row("Model", Text(fmt.model(trace)))
    if trace.unknown:
        grid.add_row(Text("Unknown", style="yellow"), Text(fmt.unknown(trace)))
    return grid


def _table(step: Step, rows: list[str], precision: int, width: int | None, max_rows: int | None) -> Group:
    """Title and formula, the matrix, then the step id and shape (own lines: an id is never wrapped)."""
    value = step.value
    n, m = value.shape
    cols = columns(step)  # n x n: tokens
    cell = fmt.cell_width(step, precision)
    room_cols = m if width is None else fmt.room(width, max(map(len, rows)), cell)
    show_rows, show_cols = fmt.shown(n, n if max_rows is None else max_rows), fmt.shown(m, room_cols)

    title = Text.assemble((step.title, "bold"), "   ", (step.formula, "cyan"))
    caption = Text.assemble((step.id, "green"), f"   {n} × {m}", style="dim", no_wrap=True)
    if len(show_rows) < n or len(show_cols) < m:
        caption.append("   summarised: --full shows every row and column")
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    table.add_column("", style="bold", no_wrap=True)
    for j in show_cols:
        table.add_column(Text(ELLIPSIS if j is None else cols[j]), justify="right", no_wrap=True, min_width=cell)
    heat = step.op.kind == "softmax"
    for i in show_rows:
        if i is None:
            table.add_row(ELLIPSIS, *(ELLIPSIS for _ in show_cols))
            continue
        cells: list[Text | str] = [Text(rows[i])]
        for j in show_cols:
            if j is None:
                cells.append(ELLIPSIS)
            else:
                v = float(value[i, j])
                cells.append(Text(fmt.number(v, precision), style=_heat(v) if heat else ""))
        table.add_row(*cells)
    return Group(title, table, caption)


def _heat(weight: float) -> Style:
    """A softmax weight in [0, 1] as a viridis background, with text that stays readable."""
    (r, g, b), black = fmt.heat(weight)
    return Style(color="black" if black else "white", bgcolor=Color.from_rgb(r, g, b))


def report(trace: Trace, graded: Report, precision: int) -> Iterator[RenderableType]:
    """check: per step, each answer with its verdict and the true value; under the table, the
    worked arithmetic of each wrong one; last, a summary."""
    from encoder_cli.check import decimals

    for step in trace.steps:
        claims = [c for c in graded.claims if c.step is step]
        if not claims:
            continue
        rows, cols = labels(step.rows), columns(step)
        yield Text.assemble((step.title, "bold"), "   ", (step.formula, "cyan"), "   ", (step.id, "green"))
        table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
        for name, justify in (("cell", "left"), ("written", "right"), ("true", "right"), ("", "left")):
            table.add_column(name, justify=justify, no_wrap=True)  # type: ignore[arg-type]
        for c in claims:
            true = fmt.number(c.true, max(decimals(c.text), 0) + 2)
            mark = Text("✓ right", style="green") if c.right else Text("✗ wrong", style="bold red")
            table.add_row(Text(f"[{rows[c.row]}, {cols[c.col]}]"), c.text, true, mark)
        yield table
        for c in claims:
            if not c.right:
                yield Text("  " + work.cell(trace, step, c.row, c.col, precision).text, style="italic")
        yield Text()
    count = graded.summary
    summary = Text.assemble(
        (f"{count['checked']} checked: ", "bold"),
        (f"{count['right']} right", "green"),
        ", ",
        (f"{count['wrong']} wrong", "bold red" if count["wrong"] else "green"),
    )
    if count["not_attempted"]:
        summary.append(f"; {count['not_attempted']} not attempted")
    yield summary


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
