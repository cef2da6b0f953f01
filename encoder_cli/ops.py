"""Each kind of step, defined once: its math, its formula (Unicode and LaTeX) and the worked
arithmetic of one of its cells, from whatever input values it is given.

Conventions (the weights file's): float64 throughout, row vectors, every projection is
`x @ W` with W stored (inputs x outputs). Legend: n tokens, d = d_model, d_k = d / heads.

An op is called on its inputs' values and returns the step's value; `formula` writes it with
its inputs' symbols (`Q Kᵀ`), and `work` works out cell [i, j] from input values: the trace's
own, or a student's, which is how a carried error is recomputed.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple

import numpy as np

from encoder_cli.settings import PRODUCT_BLOCK, Activation, Pooling

if TYPE_CHECKING:
    from encoder_cli.spec import Matrix

Array = np.ndarray
LONG = 8  # a sum of more terms shows the first and last few around "…"


class Sym(NamedTuple):
    """How a formula writes a quantity: as text and as LaTeX."""

    text: str
    tex: str


class Cell(NamedTuple):
    """The cell being worked out, and how to write it."""

    i: int
    j: int
    f: Callable[[float], str]  # how a number is written: 0.123
    inputs: Sequence[str]  # the inputs' names as a student writes them: "X", "PE", "norm_1"
    row: str  # the row's label: "cat"
    col: str  # the column's label: "d0"


class Worked(NamedTuple):
    kind: str  # dot, sum, sine, cosine, lookup, table, zero, divide, softmax, masked, mean, variance,
    # layer_norm, relu, gelu, gelu_tanh, copy, bucket, norm, difference, tanh, sigmoid, angle, rotate, mask, product
    text: str  # the arithmetic, at the display precision: "Q[The] · K[cat] = (0.20 × 0.10) + (1.40 × 0.20)"
    terms: list[Any]  # the numbers it is made of (pairs for a dot product), full precision
    result: float  # computed from the terms


class Op:
    """One kind of step. Subclasses define `__call__` (the math), `formula` and `work`."""

    kind: ClassVar[str]
    # Column labels: "d" (d0, d1, ...), "tokens" (n x n), "same" (the first input's), or fixed.
    cols: ClassVar[str | tuple[str, ...]] = "d"
    rows: ClassVar[tuple[str, ...] | None] = None  # row labels, where they are not the tokens
    looked_up: ClassVar[bool] = False  # its values are read off printed parameters: nothing to work out
    heatmap: ClassVar[bool] = False  # its values are shares (0 to 1): the views colour them as a heatmap
    vocabulary: ClassVar[bool] = False  # its columns are a vocabulary's words: the views show each row's top k

    # The math: the step's value from its inputs' values.
    __call__: Callable[..., Array]
    # The formula, naming its inputs by their symbols (and its result `out`, where it has a name).
    formula: Callable[..., Sym]
    # Cell [i, j] worked out from input values (the trace's, or a student's).
    work: Callable[..., Worked]

    @property
    def params(self) -> Mapping[str, Matrix]:
        """The weights it uses, by their names in the weights file."""
        return {}

    def level(self, v: float) -> float:
        """Where a value of a heatmap sits, from 0 to 1: a share, as it is."""
        return v

    def verdict(self, value: Array, cols: Sequence[str], f: Callable[[float], str]) -> str | None:
        """What the views say under its matrix, where its values are an answer (a classifier's label)."""
        return None


def _named(out: Sym | None, expr: Sym) -> Sym:
    """`out = expr`, or expr alone for a result without a name."""
    return expr if out is None else Sym(f"{out.text} = {expr.text}", f"{out.tex} = {expr.tex}")


# The worked arithmetic writes a negative number after an operator so that it reads at once:
# subtracted in a sum (0.854 − 0.390, never 0.854 + -0.390), in parentheses elsewhere
# ((x − μ) as (-1.100 − (-0.633)), 0.5 × (-0.2)³).


def _signed(term: str) -> str:
    """A term of a sum after the first: ' + 0.390', or ' − 0.390' for '-0.390'."""
    return f" − {term[1:]}" if term.startswith("-") else f" + {term}"


def _paren(number: str) -> str:
    """A number after an operator other than + : '-0.633' as '(-0.633)'."""
    return f"({number})" if number.startswith("-") else number


def _sum(parts: list[str]) -> str:
    """a + b − c, or the first three and last two around "…" when long."""
    if len(parts) > LONG:
        parts = [*parts[:3], f"… ({len(parts) - 5} more) …", *parts[-2:]]
    return parts[0] + "".join(map(_signed, parts[1:]))


def _subscript(name: str) -> str:
    r"""A weight's name in TeX: W_Q as it is, W_vocab as W_{\mathrm{vocab}} (W_vocab is W_v, then "ocab")."""
    symbol, _, sub = name.partition("_")
    return rf"{symbol}_{{\mathrm{{{sub}}}}}" if len(sub) > 1 else name


def _col(c: Cell, k: int) -> str:
    """Column k labelled as the worked cell's own column is (d4, f21): the inputs of a step whose columns are its
    input's (Rotary, Half) are labelled alike."""
    return c.col.rstrip("0123456789") + str(k)


def _dot(c: Cell, names: str, a: Array, w: Array, bias: float | None = None) -> Worked:
    """a · w (+ bias), term by term, after what they are (unless names is ''):
    `Q[The] · K[cat] = (2.300 × 1.100) + …`."""
    pairs = [[float(p), float(q)] for p, q in zip(a, w, strict=True)]
    extra = [] if bias is None else [float(bias)]
    text = _sum([f"({c.f(p)} × {c.f(q)})" for p, q in pairs]) + "".join(_signed(c.f(b)) for b in extra)
    return Worked("dot", f"{names} = {text}" if names else text, [*pairs, *extra], float(a @ w) + sum(extra))


# --- Stage 1: tokens and embeddings ----------------------------------------------------


class Lookup(Op):
    """X: each token's row of the embeddings."""

    kind = "lookup"
    looked_up = True

    def __init__(self, X: Array, tokens: Sequence[str], unknown: Sequence[int]) -> None:
        self.X = X  # [n, d]
        self.tokens = tokens
        self.unknown = unknown  # positions that took the [UNK] embedding

    def __call__(self) -> Array:
        return self.X

    def formula(self, out: Sym | None) -> Sym:
        return _named(out, Sym("embedding of each token", r"\text{the embedding of each token}"))

    def work(self, c: Cell) -> Worked:
        unknown = " (unknown: [UNK])" if c.i in self.unknown else ""
        text = f"embedding of {self.tokens[c.i]!r}{unknown}, {c.col}"
        return Worked("lookup", text, [], float(self.X[c.i, c.j]))


# --- Stage 2: positional encoding --------------------------------------------------------


def sinusoidal(n: int, d: int, base: float) -> Array:  # -> [n, d]
    """PE(pos, 2i) = sin(pos / base^(2i/d)),  PE(pos, 2i+1) = cos(pos / base^(2i/d))."""
    pos = np.arange(n, dtype=np.float64)[:, None]
    two_i = (np.arange(d) // 2 * 2).astype(np.float64)  # 2i for columns 2i and 2i+1
    angle = pos / base ** (two_i / d)
    return np.where(np.arange(d) % 2 == 0, np.sin(angle), np.cos(angle))


def _tex_number(x: float) -> str:
    """A setting as LaTeX: 10000, 0.1, 10^{-5}, 2.5 \\times 10^{-6}."""
    mantissa, _, exponent = f"{x:g}".partition("e")
    if not exponent:
        return mantissa
    power = f"10^{{{int(exponent)}}}"
    return power if mantissa == "1" else rf"{mantissa} \times {power}"


class Sinusoidal(Op):
    kind = "sinusoidal"

    def __init__(self, n: int, d: int, base: float) -> None:
        self.n = n
        self.d = d
        self.base = base

    def __call__(self) -> Array:
        return sinusoidal(self.n, self.d, self.base)

    def formula(self, out: Sym | None) -> Sym:
        b, tb = f"{self.base:g}", _tex_number(self.base)
        return Sym(
            f"PE(pos, 2i) = sin(pos / {b}^(2i/d)),  PE(pos, 2i+1) = cos(pos / {b}^(2i/d))",
            rf"PE_{{(pos,\,2i)}} = \sin\left(pos / {tb}^{{2i/d}}\right), \quad "
            rf"PE_{{(pos,\,2i+1)}} = \cos\left(pos / {tb}^{{2i/d}}\right)",
        )

    def work(self, c: Cell) -> Worked:
        two_i = c.j - c.j % 2
        angle = c.i / self.base ** (two_i / self.d)
        fn, kind = (math.sin, "sine") if c.j % 2 == 0 else (math.cos, "cosine")
        text = f"{kind[:3]}({c.i} / {self.base:g}^({two_i}/{self.d})) = {kind[:3]}({angle:.6g})"
        return Worked(kind, text, [c.i, self.base, two_i, self.d], fn(angle))


class Table(Op):
    """PE: rows of a learned position table. positions: each token's row (0, 1, 2, ... unless the model's
    positions start after a padding index, as RoBERTa's and MPNet's do: 2, 3, 4, ...)."""

    kind = "table"
    looked_up = True

    def __init__(self, table: Array, positions: Sequence[int]) -> None:
        self.table = table  # [n, d]: the rows of the positional table for these positions
        self.positions = list(positions)

    def __call__(self) -> Array:
        return self.table

    def formula(self, out: Sym | None) -> Sym:
        start = self.positions[0] if self.positions else 0
        if start == 0:
            return Sym("PE(pos) = positional_table[pos]", r"PE_{pos} = \text{row } pos \text{ of the positional table}")
        return Sym(
            f"PE(pos) = positional_table[pos + {start}] (positions start after the padding index {start - 1})",
            rf"PE_{{pos}} = \text{{row }} pos + {start} \text{{ of the positional table}}",
        )

    def work(self, c: Cell) -> Worked:
        return Worked("table", f"positional_table[{self.positions[c.i]}][{c.j}]", [], float(self.table[c.i, c.j]))

    @property
    def params(self) -> dict[str, Array]:
        return {"positional_table": self.table}


class Zero(Op):
    kind = "none"
    looked_up = True

    def __init__(self, n: int, d: int) -> None:
        self.n = n
        self.d = d

    def __call__(self) -> Array:
        return np.zeros((self.n, self.d))

    def formula(self, out: Sym | None) -> Sym:
        return Sym("PE = 0 (positional: none)", r"PE = 0 \quad (\text{positional: none})")

    def work(self, c: Cell) -> Worked:
        return Worked("zero", "0 (positional: none)", [], 0.0)


class TokenType(Op):
    """TT: the token type (segment) embedding of each token's type; one sentence is all type 0, a pair's
    second sentence type 1 (BERT)."""

    kind = "token_type"
    looked_up = True

    def __init__(self, table: Array, used: Sequence[int], types: Sequence[int]) -> None:
        self.table = table  # [k, d]: token_type_embeddings[used[0]], ... (type 0, type 1)
        self.used = list(used)
        self.types = list(types)  # each token's type

    def __call__(self) -> Array:
        return self.table[[self.used.index(k) for k in self.types]]

    def formula(self, out: Sym | None) -> Sym:
        if len(self.used) == 1:
            k = self.used[0]
            return _named(out, Sym(f"token type {k} embedding of each token",
                                   rf"\text{{the token type {k} embedding of each token}}"))  # fmt: skip
        return _named(out, Sym("token_type_embeddings[type of each token] (A: 0, B: 1)",
                               r"\text{the token type embedding of each token's type (A: 0, B: 1)}"))  # fmt: skip

    def work(self, c: Cell) -> Worked:
        k = self.types[c.i]
        return Worked("lookup", f"token_type_embeddings[{k}][{c.j}]", [], float(self.table[self.used.index(k), c.j]))

    @property
    def params(self) -> dict[str, Array]:
        return {f"token_type_embeddings[{k}]": row for k, row in zip(self.used, self.table, strict=True)}


# --- Sums and products ------------------------------------------------------------------


class Add(Op):
    """a + b (+ c), cell by cell: X' = X + PE (+ token types), and the residuals."""

    kind = "add"
    cols = "same"

    def __call__(self, *xs: Array) -> Array:
        return sum(xs[1:], xs[0])

    def formula(self, out: Sym | None, *xs: Sym) -> Sym:
        return _named(out, Sym(" + ".join(x.text for x in xs), " + ".join(x.tex for x in xs)))

    def work(self, c: Cell, *xs: Array) -> Worked:
        terms = [float(x[c.i, c.j]) for x in xs]
        names = " + ".join(f"{name}[{c.row}, {c.col}]" for name in c.inputs)
        return Worked("sum", f"{names} = {_sum([c.f(t) for t in terms])}", terms, math.fsum(terms))


class Linear(Op):
    """x W + b. Absent W passes x through (no W_O); absent b adds nothing. `part` names the
    columns a head owns, [0:2], when W and b are a head's slice of the file's matrices."""

    kind = "linear"

    def __init__(
        self, W: Matrix | None, b: Array | None, W_name: str, b_name: str, part: tuple[int, int] | None = None
    ) -> None:
        self.W = W  # [inputs, outputs]; a checkpoint's is read from its file when used
        self.b = b  # [outputs]
        self.W_name = W_name  # "W_Q"
        self.b_name = b_name  # "b_Q"
        self.part = part

    def __call__(self, x: Array) -> Array:
        y = x if self.W is None else self.product(x, self.W)
        return y if self.b is None else y + self.b

    @staticmethod
    def product(x: Array, W: Matrix) -> Array:  # [n, inputs] x [inputs, outputs] -> [n, outputs]
        """x W, a block of W's columns at a time (each read from its file and widened only then), so
        that a checkpoint's W is never held whole in float64. Column j is x · W[:, j] whatever the
        blocks; BLAS may sum a block's edge in another order (a few ulps); a W of at most
        PRODUCT_BLOCK numbers (a head's columns of W_Q) is one block."""
        inputs, outputs = W.shape
        step = max(1, PRODUCT_BLOCK // max(1, inputs))
        y = np.empty((x.shape[0], outputs))
        for a in range(0, outputs, step):
            y[:, a : a + step] = x @ np.asarray(W[:, a : a + step])
        return y

    def formula(self, out: Sym | None, x: Sym) -> Sym:
        a, b = self.part or (0, 0)
        part, tex_part = ("", "") if self.part is None else (f"[{a}:{b}]", f"[{a}{{:}}{b}]")  # a head's columns
        text, tex = x.text, x.tex
        if self.W is not None:  # W_Q[:, 2:4]: columns, not rows
            text, tex = (
                f"{text} {self.W_name}{part and '[:, ' + part[1:]}",
                rf"{tex}\,{_subscript(self.W_name)}{tex_part and '[:,' + tex_part[1:]}",
            )
        if self.b is not None:
            text, tex = f"{text} + {self.b_name}{part}", f"{tex} + {_subscript(self.b_name)}{tex_part}"
        return _named(out, Sym(text, tex))

    def work(self, c: Cell, x: Array) -> Worked:
        bias = None if self.b is None else float(self.b[c.j])
        k = c.j + (self.part or (0, 0))[0]  # the column of the file's W and b
        plus_b = "" if bias is None else f" + {self.b_name}[{k}]"
        if self.W is not None:
            # What x is, unless it is X' (`input`), whose products the seed writes on their own.
            names = "" if c.inputs[0] == "X'" else f"{c.inputs[0]}[{c.row}] · {self.W_name}[:, {k}]{plus_b}"
            return _dot(c, names, x[c.i], self.W[:, c.j], bias)
        value = float(x[c.i, c.j])  # no W_O: the concatenated heads pass through
        text = f"{c.inputs[0]}[{c.row}, {c.col}]{plus_b}"
        if bias is None:  # a sum of one term: said once, not as 1.877 = 1.877
            return Worked("sum", text, [value], value)
        return Worked("sum", f"{text} = {c.f(value)}{_signed(c.f(bias))}", [value, bias], value + bias)

    @property
    def params(self) -> Mapping[str, Matrix]:
        return {name: v for name, v in ((self.W_name, self.W), (self.b_name, self.b)) if v is not None}


class MatmulT(Op):
    """A Bᵀ: row i of A with row j of B (the scores Q Kᵀ)."""

    kind = "matmul_t"
    cols = "tokens"

    def __call__(self, a: Array, b: Array) -> Array:
        return a @ b.T  # type: ignore[no-any-return]

    def formula(self, out: Sym | None, a: Sym, b: Sym) -> Sym:
        return _named(out, Sym(f"{a.text} {b.text}ᵀ", f"{a.tex} {b.tex}^T"))

    def work(self, c: Cell, a: Array, b: Array) -> Worked:
        return _dot(c, f"{c.inputs[0]}[{c.row}] · {c.inputs[1]}[{c.col}]", a[c.i], b[c.j])


class Matmul(Op):
    """A B: row i of A with column j of B (weights V)."""

    kind = "matmul"

    def __call__(self, a: Array, b: Array) -> Array:
        return a @ b  # type: ignore[no-any-return]

    def formula(self, out: Sym | None, a: Sym, b: Sym) -> Sym:
        return _named(out, Sym(f"{a.text} {b.text}", rf"{a.tex}\; {b.tex}"))

    def work(self, c: Cell, a: Array, b: Array) -> Worked:
        return _dot(c, f"{c.inputs[0]}[{c.row}] · {c.inputs[1]}[:, {c.col}]", a[c.i], b[:, c.j])


# --- Stage 3: attention ----------------------------------------------------------------


class Scale(Op):
    """s / √d_k."""

    kind = "scale"
    cols = "same"

    def __init__(self, d_k: int) -> None:
        self.d_k = d_k

    def __call__(self, s: Array) -> Array:
        return s / math.sqrt(self.d_k)

    def formula(self, out: Sym | None, s: Sym) -> Sym:
        root = f"{math.sqrt(self.d_k):.4g}"
        return Sym(
            f"{s.text} / √d_k,  √d_k = √{self.d_k} = {root}",
            rf"\frac{{{s.tex}}}{{\sqrt{{d_k}}}}, \quad \sqrt{{d_k}} = \sqrt{{{self.d_k}}} = {root}",
        )

    def work(self, c: Cell, s: Array) -> Worked:
        v = float(s[c.i, c.j])
        return Worked("divide", f"{c.f(v)} / √{self.d_k}", [v, self.d_k], v / math.sqrt(self.d_k))


def bucket(i: int, j: int) -> int:
    """MPNet's bucket of the relative position j − i (transformers' relative_position_bucket, 32 buckets,
    max_distance 128): 16 a direction (0-15 for keys at or before the query, 16-31 after it); a distance
    below 8 is its own bucket, a longer one is log-spaced, 8 + ⌊8 · ln(|i − j| / 8) / ln(128 / 8)⌋, up to 15."""
    distance = abs(i - j)
    after = 16 if j > i else 0
    if distance < 8:
        return after + distance
    return after + min(8 + int(math.log(distance / 8) / math.log(128 / 8) * 8), 15)


class RelativeBuckets(Op):
    """MPNet: the bucket of each query-key offset j − i, shared by every layer and head."""

    kind = "bucket"
    cols = "tokens"

    def __init__(self, n: int) -> None:
        self.n = n

    def __call__(self) -> Array:
        return np.array([[bucket(i, j) for j in range(self.n)] for i in range(self.n)], dtype=np.float64)

    def formula(self, out: Sym | None) -> Sym:
        return Sym(
            "bucket(j − i): 16 if j > i, plus |i − j| below 8, else 8 + ⌊8 ln(|i − j| / 8) / ln 16⌋ (at most 15)",
            r"\mathrm{bucket}(j - i) = 16\,[j > i] + \begin{cases} |i - j| & |i - j| < 8 \\ "
            r"\min\left(15,\ 8 + \left\lfloor 8 \ln(|i - j| / 8) / \ln 16 \right\rfloor\right) & \text{otherwise}"
            r"\end{cases}",
        )

    def work(self, c: Cell) -> Worked:
        i, j = c.i, c.j
        distance = abs(i - j)
        after = "16 (the key after the query) + " if j > i else ""
        if distance < 8:
            return Worked("bucket", f"{after}|{i} − {j}|", [i, j], float(bucket(i, j)))
        return Worked("bucket", f"{after}min(15, 8 + ⌊8 ln({distance}/8) / ln 16⌋)", [i, j], float(bucket(i, j)))


class PositionBias(Op):
    """MPNet: head h's learned bias for each query-key pair, the row of its bucket in the table
    relative_attention_bias [32, heads], shared by every layer."""

    kind = "position_bias"
    cols = "same"
    looked_up = True

    def __init__(self, table: Array, h: int) -> None:
        self.table = table  # [buckets, heads]: relative_attention_bias
        self.h = h

    def __call__(self, buckets: Array) -> Array:
        # A bucket that is no row of the table (unknown, NaN, in a worksheet; a student's wrong one) has no bias.
        known = np.isfinite(buckets) & (buckets == np.round(buckets)) & (buckets >= 0) & (buckets < len(self.table))
        bias = np.full(buckets.shape, np.nan)
        bias[known] = self.table[buckets[known].astype(np.intp), self.h]
        return bias

    def formula(self, out: Sym | None, buckets: Sym) -> Sym:
        return Sym(
            f"relative_attention_bias[{buckets.text}(j − i), {self.h}]",
            rf"\mathrm{{relative\_attention\_bias}}[\mathrm{{{buckets.tex}}}(j - i), {self.h}]",
        )

    def work(self, c: Cell, buckets: Array) -> Worked:
        b = float(buckets[c.i, c.j])
        value = float(self(np.array([b]))[0])
        row = int(b) if math.isfinite(value) else c.f(b)  # no such bucket: NaN
        return Worked("lookup", f"relative_attention_bias[{row}, {self.h}]", [b], value)

    @property
    def params(self) -> dict[str, Array]:
        return {"relative_attention_bias": self.table}


def log_bucket(delta: int, buckets: int, max_distance: int) -> int:
    """DeBERTa's relative position δ = i − j in its log buckets (transformers' make_log_bucket_position):
    δ itself up to mid = buckets // 2 away, past it sign(δ) · (mid + ⌈(mid − 1) ln(|δ| / mid) / ln((max − 1) / mid)⌉),
    max = max_relative_positions; no buckets (0): δ itself."""
    mid = buckets // 2
    if buckets == 0 or abs(delta) <= mid:
        return delta
    far = mid + math.ceil(math.log(abs(delta) / mid) / math.log((max_distance - 1) / mid) * (mid - 1))
    return far if delta > 0 else -far


class RelativePositions(Op):
    """DeBERTa: δ(i, j), the relative position of key j to query i (i − j) in log buckets, within the table's
    −span … span − 1 (transformers clamps the row δ + span into the table); shared by every layer and head."""

    kind = "bucket"
    cols = "tokens"

    def __init__(self, n: int, buckets: int, max_distance: int, span: int) -> None:
        self.n, self.buckets, self.max_distance, self.span = n, buckets, max_distance, span

    def delta(self, i: int, j: int) -> int:
        return min(max(log_bucket(i - j, self.buckets, self.max_distance), -self.span), self.span - 1)

    def _by_offset(self) -> list[int]:
        """δ for each offset i − j from −(n − 1) to n − 1: the matrix holds 2 n − 1 values."""
        return [self.delta(max(r, 0), max(-r, 0)) for r in range(1 - self.n, self.n)]

    def __call__(self) -> Array:
        i = np.arange(self.n)
        return np.array(self._by_offset(), dtype=np.float64)[i[:, None] - i[None, :] + self.n - 1]  # type: ignore[no-any-return]

    def deltas(self) -> list[int]:
        """The δ the sentence reads, each once (the rows of the table it uses): at most 2 n − 1."""
        return sorted(set(self._by_offset()))

    def formula(self, out: Sym | None) -> Sym:
        span = f"within −{self.span} … {self.span - 1}"
        tex_span = rf"\text{{within }} {-self.span} \dots {self.span - 1}"
        if not self.buckets:
            return _named(out, Sym(f"i − j, {span}", rf"i - j, \quad {tex_span}"))
        mid, top = self.buckets // 2, self.max_distance - 1
        return _named(
            out,
            Sym(
                f"i − j up to {mid} away, past it sign(i − j) · ({mid} + ⌈{mid - 1} ln(|i − j|/{mid}) / "
                f"ln({top}/{mid})⌉), {span}",
                rf"\begin{{cases}} i - j & |i - j| \le {mid} \\ \mathrm{{sign}}(i - j)\left({mid} + \left\lceil "
                rf"{mid - 1} \ln\frac{{|i - j|}}{{{mid}}} / \ln\frac{{{top}}}{{{mid}}} \right\rceil\right) & "
                rf"\text{{otherwise}} \end{{cases}}, \quad {tex_span}",
            ),
        )

    def work(self, c: Cell) -> Worked:
        i, j, value = c.i, c.j, self.delta(c.i, c.j)
        text = f"{i} − {j} = {i - j}"
        mid = self.buckets // 2
        if self.buckets and abs(i - j) > mid:
            sign, top = "" if i > j else "−", self.max_distance - 1
            text += f", past {mid}: {sign}({mid} + ⌈{mid - 1} × ln({abs(i - j)}/{mid}) / ln({top}/{mid})⌉)"
        if value != (bucket := log_bucket(i - j, self.buckets, self.max_distance)):
            text += f" = {bucket}" if bucket != i - j else ""
            text += f", past the table's {-self.span} … {self.span - 1}: its edge"
        return Worked("bucket", text, [i, j], float(value))


class RelativeRows(Op):
    """DeBERTa: the rows of the relative position embeddings (rel_embeddings) the sentence reads, row δ + span
    for each relative position δ, shared by every layer."""

    kind = "table"
    looked_up = True

    def __init__(self, rows: Array, deltas: Sequence[int], span: int) -> None:
        self.table = rows  # [k, d]: rel_embeddings[δ + span] for each δ of deltas
        self.deltas, self.span = list(deltas), span

    def __call__(self) -> Array:
        return self.table

    def formula(self, out: Sym | None) -> Sym:
        return Sym(
            f"rel_embeddings[δ + {self.span}] for δ = {self.deltas[0]} … {self.deltas[-1]}",
            rf"\text{{row }} \delta + {self.span} \text{{ of rel\_embeddings}}",
        )

    def work(self, c: Cell) -> Worked:
        row = self.deltas[c.i] + self.span
        return Worked("table", f"rel_embeddings[{row}][{c.j}]", [], float(self.table[c.i, c.j]))

    @property
    def params(self) -> dict[str, Array]:
        return {"rel_embeddings": self.table}


class PositionTerm(Op):
    """A DeBERTa head's position terms: content to position, c2p[i, j] = Q[i] · K_r[δ(i, j)], and position to
    content, p2c[i, j] = K[j] · Q_r[δ(i, j)], where K_r and Q_r are the relative embeddings through W_K and W_Q
    (one row per relative position δ). Both read δ(i, j), of key j to query i: transformers' p2c gathers
    bucket(j − i) negated, which is bucket(i − j), where the paper writes δ(j, i)."""

    kind = "position_term"
    cols = "tokens"

    def __init__(self, to_position: bool, deltas: Sequence[int]) -> None:
        self.to_position = to_position  # c2p: the query's row; p2c: the key's
        self.deltas = list(deltas)  # the δ of each row of K_r (Q_r)

    def _at(self, delta: Array) -> tuple[Array, Array]:
        """Each δ's row of K_r (Q_r), and where δ is one of them (a student's may not be)."""
        at = np.clip(np.searchsorted(self.deltas, delta), 0, len(self.deltas) - 1)
        return at, np.asarray(self.deltas)[at] == delta

    def __call__(self, content: Array, position: Array, delta: Array) -> Array:
        n = len(delta)
        dots = content @ position.T  # [n, k]: each token's content with each relative position's
        at, known = self._at(delta)
        picked = dots[np.arange(n)[:, None], at] if self.to_position else dots[np.arange(n)[None, :], at]
        return np.where(known, picked, np.nan)

    def formula(self, out: Sym | None, content: Sym, position: Sym, delta: Sym) -> Sym:
        k = "i" if self.to_position else "j"  # c2p: the query's content; p2c: the key's
        text = f"{content.text}[{k}] · {position.text}[{delta.text}(i, j)]"
        return _named(out, Sym(text, rf"{content.tex}_{k} \cdot {position.tex}_{{{delta.tex}(i,j)}}"))

    def work(self, c: Cell, content: Array, position: Array, delta: Array) -> Worked:
        d = float(delta[c.i, c.j])
        own, mine = (c.i, c.row) if self.to_position else (c.j, c.col)
        if d not in self.deltas:
            return Worked("dot", f"{c.inputs[2]}[{c.row}, {c.col}] = {c.f(d)}: no such row of {c.inputs[1]}", [d],
                          math.nan)  # fmt: skip
        shown = f"{int(d)}"
        names = f"{c.inputs[0]}[{mine}] · {c.inputs[1]}[δ = {shown}]"
        return _dot(c, names, content[own], position[self.deltas.index(int(d))])


class ScaleTerms(Op):
    """DeBERTa: the scores' terms summed, then scaled by √(d_k × terms): (Q Kᵀ + c2p + p2c) / √(3 d_k)."""

    kind = "scale"
    cols = "same"

    def __init__(self, d_k: int, terms: int) -> None:
        self.d_k, self.terms = d_k, terms

    def __call__(self, *xs: Array) -> Array:
        return sum(xs[1:], xs[0]) / math.sqrt(self.d_k * self.terms)

    def formula(self, out: Sym | None, *xs: Sym) -> Sym:
        k, root = self.d_k * self.terms, f"{math.sqrt(self.d_k * self.terms):.4g}"
        text, tex = " + ".join(x.text for x in xs), " + ".join(x.tex for x in xs)
        return Sym(
            f"({text}) / √(d_k × {self.terms}),  √({self.d_k} × {self.terms}) = √{k} = {root}",
            rf"\frac{{{tex}}}{{\sqrt{{{self.terms}\,d_k}}}}, \quad \sqrt{{{self.terms} \cdot {self.d_k}}} = {root}",
        )

    def work(self, c: Cell, *xs: Array) -> Worked:
        terms = [float(x[c.i, c.j]) for x in xs]
        text = f"({_sum([c.f(t) for t in terms])}) / √({self.d_k} × {self.terms})"
        result = math.fsum(terms) / math.sqrt(self.d_k * self.terms)
        return Worked("divide", text, [*terms, self.d_k, self.terms], result)


def softmax(x: Array) -> Array:  # [n, m] -> [n, m], each row sums to 1
    """softmax(x)_j = exp(x_j) / sum_k exp(x_k); shifting by the row max changes nothing but overflow."""
    e = x - x.max(axis=-1, keepdims=True)
    np.exp(e, out=e)  # in place: an 8192 x 8192 softmax needs no 512 MB temporaries
    e /= e.sum(axis=-1, keepdims=True)
    return e  # type: ignore[no-any-return]


class Softmax(Op):
    kind = "softmax"
    cols = "same"
    heatmap = True

    def __call__(self, s: Array) -> Array:
        return softmax(s)

    def formula(self, out: Sym | None, s: Sym) -> Sym:
        return Sym(
            "softmax of each row: exp(sⱼ) / Σₖ exp(sₖ)",
            r"\mathrm{softmax}(s)_j = \frac{e^{s_j}}{\sum_k e^{s_k}} \quad \text{along each row}",
        )

    def work(self, c: Cell, s: Array) -> Worked:
        row, f = s[c.i], c.f
        exps = np.exp(row - row.max())  # shifted like the computation; shown unshifted when it fits
        shift = "" if row.max() < 700 else f" (each shifted by the row's largest, {f(row.max())})"
        shown = np.exp(row) if not shift else exps
        terms = [f"exp({f(v)})" for v in row]
        text = f"exp({f(row[c.j])}) / ({_sum(terms) if self.vocabulary else ' + '.join(terms)}){shift}"
        text += f" = {f(shown[c.j])} / {f(shown.sum())}"
        return Worked("softmax", text, [float(v) for v in row], float(exps[c.j] / exps.sum()))


class MaskedSoftmax(Softmax):
    """softmax over the window only: a masked-out score (mask 0) weighs 0 (transformers adds −∞ to it)."""

    def __call__(self, s: Array, mask: Array) -> Array:  # type: ignore[override]
        # 0 outside the window whatever s holds (a NaN, in a worksheet, reaches only the window's weights)
        return np.where(mask > 0, softmax(np.where(mask > 0, s, -np.inf)), 0.0)

    def formula(self, out: Sym | None, s: Sym, mask: Sym) -> Sym:  # type: ignore[override]
        return Sym(
            f"softmax of each row over the keys where {mask.text} is 1: exp(sⱼ) / Σₖ exp(sₖ); 0 where it is 0",
            r"\mathrm{softmax}(s)_j = \frac{[m_j = 1]\,e^{s_j}}{\sum_{k: m_k = 1} e^{s_k}} \quad \text{along each row}",
        )

    def work(self, c: Cell, s: Array, mask: Array) -> Worked:  # type: ignore[override]
        inside = np.flatnonzero(mask[c.i] > 0)
        if mask[c.i, c.j] <= 0:
            return Worked("masked", f"{c.inputs[1]}[{c.row}, {c.col}] = 0: outside the window", [], 0.0)
        return super().work(c._replace(i=0, j=int(np.searchsorted(inside, c.j))), s[c.i][inside][None, :])


def rope_angles(n: int, d_k: int, theta: float) -> Array:  # -> [n, d_k / 2]
    """angle[p, i] = p · θ^(−2i / d_k): position p times frequency i (transformers' inv_freq)."""
    return np.arange(n, dtype=np.float64)[:, None] * theta ** (-np.arange(0, d_k, 2, dtype=np.float64) / d_k)


class RopeAngles(Op):
    """ModernBERT's rotary angles: column pair i of a head turns by p · θ^(−2i / d_k) at position p."""

    kind = "angle"

    def __init__(self, n: int, d_k: int, theta: float) -> None:
        self.n, self.d_k, self.theta = n, d_k, theta

    def __call__(self) -> Array:
        return rope_angles(self.n, self.d_k, self.theta)

    def formula(self, out: Sym | None) -> Sym:
        return _named(
            out,
            Sym(
                f"p · θ^(−2i/d_k): position p, pair i; θ = {self.theta:g}, d_k = {self.d_k}",
                rf"p\,\theta^{{-2i/d_k}}, \quad \theta = {self.theta:g},\ d_k = {self.d_k}",
            ),
        )

    def work(self, c: Cell) -> Worked:
        value = float(self()[c.i, c.j])
        return Worked("angle", f"{c.i} × {self.theta:g}^(−{2 * c.j}/{self.d_k})", [c.i, c.j], value)


class Trig(Op):
    """cos or sin of each column's angle [n, d_k]: columns i and i + d_k/2 share angle i (rotate_half's pairs)."""

    kind = "trig"

    def __init__(self, sine: bool) -> None:
        self.sine = sine
        self.name, self.f = ("sin", math.sin) if sine else ("cos", math.cos)

    def __call__(self, angles: Array) -> Array:
        return np.tile(np.sin(angles) if self.sine else np.cos(angles), 2)

    def formula(self, out: Sym | None, angles: Sym) -> Sym:
        text = f"{self.name}({angles.text}[p, i mod d_k/2])"
        return _named(out, Sym(text, rf"\{self.name}\left({angles.tex}_{{p,\, i \bmod d_k/2}}\right)"))

    def work(self, c: Cell, angles: Array) -> Worked:
        i = c.j % angles.shape[1]
        a = float(angles[c.i, i])
        kind = "sine" if self.sine else "cosine"
        return Worked(kind, f"{self.name}({c.inputs[0]}[{c.row}, d{i}]) = {self.name}({c.f(a)})", [a], self.f(a))


class Rotary(Op):
    """ModernBERT's rotary position embedding of a head's Q or K: column i is paired with column
    i + d_k/2 (transformers' rotate_half), and the pair turned by the angle of the token's position:
    q ⊙ cos + rotate_half(q) ⊙ sin. It replaces the seed's PE, added once to the input."""

    kind = "rotate"
    cols = "same"

    def __call__(self, q: Array, cos: Array, sin: Array) -> Array:
        half = q.shape[1] // 2
        rotated = np.concatenate([-q[:, half:], q[:, :half]], axis=1)  # rotate_half
        return q * cos + rotated * sin  # type: ignore[no-any-return]

    def formula(self, out: Sym | None, q: Sym, cos: Sym, sin: Sym) -> Sym:
        x, t = q.text, q.tex
        return _named(
            out,
            Sym(
                f"{x} ⊙ {cos.text} + rotate_half({x}) ⊙ {sin.text}, "
                f"rotate_half({x}) = [−{x}[:, d_k/2:] | {x}[:, :d_k/2]]",
                rf"{t} \odot {cos.tex} + \mathrm{{rotate\_half}}({t}) \odot {sin.tex}",
            ),
        )

    def work(self, c: Cell, q: Array, cos: Array, sin: Array) -> Worked:
        half, j = q.shape[1] // 2, c.j
        other, sign, op = (j + half, -1.0, "−") if j < half else (j - half, 1.0, "+")
        a, b, co, si = float(q[c.i, j]), float(q[c.i, other]), float(cos[c.i, j]), float(sin[c.i, j])
        x, cs, sn = c.inputs
        at, there = f"[{c.row}, {_col(c, j)}]", f"[{c.row}, {_col(c, other)}]"
        text = (
            f"{x}{at} × {cs}{at} {op} {x}{there} × {sn}{at} = "
            f"{c.f(a)} × {_paren(c.f(co))} {op} {_paren(c.f(b))} × {_paren(c.f(si))}"
        )
        return Worked("rotate", text, [a, b, co, si], a * co + sign * b * si)


class WindowMask(Op):
    """ModernBERT's local attention: token i sees token j when |i − j| ≤ w (local_attention // 2): 1, else 0."""

    kind = "mask"
    cols = "tokens"

    def __init__(self, n: int, w: int) -> None:
        self.n, self.w = n, w

    def __call__(self) -> Array:
        i = np.arange(self.n)
        return (np.abs(i[:, None] - i[None, :]) <= self.w).astype(np.float64)  # type: ignore[no-any-return]

    def formula(self, out: Sym | None) -> Sym:
        return _named(out, Sym(f"1 if |i − j| ≤ {self.w}, else 0", rf"[\,|i - j| \le {self.w}\,]"))

    def work(self, c: Cell) -> Worked:
        distance = abs(c.i - c.j)
        inside = distance <= self.w
        said = f"≤ {self.w}: inside the window" if inside else f"> {self.w}: outside the window"
        return Worked("mask", f"|{c.i} − {c.j}| = {distance} {said}", [c.i, c.j], float(inside))


class Concat(Op):
    """[head_0 | head_1 | ...]: the heads' outputs side by side."""

    kind = "concat"

    def __init__(self, d_k: int) -> None:
        self.d_k = d_k

    def __call__(self, *heads: Array) -> Array:
        return np.concatenate(heads, axis=1)

    def formula(self, out: Sym | None, *heads: Sym) -> Sym:
        return Sym(" | ".join(h.text for h in heads), r"\left[\," + r" \mid ".join(h.tex for h in heads) + r"\,\right]")

    def work(self, c: Cell, *heads: Array) -> Worked:
        head, k = divmod(c.j, self.d_k)
        return Worked("copy", f"{c.inputs[head]}[{c.row}, d{k}]", [], float(heads[head][c.i, k]))


# --- Stages 4 and 6: LayerNorm, in three steps a student can follow ------------------------


class Mean(Op):
    kind = "mean"
    cols = ("mean",)

    def __call__(self, x: Array) -> Array:
        return x.mean(axis=-1, keepdims=True)  # type: ignore[no-any-return]

    def formula(self, out: Sym | None, x: Sym) -> Sym:
        return Sym("μ = (1/d) Σⱼ xⱼ", r"\mu = \frac{1}{d} \sum_j x_j")

    def work(self, c: Cell, x: Array) -> Worked:
        row = x[c.i]
        return Worked("mean", f"({_sum([c.f(v) for v in row])}) / {len(row)}", [float(v) for v in row], row.mean())


class Variance(Op):
    kind = "variance"
    cols = ("variance",)

    def __call__(self, x: Array, mean: Array) -> Array:
        return ((x - mean) ** 2).mean(axis=-1, keepdims=True)  # type: ignore[no-any-return]

    def formula(self, out: Sym | None, x: Sym, mean: Sym) -> Sym:
        return Sym("σ² = (1/d) Σⱼ (xⱼ − μ)²", r"\sigma^2 = \frac{1}{d} \sum_j (x_j - \mu)^2")

    def work(self, c: Cell, x: Array, mean: Array) -> Worked:
        row, mu = x[c.i], float(mean[c.i, 0])
        text = f"({_sum([f'({c.f(v)} − {_paren(c.f(mu))})²' for v in row])}) / {len(row)}"
        return Worked("variance", text, [float(v) for v in row], float(((row - mu) ** 2).mean()))


class Normalise(Op):
    """(x − μ) / √(σ² + ε) · γ + β, from the row's mean and variance."""

    kind = "layer_norm"
    cols = "same"

    def __init__(self, gamma: Array, beta: Array, eps: float, names: tuple[str, str] = ("gamma", "beta")) -> None:
        self.gamma = gamma  # [d]
        self.beta = beta  # [d]
        self.eps = eps
        self.names = names

    def __call__(self, x: Array, mean: Array, var: Array) -> Array:
        return (x - mean) / np.sqrt(var + self.eps) * self.gamma + self.beta  # type: ignore[no-any-return]

    def formula(self, out: Sym | None, x: Sym, mean: Sym, var: Sym) -> Sym:
        return Sym(
            f"LayerNorm(x) = (x − μ) / √(σ² + ε) · γ + β,  ε = {self.eps:g}",
            r"\mathrm{LayerNorm}(x) = \frac{x - \mu}{\sqrt{\sigma^2 + \varepsilon}} \cdot \gamma + \beta,"
            rf"\quad \varepsilon = {_tex_number(self.eps)}",
        )

    def work(self, c: Cell, x: Array, mean: Array, var: Array) -> Worked:
        v, mu, s2 = float(x[c.i, c.j]), float(mean[c.i, 0]), float(var[c.i, 0])
        g, b, f = float(self.gamma[c.j]), float(self.beta[c.j]), c.f
        text = f"({f(v)} − {_paren(f(mu))}) / √({f(s2)} + {self.eps:g}) × {_paren(f(g))}{_signed(f(b))}"
        return Worked("layer_norm", text, [v, mu, s2, self.eps, g, b], (v - mu) / math.sqrt(s2 + self.eps) * g + b)

    @property
    def params(self) -> dict[str, Array]:
        return dict(zip(self.names, (self.gamma, self.beta), strict=True))


# --- Stage 5: the FFN's activations (one class each; the choices are settings.Activation) ----


class ActivationOp(Op):
    kind = "activation"
    cols = "same"
    name: ClassVar[Activation]
    function: ClassVar[Sym]  # how the formula after it writes it: relu, of its input: relu(h)

    def of(self, h: Sym) -> Sym:
        """Its result as the formula after it writes it: relu(h), gelu(input)."""
        return Sym(f"{self.function.text}({h.text})", rf"{self.function.tex}({h.tex})")

    def work(self, c: Cell, h: Array) -> Worked:
        return self.worked(c.f, float(h[c.i, c.j]))

    worked: Callable[[Callable[[float], str], float], Worked]  # the arithmetic of one value h


class ReLU(ActivationOp):
    name = Activation.relu
    function = Sym("relu", r"\mathrm{ReLU}")

    def __call__(self, h: Array) -> Array:
        return np.maximum(h, 0.0)  # type: ignore[no-any-return]

    def formula(self, out: Sym | None, h: Sym) -> Sym:
        return Sym(f"ReLU({h.text}) = max(0, {h.text})", rf"\mathrm{{ReLU}}({h.tex}) = \max(0, {h.tex})")

    def worked(self, f: Callable[[float], str], h: float) -> Worked:
        return Worked("relu", f"max(0, {f(h)})", [h], max(0.0, h))


class GELU(ActivationOp):
    """GELU(x) = x Φ(x) = x/2 · (1 + erf(x / √2)), the exact form.

    Computed as x/2 · erfc(−x / √2), the same number without the cancellation of 1 + erf(·)
    for negative x (at x = −5.6 that sum keeps only 9 of 16 digits).
    """

    name = Activation.gelu
    function = Sym("gelu", r"\mathrm{GELU}")

    def __call__(self, h: Array) -> Array:
        z = -h / math.sqrt(2.0)  # math.erfc on each number (numpy has none), over a list: faster than frompyfunc
        return 0.5 * h * np.fromiter(map(math.erfc, z.ravel().tolist()), np.float64, z.size).reshape(z.shape)

    def formula(self, out: Sym | None, h: Sym) -> Sym:
        x, t = h
        return Sym(
            f"GELU({x}) = {x}/2 · (1 + erf({x} / √2))",
            rf"\mathrm{{GELU}}({t}) = \frac{{{t}}}{{2}} \left(1 + \mathrm{{erf}}\left({t} / \sqrt{{2}}\right)\right)",
        )

    def worked(self, f: Callable[[float], str], h: float) -> Worked:
        text = f"{f(h)}/2 × (1 + erf({f(h)} / √2)) = {f(h)}/2 × (1{_signed(f(math.erf(h / math.sqrt(2))))})"
        return Worked("gelu", text, [h], h / 2 * math.erfc(-h / math.sqrt(2)))


class GELUTanh(ActivationOp):
    """GELU(x) ≈ x/2 · (1 + tanh(u)), u = √(2/π) · (x + 0.044715 x³), the tanh approximation.

    Computed as x · sigmoid(2u) (since 1 + tanh(u) = 2 sigmoid(2u)), with e = exp(−|2u|) so
    that nothing cancels or overflows.
    """

    name = Activation.gelu_tanh
    function = Sym("gelu_tanh", r"\mathrm{GELU}")

    def __call__(self, h: Array) -> Array:
        two_u = 2.0 * math.sqrt(2.0 / math.pi) * (h + 0.044715 * h**3)
        e = np.exp(-np.abs(two_u))
        return h * np.where(two_u >= 0, 1.0 / (1.0 + e), e / (1.0 + e))

    def formula(self, out: Sym | None, h: Sym) -> Sym:
        x, t = h
        return Sym(
            f"GELU({x}) ≈ {x}/2 · (1 + tanh(√(2/π) · ({x} + 0.044715 {x}³)))",
            rf"\mathrm{{GELU}}({t}) \approx \frac{{{t}}}{{2}} "
            rf"\left(1 + \tanh\left(\sqrt{{2/\pi}}\,({t} + 0.044715\,{t}^3)\right)\right)",
        )

    def worked(self, f: Callable[[float], str], h: float) -> Worked:
        u = math.sqrt(2 / math.pi) * (h + 0.044715 * h * h * h)  # infinite past |h| ~ 1e102, not an OverflowError
        tanh = f"tanh({f(u)})" if math.isfinite(u) else f(math.tanh(u))  # ±1
        text = f"{f(h)}/2 × (1 + tanh(√(2/π) × ({f(h)} + 0.044715 × {_paren(f(h))}³))) = {f(h)}/2 × (1{_signed(tanh)})"
        e = math.exp(-abs(2 * u))  # h/2 · (1 + tanh u) = h · sigmoid(2u), without cancelling
        return Worked("gelu_tanh", text, [h], h * (1 / (1 + e) if u >= 0 else e / (1 + e)))


ACTIVATIONS: dict[Activation, ActivationOp] = {op.name: op for op in (ReLU(), GELU(), GELUTanh())}


class Half(Op):
    """One half of the columns of a GLU's hidden layer: the first (`input`) or the second (`gate`)."""

    kind = "copy"
    cols = "same"

    def __init__(self, second: bool) -> None:
        self.second = second

    def __call__(self, h: Array) -> Array:
        half = h.shape[1] // 2
        return h[:, half:] if self.second else h[:, :half]

    def formula(self, out: Sym | None, h: Sym) -> Sym:
        part = "the second half" if self.second else "the first half"
        return _named(out, Sym(f"{part} of {h.text}'s columns", rf"\text{{{part} of }} {h.tex}"))

    def work(self, c: Cell, h: Array) -> Worked:
        k = c.j + (h.shape[1] // 2 if self.second else 0)
        return Worked("copy", f"{c.inputs[0]}[{c.row}, {_col(c, k)}]", [], float(h[c.i, k]))


class Product(Op):
    """a ⊙ b, cell by cell: the GLU's activated input times its gate."""

    kind = "product"
    cols = "same"

    def __call__(self, a: Array, b: Array) -> Array:
        return a * b  # type: ignore[no-any-return]

    def formula(self, out: Sym | None, a: Sym, b: Sym) -> Sym:
        return _named(out, Sym(f"{a.text} ⊙ {b.text}", rf"{a.tex} \odot {b.tex}"))

    def work(self, c: Cell, a: Array, b: Array) -> Worked:
        x, y = float(a[c.i, c.j]), float(b[c.i, c.j])
        text = f"{c.inputs[0]}[{c.row}, {c.col}] × {c.inputs[1]}[{c.row}, {c.col}] = {c.f(x)} × {_paren(c.f(y))}"
        return Worked("product", text, [x, y], x * y)


# --- Stage 7 ------------------------------------------------------------------------------


class Copy(Op):
    """The encoder's output: its last step's value, under the id the contract gives it."""

    kind = "copy"
    cols = "same"

    def __call__(self, x: Array) -> Array:
        return x

    def formula(self, out: Sym | None, x: Sym) -> Sym:
        return Sym("the contextual representation of each token", r"\text{the contextual representation of each token}")

    def work(self, c: Cell, x: Array) -> Worked:
        return Worked("copy", f"{c.inputs[0]}[{c.row}, {c.col}]", [], float(x[c.i, c.j]))


# --- The sentence embedding (sentence-transformers' pooling) --------------------------------


class Pool(Op):
    """The sentence as one vector: the mean of the output's rows, the [CLS] row, or the max."""

    kind = "pool"
    rows = ("sentence",)

    def __init__(self, mode: Pooling) -> None:
        self.mode = mode

    def __call__(self, x: Array) -> Array:
        if self.mode is Pooling.cls:
            return x[:1]
        return x.mean(axis=0, keepdims=True) if self.mode is Pooling.mean else x.max(axis=0, keepdims=True)  # type: ignore[no-any-return]

    def formula(self, out: Sym | None, x: Sym) -> Sym:
        text, tex = {
            Pooling.mean: ("mean of the output's rows: (1/n) Σᵢ xᵢ", r"\frac{1}{n} \sum_i x_i"),
            Pooling.cls: ("the output's [CLS] row", r"x_{\mathrm{[CLS]}}"),
            Pooling.max: ("the largest of each column of the output", r"\max_i x_{ij}"),
        }[self.mode]
        return _named(out, Sym(text, tex))

    def work(self, c: Cell, x: Array) -> Worked:
        column = [float(v) for v in x[:, c.j]]
        if self.mode is Pooling.cls:
            return Worked("copy", f"{c.inputs[0]}[0, {c.col}]", [], column[0])
        if self.mode is Pooling.max:
            return Worked("max", f"max({', '.join(map(c.f, column))})", column, max(column))
        return Worked(
            "mean", f"({_sum([c.f(v) for v in column])}) / {len(column)}", column, math.fsum(column) / len(column)
        )


class L2Normalize(Op):
    """x / ‖x‖₂: the sentence embedding as a unit vector."""

    kind = "normalize"
    cols = "same"
    rows = ("sentence",)

    def __call__(self, x: Array) -> Array:
        return x / np.sqrt((x**2).sum(axis=-1, keepdims=True))  # type: ignore[no-any-return]

    def formula(self, out: Sym | None, x: Sym) -> Sym:
        return Sym(
            "pooled / ‖pooled‖₂,  ‖x‖₂ = √(Σⱼ xⱼ²)",
            r"\frac{x}{\lVert x \rVert_2}, \quad \lVert x \rVert_2 = \sqrt{\sum_j x_j^2}",
        )

    def work(self, c: Cell, x: Array) -> Worked:
        row = [float(v) for v in x[c.i]]
        norm = math.sqrt(math.fsum(v * v for v in row))
        text = f"{c.f(row[c.j])} / √({_sum([f'{_paren(c.f(v))}²' for v in row])}) = {c.f(row[c.j])} / {c.f(norm)}"
        return Worked("normalize", text, row, row[c.j] / norm)


# --- Two sentences compared (encoder compare) -------------------------------------------------


class Dot(Op):
    """a · b: the dot product of two sentences' vectors (1 x d each), one number."""

    kind = "dot"
    rows = ("A and B",)
    cols = ("value",)

    def __call__(self, a: Array, b: Array) -> Array:  # [1, d], [1, d] -> [1, 1]
        return a @ b.T  # type: ignore[no-any-return]

    def formula(self, out: Sym | None, a: Sym, b: Sym) -> Sym:
        return _named(
            out,
            Sym(
                f"{a.text} · {b.text} = Σⱼ {a.text}ⱼ {b.text}ⱼ", rf"{a.tex} \cdot {b.tex} = \sum_j {a.tex}_j {b.tex}_j"
            ),
        )

    def work(self, c: Cell, a: Array, b: Array) -> Worked:
        return _dot(c, "", a[0], b[0])


class Norm(Op):
    """‖x‖₂: the length of a sentence's vector (1 x d), one number."""

    kind = "norm"
    rows = ("sentence",)
    cols = ("value",)

    def __call__(self, x: Array) -> Array:  # [1, d] -> [1, 1]
        return np.sqrt((x**2).sum(axis=-1, keepdims=True))  # type: ignore[no-any-return]

    def formula(self, out: Sym | None, x: Sym) -> Sym:
        return _named(out, Sym(f"√(Σⱼ {x.text}ⱼ²)", rf"\sqrt{{\sum_j {x.tex}_j^2}}"))

    def work(self, c: Cell, x: Array) -> Worked:
        row = [float(v) for v in x[c.i]]
        text = f"√({_sum([f'{_paren(c.f(v))}²' for v in row])})"
        return Worked("norm", text, row, math.sqrt(math.fsum(v * v for v in row)))


class Cosine(Op):
    """cos(a, b) = a · b / (‖a‖₂ ‖b‖₂): how alike two directions are, from -1 to 1. It is also the
    dot product of the two normalised vectors."""

    kind = "cosine"
    rows = ("A and B",)
    cols = ("value",)

    def __call__(self, dot: Array, norm_a: Array, norm_b: Array) -> Array:  # [1, 1] each -> [1, 1]
        return dot / (norm_a * norm_b)  # type: ignore[no-any-return]

    def formula(self, out: Sym | None, dot: Sym, norm_a: Sym, norm_b: Sym) -> Sym:
        expr = Sym(f"{dot.text} / ({norm_a.text} {norm_b.text})", rf"\frac{{{dot.tex}}}{{{norm_a.tex}\,{norm_b.tex}}}")
        return _named(out, expr)

    def work(self, c: Cell, dot: Array, norm_a: Array, norm_b: Array) -> Worked:
        terms = [float(dot[0, 0]), float(norm_a[0, 0]), float(norm_b[0, 0])]
        text = f"{c.f(terms[0])} / ({c.f(terms[1])} × {c.f(terms[2])})"
        return Worked("divide", text, terms, terms[0] / (terms[1] * terms[2]))


class Difference(Op):
    """b − a, cell by cell: where two sentences' steps part ways. A heatmap around 0: spread is the
    largest |b − a|, which takes the scale's ends (-spread: 0, +spread: 1)."""

    kind = "difference"
    cols = "same"
    heatmap = True

    def __init__(self, spread: float) -> None:
        self.spread = spread

    def level(self, v: float) -> float:
        return 0.5 + v / (2 * self.spread) if self.spread else 0.5

    def __call__(self, a: Array, b: Array) -> Array:
        return b - a  # type: ignore[no-any-return]

    def formula(self, out: Sym | None, a: Sym, b: Sym) -> Sym:
        return _named(out, Sym(f"{b.text} − {a.text}", f"{b.tex} - {a.tex}"))

    def work(self, c: Cell, a: Array, b: Array) -> Worked:
        terms = [float(b[c.i, c.j]), float(a[c.i, c.j])]
        names = f"{c.inputs[1]}[{c.row}, {c.col}] − {c.inputs[0]}[{c.row}, {c.col}]"
        return Worked("difference", f"{names} = {c.f(terms[0])}{_signed(c.f(-terms[1]))}", terms, terms[0] - terms[1])


# --- The heads of a task checkpoint (tasks.py) ------------------------------------------------


class Pick(Op):
    """Rows of the output: the positions a head predicts from."""

    kind = "copy"
    cols = "same"

    def __init__(self, positions: Sequence[int]) -> None:
        self.positions = list(positions)

    def __call__(self, x: Array) -> Array:
        return x[self.positions]

    def formula(self, out: Sym | None, x: Sym) -> Sym:
        at = f"row{'s' * (len(self.positions) > 1)} {', '.join(map(str, self.positions))}"
        return _named(out, Sym(f"the output's {at}", rf"\text{{the output's {at}}}"))

    def work(self, c: Cell, x: Array) -> Worked:
        p = self.positions[c.i]
        return Worked("copy", f"{c.inputs[0]}[{p}, {c.col}]", [], float(x[p, c.j]))


class Tanh(Op):
    """tanh(h), each value on its own: BERT's pooler, RoBERTa's classifier."""

    kind = "activation"
    cols = "same"

    def __call__(self, h: Array) -> Array:
        return np.tanh(h)  # type: ignore[no-any-return]

    def formula(self, out: Sym | None, h: Sym) -> Sym:
        return _named(out, Sym(f"tanh({h.text})", rf"\tanh({h.tex})"))

    def work(self, c: Cell, h: Array) -> Worked:
        v = float(h[c.i, c.j])
        return Worked("tanh", f"tanh({c.f(v)})", [v], math.tanh(v))


class WordLogits(Linear):
    """x W + b with a column for each word of the vocabulary: W is read a block of columns at a time."""

    vocabulary = True


class Score(Linear):
    """A regression's x W + b: the score itself, no softmax."""

    def verdict(self, value: Array, cols: Sequence[str], f: Callable[[float], str]) -> str | None:
        return f"score: {f(float(value[0, 0]))}"


class WordSoftmax(Softmax):
    """The softmax over the vocabulary: its worked cell sums the first and last few exps around "…"."""

    vocabulary = True
    heatmap = False  # thousands of columns, summarised by the top k


class LabelSoftmax(Softmax):
    """The softmax over a classifier's labels: the views name the winner."""

    def verdict(self, value: Array, cols: Sequence[str], f: Callable[[float], str]) -> str | None:
        best = int(np.argmax(value[0]))
        return f"label: {cols[best]} (probability {f(float(value[0, best]))})"


class Sigmoid(Op):
    """1 / (1 + exp(−x)) for each label on its own (a multi-label classifier): any number of them may hold."""

    kind = "sigmoid"
    cols = "same"
    heatmap = True

    def __call__(self, x: Array) -> Array:
        e = np.exp(-np.abs(x))  # never overflows: sigmoid(x) = 1 / (1 + e) for x ≥ 0, e / (1 + e) below
        return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))  # type: ignore[no-any-return]

    def formula(self, out: Sym | None, x: Sym) -> Sym:
        return Sym("sigmoid of each value: 1 / (1 + exp(−x))", r"\sigma(x) = \frac{1}{1 + e^{-x}}")

    def work(self, c: Cell, x: Array) -> Worked:
        v = float(x[c.i, c.j])
        return Worked("sigmoid", f"1 / (1 + exp({_paren(c.f(-v))}))", [v], float(self(np.array([v]))[0]))

    def verdict(self, value: Array, cols: Sequence[str], f: Callable[[float], str]) -> str | None:
        held = [f"{label} ({f(float(p))})" for label, p in zip(cols, value[0], strict=True) if p >= 0.5]
        return f"labels at 0.5 or more: {', '.join(held) or 'none'}"


# --- The parameters, shown on request ------------------------------------------------------


class Given(Op):
    """A parameter of the model (W_Q, b_1, γ, an embedding row): given, not worked out."""

    kind = "given"
    looked_up = True

    def __init__(self, value: Array) -> None:
        self.value = value

    def __call__(self) -> Array:
        return self.value

    def work(self, c: Cell) -> Worked:
        return Worked("given", "given: a parameter of the model, not worked out", [], float(self.value[c.i, c.j]))
