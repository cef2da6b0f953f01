"""The weights file, format 1: YAML text (or, from the Python API, a mapping) -> a checked Spec.

Every check happens here, before any computation. Each problem is one EncoderError
naming the file, the YAML line where known and the place in the file, e.g.
`w.yaml:14: layers[0].attention.W_Q: expected 4 x 4 (d_model x d_model), got 4 x 3`.
Problems found later (a token with no embedding) name their place in the weights, and
`Where.locating` adds the file and line.

The YAML is composed into nodes (libyaml's C parser when present) and read by
`_Reader` rather than by PyYAML's constructor, so that:
- no tag can build a Python object, and only the YAML core tags are accepted;
- mapping keys are taken as written (`on:` and `no:` are words, not booleans);
- duplicate keys are errors instead of silently replacing each other;
- an alias is read once and shared, so an alias bomb costs what its text costs,
  and its expanded size is rejected by the shape checks before any array exists;
- `1e-5` (a string to YAML 1.1) is the number it looks like, and `no`, `yes`,
  `~` where a number belongs are errors that say what YAML made of them.
"""

from __future__ import annotations

import difflib
import math
import re
import unicodedata
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any, NoReturn, TypeVar

import numpy as np
import yaml

from encoder_cli.errors import EncoderError, Place, place_text
from encoder_cli.settings import (
    DEFAULTS,
    FILE_NUMBER_COST,
    MAX_D_FF,
    MAX_D_MODEL,
    MAX_LAYERS,
    MAX_NUMBERS,
    MAX_TOKENS,
    MAX_VOCAB,
    SETTINGS,
    Activation,
    Choice,
    Norm,
    Positional,
    Settings,
    head_counts,
    heads_fit,
)
from encoder_cli.spec import Embeddings, Layer, NormWeights, Spec
from encoder_cli.yaml_safe import Loader, yaml_error

Array = np.ndarray
C = TypeVar("C", bound=Choice)
MAX_NESTING = 32


@dataclass(frozen=True)
class Where:
    """Where a file's keys were written, to name the file and line of a problem found later."""

    source: str  # the file's name as the user gave it
    lines: Mapping[Place, int]

    def locate(self, error: EncoderError) -> EncoderError:
        """`w.yaml:12: embeddings.cat: …` for an error with a place in this file."""
        if error.place is None:
            return error
        return EncoderError(f"{_where(self.source, self.lines, error.place)}{error.message}", source=self.source)

    @contextmanager
    def locating(self) -> Iterator[None]:
        try:
            yield
        except EncoderError as e:
            raise self.locate(e) from None


def parse(text: str, source: str) -> tuple[Spec, Where]:
    """Read and check a whole weights file. Raises EncoderError on the first problem."""
    reader = _Reader(text, source)
    try:
        data = reader.document()
    except yaml.YAMLError as e:
        raise yaml_error(source, e, text) from None
    finally:
        reader.loader.dispose()
    if data is None:
        raise EncoderError(f"{source}: the file is empty; a weights file needs embeddings and layers")
    where = Where(source, reader.lines)
    with where.locating():
        return _Checker().spec(data), where


# Top-level keys whose lists are never weights: their values are checked as settings.
_NOT_WEIGHTS = ("format", "sentence", "model")


def check(data: Mapping[str, Any]) -> Spec:
    """A weights file given as a mapping (the Python API): lists or numpy arrays for its numbers."""
    return _Checker().spec(_plain(data, ()))


