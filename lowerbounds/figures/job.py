"""The main job: measure everything the figures plot, draw them, and write ``summary.md``.

All measurements run as one sweep (:func:`lowerbounds.sweep.sweep`) into
``OUT/cells.csv``, so re-running with the same ``--out`` reuses every finished
cell, an interrupted run resumes, and ``--scheduler`` sends the cells to Dask.
Each figure then turns its rows into exactly the table it plots
(``OUT/<name>.csv``) and draws ``OUT/<name>.png`` and ``OUT/<name>.pdf``.
"""

from __future__ import annotations

import csv
import json
import os
import time
from concurrent.futures import Executor
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from types import ModuleType
from typing import Any

from protocols.progress import progress as progress_report
from protocols.validation import check_real

from .. import model_cells, trained_cells  # noqa: F401  (register the "budget", "depth" and "trained" cell kinds)
from ..errors import GridError, ResultsError
from ..grid import Grid
from ..plots import save
from ..results import environment, format_value
from ..sweep import sweep
from . import (
    depth_hop,
    model_budgets,
    mpc_rounds,
    rounds_cliff,
    success_vs_bits,
    threshold_exponent,
    threshold_scaling,
    tradeoff_map,
    trained_models,
)
from .base import Table
from .presets import PRESETS, Preset

__all__ = ["RECIPES", "FiguresReport", "figures", "render"]

#: The figures of docs/figures.md, in order.
RECIPES: tuple[ModuleType, ...] = (
    tradeoff_map,
    success_vs_bits,
    threshold_scaling,
    rounds_cliff,
    model_budgets,
    depth_hop,
    trained_models,
    mpc_rounds,
    threshold_exponent,
)


@dataclass(frozen=True)
class FiguresReport:
    """What :func:`figures` produced."""

    out: Path
    preset: str
    seed: int
    files: tuple[Path, ...]
    tables: dict[str, Table]
    cells: int
    ran: int
    reused: int
    seconds: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "out": str(self.out),
            "preset": self.preset,
            "seed": self.seed,
            "cells": self.cells,
            "ran": self.ran,
            "reused": self.reused,
            "seconds": round(self.seconds, 2),
            "files": [str(f) for f in self.files],
            "missing": {n: list(t.missing) for n, t in self.tables.items() if t.missing},
        }


def _plan(p: Preset) -> list[tuple[ModuleType, list]]:
    return [(recipe, recipe.cells(p)) for recipe in RECIPES]


def _write_csv(path: Path, t: Table) -> None:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(t.columns)
        for r in t.rows:
            w.writerow([format_value(r[c]) for c in t.columns])


def render(
    out: str | Path, p: Preset, rows: list[dict[str, Any]], plan: list | None = None, progress: bool | None = False
) -> tuple[dict[str, Table], list[Path]]:
    """Tables, CSVs and figures from sweep rows (no measuring); ``progress`` as in :func:`figures`."""
    out = Path(out)
    tables, files = {}, []
    plan = plan or _plan(p)
    with progress_report(len(plan), "figures: drawing", enabled=progress, unit="figure") as bar:
        for recipe, cs in plan:
            t = recipe.table(rows, cs, p)
            tables[recipe.NAME] = t
            _write_csv(out / f"{recipe.NAME}.csv", t)
            files.append(out / f"{recipe.NAME}.csv")
            files += save(recipe.draw(t, p), out / recipe.NAME)
            bar.update(1)
    return tables, files


