"""hop_k by MPC pointer doubling in ⌈log₂ k⌉ + c rounds with s = O(N^δ) (docs/definitions.md §9, §3).

The problem (docs/definitions.md §3): ``find(i)`` = (last earlier occurrence of
``x_i``) + 1 or ⊥, ``hop_k(x)[i] = x[find^k(i)]`` or ⊥ (-1).  This module has
its own ``find`` (``protocols`` does not import ``reductions``); the tests
compare it with :func:`reductions.hop`.

Layout.  ``c = ⌈N^δ⌉`` positions per machine, ``s = SLOT_WORDS · c`` words
(:func:`hop_memory`); position ``i``'s *home* is machine ``i // c``.  Input and
output sit on the first ``⌈N/s⌉`` machines (Def. 2.3).  A ``fan``-ary tree of
extra machines (:class:`~protocols.mpc.layout.Tree`) sums histograms.

Rounds.

1. *spread*: input machines send every token to its home, one word per
   position (a home infers positions from its slots).
2. *find¹*, two ways.  ``D = ⌈log_b M⌉ = O((1-δ)/δ)`` is the depth of the tree,
   ``b ≈ √(s/4)`` its fan-in and the digit base.

   - **Prefix scan** (one digit, ``V <= b``: the paper's small alphabets).
     Each home resolves ``find`` for positions with an earlier occurrence
     in its own block; for the others it needs, per token, the last
     occurrence before its block and the token right after it.  Per-machine
     summaries (first token; per token: last position, next token — pending
     when that is the block's last position) combine left to right; they go
     up the tree (``D`` rounds) and each machine's exclusive prefix comes back
     down (``D`` rounds); a pending "next token" is the first token of the
     next block.  Then every position knows ``find(i)`` and ``x[find(i)]``, and
     1 round sends the inverse ``F⁻¹`` to F's home: ``2D + 1`` rounds.
   - **Radix sort** (``passes = ⌈log₂ V / log₂ b⌉ >= 2`` digits).  Each home builds
     records ``(rank = i, i, x_i, x_{i+1})`` (the successor across a home
     boundary arrives as a one-word patch).  Per digit: histograms up the
     tree (``D``), exclusive prefixes and totals down (``D``), every record
     moves to its new rank (1); the last move also copies each machine's
     last record to the next machine, so every record sees its predecessor
     in (token, position) order: same token means ``find(i) = pred + 1`` and
     ``x[find(i)]`` is the predecessor's successor token.  1 more round sends
     ``F``, ``x[F]`` home and ``F⁻¹`` to F's home: ``passes·(2D + 1) + 1`` rounds.
3. *doubling* (``T = ⌈log₂ k⌉`` rounds, one per bit): with ``F = find^(2^t)``
   and its inverse (find is injective), every position j pushes ``(F(j),
   x[F(j)])`` to ``F⁻¹(j)`` and ``F⁻¹(j)`` to ``F(j)``: both ``F∘F`` and its inverse
   in ONE round (a pull would need two).  ``G = find^(k mod 2^t)`` is carried
   the same way and takes ``F`` when bit t of k is set.
4. *output* (1 round): ``hop_k(x)[i]`` to machine ``i // s``, in order.

So ``R = ⌈log₂ k⌉ + c`` with ``c = 3 + 2D`` (scan) or ``c = 3 + passes·(2D + 1)``
(sort); :func:`hop_rounds` is the exact formula, which every run meets
exactly.  ``c`` depends on δ through ``D ≈ 2(1-δ)/δ`` and ``passes ≈ 2 log V /
(δ log N)``: ``O(1/δ)`` for a fixed alphabet, ``O(1/δ²)`` when V = poly(N).

Examples
--------
>>> import numpy as np
>>> x = np.array([1, 0, 2, 1, 3, 0, 1, 2, 1, 0, 2, 0])
>>> res = mpc_hop(x, 3, delta=0.5)
>>> res.output.tolist()
[-1, -1, -1, -1, -1, -1, -1, -1, 0, -1, 1, 2]
>>> res.run.rounds == hop_rounds(12, 3, 0.5, 4), res.run.rounds
(True, 7)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..seeding import Seed
from ..validation import check_int, check_real
from .engine import MPCProgram, MPCRun, RoundContext, Step, collect_output, distribute, run_mpc
from .errors import MPCConfigError
from .layout import Tree
from .records import Memory, Messages, Records, local_slots

__all__ = ["HopLayout", "HopProgram", "HopResult", "hop_layout", "hop_memory", "hop_rounds", "mpc_hop",
           "mpc_hop_batch", "SLOT_WORDS"]

#: Words of local memory per position slot: s = SLOT_WORDS · ⌈N^δ⌉.  A home machine keeps 5 words
#: of state and receives at most 10 words of updates per position in a doubling round (15), and a
#: sort machine keeps and receives 4 words per record (8); the rest leaves room for the histograms
#: and prefix sums of the sort's tree.  The engine checks every one of these counts.
SLOT_WORDS = 32


def hop_memory(n: int, delta: float) -> tuple[int, int]:
    """``(c, s)``: positions per machine ``⌈N^δ⌉`` and local memory ``s = SLOT_WORDS · c`` words.

    Examples
    --------
    >>> hop_memory(1024, 0.5)
    (32, 1024)
    """
    n = check_int("N", n, low=1, error=MPCConfigError)
    d = check_real("delta", delta, low=0.0, high=1.0, error=MPCConfigError)
    if not 0.0 < d < 1.0:
        raise MPCConfigError(f"delta = {d}; the local memory exponent δ must be in (0, 1)")
    c = max(1, math.ceil(n ** d - 1e-9))
    return c, SLOT_WORDS * c


@dataclass(frozen=True)
class HopLayout:
    """Every public parameter of an MPC hop run (all machines know these)."""

    n: int
    k: int
    alphabet: int
    c: int
    s: int
    homes: int
    tree: Tree
    base: int  # digit base b
    passes: int

    @property
    def machines(self) -> int:
        return self.homes + self.tree.machines

    @property
    def doubling(self) -> int:
        """⌈log₂ k⌉ (0 for k <= 1)."""
        return (self.k - 1).bit_length() if self.k >= 1 else 0

    @property
    def use_f(self) -> bool:
        """The answer is ``find^(2^T)`` itself (k a power of two), not the bit accumulator."""
        return self.k >= 1 and self.k & (self.k - 1) == 0

    @property
    def scan(self) -> bool:
        """One digit (V <= b): find¹ by a prefix scan over the machines, no sort."""
        return self.passes <= 1

    @property
    def find_rounds(self) -> int:
        """Rounds between the spread and the doubling: 2D + 1 (scan) or passes·(2D + 1) + 1 (sort)."""
        D = self.tree.depth
        return 2 * D + 1 if self.scan else self.passes * (2 * D + 1) + 1

    @property
    def rounds(self) -> int:
        return self.doubling + 2 + self.find_rounds

    @property
    def word_bits(self) -> int:
        """p: 32-bit words, or 64 when positions or tokens need more (Θ(log N) for V <= poly(N))."""
        return 32 if max(SLOT_WORDS * self.n, self.alphabet) < 2**30 else 64

    @property
    def dtype(self) -> np.dtype:
        """The integer dtype of a word (so the engine need not range-check a column)."""
        return np.dtype(np.int32 if self.word_bits == 32 else np.int64)


def hop_layout(n: int, k: int, delta: float, alphabet: int) -> HopLayout:
    """The layout for length N, k hops, memory exponent δ and alphabet V (tokens ``0..V-1``).

    Examples
    --------
    >>> L = hop_layout(1024, 16, 0.5, 4)
    >>> L.c, L.s, L.homes, L.base, L.passes, L.tree.depth, L.rounds
    (32, 1024, 32, 16, 1, 2, 11)
    """
    k = check_int("k", k, low=0, error=MPCConfigError)
    V = check_int("alphabet", alphabet, low=1, error=MPCConfigError)
    c, s = hop_memory(n, delta)
    homes = -(-n // c)
    # fan = digit base b: a tree node holds fan·(b+1) words and sends fan·2b; 2·fan·b <= s/2.
    b = 2
    while 2 * (2 * b) * (2 * b) <= s // 2:
        b *= 2
    digit = b.bit_length() - 1
    passes = -(-max(0, (V - 1).bit_length()) // digit)
    return HopLayout(n, k, V, c, s, homes, Tree(homes, b, homes), b, passes)


def hop_rounds(n: int, k: int, delta: float, alphabet: int) -> int:
    """The exact round count ``⌈log₂ k⌉ + c`` of :func:`mpc_hop` (``c = 3 + 2D`` or ``3 + passes·(2D + 1)``).

    Examples
    --------
    >>> hop_rounds(10**6, 64, 0.5, 4) - 6   # the constant c at N = 10^6, δ = 1/2, V = 4
    7
    """
    return hop_layout(n, k, delta, alphabet).rounds


def _phases(L: HopLayout) -> list[tuple]:
    ph: list[tuple] = [("spread",)]
    D = L.tree.depth
    if L.scan:
        ph += [("scan_up", lvl) for lvl in range(D)]
        ph += [("scan_down", lvl) for lvl in range(D, 0, -1)]
        ph.append(("scan_find",))
    else:
        for j in range(L.passes):
            ph += [("up", j, lvl) for lvl in range(D)]
            ph += [("down", j, lvl) for lvl in range(D, 0, -1)]
            ph.append(("route", j, j == L.passes - 1))
        ph.append(("find",))
    ph += [("double", t) for t in range(L.doubling)]
    ph.append(("output",))
    return ph


_SRT = ("rank", "pos", "x", "xn")

#: Records placed per chunk by :func:`_place`.
_PLACE_CHUNK = 1 << 16


def _place(dest: list[np.ndarray], pos: np.ndarray, p0: int, values: list[np.ndarray]) -> None:
    """``dest[j][pos - p0] = values[j]`` for every j, in order (a later record wins a slot).

    In chunks, each chunk's index cast to intp once and shared by the columns:
    an int32 index is cast again by every assignment, and a cast of the whole
    column is a fresh array as large as it (page faults on every round).
    """
    for lo in range(0, pos.shape[0], _PLACE_CHUNK):
        idx = pos[lo:lo + _PLACE_CHUNK].astype(np.intp)
        if p0:
            idx -= p0
        for d, v in zip(dest, values, strict=True):
            d[idx] = v[lo:lo + _PLACE_CHUNK]


#: Alphabets up to this size are grouped by one pass per token rather than an argsort.
_FEW_TOKENS = 8


def _by_token(x: np.ndarray, V: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices of ``x`` (tokens ``0..V-1``) stably ordered by token, and where each token's run starts.

    For a few tokens one comparison per token lists its indices in order (no
    sort); otherwise numpy's stable argsort, a radix sort on a 1- or 2-byte key.
    The two give the same order: tokens ascending, indices ascending within a token.
    """
    if V <= _FEW_TOKENS:
        order = np.empty(x.shape[0], np.intp)
        sizes = np.zeros(V, np.int64)
        done = 0
        for v in range(V):
            idx = np.flatnonzero(x == v)
            order[done:done + idx.shape[0]] = idx
            sizes[v] = idx.shape[0]
            done += idx.shape[0]
    else:
        narrow = x.astype(np.uint8 if V <= 2**8 else np.uint16) if V <= 2**16 else x
        order = np.argsort(narrow, kind="stable")
        sizes = np.bincount(narrow, minlength=V)
    starts = np.cumsum(sizes) - sizes
    return order, starts[sizes > 0]


