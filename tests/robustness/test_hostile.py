"""Hostile input and rough edges (issue #11), a test for each class at the command line's edge:
Typer's CliRunner, or a real process where one is needed (a signal, /dev/full, a closed stdin,
a broken pipe). The contract: a bad input gets one line on stderr naming the place and the fix,
exit status 2, nothing on stdout, no traceback; nothing the user gave is modified."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from encoder_cli import EncoderError, api, explain, weights_file
from encoder_cli.render import work
from tests.conftest import MAT, PRE, ROOT, SEED, run

GOOD = SEED.read_text()
ENCODER = [sys.executable, "-m", "encoder_cli"]


def rejected(*args: str, input: str | bytes | None = None, env: dict[str, str] | None = None) -> str:
    """The one line a bad input gets, after checking the contract."""
    result = run(*args, input=input, env=env)
    assert result.exit_code == 2, (result.exit_code, result.stdout[-500:], result.stderr[-2000:])
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, result.stderr
    return result.stderr


def one_line(stderr: str | bytes) -> str:
    text = stderr.decode() if isinstance(stderr, bytes) else stderr
    assert text.startswith("error: ") and text.count("\n") == 1 and "Traceback" not in text, text
    return text


def cell(text: str) -> str:
    """The seed's file with its first embedding's first number written as text."""
    return GOOD.replace("The: [0.2, 0.4, 0.8, 0.6]", f"The: [{text}, 0.4, 0.8, 0.6]")


def setting(line: str) -> str:
    """The seed's file with a line under model:, in place of the file's own for that key."""
    own = re.sub(rf"^  {re.escape(line.split(':')[0])}:.*\n", "", GOOD, flags=re.M)
    return own.replace("model:\n  d_model: 4\n", f"model:\n  d_model: 4\n  {line}\n")


def shell(script: str, **kwargs) -> subprocess.CompletedProcess:
    """A shell line, with `encoder` as this Python runs it."""
    encoder = " ".join(ENCODER)
    return subprocess.run(["bash", "-c", script.replace("encoder ", f"{encoder} ")], capture_output=True, **kwargs)


# --- Tracebacks instead of a message ------------------------------------------------------


@pytest.mark.parametrize(
    ("weights", "expected"),
    [
        (cell("0x" + "f" * 300), "embeddings.The[0]: expected a finite number, got '0xfff"),
        (cell("1" + "0" * 400), "too large for a float64"),
        (cell("9" * 5000), "(5000 characters), too large for a float64"),  # past Python's 4,300 digits
        (cell("-" + "9" * 4400), "too large for a float64"),
        (setting("heads: " + "1" * 400), "model.heads: expected a whole number from 1 to 4, got about 1e399"),
        (setting("heads: " + "1" * 5000), "model.heads: expected a number, got '1111"),
        (setting("layer_norm_eps: 0x" + "f" * 300), "model.layer_norm_eps: expected a finite number, got about 1e361"),
        (setting("positional_base: " + "7" * 4500), "model.positional_base: expected a number, got '777"),
        (setting("heads: 1e400"), "model.heads: expected a finite number, got '1e400'"),
        (setting("norm: 0x" + "f" * 4000), "model.norm: about 1e4816 is not a choice; expected one of: post, pre"),
        (setting("positional: 0" + "7" * 6000), "model.positional: about 1e5418 is not a choice"),  # octal
    ],
)
def test_integers_too_large_for_a_float(weights: str, expected: str) -> None:
    message = rejected("explain", "The cat sat", "-w", "-", input=weights)
    assert expected in message and len(message) < 400  # the number is quoted cut short


@pytest.mark.parametrize("digits", ["٠.٢", "٢", "۲", "१", "１", "²", "½"])
def test_digits_other_than_ascii_are_not_numbers(digits: str) -> None:
    """YAML reads Arabic-Indic (and every other non-ASCII) digits as words; so does the reader."""
    assert f"embeddings.The[0]: expected a number, got '{digits}'" in rejected(
        "explain", "The cat sat", "-w", "-", input=cell(digits)
    )


def tanh_gelu_of(h: float) -> str:
    """The seed's file with tanh-GELU and W_1[0][0] = h: the hidden layer holds numbers of h's size."""
    text = GOOD.replace("activation: relu", "activation: gelu_tanh")
    start = text.index("[", text.index("W_1:"))
    return text[: start + 1] + f"{h!r}, " + text[start + 1 :].split(",", 1)[1]


@pytest.mark.parametrize("h", [1e103, -1e103, 1e150])
@pytest.mark.parametrize("form", ["terminal", "json", "html"])
def test_worked_arithmetic_never_overflows(h: float, form: str) -> None:
    """tanh-GELU of 1e103 under --show-work (its u overflows float64): the run is whole, and its
    worked text finite."""
    result = run("explain", "The cat sat", "-w", "-", "--show-work", "-f", form, input=tanh_gelu_of(h))
    assert result.exit_code == 0 and result.stderr == "", result.stderr[-2000:]
    assert "activation[The, f0]" in result.stdout and "inf" not in result.stdout.split("activation[The, f0]")[1][:9000]
    if form == "json":
        json.loads(result.stdout, parse_constant=lambda name: pytest.fail(f"{name} in JSON"))


@pytest.mark.parametrize("columns", ["abc", "0", "-3", "٣", "", "99999999"])
@pytest.mark.parametrize("form", ["terminal", "svg"])
def test_columns_that_are_not_a_width(columns: str, form: str) -> None:
    result = run("explain", "-f", form, env={"COLUMNS": columns})
    assert result.exit_code == 0 and result.stderr == ""
    assert "layers.0.attention.heads.0.weights" in result.stdout
    if form == "terminal" and columns != "99999999":  # not a width: 80, as off a terminal
        assert max(map(len, result.stdout.splitlines())) == 80


@pytest.mark.parametrize(
    "command",
    ["explain", "explain -f json", "explain -f html", "check -a fixtures/the-cat-sat-seed-answers.yaml", "init"],
)
def test_stdout_that_cannot_be_written(command: str) -> None:
    done = shell(f"encoder {command} > /dev/full", cwd=ROOT)
    assert done.returncode == 2
    assert one_line(done.stderr) == "error: stdout: cannot be written (No space left on device)\n"


@pytest.mark.parametrize(
    ("redirect", "expected"),
    [
        ("explain 'The cat sat' -w - <&-", "error: --weights -: reads the file from stdin, but there is no stdin"),
        ("check -a - <&-", "error: --answers -: reads the file from stdin, but there is no stdin"),
        ("explain -f json >&-", "error: stdout is closed (>&-); give --output FILE, or leave stdout open"),
        ("init >&-", "error: stdout is closed"),
    ],
)
def test_closed_streams(redirect: str, expected: str) -> None:
    done = shell(f"encoder {redirect}")
    assert done.returncode == 2 and one_line(done.stderr).startswith(expected) and done.stdout == b""


@pytest.mark.parametrize("target", ["/proc/version", "/dev/full", str(SEED / "x.txt")])
def test_an_output_the_file_system_refuses(target: str) -> None:
    """A file system that refuses a new file (procfs, like a read-only one), a device that is
    full, a path through a file: one line, and nothing changed."""
    assert "cannot be written (" in rejected("explain", "-o", target)
    assert "cannot be written (" in rejected("init", "-o", target, "--force")
    assert SEED.read_text() == GOOD


def test_init_seed_is_a_whole_number_from_0() -> None:
    assert "--seed': -1 is not in the range x>=0 (see 'encoder init --help')" in rejected("init", "--seed", "-1")
    assert run("init", "--seed", str(2**70)).exit_code == 0


@pytest.mark.parametrize("command", [["init", "--force", "--sentence"], ["explain"], ["check", "-a", "x.yaml"]])
def test_a_sentence_that_is_not_utf8(command: list[str], tmp_path: Path) -> None:
    """An argument that is not UTF-8 is refused at once: no 0-byte file over an existing one."""
    mine = tmp_path / "w.yaml"
    mine.write_text("mine\n")
    args = [*ENCODER, *command, "caf\udcff", *(["-o", str(mine)] if command[0] == "init" else [])]
    done = subprocess.run([os.fsencode(a) for a in args], capture_output=True)  # the byte 0xff
    assert done.returncode == 2 and done.stdout == b""
    assert "is not valid UTF-8 (the byte 0xff)" in one_line(done.stderr)
    assert mine.read_text() == "mine\n" and sorted(p.name for p in tmp_path.iterdir()) == ["w.yaml"]


# --- One line means one line ------------------------------------------------------------


@pytest.mark.parametrize(
    ("char", "line"), [("\x01", 14), ("\x00", 14), ("\ufffe", 14), ("\x1b", 14), ("\x7f", 14), ("\x85", None)]
)
def test_characters_yaml_does_not_allow(char: str, line: int | None) -> None:
    weights = GOOD.replace("  The:", f"  T{char}he:")
    if line is None:  # NEL is a line break to YAML 1.1: the key is split, not refused
        rejected("explain", "The cat sat", "-w", "-", input=weights)
        return
    message = rejected("explain", "The cat sat", "-w", "-", input=weights)
    character = f"U+{ord(char):04X}"
    assert (
        message
        == f"error: <stdin>:{line}: not valid YAML: the character {character} is not allowed in YAML; remove it\n"
    )


def test_what_the_user_wrote_is_escaped_in_messages(tmp_path: Path) -> None:
    """Terminal escapes (ESC, BEL, an OSC title), a newline or a line separator in a key, a
    file name or a sentence: never raw on stderr, always one line."""
    for key in ("he\\e[31mads\\a", "he\\e]0;pwned\\ads", "he\\nads", "he\\Lads", "he\\u202eads"):
        message = rejected("explain", "The cat sat", "-w", "-", input=setting(f'"{key}": 1'))
        assert not re.search("[\x00-\x1f\x7f\u2028\u202e]", message[:-1]), message
        assert message.startswith("error: <stdin>:9: model.he\\")
    name = str(tmp_path / "a\nb\x1b[2J.yaml")
    message = rejected("explain", "x", "-w", name)
    assert message.endswith("a\\nb\\x1b[2J.yaml: no such file; check the path given for --weights\n")
    assert "no embedding for the token '\\x1b'" in rejected("explain", "The \x1b[31m sat")


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["explain", "--nope"], "error: No such option: --nope"),
        (["explain", "-p", "99"], "error: Invalid value for '--precision' / '-p': 99 is not in the range 0<=x<=15"),
        (["explain", "--format", "pdf"], "error: Invalid value for '--format' / '-f': 'pdf' is not one of"),
        (["explain", "--layer"], "error: Option '--layer' requires an argument"),
        (["explain", "a", "b", "c"], "error: Got unexpected extra argument(s) (c): quote a sentence of several words"),
        (["check", "--tolerance", "x"], "error: Invalid value for '--tolerance': 'x' is not a valid float"),
        (["init", "--heads", "two"], "error: Invalid value for '--heads': 'two' is not a valid int"),
        (["explain", "-s"], "error: Option '-s' requires an argument"),
        (["explian"], "error: No such command 'explian'"),
    ],
)
def test_usage_errors_are_one_line_naming_the_help(args: list[str], expected: str) -> None:
    message = rejected(*args)
    command = "encoder" if args[0] == "explian" else f"encoder {args[0]}"
    assert message.startswith(expected) and message.endswith(f" (see '{command} --help')\n"), message


# --- Hangs and memory ----------------------------------------------------------------------


@pytest.mark.parametrize("flag", ["-w", "-a"])
def test_endless_inputs_are_read_no_further_than_the_limit(flag: str) -> None:
    """/dev/zero as a file, and as stdin: the read stops one byte past 256 MiB."""
    command = ["explain", "The cat sat"] if flag == "-w" else ["check"]
    for source, stdin in (("/dev/zero", None), ("-", "/dev/zero")):
        with open(stdin or os.devnull, "rb") as given:
            done = subprocess.run([*ENCODER, *command, flag, source], stdin=given, capture_output=True)
        assert done.returncode == 2 and "larger than 256 MiB; too large for this calculator" in one_line(done.stderr)


def test_a_very_long_token(tmp_path: Path) -> None:
    """A 2,000-character token: init writes it as an explicit key (YAML's simple keys hold 1024
    characters), explain reads it, and every view cuts it short as a label."""
    token = "x" * 2000
    made = run("init", "--sentence", f"{token} cat")
    assert made.exit_code == 0 and f"  ? {token}\n  : [" in made.stdout
    for form in ("terminal", "json", "markdown", "latex", "html"):
        result = run("explain", f"{token} cat", "-w", "-", "-f", form, "-s", "weights", input=made.stdout)
        assert result.exit_code == 0 and result.stderr == ""
        assert "x" * 19 + "…" in result.stdout or form in ("json", "latex")


def test_init_refuses_a_file_that_explain_would_refuse() -> None:
    message = rejected("init", "--d-model", "8192", "--d-ff", "32768", "--layers", "64")
    assert "the file would hold 47,244,664,832 numbers" in message
    assert "explain reads at most 50,000,000 numbers and 256 MiB" in message
    assert "would hold" in rejected("init", "--d-model", "1024", "--d-ff", "4096", "--layers", "5")
    assert run("init", "--d-model", "64", "--d-ff", "256", "--layers", "2").exit_code == 0


# --- Files ---------------------------------------------------------------------------------


def long_run(tmp_path: Path) -> list[str]:
    """An explain that takes a few seconds: 300 tokens, every table whole."""
    words = [f"w{i}" for i in range(300)]
    rng = np.random.default_rng(0)
    m = lambda *shape: np.round(rng.normal(0, 0.3, shape), 2).tolist()  # noqa: E731
    layer = {"attention": {k: m(8, 8) for k in ("W_Q", "W_K", "W_V")}, "ffn": {"W_1": m(8, 16), "W_2": m(16, 8)}}
    model = {"embeddings": {w: m(8) for w in words}, "layers": [layer]}
    (tmp_path / "w300.yaml").write_text(yaml.safe_dump(model))
    return ["explain", " ".join(words), "-w", str(tmp_path / "w300.yaml"), "--full"]


def test_sigterm_while_writing_leaves_the_old_file_and_no_partial(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "view.txt").write_text("old\n")
    process = subprocess.Popen([*ENCODER, *long_run(tmp_path), "-o", str(out / "view.txt")], stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while not list(out.glob(".view.txt.*.partial")) and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.002)
    assert list(out.glob(".view.txt.*.partial")), "the run ended before it was caught writing"
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 143 and stderr == b""
    assert sorted(p.name for p in out.iterdir()) == ["view.txt"] and (out / "view.txt").read_text() == "old\n"


@pytest.mark.parametrize("command", [["init", "--force"], ["explain", "-f", "json"]])
def test_a_disk_that_fills_while_writing_leaves_the_old_file(
    command: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The disk fills after the first bytes: the error is one line, the file as it was."""

    class Full:
        def __init__(self, stream) -> None:
            self.stream, self.written = stream, 0

        def write(self, text: str | bytes) -> int:
            self.written += len(text)
            if self.written > 100:
                raise OSError(28, "No space left on device")
            return self.stream.write(text)

        @property
        def buffer(self) -> Full:  # the JSON is written as bytes, to the text stream's buffer: as full
            return Full(self.stream.buffer)

        def writelines(self, lines) -> None:
            for line in lines:
                self.write(line)

        def __getattr__(self, name: str):
            return getattr(self.stream, name)

        def __enter__(self):
            return self

        def __exit__(self, *exc) -> None:
            self.stream.close()

    fdopen = os.fdopen
    monkeypatch.setattr(os, "fdopen", lambda *a, **k: Full(fdopen(*a, **k)))
    mine = tmp_path / "mine.txt"
    mine.write_text("mine\n")
    assert rejected(*command, "-o", str(mine)) == f"error: {mine}: cannot be written (No space left on device)\n"
    assert mine.read_text() == "mine\n" and sorted(p.name for p in tmp_path.iterdir()) == ["mine.txt"]


