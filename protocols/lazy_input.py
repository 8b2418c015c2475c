"""Inputs drawn when first read (docs/definitions.md §2.1): what the engine needs from them.

A :class:`LazyInput` stands for one speaker's ``(B, n)`` input array whose
entries are sampled the first time anyone reads them.  The engine hands it to
its holder unchanged (it is that speaker's own object: no other speaker's input
shares state with it); protocols read it through :func:`gather`, which also
accepts plain arrays, or materialise it with ``np.asarray``.
"""

from __future__ import annotations

import abc

import numpy as np

__all__ = ["LazyInput", "gather"]


class LazyInput(abc.ABC):
    """A ``(B, n)`` table whose entries are drawn on first read, exactly in distribution.

    ``shape`` is the table's shape; :meth:`rows` reads ``table[b, cols[b]]``;
    ``np.asarray(x)`` materialises the whole table (drawing every unread entry).
    """

    shape: tuple[int, int]

    @abc.abstractmethod
    def rows(self, cols: np.ndarray) -> np.ndarray:
        """``table[b, cols[b]]`` for every row b; ``cols`` is ``(B,)`` or ``(B, t)``."""

    @abc.abstractmethod
    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        """The whole table ``(B, n)`` (read-only)."""

    @property
    def ndim(self) -> int:
        return len(self.shape)


def gather(table, cols: np.ndarray) -> np.ndarray:
    """``table[b, cols[b]]`` for a plain ``(B, n)`` array or a :class:`LazyInput`.

    Examples
    --------
    >>> gather(np.array([[5, 6], [7, 8]]), np.array([1, 0])).tolist()
    [6, 7]
    """
    cols = np.asarray(cols)
    if isinstance(table, LazyInput):
        return table.rows(cols)
    rows = np.arange(table.shape[0])
    return table[rows[:, None], cols] if cols.ndim == 2 else table[rows, cols]
