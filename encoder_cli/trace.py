"""Step and Trace: the encoder's intermediate matrices, named and in computation order.

Like micrograd's values, every step records the op that made it (with the weights it used)
and its inputs, so that renderers and the per-cell arithmetic need nothing else. The Tape
records them from the encoder's calls. Step ids are a public contract (the JSON output).
"""

from __future__ import annotations

import copy
import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from functools import cached_property, lru_cache
from typing import Any, NamedTuple

import numpy as np

from encoder_cli.errors import EncoderError
from encoder_cli.ops import Given, Op, Sym
from encoder_cli.settings import MAX_PRINTED, Model
from encoder_cli.spec import Embedded, Source

Array = np.ndarray
ELLIPSIS = "…"
LABEL = 20  # widest token as a row or column label; a longer one is cut: "internationalisatio…"

# The seed's summary table (its steps and their purposes), plus the encoder's output.
STAGES = {
    1: "Tokenization & embedding",
    2: "Positional encoding",
    3: "Multi-head self-attention",
    4: "Add & Norm",
    5: "Feed-forward network",
    6: "Add & Norm",
    7: "Output",
    8: "Similarity",
    9: "Heads",
}
PURPOSES = {
    1: "Convert words to vectors.",
    2: "Add word position information.",
    3: "Let each word attend to all others.",
    4: "Stabilise training.",
    5: "Transform each representation on its own.",
    6: "Further stabilisation.",
    7: "The contextual representations, passed to the next layer or the decoder.",
    8: "How alike two sentences' embeddings are: the cosine of the angle between them.",
    9: "What a task checkpoint's head makes of them: the masked words, or the sentence's label.",
}

_LAYER = re.compile(r"layers\.(\d+)\.")
_HEAD = re.compile(r"\.heads\.(\d+)\.")


@dataclass(frozen=True)
class Step:
    id: str  # "layers.0.attention.heads.0.Q"
    title: str  # "Queries (head 0)"
    formula: str  # "Q = x W_Q"
    tex: str  # the formula in LaTeX, for the handouts: "Q = x\\,W_Q"
    value: Array  # [rows, cols], float64, finite, read-only
    rows: tuple[str, ...]  # tokens
    cols: tuple[str, ...]  # "d0", "f0", tokens, or "mean" / "variance"
    inputs: tuple[str, ...]  # ids of the steps it is computed from
    op: Op  # how it is computed, with the weights it used
    stage: int  # key of STAGES

    @property
    def values(self) -> Array:
        """The step's values (read-only float64), as the JSON document's `values` and the API name them."""
        return self.value

    @property
    def layer(self) -> int | None:
        return layer_of(self.id)

    @property
    def head(self) -> int | None:
        return head_of(self.id)


def layer_of(step_id: str) -> int | None:
    """The layer an id is in: layers.1.ffn.W_1 -> 1; None outside the layers."""
    match = _LAYER.match(step_id)
    return int(match.group(1)) if match else None


def head_of(step_id: str) -> int | None:
    """The head an id belongs to: layers.0.attention.heads.1.Q -> 1; None for no one head."""
    match = _HEAD.search(step_id)
    return int(match.group(1)) if match else None


class Param(NamedTuple):
    """A parameter a run used (W_Q, b_1, γ, the embedding rows...; see parameters.py), read when
    asked for. Views show it as a step, just before the step that first uses it."""

    id: str  # "layers.0.attention.W_Q"
    title: str
    formula: Sym
    rows: tuple[str, ...]
    cols: tuple[str, ...]
    stage: int
    before: str  # the id of the step that first uses it
    read: Callable[[], Array]  # its values [rows, cols], float64


class MarkKind(Enum):
    """How a worksheet shows a cell that is not its number."""

    blank = "blank"  # a box to fill in, numbered
    key = "key"  # the blank filled in: the teacher's key
    out = "out"  # left out: it depends on a blank and no blank needs it
    same = "same"  # a copy of a blank (a pass-through's, or a cell that holds its number): "=[n]"
    given = "given"  # a number a blank is worked from: shown as it is, and never summarised away

    @property
    def boxed(self) -> bool:
        return self in (MarkKind.blank, MarkKind.key)


