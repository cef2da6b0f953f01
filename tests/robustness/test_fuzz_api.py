"""A seeded fuzzer at the Python API's edge (#16): the fixtures as mappings, mutated at random with
what no file holds (keys that are not words, complex numbers, integers past float64, nesting
without end, np.matrix, NaN, bytes, sets, generators, arrays of every dtype), sentences of random
Unicode (lone surrogates, control characters) or not a str at all, and weights or model= of other
types, given to encoder_cli.explain and then to_json. On every input: a run whose JSON parses
without NaN, or EncoderError and nothing else, in one line; nothing printed, no warning (the suite
runs with -W error), the caller's mapping unchanged.

A case is its seed: `FUZZ_SEED=1234 FUZZ_CASES=1 pytest tests/robustness/test_fuzz_api.py -k many` replays
case 1234. The suite runs CASES cases (seconds); a long run by hand:

    FUZZ_CASES=20000 .venv/bin/python -m pytest -q tests/robustness/test_fuzz_api.py -k many
"""

from __future__ import annotations

import copy
import datetime
import json
import os
import random
import re
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import pytest
import yaml

import encoder_cli
from tests.conftest import FIXTURES, SENTENCES

CASES = int(os.environ.get("FUZZ_CASES", "600"))
FIRST = int(os.environ.get("FUZZ_SEED", "0"))
KEYWORDS = {True: "on", False: "off", None: "~"}  # what yaml.safe_load made of these keys


def as_python(value: Any) -> Any:
    """yaml.safe_load's reading turned into what the file means: keys as written, 1e-6 a number."""
    if isinstance(value, dict):
        return {KEYWORDS.get(k, k) if not isinstance(k, str) else k: as_python(v) for k, v in value.items()}
    if isinstance(value, list):
        return [as_python(v) for v in value]
    try:
        return float(value) if isinstance(value, str) else value
    except ValueError:
        return value


BASES = {p.name: as_python(yaml.safe_load(p.read_text())) for p in sorted(FIXTURES.glob("*.yaml")) if p in SENTENCES}
SENTENCE = {path.name: sentence for path, sentence in SENTENCES.items()}
DTYPES = [np.int8, np.uint64, np.float16, np.float32, np.longdouble, object]  # real numbers: read exactly
BAD_DTYPES = [bool, complex, np.complex64, "U3", "S3", "datetime64[s]", "timedelta64[s]", [("a", "f8"), ("b", "i4")]]
# What a caller may pass where a number, a word, a list or a mapping belongs.
SCALARS = [
    True, False, None, 0, -1, 1, 2, 3, 10**400, -(2**1100), 2**63, 2.5, 1e300, -1e-300, float("nan"), float("inf"),
    -float("inf"), np.float32("nan"), np.array(["1e400"]).astype(np.longdouble)[0], np.float16(65504), np.int64(-7),
    np.uint8(255), np.bool_(True), 1j, np.complex128(1 + 2j), np.complex64(0), "", "no", "on", "relu", "table",
    "x" * 3000, "\ud800", "\udcff", "\x1b[31m", "a\nb", b"bytes", bytearray(b"x"), Decimal("1.5"), Fraction(1, 3),
    datetime.date(2024, 1, 1), np.datetime64(1, "s"), object(), set(), frozenset({1.0}), range(4), Ellipsis,
]  # fmt: skip
KEYS: list[Any] = [True, False, None, 0, 1, 2.5, -1, 10**400, ("a",), b"on", frozenset(), np.int64(3), np.bool_(False),
        1j, float("nan"), "", "\ud800", "\x00", "x" * 500, "on", "W_Q", "heads", "[UNK]"]  # fmt: skip
CHARACTERS = [
    "a", "T", "h", "e", " ", "  ", ",", ".", "[UNK]", "\x00", "\x01", "\x1b", "\x7f", "\x85", "\t", "\n", "\r",
    "\u2028", "\u202e", "\ufeff", "\ufffe", "\uffff", "e\u0301", "é", "İ", "ß", "中", "😀", "\U0010ffff",
]  # fmt: skip
NOT_STR = [5, 2.5, b"The cat sat", bytearray(b"The"), ["The", "cat"], ("The",), True, 1j, {"The": 1}, object()]
NOT_PATHS = [[1], 1.5, -1, 2**70, b"w.yaml", Path("w\0.yaml"), "w\0", "\ud800.yaml", "x" * 300, "", "/dev/null",
             str(FIXTURES), str(FIXTURES / "no such.yaml"), set(), 1j, object()]  # fmt: skip
