"""What every figure recipe returns: the plotted table, its key numbers, and what was missing."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from protocols.bits import bits_for

__all__ = ["Table", "by_key", "ints", "sampling_header"]


@dataclass(frozen=True)
class Table:
    """The data one figure plots (written verbatim as its CSV) and what the summary says about it.

    ``missing`` names ingredients that were not available (e.g. a model family
    not built); the summary reports them instead of dropping them silently.
    """

    columns: tuple[str, ...]
    rows: tuple[Mapping[str, Any], ...]
    key_numbers: Mapping[str, Any] = field(default_factory=dict)
    missing: tuple[str, ...] = ()


def by_key(rows: Sequence[Mapping[str, Any]], cells: Sequence[Any]) -> list[Mapping[str, Any]]:
    """The sweep rows for ``cells``, in the cells' order."""
    index = {r["key"]: r for r in rows}
    return [index[c.key] for c in cells]


def ints(lo: float, hi: float, n: int) -> list[int]:
    """About ``n`` distinct integers spread geometrically over [lo, hi].

    Examples
    --------
    >>> ints(1, 100, 3)
    [1, 10, 100]
    """
    import numpy as np

    return sorted({int(round(x)) for x in np.geomspace(max(lo, 1), max(hi, lo, 1), n)})


def sampling_header(q: int, k: int) -> int:
    """The least s the sampling protocol accepts with R >= 2: a hop writes one vertex, ceil(log2 q) bits."""
    return bits_for(q)
