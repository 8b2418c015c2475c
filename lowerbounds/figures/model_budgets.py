"""Figure 5, ``model_budgets``: each compiled model family's message size against sequence length."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..bounds import sequence_bits
from ..cells import Cell, make_cell
from ..plots import plot_model_budgets
from .base import Table, by_key
from .families import CONSTRUCTION, available, budget_params, construction_n, dims_label
from .presets import Preset

NAME = "model_budgets"
TITLE = "Bits per message of compiled models against sequence length N, beside c*N/k^6"
COLUMNS = ("family", "dims", "k", "N", "R", "s", "bits_formula", "bound", "ruled_out")


def cells(p: Preset) -> list[Cell]:
    fams, _ = available()
    out = [
        make_cell("budget", budget_params(f, p.budget_k, N, vocab=16))
        for f in sorted(fams - {CONSTRUCTION})
        for N in p.budget_ns
    ]
    # The construction's precision grows with N (p = O(log N)); it is drawn where 64-bit fixed point holds it.
    top = construction_n(p.budget_k, 4, max(p.budget_ns)) if CONSTRUCTION in fams else None
    ns = sorted({N for N in p.budget_ns if top and N <= top} | ({top} if top else set()))
    return out + [make_cell("budget", budget_params(CONSTRUCTION, p.budget_k, N, vocab=4)) for N in ns]


def table(rows: Sequence[dict[str, Any]], cs: Sequence[Cell], p: Preset) -> Table:
    data = []
    for r in by_key(rows, cs):
        bound = float(sequence_bits(r["N"], p.budget_k, c=p.c))
        data.append(
            dict(
                family=r["name"],
                dims=dims_label(r["name"]),
                k=r["k"],
                N=r["N"],
                R=r["R"],
                s=r["s"],
                bits_formula=r["extra"]["bits_formula"],
                bound=bound,
                ruled_out=bool(r["R"] < p.budget_k and r["s"] < bound),
            )
        )
    keys: dict[str, Any] = {}
    top = max(p.budget_ns)
    for r in data:
        if r["N"] == top:
            keys[f"{r['family']} at N={top}: s (R={r['R']})"] = (
                f"{r['s']} bits vs c*N/k^6 = {r['bound']:.3g} -> {'ruled out' if r['ruled_out'] else 'not ruled out'}"
            )
    fams, missing = available()
    top = construction_n(p.budget_k, 4, max(p.budget_ns))
    if CONSTRUCTION in fams and top != max(p.budget_ns):
        missing.append(
            f"the log-depth construction (alphabet 4) fits 64-bit fixed point only up to N = {top}; "
            "larger N are not drawn for it"
        )
    return Table(COLUMNS, tuple(data), keys, tuple(missing))


def draw(t: Table, p: Preset):
    return plot_model_budgets([{**r, "family": r["family"]} for r in t.rows], k=p.budget_k, c=p.c)
