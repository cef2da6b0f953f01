"""Shared test helpers: fixture paths, a generator of random weight files, and the no-skip rule."""

from __future__ import annotations

import html
import json
import os
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner, Result

from encoder_cli import settings
from encoder_cli.cli import app

# No test reaches the Hugging Face Hub: huggingface_hub, which reads this when first imported, and every
# child process stay offline; the cases that go online (tests/reference/test_hub.py) say so themselves.
os.environ["HF_HUB_OFFLINE"] = "1"
ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
SEED = FIXTURES / "the-cat-sat.yaml"
MAT = FIXTURES / "the-cat-sat-on-the-mat.yaml"
PRE = FIXTURES / "pre-norm-gelu.yaml"
SENTENCES = {SEED: "The cat sat", MAT: "The cat sat on the mat", PRE: "a dog ran home, fast."}

# The worksheet of issue #12: its blanks, and the blanks they add (tests/unit/test_worksheet.py works
# them out): PE[cat], X'[cat], Q, K[cat], and scores, scaled and weights [cat].
WORKSHEET = ["worksheet", "The cat sat", "--blank", "PE[cat]", "--blank", "Q", "--blank", "weights[cat]"]
BLANKS = 4 + 4 + 12 + 4 + 3 * 3


def mpnet_folder() -> Path:
    """The real all-mpnet-base-v2 that tests/run sets up once, outside the clone, at the same path.
    Missing, it is an error, never a skip."""
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    folder = Path(cache) / "encoder-cli" / "all-mpnet-base-v2-0.0.1"
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: the real all-mpnet-base-v2 is not set up; run tests/run, which sets it up")
    return folder


def run(*args: str, input: str | bytes | None = None, env: dict[str, str] | None = None) -> Result:
    """The command line, as a user runs it: COLUMNS 100, no colour; stdout and stderr apart."""
    return CliRunner(env={"COLUMNS": "100", "NO_COLOR": "1", **(env or {})}).invoke(app, list(args), input=input)


def wide_model() -> str:
    """A weights file for 60 words of d_model 64 (d_ff 256): matrices too big for a screen."""
    rng = np.random.default_rng(0)
    d, n = 64, 60
    m = lambda *shape: np.asarray(rng.normal(0, 0.2, shape)).round(2).tolist()  # noqa: E731
    layer = {
        "attention": {k: m(d, d) for k in ("W_Q", "W_K", "W_V")},
        "ffn": {"W_1": m(d, 4 * d), "W_2": m(4 * d, d)},
    }
    return yaml.safe_dump({"embeddings": {f"w{i}": m(d) for i in range(n)}, "layers": [layer]})


# --- The handouts' readers: pdflatex, pdftotext, headless Chromium, MathJax 2.7 -------

MATHJAX = Path("/usr/share/javascript/mathjax/MathJax.js")
A4 = 794  # CSS pixels across A4 paper (210 mm at 96 px per inch)


def pdflatex(source: str, tmp: Path) -> Path:
    """Compile with pdflatex; fails on any error and on any box overfull (running past the margin)."""
    (tmp / "doc.tex").write_text(source)
    done = subprocess.run(
        ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "-no-shell-escape", "doc.tex"],
        cwd=tmp,
        capture_output=True,
        timeout=300,
    )
    log = (tmp / "doc.log").read_text(errors="replace")
    assert done.returncode == 0, log[-3000:]
    assert "Overfull" not in log, re.findall(r"Overfull.*\n.*", log)[:5]
    return tmp / "doc.pdf"


def pdf_text(pdf: Path) -> str:
    return subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout


