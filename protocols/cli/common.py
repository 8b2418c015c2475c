"""Options shared by ``python -m protocols run | show | audit``: the problem and the protocol.

Every command builds its pointer-chasing problem and protocol the same way, so
one command line means the same thing in ``run``, ``show`` and ``audit``.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from ..budget import ENV_VAR, BudgetError, footprint, format_bytes, parse_size, require
from ..cli_support import UsageError
from ..engine import Protocol
from ..library import LIBRARY
from ..problems.pointer_chasing import PointerChasing

__all__ = [
    "PROBLEMS",
    "add_problem_arguments",
    "add_protocol_arguments",
    "add_resource_arguments",
    "build_problem",
    "build_protocol",
    "prepare",
    "problem_record",
    "non_negative_int",
    "positive_int",
]


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not a positive integer")
    return value


def non_negative_int(text: str) -> int:
    """argparse type: an integer >= 0."""
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} is negative")
    return value


def memory_size(text: str) -> int:
    """argparse type: a byte count such as ``512M`` or ``2G``."""
    try:
        return parse_size(text, "--memory-budget")
    except BudgetError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


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


def add_resource_arguments(parser: argparse.ArgumentParser, progress: bool = True) -> None:
    """--memory-budget and (with ``progress``) --progress/--no-progress."""
    parser.add_argument(
        "--memory-budget",
        type=memory_size,
        default=None,
        metavar="SIZE",
        help=f"working-set budget, e.g. 512M or 2G (default ${ENV_VAR} or 1G); work is chunked to fit it "
        "and refused at once when one instance cannot fit",
    )
    if progress:
        parser.add_argument(
            "--progress",
            action=argparse.BooleanOptionalAction,
            default=None,
            help="progress on stderr: a bar on a terminal, a line every ~10 s otherwise (default: on)",
        )


def build_problem(args: argparse.Namespace) -> Any:
    """The problem the arguments describe; bad values raise ValueError subclasses."""
    return PROBLEMS[args.problem](args)


def build_protocol(args: argparse.Namespace, problem: Any) -> Protocol:
    """``LIBRARY[args.protocol](problem, R=args.rounds, s=args.bits)`` with a clear error for unknown names."""
    if args.protocol not in LIBRARY:
        raise UsageError(f"unknown protocol {args.protocol!r}; known: {', '.join(LIBRARY)}")
    for flag, value in (("--rounds", args.rounds), ("--bits", args.bits)):
        if value is not None and value < 1:
            raise UsageError(f"{flag} {value}: must be a positive integer")
    # Sizes the user gave are checked before the protocol builds anything of size R·k:
    # one instance's board alone is k·R·s bytes.
    if args.rounds is not None or args.bits is not None:
        R, s = args.rounds or 1, args.bits or 1
        require(problem.k * R * s, f"one instance's board (k·R·s = {problem.k}·{R}·{s} bytes at least)")
    return LIBRARY[args.protocol](problem, R=args.rounds, s=args.bits)


def prepare(args: argparse.Namespace, batch: int = 1) -> tuple[Any, Protocol]:
    """Problem and protocol, after checking that ``batch`` instances fit the memory budget.

    Sizes are checked in the order they could be allocated: the instances first
    (before the protocol exists), then the protocol's board and scratch.  Call it
    inside :func:`protocols.budget.budget_scope` to apply ``--memory-budget``.
    """
    problem = build_problem(args)
    require(batch * problem.instance_bytes(), f"{batch} instance(s) of q = {problem.q}, k = {problem.k}")
    protocol = build_protocol(args, problem)
    fp = footprint(protocol, problem)
    what = fp.describe() if batch == 1 else f"{batch} instances ({format_bytes(fp.total)} each)"
    require(batch * fp.total, what)
    return problem, protocol


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
