"""`check --answers student.xlsx` (#22): a filled-in worksheet workbook graded as its answers YAML
is, its numbers read at the precision the cells show, and what a workbook can hold that a YAML
cannot (formulas, text, edited inputs, a sentence of its own) said in one line each."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from encoder_cli import api
from tests.conftest import run
from tests.kit.workbooks import Formula, fill, workbook

TRACE = api.run("The cat sat", None)
PE, X, Q = "positional", "input", "layers.0.attention.heads.0.Q"
BLANKS = ["PE[cat]", "X'[cat]", "Q[cat,d0]"]


def true(step_id: str, i: int, j: int) -> float:
    return float((TRACE.by_id.get(step_id) or TRACE.given(step_id)).value[i, j])


def student() -> dict[tuple[str, int, int], float]:
    """Every blank at two decimals, with one slip (PE[cat,d1] as 0.10, not 0.54) and its followers
    worked from it by hand: X'[cat,d1] = X[cat,d1] + 0.10, and Q[cat,d0] = X'[cat] · W_Q[:, 0]."""
    answers = {(PE, 1, j): round(true(PE, 1, j), 2) for j in range(4)} | {(PE, 1, 1): 0.10}
    answers |= {(X, 1, j): round(true("embeddings", 1, j) + answers[(PE, 1, j)], 2) for j in range(4)}
    own = np.array([answers[(X, 1, j)] for j in range(4)])
    answers[(Q, 1, 0)] = round(float(own @ TRACE.given("layers.0.attention.W_Q").value[:, 0]), 2)
    return answers


def check(tmp_path: Path, data: bytes, *more: str, name: str = "student.xlsx", env: dict[str, str] | None = None):
    path = tmp_path / name
    path.write_bytes(data)
    return run("check", "--answers", str(path), *more, env=env)


def graded(result) -> dict[tuple[str, int, int], dict]:
    return {(a["step"], a["row"], a["col"]): a for a in json.loads(result.stdout)["answers"]}


def test_a_filled_worksheet_grades_as_its_answers_yaml(tmp_path: Path) -> None:
    answers = student()
    assert answers[(Q, 1, 0)] != round(true(Q, 1, 0), 2)  # the slip reaches Q: it is carried, not right
    yaml_text = "".join(f"{s}[{i},{j}]: {v:.2f}\n" for (s, i, j), v in answers.items())
    (tmp_path / "student.yaml").write_text(yaml_text)
    from_yaml = run("check", "--answers", str(tmp_path / "student.yaml"), "-f", "json")
    from_book = check(tmp_path, workbook(TRACE, BLANKS, filled=answers), "-f", "json")
    assert from_book.exit_code == from_yaml.exit_code == 1 and from_book.stderr == ""
    book, yaml = graded(from_book), graded(from_yaml)
    assert book.keys() == yaml.keys() == answers.keys()
    for cell, a in book.items():
        assert a.pop("cell").startswith("'") and "line" not in a
        b = yaml[cell]
        del b["line"], a["key"], b["key"]  # the YAML's own keys; the workbook's are the cells' names
        assert a == b, cell
    verdicts = {cell: a["verdict"] for cell, a in book.items()}
    assert verdicts.pop((PE, 1, 1)) == "wrong" and verdicts.pop((X, 1, 1)) == "carried"
    assert verdicts.pop((Q, 1, 0)) == "carried" and set(verdicts.values()) == {"right"}
    summary = json.loads(from_book.stdout)["summary"]
    assert (summary["checked"], summary["right"], summary["not_attempted"]) == (9, 6, 0)


def test_the_terminal_report_names_cells_by_sheet_and_the_key_is_the_cells_name(tmp_path: Path) -> None:
    filled = {(PE, 1, 0): 0.84, (PE, 1, 1): "yes"}
    result = check(tmp_path, workbook(TRACE, BLANKS, filled=filled))
    place = "'2 Positional encoding'!C4"  # the block starts at B3 (A: row labels; 1: title, 2: labels)
    assert result.stderr == f"error: {tmp_path / 'student.xlsx'}: {place}: expected a number, got the text 'yes'\n"
    assert f"✗ malformed   {place}: expected a number" in result.stdout
    assert "1 checked: 1 right, 0 carried, 0 wrong, 1 malformed; 7 not attempted" in result.stdout
    assert graded(check(tmp_path, workbook(TRACE, BLANKS, filled=filled), "-f", "json"))[(PE, 1, 0)]["key"] == (
        "PE[cat,d0]"
    )


@pytest.mark.parametrize(
    ("value", "fmt", "written", "verdict"),
    [
        (0.8, "0.00", "0.80", "wrong"),  # the sheet's two decimals: 0.80 is no 0.84
        (0.8, "General", "0.8", "right"),  # stored as 0.8: one decimal, and 0.84 rounds to 0.8
        (0.841, "0.000", "0.841", "right"),  # a format the student set
        (0.8414, "0.00", "0.84", "right"),  # as the cell shows it
        (0.845, "0.00", "0.85", "wrong"),  # shown rounded half away from zero, as spreadsheets show 0.845
        (-0.004, "0.00", "-0.00", "too coarse"),  # a written zero for a value that is not 0
        (1, "General", "1", "right"),  # a whole number: no decimals, and 0.84 rounds to 1
        (0.84, "0.00%", "0.84", "right"),  # any other format: the number stored
    ],
)
def test_the_written_precision_is_the_cells_format_or_the_number_stored(
    tmp_path: Path, value: float, fmt: str, written: str, verdict: str
) -> None:
    data = workbook(TRACE, BLANKS, filled={(PE, 1, 0): value}, formats={(PE, 1, 0): fmt})
    result = check(tmp_path, data, "-f", "json")
    answer = graded(result)[(PE, 1, 0)]
    assert (answer["written"], answer["verdict"]) == (written, verdict)
    stored = fmt not in ("0.00", "0.000")
    assert ("stores 1.30 as 1.3" in result.stderr) == stored
    if stored:
        assert json.loads(result.stdout)["warnings"] == [
            "read at the decimals of the number stored, as no fixed-decimals number format is set, and a workbook "
            "stores 1.30 as 1.3 (format the cells 0.00 to claim two decimals): '2 Positional encoding'!B4"
        ]


def test_formulas_text_and_what_is_no_number(tmp_path: Path) -> None:
    pe = [round(true(PE, 1, j), 2) for j in range(4)]
    filled = {
        (PE, 1, 0): Formula("=SIN(1)", 0.8414709848078965),  # its stored value, shown at the cell's 0.00
        (PE, 1, 1): f"{pe[1]:.2f}".replace(".", ","),  # a decimal comma
        (PE, 1, 2): Formula("=0.01", ""),  # no stored value: nothing calculated it
        (PE, 1, 3): Formula("=1/0", "#DIV/0!"),
        (X, 1, 0): True,
        (X, 1, 1): " 1.3e0 ",  # a number as text, as written
        (X, 1, 2): "1,234.5",  # a thousands separator: not read
    }
    result = check(tmp_path, workbook(TRACE, BLANKS, filled=filled), "-f", "json")
    doc = json.loads(result.stdout)
    written = {(a["step"], a["row"], a["col"]): (a["written"], a["verdict"]) for a in doc["answers"]}
    assert written == {(PE, 1, 0): ("0.84", "right"), (PE, 1, 1): ("0.54", "right"), (X, 1, 1): ("1.3e0", "wrong")}
    assert [(m["cell"], m["message"]) for m in doc["malformed"]] == [
        ("'2 Positional encoding'!D4", "a formula with no stored value: open and save it in a spreadsheet program "
         "that calculates, or type the number"),
        ("'2 Positional encoding'!E4", "expected a number, got the error #DIV/0!"),
        ("'2 Positional encoding'!B10", "expected a number, got TRUE"),
        ("'2 Positional encoding'!D10", "expected a number, got the text '1,234.5'"),
    ]  # fmt: skip
    assert doc["warnings"] == ["text with a decimal comma read as a number, '0,54' as 0.54: '2 Positional encoding'!C4"]
    assert result.exit_code == 1 and result.stderr.count("\n") == 5  # 4 malformed, 1 warning


def test_a_workbook_filled_in_by_another_program(tmp_path: Path) -> None:
    """openpyxl, as a student's spreadsheet program: the values typed in, the blanks' formats kept,
    every formula's stored value dropped."""
    path = tmp_path / "student.xlsx"
    path.write_bytes(workbook(TRACE, BLANKS))
    fill(path, {(PE, 1, j): round(true(PE, 1, j), 2) for j in range(4)} | {(Q, 1, 0): "=2.44"})
    result = run("check", "--answers", str(path), "-f", "json")
    doc = json.loads(result.stdout)
    assert {a["verdict"] for a in doc["answers"]} == {"right"} and len(doc["answers"]) == 4
    assert "warnings" not in doc  # X's lookups lost their stored values: not known, so not edited
    assert doc["answers"][0]["written"] == "0.84"  # 0.84 kept its 0.00, and claims two decimals
    assert [m["message"][:30] for m in doc["malformed"]] == ["a formula with no stored value"]
    assert doc["summary"]["not_attempted"] == 4


