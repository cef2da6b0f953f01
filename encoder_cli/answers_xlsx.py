"""Answers in a workbook: a `worksheet -f xlsx` the student filled in, graded as an answers YAML is.

What the workbook holds (the writer's contract, issue #22):
- each step's block of value cells is a workbook-level defined name equal to its id (`input`,
  `layers.0.attention.heads.0.weights`), row-major as the step's matrix; each parameter the run
  uses likewise (`layers.0.attention.W_Q`);
- a sheet `blanks`: a header row `number, step, row, col`, then one row per blank (n from 1, the
  step id, the row and column from 0); a blank's cell is its step's block at (row, col);
- a sheet `about`: rows of key and value: format (1), sentence, sentence_b, weights or model,
  decimals, kind (explain or worksheet).

A blank's cell holds
- a number: an answer written at its number format's decimals where the format is a fixed one
  ('0.00', as the worksheet leaves it, or a '0.000' the student set), as the cell shows it; in
  any other format (General) at the decimals of the number stored, and a workbook stores 1.30
  as 1.3 (a warning says so);
- nothing: not attempted;
- a formula: its stored value; with none stored (no spreadsheet program calculated the file) the
  entry is malformed;
- text: a number with a decimal comma, "1,34", is read as 1.34 (a warning says so), a number as
  text as it is written; any other text is malformed.
An input cell (a parameter's, or a looked-up step's such as the embeddings) that no longer holds
the run's value is a warning: the answers are graded against the run's numbers.

The file is checked before openpyxl opens it: a zip (not an encrypted or old .xls, which are OLE
files; not an OpenDocument spreadsheet) whose members are not too large or compressed past any
ratio a workbook reaches (a zip bomb). openpyxl parses XML through defusedxml (an entity bomb is
refused), and only the cells the trace's blocks span are read, so that a sheet claiming
XFD1048576, or a name spanning a million cells, costs nothing.
"""

from __future__ import annotations

import contextlib
import io
import math
import re
import warnings
import zipfile
from collections.abc import Callable, Iterator, Sequence
from decimal import ROUND_HALF_UP, Context, Decimal
from typing import Any, NamedTuple

import defusedxml  # type: ignore[import-untyped]
import numpy as np
import openpyxl  # type: ignore[import-untyped]
from openpyxl.utils import get_column_letter, range_boundaries  # type: ignore[import-untyped]

from encoder_cli import address, grading
from encoder_cli.errors import EncoderError
from encoder_cli.grading import Answer, Malformed, Report, Rule
from encoder_cli.trace import Step, Trace, plural

OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # an encrypted .xlsx, or an old .xls
ODS = b"application/vnd.oasis.opendocument.spreadsheet"  # an OpenDocument spreadsheet's mimetype member
MEMBERS = 10_000  # a zip's members
SHEET = 1 << 30  # one worksheet's XML, uncompressed (read as a stream)
PART = 32 << 20  # any other member's (shared strings, styles, the workbook: read whole)
TOTAL = 2 << 30
RATIO = 200  # unpacked / packed, for a member past 1 MiB: a sheet of a million zeros is 11, a zip bomb's 1000
SPREAD = 4  # a sheet's blocks may span this many times the trace's cells (labels, titles, gaps), plus:
SPARE = 1_000_000
SHOWN = 3  # the places a warning names
FIXED = re.compile(r"(?:#,##)?0(?:\.(0+))?")  # a number format of fixed decimals: 0, 0.00, #,##0.000
COMMA = re.compile(r"[-+]?[0-9]*,[0-9]+")  # 1,34: a decimal comma
LOGICAL = re.compile(r"=\s*(TRUE|FALSE)\s*(?:\(\s*\))?\s*", re.IGNORECASE)  # =TRUE(), a logical value
SAVE = "save it from a spreadsheet program as an Excel workbook (.xlsx)"
RELATIVE = 1e-9  # an input cell is edited when it is further than this from the run's value


class Box(NamedTuple):
    """A defined name's block: its sheet and top-left cell (1-based)."""

    sheet: str
    row: int
    col: int

    def place(self, i: int, j: int) -> str:
        """Cell (i, j) of the block, as a spreadsheet names it: Attention!D12, 'Add & Norm'!B3."""
        sheet = self.sheet if re.fullmatch(r"[A-Za-z_]\w*", self.sheet) else "'" + self.sheet.replace("'", "''") + "'"
        return f"{sheet}!{get_column_letter(self.col + j)}{self.row + i}"


