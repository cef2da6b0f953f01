"""The tokenizer kit: each family's small tokenizer is laid out as the real one, and transformers'
AutoTokenizer (the reference of the family tests) reads it as tokenizers itself does."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import tokenizers
import transformers

from tests.kit.tokenizers import FAMILIES, HARD_STRINGS, save_tokenizer

# Each family's specials (token -> id) and a pair's tokens around A = "cat" and B = "dog".
LAYOUT = {
    "bert": ({"[PAD]": 0, "[UNK]": 1, "[CLS]": 2, "[SEP]": 3}, "[CLS] A [SEP] B [SEP]"),
    "mpnet": ({"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}, "<s> A </s> </s> B </s>"),
    "roberta": ({"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}, "<s> A </s> </s> B </s>"),
    "xlm-roberta": ({"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}, "<s> A </s> </s> B </s>"),
    "albert": ({"<pad>": 0, "<unk>": 1, "[CLS]": 2, "[SEP]": 3}, "[CLS] A [SEP] B [SEP]"),
}
LAYOUT |= {"distilbert": LAYOUT["bert"], "electra": LAYOUT["bert"], "camembert": LAYOUT["xlm-roberta"]}
LAYOUT |= {"modernbert": LAYOUT["bert"], "deberta-v2": ({"[PAD]": 0, "[CLS]": 1, "[SEP]": 2, "[UNK]": 3},
                                                       "[CLS] A [SEP] B [SEP]")}  # fmt: skip
MODEL = {"roberta": "BPE", "xlm-roberta": "Unigram", "camembert": "Unigram", "albert": "Unigram", "modernbert": "BPE"}
MODEL |= {"deberta-v2": "Unigram"}
PRE = {"roberta": "ByteLevel", "xlm-roberta": "Metaspace", "camembert": "Metaspace", "albert": "Metaspace"}
PRE |= {"modernbert": "ByteLevel", "deberta-v2": "Metaspace"}


@pytest.mark.parametrize("family", FAMILIES)
def test_layout_is_the_familys(family: str, tmp_path: Path) -> None:
    save_tokenizer(family, tmp_path)
    assert {p.name for p in tmp_path.iterdir()} >= {"tokenizer.json", "tokenizer_config.json"}
    data = json.loads((tmp_path / "tokenizer.json").read_text())
    assert data["model"]["type"] == MODEL.get(family, "WordPiece")
    assert data["pre_tokenizer"]["type"] == PRE.get(family, "BertPreTokenizer")
    assert (data["model"].get("byte_fallback") is True) == (family == "xlm-roberta")
    tokenizer = tokenizers.Tokenizer.from_file(str(tmp_path / "tokenizer.json"))
    specials, pair = LAYOUT[family]
    assert {t: tokenizer.token_to_id(t) for t in specials} == specials
    assert 200 <= tokenizer.get_vocab_size() <= 1000
    encoding = tokenizer.encode("cat", "dog")
    a, b = tokenizer.encode("cat", add_special_tokens=False), tokenizer.encode("dog", add_special_tokens=False)
    expected = pair.replace("A", " ".join(a.tokens)).replace("B", " ".join(b.tokens)).split()
    assert encoding.tokens == expected
    second = len(b.tokens) + 1 if pair.startswith("[CLS]") else 0  # B and its [SEP] are type 1 in BERT's
    assert encoding.type_ids == [0] * (len(expected) - second) + [1] * second
    if family == "mpnet":  # the real all-mpnet-base-v2: unk_token [UNK], lower case
        assert json.loads((tmp_path / "tokenizer_config.json").read_text())["unk_token"] == "[UNK]"
        assert tokenizer.encode("CAT", add_special_tokens=False).tokens == a.tokens


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("with_config", [False, True])
def test_auto_tokenizer_reads_it_as_tokenizers_does(family: str, with_config: bool, tmp_path: Path) -> None:
    """transformers 5.25's XLMRobertaTokenizer, CamembertTokenizer, AlbertTokenizer and DebertaV2Tokenizer would
    rebuild the normaliser from code; the kit keeps them out, with or without the family's config.json beside."""
    save_tokenizer(family, tmp_path)
    if with_config:
        transformers.AutoConfig.for_model(family).save_pretrained(tmp_path)
    ours = tokenizers.Tokenizer.from_file(str(tmp_path / "tokenizer.json"))
    auto = transformers.AutoTokenizer.from_pretrained(tmp_path)
    for sentence in HARD_STRINGS:
        assert auto(sentence)["input_ids"] == ours.encode(sentence).ids, sentence
    assert auto("cat", "dog")["input_ids"] == ours.encode("cat", "dog").ids


def test_hard_strings_are_hard(tmp_path: Path) -> None:
    """Byte-level BPE splits an emoji of HARD_STRINGS into pieces that are not whole UTF-8; XLM-R's Unigram
    falls back to bytes; WordPiece has unknown words."""
    pieces = {}
    for family in ("roberta", "xlm-roberta", "bert"):
        save_tokenizer(family, tmp_path / family)
        tokenizer = tokenizers.Tokenizer.from_file(str(tmp_path / family / "tokenizer.json"))
        pieces[family] = {t for s in HARD_STRINGS for t in tokenizer.encode(s).tokens}
    decoder = tokenizers.decoders.ByteLevel()
    assert [p for p in pieces["roberta"] if "\ufffd" in decoder.decode([p])]  # not whole UTF-8
    assert "<0xF0>" in pieces["xlm-roberta"]
    assert "[UNK]" in pieces["bert"]
