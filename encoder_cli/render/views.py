"""The output formats, one row each: the writer, what it needs, whether it may go to a
terminal, its file suffix. explain, worksheet and the Python API choose from this table,
never by a format's name; a new format (xlsx, safetensors) is a row here and its renderer.

A writer writes a job's steps to a text stream. A binary format's row says terminal=False:
it is refused on a terminal (one line naming -o) and written to a pipe or a file, through
the stream's binary buffer (`out.flush()`, then `out.buffer.write(...)`).

Nothing but the standard library and errors.py is imported here: the command line reads the
format names from this table at start-up; a writer imports its renderer (Rich, numpy) when it runs.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, TextIO

from encoder_cli.errors import EncoderError, printable

if TYPE_CHECKING:
    from rich.console import Console

    from encoder_cli.render.page import Page
    from encoder_cli.render.work import Work
    from encoder_cli.trace import Marks, Step, Trace

ROWS_OFF_TERMINAL = 50  # how many rows a matrix may show when stdout is not a terminal
SVG_COLUMNS = 100  # the picture's width without a valid COLUMNS
MAX_COLUMNS = 10_000  # a wider COLUMNS is taken as this: a rule across a stage is that long


class Needs(Enum):
    """What a writer needs besides the steps."""

    STEPS = "the steps alone"  # every number of every step: nothing to summarise, nothing to overview
    CONSOLE = "a console"  # Rich at the terminal's width (COLUMNS), summarised to fit it
    PAGE = "a page"  # page.layout: summarised or split to fit A4


@dataclass(frozen=True)
class Job:
    """What is written: a run's steps, and how."""

    trace: Trace
    steps: Sequence[Step]
    precision: int
    full: bool = False
    show_work: bool = False
    overview: bool = False
    marks: Marks | None = None  # a worksheet's blanks: every row is shown, for its cells are numbered
    title: str | None = None  # a worksheet's; None: the page's own title, none on a console
    asks: Sequence[tuple[str, str]] = ()  # what a worksheet asks of the answers
    no_color: bool = False
    top: int = 5  # words shown of each row of a step over the vocabulary (a masked-LM head's), unless full
    about: Sequence[tuple[str, str]] = ()  # what the run was made from (weights, model, decimals): a workbook keeps it


@dataclass(frozen=True)
class View:
    write: Callable[[Job, TextIO], None]
    needs: Needs
    suffix: str  # of a file in this format
    terminal: bool = True  # False: binary, refused on a terminal
    sheet: bool = False  # draws a worksheet's blanks: worksheet offers it
    cells: Callable[[Trace, Sequence[Work]], str] | None = None  # --cell: the worked cells; None: not offered
    note: Callable[[Sequence[Step]], str | None] | None = None  # what to say on stderr before a byte is written


def write(name: str, job: Job, out: TextIO) -> None:
    """The job in the format `name`, to out."""
    view = VIEWS[name]
    if not view.terminal and out.isatty():
        fix = "give -o FILE, or send stdout to a file or a pipe"
        raise EncoderError(f"{name} writes a binary file, which a terminal cannot show; {fix}", argument="format")
    view.write(job, out)


def names(sheet: bool = False) -> tuple[str, ...]:
    """The formats explain offers (all), or worksheet's (sheet=True), in the table's order."""
    return tuple(name for name, view in VIEWS.items() if view.sheet or not sheet)


def columns() -> int | None:
    """COLUMNS when it is a width: ASCII digits, at least 1 (past 10,000 taken as 10,000). Rich
    would take 0 or Arabic-Indic digits as one, and draw nothing, or a column a line."""
    text = os.environ.get("COLUMNS", "")
    return min(int(text), MAX_COLUMNS) if text.isascii() and text.isdigit() and int(text) > 0 else None


def console(out: TextIO, no_color: bool) -> Console:
    """Rich on out, as wide as COLUMNS, or the terminal, or 80 off one."""
    from rich.console import Console

    class Piped(Console):
        def on_broken_pipe(self) -> None:  # Rich would exit 1: end as every command does, 141
            raise BrokenPipeError

    width = columns()
    if width is None:  # the terminal's, or 80 off one, as Rich measures it without COLUMNS
        try:
            width = os.get_terminal_size(out.fileno()).columns
        except (OSError, ValueError):
            width = 80
    return Piped(file=out, width=width, no_color=True if no_color else None, highlight=False)


def _terminal(job: Job, out: TextIO) -> None:
    _print(job, console(out, job.no_color))


def _svg(job: Job, out: TextIO) -> None:
    """The terminal view recorded as a picture, as wide as the terminal (COLUMNS), or 100 columns off one."""
    from rich.console import Console

    from encoder_cli.render import terminal

    width = columns() or SVG_COLUMNS
    recorder = Console(file=io.StringIO(), record=True, width=width, force_terminal=True, color_system="truecolor")
    recorder.width = _print(job, recorder, svg=True)
    title = f"encoder explain {job.trace.sentence!r}"
    out.write(recorder.export_svg(title=title, code_format=terminal.SVG_TEMPLATE))


