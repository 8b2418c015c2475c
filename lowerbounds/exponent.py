"""How the best known protocol's threshold scales with k: the exponent α (docs/definitions.md §10).

For (q, k) pointer chasing with R = k-1 rounds, s*(q, k) is the least message
size at which a protocol reaches success 2/3.  The lower bound is s = Ω(q/k⁵);
this experiment measures how s* of the best protocol kparty knows (by default
accumulated sampling, ``protocols.library.Sampling``) falls with k, and fits

    log s* = a - α·log k + β·log log q     (s* ~ polylog(q)·q/k^α at fixed q)

over the regime ``2L <= k <= sqrt(q)`` (L = ceil(log2 q)).  The true exponent
of the problem then lies between α and 5.

**One point** (cell kind ``"exponent-point"``): the closed form places a
fixed design of message sizes around the predicted threshold (it says where
to look, not what to find); :func:`lowerbounds.threshold.scan_threshold` runs
``trials`` trials at each on the lazily sampled hard distribution (a trial
costs its board); s* is where a weighted line through (log s, success)
crosses 2/3 (on the scale log(-log(2(1 - success))), where success
1 - e^(-x)/2 is linear in log x), its 95% interval a parametric bootstrap of
the binomial counts.
Every tested s also records the closed-form success and whether it lies in
the measured Clopper–Pearson interval.

**The fit** is weighted least squares (weights: inverse bootstrap variances of
log s*, inflated by the reduced χ² when the model fits worse than the noise);
α's 95% interval and the local slopes' intervals are parametric bootstraps.

Examples
--------
>>> row = make_cell("exponent-point", {"q": 256, "k": 8, "trials": 200}).run(seed=0)
>>> e = row["extra"]  # of the design s = 6, 8, 10, 12, 16 one is below L = 8: unbuildable
>>> row["name"], row["k"], row["R"], e["predicted"], e["closed_form_checked"]
('sampling', 8, 7, 10, 4)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from protocols.bits import bits_for
from protocols.budget import budget_scope
from protocols.library import LIBRARY, PREDICTIONS
from protocols.library.disclosure_chase import lazy_read_bytes
from protocols.problems.pointer_chasing import PointerChasing

from .cells import Param, canonical_key, make_cell, register_cell_kind
from .errors import GridError, ThresholdError
from .threshold import scan_threshold

__all__ = ["exponent_point", "predicted_threshold", "least_buildable", "chunk_for", "regime", "fit_exponent",
           "local_slopes", "exponent_cells", "summarise", "summarise_points", "closed_form_point", "DEFAULT_MEMORY"]

#: Memory one cell may use for a chunk of trials (board + lazy layers), bytes.
DEFAULT_MEMORY = 1 << 30
BOOTSTRAP = 2000


def predicted_threshold(protocol: str, q: int, k: int, R: int, target: float = 2 / 3) -> int | None:
    """Least integer s whose exact (closed-form) success reaches ``target``; None if none up to q·L.

    Examples
    --------
    >>> predicted_threshold("sampling", 4096, 16, 15)
    64
    """
    f = PREDICTIONS[protocol]

    def ok(s: int) -> bool:
        try:
            LIBRARY[protocol](PointerChasing(q=q, k=k), R=R, s=s)
        except ValueError:
            return False
        return f(q, k, R, s) >= target

    lo, hi = 0, q * bits_for(q)
    if not ok(hi):
        return None
    while hi - lo > 1:  # success is non-decreasing in s
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if ok(mid) else (mid, hi)
    return hi


def least_buildable(protocol: str, q: int, k: int, R: int) -> int:
    """The least s at which the library constructor accepts (q, k, R, s) (constructibility is monotone in s).

    Examples
    --------
    >>> least_buildable("sampling", 65536, 256, 255)
    16
    """
    def ok(s: int) -> bool:
        try:
            LIBRARY[protocol](PointerChasing(q=q, k=k), R=R, s=s)
        except ValueError:
            return False
        return True

    lo, hi = 0, q * bits_for(q)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if ok(mid) else (mid, hi)
    return hi


def chunk_for(q: int, k: int, R: int, s: int, trials: int, memory: int = DEFAULT_MEMORY) -> int:
    """Trials per engine run so that one run stays within ``memory`` bytes.

    Per trial: what :func:`protocols.budget.footprint` counts for a disclosure
    chase on a lazy instance — the board (one byte per bit, k·R·s), the lazy
    layers' used-image bitmaps (:meth:`PointerChasing.instance_bytes`), answers,
    and the entries it reads (:func:`~protocols.library.disclosure_chase.lazy_read_bytes`)
    — plus one table column per trial and layer for each chase step, which grows
    with the square of the chunk.

    Examples
    --------
    >>> chunk_for(65536, 256, 255, 24, 2000) < 2000
    True
    >>> chunk_for(65536, 4, 3, 11000, 2000) * 40 * 65536 <= 1 << 30
    True
    """
    lazy = PointerChasing.hard_distribution(q, k, lazy=True).instance_bytes()
    per = k * R * s + lazy + 16 + lazy_read_bytes(q, k, R, s)
    b = max(1, min(trials, memory // max(per, 1)))
    while b > 1 and b * per + 8 * k * b * b > memory:
        b //= 2
    return int(b)


#: Where one point measures, as multiples of the closed-form threshold (a fixed design around it).
DESIGN = (0.6, 0.8, 1.0, 1.25, 1.6)


def _link(p: np.ndarray) -> np.ndarray:
    """log(-log(2(1 - p))): success 1 - e^(-x)/2 becomes log x, nearly linear in log s for these protocols."""
    return np.log(-np.log(2 * (1 - p)))


def _crossing(log_s: np.ndarray, rate: np.ndarray, n: np.ndarray, target: float) -> float:
    """log s where a weighted line through (log s, link(success)) crosses link(target); NaN if it does not rise.

    The link only shapes the interpolation between measured points (which
    bracket the target); the rates are clipped into (1/2, 1) so it is finite.
    """
    p = np.clip(rate, 0.5 + 0.5 / n, 1 - 0.5 / n)
    z = _link(p)
    x = -np.log(2 * (1 - p))
    sd = np.sqrt(p * (1 - p) / n) / ((1 - p) * x)  # delta method
    X = np.column_stack([np.ones_like(log_s), log_s])
    b0, b1 = np.linalg.lstsq(X / sd[:, None], z / sd, rcond=None)[0]
    return float((_link(np.array(target)) - b0) / b1) if b1 > 0 else float("nan")


def exponent_point(params: Mapping[str, Any], seed: np.random.SeedSequence) -> dict[str, Any]:
    """One (q, k) point: measured and predicted threshold (the ``"exponent-point"`` cell kind).

    ``trials`` trials at each s of :data:`DESIGN` × the closed-form threshold
    (:func:`lowerbounds.threshold.scan_threshold`); s* is where a weighted
    line through (log s, log(-log(2(1 - success)))) crosses the target, its
    interval a parametric bootstrap of the binomial counts.  Near 2/3 success
    grows only ~0.14 per unit of log s, so one estimate at one s says little:
    the line pools every trial of the design.
    """
    name, q, k, target = params["protocol"], params["q"], params["k"], params["target"]
    R = k - 1 if params["R"] is None else params["R"]
    trials = params["trials"]
    pred = predicted_threshold(name, q, k, R, target)
    if pred is None:
        raise ThresholdError(f"{name} never reaches {target:.3g} at q={q}, k={k}, R={R} (closed form)")
    values = sorted({max(1, round(pred * f)) for f in DESIGN})
    chunk = chunk_for(q, k, R, max(values), trials, params["memory"])
    with budget_scope(params["memory"]):  # the cell's memory is the budget its engine runs are checked against
        rep = scan_threshold(name, q, k, R, values, trials, target, seed=seed, confidence=params["confidence"],
                             batch=trials, lazy=params["lazy"], chunk=chunk)
    steps = [st for st in rep.steps if st.buildable]
    if len(steps) < 2:
        raise ThresholdError(f"{name} can be built at fewer than 2 of s = {values} (q={q}, k={k}, R={R})")
    log_s = np.log([st.s for st in steps])
    n = np.array([st.trials for st in steps], dtype=float)
    x = np.array([st.successes for st in steps], dtype=float)
    # No threshold lies below the least s the protocol accepts (a hop needs a whole vertex).
    floor = math.log(least_buildable(name, q, k, R))
    cross = _crossing(log_s, x / n, n, target)
    rng = np.random.default_rng(seed.spawn(1)[0])
    boot = np.array([_crossing(log_s, rng.binomial(n.astype(int), x / n) / n, n, target) for _ in range(BOOTSTRAP)])
    boot = boot[np.isfinite(boot)]
    method = "line"
    if np.isfinite(cross) and boot.size >= BOOTSTRAP // 2:
        star = max(floor, cross)
        boot = np.maximum(boot, floor)
        lo_s, hi_s = float(np.exp(np.quantile(boot, 0.025))), float(np.exp(np.quantile(boot, 0.975)))
        log_sd = float(np.std(boot))
    else:  # the line does not rise (few trials, or flat at the floor): the bracket of point estimates instead
        method = "bracket"
        reach = [i for i, st in enumerate(steps) if st.rate >= target]
        if not reach:
            star = lo_s = hi_s = log_sd = None
        else:
            i = reach[0]
            hi_s = float(steps[i].s)
            lo_s = float(steps[i - 1].s) if i else math.exp(floor)
            star, log_sd = math.log(hi_s), (math.log(hi_s) - math.log(lo_s)) / 4 or 0.0
    f = PREDICTIONS[name]
    checks = []
    for st in steps:
        p = float(f(q, k, R, st.s))
        checks.append({"s": st.s, "success": st.rate, "ci_low": st.ci_low, "ci_high": st.ci_high,
                       "predicted": p, "inside": bool(st.ci_low <= p <= st.ci_high)})
    pl = np.log([c["s"] for c in checks])
    predicted_star = math.exp(max(floor, _crossing(pl, np.array([c["predicted"] for c in checks]),
                                                   np.full(len(pl), 1e12), target)))
    reach = next((st for st in steps if st.reaches), steps[-1])
    return {
        "name": name, "q": q, "k": k, "R": R, "s": rep.threshold, "trials": params["trials"],
        "successes": reach.successes, "success": reach.rate, "ci_low": reach.ci_low, "ci_high": reach.ci_high,
        "confidence": params["confidence"], "target": target, "s_lo": rep.bracket[0], "s_hi": rep.bracket[1],
        "extra": {
            "threshold": None if star is None else math.exp(star), "lo": lo_s, "hi": hi_s, "log_sd": log_sd,
            "method": method, "trials_spent": rep.trials,
            "predicted": pred, "predicted_star": predicted_star, "checks": checks,
            "closed_form_inside": sum(c["inside"] for c in checks), "closed_form_checked": len(checks),
            "chunk": chunk, "lazy": params["lazy"],
        },
    }


def _check_point(params: Mapping[str, Any]) -> None:
    if params["protocol"] not in PREDICTIONS:
        raise GridError(f"exponent-point: no closed form for {params['protocol']!r}; known: "
                        f"{', '.join(sorted(PREDICTIONS))}")
    try:
        PointerChasing(q=params["q"], k=params["k"])
    except ValueError as exc:
        raise GridError(f"exponent-point {canonical_key('exponent-point', params)}: {exc}") from None
    if params["k"] < 2:
        raise GridError(f"exponent-point k = {params['k']}; need k >= 2 (R = k-1 >= 1 rounds)")
    if params["R"] is not None and params["R"] < 1:
        raise GridError(f"exponent-point R = {params['R']}; rounds must be >= 1")
    if params["trials"] < 10:
        raise GridError(f"exponent-point trials = {params['trials']}; need at least 10 per tested s")
    if not 0 < params["target"] < 1:
        raise GridError(f"exponent-point target = {params['target']}; it must lie strictly between 0 and 1")
    if not 0 < params["confidence"] < 1:
        raise GridError(f"exponent-point confidence = {params['confidence']}; it must lie strictly between 0 and 1")
    if params["memory"] < 1 << 20:
        raise GridError(f"exponent-point memory = {params['memory']} bytes; need at least 1 MiB")


register_cell_kind(
    "exponent-point",
    exponent_point,
    (
        Param("protocol", str, "sampling"), Param("q", int), Param("k", int), Param("R", int, None, nullable=True),
        Param("trials", int, 2000), Param("target", float, 2 / 3), Param("confidence", float, 0.95),
        Param("lazy", bool, True), Param("memory", int, DEFAULT_MEMORY),
    ),
    check=_check_point,
)


# -- the analysis ----------------------------------------------------------------
def regime(q: int) -> tuple[int, int]:
    """``(2L, floor(sqrt q))``: the k where accumulated sampling's α is expected to settle.

    Examples
    --------
    >>> regime(65536)
    (32, 256)
    """
    return 2 * bits_for(q), math.isqrt(q)


def exponent_cells(qs: Sequence[int], k_min: int, k_max: int, trials: int, per_octave: int = 1,
                   protocol: str = "sampling", target: float = 2 / 3, memory: int = DEFAULT_MEMORY) -> list:
    """The cells of the experiment: k on a geometric grid from ``k_min`` to ``min(k_max, sqrt q)`` for each q.

    Largest (q, k) first: the costliest cells start first, so parallel workers finish together.
    """
    cells = []
    for q in sorted(qs, reverse=True):
        top = min(k_max, math.isqrt(q))
        ks = sorted({int(round(k_min * 2 ** (i / per_octave))) for i in range(64)
                     if k_min * 2 ** (i / per_octave) <= top + 1e-9})
        for k in reversed(ks):
            cells.append(make_cell("exponent-point", {"protocol": protocol, "q": q, "k": k, "trials": trials,
                                                      "target": target, "memory": memory}))
    return cells


def _design(points: Sequence[Mapping[str, Any]]) -> tuple[np.ndarray, list[str]]:
    logk = np.log([p["k"] for p in points])
    loglogq = np.log(np.log([p["q"] for p in points]))
    cols, names = [np.ones(len(points)), logk], ["a", "alpha"]
    if np.ptp(loglogq) > 0:
        cols.append(loglogq)
        names.append("beta")
    return np.column_stack(cols), names


def fit_exponent(points: Sequence[Mapping[str, Any]], seed: int = 0, floor_sd: float = 0.01) -> dict[str, Any]:
    """Weighted fit of log s* = a - α log k (+ β log log q when several q) with bootstrap intervals.

    ``points`` need q, k, threshold and log_sd.  Returns a, alpha, alpha_ci,
    beta (or None), beta_ci, chi2_dof and n.

    Examples
    --------
    >>> pts = [{"q": 4096, "k": k, "threshold": 3000 / k**2, "log_sd": 0.02} for k in (8, 16, 32, 64)]
    >>> f = fit_exponent(pts)
    >>> round(f["alpha"], 6), f["n"]
    (2.0, 4)
    """
    if len(points) < 3:
        raise ThresholdError(f"the exponent fit needs at least 3 points in the regime; got {len(points)}")
    X, names = _design(points)
    if len(points) <= X.shape[1]:
        raise ThresholdError(f"the exponent fit has {X.shape[1]} parameters and only {len(points)} points")
    y = np.log([p["threshold"] for p in points])
    sd = np.maximum([p["log_sd"] for p in points], floor_sd)
    w = 1 / sd
    coef, *_ = np.linalg.lstsq(X * w[:, None], y * w, rcond=None)
    dof = len(points) - X.shape[1]
    chi2 = float(np.sum(((y - X @ coef) / sd) ** 2)) / dof
    scale = sd * math.sqrt(max(1.0, chi2))  # a model that fits worse than the noise widens the interval
    rng = np.random.default_rng(seed)
    Y = X @ coef + rng.standard_normal((BOOTSTRAP, len(points))) * scale + (y - X @ coef)
    boots = np.linalg.lstsq(X * w[:, None], (Y * w).T, rcond=None)[0].T
    # α is the exponent in s* ~ k^(-α): minus the slope in log k
    out = {"n": len(points), "chi2_dof": chi2, "a": float(coef[0]), "alpha": float(-coef[1]),
           "alpha_ci": [float(v) for v in np.quantile(-boots[:, 1], [0.025, 0.975])], "beta": None, "beta_ci": None}
    if "beta" in names:
        out["beta"] = float(coef[2])
        out["beta_ci"] = [float(v) for v in np.quantile(boots[:, 2], [0.025, 0.975])]
    return out


def local_slopes(points: Sequence[Mapping[str, Any]], seed: int = 0) -> list[dict[str, Any]]:
    """d log s*/d log k between consecutive k of each q, with parametric-bootstrap 95% intervals.

    Examples
    --------
    >>> pts = [{"q": 4096, "k": k, "threshold": 1000 / k, "log_sd": 0.01} for k in (4, 8)]
    >>> round(local_slopes(pts)[0]["slope"], 6)
    -1.0
    """
    rng = np.random.default_rng(seed)
    out = []
    for q in sorted({p["q"] for p in points}):
        pts = sorted((p for p in points if p["q"] == q), key=lambda p: p["k"])
        for a, b in zip(pts, pts[1:], strict=False):
            dx = math.log(b["k"]) - math.log(a["k"])
            ya = math.log(a["threshold"]) + rng.standard_normal(BOOTSTRAP) * a["log_sd"]
            yb = math.log(b["threshold"]) + rng.standard_normal(BOOTSTRAP) * b["log_sd"]
            boot = (yb - ya) / dx
            out.append({"q": q, "k_from": a["k"], "k_to": b["k"], "k_mid": math.sqrt(a["k"] * b["k"]),
                        "slope": (math.log(b["threshold"]) - math.log(a["threshold"])) / dx,
                        "ci": [float(v) for v in np.quantile(boot, [0.025, 0.975])]})
    return out


def closed_form_point(protocol: str, q: int, k: int, R: int | None = None, target: float = 2 / 3) -> dict[str, Any]:
    """The exact threshold of ``protocol`` at (q, k) from its closed form, no simulation.

    s* interpolates log s linearly between the last integer s below ``target``
    and the first reaching it (the least buildable s if that already reaches).
    ``lo = hi = threshold``; ``log_sd`` is 0 (the fit floors it), so the fitted
    interval then measures only how far the points are from a straight line.

    Examples
    --------
    >>> p = closed_form_point("sampling", 65536, 256)
    >>> p["threshold"], p["s_int"]
    (16.0, 16)
    """
    R = k - 1 if R is None else R
    f = PREDICTIONS[protocol]
    pred = predicted_threshold(protocol, q, k, R, target)
    if pred is None:
        raise ThresholdError(f"{protocol} never reaches {target:.3g} at q={q}, k={k}, R={R} (closed form)")
    if pred == least_buildable(protocol, q, k, R):
        star = float(pred)
    else:
        lo, hi = f(q, k, R, pred - 1), f(q, k, R, pred)
        star = math.exp(math.log(pred - 1) + (target - lo) / (hi - lo) * math.log(pred / (pred - 1)))
    a, b = regime(q)
    return {"q": q, "k": k, "R": R, "threshold": star, "lo": star, "hi": star, "log_sd": 0.0, "s_int": pred,
            "predicted": star, "predicted_int": pred, "closed_form_inside": 0, "closed_form_checked": 0,
            "in_regime": a <= k <= b}


def summarise(rows: Sequence[Mapping[str, Any]], seed: int = 0) -> dict[str, Any]:
    """The experiment's result from its cells' rows: points, local slopes, the fit over the regime."""
    points, missing = [], []
    for r in rows:
        e = r["extra"]
        if e["threshold"] is None:
            missing.append(f"q={r['q']}, k={r['k']}: no tested s reached the target")
            continue
        points.append({"q": r["q"], "k": r["k"], "R": r["R"], "threshold": e["threshold"], "lo": e["lo"],
                       "hi": e["hi"], "log_sd": e["log_sd"], "s_int": r["s"], "predicted": e["predicted_star"],
                       "predicted_int": e["predicted"], "closed_form_inside": e["closed_form_inside"],
                       "closed_form_checked": e["closed_form_checked"],
                       "in_regime": regime(r["q"])[0] <= r["k"] <= regime(r["q"])[1]})
    out = summarise_points(points, seed)
    out["missing"] = missing
    return out


def summarise_points(points: list[dict[str, Any]], seed: int = 0) -> dict[str, Any]:
    """Fit and local slopes for points (from :func:`summarise` or :func:`closed_form_point`)."""
    points.sort(key=lambda p: (p["q"], p["k"]))
    inside = [p for p in points if p["in_regime"]]
    try:
        fit = fit_exponent(inside, seed)
    except ThresholdError:
        fit = None
    return {
        "alpha": None if fit is None else fit["alpha"],
        "alpha_ci": None if fit is None else fit["alpha_ci"],
        "beta": None if fit is None else fit["beta"],
        "fit": fit,
        "regime": {str(q): list(regime(q)) for q in sorted({p["q"] for p in points})},
        "points": points,
        "local_slopes": local_slopes(points, seed),
        "closed_form_inside": sum(p["closed_form_inside"] for p in points),
        "closed_form_checked": sum(p["closed_form_checked"] for p in points),
    }
