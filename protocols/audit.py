"""Locality audit: does any speaker's message depend on someone else's input?"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .budget import budget_scope, chunk_size, chunks, footprint, require
from .engine import Protocol, run, speak
from .errors import ProtocolError
from .problems.base import Problem
from .progress import progress as progress_bar
from .seeding import Seed, child_seed
from .validation import check_int

__all__ = ["Violation", "AuditReport", "audit_locality"]


@dataclass(frozen=True)
class Violation:
    """A message that changed when only other players' inputs changed."""

    round: int
    speaker: int
    instances: int
    first_instance: int

    def __str__(self) -> str:
        return (
            f"speaker {self.speaker} in round {self.round}: message changed on {self.instances} "
            f"instance(s) (first: {self.first_instance}) when only other players' inputs changed"
        )


@dataclass(frozen=True)
class AuditReport:
    protocol: str
    trials: int
    checked: int
    violations: tuple[Violation, ...]

    @property
    def ok(self) -> bool:
        return not self.violations

    def as_dict(self) -> dict:
        return {
            "protocol": self.protocol,
            "trials": self.trials,
            "checked": self.checked,
            "ok": self.ok,
            "violations": [v.__dict__ for v in self.violations],
        }


def audit_locality(
    protocol: Protocol,
    problem: Problem,
    trials: int = 64,
    seed: Seed = None,
    inputs: Sequence[np.ndarray] | None = None,
    *,
    budget: int | str | None = None,
    progress: bool | None = False,
) -> AuditReport:
    """Re-run every speaker with everyone else's input resampled on the same board prefix.

    The protocol runs once on world A.  Then for each (round, speaker) the
    *other* speakers' input arrays are overwritten in place with those of an
    independent world B, the speaker is re-run on A's board prefix with its own
    input and the same coins, and the arrays are restored.  A message that
    changes proves the speaker read something besides its input, the board and
    its coins — through a closure, a global, or a view's ``.base``.

    ``inputs`` lets you audit on arrays your protocol may have captured (they
    must be writable); otherwise ``trials`` instances are sampled, in chunks that
    fit the memory ``budget`` (three worlds and two boards per instance; chunk
    ``c`` draws worlds A and B from ``child_seed(seed, 0, c)``, ``child_seed(seed,
    1, c)`` and coins from ``child_seed(seed, 2, c)``).  Violations are summed over
    chunks; ``first_instance`` counts across the whole run.

    Examples
    --------
    >>> from protocols import PointerChasing
    >>> from protocols.library import OneHopPerRound
    >>> pc = PointerChasing(q=8, k=3)
    >>> audit_locality(OneHopPerRound(pc), pc, trials=16, seed=0).ok
    True
    """
    with budget_scope(budget):
        fp = footprint(protocol, problem)
        # Worlds A, B and A's saved copy; the board and the copy each re-run speaker reads.
        per = 3 * fp.inputs + 2 * fp.board + fp.answers + fp.scratch
        if inputs is not None:
            world = list(inputs)
            if len(world) != protocol.k:
                raise ProtocolError(f"audit got {len(world)} inputs; protocol has k = {protocol.k}")
            batch = np.asarray(world[0]).shape[0]
            require(batch * per, f"an audit of {batch} given instances")
            public = problem.public(problem.sample(batch, seed=child_seed(seed, 0)))
            found = _audit_chunk(protocol, problem, world, public, seed, 0)
            return AuditReport(protocol.name, batch, protocol.R * protocol.k, _merge([found]))
        trials = check_int("trials", trials, low=1, error=ProtocolError)
        size = chunk_size(per, trials, what=f"auditing {fp.describe()}")
        found = []
        with progress_bar(trials, f"audit {protocol.name}", enabled=progress, unit="trial") as bar:
            for c, start, b in chunks(trials, size):
                inst_a = problem.sample(b, seed=child_seed(seed, 0, c))
                world = list(problem.inputs(inst_a))
                part = _audit_chunk(protocol, problem, world, problem.public(inst_a), seed, c)
                found.append([(r, i, n, first + start) for r, i, n, first in part])
                bar.update(b)
    return AuditReport(protocol.name, trials, protocol.R * protocol.k, _merge(found))


def _merge(parts: list[list[tuple[int, int, int, int]]]) -> tuple[Violation, ...]:
    """Sum per-chunk violations of each (round, speaker); keep the earliest instance."""
    merged: dict[tuple[int, int], list[int]] = {}
    for part in parts:
        for r, i, n, first in part:
            if (r, i) in merged:
                merged[r, i][0] += n
            else:
                merged[r, i] = [n, first]
    return tuple(Violation(r, i, n, first) for (r, i), (n, first) in sorted(merged.items()))


def _audit_chunk(protocol, problem, world, public, seed, c) -> list[tuple[int, int, int, int]]:
    """``(round, speaker, changed instances, first changed)`` for one batch of worlds."""
    batch = np.asarray(world[0]).shape[0]
    other = problem.inputs(problem.sample(batch, seed=child_seed(seed, 1, c)))
    base = run(protocol, world, seed=child_seed(seed, 2, c), public=public)
    saved = [np.array(w, copy=True) for w in world]
    board = base.board
    found = []
    for r in range(protocol.R):
        for i in range(protocol.k):
            try:
                for j, w in enumerate(world):
                    if j != i:
                        w[...] = other[j]
                again = speak(protocol, r, i, board, saved[i], base.seed, public)
            finally:
                for j, w in enumerate(world):
                    if j != i:
                        w[...] = saved[j]
            changed = np.flatnonzero((again != board[:, r, i]).any(axis=1))
            if changed.size:
                found.append((r, i, int(changed.size), int(changed[0])))
    return found
