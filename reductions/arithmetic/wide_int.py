"""Exact integers wider than int64, batched, for attention read-outs (docs/definitions.md §5).

Kernel attention reads its state out as ``φ(q)ᵀ S`` where ``S`` is an exact sum of
``φ(k) vᵀ`` over up to N positions: a product of three p-bit numbers summed over
N·m′ terms, about ``3p + log2(N·m′)`` bits — more than int64 holds at p = 24.  A
protocol reproduces the model bit for bit only if this read-out is exact, so
this module computes it exactly and fast:

- :func:`exact_matmul_terms` — ``a @ b`` for integer arrays as a short list of
  ``(T, shift)`` terms with ``a @ b = Σ T·2**shift``.  Operands are split into
  limbs so that every limb product is a float64 BLAS matmul whose partial sums
  are integers below 2**53 (hence exact, in any summation order).  How many
  limbs is decided from the operands' actual magnitudes; the *value* returned
  never depends on that choice.
- :class:`Wide` — a batch of integers ``hi·2**32 + lo`` (``hi`` int64,
  ``0 <= lo < 2**32``): about 95-bit signed values, built from terms.
- :func:`round_div_wide` — ``num / den`` rounded half to even (the one rounding
  rule of :mod:`reductions.arithmetic.fixed_point`), exactly.

The fixed-point layer itself (formats, rounding rule, overflow) is
:mod:`reductions.arithmetic.fixed_point`; this module only widens its exact accumulation.

Examples
--------
>>> a = np.array([[2**23 - 1, -(2**23)]]); b = np.array([[2**40], [2**40 + 3]])
>>> w = Wide.from_terms(exact_matmul_terms(a, b))
>>> int(w.to_object()[0, 0]) == (2**23 - 1) * 2**40 - 2**23 * (2**40 + 3)
True
>>> round_div_wide(Wide.from_int64(np.array([7, -5])), Wide.from_int64(np.array([2, 2]))).tolist()
[4, -2]
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from reductions.arithmetic.fixed_point import FixedPointError, FixedPointOverflow

__all__ = ["Wide", "exact_matmul_terms", "exact_matmul_int64", "round_div_wide", "magnitude_bits"]

_W = 32
_MASK = np.int64((1 << _W) - 1)
#: Every float64 limb product is arranged to stay at or below 2**_BUDGET (< 2**53: exact).
_BUDGET = 52
#: hi words stay below 2**_HI_BITS so that sums of a few of them cannot overflow int64.
_HI_BITS = 61


def magnitude_bits(x: np.ndarray) -> int:
    """Least ``b`` with ``|x| <= 2**b`` for every entry (0 for an empty or all-zero array).

    Examples
    --------
    >>> magnitude_bits(np.array([3, -4])), magnitude_bits(np.array([5])), magnitude_bits(np.zeros(2, np.int64))
    (2, 3, 0)
    """
    if x.size == 0:
        return 0
    m = int(np.abs(x).max()) if x.dtype != object else max(abs(int(v)) for v in x.flat)
    return max(0, (m - 1).bit_length()) if m > 0 else 0


def _limbs(x: np.ndarray, width: int, count: int) -> list[np.ndarray]:
    """``x = Σ_t limb_t · 2**(t·width)``: lower limbs in ``[0, 2**width)``, the top one signed."""
    out = []
    for t in range(count - 1):
        out.append(((x >> np.int64(t * width)) & np.int64((1 << width) - 1)).astype(np.float64))
    out.append((x >> np.int64((count - 1) * width)).astype(np.float64))
    return out


def exact_matmul_terms(
    a: np.ndarray, b: np.ndarray, a_bits: int | None = None, b_bits: int | None = None
) -> list[tuple[np.ndarray, int]]:
    """Exact ``a @ b`` of int64 arrays as terms ``(T, shift)``, ``a @ b = Σ T · 2**shift``.

    Every ``T`` is an int64 array of the matmul's shape with ``|T| < 2**53``.
    ``a_bits``/``b_bits`` bound the operands' magnitudes (``|a| <= 2**a_bits``);
    by default they are measured.  The operand with more bits is cut into
    limbs so that each float64 matmul is exact; if even that cannot work, both
    are cut.

    Examples
    --------
    >>> a = np.array([[3, -1]]); b = np.array([[5], [7]])
    >>> [(t.tolist(), s) for t, s in exact_matmul_terms(a, b)]
    [([[8]], 0)]
    """
    a = np.asarray(a, dtype=np.int64)
    b = np.asarray(b, dtype=np.int64)
    n = a.shape[-1]
    lg = (n - 1).bit_length() if n > 1 else 0  # n <= 2**lg
    ab = magnitude_bits(a) if a_bits is None else int(a_bits)
    bb = magnitude_bits(b) if b_bits is None else int(b_bits)
    budget = _BUDGET - lg
    if ab + bb <= budget:
        return [((a.astype(np.float64) @ b.astype(np.float64)).astype(np.int64), 0)]
    # Cut the wider operand into limbs of the width the other one leaves room for.
    for cut_b in ((bb >= ab), not (bb >= ab)):
        other, wide_bits = (ab, bb) if cut_b else (bb, ab)
        width = budget - other
        if width >= 1:
            count = -(-wide_bits // width)
            terms = []
            if cut_b:
                af = a.astype(np.float64)
                for t, limb in enumerate(_limbs(b, width, count)):
                    terms.append(((af @ limb).astype(np.int64), t * width))
            else:
                bf = b.astype(np.float64)
                for t, limb in enumerate(_limbs(a, width, count)):
                    terms.append(((limb @ bf).astype(np.int64), t * width))
            return terms
    # Both operands too wide for one side to absorb: cut both in halves of the budget.
    width = max(1, budget // 2)
    la, lb = _limbs(a, width, -(-ab // width)), _limbs(b, width, -(-bb // width))
    return [((x @ y).astype(np.int64), (i + j) * width) for i, x in enumerate(la) for j, y in enumerate(lb)]


def exact_matmul_int64(a: np.ndarray, b: np.ndarray, what: str = "exact sum") -> np.ndarray:
    """Exact ``a @ b`` as int64; raises :class:`FixedPointOverflow` if it may not fit.

    Examples
    --------
    >>> exact_matmul_int64(np.array([[2**30, 2**30]]), np.array([[2**30], [2**30]])).tolist()
    [[2305843009213693952]]
    """
    a = np.asarray(a, dtype=np.int64)
    b = np.asarray(b, dtype=np.int64)
    n = max(1, a.shape[-1])
    bound = n * (2 ** magnitude_bits(a)) * (2 ** magnitude_bits(b))
    if bound >= 2**63:
        raise FixedPointOverflow(f"{what} may reach {bound} (> 2**63 - 1); it does not fit an int64 accumulator")
    out = None
    for t, s in exact_matmul_terms(a, b):
        v = t << np.int64(s)
        out = v if out is None else out + v
    return out


@dataclass(frozen=True, eq=False)
class Wide:
    """A batch of exact integers ``hi·2**32 + lo`` with ``0 <= lo < 2**32`` (int64 arrays).

    Canonical: equal values have equal ``(hi, lo)``.  Magnitudes up to about
    2**92 are supported; building a larger value raises.

    Examples
    --------
    >>> w = Wide.from_terms([(np.array([-1]), 40), (np.array([5]), 0)])
    >>> int(w.to_object()[0]) == -(2**40) + 5, w.sign().tolist()
    (True, [-1])
    """

    hi: np.ndarray
    lo: np.ndarray

    @classmethod
    def from_int64(cls, x: np.ndarray) -> Wide:
        x = np.asarray(x, dtype=np.int64)
        return cls(x >> np.int64(_W), x & _MASK)

    @classmethod
    def from_terms(cls, terms: Iterable[tuple[np.ndarray, int]]) -> Wide:
        """``Σ T·2**shift`` for int64 arrays ``T`` (``|T| < 2**63``) and shifts ``>= 0``."""
        hi = lo = None
        for t, s in terms:
            t = np.asarray(t, dtype=np.int64)
            s = int(s)
            if s < 0:
                raise FixedPointError(f"shift {s} < 0; Wide terms are integers times 2**shift, shift >= 0")
            if s < _W:
                cut = np.int64(_W - s)
                th = t >> cut
                tl = (t - (th << cut)) << np.int64(s)  # in [0, 2**32)
            else:
                up = s - _W
                if t.size and magnitude_bits(t) + up > _HI_BITS:
                    raise FixedPointOverflow(
                        f"term of magnitude 2**{magnitude_bits(t) + s} exceeds the Wide range (2**{_HI_BITS + _W})"
                    )
                th, tl = t << np.int64(up), np.zeros_like(t)
            hi = th if hi is None else hi + th
            lo = tl if lo is None else lo + tl
        if hi is None:
            raise FixedPointError("Wide.from_terms needs at least one term")
        return cls._normal(hi, lo)

    @classmethod
    def _normal(cls, hi: np.ndarray, lo: np.ndarray) -> Wide:
        hi = hi + (lo >> np.int64(_W))
        if hi.size and magnitude_bits(hi) > _HI_BITS:
            raise FixedPointOverflow(f"value exceeds the Wide range (about 2**{_HI_BITS + _W})")
        return cls(hi, lo & _MASK)

    def __add__(self, other: Wide) -> Wide:
        return Wide._normal(self.hi + other.hi, self.lo + other.lo)

    def __neg__(self) -> Wide:
        return Wide._normal(-self.hi, -self.lo)

    def scale_small(self, c: np.ndarray) -> Wide:
        """``self * c`` for int64 ``c`` with ``|c| < 2**30`` (exact)."""
        c = np.asarray(c, dtype=np.int64)
        return Wide._normal(self.hi * c, self.lo * c)

    def sign(self) -> np.ndarray:
        """-1, 0 or 1 per entry."""
        return np.where(self.hi < 0, -1, np.where((self.hi > 0) | (self.lo > 0), 1, 0))

    def to_float(self) -> np.ndarray:
        """A float64 approximation (relative error below 2**-52)."""
        return self.hi.astype(np.float64) * float(2**_W) + self.lo.astype(np.float64)

    def to_object(self) -> np.ndarray:
        """The exact values as an object array of Python ints (for tests and oracles)."""
        return self.hi.astype(object) * (2**_W) + self.lo.astype(object)

    def where(self, mask: np.ndarray, other: Wide) -> Wide:
        return Wide(np.where(mask, self.hi, other.hi), np.where(mask, self.lo, other.lo))


def round_div_wide(num: Wide, den: Wide, zero: int | None = None, limit_bits: int = 30) -> np.ndarray:
    """``num / den`` rounded half to even, exactly, as int64.

    ``den == 0`` raises :class:`FixedPointError` unless ``zero`` is given (the
    value returned there).  Quotients of magnitude ``2**limit_bits`` or more
    (``limit_bits <= 30``) raise :class:`FixedPointOverflow`.

    Examples
    --------
    >>> n = Wide.from_terms([(np.array([5, 7, -7, 1]), 70)])
    >>> d = Wide.from_terms([(np.array([2, 2, 2, 0]), 70)])
    >>> round_div_wide(n, d, zero=0).tolist()
    [2, 4, -4, 0]
    """
    if not 1 <= limit_bits <= 30:
        raise FixedPointError(f"limit_bits = {limit_bits}; need 1 <= limit_bits <= 30")
    zmask = (den.hi == 0) & (den.lo == 0)
    if zmask.any() and zero is None:
        raise FixedPointError("division by zero: a wide denominator is 0")
    # Make den > 0 (flip both signs), and den = 1, num = 0 where den was 0.
    flip = np.where(den.hi < 0, -1, 1)
    den = den.scale_small(flip)
    num = num.scale_small(flip)
    den = Wide(np.where(zmask, 0, den.hi), np.where(zmask, 1, den.lo))
    num = Wide(np.where(zmask, 0, num.hi), np.where(zmask, 0, num.lo))
    # Float estimate: within 1 of the exact nearest integer while |q| < 2**30.
    with np.errstate(over="ignore", invalid="ignore"):
        q = num.to_float() / den.to_float()
    ok = np.abs(q) < 2.0**limit_bits
    if not ok.all():
        raise FixedPointOverflow(f"quotient {q[~ok].flat[0]!r} exceeds 2**{limit_bits}")
    y0 = np.rint(q).astype(np.int64)
    # r = num - y0·den exactly (|y0·den| is about |num|, so no word overflows); compare 2r with ±den.
    r = num + den.scale_small(-y0)
    two_r = r + r
    up = (two_r + (-den)).sign()  # sign(2r - den): above the upper half-way point
    down = (two_r + den).sign()  # sign(2r + den): below the lower half-way point
    odd = ((y0 & 1) == 1).astype(np.int64)
    y = y0 + (up > 0) - (down < 0) + (up == 0) * odd - (down == 0) * odd
    return np.where(zmask, np.int64(0 if zero is None else zero), y)
