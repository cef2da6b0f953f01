"""The terminal view as people read it, at a fixed width without colour, compared with
reviewed snapshots in __snapshots__/ (update with `pytest --snapshot-update`, then read the diff).
The numbers in them are checked elsewhere, against PyTorch and by hand.

The matrices are laid out by terminal.MatrixView, not by Rich's Table (seconds for 300 x 300
numbers): these snapshots, and test_full_heatmap's, were written by Rich's Table, and the
layout has not changed."""

from __future__ import annotations

from typer.testing import CliRunner

from encoder_cli.cli import app
from tests.conftest import MAT, PRE, wide_model


def view(*args: str, columns: int = 100, input: str | None = None) -> str:
    result = CliRunner(env={"COLUMNS": str(columns), "NO_COLOR": "1"}).invoke(app, ["explain", *args], input=input)
    assert result.exit_code == 0 and result.stderr == ""
    return result.stdout


def test_seed_example(snapshot) -> None:
    assert view() == snapshot


def test_two_heads_one_layer(snapshot) -> None:
    assert view("The cat sat on the mat", "-w", str(MAT), "--layer", "1", "-p", "2") == snapshot


def test_pre_norm_gelu_one_head_at_80_columns(snapshot) -> None:
    assert (
        view(
            "a dog ran home, fast.",
            "-w",
            str(PRE),
            "--head",
            "2",
            "-s",
            "layers.1.*",
            "-s",
            "output",
            columns=80,
        )
        == snapshot
    )


def test_summarised(snapshot) -> None:
    sentence = " ".join(f"w{i}" for i in range(60))
    assert view(sentence, "-w", "-", "-s", "embeddings", "-s", "weights", columns=80, input=wide_model()) == snapshot


def test_full_heatmap(snapshot) -> None:
    sentence = " ".join(f"w{i}" for i in range(60))
    assert view(sentence, "-w", "-", "-s", "weights", "--full", columns=80, input=wide_model()) == snapshot


def test_worked_cells_two_layers_two_heads(snapshot) -> None:
    """Worked lines name the layer and the head, what a product multiplies, and wrap between terms."""
    assert view("The cat sat on the mat", "-w", str(MAT), "--layer", "1", "--show-work", columns=80) == snapshot


def test_worked_cells_pre_norm(snapshot) -> None:
    assert view("a dog ran home, fast.", "-w", str(PRE), "--layer", "0", "--head", "1", "--show-work") == snapshot
