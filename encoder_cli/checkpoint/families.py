"""The encoder families `--model` reads, one row each: an architecture is data.

Every family here is BERT's post-norm encoder (embeddings summed and normalised, then layers of
attention and FFN, each followed by Add & LayerNorm), and differs from BERT in named places:
its tensor and config.json names, which optional steps it has, where its positions start, its
default activation. A family that brings a new kind of step names it here (`projection`,
`relative_bias`, `groups`) and the encoder runs it as one op (encoder.py, ops.py).

    family       token types  positions start   embedding projection      relative bias  layers
    bert         yes          0                 -                         -              own
    roberta      yes (1)      pad_token_id + 1  -                         -              own
    xlm-roberta, camembert: as roberta
    distilbert   -            0                 -                         -              own
    albert       yes          0                 always (E -> d)           -              shared by groups
    electra      yes          0                 when E != d               -              own
    mpnet        -            1 + 1 (fixed)     -                         32 buckets     own
    modernbert   -            none: rotary      -                         -              own
    deberta-v2   if any       0, or none (v3)   -                         disentangled   own

ModernBERT is the one pre-norm family: x + attention(LN(x)) (layer 0's LN the identity), then
x + FFN(LN(x)), and a final LayerNorm; no biases anywhere (LayerNorms without beta); Q, K and V in
one fused matrix Wqkv (its column blocks); its FFN gated (GeGLU: Wi makes an input half and a
gate half); each layer rotates Q and K by position (global theta on global layers, local theta on
local ones), and local layers see a window of local_attention // 2 tokens either side.

DeBERTa-v2 and v3 replace the seed's one score, Q Kᵀ, by three terms (disentangled attention): content to
content Q Kᵀ, content to position (c2p: each query with the key projection of the relative position's
embedding) and position to content (p2c: each key with the query projection of it), summed and scaled
by √(d_k × the number of terms). The relative position of key j to query i is δ = i − j, in log buckets
past position_buckets / 2 (make_log_bucket_position); its embedding is row δ + span of encoder.rel_embeddings
(span: position_buckets, else max_relative_positions), normalised by encoder.LayerNorm (norm_rel_ebd), and
shared by every layer; both c2p and p2c read row δ(i, j) + span (transformers' -r_pos in p2c is
bucket(j − i) negated, which is bucket(i − j)). With share_att_key the position projections are W_K and
W_Q themselves, else pos_key_proj and pos_query_proj. v3 adds no absolute positions to the input
(position_biased_input false) and has no token types (type_vocab_size 0).

A task checkpoint adds a head on the encoder's output, under its own tensor names (`masked_lm`,
`classifier`): a masked-LM head (dense, activation, LayerNorm, then the word embeddings, tied, or
a decoder of its own, plus a bias) and a sequence classifier (the first token's row through a
dense layer and an activation, then the labels' out projection):

    family       masked LM                                  activation   classifier (dense, act, out)
    bert         cls.predictions.transform.dense, .LayerNorm hidden_act   pooler.dense, tanh, classifier
    roberta      lm_head.dense, lm_head.layer_norm           gelu         classifier.dense, tanh, classifier.out_proj
    distilbert   vocab_transform, vocab_layer_norm           hidden_act   pre_classifier, relu, classifier
    albert       predictions.dense (d -> E), .LayerNorm      hidden_act   pooler, tanh, classifier
    electra      generator_predictions.dense (d -> E), ...   gelu         classifier.dense, gelu, classifier.out_proj
    mpnet        lm_head.dense, lm_head.layer_norm           gelu         classifier.dense, tanh, classifier.out_proj
    modernbert   head.dense, head.norm (no biases), decoder  classifier_activation (gelu)
                 classifier: the [CLS] row or the mean (classifier_pooling), head.dense, act, head.norm, classifier
    deberta-v2   cls.predictions.transform.dense, ... (legacy) hidden_act pooler.dense, gelu, classifier

Each row was checked against transformers 5.25's modeling_*.py; the defaults (a key config.json
leaves out) are the config classes' own, and tests/unit/test_families.py holds them to them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

# LayerWeights' fields, in BERT's tensor names under encoder.layer.{i}.
BERT_LAYER = {
    "W_Q": "attention.self.query",
    "W_K": "attention.self.key",
    "W_V": "attention.self.value",
    "W_O": "attention.output.dense",
    "norm_1": "attention.output.LayerNorm",
    "W_1": "intermediate.dense",
    "W_2": "output.dense",
    "norm_2": "output.LayerNorm",
}
# The config.json keys every family is read by (BERT's names), each with BertConfig's default.
BERT_DEFAULTS: Mapping[str, Any] = {
    "hidden_size": 768,
    "num_attention_heads": 12,
    "num_hidden_layers": 12,
    "intermediate_size": 3072,
    "max_position_embeddings": 512,
    "type_vocab_size": 2,
    "vocab_size": 30522,
    "hidden_act": "gelu",
    "layer_norm_eps": 1e-12,
    "pad_token_id": 0,
}


@dataclass(frozen=True)
class MaskedLM:
    """A masked-LM head's tensors: transform = LayerNorm(act(x W + b)), then logits = transform W_vocab + bias."""

    dense: str  # [d -> E]
    norm: str  # its LayerNorm (config.json's layer_norm_eps)
    decoder: str  # the output layer: its weight where stored, else the word embeddings (tied)
    bias: str  # one per word, tied to the decoder's own bias: that one where it is stored
    activation: str | None = None  # a key of checkpoint.ACTIVATIONS; None: config.json's hidden_act
    activation_key: str | None = None  # config.json's key naming it, where the head has its own (default: activation)


