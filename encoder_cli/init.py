"""`encoder init`: a commented weights file (format 1) with one-decimal values that are
easy to compute with by hand, the same for the same seed.

What it writes always loads and means what its flags said: every setting is written so that
it reads back as the same number, every token so that it reads back as the same word (quoted,
with escapes, where YAML would read it otherwise), and settings whose file `explain` would
refuse (too many numbers, too large a file) are refused before anything is computed."""

from __future__ import annotations

import math
import re
import unicodedata

import numpy as np
import yaml

from encoder_cli import tokenizer
from encoder_cli.errors import EncoderError
from encoder_cli.settings import (
    MAX_D_FF,
    MAX_D_MODEL,
    MAX_FILE_BYTES,
    MAX_LAYERS,
    MAX_NUMBERS,
    MAX_TOKENS,
    UNK,
    head_counts,
    heads_fit,
)
from encoder_cli.settings import Options as Options

LONGEST_KEY = 1000  # YAML reads a plain or quoted key of at most 1024 characters; longer ones are written `? key`


def validate(o: Options, sentence: list[str]) -> None:
    """The sizes and settings make sense (the command line's flags also bound them), and the file
    they make is one explain reads: at most MAX_NUMBERS numbers and MAX_FILE_BYTES bytes."""
    m = o.model
    for name, value, high in (
        ("d_model", m.d_model, MAX_D_MODEL),
        ("d_ff", o.d_ff, MAX_D_FF),
        ("layers", o.layers, MAX_LAYERS),
    ):
        if not 1 <= value <= high:
            raise EncoderError(f"{value}: from 1 to {high}", argument=name)
    if not heads_fit(m.d_model, m.heads):
        raise EncoderError(
            f"{m.heads} does not divide d_model {m.d_model}; use one of {head_counts(m.d_model)}", argument="heads"
        )
    if o.seed < 0:
        raise EncoderError(f"{o.seed}: a seed is a whole number from 0", argument="seed")
    for name, real, bound in (
        ("positional_base", m.positional_base, "greater than"),
        ("layer_norm_eps", m.layer_norm_eps, "from"),
    ):
        if not math.isfinite(real) or real < 0 or (bound == "greater than" and real == 0):
            raise EncoderError(f"{real}: expected a finite number {bound} 0", argument=name)
    numbers, rows = _size(o, sentence)
    size = 6 * numbers + 16 * rows + 12 * len(o.sentence) + 4096  # "-0.9, " at most; a row's "- [" and "]"
    if numbers > MAX_NUMBERS or size > MAX_FILE_BYTES:
        raise EncoderError(
            f"the file would hold {numbers:,} numbers (up to {size / 2**20:,.0f} MiB); explain reads at most "
            f"{MAX_NUMBERS:,} numbers and {MAX_FILE_BYTES >> 20} MiB: make d_model, d_ff or layers smaller"
        )


def _size(o: Options, sentence: list[str]) -> tuple[int, int]:
    """How many numbers the file holds, and in how many rows."""
    d, f = o.model.d_model, o.d_ff
    table = _table_rows(len(sentence)) if o.model.positional == "table" else 0
    vocab = len(set(sentence)) + o.unk
    norms = 2 * o.embedding_norm + 2 * o.final_norm + 4 * o.layer_norms * o.layers
    biases = (3 + o.w_o) * d + f + d if o.biases else 0
    layer = (3 + o.w_o) * d * d + 2 * d * f + biases
    rows_per_layer = (3 + o.w_o) * d + d + f + (3 + o.w_o + 2 if o.biases else 0)
    return (table + vocab) * d + norms * d + o.layers * layer, table + vocab + norms + o.layers * rows_per_layer


def _table_rows(tokens: int) -> int:
    """A positional table's rows: two more than the sentence needs, as many as a file may hold."""
    return min(tokens + 2, MAX_TOKENS)


