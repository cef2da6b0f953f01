"""Step and Trace: the encoder's intermediate matrices, named and in computation order.

Like micrograd's values, every step records the op that made it, its inputs and
the weights it used, so that renderers (and the per-cell arithmetic) need nothing else.
Step ids are the public contract of ../shared/spec/json-output.md.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from encoder_cli.errors import EncoderError

# The seed's summary table (its steps and their purposes), plus the encoder's output.
STAGES = {
    1: "Tokenization & embedding",
    2: "Positional encoding",
    3: "Multi-head self-attention",
    4: "Add & Norm",
    5: "Feed-forward network",
    6: "Add & Norm",
    7: "Output",
}
PURPOSES = {
    1: "Convert words to vectors.",
    2: "Add word position information.",
    3: "Let each word attend to all others.",
    4: "Stabilise training.",
    5: "Transform each representation on its own.",
    6: "Further stabilisation.",
    7: "The contextual representations, passed to the next layer or the decoder.",
}

_LAYER = re.compile(r"layers\.(\d+)\.")
_HEAD = re.compile(r"\.heads\.(\d+)\.")


@dataclass(frozen=True)
class Step:
    id: str  # "layers.0.attention.heads.0.Q"
    title: str  # "Queries"
    formula: str  # "Q = x W_Q"
    tex: str  # the formula in LaTeX, for the handouts: "Q = x\\,W_Q"
    value: np.ndarray  # [rows, cols], float64, finite
    rows: tuple[str, ...]  # tokens
    cols: tuple[str, ...]  # "d0", "f0", tokens, or "mean" / "variance"
    inputs: tuple[str, ...]  # ids of the steps it is computed from
    # How it is computed: lookup; sinusoidal, table or none (positional); add; linear (x W + b, from
    # params); matmul (A B) or matmul_t (A Bᵀ) of its two inputs; scale; softmax; mean; variance;
    # layer_norm; activation; concat; copy.
    op: str
    stage: int  # key of STAGES
    params: Mapping[str, np.ndarray] = field(default_factory=dict)  # weights used, by their names in the file

    @property
    def layer(self) -> int | None:
        match = _LAYER.match(self.id)
        return int(match.group(1)) if match else None

    @property
    def head(self) -> int | None:
        match = _HEAD.search(self.id)
        return int(match.group(1)) if match else None


@dataclass(frozen=True)
class Trace:
    sentence: str
    tokens: list[str]
    unknown: list[int]  # positions that used the [UNK] embedding
    model: dict[str, Any]  # settings, as in the JSON document's "model"
    steps: list[Step]

    @cached_property
    def by_id(self) -> dict[str, Step]:
        return {s.id: s for s in self.steps}


def select(
    steps: Sequence[Step],
    layer: int | None,
    head: int | None,
    patterns: Sequence[str],
    layers: int,
    heads: int,
) -> list[Step]:
    """The steps a filter keeps, in order and unchanged.

    layer: only that layer's steps; head: no other head's steps; patterns: steps whose id
    matches one of them: a whole id or glob (`output`, `layers.*.attention.*`) or, when no
    whole id matches, the end of ids (`weights`, `heads.1.Q`, `norm_1` - but not `norm_1.mean`).
    """
    if layer is not None and not 0 <= layer < layers:
        raise EncoderError(f"--layer {layer}: the model has {layers} layer(s), numbered 0 to {layers - 1}")
    if head is not None and not 0 <= head < heads:
        raise EncoderError(f"--head {head}: the model has {heads} head(s), numbered 0 to {heads - 1}")
    kept = [s for s in steps if (layer is None or s.layer == layer) and (head is None or s.head in (None, head))]
    if patterns:
        wanted = set().union(*(_matching(steps, p) for p in patterns))
        kept = [s for s in kept if s.id in wanted]
    return kept


def _matching(steps: Sequence[Step], pattern: str) -> set[str]:
    """Ids matching a pattern as a whole id or glob; failing that, as the end of ids."""
    for glob in (pattern, "*." + pattern):
        found = {s.id for s in steps if fnmatch.fnmatchcase(s.id, glob)}
        if found:
            return found
    raise EncoderError(
        f"--step {pattern!r}: no step id matches it; ids look like 'input', "
        "'layers.0.attention.heads.0.weights' or a glob such as 'layers.*.norm_2'"
    )
