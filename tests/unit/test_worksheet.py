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
from encoder_cli.render import fmt
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
    assert set(sheet.added) <= set(sheet.notes())


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
    assert any("sums to 1" in note for note in sheet.notes())


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


def _shown_equal_to_a_blank(sheet) -> list[str]:
    """The shown cells of a blank's step that hold a blank's number bit for bit."""
    return [s.id for s in sheet.trace.steps
            if np.isin(s.value[sheet.cells[s.id] == S], s.value[sheet.cells[s.id] == B]).any()]  # fmt: skip


def test_a_cell_that_holds_a_blanks_number_by_construction_is_same_as_it(tiny) -> None:
    """ModernBERT's cos table repeats its columns (rotate_half pairs d1 with d5), and its local
    layers 1 and 2 share one θ: blank cos[␣cat, d1] and layer 1's d5, layer 2's d1 and d5 hold its
    number, "=[1]"; what is worked from them (each head's Q.rotated and K.rotated [␣cat, d5]) is left
    out. The sine table, of other numbers, is shown."""
    trace = encoder_cli.explain("The cat sat on the mat", model=str(tiny("modernbert"))).trace
    cos = trace.by_id["layers.1.attention.cos"].value
    assert cos[2, 5] == cos[2, 1] and np.array_equal(cos, trace.by_id["layers.2.attention.cos"].value)  # the premise
    sheet = worksheet.make(trace, ["layers.1.attention.cos[␣cat,d1]"])
    same = worksheet.SAME
    assert np.argwhere(sheet.cells["layers.1.attention.cos"] != S).tolist() == [[2, 1], [2, 5]]
    assert sheet.cells["layers.1.attention.cos"][2, 1] == B and sheet.cells["layers.1.attention.cos"][2, 5] == same
    assert sheet.cells["layers.2.attention.cos"][2].tolist() == [S, same, S, S, S, same, S, S]
    assert (sheet.cells["layers.0.attention.cos"] == S).all() and (sheet.cells["layers.1.attention.sin"] == S).all()
    for h in range(3):
        for name in ("Q.rotated", "K.rotated"):
            assert sheet.cells[f"layers.2.attention.heads.{h}.{name}"][2, 5] == L, (h, name)
    assert _shown_equal_to_a_blank(sheet) == [] and len(sheet.blanks()) == 1
    marks = worksheet.view(sheet)[1]
    assert marks["layers.1.attention.cos"][(2, 5)] == marks["layers.2.attention.cos"][(2, 1)] == Mark(MarkKind.same, 1)
    assert [n.split(":")[0] for n in sheet.notes()] == [
        "Cosines of the rotary angles (layers.1.attention.cos)",
        "Cosines of the rotary angles (layers.2.attention.cos)",
    ]
    shown = {s.id for s in trace.steps if s.layer == 1}  # --layer 1: layer 2's copies are not on the sheet
    assert [n.split(":")[0] for n in sheet.notes(shown)] == ["Cosines of the rotary angles (layers.1.attention.cos)"]


def test_a_position_term_read_at_the_same_delta_is_same_as_the_blank(tiny) -> None:
    """DeBERTa's c2p[i, j] = Q[i] · K_r[δ(i, j)], p2c[i, j] = K[j] · Q_r[δ(i, j)]: a cell of the same
    query (key) at the same δ holds the blank's number; the trial's ␣cat, ␣mat and [SEP] share a bucket."""
    trace = encoder_cli.explain("The cat sat on the mat", model=str(tiny("deberta-v2"))).trace
    delta = trace.by_id["relative_positions"].value
    cat, mat = trace.labels.index("␣cat"), trace.labels.index("␣mat")
    head = "layers.0.attention.heads.1."
    sheet = worksheet.make(trace, [f"{head}c2p[␣cat,␣mat]", f"{head}p2c[␣cat,␣mat]", f"{head}scaled[␣cat,␣mat]"])
    c2p = {int(j) for j in np.flatnonzero(delta[cat] == delta[cat, mat])} - {mat}  # the same query, the same δ
    p2c = {int(i) for i in np.flatnonzero(delta[:, mat] == delta[cat, mat])} - {cat}  # the same key, the same δ
    assert c2p and p2c  # the premise: the trial's [SEP] (c2p) and `he` (p2c)
    assert set(np.flatnonzero(sheet.cells[f"{head}c2p"][cat] == worksheet.SAME)) == c2p
    assert set(np.flatnonzero(sheet.cells[f"{head}p2c"][:, mat] == worksheet.SAME)) == p2c
    assert _shown_equal_to_a_blank(sheet) == []
    numbers = {(s.id, i, j): n for n, (s, i, j) in enumerate(sheet.blanks(), start=1)}
    marks = worksheet.view(sheet)[1]
    assert {marks[f"{head}c2p"][(cat, j)] for j in c2p} == {Mark(MarkKind.same, numbers[(f"{head}c2p", cat, mat)])}


