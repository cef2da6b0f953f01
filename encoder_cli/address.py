"""Cell addresses: `STEP`, `STEP[row]`, `STEP[row,col]`, as --cell and answers files write them.

STEP is a step id (`layers.0.attention.heads.0.Q`), one of the seed's names (`X`, `PE`,
`X'`), or the end of exactly one id (`Q`, `weights`, `norm_1.mean` in a one-layer,
one-head model; `heads.1.Q` in a one-layer model). Rows are token positions or tokens
(`cat`); columns are indices or column labels (`d0`, `f3`, or a token for n x n steps).
A token that holds brackets, a comma or quotes, or looks like a number, is quoted:
`weights['[CLS]', ',']`, `X["0", d1]` (inside quotes it is always a name, never a position).
Addresses are read in one pass, in time linear in their length.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import NamedTuple

from encoder_cli.errors import EncoderError
from encoder_cli.trace import Step, Trace, columns, labels

ALIASES = {"X": "embeddings", "PE": "positional", "X'": "input"}
_USAGE = "write a step id, STEP[row] or STEP[row,col], e.g. 'Q[0,0]', 'weights[cat,sat]' or \"Q['[CLS]',d0]\""


@dataclass(frozen=True)
class Address:
    step: Step
    row: int | None  # None: every row
    col: int | None  # None: every column


class _Item(NamedTuple):
    text: str
    quoted: bool


def parse(trace: Trace, text: str, suggest: bool = True) -> Address:
    name, items = _split(text)
    step = find(trace, name, suggest)
    row = _index(text, items[0] if items else None, labels(step.rows), list(step.rows), "row")
    cols = columns(step)
    col = _index(text, items[1] if len(items) > 1 else None, cols, list(step.cols), "column")
    if row is not None and col is None and len(cols) == 1:
        col = 0  # a per-token statistic (mean, variance): the row is the cell
    return Address(step, row, col)


def _split(text: str) -> tuple[str, list[_Item]]:
    """'Q[cat, d0]' -> ('Q', [cat, d0]); one pass over the text, quotes honoured."""
    name, bracket, rest = text.partition("[")
    name = name.strip()
    if not name or "]" in name:
        raise EncoderError(f"{text!r}: {_USAGE}")
    if not bracket:
        return name, []
    rest = rest.rstrip()
    if not rest.endswith("]"):
        raise EncoderError(f"{text!r}: the [ is not closed; {_USAGE}")
    inner, items, i = rest[:-1], [], 0
    while True:
        while i < len(inner) and inner[i].isspace():
            i += 1
        if i < len(inner) and inner[i] in "'\"":
            end = inner.find(inner[i], i + 1)
            if end < 0:
                raise EncoderError(f"{text!r}: a quote is not closed; {_USAGE}")
            items.append(_Item(inner[i + 1 : end], True))
            i = end + 1
            while i < len(inner) and inner[i].isspace():
                i += 1
        else:
            end = inner.find(",", i)
            end = len(inner) if end < 0 else end
            items.append(_Item(inner[i:end].strip(), False))
            i = end
        if i >= len(inner):
            break
        if inner[i] != "," or len(items) == 2:
            raise EncoderError(f"{text!r}: {_USAGE}")
        i += 1
    if any(not item.text and not item.quoted for item in items):
        raise EncoderError(f"{text!r}: an empty row or column; {_USAGE}")
    return name, items


def cell(trace: Trace, text: str) -> tuple[Step, int, int]:
    """A single cell: STEP[row,col] (or STEP[row] for a per-token statistic)."""
    where = parse(trace, text)
    if where.row is None or where.col is None:
        n, m = where.step.value.shape
        raise EncoderError(f"{text!r}: give one cell, {where.step.id}[row,col]; the step is {n} x {m}")
    return where.step, where.row, where.col


def find(trace: Trace, name: str, suggest: bool = True) -> Step:
    """The step a name means: an id, an alias, or the end of exactly one id. suggest=False spares
    the did-you-mean search (a file of many unknown names suggests for the first few only)."""
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
    close = difflib.get_close_matches(name, [*ALIASES, *sorted(short), *steps], n=1) if suggest else []
    hint = f"; did you mean {close[0]!r}?" if close else "; `encoder explain -f json | jq -r '.steps[].id'` lists them"
    raise EncoderError(f"{name!r} is not a step{hint}")


def _index(text: str, written: _Item | None, shown: list[str], names: list[str], axis: str) -> int | None:
    """An index from a position (ASCII digits, unquoted), a label as shown, or a name (token or column label)."""
    if written is None:
        return None
    if not written.quoted and written.text.isascii() and written.text.isdigit():
        index = int(written.text[:7])  # (a longer number is out of range whatever it says)
        if len(written.text) > 6 or index >= len(shown):
            raise EncoderError(
                f"{text!r}: {axis} {written.text[:12]} is out of range; there are {len(shown)} (0 to {len(shown) - 1})"
            )
        return index
    if written.text in shown:
        return shown.index(written.text)
    found = [i for i, name in enumerate(names) if name == written.text]
    if len(found) > 1:
        where = ", ".join(map(str, found))
        raise EncoderError(f"{text!r}: {written.text!r} is at positions {where}; write the position instead")
    if not found:
        more = " …" if len(shown) > 8 else ""
        raise EncoderError(f"{text!r}: no {axis} {written.text!r}; the {axis}s are {', '.join(shown[:8])}{more}")
    return found[0]
