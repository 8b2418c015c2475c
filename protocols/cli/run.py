"""Run a protocol on random instances and report its success with a Clopper–Pearson interval.

``python -m protocols run --problem pointer-chasing --protocol NAME --q Q --k K
[--rounds R] [--bits S] --trials T --seed SEED [--version decision|search]
[--order hard|easy] [--start V] [--memory-budget SIZE] [--progress/--no-progress] [--json]``

R and S default to the protocol's natural budget.  Trials run in chunks that fit
the memory budget (``--memory-budget``, ``$KPARTY_MEMORY_BUDGET``, default 1G;
see :mod:`protocols.budget`); sizes that cannot fit are refused before any work.  JSON keys: protocol,
problem, q, k, version, order, start, functions, rounds, bits, trials,
successes, success, ci_low, ci_high, confidence, seed, bits_written (per
instance, k·R·s) and max_bits_used (the longest message before padding).
"""

from __future__ import annotations

import argparse

from ..budget import budget_scope
from ..cli_support import emit_json
from ..estimate import estimate_success
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
    parser.add_argument("--trials", type=positive_int, default=1000, help="random instances (default 1000)")
    parser.add_argument("--seed", type=non_negative_int, default=0, help="seed of instances and coins (default 0)")
    parser.add_argument("--confidence", type=float, default=0.95, help="confidence of the interval (default 0.95)")
    add_resource_arguments(parser)
    parser.add_argument("--json", action="store_true", help="print JSON")


def run(args: argparse.Namespace) -> int:
    if not 0 < args.confidence < 1:  # also refuses nan
        raise ValueError(f"--confidence {args.confidence}: must lie strictly between 0 and 1")
    with budget_scope(args.memory_budget):
        problem, protocol = prepare(args)
        est = estimate_success(protocol, problem, args.trials, seed=args.seed, confidence=args.confidence,
                               progress=args.progress)
    record = {**est.as_dict(), **problem_record(problem), "seed": args.seed}
    if args.json:
        emit_json(record)
        return 0
    start = record["start"]
    print(f"{'protocol':<14} {est.protocol}")
    print(
        f"{'problem':<14} pointer-chasing q={problem.q} k={problem.k} {problem.version}, "
        f"{problem.order} order, start {start}{', functions' if problem.functions else ''}"
    )
    print(f"{'rounds R':<14} {est.R}")
    print(f"{'bits s':<14} {est.s}")
    print(f"{'trials':<14} {est.trials}  (seed {args.seed})")
    print(f"{'successes':<14} {est.successes}")
    print(
        f"{'success':<14} {est.rate:.4f}  [{record['ci_low']:.4f}, {record['ci_high']:.4f}] "
        f"({est.confidence:.0%} Clopper-Pearson)"
    )
    print(f"{'bits written':<14} {est.bits_written} per instance (k*R*s)")
    print(f"{'max bits used':<14} {est.max_bits_used} in one message")
    return 0
