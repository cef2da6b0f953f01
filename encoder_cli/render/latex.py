"""The LaTeX handout: a standalone article for pdflatex, with packages every TeX distribution
has (amsmath, geometry, fontenc, lmodern). Matrices are summarised or split to fit the page
(page.py); the characters beyond Latin that the tool writes (␣, Greek, ≤, ⊙, ᵀ…) are declared as
LaTeX symbols (_SYMBOLS), any other its fonts lack prints as its code point, [U+4E2D]. No line breaks after
a hyphen (\\exhyphenpenalty): in the worked arithmetic it is a minus sign, exp(-0.927)."""

from __future__ import annotations

import re

from encoder_cli.render import page, tex
from encoder_cli.trace import LABEL

_TEXT = {  # text mode: LaTeX's special characters, and the symbols of the worked arithmetic
    **tex.ESCAPED,
    "\\": r"\textbackslash{}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "-": "-{}",  # no -- or --- ligature: "--full" stays two hyphens
    "'": r"\textquotesingle{}",  # straight, as typed: 'The', not a curly quote
    "`": r"\textasciigrave{}",
    "×": r"$\times$",
    "²": r"\textsuperscript{2}",
    "³": r"\textsuperscript{3}",
    "…": r"\dots{}",
    "±": r"$\pm$",
    "·": r"\textperiodcentered{}",
}
# The characters beyond Latin in the tool's titles, worked cells and labels, which Latin Modern lacks:
# each declared (\DeclareUnicodeCharacter) as LaTeX that prints it, in text and in a label's \texttt alike.
_MATH = {  # in math mode: Greek, relations, ᵀ and subscripts, a tick and a cross (check's verdicts)
    "β": r"\beta", "γ": r"\gamma", "δ": r"\delta", "ε": r"\varepsilon", "θ": r"\theta", "μ": r"\mu", "π": r"\pi",
    "σ": r"\sigma", "φ": r"\phi", "Σ": r"\Sigma", "Φ": r"\Phi", "≤": r"\leq", "≥": r"\geq", "≈": r"\approx",
    "⊙": r"\odot", "→": r"\rightarrow", "∞": r"\infty", "√": r"\surd", "‖": r"\Vert", "⌊": r"\lfloor",
    "⌋": r"\rfloor", "⌈": r"\lceil", "⌉": r"\rceil", "⋯": r"\cdots", "⋮": r"\vdots", "⋱": r"\ddots", "ᵢ": r"_i",
    "ⱼ": r"_j", "ₖ": r"_k", "₂": r"_2", "ᵀ": r"^{\mathsf{T}}", "−": r"-", "′": r"'", "✓": r"\surd", "✗": r"\times",
}  # fmt: skip
_SYMBOLS = {"␣": r"\textvisiblespace{}", **{c: rf"\ensuremath{{{m}}}" for c, m in _MATH.items()}}  # ␣: ␣cat
_WORD = re.compile(r"(\s+)")
_LONG_WORD = 40  # characters (at most 10 pt each) that fit a line; a longer word may break anywhere

PREAMBLE = r"""\documentclass[a4paper,10pt]{article}
\usepackage[T1]{fontenc}
\usepackage{lmodern}
\usepackage{amsmath}
\usepackage[margin=20mm]{geometry}
\setlength{\parindent}{0pt}
\setlength{\parskip}{4pt}
\sloppy
\exhyphenpenalty=10000
"""


def text(s: str) -> str:
    """Plain text made safe for LaTeX's text mode."""
    return "".join(_word(w) for w in _WORD.split(s))


def _word(w: str) -> str:
    return (r"\allowbreak{}" if len(w) > _LONG_WORD else "").join(_TEXT.get(c, c) for c in w)


def render(p: page.Page, precision: int) -> str:
    out = [rf"{{\LARGE\bfseries {text(p.title)}\par}}", r"\bigskip"]
    out += [rf"\textbf{{{name}:}} {text(value)}\par" for name, value in p.facts]
    for start in range(0, len(p.overview), page.ROWS):  # --overview: a table a row per step, in parts a page holds
        out += [r"\medskip{\footnotesize\setlength{\tabcolsep}{3pt}\begin{tabular}{llrrrrl}"]
        out.append(r"step & title & shape & min & max & mean & first row \\ \hline")
        out += [_glance(g) for g in p.overview[start : start + page.ROWS]]
        out.append(r"\end{tabular}\par}")
    for section in p.sections:
        out += [rf"\section*{{{text(section.heading)}}}", rf"\emph{{{text(section.purpose)}}}"]
        for shown in section.steps:
            step = shown.step
            # the formula stays on the page of the matrix below it: no page break after its display
            out += [rf"\subsection*{{{text(step.title)}}}", r"\[", step.tex, r"\postdisplaypenalty=10000 \]"]
            for block in shown.blocks:
                if block.part:
                    out.append(rf"\emph{{{text(block.part)}}}")
                out += [r"\[", *tex.matrix(shown, block, precision), r"\]"]
            out.append(rf"{{\small\texttt{{{text(step.id)}}} \textperiodcentered{{}} {text(shown.caption)}\par}}")
            if shown.work is not None:
                out.append(rf"{{\small\itshape {text(shown.work)}\par}}")
    body = "\n".join(out)
    return PREAMBLE + _unicode(body) + "\\begin{document}\n" + body + "\n\\end{document}\n"


def _glance(g: page.Glance) -> str:
    """A step's row of the overview; its first row as bars (1 to 8 pt high), in place of colour."""
    strip = r"\hspace{0.5pt}".join(rf"\rule{{1.5pt}}{{{1 + 7 * level:.1f}pt}}" for level in g.strip)
    numbers = " & ".join(f"${n}$" for n in g.numbers)
    return rf"\texttt{{{text(g.step.id)}}} & {text(g.title)} & {text(g.shape)} & {numbers} & {strip} \\"


def width(label: str) -> int:
    """A row label's width in digits, each character the fonts lack printed as [U+4E2D] (a symbol, ␣δ, as
    one). Past trace.LABEL, where labels are cut, it stops counting: a 60,000-character token is measured
    once for each character cut off, and counted whole that is minutes."""
    total = 0
    for c in label:
        total += len(f"[U+{ord(c):04X}]") if _lacks(c) else 1
        if total > LABEL:
            break
    return total


def _lacks(char: str) -> bool:
    """Whether pdflatex's fonts (T1, Latin Modern) lack a character: all beyond Latin (Greek,
    CJK, emoji…) but the punctuation of U+2010–U+2027 (dashes, quotes, bullet, ellipsis) and the _SYMBOLS."""
    return ord(char) >= 0x370 and not 0x2010 <= ord(char) <= 0x2027 and char not in _SYMBOLS


def _unicode(body: str) -> str:
    """Declarations for the characters beyond Latin (Greek, CJK, emoji…) that pdflatex's fonts lack: a symbol
    for those the tool writes, the code point for the rest."""
    declared = [(c, _SYMBOLS[c]) for c in sorted(set(body) & _SYMBOLS.keys())]
    declared += [(c, rf"\texttt{{[U+{ord(c):04X}]}}\allowbreak") for c in sorted(set(filter(_lacks, body)))]
    return "".join(rf"\DeclareUnicodeCharacter{{{ord(c):04X}}}{{{latex}}}" + "\n" for c, latex in declared)
