"""Worked arithmetic: how one number of a step is made from the numbers it is made of,
written in the seed's style:

    Q[The, d0] = (0.200 × 0.100) + (1.400 × 0.200) + (0.800 × 0.900) + (1.600 × 0.800) = 2.300

Each kind of step works its cells out in ops.py; this names the cell and writes the line.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
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
    known = names(tuple(trace.by_id))
    given = trace.inputs(step) if inputs is None else inputs
    called = [min(known[k], _relative(k, step.id), key=len) for k in step.inputs]
    with np.errstate(all="ignore"):  # a worked line never warns: its numbers are the step's own
        worked = step.op.work(Cell(i, j, lambda v: number(float(v), precision), called, row, col), *given)
    text = f"{known[step.id]}[{row}, {col}] = {worked.text} = {number(worked.result, precision)}"
    return Work(step.id, i, j, worked.kind, text, worked.terms, float(worked.result))


@lru_cache(maxsize=4)
def names(ids: tuple[str, ...]) -> dict[str, str]:
    """The name a student writes for each step, which --cell and check also take: the shortest
    end of its id that no other id ends with ('Q', 'norm_1.mean', 'heads.0.output'; in a model
    of two layers 'layers.1.attention.heads.0.Q'). An end starts at a name, not at a number."""
    ends = Counter(end for step_id in ids for end in _ends(step_id)[:-1])
    exact = set(ids)
    return {
        step_id: next(end for end in _ends(step_id) if end == step_id or (end not in exact and ends[end] == 1))
        for step_id in ids
    }


def _ends(step_id: str) -> list[str]:
    """'layers.0.norm_1' -> ['norm_1', 'layers.0.norm_1']: the ends of an id that start with a name."""
    parts = step_id.split(".")
    return [".".join(parts[k:]) for k in range(len(parts) - 1, -1, -1) if not parts[k].isdigit()]


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
