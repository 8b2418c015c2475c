"""Locality audit: does any speaker's message depend on someone else's input?"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .engine import Protocol, run, speak
from .errors import ProtocolError
from .problems.base import Problem
from .seeding import Seed, child_seed

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
) -> AuditReport:
    """Re-run every speaker with everyone else's input resampled on the same board prefix.

    The protocol runs once on world A.  Then for each (round, speaker) the
    *other* speakers' input arrays are overwritten in place with those of an
    independent world B, the speaker is re-run on A's board prefix with its own
    input and the same coins, and the arrays are restored.  A message that
    changes proves the speaker read something besides its input, the board and
    its coins — through a closure, a global, or a view's ``.base``.

    ``inputs`` lets you audit on arrays your protocol may have captured (they
    must be writable); otherwise ``trials`` instances are sampled.

    Examples
    --------
    >>> from protocols import PointerChasing
    >>> from protocols.library import OneHopPerRound
    >>> pc = PointerChasing(q=8, k=3)
    >>> audit_locality(OneHopPerRound(pc), pc, trials=16, seed=0).ok
    True
    """
    inst_a = problem.sample(trials, seed=child_seed(seed, 0)) if inputs is None else None
    world = list(inputs) if inputs is not None else problem.inputs(inst_a)
    if len(world) != protocol.k:
        raise ProtocolError(f"audit got {len(world)} inputs; protocol has k = {protocol.k}")
    batch = np.asarray(world[0]).shape[0]
    public = (
        problem.public(inst_a)
        if inst_a is not None
        else problem.public(problem.sample(batch, seed=child_seed(seed, 0)))
    )
    inst_b = problem.sample(batch, seed=child_seed(seed, 1))
    other = problem.inputs(inst_b)
    base = run(protocol, world, seed=child_seed(seed, 2), public=public)
    saved = [np.array(w, copy=True) for w in world]
    violations = []
    for r in range(protocol.R):
        for i in range(protocol.k):
            try:
                for j, w in enumerate(world):
                    if j != i:
                        w[...] = other[j]
                again = speak(protocol, r, i, base.board, saved[i], base.seed, public)
            finally:
                for j, w in enumerate(world):
                    if j != i:
                        w[...] = saved[j]
            changed = np.flatnonzero((again != base.board[:, r, i]).any(axis=1))
            if changed.size:
                violations.append(Violation(r, i, int(changed.size), int(changed[0])))
    return AuditReport(protocol.name, batch, protocol.R * protocol.k, tuple(violations))
