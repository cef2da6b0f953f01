"""The parameters a run used, named as the seed names them: the embedding rows of the sentence's
tokens, W_Q, W_K, W_V (and each head's columns of them), W_O, W_1, b_1, W_2, b_2, γ, β, a
table's position and token-type rows, and what a checkpoint's family adds.

They are found from the steps' own ops (each op holds the weights it used), so a parameter is
listed exactly when a step used it, and read only when asked for: a checkpoint's matrices stay
in its file until then.

    embeddings.table                      the rows of the sentence's tokens     (tokens x d)
    positional.table, token_types.table   the rows used                         (positions x d)
    layers.i.attention.W_Q (W_K, W_V)     the whole matrix                      (d x d)
    layers.i.attention.heads.h.W_Q        head h's columns, labelled by their own column (d x d_k)
    layers.i.attention.b_Q, heads.h.b_Q   biases, one row                       (1 x d)
    layers.i.attention.W_O, b_O           where the model has them
    layers.i.ffn.W_1, b_1, W_2, b_2       (d x d_ff, 1 x d_ff, d_ff x d, 1 x d)
    S.gamma, S.beta                       for each LayerNorm step S (norm_1, input_norm, ...)
    input_projection.W_P, b_P             the embedding projection (ALBERT, ELECTRA)   (E x d, 1 x d)
    attention.relative_attention_bias     MPNet's relative_attention_bias             (buckets x heads)
    rel_embeddings                        DeBERTa's relative embeddings, the rows read (δ x d)
    layers.i.attention.W_Kr, b_Kr, ...    DeBERTa's pos_key_proj, pos_query_proj (W_Qr) where not shared
    mlm.W_T, b_T, W_vocab, b_vocab        a masked-LM head's (d x E, 1 x E, E x V, 1 x V)
    classifier.W_C, b_C, W_out, b_out     a sequence classifier's (d x d, 1 x d, d x L, 1 x L)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from encoder_cli import ops
from encoder_cli.ops import Sym
from encoder_cli.settings import UNK
from encoder_cli.trace import Param, Step, head_of, numbered

Array = np.ndarray
_WHAT = {
    "W_Q": "Query weights",
    "W_K": "Key weights",
    "W_V": "Value weights",
    "W_O": "Output projection",
    "W_1": "FFN weights, first layer",
    "W_2": "FFN weights, second layer",
    "b_Q": "Query bias",
    "b_K": "Key bias",
    "b_V": "Value bias",
    "b_O": "Output bias",
    "b_1": "FFN bias, first layer",
    "b_2": "FFN bias, second layer",
    "W_Kr": "Position key weights (pos_key_proj)",
    "b_Kr": "Position key bias",
    "W_Qr": "Position query weights (pos_query_proj)",
    "b_Qr": "Position query bias",
    "W_P": "Embedding projection weights",
    "b_P": "Embedding projection bias",
    "W_T": "Masked-LM head: dense weights",
    "b_T": "Masked-LM head: dense bias",
    "W_vocab": "Output layer: the word embeddings (tied) or the decoder",
    "b_vocab": "Output bias, one per word",
    "W_C": "Classifier: dense weights",
    "b_C": "Classifier: dense bias",
    "W_out": "Classifier: output weights",
    "b_out": "Classifier: output bias",
    "gamma": "LayerNorm scale γ",
    "beta": "LayerNorm shift β",
}


# The id of the table a lookup step reads its rows from (the other parameters are named by their step's scope).
TABLES: dict[type[ops.Op], str] = {ops.Lookup: "embeddings.table", ops.Table: "positional.table",
                                   ops.TokenType: "token_types.table",
                                   ops.PositionBias: "attention.relative_attention_bias"}  # fmt: skip


def of(steps: Sequence[Step]) -> list[Param]:
    """Every parameter the steps used, each listed just before the step that first uses it."""
    by_id = {s.id: s for s in steps}
    out: list[Param] = []
    wholes: dict[str, list[Any]] = {}  # layers.i.attention.W_Q -> its heads' columns, in order
    linear: set[str] = set()  # the ids of the linear layers' parameters listed so far
    for s in steps:
        op = s.op
        if isinstance(op, ops.Lookup):
            first: dict[str, int] = {}  # each token's row once, [UNK] for the unknown
            unknown = set(op.unknown)
            for p, token in enumerate(s.rows):
                first.setdefault(UNK if p in unknown else token, p)
            sym = Sym("rows of the embedding table", r"\text{rows of the embedding table}")
            table = op.X[list(first.values())]
            out.append(
                _param(s, TABLES[ops.Lookup], "Embedding table, the sentence's rows", sym, first, s.cols, [table])
            )
        elif isinstance(op, ops.Table):
            a, b = op.positions[0], op.positions[-1]
            sym = Sym(
                f"rows {a} … {b} of the positional table", rf"\text{{rows }} {a} \dots {b} \text{{ of the table}}"
            )
            positions = [str(p) for p in op.positions]
            title = "Positional table, the rows used"
            out.append(_param(s, TABLES[ops.Table], title, sym, positions, s.cols, [op.table]))
        elif isinstance(op, ops.TokenType):
            used = ", ".join(map(str, op.used))
            sym = Sym(f"row{'s' * (len(op.used) > 1)} {used} of the token type embeddings",
                      rf"\text{{row{'s' * (len(op.used) > 1)} {used} of the token type embeddings}}")  # fmt: skip
            types = [f"type {k}" for k in op.used]
            out.append(_param(s, TABLES[ops.TokenType], "Token type embedding", sym, types, s.cols, [op.table]))
        elif isinstance(op, ops.PositionBias) and op.h == 0:  # the table every head and layer reads
            sym = Sym("relative_attention_bias: given, buckets × heads", r"\text{relative\_attention\_bias: given}")
            buckets, heads = op.table.shape
            out.append(_param(s, TABLES[ops.PositionBias], "Relative position bias table", sym,
                              [f"bucket {k}" for k in range(buckets)], [f"head {h}" for h in range(heads)],
                              [op.table]))  # fmt: skip
        elif isinstance(op, ops.RelativeRows):
            sym = Sym(f"rel_embeddings[δ + {op.span}]: given, the rows read", r"\text{rel\_embeddings: given}")
            out.append(_param(s, "rel_embeddings", "Relative position embeddings, the rows read", sym, s.rows,
                              s.cols, [op.table]))  # fmt: skip
        elif isinstance(op, ops.Normalise):
            for name, v in (("gamma", op.gamma), ("beta", op.beta)):
                out.append(_param(s, f"{s.id}.{name}", _WHAT[name], _given(name, v.shape), [name], s.cols, [v]))
        elif isinstance(op, ops.Linear):
            x = by_id[s.inputs[0]]
            scope = s.id.rsplit(".", 1)[0]  # layers.0.ffn, or a head's: layers.0.attention.heads.1
            layer = scope.rsplit(".", 2)[0] if head_of(s.id) is not None else scope  # layers.0.attention
            for name, W in op.params.items():
                listed = f"{layer}.{name}" if op.part is None else f"{scope}.{name}"
                if listed in linear:  # DeBERTa's K_r: W_K again, listed with K
                    continue
                linear.add(listed)
                rows: Sequence[str] = [name] if W.ndim == 1 else x.cols
                if op.part is None:  # the whole matrix (one head's columns are all of them)
                    out.append(_param(s, f"{layer}.{name}", _WHAT[name], _given(name, W.shape), rows, s.cols, [W]))
                    continue
                a, b = op.part
                whole = f"{layer}.{name}"
                if whole not in wholes:  # the whole matrix, gathered from every head's columns
                    wholes[whole] = []
                    d, d_k = len(x.cols), b - a
                    marked = ", ".join(f"head {h}: d{h * d_k}–d{(h + 1) * d_k - 1}" for h in range(d // d_k))
                    given = _given(name, (d,) if W.ndim == 1 else (d, d))
                    sym = Sym(f"{given.text}; {marked}", given.tex)
                    out.append(_param(s, whole, _WHAT[name], sym, rows, x.cols, wholes[whole]))
                wholes[whole].append(W)
                sym = Sym(f"{name}[:, {a}:{b}]: given, head {head_of(s.id)}'s columns d{a}–d{b - 1}",
                          rf"{name}[{a}{{:}}{b}]:\ \text{{given, head {head_of(s.id)}'s columns}}")  # fmt: skip
                cols = numbered("d", b)[a:]  # d{a} … d{b - 1}
                out.append(
                    _param(s, f"{scope}.{name}", _WHAT[name] + s.title[s.title.rfind(" (") :], sym, rows, cols, [W])
                )
    return out


def _given(name: str, shape: tuple[int, ...]) -> Sym:
    """'W_Q: given, 4 × 4': a parameter's formula."""
    symbol, tex = {"gamma": ("γ", r"\gamma"), "beta": ("β", r"\beta")}.get(name, (name, name))
    size = " × ".join(map(str, shape))
    return Sym(f"{symbol}: given, {size}", rf"{tex}:\ \text{{given, {size.replace('×', 'by')}}}")


def _param(user: Step, pid: str, title: str, sym: Sym, rows: Iterable[str], cols: Sequence[str],
           parts: Sequence[Any]) -> Param:  # fmt: skip
    """A parameter used first by `user`; its value, read when asked for, is its parts side by side
    (a head's columns, or the whole of one matrix or vector), each row a row of the value."""

    def read() -> Array:
        return np.concatenate([np.atleast_2d(np.asarray(p, dtype=np.float64)) for p in parts], axis=1)

    return Param(pid, title, sym, tuple(rows), tuple(cols), user.stage, user.id, read)
