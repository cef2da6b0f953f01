"""DeBERTa-v2 and v3, as tiny random checkpoints built with transformers (tests/kit/models.py, DEBERTA: v3's
layout at d_k 8 with 8 log buckets ending at max_relative_positions 16; the same at d_k 12; v2's older
options, absolute positions, token types, pos_key_proj and pos_query_proj, no buckets, no LayerNorm of the
relative embeddings; c2p alone; no relative attention, absolute positions alone), against transformers'
DebertaV2Model in float64 with eager attention:
tokens and ids, input_norm, every layer's output, every head's attention weights and the output.

transformers 5.25 computes one thing in float32 even in a float64 model: scaled_size_sqrt, the root
√(d_k × terms) that divides the scores, is torch.sqrt of a float32 tensor (dtype=torch.float). √24 in
float32 is 3e-8 off, and every score with it. With it patched to the model's float64
(`float64_reference`) the two agree to 1e-9; unpatched, to 1e-5. Where d_k × terms is a perfect square
(d_k 12 with three terms: √36 = 6, exact in float32) no patch is needed, and none is made.
"""

from __future__ import annotations

import json
import math
import re
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from tokenizers import Tokenizer
from transformers import AutoModel, AutoTokenizer
from transformers.models.deberta_v2 import modeling_deberta_v2 as db

import encoder_cli
from encoder_cli.ops import log_bucket
from tests.conftest import run
from tests.kit.models import DEBERTA
from tests.kit.tokenizers import HARD_STRINGS
from tests.reference.test_modernbert import compare

TOL = {"rtol": 1e-9, "atol": 1e-9}
LONG = "the cat sat on the mat and the dog sat on the log, and then they both went to sleep"


def scaled_size_sqrt_float64(query_layer: torch.Tensor, scale_factor: int) -> torch.Tensor:
    """scaled_size_sqrt, in the query's dtype (float64 here) rather than float32."""
    return torch.sqrt(torch.tensor(query_layer.size(-1), dtype=query_layer.dtype) * scale_factor)


@pytest.fixture(scope="module")
def deberta(tiny):
    """(folder, transformers' model in float64 with eager attention, AutoTokenizer) of a variant, once each."""

    @cache
    def made(variant: str) -> tuple[Path, Any, Any]:
        folder = tiny("deberta-v2", **DEBERTA[variant])
        model = AutoModel.from_pretrained(folder, attn_implementation="eager").double().eval()
        return folder, model, AutoTokenizer.from_pretrained(folder)

    return made


def reference(folder: Path, model: Any, tokenizer: Any, sentence: str, patched: bool) -> tuple[list[int], Any]:
    """transformers' run, its tokenizer first checked against the tokenizers library's reading of the file
    (transformers 5.25's DebertaV2Tokenizer would rebuild the normaliser and pre-tokenizer from code)."""
    batch = tokenizer(sentence, return_tensors="pt")
    ids = batch["input_ids"][0].tolist()
    assert ids == Tokenizer.from_file(str(folder / "tokenizer.json")).encode(sentence).ids, "not a reference"
    with pytest.MonkeyPatch.context() as mp:
        if patched:
            mp.setattr(db, "scaled_size_sqrt", scaled_size_sqrt_float64)
        with torch.no_grad():
            return ids, model(**batch, output_hidden_states=True, output_attentions=True)


@pytest.mark.parametrize("patched", [True, False], ids=["float64-patched", "unpatched"])
@pytest.mark.parametrize("variant", DEBERTA)
def test_every_step_that_transformers_shows_equals_it(deberta, variant: str, patched: bool) -> None:
    folder, model, tokenizer = deberta(variant)
    exact = variant == "v3-square" or patched  # √36 needs no patch
    for sentence in [*HARD_STRINGS, LONG]:
        ids, out = reference(folder, model, tokenizer, sentence, patched)
        t = encoder_cli.explain(sentence, model=str(folder))
        assert (t.tokens, t.token_ids) == (tokenizer.convert_ids_to_tokens(ids), ids), sentence
        assert t.tokens[0] == "[CLS]" and t.tokens[-1] == "[SEP]"
        compare(t, out, TOL if exact else {"rtol": 1e-5, "atol": 1e-5}, layer_output="norm_2")


