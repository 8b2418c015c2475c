"""Measure the exponent α of the best protocol's threshold s*(q, k) ~ q/k^α (docs/definitions.md §10).

``python -m lowerbounds exponent --q 4096 16384 --k-min 8 --k-max 128 --trials 2000 --seed 0
[--per-octave N] [--protocol NAME] [--out results.csv [--resume]]
[--workers N | --scheduler ADDRESS | --dask-local N] [--memory MB] [--json]``

One cell (kind ``exponent-point``, :mod:`lowerbounds.exponent`) per (q, k),
k on a geometric grid from --k-min to min(--k-max, sqrt q); cells run on any
executor and, with --out, are saved as they finish (rerun with --resume to
continue after an interruption).  Prints α with its 95% interval, the regime
2L <= k <= sqrt(q) it is fitted over, local slopes and every point (measured
and closed-form threshold).  JSON keys: alpha, alpha_ci, beta, fit, regime,
points (q, k, threshold, lo, hi, predicted, ...), local_slopes,
closed_form_inside / closed_form_checked, seconds, executor.
"""

from __future__ import annotations

import argparse
import math
import sys

from protocols.cli_support import UsageError, emit_json

from ..executors import open_executor
from ..exponent import DEFAULT_MEMORY, closed_form_point, exponent_cells, summarise, summarise_points
from ..sweep import sweep


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--q", type=int, nargs="+", required=True, help="layer sizes, e.g. 4096 16384")
    parser.add_argument("--k-min", type=int, default=4, help="smallest k (default 4)")
    parser.add_argument("--k-max", type=int, default=None, help="largest k (default and cap: sqrt q)")
    parser.add_argument("--per-octave", type=int, default=1, help="k values per doubling (default 1)")
    parser.add_argument("--trials", type=int, default=2000, help="trials at each tested s (default 2000)")
    parser.add_argument("--protocol", default="sampling", help="library protocol with a closed form (default sampling)")
    parser.add_argument("--seed", type=int, default=0, help="root seed (default 0)")
    parser.add_argument("--memory", type=int, default=DEFAULT_MEMORY >> 20,
                        help="MiB one cell may use for a chunk of trials (default %(default)s)")
    parser.add_argument("--out", default=None, help="results CSV (resumable); default: in memory")
    parser.add_argument("--resume", action="store_true", help="continue an existing --out")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--workers", type=int, default=None, help="local worker processes (1 = in this process)")
    where.add_argument("--scheduler", default=None, metavar="ADDRESS", help="Dask scheduler address")
    where.add_argument("--dask-local", type=int, default=None, metavar="N", help="a Dask LocalCluster of N workers")
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                        help="progress bar on stderr (default: only on a terminal)")
    parser.add_argument("--closed-form", action="store_true",
                        help="no simulation: exact thresholds from the closed form (docs/definitions.md §10)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")


def _check(args: argparse.Namespace) -> None:
    for q in args.q:
        if q < 16:
            raise UsageError(f"--q {q}: need q >= 16 (k from 4 up to sqrt q)")
    if args.k_min < 2:
        raise UsageError(f"--k-min {args.k_min}: need k >= 2 (R = k-1 rounds)")
    if args.k_max is not None and args.k_max < args.k_min:
        raise UsageError(f"--k-max {args.k_max} is below --k-min {args.k_min}")
    if all(args.k_min > math.isqrt(q) for q in args.q):
        raise UsageError(f"--k-min {args.k_min} exceeds sqrt(q) for every --q: no point to measure")
    if not 1 <= args.per_octave <= 8:
        raise UsageError(f"--per-octave {args.per_octave}: use 1..8")
    if args.trials < 10:
        raise UsageError(f"--trials {args.trials}: need at least 10")
    if args.memory < 1:
        raise UsageError(f"--memory {args.memory}: need at least 1 MiB")
    if args.resume and args.out is None:
        raise UsageError("--resume needs --out (the results file to continue)")


def run(args: argparse.Namespace) -> int:
    _check(args)
    cells = exponent_cells(args.q, args.k_min, args.k_max or max(args.q), args.trials, args.per_octave,
                           args.protocol, memory=args.memory << 20)
    if args.closed_form:
        out = summarise_points([closed_form_point(args.protocol, c.params["q"], c.params["k"]) for c in cells],
                               seed=args.seed)
        out["seconds"], out["executor"], out["closed_form"] = 0.0, None, True
        return _print(args, out)
    grid = {"seed": args.seed, "cells": [{"kind": c.kind, **c.params} for c in cells]}
    try:
        with open_executor(workers=args.workers, scheduler=args.scheduler, dask_local=args.dask_local) as ex:
            res = sweep(grid, out=args.out, executor=ex, seed=args.seed, resume=args.resume, progress=args.progress)
    except KeyboardInterrupt:
        where = f"finished cells are saved in {args.out}; rerun with --resume" if args.out else "nothing saved"
        sys.stderr.write(f"interrupted: {where}\n")
        return 130
    out = summarise(res.rows, seed=args.seed)
    out["seconds"], out["executor"], out["closed_form"] = res.seconds, res.executor, False
    return _print(args, out)


def _print(args: argparse.Namespace, out: dict) -> int:
    if args.json:
        emit_json(out)
        return 0
    if out["alpha"] is not None:
        lo, hi = out["alpha_ci"]
        print(f"alpha = {out['alpha']:.3f}  (95% CI [{lo:.3f}, {hi:.3f}]; fit over 2L <= k <= sqrt q: "
              f"{out['fit']['n']} points)")
    else:
        print("alpha: fewer than 3 points inside the regime 2L <= k <= sqrt q; no fit")
    print("    q      k    s* [95% CI]                 closed form   checks")
    for p in out["points"]:
        mark = "*" if p["in_regime"] else " "
        print(f"{p['q']:>6} {p['k']:>5}{mark} {p['threshold']:9.2f} [{p['lo']:8.2f}, {p['hi']:8.2f}]   "
              f"{p['predicted']:9.2f}   {p['closed_form_inside']}/{p['closed_form_checked']} inside CI")
    if out["closed_form"]:
        print("(* in the fit's regime; exact closed-form thresholds, no simulation: the interval measures only "
              "the points' distance from a straight line)")
    else:
        print(f"(* in the fit's regime; {out['seconds']:.1f} s; closed form inside the measured 95% CI at "
              f"{out['closed_form_inside']} of {out['closed_form_checked']} tested s)")
    return 0
