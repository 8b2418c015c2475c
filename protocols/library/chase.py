"""Pieces shared by the pointer-chasing protocols: answer fields and guesses."""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from ..bits import UInt, bits_for
from ..engine import Coins
from ..lazy_input import LazyInput
from ..problems.pointer_chasing import PointerChasing

__all__ = ["vertex_codec", "answer_codec", "answer_bits", "coin_guess", "index_rows", "hop_schedule"]


def vertex_codec(pc: PointerChasing) -> UInt:
    """``UInt(ceil(log2 q))``: one vertex label."""
    return UInt(bits_for(pc.q))


def answer_codec(pc: PointerChasing) -> UInt:
    """The last message's field: 1 bit (decision) or a vertex (search)."""
    return UInt(1) if pc.version == "decision" else vertex_codec(pc)


def answer_bits(pc: PointerChasing, endpoint: np.ndarray) -> np.ndarray:
    """Encode the answer for endpoint vertices v_{k+1}: its class or the vertex itself."""
    value = pc.class_array[endpoint] if pc.version == "decision" else endpoint
    return answer_codec(pc).encode(value)


def coin_guess(pc: PointerChasing, coins: Coins, batch: int) -> np.ndarray:
    """A uniformly random answer from the speaker's private coins."""
    return coins.private.integers(0, pc.answer_values, batch)


@lru_cache(maxsize=16)
def _row_offsets(B: int, q: int) -> np.ndarray:
    offsets = np.arange(0, B * q, q)
    offsets.flags.writeable = False
    return offsets


def index_rows(table: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """``table[b, cols[b]]`` for every row b (cols may be ``(B,)`` or ``(B, t)``; table may be lazy)."""
    if isinstance(table, LazyInput):
        return table.rows(cols)
    B, q = table.shape
    if not table.flags.c_contiguous:
        table = np.ascontiguousarray(table)
    # One flat take is several times faster than 2-D fancy indexing on large tables.
    offsets = _row_offsets(B, q)
    return table.reshape(-1).take(offsets[:, None] + cols if cols.ndim == 2 else offsets + cols)


def hop_schedule(pc: PointerChasing, R: int) -> tuple[np.ndarray, np.ndarray]:
    """The one-hop-per-round chase's fixed schedule over the ``R*k`` messages (and one past the end).

    ``source[m]``: the message holding the chase's vertex just before message m
    (-1: the public start).  ``layer_at[m]``: the layer where the chase waits
    just before message m.  A speaker hops exactly when it holds that layer, so
    the schedule does not depend on the instance.

    Examples
    --------
    >>> source, layer_at = hop_schedule(PointerChasing(q=4, k=2), R=2)
    >>> source.tolist(), layer_at.tolist()
    ([-1, -1, 1, 2, 2], [1, 1, 2, 3, 3])
    """
    k, total = pc.k, R * pc.k
    source = np.full(total + 1, -1)
    layer_at = np.ones(total + 1, dtype=np.int64)
    layer, src = 1, -1
    for m in range(total):
        source[m], layer_at[m] = src, layer
        if layer <= k and pc.layer_of(m % k) == layer:
            layer, src = layer + 1, m
    source[total], layer_at[total] = src, layer
    return source, layer_at
