"""A BERT-family Hugging Face checkpoint, read offline, lazily and safely.

`load(name)` finds the folder (a path, or a model id in the local Hugging Face cache), checks
config.json, the tokenizer files and every safetensors header up front, and reads no big tensor.
The Checkpoint then reads only what is asked for: the sentence's rows of the word embeddings,
one layer at a time, each widened to float64 and checked for NaN and infinity. A layer's matrices
are read each time they are used (StoredMatrix), so no layer's weights outlive its use.

Every matrix is stored (inputs x outputs), so that y = x @ W + b: the transpose of torch's
(out, in) nn.Linear weight. Sharded checkpoints (model.safetensors.index.json) are read, each
tensor from the shard its weight_map names; pytorch_model.bin (a pickle) is never opened.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import numpy.typing as npt

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
CONFIG_FIX = "give the folder of a BERT-family Hugging Face checkpoint"


@dataclass(frozen=True)
class LayerWeights:
    """One encoder layer in float64, matrices (inputs x outputs, read when used): y = x @ W + b."""

    W_Q: StoredMatrix  # [d, d]
    b_Q: Array  # [d]
    W_K: StoredMatrix
    b_K: Array
    W_V: StoredMatrix
    b_V: Array
    W_O: StoredMatrix  # [d, d]
    b_O: Array
    norm_1_gamma: Array  # attention.output.LayerNorm
    norm_1_beta: Array
    W_1: StoredMatrix  # [d, d_ff] intermediate.dense
    b_1: Array  # [d_ff]
    W_2: StoredMatrix  # [d_ff, d] output.dense
    b_2: Array  # [d]
    norm_2_gamma: Array  # output.LayerNorm
    norm_2_beta: Array


# LayerWeights' fields -> the tensors they come from, under encoder.layer.{i}. (Linear weights are transposed.)
LAYER_TENSORS = {
    "W_Q": "attention.self.query.weight",
    "b_Q": "attention.self.query.bias",
    "W_K": "attention.self.key.weight",
    "b_K": "attention.self.key.bias",
    "W_V": "attention.self.value.weight",
    "b_V": "attention.self.value.bias",
    "W_O": "attention.output.dense.weight",
    "b_O": "attention.output.dense.bias",
    "norm_1_gamma": "attention.output.LayerNorm.weight",
    "norm_1_beta": "attention.output.LayerNorm.bias",
    "W_1": "intermediate.dense.weight",
    "b_1": "intermediate.dense.bias",
    "W_2": "output.dense.weight",
    "b_2": "output.dense.bias",
    "norm_2_gamma": "output.LayerNorm.weight",
    "norm_2_beta": "output.LayerNorm.bias",
}
WORDS = "embeddings.word_embeddings.weight"
POSITIONS = "embeddings.position_embeddings.weight"
TYPES = "embeddings.token_type_embeddings.weight"


class Config(NamedTuple):
    """config.json's architecture, checked, by its own keys (BertConfig's defaults where it has none)."""

    hidden_size: int
    num_attention_heads: int
    num_hidden_layers: int
    intermediate_size: int
    max_position_embeddings: int
    type_vocab_size: int
    vocab_size: int
    hidden_act: str  # a key of ACTIVATIONS
    layer_norm_eps: float


@dataclass(frozen=True)
class Checkpoint:
    path: Path  # the resolved folder
    name: str  # what the user typed
    hidden_size: int
    heads: int
    layers: int
    intermediate_size: int
    activation: str  # "gelu" (exact erf), "gelu_tanh" or "relu"
    layer_norm_eps: float
    max_position_embeddings: int
    type_vocab_size: int  # 0 when the model has no token_type_embeddings
    pooling: Pooling | None  # sentence-transformers' pooling, else None
    normalize: bool  # sentence-transformers' Normalize module
    max_seq_length: int | None  # sentence_bert_config.json's max_seq_length
    tokenizer: Tokenizer = field(repr=False, compare=False)
    tensors: dict[str, tuple[SafetensorsFile, str]] = field(repr=False, compare=False)  # canonical name -> where

    def tokenize(self, sentence: str) -> Tokenized:
        """The tokenizer's tokens, specials included; more tokens than the model has positions is an error
        (never cut)."""
        tokenized = self.tokenizer.tokenize(sentence)
        rows = self.tensors[WORDS][0].entries[self.tensors[WORDS][1]].shape[0]
        for token, i in zip(tokenized.tokens, tokenized.ids, strict=True):
            if i >= rows:  # an added token past the end of the vocabulary
                raise EncoderError(
                    f"{show(self.tokenizer.source)}: token {show(repr(token))} has id {i}, past the {rows} rows of "
                    "the word embeddings; leave it out of the sentence"
                )
        n, limit = len(tokenized.ids), self.max_position_embeddings
        if n > limit:
            raise EncoderError(
                f"the sentence makes {n} tokens, and {show(self.name)} takes at most {limit} "
                f"(max_position_embeddings in config.json); shorten the sentence"
            )
        return tokenized

    def word_embeddings(self, ids: Sequence[int]) -> Array:
        """[n, d]: only these rows of the word-embedding table are read."""
        return self._read(WORDS, ids)

    def position_embeddings(self, n: int) -> Array:
        """[n, d]: rows 0 .. n-1."""
        if not 0 <= n <= self.max_position_embeddings:
            raise EncoderError(f"{n} positions asked for; {show(self.name)} has {self.max_position_embeddings}")
        return self._read(POSITIONS, range(n))

    def token_type_embeddings(self, n: int) -> Array | None:
        """[n, d]: the type-0 row, once per token; None when the model has no token types."""
        if self.type_vocab_size == 0:
            return None
        return np.repeat(self._read(TYPES, [0]), n, axis=0)

    def embedding_norm(self) -> tuple[Array, Array]:
        """embeddings.LayerNorm's gamma and beta, [d] each."""
        return self._read("embeddings.LayerNorm.weight"), self._read("embeddings.LayerNorm.bias")

    def layer(self, i: int) -> LayerWeights:
        if not 0 <= i < self.layers:
            raise IndexError(f"layer {i} of a {self.layers}-layer model")
        values: dict[str, Any] = {}
        for key, tensor in LAYER_TENSORS.items():
            name = f"encoder.layer.{i}.{tensor}"
            values[key] = StoredMatrix(*self.tensors[name]) if key.startswith("W_") else self._read(name)
        return LayerWeights(**values)

    def _read(self, name: str, rows: Sequence[int] | None = None, transpose: bool = False) -> Array:
        file, stored = self.tensors[name]
        return file.read(stored, rows, transpose)


