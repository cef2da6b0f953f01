"""The Python API, point by point as its contract says, held against the command line."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
import yaml

import encoder_cli
from tests.conftest import MAT, PRE, SEED, SENTENCES, generate, run, wide_model


@pytest.mark.parametrize("path", [SEED, MAT, PRE], ids=lambda p: p.stem)
def test_to_json_is_exactly_what_the_command_line_writes(path: Path) -> None:
    t = encoder_cli.explain(SENTENCES[path], weights=path)
    assert t.to_json() == run("explain", SENTENCES[path], "-w", str(path), "-f", "json").stdout
    t = encoder_cli.explain(SENTENCES[path], weights=str(path))  # a str as well as a Path
    doc = json.loads(t.to_json())
    assert t.tokens == doc["tokens"] and t.ids == [s["id"] for s in doc["steps"]]
    for step, s in zip(t.steps, doc["steps"], strict=True):
        assert (step.id, step.title, step.formula, list(step.rows), list(step.cols)) == (
            s["id"], s["title"], s["formula"], s["rows"], s["cols"]
        )  # fmt: skip
        assert step.values.tolist() == s["values"] and step.values.dtype == np.float64


def test_the_built_in_example() -> None:
    t = encoder_cli.explain()
    assert t.tokens == ["The", "cat", "sat"] and t.to_json() == run("explain", "-f", "json").stdout
    assert encoder_cli.explain("The cat sat").to_json() == t.to_json()


def test_a_mapping_with_lists_or_numpy_arrays_is_the_file() -> None:
    data = yaml.safe_load(MAT.read_text())
    data["embeddings"] = {"on" if k is True else k: v for k, v in data["embeddings"].items()}  # YAML 1.1's `on`
    from_file = encoder_cli.explain(SENTENCES[MAT], weights=MAT).to_json()
    assert encoder_cli.explain(SENTENCES[MAT], weights=data).to_json() == from_file
    as_arrays = {**data, "embeddings": {k: np.array(v) for k, v in data["embeddings"].items()}}
    as_arrays["layers"] = [
        {**layer, "ffn": {k: np.asarray(v) for k, v in layer["ffn"].items()}} for layer in data["layers"]
    ]
    assert encoder_cli.explain(SENTENCES[MAT], weights=as_arrays).to_json() == from_file
    eye = np.eye(2, dtype=int)  # integers, as numpy arrays
    ints = {
        "embeddings": {"a": np.array([1, 2])},
        "layers": [{"attention": {"W_Q": eye, "W_K": eye, "W_V": eye}, "ffn": {"W_1": eye, "W_2": eye.tolist()}}],
    }
    assert encoder_cli.explain("a", weights=ints)["X"].tolist() == [[1.0, 2.0]]


def test_names_are_the_command_lines() -> None:
    t = encoder_cli.explain(SENTENCES[MAT], weights=MAT)
    assert t["X'"] is t["input"] and t["PE"] is t["positional"] and t["X"] is t["embeddings"]
    assert t["layers.1.attention.heads.0.Q"] is t["layers.1.attention.heads.0.Q"]
    doc = {s["id"]: s["values"] for s in json.loads(t.to_json())["steps"]}
    assert t["layers.1.attention.heads.1.weights"].tolist() == doc["layers.1.attention.heads.1.weights"]
    one = encoder_cli.explain()
    assert one["weights"] is one["layers.0.attention.heads.0.weights"]  # a unique end of an id
    with pytest.raises(KeyError, match="could be any of") as ambiguous:
        t["weights"]  # four steps end so: not unique
    assert "closest" not in str(ambiguous.value)  # the error lists the four
    with pytest.raises(KeyError, match=r"'weigths' is not a step or parameter; did you mean 'weights'\?"):
        one["weigths"]
    with pytest.raises(KeyError):
        one["weights[0,0]"]  # a cell address is not a step name


def test_arrays_are_read_only_float64() -> None:
    t = encoder_cli.explain()
    for step in t.steps:
        assert step.values.dtype == np.float64 and not step.values.flags.writeable
        with pytest.raises(ValueError):
            step.values[0, 0] = 1.0
    assert not t["Q"].flags.writeable


def test_bad_input_raises_encoder_error_and_never_prints_or_exits(capsys, tmp_path: Path) -> None:
    cases = [
        (
            lambda: encoder_cli.explain("The dog sat"),
            "the-cat-sat.yaml (built-in example):13: embeddings: no embedding",
        ),
        (lambda: encoder_cli.explain("x", weights=tmp_path / "none.yaml"), "no such file"),
        (lambda: encoder_cli.explain("x", weights={"embeddings": {"x": [1.0]}}), "missing the key 'layers'"),
        (lambda: encoder_cli.explain(weights=MAT), "give the sentence"),
        (lambda: encoder_cli.explain("a", weights={"embeddings": {"a": ["no"]}, "layers": []}), "embeddings.a"),
    ]
    for call, message in cases:
        with pytest.raises(encoder_cli.EncoderError, match=re.escape(message)):
            call()
    assert capsys.readouterr() == ("", "")


def test_importing_the_package_imports_no_numpy_rich_or_typer() -> None:
    code = "import sys, encoder_cli; print(sorted(m for m in ('numpy', 'rich', 'typer', 'yaml') if m in sys.modules))"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "[]"


class _Styles(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.css, self._in_style = "", False
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        self.tags.append(tag)
        self._in_style = tag == "style"

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.css += data

    def handle_endtag(self, tag: str) -> None:
        self._in_style = False


def test_repr_html_is_a_scoped_fragment_that_fetches_nothing() -> None:
    html = encoder_cli.explain()._repr_html_()
    assert html.startswith('<div class="encoder-cli">') and html.rstrip().endswith("</div>")
    parsed = _Styles()
    parsed.feed(html)
    assert not {"html", "head", "body", "script", "link", "img", "iframe"} & set(parsed.tags)
    assert not re.search(r"@import|url\(|https?://", html)
    css = re.sub(r"/\*.*?\*/", "", parsed.css, flags=re.S)
    selectors = [rule.split("{")[0] for rule in css.split("}") if "{" in rule]
    for selector in selectors:  # every rule applies only inside the fragment
        assert all(part.strip().startswith(".encoder-cli") for part in selector.split(",")), selector
    for step_id in encoder_cli.explain().ids:
        assert f"<code>{step_id}</code>" in html


def test_repr_html_summarises_big_matrices(tmp_path: Path) -> None:
    path = tmp_path / "wide.yaml"
    path.write_text(wide_model())
    t = encoder_cli.explain(" ".join(f"w{i}" for i in range(60)), weights=path)
    html = t._repr_html_()
    assert "summarised" in html and len(html) < 400_000
    assert html.count("<tr>") < 60 * len(t.ids)  # not every row of every step


def test_a_generated_model_through_the_api_equals_the_command_line(tmp_path: Path) -> None:
    g = generate(7)
    path = tmp_path / "g.yaml"
    path.write_text(g.yaml())
    cli = run("explain", g.sentence, "-w", str(path), "-f", "json").stdout
    assert encoder_cli.explain(g.sentence, weights=g.data).to_json() == cli
