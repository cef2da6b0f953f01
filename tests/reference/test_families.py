"""Every encoder family, as a tiny random checkpoint built with transformers (tests/kit/models.py),
against transformers' own model of it run in float64 with eager attention: tokens and ids, the
last embedding step, every layer's output, every head's attention weights, the output and the
sentence embedding where the folder declares one, all to 1e-9. ALBERT's shared layers and
MPNet's relative position bias against transformers' own code for them.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pytest
import torch
from tokenizers import Tokenizer
from transformers import AutoModel, AutoTokenizer

import encoder_cli
from tests.kit.models import VARIANTS
from tests.kit.tokenizers import HARD_STRINGS

TOL = {"rtol": 1e-9, "atol": 1e-9}

ROBERTA_STYLE = {"roberta", "xlm-roberta", "camembert", "mpnet"}  # positions from padding_idx + 1
PAD = "x <pad> y [PAD] z"  # the pad token inside a sentence: RoBERTa-style positions give it the padding row


@pytest.fixture(scope="module")
def reference(tiny):
    """(folder, transformers' model in float64 with eager attention, AutoTokenizer) of a variant, once each."""

    @cache
    def made(variant: str) -> tuple[Path, Any, Any]:
        family, arguments = VARIANTS[variant]
        folder = tiny(family, **arguments)
        model = AutoModel.from_pretrained(folder, attn_implementation="eager").double().eval()
        return folder, model, AutoTokenizer.from_pretrained(folder)

    return made


# transformers' embedding tables -> our steps with the rows they gave this sentence
TABLES = {"word_embeddings": "embeddings", "position_embeddings": "positional", "token_type_embeddings": "token_types"}


class Ran(NamedTuple):
    ids: list[int]
    tokens: list[str]  # the fast tokenizer's own (an unknown piece as the text has it, not <unk>)
    out: Any  # transformers' outputs
    rows: dict[str, np.ndarray]  # the rows each embedding table gave, by our step's id


def run_transformers(model: Any, tokenizer: Any, folder: Path, sentence: str) -> Ran:
    """AutoTokenizer's ids and tokens, checked against the tokenizers library's reading of the same file
    (5.x's family classes may rebuild parts of it), and transformers' run, with the rows each embedding
    table gave: the positions as transformers works them out."""
    types = hasattr(model.embeddings, "token_type_embeddings")
    batch = tokenizer(sentence, return_tensors="pt", return_token_type_ids=types or None)
    own = Tokenizer.from_file(str(folder / "tokenizer.json"))
    own.no_padding()
    own.no_truncation()
    ids = batch["input_ids"][0].tolist()
    tokens = tokenizer.convert_ids_to_tokens(ids)
    assert (ids, tokens) == (own.encode(sentence).ids, [own.id_to_token(i) for i in ids]), "not a reference"
    rows: dict[str, np.ndarray] = {}
    hooks = [
        getattr(model.embeddings, table).register_forward_hook(
            lambda _module, _input, output, step=step: rows.__setitem__(step, output[0].numpy())
        )
        for table, step in TABLES.items()
        if hasattr(model.embeddings, table)
    ]
    try:
        with torch.no_grad():
            return Ran(ids, tokens, model(**batch, output_hidden_states=True, output_attentions=True), rows)
    finally:
        for hook in hooks:
            hook.remove()


def declared_pooling(folder: Path, last_hidden: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None] | None:
    """sentence-transformers' Pooling (and Normalize) as modules.json declares them, written with torch."""
    if not (folder / "modules.json").exists():
        return None
    kinds = {m["type"].rsplit(".", 1)[-1]: m["path"] for m in json.loads((folder / "modules.json").read_text())}
    config = json.loads((folder / kinds["Pooling"] / "config.json").read_text())
    pool = {
        "pooling_mode_mean_tokens": lambda x: x.mean(dim=0, keepdim=True),
        "pooling_mode_cls_token": lambda x: x[:1],
        "pooling_mode_max_tokens": lambda x: x.max(dim=0, keepdim=True).values,
    }
    [mode] = [m for m in pool if config.get(m)]
    pooled = pool[mode](last_hidden)
    return pooled, torch.nn.functional.normalize(pooled, dim=1) if "Normalize" in kinds else None


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_step_that_transformers_shows_equals_it(reference, variant: str) -> None:
    family = VARIANTS[variant][0]
    folder, model, tokenizer = reference(variant)
    config = model.config
    projected = family == "albert" or (family == "electra" and config.embedding_size != config.hidden_size)
    for sentence in [*HARD_STRINGS, PAD]:
        ids, tokens, out, rows = run_transformers(model, tokenizer, folder, sentence)
        t = encoder_cli.explain(sentence, model=str(folder))
        assert (t.tokens, t.token_ids) == (tokens, ids), sentence
        assert ("token_types" in t.ids) == ("token_types" in rows)
        for step, want in rows.items():  # RoBERTa-style positions: from padding_idx + 1, the pad token's padding_idx
            np.testing.assert_array_equal(t[step], want, err_msg=step)
        assert ("layers.0.attention.heads.0.biased" in t.ids) == (family == "mpnet")

        hidden = [h[0].numpy() for h in out.hidden_states]
        assert ("input_projection" in t.ids) == projected
        np.testing.assert_allclose(t["input_projection" if projected else "input_norm"], hidden[0], **TOL)
        layers, heads = len(out.attentions), out.attentions[0].shape[1]
        for i in range(layers):
            if i < layers - 1:  # the last layer's is `output`
                np.testing.assert_allclose(t[f"layers.{i}.norm_2"], hidden[i + 1], **TOL, err_msg=f"layer {i}")
            for h in range(heads):
                want = out.attentions[i][0, h].numpy()
                np.testing.assert_allclose(t[f"layers.{i}.attention.heads.{h}.weights"], want, **TOL)
        np.testing.assert_allclose(t["output"], out.last_hidden_state[0].numpy(), **TOL)

        pooling = declared_pooling(folder, out.last_hidden_state[0])
        assert ("pooled" in t.ids) == (pooling is not None)
        assert ("pooled.normalized" in t.ids) == (pooling is not None and pooling[1] is not None)
        if pooling is not None:
            np.testing.assert_allclose(t["pooled"], pooling[0].numpy(), **TOL)
            if pooling[1] is not None:
                np.testing.assert_allclose(t["pooled.normalized"], pooling[1].numpy(), **TOL)


@pytest.mark.parametrize(
    "variant", ["bert", "roberta", "xlm-roberta", "camembert", "distilbert", "albert", "electra-generator", "mpnet"]
)
def test_the_longest_sentence_runs_and_one_token_more_is_refused(reference, variant: str) -> None:
    """RoBERTa-style positions start after the padding index: max_position_embeddings - padding_idx - 1 tokens."""
    folder, model, tokenizer = reference(variant)
    config = model.config
    limit = config.max_position_embeddings - (config.pad_token_id + 1 if VARIANTS[variant][0] in ROBERTA_STYLE else 0)
    words = next(k for k in range(1, 400) if len(tokenizer(" ".join(["cat"] * k))["input_ids"]) >= limit)
    sentence = " ".join(["cat"] * words)
    ids, _, out, _ = run_transformers(model, tokenizer, folder, sentence)
    assert len(ids) == limit
    np.testing.assert_allclose(
        encoder_cli.explain(sentence, model=str(folder))["output"], out.last_hidden_state[0].numpy(), **TOL
    )
    with pytest.raises(encoder_cli.EncoderError) as refused:
        encoder_cli.explain(sentence + " cat", model=str(folder))
    assert f"{limit + 1} tokens" in str(refused.value) and f"at most {limit}" in str(refused.value)


def test_the_sentences_reach_what_the_families_differ_in(reference) -> None:
    """The comparisons above are not vacuous: a pad token inside a sentence (RoBERTa's positions
    skip it), more than one layer and head, attention weights that are mostly not one-hot, and
    token types only where the family has them."""
    for variant, (family, _) in VARIANTS.items():
        folder, model, tokenizer = reference(variant)
        ids, _, out, _ = run_transformers(model, tokenizer, folder, PAD)
        assert tokenizer.pad_token_id in ids, variant
        assert len(out.attentions) >= 2 and out.attentions[0].shape[1] >= 2
        weights = torch.cat([a.flatten() for a in out.attentions])
        assert (weights > 0.01).float().mean() > 0.5, variant  # one-hot rows would have 1 in n
        types = hasattr(model.embeddings, "token_type_embeddings")
        assert types == (family not in {"distilbert", "mpnet"}), variant


def test_the_checkpoints_name_their_tensors_with_and_without_the_prefix(reference) -> None:
    from safetensors import safe_open

    for variant, (family, arguments) in VARIANTS.items():
        with safe_open(reference(variant)[0] / "model.safetensors", "np") as f:
            names = list(f.keys())
        prefix = family.replace("-", "_") + "."
        assert any(n.startswith(prefix) for n in names) == arguments.get("masked_lm", False), variant


def title(t: Any, step_id: str) -> str:
    return next(s.title for s in t.steps if s.id == step_id)


def test_albert_layers_say_whose_weights_they_use(reference) -> None:
    t = encoder_cli.explain("the cat", model=str(reference("albert")[0]))
    for i in (1, 2):  # one group: every layer runs layer 0's weights
        assert "layer 0" in title(t, f"layers.{i}.attention.heads.0.Q")
        np.testing.assert_array_equal(t[f"layers.{i}.W_Q"], t["layers.0.W_Q"])
    t = encoder_cli.explain("the cat", model=str(reference("albert-two-groups")[0]))
    shared = title(t, "layers.3.attention.heads.0.Q")
    assert "layer 2" in shared and "layer 0" not in shared  # layers 0-1 run group 0, layers 2-3 group 1
    np.testing.assert_array_equal(t["layers.3.W_Q"], t["layers.2.W_Q"])
    assert not np.array_equal(t["layers.2.W_Q"], t["layers.0.W_Q"])


def test_mpnet_position_bias_and_buckets_equal_transformers(reference) -> None:
    from transformers.models.mpnet.modeling_mpnet import MPNetEncoder

    folder, model, tokenizer = reference("mpnet")
    for sentence in ["the cat sat", " ".join(["a cat sat on the mat"] * 25)]:
        ids, _, out, _ = run_transformers(model, tokenizer, folder, sentence)
        n = len(ids)
        t = encoder_cli.explain(sentence, model=str(folder))
        positions = torch.arange(n)
        buckets = MPNetEncoder.relative_position_bucket(positions[None, :] - positions[:, None])
        np.testing.assert_array_equal(t["relative_buckets"], buckets.numpy())
        bias = model.encoder.compute_position_bias(out.hidden_states[0])
        for h in range(model.config.num_attention_heads):
            np.testing.assert_allclose(t[f"attention.heads.{h}.position_bias"], bias[0, h].detach().numpy(), **TOL)
    assert n > 130 and {0, 1, 15, 17, 31} <= set(buckets.flatten().tolist())  # near and far, both ways
