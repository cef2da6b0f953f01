"""The Python API (encoder_cli.explain) and the one way every run is made, for it and for
the command line: read the weights, run the encoder, keep the trace.

    t = encoder_cli.explain("The cat sat", weights="w.yaml")
    t["weights"]            # a read-only float64 array
    t.to_json()             # the document `encoder explain -f json` writes
"""

from __future__ import annotations

import difflib
import os
import select
import stat
from collections.abc import Mapping
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from encoder_cli import address, encoder, output, weights_file
from encoder_cli.errors import EncoderError
from encoder_cli.trace import Step, Trace

EXAMPLE = Path(__file__).parent / "examples" / "the-cat-sat.yaml"
EXAMPLE_NAME = "the-cat-sat.yaml (built-in example)"
EXAMPLE_SENTENCE = "The cat sat"
MAX_FILE_BYTES = 256 * 1024 * 1024


def read_text(path: str | Path, what: str = "a YAML file") -> str:
    """A file's text, read whole but never past MAX_FILE_BYTES (a FIFO or /dev/zero has no
    size to trust), as UTF-8 with or without a BOM. Never writes. A FIFO is opened without
    blocking (an open blocks until a writer comes) and given output.FIFO_WAIT seconds to be written."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with open(fd, "rb") as stream:
            if stat.S_ISFIFO(os.fstat(fd).st_mode) and not select.select([fd], [], [], output.FIFO_WAIT)[0]:
                nothing = f"a FIFO that nothing wrote to in {output.FIFO_WAIT:g} s"
                raise EncoderError(f"{path}: {nothing}; start what writes it first, or give a file")
            os.set_blocking(fd, True)  # a FIFO with a writer, a terminal: read as they come
            data = stream.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise EncoderError(f"{path}: no such file; check the path given for {what}") from None
    except IsADirectoryError:
        raise EncoderError(f"{path}: is a directory; give {what}") from None
    except OSError as e:  # a folder on the way that cannot be searched, a name too long
        raise EncoderError(f"{path}: cannot be read ({e.strerror}); give {what} as a file you can read") from None
    except ValueError:  # a NUL in the name
        raise EncoderError(f"{path!r}: not a possible file name; check the path given for {what}") from None
    return decode(data, str(path))


def decode(data: bytes, source: str) -> str:
    if len(data) > MAX_FILE_BYTES:
        raise EncoderError(f"{source}: larger than {MAX_FILE_BYTES >> 20} MiB; too large for this calculator")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise EncoderError(f"{source}: not a text file in UTF-8 (byte {e.start} is not UTF-8)") from None


def run(
    sentence: str | None,
    weights: str | Path | Mapping[str, Any] | None,
    text: str | None = None,
    model: str | Path | None = None,
) -> Trace:
    """The trace of a run: weights from a file (or its text, already read), a mapping, or the
    built-in example, the example's sentence when none is given with it; or a checkpoint."""
    if model is not None:
        from encoder_cli import pretrained

        if weights is not None:
            raise EncoderError("give either weights or a model, not both")
        if sentence is None:
            raise EncoderError('give the sentence to encode with the model, e.g. "The cat sat"')
        return encoder.run(pretrained.load(str(model)), sentence)
    if sentence is None and weights is not None:
        raise EncoderError('give the sentence to encode with these weights, e.g. "The cat sat"')
    if weights is None:
        spec, where = weights_file.parse(EXAMPLE.read_text(encoding="utf-8"), EXAMPLE_NAME)
    elif isinstance(weights, Mapping):
        spec, where = weights_file.check(weights), weights_file.Where("weights", {})
    else:
        spec, where = weights_file.parse(read_text(weights, "the weights") if text is None else text, str(weights))
    with where.locating():
        return encoder.run(spec, EXAMPLE_SENTENCE if sentence is None else sentence)


def explain(
    sentence: str | None = None,
    *,
    weights: str | Path | Mapping[str, Any] | None = None,
    model: str | Path | None = None,
) -> Explanation:
    """Run the encoder on the sentence and keep every intermediate matrix.

    weights: a weights file (format 1) by path, or the same as a mapping (lists or numpy
    arrays); neither: the built-in example, "The cat sat" (d_model 4, one head).
    model: a pretrained checkpoint folder or Hugging Face model id, instead of weights.
    Raises EncoderError for bad input.
    """
    with np.errstate(all="ignore"):
        return Explanation(run(sentence, weights, model=model))


class Explanation:
    """A run's steps in computation order, by id: `t["layers.0.attention.heads.0.weights"]`,
    or by a name the command line accepts (`t["X'"]`, `t["weights"]` where unique)."""

    def __init__(self, trace: Trace) -> None:
        self.trace = trace

    @property
    def sentence(self) -> str:
        return self.trace.sentence

    @property
    def tokens(self) -> list[str]:
        return list(self.trace.tokens)

    @property
    def token_ids(self) -> list[int] | None:
        """With a checkpoint: each token's id in its vocabulary."""
        return self.trace.embedded.ids

    @property
    def warnings(self) -> list[str]:
        """What to know of this run (a checkpoint's sentence-transformers length, say)."""
        return list(self.trace.embedded.warnings)

    @property
    def ids(self) -> list[str]:
        return [s.id for s in self.trace.steps]

    @property
    def steps(self) -> list[Step]:
        return list(self.trace.steps)

    def __getitem__(self, name: str) -> np.ndarray:
        try:
            return address.find(self.trace, name).value
        except EncoderError as e:
            close = difflib.get_close_matches(name, [*address.ALIASES, *self._names], n=3, cutoff=0.5)
            if name in self._names or not close:  # the end of several ids (the error lists them), or nothing near
                raise KeyError(str(e)) from None
            raise KeyError(f"{name!r} is not a step; the closest step names: {', '.join(close)}") from None

    @cached_property
    def _names(self) -> list[str]:
        return sorted({s.id.rsplit(".", 1)[-1] for s in self.trace.steps} | set(self.ids))

    def to_json(self) -> str:
        """Exactly the document `encoder explain --format json` writes."""
        from encoder_cli.render import json_doc

        return "".join(json_doc.chunks(self.trace, self.trace.steps))

    def _repr_html_(self) -> str:
        """What Jupyter shows: the HTML view as a fragment, its styles scoped to it, summarised."""
        from encoder_cli.render import html, page

        return html.fragment(page.layout(self.trace, self.trace.steps, 3, full=False, show_work=False), 3)

    def __repr__(self) -> str:
        return f"<encoder_cli.Explanation of {self.sentence!r}: {len(self.tokens)} tokens, {len(self.ids)} steps>"
