"""Figure 2, ``success_vs_bits``: the sampling protocol at R = k-1 against s, with Clopper–Pearson bands."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from protocols.library.sampling import sampling_budget, sampling_header

from ..bounds import pointer_chasing_bits, sampling_upper_bits
from ..cells import Cell, make_cell
from ..plots import plot_success_vs_bits
from .base import Table, by_key, ints
from .presets import Preset

NAME = "success_vs_bits"
TITLE = "Success of the sampling protocol with R = k-1 rounds against bits per message"
COLUMNS = ("k", "q", "R", "s", "trials", "successes", "success", "ci_low", "ci_high")


def cells(p: Preset) -> list[Cell]:
    out = []
    for k in p.svb_ks:
        _, top = sampling_budget(p.svb_q, k)
        for s in ints(sampling_header(p.svb_q, k), top, p.svb_points):
            out.append(
                make_cell("protocol", dict(protocol="sampling", q=p.svb_q, k=k, R=k - 1, s=s, trials=p.svb_trials))
            )
    return out


def table(rows: Sequence[dict[str, Any]], cs: Sequence[Cell], p: Preset) -> Table:
    data = [{c: r[c] for c in COLUMNS} for r in by_key(rows, cs)]
    keys: dict[str, Any] = {}
    for k in p.svb_ks:
        mine = [r for r in data if r["k"] == k]
        reach = [r["s"] for r in mine if r["success"] >= 2 / 3]
        keys[f"k={k}: least s on the grid with success >= 2/3"] = min(reach) if reach else "none"
        keys[f"k={k}: c*q/k^5 (c={p.c:g})"] = round(float(pointer_chasing_bits(p.svb_q, k, c=p.c)), 3)
        keys[f"k={k}: (q/k)*log2 q"] = round(float(sampling_upper_bits(p.svb_q, k)), 1)
    return Table(COLUMNS, tuple(data), keys)


def draw(t: Table, p: Preset):
    return plot_success_vs_bits(t.rows, q=p.svb_q, c=p.c)
