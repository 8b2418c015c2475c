"""Options shared by ``python -m protocols run | show | audit``: the problem and the protocol.

Every command builds its pointer-chasing problem and protocol the same way, so
one command line means the same thing in ``run``, ``show`` and ``audit``.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from ..cli_support import UsageError, non_negative_int, positive_int
from ..engine import ISOLATION, Protocol
from ..library import LIBRARY
from ..problems.pointer_chasing import PointerChasing
from ..validation import check_int

__all__ = [
    "PROBLEMS",
    "add_problem_arguments",
    "add_protocol_arguments",
    "add_isolation_argument",
    "build_problem",
    "build_protocol",
    "problem_record",
    "non_negative_int",
    "positive_int",
]


def _start(text: str) -> int | None:
    if text == "random":
        return None
    return non_negative_int(text)


def _pointer_chasing(args: argparse.Namespace) -> PointerChasing:
    return PointerChasing(
        q=args.q,
        k=args.k,
        version=args.version,
        order=args.order,
        functions=args.functions,
        start=args.start,
    )


#: problem name -> builder from parsed arguments.
PROBLEMS: dict[str, Callable[[argparse.Namespace], Any]] = {"pointer-chasing": _pointer_chasing}


def add_problem_arguments(parser: argparse.ArgumentParser) -> None:
    """--problem, --q, --k, --version, --order, --start, --functions."""
    g = parser.add_argument_group("problem (docs/definitions.md §2)")
    g.add_argument("--problem", choices=sorted(PROBLEMS), default="pointer-chasing", help="communication problem")
    g.add_argument("--q", type=int, required=True, help="layer size q (>= 2)")
    g.add_argument("--k", type=int, required=True, help="number of edge layers = players (>= 1)")
    g.add_argument(
        "--version",
        choices=("decision", "search"),
        default="decision",
        help="decision: output the class of v_{k+1}; search: output v_{k+1}",
    )
    g.add_argument(
        "--order",
        choices=("hard", "easy"),
        default="hard",
        help="hard: speaker i holds E_{k-i}; easy: speaker i holds E_{i+1}",
    )
    g.add_argument(
        "--start",
        type=_start,
        default=0,
        metavar="V",
        help="public start vertex in V_1 (default 0; 'random' for a uniform start per instance)",
    )
    g.add_argument("--functions", action="store_true", help="layers are arbitrary functions, not matchings")


def add_protocol_arguments(parser: argparse.ArgumentParser) -> None:
    """--protocol, --rounds, --bits."""
    g = parser.add_argument_group("protocol (docs/definitions.md §1)")
    g.add_argument(
        "--protocol",
        required=True,
        metavar="NAME",
        help=f"one of: {', '.join(LIBRARY)} (see `python -m protocols list`)",
    )
    g.add_argument("--rounds", type=int, default=None, metavar="R", help="rounds R (default: the protocol's natural R)")
    g.add_argument(
        "--bits", type=int, default=None, metavar="S", help="bits per message s (default: the protocol's natural s)"
    )


def add_isolation_argument(parser: argparse.ArgumentParser) -> None:
    """--isolation: how speakers are kept apart (docs/definitions.md §1.1)."""
    parser.add_argument(
        "--isolation",
        choices=list(ISOLATION),
        default="in-process",
        help="in-process (default): sealed data and per-speaker state; process: every speaker in its own "
        "OS process (docs/definitions.md §1.1)",
    )


def build_problem(args: argparse.Namespace) -> Any:
    """The problem the arguments describe; bad values raise ValueError subclasses."""
    return PROBLEMS[args.problem](args)


def build_protocol(args: argparse.Namespace, problem: Any) -> Protocol:
    """``LIBRARY[args.protocol](problem, R=args.rounds, s=args.bits)`` with a clear error for unknown names."""
    if args.protocol not in LIBRARY:
        raise UsageError(f"unknown protocol {args.protocol!r}; known: {', '.join(LIBRARY)}")
    for flag, value in (("--rounds", args.rounds), ("--bits", args.bits)):
        if value is not None:
            check_int(flag, value, low=1, error=UsageError)
    return LIBRARY[args.protocol](problem, R=args.rounds, s=args.bits)


def problem_record(problem: PointerChasing) -> dict[str, Any]:
    """The problem's parameters as JSON-ready fields."""
    return {
        "problem": "pointer-chasing",
        "q": problem.q,
        "k": problem.k,
        "version": problem.version,
        "order": problem.order,
        "start": "random" if problem.start is None else problem.start,
        "functions": problem.functions,
    }
