"""Names: every way a learner names a step or a parameter, resolved in one place.

The learner's names are the seed's: X, PE, X', Q, K, V, W_Q, W_K, W_V, W_O, W_1, W_2,
softmax, scores, Attention. A name is, in this order:
1. an id: `layers.0.attention.heads.0.Q`, `layers.0.attention.W_Q`;
2. one of the seed's symbols or words (ALIASES: `X'` is `input`, `softmax` is `weights`);
3. the end of ids: `Q`, `heads.1.weights`, `norm_1.mean`, `ffn.W_1`;
each first as written, then without regard to case and underscores (`q`, `w_q`, `WQ`) where
that is unambiguous. A head's columns of W_Q (`heads.1.W_Q`) are named with their head.

`one` needs exactly one (--cell, check's answers, --blank, t[...]): `attention` there is the
attention output, and a name that matches several lists them. `many` selects (-s): a glob, or
a whole stage or scope (`attention`, `ffn`, `heads.1`, `layers.0`); it selects parameters
only when its last part names one (`W_Q`, `layers.0.*.W_1`), so `layers.0.*` keeps the steps.
An unknown name gets one did-you-mean, ranked by meaning (`query` is Q, `attention` the
weights) before spelling, at a bounded cost.
"""

from __future__ import annotations

import difflib
import fnmatch
import re
from collections import Counter
from collections.abc import Sequence
from functools import lru_cache
from typing import NoReturn

from encoder_cli.errors import EncoderError
from encoder_cli.settings import MAX_HELD
from encoder_cli.trace import Step, Trace, head_of, layer_of, plural

# The seed's symbols for the steps of stages 1 and 2.
SYMBOLS = {"embeddings": "X", "positional": "PE", "input": "X'"}
# The seed's symbols and words -> the end of an id they name.
ALIASES = {
    **{symbol: step_id for step_id, symbol in SYMBOLS.items()},
    "X′": "input",
    "softmax": "weights",
    "attention": "attention.output",  # as one step; as a selection, the whole stage
    "FFN": "ffn.output",
    "γ": "gamma",
    "β": "beta",
    "μ": "mean",
    "σ²": "variance",
}
# What a word means, for the did-you-mean: the names a learner was probably after.
MEANINGS = {
    "query": ("Q", "W_Q"),
    "key": ("K", "W_K"),
    "value": ("V", "W_V"),
    "attention": ("weights", "attention", "scores"),
    "attn": ("weights", "attention"),
    "probability": ("weights",),
    "prob": ("weights",),
    "logit": ("scores",),
    "score": ("scores", "scaled"),
    "embedding": ("X", "embeddings.table"),
    "embed": ("X",),
    "token": ("X",),
    "position": ("PE",),
    "positional": ("PE",),
    "pos": ("PE",),
    "sinusoid": ("PE",),
    "input": ("X'",),
    "layernorm": ("norm_1", "norm_2"),
    "norm": ("norm_1", "norm_2"),
    "ln": ("norm_1", "norm_2"),
    "normalisation": ("norm_1", "norm_2"),
    "normalization": ("norm_1", "norm_2"),
    "feedforward": ("ffn.output", "ffn.hidden"),
    "mlp": ("ffn.output", "ffn.hidden"),
    "relu": ("ffn.activation",),
    "gelu": ("ffn.activation",),
    "skip": ("residual_1", "residual_2"),
    "add": ("residual_1", "residual_2"),
    "weight": ("W_Q", "weights"),
    "bias": ("b_Q", "b_1"),
    "concatenate": ("concat",),
    "projection": ("W_O",),
    "scale": ("scaled",),
    "sqrt": ("scaled",),
    "average": ("mean",),
    "var": ("variance",),
    "gamma": ("gamma",),
    "beta": ("beta",),
}
# The names of parameters (the last part of their ids): a selection names one to show it.
# The last parts of parameter ids; the last three are the families' (ALBERT's and ELECTRA's projection, MPNet's bias).
PARAMETERS = ("W_Q", "W_K", "W_V", "W_O", "b_Q", "b_K", "b_V", "b_O", "W_1", "b_1", "W_2", "b_2", "gamma", "beta",
              "table", "W_P", "b_P", "relative_attention_bias")  # fmt: skip
