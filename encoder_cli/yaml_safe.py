"""YAML as the weights file and the answers file read it: the safe loader (libyaml's C parser
when PyYAML has it), and PyYAML's complaints turned into one line naming the file and line."""

from __future__ import annotations

import yaml

from encoder_cli.errors import EncoderError

try:
    from yaml import CSafeLoader as _Loader

    _LIBYAML = True
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

    _LIBYAML = False
Loader = _Loader  # the loader of weights files and answers files


def yaml_error(source: str, e: yaml.YAMLError, text: str | None = None) -> EncoderError:
    """PyYAML's complaint as one line: `w.yaml:3: not valid YAML: found undefined alias`; with
    the text, the line of a character YAML does not allow (a control character, U+FFFE)."""
    if isinstance(e, yaml.MarkedYAMLError):
        mark = e.problem_mark or e.context_mark
        line = f":{mark.line + 1}" if mark else ""
        return EncoderError(f"{source}{line}: not valid YAML: {e.problem or e.context or 'unreadable'}")
    if isinstance(e, yaml.reader.ReaderError):
        # libyaml counts the position in bytes of UTF-8, PyYAML's own reader in characters
        line = ""
        if text is not None:
            breaks = text.encode()[: e.position].count(b"\n") if _LIBYAML else text[: e.position].count("\n")
            line = f":{breaks + 1}"
        char = f"U+{e.character:04X}" if isinstance(e.character, int) else repr(e.character)
        return EncoderError(f"{source}{line}: not valid YAML: the character {char} is not allowed in YAML; remove it")
    return EncoderError(f"{source}: not valid YAML: {' '.join(str(e).split())}")
