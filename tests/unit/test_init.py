"""`encoder init`: what it writes always loads and runs, matches its flags, is one-decimal,
is the same for the same seed, and never replaces a file unless told to."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from encoder_cli import encoder, init, weights_file
from encoder_cli import settings as declared
from encoder_cli.cli import app
from encoder_cli.settings import Settings


def parse(text: str):
    return weights_file.parse(text, "w.yaml")[0]


# Words and the characters YAML treats specially, as a sentence might hold them; and anything
# at all: control characters, line separators, escapes, quotes, long words, any script.
words = st.sampled_from(["The", "cat", "on", "no", "yes", "null", "true", "1", "0.5", "~", "É", "naïve", "x" * 1500])
marks = st.sampled_from(list(".,:;!?#&*%@`'\"[]{}|>-~\\\x00\x01\x1b\x7f\x85\u2028\u2029\ufeff\ufffe"))
anything = st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=12)
sentences = (
    st.lists(st.one_of(words, marks, anything), min_size=1, max_size=8)
    .map(" ".join)
    .filter(lambda s: re.search(r"\w|[^\w\s]", s) is not None)  # at least one token
)


@st.composite
def options(draw: st.DrawFn) -> init.Options:
    d = draw(st.sampled_from([1, 2, 3, 4, 6, 8]))
    model = Settings(
        d_model=d,
        heads=draw(st.sampled_from([h for h in range(1, d + 1) if d % h == 0])),
        positional=draw(st.sampled_from(list(declared.Positional))),  # every declared choice
        positional_base=draw(st.sampled_from([10000.0, 100.0])),
        norm=draw(st.sampled_from(list(declared.Norm))),
        activation=draw(st.sampled_from(list(declared.Activation))),
        layer_norm_eps=draw(st.sampled_from([1e-5, 1e-6, 0.001])),
        lowercase=draw(st.booleans()),
    )
    flags = ("unk", "per_head", "w_o", "biases", "layer_norms", "embedding_norm", "final_norm")
    return init.Options(
        model=model,
        sentence=draw(sentences),
        d_ff=draw(st.integers(1, 12)),
        layers=draw(st.integers(1, 3)),
        seed=draw(st.integers(0, 2**32)),
        **{k: draw(st.booleans()) for k in flags},
    )


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(options())
def test_what_init_writes_loads_runs_and_matches_its_flags(o: init.Options) -> None:
    text = init.scaffold(o, "encoder init")
    model = parse(text)
    trace = encoder.run(model, o.sentence)  # the sentence it was made for always runs
    assert trace.steps[-1].id == "output"
    expected = o.model if o.model.positional == "sinusoidal" else o.model._replace(positional_base=10000.0)
    assert model.settings == expected  # every setting as given (the base is only written for sinusoids)
    assert len(model.layers) == o.layers
    assert all(layer.d_ff == o.d_ff for layer in model.layers)
    assert all((layer.W_O is not None) == o.w_o for layer in model.layers)
    assert all((layer.b_Q is not None) == (layer.b_1 is not None) == o.biases for layer in model.layers)
    assert ("\n      heads:" in text) == o.per_head and ("norm_1:" in text) == o.layer_norms
    assert (model.embedding_norm is not None) == o.embedding_norm and (model.final_norm is not None) == o.final_norm
    assert ("[UNK]" in model.vocabulary.vectors or "[unk]" in model.vocabulary.vectors) == o.unk
    # Every number in a list has one decimal.
    for row in re.findall(r"\[([^\[\]]*\d[^\[\]]*)\]", text.split("embeddings:", 1)[1]):
        assert all(re.fullmatch(r"-?\d\.\d", v.strip()) for v in row.split(",")), row


def test_the_same_seed_writes_the_same_file() -> None:
    a, b, c = (init.scaffold(init.Options(seed=s, layers=2, biases=True), "x") for s in (7, 7, 8))
    assert a == b and a != c


def test_one_decimal_values_are_exact_tenths() -> None:
    model = parse(init.scaffold(init.Options(Settings(d_model=8), d_ff=16), "x"))
    W = model.layers[0].W_1
    assert np.array_equal(np.round(W * 10), W * 10) and np.abs(W).max() <= 0.9


def run(*args: str):
    return CliRunner().invoke(app, list(args))


def test_the_issues_command_round_trips_through_explain(tmp_path: Path) -> None:
    result = run(
        "init",
        "--sentence",
        "The cat sat",
        "--d-model",
        "4",
        "--heads",
        "1",
        "--d-ff",
        "8",
        "--layers",
        "1",
        "--seed",
        "0",
    )
    assert result.exit_code == 0 and result.stderr == ""
    path = tmp_path / "w.yaml"
    path.write_text(result.stdout)
    explained = run("explain", "The cat sat", "--weights", str(path), "-f", "json")
    assert explained.exit_code == 0


def test_output_is_never_replaced_unless_forced(tmp_path: Path) -> None:
    path = tmp_path / "w.yaml"
    path.write_text("mine\n")
    refused = run("init", "-o", str(path))
    assert refused.exit_code == 2 and "already exists" in refused.stderr and refused.stdout == ""
    assert path.read_text() == "mine\n"
    forced = run("init", "-o", str(path), "--force")
    assert forced.exit_code == 0 and forced.stdout == ""
    assert parse(path.read_text()).settings.d_model == 4
    fresh = tmp_path / "new.yaml"
    assert run("init", "-o", str(fresh)).exit_code == 0 and fresh.exists()


def test_bad_sizes() -> None:
    for args, message in (
        (["--heads", "3"], "--heads 3 does not divide d_model 4; use one of 1, 2, 4"),
        (["--d-model", "0"], "--d-model 0: from 1 to 8192"),
        (["--d-ff", "40000"], "--d-ff 40000: from 1 to 32768"),
        (["--layers", "65"], "--layers 65: from 1 to 64"),
        (["--heads", "0"], "--heads 0 does not divide d_model 4"),
        (["--sentence", " "], "the sentence is empty"),
    ):
        result = run("init", *args)
        assert result.exit_code == 2 and message in result.stderr and result.stdout == ""


def test_a_written_file_read_by_yaml_safe_load_is_the_same_weights(tmp_path) -> None:
    """The Python API takes what yaml.safe_load makes of init's file: its settings are YAML 1.1
    floats (1.0e-05, not the word 1e-05) and words YAML would read otherwise (yes, on, null,
    0x1F) are quoted keys; the mapping runs to the same document as the file."""
    import json

    import yaml

    import encoder_cli

    path = tmp_path / "w.yaml"
    made = run("init", "--sentence", "yes on no null 1e5 0x1F cat", "--layer-norm-eps", "1e-5", "-o", str(path))
    assert made.exit_code == 0, made.stderr
    mapping = yaml.safe_load(path.read_text())
    assert list(mapping["embeddings"]) == ["yes", "on", "no", "null", "1e5", "0x1F", "cat"]
    assert mapping["model"]["layer_norm_eps"] == 1e-5
    from_file = json.loads(encoder_cli.explain(weights=path).to_json())
    assert json.loads(encoder_cli.explain(weights=mapping).to_json())["steps"] == from_file["steps"]
