"""1-vs-2 cycles and connectivity of max-degree-2 graphs by MPC pointer doubling (docs/definitions.md §9).

The 1-vs-2-cycles problem ([SHT24] Conjecture 2.4, after Ghaffari–Kuhn–Uitto
2019): tell one N-cycle from two N/2-cycles; conjectured to need Ω(log N)
rounds for any γ > 0, δ < 1.  The graph is the input as an edge list, ``2|E|``
words ``u_0 v_0 u_1 v_1 ...`` ([SHT24] §2.3), vertices ``0..N-1``.

Algorithm (graphs of maximum degree 2: disjoint cycles and paths).  Every
vertex keeps the two vertices at distance ``2^t`` along its component (its
*ends*, -1 past the end of a path) and the least vertex id within distance
``2^t`` (its *window minimum*).  One doubling round: each vertex v pushes
``(other end, window minimum)`` to each of its ends; a vertex's new ends are
the "other ends" it receives and its new minimum the least of what it
receives and its own — the windows of its two ends cover distance
``2^(t+1)``.  One round per doubling (a pull would need two).  After ``T =
⌈log₂ N⌉`` rounds every window covers its component, so the minimum is the
component's label.

Rounds: 2 to spread the edge list (input machines hand a quarter of their
words to each of four helpers, which address every edge to both endpoints'
homes — the 2x blow-up of addressing needs the extra hop), ``T`` doubling
rounds, then

- ``connectivity``: 1 round to put the labels on the first ``⌈N/s⌉``
  machines: ``R = ⌈log₂ N⌉ + 3``;
- ``cycles``: the number of components (vertices that are their own label)
  summed up a tree of fan-in s (``D`` rounds) and handed to machine 0:
  ``R = ⌈log₂ N⌉ + D + 3``.

Examples
--------
>>> import numpy as np
>>> one, two = cycle_instance(12, 1, seed=0), cycle_instance(12, 2, seed=0)
>>> mpc_cycles(one, 12).components, mpc_cycles(two, 12).components
(1, 2)
>>> r = mpc_connectivity(two, 12)
>>> len(set(r.labels.tolist())), r.run.rounds == cycles_rounds(12, 0.5, "connectivity")
(2, True)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..seeding import Seed, as_generator
from ..validation import check_int
from .engine import MPCProgram, MPCRun, RoundContext, Step, collect_output, distribute, run_mpc
from .errors import MPCConfigError
from .hop import SLOT_WORDS, hop_memory
from .layout import Tree
from .records import Memory, Messages, Records, local_slots

__all__ = ["CyclesLayout", "CyclesProgram", "CyclesResult", "cycle_instance", "cycles_layout", "cycles_rounds",
           "mpc_cycles", "mpc_connectivity", "components_naive"]

#: Helpers per input machine in the spread (each addresses its edges to both endpoints: 4 words per 2).
HELPERS = 4


@dataclass(frozen=True)
class CyclesLayout:
    """Public parameters: N vertices, E edges, c vertices per home, s words, the counting tree."""

    n: int
    edges: int
    c: int
    s: int
    homes: int
    tree: Tree
    task: str

    @property
    def doubling(self) -> int:
        return max(0, (self.n - 1).bit_length())

    @property
    def machines(self) -> int:
        helpers = HELPERS * -(-2 * self.edges // self.s)
        return max(self.homes + self.tree.machines, helpers)

    @property
    def rounds(self) -> int:
        extra = self.tree.depth + 1 if self.task == "cycles" else 1
        return 2 + self.doubling + extra

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(np.int32 if SLOT_WORDS * max(self.n, 2 * self.edges) < 2**30 else np.int64)


def cycles_layout(n: int, edges: int, delta: float, task: str = "cycles") -> CyclesLayout:
    """The layout for N vertices, E edges, memory exponent δ (``s = SLOT_WORDS·⌈N^δ⌉``).

    Examples
    --------
    >>> L = cycles_layout(1024, 1024, 0.5)
    >>> L.c, L.s, L.homes, L.tree.depth, L.rounds
    (32, 1024, 32, 1, 14)
    """
    if task not in ("cycles", "connectivity"):
        raise MPCConfigError(f"task = {task!r}; use 'cycles' or 'connectivity'")
    c, s = hop_memory(n, delta)
    homes = -(-n // c)
    return CyclesLayout(n, check_int("edges", edges, low=0, error=MPCConfigError), c, s, homes,
                        Tree(homes, s, homes), task)


def cycles_rounds(n: int, delta: float, task: str = "cycles") -> int:
    """Exact rounds of :func:`mpc_cycles` / :func:`mpc_connectivity` on N vertices (and N edges)."""
    return cycles_layout(n, n, delta, task).rounds


class CyclesProgram(MPCProgram):
    """The vectorised program of this module."""

    name = "cycles-pointer-doubling"

    def __init__(self, layout: CyclesLayout) -> None:
        self.L = layout

    def step(self, ctx: RoundContext, memory: Memory) -> Step:
        L, r = self.L, ctx.round
        if r == 1:
            return self._hand_out(ctx, memory)
        if r == 2:
            return self._address(ctx, memory)
        if r <= 2 + L.doubling:
            return self._double(memory, r - 3)
        if L.task == "connectivity":
            return self._labels(ctx, memory)
        return self._count(ctx, memory, r - 3 - L.doubling)

    def _hand_out(self, ctx: RoundContext, mem: Memory) -> Step:
        e = mem["e"]
        q = ctx.s // HELPERS
        helper = e.at * HELPERS + local_slots(e.at) // q
        return Step(send={"e": Messages.of(e.at, helper, v=e["e"].astype(self.L.dtype))})

    def _address(self, ctx: RoundContext, mem: Memory) -> Step:
        L = self.L
        e = mem["e"]
        idx = e.at * (ctx.s // HELPERS) + local_slots(e.at)  # the word's index in the edge list
        u_row = idx % 2 == 0
        # an edge's two words are consecutive slots of one helper (s/4 is even)
        u, v, at = e["v"][u_row], e["v"][~u_row], e.at[u_row]
        ends = np.concatenate([u, v])
        nbrs = np.concatenate([v, u])
        src = np.concatenate([at, at])
        return Step(send={"adj": Messages.of(src, ends // L.c, v=ends, n=nbrs)})

    def _double(self, mem: Memory, t: int) -> Step:
        L = self.L
        if t == 0:
            adj = mem.get("adj", Records.empty("v", "n"))
            # every home knows its own vertices from its id: hc .. hc + c - 1
            v = np.arange(L.n, dtype=L.dtype)
            at = v // L.c
            lo = 0
            a = np.full(v.shape, -1, L.dtype)
            b = a.copy()
            loc = adj["v"] - lo
            first = _one_each(loc, v.shape[0])  # one neighbour is end a, the other (if any) end b
            a[loc[first]] = adj["n"][first]
            b[loc[~first]] = adj["n"][~first]
            mins = np.minimum(v, np.where(a >= 0, a, v))
            mins = np.minimum(mins, np.where(b >= 0, b, v))
        else:
            st = mem["st"]
            at, v, mins = st.at, st["v"], st["m"]
            lo = int(v[0]) if len(v) else 0
            a = np.full(v.shape, -1, L.dtype)
            b = a.copy()
            got = mem.get("push", Records.empty("v", "far", "m"))
            loc = got["v"] - lo
            first = _one_each(loc, v.shape[0])
            a[loc[first]] = got["far"][first]
            b[loc[~first]] = got["far"][~first]
            mins = _fold_min(mins, loc, got["m"], first)
        sa, sb = a >= 0, b >= 0
        push = Messages.of(np.concatenate([at[sa], at[sb]]),
                           np.concatenate([a[sa], b[sb]]) // L.c,
                           v=np.concatenate([a[sa], b[sb]]), far=np.concatenate([b[sa], a[sb]]),
                           m=np.concatenate([mins[sa], mins[sb]]))
        return Step(keep={"st": Records.of(at, v=v, m=mins)}, send={"push": push})

    def _final(self, mem: Memory) -> Records:
        """The state after the last doubling round's pushes are folded in."""
        st = mem["st"]
        got = mem.get("push", Records.empty("v", "far", "m"))
        lo = int(st["v"][0]) if len(st) else 0
        loc = got["v"] - lo
        mins = _fold_min(st["m"], loc, got["m"], _one_each(loc, len(st)))
        return Records.of(st.at, v=st["v"], m=mins)

    def _labels(self, ctx: RoundContext, mem: Memory) -> Step:
        st = self._final(mem)
        return Step(send={"y": Messages.of(st.at, st["v"] // ctx.s, y=st["m"])}, halt=True)

    def _count(self, ctx: RoundContext, mem: Memory, u: int) -> Step:
        L, T = self.L, self.L.tree
        if u == 0:
            st = self._final(mem)
            roots = np.bincount(st.at, weights=st["m"] == st["v"], minlength=L.homes).astype(np.int64)
            live = np.unique(st.at)
            vals, level = roots[live], 0
        else:
            cnt = mem["cnt"]
            level = u
            node = cnt.at - T.base(level)
            sums = np.bincount(node, weights=cnt["k"], minlength=T.sizes[level]).astype(np.int64)
            live = np.unique(node)
            vals = sums[live]
        if level == T.depth:  # the root: hand the count to machine 0
            return Step(send={"out": Messages.of(T.base(level) + live, 0, y=vals)}, halt=True)
        return Step(send={"cnt": Messages.of(T.base(level) + live, T.parent(level, live), k=vals)})


def _one_each(loc: np.ndarray, size: int) -> np.ndarray:
    """Mark exactly one record per distinct ``loc`` (a vertex receives at most two)."""
    w = np.full(size, -1, np.int64)
    w[loc] = np.arange(loc.shape[0])
    first = np.zeros(loc.shape[0], bool)
    first[w[loc]] = True
    return first


def _fold_min(mins: np.ndarray, loc: np.ndarray, m: np.ndarray, first: np.ndarray) -> np.ndarray:
    """``mins`` lowered by the received minima (no vertex appears twice within ``first`` or ``~first``)."""
    out = mins.copy()
    for sel in (first, ~first):
        out[loc[sel]] = np.minimum(out[loc[sel]], m[sel])
    return out


@dataclass(frozen=True, eq=False)
class CyclesResult:
    """An MPC run on a max-degree-2 graph: component count or labels, the layout, the counted run."""

    components: int | None
    labels: np.ndarray | None
    layout: CyclesLayout
    run: MPCRun

    def summary(self) -> dict[str, Any]:
        L = self.layout
        return {**self.run.summary(), "n": L.n, "edges": L.edges, "vertices_per_machine": L.c,
                "doubling_rounds": L.doubling, "tree_depth": L.tree.depth, "rounds_formula": L.rounds,
                "log2_n": math.log2(L.n)}


def _edges(edges: Any, n: int) -> np.ndarray:
    e = np.asarray(edges)
    if e.ndim != 2 or e.shape[1] != 2 or e.dtype.kind not in "iu":
        raise MPCConfigError(f"edges have shape {e.shape} and dtype {e.dtype}; give an (E, 2) integer array")
    n = check_int("N", n, low=1, error=MPCConfigError)
    if e.size and (int(e.min()) < 0 or int(e.max()) >= n):
        raise MPCConfigError(f"an edge names vertex {int(e.min()) if e.min() < 0 else int(e.max())}; "
                             f"vertices are 0..{n - 1}")
    if e.size and bool((e[:, 0] == e[:, 1]).any()):
        raise MPCConfigError("a self-loop; the graph must be simple")
    deg = np.bincount(e.reshape(-1), minlength=n)
    if e.size and int(deg.max()) > 2:
        raise MPCConfigError(f"vertex {int(deg.argmax())} has degree {int(deg.max())}; this algorithm takes "
                             f"graphs of maximum degree 2 (disjoint cycles and paths)")
    return e.astype(np.int64)


def _run(edges: Any, n: int, delta: float, task: str, seed: Seed, audit: int | str) -> tuple[CyclesLayout, MPCRun]:
    e = _edges(edges, n)
    L = cycles_layout(n, e.shape[0], delta, task)
    run = run_mpc(CyclesProgram(L), {"e": distribute(e.reshape(-1), L.s, "e")}, machines=L.machines, s=L.s,
                  word_bits=8 * L.dtype.itemsize, max_rounds=L.rounds, seed=seed, audit=audit)
    return L, run


def mpc_cycles(edges: Any, n: int, delta: float = 0.5, *, seed: Seed = 0, audit: int | str = 1) -> CyclesResult:
    """The number of connected components of a max-degree-2 graph (1 or 2 for the 1-vs-2-cycles problem)."""
    L, run = _run(edges, n, delta, "cycles", seed, audit)
    k = int(collect_output(run.memory["out"], 1, L.s)[0])
    return CyclesResult(k, None, L, run)


def mpc_connectivity(edges: Any, n: int, delta: float = 0.5, *, seed: Seed = 0,
                     audit: int | str = 1) -> CyclesResult:
    """Component labels (the least vertex of each component) of a max-degree-2 graph."""
    L, run = _run(edges, n, delta, "connectivity", seed, audit)
    labels = collect_output(run.memory["y"], n, L.s)
    return CyclesResult(int(np.unique(labels).size), labels, L, run)


def cycle_instance(n: int, cycles: int, seed: Seed = None) -> np.ndarray:
    """A random instance: one n-cycle or two (n/2)-cycles on shuffled vertices, edges in random order.

    Examples
    --------
    >>> cycle_instance(8, 2, seed=1).shape
    (8, 2)
    """
    n = check_int("N", n, low=3, error=MPCConfigError)
    if cycles not in (1, 2):
        raise MPCConfigError(f"cycles = {cycles!r}; the instances are one cycle or two")
    if cycles == 2 and (n % 2 or n < 6):
        raise MPCConfigError(f"N = {n}; two N/2-cycles need an even N >= 6")
    g = as_generator(seed)
    perm = g.permutation(n)
    parts = [perm] if cycles == 1 else [perm[: n // 2], perm[n // 2:]]
    e = np.concatenate([np.stack([p, np.roll(p, -1)], axis=1) for p in parts])
    flip = g.random(n) < 0.5
    e[flip] = e[flip][:, ::-1]
    return e[g.permutation(n)]


def components_naive(edges: Any, n: int) -> np.ndarray:
    """Least vertex of each vertex's component by union–find (slow, obvious; a test oracle).

    Examples
    --------
    >>> components_naive([[0, 1], [2, 3]], 5).tolist()
    [0, 0, 2, 2, 4]
    """
    parent = list(range(n))

    def root(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for u, v in np.asarray(edges).reshape(-1, 2).tolist():
        ru, rv = root(u), root(v)
        if ru != rv:
            parent[max(ru, rv)] = min(ru, rv)
    return np.array([root(i) for i in range(n)])
