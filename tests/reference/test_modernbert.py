"""ModernBERT, as a tiny random checkpoint built with transformers (tests/kit/models.py: four layers, 0 and 3
global, 1 and 2 local with a window of 3 tokens either side, rotary bases of its own), against transformers'
ModernBertModel in float64 with eager attention: tokens and ids, input_norm, every layer's output, every
head's attention weights and the output.

transformers 5.25 computes three things in float32 even in a float64 model, which leaves it ~5e-7 from
the float64 result. With those patched to float64 (`float64_reference`) the two agree to 1e-9; unpatched,
to 1e-5. The three, in modeling_modernbert.py:
- ModernBertRotaryEmbedding: inv_freq is made with dtype=torch.float, and forward() casts the
  positions and inv_freq to float before taking cos and sin: the rotary tables;
- apply_rotary_pos_emb: rotates q.float() and k.float(): the rotation;
- eager_attention_forward: softmax(..., dtype=torch.float32): the attention weights.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from transformers import AutoModel, AutoModelForMaskedLM, AutoModelForSequenceClassification, AutoTokenizer
from transformers.models.modernbert import modeling_modernbert as mb

import encoder_cli
from tests.conftest import run
from tests.kit.tokenizers import HARD_STRINGS

TOL = {"rtol": 1e-9, "atol": 1e-9}
LONG = "the cat sat on the mat and the dog sat on the log, and then they both went to sleep"


def rotary_float64(self: Any, x: torch.Tensor, position_ids: torch.Tensor, layer_type: str) -> Any:
    """ModernBertRotaryEmbedding.forward, with inv_freq and the angles in float64."""
    theta = self.config.rope_parameters[layer_type]["rope_theta"]
    dim = self.config.hidden_size // self.config.num_attention_heads
    inv_freq = 1.0 / (theta ** (torch.arange(0, dim, 2, dtype=torch.float64) / dim))
    freqs = position_ids[..., None].double() * inv_freq
    emb = torch.cat((freqs, freqs), dim=-1)
    return emb.cos(), emb.sin()


def rotate_float64(q: torch.Tensor, k: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, unsqueeze_dim: int = 1):
    """apply_rotary_pos_emb without its .float()."""
    cos, sin = cos.unsqueeze(unsqueeze_dim), sin.unsqueeze(unsqueeze_dim)
    return q * cos + mb.rotate_half(q) * sin, k * cos + mb.rotate_half(k) * sin


def eager_float64(module: Any, query, key, value, attention_mask, scaling: float, dropout: float = 0.0, **kwargs):
    """eager_attention_forward with its softmax in the model's float64."""
    weights = torch.matmul(query, key.transpose(2, 3)) * scaling
    if attention_mask is not None:
        weights = weights + attention_mask
    weights = torch.nn.functional.softmax(weights, dim=-1)
    return torch.matmul(weights, value).transpose(1, 2).contiguous(), weights


@pytest.fixture(scope="module")
def modern(tiny) -> tuple[Path, Any, Any]:
    folder = tiny("modernbert")
    model = AutoModel.from_pretrained(folder, attn_implementation="eager").double().eval()
    return folder, model, AutoTokenizer.from_pretrained(folder)


def reference(model: Any, tokenizer: Any, sentence: str, patched: bool) -> tuple[list[int], list[str], Any]:
    batch = tokenizer(sentence, return_tensors="pt")
    ids = batch["input_ids"][0].tolist()
    with pytest.MonkeyPatch.context() as mp:
        if patched:
            mp.setattr(mb.ModernBertRotaryEmbedding, "forward", rotary_float64)
            mp.setattr(mb, "apply_rotary_pos_emb", rotate_float64)
            mp.setattr(mb, "eager_attention_forward", eager_float64)
        with torch.no_grad():
            out = model(**batch, output_hidden_states=True, output_attentions=True)
    return ids, tokenizer.convert_ids_to_tokens(ids), out


