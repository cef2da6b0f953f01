"""A seeded mutation fuzzer at the command line's edge: the fixtures and the seed's answers file,
mutated at random (numbers, words, keys, tags, aliases, bytes, truncation, settings), given to
explain, check and init with random flags, sentences and terminal widths. On every input the
contract holds: exit status 0, 1 (check only) or 2, never a traceback; on an error one line on
stderr and nothing on stdout; on success JSON that parses, without NaN, and what init writes
loads.

A case is its seed: `FUZZ_SEED=1234 FUZZ_CASES=1 pytest tests/robustness/test_fuzz.py -k many` replays
case 1234. The suite runs CASES cases (seconds); a long run by hand:

    FUZZ_CASES=30000 .venv/bin/python -m pytest -q tests/robustness/test_fuzz.py -k many
"""

from __future__ import annotations

import json
import os
import random
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from typer.testing import CliRunner

from encoder_cli import weights_file
from encoder_cli.cli import app
from tests.conftest import FIXTURES, SENTENCES

CASES = int(os.environ.get("FUZZ_CASES", "1200"))
FIRST = int(os.environ.get("FUZZ_SEED", "0"))
WEIGHTS = {path.name: path.read_text() for path in sorted(FIXTURES.glob("*.yaml")) if "answers" not in path.name}
SENTENCE = {path.name: sentence for path, sentence in SENTENCES.items()}
ANSWERS = (FIXTURES / "the-cat-sat-seed-answers.yaml").read_text()

# Numbers a file may well hold, at the edges of float64 and of what the steps can take.
EXTREMES = ["1e300", "-1e300", "1e-300", "5e-324", "0", "-0.0", "1e102", "1e103", "-1e103", "1e154", "1e-5", "2",
            "1.7976931348623157e308", "12345.678", "0.1", "-7", "1e16"]  # fmt: skip
# What a hostile file puts where a number or a word belongs.
SCALARS = [
    "9" * 400, "9" * 5000, "-" + "9" * 4400, "0x" + "f" * 300, "0x" + "f" * 4000, "0" + "7" * 6000, "1e400",
    "-1e400", "1e-400", "0e400", "1e99999", ".nan", ".inf", "-.Inf", "1_000", "017", "0b101", "1:30",
    "190:20:30.15", "١٫٢", "٢",
    "²", "½", "１", "~", "null", "yes", "no", "on", "''", '""', "[]", "{}", "[1, [2]]", "{a: 1}",
    "!!python/object/apply:os.system ['true']", "!!str 1", "!!float 1", "!!binary aGk=", "!vector [1]",
    "&a 1", "*a", "*nowhere", "-0", "0.", ".5", "+.5e+3", "1e5", "1E-5", "5e-324", "1.7976931348623157e308",
    "x" * 2000, '"\\e[31mred\\a"', '"a\\nb"', '"\\u2028"', "'\\x00'", "0", "-1", "64", "65", "8193", "2.5",
    "true", "relu", "gelu_tanh", "pre", "table", "none", "sinusoidal", "1e-300", "1e300", "-1e300",
]  # fmt: skip
# What a hostile file holds between its characters.
SNIPPETS = [
    "\x00", "\x01", "\x07", "\x1b", "\x1b[31m", "\x1b]0;title\x07", "\n", "\r", "\t", "\u2028", "\u2029", "\x85",
    "\ufeff", "\ufffe", "\uffff", "é", "e\u0301", "中", "😀", "\u202e", "#", ": ", "- ", "[", "]", "{", "}", ", ",
    "&x ", "*x", "!", "|", ">", "'", '"', "%", "@", "`", "? ", "<<: ", "---\n", "...\n", " " * 40, "\n  - ",
    "\n    ", "{{{{{{{{{{", "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[", "- &a [*a]\n",
]  # fmt: skip
BYTES = [b"\xff", b"\xfe", b"\xc3", b"\xed\xa0\x80", b"\xef\xbf\xbe", b"\x80", b"\x00"]
SETTINGS = {  # values a file may well give, each with its hostile ones
    "d_model": ["4", "6", "0"],
    "heads": ["1", "2", "3", "4", "0"],
    "positional": ["sinusoidal", "table", "none"],
    "positional_base": ["10000", "2", "1e-9", "1e308", "5e-324"],
    "norm": ["post", "pre"],
    "activation": ["relu", "gelu", "gelu_tanh"],
    "layer_norm_eps": ["0", "1e-300", "1e300", "1e-5"],
    "lowercase": ["true", "false"],
}
WORDS = [
    "The", "cat", "sat", "on", "the", "mat", "a", "dog", "ran", "home", ",", "fast", ".", "zebra", "[UNK]",
    "café", "cafe\u0301", "\x1b[31m", "\x01", "\u2028", "中文", "😀", "x" * 300, "naïve", "'", "don't", "",
]  # fmt: skip
FORMATS = ["terminal", "json", "svg", "markdown", "latex", "html"]
STEPS = ["weights", "Q", "input", "output", "layers.*.norm_2", "heads.1.Q", "wieghts", "nothing", "X'", "norm_1.mean"]
CELLS = ["Q[0,0]", "weights[cat,sat]", "PE[cat,d2]", "norm_1[The,d0]", "Q[0,²]", "X'[9,9]", "Q", "activation[0,0]",
         "output[0, 0]", "heads.0.output[1,1]", "attention.output[0,0]", "x[", "ffn.hidden[0,f1]"]  # fmt: skip
