"""Stage 1a of a weights file's run: sentence -> tokens (split on white space and punctuation)."""

from __future__ import annotations

import difflib
import re

from encoder_cli.errors import EncoderError
from encoder_cli.settings import EXAMPLE_SENTENCE, MAX_TOKENS, UNK

# A token is a run of letters, digits and underscores, or one punctuation mark.
_TOKEN = re.compile(r"\w+|[^\w\s]")


def split(sentence: str, lowercase: bool) -> list[str]:
    """'The cat sat.' -> ['The', 'cat', 'sat', '.'] (folded to lower case with lowercase: true)."""
    tokens = _TOKEN.findall(sentence.lower() if lowercase else sentence)
    if not tokens:
        raise EncoderError(f'the sentence is empty; give some words to encode, e.g. "{EXAMPLE_SENTENCE}"')
    if len(tokens) > MAX_TOKENS:
        raise EncoderError(f"the sentence has {len(tokens)} tokens; at most {MAX_TOKENS}")
    return tokens


def missing(token: str, position: int, vocab: list[str]) -> str:
    """What to say of a token with no embedding: the closest known tokens, and the fixes."""
    message = f"no embedding for the token {token!r} (position {position} of the sentence)"
    same_case = [w for w in vocab if w.lower() == token.lower()]
    close = same_case or difflib.get_close_matches(token, vocab, n=3, cutoff=0.6)
    if close:
        message += "; closest known: " + ", ".join(map(repr, close))
    if same_case:
        message += " (set model.lowercase: true to fold case)"
    return message + f'; add it under embeddings, or add "{UNK}" for unknown tokens'
