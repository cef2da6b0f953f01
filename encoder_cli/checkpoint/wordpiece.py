"""BERT's tokenizer, written out: what Hugging Face `tokenizers` does for a BERT model.

1. Added tokens (such as [CLS] or [MASK] typed in the sentence) are cut out first, leftmost-longest.
2. BertNormalizer: drop control characters, NUL and U+FFFD, turn every kind of whitespace into a
   space, put spaces around Chinese characters, strip accents (NFD, drop nonspacing marks), lowercase.
3. BertPreTokenizer: split on whitespace, and make each punctuation mark a word of its own.
4. WordPiece: greedy longest-match-first, later pieces written with the prefix "##"; a word with no
   split, or longer than max_input_chars_per_word (100 in real models; past MAX_WORD_CHARS refused), is
   the unknown token.
5. The special tokens around it: [CLS] ... [SEP].

The settings come from tokenizer.json where there is one, else from vocab.txt with
tokenizer_config.json (as transformers' BertTokenizer builds the same pipeline).

Character classes follow Python's Unicode database. Hugging Face's tokenizers uses older Unicode
tables for "control", "punctuation" and "nonspacing mark", so for about 120 characters added or
reclassified in later Unicode versions (e.g. U+2E43..U+2E5D punctuation) the two can differ;
the tests check that every difference is such a character.
"""

from __future__ import annotations

import bisect
import unicodedata
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from encoder_cli.checkpoint.folder import BIG_JSON_CAP, read_json_object, read_text
from encoder_cli.errors import EncoderError, show
from encoder_cli.settings import MAX_WORD_CHARS

FIX = "give the model's own tokenizer files"
# The CJK ideograph blocks that BERT puts spaces around (tokenizers' table).
# (BERT's Python original has 0x2B820 where tokenizers has 0x2B920; transformers' BertTokenizer uses tokenizers now.)
CHINESE = [(0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF), (0x2A700, 0x2B73F), (0x2B740, 0x2B81F)]
CHINESE += [(0x2B920, 0x2CEAF), (0xF900, 0xFAFF), (0x2F800, 0x2FA1F)]


@dataclass(frozen=True)
class Tokenized:
    words: list[str]  # the words after normalisation and pre-tokenization
    pieces: list[list[str]]  # each word's WordPiece pieces; [UNK] for a word that cannot be split
    tokens: list[str]  # [CLS], the pieces flattened, [SEP]
    ids: list[int]  # each token's vocabulary id


@dataclass(frozen=True)
class Added:
    """A token matched in the text before normalisation (normalized=False) or after it, never split."""

    content: str
    id: int = -1  # given by numbered()
    normalized: bool = False
    lstrip: bool = False
    rstrip: bool = False
    single_word: bool = False


def is_whitespace(c: str) -> bool:
    """Unicode White_Space (Python's isspace() also counts the separators U+001C..U+001F)."""
    return c.isspace() and c not in "\x1c\x1d\x1e\x1f"


def is_control(c: str) -> bool:
    return c in "\x00\ufffd" or (c not in "\t\n\r" and unicodedata.category(c) in ("Cc", "Cf", "Co", "Cs"))


def is_punctuation(c: str) -> bool:
    o = ord(c)
    return 33 <= o <= 47 or 58 <= o <= 64 or 91 <= o <= 96 or 123 <= o <= 126 or unicodedata.category(c)[0] == "P"


def is_chinese(c: str) -> bool:
    o = ord(c)
    return any(lo <= o <= hi for lo, hi in CHINESE)


def _is_word_char(c: str) -> bool:
    """A regex \\w character (letters, marks, digits, connectors): an added token's single_word boundary."""
    return c.isalpha() or unicodedata.category(c) in ("Mn", "Mc", "Me", "Nd", "Nl", "Pc") or c in "\u200c\u200d"


def pre_tokenize(text: str) -> list[str]:
    """Split on whitespace; each punctuation mark is a word of its own."""
    words: list[str] = []
    word = ""
    for c in text:
        if is_whitespace(c) or is_punctuation(c):
            if word:
                words.append(word)
                word = ""
            if not is_whitespace(c):
                words.append(c)
        else:
            word += c
    if word:
        words.append(word)
    return words


