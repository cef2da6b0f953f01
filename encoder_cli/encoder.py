"""run(spec, sentence) -> Trace: the encoder, stage by stage as in the seed's summary table.

Legend: n tokens, d = d_model, d_k = d / heads, d_ff the FFN width; x is a layer's
input (or, pre-norm, its normalised input); every matrix is [n, ...], one row per token.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from encoder_cli import ops, tokenizer
from encoder_cli.errors import EncoderError
from encoder_cli.spec import Layer, Model, Norm, Spec
from encoder_cli.trace import Step, Trace

Array = np.ndarray


class _Recorder:
    """Collects steps; every value is checked finite as it is recorded."""

    def __init__(self, tokens: list[str]) -> None:
        self.tokens = tuple(tokens)
        self.steps: list[Step] = []

    def add(
        self,
        id: str,
        title: str,
        formula: str,
        tex: str,
        value: Array,
        *,
        inputs: tuple[str, ...],
        op: str,
        stage: int,
        cols: tuple[str, ...] | str = "d",
        params: Mapping[str, Array] | None = None,
    ) -> Array:
        if not np.isfinite(value).all():
            raise EncoderError(
                f"{id}: the result is not a finite number (overflow to infinity or 0/0); "
                "the weights are too large, or layer_norm_eps is 0 with a constant row"
            )
        if isinstance(cols, str):  # a prefix: "d" -> d0, d1, ...
            cols = tuple(f"{cols}{j}" for j in range(value.shape[1]))
        self.steps.append(Step(id, title, formula, tex, value, self.tokens, cols, inputs, op, stage, params or {}))
        return value

    def layer_norm(self, id: str, x: Array, x_id: str, norm: Norm, eps: float, stage: int) -> Array:
        """Steps S.mean, S.variance and S = LayerNorm(x); returns S."""
        y, mean, var = ops.layer_norm(x, norm.gamma, norm.beta, eps)
        self.add(
            id + ".mean",
            "Mean of each row",
            "μ = (1/d) Σⱼ xⱼ",
            r"\mu = \frac{1}{d} \sum_j x_j",
            mean,
            inputs=(x_id,),
            op="mean",
            stage=stage,
            cols=("mean",),
        )
        self.add(
            id + ".variance",
            "Variance of each row",
            "σ² = (1/d) Σⱼ (xⱼ − μ)²",
            r"\sigma^2 = \frac{1}{d} \sum_j (x_j - \mu)^2",
            var,
            inputs=(x_id, id + ".mean"),
            op="variance",
            stage=stage,
            cols=("variance",),
        )
        return self.add(
            id,
            "Layer normalisation",
            f"LayerNorm(x) = (x − μ) / √(σ² + ε) · γ + β,  ε = {eps:g}",
            r"\mathrm{LayerNorm}(x) = \frac{x - \mu}{\sqrt{\sigma^2 + \varepsilon}} \cdot \gamma + \beta,"
            rf"\quad \varepsilon = {_tex_number(eps)}",
            y,
            inputs=(x_id, id + ".mean", id + ".variance"),
            op="layer_norm",
            stage=stage,
            params={"gamma": norm.gamma, "beta": norm.beta, "eps": np.array(eps)},
        )


def run(spec: Spec, sentence: str) -> Trace:
    # Overflow is reported by _Recorder.add as one clear error, not as numpy warnings.
    with np.errstate(all="ignore"):
        return _run(spec, sentence)


def _run(spec: Spec, sentence: str) -> Trace:
    m = spec.model
    tokens = tokenizer.split(sentence, m.lowercase)
    rec = _Recorder(tokens)

    # Stage 1: tokenization & embedding. X [n, d]
    X, unknown = tokenizer.embed(tokens, spec)
    rec.add(
        "embeddings",
        "Token embeddings",
        "X = embedding of each token",
        r"X = \text{the embedding of each token}",
        X,
        inputs=(),
        op="lookup",
        stage=1,
    )

    # Stage 2: positional encoding. X' = X + PE
    formula, tex, PE = _positional(spec, len(tokens))
    base = {"base": np.array(m.positional_base)} if m.positional == "sinusoidal" else {}
    rec.add("positional", "Positional encoding", formula, tex, PE, inputs=(), op=m.positional, stage=2, params=base)
    x = rec.add(
        "input",
        "Encoder input",
        "X' = X + PE",
        "X' = X + PE",
        X + PE,
        inputs=("embeddings", "positional"),
        op="add",
        stage=2,
    )
    x_id = "input"
    if spec.embedding_norm is not None:
        x = rec.layer_norm("input_norm", x, x_id, spec.embedding_norm, m.layer_norm_eps, stage=2)
        x_id = "input_norm"

    # Stages 3-6, once per layer.
    for i, layer in enumerate(spec.layers):
        x, x_id = _layer(rec, f"layers.{i}", x, x_id, layer, m)

    if spec.final_norm is not None:
        x = rec.layer_norm("final_norm", x, x_id, spec.final_norm, m.layer_norm_eps, stage=7)
        x_id = "final_norm"
    rec.add(
        "output",
        "Encoder output",
        "the contextual representation of each token",
        r"\text{the contextual representation of each token}",
        x,
        inputs=(x_id,),
        op="copy",
        stage=7,
    )

    model = {
        "d_model": m.d_model,
        "heads": m.heads,
        "d_k": m.d_k,
        "d_ff": spec.layers[0].d_ff,
        "layers": len(spec.layers),
        "positional": m.positional,
        "norm": m.norm,
        "activation": m.activation,
        "layer_norm_eps": m.layer_norm_eps,
    }
    return Trace(sentence, tokens, unknown, model, rec.steps)


def _positional(spec: Spec, n: int) -> tuple[str, str, Array]:
    """The formula (text and LaTeX) and PE [n, d] for the file's kind of positional encoding."""
    m = spec.model
    if m.positional == "sinusoidal":
        base = f"{m.positional_base:g}"
        formula = f"PE(pos, 2i) = sin(pos / {base}^(2i/d)),  PE(pos, 2i+1) = cos(pos / {base}^(2i/d))"
        b = _tex_number(m.positional_base)
        tex = (
            rf"PE_{{(pos,\,2i)}} = \sin\left(pos / {b}^{{2i/d}}\right), \quad "
            rf"PE_{{(pos,\,2i+1)}} = \cos\left(pos / {b}^{{2i/d}}\right)"
        )
        return formula, tex, ops.sinusoidal(n, m.d_model, m.positional_base)
    if m.positional == "table":
        assert spec.positional_table is not None  # the spec checks it is there
        rows = len(spec.positional_table)
        if rows < n:
            raise EncoderError(
                f"{spec.where(('positional_table',))}has {rows} rows but the sentence has {n} tokens; "
                "add a row for every position"
            )
        tex = r"PE_{pos} = \text{row } pos \text{ of the positional table}"
        return "PE(pos) = positional_table[pos]", tex, spec.positional_table[:n]
    return "PE = 0 (positional: none)", r"PE = 0 \quad (\text{positional: none})", np.zeros((n, m.d_model))


