"""The last-layer table: P_k spreads the class table of E_k over the rounds (docs/definitions.md §10).

P_k writes the q-bit table ``u -> class(E_k(u))`` (in the search version the
images, L bits each) in the natural order u = 0, 1, ... as a stream across its
R messages; meanwhile the chase runs one hop per round (P_r writes v_{r+1} in
round r).  With R = k-1 the chase stands at v_k after round k-1 and the last
speaker reads v_k's class off the table.  It is the disclosure chase with only
P_k disclosing.

**Certain success** needs the whole table, ``(k-1)·s >= q`` bits, and room
for a hop, ``s >= L = ceil(log2 q)`` (for k >= 3: P_1..P_{k-1} write vertices;
for k = 2 the table alone, s >= q >= L): ``s = max(ceil(q/(k-1)), L)``, as
claimed — the claim checks out (tests: success 1 at that s, below 1 one bit
less whenever the table binds).  Below it the last speaker knows ``n = (k-1)s``
classes and otherwise guesses the majority of the rest:
``P = n/q + (1 - n/q)·g(n)``.
"""

from __future__ import annotations

from ..bits import bits_for
from ..problems.pointer_chasing import PointerChasing
from .disclosure_chase import DisclosureChase, predict_disclosure_chase

__all__ = ["LastLayerTable"]


class LastLayerTable(DisclosureChase):
    """P_k spreads its class table over rounds 1..R; the chase runs one hop per round.

    Parameters
    ----------
    problem : PointerChasing
    R : rounds; default ``max(k-1, 1)``.
    s : bits per message; default ``max(ceil(q·d/R), L)`` with d = 1 (decision) or L
        (search): the least s with certain success.

    Examples
    --------
    >>> from protocols import PointerChasing, estimate_success
    >>> pc = PointerChasing(q=64, k=5)
    >>> p = LastLayerTable(pc)
    >>> (p.R, p.s), estimate_success(p, pc, 300, seed=0).rate
    ((4, 16), 1.0)
    """

    def __init__(self, problem: PointerChasing, R: int | None = None, s: int | None = None):
        k, q = problem.k, problem.q
        R = max(k - 1, 1) if R is None else R
        s = self.certain_budget(q, k, R, problem.version) if s is None else s
        super().__init__(problem, R, s, "last-layer-table", [k], accumulate=True, order="natural")

    @staticmethod
    def certain_budget(q: int, k: int, R: int, version: str = "decision") -> int:
        """``max(ceil(q·d/R), L)`` (``ceil(q·d/R)`` alone when no vertex is ever written: k <= 2 or R = 1).

        Examples
        --------
        >>> LastLayerTable.certain_budget(1024, 8, 7), LastLayerTable.certain_budget(1024, 200, 199)
        (147, 10)
        """
        L = bits_for(q)
        d = 1 if version == "decision" else L
        table = -(-q * d // R)
        return max(table, L) if (R >= 2 and k >= 3) else table

    @staticmethod
    def predict_success(q: int, k: int, R: int, s: int, version: str = "decision") -> float:
        """Exact success under uniform matchings.

        Examples
        --------
        >>> LastLayerTable.predict_success(64, 5, 4, 16), LastLayerTable.predict_success(64, 5, 4, 10) < 1
        (1.0, True)
        """
        if R >= k:
            return 1.0
        return predict_disclosure_chase(q, k, R, s, version, [k], True)
