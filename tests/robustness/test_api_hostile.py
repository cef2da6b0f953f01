"""The Python API's side of the hostile-input promise (#16): whatever the caller passes,
encoder_cli.explain raises EncoderError and nothing else, with no warning, and never touches
the caller's streams."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

import encoder_cli
from tests.conftest import MAT, ROOT, SEED, SENTENCES

GOOD = yaml.safe_load(SEED.read_text())  # the seed's weights: keys The, cat, sat read as words


def seed_with(value: Any, *place: str | int) -> dict[str, Any]:
    """The seed's weights with one value replaced (or added) at place."""
    data = copy.deepcopy(GOOD)
    *parents, last = place
    inner = data
    for key in parents:
        inner = inner[key]
    inner[last] = value
    return data


def nested(depth: int) -> list[Any]:
    value: list[Any] = [1.0]
    for _ in range(depth):
        value = [value]
    return value


def looped() -> list[Any]:
    value: list[Any] = []
    value.append(value)
    return value


def matrix(rows: list[list[float]]) -> np.ndarray:
    with pytest.warns(PendingDeprecationWarning):  # numpy's own note that np.matrix is discouraged
        return np.matrix(rows)


def keyed(key: Any, *place: str | int) -> dict[str, Any]:
    """The seed's weights with a key that is not a str added to the mapping at place."""
    data = copy.deepcopy(GOOD)
    inner = data
    for part in place:
        inner = inner[part]
    inner[key] = [1.0, 2.0, 3.0, 4.0]
    return data


