"""Grading hand-written answers against the trace, carrying a student's own errors forward.

An answers file is YAML: keys are cell addresses (see address.py), values a number, a row
or a whole matrix, `~` where a cell, a row or a whole step was not attempted:

    PE[1]: [0.84, 0.54, 0.08, 0.99]        # a row
    Q[0,0]: 2.30                           # a cell
    weights[cat,sat]: 0.42
    input: [[0.2, 1.4, 0.8, 1.6], ~, ~]    # a matrix, rows 1 and 2 not attempted
    scores: ~                              # not attempted at all

Each number is judged at the precision it is written with: 0.90 claims two decimals and
is right when the true value rounds to 0.90 (|true - 0.90| <= 0.005); 0.9 claims one.
A tolerance replaces that with |true - written| <= tolerance. An answer that carries no
digit of the value is "too coarse", never right: a written zero (0, 0.00, 0e1, -0e3) for a
value that is not exactly 0, unless the teacher asks for N decimals (--decimals N) and it has
them; with --decimals N, any answer with fewer than N decimals.

Error carried forward, as exam boards mark it: an answer that misses the truth is judged
again against the value its step computes from the student's own answers for its inputs
(the truth where the student gave none). It is
- right when it matches the truth, or matches the value from the student's inputs and every
  input answer it used is right (rounding a right intermediate is no mistake);
- carried when it matches the value from the student's inputs and some of them are wrong
  or carried;
- wrong (or too coarse) otherwise.
Which input answers a cell used is found from the step's own worked arithmetic: each answered
input cell is made NaN, and infinite, in turn, and the cells that lose their value used it.
The cell is worked out from a row or a column of its inputs, never the whole matrix, so that
grading an 8192 x 8192 step copies none of it.

A malformed entry (an unknown step, a cell out of range, a value that is not a number) is a
verdict of its own; the file's other entries are still graded.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
import yaml

from encoder_cli import address
from encoder_cli.errors import EncoderError
from encoder_cli.ops import Cell
from encoder_cli.settings import Choice
from encoder_cli.trace import Step, Trace
from encoder_cli.yaml_safe import Loader, yaml_error

# A number as people write it, in ASCII digits only (float() would take Arabic-Indic digits),
# with a digit before any exponent (`e1` and `.e1` are not numbers).
_WRITTEN = re.compile(
    r"[-+]?(?=\.?[0-9])(?P<whole>[0-9]*)(?:\.(?P<frac>[0-9]*))?(?:[eE](?P<exp>[-+]?[0-9]{1,4}))?", re.ASCII
)
SUGGESTIONS = 5  # a file's first unknown step names get a did-you-mean; the rest are only named
CellKey = tuple[str, int, int]  # (step id, row, col): an answered cell
Place = int | str  # where an answer is written: an answers file's line, or a workbook's cell ("Attention!D12")


class Verdict(Choice):
    """What an answer is judged, written as its value in every view."""

    right = "right"
    carried = "carried"
    wrong = "wrong"
    too_coarse = "too coarse"
    malformed = "malformed"  # an entry, not a number: counted in the summary, never a claim's


VERDICTS = (Verdict.right, Verdict.carried, Verdict.wrong, Verdict.too_coarse)  # a claim's


class Summary(NamedTuple):
    """A report's counts, in the order JSON and CSV write them."""

    checked: int
    right: int
    carried: int
    wrong: int
    too_coarse: int
    malformed: int
    not_attempted: int


@dataclass(frozen=True)
class Answer:
    """One number a student wrote."""

    key: str  # the answers file's key, as written (a workbook's: the cell's name, Q[cat,d0])
    place: Place
    step: Step
    row: int
    col: int
    text: str  # the number as written: "0.90"
    written: float

    @property
    def cell(self) -> CellKey:
        return (self.step.id, self.row, self.col)

    @property
    def address(self) -> str:
        """Its canonical name, whatever key the student used: layers.0.attention.heads.0.Q[1,0]."""
        return f"{self.step.id}[{self.row},{self.col}]"


@dataclass(frozen=True)
class Claim(Answer):
    """An answer and its verdict."""

    true: float
    right: bool  # against the truth alone, at the written precision
    verdict: Verdict  # one of VERDICTS
    expected: float  # the truth, or (when `used`) the value worked from the student's own inputs
    used: tuple[Answer, ...] = ()  # the student's input answers the cell is worked from
    given: list[Any] | None = field(default=None, repr=False)  # those inputs, for the worked arithmetic

    @classmethod
    def of(cls, a: Answer, true: float, right: bool, verdict: Verdict, expected: float, **more: Any) -> Claim:
        return cls(a.key, a.place, a.step, a.row, a.col, a.text, a.written, true, right, verdict, expected, **more)


