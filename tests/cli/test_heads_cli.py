"""The heads on the command line: the top words of each predicted position (--top, --predict all, --full),
the classifier's label, the handouts' top words, JSON's whole rows, a worked cell of the logits, and the
note for a mask token that no head predicts. The numbers are the Python API's, which
tests/reference/test_heads.py holds to transformers'; here, how the views show them.
"""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

import encoder_cli
from tests.conftest import run
from tests.kit.models import HEADS

SENTENCE = "the cat [MASK] on the mat"


@pytest.fixture(scope="module")
def folder(tiny):
    def made(variant: str) -> str:
        family, arguments = HEADS[variant]
        return str(tiny(family, **arguments))

    return made


def _expected(trace, k: int) -> list[str]:
    """Each row's k best words as the terminal lines them up: `position: word  probability  logit`."""
    probabilities, logits = trace["mlm.probabilities"], trace["mlm.logits"]
    cols = trace.trace.by_id["mlm.probabilities"].cols
    lines = []
    for row, p in enumerate(trace.trace.by_id["mlm.rows"].op.positions):
        for j in np.argsort(-probabilities[row], kind="stable")[:k]:
            lines.append(f"{p}: {cols[j]} {probabilities[row, j]:.3f} {logits[row, j]:.3f}")
    return lines


def _table(stdout: str, step: str) -> list[str]:
    """The body of a step's matrix in the terminal view, each line's runs of spaces made one."""
    lines = stdout.splitlines()
    end = next(k for k, line in enumerate(lines) if line.startswith(f"{step} "))
    start = max(k for k in range(end) if set(lines[k]) == {"─"})
    return [re.sub(" +", " ", line.strip()) for line in lines[start + 1 : end]]


def test_the_terminal_shows_the_top_five_words_of_a_mask(folder):
    model = folder("bert-masked-lm")
    r = run("explain", SENTENCE, "--model", model, "-s", "mlm.probabilities")
    assert r.exit_code == 0, r.stderr
    ours = encoder_cli.explain(SENTENCE, model=model)
    words = ours["mlm.probabilities"].shape[1]
    assert _table(r.stdout, "mlm.probabilities") == _expected(ours, 5)
    assert f"Probability of each word: the top 5 of {words:,} words for each row (--full shows all)" in r.stdout
    assert re.sub(" +", " ", r.stdout.splitlines()[-2].strip()) == "mlm.probabilities 5 × 2"
    print(r.stdout)  # looked at: header, the Heads rule, five lines `3: word probability logit`


def test_top_and_predict_all(folder):
    model = folder("bert-masked-lm")
    r = run("explain", SENTENCE, "--model", model, "-s", "mlm.probabilities", "--top", "2", "--predict", "all")
    assert r.exit_code == 0, r.stderr
    ours = encoder_cli.explain(SENTENCE, model=model, predict="all")
    assert len(ours.tokens) == 8
    lines = _table(r.stdout, "mlm.probabilities")
    assert lines == _expected(ours, 2)
    assert [line.split(":")[0] for line in lines] == [str(p) for p in range(8) for _ in range(2)]


def test_full_and_json_keep_every_word(folder):
    model = folder("bert-masked-lm")
    words = encoder_cli.explain(SENTENCE, model=model)["mlm.logits"].shape[1]
    r = run("explain", SENTENCE, "--model", model, "-s", "mlm.logits", "--full")
    assert r.exit_code == 0, r.stderr
    assert f"mlm.logits   1 × {words}" in r.stdout
    assert "top 5" not in r.stdout
    r = run("explain", SENTENCE, "--model", model, "-f", "json")
    steps = {s["id"]: s for s in json.loads(r.stdout)["steps"]}
    for step in ("mlm.logits", "mlm.probabilities"):
        assert steps[step]["shape"] == [1, words] and len(steps[step]["cols"]) == len(steps[step]["values"][0]) == words
    assert steps["mlm.logits"]["rows"] == ["[MASK] (3)"]
    assert abs(sum(steps["mlm.probabilities"]["values"][0]) - 1) < 1e-12


def test_a_handout_shows_the_top_words(folder):
    model = folder("roberta-masked-lm")
    sentence = SENTENCE.replace("[MASK]", "<mask>")
    r = run("explain", sentence, "--model", model, "-s", "mlm.probabilities", "-f", "markdown", "--top", "3")
    assert r.exit_code == 0, r.stderr
    ours = encoder_cli.explain(sentence, model=model)
    probabilities, logits = ours["mlm.probabilities"][0], ours["mlm.logits"][0]
    best = np.argsort(-probabilities, kind="stable")[:3]
    rows = re.findall(r"^\\texttt\{3: .* & ([0-9.]+) & (-?[0-9.]+)(?: \\\\)?$", r.stdout, re.M)  # a row a word
    assert [(float(p), float(logit)) for p, logit in rows] == [
        (round(float(probabilities[j]), 3), round(float(logits[j]), 3)) for j in best
    ]
    assert "the top 3 of" in r.stdout


def test_a_cell_of_the_logits_is_worked_out(folder):
    model = folder("bert-masked-lm")
    r = run("explain", SENTENCE, "--model", model, "--cell", "mlm.logits[0,the]", "-p", "6")
    assert r.exit_code == 0, r.stderr
    ours = encoder_cli.explain(SENTENCE, model=model)
    j = ours.trace.by_id["mlm.logits"].cols.index("the")
    assert r.stdout.startswith("mlm.logits[[MASK] (3), the] = transform[[MASK] (3)] · W_vocab[:, ")
    assert r.stdout.rstrip().endswith(f" = {ours['mlm.logits'][0, j]:.6f}")


