"""Stage 1a: sentence -> tokens, and tokens -> embedding vectors (the vocabulary's side)."""

from __future__ import annotations

import difflib
import re

import numpy as np

from encoder_cli.errors import EncoderError
from encoder_cli.spec import MAX_TOKENS, UNK, Spec

# A token is a run of letters, digits and underscores, or one punctuation mark.
_TOKEN = re.compile(r"\w+|[^\w\s]")


def split(sentence: str, lowercase: bool) -> list[str]:
    """'The cat sat.' -> ['The', 'cat', 'sat', '.'] (folded to lower case with lowercase: true)."""
    tokens = _TOKEN.findall(sentence.lower() if lowercase else sentence)
    if not tokens:
        raise EncoderError('the sentence is empty; give some words to encode, e.g. "The cat sat"')
    if len(tokens) > MAX_TOKENS:
        raise EncoderError(f"the sentence has {len(tokens)} tokens; at most {MAX_TOKENS}")
    return tokens


def embed(tokens: list[str], spec: Spec) -> tuple[np.ndarray, list[int]]:
    """X [n, d]: each token's vector, [UNK]'s for unknown tokens when the vocabulary has it.

    Returns X and the positions that fell back to [UNK].
    """
    vocab = spec.embeddings
    unk = UNK.lower() if spec.model.lowercase else UNK
    unknown = [p for p, t in enumerate(tokens) if t not in vocab]
    if unknown and unk not in vocab:
        p = unknown[0]
        raise EncoderError(f"{spec.where(('embeddings',))}{_missing(tokens[p], p, list(vocab))}")
    return np.stack([vocab[unk if p in unknown else t] for p, t in enumerate(tokens)]), unknown


def _missing(token: str, position: int, vocab: list[str]) -> str:
    message = f"no embedding for the token {token!r} (position {position} of the sentence)"
    same_case = [w for w in vocab if w.lower() == token.lower()]
    close = same_case or difflib.get_close_matches(token, vocab, n=3, cutoff=0.6)
    if close:
        message += "; closest known: " + ", ".join(map(repr, close))
    if same_case:
        message += " (set model.lowercase: true to fold case)"
    return message + f'; add it under embeddings, or add "{UNK}" for unknown tokens'
