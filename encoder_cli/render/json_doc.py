"""The JSON documents: the trace (docs/contracts/json-output.md, format 1) and worked cells."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import orjson

from encoder_cli.render import work
from encoder_cli.trace import Step, Trace


def _bytes(value: Any) -> bytes:
    """Compact JSON, numbers in their shortest round-trip form, as UTF-8. orjson writes a float64
    array straight from memory: 18 times faster than the standard library's float repr (a MiniLM
    run's 900,000 numbers: 0.03 s against 0.58 s). The trace holds only finite numbers."""
    return orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY)


def _encode(value: Any) -> str:
    return _bytes(value).decode()


def head(trace: Trace) -> dict[str, Any]:
    """What every document starts with: the format, the sentence, its tokens and the model
    (and, from a checkpoint, the tokens' ids and where the weights came from)."""
    out: dict[str, Any] = {"format": 1, "sentence": trace.sentence}
    out |= {"sentence_b": trace.sentence_b} if trace.sentence_b is not None else {}
    out["tokens"] = trace.tokens
    if trace.embedded.ids is not None:
        out["token_ids"] = trace.embedded.ids
    if trace.sentence_b is not None:  # a pair's: the types the model was given
        out["token_type_ids"] = trace.embedded.types
    if trace.source is not None:
        out["source"] = trace.source._asdict()
    out["unknown"] = [{"position": p, "token": trace.tokens[p], "embedding": "[UNK]"} for p in trace.unknown]
    out["model"] = trace.model._asdict()
    return out


def document(trace: Trace, steps: Sequence[Step], work_precision: int | None = None) -> dict[str, Any]:
    given = [_step(trace, s, work_precision) for s in steps if s.id not in trace.by_id]
    out = head(trace) | {"steps": [_step(trace, s, work_precision) for s in steps if s.id in trace.by_id]}
    return out | ({"parameters": given} if given else {})


def _step(trace: Trace, s: Step, work_precision: int | None) -> dict[str, Any]:
    out = {
        "id": s.id,
        "title": s.title,
        "formula": s.formula,
        "shape": list(s.value.shape),
        "rows": list(s.rows),
        "cols": list(s.cols),
        "inputs": list(s.inputs),
        "values": np.ascontiguousarray(s.value),
    }
    if work_precision is not None:  # --show-work: the first cell, worked out
        out["work"] = work.cell(trace, s, 0, 0, work_precision).json()
    return out


ROWS_OF = 1 << 20  # numbers a chunk of a step's values holds: 20 MB of text, not 1.3 GB for 8192 x 8192
# What a number costs in the document: 20.3 bytes measured over MiniLM runs of 100 and 200 tokens
# (a float64's shortest repr, "-0.018403351679444313", and its comma), 21.1 for 9 tokens.
BYTES_PER_NUMBER = 21
LARGE = 100_000_000  # bytes: a document past this is announced on stderr before it is written


def size(steps: Sequence[Step]) -> int:
    """About how many bytes the document of these steps takes: its numbers' (the rest is small)."""
    return BYTES_PER_NUMBER * sum(s.value.size for s in steps)


def chunks(trace: Trace, steps: Sequence[Step], work_precision: int | None = None) -> Iterator[bytes]:
    """The document as UTF-8, a step's rows at a time, so that memory holds one chunk's text, not
    all of it (a 512-token MiniLM trace is 1.6 GB of JSON); bytes, as orjson makes them, never
    decoded and encoded again on the way out. Joined, the chunks are dumps(document(...)).
    The parameters asked for (-s W_Q) are a list of their own after the steps, present only then."""
    yield _bytes(head(trace) | {"steps": []})[: -len("[]}")] + b"["
    yield from _listed(trace, [s for s in steps if s.id in trace.by_id], work_precision)
    given = [s for s in steps if s.id not in trace.by_id]
    if given:
        yield b'],"parameters":['
        yield from _listed(trace, given, work_precision)
    yield b"]}\n"


def _listed(trace: Trace, steps: Sequence[Step], work_precision: int | None) -> Iterator[bytes]:
    for i, step in enumerate(steps):
        fields = _step(trace, step, work_precision)
        values, worked = fields.pop("values"), fields.pop("work", None)
        yield (b"," if i else b"") + _bytes(fields)[:-1] + b',"values":['
        rows = max(1, ROWS_OF // max(1, values.shape[1]))
        for start in range(0, len(values), rows):
            yield (b"," if start else b"") + memoryview(_bytes(values[start : start + rows]))[1:-1]
        yield b"]" + (b"" if worked is None else b',"work":' + _bytes(worked)) + b"}"


def dumps(document: dict[str, Any]) -> str:
    return _encode(document) + "\n"
