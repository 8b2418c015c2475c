"""The naive MPC algorithm: gather the whole input on machine 0 and solve hop_k there (docs/definitions.md §9).

Round 1: every input machine sends all its words to machine 0 (in order, so
machine 0 knows every word's position).  Round 2: machine 0 computes
``hop_k`` locally and keeps the answer (the output's first machine).  It is
correct exactly when the whole input fits one machine, ``N <= s``; for any
larger N machine 0 is sent N > s words and the engine refuses the round with
:class:`~protocols.mpc.errors.ReceiveLimitExceeded` — the memory limit of
Def. 2.3 is what forces real MPC algorithms to spread the work.

Written one machine at a time (:class:`~protocols.mpc.engine.MachineProgram`):
each call sees only that machine's memory.

Examples
--------
>>> import numpy as np
>>> gather_hop(np.array([1, 0, 1, 0, 1]), 1, s=8).tolist()
[-1, -1, 0, 1, 0]
>>> gather_hop(np.arange(20) % 3, 2, s=8)
Traceback (most recent call last):
...
protocols.mpc.errors.ReceiveLimitExceeded: round 1, machine 0: is sent 20 words; s = 8
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..seeding import Seed
from ..validation import check_int
from .engine import MachineProgram, RoundContext, Step, collect_output, distribute, input_machines, run_mpc
from .errors import MPCConfigError
from .records import Memory, Messages, Records

__all__ = ["GatherHop", "gather_hop", "local_hop"]


def local_hop(x: np.ndarray, k: int) -> np.ndarray:
    """``hop_k`` of one sequence on one machine: previous occurrences by a stable sort, then k jumps.

    Examples
    --------
    >>> local_hop(np.array([2, 0, 2, 1, 2]), 1).tolist()
    [-1, -1, 0, -1, 1]
    """
    n = x.shape[0]
    order = np.argsort(x, kind="stable")
    f = np.full(n + 1, 0, np.int64)  # f[1 + i] = find(i) + 1, 0 = ⊥ (absorbing)
    same = x[order[1:]] == x[order[:-1]]
    f[1 + order[1:][same]] = order[:-1][same] + 2
    p = np.arange(n + 1)
    for _ in range(k):
        p = f[p]
    ext = np.concatenate([[-1], x])
    return ext[p[1:]]


class GatherHop(MachineProgram):
    """Gather everything on machine 0, then solve locally (see the module docstring)."""

    name = "gather-everything"

    def __init__(self, k: int) -> None:
        self.k = k

    def compute(self, ctx: RoundContext, machine: int, memory: Memory) -> Step:
        if ctx.round == 1:
            x = memory["x"]
            return Step(send={"x": Messages.of(np.full(len(x), machine), 0, x=x["x"])})
        if machine != 0:
            return Step(halt=True)
        x = memory["x"]["x"]
        y = local_hop(x, self.k)
        return Step(keep={"y": Records.of(np.zeros(len(y), np.int64), y=y)}, halt=True)


def gather_hop(x: Any, k: int, s: int, *, seed: Seed = 0, audit: int | str = 1) -> np.ndarray:
    """Run :class:`GatherHop` on one sequence with local memory s; raises once N > s."""
    a = np.asarray(x, dtype=np.int64).reshape(-1)
    s = check_int("s", s, low=1, error=MPCConfigError)
    k = check_int("k", k, low=0, error=MPCConfigError)
    run = run_mpc(GatherHop(k), {"x": distribute(a, s)}, machines=max(1, input_machines(a.shape[0], s)), s=s,
                  max_rounds=2, seed=seed, audit=audit)
    return collect_output(run.memory["y"], a.shape[0], s)
