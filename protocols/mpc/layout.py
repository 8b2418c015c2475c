"""Machine layouts shared by the MPC algorithms: position blocks and a tree of aggregation machines.

``blocks(n, c)``: position ``i`` lives on machine ``i // c`` (the "home" of i).
:class:`Tree`: a ``fan``-ary tree of extra machines above ``leaves`` leaf machines
(level 0 = the leaves, machine ids ``0..leaves-1``; level ℓ >= 1 has
``ceil(n_{ℓ-1} / fan)`` nodes; the root is alone at level ``depth``), used to
sum per-machine vectors up and hand prefix sums down in ``depth`` rounds each.

Examples
--------
>>> t = Tree(leaves=10, fan=3, first_id=10)
>>> t.depth, t.sizes, t.machines
(3, (10, 4, 2, 1), 7)
>>> t.parent(0, np.array([0, 4, 9])).tolist(), t.parent(1, np.array([3])).tolist()
([10, 11, 13], [15])
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Tree"]


@dataclass(frozen=True)
class Tree:
    """A ``fan``-ary tree over ``leaves`` leaf machines; internal nodes get ids from ``first_id`` on."""

    leaves: int
    fan: int
    first_id: int

    @property
    def sizes(self) -> tuple[int, ...]:
        """Nodes per level, leaves first; the last level is the root (1 node)."""
        n = [self.leaves]
        while n[-1] > 1:
            n.append(-(-n[-1] // self.fan))
        return tuple(n)

    @property
    def depth(self) -> int:
        """Levels above the leaves (0 when there is one leaf)."""
        return len(self.sizes) - 1

    @property
    def machines(self) -> int:
        """Internal nodes (extra machines)."""
        return sum(self.sizes[1:])

    def base(self, level: int) -> int:
        """Machine id of node 0 at ``level`` (level 0: the leaves, ids from 0)."""
        if level == 0:
            return 0
        return self.first_id + sum(self.sizes[1:level])

    def parent(self, level: int, index: np.ndarray) -> np.ndarray:
        """Machine ids of the parents of nodes ``index`` at ``level``."""
        return self.base(level + 1) + index // self.fan

    def children(self, level: int, index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For nodes ``index`` at ``level`` >= 1: (node position in ``index``, child index at level-1) pairs."""
        kids = index[:, None] * self.fan + np.arange(self.fan)[None, :]
        row = np.broadcast_to(np.arange(index.shape[0])[:, None], kids.shape)
        ok = kids < self.sizes[level - 1]
        return row[ok], kids[ok]
