"""A pretrained checkpoint as a Spec: one more source of weights for the same encoder.

Every family --model reads (checkpoint/families.py) is BERT's encoder with named differences, each
a field of the Spec: token types or none, an embedding projection, a relative position bias,
layers that share weights, (ModernBERT) rotary positions, local windows, a gated FFN, pre-norm
layers with a final norm and no biases, or (DeBERTa) the position terms of disentangled attention.
The checkpoint's tokenizer splits the sentence; its layers are read and widened to float64 one
at a time, as the encoder reaches them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from encoder_cli import checkpoint
from encoder_cli.checkpoint import heads
from encoder_cli.checkpoint.families import Family
from encoder_cli.errors import EncoderError, show
from encoder_cli.settings import Activation, Norm, Positional, Settings
from encoder_cli.spec import Disentangled, Embedded, Layer, NormWeights, Source, Spec


def load(name: str) -> Spec:
    try:
        ckpt = checkpoint.load(name)
    except OSError as e:  # a file in a folder that cannot be searched: Path.exists raises (EACCES) on Python < 3.12
        fix = "give a checkpoint whose files and folders you can read"
        raise EncoderError(f"{show(e.filename)}: cannot be read ({e.strerror}); {fix}") from None
    c, family = ckpt.config, ckpt.family
    masked_lm = heads.masked_lm(ckpt)
    final_norm = ckpt.final_norm()
    return Spec(
        settings=Settings(
            d_model=c.hidden_size,
            heads=c.num_attention_heads,
            positional=Positional.table if c.absolute_positions and family.positions else Positional.none,
            norm=Norm.post if final_norm is None else Norm.pre,
            activation=Activation(ckpt.activation),
            layer_norm_eps=c.layer_norm_eps,
        ),
        vocabulary=_Tokenizer(ckpt, masked_lm is None),
        positional_table=_Table(c.max_position_embeddings, ckpt.position_embeddings)
        if c.absolute_positions and family.positions
        else None,
        embedding_norm=NormWeights(*ckpt.embedding_norm()),
        layers=_Layers(ckpt),
        final_norm=None if final_norm is None else NormWeights(*final_norm),
        d_ff=c.intermediate_size,
        token_type=_Table(c.type_vocab_size, ckpt.token_type_embeddings) if c.type_vocab_size else None,
        pooling=ckpt.pooling,
        normalize=ckpt.normalize,
        source=Source("checkpoint", str(ckpt.path), ckpt.family.model_type),
        differs=differences(family, c),
        held=c.hidden_size * c.intermediate_size,  # the largest matrix, while in use: the rest stay in the file
        embedding_projection=ckpt.projection(),
        relative_bias=ckpt.relative_bias(),
        masked_lm=masked_lm,
        classifier=heads.classifier(ckpt),
        rotary=bool(c.rope_thetas),
        local_layers=sum(w is not None for w in c.windows),
        gated=family.gated,
        disentangled=_disentangled(ckpt),
        score_terms=c.score_terms,
    )


def differences(family: Family, c: checkpoint.Config) -> tuple[tuple[str, str], ...]:
    """What the model does differently from the seed's encoder (its family's lines), its layers filled in:
    "a local window of ±64 tokens on layers 1, 2, 4; global on layers 0, 3"; the local layers' line only where
    there are some, the relative terms' only where config.json has them."""
    named = {
        "window": str(max((w for w in c.windows if w is not None), default=0)),
        "local": ", ".join(str(i) for i, w in enumerate(c.windows) if w is not None),
        "global": ", ".join(str(i) for i, w in enumerate(c.windows) if w is None) or "none",
        "activation": checkpoint.ACTIVATIONS[c.hidden_act],
        "terms": " + ".join(c.relative.terms) if c.relative else "",
        "count": str(1 + len(c.relative.terms)) if c.relative else "",
    }
    # a line naming what this model has none of (no local layers, no relative terms) is left out
    return tuple(
        (aspect, how.format(**named))
        for aspect, how in family.differs
        if all(named[key] for key in named if "{" + key + "}" in how)
    )