def load(name: str) -> Checkpoint:
    """The checkpoint `name` (a folder, or a model id in the local Hugging Face cache), checked, no big tensor read."""
    folder = resolve(name)
    config = _config(folder)
    from encoder_cli.checkpoint import tokens

    tokenizer = tokens.load(folder, ("[CLS]", "[SEP]"))
    stored = open_weights(folder)
    tensors = _bert_tensors(folder, stored, config)
    if tokenizer.largest_id >= config.vocab_size:
        raise EncoderError(
            f"{show(tokenizer.source)}: token id {tokenizer.largest_id} is past the {config.vocab_size} rows of the "
            "word embeddings; the tokenizer does not belong to this model's weights"
        )
    pooling, normalize, max_seq_length = _sentence_transformers(folder)
    return Checkpoint(
        path=folder,
        name=name,
        hidden_size=config.hidden_size,
        heads=config.num_attention_heads,
        layers=config.num_hidden_layers,
        intermediate_size=config.intermediate_size,
        activation=ACTIVATIONS[config.hidden_act],
        layer_norm_eps=float(config.layer_norm_eps),
        max_position_embeddings=config.max_position_embeddings,
        type_vocab_size=config.type_vocab_size,
        pooling=pooling,
        normalize=normalize,
        max_seq_length=max_seq_length,
        tokenizer=tokenizer,
        tensors=tensors,
    )


