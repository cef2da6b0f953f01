"""The HTML handout: one self-contained page (no scripts, no fonts or styles fetched), readable
on screen and printable on A4. Matrices are tables labelled by token, summarised or split to
fit the page (page.py); the attention weights are a viridis heatmap, on paper too."""

from __future__ import annotations

import re
from html import escape

from encoder_cli.render import fmt, page
from encoder_cli.trace import MarkKind

width = len  # how wide a row label prints, in digits: a character each (1ch)
_SUBSCRIPT = re.compile(r"\b([A-Za-z]+)_([A-Za-z0-9]+)\b")  # W_Q, d_k, b_1, head_0

# Every rule is under ROOT: `body` on the page, the fragment's own class in a notebook, so
# that the fragment's styles touch nothing else on the page it is shown in.
STYLE = """
ROOT { color-scheme: light; --ink: #1b1b1f; --muted: #5d5d68; --rule: #d6d6de; --accent: #2a5a8c;
  margin: 0 auto; max-width: 46rem; padding: 1.5rem 1rem 3rem; color: var(--ink); background: #fff;
  font: 15px/1.45 "DejaVu Serif", "Georgia", "Times New Roman", serif; }
ROOT * { box-sizing: border-box; }
ROOT h1 { font-size: 1.6rem; margin: 0 0 .6rem; }
ROOT h2 { font-size: 1.2rem; margin: 2rem 0 .2rem; padding-bottom: .2rem; border-bottom: 1px solid var(--rule);
  color: var(--accent); }
ROOT h3 { font-size: 1rem; margin: 0 0 .2rem; }
ROOT .facts { display: grid; grid-template-columns: max-content 1fr; gap: .1rem 1rem; margin: 0; }
ROOT .facts dt { font-weight: bold; }
ROOT .facts dd { margin: 0; overflow-wrap: anywhere; }
ROOT .purpose { margin: .2rem 0 .8rem; color: var(--muted); font-style: italic; }
ROOT .step { margin: 0 0 1.4rem; }
ROOT .formula { margin: .1rem 0 .5rem; font-style: italic; }
ROOT table.matrix { border-collapse: collapse; margin: .3rem 0;
  font: 12px/1.5 "DejaVu Sans Mono", "Menlo", "Consolas", "Liberation Mono", monospace; }
ROOT .matrix th, ROOT .matrix td { padding: .1rem .45rem; text-align: right; white-space: nowrap; }
ROOT .matrix thead th { color: var(--muted); font-weight: normal; border-bottom: 1px solid var(--ink); }
ROOT .matrix tbody th { text-align: left; font-weight: bold; border-right: 1px solid var(--ink); }
ROOT .heat { print-color-adjust: exact; -webkit-print-color-adjust: exact; }  /* printed, even without backgrounds */
ROOT .part { margin: .6rem 0 0; font-style: italic; color: var(--muted); }
ROOT .meta { margin: 0; color: var(--muted); font-size: .85rem; }
ROOT .meta code { color: #2e6b34; }
ROOT .work { margin: .2rem 0 0; font-size: .85rem; font-style: italic; overflow-wrap: anywhere; }
ROOT td.blank, ROOT td.key { padding: .1rem calc(.2rem - 1px) .1rem .2rem; }  /* the box's digits under the column's */
ROOT .box { display: inline-block; width: calc(var(--digits) * 1ch + .5rem + 2px); padding: 0 .25rem;
  border: 1px solid var(--ink); vertical-align: middle; }  /* --digits: set for the page by _style */
ROOT .box .n { font-size: .7em; color: var(--muted); vertical-align: bottom; }
ROOT table.overview { border-collapse: collapse; margin: .8rem 0; font-size: .85rem; }
ROOT .overview th, ROOT .overview td { padding: .05rem .4rem; text-align: right; vertical-align: top; }
ROOT .overview td:nth-child(-n+2), ROOT .overview th:nth-child(-n+2) { text-align: left; }
ROOT .overview td:nth-child(n+3) { white-space: nowrap;
  font-family: "DejaVu Sans Mono", "Menlo", "Consolas", "Liberation Mono", monospace; }
ROOT .overview thead th { color: var(--muted); font-weight: normal; border-bottom: 1px solid var(--ink); }
ROOT .overview td.strip { text-align: left; }
ROOT .strip span { display: inline-block; width: 5px; height: .9em; vertical-align: middle; }
ROOT code { font-family: "DejaVu Sans Mono", "Menlo", "Consolas", "Liberation Mono", monospace; }
"""
PRINT = """@media print {
  @page { size: A4; margin: 14mm; }
  body { max-width: none; padding: 0; font-size: 10pt; }
  h2, .purpose, h3, .formula, .part { break-after: avoid; }
  .step { break-inside: avoid; }
  table.matrix { font-size: 8.5pt; }
}
"""
FRAGMENT = "encoder-cli"  # the class of the fragment's root


def render(p: page.Page, precision: int) -> str:
    """The handout: a whole page."""
    head = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        '<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(p.title)}: {escape(p.facts[0][1][:80])}</title>",
        f"<style>{_style(p, precision, 'body')}{PRINT}</style></head>",
        "<body>",
    ]
    return "\n".join([*head, *_body(p, precision), "</body>", "</html>", ""])


