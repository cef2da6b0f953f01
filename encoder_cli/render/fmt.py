"""How numbers, tokens, headings and summaries are written, the same in every view."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence

import numpy as np

from encoder_cli.trace import ELLIPSIS, STAGES, Marked, MarkKind, Step, Trace, cut_label, plural

# Viridis, from 0 (dark purple) to 1 (yellow): readable on dark and light backgrounds alike.
_VIRIDIS = ((68, 1, 84), (59, 82, 139), (33, 145, 140), (94, 201, 98), (253, 231, 37))


def number(value: float, precision: int) -> str:
    """Fixed decimals; a value that rounds to zero shows no sign."""
    text = f"{value:.{precision}f}"
    return text[1:] if text.startswith("-") and not text.strip("-0.") else text


def cell_width(step: Step, precision: int, cols: Sequence[str], width: Callable[[str], int] = len) -> int:
    """Characters of the widest number or column label (as shown, measured by width) of a step."""
    low, high = (number(float(f(step.value)), precision) for f in (np.min, np.max))
    return max(len(low), len(high), *map(width, cols))


def room(width: int, label: int, cell: int, gap: int = 3) -> int:
    """How many columns of `cell` characters fit in `width` beside a label column, each column
    costing its cell and the gap before it, the label column a rule too; at least two."""
    return max(2, (width - label - gap - 1) // (cell + gap))


NARROWEST = 4  # characters a column keeps for its label, whatever its numbers: d383, [CLS]


def sized(
    step: Step, precision: int, cols: list[str], fits: Callable[[int], int], width: Callable[[str], int] = len
) -> tuple[int, int, list[str]]:
    """The columns' width, how many of them fit (`fits`: how many of that width do) and their
    labels: as wide as the widest label when all of them fit so; otherwise the widest that
    lets all fit, or else as wide as the numbers, each label cut to that width ("intern…"), so
    that a long token costs no columns."""
    widest = cell_width(step, precision, cols, width)
    if fits(widest) >= len(cols):
        return widest, len(cols), cols
    numbers = max(cell_width(step, precision, [], width), NARROWEST)
    cell = max((c for c in range(numbers, widest) if fits(c) >= len(cols)), default=numbers)
    return cell, fits(cell), [cut_label(c, width, cell) for c in cols]


STRIP = 16  # cells in an overview's heat strip
SPARKS = "▁▂▃▄▅▆▇█"  # a strip's cells by height, for a reader without colour


def shape(step: Step) -> str:
    """'3 × 4'."""
    return "{} × {}".format(*step.value.shape)


def glance(step: Step, precision: int) -> tuple[str, str, str]:
    """A step's smallest, largest and mean value, as the overview prints them."""
    low, high, mean = (number(float(f(step.value)), precision) for f in (np.min, np.max, np.mean))
    return low, high, mean


def strip(step: Step, cells: int = STRIP) -> list[float]:
    """The step's first row in at most `cells` cells (all of it, or its values at evenly spaced
    columns: a mean of 24 columns would hide them), each placed between the step's smallest
    value (0) and its largest (1)."""
    row, low, high = step.value[0], float(step.value.min()), float(step.value.max())
    picked = row[np.linspace(0, len(row) - 1, min(cells, len(row))).round().astype(int)]
    return [(float(v) - low) / (high - low) if high > low else 0.5 for v in picked]


def spark(level: float) -> str:
    """A strip's cell, 0 to 1, as a bar of its height: ▁ to █."""
    return SPARKS[min(int(level * len(SPARKS)), len(SPARKS) - 1)]