def _config(folder: Path) -> Config:
    """config.json's architecture, with BertConfig's defaults for what it leaves out."""
    path = folder / "config.json"
    if not path.exists():
        raise EncoderError(f"{show(folder)}: no config.json; {CONFIG_FIX} (config.json, model.safetensors, tokenizer)")
    config = read_json_object(path, CONFIG_FIX)
    where = show(path)
    model_type = config.get("model_type")
    if model_type != "bert":
        raise EncoderError(
            f"{where}: model_type {show(repr(model_type)[:40])} is not supported; "
            'this calculator reads BERT-family encoders (model_type "bert": BERT, MiniLM, BGE, E5)'
        )
    defaults = {"hidden_size": 768, "num_attention_heads": 12, "num_hidden_layers": 12, "intermediate_size": 3072}
    defaults |= {"max_position_embeddings": 512, "type_vocab_size": 2, "vocab_size": 30522}
    out: dict[str, Any] = {}
    for key, default in defaults.items():
        value = config.get(key, default)
        least = 0 if key == "type_vocab_size" else 1
        if type(value) is not int or value < least:
            raise EncoderError(f"{where}: {key} is {show(repr(value)[:40])}; expected a whole number >= {least}")
        out[key] = value
    if not heads_fit(out["hidden_size"], out["num_attention_heads"]):
        raise EncoderError(
            f"{where}: num_attention_heads {out['num_attention_heads']} does not divide hidden_size "
            f"{out['hidden_size']}; each head takes an equal share of the hidden size"
        )
    act = config.get("hidden_act", "gelu")
    if not isinstance(act, str) or act not in ACTIVATIONS:
        raise EncoderError(
            f"{where}: hidden_act {show(repr(act)[:40])} is not supported; use one of {', '.join(ACTIVATIONS)}"
        )
    out["hidden_act"] = act
    eps = config.get("layer_norm_eps", 1e-12)
    if type(eps) not in (int, float) or not 0 < eps < float("inf"):
        raise EncoderError(f"{where}: layer_norm_eps is {show(repr(eps)[:40])}; expected a small positive number")
    out["layer_norm_eps"] = eps
    position = config.get("position_embedding_type", "absolute")
    if position != "absolute":
        raise EncoderError(
            f'{where}: position_embedding_type {show(repr(position)[:40])} is not supported; only "absolute" is'
        )
    return Config(**out)


def _bert_tensors(
    folder: Path, stored: dict[str, tuple[SafetensorsFile, str]], config: Config
) -> dict[str, tuple[SafetensorsFile, str]]:
    """The tensors BERT needs, by their canonical names (no `bert.` prefix, LayerNorm weight/bias), all checked."""
    canonical: dict[str, str] = {}
    for name in stored:
        key = name.removeprefix("bert.")
        if key.endswith("LayerNorm.gamma"):
            key = key.removesuffix("gamma") + "weight"
        elif key.endswith("LayerNorm.beta"):
            key = key.removesuffix("beta") + "bias"
        if key in canonical:
            both = f"tensors {show(canonical[key])} and {show(name)} are both {key}"
            raise EncoderError(f"{show(folder)}: {both}; keep one")
        canonical[key] = name
    tensors = {}
    for key, shape in _shapes(config):
        if key not in canonical:
            source = "model.safetensors" if (folder / "model.safetensors").exists() else "model.safetensors.index.json"
            raise EncoderError(
                f"{show(folder / source)}: no tensor {key} (shape {list(shape)}), which config.json's sizes call for; "
                "the checkpoint is incomplete or not a BERT encoder"
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


def _shapes(config: Config) -> Iterator[tuple[str, tuple[int, ...]]]:
    """Each tensor BERT needs and its shape, as config.json's sizes make it (one at a time: a config that
    claims a million layers fails at the first missing one)."""
    d, ff, types = config.hidden_size, config.intermediate_size, config.type_vocab_size
    yield WORDS, (config.vocab_size, d)
    yield POSITIONS, (config.max_position_embeddings, d)
    yield from [(TYPES, (types, d))] if types else []
    yield from [("embeddings.LayerNorm.weight", (d,)), ("embeddings.LayerNorm.bias", (d,))]
    for i in range(config.num_hidden_layers):
        for key, tensor in LAYER_TENSORS.items():
            shape: tuple[int, ...] = (d, d) if key.startswith("W_") else (d,)
            yield f"encoder.layer.{i}.{tensor}", {"W_1": (ff, d), "b_1": (ff,), "W_2": (d, ff)}.get(key, shape)


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
