"""A checkpoint's tokenizer, run by Hugging Face's `tokenizers` (the library transformers uses).

tokenizer.json is read as it is: its normaliser, pre-tokenizer, model (WordPiece, byte-level BPE,
Unigram with Metaspace and byte fallback) and post-processor, which alone adds the special tokens
(<s> … </s>, [CLS] … [SEP]). Its padding and truncation are turned off: all-mpnet-base-v2's pads
every input to 128 tokens and cuts it there, which would change the run. A folder with only
vocab.txt gets the WordPiece pipeline transformers' BertTokenizer builds from it. A SentencePiece
model alone (sentencepiece.bpe.model, spiece.model) is refused: converting it needs protobuf and
transformers' converters.

Tokens stay raw (`Ġcat`, `▁cat`, `##ing`, `<0xF0>`); labels show them readably: the bytes a piece
stands for as text, a space as `␣`, and bytes that are not whole UTF-8 characters (an emoji split
across pieces) in hex, `<F0><9F>`.

`tokenizers` is imported here only, and this module only when a checkpoint is loaded.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tokenizers

from encoder_cli.checkpoint.folder import BIG_JSON_CAP, JSON_CAP, one_line, read_json_object, read_text
from encoder_cli.errors import EncoderError, show
from encoder_cli.settings import MAX_SENTENCE_CHARS, MAX_WORD_CHARS

FIX = "give the model's own tokenizer files"
SENTENCEPIECE = ("sentencepiece.bpe.model", "spiece.model", "spm.model")  # XLM-R, ALBERT, DeBERTa-v2 and v3
BYTE_PIECE = re.compile(r"<0x([0-9A-F]{2})>")  # a byte-fallback piece


def gpt2_bytes() -> dict[str, int]:
    """Byte-level BPE's alphabet -> the byte each character stands for (GPT-2's bytes_to_unicode):
    the printable bytes stand for themselves, the other 68 are moved to U+0100 onwards (space is Ġ)."""
    kept = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    moved = [b for b in range(256) if b not in kept]
    return {chr(b): b for b in kept} | {chr(256 + i): b for i, b in enumerate(moved)}


BYTE_OF = gpt2_bytes()


@dataclass(frozen=True)
class Tokenized:
    words: list[str]  # the words the pre-tokenizer made, readable (specials from the post-processor are not words)
    pieces: list[list[str]]  # each word's pieces, readable
    tokens: list[str]  # the model's own tokens, specials included, raw: <s>, Ġcat, ▁cat, ##ing, <0xF0>
    labels: list[str]  # the same, readable: <s>, ␣cat, ␣cat, ##ing, <F0>
    ids: list[int]  # each token's vocabulary id
    type_ids: list[int]  # each token's type (segment), as the post-processor gives it: a pair's B is 1 in BERT


class Tokenizer:
    def __init__(
        self, source: Path, tokenizer: tokenizers.Tokenizer, data: dict[str, Any], pad: str | None, mask: str | None
    ) -> None:
        """`data`: the tokenizer's JSON form, for what the library does not expose (byte level, byte fallback)."""
        self.source, self._tokenizer = source, tokenizer
        tokenizer.no_padding()
        tokenizer.no_truncation()
        model = data["model"]
        self._byte_level = _has(data.get("pre_tokenizer"), "ByteLevel") or _has(data.get("decoder"), "ByteLevel")
        self._byte_fallback = model.get("byte_fallback") is True
        metaspace = _find(data.get("pre_tokenizer"), "Metaspace") or _find(data.get("decoder"), "Metaspace")
        self._metaspace = metaspace.get("replacement") if metaspace else None
        self._prefix = model.get("continuing_subword_prefix") if model.get("type") == "WordPiece" else None
        unk = model.get("unk_token")  # Unigram's is unk_id
        self._unk = (
            model.get("unk_id")
            if model.get("type") == "Unigram"
            else tokenizer.token_to_id(unk)
            if isinstance(unk, str)
            else None
        )
        self._added = set(tokenizer.get_added_tokens_decoder())
        # The largest id it can give: its vocabulary's (a Unigram's is a list: ids 0 … n−1; the others map
        # pieces to ids), its added tokens' and its post-processor's. (Read off the file's vocabulary:
        # the library's get_vocab() builds a dict of it, 40 ms of MPNet's run.)
        vocab = model.get("vocab")
        ids = [i for i in vocab.values() if type(i) is int] if isinstance(vocab, dict) else [len(vocab or []) - 1]
        self.largest_id: int = max([*ids, *self._added, *self._encode("").ids], default=0)
        self.pad_id: int | None = tokenizer.token_to_id(pad) if pad is not None else None
        self.mask = mask  # the mask token ([MASK], <mask>) as tokenizer_config.json names it; None: none

    def tokenize(self, sentence: str, pair: str | None = None) -> Tokenized:
        """The sentence's tokens, or a pair's (`[CLS] A [SEP] B [SEP]`, `<s> A </s></s> B </s>`) through the
        post-processor's pair template: words and pieces of both, in order."""
        texts = (sentence,) if pair is None else (sentence, pair)
        if (chars := sum(map(len, texts))) > MAX_SENTENCE_CHARS:
            raise EncoderError(
                f"the sentence{'s have' if pair is not None else ' has'} {chars:,} characters, past the "
                f"{MAX_SENTENCE_CHARS:,} this calculator tokenizes; shorten the sentence"
            )
        encoding = self._encode(sentence, pair)
        given, ids, offsets = encoding.tokens, encoding.ids, encoding.offsets  # (each read makes a new list)
        if len(given) != len(ids):  # post_processor.special_tokens with unequal tokens and ids, which tokenizers takes
            raise EncoderError(f"{show(self.source)} gives {len(given)} tokens but {len(ids)} ids; {FIX}")
        if not ids:  # no words, and no special tokens around them
            raise EncoderError(f"{show(self.source)} makes no tokens of the sentence; give a sentence with words")
        sequences = [0 if k is None else k for k in encoding.sequence_ids]  # a special token's text is ""
        if pair is not None:
            self._pair_template(encoding.sequence_ids)
        # The vocabulary's token of each id, as transformers' convert_ids_to_tokens gives it: the encoding's
        # own differ for an added token that takes the space before it (" <mask>") and for Unigram's unknown.
        # (A post-processor's special token may have an id of no vocabulary entry: it keeps its own.)
        tokens = [self._tokenizer.id_to_token(i) or token for i, token in zip(ids, given, strict=True)]
        labels = [self.label(t, i) for t, i in zip(tokens, ids, strict=True)]
        words: dict[tuple[int, int], list[int]] = {}  # (sentence, word) -> its tokens' positions
        for position, (k, word) in enumerate(zip(sequences, encoding.word_ids, strict=True)):
            if word is not None:
                words.setdefault((k, word), []).append(position)
        covered = [texts[k][start:end] for k, (start, end) in zip(sequences, offsets, strict=True)]
        return Tokenized(
            words=[self._word([(tokens[p], ids[p], covered[p]) for p in positions]) for positions in words.values()],
            pieces=[[labels[p] for p in positions] for positions in words.values()],
            tokens=tokens,
            labels=labels,
            ids=ids,
            type_ids=encoding.type_ids,
        )

    def _pair_template(self, sequences: list[int | None]) -> None:
        """A pair template puts a special token between A and B, as every pair-trained model's does:
        `$A $B`, the library's pair without a post-processor, would run the two sentences together."""
        a = [p for p, k in enumerate(sequences) if k == 0]
        b = [p for p, k in enumerate(sequences) if k == 1]
        if not a or not b:
            which = "first" if not a else "second"
            raise EncoderError(f"{show(self.source)} makes no tokens of the {which} sentence; give it words")
        if self._tokenizer.post_processor is None or None not in sequences[a[-1] + 1 : b[0]]:
            raise EncoderError(
                f"{show(self.source)}: no pair template (its post_processor puts no special token between "
                "sentence A and B), so the model was not made for sentence pairs; give one sentence"
            )

    def _encode(self, text: str, pair: str | None = None) -> tokenizers.Encoding:
        with library(self.source, "cannot tokenize with it"):
            return self._tokenizer.encode(text, pair, add_special_tokens=True)

    def label(self, token: str, id: int) -> str:
        """A token as text: the bytes it stands for (a space as ␣), bytes of no whole character in hex."""
        return _readable(token.encode() if id in self._added else self._bytes(token))

    def id_of(self, token: str) -> int | None:
        """A token's id (the vocabulary's or an added token's); None for no such token."""
        return self._tokenizer.token_to_id(token)

    def vocabulary(self, size: int) -> tuple[str, ...]:
        """Each id's token below `size`, readable (␣cat); "" for an id that is no token's."""
        return tuple(
            "" if (token := self._tokenizer.id_to_token(i)) is None else self.label(token, i) for i in range(size)
        )

    def _bytes(self, piece: str) -> bytes:
        """The bytes a piece stands for."""
        byte = BYTE_PIECE.fullmatch(piece) if self._byte_fallback else None
        if byte:
            return bytes([int(byte[1], 16)])
        if self._byte_level and all(c in BYTE_OF for c in piece):
            return bytes(BYTE_OF[c] for c in piece)
        return (piece.replace(self._metaspace, " ") if self._metaspace else piece).encode()

    def _word(self, pieces: list[tuple[str, int, str]]) -> str:
        """A word as its pieces (token, id, the text it covers) make it, WordPiece's ## dropped: an
        unknown piece as the text has it, an added token as it is."""
        out = []
        for k, (token, id, text) in enumerate(pieces):
            if id == self._unk or id in self._added:
                out.append((text if id == self._unk else token).encode())
            else:
                out.append(self._bytes(token.removeprefix(self._prefix) if k and self._prefix else token))
        return _readable(b"".join(out))


