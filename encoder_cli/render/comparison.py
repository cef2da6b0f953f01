"""`encoder compare`'s views: the two sentences briefly (the steps of their traces only when a
filter asks for them), then the comparison's steps, in the terminal, as JSON and as a handout.
Each is explain's own view of the steps (terminal.render, json_doc, page.layout) under facts of
two sentences."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from itertools import islice
from typing import Any, TextIO

from encoder_cli import names
from encoder_cli.compare import Comparison
from encoder_cli.errors import printable
from encoder_cli.render import fmt, json_doc, page, views
from encoder_cli.settings import Pooling
from encoder_cli.trace import Step, Trace

Shown = tuple[Sequence[Step], Sequence[Step]]  # the steps of a's and b's traces shown with the comparison
TITLE = "Two sentences compared"
HOW = {
    Pooling.mean: "the mean of output's rows",
    Pooling.cls: "output's [CLS] row",
    Pooling.max: "the largest value of each column of output",
}


def pooling(c: Comparison) -> str:
    """How the sentences became vectors, and who chose it."""
    if c.declared:
        return f"{HOW[c.pooling]}, as the model's folder declares"
    return f"{HOW[c.pooling]}: the model declares no pooling, so compare mean-pools (sentence-transformers' default)"


def facts(c: Comparison, room: int) -> list[tuple[str, str]]:
    out = [(f"{name} {side}", value) for side, t in (("A", c.a), ("B", c.b))
           for name, value in (("Sentence", repr(t.sentence)), ("Tokens", fmt.tokens(t, room)))]  # fmt: skip
    out += [*fmt.models(c.a), ("Pooling", pooling(c))]
    if c.skipped:
        out.append(("Not diffed", f"{', '.join(c.skipped)}: the two sentences' shapes differ (token counts)"))
    return [(name, printable(value)) for name, value in out]


def write(name: str, c: Comparison, shown: Shown, job: views.Job, out: TextIO) -> None:
    """The comparison in format `name`; shown: the steps of a's and b's traces to show with it
    (none unless a filter asked); job: the comparison's steps and how to show them."""
    if name == "json":
        out.write(json_doc.dumps(document(c, shown, job.precision if job.show_work else None)))
    elif name == "terminal":
        _terminal(c, shown, job, out)
    else:
        from encoder_cli.render import html, latex, markdown

        handout = {"markdown": markdown, "latex": latex, "html": html}[name]
        out.write(handout.render(layout(c, shown, job, handout.width), job.precision))


def document(c: Comparison, shown: Shown, work: int | None) -> dict[str, Any]:
    """docs/json-output.md's comparison: each trace as explain writes it, the steps, the cosine."""
    a, b = (json_doc.document(t, steps, work) for t, steps in zip((c.a, c.b), shown, strict=True))
    own = json_doc.document(c.trace, c.steps, work)["steps"]
    return {"format": 1, "kind": "comparison", "a": a, "b": b, "steps": own, "cosine": c.cosine}


def _terminal(c: Comparison, shown: Shown, job: views.Job, out: TextIO) -> None:
    from rich.rule import Rule
    from rich.table import Table
    from rich.text import Text

    from encoder_cli.render import terminal

    console = views.console(out, job.no_color)
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column()
    for name, value in facts(c, 24):  # broken between items and clauses, as explain's header
        grid.add_row(name, terminal.Caption(Text(value)))
    console.print(grid)
    console.print()
    for side, trace, steps in _parts(c, shown, job):
        if side:
            console.print(Rule(Text(f"Sentence {side}: {printable(repr(trace.sentence))}", style="bold"), style="bold"))
        rows = views.ROWS_OFF_TERMINAL
        parts = terminal.render(trace, steps, precision=job.precision, width=console.width, max_rows=rows,
                                show_work=job.show_work)  # fmt: skip
        for part in islice(parts, 1, None):  # the trace's own header: the facts above say it
            console.print(part)
            console.print()


def layout(c: Comparison, shown: Shown, job: views.Job, width: Callable[[str], int]) -> page.Page:
    """The handout: the facts of both sentences, their steps asked for (headed "Sentence A · …"),
    then the comparison's."""
    sections = []
    for side, trace, steps in _parts(c, shown, job):
        laid = page.layout(trace, steps, job.precision, False, job.show_work, width)
        sections += [replace(s, heading=f"Sentence {side} · {s.heading}") if side else s for s in laid.sections]
    return page.Page(TITLE, facts(c, page.TOKENS), sections)


def _parts(c: Comparison, shown: Shown, job: views.Job) -> Iterator[tuple[str, Trace, Sequence[Step]]]:
    """What is shown, in order: A's steps, B's (those asked for), the comparison's ("" for its side)."""
    for side, trace, steps in (("A", c.a, shown[0]), ("B", c.b, shown[1]), ("", c.trace, job.steps)):
        if steps:
            yield side, trace, steps


def selected(trace: Trace, layer: int | None, head: int | None, patterns: Sequence[str]) -> list[Step]:
    """A trace's steps that a filter keeps; none without one."""
    return names.select(trace, layer, head, patterns) if layer is not None or head is not None or patterns else []
