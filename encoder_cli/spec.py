"""The weights of a model, typed and checked: what the encoder computes with.

A Spec is made by a reader (weights_file.py for the YAML format, and the Python API's
mappings through it), or in code. It holds no file positions: where a bad value was written
is the reader's business (see EncoderError.place).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from encoder_cli import tokenizer
from encoder_cli.errors import EncoderError
from encoder_cli.settings import UNK, Settings

Array = np.ndarray


@dataclass(frozen=True)
class Norm:
    gamma: Array  # [d]
    beta: Array  # [d]


@dataclass(frozen=True)
class Layer:
    W_Q: Array  # [d, d], head h owns columns h*d_k ... (h+1)*d_k - 1
    W_K: Array  # [d, d]
    W_V: Array  # [d, d]
    W_O: Array | None  # [d, d]; None: the concatenated heads pass through
    b_Q: Array | None  # [d]; None: no bias
    b_K: Array | None
    b_V: Array | None
    b_O: Array | None
    norm_1: Norm
    W_1: Array  # [d, d_ff]
    b_1: Array | None  # [d_ff]
    W_2: Array  # [d_ff, d]
    b_2: Array | None  # [d]
    norm_2: Norm

    @property
    def d_ff(self) -> int:
        return int(self.W_1.shape[1])


@dataclass(frozen=True)
class Embedded:
    """Stage 1's result: the tokens and their embeddings."""

    tokens: list[str]
    X: Array  # [n, d]
    unknown: list[int]  # positions that took the [UNK] embedding


@dataclass(frozen=True)
class Spec:
    settings: Settings
    embeddings: Mapping[str, Array]  # token (NFC, folded if lowercase) -> [d]
    positional_table: Array | None  # [rows, d], with positional: table
    embedding_norm: Norm | None
    layers: tuple[Layer, ...]
    final_norm: Norm | None

    def embed(self, sentence: str) -> Embedded:
        """Stage 1: the sentence's tokens (NFC, folded with lowercase) and their embeddings;
        [UNK]'s for unknown tokens when the vocabulary has it."""
        tokens = tokenizer.split(unicodedata.normalize("NFC", sentence), self.settings.lowercase)
        unk = UNK.lower() if self.settings.lowercase else UNK
        unknown = [p for p, t in enumerate(tokens) if t not in self.embeddings]
        if unknown and unk not in self.embeddings:
            p = unknown[0]
            raise EncoderError(tokenizer.missing(tokens[p], p, list(self.embeddings)), place=("embeddings",))
        X = np.stack([self.embeddings[unk if p in unknown else t] for p, t in enumerate(tokens)])
        return Embedded(tokens, X, unknown)