@dataclass(frozen=True)
class Classifier:
    """A sequence classifier's tensors: pooled = act(x[0] W + b), logits = pooled W_out + b_out."""

    dense: str  # [d -> d]
    activation: str  # "tanh", "relu" or "gelu"
    out: str  # [d -> labels]
    norm: str | None = None  # a LayerNorm of the pooled row, before out (ModernBERT's head.norm)
    activation_key: str | None = None  # config.json's key naming the activation, where it has one
    pooling_key: str | None = None  # config.json's key saying "cls" (x[0]) or "mean" (the rows' mean), where it has one


# ModernBERT's LayerWeights' fields, under layers.{i}.: Q, K and V fused (W_QKV), no norm_1 in layer 0.
MODERN_LAYER = {"W_QKV": "attn.Wqkv", "W_O": "attn.Wo", "norm_1": "attn_norm", "W_1": "mlp.Wi", "W_2": "mlp.Wo",
                "norm_2": "mlp_norm"}  # fmt: skip
MODERN_DEFAULTS: Mapping[str, Any] = {  # ModernBertConfig's
    **{k: v for k, v in BERT_DEFAULTS.items() if k != "type_vocab_size"},
    "intermediate_size": 1152,
    "num_hidden_layers": 22,
    "max_position_embeddings": 8192,
    "vocab_size": 50368,
    "layer_norm_eps": 1e-5,
    "pad_token_id": 50283,
}
# DeBERTa-v2's LayerWeights' fields: BERT's layout under other names; the position projections when the keys
# are not shared with the content (share_att_key false).
DEBERTA_LAYER = {**BERT_LAYER, "W_Q": "attention.self.query_proj", "W_K": "attention.self.key_proj",
                 "W_V": "attention.self.value_proj"}  # fmt: skip
POSITION_PROJECTIONS = {"W_Kr": "attention.self.pos_key_proj", "W_Qr": "attention.self.pos_query_proj"}
DEBERTA_DEFAULTS: Mapping[str, Any] = {  # DebertaV2Config's
    **BERT_DEFAULTS,
    "hidden_size": 1536,
    "num_attention_heads": 24,
    "num_hidden_layers": 24,
    "intermediate_size": 6144,
    "type_vocab_size": 0,
    "vocab_size": 128100,
    "layer_norm_eps": 1e-7,
    "relative_attention": False,
    "max_relative_positions": -1,
    "position_biased_input": True,
    "pos_att_type": None,
}
# What modeling_deberta_v2.py reads with getattr(config, key, default), keys no config class declares.
DEBERTA_GETATTR: Mapping[str, Any] = {"position_buckets": -1, "share_att_key": False, "norm_rel_ebd": "none",
                                      "conv_kernel_size": 0}  # fmt: skip
BERT_MLM = MaskedLM("cls.predictions.transform.dense", "cls.predictions.transform.LayerNorm", "cls.predictions.decoder",
                    "cls.predictions.bias")  # fmt: skip
LM_HEAD = MaskedLM("lm_head.dense", "lm_head.layer_norm", "lm_head.decoder", "lm_head.bias", "gelu")
OUT_PROJ = Classifier("classifier.dense", "tanh", "classifier.out_proj")