class Cell(NamedTuple):
    """What a cell holds: a value (a formula's text, in the formulas pass), its type, its number format."""

    value: Any
    kind: str  # openpyxl's data_type: n, s, f, b, e, d; "" for an empty cell
    format: str


EMPTY = Cell(None, "", "General")


class Pass(NamedTuple):
    """What one pass over a workbook's blocks read."""

    numbers: dict[str, np.ndarray]  # each block's plain numbers; NaN where a cell holds none
    formulas: dict[str, np.ndarray]  # where each block's cells hold formulas
    kept: dict[tuple[str, int, int], Cell]  # the cells asked for whole: (step id, row, col) -> what it holds

    def read(self, name: str, i: int, row: Sequence[Any], keep: set[tuple[str, int, int]]) -> None:
        """Row i of block `name`, its cells as openpyxl read them."""
        for j, cell in enumerate(row):
            if cell.value is None:
                continue
            if cell.data_type == "f":
                self.formulas[name][i, j] = True
            elif cell.data_type == "n" and not isinstance(cell.value, bool):
                value = cell.value  # an int (rare) through its text: one too large for a float is inf
                self.numbers[name][i, j] = value if isinstance(value, float) else float(_text(value))
            if (name, i, j) in keep:
                self.kept[(name, i, j)] = Cell(cell.value, cell.data_type, str(cell.number_format))


def grade(data: bytes, source: str, trace: Trace, rule: Rule, carry: bool, made_with: str | None) -> Report:
    """A workbook's report, as an answers file's; one that cannot be read is a report of that error."""
    return grading.graded(lambda: read(data, source, trace, made_with, rule.decimals), source, trace, rule, carry)


def read(data: bytes, source: str, trace: Trace, made_with: str | None, asked: int | None = None) -> grading.Read:
    """The answers, the blanks not attempted, the malformed blanks and the warnings; raises
    EncoderError for a file that is not a worksheet workbook of this run."""
    _zip_checked(data, source)
    if not openpyxl.DEFUSEDXML:  # OPENPYXL_DEFUSEDXML=False, or defusedxml missing
        raise EncoderError(f"{source}: openpyxl would read it without defusedxml, which refuses entity bombs; "
                           "install defusedxml and leave OPENPYXL_DEFUSEDXML unset")  # fmt: skip
    books: list[Any] = []

    def opened(data_only: bool) -> Any:
        """The workbook read-only, with its formulas, or with their stored values (data_only)."""
        with _openpyxl(source):
            books.append(openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=data_only,
                                                keep_links=False))  # fmt: skip
        return books[-1]

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # openpyxl's on what it does not support: styles, extensions
            return _Reader(source, trace, opened).read(made_with, asked)
    finally:
        for book in books:
            book.close()


@contextlib.contextmanager
def _openpyxl(source: str) -> Iterator[None]:
    """Around openpyxl's reading: any error it raises on a damaged or hostile file is the file's."""
    try:
        yield
    except EncoderError:
        raise
    except Exception as e:
        if any(isinstance(c, defusedxml.DefusedXmlException) for c in _causes(e)):  # load_workbook wraps them
            raise EncoderError(f"{source}: its XML declares entities, which a workbook never needs (an entity "
                               f"bomb?); {SAVE}") from None  # fmt: skip
        what = " ".join(f"{type(e).__name__}: {e}".split())[:120]
        raise EncoderError(f"{source}: not a workbook this can read ({what}); {SAVE}") from None


