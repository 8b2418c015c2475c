"""A memory budget: work is cut into chunks from its whole per-instance footprint.

Every batched path (Monte-Carlo estimates, the locality audit, sampling instances,
the reductions' verify and encode paths) asks one question before it allocates:
how many bytes does *one* instance need — its inputs, its blackboard, its answers,
and the scratch its protocol declares — and how many instances fit the budget?
When one instance alone does not fit, the work is refused at once with one line
naming the size and the limit; otherwise peak memory stays near the budget however
many trials are asked for.

The budget is, in order of precedence: an explicit ``budget=`` argument (a number
of bytes or a size such as ``"512M"``, ``"2G"``), the innermost :func:`budget_scope`
(the CLIs' ``--memory-budget``), the environment variable ``KPARTY_MEMORY_BUDGET``,
and :data:`DEFAULT_BUDGET` (1 GiB of working set).

A protocol may declare the scratch memory its messages allocate per instance
beyond the board (e.g. public tables of ``k·q`` labels) with an optional method
``scratch_bytes() -> int``; a problem may declare its per-instance footprint with
``instance_bytes() -> int`` (otherwise one instance is sampled and measured).
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import ProtocolError
from .validation import check_int

__all__ = [
    "DEFAULT_BUDGET",
    "ENV_VAR",
    "CHUNK_BYTES",
    "BudgetError",
    "Footprint",
    "parse_size",
    "format_bytes",
    "memory_budget",
    "budget_scope",
    "require",
    "footprint",
    "chunk_size",
    "chunks",
]

#: Default working-set budget: 1 GiB.
DEFAULT_BUDGET = 2**30
#: Environment variable holding the budget (``"512M"``, ``"2G"``, ``"1073741824"``).
ENV_VAR = "KPARTY_MEMORY_BUDGET"
#: The canonical chunk: instances are sampled and run in chunks of at most this many
#: bytes whatever the budget, so that results depend on the seed only, not on the
#: budget (a budget below one canonical chunk makes chunks smaller, see :func:`chunk_size`).
CHUNK_BYTES = 2**28

_UNITS = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40, "P": 2**50}
_SIZE = re.compile(r"^\s*([0-9]+(?:\.[0-9]*)?|\.[0-9]+)\s*([KMGTP]?)(?:I?B)?\s*$", re.IGNORECASE)
_SCOPE: ContextVar[int | None] = ContextVar("kparty_memory_budget", default=None)


class BudgetError(ProtocolError):
    """The work does not fit the memory budget (or the budget itself is malformed)."""


def format_bytes(n: float) -> str:
    """``n`` bytes in binary units, e.g. ``'1.5 GiB'``.

    Examples
    --------
    >>> format_bytes(512), format_bytes(3 * 2**20), format_bytes(8 * 2**40)
    ('512 B', '3.0 MiB', '8.0 TiB')
    """
    if n < 1024:
        return f"{int(n)} B"
    for unit in ("KiB", "MiB", "GiB", "TiB", "PiB"):
        n /= 1024
        if n < 1024 or unit == "PiB":
            return f"{n:.1f} {unit}"
    raise AssertionError("unreachable")


def parse_size(value: Any, name: str = "memory budget") -> int:
    """A byte count from an int or a size string (``"512M"``, ``"2G"``, ``"1.5GiB"``; units are powers of 1024).

    Examples
    --------
    >>> parse_size("512M"), parse_size("2g"), parse_size("1.5 GiB"), parse_size(4096)
    (536870912, 2147483648, 1610612736, 4096)
    >>> parse_size("lots")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    protocols.budget.BudgetError: memory budget 'lots' is not a size; use bytes or a number with K, M, G or T ...
    """
    if isinstance(value, str):
        m = _SIZE.match(value)
        if not m:
            raise BudgetError(
                f"{name} {value!r} is not a size; use bytes or a number with K, M, G or T (e.g. 512M, 2G)"
            )
        size = float(m.group(1)) * _UNITS[m.group(2).upper()]
        if not math.isfinite(size) or size >= 2**62:
            raise BudgetError(f"{name} {value!r} is too large (at most 4 EiB)")
        n = int(size)
    else:
        n = check_int(name, value, error=BudgetError)
    if n < 1:
        raise BudgetError(f"{name} {value!r} must be at least 1 byte")
    return n


def memory_budget(budget: Any = None) -> int:
    """The budget in bytes: ``budget`` if given, else the innermost :func:`budget_scope`,
    else ``$KPARTY_MEMORY_BUDGET``, else :data:`DEFAULT_BUDGET`.

    Examples
    --------
    >>> memory_budget("64M")
    67108864
    >>> with budget_scope("1G"):
    ...     memory_budget()
    1073741824
    """
    if budget is not None:
        return parse_size(budget)
    scoped = _SCOPE.get()
    if scoped is not None:
        return scoped
    env = os.environ.get(ENV_VAR)
    if env is not None and env.strip():
        return parse_size(env, f"${ENV_VAR}")
    return DEFAULT_BUDGET


@contextmanager
def budget_scope(budget: Any) -> Iterator[int]:
    """Make ``budget`` the default of :func:`memory_budget` inside the ``with`` block (None: no change)."""
    if budget is None:
        yield memory_budget()
        return
    token = _SCOPE.set(parse_size(budget))
    try:
        yield _SCOPE.get()
    finally:
        _SCOPE.reset(token)


def require(nbytes: int, what: str, budget: Any = None) -> int:
    """Refuse (:class:`BudgetError`) when ``nbytes`` exceeds the budget; returns the budget.

    Examples
    --------
    >>> require(10, "ten bytes", budget="1K")
    1024
    >>> require(2**43, "one instance (board 8.0 TiB)", budget="1G")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    protocols.budget.BudgetError: one instance (board 8.0 TiB) needs 8.0 TiB; the memory budget is 1.0 GiB (set ...
    """
    limit = memory_budget(budget)
    if nbytes > limit:
        raise BudgetError(
            f"{what} needs {format_bytes(nbytes)}; the memory budget is {format_bytes(limit)} "
            f"(set --memory-budget or ${ENV_VAR} to raise it)"
        )
    return limit


@dataclass(frozen=True)
class Footprint:
    """Bytes one instance needs while a protocol runs on it.

    Attributes
    ----------
    inputs : the sampled instance (every speaker's input and the public data).
    board : the blackboard, one byte per bit: ``R·k·s``.
    answers : outputs and right answers.
    scratch : what the protocol declares with ``scratch_bytes()`` (0 if it does not).
    """

    inputs: int
    board: int
    answers: int
    scratch: int

    @property
    def total(self) -> int:
        return self.inputs + self.board + self.answers + self.scratch

    def describe(self) -> str:
        """``one instance (inputs …, board …, scratch …)`` for error messages."""
        return (
            f"one instance (inputs {format_bytes(self.inputs)}, board {format_bytes(self.board)}, "
            f"protocol scratch {format_bytes(self.scratch)})"
        )


def _problem_bytes(problem: Any) -> int:
    declared = getattr(problem, "instance_bytes", None)
    if callable(declared):
        return int(declared())
    # Undeclared: measure one sampled instance (inputs and public data).
    inst = problem.sample(1, seed=0)
    arrays = list(problem.inputs(inst)) + list(problem.public(inst).values())
    return sum(np.asarray(a).nbytes for a in arrays)


def footprint(protocol: Any, problem: Any) -> Footprint:
    """The :class:`Footprint` of one instance of ``problem`` under ``protocol``.

    Examples
    --------
    >>> from protocols import PointerChasing
    >>> from protocols.library import OneHopPerRound
    >>> pc = PointerChasing(q=256, k=4)
    >>> f = footprint(OneHopPerRound(pc), pc)
    >>> f.board, f.inputs == pc.instance_bytes()
    (128, True)
    """
    declared = getattr(protocol, "scratch_bytes", None)
    scratch = int(declared()) if callable(declared) else 0
    board = protocol.k * protocol.R * protocol.s
    return Footprint(_problem_bytes(problem), board, 16, scratch)


def chunk_size(per_instance: int, trials: int, budget: Any = None, *, what: str | None = None,
               copies: int = 1) -> int:
    """Instances per chunk: the canonical chunk (:data:`CHUNK_BYTES`), shrunk to the budget if needed.

    ``copies`` counts how many instance-sized buffers the caller holds at once
    (e.g. 2 when it keeps two worlds).  Results that derive seeds per chunk are
    therefore identical for every budget of at least ``copies * per_instance *
    chunk`` bytes — in particular for every budget of at least :data:`CHUNK_BYTES`.

    Examples
    --------
    >>> chunk_size(2**20, 10_000), chunk_size(2**20, 10_000, budget="64M"), chunk_size(2**20, 5)
    (256, 64, 5)
    >>> chunk_size(2**31, 10, budget="1G")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    protocols.budget.BudgetError: one instance needs 2.0 GiB; the memory budget is 1.0 GiB (set --memory-budget ...
    """
    per = max(1, int(per_instance) * copies)
    limit = require(per, what or "one instance", budget)
    trials = check_int("trials", trials, low=1, error=BudgetError)
    return max(1, min(trials, CHUNK_BYTES // per if per <= CHUNK_BYTES else 1, limit // per))


def chunks(trials: int, size: int) -> Iterator[tuple[int, int, int]]:
    """``(index, start, count)`` of consecutive chunks of ``size`` covering ``trials``.

    Examples
    --------
    >>> list(chunks(5, 2))
    [(0, 0, 2), (1, 2, 2), (2, 4, 1)]
    """
    for c, start in enumerate(range(0, trials, size)):
        yield c, start, min(size, trials - start)