def pdf_words_right_edge(pdf: Path) -> tuple[float, float]:
    """The rightmost edge of any word and the page width, in points."""
    boxes = subprocess.run(["pdftotext", "-bbox", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    width = float(re.search(r'<page width="([\d.]+)"', boxes)[1])  # type: ignore[index]
    return max(float(x) for x in re.findall(r'<word [^>]*xMax="([\d.]+)"', boxes)), width


def chromium(tmp: Path, url: str, *flags: str) -> str:
    profile = tmp / f"profile-{len(list(tmp.glob('profile-*')))}"
    done = subprocess.run(
        ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-sync", "--disable-background-networking", "--disable-component-update",
         f"--user-data-dir={profile}", *flags, url],
        capture_output=True,
        text=True,
        timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def browser_report(page: str, tmp: Path, script: str, *flags: str) -> dict:
    """Open a page in headless Chromium with a test script added at its end; the script leaves a
    JSON report in <pre id="report">, read back from the DOM Chromium dumps."""
    path = tmp / "page.html"
    path.write_text(page.replace("</body>", f"<script>{script}</script></body>"))
    dom = chromium(tmp, path.as_uri(), f"--window-size={A4},1123", "--dump-dom", *flags)
    found = re.search(r'<pre id="report">(.*?)</pre>', dom, re.S)
    assert found, f"the page's test script left no report: {dom[-1500:]}"
    return json.loads(html.unescape(found[1]))


REPORT = "const out = document.createElement('pre'); out.id = 'report'; out.textContent = JSON.stringify(report);"
REPORT += "document.body.append(out);"

# What any HTML handout must be in the browser: nothing fetched, nothing wider than the page.
PAGE_CHECK = """
const width = document.documentElement.clientWidth;
const report = {
  fetched: performance.getEntriesByType('resource').map(r => r.name),
  scroll: document.documentElement.scrollWidth - width,
  overflow: [...document.querySelectorAll('body *')]
    .filter(e => e.getBoundingClientRect().right > width
      || e.scrollWidth > e.clientWidth + 1 && getComputedStyle(e).overflowX !== 'visible')
    .map(e => e.tagName + ': ' + e.textContent.slice(0, 60)),
};
"""


def on_a4_screen(page: str, tmp: Path, script: str = "") -> dict:
    """An HTML handout at A4 width in Chromium: nothing in it that could fetch, nothing fetched,
    nothing wider than the page. The report is PAGE_CHECK's, with what `script` adds to it."""
    assert not re.search(r"<(script|link|img|iframe)\b|@import|url\(|https?://", page, re.I)
    report = browser_report(page, tmp, PAGE_CHECK + script + REPORT)
    assert report["fetched"] == [] and report["scroll"] <= 0 and report["overflow"] == [], report["overflow"]
    return report


def printed_on_a4(page: str, tmp: Path) -> str:
    """An HTML handout printed to PDF by Chromium, on A4 with every word inside the margin; its text."""
    pdf, printed = tmp / "printed.pdf", tmp / "printed.html"
    printed.write_text(page)  # the page as written, without a test script and its report
    chromium(tmp, printed.as_uri(), f"--print-to-pdf={pdf}", "--no-pdf-header-footer")
    right, width = pdf_words_right_edge(pdf)
    assert width == pytest.approx(595.3, abs=1) and right <= width - 14 / 25.4 * 72 + 1  # A4, within the margin
    return " ".join(pdf_text(pdf).split())


def math_document(math: list[str], preamble: str = "") -> str:
    """The math in a LaTeX document of the LaTeX handout's page size."""
    body = "\n".join(rf"\[{m}\]" for m in math)
    head = r"\documentclass{article}\usepackage{amsmath}\usepackage[a4paper,margin=20mm]{geometry}" + preamble
    return rf"{head}\begin{{document}}{body}\end{{document}}"


def markdown_math(doc: str) -> list[str]:
    """The $$ blocks, each $$ on its own line and no blank line within (which would end the
    block on GitHub)."""
    math = re.findall(r"^\$\$\n(.*?)\n\$\$$", doc, re.S | re.M)
    assert all("\n\n" not in m for m in math) and doc.count("$$") == 2 * len(math)
    return math


def mathjax_errors(math: list[str], tmp: Path) -> dict:
    """Typeset with MathJax 2.7 (Jupyter's; Debian's libjs-mathjax) in headless Chromium,
    every parse error reported rather than shown in red."""
    config = {
        "messageStyle": "none",
        "tex2jax": {"inlineMath": [], "displayMath": [["$$", "$$"]]},
        "TeX": {"noErrors": {"disabled": True}, "noUndefined": {"disabled": True}},
    }
    script = f"""errors = [];
MathJax.Hub.Config({json.dumps(config)});
MathJax.Hub.Register.MessageHook("TeX Jax - parse error", m => errors.push(String(m[1])));
MathJax.Hub.Register.MessageHook("Math Processing Error", m => errors.push(String(m[2] || m[1])));
MathJax.Hub.Queue(() => {{
  const merror = document.querySelectorAll('.merror').length;
  const report = {{errors, typeset: MathJax.Hub.getAllJax().length, merror}};
  {REPORT}
}});"""
    head = f'<script type="text/x-mathjax-config">{script}</script>'
    head += f'<script src="{MATHJAX.as_uri()}?config=TeX-AMS_HTML"></script>'
    body = "".join(f"<div>$${html.escape(m)}$$</div>" for m in math)
    page = f"<!DOCTYPE html><html><head>{head}</head><body>{body}</body></html>"
    return browser_report(page, tmp, "", "--allow-file-access-from-files", "--virtual-time-budget=60000")


@pytest.fixture(scope="session")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """tiny(family, **arguments): a tiny random checkpoint of that family (tests/kit/models.py), built
    once a session for each set of arguments. Copy it before damaging it."""
    from tests.kit.models import Built

    return Built(tmp_path_factory.mktemp("tiny"))


# --- LibreOffice, which recalculates the workbooks (#22) ------------------------------
# It does not recalculate an xlsx on load by default: this profile sets OOXMLRecalcMode to 0
# (always). One profile for the session, and one soffice at a time (it locks its profile).
LIBREOFFICE_PROFILE = """<?xml version="1.0" encoding="UTF-8"?>
<oor:items xmlns:oor="http://openoffice.org/2001/registry" xmlns:xs="http://www.w3.org/2001/XMLSchema"
 xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<item oor:path="/org.openoffice.Office.Calc/Formula/Load"><prop oor:name="OOXMLRecalcMode" oor:op="fuse">
<value>0</value></prop></item>
</oor:items>
"""


@pytest.fixture(scope="session")
def recalc(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """recalc(workbooks): each recalculated by LibreOffice and saved again as xlsx (in its own
    dialect), one soffice for the batch; the paths of the saved copies."""
    profile = tmp_path_factory.mktemp("libreoffice")
    (profile / "user").mkdir()
    (profile / "user" / "registrymodifications.xcu").write_text(LIBREOFFICE_PROFILE)

    def convert(books: list[Path]) -> list[Path]:
        out = tmp_path_factory.mktemp("recalculated")
        subprocess.run(
            ["soffice", f"-env:UserInstallation={profile.as_uri()}", "--headless", "--convert-to", "xlsx",
             "--outdir", str(out), *map(str, books)],
            capture_output=True, timeout=600, check=True,
        )  # fmt: skip
        done = [out / b.name for b in books]
        assert all(p.exists() for p in done), [p for p in done if not p.exists()]
        return done

    return convert


# --- A skipped test is not a passing test: any skip fails the run. -----------------
_skipped: list[str] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.skipped:
        _skipped.append(report.nodeid)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _skipped and session.exitstatus == 0:
        session.exitstatus = 1


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _skipped:
        terminalreporter.write_line(f"FAILED: {len(_skipped)} test(s) skipped; every test must run", red=True)


# --- Random weight files covering every option of format 1 --------------------------


@dataclass
class Generated:
    """A weights file (as the dict dumped to YAML) and the plain arrays it encodes."""

    data: dict[str, Any]
    sentence: str
    options: dict[str, Any]
    layers: list[dict[str, np.ndarray | None]] = field(default_factory=list)

    def yaml(self) -> str:
        return yaml.safe_dump(self.data, sort_keys=False)


VOCAB = ["the", "cat", "sat", "on", "mat", "no", "yes", "null", "a", "dog", ".", ","]


def generate(seed: int) -> Generated:
    """A random model: sizes, heads, norm, activation, positional kind, biases, W_O, per-head
    form, embedding_norm, final_norm, lowercase and [UNK] are all drawn from the seed."""
    rng = np.random.default_rng(seed)
    pick = lambda options: options[int(rng.integers(len(options)))]  # noqa: E731
    d = int(pick([2, 3, 4, 6, 8, 12]))
    heads = int(pick([h for h in range(1, d + 1) if d % h == 0]))
    o: dict[str, Any] = {
        "d_model": d,
        "heads": heads,
        "d_ff": int(rng.integers(1, 3 * d + 1)),
        "layers": int(rng.integers(1, 4)),
        "norm": pick([c.value for c in settings.Norm]),  # every declared choice
        "activation": pick([c.value for c in settings.Activation]),
        "positional": pick([c.value for c in settings.Positional]),
        "base": pick([10000.0, 100.0]),
        "eps": pick([1e-5, 1e-6, 0.1]),
        "per_head": bool(rng.integers(2)),
        "W_O": bool(rng.integers(2)),
        "biases": pick(["none", "all", "some"]),
        "embedding_norm": bool(rng.integers(2)),
        "final_norm": bool(rng.integers(2)),
        "lowercase": bool(rng.integers(2)),
        "unk": bool(rng.integers(2)),
    }

    def m(*shape: int) -> np.ndarray:
        return np.asarray(rng.normal(0.0, 0.6, size=shape))

    vocab = [w.capitalize() if o["lowercase"] and i % 3 == 0 else w for i, w in enumerate(VOCAB)]
    embeddings = {w: m(d) for w in vocab}
    if o["unk"]:
        embeddings["[UNK]"] = m(d)
    n = int(rng.integers(1, 10))
    words = [vocab[int(i)] for i in rng.integers(len(vocab), size=n)]
    if o["lowercase"]:  # the sentence may use another case than the vocabulary
        words = [w.upper() if i % 2 else w for i, w in enumerate(words)]
    if o["unk"]:
        words.insert(int(rng.integers(n + 1)), "zebra")
    model = {
        "d_model": d,
        "heads": heads,
        "positional": o["positional"],
        "norm": o["norm"],
        "activation": o["activation"],
        "layer_norm_eps": o["eps"],
        "lowercase": o["lowercase"],
    }
    if o["positional"] == "sinusoidal":
        model["positional_base"] = o["base"]
    data: dict[str, Any] = {"format": 1, "model": model}
    if o["positional"] == "table":
        data["positional_table"] = m(len(words) + int(rng.integers(3)), d)
    if o["embedding_norm"]:
        data["embedding_norm"] = {"gamma": 1 + m(d) / 3, "beta": m(d)}
    data["embeddings"] = embeddings
    generated = Generated(data, " ".join(words), o)
    data["layers"] = []
    for _ in range(o["layers"]):
        arrays: dict[str, np.ndarray | None] = {k: m(d, d) for k in ("W_Q", "W_K", "W_V")}
        arrays["W_O"] = m(d, d) if o["W_O"] else None
        arrays |= {"W_1": m(d, o["d_ff"]), "W_2": m(o["d_ff"], d)}
        for b, size in (
            ("b_Q", d),
            ("b_K", d),
            ("b_V", d),
            ("b_O", d),
            ("b_1", o["d_ff"]),
            ("b_2", d),
        ):
            keep = o["biases"] == "all" or (o["biases"] == "some" and rng.integers(2))
            arrays[b] = m(size) if keep else None
        arrays |= {"gamma_1": 1 + m(d) / 3, "beta_1": m(d), "gamma_2": 1 + m(d) / 3, "beta_2": m(d)}
        generated.layers.append(arrays)
        attention: dict[str, Any] = {}
        if o["per_head"]:
            k = d // heads
            attention["heads"] = [
                {w: arrays[w][:, h * k : (h + 1) * k] for w in ("W_Q", "W_K", "W_V")}  # type: ignore[index]
                for h in range(heads)
            ]
        else:
            attention |= {w: arrays[w] for w in ("W_Q", "W_K", "W_V")}
        attention |= {k: arrays[k] for k in ("W_O", "b_Q", "b_K", "b_V", "b_O") if arrays[k] is not None}
        ffn = {k: arrays[k] for k in ("W_1", "b_1", "W_2", "b_2") if arrays[k] is not None}
        data["layers"].append(
            {
                "attention": attention,
                "norm_1": {"gamma": arrays["gamma_1"], "beta": arrays["beta_1"]},
                "ffn": ffn,
                "norm_2": {"gamma": arrays["gamma_2"], "beta": arrays["beta_2"]},
            }
        )
    if o["final_norm"]:
        data["final_norm"] = {"gamma": 1 + m(d) / 3, "beta": m(d)}
    generated.data = _plain(data)
    return generated


def _plain(value: Any) -> Any:
    """numpy -> lists of Python floats, which PyYAML writes with repr: exact round trips."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value
