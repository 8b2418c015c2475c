"""Fixed point beyond 32 bits (p = 48 and 64, docs/definitions.md §7.1) against exact Fraction oracles.

Every operation is checked on random raws drawn across the whole range (hypothesis):
exact where the definition is exact, rounded half to even where it rounds, and a
:class:`FixedPointOverflow` — never a wrapped value — where the result leaves the format.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reductions.arithmetic.fixed_point import FixedPoint, FixedPointOverflow
from reductions.arithmetic.residues import matmul_residues, rounded_quotient
from tests.test_fixed_point import oracle_round

WIDE = st.sampled_from([48, 64]).flatmap(
    lambda p: st.tuples(
        st.just(p), st.one_of(st.integers(0, 8), st.integers(p // 2 - 4, p // 2 + 4), st.integers(p - 8, p - 1))
    )
)


def raw_values(p: int, n: int, small: bool = False):
    """Raws of a p-bit format: anywhere in range, or small enough that products fit the format."""
    top = 2 ** ((p - 1) // 2) if small else 2 ** (p - 1)
    return st.lists(st.one_of(st.integers(-top, top - 1), st.sampled_from([-top, top - 1, 0, 1, -1])),
                    min_size=n, max_size=n)


def expect(fmt: FixedPoint, exact: list[int], fn) -> None:
    """``fn()`` returns ``exact`` if it all fits, else raises FixedPointOverflow."""
    if all(fmt.lo <= v <= fmt.hi for v in exact):
        assert fn().tolist() == exact
    else:
        with pytest.raises(FixedPointOverflow):
            fn()


@settings(max_examples=60, deadline=None)
@given(WIDE.flatmap(lambda pf: st.tuples(st.just(pf), raw_values(pf[0], 6), raw_values(pf[0], 6))))
def test_add_sub_neg_exact_or_refused(args):
    (p, f), a, b = args
    fmt = FixedPoint(p, f)
    A, B = np.array(a, dtype=np.int64), np.array(b, dtype=np.int64)
    expect(fmt, [x + y for x, y in zip(a, b, strict=True)], lambda: fmt.add(A, B))
    expect(fmt, [x - y for x, y in zip(a, b, strict=True)], lambda: fmt.sub(A, B))
    expect(fmt, [-x for x in a], lambda: fmt.neg(A))
    sat = fmt.add(A, B, saturate=True).tolist()
    assert sat == [min(max(x + y, fmt.lo), fmt.hi) for x, y in zip(a, b, strict=True)]


@settings(max_examples=80, deadline=None)
@given(WIDE.flatmap(lambda pf: st.tuples(st.just(pf), st.booleans()).flatmap(
    lambda t: st.tuples(st.just(t[0]), raw_values(t[0][0], 8, t[1]), raw_values(t[0][0], 8, t[1])))))
def test_mul_rounds_half_even_or_refused(args):
    (p, f), a, b = args
    fmt = FixedPoint(p, f)
    want = [oracle_round(Fraction(x * y, 2**f)) for x, y in zip(a, b, strict=True)]
    expect(fmt, want, lambda: fmt.mul(np.array(a, dtype=np.int64), np.array(b, dtype=np.int64)))


@settings(max_examples=60, deadline=None)
@given(WIDE.flatmap(lambda pf: st.tuples(
    st.just(pf), st.integers(1, 12), st.booleans()).flatmap(
    lambda t: st.tuples(st.just(t[0]), raw_values(t[0][0], 3 * t[1], t[2]), raw_values(t[0][0], 2 * t[1], t[2]),
                        raw_values(t[0][0], 2, True)))))
def test_matmul_one_rounding_or_refused(args):
    (p, f), a, w, bias = args
    n = len(w) // 2
    fmt = FixedPoint(p, f)
    A = np.array(a, dtype=np.int64).reshape(3, n)
    W = np.array(w, dtype=np.int64).reshape(n, 2)
    Bv = np.array(bias, dtype=np.int64)
    want = [
        oracle_round(Fraction(sum(int(A[i, t]) * int(W[t, j]) for t in range(n)) + bias[j] * 2**f, 2**f))
        for i in range(3) for j in range(2)
    ]
    expect(fmt, want, lambda: fmt.matmul(A, W, bias=Bv).reshape(-1))
    if all(fmt.lo <= v <= fmt.hi for v in want):
        assert fmt.linear(W, Bv)(A).reshape(-1).tolist() == want  # the prepared map agrees


@settings(max_examples=60, deadline=None)
@given(WIDE.flatmap(lambda pf: st.tuples(st.just(pf), raw_values(pf[0], 5), raw_values(pf[0], 5))))
def test_div_rounds_half_even_or_refused(args):
    (p, f), a, b = args
    fmt = FixedPoint(p, f)
    b = [v or 1 for v in b]
    want = [oracle_round(Fraction(x * 2**f, y)) for x, y in zip(a, b, strict=True)]
    expect(fmt, want, lambda: fmt.div(np.array(a, dtype=np.int64), np.array(b, dtype=np.int64)))


@settings(max_examples=60, deadline=None)
@given(WIDE, st.lists(st.floats(-1e30, 1e30, allow_nan=False), min_size=1, max_size=8))
def test_quantize_and_to_float_correctly_rounded(pf, xs):
    p, f = pf
    fmt = FixedPoint(p, f)
    want = [oracle_round(Fraction(x) * 2**f) for x in xs]
    expect(fmt, want, lambda: fmt.quantize(np.array(xs)))
    sat = fmt.quantize(np.array(xs), saturate=True).tolist()
    assert sat == [min(max(v, fmt.lo), fmt.hi) for v in want]
    fits = [v for v in want if fmt.lo <= v <= fmt.hi]
    # to_float: the nearest float64 to the exact value raw / 2**f (Python's float(Fraction) rounds correctly)
    assert fmt.to_float(np.array(fits, dtype=np.int64)).tolist() == [float(Fraction(v, 2**f)) for v in fits]


@settings(max_examples=50, deadline=None)
@given(WIDE.flatmap(lambda pf: st.tuples(st.just(pf), raw_values(pf[0], 6), st.integers(0, 40))))
def test_rescale_and_sum(args):
    (p, f), a, shift = args
    fmt = FixedPoint(p, f)
    A = np.array(a, dtype=np.int64)
    from_f = max(0, f + 20 - shift)  # coarser and finer sources
    want = [oracle_round(Fraction(x, 2**from_f) * 2**f) for x in a]
    expect(fmt, want, lambda: fmt.rescale(A, from_f))
    total = sum(a)
    if fmt.acc_lo <= total <= fmt.acc_hi:
        assert int(fmt.sum(A)) == total
    else:
        with pytest.raises(FixedPointOverflow):
            fmt.sum(A)


def test_extremes_of_the_64_bit_format():
    fmt = FixedPoint(64, 0)
    lo, hi = np.array([fmt.lo]), np.array([fmt.hi])
    with pytest.raises(FixedPointOverflow):
        fmt.add(hi, np.array([1]))  # int64 would wrap to lo
    with pytest.raises(FixedPointOverflow):
        fmt.neg(lo)
    with pytest.raises(FixedPointOverflow):
        fmt.mul(lo, np.array([-1]))
    assert fmt.mul(hi, np.array([1])).tolist() == [fmt.hi]
    assert fmt.quantize(np.array([2.0**63]), saturate=True).tolist() == [fmt.hi]
    with pytest.raises(FixedPointOverflow):
        fmt.quantize(np.array([2.0**63]))
    with pytest.raises(FixedPointOverflow):
        FixedPoint(48, 0).rescale(np.array([2**40]), -30)  # a left shift past int64 is refused, not wrapped


def test_residues_refuse_what_they_cannot_prove():
    a = np.full((1, 4), 2**62)
    xf, xm, err = matmul_residues(a, a.T)
    assert err >= 2.0**60 and rounded_quotient(xf, xm, err, 2**10) is None
    assert rounded_quotient(np.array([1.0]), np.array([1], dtype=np.uint64), 0.0, 2**53) is None


def test_wide_matmul_large_batch_is_exact():
    """The vectorised residue path on a realistic block (p = 52 raws, n = 16) equals Python integers."""
    rng = np.random.default_rng(0)
    fmt = FixedPoint(56, 17)
    a = rng.integers(-(2**50), 2**50, (300, 16))
    w = rng.integers(-(2**20), 2**20, (16, 8))
    got = fmt.matmul(a, w, saturate=True)
    exact = np.array([[oracle_round(Fraction(sum(int(x) * int(y) for x, y in zip(r, c, strict=True)), 2**17))
                       for c in w.T] for r in a[:20]], dtype=object)
    assert (got[:20] == np.clip(exact, fmt.lo, fmt.hi).astype(np.int64)).all()
    assert (got == fmt._matmul_exact(a.astype(object), w, None, True, "m")).all()