def _zip_checked(data: bytes, source: str) -> None:
    """Refuse what is not an .xlsx zip before openpyxl opens it: an OLE file, an ODS, a zip bomb."""
    if data.startswith(OLE):
        raise EncoderError(f"{source}: an encrypted or old .xls workbook, which this cannot read; "
                           "save it as an Excel workbook (.xlsx) without a password")  # fmt: skip
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            members = zf.infolist()
            if len(members) > MEMBERS:
                raise EncoderError(f"{source}: a zip of {len(members):,} members, more than a workbook has; {SAVE}")
            for m in members:
                limit = SHEET if m.filename.startswith("xl/worksheets/") else PART
                if m.file_size > limit or (m.file_size > 1 << 20 and m.file_size > RATIO * max(m.compress_size, 1)):
                    raise EncoderError(f"{source}: its member {m.filename!r} unpacks to {m.file_size:,} bytes from "
                                       f"{m.compress_size:,} (a zip bomb?); {SAVE}")  # fmt: skip
            if sum(m.file_size for m in members) > TOTAL:
                raise EncoderError(f"{source}: unpacks to more than {TOTAL >> 30} GiB (a zip bomb?); {SAVE}")
            if "mimetype" in zf.namelist() and zf.read("mimetype").strip() == ODS:
                raise EncoderError(f"{source}: an OpenDocument spreadsheet (.ods) named .xlsx; {SAVE}")
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError, NotImplementedError, RuntimeError):
        raise EncoderError(f"{source}: not an .xlsx workbook (not a zip file); {SAVE}") from None


