"""How numbers and tokens are written, the same in every view."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from encoder_cli.trace import Step


def labels(tokens: Sequence[str]) -> list[str]:
    """Row labels: the tokens, with the position added to a token that occurs twice."""
    counts = Counter(tokens)
    return [f"{t} ({p})" if counts[t] > 1 else t for p, t in enumerate(tokens)]


def columns(step: Step) -> list[str]:
    """Column labels as shown: d0, f0, mean... or, for n x n steps, the tokens as labelled."""
    return labels(step.cols) if step.cols == step.rows else list(step.cols)


def number(value: float, precision: int) -> str:
    """Fixed decimals; a value that rounds to zero shows no sign."""
    text = f"{value:.{precision}f}"
    return text[1:] if text.startswith("-") and not text.strip("-0.") else text
