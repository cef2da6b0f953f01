"""Shared test helpers: fixture paths, a generator of random weight files, and the no-skip rule."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner, Result

from encoder_cli import settings
from encoder_cli.cli import app

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
SEED = FIXTURES / "the-cat-sat.yaml"
MAT = FIXTURES / "the-cat-sat-on-the-mat.yaml"
PRE = FIXTURES / "pre-norm-gelu.yaml"
SENTENCES = {SEED: "The cat sat", MAT: "The cat sat on the mat", PRE: "a dog ran home, fast."}


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
