"""Nisan–Wigderson-style sampling: any R and s, built for R = k-1 (docs/definitions.md §2, [NW93]).

Public coins fix, per instance and per layer j, a random order of V_j.  Each
time the holder P_j of E_j speaks it *discloses* the images under E_j of the
next ``t_j`` vertices in that order; disclosures accumulate over rounds.  A
chase that lands on a disclosed vertex takes a **free hop**: anyone can read
the image off the board.  Every message starts with the chase state
``(layer, vertex)`` as far as the board and the speaker's own matching allow:
the speaker takes the last state on the board, hops with its own matching if
the chase waits at its layer, follows free hops, and relays the result.

Why R = k-1 can work: in the hard order the chase gains one hop per round from
the speaker holding the current layer; one free hop anywhere saves the missing
round.  The last layer is special in the decision version: P_k discloses only
the *class* of E_k(u) (1 bit instead of ceil(log2 q)), so after r rounds it
has revealed the classes of about r·(s - header) vertices.

Message layout (every message but the last): header = layer-1 in
``bits_for(k+1)`` bits and a vertex in ``ceil(log2 q)`` bits (for a finished
decision chase, the class bit), then ``t_j = (s - header) // d_j`` items of
``d_j`` bits (``d_k = 1`` in the decision version, else ``ceil(log2 q)``).
P_1 discloses nothing: layer 1 is always hopped by its holder.  The last
message is the answer; when the chase did not finish it is a best guess: the
majority class among P_k's undisclosed images if the chase stands at layer k,
else the majority class overall (ties: a private coin); in the search version a
uniformly random undisclosed image.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from ..bits import UInt, bits_for
from ..engine import BoardView, Coins, Protocol
from ..problems.pointer_chasing import PointerChasing, _label_dtype, random_permutations
from .chase import answer_codec, index_rows, vertex_codec

__all__ = ["Sampling"]


@lru_cache(maxsize=4)
def _public_orders(seeds: tuple[int, ...], batch: int, q: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-layer random orders of V_j and their inverses, ``(k, B, q)`` each.

    A pure function of the public coins, memoised because every speaker needs it.
    """
    dt = _label_dtype(q)
    order = np.stack([random_permutations(np.random.default_rng(s), batch, q) for s in seeds])
    rank = np.empty_like(order)
    np.put_along_axis(rank, order.astype(np.int64), np.arange(q, dtype=dt)[None, None, :], axis=2)
    order.flags.writeable = rank.flags.writeable = False
    return order, rank


