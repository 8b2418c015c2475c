"""Backward collapse: the tail of the chain folded into one table (docs/definitions.md §10).

With R rounds the forward chase (P_r writes v_{r+1} in round r) reaches
v_{j*}, ``j* = min(R+1, k)``, by the end.  The holders of the remaining layers
fold them backwards into one table: P_k posts ``T_k(u) = ans(E_k(u))`` (the
class bit; the vertex in the search version), then P_{k-1} posts
``T_{k-1}(u) = T_k(E_{k-1}(u))``, ..., down to ``T_{j*}``; the last speaker
answers ``T_{j*}(v_{j*})``.  Each table is q·d bits (d = answer width) spread
over ``c = ceil(q·d/s)`` messages in the natural order u = 0, 1, ...; P_j can
start only once T_{j+1} is complete — in the round T_{j+1} completes, since P_j
speaks after P_{j+1} — so T_j completes in round ``c + (k-j)(c-1)``.

**Certain success** when T_{j*} completes by round R and the hops fit
(``s >= L`` when a vertex is written, j* >= 3).  With s >= q·d (c = 1) every
table goes up in round 1 and R = 1 suffices.  Otherwise, with ``n`` entries of
T_{j*} posted by the last turn, ``P = n/q + (1 - n/q)·g(n)`` (g: the majority
guess over the undisclosed entries; T_{j*} is as balanced as the classes,
being a class map composed with matchings), exact under uniform matchings.
"""

from __future__ import annotations

import numpy as np

from ..bits import bits_for
from ..engine import BoardView, Coins, Protocol
from ..problems.pointer_chasing import PointerChasing
from .chase import answer_bits, answer_codec, index_rows, vertex_codec
from .disclosure_chase import _decode, guess_success
from .one_hop import OneHopPerRound

__all__ = ["BackwardCollapse"]