def figures(
    out: str | Path = "figures",
    preset: str = "default",
    *,
    seed: int = 0,
    executor: Executor | None = None,
    workers: int | None = None,
    c: float | None = None,
    progress: bool | None = None,
) -> FiguresReport:
    """Measure, tabulate and draw the figures of docs/figures.md into ``out``.

    Parameters
    ----------
    out : output folder; re-running with the same folder reuses finished cells.
    preset : ``"quick"``, ``"default"`` or ``"full"`` (:data:`PRESETS`).
    seed : root seed of every measurement.
    executor : any :class:`concurrent.futures.Executor` (e.g. Dask's); default a
        process pool of ``workers`` processes (one per core; 1 = serial).
    c : the constant drawn with the Omega-bounds (default the preset's, 1).
    progress : False: silent; True or None: a bar on a terminal, else a line
        every 10 s (cells measured, then figures drawn; :mod:`protocols.progress`).
    """
    t0 = time.perf_counter()
    if preset not in PRESETS:
        raise GridError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")
    if c is not None and not check_real("c", c, error=GridError) > 0:
        raise GridError(f"c = {c!r}; the constant of the Omega-bounds must be > 0")
    p = PRESETS[preset] if c is None else replace(PRESETS[preset], c=float(c))
    out = output_folder(out)
    plan = _plan(p)
    spec = {
        "description": f"kparty figures, preset {preset}",
        "seed": seed,
        "cells": [{"kind": cell.kind, **cell.params} for _, cs in plan for cell in cs],
    }
    results = out / "cells.csv"
    # Trained weights live beside the results, so a resumed run never retrains (pool workers
    # started by the sweep inherit the variable; a user's own setting wins).
    with trained_cells.weights_cache(out / "weights"):
        res = sweep(
            Grid.from_spec(spec),
            out=results,
            executor=executor,
            workers=workers,
            seed=seed,
            resume=True,  # reuse whatever a previous run of this grid finished (another grid is refused)
            progress=progress,
            desc="figures: measuring",
        )
    tables, files = render(out, p, list(res.rows), plan, progress)
    seconds = time.perf_counter() - t0
    report = FiguresReport(out, preset, seed, tuple(files), tables, len(res.rows), res.ran, res.skipped, seconds)
    (out / "summary.md").write_text(summary(report, p, res.executor), encoding="utf-8")
    return report


def output_folder(out: str | Path) -> Path:
    """``out`` as a writable folder (created if missing), or a :class:`ResultsError` saying why not."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ResultsError(f"--out {str(out)!r} is an existing file; the figures need a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ResultsError(f"cannot create the output folder {str(out)!r}: {exc.strerror or exc}") from None
    if not os.access(out, os.W_OK | os.X_OK):
        raise ResultsError(f"the output folder {str(out)!r} is not writable")
    return out


def summary(r: FiguresReport, p: Preset, executor: dict[str, Any]) -> str:
    """``summary.md``: every figure with its files, columns and key numbers; seed, grid, version, time."""
    env = environment()
    lines = [
        "# kparty figures",
        "",
        f"- preset: `{r.preset}`; root seed: `{r.seed}`; constant in every Omega-bound: c = {p.c:g}",
        f"- kparty {env.get('packages', {}).get('kparty', '?')}, git commit `{env.get('git_commit') or 'n/a'}`, "
        f"python {env.get('python', '?')}",
        f"- cells: {r.cells} ({r.ran} measured now, {r.reused} reused from `cells.csv`); "
        f"executor: {executor.get('executor', '?')} with "
        f"{executor.get('workers', '?')} worker(s)",
        f"- wall time: {r.seconds:.1f} s",
        f"- grid (preset parameters): `{json.dumps(asdict(p))}`",
        "",
    ]
    for recipe in RECIPES:
        t = r.tables[recipe.NAME]
        lines += [
            f"## {recipe.NAME}",
            "",
            recipe.TITLE + ".",
            "",
            f"How to read it: docs/figures.md §{recipe.NAME}.",
            "",
            f"Files: `{recipe.NAME}.png`, `{recipe.NAME}.pdf`, `{recipe.NAME}.csv` ({len(t.rows)} rows).",
            "",
            f"Columns: {', '.join(f'`{c}`' for c in t.columns)}",
            "",
            "Key numbers:",
            "",
        ]
        lines += [f"- {k}" + (f": {v}" if v != "" else "") for k, v in t.key_numbers.items()] or ["- (none)"]
        if t.missing:
            lines += ["", "Not available (reported, not drawn):", ""] + [f"- {m}" for m in t.missing]
        lines.append("")
    return "\n".join(lines)
