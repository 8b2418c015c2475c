"""Replay: re-run a protocol with a recorded seed and check it wrote the same board.

Kept apart from :mod:`protocols.transcript` because it runs the engine, and the
engine builds transcripts: one direction of import each.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .engine import Protocol, Run, _seed_from_record, run
from .errors import ReplayMismatch
from .transcript import Transcript

__all__ = ["replay"]


def replay(
    recorded: Transcript | Run,
    protocol: Protocol,
    inputs: Sequence[np.ndarray],
    public: Mapping[str, Any] | None = None,
) -> Run:
    """Re-run ``protocol`` on ``inputs`` with the recorded seed and check identity.

    Coins are drawn for the whole batch, so ``inputs`` is the batch the
    recording came from.  Raises :class:`ReplayMismatch` naming the first
    differing message; returns the new run otherwise.

    Examples
    --------
    >>> from protocols import PointerChasing, run
    >>> from protocols.library import OneHopPerRound
    >>> pc = PointerChasing(q=4, k=2); inst = pc.sample(3, seed=0); p = OneHopPerRound(pc)
    >>> r = run(p, pc.inputs(inst), seed=1, public=pc.public(inst))
    >>> _ = replay(r.transcript(2), p, pc.inputs(inst), pc.public(inst))
    """
    again = run(protocol, inputs, seed=_seed_from_record(recorded.seed), public=public)
    if isinstance(recorded, Run):
        pairs = [(b, recorded.transcript(b)) for b in range(recorded.batch)]
    else:
        if again.batch != recorded.batch:
            raise ReplayMismatch(f"recorded batch has {recorded.batch} instances; replay got {again.batch}")
        pairs = [(recorded.instance, recorded)]
    for b, t in pairs:
        new = again.transcript(b)
        if (new.k, new.R, new.s) != (t.k, t.R, t.s):
            raise ReplayMismatch(f"shape (k, R, s) = {(new.k, new.R, new.s)}; recorded {(t.k, t.R, t.s)}")
        if new.bits != t.bits:
            pos = next(j for j in range(len(t.bits)) if new.bits[j] != t.bits[j])
            m = pos // t.s
            raise ReplayMismatch(
                f"instance {b}: message of speaker {m % t.k} in round {m // t.k} differs at bit {pos % t.s}"
            )
        if new.output != t.output:
            raise ReplayMismatch(f"instance {b}: output {new.output}; recorded {t.output}")
    return again