@contextmanager
def library(path: Path, what: str) -> Iterator[None]:
    """The library's errors, as one line naming the file. A Rust panic (a BaseException) is first
    printed by Rust on the process's stderr, with its backtrace: the block runs with file descriptor 2
    on /dev/null, and the panic's message goes into the line."""
    saved, null = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 2)
    try:
        yield
    except EncoderError:
        raise
    except BaseException as e:
        if not isinstance(e, Exception) and type(e).__name__ != "PanicException":
            raise  # KeyboardInterrupt, SystemExit
        raise EncoderError(f"{show(path)}: tokenizers {what} ({one_line(str(e), 120)}); {FIX}") from None
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(null)


def _readable(data: bytes) -> str:
    """UTF-8 bytes as text, a space as ␣, and a byte that is no whole character as <F0>."""
    text = data.decode("utf-8", "surrogateescape").replace(" ", "␣")
    return "".join(f"<{ord(c) - 0xDC00:02X}>" if "\udc80" <= c <= "\udcff" else c for c in text)


def _find(part: object, kind: str) -> dict[str, Any] | None:
    """The component of type `kind` in a tokenizer.json part, looking inside Sequences."""
    if isinstance(part, dict):
        if part.get("type") == kind:
            return part
        found = [_find(p, kind) for key in ("pretokenizers", "decoders", "processors") for p in part.get(key) or []]
        return next((f for f in found if f), None)
    return None