class WordPiece:
    def __init__(
        self,
        source: Path,
        vocab: dict[str, int],
        *,
        unk: str = "[UNK]",
        prefix: str = "##",
        max_chars: int = 100,
        normalizer: tuple[bool, bool, bool, bool] = (True, True, True, True),
        added: tuple[Added, ...] = (),
        before: tuple[tuple[str, int], ...] = (),
        after: tuple[tuple[str, int], ...] = (),
    ) -> None:
        self.source, self.vocab, self.unk, self.prefix, self.max_chars = source, vocab, unk, prefix, max_chars
        self.clean_text, self.chinese, self.strip_accents, self.lowercase = normalizer
        self.added, self.before, self.after = added, before, after
        if unk not in vocab:
            raise EncoderError(f"{show(source)}: the unknown token {show(repr(unk))} is not in the vocabulary; {FIX}")
        # The lengths of the vocabulary's first and later pieces (without the prefix), ascending:
        # the search tries only these.
        self._lengths = tuple(
            sorted({n for n in (len(p) - len(skip) for p in vocab if p.startswith(skip)) if n > 0})
            for skip in ("", prefix)
        )
        self._raw = {t.content: t for t in added if not t.normalized and t.content}
        self._normalized = {self.normalize(t.content): t for t in added if t.normalized}
        self._normalized.pop("", None)

    def normalize(self, text: str) -> str:
        if self.clean_text:
            text = "".join(" " if is_whitespace(c) else c for c in text if not is_control(c))
        if self.chinese:
            text = "".join(f" {c} " if is_chinese(c) else c for c in text)
        if self.strip_accents:
            text = "".join(c for c in unicodedata.normalize("NFD", text) if unicodedata.category(c) != "Mn")
        if self.lowercase:
            text = "".join(c.lower() for c in text)  # one character at a time, as tokenizers does (no final sigma)
        return text

    def wordpiece(self, word: str) -> list[str]:
        """Greedy longest-match-first pieces of one word, or [unk]."""
        if len(word) > self.max_chars:
            return [self.unk]
        pieces: list[str] = []
        start = 0
        while start < len(word):
            lengths = self._lengths[start > 0]
            for n in reversed(lengths[: bisect.bisect_right(lengths, len(word) - start)]):  # longest first
                piece = word[start : start + n] if start == 0 else self.prefix + word[start : start + n]
                if piece in self.vocab:
                    pieces.append(piece)
                    start += n
                    break
            else:
                return [self.unk]
        return pieces

    def tokenize(self, sentence: str) -> Tokenized:
        words: list[str] = []
        pieces: list[list[str]] = []
        ids: list[int] = []
        for part in _split_added(sentence, self._raw):
            for sub in [part] if isinstance(part, tuple) else _split_added(self.normalize(part), self._normalized):
                if isinstance(sub, tuple):
                    words.append(sub[0])
                    pieces.append([sub[0]])
                    ids.append(sub[1])
                    continue
                for word in pre_tokenize(sub):
                    words.append(word)
                    pieces.append(self.wordpiece(word))
                    ids += [self.vocab[p] for p in pieces[-1]]
        tokens = [t for t, _ in self.before] + [p for ps in pieces for p in ps] + [t for t, _ in self.after]
        ids = [i for _, i in self.before] + ids + [i for _, i in self.after]
        return Tokenized(words, pieces, tokens, ids)


def _split_added(text: str, table: dict[str, Added]) -> list[str | tuple[str, int]]:
    """The text with the added tokens in `table` cut out as (text, id), leftmost-longest."""
    if not table:
        return [text] if text else []
    lengths = sorted({len(k) for k in table})
    out: list[str | tuple[str, int]] = []
    done = i = 0
    while i < len(text):
        fit = lengths[: bisect.bisect_right(lengths, len(text) - i)]  # only what fits is looked up
        found = next((text[i : i + n] for n in reversed(fit) if text[i : i + n] in table), None)
        if found is None:
            i += 1
            continue
        token, begin, end = table[found], i, i + len(found)
        i = end
        if token.single_word and (
            (begin > 0 and _is_word_char(text[begin - 1])) or (end < len(text) and _is_word_char(text[end]))
        ):
            continue
        while token.lstrip and begin > done and is_whitespace(text[begin - 1]):
            begin -= 1
        while token.rstrip and end < len(text) and is_whitespace(text[end]):
            end += 1
        if done < begin:
            out.append(text[done:begin])
        out.append((text[begin:end], token.id))
        done = i = end
    if done < len(text):
        out.append(text[done:])
    return out


