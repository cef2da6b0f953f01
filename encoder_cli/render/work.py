"""Worked arithmetic: how one number of a step is made from the numbers it is made of,
written in the seed's style:

    Q[The, d0] = (0.200 × 0.100) + (1.400 × 0.200) + (0.800 × 0.900) + (1.600 × 0.800) = 2.300

Each kind of step works its cells out in ops.py; this names the cell and writes the line.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from encoder_cli import names
from encoder_cli.ops import Cell
from encoder_cli.render.fmt import number
from encoder_cli.trace import Step, Trace, columns, labels

SAID = ("given", "mask", "masked")  # kinds whose text says why the value is what it is, not arithmetic that ends in it


@dataclass(frozen=True)
class Work:
    step: str  # step id
    row: int
    col: int
    kind: str  # see ops.Worked
    text: str  # the worked line, at the display precision
    terms: list[Any]  # the numbers it is made of (pairs for a dot product), full precision
    result: float  # recomputed from the terms

    def json(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "row": self.row,
            "col": self.col,
            "kind": self.kind,
            "text": self.text,
            "terms": self.terms,
            "result": self.result,
        }


def cell(trace: Trace, step: Step, i: int, j: int, precision: int, inputs: Sequence[np.ndarray] | None = None) -> Work:
    """The worked arithmetic of step.value[i, j], from the trace's inputs or from these."""
    row, col = labels(step.rows)[i], columns(step)[j]
    given = trace.inputs(step) if inputs is None else inputs
    called = [min(names.name(trace, k), _relative(k, step.id), key=len) for k in step.inputs]
    with np.errstate(all="ignore"):  # a worked line never warns: its numbers are the step's own
        worked = step.op.work(Cell(i, j, lambda v: number(float(v), precision), called, row, col), *given)
    value = number(worked.result, precision)
    one_row = step.id not in trace.by_id and len(step.rows) == 1  # a parameter such as b_1: b_1[f0]
    name = f"{names.name(trace, step.id)}[{col if one_row else f'{row}, {col}'}]"
    said = worked.kind in SAID  # the value, then why: mask[cat, mat] = 0.000 (|2 − 6| = 4 > 3: outside the window)
    text = f"{name} = {value} ({worked.text})" if said else f"{name} = {worked.text} = {value}"
    return Work(step.id, i, j, worked.kind, text, worked.terms, float(worked.result))


def first(trace: Trace, step: Step, precision: int) -> Work:
    """The cell a view works out under a step's table: [0, 0], or over a vocabulary the first row's
    best word (its top-k table shows that word, and not the first column)."""
    j = int(np.argmax(step.value[0])) if step.op.vocabulary else 0
    return cell(trace, step, 0, j, precision)


def _relative(step_id: str, within: str) -> str:
    """An input's id as read inside the step that uses it: without the layer and head they share
    ('Q' inside layers.1.attention.heads.0.scores; 'layers.0.norm_2' inside layer 1)."""
    parts, scope = step_id.split("."), within.split(".")
    shared = 0
    while shared < min(len(parts), len(scope)) - 1 and parts[shared] == scope[shared]:
        shared += 1
    while shared and parts[shared].isdigit():
        shared -= 1
    return ".".join(parts[shared:])
