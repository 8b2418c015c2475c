"""List the protocol library with each protocol's natural rounds R and message size s.

``python -m protocols list [--q Q --k K] [--json]`` prints, for every protocol in
:data:`protocols.library.LIBRARY`, the formulas of its natural (default) R and
s, what they come to at the given q and k (by constructing the protocol, the
source of truth), and the first line of its docstring.  JSON: a list of objects
with keys name, rounds_formula, bits_formula, q, k, rounds, bits, summary.
"""

from __future__ import annotations

import argparse
from math import ceil, log2
from typing import Any

from ..budget import BudgetError
from ..cli_support import emit_json
from ..library import LIBRARY
from ..problems.pointer_chasing import PointerChasing
from .common import positive_int

__all__ = ["NATURAL", "add_arguments", "run", "evaluate_formula"]

#: name -> (R formula, s formula) of the natural budget, as Python expressions in
#: q, k, ceil, log2, max and ``decision`` (True for the decision version).
#: docs/definitions.md §2 (upper bounds); tests check them against the constructors.
NATURAL: dict[str, tuple[str, str]] = {
    "one-hop-per-round": ("k", "ceil(log2(q))"),
    "full-dump": ("1", "q * ceil(log2(q))"),
    "sampling": ("max(k - 1, 1)", "max(ceil(q / max(k - 1, 1)) * ceil(log2(q)), ceil(log2(k + 1)) + ceil(log2(q)))"),
    "nw-sampling": ("max(k - 1, 1)", "max(ceil(q / max(k - 1, 1)) * ceil(log2(q)), ceil(log2(k + 1)) + ceil(log2(q)))"),
    "last-layer-table": (
        "max(k - 1, 1)",
        "max(ceil(q * (1 if decision else ceil(log2(q))) / max(k - 1, 1)), ceil(log2(q)) if k >= 3 else 0)",
    ),
    "backward-collapse": ("1", "q * (1 if decision else ceil(log2(q)))"),
    "guess": ("1", "1 if decision else ceil(log2(q))"),
}


def evaluate_formula(formula: str, q: int, k: int, decision: bool = True) -> int:
    """Value of one of the :data:`NATURAL` formulas.

    Examples
    --------
    >>> evaluate_formula("q * ceil(log2(q))", q=1024, k=8)
    10240
    """
    names = {"q": q, "k": k, "ceil": ceil, "log2": log2, "max": max, "decision": decision, "__builtins__": {}}
    return int(eval(formula, names))  # formulas are the fixed strings above, never user input


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--q", type=positive_int, default=1024, help="layer size used to evaluate the formulas (default 1024)"
    )
    parser.add_argument(
        "--k", type=positive_int, default=8, help="number of players used to evaluate the formulas (default 8)"
    )
    parser.add_argument("--version", choices=("decision", "search"), default="decision", help="problem version")
    parser.add_argument("--json", action="store_true", help="print JSON")


def _rows(q: int, k: int, version: str) -> list[dict[str, Any]]:
    pc = PointerChasing(q=q, k=k, version=version)
    rows = []
    for name, cls in LIBRARY.items():
        r_formula, s_formula = NATURAL.get(name, ("?", "?"))
        try:
            p = cls(pc)
            R, s = p.R, p.s
        except BudgetError:  # too big to build (e.g. one-hop's R·k schedule): the formulas say it
            if name not in NATURAL:
                raise
            decision = version == "decision"
            R, s = evaluate_formula(r_formula, q, k, decision), evaluate_formula(s_formula, q, k, decision)
        summary = (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else ""
        rows.append(
            {
                "name": name,
                "rounds_formula": r_formula,
                "bits_formula": s_formula,
                "q": q,
                "k": k,
                "version": version,
                "rounds": R,
                "bits": s,
                "summary": summary,
            }
        )
    return rows


def run(args: argparse.Namespace) -> int:
    rows = _rows(args.q, args.k, args.version)
    if args.json:
        emit_json(rows)
        return 0
    print(f"protocols for pointer chasing; values at q={args.q}, k={args.k} ({args.version})")
    wn = max(len(r["name"]) for r in rows)
    wr = max(len(r["rounds_formula"]) for r in rows)
    ws = max(len(r["bits_formula"]) for r in rows)
    print(f"{'name':<{wn}}  {'R':<{wr}}  {'s':<{ws}}  {'R':>4} {'s':>7}  summary")
    for r in rows:
        print(
            f"{r['name']:<{wn}}  {r['rounds_formula']:<{wr}}  {r['bits_formula']:<{ws}}  "
            f"{r['rounds']:>4} {r['bits']:>7}  {r['summary']}"
        )
    return 0
