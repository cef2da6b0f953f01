"""The heads of a task checkpoint, run after `output` as steps like any other (stage 9).

    masked-word prediction, for each predicted position p (each [MASK], or every one with --predict all):
      mlm.rows           x_p                                 m x d    the output's rows
      mlm.dense          h = x_p W_T + b_T                   m x E
      mlm.activation     act(h)                              m x E    the family's (families.py)
      mlm.transform      LayerNorm(act(h))                   m x E    (with its .mean and .variance)
      mlm.logits         transform W_vocab + b_vocab         m x V    W_vocab: the word embeddings, tied, or a decoder
      mlm.probabilities  softmax of each row                 m x V
    sequence classification, from the first token's row (ModernBERT's classifier_pooling "mean": the rows' mean):
      classifier.first (or classifier.mean_row), classifier.dense (x_0 W_C + b_C), classifier.pooled (tanh, ReLU or
      GELU of it; ModernBERT: then its LayerNorm, classifier.norm, with its .mean and .variance),
      classifier.logits (pooled W_out + b_out, a column per label), classifier.probabilities (softmax; a
      sigmoid per label for a multi-label classifier; none for a regression, whose logit is the score)

The vocabulary's matrix stays in the checkpoint's file, read a block of columns at a time (ops.Linear.product).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING

import numpy as np

from encoder_cli import ops
from encoder_cli.ops import Sym
from encoder_cli.settings import Activation, Pooling

if TYPE_CHECKING:
    from encoder_cli.spec import Matrix, NormWeights, Spec
    from encoder_cli.trace import Tape, Var

Array = np.ndarray


class Problem(Enum):
    """config.json's problem_type: what the classifier's logits are turned into."""

    single = "single_label_classification"  # a softmax over the labels
    multi = "multi_label_classification"  # a sigmoid per label
    regression = "regression"  # nothing: the logit is the score


@dataclass(frozen=True)
class MaskedLM:
    W: Matrix  # [d, E]
    b: Array  # [E]
    activation: Activation
    norm: NormWeights  # [E]
    W_vocab: Matrix  # [E, V]: the word embeddings (tied), or the decoder's own
    b_vocab: Array  # [V]
    tied: bool
    mask_id: int | None  # the tokenizer's mask token's id; None where it names none
    words: Callable[[], tuple[str, ...]]  # the vocabulary, readable, one per id: the columns


@dataclass(frozen=True)
class Classifier:
    W: Matrix  # [d, d]
    b: Array
    activation: str  # "tanh", "relu" or "gelu"
    W_out: Matrix  # [d, L]
    b_out: Array  # [L]
    labels: tuple[str, ...]  # id2label's, in id order
    problem: Problem
    norm: NormWeights | None = None  # a LayerNorm of the pooled row (ModernBERT)
    mean: bool = False  # from the mean of the output's rows, not the first (ModernBERT's classifier_pooling "mean")


POOLING = {"tanh": ops.Tanh(), **{a.value: op for a, op in ops.ACTIVATIONS.items()}}


def predicted(spec: Spec, ids: Sequence[int] | None, every: bool) -> list[int]:
    """The positions the masked-LM head predicts: every one, or the mask token's; none without the head."""
    head = spec.masked_lm
    if head is None or ids is None:
        return []
    return list(range(len(ids))) if every else [p for p, i in enumerate(ids) if i == head.mask_id]


def cells(spec: Spec, predicted: int) -> int:
    """The numbers the heads' steps hold, for `predicted` positions."""
    d, out = spec.settings.d_model, 0
    if spec.masked_lm is not None and predicted:
        e, v = spec.masked_lm.W.shape[1], spec.masked_lm.W_vocab.shape[1]
        out += predicted * (d + 3 * e + 2 + 2 * v)  # rows, dense, activation, transform, mean, variance, logits, probs
    if (c := spec.classifier) is not None:  # first (or mean_row), dense, pooled; norm, its mean and variance; labels'
        out += 3 * d + (d + 2 if c.norm is not None else 0) + 2 * len(c.labels)
    return out


def run(t: Tape, spec: Spec, x: Var, positions: Sequence[int]) -> None:
    """The heads' steps after the output x [n, d]."""
    t = t.within(stage=9)
    if spec.masked_lm is not None and positions:
        masked_lm(t, spec.masked_lm, x, positions, spec.settings.layer_norm_eps)
    if spec.classifier is not None:
        classify(t, spec.classifier, x, spec.settings.layer_norm_eps)


def masked_lm(t: Tape, head: MaskedLM, x: Var, positions: Sequence[int], eps: float) -> None:
    from encoder_cli.encoder import layer_norm  # encoder imports this module

    t = t.within("mlm.", rows=[f"{t.rows[p]} ({p})" for p in positions])
    rows = t("rows", "Rows to predict", ops.Pick(positions), x, lhs=Sym("x_p", "x_p"))
    h = t("dense", "Masked-LM head: dense layer", ops.Linear(head.W, head.b, "W_T", "b_T"), rows, lhs=Sym("h", "h"))
    act = ops.ACTIVATIONS[head.activation]
    a = t("activation", f"Masked-LM head: activation ({head.activation.value})", act, h, sym=act.of(h.sym))
    y = layer_norm(t, "transform", "Masked-LM head: layer normalisation", a, head.norm, eps)
    y = y.called("transform", r"\mathrm{transform}")
    tied = "the word embeddings, tied" if head.tied else "the decoder"
    logits = t("logits", f"Logits: each word's score ({tied})", ops.WordLogits(head.W_vocab, head.b_vocab, "W_vocab",
               "b_vocab"), y, cols=head.words(), sym=Sym("logits", r"\mathrm{logits}"))  # fmt: skip
    t("probabilities", "Probability of each word", ops.WordSoftmax(), logits)


def classify(t: Tape, head: Classifier, x: Var, eps: float) -> None:
    from encoder_cli.encoder import layer_norm  # encoder imports this module

    t = t.within("classifier.", rows=["sentence" if head.mean else f"{t.rows[0]} (0)"])
    if head.mean:
        first = t("mean_row", "The mean of the rows", ops.Pool(Pooling.mean), x, lhs=Sym("x̄", r"\bar{x}"))
    else:
        first = t("first", "The first token's row", ops.Pick([0]), x, lhs=Sym("x_0", "x_0"))
    h = t("dense", "Classifier: dense layer", ops.Linear(head.W, head.b, "W_C", "b_C"), first, lhs=Sym("h", "h"))
    pooled = t("pooled", f"Pooled ({head.activation})", POOLING[head.activation], h,
               sym=Sym("pooled", r"\mathrm{pooled}"))  # fmt: skip
    if head.norm is not None:  # ModernBERT: LayerNorm(pooled)
        pooled = layer_norm(t, "norm", "Classifier: layer normalisation", pooled, head.norm, eps)
        pooled = pooled.called("norm", r"\mathrm{norm}")
    if head.problem is Problem.regression:
        t("logits", "Score (a regression: no softmax)", ops.Score(head.W_out, head.b_out, "W_out", "b_out"), pooled,
          cols=head.labels)  # fmt: skip
        return
    out = ops.Linear(head.W_out, head.b_out, "W_out", "b_out")
    logits = t("logits", "Logits: each label's score", out, pooled, cols=head.labels, sym=Sym("logits", "logits"))
    if head.problem is Problem.multi:
        t("probabilities", "Probability of each label, on its own (sigmoid)", ops.Sigmoid(), logits)
    else:
        t("probabilities", "Probability of each label", ops.LabelSoftmax(), logits)
