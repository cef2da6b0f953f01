"""Agreement with PyTorch, the reference users trust, to 1e-9 in float64.

Each generated weights file goes through our YAML loader and encoder; the same arrays
go into nn.TransformerEncoderLayer (layer outputs) and nn.MultiheadAttention (per-head
softmax weights, attention output). The encoder's input X' is rebuilt independently
(the sinusoid as the Annotated Transformer writes it). torch is imported plainly: if it
cannot be imported, this module errors and the run fails; it is never skipped.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import yaml
from torch import nn

import encoder_cli
from encoder_cli import settings
from tests.conftest import MAT, PRE, SEED, Generated, generate

SEEDS = range(80)


class _WordsLoader(yaml.SafeLoader):
    """PyYAML's safe loader, but `on:` and `no:` stay words (as format 1 reads keys)."""


_WordsLoader.yaml_implicit_resolvers = {
    first: [r for r in resolvers if r[0] != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
TOL = {"rtol": 1e-9, "atol": 1e-9}


def t(a: np.ndarray) -> torch.Tensor:
    return torch.tensor(a, dtype=torch.float64)


def reference_pe(n: int, d: int, base: float) -> torch.Tensor:
    """The Annotated Transformer's PositionalEncoding (pe[:, 0::2] = sin, pe[:, 1::2] = cos)."""
    pe = torch.zeros(n, d, dtype=torch.float64)
    position = torch.arange(n, dtype=torch.float64).unsqueeze(1)
    div_term = torch.exp(torch.arange(0, d, 2, dtype=torch.float64) * -(math.log(base) / d))
    pe[:, 0::2] = torch.sin(position * div_term)
    pe[:, 1::2] = torch.cos(position * div_term[: d // 2])
    return pe


# The reference of every declared choice: a choice settings.py declares without one here fails.
TORCH_ACTIVATIONS: dict[str, str | Callable[[torch.Tensor], torch.Tensor]] = {
    "relu": "relu",
    "gelu": "gelu",
    "gelu_tanh": lambda x: F.gelu(x, approximate="tanh"),
}
NORM_FIRST = {"post": False, "pre": True}  # nn.TransformerEncoderLayer's norm_first


def reference_positional(kind: str, n: int, d: int, base: float, table: list | None) -> torch.Tensor:
    return {
        "sinusoidal": lambda: reference_pe(n, d, base),
        "table": lambda: t(np.array(table)[:n]),
        "none": lambda: torch.zeros(n, d, dtype=torch.float64),
    }[kind]()


def test_every_declared_choice_has_a_reference() -> None:
    assert set(TORCH_ACTIVATIONS) == {a.value for a in settings.Activation}
    assert set(NORM_FIRST) == {n.value for n in settings.Norm}
    for kind in settings.Positional:
        assert reference_positional(kind.value, 2, 2, 10000.0, [[0.0, 0.0]] * 2).shape == (2, 2)


def torch_layer(g: Generated, arrays: dict) -> nn.TransformerEncoderLayer:
    o = g.options
    d, d_ff = o["d_model"], o["d_ff"]
    layer = nn.TransformerEncoderLayer(
        d,
        o["heads"],
        d_ff,
        dropout=0.0,
        activation=TORCH_ACTIVATIONS[o["activation"]],
        layer_norm_eps=o["eps"],
        batch_first=True,
        norm_first=NORM_FIRST[o["norm"]],
        dtype=torch.float64,
    )
    zero = lambda k, size: np.zeros(size) if arrays[k] is None else arrays[k]  # noqa: E731
    W_O = np.eye(d) if arrays["W_O"] is None else arrays["W_O"]
    with torch.no_grad():  # nn.Linear stores W transposed: y = x W^T + b
        att = layer.self_attn
        att.in_proj_weight.copy_(t(np.concatenate([arrays["W_Q"].T, arrays["W_K"].T, arrays["W_V"].T])))
        att.in_proj_bias.copy_(t(np.concatenate([zero("b_Q", d), zero("b_K", d), zero("b_V", d)])))
        att.out_proj.weight.copy_(t(W_O.T))
        att.out_proj.bias.copy_(t(zero("b_O", d)))
        layer.linear1.weight.copy_(t(arrays["W_1"].T))
        layer.linear1.bias.copy_(t(zero("b_1", d_ff)))
        layer.linear2.weight.copy_(t(arrays["W_2"].T))
        layer.linear2.bias.copy_(t(zero("b_2", d)))
        layer.norm1.weight.copy_(t(arrays["gamma_1"]))
        layer.norm1.bias.copy_(t(arrays["beta_1"]))
        layer.norm2.weight.copy_(t(arrays["gamma_2"]))
        layer.norm2.bias.copy_(t(arrays["beta_2"]))
    return layer.eval()


def reference_input(g: Generated, tokens: list[str]) -> torch.Tensor:
    """X' (or LayerNorm(X') with embedding_norm), from the generated dict, not from our code."""
    o, data = g.options, g.data
    fold = str.lower if o["lowercase"] else str
    vocab = {fold(k): v for k, v in data["embeddings"].items()}
    X = t(np.array([vocab.get(fold(w), vocab.get(fold("[UNK]"))) for w in tokens]))
    n, d = X.shape
    x = X + reference_positional(o["positional"], n, d, o["base"], data.get("positional_table"))
    if o["embedding_norm"]:
        norm = data["embedding_norm"]
        x = F.layer_norm(x, (d,), t(np.array(norm["gamma"])), t(np.array(norm["beta"])), o["eps"])
    return x


@pytest.mark.parametrize("seed", SEEDS)
def test_generated_model_agrees_with_torch(seed: int, tmp_path) -> None:
    """Through the Python API: even seeds give the weights as a YAML file, odd ones as a mapping."""
    g = generate(seed)
    path = tmp_path / f"generated-{seed}.yaml"
    path.write_text(g.yaml())
    trace = encoder_cli.explain(g.sentence, weights=path if seed % 2 == 0 else g.data)
    steps = {s.id: s.values for s in trace.steps}
    o = g.options

    # The words are split as written: the test's sentence has one token per word.
    words = g.sentence.split()
    assert trace.tokens == [w.lower() if o["lowercase"] else w for w in words]
    unknown = [u["position"] for u in json.loads(trace.to_json())["unknown"]]
    assert unknown == ([words.index("zebra")] if o["unk"] else [])

    x = reference_input(g, words).unsqueeze(0)  # [1, n, d]
    np.testing.assert_allclose(steps["input_norm" if o["embedding_norm"] else "input"], x[0].numpy(), **TOL)
    with torch.no_grad():
        for i, arrays in enumerate(g.layers):
            layer = torch_layer(g, arrays)
            a_in = layer.norm1(x) if o["norm"] == "pre" else x
            attn, weights = layer.self_attn(a_in, a_in, a_in, need_weights=True, average_attn_weights=False)
            for h in range(o["heads"]):
                np.testing.assert_allclose(
                    steps[f"layers.{i}.attention.heads.{h}.weights"], weights[0, h].numpy(), **TOL
                )
            np.testing.assert_allclose(steps[f"layers.{i}.attention.output"], attn[0].numpy(), **TOL)
            x = layer(x)
            last = f"layers.{i}.residual_2" if o["norm"] == "pre" else f"layers.{i}.norm_2"
            np.testing.assert_allclose(steps[last], x[0].numpy(), **TOL)
        if o["final_norm"]:
            norm = g.data["final_norm"]
            x = F.layer_norm(x, (o["d_model"],), t(np.array(norm["gamma"])), t(np.array(norm["beta"])), o["eps"])
    np.testing.assert_allclose(steps["output"], x[0].numpy(), **TOL)


def test_generated_models_cover_every_option() -> None:
    """The seeds above reach every value of every option, so no option goes unchecked."""
    seen: dict[str, set] = {}
    for seed in SEEDS:
        for key, value in generate(seed).options.items():
            seen.setdefault(key, set()).add(value)
    for key in (
        "norm",
        "activation",
        "positional",
        "per_head",
        "W_O",
        "biases",
        "embedding_norm",
        "final_norm",
        "lowercase",
        "unk",
    ):
        assert len(seen[key]) >= 2, key
    for key, declared in (
        ("norm", settings.Norm),
        ("activation", settings.Activation),
        ("positional", settings.Positional),
    ):
        assert seen[key] == {c.value for c in declared}, key
    assert seen["biases"] == {"none", "all", "some"}
    assert {1, 2, 3} <= seen["layers"] and max(seen["heads"]) >= 4


@pytest.mark.parametrize(
    ("path", "sentence"),
    [(SEED, "The cat sat"), (MAT, "The cat sat on the mat"), (PRE, "a dog ran home, fast.")],
)
def test_fixtures_agree_with_torch(path, sentence) -> None:
    """The shipped fixtures, loaded independently with PyYAML, against torch layer by layer."""
    data = yaml.load(path.read_text(), Loader=_WordsLoader)
    model = data.get("model", {})
    d = len(next(iter(data["embeddings"].values())))
    heads = model.get("heads", 1)
    options = {
        "d_model": d,
        "heads": heads,
        "d_ff": len(data["layers"][0]["ffn"]["W_1"][0]),
        "norm": model.get("norm", "post"),
        "activation": model.get("activation", "relu"),
        "positional": model.get("positional", "sinusoidal"),
        "base": 10000.0,
        "eps": float(model.get("layer_norm_eps", 1e-5)),
        "lowercase": model.get("lowercase", False),
        "embedding_norm": "embedding_norm" in data,
        "final_norm": "final_norm" in data,
    }
    layers = []
    for layer in data["layers"]:
        att = layer["attention"]
        if "heads" in att:  # per-head form: put head h in columns h*d_k ...
            att = att | {
                k: np.concatenate([np.array(h[k]) for h in att["heads"]], axis=1) for k in ("W_Q", "W_K", "W_V")
            }
        get = lambda part, k: None if k not in part else np.array(part[k], dtype=float)  # noqa: E731
        norms: dict[str, np.ndarray | None] = {
            f"{p}_{i}": np.array(layer.get(f"norm_{i}", {}).get(p, [1.0 if p == "gamma" else 0.0] * d), dtype=float)
            for i in (1, 2)
            for p in ("gamma", "beta")
        }
        arrays: dict[str, np.ndarray | None] = {
            k: get(part, k)
            for part, keys in (
                (att, ("W_Q", "W_K", "W_V", "W_O", "b_Q", "b_K", "b_V", "b_O")),
                (layer["ffn"], ("W_1", "b_1", "W_2", "b_2")),
            )
            for k in keys
        }
        layers.append(arrays | norms)
    g = Generated(data, sentence, options, layers)
    words = [w.lower() if options["lowercase"] else w for w in _words(sentence)]
    trace = encoder_cli.explain(sentence, weights=path)
    assert trace.tokens == words
    with torch.no_grad():
        x = reference_input(g, words).unsqueeze(0)
        for arrays in layers:
            x = torch_layer(g, arrays)(x)
        if options["final_norm"]:
            norm = data["final_norm"]
            x = F.layer_norm(
                x,
                (d,),
                t(np.array(norm["gamma"], dtype=float)),
                t(np.array(norm["beta"], dtype=float)),
                options["eps"],
            )
    np.testing.assert_allclose(trace["output"], x[0].numpy(), **TOL)


def _words(sentence: str) -> list[str]:
    """The fixtures' sentences split by hand: words, and punctuation marks on their own."""
    return sentence.replace(",", " ,").replace(".", " .").split()
