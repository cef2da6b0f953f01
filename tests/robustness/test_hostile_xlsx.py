"""Hostile workbooks given to `check --answers` (#22): whatever the file, one line on stderr and
exit 2, nothing on stdout, no traceback, in bounded memory; openpyxl opens only a zip that passed
the checks, and parses its XML through defusedxml."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from encoder_cli import api
from tests.conftest import run
from tests.kit.workbooks import with_member, workbook
from tests.robustness.test_bounds import PEAK
from tests.robustness.test_hostile import rejected

TRACE = api.run("The cat sat", None)
BLANKS = ["PE[cat]", "X'[cat]", "Q[cat,d0]"]
GOOD = workbook(TRACE, BLANKS, filled={("positional", 1, 0): 0.84})
SAVE = "save it from a spreadsheet program as an Excel workbook (.xlsx)"
LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + "".join(f'<!ENTITY lol{k} "{("&lol" + str(k - 1) + ";" if k > 1 else "&lol;") * 10}">' for k in range(1, 10))
    + "]>"
)


def member(name: str, data: bytes = GOOD) -> bytes:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return zf.read(name)


def sheet_of(title: str) -> str:
    """The zip member of a sheet, by its title, as workbook.xml and its relationships order them."""
    names = re.findall(rb'<sheet name="([^"]+)"', member("xl/workbook.xml"))
    return f"xl/worksheets/sheet{[n.decode().replace('&amp;', '&') for n in names].index(title) + 1}.xml"


def refused(tmp_path: Path, data: bytes, name: str = "student.xlsx") -> str:
    path = tmp_path / name
    path.write_bytes(data)
    line = rejected("check", "--answers", str(path))
    return line.removeprefix(f"error: {path}: ").rstrip("\n")


def bomb(size: int) -> bytes:
    """A zip of one sheet that unpacks to `size` bytes of spaces, written a MiB at a time."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf, zf.open("xl/worksheets/sheet1.xml", "w") as f:
        for _ in range(size >> 20):
            f.write(b" " * (1 << 20))
    return out.getvalue()


def encrypted(data: bytes, name: str) -> bytes:
    """The zip with one member marked encrypted (bit 0 of its flags, in both of its headers)."""
    out = bytearray(data)
    at = out.find(b"PK\x01\x02")
    while at != -1:
        size = int.from_bytes(out[at + 28 : at + 30], "little")
        if out[at + 46 : at + 46 + size] == name.encode():
            out[at + 8] |= 1
            out[int.from_bytes(out[at + 42 : at + 46], "little") + 6] |= 1
        at = out.find(b"PK\x01\x02", at + 1)
    return bytes(out)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"PE[cat,d0]: 0.84\n", f"not an .xlsx workbook (not a zip file); {SAVE}"),
        (b"", f"not an .xlsx workbook (not a zip file); {SAVE}"),
        (GOOD[: len(GOOD) // 2], f"not an .xlsx workbook (not a zip file); {SAVE}"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(4000), "an encrypted or old .xls workbook, which this cannot "
         "read; save it as an Excel workbook (.xlsx) without a password"),
        (with_member(GOOD, "mimetype", b"application/vnd.oasis.opendocument.spreadsheet"),
         f"an OpenDocument spreadsheet (.ods) named .xlsx; {SAVE}"),
        (bomb(8 << 20), "its member 'xl/worksheets/sheet1.xml' unpacks to 8,388,608 bytes from 8,"),
        (with_member(GOOD, "xl/sharedStrings.xml", b" " * (40 << 20)), "its member 'xl/sharedStrings.xml' unpacks "
         "to 41,943,040 bytes"),
        (encrypted(with_member(GOOD, "mimetype", b"x"), "mimetype"), f"not an .xlsx workbook (not a zip file); {SAVE}"),
        (encrypted(GOOD, "xl/workbook.xml"), "not a workbook this can read (RuntimeError: File 'xl/workbook.xml' is "
         "encrypted, password "),
        (with_member(GOOD, "xl/workbook.xml", b"<workbook"), "not a workbook this can read (ParseError: "),
        (with_member(GOOD, "xl/workbook.xml", b""), "not a workbook this can read ("),
        (with_member(GOOD, "[Content_Types].xml", b"<Types/>"), "not a workbook this can read ("),
    ],
)  # fmt: skip
def test_what_is_no_workbook_is_one_line(tmp_path: Path, data: bytes, expected: str) -> None:
    assert refused(tmp_path, data).startswith(expected)


