"""The run as a live workbook (docs/xlsx.md): the inputs as values, every computed cell a formula
over the cells it comes from, the same arithmetic as its step's worked cell, with the computed
value stored beside it for a viewer that does not recalculate.

Sheets: `embedding` (stages 1 and 2), `layer 0`, `layer 1`, ... (stages 3 to 6, each a section),
`output` (stage 7 on); a step the filters leave out but a kept step needs goes on the hidden sheet
`needed`, as formulas, so the workbook stays live. Each block of a step's (or a parameter's) values
is a workbook-level defined name equal to its id, row-major as the step's matrix. A worksheet's
blanks are empty highlighted cells, listed on the hidden sheet `blanks`; the hidden sheet `about`
records what the workbook was made from.

XlsxWriter is imported here only, when a workbook is asked for. Every number (an input, a formula's
stored value) is written as Python's repr: read back, it is the run's float64 exactly.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, BinaryIO

import numpy as np

from encoder_cli import ops, parameters
from encoder_cli.errors import EncoderError
from encoder_cli.settings import UNK, Pooling
from encoder_cli.trace import STAGES, Mark, MarkKind, Marks, Step, Trace, columns, head_of, labels

MAX_CELLS = 2_000_000  # one MiniLM layer's parameters are 1.77 million; past this, XlsxWriter and a spreadsheet slow
LABELS = 1  # the value cells start one column right of the row labels
HEAD = 4  # rows above a block's values: title, formula, id, column labels
NEEDED = "needed"  # the hidden sheet of the steps a filter leaves out but a kept step needs
PARAMETER_ROLES = ("W", "b")  # a Linear's weights and bias, by role


def letters(col: int) -> str:
    """A column's letters, 0 -> A, 26 -> AA."""
    name = ""
    col += 1
    while col:
        col, rest = divmod(col - 1, 26)
        name = chr(65 + rest) + name
    return name


@dataclass(frozen=True)
class Block:
    """Where a matrix's values sit: on `sheet`, its cell [0, 0] at (top, left), rows x cols."""

    sheet: str
    top: int
    left: int
    rows: int
    cols: int

    def _at(self, here: str) -> str:
        return "" if here == self.sheet else f"'{self.sheet}'!"

    def cell(self, i: int, j: int, here: str) -> str:
        return f"{self._at(here)}{letters(self.left + j)}{self.top + i + 1}"

    def span(self, i0: int, j0: int, i1: int, j1: int, here: str) -> str:
        """Cells [i0, j0] to [i1, j1], as one range."""
        a, b = f"{letters(self.left + j0)}{self.top + i0 + 1}", f"{letters(self.left + j1)}{self.top + i1 + 1}"
        return f"{self._at(here)}{a}:{b}"

    def row(self, i: int, here: str) -> str:
        return self.span(i, 0, i, self.cols - 1, here)

    def col(self, j: int, here: str) -> str:
        return self.span(0, j, self.rows - 1, j, here)

    def name(self, j0: int = 0, j1: int | None = None) -> str:
        """Columns j0 to j1 (all) of every row, absolute, as a defined name refers to them."""
        j1 = self.cols - 1 if j1 is None else j1
        a = f"${letters(self.left + j0)}${self.top + 1}"
        return f"='{self.sheet}'!{a}:${letters(self.left + j1)}${self.top + self.rows}"


@dataclass(frozen=True)
class Refs:
    """What a step's formulas are written from: its inputs' blocks, its parameters' blocks (each with
    the first column it reads: a head's columns of W_Q start at its part), on sheet `here`."""

    here: str
    ins: Sequence[Block]
    params: dict[str, tuple[Block, int]]

    def x(self, k: int, i: int, j: int) -> str:
        return self.ins[k].cell(i, j, self.here)

    def row(self, k: int, i: int) -> str:
        return self.ins[k].row(i, self.here)

    def p(self, name: str, i: int, j: int) -> str:
        block, first = self.params[name]
        return block.cell(i, first + j, self.here)

    def pcol(self, name: str, j: int) -> str:
        block, first = self.params[name]
        return block.col(first + j, self.here)