def _has(part: object, kind: str) -> bool:
    return _find(part, kind) is not None


# --- Reading the tokenizer files -------------------------------------------------------------------


def load(folder: Path, cls_sep: tuple[str, str]) -> Tokenizer:
    """tokenizer.json where there is one, else vocab.txt (the family's `cls_sep` around the sentence,
    unless tokenizer_config.json names others)."""
    if (folder / "tokenizer.json").exists():
        return from_tokenizer_json(folder)
    if (folder / "vocab.txt").exists():
        return from_vocab_txt(folder, cls_sep)
    for name in SENTENCEPIECE:
        if (folder / name).exists():
            raise EncoderError(
                f"{show(folder / name)}: a SentencePiece model, and this calculator reads tokenizer.json "
                "(converting it needs protobuf and transformers' code); on a machine with transformers and "
                "sentencepiece, run AutoTokenizer.from_pretrained(folder).save_pretrained(folder) to write it"
            )
    raise EncoderError(f"{show(folder)}: no tokenizer.json or vocab.txt; copy the model's tokenizer files into it")


def _config(folder: Path) -> dict[str, Any]:
    """tokenizer_config.json over special_tokens_map.json, where they are ({} where neither is)."""
    out: dict[str, Any] = {}
    for name in ("special_tokens_map.json", "tokenizer_config.json"):
        if (folder / name).exists():
            out |= read_json_object(folder / name, FIX, JSON_CAP)
    return out


def _special(folder: Path, config: dict[str, Any], keys: tuple[str, ...], default: str | None) -> str | None:
    """The first of tokenizer_config.json's `keys` given (a token, or {"content": token}), else `default`."""
    for key in keys:
        value = config.get(key)
        value = value.get("content") if isinstance(value, dict) else value
        if isinstance(value, str):
            return value
        if value is not None:
            where = show(folder / "tokenizer_config.json")
            raise EncoderError(f"{where}: {key} is {show(repr(value)[:40])}, expected a token; {FIX}")
    return default