@dataclass(frozen=True)
class Family:
    model_type: str  # config.json's
    name: str  # as people write it: "RoBERTa"
    prefix: str  # the base model's tensor prefix in task checkpoints ("roberta." in RobertaForMaskedLM)
    defaults: Mapping[str, Any] = field(default_factory=lambda: BERT_DEFAULTS)  # BERT's key -> default
    keys: Mapping[str, str] = field(default_factory=dict)  # BERT's key -> this family's, where it differs
    fixed: Mapping[str, Any] = field(default_factory=dict)  # what the modelling code fixes, whatever the config says
    layer: str = "encoder.layer.{i}."  # a layer's tensors; ALBERT's are a group's ({g})
    tensors: Mapping[str, str] = field(default_factory=lambda: BERT_LAYER)  # LayerWeights' fields -> names
    token_types: bool = True
    positions_after_padding: bool = False  # positions start at pad_token_id + 1 (RoBERTa's create_position_ids)
    projection: str | None = None  # the embedding projection E -> d, where the family has one
    project_always: bool = False  # ALBERT projects even when E == d; ELECTRA only when they differ
    relative_bias: str | None = None  # MPNet's table of learned biases, [buckets, heads]
    groups: bool = False  # ALBERT: layers share the weights of their group
    special: tuple[str, str] = ("[CLS]", "[SEP]")  # around a sentence, for a folder with only vocab.txt
    known_as: str = ""  # checkpoints of this shape, for messages
    # What it does differently from the seed's encoder, for the header: (aspect, how), the how filled in from
    # config.json (pretrained.differences: {window}, {local}, {global}, {activation}, {terms}, {count}); a line
    # naming what the model has none of ({local}: no local layers; {terms}: no relative terms) is left out
    differs: tuple[tuple[str, str], ...] = ()
    masked_lm: MaskedLM = BERT_MLM  # the tensors of its masked-LM head, where a checkpoint has one
    classifier: Classifier = Classifier("pooler.dense", "tanh", "classifier")  # of its sequence classifier
    words: str = "embeddings.word_embeddings"  # the word embeddings
    embedding_norm: str = "embeddings.LayerNorm"  # their LayerNorm
    positions: bool = True  # a learned table of positions, added to the input (ModernBERT: none, rotary)
    biases: bool = True  # its linear layers and LayerNorms have biases (ModernBERT: none)
    final_norm: str | None = None  # a pre-norm family's LayerNorm after the last layer (its layers are pre-norm)
    gated: bool = False  # a GeGLU FFN: W_1 [d, 2 d_ff], an input half and a gate half
    relative_embeddings: str | None = None  # DeBERTa's relative position embeddings [2 span, d], shared by all layers
    relative_norm: str | None = None  # their LayerNorm, where config.json's norm_rel_ebd says layer_norm


def _without(*keys: str) -> dict[str, Any]:
    """BERT's defaults but for keys a family does not read."""
    return {k: v for k, v in BERT_DEFAULTS.items() if k not in keys}


