"""The figures of docs/figures.md as pure functions: rows in, :class:`matplotlib.figure.Figure` out.

Each ``plot_<name>(rows, ...)`` takes a list of dicts — exactly the rows the
figure's CSV holds — and draws them with the shipped style
(``lowerbounds/style/kparty.mplstyle``).  Bound curves come from
:mod:`lowerbounds.bounds`, the one source of truth for every formula, with the
constant ``c`` stated in the legend.  :func:`save` writes PNG and PDF (Type-42 fonts).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from reductions.constructions.hop_construction import construction_depth  # noqa: E402

from . import bounds  # noqa: E402

__all__ = [
    "STYLE",
    "style",
    "save",
    "plot_tradeoff_map",
    "plot_success_vs_bits",
    "plot_threshold_scaling",
    "plot_rounds_cliff",
    "plot_model_budgets",
    "plot_depth_hop",
    "plot_trained_models",
]

STYLE = Path(__file__).with_name("style") / "kparty.mplstyle"
FORBIDDEN = dict(color="#D55E00", alpha=0.13, lw=0)
MARKERS = "osD^vP*Xh<>p"


def style():
    """Context manager applying the kparty style.

    Examples
    --------
    >>> with style():
    ...     plt.rcParams["pdf.fonttype"]
    42
    """
    return plt.style.context(str(STYLE))


def save(fig: Figure, stem: str | Path) -> list[Path]:
    """Write ``stem.png`` and ``stem.pdf``; returns the paths."""
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = [stem.with_suffix(".png"), stem.with_suffix(".pdf")]
    with style():
        for p in paths:
            fig.savefig(p)
    plt.close(fig)
    return paths


def _group(rows: Iterable[Mapping], key: str) -> dict:
    out: dict = defaultdict(list)
    for r in rows:
        out[r[key]].append(r)
    return dict(sorted(out.items(), key=lambda kv: str(kv[0]) if not isinstance(kv[0], (int, float)) else kv[0]))


def _f(rows: Sequence[Mapping], key: str) -> np.ndarray:
    return np.array([float(r[key]) for r in rows])


def plot_tradeoff_map(rows: Sequence[Mapping], k: int, q: int, c: float = 1.0) -> Figure:
    """Figure 1: every protocol and compiled model at its (R, s), beside the bound's region (an illustration).

    ``rows``: ``kind`` ("protocol", "trained" or "model"), ``name``, ``R``, ``s``,
    and for protocols and trained models ``success`` (measured on pointer chasing
    with these k, q; trained rows also ``dims``).  "model" rows (no success) are
    drawn as black outlines.

    Examples
    --------
    >>> rows = [dict(kind="protocol", name="one-hop-per-round", R=3, s=4, success=1.0),
    ...         dict(kind="trained", name="gru", R=2, s=96, success=0.55, dims="L=2, m=6, p=16"),
    ...         dict(kind="model", name="hop-construction", R=4, s=900, success="")]
    >>> fig = plot_tradeoff_map(rows, k=3, q=16)
    >>> fig.axes[0].get_xlabel()
    'rounds R'
    """
    with style():
        fig, ax = plt.subplots(figsize=(5.6, 3.8))
        svals = [float(r["s"]) for r in rows] or [1.0]
        bound = float(bounds.pointer_chasing_bits(q, k, c=c))
        top = max(max(svals), bound) * 4
        rmax = max([int(r["R"]) for r in rows] + [k + 1])
        bottom = min(0.5, bound / 3)  # at small q the region lies below one bit: keep it in view
        ax.add_patch(
            plt.Rectangle(
                (0.5, bottom),
                k - 1,
                bound - bottom,
                **FORBIDDEN,
                label=f"R < k, s < c·q/k⁵, c = {c:g} (illustration: constant unknown)",
            )
        )
        ax.axhline(bound, color="#D55E00", ls=":", lw=1)
        ax.axvline(k - 0.5, color="0.4", ls="--", lw=0.8)
        ax.text(k - 0.45, bottom * 1.2, "R ≥ k: allowed", fontsize=7, color="0.3", va="bottom")
        colour = dict(cmap="viridis", vmin=0.5, vmax=1.0, edgecolor="k", zorder=3)
        prot = [r for r in rows if r["kind"] == "protocol"]
        if prot:
            sc = ax.scatter(_f(prot, "R"), _f(prot, "s"), c=_f(prot, "success"), s=46, linewidth=0.5, **colour)
            fig.colorbar(sc, ax=ax, pad=0.01, label="measured success (pointer chasing)")
            for r in prot:
                ax.annotate(
                    r["name"], (float(r["R"]), float(r["s"])), xytext=(5, -3), textcoords="offset points", fontsize=6.5
                )
        # Points sharing a round count stand side by side, so equal budgets do not hide each other.
        others = [r for r in rows if r["kind"] != "protocol"]
        same_R = _group(others, "R")
        slot = {(r["name"], r["R"]): j - (len(g) - 1) / 2 for g in same_R.values() for j, r in enumerate(g)}
        for n, (name, group) in enumerate(_group(others, "name").items()):
            dx = np.array([0.07 * slot[(r["name"], r["R"])] for r in group])
            marker = MARKERS[(n + 1) % len(MARKERS)]
            if group[0]["kind"] == "trained":
                # Trained models: coloured by measured success on the protocols' scale.
                ax.scatter(_f(group, "R") + dx, _f(group, "s"), c=_f(group, "success"), marker=marker, s=52,
                           linewidth=0.9, label=f"trained: {name} ({group[0]['dims']})", **colour)
            else:
                # No success measured: an outline in black, a colour no success can take.
                ax.scatter(_f(group, "R") + dx, _f(group, "s"), marker=marker, s=40, facecolor="none",
                           edgecolor="k", linewidth=1.1, zorder=3, label=f"{name}: (R, s) only")
        if others:
            ax.plot([], [], " ", label="points at one R are offset sideways for legibility")
        ax.set_yscale("log")
        ax.set_ylim(bottom, top)
        ax.set_xlim(0.5, rmax + 0.5)
        ax.set_xticks(range(1, rmax + 1))
        ax.set_xlabel("rounds R")
        ax.set_ylabel("bits per message s")
        ax.set_title(f"Parallelism tradeoff: pointer chasing, k = {k}, q = {q}")
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2, fontsize=6.3)
    return fig


def plot_success_vs_bits(rows: Sequence[Mapping], q: int, c: float = 1.0) -> Figure:
    """Figure 2: success of the sampling protocol at R = k-1 against s, one line per k.

    ``rows``: ``k``, ``s``, ``success``, ``ci_low``, ``ci_high``.

    Examples
    --------
    >>> rows = [dict(k=3, s=s, success=p, ci_low=p - .05, ci_high=min(1, p + .05))
    ...         for s, p in [(16, .55), (64, .8), (256, 1.0)]]
    >>> plot_success_vs_bits(rows, q=256).axes[0].get_ylabel()
    'success probability'
    """
    with style():
        fig, ax = plt.subplots()
        for n, (k, group) in enumerate(_group(rows, "k").items()):
            group = sorted(group, key=lambda r: float(r["s"]))
            s = _f(group, "s")
            col = f"C{n % 8}"
            ax.plot(s, _f(group, "success"), "o-", color=col, ms=3, label=f"k = {k}, R = k-1")
            ax.fill_between(s, _f(group, "ci_low"), _f(group, "ci_high"), color=col, alpha=0.2, lw=0)
            ax.axvline(float(bounds.pointer_chasing_bits(q, int(k), c=c)), color=col, ls=":", lw=1)
            ax.axvline(float(bounds.sampling_upper_bits(q, int(k))), color=col, ls="--", lw=1)
        ax.axhline(2 / 3, color="0.3", lw=0.8, label="success 2/3")
        ax.axhline(0.5, color="0.6", lw=0.6, ls="-.", label="success 1/2 (a coin flip)")
        ax.plot([], [], "k:", lw=1, label=f"c·q/k⁵ with c = {c:g} (illustration: constant unknown)")
        ax.plot([], [], "k--", lw=1, label="(q/k)·log₂q (sampling upper bound)")
        ax.set_xscale("log")
        ax.set_xlabel("bits per message s")
        ax.set_ylabel("success probability")
        ax.set_ylim(0.4, 1.02)
        ax.set_title(f"Sampling protocol with one round too few (q = {q}), 95% Clopper–Pearson bands")
        ax.legend(fontsize=6.5, loc="upper center", bbox_to_anchor=(0.5, -0.15), ncol=2)
    return fig


def plot_threshold_scaling(rows: Sequence[Mapping], c: float = 1.0) -> Figure:
    """Figure 3: empirical threshold s*(q) (least s with success >= 2/3) against q, log–log.

    ``rows``: ``k``, ``q``, ``threshold``, ``lo``, ``hi`` (the bracket).

    Examples
    --------
    >>> rows = [dict(k=3, q=q, threshold=q // 8, lo=q // 9, hi=q // 8) for q in (64, 128, 256)]
    >>> plot_threshold_scaling(rows).axes[0].get_xscale()
    'log'
    """
    with style():
        fig, ax = plt.subplots()
        for n, (k, group) in enumerate(_group(rows, "k").items()):
            group = sorted(group, key=lambda r: float(r["q"]))
            q, t = _f(group, "q"), _f(group, "threshold")
            col = f"C{n % 8}"
            slope = np.polyfit(np.log(q), np.log(t), 1)[0] if len(q) > 1 else float("nan")
            ax.errorbar(
                q,
                t,
                yerr=[t - _f(group, "lo"), _f(group, "hi") - t],
                fmt="o-",
                color=col,
                ms=3.5,
                capsize=2,
                label=f"k = {k}: measured s*, slope {slope:.2f}",
            )
            qq = np.unique(np.geomspace(q.min(), q.max(), 50).round().astype(np.int64))
            ax.plot(
                qq,
                bounds.pointer_chasing_bits(qq, int(k), c=c),
                ":",
                color=col,
                label=f"k = {k}: c·q/k⁵, c = {c:g} (illustration), slope 1",
            )
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("layer size q (vertices)")
        ax.set_ylabel("threshold bits per message s*")
        ax.set_title("Least s reaching success 2/3 at R = k-1 (sampling protocol)")
        ax.legend(fontsize=6, ncol=2, loc="upper center", bbox_to_anchor=(0.5, -0.15))
    return fig


def plot_rounds_cliff(rows: Sequence[Mapping], k: int) -> Figure:
    """Figure 4: success against R = 1..k+1 at a fixed small s, one line per protocol.

    ``rows``: ``protocol``, ``R``, ``s``, ``success``, ``ci_low``, ``ci_high``.

    Examples
    --------
    >>> rows = [dict(protocol="one-hop-per-round", R=r, s=4, success=1.0 if r >= 3 else .5,
    ...              ci_low=.45, ci_high=1.0) for r in (1, 2, 3, 4)]
    >>> plot_rounds_cliff(rows, k=3).axes[0].get_xlabel()
    'rounds R'
    """
    with style():
        fig, ax = plt.subplots()
        for n, (name, group) in enumerate(_group(rows, "protocol").items()):
            group = sorted(group, key=lambda r: int(r["R"]))
            R = _f(group, "R")
            col = f"C{n % 8}"
            ax.plot(
                R,
                _f(group, "success"),
                MARKERS[n % len(MARKERS)] + "-",
                color=col,
                label=f"{name} (s = {group[0]['s']} bits)",
            )
            ax.fill_between(R, _f(group, "ci_low"), _f(group, "ci_high"), color=col, alpha=0.2, lw=0)
        ax.axvspan(0.5, k - 0.5, **{**FORBIDDEN, "alpha": 0.07})
        ax.axvline(k, color="0.3", ls="--", lw=0.8, label=f"R = k = {k}: one hop per round suffices")
        ax.axhline(0.5, color="0.6", lw=0.6, ls="-.", label="success 1/2 (a coin flip)")
        ax.set_xticks(range(1, k + 2))
        ax.set_xlabel("rounds R")
        ax.set_ylabel("success probability")
        ax.set_ylim(0.35, 1.05)
        ax.set_title(f"The rounds cliff: pointer chasing, k = {k} (shaded: R < k)")
        ax.legend(fontsize=6.5, loc="upper center", bbox_to_anchor=(0.5, -0.15), ncol=2)
    return fig


#: Eleven distinguishable colours (Okabe–Ito, then darker and greyer tones), none the bound's vermilion.
SERIES_COLOURS = ("#0072B2", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#8C6D31",
                  "#7B4173", "#3B7A57", "#999999", "#5254A3")
BOUND_COLOUR = FORBIDDEN["color"]


def plot_model_budgets(rows: Sequence[Mapping], k: int, c: float = 1.0) -> Figure:
    """Figure 5: message size s of each compiled model family against sequence length N.

    ``rows``: ``family``, ``N``, ``R``, ``s``, ``dims`` (text) and ``measured``
    (true where the compiled protocol was run through the engine and ``s`` is the
    engine's count; false where it was compiled only).  Families whose series are
    identical share one line and one legend entry, so none hides another.

    Examples
    --------
    >>> rows = [dict(family=f, N=n, R=2, s=768, dims="m=16", measured=n < 1000)
    ...         for f in ("gru", "elman") for n in (100, 1000)]
    >>> ax = plot_model_budgets(rows, k=3).axes[0]
    >>> [t.get_text() for t in ax.get_legend().get_texts()][1]
    'elman = gru (m=16, R = 2)'
    """
    with style():
        fig, ax = plt.subplots(figsize=(5.6, 3.6))
        Ns = _f(rows, "N") if rows else np.array([10.0, 1e6])
        NN = np.unique(np.geomspace(Ns.min(), Ns.max(), 60).round().astype(np.int64))
        line = bounds.sequence_bits(NN, k, c=c)
        ax.fill_between(NN, 0.5, line, **FORBIDDEN,
                        label=f"s < c·N/k⁶ with c = {c:g} (illustration: constant unknown)")
        ax.plot(NN, line, color=BOUND_COLOUR, lw=1)
        series: dict[tuple, list[str]] = defaultdict(list)
        for fam, group in _group(rows, "family").items():
            group = sorted(group, key=lambda r: float(r["N"]))
            sig = tuple((float(r["N"]), float(r["s"]), int(r["R"]), bool(r.get("measured"))) for r in group)
            series[sig].append(fam)
        for n, (sig, fams) in enumerate(series.items()):
            col, marker = SERIES_COLOURS[n % len(SERIES_COLOURS)], MARKERS[n % len(MARKERS)]
            first = next(r for r in rows if r["family"] == fams[0])
            N, s = np.array([p[0] for p in sig]), np.array([p[1] for p in sig])
            run = np.array([p[3] for p in sig])
            ax.plot(N, s, "-" if n < len(SERIES_COLOURS) else "--", color=col, lw=1.2,
                    label=f"{' = '.join(fams)} ({first['dims']}, R = {first['R']})")
            ax.plot(N[run], s[run], marker, color=col, ms=4, ls="none")
            ax.plot(N[~run], s[~run], marker, color=col, ms=4, ls="none", mfc="none")
        ax.plot([], [], "o", color="0.3", ms=4, label="filled: run through the engine (s counted)")
        ax.plot([], [], "o", color="0.3", ms=4, mfc="none", label="hollow: compiled, not run (s of the protocol)")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_ylim(bottom=0.5)
        ax.set_xlabel("sequence length N (tokens)")
        ax.set_ylabel("bits per message s")
        ax.set_title(f"Model budgets as k = {k} party protocols")
        ax.legend(fontsize=5.8, loc="upper center", bbox_to_anchor=(0.5, -0.15), ncol=2)
    return fig


def plot_depth_hop(
    construction: Sequence[Mapping], trained: Sequence[Mapping], threshold: float = 0.05, ours: Sequence[Mapping] = ()
) -> Figure:
    """Figure 6: depth against k — the log-depth construction (measured) beside trained transformers.

    ``construction``: rows ``k``, ``least_exact_depth`` and optionally per-depth
    errors ``depth``, ``error``.  ``trained``: rows of [SHT24]'s released errors
    ``depth``, ``heads``, ``train_samples``, ``k``, ``error``; ``ours``: the same
    fields for transformers kparty trained itself (drawn in black).  One style in both
    panels: trained models solid with filled markers, the construction dashed
    with hollow markers, the formula ⌈log₂ k⌉ + 2 a thin grey dotted step.  An
    L-layer construction is drawn only for the k it is built for, k ≤ 2^(L−2).

    Examples
    --------
    >>> cons = [dict(k=k, least_exact_depth=construction_depth(k)) for k in (1, 2, 4, 8)]
    >>> tr = [dict(depth=d, heads=4, train_samples="inf", k=k, error=.01 if k < 2 ** d else .5)
    ...       for d in (2, 3) for k in (1, 2, 4, 8)]
    >>> len(plot_depth_hop(cons, tr).axes)
    2
    """
    with style():
        fig, (ax, ax2) = plt.subplots(1, 2, figsize=(8.4, 3.2))
        cons = sorted(
            [r for r in construction if r.get("least_exact_depth") not in (None, "")], key=lambda r: int(r["k"])
        )
        ks = _f(cons, "k")
        kk = np.arange(1, int(ks.max()) + 1) if len(ks) else np.arange(1, 2)
        ax.step(kk, [construction_depth(int(k)) for k in kk], where="mid", color="0.6", ls=":", lw=1.0,
                label="ceil(log₂ k) + 2")
        ax.plot(ks, _f(cons, "least_exact_depth"), "o--", color="C0", mfc="none", ms=4.5, lw=1.0,
                label="log-depth construction: least exact L (measured)")
        for n, (heads, group) in enumerate(_group(trained, "heads").items()):
            best = defaultdict(lambda: math.inf)
            for r in group:
                if float(r["error"]) <= threshold:
                    best[int(r["k"])] = min(best[int(r["k"])], int(r["depth"]))
            if best:
                xs = sorted(best)
                ax.plot(xs, [best[x] for x in xs], MARKERS[n + 1] + "-", color=f"C{n + 1}", ms=4,
                        label=f"trained, H = {heads}: least L with error ≤ {threshold:.0%} [SHT24]")
        best = {}
        for r in ours:
            if float(r["error"]) <= threshold:
                best[int(r["k"])] = min(best.get(int(r["k"]), math.inf), int(r["depth"]))
        if best:
            xs = sorted(best)
            ax.plot(xs, [best[x] for x in xs], "X-", color="k", ms=5,
                    label=f"trained by kparty (H = 1, m = 16): least L with error ≤ {threshold:.0%}")
        ax.set_xlabel("hops k")
        ax.set_ylabel("layers L")
        ax.set_title("Least depth for hop_k")
        ax.yaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
        ax.legend(fontsize=5.8, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=1)
        inf_rows = [r for r in trained if str(r.get("train_samples")) in ("inf", "Infinity")] or list(trained)
        heads0 = sorted({r["heads"] for r in inf_rows})[:1]
        for n, (depth, group) in enumerate(_group([r for r in inf_rows if r["heads"] in heads0], "depth").items()):
            group = sorted(group, key=lambda r: int(r["k"]))
            ax2.plot(_f(group, "k"), _f(group, "error"), "o-", ms=2.5, color=f"C{n % 8}",
                     label=f"trained L = {depth}, H = {heads0[0] if heads0 else '?'} [SHT24]")
        per_depth = [r for r in construction if r.get("error") not in (None, "")]
        for n, (depth, group) in enumerate(_group(per_depth, "depth").items()):
            reach = 2 ** (int(depth) - 2)  # an L-layer construction is built for k <= 2^(L-2)
            group = sorted([r for r in group if int(r["k"]) <= reach], key=lambda r: int(r["k"]))
            if group:
                ax2.plot(_f(group, "k"), _f(group, "error"), "o--", ms=2.5, mfc="none", lw=0.9, color=f"C{n % 8}",
                         label=f"construction L = {depth} (k ≤ {reach})")
        ax2.axhline(threshold, color="0.4", lw=0.6, ls=":", label=f"error {threshold:.0%}")
        ax2.set_xlabel("hops k")
        ax2.set_ylabel("token error (positions with answer ≠ ⊥)")
        ax2.set_title("Error per depth (solid: trained, dashed: construction)")
        ax2.legend(fontsize=5.5, ncol=3, loc="upper center", bbox_to_anchor=(0.5, -0.16))
    return fig


def plot_trained_models(rows: Sequence[Mapping], q: int, k: int, c: float = 1.0) -> Figure:
    """Trained models on pointer chasing: success against s, solid for R = L ≥ k, dashed for R = L < k.

    ``rows``: ``family``, ``layers``, ``R``, ``s``, ``success``, ``ci_low``, ``ci_high``.

    Examples
    --------
    >>> rows = [dict(family="gru", layers=L, R=L, s=16 * m, success=.5 + .1 * (L == 3), ci_low=.45, ci_high=.7)
    ...         for L in (2, 3) for m in (2, 4)]
    >>> plot_trained_models(rows, q=8, k=3).axes[0].get_xlabel()
    'bits per message s'
    """
    with style():
        fig, ax = plt.subplots(figsize=(5.6, 3.6))
        for n, (fam, group) in enumerate(_group(rows, "family").items()):
            col = f"C{n % 8}"
            for L, g in _group(group, "layers").items():
                g = sorted(g, key=lambda r: float(r["s"]))
                s, y = _f(g, "s"), _f(g, "success")
                below = int(L) < k
                ax.errorbar(s, y, yerr=[y - _f(g, "ci_low"), _f(g, "ci_high") - y],
                            fmt=MARKERS[n % len(MARKERS)] + ("--" if below else "-"), color=col,
                            mfc="none" if below else col, ms=4, capsize=2,
                            label=f"{fam}, L = R = {L} ({'< k' if below else '≥ k'})")
        ax.axvline(float(bounds.pointer_chasing_bits(q, k, c=c)), color=FORBIDDEN["color"], ls=":", lw=1,
                   label=f"c·q/k⁵, c = {c:g} (illustration: constant unknown)")
        ax.axhline(2 / 3, color="0.3", lw=0.8, label="success 2/3")
        ax.axhline(0.5, color="0.6", lw=0.6, ls="-.", label="success 1/2 (a coin flip)")
        ax.set_xscale("log")
        ax.set_ylim(0.35, 1.05)
        ax.set_xlabel("bits per message s")
        ax.set_ylabel("success probability")
        ax.set_title(f"Trained models on pointer chasing (q = {q}, k = {k}), 95% Clopper–Pearson bars")
        ax.legend(fontsize=6, loc="upper center", bbox_to_anchor=(0.5, -0.15), ncol=2)
    return fig
