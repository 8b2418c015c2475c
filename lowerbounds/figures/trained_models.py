"""Figure ``trained_models``: trained recurrent and kernel-attention models on encoded pointer chasing.

The empirical face of the lower bound: models of each family are trained on
(q, k) pointer chasing encoded as k-hop sequences (docs/definitions.md §4), with
L = k − 1 layers (R = L < k rounds: the bound's regime) and L = k (R ≥ k), at
several widths m, so their compiled message sizes s = bits of the state spread
over a range.  Each point is the compiled protocol's success on fresh instances,
run through the engine and checked against the fixed-point model, with its
Clopper–Pearson interval, beside c·q/k⁵ (an illustration: the constant is unknown).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..bounds import pointer_chasing_bits
from ..cells import Cell, make_cell
from ..plots import plot_trained_models
from ..trained_cells import training_missing
from .base import Table, by_key
from .presets import Preset
from .tradeoff_map import trained_params

NAME = "trained_models"
TITLE = "Success of trained models on encoded pointer chasing against bits per message s, for R = L < k and R = L = k"
COLUMNS = ("family", "k", "q", "N", "layers", "width", "R", "s", "trials", "success", "ci_low", "ci_high",
           "fixed_success", "float_success", "train_accuracy", "steps")


def cells(p: Preset) -> list[Cell]:
    if training_missing():
        return []
    return [
        make_cell("trained", trained_params(f, p.tm_q, p.tm_k, L, m, p.tm_steps, p.trained_trials))
        for f in p.tm_families
        for L in (p.tm_k - 1, p.tm_k)
        for m in p.tm_widths
    ]


def table(rows: Sequence[dict[str, Any]], cs: Sequence[Cell], p: Preset) -> Table:
    data = [
        dict(family=r["name"], k=r["k"], q=r["q"], N=r["N"], layers=r["extra"]["layers"], width=r["extra"]["width"],
             R=r["R"], s=r["s"], trials=r["trials"], success=r["success"], ci_low=r["ci_low"], ci_high=r["ci_high"],
             fixed_success=r["extra"]["fixed_success"], float_success=r["extra"]["float_success"],
             train_accuracy=r["extra"]["train_accuracy"], steps=r["extra"]["steps"])
        for r in by_key(rows, cs)
    ]
    bound = float(pointer_chasing_bits(p.tm_q, p.tm_k, c=p.c))
    keys: dict[str, Any] = {
        f"c*q/k^5 with c = {p.c:g} (illustration, constant unknown)": f"{bound:.3g} bits",
        "what success is": (
            f"fraction of {p.trained_trials} fresh (q = {p.tm_q}, k = {p.tm_k}) instances on which the compiled "
            "protocol (checked bit for bit against the fixed-point model) outputs 2q + class(v_(k+1))"
        ),
    }
    for f in p.tm_families:
        for L in (p.tm_k - 1, p.tm_k):
            pts = [r for r in data if r["family"] == f and r["layers"] == L]
            if pts:
                best = max(pts, key=lambda r: r["success"])
                keys[f"{f}, L = {L} ({'R < k' if L < p.tm_k else 'R >= k'}): best success"] = (
                    f"{best['success']:.3f} [{best['ci_low']:.3f}, {best['ci_high']:.3f}] at m = {best['width']}, "
                    f"s = {best['s']} bits"
                )
    return Table(COLUMNS, tuple(data), keys, tuple(filter(None, [training_missing()])))


def draw(t: Table, p: Preset):
    return plot_trained_models(t.rows, q=p.tm_q, k=p.tm_k, c=p.c)