@pytest.mark.parametrize(
    "sentence",
    [
        "The cat\nfinal_norm: {beta: [5, 5, 5, 5]}  #",  # a newline that would have written YAML
        "a \x01 b \x1b[31m c \x7f d",
        "a \u2028 b \u2029 c \x85 d \ufeff e",
        "quotes \" and \\ and ' and # and : and ? and - and & and * and !",
        "naïve café cafe\u0301 中文 😀 \u202e",
    ],
)
def test_what_init_writes_loads_and_means_what_its_flags_said(sentence: str) -> None:
    made = run("init", "--sentence", sentence, "--positional-base", "12345.678", "--layer-norm-eps", "3e-7")
    assert made.exit_code == 0, made.stderr
    spec, _ = weights_file.parse(made.stdout, "w.yaml")
    assert spec.final_norm is None  # no YAML slipped in
    assert spec.settings.positional_base == 12345.678 and spec.settings.layer_norm_eps == 3e-7
    result = run("explain", sentence, "-w", "-", "-f", "json", input=made.stdout)
    assert result.exit_code == 0 and json.loads(result.stdout)["unknown"] == []  # every token has its own embedding


@pytest.mark.parametrize(("flag", "value"), [("--positional-base", "inf"), ("--positional-base", "nan"),
                                              ("--layer-norm-eps", "nan"), ("--layer-norm-eps", "inf")])  # fmt: skip
