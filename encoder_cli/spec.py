"""The weights of a model, typed and checked: what the encoder computes with.

A Spec is made by a reader (weights_file.py for the YAML format, and the Python API's
mappings through it), or in code. It holds no file positions: where a bad value was written
is the reader's business (see EncoderError.place).
"""

from __future__ import annotations

import heapq
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

import numpy as np

from encoder_cli import tokenizer
from encoder_cli.errors import EncoderError
from encoder_cli.settings import SUGGEST_CHARS, SUGGEST_COMPARED, UNK, Pooling, Settings

if TYPE_CHECKING:
    from encoder_cli.tasks import Classifier, MaskedLM

Array = np.ndarray


class Matrix(Protocol):
    """A weight matrix: a numpy array, or a checkpoint's, read from its file each time it is used
    (np.asarray(W), W[:, j]; W[:, a:b] is another such matrix)."""

    @property
    def shape(self) -> tuple[int, ...]: ...
    @property
    def ndim(self) -> int: ...
    def __getitem__(self, key: Any, /) -> Any: ...
    def __array__(self, dtype: Any = None, /, *, copy: Any = None) -> Array: ...


@dataclass(frozen=True)
class NormWeights:
    gamma: Array  # [d]
    beta: Array  # [d]


@dataclass(frozen=True)
class Layer:
    W_Q: Matrix  # [d, d], head h owns columns h*d_k ... (h+1)*d_k - 1
    W_K: Matrix  # [d, d]
    W_V: Matrix  # [d, d]
    W_O: Matrix | None  # [d, d]; None: the concatenated heads pass through
    b_Q: Array | None  # [d]; None: no bias
    b_K: Array | None
    b_V: Array | None
    b_O: Array | None
    norm_1: NormWeights | None  # None: the identity (ModernBERT's layer 0, pre-norm)
    W_1: Matrix  # [d, d_ff]; a gated FFN's [d, 2 d_ff]: input half, then gate half
    b_1: Array | None  # [d_ff]
    W_2: Matrix  # [d_ff, d]
    b_2: Array | None  # [d]
    norm_2: NormWeights
    shared_with: int | None = None  # the layer whose weights these are, where the model shares them (ALBERT)
    rope_theta: float | None = None  # rotary positions of Q and K with this base (ModernBERT); None: none
    window: int | None = None  # local attention: token i sees j when |i − j| <= window; None: every token
    gated: bool = False  # GeGLU FFN: act(the first half of x W_1) times its second half (ModernBERT)
    # DeBERTa's position projections of their own (share_att_key false); None: W_K, b_K and W_Q, b_Q project
    # the relative embeddings too
    W_Kr: Matrix | None = None  # [d, d]: c2p's position keys
    b_Kr: Array | None = None
    W_Qr: Matrix | None = None  # [d, d]: p2c's position queries
    b_Qr: Array | None = None

    @property
    def d_ff(self) -> int:
        return int(self.W_1.shape[1])


@dataclass(frozen=True)
class Embedded:
    """Stage 1's result: the tokens and their embeddings (and, from a checkpoint's tokenizer,
    the words, their pieces and the vocabulary ids)."""

    tokens: list[str]
    X: Array  # [n, d]
    unknown: list[int] = field(default_factory=list)  # positions that took the [UNK] embedding
    words: list[str] | None = None
    pieces: list[list[str]] | None = None
    ids: list[int] | None = None
    warnings: list[str] = field(default_factory=list)  # what a user should know of this run
    labels: list[str] | None = None  # the tokens, readable (␣cat for Ġcat, <F0> for a byte of no whole character)
    positions: list[int] | None = None  # each token's row of the position table; else 0, 1, 2, ...
    types: list[int] | None = None  # each token's type (segment): a pair's B is type 1 in BERT; else all 0


class Vocabulary(Protocol):
    def embed(self, sentence: str, pair: str | None = None) -> Embedded: ...


