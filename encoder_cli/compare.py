"""How similar two sentences are (`encoder compare A B`): both sentences run as two traces, then
the comparison is a trace of its own, recorded on a Tape like the encoder's steps, so that every
view, worked cell and handout reaches it as any other:

    a = pool(output_A),  b = pool(output_B)      the folder's pooling; mean where it declares none
    a / ‖a‖₂,  b / ‖b‖₂                         the normalised vectors (sentence-transformers')
    a · b,  ‖a‖₂,  ‖b‖₂
    cos(a, b) = a · b / (‖a‖₂ ‖b‖₂)             = the dot product of the normalised vectors

The steps it reads from the traces (`output`, and those --diff compares) are held in it under
`a.` and `b.`, as given: its own steps' inputs name them (`a.output`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from encoder_cli import names, ops
from encoder_cli.errors import EncoderError
from encoder_cli.ops import Sym
from encoder_cli.settings import Pooling
from encoder_cli.trace import Step, Tape, Trace, Var

SIDES = ("a", "b")
STAGE = 8  # trace.STAGES: Similarity


@dataclass(frozen=True)
class Comparison:
    a: Trace
    b: Trace
    trace: Trace  # the comparison's: what it read from a and b (a.output, ...), then its own steps
    steps: list[Step]  # its own steps, in computation order
    pooling: Pooling
    declared: bool  # the folder declares the pooling; False: compare mean-pools `output` (and says so)
    skipped: list[str]  # --diff: the steps left out for differing shapes

    @property
    def cosine(self) -> float:
        return float(self.trace.by_id["cosine"].value[0, 0])


def compare(
    a: Trace, b: Trace, diff: Sequence[str] = (), layer: int | None = None, head: int | None = None
) -> Comparison:
    """The comparison of two traces of one model; diff: -s patterns whose steps' differences b − a
    follow, for the steps whose shapes agree."""
    pooled = a.by_id.get("pooled")
    pool = pooled.op if pooled is not None else None
    mode = pool.mode if isinstance(pool, ops.Pool) else Pooling.mean
    tape = Tape(a.labels).within(stage=STAGE)
    read: set[str] = set()

    def given(side: str, trace: Trace, step_id: str) -> Var:
        """A trace's step as the comparison reads it: `a.output`, its values as they are."""
        step = trace.by_id[step_id]
        read.add(f"{side}.{step_id}")
        tape.steps.append(replace(step, id=f"{side}.{step_id}", inputs=(), op=ops.Given(step.value)))
        sym = Sym(f"{step_id}_{side.upper()}", rf"\mathrm{{{step_id}}}_{side.upper()}")
        return Var(f"{side}.{step_id}", step.value, sym)

    vectors, norms = [], []
    for side, trace in zip(SIDES, (a, b), strict=True):
        t = tape.within(f"{side}.", suffix=f" ({side.upper()})")
        x = t("pooled", "Sentence embedding", ops.Pool(mode), given(side, trace, "output"), sym=Sym(side, side))
        t("normalized", "Sentence embedding, normalised", ops.L2Normalize(), x)
        vectors.append(x)
    dot = tape("dot", "Dot product", ops.Dot(), *vectors, sym=Sym("a · b", r"a \cdot b"))
    for side, x in zip(SIDES, vectors, strict=True):
        lhs = Sym(f"‖{side}‖₂", rf"\lVert {side} \rVert_2")
        norms.append(tape.within(f"{side}.", suffix=f" ({side.upper()})")("norm", "Length", ops.Norm(), x, lhs=lhs))
    tape("cosine", "Cosine similarity", ops.Cosine(), dot, *norms, lhs=Sym("cos(a, b)", r"\cos(a, b)"))

    skipped = []
    for step in _diffed(a, b, diff, layer, head):
        if step.value.shape != b.by_id[step.id].value.shape:
            skipped.append(step.id)
            continue
        t = tape.within("diff.")
        t.rows = tuple(x if x == y else f"{x}/{y}" for x, y in zip(a.labels, b.labels, strict=True))
        pair = [given(side, trace, step.id) for side, trace in zip(SIDES, (a, b), strict=True)]
        spread = float(np.abs(pair[1].value - pair[0].value).max())
        t(
            step.id,
            f"{step.title}: B − A",
            ops.Difference(spread),
            *pair,
            cols="tokens" if step.cols == step.rows else None,
        )
    own = [s for s in tape.steps if s.id not in read]
    trace = Trace(f"{a.sentence} / {b.sentence}", a.model, tape.steps, a.embedded, a.source)
    return Comparison(a, b, trace, own, mode, isinstance(pool, ops.Pool), skipped)


def _diffed(a: Trace, b: Trace, patterns: Sequence[str], layer: int | None, head: int | None) -> list[Step]:
    """The steps of a that --diff's patterns select (as -s selects them, under --layer and --head) and b has too."""
    if not patterns:
        return []
    try:
        chosen = {s.id for s in names.select(a, layer, head, patterns)} & set(b.by_id)
    except EncoderError as e:
        raise EncoderError(e.message, argument="diff") from None
    if not chosen:
        raise EncoderError(f"{patterns[0]!r} selects no step of both sentences; name steps as --step does",
                           argument="diff")  # fmt: skip
    return [s for s in a.steps if s.id in chosen]
