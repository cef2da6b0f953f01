"""Tiny random-initialised checkpoints of every encoder family, built with transformers itself.

build() makes the family's config (AutoConfig.for_model, small sizes), its base model
(AutoModel.from_config: the tensor names a base checkpoint saves; masked_lm=True saves a
...ForMaskedLM instead, whose names carry the family's prefix, `roberta.encoder...`, and
classifier=True a ...ForSequenceClassification, its labels from the overrides' id2label), redraws
every parameter from a generator seeded by the family's name, so that none is a trivial 0 or 1
(LayerNorm's gamma in 1 ± 0.3), and saves it with save_pretrained beside the family's tokenizer
(tests.kit.tokenizers). Where the family is used through sentence-transformers in real life,
the folder also gets modules.json and 1_Pooling/config.json (and Normalize).

Weights are scaled by 1/sqrt(fan in), so that a head's scores stay near 1 and its softmax is
not one-hot: a comparison of attention weights then compares something.
"""

from __future__ import annotations

import json
import zlib
from pathlib import Path
from typing import Any

# Each family's config: small sizes, the tokenizer's vocabulary and pad id added by build().
# Token types and layer_norm_eps as the family's real checkpoints have them.
FAMILIES: dict[str, dict[str, Any]] = {
    "bert": {"hidden_size": 24, "num_attention_heads": 3, "num_hidden_layers": 2, "intermediate_size": 37,
             "max_position_embeddings": 48},
    "roberta": {"hidden_size": 16, "num_attention_heads": 2, "num_hidden_layers": 3, "intermediate_size": 41,
                "max_position_embeddings": 60, "type_vocab_size": 1, "layer_norm_eps": 1e-5},
    "xlm-roberta": {"hidden_size": 32, "num_attention_heads": 4, "num_hidden_layers": 2, "intermediate_size": 64,
                    "max_position_embeddings": 64, "type_vocab_size": 1, "layer_norm_eps": 1e-5},
    "camembert": {"hidden_size": 20, "num_attention_heads": 4, "num_hidden_layers": 2, "intermediate_size": 53,
                  "max_position_embeddings": 58, "type_vocab_size": 1, "layer_norm_eps": 1e-5},
    "distilbert": {"dim": 24, "n_heads": 2, "n_layers": 3, "hidden_dim": 45, "max_position_embeddings": 45},
    # ALBERT: E < hidden, one group shared by all layers (override embedding_size=24, num_hidden_layers=4,
    # num_hidden_groups=2 for E == hidden and two groups of two layers)
    "albert": {"embedding_size": 12, "hidden_size": 24, "num_attention_heads": 3, "num_hidden_layers": 3,
               "num_hidden_groups": 1, "inner_group_num": 1, "intermediate_size": 50, "max_position_embeddings": 56},
    # ELECTRA: a discriminator's E == hidden (no projection); override embedding_size=16 for a generator's
    "electra": {"embedding_size": 32, "hidden_size": 32, "num_attention_heads": 4, "num_hidden_layers": 2,
                "intermediate_size": 60, "max_position_embeddings": 50},
    # MPNet: 300 positions, so that a sentence of over 130 tokens reaches the far buckets
    "mpnet": {"hidden_size": 24, "num_attention_heads": 4, "num_hidden_layers": 2, "intermediate_size": 43,
              "max_position_embeddings": 300, "layer_norm_eps": 1e-5, "relative_attention_num_buckets": 32},
    # ModernBERT: layers 0 and 3 global, 1 and 2 local with a window of 3 tokens either side (local_attention 6,
    # shorter than the test sentences), rotary bases of its own (not the defaults), no biases
    "modernbert": {"hidden_size": 24, "num_attention_heads": 3, "num_hidden_layers": 4, "intermediate_size": 19,
                   "max_position_embeddings": 64, "global_attn_every_n_layers": 3, "local_attention": 6,
                   "global_rope_theta": 1000.0, "local_rope_theta": 50.0, "cls_token_id": 2, "sep_token_id": 3,
                   "bos_token_id": 2, "eos_token_id": 3},  # BERT_SPECIALS: [CLS]=2, [SEP]=3
    # DeBERTa-v3's layout (relative positions only, no token types, keys shared, the relative embeddings
    # normalised) at d_k 8: √(d_k × 3) = √24, not a whole number; 8 log buckets (δ itself up to 4 away) ending
    # at max_relative_positions 16, so that the test sentences reach the table's edge
    "deberta-v2": {"hidden_size": 32, "num_attention_heads": 4, "num_hidden_layers": 3, "intermediate_size": 37,
                   "max_position_embeddings": 64, "type_vocab_size": 0, "layer_norm_eps": 1e-7,
                   "relative_attention": True, "pos_att_type": ["p2c", "c2p"], "position_buckets": 8,
                   "max_relative_positions": 16, "norm_rel_ebd": "layer_norm", "share_att_key": True,
                   "position_biased_input": False},
}  # fmt: skip
# DeBERTa's variants (tests/reference/test_deberta.py), by id: build()'s overrides.
DEBERTA: dict[str, dict[str, Any]] = {
    "v3": {},
    "v3-square": {"hidden_size": 24, "num_attention_heads": 2},  # d_k 12: √(12 × 3) = 6, exact in float32
    # DeBERTa-v2's older options: absolute positions added and token types, position keys of their own
    # (pos_key_proj, pos_query_proj), no buckets (δ = i − j, within −6 … 5), no LayerNorm of the relative
    # embeddings, pos_att_type written as a string
    "v2-absolute": {"position_biased_input": True, "type_vocab_size": 2, "share_att_key": False,
                    "position_buckets": -1, "max_relative_positions": 6, "norm_rel_ebd": "none",
                    "pos_att_type": "c2p|p2c"},
    "c2p-only": {"pos_att_type": ["c2p"]},  # two terms: √(d_k × 2) = 4
    # no relative attention: absolute positions alone, the scores still over √(d_k × 3) (pos_att_type counts)
    "absolute-only": {"relative_attention": False, "position_biased_input": True},
}  # fmt: skip

