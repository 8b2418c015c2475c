"""One hop per round: R = k, s = ceil(log2 q) (docs/definitions.md §2, upper bounds)."""

from __future__ import annotations

import numpy as np

from ..budget import require
from ..engine import BoardView, Coins, Protocol
from ..problems.pointer_chasing import PointerChasing
from .chase import answer_bits, answer_codec, coin_guess, hop_schedule, index_rows, vertex_codec

__all__ = ["OneHopPerRound"]


class OneHopPerRound(Protocol):
    """Advance the chase by one hop whenever the speaker holds the layer where it waits.

    Why it works: in the hard order the holder of E_j speaks once per round, so
    the chase gains exactly one hop per round and reaches v_{k+1} in round k;
    in round r (1-based) P_r writes v_{r+1}.  The last speaker's last message
    copies the answer (class bit or vertex).  Which speaker advances when does
    not depend on the instance, so the schedule is fixed in advance and every
    speaker reads just one earlier message.  With fewer than k rounds the last
    speaker flips a fair private coin.  In the easy order one round suffices.

    R defaults to k; s = ceil(log2 q).

    Examples
    --------
    >>> from protocols import PointerChasing, estimate_success
    >>> pc = PointerChasing(q=64, k=4)
    >>> estimate_success(OneHopPerRound(pc), pc, 500, seed=0).rate
    1.0
    >>> OneHopPerRound(pc, R=3).R, OneHopPerRound(pc).s
    (3, 6)
    """

    def __init__(self, problem: PointerChasing, R: int | None = None, s: int | None = None):
        w = vertex_codec(problem).width
        super().__init__(problem.k, problem.k if R is None else R, max(w, 1) if s is None else s, "one-hop-per-round")
        if self.s < w:
            raise ValueError(f"one-hop-per-round needs s >= ceil(log2 q) = {w} bits; got s = {self.s}")
        self.pc = problem
        self.codec = vertex_codec(problem)
        # The schedule below has R·k entries: refuse a board that could never be run first.
        require(self.k * self.R * self.s, f"one instance's board (k·R·s = {self.k}·{self.R}·{self.s} bytes)")
        self.source, self.layer_at = hop_schedule(problem, self.R)
        k, total = self.k, self.R * self.k
        # Plain lists for the per-message lookups (numpy scalars are slow to index with).
        self._source = self.source.tolist()
        # advances[m]: message m moves the chase one hop (a fixed schedule, so precomputed).
        self.advances = [
            bool(self.layer_at[m] <= k and problem.layer_of(m % k) == self.layer_at[m]) for m in range(total)
        ]

    def speaks(self, round: int, speaker: int) -> bool:
        m = round * self.k + speaker
        return self.advances[m] or m == self.R * self.k - 1

    def _vertex(self, board: BoardView, m: int) -> np.ndarray:
        src = self._source[m]
        if src < 0:
            return board.public["start"].astype(np.int64)
        return self.codec.decode(board.message(src // self.k, src % self.k)[:, : self.codec.width])

    def message(self, round: int, speaker: int, board: BoardView, own: np.ndarray, coins: Coins) -> np.ndarray:
        m = round * self.k + speaker
        advances = self.advances[m]
        if m == self.R * self.k - 1:  # the last message carries the answer
            if self.layer_at[m + 1] <= self.k:
                return answer_codec(self.pc).encode(coin_guess(self.pc, coins, board.batch))
            v = self._vertex(board, m)
            end = index_rows(own, v).astype(np.int64) if advances else v
            return answer_bits(self.pc, end)
        if not advances:
            return np.zeros((board.batch, 0), np.uint8)
        return self.codec.encode(index_rows(own, self._vertex(board, m)))

    def output(self, last: np.ndarray) -> np.ndarray:
        return answer_codec(self.pc).decode(last[:, : answer_codec(self.pc).width])
