"""`check`'s views of its reports: the terminal (one student's marked answers, or a whole
class at a glance), JSON, and CSV (one row per answers file, one column per cell).

A carried cell's worked arithmetic uses the student's own numbers; a wrong one's, the truth.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Iterator, Sequence
from typing import Any

from rich import box
from rich.console import RenderableType
from rich.table import Table
from rich.text import Text

from encoder_cli.errors import printable
from encoder_cli.grading import Claim, Report, decimals
from encoder_cli.render import fmt, json_doc, work
from encoder_cli.render.terminal import Caption, Worked
from encoder_cli.trace import Trace, columns, labels

MARKS = {"right": ("✓ right", "green"), "carried": ("→ carried", "yellow"), "wrong": ("✗ wrong", "bold red")}
COUNTS = ("checked", "right", "carried", "wrong", "not_attempted")


def worked(trace: Trace, c: Claim, precision: int) -> work.Work:
    """How the cell is made: from the truth, or (carried, or right from rounded inputs) from the
    student's own input answers."""
    return work.cell(trace, c.step, c.row, c.col, precision, inputs=c.given)


def summary(report: Report) -> Text:
    """'27 checked: 14 right, 7 carried, 6 wrong; 2 not attempted', or why nothing was graded."""
    count = report.summary
    if not count["checked"]:
        return Text(f"nothing attempted ({count['not_attempted']} cells marked ~)", style="bold red")
    text = Text.assemble((f"{count['checked']} checked: ", "bold"))
    for k, verdict in enumerate(("right", "carried", "wrong")):
        style = MARKS[verdict][1] if count[verdict] or verdict == "right" else "green"
        text.append(("" if k == 0 else ", ") + f"{count[verdict]} {verdict}", style=style)
    if count["not_attempted"]:
        text.append(f"; {count['not_attempted']} not attempted")
    return text


def marked(trace: Trace, report: Report, precision: int) -> Iterator[RenderableType]:
    """Per step, each answer with the true value and its verdict; under the table, the worked
    arithmetic of each wrong and carried one; last, the summary."""
    for step in trace.steps:
        claims = [c for c in report.claims if c.step is step]
        if not claims:
            continue
        rows, cols = labels(step.rows), columns(step)
        yield Caption(Text.assemble((step.title, "bold"), "   ", (step.formula, "cyan"), "   ", (step.id, "green")))
        table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
        for name, justify in (("cell", "left"), ("written", "right"), ("true", "right"), ("", "left")):
            table.add_column(name, justify=justify, no_wrap=True)  # type: ignore[arg-type]
        for c in claims:
            true = fmt.number(c.true, max(decimals(c.text), 0) + 2)
            table.add_row(Text(printable(f"[{rows[c.row]}, {cols[c.col]}]")), c.text, true, Text(*MARKS[c.verdict]))
        yield table
        for c in claims:
            if c.verdict != "right":
                line = "  " + worked(trace, c, precision).text
                if c.verdict == "carried":
                    line += f"   (from your {', '.join(dict.fromkeys(b.key for b in c.used))})"  # Worked escapes it
                yield Worked(line.strip(), indent="  ")
        yield Text()
    yield summary(report)


def class_view(reports: Sequence[Report], most: int = 10) -> Iterator[RenderableType]:
    """A whole class: one line per answers file, then the cells most often wrong or carried."""
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    table.add_column("file", no_wrap=True)
    table.add_column("answers")
    for r in reports:
        table.add_row(Text(printable(r.source)), Text(printable(r.errors[0]), style="red") if r.errors else summary(r))
    yield table
    missed = Counter((c.address, c.verdict) for r in reports for c in r.claims if c.verdict != "right")
    if missed:
        yield Text("\nMost often wrong or carried", style="bold")
        cells = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
        for name in ("cell", "wrong", "carried"):
            cells.add_column(name, justify="left" if name == "cell" else "right", no_wrap=True)
        by_cell = Counter(cell for cell, _ in missed.elements())
        for cell, _ in by_cell.most_common(most):
            cells.add_row(Text(cell), str(missed[(cell, "wrong")]), str(missed[(cell, "carried")]))
        yield cells


def document(trace: Trace, report: Report, precision: int) -> dict[str, Any]:
    """One answers file as JSON: every judged number (with `right` against the truth alone and
    its `verdict`), the worked arithmetic of each wrong and carried one, and the summary."""
    answers = []
    for c in report.claims:
        answer: dict[str, Any] = {
            "key": c.key,
            "line": c.line,
            "step": c.step.id,
            "row": c.row,
            "col": c.col,
            "row_label": c.step.rows[c.row],
            "col_label": c.step.cols[c.col],
            "written": c.text,
            "true": c.true,
            "right": c.right,
            "verdict": c.verdict,
        }
        if c.used:
            answer["computed_from"] = [b.address for b in c.used]
            answer["expected"] = c.expected
        if c.verdict != "right":
            answer["work"] = worked(trace, c, precision).json()
        answers.append(answer)
    return json_doc.head(trace) | {"answers": answers, "summary": report.summary}


def files_document(trace: Trace, reports: Sequence[Report], precision: int) -> dict[str, Any]:
    """Several answers files: {"files": [...]}, each file's document with its name (and its
    errors, for a file that could not be graded)."""
    files = []
    for r in reports:
        doc = {"file": r.source} | document(trace, r, precision)
        if r.errors:
            doc["errors"] = r.errors
        files.append(doc)
    return {"files": files}


def table(trace: Trace, reports: Sequence[Report]) -> str:
    """CSV: one row per file (its counts, or why it was not graded), one column per judged cell,
    named STEP_ID[row,col] whatever key the students used, holding its verdict."""
    order = {s.id: k for k, s in enumerate(trace.steps)}
    judged = {(c.step.id, c.row, c.col): c.address for r in reports for c in r.claims}
    cells = [judged[k] for k in sorted(judged, key=lambda k: (order[k[0]], k[1], k[2]))]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["file", *COUNTS, "error", *cells])
    for r in reports:
        verdicts = {c.address: c.verdict for c in r.claims}
        counts = [r.summary[k] for k in COUNTS] if not r.errors else [""] * len(COUNTS)
        writer.writerow([r.source, *counts, " | ".join(r.errors), *(verdicts.get(cell, "") for cell in cells)])
    return out.getvalue()