def _plain(value: Any, path: Place) -> Any:
    """A value from Python -> what the YAML reader makes of the same file: dicts with str keys,
    lists, Python numbers, bools, None and str; where weights are, a list of numbers (or a numpy
    array) as a float64 row and a matrix as a list of rows. Anything else (complex numbers,
    NaN, bytes, sets, generators, nesting past MAX_NESTING) is an EncoderError at its place."""
    if len(path) > MAX_NESTING:
        raise EncoderError("nested too deeply for a weights file", place=path)
    if isinstance(value, np.ndarray):
        return _array(value, path)
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            name = _key(key, path)
            out[name] = _plain(item, (*path, name))
        return out
    if isinstance(value, list | tuple):
        if _rows_at(path) and all(type(item) in (float, int) for item in value):  # the common case, fast
            with suppress(OverflowError):  # an int past float64, said below
                row = np.array(value, dtype=np.float64)
                if np.isfinite(row).all():
                    return row
        items = [_number(_plain(item, (*path, i)), (*path, i)) for i, item in enumerate(value)]
        return _row(items) if _rows_at(path) else items
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)  # of any size, as YAML reads 1e400's digits
    if isinstance(value, float | np.floating):
        return _number(float(value), path, value)
    if value is None or isinstance(value, str):
        return value if value is None else str(value)
    if isinstance(value, complex | np.complexfloating):
        raise EncoderError(f"expected a real number, got the complex number {_brief(value)}", place=path)
    raise EncoderError(f"expected a number, a word, a list or a mapping, not {type(value).__name__}", place=path)


def _rows_at(path: Place) -> bool:
    """Lists at this place are weights (float64 rows), not a setting's list."""
    return not path or path[0] not in _NOT_WEIGHTS


def _key(key: Any, path: Place) -> str:
    """A mapping's key, a word as in a file: yaml.safe_load reads the keys on, no, ~ and 1 as
    True, False, None and 1, where the weights reader keeps them as written."""
    if isinstance(key, str):
        return str(key)
    if key is None or isinstance(key, bool | np.bool_):
        kind, words, word = {
            None: ("null", "~ or null", "~"),
            True: ("boolean", "on, yes or true", "on"),
            False: ("boolean", "off, no or false", "off"),
        }[None if key is None else bool(key)]
        what, fix = f"a YAML 1.1 {kind} ({words})", f'quote it in the YAML ("{word}") or give it as a str'
    elif isinstance(key, int | float | np.number):
        what, fix = "a number", f'quote it in the YAML ("{key}") or give it as a str'
    else:
        what, fix = f"a {type(key).__name__}", "give it as a str"
    raise EncoderError(f"the key {_brief(key)} is {what}, not a word; {fix}", place=path)


def _number(item: Any, path: Place, given: Any = None) -> Any:
    """A list's item (or a float anywhere): a finite float, or a list, mapping or row as it is."""
    if isinstance(item, list | dict | np.ndarray):
        return item
    if isinstance(item, bool) or not isinstance(item, int | float):
        raise EncoderError(f"expected a number, got {_brief(item)}", place=path)
    number = _float(item)
    if not math.isfinite(number):
        given = item if given is None else given  # a float128 is finite and yet too large
        why = f", {_TOO_LARGE}" if isinstance(given, int) or np.isfinite(given) else ""  # not nan, inf
        raise EncoderError(f"expected a finite number, got {_brief(given)}{why}", place=path)
    return number


def _array(value: np.ndarray, path: Place) -> Any:
    """A numpy array of real numbers (np.matrix included): read as float64, a row where weights
    are; an object array item by item; complex, bool, str, date or structured arrays refused."""
    value = np.asarray(value)  # np.matrix -> ndarray, whose rows are rows and not matrices again
    if value.dtype.kind == "O":
        items = value.tolist()  # nested lists, deeper each level; a 0-d array's one object
        if isinstance(items, np.ndarray):  # and so not deeper: an array inside a 0-d array
            raise EncoderError("expected numbers, got an array inside a 0-d array", place=path)
        return _plain(items, path)
    if value.dtype.kind not in "iuf":
        raise EncoderError(f"expected an array of real numbers, got one of dtype {value.dtype}", place=path)
    if value.ndim == 0 or not _rows_at(path):
        return _plain(value.tolist(), path)
    if value.ndim > 1:
        return [_plain(row, (*path, i)) for i, row in enumerate(value)]
    with np.errstate(over="ignore"):  # float128 past float64's range: infinite, refused just below
        row = value.astype(np.float64)
    bad = np.flatnonzero(~np.isfinite(row))
    if len(bad):
        _number(float(row[bad[0]]), (*path, int(bad[0])), value[bad[0]].item())
    return row


