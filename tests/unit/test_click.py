"""encoder_cli/_click.py takes four names from typer's private copy of click (typer._click).
These tests fail, naming the file to fix, when a typer release moves them or stops using them:
each must be the class typer itself makes or raises, or the command line's errors and
--example's check would silently stop working."""

from __future__ import annotations

import pytest
import typer

from encoder_cli import _click
from encoder_cli.cli import app

MOVED = f"typer {typer.__version__} no longer raises or makes encoder_cli/_click.py's {{}}; update its import"


def group() -> typer.core.TyperGroup:
    command = typer.main.get_command(app)
    assert isinstance(command, typer.core.TyperGroup)
    return command


@pytest.mark.parametrize(("args", "name"), [([], "NoArgsIsHelpError"), (["--no-such-option"], "UsageError")])
def test_no_arguments_and_an_unknown_option_raise_its_errors(args: list[str], name: str) -> None:
    with pytest.raises(Exception) as raised:  # which class it is, is the test
        group().make_context("encoder", args)
    assert isinstance(raised.value, getattr(_click, name)), MOVED.format(name)


def test_a_context_is_its_context_and_tells_its_parameter_source() -> None:
    ctx = group().make_context("encoder", ["explain"])
    assert isinstance(ctx, _click.Context), MOVED.format("Context")
    assert ctx.get_parameter_source("help") is _click.ParameterSource.DEFAULT, MOVED.format("ParameterSource")
