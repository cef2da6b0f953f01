"""A weights file may name its sentence (`sentence:`, weights format 1): init writes it, and every
command given no sentence runs it and says so on stderr (#17)."""

from __future__ import annotations

import json

import pytest

import encoder_cli
from encoder_cli.errors import EncoderError
from tests.conftest import MAT, run


def test_init_records_the_sentence_and_explain_runs_it(tmp_path) -> None:
    lesson = tmp_path / "lesson.yaml"
    made = run("init", "--sentence", 'The "big" dog', "-o", str(lesson))
    assert made.exit_code == 0, made.stderr
    done = run("explain", "-w", str(lesson), "-f", "json")
    assert done.exit_code == 0, done.stderr
    assert json.loads(done.stdout)["tokens"] == ["The", '"', "big", '"', "dog"]
    assert done.stderr == f"note: running the sentence {lesson} names: 'The \"big\" dog'\n"
    given = run("explain", "dog big", "-w", str(lesson), "-f", "json")  # a sentence given wins, and no note
    assert given.stderr == "" and json.loads(given.stdout)["sentence"] == "dog big"


@pytest.mark.parametrize("command", [["check", "--answers", "-"], ["worksheet", "--blank", "Q[0,0]"]])
def test_every_command_runs_the_files_sentence(command, tmp_path) -> None:
    lesson = tmp_path / "lesson.yaml"
    run("init", "--sentence", "one two", "-o", str(lesson))
    done = run(*command, "-w", str(lesson), input="Q[two,d0]: ~\n")
    assert done.stderr.startswith(f"note: running the sentence {lesson} names: 'one two'\n"), done.stderr


def test_a_file_without_one_names_both_ways() -> None:
    done = run("explain", "-w", str(MAT))
    assert done.exit_code == 2 and done.stdout == ""
    assert done.stderr == (
        f'error: {MAT}: give the sentence to encode, e.g. "The cat sat", or write it in the file as sentence:\n'
    )
    with pytest.raises(EncoderError, match="write it in the file as sentence:"):
        encoder_cli.explain(weights=MAT)


@pytest.mark.parametrize("value", ["[a, b]", "3", "''", "' '", "{a: 1}", "yes"])
def test_a_sentence_that_is_not_words_is_one_line(value: str, tmp_path) -> None:
    lesson = tmp_path / "lesson.yaml"
    run("init", "-o", str(lesson))
    text = lesson.read_text()
    lesson.write_text(text.replace('sentence: "The cat sat"', f"sentence: {value}", 1))
    done = run("explain", "-w", str(lesson))
    assert done.exit_code == 2 and done.stdout == ""
    assert done.stderr.startswith(f"error: {lesson}:6: sentence")  # [a, b]: sentence[0]: expected a number
    assert "expected the sentence as words" in done.stderr or value == "[a, b]"
