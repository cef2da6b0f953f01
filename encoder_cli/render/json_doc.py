"""The JSON document of ../shared/spec/json-output.md, format 1."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from encoder_cli.trace import Step, Trace


def document(trace: Trace, steps: Sequence[Step]) -> dict[str, Any]:
    return {
        "format": 1,
        "sentence": trace.sentence,
        "tokens": trace.tokens,
        "unknown": [{"position": p, "token": trace.tokens[p], "embedding": "[UNK]"} for p in trace.unknown],
        "model": trace.model,
        "steps": [
            {
                "id": s.id,
                "title": s.title,
                "formula": s.formula,
                "shape": list(s.value.shape),
                "rows": list(s.rows),
                "cols": list(s.cols),
                "inputs": list(s.inputs),
                "values": s.value.tolist(),  # Python floats: repr is the shortest that round-trips
            }
            for s in steps
        ],
    }


def dumps(trace: Trace, steps: Sequence[Step]) -> str:
    # allow_nan=False: the trace holds only finite numbers, and this would say so loudly if not.
    return json.dumps(document(trace, steps), ensure_ascii=False, allow_nan=False) + "\n"
