"""Seeded fuzz of answers files (#16): numbers spelt every way people and YAML spell them, and
keys right and wrong, graded under every format. Never a traceback, JSON that always parses,
exit 0, 1 or 2 (stdout empty on 2), and never "right" for a written zero unless the truth is
exactly zero."""

from __future__ import annotations

import json
import os
import random

import pytest

from tests.conftest import run

SEEDS = 20  # 60 files, each graded in three formats; a long run by hand: FUZZ_SEED=1000 FUZZ_ANSWERS=2000
FIRST, RUN = int(os.environ.get("FUZZ_SEED", "0")), int(os.environ.get("FUZZ_ANSWERS", str(SEEDS)))
CELLS = ["Q[The,d0]", "PE[cat,d1]", "PE[The,d0]", "X'[sat,d3]", "weights[cat,sat]", "scaled[0,2]",
         "norm_1.mean[cat]", "activation[The,f0]", "layers.0.attention.heads.0.K[2,1]", "output[The,d2]"]  # fmt: skip
BAD_KEYS = ["Qx[0,0]", "Q[9,0]", "Q[0,9]", "Q[cat", "[0,0]", "weights", "q[cat,d0]", "Q['cat,d0]", "1", "yes", "~",
            "[Q, 0]", "{a: 1}", "? [a]"]  # fmt: skip
SPECIALS = ["e1", ".e1", "-e5", "E3", ".", "-", "+", "1_000", "0_0", "٠.٢", "１", "0x1F", "0o17", "0b11", ".inf",
            "-.inf", ".nan", "~", "null", "yes", "on", "off", "1:30", "'2.3'", '"0"', "[1]", "{a: 1}", "", "1e99999",
            "1e400", "-1e-400", "0e400", "2.3.4", "1e", "1e+", "--1", "+-1", "0.0.0", "&a 1", "!!float 1"]  # fmt: skip


def zero(rng: random.Random) -> str:
    """A written zero: a sign, zeros, a dot, more zeros, an exponent of up to 5 digits."""
    text = rng.choice(["", "-", "+"]) + "0" * rng.randint(0, 3)
    text += rng.choice(["", ".", "." + "0" * rng.randint(1, 4)])
    text = text if any(c == "0" for c in text) else text + "0"
    if rng.random() < 0.6:
        text += rng.choice("eE") + rng.choice(["", "-", "+"]) + str(rng.randint(0, 10 ** rng.randint(1, 5) - 1))
    return text


def number(rng: random.Random) -> str:
    """A number as a student writes it: decimals, leading or trailing dots, signs, exponents."""
    value = rng.uniform(-5, 5) * 10 ** rng.randint(-3, 2)
    kind = rng.randrange(4)
    if kind == 0:
        return f"{value:.{rng.randint(0, 4)}f}"
    if kind == 1:
        return f"{value:.{rng.randint(0, 3)}e}"
    if kind == 2:
        return f"{value:.2f}".replace("0.", ".", 1)  # .5, -.25
    return f"{round(value)}."


def answers(rng: random.Random) -> str:
    if rng.random() < 0.1:  # a file that is no answers at all
        return rng.choice(["", "- 1\n", "Q[0,0]: [\n", "just text\n", "\t: 1\n", "a: 1\n  b: 2\n"])
    lines = []
    for _ in range(rng.randint(1, 6)):
        key = rng.choice(CELLS) if rng.random() < 0.75 else rng.choice(BAD_KEYS)
        value = rng.choice([zero, number, lambda r: r.choice(SPECIALS)])(rng)
        lines.append(f'"{key}": {value}' if rng.random() < 0.5 and '"' not in key else f"{key}: {value}")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("seed", range(FIRST, FIRST + RUN))
def test_fuzzed_answers_are_graded_or_refused_in_every_format(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(3):
        text = answers(rng)
        decimals = ["--decimals", str(rng.randint(0, 4))] if rng.random() < 0.3 else []
        for fmt in ("terminal", "json", "csv"):
            result = run("check", "-a", "-", "-f", fmt, *decimals, input=text)
            assert result.exit_code in (0, 1, 2), (text, result.exit_code, result.stderr)
            assert "Traceback" not in result.stderr and "Traceback" not in result.stdout, text
            assert all(line.startswith("error: ") for line in result.stderr.splitlines()), (text, result.stderr)
            if result.exit_code == 2:
                assert result.stdout == "" and result.stderr.count("\n") == 1, text
            elif fmt == "json":
                doc = json.loads(result.stdout)
                for a in doc["answers"]:
                    if float(a["written"]) == 0 and a["verdict"] == "right" and not decimals:
                        assert a["true"] == 0, (text, a)


def test_the_fuzz_reaches_every_verdict() -> None:
    """The generator is worth its runs: across the seeds it writes right, wrong, too coarse and
    malformed answers,, files all right and files that are no answers at all."""
    seen: set[str] = set()
    codes: set[int] = set()
    for seed in range(SEEDS):
        rng = random.Random(seed)
        for _ in range(3):
            result = run("check", "-a", "-", "-f", "json", input=answers(rng))
            codes.add(result.exit_code)
            if result.exit_code != 2:
                doc = json.loads(result.stdout)
                seen |= {a["verdict"] for a in doc["answers"]} | ({"malformed"} if doc["malformed"] else set())
    assert seen >= {"right", "wrong", "too coarse", "malformed"} and codes == {0, 1, 2}
