"""Teaching tools: worked arithmetic of any cell, cell addresses, and `encoder check`."""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pytest
from typer.testing import CliRunner

from encoder_cli import address, explain, ops
from encoder_cli import grading as check
from encoder_cli.cli import app
from encoder_cli.errors import EncoderError
from encoder_cli.render import work
from encoder_cli.render.fmt import number
from encoder_cli.settings import Activation
from tests.conftest import FIXTURES, MAT, PRE, SEED, generate

SEED_ANSWERS = FIXTURES / "the-cat-sat-seed-answers.yaml"
KINDS = {
    "lookup": {"lookup"},
    "sinusoidal": {"sine", "cosine"},
    "table": {"table"},
    "none": {"zero"},
    "add": {"sum"},
    "linear": {"dot", "sum"},
    "matmul": {"dot"},
    "matmul_t": {"dot"},
    "scale": {"divide"},
    "softmax": {"softmax"},
    "mean": {"mean"},
    "variance": {"variance"},
    "layer_norm": {"layer_norm"},
    "activation": {a.value for a in Activation},  # each activation's worked cell is of its own kind
    "concat": {"copy"},
    "copy": {"copy"},
}


def run(*args: str, input: str | None = None):
    return CliRunner(env={"COLUMNS": "120", "NO_COLOR": "1"}).invoke(app, list(args), input=input)


def traces():
    yield explain("The cat sat", weights=SEED).trace
    yield explain("The cat sat on the mat", weights=MAT).trace
    yield explain("a dog ran home, fast.", weights=PRE).trace
    for seed in range(80):  # every op and option, from the reference test's generator
        g = generate(seed)
        yield explain(g.sentence, weights=g.data).trace


def test_every_cell_of_every_step_works_out_to_its_value() -> None:
    """Worked from the trace's own inputs, a cell is the step's value, and a dot product's terms
    sum to it (math.fsum, not numpy)."""
    seen = set()
    for trace in traces():
        for step in trace.steps:
            n, m = step.value.shape
            for i, j in {(0, 0), (n - 1, m - 1), (n // 2, m // 2)}:
                w = work.cell(trace, step, i, j, 3)
                seen.add(step.op.kind)
                assert w.kind in KINDS[step.op.kind], (step.id, w.kind)
                assert w.result == pytest.approx(step.value[i, j], rel=1e-12, abs=1e-12), step.id
                assert w.text.endswith(f" = {number(step.value[i, j], 3)}"), w.text
                if w.kind == "dot":  # the terms are the dot product: sum of pairs, plus a bias
                    pairs = [t for t in w.terms if isinstance(t, list)]
                    bias = sum(t for t in w.terms if not isinstance(t, list))
                    assert math.fsum(a * b for a, b in pairs) + bias == pytest.approx(w.result, rel=1e-12, abs=1e-12)
    assert seen == set(KINDS), set(KINDS) - seen


def test_a_cell_worked_from_other_inputs_is_what_the_step_computes_from_them() -> None:
    """Carried errors are graded by working a cell out from a student's numbers: for any inputs,
    the cell worked term by term equals the step's vectorised math (checked against torch) on them."""
    rng = np.random.default_rng(0)
    for trace in list(traces())[:12]:
        for step in trace.steps:
            given = [np.abs(v) + 0.1 if k.endswith("variance") else v + rng.normal(0, 0.5, v.shape)
                     for k, v in zip(step.inputs, trace.inputs(step), strict=True)]  # fmt: skip
            if not given:
                continue  # a lookup or a positional encoding: nothing to give
            expected = step.op(*given)
            n, m = expected.shape
            for i, j in {(0, 0), (n - 1, m - 1)}:
                w = work.cell(trace, step, i, j, 3, inputs=given)
                assert w.result == pytest.approx(expected[i, j], rel=1e-12, abs=1e-12), step.id
                assert w.result != pytest.approx(step.value[i, j], rel=1e-6) or step.op.kind in (
                    "activation",
                    "softmax",
                )


def test_the_issues_example_cell() -> None:
    result = run("explain", "The cat sat", "--cell", "layers.0.attention.heads.0.Q[0,0]", "-p", "2")
    assert result.exit_code == 0
    assert result.stdout == "Q[The, d0] = (0.20 × 0.10) + (1.40 × 0.20) + (0.80 × 0.90) + (1.60 × 0.80) = 2.30\n"


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        # sin(1 / 10000^(2/4)) = sin(0.01), by hand
        ("PE[cat,d2]", f"PE[cat, d2] = sin(1 / 10000^(2/4)) = sin(0.01) = {math.sin(0.01):.3f}"),
        ("scaled[0,1]", "scaled[The, cat] = 16.292 / √4 = 8.146"),
        ("norm_1[The,d0]", "norm_1[The, d0] = (1.866 − 2.804) / √(0.435 + 1e-05) × 1.000 + 0.000 = -1.423"),
        ("activation[The,f0]", "activation[The, f0] = max(0, -0.126) = 0.000"),
    ],
)
def test_worked_cells_read_like_the_seed(cell: str, expected: str) -> None:
    assert run("explain", "-c", cell).stdout.strip() == expected