def _tex_number(x: float) -> str:
    """A setting as LaTeX: 10000, 0.1, 10^{-5}, 2.5 \\times 10^{-6}."""
    mantissa, _, exponent = f"{x:g}".partition("e")
    if not exponent:
        return mantissa
    power = f"10^{{{int(exponent)}}}"
    return power if mantissa == "1" else rf"{mantissa} \times {power}"


def _affine(x: Array, W: Array | None, b: Array | None) -> Array:
    """x W + b, where an absent W passes x through and an absent b adds nothing."""
    y = x if W is None else x @ W
    return y if b is None else y + b


def _layer(rec: _Recorder, p: str, x: Array, x_id: str, layer: Layer, m: Model) -> tuple[Array, str]:
    """One encoder layer. Post-norm (original Transformer, BERT): x -> LN(x + MHA(x)) -> LN(. + FFN(.)).
    Pre-norm: x -> x + MHA(LN(x)) -> . + FFN(LN(.))."""
    eps = m.layer_norm_eps
    pre = m.norm == "pre"

    # Stage 3: multi-head self-attention (pre-norm normalises its input first).
    a_in, a_id = x, x_id
    if pre:
        a_in, a_id = (
            rec.layer_norm(f"{p}.norm_1", x, x_id, layer.norm_1, eps, stage=3),
            f"{p}.norm_1",
        )
    attention = _attention(rec, p, a_in, a_id, layer, m)

    # Stage 4: Add & Norm.
    r1 = rec.add(
        f"{p}.residual_1",
        "Residual",
        "x + attention output",
        r"x + \text{attention output}",
        x + attention,
        inputs=(x_id, f"{p}.attention.output"),
        op="add",
        stage=4,
    )
    n_id = f"{p}.norm_2" if pre else f"{p}.norm_1"
    f_in = rec.layer_norm(n_id, r1, f"{p}.residual_1", layer.norm_2 if pre else layer.norm_1, eps, stage=4)

    # Stage 5: feed-forward network, FFN(x) = act(x W_1 + b_1) W_2 + b_2.
    ffn = _ffn(rec, p, f_in, n_id, layer, m.activation)

    # Stage 6: Add & Norm (pre-norm: the residual goes on; the next LayerNorm is the next layer's).
    skip, skip_id = (r1, f"{p}.residual_1") if pre else (f_in, n_id)
    skip_name, _, skip_number = skip_id.split(".")[-1].partition("_")  # "norm", "1"
    r2 = rec.add(
        f"{p}.residual_2",
        "Residual",
        f"{skip_name}_{skip_number} + FFN output",
        rf"\mathrm{{{skip_name}}}_{skip_number} + \text{{FFN output}}",
        skip + ffn,
        inputs=(skip_id, f"{p}.ffn.output"),
        op="add",
        stage=6,
    )
    if pre:
        return r2, f"{p}.residual_2"
    return rec.layer_norm(f"{p}.norm_2", r2, f"{p}.residual_2", layer.norm_2, eps, stage=6), f"{p}.norm_2"


