"""A Hugging Face encoder checkpoint of one of the families in families.py, read lazily and safely.

`load(name)` finds the folder (a path, or a model id, from the Hugging Face cache or downloaded there), checks
config.json against its family's row, the tokenizer files and every safetensors header up front,
and reads no big tensor. The Checkpoint then reads only what is asked for: the sentence's rows of
the word embeddings, one layer at a time, each widened to float64 and checked for NaN and infinity.
A layer's matrices are read each time they are used (StoredMatrix), so no layer's weights outlive
its use.

Every matrix is stored (inputs x outputs), so that y = x @ W + b: the transpose of torch's
(out, in) nn.Linear weight. Sharded checkpoints (model.safetensors.index.json) are read, each
tensor from the shard its weight_map names; pytorch_model.bin (a pickle) is never opened.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from itertools import chain
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import numpy.typing as npt

from encoder_cli.checkpoint import heads
from encoder_cli.checkpoint.families import (
    BUCKETS,
    DEBERTA_GETATTR,
    FAMILIES,
    POSITION_PROJECTIONS,
    ROPE_THETA,
    Family,
    listed,
)
from encoder_cli.checkpoint.folder import JSON_CAP, read_json, read_json_object, resolve
from encoder_cli.checkpoint.safetensors_file import FLOATS, SafetensorsFile, StoredMatrix, open_weights
from encoder_cli.errors import EncoderError, show
from encoder_cli.settings import Pooling, heads_fit

if TYPE_CHECKING:  # tokens imports tokenizers, which only a checkpoint's load needs
    from encoder_cli.checkpoint.tokens import Tokenized, Tokenizer

__all__ = ["Checkpoint", "LayerWeights", "Tokenized", "load"]


def __getattr__(name: str) -> Any:
    """Tokenized, imported (with tokenizers) when first asked for."""
    if name == "Tokenized":
        from encoder_cli.checkpoint.tokens import Tokenized

        return Tokenized
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


Array = npt.NDArray[np.float64]

# transformers' hidden_act names -> ours. The tanh forms are one formula, 0.5x(1 + tanh(sqrt(2/pi)(x + 0.044715x^3)))
# (gelu_fast rounds sqrt(2/pi) to 0.7978845608, 3e-12 off).
ACTIVATIONS = {"gelu": "gelu", "gelu_python": "gelu", "relu": "relu"}
ACTIVATIONS |= dict.fromkeys(
    ("gelu_new", "gelu_fast", "gelu_pytorch_tanh", "gelu_python_tanh", "gelu_accurate"), "gelu_tanh"
)
CONFIG_FIX = "give the folder of a Hugging Face encoder checkpoint"
POSITIONS = "embeddings.position_embeddings.weight"
TYPES = "embeddings.token_type_embeddings.weight"


@dataclass(frozen=True)
class LayerWeights:
    """One encoder layer in float64, matrices (inputs x outputs, read when used): y = x @ W + b."""

    W_Q: StoredMatrix  # [d, d]
    W_K: StoredMatrix
    W_V: StoredMatrix
    W_O: StoredMatrix  # [d, d]
    W_1: StoredMatrix  # [d, d_ff] (a gated FFN's [d, 2 d_ff])
    W_2: StoredMatrix  # [d_ff, d]
    norm_2_gamma: Array  # after the FFN (pre-norm: before it)
    shared_with: int  # the first layer with these weights: itself, unless the family shares them (ALBERT)
    norm_1_gamma: Array | None = None  # after attention (pre-norm: before it); None: the identity (layer 0)
    # The biases: None where the family has none (ModernBERT)
    b_Q: Array | None = None  # [d]
    b_K: Array | None = None
    b_V: Array | None = None
    b_O: Array | None = None
    b_1: Array | None = None  # [d_ff]
    b_2: Array | None = None  # [d]
    norm_1_beta: Array | None = None
    norm_2_beta: Array | None = None
    # DeBERTa's position projections, where they are not W_K and W_Q (share_att_key false)
    W_Kr: StoredMatrix | None = None  # [d, d]: pos_key_proj
    b_Kr: Array | None = None
    W_Qr: StoredMatrix | None = None  # [d, d]: pos_query_proj
    b_Qr: Array | None = None


class Config(NamedTuple):
    """config.json's architecture, checked, by BERT's key names (the family's defaults where it has none)."""

    hidden_size: int
    num_attention_heads: int
    num_hidden_layers: int
    intermediate_size: int
    max_position_embeddings: int
    type_vocab_size: int  # 0: no token types
    vocab_size: int
    hidden_act: str  # a key of ACTIVATIONS
    layer_norm_eps: float
    embedding_size: int  # E: the hidden size, unless the family has an embedding size of its own
    pad_token_id: int  # the padding index positions start after (RoBERTa, MPNet)
    num_hidden_groups: int  # ALBERT's groups of layers sharing weights; otherwise one group a layer
    relative_attention_num_buckets: int  # the rows of MPNet's relative bias table; 0 for the other families
    rope_thetas: tuple[float, ...] = ()  # ModernBERT: each layer's rotary base
    windows: tuple[int | None, ...] = ()  # ModernBERT: each layer's window either side (local_attention // 2), or None
    absolute_positions: bool = True  # a position table added to the input (DeBERTa: position_biased_input)
    relative: Relative | None = None  # DeBERTa's disentangled attention, where relative_attention is true
    score_terms: int = 1  # the terms under the scores' root, √(d_k × terms): DeBERTa's 1 + len(pos_att_type)


class Relative(NamedTuple):
    """DeBERTa's relative positions, as modeling_deberta_v2.py reads config.json."""

    span: int  # att_span: position_buckets, else max_relative_positions; the table has 2 span rows
    buckets: int  # position_buckets (log buckets past buckets // 2); 0: none, δ = i − j as it is
    max_distance: int  # max_relative_positions (max_position_embeddings when below 1)
    terms: tuple[str, ...]  # pos_att_type's, in the order transformers adds them: c2p, then p2c
    norm: bool  # the table through encoder.LayerNorm (norm_rel_ebd: layer_norm)
    projections: tuple[str, ...]  # LayerWeights' W_Kr, W_Qr where share_att_key is false (pos_key_proj, ...)


@dataclass(frozen=True)
class Checkpoint:
    path: Path  # the resolved folder
    name: str  # what the user typed
    family: Family
    config: Config
    pooling: Pooling | None  # sentence-transformers' pooling, else None
    normalize: bool  # sentence-transformers' Normalize module
    max_seq_length: int | None  # sentence_bert_config.json's max_seq_length
    tokenizer: Tokenizer = field(repr=False, compare=False)
    tensors: dict[str, tuple[SafetensorsFile, str]] = field(repr=False, compare=False)  # canonical name -> where

    @property
    def activation(self) -> str:
        """Ours: "gelu" (exact erf), "gelu_tanh" or "relu"."""
        return ACTIVATIONS[self.config.hidden_act]

    @property
    def projects(self) -> bool:
        """Whether the embeddings (size E) are projected to the hidden size before layer 0."""
        f, c = self.family, self.config
        return f.projection is not None and (f.project_always or c.embedding_size != c.hidden_size)

    def tokenize(self, sentence: str, pair: str | None = None) -> Tokenized:
        """The tokenizer's tokens, specials included (a pair's through its pair template); more tokens than
        the model has positions is an error (never cut). Token types: the post-processor's where the model
        has two or more, else 0 (RoBERTa's one type; DistilBERT and MPNet have none)."""
        tokenized = self.tokenizer.tokenize(sentence, pair)
        rows, types = self.config.vocab_size, self.config.type_vocab_size
        for token, i in zip(tokenized.tokens, tokenized.ids, strict=True):
            if i >= rows:  # an added token past the end of the vocabulary
                raise EncoderError(
                    f"{show(self.tokenizer.source)}: token {show(repr(token))} has id {i}, past the {rows} rows of "
                    "the word embeddings; leave it out of the sentence"
                )
        if types < 2:  # one token type (RoBERTa), or none: all 0
            tokenized = replace(tokenized, type_ids=[0] * len(tokenized.ids))
        elif (k := max(tokenized.type_ids)) >= types:
            token = tokenized.tokens[tokenized.type_ids.index(k)]
            raise EncoderError(
                f"{show(self.tokenizer.source)}: token {show(repr(token))} has type id {k}, past the {types} "
                "token types of config.json's type_vocab_size; give the model's own tokenizer"
            )
        positions = self.positions(tokenized.ids)
        if positions and positions[-1] >= self.config.max_position_embeddings:
            limit = self.config.max_position_embeddings - (positions[0] if positions[0] > 0 else 0)
            raise EncoderError(
                f"the {'two sentences make' if pair is not None else 'sentence makes'} {len(tokenized.ids)} tokens, "
                f"and {show(self.name)} takes at most {limit} "
                f"(max_position_embeddings {self.config.max_position_embeddings} in config.json"
                f"{', positions starting at ' + str(positions[0]) if positions[0] else ''}); shorten the sentence"
            )
        return tokenized

    def positions(self, ids: Sequence[int]) -> list[int]:
        """Each token's row of the position table: 0, 1, 2, ... ; for the families whose positions start
        after the padding index p, p+1, p+2, ..., and p for a padding token (transformers'
        create_position_ids_from_input_ids: cumsum(id != p) * (id != p) + p)."""
        if not self.family.positions_after_padding:
            return list(range(len(ids)))
        p = self.config.pad_token_id
        counted = np.cumsum([i != p for i in ids])
        return [int(k) + p if i != p else p for k, i in zip(counted, ids, strict=True)]

    def word_embeddings(self, ids: Sequence[int]) -> Array:
        """[n, E]: only these rows of the word-embedding table are read."""
        return self._read(f"{self.family.words}.weight", ids)

    def position_embeddings(self, rows: Sequence[int]) -> Array:
        """[n, E]: these rows of the position table."""
        return self._read(POSITIONS, rows)

    def token_type_embeddings(self, rows: Sequence[int]) -> Array:
        """[k, E]: these rows of the token type table (type 0: a sentence, or a pair's A; type 1: its B)."""
        return self._read(TYPES, rows)

    def embedding_norm(self) -> tuple[Array, Array]:
        """The embedding LayerNorm's gamma and beta, [E] each."""
        return self._norm(self.family.embedding_norm)

    def final_norm(self) -> tuple[Array, Array] | None:
        """A pre-norm family's LayerNorm after the last layer, [d] each; None for the others."""
        return None if self.family.final_norm is None else self._norm(self.family.final_norm)

    def _norm(self, name: str) -> tuple[Array, Array]:
        """A LayerNorm's gamma and beta; beta 0 where the family's LayerNorms have none (ModernBERT)."""
        gamma = self._read(f"{name}.weight")
        return gamma, self._read(f"{name}.bias") if self.family.biases else np.zeros_like(gamma)

    def projection(self) -> tuple[StoredMatrix, Array] | None:
        """The embedding projection's W [E, d] and b [d], where the model has one."""
        if not self.projects:
            return None
        name = self.family.projection
        return StoredMatrix(*self.tensors[f"{name}.weight"]), self._read(f"{name}.bias")

    def relative_bias(self) -> Array | None:
        """MPNet's learned biases, [buckets, heads]; None for the other families."""
        return None if self.family.relative_bias is None else self._read(self.family.relative_bias)

    def relative_embeddings(self, rows: Sequence[int]) -> Array:
        """DeBERTa: [k, d], these rows of the relative position embeddings (row δ + span for relative position δ)."""
        assert self.family.relative_embeddings is not None
        return self._read(self.family.relative_embeddings, rows)

    def relative_norm(self) -> tuple[Array, Array] | None:
        """DeBERTa: the relative embeddings' LayerNorm, where norm_rel_ebd names it; else None."""
        relative, name = self.config.relative, self.family.relative_norm
        return self._norm(name) if relative is not None and relative.norm and name is not None else None

    def group(self, i: int) -> int:
        """The stored layer (ALBERT: group) layer i uses: transformers' int(i / (layers / groups))."""
        c = self.config
        return int(i / (c.num_hidden_layers / c.num_hidden_groups)) if self.family.groups else i

    def layer(self, i: int) -> LayerWeights:
        if not 0 <= i < self.config.num_hidden_layers:
            raise IndexError(f"layer {i} of a {self.config.num_hidden_layers}-layer model")
        g = self.group(i)
        values: dict[str, Any] = {}
        relative = self.config.relative
        for key, (name, matrix) in layer_tensors(self.family, g, relative.projections if relative else ()).items():
            values[key] = StoredMatrix(*self.tensors[name]) if matrix else self._read(name)
        if "W_QKV" in values:  # one fused matrix [d, 3d]: W_Q, W_K and W_V are its column blocks
            W, d = values.pop("W_QKV"), self.config.hidden_size
            values |= {"W_Q": W[:, :d], "W_K": W[:, d : 2 * d], "W_V": W[:, 2 * d :]}
        first = next(k for k in range(i + 1) if self.group(k) == g)
        return LayerWeights(**values, shared_with=first)

    def _read(self, name: str, rows: Sequence[int] | None = None, transpose: bool = False) -> Array:
        file, stored = self.tensors[name]
        return file.read(stored, rows, transpose)


def load(name: str) -> Checkpoint:
    """The checkpoint `name` (a folder, or a model id: cached, or downloaded), checked, no big tensor read."""
    folder = resolve(name)
    family, config = _config(folder)
    from encoder_cli.checkpoint import tokens

    tokenizer = tokens.load(folder, family.special)
    stored = open_weights(folder)
    tensors = _tensors(folder, stored, family, config)
    if tokenizer.largest_id >= config.vocab_size:
        raise EncoderError(
            f"{show(tokenizer.source)}: token id {tokenizer.largest_id} is past the {config.vocab_size} rows of the "
            "word embeddings; the tokenizer does not belong to this model's weights"
        )
    pooling, normalize, max_seq_length = _sentence_transformers(folder)
    return Checkpoint(folder, name, family, config, pooling, normalize, max_seq_length, tokenizer, tensors)


def _config(folder: Path) -> tuple[Family, Config]:
    """config.json's family and architecture, with the family's defaults for what it leaves out."""
    path = folder / "config.json"
    if not path.exists():
        raise EncoderError(f"{show(folder)}: no config.json; {CONFIG_FIX} (config.json, model.safetensors, tokenizer)")
    config = read_json_object(path, CONFIG_FIX)
    where = show(path)
    model_type = config.get("model_type")
    family = FAMILIES.get(model_type) if isinstance(model_type, str) else None
    if family is None:
        raise EncoderError(
            f"{where}: model_type {show(repr(model_type)[:40])} is not supported; "
            f"this calculator reads these encoder families: {listed()}"
        )

    def value(key: str, default: Any = None) -> Any:
        """config.json's value of BERT's `key`, under the family's own name for it (DistilBERT's `dim`),
        else under BERT's, which transformers' configs take as an alias (attribute_map)."""
        if key in family.fixed:
            return family.fixed[key]
        return config.get(family.keys.get(key, key), config.get(key, family.defaults.get(key, default)))

    def whole(key: str, least: int, default: Any = None) -> int:
        v = value(key, default)
        if type(v) is not int or v < least:
            shown = family.keys.get(key, key)
            raise EncoderError(f"{where}: {shown} is {show(repr(v)[:40])}; expected a whole number >= {least}")
        return v

    sizes = ("hidden_size", "num_attention_heads", "num_hidden_layers", "intermediate_size", "max_position_embeddings")
    out: dict[str, Any] = {key: whole(key, 1) for key in (*sizes, "vocab_size")}
    out["type_vocab_size"] = whole("type_vocab_size", 0) if family.token_types else 0
    out["absolute_positions"] = family.positions  # DeBERTa's: position_biased_input (_disentangled)
    out["embedding_size"] = whole("embedding_size", 1) if family.projection else out["hidden_size"]
    out["pad_token_id"] = whole("pad_token_id", 0) if family.positions_after_padding else 0
    layers = out["num_hidden_layers"]
    out["num_hidden_groups"] = whole("num_hidden_groups", 1) if family.groups else layers
    if out["num_hidden_groups"] > layers:
        raise EncoderError(
            f"{where}: num_hidden_groups {out['num_hidden_groups']} is more than the {layers} layers; "
            "each group is shared by one or more layers"
        )
    if family.groups and (inner := whole("inner_group_num", 1)) != 1:
        raise EncoderError(
            f"{where}: inner_group_num {inner} is not supported (each shared layer {inner} sublayers deep); "
            "this calculator reads ALBERT checkpoints with inner_group_num 1, as every released ALBERT has"
        )
    out["relative_attention_num_buckets"] = whole("relative_attention_num_buckets", 1) if family.relative_bias else 0
    if family.relative_bias and (buckets := out["relative_attention_num_buckets"]) < BUCKETS:
        raise EncoderError(
            f"{where}: relative_attention_num_buckets is {buckets}; MPNet's attention reads {BUCKETS} buckets "
            "(transformers fixes 32 whatever the config says), so the table needs at least 32 rows"
        )
    if not heads_fit(out["hidden_size"], out["num_attention_heads"]):
        raise EncoderError(
            f"{where}: {family.keys.get('num_attention_heads', 'num_attention_heads')} {out['num_attention_heads']} "
            f"does not divide {family.keys.get('hidden_size', 'hidden_size')} {out['hidden_size']}; "
            "each head takes an equal share of the hidden size"
        )
    act = value("hidden_act")
    if not isinstance(act, str) or act not in ACTIVATIONS:
        raise EncoderError(
            f"{where}: {family.keys.get('hidden_act', 'hidden_act')} {show(repr(act)[:40])} is not supported; "
            f"use one of {', '.join(ACTIVATIONS)}"
        )
    out["hidden_act"] = act
    eps = value("layer_norm_eps")
    if type(eps) not in (int, float) or not 0 < eps < float("inf"):
        raise EncoderError(f"{where}: layer_norm_eps is {show(repr(eps)[:40])}; expected a small positive number")
    out["layer_norm_eps"] = float(eps)
    position = "absolute" if family.relative_embeddings else config.get("position_embedding_type", "absolute")
    if position != "absolute":
        raise EncoderError(
            f'{where}: position_embedding_type {show(repr(position)[:40])} is not supported; only "absolute" is'
        )
    for key in () if family.biases else ("attention_bias", "mlp_bias", "norm_bias", "classifier_bias"):
        if config.get(key, False) is not False:
            raise EncoderError(
                f"{where}: {key} is {show(repr(config[key])[:40])}; this calculator reads {family.name} without "
                f"biases ({key} false), as the released checkpoints are"
            )
    if not family.positions:
        if (d_k := out["hidden_size"] // out["num_attention_heads"]) % 2:
            raise EncoderError(
                f"{where}: hidden_size / num_attention_heads is {d_k}, an odd head size; rotary positions turn "
                "each head's columns in pairs, so the head size must be even"
            )
        out["rope_thetas"], out["windows"] = _rotary(config, where, layers)
    if family.relative_embeddings is not None:
        out |= _disentangled(config, where, out)
    return family, Config(**out)


def _disentangled(config: dict[str, Any], where: str, sizes: dict[str, Any]) -> dict[str, Any]:
    """DeBERTa-v2's keys, read as modeling_deberta_v2.py reads them (DebertaV2Config's defaults, and
    DEBERTA_GETATTR's for the keys it reads with getattr), and what it has that this calculator does not do."""

    def get(key: str) -> Any:
        return config.get(key, DEBERTA_GETATTR.get(key, FAMILIES["deberta-v2"].defaults.get(key)))

    def refuse(key: str, what: str) -> EncoderError:
        """`config.json: key value what`: a configuration this calculator does not read, and the fix."""
        return EncoderError(f"{where}: {key} {show(json.dumps(config.get(key, get(key)))[:40])} {what}")

    flags = {key: get(key) for key in ("relative_attention", "position_biased_input", "share_att_key")}
    for key, v in flags.items():
        if type(v) is not bool:
            raise EncoderError(f"{where}: {key} is {show(repr(v)[:40])}; expected true or false")
    whole = {key: get(key) for key in ("position_buckets", "max_relative_positions", "conv_kernel_size")}
    for key, v in whole.items():
        if type(v) is not int:
            raise EncoderError(f"{where}: {key} is {show(repr(v)[:40])}; expected a whole number")
    kinds = get("pos_att_type") or []
    kinds = [k.strip() for k in kinds.lower().split("|")] if isinstance(kinds, str) else kinds
    if not (isinstance(kinds, list) and all(k in ("c2p", "p2c") for k in kinds)):
        raise refuse("pos_att_type", 'is not supported; name "c2p", "p2c" or both (a list, or "p2c|c2p")')
    norm = get("norm_rel_ebd")
    norms = [x.strip() for x in norm.lower().split("|")] if isinstance(norm, str) else None
    if norms is None or not set(norms) <= {"layer_norm", "none"}:
        raise refuse("norm_rel_ebd", 'is not supported; use "layer_norm" or "none"')
    d = sizes["hidden_size"]
    checks = [
        ("conv_kernel_size", whole["conv_kernel_size"] > 0, "adds a convolution to layer 0's output, which this "
         "calculator does not do; give a DeBERTa with conv_kernel_size 0, as DeBERTa-v3 is"),
        ("attention_head_size", config.get("attention_head_size", d // sizes["num_attention_heads"])
         != d // sizes["num_attention_heads"], f"is not hidden_size / num_attention_heads "
         f"({d // sizes['num_attention_heads']}), the head size this calculator reads; remove it"),
        ("embedding_size", config.get("embedding_size", d) != d, f"is not the hidden size {d} (embeddings projected "
         "to it), which this calculator does not do; give a DeBERTa whose embeddings are of the hidden size"),
        ("relative_attention", not flags["relative_attention"] and not flags["position_biased_input"],
         "with position_biased_input false leaves the model no positions at all; set one of them true"),
        ("pooler_hidden_act", config.get("pooler_hidden_act", "gelu") != "gelu", 'is not "gelu", the activation '
         "of every released DeBERTa's classifier pooler, which this calculator reads; use \"gelu\""),
    ]  # fmt: skip
    for key, bad, what in checks:
        if bad:
            raise refuse(key, what)
    out: dict[str, Any] = {"absolute_positions": flags["position_biased_input"], "score_terms": 1 + len(set(kinds))}
    if not flags["relative_attention"]:
        return out
    buckets, distance = whole["position_buckets"], whole["max_relative_positions"]
    distance = distance if distance >= 1 else sizes["max_position_embeddings"]
    if buckets > 0 and (buckets < 2 or distance - 1 <= buckets // 2):
        raise refuse(
            "position_buckets",
            f"with max_relative_positions {distance} makes no log buckets (they "
            f"need position_buckets >= 2 and max_relative_positions > position_buckets / 2 + 1); fix them",
        )
    terms = tuple(k for k in ("c2p", "p2c") if k in kinds)
    own = (("W_Kr", "c2p"), ("W_Qr", "p2c"))  # pos_key_proj, pos_query_proj: where the keys are not shared
    projections = () if flags["share_att_key"] else tuple(k for k, term in own if term in terms)
    span = buckets if buckets > 0 else distance
    out["relative"] = Relative(span, max(buckets, 0), distance, terms, "layer_norm" in norms, projections)
    return out


def _rotary(config: dict[str, Any], where: str, layers: int) -> tuple[tuple[float, ...], tuple[int | None, ...]]:
    """ModernBERT's layers: each one's rotary base, and a local layer's window either side (local_attention // 2).
    transformers 5.x saves layer_types and rope_parameters (by layer type); older configs say
    global_attn_every_n_layers, global_rope_theta and local_rope_theta (ModernBertConfig reads both)."""
    every = config.get("global_attn_every_n_layers", 3)
    if type(every) is not int or every < 1:
        raise EncoderError(
            f"{where}: global_attn_every_n_layers is {show(repr(every)[:40])}; expected a whole number >= 1"
        )
    kinds = config.get("layer_types") or ["sliding_attention" if i % every else "full_attention" for i in range(layers)]
    if not (
        isinstance(kinds, list) and len(kinds) == layers and all(isinstance(k, str) and k in ROPE_THETA for k in kinds)
    ):
        raise EncoderError(
            f'{where}: layer_types should name "full_attention" or "sliding_attention" for each of the {layers} '
            "layers; fix it, or remove it to use global_attn_every_n_layers"
        )
    params = config.get("rope_parameters") or {}
    old = {"full_attention": config.get("global_rope_theta"), "sliding_attention": config.get("local_rope_theta")}
    if scaling := config.get("rope_scaling"):  # older configs: {"rope_type": "yarn", ...} (or "type")
        said = scaling.get("rope_type", scaling.get("type", scaling)) if isinstance(scaling, dict) else scaling
        raise EncoderError(f"{where}: rope_scaling is {show(repr(said)[:40])}, not the default rotary embedding; "
                           "this calculator reads default rotary positions: remove rope_scaling")  # fmt: skip
    thetas = {}
    for kind in ROPE_THETA:
        rope = (params.get(kind) or {}) if isinstance(params, dict) else None
        kind_of = rope.get("rope_type", "default") if isinstance(rope, dict) else rope
        if kind_of != "default":
            raise EncoderError(
                f"{where}: the rope_type of rope_parameters' {kind} is {show(repr(kind_of)[:40])}, not the "
                "default rotary embedding; this calculator reads default rotary positions"
            )
        assert isinstance(rope, dict)
        theta: Any = rope.get("rope_theta", old[kind] if old[kind] is not None else ROPE_THETA[kind])
        if type(theta) not in (int, float) or not 0 < theta < float("inf"):
            raise EncoderError(
                f"{where}: the rope_theta of the {kind} layers is {show(repr(theta)[:40])}; expected a positive number"
            )
        thetas[kind] = float(theta)
    window = config.get("local_attention", 128)
    if type(window) is not int or window < 0:
        raise EncoderError(f"{where}: local_attention is {show(repr(window)[:40])}; expected a whole number >= 0")
    return tuple(thetas[k] for k in kinds), tuple(window // 2 if k == "sliding_attention" else None for k in kinds)


def _tensors(
    folder: Path, stored: dict[str, tuple[SafetensorsFile, str]], family: Family, config: Config
) -> dict[str, tuple[SafetensorsFile, str]]:
    """The tensors the family needs (and its heads', where the folder has them), by their canonical
    names (no `roberta.` prefix, LayerNorm weight/bias), all checked."""
    canonical: dict[str, str] = {}
    for name in stored:
        key = name.removeprefix(family.prefix)
        if key.endswith("LayerNorm.gamma"):
            key = key.removesuffix("gamma") + "weight"
        elif key.endswith("LayerNorm.beta"):
            key = key.removesuffix("beta") + "bias"
        if key in canonical:
            both = f"tensors {show(canonical[key])} and {show(name)} are both {key}"
            raise EncoderError(f"{show(folder)}: {both}; keep one")
        canonical[key] = name
    tensors = {}
    for key, shape in chain(_shapes(family, config), heads.wanted(folder, family, config, canonical)):
        if key not in canonical:
            source = "model.safetensors" if (folder / "model.safetensors").exists() else "model.safetensors.index.json"
            raise EncoderError(
                f"{show(folder / source)}: no tensor {key} (shape {list(shape)}), which config.json's sizes call for; "
                f"the checkpoint is incomplete, or not the {family.name} encoder config.json says it is"
            )
        file, name = stored[canonical[key]]
        entry = file.entries[name]
        if entry.shape != shape:
            raise EncoderError(
                f"{show(file.path)}: tensor {show(name)} has shape {list(entry.shape)}, config.json's sizes make it "
                f"{list(shape)}; the weights do not match config.json"
            )
        if entry.dtype not in FLOATS:
            where = f"{show(file.path)}: tensor {show(name)}"
            raise EncoderError(f"{where} is {entry.dtype}; weights must be F32, F16 or BF16")
        tensors[key] = (file, name)
    return tensors


def layer_tensors(family: Family, g: int, projections: Sequence[str] = ()) -> dict[str, tuple[str, bool]]:
    """LayerWeights' fields (but shared_with) -> (the tensor of stored layer g, whether it is a matrix);
    projections: DeBERTa's position projections of their own (W_Kr, W_Qr) the config calls for."""
    at = family.layer.format(i=g, g=g)
    out: dict[str, tuple[str, bool]] = {}
    for key, module in [*family.tensors.items(), *((k, POSITION_PROJECTIONS[k]) for k in projections)]:
        if key == "norm_1" and g == 0 and family.final_norm is not None:  # pre-norm: input_norm is layer 0's
            continue
        if key.startswith("norm_"):
            out[f"{key}_gamma"] = (f"{at}{module}.weight", False)
            out |= {f"{key}_beta": (f"{at}{module}.bias", False)} if family.biases else {}
        else:
            out[key] = (f"{at}{module}.weight", True)
            out |= {"b_" + key[2:]: (f"{at}{module}.bias", False)} if family.biases else {}
    return out


def _shapes(family: Family, config: Config) -> Iterator[tuple[str, tuple[int, ...]]]:
    """Each tensor the family needs and its shape, as config.json's sizes make it (one at a time: a
    config that claims a million layers fails at the first missing one). Linear weights are (out, in)."""
    c = config
    d, e, ff = c.hidden_size, c.embedding_size, c.intermediate_size
    yield f"{family.words}.weight", (c.vocab_size, e)
    yield from [(POSITIONS, (c.max_position_embeddings, e))] if c.absolute_positions else []
    yield from [(TYPES, (c.type_vocab_size, e))] if c.type_vocab_size else []
    norms = [family.embedding_norm, *([family.final_norm] if family.final_norm else [])]
    yield from ((f"{norm}.{p}", (e,)) for norm in norms for p in ("weight", "bias")[: 1 + family.biases])
    if family.projection is not None and (family.project_always or e != d):
        yield from [(f"{family.projection}.weight", (d, e)), (f"{family.projection}.bias", (d,))]
    if family.relative_bias is not None:
        yield family.relative_bias, (c.relative_attention_num_buckets, c.num_attention_heads)
    if family.relative_embeddings is not None and c.relative is not None:
        yield family.relative_embeddings, (2 * c.relative.span, d)
        yield from ((f"{family.relative_norm}.{p}", (d,)) for p in ("weight", "bias")) if c.relative.norm else []
    for g in range(c.num_hidden_groups):
        for key, (name, _) in layer_tensors(family, g, c.relative.projections if c.relative else ()).items():
            out = {"W_1": ff * (1 + family.gated), "b_1": ff * (1 + family.gated), "W_QKV": 3 * d}.get(key, d)
            yield name, ((out, ff if key == "W_2" else d) if key.startswith("W_") else (out,))


def _sentence_transformers(folder: Path) -> tuple[Pooling | None, bool, int | None]:
    """sentence-transformers' pooling, Normalize and max_seq_length, where the folder has them."""
    pooling, normalize, max_seq_length = None, False, None
    modules_path = folder / "modules.json"
    fix = "fix modules.json or remove it to use the encoder without pooling"
    if modules_path.exists():
        modules = read_json(modules_path, fix, JSON_CAP)
        if not (isinstance(modules, list) and all(isinstance(m, dict) for m in modules)):
            raise EncoderError(f"{show(modules_path)}: expected a list of modules; {fix}")
        for module in modules:
            kind = module.get("type")
            kind = kind.rsplit(".", 1)[-1] if isinstance(kind, str) else kind
            if kind == "Normalize":
                normalize = True
            elif kind == "Pooling":
                pooling = _pooling(folder, module.get("path"), modules_path, fix)
            elif kind != "Transformer":
                raise EncoderError(
                    f"{show(modules_path)}: module {show(repr(module.get('type'))[:80])} is not supported "
                    f"(Transformer, Pooling and Normalize are); {fix}"
                )
    st_config_path = folder / "sentence_bert_config.json"
    if st_config_path.exists():
        value = read_json_object(st_config_path, "fix or remove it").get("max_seq_length")
        if value is not None and (type(value) is not int or value < 1):
            raise EncoderError(
                f"{show(st_config_path)}: max_seq_length is {show(repr(value)[:40])}; expected a whole number"
            )
        max_seq_length = value
    return pooling, normalize, max_seq_length


def _pooling(folder: Path, path: object, modules_path: Path, fix: str) -> Pooling:
    if not isinstance(path, str) or Path(path).is_absolute() or ".." in Path(path).parts:
        raise EncoderError(f"{show(modules_path)}: Pooling path {show(repr(path))} leaves the checkpoint folder; {fix}")
    config_path = folder / path / "config.json"
    config = read_json_object(config_path, fix)
    modes = ("cls_token", "mean_tokens", "max_tokens", "mean_sqrt_len_tokens", "weightedmean_tokens", "lasttoken")
    chosen = [mode for mode in modes if config.get(f"pooling_mode_{mode}") is True]
    if chosen not in (["cls_token"], ["mean_tokens"], ["max_tokens"]):
        raise EncoderError(
            f"{show(config_path)}: pooling {' + '.join(chosen) or 'none'} is not supported; "
            "this calculator pools with one of cls_token, mean_tokens or max_tokens"
        )
    return Pooling(chosen[0].split("_")[0])