COLUMNS = ["100"] * 8 + ["80", "1", "0", "abc", "-3", "100000", "٣", ""]
# Where -o writes: devices, refusals, and a file in the test's own folder ({out}, never a fixture).
OUTPUTS = ["/dev/null", "/dev/full", "/proc/version", str(FIXTURES), "/nonexistent/x", "{out}/file", "{out}/file"]
MODELS = ["fixtures", "no/such/model", "org/name", "/dev/null", str(FIXTURES / "pre-norm-gelu.yaml")]


@dataclass
class Case:
    seed: int
    args: list[str]
    input: bytes | None = None
    env: dict[str, str] = field(default_factory=dict)
    kind: str = "explain"

    def __str__(self) -> str:
        shown = (self.input or b"")[:300]
        return f"FUZZ_SEED={self.seed}: encoder {' '.join(map(repr, self.args))[:500]} env={self.env} input={shown!r}"


def mutate(text: str, rng: random.Random, mild: bool = False) -> bytes:
    """A few random changes to a YAML text, and perhaps to its bytes; mild: only numbers at the
    edges of float64 and settings a file may well give, which the file still reads."""
    for _ in range(rng.choice([1, 1, 1, 2, 2, 3, 4])):
        lines = text.split("\n")
        k = rng.randrange(len(lines))
        edit = rng.choice([0, 8] if mild else [0, 0, 0, 0, *range(1, 11)])
        if edit == 0:  # a number or a word where one was
            spots = list(re.finditer(r"(?<=[\[ ,:])-?[\w.]+(?=[\],\n]|$)", text))
            if spots:
                spot = rng.choice(spots)
                value = rng.choice(EXTREMES if mild or rng.random() < 0.6 else SCALARS)
                text = text[: spot.start()] + value + text[spot.end() :]
        elif edit == 1:
            at = rng.randrange(len(text) + 1)
            text = text[:at] + rng.choice(SNIPPETS) + text[at:]
        elif edit == 2:
            at = rng.randrange(len(text) + 1)
            text = text[:at] + text[at + rng.randint(1, 60) :]
        elif edit == 3:
            lines.insert(k, lines[k])
            text = "\n".join(lines)
        elif edit == 4:
            j = rng.randrange(len(lines))
            lines[k], lines[j] = lines[j], lines[k]
            text = "\n".join(lines)
        elif edit == 5:
            text = text[: rng.randrange(len(text) + 1)]
        elif edit == 6:
            lines[k] = rng.choice(["  ", ""]) + lines[k][rng.choice([0, 2]) :]
            text = "\n".join(lines)
        elif edit == 7:  # a key: hostile, or another's
            key = rng.choice(['"\\e[31mkey\\a"', '"a\\nb"', "x" * 3000, "<<", "? [a]", "[UNK]", "1", "no", "W_Q"])
            found = re.match(r"^(\s*(?:- )?)[^:\s][^:]*:", lines[k])
            if found:
                lines[k] = f"{found[1]}{key}:{lines[k][found.end() :]}"
            text = "\n".join(lines)
        elif edit == 8:  # a setting, in place of the file's own
            key = rng.choice(sorted(SETTINGS))
            setting = f"  {key}: {rng.choice(SETTINGS[key] if mild or rng.random() < 0.6 else SCALARS)}"
            text = re.sub(rf"^  {key}:.*\n", "", text, flags=re.M)
            found = re.search(r"^model:.*$", text, flags=re.M)
            if found:
                text = f"{text[: found.end()]}\n{setting}{text[found.end() :]}"
        elif edit == 9:
            text += rng.choice(["\n---\na: 1\n", "\nextra: [1, 2]\n", "\nlayers: []\n", "\n&b a: *b\n", "\n- 1\n"])
        else:
            lines.insert(k, rng.choice(lines) + rng.choice(["", " #", ": 1", "  - [1, 2]"]))
            text = "\n".join(lines)
    data = text.encode("utf-8", "surrogatepass")
    if rng.random() < 0.1:
        at = rng.randrange(len(data) + 1)
        data = data[:at] + rng.choice(BYTES) + data[at:]
    return data


