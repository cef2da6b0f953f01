"""The architecture table (encoder_cli/checkpoint/families.py) against transformers' own code:
each family's defaults are its config class's, its tensor names are the ones its model saves,
and MPNet's buckets are transformers' relative_position_bucket. The families' numbers, step by
step, are held to transformers in test_families.py."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from transformers import AutoConfig, AutoModel
from transformers.models.mpnet.modeling_mpnet import MPNetEncoder

from encoder_cli.checkpoint import EMBEDDING_NORM, POSITIONS, TYPES, WORDS, layer_tensors
from encoder_cli.checkpoint.families import FAMILIES
from encoder_cli.ops import bucket


@pytest.mark.parametrize("model_type", FAMILIES)
def test_defaults_are_the_config_classes(model_type: str) -> None:
    family = FAMILIES[model_type]
    config = AutoConfig.for_model(model_type)
    for key, default in family.defaults.items():
        theirs = getattr(config, family.keys.get(key, key))
        assert theirs == default, (model_type, key)
    assert not set(family.fixed) & set(family.defaults)  # fixed: the model ignores what the config says


@pytest.mark.parametrize("model_type", FAMILIES)
def test_tensor_names_are_the_ones_the_model_saves(model_type: str) -> None:
    """Every tensor the table reads is in the state dict of a small model of the family (and, with
    the prefix, in its masked-LM model's), and of the same kind (weight or bias)."""
    family = FAMILIES[model_type]
    small = {"hidden_size": 16, "num_attention_heads": 2, "num_hidden_layers": 2, "intermediate_size": 24}
    if model_type == "distilbert":
        small = {"dim": 16, "n_heads": 2, "n_layers": 2, "hidden_dim": 24}
    config = AutoConfig.for_model(model_type, vocab_size=50, max_position_embeddings=20, **small)
    saved = set(AutoModel.from_config(config).state_dict())
    ours = {WORDS, POSITIONS, f"{EMBEDDING_NORM}.weight", f"{EMBEDDING_NORM}.bias"}
    ours |= {TYPES} if family.token_types else set()
    ours |= {f"{family.projection}.weight", f"{family.projection}.bias"} if family.projection else set()
    ours |= {family.relative_bias} if family.relative_bias else set()
    ours |= {name for name, _ in layer_tensors(family, 0).values()}
    assert ours <= saved, ours - saved
    assert (TYPES in saved) == family.token_types


def test_mpnet_buckets_are_transformers() -> None:
    relative = torch.arange(-5000, 5001)
    theirs = MPNetEncoder.relative_position_bucket(relative).numpy()
    ours = np.array([bucket(0, int(j)) for j in relative])  # j - i = relative, with i = 0
    np.testing.assert_array_equal(ours, theirs)
    shifted = np.array([bucket(17, 17 + int(j)) for j in relative])  # only the offset counts
    np.testing.assert_array_equal(shifted, theirs)


@pytest.mark.parametrize(
    ("i", "j", "expected"),
    [
        (0, 0, 0),  # the token itself
        (3, 0, 3),  # a key 3 before the query: its distance
        (0, 3, 19),  # a key 3 after: 16 + 3
        (10, 0, 8),  # 10 before: 8 + floor(8 ln(10/8) / ln 16) = 8 + floor(0.644) = 8
        (0, 16, 26),  # 16 after: 16 + 8 + floor(8 ln 2 / ln 16) = 16 + 8 + 2
        (0, 127, 31),  # 8 + floor(8 ln(127/8) / ln 16) = 8 + floor(7.98) = 15, + 16
        (500, 0, 15),  # far before: at most 15
    ],
)
def test_buckets_worked_by_hand(i: int, j: int, expected: int) -> None:
    assert bucket(i, j) == expected
