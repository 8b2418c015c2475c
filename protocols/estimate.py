"""Monte-Carlo success of a protocol on a problem, with Clopper–Pearson intervals."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .engine import Protocol, open_session
from .errors import ProtocolError
from .problems.base import Problem
from .sealing import NamespaceGuard
from .seeding import Seed, as_seed_sequence, child_seed
from .validation import check_int

__all__ = ["BinomialResult", "SuccessEstimate", "estimate_success", "clopper_pearson", "default_batch"]

#: Board bytes per chunk; bigger batches are split so memory stays bounded.
CHUNK_BYTES = 2**25


def default_batch(protocol: Protocol, trials: int) -> int:
    """Largest chunk with a board of at most ``CHUNK_BYTES`` (at least 1, at most ``trials``)."""
    per = protocol.k * protocol.R * protocol.s
    return int(max(1, min(trials, CHUNK_BYTES // max(per, 1))))


def clopper_pearson(successes: int, trials: int, confidence: float = 0.95) -> tuple[float, float]:
    """Exact (Clopper–Pearson) interval for a binomial proportion, via :func:`scipy.stats.binomtest`.

    Examples
    --------
    >>> lo, hi = clopper_pearson(50, 100)
    >>> round(lo, 3), round(hi, 3)
    (0.398, 0.602)
    """
    if trials < 1 or not 0 <= successes <= trials:
        raise ProtocolError(f"need 0 <= successes <= trials and trials >= 1; got {successes}/{trials}")
    from scipy.stats import binomtest  # imported here: scipy.stats costs seconds at startup of every CLI

    ci = binomtest(int(successes), int(trials)).proportion_ci(confidence_level=confidence, method="exact")
    return float(ci.low), float(ci.high)


class BinomialResult:
    """Success rate and Clopper–Pearson interval for a result with ``successes``, ``trials``, ``confidence``.

    Mixed into result dataclasses (like ``scipy.stats.binomtest``'s result).
    """

    successes: int
    trials: int
    confidence: float

    @property
    def rate(self) -> float:
        return self.successes / self.trials

    def proportion_ci(self, confidence_level: float | None = None) -> tuple[float, float]:
        """Clopper–Pearson interval (default: the result's confidence)."""
        return clopper_pearson(self.successes, self.trials, confidence_level or self.confidence)

    @property
    def ci_low(self) -> float:
        return self.proportion_ci()[0]

    @property
    def ci_high(self) -> float:
        return self.proportion_ci()[1]


@dataclass(frozen=True)
class SuccessEstimate(BinomialResult):
    """Result of :func:`estimate_success` (in the spirit of ``scipy.stats.binomtest``)."""

    protocol: str
    successes: int
    trials: int
    confidence: float
    k: int
    R: int
    s: int
    bits_written: int
    max_bits_used: int

    def as_dict(self) -> dict:
        lo, hi = self.proportion_ci()
        return {
            "protocol": self.protocol, "k": self.k, "rounds": self.R, "bits": self.s,
            "trials": self.trials, "successes": self.successes, "success": self.rate,
            "ci_low": lo, "ci_high": hi, "confidence": self.confidence,
            "bits_written": self.bits_written, "max_bits_used": self.max_bits_used,
        }


def estimate_success(
    protocol: Protocol,
    problem: Problem,
    trials: int,
    seed: Seed = None,
    confidence: float = 0.95,
    batch_size: int | None = None,
    isolation: str = "in-process",
) -> SuccessEstimate:
    """Run ``protocol`` on ``trials`` sampled instances of ``problem`` and count successes.

    Trials run in chunks of ``batch_size`` (default: bounded board memory); chunk
    ``c`` samples with ``child_seed(seed, c, 0)`` and runs with
    ``child_seed(seed, c, 1)``, so the result depends only on ``seed`` and
    ``batch_size`` — and not on ``isolation`` (``"in-process"`` or ``"process"``,
    docs/definitions.md §1.1) for an honest protocol.

    Examples
    --------
    >>> from protocols import PointerChasing
    >>> from protocols.library import OneHopPerRound
    >>> pc = PointerChasing(q=16, k=3)
    >>> est = estimate_success(OneHopPerRound(pc), pc, trials=200, seed=0)
    >>> est.successes, est.rate, est.ci_high
    (200, 1.0, 1.0)
    """
    check_int("trials", trials, low=1, error=ProtocolError)
    if protocol.k != problem.k:
        raise ProtocolError(f"protocol has k = {protocol.k} speakers; problem has k = {problem.k}")
    root = as_seed_sequence(seed)
    size = batch_size or default_batch(protocol, trials)
    successes, max_used, done, c = 0, 0, 0, 0
    # Opened before any instance exists (process isolation sends the protocol now), and the
    # answers are fixed before each run from instances no speaker can write (docs/definitions.md §1.1).
    guard = NamespaceGuard.of(problem)
    with open_session(protocol, isolation) as session:
        while done < trials:
            b = min(size, trials - done)
            inst = problem.sample(b, seed=child_seed(root, c, 0))
            answer = np.array(problem.answer(inst))
            r = session.run(problem.inputs(inst), seed=child_seed(root, c, 1), public=problem.public(inst))
            guard.check(f"the run of chunk {c}")
            successes += int(np.count_nonzero(r.outputs == answer))
            max_used = max(max_used, r.max_bits_used)
            done, c = done + b, c + 1
    return SuccessEstimate(
        protocol.name, successes, int(trials), confidence, protocol.k, protocol.R, protocol.s,
        protocol.k * protocol.R * protocol.s, max_used,
    )
