"""Seeded fuzz of answers workbooks (#22): a filled-in worksheet workbook with its bytes mutated
(flipped, cut, spliced) or one of its XML members mutated (attributes, elements, entities, numbers,
defined names, the blanks and about sheets), graded in every format. Every outcome is a report
(exit 0 or 1, JSON that parses) or one line and exit 2 with nothing on stdout; never an exception.
A long run by hand: FUZZ_SEED=1000 FUZZ_XLSX=20000 pytest tests/robustness/test_fuzz_xlsx.py -q."""

from __future__ import annotations

import io
import json
import os
import random
import re
import zipfile
from pathlib import Path

import pytest

from encoder_cli import api
from tests.conftest import run
from tests.kit.workbooks import Formula, with_member, workbook

SEEDS = 30  # one mutated workbook each, graded in a random format
FIRST, RUN = int(os.environ.get("FUZZ_SEED", "0")), int(os.environ.get("FUZZ_XLSX", str(SEEDS)))
TRACE = api.run("The cat sat", None)
BLANKS = ["PE[cat]", "X'[cat]", "Q[cat,d0]", "weights[cat]"]
CELLS = [("positional", 1, j) for j in range(4)] + [("input", 1, j) for j in range(4)]
VALUES = ["0.84", "0,54", "1e999", "nan", "-0", "", " ", "TRUE", "1.2.3", "٠.٢", "x" * 200, "=1+1", "#DIV/0!"]
ATTRIBUTES = {
    "r": ["A0", "XFD1048576", "ZZZZ1", "1", "", "A99999999999", "B3", "-1"],
    "t": ["e", "b", "d", "s", "n", "str", "inlineStr", "x", ""],
    "s": ["0", "1", "99999", "-1", "x"],
    "ref": ["A1:XFD1048576", "A1", "", "B2:A1"],
    "name": ["input", "positional", "blanks", "about", "", "a b", "layers.0.attention.W_Q"],
}
SNIPPETS = [
    '<!DOCTYPE x [<!ENTITY a "aaaaaaaaaa">]>',
    "&a;",
    '<c r="B4"><f>1/0</f></c>',
    '<c r="B4" t="e"><f>1/0</f><v>#REF!</v></c>',
    '<c r="C4"><v>nan</v></c>',
    '<c r="D4" t="s"><v>99999</v></c>',
    '<c r="E4" t="inlineStr"><is><t>1,5</t></is></c>',
    '<row r="1048576"><c r="XFD1048576"><v>1</v></c></row>',
    "<definedName name=\"positional\">'2 Positional encoding'!$A$1:$XFD$1048576</definedName>",
    '<definedName name="input">#REF!</definedName>',
    '<definedName name="input">((</definedName>',
    '<dimension ref="A1:XFD1048576"/>',
    "]]>",
    "<",
    "\x00",
    "\ud7ff",
]


def base(rng: random.Random) -> bytes:
    """A worksheet workbook, some of its blanks filled with numbers, texts and formulas."""
    filled: dict = {}
    for cell in rng.sample(CELLS, rng.randint(0, len(CELLS))):
        kind = rng.randrange(4)
        value = float(TRACE.by_id[cell[0]].value[cell[1:]]) + rng.choice([0, 0, 0.01, -0.3])
        filled[cell] = [round(value, rng.randint(0, 4)), f"{value:.2f}".replace(".", ","),
                        Formula("=1+1", rng.choice(["", value, "#N/A"])), rng.choice(VALUES)][kind]  # fmt: skip
    formats = {cell: rng.choice(["0.00", "0.000", "General", "0%", "0.0E+00", "@"]) for cell in filled}
    return workbook(TRACE, BLANKS, filled=filled, formats=formats)


def bytes_mutated(rng: random.Random, data: bytes) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        at = rng.randrange(len(out))
        kind = rng.randrange(4)
        if kind == 0:
            out[at] ^= 1 << rng.randrange(8)
        elif kind == 1:
            del out[at : at + rng.randint(1, 64)]
        elif kind == 2:
            out[at:at] = rng.randbytes(rng.randint(1, 32))
        else:
            out[at:at] = out[rng.randrange(len(out)) :][: rng.randint(1, 256)]
    return bytes(out)


def xml_mutated(rng: random.Random, data: bytes) -> bytes:
    """One member's XML mutated: an attribute's value, an element cut or doubled, a snippet put in."""
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        names = [n for n in zf.namelist() if n.endswith((".xml", ".rels"))]
        weights = [5 if n.startswith("xl/worksheets/") or n == "xl/workbook.xml" else 1 for n in names]
        name = rng.choices(names, weights)[0]
        text = zf.read(name).decode("utf-8")
    for _ in range(rng.randint(1, 4)):
        kind = rng.randrange(4)
        if kind == 0:
            spots = [m for m in re.finditer(r'\b(r|t|s|ref|name)="[^"]*"', text)]
            if spots:
                m = rng.choice(spots)
                text = text[: m.start()] + f'{m[1]}="{rng.choice(ATTRIBUTES[m[1]])}"' + text[m.end() :]
        elif kind == 1:
            spots = [m for m in re.finditer(r"<(\w+)[^<>]*?(?:/>|>[^<]*</\1>)", text)]
            if spots:
                m = rng.choice(spots)
                text = text[: m.start()] + (m[0] * 2 if rng.random() < 0.5 else "") + text[m.end() :]
        elif kind == 2:
            spots = [m for m in re.finditer(r"<v>([^<]*)</v>", text)]
            if spots:
                m = rng.choice(spots)
                text = (
                    text[: m.start(1)]
                    + rng.choice(["1e308", "-1e-320", "nan", "inf", "", "1,5", "9" * 400])
                    + (text[m.end(1) :])
                )
        else:
            at = rng.randrange(len(text))
            text = text[:at] + rng.choice(SNIPPETS) + text[at:]
    return with_member(data, name, text.encode("utf-8", "surrogatepass"))


@pytest.mark.parametrize("seed", range(FIRST, FIRST + RUN))
def test_fuzzed_workbooks_are_graded_or_refused_in_one_line(seed: int, tmp_path: Path) -> None:
    rng = random.Random(seed)
    data = base(rng)
    data = xml_mutated(rng, data) if rng.random() < 0.7 else bytes_mutated(rng, data)
    path = tmp_path / "student.xlsx"
    path.write_bytes(data)
    fmt = rng.choice(["terminal", "json", "csv"])
    result = run("check", "--answers", str(path), "-f", fmt)
    assert result.exception is None or isinstance(result.exception, SystemExit), (seed, repr(result.exception))
    assert result.exit_code in (0, 1, 2), (seed, result.exit_code, result.stderr)
    lines = result.stderr.splitlines()
    assert all(line.startswith(("error: ", "warning: ")) for line in lines), (seed, result.stderr)
    if result.exit_code == 2:
        assert result.stdout == "" and len(lines) == 1 and lines[0].startswith("error: "), (seed, result.stderr)
    elif fmt == "json":
        assert {"answers", "malformed", "summary"} <= json.loads(result.stdout).keys()
