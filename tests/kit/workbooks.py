"""Worksheet workbooks as `encoder worksheet -f xlsx` writes them (issue #22's contract), written
with XlsxWriter, for the tests of `check --answers student.xlsx`, and filled in as a student would.

The contract: each step's block of value cells, and each parameter's, is a workbook-level defined
name equal to its id; a blank is an empty cell with a fill and the sheet's decimals as its number
format; a hidden sheet `blanks` lists them (number, step, row, col), a hidden sheet `about` says
what made the workbook. Here every stage is a sheet; each block has its title and column labels
above it and its row labels left of it; a parameter comes just before the step that first uses
it; a parameter's cell is a value, a step's a formula with its value stored (as the writer's
embeddings are lookups of the table's rows; in this kit the formula is the number itself); a cell
that depends on a blank is left empty.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import xlsxwriter  # type: ignore[import-untyped]

from encoder_cli import worksheet
from encoder_cli.trace import STAGES, Step, Trace

CellKey = tuple[str, int, int]  # (step id, row, col)


class Formula(NamedTuple):
    """A formula a student typed, with the value a spreadsheet stored ("" for none: a file no
    program calculated; "#DIV/0!" for an error)."""

    text: str
    value: Any = ""


def workbook(
    trace: Trace,
    blanks: Sequence[str],
    decimals: int = 2,
    filled: Mapping[CellKey, Any] | None = None,
    about: Mapping[str, Any] | None = None,
    formats: Mapping[CellKey, str] | None = None,
    edits: Mapping[CellKey, Any] | None = None,
) -> bytes:
    """The worksheet's .xlsx for these blank addresses (as `worksheet --blank` takes them).
    filled: what the student wrote in a blank (a number, a text, a Formula); formats: a blank's
    number format where the student changed it; edits: an input cell (a parameter's, by its id, or
    a looked-up step's) that the student changed; about: the `about` sheet's rows, over the run's."""
    sheet = worksheet.make(trace, list(blanks))
    numbered = {(s.id, i, j): n for n, (s, i, j) in enumerate(sheet.blanks(), start=1)}
    filled, formats, edits = filled or {}, formats or {}, edits or {}
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True})
    bold = book.add_format({"bold": True})
    blank = {}  # number format -> the blank's format: highlighted, at the sheet's decimals
    fixed = "0." + "0" * decimals if decimals else "0"

    def blank_format(num_format: str) -> Any:
        if num_format not in blank:
            blank[num_format] = book.add_format({"bg_color": "#FFF2A8", "border": 1, "num_format": num_format})
        return blank[num_format]

    sheets: dict[int, Any] = {}
    rows: dict[int, int] = {}
    for block, given in _blocks(trace):
        if block.stage not in sheets:
            sheets[block.stage] = book.add_worksheet(f"{block.stage} {STAGES[block.stage]}"[:31])
            rows[block.stage] = 0
        ws, top = sheets[block.stage], rows[block.stage]
        ws.write(top, 0, f"{block.title}   {block.formula}   {block.id}", bold)
        for j, label in enumerate(block.cols):
            ws.write(top + 1, 1 + j, label, bold)
        n, m = block.value.shape
        for i in range(n):
            ws.write(top + 2 + i, 0, block.rows[i], bold)
            for j in range(m):
                key, r, c = (block.id, i, j), top + 2 + i, 1 + j
                mark = worksheet.SHOWN if given else sheet.cells[block.id][i, j]
                value = float(block.value[i, j])
                if key in numbered:
                    _write(ws, r, c, filled.get(key), blank_format(formats.get(key, fixed)))
                elif key in edits:
                    _write(ws, r, c, edits[key], None)
                elif mark == worksheet.SHOWN:  # a parameter a value; a step (X's lookups too) a formula
                    if given:
                        ws.write_number(r, c, value)
                    else:
                        ws.write_formula(r, c, f"={value!r}", None, value)
        first, last = _cell(top + 2, 1), _cell(top + 1 + n, m)
        book.define_name(block.id, f"='{ws.name}'!{first}:{last}")
        rows[block.stage] = top + n + 3
    listed = book.add_worksheet("blanks")
    for j, head in enumerate(("number", "step", "row", "col")):
        listed.write(0, j, head)
    for (step_id, i, j), n in numbered.items():
        listed.write_row(n, 0, [n, step_id, i, j])
    listed.hide()
    facts: dict[str, Any] = {"format": 1, "sentence": trace.sentence, "sentence_b": trace.sentence_b,
                             "decimals": decimals, "kind": "worksheet"} | dict(about or {})  # fmt: skip
    told = book.add_worksheet("about")
    for r, (name, fact) in enumerate((k, v) for k, v in facts.items() if v is not None):
        told.write_row(r, 0, [name, fact])
    told.hide()
    book.close()
    return out.getvalue()


def _blocks(trace: Trace) -> list[tuple[Step, bool]]:
    """The steps in order, each after the parameters it first uses (given: a parameter)."""
    out: list[tuple[Step, bool]] = []
    for step in trace.steps:
        out += [(trace.given(p.id), True) for p in trace.parameters if p.before == step.id]
        out.append((step, False))
    return out


def _write(ws: Any, r: int, c: int, value: Any, fmt: Any) -> None:
    """A cell as the student left it: empty (with its format), a number, a text or a formula."""
    if value is None:
        ws.write_blank(r, c, None, fmt)
    elif isinstance(value, Formula):
        ws.write_formula(r, c, value.text, fmt, value.value)
    elif isinstance(value, str):
        ws.write_string(r, c, value, fmt)
    elif isinstance(value, bool):
        ws.write_boolean(r, c, value, fmt)
    else:
        ws.write_number(r, c, value, fmt)


def _cell(r: int, c: int) -> str:
    """An absolute reference, 0-based in: (2, 1) -> $B$3."""
    return "$" + xlsxwriter.utility.xl_col_to_name(c) + "$" + str(r + 1)


def fill(path: Path, answers: Mapping[CellKey, Any]) -> None:
    """Fill blanks in as a student does in another program: openpyxl loads the workbook and saves it
    with these values typed in (which drops every stored formula value, as openpyxl does)."""
    import openpyxl  # type: ignore[import-untyped]
    from openpyxl.utils import range_boundaries  # type: ignore[import-untyped]

    book = openpyxl.load_workbook(path)
    for (step_id, i, j), value in answers.items():
        ((title, cells),) = book.defined_names[step_id].destinations
        left, top, _, _ = range_boundaries(cells)
        book[title].cell(row=top + i, column=left + j).value = value
    book.save(path)


def with_member(data: bytes, name: str, text: bytes) -> bytes:
    """The workbook with one zip member replaced (or added)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as old, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as new:
        for item in old.infolist():
            if item.filename != name:
                new.writestr(item, old.read(item.filename))
        new.writestr(name, text)
    return out.getvalue()
