"""The model families the figures compile, each at stated dimensions (docs/figures.md §tradeoff_map, §model_budgets)."""

from __future__ import annotations

from typing import Any

from reductions.arithmetic.fixed_point import MAX_BITS
from reductions.compilers.registry import COMPILERS
from reductions.constructions.hop_construction import construction_precision
from reductions.models import MODELS

from ..model_cells import CONSTRUCTION, options_json

__all__ = ["FAMILIES", "available", "dims_label", "budget_params", "construction_n", "CONSTRUCTION"]

#: family -> dimensions passed to ``MODELS[family].random`` (``options`` are family keywords).
FAMILIES: dict[str, dict[str, Any]] = {
    "fsm": dict(layers=2, width=32, precision=1, options={}),
    "elman": dict(layers=2, width=16, precision=16, options={}),
    "gru": dict(layers=2, width=16, precision=16, options={}),
    "lstm": dict(layers=2, width=16, precision=16, options={}),
    "ssm": dict(layers=2, width=16, precision=16, options={"state_size": 4}),
    "kernel": dict(layers=2, width=16, precision=16, options={"heads": 2, "features": 16}),
    "sparse": dict(layers=2, width=16, precision=16, options={"heads": 2, "window": 8, "global_every": 64}),
    "cot": dict(layers=1, width=16, precision=16, options={"heads": 2, "cot_steps": 2}),
    "transformer": dict(layers=2, width=16, precision=16, options={"heads": 2}),
}


def available() -> tuple[set[str], list[str]]:
    """Families that are built and compile, and a note for each that is not."""
    ok = {f for f in FAMILIES if f in MODELS and f in COMPILERS}
    if "transformer" in ok:  # the construction is a softmax transformer with explicit weights
        ok.add(CONSTRUCTION)
    names = (*FAMILIES, CONSTRUCTION)
    return ok, [
        f"model family {f!r} is not built (no model class or compiler registered)" for f in names if f not in ok
    ]


def construction_n(k: int, vocab: int, n: int) -> int | None:
    """The largest N <= n at which the k-hop construction over ``vocab`` symbols fits 64-bit fixed point.

    Its precision grows like ``p = O(log N)``
    (:func:`~reductions.constructions.hop_construction.construction_precision`); fixed point holds
    ``p <= MAX_BITS = 64`` (docs/definitions.md §7).

    Examples
    --------
    >>> construction_n(3, 2050, 6145), construction_n(4, 4, 10**6), construction_n(4, 4, 10**7)
    (6145, 1000000, 2097151)
    """

    lo, hi = k, n
    if construction_precision(lo, vocab)[0] > MAX_BITS:
        return None
    while lo < hi:
        mid = (lo + hi + 1) // 2
        lo, hi = (mid, hi) if construction_precision(mid, vocab)[0] <= MAX_BITS else (lo, mid - 1)
    return lo


def dims_label(family: str) -> str:
    """Human-readable dimensions, e.g. ``L=2, m=16, p=16, heads=2``.

    Examples
    --------
    >>> dims_label("gru")
    'L=2, m=16, p=16'
    """
    if family == CONSTRUCTION:
        return "L=ceil(log2 k)+2, H=1, m=16, p=O(log N)"
    d = FAMILIES[family]
    parts = [f"L={d['layers']}", f"m={d['width']}"] + ([f"p={d['precision']}"] if family != "fsm" else ["binary"])
    return ", ".join(parts + [f"{k}={v}" for k, v in sorted(d["options"].items())])


def budget_params(family: str, k: int, N: int, vocab: int, verify_trials: int = 0) -> dict[str, Any]:
    """Parameters of a ``budget`` cell for ``family`` at its stated dimensions."""
    if family == CONSTRUCTION:
        return dict(family=family, k=k, N=N, vocab=vocab, verify_trials=verify_trials)
    d = FAMILIES[family]
    return dict(
        family=family,
        k=k,
        N=N,
        vocab=vocab,
        layers=d["layers"],
        width=d["width"],
        precision=d["precision"],
        options=options_json(**d["options"]),
        verify_trials=verify_trials,
    )
