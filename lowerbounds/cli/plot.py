"""Redraw the figures from an existing output folder's measurements, without measuring anything.

``python -m lowerbounds plot --out DIR [--quick | --full] [--c C] [--json]`` reads ``DIR/cells.csv``
(written by ``figures``) and rewrites every figure's CSV, PNG and PDF — e.g. after
changing the style or the constant c.
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

from protocols.cli_support import emit_json
from protocols.validation import check_real

from ..figures.job import _plan, render
from ..figures.presets import PRESETS
from ..results import read_results
from .failures import one_line_errors


def add_arguments(parser: argparse.ArgumentParser) -> None:
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_const", const="quick", dest="preset")
    size.add_argument("--full", action="store_const", const="full", dest="preset")
    parser.set_defaults(preset="default")
    parser.add_argument("--out", default="figures", help="folder holding cells.csv (default figures/)")
    parser.add_argument("--c", type=float, default=None, help="constant drawn with the Omega-bounds")
    parser.add_argument("--json", action="store_true", help="print a JSON report (folder, files)")


@one_line_errors
def run(args: argparse.Namespace) -> int:
    if args.c is not None and not check_real("--c", args.c) > 0:
        raise ValueError(f"--c {args.c!r}; the constant of the Omega-bounds must be > 0")
    cells = Path(args.out) / "cells.csv"
    if not cells.is_file():
        raise ValueError(f"{cells} does not exist; run `python -m lowerbounds figures --out {args.out}` first")
    p = PRESETS[args.preset] if args.c is None else replace(PRESETS[args.preset], c=args.c)
    plan = _plan(p)
    rows = read_results(cells)
    have = {r["key"] for r in rows}
    lacking = sum(1 for _, cs in plan for c in cs if c.key not in have)
    if lacking:
        raise ValueError(f"{cells} lacks {lacking} cell(s) of the {args.preset} preset; run `figures` with that preset")
    _, files = render(args.out, p, rows, plan)
    if args.json:
        emit_json({"out": str(args.out), "preset": args.preset, "files": [str(f) for f in files]})
        return 0
    print(f"redrew {len(files)} files in {args.out}/")
    return 0
