"""`encoder init`: a commented weights file (format 1) with one-decimal values that are
easy to compute with by hand, the same for the same seed."""

from __future__ import annotations

import json
import re

import numpy as np

from encoder_cli import tokenizer
from encoder_cli.errors import EncoderError
from encoder_cli.settings import MAX_D_FF, MAX_D_MODEL, MAX_LAYERS, UNK
from encoder_cli.settings import Options as Options


def validate(o: Options) -> None:
    """The sizes make sense (the command line's flags also bound them)."""
    m = o.model
    for name, value, high in (
        ("d_model", m.d_model, MAX_D_MODEL),
        ("d_ff", o.d_ff, MAX_D_FF),
        ("layers", o.layers, MAX_LAYERS),
    ):
        if not 1 <= value <= high:
            raise EncoderError(f"{value}: from 1 to {high}", argument=name)
    if m.heads < 1 or m.d_model % m.heads:
        divisors = ", ".join(str(h) for h in range(1, m.d_model + 1) if m.d_model % h == 0)
        raise EncoderError(f"{m.heads} does not divide d_model {m.d_model}; use one of {divisors}", argument="heads")


def scaffold(o: Options, command: str) -> str:
    """The file's text. `command` is the command line, recorded in the header."""
    validate(o)
    m = o.model
    rng = np.random.default_rng(o.seed)
    d, k = m.d_model, m.d_k
    sentence = tokenizer.split(o.sentence, m.lowercase)
    tokens = list(dict.fromkeys(sentence))  # each word once, in order

    def values(*shape: int, low: int = -9, high: int = 9) -> np.ndarray:
        """Tenths from low/10 to high/10."""
        return rng.integers(low, high + 1, size=shape) / 10

    def norm(indent: str, name: str) -> list[str]:
        gamma, beta = values(d, low=8, high=12), values(d, low=-2, high=2)
        return [f"{indent}{name}: {{gamma: {_row(gamma)}, beta: {_row(beta)}}}"]

    def matrix(indent: str, name: str, rows: int, cols: int, note: str) -> list[str]:
        return [f"{indent}{name}:  # {note}", *(f"{indent}  - {_row(r)}" for r in values(rows, cols))]

    out = [
        "# A weights file for encoder-cli, format 1, written by:",
        f"#   {command}",
        f"# d_model {d}, {m.heads} head(s) of d_k {k}, d_ff {o.d_ff}, {o.layers} layer(s). Rows are tokens;",
        "# every product is x W with W stored (inputs x outputs). Try: encoder explain SENTENCE --weights FILE",
        "format: 1",
        "model:",
        f"  d_model: {d}",
        f"  heads: {m.heads}",
        f"  positional: {m.positional}",
    ]
    if m.positional == "sinusoidal":
        out.append(f"  positional_base: {m.positional_base:g}")
    out += [
        f"  norm: {m.norm}  # post: LN(x + sublayer(x)), as in BERT; pre: x + sublayer(LN(x))",
        f"  activation: {m.activation}",
        f"  layer_norm_eps: {m.layer_norm_eps:g}",
        f"  lowercase: {'true' if m.lowercase else 'false'}",
    ]
    if m.positional == "table":
        out += matrix("", "positional_table", len(sentence) + 2, d, "row p is added to the token at position p")
    if o.embedding_norm:
        out += ["# LayerNorm of X' = X + PE, before layer 0 (as BERT does)", *norm("", "embedding_norm")]
    out.append(f"embeddings:  # one vector of d_model = {d} numbers per token")
    out += [f"  {_key(t)}: {_row(values(d))}" for t in tokens + ([UNK] if o.unk else [])]
    out.append("layers:")
    for i in range(o.layers):
        out.append(f"  # layer {i}")
        out.append("  - attention:")
        if o.per_head:
            out.append(f"      heads:  # one entry per head, each matrix d_model x d_k = {d} x {k}")
            for h in range(m.heads):
                out.append(f"        # head {h}")
                for n, name in enumerate(("W_Q", "W_K", "W_V")):
                    lead = "        - " if n == 0 else "          "
                    out += [f"{lead}{name}:", *(f"            - {_row(r)}" for r in values(d, k))]
        else:
            for name in ("W_Q", "W_K", "W_V"):
                note = "d_model x d_model" + (f"; head h owns columns h*{k} to h*{k}+{k - 1}" if m.heads > 1 else "")
                out += matrix("      ", name, d, d, note)
        if o.w_o:
            out += matrix("      ", "W_O", d, d, "d_model x d_model, applied to the heads side by side")
        if o.biases:
            out += [f"      {name}: {_row(values(d))}" for name in ("b_Q", "b_K", "b_V") + (("b_O",) if o.w_o else ())]
        if o.layer_norms:
            out += norm("    ", "norm_1")
        out.append("    ffn:")
        out += matrix("      ", "W_1", d, o.d_ff, f"d_model x d_ff = {d} x {o.d_ff}")
        if o.biases:
            out.append(f"      b_1: {_row(values(o.d_ff))}")
        out += matrix("      ", "W_2", o.d_ff, d, f"d_ff x d_model = {o.d_ff} x {d}")
        if o.biases:
            out.append(f"      b_2: {_row(values(d))}")
        if o.layer_norms:
            out += norm("    ", "norm_2")
    if o.final_norm:
        out += ["# LayerNorm of the last layer's output (pre-norm models usually have one)", *norm("", "final_norm")]
    return "\n".join(out) + "\n"


def _row(v: np.ndarray) -> str:
    return "[" + ", ".join(f"{x:.1f}".replace("-0.0", "0.0") for x in v) + "]"


def _key(token: str) -> str:
    """A word as a plain key; anything YAML would read otherwise ([UNK], punctuation) quoted."""
    return token if re.fullmatch(r"\w+", token) else json.dumps(token, ensure_ascii=False)
