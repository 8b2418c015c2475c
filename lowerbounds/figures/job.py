"""The main job: measure everything the six figures plot, draw them, and write ``summary.md``.

All measurements run as one sweep (:func:`lowerbounds.sweep.sweep`) into
``OUT/cells.csv``, so re-running with the same ``--out`` reuses every finished
cell, an interrupted run resumes, and ``--scheduler`` sends the cells to Dask.
Each figure then turns its rows into exactly the table it plots
(``OUT/<name>.csv``) and draws ``OUT/<name>.png`` and ``OUT/<name>.pdf``.
"""

from __future__ import annotations

import csv
import json
import time
from concurrent.futures import Executor
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from types import ModuleType
from typing import Any

from .. import model_cells  # noqa: F401  (registers the "budget" cell kind)
from ..errors import GridError
from ..grid import Grid
from ..plots import save
from ..results import environment, format_value
from ..sweep import sweep
from . import (
    depth_hop,
    model_budgets,
    rounds_cliff,
    success_vs_bits,
    threshold_exponent,
    threshold_scaling,
    tradeoff_map,
)
from .base import Table
from .presets import PRESETS, Preset

__all__ = ["RECIPES", "FiguresReport", "figures", "render"]

#: The six figures of FIGURES.md, in order.
RECIPES: tuple[ModuleType, ...] = (
    tradeoff_map,
    success_vs_bits,
    threshold_scaling,
    rounds_cliff,
    model_budgets,
    depth_hop,
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
    out: str | Path, p: Preset, rows: list[dict[str, Any]], plan: list | None = None
) -> tuple[dict[str, Table], list[Path]]:
    """Tables, CSVs and figures from sweep rows (no measuring)."""
    out = Path(out)
    tables, files = {}, []
    for recipe, cs in plan or _plan(p):
        t = recipe.table(rows, cs, p)
        tables[recipe.NAME] = t
        _write_csv(out / f"{recipe.NAME}.csv", t)
        files.append(out / f"{recipe.NAME}.csv")
        files += save(recipe.draw(t, p), out / recipe.NAME)
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
    """Measure, tabulate and draw the six figures of FIGURES.md into ``out``.

    Parameters
    ----------
    out : output folder; re-running with the same folder reuses finished cells.
    preset : ``"quick"``, ``"default"`` or ``"full"`` (:data:`PRESETS`).
    seed : root seed of every measurement.
    executor : any :class:`concurrent.futures.Executor` (e.g. Dask's); default a
        process pool of ``workers`` processes (one per core; 1 = serial).
    c : the constant drawn with the Omega-bounds (default the preset's, 1).
    """
    t0 = time.perf_counter()
    if preset not in PRESETS:
        raise GridError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")
    p = PRESETS[preset] if c is None else replace(PRESETS[preset], c=float(c))
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    plan = _plan(p)
    spec = {
        "description": f"kparty figures, preset {preset}",
        "seed": seed,
        "cells": [{"kind": cell.kind, **cell.params} for _, cs in plan for cell in cs],
    }
    results = out / "cells.csv"
    res = sweep(
        Grid.from_spec(spec),
        out=results,
        executor=executor,
        workers=workers,
        seed=seed,
        resume=results.exists(),
        progress=progress,
    )
    tables, files = render(out, p, list(res.rows), plan)
    seconds = time.perf_counter() - t0
    report = FiguresReport(out, preset, seed, tuple(files), tables, len(res.rows), res.ran, res.skipped, seconds)
    (out / "summary.md").write_text(summary(report, p, res.executor), encoding="utf-8")
    return report


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
