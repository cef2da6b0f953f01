"""--output and --format svg: files written whole, SVG pictures that render offline."""

from __future__ import annotations

import json
import os
import re
import stat
import threading
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from typer.testing import CliRunner

from encoder_cli import output
from encoder_cli.cli import app
from tests.conftest import MAT, ROOT

PICTURE = ["The cat sat on the mat", "-w", str(MAT), "--layer", "0", "--head", "1"]
PICTURE += ["-s", "heads.1.Q", "-s", "scores", "-s", "weights", "-f", "svg"]


def run(*args: str, input: str | None = None):
    return CliRunner(env={"COLUMNS": "100", "NO_COLOR": None}).invoke(app, list(args), input=input)


def test_svg_is_valid_xml_that_fetches_nothing_and_shows_every_step() -> None:
    result = run("explain", "-f", "svg")
    assert result.exit_code == 0 and result.stderr == ""
    root = ET.fromstring(result.stdout)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert not re.search(r"url\((?!#)", result.stdout)  # only references within the file
    assert "@font-face" not in result.stdout and "@import" not in result.stdout
    assert re.findall(r"https?://[^\s\"]+", result.stdout) == ["http://www.w3.org/2000/svg"]  # the namespace
    text = "".join(root.itertext()).replace("\xa0", " ")
    doc = json.loads(run("explain", "-f", "json").stdout)
    for step in doc["steps"]:
        assert step["id"] in text


def test_svg_colours_the_attention_weights() -> None:
    svg = run("explain", "-f", "svg", "-s", "weights").stdout
    fills = set(re.findall(r'<rect fill="(#[0-9a-f]{6})"', svg))
    assert len(fills) >= 6  # the background and the weights' heatmap


def test_the_readmes_picture_is_what_the_tool_draws() -> None:
    picture = (ROOT / "docs" / "terminal.svg").read_text()
    assert run("explain", *PICTURE).stdout == picture
    assert "docs/terminal.svg" in (ROOT / "README.md").read_text()


def test_output_writes_the_same_bytes_whole_and_replaces(tmp_path: Path) -> None:
    path = tmp_path / "doc.json"
    path.write_text("old\n")
    result = run("explain", "-f", "json", "-o", str(path))
    assert result.exit_code == 0 and result.stdout == ""
    assert path.read_text() == run("explain", "-f", "json").stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["doc.json"]  # no partial file left
    view = tmp_path / "view.txt"
    assert run("explain", "-o", str(view)).exit_code == 0
    assert "layers.0.attention.heads.0.weights   3 × 3" in view.read_text() and "\x1b[" not in view.read_text()


def test_output_problems(tmp_path: Path) -> None:
    for target, message in ((tmp_path, "is a directory"), (tmp_path / "no" / "such.json", "cannot be written")):
        result = run("explain", "-f", "json", "-o", str(target))
        assert result.exit_code == 2 and message in result.stderr and result.stdout == ""
    bad = run("explain", "The dog sat", "-o", str(tmp_path / "x.txt"))
    assert bad.exit_code == 2 and not (tmp_path / "x.txt").exists()
    assert list(tmp_path.iterdir()) == []


def test_cells_are_text_or_json_not_pictures() -> None:
    result = run("explain", "-c", "Q[0,0]", "-f", "svg")
    assert result.exit_code == 2 and "--cell writes text or JSON" in result.stderr and result.stdout == ""


def test_an_output_never_replaces_an_input(tmp_path: Path) -> None:
    weights = tmp_path / "w.yaml"
    weights.write_text((ROOT / "fixtures" / "the-cat-sat.yaml").read_text())
    before = weights.read_bytes()
    link, hard = tmp_path / "link.yaml", tmp_path / "hard.yaml"
    link.symlink_to(weights)
    os.link(weights, hard)
    for target in (weights, link, hard):
        result = run("explain", "The cat sat", "-w", str(weights), "-o", str(target))
        assert result.exit_code == 2 and "is also an input" in result.stderr and result.stdout == ""
    assert weights.read_bytes() == before and link.is_symlink()


def test_output_through_a_symlink_replaces_its_target_and_keeps_the_link(tmp_path: Path) -> None:
    target, link = tmp_path / "real.json", tmp_path / "link.json"
    target.write_text("old\n")
    target.chmod(0o640)
    link.symlink_to(target)
    assert run("explain", "-f", "json", "-o", str(link)).exit_code == 0
    assert link.is_symlink() and target.read_text() == run("explain", "-f", "json").stdout
    assert stat.S_IMODE(target.stat().st_mode) == 0o640  # its permissions kept
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.json", "real.json"]


def test_output_to_a_fifo_or_a_device_is_written_through(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    assert run("explain", "-f", "json", "-o", str(fifo)).exit_code == 0
    reader.join(10)
    assert got == [run("explain", "-f", "json").stdout.encode()] and stat.S_ISFIFO(fifo.stat().st_mode)
    assert run("explain", "-o", "/dev/null").exit_code == 0
    assert Path("/dev/null").is_char_device()


def test_init_output_is_written_whole(tmp_path: Path) -> None:
    path = tmp_path / "w.yaml"
    path.write_text("mine\n")
    assert run("init", "-o", str(path), "--force").exit_code == 0
    assert path.read_text() == run("init").stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w.yaml"]


def test_sigterm_as_the_temporary_file_is_made_leaves_no_partial(tmp_path: Path, monkeypatch) -> None:
    """SIGTERM ends a run as an exception (cli._terminated). Arriving just as the temporary file is
    made, before its name was known to the code that removes it, it once left the file behind
    (seen under load in test_hostile's SIGTERM test). The file is now named first, and made inside
    the `try` that removes it."""
    import signal

    made = os.open

    def open_then_sigterm(path, flags, *mode):
        handle = made(path, flags, *mode)
        if str(path).endswith(".partial"):
            os.kill(os.getpid(), signal.SIGTERM)  # its handler runs as soon as open returns
        return handle

    def terminated(signum, frame):
        raise SystemExit(143)

    previous = signal.signal(signal.SIGTERM, terminated)
    monkeypatch.setattr(os, "open", open_then_sigterm)
    target = tmp_path / "view.txt"
    target.write_text("old\n")
    try:
        with pytest.raises(SystemExit), output.writing(target) as out:
            out.write("new\n")
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["view.txt"] and target.read_text() == "old\n"
