"""One set of names everywhere (#17): the seed's names in -s, -c, check's answers, --blank and
t[...], one did-you-mean, and the parameters (W_Q, b_1, γ, ...) shown on request.

Parameter values are checked against the weights file as YAML itself reads it, never against
our own output."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml

import encoder_cli
from encoder_cli import names
from encoder_cli.errors import EncoderError
from tests.conftest import MAT, SEED, SENTENCES, run

MAT_ARGS = [SENTENCES[MAT], "-w", str(MAT)]


def raw(path):
    """The weights file as YAML reads it (on: is a word there, so use the base loader's keys as strings)."""
    return yaml.load(path.read_text(), Loader=yaml.BaseLoader)


def numbers(value) -> np.ndarray:
    return np.array(value, dtype=float)


def ids_of(*args: str) -> tuple[list[str], list[str]]:
    done = run("explain", *args, "-f", "json")
    assert done.exit_code == 0, done.stderr
    doc = json.loads(done.stdout)
    return [s["id"] for s in doc["steps"]], [p["id"] for p in doc.get("parameters", [])]


# --- one resolver, the same names in every place --------------------------------------------

SAME = [  # (a learner's name, the step id it means in the seed's example)
    ("PE", "positional"),
    ("X'", "input"),
    ("x'", "input"),
    ("X", "embeddings"),
    ("q", "layers.0.attention.heads.0.Q"),
    ("softmax", "layers.0.attention.heads.0.weights"),
    ("Softmax", "layers.0.attention.heads.0.weights"),
    ("attention", "layers.0.attention.output"),
    ("Scores", "layers.0.attention.heads.0.scores"),
    ("norm_1.MEAN", "layers.0.norm_1.mean"),
]


@pytest.mark.parametrize(("name", "step_id"), SAME)
def test_a_name_means_one_step_in_every_place(name: str, step_id: str, tmp_path) -> None:
    t = encoder_cli.explain()
    assert t[name] is t[step_id]  # the Python API
    address = f"{name}[cat]" if step_id.endswith("mean") else f"{name}[cat,0]"
    cell = run("explain", "-c", address, "-f", "json")
    assert cell.exit_code == 0, cell.stderr
    assert json.loads(cell.stdout)["cells"][0]["step"] == step_id  # --cell
    answers = tmp_path / "a.yaml"
    answers.write_text(yaml.safe_dump({address: 0.5}))  # check's answers
    graded = run("check", "--answers", str(answers), "-f", "json")
    assert graded.exit_code in (0, 1), graded.stderr
    assert {c["step"] for c in json.loads(graded.stdout)["answers"]} == {step_id}
    if not step_id.startswith(("embeddings", "positional")):  # looked up: nothing to blank there
        sheet = run("worksheet", "--blank", address, "--key", "-f", "markdown")  # --blank: the key holds the answer
        assert sheet.exit_code == 0, sheet.stderr
        assert f"`{step_id}`" in sheet.stdout


def test_the_seeds_symbols_select_with_step() -> None:
    assert ids_of("-s", "PE")[0] == ["positional"]
    assert ids_of("-s", "X'")[0] == ["input"]
    assert ids_of("-s", "softmax")[0] == ["layers.0.attention.heads.0.weights"]


def test_a_stage_selects_many_and_a_single_name_needs_one() -> None:
    steps, _ = ids_of(*MAT_ARGS, "-s", "attention")
    assert steps and all(".attention." in s for s in steps) and len(steps) == 2 * (2 * 7 + 2)
    assert ids_of(*MAT_ARGS, "-s", "heads.1", "--layer", "1")[0] == [
        f"layers.1.attention.heads.1.{k}" for k in ("Q", "K", "V", "scores", "scaled", "weights", "output")
    ]
    failed = run("explain", *MAT_ARGS, "-c", "attention[the,d0]")
    assert failed.exit_code == 2
    assert failed.stderr == (
        "error: --cell 'attention' could be any of 2 steps (layers.0.attention.output, layers.1.attention.output); "
        "write more of the id\n"
    )


def test_filters_keep_todays_output_for_globs() -> None:
    steps, params = ids_of(*MAT_ARGS, "-s", "layers.0.*")
    assert params == [] and steps == [s.id for s in encoder_cli.explain(SENTENCES[MAT], weights=MAT).steps
                                      if s.id.startswith("layers.0.")]  # fmt: skip
    plain = json.loads(run("explain", *MAT_ARGS, "-f", "json").stdout)
    asked = json.loads(run("explain", *MAT_ARGS, "-s", "*", "-s", "W_Q", "-f", "json").stdout)
    assert asked["steps"] == plain["steps"] and "parameters" not in plain  # the steps never change


@pytest.mark.parametrize(
    ("name", "meant"),
    [("query", "'Q'"), ("attn", "'weights'"), ("scroes", "'scores'"), ("Keys", "'K'"), ("positions", "'PE'")],
)
def test_a_did_you_mean_ranks_by_meaning(name: str, meant: str) -> None:
    done = run("explain", "-c", f"{name}[The,0]")
    assert done.exit_code == 2 and done.stdout == ""
    assert f"did you mean {meant}" in done.stderr


@pytest.mark.parametrize(
    ("name", "meant"),
    [
        ("heads.1.scroes", "'heads.1.scores'"),
        ("layers.0.attention.heads.0.scroes", "'layers.0.attention.heads.0.scores'"),
        ("scroes", "'scores'"),
    ],
)
def test_a_did_you_mean_stays_in_its_scope_with_two_heads(name: str, meant: str) -> None:
    done = run("explain", *MAT_ARGS, "-s", name)
    assert done.exit_code == 2 and f"did you mean {meant}" in done.stderr


def test_a_stage_is_a_stage_whatever_its_case() -> None:
    assert ids_of("-s", "Attention") == ids_of("-s", "attention")


def test_suggestions_are_bounded_in_the_names_they_compare(monkeypatch) -> None:
    t = encoder_cli.explain(SENTENCES[MAT], weights=MAT).trace
    compared: list[int] = []
    import difflib

    real = difflib.get_close_matches

    def counted(word, possibilities, **options):
        compared.append(len(possibilities))
        return real(word, possibilities, **options)

    monkeypatch.setattr(difflib, "get_close_matches", counted)
    with pytest.raises(EncoderError):
        names.one(t, "x" * names.LONGEST)
    assert compared and max(compared) <= names.SUGGESTED_AMONG + len(names.ALIASES)
    with pytest.raises(EncoderError, match="is not a step or parameter; `encoder"):
        names.one(t, "nonsense", suggest=False)  # a grader's later unknown names: no search at all
    assert len(compared) == 1


# --- the parameters -----------------------------------------------------------------------


def test_parameters_shown_with_step_are_the_weights_file() -> None:
    w = raw(MAT)
    t = encoder_cli.explain(SENTENCES[MAT], weights=MAT)
    layer0 = w["layers"][0]
    np.testing.assert_array_equal(t["layers.0.attention.W_Q"], numbers(layer0["attention"]["W_Q"]))
    np.testing.assert_array_equal(t["layers.0.attention.heads.1.W_Q"], numbers(layer0["attention"]["W_Q"])[:, 2:4])
    np.testing.assert_array_equal(t["layers.0.ffn.b_1"], numbers([layer0["ffn"]["b_1"]]))
    # layer 1 is written per head: its whole W_V is its heads side by side
    heads = w["layers"][1]["attention"]["heads"]
    whole = np.concatenate([numbers(h["W_V"]) for h in heads], axis=1)
    np.testing.assert_array_equal(t["layers.1.attention.W_V"], whole)
    table = t["embeddings.table"]  # the rows of the sentence's tokens, each once (the sentence folds The)
    assert next(s.rows for s in t.parameters if s.id == "embeddings.table") == ("the", "cat", "sat", "on", "mat")
    np.testing.assert_array_equal(table[3], numbers(w["embeddings"]["on"]))
    ids = [p.id for p in t.parameters]
    assert "layers.0.norm_1.gamma" in ids and "layers.1.attention.heads.0.b_Q" in ids
    assert not t["layers.0.attention.W_Q"].flags.writeable


def test_step_shows_a_parameter_with_its_labels_and_a_heads_columns_marked() -> None:
    done = run("explain", *MAT_ARGS, "--layer", "0", "-s", "W_Q")
    assert done.exit_code == 0, done.stderr
    assert "W_Q: given, 4 × 4; head 0: d0–d1, head 1: d2–d3" in done.stdout
    assert "layers.0.attention.W_Q   4 × 4" in done.stdout
    head = run("explain", *MAT_ARGS, "--layer", "0", "--head", "1", "-s", "W_Q")
    lines = head.stdout.splitlines()
    top = next(k for k, line in enumerate(lines) if "W_Q[:, 2:4]" in line)
    assert lines[top + 1].split() == ["d2", "d3"]  # a head's columns by their own column


def test_a_parameters_cell_is_given_not_worked() -> None:
    w = raw(MAT)
    done = run("explain", *MAT_ARGS, "-c", "layers.0.attention.W_Q[d1,d2]", "-c", "layers.1.ffn.b_1[f3]")
    assert done.exit_code == 0, done.stderr
    q = float(w["layers"][0]["attention"]["W_Q"][1][2])
    b = float(w["layers"][1]["ffn"]["b_1"][3])
    assert done.stdout.splitlines() == [
        f"layers.0.attention.W_Q[d1, d2] = {q:.3f} (given: a parameter of the model, not worked out)",
        f"layers.1.ffn.b_1[f3] = {b:.3f} (given: a parameter of the model, not worked out)",
    ]


def test_json_lists_parameters_only_when_named() -> None:
    doc = json.loads(run("explain", "-s", "W_Q", "-s", "Q", "-f", "json").stdout)
    assert [s["id"] for s in doc["steps"]] == ["layers.0.attention.heads.0.Q"]
    (p,) = doc["parameters"]
    assert p["id"] == "layers.0.attention.W_Q" and p["shape"] == [4, 4] and p["rows"] == ["d0", "d1", "d2", "d3"]
    assert p["values"] == raw(SEED)["layers"][0]["attention"]["W_Q"] or np.array_equal(
        numbers(p["values"]), numbers(raw(SEED)["layers"][0]["attention"]["W_Q"])
    )


def test_a_model_without_W_O_says_so() -> None:
    for args in (["-s", "W_O"], ["-c", "W_O[d0,d0]"]):
        done = run("explain", *args)
        assert done.exit_code == 2 and done.stdout == ""
        assert "this model has no W_O: its attention output is the heads' concat as it is" in done.stderr


def test_check_and_blank_refuse_a_parameter(tmp_path) -> None:
    answers = tmp_path / "a.yaml"
    answers.write_text("W_Q[d0,d0]: 0.1\n")
    graded = run("check", "--answers", str(answers))
    assert graded.exit_code != 0
    assert "'W_Q' is a parameter of the model, given, not worked out" in graded.stderr
    sheet = run("worksheet", "--blank", "W_Q[d0,d0]")
    assert sheet.exit_code == 2 and "is a parameter of the model" in sheet.stderr


def test_parameters_count_toward_the_work_bound(monkeypatch) -> None:
    t = encoder_cli.explain(SENTENCES[MAT], weights=MAT)
    monkeypatch.setattr(names, "MAX_HELD", t.trace.held + 16 + 15)  # W_Q fits (16), W_Q and W_K do not
    assert names.select(t.trace, 0, None, ["layers.0.attention.W_Q"])[0].value.shape == (4, 4)
    with pytest.raises(EncoderError, match="these parameters hold 32 numbers"):
        names.select(t.trace, 0, None, ["layers.0.attention.W_K", "layers.0.attention.W_V"])


def test_an_unknown_key_in_the_api_is_a_key_error() -> None:
    t = encoder_cli.explain()
    for key in (5, None, 1.5, b"Q"):
        with pytest.raises(KeyError):
            t[key]  # type: ignore[index]


# --- what a review found (#17) ------------------------------------------------------------


def test_a_long_name_is_refused_at_once_and_quoted_short() -> None:
    """fnmatch takes quadratic time on an unclosed [: a name past LONGEST is refused before any match."""
    for flag in ("-s", "-c"):
        done = run("explain", flag, "[a-" * 30_000)
        assert done.exit_code == 2 and done.stdout == "" and len(done.stderr) < 300, done.stderr[:300]
        assert "… (90,000 characters)" in done.stderr and done.stderr.count("\n") == 1
    assert "is 90,000 characters long; a name is at most 200" in run("explain", "-s", "[a-" * 30_000).stderr
    assert "is 201 characters long" in run("explain", "-c", "q" * 201 + "[0,0]").stderr


def test_a_layer_and_an_end_name_one_thing_in_every_place() -> None:
    """layers.1.W_Q is layer 1's W_Q; Heads.1.W_Q (any case) head 1's columns; an alias may end a dotted name."""
    t = encoder_cli.explain(SENTENCES[MAT], weights=MAT)
    assert t["layers.1.W_Q"] is t["layers.1.attention.W_Q"]
    assert t["Layers.0.Attention.Heads.1.W_Q"] is t["layers.0.attention.heads.1.W_Q"]
    assert t["layers.1.norm_1.γ"] is t["layers.1.norm_1.gamma"]
    assert ids_of(*MAT_ARGS, "-s", "layers.1.W_Q")[1] == ["layers.1.attention.W_Q"]
    assert ids_of(*MAT_ARGS, "-s", "Heads.1.W_Q")[1] == [f"layers.{i}.attention.heads.1.W_Q" for i in (0, 1)]
    assert ids_of(*MAT_ARGS, "--layer", "1", "-s", "heads.1.softmax")[0] == ["layers.1.attention.heads.1.weights"]
    assert ids_of("-s", "W_*")[1] == [f"layers.0.{p}" for p in ("attention.W_Q", "attention.W_K", "attention.W_V",
                                                                "ffn.W_1", "ffn.W_2")]  # fmt: skip
    assert ids_of("-s", "Γ")[1] == ["layers.0.norm_1.gamma", "layers.0.norm_2.gamma"]


def test_a_parameter_the_model_has_is_never_said_missing() -> None:
    done = run("explain", "-s", "layers.0.W_O")
    assert "this model has no W_O" in done.stderr  # it has none
    done = run("explain", *MAT_ARGS, "-s", "layers.9.W_Q")  # it has W_Q, in other layers
    assert done.exit_code == 2 and "has no" not in done.stderr and "is not a step or parameter" in done.stderr


def test_a_one_row_parameter_takes_its_column_by_number_too() -> None:
    w = raw(SEED)["layers"][0]["ffn"]["b_1"]
    done = run("explain", "-c", "b_1[0]", "-c", "b_1[f1]")
    assert done.stdout.splitlines() == [
        f"b_1[f0] = {float(w[0]):.3f} (given: a parameter of the model, not worked out)",
        f"b_1[f1] = {float(w[1]):.3f} (given: a parameter of the model, not worked out)",
    ]


def test_parameters_read_one_at_a_time_count_toward_the_bound(monkeypatch) -> None:
    t = encoder_cli.explain(SENTENCES[MAT], weights=MAT)
    monkeypatch.setattr(names, "MAX_HELD", t.trace.held + 16 + 15)  # room for one 4 x 4 matrix
    t["layers.0.attention.W_Q"]
    t["layers.0.attention.W_Q"]  # read before: nothing more
    with pytest.raises(KeyError, match="these parameters hold 16 numbers"):
        t["layers.0.attention.W_K"]


def test_layer_keeps_the_shared_steps_a_pattern_names() -> None:
    """--layer 1 -s PE: the positions are outside every layer, read by all, and named: shown. Without
    a pattern naming them, --layer keeps that layer's steps alone."""
    t = encoder_cli.explain().trace
    named = [s.id for s in names.select(t, 0, None, ["PE", "Q"])]
    assert named == ["positional", "layers.0.attention.heads.0.Q"]
    assert all(s.layer == 0 for s in names.select(t, 0, None, []))
