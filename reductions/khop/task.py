"""The k-hop induction heads task: ``find^k`` and ``hop_k`` (docs/definitions.md §3; [SHT24] Def. 4.1).

Array form, 0-based: for a sequence ``x[0..N-1]``

    find(i)     = max{ j : 1 <= j <= i, x[j-1] == x[i] }, or -1 (⊥) if there is none,
    find^k      = find ∘ ... ∘ find (k times), ⊥ absorbing, find^0 = identity,
    hop_k(x)[i] = x[find^k(i)], or -1 (⊥).

In words: jump to the token right after the most recent earlier occurrence of
the current token, k times.  Equal neighbours are fixed points
(``x[i-1] == x[i]`` gives ``find(i) = i``).

How it is computed.  ``find^1`` is "previous occurrence of the same token, plus
one".  The previous occurrence comes from grouping positions by token with a
stable order — the one pass over the data that depends on the alphabet — and
the method is chosen by the span of the labels and the length M: one
``flatnonzero`` pass per token (a counting sort) for spans <= 8, chunks of
2^16 positions sorted in cache against a dense last-occurrence table up to
2^16, one sort of packed ``token << bits(M) | position`` keys while they fit
64 bits, and LSD radix passes on 16-bit digits beyond (labels up to 2^64);
inside a group each position's predecessor is its previous occurrence.
``find^k`` is then pointer doubling, ``O(N log k)``:
``f^(2^t)`` by squaring and ``f^k`` by the binary digits of k.  Labels so
spread out that few positions repeat one (e.g. 2^32 labels) take a sparse
path: ``find`` is kept only where it is defined and its powers compose by
binary search (:func:`_sparse_find_power`).
Everything is done on one flat array for the whole
batch with global positions shifted by one, so index 0 is a sentinel for ⊥
that maps to itself and ⊥ stays absorbing without any masking.

Speed.  The doubling is random reads: each squaring reads ``f^(2^t)`` about
``2^t`` label recurrences behind the position it writes, so with many labels
the reads leave the caches.  Large position maps are int32 (half the bytes
to miss on), and far reads are preceded by a sequential sweep over the
slice they land in (:func:`_gather_blocks`).  Inputs of 2^20 positions or
more are split across threads (numpy releases the GIL in its sorts and
gathers): :func:`threads`, by default the cores this process may use.

:func:`find_naive` and :func:`hop_naive` beside the fast path are the literal
definition, position by position: the reference every test compares with.

Examples
--------
>>> hop("baebcabebdea", 1)[-1], hop("baebcabebdea", 2)[-1]
('b', 'c')
>>> find([2, 0, 2, 1, 2], 1).tolist()
[-1, -1, 1, -1, 3]
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from protocols.validation import check_int
from reductions.errors import ReductionsError

__all__ = ["find", "hop", "find_naive", "hop_naive", "threads", "THREADS_ENV", "BOTTOM", "HopInputError"]

#: How ⊥ is shown for string inputs (integer outputs use -1).
BOTTOM = "⊥"

#: Alphabets spanning at most this many values use one flatnonzero pass per
#: token (a counting sort); wider ones a stable radix argsort.  Measured at
#: N = 10^7: ~17 ms per token versus ~200 ms for the argsort path.
_COUNTING_MAX = 8

#: Spans up to this many labels are grouped chunk by chunk against a dense
#: "last occurrence" table (:func:`_find1_table`); the packed chunk keys
#: ``label << 16 | offset`` must fit 32 bits, hence 2^16 both here and in
#: :data:`_CHUNK`.
_TABLE_MAX = 2**16

#: Positions per chunk of :func:`_find1_table` (<= 2^16 so a chunk offset
#: takes 16 bits).  A chunk's keys (256 KB) stay in L2 while they are sorted.
_CHUNK = 2**16


class HopInputError(ReductionsError):
    """A sequence or hop count that ``find``/``hop`` cannot take (names the value and the rule)."""


# ---------------------------------------------------------------- validation
def _check_k(k: Any) -> int:
    return check_int("k", k, low=0, error=HopInputError)


def _as_tokens(x: Any) -> np.ndarray:
    """Integer tokens ``(..., N)``, validated: integer dtype, >= 0, at least 1-D."""
    a = np.asarray(x)
    if a.ndim == 0:
        raise HopInputError(
            f"got a scalar {a.item()!r}; a sequence needs a positions axis (last axis)"
        )
    if a.dtype.kind == "b" or a.dtype.kind not in "iu":
        if a.size == 0 and a.dtype.kind == "f":  # np.asarray([]) is float64
            return a.astype(np.int64)
        raise HopInputError(f"tokens have dtype {a.dtype}; tokens are non-negative integers")
    if a.dtype.kind == "i" and a.size and a.min() < 0:
        raise HopInputError(
            f"token {a.min()} is negative; tokens are >= 0 (-1 is reserved for ⊥ in the output)"
        )
    return a


def _index_dtype(n: int) -> np.dtype:
    """Storage for positions ``0..n-1``: intp up to :data:`_NARROW_MIN`, then int32 while they fit.

    numpy gathers only with intp indices (any other index array is converted
    to a fresh intp copy first), so small maps stay intp and are gathered
    directly.  Large ones are int32: half the memory, and half the bytes to
    miss on in the far reads that dominate the doubling; :func:`_gather_blocks`
    converts their indices a block at a time, in cache.
    """
    return np.dtype(np.int32 if _NARROW_MIN <= n <= 2**31 - 1 else np.intp)


#: Position maps of at least this many entries are stored as int32 (:func:`_index_dtype`).
_NARROW_MIN = 2**22


#: Positions per block of :func:`_gather_blocks` (its intp index block, 512 KB, stays in L2).
_BLOCK = 2**16

#: Inputs of at least this many positions are split across threads (numpy
#: releases the GIL in its gathers and sorts); below, a thread costs more than it saves.
_PARALLEL_MIN = 2**20

#: The environment variable that caps the threads of one call (default: the usable cores).
THREADS_ENV = "KPARTY_THREADS"


def threads() -> int:
    """Threads per call of :func:`find` / :func:`hop` on large inputs: ``$KPARTY_THREADS`` if set
    (an integer >= 1), else the cores this process may use.

    Raises
    ------
    HopInputError
        The variable is set to anything but an integer >= 1.

    Examples
    --------
    >>> threads() >= 1
    True
    """
    raw = os.environ.get(THREADS_ENV)
    if raw is None:
        return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    try:
        n = int(raw)
    except ValueError:
        n = 0
    if n < 1:
        raise HopInputError(f"${THREADS_ENV}={raw!r}: the number of threads is an integer >= 1")
    return n


def _in_threads(n: int, part: Callable[[int, int], None]) -> None:
    """``part(t, T)`` for ``t`` in ``range(T)``, one thread each, ``T`` chosen for ``n`` positions.

    A fresh pool per call: a pool kept across calls would have no threads in a forked child.
    """
    T = min(threads(), max(1, n // _PARALLEL_MIN))
    if T == 1:
        part(0, 1)
        return
    with ThreadPoolExecutor(T) as pool:
        for f in [pool.submit(part, t, T) for t in range(T)]:
            f.result()


#: Positions per tile of :func:`_gather_blocks`.
_TILE = 2**18

#: Reads landing at least this many bytes behind the position they serve (the
#: median, sampled) are "far": the slice they fall in was last touched long ago.
_FAR_BYTES = 2**21


def _reach(Q: np.ndarray, itemsize: int) -> tuple[int, int] | None:
    """Where the reads ``src[Q[i]]`` land: ``(D, W)`` = median distance behind ``i`` and a
    half-width holding 96% of them, from ~4096 evenly spaced samples; None when they are near
    (or mostly ⊥ = 0)."""
    step = max(1, Q.size // 4096)
    q = Q[::step].astype(np.intp)
    d = np.arange(0, Q.size, step)[:q.size] - q
    d = d[q > 0]
    if d.size < 64:
        return None
    d.sort()
    lo, mid, hi = (int(d[int(f * (d.size - 1))]) for f in (0.02, 0.5, 0.98))
    if mid * itemsize < _FAR_BYTES:
        return None
    return mid, (hi - lo) // 2 + 1


def _gather_blocks(src: np.ndarray, Q: np.ndarray, body: Callable[[np.ndarray, int, int], None]) -> None:
    """``body(ix, a, b)`` with ``ix = Q[a:b]`` as intp, over ``Q`` in ascending tiles.

    numpy converts non-intp indices to intp before a gather; for an int32
    ``Q`` that is done here a block at a time, in cache (an intp ``Q`` goes
    as it is).  Ascending matters: measured at N = 10^7, the same blocks
    taken from the last down cost 2-3x more.  When the reads into a source
    too big for the cache are far (:func:`_reach`), each tile first touches the slice of
    ``src`` its reads fall in, one element per cache line: a sequential sweep
    the hardware streams, after which the random reads hit the cache.  Threads
    take the tiles in turn, so they read from one slice, not one each.
    Measured at N = 10^7 over 2^16 labels: the far squarings and the token
    read cost 25-50% less; near reads are left alone, where a sweep is a loss.
    """
    reach = _reach(Q, src.itemsize) if src.nbytes > 8 * _FAR_BYTES else None  # else it stays in cache
    stride = max(1, 64 // src.itemsize)
    direct = Q.dtype == np.intp  # already what numpy gathers with: no copy

    def part(t: int, T: int) -> None:
        idx = None if direct else np.empty(min(_BLOCK, Q.size), dtype=np.intp)
        for t0 in range(t * _TILE, Q.size, T * _TILE):
            t1 = min(t0 + _TILE, Q.size)
            if reach is not None:
                D, W = reach
                r0, r1 = max(0, t0 - D - W), min(src.size, t1 - D + W)
                if r1 > r0:
                    src[r0:r1:stride].max()
            if idx is None:
                body(Q[t0:t1], t0, t1)
                continue
            for a in range(t0, t1, _BLOCK):
                b = min(a + _BLOCK, t1)
                ix = idx[:b - a]
                ix[...] = Q[a:b]
                body(ix, a, b)

    _in_threads(Q.size, part)


def _compose(P: np.ndarray, Q: np.ndarray, out: np.ndarray) -> None:
    """``out[i] = P[Q[i]]``; ``out`` may be ``Q`` but not ``P``.

    All indices are in range by construction (``mode="clip"`` skips the bounds checks).
    """
    _gather_blocks(P, Q, lambda ix, a, b: np.take(P, ix, mode="clip", out=out[a:b]))


# ------------------------------------------------------------- find^1, flat
def _find1_shifted(x2: np.ndarray, bounds: tuple[int, int] | None = None) -> np.ndarray:
    """``G`` of length ``B*N + 1``: ``G[0] = 0`` (⊥), ``G[1+g] = find(g) + 1`` (global positions).

    ``x2`` is ``(B, N)`` non-negative integers, C-contiguous, ``B*N >= 1``.
    Global position ``g = b*N + i``; ⊥ is stored as 0, so ``G[G]`` composes
    with ⊥ absorbing and all indices in range.
    """
    B, N = x2.shape
    M = B * N
    dt = _index_dtype(M + 1)
    G = np.empty(M + 1, dtype=dt)
    G[0] = 0
    Gv = G[1:]
    lo, hi = _bounds(x2) if bounds is None else bounds
    span = hi - lo + 1
    if span <= _COUNTING_MAX:
        # Treat the batch as one long sequence, then cut the links that cross
        # into an earlier row (cheaper than a row test per token).
        xf = x2.reshape(-1)
        for a in range(lo, hi + 1):
            idx = np.flatnonzero(xf == a)
            if idx.size == 0:
                continue
            Gv[idx[0]] = 0
            # find(cur) = prev + 1, shifted by one more for the ⊥ sentinel
            Gv[idx[1:]] = (idx[:-1] + 2).astype(dt, copy=False)
        if B > 1:
            _cut_rows(Gv, B, N, dt)
        return G

    if span <= _TABLE_MAX:
        _find1_table(x2.reshape(-1), lo, span, Gv)
        if B > 1:
            _cut_rows(Gv, B, N, dt)
        return G
    order, heads = _grouped(x2.reshape(-1), lo, span, np.dtype(np.intp))  # intp: scatter indices
    # in the grouped order each position's predecessor is its previous occurrence;
    # find(cur) = prev + 1, shifted by one more for the ⊥ sentinel; a group's head has none.
    if 2 * heads.size > M:
        # Mostly distinct labels (e.g. 2^32 uniform labels): a random scatter of every
        # position costs more than zeroing G sequentially and scattering the repeats only.
        Gv[:] = 0
        rep = np.ones(M, dtype=bool)
        rep[heads] = False
        rep[0] = False
        at = np.flatnonzero(rep)
        Gv[order[at]] = order[at - 1] + 2
    else:
        # Built in the grouped order (sequential writes), then ONE scatter to the positions.
        vals = np.empty(M, dtype=dt)
        np.add(order[:-1], dt.type(2), out=vals[1:])
        vals[heads] = 0
        Gv[order] = vals
    if B > 1:
        _cut_rows(Gv, B, N, dt)
    return G


def _find1_table(xf: np.ndarray, lo: int, span: int, Gv: np.ndarray) -> None:
    """``Gv[g] = find(g) + 1`` (0 for ⊥) for labels spanning ``<= 2^16`` values, chunk by chunk.

    Why chunks: one global sort of 10^7 positions and its random scatter
    cost several times the gathers that follow.  Here each chunk of
    :data:`_CHUNK` positions is grouped by sorting its packed 32-bit keys
    ``(label - lo) << 16 | offset`` while they sit in cache (the keys are
    distinct, so the sort is stable by construction); inside a group the
    predecessor is the previous occurrence, and a group's head looks up the
    label's last occurrence in earlier chunks in a dense table of ``span``
    entries, updated with the group's tail.  Every write stays inside the
    chunk.  Large inputs are cut into one contiguous span per thread
    (:func:`_in_threads`), each with a table of its own, and stitched after.
    """
    M = xf.size
    spans: list[tuple[int, int, np.ndarray]] = []

    def part(t: int, T: int) -> None:  # contiguous spans, cut at chunk borders
        def cut(u: int) -> int:
            return M if u == T else M * u // T // _CHUNK * _CHUNK

        start, stop = cut(t), cut(t + 1)
        if start < stop:
            spans.append((start, stop, _find1_table_span(xf, lo, span, Gv, start, stop)))

    _in_threads(M, part)
    # Each span began with an empty table, so a label's first occurrence in a span
    # (and only that: every other position has find + 1 >= 2) reads 0 there; it is
    # looked up in the tables of the spans before.  Later spans hold later
    # positions, so the latest occurrence is the maximum.
    spans.sort(key=lambda e: e[0])
    prior = spans[0][2]
    for start, stop, last in spans[1:]:
        seg = Gv[start:stop]
        orphans = np.flatnonzero(seg == 0)
        seg[orphans] = prior[xf[start + orphans] - lo]
        np.maximum(prior, last, out=prior)


def _find1_table_span(xf: np.ndarray, lo: int, span: int, Gv: np.ndarray, start: int, stop: int) -> np.ndarray:
    """:func:`_find1_table` on positions ``start..stop-1`` alone; returns its last-occurrence table.

    The table holds, per label, its last position so far + 2 (0 = none yet):
    the value ``Gv`` takes at the label's next occurrence.  Every index array
    is intp (numpy converts any other to intp first: measured 2x on the scatter).
    """
    C = min(_CHUNK, stop - start)
    last = np.zeros(span, dtype=Gv.dtype)
    offsets = np.arange(C, dtype=np.uint32)
    sixteen = np.uint32(16)
    key = np.empty(C, dtype=np.uint32)
    pos = np.empty(C, dtype=np.intp)
    vals = np.empty(C, dtype=Gv.dtype)
    starts = np.empty(C, dtype=bool)
    starts[0] = True
    for a in range(start, stop, C):
        chunk = xf[a:min(a + C, stop)]
        n = chunk.size
        kk = key[:n]
        if lo:
            np.subtract(chunk, lo, out=kk, casting="unsafe")  # labels - lo < 2^16: exact
        else:
            kk[...] = chunk
        kk <<= sixteen
        kk |= offsets[:n]
        kk.sort()
        p = pos[:n]
        np.bitwise_and(kk, np.uint32(0xFFFF), out=p, casting="unsafe")
        p += a  # global positions, in grouped order
        kk >>= sixteen  # the labels, sorted
        v = vals[:n]
        np.add(p[:-1], 2, out=v[1:], casting="unsafe")  # find = previous occurrence + 1, +1 more for the ⊥ sentinel
        st = starts[:n]
        np.not_equal(kk[1:], kk[:-1], out=st[1:])
        heads = np.flatnonzero(st)  # where each label's group starts
        labels = np.take(kk, heads).astype(np.intp)
        v[heads] = np.take(last, labels)  # a group's head: the label's last occurrence in an earlier chunk
        Gv[p] = v  # positions a..a+n-1: a scatter within the chunk
        ends = heads - 1  # each group ends before the next begins; the last group at n - 1
        ends[:-1] = ends[1:]
        ends[-1] = n - 1
        tail = np.take(p, ends)
        tail += 2
        last[labels] = tail
    return last


def _cut_rows(Gv: np.ndarray, B: int, N: int, dt: np.dtype) -> None:
    """Cut the links into earlier rows (the batch was grouped as one long sequence)."""
    Gv2 = Gv.reshape(B, N)
    # a link into row b-1 or earlier lands at or before the row's start
    np.copyto(Gv2, 0, where=Gv2 <= (np.arange(B, dtype=dt) * N + 1)[:, None])


def _grouped(xf: np.ndarray, lo: int, span: int, dt: np.dtype) -> tuple[np.ndarray, np.ndarray]:
    """Positions grouped by token, ties by position (``order``, dtype ``dt``), and where each group starts.

    The method follows the alphabet's span and the length M (measured at
    M = 10^7, see tests/benchmarks/test_hop_bench.py):

    * span <= 2^8: numpy's radix argsort on one byte; group starts from a bincount.
    * ``bits(span) + bits(M) <= 64``: one in-place sort of the packed keys
      ``token << bits(M) | position`` (unique keys, so any sort is stable here;
      numpy's vectorised quicksort is several times faster than an argsort).
    * wider labels (up to 2^64): LSD radix on 16-bit digits, one stable argsort
      per digit that is not constant, least significant first.
    """
    M = xf.size
    if span <= 2**8:
        t = (xf - np.asarray(lo, dtype=xf.dtype) if lo else xf).astype(np.uint8, copy=False)
        order = np.argsort(t, kind="stable").astype(dt, copy=False)
        counts = np.bincount(t, minlength=span)
        return order, (np.cumsum(counts) - counts)[counts > 0]
    t = xf.astype(np.uint64, copy=False) - np.uint64(lo)  # wraps only for int64 < 0: excluded
    b = max(1, (M - 1).bit_length())
    if (span - 1).bit_length() + b <= 64:
        key = (t << np.uint64(b)) | np.arange(M, dtype=np.uint64)
        key.sort()
        order = (key & np.uint64((1 << b) - 1)).astype(dt)
        key >>= np.uint64(b)  # the tokens, sorted
        sorted_tokens = key
    else:
        order = np.arange(M, dtype=dt)
        for shift in range(0, (span - 1).bit_length(), 16):
            digit = ((np.take(t, order) >> np.uint64(shift)) & np.uint64(0xFFFF)).astype(np.uint16)
            if digit.min() == digit.max():
                continue  # a constant digit does not reorder anything
            order = np.take(order, np.argsort(digit, kind="stable"))
        sorted_tokens = np.take(t, order)
    heads = np.flatnonzero(sorted_tokens[1:] != sorted_tokens[:-1]) + 1
    return order, np.concatenate([np.zeros(1, dtype=heads.dtype), heads])


def _power(G: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray | None]:
    """``G^k`` by repeated squaring (``k >= 1``), and an array like ``G`` no longer needed (or None).

    floor(log2 k) + popcount(k) - 1 compositions; powers of one map commute,
    so their order is free.  ``G`` is ours (fresh from :func:`_find1_shifted`):
    it and one spare take turns holding the squares, and a third array is
    needed only when k is not a power of two.  The caller may write its
    output into the free array (fresh memory costs page faults).
    """
    P, spare, result = G, None, None
    while True:
        if k & 1:
            if result is None:
                if k == 1:  # the top bit and nothing before it: P itself is the answer
                    return P, spare
                result = P.copy()
            else:
                _compose(P, result, result)
        k >>= 1
        if not k:
            return result, P
        if spare is None:
            spare = np.empty_like(G)
        _compose(P, P, spare)
        P, spare = spare, P


def _bounds(x2: np.ndarray) -> tuple[int, int]:
    """The least and greatest label (two passes over the input: computed once per call of find/hop)."""
    return int(x2.min()), int(x2.max())


def _find_power_shifted(x2: np.ndarray, k: int, bounds: tuple[int, int]) -> tuple[np.ndarray, np.ndarray | None]:
    """``find^k`` (``k >= 1``) of every global position, shifted by one (0 = ⊥), length ``B*N + 1``;
    and a free array of the same size and dtype, if one is left over."""
    return _power(_find1_shifted(x2, bounds), k)


def _tokens_at(xf: np.ndarray, pos: np.ndarray, out: np.ndarray, scratch: np.ndarray | None) -> None:
    """``out[i] = xf[pos[i + 1] - 1]``, or -1 where ``pos[i + 1] == 0`` (⊥); ``out`` is not ``pos``.

    ``scratch``, an array nobody needs any more, holds the extended copy of
    ``xf`` when it is big enough (fresh memory costs page faults).
    """
    need = (xf.size + 1) * out.itemsize
    if scratch is not None and scratch.nbytes >= need:
        ext = scratch.reshape(-1).view(np.uint8)[:need].view(out.dtype)
    else:
        ext = np.empty(xf.size + 1, dtype=out.dtype)
    # ext[p] = xf[p - 1], ext[0] = ⊥: the read is a plain gather
    ext[0] = -1
    ext[1:] = xf
    _gather_blocks(ext, pos[1:], lambda ix, a, b: np.take(ext, ix, mode="clip", out=out[a:b]))


# ------------------------------------------------- mostly distinct labels
#: Inputs shorter than this always take the dense path (the sparse one only pays off at scale).
_SPARSE_MIN = 2**16

#: The sparse path is taken when at most 1/_SPARSE_SHARE of the positions repeat an earlier label.
_SPARSE_SHARE = 16


def _sparse_find_power(x2: np.ndarray, k: int, bounds: tuple[int, int]) -> tuple[np.ndarray, np.ndarray] | None:
    """``find^k`` as (positions where it is defined, its values), global and sorted, when few
    positions repeat a label; None otherwise (the dense path is then cheaper).

    With labels drawn from a span much wider than the input (e.g. 2^32 labels,
    N = 10^7), ``find`` is ⊥ almost everywhere, and so is every power of it:
    ``find(i)`` is defined only on the set S of positions whose label occurred
    before in the row.  Then one in-cache sort of the labels finds the repeated
    labels, a hashed bitmap and a binary search the positions that carry them,
    and ``find`` is a map on S alone; its powers compose by binary search on S
    (``find^2(s)`` is defined iff ``find(s)`` lies in S), so no pass over all N
    positions beyond the sort and the bitmap lookup; the caller writes the
    output in one more.
    """
    B, N = x2.shape
    M = B * N
    if M < _SPARSE_MIN:
        return None
    xf = x2.reshape(-1)
    lo, hi = bounds
    if hi - lo + 1 < 8 * _SPARSE_SHARE * M:  # too narrow a span for the repeats to be rare
        return None
    srt = np.sort(xf)
    again = srt[1:] == srt[:-1]
    if np.count_nonzero(again) * _SPARSE_SHARE > M:
        return None
    rep = srt[1:][again]
    rep = rep[np.concatenate([[True], rep[1:] != rep[:-1]])] if rep.size else rep  # each repeated label once
    if not rep.size:
        return np.empty(0, np.intp), np.empty(0, np.intp)
    # positions carrying a repeated label: a multiplicative-hash bitmap (a few false hits), then exact
    u = np.uint64 if xf.dtype.itemsize > 4 else np.uint32
    width = 64 if u is np.uint64 else 32
    bits = min(max(16, int(rep.size * 64).bit_length()), 28)  # <= 1/64 of the table set: few false hits
    mult, shift = u(0x9E3779B97F4A7C15 & ((1 << width) - 1)), u(width - bits)

    def h(v: np.ndarray) -> np.ndarray:
        with np.errstate(over="ignore"):  # the multiply wraps on purpose
            return (v.astype(u, copy=False) * mult) >> shift

    table = np.zeros(1 << bits, dtype=bool)
    table[h(rep)] = True
    cand = np.flatnonzero(table[h(xf)])
    if cand.size * 4 > M:  # labels that defeat the hash: the dense path is cheaper
        return None
    vals = xf[cand]
    at = np.minimum(np.searchsorted(rep, vals), rep.size - 1)
    pos = cand[rep[at] == vals]
    # find on S: in each label's group (stable: by position), a position's predecessor, same row only
    at_pos = xf[pos]
    order = np.argsort(at_pos, kind="stable")
    grouped, labels = pos[order], at_pos[order]
    has_prev = np.zeros(grouped.size, dtype=bool)
    has_prev[1:] = (labels[1:] == labels[:-1]) & (grouped[1:] // N == grouped[:-1] // N)
    keys = grouped[has_prev]
    prev = grouped[np.flatnonzero(has_prev) - 1]
    srt_keys = np.argsort(keys)
    F = (keys[srt_keys], prev[srt_keys] + 1)  # find(s) = previous occurrence + 1
    return _sparse_power(F, k)


def _sparse_compose(a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray]):
    """``a ∘ b`` for maps given as (sorted keys, values), ⊥ (missing) absorbing."""
    ka, va = a
    kb, vb = b
    if not ka.size or not kb.size:
        return kb[:0], vb[:0]
    at = np.minimum(np.searchsorted(ka, vb), ka.size - 1)
    hit = ka[at] == vb
    return kb[hit], va[at[hit]]


def _sparse_power(F: tuple[np.ndarray, np.ndarray], k: int) -> tuple[np.ndarray, np.ndarray]:
    """``F^k`` (k >= 1) by repeated squaring, as :func:`_power` does for dense maps."""
    result = None
    while True:
        if k & 1:
            result = F if result is None else _sparse_compose(F, result)
        k >>= 1
        if not k:
            return result
        F = _sparse_compose(F, F)


# --------------------------------------------------------------- public API
def _symbols(x: Any) -> tuple[np.ndarray, Any] | None:
    """Map a str / sequence of str to integer tokens; return (tokens, decoder) or None."""
    if isinstance(x, str):
        codes = np.frombuffer(x.encode("utf-32-le"), dtype=np.uint32).astype(np.int64)

        def back(v: np.ndarray) -> str:
            return "".join(BOTTOM if c < 0 else chr(c) for c in v.tolist())

        return codes, back
    if isinstance(x, (list, tuple)) and x and all(isinstance(s, str) for s in x):
        uniq, inv = np.unique(np.asarray(x, dtype=object).astype(str), return_inverse=True)
        uniq = uniq.tolist()

        def back_list(v: np.ndarray) -> list[str]:
            return [BOTTOM if c < 0 else uniq[c] for c in v.tolist()]

        return inv.reshape(-1).astype(np.int64), back_list
    return None


def _signed(x2: np.ndarray) -> np.dtype:
    """The narrowest signed dtype holding the tokens and ⊥ = -1."""
    dt = np.promote_types(x2.dtype, np.int8)
    if dt.kind == "f":  # uint64 has no signed superset
        if x2.size and int(x2.max()) > np.iinfo(np.int64).max:
            raise HopInputError(f"token {int(x2.max())} does not fit int64 beside ⊥ = -1")
        dt = np.dtype(np.int64)
    return dt


def _prepare(x: Any) -> tuple[np.ndarray, tuple[int, ...]]:
    a = _as_tokens(x)
    shape = a.shape
    x2 = np.ascontiguousarray(a.reshape(int(np.prod(shape[:-1], dtype=np.int64)), shape[-1]))
    return x2, shape


def find(x: Any, k: int = 1) -> np.ndarray:
    """``find^k`` at every position (docs/definitions.md §3): a position, or -1 for ⊥.

    Parameters
    ----------
    x : array-like of non-negative ints ``(..., N)`` (last axis = positions,
        any leading batch axes), or a ``str`` / list of ``str`` symbols.
    k : number of hops, >= 0 (``find^0`` is the identity).

    Returns
    -------
    numpy.ndarray
        Same shape as ``x``; int32 positions (int64 beyond 2^31 positions),
        -1 where ``find^k`` is ⊥.

    Raises
    ------
    HopInputError
        Negative tokens (-1 is ⊥), non-integer tokens, a scalar, or a bad k.

    Examples
    --------
    >>> find("baebcabebdea", 1).tolist()
    [-1, -1, -1, 1, -1, 2, 4, 3, 7, -1, 8, 6]
    >>> find([[1, 1, 0], [0, 1, 0]], 2).tolist()
    [[-1, 1, -1], [-1, -1, -1]]
    >>> find([5, 5, 5], 0).tolist()
    [0, 1, 2]
    """
    k = _check_k(k)
    threads()  # a bad $KPARTY_THREADS is refused on every call, not only on large ones
    sym = _symbols(x)
    if sym is not None:
        return find(sym[0], k)
    x2, shape = _prepare(x)
    B, N = x2.shape
    if x2.size == 0:
        return np.empty(shape, dtype=np.int32)
    if k == 0:
        return np.broadcast_to(np.arange(N, dtype=np.int32 if N < 2**31 - 1 else np.int64), shape).copy()
    # returned as int32 while positions fit
    odt = np.dtype(np.int32 if N < 2**31 - 1 else np.int64)
    bounds = _bounds(x2)
    sparse = _sparse_find_power(x2, k, bounds)
    if sparse is not None:
        at, to = sparse
        out = np.full(x2.size, -1, dtype=odt)
        out[at] = to - (at // N) * N  # global -> local
        return out.reshape(shape)
    pos = _find_power_shifted(x2, k, bounds)[0][1:].reshape(B, N)
    # global+1 -> local: subtract the row's start (and the shift); ⊥ (0) -> -1
    if B == 1:
        pos -= 1  # pos is ours
        out = pos.astype(odt, copy=False)
    else:
        base = (np.arange(B, dtype=pos.dtype) * N + 1)[:, None]
        out = np.where(pos > 0, pos - base, -1).astype(odt, copy=False)
    return out.reshape(shape)


def hop(x: Any, k: int) -> Any:
    """``hop_k`` at every position (docs/definitions.md §3): the token at ``find^k(i)``, or ⊥.

    Parameters
    ----------
    x : array-like of non-negative ints ``(..., N)`` (any leading batch axes),
        a ``str`` (each character a token), or a list of ``str`` symbols.
    k : number of hops, >= 0 (``hop_0`` is the identity).

    Returns
    -------
    numpy.ndarray, str or list
        For integer input, an array of the same shape with -1 for ⊥ (a signed
        dtype wide enough for the tokens).  For a ``str``, a ``str`` of the same
        length with ``'⊥'``; for a list of symbols, a list with ``'⊥'``.

    Examples
    --------
    >>> hop("baebcabebdea", 1)
    '⊥⊥⊥a⊥ecbe⊥bb'
    >>> hop("baebcabebdea", 2)
    '⊥⊥⊥⊥⊥⊥⊥ab⊥ec'
    >>> hop([[3, 1, 3, 2, 3, 1]], 1).tolist()
    [[-1, -1, 1, -1, 2, 3]]
    >>> hop(["the", "cat", "the", "dog"], 1)
    ['⊥', '⊥', 'cat', '⊥']
    """
    k = _check_k(k)
    threads()  # a bad $KPARTY_THREADS is refused on every call, not only on large ones
    sym = _symbols(x)
    if sym is not None:
        tokens, back = sym
        return back(hop(tokens, k))
    x2, shape = _prepare(x)
    out_dtype = _signed(x2)
    if x2.size == 0:
        return np.empty(shape, dtype=out_dtype)
    if k == 0:
        return x2.astype(out_dtype).reshape(shape)
    bounds = _bounds(x2)
    sparse = _sparse_find_power(x2, k, bounds)
    if sparse is not None:
        at, to = sparse
        out = np.full(x2.size, -1, dtype=out_dtype)
        out[at] = x2.reshape(-1)[to]
        return out.reshape(shape)
    pos, free = _find_power_shifted(x2, k, bounds)
    if free is not None and free.dtype == out_dtype:  # the left-over array takes the output
        out, free = free[:x2.size], None
    else:  # or the extended copy of the tokens
        out = np.empty(x2.size, dtype=out_dtype)
    _tokens_at(x2.reshape(-1), pos, out, free)
    return out.reshape(shape)


# ------------------------------------------------------ reference evaluators
def find_naive(x: Sequence[Any], k: int = 1) -> list[int]:
    """The literal definition for one sequence, position by position (slow; a test oracle).

    Examples
    --------
    >>> find_naive("baebcabebdea", 2)[-1]
    4
    """
    k = _check_k(k)
    xs = list(x)
    out = []
    for i in range(len(xs)):
        p = i
        for _ in range(k):
            if p < 0:
                break
            js = [j for j in range(1, p + 1) if xs[j - 1] == xs[p]]
            p = max(js) if js else -1
        out.append(p)
    return out


def hop_naive(x: Sequence[Any], k: int) -> list[Any]:
    """``hop_k`` by :func:`find_naive`: a list of tokens with -1 for ⊥ (slow; a test oracle).

    Examples
    --------
    >>> "".join("⊥" if t == -1 else t for t in hop_naive("baebcabebdea", 2))
    '⊥⊥⊥⊥⊥⊥⊥ab⊥ec'
    """
    xs = list(x)
    return [xs[p] if p >= 0 else -1 for p in find_naive(xs, k)]
