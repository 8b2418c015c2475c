"""One hop per round, performed on the token blocks of encoded sequences (docs/definitions.md §2, §4).

:class:`TokenChase` is the one-hop-per-round protocol of
:class:`protocols.library.OneHopPerRound`, but its players hold token chunks
of a :class:`~reductions.HopInstance`, not edge layers: a hop is an
induction-head step inside one block (find the pair whose first token is the
current vertex's label, read the token after it), and the start vertex is the
last speaker's final token, not public data.  It outputs the token that
``hop_k`` puts at the last position, ``2q + class(v_{k+1})``, so it is judged
by :class:`~reductions.khop.pointer_chasing_to_hop.EncodedPointerChasing`.

Same schedule and same coins as ``OneHopPerRound``: on the same instances and
seed the two agree exactly (``TokenChase`` output = ``2q +`` the graph
protocol's output), for every R, including R < k where the last speaker
guesses with its private coins.
"""

from __future__ import annotations

import numpy as np

from protocols.bits import UInt, bits_for
from protocols.engine import BoardView, Coins, Protocol
from protocols.library.chase import coin_guess, hop_schedule
from protocols.problems.pointer_chasing import PointerChasing
from reductions.khop.instance import EncodingError, class_token
from reductions.khop.pointer_chasing_to_hop import EncodedPointerChasing, label

__all__ = ["TokenChase"]


class TokenChase(Protocol):
    """The one-hop-per-round chase on token chunks: R = k rounds of ceil(log2 q) bits.

    In round r (1-based) the holder of the block of layer r — speaker ``k-r``
    — looks up the current vertex's label among the first tokens of its
    block's pairs and writes the vertex named by the next token; the holder
    of layer k writes the class its block names.  The last speaker starts the
    chase from its own final token and copies the class into the last message
    (1 bit).  With fewer than k rounds the last speaker flips a private coin.

    Parameters
    ----------
    problem : :class:`~reductions.khop.pointer_chasing_to_hop.EncodedPointerChasing`
        (or the :class:`protocols.PointerChasing` it wraps).
    R : rounds (default k).   s : bits per message (default ceil(log2 q)).

    Examples
    --------
    >>> from protocols import PointerChasing, estimate_success
    >>> from reductions.khop.pointer_chasing_to_hop import EncodedPointerChasing
    >>> enc = EncodedPointerChasing(PointerChasing(q=16, k=3, start=None))
    >>> p = TokenChase(enc)
    >>> p.R, p.s, estimate_success(p, enc, 300, seed=0).rate
    (3, 4, 1.0)
    """

    def __init__(
        self,
        problem: EncodedPointerChasing | PointerChasing,
        R: int | None = None,
        s: int | None = None,
    ):
        enc = (
            problem
            if isinstance(problem, EncodedPointerChasing)
            else EncodedPointerChasing(problem)
        )
        pc = enc.problem
        w = bits_for(pc.q)
        super().__init__(
            pc.k, pc.k if R is None else R, max(w, 1) if s is None else s, "token-chase"
        )
        if self.s < w:
            raise ValueError(f"token-chase needs s >= ceil(log2 q) = {w} bits; got s = {self.s}")
        self.pc, self.q = pc, pc.q
        self.codec = UInt(w)
        # OneHopPerRound's schedule (the encoding fixes the hard order).
        self.source, self.layer_at = hop_schedule(pc, self.R)

    # -- reading a chunk ----------------------------------------------------
    def _block(self, speaker: int, own: np.ndarray) -> np.ndarray:
        """The ``(B, 2q)`` block in a speaker's chunk (speaker 0 may also hold padding)."""
        q, k, n = self.q, self.k, own.shape[1]
        last = speaker == k - 1
        need = 2 * q + (1 if last else 0)
        if n < need or (speaker > 0 and n != need):
            raise EncodingError(
                f"speaker {speaker} holds {n} tokens; the canonical chunk is the block of layer "
                f"{k - speaker} ({2 * q} tokens){' plus the final token' if last else ''}"
                f"{' after any padding' if speaker == 0 else ''}"
            )
        start = n - need
        return own[:, start : start + 2 * q]

    def _hop(self, speaker: int, own: np.ndarray, vertex: np.ndarray) -> np.ndarray:
        """One induction-head step in the speaker's block: the token after the current label."""
        layer = self.k - speaker
        block = self._block(speaker, own).astype(np.int64)
        hit = block[:, 0::2] == label(layer, vertex, self.q)[:, None]
        found = hit.any(axis=1)
        if not found.all():
            b = int(np.flatnonzero(~found)[0])
            raise EncodingError(
                f"instance {b}: the block of layer {layer} has no pair starting with token "
                f"{label(layer, int(vertex[b]), self.q)}"
            )
        return block[np.arange(block.shape[0]), 2 * hit.argmax(axis=1) + 1]

    def _vertex(self, board: BoardView, m: int, speaker: int, own: np.ndarray) -> np.ndarray:
        src = self.source[m]
        if src < 0:  # the chase starts at label_1(v), the final token of the last speaker's chunk
            return own[:, -1].astype(np.int64) - label(1, 0, self.q)
        return self.codec.decode(board.message(src // self.k, src % self.k)[:, : self.codec.width])

    # -- the protocol -------------------------------------------------------
    def message(
        self, round: int, speaker: int, board: BoardView, own: np.ndarray, coins: Coins
    ) -> np.ndarray:
        q, k = self.q, self.k
        m = round * k + speaker
        layer = self.layer_at[m]
        advances = layer <= k and k - speaker == layer
        if m == self.R * k - 1:  # the last message carries the class bit
            if self.layer_at[m + 1] <= k:
                return UInt(1).encode(coin_guess(self.pc, coins, board.batch))
            if advances:  # k == 1: the last speaker holds the block of layer k itself
                cls = self._hop(speaker, own, self._vertex(board, m, speaker, own)) - class_token(q, 0)
            else:
                cls = self._vertex(board, m, speaker, own)
            return UInt(1).encode(cls)
        if not advances:
            return np.zeros((board.batch, 0), np.uint8)
        nxt = self._hop(speaker, own, self._vertex(board, m, speaker, own))
        value = nxt - class_token(q, 0) if layer == k else nxt - label(layer + 1, 0, q)
        return self.codec.encode(value)

    def output(self, last: np.ndarray) -> np.ndarray:
        """The token ``2q + class`` that hop_k puts at the last position."""
        return class_token(self.q, 0) + last[:, 0].astype(np.int64)
