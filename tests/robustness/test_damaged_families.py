"""Each family's tiny checkpoint (tests/kit/models.py), damaged: a tensor missing, a tensor of the
wrong shape, a config key of the wrong type, a tokenizer that does not load. Each gets one line on
stderr naming the file, exit 2, nothing on stdout, and the folder is left as it was. So do the
two configurations the calculator refuses: ALBERT layers several sublayers deep and MPNet with
fewer than the 32 relative-position buckets transformers reads, and the DeBERTa options it does not read."""

from __future__ import annotations

import json
import os
import random
import re
import shutil
from pathlib import Path

import pytest
from safetensors.torch import load_file, save_file

import encoder_cli
from tests.conftest import run
from tests.kit.models import FAMILIES

# Each family's tensors, by a pattern: one to take out, one to cut a column from (layer 0's W_Q).
MISSING = {
    "albert": r"embedding_hidden_mapping_in\.weight",  # the projection
    "electra": r"layer\.1\.output\.dense\.weight",
    "distilbert": r"layer\.1\.ffn\.lin2\.weight",
    "mpnet": r"relative_attention_bias\.weight",
    "modernbert": r"layers\.1\.attn_norm\.weight",  # layer 0 has none: its input is input_norm
    "deberta-v2": r"encoder\.rel_embeddings\.weight",
}
QUERY = r"\.0\.(attention\.(self\.query|self\.query_proj|query|q_lin|attn\.q)|attn\.Wqkv)\.weight$"
# A config key of each family, given as a string.
WRONG_TYPE = {"distilbert": "n_heads", "albert": "num_hidden_groups", "electra": "embedding_size"}
WRONG_TYPE |= {"mpnet": "relative_attention_num_buckets", "deberta-v2": "position_buckets"}