class Mark(NamedTuple):
    """A worksheet's cell on the page (worksheet.view marks them; each renderer draws them)."""

    kind: MarkKind
    n: int = 0  # the blank's number, or for `same` the number of the blank it copies


Marked = Mapping[tuple[int, int], Mark]  # a step's marked cells: (i, j) -> its mark
Marks = Mapping[str, Marked]  # by step id


@dataclass(frozen=True)
class Trace:
    sentence: str
    model: Model  # the settings that shaped the numbers, as the JSON document's "model"
    steps: list[Step]
    embedded: Embedded  # stage 1: the tokens; with a checkpoint, also the words, their pieces and the ids
    source: Source | None = None  # where the weights came from: a checkpoint's folder
    parameters: Sequence[Param] = ()  # what the steps used, in the order they are shown
    held: int = 0  # the numbers the run holds (weights and steps): parameters asked for count on top
    sentence_b: str | None = None  # a sentence pair's second sentence (a checkpoint's pair template)
    differs: tuple[tuple[str, str], ...] = ()  # what the model does differently from the seed (Spec.differs)

    @property
    def tokens(self) -> list[str]:
        """The tokens, as the model's tokenizer writes them (Ġcat, ##ing, [CLS])."""
        return self.embedded.tokens

    @property
    def labels(self) -> list[str]:
        """The tokens as the views show them, the rows' labels (␣cat for Ġcat)."""
        return self.embedded.labels or self.embedded.tokens

    @property
    def unknown(self) -> list[int]:
        """The positions that used the [UNK] embedding."""
        return self.embedded.unknown

    @cached_property
    def by_id(self) -> dict[str, Step]:
        return {s.id: s for s in self.steps}

    def inputs(self, step: Step) -> list[Array]:
        return [self.by_id[k].value for k in step.inputs]

    @cached_property
    def parameter_ids(self) -> dict[str, Param]:
        return {p.id: p for p in self.parameters}

    def given(self, param_id: str) -> Step:
        """A parameter as a step of its own (read now, once): its values are given, not worked out."""
        if param_id not in self._given:
            p = self.parameter_ids[param_id]
            value = p.read()
            value.flags.writeable = False
            self._given[param_id] = Step(p.id, p.title, p.formula.text, p.formula.tex, value, p.rows, p.cols, (),
                                         Given(value), p.stage)  # fmt: skip
        return self._given[param_id]

    @property
    def read(self) -> list[str]:
        """The parameters read so far (kept: they count toward the work bound)."""
        return list(self._given)

    @cached_property
    def _given(self) -> dict[str, Step]:
        return {}

    @cached_property
    def memo(self) -> dict[str, Any]:
        """What a module works out once a trace (names.py: every step's name)."""
        return {}


class Var(NamedTuple):
    """A recorded step's value, with the symbol later formulas call it by."""

    id: str
    value: Array
    sym: Sym

    def called(self, text: str, tex: str | None = None) -> Var:
        """The same value under another symbol: inside a layer, its input is x."""
        return Var(self.id, self.value, Sym(text, text if tex is None else tex))