def test_softmax_is_worked_from_exps_of_the_row() -> None:
    out = run("explain", "-c", "weights[cat,sat]", "-p", "4").stdout
    s = [float(v) for v in re.findall(r"exp\((-?[\d.]+)\)", out)]
    assert len(s) == 4 and s[0] == s[3]  # exp(s_sat) over exp of the whole row
    hand = math.exp(s[0]) / sum(math.exp(v) for v in s[1:])
    assert out.strip().endswith(f"= {hand:.4f}")


def test_long_sums_are_shortened() -> None:
    g = next(g for g in map(generate, range(80)) if g.options["d_ff"] > ops.LONG + 2)
    trace = explain(g.sentence, weights=g.data).trace
    step = next(s for s in trace.steps if s.id.endswith("ffn.output"))
    w = work.cell(trace, step, 0, 0, 2)
    assert f"… ({g.options['d_ff'] - 5} more) …" in w.text and w.text.count("×") == 5
    assert len(w.terms) >= g.options["d_ff"]  # the JSON terms stay whole


def test_show_work_adds_one_worked_cell_per_table() -> None:
    out = run("explain", "--show-work").stdout
    doc = json.loads(run("explain", "--show-work", "-f", "json").stdout)
    assert len(doc["steps"]) == 24
    for step in doc["steps"]:
        assert step["work"]["row"] == 0 and step["work"]["col"] == 0
        assert step["work"]["result"] == pytest.approx(step["values"][0][0], rel=1e-12, abs=1e-12)
        assert "".join(step["work"]["text"].split()) in "".join(out.split())  # long lines wrap


def test_cell_json() -> None:
    doc = json.loads(run("explain", "-c", "Q[0,0]", "-c", "X'[1,2]", "-f", "json").stdout)
    assert doc["format"] == 1 and doc["tokens"] == ["The", "cat", "sat"]
    q, x = doc["cells"]
    assert q["step"] == "layers.0.attention.heads.0.Q" and q["kind"] == "dot"
    assert q["terms"] == [[0.2, 0.1], [1.4, 0.2], [0.8, 0.9], [1.6, 0.8]]
    assert q["result"] == pytest.approx(0.2 * 0.1 + 1.4 * 0.2 + 0.8 * 0.9 + 1.6 * 0.8, abs=1e-15)
    assert x["terms"] == [0.9, pytest.approx(math.sin(0.01), abs=1e-15)]


def test_addresses() -> None:
    trace = explain("The cat sat on the mat", weights=MAT).trace
    by_name = address.parse(trace, "layers.1.attention.heads.0.weights[cat, sat]")
    by_index = address.parse(trace, "layers.1.attention.heads.0.weights[1,2]")
    assert (by_name.step.id, by_name.row, by_name.col) == (by_index.step.id, 1, 2)
    assert address.parse(trace, "X'[mat,d3]").step.id == "input"
    assert address.parse(trace, "layers.0.norm_1.mean[4]").col == 0
    assert address.parse(trace, "embeddings[the (4), d1]").row == 4
    with pytest.raises(EncoderError, match="'the' is at positions 0, 4; write the position instead"):
        address.parse(trace, "input[the,0]")
    with pytest.raises(EncoderError, match="'weights' could be any of 4 steps"):
        address.parse(trace, "weights[0,0]")
    with pytest.raises(EncoderError, match="did you mean 'input'"):
        address.parse(trace, "inptu")
    with pytest.raises(EncoderError, match="column 9 is out of range; there are 4"):
        address.parse(trace, "input[0,9]")