HEADS = ("mlm", "classifier")  # the scopes of a task checkpoint's heads (tasks.py)
SUGGESTED_AMONG = 2000  # a did-you-mean compares the name with at most this many names
LONGEST = 200  # a name or pattern; ids are under 60 characters (a longer glob costs fnmatch quadratic time)
_HEAD_PART = re.compile(r"\.heads\.\d+\.")


def one(trace: Trace, name: str, *, parameters: bool = True, suggest: bool = True) -> Step:
    """The one step (or parameter) a name means; EncoderError naming the candidates or the nearest names."""
    _short_enough(name, None)
    found = _found(trace, name, parameters)
    if len(found) == 1:
        return _step(trace, found[0])
    if found:
        shown = ", ".join(found[:6]) + (", …" if len(found) > 6 else "")
        kinds = {"parameters" if x in trace.parameter_ids else "steps" for x in found}
        raise EncoderError(f"{quoted(name)} could be any of {len(found)} {' and '.join(sorted(kinds, reverse=True))} "
                           f"({shown}); write more of the id")  # fmt: skip
    _unknown(trace, name, parameters, suggest)


def select(trace: Trace, layer: int | None, head: int | None, patterns: Sequence[str]) -> list[Step]:
    """The steps a filter keeps, in order and unchanged, and the parameters its patterns name.

    layer: only that layer's steps, and the shared steps (outside every layer) that patterns name,
    such as MPNet's position bias or DeBERTa's relative positions, which every layer reads; head:
    no other head's steps; patterns: what each selects (see `many`). Parameters count toward the
    work bound: asking for too many is refused.
    """
    layers, heads = trace.model.layers, trace.model.heads
    if layer is not None and not 0 <= layer < layers:
        raise EncoderError(
            f"{layer}: the model has {plural(layers, 'layer')}, numbered 0 to {layers - 1}", argument="layer"
        )
    if head is not None and not 0 <= head < heads:
        raise EncoderError(f"{head}: the model has {plural(heads, 'head')}, numbered 0 to {heads - 1}", argument="head")
    chosen = set().union(*(many(trace, p, head) for p in patterns)) if patterns else set(trace.by_id)
    kept = [
        x for x in _shown(trace) if x in chosen and _kept(x, None if patterns and layer_of(x) is None else layer, head)
    ]
    if not kept:
        raise EncoderError("these filters together keep no step; loosen one of them")
    given(trace, [x for x in kept if x in trace.parameter_ids])  # within the work bound, or refused
    return [_step(trace, x) for x in kept]


def given(trace: Trace, ids: Sequence[str]) -> list[Step]:
    """These parameters as steps, read now: they count toward the work bound, and past it are refused."""
    size = {p.id: len(p.rows) * len(p.cols) for p in trace.parameters}
    read = sum(size[x] for x in trace.read)  # asked for before, and kept
    asked = sum(size[x] for x in set(ids) - set(trace.read))
    if trace.held + read + asked > MAX_HELD:
        raise EncoderError(
            f"these parameters hold {asked:,} numbers, past the {MAX_HELD:,} a run may hold with its steps; "
            "ask for fewer, with --layer or a narrower pattern",
            argument="step",
        )
    return [trace.given(x) for x in ids]


