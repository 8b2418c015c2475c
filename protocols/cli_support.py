"""Shared command-line plumbing for ``python -m protocols | reductions | lowerbounds``.

Misuse gets one line on stderr and exit code 2, never a traceback: argparse
errors and every :class:`ValueError` (all kparty errors are ValueErrors) are
reported that way.  ``--json`` output goes through :func:`emit_json`.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Callable, NoReturn, Sequence

import numpy as np

__all__ = ["ArgumentParser", "main", "emit_json", "UsageError"]


class UsageError(ValueError):
    """Bad command-line arguments detected after parsing."""


class ArgumentParser(argparse.ArgumentParser):
    """An argparse parser whose errors are one line on stderr and exit code 2."""

    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"{self.prog}: error: {message}\n")
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
