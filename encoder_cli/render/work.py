"""Worked arithmetic: how one number of a step is made from the numbers it is made of,
written in the seed's style:

    Q[The, d0] = (0.200 × 0.100) + (1.400 × 0.200) + (0.800 × 0.900) + (1.600 × 0.800) = 2.300

Each kind of step (Step.op) has its own form; the result is recomputed here from the
shown inputs and must equal the step's value (the tests check that it does).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from encoder_cli.render.fmt import columns, labels, number
from encoder_cli.trace import Step, Trace

LONG = 8  # a sum of more terms shows the first and last few around "…"


@dataclass(frozen=True)
class Work:
    step: str  # step id
    row: int
    col: int
    kind: str  # dot, sum, sine, cosine, lookup, table, zero, divide, softmax, mean, variance,
    # layer_norm, relu, gelu, gelu_tanh, copy
    text: str  # the worked line, at the display precision
    terms: list[Any]  # the numbers it is made of (pairs for a dot product), full precision
    result: float  # recomputed from the terms

    def json(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "row": self.row,
            "col": self.col,
            "kind": self.kind,
            "text": self.text,
            "terms": self.terms,
            "result": self.result,
        }


@dataclass(frozen=True)
class _Cell:
    """The cell being worked: how to write its numbers, and how to finish its line."""

    step: Step
    i: int
    j: int
    name: str  # "Q[The, d0]"
    precision: int

    def f(self, value: float) -> str:
        return number(float(value), self.precision)

    def done(self, kind: str, expression: str, terms: list[Any], result: float) -> Work:
        text = f"{self.name} = {expression} = {self.f(result)}"
        return Work(self.step.id, self.i, self.j, kind, text, terms, float(result))


def cell(trace: Trace, step: Step, i: int, j: int, precision: int) -> Work:
    """The worked arithmetic of step.value[i, j]."""
    inputs = [trace.by_id[k].value for k in step.inputs]
    rows = labels(trace.tokens)
    cols = columns(step)
    c = _Cell(step, i, j, f"{_short(step.id)}[{rows[i]}, {cols[j]}]", precision)
    f, done, op = c.f, c.done, step.op

    if op == "lookup":
        index = j
        unknown = " (unknown: [UNK])" if i in trace.unknown else ""
        return done("lookup", f"embedding of {trace.tokens[i]!r}{unknown}, number {index}", [], step.value[i, j])
    if op == "sinusoidal":
        base, d = float(step.params["base"]), step.value.shape[1]
        two_i = j - j % 2
        angle = i / base ** (two_i / d)
        fn, kind = (math.sin, "sine") if j % 2 == 0 else (math.cos, "cosine")
        text = f"{kind[:3]}({i} / {base:g}^({two_i}/{d})) = {kind[:3]}({angle:.6g})"
        return done(kind, text, [i, base, two_i, d], fn(angle))
    if op == "table":
        return done("table", f"positional_table[{i}][{j}]", [], step.value[i, j])
    if op == "none":
        return done("zero", "0 (positional: none)", [], 0.0)
    if op == "add":
        a, b = inputs[0][i, j], inputs[1][i, j]
        names = " + ".join(f"{_short(k)}[{rows[i]}, {cols[j]}]" for k in step.inputs)
        return done("sum", f"{names} = {f(a)} + {f(b)}", [float(a), float(b)], a + b)
    if op in ("linear", "matmul", "matmul_t"):
        return _dot(c, inputs)
    if op == "scale":
        s, d_k = inputs[0][i, j], int(trace.model["d_k"])
        return done("divide", f"{f(s)} / √{d_k}", [float(s), d_k], s / math.sqrt(d_k))
    if op == "softmax":
        row = inputs[0][i]
        exps = np.exp(row - row.max())  # shifted like the computation; shown unshifted when it fits
        shift = "" if row.max() < 700 else f" (each shifted by the row's largest, {f(row.max())})"
        shown = np.exp(row) if not shift else exps
        text = f"exp({f(row[j])}) / ({' + '.join(f'exp({f(v)})' for v in row)}){shift}"
        text += f" = {f(shown[j])} / {f(shown.sum())}"
        return done("softmax", text, [float(v) for v in row], exps[j] / exps.sum())
    if op == "mean":
        x = inputs[0][i]
        return done("mean", f"({_sum(list(map(f, x)))}) / {len(x)}", [float(v) for v in x], x.mean())
    if op == "variance":
        x, mu = inputs[0][i], inputs[1][i, 0]
        squares = [f"({f(v)} − {f(mu)})²" for v in x]
        return done("variance", f"({_sum(squares)}) / {len(x)}", [float(v) for v in x], ((x - mu) ** 2).mean())
    if op == "layer_norm":
        x, mu, var = inputs[0][i, j], inputs[1][i, 0], inputs[2][i, 0]
        g, b, eps = step.params["gamma"][j], step.params["beta"][j], float(step.params["eps"])
        text = f"({f(x)} − {f(mu)}) / √({f(var)} + {eps:g}) × {f(g)} + {f(b)}"
        terms = [float(v) for v in (x, mu, var, eps, g, b)]
        return done("layer_norm", text, terms, (x - mu) / math.sqrt(var + eps) * g + b)
    if op == "activation":
        h = float(inputs[0][i, j])
        kind = str(trace.model["activation"])
        if kind == "relu":
            return done("relu", f"max(0, {f(h)})", [h], max(0.0, h))
        if kind == "gelu":
            text = f"{f(h)}/2 × (1 + erf({f(h)} / √2)) = {f(h)}/2 × (1 + {f(math.erf(h / math.sqrt(2)))})"
            return done("gelu", text, [h], h / 2 * math.erfc(-h / math.sqrt(2)))
        u = math.sqrt(2 / math.pi) * (h + 0.044715 * h**3)
        text = f"{f(h)}/2 × (1 + tanh(√(2/π) × ({f(h)} + 0.044715 × {f(h)}³))) = {f(h)}/2 × (1 + tanh({f(u)}))"
        return done("gelu_tanh", text, [h], h / 2 * (1 + math.tanh(u)))
    if op == "concat":
        d_k = int(trace.model["d_k"])
        head, k = divmod(j, d_k)
        return done("copy", f"head {head}'s output[{rows[i]}, d{k}]", [], inputs[head][i, k])
    return done("copy", f"{_short(step.inputs[0])}[{rows[i]}, {cols[j]}]", [], inputs[0][i, j])  # op == "copy"


def _dot(c: _Cell, inputs: list[np.ndarray]) -> Work:
    """linear: x[i] · W[:, j] + b[j]; matmul: A[i] · B[:, j]; matmul_t: A[i] · B[j]."""
    step, i, j, f, done = c.step, c.i, c.j, c.f, c.done
    W = next((v for k, v in step.params.items() if k.startswith("W_")), None)
    b = next((v for k, v in step.params.items() if k.startswith("b_")), None)
    bias = [] if b is None else [float(b[j])]
    plus = "".join(f" + {f(v)}" for v in bias)
    if step.op == "linear" and W is None:  # no W_O: the concatenated heads pass through
        x = float(inputs[0][i, j])
        return done("sum", f"{f(x)}{plus}", [x, *bias], x + sum(bias))
    a = inputs[0][i]
    # The right-hand factor: a weight column, a column of the second input, or (Q Kᵀ) its row.
    w = W[:, j] if W is not None else (inputs[1][:, j] if step.op == "matmul" else inputs[1][j])
    pairs = [[float(p), float(q)] for p, q in zip(a, w, strict=True)]
    text = _sum([f"({f(p)} × {f(q)})" for p, q in pairs]) + plus
    return done("dot", text, [*pairs, *bias], float(a @ w) + sum(bias))


def _sum(parts: list[str]) -> str:
    """a + b + c, or the first three and last two around "…" when long."""
    if len(parts) > LONG:
        return " + ".join(parts[:3]) + f" + … ({len(parts) - 5} more) … + " + " + ".join(parts[-2:])
    return " + ".join(parts)


def _short(step_id: str) -> str:
    """The name a student writes: 'Q', 'weights', 'norm_1', 'input' ('layers.0.attention.heads.0.Q' -> 'Q')."""
    parts = step_id.split(".")
    if parts[-1] in ("mean", "variance"):
        return f"{parts[-2]}.{parts[-1]}"
    if parts[-1] == "output" and len(parts) > 1:
        return f"{parts[-2]} output"
    return parts[-1]