def sentence(base: str, rng: random.Random) -> str:
    if rng.random() < 0.7:
        return base
    words = base.split() or ["The"]
    for _ in range(rng.randint(1, 3)):
        words.insert(rng.randrange(len(words) + 1), rng.choice(WORDS))
    return rng.choice([" ", "", "  ", "\n"]).join(words)


def case(seed: int) -> Case:
    rng = random.Random(seed)
    env = {"COLUMNS": rng.choice(COLUMNS), "NO_COLOR": "1"} if rng.random() < 0.9 else {"FORCE_COLOR": "1"}
    kind = rng.choices(["explain", "check", "init"], [6, 3, 1])[0]
    if kind == "init":
        return Case(seed, ["init", *init_flags(rng)], None, env, kind)
    name = rng.choice(sorted(WEIGHTS))
    text: bytes | None = WEIGHTS[name].encode()
    args = [sentence(SENTENCE[name], rng), "-w", "-"]
    if kind == "explain" and rng.random() < 0.85:
        text = mutate(WEIGHTS[name], rng, mild=rng.random() < 0.4)
    elif kind == "explain" or rng.random() < 0.3:
        text, args = None, ([sentence("The cat sat", rng)] if rng.random() < 0.7 else [])
    if kind == "explain":
        return Case(seed, ["explain", *args, *explain_flags(rng)], text, env, kind)
    answers = mutate(ANSWERS, rng) if rng.random() < 0.85 else ANSWERS.encode()
    weights = ["-w", str(FIXTURES / name)] if text is not None else []
    sentence_given = [SENTENCE[name]] if text is not None else args
    return Case(seed, ["check", *sentence_given, *weights, "-a", "-", *check_flags(rng)], answers, env, kind)


def explain_flags(rng: random.Random) -> list[str]:
    flags: list[str] = []
    if rng.random() < 0.5:
        flags += ["-f", rng.choice([*FORMATS, "pdf"] if rng.random() < 0.05 else FORMATS)]
    for flag, chance in (("--show-work", 0.4), ("--full", 0.2), ("--no-color", 0.1)):
        if rng.random() < chance:
            flags.append(flag)
    if rng.random() < 0.2:
        flags += ["-p", str(rng.choice([0, 1, 2, 3, 15, 16, -1]))]
    if rng.random() < 0.15:
        flags += ["--layer", str(rng.choice([0, 1, 2, -1]))]
    if rng.random() < 0.15:
        flags += ["--head", str(rng.choice([0, 1, 2, 5]))]
    if rng.random() < 0.15:
        flags += ["-s", rng.choice(STEPS)]
    if rng.random() < 0.15:
        flags += ["-c", rng.choice(CELLS)]
    if rng.random() < 0.05:
        flags += ["-o", rng.choice(OUTPUTS)]
    if rng.random() < 0.03:
        flags += ["-m", rng.choice(MODELS)]
    if rng.random() < 0.02:
        flags.append(rng.choice(["--nope", "-x", "--layer", "--precision=abc"]))
    return flags


def check_flags(rng: random.Random) -> list[str]:
    flags: list[str] = []
    if rng.random() < 0.4:
        flags += ["-f", "json"]
    if rng.random() < 0.2:
        flags += ["--tolerance", rng.choice(["0.01", "0", "1e300", "-1", "inf"])]
    if rng.random() < 0.2:
        flags += ["-p", str(rng.choice([0, 3, 15]))]
    return flags


