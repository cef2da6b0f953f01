"""Grading with errors carried forward: verdicts worked out by hand, the precision and
rounding rules, not-attempted marks, and malformed files reported whole."""

from __future__ import annotations

import json
import math

import pytest

import encoder_cli
from encoder_cli import grading as check
from encoder_cli.errors import EncoderError
from tests.conftest import FIXTURES

SEED_ANSWERS = (FIXTURES / "the-cat-sat-seed-answers.yaml").read_text()


@pytest.fixture(scope="module")
def trace():
    return encoder_cli.explain().trace  # the built-in example: the seed's X and W_Q


def counts(**given: int) -> check.Summary:
    zero = dict.fromkeys(("checked", "right", "carried", "wrong", "too_coarse", "malformed", "not_attempted"), 0)
    return check.Summary(**(zero | given))


def verdicts(report: check.Report) -> dict[tuple[str, int, int], str]:
    return {(c.step.id.rsplit(".", 1)[-1], c.row, c.col): c.verdict for c in report.claims}


def test_the_seeds_handout_its_slips_and_what_it_carried(trace) -> None:
    """By hand, at the seed's two decimals: its PE is right in row 0 and cat's first two cells
    only (sin 0.01 = 0.01, cos 0.01 = 1.00, sin 2 = 0.91, cos 2 = -0.42, sin 0.02 = 0.02,
    cos 0.02 = 1.00): 6 real slips. Its X' adds its own PE right (0.9 + 0.08 = 0.98,
    0.7 + 0.99 = 1.69, 0.8 + 0.43 = 1.23, 0.2 + 0.16 = 0.36, 0.4 + 0.99 = 1.39): carried, but
    X'[sat, d0] = 0.3 + 0.90 = 1.2 is also the truth 1.209 at one decimal: right. Its Q column
    is worked from its own X': carried."""
    report = check.grade_file(SEED_ANSWERS, "seed.yaml", trace, None)
    pe_slips = {(1, 2), (1, 3), (2, 0), (2, 1), (2, 2), (2, 3)}
    x_carried = {(1, 2), (1, 3), (2, 1), (2, 2), (2, 3)}
    expected = {("positional", i, j): "wrong" if (i, j) in pe_slips else "right" for i in range(3) for j in range(4)}
    expected |= {("input", i, j): "carried" if (i, j) in x_carried else "right" for i in range(3) for j in range(4)}
    expected |= {("Q", 0, 0): "right", ("Q", 1, 0): "carried", ("Q", 2, 0): "carried"}
    assert verdicts(report) == expected
    assert report.summary == counts(checked=27, right=14, carried=7, wrong=6)
    q_cat = next(c for c in report.claims if c.key == "Q[1,0]")
    hand = math.fsum([1.34 * 0.1, 0.64 * 0.2, 0.98 * 0.9, 1.69 * 0.8])  # the seed's 2.496, from its X'
    assert q_cat.expected == pytest.approx(hand, abs=1e-12) and not q_cat.right
    assert [b.address for b in q_cat.used] == [f"input[1,{j}]" for j in range(4)]


def test_without_carrying_only_the_truth_counts(trace) -> None:
    report = check.grade_file(SEED_ANSWERS, "seed.yaml", trace, None, carry=False)
    assert report.summary == counts(checked=27, right=14, wrong=13)


def test_rounding_a_right_intermediate_is_no_mistake(trace) -> None:
    """X'[cat] rounded to one decimal is right at one decimal; Q[cat, d0] worked from those
    rounded numbers misses the truth at two decimals but is right from them."""
    x = [round(v, 1) for v in trace.by_id["input"].value[1]]
    from_rounded = math.fsum(a * w for a, w in zip(x, [0.1, 0.2, 0.9, 0.8], strict=True))
    truth = trace.by_id["layers.0.attention.heads.0.Q"].value[1, 0]
    assert round(from_rounded, 2) != round(truth, 2)  # the case is a real one
    text = f"X'[cat]: [{', '.join(f'{v:.1f}' for v in x)}]\nQ[cat,d0]: {from_rounded:.2f}\n"
    report = check.grade_file(text, "a.yaml", trace, None)
    assert [c.verdict for c in report.claims] == ["right"] * 5
    assert not report.claims[-1].right  # against the truth alone, as before


def test_a_slip_that_matches_nothing_is_wrong(trace) -> None:
    report = check.grade_file("PE[cat]: [0.84, 0.54, 0.08, 0.99]\nX'[cat,d2]: 0.50\n", "a.yaml", trace, None)
    assert verdicts(report)[("input", 1, 2)] == "wrong"


