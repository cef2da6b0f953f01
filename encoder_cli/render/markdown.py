"""The Markdown handout, in the seed's own style: text, $$ LaTeX $$ formulas and bmatrix
matrices, as GitHub and Jupyter render them (MathJax). Tokens, ids and worked arithmetic are
code spans, which neither renderer reads as Markdown or math."""

from __future__ import annotations

import re

from encoder_cli.render import fmt, page, tex

_MARKUP = re.compile(r"([\\`*_\[\]<>#$|~])")
width = len  # how wide a row label prints, in digits: a character each


def render(p: page.Page, precision: int) -> str:
    out = [f"# {_text(p.title)}", ""]
    out += [f"- **{name}:** {_code(value) if name == 'Sentence' else _text(value)}" for name, value in p.facts]
    if p.overview:  # a table, a row per step
        out += ["", "| step | title | shape | min | max | mean | first row |", "|:--|:--|--:|--:|--:|--:|:--|"]
        for g in p.overview:
            strip = _code("".join(map(fmt.spark, g.strip)))
            out.append(f"| {_code(g.step.id)} | {_text(g.title)} | {g.shape} | {' | '.join(g.numbers)} | {strip} |")
    for section in p.sections:
        out += ["", f"## {_text(section.heading)}", "", f"*{_text(section.purpose)}*"]
        for shown in section.steps:
            step = shown.step
            out += ["", f"### {_text(step.title)}", "", "$$", step.tex, "$$"]
            for block in shown.blocks:
                if block.part:
                    out += ["", f"*{_text(block.part)}*"]
                out += ["", "$$", *tex.matrix(shown, block, precision), "$$"]
            out += ["", f"{_code(step.id)} · {_text(shown.caption)}"]
            if shown.work is not None:
                out += ["", _code(shown.work)]
    return "\n".join(out) + "\n"


def _text(s: str) -> str:
    """Text with Markdown's (and the math renderers') special characters escaped."""
    return _MARKUP.sub(r"\\\1", s)


def _code(s: str) -> str:
    """A code span that holds any text: fenced by more backticks than it contains in a row."""
    fence = "`" * (max(map(len, re.findall("`+", s)), default=0) + 1)
    pad = " " if s.startswith("`") or s.endswith("`") else ""
    return f"{fence}{pad}{s}{pad}{fence}"
