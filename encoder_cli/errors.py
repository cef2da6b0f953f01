"""The one user-facing error: bad input. The command line turns it into one line and exit status 2."""

from __future__ import annotations

import re

Place = tuple[str | int, ...]


class EncoderError(Exception):
    """A problem with what the user gave (weights, sentence, options, answers), never a bug.

    The message says what is wrong and, where there is one, the fix. `place` is where in the
    weights the problem is (`("layers", 0, "attention", "W_Q")`; `()` is the file itself,
    None no place in it): the reader of a file turns it into the file's name and line.
    `argument` names the argument at fault (`layer`), which the command line writes as its
    flag (`--layer`). `source` is the file whose place the message names, once it does.
    """

    def __init__(
        self, message: str, *, place: Place | None = None, argument: str | None = None, source: str | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.place = place
        self.argument = argument
        self.source = source

    def __str__(self) -> str:
        return place_text(self.place or ()) + (f"{self.argument} " if self.argument else "") + self.message


def place_text(place: Place) -> str:
    """('layers', 0, 'attention', 'W_Q') -> 'layers[0].attention.W_Q: ' ('' for no place)."""
    text = ""
    for part in place:
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else str(part)
    return f"{text}: " if text else ""


# What must never reach a terminal raw from what the user gave (a key, a file name, a token):
# control characters (ESC, BEL, newlines), line and paragraph separators, the bidirectional
# overrides, and the lone surrogates of bytes that were not UTF-8.
# (Compiled on first use, by re's cache: most runs never need it.)
_UNSAFE = "[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]"


def printable(text: str) -> str:
    """The text with what must not reach a terminal escaped as Python writes it (`a\\nb`,
    `\\x1b[31m`, `\\u202e`), and every other character, accents, CJK and emoji, as it is."""
    if text.isprintable():  # none of them (isprintable is False for each), the common case
        return text
    return re.sub(_UNSAFE, lambda m: m[0].encode("unicode_escape", "backslashreplace").decode("ascii"), text)


def show(text: object) -> str:
    """A name from a user or a file (a path, a key) for a one-line message: as is if printable,
    else its repr, quoted, so that the message names it unambiguously (`'a\\nb'`)."""
    s = str(text)
    return s if s.isprintable() else repr(s)


def utf8(text: str, what: str) -> str:
    """Text that a file or a terminal can hold: the command line keeps bytes that are not UTF-8
    as lone surrogates (U+DC80 to U+DCFF), and a Python string may hold any surrogate, which no
    output could write."""
    bad = re.search("[\ud800-\udfff]", text)
    if bad:
        byte = ord(bad[0]) - 0xDC00 if "\udc80" <= bad[0] <= "\udcff" else None
        found = f" (the byte 0x{byte:02x})" if byte is not None else f" (the lone surrogate U+{ord(bad[0]):04X})"
        raise EncoderError(f"{what} is not valid UTF-8{found}; give it as UTF-8 text")
    return text
