"""Run a grid of cells (protocols, threshold searches, ...) into a crash-safe, resumable results CSV.

``python -m lowerbounds sweep --grid GRID.json --out results.csv
[--workers N | --scheduler ADDRESS | --dask-local N] [--resume] [--seed S] [--json]``

The grid format is documented in :mod:`lowerbounds.grid` (example:
``examples/grid_sampling.json``); the CSV columns in :mod:`lowerbounds.results`.
Default executor: a process pool with one worker per core (``--workers 1``
runs in this process).  Re-running with ``--resume`` and the same ``--out``
skips finished cells.
"""

from __future__ import annotations

import argparse
import sys
from contextlib import nullcontext
from pathlib import Path

from protocols.cli_support import emit_json

from ..executors import export_memory_budget, open_executor
from ..lifeline import Terminated, sigterm_as_interrupt
from ..sweep import sweep
from ..trained_cells import weights_cache
from .failures import one_line_errors


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--grid", required=True, help="grid JSON file (format: lowerbounds.grid)")
    parser.add_argument("--out", required=True, help="results CSV (sidecar: OUT.json)")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--workers", type=int, default=None,
                       help="local worker processes (default: one per core; 1 = in this process)")
    where.add_argument("--scheduler", default=None, metavar="ADDRESS",
                       help="Dask scheduler address, e.g. tcp://host:8786 (workers must have kparty installed)")
    where.add_argument("--dask-local", type=int, default=None, metavar="N",
                       help="start a Dask LocalCluster with N single-threaded workers")
    parser.add_argument("--resume", action="store_true", help="continue an existing --out, skipping finished cells")
    parser.add_argument("--seed", type=int, default=None, help="root seed (default: the grid's seed, else 0)")
    parser.add_argument("--memory-budget", default=None, metavar="SIZE",
                        help="memory budget per process, e.g. 512M or 2G (default $KPARTY_MEMORY_BUDGET, else 1G)")
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                        help="progress bar on stderr (default: only on a terminal)")
    parser.add_argument("--json", action="store_true", help="print a JSON summary")


@one_line_errors
def run(args: argparse.Namespace) -> int:
    export_memory_budget(args.memory_budget)
    # Trained weights ("trained" cells) are cached beside the results; set before workers start.
    cache = Path(args.out).with_name(Path(args.out).stem + "-weights") if args.out else None
    try:
        with weights_cache(cache) if cache else nullcontext(), sigterm_as_interrupt(), \
                open_executor(workers=args.workers, scheduler=args.scheduler, dask_local=args.dask_local) as ex:
            res = sweep(args.grid, out=args.out, executor=ex, seed=args.seed, resume=args.resume,
                        progress=args.progress)
    except KeyboardInterrupt as exc:
        what = "terminated" if isinstance(exc, Terminated) else "interrupted"
        sys.stderr.write(f"{what}: finished cells are saved in {args.out}; rerun with --resume to continue\n")
        return 143 if isinstance(exc, Terminated) else 130
    if args.json:
        emit_json(res.as_dict())
        return 0
    where = res.executor.get("executor")
    n = res.executor.get("workers")
    print(f"sweep: {len(res.rows)} cells: ran {res.ran}, skipped {res.skipped} already finished; "
          f"executor {where} ({n} worker{'s' if n != 1 else ''}); {res.seconds:.1f} s; seed {res.seed}")
    print(f"results: {res.out} (sidecar {res.out}.json)")
    return 0