def compare(t: Any, out: Any, tol: dict[str, float], layer_output: str = "residual_2") -> None:
    """Our run against transformers': input_norm, each layer's last step but the last's (a pre-norm layer's
    residual_2, a post-norm layer's norm_2), every head's weights and the output."""
    hidden = [h[0].numpy() for h in out.hidden_states]
    np.testing.assert_allclose(t["input_norm"], hidden[0], **tol)
    layers, heads = len(out.attentions), out.attentions[0].shape[1]
    for i in range(layers):
        if i < layers - 1:  # the last layer's, after final_norm, is `output`
            np.testing.assert_allclose(t[f"layers.{i}.{layer_output}"], hidden[i + 1], **tol, err_msg=f"layer {i}")
        for h in range(heads):
            want = out.attentions[i][0, h].numpy()
            np.testing.assert_allclose(t[f"layers.{i}.attention.heads.{h}.weights"], want, **tol, err_msg=f"{i}.{h}")
    np.testing.assert_allclose(t["output"], out.last_hidden_state[0].numpy(), **tol)


@pytest.mark.parametrize("patched", [True, False], ids=["float64-patched", "unpatched"])
def test_every_step_that_transformers_shows_equals_it(modern, patched: bool) -> None:
    folder, model, tokenizer = modern
    for sentence in [*HARD_STRINGS, LONG]:
        ids, tokens, out = reference(model, tokenizer, sentence, patched)
        t = encoder_cli.explain(sentence, model=str(folder))
        assert (t.tokens, t.token_ids) == (tokens, ids), sentence
        assert tokens[0] == "[CLS]" and tokens[-1] == "[SEP]"
        compare(t, out, TOL if patched else {"rtol": 1e-5, "atol": 1e-5})


def test_the_patches_matter_and_the_sentences_reach_the_window(modern) -> None:
    """The 1e-9 comparison is not vacuous: unpatched, transformers is further off than that; the long
    sentence is longer than the window, so the local layers' weights have zeros a global layer's lack."""
    folder, model, tokenizer = modern
    _, _, patched = reference(model, tokenizer, LONG, True)
    _, _, unpatched = reference(model, tokenizer, LONG, False)
    assert (patched.last_hidden_state - unpatched.last_hidden_state).abs().max() > 1e-8
    assert model.config.layer_types == ["full_attention", "sliding_attention", "sliding_attention", "full_attention"]
    n = patched.attentions[0].shape[-1]
    assert n > 2 * 3 + 1
    assert (patched.attentions[1][0] == 0).any() and (patched.attentions[0][0] > 0).all()
    t = encoder_cli.explain(LONG, model=str(folder))
    assert "layers.0.attention.mask" not in t.ids and "layers.3.attention.mask" not in t.ids
    mask = t["layers.1.attention.mask"]
    i = np.arange(n)
    np.testing.assert_array_equal(mask, np.abs(i[:, None] - i[None, :]) <= 3)
    np.testing.assert_array_equal(t["layers.1.attention.heads.0.weights"] == 0, mask == 0)
    assert "layers.0.norm_1" not in t.ids and "layers.1.norm_1" in t.ids  # layer 0's attention norm: the identity
    assert "positional" not in t.ids and "input" not in t.ids


