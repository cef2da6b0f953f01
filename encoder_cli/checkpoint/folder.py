"""Where a checkpoint lives, and reading its small files with bounded time and memory.

A name is a folder in Hugging Face's layout, or a model id that huggingface_hub finds in its
cache or, online, downloads there (an existing folder wins over an id, and never imports the
library). Every file is opened without blocking (a FIFO cannot hang us), must be a regular file,
and is read up to a cap whatever its size claims to be. Inside `recording()`, every file opened
is noted: the run's inputs, which no output may replace.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from encoder_cli.errors import EncoderError, show

JSON_CAP = 16 << 20  # config.json, modules.json, tokenizer_config.json, ...
BIG_JSON_CAP = 64 << 20  # tokenizer.json, vocab.txt, model.safetensors.index.json

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


def resolve(name: str) -> Path:
    """The checkpoint folder that `name` means: an existing folder, else a model id through huggingface_hub.
    Inside `recording()` the folder is noted too: no output may be written into it."""
    given = "give a checkpoint folder or a model id such as org/name"
    if not name.strip():
        raise EncoderError(f"no model given; {given}")
    folder = Path(name).expanduser()
    found = file_type(folder, given)
    if found is not None and found != stat.S_IFDIR:
        raise EncoderError(
            f"{show(name)}: not a folder; give the checkpoint's folder (config.json, model.safetensors, ...)"
        )
    resolved = folder.resolve() if found == stat.S_IFDIR else _from_hub(name, given)
    if (opened := _opened.get()) is not None:
        opened.append(resolved)
    return resolved


# What a run reads of a model repository: its config, tokenizer, safetensors weights (one file, or shards
# beside their index) and sentence-transformers' modules (1_Pooling/config.json, ...). '*' crosses '/'
# here, so weights in sub-folders (onnx/, 2_Dense/), which are not the encoder's, are left out by name.
HUB_FILES = [
    *("config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt"),
    *("*.safetensors", "model.safetensors.index.json", "modules.json", "sentence_bert_config.json", "*/config.json"),
]
HUB_SKIP = ["*/*.safetensors"]


def _from_hub(name: str, given: str) -> Path:
    """Model `name`'s snapshot in the Hugging Face cache, as every Hugging Face tool finds it, downloading
    the files a run reads when they are not there (the library's progress bars go to stderr), unless
    HF_HUB_OFFLINE is set. Every error of the library becomes one line naming the id and the fix."""
    import huggingface_hub as hub  # here, not at the top: a folder's run never imports it
    from huggingface_hub import constants, errors
    from huggingface_hub.file_download import repo_folder_name

    def snapshot(local_files_only: bool) -> str:
        return hub.snapshot_download(
            name, allow_patterns=HUB_FILES, ignore_patterns=HUB_SKIP, local_files_only=local_files_only
        )

    try:
        repo = repo_folder_name(repo_id=name, repo_type="model")  # models--org--name, once the id is checked
    except errors.HFValidationError:
        raise EncoderError(f"{show(name)}: no such folder, and not a model id (org/name); {given}") from None
    if "/" in name:
        fix = f"download it with `hf download {name}`, or give its folder"
        offline = (
            f"download it with `hf download {name}` (or unset HF_HUB_OFFLINE to let this run do it), or give its folder"
        )
    else:  # `hf download all-MiniLM-L6-v2` is no id the Hub knows
        fix = offline = (
            "give the model's full id, org/name as on huggingface.co (e.g. sentence-transformers/all-MiniLM-L6-v2)"
        )
    # The library reads refs/main whole and blocking: a FIFO or a huge file there must not hang us or fill memory.
    ref = Path(constants.HF_HUB_CACHE, repo, "refs", "main")
    if file_type(ref, fix) is not None:
        read_bytes(ref, 1024, fix)
    try:
        try:
            found = Path(snapshot(local_files_only=True))
        except errors.LocalEntryNotFoundError:  # not in the cache, or only some of the files the run reads
            found = Path(snapshot(local_files_only=False))
    except errors.GatedRepoError:
        raise EncoderError(
            f"model {name} is gated on {constants.ENDPOINT}; ask for access at {constants.ENDPOINT}/{name} "
            "and log in with `hf auth login`, or give its folder"
        ) from None
    except errors.RepositoryNotFoundError:
        private = "check the id, or log in with `hf auth login` if the model is private"
        raise EncoderError(
            f"no folder {show(name)}, and no model {name} on {constants.ENDPOINT}; {private if '/' in name else fix}"
        ) from None
    except errors.LocalEntryNotFoundError as e:
        cache = f"the Hugging Face cache {show(constants.HF_HUB_CACHE)}"
        where = f"no folder {show(name)}, and model {name} is " + (
            f"only in part in {cache}" if isinstance(e, errors.IncompleteSnapshotError) else f"not in {cache}"
        )
        if hub.is_offline_mode():
            raise EncoderError(f"{where}, and HF_HUB_OFFLINE keeps this run offline; {offline}") from None
        cause = one_line(str(e.__cause__ or e), 160)
        raise EncoderError(f"{where}, nor could {constants.ENDPOINT} be reached ({cause}); {fix}") from None
    except Exception as e:  # the library's other HTTP errors, a cache it cannot read or write, ...
        raise EncoderError(f"model {name}: {type(e).__name__}: {one_line(str(e), 200)}; {fix}") from None
    if found.parent.name != "snapshots":  # the library joins refs/main's text to snapshots/: "", "../.."
        raise EncoderError(f"{show(ref)}: names no snapshot of {name}; download it again with `hf download {name}`")
    return found.resolve()