@dataclass(frozen=True)
class Embeddings:
    """A weights file's vocabulary: one vector per token; the sentence split on white space and
    punctuation, in Unicode NFC (folded with lowercase)."""

    vectors: Mapping[str, Array]  # token (NFC, folded if lowercase) -> [d]
    lowercase: bool

    def embed(self, sentence: str, pair: str | None = None) -> Embedded:
        """Stage 1: the sentence's tokens and their embeddings; [UNK]'s for unknown tokens when
        the vocabulary has it. (A pair needs a checkpoint's tokenizer: api.check refuses it here.)"""
        assert pair is None
        tokens = tokenizer.split(unicodedata.normalize("NFC", sentence), self.lowercase)
        unk = UNK.lower() if self.lowercase else UNK
        unknown = [p for p, t in enumerate(tokens) if t not in self.vectors]
        if unknown and unk not in self.vectors:
            p = unknown[0]
            raise EncoderError(tokenizer.missing(tokens[p], p, near(tokens[p], self.vectors)), place=("embeddings",))
        X = np.stack([self.vectors[unk if p in unknown else t] for p, t in enumerate(tokens)])
        return Embedded(tokens, X, unknown)


def near(token: str, known: Iterable[str]) -> list[str]:
    """The known tokens a did-you-mean compares with `token` (difflib costs the product of the two
    lengths, for each): those of a length difflib's cutoff could take (2 min / (a + b) ≥ 0.6), its
    case-folded twins first, then those sharing the most characters with it; at most
    SUGGEST_COMPARED of them, and none for a token over SUGGEST_CHARS."""
    if len(token) > SUGGEST_CHARS:
        return []
    n, folded = len(token), token.lower()
    chars = set(folded)
    fits = (w for w in known if 3 * len(w) <= 7 * n and 3 * n <= 7 * len(w))
    return heapq.nlargest(  # as sorted(..., reverse=True)[:k]: stable, so ties keep the vocabulary's order
        SUGGEST_COMPARED, fits, key=lambda w: (w.lower() == folded, len(chars.intersection(w.lower())))
    )


@dataclass(frozen=True)
class Disentangled:
    """DeBERTa's relative positions: the score adds a content-to-position term (c2p) and a position-to-content
    term (p2c) to Q Kᵀ, each reading row δ(i, j) + span of the relative embeddings (shared by every layer)."""

    table: Rows  # [2 span, d]: rel_embeddings
    norm: NormWeights | None  # their LayerNorm (norm_rel_ebd), or None
    span: int  # δ runs from −span to span − 1
    buckets: int  # position_buckets: log buckets past buckets // 2; 0: none
    max_distance: int  # max_relative_positions, where the log buckets end
    terms: tuple[str, ...]  # "c2p", "p2c" or both, in that order


class Rows(Protocol):
    """A table read by rows: a numpy array, or a checkpoint's table read lazily."""

    def __len__(self) -> int: ...
    def __getitem__(self, rows: list[int]) -> Array: ...


class Source(NamedTuple):
    """Where a model's weights came from, as the JSON's `source` writes it."""

    kind: str  # "checkpoint"
    path: str  # its folder
    model_type: str  # config.json's: "bert", "roberta", ...


@dataclass(frozen=True)
class Spec:
    settings: Settings
    vocabulary: Vocabulary
    positional_table: Rows | None  # [rows, d], with positional: table
    embedding_norm: NormWeights | None
    layers: Sequence[Layer]  # a checkpoint's are read one at a time, as the encoder reaches them
    final_norm: NormWeights | None
    d_ff: int
    token_type: Rows | None = None  # [types, d]: the token type (segment) embeddings, each token's added (BERT)
    pooling: Pooling | None = None  # the sentence embedding: the mean, [CLS] or max of the output's rows
    normalize: bool = False  # and divided by its length
    source: Source | None = None  # where the weights came from, for the JSON
    held: int = 0  # the numbers its weights keep in memory while a run uses them
    sentence: str | None = None  # the sentence a weights file names, run when none is given
    differs: tuple[tuple[str, str], ...] = ()  # what the model does differently from the seed: (aspect, how)
    embedding_projection: tuple[Matrix, Array] | None = None  # W [E, d], b [d]: embeddings of size E -> d (ALBERT)
    relative_bias: Array | None = None  # [buckets, heads]: a learned bias by relative position (MPNet)
    masked_lm: MaskedLM | None = None  # a task checkpoint's heads, run after the output (tasks.py)
    classifier: Classifier | None = None
    rotary: bool = False  # ModernBERT: positions rotate Q and K in each layer (Layer.rope_theta), none added to
    # the input; layer 0 has no norm_1
    local_layers: int = 0  # how many layers attend within a window (Layer.window)
    gated: bool = False  # the layers' FFNs are gated (Layer.gated): d_ff is each half's width
    disentangled: Disentangled | None = None  # DeBERTa's position terms of the scores
    score_terms: int = 1  # the scores are scaled by √(d_k × score_terms) (DeBERTa: 1 + its position terms)
