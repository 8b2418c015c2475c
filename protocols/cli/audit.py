"""Audit a protocol's locality: does any message depend on another player's input?

``python -m protocols audit --protocol NAME --q Q --k K [--rounds R] [--bits S]
[--trials T] --seed SEED [--version ...] [--order ...] [--start V]
[--memory-budget SIZE] [--progress/--no-progress] [--json]``

Runs :func:`protocols.audit_locality` on ``T`` random instances: every speaker
is re-run on the recorded board prefix with everyone else's input resampled,
and every message that changes is a violation.  ``--json`` prints protocol,
trials, checked (messages), ok and violations (round, speaker, instances,
first_instance) plus the problem's parameters.  Exit code 1 when a violation
is found, 0 otherwise.
"""

from __future__ import annotations

import argparse

from ..audit import audit_locality
from ..budget import budget_scope
from ..cli_support import emit_json
from .common import (
    add_problem_arguments,
    add_protocol_arguments,
    add_resource_arguments,
    non_negative_int,
    positive_int,
    prepare,
    problem_record,
)

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_problem_arguments(parser)
    add_protocol_arguments(parser)
    parser.add_argument("--trials", type=positive_int, default=64, help="random instances to audit on (default 64)")
    parser.add_argument("--seed", type=non_negative_int, default=0, help="seed (default 0)")
    add_resource_arguments(parser)
    parser.add_argument("--json", action="store_true", help="print JSON")


def run(args: argparse.Namespace) -> int:
    with budget_scope(args.memory_budget):
        problem, protocol = prepare(args)
        report = audit_locality(protocol, problem, trials=args.trials, seed=args.seed, progress=args.progress)
    if args.json:
        emit_json(
            {**report.as_dict(), **problem_record(problem), "rounds": protocol.R, "bits": protocol.s, "seed": args.seed}
        )
    else:
        print(
            f"audit of {protocol!r} on {report.trials} instances (seed {args.seed}): "
            f"{report.checked} messages re-run with the other players' inputs resampled"
        )
        if report.ok:
            print("ok: every message depends only on the board, the speaker's own input and its coins")
        for v in report.violations:
            print(f"violation: {v}")
    return 0 if report.ok else 1
