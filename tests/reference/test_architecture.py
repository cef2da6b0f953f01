"""The architecture table (encoder_cli/checkpoint/families.py) against transformers' own code:
each family's defaults are its config class's, its tensor names are the ones its model saves,
and MPNet's buckets are transformers' relative_position_bucket (DeBERTa's: test_deberta.py). The families'
numbers, step by step, are held to transformers in test_families.py."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
from transformers import AutoConfig, AutoModel
from transformers.models.mpnet.modeling_mpnet import MPNetEncoder

from encoder_cli.checkpoint import POSITIONS, TYPES, layer_tensors
from encoder_cli.checkpoint.families import FAMILIES, ROPE_THETA
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
    small: dict[str, Any] = {"hidden_size": 16, "num_attention_heads": 2, "num_hidden_layers": 2}
    small["intermediate_size"] = 24
    if model_type == "distilbert":
        small = {"dim": 16, "n_heads": 2, "n_layers": 2, "hidden_dim": 24}
    if model_type == "modernbert":  # its pad id, 50283, is past a small vocabulary
        small |= {"pad_token_id": 0}
    if model_type == "deberta-v2":  # token types, relative embeddings and their norm, position projections of their own
        small |= {"type_vocab_size": 2, "relative_attention": True, "position_buckets": 4, "norm_rel_ebd": "layer_norm",
                  "pos_att_type": ["c2p", "p2c"], "share_att_key": False}  # fmt: skip
    config = AutoConfig.for_model(model_type, vocab_size=50, max_position_embeddings=20, **small)
    saved = set(AutoModel.from_config(config).state_dict())
    norms = [family.embedding_norm, *([family.final_norm] if family.final_norm else [])]
    ours = {f"{family.words}.weight"} | ({POSITIONS} if family.positions else set())
    ours |= {f"{norm}.{p}" for norm in norms for p in ("weight", "bias")[: 1 + family.biases]}
    ours |= {TYPES} if family.token_types else set()
    ours |= {f"{family.projection}.weight", f"{family.projection}.bias"} if family.projection else set()
    ours |= {family.relative_bias} if family.relative_bias else set()
    ours |= {family.relative_embeddings} if family.relative_embeddings else set()
    ours |= {f"{family.relative_norm}.{p}" for p in ("weight", "bias")} if family.relative_norm else set()
    own = ("W_Kr", "W_Qr") if family.relative_embeddings else ()  # DeBERTa's pos_key_proj, pos_query_proj
    ours |= {name for g in ((0,) if family.groups else (0, 1)) for name, _ in layer_tensors(family, g, own).values()}
    assert ours <= saved, ours - saved
    assert (TYPES in saved) == family.token_types
    assert (POSITIONS in saved) == family.positions
    assert not family.biases or any(name.endswith(".bias") for name in saved)
    if not family.biases:  # what the table leaves out is not there to read: ModernBERT saves no bias
        assert not any(name.endswith(".bias") for name in saved), model_type
        assert "layers.0.attn_norm.weight" not in saved and "layers.1.attn_norm.weight" in ours


def test_modernbert_rotary_bases_are_the_config_classes() -> None:
    config = AutoConfig.for_model("modernbert")
    assert {kind: config.rope_parameters[kind]["rope_theta"] for kind in ROPE_THETA} == ROPE_THETA
    assert (config.local_attention, config.layer_types[:4]) == (
        128,
        ["full_attention", "sliding_attention", "sliding_attention", "full_attention"],
    )


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
