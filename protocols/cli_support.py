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

from .validation import check_int

__all__ = [
    "ArgumentParser", "main", "emit_json", "UsageError", "run_commands", "int_at_least", "positive_int",
    "non_negative_int",
]


class UsageError(ValueError):
    """Bad command-line arguments detected after parsing."""


def int_at_least(low: int) -> Callable[[str], int]:
    """An argparse type: the text as an integer >= ``low`` (the rule of :func:`protocols.validation.check_int`).

    Examples
    --------
    >>> int_at_least(1)("3")
    3
    >>> int_at_least(1)("0")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: 0 is not an integer >= 1
    """

    def parse(text: str) -> int:
        try:
            return check_int("value", int(text), low=low)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text} is not an integer >= {low}") from None

    parse.__name__ = f"integer >= {low}"  # argparse names the type in its own messages
    return parse


#: argparse types for sizes and counts (>= 1) and for seeds and offsets (>= 0).
positive_int = int_at_least(1)
non_negative_int = int_at_least(0)


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