# --- Reading the tokenizer files -------------------------------------------------------------------


def load_tokenizer(folder: Path) -> WordPiece:
    """tokenizer.json where there is one, else vocab.txt with tokenizer_config.json."""
    if (folder / "tokenizer.json").exists():
        return from_tokenizer_json(folder / "tokenizer.json")
    if (folder / "vocab.txt").exists():
        return from_vocab_txt(folder)
    raise EncoderError(f"{show(folder)}: no tokenizer.json or vocab.txt; copy the model's tokenizer files into it")


def _field(where: Path, part: dict[str, Any], key: str, kind: type, default: Any) -> Any:
    value = part.get(key, default)
    if value is None and default is None:
        return None
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise EncoderError(f"{show(where)}: {key} is {show(repr(value)[:40])}, expected {kind.__name__}; {FIX}")
    return value


def _kind(where: Path, data: dict[str, Any], key: str, supported: tuple[str, ...]) -> dict[str, Any]:
    part = data.get(key)
    kind = part.get("type") if isinstance(part, dict) else part
    if not isinstance(part, dict) or kind not in supported:
        supports = " or ".join(supported)
        raise EncoderError(
            f"{show(where)}: {key} {show(repr(kind)[:60])} is not supported; BERT's tokenizer has {supports}"
        )
    return part


def from_tokenizer_json(path: Path) -> WordPiece:
    data = read_json_object(path, FIX, BIG_JSON_CAP)
    normalizer = (False, False, False, False)
    if data.get("normalizer") is not None:
        n = _kind(path, data, "normalizer", ("BertNormalizer",))
        clean, chinese = _field(path, n, "clean_text", bool, True), _field(path, n, "handle_chinese_chars", bool, True)
        lowercase, strip = _field(path, n, "lowercase", bool, True), _field(path, n, "strip_accents", bool, None)
        normalizer = (clean, chinese, lowercase if strip is None else strip, lowercase)
    _kind(path, data, "pre_tokenizer", ("BertPreTokenizer",))
    model = _kind(path, data, "model", ("WordPiece",))
    vocab = model.get("vocab")
    if not (isinstance(vocab, dict) and all(type(i) is int and i >= 0 for i in vocab.values())):
        raise EncoderError(f"{show(path)}: model.vocab is not a mapping of token -> id; {FIX}")
    added = data.get("added_tokens", [])
    if not (isinstance(added, list) and all(isinstance(t, dict) for t in added)):
        raise EncoderError(f"{show(path)}: added_tokens is not a list of tokens; {FIX}")
    max_chars = _field(path, model, "max_input_chars_per_word", int, 100)
    if max_chars > MAX_WORD_CHARS:
        raise EncoderError(
            f"{show(path)}: model.max_input_chars_per_word is {max_chars}, past the {MAX_WORD_CHARS} characters "
            "this calculator splits; set it to 100, as real models do"
        )
    return WordPiece(
        path,
        vocab,
        unk=_field(path, model, "unk_token", str, "[UNK]"),
        prefix=_field(path, model, "continuing_subword_prefix", str, "##"),
        max_chars=max_chars,
        normalizer=normalizer,
        added=numbered(vocab, [_added(path, t) for t in added]),
        **_post_processor(path, data),
    )


def _added(path: Path, token: dict[str, Any]) -> Added:
    flags = [_field(path, token, key, bool, False) for key in ("normalized", "lstrip", "rstrip", "single_word")]
    return Added(_field(path, token, "content", str, ""), -1, *flags)


def numbered(vocab: dict[str, int], tokens: list[Added]) -> tuple[Added, ...]:
    """The added tokens with the ids tokenizers gives them (it ignores the files' ids): a known token's
    vocabulary id, else the next id after the vocabulary and the tokens added so far."""
    found: dict[str, Added] = {}
    top = -1  # the largest id given so far
    for token in tokens:
        if token.content in found or token.content in vocab:
            token_id = found[token.content].id if token.content in found else vocab[token.content]
        else:
            token_id = top + 1 if top >= len(vocab) or not vocab else len(vocab)
        if token.content:
            found[token.content] = replace(token, id=token_id)
            top = max(top, token_id)
    return tuple(found.values())


