"""Figure 1, ``tradeoff_map``: every library protocol and compiled model at its (R, s), beside the bound's region."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from protocols.bits import bits_for
from protocols.library.sampling import sampling_budget, sampling_header
from reductions.khop.instance import encoding_alphabet, sequence_length

from ..bounds import pointer_chasing_bits
from ..cells import Cell, make_cell
from ..plots import plot_tradeoff_map
from ..trained_cells import training_missing
from .base import Table, by_key
from .families import CONSTRUCTION, available, budget_params, construction_n, dims_label
from .presets import Preset

NAME = "tradeoff_map"
TITLE = "The parallelism tradeoff: rounds against bits per message for protocols and compiled models"
COLUMNS = ("kind", "name", "k", "q", "N", "R", "s", "trials", "success", "ci_low", "ci_high", "dims")


def _protocols(p: Preset) -> list[dict[str, Any]]:
    k, q = p.map_k, p.map_q
    _, ref = sampling_budget(q, k)
    small = sampling_header(q, k) + bits_for(q)
    base = dict(q=q, k=k, trials=p.map_trials)
    configs = [
        dict(protocol="one-hop-per-round", R=k, **base),
        dict(protocol="one-hop-per-round", R=k - 1, **base),
        dict(protocol="full-dump", R=1, **base),
        dict(protocol="sampling", R=k - 1, s=ref, **base),
        dict(protocol="sampling", R=k - 1, s=max(small, ref // 16), **base),
        dict(protocol="sampling", R=k - 1, s=small, **base),
        dict(protocol="guess", R=1, **base),
    ]
    # at small q two sampling budgets can coincide: one point each
    return [c for n, c in enumerate(configs) if c not in configs[:n]]


def trained_params(family: str, q: int, k: int, layers: int, width: int, steps: int, trials: int) -> dict[str, Any]:
    """A ``trained`` cell: ``family`` trained on (q, k) pointer chasing, measured on ``trials`` fresh instances."""
    return dict(family=family, task="pointer-chasing", q=q, k=k, layers=layers, width=width, steps=steps,
                trials=trials)


def cells(p: Preset) -> list[Cell]:
    N, V = sequence_length(p.map_q, p.map_k), encoding_alphabet(p.map_q)
    fams, _ = available()
    out = [make_cell("protocol", c) for c in _protocols(p)]
    out += [
        make_cell("trained", trained_params(f, p.map_q, p.map_k, p.map_k - 1, p.map_trained_width, p.trained_steps,
                                            p.trained_trials))
        for f in p.trained_families
        if not training_missing()
    ]
    n = construction_n(p.map_k, V, N)
    if n is not None and CONSTRUCTION in fams:
        out.append(make_cell("budget", budget_params(CONSTRUCTION, p.map_k, n, vocab=V)))
    return out


def table(rows: Sequence[dict[str, Any]], cs: Sequence[Cell], p: Preset) -> Table:
    data = []
    for r in by_key(rows, cs):
        if r["kind"] in ("protocol", "trained"):
            data.append(
                dict(
                    kind=r["kind"],
                    name=r["name"],
                    k=r["k"],
                    q=r["q"],
                    N=r["N"],
                    R=r["R"],
                    s=r["s"],
                    trials=r["trials"],
                    success=r["success"],
                    ci_low=r["ci_low"],
                    ci_high=r["ci_high"],
                    dims=f"L={r['extra']['layers']}, m={r['extra']['width']}, p={r['extra']['precision']}, "
                    f"{r['extra']['steps']} steps" if r["kind"] == "trained" else "",
                )
            )
        else:
            name = r["name"] if r["N"] == sequence_length(p.map_q, p.map_k) else f"{r['name']} (N = {r['N']})"
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
    keys: dict[str, Any] = {
        f"shaded (illustration, the theorem's constant is unknown): R < {p.map_k} and s < c*q/k^5 = {bound:.3g} bits "
        f"with c = {p.c:g}": ""
    }
    for r in data:
        what = {"protocol": "protocol", "trained": "trained model", "model": "model (position only)"}[r["kind"]]
        success = ""
        if r["success"] is not None:
            success = f": success {r['success']:.4f} [{r['ci_low']:.3f}, {r['ci_high']:.3f}]"
        keys[f"{what} {r['name']} at R={r['R']}, s={r['s']}{success}"] = r["dims"]
    fams, missing = available()
    N = sequence_length(p.map_q, p.map_k)
    n = construction_n(p.map_k, encoding_alphabet(p.map_q), N)
    if CONSTRUCTION in fams and n != N:
        missing.append(
            f"the log-depth construction over {encoding_alphabet(p.map_q)} symbols needs more than 64-bit fixed point "
            f"at N = {N}; " + (f"it is drawn at the largest N it supports, {n}" if n else "not drawn")
        )
    if training_missing():
        missing.append(training_missing())
    return Table(COLUMNS, tuple(data), keys, tuple(missing))


def draw(t: Table, p: Preset):
    return plot_tradeoff_map(t.rows, k=p.map_k, q=p.map_q, c=p.c)