def many(trace: Trace, pattern: str, head: int | None = None) -> set[str]:
    """The ids a -s pattern selects: steps by a whole id or glob, an alias, the end of ids, or a
    scope (`attention`, `heads.1`, `layers.0`: everything under it); parameters only when the
    pattern's last part names one. With --head, a layer's W_Q means that head's columns."""
    _short_enough(pattern, "step")
    steps = _selected(pattern, [s.id for s in trace.steps], scopes=True)
    params: list[str] = []
    if _names_a_parameter(pattern):
        params = _selected(pattern, list(trace.parameter_ids), scopes=False)
        if head is not None and trace.model.heads > 1:  # --head 1 -s W_Q: head 1's columns of W_Q
            params = [_slice(x, head) if _slice(x, head) in trace.parameter_ids else x for x in params]
    if not steps and not params:  # a parameter this model has not is said so there
        _unknown(trace, pattern, True, True, argument="step")
    return {*steps, *params}


def _names_a_parameter(pattern: str, among: Sequence[str] = PARAMETERS) -> bool:
    """Whether a name's last part is one of these parameters' names or an alias of one, or a glob
    that matches one (W_*). `*` alone (layers.0.*) names no parameter: the steps stay as they were."""
    last = _last(pattern)
    return bool(re.sub(r"[*?\[\]]", "", last)) and any(fnmatch.fnmatchcase(_fold(p), _fold(last)) for p in among)


def _short_enough(name: str, argument: str | None) -> None:
    if len(name) > LONGEST:
        raise EncoderError(
            f"{quoted(name)} is {len(name):,} characters long; a name is at most {LONGEST}", argument=argument
        )


def quoted(name: str, room: int = 60) -> str:
    """A name as a message quotes it, cut short: 'layers.0.attention.heads.1.scroes', 'aaaa…' (5,000 characters)."""
    return repr(name) if len(name) <= room else f"{name[: room - 1]!r}… ({len(name):,} characters)"


def _kept(x: str, layer: int | None, head: int | None) -> bool:
    return (layer is None or layer_of(x) == layer) and (head is None or head_of(x) in (None, head))


def names(ids: tuple[str, ...]) -> dict[str, str]:
    """The name a student writes for each step, which every command also takes: the shortest
    end of its id that no other id ends with ('Q', 'norm_1.mean', 'heads.0.output'; in a model
    of two layers 'layers.1.attention.heads.0.Q'). An end starts at a name, not at a number."""
    return _names(ids)


@lru_cache(maxsize=4)
def _names(ids: tuple[str, ...]) -> dict[str, str]:
    ends = Counter(end for step_id in ids for end in _ends(step_id)[:-1])
    exact = set(ids)
    return {
        step_id: next(end for end in _ends(step_id) if end == step_id or (end not in exact and ends[end] == 1))
        for step_id in ids
    }


def name(trace: Trace, step_id: str) -> str:
    """A step's or parameter's name as a student writes it: the seed's symbol (X, PE, X'), else
    the shortest end of its id that no other id ends with (a parameter's among the parameters, a
    head's columns among the heads' columns: `W_Q`, `heads.1.W_Q`)."""
    if step_id in SYMBOLS:  # the seed's X, PE, X'
        return SYMBOLS[step_id]
    return _all_names(trace)[step_id]


def _all_names(trace: Trace) -> dict[str, str]:
    """Every step's and parameter's name, worked out once a trace (a parameter's among the
    parameters, a head's columns among the heads' columns)."""
    if "names" not in trace.memo:
        params = list(trace.parameter_ids)
        whole, heads = [p for p in params if not _is_slice(p)], [p for p in params if _is_slice(p)]
        trace.memo["names"] = {**names(tuple(trace.by_id)), **names(tuple(whole)), **names(tuple(heads))}
    known: dict[str, str] = trace.memo["names"]
    return known


# --- Finding ---------------------------------------------------------------------------