def _row(items: list[Any]) -> Any:
    """A list of numbers as a float64 row (8 bytes a number, not a Python float's 32); any other list as it is."""
    return np.array(items, dtype=np.float64) if all(type(v) is float for v in items) else items


# ---------------------------------------------------------------------------
# YAML events -> plain Python values, with the line of every key and container.
# Reading libyaml's event stream keeps no node per number: a 20 MB file of
# matrices stays in tens of MB, and a plain decimal in a list is float(text).

_CORE = "tag:yaml.org,2002:"
# A decimal as people write it (0.5, -3, .25, 1e-5, 2.5E+3): a number whatever YAML 1.1 says
# (it reads 1e-5 as a string). Integers with a leading zero are left to YAML (017 is octal).
# Digits are ASCII: YAML reads Arabic-Indic or other digits as words, and so does this.
_DECIMAL = re.compile(r"[-+]?(\d+\.\d*|\.\d+|\d+(?=[eE])|0|[1-9]\d*)([eE][-+]?\d+)?", re.ASCII)
_TOO_LARGE = "too large for a float64 (at most about 1.8e308)"
_constructor = yaml.constructor.SafeConstructor()


class _Reader:
    def __init__(self, text: str, source: str) -> None:
        self.loader = Loader(text)
        # Events until StreamEnd; never None while a document is open (the stubs say Event | None).
        self.next: Callable[[], yaml.Event] = self.loader.get_event  # type: ignore[assignment]
        self.source = source
        self.lines: dict[Place, int] = {}
        self._anchors: dict[str, Any] = {}  # an alias is the value read once, shared: no expansion
        self._open: set[str] = set()  # anchors being read: an alias to one of them is a loop

    def fail(self, event: yaml.Event, path: Place, message: str) -> NoReturn:
        raise EncoderError(f"{self.source}:{_line(event)}: {_place(path)}{message}")

    def document(self) -> Any:
        """The one document of the stream, or None for an empty stream."""
        self.next()  # StreamStart
        if self.loader.check_event(yaml.StreamEndEvent):
            return None
        self.next()  # DocumentStart
        value = self.read(self.next(), ())
        self.next()  # DocumentEnd
        extra = self.next()
        if not isinstance(extra, yaml.StreamEndEvent):
            self.fail(extra, (), "expected one YAML document, found a second (after ---); keep one")
        return value

    def read(self, event: yaml.Event, path: Place) -> Any:
        """The value that starts with this event (the rest of it is read from the loader)."""
        if isinstance(event, yaml.AliasEvent):
            if event.anchor in self._open:
                self.fail(event, path, "an alias refers to a value that contains it; remove the loop")
            if event.anchor not in self._anchors:
                self.fail(event, path, f"the alias *{event.anchor} has no anchor &{event.anchor} before it")
            return self._anchors[event.anchor]
        if len(path) > MAX_NESTING:
            self.fail(event, path, "nested too deeply for a weights file")
        self._check_tag(event, path)
        anchor = getattr(event, "anchor", None)
        if anchor:
            self._open.add(anchor)
        if isinstance(event, yaml.ScalarEvent):
            value: Any = self.scalar(event, path)
        else:
            self.lines.setdefault(path, _line(event))
            value = self._mapping(path) if isinstance(event, yaml.MappingStartEvent) else self._sequence(path)
        if anchor:
            self._open.discard(anchor)
            self._anchors[anchor] = value
        return value

    def _sequence(self, path: Place) -> Any:
        # In format 1 every scalar inside a list is a number; a list of them is kept as a row.
        items: list[Any] = []
        next_event, number = self.next, self.number  # the hot loop of a large file
        while not isinstance(event := next_event(), yaml.SequenceEndEvent):
            if isinstance(event, yaml.ScalarEvent):
                items.append(number(event, path, len(items)))  # path + index only if it fails
            else:
                items.append(self.read(event, (*path, len(items))))
        return items if path and path[0] in _NOT_WEIGHTS else _row(items)

    def _mapping(self, path: Place) -> dict[str, Any]:
        out: dict[str, Any] = {}
        while not isinstance(key := self.next(), yaml.MappingEndEvent):
            if not isinstance(key, yaml.ScalarEvent):
                bracketed = isinstance(key, yaml.SequenceStartEvent) and key.flow_style
                hint = '; a token in brackets must be quoted, as in "[UNK]":' if bracketed else ""
                self.fail(key, path, f"a key must be a word, not a list or mapping{hint}")
            name = key.value  # as written: `on`, `no` and `1` are words here
            if name == "<<" and not key.style:
                self.fail(key, path, "merge keys (<<) are not supported; write the keys out")
            if name in out:
                self.fail(key, (*path, name), "this key is given twice; keep one")
            self.lines[(*path, name)] = _line(key)
            out[name] = self.read(self.next(), (*path, name))
        return out

    def _check_tag(self, event: yaml.Event, path: Place) -> None:
        tag = getattr(event, "tag", None)
        if tag in (None, "!"):
            return
        if not tag.startswith(_CORE) or tag[len(_CORE) :].startswith("python"):
            self.fail(
                event,
                path,
                f"the YAML tag {_brief(tag)} is not allowed in a weights file "
                "(only plain numbers, words, lists and mappings); remove it",
            )

    def _resolved(self, event: yaml.ScalarEvent) -> tuple[str, yaml.ScalarNode]:
        """What YAML 1.1 makes of a scalar: its kind (int, float, bool, null, str...) and a node."""
        tag = event.tag
        if tag in (None, "!"):
            tag = self.loader.resolve(yaml.ScalarNode, event.value, event.implicit)  # type: ignore[no-untyped-call]
        return tag[len(_CORE) :], yaml.ScalarNode(tag, event.value, style=event.style)

    def scalar(self, event: yaml.ScalarEvent, path: Place) -> Any:
        """A setting's value: number, bool, null or word, as YAML 1.1 reads it, and 1e-5 as a number."""
        kind, node = self._resolved(event)
        if kind == "int":
            return self.integer(event, path, node)
        if kind == "bool":
            return _constructor.construct_yaml_bool(node)
        if kind == "null":
            return None
        if kind == "float" or (not event.style and _DECIMAL.fullmatch(event.value)):
            return self.number(event, path)
        return event.value

    def integer(self, event: yaml.ScalarEvent, path: Place, node: yaml.ScalarNode) -> int:
        """An integer as YAML 1.1 writes them (0x1F, 017, 1_000, 1:30). Python reads at most
        4,300 decimal digits, far past any float64."""
        try:
            return _constructor.construct_yaml_int(node)
        except ValueError:
            self.fail(event, path, f"expected a number, got {_brief(event.value)}, {_TOO_LARGE}")

    def number(self, event: yaml.ScalarEvent, path: Place, index: int | None = None) -> float:
        """A scalar where a number belongs (at path, or path[index]); anything else is an error
        that says what YAML read."""
        text = event.value
        if event.tag is None and not event.style and _DECIMAL.fullmatch(text):
            value = float(text)  # the common case, without YAML's resolver
        else:
            if index is not None:
                path, index = (*path, index), None
            self._check_tag(event, path)
            kind, node = self._resolved(event)
            if kind == "int":
                value = _float(self.integer(event, path, node))
            elif kind == "float":
                value = float(_constructor.construct_yaml_float(node))
            elif kind == "bool":
                self.fail(event, path, f"expected a number, got {_brief(text)}, which YAML reads as a boolean")
            elif kind == "null":
                self.fail(event, path, f"expected a number, got {_brief(text or 'nothing')} (YAML's null)")
            else:
                self.fail(event, path, f"expected a number, got {_brief(text)}")
        if not math.isfinite(value):
            why = "" if re.search("inf|nan", text, re.I) else f", {_TOO_LARGE}"  # not .inf, .nan
            where = path if index is None else (*path, index)
            self.fail(event, where, f"expected a finite number, got {_brief(text)}{why}")
        return value