def test_not_attempted_marks_a_cell_a_row_or_a_step(trace) -> None:
    report = check.grade_file("Q: ~\nX'[cat]: ~\nPE[sat,d0]: ~\nPE[The,d0]: 0\n", "a.yaml", trace, None)
    assert report.summary == counts(checked=1, right=1, not_attempted=12 + 4 + 1)
    assert report.passed
    untouched = check.grade_file("Q: ~\n", "a.yaml", trace, None)
    assert untouched.summary.checked == 0 and not untouched.passed


def test_every_malformed_entry_of_a_file_is_reported_and_the_rest_graded(trace) -> None:
    text = "Q[0,0]: 2.3\nnope: 1\nQ[9,0]: 1\nPE[cat]: [1, 2]\nX[0,0]: ٠.٢\nX[0,1]: 1e99999\nX[0,2]: e1\n"
    text += "PE[sat]: [0.91, yes, 0.02, 1.00]\n"  # one bad number: the whole entry is malformed
    report = check.grade_file(text, "a.yaml", trace, None)
    assert [c.key for c in report.claims] == ["Q[0,0]"] and report.claims[0].verdict == "right"  # 2.30, by hand
    assert [e.split(":")[1] for e in report.errors] == ["2", "3", "4", "5", "6", "7", "8"]
    assert all("\n" not in e for e in report.errors)
    assert report.summary == counts(checked=1, right=1, malformed=7) and not report.passed
    assert report.score == 1 / 8  # one right of one judged cell and seven malformed entries


def test_a_tolerance_must_be_a_number_from_0(trace) -> None:
    for bad in (float("nan"), -1.0, float("inf")):
        with pytest.raises(EncoderError, match="tolerance"):
            check.grade_file("Q[0,0]: 2.3\n", "a.yaml", trace, bad)


def test_a_whole_class_at_the_command_line(tmp_path) -> None:
    import csv
    import io
    import json

    from tests.conftest import run

    folder = tmp_path / "class"
    folder.mkdir()
    (folder / "ana.yaml").write_text("X'[cat]: [1.34, 0.64, 0.91, 1.70]\nQ[cat,d0]: 2.44\n")  # all right
    (folder / "ben.yml").write_text(SEED_ANSWERS)  # the seed: slips and carried cells
    (folder / "cy.yaml").write_text("Q[0,0]: 2.3\nnope: 1\nQ[9,0]: 1\n")  # two malformed lines
    (folder / "notes.txt").write_text("not answers")
    table = run("check", "--answers", str(folder), "-f", "csv")
    assert table.exit_code == 1  # malformed entries count as not right; every other entry is graded
    bad = f"error: {folder}/cy.yaml"
    assert table.stderr.splitlines() == [
        f"{bad}:2: 'nope' is not a step; `encoder explain --overview` lists the steps",
        f"{bad}:3: 'Q[9,0]': row 9 is out of range; there are 3 (0 to 2)",
    ]
    rows = list(csv.DictReader(io.StringIO(table.stdout)))
    assert [r["file"] for r in rows] == [f"{folder}/{n}" for n in ("ana.yaml", "ben.yml", "cy.yaml")]
    heads = ["checked", "right", "carried", "wrong", "too coarse", "malformed", "not attempted", "score", "rule"]
    assert [rows[0][k] for k in heads] == ["5", "5", "0", "0", "0", "0", "0", "1.000", "as written"]
    assert [rows[1][k] for k in heads] == ["27", "14", "7", "6", "0", "0", "0", f"{21 / 27:.3f}", "as written"]
    assert [rows[2][k] for k in heads] == ["1", "1", "0", "0", "0", "2", "0", f"{1 / 3:.3f}", "as written"]
    assert (
        rows[2]["malformed entries"].startswith("line 2: 'nope' is not a step;")
        and "line 3: 'Q[9,0]'" in rows[2]["malformed entries"]
    )
    assert rows[1]["X'[cat,d2]"] == "carried" and rows[1]["PE[cat,d2]"] == "wrong" and rows[0]["PE[cat,d2]"] == ""
    assert rows[0]["Q[cat,d0]"] == "right" and rows[2]["Q[The,d0]"] == "right"  # whatever key the student used
    doc = json.loads(run("check", "-a", str(folder / "ana.yaml"), "-a", str(folder / "ben.yml"), "-f", "json").stdout)
    assert [f["file"] for f in doc["files"]] == [str(folder / "ana.yaml"), str(folder / "ben.yml")]
    assert doc["files"][1]["summary"]["carried"] == 7
    view = run("check", "-a", str(folder / "ana.yaml"), "-a", str(folder / "ben.yml"))
    assert view.exit_code == 1 and "Most often not right" in view.stdout and "ben.yml" in view.stdout
    assert run("check", "-a", str(folder / "ana.yaml")).exit_code == 0
    untouched = run("check", "-a", "-", input="Q: ~\n")
    assert untouched.exit_code == 1 and "nothing attempted" in untouched.stdout
    carried = json.loads(run("check", "-a", str(folder / "ben.yml"), "-f", "json").stdout)["answers"]
    q = next(a for a in carried if a["key"] == "Q[1,0]")
    assert (
        q["verdict"] == "carried" and q["right"] is False and q["computed_from"] == [f"input[1,{j}]" for j in range(4)]
    )
    assert q["work"]["terms"][:4] == [[1.34, 0.1], [0.64, 0.2], [0.98, 0.9], [1.69, 0.8]]  # the student's own X'