W_Q = ("layers", 0, "attention", "W_Q")
CAT = ("embeddings", "cat")
STRUCTURED = np.zeros(4, dtype=[("a", "<f8"), ("b", "<i4")])
# Each row: a name, the call's arguments, and what the EncoderError says (its place included).
CASES: list[tuple[str, Callable[[], dict[str, Any]], str]] = [
    # keys that are not words: what yaml.safe_load makes of on, off, ~, 1
    (
        "fixture on",
        lambda: {"sentence": SENTENCES[MAT], "weights": yaml.safe_load(MAT.read_text())},
        'embeddings: the key True is a YAML 1.1 boolean (on, yes or true), not a word; quote it in the YAML ("on")',
    ),
    ("key off", lambda: {"weights": keyed(False, "embeddings")}, "embeddings: the key False is a YAML 1.1 boolean"),
    (
        "key ~",
        lambda: {"weights": keyed(None)},
        'the key None is a YAML 1.1 null (~ or null), not a word; quote it in the YAML ("~")',
    ),
    (
        "key 1",
        lambda: {"weights": keyed(1, *W_Q[:3])},
        'layers[0].attention: the key 1 is a number, not a word; quote it in the YAML ("1")',
    ),
    ("key 2.5", lambda: {"weights": keyed(2.5, "model")}, "model: the key 2.5 is a number"),
    (
        "key tuple",
        lambda: {"weights": keyed(("a",), "embeddings")},
        "the key ('a',) is a tuple, not a word; give it as a str",
    ),
    # a sentence that is not a str, or not text
    ("sentence int", lambda: {"sentence": 5}, "the sentence must be a str, not int"),
    ("sentence bytes", lambda: {"sentence": b"The cat sat"}, "the sentence must be a str, not bytes"),
    ("sentence list", lambda: {"sentence": ["The", "cat"]}, "the sentence must be a str, not list"),
    ("sentence_b int", lambda: {"sentence_b": 6, "model": "org/name"}, "the second sentence must be a str, not int"),
    ("sentence_b bytes", lambda: {"sentence_b": b"I am six."}, "the second sentence must be a str, not bytes"),
    (
        "sentence_b, weights",
        lambda: {"sentence_b": "I am six.", "weights": GOOD},
        "a second sentence makes a sentence pair, which needs a checkpoint's tokenizer (its pair template); "
        "give a model instead of weights, or one sentence",
    ),
    ("sentence_b, example", lambda: {"sentence_b": "I am six."}, "give a model, or one sentence"),
    (
        "surrogate",
        lambda: {"sentence": "The \ud800 sat", "weights": seed_with([1.0] * 4, "embeddings", "[UNK]")},
        "the sentence is not valid UTF-8 (the lone surrogate U+D800); give it as UTF-8 text",
    ),
    ("undecodable byte", lambda: {"sentence": "The cat\udcff"}, "the sentence is not valid UTF-8 (the byte 0xff)"),
    ("surrogate, model", lambda: {"sentence": "\udfff", "model": "org/name"}, "the lone surrogate U+DFFF"),
    ("weights and model", lambda: {"weights": GOOD, "model": "org/name"}, "give either weights or a model, not both"),
    ("model, no sentence", lambda: {"sentence": None, "model": "org/name"}, 'with the model, e.g. "The cat sat"'),
    # weights and model of another type, or a name no file can have
    ("weights 0", lambda: {"weights": 0}, "weights must be a path (str or pathlib.Path) or a mapping, not int"),
    ("weights 1", lambda: {"weights": 1}, "or a mapping, not int"),
    ("weights True", lambda: {"weights": True}, "or a mapping, not bool"),
    ("weights list", lambda: {"weights": [GOOD]}, "or a mapping, not list"),
    ("weights float", lambda: {"weights": 1.5}, "or a mapping, not float"),
    ("weights generator", lambda: {"weights": (x for x in [GOOD])}, "or a mapping, not generator"),
    ("weights bytes", lambda: {"weights": os.fsencode(SEED)}, "or a mapping, not bytes"),
    ("weights NUL", lambda: {"weights": "w\0.yaml"}, "weights: 'w\\x00.yaml' holds a NUL character"),
    ("weights Path NUL", lambda: {"weights": Path("w\0.yaml")}, "holds a NUL character, which no file name can hold"),
    ("weights surrogate", lambda: {"weights": "w\ud800.yaml"}, "weights: 'w\\ud800.yaml' holds U+D800"),
    ("model 1", lambda: {"model": 1}, "model must be a folder's path or a model id (str or pathlib.Path), not int"),
    ("model NUL", lambda: {"model": Path("m\0")}, "model: 'm\\x00' holds a NUL character"),
    (
        "model dict",
        lambda: {"model": {}},
        "model must be a folder's path or a model id (str or pathlib.Path), not dict",
    ),
    # settings and numbers that are not finite, or past float64
    (
        "heads nan",
        lambda: {"weights": seed_with(float("nan"), "model", "heads")},
        "model.heads: expected a finite number, got nan",
    ),
    (
        "heads inf",
        lambda: {"weights": seed_with(np.inf, "model", "heads")},
        "model.heads: expected a finite number, got inf",
    ),
    (
        "d_model -inf",
        lambda: {"weights": seed_with(-np.inf, "model", "d_model")},
        "model.d_model: expected a finite number, got -inf",
    ),
    (
        "eps nan",
        lambda: {"weights": seed_with(np.float32("nan"), "model", "layer_norm_eps")},
        "model.layer_norm_eps: expected a finite number",
    ),
    (
        "base 1e400",
        lambda: {"weights": seed_with(10**400, "model", "positional_base")},
        "model.positional_base: expected a finite number, got about 1e400, too large for a float64",
    ),
    (
        "1e400 in a list",
        lambda: {"weights": seed_with([10**400, 0, 0, 0], *CAT)},
        "embeddings.cat[0]: expected a finite number, got about 1e400, too large for a float64",
    ),
    (
        "nan in a list",
        lambda: {"weights": seed_with([0.0, float("nan"), 0.0, 0.0], *CAT)},
        "embeddings.cat[1]: expected a finite number, got nan",
    ),
    (
        "nan in an array",
        lambda: {"weights": seed_with(np.array([0.0, 0.0, np.nan, 0.0]), *CAT)},
        "embeddings.cat[2]: expected a finite number, got nan",
    ),
    (
        "inf in a matrix",
        lambda: {"weights": seed_with(np.diag([1.0, 1.0, 1.0, np.inf]), *W_Q)},
        "layers[0].attention.W_Q[3][3]: expected a finite number, got inf",
    ),
    (
        "float128 past float64",
        lambda: {"weights": seed_with(np.array(["1e400", 0, 0, 0], dtype=np.longdouble), *CAT)},
        "embeddings.cat[0]: expected a finite number, got np.longdouble('1e+400'), too large for a float64",
    ),
    # nesting without end
    ("nested 1,000 deep", lambda: {"weights": seed_with(nested(1000), *W_Q)}, "nested too deeply for a weights file"),
    ("a list in itself", lambda: {"weights": seed_with(looped(), *CAT)}, "nested too deeply for a weights file"),
    (
        "np.matrix as a vector",
        lambda: {"weights": seed_with(matrix([[1.0, 2.0, 3.0, 4.0]]), *CAT)},
        "embeddings.cat: expected 4 numbers (d_model is 4, from embeddings.The), got 1",
    ),
    # complex numbers, and arrays that are not of real numbers
    (
        "np.complex128",
        lambda: {"weights": seed_with([np.complex128(1 + 2j), 0, 0, 0], *CAT)},
        "embeddings.cat[0]: expected a real number, got the complex number np.complex128(1+2j)",
    ),
    (
        "complex",
        lambda: {"weights": seed_with(1j, "model", "heads")},
        "model.heads: expected a real number, got the complex number 1j",
    ),
    (
        "complex array",
        lambda: {"weights": seed_with(np.eye(4, dtype=complex), *W_Q)},
        "layers[0].attention.W_Q: expected an array of real numbers, got one of dtype complex128",
    ),
    (
        "0-d complex array",
        lambda: {"weights": seed_with(np.array(2 + 0j), "model", "heads")},
        "got one of dtype complex128",
    ),
    (
        "bool array",
        lambda: {"weights": seed_with(np.ones(4, dtype=bool), *CAT)},
        "embeddings.cat: expected an array of real numbers, got one of dtype bool",
    ),
    ("str array", lambda: {"weights": seed_with(np.array(["1", "2", "3", "4"]), *CAT)}, "got one of dtype <U1"),
    ("bytes array", lambda: {"weights": seed_with(np.array([b"1"] * 4), *CAT)}, "got one of dtype |S1"),
    (
        "datetime array",
        lambda: {"weights": seed_with(np.arange(4).astype("datetime64[s]"), *CAT)},
        "got one of dtype datetime64[s]",
    ),
    (
        "timedelta array",
        lambda: {"weights": seed_with(np.arange(4).astype("timedelta64[s]"), *CAT)},
        "got one of dtype timedelta64[s]",
    ),
    (
        "structured array",
        lambda: {"weights": seed_with(STRUCTURED, *CAT)},
        "got one of dtype [('a', '<f8'), ('b', '<i4')]",
    ),
    (
        "object array",
        lambda: {"weights": seed_with(np.array([1.0, None, 2.0, 3.0], dtype=object), *CAT)},
        "embeddings.cat[1]: expected a number, got None",
    ),
    # values of no kind a file holds
    (
        "a word in a row",
        lambda: {"weights": seed_with([1.0, "no", 0.0, 0.0], *CAT)},
        "embeddings.cat[1]: expected a number, got 'no'",
    ),
    (
        "a set",
        lambda: {"weights": seed_with({1.0, 2.0, 3.0, 4.0}, *CAT)},
        "embeddings.cat: expected a number, a word, a list or a mapping, not set",
    ),
    (
        "bytes",
        lambda: {"weights": seed_with(b"relu", "model", "activation")},
        "model.activation: expected a number, a word, a list or a mapping, not bytes",
    ),
    ("a generator", lambda: {"weights": seed_with((x for x in [1.0] * 4), *CAT)}, "not generator"),
    (
        "a Decimal",
        lambda: {"weights": seed_with([Decimal(1)] * 4, *CAT)},
        "embeddings.cat[0]: expected a number, a word, a list or a mapping, not Decimal",
    ),
]