def _found(trace: Trace, name: str, parameters: bool) -> list[str]:
    """The ids a name means: as written first, then folded (case and underscores)."""
    ids = [s.id for s in trace.steps] + ([p.id for p in trace.parameters] if parameters else [])
    name = _last_unaliased(name)
    for fold in (False, True):
        key = _fold(name) if fold else name
        alias = {(_fold(a) if fold else a): e for a, e in ALIASES.items()}.get(key)
        for wanted in filter(None, (key, alias)):
            hits = [i for i in ids if (_fold(i) if fold else i) == wanted]
            if not hits:
                hits = [i for i in ids if _ends_with(i, wanted, fold) and ("heads" in wanted or not _is_slice(i))]
            if hits:
                return hits
    gap = _gapped(name)  # layers.1.W_Q: layer 1's W_Q, whatever lies between
    return _selected(gap, ids, scopes=False) if gap else []


def _selected(pattern: str, ids: Sequence[str], scopes: bool) -> list[str]:
    """Ids a pattern selects: as a whole id or glob, then as the end of ids, then (with scopes) as
    a scope, then as an alias; exact case first, then folded. A head's columns of a parameter
    only where the pattern says `heads`."""
    alias = _alias(pattern)
    pattern = _last_unaliased(pattern)
    globs = [pattern, "*." + pattern]
    globs += [pattern + ".*", "*." + pattern + ".*"] if scopes else []
    globs += [gap] if (gap := _gapped(pattern)) else []
    aliased = [alias, "*." + alias] if alias else []
    for group, fold in ((globs, False), (globs, True), (aliased, False)):  # `Attention` is still the stage
        for glob in group:
            g = _fold(glob) if fold else glob
            hits = [i for i in ids if fnmatch.fnmatchcase(_fold(i) if fold else i, g)]
            if "heads" not in _fold(pattern):
                hits = [i for i in hits if not _is_slice(i)]
            if hits:
                return hits
    return []


def _last_unaliased(name: str) -> str:
    """heads.1.softmax -> heads.1.weights, norm_1.γ -> norm_1.gamma: an alias as a dotted name's last part."""
    scope, dot, last = name.rpartition(".")
    alias = _alias(last) if dot else None
    return f"{scope}.{alias}" if alias else name


def _last(name: str) -> str:
    """A dotted name's last part, an alias read as what it means: norm_1.γ -> gamma."""
    last = name.rsplit(".", 1)[-1]
    return _alias(last) or last


def _alias(word: str) -> str | None:
    """What one of the seed's symbols or words means, regardless of case: Softmax -> weights."""
    return next((e for a, e in ALIASES.items() if _fold(a) == _fold(word)), None)


def _gapped(name: str) -> str | None:
    """layers.1.W_Q -> the glob layers.1.*.W_Q: a layer's step or parameter by its end."""
    match = re.fullmatch(r"(layers\.\d+)\.([^*?\[]+)", name, re.IGNORECASE)
    return f"{match[1]}.*.{match[2]}" if match else None


def _ends_with(step_id: str, end: str, fold: bool) -> bool:
    return (_fold(step_id) if fold else step_id).endswith("." + end)


def _is_slice(param_id: str) -> bool:
    """A head's columns of W_Q, W_K, W_V or their biases (`…heads.1.W_Q`)."""
    return bool(_HEAD_PART.search(param_id)) and param_id.rsplit(".", 1)[-1] in PARAMETERS


def _slice(param_id: str, head: int) -> str:
    """layers.0.attention.W_Q -> layers.0.attention.heads.1.W_Q."""
    scope, _, last = param_id.rpartition(".")
    return f"{scope}.heads.{head}.{last}"


def _stem(word: str) -> str:
    """A word without its plural: queries -> query, weights -> weight."""
    return word[:-3] + "y" if word.endswith("ies") else word[:-1] if word.endswith("s") and len(word) > 3 else word


def _fold(text: str) -> str:
    """A name without regard to case or underscores: W_Q, w_q and WQ are one."""
    return text.casefold().replace("_", "")