@dataclass(frozen=True)
class Malformed:
    """An entry that could not be graded: its place (None: the whole file) and what is wrong."""

    place: Place | None
    message: str


def place_name(place: Place | None) -> str:
    """A place as the reports name it: 'line 7', 'Attention!D12', or 'the file'."""
    return "the file" if place is None else f"line {place}" if isinstance(place, int) else place


@dataclass(frozen=True)
class Rule:
    """How a number is judged: at its written precision (or within a tolerance), and too coarse
    when it carries no digit of the value or has fewer decimals than the teacher asked for."""

    tolerance: float | None = None
    decimals: int | None = None  # --decimals N: at least N decimals

    def __post_init__(self) -> None:
        if self.tolerance is not None and not (math.isfinite(self.tolerance) and self.tolerance >= 0):
            raise EncoderError(f"{self.tolerance}: give a number from 0 up", argument="tolerance")

    def __str__(self) -> str:
        """Which rule graded: 'as written', '--decimals 2', '--tolerance 0.01'."""
        given = [f"--{name} {value:g}" for name, value in (("decimals", self.decimals), ("tolerance", self.tolerance))
                 if value is not None]  # fmt: skip
        return ", ".join(given) or "as written"

    def judge(self, text: str, written: float, expected: float) -> Verdict:
        """Right, wrong or too coarse. Right at the written precision: within half a unit
        in the last written place (2.30: 0.005; 1e1: 5), or within the tolerance."""
        places = decimals(text)
        if self.decimals is not None and places < self.decimals:
            return Verdict.too_coarse
        if written == 0 and expected != 0 and self.decimals is None:
            return Verdict.too_coarse  # 0e1 for 2.30 is "within 5", and claims no digit of it
        unit = 0.5 * 10.0 ** -min(max(places, -300), 300)  # 0e400 claims nothing finer than 1e300
        allowed = self.tolerance if self.tolerance is not None else unit
        return Verdict.right if abs(expected - written) <= allowed * (1 + 1e-9) + 1e-12 else Verdict.wrong

    def why(self, text: str) -> str:
        """Why an answer is too coarse."""
        if self.decimals is not None and decimals(text) < self.decimals:
            return f"too coarse: --decimals {self.decimals} asks for {self.decimals} decimals"
        return "too coarse: a written zero is right only for an exact 0"


@dataclass(frozen=True)
class Report:
    source: str
    claims: list[Claim]
    not_attempted: int
    malformed: list[Malformed]  # each entry that could not be graded; the others are
    rule: Rule = Rule()
    usable: bool = True  # False: the file could not be read as answers at all
    warnings: Sequence[str] = ()  # what the reader noticed that a teacher should know (a workbook's edited inputs)

    @property
    def summary(self) -> Summary:
        right, carried, wrong, coarse = (sum(c.verdict == v for c in self.claims) for v in VERDICTS)
        return Summary(len(self.claims), right, carried, wrong, coarse, len(self.malformed), self.not_attempted)

    @property
    def score(self) -> float | None:
        """(right + carried) / (every judged cell, malformed entry and cell not attempted): a
        carried cell earns its mark, as an exam board's error carried forward does."""
        count = self.summary
        asked = count.checked + count.malformed + count.not_attempted
        return (count.right + count.carried) / asked if asked else None

    @property
    def passed(self) -> bool:
        """At least one cell judged, every one right, no entry malformed."""
        return bool(self.claims) and not self.malformed and all(c.verdict == Verdict.right for c in self.claims)

    @property
    def errors(self) -> list[str]:
        """One line per malformed entry: 'file:line: what', or 'file: Sheet!B7: what'."""
        return [m.message if m.place is None else f"{self.where(m.place)}: {m.message}" for m in self.malformed]

    def where(self, place: Place) -> str:
        """'file:7', or 'file: Sheet!B7'."""
        return f"{self.source}:{place}" if isinstance(place, int) else f"{self.source}: {place}"


def decimals(text: str) -> int:
    """How many decimals a written number claims: '0.90' -> 2, '2' -> 0, '1.5e-3' -> 4, '0e1' -> -1."""
    match = _WRITTEN.fullmatch(text)
    if not match:  # pragma: no cover - only called on texts read as numbers
        raise ValueError(text)
    return len(match["frac"] or "") - int(match["exp"] or 0)


def grade_file(
    text: str, source: str, trace: Trace, tolerance: float | None, carry: bool = True, least: int | None = None
) -> Report:
    """The report of one answers file: every valid entry graded, every malformed one listed.
    least: the decimals the teacher asks for (--decimals)."""
    return graded(lambda: (*read(text, source, trace), ()), source, trace, Rule(tolerance, least), carry)


Read = tuple[list[Answer], int, list[Malformed], Sequence[str]]  # answers, cells not attempted, malformed, warnings


