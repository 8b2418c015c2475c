"""Words in memory and in flight: :class:`Records` (held by a machine) and :class:`Messages` (addressed).

An MPC memory is a dict of named tables; a table is a set of records, each a
fixed number of p-bit words (its columns), and every record sits on one
machine (``at``).  Machines are rows of these arrays, so a round over a
million positions is a handful of numpy operations — and a machine's words are
counted exactly as ``(records it holds) x (columns)`` per table.

Messages are the same with a sender and a receiver; delivering them turns
``dst`` into ``at``.  The order of records is kept: a machine's records of one
table are in the order they arrived (senders in the order they emitted them).

Examples
--------
>>> r = Records.of([0, 0, 1], x=[5, 6, 7])
>>> len(r), r.width, r.words(3).tolist()
(3, 1, [2, 1, 0])
>>> m = Messages.of(src=[0, 1], dst=[2, 2], a=[1, 2], b=[3, 4])
>>> m.delivered().at.tolist(), m.sent_words(3).tolist(), m.received_words(3).tolist()
([2, 2], [2, 2, 0], [0, 0, 4])
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import MPCError

__all__ = ["Records", "Messages", "Memory", "local_slots", "concat_records"]


def _address(v: Any) -> np.ndarray:
    """Machine numbers as a 1-D integer array (int32/int64 kept as they are: no copy)."""
    a = np.asarray(v).reshape(-1)
    if a.dtype not in (np.int32, np.int64):
        if a.size and a.dtype.kind not in "iu":
            raise MPCError(f"machine numbers have dtype {a.dtype}; machines are integers")
        a = a.astype(np.int64)
    return a


def _col(name: str, v: Any, n: int | None) -> np.ndarray:
    a = np.asarray(v)
    if a.ndim != 1:
        raise MPCError(f"column {name!r} has shape {a.shape}; a column is one word per record (1-D)")
    if n is not None and a.shape[0] != n:
        raise MPCError(f"column {name!r} has {a.shape[0]} entries; the table has {n} records")
    return a


@dataclass(frozen=True, eq=False)
class Records:
    """A table of records held in memory: ``at[r]`` is the machine of record r, one word per column."""

    at: np.ndarray
    cols: Mapping[str, np.ndarray]

    @classmethod
    def of(cls, at: Any, **cols: Any) -> Records:
        """A table from a machine array and named columns (all the same length)."""
        a = _address(at)
        return cls(a, {k: _col(k, v, a.shape[0]) for k, v in cols.items()})

    @classmethod
    def empty(cls, *names: str) -> Records:
        """A table with no records and the given columns."""
        return cls(np.empty(0, np.int64), {n: np.empty(0, np.int64) for n in names})

    def __len__(self) -> int:
        return int(self.at.shape[0])

    @property
    def width(self) -> int:
        """Words per record (the number of columns)."""
        return len(self.cols)

    def __getitem__(self, name: str) -> np.ndarray:
        return self.cols[name]

    def take(self, idx: Any) -> Records:
        """The records at ``idx`` (an index array or a boolean mask), in that order."""
        return Records(self.at[idx], {k: v[idx] for k, v in self.cols.items()})

    def words(self, machines: int) -> np.ndarray:
        """Words held per machine, ``(machines,)``."""
        return np.bincount(self.at, minlength=machines)[:machines] * self.width


@dataclass(frozen=True, eq=False)
class Messages:
    """A table of messages: record r goes from machine ``src[r]`` to machine ``dst[r]``."""

    src: np.ndarray
    dst: np.ndarray
    cols: Mapping[str, np.ndarray]

    @classmethod
    def of(cls, src: Any, dst: Any, **cols: Any) -> Messages:
        s = _address(src)
        d = _address(np.broadcast_to(dst, s.shape)) if np.ndim(dst) == 0 else _address(dst)
        if d.shape != s.shape:
            raise MPCError(f"{d.shape[0]} receivers for {s.shape[0]} senders")
        return cls(s, d, {k: _col(k, v, s.shape[0]) for k, v in cols.items()})

    def __len__(self) -> int:
        return int(self.src.shape[0])

    @property
    def width(self) -> int:
        return len(self.cols)

    def take(self, idx: Any) -> Messages:
        return Messages(self.src[idx], self.dst[idx], {k: v[idx] for k, v in self.cols.items()})

    def sent_words(self, machines: int) -> np.ndarray:
        return np.bincount(self.src, minlength=machines)[:machines] * self.width

    def received_words(self, machines: int) -> np.ndarray:
        return np.bincount(self.dst, minlength=machines)[:machines] * self.width

    def delivered(self) -> Records:
        """The messages as records held by their receivers."""
        return Records(self.dst, self.cols)


#: A machine's (or all machines') memory: table name -> records.
Memory = Mapping[str, Records]


def concat_records(parts: list[Records]) -> Records:
    """One table from several with the same columns, in order.

    Examples
    --------
    >>> concat_records([Records.of([1], x=[2]), Records.of([0], x=[3])]).at.tolist()
    [1, 0]
    """
    names = list(parts[0].cols)
    for p in parts[1:]:
        if list(p.cols) != names:
            raise MPCError(f"tables with columns {names} and {list(p.cols)} cannot share a name")
    if len(parts) == 1:
        return parts[0]
    return Records(np.concatenate([p.at for p in parts]),
                   {n: np.concatenate([p.cols[n] for p in parts]) for n in names})


def local_slots(at: np.ndarray) -> np.ndarray:
    """Each record's index among the records of its own machine, in table order.

    What a machine computes from its own memory alone (its k-th record is slot k).

    Examples
    --------
    >>> local_slots(np.array([3, 1, 3, 3, 1])).tolist()
    [0, 0, 1, 2, 1]
    """
    n = at.shape[0]
    if n == 0:
        return np.empty(0, np.int64)
    if n == 1 or bool((at[1:] >= at[:-1]).all()):  # grouped already (the usual layout): no sort
        start = np.flatnonzero(np.r_[True, at[1:] != at[:-1]])
        out = np.arange(n, dtype=np.int64)
        out -= np.repeat(start, np.diff(np.r_[start, n]))  # in place: one column-sized array fewer
        return out
    order = np.argsort(at, kind="stable")
    sa = at[order]
    start = np.flatnonzero(np.r_[True, sa[1:] != sa[:-1]])
    first = np.repeat(start, np.diff(np.r_[start, n]))
    out = np.empty(n, np.int64)
    out[order] = np.arange(n, dtype=np.int64) - first
    return out