# sentence-transformers' modules where the family is used through it: (pooling mode, Normalize).
POOLING = {"mpnet": ("mean_tokens", True), "bert": ("cls_token", True), "xlm-roberta": ("mean_tokens", False)}

# The checkpoints the tests compare, by id: (family, build()'s arguments).
VARIANTS: dict[str, tuple[str, dict[str, Any]]] = {
    "bert": ("bert", {}),
    "roberta": ("roberta", {}),
    "roberta-masked-lm": ("roberta", {"masked_lm": True}),  # tensors named roberta.encoder...
    "xlm-roberta": ("xlm-roberta", {}),
    "camembert": ("camembert", {}),
    "distilbert": ("distilbert", {}),
    "albert": ("albert", {}),  # E 12, hidden 24, three layers of one group
    "albert-two-groups": ("albert", {"embedding_size": 24, "num_hidden_layers": 4, "num_hidden_groups": 2}),
    "albert-masked-lm": ("albert", {"masked_lm": True}),  # tensors named albert.encoder...
    "electra-discriminator": ("electra", {}),  # E == hidden: no projection
    "electra-generator": ("electra", {"embedding_size": 16}),  # E 16, hidden 32
    "mpnet": ("mpnet", {}),
}

# Checkpoints with a head (tests/reference/test_heads.py), by id: (family, build()'s arguments).
SENTIMENT = {"id2label": {0: "negative", 1: "neutral", 2: "positive"}}
HEADS: dict[str, tuple[str, dict[str, Any]]] = {
    "bert-masked-lm": ("bert", {"masked_lm": True}),
    "roberta-masked-lm": ("roberta", {"masked_lm": True}),
    "distilbert-masked-lm": ("distilbert", {"masked_lm": True}),
    "albert-masked-lm": ("albert", {"masked_lm": True}),  # transform d -> E
    "electra-generator-masked-lm": ("electra", {"masked_lm": True, "embedding_size": 16}),
    "mpnet-masked-lm": ("mpnet", {"masked_lm": True}),
    "bert-classifier": ("bert", {"classifier": True} | SENTIMENT),
    "distilbert-classifier": ("distilbert", {"classifier": True} | SENTIMENT),
    "roberta-classifier": ("roberta", {"classifier": True} | SENTIMENT),
    "albert-classifier": ("albert", {"classifier": True, "id2label": {0: "no", 1: "yes"}}),
    "electra-classifier": ("electra", {"classifier": True} | SENTIMENT),
    "mpnet-classifier": ("mpnet", {"classifier": True} | SENTIMENT),
    # DeBERTa at d_k 12 (√36: transformers' float32 root is exact): the legacy head (cls.predictions), ContextPooler
    "deberta-v2-masked-lm": ("deberta-v2", {"masked_lm": True, **DEBERTA["v3-square"]}),
    "deberta-v2-classifier": ("deberta-v2", {"classifier": True, **DEBERTA["v3-square"]} | SENTIMENT),
    "bert-regression": ("bert", {"classifier": True, "num_labels": 1}),  # a cross-encoder's score
    "roberta-multi-label": ("roberta", {"classifier": True, "problem_type": "multi_label_classification",
                                        "id2label": {0: "toxic", 1: "insult", 2: "threat", 3: "obscene"}}),
}  # fmt: skip


