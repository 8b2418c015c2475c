"""Figure ``threshold_exponent``: how the best known protocol's s*(q, k) falls with k (docs/definitions.md §10).

Measured by :mod:`lowerbounds.exponent` (accumulated sampling, R = k-1, success
2/3, the lazily sampled hard distribution).  Left: s* against k on log–log
axes for each q, with the closed form, reference slopes k^-1 and k^-2 and the
shape of the lower bound c·q/k^5 (its constant is unknown: an illustration).
Right: the local slopes d log s*/d log k with bootstrap 95% intervals.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np

from ..cells import Cell
from ..errors import ThresholdError
from ..exponent import exponent_cells, fit_exponent, local_slopes, regime
from ..plots import style
from .base import Table, by_key
from .presets import Preset

NAME = "threshold_exponent"
TITLE = ("Threshold s*(q, k) of accumulated sampling at R = k-1 against k, and the exponent alpha fitted over "
         "2L <= k <= sqrt(q)")
COLUMNS = ("q", "k", "threshold", "lo", "hi", "predicted", "in_regime", "trials")


def cells(p: Preset) -> list[Cell]:
    return exponent_cells(p.exp_qs, p.exp_k_min, max(p.exp_qs), p.exp_trials, p.exp_per_octave)


def table(rows: Sequence[dict[str, Any]], cs: Sequence[Cell], p: Preset) -> Table:
    data, missing = [], []
    for r in by_key(rows, cs):
        e = r["extra"]
        if e["threshold"] is None:  # reported, not drawn
            missing.append(f"q={r['q']}, k={r['k']}: no tested s reached success 2/3")
            continue
        lo_k, hi_k = regime(r["q"])
        data.append(dict(q=r["q"], k=r["k"], threshold=e["threshold"], lo=e["lo"], hi=e["hi"],
                         predicted=e["predicted_star"], in_regime=lo_k <= r["k"] <= hi_k,
                         trials=r["extra"]["trials_spent"],
                         log_sd=e["log_sd"], inside=e["closed_form_inside"], checked=e["closed_form_checked"]))
    keys: dict[str, Any] = {}
    inside = [d for d in data if d["in_regime"]]
    try:
        fit = fit_exponent(inside)
    except ThresholdError as exc:
        fit = None
        keys["alpha"] = f"no fit: {exc}"
    if fit is not None:
        lo, hi = fit["alpha_ci"]
        keys["alpha (s* ~ q·polylog(q)/k^alpha, accumulated sampling)"] = (
            f"{fit['alpha']:.3f}, 95% CI [{lo:.3f}, {hi:.3f}] from {fit['n']} points")
        keys["what alpha means"] = (
            "the best protocol kparty knows reaches s* ~ k^-alpha, and the lower bound is q/k^5 "
            "([AN21] Prop. 5.7 as restated by [SHT24] Prop. E.3), so the true exponent lies between alpha and 5")
    keys["regime (2L <= k <= sqrt q)"] = "; ".join(f"q={q}: k in [{a}, {b}]" for q, (a, b) in
                                                  ((q, regime(q)) for q in sorted({d['q'] for d in data})))
    keys["closed form inside the measured 95% CI"] = (
        f"{sum(d['inside'] for d in data)} of {sum(d['checked'] for d in data)} tested (q, k, s)")
    keys["trials spent"] = sum(d["trials"] for d in data)
    return Table(COLUMNS, tuple(data), keys, tuple(missing))


def draw(t: Table, p: Preset):
    rows = list(t.rows)
    slopes = local_slopes(rows)
    with style():
        fig, (ax, bx) = plt.subplots(1, 2, figsize=(10, 4.2))
        qs = sorted({r["q"] for r in rows})
        for n, q in enumerate(qs):
            g = sorted((r for r in rows if r["q"] == q), key=lambda r: r["k"])
            k = np.array([r["k"] for r in g], dtype=float)
            s = np.array([r["threshold"] for r in g])
            col = f"C{n % 8}"
            ax.errorbar(k, s, yerr=[s - np.array([r["lo"] for r in g]), np.array([r["hi"] for r in g]) - s],
                        fmt="o", color=col, ms=3.5, capsize=2, label=f"q = {q}: measured s*")
            ax.plot(k, [r["predicted"] for r in g], "-", color=col, lw=1, label=f"q = {q}: closed form")
            a, b = regime(q)
            ax.axvspan(a, b, color=col, alpha=0.06, lw=0)
            if n == len(qs) - 1:
                k0, s0 = k[0], s[0]
                kk = np.geomspace(k.min(), k.max(), 20)
                ax.plot(kk, s0 * (kk / k0) ** -1, "--", color="0.5", lw=0.8, label="slope -1 (reference)")
                ax.plot(kk, s0 * (kk / k0) ** -2, ":", color="0.3", lw=0.8, label="slope -2 (reference)")
                ax.plot(kk, p.c * q / kk**5, "-.", color="#D55E00", lw=0.8,
                        label=f"c·q/k⁵, q = {q} (c = {p.c:g}; constant unknown: illustration)")
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("players k (R = k-1 rounds)")
        ax.set_ylabel("threshold bits per message s*")
        ax.set_title("s* at success 2/3 (shaded: 2L <= k <= sqrt q)")
        ax.legend(fontsize=6)
        for n, q in enumerate(qs):
            g = [d for d in slopes if d["q"] == q]
            if g:
                km = np.array([d["k_mid"] for d in g])
                sl = np.array([d["slope"] for d in g])
                ci = np.array([d["ci"] for d in g])
                bx.errorbar(km, sl, yerr=[sl - ci[:, 0], ci[:, 1] - sl], fmt="o-", color=f"C{n % 8}", ms=3.5,
                            capsize=2, label=f"q = {q}")
        for ref in (-1, -2):
            bx.axhline(ref, color="0.5", lw=0.8, ls="--")
        bx.set_xscale("log", base=2)
        bx.set_xlabel("players k (geometric midpoint)")
        bx.set_ylabel("local slope d log s* / d log k")
        bx.set_title("Local slopes, bootstrap 95% intervals")
        bx.legend(fontsize=7)
        fig.tight_layout()
    return fig
