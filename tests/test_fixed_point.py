"""Fixed point (reductions.arithmetic.fixed_point) against exact Fraction oracles."""

from __future__ import annotations

from fractions import Fraction
from math import floor

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reductions.arithmetic.fixed_point import (
    NONLINEARITIES,
    FixedPoint,
    FixedPointError,
    FixedPointOverflow,
    round_div,
    round_shift,
)


def oracle_round(x: Fraction) -> int:
    """Nearest integer to x, ties to even (obviously correct, slow)."""
    fl = floor(x)
    d = x - fl
    if d > Fraction(1, 2):
        return fl + 1
    if d < Fraction(1, 2):
        return fl
    return fl if fl % 2 == 0 else fl + 1


formats = st.integers(2, 32).flatmap(lambda p: st.tuples(st.just(p), st.integers(0, p - 1)))


def raws(fmt: FixedPoint, n: int):
    return st.lists(st.integers(fmt.lo, fmt.hi), min_size=n, max_size=n)


@given(st.lists(st.integers(-(2**62), 2**62), min_size=1, max_size=20), st.integers(0, 40))
def test_round_shift_matches_oracle(xs, s):
    got = round_shift(np.array(xs, dtype=np.int64), s).tolist()
    assert got == [oracle_round(Fraction(x, 2**s)) for x in xs]
    # Python-int (object) path agrees
    assert round_shift(np.array(xs, dtype=object), s).tolist() == got


@given(
    st.lists(
        st.tuples(st.integers(-(10**12), 10**12), st.integers(-(10**6), 10**6).filter(bool)), min_size=1, max_size=20
    )
)
def test_round_div_matches_oracle(pairs):
    num = np.array([a for a, _ in pairs])
    den = np.array([b for _, b in pairs])
    assert round_div(num, den).tolist() == [oracle_round(Fraction(a, b)) for a, b in pairs]


@given(formats, st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=10))
def test_quantize_rounding_rule_and_overflow(pf, xs):
    fmt = FixedPoint(*pf)
    want = [oracle_round(Fraction(x) * 2**fmt.f) for x in xs]
    if all(fmt.lo <= w <= fmt.hi for w in want):
        assert fmt.quantize(np.array(xs)).tolist() == want
    else:
        with pytest.raises(FixedPointOverflow, match="does not fit"):
            fmt.quantize(np.array(xs))
    assert fmt.quantize(np.array(xs), saturate=True).tolist() == [min(max(w, fmt.lo), fmt.hi) for w in want]


def test_quantize_ties_go_to_even():
    fmt = FixedPoint(8, 1)
    assert fmt.quantize([0.25, 0.75, 1.25, -0.25, -0.75]).tolist() == [0, 2, 2, 0, -2]


@given(
    formats.flatmap(lambda pf: st.tuples(st.just(FixedPoint(*pf)), raws(FixedPoint(*pf), 8), raws(FixedPoint(*pf), 8)))
)
def test_mul_matches_oracle(args):
    fmt, a, b = args
    want = [oracle_round(Fraction(x * y, 2**fmt.f)) for x, y in zip(a, b, strict=True)]
    if all(fmt.lo <= w <= fmt.hi for w in want):
        assert fmt.mul(np.array(a), np.array(b)).tolist() == want
    else:
        with pytest.raises(FixedPointOverflow):
            fmt.mul(np.array(a), np.array(b))
    assert fmt.mul(np.array(a), np.array(b), saturate=True).tolist() == [min(max(w, fmt.lo), fmt.hi) for w in want]


@settings(max_examples=150)
@given(st.data())
def test_matmul_exact_single_rounding(data):
    p = data.draw(st.integers(2, 32))
    fmt = FixedPoint(p, data.draw(st.integers(0, p - 1)))
    n, m = data.draw(st.integers(1, 6)), data.draw(st.integers(1, 4))
    a = data.draw(st.lists(raws(fmt, n), min_size=2, max_size=2))
    w = data.draw(st.lists(raws(fmt, m), min_size=n, max_size=n))
    bias = data.draw(raws(fmt, m))
    want = [
        [
            oracle_round(Fraction(sum(a[r][j] * w[j][c] for j in range(n)) + bias[c] * 2**fmt.f, 2**fmt.f))
            for c in range(m)
        ]
        for r in range(2)
    ]
    got = fmt.matmul(np.array(a), np.array(w), bias=np.array(bias), saturate=True).tolist()
    assert got == [[min(max(v, fmt.lo), fmt.hi) for v in row] for row in want]
    exact = fmt.dot_exact(np.array(a), np.array(w))
    assert [[int(v) for v in row] for row in exact] == [
        [sum(a[r][j] * w[j][c] for j in range(n)) for c in range(m)] for r in range(2)
    ]


