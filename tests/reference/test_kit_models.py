"""The tiny checkpoints of tests/kit/models.py are what they claim, by transformers alone: each
loads with AutoModel and AutoTokenizer, as the family's classes, with every weight as saved;
no weight is a trivial 0 or 1; the tokenizer's ids fit the vocabulary and its pad id is the config's."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoModel, AutoTokenizer

from tests.kit.models import FAMILIES, VARIANTS
from tests.kit.tokenizers import HARD_STRINGS


@pytest.mark.parametrize("variant", VARIANTS)
def test_a_built_folder_loads_with_transformers_as_its_family(tiny, variant: str) -> None:
    family, arguments = VARIANTS[variant]
    folder = tiny(family, **arguments)
    config = json.loads((folder / "config.json").read_text())
    assert config["model_type"] == family
    assert {k: config[k] for k in FAMILIES[family]} == FAMILIES[family] | {
        k: v for k, v in arguments.items() if k != "masked_lm"
    }
    model = AutoModel.from_pretrained(folder)
    assert model.config.model_type == family and model.__class__.__name__.lower().startswith(family.replace("-", ""))

    stored = load_file(folder / "model.safetensors")
    prefix = f"{model.base_model_prefix}." if arguments.get("masked_lm") else ""
    state = model.state_dict()
    unsaved = {n for n in state if prefix + n not in stored}  # a masked LM has no pooler: transformers makes one
    assert bool(unsaved) == bool(prefix) and all(n.startswith("pooler.") for n in unsaved)
    for name in state.keys() - unsaved:
        value = state[name]
        assert torch.equal(value, stored[prefix + name]), name  # loaded as saved: nothing re-initialised
        assert not torch.isin(value, torch.tensor([0.0, 1.0])).any(), name

    tokenizer = AutoTokenizer.from_pretrained(folder)
    assert tokenizer.pad_token_id == config["pad_token_id"] == model.config.pad_token_id
    for sentence in HARD_STRINGS:
        ids = tokenizer(sentence)["input_ids"]
        assert max(ids) < config["vocab_size"] and len(ids) >= 3, sentence
    assert max(tokenizer.get_vocab().values()) == config["vocab_size"] - 1  # every row has a token
