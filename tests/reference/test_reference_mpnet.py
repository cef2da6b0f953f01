"""The real all-mpnet-base-v2 (MPNet), set up by tests/run, against Hugging Face transformers'
MPNetModel run in float64 with eager attention: the tokens, every hidden state, every head's
attention weights, MPNet's relative position buckets and bias, and the sentence embedding
(mean pooling and normalisation, written here with torch), to 1e-9.

transformers is imported plainly, and the folder is an error when missing: never a skip.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from transformers import AutoTokenizer, MPNetModel

import encoder_cli
from tests.conftest import mpnet_folder
from tests.reference.test_reference_bert import TOL, assert_as_transformers

SENTENCES = [
    "A man is playing a guitar.",
    "Unbelievably, the naïve café's CEO re-hired 2,048 employees!",
    "北京 is a city; ĤÉLLO wörld… <mask>? 🐈🐈",
]


@pytest.fixture(scope="module")
def reference():
    folder = mpnet_folder()
    model = MPNetModel.from_pretrained(folder, attn_implementation="eager").double().eval()
    return folder, model, AutoTokenizer.from_pretrained(folder)


@pytest.mark.parametrize("sentence", SENTENCES)
def test_every_hidden_state_attention_bias_and_the_sentence_embedding(reference, sentence: str) -> None:
    folder, model, tokenizer = reference
    batch = tokenizer(sentence, return_tensors="pt", padding=False, truncation=False)
    with torch.no_grad():
        out = model(**batch, output_hidden_states=True, output_attentions=True)
        bias = model.encoder.compute_position_bias(out.last_hidden_state)[0].numpy()
    t = encoder_cli.explain(sentence, model=str(folder))
    ids = batch["input_ids"][0].tolist()
    assert t.token_ids == ids
    assert t.tokens == tokenizer.convert_ids_to_tokens(ids)

    for h in range(model.config.num_attention_heads):
        np.testing.assert_allclose(t[f"attention.heads.{h}.position_bias"], bias[h], **TOL)
    assert_as_transformers(t, out, model.config)


def test_a_sentence_past_max_seq_length_runs_whole_and_warns(reference) -> None:
    """all-mpnet-base-v2's tokenizer.json pads and truncates at 128 and sentence-transformers cuts at
    384: neither changes the run, which takes up to 512 - 1 - 1 = 512 − padding index − 1 tokens."""
    folder, _, tokenizer = reference
    sentence = "word " * 400
    n = len(tokenizer(sentence)["input_ids"])
    t = encoder_cli.explain(sentence, model=str(folder))
    assert len(t.tokens) == n == 402
    assert any("384" in w for w in t.warnings)
    with pytest.raises(encoder_cli.EncoderError, match="at most 512"):
        encoder_cli.explain("word " * 600, model=str(folder))
