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

from encoder_cli.ops import Cell
from encoder_cli.render.fmt import number
from encoder_cli.trace import Step, Trace, columns, labels


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
    names = [short(k) for k in step.inputs]
    given = trace.inputs(step) if inputs is None else inputs
    worked = step.op.work(Cell(i, j, lambda v: number(float(v), precision), names, row, col), *given)
    text = f"{short(step.id)}[{row}, {col}] = {worked.text} = {number(worked.result, precision)}"
    return Work(step.id, i, j, worked.kind, text, worked.terms, float(worked.result))


def short(step_id: str) -> str:
    """The name a student writes: 'Q', 'weights', 'norm_1', 'input' ('layers.0.attention.heads.0.Q' -> 'Q')."""
    parts = step_id.split(".")
    if parts[-1] in ("mean", "variance"):
        return f"{parts[-2]}.{parts[-1]}"
    if parts[-1] == "output" and len(parts) > 1:
        return f"{parts[-2]} output"
    return parts[-1]