def fragment(p: page.Page, precision: int) -> str:
    """The same as a fragment to put in another page (Jupyter): a div with its own scoped styles."""
    style = _style(p, precision, f".{FRAGMENT}")
    return "\n".join([f'<div class="{FRAGMENT}"><style>{style}</style>', *_body(p, precision), "</div>"])


def _style(p: page.Page, precision: int, root: str) -> str:
    """STYLE under root, its boxes all as wide as the widest number they may hold: -8.000 (at
    precision 3) as in the LaTeX, or a wider answer (18.191 has room in the sheet and the key)."""
    answers = [
        fmt.number(float(shown.step.value[cell]), precision)
        for section in p.sections
        for shown in section.steps
        for cell, mark in (shown.marks or {}).items()
        if mark.kind not in (MarkKind.out, MarkKind.given)
    ]
    digits = max(map(len, [*answers, fmt.number(-8.0, precision)]))
    return STYLE.replace("ROOT", root) + f"{root} {{ --digits: {digits}; }}\n"


def _body(p: page.Page, precision: int) -> list[str]:
    facts = "".join(f"<dt>{escape(name)}</dt><dd>{escape(value)}</dd>" for name, value in p.facts)
    out = [f'<header><h1>{escape(p.title)}</h1><dl class="facts">{facts}</dl></header>']
    if p.overview:  # a table, a row per step
        head = "".join(f'<th scope="col">{name}</th>' for name in ("step", "title", "shape", "min", "max", "mean"))
        out += ['<table class="overview">', f'<thead><tr>{head}<th scope="col">first row</th></tr></thead><tbody>']
        out += [_glance(g) for g in p.overview]
        out.append("</tbody></table>")
    for section in p.sections:
        out += ["<section>", f"<h2>{escape(section.heading)}</h2>", f'<p class="purpose">{escape(section.purpose)}</p>']
        for shown in section.steps:
            step = shown.step
            formula = _SUBSCRIPT.sub(r"\1<sub>\2</sub>", escape(step.formula))
            out += [f'<div class="step" id="{escape(step.id)}">', f"<h3>{escape(step.title)}</h3>"]
            out.append(f'<p class="formula">{formula}</p>')
            for block in shown.blocks:
                if block.part:
                    out.append(f'<p class="part">{escape(block.part)}</p>')
                out.append(_table(shown, block, precision))
            out.append(f'<p class="meta"><code>{escape(step.id)}</code> · {escape(shown.caption)}</p>')
            if shown.work is not None:
                out.append(f'<p class="work">{escape(shown.work)}</p>')
            out.append("</div>")
        out.append("</section>")
    return out


def _glance(g: page.Glance) -> str:
    """A step's row of the overview: its id (which may break after a dot), and its first row
    as a heat strip."""
    name = escape(g.step.id).replace(".", ".<wbr>")
    numbers = "".join(f"<td>{n}</td>" for n in g.numbers)
    strip = "".join(f'<span style="background:#{_hex(fmt.heat(level)[0])}"></span>' for level in g.strip)
    cells = f"<td><code>{name}</code></td><td>{escape(g.title)}</td><td>{escape(g.shape)}</td>{numbers}"
    return f'<tr>{cells}<td class="strip heat">{strip}</td></tr>'


def _hex(rgb: tuple[int, int, int]) -> str:
    return "{:02x}{:02x}{:02x}".format(*rgb)


def _table(shown: page.Shown, block: page.Block, precision: int) -> str:
    head = "".join(f'<th scope="col">{"⋯" if j is None else escape(shown.cols[j])}</th>' for j in block.cols)
    body = []
    for i in block.rows:
        label = "⋮" if i is None else escape(shown.rows[i])
        cells = "".join(_td(shown, i, j, precision) for j in block.cols)
        body.append(f'<tr><th scope="row">{label}</th>{cells}</tr>')
    return f'<table class="matrix"><thead><tr><th></th>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'


def _td(shown: page.Shown, i: int | None, j: int | None, precision: int) -> str:
    if i is None or j is None:  # the rows or columns left out, as in the LaTeX: ⋮ ⋯ ⋱
        return f"<td>{'⋱' if i is None and j is None else '⋮' if i is None else '⋯'}</td>"
    step = shown.step
    v = float(step.value[i, j])
    mark = (shown.marks or {}).get((i, j))
    if (
        mark is not None and mark.kind != MarkKind.given
    ):  # a worksheet: a numbered blank box, its answer in the key, left out, or same as blank n
        kind, n = mark
        text = {MarkKind.blank: f'<span class="n">{n}</span>', MarkKind.key: fmt.number(v, precision)}.get(kind)
        box = "" if text is None else f'<span class="box">{text}</span>'  # a blank's box, drawn as wide as any
        return f'<td class="{kind.value}">{f"=[{n}]" if kind == MarkKind.same else box}</td>'
    if not step.op.heatmap:
        return f"<td>{fmt.number(v, precision)}</td>"
    rgb, black = fmt.heat(step.op.level(v))
    ink = "#000" if black else "#fff"
    return f'<td class="heat" style="background:#{_hex(rgb)};color:{ink}">{fmt.number(v, precision)}</td>'