def test_a_workbook_saved_by_libreoffice(tmp_path: Path, recalc) -> None:
    """A real spreadsheet program's file: LibreOffice opens the filled-in workbook, calculates the
    formula the student typed (stored with no value) and saves it as .xlsx in its own dialect (its
    styles, shared strings, defined names, hidden sheets, numbers in its own digits). It grades as
    the same answers in a YAML, and no input reads as edited."""
    answers: dict = student()
    yaml_text = "".join(f"{s}[{i},{j}]: {v:.2f}\n" for (s, i, j), v in answers.items())
    answers[(PE, 1, 0)] = Formula("=SIN(1)", "")  # 0.84 at the cell's 0.00, once calculated
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "student.xlsx").write_bytes(workbook(TRACE, BLANKS, filled=answers))
    (saved,) = recalc([tmp_path / "in" / "student.xlsx"])
    assert saved.read_bytes() != (tmp_path / "in" / "student.xlsx").read_bytes()
    (tmp_path / "student.yaml").write_text(yaml_text)
    book = run("check", "--answers", str(saved), "-f", "json")
    yaml = run("check", "--answers", str(tmp_path / "student.yaml"), "-f", "json")
    assert book.stderr == "" and "warnings" not in json.loads(book.stdout)
    assert [(a["written"], a["verdict"]) for a in json.loads(book.stdout)["answers"]] == [
        (a["written"], a["verdict"]) for a in json.loads(yaml.stdout)["answers"]
    ]