@pytest.mark.parametrize(
    ("text", "places"), [("0.90", 2), ("0.9", 1), ("2", 0), ("2.", 0), ("-1.25", 2), ("1.5e-3", 4), ("12e1", -1)]
)
def test_written_precision(text: str, places: int) -> None:
    assert check.decimals(text) == places


@pytest.mark.parametrize(
    ("written", "true", "right"),
    [
        ("0.90", 0.9049, True),
        ("0.90", 0.9051, False),  # rounds to 0.91
        ("0.9", 0.9051, True),  # one decimal claimed: 0.9051 rounds to 0.9
        ("0.9", 0.951, False),
        ("2", 2.4, True),
        ("2.0", 2.4, False),
        ("-0.42", -0.4161, True),
        ("0.42", -0.4161, False),
    ],
)
def test_each_number_is_judged_at_its_written_precision(written: str, true: float, right: bool) -> None:
    assert check.Rule().judge(written, float(written), true) == ("right" if right else "wrong")


def test_0_9_and_0_90_are_different_claims_end_to_end() -> None:
    # PE[sat, d0] = sin 2 = 0.909: "0.9" is right (one decimal), "0.90" is wrong (it is 0.91).
    assert round(math.sin(2), 1) == 0.9 and round(math.sin(2), 2) == 0.91
    assert run("check", "-a", "-", input="PE[2,0]: 0.9\n").exit_code == 0
    assert run("check", "-a", "-", input="PE[2,0]: 0.90\n").exit_code == 1
    assert run("check", "-a", "-", "--tolerance", "0.01", input="PE[2,0]: 0.90\n").exit_code == 0


def test_the_seeds_own_answers() -> None:
    """The seed's printed PE, X' and its Q column, judged against values worked by hand."""
    result = run("check", "--answers", str(SEED_ANSWERS), "-f", "json", "--no-carry")  # the plain truth
    assert result.exit_code == 1 and result.stderr == ""
    doc = json.loads(result.stdout)
    verdicts = {(a["step"], a["row"], a["col"]): a["right"] for a in doc["answers"]}

    pe = [
        [
            math.sin(p / 10000 ** ((j - j % 2) / 4)) if j % 2 == 0 else math.cos(p / 10000 ** ((j - j % 2) / 4))
            for j in range(4)
        ]
        for p in range(3)
    ]
    x = np.add([[0.2, 0.4, 0.8, 0.6], [0.5, 0.1, 0.9, 0.7], [0.3, 0.8, 0.2, 0.4]], pe)
    w_q0 = [0.1, 0.2, 0.9, 0.8]
    seed_pe = [[0.0, 1.0, 0.0, 1.0], [0.84, 0.54, 0.08, 0.99], [0.90, 0.43, 0.16, 0.99]]
    seed_x = [[0.2, 1.4, 0.8, 1.6], [1.34, 0.64, 0.98, 1.69], [1.2, 1.23, 0.36, 1.39]]
    places = lambda v: 1 if v in (0.0, 1.0, 0.2, 1.4, 0.8, 1.6, 1.2) else 2  # noqa: E731 - as the fixture writes them
    expected = {}
    for p in range(3):
        for j in range(4):
            expected[("positional", p, j)] = abs(pe[p][j] - seed_pe[p][j]) <= 0.5 * 10 ** -places(seed_pe[p][j])
            expected[("input", p, j)] = abs(x[p][j] - seed_x[p][j]) <= 0.5 * 10 ** -places(seed_x[p][j])
        expected[("layers.0.attention.heads.0.Q", p, 0)] = abs(x[p] @ w_q0 - [2.30, 2.50, 1.80][p]) <= 0.005
    assert verdicts == expected
    assert doc["summary"] == {"checked": 27, "right": 14, "carried": 0, "wrong": 13, "too_coarse": 0, "malformed": 0,
                              "not_attempted": 0, "score": 14 / 27}  # fmt: skip
    assert doc["rule"] == "as written" and doc["malformed"] == []
    assert all(a["verdict"] == ("right" if a["right"] else "wrong") for a in doc["answers"])
    wrong = [a for a in doc["answers"] if not a["right"]]
    assert all(a["work"]["result"] == pytest.approx(a["true"]) for a in wrong)