def _ends(step_id: str) -> list[str]:
    """'layers.0.norm_1' -> ['norm_1', 'layers.0.norm_1']: the ends of an id that start with a name. A task
    head's ids end nowhere short of the head (mlm.dense, classifier.dense): both heads have a dense, logits…"""
    parts = step_id.split(".")
    if parts[0] in HEADS:
        return [step_id]
    return [".".join(parts[k:]) for k in range(len(parts) - 1, -1, -1) if not parts[k].isdigit()]


def _shown(trace: Trace) -> list[str]:
    """Every id in the order views show them: each parameter just before the step that first uses it."""
    before: dict[str, list[str]] = {}
    for p in trace.parameters:
        before.setdefault(p.before, []).append(p.id)
    return [x for s in trace.steps for x in (*before.get(s.id, ()), s.id)]


def _step(trace: Trace, found: str) -> Step:
    return trace.by_id[found] if found in trace.by_id else given(trace, [found])[0]


# --- When nothing matches ---------------------------------------------------------------


def _missing_parameter(trace: Trace, name: str, argument: str | None) -> None:
    """A name of a parameter this model does not have (W_O, b_Q): said so. A parameter it has, named
    so that no id ends that way (layers.1.W_Q), falls through to the did-you-mean."""
    known = _parameter_names(trace)
    if _names_a_parameter(name, known):
        return
    last = _last(name)
    why = "its attention output is the heads' concat as it is" if last == "W_O" else "its weights do not hold one"
    raise EncoderError(
        f"{quoted(name)}: this model has no {last}: {why}; its parameters are {', '.join(known)}", argument=argument
    )


def _parameter_names(trace: Trace) -> list[str]:
    return sorted({p.rsplit(".", 1)[-1] for p in trace.parameter_ids}, key=str.casefold)


def _unknown(trace: Trace, name: str, parameters: bool, suggest: bool, argument: str | None = None) -> NoReturn:
    if not parameters and _found(trace, name, True):
        raise EncoderError(
            f"{quoted(name)} is a parameter of the model, given, not worked out; name a step that uses it, such as 'Q'",
            argument=argument,
        )
    if parameters and _names_a_parameter(name):
        _missing_parameter(trace, name, argument)
    what = "step or parameter" if parameters else "step"
    close = suggestions(trace, name, parameters) if suggest else []
    if close:
        hint = f"; did you mean {' or '.join(repr(c) for c in close)}?"
    else:
        hint = "; `encoder explain --overview` lists the steps"
    raise EncoderError(f"{quoted(name)} is not a {what}{hint}", argument=argument)


def suggestions(trace: Trace, name: str, parameters: bool = True, n: int = 3) -> list[str]:
    """The names nearest a name: by meaning first (the words it holds, `query` -> Q, and the words
    of the steps' titles), then by spelling; among at most SUGGESTED_AMONG names."""
    ids = ([s.id for s in trace.steps] + ([p.id for p in trace.parameters] if parameters else []))[:SUGGESTED_AMONG]
    shown = names(tuple(ids))
    scope, _, last = name[:100].rpartition(".")  # heads.1.scroes: the meaning is in its last part
    meant: list[str] = []
    if not scope:
        titles = [(s.id, {_stem(t) for t in re.findall(r"[a-z]+", s.title.casefold())}) for s in trace.steps[:500]]
        for word in [_stem(w) for w in re.findall(r"[a-z]+", last.casefold())][:8]:
            meant += [t for t in MEANINGS.get(word, ()) if t in ALIASES or _found(trace, t, parameters)]
            meant += [shown[i] for i, title in titles if word in title and len(word) > 2]
    ends = dict.fromkeys(end for i in ids for end in _ends(i))  # scores, heads.1.scores, ...: what -s takes
    spelt = difflib.get_close_matches(name[:100], [*ALIASES, *shown.values(), *ends], n=n, cutoff=0.6)
    return list(dict.fromkeys([*meant, *spelt]))[:n]
