"""The command line: parse, call the core, pick a renderer, print, turn EncoderError into exit 2.

Data goes to stdout, messages to stderr, each message one line (`_say`). numpy, yaml and
rich are imported inside the commands so that --help and --version stay fast.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from collections.abc import Sequence
from enum import Enum, IntEnum
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated, Any, Literal, NoReturn

import typer
from typer.core import TyperGroup

from encoder_cli import __version__, settings
from encoder_cli._click import Context, NoArgsIsHelpError, ParameterSource, UsageError
from encoder_cli.errors import EncoderError, printable
from encoder_cli.errors import utf8 as _utf8
from encoder_cli.render import views
from encoder_cli.settings import EXAMPLE_SENTENCE, Activation, Norm, Options, Positional

if TYPE_CHECKING:
    from encoder_cli import grading
    from encoder_cli.trace import Trace

    ExplainFormat = str
    SheetFormat = str
else:  # --format's choices, from the table of formats
    ExplainFormat, SheetFormat = Literal[views.names()], Literal[views.names(sheet=True)]

EXAMPLE_FILE = "the-cat-sat.yaml"


class Predict(str, Enum):
    """explain --predict: which positions a masked-LM head predicts."""

    masks = "masks"
    all = "all"


class Exit(IntEnum):
    OK = 0  # done; check: every answer right
    WRONG = 1  # check: some answer is wrong
    BAD_INPUT = 2  # bad input or usage
    INTERRUPTED = 130  # Ctrl-C (128 + SIGINT)
    BROKEN_PIPE = 141  # the reader of stdout went away (128 + SIGPIPE), as coreutils report it
    TERMINATED = 143  # SIGTERM (128 + 15)


class _Commands(TyperGroup):
    """Click's group, with this tool's conventions at its edge: a usage error is one line
    ending with the help to read, exit 2; a closed pipe on stdout ends the run quietly with
    141, whatever the command."""

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        try:
            code = super().main(args, prog_name, complete_var, False, windows_expand_args, **extra)
        except NoArgsIsHelpError as e:  # `encoder` alone: the help
            e.show()
            code = Exit.BAD_INPUT
        except UsageError as e:
            command = e.ctx.command_path if e.ctx is not None else "encoder"
            given = sys.argv[1:2] if args is None else list(args)[:1]
            if (e.ctx is None or e.ctx.command is self) and given and given[0] in self.commands:
                command += f" {given[0]}"  # an option's missing value is the group's error, but the command's
            message = e.format_message().rstrip(".")
            if message.startswith("Got unexpected extra argument"):  # a sentence of several words, unquoted
                message += f': quote a sentence of several words, as in "{EXAMPLE_SENTENCE}"'
            _say(f"error: {message} (see '{command} --help')")
            code = Exit.BAD_INPUT
        except typer.Abort:
            code = Exit.INTERRUPTED
        if not standalone_mode:
            return code
        sys.exit(code or Exit.OK)

    def invoke(self, ctx: Context) -> Any:
        try:
            return super().invoke(ctx)
        except BrokenPipeError:
            # Later writes and the flush at exit go nowhere, rather than failing again.
            devnull = os.open(os.devnull, os.O_WRONLY)
            with contextlib.suppress(OSError, ValueError):  # a stdout without a descriptor (tests)
                os.dup2(devnull, sys.stdout.fileno())
            return Exit.BROKEN_PIPE


app = typer.Typer(
    name="encoder",
    cls=_Commands,
    help="Run a Transformer encoder step by step and show every intermediate matrix.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,  # help texts hold [n, d] and the like, not markup
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


Sentence = Annotated[
    str | None,
    typer.Argument(
        help="The sentence to encode. Without it, the weights file's own 'sentence:' (stderr says so); "
        f'without --weights, "{EXAMPLE_SENTENCE}", the worked example this tool is built around (d_model 4, '
        "one head, one layer), whose weights ship with it "
        f"('encoder init --example -o {EXAMPLE_FILE}' writes them out).",
        metavar="SENTENCE",
        show_default=False,
    ),
]
SentenceB = Annotated[
    str | None,
    typer.Argument(
        help="A second sentence, with --model: the pair, as the checkpoint's tokenizer encodes it "
        "([CLS] A [SEP] B [SEP], B of token type 1, in BERT; <s> A </s></s> B </s> in RoBERTa).",
        metavar="SENTENCE_B",
        show_default=False,
    ),
]
Weights = Annotated[
    str | None,
    typer.Option(
        "--weights",
        "-w",
        metavar="FILE",
        help="YAML weights file, format 1 (docs/weights-format.md); '-' reads it from stdin. "
        f'Default: the built-in example\'s ("{EXAMPLE_SENTENCE}", d_model 4, one head, one layer).',
        show_default=False,
    ),
]
ModelOption = Annotated[
    str | None,
    typer.Option(
        "--model",
        "-m",
        metavar="DIR|ORG/NAME",
        help="A pretrained encoder instead of --weights (BERT, RoBERTa, XLM-RoBERTa, CamemBERT, DistilBERT, ALBERT, "
        "ELECTRA, MPNet, ModernBERT or DeBERTa-v2/v3): a folder in Hugging Face's layout "
        "(config.json, model.safetensors, tokenizer.json or vocab.txt), or a model id (org/name) from the "
        "Hugging Face cache, downloaded there when missing unless HF_HUB_OFFLINE=1.",
        show_default=False,
    ),
]
Precision = Annotated[
    int, typer.Option("--precision", "-p", min=0, max=15, help="Decimals shown (JSON always has full precision).")
]
Full = Annotated[
    bool,
    typer.Option("--full", help="Show every row and column, however large (handouts split wide matrices into parts)."),
]
NoColor = Annotated[
    bool,
    typer.Option(
        "--no-color",
        help="No colour (also when the NO_COLOR variable is set). Colour is on for a terminal only; "
        "FORCE_COLOR=1 keeps it through a pipe, e.g. FORCE_COLOR=1 encoder explain | less -R.",
    ),
]


def _steps(help: str) -> Any:
    """-s/--step PATTERN, explain's and worksheet's (names.py resolves it)."""
    return typer.Option("--step", "-s", metavar="PATTERN", help=help, show_default=False)


def _decimals(help: str) -> Any:
    """--decimals N, worksheet's and check's: 0 to 15, as many as a float64 holds after the point."""
    return typer.Option(min=0, max=15, metavar="N", help=help, show_default=False)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"encoder-cli {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit.")
    ] = False,
) -> None:
    """Run a Transformer encoder step by step and show every intermediate matrix.

    The weights file format and the JSON output are described in docs/weights-format.md and docs/json-output.md.
    """


@app.command(no_args_is_help=False)
def explain(
    sentence: Sentence = None,
    sentence_b: SentenceB = None,
    weights: Weights = None,
    model: ModelOption = None,
    format: Annotated[
        ExplainFormat,
        typer.Option(
            "--format",
            "-f",
            help="terminal: Rich tables; json: one JSON document; svg: the terminal view as a picture, for slides; "
            "markdown, latex, html: a handout (Markdown with $$ LaTeX $$, a pdflatex document, a page to print); "
            "safetensors: every step as a tensor; xlsx: a live workbook, every computed cell a formula (-o FILE).",
        ),
    ] = "terminal",
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", metavar="FILE", help="Write to FILE (replacing it) instead of stdout.", show_default=False
        ),
    ] = None,
    layer: Annotated[
        int | None,
        typer.Option(
            help="Show only this layer's steps (layers count from 0), and steps outside the layers that --step names.",
            show_default=False,
        ),
    ] = None,
    head: Annotated[
        int | None, typer.Option(help="Show no other head's steps (heads count from 0).", show_default=False)
    ] = None,
    step: Annotated[
        list[str] | None,
        _steps(
            "Show only these steps: an id ('input'), a learner's name ('PE', \"X'\", 'softmax'), "
            "the end of ids ('weights', 'heads.1.Q'), a stage ('attention', 'ffn', 'heads.1') or a glob "
            "('layers.*.norm_2'); a parameter's name ('W_Q', 'b_1', 'gamma') shows that parameter. "
            "Repeat to show more."
        ),
    ] = None,
    cell: Annotated[
        list[str] | None,
        typer.Option(
            "--cell",
            "-c",
            metavar="STEP[ROW,COL]",
            help="Show only how these cells are worked out, e.g. 'Q[0,0]', 'weights[cat,sat]', "
            "'layers.0.norm_1[The,d2]'. Rows: position or token; columns: index or label. Repeat for more.",
            show_default=False,
        ),
    ] = None,
    show_work: Annotated[bool, typer.Option("--show-work", help="Under every table, work out its first cell.")] = False,
    precision: Precision = 3,
    full: Full = False,
    overview: Annotated[
        bool,
        typer.Option(
            "--overview",
            help="One line per step instead of its matrix: id, title, shape, min, max, mean and its first row "
            "as a heat strip, to find the step to ask for with --step (not with -f json, which holds it all).",
        ),
    ] = False,
    no_color: NoColor = False,
    predict: Annotated[
        Predict,
        typer.Option(
            help="With a masked-LM checkpoint: predict the words of the mask tokens ([MASK], <mask>), "
            "or of every position (all)."
        ),
    ] = Predict.masks,
    top: Annotated[
        int,
        typer.Option(
            min=1, metavar="K", help="Words shown of each predicted position (JSON and --full keep every word)."
        ),
    ] = 5,
) -> None:
    """Run the encoder on SENTENCE and show every intermediate matrix.

    The terminal view follows the six steps of the encoder as the worked example
    "The cat sat" teaches them: embeddings, positional encoding, Q/K/V, scores,
    softmax weights and weighted sums per head, Add & Norm, FFN, Add & Norm, for
    every layer. Each table shows its formula, shape and step id; step ids are the
    ones of the JSON output and of --step.

    \b
    The weights file (YAML, format 1; docs/weights-format.md tells the whole story):
      format: 1                            optional
      model:                               every key optional:
        heads: 1                             must divide d_model
        positional: sinusoidal               or table, none
        positional_base: 10000               sinusoidal only
        norm: post                           or pre
        activation: relu                     or gelu, gelu_tanh
        layer_norm_eps: 1e-5
        lowercase: false                     fold sentence and vocabulary
      embeddings: {The: [0.2, 0.4, 0.8, 0.6], ...}   d_model = their length;
                                           an "[UNK]" entry stands in for unknown words
      positional_table: [[...], ...]       one row per position, with positional: table
      embedding_norm: {gamma, beta}        optional LayerNorm of X' (BERT)
      layers:                              one entry per layer:
        - attention: {W_Q, W_K, W_V}       d_model x d_model each, or
                     heads: [{W_Q, W_K, W_V}, ...]   d_model x d_k each, one per head
                     W_O, b_Q, b_K, b_V, b_O          optional (absent: none)
          norm_1: {gamma, beta}            optional (absent: 1 and 0)
          ffn: {W_1, b_1, W_2, b_2}        d_model x d_ff, d_ff, d_ff x d_model, d_model
          norm_2: {gamma, beta}            optional
      final_norm: {gamma, beta}            optional
    Rows are tokens: every product is x W with W stored (inputs x outputs); head h
    owns columns h*d_k ... (h+1)*d_k - 1; scores are divided by sqrt(d_k); LayerNorm
    uses the population variance; all numbers are float64.
    """
    from encoder_cli import address, names, trace
    from encoder_cli.output import writing

    view = views.VIEWS[format]
    try:
        result, inputs = _run(sentence, weights, model, sentence_b, predict is Predict.all)
        steps = names.select(result, layer, head, [_utf8(p, "--step") for p in step or []])
        if overview and view.needs is views.Needs.STEPS:
            raise EncoderError("is for reading; a JSON reader filters the document itself: drop --overview, "
                               "or keep steps with --step", argument="overview")  # fmt: skip
        if overview and (cell or full or show_work):
            given = "--cell" if cell else "--full" if full else "--show-work"
            raise EncoderError(f"shows no matrix for {given} to act on; drop one of them", argument="overview")
        if full and view.needs is not views.Needs.STEPS:
            fewer = "keep fewer steps with --layer, --head or --step, or use -f json"
            steps = trace.printed_whole(steps, "full", fewer)
        texts = [_utf8(text, "--cell") for text in cell or []]
        try:
            cells = [address.cell(result, text) for text in texts]
        except EncoderError as e:
            raise EncoderError(e.message, argument="cell") from None  # --cell 'Q[dog,d0]': no row 'dog'
        if cells and view.cells is None:
            raise EncoderError(
                f"--cell writes text or JSON; drop --format {format}, or use --show-work to work cells out in it"
            )
        with writing(output, inputs) as out:
            if cells and view.cells is not None:  # None: refused above
                from encoder_cli.render import work

                out.write(view.cells(result, [work.cell(result, s, i, j, precision) for s, i, j in cells]))
            else:
                if view.note is not None and (note := view.note(steps)):
                    _say(note)
                job = views.Job(result, steps, precision, full, show_work, overview, no_color=no_color, top=top,
                                about=_made_from(weights, model))  # fmt: skip
                views.write(format, job, out)
    except EncoderError as e:
        _fail(e)


Output = Annotated[
    Path | None,
    typer.Option(
        "--output", "-o", metavar="FILE", help="Write to FILE (replacing it) instead of stdout.", show_default=False
    ),
]
ShowWork = Annotated[bool, typer.Option("--show-work", help="Under every table, work out its first cell.")]
CompareFormat = Literal["terminal", "json", "markdown", "latex", "html"]  # what render/comparison.write writes


@app.command()
def compare(
    sentence_a: Annotated[str, typer.Argument(metavar="A", help="The first sentence.", show_default=False)],
    sentence_b: Annotated[str, typer.Argument(metavar="B", help="The second sentence.", show_default=False)],
    weights: Weights = None,
    model: ModelOption = None,
    format: Annotated[
        CompareFormat,
        typer.Option("--format", "-f", help="terminal; json (both traces, the steps, the cosine); a handout."),
    ] = "terminal",
    output: Output = None,
    layer: Annotated[
        int | None, typer.Option(help="Also show this layer's steps of both sentences.", show_default=False)
    ] = None,
    head: Annotated[int | None, typer.Option(help="Show no other head's steps.", show_default=False)] = None,
    step: Annotated[
        list[str] | None, _steps("Also show these steps of both sentences, named as explain's --step names them.")
    ] = None,
    diff: Annotated[
        list[str] | None,
        typer.Option(
            "--diff",
            metavar="PATTERN",
            help="Add B − A of these steps (named as --step names them), for those of the same shape in both: "
            "where two sentences of as many tokens part ways. Repeat for more.",
            show_default=False,
        ),
    ] = None,
    show_work: ShowWork = False,
    precision: Precision = 3,
    no_color: NoColor = False,
) -> None:
    """How similar two sentences are: both run through the encoder, then the cosine of their embeddings.

    Each sentence's embedding is its output pooled as the model's folder declares (sentence-transformers'
    1_Pooling), or the mean of the output's rows where it declares none (a weights file: the header says so).
    The comparison's steps (the pooled and normalised vectors, their dot product, their lengths, the cosine)
    each show their formula, and with --show-work their arithmetic. The traces' own steps are shown only when
    --step, --layer or --head asks for them; -f json holds both traces whole (or as those filters keep them).
    """
    from encoder_cli import compare as comparing
    from encoder_cli.output import writing
    from encoder_cli.render import comparison

    try:
        if weights == "-":
            fix = "give the weights as a file"
            raise EncoderError(f"-: compare reads them for each sentence, and stdin can be read once; {fix}",
                               argument="weights")  # fmt: skip
        runs = []
        for side, sentence in (("A", sentence_a), ("B", sentence_b)):
            try:
                runs.append(_run(sentence, weights, model))
            except EncoderError as e:  # which of the two sentences it is about
                e.message += f" (sentence {side}, {sentence!r})"
                raise
        (a, inputs), (b, _) = runs
        patterns = [_utf8(p, "--step") for p in step or []]
        shown = [comparison.selected(t, layer, head, patterns) for t in (a, b)]
        result = comparing.compare(a, b, [_utf8(p, "--diff") for p in diff or []], layer, head)
        if format == "json":  # both traces whole, unless a filter keeps fewer steps
            shown = [s or t.steps for s, t in zip(shown, (a, b), strict=True)]
        with writing(output, inputs) as out:
            job = views.Job(result.trace, result.steps, precision, show_work=show_work, no_color=no_color)
            comparison.write(format, result, (shown[0], shown[1]), job, out)
    except EncoderError as e:
        _fail(e)


@app.command()
def worksheet(
    sentence: Sentence = None,
    sentence_b: SentenceB = None,
    weights: Weights = None,
    model: ModelOption = None,
    blank: Annotated[
        list[str] | None,
        typer.Option(
            "--blank",
            "-b",
            metavar="ADDRESS",
            help="A step, row or cell for the student to work out, as check's answers name them: 'Q', "
            "'PE[cat]', 'weights[cat,sat]'. Repeat for more.",
            show_default=False,
        ),
    ] = None,
    format: Annotated[
        SheetFormat,
        typer.Option(
            "--format", "-f", help="terminal, or a handout: markdown, latex, html; xlsx: a workbook to fill in."
        ),
    ] = "terminal",
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", metavar="FILE", help="Write to FILE (replacing it) instead of stdout.", show_default=False
        ),
    ] = None,
    answers_template: Annotated[
        Path | None,
        typer.Option(
            "--answers-template",
            metavar="FILE",
            help="Also write the YAML the student fills in: the blanks, each ~, commented; check loads it as it is. "
            "Never replaces a file without --force.",
            show_default=False,
        ),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Let --answers-template replace an existing file.")] = False,
    key: Annotated[
        bool, typer.Option("--key", help="The teacher's answer key: the blanks filled in and marked.")
    ] = False,
    layer: Annotated[
        int | None, typer.Option(help="Show only this layer's steps, and the blanks (layers count from 0).")
    ] = None,
    head: Annotated[int | None, typer.Option(help="Show no other head's steps unless a blank needs them.")] = None,
    step: Annotated[
        list[str] | None,
        _steps("Show only these steps, as explain's --step picks them, and the blanks. Repeat for more."),
    ] = None,
    decimals: Annotated[
        int | None,
        _decimals(
            "Ask for N decimals in every answer: the sheet says 'give N decimals', and the template's check "
            "command grades with --decimals N."
        ),
    ] = None,
    precision: Annotated[
        int, typer.Option("--precision", "-p", min=0, max=15, help="Decimals shown in the sheet and the key.")
    ] = 3,
    full: Full = False,
    no_color: NoColor = False,
) -> None:
    """Print an exercise: the run with blanks to fill in, and nothing that gives them away.

    A cell that depends on no blank is shown; a cell a blank needs that itself depends on a
    blank becomes a blank too (stderr says so); any other cell that depends on a blank is left
    out. Each blank step shows the parameter columns its blanks use. A step that passes its
    input through unchanged (one head's concat, an attention output without W_O) is marked
    "same as" the blank it copies, not blanked again, and so is any cell that holds a blank's
    number by construction (cos d5 is cos d1). Blanks, and what they are worked from, are never
    summarised away. --layer, --head and --step keep fewer
    steps, as in explain; the steps with blanks, and the steps they are worked from, stay.
    """
    import shlex

    from encoder_cli import names, trace
    from encoder_cli import worksheet as sheets
    from encoder_cli.output import writing

    try:
        if not blank:
            raise EncoderError("give at least one blank: --blank Q, --blank 'PE[cat]', --blank 'weights[cat,sat]'")
        result, inputs = _run(sentence, weights, model, sentence_b)
        kept = names.select(result, layer, head, [_utf8(p, "--step") for p in step or []])
        sheet = sheets.make(result, blank)
        steps, marks = sheets.view(sheet, key, {s.id for s in kept})
        steps = trace.printed_whole(steps, None, "a worksheet prints every cell: use a shorter sentence")
        for note in sheet.notes({s.id for s in steps}):
            _say(f"note: {note}")
        if answers_template is not None:
            given = [
                sentence,
                sentence_b,
                *(["-w", weights] if weights else []),
                *(["--model", model] if model else []),
            ]
            check = ["encoder", "check", *[a for a in given if a is not None], "--answers", str(answers_template)]
            check += [] if decimals is None else ["--decimals", str(decimals)]
            with writing(answers_template, inputs, replace=force) as out:
                out.write(sheets.template(sheet, shlex.join(check), decimals))
        from encoder_cli.render import page

        title = f"{'Answer key' if key else 'Worksheet'}: {page.TITLE}"
        asks = [] if decimals is None else [("Answers", sheets.ask(decimals))]
        made = [*_made_from(weights, model), ("decimals", "" if decimals is None else str(decimals))]
        job = views.Job(
            result, steps, precision, full, marks=marks, title=title, asks=asks, no_color=no_color, about=made
        )
        with writing(output, [*inputs, *([str(answers_template)] if answers_template else [])]) as out:
            views.write(format, job, out)
    except EncoderError as e:
        _fail(e)


class CheckFormat(str, Enum):
    terminal = "terminal"
    json = "json"
    csv = "csv"


@app.command()
def check(
    sentence: Sentence = None,
    sentence_b: SentenceB = None,
    weights: Weights = None,
    model: ModelOption = None,
    answers: Annotated[
        list[str] | None,
        typer.Option(
            "--answers",
            "-a",
            metavar="FILE|DIR",
            help="YAML answers: cell addresses and what was worked out by hand, e.g. 'Q[0,0]: 2.30'; '-' reads "
            "stdin; or a worksheet -f xlsx filled in (.xlsx). Repeat it, or give a folder (its *.yaml, *.yml "
            "and *.xlsx), to grade a whole class.",
            show_default=False,
        ),
    ] = None,
    tolerance: Annotated[
        float | None,
        typer.Option(min=0.0, help="Right when |true - written| <= this, instead of at the written precision."),
    ] = None,
    decimals: Annotated[
        int | None,
        _decimals("Ask for N decimals: an answer with fewer is too coarse, and 0.00 may then be right for 0.004."),
    ] = None,
    carry: Annotated[
        bool,
        typer.Option(
            "--carry/--no-carry",
            help="Judge an answer that misses the truth again from the student's own answers for its inputs "
            "(error carried forward); --no-carry: the truth only.",
        ),
    ] = True,
    format: Annotated[
        CheckFormat,
        typer.Option(
            "--format", "-f", help="terminal; json (one document, or {files: [...]}); csv (one row per file)."
        ),
    ] = CheckFormat.terminal,
    precision: Precision = 3,
    no_color: NoColor = False,
) -> None:
    """Grade answers worked out by hand against the true values, carrying a student's own errors forward.

    Each answer is right (it matches the truth, or the value from the student's own right inputs),
    carried (it matches the value worked from the student's inputs, some of them wrong), wrong, or
    too coarse (a written zero for a value that is not 0, or fewer decimals than --decimals asks);
    an entry that cannot be read is malformed, and the file's other entries are still graded.
    Exit status 0 when some answer was judged and every one is right; 1 when any is not, or when
    nothing was attempted; 2 when no answers file could be used at all, or for bad usage.

    \b
    The answers file is YAML; each key is a step (an id, X, PE, X', or the end of
    exactly one id, such as Q or weights), optionally with a row or a cell:
      PE[1]: [0.84, 0.54, 0.01, 1.00]      a row
      Q[0,0]: 2.30                         a cell
      weights[cat,sat]: 0.38               rows and columns by position or name
      input: [[0.2, 1.4, 0.8, 1.6], ~, ~]  a matrix; ~ means not attempted
      scores: ~                            a whole step not attempted
    Each number is judged at the precision it is written with: 0.90 is right when
    the true value rounds to 0.90, and 0.9 when it rounds to 0.9.
    """
    from encoder_cli.output import writing
    from encoder_cli.render import json_doc, report

    try:
        files = _answer_files(answers or [])
        if "-" in files and weights == "-":
            raise EncoderError("--weights - and --answers - both read stdin; give one of them as a file")
        try:
            result, inputs = _run(sentence, weights, model, sentence_b)
        except EncoderError as e:  # a forgotten -w: say what a workbook was made with
            made = None if weights or model else _made_with(files)
            if made is None:
                raise
            raise EncoderError(f"{made[0]}: this worksheet was made with {made[1]}, and the built-in example "
                               f"cannot run its sentence; run check with {made[1]}") from e  # fmt: skip
        reports = [_graded(name, result, tolerance, carry, decimals, weights or model) for name in files]
    except EncoderError as e:
        _fail(e)
    for r in reports:
        for warning in r.warnings:
            _say(f"warning: {r.source}: {warning}")
    errors = [line for r in reports for line in r.errors]
    for line in errors[:SHOWN_ERRORS]:
        _say(f"error: {line}")
    if len(errors) > SHOWN_ERRORS:
        _say(f"error: {len(errors) - SHOWN_ERRORS} more malformed entries; --format json or csv lists every one")
    if not any(r.usable for r in reports):
        raise typer.Exit(Exit.BAD_INPUT)
    try:
        with writing(None, [*inputs, *files]) as out:
            if format is CheckFormat.csv:
                out.write(report.table(result, reports))
            elif format is CheckFormat.json:
                if len(reports) > 1:
                    out.write(json_doc.dumps(report.files_document(result, reports, precision)))
                else:
                    out.write(json_doc.dumps(report.document(result, reports[0], precision)))
            else:
                console = views.console(out, no_color)
                view = (
                    report.class_view(result, reports)
                    if len(reports) > 1
                    else report.marked(result, reports[0], precision)
                )
                for part in view:
                    console.print(part)
    except EncoderError as e:
        _fail(e)
    raise typer.Exit(Exit.OK if all(r.passed for r in reports) else Exit.WRONG)


SHOWN_ERRORS = 20  # check's stderr: the first malformed entries, then how many more


def _answer_files(given: list[str]) -> list[str]:
    """The answers files: each given file, and a folder's *.yaml, *.yml and *.xlsx (not the ~$ file Excel
    keeps beside a workbook it has open), sorted; stdin at most once."""
    if not given:
        raise EncoderError("give the answers file: --answers FILE (or a folder, or - for stdin)")
    if given.count("-") > 1:
        raise EncoderError("--answers - reads stdin, which can be read once; give the other answers as files")
    files: list[str] = []
    for name in given:
        try:
            entries = None if name == "-" else os.listdir(name)
        except (FileNotFoundError, NotADirectoryError):  # a file, or nothing there: reading it says which
            entries = None
        except OSError as e:  # a folder that cannot be read, or on a path that cannot be searched; a name too long
            fix = "give --answers a file or folder you can read"
            raise EncoderError(f"{name}: cannot be read ({e.strerror}); {fix}") from None
        if entries is None:
            files.append(name)
            continue
        found = sorted(str(Path(name, e)) for e in entries if Path(e).suffix in ANSWERS and not e.startswith("~$"))
        found = [f for f in found if not os.path.isdir(f)]  # what cannot be looked at stays, for its read to report
        if not found:
            raise EncoderError(f"{name}: a folder with no *.yaml, *.yml or *.xlsx answers files in it")
        files += found
    return files


ANSWERS = (".yaml", ".yml", ".xlsx")  # a folder's answers files


def _made_with(files: list[str]) -> tuple[str, str] | None:
    """The first workbook that names what it was made with, and that: ('alice.xlsx', '-w lesson.yaml')."""
    from encoder_cli import api

    for name in (f for f in files if f.lower().endswith(".xlsx")):
        from encoder_cli import answers_xlsx  # openpyxl: only for a workbook

        with contextlib.suppress(EncoderError):
            made = answers_xlsx.made_with(api.read_bytes(name, "--answers"), name)
            if made is not None:
                return name, made
    return None


def _graded(
    name: str, trace: Trace, tolerance: float | None, carry: bool, least: int | None, made_with: str | None
) -> grading.Report:
    """One file's report; a file that cannot be read is a report of that one error. made_with: the
    run's --weights or --model, which a workbook names too."""
    from encoder_cli import api, grading

    rule = grading.Rule(tolerance, least)
    try:
        if name.lower().endswith(".xlsx"):
            from encoder_cli import answers_xlsx  # openpyxl: only for a workbook

            return answers_xlsx.grade(api.read_bytes(name, "--answers"), name, trace, rule, carry, made_with)
        text, source = _read_text(name, "--answers")
    except EncoderError as e:
        return grading.Report(name, [], 0, [grading.Malformed(None, str(e))], rule, False)
    return grading.grade_file(text, source, trace, tolerance, carry, least)


def _flag(name: str, *names: str, low: float | None = None) -> Any:
    """An init option, with its help as settings.py declares it."""
    return typer.Option(*names, help=settings.HELP[name], min=low)


_M = settings.DEFAULTS.model  # init's defaults: the example's settings, and Options' own


@app.command()
def init(
    ctx: typer.Context,
    sentence: Annotated[str, _flag("sentence")] = settings.DEFAULTS.sentence,
    d_model: Annotated[int, _flag("d_model")] = _M.d_model,
    heads: Annotated[int, _flag("heads")] = _M.heads,
    d_ff: Annotated[int, _flag("d_ff")] = settings.DEFAULTS.d_ff,
    layers: Annotated[int, _flag("layers")] = settings.DEFAULTS.layers,
    seed: Annotated[int, _flag("seed", low=0)] = settings.DEFAULTS.seed,
    positional: Annotated[Positional, _flag("positional")] = _M.positional,
    positional_base: Annotated[float, _flag("positional_base", low=1e-9)] = _M.positional_base,
    norm: Annotated[Norm, _flag("norm")] = _M.norm,
    activation: Annotated[Activation, _flag("activation")] = _M.activation,
    layer_norm_eps: Annotated[float, _flag("layer_norm_eps", low=0.0)] = _M.layer_norm_eps,
    lowercase: Annotated[bool, _flag("lowercase")] = _M.lowercase,
    unk: Annotated[bool, _flag("unk")] = settings.DEFAULTS.unk,
    per_head: Annotated[bool, _flag("per_head")] = settings.DEFAULTS.per_head,
    w_o: Annotated[bool, _flag("w_o", "--w-o")] = settings.DEFAULTS.w_o,
    biases: Annotated[bool, _flag("biases")] = settings.DEFAULTS.biases,
    layer_norms: Annotated[bool, _flag("layer_norms")] = settings.DEFAULTS.layer_norms,
    embedding_norm: Annotated[bool, _flag("embedding_norm")] = settings.DEFAULTS.embedding_norm,
    final_norm: Annotated[bool, _flag("final_norm")] = settings.DEFAULTS.final_norm,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here instead of stdout.", show_default=False)
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Let --output replace an existing file.")] = False,
    example: Annotated[
        bool,
        typer.Option(
            "--example",
            help=f'Write the built-in example ("{EXAMPLE_SENTENCE}", the weights explain uses without --weights) '
            "as it is, to edit; no other flag but --output and --force.",
        ),
    ] = False,
) -> None:
    """Write a weights file to start from, with one-decimal values.

    The file is commented and its numbers are easy to compute with by hand.

    Every option of the weights format is reachable by a flag; the same flags and seed
    write the same file. It goes to stdout, or to --output FILE, which is never replaced
    unless --force is given.
    """
    import shlex

    from encoder_cli import init as scaffolding
    from encoder_cli.output import writing

    model = settings.Settings(d_model, heads, positional, positional_base, norm, activation, layer_norm_eps, lowercase)
    options = Options(
        model, sentence, d_ff, layers, seed, unk, per_head, w_o, biases, layer_norms, embedding_norm, final_norm
    )
    given = sys.argv[2:] if sys.argv[1:2] == ["init"] else []  # as typed, for the file's header
    # quoted for the shell: as $'…' with escapes where a word holds what does not print (a newline)
    quoted = (shlex.quote(w) if w.isprintable() else f"$'{scaffolding.escaped(w, chr(39) + chr(92))}'" for w in given)
    command = " ".join(["encoder init", *quoted])
    try:
        if example:
            text = _example(ctx)
        else:
            text = scaffolding.scaffold(options._replace(sentence=_utf8(sentence, "--sentence")), command)
        with writing(output, replace=force) as out:
            out.write(text)
    except EncoderError as e:
        _fail(e)
    if output is not None:
        _say(f"wrote {output}")


def _example(ctx: typer.Context) -> str:
    """The built-in example's file, as it ships; the flags that would change it are refused."""
    from encoder_cli import api

    given = [
        p.opts[0]
        for p in ctx.command.params
        if p.name not in ("example", "output", "force")
        and ctx.get_parameter_source(p.name or "") is ParameterSource.COMMANDLINE
    ]
    if given:
        raise EncoderError(f"--example writes the built-in example as it is; drop {given[0]}, or drop --example")
    return api.EXAMPLE.read_text(encoding="utf-8")


def _made_from(weights: str | None, model: str | None) -> list[tuple[str, str]]:
    """The weights file or the model, as given (none: the built-in example): a workbook records it."""
    return [("weights", weights)] if weights else [("model", model)] if model else []


def _run(
    sentence: str | None, weights: str | None, model: str | None, pair: str | None = None, predict_all: bool = False
) -> tuple[Trace, list[str]]:
    """The run's trace (the example's without --weights or --model), and the files it read, which
    no output may replace: the weights ('-': stdin's), every file of a checkpoint that was opened
    (the package, whose example is read without either, is refused by output.writing as a whole).
    What the run has to say (a checkpoint's sentence-transformers cut) goes to stderr."""
    from encoder_cli import api

    quote = f'one sentence (quote a sentence of several words, as in "{EXAMPLE_SENTENCE}")'
    flags = api.Names("--weights", "--model", f'before --model, e.g. "{EXAMPLE_SENTENCE}" --model DIR', quote)
    api.check(sentence, weights, model, flags, pair, predict_all)
    for given, what in ((sentence, "the sentence"), (pair, "the second sentence")):
        if given is not None:
            _utf8(given, what)
    if model is not None:
        from encoder_cli.checkpoint import folder

        with folder.recording() as opened:
            result = api.run(sentence, None, model=model, pair=pair, predict_all=predict_all)
        inputs = [str(path) for path in opened]
        if pair is not None and not any(c.isspace() for c in f"{sentence}{pair}"):  # `explain The cat`: a pair
            _say(f"note: {sentence!r} and {pair!r} ran as a sentence pair; to run them as one sentence, quote it")
    elif weights is None:
        try:
            result, inputs = api.run(sentence, None), []
        except EncoderError as e:
            if e.source != api.EXAMPLE_NAME:
                raise
            hint = f"to edit the example, write it out with 'encoder init --example -o {EXAMPLE_FILE}'"
            raise EncoderError(f"{e} ({hint} and give it as --weights {EXAMPLE_FILE})") from None
    else:
        text, source = _read_text(weights, "--weights")
        result, inputs = api.run(sentence, source, text), [weights]
        if sentence is None:
            _say(f"note: running the sentence {source} names: {result.sentence!r}")
    for warning in result.embedded.warnings:
        _say(f"warning: {warning}")
    return result, inputs


def _fail(error: EncoderError) -> NoReturn:
    """One line on stderr, exit status 2; an argument at fault is named by its flag."""
    message = str(error)
    if error.argument is not None:
        message = f"--{error.argument.replace('_', '-')} {error.message}"
    _say(f"error: {message}")
    raise typer.Exit(Exit.BAD_INPUT)


def _say(message: str) -> None:
    """A message on stderr, as one line of printable text: `a\\nb`, `\\x1b[31m`."""
    typer.echo(printable(message), err=True)


def _read_text(name: str, option: str) -> tuple[str, str]:
    """A file's text (stdin's, for '-') and the name to use for it in messages. Never writes."""
    from encoder_cli import api

    if name != "-":
        data, source = api.read_bytes(name, option), name
    elif sys.stdin is None or sys.stdin.closed:
        raise EncoderError(f"{option} -: reads the file from stdin, but there is no stdin")
    elif sys.stdin.isatty():
        raise EncoderError(f"{option} -: reads the file from stdin, but stdin is a terminal")
    else:
        data, source = sys.stdin.buffer.read(settings.MAX_FILE_BYTES + 1), "<stdin>"
    if option == "--answers" and data.startswith(ZIP):  # a workbook, read as YAML by its name
        fix = "give it as a file named *.xlsx" if name == "-" else "rename it to .xlsx"
        raise EncoderError(f"{source}: an .xlsx workbook (a zip file), which is read from a file named *.xlsx; {fix}")
    return api.decode(data, source), source


ZIP = b"PK\x03\x04"  # a zip's first bytes, and so an .xlsx workbook's


def _terminated(signum: int, frame: FrameType | None) -> NoReturn:
    """SIGTERM ends the run as an exception would, so that a file being written is removed."""
    raise SystemExit(Exit.TERMINATED)


def main() -> None:
    # One BLAS thread unless the user says otherwise: a run's products are small, and on a busy
    # 2-core machine default threading took 1.9x the CPU for a 9% slower wall time (--model, 16
    # tokens, 15 paired runs). Set before numpy is imported, which the commands do.
    for variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(variable, "1")
    signal.signal(signal.SIGTERM, _terminated)
    app()
