"""The chase with disclosures and free hops, and its exact success (docs/definitions.md §10).

One machine behind ``sampling`` (accumulated sampling), ``nw-sampling`` (the
classic round-1 sampling) and ``last-layer-table``; they differ only in who
discloses, in which rounds and in what order.  In the hard order player P_j
holds E_j and each round the players speak P_k, ..., P_1.

**Disclosures.**  A disclosing P_j writes, before the chase reaches it, a
stream of items: the images E_j(u) (``ceil(log2 q)`` bits each) of the points u
of V_j taken in a public order — for P_k in the decision version only the
class of E_k(u), one bit.  The stream runs on across P_j's messages (an item
may straddle two), so after r messages ``n_j(r) = floor(r·e_j/d_j)`` items are
on the board (``e_j`` stream bits per message, ``d_j`` bits per item).

**The chase.**  The public start is v_1.  In round r the *hopper* — the holder
of the layer where the chase waits — writes the next vertex (P_k writes the
answer field: the class bit, or the vertex in the search version).  Without
help, P_r hops in round r and R = k-1 rounds end one hop short.  A **free hop**
is a chase vertex v_l whose image P_l has already disclosed: anyone reads it
off the board.  At the start of every round the first speaker P_k takes the
free hops available (at most ``cap = k - R`` of them, the number that can
matter, and never at layer k, which P_k hops itself) and writes how many it has
taken so far in a ``c = ceil(log2(cap+1))``-bit counter at the head of its
message; so every speaker finds the chase state in O(1) reads (a speaker keeps
nothing between turns) and a trial costs about its board.  With R = k-1 the
counter is one bit per round and one free hop anywhere before layer k means
certain success.

**The answer.**  The last speaker (P_1 in round R) follows the chase as far as
the board allows — the round-R hop, then free hops through every disclosure
made so far, including P_k's class bits — and writes the answer; if the chase
stops at layer k it guesses the majority class among the images P_k has not
disclosed, and earlier the majority class overall (ties: a private coin; the
search version: a uniformly random undisclosed image, or any vertex).

**Success, exactly.**  Under uniform independent matchings (any start, any
public order independent of the inputs) the chase vertices met are uniform
and independent of the disclosed sets, so each free-hop check at layer l
succeeds with probability ``n_l/q`` independently; the guess at layer k, with
``m = q - n_k`` undisclosed images of which A are in class 1 (A hypergeometric),
is right with probability ``E[max(A, m-A)]/m``.  :func:`predict_disclosure_chase`
evaluates the resulting recursion over (round, free hops taken) exactly.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from ..bits import UInt, bits_for
from ..engine import BoardView, Coins, Protocol
from ..problems.pointer_chasing import PointerChasing, _label_dtype, random_permutations
from .chase import answer_codec, index_rows, vertex_codec
from .one_hop import OneHopPerRound

__all__ = ["DisclosureChase", "predict_disclosure_chase", "guess_success", "lazy_read_bytes"]


@lru_cache(maxsize=4096)
def _shared_order(seed: int, q: int) -> tuple[np.ndarray, np.ndarray]:
    """One public order of V_j for the whole batch and its inverse (a pure function of the public coins)."""
    order = np.random.default_rng(seed).permutation(q).astype(_label_dtype(q))
    rank = np.empty(q, dtype=np.int64)
    rank[order] = np.arange(q)
    order.flags.writeable = rank.flags.writeable = False
    return order, rank


@lru_cache(maxsize=512)  # every layer of one run (a run reads them all, each many times)
def _own_orders(seed: int, batch: int, q: int) -> tuple[np.ndarray, np.ndarray]:
    """One public order of V_j per instance ``(B, q)`` and the inverses."""
    order = random_permutations(np.random.default_rng(seed), batch, q)
    rank = np.empty(order.shape, dtype=np.int32)
    np.put_along_axis(rank, order.astype(np.int64), np.arange(q, dtype=np.int32)[None, :], axis=1)
    order.flags.writeable = rank.flags.writeable = False
    return order, rank


def lazy_read_bytes(q: int, k: int, R: int, s: int) -> int:
    """Per trial, what a disclosure chase's reads of lazy layers add to them (docs/definitions.md §2.1).

    The column tables, 4 bytes per entry read (about the board's bits / L,
    L = ceil(log2 q)), and for every layer read more than half — P_k's class
    bits when (k-1)·s > q/2 — a materialised row with its scratch (~40·q bytes).

    Examples
    --------
    >>> lazy_read_bytes(65536, 64, 63, 300)  # no layer read past half: tables only
    302400
    """
    L = bits_for(q)
    dense = sum(1 for j in range(2, k + 1) if min(R, j - 1 if j < k else R) * s // (1 if j == k else L) > q // 2)
    return 4 * k * R * s // L + 40 * q * dense


def guess_success(q: int, ones: int, disclosed: int, version: str = "decision") -> float:
    """Chance the last speaker's guess is right when v_k is not among ``disclosed`` points of layer k.

    Decision: the majority class among the ``m = q - disclosed`` undisclosed
    images, of which ``A ~ Hypergeometric(q, ones, m)`` are in class 1; right
    with probability ``E[max(A, m-A)]/m`` (a tie is a fair coin, 1/2).
    Search: a uniform undisclosed image, ``1/m``.

    Examples
    --------
    >>> guess_success(4, 2, 0), guess_success(4, 2, 4)
    (0.5, 1.0)
    >>> round(guess_success(4, 2, 2), 4)  # classes of two undisclosed images: equal w.p. 1/3
    0.6667
    """
    m = q - disclosed
    if m <= 0:
        return 1.0
    if version == "search":
        return 1.0 / m
    from scipy.special import gammaln  # (scipy.stats.hypergeom's pmf takes seconds at q = 2^16)

    def log_choose(n, r):
        return gammaln(n + 1) - gammaln(r + 1) - gammaln(n - r + 1)

    a = np.arange(max(0, m - (q - ones)), min(m, ones) + 1)
    pmf = np.exp(log_choose(ones, a) + log_choose(q - ones, m - a) - log_choose(q, m))
    return float(np.sum(pmf * np.maximum(a, m - a)) / m)


def _decode(bits: np.ndarray) -> np.ndarray:
    """Big-endian ``(..., w)`` bits -> int64 (w <= 62; a dot product: cheaper than the codec on small reads)."""
    w = bits.shape[-1]
    return bits.astype(np.int64) @ (np.int64(1) << np.arange(w - 1, -1, -1, dtype=np.int64))


def _stream_items(r: int, e: int, d: int, q: int) -> int:
    """Items complete after r messages of e stream bits, d bits each (at most q)."""
    return min(q, (r * e) // d) if d else 0


class _Plan:
    """Everything about a disclosure chase that depends on (q, k, R, s) only."""

    def __init__(self, q, k, R, s, version, disclosers, accumulate):
        self.q, self.k, self.R, self.s = q, k, R, s
        self.L = bits_for(q)
        self.d = [0] + [self.L] * (k - 1) + [1 if version == "decision" else self.L]
        self.disclosers = frozenset(j for j in disclosers if 2 <= j <= k)
        free_below_k = any(j < k for j in self.disclosers)
        self.cap = max(0, k - R) if free_below_k else 0
        self.c = bits_for(self.cap + 1) if self.cap else 0
        self.e = [0] + [s] * (k - 1) + [s - self.c]
        # rounds in which P_j's messages carry its stream: before any round it may hop in
        self.rounds = [0] * (k + 1)
        for j in self.disclosers:
            last = R if j == k else min(R, j - 1)
            self.rounds[j] = last if accumulate else min(1, last)

    def items(self, j: int, r: int) -> int:
        """n_j(r): items P_j has disclosed in its messages of rounds 1..r."""
        if j not in self.disclosers:
            return 0
        return _stream_items(min(r, self.rounds[j]), self.e[j], self.d[j], self.q)


def predict_disclosure_chase(
    q: int, k: int, R: int, s: int, version: str = "decision", disclosers=None, accumulate: bool = True,
    ones: int | None = None,
) -> float:
    """Exact success of :class:`DisclosureChase` under uniform independent matchings (hard order).

    ``disclosers`` defaults to layers 2..k; ``ones`` is the size of class 1
    (default ``q // 2``, the classes ``2u >= q``).

    Examples
    --------
    >>> predict_disclosure_chase(64, 3, 3, 6)  # R = k: the plain chase, certain
    1.0
    >>> predict_disclosure_chase(64, 2, 1, 64, disclosers=[2])  # the whole class table in one message
    1.0
    """
    disclosers = range(2, k + 1) if disclosers is None else disclosers
    plan = _Plan(q, k, R, s, version, disclosers, accumulate)
    ones = q // 2 if ones is None else ones
    overall = 1.0 / q if version == "search" else max(ones, q - ones) / q
    # dist[a]: probability that a free hops were taken by the start of the current round
    dist = np.zeros(plan.cap + 1)
    dist[0] = 1.0
    for r in range(2, R + 1):
        nxt = np.zeros_like(dist)
        for a, p in enumerate(dist):
            if p == 0:
                continue
            pos = r + a
            while a < plan.cap and pos <= k - 1:
                f = plan.items(pos, r - 1) / q
                nxt[a] += p * (1 - f)
                p *= f
                a, pos = a + 1, pos + 1
                if p == 0:
                    break
            nxt[a] += p
        dist = nxt
    total = 0.0
    for a, p in enumerate(dist):
        pos = R + a + 1  # after the round-R hop
        if pos > k:
            total += p
            continue
        succ, reach = 0.0, 1.0
        for layer in range(pos, k):
            f = plan.items(layer, R) / q
            succ += reach * (1 - f) * overall
            reach *= f
        nk = plan.items(k, R)
        succ += reach * (nk / q + (1 - nk / q) * guess_success(q, ones, nk, version))
        total += p * succ
    return float(min(1.0, total))


class DisclosureChase(Protocol):
    """The chase with disclosures and free hops (see the module docstring).

    Parameters
    ----------
    problem : PointerChasing (hard order; in the easy order one round of hops
        suffices and the protocol is :class:`OneHopPerRound`).
    R, s : rounds and bits per message.
    name : the library name.
    disclosers : the layers whose holders disclose (2..k or a subset).
    accumulate : disclose in every round before the chase arrives (True) or in round 1 only.
    order : ``"random"`` (public random orders: one shared by the batch when the
        problem declares the hard distribution, else one per instance) or
        ``"natural"`` (0, 1, 2, ...).
    """

    def __init__(self, problem: PointerChasing, R: int, s: int, name: str, disclosers, accumulate=True,
                 order="random"):
        super().__init__(problem.k, R, s, name)
        k, q = problem.k, problem.q
        self.pc, self.order_kind, self.accumulate = problem, order, bool(accumulate)
        self.plan = plan = _Plan(q, k, self.R, self.s, problem.version, disclosers, accumulate)
        self.vcodec = vertex_codec(problem)
        self.acodec = answer_codec(problem)
        self._easy = OneHopPerRound(problem, self.R, self.s) if problem.order == "easy" else None
        writes_vertex = self.R >= 2 and k >= 2
        need = max(plan.c + plan.d[k] if k >= 2 else 0, plan.L if writes_vertex else self.acodec.width)
        if self.s < need:
            raise ValueError(
                f"{name} needs s >= {need} bits (a hop writes a vertex of ceil(log2 q) = {plan.L} bits; "
                f"P_k's messages start with a {plan.c}-bit free-hop counter); got s = {self.s}"
            )
        self.shared = problem.hard
        self._counter = UInt(plan.c)

    # -- schedule fixed in advance ------------------------------------------------
    def speaks(self, round: int, speaker: int) -> bool:
        if self._easy is not None:
            return self._easy.speaks(round, speaker)
        r, j, p = round + 1, self.pc.layer_of(speaker), self.plan
        if round * self.k + speaker == self.R * self.k - 1:
            return True
        may_hop = max(1, j - p.cap) <= r <= j
        return may_hop or r <= p.rounds[j] or (j == self.k and p.c > 0)

    def scratch_bytes(self) -> int:
        """Per-instance memory beyond the board (for :mod:`protocols.budget`): the per-instance public
        orders and their inverses of every layer, ``(q,)`` labels and int32 ranks each (none when shared),
        and on a lazy problem the entries it reads (:func:`lazy_read_bytes`)."""
        orders = 0
        if self.order_kind != "natural" and not self.shared:
            orders = self.k * self.pc.q * (_label_dtype(self.pc.q).itemsize + 4)
        return orders + (lazy_read_bytes(self.pc.q, self.k, self.R, self.s) if self.pc.lazy else 0)

    def __getstate__(self) -> dict:
        # a copy (one per speaker and run) starts without the seeds of whatever coins this object saw
        state = self.__dict__.copy()
        state.pop("_seeds", None)
        state.pop("_seeded_by", None)
        return state

    # -- public orders ------------------------------------------------------------
    def _orders(self, coins: Coins, j: int, batch: int) -> tuple[np.ndarray, np.ndarray]:
        """(order, rank) of layer j: ``(q,)`` shared, ``(B, q)`` per instance, or None for natural order."""
        if self.order_kind == "natural":
            return None, None
        seed = self._seeds[j - 1]  # drawn from the public coins at this speaker's first turn
        return _shared_order(seed, self.pc.q) if self.shared else _own_orders(seed, batch, self.pc.q)

    def _rank(self, coins, layers: np.ndarray, verts: np.ndarray, rows: np.ndarray, batch: int) -> np.ndarray:
        out = np.empty(verts.size, dtype=np.int64)
        for j in np.unique(layers):
            sel = layers == j
            _, rank = self._orders(coins, int(j), batch)
            if rank is None:
                out[sel] = verts[sel]
            elif rank.ndim == 1:
                out[sel] = rank[verts[sel]]
            else:
                out[sel] = rank[rows[sel], verts[sel]]
        return out

    # -- reading the board --------------------------------------------------------
    def _bits(self, board: BoardView, rows, rounds, speakers, offsets, width) -> np.ndarray:
        """The ``width``-bit number at offsets[i] of message (rounds[i], speakers[i]) of instance rows[i].

        Rounds are 0-based here."""
        msgs = board.messages()
        m = rounds * self.k + speakers
        return _decode(msgs[rows[:, None], m[:, None], offsets[:, None] + np.arange(width)])

    def _counter_at(self, board: BoardView, r: int) -> np.ndarray:
        """a_r: free hops taken by the start of round r (1-based), from P_k's round-r message."""
        B = board.batch
        if self.plan.c == 0 or r <= 1:
            return np.zeros(B, dtype=np.int64)
        return _decode(board.message(r - 1, 0)[:, : self.plan.c])

    def _item(self, board, j: int, rank: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """The disclosed item of rank ``rank`` of layer j (every row of ``rows``)."""
        p = self.plan
        d, e, hdr = p.d[j], p.e[j], (p.c if j == self.k else 0)
        start = rank * d
        rnd, off = start // e, start % e
        if d == 1 or e >= d and np.all(off + d <= e):
            return self._bits(board, rows, rnd, np.full(rows.size, self.k - j), hdr + off, d)
        # items straddling two messages: read bit by bit along the stream
        pos = start[:, None] + np.arange(d)
        msgs = board.messages()
        m = (pos // e) * self.k + (self.k - j)
        return _decode(msgs[rows[:, None], m, hdr + pos % e])

    def _hop_output(self, board, r: int, hopper: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """What the hopper of round r (layer ``hopper`` per row) wrote: v_{hopper+1}, or the answer if hopper = k."""
        k, p = self.k, self.plan
        out = np.empty(rows.size, dtype=np.int64)
        last = hopper == k
        for sel, off, w in ((~last, 0, p.L), (last, p.c, p.d[k])):
            if sel.any():
                out[sel] = self._bits(board, rows[sel], np.full(sel.sum(), r - 1), k - hopper[sel],
                                      np.full(sel.sum(), off), w)
        return out

    def _chain(self, board, coins, pos, v, a, r_items: int, limit: np.ndarray | None, stop: int):
        """Free hops: while pos <= stop (and a < limit), follow disclosed images counted after round r_items."""
        B = board.batch
        rows = np.arange(B)
        while True:
            live = pos <= stop
            if limit is not None:
                live &= a < limit
            if not live.any():
                return pos, v, a
            idx = np.flatnonzero(live)
            n = np.array([self.plan.items(int(j), r_items) for j in pos[idx]])
            rk = self._rank(coins, pos[idx], v[idx], rows[idx], B)
            free = rk < n
            if not free.any():
                return pos, v, a
            go = idx[free]
            for j in np.unique(pos[go]):
                g = go[pos[go] == j]
                v[g] = self._item(board, int(j), rk[free][pos[go] == j], g)
            pos[go] += 1
            a[go] += 1

    def _round_start(self, board, coins, r: int, a_now: np.ndarray | None):
        """Chase (pos, v, a) at the start of round r after its free hops; ``a_now`` None: take them (P_k)."""
        B, k = board.batch, self.k
        if r == 1:
            return np.ones(B, dtype=np.int64), board.public["start"].astype(np.int64), np.zeros(B, dtype=np.int64)
        a = self._counter_at(board, r - 1)
        hopper = (r - 1) + a
        pos = hopper + 1
        v = np.zeros(B, dtype=np.int64)
        act = hopper <= k
        if act.any():
            rows = np.flatnonzero(act)
            v[rows] = self._hop_output(board, r - 1, hopper[rows], rows)
        limit = np.full(B, self.plan.cap) if a_now is None else a_now
        pos, v, a = self._chain(board, coins, pos, v, a.copy(), r - 1, limit, k - 1)
        return pos, v, a

    # -- speaking -------------------------------------------------------------------
    def message(self, round: int, speaker: int, board: BoardView, own, coins: Coins) -> np.ndarray:
        if self._easy is not None:
            return self._easy.message(round, speaker, board, own, coins)
        B, k, p = board.batch, self.k, self.plan
        r, j = round + 1, self.pc.layer_of(speaker)
        if self.order_kind == "random" and getattr(self, "_seeded_by", None) is not coins:
            # the public coins are the same string every turn: draw the layers' order seeds once per
            # run and speaker (the engine hands a speaker one Coins object per run), not k per message
            self._seeds = coins.public.integers(0, 2**63, size=k).tolist()
            self._seeded_by = coins
        if round * k + speaker == self.R * k - 1:
            return self.acodec.encode(self._answer(board, own, coins, r, j))
        body = self._disclose(own, coins, j, r, B) if r <= p.rounds[j] else np.zeros((B, p.e[j]), np.uint8)
        if j < k and r < j - p.cap:  # the chase cannot be at layer j yet: a pure disclosure, no reading
            return body
        a_now = None if j == k else self._counter_at(board, r)
        pos, v, a = self._round_start(board, coins, r, a_now)
        head = self._counter.encode(a) if j == k and p.c else np.zeros((B, 0), np.uint8)
        hop = pos == j
        if hop.any():
            nxt = index_rows(own, v).astype(np.int64)
            if j == k:
                field = self.acodec.encode(self.pc.class_array[nxt] if self.pc.version == "decision" else nxt)
            else:
                field = self.vcodec.encode(nxt)
            body = np.array(body, dtype=np.uint8)
            body[hop] = 0
            body[hop, : field.shape[1]] = field[hop]
        return np.concatenate([head, body], axis=1)

    def _disclose(self, own, coins, j: int, r: int, B: int) -> np.ndarray:
        """P_j's stream bits for its round-r message: ``(B, e_j)``."""
        p, q = self.plan, self.pc.q
        d, e = p.d[j], p.e[j]
        lo, hi = (r - 1) * e, r * e
        r0, r1 = lo // d, min(q, -(-hi // d))
        out = np.zeros((B, e), dtype=np.uint8)
        if r0 >= r1:
            return out
        order, _ = self._orders(coins, j, B)
        if order is None:
            pts = np.broadcast_to(np.arange(r0, r1), (B, r1 - r0))
        elif order.ndim == 1:
            pts = np.broadcast_to(order[r0:r1].astype(np.int64), (B, r1 - r0))
        else:
            pts = order[:, r0:r1].astype(np.int64)
        images = index_rows(own, pts)
        if d == 1:
            bits = self.pc.class_array[images]
        else:
            bits = self.vcodec.encode(images).reshape(B, -1)
        seg = bits[:, lo - r0 * d : hi - r0 * d]
        out[:, : seg.shape[1]] = seg
        return out

    def _answer(self, board, own, coins, R: int, j: int) -> np.ndarray:
        """The last message: the answer where the board (and the last speaker's own layer) decide it, else a guess."""
        B, k, p = board.batch, self.k, self.plan
        rows = np.arange(B)
        a = self._counter_at(board, R)
        hopper = R + a
        pos, v = hopper + 1, np.zeros(B, dtype=np.int64)
        done_early = hopper > k
        if done_early.any():  # P_k hopped in round k - a and wrote the answer there
            g = np.flatnonzero(done_early)
            v[g] = self._bits(board, g, (k - a[g]) - 1, np.zeros(g.size, dtype=np.int64), np.full(g.size, p.c), p.d[k])
            pos[g] = k + 1
        mine = hopper == j  # the last speaker is this round's hopper (R = 1: P_1 hops last)
        if mine.any():
            _, v0, _ = self._round_start(board, coins, R, a)
            nxt = index_rows(own, v0).astype(np.int64)
            if j == k and self.pc.version == "decision":  # k = 1: the last speaker's own hop ends the chase
                nxt = self.pc.class_array[nxt].astype(np.int64)
            v[mine] = nxt[mine]
        other = (hopper <= k) & ~mine
        if other.any():
            g = np.flatnonzero(other)
            v[g] = self._hop_output(board, R, hopper[g], g)
        pos, v, _ = self._chain(board, coins, pos, v, np.zeros(B, dtype=np.int64), R, None, k)
        done = pos == k + 1
        if self.pc.version == "decision":
            v = np.where(done, v, 0)
        if done.all():
            return v
        return np.where(done, v, self._guess(board, coins, pos, R, rows))

    def _guess(self, board, coins, pos, R, rows) -> np.ndarray:
        B, k, q = board.batch, self.k, self.pc.q
        n = self.plan.items(k, R)
        rng = coins.private
        items = np.zeros((B, 0), dtype=np.int64)
        if n:
            ranks = np.broadcast_to(np.arange(n), (B, n)).reshape(-1)
            items = self._item(board, k, ranks, np.repeat(rows, n)).reshape(B, n)
        at_k = pos == k
        # only rows still at layer k use the items; where P_k already hopped, its hop field
        # overwrote the disclosure, so those rows hold arbitrary bits (possibly >= q)
        items = np.where(at_k[:, None], items, 0)
        if self.pc.version == "search":
            seen = np.zeros((B, q), dtype=bool)
            np.put_along_axis(seen, items, True, axis=1)
            keys = np.where(seen & at_k[:, None], -1.0, rng.random((B, q)))
            return keys.argmax(axis=1)
        total = int(self.pc.class_array.sum())
        ones = np.where(at_k, total - items.sum(axis=1), total)
        zeros = np.where(at_k, (q - n) - (total - items.sum(axis=1)), q - total)
        coin = rng.integers(0, 2, B)
        return np.where(ones > zeros, 1, np.where(ones < zeros, 0, coin))

    def output(self, last: np.ndarray) -> np.ndarray:
        return self.acodec.decode(last[:, : self.acodec.width])

    def predict(self) -> float:
        """The exact success of this protocol under uniform matchings (:func:`predict_disclosure_chase`)."""
        if self._easy is not None or self.R >= self.k:
            return 1.0
        return predict_disclosure_chase(
            self.pc.q, self.k, self.R, self.s, self.pc.version, self.plan.disclosers, self.accumulate,
            int(self.pc.class_array.sum()),
        )
