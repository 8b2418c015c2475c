"""Figure 4, ``rounds_cliff``: success against R = 1..k+1 at a fixed small s."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from protocols.bits import bits_for
from protocols.library.sampling import sampling_header

from ..cells import Cell, make_cell
from ..plots import plot_rounds_cliff
from .base import Table, by_key
from .presets import Preset

NAME = "rounds_cliff"
TITLE = "Success against rounds at a fixed small message size: flat near 1/2, then 1 at R = k"
COLUMNS = ("protocol", "k", "q", "R", "s", "trials", "successes", "success", "ci_low", "ci_high")


def _budgets(p: Preset) -> dict[str, int]:
    w = bits_for(p.cliff_q)
    # sampling: the chase state plus one disclosed vertex per message
    return {"one-hop-per-round": w, "sampling": sampling_header(p.cliff_q, p.cliff_k) + w}


def cells(p: Preset) -> list[Cell]:
    return [
        make_cell("protocol", dict(protocol=name, q=p.cliff_q, k=p.cliff_k, R=R, s=s, trials=p.cliff_trials))
        for name, s in _budgets(p).items()
        for R in range(1, p.cliff_k + 2)
    ]


def table(rows: Sequence[dict[str, Any]], cs: Sequence[Cell], p: Preset) -> Table:
    data = [{"protocol": r["name"], **{c: r[c] for c in COLUMNS[1:]}} for r in by_key(rows, cs)]
    keys = {}
    for name in _budgets(p):
        at = {r["R"]: r["success"] for r in data if r["protocol"] == name}
        keys[f"{name}: success at R = k-1 = {p.cliff_k - 1}"] = round(at[p.cliff_k - 1], 4)
        keys[f"{name}: success at R = k = {p.cliff_k}"] = round(at[p.cliff_k], 4)
    return Table(COLUMNS, tuple(data), keys)


def draw(t: Table, p: Preset):
    return plot_rounds_cliff(t.rows, k=p.cliff_k)