def test_dot_exact_paths_agree():
    # float64-BLAS, int64 and Python-int paths give the same integers.
    rng = np.random.default_rng(0)
    for p, n in ((12, 50), (24, 64), (24, 3000), (32, 3), (32, 40)):  # BLAS, BLAS, int64, objects
        fmt = FixedPoint(p, p // 2)
        a = rng.integers(fmt.lo, fmt.hi + 1, (5, n))
        w = rng.integers(fmt.lo, fmt.hi + 1, (n, 7))
        want = a.astype(object) @ w.astype(object)
        assert (fmt.dot_exact(a, w) == want).all()


@given(st.lists(st.integers(-(2**15), 2**15 - 1), min_size=1, max_size=60), st.randoms())
def test_sum_exact_and_order_independent(xs, rnd):
    fmt = FixedPoint(16, 8, acc_bits=32)
    ys = list(xs)
    rnd.shuffle(ys)
    assert int(fmt.sum(np.array(xs))) == sum(xs) == int(fmt.sum(np.array(ys)))
    # accumulation through matmul is order independent too
    w = np.array(xs)[:, None]
    ones = np.ones((1, len(xs)), dtype=np.int64)
    perm = np.array(ys)[:, None]
    assert fmt.dot_exact(ones, w).tolist() == fmt.dot_exact(ones, perm).tolist() == [[sum(xs)]]


def test_sum_overflow_names_accumulator():
    fmt = FixedPoint(4, 0, acc_bits=6)
    with pytest.raises(FixedPointOverflow, match="6-bit accumulator"):
        fmt.sum(np.array([7, 7, 7, 7, 7]))


@given(
    formats.flatmap(lambda pf: st.tuples(st.just(FixedPoint(*pf)), raws(FixedPoint(*pf), 6), raws(FixedPoint(*pf), 6)))
)
def test_add_overflow_raises(args):
    fmt, a, b = args
    want = [x + y for x, y in zip(a, b, strict=True)]
    if all(fmt.lo <= w <= fmt.hi for w in want):
        assert fmt.add(np.array(a), np.array(b)).tolist() == want
    else:
        with pytest.raises(FixedPointOverflow, match=r"range"):
            fmt.add(np.array(a), np.array(b))


@given(
    formats.flatmap(lambda pf: st.tuples(st.just(FixedPoint(*pf)), raws(FixedPoint(*pf), 6), raws(FixedPoint(*pf), 6)))
)
def test_div_matches_oracle(args):
    fmt, a, b = args
    b = [x if x else 1 for x in b]
    want = [min(max(oracle_round(Fraction(x * 2**fmt.f, y)), fmt.lo), fmt.hi) for x, y in zip(a, b, strict=True)]
    assert fmt.div(np.array(a), np.array(b), saturate=True).tolist() == want


def test_div_by_zero_raises():
    with pytest.raises(FixedPointError, match="division by zero"):
        FixedPoint(8, 2).div(np.array([1]), np.array([0]))


@pytest.mark.parametrize("name", sorted(NONLINEARITIES))
@pytest.mark.parametrize("pf", [(8, 4), (12, 8), (16, 11)])
def test_nonlinearity_table_equals_definition(name, pf):
    """The tabulated map equals quantize(fn(value)) on every representable input."""
    fmt = FixedPoint(*pf)
    xs = np.arange(fmt.lo, fmt.hi + 1)
    y = NONLINEARITIES[name](xs / 2.0**fmt.f)
    want = np.clip(np.rint(np.nan_to_num(y * 2.0**fmt.f, posinf=1e300)), fmt.lo, fmt.hi).astype(np.int64)
    assert (fmt.apply(name, xs, saturate=True) == want).all()
    # the direct (untabulated) path is the same function
    assert (fmt.apply_fn(NONLINEARITIES[name], xs, saturate=True) == want).all()


def test_exp_overflow_raises_and_names_value():
    fmt = FixedPoint(8, 4)
    with pytest.raises(FixedPointOverflow, match=r"exp\(3.0\)"):
        fmt.exp(fmt.quantize([0.0, 3.0]))
    big = FixedPoint(20, 12)
    with pytest.raises(FixedPointOverflow, match="exp output"):
        big.exp(big.quantize([5.0]))


def test_high_precision_nonlinearities_are_deterministic():
    fmt = FixedPoint(24, 18)
    x = np.random.default_rng(1).integers(fmt.lo, fmt.hi, 10_000)
    a = fmt.tanh(x)
    b = np.concatenate([fmt.tanh(x[:3]), fmt.tanh(x[3:])])
    assert (a == b).all()
    assert np.abs(fmt.to_float(a) - np.tanh(fmt.to_float(x))).max() <= fmt.eps / 2


@given(formats.flatmap(lambda pf: st.tuples(st.just(FixedPoint(*pf)), raws(FixedPoint(*pf), 5))))
def test_encode_decode_roundtrip(args):
    fmt, a = args
    bits = fmt.encode(np.array(a))
    assert bits.shape == (5, fmt.p)
    assert fmt.decode(bits).tolist() == a


@pytest.mark.parametrize(
    "p, f, acc", [(1, 0, 0), (65, 0, 0), (True, 0, 0), (8, 8, 0), (8, -1, 0), (8, 2, 7), (8, 2, 65)]
)
def test_bad_formats_raise(p, f, acc):
    with pytest.raises(FixedPointError):
        FixedPoint(p, f, acc)


def test_non_finite_and_non_integer_inputs_raise():
    fmt = FixedPoint(8, 2)
    with pytest.raises(FixedPointError, match="not finite"):
        fmt.quantize([np.nan])
    with pytest.raises(FixedPointError, match="dtype float64"):
        fmt.add(np.array([0.5]), np.array([1]))
