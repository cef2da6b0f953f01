"""A pretrained checkpoint as a Spec: one more source of weights for the same encoder.

BERT (and MiniLM, BGE, E5: that shape) is a post-norm encoder with learned positions, a
token-type (segment) embedding, a LayerNorm of the embeddings, biases everywhere and W_O.
The checkpoint's tokenizer splits the sentence; its layers are read and widened to float64
one at a time, as the encoder reaches them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from encoder_cli import checkpoint
from encoder_cli.errors import EncoderError, show
from encoder_cli.settings import Activation, Norm, Positional, Settings
from encoder_cli.spec import Embedded, Layer, NormWeights, Source, Spec


def load(name: str) -> Spec:
    try:
        ckpt = checkpoint.load(name)
    except OSError as e:  # a file in a folder that cannot be searched: Path.exists raises (EACCES) on Python < 3.12
        fix = "give a checkpoint whose files and folders you can read"
        raise EncoderError(f"{show(e.filename)}: cannot be read ({e.strerror}); {fix}") from None
    gamma, beta = ckpt.embedding_norm()
    types = ckpt.token_type_embeddings(1)
    return Spec(
        settings=Settings(
            d_model=ckpt.hidden_size,
            heads=ckpt.heads,
            positional=Positional.table,
            norm=Norm.post,
            activation=Activation(ckpt.activation),
            layer_norm_eps=ckpt.layer_norm_eps,
        ),
        vocabulary=_Tokenizer(ckpt),
        positional_table=_Positions(ckpt),
        embedding_norm=NormWeights(gamma, beta),
        layers=_Layers(ckpt),
        final_norm=None,
        d_ff=ckpt.intermediate_size,
        token_type=None if types is None else types[0],
        pooling=ckpt.pooling,
        normalize=ckpt.normalize,
        source=Source("checkpoint", str(ckpt.path), "bert"),
        held=ckpt.hidden_size * ckpt.intermediate_size,  # the largest matrix, while in use: the rest stay in the file
    )


@dataclass(frozen=True)
class _Tokenizer:
    ckpt: checkpoint.Checkpoint

    def embed(self, sentence: str) -> Embedded:
        """BERT's own tokens ([CLS] … [SEP]) and only their rows of the word embeddings."""
        t = self.ckpt.tokenize(sentence)
        cut = self.ckpt.max_seq_length
        warnings = []
        if cut is not None and len(t.tokens) > cut:
            warnings.append(
                f"the sentence makes {len(t.tokens)} tokens; sentence-transformers would cut it at {cut} "
                f"(max_seq_length of {self.ckpt.name}) for its sentence embedding, and this run does not"
            )
        return Embedded(t.tokens, self.ckpt.word_embeddings(t.ids), [], t.words, t.pieces, t.ids, warnings, t.labels)


@dataclass(frozen=True)
class _Positions:
    ckpt: checkpoint.Checkpoint

    def __len__(self) -> int:
        return self.ckpt.max_position_embeddings

    def __getitem__(self, rows: slice) -> np.ndarray:
        return self.ckpt.position_embeddings(len(range(*rows.indices(len(self)))))


class _Layers(Sequence[Layer]):
    """The layers, each read (and widened to float64) when asked for: one at a time."""

    def __init__(self, ckpt: checkpoint.Checkpoint) -> None:
        self.ckpt = ckpt

    def __len__(self) -> int:
        return self.ckpt.layers

    def __getitem__(self, i: int) -> Layer:  # type: ignore[override]
        w = self.ckpt.layer(i)
        return Layer(w.W_Q, w.W_K, w.W_V, w.W_O, w.b_Q, w.b_K, w.b_V, w.b_O, NormWeights(w.norm_1_gamma, w.norm_1_beta),
                     w.W_1, w.b_1, w.W_2, w.b_2, NormWeights(w.norm_2_gamma, w.norm_2_beta))  # fmt: skip