def test_init_settings_that_are_not_finite(flag: str, value: str) -> None:
    assert f"error: {flag} {value}: expected a finite number" in rejected("init", flag, value)


# --- Verdicts ------------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["explain-json", "explain-full", "check", "init"])
def test_a_closed_pipe_ends_the_run_quietly_with_141(command: str, tmp_path: Path) -> None:
    """As coreutils report SIGPIPE, whatever the command: never 1 (`check`'s "wrong") or 2."""
    words = " ".join(f"w{i}" for i in range(300))
    if command == "check":
        answers = tmp_path / "a.yaml"
        answers.write_text(f"input: [{', '.join(['[1, 1, 1, 1, 1, 1, 1, 1]'] * 300)}]\n")
        args = f"check '{words}' -w {tmp_path / 'w300.yaml'} -a {answers}"
    else:
        args = {
            "explain-json": f"explain '{words}' -w {tmp_path / 'w300.yaml'} -f json --show-work",
            "explain-full": f"explain '{words}' -w {tmp_path / 'w300.yaml'} --full",
            "init": "init --d-model 256 --d-ff 1024 --layers 2",
        }[command]
    long_run(tmp_path)
    done = shell(f"set -o pipefail; encoder {args} | head -c 10 > /dev/null; echo $?")
    assert done.stdout.decode().split() == ["141"] and done.stderr == b""