@pytest.mark.parametrize("part", ["xl/workbook.xml", "xl/sharedStrings.xml", "xl/styles.xml", "[Content_Types].xml",
                                  "sheet", "blanks", "about"])  # fmt: skip
def test_an_entity_bomb_is_refused_wherever_it_is(tmp_path: Path, part: str) -> None:
    sheets = {"sheet": sheet_of("2 Positional encoding"), "blanks": sheet_of("blanks"), "about": sheet_of("about")}
    name = sheets.get(part, part)
    xml = member(name)
    body = xml[xml.index(b"?>") + 2 :] if xml.startswith(b"<?xml") else xml
    body = body.replace(b">", b">&lol9;", 1)  # the root element's text: a billion lols
    line = refused(tmp_path, with_member(GOOD, name, LAUGHS.encode() + body))
    assert line in (f"its XML declares entities, which a workbook never needs (an entity bomb?); {SAVE}",), line


def test_a_workbook_without_defusedxml_is_not_read(tmp_path: Path) -> None:
    path = tmp_path / "student.xlsx"
    path.write_bytes(GOOD)
    done = subprocess.run(
        [sys.executable, "-m", "encoder_cli", "check", "--answers", str(path)],
        capture_output=True,
        text=True,
        env=os.environ | {"OPENPYXL_DEFUSEDXML": "False", "PYTHONPATH": str(Path(__file__).parents[2])},
    )
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == (
        f"error: {path}: openpyxl would read it without defusedxml, which refuses entity bombs; "
        "install defusedxml and leave OPENPYXL_DEFUSEDXML unset\n"
    )


def test_a_zip_bomb_is_refused_before_it_is_unpacked(tmp_path: Path) -> None:
    """1 GiB of spaces in 1 MiB of zip: refused from the zip's directory, in the memory of a run."""
    path = tmp_path / "student.xlsx"
    path.write_bytes(bomb(1 << 30))
    assert path.stat().st_size < 2 << 20
    env = os.environ | {"PYTHONPATH": str(Path(__file__).parents[2])}
    command = [sys.executable, "-m", "encoder_cli", "check", "--answers", str(path)]
    peak, status, stderr = subprocess.run(
        [sys.executable, "-c", PEAK, *command], capture_output=True, text=True, env=env, check=True
    ).stdout.split(" ", 2)
    assert status == "2" and "(a zip bomb?)" in stderr and stderr.rstrip("\n").count("\n") == 0
    assert int(peak) < 200 * 1024  # KiB: a run's own memory, far from the 1 GiB it unpacks to


def defined(data: bytes, name: str, target: str) -> bytes:
    """The workbook with a defined name pointing somewhere else."""
    xml = member("xl/workbook.xml", data).decode()
    xml, count = re.subn(rf'(<definedName name="{re.escape(name)}">)[^<]*', rf"\g<1>{target}", xml)
    assert count == 1
    return with_member(data, "xl/workbook.xml", xml.encode())


def test_names_that_are_missing_or_not_the_steps_block(tmp_path: Path) -> None:
    pe = "'2 Positional encoding'"
    wrong = "was the worksheet made for another sentence or model?"
    assert refused(tmp_path, defined(GOOD, "positional", f"{pe}!$A$1:$XFD$1048576")) == (
        f"the defined name 'positional' is 1048576 x 16384 cells, where the step is 3 x 4; {wrong}"
    )
    for target in (f"{pe}!$B:$E", f"{pe}!$B$3:$E$5,{pe}!$B$7", "'No such sheet'!$B$3:$E$5", "42", "#REF!", "=(("):
        assert refused(tmp_path, defined(GOOD, "positional", target)) == (
            f"the defined name 'positional' is missing, or not one block of cells, where the step is 3 x 4; {wrong}"
        ), target
    xml = member("xl/workbook.xml").decode()
    gone = re.sub(r'<definedName name="positional">[^<]*</definedName>', "", xml).encode()
    assert "the defined name 'positional' is missing" in refused(tmp_path, with_member(GOOD, "xl/workbook.xml", gone))


