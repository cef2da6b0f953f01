"""encoder-cli: run a Transformer encoder step by step and show every intermediate matrix.

    import encoder_cli
    t = encoder_cli.explain("The cat sat", weights="w.yaml")
    t["weights"]

Importing the package imports no numpy, Rich or Typer: they come with the first run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from encoder_cli.errors import EncoderError

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

    from encoder_cli.api import Explanation

__version__ = "0.1.0"
__all__ = ["EncoderError", "Explanation", "__version__", "explain"]


def explain(
    sentence: str | None = None,
    sentence_b: str | None = None,
    *,
    weights: str | Path | Mapping[str, Any] | None = None,
    model: str | Path | None = None,
    predict: str = "masks",
) -> Explanation:
    """Run the encoder on the sentence (or, with a model, the pair of sentence and sentence_b) and keep
    every intermediate matrix (see encoder_cli.api.explain)."""
    from encoder_cli import api

    return api.explain(sentence, sentence_b, weights=weights, model=model, predict=predict)


def __getattr__(name: str) -> Any:
    if name == "Explanation":
        from encoder_cli.api import Explanation

        return Explanation
    raise AttributeError(f"module 'encoder_cli' has no attribute {name!r}")
