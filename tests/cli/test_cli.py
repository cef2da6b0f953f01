"""The command as a user runs it: exit codes, stdout and stderr apart, the JSON contract,
filters, stdin, colour, summarising, and the installed entry points."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from encoder_cli.cli import app
from encoder_cli.render import json_doc
from tests.conftest import MAT, PRE, SEED, SENTENCES, generate, run, wide_model

ANSI = re.compile(r"\x1b\[")


def explain_json(path: Path, *more: str) -> dict:
    result = run("explain", SENTENCES[path], "--weights", str(path), "--format", "json", *more)
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""

    def no_constants(name: str) -> float:
        raise AssertionError(f"{name} in JSON")

    return json.loads(result.stdout, parse_constant=no_constants)


def expected_ids(
    layers: int, heads: int, pre: bool, embedding_norm: bool = False, final_norm: bool = False
) -> list[str]:
    """The step ids of docs/contracts/json-output.md, in the order its table gives them."""

    def norm(step: str) -> list[str]:
        return [f"{step}.mean", f"{step}.variance", step]

    ids = ["embeddings", "positional", "input", *(norm("input_norm") if embedding_norm else [])]
    for i in range(layers):
        p = f"layers.{i}"
        ids += norm(f"{p}.norm_1") if pre else []
        for h in range(heads):
            ids += [f"{p}.attention.heads.{h}.{s}" for s in ("Q", "K", "V", "scores", "scaled", "weights", "output")]
        ids += [f"{p}.attention.concat", f"{p}.attention.output", f"{p}.residual_1"]
        ids += norm(f"{p}.norm_2") if pre else norm(f"{p}.norm_1")
        ids += [f"{p}.ffn.hidden", f"{p}.ffn.activation", f"{p}.ffn.output", f"{p}.residual_2"]
        ids += [] if pre else norm(f"{p}.norm_2")
    return ids + (norm("final_norm") if final_norm else []) + ["output"]


@pytest.mark.parametrize(
    ("path", "ids"),
    [
        (SEED, expected_ids(layers=1, heads=1, pre=False)),
        (MAT, expected_ids(layers=2, heads=2, pre=False)),
        (PRE, expected_ids(layers=2, heads=3, pre=True, final_norm=True)),
    ],
)
def test_json_document_follows_the_contract(path: Path, ids: list[str]) -> None:
    doc = explain_json(path)
    assert doc["format"] == 1 and doc["sentence"] == SENTENCES[path]
    assert [s["id"] for s in doc["steps"]] == ids
    n = len(doc["tokens"])
    m = doc["model"]
    assert set(m) == {
        "d_model",
        "heads",
        "d_k",
        "d_ff",
        "layers",
        "positional",
        "norm",
        "activation",
        "layer_norm_eps",
    }
    widths = {
        "scores": n,
        "scaled": n,
        "weights": n,
        "mean": 1,
        "variance": 1,
        "hidden": m["d_ff"],
        "activation": m["d_ff"],
    }
    for step in doc["steps"]:
        last = step["id"].split(".")[-1]
        width = widths.get(last, m["d_k"] if ".heads." in step["id"] else m["d_model"])
        assert step["shape"] == [n, width], step["id"]
        assert np.array(step["values"]).shape == (n, width)
        assert step["rows"] == doc["tokens"] and len(step["cols"]) == width
        assert all(i in ids[: ids.index(step["id"])] for i in step["inputs"]), step["id"]
        assert step["title"] and step["formula"]


def test_json_values_are_full_precision() -> None:
    """The JSON holds the float64 values exactly (shortest repr that round-trips)."""
    g = generate(3)
    result = run("explain", g.sentence, "--weights", "-", "-f", "json", input=g.yaml())
    doc = json.loads(result.stdout)
    first = doc["steps"][0]["values"][0]
    fold = str.lower if g.options["lowercase"] else str
    vocab = {fold(k): v for k, v in g.data["embeddings"].items()}
    assert first == vocab.get(doc["tokens"][0], vocab.get(fold("[UNK]")))  # exact float equality


def test_seed_example_embedded_and_on_disk_agree_and_work_from_anywhere(tmp_path: Path) -> None:
    from encoder_cli.api import EXAMPLE

    assert EXAMPLE.read_bytes() == SEED.read_bytes()
    result = subprocess.run(
        [sys.executable, "-m", "encoder_cli", "explain", "--format", "json"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    doc = json.loads(result.stdout)
    assert doc["sentence"] == "The cat sat" and doc["tokens"] == ["The", "cat", "sat"]
    assert doc["steps"][-1]["id"] == "output"


def test_weights_from_stdin_equal_weights_from_a_file() -> None:
    from_file = explain_json(MAT)
    result = run("explain", SENTENCES[MAT], "--weights", "-", "-f", "json", input=MAT.read_text())
    assert json.loads(result.stdout) == from_file


def test_filters_remove_steps_and_change_nothing_else() -> None:
    whole = {s["id"]: s for s in explain_json(MAT)["steps"]}

    def kept(*options: str) -> list[str]:
        steps = explain_json(MAT, *options)["steps"]
        assert all(s == whole[s["id"]] for s in steps)
        return [s["id"] for s in steps]

    assert kept("--layer", "1") == [i for i in whole if i.startswith("layers.1.")]
    assert kept("--head", "1") == [i for i in whole if ".heads.0." not in i]
    assert kept("--step", "weights") == [f"layers.{i}.attention.heads.{h}.weights" for i in (0, 1) for h in (0, 1)]
    assert kept("--layer", "0", "--head", "1", "--step", "heads.*") == [
        f"layers.0.attention.heads.1.{s}" for s in ("Q", "K", "V", "scores", "scaled", "weights", "output")
    ]
    assert kept("-s", "input", "-s", "output") == ["input", "output"]
    assert kept("-s", "layers.*.norm_?") == [f"layers.{i}.norm_{k}" for i in (0, 1) for k in (1, 2)]


def test_filters_apply_to_the_terminal_view() -> None:
    result = run("explain", "The cat sat on the mat", "-w", str(MAT), "--layer", "1", "--step", "weights")
    assert result.exit_code == 0
    ids = re.findall(r"^(\S+)   \d+ × \d+", result.stdout, flags=re.M)
    assert ids == ["layers.1.attention.heads.0.weights", "layers.1.attention.heads.1.weights"]


def test_terminal_view_shows_every_step_with_its_formula() -> None:
    doc = explain_json(PRE)
    result = run("explain", SENTENCES[PRE], "-w", str(PRE))
    assert result.exit_code == 0 and result.stderr == ""
    assert re.findall(r"^(\S+)   \d+ × \d+", result.stdout, flags=re.M) == [s["id"] for s in doc["steps"]]
    for step in doc["steps"]:
        assert step["formula"] in result.stdout
    assert "Unknown   ',' (4), 'fast' (5) use the [UNK] embedding" in result.stdout
    assert doc["unknown"] == [{"position": p, "token": t, "embedding": "[UNK]"} for p, t in ((4, ","), (5, "fast"))]


def test_precision_sets_the_decimals() -> None:
    result = run("explain", "-s", "input", "-p", "5")
    assert "1.34147" in result.stdout  # 0.5 + sin(1) = 1.3414709848
    assert "1.341 " not in result.stdout


def test_repeated_tokens_are_labelled_by_position() -> None:
    result = run("explain", SENTENCES[MAT], "-w", str(MAT), "-s", "layers.0.attention.heads.0.weights")
    assert "the (0)" in result.stdout and "the (4)" in result.stdout


@pytest.mark.parametrize(
    ("env", "flags"),
    [({"NO_COLOR": "1", "FORCE_COLOR": "1"}, []), ({"FORCE_COLOR": "1"}, ["--no-color"])],
)
def test_no_color(env: dict[str, str], flags: list[str]) -> None:
    result = CliRunner(env={"COLUMNS": "100", "NO_COLOR": None, **env}).invoke(app, ["explain", *flags])
    assert result.exit_code == 0
    assert "\x1b[38" not in result.stdout and "\x1b[48" not in result.stdout


def test_weights_are_a_heatmap_in_colour() -> None:
    result = CliRunner(env={"COLUMNS": "100", "NO_COLOR": None, "FORCE_COLOR": "1", "COLORTERM": "truecolor"}).invoke(
        app, ["explain", "-s", "weights", "-s", "scores"]
    )
    weights = result.stdout[result.stdout.index("Attention weights") :]
    scores = result.stdout[: result.stdout.index("Attention weights")]
    assert len(re.findall(r"\x1b\[[0-9;]*48;2;", weights)) == 9  # a background on each of the 3 x 3 cells
    assert "48;2;" not in scores


def test_large_matrices_are_summarised_and_full_shows_them_whole() -> None:
    sentence = " ".join(f"w{i}" for i in range(60))
    args = ("explain", sentence, "-w", "-", "-s", "ffn.hidden")
    lines = run(*args, input=wide_model(), env={"COLUMNS": "80"}).stdout.splitlines()
    assert "layers.0.ffn.hidden   60 × 256   summarised: --full shows every row and column" in lines
    assert max(map(len, lines)) <= 80
    header = next(line for line in lines if line.lstrip().startswith("f0"))
    assert header.split()[:2] == ["f0", "f1"] and "…" in header and header.split()[-1] == "f255"
    full = run(*args, "--full", input=wide_model(), env={"COLUMNS": "80"}).stdout.splitlines()
    header = next(line for line in full if line.lstrip().startswith("f0"))
    assert header.split() == [f"f{j}" for j in range(256)]
    assert len([line for line in full if re.match(r"w\d+ ", line)]) == 60


def test_version_and_help_and_module_entry_point() -> None:
    assert run("--version").stdout.startswith("encoder-cli ")
    helped = run("explain", "--help")
    assert helped.exit_code == 0 and "--weights" in helped.stdout and "[n, d]" not in helped.stdout
    bare = run()  # no arguments: the help, as a usage error
    assert bare.exit_code == 2 and "explain" in bare.output
    module = subprocess.run([sys.executable, "-m", "encoder_cli", "--version"], capture_output=True, text=True)
    assert module.returncode == 0 and module.stdout.startswith("encoder-cli ")


def test_closing_the_pipe_early_is_quiet() -> None:
    env = {**os.environ, "COLUMNS": "100"}
    shell = f"{sys.executable} -m encoder_cli explain | head -n 1"
    result = subprocess.run(["bash", "-c", shell], capture_output=True, text=True, env=env)
    assert result.stdout.startswith("Sentence")
    assert "Traceback" not in result.stderr and "Error" not in result.stderr


@pytest.mark.parametrize("rows_of", [json_doc.ROWS_OF, 1, 5])  # whole steps, a row or a few at a time
def test_streamed_json_is_the_document(rows_of: int, monkeypatch: pytest.MonkeyPatch) -> None:
    from encoder_cli import explain

    monkeypatch.setattr(json_doc, "ROWS_OF", rows_of)
    trace = explain("The cat sat on the mat", weights=MAT).trace
    for steps in (trace.steps, trace.steps[:1], []):
        text = b"".join(json_doc.chunks(trace, steps)).decode()
        assert text == json_doc.dumps(json_doc.document(trace, steps))
        worked = b"".join(json_doc.chunks(trace, steps, work_precision=3)).decode()
        assert worked == json_doc.dumps(json_doc.document(trace, steps, work_precision=3))
        parsed = json.loads(text)  # the standard library reads back every number exactly
        assert [s["values"] for s in parsed["steps"]] == [s.values.tolist() for s in steps]


@pytest.mark.parametrize("columns", [50, 60, 80, 95, 120])
def test_the_model_line_breaks_between_settings_never_inside_one(columns: int) -> None:
    out = run("explain", "The cat sat on the mat", "-w", str(MAT), "-s", "Q", env={"COLUMNS": str(columns)}).stdout
    header = out.split("\n\n")[0].splitlines()
    start = next(i for i, line in enumerate(header) if line.startswith("Model"))
    lines = [line[len("Model") :].strip().replace("\u00a0", " ") for line in header[start:]]
    settings = "d_model 4 · 2 heads (d_k 2) · d_ff 8 · 2 layers · sinusoidal PE · post-norm · relu · ε 1e−05"
    assert " ".join(lines) == settings and all(len(line) <= columns for line in header)
    for part in settings.split(" · "):
        assert any(part in line for line in lines), (part, lines)
