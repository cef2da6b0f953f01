"""The command line: parse, call the core, pick a renderer, print, turn EncoderError into exit 2.

Exit statuses: 0 done, 2 bad input or usage. Data goes to stdout, messages to stderr.
numpy, yaml and rich are imported inside the command so that --help and --version stay fast.
"""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from encoder_cli import __version__
from encoder_cli.errors import EncoderError

EXAMPLE = Path(__file__).parent / "examples" / "the-cat-sat.yaml"
EXAMPLE_SENTENCE = "The cat sat"
MAX_FILE_BYTES = 256 * 1024 * 1024
ROWS_OFF_TERMINAL = 50  # how many rows a matrix may show when stdout is not a terminal

app = typer.Typer(
    name="encoder",
    help="Run a Transformer encoder step by step and show every intermediate matrix.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,  # help texts hold [n, d] and the like, not markup
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


class Format(str, Enum):
    terminal = "terminal"
    json = "json"


def _version(value: bool) -> None:
    if value:
        typer.echo(f"encoder-cli {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit."),
    ] = False,
) -> None:
    """Run a Transformer encoder step by step and show every intermediate matrix.

    The weights file format and the JSON output are described in the README.
    """


@app.command(no_args_is_help=False)
def explain(
    sentence: Annotated[
        str | None,
        typer.Argument(
            help=f'The sentence to encode. Without --weights it defaults to "{EXAMPLE_SENTENCE}", '
            "the seed's worked example, whose weights ship with the tool.",
            metavar="SENTENCE",
            show_default=False,
        ),
    ] = None,
    weights: Annotated[
        str | None,
        typer.Option(
            "--weights",
            "-w",
            metavar="FILE",
            help="YAML weights file, format 1 (see the README); '-' reads it from stdin. "
            "Default: the seed's example (d_model 4, one head, one layer).",
            show_default=False,
        ),
    ] = None,
    format: Annotated[
        Format,
        typer.Option("--format", "-f", help="terminal: Rich tables; json: one JSON document on stdout."),
    ] = Format.terminal,
    layer: Annotated[
        int | None,
        typer.Option(help="Show only this layer's steps (layers count from 0).", show_default=False),
    ] = None,
    head: Annotated[
        int | None,
        typer.Option(help="Show no other head's steps (heads count from 0).", show_default=False),
    ] = None,
    step: Annotated[
        list[str] | None,
        typer.Option(
            "--step",
            "-s",
            metavar="PATTERN",
            help="Show only steps whose id matches: a whole id ('input'), a glob ('layers.*.norm_2') "
            "or the end of an id ('weights', 'heads.1.Q'). Repeat to show more.",
            show_default=False,
        ),
    ] = None,
    precision: Annotated[
        int,
        typer.Option("--precision", "-p", min=0, max=15, help="Decimals shown in the terminal view."),
    ] = 3,
    full: Annotated[
        bool,
        typer.Option("--full", help="Show every row and column, however large (no summarising)."),
    ] = False,
    no_color: Annotated[
        bool, typer.Option("--no-color", help="No colour (also when the NO_COLOR variable is set).")
    ] = False,
) -> None:
    """Run the encoder on SENTENCE and show every intermediate matrix.

    The terminal view follows the seed's six steps: embeddings, positional encoding,
    Q/K/V, scores, softmax weights and weighted sums per head, Add & Norm, FFN,
    Add & Norm, for every layer. Each table shows its formula, shape and step id;
    step ids are the ones of the JSON output and of --step.

    \b
    The weights file (YAML, format 1; the README tells the whole story):
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
    from encoder_cli import encoder, spec, trace

    try:
        if sentence is None and weights is not None:
            raise EncoderError('give the sentence to encode, e.g. encoder explain "The cat sat" --weights FILE')
        text, source = _read_weights(weights)
        model = spec.parse(text, source)
        result = encoder.run(model, EXAMPLE_SENTENCE if sentence is None else sentence)
        steps = trace.select(result.steps, layer, head, step or [], layers=len(model.layers), heads=model.model.heads)
    except EncoderError as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2) from None

    if format is Format.json:
        from encoder_cli.render import json_doc

        sys.stdout.writelines(json_doc.chunks(result, steps))
        return

    from rich.console import Console, Group
    from rich.measure import Measurement

    from encoder_cli.render import terminal

    console = Console(no_color=True if no_color else None, highlight=False)
    # A matrix fits when one screen shows it whole, with its title and caption.
    max_rows = max(console.height - 6, 9) if console.is_terminal else ROWS_OFF_TERMINAL
    fit = console.width
    for part in terminal.render(
        result,
        steps,
        precision=precision,
        width=None if full else fit,
        max_rows=None if full else max_rows,
    ):
        if full and isinstance(part, Group):  # a matrix prints at its own width, if wider
            console.width = max(fit, Measurement.get(console, console.options.update_width(10**6), part).maximum)
        console.print(part)
        console.print()
        console.width = fit


def _read_weights(weights: str | None) -> tuple[str, str]:
    """The weights file's text and the name to use for it in messages. Never writes anything."""
    if weights is None:
        return EXAMPLE.read_text(encoding="utf-8"), "the-cat-sat.yaml (built-in example)"
    if weights == "-":
        if sys.stdin.isatty():
            raise EncoderError("--weights -: reads the weights file from stdin, but stdin is a terminal")
        data = sys.stdin.buffer.read(MAX_FILE_BYTES + 1)
        source = "<stdin>"
    else:
        path = Path(weights)
        try:
            if path.stat().st_size > MAX_FILE_BYTES:
                raise EncoderError(f"{weights}: larger than {MAX_FILE_BYTES >> 20} MiB; too large for a weights file")
            data = path.read_bytes()
        except FileNotFoundError:
            raise EncoderError(f"{weights}: no such file; check the path given to --weights") from None
        except IsADirectoryError:
            raise EncoderError(f"{weights}: is a directory; --weights takes a YAML file") from None
        except OSError as e:
            raise EncoderError(f"{weights}: cannot be read ({e.strerror})") from None
        source = weights
    if len(data) > MAX_FILE_BYTES:
        raise EncoderError(f"{source}: larger than {MAX_FILE_BYTES >> 20} MiB; too large for a weights file")
    try:
        return data.decode("utf-8-sig"), source
    except UnicodeDecodeError as e:
        raise EncoderError(f"{source}: not a text file in UTF-8 (byte {e.start} is not UTF-8)") from None


def main() -> None:
    app()
