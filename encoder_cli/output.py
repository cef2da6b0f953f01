"""Every file the tool writes goes through `writing`: stdout, or a file written whole.

- A regular file (or a new one) is written to a temporary file beside it and renamed over
  it at the end, so that it is never seen half-written; through a symlink, the link's
  target is replaced and the link kept. Its permissions are kept.
- A FIFO or a device (/dev/stdout, /dev/null) is written through, never replaced. A FIFO
  is given FIFO_WAIT seconds to have a reader (its open would otherwise wait for one forever),
  and read from (api.read_text) the same time to have a writer.
- An output that is one of the run's inputs (the same file, by device and inode, which also
  sees hard links and symlinks; "-" is stdin's file) is refused: nothing the user gave is
  modified. So is stdout, when it is a regular file that is an input (`>> w.yaml`), and any
  file inside the installed package, whose example every run without --weights reads.
- stdout that cannot be written (a full disk, a closed stdout) is one error like any file's.
"""

from __future__ import annotations

import errno
import os
import stat
import sys
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import TextIO

from encoder_cli.errors import EncoderError

PACKAGE = Path(__file__).resolve().parent
FIFO_WAIT = 10.0  # seconds a FIFO may take to get a reader (an output) or a writer (an input); tests shorten it


@contextmanager
def writing(target: Path | None, inputs: Sequence[str | Path] = (), replace: bool = True) -> Iterator[TextIO]:
    """A text stream to write to: stdout (target None) or the target, as above. replace=False
    refuses an existing regular file (`init` without --force)."""
    if target is None:
        if sys.stdout is None:  # closed by the shell: `encoder explain >&-`
            raise EncoderError("stdout is closed (>&-); give --output FILE, or leave stdout open")
        with _open_error("stdout"), _stdout() as stream:
            try:
                st = os.fstat(stream.fileno())
            except (OSError, ValueError):  # not a file: a test's capture
                st = None
            if st is not None and stat.S_ISREG(st.st_mode):  # `>> w.yaml`; a pipe or a terminal is no input
                _refuse_inputs("stdout", st, inputs)
            yield stream
            stream.flush()  # here, where a full disk or a closed pipe can still be reported, not at exit
        return
    try:
        st = target.stat()
    except FileNotFoundError:
        st = None
    except OSError as e:
        raise EncoderError(f"{target}: cannot be written ({e.strerror})") from None
    if st is not None:
        _refuse_inputs(str(target), st, inputs)
    if st is not None and stat.S_ISDIR(st.st_mode):
        raise EncoderError(f"{target}: is a directory; give a file name")
    if st is not None and not stat.S_ISREG(st.st_mode):  # a FIFO or a device: written through
        with _open_error(target), open(_open_through(target), "w", encoding="utf-8") as stream:
            yield stream
        return
    if st is not None and not replace:
        raise EncoderError(f"{target}: already exists; choose another name, or add --force to replace it")
    real = Path(os.path.realpath(target))
    for folder in (Path(os.path.realpath(given)) for given in inputs if given != "-" and os.path.isdir(given)):
        if real.is_relative_to(folder):  # a checkpoint's folder: its files are the user's, read or not
            raise EncoderError(
                f"{target}: is inside the model's folder ({folder}), an input of this run; write elsewhere"
            )
    if real.is_relative_to(PACKAGE):
        raise EncoderError(f"{target}: is inside the installed encoder_cli package ({PACKAGE}); write elsewhere")
    # The temporary file is named before it is made, and made inside the `try`: SIGTERM (which
    # ends the run as an exception) arriving at any moment finds the name the `finally` removes.
    # (mkstemp made the file first and named it after, and a SIGTERM between left it behind.)
    partial = real.parent / f".{real.name}.{os.urandom(8).hex()}.partial"
    try:
        with _open_error(target):
            handle = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o600)
        os.chmod(partial, st.st_mode & 0o7777 if st is not None else 0o666 & ~_umask())
        with _open_error(target), os.fdopen(handle, "w", encoding="utf-8") as stream:
            yield stream
        with _open_error(target):
            os.replace(partial, real)
    finally:
        partial.unlink(missing_ok=True)


def _refuse_inputs(name: str, st: os.stat_result, inputs: Sequence[str | Path]) -> None:
    """An error when the file `st` describes is one of the inputs ("-": stdin's file)."""
    for given in inputs:
        try:
            same = os.path.samestat(st, os.fstat(0) if given == "-" else os.stat(given))
        except (OSError, ValueError):  # gone, or never there: not this file
            same = False
        if same:
            shown = "stdin" if given == "-" else given
            raise EncoderError(f"{name}: is also an input of this run ({shown}); write to another file")


def _open_through(target: Path) -> int:
    """A FIFO's or a device's descriptor to write to: a FIFO with no reader fails the open without
    blocking (ENXIO), so it is tried again until one comes, or FIFO_WAIT has passed."""
    import time

    deadline = time.monotonic() + FIFO_WAIT
    while True:
        try:
            fd = os.open(target, os.O_WRONLY | os.O_NONBLOCK)
            os.set_blocking(fd, True)
            return fd
        except OSError as e:
            if e.errno != errno.ENXIO:
                raise
            if time.monotonic() > deadline:
                nothing = f"a FIFO that nothing read in {FIFO_WAIT:g} s"
                raise EncoderError(f"{target}: {nothing}; start what reads it first") from None
        time.sleep(0.05)


def _stdout() -> AbstractContextManager[TextIO]:
    """stdout through a buffer of our own, so that a write to a pipe is whole or fails: where
    Python's stdout is unbuffered (PYTHONUNBUFFERED), a large write takes what one system call
    takes and drops the rest without a word, even when the reader has gone."""
    try:
        fd = sys.stdout.fileno()
    except (OSError, ValueError):  # not a file: a test's capture
        return nullcontext(sys.stdout)
    sys.stdout.flush()
    return open(fd, "w", encoding=sys.stdout.encoding, errors=sys.stdout.errors, closefd=False)


@contextmanager
def _open_error(target: Path | str) -> Iterator[None]:
    """An OSError while writing as one line naming the file; a closed pipe is left to the
    command line, which ends the run quietly."""
    try:
        yield
    except BrokenPipeError:
        raise
    except OSError as e:
        raise EncoderError(f"{target}: cannot be written ({e.strerror or e})") from None
    except UnicodeEncodeError as e:  # what is written came from the user: a lone surrogate
        raise EncoderError(f"{target}: cannot be written (the text holds {e.object[e.start]!r}, not UTF-8)") from None


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