def test_weights_and_answers_cannot_both_be_stdin() -> None:
    assert rejected("check", "-w", "-", "-a", "-", input="x: 1\n") == (
        "error: --weights - and --answers - both read stdin; give one of them as a file\n"
    )


# --- Rough edges ---------------------------------------------------------------------------


def test_captions_wrap_at_the_terminal_edge() -> None:
    sentence = " ".join(f"w{i}" for i in range(60))
    from tests.conftest import wide_model

    lines = run("explain", sentence, "-w", "-", "-s", "ffn.hidden", input=wide_model(), env={"COLUMNS": "50"}).stdout
    caption = lines[lines.index("layers.0.ffn.hidden") :].split("\n\n")[0]
    assert " ".join(caption.split()) == "layers.0.ffn.hidden 60 × 256 summarised: --full shows every row and column"
    assert max(map(len, caption.splitlines())) <= 50


def worked_lines() -> list[tuple[str, str]]:
    lines = []
    for trace in (explain().trace, explain("The cat sat on the mat", weights=MAT).trace,
                  explain("a dog ran home, fast.", weights=PRE).trace):  # fmt: skip
        for step in trace.steps:
            n, m = step.value.shape
            lines += [(step.id, work.cell(trace, step, i, j, 3).text) for i in range(n) for j in range(m)]
    return lines