class _Reader:
    """One workbook, read against one trace: its formulas and values are read in a pass over each
    sheet's blocks, the stored values of formulas in a second pass where there are any."""

    def __init__(self, source: str, trace: Trace, opened: Callable[[bool], Any]) -> None:
        self.source, self.trace, self.opened = source, trace, opened
        self.book = opened(False)  # formulas as written; their stored values only with data_only
        self.names = self.book.defined_names
        self.spans = sum(s.value.size for s in trace.steps)  # the cells the trace's blocks hold
        self.fix: str | None = None  # what the `about` sheet says to run check with, when this run differs

    def read(self, made_with: str | None, least: int | None) -> grading.Read:
        about = self._about(made_with, least)
        blanks = self._blanks()
        inputs = dict(self._inputs())
        steps = {step_id: self.trace.by_id[step_id] for step_id, _, _ in blanks} | inputs
        boxes = {name: self._box(name, step) for name, step in steps.items()}
        first = self._pass(self.book, boxes, set(blanks))  # formulas as written
        computed = {name: box for name, box in boxes.items() if first.formulas[name].any()}
        asked = {b for b in blanks if first.formulas[b[0]][b[1:]]}
        stored = self._pass(self.opened(True), computed, asked) if computed else Pass({}, {}, {})  # their values
        answers: list[Answer] = []
        malformed: list[Malformed] = []
        skipped = 0
        general: list[str] = []  # the places read at the stored number's decimals
        commas: list[tuple[str, str, str]] = []  # text with a decimal comma: its place, the text, as read
        for blank in blanks:
            step_id, i, j = blank
            place = boxes[step_id].place(i, j)
            try:
                cell, value = first.kept.get(blank, EMPTY), stored.kept.get(blank, EMPTY)
                text = self._written(cell, value, general, commas, place)
            except EncoderError as e:
                malformed.append(Malformed(place, str(e)))
                continue
            if text is None:
                skipped += 1
                continue
            step = steps[step_id]
            answers.append(Answer(address.named(self.trace, step, i, j), place, step, i, j, text, float(text)))
        notes = [*about, *self._edited(inputs, boxes, first, stored)]
        if general:
            notes.append("read at the decimals of the number stored, as no fixed-decimals number format is set, "
                         "and a workbook stores 1.30 as 1.3 (format the cells 0.00 to claim two decimals): "
                         f"{_some(general)}")  # fmt: skip
        if commas:
            _, text, number = commas[0]
            more = f" (and {plural(len(commas) - 1, 'more cell')})" if len(commas) > 1 else ""
            notes.append(f"text with a decimal comma read as a number, {text!r} as {number}{more}: "
                         f"{_some([place for place, _, _ in commas])}")  # fmt: skip
        return answers, skipped, malformed, notes

    # --- The sheets `about` and `blanks` ------------------------------------------------------

    def _rows(self, title: str, rows: int, cols: int) -> list[tuple[Any, ...]]:
        """The values of a sheet's first rows and columns."""
        if title not in self.book.sheetnames:
            kind = "a worksheet's" if title == "blanks" else "an encoder workbook's"
            raise EncoderError(f"{self.source}: no sheet {title!r}, which {kind} has; give the workbook "
                               "`encoder worksheet -f xlsx` wrote, filled in")  # fmt: skip
        with _openpyxl(self.source):
            return list(self.book[title].iter_rows(min_row=1, max_row=rows, min_col=1, max_col=cols, values_only=True))

    def _about(self, made_with: str | None, asked: int | None) -> list[str]:
        """What made the workbook, checked against this run: another sentence is an error (the
        answers would be graded against other numbers); other weights by name (or none), and
        --decimals other than the worksheet's, a warning."""
        about = {str(k).strip(): v for k, v in self._rows("about", 50, 2) if k is not None}
        if str(about.get("format")) != "1":
            raise EncoderError(f"{self.source}: a workbook of format {about.get('format')!r}, not 1; "
                               "make it again with this version's `encoder worksheet -f xlsx`")  # fmt: skip
        kind = about.get("kind")
        if kind != "worksheet":
            made = f"a workbook of kind {kind!r}, not a worksheet"
            if kind == "explain":
                made = "made by `encoder explain -f xlsx`, which has no blanks"
            raise EncoderError(f"{self.source}: {made}; give the `encoder worksheet -f xlsx` the student filled in")
        for key, what, ours in (("sentence", "sentence", self.trace.sentence),
                                ("sentence_b", "second sentence", self.trace.sentence_b)):  # fmt: skip
            theirs = about.get(key)
            if (None if theirs is None else str(theirs)) != ours:
                raise EncoderError(f"{self.source}: a worksheet for the {what} {theirs!r}, not {ours!r}; "
                                   f"run check with the {what} the worksheet was made for: {theirs!r}")  # fmt: skip
        notes = []
        decimals = about.get("decimals")
        if asked is not None and decimals not in (None, "") and _index(decimals, 100) != asked:
            notes.append(f"the worksheet asked for {decimals} decimals, and this run grades with --decimals {asked}, "
                         f"so an answer with fewer is too coarse; run check with --decimals {decimals}")  # fmt: skip
        flag, theirs = _made(about)
        if theirs is not None and (made_with is None or _base(str(theirs)) != _base(made_with)):
            self.fix = f"this worksheet was made with {flag} {theirs}; run check with it"
            uses, other = ("the built-in example", "") if made_with is None else (repr(made_with), " if they differ")
            notes.append(f"the worksheet was made with {flag} {str(theirs)!r}, and this run uses {uses}; "
                         f"run check with {flag} {theirs}{other}")  # fmt: skip
        return notes

    def _blanks(self) -> list[tuple[str, int, int]]:
        """Each blank: (step id, row, col), as the `blanks` sheet lists them."""
        rows = iter(self._rows("blanks", self.spans + 1, 4))  # a blank per cell at most
        head = next(rows, None)
        if head is None or [str(h).strip().lower() for h in head] != ["number", "step", "row", "col"]:
            raise EncoderError(f"{self.source}: the sheet 'blanks' does not start with the row "
                               "number, step, row, col; give the workbook as the worksheet wrote it")  # fmt: skip
        out: list[tuple[str, int, int]] = []
        seen: set[tuple[str, int, int]] = set()
        for k, row in enumerate(rows, start=2):
            if all(v is None for v in row):
                continue
            _, step_id, i, j = row  # the blank's number is the student's to read
            where = f"{self.source}: blanks!A{k}"
            step = self.trace.by_id.get(step_id) if isinstance(step_id, str) else None
            if step is None:
                raise EncoderError(f"{where}: names the step {step_id!r}, which this run does not have; "
                                   f"{self.fix or 'was the worksheet made with other weights?'}")  # fmt: skip
            n, m = step.value.shape
            if _index(i, n) is None or _index(j, m) is None:
                raise EncoderError(f"{where}: expected a row below {n} and a column below {m} of {step_id}, "
                                   f"got {i!r}, {j!r}")  # fmt: skip
            blank = (step_id, int(i), int(j))
            if blank in seen:
                raise EncoderError(f"{where}: the blank {step_id}[{i},{j}] is listed twice")
            seen.add(blank)
            out.append(blank)
        return out

    # --- Defined names and cells ---------------------------------------------------------------

    def _inputs(self) -> Iterator[tuple[str, Step]]:
        """The blocks that hold the run's inputs as values: the looked-up steps (the embeddings), and
        each parameter the workbook names, as a step."""
        yield from ((s.id, s) for s in self.trace.steps if s.op.looked_up)
        for p in self.trace.parameters:
            block = self._block(p.id)
            if block is not None and block[1] == (len(p.rows), len(p.cols)):
                yield p.id, self.trace.given(p.id)

    def _box(self, name: str, step: Step) -> Box:
        """A step's (or a parameter's) block, which must have the step's shape."""
        block = self._block(name)
        if block is None or block[1] != step.value.shape:
            got = "missing, or not one block of cells" if block is None else f"{block[1][0]} x {block[1][1]} cells"
            n, m = step.value.shape
            raise EncoderError(f"{self.source}: the defined name {name!r} is {got}, where the step is {n} x {m}; "
                               f"{self.fix or 'was the worksheet made for another sentence or model?'}")  # fmt: skip
        return block[0]

    def _block(self, name: str) -> tuple[Box, tuple[int, int]] | None:
        """A defined name's block and its (rows, columns); None when it is no one block of cells."""
        if name not in self.names:
            return None
        try:
            places = list(self.names[name].destinations)
            if len(places) != 1 or places[0][0] not in self.book.sheetnames:
                return None
            left, top, right, bottom = range_boundaries(places[0][1])
        except Exception:  # openpyxl's formula tokenizer and ranges, on a name that is no range
            return None
        if None in (left, top, right, bottom):  # a whole row or column: A:A, 1:1
            return None
        return Box(places[0][0], top, left), (bottom - top + 1, right - left + 1)

    def _pass(self, book: Any, boxes: dict[str, Box], keep: set[tuple[str, int, int]]) -> Pass:
        """One pass over each sheet's rectangle around these blocks (which may not span more than the
        trace's blocks could need): each block's plain numbers and where its formulas are, and the
        whole of the cells to keep (step id, row, col)."""
        shapes = {name: self._shape(name) for name in boxes}
        found = Pass({n: np.full(shapes[n], np.nan) for n in boxes}, {n: np.zeros(shapes[n], bool) for n in boxes}, {})
        for title in sorted({box.sheet for box in boxes.values()}):
            mine = {name: box for name, box in boxes.items() if box.sheet == title}
            top, bottom = min(b.row for b in mine.values()), max(b.row + shapes[n][0] - 1 for n, b in mine.items())
            left, right = min(b.col for b in mine.values()), max(b.col + shapes[n][1] - 1 for n, b in mine.items())
            needed = self.spans + sum(found.numbers[n].size for n in mine)
            if (bottom - top + 1) * (right - left + 1) > SPREAD * needed + SPARE:
                raise EncoderError(f"{self.source}: its blocks on the sheet {title!r} lie far apart, over "
                                   f"{bottom - top + 1:,} rows and {right - left + 1:,} columns; {SAVE}")  # fmt: skip
            with _openpyxl(self.source):
                rows = book[title].iter_rows(min_row=top, max_row=bottom, min_col=left, max_col=right)
                for r, row in enumerate(rows, start=top):
                    for name, box in mine.items():
                        if box.row <= r < box.row + shapes[name][0]:
                            found.read(name, r - box.row, row[box.col - left : box.col - left + shapes[name][1]], keep)
        return found

    def _shape(self, name: str) -> tuple[int, int]:
        step = self.trace.by_id.get(name) or self.trace.given(name)
        return step.value.shape

    # --- What a cell says -----------------------------------------------------------------------

    def _written(self, cell: Cell, stored: Cell, general: list[str], commas: list[tuple[str, str, str]],
                 place: str) -> str | None:  # fmt: skip
        """A blank's answer as written ("1.30"), or None when it is empty; EncoderError when it
        holds no number."""
        if cell.kind == "f":
            logical = LOGICAL.fullmatch(str(cell.value))
            if logical:  # TRUE typed in, as LibreOffice saves it: =TRUE() with the number 1 stored
                raise EncoderError(f"expected a number, got {logical[1].upper()}")
            if stored.kind == "":
                raise EncoderError("a formula with no stored value: open and save it in a spreadsheet program "
                                   "that calculates, or type the number")  # fmt: skip
            cell = stored._replace(format=cell.format)
        if cell.kind == "":
            return None
        if cell.kind == "s":
            text = str(cell.value).strip()
            if COMMA.fullmatch(text):
                text = text.replace(",", ".")
                commas.append((place, str(cell.value)[:40], text))
            if len(text) > 100 or not grading._WRITTEN.fullmatch(text) or not math.isfinite(float(text)):
                raise EncoderError(f"expected a number, got the text {str(cell.value)[:40]!r}")
            return text
        if cell.kind != "n" or isinstance(cell.value, bool):
            what = {"e": f"the error {cell.value}", "b": f"{cell.value!r}".upper(), "d": "a date"}.get(cell.kind)
            raise EncoderError(f"expected a number, got {what or repr(cell.value)}")
        text = _text(cell.value)  # the shortest that reads back as the number stored: 1.3, 2, 1e-05
        if len(text) > 100 or not math.isfinite(float(text)):
            raise EncoderError(f"expected a finite number, got {text[:40]}")
        fixed = FIXED.fullmatch(cell.format)
        if fixed:  # as the cell shows it: rounded half away from zero, as spreadsheets round
            places = Decimal(1).scaleb(-len(fixed[1] or ""))
            return str(Decimal(text).quantize(places, ROUND_HALF_UP, Context(prec=400)))
        general.append(place)
        return text

    def _edited(self, inputs: dict[str, Step], boxes: dict[str, Box], first: Pass, stored: Pass) -> list[str]:
        """One warning naming the input cells that no longer hold the run's values, if any. A formula
        (X's lookups of the table) is judged by its stored number, and not at all without one."""
        edited: list[tuple[str, int, int, float]] = []
        for name, step in inputs.items():
            values, formulas = first.numbers[name], first.formulas[name]
            if name in stored.numbers:
                values = np.where(formulas, stored.numbers[name], values)
            known = ~formulas | ~np.isnan(values)
            for i, j in np.argwhere(known & ~np.isclose(values, step.value, rtol=RELATIVE, atol=1e-12)):
                edited.append((name, int(i), int(j), float(values[i, j])))
        if not edited:
            return []
        name, i, j, value = edited[0]
        holds = "no number" if math.isnan(value) else f"{value:.6g}"
        more = f" (and {plural(len(edited) - 1, 'more cell')})" if len(edited) > 1 else ""
        return [f"an input cell was edited: {name} at {boxes[name].place(i, j)} holds {holds}, the run's is "
                f"{inputs[name].value[i, j]:.6g}{more}; the answers are graded against the run's numbers"]  # fmt: skip


