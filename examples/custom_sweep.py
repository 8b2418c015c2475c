"""A custom sweep written in code, run on a process pool (or Dask), then plotted.

What it shows
-------------
1. A grid as a plain dict (format: ``lowerbounds/grid.py``): the sampling
   protocol with one round fewer than the chase (R = k - 1) across bits per
   message s, for several k, plus a threshold search for the least s reaching
   success 2/3.
2. ``lowerbounds.sweep`` on a local process pool, writing a crash-safe CSV;
   running it again with ``resume=True`` reuses every finished cell.  Pass
   ``--scheduler ADDRESS`` (a running ``dask scheduler``) or ``--dask-local N``
   to run the same cells on Dask instead — the rows come out identical,
   because each cell's seed depends only on the root seed and the cell.
3. A matplotlib plot of success against s with Clopper–Pearson bands, in the
   package's style (``lowerbounds.plots.style()``), with the lower bound
   c·q/k^5 marked, saved as PNG.

Run it (from the repository root, after ``pip install -e .``)::

    python examples/custom_sweep.py                      # q = 256, k = 3, 4; 2 processes
    python examples/custom_sweep.py --dask-local 2       # the same on a Dask LocalCluster
    python examples/custom_sweep.py --scheduler tcp://HOST:8786
    python examples/custom_sweep.py --small --out /tmp/sweep   # tiny, a few seconds
"""

from __future__ import annotations

import argparse
from pathlib import Path

from lowerbounds import open_executor, pointer_chasing_bits, sweep
from lowerbounds.plots import style
from protocols import bits_for


def grid(q: int, ks: list[int], trials: int, points: int) -> dict:
    # A sampling hop writes a whole vertex (docs/definitions.md §10): s below ceil(log2 q) is invalid.
    s_min = bits_for(q) + 1
    # "k - 1" and {"geom": ...} are grid expressions: evaluated per cell, in the order written.
    return {
        "description": "sampling protocol with R = k - 1: success against s",
        "seed": 0,
        "cells": [
            {
                "kind": "protocol",
                "protocol": "sampling",
                "q": q,
                "k": ks,
                "R": "k - 1",
                "s": {"geom": [s_min, 8 * q, points]},
                "trials": trials,
            },
            {"kind": "threshold", "protocol": "sampling", "q": q, "k": ks, "R": "k - 1", "resolution": 1.25},
        ],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--q", type=int, default=256)
    ap.add_argument("--k", type=int, nargs="+", default=[3, 4])
    ap.add_argument("--trials", type=int, default=1000)
    ap.add_argument("--points", type=int, default=10, help="values of s per k")
    ap.add_argument("--out", default="results/custom_sweep", help="folder for the CSV and the PNG")
    where = ap.add_mutually_exclusive_group()
    where.add_argument("--workers", type=int, default=2, help="local processes (1 = serial)")
    where.add_argument("--scheduler", default=None, metavar="ADDRESS", help="a running Dask scheduler")
    where.add_argument("--dask-local", type=int, default=None, metavar="N", help="a Dask LocalCluster of N workers")
    ap.add_argument("--small", action="store_true", help="tiny sizes (for the test suite)")
    args = ap.parse_args()
    if args.small:
        args.q, args.k, args.trials, args.points = 32, [3], 200, 5
    workers = None if args.scheduler or args.dask_local else args.workers

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    csv = out / "sampling.csv"
    g = grid(args.q, args.k, args.trials, args.points)
    # open_executor picks a process pool or Dask and shuts it down afterwards.  (Forked pool
    # workers inherit the results file's lock, so each sweep of one CSV gets its own executor.)
    with open_executor(workers=workers, scheduler=args.scheduler, dask_local=args.dask_local) as ex:
        res = sweep(g, out=csv, executor=ex, resume=csv.exists())
    print(f"sweep: {res.ran} cells run, {res.skipped} reused from {csv} ({res.executor['executor']})")
    again = sweep(g, out=csv, workers=1, resume=True)  # every cell is finished: nothing runs
    print(f"again: {again.ran} cells run, {again.skipped} reused")

    curves = [r for r in res.rows if r["kind"] == "protocol"]
    thresholds = {r["k"]: r["s"] for r in res.rows if r["kind"] == "threshold"}
    import matplotlib.pyplot as plt  # after the sweep: worker processes need no matplotlib

    with style():
        fig, ax = plt.subplots(figsize=(7, 3.4))
        for k in args.k:
            rows = sorted((r for r in curves if r["k"] == k), key=lambda r: r["s"])
            s = [r["s"] for r in rows]
            (line,) = ax.plot(s, [r["success"] for r in rows], marker="o", label=f"k = {k}, R = {k - 1}")
            ax.fill_between(
                s, [r["ci_low"] for r in rows], [r["ci_high"] for r in rows], color=line.get_color(), alpha=0.2, lw=0
            )
            ax.axvline(
                float(pointer_chasing_bits(args.q, k)),
                color=line.get_color(),
                ls=":",
                label=f"bound $c\\,q/k^5$, c = 1 (k = {k})",
            )
            if thresholds.get(k) is not None:
                ax.plot(
                    [thresholds[k]],
                    [2 / 3],
                    marker="*",
                    ms=11,
                    color=line.get_color(),
                    ls="none",
                    label=f"least s reaching 2/3 (k = {k})",
                )
        ax.axhline(2 / 3, color="0.5", lw=0.8)
        ax.set_xscale("log")
        ax.set_xlabel("bits per message s")
        ax.set_ylabel("success probability")
        ax.set_title(f"sampling protocol, pointer chasing q = {args.q}")
        ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.02, 1))
        png = out / "success_vs_s.png"
        fig.savefig(png, dpi=150, bbox_inches="tight")
    for k in args.k:
        print(
            f"k={k}: least s reaching 2/3 = {thresholds.get(k)}; lower bound c·q/k^5 = "
            f"{float(pointer_chasing_bits(args.q, k)):.3g} (c = 1)"
        )
    print(f"wrote {csv} and {png}")


if __name__ == "__main__":
    main()