def test_the_patch_matters_where_the_root_is_not_whole(deberta) -> None:
    """The 1e-9 comparison is not vacuous: float32's √24 moves transformers' output by more than 1e-9;
    √36 is exact, and the patch changes nothing."""
    for variant, moved in (("v3", True), ("v3-square", False)):
        folder, model, tokenizer = deberta(variant)
        _, patched = reference(folder, model, tokenizer, LONG, True)
        _, unpatched = reference(folder, model, tokenizer, LONG, False)
        difference = (patched.last_hidden_state - unpatched.last_hidden_state).abs().max().item()
        assert (difference > 1e-9) == moved, (variant, difference)
    assert math.sqrt(12 * 3) == 6 and torch.sqrt(torch.tensor(36.0)).item() == 6


def test_each_position_term_is_transformers_and_reads_row_delta_i_minus_j(deberta) -> None:
    """transformers' disentangled_attention_bias with one term at a time (c2p alone, p2c alone) equals
    our c2p and p2c over the root, head by head; and both read the row of δ(i, j) = bucket(i − j):
    p2c[i, j] = K[j] · Q_r[δ(i, j)], not the paper's δ(j, i), which the test shows to differ."""
    folder, model, _ = deberta("v3")
    t = encoder_cli.explain(LONG, model=str(folder))
    heads = model.config.num_attention_heads
    x = torch.tensor(t["input_norm"])[None]  # layer 0's input
    attention = model.encoder.layer[0].attention.self
    rel = model.encoder.get_rel_embedding()
    relative_pos = model.encoder.get_rel_pos(x)
    q = attention.transpose_for_scores(attention.query_proj(x), heads)
    k = attention.transpose_for_scores(attention.key_proj(x), heads)
    root = math.sqrt(q.shape[-1] * 3)
    for term in ("c2p", "p2c"):
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(attention, "pos_att_type", [term])
            mp.setattr(db, "scaled_size_sqrt", scaled_size_sqrt_float64)
            with torch.no_grad():
                theirs = attention.disentangled_attention_bias(q, k, relative_pos, rel, 3).numpy()
        for h in range(heads):
            ours = t[f"layers.0.attention.heads.{h}.{term}"] / root
            np.testing.assert_allclose(ours, theirs[h], **TOL, err_msg=f"{term} head {h}")
    delta = t["relative_positions"]
    rows = {int(v): r for r, v in enumerate(sorted({int(v) for v in delta.flat}))}
    K, Q_r = t["layers.0.attention.heads.1.K"], t["layers.0.attention.heads.1.Q_r"]
    p2c = t["layers.0.attention.heads.1.p2c"]
    i, j = 9, 2  # δ(9, 2) = 7 − 4 past the 4 buckets: 4 + ⌈3 ln(7/4) / ln(15/4)⌉ = 6; δ(2, 9) = −6
    assert (delta[i, j], delta[j, i]) == (6, -6)
    assert p2c[i, j] == pytest.approx(K[j] @ Q_r[rows[6]], rel=1e-12)
    assert abs(p2c[i, j] - K[j] @ Q_r[rows[-6]]) > 1e-3  # the paper's δ(j, i): another number


def test_relative_positions_are_transformers_buckets(deberta) -> None:
    """δ(i, j) is build_relative_position's bucket, clamped into the table as c2p_pos is; make_log_bucket_position
    over many offsets and bucket sizes, including DeBERTa-v3's 256 buckets of 512."""
    for buckets, top in ((256, 512), (8, 16), (6, 20), (2, 10), (64, 1024)):
        relative = torch.arange(-3000, 3001)
        theirs = db.make_log_bucket_position(relative, buckets, top).long().numpy()
        np.testing.assert_array_equal([log_bucket(int(r), buckets, top) for r in relative], theirs)
    for variant in ("v3", "v2-absolute"):
        folder, model, _ = deberta(variant)
        t = encoder_cli.explain(LONG, model=str(folder))
        n, span = len(t.tokens), model.encoder.layer[0].attention.self.pos_ebd_size
        x = torch.zeros(1, n, 1)
        theirs = torch.clamp(model.encoder.get_rel_pos(x)[0] + span, 0, 2 * span - 1).numpy() - span
        np.testing.assert_array_equal(t["relative_positions"], theirs)
        assert t["relative_positions"].min() == -span  # the sentence reaches the table's edge


