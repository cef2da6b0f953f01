"""The heads of task checkpoints (tests/kit/models.py HEADS: ...ForMaskedLM and ...ForSequenceClassification
of several families, every parameter redrawn, labels named) against transformers' own model of each,
in float64: every head step within 1e-9 of the module that computes it there (caught by forward hooks),
the top-k words and the winning label transformers' own. Then the heads a folder cannot have: missing
or misshapen tensors, a bad id2label, each one line and exit 2.
"""

from __future__ import annotations

import json
import re
import shutil
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file
from transformers import AutoModelForMaskedLM, AutoModelForSequenceClassification, AutoTokenizer

import encoder_cli
from encoder_cli.checkpoint.families import FAMILIES
from tests.conftest import run
from tests.kit.models import HEADS

TOL = {"rtol": 1e-9, "atol": 1e-9}
MASKED = [v for v in HEADS if v.endswith("masked-lm")]
CLASSIFIERS = [v for v in HEADS if v not in MASKED]


@pytest.fixture(scope="module")
def reference(tiny):
    """(folder, transformers' model in float64, AutoTokenizer) of a HEADS variant, once each."""

    @cache
    def made(variant: str) -> tuple[Path, Any, Any]:
        family, arguments = HEADS[variant]
        folder = tiny(family, **arguments)
        kind = AutoModelForMaskedLM if arguments.get("masked_lm") else AutoModelForSequenceClassification
        return folder, kind.from_pretrained(folder).double().eval(), AutoTokenizer.from_pretrained(folder)

    return made


def module(model: Any, family: str, name: str) -> torch.nn.Module:
    """transformers' module of a head tensor's name (the family's base-model prefix where it has one)."""
    try:
        return model.get_submodule(name)
    except AttributeError:
        return model.get_submodule(FAMILIES[family].prefix + name)


