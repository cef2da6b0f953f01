"""The table of output formats (render/views.py): the commands offer what it lists, a binary
format never goes to a terminal, and each row's suffix names what its writer writes."""

from __future__ import annotations

import io
import json
import mimetypes
import os
import pty
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

import openpyxl  # type: ignore[import-untyped]
import pytest
import safetensors.numpy

from encoder_cli import api
from encoder_cli.errors import EncoderError
from encoder_cli.output import writing
from encoder_cli.render import views
from tests.conftest import WORKSHEET, run

EXPLAINED = ["terminal", "json", "svg", "markdown", "latex", "html", "safetensors", "xlsx"]  # #18, #20, #22: explain's
TEXTS = EXPLAINED[:-2]  # the formats a terminal may show
SHEETS = ["terminal", "markdown", "latex", "html", "xlsx"]  # and worksheet's

# What a file of each MIME type holds, read by its own reader where Python has one.
READS: dict[str, Callable[[str], bool]] = {
    "text/plain": lambda text: re.match(r"(.*\n)?Sentence ", text) is not None,  # under a worksheet's title
    "application/json": lambda text: isinstance(json.loads(text)["steps"], list),
    "image/svg+xml": lambda text: ET.fromstring(text).tag == "{http://www.w3.org/2000/svg}svg",
    "text/markdown": lambda text: text.startswith("# "),
    "text/x-tex": lambda text: "\\begin{document}" in text and text.endswith("\\end{document}\n"),
    "text/html": lambda text: text.startswith("<!DOCTYPE html>") and text.endswith("</html>\n"),
}
# A binary file, read by its own reader: by suffix, for no MIME type names it.
BINARIES: dict[str, Callable[[bytes], bool]] = {
    ".safetensors": lambda data: "output" in safetensors.numpy.load(data),
    ".xlsx": lambda data: "output" in openpyxl.load_workbook(io.BytesIO(data)).defined_names,
}


def choices(command: str) -> list[str]:
    """--format's choices as the command's help lists them: <a|b|c>."""
    text = run(command, "--help").stdout
    found = re.search(r"-f, --format <([a-z|]+)>", text)
    assert found is not None, text
    return found.group(1).split("|")


def test_the_table_holds_the_formats_each_command_offers() -> None:
    assert list(views.names()) == EXPLAINED
    assert list(views.names(sheet=True)) == SHEETS
    assert choices("explain") == EXPLAINED
    assert choices("worksheet") == SHEETS


@pytest.mark.parametrize("name", TEXTS)
def test_explain_writes_every_format_of_the_table(name: str) -> None:
    result = run("explain", "--format", name)
    assert (result.exit_code, result.stderr) == (0, "")
    kind = mimetypes.guess_type(f"out{views.VIEWS[name].suffix}")[0]
    assert kind is not None
    assert READS[kind](result.stdout)


@pytest.mark.parametrize("name", SHEETS[:-1])  # xlsx: tests/cli/test_xlsx.py
def test_worksheet_writes_every_format_of_the_table_with_its_blanks_numbered(name: str) -> None:
    result = run(*WORKSHEET, "--format", name)
    assert result.exit_code == 0, result.stderr
    kind = mimetypes.guess_type(f"out{views.VIEWS[name].suffix}")[0]
    assert kind is not None
    assert READS[kind](result.stdout)
    assert "Worksheet: A Transformer encoder" in result.stdout


@pytest.mark.parametrize("name", sorted(set(EXPLAINED) - set(SHEETS)))
def test_worksheet_refuses_a_format_that_draws_no_blanks(name: str) -> None:
    result = run(*WORKSHEET, "--format", name)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert f"'{name}' is not one of 'terminal', 'markdown', 'latex', 'html', 'xlsx'" in result.stderr


def test_every_suffix_names_a_type_that_its_writer_writes(tmp_path: Path) -> None:
    trace = api.run(None, None)
    for name, view in views.VIEWS.items():
        path = tmp_path / f"out{view.suffix}"
        with writing(path) as out:
            views.write(name, views.Job(trace, trace.steps, 3), out)
        if not view.terminal:
            assert BINARIES[view.suffix](path.read_bytes()), name
            continue
        kind = mimetypes.guess_type(path)[0]
        assert kind in READS, (name, view.suffix)
        assert READS[kind](path.read_text(encoding="utf-8")), name


BINARY = b"\x00\xffbinary\n"


@pytest.fixture
def binary(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """A binary row, as xlsx (#22) and safetensors (#20) will be: the writer's calls, counted."""
    calls: list[int] = []

    def write(job: views.Job, out: TextIO) -> None:
        calls.append(len(job.steps))
        out.flush()
        out.buffer.write(BINARY)

    row = views.View(write, views.Needs.STEPS, ".bin", terminal=False)
    monkeypatch.setitem(views.VIEWS, "fake", row)
    return calls


def job() -> views.Job:
    trace = api.run(None, None)
    return views.Job(trace, trace.steps, 3)


def test_a_binary_format_is_refused_on_a_terminal_with_one_line_naming_o(binary: list[int]) -> None:
    leader, follower = pty.openpty()
    with open(follower, "w", encoding="utf-8") as terminal:
        with pytest.raises(EncoderError) as refused:
            views.write("fake", job(), terminal)
        terminal.flush()
        os.set_blocking(leader, False)
        with pytest.raises(BlockingIOError):  # nothing reached the terminal
            os.read(leader, 100)
    os.close(leader)
    assert binary == []
    assert refused.value.argument == "format"
    assert "\n" not in refused.value.message and "-o FILE" in refused.value.message
    assert refused.value.message.startswith("fake writes a binary file")


def test_a_binary_format_is_written_to_a_pipe_and_to_a_file(binary: list[int], tmp_path: Path) -> None:
    reader, writer = os.pipe()
    with open(writer, "w", encoding="utf-8") as pipe:
        views.write("fake", job(), pipe)
    with open(reader, "rb") as got:
        assert got.read() == BINARY
    with writing(tmp_path / "out.bin") as out:
        views.write("fake", job(), out)
    assert (tmp_path / "out.bin").read_bytes() == BINARY
    assert binary == [len(job().steps)] * 2


def test_a_binary_row_is_offered_by_explain_and_not_by_worksheet(binary: list[int]) -> None:
    assert views.names()[-1] == "fake"
    assert "fake" not in views.names(sheet=True)


def test_a_text_format_goes_to_a_terminal() -> None:
    leader, follower = pty.openpty()
    with open(follower, "w", encoding="utf-8") as terminal:
        views.write("markdown", job(), terminal)
    os.set_blocking(leader, False)
    assert os.read(leader, 20).startswith(b"# A Transformer")
    os.close(leader)


def test_the_notebooks_html_is_the_handouts_body() -> None:
    """_repr_html_ lays out its page as the html row does: the same tables as the handout."""
    fragment = api.explain()._repr_html_()
    handout = io.StringIO()
    views.write("html", job(), handout)
    tables = re.compile(r'<table class="matrix">.*?</table>')
    assert tables.findall(fragment) == tables.findall(handout.getvalue())
    assert len(tables.findall(fragment)) == len(job().steps)
