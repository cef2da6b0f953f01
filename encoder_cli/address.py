"""Cell addresses: `STEP`, `STEP[row]`, `STEP[row,col]`, as --cell and answers files write them.

STEP is a step id (`layers.0.attention.heads.0.Q`), one of the seed's names (`X`, `PE`,
`X'`), or the end of exactly one id (`Q`, `weights`, `norm_1.mean` in a one-layer,
one-head model; `heads.1.Q` in a one-layer model). Rows are token positions or tokens
(`cat`); columns are indices or column labels (`d0`, `f3`, or a token for n x n steps).
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

from encoder_cli.errors import EncoderError
from encoder_cli.trace import Step, Trace, columns, labels

ALIASES = {"X": "embeddings", "PE": "positional", "X'": "input"}
_ADDRESS = re.compile(r"\s*(?P<step>[^\[\]]+?)\s*(?:\[\s*(?P<row>[^\],]+?)\s*(?:,\s*(?P<col>[^\]]+?)\s*)?\])?\s*")


@dataclass(frozen=True)
class Address:
    step: Step
    row: int | None  # None: every row
    col: int | None  # None: every column


def parse(trace: Trace, text: str) -> Address:
    match = _ADDRESS.fullmatch(text)
    if not match:
        raise EncoderError(
            f"{text!r}: write a step id, STEP[row] or STEP[row,col], e.g. 'Q[0,0]' or 'weights[cat,sat]'"
        )
    step = find(trace, match["step"])
    row = _index(text, match["row"], labels(step.rows), list(step.rows), "row")
    cols = columns(step)
    col = _index(text, match["col"], cols, list(step.cols), "column")
    if row is not None and col is None and len(cols) == 1:
        col = 0  # a per-token statistic (mean, variance): the row is the cell
    return Address(step, row, col)


def cell(trace: Trace, text: str) -> tuple[Step, int, int]:
    """A single cell: STEP[row,col] (or STEP[row] for a per-token statistic)."""
    where = parse(trace, text)
    if where.row is None or where.col is None:
        n, m = where.step.value.shape
        raise EncoderError(f"{text!r}: give one cell, {where.step.id}[row,col]; the step is {n} x {m}")
    return where.step, where.row, where.col


def find(trace: Trace, name: str) -> Step:
    """The step a name means: an id, an alias, or the end of exactly one id."""
    steps = trace.by_id
    name = ALIASES.get(name, name)
    if name in steps:
        return steps[name]
    ends = [s for s in steps if s.endswith("." + name)]
    if len(ends) == 1:
        return steps[ends[0]]
    if ends:
        shown = ", ".join(ends[:4]) + (", …" if len(ends) > 4 else "")
        raise EncoderError(f"{name!r} could be any of {len(ends)} steps ({shown}); write more of the id")
    short = {s.rsplit(".", 1)[-1] for s in steps}
    close = difflib.get_close_matches(name, [*ALIASES, *sorted(short), *steps], n=1)
    hint = f"; did you mean {close[0]!r}?" if close else "; `encoder explain -f json | jq -r '.steps[].id'` lists them"
    raise EncoderError(f"{name!r} is not a step{hint}")


def _index(text: str, written: str | None, shown: list[str], names: list[str], axis: str) -> int | None:
    """An index from a number, a label as shown, or a name (token or column label)."""
    if written is None:
        return None
    if written.isdigit():
        index = int(written)
        if index >= len(shown):
            raise EncoderError(
                f"{text!r}: {axis} {index} is out of range; there are {len(shown)} (0 to {len(shown) - 1})"
            )
        return index
    if written in shown:
        return shown.index(written)
    found = [i for i, name in enumerate(names) if name == written]
    if len(found) > 1:
        where = ", ".join(map(str, found))
        raise EncoderError(f"{text!r}: {written!r} is at positions {where}; write the position instead")
    if not found:
        raise EncoderError(
            f"{text!r}: no {axis} {written!r}; the {axis}s are {', '.join(shown[:8])}{' …' if len(shown) > 8 else ''}"
        )
    return found[0]
