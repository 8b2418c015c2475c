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
COLUMNS = ("family", "dims", "k", "N", "R", "s", "measured", "trials", "bits_formula", "bound", "below_bound")
#: Families whose model (and so whose verification) costs time quadratic in N: run only up to N = 1000.
QUADRATIC = {"transformer", CONSTRUCTION}


def run_trials(p: Preset, family: str, N: int) -> int:
    """How many sampled inputs the compiled protocol of ``family`` at length N runs on (0: compiled only).

    Examples
    --------
    >>> from lowerbounds.figures.presets import PRESETS
    >>> run_trials(PRESETS["quick"], "gru", 1000), run_trials(PRESETS["quick"], "gru", 10**4)
    (2, 0)
    """
    limit = min(p.budget_run_n, 1000) if family in QUADRATIC else p.budget_run_n
    return p.budget_run_trials if N <= limit else 0


def cells(p: Preset) -> list[Cell]:
    fams, _ = available()
    out = [
        make_cell("budget", budget_params(f, p.budget_k, N, vocab=16, verify_trials=run_trials(p, f, N)))
        for f in sorted(fams - {CONSTRUCTION})
        for N in p.budget_ns
    ]
    # The construction's precision grows with N (p = O(log N)); it is drawn where 64-bit fixed point holds it.
    top = construction_n(p.budget_k, 4, max(p.budget_ns)) if CONSTRUCTION in fams else None
    ns = sorted({N for N in p.budget_ns if top and N <= top} | ({top} if top else set()))
    return out + [
        make_cell("budget", budget_params(CONSTRUCTION, p.budget_k, N, vocab=4,
                                          verify_trials=run_trials(p, CONSTRUCTION, N)))
        for N in ns
    ]


def table(rows: Sequence[dict[str, Any]], cs: Sequence[Cell], p: Preset) -> Table:
    data = []
    for r in by_key(rows, cs):
        bound = float(sequence_bits(r["N"], p.budget_k, c=p.c))
        measured = bool(r.get("trials"))
        # Run: the longest message the engine counted (it pads to s, so this is what the protocol used).
        s = int(r["max_bits_used"]) if measured else int(r["s"])
        data.append(
            dict(
                family=r["name"],
                dims=dims_label(r["name"]),
                k=r["k"],
                N=r["N"],
                R=r["R"],
                s=s,
                measured=measured,
                trials=int(r.get("trials") or 0),
                bits_formula=r["extra"]["bits_formula"],
                bound=bound,
                below_bound=bool(r["R"] < p.budget_k and s < bound),
            )
        )
    run = [r for r in data if r["measured"]]
    keys: dict[str, Any] = {
        "compiled protocols run through the engine": (
            f"{len(run)} of {len(data)} (family, N) points, {p.budget_run_trials} sampled inputs each, "
            f"every output and message equal to the model's; the others are compiled, not run"
        ),
    }
    top = max(p.budget_ns)
    for r in data:
        if r["N"] == top:
            keys[f"{r['family']} at N={top}: s (R={r['R']}, {'counted' if r['measured'] else 'compiled, not run'})"] = (
                f"{r['s']} bits vs c*N/k^6 = {r['bound']:.3g} with c = {p.c:g} (illustration) -> "
                f"{'below' if r['below_bound'] else 'above'} it"
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
