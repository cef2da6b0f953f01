"""The seed's story, extended (#21): a modern encoder's run says what it does differently from the
seed, in its header and in each new step's title, and `check` grades a student's slip through its
new steps (a rotation, a gate) as it does through the seed's: the slip wrong, what follows from it
carried. The model is the tiny ModernBERT of tests/kit/models.py: layers 0 and 3 global, 1 and 2 local."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest

import encoder_cli
from tests.conftest import ROOT, run
from tests.kit.models import DEBERTA

SENTENCE = "The cat sat"  # [CLS] The ␣cat ␣sat [SEP]
README = (ROOT / "README.md").read_text()


def layer_kinds(folder: Path) -> tuple[list[int], list[int], int]:
    """The global and the local layers, and the window either side, as transformers saved them."""
    config = json.loads((folder / "config.json").read_text())
    kinds = config["layer_types"]
    return ([i for i, k in enumerate(kinds) if k == "full_attention"],
            [i for i, k in enumerate(kinds) if k == "sliding_attention"], config["local_attention"] // 2)  # fmt: skip


def test_the_header_says_what_the_model_does_differently(tiny) -> None:
    folder = tiny("modernbert")
    full, local, window = layer_kinds(folder)
    assert full and local  # the kit's model mixes them, or the line below tests nothing
    attention = f"a local window of ±{window} tokens on layers {', '.join(map(str, local))}; global on layers " + (
        ", ".join(map(str, full))
    )
    out = run("explain", SENTENCE, "--model", str(folder), "-s", "output").stdout
    header = "\n".join(line.rstrip() for line in out[: out.index("Output")].splitlines())  # the grid pads lines
    assert re.search(r"^Positions +rotary, not added: each layer turns Q and K by position$", header, re.M)
    assert re.search(rf"^Attention +{re.escape(attention)}$", header, re.M)
    assert re.search(r"^FFN +GeGLU: gelu\(one half of x W_1\) ⊙ the other half, the gate$", header, re.M)
    assert re.search(r"^Norm +pre-norm", header, re.M)
    model = header.replace("\u00a0", " ")  # the model line's settings are held together by no-break spaces
    assert "· no PE ·" in model and "none PE" not in model  # no PE is added: rotary, said below
    markdown = run("explain", SENTENCE, "--model", str(folder), "-s", "output", "-f", "markdown").stdout
    assert f"- **Attention:** {attention}" in markdown
    compared = run("compare", SENTENCE, "The dog sat", "--model", str(folder)).stdout
    assert re.search(r"^Positions +rotary, not added", compared, re.M)
    doc = json.loads(run("explain", SENTENCE, "--model", str(folder), "-s", "output", "-f", "json").stdout)
    assert list(doc["model"]) == ["d_model", "heads", "d_k", "d_ff", "layers", "positional", "norm", "activation",
                                  "layer_norm_eps"]  # fmt: skip  # the contract's keys, and no others
    seed = run("explain", SENTENCE, "--model", str(tiny("bert")), "-s", "output").stdout
    assert "table\u00a0PE" in seed and not re.search(r"^(Positions|Attention|FFN|Norm) ", seed, re.M)


def test_a_model_with_no_local_layer_has_no_window_line(tiny) -> None:
    folder = tiny("modernbert", global_attn_every_n_layers=1)  # every layer global
    assert layer_kinds(folder)[1] == []
    out = run("explain", SENTENCE, "--model", str(folder), "-s", "output").stdout
    assert re.search(r"^Positions ", out, re.M) and not re.search(r"^Attention ", out, re.M)


@pytest.mark.parametrize(
    ("variant", "line"),
    [("v3", "Q Kᵀ + c2p + p2c, relative positions in log buckets, over √(d_k × 3)"),
     ("c2p-only", "Q Kᵀ + c2p, relative positions in log buckets, over √(d_k × 2)"),
     ("absolute-only", None)],  # no relative attention: nothing disentangled to say
)  # fmt: skip
def test_deberta_s_header_names_the_terms_its_config_adds(tiny, variant: str, line: str | None) -> None:
    out = run("explain", SENTENCE, "--model", str(tiny("deberta-v2", **DEBERTA[variant])), "-s", "output").stdout
    header = " ".join(out[: out.index("Output")].split())  # the grid wraps and pads the line
    if line is None:
        assert "Attention " not in header and "disentangled" not in header
    else:
        assert f"Attention disentangled: {line}" in header


def test_each_new_step_says_which_seed_step_it_replaces(tiny) -> None:
    folder = tiny("modernbert")
    _, local, _ = layer_kinds(folder)
    doc = json.loads(run("explain", SENTENCE, "--model", str(folder), "-f", "json").stdout)
    titles = {s["id"]: s["title"] for s in doc["steps"]}
    i = local[0]
    assert titles[f"layers.{i}.attention.angles"].endswith("in place of the seed's sinusoidal PE")
    for name in ("Queries", "Keys"):
        assert titles[f"layers.{i}.attention.heads.0.{name[0]}.rotated"] == (
            f"{name} rotated by position, in place of adding PE (head 0)"
        )
    assert titles[f"layers.{i}.attention.mask"].endswith("in place of seeing every token")
    assert titles[f"layers.{i}.attention.heads.0.weights"] == "Attention weights, within the window only (head 0)"
    assert titles["layers.0.attention.heads.0.weights"] == "Attention weights (head 0)"  # global: as the seed's
    assert "in place of the whole hidden layer" in titles[f"layers.{i}.ffn.input"]
    assert titles[f"layers.{i}.ffn.gate"].startswith("FFN gate half (GeGLU)")
    assert titles[f"layers.{i}.ffn.product"].endswith("in place of the activation alone")


def test_check_carries_a_slip_through_a_rotation_a_window_and_a_gate(tiny, tmp_path: Path) -> None:
    """Slips in a local layer's Q, a scaled score, the FFN's input half and its gate; the rotated Q,
    the weight, the activation and the products worked from them by hand (the rotation's angle from
    config.json's theta, as transformers' rotate_half pairs column 0 with d_k/2; the softmax over the
    window), each written to 3 decimals."""
    folder = tiny("modernbert")
    _, local, window = layer_kinds(folder)
    i, p = local[0], 2  # ␣cat, at position 2
    config = json.loads((folder / "config.json").read_text())
    theta = config["rope_parameters"]["sliding_attention"]["rope_theta"]
    t = encoder_cli.explain(SENTENCE, model=folder)
    head, ffn = f"layers.{i}.attention.heads.0.", f"layers.{i}.ffn."
    Q, rotated = t[head + "Q"], t[head + "Q.rotated"]
    half = Q.shape[1] // 2
    angle = p * theta**0  # pair 0's frequency θ^(−0/d_k) = 1
    q = round(float(Q[p, 0]) + 1.0, 2)  # the slip
    q_rotated = q * math.cos(angle) - float(Q[p, half]) * math.sin(angle)  # rotate_half: −Q[:, d_k/2:] first
    assert abs(q_rotated - rotated[p, 0]) > 0.1  # carried, not right by chance
    scaled = t[head + "scaled"][0].tolist()  # [CLS]'s row: the window leaves out the last token
    assert window < len(scaled) - 1
    scaled[1] = s = round(scaled[1] + 1.0, 2)  # the slip
    weight = math.exp(s) / sum(math.exp(x) for x in scaled[: window + 1])
    assert abs(weight - t[head + "weights"][0, 1]) > 0.05
    gelu = lambda x: x / 2 * (1 + math.erf(x / math.sqrt(2)))  # noqa: E731 - ModernBERT's hidden_activation
    h = round(float(t[ffn + "input"][p, 0]) - 1.0, 2)  # the slip
    gate = round(float(t[ffn + "gate"][p, 1]) + 1.0, 2)  # another
    product_0 = gelu(h) * float(t[ffn + "gate"][p, 0])
    product_1 = float(t[ffn + "activation"][p, 1]) * gate
    assert min(abs(product_0 - t[ffn + "product"][p, 0]), abs(product_1 - t[ffn + "product"][p, 1])) > 0.05
    answers = tmp_path / "answers.yaml"
    answers.write_text(
        f"{head}Q[{p},0]: {q}\n{head}Q.rotated[{p},0]: {q_rotated:.3f}\n"
        f"{head}scaled[0,1]: {s}\n{head}weights[0,1]: {weight:.3f}\n"
        f"{ffn}input[{p},0]: {h}\n{ffn}activation[{p},0]: {gelu(h):.3f}\n{ffn}product[{p},0]: {product_0:.3f}\n"
        f"{ffn}gate[{p},1]: {gate}\n{ffn}product[{p},1]: {product_1:.3f}\n"
    )
    result = run("check", SENTENCE, "--model", str(folder), "--answers", str(answers), "-f", "json")
    assert result.exit_code == 1 and result.stderr == ""
    doc = json.loads(result.stdout)
    verdicts = {(a["step"].removeprefix(f"layers.{i}."), a["row"], a["col"]): a["verdict"] for a in doc["answers"]}
    assert verdicts == {
        ("attention.heads.0.Q", p, 0): "wrong",
        ("attention.heads.0.Q.rotated", p, 0): "carried",
        ("attention.heads.0.scaled", 0, 1): "wrong",
        ("attention.heads.0.weights", 0, 1): "carried",
        ("ffn.input", p, 0): "wrong",
        ("ffn.activation", p, 0): "carried",
        ("ffn.product", p, 0): "carried",
        ("ffn.gate", p, 1): "wrong",
        ("ffn.product", p, 1): "carried",
    }
    out = run("check", SENTENCE, "--model", str(folder), "--answers", str(answers)).stdout
    assert out.rstrip().endswith("9 checked: 0 right, 5 carried, 4 wrong")


def test_the_readme_shows_what_modernbert_base_s_header_says(tiny) -> None:
    """README.md's "Beyond the seed": the header of a checkpoint with ModernBERT-base's layers (its config.json:
    22 layers, every third global, local_attention 128, hidden_activation gelu), tiny otherwise."""
    block = re.search(r"Its header, under the `Model` line:\n\n```text\n(.*?)```", README, re.S)
    assert block is not None
    folder = tiny("modernbert", num_hidden_layers=22, global_attn_every_n_layers=3, local_attention=128)
    out = run("explain", SENTENCE, "--model", str(folder), "-s", "output").stdout  # COLUMNS 100
    header = "\n".join(line.rstrip() for line in out[: out.index("Output")].splitlines())
    assert f"\n{block[1]}" in header


def _json(folder: Path, sentence: str = SENTENCE, *more: str) -> dict[str, dict]:
    doc = json.loads(run("explain", sentence, "--model", str(folder), "-f", "json", "--show-work", *more).stdout)
    return {s["id"]: s for s in doc["steps"]}


@pytest.mark.parametrize("family", ["modernbert", "deberta-v2"])
def test_titles_name_which_norm_and_hold_one_aside_at_most(tiny, family: str) -> None:
    """Each LayerNorm says which it is; a title has at most one parenthetical besides its head's, and does not repeat
    its formula; the seed's stage 2 (positional encoding) holds position steps only, never the embeddings' norm."""
    steps = _json(tiny(family))
    titles = {i: s["title"] for i, s in steps.items()}
    for title in titles.values():
        assert re.sub(r" \(head \d+\)$", "", title).count(" (") <= 1, title
    stages = {s.id: s.stage for s in encoder_cli.explain(SENTENCE, model=str(tiny(family))).trace.steps}
    assert titles["input_norm"] == "Embeddings, layer-normalised" and stages["input_norm"] == 1
    assert {i for i, stage in stages.items() if stage == 2} <= {i for i in steps if i.startswith("relative_")}
    if family == "modernbert":  # pre-norm, a final norm, no norm_1 in layer 0
        assert titles["layers.1.norm_1"] == "Layer normalisation before attention"
        assert titles["layers.1.norm_2"] == "Layer normalisation before the FFN"
        assert titles["final_norm"] == "Final layer normalisation"
        theta = json.loads((tiny(family) / "config.json").read_text())["rope_parameters"]["full_attention"]
        assert f"θ = {theta['rope_theta']:g}" in steps["layers.0.attention.angles"]["formula"]
        assert "θ" not in titles["layers.0.attention.angles"]
    else:  # post-norm: the seed's Add & Norm
        assert titles["layers.1.norm_1"] == "Layer normalisation"
        assert titles["relative_embeddings"] == "Relative embeddings, layer-normalised"
        scaled = steps["layers.1.attention.heads.0.scaled"]  # the title sums what the formula sums
        assert scaled["title"].startswith("Scaled scores, c2c + c2p + p2c, in place of")  # the root: in the formula
        assert scaled["formula"].startswith("(c2c + c2p + p2c) / √(d_k × 3)")


def test_formulas_name_the_steps_they_read(tiny) -> None:
    """A formula's symbols are its inputs': GeGLU's activation is of `input` (not the hidden layer h), its product
    is named `a` before the FFN output reads it; DeBERTa's position keys read `relative_embeddings`; ModernBERT's
    classifier logits read its LayerNorm; the masked-LM head's one row is a row."""
    modern, deberta = _json(tiny("modernbert")), _json(tiny("deberta-v2"))
    assert modern["layers.1.ffn.activation"]["inputs"] == ["layers.1.ffn.input"]
    assert modern["layers.1.ffn.activation"]["formula"] == "GELU(input) = input/2 · (1 + erf(input / √2))"
    assert modern["layers.1.ffn.product"]["formula"] == "a = gelu(input) ⊙ gate"
    assert modern["layers.1.ffn.output"]["formula"] == "a W_2"
    assert modern["layers.1.attention.heads.0.Q.rotated"]["formula"].startswith("Q_rot = Q ⊙ cos")
    assert modern["layers.1.attention.heads.0.scores"]["formula"] == "Q_rot K_rotᵀ"
    k_r = deberta["layers.1.attention.heads.0.K_r"]
    assert k_r["inputs"] == ["relative_embeddings"] and k_r["formula"].startswith("K_r = relative_embeddings W_K")
    labels = {0: "no", 1: "yes"}
    classifier = _json(tiny("modernbert", classifier=True, id2label=labels))
    assert classifier["classifier.logits"]["inputs"] == ["classifier.norm"]
    assert classifier["classifier.logits"]["formula"].startswith("norm W_out")
    folder = tiny("modernbert", masked_lm=True)
    tokens = json.loads(run("explain", "The cat [MASK]", "--model", str(folder), "-f", "json").stdout)["tokens"]
    rows = _json(folder, "The cat [MASK]")["mlm.rows"]
    assert rows["formula"] == f"x_p = the output's row {tokens.index('[MASK]')}"


