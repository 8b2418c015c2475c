"""hop_k by MPC pointer doubling (docs/definitions.md §9): equal to reductions.hop, in ⌈log₂ k⌉ + c rounds, within s."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocols.mpc import MPCConfigError, ReceiveLimitExceeded
from protocols.mpc.gather import gather_hop, local_hop
from protocols.mpc.hop import hop_layout, hop_memory, hop_rounds, mpc_hop, mpc_hop_batch
from reductions import hop


def check_run(res, n, k, delta, V):
    """Rounds are exactly the formula ⌈log₂ k⌉ + c; no machine ever holds, sends or receives more than s."""
    L = res.layout
    c = L.rounds - L.doubling
    assert L.doubling == (max(k, 1) - 1).bit_length()
    assert res.run.rounds == hop_rounds(n, k, delta, V) == L.doubling + c
    sm = res.run.summary()
    assert max(sm["max_words_held"], sm["max_words_sent"], sm["max_words_received"]) <= L.s
    return c


def test_ten_thousand_sequences_equal_reductions_hop():
    """>= 10^4 random sequences (varied N, k, alphabet, δ), many per MPC instance (disjoint alphabets)."""
    rng = np.random.default_rng(2026)
    seen = 0
    for batch in range(100):
        V = int(rng.integers(1, 24))
        k = int(rng.integers(0, 70))
        delta = float(rng.uniform(0.1, 0.9))
        seqs = [rng.integers(0, V, int(rng.integers(1, 60))) for _ in range(100)]
        ys, res = mpc_hop_batch(seqs, k, delta, V, seed=batch, audit=1)
        for x, y in zip(seqs, ys, strict=True):
            assert np.array_equal(y, hop(x, k)), (batch, x.tolist(), k)
        check_run(res, res.layout.n, k, delta, res.layout.alphabet)
        seen += len(seqs)
    assert seen >= 10_000


def test_single_sequences_with_every_machine_audited():
    rng = np.random.default_rng(7)
    for t in range(25):
        n, V, k = int(rng.integers(1, 70)), int(rng.integers(1, 40)), int(rng.integers(0, 40))
        delta = float(rng.uniform(0.05, 0.95))
        x = rng.integers(0, V, n)
        res = mpc_hop(x, k, delta, V, seed=t, audit="all")
        assert np.array_equal(res.output, hop(x, k))
        check_run(res, n, k, delta, V)


@settings(max_examples=40, deadline=None)
@given(x=st.lists(st.integers(0, 5), min_size=1, max_size=40), k=st.integers(0, 20),
       delta=st.floats(0.05, 0.95))
def test_hypothesis_small(x, k, delta):
    a = np.array(x)
    assert np.array_equal(mpc_hop(a, k, delta, 6, audit=2).output, hop(a, k))


def test_c_is_independent_of_k():
    """At fixed N, δ, V the rounds are ⌈log₂ k⌉ + c with one c for every k."""
    rng = np.random.default_rng(1)
    x = rng.integers(0, 4, 3000)
    cs = set()
    for k in (1, 2, 3, 4, 7, 8, 9, 16, 33, 64, 100):
        res = mpc_hop(x, k, 0.5, 4)
        assert np.array_equal(res.output, hop(x, k))
        cs.add(check_run(res, 3000, k, 0.5, 4))
    assert len(cs) == 1


def test_c_depends_on_delta_as_stated():
    # c = 3 + 2D (one digit: prefix scan) or 3 + passes·(2D + 1) (radix sort): smaller δ -> smaller
    # machines -> deeper trees and more digits
    for n in (10**3, 10**4, 10**6):
        for V in (4, 1000):
            cs = [hop_layout(n, 8, d, V).rounds - 3 for d in (0.2, 0.35, 0.5, 0.75)]
            assert cs == sorted(cs, reverse=True)
            for d in (0.2, 0.5, 0.75):
                L = hop_layout(n, 8, d, V)
                D = L.tree.depth
                assert L.rounds == 3 + (3 + 2 * D if L.passes <= 1 else 3 + L.passes * (2 * D + 1))
    assert hop_rounds(10**6, 64, 0.5, 4) == 6 + 7
    assert hop_rounds(10**6, 64, 0.5, 10**6) == 6 + 3 + 4 * 5  # 20-bit tokens: 4 digits of base 64


def test_large_n_runs_within_memory():
    x = np.random.default_rng(3).integers(0, 50, 200_000)
    res = mpc_hop(x, 21, 0.4, 50)
    assert np.array_equal(res.output, hop(x, 21))
    check_run(res, 200_000, 21, 0.4, 50)


@pytest.mark.parametrize("bad", [dict(delta=0.0), dict(delta=1.0), dict(delta=float("nan")), dict(k=-1),
                                 dict(alphabet=2), dict(x=[-1, 0]), dict(x=[[0, 1]]), dict(x=[0.5, 1.0])])
def test_bad_input_is_named(bad):
    kw = dict(x=[0, 1, 2], k=1, delta=0.5, alphabet=None) | bad
    with pytest.raises(MPCConfigError):
        mpc_hop(np.asarray(kw.pop("x")), **kw)


def test_memory_formula():
    assert hop_memory(1024, 0.5) == (32, 1024)
    assert hop_memory(10**6, 0.5) == (1000, 32000)


def test_gather_everything_is_refused_by_the_memory_limit():
    x = np.random.default_rng(0).integers(0, 4, 300)
    assert np.array_equal(gather_hop(x, 5, s=300, audit="all"), hop(x, 5))
    assert np.array_equal(local_hop(x, 5), hop(x, 5))
    with pytest.raises(ReceiveLimitExceeded) as e:
        gather_hop(x, 5, s=299)
    assert (e.value.round, e.value.machine, e.value.words, e.value.limit) == (1, 0, 300, 299)
    # the real algorithm runs on the same input with far less memory per machine
    res = mpc_hop(x, 5, 0.3, 4)
    assert res.layout.s < 299 and np.array_equal(res.output, hop(x, 5))


def test_both_find_paths_are_exercised():
    """Small alphabets take the prefix scan, large ones the radix sort; both equal reductions.hop."""
    rng = np.random.default_rng(11)
    paths = {True: 0, False: 0}
    for t in range(120):
        n = int(rng.integers(1, 120))
        V = int(rng.integers(1, 9)) if t % 2 else int(rng.integers(50, 400))
        k = int(rng.integers(0, 30))
        delta = float(rng.uniform(0.3, 0.9))
        x = rng.integers(0, V, n)
        res = mpc_hop(x, k, delta, V, seed=t)
        assert np.array_equal(res.output, hop(x, k))
        check_run(res, n, k, delta, V)
        paths[res.layout.scan] += 1
    assert min(paths.values()) >= 40
