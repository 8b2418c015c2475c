"""find^k and hop_k (docs/definitions.md §3) against slow, obviously-correct oracles."""

from __future__ import annotations

import importlib
import os
import threading

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reductions import BOTTOM, HopInputError, find, hop
from reductions.khop.task import find_naive, hop_naive

# the package exports the function hop, which shadows the module's attribute name
hopmod = importlib.import_module("reductions.khop.task")


# ------------------------------------------------------------------ oracles
def oracle_find(x: np.ndarray, k: int) -> np.ndarray:
    """The definition as a mask over all (i, j): find(i) = max{j in 1..i : x[j-1] == x[i]} or -1."""
    x = np.asarray(x)
    B, N = x.shape
    if N == 0:
        return np.zeros((B, 0), dtype=np.int64)
    i = np.arange(N)[:, None]
    j = np.arange(1, N + 1)[None, :]
    hit = (x[:, None, :] == x[:, :, None]) & (j <= i)  # hit[b, i, j-1]: x[j-1] == x[i], j <= i
    f1 = np.where(hit, j, -1).max(axis=2)
    pos = np.broadcast_to(np.arange(N), (B, N)).copy()
    for _ in range(k):
        nxt = np.take_along_axis(f1, np.maximum(pos, 0), axis=1)
        pos = np.where(pos >= 0, nxt, -1)
    return pos


def oracle_hop(x: np.ndarray, k: int) -> np.ndarray:
    pos = oracle_find(x, k)
    vals = np.take_along_axis(np.asarray(x, dtype=np.int64), np.maximum(pos, 0), axis=1)
    return np.where(pos >= 0, vals, -1)


def rfind_hop(s: str, k: int) -> str:
    """The paper's released-code method: per position, rfind in the prefix, k times."""
    idx = list(range(len(s)))
    for _ in range(k):
        new = []
        for i in range(len(s)):
            p = idx[i]
            last = -1 if p == -1 else s[:p].rfind(s[p])
            new.append(-1 if last == -1 else last + 1)
        idx = new
    return "".join(BOTTOM if p == -1 else s[p] for p in idx)


# ------------------------------------------------------------ worked example
def test_worked_example():
    x = "baebcabebdea"
    assert hop(x, 1)[-1] == "b"
    assert hop(x, 2)[-1] == "c"
    assert find(x, 1)[-1] == 6 and find(x, 2)[-1] == 4
    assert hop(x, 0) == x
    assert hop(x, 1) == rfind_hop(x, 1) and hop(x, 2) == rfind_hop(x, 2)


# ------------------------------------------------- 10^4 random sequences
def _random_case(rng: np.random.Generator, N: int) -> tuple[np.ndarray, int]:
    kind = rng.integers(0, 8)
    if kind == 0:
        A = 1
    elif kind == 1:
        A = max(N, 1)
    elif kind == 2:
        A = int(rng.integers(2, 5))
    elif kind == 3:
        A = int(rng.integers(1, max(N, 1) + 2))
    elif kind == 4:
        A = int(rng.integers(9, 300))  # radix path, 8-bit keys
    elif kind == 5:
        A = 70_000  # 16-bit keys
    elif kind == 6:
        A = 2**40  # more than one 16-bit digit
    else:
        A = int(rng.integers(5, 9))
    offset = int(rng.integers(0, 3)) * int(rng.integers(0, 1000))  # tokens need not start at 0
    dtype = np.int64 if A + offset > 2**31 else rng.choice([np.int32, np.int64, np.uint32])
    if A + offset < 250 and rng.random() < 0.3:
        dtype = np.uint8
    return dtype, A, offset