def scaffold(o: Options, command: str) -> str:
    """The file's text. `command` is the command line, recorded in the header."""
    m = o.model
    sentence = tokenizer.split(unicodedata.normalize("NFC", o.sentence), m.lowercase)  # as explain takes it
    validate(o, sentence)
    rng = np.random.default_rng(o.seed)
    d, k = m.d_model, m.d_k
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
        f"#   {escaped(command)}",
        f"# d_model {d}, {m.heads} head(s) of d_k {k}, d_ff {o.d_ff}, {o.layers} layer(s). Rows are tokens;",
        "# every product is x W with W stored (inputs x outputs). Try: encoder explain --weights FILE",
        "format: 1",
        f'sentence: "{escaped(o.sentence, chr(34) + chr(92))}"  # what encoder explain -w FILE runs without one',
        "model:",
        f"  d_model: {d}",
        f"  heads: {m.heads}",
        f"  positional: {m.positional}",
    ]
    if m.positional == "sinusoidal":
        out.append(f"  positional_base: {_number(m.positional_base)}")
    out += [
        f"  norm: {m.norm}  # post: LN(x + sublayer(x)), as in BERT; pre: x + sublayer(LN(x))",
        f"  activation: {m.activation}",
        f"  layer_norm_eps: {_number(m.layer_norm_eps)}",
        f"  lowercase: {'true' if m.lowercase else 'false'}",
    ]
    if m.positional == "table":
        rows = _table_rows(len(sentence))
        out += matrix("", "positional_table", rows, d, "row p is added to the token at position p")
    if o.embedding_norm:
        out += ["# LayerNorm of X' = X + PE, before layer 0 (as BERT does)", *norm("", "embedding_norm")]
    out.append(f"embeddings:  # one vector of d_model = {d} numbers per token")
    out += [_entry("  ", t, _row(values(d))) for t in tokens + ([UNK] if o.unk else [])]
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


_TENTHS = {k / 10: f"{k / 10:.1f}".replace("-0.0", "0.0") for k in range(-12, 13)}  # every value init writes


def _row(v: np.ndarray) -> str:
    return "[" + ", ".join(map(_TENTHS.__getitem__, v.tolist())) + "]"


def _number(x: float) -> str:
    """A setting as written: 10000, 1.0e-05, or (where those round it) every digit, 12345.678.
    An exponent has a point before it, as YAML 1.1 needs to read a float (yaml.safe_load reads
    1e-05 as a word; this tool reads it either way)."""
    short = f"{x:g}" if float(f"{x:g}") == x else repr(x)
    mantissa, e, exponent = short.partition("e")
    return f"{mantissa}.0e{exponent}" if e and "." not in mantissa else short


_RESOLVER = yaml.resolver.Resolver()  # what YAML 1.1 makes of a plain key: on and 0x1F are no words there


def _entry(indent: str, token: str, value: str) -> str:
    """`token: value` in a mapping. A word is a plain key; anything YAML would read otherwise
    ([UNK], punctuation, a control character, a line separator) is quoted with escapes; a key
    too long for YAML's simple keys is written as an explicit one, `? key` then `: value`."""
    resolved: str = _RESOLVER.resolve(yaml.ScalarNode, token, (True, False))  # type: ignore[no-untyped-call]
    plain = re.fullmatch(r"\w+", token) and resolved.endswith(":str")
    key = token if plain else f'"{escaped(token, chr(34) + chr(92))}"'  # yes, on, null, 0x1F: words, quoted
    if len(key) > LONGEST_KEY:
        return f"{indent}? {key}\n{indent}: {value}"
    return f"{indent}{key}: {value}"


def escaped(text: str, special: str = "") -> str:
    """The text with every character that does not print as itself (control characters, line
    and paragraph separators, format characters) written as \\xHH (ASCII), \\uHHHH or \\UHHHHHHHH, and
    the special characters after a backslash: escapes that YAML's double quotes and bash's
    $'…' both read back."""
    out = []
    for c in text:
        if c in special:
            out.append("\\" + c)
        elif c.isprintable():
            out.append(c)
        else:
            code = ord(c)
            out.append(f"\\x{code:02x}" if code < 0x80 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}")
    return "".join(out)
