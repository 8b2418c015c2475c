"""Accumulated sampling and the classic round-1 sampling (docs/definitions.md §10, [NW93]).

Both are the disclosure chase of :mod:`protocols.library.disclosure_chase`
with every layer 2..k disclosing in a public random order (one order shared by
the batch under the hard distribution, one per instance otherwise).

**Accumulated sampling** (``sampling``).  P_j discloses in every round until
the chase can reach it, so by round r it has disclosed ``n_j(r) = floor(r·s/L)``
images (L = ceil(log2 q)) and P_k — one class bit per image — about
``r·(s - 1)`` classes.  With R = k-1 the chase is one hop short; it gets the
hop free if, for some layer j in 2..k-1, v_j is among the ``n_j(j-1)`` images
P_j disclosed before the chase arrived, or at the end if v_k's class is among
P_k's ``(k-1)(s-1)`` disclosures.  The vertices met are uniform and
independent of what was disclosed, so (decision version, R = k-1)::

    P(success) = 1 - prod_{j=2}^{k-1} (1 - n_j(j-1)/q) · (1 - n_k/q) · (1 - g(n_k))

with ``g(n) = E[max(A, m-A)]/m`` the majority guess over the ``m = q - n``
undisclosed classes (A hypergeometric; g is 1/2 + O(1/sqrt(m))).  Replacing
the product by an exponential and the floors by their arguments gives the
back-of-envelope form ``1 - (1/2)·exp(-s·(k²/(2qL) + k/q))`` — it drops the
floors (an item is L bits: below s = L/(j-1) player P_j discloses nothing yet),
the counter bit, and the guess's advantage, and s can never go below L (every
hop writes a vertex).  :func:`Sampling.predict` is the exact value
(:func:`~protocols.library.disclosure_chase.predict_disclosure_chase`), for
every R.

**Round-1 sampling** (``nw-sampling``, the classic baseline): the same, but
each P_j discloses only in round 1, ``floor(s/L)`` images, so the free-hop
chance per layer does not grow with the rounds: ``s* ~ qL/k`` instead of ``qL/k²``.
"""

from __future__ import annotations

from ..bits import bits_for
from ..problems.pointer_chasing import PointerChasing
from .disclosure_chase import DisclosureChase, predict_disclosure_chase

__all__ = ["Sampling", "NWSampling", "sampling_header", "sampling_budget"]


def sampling_header(q: int, k: int) -> int:
    """The least s the sampling protocol accepts with R >= 2: a hop writes one vertex, ``ceil(log2 q)`` bits.

    Examples
    --------
    >>> sampling_header(1024, 3)
    10
    """
    return bits_for(q)


def sampling_budget(q: int, k: int) -> tuple[int, int]:
    """The natural ``(R, s)``: ``R = max(k-1, 1)``, ``s = ceil(q/(k-1))·ceil(log2 q)``, at least a vertex and a layer.

    Examples
    --------
    >>> sampling_budget(1024, 3), sampling_budget(2, 8)
    ((2, 5120), (7, 5))
    """
    R = max(k - 1, 1)
    return R, max(-(-q // R) * bits_for(q), bits_for(k + 1) + bits_for(q))


class Sampling(DisclosureChase):
    """Accumulated sampling: every P_j (j >= 2) discloses images in every round before the chase reaches it.

    Parameters
    ----------
    problem : PointerChasing
    R : rounds; default ``max(k-1, 1)``.
    s : bits per message; default ``ceil(q/(k-1))·ceil(log2 q)`` (at least
        ``ceil(log2(k+1)) + ceil(log2 q)``).

    Examples
    --------
    >>> from protocols import PointerChasing, estimate_success
    >>> pc = PointerChasing(q=64, k=3)
    >>> p = Sampling(pc)
    >>> (p.R, p.s), estimate_success(p, pc, 400, seed=0).rate > 0.95
    ((2, 192), True)
    >>> round(Sampling(PointerChasing(q=256, k=8), s=10).predict(), 3)
    0.667
    """

    accumulate = True
    name = "sampling"

    def __init__(self, problem: PointerChasing, R: int | None = None, s: int | None = None):
        k, q = problem.k, problem.q
        R0, s0 = sampling_budget(q, k)
        R, s = (R0 if R is None else R), (s0 if s is None else s)
        super().__init__(problem, R, s, self.name, range(2, k + 1), accumulate=self.accumulate)

    @classmethod
    def predict_success(cls, q: int, k: int, R: int, s: int, version: str = "decision") -> float:
        """Exact success under uniform matchings, without building the protocol.

        Examples
        --------
        >>> Sampling.predict_success(1024, 4, 4, 10)
        1.0
        """
        if R >= k:
            return 1.0
        return predict_disclosure_chase(q, k, R, s, version, range(2, k + 1), cls.accumulate)


class NWSampling(Sampling):
    """Round-1 sampling [NW93]: every P_j (j >= 2) discloses ``floor(s/L)`` images in round 1 only.

    Examples
    --------
    >>> from protocols import PointerChasing
    >>> round(NWSampling(PointerChasing(q=256, k=8), s=10).predict(), 3)
    0.533
    """

    accumulate = False
    name = "nw-sampling"
