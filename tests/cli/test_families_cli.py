"""What a user of the families meets at the command line: the family steps' formulas, their
parameters by name, and cell addresses that take a byte-level token as shown, as stored or bare."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from transformers import AutoConfig

import encoder_cli
from tests.conftest import run


def test_the_embedding_projection_reads_as_its_input_times_W_P(tiny) -> None:
    document = json.loads(run("explain", "The cat sat", "--model", str(tiny("albert")), "-f", "json").stdout)
    step = next(s for s in document["steps"] if s["id"] == "input_projection")
    assert step["formula"] == "input_norm W_P + b_P" and step["inputs"] == ["input_norm"]


def test_the_families_parameters_are_named_by_their_last_part(tiny) -> None:
    for family, name, expected in [
        ("albert", "W_P", ["input_projection.W_P"]),
        ("albert", "b_P", ["input_projection.b_P"]),
        ("mpnet", "relative_attention_bias", ["attention.relative_attention_bias"]),
    ]:
        result = run("explain", "The cat sat", "--model", str(tiny(family)), "-s", name, "-f", "json")
        assert result.exit_code == 0, result.stderr
        assert [p["id"] for p in json.loads(result.stdout)["parameters"]] == expected
    ids = json.loads(
        run("explain", "The cat", "--model", str(tiny("mpnet")), "-s", "position_bias", "-f", "json").stdout
    )
    assert [s["id"] for s in ids["steps"]] == [f"attention.heads.{h}.position_bias" for h in range(4)]


def test_a_byte_level_row_is_named_as_shown_as_stored_or_bare(tiny) -> None:
    folder = str(tiny("roberta"))
    worked = set()
    for row in ("␣cat", "Ġcat", "cat", "2"):
        result = run("explain", "The cat sat", "--model", folder, "-c", f"layers.0.attention.heads.0.Q[{row}, d0]")
        assert result.exit_code == 0, (row, result.stderr)
        worked.add(result.stdout)
    assert len(worked) == 1 and next(iter(worked)).startswith("layers.0.attention.heads.0.Q[␣cat, d0] = ")
    result = run("explain", "The cat sat", "--model", folder, "-c", "layers.0.attention.heads.0.Q[dog, d0]")
    assert result.exit_code == 2 and "no row 'dog'" in result.stderr


def test_a_token_column_is_named_as_a_row_is(tiny) -> None:
    """An n x n step's columns are the tokens: ␣mat, Ġmat, mat or 6, as its rows take them. The
    worked cell names the mask's positions: |2 − 6| is ␣cat's and ␣mat's."""
    folder = str(tiny("modernbert"))
    worked = set()
    for col in ("␣mat", "Ġmat", "mat", "6"):
        result = run(
            "explain", "The cat sat on the mat", "--model", folder, "-c", f"layers.1.attention.mask[cat,{col}]"
        )
        assert result.exit_code == 0, (col, result.stderr)
        worked.add(result.stdout)
    assert worked == {"layers.1.attention.mask[␣cat, ␣mat] = 0.000 (|2 − 6| = 4 > 3: outside the window)\n"}


def test_a_relative_position_row_is_named_by_its_delta(tiny) -> None:
    """DeBERTa's K_r rows are labelled δ=-6 … : -6 and δ=-6 name the row whose label says so, and a
    number there is always a δ, never a position (row 0 is δ=-6, not δ=0); a δ the table has not is refused."""
    mat = ["explain", "The cat sat on the mat", "--model", str(tiny("deberta-v2"))]
    document = json.loads(run(*mat, "-s", "heads.1.K_r", "-f", "json").stdout)
    step = next(s for s in document["steps"] if s["id"] == "layers.0.attention.heads.1.K_r")
    for delta in (-6, 0):
        row = step["rows"].index(f"δ={delta}")
        for written in (str(delta), f"δ={delta}"):
            cell = f"layers.0.attention.heads.1.K_r[{written},d3]"
            result = run(*mat, "-c", cell)
            assert result.exit_code == 0, (cell, result.stderr)
            assert result.stdout.startswith(f"layers.0.attention.heads.1.K_r[δ={delta}, d3] = ")
            assert result.stdout.rstrip().endswith(f"= {step['values'][row][3]:.3f}")
    far = run(*mat, "-c", "layers.0.attention.heads.1.K_r[9,d3]")
    assert far.exit_code == 2 and far.stdout == "" and "no row '9'; the rows are δ=" in far.stderr


def test_distilbert_s_config_may_use_bert_s_names_as_transformers_takes_them(tiny, tmp_path: Path) -> None:
    """transformers reads hidden_size, num_attention_heads, num_hidden_layers as DistilBERT's dim,
    n_heads, n_layers (its attribute_map); so does the calculator."""
    folder = tmp_path / "distilbert"
    shutil.copytree(tiny("distilbert"), folder)
    config = json.loads((folder / "config.json").read_text())
    renamed = {"dim": "hidden_size", "n_heads": "num_attention_heads", "n_layers": "num_hidden_layers"}
    (folder / "config.json").write_text(json.dumps({renamed.get(k, k): v for k, v in config.items()}))
    theirs = AutoConfig.from_pretrained(folder)
    assert (theirs.dim, theirs.n_heads, theirs.n_layers) == (config["dim"], config["n_heads"], config["n_layers"])
    ours = encoder_cli.explain("The cat sat", model=str(folder))
    np.testing.assert_array_equal(
        ours["output"], encoder_cli.explain("The cat sat", model=str(tiny("distilbert")))["output"]
    )


def test_compare_diffs_only_what_layer_and_head_keep(tiny) -> None:
    result = run("compare", "The cat sat", "The dog sat", "--model", str(tiny("bert")), "--diff", "weights",
                 "--layer", "1", "--head", "0", "-f", "json")  # fmt: skip
    assert result.exit_code == 0, result.stderr
    diffs = [s["id"] for s in json.loads(result.stdout)["steps"] if s["id"].startswith("diff.")]
    assert diffs == ["diff.layers.1.attention.heads.0.weights"]


def test_no_output_is_written_into_the_model_s_folder(tiny, tmp_path: Path) -> None:
    """vocab.txt beside tokenizer.json is not read, but it is the user's: the folder is off limits."""
    folder = tmp_path / "bert"
    shutil.copytree(tiny("bert"), folder)
    (folder / "vocab.txt").write_text("[PAD]\n")
    before = {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    for name in ("vocab.txt", "trace.json"):
        result = run("explain", "The cat", "--model", str(folder), "-f", "json", "-o", str(folder / name))
        assert result.exit_code == 2 and "inside the model's folder" in result.stderr, result.stderr
    assert {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()} == before
    t = encoder_cli.explain("The cat", model=str(folder))
    with pytest.raises(encoder_cli.EncoderError, match="inside the model's folder"):
        t.save(folder / "trace.safetensors")


def test_two_unquoted_words_run_as_a_pair_and_say_so(tiny) -> None:
    result = run("explain", "The", "cat", "--model", str(tiny("bert")), "-s", "output")
    assert result.exit_code == 0
    assert result.stderr == "note: 'The' and 'cat' ran as a sentence pair; to run them as one sentence, quote it\n"
    assert run("explain", "The cat", "sat", "--model", str(tiny("bert")), "-s", "output").stderr == ""
