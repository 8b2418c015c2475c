"""Shared command-line plumbing for ``python -m protocols | reductions | lowerbounds``.

Misuse gets one line on stderr and exit code 2, never a traceback: argparse
errors and every :class:`ValueError` (all kparty errors are ValueErrors) are
reported that way.  ``--json`` output goes through :func:`emit_json`.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NoReturn

import numpy as np

__all__ = ["ArgumentParser", "main", "emit_json", "UsageError", "run_commands"]


class UsageError(ValueError):
    """Bad command-line arguments detected after parsing."""


class ArgumentParser(argparse.ArgumentParser):
    """An argparse parser whose errors are one line on stderr and exit code 2."""

    def error(self, message: str) -> NoReturn:
        # One line even when the offending argument holds a line break.
        sys.stderr.write(f"{self.prog}: error: {' '.join(message.split())}\n")
        raise SystemExit(2)


def _default(o: Any) -> Any:
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def emit_json(obj: Any) -> None:
    """Print ``obj`` as JSON (numpy scalars and arrays allowed)."""
    print(json.dumps(obj, default=_default, ensure_ascii=False))


def main(
    parser: argparse.ArgumentParser,
    argv: Sequence[str] | None,
    dispatch: Callable[[argparse.Namespace], int | None],
) -> int:
    """Parse ``argv`` and call ``dispatch``; ValueErrors become one stderr line and exit 2.

    Examples
    --------
    >>> p = ArgumentParser(prog="demo")
    >>> _ = p.add_argument("--n", type=int, required=True)
    >>> main(p, ["--n", "3"], lambda a: print(a.n * 2))
    6
    0
    """
    args = parser.parse_args(argv)
    try:
        return int(dispatch(args) or 0)
    except ValueError as exc:
        sys.stderr.write(f"{parser.prog}: error: {' '.join(str(exc).split())}\n")
        return 2
    except BrokenPipeError:  # e.g. piped into `head`
        return 0


def run_commands(
    prog: str, description: str, package: str, commands: Mapping[str, str], argv: Sequence[str] | None = None
) -> int:
    """A CLI whose subcommands live one per module: ``{name: module}`` under ``package``.

    Each module defines ``add_arguments(parser)`` and ``run(args) -> int | None``;
    its docstring's first line is the subcommand's help.
    """
    parser = ArgumentParser(prog=prog, description=description)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=ArgumentParser)
    for name, module in commands.items():
        mod = importlib.import_module(f"{package}.{module}")
        help_line = (mod.__doc__ or name).strip().splitlines()[0]
        sp = sub.add_parser(name, help=help_line, description=help_line)
        mod.add_arguments(sp)
        sp.set_defaults(_run=mod.run)
    return main(parser, argv, lambda a: a._run(a))