MODELS = [-1, 2**70, 1.5, b"org/name", Path("m\0"), "m\0", "\udfff", "org/name", "no/such/model", str(FIXTURES), "",
          str(FIXTURES / "the-cat-sat.yaml"), [str(FIXTURES)], {"model": 1}]  # fmt: skip


def nested(depth: int, inner: Any = 1.0) -> Any:
    for _ in range(depth):
        inner = [inner]
    return inner


def looped(rng: random.Random) -> Any:
    if rng.random() < 0.5:
        value: list[Any] = [1.0]
        value.append(value)
        return value
    mapping: dict[str, Any] = {"a": 1.0}
    mapping["self"] = mapping
    return mapping


def as_matrix(value: Any) -> Any:
    try:
        array = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        return value
    if array.ndim > 2:
        return value
    return np.matrix(array)


def as_array(value: Any, dtype: Any) -> Any:
    try:
        return np.asarray(value).astype(dtype)
    except (TypeError, ValueError, OverflowError):
        return np.zeros((2, 3), dtype=dtype)


def hostile(rng: random.Random, current: Any) -> Any:
    """A value in place of current: of no kind a file holds, or current in another form."""
    kinds: list[Callable[[], Any]] = [
        lambda: rng.choice(SCALARS),
        lambda: rng.choice(SCALARS),
        lambda: nested(rng.choice([31, 32, 33, 40, 400]), rng.choice([1.0, [1.0, 2.0], "x"])),
        lambda: looped(rng),
        lambda: as_matrix(current),
        lambda: as_array(current, rng.choice(DTYPES)),
        lambda: as_array(current, rng.choice(BAD_DTYPES)),
        lambda: np.array(rng.choice([1.0, np.nan, 2, 1 + 1j, "a", None]), dtype=rng.choice([None, object])),  # 0-d
        lambda: as_array(current, float) * rng.choice([np.nan, np.inf, 1e300, -1e308, 0.0]),
        lambda: tuple(current) if isinstance(current, list) else [current],
        lambda: MappingProxyType(current) if isinstance(current, dict) else {"a": current},
        lambda: (x for x in (current if isinstance(current, list) else [current])),
        lambda: [rng.choice(SCALARS), *current[1:]] if isinstance(current, list) and current else [],
        lambda: [],
        lambda: {},
    ]
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # numpy's on making them (np.matrix, a complex cast): not the run's
        return rng.choice(kinds)()


def places(value: Any, found: list[tuple[Any, Any]], depth: int = 0) -> list[tuple[Any, Any]]:
    """Every (container, key or index) inside value, as deep as a fixture goes (W_Q[i][j] of a head)."""
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items if depth < 8 else ():
        found.append((value, key))
        places(item, found, depth + 1)
    return found


def mutated(data: Any, rng: random.Random) -> Any:
    for _ in range(rng.choice([1, 1, 1, 2, 3])):
        spots = places(data, [])
        if not spots or rng.random() < 0.03:  # the whole mapping; not as an int or a str, which NOT_PATHS
            whole = hostile(rng, data)  # gives in their turn (an int in a child process, test_api_hostile)
            return MappingProxyType(data) if isinstance(whole, int | str) else whole
        mappings = [c for c, _ in spots if isinstance(c, dict)]
        if rng.random() < 0.25:  # a key that is not a word, or is another's
            mapping = rng.choice(mappings)
            mapping[rng.choice(KEYS)] = rng.choice([*mapping.values(), rng.choice(SCALARS)])
            continue
        numbers = rng.random() < 0.5  # a number in a matrix, or else a whole matrix, mapping or setting
        container, key = rng.choice([(c, k) for c, k in spots if numbers == isinstance(c[k], float)] or spots)
        container[key] = hostile(rng, container[key])
    return data