def _line(event: yaml.Event) -> int:
    return event.start_mark.line + 1 if event.start_mark else 0


def _where(source: str, lines: Mapping[Place, int], path: Place) -> str:
    """`source:line: place` with the line of the nearest enclosing thing that has one."""
    for end in range(len(path), -1, -1):
        if path[:end] in lines:
            return f"{source}:{lines[path[:end]]}: {_place(path)}"
    return f"{source}: {_place(path)}"


def _place(path: Place) -> str:
    """A place as messages write it, with a key too long to read cut short."""
    return place_text(tuple(_short(p) if isinstance(p, str) else p for p in path))


def _short(text: str, room: int = 40) -> str:
    """The text, or its first room - 1 characters and "…"."""
    return text if len(text) <= room else f"{text[: room - 1]}…"


def _brief(value: Any) -> str:
    """A value as a message quotes it, cut short: '0.5', 'abcdefg…' (5000 characters), about 1e400."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**40:
        return f"about 1e{int(math.log10(abs(value)))}"  # not its digits: Python writes at most 4,300
    if isinstance(value, np.ndarray):  # a list of numbers, as the file wrote it
        return _brief(value.tolist()) if len(value) <= 100 else f"a list of {len(value)} numbers"
    text = repr(value)
    return text if len(text) <= 80 else f"{_short(text[:-1], 80)}{text[-1]} ({len(str(value))} characters)"


def _float(value: float) -> float:
    """A number as a float64; an integer too large to be one is infinite (and so an error)."""
    try:
        return float(value)
    except OverflowError:
        return math.inf


def _suggest(word: str, choices: list[str] | tuple[str, ...]) -> str:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.5)
    return f"; did you mean {close[0]!r}?" if close else f"; expected one of: {', '.join(choices)}"


def _shape(value: Any) -> str:
    if isinstance(value, np.ndarray):
        return f"a list of {len(value)}"
    if isinstance(value, list):
        inner = {len(row) if isinstance(row, list | np.ndarray) else None for row in value}
        if value and inner and None not in inner and len(inner) == 1:
            return f"{len(value)} x {inner.pop()}"
        return f"a list of {len(value)}"
    return {dict: "a mapping", str: "a word", bool: "a boolean", type(None): "nothing"}.get(type(value), "a number")


# ---------------------------------------------------------------------------
# Plain Python values -> a checked Spec.


class _Checker:
    def __init__(self) -> None:
        self.numbers = 0

    def fail(self, path: Place, message: str) -> NoReturn:
        raise EncoderError(message, place=path)

    def mapping(
        self, value: Any, path: Place, allowed: tuple[str, ...], required: tuple[str, ...] = ()
    ) -> dict[str, Any]:
        if not isinstance(value, dict):
            what = "the file" if not path else "this"
            self.fail(path, f"{what} must be a mapping of keys to values, got {_shape(value)}")
        for key in value:
            if key not in allowed:
                self.fail((*path, key), f"unknown key{_suggest(key, allowed)}")
        for key in required:
            if key not in value:
                self.fail(path, f"missing the key {key!r}")
        return value

    def choice(self, settings: dict[str, Any], key: str, kind: type[C]) -> C:
        value = settings.get(key, getattr(DEFAULTS.model, key))
        choices = tuple(c.value for c in kind)
        if value not in choices:
            close = _suggest(value[:40] if isinstance(value, str) else "", choices)  # a word may be misspelt
            self.fail(("model", key), f"{_brief(value)} is not a choice{close}")
        return kind(value)

    def count(self, value: Any, path: Place, low: int, high: int) -> int:
        if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
            self.fail(path, f"expected a whole number, got {_brief(value)}")
        if not low <= value <= high:
            self.fail(path, f"expected a whole number from {low} to {high}, got {_brief(int(value))}")
        return int(value)

    def real(self, settings: dict[str, Any], key: str, low: float, *, strict: bool) -> float:
        value, path = settings.get(key, getattr(DEFAULTS.model, key)), ("model", key)
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.fail(path, f"expected a number, got {_brief(value)}")
        if not math.isfinite(_float(value)):
            self.fail(path, f"expected a finite number, got {_brief(value)}, {_TOO_LARGE}")
        if value < low or (strict and value == low):
            bound = "greater than" if strict else "at least"
            self.fail(path, f"expected a number {bound} {low:g}, got {_brief(value)}")
        return float(value)

    def spend(self, count: int, path: Place) -> None:
        """Count the numbers a file holds; aliases can make a short file absurdly large."""
        self.numbers += count
        if self.numbers > MAX_NUMBERS:
            self.fail(
                path,
                f"the file holds more than {MAX_NUMBERS:,} numbers; too large for this calculator",
            )

    def matrix(self, value: Any, path: Place, rows: int | None, cols: int | None, names: str) -> Array:
        """A list of rows of numbers, `rows x cols` (None: any). `names` says what they are."""
        if not isinstance(value, list) or not value:
            self.fail(path, f"expected a {names} matrix (a list of rows), got {_shape(value)}")
        for i, row in enumerate(value):
            if not isinstance(row, list | np.ndarray):
                self.fail((*path, i), f"expected a row of numbers, got {_shape(row)}")
        first = len(value[0])
        for i, row in enumerate(value):
            if len(row) != first:
                self.fail((*path, i), f"ragged matrix: row 0 has {first} numbers, row {i} has {len(row)}")
        got_rows, got_cols = len(value), first
        if (rows is not None and got_rows != rows) or (cols is not None and got_cols != cols):
            want = f"{rows if rows is not None else 'any'} x {cols if cols is not None else 'any'}"
            self.fail(path, f"expected {want} ({names}), got {got_rows} x {got_cols}")
        self.spend(got_rows * got_cols, path)
        for i, row in enumerate(value):
            if not isinstance(row, np.ndarray):  # a list that is not all numbers
                self.fail((*path, i), "expected a row of numbers, got a row holding a list or mapping")
        return np.stack(value)

    def vector(self, value: Any, path: Place, length: int, names: str) -> Array:
        if not isinstance(value, list | np.ndarray):
            self.fail(path, f"expected a list of {length} numbers ({names}), got {_shape(value)}")
        if len(value) != length:
            self.fail(path, f"expected {length} numbers ({names}), got {len(value)}")
        self.spend(length, path)
        if not isinstance(value, np.ndarray):  # a list that is not all numbers
            self.fail(
                path,
                f"expected a list of {length} numbers ({names}), got one holding a list or mapping",
            )
        return np.array(value)  # a copy: an alias's row may be read twice

    def optional_vector(self, data: dict[str, Any], key: str, path: Place, length: int, names: str) -> Array | None:
        return None if key not in data else self.vector(data[key], (*path, key), length, names)

    def norm(self, value: Any, path: Place, d: int) -> NormWeights:
        """{gamma, beta}, each optional: gamma 1, beta 0 when absent (so is an absent norm)."""
        data = self.mapping({} if value is None else value, path, ("gamma", "beta"))
        gamma = self.optional_vector(data, "gamma", path, d, "d_model")
        beta = self.optional_vector(data, "beta", path, d, "d_model")
        return NormWeights(np.ones(d) if gamma is None else gamma, np.zeros(d) if beta is None else beta)

    # -- the file, top down --------------------------------------------------

    def spec(self, data: Any) -> Spec:
        top = self.mapping(
            data,
            (),
            (
                "format",
                "sentence",
                "model",
                "positional_table",
                "embedding_norm",
                "embeddings",
                "layers",
                "final_norm",
            ),
            required=("embeddings", "layers"),
        )
        if "format" in top and (isinstance(top["format"], bool) or top["format"] != 1):
            self.fail(("format",), f"this is format 1 of the weights file; got {_brief(top['format'])}")
        sentence = top.get("sentence")
        if sentence is not None and not (isinstance(sentence, str) and sentence.strip()):
            self.fail(("sentence",), f"expected the sentence as words, got {_brief(sentence)}; quote it")
        settings = self.mapping({} if top.get("model") is None else top["model"], ("model",), SETTINGS)
        lowercase = settings.get("lowercase", False)
        if not isinstance(lowercase, bool):
            self.fail(("model", "lowercase"), f"expected true or false, got {_brief(lowercase)}")
        embeddings = self.embeddings(top["embeddings"], settings.get("d_model"), lowercase)
        d = len(next(iter(embeddings.values())))
        model = self.model(settings, d, top["layers"])
        layers_value = top["layers"]
        if not isinstance(layers_value, list) or not layers_value:
            self.fail(("layers",), f"expected a list of at least one layer, got {_shape(layers_value)}")
        if len(layers_value) > MAX_LAYERS:
            self.fail(("layers",), f"at most {MAX_LAYERS} layers, got {len(layers_value)}")
        layers: list[Layer] = []
        for i, layer in enumerate(layers_value):
            layers.append(self.layer(layer, ("layers", i), model, layers[0].d_ff if layers else None))
        table = None
        if model.positional == "table":
            if "positional_table" not in top:
                self.fail(
                    ("model", "positional"),
                    "positional: table needs a positional_table: list of rows",
                )
            table = self.matrix(top["positional_table"], ("positional_table",), None, d, "positions x d_model")
            if len(table) > MAX_TOKENS:
                self.fail(("positional_table",), f"at most {MAX_TOKENS} rows, got {len(table)}")
        elif "positional_table" in top:
            self.fail(
                ("positional_table",),
                f"only used with positional: table (this file has {model.positional}); "
                "remove it or set model.positional: table",
            )
        return Spec(
            settings=model,
            vocabulary=Embeddings(embeddings, model.lowercase),
            positional_table=table,
            embedding_norm=self.norm(top["embedding_norm"], ("embedding_norm",), d)
            if "embedding_norm" in top
            else None,
            layers=tuple(layers),
            final_norm=self.norm(top["final_norm"], ("final_norm",), d) if "final_norm" in top else None,
            d_ff=layers[0].d_ff,
            held=self.numbers * FILE_NUMBER_COST,
            sentence=sentence,
        )

    def embeddings(self, value: Any, d_model: Any, lowercase: bool) -> dict[str, Array]:
        path: Place = ("embeddings",)
        if not isinstance(value, dict) or not value:
            self.fail(path, f"expected a mapping of tokens to vectors, got {_shape(value)}")
        if len(value) > MAX_VOCAB:
            self.fail(path, f"at most {MAX_VOCAB} tokens, got {len(value)}")
        first_token, first = next(iter(value.items()))
        if not isinstance(first, list | np.ndarray) or len(first) == 0:
            self.fail((*path, first_token), f"expected a vector of numbers, got {_shape(first)}")
        d = len(first)
        if d > MAX_D_MODEL:
            self.fail((*path, first_token), f"d_model is at most {MAX_D_MODEL}, got a vector of {d}")
        if d_model is not None and d_model != d:
            self.fail(
                ("model", "d_model"),
                f"is {_brief(d_model)} but the embeddings have {d} numbers (embeddings.{_short(first_token)}); "
                "make them agree or remove d_model",
            )
        out: dict[str, Array] = {}
        seen: dict[str, str] = {}
        for token, vector in value.items():
            key = unicodedata.normalize("NFC", token)  # as the sentence is taken
            key = key.lower() if lowercase else key
            if key in seen:
                nfc_differs = unicodedata.normalize("NFC", seen[key]) != unicodedata.normalize("NFC", token)
                rule = "with lowercase: true" if nfc_differs else "in Unicode NFC form"
                same = f"{_brief(seen[key])} and {_brief(token)} are the same token {rule}; keep one"
                self.fail((*path, token), same)
            seen[key] = token
            out[key] = self.vector(vector, (*path, token), d, f"d_model is {d}, from embeddings.{_short(first_token)}")
        return out

    def model(self, settings: dict[str, Any], d: int, layers: Any) -> Settings:
        path: Place = ("model",)
        heads = settings.get("heads")
        if heads is None:  # infer from a per-head layer, else 1
            first = layers[0] if isinstance(layers, list) and layers else None
            attention = first.get("attention") if isinstance(first, dict) else None
            per_head = attention.get("heads") if isinstance(attention, dict) else None
            heads = len(per_head) if isinstance(per_head, list) and per_head else 1
        heads = self.count(heads, (*path, "heads"), 1, d)
        if not heads_fit(d, heads):
            self.fail((*path, "heads"), f"{heads} heads do not divide d_model {d}; use one of {head_counts(d)}")
        return Settings(
            d_model=d,
            heads=heads,
            positional=self.choice(settings, "positional", Positional),
            positional_base=self.real(settings, "positional_base", 0.0, strict=True),
            norm=self.choice(settings, "norm", Norm),
            activation=self.choice(settings, "activation", Activation),
            layer_norm_eps=self.real(settings, "layer_norm_eps", 0.0, strict=False),
            lowercase=settings.get("lowercase", False),
        )

    def layer(self, value: Any, path: Place, model: Settings, d_ff: int | None) -> Layer:
        data = self.mapping(value, path, ("attention", "norm_1", "ffn", "norm_2"), required=("attention", "ffn"))
        d = model.d_model
        att_path = (*path, "attention")
        att = self.mapping(
            data["attention"],
            att_path,
            ("W_Q", "W_K", "W_V", "heads", "W_O", "b_Q", "b_K", "b_V", "b_O"),
        )
        full = [k for k in ("W_Q", "W_K", "W_V") if k in att]
        if "heads" in att and full:
            self.fail(att_path, f"give either W_Q, W_K, W_V or heads, not both ({full[0]} and heads)")
        if "heads" in att:
            W_Q, W_K, W_V = self.per_head(att["heads"], (*att_path, "heads"), model)
        else:
            for key in ("W_Q", "W_K", "W_V"):
                if key not in att:
                    self.fail(att_path, f"missing the key {key!r} (or give heads: one entry per head)")
            W_Q, W_K, W_V = (
                self.matrix(att[k], (*att_path, k), d, d, "d_model x d_model") for k in ("W_Q", "W_K", "W_V")
            )
        ffn_path = (*path, "ffn")
        ffn = self.mapping(data["ffn"], ffn_path, ("W_1", "b_1", "W_2", "b_2"), required=("W_1", "W_2"))
        W_1 = self.matrix(ffn["W_1"], (*ffn_path, "W_1"), d, d_ff, "d_model x d_ff")
        width = W_1.shape[1]
        if d_ff is None and width > MAX_D_FF:
            self.fail((*ffn_path, "W_1"), f"d_ff is at most {MAX_D_FF}, got {width}")
        return Layer(
            W_Q=W_Q,
            W_K=W_K,
            W_V=W_V,
            W_O=self.matrix(att["W_O"], (*att_path, "W_O"), d, d, "d_model x d_model") if "W_O" in att else None,
            b_Q=self.optional_vector(att, "b_Q", att_path, d, "d_model"),
            b_K=self.optional_vector(att, "b_K", att_path, d, "d_model"),
            b_V=self.optional_vector(att, "b_V", att_path, d, "d_model"),
            b_O=self.optional_vector(att, "b_O", att_path, d, "d_model"),
            norm_1=self.norm(data.get("norm_1"), (*path, "norm_1"), d),
            W_1=W_1,
            b_1=self.optional_vector(ffn, "b_1", ffn_path, width, "d_ff"),
            W_2=self.matrix(ffn["W_2"], (*ffn_path, "W_2"), width, d, "d_ff x d_model"),
            b_2=self.optional_vector(ffn, "b_2", ffn_path, d, "d_model"),
            norm_2=self.norm(data.get("norm_2"), (*path, "norm_2"), d),
        )

    def per_head(self, value: Any, path: Place, model: Settings) -> tuple[Array, Array, Array]:
        """heads: [{W_Q, W_K, W_V} d_model x d_k each] -> full matrices, head h in columns h*d_k..."""
        if not isinstance(value, list) or len(value) != model.heads:
            got = len(value) if isinstance(value, list | np.ndarray) else _shape(value)
            self.fail(path, f"expected one entry per head ({model.heads}, model.heads), got {got}")
        parts: dict[str, list[Array]] = {"W_Q": [], "W_K": [], "W_V": []}
        for h, head in enumerate(value):
            entry = self.mapping(head, (*path, h), tuple(parts), required=tuple(parts))
            for key, found in parts.items():
                found.append(self.matrix(entry[key], (*path, h, key), model.d_model, model.d_k, "d_model x d_k"))
        W_Q, W_K, W_V = (np.concatenate(parts[k], axis=1) for k in ("W_Q", "W_K", "W_V"))
        return W_Q, W_K, W_V
