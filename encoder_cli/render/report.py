"""`check`'s views of its reports: the terminal (one student's marked answers, or a whole
class at a glance), JSON, and CSV (one row per answers file, one column per cell).

Every view says which rule graded (as written, or --decimals N) and gives each verdict,
"too coarse" and "malformed" included. A carried cell's worked arithmetic uses the student's
own numbers; a wrong one's, the truth, and, when the student's own inputs give another value,
that value too.
"""

from __future__ import annotations

import csv
import io
import os
from collections import Counter
from collections.abc import Iterator, Sequence
from typing import Any

from rich import box
from rich.cells import cell_len
from rich.console import RenderableType
from rich.table import Table
from rich.text import Text

from encoder_cli.address import named
from encoder_cli.errors import printable
from encoder_cli.grading import VERDICTS, Claim, Place, Report, Summary, Verdict, decimals, place_name
from encoder_cli.render import fmt, json_doc, work
from encoder_cli.render.terminal import Caption, WorkedLine
from encoder_cli.trace import Trace, columns, labels, plural

MARKS = {
    Verdict.right: ("✓ right", "green"),
    Verdict.carried: ("→ carried", "yellow"),
    Verdict.wrong: ("✗ wrong", "bold red"),
    Verdict.too_coarse: ("✗ too coarse", "bold magenta"),
    Verdict.malformed: ("✗ malformed", "bold red"),
}
MISSED = (Verdict.wrong, Verdict.too_coarse, Verdict.carried)  # the class view's columns of cells not right
OWN = (Verdict.right, Verdict.carried)  # worked from the student's own inputs


def worked(trace: Trace, c: Claim, precision: int) -> work.Work:
    """How the cell is made: from the student's own input answers when it is carried or right
    from them, otherwise from the truth."""
    return work.cell(trace, c.step, c.row, c.col, precision, inputs=c.given if c.verdict in OWN else None)


def from_own(c: Claim, precision: int) -> str | None:
    """'from your own X'[cat] this is 1.666; you wrote 1.68', for a cell not right whose value from
    the student's own inputs is not the truth: the slip is found where it was made."""
    if c.verdict in OWN or not c.used or fmt.number(c.expected, precision) == fmt.number(c.true, precision):
        return None
    keys = ", ".join(dict.fromkeys(b.key for b in c.used))
    return f"from your own {keys} this is {fmt.number(c.expected, precision)}; you wrote {c.text}"


def rule_line(reports: Sequence[Report]) -> Text:
    """'graded as written', or 'graded with --decimals 2'."""
    rule = str(reports[0].rule)
    return Text(f"graded {'as written' if rule == 'as written' else 'with ' + rule}", style="dim")


def summary(report: Report) -> Text:
    """'27 checked: 14 right, 7 carried, 6 wrong' (then too coarse and malformed, where there
    are any; '; 2 not attempted'), or why nothing was graded."""
    count = report.summary
    if not count.checked and not count.malformed:
        book = report.source.lower().endswith(".xlsx")  # a workbook's blanks are empty cells, not ~
        left = f"{plural(count.not_attempted, 'blank')} left empty" if book else (
            f"{plural(count.not_attempted, 'cell')} marked ~")  # fmt: skip
        return Text(f"nothing attempted ({left})", style="bold red")
    text = Text.assemble((f"{count.checked} checked: ", "bold"))
    shown = zip((*VERDICTS, Verdict.malformed), count[1:-1], strict=True)  # the counts in Summary's order
    for k, (verdict, n) in enumerate(v for v in shown if v[0] in (*OWN, Verdict.wrong) or v[1]):
        style = MARKS[verdict][1] if n or verdict == Verdict.right else "green"
        text.append(("" if k == 0 else ", ") + f"{n} {verdict}", style=style)
    if count.not_attempted:
        text.append(f"; {count.not_attempted} not attempted")
    return text


def marked(trace: Trace, report: Report, precision: int) -> Iterator[RenderableType]:
    """The rule; per step, each answer with the true value and its verdict, and under the table
    the worked arithmetic of each one not right; the malformed entries; last, the summary."""
    yield rule_line([report])  # a workbook's warnings are on stderr, a line each
    yield Text()
    for step in trace.steps:
        claims = [c for c in report.claims if c.step is step]
        if not claims:
            continue
        rows, cols = labels(step.rows), columns(step)
        yield Caption(Text.assemble((step.title, "bold"), "   ", (step.formula, "cyan"), "   ", (step.id, "green")))
        table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
        for heading, justify in (("cell", "left"), ("written", "right"), ("true", "right"), ("", "left")):
            table.add_column(heading, justify=justify, no_wrap=True)  # type: ignore[arg-type]
        for c in claims:
            true = fmt.number(c.true, max(decimals(c.text), 0) + 2)
            table.add_row(Text(printable(f"[{rows[c.row]}, {cols[c.col]}]")), c.text, true, Text(*MARKS[c.verdict]))
        yield table
        for c in claims:
            if c.verdict == Verdict.right:
                continue
            line = "  " + worked(trace, c, precision).text
            if c.verdict == Verdict.carried:
                line += f"   (from your {', '.join(dict.fromkeys(b.key for b in c.used))})"  # WorkedLine escapes it
            yield WorkedLine(line.strip(), indent="  ")
            for more in (from_own(c, precision), report.rule.why(c.text) if c.verdict == Verdict.too_coarse else None):
                if more:
                    yield WorkedLine(more, indent="    ")
        yield Text()
    if report.malformed:
        yield Caption(Text("Malformed entries", style="bold"))
        for m in report.malformed:
            yield WorkedLine(f"✗ malformed   {place_name(m.place)}: {m.message}", indent="  ")
        yield Text()
    yield summary(report)


