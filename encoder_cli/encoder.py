"""run(spec, sentence) -> Trace: the encoder, stage by stage as in the seed's summary table.

Legend: n tokens, d = d_model, d_k = d / heads, d_ff the FFN width; every matrix is
[n, ...], one row per token. Each function's body is its formula; `t(...)` records a step
(see trace.Tape) and returns it, so that every intermediate matrix is kept and shown.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from encoder_cli import ops, parameters, tasks
from encoder_cli.errors import EncoderError
from encoder_cli.ops import Sym
from encoder_cli.settings import MAX_HELD, Model, Norm, Positional, Settings
from encoder_cli.spec import Disentangled, Embedded, Layer, Matrix, NormWeights, Spec
from encoder_cli.trace import Tape, Trace, Var


def run(spec: Spec, sentence: str, pair: str | None = None, predict_all: bool = False) -> Trace:
    """pair: a second sentence (a checkpoint's), encoded with the first as the tokenizer's pair template says;
    predict_all: the masked-LM head (where the model has one) predicts every position, not only the masks."""
    # Overflow is reported by the Tape as one clear error, not as numpy warnings.
    with np.errstate(all="ignore"):
        return _run(spec, sentence, pair, predict_all)


def _run(spec: Spec, sentence: str, pair: str | None, predict_all: bool) -> Trace:
    m = spec.settings
    embedded = spec.vocabulary.embed(sentence, pair)
    n = len(embedded.tokens)
    predicted = tasks.predicted(spec, embedded.ids, predict_all)
    if predict_all and spec.masked_lm is None:
        embedded.warnings.append(
            "every position's word was asked for, and this model has no masked-LM head to predict it"
        )
    if spec.held + cells(spec, n, len(predicted)) > MAX_HELD:
        raise EncoderError(_too_much(spec, n, len(predicted)))
    t = Tape(embedded.labels or embedded.tokens)

    # Stage 1: tokenization & embedding. X [n, d]
    lookup = ops.Lookup(embedded.X, embedded.tokens, embedded.unknown)
    x = t("embeddings", "Token embeddings", lookup, lhs=Sym("X", "X"))
    # Stage 2: positional encoding, X' = X + PE, and the embeddings' LayerNorm
    s2 = t.within(stage=2)
    rel = Relative(relative_bias(s2, spec, n), score_terms=spec.score_terms)
    if not spec.rotary:  # ModernBERT adds no positions to the input: each layer rotates Q and K instead
        x = encoder_input(s2, spec, embedded, x)
    if spec.embedding_norm is not None:  # stage 1's where nothing was added to X (ModernBERT, DeBERTa-v3)
        x = layer_norm(t if x.id == "embeddings" else s2, "input_norm", "Embeddings, layer-normalised", x,
                       spec.embedding_norm, m.layer_norm_eps)  # fmt: skip
    if spec.embedding_projection is not None:  # embeddings of size E, projected to d (ALBERT, ELECTRA)
        W, b = spec.embedding_projection
        x = x.called("input_norm", r"\mathrm{input\_norm}") if spec.embedding_norm is not None else x
        x = s2("input_projection", "Embedding projection", ops.Linear(W, b, "W_P", "b_P"), x)
    if spec.disentangled is not None and spec.disentangled.terms:  # DeBERTa: the relative positions' embeddings
        rel = relative_embeddings(s2, spec.disentangled, n, m.layer_norm_eps, spec.score_terms)
    # Stages 3 to 6, once per layer.
    encoder_layer = pre_norm_layer if m.norm is Norm.pre else post_norm_layer
    for i, weights in enumerate(spec.layers):
        shared = "" if weights.shared_with in (None, i) else f", with layer {weights.shared_with}'s weights"
        x = encoder_layer(t.within(f"layers.{i}.", shared=shared), x.called("x"), weights, m, rel)
    # Stage 7: the output, and the sentence embedding where the model declares one.
    s7 = t.within(stage=7)
    if spec.final_norm is not None:
        x = layer_norm(s7, "final_norm", "Final layer normalisation", x, spec.final_norm, m.layer_norm_eps)
    x = s7("output", "Encoder output", ops.Copy(), x)
    if spec.pooling is not None:
        pooled = s7("pooled", "Sentence embedding", ops.Pool(spec.pooling), x, sym=Sym("pooled", r"\mathrm{pooled}"))
        if spec.normalize:
            s7("pooled.normalized", "Sentence embedding, normalised", ops.L2Normalize(), pooled)
    tasks.run(t, spec, x, predicted)

    model = Model(m.d_model, m.heads, m.d_k, spec.d_ff, len(spec.layers), m.positional, m.norm, m.activation,
                  m.layer_norm_eps)  # fmt: skip
    held = spec.held + cells(spec, n, len(predicted))
    return Trace(sentence, model, t.steps, embedded, spec.source, parameters.of(t.steps), held, pair, spec.differs)


def encoder_input(s2: Tape, spec: Spec, embedded: Embedded, x: Var) -> Var:
    """X' = X + PE (+ each token's type embedding, in BERT: a pair's B is type 1); DeBERTa-v3 adds no PE (its
    positions are relative, in each layer's attention) and, with no token types, X goes on as it is."""
    n = len(embedded.tokens)
    added = [x]
    if spec.disentangled is None or spec.positional_table is not None:
        pe = positional(spec, embedded.positions or list(range(n)))
        added.append(s2("positional", "Positional encoding", pe, sym=Sym("PE", "PE")))
    if spec.token_type is not None:
        types = embedded.types or [0] * n
        used = sorted(set(types))  # the rows read: type 0, and a pair's type 1
        tt = ops.TokenType(spec.token_type[used], used, types)
        added.append(s2("token_types", "Token type embeddings", tt, lhs=Sym("TT", "TT")))
    return x if len(added) == 1 else s2("input", "Encoder input", ops.Add(), *added, lhs=Sym("X'", "X'"))


def cells(spec: Spec, n: int, predicted: int = 0) -> int:
    """The numbers a run's steps hold, step by step as run() records them (the heads' for `predicted` positions)."""
    m, d, heads = spec.settings, spec.settings.d_model, spec.settings.heads
    e = d if spec.embedding_projection is None else int(spec.embedding_projection[0].shape[0])  # E
    # Each head's Q, K, V, output [n, d_k] and scores, scaled, (biased,) weights [n, n]; concat, output,
    # residual_1, norm_1, FFN output, residual_2, norm_2 [n, d]; hidden, activation [n, d_ff];
    # the mean and variance of both norms [n, 1].
    relative = spec.relative_bias is not None
    layer = heads * (4 * n * m.d_k + (3 + relative) * n * n) + 7 * n * d + 2 * n * spec.d_ff + 4 * n
    # ModernBERT: each head's rotated Q and K, the window's mask, the angles, cos and sin;
    # the FFN's 2 d_ff hidden, input, gate, product
    layer += (heads * 2 * n * m.d_k + n * m.d_k // 2 + 2 * n * m.d_k) if spec.rotary else 0
    layer += 4 * n * spec.d_ff if spec.gated else 0
    r = spec.disentangled
    rows = len(ops.RelativePositions(n, r.buckets, r.max_distance, r.span).deltas()) if r and r.terms else 0
    terms = len(r.terms) if r else 0  # DeBERTa: each head's K_r (Q_r) [rows, d_k] and c2p (p2c) [n, n]
    layer += heads * terms * (rows * m.d_k + n * n)
    pe = not spec.rotary and (r is None or spec.positional_table is not None)  # ModernBERT, DeBERTa-v3: no PE
    added = pe or (not spec.rotary and spec.token_type is not None)  # X' = X + PE (+ TT)
    around = (1 + pe + added) * n * e + n * d  # X, PE, X' (of size E; ModernBERT, DeBERTa-v3: X alone), the output
    around += n * e if spec.token_type is not None else 0
    around += n * e + 2 * n if spec.embedding_norm is not None else 0
    around += n * d + 2 * n if spec.final_norm is not None else 0
    around += n * d if spec.embedding_projection is not None else 0
    around += (1 + heads) * n * n if relative else 0  # the buckets, and each head's bias
    around += (n * n + rows * d + (rows * d + 2 * rows if r and r.norm else 0)) if rows else 0  # δ, rel, its norm
    around += d * ((spec.pooling is not None) + (spec.pooling is not None and spec.normalize))
    around += spec.local_layers * n * n - (n * d + 2 * n if spec.rotary else 0)  # the masks; layer 0's norm_1: none
    return len(spec.layers) * layer + around + tasks.cells(spec, predicted)


def _too_much(spec: Spec, n: int, predicted: int) -> str:
    """Why a run is refused, and the longest sentence this model can take."""
    held = spec.held + cells(spec, n, predicted)
    m, layers = spec.settings, len(spec.layers)
    longest = next((k for k in range(n - 1, 0, -1) if spec.held + cells(spec, k, min(k, predicted)) <= MAX_HELD), 0)
    each = "1 layer" if layers == 1 else f"each of {layers} layers"
    weights = f"; its weights, as held in memory, {spec.held:,}" if spec.held else ""
    fix = f"use at most {longest} tokens with this model" if longest else "this model is too large to run"
    return (
        f"{n} tokens would make this run hold {held:,} numbers ({each}: {m.heads} heads x 3 x {n}² for attention, "
        f"2 x {n} x {spec.d_ff} in the FFN{weights}), past the {MAX_HELD:,} a run may hold "
        f"({MAX_HELD * 8 / 1e9:.2f} GB of float64, so that it fits in 2 GB): {fix}"
    )


def positional(spec: Spec, positions: list[int]) -> ops.Op:
    """PE [n, d] of the weights' kind: the sinusoid, rows of the table (each token's position's), or zeros."""
    m, n = spec.settings, len(positions)
    if m.positional is Positional.sinusoidal:
        return ops.Sinusoidal(n, m.d_model, m.positional_base)
    if m.positional is Positional.table:
        assert spec.positional_table is not None  # the reader checks it is there
        if len(spec.positional_table) <= max(positions):
            raise EncoderError(
                f"has {len(spec.positional_table)} rows but the sentence has {n} tokens; add a row for every position",
                place=("positional_table",),
            )
        return ops.Table(spec.positional_table[positions], positions)
    return ops.Zero(n, m.d_model)


class Relative(NamedTuple):
    """What every layer's attention reads of the relative positions, made once: MPNet's bias of each head;
    DeBERTa's δ(i, j), the normalised rows of its relative embeddings (one per δ, row δ + span), and the
    terms under the scores' root."""

    bias: list[Var]
    delta: Var | None = None  # [n, n]
    embeddings: Var | None = None  # [k, d]
    deltas: tuple[int, ...] = ()  # the δ of each row of embeddings
    terms: tuple[str, ...] = ()  # "c2p", "p2c"
    score_terms: int = 1


def relative_embeddings(t: Tape, r: Disentangled, n: int, eps: float, score_terms: int) -> Relative:
    """DeBERTa: δ(i, j) (i − j in log buckets), and the rows of rel_embeddings it reads, through their LayerNorm."""
    op = ops.RelativePositions(n, r.buckets, r.max_distance, r.span)
    delta = t("relative_positions", "Relative positions δ(i, j), in place of the seed's absolute ones", op,
              sym=Sym("δ", r"\delta"))  # fmt: skip
    deltas = op.deltas()  # the rows read: at most 2 n − 1
    rows = t.within(rows=[f"δ={k}" for k in deltas])
    title = "Relative position embeddings, the rows read"
    table = ops.RelativeRows(np.asarray(r.table[[k + r.span for k in deltas]]), deltas, r.span)
    name = "relative_embeddings" if r.norm is None else "relative_table"
    e = rows(name, title, table)
    if r.norm is not None:
        e = layer_norm(rows, "relative_embeddings", "Relative embeddings, layer-normalised", e, r.norm, eps)
    e = e.called("relative_embeddings", r"\mathrm{relative\_embeddings}")  # as K_r's formula and worked cell say
    return Relative([], delta, e, tuple(deltas), r.terms, score_terms)


def relative_bias(t: Tape, spec: Spec, n: int) -> list[Var]:
    """MPNet: each head's bias by the bucket of j − i, [n, n], made once for every layer; [] for other models."""
    if spec.relative_bias is None:
        return []
    buckets = t("relative_buckets", "Relative position buckets", ops.RelativeBuckets(n), sym=Sym("bucket", "bucket"))
    biases = []
    for h in range(spec.settings.heads):
        sym = Sym("position_bias", r"\mathrm{position\_bias}")  # within head h: its own
        title = f"Relative position bias (head {h})"
        biases.append(
            t(f"attention.heads.{h}.position_bias", title, ops.PositionBias(spec.relative_bias, h), buckets, sym=sym)
        )
    return biases


def layer_norm(t: Tape, name: str, title: str, x: Var, norm: NormWeights, eps: float) -> Var:
    """LayerNorm(x) = (x − μ) / √(σ² + ε) · γ + β, per row, with its μ and σ² as steps of their own."""
    mean = t(f"{name}.mean", "Mean of each row", ops.Mean(), x)  # [n, 1]
    var = t(f"{name}.variance", "Variance of each row", ops.Variance(), x, mean)  # [n, 1]
    word, _, k = name.partition("_")  # norm_1: how later formulas name it, \mathrm{norm}_1
    sym = Sym(name, rf"\mathrm{{{word}}}_{k}") if word == "norm" else None
    return t(name, title, ops.Normalise(norm.gamma, norm.beta, eps), x, mean, var, sym=sym)


def post_norm_layer(t: Tape, x: Var, w: Layer, m: Settings, rel: Relative) -> Var:
    """The original Transformer and BERT: x -> LN(x + MHA(x)) -> LN(· + FFN(·))."""
    mha, norm_1, ffn_, norm_2 = (t.within(stage=k) for k in (3, 4, 5, 6))  # the seed's stages
    assert w.norm_1 is not None  # only a pre-norm layer may have none
    x = add_norm(norm_1, 1, x, attention(mha, x, w, m, rel), w.norm_1, m.layer_norm_eps)
    return add_norm(norm_2, 2, x, ffn(ffn_, x.called("x"), w, m), w.norm_2, m.layer_norm_eps)


def pre_norm_layer(t: Tape, x: Var, w: Layer, m: Settings, rel: Relative) -> Var:
    """x -> x + MHA(LN(x)) -> · + FFN(LN(·)); the next LayerNorm is the next layer's (or final_norm)."""
    mha, add_1, ffn_, add_2 = (t.within(stage=k) for k in (3, 4, 5, 6))
    before = "Layer normalisation before "
    a = x if w.norm_1 is None else layer_norm(mha, "norm_1", before + "attention", x, w.norm_1, m.layer_norm_eps)
    x = residual(add_1, 1, x, attention(mha, a.called("x"), w, m, rel))
    f = layer_norm(add_1, "norm_2", before + "the FFN", x, w.norm_2, m.layer_norm_eps).called("x")
    return residual(add_2, 2, x, ffn(ffn_, f, w, m))


def residual(t: Tape, k: int, x: Var, sublayer: Var) -> Var:
    """x + sublayer(x): the skip connection."""
    return t(f"residual_{k}", "Residual", ops.Add(), x, sublayer, sym=Sym(f"residual_{k}", rf"\mathrm{{residual}}_{k}"))


def add_norm(t: Tape, k: int, x: Var, sublayer: Var, norm: NormWeights, eps: float) -> Var:
    """LayerNorm(x + sublayer(x))."""
    return layer_norm(t, f"norm_{k}", "Layer normalisation", residual(t, k, x, sublayer), norm, eps)


def attention(t: Tape, x: Var, w: Layer, m: Settings, rel: Relative) -> Var:  # [n, d] -> [n, d]
    """MultiHead(x) = [head_0 | … | head_{h-1}] W_O + b_O, head h on its own d_k columns of W_Q, W_K, W_V."""
    t = t.within("attention.")
    mask = None
    if w.window is not None:  # local attention: a window of w tokens either side
        title = f"Local-window mask, ±{w.window} tokens, in place of seeing every token"
        mask = t("mask", title, ops.WindowMask(len(x.value), w.window), sym=Sym("mask", r"\mathrm{mask}"))
    rotary = [] if w.rope_theta is None else rotary_tables(t, len(x.value), m.d_k, w.rope_theta)
    heads = [head(t.within(f"heads.{h}.", suffix=f" (head {h})"), x, w, m, h, rel, mask, rotary)
             for h in range(m.heads)]  # fmt: skip
    concat = t("concat", "Heads side by side", ops.Concat(m.d_k), *heads, sym=Sym("concat", r"\mathrm{concat}"))
    W_O = ops.Linear(w.W_O, w.b_O, "W_O", "b_O")
    return t("output", "Attention output", W_O, concat, sym=Sym("attention output", r"\text{attention output}"))


def rotary_tables(t: Tape, n: int, d_k: int, theta: float) -> list[Var]:
    """ModernBERT's rotary positions: each position's angle for each pair of a head's columns, their cos and sin."""
    title = "Rotary angles, in place of the seed's sinusoidal PE"  # θ: in the formula
    angles = t("angles", title, ops.RopeAngles(n, d_k, theta), sym=Sym("angles", r"\phi"))
    cos = t("cos", "Cosines of the rotary angles", ops.Trig(sine=False), angles, sym=Sym("cos", r"\cos\phi"))
    sin = t("sin", "Sines of the rotary angles", ops.Trig(sine=True), angles, sym=Sym("sin", r"\sin\phi"))
    return [cos, sin]


def head(t: Tape, x: Var, w: Layer, m: Settings, h: int, rel: Relative, mask: Var | None,
         rotary: list[Var]) -> Var:  # fmt: skip
    """head_h = softmax(Q Kᵀ / √d_k (+ position bias)) V, with Q = x W_Q + b_Q on head h's columns (likewise K, V),
    [n, d] -> [n, d_k]; ModernBERT rotates Q and K by position first (rotary: cos, sin), and a local layer's
    softmax sees only its window (mask)."""
    cols = slice(h * m.d_k, (h + 1) * m.d_k)
    part = None if m.heads == 1 else (cols.start, cols.stop)

    def project(name: str, title: str, W: Matrix, b: np.ndarray | None) -> Var:  # [n, d_k]
        op = ops.Linear(W[:, cols], None if b is None else b[cols], f"W_{name}", f"b_{name}", part)
        return t(name, title, op, x, lhs=Sym(name, name))

    Q = project("Q", "Queries", w.W_Q, w.b_Q)
    K = project("K", "Keys", w.W_K, w.b_K)
    V = project("V", "Values", w.W_V, w.b_V)
    if rotary:  # rotary positions, in place of the seed's PE added to the input
        title = "rotated by position, in place of adding PE"
        Q = t("Q.rotated", f"Queries {title}", ops.Rotary(), Q, *rotary, lhs=Sym("Q_rot", "Q_{rot}"))
        K = t("K.rotated", f"Keys {title}", ops.Rotary(), K, *rotary, lhs=Sym("K_rot", "K_{rot}"))
    scaled_sym = Sym("scaled", r"\mathrm{scaled}")
    if rel.score_terms == 1:
        scores = t("scores", "Attention scores", ops.MatmulT(), Q, K)  # Q Kᵀ [n, n]
        scaled = t("scaled", "Scaled scores", ops.Scale(m.d_k), scores, sym=scaled_sym)  # / √d_k
    else:  # DeBERTa: Q Kᵀ, content to content, plus its position terms, over √(d_k × terms)
        c2c = Sym("c2c", r"\mathrm{c2c}")
        scores = t("scores", "Attention scores, content to content: c2c", ops.MatmulT(), Q, K, sym=c2c)
        terms = position_terms(t, w, m, h, rel, Q, K)
        what = " + ".join(["c2c", *rel.terms]) if terms else "Q Kᵀ"  # relative_attention false: pos_att_type counts
        title = f"Scaled scores, {what}, in place of Q Kᵀ/√d_k"
        scaled = t("scaled", title, ops.ScaleTerms(m.d_k, rel.score_terms), scores, *terms, sym=scaled_sym)
    if rel.bias:  # MPNet: + the learned bias of each pair's relative position
        scaled = t("biased", "Scaled scores plus position bias", ops.Add(), scaled, rel.bias[h])
    softmax, within = (ops.Softmax(), []) if mask is None else (ops.MaskedSoftmax(), [mask])
    title = "Attention weights" + ("" if mask is None else ", within the window only")
    weights = t("weights", title, softmax, scaled, *within, sym=Sym("weights", r"\mathrm{weights}"))
    head_h = Sym(f"head_{h}", rf"\mathrm{{head}}_{{{h}}}")
    return t("output", "Weighted sum of values", ops.Matmul(), weights, V, sym=head_h)  # [n, d_k]


def position_terms(t: Tape, w: Layer, m: Settings, h: int, rel: Relative, Q: Var, K: Var) -> list[Var]:
    """DeBERTa: c2p[i, j] = Q[i] · K_r[δ(i, j)] and p2c[i, j] = K[j] · Q_r[δ(i, j)], where K_r (Q_r) is the relative
    embeddings through head h's columns of W_K (W_Q), or of pos_key_proj (pos_query_proj) where the keys are not
    shared, [k, d_k]: one row per relative position δ."""
    if rel.delta is None or rel.embeddings is None:
        return []
    cols = slice(h * m.d_k, (h + 1) * m.d_k)
    part = None if m.heads == 1 else (cols.start, cols.stop)
    rows = t.within(rows=[f"δ={k}" for k in rel.deltas])
    projections = {"c2p": (w.W_K, w.b_K, "K") if w.W_Kr is None else (w.W_Kr, w.b_Kr, "Kr"),
                   "p2c": (w.W_Q, w.b_Q, "Q") if w.W_Qr is None else (w.W_Qr, w.b_Qr, "Qr")}  # fmt: skip
    terms = []
    for term in rel.terms:
        W, b, name = projections[term]
        op = ops.Linear(W[:, cols], None if b is None else b[cols], f"W_{name}", f"b_{name}", part)
        which = "K" if term == "c2p" else "Q"
        title = f"Position {'keys' if which == 'K' else 'queries'}: the relative embeddings through W_{name}"
        projected = rows(f"{which}_r", title, op, rel.embeddings, lhs=Sym(f"{which}_r", f"{which}^r"))
        content = Q if term == "c2p" else K
        what = "Content-to-position" if term == "c2p" else "Position-to-content"
        op_term = ops.PositionTerm(term == "c2p", rel.deltas)
        terms.append(t(term, f"{what} term {term}, new: {which}_r read at each δ", op_term, content, projected,
                       rel.delta, sym=Sym(term, rf"\mathrm{{{term}}}")))  # fmt: skip
    return terms


def ffn(t: Tape, x: Var, w: Layer, m: Settings) -> Var:  # [n, d] -> [n, d]
    """FFN(x) = act(x W_1 + b_1) W_2 + b_2, each token on its own."""
    t = t.within("ffn.")
    act = ops.ACTIVATIONS[m.activation]
    h = t("hidden", "FFN hidden layer", ops.Linear(w.W_1, w.b_1, "W_1", "b_1"), x, lhs=Sym("h", "h"), cols="f")
    if w.gated:  # GeGLU: act(the first half) ⊙ the second half (the gate), in place of act(h)
        title = "FFN input half (GeGLU), activated in place of the whole hidden layer"
        hidden, h = h, t("input", title, ops.Half(False), h, sym=Sym("input", r"\mathrm{input}"), cols="f")
        title = "FFN gate half (GeGLU), new: it scales the activation"
        gate = t("gate", title, ops.Half(True), hidden, sym=Sym("gate", r"\mathrm{gate}"), cols="f")
    a = t("activation", f"FFN activation ({m.activation})", act, h, sym=act.of(h.sym))
    if w.gated:
        a = t(
            "product", "Gated activation, in place of the activation alone", ops.Product(), a, gate, lhs=Sym("a", "a")
        )
    out = Sym("FFN output", r"\text{FFN output}")
    return t("output", "FFN output", ops.Linear(w.W_2, w.b_2, "W_2", "b_2"), a, sym=out)