def test_worked_arithmetic_reads_at_once() -> None:
    """No `+ -`, no `− -`: a negative number is subtracted in a sum, in parentheses elsewhere; a
    line names its layer and head where the model has several, and what a product multiplies."""
    lines = worked_lines()
    assert len(lines) > 2000
    for _, text in lines:
        assert not re.search(r"[+−/] -", text), text  # a sign after an operator: 0.854 + -0.390
        assert " output[" not in text, text  # `heads.0.output`, never `0 output`
    seed = run("explain", "-c", "heads.0.output[The,d2]").stdout
    assert seed.startswith("heads.0.output[The, d2] = weights[The] · V[:, d2] = (0.518 × ")
    cell = "layers.1.attention.heads.1.Q[cat,d0]"
    layers = run("explain", "The cat sat on the mat", "-w", str(MAT), "-c", cell).stdout
    assert layers.startswith("layers.1.attention.heads.1.Q[cat, d0] = layers.0.norm_2[cat] · W_Q[:, 2] + b_Q[2] = ")
    pre = run("explain", "a dog ran home, fast.", "-w", str(PRE), "-c", "layers.0.attention.heads.2.Q[dog,d1]").stdout
    assert pre.startswith("layers.0.attention.heads.2.Q[dog, d1] = norm_1[dog] · W_Q[:, 5]")  # x is norm_1
    assert "(-0.955 − (-1.008))²" in "".join(text for _, text in lines)  # (x − μ)² with μ < 0


def test_attention_output_without_w_o_is_said_once() -> None:
    line = run("explain", "-c", "attention.output[cat,d1]").stdout
    assert line == "attention.output[cat, d1] = concat[cat, d1] = 1.877\n"


def test_long_worked_lines_break_between_terms() -> None:
    view = run("explain", "The cat sat on the mat", "-w", str(MAT), "--show-work", env={"COLUMNS": "60"}).stdout
    continued = [line for line in view.splitlines() if line.startswith("    ") and line.strip()[:1] in "+−="]
    assert len(continued) > 20 and max(map(len, view.splitlines())) <= 60
    assert all(line[4:6] in ("+ ", "− ", "= ") for line in continued)