class Tape:
    """Records each step from its call: the id from the scope and name, the inputs from the
    arguments, the formula from the op and the inputs' symbols, the column labels from the op.
    A scope (`within`) shares the tape and adds to ids ("layers.0."), sets the seed's stage and
    adds to titles (" (head 0)")."""

    def __init__(self, tokens: Sequence[str]) -> None:
        self.rows = tuple(tokens)
        self.steps: list[Step] = []
        self.prefix, self.stage, self.suffix, self.shared = "", 1, "", ""

    def within(
        self, prefix: str = "", stage: int | None = None, suffix: str = "", shared: str = "", rows: Sequence[str] = ()
    ) -> Tape:
        """shared: what the titles of steps that use weights add (", with layer 0's weights"); rows: the
        rows' labels where they are not the tokens (a head's predicted positions)."""
        scope = copy.copy(self)  # the same steps, in a narrower scope
        scope.rows = tuple(rows) or self.rows
        scope.prefix += prefix
        scope.stage = self.stage if stage is None else stage
        scope.suffix = suffix or self.suffix
        scope.shared = shared or self.shared
        return scope

    def __call__(
        self,
        name: str,
        title: str,
        op: Op,
        *inputs: Var,
        lhs: Sym | None = None,
        sym: Sym | None = None,
        cols: str | tuple[str, ...] | None = None,
    ) -> Var:
        """Step `name` = op(inputs). lhs: the result's name, shown as `lhs = …` and used by later
        formulas; sym: only used by later formulas; neither: later formulas repeat this one.
        cols: a prefix for the column labels ("f": f0, f1, ...), or the labels, instead of the op's."""
        step_id = self.prefix + name
        value = op(*(x.value for x in inputs))
        if not np.isfinite(value).all():
            raise EncoderError(
                f"{step_id}: the result is not a finite number (overflow to infinity or 0/0); "
                "the weights are too large, or layer_norm_eps is 0 with a constant row"
            )
        value.flags.writeable = False
        formula = op.formula(lhs, *(x.sym for x in inputs))
        self.steps.append(
            Step(
                step_id,
                title + self.suffix + (self.shared if op.params else ""),
                formula.text,
                formula.tex,
                value,
                op.rows or self.rows,
                self._labels(cols or op.cols, inputs, value.shape[1]),
                tuple(x.id for x in inputs),
                op,
                self.stage,
            )
        )
        return Var(step_id, value, lhs or sym or formula)

    def _labels(self, cols: str | tuple[str, ...], inputs: Sequence[Var], width: int) -> tuple[str, ...]:
        if cols == "same":  # the first input's
            return next(s.cols for s in reversed(self.steps) if s.id == inputs[0].id)
        if cols == "tokens":
            return self.rows
        if isinstance(cols, str):  # a prefix: "d" -> d0, d1, ...
            return numbered(cols, width)
        return cols


@lru_cache(maxsize=64)
def numbered(prefix: str, width: int) -> tuple[str, ...]:
    """d0, d1, ..., made once for each prefix and width (MPNet's 1,330 steps need a few)."""
    return tuple(f"{prefix}{j}" for j in range(width))


def labels(tokens: Sequence[str], width: Callable[[str], int] = len) -> list[str]:
    """Row labels: the tokens, cut to LABEL wide as `width` measures them, with the position
    added to a label that occurs twice."""
    cut = [cut_label(t, width) for t in tokens]
    counts = Counter(cut)
    return [f"{t} ({p})" if counts[t] > 1 else t for p, t in enumerate(cut)]


def cut_label(token: str, width: Callable[[str], int], room: int = LABEL) -> str:
    """The token, or as much of its start as fits `room` wide with "…" after it."""
    if width(token) <= room:
        return token
    end = min(len(token), room)
    while end and width(token[:end] + ELLIPSIS) > room:
        end -= 1
    return token[:end] + ELLIPSIS


def columns(step: Step) -> list[str]:
    """Column labels as shown: d0, f0, mean... or, for n x n steps, the tokens as labelled."""
    return labels(step.cols) if step.cols == step.rows else list(step.cols)


def printed_whole(steps: Sequence[Step], argument: str | None, fix: str) -> list[Step]:
    """The steps, when a view may print every cell of them: at most MAX_PRINTED numbers."""
    count = sum(s.value.size for s in steps)
    if count > MAX_PRINTED:
        what = "would print" if argument else "the page would print"
        raise EncoderError(f"{what} {count:,} numbers, past the {MAX_PRINTED:,} a page prints whole; {fix}",
                           argument=argument)  # fmt: skip
    return list(steps)


def plural(count: int, word: str) -> str:
    """'1 layer', '2 layers'."""
    return f"{count} {word}" + ("s" if count != 1 else "")
