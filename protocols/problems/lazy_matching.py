"""Uniform matchings drawn entry by entry when first read (docs/definitions.md §2.1).

Under the hard distribution every edge layer E_j is an independent uniform
matching.  Its entries can be drawn lazily: the first read of ``E_j(u)`` in
row b draws an image uniformly among the images row b has not used yet.  The
table revealed this way, whatever the order and choice of reads (even
adaptive ones), has exactly the distribution of the restriction of a uniform
matching; every later read returns the same value.  So a trial costs what the
protocol reads, not the ``q`` pointers per layer a materialised instance holds.

Drawing is rejection sampling: propose a uniform image, accept it if unused.
Whether a proposal is accepted depends only on how many images the row has
used, not on which, so each accepted image is uniform among the unused ones
(see the docstring of :meth:`LazyMatching._draw`).  Once a row would have more
than half of its entries drawn, the whole layer is materialised — the rest of
a uniform matching given its drawn part is a uniform bijection between the
undrawn points and the unused images — so reading most of a layer costs no
more than materialising it.

Storage.  Entries are kept by column: the first read of a point u (in any
row) gives u a column of a ``(B, columns)`` table, so reads of the same points
in every row — what protocols with public orders shared across the batch do —
are dense and local; a read of different points per row (a chase step) costs B
columns.  Which images a row has used is a packed bitmap, q/8 bytes per row:
with the board (k·R·s bytes per trial) the memory of a trial stays about its board.
"""

from __future__ import annotations

import numpy as np

from ..lazy_input import LazyInput
from ..seeding import Seed, as_generator

__all__ = ["LazyMatching"]


def _first_of_each(keys: np.ndarray) -> np.ndarray:
    """Index of the first occurrence of every distinct key (a stable sort; cheaper than ``np.unique``)."""
    order = np.argsort(keys, kind="stable")
    srt = keys[order]
    head = np.ones(srt.size, dtype=bool)
    head[1:] = srt[1:] != srt[:-1]
    return np.sort(order[head])


def _unique(keys: np.ndarray) -> np.ndarray:
    srt = np.sort(keys)
    head = np.ones(srt.size, dtype=bool)
    head[1:] = srt[1:] != srt[:-1]
    return srt[head]