def _post_processor(path: Path, data: dict[str, Any]) -> dict[str, tuple[tuple[str, int], ...]]:
    """The special tokens before and after the sentence: {"before": (("[CLS]", 101),), "after": ...}."""
    post = _kind(path, data, "post_processor", ("TemplateProcessing", "BertProcessing"))
    bad = EncoderError(f"{show(path)}: post_processor is not [CLS] $A [SEP]-shaped as BERT's; {FIX}")
    if post["type"] == "BertProcessing":
        cls, sep = post.get("cls"), post.get("sep")
        for pair in (cls, sep):
            if not (isinstance(pair, list) and len(pair) == 2 and isinstance(pair[0], str) and type(pair[1]) is int):
                raise bad
        return {"before": ((cls[0], cls[1]),), "after": ((sep[0], sep[1]),)}  # type: ignore[index]
    single, specials = post.get("single"), post.get("special_tokens")
    if not (isinstance(single, list) and isinstance(specials, dict)):
        raise bad
    sides: tuple[list[tuple[str, int]], list[tuple[str, int]]] = ([], [])
    sequences = 0
    for item in single:
        if isinstance(item, dict) and isinstance(item.get("Sequence"), dict) and item["Sequence"].get("id") == "A":
            sequences += 1
            continue
        named = item.get("SpecialToken") if isinstance(item, dict) else None
        name = named.get("id") if isinstance(named, dict) else None
        special = specials.get(name) if isinstance(name, str) else None
        if not isinstance(special, dict):
            raise bad
        tokens, ids = special.get("tokens"), special.get("ids")
        if not (isinstance(tokens, list) and isinstance(ids, list) and len(tokens) == len(ids)):
            raise bad
        if not all(isinstance(t, str) for t in tokens) or not all(type(i) is int and i >= 0 for i in ids):
            raise bad
        sides[min(sequences, 1)].extend(zip(tokens, ids, strict=True))
    if sequences != 1:
        raise bad
    return {"before": tuple(sides[0]), "after": tuple(sides[1])}


def read_vocab(path: Path) -> dict[str, int]:
    """vocab.txt: one token a line, its id its line number (read as transformers reads it)."""
    text = read_text(path, BIG_JSON_CAP, FIX).replace("\r\n", "\n").replace("\r", "\n")
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return {token: i for i, token in enumerate(lines)}


def from_vocab_txt(folder: Path) -> WordPiece:
    """vocab.txt with tokenizer_config.json's settings, the pipeline transformers' BertTokenizer builds."""
    vocab = read_vocab(folder / "vocab.txt")
    config_path = folder / "tokenizer_config.json"
    config = read_json_object(config_path, FIX) if config_path.exists() else {}
    special_map_path = folder / "special_tokens_map.json"
    special_map = read_json_object(special_map_path, FIX) if special_map_path.exists() else {}

    def special(key: str, default: str) -> str:
        value = config.get(key, special_map.get(key, default))
        value = value.get("content") if isinstance(value, dict) else value
        if not isinstance(value, str):
            raise EncoderError(f"{show(config_path)}: {key} is {show(repr(value)[:40])}, expected a token; {FIX}")
        return value

    names = ("pad_token", "unk_token", "cls_token", "sep_token", "mask_token")
    pad, unk, cls, sep, mask = (special(key, f"[{key[:-6].upper()}]") for key in names)
    lowercase = _field(config_path, config, "do_lower_case", bool, _field(config_path, config, "lowercase", bool, True))
    strip = _field(config_path, config, "strip_accents", bool, None)
    chinese = _field(config_path, config, "tokenize_chinese_chars", bool, True)
    decoder = config.get("added_tokens_decoder", {})
    if not isinstance(decoder, dict) or not all(isinstance(t, dict) and k.isdigit() for k, t in decoder.items()):
        raise EncoderError(f"{show(config_path)}: added_tokens_decoder is not a mapping of id -> token; {FIX}")
    added = [_added(config_path, decoder[key]) for key in sorted(decoder, key=int)]
    added += [Added(t) for t in (pad, unk, cls, sep, mask)]
    for token in (cls, sep):
        if token not in vocab:
            raise EncoderError(f"{show(folder / 'vocab.txt')}: no {show(repr(token))} in the vocabulary; {FIX}")
    return WordPiece(
        folder / "vocab.txt",
        vocab,
        unk=unk,
        normalizer=(True, chinese, lowercase if strip is None else strip, lowercase),
        added=numbered(vocab, added),
        before=((cls, vocab[cls]),),
        after=((sep, vocab[sep]),),
    )
