"""Bound formulas against slow, obviously-correct scalar oracles (lowerbounds.bounds)."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lowerbounds import bounds as B
from lowerbounds.errors import BoundArgumentError
from protocols import PointerChasing
from protocols.bits import bits_for
from protocols.library import LIBRARY

qs = st.integers(2, 2**40)
ks = st.integers(1, 64)
cs = st.fractions(min_value=Fraction(1, 1000), max_value=1000).map(float)


def close(a: float, b: Fraction) -> bool:
    return abs(Fraction(a) - b) <= abs(b) * Fraction(1, 10**12)


@settings(max_examples=100, deadline=None)
@given(qs)
def test_ceil_log2_equals_bits_for(q):
    assert int(B.ceil_log2(q)) == bits_for(q)


@settings(max_examples=100, deadline=None)
@given(qs, ks, cs)
def test_pointer_chasing_bits_is_c_q_over_k5(q, k, c):
    assert close(float(B.pointer_chasing_bits(q, k, c)), Fraction(c) * q / k**5)


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 2**40), ks, cs)
def test_sequence_bits_is_c_N_over_k6(N, k, c):
    assert close(float(B.sequence_bits(N, k, c)), Fraction(c) * N / k**6)


@settings(max_examples=80, deadline=None)
@given(st.integers(2, 10**6), ks)
def test_encoded_length_and_the_two_forms_of_the_bound(q, k):
    N = int(B.encoded_length(q, k))
    assert N == 2 * k * q + 1
    # c·q/k^5 in q equals (c/2)·(N-1)/k^6 in N: the constants differ by 2, as documented.
    assert close(float(B.sequence_bits(N - 1, k, 0.5)), Fraction(q, k**5))


def _oracle_conditional(N, k, depth, offset, c):
    return 0.0 if depth + offset >= k else Fraction(c) * N / k**6


@settings(max_examples=80, deadline=None)
@given(st.integers(1, 10**9), ks, st.integers(0, 80), cs)
def test_corollaries_bite_only_below_k(N, k, depth, c):
    kinds = ((B.rnn_bound, 0), (B.kernel_attention_bound, 0), (B.sparse_attention_bound, 0), (B.cot_bound, 1))
    for fn, offset in kinds:
        got = float(fn(N, k, depth, c))
        want = _oracle_conditional(N, k, depth, offset, c)
        assert (got == 0.0) if want == 0.0 else close(got, want), (fn.__name__, N, k, depth)
        assert close(float(fn(N, k, None, c)), Fraction(c) * N / k**6)  # None: the regime depth < k


def test_cot_counts_the_extra_round():
    # R = T + 1: T = k - 1 CoT steps already give k rounds, so the bound is lifted there.
    assert float(B.cot_bound(10**6, 4, T=2)) > 0
    assert float(B.cot_bound(10**6, 4, T=3)) == 0.0


@settings(max_examples=80, deadline=None)
@given(st.integers(1, 10**9), ks, st.integers(0, 10**4), st.integers(1, 10**4), cs)
def test_sparse_attention_width_needed(N, k, w, g, c):
    got = float(B.sparse_attention_width_needed(N, k, w, g, c=c))
    want = Fraction(c) * N / k**6 / (w + Fraction(N, g * k))
    assert close(got, want)


def test_vectorised_matches_elementwise():
    rng = np.random.default_rng(0)
    q = rng.integers(2, 10**6, size=(5, 1))
    k = rng.integers(2, 20, size=(1, 7))
    out = B.pointer_chasing_bits(q, k, 0.3)
    assert out.shape == (5, 7)
    for i in range(5):
        for j in range(7):
            assert out[i, j] == B.pointer_chasing_bits(int(q[i, 0]), int(k[0, j]), 0.3)
    v = B.verdict(k, k - 1, out * 0.999, q, 0.3)
    assert v.ruled_out.shape == (5, 7) and v.ruled_out.all()
    b = B.sampling_budget(q, k)
    assert b.R.shape == b.s.shape == (5, 7)


@settings(max_examples=100, deadline=None)
@given(st.integers(2, 10**6), ks, st.integers(1, 80), st.integers(0, 10**7), cs)
def test_verdict_matches_oracle(q, k, R, s, c):
    v = B.verdict(k, R, s, q, c)
    want = R < k and Fraction(s) < Fraction(c) * q / k**5
    assert bool(v.ruled_out) == want
    assert v.explain().startswith("ruled out" if want else "not ruled out")


@pytest.mark.parametrize("q", [2, 3, 4, 16, 100, 1024, 1025])
@pytest.mark.parametrize("k", [1, 2, 3, 4, 8])
def test_upper_budgets_are_the_library_natural_budgets(q, k):
    pc = PointerChasing(q=q, k=k)
    for name, fn in B.UPPER_BOUNDS.items():
        b = fn(q, k)
        p = LIBRARY[name](pc)
        assert (int(b.R), int(b.s)) == (p.R, p.s), name
    # a protocol that exists can never be ruled out (except the guess, which only reaches 1/2)
    for row in B.table(q, k):
        if row.kind == "upper" and row.name != "guess":
            assert row.ruled_out is False, (row.name, q, k)


def test_sampling_upper_bits_is_the_order_of_growth():
    assert float(B.sampling_upper_bits(1024, 4)) == 1024 / 4 * 10
    assert float(B.sampling_upper_bits(1024, 4, c=2)) == 2 * 1024 / 4 * 10
    # the library's concrete budget is within a factor 2 of (q/k)·log2 q for k >= 2
    q, k = np.array([256, 1024, 4096])[:, None], np.array([2, 3, 4, 8])[None, :]
    ratio = B.sampling_budget(q, k).s / B.sampling_upper_bits(q, k)
    assert np.all((ratio >= 1) & (ratio <= 2.1))


def test_table_rows_and_constant():
    rows = B.table(1024, 4, N=10**6, c=2.0)
    lower = {r.name: r for r in rows if r.kind == "lower"}
    assert lower["pointer chasing"].value == 2.0 * 1024 / 4**5
    for name in ("sequence length", "RNN", "kernel attention", "sparse attention", "one-layer CoT"):
        assert lower[name].value == 2.0 * 10**6 / 4**6
        assert "c = 2" in lower[name].formula
    assert "[SHT24] Cor. 5.2" == lower["RNN"].source
    assert {r.name for r in rows if r.kind == "upper"} == set(LIBRARY)


@pytest.mark.parametrize(
    "call, needle",
    [
        (lambda: B.pointer_chasing_bits(1, 3), "q = 1"),
        (lambda: B.pointer_chasing_bits(8, 0), "k = 0"),
        (lambda: B.pointer_chasing_bits(8, 2, c=0), "c = 0"),
        (lambda: B.pointer_chasing_bits(8, 2, c=float("nan")), "c = nan"),
        (lambda: B.pointer_chasing_bits(8, 2.5), "k = 2.5"),
        (lambda: B.pointer_chasing_bits("8", 2), "not a number"),
        (lambda: B.sequence_bits(0, 2), "N = 0"),
        (lambda: B.verdict(3, 2, -1, 8), "s = -1"),
        (lambda: B.verdict(3, 0, 1, 8), "R = 0"),
        (lambda: B.rnn_bound(100, 3, L=-1), "L = -1"),
        (lambda: B.sparse_attention_width_needed(100, 3, w=1, g=0), "g = 0"),
        (lambda: B.verdict([2, 3], 1, [1, 2], 8).explain(), "scalar"),
    ],
)
def test_bad_input_names_the_value(call, needle):
    with pytest.raises(BoundArgumentError, match=needle.replace("(", r"\(")):
        call()
