"""Print the lower bounds and the library's upper bounds at (q, k), with sources and the constant c.

``python -m lowerbounds bounds --q Q --k K [--n N] [--c C] [--R R --s S] [--json]``

Lower bounds come from :func:`lowerbounds.bounds.table` ([AN21]/[SHT24] Prop. E.3
and Cor. 5.2–5.6, with the explicit constant c); upper bounds are the natural
budgets of the library protocols with their verdicts.  ``--R`` and ``--s`` ask
for the verdict on one budget.
"""

from __future__ import annotations

import argparse

from protocols.cli_support import UsageError, emit_json

from ..bounds import encoded_length, table, verdict
from .failures import one_line_errors


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--q", type=int, required=True, help="layer size q of pointer chasing (>= 2)")
    parser.add_argument("--k", type=int, required=True, help="number of layers k (>= 1)")
    parser.add_argument("--n", type=int, default=None, help="sequence length N (default 2kq + 1, the k-hop encoding)")
    parser.add_argument("--c", type=float, default=1.0, help="the constant c of every lower bound (default 1)")
    parser.add_argument("--R", type=int, default=None, help="rounds of a budget to judge (with --s)")
    parser.add_argument("--s", type=int, default=None, help="bits per message of a budget to judge (with --R)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")


def _fmt(v: float) -> str:
    return f"{v:.6g}"


@one_line_errors
def run(args: argparse.Namespace) -> int:
    if (args.R is None) != (args.s is None):
        raise UsageError("--R and --s go together: give both to judge a budget, or neither")
    rows = table(args.q, args.k, args.n, args.c)
    N = int(encoded_length(args.q, args.k)) if args.n is None else args.n
    judged = None
    if args.R is not None:
        v = verdict(args.k, args.R, args.s, args.q, args.c)
        judged = {"R": args.R, "s": args.s, "bound": float(v.bound), "ruled_out": bool(v.ruled_out),
                  "explanation": v.explain()}
    if args.json:
        emit_json({"q": args.q, "k": args.k, "N": N, "c": args.c, "target_success": 2 / 3,
                   "rows": [r.as_dict() for r in rows], "verdict": judged})
        return 0
    print(f"pointer chasing q = {args.q}, k = {args.k}; sequence length N = {N}; constant c = {args.c:g}")
    print("\nlower bounds: below the value no protocol/model succeeds with probability 2/3 (in the regime)")
    lower = [r for r in rows if r.kind == "lower"]
    cells = [(r.name, r.regime, r.quantity, _fmt(r.value)) for r in lower]
    w = [max(len(c[i]) for c in cells) for i in range(4)]
    for r in lower:
        print(f"  {r.name:<{w[0]}}  {r.regime:<{w[1]}}  {r.quantity:<{w[2]}}  >= {_fmt(r.value):>{w[3]}}   "
              f"{r.formula}; {r.source}")
    print("\nupper bounds: library protocols at their natural budget (R rounds, s bits per message)")
    upper = [r for r in rows if r.kind == "upper"]
    nw = max(len(r.name) for r in upper)
    for r in upper:
        status = "ruled out by the bound" if r.ruled_out else "allowed by the bound"
        print(f"  {r.name:<{nw}}  R = {r.rounds:<3d} s = {int(r.value):<8d} {r.formula}; {status}")
    if judged is not None:
        print(f"\nbudget R = {args.R}, s = {args.s}: {judged['explanation']}")
    return 0