_ROBERTA = Family(
    "roberta",
    "RoBERTa",
    "roberta.",
    defaults={**BERT_DEFAULTS, "vocab_size": 50265, "pad_token_id": 1},
    positions_after_padding=True,
    special=("<s>", "</s>"),
    masked_lm=LM_HEAD,
    classifier=OUT_PROJ,
)
FAMILIES = {
    f.model_type: f
    for f in [
        Family("bert", "BERT", "bert.", known_as="BERT, MiniLM, BGE, E5"),
        _ROBERTA,
        replace(_ROBERTA, model_type="xlm-roberta", name="XLM-RoBERTa", defaults={**BERT_DEFAULTS, "pad_token_id": 1}),
        replace(_ROBERTA, model_type="camembert", name="CamemBERT", defaults={**BERT_DEFAULTS, "pad_token_id": 1}),
        Family(
            "distilbert",
            "DistilBERT",
            "distilbert.",
            defaults={**_without("type_vocab_size", "layer_norm_eps"), "num_hidden_layers": 6},
            keys={
                "hidden_size": "dim",
                "num_attention_heads": "n_heads",
                "num_hidden_layers": "n_layers",
                "intermediate_size": "hidden_dim",
                "hidden_act": "activation",
            },
            fixed={"layer_norm_eps": 1e-12},
            layer="transformer.layer.{i}.",
            tensors={
                "W_Q": "attention.q_lin",
                "W_K": "attention.k_lin",
                "W_V": "attention.v_lin",
                "W_O": "attention.out_lin",
                "norm_1": "sa_layer_norm",
                "W_1": "ffn.lin1",
                "W_2": "ffn.lin2",
                "norm_2": "output_layer_norm",
            },
            token_types=False,
            masked_lm=MaskedLM("vocab_transform", "vocab_layer_norm", "vocab_projector", "vocab_projector.bias"),
            classifier=Classifier("pre_classifier", "relu", "classifier"),
        ),
        Family(
            "albert",
            "ALBERT",
            "albert.",
            defaults={
                **BERT_DEFAULTS,
                "hidden_size": 4096,
                "num_attention_heads": 64,
                "intermediate_size": 16384,
                "vocab_size": 30000,
                "hidden_act": "gelu_new",
                "embedding_size": 128,
                "num_hidden_groups": 1,
                "inner_group_num": 1,
            },
            layer="encoder.albert_layer_groups.{g}.albert_layers.0.",
            tensors={
                "W_Q": "attention.query",
                "W_K": "attention.key",
                "W_V": "attention.value",
                "W_O": "attention.dense",
                "norm_1": "attention.LayerNorm",
                "W_1": "ffn",
                "W_2": "ffn_output",
                "norm_2": "full_layer_layer_norm",
            },
            projection="encoder.embedding_hidden_mapping_in",
            project_always=True,
            groups=True,
            masked_lm=MaskedLM("predictions.dense", "predictions.LayerNorm", "predictions.decoder", "predictions.bias"),
            classifier=Classifier("pooler", "tanh", "classifier"),
        ),
        Family(
            "electra",
            "ELECTRA",
            "electra.",
            defaults={
                **BERT_DEFAULTS,
                "hidden_size": 256,
                "num_attention_heads": 4,
                "intermediate_size": 1024,
                "embedding_size": 128,
            },
            projection="embeddings_project",
            masked_lm=MaskedLM(
                "generator_predictions.dense",
                "generator_predictions.LayerNorm",
                "generator_lm_head",
                "generator_lm_head.bias",
                "gelu",
            ),
            classifier=Classifier("classifier.dense", "gelu", "classifier.out_proj"),
        ),
        Family(
            "mpnet",
            "MPNet",
            "mpnet.",
            defaults={
                **_without("type_vocab_size", "pad_token_id"),
                "vocab_size": 30527,
                "relative_attention_num_buckets": 32,
            },
            fixed={"pad_token_id": 1},  # MPNetEmbeddings: self.padding_idx = 1
            tensors={
                "W_Q": "attention.attn.q",
                "W_K": "attention.attn.k",
                "W_V": "attention.attn.v",
                "W_O": "attention.attn.o",
                "norm_1": "attention.LayerNorm",
                "W_1": "intermediate.dense",
                "W_2": "output.dense",
                "norm_2": "output.LayerNorm",
            },
            token_types=False,
            positions_after_padding=True,
            relative_bias="encoder.relative_attention_bias.weight",
            special=("<s>", "</s>"),
            masked_lm=LM_HEAD,
            classifier=OUT_PROJ,
        ),
        Family(
            "modernbert",
            "ModernBERT",
            "model.",
            defaults=MODERN_DEFAULTS,
            keys={"hidden_act": "hidden_activation", "layer_norm_eps": "norm_eps"},
            layer="layers.{i}.",
            tensors=MODERN_LAYER,
            token_types=False,
            words="embeddings.tok_embeddings",
            embedding_norm="embeddings.norm",
            masked_lm=MaskedLM("head.dense", "head.norm", "decoder", "decoder.bias", "gelu", "classifier_activation"),
            classifier=Classifier(
                "head.dense", "gelu", "classifier", "head.norm", "classifier_activation", "classifier_pooling"
            ),
            positions=False,
            differs=(
                ("Positions", "rotary, not added: each layer turns Q and K by position"),
                ("Attention", "a local window of ±{window} tokens on layers {local}; global on layers {global}"),
                ("FFN", "GeGLU: {activation}(one half of x W_1) ⊙ the other half, the gate"),
                ("Norm", "pre-norm, a LayerNorm before each sublayer; a final norm"),
            ),
            biases=False,
            final_norm="final_norm",
            gated=True,
        ),
        Family(
            "deberta-v2",
            "DeBERTa-v2",
            "deberta.",
            defaults=DEBERTA_DEFAULTS,
            tensors=DEBERTA_LAYER,
            known_as="DeBERTa-v2, DeBERTa-v3",
            classifier=Classifier("pooler.dense", "gelu", "classifier"),  # ContextPooler: pooler_hidden_act
            relative_embeddings="encoder.rel_embeddings.weight",
            relative_norm="encoder.LayerNorm",
            differs=(
                ("Attention", "disentangled: Q Kᵀ + {terms}, relative positions in log buckets, over √(d_k × {count})"),
            ),
        ),
    ]
}
# ModernBERT's rotary bases, when config.json names none (ModernBertConfig.default_theta)
ROPE_THETA = {"full_attention": 160_000.0, "sliding_attention": 10_000.0}
# MPNet's buckets: transformers' compute_position_bias uses 32 whatever relative_attention_num_buckets says.
BUCKETS = 32


def listed() -> str:
    """The families, for messages and help: 'bert (BERT, MiniLM, BGE, E5), roberta, ...'."""
    return ", ".join(f"{t} ({f.known_as})" if f.known_as else t for t, f in FAMILIES.items())