def test_blocks_far_apart_are_refused_before_their_cells_are_read(tmp_path: Path) -> None:
    """A name moved to the sheet's far corner: the rectangle around the blocks would be 17 billion cells."""
    far = defined(GOOD, "positional", "'2 Positional encoding'!$XFA$1048574:$XFD$1048576")
    assert refused(tmp_path, far) == (  # from X''s block in B9:E11 to PE's in XFA1048574:XFD1048576
        "its blocks on the sheet '2 Positional encoding' lie far apart, over 1,048,568 rows and 16,383 columns; " + SAVE
    )


def test_a_sheet_that_claims_huge_dimensions_is_read_as_it_is(tmp_path: Path) -> None:
    """A <dimension> of A1:XFD1048576, and a row numbered 1048576 with a cell at XFD: only the
    blocks' rows and columns are read, and the answers are graded."""
    name = sheet_of("2 Positional encoding")
    xml = member(name).decode()
    xml = re.sub(r'<dimension ref="[^"]*"/>', '<dimension ref="A1:XFD1048576"/>', xml)
    xml = xml.replace("</sheetData>", '<row r="1048576"><c r="XFD1048576"><v>1</v></c></row></sheetData>')
    path = tmp_path / "student.xlsx"
    path.write_bytes(with_member(GOOD, name, xml.encode()))
    result = run("check", "--answers", str(path))
    assert result.exit_code == 0 and result.stderr == ""
    assert "1 checked: 1 right, 0 carried, 0 wrong; 8 not attempted" in result.stdout


def sheet_rows(data: bytes, title: str, rows: list[list[object]]) -> bytes:
    """The workbook with a sheet's rows replaced, as inline values."""

    def cell(r: int, c: int, v: object) -> str:
        ref = f"{'ABCD'[c]}{r + 1}"
        if isinstance(v, int | float):
            return f'<c r="{ref}"><v>{v}</v></c>'
        return f'<c r="{ref}" t="inlineStr"><is><t>{v}</t></is></c>'

    body = "".join(
        f'<row r="{r + 1}">' + "".join(cell(r, c, v) for c, v in enumerate(row) if v is not None) + "</row>"
        for r, row in enumerate(rows)
    )
    name = sheet_of(title)
    xml = re.sub(r"<sheetData>.*</sheetData>|<sheetData/>", f"<sheetData>{body}</sheetData>", member(name).decode())
    return with_member(data, name, xml.encode())


