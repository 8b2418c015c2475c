"""Figure 3, ``threshold_scaling``: the least s reaching success 2/3 at R = k-1, against q (log–log)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..bounds import pointer_chasing_bits
from ..cells import Cell, make_cell
from ..plots import plot_threshold_scaling
from .base import Table, by_key
from .presets import Preset

NAME = "threshold_scaling"
TITLE = "Empirical threshold s*(q) of the sampling protocol at R = k-1, beside c*q/k^5"
COLUMNS = ("k", "q", "R", "threshold", "lo", "hi", "trials", "bound")


def cells(p: Preset) -> list[Cell]:
    return [
        make_cell(
            "threshold",
            dict(protocol="sampling", q=q, k=k, R=k - 1, max_trials=p.thr_max_trials, resolution=p.thr_resolution),
        )
        for k in p.thr_ks
        for q in p.thr_qs
    ]


def table(rows: Sequence[dict[str, Any]], cs: Sequence[Cell], p: Preset) -> Table:
    data = []
    for r in by_key(rows, cs):
        if r["s"] is None:  # no threshold in range: nothing to plot, say so below
            continue
        data.append(
            dict(
                k=r["k"],
                q=r["q"],
                R=r["R"],
                threshold=r["s"],
                lo=r["s_lo"],
                hi=r["s_hi"],
                trials=r["trials"],
                bound=float(pointer_chasing_bits(r["q"], r["k"], c=p.c)),
            )
        )
    keys: dict[str, Any] = {}
    for k in p.thr_ks:
        mine = sorted((r for r in data if r["k"] == k), key=lambda r: r["q"])
        if len(mine) > 1:
            slope = np.polyfit(np.log([r["q"] for r in mine]), np.log([r["threshold"] for r in mine]), 1)[0]
            keys[f"k={k}: fitted log-log slope of s*(q)"] = round(float(slope), 3)
        if mine:
            keys[f"k={k}: s* at q={mine[-1]['q']} (bound c*q/k^5 = {mine[-1]['bound']:.3g})"] = mine[-1]["threshold"]
    keys["trials spent by all searches"] = sum(r["trials"] for r in data)
    missing = tuple(
        f"no threshold found in range for q={r['q']}, k={r['k']}" for r in by_key(rows, cs) if r["s"] is None
    )
    return Table(COLUMNS, tuple(data), keys, missing)


def draw(t: Table, p: Preset):
    return plot_threshold_scaling(t.rows, c=p.c)