@pytest.mark.parametrize(
    ("variant", "said"),
    [
        ("bert-classifier", "label: "),
        ("roberta-multi-label", "labels at 0.5 or more: "),
        ("bert-regression", "score: "),
    ],
)
def test_the_classifier_names_its_label(folder, variant, said):
    model = folder(variant)
    ours = encoder_cli.explain("the cat sat on the mat", model=model)
    last = ours.steps[-1]
    r = run("explain", "the cat sat on the mat", "--model", model, "-s", last.id)
    assert r.exit_code == 0, r.stderr
    value, labels = last.values[0], last.cols
    if said == "label: ":
        expected = f"label: {labels[int(np.argmax(value))]} (probability {value.max():.3f})"
    elif said == "score: ":
        expected = f"score: {value[0]:.3f}"
    else:
        expected = said + ", ".join(f"{label} ({p:.3f})" for label, p in zip(labels, value, strict=True) if p >= 0.5)
    assert expected in r.stdout, r.stdout


def test_a_mask_without_a_head_is_a_note(folder, tiny):
    model = str(tiny("bert"))
    r = run("explain", SENTENCE, "--model", model, "-s", "output")
    assert r.exit_code == 0
    assert r.stderr.splitlines() == [
        f"warning: the sentence has [MASK], and {model} has no masked-LM head to predict it; "
        "the encoder runs as for any token (a ...ForMaskedLM checkpoint predicts it)"
    ]
    assert "mlm." not in run("explain", SENTENCE, "--model", model, "-f", "json").stdout


def test_top_must_be_a_count(folder):
    r = run("explain", SENTENCE, "--model", folder("bert-masked-lm"), "--top", "0")
    assert r.exit_code == 2 and r.stdout == ""
    assert len(r.stderr.splitlines()) == 1 and "--top" in r.stderr


@pytest.mark.parametrize("format", ["terminal", "markdown"])
def test_a_worksheet_that_asks_for_the_probabilities_does_not_name_the_label(folder, format):
    model = folder("bert-classifier")
    asked = ("worksheet", "the cat sat", "--model", model, "-s", "classifier", "-f", format)
    r = run(*asked, "-b", "classifier.probabilities[0,positive]")
    assert r.exit_code == 0, r.stderr
    assert "label:" not in r.stdout
    assert ("[1]" if format == "terminal" else r"\boxed{") in r.stdout  # the blank is there
    assert "label: " in run("explain", "the cat sat", "--model", model, "-s", "classifier", "-f", format).stdout


def test_every_position_needs_a_masked_lm_head(folder, tiny):
    """--predict all: with weights, one line and exit 2; with a checkpoint that has no masked-LM head, a note."""
    result = run("explain", "The cat sat", "--predict", "all")
    assert result.exit_code == 2 and result.stdout == ""
    assert (
        result.stderr
        == "error: predicting every position's word needs --model with a masked-LM head; weights have none\n"
    )
    with pytest.raises(encoder_cli.EncoderError, match="masked-LM head"):
        encoder_cli.explain("The cat sat", predict="all")
    result = run("explain", "The cat sat", "--model", folder("bert-classifier"), "--predict", "all", "-s", "output")
    assert result.exit_code == 0
    assert "every position's word was asked for, and this model has no masked-LM head" in result.stderr


def test_another_family_s_mask_token_is_said_to_be_text(folder):
    result = run("explain", "the cat [MASK] on the mat", "--model", folder("roberta-masked-lm"), "-s", "output")
    assert result.exit_code == 0
    assert result.stderr.endswith("'s mask token is <mask>; [MASK] in the sentence is read as text\n")
    assert (
        run("explain", "the cat <mask> on the mat", "--model", folder("roberta-masked-lm"), "-s", "output").stderr == ""
    )


def test_a_masked_lm_head_without_its_dense_layer_is_incomplete(folder, tmp_path):
    import shutil

    from safetensors.torch import load_file, save_file

    copy = tmp_path / "bert"
    shutil.copytree(folder("bert-masked-lm"), copy)
    stored = load_file(copy / "model.safetensors")
    del stored[next(name for name in stored if name.endswith("predictions.transform.dense.weight"))]
    save_file(stored, copy / "model.safetensors", metadata={"format": "pt"})
    result = run("explain", SENTENCE, "--model", str(copy))
    assert result.exit_code == 2 and "the head is incomplete" in result.stderr and result.stderr.count("\n") == 1


def test_the_worked_cell_of_a_vocabulary_step_is_its_best_word(folder):
    t = encoder_cli.explain(SENTENCE, model=folder("bert-masked-lm"))
    step = t.trace.by_id["mlm.logits"]
    best = step.cols[int(np.argmax(t["mlm.logits"][0]))]
    shown = run("explain", SENTENCE, "--model", folder("bert-masked-lm"), "-s", "mlm.logits", "--show-work").stdout
    assert f"logits[{step.rows[0]}, {best}] = " in shown.replace("\n    ", " ")
    tex = json.loads(
        run("explain", SENTENCE, "--model", folder("bert-masked-lm"), "-s", "mlm.logits", "-f", "json").stdout
    )
    assert tex["steps"][0]["formula"] == "transform W_vocab + b_vocab"
    markdown = run(
        "explain", SENTENCE, "--model", folder("bert-masked-lm"), "-s", "mlm.logits", "-f", "markdown"
    ).stdout
    assert r"W_{\mathrm{vocab}} + b_{\mathrm{vocab}}" in markdown
