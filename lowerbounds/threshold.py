"""The least message size s at which a protocol reaches a target success (docs/figures.md §threshold_scaling).

:func:`find_threshold` searches integer s for the least value whose success
probability on (q, k) pointer chasing reaches ``target`` (default 2/3, the
level of the lower bound [SHT24] Prop. E.3), assuming success is non-decreasing
in s.  It spends trials where the decision is close:

1. **Sequential test per s.**  Trials run in batches of ``batch``; after each
   batch the Clopper–Pearson interval (:func:`protocols.clopper_pearson`) of the
   pooled count is compared with the target, and the test stops as soon as the
   interval excludes it (``ci_low > target``: reaches; ``ci_high < target``:
   falls short).  After ``max_trials`` the point estimate decides and the step
   is marked undecided.  Success far from the target is settled in one batch.
2. **Exponential bracketing** from ``s_min`` (s, growth·s, ...) until an s
   reaches the target (or ``s_max`` falls short: no threshold in range).
3. **Bisection** at the geometric midpoint of the bracket (lo, hi] until
   hi - lo = 1 or hi/lo <= ``resolution``.

An s at which the protocol cannot be built (its constructor raises a
ValueError, e.g. fewer bits than a message header) counts as falling short
with 0 trials.  Batch b of the test at s draws its instances and coins from
``child_seed(seed, s, b)``, so a search is reproducible and shares its random
numbers with :func:`scan_threshold` (the brute-force baseline) at equal s.

Examples
--------
>>> r = find_threshold("one-hop-per-round", q=64, k=3, R=3, seed=0)
>>> r.threshold, r.bracket, r.trials
(6, (5, 6), 128)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from protocols import PointerChasing, Protocol, clopper_pearson, estimate_success
from protocols.library import LIBRARY
from protocols.seeding import Seed, as_seed_sequence, child_seed
from protocols.validation import check_int, check_real

from .bounds import ceil_log2
from .errors import ThresholdError

__all__ = [
    "check_search",
    "ProtocolFamily",
    "ThresholdStep",
    "ThresholdReport",
    "ScanReport",
    "find_threshold",
    "scan_threshold",
    "resolve_family",
]

#: A library name, or a constructor ``(problem, R=..., s=...) -> Protocol``.
ProtocolFamily = str | Callable[..., Protocol]


@dataclass(frozen=True)
class ThresholdStep:
    """The estimate at one s: pooled successes over the batches run there.

    ``decided`` is True when the Clopper–Pearson interval excluded the target
    (or the protocol cannot be built at s: ``buildable`` False, 0 trials).
    """

    s: int
    successes: int
    trials: int
    ci_low: float | None
    ci_high: float | None
    reaches: bool
    decided: bool
    buildable: bool = True

    @property
    def rate(self) -> float | None:
        return self.successes / self.trials if self.trials else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "s": self.s, "successes": self.successes, "trials": self.trials, "success": self.rate,
            "ci_low": self.ci_low, "ci_high": self.ci_high, "reaches": self.reaches,
            "decided": self.decided, "buildable": self.buildable,
        }


@dataclass(frozen=True)
class ThresholdReport:
    """Result of :func:`find_threshold`.

    Attributes
    ----------
    threshold : least s found to reach the target (= ``bracket[1]``), or None
        if even ``s_max`` falls short.
    bracket : ``(lo, hi)``: lo is the largest tested s that falls short (None
        if ``s_min`` already reaches), hi the least tested s that reaches (None
        if none does).  The true threshold lies in (lo, hi].
    steps : every test, in the order run.
    trials : total trials spent.
    """

    protocol: str
    q: int
    k: int
    R: int
    target: float
    confidence: float
    resolution: float
    threshold: int | None
    bracket: tuple[int | None, int | None]
    steps: tuple[ThresholdStep, ...]
    trials: int

    def step_at(self, s: int | None) -> ThresholdStep | None:
        """The test run at ``s`` (None if s was not tested)."""
        return next((st for st in self.steps if st.s == s), None)

    @property
    def deciding(self) -> tuple[ThresholdStep | None, ThresholdStep | None]:
        """The two estimates that decided the bracket: at lo and at hi."""
        return self.step_at(self.bracket[0]), self.step_at(self.bracket[1])

    def as_dict(self) -> dict[str, Any]:
        return {
            "protocol": self.protocol, "q": self.q, "k": self.k, "R": self.R, "target": self.target,
            "confidence": self.confidence, "resolution": self.resolution, "threshold": self.threshold,
            "bracket": list(self.bracket), "trials": self.trials,
            "steps": [st.as_dict() for st in self.steps],
        }


@dataclass(frozen=True)
class ScanReport:
    """Result of :func:`scan_threshold`: a fixed number of trials at every s of a list."""

    protocol: str
    q: int
    k: int
    R: int
    target: float
    threshold: int | None
    bracket: tuple[int | None, int | None]
    steps: tuple[ThresholdStep, ...]
    trials: int


def resolve_family(protocol_family: ProtocolFamily) -> tuple[str, Callable[..., Protocol]]:
    """``(name, constructor)`` for a library name or a constructor.

    Examples
    --------
    >>> resolve_family("guess")[0]
    'guess'
    """
    if isinstance(protocol_family, str):
        if protocol_family not in LIBRARY:
            raise ThresholdError(
                f"unknown protocol {protocol_family!r}; the library has {', '.join(sorted(LIBRARY))}"
            )
        return protocol_family, LIBRARY[protocol_family]
    if not callable(protocol_family):
        raise ThresholdError(f"protocol_family {protocol_family!r} is neither a library name nor a constructor")
    return getattr(protocol_family, "__name__", type(protocol_family).__name__), protocol_family


def _check(target: float, confidence: float, batch: int, max_trials: int) -> None:
    check_real("target", target, error=ThresholdError)
    if not 0 < target < 1:
        raise ThresholdError(f"target = {target!r}; a success target must lie strictly between 0 and 1")
    check_real("confidence", confidence, error=ThresholdError)
    if not 0 < confidence < 1:
        raise ThresholdError(f"confidence = {confidence!r}; it must lie strictly between 0 and 1")
    for name, v in (("batch", batch), ("max_trials", max_trials)):
        check_int(name, v, low=1, error=ThresholdError)


def check_search(
    q: int, k: int, R: int, target: float, confidence: float, batch: int, max_trials: int,
    s_min: int, s_max: int | None, resolution: float, growth: float,
) -> int:
    """Validate the parameters of :func:`find_threshold` (nothing is measured); the effective ``s_max``.

    Examples
    --------
    >>> check_search(64, 3, 2, 2 / 3, 0.95, 64, 4096, 1, None, 1.0, 2.0)
    384
    >>> check_search(64, 3, 2, 1.5, 0.95, 64, 4096, 1, None, 1.0, 2.0)
    Traceback (most recent call last):
    ...
    lowerbounds.errors.ThresholdError: target = 1.5; a success target must lie strictly between 0 and 1
    """
    _check(target, confidence, batch, max_trials)
    check_int("q", q, low=2, error=ThresholdError)
    check_int("k", k, low=1, error=ThresholdError)
    check_int("R", R, low=1, error=ThresholdError)
    check_int("s_min", s_min, low=1, error=ThresholdError)
    s_max = int(q * ceil_log2(q)) if s_max is None else check_int("s_max", s_max, low=s_min, error=ThresholdError)
    if not check_real("resolution", resolution, error=ThresholdError) >= 1:
        raise ThresholdError(f"resolution = {resolution!r}; it is a ratio hi/lo and must be >= 1")
    if not check_real("growth", growth, error=ThresholdError) > 1:
        raise ThresholdError(f"growth = {growth!r}; bracketing needs a factor > 1")
    return s_max


class _Tester:
    """Sequential Clopper–Pearson tests at integer s, memoised."""

    def __init__(self, build, problem, R, target, confidence, batch, max_trials, seed, sequential=True, chunk=None):
        self.build, self.problem, self.R, self.chunk = build, problem, R, chunk
        self.target, self.confidence = target, confidence
        self.batch, self.max_trials = batch, max_trials
        self.root = seed
        self.sequential = sequential
        self.steps: list[ThresholdStep] = []
        self._memo: dict[int, ThresholdStep] = {}
        self.last_error: str | None = None

    def __call__(self, s: int) -> ThresholdStep:
        if s in self._memo:
            return self._memo[s]
        try:
            protocol = self.build(self.problem, R=self.R, s=s)
        except ValueError as exc:
            self.last_error = str(exc)
            step = ThresholdStep(s, 0, 0, None, None, reaches=False, decided=True, buildable=False)
        else:
            step = self._measure(protocol, s)
        self._memo[s] = step
        self.steps.append(step)
        return step

    def check_buildable(self, name: str) -> None:
        """A search in which the protocol could never be built measured nothing: say so."""
        if self.steps and not any(st.buildable for st in self.steps):
            tried = ", ".join(str(st.s) for st in self.steps)
            raise ThresholdError(f"{name} could not be built at any tested s ({tried}): {self.last_error}")

    def _measure(self, protocol: Protocol, s: int) -> ThresholdStep:
        successes = trials = b = 0
        while trials < self.max_trials:
            n = min(self.batch, self.max_trials - trials)
            est = estimate_success(protocol, self.problem, n, seed=child_seed(self.root, s, b), batch_size=self.chunk)
            successes, trials, b = successes + est.successes, trials + n, b + 1
            if self.sequential:
                lo, hi = clopper_pearson(successes, trials, self.confidence)
                if lo > self.target or hi < self.target:
                    return ThresholdStep(s, successes, trials, lo, hi, reaches=lo > self.target, decided=True)
        lo, hi = clopper_pearson(successes, trials, self.confidence)
        decided = lo > self.target or hi < self.target
        return ThresholdStep(s, successes, trials, lo, hi, reaches=successes >= self.target * trials, decided=decided)


def _setup(protocol_family, q, k, R, version, order, lazy=False):
    name, build = resolve_family(protocol_family)
    # lazy: the hard distribution with layers drawn on first read (docs/definitions.md §2.1)
    problem = PointerChasing(q=q, k=k, version=version, order=order, hard=lazy, lazy=lazy)
    check_int("R", R, low=1, error=ThresholdError)
    return name, build, problem


def find_threshold(
    protocol_family: ProtocolFamily,
    q: int,
    k: int,
    R: int,
    target: float = 2 / 3,
    *,
    seed: Seed = 0,
    confidence: float = 0.95,
    batch: int = 64,
    max_trials: int = 4096,
    s_min: int = 1,
    s_max: int | None = None,
    resolution: float = 1.0,
    growth: float = 2.0,
    version: str = "decision",
    order: str = "hard",
    lazy: bool = False,
    chunk: int | None = None,
) -> ThresholdReport:
    """Least integer s at which ``protocol_family`` reaches success ``target`` with R rounds.

    See the module docstring for the search.  Assumes success is non-decreasing in s.

    Parameters
    ----------
    protocol_family : library name (``protocols.library.LIBRARY``) or a
        constructor ``(problem, R=..., s=...) -> Protocol``.
    q, k : the pointer-chasing problem (``version``, ``order`` as in
        :class:`protocols.PointerChasing`).
    R : rounds.
    target : success to reach, default 2/3.
    seed : root seed; batch b at s uses ``child_seed(seed, s, b)``.
    confidence : of the Clopper–Pearson intervals.
    batch, max_trials : trials per look, and the most trials spent at one s.
    s_min, s_max : search range; ``s_max`` defaults to q·ceil(log2 q) (the
        full-dump budget, where every player can write its whole input).
    resolution : stop bisecting once hi/lo <= resolution (1.0: to the integer).
    growth : factor of the exponential bracketing.
    lazy : sample the hard distribution lazily (docs/definitions.md §2.1): a
        trial costs what the protocol reads.  Same distribution as ``lazy=False``.
    chunk : trials per engine run (default: bounded board memory); bounds memory.

    Returns
    -------
    ThresholdReport

    Examples
    --------
    >>> r = find_threshold("guess", q=16, k=2, R=1, s_max=8, seed=0)
    >>> r.threshold is None, r.bracket
    (True, (8, None))
    """
    s_max = check_search(q, k, R, target, confidence, batch, max_trials, s_min, s_max, resolution, growth)
    name, build, problem = _setup(protocol_family, q, k, R, version, order, lazy)
    test = _Tester(build, problem, R, target, confidence, batch, max_trials, as_seed_sequence(seed), chunk=chunk)

    lo: int | None = None
    hi: int | None = None
    s = s_min
    while True:
        if test(s).reaches:
            hi = s
            break
        lo = s
        if s >= s_max:
            break
        s = min(s_max, max(s + 1, math.ceil(s * growth)))
    if hi is not None and lo is not None:
        while hi - lo > 1 and hi / lo > resolution:
            mid = min(hi - 1, max(lo + 1, round(math.sqrt(lo * hi))))
            if test(mid).reaches:
                hi = mid
            else:
                lo = mid
    test.check_buildable(name)
    steps = tuple(test.steps)
    return ThresholdReport(
        name, q, k, R, float(target), float(confidence), float(resolution), hi, (lo, hi), steps,
        sum(st.trials for st in steps),
    )


def scan_threshold(
    protocol_family: ProtocolFamily,
    q: int,
    k: int,
    R: int,
    s_values: Sequence[int],
    trials: int,
    target: float = 2 / 3,
    *,
    seed: Seed = 0,
    confidence: float = 0.95,
    batch: int = 64,
    version: str = "decision",
    order: str = "hard",
    lazy: bool = False,
    chunk: int | None = None,
) -> ScanReport:
    """Brute force: ``trials`` trials at every s in ``s_values``; threshold = least s whose rate reaches target.

    Uses the same per-(s, batch) seeds as :func:`find_threshold`, so the two
    agree wherever both ran the same batches.  ``lazy`` and ``chunk`` as there.

    Examples
    --------
    >>> r = scan_threshold("one-hop-per-round", 64, 3, 3, [4, 5, 6, 7], trials=64)
    >>> r.threshold, r.bracket, r.trials
    (6, (5, 6), 128)
    """
    _check(target, confidence, batch, trials)
    name, build, problem = _setup(protocol_family, q, k, R, version, order, lazy)
    values = sorted({int(s) for s in s_values})
    if not values or values[0] < 1:
        raise ThresholdError(f"s_values = {list(s_values)!r}; need at least one positive integer")
    test = _Tester(build, problem, R, target, confidence, batch, trials, as_seed_sequence(seed), sequential=False,
                   chunk=chunk)
    steps = tuple(test(s) for s in values)
    test.check_buildable(name)
    hi = next((st.s for st in steps if st.reaches), None)
    below = [st.s for st in steps if hi is None or st.s < hi]
    lo = below[-1] if below else None
    return ScanReport(name, q, k, R, float(target), hi, (lo, hi), steps, sum(st.trials for st in steps))