def _print(job: Job, console: Console, svg: bool = False) -> int:
    """The terminal view (or its overview) printed on console; the widest line it printed."""
    from rich.console import Group
    from rich.measure import Measurement

    from encoder_cli.render import terminal

    # A matrix fits when one screen shows it whole, with its title and caption.
    max_rows = max(console.height - 6, 9) if console.is_terminal and not svg else ROWS_OFF_TERMINAL
    fit = widest = console.width
    parts = terminal.render(
        job.trace,
        job.steps,
        precision=job.precision,
        width=None if job.full else fit,
        max_rows=None if job.full or job.marks is not None else max_rows,
        show_work=job.show_work,
        marks=job.marks,
        title=job.title,
        asks=job.asks,
        top=job.top,
    )
    for part in terminal.overview(job.trace, job.steps, precision=job.precision) if job.overview else parts:
        if job.full and isinstance(part, Group):  # a matrix prints at its own width, if wider
            console.width = max(fit, Measurement.get(console, console.options.update_width(10**6), part).maximum)
            widest = max(widest, console.width)
        console.print(part, crop=job.marks is None)  # a worksheet's matrix keeps its blanks past the width
        console.print()
        console.width = fit
    return widest


def _json(job: Job, out: TextIO) -> None:
    from encoder_cli.render import json_doc

    chunks = json_doc.chunks(job.trace, job.steps, work_precision=job.precision if job.show_work else None)
    binary = getattr(out, "buffer", None)  # a file or stdout: the UTF-8 as orjson made it
    if binary is None:  # a text stream of its own (a test's)
        out.writelines(bytes(chunk).decode() for chunk in chunks)
        return
    out.flush()
    binary.writelines(chunks)


def _markdown(job: Job, out: TextIO) -> None:
    from encoder_cli.render import markdown

    out.write(markdown.render(layout(job, markdown.width), job.precision))


def _latex(job: Job, out: TextIO) -> None:
    from encoder_cli.render import latex

    out.write(latex.render(layout(job, latex.width), job.precision))


def _html(job: Job, out: TextIO) -> None:
    from encoder_cli.render import html

    out.write(html.render(layout(job, html.width), job.precision))


def layout(job: Job, width: Callable[[str], int]) -> Page:
    """The job's page for a handout; width: how wide a row label prints in it, in digits."""
    from encoder_cli.render import page

    title = page.TITLE if job.title is None else job.title
    return page.layout(job.trace, job.steps, job.precision, job.full, job.show_work, width, job.marks, title,
                       job.asks, job.overview, job.top)  # fmt: skip


def _safetensors(job: Job, out: TextIO) -> None:
    from encoder_cli.render import tensors

    out.flush()  # what the text layer holds goes first
    tensors.write(job.trace, job.steps, out.buffer)


def _xlsx(job: Job, out: TextIO) -> None:
    from encoder_cli.render import xlsx

    out.flush()
    xlsx.write(job.trace, job.steps, job.precision, out.buffer, job.marks, job.about)


def _json_size(steps: Sequence[Step]) -> str | None:
    from encoder_cli.render import json_doc

    if json_doc.size(steps) <= json_doc.LARGE:
        return None
    numbers = sum(s.value.size for s in steps)
    return (f"note: this JSON is about {json_doc.size(steps) / 1e6:,.0f} MB ({numbers:,} numbers); "
            "to write less, keep fewer steps with --layer, --head or --step")  # fmt: skip


def _cells_text(trace: Trace, worked: Sequence[Work]) -> str:
    return "".join(printable(w.text) + "\n" for w in worked)


def _cells_json(trace: Trace, worked: Sequence[Work]) -> str:
    from encoder_cli.render import json_doc

    return json_doc.dumps(json_doc.head(trace) | {"cells": [w.json() for w in worked]})


VIEWS: dict[str, View] = {
    "terminal": View(_terminal, Needs.CONSOLE, ".txt", sheet=True, cells=_cells_text),
    "json": View(_json, Needs.STEPS, ".json", cells=_cells_json, note=_json_size),
    "svg": View(_svg, Needs.CONSOLE, ".svg"),
    "markdown": View(_markdown, Needs.PAGE, ".md", sheet=True),
    "latex": View(_latex, Needs.PAGE, ".tex", sheet=True),
    "html": View(_html, Needs.PAGE, ".html", sheet=True),
    "safetensors": View(_safetensors, Needs.STEPS, ".safetensors", terminal=False),
    "xlsx": View(_xlsx, Needs.STEPS, ".xlsx", terminal=False, sheet=True),
}