def test_random_sequences_against_oracle():
    rng = np.random.default_rng(20240402)
    sequences = 0
    ks_seen, Ns_seen = set(), set()
    # (N range, batches, B range); the first and last batches pin N = 0 and N = 1000
    plan = [(0, 40, 60, (120, 260)), (40, 300, 40, (5, 30)), (300, 1001, 50, (1, 5))]
    for lo, hi, batches, (b_lo, b_hi) in plan:
        for t in range(batches):
            N = int(rng.integers(lo, hi))
            N = 0 if (lo == 0 and t == 0) else 1000 if (hi == 1001 and t == 0) else N
            B = int(rng.integers(b_lo, b_hi + 1))
            k = (
                int(rng.integers(0, 65))
                if rng.random() < 0.8
                else int(rng.choice([0, 1, 2, 63, 64]))
            )
            dtype, A, offset = _random_case(rng, N)
            x = (rng.integers(0, A, (B, N), dtype=np.int64) + offset).astype(dtype)
            if N > 1 and rng.random() < 0.3:  # plenty of equal neighbours
                reps = rng.random((B, N - 1)) < 0.5
                x[:, 1:][reps] = x[:, :-1][reps]
            want_f, want_h = oracle_find(x, k), oracle_hop(x, k)
            assert (find(x, k) == want_f).all(), (N, A, k)
            assert (hop(x, k) == want_h).all(), (N, A, k)
            for b in range(min(B, 3)):  # unbatched calls on single rows
                assert (find(x[b], k) == want_f[b]).all()
                assert (hop(x[b], k) == want_h[b]).all()
            sequences += B
            ks_seen.add(k)
            Ns_seen.add(N)
    assert sequences >= 10_000
    assert {0, 64} <= ks_seen and {0, 1000} <= Ns_seen


@pytest.mark.parametrize("counting_max", [0, 10**9])
@pytest.mark.parametrize("index_dtype", [np.int32, np.int64])
def test_both_find1_strategies_and_index_widths(monkeypatch, counting_max, index_dtype):
    """The counting and radix paths, int32 and int64 positions, all give the oracle's answer."""
    monkeypatch.setattr(hopmod, "_COUNTING_MAX", counting_max)
    monkeypatch.setattr(hopmod, "_index_dtype", lambda n: np.dtype(index_dtype))
    rng = np.random.default_rng(7)
    for A in (1, 2, 3, 7, 40):
        x = rng.integers(0, A, (6, 57))
        for k in (1, 2, 5, 64):
            assert (find(x, k) == oracle_find(x, k)).all()
            assert (hop(x, k) == oracle_hop(x, k)).all()


def test_leading_batch_axes():
    rng = np.random.default_rng(3)
    x = rng.integers(0, 4, (2, 3, 50))
    for k in (0, 1, 3, 16):
        f, h = find(x, k), hop(x, k)
        assert f.shape == h.shape == x.shape
        flat = x.reshape(6, 50)
        assert (f.reshape(6, 50) == oracle_find(flat, k)).all()
        assert (h.reshape(6, 50) == oracle_hop(flat, k)).all()


# ------------------------------------------------------------- hypothesis
@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(0, 4), max_size=60), st.integers(0, 64))
def test_hypothesis_small_alphabets(xs, k):
    x = np.asarray(xs, dtype=np.int64)
    assert find(x, k).tolist() == find_naive(xs, k)
    assert hop(x, k).tolist() == hop_naive(xs, k)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="abcd", max_size=50), st.integers(0, 20))
def test_hypothesis_strings_match_rfind(s, k):
    assert hop(s, k) == rfind_hop(s, k)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.lists(st.integers(0, 2**40), min_size=7, max_size=7), min_size=1, max_size=5),
    st.integers(0, 64),
)
def test_hypothesis_batched_wide_tokens(rows, k):
    x = np.asarray(rows, dtype=np.int64)
    assert (find(x, k) == oracle_find(x, k)).all()
    assert (hop(x, k) == oracle_hop(x, k)).all()


DTYPES = [np.int8, np.uint8, np.int16, np.uint16, np.int32, np.uint32, np.int64, np.uint64]


@settings(max_examples=100, deadline=None)
@given(
    st.sampled_from(DTYPES),
    st.integers(1, 6),
    st.integers(0, 40),
    st.sampled_from([1, 3, 9, 300, 2**16 + 5, 2**33, 2**63]),
    st.integers(0, 2**63 - 1),
    st.integers(0, 64),
    st.data(),
)
def test_hypothesis_every_dtype_and_label_size(dtype, B, N, span, offset, k, data):
    """int8 … uint64, labels up to 2^63 - 1 (any offset), batches: every grouping method vs the oracle."""
    top = min(np.iinfo(dtype).max, 2**63 - 1)  # hop's output holds ⊥ = -1 beside the labels (int64)
    lo = min(offset, max(0, top - span + 1))
    hi = min(lo + span - 1, top)
    rows = data.draw(st.lists(st.lists(st.integers(lo, hi), min_size=N, max_size=N), min_size=B, max_size=B))
    x = np.array(rows, dtype=dtype).reshape(B, N)
    want_f = oracle_find(x, k)
    assert (find(x, k) == want_f).all()
    assert (hop(x, k) == oracle_hop(x, k)).all()
    assert find(x.reshape(1, B, N), k).shape == (1, B, N)  # leading batch axes