def test_check_report_in_the_terminal() -> None:
    out = run("check", "--answers", str(SEED_ANSWERS)).stdout
    assert re.search(r"^\[cat, d2\] +0\.08 +0\.0100 +✗ wrong$", out, flags=re.M)
    assert "PE[cat, d2] = sin(1 / 10000^(2/4)) = sin(0.01) = 0.010" in out
    assert re.search(r"^\[cat, d2\] +0\.98 +0\.9100 +→ carried$", out, flags=re.M)  # 0.9 + its own PE 0.08
    assert "X'[cat, d2] = X[cat, d2] + PE[cat, d2] = 0.900 + 0.080 = 0.980" in out
    assert out.rstrip().endswith("27 checked: 14 right, 7 carried, 6 wrong")  # by hand: tests/unit/test_grading.py


def test_not_attempted_and_whole_rows() -> None:
    answers = "X':\n  - [0.2, 1.4, 0.8, 1.6]\n  - ~\n  - [~, ~, 0.22, ~]\nnorm_1.mean: [2.80, ~, ~]\n"
    doc = json.loads(run("check", "-a", "-", "-f", "json", input=answers).stdout)
    assert {k: doc["summary"][k] for k in ("checked", "right", "not_attempted")} == {
        "checked": 6,
        "right": 6,
        "not_attempted": 9,
    }


@pytest.mark.parametrize(
    ("answers", "message"),
    [
        ("Qx[0,0]: 1\n", "<stdin>:1: 'Qx' is not a step; did you mean 'Q'?"),
        ("Q[5,0]: 1\n", "<stdin>:1: 'Q[5,0]': row 5 is out of range; there are 3 (0 to 2)"),
        ("Q[0]: [1, 2]\n", "<stdin>:1: Q[0]: expected a row of 4 numbers, got 2"),
        ("input: [[1, 2, 3, 4]]\n", "<stdin>:1: input: expected a 3 x 4 matrix, got 1"),
        ("Q[0,0]: yes\n", "<stdin>:1: Q[0,0]: expected a number, got 'yes'"),
        ("Q[0,0]: '2.30'\n", "expected a number, got '2.30'"),
        ("Q[0,0]: [2.3]\n", "<stdin>:1: Q[0,0]: expected a number, got a list or mapping"),
        ("Q[0,0]: 2.3\nQ[0,0]: 2.3\n", "<stdin>:2: Q[0,0]: the cell [The, d0] is answered on line 1 too; keep one"),
        ("Q[cat]: [2.44, ~, ~, ~]\nQ: [~, ~, ~]\n", "<stdin>:2: Q: the cell [cat, d0] is answered on line 1 too"),
    ]
    + [
        (f"Q[0,0]: {bad}\n", f"<stdin>:1: Q[0,0]: expected a number, got {bad!r}") for bad in ("e1", ".e1", "-e5", "E3")
    ],
)
def test_a_malformed_entry_is_a_verdict_of_its_own(answers: str, message: str) -> None:
    """One line on stderr; the entry is counted as malformed in every view, the rest graded: exit 1."""
    for format in ("terminal", "json", "csv"):
        result = run("check", "-a", "-", "-f", format, input=answers)
        assert result.exit_code == 1 and "Traceback" not in result.stderr
        assert message in result.stderr and result.stderr.count("\n") == 1
        assert "malformed" in result.stdout
    doc = json.loads(run("check", "-a", "-", "-f", "json", input=answers).stdout)
    assert (
        doc["summary"]["malformed"] == 1
        and message.split(": ", 1)[-1] in "<stdin>:1: " + doc["malformed"][0]["message"]
    )


@pytest.mark.parametrize(
    ("answers", "message"),
    [
        ("- 1\n", "<stdin>: expected a mapping of cell addresses to answers"),
        ("Q[0,0]: [\n", "<stdin>:2: not valid YAML"),
    ],
)
def test_a_file_that_is_no_answers_at_all(answers: str, message: str) -> None:
    """Exit 2 only when no answers file could be used: stdout stays empty."""
    result = run("check", "-a", "-", input=answers)
    assert result.exit_code == 2 and result.stdout == ""
    assert message in result.stderr and result.stderr.count("\n") == 1 and "Traceback" not in result.stderr


def test_check_needs_answers() -> None:
    result = run("check")
    assert result.exit_code == 2 and "give the answers file" in result.stderr