def graded(reader: Callable[[], Read], source: str, trace: Trace, rule: Rule, carry: bool) -> Report:
    """The report of what a reader reads; a reader's EncoderError is a file not usable at all."""
    try:
        answers, skipped, malformed, warnings = reader()
    except EncoderError as e:
        return Report(source, [], 0, [Malformed(None, str(e))], rule, usable=False)
    return Report(source, list(_judged(trace, answers, rule, carry)), skipped, malformed, rule, warnings=warnings)


def read(text: str, source: str, trace: Trace) -> tuple[list[Answer], int, list[Malformed]]:
    """The answers, how many cells are marked not attempted, and each malformed entry; raises
    EncoderError for a file that is not a mapping of answers at all."""
    try:
        root = yaml.compose(text, Loader=Loader)
    except yaml.YAMLError as e:
        raise yaml_error(source, e, text) from None
    if not isinstance(root, yaml.MappingNode) or not root.value:
        raise EncoderError(f"{source}: expected a mapping of cell addresses to answers, e.g. 'Q[0,0]: 2.30'")
    answers: list[Answer] = []
    malformed: list[Malformed] = []
    skipped = 0
    answered: dict[CellKey, int] = {}  # each cell once: cell -> line
    for key_node, value_node in root.value:
        line = key_node.start_mark.line + 1
        try:
            if not isinstance(key_node, yaml.ScalarNode):
                raise EncoderError("a key must be a cell address such as 'Q[0,0]' (quote it if it has [ ])")
            key = str(key_node.value)
            where = address.parse(trace, key, parameters=False, suggest=len(malformed) < SUGGESTIONS)
            entry: list[tuple[int, int, Answer | None]] = []  # None: not attempted
            for row, col, node in _cells(where, value_node, key):
                cell = (where.step.id, row, col)
                if cell in answered:
                    label = f"{where.step.rows[row]}, {where.step.cols[col]}"
                    raise EncoderError(f"{key}: the cell [{label}] is answered on line {answered[cell]} too; keep one")
                at = 0 if node is None else node.start_mark.line + 1
                answer = None if node is None else Answer(key, at, where.step, row, col, node.value, _number(node, key))
                entry.append((row, col, answer))
        except EncoderError as e:
            malformed.append(Malformed(line, str(e)))
            continue
        answered |= {(where.step.id, row, col): line for row, col, _ in entry}
        answers += [a for _, _, a in entry if a is not None]
        skipped += sum(a is None for _, _, a in entry)
    return answers, skipped, malformed


def _judged(trace: Trace, answers: list[Answer], rule: Rule, carry: bool) -> Iterator[Claim]:
    """Each answer's verdict, in the file's order; worked out in computation order, so that
    every input's verdict is known before the cells that use it."""
    by_step: dict[str, list[Answer]] = {}
    for a in answers:
        by_step.setdefault(a.step.id, []).append(a)
    verdicts: dict[CellKey, Verdict] = {}
    claims: dict[CellKey, Claim] = {}
    order = {s.id: k for k, s in enumerate(trace.steps)}
    for a in sorted(answers, key=lambda a: (order[a.step.id], a.row, a.col)):
        true = float(a.step.value[a.row, a.col])
        verdict = rule.judge(a.text, a.written, true)
        claim = Claim.of(a, true, verdict == Verdict.right, verdict, true)
        own = _own(trace, a, by_step) if verdict != Verdict.right and carry else None
        if own:  # judged again from the student's own inputs; shown beside the truth if still not right
            used, given, expected = own
            if rule.judge(a.text, a.written, expected) == Verdict.right:
                verdict = Verdict.right if all(verdicts[b.cell] == Verdict.right for b in used) else Verdict.carried
            claim = Claim.of(a, true, False, verdict, expected, used=used, given=given)
        verdicts[a.cell] = claim.verdict
        claims[a.cell] = claim
    return (claims[a.cell] for a in answers)


def _own(
    trace: Trace, a: Answer, by_step: dict[str, list[Answer]]
) -> tuple[tuple[Answer, ...], list[Any], float] | None:
    """The student's answers for a's inputs that its cell uses, those inputs with them written in,
    and the cell worked out from them; None when none of them reaches the cell."""
    step, truths = a.step, trace.inputs(a.step)
    used = tuple(b for k, input_id in enumerate(step.inputs) for b in by_step.get(input_id, [])
                 if _reaches(a, truths, k, b))  # fmt: skip
    if not used:
        return None
    given = [_Patched(t, {(b.row, b.col): b.written for b in used if b.step.id == input_id})
             for t, input_id in zip(truths, step.inputs, strict=True)]  # fmt: skip
    return used, given, _worked(a, given)