def test_the_built_in_example_can_be_written_out(tmp_path: Path) -> None:
    assert run("init", "--example").stdout == api.EXAMPLE.read_text()
    hint = rejected("explain", "The dog sat")
    assert hint.endswith("(to edit the example, write it out with 'encoder init --example -o the-cat-sat.yaml' "
                         "and give it as --weights the-cat-sat.yaml)\n")  # fmt: skip
    assert "to edit the example" not in rejected("explain", " ")  # an empty sentence: not the example's fault
    target = tmp_path / "the-cat-sat.yaml"
    assert run("init", "--example", "-o", str(target)).exit_code == 0 and target.read_text() == GOOD
    assert "already exists" in rejected("init", "--example", "-o", str(target))
    assert "drop --d-model" in rejected("init", "--example", "--d-model", "8")


def test_help_says_what_the_example_is_and_how_to_keep_colour() -> None:
    helped = " ".join(run("explain", "--help").stdout.split())
    assert "seed" not in helped and "built-in example" in helped and "encoder init --example" in helped
    assert "FORCE_COLOR=1 encoder explain | less -R" in helped


def test_checks_report_and_worked_cells_reach_the_terminal_escaped(tmp_path: Path) -> None:
    """The student's keys, the tokens and the file names in check's views, and --cell's text."""
    sentence = "\x1b]0;x\x07 cat"
    weights = tmp_path / "w.yaml"
    assert run("init", "--sentence", sentence, "-o", str(weights)).exit_code == 0
    answers = tmp_path / "\x1b[31m.yaml"
    answers.write_text('"positional[\\e]": [0.5, 0.5, 0.5, 0.5]\n"input[\\e]": ~\n')
    views = {
        "check": run("check", sentence, "-w", str(weights), "-a", str(answers)),
        "class": run("check", sentence, "-w", str(weights), "-a", str(answers), "-a", str(answers)),
        "cell": run("explain", sentence, "-w", str(weights), "-c", "scores[\x1b,cat]"),
    }
    for name, result in views.items():
        assert result.exit_code in (0, 1), (name, result.stderr)
        assert not re.search("[\x00-\x09\x0b-\x1f\x7f-\x9f]", result.stdout), name
        assert r"\x1b" in result.stdout, name


@pytest.mark.parametrize(
    ("setting", "said"),
    [
        ("format: []", "format: this is format 1 of the weights file; got []"),
        ("format: [1]", "format: this is format 1 of the weights file; got [1.0]"),
        ("model: []", "model: this must be a mapping of keys to values, got a list of 0"),
        ("model: ''", "model: this must be a mapping of keys to values, got a word"),
        ("model: {norm: []}", "model.norm: [] is not a choice"),
        ("model: {heads: [1, 2]}", "model.heads: expected a whole number, got [1.0, 2.0]"),
        ("model: {layer_norm_eps: [0.5]}", "model.layer_norm_eps: expected a number, got [0.5]"),
    ],
)
def test_a_list_where_a_setting_belongs_is_one_line_from_a_file_and_from_python(setting: str, said: str) -> None:
    """Lists of numbers are read as float64 rows where weights are, and as lists in settings."""
    data = yaml.safe_load(GOOD)
    data.update(yaml.safe_load(setting))
    assert said in rejected("explain", "The cat sat", "-w", "-", input=yaml.safe_dump(data))
    with pytest.raises(EncoderError) as e:
        explain("The cat sat", weights=data)
    assert said in str(e.value)


def test_a_bad_cell_address_names_its_flag() -> None:
    said = rejected("explain", "-c", "Q[dog,d0]")
    assert said == "error: --cell 'Q[dog,d0]': no row 'dog'; the rows are The, cat, sat\n"


def test_printables_fast_path_skips_nothing_it_must_escape() -> None:
    """printable() returns text that str.isprintable() passes as it is: so every character it
    escapes must be one that isprintable() refuses (checked over all of Unicode)."""
    from encoder_cli.errors import printable

    escaped = [c for c in map(chr, range(0x110000)) if printable(c) != c]
    assert not [hex(ord(c)) for c in escaped if c.isprintable()]
    assert {"\x1b", "\x07", "\n", "\x9b", "\u2028", "\u202e", "\ud800"} <= set(escaped)
