"""The model's settings: every choice, default and limit, declared once.

The weights file's `model:` keys, `encoder init`'s flags and their help, the command line's
choices and the JSON document's `model` all come from here. This module imports nothing
heavy and its classes are NamedTuples (cheaper to define than dataclasses), so that the
command line builds its help from it at once.
"""

from __future__ import annotations

from enum import Enum
from typing import NamedTuple


class Choice(str, Enum):
    """A setting with a fixed set of values; `str(choice)` is its value, as written in files."""

    def __str__(self) -> str:
        return str(self.value)

    def __format__(self, spec: str) -> str:
        return format(str(self.value), spec)


class Positional(Choice):
    sinusoidal = "sinusoidal"  # sin and cos of the position, as in the original Transformer
    table = "table"  # a table of one row per position (learned, as in BERT)
    none = "none"  # no positional information


class Norm(Choice):
    post = "post"  # LN(x + sublayer(x)): the original Transformer, BERT
    pre = "pre"  # x + sublayer(LN(x))


class Activation(Choice):  # each has its math, formula and worked cell in ops.ACTIVATIONS
    relu = "relu"
    gelu = "gelu"  # exact: x Φ(x), with erf
    gelu_tanh = "gelu_tanh"  # the tanh approximation


class Pooling(Choice):  # a checkpoint's sentence embedding (sentence-transformers' pooling_mode_*_token(s))
    mean = "mean"  # the mean of the output's rows
    cls = "cls"  # the [CLS] row
    max = "max"  # the largest of each column


class Settings(NamedTuple):
    """The `model:` mapping of a weights file, with its defaults."""

    d_model: int
    heads: int = 1
    positional: Positional = Positional.sinusoidal
    positional_base: float = 10000.0
    norm: Norm = Norm.post
    activation: Activation = Activation.relu
    layer_norm_eps: float = 1e-5
    lowercase: bool = False

    @property
    def d_k(self) -> int:
        return self.d_model // self.heads


SETTINGS = Settings._fields


def heads_fit(d_model: int, heads: int) -> bool:
    """Whether `heads` heads split d_model evenly, each taking d_k = d_model / heads columns."""
    return heads >= 1 and d_model % heads == 0


def head_counts(d_model: int) -> str:
    """The numbers of heads that fit d_model, as a message lists them: "1, 2, 4"."""
    return ", ".join(str(h) for h in range(1, d_model + 1) if d_model % h == 0)


class Model(NamedTuple):
    """What the JSON document's `model` says of a run: the settings that shape the numbers."""

    d_model: int
    heads: int
    d_k: int
    d_ff: int
    layers: int
    positional: str
    norm: str
    activation: str
    layer_norm_eps: float


EXAMPLE_SENTENCE = "The cat sat"  # the worked example's, in its weights file and in messages


class Options(NamedTuple):
    """What `encoder init` writes: the settings, and the model's shape and optional parts."""

    model: Settings = Settings(d_model=4)  # the settings written under model:
    sentence: str = EXAMPLE_SENTENCE
    d_ff: int = 8
    layers: int = 1
    seed: int = 0
    unk: bool = False
    per_head: bool = False
    w_o: bool = False
    biases: bool = False
    layer_norms: bool = False
    embedding_norm: bool = False
    final_norm: bool = False


DEFAULTS = Options()  # every default, of the settings (DEFAULTS.model) and of init's options

HELP = {  # for `encoder init --help`, one line per setting and option
    "d_model": "Width of every vector.",
    "heads": "Attention heads; must divide d_model.",
    "positional": "Positional encoding.",
    "positional_base": "Base of the sinusoids.",
    "norm": "post: LN(x + sublayer(x)) as in BERT; pre: x + sublayer(LN(x)).",
    "activation": "The FFN's activation.",
    "layer_norm_eps": "LayerNorm's epsilon.",
    "lowercase": "Fold the sentence and the vocabulary to lower case.",
    "sentence": "The words to give embeddings, in order.",
    "d_ff": "Width of the FFN's hidden layer.",
    "layers": "Encoder layers.",
    "seed": "Random seed: the same seed writes the same numbers.",
    "unk": "Add an [UNK] embedding for words not in the sentence.",
    "per_head": "Write W_Q, W_K, W_V as one entry per head.",
    "w_o": "Add the output projection W_O.",
    "biases": "Add the biases b_Q, b_K, b_V (b_O), b_1, b_2.",
    "layer_norms": "Write out gamma and beta of each layer's norm_1, norm_2.",
    "embedding_norm": "Add a LayerNorm of X' before layer 0 (BERT).",
    "final_norm": "Add a LayerNorm after the last layer.",
}


# Sizes past these are absurd for a calculator meant to be read by people.
MAX_D_MODEL = 8192
MAX_D_FF = 32768
MAX_LAYERS = 64
MAX_VOCAB = 250_000
MAX_TOKENS = 8192
MAX_NUMBERS = 50_000_000  # 400 MB of float64, in a weights file
MAX_FILE_BYTES = 256 * 1024 * 1024  # a weights file, an answers file, a sentence on stdin
# What bounds memory is the work, not the token count: the numbers a run holds (its weights in
# memory and every step's cells, see encoder.cells) are at most 1.7 GB of float64, so that a run
# fits in 2 GB. A BERT-base checkpoint at 512 tokens holds 206 million.
MAX_HELD = 210_000_000
# A weights file's number costs a run about 20 bytes (its float64, the file's text, what the
# reader leaves behind; measured at 49.5 million numbers): it counts as 3 held numbers.
FILE_NUMBER_COST = 3
# A view that prints every cell (--full, a worksheet) spends about 230 bytes on each while it lays
# it out (measured: 1.48 million cells, 390 MB): a million stay within 2 GB beside the largest run.
MAX_PRINTED = 1_000_000
# A product x W reads W a block of this many numbers at a time (1.5 MB of float64: 256 columns of
# a 768-input matrix), so that a checkpoint's matrix is never held whole in float64, and a block,
# just widened, is still in the processor's cache when it is multiplied (MPNet's run: 40 ms less
# CPU than whole matrices, and the same JSON byte for byte).
PRODUCT_BLOCK = 3 << 16
# A word WordPiece may split (tokenizer.json's max_input_chars_per_word): real models use 100; the
# greedy search tries every piece length, so a much longer word costs its length squared.
MAX_WORD_CHARS = 500
# A sentence a checkpoint's tokenizer takes: its work grows with the characters (and WordPiece's with
# a word's length cubed: 100,000 characters of 500-character words took 2.5 s), not with the tokens
# the model takes (512 tokens of English are about 2,500 characters).
MAX_SENTENCE_CHARS = 50_000
# The did-you-mean of an unknown token compares it (difflib) with at most this many known tokens,
# those of a length that could match sharing the most characters with it; a token longer than
# SUGGEST_CHARS gets no suggestion (each comparison costs the product of the two lengths).
SUGGEST_COMPARED = 300
SUGGEST_CHARS = 64
UNK = "[UNK]"