def test_a_head_s_cells_are_named_with_the_head(tiny) -> None:
    """mlm.dense and classifier.dense, as the docs name them: never a bare `dense` or `logits`."""
    labels = {0: "no", 1: "yes"}
    for folder, head in ((tiny("modernbert", classifier=True, id2label=labels), "classifier"),
                         (tiny("modernbert", masked_lm=True), "mlm")):  # fmt: skip
        steps = _json(folder, "The cat [MASK]")
        heads = [s for i, s in steps.items() if i.startswith(f"{head}.")]
        assert len(heads) >= 6
        for step in heads:
            assert step["work"]["text"].startswith(f"{step['id']}["), step["work"]["text"]


def test_worked_cells_label_columns_as_the_tables_do(tiny) -> None:
    """A rotation's pair and a GeGLU half's column are named by their columns' labels (d5, f21), each a column of
    the step it names; the window's mask and a weight outside it say why they are 0, with no false chain of =."""
    folder = tiny("modernbert")
    _, local, window = layer_kinds(folder)
    sentence = "The cat sat on the mat"  # [CLS] The ␣cat ␣sat ␣on ␣the ␣mat [SEP]: ␣cat is 2, ␣mat 6
    steps = _json(folder, sentence)
    p = f"layers.{local[0]}."
    lines = run("explain", sentence, "--model", str(folder), "-c", f"{p}attention.heads.0.Q.rotated[␣cat,d1]",
                "-c", f"{p}ffn.gate[␣cat,f2]", "-c", f"{p}attention.mask[␣cat,␣mat]",
                "-c", f"{p}attention.heads.0.weights[␣cat,␣mat]").stdout.splitlines()  # fmt: skip
    d_k, d_ff = len(steps[f"{p}attention.heads.0.Q"]["cols"]), len(steps[f"{p}ffn.gate"]["cols"])
    assert f"Q[␣cat, d1] × cos[␣cat, d1] − Q[␣cat, d{1 + d_k // 2}] × sin[␣cat, d1]" in lines[0]
    assert f" = hidden[␣cat, f{2 + d_ff}] = " in lines[1] and f"f{2 + d_ff}" in steps[f"{p}ffn.hidden"]["cols"]
    assert window < 6 - 2  # ␣mat is outside ␣cat's window
    assert lines[2] == f"{p}attention.mask[␣cat, ␣mat] = 0.000 (|2 − 6| = 4 > {window}: outside the window)"
    assert lines[3] == f"{p}attention.heads.0.weights[␣cat, ␣mat] = 0.000 (mask[␣cat, ␣mat] = 0: outside the window)"
    doc = json.loads(run("explain", sentence, "--model", str(folder), "-f", "json",
                         "-c", f"{p}attention.heads.0.weights[␣cat,␣mat]").stdout)  # fmt: skip
    assert [(c["kind"], c["terms"], c["result"]) for c in doc["cells"]] == [("masked", [], 0.0)]