def test_equal_numbers_that_are_not_made_alike_are_shown(trace) -> None:
    """ReLU makes many zeros: a blank on one (activation[cat, f1]) leaves the others, made from other
    numbers, shown; and every blank is numbered once."""
    activation = trace.by_id["layers.0.ffn.activation"].value
    assert activation[1, 1] == 0 and (activation == 0).sum() > 5  # the premise
    sheet = worksheet.make(trace, ["layers.0.ffn.activation[cat,f1]"])
    cells = sheet.cells["layers.0.ffn.activation"]
    assert (cells == B).sum() == 1 and (cells[activation == 0] == S).sum() == (activation == 0).sum() - 1
    assert not any((cells == worksheet.SAME).any() for cells in sheet.cells.values()) and sheet.copied == {}


def test_a_weight_outside_the_window_is_no_blank_and_a_mask_takes_none(tiny) -> None:
    """On ModernBERT's local layer 1 (±3 tokens), ␣cat (2) sees [CLS] … ␣the (0–5): its weights for
    ␣mat and [SEP] are 0 whatever the scores. Blanking the row blanks the six inside; blanking the
    scores and the weighted sum of its row adds the six, not the two; a blank on one of the two, or on
    the mask of 0s and 1s, is refused."""
    trace = encoder_cli.explain("The cat sat on the mat", model=str(tiny("modernbert"))).trace
    head = "layers.1.attention.heads.0."
    inside = [B] * 6 + [S] * 2
    assert worksheet.make(trace, [f"{head}weights[␣cat]"]).cells[head + "weights"][2].tolist() == inside
    closed = worksheet.make(trace, [f"{head}scaled[␣cat]", f"{head}output[␣cat]"])
    assert closed.cells[head + "weights"][2].tolist() == inside
    for blank, message in ((f"{head}weights[␣cat,␣mat]", "nothing to work out"),
                           ("layers.1.attention.mask[␣cat,␣mat]", "only 0s and 1s")):  # fmt: skip
        with pytest.raises(EncoderError, match=message):
            worksheet.make(trace, [blank])


@pytest.mark.parametrize("room", [2, 5, 14])
def test_a_summary_keeps_the_indices_it_is_given(room: int) -> None:
    """fmt.shown: without keep, the first and last around at most one None; with keep, every
    kept index, each run left out one None (never for a single index), in the room while the kept
    ones leave space for one first and one last, and past it only when they alone fill it."""
    for count in (room + 1, 38):
        plain = fmt.shown(count, room)
        assert plain.count(None) <= 1 and plain[0] == 0 and plain[-1] == count - 1 and len(plain) <= max(room, 3)
        for keep in ({min(10, count - 1)}, {1, 2}, {count - 2}, set(range(0, count, 3))):
            line = fmt.shown(count, room, keep)
            indices = [k for k in line if k is not None]
            assert keep <= set(indices) and indices == sorted(indices), (count, keep, line)
            gaps = [b - a for a, b in zip([-1, *indices], [*indices, count], strict=True) if b - a > 1]
            assert line.count(None) == len(gaps) and 2 not in gaps, line  # one … a run, never for one index
            assert "None, None" not in repr(line)
            if len(keep) + 2 * len(gaps) + 2 <= room:
                assert len(line) <= room, (count, keep, line)