def build(family: str, folder: Path, *, masked_lm: bool = False, classifier: bool = False, **overrides: Any) -> Path:
    """A tiny checkpoint of `family` in `folder` (made), its config FAMILIES[family] | overrides."""
    import torch
    from transformers import (
        AutoConfig,
        AutoModel,
        AutoModelForMaskedLM,
        AutoModelForSequenceClassification,
        PreTrainedTokenizerFast,
    )

    from tests.kit.tokenizers import save_tokenizer

    folder.mkdir(parents=True)
    save_tokenizer(family, folder)
    tokenizer = PreTrainedTokenizerFast.from_pretrained(folder)
    sizes = {"vocab_size": len(tokenizer), "pad_token_id": tokenizer.pad_token_id} | FAMILIES[family] | overrides
    config = AutoConfig.for_model(family, **sizes)
    kind = AutoModelForMaskedLM if masked_lm else AutoModelForSequenceClassification if classifier else AutoModel
    model = kind.from_config(config)
    generator = torch.Generator().manual_seed(zlib.crc32(family.encode()))
    with torch.no_grad():
        for name, p in model.named_parameters():
            draw = torch.randn(p.shape, generator=generator)
            if "norm" in name.lower() and name.endswith("weight"):  # LayerNorm's gamma: 1 ± 0.3
                p.copy_(1 + 0.3 * (2 * torch.rand(p.shape, generator=generator) - 1))
            elif p.dim() == 2 and "embedding" not in name:  # a matrix (out x in): 1/sqrt(fan in)
                p.copy_(draw / p.shape[1] ** 0.5)
            else:  # embedding tables (MPNet's relative_attention_bias too) and biases
                p.copy_(0.5 * draw)
    model.save_pretrained(folder, safe_serialization=True)
    if family in POOLING:
        _sentence_transformers(folder, *POOLING[family], config.hidden_size, config.max_position_embeddings)
    return folder


def _sentence_transformers(folder: Path, mode: str, normalize: bool, d: int, positions: int) -> None:
    modules = [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
    ]
    if normalize:
        modules.append({"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"})
    (folder / "modules.json").write_text(json.dumps(modules, indent=2))
    (folder / "1_Pooling").mkdir()
    modes = ("cls_token", "mean_tokens", "max_tokens", "mean_sqrt_len_tokens")
    pooling = {"word_embedding_dimension": d} | {f"pooling_mode_{m}": m == mode for m in modes}
    (folder / "1_Pooling" / "config.json").write_text(json.dumps(pooling, indent=2))
    # where sentence-transformers cuts: past every test sentence but the longest the positions allow
    (folder / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": positions - 2}))


class Built:
    """build(), once a test session for each set of arguments: the folders under `root`."""

    def __init__(self, root: Path) -> None:
        self.root, self.folders = root, dict[tuple[Any, ...], Path]()

    def __call__(self, family: str, **arguments: Any) -> Path:
        key = (family, repr(sorted(arguments.items())))  # id2label is a dict: keyed by its text
        if key not in self.folders:
            self.folders[key] = build(family, self.root / f"{len(self.folders)}-{family}", **arguments)
        return self.folders[key]
