"""A worksheet: the trace with blanks for a student to fill, and nothing that gives them away.

Cell by cell, from the blanks the teacher asks for (cell addresses, as `check` takes them):
- a cell that depends on no blank is shown;
- a cell that a blank needs but that itself depends on a blank becomes a blank too (added, and
  said so);
- any other cell that depends on a blank is left out.
What depends on what is found by the steps' own math: the blanks are made NaN and the whole
trace recomputed; a cell is needed by a blank when making it NaN reaches that blank. Each blank
step also prints the parameters its blanks use (the columns of W_Q, b_Q, γ, β… they read).

A step that passes its one input through unchanged (one head's concat, an attention output with
no W_O, the encoder's output) holds the same numbers as the step it copies: a blank there is the
blank of that step, worked out once, and the copies mark it "same as" rather than count it again.
So does any other cell that holds a blank's number by construction, which would give it away:
- in the blank's step, a cell equal to it bit for bit and worked from the same numbers (cos d5 is
  cos d1: rotate_half's pair shares its angle; c2p[cat, [SEP]] reads the same δ row as c2p[cat, mat]);
- a step equal to the blank's bit for bit, the same op (a later layer's cos table, of the same θ).
Such a copy is shown "=[n]" and stands for blank n: what is worked from it is left out too.
A cell that depends on none of its step's inputs (a weight outside the window: 0 whatever the
scores) is no blank, and a step of only 0s and 1s (a mask) takes none: each cell gives the others away.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from encoder_cli import address, names
from encoder_cli.errors import EncoderError, printable
from encoder_cli.trace import Mark, MarkKind, Step, Trace, plural

SHOWN, BLANK, LEFT_OUT, SAME = 0, 1, 2, 3  # SAME: a copy of a blank, "same as" it
Cell = tuple[str, int, int]  # a step's id, a row, a column


@dataclass(frozen=True)
class Sheet:
    trace: Trace
    cells: dict[str, np.ndarray]  # step id -> [rows, cols] of SHOWN, BLANK, LEFT_OUT or SAME
    added: list[str] = field(default_factory=list)  # the blanks the sheet added, and why
    given_away: list[str] = field(default_factory=list)  # blanks that the rest of their row gives away
    same: dict[str, str] = field(default_factory=dict)  # a pass-through step's id -> the step it copies
    copies: dict[Cell, Cell] = field(default_factory=dict)  # a SAME cell -> the blank whose number it holds
    needed: set[Cell] = field(default_factory=set)  # the cells the blanks are worked from
    copied: dict[str, str] = field(default_factory=dict)  # step id -> the note on its cells that hold a blank's

    def notes(self, shown: Collection[str] | None = None) -> list[str]:
        """What a teacher should know of the sheet: of the steps shown, where the filters keep fewer."""
        return [*self.added, *self.given_away, *(n for x, n in self.copied.items() if shown is None or x in shown)]

    @property
    def steps(self) -> list[Step]:
        """The steps with something to show or fill in, in computation order."""
        return [s for s in self.trace.steps if (self.cells[s.id] != LEFT_OUT).any()]

    def blanks(self) -> list[tuple[Step, int, int]]:
        """Every blank, numbered in this order: by step, then row, then column."""
        return [(s, int(i), int(j)) for s in self.trace.steps for i, j in np.argwhere(self.cells[s.id] == BLANK)]

    def params(self, step: Step) -> dict[str, np.ndarray]:
        """The parameters a step's blanks use: their columns of each weight (a vector's entries)."""
        used = sorted({int(j) for j in np.argwhere(self.cells[step.id] == BLANK)[:, 1]})
        return {name: (p[used] if p.ndim == 1 else p[:, used]) for name, p in step.op.params.items()} if used else {}


def view(
    sheet: Sheet, key: bool = False, kept: Collection[str] | None = None
) -> tuple[list[Step], dict[str, dict[tuple[int, int], Mark]]]:
    """What a page of the sheet shows: its steps, each blank step after the parameter columns its
    blanks use (as small steps of their own), and the marks of the blank, left-out and "same as"
    cells (blanks numbered; in the key, filled in).

    kept: the ids of the steps the filters keep (None: all). A step that holds a blank, and the
    steps a blank step is worked from, are shown whatever the filters: the student needs them."""
    numbers = {(s.id, i, j): n for n, (s, i, j) in enumerate(sheet.blanks(), start=1)}
    blanked = [s for s in sheet.trace.steps if (sheet.cells[s.id] == BLANK).any()]
    wanted = None if kept is None else {*kept, *(s.id for s in blanked), *(k for s in blanked for k in s.inputs)}
    steps: list[Step] = []
    marks: dict[str, dict[tuple[int, int], Mark]] = {}
    for s in sheet.steps:
        if wanted is not None and s.id not in wanted:
            continue
        used = sorted({int(j) for j in np.argwhere(sheet.cells[s.id] == BLANK)[:, 1]})
        for name, p in sheet.params(s).items():  # W_Q[:, used] as d0… x used; b_Q[used] as one row
            rows = (name,) if p.ndim == 1 else sheet.trace.by_id[s.inputs[0]].cols  # W's rows: its input's columns
            title = f"{name}: the columns the blanks use"
            steps.append(replace(s, id=f"{s.id}.{name}", title=title, formula=name, tex=name, value=np.atleast_2d(p),
                                 rows=rows, cols=_columns(s, used), inputs=()))  # fmt: skip
            n, m = steps[-1].value.shape  # every row and column of it is used: a mark in each keeps them all
            marks[steps[-1].id] = {cell: Mark(MarkKind.given) for cell in [*((i, 0) for i in range(n)),
                                                                         *((0, j) for j in range(m))]}  # fmt: skip
        cells = sheet.cells[s.id]
        marked = {(i, j): Mark(MarkKind.given) for t, i, j in sheet.needed if t == s.id and cells[i, j] == SHOWN}
        marked |= {(int(i), int(j)): Mark(MarkKind.out) for i, j in np.argwhere(cells == LEFT_OUT)}
        for i, j in np.argwhere(cells == BLANK):
            marked[(int(i), int(j))] = Mark(MarkKind.key if key else MarkKind.blank, numbers[(s.id, int(i), int(j))])
        if s.id in sheet.same and (cells == SAME).any():  # the same numbers as a blank step's
            s = replace(s, title=f"{s.title}: the same numbers as {sheet.trace.by_id[sheet.same[s.id]].title}")
        for i, j in [] if key else np.argwhere(cells == SAME):  # a blank's number: "=[9]"
            marked[(int(i), int(j))] = Mark(MarkKind.same, numbers[sheet.copies[(s.id, int(i), int(j))]])
        steps.append(s)
        marks[s.id] = marked
    return steps, marks


def _columns(step: Step, used: Sequence[int]) -> tuple[str, ...]:
    """The labels of the parameter columns these of the step's columns use, as the weights file
    counts them: head 1's Q column d0 is W_Q's column d2 (the op's part, [2:4])."""
    part = getattr(step.op, "part", None)  # a head's slice of the file's matrices
    return tuple(f"d{part[0] + j}" if part else step.cols[j] for j in used)


def make(trace: Trace, blanks: Sequence[str]) -> Sheet:
    """The sheet for these blank addresses (a step, a row or a cell each)."""
    cells = {s.id: np.full(s.value.shape, SHOWN, dtype=np.int8) for s in trace.steps}
    same = _pass_throughs(trace)
    for text in blanks:
        where = address.parse(trace, text, parameters=False)
        step = trace.by_id[same.get(where.step.id, where.step.id)]  # a copy's blank is its source's
        if step.op.looked_up:
            raise EncoderError(
                f"{text!r}: {step.id} is looked up from the printed parameters; nothing to work out there",
                argument="blank",
            )
        if np.isin(step.value, (0.0, 1.0)).all():
            raise EncoderError(
                f"{text!r}: {step.id} holds only 0s and 1s, so each of its cells gives the others away; "
                "blank a step that is worked out from numbers",
                argument="blank",
            )
        asked = np.zeros(step.value.shape, dtype=bool)
        asked[slice(None) if where.row is None else where.row, slice(None) if where.col is None else where.col] = True
        asked &= _reached(trace, step)  # a cell no input reaches (a weight outside the window) is no blank
        if not asked.any():
            raise EncoderError(
                f"{text!r}: no input of {step.id} changes it (a weight outside the window is 0 whatever the "
                "scores); nothing to work out: blank a cell worked out from its inputs",
                argument="blank",
            )
        cells[step.id][asked] = BLANK
    added: list[tuple[Step, int, int]] = []
    copies: dict[Cell, Cell] = {}
    while True:  # close: a copy of a blank stands for it; a cell a blank needs that depends on a blank is a blank too
        more_copies = _copies(trace, cells, copies)
        for t, i, j in more_copies:
            cells[t][i, j] = SAME
        copies |= more_copies
        tainted = _depends_on_blanks(trace, cells)
        needed = _needed(trace, cells)
        more = [(s, i, j) for s, i, j in needed if tainted[s.id][i, j] and cells[s.id][i, j] == SHOWN]
        if not more and not more_copies:
            break
        for s, i, j in more:
            cells[s.id][i, j] = BLANK
        added += more
    found = list(copies)  # (the pass-throughs' copies join below)
    given_away: list[str] = []
    for s in trace.steps:  # left out: what depends on a blank but is no blank
        cells[s.id][tainted[s.id] & (cells[s.id] == SHOWN)] = LEFT_OUT
        if s.id in same:  # a copy of a blank is no blank of its own: "same as" it
            for i, j in map(tuple, np.argwhere(np.isin(cells[same[s.id]], (BLANK, SAME))).tolist()):
                cells[s.id][i, j] = SAME
                copies[(s.id, i, j)] = copies.get((same[s.id], i, j), (same[s.id], i, j))
        if s.op.kind == "softmax":
            for r in np.flatnonzero((cells[s.id] == BLANK).sum(axis=1) == 1):
                if (cells[s.id][r] == SHOWN).all(where=cells[s.id][r] != BLANK):
                    given_away.append(f"{s.id}[{s.rows[r]}]: the row's other weights are shown, and a row sums to 1")
    added = [(s, i, j) for s, i, j in added if cells[s.id][i, j] == BLANK]
    said = [_added(trace, step, [(i, j) for t, i, j in added if t.id == step.id])
            for step in trace.steps if any(t.id == step.id for t, _, _ in added)]  # fmt: skip
    copied = {step.id: _copied(trace, step, count) for step in trace.steps
              if (count := sum(t == step.id for t, _, _ in found))}  # fmt: skip
    return Sheet(trace, cells, said, given_away, same, copies, {(s.id, i, j) for s, i, j in needed}, copied)


def _pass_throughs(trace: Trace) -> dict[str, str]:
    """The steps that pass their one input through unchanged, each with the step it copies (the
    first of a chain): found by the op's own math, which gives a probe back as it is."""
    probe = np.random.default_rng(0).standard_normal
    same: dict[str, str] = {}
    for s in trace.steps:
        if len(s.inputs) == 1 and trace.by_id[s.inputs[0]].value.shape == s.value.shape:
            x = probe(s.value.shape)
            with np.errstate(all="ignore"):
                if np.array_equal(s.op(x), x):
                    same[s.id] = same.get(s.inputs[0], s.inputs[0])
    return same


def _added(trace: Trace, step: Step, cells: list[tuple[int, int]]) -> str:
    """The note on blanks a sheet added to a step: 'Encoder input, row cat (X'): 4 more blanks, …'."""
    rows = list(dict.fromkeys(step.rows[i] for i, _ in cells))
    many = len(cells) > 1
    return (
        f"{step.title}, {'rows' if len(rows) > 1 else 'row'} {', '.join(rows)} ({names.name(trace, step.id)}): "
        f"{plural(len(cells), 'more blank')}, since a blank needs {'them' if many else 'it'} and "
        f"{'they need' if many else 'it needs'} a blank"
    )


def _copied(trace: Trace, step: Step, count: int) -> str:
    """The note on a step's cells that hold a blank's number: 'Cosines … (cos): 1 cell equal to a blank …'."""
    return (
        f"{step.title} ({names.name(trace, step.id)}): {plural(count, 'cell')} equal to a blank by construction, "
        f"shown as =[n] (blank n), and what is worked from {'it' if count == 1 else 'them'} left out"
    )


def _depends_on_blanks(trace: Trace, cells: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Which cells of every step a blank reaches: the blanks (and their copies) made NaN, the trace recomputed."""
    values: dict[str, np.ndarray] = {}
    tainted: dict[str, np.ndarray] = {}
    with np.errstate(all="ignore"):
        for s in trace.steps:
            value = s.op(*(values[k] for k in s.inputs)).copy() if s.inputs else s.value.copy()
            value[np.isin(cells[s.id], (BLANK, SAME))] = np.nan
            values[s.id], tainted[s.id] = value, np.isnan(value)
    return tainted


def _probes(trace: Trace, s: Step) -> Iterator[tuple[int, int, int, np.ndarray]]:
    """Each cell of the step's inputs made NaN in turn: which input, its row and column, and which
    of the step's cells it reaches."""
    truths = trace.inputs(s)
    for k in range(len(truths)):
        for i, j in np.ndindex(*truths[k].shape):
            marked = [t if m != k else t.copy() for m, t in enumerate(truths)]
            marked[k][i, j] = np.nan
            with np.errstate(all="ignore"):
                yield k, i, j, np.isnan(s.op(*marked))


def _reached(trace: Trace, s: Step) -> np.ndarray:
    """The cells of a step that some cell of its inputs reaches (all of a step with no inputs)."""
    reached = np.full(s.value.shape, not s.inputs)
    for *_, out in _probes(trace, s):
        reached |= out
    return reached


def _needed(trace: Trace, cells: dict[str, np.ndarray]) -> list[tuple[Step, int, int]]:
    """The input cells the blanks use, each once (X'[cat] is used through Q and through K): each
    made NaN in turn, does it reach a blank?"""
    out: dict[Cell, tuple[Step, int, int]] = {}
    for s in trace.steps:
        blank = cells[s.id] == BLANK
        if blank.any():
            for k, i, j, reached in _probes(trace, s):
                if reached[blank].any():
                    out[(s.inputs[k], i, j)] = (trace.by_id[s.inputs[k]], i, j)
    return list(out.values())


def _copies(trace: Trace, cells: dict[str, np.ndarray], known: dict[Cell, Cell]) -> dict[Cell, Cell]:
    """The shown cells that hold a blank's number by construction, each with that blank (known: the
    copies found so far, which a copied step copies too):
    - of the blank's step, equal to it bit for bit and reached by the same input numbers (the same
      cells, or cells that hold the same numbers: c2p's δ read from two cells of one bucket);
    - of a step equal to the blank's bit for bit, of the same op: the blank's cell and its copies'."""
    found: dict[Cell, Cell] = {}
    for s in trace.steps:
        blank = cells[s.id] == BLANK
        if not blank.any():
            continue
        twins = (cells[s.id] == SHOWN) & np.isin(s.value, s.value[blank])
        if twins.any():
            read: dict[tuple[int, int], list[tuple[int, float]]] = {}  # a cell -> the input numbers it is made from
            inputs = trace.inputs(s)
            for k, i, j, reached in _probes(trace, s):
                for cell in map(tuple, np.argwhere(reached & (twins | blank))):
                    read.setdefault(cell, []).append((k, float(inputs[k][i, j])))
            made = {(float(s.value[b]), tuple(sorted(read.get(b, [])))): b for b in map(tuple, np.argwhere(blank))}
            for i, j in np.argwhere(twins):
                b = made.get((float(s.value[i, j]), tuple(sorted(read.get((i, j), [])))))
                if b is not None:
                    found[(s.id, int(i), int(j))] = (s.id, int(b[0]), int(b[1]))
        stands = np.isin(cells[s.id], (BLANK, SAME))
        for t in trace.steps:
            if t is not s and type(t.op) is type(s.op) and np.array_equal(t.value, s.value):
                for i, j in np.argwhere(stands & (cells[t.id] == SHOWN)):
                    cell = (s.id, int(i), int(j))
                    found[(t.id, int(i), int(j))] = known.get(cell, found.get(cell, cell))
    return found


def ask(decimals: int) -> str:
    """What the sheet asks of every answer under check's --decimals: 'give 2 decimals'."""
    return f"give {plural(decimals, 'decimal')}"


def template(
    sheet: Sheet, check: str = "encoder check SENTENCE ... --answers THIS_FILE", decimals: int | None = None
) -> str:
    """The YAML a student fills in: exactly the blanks, by row where a whole row is blank, `~`
    for each number; it loads as it is (and, untouched, grades as nothing attempted). check: the
    command that grades it; decimals: how many the sheet asks for (check's --decimals)."""
    claimed = "decimals you mean (0.90 claims two)" if decimals is None else (
        f"{plural(decimals, 'decimal')} the sheet asks for (fewer are too coarse)")  # fmt: skip
    lines = [
        "# Answers for the worksheet. Replace each ~ with the number you work out, written with the",
        f"# {claimed}; leave ~ where you did not attempt it. Then:",
        f"#   {printable(check)}",  # escaped: a line break in the sentence would end the comment
        *(f"# Note: {printable(note)}" for note in sheet.added),
    ]
    number = 0
    for s in sheet.steps:
        grid = sheet.cells[s.id] == BLANK
        if not grid.any():
            continue
        lines += ["", f"# {s.title}: {s.formula}  ({s.id})"]
        for i in np.flatnonzero(grid.any(axis=1)):  # keys in the learner's names: PE[cat], Q[cat,d0]
            width = grid.shape[1]
            if grid[i].all() and width > 1:
                row = _quoted(address.named(sheet.trace, s, int(i)))
                lines.append(f"{row}: [{', '.join(['~'] * width)}]  # blanks {number + 1}–{number + width}")
                number += width
                continue
            for j in np.flatnonzero(grid[i]):
                number += 1
                lines.append(f"{_quoted(address.named(sheet.trace, s, int(i), int(j)))}: ~  # blank {number}")
    return "\n".join(lines) + "\n"


def _quoted(key: str) -> str:
    """An address as a YAML key: quoted, since it holds [ ]."""
    return '"' + key.replace("\\", "\\\\").replace('"', '\\"') + '"'
