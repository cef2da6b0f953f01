"""Bad input: one message on stderr naming the place (and line) and the fix, exit 2,
no traceback, nothing on stdout. Covers the weights spec's "What a bad file gets"."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from encoder_cli.cli import app
from tests.conftest import SEED

GOOD = SEED.read_text()


def edited(change) -> str:
    """The seed example with a change made to its data, as YAML."""
    data = yaml.safe_load(GOOD)
    change(data)
    return yaml.safe_dump(data, sort_keys=False)


def per_head(data) -> None:
    data["model"]["heads"] = 2
    attention = data["layers"][0]["attention"]
    attention["heads"] = [{k: [row[:2] for row in attention.pop(k)] for k in ("W_Q", "W_K", "W_V")}]


def second_layer_with_d_ff_6(data) -> None:
    layer = yaml.safe_load(yaml.safe_dump(data["layers"][0]))
    layer["ffn"] = {"W_1": [row[:6] for row in layer["ffn"]["W_1"]], "W_2": layer["ffn"]["W_2"][:6]}
    data["layers"].append(layer)


def run(*args: str, input: str | bytes | None = None):
    return CliRunner(env={"COLUMNS": "100", "NO_COLOR": "1"}).invoke(app, list(args), input=input)


def fails(yaml_text: str | bytes, sentence: str = "The cat sat", *more: str) -> str:
    """Run explain on this weights text from stdin; check the contract; return the message."""
    result = run("explain", sentence, "--weights", "-", *more, input=yaml_text)
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, result.stderr
    assert "Traceback" not in result.stderr
    return result.stderr


def with_model(model: str) -> str:
    return GOOD.replace("model:\n  d_model: 4\n", f"model:\n  d_model: 4\n{model}")


CASES = {
    "not yaml": ("embeddings: [1, 2\n", "<stdin>:2: not valid YAML"),
    "empty": ("", "the file is empty"),
    "only a comment": ("# nothing\n", "the file is empty"),
    "not a mapping": ("- 1\n- 2\n", "the file must be a mapping"),
    "only a number": ("1.5\n", "the file must be a mapping of keys to values, got a number"),
    "non-finite setting": (with_model("  layer_norm_eps: .nan\n"), "model.layer_norm_eps: expected a finite number"),
    "two documents": ("a: 1\n---\nb: 2\n", "<stdin>:2: expected one YAML document, found a second"),
    "undefined alias": ("a: *nowhere\n", "<stdin>:1: a: the alias *nowhere has no anchor &nowhere before it"),
    "unknown top key": (
        GOOD.replace("layers:", "layer:"),
        "<stdin>:17: layer: unknown key; did you mean 'layers'?",
    ),
    "unknown model key": (
        with_model("  head: 1\n"),
        "<stdin>:9: model.head: unknown key; did you mean 'heads'?",
    ),
    "missing layers": (GOOD[: GOOD.index("layers:")], "missing the key 'layers'"),
    "missing embeddings": ("layers: []\n", "missing the key 'embeddings'"),
    "no layers": (
        GOOD[: GOOD.index("layers:")] + "layers: []\n",
        "layers: expected a list of at least one layer",
    ),
    "ragged": (
        GOOD.replace("- [0.2, 0.4, 0.6, 0.8]", "- [0.2, 0.4, 0.6]"),
        "<stdin>:21: layers[0].attention.W_Q[1]: ragged matrix: row 0 has 4 numbers, row 1 has 3",
    ),
    "wrong shape": (
        GOOD.replace("[0.1, 0.3, 0.5, 0.7]", "[0.1, 0.3, 0.5]")
        .replace("[0.2, 0.4, 0.6, 0.8]", "[0.2, 0.4, 0.6]")
        .replace("[0.9, 0.7, 0.5, 0.3]", "[0.9, 0.7, 0.5]")
        .replace("[0.8, 0.6, 0.4, 0.2]", "[0.8, 0.6, 0.4]"),
        "<stdin>:19: layers[0].attention.W_Q: expected 4 x 4 (d_model x d_model), got 4 x 3",
    ),
    "W_2 rows must be d_ff": (
        GOOD.replace("        - [0.6, -0.3, 0.2, 0.1]\n", ""),
        "layers[0].ffn.W_2: expected 8 x 4 (d_ff x d_model), got 7 x 4",
    ),
    "boolean": (
        GOOD.replace("The: [0.2, 0.4, 0.8, 0.6]", "The: [0.2, no, 0.8, 0.6]"),
        "<stdin>:14: embeddings.The[1]: expected a number, got 'no', which YAML reads as a boolean",
    ),
    "null": (
        GOOD.replace("The: [0.2, 0.4, 0.8, 0.6]", "The: [0.2, ~, 0.8, 0.6]"),
        "expected a number, got '~' (YAML's null)",
    ),
    "word": (
        GOOD.replace("The: [0.2, 0.4, 0.8, 0.6]", "The: [0.2, x, 0.8, 0.6]"),
        "expected a number, got 'x'",
    ),
    "quoted number": (
        GOOD.replace("The: [0.2, 0.4, 0.8, 0.6]", 'The: [0.2, "0.4", 0.8, 0.6]'),
        "expected a number, got '0.4'",
    ),
    "nan": (
        GOOD.replace("0.5, 0.1, 0.9, 0.7", "0.5, .nan, 0.9, 0.7"),
        "<stdin>:15: embeddings.cat[1]: expected a finite number, got '.nan'",
    ),
    "infinity": (
        GOOD.replace("0.5, 0.1, 0.9, 0.7", "0.5, -.inf, 0.9, 0.7"),
        "expected a finite number, got '-.inf'",
    ),
    "nested row": (
        GOOD.replace("The: [0.2, 0.4, 0.8, 0.6]", "The: [0.2, [0.4], 0.8, 0.6]"),
        "embeddings.The: expected a list of 4 numbers",
    ),
    "heads do not divide": (
        with_model("  heads: 3\n").replace("  heads: 1\n", ""),
        "model.heads: 3 heads do not divide d_model 4; use one of 1, 2, 4",
    ),
    "heads not a number": (
        GOOD.replace("heads: 1", "heads: two"),
        "model.heads: expected a whole number, got 'two'",
    ),
    "absurd heads": (
        GOOD.replace("heads: 1", "heads: 1000000000"),
        "model.heads: expected a whole number from 1 to 4",
    ),
    "d_model disagrees": (
        GOOD.replace("d_model: 4", "d_model: 5"),
        "model.d_model: is 5 but the embeddings have 4 numbers",
    ),
    "embedding too short": (
        GOOD.replace("sat: [0.3, 0.8, 0.2, 0.4]", "sat: [0.3, 0.8, 0.2]"),
        "embeddings.sat: expected 4 numbers (d_model is 4, from embeddings.The), got 3",
    ),
    "bad choice": (
        GOOD.replace("norm: post", "norm: middle"),
        "model.norm: 'middle' is not a choice; expected one of: post, pre",
    ),
    "misspelt choice": (
        GOOD.replace("activation: relu", "activation: gelu-tanh"),
        "did you mean 'gelu_tanh'?",
    ),
    "format 2": (
        "format: 2\n" + GOOD.replace("format: 1\n", ""),
        "format: this is format 1 of the weights file; got 2",
    ),
    "duplicate key": (
        GOOD.replace("  cat: ", "  The: [0.1, 0.1, 0.1, 0.1]\n  cat: "),
        "<stdin>:15: embeddings.The: this key is given twice",
    ),
    "python tag": (
        GOOD.replace("format: 1", "format: !!python/object/apply:os.system ['echo hacked']"),
        "the YAML tag 'tag:yaml.org,2002:python/object/apply:os.system' is not allowed",
    ),
    "custom tag": (
        GOOD.replace("[0.2, 0.4, 0.8, 0.6]", "!vector [0.2, 0.4, 0.8, 0.6]"),
        "embeddings.The: the YAML tag '!vector' is not allowed",
    ),
    "merge key": (
        GOOD.replace("model:\n", "model:\n  <<: {heads: 1}\n"),
        "merge keys (<<) are not supported",
    ),
    "alias loop": ("a: &a [*a]\n" + GOOD, "an alias refers to a value that contains it"),
    "unquoted [UNK]": (
        GOOD.replace("  sat: ", "  [UNK]: [0.1, 0.1, 0.1, 0.1]\n  sat: "),
        'a token in brackets must be quoted, as in "[UNK]":',
    ),
    "table missing": (
        GOOD.replace("positional: sinusoidal", "positional: table"),
        "positional: table needs a positional_table",
    ),
    "table not wanted": (
        "positional_table: [[0, 0, 0, 0]]\n" + GOOD,
        "positional_table: only used with positional: table",
    ),
    "table too short": (
        GOOD.replace("positional: sinusoidal", "positional: table")
        + "positional_table: [[0, 0, 0, 0], [0, 0, 0, 0]]\n",
        "positional_table: has 2 rows but the sentence has 3 tokens; add a row for every position",
    ),
    "both forms": (
        GOOD.replace("      W_K:\n", "      heads: []\n      W_K:\n"),
        "give either W_Q, W_K, W_V or heads, not both",
    ),
    "missing W_V": (
        GOOD.replace("      W_V:\n", "      W_X:\n"),
        "layers[0].attention.W_X: unknown key; did you mean 'W_V'?",
    ),
    "per-head count": (
        edited(per_head),
        "layers[0].attention.heads: expected one entry per head (2, model.heads), got 1",
    ),
    "d_ff disagrees": (
        edited(second_layer_with_d_ff_6),
        "layers[1].ffn.W_1: expected 4 x 8 (d_model x d_ff), got 4 x 6",
    ),
    "lowercase twins": (
        with_model("  lowercase: true\n").replace("  cat: ", "  the: [0.1, 0.1, 0.1, 0.1]\n  cat: "),
        "embeddings.the: 'The' and 'the' are the same token with lowercase: true",
    ),
    "lowercase not bool": (
        with_model("  lowercase: 1\n"),
        "model.lowercase: expected true or false, got 1",
    ),
    "negative eps": (
        with_model("  layer_norm_eps: -1\n"),
        "model.layer_norm_eps: expected a number at least 0",
    ),
    "zero base": (
        with_model("  positional_base: 0\n"),
        "model.positional_base: expected a number greater than 0",
    ),
    "too many layers": (
        GOOD.replace("layers:\n  - attention:", "layers:\n  - &layer\n    attention:") + "  - *layer\n" * 64,
        "layers: at most 64 layers, got 65",
    ),
    "d_model too large": (
        "embeddings: {a: [" + ", ".join(["0.5"] * 9000) + "]}\nlayers: []\n",
        "embeddings.a: d_model is at most 8192, got a vector of 9000",
    ),
    "too deep": ("a: " + "[" * 40 + "]" * 40 + "\n" + GOOD, "nested too deeply"),
    "overflow": (
        GOOD.replace("The: [0.2, 0.4, 0.8, 0.6]", "The: [1e300, 1e300, 1e300, 1e300]"),
        "is not a finite number",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_weights_file(case: str) -> None:
    text, expected = CASES[case]
    assert expected in fails(text)


def test_a_number_written_1e_minus_5_is_a_number() -> None:
    text = with_model("  layer_norm_eps: 1e-5\n").replace("[0.2, 0.4, 0.8, 0.6]", "[2e-1, 4E-1, 8e-1, +6e-1]")
    result = run("explain", "--weights", "-", "The cat sat", "--step", "embeddings", input=text)
    assert result.exit_code == 0, result.stderr
    assert "0.200   0.400   0.800   0.600" in result.stdout


def test_alias_bomb_fails_fast() -> None:
    # A billion laughs in the vocabulary: a1 has 10 numbers, each next level 10 of the previous.
    levels = ["  a1: &a1 [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]"]
    levels += [f"  a{k}: &a{k} [" + ", ".join([f"*a{k - 1}"] * 10) + "]" for k in range(2, 10)]
    start = time.perf_counter()
    message = fails("embeddings:\n" + "\n".join(levels) + "\nlayers: []\n", "a1")
    assert "embeddings.a2: expected a list of 10 numbers (d_model is 10, from embeddings.a1)" in message
    assert time.perf_counter() - start < 5  # expanded, it would take minutes and gigabytes


def test_aliases_that_expand_past_the_size_budget() -> None:
    # One 8000-number vector, referred to by 7000 tokens: 56 million numbers from a 100 kB file.
    vector = "[" + ", ".join(["0.5"] * 8000) + "]"
    tokens = "".join(f"  w{i}: *v\n" for i in range(7000))
    message = fails(f"embeddings:\n  w: &v {vector}\n{tokens}layers: []\n", "w")
    assert "more than 50,000,000 numbers" in message


@pytest.mark.parametrize(
    ("sentence", "expected"),
    [
        ("", "the sentence is empty"),
        ("   \t ", "the sentence is empty"),
        ("The dog sat", "no embedding for the token 'dog' (position 1 of the sentence)"),
        ("The cat sad", "closest known: 'sat';"),
        ("the cat sat", "closest known: 'The' (set model.lowercase: true to fold case)"),
    ],
)
def test_bad_sentence(sentence: str, expected: str) -> None:
    assert expected in fails(GOOD, sentence)


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (["--layer", "1"], "--layer 1: the model has 1 layer, numbered 0 to 0"),
        (["--head", "-1"], "--head -1: the model has 1 head"),
        (
            ["--step", "nothing.like.this"],
            "--step 'nothing.like.this' is not a step or parameter; `encoder explain --overview` lists the steps",
        ),
    ],
)
def test_bad_filter(options: list[str], expected: str) -> None:
    assert expected in fails(GOOD, "The cat sat", *options)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["explain", "--precision", "99"], "Invalid value for '--precision' / '-p'"),
        (["explain", "--format", "pdf"], "Invalid value for '--format' / '-f'"),
        (["explain", "--nope"], "No such option: --nope"),
        (
            ["explain", "--weights", "fixtures/the-cat-sat-on-the-mat.yaml"],
            "error: fixtures/the-cat-sat-on-the-mat.yaml: give the sentence to encode",
        ),
        (
            ["explain", "x", "--weights", "no/such/file.yaml"],
            "error: no/such/file.yaml: no such file",
        ),
        (["explain", "x", "--weights", "fixtures"], "error: fixtures: is a directory"),
    ],
)
def test_bad_usage(args: list[str], expected: str) -> None:
    result = run(*args)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert expected in result.stderr and "Traceback" not in result.stderr


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "w.yaml"
    path.write_bytes(b"embeddings: {caf\xe9: [1]}\n")
    result = run("explain", "x", "--weights", str(path))
    assert result.exit_code == 2
    assert "not a text file in UTF-8 (byte 16 is not UTF-8)" in result.stderr


def test_the_weights_file_is_never_modified(tmp_path: Path) -> None:
    path = tmp_path / "w.yaml"
    path.write_text(GOOD)
    before = path.stat()
    assert run("explain", "The cat sat", "--weights", str(path)).exit_code == 0
    assert run("explain", "The cat sat", "--weights", str(path), "-f", "json").exit_code == 0
    assert path.read_text() == GOOD and path.stat().st_mtime_ns == before.st_mtime_ns
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w.yaml"]


@pytest.mark.parametrize(
    "text", ["0.5", "-3", ".25", "+1", "0", "00.5", "017", "0x1F", "1_000", "1:30", "6.8523015e+5", "!!float 1"]
)
def test_numbers_read_as_yaml_reads_them(text: str) -> None:
    """Whatever the fast path for plain decimals, a number means what PyYAML's loader says."""
    from encoder_cli import weights_file

    model, _ = weights_file.parse(
        f"embeddings: {{a: [{text}]}}\nlayers: [{{attention: {{W_Q: [[1]], W_K: [[1]], W_V: [[1]]}}, "
        "ffn: {W_1: [[1]], W_2: [[1]]}}]\n",
        "w.yaml",
    )
    assert model.vocabulary.embed("a").X[0, 0] == yaml.safe_load(f"[{text}]")[0]


@pytest.mark.parametrize(("text", "value"), [("1e-5", 1e-5), ("1E3", 1000.0), ("-2e+2", -200.0), ("3.5e0", 3.5)])
def test_exponents_yaml_leaves_as_strings_are_numbers(text: str, value: float) -> None:
    from encoder_cli import weights_file

    assert yaml.safe_load(text) == text  # YAML 1.1 reads these as strings...
    model, _ = weights_file.parse(
        f"embeddings: {{a: [{text}]}}\nlayers: [{{attention: {{W_Q: [[1]], W_K: [[1]], W_V: [[1]]}}, "
        "ffn: {W_1: [[1]], W_2: [[1]]}}]\n",
        "w.yaml",
    )
    assert model.vocabulary.embed("a").X[0, 0] == value  # ...a weights file reads them as the numbers they are
