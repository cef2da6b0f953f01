"""Cell addresses: `STEP`, `STEP[row]`, `STEP[row,col]`, as --cell and answers files write them.

STEP is any name names.py resolves to one step or parameter (an id, one of the seed's names
such as `X'` or `softmax`, or the end of exactly one id such as `Q`). Rows are token positions
or tokens (`cat`, and for a checkpoint's `␣cat` also `Ġcat`); columns are indices or column
labels (`d0`, `f3`, or a token for n x n steps, named as rows are). Rows that are relative
positions are named by δ: `K_r[-7,d3]` or `K_r[δ=-7,d3]` (a number there is a δ, not a position).
A parameter of one row (b_1, γ) takes its column alone: `b_1[f3]`.
A token that holds brackets, a comma or quotes, or looks like a number, is quoted:
`weights['[CLS]', ',']`, `X["0", d1]` (inside quotes it is always a name, never a position).
Addresses are read in one pass, in time linear in their length.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from encoder_cli import names
from encoder_cli.errors import EncoderError
from encoder_cli.names import quoted
from encoder_cli.trace import Step, Trace, columns, labels

_USAGE = "write a step id, STEP[row] or STEP[row,col], e.g. 'Q[0,0]', 'weights[cat,sat]' or \"Q['[CLS]',d0]\""


@dataclass(frozen=True)
class Address:
    step: Step
    row: int | None  # None: every row
    col: int | None  # None: every column


class _Item(NamedTuple):
    text: str
    quoted: bool


def parse(trace: Trace, text: str, *, parameters: bool = True, suggest: bool = True) -> Address:
    """The step (or, with parameters, the parameter) and the row and column an address names.
    suggest: a did-you-mean for an unknown name (a grader asks it for the first few only)."""
    name, items = _split(text)
    step = names.one(trace, name, parameters=parameters, suggest=suggest)
    cols = columns(step)
    if len(items) == 1 and step.id not in trace.by_id and len(step.rows) == 1:
        items = [_Item(step.rows[0], True), items[0]]  # b_1[f3], b_1[3]: a one-row parameter's column
    by_delta = _relative(step.rows)  # relative positions: a number is a δ, not a position
    row = _index(text, items[0] if items else None, labels(step.rows), _names(trace, step.rows), "row", by_delta)
    col = _index(text, items[1] if len(items) > 1 else None, cols, _names(trace, step.cols), "column")
    if row is not None and col is None and len(cols) == 1:
        col = 0  # a per-token statistic (mean, variance): the row is the cell
    return Address(step, row, col)


def _names(trace: Trace, shown: tuple[str, ...]) -> list[list[str]]:
    """What rows (columns) with these labels may be called: the labels; where they are a checkpoint's
    tokens shown readably, also the tokens (Ġcat) and the words (cat for ␣cat); where they are relative
    positions (δ=-7), also the δ alone (-7)."""
    names = [list(shown)]
    if list(shown) == trace.labels and trace.labels != trace.tokens:
        names += [trace.tokens, [label.removeprefix("␣") for label in trace.labels]]
    if _relative(shown):
        names.append([label.removeprefix("δ=") for label in shown])
    return names


def _relative(shown: tuple[str, ...]) -> bool:
    """Whether these rows are relative positions, labelled δ=-7 … (DeBERTa's K_r, Q_r)."""
    return all(label.startswith("δ=") for label in shown)


def _split(text: str) -> tuple[str, list[_Item]]:
    """'Q[cat, d0]' -> ('Q', [cat, d0]); one pass over the text, quotes honoured."""
    name, bracket, rest = text.partition("[")
    name = name.strip()
    if not name or "]" in name:
        raise EncoderError(f"{quoted(text)}: {_USAGE}")
    if not bracket:
        return name, []
    rest = rest.rstrip()
    if not rest.endswith("]"):
        raise EncoderError(f"{quoted(text)}: the [ is not closed; {_USAGE}")
    inner, items, i = rest[:-1], [], 0
    while True:
        while i < len(inner) and inner[i].isspace():
            i += 1
        if i < len(inner) and inner[i] in "'\"":
            end = inner.find(inner[i], i + 1)
            if end < 0:
                raise EncoderError(f"{quoted(text)}: a quote is not closed; {_USAGE}")
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
            raise EncoderError(f"{quoted(text)}: {_USAGE}")
        i += 1
    if any(not item.text and not item.quoted for item in items):
        raise EncoderError(f"{quoted(text)}: an empty row or column; {_USAGE}")
    return name, items


def cell(trace: Trace, text: str) -> tuple[Step, int, int]:
    """A single cell: STEP[row,col] (or STEP[row] for a per-token statistic, STEP[col] for a bias)."""
    where = parse(trace, text)
    if where.row is None or where.col is None:
        n, m = where.step.value.shape
        raise EncoderError(f"{quoted(text)}: give one cell, {where.step.id}[row,col]; the step is {n} x {m}")
    return where.step, where.row, where.col


def _index(
    text: str, written: _Item | None, shown: list[str], names: list[list[str]], axis: str, by_name: bool = False
) -> int | None:
    """An index from a position (ASCII digits, unquoted; unless by_name), a label as shown, or a name
    (token or column label; the first of the lists of names in which it is found)."""
    if written is None:
        return None
    if not by_name and not written.quoted and written.text.isascii() and written.text.isdigit():
        index = int(written.text[:7])  # (a longer number is out of range whatever it says)
        if len(written.text) > 6 or index >= len(shown):
            raise EncoderError(
                f"{quoted(text)}: {axis} {written.text[:12]} is out of range; "
                f"there are {len(shown)} (0 to {len(shown) - 1})"
            )
        return index
    if written.text in shown:
        return shown.index(written.text)
    found = next(([i for i, name in enumerate(each) if name == written.text] for each in names
                  if written.text in each), [])  # fmt: skip
    if len(found) > 1:
        where = ", ".join(map(str, found))
        raise EncoderError(f"{quoted(text)}: {written.text!r} is at positions {where}; write the position instead")
    if not found:
        more = " …" if len(shown) > 8 else ""
        raise EncoderError(f"{quoted(text)}: no {axis} {written.text!r}; the {axis}s are {', '.join(shown[:8])}{more}")
    return found[0]


def named(trace: Trace, step: Step, row: int, col: int | None = None) -> str:
    """A cell (or a row) as a teacher reads it, and as check takes it back: Q[dog,d0], PE[cat],
    heads.1.Q[the (4),d2] (layer and head only where needed, a position where a token repeats);
    a label that would not read back as itself is quoted."""
    items = [written(labels(step.rows)[row], row)]
    items += [] if col is None else [written(columns(step)[col], col)]
    return f"{names.name(trace, step.id)}[{','.join(items)}]"


def written(label: str, index: int) -> str:
    """A row or column label as an address writes it: quoted when it holds [ ] , or a quote,
    is a number or has spaces at its ends; its position when it holds both quotes."""
    if (
        label
        and not (label.isascii() and label.isdigit())
        and label == label.strip()
        and not set(label) & set("[],'\"")
    ):
        return label
    quote = next((q for q in "'\"" if q not in label), None)
    return f"{quote}{label}{quote}" if quote else str(index)
