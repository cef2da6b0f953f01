"""The Python API (encoder_cli.explain) and the one way every run is made, for it and for
the command line: read the weights, run the encoder, keep the trace.

    t = encoder_cli.explain("The cat sat", weights="w.yaml")
    t["weights"]            # a read-only float64 array
    t.to_json()             # the document `encoder explain -f json` writes
"""

from __future__ import annotations

import os
import select
import stat
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from encoder_cli import encoder, names, output
from encoder_cli.errors import EncoderError, utf8
from encoder_cli.settings import EXAMPLE_SENTENCE, MAX_FILE_BYTES
from encoder_cli.trace import Step, Trace

EXAMPLE = Path(__file__).parent / "examples" / "the-cat-sat.yaml"
EXAMPLE_NAME = "the-cat-sat.yaml (built-in example)"


def read_text(path: str | Path, what: str = "a YAML file") -> str:
    """A file's text, as UTF-8 with or without a BOM (see read_bytes)."""
    return decode(read_bytes(path, what), str(path))


def read_bytes(path: str | Path, what: str) -> bytes:
    """A file's bytes, read whole but never past MAX_FILE_BYTES + 1 (a FIFO or /dev/zero has no
    size to trust). Never writes. A FIFO is opened without blocking (an open blocks until a
    writer comes) and given output.FIFO_WAIT seconds to be written."""
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
    return data


def decode(data: bytes, source: str) -> str:
    if len(data) > MAX_FILE_BYTES:
        raise EncoderError(f"{source}: larger than {MAX_FILE_BYTES >> 20} MiB; too large for this calculator")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise EncoderError(f"{source}: not a text file in UTF-8 (byte {e.start} is not UTF-8)") from None


class Names(NamedTuple):
    """How messages name a run's inputs: the Python API's words by default, or the command line's flags."""

    weights: str = "weights"
    model: str = "a model"
    sentence_for_model: str = f'with the model, e.g. "{EXAMPLE_SENTENCE}"'  # where a model's sentence goes
    one_sentence: str = "one sentence"  # what to give instead of a pair without a model


WORDS = Names()


def check(
    sentence: str | None, weights: object, model: object, names: Names = WORDS, pair: object = None, every: bool = False
) -> None:
    """The inputs of a run fit together: weights or a model, not both; a model with a sentence; a
    sentence pair with a model (a weights file's vocabulary has no pair template)."""
    if weights is not None and model is not None:
        raise EncoderError(f"give either {names.weights} or {names.model}, not both")
    if every and model is None:
        raise EncoderError(
            f"predicting every position's word needs {names.model} with a masked-LM head; weights have none"
        )
    if sentence is None and model is not None:
        raise EncoderError(f"give the sentence to encode {names.sentence_for_model}")
    if pair is not None and model is None:
        instead = "" if weights is None else f" instead of {names.weights}"
        raise EncoderError(
            "a second sentence makes a sentence pair, which needs a checkpoint's tokenizer (its pair template); "
            f"give {names.model}{instead}, or {names.one_sentence}"
        )


def run(
    sentence: str | None,
    weights: str | Path | Mapping[str, Any] | None,
    text: str | None = None,
    model: str | Path | None = None,
    predict_all: bool = False,
    pair: str | None = None,
) -> Trace:
    """The trace of a run: weights from a file (or its text, already read), a mapping, or the
    built-in example, with the file's own `sentence:` (the example's) when none is given; or a
    checkpoint, with a sentence or a pair."""
    check(sentence, weights, model, pair=pair, every=predict_all)
    if model is not None:
        from encoder_cli import pretrained

        assert sentence is not None  # check() refuses a model without one
        return encoder.run(pretrained.load(str(model)), sentence, pair, predict_all)
    from encoder_cli import weights_file  # with yaml: only weights need them, a checkpoint's run does not

    if weights is None:
        spec, where = weights_file.parse(EXAMPLE.read_text(encoding="utf-8"), EXAMPLE_NAME)
    elif isinstance(weights, Mapping):
        spec, where = weights_file.check(weights), weights_file.Where("weights", {})
    else:
        spec, where = weights_file.parse(read_text(weights, "the weights") if text is None else text, str(weights))
    if sentence is None:
        if spec.sentence is None:
            raise EncoderError(
                f'{where.source}: give the sentence to encode, e.g. "{EXAMPLE_SENTENCE}", '
                "or write it in the file as sentence:"
            )
        sentence = utf8(spec.sentence, f"{where.source}: its sentence")
    with where.locating():
        return encoder.run(spec, sentence)