HEAD = ["number", "step", "row", "col"]


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        ([HEAD, [1, "layers.0.nope", 0, 0]], "blanks!A2: names the step 'layers.0.nope', which this run does not "
         "have; was the worksheet made with other weights?"),
        ([HEAD, [1, "positional", 3, 0]], "blanks!A2: expected a row below 3 and a column below 4 of positional, "
         "got 3, 0"),
        ([HEAD, [1, "positional", 1, -1]], "blanks!A2: expected a row below 3 and a column below 4 of positional, "
         "got 1, -1"),
        ([HEAD, [1, "positional", 1.5, 0]], "blanks!A2: expected a row below 3 and a column below 4 of positional, "
         "got 1.5, 0"),
        ([HEAD, [1, "positional", "1", 0]], "blanks!A2: expected a row below 3 and a column below 4 of positional, "
         "got '1', 0"),
        ([HEAD, [1, 7, 1, 0]], "blanks!A2: names the step 7, which this run does not have; was the worksheet made "
         "with other weights?"),
        ([HEAD, [1, "positional", 1, 0], [2, "positional", 1, 0]], "blanks!A3: the blank positional[1,0] is listed "
         "twice"),
        ([["n", "step", "row", "col"]], "the sheet 'blanks' does not start with the row number, step, row, col; give "
         "the workbook as the worksheet wrote it"),
        ([], "the sheet 'blanks' does not start with the row number, step, row, col; give the workbook as the "
         "worksheet wrote it"),
    ],
)  # fmt: skip
def test_a_blanks_sheet_naming_what_the_run_has_not(tmp_path: Path, rows: list, expected: str) -> None:
    assert refused(tmp_path, sheet_rows(GOOD, "blanks", rows)) == expected


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        ([["format", 2], ["kind", "worksheet"]], "a workbook of format 2, not 1; make it again with this version's "
         "`encoder worksheet -f xlsx`"),
        ([["kind", "worksheet"]], "a workbook of format None, not 1; make it again with this version's "
         "`encoder worksheet -f xlsx`"),
        ([["format", 1], ["kind", "explain"], ["sentence", "The cat sat"]], "made by `encoder explain -f xlsx`, "
         "which has no blanks; give the `encoder worksheet -f xlsx` the student filled in"),
        ([["format", 1], ["sentence", "The cat sat"]], "a workbook of kind None, not a worksheet; give the "
         "`encoder worksheet -f xlsx` the student filled in"),
        ([["format", 1], ["kind", "worksheet"]], "a worksheet for the sentence None, not 'The cat sat'; run check "
         "with the sentence the worksheet was made for: None"),
        ([["format", 1], ["kind", "worksheet"], ["sentence", "The cat sat"], ["sentence_b", "and a pair"]], "a "
         "worksheet for the second sentence 'and a pair', not None; run check with the second sentence the worksheet "
         "was made for: 'and a pair'"),
    ],
)  # fmt: skip
def test_an_about_sheet_of_another_kind_or_run(tmp_path: Path, rows: list, expected: str) -> None:
    assert refused(tmp_path, sheet_rows(GOOD, "about", rows)) == expected


def test_a_workbook_without_its_sheets(tmp_path: Path) -> None:
    xml = member("xl/workbook.xml").decode()
    for title, kind in (("blanks", "a worksheet's"), ("about", "an encoder workbook's")):
        renamed = with_member(GOOD, "xl/workbook.xml", xml.replace(f'name="{title}"', 'name="other"').encode())
        assert refused(tmp_path, renamed) == (
            f"no sheet '{title}', which {kind} has; give the workbook `encoder worksheet -f xlsx` wrote, filled in"
        )


def test_rows_the_sheet_leaves_out_are_empty(tmp_path: Path) -> None:
    """A sheet's XML that ends before the last rows a block spans (X'[sat]'s, row 11, and X'[cat]'s,
    the blanks' row 10): those cells are empty, and the blanks there not attempted. Found by the fuzz."""
    name = sheet_of("2 Positional encoding")
    xml, cut = re.subn(r'<row r="1[01]"[^>]*>.*?</row>', "", member(name).decode())
    assert cut == 2
    path = tmp_path / "student.xlsx"
    path.write_bytes(with_member(GOOD, name, xml.encode()))
    result = run("check", "--answers", str(path))
    assert result.exit_code == 0 and result.stderr == ""
    assert "1 checked: 1 right, 0 carried, 0 wrong; 8 not attempted" in result.stdout


def test_a_number_too_large_for_a_float(tmp_path: Path) -> None:
    """400 nines, which openpyxl reads as an int: in a blank, a malformed entry; in W_Q, an edited
    input (read as a float, inf). Found by the fuzz (float() of such an int overflows)."""
    nines = "9" * 400
    data = GOOD
    for title, ref in (("2 Positional encoding", "B4"), ("3 Multi-head self-attention", "B3")):
        name = sheet_of(title)
        xml, count = re.subn(rf'<c r="{ref}"[^>]*?(?:/>|>.*?</c>)', f'<c r="{ref}"><v>{nines}</v></c>',
                             member(name, data).decode())  # fmt: skip
        assert count == 1
        data = with_member(data, name, xml.encode())
    path = tmp_path / "student.xlsx"
    path.write_bytes(data)
    result = run("check", "--answers", str(path))
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"warning: {path}: an input cell was edited: layers.0.attention.W_Q at '3 Multi-head self-attention'!B3 "
        "holds inf, the run's is 0.1; the answers are graded against the run's numbers",
        f"error: {path}: '2 Positional encoding'!B4: expected a finite number, got {nines[:40]}",
    ]
