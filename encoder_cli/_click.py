"""The few names of click that the command line needs and typer does not export.

typer 0.28 bundles click at a private path, typer._click, so these imports may move with any
typer release; they are made here only, and tests/unit/test_click.py fails when they do.
"""

from __future__ import annotations

from typer._click.core import Context, ParameterSource
from typer._click.exceptions import NoArgsIsHelpError, UsageError

__all__ = ["Context", "NoArgsIsHelpError", "ParameterSource", "UsageError"]
