"""Measure and draw the figures of docs/figures.md (the main job).

``python -m lowerbounds figures [--quick | --full] [--out DIR] [--workers N | --scheduler ADDRESS
| --dask-local N] [--seed S] [--c C] [--json]`` writes PNG + PDF + CSV per figure and
``summary.md`` into DIR (default ``figures/``).  Re-running with the same DIR reuses
finished cells (``DIR/cells.csv``).
"""

from __future__ import annotations

import argparse
import sys

from protocols.cli_support import emit_json

from ..executors import export_memory_budget, open_executor
from ..figures import figures
from ..lifeline import Terminated, sigterm_as_interrupt
from .failures import one_line_errors


def add_arguments(parser: argparse.ArgumentParser) -> None:
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_const", const="quick", dest="preset", help="under a minute (CI)")
    size.add_argument("--full", action="store_const", const="full", dest="preset", help="paper-size grids")
    parser.set_defaults(preset="default")
    parser.add_argument("--out", default="figures", help="output folder (default figures/)")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--workers", type=int, default=None, help="local processes (default one per core; 1 = serial)")
    where.add_argument("--scheduler", default=None, help="address of a running Dask scheduler")
    where.add_argument("--dask-local", type=int, default=None, help="start a Dask LocalCluster with N workers")
    parser.add_argument("--seed", type=int, default=0, help="root seed (default 0)")
    parser.add_argument("--c", type=float, default=None, help="constant drawn with the Omega-bounds (default 1)")
    parser.add_argument("--memory-budget", default=None, metavar="SIZE",
                        help="memory budget per process, e.g. 512M or 2G (default $KPARTY_MEMORY_BUDGET, else 1G)")
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                        help="progress on stderr (default: a bar on a terminal, a line every 10 s otherwise)")
    parser.add_argument("--json", action="store_true", help="print a JSON report")


@one_line_errors
def run(args: argparse.Namespace) -> int:
    export_memory_budget(args.memory_budget)
    if args.seed < 0:
        raise ValueError(f"--seed {args.seed} is negative; seeds are non-negative integers")
    try:
        with sigterm_as_interrupt(), open_executor(workers=args.workers, scheduler=args.scheduler,
                                                   dask_local=args.dask_local) as ex:
            report = figures(args.out, args.preset, seed=args.seed, executor=ex, c=args.c, progress=args.progress)
    except KeyboardInterrupt as exc:
        what = "terminated" if isinstance(exc, Terminated) else "interrupted"
        sys.stderr.write(f"{what}: finished cells are saved in {args.out}/cells.csv; rerun to continue\n")
        return 143 if isinstance(exc, Terminated) else 130
    if args.json:
        emit_json(report.as_dict())
        return 0
    print(
        f"{len(report.files)} files in {report.out}/ ({report.preset} preset, {report.cells} cells, "
        f"{report.ran} measured, {report.reused} reused, {report.seconds:.1f} s); see {report.out}/summary.md"
    )
    for name, t in report.tables.items():
        for m in t.missing:
            print(f"  {name}: not available: {m}")
    return 0
