"""hop_k and find^k of a sequence at every position (docs/definitions.md §3; ⊥ where undefined).

``python -m reductions hop --k 2 baebcabebdea`` — TEXT is one token per
character, or tokens separated by spaces or commas (``"3 1 3 2"``).
``--json`` prints ``{"k", "n", "tokens", "hop", "find"}`` with -1 for ⊥.
"""

from __future__ import annotations

import argparse
import re

import numpy as np

from protocols.cli_support import UsageError, emit_json
from reductions.khop.task import BOTTOM, find, hop

__all__ = ["add_arguments", "run", "tokenize"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "text",
        metavar="TEXT",
        help="the sequence: one token per character, or tokens separated by spaces/commas",
    )
    parser.add_argument("--k", type=int, required=True, help="number of hops (>= 0)")
    parser.add_argument(
        "--json", action="store_true", help="print JSON: tokens, hop and find with -1 for ⊥"
    )


def tokenize(text: str) -> list:
    """Split TEXT into tokens: separated words if it has spaces/commas, else characters.

    Tokens that are all non-negative integers become ints.

    Examples
    --------
    >>> tokenize("abca"), tokenize("3, 1 3")
    (['a', 'b', 'c', 'a'], [3, 1, 3])
    """
    if re.search(r"[\s,]", text):
        words = [w for w in re.split(r"[\s,]+", text) if w]
    else:
        words = list(text)
    if words and all(w.isdigit() and w.isascii() for w in words):
        return [int(w) for w in words]
    return words


def run(args: argparse.Namespace) -> int:
    if args.k < 0:
        raise UsageError(f"--k {args.k}: the number of hops must be >= 0")
    tokens = tokenize(args.text)
    if not tokens:
        raise UsageError("TEXT has no tokens")
    numeric = isinstance(tokens[0], int)
    if numeric and max(tokens) >= 2**63:
        raise UsageError(f"token {max(tokens)} does not fit a 64-bit integer")
    if numeric:
        h = hop(np.asarray(tokens, dtype=np.int64), args.k).tolist()
    else:
        h = [-1 if t == BOTTOM else t for t in hop(tokens, args.k)]
    f = find(np.asarray(tokens) if numeric else tokens, args.k).tolist()
    if args.json:
        emit_json({"k": args.k, "n": len(tokens), "tokens": tokens, "hop": h, "find": f})
        return 0
    show = [str(t) for t in tokens]
    shown_h = [BOTTOM if v == -1 else str(v) for v in h]
    shown_f = [BOTTOM if v == -1 else str(v) for v in f]
    w = max(len(str(len(tokens) - 1)), len(f"find^{args.k}"), *(len(s) for s in show), 5)
    print(
        f"hop_{args.k} at every position of a sequence of N = {len(tokens)} tokens (⊥: undefined)"
    )
    print(f"{'i':>{w}}  {'x[i]':>{w}}  {f'find^{args.k}':>{w}}  {f'hop_{args.k}':>{w}}")
    for i, (x, fi, hi) in enumerate(zip(show, shown_f, shown_h, strict=True)):
        print(f"{i:>{w}}  {x:>{w}}  {fi:>{w}}  {hi:>{w}}")
    return 0