def test_the_layout_of_each_variant(deberta) -> None:
    """v3: no positional step and no input (X goes to input_norm), the relative embeddings normalised, K_r
    through W_K itself; v2-absolute: PE and token types added, pos_key_proj's own W_Kr, no norm; c2p-only:
    no Q_r, no p2c; absolute-only: PE, no relative steps, and Q Kᵀ over √(d_k × 3) all the same."""
    t = encoder_cli.explain(LONG, model=str(deberta("v3")[0]))
    assert "positional" not in t.ids and "input" not in t.ids and "relative_embeddings.mean" in t.ids
    assert "layers.0.attention.W_Kr" not in [p.id for p in t.parameters]
    t = encoder_cli.explain(LONG, model=str(deberta("v2-absolute")[0]))
    assert {"positional", "token_types", "input", "relative_embeddings"} <= set(t.ids)
    assert "relative_embeddings.mean" not in t.ids
    assert {"layers.0.attention.W_Kr", "layers.0.attention.W_Qr"} <= {p.id for p in t.parameters}
    t = encoder_cli.explain(LONG, model=str(deberta("c2p-only")[0]))
    assert "layers.0.attention.heads.0.c2p" in t.ids and "layers.0.attention.heads.0.p2c" not in t.ids
    assert "layers.0.attention.heads.0.Q_r" not in t.ids
    t = encoder_cli.explain(LONG, model=str(deberta("absolute-only")[0]))
    assert "relative_positions" not in t.ids and "positional" in t.ids and "layers.0.attention.heads.0.c2p" not in t.ids
    assert "√(8 × 3)" in next(s.formula for s in t.steps if s.id == "layers.0.attention.heads.0.scaled")


@pytest.mark.parametrize("variant", DEBERTA)
def test_the_work_bound_counts_every_cell_of_a_run(deberta, variant: str) -> None:
    from encoder_cli import encoder, pretrained

    spec = pretrained.load(str(deberta(variant)[0]))
    for sentence in ("the cat", LONG):
        trace = encoder.run(spec, sentence)
        assert encoder.cells(spec, len(trace.tokens)) == sum(s.value.size for s in trace.steps)


def test_a_c2p_cell_names_the_row_it_read(deberta) -> None:
    """--cell on c2p and p2c, with no edit of --cell: the worked line reads K_r (Q_r) at δ(i, j), the δ that
    relative_positions holds for that pair; the numbers are the trace's own."""
    folder = str(deberta("v3")[0])
    t = encoder_cli.explain(LONG, model=folder)
    head = "layers.0.attention.heads.1."
    delta = int(t["relative_positions"][2, 13])
    assert delta == -log_bucket(11, 8, 16) == -7
    result = run("explain", LONG, "--model", folder, "-c", f"{head}c2p[2,13]", "-c", f"{head}p2c[2,13]")
    assert result.exit_code == 0 and result.stderr == "", result.stderr
    c2p, p2c = result.stdout.splitlines()
    assert re.match(rf"{head}c2p\[.+\] = Q\[[^]]+\] · K_r\[δ = {delta}\] = ", c2p), c2p
    assert re.match(rf"{head}p2c\[.+\] = K\[[^]]+\] · Q_r\[δ = {delta}\] = ", p2c), p2c
    assert c2p.endswith(f" = {t[head + 'c2p'][2, 13]:.3f}") and p2c.endswith(f" = {t[head + 'p2c'][2, 13]:.3f}")


def test_check_carries_a_slip_through_c2p_into_the_scaled_scores(deberta, tmp_path: Path) -> None:
    """A student's Q row with one wrong number: their c2p worked from it is carried, and so is their scaled
    score worked from that c2p, with no edit of check."""
    folder = str(deberta("v3")[0])
    t = encoder_cli.explain(LONG, model=folder)
    head = "layers.0.attention.heads.1."
    q = np.round(t[head + "Q"][2], 3)
    q[0] += 1.0  # the slip
    deltas = sorted({int(v) for v in t["relative_positions"].flat})
    c2p = round(float(q @ t[head + "K_r"][deltas.index(int(t["relative_positions"][2, 13]))]), 3)
    scaled = (t[head + "scores"][2, 13] + c2p + t[head + "p2c"][2, 13]) / math.sqrt(8 * 3)
    answers = tmp_path / "answers.yaml"
    answers.write_text(f"{head}Q[2]: [{', '.join(f'{v:.3f}' for v in q)}]\n{head}c2p[2,13]: {c2p:.3f}\n"
                       f"{head}scaled[2,13]: {scaled:.3f}\n")  # fmt: skip
    result = run("check", LONG, "--model", folder, "--answers", str(answers), "-f", "json")
    assert result.exit_code == 1, result.stderr
    verdicts = {(a["step"], a["col"]): a["verdict"] for a in json.loads(result.stdout)["answers"]}
    assert verdicts[(head + "c2p", 13)] == verdicts[(head + "scaled", 13)] == "carried"
    assert verdicts[(head + "Q", 0)] == "wrong"