def test_labels_up_to_2_63_in_every_grouping_method(monkeypatch):
    """Packed keys, 16-bit LSD digits (labels too wide to pack) and the byte radix give the same answers."""
    rng = np.random.default_rng(9)
    base = rng.integers(0, 5, (3, 200))
    for scale, off in ((1, 0), (2**20, 2**62), (2**40, 7), (2**60, 3)):  # byte radix, packed, LSD digits
        x = base.astype(np.uint64) * np.uint64(scale) + np.uint64(off)  # labels up to ~2^63
        for k in (1, 2, 7):
            assert (find(x, k) == find(base, k)).all()
            h = hop(base, k)
            assert hop(x, k).tolist() == [[v * scale + off if v >= 0 else -1 for v in r] for r in h.tolist()]
    x = np.array([2**64 - 1, 5, 2**64 - 1, 2**63], dtype=np.uint64)  # find takes any uint64 label
    assert find(x, 1).tolist() == [-1, -1, 1, -1]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.integers(0, 3), min_size=1, max_size=40), st.integers(0, 20), st.integers(0, 20))
def test_hypothesis_powers_compose(xs, a, b):
    """find^(a+b) = find^a ∘ find^b, with ⊥ absorbing."""
    x = np.asarray(xs)
    fb = find(x, b)
    fa = find(x, a)
    composed = np.where(fb >= 0, fa[np.maximum(fb, 0)], -1)
    assert (find(x, a + b) == composed).all()


# ------------------------------------------------------ structural facts
def test_equal_neighbours_are_fixed_points():
    x = np.array([0, 1, 1, 2, 2, 2, 0, 0])
    for k in (1, 2, 7, 64):
        f = find(x, k)
        for i in range(1, len(x)):
            if x[i - 1] == x[i]:
                assert f[i] == i


def test_alphabet_one_and_all_distinct():
    for N in (1, 2, 17):
        ones = np.zeros(N, dtype=np.int64)
        assert find(ones, 5).tolist() == [-1] + list(range(1, N))
        distinct = np.arange(N)
        assert find(distinct, 1).tolist() == [-1] * N
        assert hop(distinct, 3).tolist() == [-1] * N


def test_zero_hops_and_empty_inputs():
    x = np.array([[3, 1, 3]], dtype=np.uint8)
    assert hop(x, 0).tolist() == x.tolist() and hop(x, 0).dtype == np.int16
    assert find(x, 0).tolist() == [[0, 1, 2]]
    assert hop(np.zeros((4, 0), dtype=np.int64), 3).shape == (4, 0)
    assert find(np.zeros((0, 9), dtype=np.int64), 3).shape == (0, 9)
    assert hop([], 2).shape == (0,)
    assert hop("", 5) == ""


def test_output_dtypes_hold_bottom():
    assert hop(np.array([1, 2, 1], dtype=np.uint8), 1).dtype == np.int16
    assert hop(np.array([1, 2, 1], dtype=np.int32), 1).dtype == np.int32
    big = np.array([2**62, 5, 2**62], dtype=np.uint64)
    assert hop(big, 1).tolist() == [-1, -1, 5]
    with pytest.raises(HopInputError, match="does not fit int64"):
        hop(np.array([2**63 + 1], dtype=np.uint64), 1)


def test_symbol_lists():
    words = ["the", "cat", "the", "dog", "the"]
    assert hop(words, 1) == [BOTTOM, BOTTOM, "cat", BOTTOM, "dog"]
    assert find(words, 2).tolist() == [-1, -1, -1, -1, -1]
    assert hop("aaaa", 3) == BOTTOM + "aaa"


def test_huge_k_is_fast_and_exact():
    x = np.array([0, 1, 0, 1, 0, 0, 1])
    for k in (10**9, 2**40 + 1):
        assert find(x, k).tolist() == find_naive(x.tolist(), 70 + (k % 2))


@pytest.mark.parametrize(
    "x, k, match",
    [
        ([1, -1, 2], 1, "token -1 is negative"),
        ([1.0, 2.0], 1, "dtype float64"),
        ([True, False], 1, "dtype bool"),
        (3, 1, "scalar"),
        ([1, 2], -1, "k = -1"),
        ([1, 2], 1.5, "k = 1.5"),
        ([1, 2], True, "k = True"),
    ],
)
def test_bad_input_raises(x, k, match):
    with pytest.raises(HopInputError, match=match):
        hop(x, k)
    with pytest.raises(ValueError):
        find(x, k)


