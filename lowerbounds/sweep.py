"""Run a grid of cells on any executor, writing a crash-safe, resumable results table.

:func:`sweep` expands a grid (:mod:`lowerbounds.grid`), skips the cells already
in the output (``resume=True``), submits the rest to a
:class:`concurrent.futures.Executor` (serial, a process pool — the default, one
worker per core — or Dask; see :mod:`lowerbounds.executors`) and writes each
row as it arrives (:mod:`lowerbounds.results`).

Reproducibility: a cell's seed is derived from the root seed and the cell's
canonical key only (:func:`lowerbounds.cells.cell_seed`), so the rows — and
:func:`lowerbounds.results.canonical_table` of the output — are identical
whatever the executor, the number of workers, the completion order, or how
often the sweep was interrupted and resumed.

Examples
--------
>>> grid = {"seed": 1, "cells": [{"kind": "protocol", "protocol": "guess", "q": 16, "k": 2,
...                               "trials": [50, 100]}]}
>>> res = sweep(grid, executor=SerialExecutor(), progress=False)
>>> [(r["trials"], r["R"], r["s"]) for r in res.rows], res.ran, res.skipped
([(50, 1, 1), (100, 1, 1)], 2, 0)
"""

from __future__ import annotations

import csv
import hashlib
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Executor, Future, wait
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from protocols.progress import progress as progress_report
from protocols.validation import check_int

from .cells import CELL_KINDS, Cell, execute_cell
from .errors import CellError, GridError
from .executors import SerialExecutor, describe_executor, open_executor
from .grid import Grid
from .results import ResultsFile, format_row, parse_row

__all__ = ["SweepResult", "sweep"]


@dataclass(frozen=True)
class SweepResult:
    """Result of :func:`sweep`.

    Attributes
    ----------
    rows : one typed row per grid cell, in grid order (resumed rows included).
    seed : the root seed used.
    out : the results CSV (None if the sweep kept rows in memory only).
    ran, skipped : cells run now, and cells found finished in ``out``.
    executor : description of the executor (kind, workers).
    seconds : wall time of this call.
    """

    rows: tuple[dict[str, Any], ...]
    seed: int
    out: Path | None
    ran: int
    skipped: int
    executor: Mapping[str, Any]
    seconds: float

    def as_dict(self) -> dict[str, Any]:
        """Summary without the rows (what ``sweep --json`` prints)."""
        return {"out": None if self.out is None else str(self.out), "seed": self.seed, "cells": len(self.rows),
                "ran": self.ran, "skipped": self.skipped, **self.executor, "seconds": round(self.seconds, 3)}


def _typed(row: Mapping[str, Any]) -> dict[str, Any]:
    """The row exactly as it reads back from the CSV (so fresh and resumed rows look alike)."""
    return parse_row(next(csv.reader([format_row(row)])))


def sweep(
    grid: Grid | Mapping[str, Any] | Sequence[Mapping[str, Any]] | str | Path,
    *,
    out: str | Path | None = None,
    executor: Executor | None = None,
    workers: int | None = None,
    seed: int | None = None,
    resume: bool = False,
    progress: bool | None = None,
    desc: str = "sweep",
    max_in_flight: int | None = None,
    fsync_every: int = 32,
    fsync_seconds: float = 2.0,
) -> SweepResult:
    """Run every cell of ``grid`` and return its rows; with ``out``, append them to a results CSV.

    Parameters
    ----------
    grid : a :class:`~lowerbounds.grid.Grid`, a grid spec (parsed JSON) or a path
        to a grid JSON file (format: :mod:`lowerbounds.grid`).
    out : results CSV (sidecar ``<out>.json``); None keeps rows in memory.
    executor : any :class:`concurrent.futures.Executor` (not shut down here);
        default: a process pool of ``workers`` processes (default one per core;
        ``workers=1`` runs serially in this process), shut down on return.
    seed : root seed (default: the grid's).  Resuming requires the same seed.
    resume : continue an existing ``out``: cut a torn last line and skip the
        cells already in it.  Without it an existing non-empty ``out`` is an error.
    progress : False: silent; True or None (default): a tqdm bar when stderr is a
        terminal, else a line ``desc: done/total cell, elapsed, eta`` every 10 s
        (:func:`protocols.progress.progress`).
    desc : the label of the progress report.
    max_in_flight : most cells submitted at once (default 4 per worker; 1 for
        a serial executor, so every row is written as soon as it is computed).
    fsync_every, fsync_seconds : durability cadence of the results file.

    Raises
    ------
    GridError : malformed grid (nothing runs).
    ResultsError : ``out`` exists without ``resume``, is corrupt, or has another seed.
    CellError : a cell raised; rows finished before it stay in ``out``.
    """
    t0 = time.perf_counter()
    g = Grid.of(grid)
    root = g.seed if seed is None else seed
    check_int("seed", root, low=0, error=GridError)

    with ExitStack() as stack:
        if executor is None:
            executor = stack.enter_context(open_executor(workers=workers))
        info = describe_executor(executor)
        results: ResultsFile | None = None
        finished: dict[str, dict[str, Any]] = {}
        if out is not None:
            results = ResultsFile(out, seed=root, grid=g.to_spec(), keys=[c.key for c in g.cells], resume=resume,
                                  run_info=info, fsync_every=fsync_every, fsync_seconds=fsync_seconds)
            finished = results.finished
        # Submitted in an order fixed by the keys but unrelated to cost, so the average rate so far
        # estimates the time left (grid order puts the expensive cells of a block together).
        todo = sorted((c for c in g.cells if c.key not in finished),
                      key=lambda c: hashlib.sha256(c.key.encode()).digest())
        skipped = len(g) - len(todo)
        rows: dict[str, dict[str, Any]] = {c.key: finished[c.key] for c in g.cells if c.key in finished}
        if max_in_flight is None:
            max_in_flight = 1 if isinstance(executor, SerialExecutor) else 4 * max(1, info.get("workers") or 1)
        completed = False
        try:
            with progress_report(len(g), desc, enabled=progress, initial=skipped, unit="cell") as bar:
                _drive(executor, todo, root, max(1, max_in_flight), rows, results, bar)
            completed = True
        finally:
            if results is not None:
                results.close(completed=completed, skipped=skipped)
    return SweepResult(
        tuple(rows[c.key] for c in g.cells), root, None if out is None else Path(out), len(todo), skipped, info,
        time.perf_counter() - t0,
    )


def _drive(
    executor: Executor,
    todo: list[Cell],
    root: int,
    limit: int,
    rows: dict[str, dict[str, Any]],
    results: ResultsFile | None,
    bar: Any,
) -> None:
    """Submit cells (at most ``limit`` in flight), write each row as its future completes."""
    queue = iter(todo)
    in_flight: dict[Future, Cell] = {}

    def fill() -> None:
        while len(in_flight) < limit:
            cell = next(queue, None)
            if cell is None:
                return
            fut = executor.submit(execute_cell, CELL_KINDS[cell.kind].run, cell.kind, dict(cell.params), cell.key, root)
            in_flight[fut] = cell

    try:
        fill()
        while in_flight:
            done, _ = wait(list(in_flight), return_when=FIRST_COMPLETED)
            for fut in done:
                cell = in_flight.pop(fut)
                try:
                    row = fut.result()
                except Exception as exc:
                    raise CellError(f"cell {cell.key} failed: {type(exc).__name__}: {exc}") from exc
                rows[cell.key] = _typed(row) if results is None else results.append(row)
                bar.update(1)
            fill()
    finally:
        for fut in in_flight:
            fut.cancel()