def _reaches(a: Answer, truths: list[np.ndarray], k: int, b: Answer) -> bool:
    """Whether input k's cell answered by b is used by a's cell: made NaN, or infinite (which
    max() and ReLU do not pass on as NaN), does a's cell lose its value?"""
    marks = ([_Patched(t, {(b.row, b.col): mark}) if j == k else t for j, t in enumerate(truths)]
             for mark in (math.nan, math.inf))  # fmt: skip
    return any(not math.isfinite(_worked(a, marked)) for marked in marks)


def _worked(a: Answer, inputs: Sequence[Any]) -> float:
    """a's cell worked out from these inputs (NaN where the arithmetic has no value: the square
    root of a negative variance a student wrote)."""
    cell = Cell(a.row, a.col, lambda v: "", a.step.inputs, "", "")
    try:
        with np.errstate(all="ignore"):
            return float(a.step.op.work(cell, *inputs).result)
    except (ArithmeticError, ValueError):
        return math.nan


class _Patched:
    """An input with some cells replaced by a student's numbers, read as a worked cell reads it
    (a cell, a row or a column), without copying the whole matrix."""

    def __init__(self, truth: np.ndarray, cells: dict[tuple[int, int], float]) -> None:
        self.truth, self.cells, self.shape = truth, cells, truth.shape

    def __getitem__(self, key: Any) -> np.ndarray:
        rows, cols = key if isinstance(key, tuple) else (key, slice(None))
        part = np.array(self.truth[rows, cols], dtype=np.float64)  # a copy of what is read
        axes = [range(size)[k] for size, k in zip(self.truth.shape, (rows, cols), strict=True)]  # an index, or a range
        spans = [a if isinstance(a, range) else range(a, a + 1) for a in axes]
        for cell, value in self.cells.items():
            if all(x in span for x, span in zip(cell, spans, strict=True)):
                at = (span.index(x) for x, span, a in zip(cell, spans, axes, strict=True) if isinstance(a, range))
                part[tuple(at)] = value
        return part


def _cells(where: address.Address, node: yaml.Node, key: str) -> list[tuple[int, int, yaml.ScalarNode | None]]:
    """(row, col, number node or None when not attempted) for every cell an answer covers."""
    n, m = where.step.value.shape
    if _null(node):  # the whole address not attempted: Q: ~, Q[cat]: ~
        rows = range(n) if where.row is None else [where.row]
        cols = range(m) if where.col is None else [where.col]
        return [(i, j, None) for i in rows for j in cols]
    if where.row is not None and where.col is not None:
        return [(where.row, where.col, _scalar(node, key, "a number"))]
    if where.row is not None:
        values = _list(node, m, key, f"a row of {m} numbers")
        return [(where.row, j, _scalar(v, key, "a number")) for j, v in enumerate(values)]
    if m == 1 and isinstance(node, yaml.SequenceNode) and all(isinstance(v, yaml.ScalarNode) for v in node.value):
        values = _list(node, n, key, f"{n} numbers, one per token")
        return [(i, 0, _scalar(v, key, "a number")) for i, v in enumerate(values)]
    out: list[tuple[int, int, yaml.ScalarNode | None]] = []
    for i, row in enumerate(_list(node, n, key, f"a {n} x {m} matrix")):
        if _null(row):
            out += [(i, j, None) for j in range(m)]  # a whole row not attempted
            continue
        out += [
            (i, j, _scalar(v, key, "a number")) for j, v in enumerate(_list(row, m, f"{key} row {i}", f"{m} numbers"))
        ]
    return out


def _null(node: yaml.Node) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.tag.endswith(":null")


def _list(node: yaml.Node, length: int, place: str, what: str) -> list[Any]:
    if not isinstance(node, yaml.SequenceNode):
        raise EncoderError(f"{place}: expected {what}")
    if len(node.value) != length:
        raise EncoderError(f"{place}: expected {what}, got {len(node.value)}")
    return list(node.value)


def _scalar(node: yaml.Node, place: str, what: str) -> yaml.ScalarNode | None:
    """The node of one number, or None for ~ (not attempted)."""
    if _null(node):
        return None
    if not isinstance(node, yaml.ScalarNode):
        raise EncoderError(f"{place}: expected {what}, got a list or mapping")
    return node


def _number(node: yaml.ScalarNode, place: str) -> float:
    """A written number: ASCII digits, an exponent of at most 4 digits, finite."""
    text = node.value
    plain = node.tag in (f"tag:yaml.org,2002:{kind}" for kind in ("int", "float", "str")) and not node.style
    if not plain or len(text) > 100 or not _WRITTEN.fullmatch(text):
        raise EncoderError(f"{place}: expected a number, got {text[:40]!r}")
    value = float(text)
    if not math.isfinite(value):
        raise EncoderError(f"{place}: expected a finite number, got {text!r}")
    return value
