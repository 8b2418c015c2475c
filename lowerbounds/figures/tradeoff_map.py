"""Figure 1, ``tradeoff_map``: every library protocol and compiled model at its (R, s), beside the forbidden region."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from protocols.bits import bits_for

from ..bounds import pointer_chasing_bits
from ..cells import Cell, make_cell
from ..plots import plot_tradeoff_map
from .base import Table, by_key, sampling_header
from .families import CONSTRUCTION, available, budget_params, construction_n, dims_label
from .presets import Preset

NAME = "tradeoff_map"
TITLE = "The parallelism tradeoff: rounds against bits per message for protocols and compiled models"
COLUMNS = ("kind", "name", "k", "q", "N", "R", "s", "trials", "success", "ci_low", "ci_high", "dims")


def _protocols(p: Preset) -> list[dict[str, Any]]:
    k, q = p.map_k, p.map_q
    ref = -(-q // (k - 1)) * bits_for(q)
    small = sampling_header(q, k) + bits_for(q)
    base = dict(q=q, k=k, trials=p.map_trials)
    return [
        dict(protocol="one-hop-per-round", R=k, **base),
        dict(protocol="one-hop-per-round", R=k - 1, **base),
        dict(protocol="full-dump", R=1, **base),
        dict(protocol="sampling", R=k - 1, s=ref, **base),
        dict(protocol="sampling", R=k - 1, s=max(small, ref // 16), **base),
        dict(protocol="sampling", R=k - 1, s=small, **base),
        dict(protocol="guess", R=1, **base),
    ]


def cells(p: Preset) -> list[Cell]:
    N = 2 * p.map_k * p.map_q + 1
    fams, _ = available()
    out = [make_cell("protocol", c) for c in _protocols(p)]
    out += [
        make_cell("budget", budget_params(f, p.map_k, N, vocab=2 * p.map_q + 2)) for f in sorted(fams - {CONSTRUCTION})
    ]
    n = construction_n(p.map_k, 2 * p.map_q + 2, N)
    if n is not None and CONSTRUCTION in fams:
        out.append(make_cell("budget", budget_params(CONSTRUCTION, p.map_k, n, vocab=2 * p.map_q + 2)))
    return out


def table(rows: Sequence[dict[str, Any]], cs: Sequence[Cell], p: Preset) -> Table:
    data = []
    for r in by_key(rows, cs):
        if r["kind"] == "protocol":
            data.append(
                dict(
                    kind="protocol",
                    name=r["name"],
                    k=r["k"],
                    q=r["q"],
                    N=None,
                    R=r["R"],
                    s=r["s"],
                    trials=r["trials"],
                    success=r["success"],
                    ci_low=r["ci_low"],
                    ci_high=r["ci_high"],
                    dims="",
                )
            )
        else:
            name = r["name"] if r["N"] == 2 * p.map_k * p.map_q + 1 else f"{r['name']} (N = {r['N']})"
            data.append(
                dict(
                    kind="model",
                    name=name,
                    k=r["k"],
                    q=p.map_q,
                    N=r["N"],
                    R=r["R"],
                    s=r["s"],
                    trials=None,
                    success=None,
                    ci_low=None,
                    ci_high=None,
                    dims=dims_label(r["name"]),
                )
            )
    bound = float(pointer_chasing_bits(p.map_q, p.map_k, c=p.c))
    keys: dict[str, Any] = {f"forbidden: R < {p.map_k} and s < c*q/k^5 = {bound:.3g} bits (c={p.c:g})": ""}
    for r in data:
        success = f": success {r['success']:.4f}" if r["kind"] == "protocol" else ""
        keys[f"{r['kind']} {r['name']} at R={r['R']}, s={r['s']}{success}"] = ""
    fams, missing = available()
    N = 2 * p.map_k * p.map_q + 1
    n = construction_n(p.map_k, 2 * p.map_q + 2, N)
    if CONSTRUCTION in fams and n != N:
        missing.append(
            f"the log-depth construction over {2 * p.map_q + 2} symbols needs more than 64-bit fixed point "
            f"at N = {N}; " + (f"it is drawn at the largest N it supports, {n}" if n else "not drawn")
        )
    return Table(COLUMNS, tuple(data), keys, tuple(missing))


def draw(t: Table, p: Preset):
    return plot_tradeoff_map(t.rows, k=p.map_k, q=p.map_q, c=p.c)