def sentence(base: str, rng: random.Random) -> Any:
    roll = rng.random()
    if roll < 0.35:
        return base
    if roll < 0.45:
        return rng.choice(NOT_STR)
    if roll < 0.5:
        return None  # the built-in example's
    words = base.split()
    for _ in range(rng.randint(1, 4)):
        where = rng.randrange(len(words) + 1)
        if rng.random() < 0.3:  # any code point, a lone surrogate as likely as any
            odd = chr(rng.choice([rng.randrange(0x110000), rng.randrange(0xD800, 0xE000)]))
        else:
            odd = rng.choice(CHARACTERS)
        words.insert(where, odd if rng.random() < 0.5 else f"{rng.choice(words or ['a'])}{odd}")
    return rng.choice([" ", "", "\n"]).join(words)


@dataclass
class Case:
    seed: int
    arguments: dict[str, Any]
    what: str

    def __str__(self) -> str:
        return f"FUZZ_SEED={self.seed}: {self.what}"


def case(seed: int) -> Case:
    rng = random.Random(seed)
    name = rng.choice(sorted(BASES))
    said = sentence(SENTENCE[name], rng)
    roll = rng.random()
    if roll < 0.06:
        weights = rng.choice(NOT_PATHS)
        return Case(seed, {"sentence": said, "weights": weights}, f"{said!r:.200}, weights={weights!r:.200}")
    if roll < 0.1:
        model = rng.choice(MODELS)
        return Case(seed, {"sentence": said, "model": model}, f"{said!r:.200}, model={model!r:.200}")
    data = copy.deepcopy(BASES[name])
    data = mutated(data, rng) if rng.random() < 0.9 else data
    return Case(seed, {"sentence": said, "weights": data}, f"{name} mutated, sentence {said!r:.200}")


def no_constants(name: str) -> float:
    raise AssertionError(f"{name} in JSON")


def seen(value: Any) -> str:
    """What a caller's value holds, to tell whether a run changed it."""
    with np.printoptions(threshold=sys.maxsize):
        return repr(value)


def check_contract(c: Case) -> None:
    before = seen(c.arguments)
    try:
        doc = encoder_cli.explain(**c.arguments).to_json()
    except encoder_cli.EncoderError as e:
        assert "\n" not in str(e), f"{c}\n{e}"
    except BaseException as e:
        raise AssertionError(f"{c}\n{type(e).__name__}: {e}") from e
    else:
        json.loads(doc, parse_constant=no_constants)
    assert seen(c.arguments) == before, f"{c}\nthe run changed what the caller gave"


def test_many(capsys) -> None:
    """CASES cases from FUZZ_SEED: every one keeps the contract, and prints nothing."""
    for seed in range(FIRST, FIRST + CASES):
        check_contract(case(seed))
    assert capsys.readouterr() == ("", "")


def test_the_fixtures_as_mappings_run() -> None:
    """The fuzzer starts from mappings that run, so that its mutations reach every check."""
    for name, data in BASES.items():
        path = FIXTURES / name
        assert (
            encoder_cli.explain(SENTENCE[name], weights=data).to_json()
            == encoder_cli.explain(SENTENCE[name], weights=path).to_json()
        )


@pytest.mark.parametrize("seed", [0, 1])
def test_cases_are_their_seeds(seed: int) -> None:
    """A seed always makes the same case, so that a failure can be replayed."""
    assert str(case(seed)) == str(case(seed)) and seen(case(seed).arguments) == seen(case(seed).arguments)
    assert seen(case(seed).arguments) != seen(case(seed + 2).arguments)


def test_the_fuzzer_reaches_every_class() -> None:
    """The classes of #16 all occur in the first CASES cases."""
    cases = [case(seed) for seed in range(CASES)]
    texts = [seen(c.arguments) for c in cases]
    sentences = [c.arguments.get("sentence") for c in cases]
    assert any(isinstance(s, str) and any("\ud800" <= ch <= "\udfff" for ch in s) for s in sentences)
    assert any(s is not None and not isinstance(s, str) for s in sentences)
    assert any(isinstance(s, str) and any(ch < " " for ch in s) for s in sentences)
    assert any("weights" in c.arguments and not isinstance(c.arguments["weights"], dict) for c in cases)
    assert any("model" in c.arguments for c in cases)
    for sign in ("True:", "None:", "1j", "nan", "matrix(", "generator object", "[[[[[[[[[[", ".j]", "{1.0}", "1e+400"):
        assert any(sign in text for text in texts), sign
    assert any(re.search(r"array\(\[+ ?(True|False)", text) for text in texts)  # a bool array
