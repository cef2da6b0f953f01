"""The JSON document of ../shared/spec/json-output.md, format 1."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any

from encoder_cli.trace import Step, Trace


def document(trace: Trace, steps: Sequence[Step]) -> dict[str, Any]:
    return {
        "format": 1,
        "sentence": trace.sentence,
        "tokens": trace.tokens,
        "unknown": [{"position": p, "token": trace.tokens[p], "embedding": "[UNK]"} for p in trace.unknown],
        "model": trace.model,
        "steps": [_step(s) for s in steps],
    }


def _step(s: Step) -> dict[str, Any]:
    return {
        "id": s.id,
        "title": s.title,
        "formula": s.formula,
        "shape": list(s.value.shape),
        "rows": list(s.rows),
        "cols": list(s.cols),
        "inputs": list(s.inputs),
        "values": s.value.tolist(),  # Python floats: repr is the shortest that round-trips
    }


def chunks(trace: Trace, steps: Sequence[Step]) -> Iterator[str]:
    """The document as text, one step at a time, so that memory holds one step's text, not all
    of them (a 512-token trace is 150 MB of JSON). Joined, the chunks are json.dumps(document)."""
    # allow_nan=False: the trace holds only finite numbers, and this would say so loudly if not.
    dumps = json.JSONEncoder(ensure_ascii=False, allow_nan=False).encode
    head = dumps(document(trace, []))
    yield head[: -len("[]}")] + "["
    for i, step in enumerate(steps):
        yield (", " if i else "") + dumps(_step(step))
    yield "]}\n"
