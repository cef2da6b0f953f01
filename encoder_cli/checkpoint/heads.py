"""The heads a task checkpoint keeps beside its encoder, under its family's tensor names (families.py).

A head is there when its tensors are: a masked-LM head when one of its matrices is stored (but for
those a stored classifier shares: ModernBERT's head.dense and head.norm serve either), a sequence
classifier when its output layer is, unless config.json's architectures name a model whose layer of
that name is another head's (`BertForTokenClassification`'s `classifier` labels each token).
config.json's architectures alone make no head: all-mpnet-base-v2 names `MPNetForMaskedLM` and
stores none; a stray tensor, a bias alone, makes none either. A head that is there must be whole: each tensor
it needs, in the shape config.json's sizes make it (the checkpoint checks shapes and types as it
does the encoder's); a folder with no head runs the encoder alone. The masked-LM head's output layer
is the decoder's own weight where one is stored, else the word embeddings (tied): either stays in
its file; its bias the decoder's where stored (what the Linear adds), else the head's own (which
transformers ties to it).
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from encoder_cli import tasks
from encoder_cli.checkpoint.families import Family
from encoder_cli.checkpoint.folder import read_json_object
from encoder_cli.checkpoint.safetensors_file import StoredMatrix
from encoder_cli.errors import EncoderError, show
from encoder_cli.settings import Activation
from encoder_cli.spec import NormWeights

if TYPE_CHECKING:
    from encoder_cli.checkpoint import Checkpoint, Config

FIX = "fix config.json, or remove the head's tensors to run the encoder alone"


def wanted(folder: Path, family: Family, config: Config, present: Collection[str]) -> list[tuple[str, tuple[int, ...]]]:
    """The tensors of the heads the folder has, each with its shape (torch's: a Linear's is (out, in))."""
    path = folder / "config.json"
    raw = read_json_object(path, FIX)
    named = [a for a in raw.get("architectures") or [] if isinstance(a, str)]
    d, e, v = config.hidden_size, config.embedding_size, config.vocab_size
    m, c = family.masked_lm, family.classifier
    bias = f"{m.decoder}.bias" if f"{m.decoder}.bias" in present else m.bias
    mlm = {f"{m.dense}.weight": (e, d), f"{m.dense}.bias": (e,), f"{m.norm}.weight": (e,), f"{m.norm}.bias": (e,),
           bias: (v,)} | ({f"{m.decoder}.weight": (v, e)} if f"{m.decoder}.weight" in present else {})  # fmt: skip
    for key in () if family.biases else (f"{m.dense}.bias", f"{m.norm}.bias"):  # ModernBERT's head has none
        del mlm[key]
    # The head is there when one of its matrices is (a lone bias is no head), but for those a stored classifier
    # shares (ModernBERT's head.dense and head.norm serve either head); then all of it must be.
    shared = {c.dense, c.norm} if f"{c.out}.weight" in present else set()
    there = any(f"{name}.weight" in present for name in (m.dense, m.norm, m.decoder) if name not in shared)
    out = _whole(folder, "masked-LM head", mlm, present) if there else []
    other = any(a.endswith(("ForTokenClassification", "ForMultipleChoice")) for a in named)
    if f"{c.out}.weight" in present and not other:
        count = len(labels(path, raw)[0])
        layers = {f"{c.dense}.weight": (d, d), f"{c.dense}.bias": (d,), f"{c.out}.weight": (count, d),
                  f"{c.out}.bias": (count,)}  # fmt: skip
        layers |= {f"{c.norm}.{p}": (d,) for p in ("weight", "bias")} if c.norm is not None else {}
        for key in () if family.biases else (f"{c.dense}.bias", f"{c.norm}.bias"):  # ModernBERT's head has none
            del layers[key]
        out += _whole(folder, "sequence classifier", layers, present)
    return out


def _whole(
    folder: Path, what: str, needed: dict[str, tuple[int, ...]], present: Collection[str]
) -> list[tuple[str, tuple[int, ...]]]:
    """The tensors of a head that is there: all of them, or the folder is refused."""
    stored = [key for key in needed if key in present]
    missing = [key for key in needed if key not in present]
    if missing:
        first = missing[0]
        raise EncoderError(
            f"{show(folder)}: its {what} has {', '.join(stored[:3])} but no {first} (shape {list(needed[first])}); "
            "the head is incomplete: save the whole model again, or remove the head's tensors to run the encoder alone"
        )
    return list(needed.items())


def labels(path: Path, raw: dict[str, Any]) -> tuple[tuple[str, ...], tasks.Problem]:
    """config.json's id2label (else num_labels' LABEL_0, LABEL_1, ...; else two) and problem_type
    (else a regression for one label, a softmax over two or more)."""
    where = show(path)
    id2label = raw.get("id2label")
    if id2label is None:
        count = raw.get("num_labels", 2)
        if type(count) is not int or count < 1:
            raise EncoderError(f"{where}: num_labels is {show(repr(count)[:40])}; expected a whole number >= 1")
        names = tuple(f"LABEL_{k}" for k in range(count))
    else:
        ids = [str(k) for k in range(len(id2label))] if isinstance(id2label, dict) else []
        if not ids or set(id2label) != set(ids) or not all(isinstance(n, str) for n in id2label.values()):
            raise EncoderError(
                f"{where}: id2label is {show(repr(id2label)[:60])}; expected a label for each id from 0, "
                'e.g. {"0": "NEGATIVE", "1": "POSITIVE"}'
            )
        names = tuple(id2label[k] for k in ids)
    problem = raw.get("problem_type")
    if problem is None:
        return names, tasks.Problem.regression if len(names) == 1 else tasks.Problem.single
    kinds = [p.value for p in tasks.Problem]
    if problem not in kinds:
        raise EncoderError(f"{where}: problem_type is {show(repr(problem)[:40])}; expected one of {', '.join(kinds)}")
    return names, tasks.Problem(problem)


def masked_lm(ckpt: Checkpoint) -> tasks.MaskedLM | None:
    """The masked-LM head, where the checkpoint has one; its matrices stay in the file."""
    m, t = ckpt.family.masked_lm, ckpt.tensors
    decoder = f"{m.decoder}.weight"
    bias = f"{m.decoder}.bias" if f"{m.decoder}.bias" in t else m.bias
    if bias not in t:  # every masked-LM head has its bias, and a classifier none (head.dense may be a classifier's)
        return None
    mask = ckpt.tokenizer.mask
    W = StoredMatrix(*t[f"{m.dense}.weight"])
    return tasks.MaskedLM(
        W=W,
        b=ckpt._read(f"{m.dense}.bias") if ckpt.family.biases else np.zeros(W.shape[1]),
        activation=Activation(_activation(ckpt, m.activation_key, m.activation or ckpt.activation)),
        norm=NormWeights(*ckpt._norm(m.norm)),
        W_vocab=StoredMatrix(*t[decoder if decoder in t else f"{ckpt.family.words}.weight"]),  # (V, E), as a Linear's
        b_vocab=ckpt._read(bias),
        tied=decoder not in t,
        mask_id=None if mask is None else ckpt.tokenizer.id_of(mask),
        words=lambda: ckpt.tokenizer.vocabulary(ckpt.config.vocab_size),
    )


def _activation(ckpt: Checkpoint, key: str | None, default: str) -> str:
    """A head's activation: config.json's `key` where the head has its own (ModernBERT's classifier_activation),
    else the default."""
    from encoder_cli.checkpoint import ACTIVATIONS  # it imports this module

    if key is None:
        return default
    path = ckpt.path / "config.json"
    name = read_json_object(path, FIX).get(key, default)
    if not isinstance(name, str) or name not in ACTIVATIONS:
        raise EncoderError(
            f"{show(path)}: {key} {show(repr(name)[:40])} is not supported; use one of {', '.join(ACTIVATIONS)}"
        )
    return ACTIVATIONS[name]


def classifier(ckpt: Checkpoint) -> tasks.Classifier | None:
    """The sequence classifier, where the checkpoint has one."""
    c, t = ckpt.family.classifier, ckpt.tensors
    if f"{c.out}.weight" not in t:
        return None
    path = ckpt.path / "config.json"
    raw = read_json_object(path, FIX)
    names, problem = labels(path, raw)
    pooling = raw.get(c.pooling_key, "cls") if c.pooling_key else "cls"
    if pooling not in ("cls", "mean"):
        raise EncoderError(f'{show(path)}: {c.pooling_key} is {show(repr(pooling)[:40])}; expected "cls" or "mean"')
    W = StoredMatrix(*t[f"{c.dense}.weight"])
    return tasks.Classifier(
        W=W,
        b=ckpt._read(f"{c.dense}.bias") if ckpt.family.biases else np.zeros(W.shape[1]),
        activation=_activation(ckpt, c.activation_key, c.activation),
        W_out=StoredMatrix(*t[f"{c.out}.weight"]),
        b_out=ckpt._read(f"{c.out}.bias"),
        labels=names,
        problem=problem,
        norm=None if c.norm is None else NormWeights(*ckpt._norm(c.norm)),
        mean=pooling == "mean",
    )