def test_nothing_filled_in_is_nothing_attempted(tmp_path: Path) -> None:
    result = check(tmp_path, workbook(TRACE, BLANKS))
    assert result.exit_code == 1 and result.stderr == ""
    assert "nothing attempted (9 blanks left empty)" in result.stdout
    one = check(tmp_path, workbook(TRACE, ["Q[cat,d0]"]))
    assert "nothing attempted (1 blank left empty)" in one.stdout
    (tmp_path / "one.yaml").write_text("Q[cat,d0]: ~\n")
    assert "nothing attempted (1 cell marked ~)" in run("check", "--answers", str(tmp_path / "one.yaml")).stdout


def test_a_workbooks_warnings_are_one_line_each_on_stderr_not_wrapped_into_the_report(tmp_path: Path) -> None:
    edits = {("layers.0.attention.W_Q", 1, 0): 0.5, ("layers.0.attention.W_Q", 2, 0): 0.5}
    filled = {(PE, 1, 0): " 0,84"}
    result = check(tmp_path, workbook(TRACE, BLANKS, filled=filled, edits=edits), env={"COLUMNS": "80"})
    assert "warning" not in result.stdout
    lines = result.stderr.splitlines()
    assert len(lines) == 2 and all(line.startswith(f"warning: {tmp_path / 'student.xlsx'}: ") for line in lines)
    assert "(and 1 more cell)" in lines[0] and lines[1].endswith("' 0,84' as 0.84: '2 Positional encoding'!B4")