NAME_ROOM, ANSWERS_ROOM = 40, 24  # a class table's columns keep this much room at least: a longer name wraps


def _folder(sources: Sequence[str]) -> str:
    """The folder every answers file is in, when there are several and they share one ('' otherwise)."""
    try:
        folder = os.path.commonpath([os.path.dirname(s) or "." for s in sources]) if len(sources) > 1 else ""
    except ValueError:  # absolute and relative paths mixed
        return ""
    return "" if folder in ("", ".") else folder


def class_view(trace: Trace, reports: Sequence[Report], most: int = 10) -> Iterator[RenderableType]:
    """A whole class: the rule, one line per answers file, then the cells most often not right."""
    yield rule_line(reports)
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    folder = _folder([r.source for r in reports])
    if folder:  # the class's folder said once, its files named within it
        yield Text(f"files in {printable(folder)}{os.sep}", overflow="fold")
    names = [printable(os.path.relpath(r.source, folder) if folder else r.source) for r in reports]
    # the file (up to NAME_ROOM) and the score stay whole, on one line; the summary (or a long error) wraps
    table.add_column("file", overflow="fold", min_width=min(NAME_ROOM, max(cell_len(n) for n in names)))
    table.add_column("answers", overflow="fold", min_width=ANSWERS_ROOM)
    table.add_column("score", justify="right", no_wrap=True, min_width=len("score"))
    for r, name in zip(reports, names, strict=True):
        answers = summary(r) if r.usable else Text(printable(r.errors[0].removeprefix(f"{r.source}: ")), style="red")
        table.add_row(Text(name), answers, _score(r))
    yield table
    missed: Counter[tuple[str, Verdict]] = Counter(
        (named(trace, c.step, c.row, c.col), c.verdict) for r in reports for c in r.claims if c.verdict != Verdict.right
    )
    if missed:
        yield Text("\nMost often not right", style="bold")
        cells = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
        for heading in ("cell", *MISSED):
            cells.add_column(heading, justify="left" if heading == "cell" else "right", no_wrap=True)
        by_cell = Counter(cell for cell, _ in missed.elements())
        for cell, _ in by_cell.most_common(most):
            cells.add_row(Text(printable(cell)), *(str(missed[(cell, v)]) for v in MISSED))
        yield cells


def _score(report: Report) -> str:
    """(right + carried) / everything asked, as a fraction: '0.778', or '' when nothing was asked."""
    return "" if report.score is None else f"{report.score:.3f}"


def document(trace: Trace, report: Report, precision: int) -> dict[str, Any]:
    """One answers file as JSON: the rule, every judged number (with `right` against the truth
    alone and its `verdict`), the worked arithmetic of each one not right, the malformed
    entries, and the summary."""
    answers = []
    for c in report.claims:
        answer: dict[str, Any] = {
            "key": c.key,
            **_place(c.place),
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
        if c.verdict != Verdict.right:
            answer["work"] = worked(trace, c, precision).json()
        answers.append(answer)
    malformed = [_place(m.place) | {"message": m.message} for m in report.malformed]
    summary = report.summary._asdict() | {"score": report.score}
    return json_doc.head(trace) | {
        "rule": str(report.rule),
        "answers": answers,
        "malformed": malformed,
        **({"warnings": list(report.warnings)} if report.warnings else {}),
        "summary": summary,
    }


def _place(place: Place | None) -> dict[str, Place | None]:
    """Where the JSON says an entry is: {"line": 7} in an answers file, {"cell": "Attention!D12"} in a workbook."""
    return {"cell": place} if isinstance(place, str) else {"line": place}


def files_document(trace: Trace, reports: Sequence[Report], precision: int) -> dict[str, Any]:
    """Several answers files: {"files": [...]}, each file's document with its name."""
    return {"files": [{"file": r.source} | document(trace, r, precision) for r in reports]}


def table(trace: Trace, reports: Sequence[Report]) -> str:
    """CSV: one row per file (its counts and score, the rule, its malformed entries), one column
    per judged cell, named as a teacher reads it whatever key the students used, holding its verdict."""
    order = {s.id: k for k, s in enumerate(trace.steps)}
    judged = {(c.step.id, c.row, c.col): c for r in reports for c in r.claims}
    cells = sorted(judged, key=lambda k: (order[k[0]], k[1], k[2]))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    heads = [k.replace("_", " ") for k in Summary._fields]
    writer.writerow(
        [
            "file",
            *heads,
            "score",
            "rule",
            "malformed entries",
            *(named(trace, judged[k].step, k[1], k[2]) for k in cells),
        ]
    )
    for r in reports:
        verdicts = {c.cell: c.verdict for c in r.claims}
        malformed = " | ".join(
            m.message if m.place is None else f"{place_name(m.place)}: {m.message}" for m in r.malformed
        )
        writer.writerow([r.source, *r.summary, _score(r), str(r.rule), malformed,
                         *(verdicts.get(cell, "") for cell in cells)])  # fmt: skip
    return out.getvalue()