def test_the_steps_are_the_formulas(modern) -> None:
    """Q.rotated is Q turned by position with rotate_half's pairing, at the layer kind's theta; the GeGLU
    steps are the halves of ffn.hidden, GELU of the first times the second."""
    folder, model, _ = modern
    t = encoder_cli.explain(LONG, model=str(folder))
    d_k = model.config.hidden_size // model.config.num_attention_heads
    thetas = {"full_attention": 1000.0, "sliding_attention": 50.0}
    for i, kind in enumerate(model.config.layer_types):
        q, rotated = t[f"layers.{i}.attention.heads.1.Q"], t[f"layers.{i}.attention.heads.1.Q.rotated"]
        for p in (0, 5):
            for c in (1, d_k // 2 + 1):  # one of each half
                pair, sign = (c + d_k // 2, -1) if c < d_k // 2 else (c - d_k // 2, 1)
                angle = p * thetas[kind] ** (-2 * (c % (d_k // 2)) / d_k)
                want = q[p, c] * np.cos(angle) + sign * q[p, pair] * np.sin(angle)
                assert rotated[p, c] == pytest.approx(want, rel=1e-12, abs=1e-12)
    hidden, ff = t["layers.2.ffn.hidden"], model.config.intermediate_size
    assert hidden.shape[1] == 2 * ff
    np.testing.assert_array_equal(t["layers.2.ffn.input"], hidden[:, :ff])
    np.testing.assert_array_equal(t["layers.2.ffn.gate"], hidden[:, ff:])
    gelu = torch.nn.functional.gelu(torch.tensor(hidden[:, :ff])).numpy()
    np.testing.assert_allclose(t["layers.2.ffn.product"], gelu * hidden[:, ff:], rtol=1e-12, atol=1e-15)


def test_the_work_bound_counts_every_cell_of_a_run(modern) -> None:
    from encoder_cli import encoder, pretrained

    spec = pretrained.load(str(modern[0]))
    for sentence in ("the cat", LONG):
        trace = encoder.run(spec, sentence)
        assert encoder.cells(spec, len(trace.tokens)) == sum(s.value.size for s in trace.steps)


def test_older_config_keys_give_the_same_run(modern, tmp_path: Path) -> None:
    """global_rope_theta, local_rope_theta and global_attn_every_n_layers, as configs saved before
    transformers 5 have them, in place of layer_types and rope_parameters."""
    folder, _, _ = modern
    old = Path(shutil.copytree(folder, tmp_path / "old"))
    config = json.loads((old / "config.json").read_text())
    for key in ("layer_types", "rope_parameters"):
        del config[key]
    config |= {"global_rope_theta": 1000.0, "local_rope_theta": 50.0, "global_attn_every_n_layers": 3}
    (old / "config.json").write_text(json.dumps(config))
    new, before = encoder_cli.explain(LONG, model=str(old)), encoder_cli.explain(LONG, model=str(folder))
    np.testing.assert_array_equal(new["output"], before["output"])
    del config["global_rope_theta"]  # the default, 160,000, changes the global layers
    (old / "config.json").write_text(json.dumps(config))
    assert not np.array_equal(encoder_cli.explain(LONG, model=str(old))["output"], before["output"])


@pytest.mark.parametrize("activation", [None, "relu"], ids=["gelu", "relu"])
def test_the_masked_lm_head_equals_transformers(tiny, tmp_path: Path, activation: str | None) -> None:
    """ModernBertForMaskedLM: head.dense, classifier_activation (gelu unless config.json says), head.norm, all
    without biases, then the decoder tied to the token embeddings plus its own bias: each step within 1e-9 of
    the module that computes it, with transformers' float32 casts patched as above."""
    folder = Path(shutil.copytree(tiny("modernbert", masked_lm=True), tmp_path / "mlm"))
    config = json.loads((folder / "config.json").read_text())
    assert config["classifier_activation"] == "gelu" and not config["classifier_bias"]  # ModernBertConfig's defaults
    if activation is not None:
        (folder / "config.json").write_text(json.dumps(config | {"classifier_activation": activation}))
    model = AutoModelForMaskedLM.from_pretrained(folder, attn_implementation="eager").double().eval()
    tokenizer = AutoTokenizer.from_pretrained(folder)
    sentence = f"the cat {tokenizer.mask_token} on the {tokenizer.mask_token} mat"
    seen: dict[str, torch.Tensor] = {}
    hooks = [model.head.dense.register_forward_hook(lambda _, i, out: seen.update(rows=i[0], dense=out)),
             model.head.norm.register_forward_hook(lambda _, i, out: seen.update(act=i[0], norm=out))]  # fmt: skip
    try:
        ids, _, out = reference(model, tokenizer, sentence, True)
    finally:
        for hook in hooks:
            hook.remove()
    masks = [p for p, i in enumerate(ids) if i == tokenizer.mask_token_id]
    assert len(masks) == 2
    t = encoder_cli.explain(sentence, model=str(folder))
    logits = out.logits[0, masks]
    theirs = {"mlm.rows": seen["rows"][0, masks], "mlm.dense": seen["dense"][0, masks],
              "mlm.activation": seen["act"][0, masks], "mlm.transform": seen["norm"][0, masks],
              "mlm.logits": logits, "mlm.probabilities": torch.softmax(logits, dim=-1)}  # fmt: skip
    for step, value in theirs.items():
        np.testing.assert_allclose(t[step], value.numpy(), **TOL, err_msg=step)
    assert t.trace.by_id["mlm.activation"].title.endswith(f"({activation or 'gelu'})")
    assert "tied" in t.trace.by_id["mlm.logits"].title
    assert [list(np.argsort(-row)[:5]) for row in t["mlm.probabilities"]] == torch.topk(logits, 5).indices.tolist()


@pytest.mark.parametrize("pooling", ["cls", "mean"])
def test_the_classifier_equals_transformers(tiny, pooling: str) -> None:
    """ModernBertForSequenceClassification: the [CLS] row or the mean of the rows (classifier_pooling), head.dense,
    gelu, head.norm (no biases: the same names as the masked-LM head's, and no decoder), then `classifier` with
    its bias: each step within 1e-9 of the module that computes it."""
    labels = {0: "negative", 1: "neutral", 2: "positive"}
    folder = tiny("modernbert", classifier=True, id2label=labels, classifier_pooling=pooling)
    model = AutoModelForSequenceClassification.from_pretrained(folder, attn_implementation="eager").double().eval()
    tokenizer = AutoTokenizer.from_pretrained(folder)
    seen: dict[str, torch.Tensor] = {}
    hooks = [model.get_submodule(name).register_forward_hook(
                 lambda _, i, out, name=name: seen.update({f"{name}.in": i[0], name: out}))
             for name in ("head.dense", "head.norm", "classifier")]  # fmt: skip
    try:
        _, _, out = reference(model, tokenizer, LONG, True)
    finally:
        for hook in hooks:
            hook.remove()
    t = encoder_cli.explain(LONG, model=str(folder))
    assert not [i for i in t.ids if i.startswith("mlm.")]  # head.dense is the classifier's
    first = "classifier.mean_row" if pooling == "mean" else "classifier.first"
    theirs = {first: seen["head.dense.in"], "classifier.dense": seen["head.dense"],
              "classifier.pooled": seen["head.norm.in"], "classifier.norm": seen["head.norm"],
              "classifier.logits": out.logits, "classifier.probabilities": out.logits.softmax(-1)}  # fmt: skip
    for step, value in theirs.items():
        np.testing.assert_allclose(t[step], value.numpy(), **TOL, err_msg=step)
    np.testing.assert_array_equal(seen["classifier.in"], seen["head.norm"])  # dropout, in eval: nothing
    mean = t["output"].mean(axis=0, keepdims=True)
    assert np.allclose(t[first], mean) == (pooling == "mean") and np.allclose(t[first], t["output"][:1]) != (
        pooling == "mean"
    )
    said = t.trace.by_id["classifier.probabilities"]
    assert f"{said.op.verdict(said.value, said.cols, str)}".startswith(f"label: {labels[int(out.logits.argmax())]} (")
    from encoder_cli import encoder, pretrained

    spec = pretrained.load(str(folder))
    trace = encoder.run(spec, LONG)
    assert encoder.cells(spec, len(trace.tokens)) == sum(s.value.size for s in trace.steps)


@pytest.mark.parametrize(
    ("head", "key", "value", "expected"),
    [("masked_lm", "classifier_activation", "swish", "classifier_activation 'swish' is not supported; use one of "
      "gelu, gelu_python, relu, gelu_new, gelu_fast, gelu_pytorch_tanh, gelu_python_tanh, gelu_accurate"),
     ("classifier", "classifier_activation", ["gelu"], "classifier_activation ['gelu'] is not supported; use one of "),
     ("classifier", "classifier_pooling", "max", 'classifier_pooling is \'max\'; expected "cls" or "mean"')],
)  # fmt: skip
def test_a_head_setting_it_does_not_read_is_one_line(tiny, tmp_path: Path, head, key, value, expected) -> None:
    folder = Path(shutil.copytree(tiny("modernbert", **{head: True}), tmp_path / head))
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps(config | {key: value}))
    r = run("explain", "the cat", "--model", str(folder))
    assert (r.exit_code, r.stdout, len(r.stderr.splitlines())) == (2, "", 1)
    assert r.stderr.startswith(f"error: {folder / 'config.json'}: {expected}"), r.stderr