Formula = Callable[[Step, Refs, int, int], str]  # cell [i, j] of the step, without its "="


# --- The formulas, one per kind of step: the arithmetic of ops.py's worked cell ---------------


def _lookup(s: Step, r: Refs, i: int, j: int) -> str:  # X[i, j] = the table's row of token i
    return r.p("table", embedding_rows(s)[i], j)


def _sinusoidal(s: Step, r: Refs, i: int, j: int) -> str:  # sin or cos(pos / base^(2i/d))
    op = s.op
    assert isinstance(op, ops.Sinusoidal)
    return f"{'SIN' if j % 2 == 0 else 'COS'}({i}/{op.base:.17g}^({j - j % 2}/{op.d}))"


def _table(s: Step, r: Refs, i: int, j: int) -> str:  # PE[i, j] = the table's row i (of the rows used)
    return r.p("table", i, j)


def _token_type(s: Step, r: Refs, i: int, j: int) -> str:  # the row of token i's type
    op = s.op
    assert isinstance(op, ops.TokenType)
    return r.p("table", op.used.index(op.types[i]), j)


def _add(s: Step, r: Refs, i: int, j: int) -> str:  # a + b (+ c)
    return "+".join(r.x(k, i, j) for k in range(len(r.ins)))


def _linear(s: Step, r: Refs, i: int, j: int) -> str:  # x[i] · W[:, j] + b[j]: a row times a column
    xw = f"MMULT({r.row(0, i)},{r.pcol('W', j)})" if "W" in r.params else r.x(0, i, j)
    return xw + (f"+{r.p('b', 0, j)}" if "b" in r.params else "")


def _matmul_t(s: Step, r: Refs, i: int, j: int) -> str:  # A[i] · B[j]: two rows of one shape
    return f"SUMPRODUCT({r.row(0, i)},{r.row(1, j)})"


def _matmul(s: Step, r: Refs, i: int, j: int) -> str:  # A[i] · B[:, j]
    return f"MMULT({r.row(0, i)},{r.ins[1].col(j, r.here)})"


def _scale(s: Step, r: Refs, i: int, j: int) -> str:  # s / √d_k
    op = s.op
    assert isinstance(op, ops.Scale)
    return f"{r.x(0, i, j)}/SQRT({op.d_k})"


def _softmax(s: Step, r: Refs, i: int, j: int) -> str:  # exp(s_j) / Σ_k exp(s_k); SUM(EXP(range)) is #VALUE!
    return f"EXP({r.x(0, i, j)})/SUMPRODUCT(EXP({r.row(0, i)}))"


def _masked_softmax(s: Step, r: Refs, i: int, j: int) -> str:  # the same over the window; 0 outside it
    inside = f"EXP({r.x(0, i, j)})/SUMPRODUCT({r.row(1, i)},EXP({r.row(0, i)}))"
    return f"IF({r.x(1, i, j)}>0,{inside},0)"


def _concat(s: Step, r: Refs, i: int, j: int) -> str:  # head j // d_k's column j % d_k
    op = s.op
    assert isinstance(op, ops.Concat)
    head, k = divmod(j, op.d_k)
    return r.x(head, i, k)


def _mean(s: Step, r: Refs, i: int, j: int) -> str:  # μ = (1/d) Σ x_j
    return f"AVERAGE({r.row(0, i)})"


def _variance(s: Step, r: Refs, i: int, j: int) -> str:  # σ² = (1/d) Σ (x_j − μ)², the population variance
    return f"_xlfn.VAR.P({r.row(0, i)})"


def _normalise(s: Step, r: Refs, i: int, j: int) -> str:  # (x − μ) / √(σ² + ε) · γ + β
    op = s.op
    assert isinstance(op, ops.Normalise)
    g, b = op.names
    return f"({r.x(0, i, j)}-{r.x(1, i, 0)})/SQRT({r.x(2, i, 0)}+{op.eps!r})*{r.p(g, 0, j)}+{r.p(b, 0, j)}"