@pytest.mark.parametrize(("kwargs", "said"), [(k, s) for _, k, s in CASES], ids=[name for name, _, _ in CASES])
def test_what_the_api_refuses_is_one_encoder_error(kwargs: Callable[[], dict[str, Any]], said: str, capsys) -> None:
    """Each class of bad argument: EncoderError naming the place and the fault, no other
    exception, no warning (the suite runs with -W error), nothing printed."""
    arguments = {"sentence": "The cat sat", **kwargs()}
    with pytest.raises(encoder_cli.EncoderError) as e:
        encoder_cli.explain(**arguments)
    assert said in str(e.value)
    assert "\n" not in str(e.value) and len(str(e.value)) < 400  # one line a person reads
    assert capsys.readouterr() == ("", "")


def test_int_weights_are_not_file_descriptors() -> None:
    """weights=0 once read and closed the caller's stdin, weights=1 closed its stdout: in a child
    process, its three streams are the same files after each such call, stdin still holds what
    was sent, and stdout still takes a line."""
    code = """if True:
        import os, sys, encoder_cli
        streams = lambda: [(s.st_dev, s.st_ino, s.st_mode) for s in map(os.fstat, (0, 1, 2))]
        before, refused = streams(), 0
        for bad in ({"weights": 0}, {"weights": 1}, {"weights": 2}, {"weights": True}, {"model": 1}):
            try:
                encoder_cli.explain("The cat sat", **bad)
            except encoder_cli.EncoderError:
                refused += 1
        assert streams() == before
        print(sys.stdin.read(), refused)
    """
    done = subprocess.run(
        [sys.executable, "-W", "error", "-c", code],
        input="still here",
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, "still here 5\n", "")


def test_real_numbers_of_every_numeric_dtype_are_read_exactly() -> None:
    """What the refusals must not catch: int8 to uint64, float16 to float128, np.matrix, object
    arrays, numpy scalars and 0-d arrays, holding numbers float64 holds exactly, make the same
    run as the same numbers given as Python floats."""
    eye = np.eye(4)
    with_eye = encoder_cli.explain("The cat sat", weights=seed_with(eye.tolist(), *W_Q)).to_json()
    assert with_eye != encoder_cli.explain("The cat sat", weights=GOOD).to_json()  # W_Q matters to the run
    for dtype in (np.int8, np.uint64, np.float16, np.float32, np.longdouble, object):
        assert encoder_cli.explain("The cat sat", weights=seed_with(eye.astype(dtype), *W_Q)).to_json() == with_eye
    assert encoder_cli.explain("The cat sat", weights=seed_with(matrix(eye.tolist()), *W_Q)).to_json() == with_eye
    scalars = seed_with([[np.float64(v) for v in row] for row in eye], *W_Q)
    scalars["model"]["heads"] = np.array(GOOD["model"]["heads"], dtype=np.int16)  # a 0-d array
    assert encoder_cli.explain("The cat sat", weights=scalars).to_json() == with_eye