def test_decimals_and_no_carry_apply_as_to_yaml(tmp_path: Path) -> None:
    data = workbook(TRACE, BLANKS, filled=student())
    coarse = graded(check(tmp_path, data, "-f", "json", "--decimals", "3"))
    assert {a["verdict"] for a in coarse.values()} == {"too coarse"}
    strict = graded(check(tmp_path, data, "-f", "json", "--no-carry"))
    assert strict[(X, 1, 1)]["verdict"] == strict[(Q, 1, 0)]["verdict"] == "wrong"


def test_an_edited_input_is_a_warning_and_the_run_grades(tmp_path: Path) -> None:
    w_q, answers = "layers.0.attention.W_Q", student()
    edits = {(w_q, 1, 0): 0.5, ("embeddings", 0, 2): 0.8 + 1e-12}  # the second is the same number: 0.8
    assert (true("embeddings", 0, 2), true(w_q, 1, 0)) == (0.8, 0.2)
    result = check(tmp_path, workbook(TRACE, BLANKS, filled=answers, edits=edits), "-f", "json")
    assert result.stderr.splitlines() == [
        f"warning: {tmp_path / 'student.xlsx'}: an input cell was edited: {w_q} at '3 Multi-head self-attention'!B4 "
        "holds 0.5, the run's is 0.2; the answers are graded against the run's numbers"
    ]
    assert graded(result) == graded(check(tmp_path, workbook(TRACE, BLANKS, filled=answers), "-f", "json"))


def test_a_worksheet_for_another_sentence_is_refused_and_other_weights_are_said(tmp_path: Path) -> None:
    data = workbook(TRACE, BLANKS, filled=student(), about={"sentence": "The dog sat"})
    result = check(tmp_path, data)
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr == (
        f"error: {tmp_path / 'student.xlsx'}: a worksheet for the sentence 'The dog sat', not 'The cat sat'; "
        "run check with the sentence the worksheet was made for: 'The dog sat'\n"
    )
    data = workbook(TRACE, BLANKS, filled=student(), about={"weights": "lesson/other.yaml"})
    (tmp_path / "class.yaml").write_text(api.read_text(api.EXAMPLE))
    result = check(tmp_path, data, "The cat sat", "-w", str(tmp_path / "class.yaml"))
    assert result.exit_code == 1 and result.stderr == (
        f"warning: {tmp_path / 'student.xlsx'}: the worksheet was made with -w 'lesson/other.yaml', "
        f"and this run uses '{tmp_path / 'class.yaml'}'; run check with -w lesson/other.yaml if they differ\n"
    )
    assert check(tmp_path, data).stderr == (  # no -w: the built-in example
        f"warning: {tmp_path / 'student.xlsx'}: the worksheet was made with -w 'lesson/other.yaml', "
        "and this run uses the built-in example; run check with -w lesson/other.yaml\n"
    )
    data = workbook(TRACE, BLANKS, filled=student(), about={"weights": "lesson/class.yaml"})
    assert check(tmp_path, data, "The cat sat", "-w", str(tmp_path / "class.yaml")).stderr == ""  # the same name


def test_a_class_folder_grades_its_workbooks_beside_its_yaml(tmp_path: Path) -> None:
    (tmp_path / "ann.yaml").write_text("PE[cat,d0]: 0.84\n")
    (tmp_path / "bob.xlsx").write_bytes(workbook(TRACE, BLANKS, filled=student()))
    (tmp_path / "~$bob.xlsx").write_bytes(b"\x05Excel's lock file")  # Excel's, while bob.xlsx is open
    (tmp_path / "notes.txt").write_text("not answers")
    result = run("check", "--answers", str(tmp_path), "-f", "csv")
    rows = result.stdout.splitlines()
    assert [r.split(",")[0] for r in rows[1:]] == [str(tmp_path / "ann.yaml"), str(tmp_path / "bob.xlsx")]
    assert rows[2].split(",")[1:8] == ["9", "6", "2", "1", "0", "0", "0"]  # checked, right, carried, wrong...
    assert result.exit_code == 1 and result.stderr == ""


