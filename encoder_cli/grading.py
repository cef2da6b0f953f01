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
A tolerance replaces that with |true - written| <= tolerance.

Error carried forward, as exam boards mark it: an answer that misses the truth is judged
again against the value its step computes from the student's own answers for its inputs
(the truth where the student gave none). It is
- right when it matches the truth, or matches the value from the student's inputs and every
  input answer it used is right (rounding a right intermediate is no mistake);
- carried when it matches the value from the student's inputs and some of them are wrong
  or carried;
- wrong otherwise.
Which input answers a cell used is found from the step's own math: each answered input cell
is made NaN in turn, and the cells it reaches are the ones that used it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import yaml

from encoder_cli import address
from encoder_cli.errors import EncoderError
from encoder_cli.trace import Step, Trace
from encoder_cli.weights_file import Loader, yaml_error

# A number as people write it, in ASCII digits only (float() would take Arabic-Indic digits).
_WRITTEN = re.compile(r"[-+]?(?P<whole>[0-9]*)(?:\.(?P<frac>[0-9]*))?(?:[eE](?P<exp>[-+]?[0-9]{1,4}))?", re.ASCII)
Cell = tuple[str, int, int]  # (step id, row, col)


@dataclass(frozen=True)
class Answer:
    """One number a student wrote."""

    key: str  # the answers file's key, as written
    line: int
    step: Step
    row: int
    col: int
    text: str  # the number as written: "0.90"
    written: float

    @property
    def cell(self) -> Cell:
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
    verdict: str  # "right", "carried" or "wrong"
    expected: float  # what it was last judged against: the truth, or the value from the student's inputs
    used: tuple[Answer, ...] = ()  # the student's input answers the cell was computed from
    given: list[np.ndarray] | None = field(default=None, repr=False)  # those inputs, for the worked arithmetic

    @classmethod
    def of(cls, a: Answer, true: float, right: bool, verdict: str, expected: float, **more: Any) -> Claim:
        return cls(a.key, a.line, a.step, a.row, a.col, a.text, a.written, true, right, verdict, expected, **more)


@dataclass(frozen=True)
class Report:
    source: str
    claims: list[Claim]
    not_attempted: int
    errors: list[str]  # one line per malformed entry ("file:line: what"); a file with errors is not graded

    @property
    def summary(self) -> dict[str, int]:
        count = {v: sum(c.verdict == v for c in self.claims) for v in ("right", "carried", "wrong")}
        return {"checked": len(self.claims), **count, "not_attempted": self.not_attempted}

    @property
    def passed(self) -> bool:
        """At least one cell judged, and none wrong or carried."""
        return bool(self.claims) and not any(c.verdict != "right" for c in self.claims)


def decimals(text: str) -> int:
    """How many decimals a written number claims: '0.90' -> 2, '2' -> 0, '1.5e-3' -> 4."""
    match = _WRITTEN.fullmatch(text)
    if not match:  # pragma: no cover - only called on texts read as numbers
        raise ValueError(text)
    return len(match["frac"] or "") - int(match["exp"] or 0)


def judge(text: str, written: float, expected: float, tolerance: float | None) -> bool:
    """Right at the written precision (half a unit in the last written place), or within tolerance."""
    places = min(max(decimals(text), -300), 300)  # 0e400 claims nothing finer than 1e300
    allowed = tolerance if tolerance is not None else 0.5 * 10.0**-places
    return abs(expected - written) <= allowed * (1 + 1e-9) + 1e-12


def grade_file(text: str, source: str, trace: Trace, tolerance: float | None, carry: bool = True) -> Report:
    """The report of one answers file. Malformed entries are all listed in report.errors, and
    then nothing is graded."""
    if tolerance is not None and not (math.isfinite(tolerance) and tolerance >= 0):
        raise EncoderError(f"{tolerance}: give a number from 0 up", argument="tolerance")
    answers, skipped, errors = read(text, source, trace)
    if errors:
        return Report(source, [], 0, errors)
    return Report(source, list(_judged(trace, answers, tolerance, carry)), skipped, [])


