"""Grading hand-written answers against the trace.

An answers file is YAML: keys are cell addresses (see address.py), values a number, a row
or a whole matrix, `~` where a cell was not attempted:

    PE[1]: [0.84, 0.54, 0.08, 0.99]        # a row
    Q[0,0]: 2.30                           # a cell
    weights[cat,sat]: 0.42
    input: [[0.2, 1.4, 0.8, 1.6], ~, ~]    # a matrix, rows 1 and 2 not attempted

Each number is judged at the precision it is written with: 0.90 claims two decimals and
is right when the true value rounds to 0.90 (|true - 0.90| <= 0.005); 0.9 claims one.
A tolerance replaces that with |true - written| <= tolerance.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

import yaml

from encoder_cli import address
from encoder_cli.errors import EncoderError
from encoder_cli.trace import Step, Trace
from encoder_cli.weights_file import Loader, yaml_error

_WRITTEN = re.compile(r"[-+]?(?P<whole>\d*)(?:\.(?P<frac>\d*))?(?:[eE](?P<exp>[-+]?\d+))?")


@dataclass(frozen=True)
class Claim:
    """One number a student wrote, and its verdict."""

    key: str  # the answers file's key, as written
    line: int
    step: Step
    row: int
    col: int
    text: str  # the number as written: "0.90"
    written: float
    true: float
    right: bool


@dataclass(frozen=True)
class Report:
    claims: list[Claim]
    not_attempted: int

    @property
    def wrong(self) -> list[Claim]:
        return [c for c in self.claims if not c.right]

    @property
    def summary(self) -> dict[str, int]:
        wrong = len(self.wrong)
        return {
            "checked": len(self.claims),
            "right": len(self.claims) - wrong,
            "wrong": wrong,
            "not_attempted": self.not_attempted,
        }


def decimals(text: str) -> int:
    """How many decimals a written number claims: '0.90' -> 2, '2' -> 0, '1.5e-3' -> 4."""
    match = _WRITTEN.fullmatch(text)
    if not match:  # pragma: no cover - only called on texts YAML read as numbers
        raise ValueError(text)
    return len(match["frac"] or "") - int(match["exp"] or 0)


def judge(text: str, written: float, true: float, tolerance: float | None) -> bool:
    """Right at the written precision (half a unit in the last written place), or within tolerance."""
    allowed = tolerance if tolerance is not None else 0.5 * 10.0 ** -decimals(text)
    return abs(true - written) <= allowed * (1 + 1e-9) + 1e-12


def grade(text: str, source: str, trace: Trace, tolerance: float | None) -> Report:
    try:
        root = yaml.compose(text, Loader=Loader)
    except yaml.YAMLError as e:
        raise yaml_error(source, e) from None
    if not isinstance(root, yaml.MappingNode) or not root.value:
        raise EncoderError(f"{source}: expected a mapping of cell addresses to answers, e.g. 'Q[0,0]: 2.30'")
    claims: list[Claim] = []
    skipped = 0
    answered: dict[tuple[str, int, int], int] = {}  # each cell once: (step, row, col) -> line
    for key_node, value_node in root.value:
        line = key_node.start_mark.line + 1
        key = str(key_node.value)
        if not isinstance(key_node, yaml.ScalarNode):
            raise EncoderError(
                f"{source}:{line}: a key must be a cell address such as 'Q[0,0]' (quote it if it has [ ])"
            )
        try:
            where = address.parse(trace, key)
        except EncoderError as e:
            raise EncoderError(f"{source}:{line}: {e}") from None
        for row, col, node in _cells(where, value_node, f"{source}:{line}: {key}"):
            cell = (where.step.id, row, col)
            if cell in answered:
                label = f"{where.step.rows[row]}, {where.step.cols[col]}"
                raise EncoderError(
                    f"{source}:{line}: {key}: the cell [{label}] is answered on line {answered[cell]} too; keep one"
                )
            answered[cell] = line
            if node is None:
                skipped += 1
                continue
            written = _number(node, f"{source}:{node.start_mark.line + 1}: {key}")
            true = float(where.step.value[row, col])
            right = judge(node.value, written, true, tolerance)
            claims.append(Claim(key, node.start_mark.line + 1, where.step, row, col, node.value, written, true, right))
    return Report(claims, skipped)


def _cells(where: address.Address, node: yaml.Node, place: str) -> list[tuple[int, int, yaml.ScalarNode | None]]:
    """(row, col, number node or None when not attempted) for every cell an answer covers."""
    n, m = where.step.value.shape
    if where.row is not None and where.col is not None:
        return [(where.row, where.col, _scalar(node, place, "a number"))]
    if where.row is not None:
        values = _list(node, m, place, f"a row of {m} numbers")
        return [(where.row, j, _scalar(v, place, "a number")) for j, v in enumerate(values)]
    if m == 1 and isinstance(node, yaml.SequenceNode) and all(isinstance(v, yaml.ScalarNode) for v in node.value):
        values = _list(node, n, place, f"{n} numbers, one per token")
        return [(i, 0, _scalar(v, place, "a number")) for i, v in enumerate(values)]
    out: list[tuple[int, int, yaml.ScalarNode | None]] = []
    for i, row in enumerate(_list(node, n, place, f"a {n} x {m} matrix")):
        if isinstance(row, yaml.ScalarNode) and row.tag.endswith(":null"):
            out += [(i, j, None) for j in range(m)]  # a whole row not attempted
            continue
        out += [
            (i, j, _scalar(v, place, "a number"))
            for j, v in enumerate(_list(row, m, f"{place} row {i}", f"{m} numbers"))
        ]
    return out


def _list(node: yaml.Node, length: int, place: str, what: str) -> list[Any]:
    if not isinstance(node, yaml.SequenceNode):
        raise EncoderError(f"{place}: expected {what}")
    if len(node.value) != length:
        raise EncoderError(f"{place}: expected {what}, got {len(node.value)}")
    return list(node.value)


def _scalar(node: yaml.Node, place: str, what: str) -> yaml.ScalarNode | None:
    """The node of one number, or None for ~ (not attempted)."""
    if isinstance(node, yaml.ScalarNode) and node.tag.endswith(":null"):
        return None
    if not isinstance(node, yaml.ScalarNode):
        raise EncoderError(f"{place}: expected {what}, got a list or mapping")
    return node


def _number(node: yaml.ScalarNode, place: str) -> float:
    text = node.value
    plain = node.tag in (f"tag:yaml.org,2002:{kind}" for kind in ("int", "float", "str")) and not node.style
    if not plain or not _WRITTEN.fullmatch(text) or not any(ch.isdigit() for ch in text):
        raise EncoderError(f"{place}: expected a number, got {text!r}")
    value = float(text)
    if not math.isfinite(value):
        raise EncoderError(f"{place}: expected a finite number, got {text!r}")
    return value
