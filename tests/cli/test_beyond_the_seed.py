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