def init_flags(rng: random.Random) -> list[str]:
    choices = {
        "--sentence": [sentence("The cat sat", rng), "a\nfinal_norm: {beta: [5]}  #", "x" * 3000, "中 😀 \x1b"],
        "--d-model": ["1", "4", "6", "0", "-2", "9000"],
        "--heads": ["1", "2", "3", "4"],
        "--d-ff": ["1", "8", "40000"],
        "--layers": ["1", "2", "65"],
        "--seed": ["0", "7", "-1", str(2**70)],
        "--positional": ["sinusoidal", "table", "none"],
        "--positional-base": ["10000", "12345.678", "inf", "nan", "1e-12", "1e308", "-1"],
        "--norm": ["post", "pre"],
        "--activation": ["relu", "gelu", "gelu_tanh"],
        "--layer-norm-eps": ["1e-5", "0", "nan", "inf", "-1"],
    }
    flags = [f for name, values in choices.items() if rng.random() < 0.3 for f in (name, rng.choice(values))]
    if rng.random() < 0.1:
        flags += ["-o", rng.choice(OUTPUTS), *(["--force"] if rng.random() < 0.5 else [])]
    if rng.random() < 0.05:
        flags.append("--example")
    switches = ["--lowercase", "--unk", "--per-head", "--w-o", "--biases", "--layer-norms", "--embedding-norm"]
    return flags + [s for s in [*switches, "--final-norm"] if rng.random() < 0.3]


def no_constants(name: str) -> float:
    raise AssertionError(f"{name} in JSON")


def check_contract(c: Case, folder: Path) -> None:
    """The case's run keeps the contract; what it writes with -o goes to folder."""
    args = [a.replace("{out}", str(folder)) for a in c.args]
    result = CliRunner(env=c.env).invoke(app, args, input=c.input)
    where = str(c)
    assert result.exception is None or isinstance(result.exception, SystemExit), f"{where}\n{result.exception!r}"
    assert "Traceback" not in result.stderr, f"{where}\n{result.stderr[-2000:]}"
    allowed = {0, 1, 2} if c.kind == "check" else {0, 2}
    assert result.exit_code in allowed, f"{where}\nexit {result.exit_code}\n{result.stderr[-2000:]}"
    if result.exit_code == 2:
        assert result.stdout == "", f"{where}\nstdout on error: {result.stdout[:300]!r}"
        lines = result.stderr.splitlines()  # one, or one per malformed entry of an answers file
        assert lines and all(line.startswith("error: ") for line in lines), f"{where}\n{result.stderr!r}"
        assert len(lines) == 1 or c.kind == "check", f"{where}\n{result.stderr!r}"
        return
    said: tuple[str, ...] = ("warning: ", "wrote ") if "-o" in c.args else ("warning: ",)
    said += ("error: ",) if c.kind == "check" else ()  # a malformed entry; the file's others are graded
    assert all(line.startswith(said) for line in result.stderr.splitlines()), f"{where}\n{result.stderr!r}"
    if "-o" in c.args:  # written to a device: /dev/null
        assert result.stdout == "", where
    elif c.kind == "init":
        weights_file.parse(result.stdout, "init's output")  # what init writes loads
    elif "json" in c.args:
        json.loads(result.stdout, parse_constant=no_constants)
    else:
        assert result.stdout, where


def test_many(tmp_path: Path) -> None:
    """CASES cases from FUZZ_SEED: every one keeps the contract."""
    for seed in range(FIRST, FIRST + CASES):
        check_contract(case(seed), tmp_path)


@pytest.mark.parametrize("seed", [0, 1])
def test_cases_are_their_seeds(seed: int) -> None:
    """A seed always makes the same case, so that a failure can be replayed."""
    assert str(case(seed)) == str(case(seed)) and str(case(seed)) != str(case(seed + 2))


def test_the_fuzzer_reaches_every_command_and_format() -> None:
    cases = [case(seed) for seed in range(CASES)]
    assert {c.kind for c in cases} == {"explain", "check", "init"}
    formats = {c.args[c.args.index("-f") + 1] for c in cases if c.kind == "explain" and "-f" in c.args}
    assert set(FORMATS) <= formats
    assert any(c.input and re.search(rb"[\x00-\x09\x1b]", c.input) for c in cases)  # control characters
    assert any(c.env.get("COLUMNS") == "abc" for c in cases)
    assert any(c.input and b"\xff" in c.input for c in cases)  # bytes that are not UTF-8