# Q[The, d0] = 0.2 x 0.1 + 1.4 x 0.2 + 0.8 x 0.9 + 1.6 x 0.8 = 2.30, by hand (the seed's X' and W_Q).
ZEROS = ("0e1", "0E1", "0e9", "-0e3", "0.0e9", "00e5", "0.e9", "0e9999", "0.00", "0", "+0.0")


@pytest.mark.parametrize("zero", ZEROS)
def test_a_written_zero_for_2_30_is_too_coarse(trace, zero: str) -> None:
    report = check.grade_file(f"Q[The,d0]: {zero}\n", "a.yaml", trace, None)
    assert [c.verdict for c in report.claims] == ["too coarse"] and not report.passed
    assert report.summary == counts(checked=1, too_coarse=1)


@pytest.mark.parametrize(
    ("text", "true", "least", "verdict"),
    [
        ("0.00", 0.004, 2, "right"),  # the teacher asked for 2 decimals, and 0.004 rounds to 0.00
        ("0.00", 0.004, None, "too coarse"),  # no digit of 0.004
        ("0.00", 0.006, 2, "wrong"),  # rounds to 0.01
        ("0.01", 0.0099998, None, "right"),  # the best two-decimal answer
        ("0", 0.0, None, "right"),  # an exact 0 (a ReLU output, sin 0)
        ("0e1", 0.0, None, "right"),
        ("2", 2.30, None, "right"),  # one digit, right at its precision
        ("1e1", 6.06, None, "right"),  # |10 - 6.06| <= 5
        ("2", 2.30, 1, "too coarse"),  # --decimals asks for more, whatever the value
        ("2.3", 2.30, 2, "too coarse"),
        ("2.30", 2.30, 2, "right"),
        ("2.30e-1", 0.230, 3, "right"),  # 2.30e-1 has 3 decimals
        ("23e-2", 0.23, 3, "too coarse"),  # 2 decimals
        ("0e1", 2.30, 0, "too coarse"),  # -1 decimals
    ],
)
def test_too_coarse_by_hand(text: str, true: float, least: int | None, verdict: str) -> None:
    assert check.Rule(decimals=least).judge(text, float(text), true) == verdict


@pytest.mark.parametrize(("text", "places"), [("2.30", 2), ("2.30e-1", 3), ("0e1", -1), ("0.e9", -9), (".5", 1)])
def test_decimals_as_the_issue_counts_them(text: str, places: int) -> None:
    assert check.decimals(text) == places


def test_zero_in_every_cell_is_right_only_where_the_truth_is_exactly_zero(trace) -> None:
    """The issue's game: `0e1` in all 267 cells of the built-in example graded 267 right."""
    text = "".join(f'"{s.id}": [{", ".join(["[" + ", ".join(["0e1"] * s.value.shape[1]) + "]"] * s.value.shape[0])}]\n'
                   for s in trace.steps)  # fmt: skip
    report = check.grade_file(text, "a.yaml", trace, None)
    assert len(report.claims) == sum(s.value.size for s in trace.steps) and not report.malformed
    assert {c.address for c in report.claims if c.verdict == "right"} == {
        f"{s.id}[{i},{j}]" for s in trace.steps for i, j in zip(*(s.value == 0).nonzero(), strict=True)
    }
    assert 0 < sum(c.verdict == "right" for c in report.claims) < 20  # sin 0 and the ReLU's zeros


