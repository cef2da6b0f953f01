"""How numbers, tokens, headings and summaries are written, the same in every view."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from encoder_cli.trace import ELLIPSIS, STAGES, Step, Trace, plural

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


def room(width: int, label: int, cell: int) -> int:
    """How many columns of `cell` characters fit in `width` beside a label column, each column
    costing its cell plus padding and a rule; at least two."""
    return max(2, (width - label - 4) // (cell + 3))


def shown(count: int, room: int) -> list[int | None]:
    """Indices to show out of `count` in `room` slots, NumPy style: first, None (…), last."""
    if count <= room:
        return list(range(count))
    edge = max(1, (room - 1) // 2)
    return [*range(edge), None, *range(count - edge, count)]


def heading(step: Step) -> str:
    """The heading of a step's stage: 'Layer 0 · Step 3 · Multi-head self-attention'."""
    title = f"Step {step.stage} · {STAGES[step.stage]}" if step.stage < 7 else STAGES[7]
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
        f"{m.positional} PE",
        f"{m.norm}-norm",
        m.activation,
        f"ε {m.layer_norm_eps:g}".replace("-", "−"),
    ]
    return " · ".join(s.replace(" ", "\u00a0") for s in settings)


def tokens(trace: Trace, room: int) -> str:
    """The tokens in one line, or the first and last around "…" and their count when there
    are more than room."""
    picked = shown(len(trace.tokens), room)
    line = " · ".join(ELLIPSIS if p is None else trace.tokens[p] for p in picked)
    return line if len(picked) == len(trace.tokens) else f"{line}   ({len(trace.tokens)} tokens)"


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
        facts.append(("Source", f"{trace.source['kind']} {trace.source['path']}"))
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
