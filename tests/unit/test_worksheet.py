"""Worksheets: which cells are shown, blank or left out, worked out by hand for the seed's
example; the answers template loads in `check` and grades as nothing attempted."""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pytest

import encoder_cli
from encoder_cli import grading, worksheet
from encoder_cli.errors import EncoderError
from encoder_cli.trace import Mark, MarkKind
from tests.conftest import FIXTURES

S, B, L = worksheet.SHOWN, worksheet.BLANK, worksheet.LEFT_OUT
HEAD = "layers.0.attention.heads.0."


@pytest.fixture(scope="module")
def trace():
    return encoder_cli.explain().trace


def test_the_issues_example(trace) -> None:
    """Blank PE[cat], Q and weights[cat]. By the seed's formulas: X'[cat] = X + PE needs PE[cat]
    and Q needs X'[cat]: a blank. weights[cat] = softmax(scaled[cat]) = softmax(scores[cat] / 2),
    scores[cat, k] = Q[cat] · K[k]: both rows join, and K[cat] = X'[cat] W_K with them. V[cat]
    depends on X'[cat] but no blank needs it: left out; so are the other rows of scores, scaled
    and weights (they use Q) and everything after the weights."""
    sheet = worksheet.make(trace, ["PE[cat]", "Q", "weights[cat]"])
    row = lambda value, other, n=4: [[other] * n, [value] * n, [other] * n]  # noqa: E731
    assert sheet.cells["positional"].tolist() == row(B, S)
    assert sheet.cells["input"].tolist() == row(B, S)
    assert sheet.cells[HEAD + "Q"].tolist() == [[B] * 4] * 3
    assert sheet.cells[HEAD + "K"].tolist() == row(B, S)
    assert sheet.cells[HEAD + "V"].tolist() == row(L, S)
    for name in ("scores", "scaled", "weights"):
        assert sheet.cells[HEAD + name].tolist() == row(B, L, 3), name
    assert [s.id for s in sheet.steps][-1] == HEAD + "weights"
    assert all((sheet.cells[s.id] == L).all() for s in trace.steps[trace.steps.index(trace.by_id[HEAD + "output"]) :])
    assert len(sheet.blanks()) == 4 + 4 + 12 + 4 + 3 * 3
    assert sheet.params(trace.by_id[HEAD + "Q"])["W_Q"].shape == (4, 4)
    # Said so, in the order they are computed, with the rows and counts: X'[cat], K[cat], scores and scaled [cat].
    said = [re.search(r", row (\w+) \((\S+)\): (\d+) more blanks,", note).groups() for note in sheet.added]  # type: ignore[union-attr]
    assert said == [("cat", "X'", "4"), ("cat", "K", "4"), ("cat", "scores", "3"), ("cat", "scaled", "3")]
    assert set(sheet.added) <= set(sheet.notes)


def test_params_are_only_the_columns_a_blank_uses(trace) -> None:
    sheet = worksheet.make(trace, ["layers.0.ffn.hidden[cat,f2]"])
    params = sheet.params(trace.by_id["layers.0.ffn.hidden"])
    W_1, b_1 = trace.by_id["layers.0.ffn.hidden"].op.params.values()
    np.testing.assert_array_equal(params["W_1"], W_1[:, [2]])
    np.testing.assert_array_equal(params["b_1"], b_1[[2]])


def test_a_lookup_is_no_blank(trace) -> None:
    with pytest.raises(EncoderError, match="nothing to work out"):
        worksheet.make(trace, ["X[cat]"])


def test_a_lone_softmax_blank_is_given_away_by_its_row(trace) -> None:
    sheet = worksheet.make(trace, ["weights[cat,sat]"])
    assert any("sums to 1" in note for note in sheet.notes)


def test_the_template_loads_and_grades_as_nothing_attempted(trace) -> None:
    sheet = worksheet.make(trace, ["PE[cat]", "Q", "weights[cat]"])
    report = grading.grade_file(worksheet.template(sheet), "answers.yaml", trace, None)
    assert report.errors == [] and report.summary.checked == 0
    assert report.summary.not_attempted == len(sheet.blanks()) and not report.passed


def test_the_templates_comments_hold_the_command_and_the_added_blanks_on_their_own_lines(trace) -> None:
    sheet = worksheet.make(trace, ["PE[cat]", "Q", "weights[cat]"])
    command = "encoder check 'The cat\nsat: [1]\u2028x: 2\x85' -w w.yaml --answers a.yaml"  # line breaks YAML knows
    text = worksheet.template(sheet, command)
    comments = [line for line in text.splitlines() if line.startswith("#")]
    assert "#   encoder check 'The cat\\nsat: [1]\\u2028x: 2\\x85' -w w.yaml --answers a.yaml" in comments
    assert [c for c in comments if c.startswith("# Note: ")] == [f"# Note: {note}" for note in sheet.added]
    assert len(sheet.added) == 4 and not any("sums to 1" in c for c in comments)  # a teacher's note stays out
    report = grading.grade_file(text, "answers.yaml", trace, None)
    assert report.errors == [] and report.summary.not_attempted == len(sheet.blanks())


def test_a_note_counts_rows_not_commas(trace) -> None:
    """A token may be a comma: 'row ,' is one row, and two rows are 'rows'."""
    step = dataclasses.replace(trace.by_id["input"], rows=("The", ",", "sat"))
    assert worksheet._added(trace, step, [(1, 0), (1, 1)]).startswith("Encoder input, row , (X'): 2 more blanks,")
    assert worksheet._added(trace, step, [(0, 0), (2, 1)]).startswith("Encoder input, rows The, sat (X'): 2 more")
    assert ": 1 more blank, since a blank needs it and it needs a blank" in worksheet._added(trace, step, [(0, 0)])


def test_the_steps_that_pass_a_matrix_through(trace) -> None:
    """The seed has one head and no W_O (its weights file has none): concat is head 0's weighted
    sum, the attention output is concat, both the weighted sum's numbers; the encoder's output is
    the last norm_2. With two heads and W_O (the fixture), only the output passes through."""
    assert worksheet._pass_throughs(trace) == {
        "layers.0.attention.concat": HEAD + "output",
        "layers.0.attention.output": HEAD + "output",
        "output": "layers.0.norm_2",
    }
    mat = encoder_cli.explain("The cat sat on the mat", weights=FIXTURES / "the-cat-sat-on-the-mat.yaml").trace
    assert worksheet._pass_throughs(mat) == {"output": "layers.1.norm_2"}


def test_a_copy_of_a_blank_is_marked_same_as_it_and_never_counted(trace) -> None:
    sheet = worksheet.make(trace, ["layers.0.attention.output[cat]", "concat[sat]"])
    assert sheet.cells[HEAD + "output"].tolist() == [[S] * 4, [B] * 4, [B] * 4]
    same = worksheet.SAME
    for name in ("concat", "output"):
        assert sheet.cells[f"layers.0.attention.{name}"].tolist() == [[S] * 4, [same] * 4, [same] * 4]
    assert len(sheet.blanks()) == 8 and sheet.added == []
    marks = worksheet.view(sheet)[1]
    assert marks["layers.0.attention.concat"][(2, 3)] == Mark(
        MarkKind.same, 8
    )  # sat's d3: blank 8, on the weighted sum