class Sampling(Protocol):
    """Pointer chasing with public-coin disclosures and free hops (see the module docstring).

    Parameters
    ----------
    problem : PointerChasing
    R : rounds; default ``max(k-1, 1)``.
    s : bits per message; default ``ceil(q/(k-1)) * ceil(log2 q)`` (at least the header).

    Examples
    --------
    >>> from protocols import PointerChasing, estimate_success
    >>> pc = PointerChasing(q=64, k=3)
    >>> p = Sampling(pc)
    >>> (p.R, p.s), estimate_success(p, pc, 400, seed=0).rate > 0.95
    ((2, 192), True)
    """

    def __init__(self, problem: PointerChasing, R: int | None = None, s: int | None = None):
        k, q = problem.k, problem.q
        w = vertex_codec(problem).width
        R = max(k - 1, 1) if R is None else R
        header = bits_for(k + 1) + w
        # The reference budget, but never below the chase-state header every message carries (tiny q).
        s = max(-(-q // max(k - 1, 1)) * w, header) if s is None else s
        super().__init__(k, R, s, "sampling")
        self.pc, self.w = problem, w
        self.layer_codec = UInt(bits_for(k + 1))
        self.header = header
        need = self.header if R * k > 1 else answer_codec(problem).width
        if s < need:
            raise ValueError(
                f"sampling needs s >= {need} bits (chase state: layer {self.layer_codec.width} "
                f"+ vertex {w}); got s = {s}"
            )
        # d[j], t[j]: bits per item and items per message for layer j (index 0 unused).
        self.d = [0] + [1 if (j == k and problem.version == "decision") else w for j in range(1, k + 1)]
        self.t = [0, 0] + [(s - self.header) // self.d[j] for j in range(2, k + 1)]

    def scratch_bytes(self) -> int:
        """Per-instance memory beyond the board (for :mod:`protocols.budget`).

        The public orders and ranks, ``(k, B, q)`` labels each, plus the per-layer
        permutations they are stacked from; the search version's guess keys.
        """
        q, k = self.pc.q, self.k
        keys = 17 * q if self.pc.version == "search" else 0
        return 3 * k * q * _label_dtype(q).itemsize + keys

    # -- public information --------------------------------------------------
    def _tables(self, coins: Coins, batch: int) -> tuple[np.ndarray, np.ndarray]:
        seeds = tuple(int(x) for x in coins.public.integers(0, 2**63, size=self.k))
        return _public_orders(seeds, batch, self.pc.q)

    def _disclosed(self, j: int, written: int) -> int:
        """How many items P_j has disclosed in the first ``written`` messages."""
        i = self.pc.speaker_of(j)
        msgs = max(0, -(-(written - i) // self.k))
        return min(self.pc.q, msgs * self.t[j])

    def _item(self, board: BoardView, j: int, rank: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """The disclosed item of rank ``rank`` of layer j, for instances ``rows``."""
        i, t, d = self.pc.speaker_of(j), self.t[j], self.d[j]
        m = (rank // t) * self.k + i
        start = self.header + (rank % t) * d
        bits = board.messages()[rows[:, None], m[:, None], start[:, None] + np.arange(d)]
        return UInt(d).decode(bits)

    # -- the chase -------------------------------------------------------------
    def _state(self, board: BoardView, speaker: int, own: np.ndarray, coins: Coins, written: int):
        """Chase state after this speaker's contribution: (layer (B,), vertex-or-class (B,))."""
        B, k = board.batch, self.k
        if board.written == 0:
            layer = np.ones(B, dtype=np.int64)
            vert = board.public["start"].astype(np.int64)
        else:
            last = board.last()
            layer = self.layer_codec.decode(last[:, : self.layer_codec.width]) + 1
            vert = vertex_codec(self.pc).decode(last[:, self.layer_codec.width : self.header])
        mine = self.pc.layer_of(speaker)
        _, rank = self._tables(coins, B)
        counts = np.array([0] + [self._disclosed(j, written) for j in range(1, k + 1)])
        while True:
            own_hop = layer == mine
            if own_hop.any():
                nxt = index_rows(own, vert).astype(np.int64)
                if mine == k and self.pc.version == "decision":
                    nxt = self.pc.class_array[nxt].astype(np.int64)
                vert = np.where(own_hop, nxt, vert)
                layer = layer + own_hop
            open_ = layer <= k
            lj = np.minimum(layer, k)
            r = rank[lj - 1, np.arange(B), np.where(open_, vert, 0)].astype(np.int64)
            free = open_ & (r < counts[lj])
            if not free.any():
                return layer, vert
            rows = np.flatnonzero(free)
            for j in np.unique(lj[rows]):
                sel = rows[lj[rows] == j]
                vert[sel] = self._item(board, int(j), r[sel], sel)
            layer = layer + free

    def message(self, round: int, speaker: int, board: BoardView, own: np.ndarray, coins: Coins) -> np.ndarray:
        B, k, q = board.batch, self.k, self.pc.q
        m = round * k + speaker
        if m == self.R * k - 1:
            layer, vert = self._state(board, speaker, own, coins, m)
            return answer_codec(self.pc).encode(self._answer(board, layer, vert, coins, m))
        layer, vert = self._state(board, speaker, own, coins, m + 1)
        header = np.concatenate([self.layer_codec.encode(layer - 1), vertex_codec(self.pc).encode(vert)], axis=1)
        j = self.pc.layer_of(speaker)
        lo, hi = min(q, round * self.t[j]), min(q, (round + 1) * self.t[j])
        if hi == lo:
            return header
        order, _ = self._tables(coins, B)
        images = index_rows(own, order[j - 1][:, lo:hi].astype(np.int64))
        if self.d[j] == 1:
            items = self.pc.class_array[images]
        else:
            items = vertex_codec(self.pc).encode(images).reshape(B, -1)
        return np.concatenate([header, items], axis=1)

    def _answer(self, board: BoardView, layer: np.ndarray, vert: np.ndarray, coins: Coins, written: int) -> np.ndarray:
        """The answer where the chase finished, a best guess elsewhere."""
        B, k, q = board.batch, self.k, self.pc.q
        done = layer == k + 1
        if done.all():
            return vert
        rng = coins.private
        n = self._disclosed(k, written)
        # Images P_k has disclosed (all of them are on the board, in rank order).
        items = np.zeros((B, 0), dtype=np.int64)
        if n:
            ranks = np.broadcast_to(np.arange(n), (B, n))
            rows = np.broadcast_to(np.arange(B)[:, None], (B, n))
            items = self._item(board, k, ranks.reshape(-1), rows.reshape(-1)).reshape(B, n)
        if self.pc.version == "search":
            seen = np.zeros((B, q), dtype=bool)
            np.put_along_axis(seen, items, True, axis=1)
            keys = np.where(seen, -1.0, rng.random((B, q)))
            return np.where(done, vert, keys.argmax(axis=1))
        classes = self.pc.class_array.astype(np.int64)
        ones = int(classes.sum()) - (items.sum(axis=1) if layer.size else 0)
        zeros = (q - n) - ones
        at_k = layer == k
        ones = np.where(at_k, ones, int(classes.sum()))
        zeros = np.where(at_k, zeros, q - int(classes.sum()))
        coin = rng.integers(0, 2, B)
        guess = np.where(ones > zeros, 1, np.where(ones < zeros, 0, coin))
        return np.where(done, vert, guess)

    def output(self, last: np.ndarray) -> np.ndarray:
        return answer_codec(self.pc).decode(last[:, : answer_codec(self.pc).width])