def explain(
    sentence: str | None = None,
    sentence_b: str | None = None,
    *,
    weights: str | Path | Mapping[str, Any] | None = None,
    model: str | Path | None = None,
    predict: str = "masks",
) -> Explanation:
    """Run the encoder on the sentence and keep every intermediate matrix.

    weights: a weights file (format 1) by path, or the same as a mapping (lists or numpy
    arrays); neither: the built-in example, "The cat sat" (d_model 4, one head).
    model: a pretrained checkpoint folder or Hugging Face model id, instead of weights.
    sentence_b: with a model, a second sentence: the pair, as the model's tokenizer encodes it
    ([CLS] A [SEP] B [SEP], B of token type 1, in BERT).
    predict: which positions a masked-LM checkpoint predicts: "masks" (its mask tokens') or "all".
    Raises EncoderError for bad input.
    """
    for given, what in ((sentence, "the sentence"), (sentence_b, "the second sentence")):
        if given is not None:
            if not isinstance(given, str):
                raise EncoderError(f"{what} must be a str, not {type(given).__name__}")
            utf8(given, what)
    if weights is not None and not isinstance(weights, Mapping):
        weights = _path(weights, "weights", "a path (str or pathlib.Path) or a mapping")
    if model is not None:
        model = _path(model, "model", "a folder's path or a model id (str or pathlib.Path)")
    if predict not in ("masks", "all"):
        raise EncoderError(
            f'predict is {predict!r}; give "masks" (the mask tokens\' words) or "all" (every position\'s)'
        )
    with np.errstate(all="ignore"):
        if model is None:
            ran = run(sentence, weights, pair=sentence_b, predict_all=predict == "all")
            return Explanation(ran, [weights] if isinstance(weights, str) else [])
        from encoder_cli.checkpoint import folder

        with folder.recording() as opened:
            return Explanation(
                run(sentence, weights, model=model, pair=sentence_b, predict_all=predict == "all"), opened
            )


def _path(value: object, what: str, expected: str) -> str:
    """A path as the caller gave it (str or os.PathLike), never an int: open(1) would take the
    caller's stdout and close it. A name no file system holds (a NUL; a lone surrogate other
    than an undecodable byte's, U+DC80 to U+DCFF) is refused here, not by open()'s ValueError."""
    try:
        path = os.fspath(value) if isinstance(value, str | os.PathLike) else None
    except TypeError:  # __fspath__ gave neither str nor bytes
        path = None
    if not isinstance(path, str):
        raise EncoderError(f"{what} must be {expected}, not {type(value).__name__}")
    try:
        name = os.fsencode(path)
    except UnicodeEncodeError as e:
        raise EncoderError(
            f"{what}: {path[:60]!r} holds U+{ord(path[e.start]):04X}, which no file name can hold; remove it"
        ) from None
    if b"\0" in name:
        raise EncoderError(f"{what}: {path[:60]!r} holds a NUL character, which no file name can hold; remove it")
    return path


class Explanation:
    """A run's steps in computation order, by id: `t["layers.0.attention.heads.0.weights"]`,
    or by a name the command line accepts (`t["X'"]`, `t["weights"]` where unique)."""

    def __init__(self, trace: Trace, inputs: Sequence[str | Path] = ()) -> None:
        self.trace = trace
        self.inputs = inputs  # the files the run read, which save() never replaces

    @property
    def sentence(self) -> str:
        return self.trace.sentence

    @property
    def sentence_b(self) -> str | None:
        """A sentence pair's second sentence; None for one sentence."""
        return self.trace.sentence_b

    @property
    def tokens(self) -> list[str]:
        return list(self.trace.tokens)

    @property
    def token_ids(self) -> list[int] | None:
        """With a checkpoint: each token's id in its vocabulary."""
        return self.trace.embedded.ids

    @property
    def token_type_ids(self) -> list[int] | None:
        """A sentence pair's token types, as the model was given them (BERT: 0 for A, 1 for B)."""
        return None if self.trace.sentence_b is None else self.trace.embedded.types

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

    @property
    def parameters(self) -> list[Step]:
        """The parameters the run used, each like a step (.id .values ...), read now: the embedding
        rows, W_Q, W_K, W_V and each head's columns, W_O, W_1, b_1, W_2, b_2, γ, β..."""
        return names.given(self.trace, list(self.trace.parameter_ids))

    def __getitem__(self, name: str) -> np.ndarray:
        """A step's or a parameter's values, by any name the command line takes; KeyError names the
        closest names, or the candidates of an ambiguous one."""
        if not isinstance(name, str):
            raise KeyError(f"{name!r}: name a step with a string, such as 'weights' or \"X'\"")
        try:
            return names.one(self.trace, name).value
        except EncoderError as e:
            raise KeyError(str(e)) from None

    def to_json(self) -> str:
        """Exactly the document `encoder explain --format json` writes."""
        from encoder_cli.render import json_doc

        return b"".join(json_doc.chunks(self.trace, self.trace.steps)).decode()

    def save(self, path: str | Path) -> None:
        """Exactly the file `encoder explain --format safetensors` writes: every step as a float64
        tensor named by its id; or, for a path ending in .xlsx, the workbook `--format xlsx` writes.
        Never replaces a file the run read."""
        from encoder_cli.render import views

        target = Path(_path(path, "path", "a file's path (str or pathlib.Path)"))
        binary = [name for name, view in views.VIEWS.items() if not view.terminal and view.suffix == target.suffix]
        with output.writing(target, self.inputs) as out:
            views.write(binary[0] if binary else "safetensors", views.Job(self.trace, self.trace.steps, 3), out)

    def _repr_html_(self) -> str:
        """What Jupyter shows: the HTML view as a fragment, its styles scoped to it, summarised."""
        from encoder_cli.render import html, views

        return html.fragment(views.layout(views.Job(self.trace, self.trace.steps, 3), html.width), 3)

    def __repr__(self) -> str:
        return f"<encoder_cli.Explanation of {self.sentence!r}: {len(self.tokens)} tokens, {len(self.ids)} steps>"