def fails(folder: Path) -> str:
    """`encoder explain x --model folder`: one line on stderr, exit 2, nothing on stdout, folder untouched."""
    before = {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    result = run("explain", "x", "--model", str(folder))
    assert result.exit_code == 2, (result.stdout[:300], result.stderr)
    assert result.stdout == "" and result.stderr.startswith("error: ") and result.stderr.count("\n") == 1
    assert "Traceback" not in result.stderr
    assert {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()} == before
    return result.stderr


def tensors(folder: Path, edit) -> None:
    stored = load_file(folder / "model.safetensors")
    edit(stored)
    save_file(stored, folder / "model.safetensors", metadata={"format": "pt"})


def the(stored: dict, pattern: str) -> str:
    [name] = [n for n in stored if re.search(pattern, n)]
    return name


def config(folder: Path, **changes: object) -> None:
    path = folder / "config.json"
    path.write_text(json.dumps(json.loads(path.read_text()) | changes))


@pytest.fixture
def copy(tiny, tmp_path: Path):
    def made(family: str, **arguments: object) -> Path:
        return Path(shutil.copytree(tiny(family, **arguments), tmp_path / family))

    return made


@pytest.mark.parametrize("family", FAMILIES)
def test_undamaged_the_folder_runs(tiny, family: str) -> None:
    """So that each refusal below is the damage's, not the family's."""
    result = run("explain", "x", "--model", str(tiny(family)), "-f", "json", "-s", "output")
    assert result.exit_code == 0 and result.stderr == "", result.stderr


@pytest.mark.parametrize("family", FAMILIES)
def test_a_missing_tensor(copy, family: str) -> None:
    folder = copy(family)
    pattern = MISSING.get(family, r"layer\.1\.attention\.self\.value\.weight")
    tensors(folder, lambda stored: stored.pop(the(stored, pattern)))
    assert "model.safetensors" in fails(folder)


@pytest.mark.parametrize("family", FAMILIES)
def test_a_tensor_of_the_wrong_shape(copy, family: str) -> None:
    folder = copy(family)

    def cut(stored: dict) -> None:
        name = the(stored, QUERY)
        stored[name] = stored[name][:, 1:].contiguous()

    tensors(folder, cut)
    message = fails(folder)
    assert "model.safetensors" in message and "shape" in message


@pytest.mark.parametrize("family", FAMILIES)
def test_a_config_key_of_the_wrong_type(copy, family: str) -> None:
    folder = copy(family)
    key = WRONG_TYPE.get(family, "num_attention_heads")
    config(folder, **{key: str(FAMILIES[family][key])})
    message = fails(folder)
    assert "config.json" in message and key in message


def cut_in_half(text: str) -> str:
    return text[: len(text) // 2]


def unknown_model(text: str) -> str:
    """Valid JSON that the tokenizers library does not load."""
    data = json.loads(text)
    data["model"]["type"] = "SentencePieceOfCake"
    return json.dumps(data)


@pytest.mark.parametrize("damage", [cut_in_half, unknown_model])
@pytest.mark.parametrize("family", FAMILIES)
def test_a_tokenizer_that_does_not_load(copy, family: str, damage) -> None:
    folder = copy(family)
    path = folder / "tokenizer.json"
    path.write_text(damage(path.read_text()))
    assert "tokenizer.json" in fails(folder)


def test_albert_layers_of_several_sublayers_are_refused(tiny) -> None:
    message = fails(tiny("albert", inner_group_num=2))
    assert "config.json" in message and "inner_group_num" in message


def test_mpnet_with_fewer_than_32_buckets_is_refused(tiny) -> None:
    message = fails(tiny("mpnet", relative_attention_num_buckets=16))
    assert "config.json" in message and "relative_attention_num_buckets" in message and "32" in message


@pytest.mark.parametrize(
    ("key", "value"),
    [("attention_bias", True), ("mlp_bias", True), ("norm_bias", True), ("classifier_bias", True),
     ("rope_parameters", {"full_attention": {"rope_type": "linear", "rope_theta": 10.0, "factor": 2.0}}),
     ("layer_types", ["full_attention", "sliding_attention"]), ("hidden_size", 21)],
)  # fmt: skip
def test_modernbert_configurations_it_does_not_read_are_refused(copy, key: str, value: object) -> None:
    """Biases (no released ModernBERT has them), a rotary embedding other than the default, a layer_types
    that does not name every layer, an odd head size (rotary positions turn columns in pairs)."""
    folder = copy("modernbert")
    config(folder, **{key: value})
    message = fails(folder)
    assert "config.json" in message and key.split("_")[0] in message


@pytest.mark.parametrize(
    ("changes", "named"),
    [({"rope_scaling": {"rope_type": "yarn", "factor": 4.0}}, "rope_scaling is 'yarn'"),
     ({"rope_scaling": {"type": "dynamic", "factor": 2.0}}, "rope_scaling is 'dynamic'"),
     ({"rope_parameters": {"sliding_attention": {"rope_type": "linear", "rope_theta": 10.0}}},
      "rope_type of rope_parameters' sliding_attention is 'linear'")],
)  # fmt: skip
def test_a_rotary_embedding_other_than_the_default_is_named(copy, changes: dict, named: str) -> None:
    """The refusal quotes the rope_type that is not the default (old configs' rope_scaling too), not 'default'."""
    folder = copy("modernbert")
    config(folder, **changes)
    message = fails(folder)
    assert named in message and "'default'" not in message, message


@pytest.mark.parametrize(
    ("changes", "key"),
    [({"conv_kernel_size": 3}, "conv_kernel_size"), ({"attention_head_size": 16}, "attention_head_size"),
     ({"embedding_size": 16}, "embedding_size"), ({"relative_attention": False}, "relative_attention"),
     ({"pos_att_type": ["c2p", "p2p"]}, "pos_att_type"), ({"norm_rel_ebd": "batch_norm"}, "norm_rel_ebd"),
     ({"position_buckets": 40}, "position_buckets"), ({"pooler_hidden_act": "tanh"}, "pooler_hidden_act"),
     ({"share_att_key": "yes"}, "share_att_key")],
)  # fmt: skip
def test_deberta_configurations_it_does_not_read_are_refused(copy, changes: dict, key: str) -> None:
    """A convolution beside layer 0, a head size of its own, embeddings projected to the hidden size, no positions
    at all (relative_attention false with position_biased_input false), a term other than c2p and p2c, a norm
    other than LayerNorm, log buckets that reach past max_relative_positions, a classifier pooler other than GELU."""
    folder = copy("deberta-v2")
    config(folder, **changes)
    message = fails(folder)
    assert "config.json" in message and key in message


# --- config.json fuzzed, family by family: each key the table reads, and the ones it does not ---------

FAMILY_KEYS = sorted(
    {"model_type", "hidden_size", "dim", "num_attention_heads", "n_heads", "num_hidden_layers", "n_layers",
     "intermediate_size", "hidden_dim", "hidden_act", "activation", "layer_norm_eps", "max_position_embeddings",
     "type_vocab_size", "vocab_size", "embedding_size", "pad_token_id", "num_hidden_groups", "inner_group_num",
     "relative_attention_num_buckets", "position_embedding_type", "hidden_activation", "norm_eps", "layer_types",
     "rope_parameters", "local_attention", "global_attn_every_n_layers", "global_rope_theta", "local_rope_theta",
     "attention_bias", "mlp_bias", "norm_bias", "rope_scaling", "relative_attention", "position_biased_input",
     "pos_att_type", "position_buckets", "max_relative_positions", "norm_rel_ebd", "share_att_key",
     "conv_kernel_size", "attention_head_size", "pooler_hidden_act"}
)  # fmt: skip
CASES = int(os.environ.get("FUZZ_FAMILY_CASES", "40"))  # a long run by hand: FUZZ_FAMILY_CASES=3000


@pytest.mark.parametrize("family", FAMILIES)
def test_fuzz_family_config(family: str, tiny, tmp_path: Path) -> None:
    """Random values for the keys of config.json: the checkpoint loads and runs, or one EncoderError
    says why; never another exception (the API's promise; the command line prints the one line)."""
    folder = tmp_path / family
    shutil.copytree(tiny(family), folder)
    original = json.loads((folder / "config.json").read_text())
    rng = random.Random(f"{family}-{CASES}")
    values = [
        None,
        True,
        0,
        1,
        -1,
        2,
        3,
        7,
        8,
        31,
        32,
        33,
        2**31,
        2**70,
        1.5,
        1e-12,
        float("nan"),
        float("inf"),
        "",
        "gelu",
        "relu",
        "gelu_new",
        "absolute",
        "bert",
        "roberta",
        "albert",
        "mpnet",
        [],
        {},
        [1],
        {"a": 1},
        "sliding_attention",
        ["full_attention"],
        {"full_attention": {"rope_type": "yarn"}},
        "c2p",
        "p2c|c2p",
        ["p2c", "c2p"],
        "layer_norm",
        256,
        512,
    ]
    for _ in range(CASES):
        changes = {rng.choice(FAMILY_KEYS): rng.choice(values) for _ in range(rng.randint(1, 3))}
        changes |= {k: original[k] + rng.choice((-1, 1)) for k in rng.sample(sorted(original), 1)
                    if type(original[k]) is int}  # fmt: skip
        (folder / "config.json").write_text(json.dumps(original | changes))
        try:
            encoder_cli.explain("a b", model=str(folder))
        except encoder_cli.EncoderError as e:
            assert "\n" not in str(e), (changes, str(e))