def _attention(rec: _Recorder, p: str, x: Array, x_id: str, layer: Layer, m: Model) -> Array:
    """MultiHead(x) = [head_0 | ... | head_{h-1}] W_O + b_O,  head_h = softmax(Q Kᵀ / √d_k) V,
    with Q = x W_Q + b_Q restricted to head h's columns h*d_k ... (h+1)*d_k - 1 (likewise K, V)."""
    d_k = m.d_k
    heads = [f"{p}.attention.heads.{h}" for h in range(m.heads)]
    outputs = []
    for h, hp in enumerate(heads):
        cols = slice(h * d_k, (h + 1) * d_k)
        part = "" if m.heads == 1 else f"[{cols.start}:{cols.stop}]"  # head h's columns, in formulas
        tex_part = "" if m.heads == 1 else f"[{cols.start}{{:}}{cols.stop}]"
        Q, K, V = (
            rec.add(
                f"{hp}.{name}",
                f"{title} (head {h})",
                f"{name} = x W_{name}{part}" + ("" if b is None else f" + b_{name}{part}"),
                rf"{name} = x\,W_{name}{tex_part}" + ("" if b is None else f" + b_{name}{tex_part}"),
                _affine(x, W[:, cols], None if b is None else b[cols]),
                inputs=(x_id,),
                op="linear",
                stage=3,
                params=_present(**{f"W_{name}": W[:, cols], f"b_{name}": None if b is None else b[cols]}),
            )
            for name, title, W, b in (
                ("Q", "Queries", layer.W_Q, layer.b_Q),
                ("K", "Keys", layer.W_K, layer.b_K),
                ("V", "Values", layer.W_V, layer.b_V),
            )
        )
        scores = rec.add(
            f"{hp}.scores",
            f"Attention scores (head {h})",
            "Q Kᵀ",
            "Q K^T",
            Q @ K.T,
            inputs=(f"{hp}.Q", f"{hp}.K"),
            op="matmul_t",
            stage=3,
            cols=rec.tokens,
        )
        scaled = rec.add(
            f"{hp}.scaled",
            f"Scaled scores (head {h})",
            f"Q Kᵀ / √d_k,  √d_k = √{d_k} = {math.sqrt(d_k):.4g}",
            rf"\frac{{Q K^T}}{{\sqrt{{d_k}}}}, \quad \sqrt{{d_k}} = \sqrt{{{d_k}}} = {math.sqrt(d_k):.4g}",
            scores / math.sqrt(d_k),
            inputs=(f"{hp}.scores",),
            op="scale",
            stage=3,
            cols=rec.tokens,
        )
        weights = rec.add(
            f"{hp}.weights",
            f"Attention weights (head {h})",
            "softmax of each row: exp(sⱼ) / Σₖ exp(sₖ)",
            r"\mathrm{softmax}(s)_j = \frac{e^{s_j}}{\sum_k e^{s_k}} \quad \text{along each row}",
            ops.softmax(scaled),
            inputs=(f"{hp}.scaled",),
            op="softmax",
            stage=3,
            cols=rec.tokens,
        )
        outputs.append(
            rec.add(
                f"{hp}.output",
                f"Weighted sum of values (head {h})",
                "weights V",
                r"\mathrm{weights}\; V",
                weights @ V,
                inputs=(f"{hp}.weights", f"{hp}.V"),
                op="matmul",
                stage=3,
            )
        )
    concat = rec.add(
        f"{p}.attention.concat",
        "Heads side by side",
        " | ".join(f"head_{h}" for h in range(m.heads)),
        r"\left[\," + r" \mid ".join(rf"\mathrm{{head}}_{{{h}}}" for h in range(m.heads)) + r"\,\right]",
        np.concatenate(outputs, axis=1),
        inputs=tuple(f"{hp}.output" for hp in heads),
        op="concat",
        stage=3,
    )
    W_O = layer.W_O is not None
    b_O = "" if layer.b_O is None else " + b_O"
    return rec.add(
        f"{p}.attention.output",
        "Attention output",
        "concat" + (" W_O" if W_O else "") + b_O,
        r"\mathrm{concat}" + (r"\,W_O" if W_O else "") + b_O,
        _affine(concat, layer.W_O, layer.b_O),
        inputs=(f"{p}.attention.concat",),
        op="linear",
        stage=3,
        params=_present(W_O=layer.W_O, b_O=layer.b_O),
    )


