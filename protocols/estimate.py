"""Monte-Carlo success of a protocol on a problem, with Clopper–Pearson intervals."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .budget import budget_scope, chunk_size, chunks, footprint, require
from .engine import Protocol, run
from .errors import ProtocolError
from .problems.base import Problem
from .progress import progress as progress_bar
from .seeding import Seed, as_seed_sequence, child_seed
from .validation import check_int, check_real

__all__ = ["BinomialResult", "SuccessEstimate", "estimate_success", "clopper_pearson"]


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
    *,
    budget: int | str | None = None,
    progress: bool | None = False,
) -> SuccessEstimate:
    """Run ``protocol`` on ``trials`` sampled instances of ``problem`` and count successes.

    Trials run in chunks sized from one instance's whole footprint (inputs,
    board, answers and the protocol's declared scratch, :func:`protocols.budget.footprint`):
    the canonical chunk of :data:`protocols.budget.CHUNK_BYTES`, smaller only if the
    memory ``budget`` (default :func:`protocols.budget.memory_budget`) is smaller.
    Chunk ``c`` samples with ``child_seed(seed, c, 0)`` and runs with
    ``child_seed(seed, c, 1)``, so the result depends only on ``seed`` and the
    chunk size — the same for every budget of at least ``CHUNK_BYTES``.  One
    instance larger than the budget is refused before anything is allocated.

    Parameters
    ----------
    batch_size : force this chunk size (it must fit the budget).
    budget : memory budget in bytes or as ``"512M"``, ``"2G"``.
    progress : report progress on stderr (see :func:`protocols.progress.progress`);
        off by default for library calls.

    Examples
    --------
    >>> from protocols import PointerChasing
    >>> from protocols.library import OneHopPerRound
    >>> pc = PointerChasing(q=16, k=3)
    >>> est = estimate_success(OneHopPerRound(pc), pc, trials=200, seed=0)
    >>> est.successes, est.rate, est.ci_high
    (200, 1.0, 1.0)
    """
    trials = check_int("trials", trials, low=1, error=ProtocolError)
    confidence = check_real("confidence", confidence, error=ProtocolError)
    if not 0 < confidence < 1:
        raise ProtocolError(f"confidence = {confidence}; it must lie strictly between 0 and 1")
    if protocol.k != problem.k:
        raise ProtocolError(f"protocol has k = {protocol.k} speakers; problem has k = {problem.k}")
    root = as_seed_sequence(seed)
    with budget_scope(budget):
        fp = footprint(protocol, problem)
        if batch_size is None:
            size = chunk_size(fp.total, trials, what=fp.describe())
        else:
            size = check_int("batch_size", batch_size, low=1, error=ProtocolError)
            require(size * fp.total, f"a chunk of {size} instances")
        successes, max_used = 0, 0
        with progress_bar(trials, protocol.name, enabled=progress, unit="trial") as bar:
            for c, _, b in chunks(trials, size):
                inst = problem.sample(b, seed=child_seed(root, c, 0))
                r = run(protocol, problem.inputs(inst), seed=child_seed(root, c, 1), public=problem.public(inst))
                successes += int(np.count_nonzero(r.outputs == problem.answer(inst)))
                max_used = max(max_used, r.max_bits_used)
                del inst, r  # free this chunk before the next one is sampled
                bar.update(b)
    return SuccessEstimate(
        protocol.name, successes, int(trials), confidence, protocol.k, protocol.R, protocol.s,
        protocol.k * protocol.R * protocol.s, max_used,
    )