class LazyMatching(LazyInput):
    """One edge layer ``(B, q)``: a uniform matching per row (or a uniform function), drawn on first read.

    Parameters
    ----------
    batch, q : rows and layer size.
    seed : this layer's own randomness (each layer has its own generator and
        storage: no state is shared with any other speaker's input).
    functions : draw a uniform function instead of a matching.

    Examples
    --------
    >>> e = LazyMatching(2, 5, seed=0)
    >>> a = e.rows(np.array([3, 1]))
    >>> bool((e.rows(np.array([3, 1])) == a).all())  # the same entries read again
    True
    >>> full = np.asarray(e)
    >>> sorted(full[0].tolist()), int(full[0, 3]) == int(a[0])
    ([0, 1, 2, 3, 4], True)
    """

    def __init__(self, batch: int, q: int, seed: Seed = None, functions: bool = False, dtype=np.int64) -> None:
        self.shape = (int(batch), int(q))
        self.q, self.functions, self.dtype = int(q), bool(functions), np.dtype(dtype)
        self._rng = as_generator(seed)
        self._count = np.zeros(batch, dtype=np.int64)  # entries drawn per row
        self._column: np.ndarray | None = None  # (q,) point -> its column, -1 if never read
        self._table = np.empty((batch, 0), dtype=np.int32)  # (B, capacity) images, -1 if not drawn
        self._ncols = 0
        self._used: np.ndarray | None = None  # (B, ceil(q/8)) packed bitmap of used images
        self._dense: np.ndarray | None = None

    @property
    def drawn(self) -> int:
        """How many entries have been drawn so far (``B*q`` once materialised)."""
        return int(self._count.sum()) if self._dense is None else self._dense.size

    def rows(self, cols: np.ndarray) -> np.ndarray:
        cols = np.asarray(cols)
        B, q = self.shape
        if cols.shape[:1] != (B,) or cols.ndim not in (1, 2):
            raise ValueError(f"cols has shape {cols.shape}; expected ({B},) or ({B}, t)")
        if cols.size and (cols.min() < 0 or cols.max() >= q):
            raise IndexError(f"column {cols[(cols < 0) | (cols >= q)].flat[0]} outside 0..{q - 1}")
        if self._dense is None and cols.ndim == 2 and cols.strides[0] == 0 and cols.shape[1]:
            fresh = self._fresh(cols[0].astype(np.int64))
            if fresh is not None:
                return fresh
        if self._dense is None:
            c2 = cols.reshape(B, -1).astype(np.int64)
            where = self._columns(c2)
            rows = np.broadcast_to(np.arange(B)[:, None], c2.shape)
            got = self._table[rows, where]
            todo = got < 0
            if todo.any():
                # each (row, point) once, in a deterministic order: row-major, first occurrence
                key = _unique(rows[todo] * q + c2[todo])
                r, u = key // q, key % q
                counts = np.bincount(r, minlength=B)
                if not self.functions and (2 * (self._count + counts) > q).any():
                    self._materialise()
                else:
                    self._table[r, self._column[u]] = self._draw(r)
                    self._count += counts
                    got = self._table[rows, where]
            if self._dense is None:
                return got.reshape(cols.shape).astype(self.dtype)
        rows = np.arange(B)
        return self._dense[rows[:, None], cols] if cols.ndim == 2 else self._dense[rows, cols]

    def _fresh(self, pts: np.ndarray) -> np.ndarray | None:
        """Fast path: the same never-read, distinct points in every row (a disclosure in a shared order)."""
        B, q = self.shape
        if self._column is None:
            self._column = np.full(q, -1, dtype=np.int64)
        t = pts.size
        if (self._column[pts] >= 0).any() or (not self.functions and 2 * (int(self._count.max()) + t) > q):
            return None
        if t > 1 and np.unique(pts).size < t:
            return None
        self._columns(pts)
        images = self._draw(np.repeat(np.arange(B), t)).reshape(B, t)
        self._table[:, self._column[pts]] = images
        self._count += t
        return images.astype(self.dtype)

    def _columns(self, cols: np.ndarray) -> np.ndarray:
        """The table column of every point in ``cols``, adding columns for points never read."""
        if self._column is None:
            self._column = np.full(self.q, -1, dtype=np.int64)
        where = self._column[cols]
        if (where < 0).any():
            new = _unique(cols[where < 0])
            n0 = self._ncols
            self._column[new] = np.arange(n0, n0 + new.size)
            self._ncols = n0 + new.size
            if self._ncols > self._table.shape[1]:  # grow geometrically: amortised O(1) per column
                grown = np.full((self.shape[0], max(2 * self._table.shape[1], self._ncols, 16)), -1, np.int32)
                grown[:, :n0] = self._table[:, :n0]
                self._table = grown
            where = self._column[cols]
        return where

    def _draw(self, rows: np.ndarray) -> np.ndarray:
        """One new image per entry of ``rows``, uniform among the images of its row not used yet.

        Rejection in rounds: every pending entry proposes a uniform image; a
        proposal is accepted if its row has not used the image, and of equal
        proposals in one round the first in index order.  This is sequential
        rejection sampling with a fixed visiting order; the chance an attempt
        succeeds is (unused)/q whatever the used images are, so which entry
        gets an image when is independent of which images they are, and each
        accepted image is uniform among the unused: the result is a uniform
        injection.
        """
        q = self.q
        if self.functions:
            return self._rng.integers(0, q, rows.size)
        if self._used is None:
            self._used = np.zeros((self.shape[0], (q + 7) // 8), dtype=np.uint8)
        out = np.empty(rows.size, dtype=np.int64)
        pend = np.arange(rows.size)
        while pend.size:
            cand = self._rng.integers(0, q, pend.size)
            r = rows[pend]
            free = np.flatnonzero(((self._used[r, cand >> 3] >> (cand & 7)) & 1) == 0)
            acc = free[_first_of_each(r[free] * q + cand[free])]
            out[pend[acc]] = cand[acc]
            np.bitwise_or.at(self._used, (r[acc], cand[acc] >> 3), (1 << (cand[acc] & 7)).astype(np.uint8))
            keep = np.ones(pend.size, dtype=bool)
            keep[acc] = False
            pend = pend[keep]
        return out

    def _materialise(self) -> None:
        """Draw every unread entry: the undrawn points get a uniform bijection onto the unused images."""
        B, q = self.shape
        dense = np.full((B, q), -1, dtype=np.int64)
        if self._column is not None:
            seen = np.flatnonzero(self._column >= 0)
            dense[:, seen] = self._table[:, self._column[seen]]
        if self.functions:
            todo = dense < 0
            dense[todo] = self._rng.integers(0, q, int(todo.sum()))
        else:
            used = np.zeros((B, q), dtype=bool)
            r, c = np.nonzero(dense >= 0)
            used[r, dense[r, c]] = True
            # A uniform random order of each row's unused images (used ones sorted last) ...
            order = np.argsort(np.where(used, np.inf, self._rng.random((B, q))), axis=1, kind="stable")
            unused_first = np.arange(q)[None, :] < (q - used.sum(axis=1))[:, None]
            # ... assigned in turn to the row's undrawn points (both sets have q - drawn members per row).
            dense[dense < 0] = order[unused_first]
        dense = dense.astype(self.dtype)
        dense.flags.writeable = False
        self._dense, self._column, self._table, self._used = dense, None, None, None

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        if self._dense is None:
            self._materialise()
        return self._dense if dtype is None else self._dense.astype(dtype)