_ACTIVATION_FORMULAS = {  # as text and as LaTeX
    "relu": ("ReLU(h) = max(0, h)", r"\mathrm{ReLU}(h) = \max(0, h)"),
    "gelu": (
        "GELU(h) = h/2 · (1 + erf(h / √2))",
        r"\mathrm{GELU}(h) = \frac{h}{2} \left(1 + \mathrm{erf}\left(h / \sqrt{2}\right)\right)",
    ),
    "gelu_tanh": (
        "GELU(h) ≈ h/2 · (1 + tanh(√(2/π) · (h + 0.044715 h³)))",
        r"\mathrm{GELU}(h) \approx \frac{h}{2} \left(1 + \tanh\left(\sqrt{2/\pi}\,(h + 0.044715\,h^3)\right)\right)",
    ),
}


def _ffn(rec: _Recorder, p: str, x: Array, x_id: str, layer: Layer, activation: str) -> Array:
    """FFN(x) = act(x W_1 + b_1) W_2 + b_2, each token on its own."""
    f = f"{p}.ffn"
    b1 = "" if layer.b_1 is None else " + b_1"
    b2 = "" if layer.b_2 is None else " + b_2"
    hidden = rec.add(
        f"{f}.hidden",
        "FFN hidden layer",
        f"h = x W_1{b1}",
        rf"h = x\,W_1{b1}",
        _affine(x, layer.W_1, layer.b_1),
        inputs=(x_id,),
        op="linear",
        stage=5,
        cols="f",
        params=_present(W_1=layer.W_1, b_1=layer.b_1),
    )
    active = rec.add(
        f"{f}.activation",
        f"FFN activation ({activation})",
        *_ACTIVATION_FORMULAS[activation],
        ops.ACTIVATIONS[activation](hidden),
        inputs=(f"{f}.hidden",),
        op="activation",
        stage=5,
        cols="f",
    )
    return rec.add(
        f"{f}.output",
        "FFN output",
        f"{activation}(h) W_2{b2}",
        rf"\mathrm{{{'ReLU' if activation == 'relu' else 'GELU'}}}(h)\,W_2{b2}",
        _affine(active, layer.W_2, layer.b_2),
        inputs=(f"{f}.activation",),
        op="linear",
        stage=5,
        params=_present(W_2=layer.W_2, b_2=layer.b_2),
    )


def _present(**params: Array | None) -> dict[str, Array]:
    return {k: v for k, v in params.items() if v is not None}