def forward(model: Any, modules: dict[str, torch.nn.Module], inputs: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    """transformers' outputs, and what each module took in ("<name>.in") and gave out."""
    seen: dict[str, Any] = {}
    hooks = [
        m.register_forward_hook(lambda _, args, out, key=key: seen.update({key: out, f"{key}.in": args[0]}))
        for key, m in modules.items()
    ]
    try:
        with torch.no_grad():
            out = model(**inputs)
    finally:
        for hook in hooks:
            hook.remove()
    return out, seen


def test_architectures_alone_make_no_head(reference, tiny, tmp_path):
    """all-mpnet-base-v2's config.json names MPNetForMaskedLM and its folder stores no head: the encoder
    runs; a BertForTokenClassification's `classifier` labels each token, and is no sequence classifier."""
    base = _copy(tiny("mpnet"), tmp_path / "named")
    config = json.loads((base / "config.json").read_text()) | {"architectures": ["MPNetForMaskedLM"]}
    (base / "config.json").write_text(json.dumps(config))
    ours = encoder_cli.explain("the cat <mask>", model=str(base))
    assert not [i for i in ours.ids if i.startswith("mlm.")]
    tokens = _copy(reference("bert-classifier")[0], tmp_path / "tokens")
    config = json.loads((tokens / "config.json").read_text()) | {"architectures": ["BertForTokenClassification"]}
    (tokens / "config.json").write_text(json.dumps(config))
    assert not [i for i in encoder_cli.explain("the cat", model=str(tokens)).ids if i.startswith("classifier.")]
    assert encoder_cli.explain("the cat", model=str(reference("bert-classifier")[0])).ids[-1] == (
        "classifier.probabilities"
    )


def _copy(folder: Path, to: Path) -> Path:
    """A copy of a checkpoint folder, to spoil."""
    shutil.copytree(folder, to)
    return to


@pytest.mark.parametrize("variant", MASKED)
@pytest.mark.parametrize("every", [False, True], ids=["masks", "all"])
def test_masked_lm_equals_transformers(reference, variant, every):
    folder, model, tokenizer = reference(variant)
    family = HEADS[variant][0]
    mask = tokenizer.mask_token
    sentence = f"the cat {mask} on the {mask} mat"
    ours = encoder_cli.explain(sentence, model=str(folder), predict="all" if every else "masks")
    inputs = tokenizer(sentence, return_tensors="pt")
    assert ours.token_ids == inputs["input_ids"][0].tolist()
    head = FAMILIES[family].masked_lm
    out, seen = forward(model, {"dense": module(model, family, head.dense), "norm": module(model, family, head.norm)},
                        dict(inputs))  # fmt: skip
    ids = inputs["input_ids"][0]
    positions = list(range(len(ids))) if every else (ids == tokenizer.mask_token_id).nonzero()[:, 0].tolist()
    assert len(positions) == (len(ids) if every else 2)
    labels = ours.trace.labels
    assert ours.trace.by_id["mlm.logits"].rows == tuple(f"{labels[p]} ({p})" for p in positions)
    logits = out.logits[0, positions]
    theirs = {
        "mlm.rows": seen["dense.in"][0, positions],
        "mlm.dense": seen["dense"][0, positions],
        "mlm.activation": seen["norm.in"][0, positions],
        "mlm.transform": seen["norm"][0, positions],
        "mlm.logits": logits,
        "mlm.probabilities": torch.softmax(logits, dim=-1),
    }
    for step, value in theirs.items():
        np.testing.assert_allclose(ours[step], value.numpy(), **TOL, err_msg=step)
    # the top 5 words of each row: transformers' ids, each column labelled by the text its token decodes to
    top = torch.topk(logits, 5).indices.tolist()
    assert [list(np.argsort(-row)[:5]) for row in ours["mlm.probabilities"]] == top
    cols = ours.trace.by_id["mlm.probabilities"].cols
    for i in {i for row in top for i in row}:  # a byte of no whole character is hex in ours (<F0>), U+FFFD in theirs
        label = re.sub("(<[0-9A-F]{2}>)+", "\ufffd", cols[i]).replace("␣", " ")
        assert label.strip() == re.sub("\ufffd+", "\ufffd", tokenizer.decode([i])).strip(), (i, cols[i])


def test_a_tied_decoder_reads_the_word_embeddings_and_a_stored_one_its_own(reference, tiny, tmp_path):
    """The logits of BertForMaskedLM with the decoder stored on its own (not tied) are transformers'."""
    folder, _, tokenizer = reference("bert-masked-lm")
    untied = _copy(folder, tmp_path / "untied")
    tensors = load_file(folder / "model.safetensors")
    assert "cls.predictions.decoder.weight" not in tensors  # tied: not saved
    generator = torch.Generator().manual_seed(7)
    words = tensors["bert.embeddings.word_embeddings.weight"]
    tensors["cls.predictions.decoder.weight"] = torch.randn(words.shape, generator=generator)
    tensors["cls.predictions.decoder.bias"] = torch.randn(words.shape[:1], generator=generator)  # what the Linear adds
    save_file(tensors, untied / "model.safetensors", metadata={"format": "pt"})
    config = json.loads((folder / "config.json").read_text()) | {"tie_word_embeddings": False}
    (untied / "config.json").write_text(json.dumps(config))
    model = AutoModelForMaskedLM.from_pretrained(untied).double().eval()
    sentence = f"the {tokenizer.mask_token} sat"
    inputs = tokenizer(sentence, return_tensors="pt")
    with torch.no_grad():
        logits = model(**inputs).logits[0, 2]
    ours = encoder_cli.explain(sentence, model=str(untied))
    np.testing.assert_allclose(ours["mlm.logits"][0], logits.numpy(), **TOL)
    assert "decoder" in ours.trace.by_id["mlm.logits"].title
    tied = encoder_cli.explain(sentence, model=str(folder))
    assert "tied" in tied.trace.by_id["mlm.logits"].title
    assert not np.allclose(tied["mlm.logits"], ours["mlm.logits"])  # the stored decoder was used


@pytest.mark.parametrize("variant", CLASSIFIERS)
def test_classifier_equals_transformers(reference, variant):
    folder, model, tokenizer = reference(variant)
    family = HEADS[variant][0]
    sentence = "the cat sat on the mat"
    ours = encoder_cli.explain(sentence, model=str(folder))
    inputs = tokenizer(sentence, return_tensors="pt")
    head = FAMILIES[family].classifier
    out, seen = forward(model, {"dense": module(model, family, head.dense), "out": module(model, family, head.out)},
                        dict(inputs))  # fmt: skip
    logits = out.logits[0]
    theirs = {  # each module takes the first token's row (BERT's pooler picks it, RoBERTa's head, ...)
        "classifier.first": seen["dense.in"],
        "classifier.dense": seen["dense"],
        "classifier.pooled": seen["out.in"],
        "classifier.logits": logits[None],
    }
    problem = model.config.problem_type
    labels = [model.config.id2label[k] for k in range(model.config.num_labels)]
    step = ours.trace.by_id["classifier.logits"]
    assert step.cols == tuple(labels)
    if model.config.num_labels == 1 and problem is None:  # a regression: the score, no probabilities
        assert "classifier.probabilities" not in ours.ids
        assert step.op.verdict(step.value, step.cols, "{:.9f}".format) == f"score: {float(logits[0]):.9f}"
    elif problem == "multi_label_classification":
        theirs["classifier.probabilities"] = torch.sigmoid(logits)[None]
        probabilities = ours.trace.by_id["classifier.probabilities"]
        held = [label for label, p in zip(labels, torch.sigmoid(logits).tolist(), strict=True) if p >= 0.5]
        verdict = probabilities.op.verdict(probabilities.value, probabilities.cols, "{:.3f}".format)
        assert verdict is not None
        assert [part.split(" (")[0] for part in verdict.split(": ", 1)[1].split(", ")] == (held or ["none"])
    else:
        theirs["classifier.probabilities"] = torch.softmax(logits, dim=-1)[None]
        probabilities = ours.trace.by_id["classifier.probabilities"]
        winner = model.config.id2label[int(logits.argmax())]
        assert f"{probabilities.op.verdict(probabilities.value, probabilities.cols, str)}".startswith(
            f"label: {winner} ("
        )
    for name, value in theirs.items():
        np.testing.assert_allclose(ours[name], value.numpy(), **TOL, err_msg=name)


@pytest.mark.parametrize("variant", ["bert-regression", "roberta-classifier"])
def test_a_pair_through_a_classifier_is_transformers(reference, variant):
    """A cross-encoder's use: the score of a sentence pair, its token types as the tokenizer gives them."""
    folder, model, tokenizer = reference(variant)
    a, b = "How old are you?", "I am six."
    ours = encoder_cli.explain(a, b, model=str(folder))
    inputs = tokenizer(a, b, return_tensors="pt", return_token_type_ids=model.config.type_vocab_size > 1)
    assert ours.token_ids == inputs["input_ids"][0].tolist()
    with torch.no_grad():
        logits = model(**inputs).logits
    np.testing.assert_allclose(ours["classifier.logits"], logits.numpy(), **TOL)


def test_a_folder_without_a_head_runs_as_before(tiny):
    """A base model's folder (BertModel: a pooler, no classifier) has no head steps, and says nothing of [MASK]."""
    folder = tiny("bert")
    ours = encoder_cli.explain("the [MASK] sat", model=str(folder))
    assert ours.ids[-1] in ("output", "pooled.normalized")
    assert not [i for i in ours.ids if i.startswith(("mlm.", "classifier."))]
    assert any("[MASK]" in w and "no masked-LM head" in w for w in ours.warnings)
    assert not encoder_cli.explain("the cat sat", model=str(folder)).warnings


@pytest.mark.parametrize(
    ("variant", "change", "expected"),
    [
        ("bert-masked-lm", {"drop": "cls.predictions.bias"},
         "its masked-LM head has cls.predictions.transform.dense.weight, cls.predictions.transform.dense.bias, "
         "cls.predictions.transform.LayerNorm.weight but no cls.predictions.bias (shape ["),
        ("distilbert-masked-lm", {"drop": "vocab_layer_norm.bias"},
         "its masked-LM head has vocab_transform.weight, vocab_transform.bias, vocab_layer_norm.weight but no "
         "vocab_layer_norm.bias (shape [24])"),
        ("bert-masked-lm", {"shape": "cls.predictions.transform.dense.weight"},
         "tensor cls.predictions.transform.dense.weight has shape [24, 23], config.json's sizes make it [24, 24]"),
        ("roberta-classifier", {"drop": "classifier.out_proj.bias"},
         "its sequence classifier has classifier.dense.weight, classifier.dense.bias, classifier.out_proj.weight "
         "but no classifier.out_proj.bias (shape [3])"),
        ("bert-classifier", {"config": {"id2label": {"0": "a", "1": "b"}}},
         "tensor classifier.weight has shape [3, 24], config.json's sizes make it [2, 24]"),
        ("bert-classifier", {"config": {"id2label": {"0": "a", "2": "b"}}}, "id2label is {'0': 'a', '2': 'b'}; "
         'expected a label for each id from 0, e.g. {"0": "NEGATIVE", "1": "POSITIVE"}'),
        ("bert-classifier", {"config": {"problem_type": "ranking"}}, "problem_type is 'ranking'; expected one of"),
    ],
)  # fmt: skip
def test_a_bad_head_is_one_line(reference, tmp_path, variant, change, expected):
    folder = _copy(reference(variant)[0], tmp_path / "bad")
    tensors = load_file(folder / "model.safetensors")
    if "drop" in change:
        name = next(k for k in tensors if k.endswith(change["drop"]))
        del tensors[name]
    if "shape" in change:
        name = next(k for k in tensors if k.endswith(change["shape"]))
        tensors[name] = tensors[name][:, :-1].contiguous()
    save_file(tensors, folder / "model.safetensors", metadata={"format": "pt"})
    config = json.loads((folder / "config.json").read_text()) | change.get("config", {})
    (folder / "config.json").write_text(json.dumps(config))
    r = run("explain", "the cat sat", "--model", str(folder))
    assert r.exit_code == 2
    assert r.stdout == ""
    assert len(r.stderr.splitlines()) == 1, r.stderr
    assert r.stderr.startswith("error: ") and expected in r.stderr, r.stderr
