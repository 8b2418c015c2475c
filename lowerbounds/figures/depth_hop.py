"""Figure 6, ``depth_hop``: depth against k for the log-depth construction (measured) and trained transformers.

The construction's least exact depth is measured: for each k the smallest L in
the grid whose construction is right at every position of every sampled
sequence.  The trained models' errors are [SHT24]'s released data, shipped as
``lowerbounds/data/sht24_trained_errors.csv`` (see its README).
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from reductions.constructions.hop_construction import construction_depth

from ..cells import Cell, make_cell
from ..plots import plot_depth_hop
from ..trained_cells import training_missing
from .base import Table, by_key
from .presets import Preset

NAME = "depth_hop"
TITLE = "Depth against k: the log-depth construction (measured) beside transformers trained in [SHT24]"
COLUMNS = ("source", "k", "depth", "heads", "train_samples", "error", "least_exact_depth")
TRAINED = Path(__file__).resolve().parents[1] / "data" / "sht24_trained_errors.csv"
ERROR_LEVEL = 0.05


def trained_rows() -> list[dict[str, Any]]:
    """[SHT24]'s released per-k errors of trained transformers."""
    with open(TRAINED, newline="", encoding="utf-8") as fh:
        return [
            dict(
                depth=int(r["depth"]),
                heads=int(r["heads"]),
                train_samples=r["train_samples"],
                k=int(r["k"]),
                error=float(r["error"]),
            )
            for r in csv.DictReader(fh)
        ]


def _trained_cells(p: Preset) -> list[Cell]:
    """Small softmax transformers kparty trains on hop_k at several depths (the ``full`` preset)."""
    return [
        make_cell("trained", dict(family="transformer", task="hop", k=k, n=p.depth_n, alphabet=p.depth_alphabet,
                                  layers=L, width=16, steps=p.depth_trained_steps, trials=1000,
                                  options='{"heads":1}'))
        for k in p.depth_trained_ks
        for L in p.depth_trained_layers
        if not training_missing()
    ]


def cells(p: Preset) -> list[Cell]:
    return [make_cell("depth", dict(k=k, max_layers=max(p.depth_layers), n=p.depth_n, alphabet=p.depth_alphabet,
                                    trials=p.depth_trials)) for k in p.depth_ks] + _trained_cells(p)


def table(rows: Sequence[dict[str, Any]], cs: Sequence[Cell], p: Preset) -> Table:
    measured = by_key(rows, cs)
    ours = [r for r in measured if r["kind"] == "trained"]
    measured = [r for r in measured if r["kind"] != "trained"]
    least = {r["k"]: r["R"] for r in measured}
    data: list[dict[str, Any]] = [
        dict(source="construction", k=r["k"], depth=int(L), heads=1, train_samples="", error=err,
             least_exact_depth=r["R"])
        for r in measured for L, err in sorted(r["extra"]["errors"].items(), key=lambda kv: int(kv[0]))
        if int(L) in p.depth_layers
    ]
    data += [dict(source="trained [SHT24]", least_exact_depth=None, **r) for r in trained_rows()]
    # kparty's own transformers: error = 1 - token accuracy of the fixed-point model on fresh sequences
    data += [dict(source="trained (kparty)", k=r["k"], depth=r["R"], heads=1, train_samples="inf",
                  error=1.0 - float(r["success"]), least_exact_depth=None) for r in ours]
    formula = {k: construction_depth(k) for k in p.depth_ks}
    keys: dict[str, Any] = {
        "construction: k with measured least exact depth == ceil(log2 k) + 2": (
            f"{sum(least[k] == formula[k] for k in p.depth_ks)} of {len(p.depth_ks)}"
        ),
        "construction: max error where k <= 2^(L-2)": max(
            (r["error"] for r in data if r["source"] == "construction" and r["k"] <= 2 ** (r["depth"] - 2)),
            default=0.0,
        ),
    }
    for k in (1, 2, 4, 8, 16, 32):
        if k in least:
            keys[f"least exact depth at k={k}"] = least[k]
    best: dict[tuple[int, int], int] = {}
    for r in trained_rows():
        if r["error"] <= ERROR_LEVEL and r["train_samples"] == "inf":
            best[(r["heads"], r["k"])] = min(best.get((r["heads"], r["k"]), 99), r["depth"])
    for k in (4, 8, 16):
        for h in sorted({h for h, _ in best}):
            if (h, k) in best:
                keys[f"trained H={h}: least depth with error <= 5% at k={k}"] = best[(h, k)]
    for k in sorted({r["k"] for r in ours}):
        ok = [r["R"] for r in ours if r["k"] == k and 1.0 - float(r["success"]) <= ERROR_LEVEL]
        keys[f"kparty-trained transformer (H = 1, m = 16): least depth with error <= 5% at k={k}"] = (
            min(ok) if ok else f"none within L <= {max(p.depth_trained_layers)}"
        )
    missing = tuple(
        f"no exact depth within L <= {max(p.depth_layers)} for k={k}" for k in p.depth_ks if least[k] is None
    )
    return Table(COLUMNS, tuple(data), keys, missing)


def draw(t: Table, p: Preset):
    cons = []
    seen = set()
    for r in t.rows:
        if r["source"] == "construction":
            cons.append(dict(k=r["k"], depth=r["depth"], error=r["error"]))
            if r["k"] not in seen:
                seen.add(r["k"])
                cons.append(dict(k=r["k"], least_exact_depth=r["least_exact_depth"]))
    trained = [r for r in t.rows if r["source"] == "trained [SHT24]"]
    ours = [r for r in t.rows if r["source"] == "trained (kparty)"]
    if ours:
        return plot_depth_hop(cons, trained, threshold=ERROR_LEVEL, ours=ours)
    return plot_depth_hop(cons, trained, threshold=ERROR_LEVEL)