def _disentangled(ckpt: checkpoint.Checkpoint) -> Disentangled | None:
    """DeBERTa's relative embeddings (read by rows), their LayerNorm and buckets; None for the other families."""
    r = ckpt.config.relative
    if r is None:
        return None
    norm = ckpt.relative_norm()
    table = _Table(2 * r.span, ckpt.relative_embeddings)
    return Disentangled(table, None if norm is None else NormWeights(*norm), r.span, r.buckets, r.max_distance, r.terms)


@dataclass(frozen=True)
class _Tokenizer:
    ckpt: checkpoint.Checkpoint
    unpredicted: bool  # the model has no masked-LM head to predict a mask token

    def embed(self, sentence: str, pair: str | None = None) -> Embedded:
        """The model's own tokens (special ones included; a pair's through the tokenizer's pair template)
        and only their rows of the word embeddings."""
        t = self.ckpt.tokenize(sentence, pair)
        cut = self.ckpt.max_seq_length
        warnings = []
        if cut is not None and len(t.tokens) > cut:
            warnings.append(
                f"the sentence makes {len(t.tokens)} tokens; sentence-transformers would cut it at {cut} "
                f"(max_seq_length of {self.ckpt.name}) for its sentence embedding, and this run does not"
            )
        mask = self.ckpt.tokenizer.mask
        masked = mask is not None and self.ckpt.tokenizer.id_of(mask) in t.ids
        if masked and self.unpredicted:
            warnings.append(
                f"the sentence has {mask}, and {self.ckpt.name} has no masked-LM head to predict it; "
                "the encoder runs as for any token (a ...ForMaskedLM checkpoint predicts it)"
            )
        other = [m for m in ("[MASK]", "<mask>") if m != mask and m in f"{sentence} {pair or ''}"]
        if mask is not None and not masked and not self.unpredicted and other:  # another family's mask, as text
            warnings.append(f"{self.ckpt.name}'s mask token is {mask}; {other[0]} in the sentence is read as text")
        X = self.ckpt.word_embeddings(t.ids)
        positions = self.ckpt.positions(t.ids)
        return Embedded(t.tokens, X, [], t.words, t.pieces, t.ids, warnings, t.labels, positions, t.type_ids)


@dataclass(frozen=True)
class _Table:
    """A table of the checkpoint's (positions, token types), read by rows when asked for."""

    rows: int
    read: Callable[[Sequence[int]], np.ndarray]

    def __len__(self) -> int:
        return self.rows

    def __getitem__(self, rows: list[int]) -> np.ndarray:
        return self.read(rows)


class _Layers(Sequence[Layer]):
    """The layers, each read (and widened to float64) when asked for: one at a time."""

    def __init__(self, ckpt: checkpoint.Checkpoint) -> None:
        self.ckpt = ckpt

    def __len__(self) -> int:
        return self.ckpt.config.num_hidden_layers

    def __getitem__(self, i: int) -> Layer:  # type: ignore[override]
        w, c = self.ckpt.layer(i), self.ckpt.config
        norm_1 = None if w.norm_1_gamma is None else _norm(w.norm_1_gamma, w.norm_1_beta)  # ModernBERT's layer 0
        return Layer(w.W_Q, w.W_K, w.W_V, w.W_O, w.b_Q, w.b_K, w.b_V, w.b_O, norm_1,
                     w.W_1, w.b_1, w.W_2, w.b_2, _norm(w.norm_2_gamma, w.norm_2_beta), w.shared_with,
                     c.rope_thetas[i] if c.rope_thetas else None, c.windows[i] if c.windows else None,
                     self.ckpt.family.gated, w.W_Kr, w.b_Kr, w.W_Qr, w.b_Qr)  # fmt: skip


def _norm(gamma: np.ndarray, beta: np.ndarray | None) -> NormWeights:
    """A LayerNorm's weights, beta 0 where it has none (ModernBERT)."""
    return NormWeights(gamma, np.zeros_like(gamma) if beta is None else beta)