def made_with(data: bytes, source: str) -> str | None:
    """What a workbook's `about` sheet says it was made with: '-w lesson.yaml', '--model X', or None
    (the built-in example, or no `about` sheet)."""
    _zip_checked(data, source)
    with _openpyxl(source), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, keep_links=False)
        try:
            rows = book["about"].iter_rows(max_row=50, max_col=2, values_only=True) if "about" in book else []
            flag, theirs = _made({str(k).strip(): v for k, v in rows if k is not None})
        finally:
            book.close()
    return None if theirs is None else f"{flag} {theirs}"


def _made(about: dict[str, Any]) -> tuple[str | None, Any]:
    """('-w', its weights) or ('--model', its model) from the `about` sheet's rows; (None, None)."""
    return next(((f, about[k]) for k, f in (("weights", "-w"), ("model", "--model")) if about.get(k)), (None, None))


def _text(value: float) -> str:
    """A stored number as text: an int (openpyxl's for '2') in full, a float as repr writes it."""
    return str(value) if isinstance(value, int) else repr(value)


def _causes(e: BaseException | None) -> Iterator[BaseException]:
    """An exception and those it was raised from or while handling."""
    seen: set[int] = set()
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        yield e
        e = e.__cause__ or e.__context__


def _some(places: list[str]) -> str:
    """'Attention!D12, Attention!E12', or the first three and how many more."""
    more = f" and {len(places) - SHOWN} more" if len(places) > SHOWN else ""
    return ", ".join(places[:SHOWN]) + more


def _index(v: Any, below: int) -> int | None:
    """A whole number from 0 up to below - 1, as a cell holds it (2, or 2.0); None otherwise."""
    if isinstance(v, bool) or not isinstance(v, int | float) or not (0 <= v < below) or v != int(v):
        return None
    return int(v)


def _base(name: str) -> str:
    """A weights file's or model's last name: class.yaml for ./lesson/class.yaml."""
    return name.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]
