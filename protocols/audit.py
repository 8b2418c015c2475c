"""Locality audit: does a message, or the output, depend on more than its own view? (docs/definitions.md §1.1)

Four checks, each a way a protocol can know more than the blackboard model allows:

``input``
    every speaker is replayed alone on a fresh copy of the protocol, on the
    recorded board, with every *other* speaker's input array overwritten by an
    independent world's: a message that changes read another player's input
    (through a closure, a global, a captured array).
``state``
    right after a decoy run on an independent world (which overwrites whatever
    the protocol keeps in module globals, class attributes or closures), each
    speaker is replayed alone again on the untouched world: a message that
    changes came from state shared between speakers or carried between runs.
``output``
    outputs must be a function of the last message: two instances with the same
    last message must get the same output, and a fresh copy of the protocol
    (after the decoy run) must decode the same outputs.
``process``
    (``isolation="process"``) the run with every speaker in its own OS process
    must equal the in-process run bit for bit; a protocol that passes notes
    between speakers through anything in-process (globals, frames, patched
    code) is caught here, and the process run is the one the other checks use.

A replay or decoy run that raises is a violation too (an honest protocol never
depends on the order in which the engine calls it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace

import numpy as np

from .budget import budget_scope, chunk_size, chunks, footprint, require
from .engine import Protocol, Run, open_session, replay_speaker, run
from .errors import ProtocolError
from .problems.base import Problem
from .progress import progress as progress_bar
from .sealing import fresh_states, seal
from .seeding import Seed, child_seed
from .validation import check_int

__all__ = ["Violation", "AuditReport", "audit_locality", "CHECKS"]

#: what each check looks for (the reason printed with a violation).
CHECKS = {
    "input": "only other players' inputs changed",
    "state": "after a decoy run on another world: it depends on state shared between speakers or kept between runs",
    "output": "it does not follow from the last message",
    "process": "process isolation disagrees with the in-process run: the protocol shares something in-process",
}


@dataclass(frozen=True)
class Violation:
    """One message (or the output: ``speaker is None``) that failed a check, with the reason."""

    round: int | None
    speaker: int | None
    instances: int
    first_instance: int
    check: str = "input"
    reason: str = CHECKS["input"]

    def __str__(self) -> str:
        if self.speaker is None:
            what = "output"
        else:
            what = f"speaker {self.speaker}{'' if self.round is None else f' in round {self.round}'}: message"
        return (
            f"{what} changed on {self.instances} instance(s) (first: {self.first_instance}) "
            f"[{self.check} check: {self.reason}]"
        )


@dataclass(frozen=True)
class AuditReport:
    protocol: str
    trials: int
    checked: int
    violations: tuple[Violation, ...]
    isolation: str = "in-process"
    checks: tuple[str, ...] = ("input", "state", "output")

    @property
    def ok(self) -> bool:
        return not self.violations

    def as_dict(self) -> dict:
        return {
            "protocol": self.protocol,
            "trials": self.trials,
            "checked": self.checked,
            "isolation": self.isolation,
            "checks": list(self.checks),
            "ok": self.ok,
            "violations": [asdict(v) for v in self.violations],
        }


def _changed(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Instances (rows) where ``a`` and ``b`` differ."""
    B = a.shape[0]
    return np.flatnonzero((a.reshape(B, -1) != b.reshape(B, -1)).any(axis=1))


def _failed(check: str, r: int | None, i: int | None, batch: int, e: Exception) -> Violation:
    return Violation(r, i, batch, 0, check, f"raised {type(e).__name__} when replayed ({e})")


def _replay(protocol: Protocol, base: Run, i: int, own: np.ndarray, public, check: str) -> list[Violation]:
    """Replay speaker ``i`` alone on ``base``'s board; every message that differs is a violation."""
    try:
        again = replay_speaker(protocol, i, base.board, own, base.seed, public)
    except Exception as e:  # any failure of a replay is the protocol's, reported with its reason
        return [_failed(check, None, i, base.batch, e)]
    out = []
    for r in range(protocol.R):
        changed = _changed(again[:, r], base.board[:, r, i])
        if changed.size:
            out.append(Violation(r, i, int(changed.size), int(changed[0]), check, CHECKS[check]))
    return out


def _output_violations(protocol: Protocol, base: Run) -> list[Violation]:
    last = base.board[:, base.R - 1, base.k - 1]
    # Same last message, same output: compare every instance with the first of its group.
    _, group = np.unique(last, axis=0, return_inverse=True)
    first = np.zeros(group.max() + 1, np.int64)
    first[group[::-1]] = np.arange(base.batch)[::-1]
    out = []
    changed = _changed(base.outputs, base.outputs[first[group]])
    if changed.size:
        out.append(Violation(None, None, int(changed.size), int(changed[0]), "output",
                             "instances with the same last message got different outputs"))
    try:
        fresh = np.asarray(fresh_states(protocol, 1)[0].output(seal(last)))
    except Exception as e:  # see _replay
        return [*out, _failed("output", None, None, base.batch, e)]
    changed = _changed(fresh, base.outputs) if fresh.shape == base.outputs.shape else np.arange(base.batch)
    if changed.size:
        out.append(Violation(None, None, int(changed.size), int(changed[0]), "output",
                             "a fresh copy of the protocol decodes the last message differently (after a decoy run)"))
    return out


