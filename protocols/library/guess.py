"""The baseline: guess the answer without communicating."""

from __future__ import annotations

import numpy as np

from ..engine import BoardView, Coins, Protocol
from ..problems.pointer_chasing import PointerChasing
from .chase import answer_codec, coin_guess

__all__ = ["Guess"]


class Guess(Protocol):
    """The last speaker writes a uniformly random answer from its private coins.

    Success is exactly 1/2 (decision) or 1/q (search) on every instance: the
    floor every other protocol is compared with.  Default R = 1, s = the answer's width.

    Examples
    --------
    >>> from protocols import PointerChasing, estimate_success
    >>> pc = PointerChasing(q=8, k=3)
    >>> est = estimate_success(Guess(pc), pc, 4000, seed=0)
    >>> est.ci_low < 0.5 < est.ci_high
    True
    """

    def __init__(self, problem: PointerChasing, R: int | None = None, s: int | None = None):
        need = answer_codec(problem).width
        super().__init__(problem.k, 1 if R is None else R, need if s is None else s, "guess")
        if self.s < need:
            raise ValueError(f"guess needs s >= {need} bits to write an answer; got s = {self.s}")
        self.pc = problem

    def speaks(self, round: int, speaker: int) -> bool:
        return round == self.R - 1 and speaker == self.k - 1

    def message(self, round: int, speaker: int, board: BoardView, own: np.ndarray, coins: Coins) -> np.ndarray:
        return answer_codec(self.pc).encode(coin_guess(self.pc, coins, board.batch))

    def output(self, last: np.ndarray) -> np.ndarray:
        return answer_codec(self.pc).decode(last[:, : answer_codec(self.pc).width])
