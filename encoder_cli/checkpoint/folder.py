"""Where a checkpoint lives, and reading its small files with bounded time and memory.

A name is a folder in Hugging Face's layout, or a model id found in the local Hugging Face
cache exactly where huggingface_hub looks (an existing folder wins over an id). Nothing here
touches the network. Every file is opened without blocking (a FIFO cannot hang us), must be a
regular file, and is read up to a cap whatever its size claims to be. Inside `recording()`, every
file opened is noted: the run's inputs, which no output may replace.
"""

from __future__ import annotations

import json
import os
import re
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from encoder_cli.errors import EncoderError, show

JSON_CAP = 16 << 20  # config.json, modules.json, tokenizer_config.json, ...
BIG_JSON_CAP = 64 << 20  # tokenizer.json, vocab.txt, model.safetensors.index.json

# huggingface_hub's rule for a repository id: [org/]name, ASCII word characters, '-' and '.'.
_REPO_ID = re.compile(r"(\b[\w\-.]{1,96}\b/)?\b[\w\-.]{1,96}\b", re.ASCII)
_COMMIT = re.compile(r"[0-9A-Za-z._-]{1,128}")

_opened: ContextVar[list[Path] | None] = ContextVar("opened", default=None)


def one_line(text: str, limit: int = 300) -> str:
    """Another library's error text, squeezed onto one line of at most `limit` characters."""
    s = show(" ".join(text.split()))
    return s if len(s) <= limit else s[: limit - 3] + "..."


def open_regular(path: Path, what: str) -> int:
    """A read-only descriptor of `path`, which must be a regular file (fstat, so no race with a swap)."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except FileNotFoundError:
        raise EncoderError(f"{show(path)}: no such file; {what}") from None
    except OSError as e:
        raise EncoderError(f"{show(path)}: cannot be read ({e.strerror}); {what}") from None
    except ValueError:  # a NUL in a name taken from a file
        raise EncoderError(f"{show(path)}: not a possible file name; {what}") from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise EncoderError(f"{show(path)}: not a regular file; {what}")
    if (opened := _opened.get()) is not None:
        opened.append(path)
    return fd


@contextmanager
def recording() -> Iterator[list[Path]]:
    """The files open_regular opens inside the block, in the order opened."""
    files: list[Path] = []
    token = _opened.set(files)
    try:
        yield files
    finally:
        _opened.reset(token)


def file_type(path: Path, what: str) -> int | None:
    """What is at `path` (stat.S_IFDIR, S_IFREG, ...; links followed), None for nothing: a path
    that cannot be looked at (too long, a folder that cannot be searched) is an error, not nothing."""
    try:
        return stat.S_IFMT(path.stat().st_mode)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as e:
        raise EncoderError(f"{show(path)}: cannot be read ({e.strerror}); {what}") from None
    except ValueError:  # a NUL in the name
        raise EncoderError(f"{show(path)}: not a possible file name; {what}") from None


def read_bytes(path: Path, cap: int, what: str) -> bytes:
    """At most `cap` bytes of a regular file; a longer file is an error."""
    fd = open_regular(path, what)
    with os.fdopen(fd, "rb") as f:
        data = f.read(cap + 1)
    if len(data) > cap:
        raise EncoderError(f"{show(path)}: larger than {size(cap)}; not a file this calculator reads")
    return data


def size(n: int) -> str:
    """A size in MiB where it is a whole number of them (16 MiB), else in bytes (1,024 bytes)."""
    return f"{n >> 20} MiB" if n and not n % (1 << 20) else f"{n:,} bytes"


def read_text(path: Path, cap: int, what: str) -> str:
    data = read_bytes(path, cap, what)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise EncoderError(f"{show(path)}: not UTF-8 text (byte {e.start}); {what}") from None


def read_json(path: Path, what: str, cap: int = JSON_CAP) -> Any:
    text = read_text(path, cap, what)
    try:
        return json.loads(text)
    except RecursionError:
        raise EncoderError(f"{show(path)}: JSON nested too deeply; {what}") from None
    except ValueError as e:
        raise EncoderError(f"{show(path)}: not valid JSON ({one_line(str(e))}); {what}") from None


def read_json_object(path: Path, what: str, cap: int = JSON_CAP) -> dict[str, Any]:
    data = read_json(path, what, cap)
    if not isinstance(data, dict):
        raise EncoderError(f"{show(path)}: expected a JSON object {{...}}, got {type(data).__name__}; {what}")
    return data


def hub_cache() -> tuple[Path, str]:
    """The Hugging Face hub cache folder, and the setting that chose it (as huggingface_hub does)."""
    env = os.environ
    if "HF_HUB_CACHE" in env:
        raw, why = env["HF_HUB_CACHE"], "$HF_HUB_CACHE"
    elif "HUGGINGFACE_HUB_CACHE" in env:
        raw, why = env["HUGGINGFACE_HUB_CACHE"], "$HUGGINGFACE_HUB_CACHE"
    else:
        if "HF_HOME" in env:
            home, why = env["HF_HOME"], "$HF_HOME/hub"
        elif "XDG_CACHE_HOME" in env:
            home, why = os.path.join(env["XDG_CACHE_HOME"], "huggingface"), "$XDG_CACHE_HOME/huggingface/hub"
        else:
            home, why = (
                os.path.join(os.path.expanduser("~"), ".cache", "huggingface"),
                "the default: no $HF_HUB_CACHE or $HF_HOME set",
            )
        raw = os.path.join(os.path.expandvars(os.path.expanduser(home)), "hub")
    return Path(os.path.expandvars(os.path.expanduser(raw))), why


def resolve(name: str) -> Path:
    """The checkpoint folder that `name` means: an existing folder, else a model id in the local cache."""
    given = "give a checkpoint folder or a model id such as org/name"
    if not name.strip():
        raise EncoderError(f"no model given; {given}")
    folder = Path(name).expanduser()
    found = file_type(folder, given)
    if found == stat.S_IFDIR:
        return folder.resolve()
    if found is not None:
        raise EncoderError(
            f"{show(name)}: not a folder; give the checkpoint's folder (config.json, model.safetensors, ...)"
        )
    if not (_REPO_ID.fullmatch(name) and "--" not in name and ".." not in name and not name.endswith(".git")):
        raise EncoderError(f"{show(name)}: no such folder; {given}")
    cache, why = hub_cache()
    repo = cache / ("models--" + name.replace("/", "--"))
    download = f"download it with `hf download {name}` (or `huggingface-cli download {name}`), or give its folder"
    where = f"no folder {show(name)}, and model {name} is not in the Hugging Face cache {show(cache)} ({why})"
    refs = repo / "refs" / "main"
    if file_type(refs, download) is None:
        raise EncoderError(f"{where}; {download}")
    commit = read_text(refs, 1024, download).strip()
    if not _COMMIT.fullmatch(commit) or commit.strip(".") == "":
        raise EncoderError(f"{show(refs)}: not a commit hash ({commit[:64]!r}); {download} again")
    snapshot = repo / "snapshots" / commit
    if file_type(snapshot, download) != stat.S_IFDIR:
        raise EncoderError(f"{show(refs)} names snapshot {commit}, which is not in {show(repo)}; {download} again")
    return snapshot.resolve()
