"""Figure ``mpc_rounds``: the parallelism tradeoff on one page — rounds against k, parallel and sequential.

Left: rounds against k, all measured by the MPC engine — MPC pointer doubling
for hop_k (``⌈log₂ k⌉ + c``, :mod:`protocols.mpc.hop`) and the log-depth
transformer compiled into MPC (its layers ``L = ⌈log₂ k⌉ + 2`` and its
protocol's rounds ``4·D·L + 2``, :mod:`reductions.compilers.transformer_to_mpc`)
— beside the sequential blackboard protocol that follows one pointer per
round (R = k).  Right: the blackboard side of the tradeoff — a protocol with
R < k rounds needs messages of ``s >= c·q/k^5`` bits ([AN21] Prop. 4.12,
:func:`lowerbounds.bounds.pointer_chasing_bits`; an illustration with c = 1,
the constant is unknown), while R = k rounds need only ``⌈log₂ q⌉`` bits.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np

from .. import mpc_cells  # noqa: F401  (registers the "mpc" cell kind)
from ..bounds import ceil_log2, pointer_chasing_bits
from ..cells import Cell, make_cell
from ..plots import style
from .base import Table, by_key
from .presets import Preset

NAME = "mpc_rounds"
TITLE = ("Rounds against k: MPC pointer doubling and the compiled log-depth transformer grow like log k; "
         "sequential protocols need R = k or s >= c·q/k^5 bits (illustration, c unknown)")
COLUMNS = ("source", "k", "N", "rounds", "layers", "c", "s", "trials", "correct", "bits")


def cells(p: Preset) -> list[Cell]:
    hop = [make_cell("mpc", dict(algo="hop", k=k, n=p.mpc_n, delta=p.mpc_delta, trials=p.mpc_trials))
           for k in p.mpc_ks]
    cons = [make_cell("mpc", dict(algo="construction", k=k, n=p.mpc_construction_n, trials=p.mpc_trials))
            for k in p.mpc_ks]
    return hop + cons


def table(rows: Sequence[dict[str, Any]], cs: Sequence[Cell], p: Preset) -> Table:
    data: list[dict[str, Any]] = []
    for r in by_key(rows, cs):
        e = r["extra"]
        if r["name"] == "hop":
            data.append(dict(source="MPC pointer doubling", k=r["k"], N=r["N"], rounds=r["R"], layers=None,
                             c=e["c"], s=e["s"], trials=r["trials"], correct=r["successes"], bits=None))
        else:
            data.append(dict(source="compiled log-depth transformer", k=r["k"], N=r["N"], rounds=r["R"],
                             layers=e["layers"], c=None, s=e["s"], trials=r["trials"], correct=r["successes"],
                             bits=None))
    q = p.mpc_q
    for k in p.mpc_ks:
        data.append(dict(source="blackboard, R = k (one hop per round)", k=k, N=None, rounds=k, layers=None, c=None,
                         s=None, trials=None, correct=None, bits=int(ceil_log2(q))))
        data.append(dict(source=f"blackboard, R < k: c·q/k^5 (q = {q}, c = {p.c:g}, illustration)", k=k, N=None,
                         rounds=None, layers=None, c=None, s=None, trials=None, correct=None,
                         bits=float(pointer_chasing_bits(q, k, p.c))))
    hop_rows = [d for d in data if d["source"] == "MPC pointer doubling"]
    con_rows = [d for d in data if d["source"] == "compiled log-depth transformer"]
    keys: dict[str, Any] = {
        "MPC pointer doubling: rounds - ceil(log2 k) (the constant c, one value for every k)": sorted(
            {d["rounds"] - (d["k"] - 1).bit_length() if d["k"] else d["rounds"] for d in hop_rows}),
        "MPC pointer doubling: sequences correct": f"{sum(d['correct'] for d in hop_rows)} of "
                                                   f"{sum(d['trials'] for d in hop_rows)}",
        "compiled transformer: sequences equal to the model": f"{sum(d['correct'] for d in con_rows)} of "
                                                              f"{sum(d['trials'] for d in con_rows)}",
    }
    for d in hop_rows + con_rows:
        if d["k"] in (max(p.mpc_ks),):
            what = "MPC hop rounds" if d in hop_rows else f"compiled transformer rounds (L = {d['layers']})"
            keys[f"{what} at k = {d['k']}"] = d["rounds"]
    keys[f"blackboard bits needed with R < k at k = {max(p.mpc_ks)} (c = {p.c:g}, illustration)"] = round(
        float(pointer_chasing_bits(q, max(p.mpc_ks), p.c)), 4)
    return Table(COLUMNS, tuple(data), keys)


def _series(rows: Sequence[dict[str, Any]], source: str, col: str) -> tuple[np.ndarray, np.ndarray]:
    sel = sorted((r for r in rows if r["source"].startswith(source) and r[col] not in (None, "")),
                 key=lambda r: int(r["k"]))
    return np.array([int(r["k"]) for r in sel]), np.array([float(r[col]) for r in sel])


def draw(t: Table, p: Preset):
    rows = t.rows
    with style():
        fig, (ax, ax2) = plt.subplots(1, 2, figsize=(7.4, 3.3))
        k, R = _series(rows, "MPC pointer doubling", "rounds")
        ax.plot(k, R, "o-", color="C0", ms=3.5, label=f"MPC pointer doubling (N = {p.mpc_n}, δ = {p.mpc_delta:g})")
        kc, Rc = _series(rows, "compiled log-depth transformer", "rounds")
        ax.plot(kc, Rc, "s-", color="C1", ms=3.5,
                label=f"log-depth transformer compiled to MPC (N = {p.mpc_construction_n})")
        kl, Lc = _series(rows, "compiled log-depth transformer", "layers")
        ax.plot(kl, Lc, "^--", color="C2", ms=3.5, label="its layers L = ⌈log₂ k⌉ + 2")
        kb, Rb = _series(rows, "blackboard, R = k", "rounds")
        ax.plot(kb, Rb, "k:", lw=1.0, label="sequential: one hop per round, R = k")
        ax.set_xscale("log", base=2)
        ax.set_yscale("log", base=2)
        ax.set_xlabel("hops k")
        ax.set_ylabel("rounds (measured) / layers")
        ax.set_title("Parallel: rounds grow like log k")
        ax.legend(fontsize=5.6, loc="upper center", bbox_to_anchor=(0.5, -0.17), ncol=1)
        kb2, bb = _series(rows, "blackboard, R < k", "bits")
        ax2.plot(kb2, bb, "-", color="C3", lw=1.4,
                 label=f"R < k needs s ≥ c·q/k⁵ (q = {p.mpc_q}, c = {p.c:g}: illustration, c unknown)")
        kl2, bl = _series(rows, "blackboard, R = k", "bits")
        ax2.plot(kl2, bl, "k:", lw=1.0, label="R = k rounds: s = ⌈log₂ q⌉ suffices")
        floor = 0.5 * min(float(bb.min(initial=1.0)), float(bl.min(initial=1.0)))
        ax2.fill_between(kb2, floor, bb, color="#D55E00", alpha=0.13, lw=0,
                         label="s < c·q/k⁵ for R < k (c = 1, illustration)")
        ax2.set_xscale("log", base=2)
        ax2.set_yscale("log", base=2)
        ax2.set_xlabel("hops k")
        ax2.set_ylabel("bits per message s")
        ax2.set_title("Sequential (blackboard): R < k needs Ω(q/k⁵) bits")
        ax2.legend(fontsize=5.6, loc="upper center", bbox_to_anchor=(0.5, -0.17), ncol=1)
    return fig
