"""The trace as a safetensors file (docs/json-output.md): one float64 tensor per step (and per
parameter asked for), named by its id, with the JSON's values bit for bit.

The format: an 8-byte little-endian header length, a JSON header (each tensor's dtype, shape and
byte range; `__metadata__`, string values only), then the tensors' bytes, one after another.
Written here by hand, a tensor at a time from the trace's own arrays, to any stream (a pipe, a
FIFO): safetensors.numpy.save builds the whole file as bytes first, and a 300-token MiniLM run
(a 254 MiB file) peaked at 807 MiB that way, 313 MiB this way (tests/robustness/test_bounds.py).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, BinaryIO

import numpy as np

from encoder_cli.trace import Step, Trace

ALIGN = 8  # the header is padded with spaces to a multiple of 8 bytes, as safetensors writes it


def metadata(trace: Trace) -> dict[str, str]:
    """The sentence (a pair's two), tokens, token ids (from a checkpoint; a pair's types) and model
    settings, each a JSON string."""
    meta: dict[str, Any] = {"sentence": trace.sentence, "tokens": trace.tokens}
    if trace.embedded.ids is not None:
        meta["token_ids"] = trace.embedded.ids
    if trace.sentence_b is not None:
        meta |= {"sentence_b": trace.sentence_b, "token_type_ids": trace.embedded.types}
    meta["model"] = trace.model._asdict()
    return {key: json.dumps(value, ensure_ascii=False) for key, value in meta.items()}


def header(trace: Trace, steps: Sequence[Step]) -> bytes:
    """The length-prefixed JSON header of the file these steps make, padded to ALIGN."""
    entries: dict[str, Any] = {"__metadata__": metadata(trace)}
    start = 0
    for step in steps:
        end = start + step.value.size * 8
        entries[step.id] = {"dtype": "F64", "shape": list(step.value.shape), "data_offsets": [start, end]}
        start = end
    text = json.dumps(entries, ensure_ascii=False, separators=(",", ":")).encode()
    text += b" " * (-len(text) % ALIGN)
    return len(text).to_bytes(8, "little") + text


def write(trace: Trace, steps: Sequence[Step], out: BinaryIO) -> None:
    out.write(header(trace, steps))
    for step in steps:
        out.write(np.ascontiguousarray(step.value, dtype="<f8").data)