def read(text: str, source: str, trace: Trace) -> tuple[list[Answer], int, list[str]]:
    """The answers, how many cells are marked not attempted, and every malformed entry."""
    try:
        root = yaml.compose(text, Loader=Loader)
    except yaml.YAMLError as e:
        return [], 0, [str(yaml_error(source, e, text))]
    if not isinstance(root, yaml.MappingNode) or not root.value:
        return [], 0, [f"{source}: expected a mapping of cell addresses to answers, e.g. 'Q[0,0]: 2.30'"]
    answers: list[Answer] = []
    errors: list[str] = []
    skipped = 0
    answered: dict[Cell, int] = {}  # each cell once: cell -> line
    for key_node, value_node in root.value:
        line = key_node.start_mark.line + 1
        try:
            if not isinstance(key_node, yaml.ScalarNode):
                raise EncoderError("a key must be a cell address such as 'Q[0,0]' (quote it if it has [ ])")
            key = str(key_node.value)
            where = address.parse(trace, key, parameters=False)
            for row, col, node in _cells(where, value_node, key):
                cell = (where.step.id, row, col)
                if cell in answered:
                    label = f"{where.step.rows[row]}, {where.step.cols[col]}"
                    raise EncoderError(f"{key}: the cell [{label}] is answered on line {answered[cell]} too; keep one")
                answered[cell] = line
                if node is None:
                    skipped += 1
                    continue
                at = node.start_mark.line + 1
                answers.append(Answer(key, at, where.step, row, col, node.value, _number(node, key)))
        except EncoderError as e:
            errors.append(f"{source}:{line}: {e}")
    return answers, skipped, errors


def _judged(trace: Trace, answers: list[Answer], tolerance: float | None, carry: bool) -> Iterator[Claim]:
    """Each answer's verdict, in the file's order; worked out in computation order, so that
    every input's verdict is known before the cells that use it."""
    by_cell = {a.cell: a for a in answers}
    verdicts: dict[Cell, str] = {}
    claims: dict[Cell, Claim] = {}
    order = {s.id: k for k, s in enumerate(trace.steps)}
    for a in sorted(answers, key=lambda a: (order[a.step.id], a.row, a.col)):
        true = float(a.step.value[a.row, a.col])
        claim = Claim.of(a, true, True, "right", true)
        if not judge(a.text, a.written, true, tolerance):
            carried = _carried(trace, a, true, by_cell, verdicts, tolerance) if carry else None
            claim = carried or Claim.of(a, true, False, "wrong", true)
        verdicts[a.cell] = claim.verdict
        claims[a.cell] = claim
    return (claims[a.cell] for a in answers)


def _carried(
    trace: Trace, a: Answer, true: float, by_cell: dict[Cell, Answer], verdicts: dict[Cell, str], tol: float | None
) -> Claim | None:
    """The answer judged against its step's value from the student's own input answers, or None
    when no input answer reaches it or it does not match."""
    step = a.step
    truths = trace.inputs(step)
    mine = [[b for cell, b in by_cell.items() if cell[0] == input_id] for input_id in step.inputs]
    used = tuple(b for k, bs in enumerate(mine) for b in bs if _reaches(step, truths, k, b, a))
    if not used:
        return None
    given = [t.copy() for t in truths]
    for k, bs in enumerate(mine):
        for b in bs:
            given[k][b.row, b.col] = b.written
    with np.errstate(all="ignore"):
        expected = float(step.op(*given)[a.row, a.col])
    if not math.isfinite(expected) or not judge(a.text, a.written, expected, tol):
        return None
    verdict = "right" if all(verdicts[b.cell] == "right" for b in used) else "carried"
    return Claim.of(a, true, False, verdict, expected, used=used, given=given)


def _reaches(step: Step, truths: list[np.ndarray], k: int, b: Answer, a: Answer) -> bool:
    """Whether input k's cell answered by b is used by step's cell a: made NaN, does it reach a?"""
    marked = [t if j != k else t.copy() for j, t in enumerate(truths)]
    marked[k][b.row, b.col] = np.nan
    with np.errstate(all="ignore"):
        return bool(np.isnan(step.op(*marked)[a.row, a.col]))


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
    if not plain or len(text) > 100 or not _WRITTEN.fullmatch(text) or not any(c.isdigit() for c in text):
        raise EncoderError(f"{place}: expected a number, got {text[:40]!r}")
    value = float(text)
    if not math.isfinite(value):
        raise EncoderError(f"{place}: expected a finite number, got {text!r}")
    return value
