"""Full dump: R = 1, s = q·ceil(log2 q) (docs/definitions.md §2, upper bounds)."""

from __future__ import annotations

import numpy as np

from ..engine import BoardView, Coins, Protocol
from ..problems.pointer_chasing import PointerChasing
from .chase import answer_bits, answer_codec, index_rows, vertex_codec

__all__ = ["FullDump"]


class FullDump(Protocol):
    """Every speaker but the last writes its whole matching; the last speaker chases alone.

    Why it works: after one round the last speaker has every layer (its own and
    k-1 from the board), so it computes v_{k+1} exactly and writes the answer.
    R = 1, s = q·ceil(log2 q).

    Examples
    --------
    >>> from protocols import PointerChasing, estimate_success
    >>> pc = PointerChasing(q=8, k=3)
    >>> p = FullDump(pc)
    >>> p.R, p.s, estimate_success(p, pc, 300, seed=0).rate
    (1, 24, 1.0)
    """

    def __init__(self, problem: PointerChasing, R: int | None = None, s: int | None = None):
        w = vertex_codec(problem).width
        need = problem.q * w
        super().__init__(problem.k, 1 if R is None else R, need if s is None else s, "full-dump")
        if self.s < need:
            raise ValueError(f"full-dump needs s >= q*ceil(log2 q) = {need} bits; got s = {self.s}")
        self.pc, self.codec = problem, vertex_codec(problem)

    def scratch_bytes(self) -> int:
        """Per-instance memory beyond the board: the last speaker's k decoded layers (int64) and one message's bits."""
        return 8 * self.pc.q * self.k + 2 * self.s

    def speaks(self, round: int, speaker: int) -> bool:
        return round == 0 or (round == self.R - 1 and speaker == self.k - 1)

    def message(self, round: int, speaker: int, board: BoardView, own: np.ndarray, coins: Coins) -> np.ndarray:
        B, k, q = board.batch, self.k, self.pc.q
        last = round == self.R - 1 and speaker == k - 1
        if not last:
            return self.codec.encode(own).reshape(B, -1)
        layers = {self.pc.layer_of(speaker): own}
        for i in range(k - 1):
            bits = board.message(0, i)[:, : q * self.codec.width].reshape(B, q, self.codec.width)
            layers[self.pc.layer_of(i)] = self.codec.decode(bits)
        v = board.public["start"].astype(np.int64)
        for j in range(1, k + 1):
            v = index_rows(layers[j], v).astype(np.int64)
        return answer_bits(self.pc, v)

    def output(self, last: np.ndarray) -> np.ndarray:
        return answer_codec(self.pc).decode(last[:, : answer_codec(self.pc).width])