def from_tokenizer_json(folder: Path) -> Tokenizer:
    path = folder / "tokenizer.json"
    text = read_text(path, BIG_JSON_CAP, FIX)
    with library(path, "cannot read it"):
        tokenizer = tokenizers.Tokenizer.from_str(text)
    data = json.loads(text)  # what the library read, so well formed
    model = data["model"]
    chars = model.get("max_input_chars_per_word") if model.get("type") == "WordPiece" else None
    if isinstance(chars, int) and chars > MAX_WORD_CHARS:  # a word's work grows with its length cubed
        raise EncoderError(
            f"{show(path)}: model.max_input_chars_per_word is {chars}, past the {MAX_WORD_CHARS} characters "
            "this calculator splits; set it to 100, as real models do"
        )
    template = _find(data.get("post_processor"), "TemplateProcessing")
    if template is not None and not any(item.get("Sequence", {}).get("id") == "A" for item in template["single"]):
        raise EncoderError(f"{show(path)}: post_processor.single has no $A, so the sentence would be left out; {FIX}")
    padding = data.get("padding") if isinstance(data.get("padding"), dict) else {}
    config = _config(folder)
    pad = _special(folder, config, ("pad_token",), padding.get("pad_token"))
    return Tokenizer(path, tokenizer, data, pad, _special(folder, config, ("mask_token",), None))


def read_vocab(path: Path) -> dict[str, int]:
    """vocab.txt: one token a line, its id its line number (read as transformers reads it)."""
    text = read_text(path, BIG_JSON_CAP, FIX).replace("\r\n", "\n").replace("\r", "\n")
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return {token: i for i, token in enumerate(lines)}


def from_vocab_txt(folder: Path, cls_sep: tuple[str, str]) -> Tokenizer:
    """vocab.txt with tokenizer_config.json's settings: the pipeline transformers' BertTokenizer builds."""
    from tokenizers import AddedToken, decoders, models, normalizers, pre_tokenizers, processors

    path, config_path = folder / "vocab.txt", folder / "tokenizer_config.json"
    vocab, config = read_vocab(path), _config(folder)
    unk = _special(folder, config, ("unk_token",), "[UNK]")
    cls = _special(folder, config, ("cls_token", "bos_token"), cls_sep[0])
    sep = _special(folder, config, ("sep_token", "eos_token"), cls_sep[1])
    specials = [_special(folder, config, (key,), None) for key in ("pad_token", "mask_token")]
    assert unk is not None and cls is not None and sep is not None  # (they have defaults)
    for token in (unk, cls, sep):
        if token not in vocab:
            raise EncoderError(f"{show(path)}: no {show(repr(token))} in the vocabulary; {FIX}")
    flags: dict[str, Any] = {}
    for key, default in (("do_lower_case", True), ("strip_accents", None), ("tokenize_chinese_chars", True)):
        value = config.get(key, default)
        if not (isinstance(value, bool) or value is default):
            raise EncoderError(f"{show(config_path)}: {key} is {show(repr(value)[:40])}, expected true or false; {FIX}")
        flags[key] = value
    decoder = config.get("added_tokens_decoder", {})
    if not isinstance(decoder, dict) or not all(isinstance(t, dict) and k.isdigit() for k, t in decoder.items()):
        raise EncoderError(f"{show(config_path)}: added_tokens_decoder is not a mapping of id -> token; {FIX}")
    tokenizer = tokenizers.Tokenizer(models.WordPiece(vocab, unk_token=unk, max_input_chars_per_word=100))
    tokenizer.normalizer = normalizers.BertNormalizer(
        clean_text=True,
        handle_chinese_chars=flags["tokenize_chinese_chars"],
        strip_accents=flags["strip_accents"],
        lowercase=flags["do_lower_case"],
    )
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.decoder = decoders.WordPiece()
    with library(config_path, "cannot take its added_tokens_decoder"):  # in id order, as transformers adds them
        for token in (decoder[key] for key in sorted(decoder, key=int)):
            options = {k: token[k] for k in ("lstrip", "rstrip", "single_word", "normalized") if k in token}
            tokenizer.add_tokens([AddedToken(token["content"], special=token.get("special", False), **options)])
    tokenizer.add_special_tokens([t for t in (unk, cls, sep, *specials) if t is not None])
    # transformers' BertTokenizer's pair, B of type 1; MPNetTokenizer's (<s> … </s>): <s> A </s></s> B </s>, all type 0
    pair = [cls, "$A", sep, sep, "$B", sep] if cls == "<s>" else [cls, "$A", sep, "$B:1", f"{sep}:1"]
    tokenizer.post_processor = processors.TemplateProcessing(
        single=[cls, "$A", sep], pair=pair, special_tokens=[(cls, vocab[cls]), (sep, vocab[sep])]
    )
    data = {"model": {"type": "WordPiece", "unk_token": unk, "continuing_subword_prefix": "##", "vocab": vocab}}
    pad, mask = specials
    return Tokenizer(path, tokenizer, data, pad, mask)