def _relu(s: Step, r: Refs, i: int, j: int) -> str:  # max(0, h)
    return f"MAX(0,{r.x(0, i, j)})"


def _gelu(s: Step, r: Refs, i: int, j: int) -> str:  # h/2 · (1 + erf(h / √2))
    h = r.x(0, i, j)
    return f"{h}/2*(1+ERF({h}/SQRT(2)))"


def _gelu_tanh(s: Step, r: Refs, i: int, j: int) -> str:  # h/2 · (1 + tanh(√(2/π) · (h + 0.044715 h³)))
    h = r.x(0, i, j)
    return f"{h}/2*(1+TANH(SQRT(2/PI())*({h}+0.044715*{h}^3)))"


def _copy(s: Step, r: Refs, i: int, j: int) -> str:  # the same cell
    return r.x(0, i, j)


def _half(s: Step, r: Refs, i: int, j: int) -> str:  # the first or the second half of h's columns
    op = s.op
    assert isinstance(op, ops.Half)
    return r.x(0, i, j + (r.ins[0].cols // 2 if op.second else 0))


def _product(s: Step, r: Refs, i: int, j: int) -> str:  # a ⊙ b
    return f"{r.x(0, i, j)}*{r.x(1, i, j)}"


def _pool(s: Step, r: Refs, i: int, j: int) -> str:  # the mean, the largest, or the [CLS] row's, of column j
    op = s.op
    assert isinstance(op, ops.Pool)
    column = r.ins[0].col(j, r.here)
    return {Pooling.mean: f"AVERAGE({column})", Pooling.max: f"MAX({column})", Pooling.cls: r.x(0, 0, j)}[op.mode]


def _l2_normalize(s: Step, r: Refs, i: int, j: int) -> str:  # x / √(Σ x²)
    return f"{r.x(0, i, j)}/SQRT(SUMSQ({r.row(0, i)}))"


def _tanh(s: Step, r: Refs, i: int, j: int) -> str:
    return f"TANH({r.x(0, i, j)})"


def _sigmoid(s: Step, r: Refs, i: int, j: int) -> str:  # 1 / (1 + exp(−x))
    return f"1/(1+EXP(-{r.x(0, i, j)}))"


def _pick(s: Step, r: Refs, i: int, j: int) -> str:  # the output's row of position i
    op = s.op
    assert isinstance(op, ops.Pick)
    return r.x(0, op.positions[i], j)


def _rope_angles(s: Step, r: Refs, i: int, j: int) -> str:  # p · θ^(−2i/d_k)
    op = s.op
    assert isinstance(op, ops.RopeAngles)
    return f"{i}*{op.theta:.17g}^(-{2 * j}/{op.d_k})"


def _trig(s: Step, r: Refs, i: int, j: int) -> str:  # cos or sin of the angle of pair j mod d_k/2
    op = s.op
    assert isinstance(op, ops.Trig)
    return f"{op.name.upper()}({r.x(0, i, j % r.ins[0].cols)})"


def _rotary(s: Step, r: Refs, i: int, j: int) -> str:  # q ⊙ cos + rotate_half(q) ⊙ sin
    half = r.ins[0].cols // 2
    other, sign = (j + half, "-") if j < half else (j - half, "+")
    return f"{r.x(0, i, j)}*{r.x(1, i, j)}{sign}{r.x(0, i, other)}*{r.x(2, i, j)}"


def _window_mask(s: Step, r: Refs, i: int, j: int) -> str:  # 1 if |i − j| ≤ w
    op = s.op
    assert isinstance(op, ops.WindowMask)
    return f"IF(ABS({i}-{j})<={op.w},1,0)"


def _buckets(s: Step, r: Refs, i: int, j: int) -> str:  # MPNet's bucket of j − i (ops.bucket)
    distance, after = abs(i - j), "16+" if j > i else ""
    if distance < 8:
        return f"{after}ABS({i}-{j})"
    return f"{after}MIN(15,8+INT(LN({distance}/8)/LN(16)*8))"


def _position_bias(s: Step, r: Refs, i: int, j: int) -> str:  # relative_attention_bias[bucket, h]
    op = s.op
    assert isinstance(op, ops.PositionBias)
    block, _ = r.params["table"]
    return f"INDEX({block.span(0, 0, block.rows - 1, block.cols - 1, r.here)},{r.x(0, i, j)}+1,{op.h + 1})"


def _relative_positions(s: Step, r: Refs, i: int, j: int) -> str:  # DeBERTa's δ(i, j): i − j in log buckets
    op = s.op
    assert isinstance(op, ops.RelativePositions)
    mid, top, distance = op.buckets // 2, op.max_distance - 1, abs(i - j)
    delta = f"{i}-{j}"
    if op.buckets and distance > mid:  # sign(i − j) · (mid + ⌈(mid − 1) ln(|i − j|/mid) / ln(top/mid)⌉); ⌈y⌉ = −INT(−y)
        delta = f"{'' if i > j else '-'}({mid}-INT(-LN({distance}/{mid})/LN({top}/{mid})*{mid - 1}))"
    return f"MIN(MAX({delta},{-op.span}),{op.span - 1})"  # within the table's rows


def _position_term(s: Step, r: Refs, i: int, j: int) -> str:  # c2p: Q[i] · K_r[δ(i, j)]; p2c: K[j] · Q_r[δ(i, j)]
    op = s.op
    assert isinstance(op, ops.PositionTerm)
    rows = r.ins[1].span(0, 0, r.ins[1].rows - 1, r.ins[1].cols - 1, r.here)
    at = f"MATCH({r.x(2, i, j)},{{{','.join(map(str, op.deltas))}}},0)"  # the row of K_r (Q_r) that holds δ
    return f"SUMPRODUCT({r.row(0, i if op.to_position else j)},INDEX({rows},{at},0))"


def _scale_terms(s: Step, r: Refs, i: int, j: int) -> str:  # (c2c + c2p + p2c) / √(d_k × terms)
    op = s.op
    assert isinstance(op, ops.ScaleTerms)
    return f"({'+'.join(r.x(k, i, j) for k in range(len(r.ins)))})/SQRT({op.d_k}*{op.terms})"


FORMULAS: dict[type[ops.Op], Formula] = {
    ops.Lookup: _lookup,
    ops.Sinusoidal: _sinusoidal,
    ops.Table: _table,
    ops.TokenType: _token_type,
    ops.Add: _add,
    ops.Linear: _linear,  # and its kinds: a head's word logits, a score
    ops.MatmulT: _matmul_t,
    ops.Matmul: _matmul,
    ops.Scale: _scale,
    ops.Softmax: _softmax,  # and a head's softmax over words or labels
    ops.MaskedSoftmax: _masked_softmax,
    ops.Concat: _concat,
    ops.Mean: _mean,
    ops.Variance: _variance,
    ops.Normalise: _normalise,
    ops.ReLU: _relu,
    ops.GELU: _gelu,
    ops.GELUTanh: _gelu_tanh,
    ops.Copy: _copy,
    ops.Half: _half,
    ops.Product: _product,
    ops.Pool: _pool,
    ops.L2Normalize: _l2_normalize,
    ops.Tanh: _tanh,
    ops.Sigmoid: _sigmoid,
    ops.Pick: _pick,
    ops.RopeAngles: _rope_angles,
    ops.Trig: _trig,
    ops.Rotary: _rotary,
    ops.WindowMask: _window_mask,
    ops.RelativeBuckets: _buckets,
    ops.PositionBias: _position_bias,
    ops.RelativePositions: _relative_positions,
    ops.PositionTerm: _position_term,
    ops.ScaleTerms: _scale_terms,
}
VALUES = (ops.Zero, ops.Given, ops.RelativeRows)  # written as numbers: nothing to work out (DeBERTa's rows: read)


def formula(op: ops.Op) -> Formula | None:
    """The op's formula, by its class or the nearest class it derives from."""
    return next((FORMULAS[k] for k in type(op).__mro__ if k in FORMULAS), None)


def embedding_rows(s: Step) -> list[int]:
    """Each token's row of `embeddings.table` (parameters.of: each token's first row; [UNK] for the unknown)."""
    op = s.op
    assert isinstance(op, ops.Lookup)
    first: dict[str, int] = {}
    keys = [UNK if p in set(op.unknown) else token for p, token in enumerate(s.rows)]
    for key in keys:
        first.setdefault(key, len(first))
    return [first[key] for key in keys]


def whole(pid: str) -> str:
    """A parameter's id, whole: a head's columns (layers.0.attention.heads.1.W_Q) are layers.0.attention.W_Q."""
    if head_of(pid) is None:
        return pid
    scope, name = pid.rsplit(".", 1)
    return f"{scope.rsplit('.', 2)[0]}.{name}"


def uses(s: Step) -> dict[str, tuple[str, int]]:
    """The parameters a step's formulas read, by role: their ids, and the first column it reads."""
    op = s.op
    if isinstance(op, ops.Linear):
        first, scope = (op.part or (0, 0))[0], s.id.rsplit(".", 1)[0]  # W_Q of layers.0.attention.heads.1
        names = zip(PARAMETER_ROLES, (op.W_name, op.b_name), strict=True)
        return {role: (whole(f"{scope}.{name}"), first) for role, name in names if name in op.params}
    if isinstance(op, ops.Normalise):
        return {name: (f"{s.id}.{name}", 0) for name in op.names}
    table = parameters.TABLES.get(type(op))
    return {} if table is None else {"table": (table, 0)}


# --- The layout ----------------------------------------------------------------------------------


def sheet_of(s: Step) -> str:
    """The sheet a step is shown on: its layer's, or the embedding's (stages 1 and 2), or the output's."""
    if s.layer is not None:
        return f"layer {s.layer}"
    return "embedding" if s.stage <= 2 else "output"


@dataclass(frozen=True)
class Item:
    """A block to write: a step's, or a parameter's (values, no formula; read when written)."""

    id: str
    sheet: str
    param: bool
    size: int  # its cells


def plan(trace: Trace, kept: Sequence[Step]) -> list[Item]:
    """Every block, in computation order, each parameter just before the first shown step that reads it
    (on the hidden sheet before the first step that does, when no shown step does): the kept steps on
    their sheets, what they need (steps and parameters) on the hidden sheet."""
    shown = {whole(s.id) if s.id in trace.parameter_ids else s.id for s in kept}
    needed: set[str] = set()
    todo = [x for x in shown if x in trace.by_id]
    while todo:  # every step a kept step is worked from, and so on
        x = todo.pop()
        if x not in needed:
            needed.add(x)
            todo += trace.by_id[x].inputs
    before: dict[str, str] = {}  # a parameter's id -> the first shown step that reads it, else the first needed
    for s in sorted((s for s in trace.steps if s.id in needed), key=lambda s: s.id not in shown):  # a stable sort
        for pid, _ in uses(s).values():
            before.setdefault(pid, s.id)
    for p in trace.parameters:  # a parameter asked for by name (-s W_Q), read by no kept step
        if p.id in shown:
            before.setdefault(p.id, p.before)
    items: list[Item] = []
    for s in trace.steps:
        for p in trace.parameters:
            if before.get(p.id) == s.id:
                on = sheet_of(s) if p.id in shown or s.id in shown else NEEDED
                items.append(Item(p.id, on, True, len(p.rows) * len(p.cols)))
        if s.id in needed:
            items.append(Item(s.id, sheet_of(s) if s.id in shown else NEEDED, False, s.value.size))
    return items


def cells(items: Sequence[Item]) -> int:
    return sum(item.size for item in items)


# --- Writing ------------------------------------------------------------------------------------


@dataclass
class Styles:
    title: Any
    formula: Any
    id: Any
    label: Any
    row: Any
    value: Any
    blank: Any
    out: Any
    key: Any
    stage: Any


def styles(book: Any, precision: int, decimals: int) -> Styles:
    number = "0." + "0" * precision if precision else "0"
    asked = "0." + "0" * decimals if decimals else "0"
    return Styles(
        title=book.add_format({"bold": True, "font_size": 12}),
        formula=book.add_format({"italic": True, "font_color": "#444444"}),
        id=book.add_format({"font_color": "#777777", "font_name": "DejaVu Sans Mono", "font_size": 9}),
        label=book.add_format({"bold": True, "align": "center", "bottom": 1}),
        row=book.add_format({"bold": True, "align": "right"}),
        value=book.add_format({"num_format": number}),
        blank=book.add_format({"num_format": asked, "bg_color": "#FFF2A8", "border": 1, "border_color": "#B8860B"}),
        out=book.add_format({"pattern": 7, "fg_color": "#BBBBBB", "bg_color": "#EEEEEE"}),
        key=book.add_format({"num_format": asked, "bg_color": "#C6EFCE", "border": 1}),
        stage=book.add_format({"bold": True, "font_size": 14, "font_color": "#1F4E79"}),
    )


def write(trace: Trace, kept: Sequence[Step], precision: int, out: BinaryIO, marks: Marks | None = None,
          about: Sequence[tuple[str, str]] = ()) -> None:  # fmt: skip
    """The workbook of these steps (and what they need), to out. marks: a worksheet's."""
    import xlsxwriter  # type: ignore[import-untyped]

    kept = [s for s in kept if s.id in trace.by_id or s.id in trace.parameter_ids]  # a worksheet's parameter columns
    items = plan(trace, kept)
    refuse(trace, items)
    hidden = {} if marks is None else left_out(trace, marks)
    decimals = next((int(v) for k, v in about if k == "decimals" and v), precision)
    buffer = io.BytesIO()  # the zip; each sheet's rows go to a temporary file as they are written (constant_memory)
    book = xlsxwriter.Workbook(buffer, {"constant_memory": True, "strings_to_numbers": False,
                                        "strings_to_formulas": False})  # fmt: skip
    book.worksheet_class = exact(xlsxwriter.worksheet.Worksheet)
    style = styles(book, precision, decimals)
    sheets: dict[str, Any] = {}
    next_row: dict[str, int] = {}
    stage_of: dict[str, int] = {}
    blocks: dict[str, Block] = {}
    breaks: dict[str, list[int]] = {}
    numbered: list[tuple[int, str, int, int]] = []
    for name in sorted({item.sheet: None for item in items}, key=lambda name: name == NEEDED):  # hidden: last
        sheets[name] = ws = book.add_worksheet(name)
        ws.set_column(0, 0, 22)
        ws.set_column(LABELS, 16383, precision + 6)
        ws.set_paper(9)  # A4, as wide as its widest block, a page from each stage on
        ws.fit_to_pages(1, 0)
        next_row[name] = 0
    layout: list[tuple[Item, Step, bool, Block]] = []  # every block's place first: a hidden step may read a
    for item in items:  # parameter shown later, before the first shown step that reads it
        s = trace.given(item.id) if item.param else trace.by_id[item.id]
        row = next_row[item.sheet]
        staged = s.stage != stage_of.get(item.sheet) and item.sheet != NEEDED
        if staged:
            stage_of[item.sheet] = s.stage
            breaks.setdefault(item.sheet, []).append(row)
            row += 2
        blocks[s.id] = Block(item.sheet, row + HEAD, LABELS, *s.value.shape)
        next_row[item.sheet] = row + HEAD + s.value.shape[0] + 2
        layout.append((item, s, staged, blocks[s.id]))
    for item, s, staged, block in layout:
        ws, row = sheets[item.sheet], block.top - HEAD
        if staged:
            ws.write_string(row - 2, 0, f"{s.stage} · {STAGES[s.stage]}", style.stage)
        ws.write_string(row, 0, s.title, style.title)
        ws.write_string(row + 1, 0, s.formula, style.formula)
        ws.write_string(row + 2, 0, f"id: {s.id}", style.id)
        for j, label in enumerate(columns(s)):
            ws.write_string(row + 3, LABELS + j, label, style.label)
        marked = (marks or {}).get(s.id, {}) if item.sheet != NEEDED else hidden.get(s.id, {})
        _cells(ws, s, labels(s.rows) if not item.param else s.rows, block, blocks, style, marked, numbered)
        if s.op.heatmap and not s.op.vocabulary:
            ws.conditional_format(block.top, block.left, block.top + block.rows - 1, block.left + block.cols - 1,
                                  {"type": "2_color_scale", "min_type": "num", "min_value": 0, "min_color": "#FFFFFF",
                                   "max_type": "num", "max_value": 1, "max_color": "#F8696B"})  # fmt: skip
        book.define_name(s.id, block.name())
    for p in trace.parameters:  # a head's columns of W_Q (b_Q): a name for those columns of the whole
        user = trace.by_id[p.before].op
        if p.id not in blocks and isinstance(user, ops.Linear) and user.part and whole(p.id) in blocks:
            book.define_name(p.id, blocks[whole(p.id)].name(user.part[0], user.part[1] - 1))
    for name, rows in breaks.items():
        sheets[name].set_h_pagebreaks(rows[1:])
    if NEEDED in sheets:
        sheets[NEEDED].hide()
    if marks is not None:
        _blanks(book, numbered)
    _about(book, trace, about, marks is not None)
    book.close()
    out.write(buffer.getvalue())


def exact(worksheet: type) -> type:
    """XlsxWriter's worksheet, writing a number as Python's repr (the shortest text that reads back as the
    same float64: up to 17 significant digits) where XlsxWriter writes 16 (`%.16G`, which changes 4 in 10
    of MiniLM's weights by an ulp)."""

    class Exact(worksheet):  # type: ignore[misc]
        def _xml_number_element(self, number: float | int, attributes: Sequence[tuple[str, Any]] = ()) -> None:
            attr = "".join(f' {key}="{self._escape_attributes(value)}"' for key, value in attributes)
            text = str(number) if isinstance(number, int) else repr(float(number))  # a count stays 1, not 1.0
            self.fh.write(f"<c{attr}><v>{text}</v></c>")

    return Exact


def _cells(ws: Any, s: Step, rows: Sequence[str], block: Block, blocks: dict[str, Block], style: Styles,
           marked: Any, numbered: list[tuple[int, str, int, int]]) -> None:  # fmt: skip
    """The step's cells, a row at a time after its label (the workbook keeps only the row being written):
    values, or formulas with their values; a worksheet's marks as the contract says."""
    make = None if isinstance(s.op, VALUES) else formula(s.op)
    refs = None
    if make is not None:
        params = {role: (blocks[pid], first) for role, (pid, first) in uses(s).items()}
        refs = Refs(block.sheet, [blocks[k] for k in s.inputs], params)
    value = s.value
    for (i, j), v in np.ndenumerate(value):
        r, c = block.top + i, block.left + j
        if j == 0:
            ws.write_string(r, 0, rows[i], style.row)
        mark = marked.get((i, j))
        if mark is not None and mark.kind.boxed:  # a blank, or the key's answer to it
            numbered.append((mark.n, s.id, i, j))
        if mark is not None and mark.kind is MarkKind.blank:
            ws.write_blank(r, c, None, style.blank)
            ws.write_comment(r, c, f"blank {mark.n}")  # as the other formats number it
        elif mark is not None and mark.kind is MarkKind.out:
            ws.write_blank(r, c, None, style.out)
        elif mark is not None and mark.kind is MarkKind.same:  # a copy of a blank: shows it once filled in
            source = _copied(make, s, refs, i, j)
            ws.write_formula(r, c, f'=IF(ISBLANK({source}),"",{source})', style.value, "")
        elif make is None or refs is None:
            ws.write_number(r, c, float(v), style.value)
        else:
            fmt = style.key if mark is not None else style.value
            ws.write_formula(r, c, "=" + make(s, refs, i, j), fmt, float(v))


def _copied(make: Formula | None, s: Step, refs: Refs | None, i: int, j: int) -> str:
    """The cell a pass-through's cell copies: its formula is a reference."""
    assert make is not None and refs is not None
    return make(s, refs, i, j)


def left_out(trace: Trace, marks: Marks) -> dict[str, dict[tuple[int, int], Mark]]:
    """A worksheet's cells that depend on a blank, in every step (the marks hold the shown steps' only):
    as worksheet.py finds them, the blanks made NaN and the run recomputed. On the hidden sheet they are
    left out too, so that no stored value there gives a blank away."""
    values: dict[str, np.ndarray] = {}
    out: dict[str, dict[tuple[int, int], Mark]] = {}
    with np.errstate(all="ignore"):
        for s in trace.steps:
            value = s.op(*(values[k] for k in s.inputs)).copy() if s.inputs else s.value.copy()
            for (i, j), mark in marks.get(s.id, {}).items():
                if mark.kind.boxed:
                    value[i, j] = np.nan
            values[s.id] = value
            out[s.id] = {(int(i), int(j)): Mark(MarkKind.out) for i, j in np.argwhere(np.isnan(value))}
    return out


def refuse(trace: Trace, items: Sequence[Item]) -> None:
    """One line, exit 2: a step with no formula, or too many cells."""
    for op, step_id in ((trace.by_id[item.id].op, item.id) for item in items if not item.param):
        if not isinstance(op, VALUES) and formula(op) is None:
            raise EncoderError(f"xlsx: {step_id}: there is no formula for its kind of step ({type(op).__name__}); "
                               "keep other steps with --layer, --head or --step, or use another --format",
                               argument="format")  # fmt: skip
    count = cells(items)
    if count <= MAX_CELLS:
        return
    layers = range(trace.model.layers)
    fits = [f"--layer {k}" for k in layers if cells(plan(trace, [s for s in trace.steps if s.layer == k])) <= MAX_CELLS]
    why = "keep fewer steps: a layer needs every earlier layer on the hidden sheet, so"
    if fits:
        names = fits[0] if len(fits) == 1 else f"{', '.join(fits[:-1])} or {fits[-1]}"
        fix = f"{why} for this model only {names} {'fits' if len(fits) == 1 else 'fit'}"
    else:
        fix = f"{why} for this model no layer fits; keep fewer with --step"
    raise EncoderError(
        f"xlsx: the workbook would hold {count:,} cells, past the {MAX_CELLS:,} a workbook may hold; {fix}",
        argument="format",
    )


def _blanks(book: Any, numbered: list[tuple[int, str, int, int]]) -> None:
    """The hidden sheet `blanks`: number, step, row, col of every blank, in the worksheet's numbering."""
    ws = book.add_worksheet("blanks")
    for k, text in enumerate(("number", "step", "row", "col")):
        ws.write_string(0, k, text)
    for r, (n, step_id, i, j) in enumerate(sorted(numbered), start=1):
        ws.write_number(r, 0, n)
        ws.write_string(r, 1, step_id)
        ws.write_number(r, 2, i)
        ws.write_number(r, 3, j)
    ws.hide()


def _about(book: Any, trace: Trace, about: Sequence[tuple[str, str]], sheet: bool) -> None:
    """The hidden sheet `about`: what the workbook was made from, a key and its value a row."""
    ws = book.add_worksheet("about")
    rows: list[tuple[str, Any]] = [("format", 1), ("sentence", trace.sentence)]
    rows += [] if trace.sentence_b is None else [("sentence_b", trace.sentence_b)]
    rows += [*about, ("kind", "worksheet" if sheet else "explain")]
    for r, (key, value) in enumerate(rows):
        ws.write_string(r, 0, key)
        if isinstance(value, int) or (key == "decimals" and value):
            ws.write_number(r, 1, int(value))
        elif value:
            ws.write_string(r, 1, value)
    ws.hide()