@pytest.mark.parametrize("chunk", [1, 3, 8, 2**16])
def test_chunked_table_grouping_across_chunk_borders(monkeypatch, chunk):
    """The chunk-by-chunk table path (spans 9..2^16) links occurrences across chunk and row borders."""
    monkeypatch.setattr(hopmod, "_CHUNK", chunk)
    rng = np.random.default_rng(11)
    for A, off, dtype in ((9, 0, np.int16), (300, 5, np.int64), (2**16, 0, np.uint16), (2**16, 2**40, np.uint64)):
        x = (rng.integers(0, min(A, 40), (4, 45)) * (A // min(A, 40)) + off).astype(dtype)
        x[0, 0], x[-1, -1] = off, off + A - 1  # the full span, so this is the table path
        for k in (1, 2, 5, 64):
            assert (find(x, k) == oracle_find(x, k)).all()
            assert (hop(x, k) == oracle_hop(x, k)).all()


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.sampled_from(["1", "2", "3", "7"]),
    st.sampled_from([1, 4, 16]),
    st.integers(1, 4),
    st.integers(1, 300),
    st.sampled_from([2, 9, 40, 300, 2**16]),
    st.sampled_from([1, 2, 5, 64]),
    st.integers(0, 2**32 - 1),
    st.booleans(),
    st.booleans(),
)
def test_hypothesis_threads_split_the_work_exactly(monkeypatch, threads, block, B, N, A, k, seed, far, narrow):
    """Spans cut across threads (orphans looked up in earlier spans' tables, gathers split, far reads
    swept first, int32 positions converted block by block) vs the oracle."""
    if narrow:
        monkeypatch.setattr(hopmod, "_NARROW_MIN", 0)
    monkeypatch.setenv("KPARTY_THREADS", threads)
    monkeypatch.setattr(hopmod, "_PARALLEL_MIN", 8)  # so small inputs take the threaded path
    monkeypatch.setattr(hopmod, "_BLOCK", block)
    monkeypatch.setattr(hopmod, "_CHUNK", 2 * block)
    monkeypatch.setattr(hopmod, "_TILE", 3 * block)
    if far:  # every gather counts as far: tiles sweep their source slice first
        monkeypatch.setattr(hopmod, "_FAR_BYTES", 0)
    x = np.random.default_rng(seed).integers(0, A, (B, N))
    if A == 2**16:
        x[0, 0] = A - 1  # the full span: the table path
    assert (find(x, k) == oracle_find(x, k)).all()
    assert (hop(x, k) == oracle_hop(x, k)).all()


def test_largest_sizes_take_every_fast_path_and_agree_with_a_plain_chain(monkeypatch):
    """2^22 + 3 positions over 2^16 labels at the real thresholds: int32 maps, threads, the far-read
    sweep and the chunked table, on 1 and 3 threads, against find^1 from a stable argsort applied 64 times."""
    n, k = 2**22 + 3, 64
    x = np.random.default_rng(16).integers(0, 2**16, n).astype(np.int32)
    order = np.argsort(x, kind="stable")
    f1 = np.full(n, -1, np.int64)
    same = x[order[1:]] == x[order[:-1]]
    f1[order[1:][same]] = order[:-1][same] + 1  # previous occurrence + 1
    pos = np.arange(n)
    for _ in range(k):
        pos = np.where(pos >= 0, f1[np.maximum(pos, 0)], -1)
    want = np.where(pos >= 0, x[np.maximum(pos, 0)], -1)
    assert hopmod._index_dtype(n + 1) == np.int32 and hopmod._reach(np.maximum(pos, 0), 4) is not None
    for threads in ("1", "3"):
        monkeypatch.setenv("KPARTY_THREADS", threads)
        assert np.array_equal(hop(x, k), want)
        assert np.array_equal(find(x, k), pos)


def test_reach_of_gathers_is_sampled_and_ignores_bottom():
    """Reads 2^20 positions behind are far (median distance, 96% half-width); near or all-⊥ reads are not."""
    n = 2**22
    i = np.arange(n)
    Q = np.maximum(i - 2**20 - (i % 1000), 0).astype(np.int32)  # distance 2^20 + 0..999
    D, W = hopmod._reach(Q, 4)
    assert 2**20 + 400 <= D <= 2**20 + 600 and 450 <= W <= 500
    assert hopmod._reach(Q, 2) is not None and hopmod._reach(Q, 1) is None  # 2 MB behind, or 1 MB
    assert hopmod._reach(np.maximum(i - 10, 0), 8) is None
    assert hopmod._reach(np.zeros(n, np.int32), 4) is None  # ⊥ everywhere: nothing to sweep


def test_position_storage_is_intp_when_small_int32_when_large_intp_beyond_int32():
    assert hopmod._index_dtype(hopmod._NARROW_MIN - 1) == np.intp
    assert hopmod._index_dtype(hopmod._NARROW_MIN) == np.int32
    assert hopmod._index_dtype(2**31 - 1) == np.int32 and hopmod._index_dtype(2**31) == np.intp


def test_threads_default_to_the_usable_cores_and_refuse_a_bad_setting(monkeypatch):
    monkeypatch.delenv("KPARTY_THREADS", raising=False)
    assert hopmod.threads() == len(os.sched_getaffinity(0))
    monkeypatch.setenv("KPARTY_THREADS", "3")
    assert hopmod.threads() == 3
    for bad in ("0", "-2", "two", "1.5", ""):
        monkeypatch.setenv("KPARTY_THREADS", bad)
        for call in (lambda: hop([1, 2, 1], 1), lambda: find("ab", 0), lambda: hop(np.arange(2**17) * 2**20, 3)):
            with pytest.raises(HopInputError, match=rf"KPARTY_THREADS={bad!r}.*integer >= 1"):
                call()  # refused before any work, on every path (dense, k = 0, sparse)


def test_threads_are_used_at_scale_and_not_below(monkeypatch):
    """Inputs of _PARALLEL_MIN positions or more are split across threads; smaller ones run in the caller."""
    monkeypatch.setenv("KPARTY_THREADS", "2")
    seen: set[int] = set()
    take = hopmod.np.take
    monkeypatch.setattr(hopmod.np, "take", lambda *a, **kw: (seen.add(threading.get_ident()), take(*a, **kw))[1])
    x = np.random.default_rng(0).integers(0, 300, 2**12)
    monkeypatch.setattr(hopmod, "_PARALLEL_MIN", 2**13)
    hop(x, 2)
    assert seen == {threading.get_ident()}
    seen.clear()
    monkeypatch.setattr(hopmod, "_PARALLEL_MIN", 2**10)
    monkeypatch.setattr(hopmod, "_BLOCK", 2**8)
    hop(x, 2)
    assert seen - {threading.get_ident()}  # gathers ran on the pool's threads


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    B=st.integers(1, 4),
    N=st.integers(1, 50),
    labels=st.sampled_from(["distinct", "some repeats", "hash-hostile"]),
    k=st.integers(1, 70),
    seed=st.integers(0, 2**32 - 1),
)
def test_sparse_path_for_rarely_repeated_labels_matches_the_oracle(monkeypatch, B, N, labels, k, seed):
    """Labels from a span far wider than the input take the sparse path (forced here at any size):
    find only where defined, powers by binary search.  Repeats within and across rows, none at all,
    and labels that collide in the hash (multiples of 2^40, which then fall back) all agree."""
    monkeypatch.setattr(hopmod, "_SPARSE_MIN", 1)
    monkeypatch.setattr(hopmod, "_SPARSE_SHARE", 1)
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 2**62, (B, N), dtype=np.int64)
    if labels == "some repeats":
        x[rng.random((B, N)) < 0.3] = rng.integers(0, 4) * 2**50
    elif labels == "hash-hostile":
        x = rng.integers(0, 3, (B, N), dtype=np.int64) * 2**40 + (2**62 if N > 1 else 0)
        x[0, 0] = 0
    assert (find(x, k) == oracle_find(x, k)).all()
    assert (hop(x, k) == oracle_hop(x, k)).all()


def test_sparse_path_is_taken_for_wide_labels_and_skips_the_dense_doubling(monkeypatch):
    monkeypatch.setattr(hopmod, "_SPARSE_MIN", 1)

    def refuse(*a):
        raise AssertionError("the dense path ran")

    monkeypatch.setattr(hopmod, "_power", refuse)
    rng = np.random.default_rng(3)
    x = rng.integers(0, 2**32, (3, 4000)).astype(np.uint32)
    x[:, 100:110] = x[:, 10:20]  # a few repeats, within each row
    for k in (1, 2, 64):
        assert (hop(x, k) == oracle_hop(x, k)).all() and (find(x, k) == oracle_find(x, k)).all()
