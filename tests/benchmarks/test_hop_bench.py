"""Speed of hop_k as ratios against baselines timed in the same run (issue 3).

Run: ``python -m pytest tests/benchmarks/test_hop_bench.py -q -s -p no:randomly``

(a) hop over 1,000 sequences of length 1,000, k = 16, against the per-position
    ``rfind`` method of the paper's released code: >= 100x faster.
(b) hop at N = 10^7, k = 64 against one ``numpy.copy`` of the same array, for
    uniform tokens over 4, 2^16 and 2^32 labels alike: <= 60x the copy (issue 16),
    with the default threads; the one-thread time is printed beside it.
(c) hop at k = 64 against applying find^1 64 times (same primitives: one
    gather per hop): >= 4x faster at N = 10^7 (a 1000 x 1000 batch is printed).

Inputs of (a) and (c) follow the paper's distribution (alphabet 4, no two equal
neighbours).
"""

from __future__ import annotations

import importlib
import time

import numpy as np
import pytest

from reductions import hop, random_sequences

hopmod = importlib.import_module("reductions.khop.task")

pytestmark = pytest.mark.benchmark


def best_of(fn, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def best_interleaved(fn_a, fn_b, rounds: int, inner_b: int = 1) -> tuple[float, float]:
    """Best times of two functions over alternating rounds, so both see the same machine load.

    Each round times ``fn_a`` once and ``fn_b`` ``inner_b`` times.
    """
    a = b = float("inf")
    for _ in range(rounds):
        a = min(a, best_of(fn_a, 1))
        b = min(b, best_of(fn_b, inner_b))
    return a, b


def rfind_hops(s: str, k: int) -> list[int]:
    """The paper's method (chsanford/hop-induction-heads, tasks.py): per position, rfind, k times.

    ``s.rfind(c, 0, p)`` instead of the released ``s[:p].rfind(c)`` skips a
    copy per call, so this baseline is a little faster than the original.
    """
    idx = list(range(len(s)))
    for _ in range(k):
        new = []
        for p in idx:
            last = -1 if p == -1 else s.rfind(s[p], 0, p)
            new.append(-1 if last == -1 else last + 1)
        idx = new
    return idx


def test_a_batch_against_rfind_baseline():
    x = random_sequences(1000, 1000, 4, distinct_neighbours=True, seed=0)
    k = 16
    texts = ["".join("abcd"[t] for t in row) for row in x.tolist()]
    t0 = time.perf_counter()
    idx = [rfind_hops(s, k) for s in texts]
    baseline = time.perf_counter() - t0
    ours = best_of(lambda: hop(x, k), 5)
    out = hop(x, k)
    rows = zip(x.tolist(), idx, strict=True)
    want = np.array([[row[p] if p >= 0 else -1 for p in ps] for row, ps in rows])
    assert (out == want).all()
    ratio = baseline / ours
    print(
        f"\n(a) hop, B=1000, N=1000, k=16: {ours * 1e3:.1f} ms; rfind baseline {baseline:.2f} s; "
        f"{ratio:.0f}x faster (target >= 100x)"
    )
    assert ratio >= 100


@pytest.fixture(scope="module")
def long_paper_sequence() -> np.ndarray:
    return random_sequences(1, 10**7, 4, distinct_neighbours=True, seed=1, dtype=np.int32)[0]


@pytest.mark.parametrize("alphabet", [4, 2**16, 2**32])
def test_b_long_sequence_against_copy(alphabet, monkeypatch):
    """Uniform tokens over 4, 2^16 and 2^32 labels: one grouping pass + log2(64) gathers, <= 60x a copy.

    Asserted as a user runs it (threads: ``$KPARTY_THREADS``, else the usable
    cores); the same call on one thread is timed in the same rounds and printed.
    """
    dtype = np.int32 if alphabet < 2**31 else np.uint32
    x = np.random.default_rng(2).integers(0, alphabet, 10**7).astype(dtype)
    hop(x[:1000], 64)  # warm up
    threads = hopmod.threads()

    def one_thread():
        with monkeypatch.context() as m:
            m.setenv(hopmod.THREADS_ENV, "1")
            hop(x, 64)

    ours = single = copy = float("inf")
    for _ in range(5):  # interleaved, so all three see the same machine load
        ours = min(ours, best_of(lambda: hop(x, 64), 1))
        single = min(single, best_of(one_thread, 1))
        copy = min(copy, best_of(lambda: np.copy(x), 3))
    ratio = ours / copy
    print(
        f"\n(b) hop, N=10^7, k=64, uniform alphabet {alphabet} ({x.dtype}): {ours * 1e3:.0f} ms = "
        f"{ratio:.1f}x one numpy.copy ({copy * 1e3:.1f} ms) on {threads} thread(s) (target <= 60x); "
        f"one thread: {single * 1e3:.0f} ms = {single / copy:.1f}x"
    )
    assert ratio <= 60


def _applied_k_times(x: np.ndarray, k: int) -> np.ndarray:
    """find^1 once, then one gather per hop (the strongest form of 'apply find^1 k times')."""
    x2 = np.ascontiguousarray(x.reshape(-1, x.shape[-1]))
    G = hopmod._find1_shifted(x2).astype(np.intp)  # intp: numpy gathers other index types by a converted copy
    pos = np.arange(1, x2.size + 1, dtype=np.intp)
    for _ in range(k):
        pos = np.take(G, pos, mode="clip")
    ext = np.concatenate([[-1], x2.reshape(-1).astype(np.int64)])
    return np.take(ext, pos).reshape(x.shape)


@pytest.mark.parametrize("shape", ["N=10^7", "B=1000,N=1000"])
def test_c_doubling_against_k_applications(shape, long_paper_sequence):
    """Asserted at N = 10^7 (the size of (b)); the batch shape is printed for reference.

    Both sides pay for find^1 once, which caps the batch ratio near 6x even
    on an idle machine (7 gathers + find^1 against 65 gathers + find^1).
    """
    x = (
        long_paper_sequence
        if shape == "N=10^7"
        else random_sequences(1000, 1000, 4, distinct_neighbours=True, seed=3, dtype=np.int32)
    )
    assert (_applied_k_times(x, 64) == hop(x, 64)).all()
    naive, ours = best_interleaved(lambda: _applied_k_times(x, 64), lambda: hop(x, 64), 4)
    ratio = naive / ours
    print(
        f"\n(c) k=64, {shape}: doubling {ours * 1e3:.0f} ms vs find^1 applied 64 times "
        f"{naive * 1e3:.0f} ms: {ratio:.1f}x faster "
        f"(target >= 4x{'' if shape == 'N=10^7' else ', not asserted'})"
    )
    if shape == "N=10^7":
        assert ratio >= 4