class HopProgram(MPCProgram):
    """The vectorised MPC program of this module (one method per phase; see the module docstring)."""

    name = "hop-pointer-doubling"

    def __init__(self, layout: HopLayout) -> None:
        self.L = layout
        self.phases = _phases(layout)
        b = layout.base
        self.vec = tuple(f"c{i}" for i in range(b))
        self.pre = tuple(f"P{i}" for i in range(b))
        self.tot = tuple(f"T{i}" for i in range(b))

    def step(self, ctx: RoundContext, memory: Memory) -> Step:
        ph = self.phases[ctx.round - 1]
        return getattr(self, "_" + ph[0])(ctx, memory, *ph[1:])

    # -- 1. spread -------------------------------------------------------------------
    def _spread(self, ctx: RoundContext, mem: Memory) -> Step:
        """Each input machine sends its words, in order, to their homes: one word per position.

        ``s`` is a multiple of ``c``, so a home's c positions come from one input
        machine, in order, and the home infers their positions from its slots.
        """
        x = mem["x"]
        pos = local_slots(x.at)
        pos += x.at * ctx.s
        # homes addressed in the word dtype: their records carry this machine column through every round
        home = pos.astype(self.L.dtype)
        home //= self.L.c
        return Step(send={"tok": Messages.of(x.at, home, x=x["x"].astype(self.L.dtype))})

    def _sorted(self, mem: Memory, boundary: bool = False) -> tuple[Records, dict[str, Messages]]:
        """The sort records (each machine its own), and the boundary word for the previous home.

        In round 2 the homes turn their tokens into records ``(rank, pos, x, x_{pos+1})``;
        the successor of a home's last position is the next home's first token, which
        arrives as a one-word patch (sent when ``boundary``) and is merged next round.
        """
        L = self.L
        send: dict[str, Messages] = {}
        if "tok" in mem:
            tok = mem["tok"]
            slot = local_slots(tok.at)
            pos = (tok.at * L.c + slot).astype(L.dtype)
            xv = tok["x"]
            xn = np.full(len(tok), -1, L.dtype)
            if len(tok) > 1:
                nxt = (tok.at[1:] == tok.at[:-1]) & (slot[1:] == slot[:-1] + 1)
                xn[:-1][nxt] = xv[1:][nxt]
            srt = Records.of(tok.at, rank=pos, pos=pos, x=xv, xn=xn)
            if boundary:
                first = (slot == 0) & (tok.at >= 1)
                send["patch"] = Messages.of(tok.at[first], tok.at[first] - 1, pos=pos[first] - 1, xn=xv[first])
            return srt, send
        srt = mem["srt"]
        patch = mem.get("patch")
        if patch is None or not len(patch):
            return srt, send
        where = np.full(L.homes * L.c, -1, np.int64)
        where[srt["pos"]] = np.arange(len(srt))
        hit = where[patch["pos"]]
        hit_ok = hit >= 0
        xn = srt["xn"].copy()
        xn[hit[hit_ok]] = patch["xn"][hit_ok]
        return Records(srt.at, {**srt.cols, "xn": xn}), send

    def _digit(self, srt: Records, j: int) -> np.ndarray:
        shift = j * (self.L.base.bit_length() - 1)
        return (srt["x"] >> shift) & (self.L.base - 1)

    # -- 2a. one digit: find¹ by a prefix scan of per-token last occurrences ----------------
    # A machine's summary: its first token, and per token v the last position of v and the
    # token right after it (PENDING when that position is the machine's last: the token is
    # the next machine's first).  Summaries combine left to right; the prefix of everything
    # before a machine, resolved with the machine's own first token, gives every position
    # without an earlier occurrence in its own machine its find and x[find].
    PENDING = -2

    def _local(self, tok: Records) -> dict[str, np.ndarray]:
        """Each home's own positions, local previous occurrences and its summary (rows: homes present).

        ``tok`` arrives grouped by home, in slot order (the spread sends it so), so
        in a stable order by token a position's predecessor with the same token
        on the same home is its previous occurrence there.
        """
        L = self.L
        V = L.alphabet
        n = len(tok)
        at, xv = tok.at, tok["x"]
        slot = local_slots(at)
        pos = (at * L.c).astype(L.dtype, copy=False)
        np.add(pos, slot, out=pos, casting="same_kind")  # positions fit the word dtype (hop_layout)
        order, heads = _by_token(xv, V)  # by token; machine-major, slot order within
        sat = at.take(order)
        same_mask = sat[1:] == sat[:-1]
        same_mask[heads[1:] - 1] = False  # a token's first entry follows another token's last
        later, earlier = order[1:][same_mask], order[:-1][same_mask]
        F = np.full(n, -1, L.dtype)
        TF = np.full(n, -1, L.dtype)
        found = pos.take(earlier)
        found += 1
        F[later] = found
        TF[later] = xv[1:].take(earlier)  # x[earlier + 1]: earlier < later on the same machine, so it is there
        counts = np.bincount(at, minlength=L.homes)
        present = np.flatnonzero(counts)
        rowmap = np.zeros(L.homes, np.int64)
        rowmap[present] = np.arange(present.shape[0])
        # the last occurrence of each (machine, token): in token order, an entry not followed by its
        # successor on the same machine (any order will do: (machine, token) cells are distinct)
        li = order.take(np.append(np.flatnonzero(~same_mask), n - 1)) if n else order
        row = rowmap[at[li]]
        last = np.full((present.shape[0], V), -1, np.int64)
        after = np.full((present.shape[0], V), -1, np.int64)
        last[row, xv[li]] = pos[li]
        end = slot[li] == counts[at[li]] - 1
        nxt = np.minimum(li + 1, n - 1)
        after[row, xv[li]] = np.where(end, self.PENDING, xv[nxt])
        first = np.full(present.shape[0], -1, np.int64)
        z = np.flatnonzero(slot == 0)
        first[rowmap[at[z]]] = xv[z]
        return dict(pos=pos, x=xv, F=F, TF=TF, present=present, rowmap=rowmap, last=last, after=after,
                    first=first)

    def _combine(self, last: np.ndarray, after: np.ndarray, last2: np.ndarray, after2: np.ndarray,
                 first2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Summary of A then B (rows: independent pairs): B's entries win; A's pending ones meet B's first."""
        after = np.where(after == self.PENDING, first2[:, None], after)
        take = last2 >= 0
        return np.where(take, last2, last), np.where(take, after2, after)

    def _children_summaries(self, mem: Memory, level: int) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
        """Node positions at ``level`` and their children's summaries, ``(nodes, fan, V)`` each."""
        T, V = self.L.tree, self.L.alphabet
        h = mem["scan"]
        node = h.at - T.base(level)
        h = h.take(np.flatnonzero((node >= 0) & (node < T.sizes[level])))  # this level's nodes only
        node = h.at - T.base(level)
        live = np.unique(node)
        idx = np.searchsorted(live, node)
        first = np.full((live.shape[0], T.fan), -1, np.int64)
        last = np.full((live.shape[0], T.fan, V), -1, np.int64)
        after = np.full((live.shape[0], T.fan, V), -1, np.int64)
        ch = h["child"]
        first[idx, ch] = h["first"]
        last[idx, ch] = np.stack([h[f"l{v}"] for v in range(V)], axis=1)
        after[idx, ch] = np.stack([h[f"a{v}"] for v in range(V)], axis=1)
        return live, node, [first, last, after]

    def _scan_up(self, ctx: RoundContext, mem: Memory, level: int) -> Step:
        T, V = self.L.tree, self.L.alphabet
        keep = {n: mem[n] for n in ("h0", "scan") if n in mem}  # homes keep their records, nodes their inputs
        if level == 0:
            if "tok" not in mem:
                return Step(keep=keep)
            tok = mem["tok"]
            loc = self._local(tok)
            # each home keeps its positions with the finds it resolved locally (the rest: -1 for now)
            keep["h0"] = Records.of(tok.at, pos=loc["pos"], x=tok["x"], F=loc["F"], TF=loc["TF"])
            live, first, last, after = loc["present"], loc["first"], loc["last"], loc["after"]
        else:
            if "scan" not in mem:
                return Step(keep=keep)
            live, _, (fc, lc, ac) = self._children_summaries(mem, level)
            if not live.size:
                return Step(keep=keep)
            first, last, after = fc[:, 0], lc[:, 0], ac[:, 0]
            for j in range(1, T.fan):
                has = fc[:, j] >= 0
                nl, na = self._combine(last, after, lc[:, j], ac[:, j], fc[:, j])
                last = np.where(has[:, None], nl, last)
                after = np.where(has[:, None], na, after)
        cols = {"child": live % T.fan, "first": first, **{f"l{v}": last[:, v] for v in range(V)},
                **{f"a{v}": after[:, v] for v in range(V)}}
        return Step(keep=keep, send={"scan": Messages.of(T.base(level) + live, T.parent(level, live), **cols)})

    def _scan_down(self, ctx: RoundContext, mem: Memory, level: int) -> Step:
        T, V = self.L.tree, self.L.alphabet
        keep = {"h0": mem["h0"]} if "h0" in mem else {}
        if "scan" not in mem:
            return Step(keep=keep)
        scan = mem["scan"]
        mine = (scan.at >= T.base(level)) & (scan.at < T.base(level) + T.sizes[level])
        if (~mine).any():
            keep["scan"] = scan.take(np.flatnonzero(~mine))
        if not mine.any():
            return Step(keep=keep)
        live, _, (fc, lc, ac) = self._children_summaries({"scan": scan.take(np.flatnonzero(mine))}, level)
        if level == T.depth:
            last = np.full((live.shape[0], V), -1, np.int64)
            after = last.copy()
        else:
            dn = mem["sdown"]
            at_node = np.searchsorted(live, dn.at - T.base(level))
            last = np.full((live.shape[0], V), -1, np.int64)
            after = last.copy()
            last[at_node] = np.stack([dn[f"l{v}"] for v in range(V)], axis=1)
            after[at_node] = np.stack([dn[f"a{v}"] for v in range(V)], axis=1)
        src, dst, ls, as_ = [], [], [], []
        for j in range(T.fan):
            has = fc[:, j] >= 0
            kid = live * T.fan + j
            src.append((T.base(level) + live)[has])
            dst.append(T.base(level - 1) + kid[has])
            ls.append(last[has])
            as_.append(after[has])
            nl, na = self._combine(last, after, lc[:, j], ac[:, j], fc[:, j])
            last = np.where(has[:, None], nl, last)
            after = np.where(has[:, None], na, after)
        lv, av = np.concatenate(ls), np.concatenate(as_)
        msg = Messages.of(np.concatenate(src), np.concatenate(dst), **{f"l{v}": lv[:, v] for v in range(V)},
                          **{f"a{v}": av[:, v] for v in range(V)})
        return Step(keep=keep, send={"sdown": msg})

    def _scan_find(self, ctx: RoundContext, mem: Memory) -> Step:
        L, V = self.L, self.L.alphabet
        if "tok" in mem:  # one home machine (no tree): everything is local
            tok = mem["tok"]
            loc = self._local(tok)
            h = Records.of(tok.at, pos=loc["pos"], x=tok["x"], F=loc["F"], TF=loc["TF"])
        elif "h0" in mem:
            h = mem["h0"]
        else:
            return Step()
        counts = np.bincount(h.at, minlength=L.homes)
        present = np.flatnonzero(counts)
        rowmap = np.zeros(L.homes, np.int64)
        rowmap[present] = np.arange(present.shape[0])
        last = np.full((present.shape[0], V), -1, np.int64)
        after = last.copy()
        if "sdown" in mem:
            dn = mem["sdown"]
            r = rowmap[dn.at]
            last[r] = np.stack([dn[f"l{v}"] for v in range(V)], axis=1)
            after[r] = np.stack([dn[f"a{v}"] for v in range(V)], axis=1)
        first = np.full(present.shape[0], -1, np.int64)
        starts = np.cumsum(counts[present]) - counts[present]  # h is in slot order, machine by machine
        first[:] = h["x"][starts]
        after = np.where(after == self.PENDING, first[:, None], after)  # pending: the next machine is this one
        xv, pos = h["x"], h["pos"]
        F, TF = h["F"].copy(), h["TF"].copy()
        open_ = np.flatnonzero(F < 0)
        r = rowmap[h.at[open_]]
        p = last[r, xv[open_]]
        F[open_] = np.where(p >= 0, p + 1, -1)
        TF[open_] = np.where(p >= 0, after[r, xv[open_]], -1)
        found = np.flatnonzero(F >= 0)
        keep = {"h0": Records(h.at, {"pos": pos, "x": xv, "F": F, "TF": TF})}
        send = {"nFinv": Messages.of(h.at[found], F[found] // L.c, pos=F[found], Finv=pos[found])}
        return Step(keep=keep, send=send)

    # -- 2. sort: histograms up, prefix sums down, move ------------------------------
    def _up(self, ctx: RoundContext, mem: Memory, j: int, level: int) -> Step:
        L, T = self.L, self.L.tree
        srt, send = self._sorted(mem, boundary=level == 0)
        keep: dict[str, Records] = {"srt": srt}
        if level == 0:
            d = self._digit(srt, j)
            h = np.bincount(srt.at * L.base + d, minlength=L.homes * L.base).reshape(L.homes, L.base)
            live = np.flatnonzero(np.bincount(srt.at, minlength=L.homes))
            vec = h[live]
        else:
            hist = mem["hist"]
            keep["hist"] = hist
            node = hist.at - T.base(level)
            mine = (node >= 0) & (node < T.sizes[level])
            sums = np.zeros((T.sizes[level], L.base), np.int64)
            np.add.at(sums, node[mine], np.stack([hist[c][mine] for c in self.vec], axis=1))  # tiny: nodes
            live = np.unique(node[mine])
            vec = sums[live]
        send["hist"] = Messages.of(T.base(level) + live, T.parent(level, live), child=live % T.fan,
                                   **{c: vec[:, i].astype(L.dtype) for i, c in enumerate(self.vec)})
        return Step(keep=keep, send=send)

    def _down(self, ctx: RoundContext, mem: Memory, j: int, level: int) -> Step:
        L, T = self.L, self.L.tree
        srt, _ = self._sorted(mem)
        hist = mem["hist"]
        node = hist.at - T.base(level)
        mine = (node >= 0) & (node < T.sizes[level])
        others = hist.take(~mine)
        h = hist.take(mine)
        node = node[mine]
        n_nodes = T.sizes[level]
        vec = np.zeros((n_nodes, T.fan, L.base), np.int64)
        vec[node, h["child"]] = np.stack([h[c] for c in self.vec], axis=1)
        if level == T.depth:
            P = np.zeros((n_nodes, L.base), np.int64)
            tot = vec.sum(axis=1)
        else:
            dn = mem["down"]
            dn_node = dn.at - T.base(level)
            P = np.zeros((n_nodes, L.base), np.int64)
            tot = np.zeros((n_nodes, L.base), np.int64)
            P[dn_node] = np.stack([dn[c] for c in self.pre], axis=1)
            tot[dn_node] = np.stack([dn[c] for c in self.tot], axis=1)
        live = np.unique(node)
        row, kid = T.children(level, live)
        excl = np.cumsum(vec, axis=1) - vec  # exclusive prefix over a node's children
        pv = P[live[row]] + excl[live[row], kid - live[row] * T.fan]
        tv = tot[live[row]]
        send = {"down": Messages.of(T.base(level) + live[row], T.base(level - 1) + kid,
                                    **{c: pv[:, i].astype(L.dtype) for i, c in enumerate(self.pre)},
                                    **{c: tv[:, i].astype(L.dtype) for i, c in enumerate(self.tot)})}
        keep = {"srt": srt}
        if len(others):
            keep["hist"] = others
        return Step(keep=keep, send=send)

    def _route(self, ctx: RoundContext, mem: Memory, j: int, last: bool) -> Step:
        L = self.L
        srt, _ = self._sorted(mem)
        d = self._digit(srt, j)
        b, c = L.base, L.c
        if L.tree.depth == 0:  # one machine: its own histogram is the total
            cnt = np.bincount(d, minlength=b)
            P = np.zeros((1, b), np.int64)
            tot = cnt[None, :]
        else:
            dn = mem["down"]
            P = np.zeros((L.homes, b), np.int64)
            tot = np.zeros((L.homes, b), np.int64)
            P[dn.at] = np.stack([dn[x] for x in self.pre], axis=1)
            tot[dn.at] = np.stack([dn[x] for x in self.tot], axis=1)
        off = (np.cumsum(tot, axis=1) - tot + P).reshape(-1)  # global start of (machine, digit)
        # index among the machine's records with the same digit, in rank order: a stable
        # sort of each machine's row of digits (rows are machines; empty slots sort last)
        lr = srt["rank"] - srt.at * c
        counts = np.bincount(srt.at, minlength=L.homes)
        present = np.flatnonzero(counts)  # one row per machine present
        if present.shape[0] == L.homes:
            row = srt.at
        else:
            rowmap = np.zeros(L.homes, np.int64)
            rowmap[present] = np.arange(present.shape[0])
            row = rowmap[srt.at]
        rows = present.shape[0]
        flat = row * c + lr
        dense = np.full(rows * c, b, np.int16 if b < 2**15 else np.int64)
        dense[flat] = d
        order = np.argsort(dense.reshape(rows, c), axis=1, kind="stable")
        inv = np.empty(rows * c, np.int64)
        inv[(order + (np.arange(rows) * c)[:, None]).reshape(-1)] = np.tile(np.arange(c), rows)
        h = np.bincount(row * (b + 1) + d, minlength=rows * (b + 1)).reshape(rows, b + 1)
        first = (np.cumsum(h, axis=1) - h).reshape(-1)
        new_rank = (off[srt.at * b + d] - first[row * (b + 1) + d] + inv[flat]).astype(L.dtype)
        send = {"srt": Messages.of(srt.at, new_rank // L.c, rank=new_rank, pos=srt["pos"], x=srt["x"],
                                   xn=srt["xn"])}
        if last:
            tail = (new_rank % L.c == L.c - 1) & (new_rank + 1 < L.n)
            send["pred"] = Messages.of(srt.at[tail], (new_rank[tail] + 1) // L.c, rank=new_rank[tail],
                                       pos=srt["pos"][tail], x=srt["x"][tail], xn=srt["xn"][tail])
        return Step(send=send)

    # -- 3. find and its inverse to the homes -------------------------------------------
    def _find(self, ctx: RoundContext, mem: Memory) -> Step:
        L = self.L
        srt = mem["srt"]
        pred = mem.get("pred", Records.empty(*_SRT))
        r = srt["rank"]
        by_rank = np.full(L.homes * L.c, -1, np.int64)
        by_rank[r] = np.arange(len(srt))
        pred_of = np.full(L.homes, -1, np.int64)
        pred_of[pred.at] = np.arange(len(pred))
        inside = (r % L.c) > 0
        pp = np.full(len(srt), -1, np.int64)
        px = np.full(len(srt), -2, np.int64)
        pxn = np.full(len(srt), -1, np.int64)
        i_in = by_rank[r[inside] - 1]
        pp[inside], px[inside], pxn[inside] = srt["pos"][i_in], srt["x"][i_in], srt["xn"][i_in]
        out = ~inside
        j_out = pred_of[srt.at[out]]
        ok = j_out >= 0
        sel = np.flatnonzero(out)[ok]
        pp[sel], px[sel], pxn[sel] = pred["pos"][j_out[ok]], pred["x"][j_out[ok]], pred["xn"][j_out[ok]]
        found = (px == srt["x"]) & (pp >= 0)
        F = np.where(found, pp + 1, -1).astype(L.dtype)
        TF = np.where(found, pxn, -1).astype(L.dtype)
        pos = srt["pos"]
        send = {
            "h0": Messages.of(srt.at, pos // L.c, pos=pos, x=srt["x"], F=F, TF=TF),
            "nFinv": Messages.of(srt.at[found], F[found] // L.c, pos=F[found], Finv=pos[found]),
        }
        return Step(send=send)

    # -- 4. doubling ----------------------------------------------------------------------
    def _state(self, mem: Memory, t: int) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """The homes' state after the updates pushed in the previous round, in position order.

        A home holds all of its c positions, so the machines present hold one
        contiguous range of positions ``p0, p0+1, ...``; updates are addressed
        by position and land at ``pos - p0`` (each machine its own slots).
        """
        if t == 0:
            h = mem["h0"]
            p0 = int(h.at.min()) * self.L.c if len(h) else 0
            if not np.array_equal(h["pos"], np.arange(p0, p0 + len(h), dtype=h["pos"].dtype)):
                order = np.empty(len(h), np.int64)
                order[h["pos"] - p0] = np.arange(len(h))  # each home sorts its records by position
                h = h.take(order)
            st = {n: h[n] for n in ("pos", "x", "F", "TF")}
            st["G"], st["TG"], st["Ginv"] = st["pos"], st["x"], st["pos"]  # find^0 = identity
            st["Finv"] = np.full(len(h), -1, st["pos"].dtype)
        else:
            h = mem["home"]
            p0 = int(h["pos"][0]) if len(h) else 0
            st = dict(h.cols)
            st["F"] = np.full(len(h), -1, st["pos"].dtype)  # F = ⊥ unless F(F(i)) was pushed
            st["TF"], st["Finv"] = st["F"].copy(), st["F"].copy()
            if (self.L.k >> (t - 1)) & 1:  # G was replaced last round: only what was pushed holds
                st["G"], st["TG"], st["Ginv"] = st["F"].copy(), st["F"].copy(), st["F"].copy()
        for tab, cols in (("nF", ("F", "TF")), ("nFinv", ("Finv",)), ("nG", ("G", "TG")), ("nGinv", ("Ginv",))):
            u = mem.get(tab)
            if u is not None and len(u):
                for cname in cols:
                    if t == 0 and cname in ("G", "TG", "Ginv"):
                        st[cname] = st[cname].copy()
                _place([st[c] for c in cols], u["pos"], p0, [u[c] for c in cols])
        return h.at, st

    def _double(self, ctx: RoundContext, mem: Memory, t: int) -> Step:
        L = self.L
        at, st = self._state(mem, t)
        F, TF, Fi, Gi = st["F"], st["TF"], st["Finv"], st["Ginv"]
        send: dict[str, Messages] = {}

        def push(inv: np.ndarray, val: np.ndarray, tv: np.ndarray, names: tuple[str, str, str, str],
                 with_inverse: bool) -> None:
            # j pushes (F(j), x[F(j)]) to inv(j), and inv(j) to F(j): each column selected once, by a
            # boolean mask (several times cheaper than an index array of nearly every position);
            # the inverse's messages are a mask of what was selected (same order)
            a = inv >= 0
            to, src, fa = inv[a], at[a], val[a]
            send[names[0]] = Messages.of(src, to // L.c, pos=to, **{names[1]: fa, names[2]: tv[a]})
            if with_inverse:  # only while a later round still pushes along this pointer
                m = fa >= 0
                back = fa[m]
                send[names[3]] = Messages.of(src[m], back // L.c, pos=back, **{names[3][1:]: to[m]})

        more = t + 1 < L.doubling
        if (L.k >> t) & 1:  # G <- F∘G, pushed by each j = G(i) to i = G⁻¹(j)
            push(Gi, F, TF, ("nG", "G", "TG", "nGinv"), more and (L.k >> (t + 1)) > 0)
        if L.use_f or more:  # F <- F∘F with its inverse
            push(Fi, F, TF, ("nF", "F", "TF", "nFinv"), more)
        keep = {"home": Records(at, {n: st[n] for n in ("pos", "x", "G", "TG", "Ginv")})}
        return Step(keep=keep, send=send)

    # -- 5. output ----------------------------------------------------------------------
    def _output(self, ctx: RoundContext, mem: Memory) -> Step:
        L = self.L
        at, st = self._state(mem, L.doubling)
        ans = st["TF"] if L.use_f else st["TG"]  # position order: each machine emits in order
        return Step(send={"y": Messages.of(at, st["pos"] // ctx.s, y=ans)}, halt=True)


@dataclass(frozen=True, eq=False)
class HopResult:
    """An MPC hop run: the answer (-1 for ⊥), the layout and the counted run."""

    output: np.ndarray
    layout: HopLayout
    run: MPCRun

    def summary(self) -> dict[str, Any]:
        L = self.layout
        return {**self.run.summary(), "n": L.n, "k": L.k, "alphabet": L.alphabet, "positions_per_machine": L.c,
                "digit_base": L.base, "sort_passes": L.passes, "tree_depth": L.tree.depth,
                "doubling_rounds": L.doubling, "c": L.rounds - L.doubling, "rounds_formula": L.rounds}


def mpc_hop(x: Any, k: int, delta: float = 0.5, alphabet: int | None = None, *, seed: Seed = 0,
            audit: int | str = 1) -> HopResult:
    """``hop_k(x)`` of one sequence, computed as an MPC protocol (see the module docstring).

    Parameters
    ----------
    x : 1-D non-negative integer tokens.
    k : hops (>= 0).
    delta : memory exponent δ in (0, 1): ``s = SLOT_WORDS·⌈N^δ⌉`` words.
    alphabet : V, tokens in ``0..V-1`` (public; default ``max(x) + 1``).
    seed, audit : passed to :func:`~protocols.mpc.engine.run_mpc`.
    """
    a = np.asarray(x)
    if a.ndim != 1 or a.shape[0] < 1:
        raise MPCConfigError(f"x has shape {a.shape}; mpc_hop takes one sequence of N >= 1 tokens")
    if a.dtype.kind not in "iu":
        raise MPCConfigError(f"x has dtype {a.dtype}; tokens are non-negative integers")
    a = a.astype(np.int64, copy=False)  # read only (the spread narrows it): no copy of an int64 input
    if int(a.min()) < 0:
        raise MPCConfigError(f"token {int(a.min())} is negative; tokens are >= 0")
    V = int(a.max()) + 1 if alphabet is None else check_int("alphabet", alphabet, low=1, error=MPCConfigError)
    if int(a.max()) >= V:
        raise MPCConfigError(f"token {int(a.max())} is outside the alphabet 0..{V - 1}")
    L = hop_layout(a.shape[0], k, delta, V)
    run = run_mpc(HopProgram(L), {"x": distribute(a, L.s)}, machines=L.machines, s=L.s,
                  word_bits=L.word_bits, max_rounds=L.rounds, seed=seed, audit=audit)
    out = collect_output(run.memory["y"], L.n, L.s)
    return HopResult(out, L, run)


def mpc_hop_batch(xs: Any, k: int, delta: float = 0.5, alphabet: int | None = None, *, seed: Seed = 0,
                  audit: int | str = 1) -> tuple[list[np.ndarray], HopResult]:
    """``hop_k`` of several sequences (any lengths) as ONE MPC instance; returns each answer and the run.

    Sequence b's tokens are shifted by ``b·V`` before the sequences are
    concatenated, so no token of one sequence occurs in another and no ``find``
    crosses a boundary: the concatenation's answer, shifted back, is every
    sequence's answer.  The run is one protocol on ``ΣN`` positions over
    ``B·V`` symbols.

    Examples
    --------
    >>> ys, res = mpc_hop_batch([[1, 0, 1, 1], [2, 2, 0]], 1, alphabet=3)
    >>> [y.tolist() for y in ys], res.layout.n, res.layout.alphabet
    ([[-1, -1, 0, 1], [-1, 2, -1]], 7, 6)
    """
    seqs = [np.asarray(x) for x in xs]
    if not seqs or any(s.ndim != 1 or s.shape[0] < 1 or s.dtype.kind not in "iu" for s in seqs):
        raise MPCConfigError("xs must be a non-empty list of 1-D integer sequences of length >= 1")
    V = max(int(s.max()) for s in seqs) + 1 if alphabet is None else check_int("alphabet", alphabet, low=1,
                                                                                error=MPCConfigError)
    for s in seqs:
        if int(s.min()) < 0 or int(s.max()) >= V:
            raise MPCConfigError(f"a token {int(s.min()) if s.min() < 0 else int(s.max())} is outside 0..{V - 1}")
    shifted = np.concatenate([s.astype(np.int64) + b * V for b, s in enumerate(seqs)])
    res = mpc_hop(shifted, k, delta, len(seqs) * V, seed=seed, audit=audit)
    cuts = np.cumsum([s.shape[0] for s in seqs])[:-1]
    outs = [np.where(y >= 0, y - b * V, -1) for b, y in enumerate(np.split(res.output, cuts))]
    return outs, res