def test_check_help_names_workbooks_and_yaml_answers_import_no_openpyxl(tmp_path: Path) -> None:
    assert ".xlsx" in " ".join(run("check", "--help").stdout.split())
    (tmp_path / "a.yaml").write_text("PE[cat,d0]: 0.84\n")
    code = (
        "import sys\nfrom encoder_cli.cli import app\n"
        f"try:\n    app(['check', '--answers', {str(tmp_path / 'a.yaml')!r}])\nexcept SystemExit as e:\n"
        "    print(e.code, file=sys.stderr)\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('openpyxl', 'defusedxml')), file=sys.stderr)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stderr.splitlines() == ["0", "[]"] and "1 right" in done.stdout


def test_a_cell_is_named_as_a_spreadsheet_names_it() -> None:
    from encoder_cli.answers_xlsx import Box

    assert Box("Attention", 12, 4).place(0, 0) == "Attention!D12"
    assert Box("Add & Norm", 3, 2).place(1, 26) == "'Add & Norm'!AB4"
    assert Box("Ann's", 1, 1).place(0, 0) == "'Ann''s'!A1"  # a quote doubled, as in a formula


@pytest.mark.parametrize("width", ["80", "160"])
def test_the_class_table_keeps_file_names_and_scores_whole_and_wraps_the_summary(
    tmp_path: Path, width: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("class").mkdir()
    names = ["class/alice-with-a-rather-long-name.xlsx", "class/bob.yaml", "class/dave-also-quite-long.yaml"]
    Path(names[0]).write_bytes(b"not a zip at all, and so a long error message " * 3)
    Path(names[1]).write_text("PE[cat,d0]: 0.84\n")
    Path(names[2]).write_text("PE[cat,d0]: 0.1\n")
    folder = tmp_path / ("a-teachers-folder-with-a-long-name-" * 2) / "class"  # a long absolute path
    shutil.copytree("class", folder)
    for given in ("class", str(folder)):
        result = run("check", "--answers", given, env={"COLUMNS": width})
        lines = result.stdout.splitlines()
        top = next(k for k, line in enumerate(lines) if line.split() == ["file", "answers", "score"])
        assert "".join(lines[1:top]) == f"files in {given}{os.sep}"  # said once (folded); the files named within it
        for name, score in zip(names, ["0.000", "1.000", "0.000"], strict=True):
            (line,) = [line for line in lines if Path(name).name in line]  # whole, on one line
            assert line.rstrip().endswith(score)
        assert all(len(line) <= int(width) for line in lines)
        assert lines[top + 2].split()[1:4] == ["not", "an", ".xlsx"]  # the error, wrapped, not naming the file
        assert "Excel workbook (.xlsx)" in " ".join(result.stdout.split())  # whole, however wrapped


def test_the_decimal_comma_warning_quotes_the_cells_own_text(tmp_path: Path) -> None:
    filled = {(PE, 1, 0): " 1,52", (PE, 1, 1): "0,3", (PE, 1, 2): "-0,25"}
    doc = json.loads(check(tmp_path, workbook(TRACE, BLANKS, filled=filled), "-f", "json").stdout)
    assert doc["warnings"] == [
        "text with a decimal comma read as a number, ' 1,52' as 1.52 (and 2 more cells): "
        "'2 Positional encoding'!B4, '2 Positional encoding'!C4, '2 Positional encoding'!D4"
    ]
    assert [a["written"] for a in doc["answers"]] == ["1.52", "0.3", "-0.25"]


def test_a_logical_value_is_malformed_as_a_formula_too(tmp_path: Path, recalc) -> None:
    """TRUE typed in and saved by LibreOffice is the formula =TRUE() with the number 1 stored (t="n"):
    malformed, as TRUE itself is; so is a formula whose stored value is a logical one (t="b", as
    Excel stores =1>0)."""
    filled = {(PE, 1, 0): True, (PE, 1, 2): Formula("=FALSE()", 0)}
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "student.xlsx").write_bytes(workbook(TRACE, BLANKS, filled=filled))
    (saved,) = recalc([tmp_path / "in" / "student.xlsx"])
    with zipfile.ZipFile(saved) as z:  # LibreOffice's own way of saving TRUE
        assert b'<f aca="false">TRUE()</f><v>1</v>' in z.read("xl/worksheets/sheet2.xml")
    saved.rename(tmp_path / "saved.xlsx")
    (tmp_path / "excel.xlsx").write_bytes(workbook(TRACE, BLANKS, filled={(PE, 1, 1): Formula("=1>0", True)}))
    result = run("check", "--answers", str(tmp_path / "saved.xlsx"), "--answers", str(tmp_path / "excel.xlsx"),
                 "-f", "json")  # fmt: skip
    docs = json.loads(result.stdout)["files"]
    assert [a for doc in docs for a in doc["answers"]] == []
    assert [(m["cell"], m["message"]) for doc in docs for m in doc["malformed"]] == [
        ("'2 Positional encoding'!B4", "expected a number, got TRUE"),
        ("'2 Positional encoding'!D4", "expected a number, got FALSE"),
        ("'2 Positional encoding'!C4", "expected a number, got TRUE"),
    ]


def test_a_workbook_read_as_yaml_is_named_for_what_it_is(tmp_path: Path) -> None:
    data = workbook(TRACE, BLANKS, filled=student())
    piped = run("check", "--answers", "-", input=data)
    assert piped.exit_code == 2 and piped.stdout == ""
    assert piped.stderr == (
        "error: <stdin>: an .xlsx workbook (a zip file), which is read from a file named *.xlsx; "
        "give it as a file named *.xlsx\n"
    )
    renamed = check(tmp_path, data, name="alice.yaml")
    assert renamed.exit_code == 2 and renamed.stderr == (
        f"error: {tmp_path / 'alice.yaml'}: an .xlsx workbook (a zip file), which is read from a file named "
        "*.xlsx; rename it to .xlsx\n"
    )


def test_a_forgotten_w_or_other_decimals_name_what_the_worksheet_was_made_with(tmp_path: Path) -> None:
    from tests.conftest import MAT

    sheet = tmp_path / "mat.xlsx"
    made = run("worksheet", "The cat sat", "-w", str(MAT), "-b", "layers.1.attention.heads.1.Q[cat]",
               "--decimals", "2", "-f", "xlsx", "-o", str(sheet))  # fmt: skip
    assert made.exit_code == 0, made.stderr
    forgot = run("check", "The cat sat", "--answers", str(sheet))  # the example has one layer
    assert forgot.exit_code == 2 and forgot.stderr.splitlines()[-1] == (
        f"error: {sheet}: blanks!A2: names the step 'layers.1.attention.heads.1.Q', which this run does not have; "
        f"this worksheet was made with -w {MAT}; run check with it"
    )
    finer = run("check", "The cat sat", "--answers", str(sheet), "-w", str(MAT), "--decimals", "3")
    assert finer.stderr == (
        f"warning: {sheet}: the worksheet asked for 2 decimals, and this run grades with --decimals 3, so an answer "
        "with fewer is too coarse; run check with --decimals 2\n"
    )
    assert run("check", "The cat sat", "--answers", str(sheet), "-w", str(MAT), "--decimals", "2").stderr == ""


def test_a_forgotten_w_that_the_example_cannot_run_names_the_worksheets_weights(tmp_path: Path) -> None:
    from tests.conftest import PRE, SENTENCES

    sheet = tmp_path / "pre.xlsx"
    made = run("worksheet", SENTENCES[PRE], "-w", str(PRE), "-b", "X'[dog]", "-f", "xlsx", "-o", str(sheet))
    assert made.exit_code == 0, made.stderr
    assert "no embedding for the token 'a'" in run("check", SENTENCES[PRE], "--answers", "-", input="X'[dog]: ~").stderr
    forgot = run("check", SENTENCES[PRE], "--answers", str(sheet))
    assert (
        forgot.exit_code == 2
        and forgot.stdout == ""
        and forgot.stderr
        == (
            f"error: {sheet}: this worksheet was made with -w {PRE}, and the built-in example cannot run its sentence; "
            f"run check with -w {PRE}\n"
        )
    )
    assert run("check", SENTENCES[PRE], "--answers", str(sheet), "-w", str(PRE)).exit_code == 1  # nothing attempted