def shown(count: int, room: int, keep: Collection[int] = ()) -> list[int | None]:
    """Indices to show out of `count` in `room` slots, NumPy style: first, None (…), last; and every
    index in keep (a worksheet's blanks and what they are worked from), the first and last fewer to
    make room for them, past the room if they alone fill it."""
    if count <= room:
        return list(range(count))
    edge = max(1, (room - 1) // 2)
    while True:
        picked = {*range(edge), *range(count - edge, count), *keep}
        ends = {-1, count}  # "…" for one index saves nothing: show it
        picked |= {k for k in range(count) if {k - 1, k + 1} <= picked | ends}
        line: list[int | None] = []
        for k in range(count):  # None (…) for each run of indices left out
            if k in picked or not line or line[-1] is not None:
                line.append(k if k in picked else None)
        if len(line) <= room or edge == 0 or not keep:
            return line
        edge -= 1


def kept(marked: Marked | None) -> tuple[set[int], set[int]]:
    """The rows and the columns of a worksheet's marked cells, but those left out (its blanks, their
    copies and the numbers they are worked from): shown() keeps them."""
    cells = [cell for cell, mark in (marked or {}).items() if mark.kind != MarkKind.out]
    return {i for i, _ in cells}, {j for _, j in cells}


def heading(step: Step) -> str:
    """The heading of a step's stage: 'Layer 0 · Step 3 · Multi-head self-attention'."""
    title = f"Step {step.stage} · {STAGES[step.stage]}" if step.stage < 7 else STAGES[step.stage]
    return title if step.layer is None else f"Layer {step.layer} · {title}"


def model(trace: Trace) -> str:
    """The model's settings in one line: 'd_model 4 · 1 head (d_k 4) · d_ff 8 · …'. Each setting
    is held together by no-break spaces, and ε's exponent by a minus sign (a line may break
    after "-", never after "−"), so that a line breaks between settings (or in post-norm)."""
    m = trace.model
    settings = [
        f"d_model {m.d_model}",
        f"{plural(m.heads, 'head')} (d_k {m.d_k})",
        f"d_ff {m.d_ff}",
        plural(m.layers, "layer"),
        "no PE" if m.positional == "none" else f"{m.positional} PE",
        f"{m.norm}-norm",
        m.activation,
        f"ε {m.layer_norm_eps:g}".replace("-", "−"),
    ]
    return " · ".join(s.replace(" ", "\u00a0") for s in settings)


def models(trace: Trace) -> list[tuple[str, str]]:
    """The header's model: its settings' line, then a line for each thing it does differently from the
    seed's encoder ("Positions", "rotary: ..."), as its family says (Trace.differs)."""
    return [("Model", model(trace)), *trace.differs]


def tokens(trace: Trace, room: int) -> str:
    """The tokens in one line, or the first and last around "…" and their count when there
    are more than room."""
    picked = shown(len(trace.labels), room)
    line = " · ".join(ELLIPSIS if p is None else trace.labels[p] for p in picked)
    return line if len(picked) == len(trace.labels) else f"{line}   ({len(trace.labels)} tokens)"


def sentences(trace: Trace) -> list[tuple[str, str]]:
    """The header's sentence, or a pair's two."""
    if trace.sentence_b is None:
        return [("Sentence", trace.sentence)]
    return [("Sentence A", trace.sentence), ("Sentence B", trace.sentence_b)]


def tokenization(trace: Trace, room: int) -> list[tuple[str, str]]:
    """A checkpoint's tokenizer at work: the words it split off, the words it cut into
    WordPiece pieces ('playing → play ##ing'), and the tokens' ids; [] for a weights file."""
    e = trace.embedded
    if e.words is None or e.pieces is None or e.ids is None:
        return []
    split = [f"{w} → {' '.join(p)}" for w, p in zip(e.words, e.pieces, strict=True) if p != [w]]
    words = shown(len(e.words), room)
    facts = [("Words", " · ".join(ELLIPSIS if i is None else e.words[i] for i in words))]
    if split:
        facts.append(("Pieces", " · ".join(split[:room]) + (f" · {ELLIPSIS}" if len(split) > room else "")))
    ids = shown(len(e.ids), room)
    facts.append(("Ids", " ".join(ELLIPSIS if i is None else str(e.ids[i]) for i in ids)))
    if trace.source is not None:
        source = trace.source  # "mpnet checkpoint /path": the family, then the folder
        facts.append(("Source", f"{source.model_type} {source.kind} {source.path}"))
    return facts


def unknown(trace: Trace) -> str:
    """Which tokens used the [UNK] embedding ('' when none)."""
    found = ", ".join(f"{trace.tokens[p]!r} ({p})" for p in trace.unknown)
    return f"{found} use the [UNK] embedding" if found else ""


def heat(weight: float) -> tuple[tuple[int, int, int], bool]:
    """A softmax weight in [0, 1] as a viridis colour, and whether text on it should be black."""
    position = min(max(weight, 0.0), 1.0) * (len(_VIRIDIS) - 1)
    low = int(min(position, len(_VIRIDIS) - 2))
    # plain floats, not numpy: a 300 x 300 heatmap is 90,000 calls
    r, g, b = (a + (z - a) * (position - low) for a, z in zip(_VIRIDIS[low], _VIRIDIS[low + 1], strict=True))
    return (int(r), int(g), int(b)), 0.299 * r + 0.587 * g + 0.114 * b > 140


TOP = 5  # words a view shows of each row of a step over the vocabulary (--top)


def top(trace: Trace, step: Step, k: int) -> Step:
    """A step over the vocabulary (m x V, Op.vocabulary: a masked-LM head's logits and probabilities) as
    each row's k best words, best first: a row a word, labelled `position: word`, with this step's value
    and that of each vocabulary step it is computed from (the probabilities' logits)."""
    from encoder_cli.ops import Given

    k = min(k, step.value.shape[1])
    best = np.argsort(-step.value, axis=1, kind="stable")[:, :k]  # ties: the lower id first
    steps = [step, *(s for s in map(trace.by_id.get, step.inputs) if s is not None and s.op.vocabulary)]
    value = np.concatenate([np.stack([s.value[i, best[i]] for s in steps], axis=1) for i in range(len(best))])
    where = [label.rsplit("(", 1)[-1].rstrip(")") for label in step.rows]  # "[MASK] (3)": position 3
    rows = tuple(f"{where[i]}: {step.cols[j]}" for i in range(len(best)) for j in best[i])
    cols = tuple(s.id.rsplit(".", 1)[-1] for s in steps)
    title = f"{step.title}: the top {k} of {step.value.shape[1]:,} words for each row (--full shows all)"
    return Step(step.id, title, step.formula, step.tex, value, rows, cols, step.inputs, Given(value), step.stage)


def verdict(step: Step, precision: int) -> str | None:
    """What a step's values answer, where they answer something (a classifier's label)."""
    return step.op.verdict(step.value, step.cols, lambda v: number(v, precision))
