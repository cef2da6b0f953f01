"""A small tokenizer of each encoder family's real kind, trained by the `tokenizers` library.

`save_tokenizer(family, folder)` writes tokenizer.json and tokenizer_config.json (transformers 5's
`PreTrainedTokenizerFast.save_pretrained` writes no special_tokens_map.json), laid out as the family's
real tokenizer is:

    bert, distilbert, electra  WordPiece, BertNormalizer (lower case), [CLS] A [SEP] / [CLS] A [SEP] B [SEP]
                               (types 0 / 1), [PAD]=0
    mpnet                      WordPiece, lower case, RobertaProcessing <s> A </s> / <s> A </s></s> B </s>,
                               <s>=0 <pad>=1 </s>=2 <unk>=3, unk_token [UNK] (as all-mpnet-base-v2's)
    roberta                    byte-level BPE, RobertaProcessing, <s>=0 <pad>=1 </s>=2 <unk>=3, <mask> last
    xlm-roberta, camembert     Unigram with Metaspace (XLM-R's with byte fallback), <s> A </s> / <s> A </s></s> B </s>
                               (RoBERTa-style pairs: all type 0, as the real ones)
    albert                     Unigram with Metaspace, lower case, [CLS] A [SEP], <pad>=0
    modernbert                 byte-level BPE, [CLS] A [SEP] / [CLS] A [SEP] B [SEP] (types 0 / 1), [PAD]=0
    deberta-v2                 Unigram with Metaspace, [CLS] A [SEP] / [CLS] A [SEP] B [SEP] (types 0 / 1),
                               [PAD]=0 [CLS]=1 [SEP]=2 [UNK]=3, [MASK] last (as DeBERTa-v3's)

Each is trained once a session (a few milliseconds) on CORPUS, a few hundred words. The byte-level BPE
comes out the same each time; WordPiece's and Unigram's training is not deterministic across processes
(tokenizers breaks ties in hash order and sums Unigram's scores in parallel), so tests compare with
transformers' AutoTokenizer on the same folder, or use pieces every training must make (single characters,
byte fallback, unknown characters).
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

from tokenizers import AddedToken, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

FAMILIES = (
    "bert",
    "roberta",
    "xlm-roberta",
    "camembert",
    "distilbert",
    "albert",
    "electra",
    "mpnet",
    "modernbert",
    "deberta-v2",
)

# Strings that tokenizers get wrong in different ways: accents (composed and combining), CJK, emoji
# (one the corpus never shows, so byte-level BPE splits it into partial UTF-8 bytes; a skin tone; a flag;
# a family joined by ZWJ), apostrophes (straight and curly), numbers, repeated words, odd whitespace,
# compatibility characters, and a special token typed in the text.
HARD_STRINGS = (
    "The cat sat on the mat.",
    "Café naïve résumé, déjà vu à Zürich; ÅNGSTRÖM straße",
    "Cafe\u0301 with a combining accent",
    "東京は日本の首都です。北京欢迎你",
    "I love 🐈 and 🦔, 👍🏽 and 🇫🇷, 👨\u200d👩\u200d👧",
    "It's the cat's toy; don't, can't, l'homme’s ‘quote’",
    "In 2024, 3.14159 of 1,000,000 people paid $42.50 (7%)",
    "the the the cat cat cat sat sat",
    "  leading and trailing  spaces\tand\ttabs\nnew line\u00a0no-break\u3000ideographic  ",
    "ﬁne ℌ ½ Ⅻ ｆｕｌｌ",
    "unbelievably antidisestablishmentarianism",
    "a [MASK] and a <mask> here",
)

CORPUS = """
The cat sat on the mat. The dog ran home, fast. A cat and a dog are friends; the cat is small.
It's the cat's toy, don't take it. I can't and won't. She said: "we'll see", and he'd agree.
Numbers: 1 2 3 4 5 6 7 8 9 10 42 100 2024 3.14 1,000 50% $5.
Le café est très bon à Paris. Déjà vu, naïve résumé, élève, où, garçon, noël, forêt, l'homme, l'été.
Zürich, München, straße, Ärger, Öl, schön, grüße. España, niño, mañana, corazón, canción.
東京 は 日本 の 首都 です 。 北京 欢迎 你 。 中文 字 学习 。 こんにちは 世界 。 안녕 하세요 .
Emoji: 🐈 😀 👍 🎉 ❤️ the happy cat 😀 and the party 🎉.
The quick brown fox jumps over the lazy dog. Believe, believing, believable, unbelievable, unbelievably.
Transformers read tokens, words and pieces; attention weights each token by the others.
The model embeds each word, adds positions, normalises, and mixes through layers of heads.
Learning, learner, learned, learns; reading, reader, readers; sitting, sits, sat; running, ran, runs.
Establish, established, establishment, disestablish, antidisestablishmentarianism is a long word.
The the the cat cat sat sat on on the the mat mat. Home, homes, homeless; friend, friendly, friendship.
Full width ｆｕｌｌ, ligature ﬁne, fraction ½, roman Ⅻ, and ℌ are compatibility characters.
People paid money for food, water, music, books and time; they walk, talk, think and write every day.
"""

BERT_SPECIALS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
ROBERTA_SPECIALS = ("<s>", "<pad>", "</s>", "<unk>")
ALBERT_SPECIALS = ("<pad>", "<unk>", "[CLS]", "[SEP]", "[MASK]")
DEBERTA_SPECIALS = ("[PAD]", "[CLS]", "[SEP]", "[UNK]")
MASK = AddedToken("<mask>", lstrip=True, normalized=False, special=True)  # the last id; takes the space before it
KIND = {"bert": "bert", "distilbert": "bert", "electra": "bert", "mpnet": "mpnet", "roberta": "roberta"}
KIND |= {"xlm-roberta": "xlm-roberta", "camembert": "camembert", "albert": "albert", "modernbert": "modernbert"}
KIND |= {"deberta-v2": "deberta-v2"}
# The family's tokenizer class, written in tokenizer_config.json, which AutoTokenizer then uses. Not for
# xlm-roberta, camembert, albert and deberta-v2: in transformers 5.25 their classes rebuild the normaliser and
# pre-tokenizer from code (XLM-R's and CamemBERT's: no normaliser, WhitespaceSplit, no byte fallback;
# ALBERT's strips accents; DeBERTa-v2's makes its own NFC normaliser and Metaspace), so they keep
# PreTrainedTokenizerFast's own "TokenizersBackend", which reads tokenizer.json as it is.
CLASS = {"bert": "BertTokenizer", "distilbert": "DistilBertTokenizer", "electra": "ElectraTokenizer"}
CLASS |= {"mpnet": "MPNetTokenizer", "roberta": "RobertaTokenizer"}


def _lines() -> list[str]:
    return [line for line in CORPUS.splitlines() if line]


def _template(tokenizer: Tokenizer, cls: str, sep: str, double_sep: bool) -> processors.TemplateProcessing:
    # RoBERTa-style pairs are all type 0 (one token type), as the real tokenizers make them; BERT's B is type 1.
    pair = f"{cls}:0 $A:0 {sep}:0 {sep}:0 $B:0 {sep}:0" if double_sep else f"{cls}:0 $A:0 {sep}:0 $B:1 {sep}:1"
    return processors.TemplateProcessing(
        single=f"{cls}:0 $A:0 {sep}:0", pair=pair, special_tokens=[(t, tokenizer.get_vocab()[t]) for t in (cls, sep)]
    )


def _wordpiece(specials: tuple[str, ...], unk: str) -> Tokenizer:
    tokenizer = Tokenizer(models.WordPiece(unk_token=unk))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.decoder = decoders.WordPiece()
    trainer = trainers.WordPieceTrainer(vocab_size=700, special_tokens=list(specials), show_progress=False)
    tokenizer.train_from_iterator(_lines(), trainer)
    return tokenizer


def _bpe(specials: tuple[str, ...]) -> Tokenizer:
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        show_progress=False,
        vocab_size=700,
        special_tokens=list(specials),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tokenizer.train_from_iterator(_lines(), trainer)
    return tokenizer


def _unigram(specials: tuple[str, ...], unk: str, lowercase: bool, byte_fallback: bool) -> Tokenizer:
    tokenizer = Tokenizer(models.Unigram())
    steps = [normalizers.NFKC(), normalizers.Replace(" {2,}", " ")]  # sentencepiece's nmt_nfkc, roughly
    tokenizer.normalizer = normalizers.Sequence([*steps, normalizers.Lowercase()] if lowercase else steps)
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace()
    tokenizer.decoder = decoders.Metaspace()
    trainer = trainers.UnigramTrainer(vocab_size=600, special_tokens=list(specials), unk_token=unk, show_progress=False)
    tokenizer.train_from_iterator(_lines(), trainer)
    if byte_fallback:  # the trainer has no byte fallback: add the 256 byte pieces, as sentencepiece does
        data = json.loads(tokenizer.to_str())
        lowest = min(score for _, score in data["model"]["vocab"])
        data["model"]["vocab"] += [[f"<0x{b:02X}>", lowest - 10] for b in range(256)]
        data["model"]["byte_fallback"] = True
        tokenizer = Tokenizer.from_str(json.dumps(data))
    return tokenizer


@functools.cache
def _trained(kind: str) -> tuple[str, dict[str, str]]:
    """The tokenizer.json text and the special tokens for transformers, of one kind."""
    if kind == "bert":
        tokenizer = _wordpiece(BERT_SPECIALS, "[UNK]")
        tokenizer.post_processor = _template(tokenizer, "[CLS]", "[SEP]", double_sep=False)
        names = _bert_names(BERT_SPECIALS)
    elif kind == "mpnet":  # as all-mpnet-base-v2's: BERT's vocabulary after <s> <pad> </s> <unk>, unk_token
        # [UNK], <mask> last, RobertaProcessing
        tokenizer = _wordpiece((*ROBERTA_SPECIALS, *BERT_SPECIALS), "[UNK]")
        tokenizer.add_special_tokens([MASK])
        tokenizer.post_processor = processors.RobertaProcessing(("</s>", 2), ("<s>", 0), add_prefix_space=False)
        names = {"bos_token": "<s>", "eos_token": "</s>", "cls_token": "<s>", "sep_token": "</s>"}
        names |= {"pad_token": "<pad>", "unk_token": "[UNK]", "mask_token": "<mask>"}
    elif kind == "modernbert":  # byte-level BPE, [CLS] A [SEP] / [CLS] A [SEP] B [SEP], all type 0
        tokenizer = _bpe(BERT_SPECIALS)
        tokenizer.post_processor = _template(tokenizer, "[CLS]", "[SEP]", double_sep=False)
        names = _bert_names(BERT_SPECIALS)
    elif kind == "roberta":
        tokenizer = _bpe(ROBERTA_SPECIALS)
        tokenizer.add_special_tokens([MASK])
        tokenizer.post_processor = processors.RobertaProcessing(("</s>", 2), ("<s>", 0), add_prefix_space=False)
        names = _roberta_names()
    elif kind == "albert":
        tokenizer = _unigram(ALBERT_SPECIALS, "<unk>", lowercase=True, byte_fallback=False)
        tokenizer.post_processor = _template(tokenizer, "[CLS]", "[SEP]", double_sep=False)
        names = _bert_names(ALBERT_SPECIALS)
    elif kind == "deberta-v2":  # as DeBERTa-v3's: [PAD] [CLS] [SEP] [UNK] first, [MASK] the last id
        tokenizer = _unigram(DEBERTA_SPECIALS, "[UNK]", lowercase=False, byte_fallback=False)
        tokenizer.add_special_tokens([AddedToken("[MASK]", normalized=False, special=True)])
        tokenizer.post_processor = _template(tokenizer, "[CLS]", "[SEP]", double_sep=False)
        names = {"pad_token": "[PAD]", "cls_token": "[CLS]", "sep_token": "[SEP]", "unk_token": "[UNK]"}
        names |= {"mask_token": "[MASK]", "bos_token": "[CLS]", "eos_token": "[SEP]"}
    else:  # xlm-roberta, camembert
        tokenizer = _unigram(ROBERTA_SPECIALS, "<unk>", lowercase=False, byte_fallback=kind == "xlm-roberta")
        tokenizer.add_special_tokens([MASK])
        tokenizer.post_processor = _template(tokenizer, "<s>", "</s>", double_sep=True)
        names = _roberta_names()
    return tokenizer.to_str(), names


def _bert_names(specials: tuple[str, ...]) -> dict[str, str]:
    return dict(zip(("pad_token", "unk_token", "cls_token", "sep_token", "mask_token"), specials, strict=True))


def _roberta_names() -> dict[str, str]:
    names = {"bos_token": "<s>", "eos_token": "</s>", "cls_token": "<s>", "sep_token": "</s>"}
    return names | {"pad_token": "<pad>", "unk_token": "<unk>", "mask_token": "<mask>"}


def save_tokenizer(family: str, folder: Path) -> None:
    """tokenizer.json and tokenizer_config.json of a small `family` tokenizer."""
    from transformers import PreTrainedTokenizerFast

    text, names = _trained(KIND[family])
    fast = PreTrainedTokenizerFast(tokenizer_object=Tokenizer.from_str(text), **names)
    fast.save_pretrained(folder)
    if family in CLASS:
        path = folder / "tokenizer_config.json"
        path.write_text(json.dumps(json.loads(path.read_text()) | {"tokenizer_class": CLASS[family]}, indent=2))