class _Schedule:
    """Rounds of the table stage, a function of (q, k, R, s, d) only."""

    def __init__(self, q: int, k: int, R: int, s: int, d: int):
        self.q, self.k, self.R, self.s, self.d = q, k, R, s, d
        self.meet = min(R + 1, k)
        self.c = -(-q * d // s)  # messages per table
        # first[j]: the round (1-based) P_j posts its first chunk; done[j]: the round its table completes
        self.first, self.done = {k: 1}, {k: self.c}
        for j in range(k - 1, self.meet - 1, -1):
            self.first[j] = self.done[j + 1]
            self.done[j] = self.first[j] + self.c - 1

    def posted(self, j: int, r: int) -> int:
        """Entries of T_j complete after round r."""
        if r < self.first[j]:
            return 0
        return min(self.q, ((r - self.first[j] + 1) * self.s) // self.d)


class BackwardCollapse(Protocol):
    """Forward chase to layer j* = min(R+1, k), tables ``T_j = ans∘E_k∘…∘E_j`` folded back to it.

    Parameters
    ----------
    problem : PointerChasing (the easy order needs one round of hops: there it is
        :class:`OneHopPerRound`).
    R : rounds; default 1.
    s : bits per message; default ``q·d`` (every table in round 1; d = answer width).

    Examples
    --------
    >>> from protocols import PointerChasing, estimate_success
    >>> pc = PointerChasing(q=32, k=4)
    >>> p = BackwardCollapse(pc)
    >>> (p.R, p.s), estimate_success(p, pc, 300, seed=0).rate
    ((1, 32), 1.0)
    >>> BackwardCollapse(pc, R=3, s=16).predict(), round(BackwardCollapse(pc, R=2, s=16).predict(), 3)
    (1.0, 0.784)
    """

    def __init__(self, problem: PointerChasing, R: int | None = None, s: int | None = None):
        k, q = problem.k, problem.q
        self.acodec, self.vcodec = answer_codec(problem), vertex_codec(problem)
        d = self.acodec.width
        super().__init__(k, 1 if R is None else R, q * d if s is None else s, "backward-collapse")
        self.pc, self.d, self.L = problem, d, bits_for(q)
        self.plan = _Schedule(q, k, self.R, self.s, d)
        self._easy = OneHopPerRound(problem, self.R, self.s) if problem.order == "easy" else None
        need = self.L if self.plan.meet >= 3 else d
        if self.s < need:
            raise ValueError(
                f"backward-collapse needs s >= {need} bits (a forward hop writes a vertex of "
                f"ceil(log2 q) = {self.L} bits); got s = {self.s}"
            )

    def speaks(self, round: int, speaker: int) -> bool:
        if self._easy is not None:
            return self._easy.speaks(round, speaker)
        r, j, p = round + 1, self.pc.layer_of(speaker), self.plan
        if round * self.k + speaker == self.R * self.k - 1:
            return True
        if j < p.meet:
            # a forward hop; with j* = 2 the last speaker (P_1) hops E_1 itself, so none is needed
            return r == j and p.meet >= 3
        return p.first[j] <= r <= p.done[j]

    def _entries(self, board: BoardView, j: int, u: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """T_j(u) read off the board for instances ``rows`` (u per row, same shape)."""
        p = self.plan
        pos = u.reshape(u.size, 1) * self.d + np.arange(self.d)
        m = (p.first[j] - 1 + pos // self.s) * self.k + (self.k - j)
        bits = board.messages()[rows.reshape(-1, 1), m, pos % self.s]
        return _decode(bits).reshape(u.shape)

    def message(self, round: int, speaker: int, board: BoardView, own, coins: Coins) -> np.ndarray:
        if self._easy is not None:
            return self._easy.message(round, speaker, board, own, coins)
        B, k, p = board.batch, self.k, self.plan
        r, j = round + 1, self.pc.layer_of(speaker)
        if round * k + speaker == self.R * k - 1:
            return self.acodec.encode(self._answer(board, own, coins))
        if j < p.meet:  # forward hop: P_j writes v_{j+1} in round j
            return self.vcodec.encode(index_rows(own, self._vertex(board, j)))
        lo, hi = (r - p.first[j]) * self.s, (r - p.first[j] + 1) * self.s
        u0, u1 = lo // self.d, min(self.pc.q, -(-hi // self.d))
        out = np.zeros((B, self.s), dtype=np.uint8)
        if u0 >= u1:
            return out
        images = index_rows(own, np.broadcast_to(np.arange(u0, u1), (B, u1 - u0))).astype(np.int64)
        if j == k:
            bits = answer_bits(self.pc, images.reshape(-1)).reshape(B, -1)
        else:
            rows = np.broadcast_to(np.arange(B)[:, None], images.shape)
            bits = self.acodec.encode(self._entries(board, j + 1, images, rows)).reshape(B, -1)
        seg = bits[:, lo - u0 * self.d : hi - u0 * self.d]
        out[:, : seg.shape[1]] = seg
        return out

    def _vertex(self, board: BoardView, j: int) -> np.ndarray:
        """v_j: the start, or what P_{j-1} wrote in round j-1."""
        if j == 1:
            return board.public["start"].astype(np.int64)
        return _decode(board.message(j - 2, self.k - (j - 1))[:, : self.L])

    def _answer(self, board: BoardView, own, coins: Coins) -> np.ndarray:
        B, k, q, p = board.batch, self.k, self.pc.q, self.plan
        rows = np.arange(B)
        j = p.meet
        if k == 1:  # the last speaker holds the only layer
            return answer_bits(self.pc, index_rows(own, self._vertex(board, 1)).astype(np.int64)) @ (
                1 << np.arange(self.d - 1, -1, -1))
        # v_{j*}: the last speaker (P_1) hops E_1 itself when j* = 2
        if j == 2:
            v = index_rows(own, board.public["start"].astype(np.int64)).astype(np.int64)
        else:
            v = self._vertex(board, j)
        n = p.posted(j, self.R)
        if n >= q:
            return self._entries(board, j, v, rows)
        rng = coins.private
        known = v < n  # natural order: the first n entries are posted
        ans = np.zeros(B, dtype=np.int64)
        if known.any():
            g = np.flatnonzero(known)
            ans[g] = self._entries(board, j, v[g], g)
        seen = self._entries(board, j, np.broadcast_to(np.arange(n), (B, n)), np.broadcast_to(rows[:, None], (B, n))) \
            if n else np.zeros((B, 0), dtype=np.int64)
        if self.pc.version == "search":
            taken = np.zeros((B, q), dtype=bool)
            np.put_along_axis(taken, seen, True, axis=1)
            guess = np.where(taken, -1.0, rng.random((B, q))).argmax(axis=1)
        else:
            total = int(self.pc.class_array.sum())
            ones = total - seen.sum(axis=1)
            zeros = (q - n) - ones
            guess = np.where(ones > zeros, 1, np.where(ones < zeros, 0, rng.integers(0, 2, B)))
        return np.where(known, ans, guess)

    def output(self, last: np.ndarray) -> np.ndarray:
        return self.acodec.decode(last[:, : self.acodec.width])

    @staticmethod
    def predict_success(q: int, k: int, R: int, s: int, version: str = "decision", ones: int | None = None) -> float:
        """Exact success under uniform matchings (hard order).

        Examples
        --------
        >>> BackwardCollapse.predict_success(64, 6, 1, 64), BackwardCollapse.predict_success(64, 6, 1, 32)
        (1.0, 0.5)
        """
        if k == 1:
            return 1.0
        d = 1 if version == "decision" else bits_for(q)
        n = _Schedule(q, k, R, s, d).posted(min(R + 1, k), R)
        n = min(n, q)
        return n / q + (1 - n / q) * guess_success(q, q // 2 if ones is None else ones, n, version)

    def predict(self) -> float:
        """Exact success of this protocol under uniform matchings."""
        if self._easy is not None:
            return 1.0
        return self.predict_success(self.pc.q, self.k, self.R, self.s, self.pc.version, int(self.pc.class_array.sum()))