def audit_locality(
    protocol: Protocol,
    problem: Problem,
    trials: int = 64,
    seed: Seed = None,
    inputs: Sequence[np.ndarray] | None = None,
    isolation: str = "in-process",
    *,
    budget: int | str | None = None,
    progress: bool | None = False,
) -> AuditReport:
    """Check that every message depends only on the speaker's own view and the output only on the last message.

    Runs the ``input``, ``state`` and ``output`` checks of the module docstring
    (and ``process`` with ``isolation="process"``) on ``trials`` sampled
    instances, or on ``inputs`` — arrays your protocol may have captured; they
    must be writable, since the input check overwrites them in place (and
    restores them).  Sampled trials run in chunks that fit the memory
    ``budget`` (three worlds and two boards per instance; chunk ``c`` draws its
    worlds and coins from ``child_seed(seed, j, c)``); violations of each
    (round, speaker, check) are summed over chunks and ``first_instance``
    counts across the whole run.

    Examples
    --------
    >>> from protocols import PointerChasing
    >>> from protocols.library import OneHopPerRound
    >>> pc = PointerChasing(q=8, k=3)
    >>> audit_locality(OneHopPerRound(pc), pc, trials=16, seed=0).ok
    True
    """
    open_session(protocol, isolation).close()  # an unknown mode fails before any work
    checks = ("input", "state", "output") + (("process",) if isolation == "process" else ())
    with budget_scope(budget):
        fp = footprint(protocol, problem)
        per = 3 * fp.inputs + 2 * fp.board + fp.answers + fp.scratch
        if inputs is not None:
            world = list(inputs)
            if len(world) != protocol.k:
                raise ProtocolError(f"audit got {len(world)} inputs; protocol has k = {protocol.k}")
            for i, w in enumerate(world):
                if not (isinstance(w, np.ndarray) and w.flags.writeable):
                    raise ProtocolError(
                        f"audit input of speaker {i} is not a writable array; the input check overwrites "
                        "the arrays a protocol may have captured, so pass writable ones (np.array(x))"
                    )
            batch = world[0].shape[0]
            require(batch * per + fp.run, f"an audit of {batch} given instances")
            public = problem.public(problem.sample(batch, seed=child_seed(seed, 0, 0)))
            found = _audit_batch(protocol, problem, world, public, seed, 0, isolation)
            return AuditReport(protocol.name, batch, protocol.R * protocol.k, _merge([found]), isolation, checks)
        trials = check_int("trials", trials, low=1, error=ProtocolError)
        size = chunk_size(per, trials, what=f"auditing {fp.describe()}", fixed=fp.run)
        parts = []
        with progress_bar(trials, f"audit {protocol.name}", enabled=progress, unit="trial") as bar:
            for c, start, b in chunks(trials, size):
                inst_a = problem.sample(b, seed=child_seed(seed, 0, c))
                world = [np.array(x) for x in problem.inputs(inst_a)]
                found = _audit_batch(protocol, problem, world, problem.public(inst_a), seed, c, isolation)
                parts.append([replace(v, first_instance=v.first_instance + start) for v in found])
                bar.update(b)
    return AuditReport(protocol.name, trials, protocol.R * protocol.k, _merge(parts), isolation, checks)


def _merge(parts: list[list[Violation]]) -> tuple[Violation, ...]:
    """Sum the violations of each (round, speaker, check) over chunks; keep the earliest instance and its reason."""
    merged: dict[tuple, Violation] = {}
    for part in parts:
        for v in part:
            key = (v.round, v.speaker, v.check, v.reason)
            old = merged.get(key)
            merged[key] = v if old is None else replace(old, instances=old.instances + v.instances)
    return tuple(merged.values())


def _audit_batch(
    protocol: Protocol, problem: Problem, world: list[np.ndarray], public: dict, seed: Seed, c: int, isolation: str
) -> list[Violation]:
    """Every check on one batch of worlds (``world`` is overwritten in place during the input check, then restored)."""
    batch = world[0].shape[0]
    other = problem.inputs(problem.sample(batch, seed=child_seed(seed, 1, c)))
    run_seed = child_seed(seed, 2, c)
    saved = [np.array(w, copy=True) for w in world]
    violations: list[Violation] = []
    base = run(protocol, world, seed=run_seed, public=public, isolation=isolation)
    if isolation == "process":
        local = run(protocol, world, seed=run_seed, public=public)
        for m in range(protocol.R * protocol.k):
            r, i = divmod(m, protocol.k)
            changed = _changed(local.board[:, r, i], base.board[:, r, i])
            if changed.size:
                violations.append(Violation(r, i, int(changed.size), int(changed[0]), "process", CHECKS["process"]))
        changed = _changed(local.outputs, base.outputs)
        if changed.size:
            violations.append(Violation(None, None, int(changed.size), int(changed[0]), "process", CHECKS["process"]))
    try:
        for i in range(protocol.k):
            for j, w in enumerate(world):
                w[...] = saved[j] if j == i else other[j]
            violations += _replay(protocol, base, i, saved[i], public, "input")
    finally:
        for w, x in zip(world, saved, strict=True):
            w[...] = x
    # Sampled only now: a protocol that captures instances as they are made sees the decoy last.
    decoy = problem.sample(batch, seed=child_seed(seed, 3, c))
    for i in range(protocol.k):  # a decoy run right before each replay overwrites whatever is shared
        try:
            run(protocol, problem.inputs(decoy), seed=child_seed(seed, 4, c), public=problem.public(decoy))
        except Exception as e:  # see _replay
            violations.append(_failed("state", None, None, batch, e))
            break
        violations += _replay(protocol, base, i, saved[i], public, "state")
    violations += _output_violations(protocol, base)
    return violations
