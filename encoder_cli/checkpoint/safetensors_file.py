"""Tensors of a .safetensors file: the header checked up front, the data read lazily, by offset.

The format: 8 bytes (little-endian header length N), N bytes of JSON header naming each tensor's
dtype, shape and [begin, end) offsets into the data that follows, then the data, every byte of it
covered by exactly one tensor. The header is checked twice: by the `safetensors` package (its own
reader, the reference) and here, since we read at the offsets ourselves. Reading takes only what is
asked for (a few rows of the 30,522-row word embeddings) and widens it to float64 exactly. Nothing
is memory-mapped: what was read is freed when dropped, and a matrix (`StoredMatrix`) is read again
each time it is used, so that a run holds one layer's weights at a time, not every layer's.

Sharded checkpoints (model.safetensors.index.json) are read: each tensor comes from the shard
file that the index's weight_map names, and every shard's header is checked up front.
"""

from __future__ import annotations

import json
import math
import os
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import numpy.typing as npt

from encoder_cli.checkpoint.folder import BIG_JSON_CAP, one_line, open_regular, read_json_object
from encoder_cli.errors import EncoderError, show

MAX_HEADER = 100_000_000  # the safetensors package's own limit
# Weights are floats; these widen to float64 exactly.
FLOATS = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "BF16": "<u2"}
SIZES = {"BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1, "F8_E8M0": 1, "I16": 2, "U16": 2, "F16": 2}
SIZES |= {"BF16": 2, "I32": 4, "U32": 4, "F32": 4, "I64": 8, "U64": 8, "F64": 8, "C64": 8}
FIX = "download or convert the checkpoint again"


@dataclass(frozen=True)
class Entry:
    dtype: str
    shape: tuple[int, ...]
    begin: int  # absolute offsets in the file
    end: int


class SafetensorsFile:
    """One checked .safetensors file, kept open and read by offset."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd = open_regular(path, FIX)
        weakref.finalize(self, os.close, self._fd)
        with os.fdopen(self._fd, "rb", closefd=False) as f:
            self.entries = _parse_header(path, f, os.fstat(self._fd).st_size)
        _check_with_safetensors(path)

    def read(self, name: str, rows: Sequence[int] | None = None, transpose: bool = False) -> npt.NDArray[np.float64]:
        """The tensor (or only the given rows of it) as float64, transposed if asked (widened in one
        copy, then transposed as a view: Fortran order, which BLAS takes as it is, where a transposing
        copy would cost 4x the time); NaN or infinity is an error."""
        entry = self.entries[name]
        if entry.dtype not in FLOATS:
            raise EncoderError(
                f"{show(self.path)}: tensor {show(name)} is {entry.dtype}; weights must be F32, F16 or BF16"
            )
        row, row_bytes = entry.shape[1:], math.prod(entry.shape[1:]) * np.dtype(FLOATS[entry.dtype]).itemsize
        if rows is None:
            stored = self._at(entry.begin, entry.shape, entry.dtype)
        elif len(rows) and not 0 <= min(rows) <= max(rows) < entry.shape[0]:
            raise IndexError(f"rows of {name} past its {entry.shape[0]}")
        elif isinstance(rows, range) and rows.step == 1:  # a block: one read
            stored = self._at(entry.begin + rows.start * row_bytes, (len(rows), *row), entry.dtype)
        else:
            stored = np.empty((len(rows), *row), FLOATS[entry.dtype])
            for k, r in enumerate(rows):
                stored[k] = self._at(entry.begin + r * row_bytes, row, entry.dtype)
        if entry.dtype == "BF16":  # bfloat16 is the top half of a float32
            stored = (stored.astype(np.uint32) << 16).view(np.float32)
        if not np.isfinite(stored).all():  # checked as stored: half the bytes of float64, still in the cache
            bad = "NaN" if np.isnan(stored).any() else "infinity"
            raise EncoderError(f"{show(self.path)}: tensor {show(name)} holds {bad}; the checkpoint is damaged, {FIX}")
        values = stored.astype(np.float64)
        return values.T if transpose else values

    def _at(self, offset: int, shape: tuple[int, ...], dtype: str) -> np.ndarray:
        """The array of `shape` stored at `offset`, read (os.preadv) into memory of its own."""
        out = np.empty(shape, FLOATS[dtype])
        if os.preadv(self._fd, [out.data.cast("B")], offset) < out.nbytes:
            raise EncoderError(f"{show(self.path)}: shorter than its header says (truncated while in use?); {FIX}")
        return out


class StoredMatrix:
    """A weight matrix W (inputs x outputs) left in its file, where it is stored (outputs x inputs)
    as torch's Linear stores it. It is read, widened and checked each time it is used
    (`np.asarray(W)`, or a column `W[:, j]`); `W[:, a:b]`, a head's columns, is another one."""

    ndim = 2

    def __init__(self, file: SafetensorsFile, name: str, columns: range | None = None) -> None:
        self.file = file
        self.name = name
        outputs, inputs = file.entries[name].shape
        self.columns = range(outputs) if columns is None else columns  # rows of the stored tensor
        self.shape = (inputs, len(self.columns))

    def __array__(self, dtype: Any = None, /, *, copy: Any = None) -> npt.NDArray[np.float64]:
        return self.file.read(self.name, self.columns, transpose=True)

    def __getitem__(self, key: tuple[slice, int | slice | Sequence[int]], /) -> Any:
        rows, cols = key
        if rows != slice(None):
            raise IndexError("a stored matrix is indexed by whole columns: W[:, j], W[:, a:b], W[:, [j, k]]")
        if isinstance(cols, slice):
            return StoredMatrix(self.file, self.name, self.columns[cols])
        picked = np.asarray(self.columns)[cols]  # the stored rows of these columns
        if picked.ndim == 0:  # W[:, j]: one stored row
            return self.file.read(self.name, [int(picked)])[0]
        return self.file.read(self.name, picked.tolist(), transpose=True)


def _parse_header(path: Path, f: BinaryIO, size: int) -> dict[str, Entry]:
    where = show(path)
    prefix = f.read(8)
    if size < 8 or len(prefix) < 8:
        raise EncoderError(f"{where}: {size} bytes, too short for a safetensors file; {FIX}")
    n = int.from_bytes(prefix, "little")
    if n > MAX_HEADER:
        raise EncoderError(f"{where}: header length {n} is over the {MAX_HEADER} bytes allowed; {FIX}")
    if 8 + n > size:
        raise EncoderError(f"{where}: header length {n} runs past the end of the {size}-byte file (truncated?); {FIX}")
    try:
        header = json.loads(f.read(n).decode("utf-8"))
    except RecursionError:
        raise EncoderError(f"{where}: header JSON nested too deeply; {FIX}") from None
    except ValueError as e:  # UnicodeDecodeError and JSONDecodeError both
        raise EncoderError(f"{where}: header is not valid JSON ({one_line(str(e))}); {FIX}") from None
    if not isinstance(header, dict):
        raise EncoderError(f"{where}: header is not a JSON object; {FIX}")
    entries: dict[str, Entry] = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        entries[name] = _entry(where, name, info, 8 + n)
    # The data must be covered exactly: tensors back to back from the header's end to the file's end.
    at = 8 + n
    for name, entry in sorted(entries.items(), key=lambda item: (item[1].begin, item[1].end)):
        if entry.begin != at:
            problem = "overlaps another" if entry.begin < at else f"leaves a gap of {entry.begin - at} bytes before it"
            raise EncoderError(f"{where}: tensor {show(name)} {problem} (header offsets are wrong); {FIX}")
        at = entry.end
    if at != size:
        problem = f"{size - at} bytes after the last tensor" if at < size else f"the data runs {at - size} bytes past"
        raise EncoderError(f"{where}: header and file length disagree ({problem}; truncated?); {FIX}")
    return entries


def _entry(where: str, name: str, info: object, start: int) -> Entry:
    bad = f"{where}: tensor {show(name)}"
    if not isinstance(info, dict):
        raise EncoderError(f"{bad} is described by {type(info).__name__}, not an object; {FIX}")
    dtype, shape, offsets = info.get("dtype"), info.get("shape"), info.get("data_offsets")
    if dtype not in SIZES:
        raise EncoderError(f"{bad} has dtype {show(repr(dtype)[:40])}, which safetensors does not define; {FIX}")
    if not (isinstance(shape, list) and all(type(s) is int and s >= 0 for s in shape)):
        raise EncoderError(f"{bad} has shape {show(repr(shape)[:80])}, not a list of sizes; {FIX}")
    if not (isinstance(offsets, list) and len(offsets) == 2 and all(type(o) is int and o >= 0 for o in offsets)):
        raise EncoderError(f"{bad} has data_offsets {show(repr(offsets)[:80])}, not [begin, end]; {FIX}")
    begin, end = offsets
    nbytes = math.prod(shape) * SIZES[dtype]
    if end - begin != nbytes:
        held = f"offsets [{begin}, {end}] hold {end - begin} bytes"
        raise EncoderError(f"{bad}: {held}, shape {shape} {dtype} needs {nbytes}; {FIX}")
    return Entry(dtype, tuple(shape), start + begin, start + end)


def _check_with_safetensors(path: Path) -> None:
    """The reference reader's verdict on the header (imported here: it is only needed on load)."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="numpy"):
            pass
    except Exception as e:  # SafetensorError mostly; whatever it raises, the file is not one we read
        raise EncoderError(f"{show(path)}: not a valid safetensors file ({one_line(str(e))}); {FIX}") from None


def open_weights(folder: Path) -> dict[str, tuple[SafetensorsFile, str]]:
    """Every tensor of the checkpoint in `folder`: name -> (file holding it, its name there)."""
    single = folder / "model.safetensors"
    index = folder / "model.safetensors.index.json"
    if os.path.lexists(single):
        file = SafetensorsFile(single)
        return {name: (file, name) for name in file.entries}
    if os.path.lexists(index):
        return _open_shards(index)
    if os.path.lexists(folder / "pytorch_model.bin") or os.path.lexists(folder / "pytorch_model.bin.index.json"):
        raise EncoderError(
            f"{show(folder)}: only pytorch_model.bin, a pickle that can run code when loaded, so it is not read; "
            f'convert it to model.safetensors once with: python -c "from transformers import AutoModel; '
            f"AutoModel.from_pretrained('{show(folder)}').save_pretrained('{show(folder)}', safe_serialization=True)\""
        )
    raise EncoderError(f"{show(folder)}: no model.safetensors; give a folder with the model's weights in safetensors")


def _open_shards(index: Path) -> dict[str, tuple[SafetensorsFile, str]]:
    data = read_json_object(index, FIX, BIG_JSON_CAP)
    weight_map = data.get("weight_map")
    if not (isinstance(weight_map, dict) and all(isinstance(v, str) for v in weight_map.values())):
        raise EncoderError(f"{show(index)}: no weight_map of tensor name -> shard file; {FIX}")
    shards: dict[str, SafetensorsFile] = {}
    tensors: dict[str, tuple[SafetensorsFile, str]] = {}
    for name, shard in weight_map.items():
        if Path(shard).name != shard or shard.startswith(".") or not shard.endswith(".safetensors"):
            raise EncoderError(f"{show(index)}: shard {show(repr(shard))} is not a .safetensors file beside it; {FIX}")
        if shard not in shards:
            shards[shard] = SafetensorsFile(index.parent / shard)
        if name not in shards[shard].entries:
            raise EncoderError(f"{show(index)}: tensor {show(name)} is not in its shard {show(shard)}; {FIX}")
        tensors[name] = (shards[shard], name)
    return tensors