def test_the_decimals_rule_is_said_in_every_view(tmp_path) -> None:
    import csv
    import io
    import json

    from tests.conftest import run

    (tmp_path / "a.yaml").write_text("PE[The,d0]: 0\nQ[The,d0]: 2.3\n")
    plain = run("check", "-a", str(tmp_path / "a.yaml"))
    assert plain.exit_code == 0 and plain.stdout.startswith("graded as written\n")
    asked = run("check", "-a", str(tmp_path / "a.yaml"), "--decimals", "2")
    assert asked.exit_code == 1 and asked.stdout.startswith("graded with --decimals 2\n")
    assert asked.stdout.count("✗ too coarse") == 2 and "2 too coarse" in asked.stdout
    doc = json.loads(run("check", "-a", str(tmp_path / "a.yaml"), "--decimals", "2", "-f", "json").stdout)
    assert doc["rule"] == "--decimals 2" and [a["verdict"] for a in doc["answers"]] == ["too coarse"] * 2
    table = run("check", "-a", str(tmp_path / "a.yaml"), "--decimals", "2", "-f", "csv").stdout
    row = next(csv.DictReader(io.StringIO(table)))
    assert row["rule"] == "--decimals 2" and row["too coarse"] == "2" and row["PE[The,d0]"] == "too coarse"


def test_a_wrong_cell_shows_the_value_from_the_students_own_inputs() -> None:
    """X'[cat, d1] = X[cat, d1] + PE[cat, d1] = 0.1 + 0.45 = 0.55 from the student's own PE (the
    truth is 0.1 + cos 1 = 0.640); the student wrote 0.10: wrong, and the slip is in the addition."""
    from tests.conftest import run

    out = run("check", "-a", "-", input="PE[cat,d1]: 0.45\nX'[cat,d1]: 0.10\n").stdout
    assert "X'[cat, d1] = X[cat, d1] + PE[cat, d1] = 0.100 + 0.540" in out  # the truth
    assert "from your own PE[cat,d1] this is 0.550; you wrote 0.10" in out


def test_only_the_first_unknown_names_get_a_suggestion(trace, monkeypatch) -> None:
    import difflib

    calls = []
    real = difflib.get_close_matches

    def counted(word, *more, **options):
        calls.append(word)
        return real(word, *more, **options)

    monkeypatch.setattr(difflib, "get_close_matches", counted)
    text = "".join(f"nope{k}: 1\n" for k in range(300)) + "Qx[0,0]: 1\n"
    report = check.grade_file(text, "a.yaml", trace, None)
    assert len(report.malformed) == 301 and calls == [f"nope{k}" for k in range(check.SUGGESTIONS)]
    assert "did you mean" not in report.malformed[-1].message and "'Qx' is not a step" in report.malformed[-1].message


def test_stderr_names_the_first_20_malformed_entries_then_counts_the_rest() -> None:
    from tests.conftest import run

    result = run(
        "check", "-a", "-", "-f", "json", input="Q[0,0]: 2.30\n" + "".join(f"nope{k}: 1\n" for k in range(500))
    )
    lines = result.stderr.splitlines()
    assert result.exit_code == 1 and len(lines) == 21
    assert lines[0].startswith("error: <stdin>:2: 'nope0' is not a step")
    assert lines[-1] == "error: 480 more malformed entries; --format json or csv lists every one"
    import json

    assert len(json.loads(result.stdout)["malformed"]) == 500


def test_carrying_copies_no_n_by_n_input() -> None:
    """Answers for scaled and weights of a 300-token sentence: grading allocates far less than
    one 300 x 300 matrix (720 kB); worked on whole inputs, carrying copied several per answer."""
    import tracemalloc

    trace = encoder_cli.explain(" ".join(["The cat sat"] * 100)).trace
    scaled = trace.by_id["layers.0.attention.heads.0.scaled"].value
    weights = trace.by_id["layers.0.attention.heads.0.weights"].value
    n = len(trace.tokens)
    text = f"scaled[0,0]: {scaled[0, 0] + 3:.2f}\nscaled[0,1]: {scaled[0, 1]:.2f}\n"
    text += f"weights[0,0]: {weights[0, 0] + 0.3:.2f}\n"
    tracemalloc.start()
    try:
        report = check.grade_file(text, "a.yaml", trace, None)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert [c.verdict for c in report.claims] == ["wrong", "right", "wrong"]
    assert [b.key for b in report.claims[2].used] == ["scaled[0,0]", "scaled[0,1]"]  # carrying was tried
    assert peak < n * n * 8 / 4


def test_a_verdict_is_written_as_its_words() -> None:
    # JSON, CSV and the terminal write the words, never the enum's name (Verdict.too_coarse)
    coarse = check.Verdict.too_coarse
    assert (json.dumps(coarse), str(coarse), f"{coarse}", f"{coarse:>11}") == (
        '"too coarse"',
        "too coarse",
        "too coarse",
        " too coarse",
    )
