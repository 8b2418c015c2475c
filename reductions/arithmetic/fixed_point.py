"""Fixed-point arithmetic that every kparty model computes in (docs/definitions.md §7).

A model compiled into a protocol must give the protocol's output *bit for bit*,
whatever the split of the sequence.  That holds when the model is a pure,
deterministic function of integers.  This module is that integer world.

API used by every model family (``from reductions.arithmetic.fixed_point import FixedPoint``)
----------------------------------------------------------------------------------
``fmt = FixedPoint(p, f, acc_bits=None)`` — a frozen format: ``p`` total bits
including the sign (2 <= p <= 64), ``f`` fractional bits (0 <= f < p).  A real
``x`` is stored as the *raw* int64 ``r = round(x * 2**f)``; valid raws are
``fmt.lo .. fmt.hi`` = ``-2**(p-1) .. 2**(p-1)-1``.  ``acc_bits`` (default
``min(2p, 64)``) is the width of *accumulators*: sums of many values at scale
``2**-f`` (e.g. partial attention numerators) that a protocol message may hold.

Every function takes and returns raw ``int64`` arrays of any shape (leading
batch axes welcome) and never mutates its inputs.

- Rounding (the ONE rule): **round half to even** — to the nearest multiple of
  the target step, ties to the even multiple.  Used by :meth:`FixedPoint.quantize`,
  by every product/matmul rescale (``>> f``), by :meth:`FixedPoint.div` and by the
  nonlinearities.  :func:`round_shift` and :func:`round_div` are the integer
  primitives.
- Overflow: any result outside ``lo..hi`` raises :class:`FixedPointOverflow`
  naming the value, the format and the range.  ``saturate=True`` clips instead;
  pass it only where a model's definition says its quantity saturates.
- ``quantize(x, saturate=False)`` float -> raw; ``to_float(raw)`` raw -> float64
  (exact for p <= 53, else rounded to nearest).  ``check(raw)``, ``clip(raw)``.
- ``add(a, b)``, ``sub(a, b)``, ``neg(a)``: exact, then range-checked.
- ``mul(a, b)``: exact product (scale 2**-2f), one rounding to scale 2**-f.
- ``matmul(a, w, bias=None)``: ``a @ w (+ bias)`` with **exact integer
  accumulation** (order-independent: all partial sums are exact integers), a
  single rounding at the end; ``lin = fmt.linear(w, bias)`` prepares a weight
  used at every position (``lin(a, saturate=...)``, same result, faster).
  ``dot_exact(a, w)`` returns the unrounded accumulator at scale 2**-2f
  (int64, or Python ints in an object array when int64 could overflow).
- ``rescale(raw, from_f)``: raws at another scale -> this one (rounded).
- ``sum(raw, axis)``: exact sum at scale 2**-f, checked against ``acc_bits``
  (:meth:`check_acc`); ``narrow(acc)`` brings an accumulator back to p bits.
- ``div(num, den)``: ``num / den`` (raws at any common scale) rounded half to
  even to scale 2**-f; ``den == 0`` raises.
- Nonlinearities ``tanh, sigmoid, exp, softplus, silu`` (and ``apply(name, raw)``,
  plus ``apply_fn(fn, raw)`` for any float64 ufunc-like ``fn``): defined as
  ``quantize(fn(to_float(raw)))`` — evaluate in float64 *from the exact value*
  and round half to even.  For ``p <= 16`` the whole map is tabulated once (a cache
  of the same definition) and applied by lookup, which is both faster and makes
  the function literally a table.  ``exp`` overflows (raises) above the range;
  attention subtracts a fixed offset first (``exp(sub(x, c))``).  ``tanh`` and
  ``sigmoid`` saturate (their range only leaves the format when f = p-1).
  Determinism: the float64 functions are numpy/scipy ufuncs, evaluated
  elementwise, so the same raw gives the same result in any array shape —
  which is what makes a split-up computation (a protocol) reproduce the
  whole one.
- Errors: :class:`FixedPointError` (a ValueError) for misuse,
  :class:`FixedPointOverflow` for values that do not fit.
- Bits: ``fmt.raw_codec`` is :class:`protocols.bits.SInt` ``(p)`` and
  ``fmt.acc_raw_codec`` is ``SInt(acc_bits)`` — the codecs to put in a
  :class:`protocols.bits.Record` of **raw** values (what models hold);
  ``fmt.codec`` / ``fmt.acc_codec`` are the real-valued
  :class:`protocols.bits.Fixed` ``(p, f)`` / ``(acc_bits, f)`` views of the same
  bits.  ``encode(raw)``/``decode(bits)`` go through them (no hand-rolled packing).

Speed: ``matmul`` multiplies in float64 BLAS when the bound
``n * max|a| * max|w| < 2**53`` proves every partial sum is an exact integer
(true for typical model sizes), else in int64 numpy when ``< 2**63``.  Beyond
that (p > 32: products reach 2p bits) the rounded result is recovered exactly
from the float64 sum and the same sum modulo 2**64
(:mod:`reductions.arithmetic.residues`), and only where that cannot be proven
(formats near 64 bits, values that overflow anyway) with Python integers.
``mul`` does the same elementwise.  All paths give the same integers by
construction.

Examples
--------
>>> fmt = FixedPoint(8, 4)
>>> r = fmt.quantize(np.array([0.5, -1.25, 2.03125]))
>>> r.tolist(), fmt.to_float(r).tolist()
([8, -20, 32], [0.5, -1.25, 2.0])
>>> fmt.to_float(fmt.mul(r[:1], r[1:2])).tolist()
[-0.625]
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.special import expit

from protocols.bits import Fixed, SInt
from protocols.validation import check_int
from reductions.arithmetic.residues import matmul_residues, product_residues, rounded_quotient
from reductions.errors import ReductionsError

__all__ = [
    "FixedPoint",
    "Linear",
    "FixedPointError",
    "FixedPointOverflow",
    "round_shift",
    "round_div",
    "NONLINEARITIES",
    "TABLE_MAX_BITS",
    "MAX_BITS",
]

#: The widest format: raws are int64 (wider products and sums are computed exactly).
MAX_BITS = 64

#: Formats with p <= TABLE_MAX_BITS tabulate each nonlinearity (2**p entries).
TABLE_MAX_BITS = 16

_F53 = 2.0**53
_I63 = 2**63 - 1
_IMIN = -(2**63)


class FixedPointError(ReductionsError):
    """A fixed-point format or operation is misused (bad format, bad operand)."""


class FixedPointOverflow(FixedPointError):
    """A value does not fit its fixed-point format and the model does not saturate there."""


def _softplus(x: np.ndarray) -> np.ndarray:
    return np.logaddexp(0.0, x)


def _silu(x: np.ndarray) -> np.ndarray:
    return x * expit(x)


#: Float64 definitions of the named nonlinearities (vectorised, deterministic).
NONLINEARITIES: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "tanh": np.tanh,
    "sigmoid": expit,
    "exp": np.exp,
    "softplus": _softplus,
    "silu": _silu,
}

_TABLES: dict[tuple[int, int, str], tuple[np.ndarray, np.ndarray]] = {}



def _maxabs(x: np.ndarray) -> float:
    """``max |x|`` as a float (0 for an empty array); safe at -2**63, where ``np.abs`` wraps."""
    return max(-float(x.min()), float(x.max())) if x.size else 0.0


def _as_int(x: Any, what: str = "raw value") -> np.ndarray:
    a = np.asarray(x)
    if a.dtype == object:
        return a
    if a.dtype.kind not in "iub":
        raise FixedPointError(f"{what} has dtype {a.dtype}; fixed-point raws are integers")
    if a.dtype == np.uint64 and a.size and a.max() > _I63:
        return a.astype(object)  # beyond int64: keep the value (a range check will refuse it)
    return a.astype(np.int64, copy=False)


def round_shift(x: Any, s: int) -> np.ndarray:
    """``x / 2**s`` rounded half to even, exactly, for integer arrays ``x``.

    ``s <= 0`` multiplies by ``2**-s`` (exact).  Object arrays of Python ints
    are accepted (results stay objects).

    Examples
    --------
    >>> round_shift(np.array([5, 6, 7, -5, -6, -7, 2, -2]), 2).tolist()
    [1, 2, 2, -1, -2, -2, 0, 0]
    """
    x = _as_int(x)
    if s <= 0:
        if x.dtype != object and x.size and _maxabs(x) * 2.0 ** (-s) >= 2.0**63:
            x = x.astype(object)  # the shifted value leaves int64: exact Python ints, never a wrap
        return x * (2 ** (-s)) if x.dtype == object else x << np.int64(-s)
    if x.dtype == object:
        q = x // (2**s)
        r = x - q * (2**s)
        half = 2 ** (s - 1)
        up = (r > half) | ((r == half) & (q % 2 == 1))
        return q + up.astype(object)
    q = x >> np.int64(s)  # floor division by 2**s
    r = x - (q << np.int64(s))
    half = np.int64(1) << np.int64(s - 1)
    up = (r > half) | ((r == half) & ((q & 1) == 1))
    return q + up


def round_div(num: Any, den: Any) -> np.ndarray:
    """``num / den`` rounded half to even, exactly, for integer arrays (``den != 0``).

    Examples
    --------
    >>> round_div(np.array([7, 5, -5, 3, 9]), np.array([2, 2, 2, -2, 3])).tolist()
    [4, 2, -2, -2, 3]
    """
    num, den = _as_int(num, "numerator"), _as_int(den, "denominator")
    if np.any(den == 0):
        raise FixedPointError("division by zero: a denominator raw value is 0")
    if num.dtype != object and den.dtype != object and min(num.min(initial=0), den.min(initial=0)) == _IMIN:
        num, den = num.astype(object), den.astype(object)  # -(-2**63) leaves int64
    sign = np.where(den < 0, -1, 1)
    if num.dtype == object or den.dtype == object:
        sign = sign.astype(object)
    num, den = num * sign, den * sign  # den > 0 from here on
    q = num // den
    r = num - q * den  # 0 <= r < den
    rest = den - r  # compare r with den - r: 2r would leave int64 for den > 2**62
    up = (r > rest) | ((r == rest) & (q % 2 == 1))
    return q + (up.astype(object) if q.dtype == object else up)


@dataclass(frozen=True)
class FixedPoint:
    """Signed fixed point with ``p`` bits (sign included), ``f`` of them fractional.

    See the module docstring for the full contract (rounding rule, overflow,
    exact accumulation, nonlinearities).  Values are raw int64 arrays.

    Parameters
    ----------
    p : total bits, 2..64 (raws are int64; products wider than 64 bits are
        computed exactly, see the module docstring).
    f : fractional bits, 0 <= f < p.
    acc_bits : width of accumulators (sums at scale 2**-f), p..64; default min(2p, 64).

    Examples
    --------
    >>> fmt = FixedPoint(16, 12)
    >>> fmt.lo, fmt.hi, fmt.max_value
    (-32768, 32767, 7.999755859375)
    >>> fmt.quantize(np.array([9.0]))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    reductions.arithmetic.fixed_point.FixedPointOverflow: value 9.0 does not fit FixedPoint(p=16, f=12)...
    >>> fmt.quantize(np.array([9.0]), saturate=True).tolist()
    [32767]
    """

    p: int
    f: int
    acc_bits: int = field(default=0)

    def __post_init__(self) -> None:
        check_int("p", self.p, low=2, high=MAX_BITS, error=FixedPointError)  # total bits, sign included
        check_int("f", self.f, low=0, high=self.p - 1, error=FixedPointError)  # fractional bits
        acc = self.acc_bits or min(2 * int(self.p), 64)
        if not self.p <= acc <= 64:
            raise FixedPointError(f"acc_bits = {self.acc_bits}; need p = {self.p} <= acc_bits <= 64")
        object.__setattr__(self, "p", int(self.p))
        object.__setattr__(self, "f", int(self.f))
        object.__setattr__(self, "acc_bits", int(acc))

    def __repr__(self) -> str:
        extra = "" if self.acc_bits == min(2 * self.p, 64) else f", acc_bits={self.acc_bits}"
        return f"FixedPoint(p={self.p}, f={self.f}{extra})"

    # -- range ------------------------------------------------------------
    @property
    def lo(self) -> int:
        """Smallest raw value, ``-2**(p-1)``."""
        return -(2 ** (self.p - 1))

    @property
    def hi(self) -> int:
        """Largest raw value, ``2**(p-1) - 1``."""
        return 2 ** (self.p - 1) - 1

    @property
    def one(self) -> int:
        """Raw value of 1.0 (``2**f``); may exceed ``hi`` when f = p-1."""
        return 2**self.f

    @property
    def eps(self) -> float:
        """The step ``2**-f``."""
        return 2.0**-self.f

    @property
    def min_value(self) -> float:
        return self.lo * self.eps

    @property
    def max_value(self) -> float:
        return self.hi * self.eps

    @property
    def acc_lo(self) -> int:
        return -(2 ** (self.acc_bits - 1))

    @property
    def acc_hi(self) -> int:
        return 2 ** (self.acc_bits - 1) - 1

    # -- bits ---------------------------------------------------------------
    @property
    def raw_codec(self) -> SInt:
        """:class:`protocols.bits.SInt` codec of p-bit raws (use this in Records of raw values).

        Examples
        --------
        >>> fmt = FixedPoint(6, 2)
        >>> bool((fmt.raw_codec.encode(np.array([5])) == fmt.codec.encode(np.array([1.25]))).all())
        True
        """
        return SInt(self.p)

    @property
    def acc_raw_codec(self) -> SInt:
        """:class:`protocols.bits.SInt` codec of accumulator raws (acc_bits wide)."""
        return SInt(self.acc_bits)

    @property
    def codec(self) -> Fixed:
        """:class:`protocols.bits.Fixed` codec for p-bit values given as reals (same bits as raw_codec)."""
        return Fixed(self.p, self.f)

    @property
    def acc_codec(self) -> Fixed:
        """:class:`protocols.bits.Fixed` codec for accumulators (acc_bits wide)."""
        return Fixed(self.acc_bits, self.f)

    def encode(self, raw: Any) -> np.ndarray:
        """``(...,)`` raws -> ``(..., p)`` bits (two's complement, MSB first).

        Examples
        --------
        >>> FixedPoint(4, 1).encode(np.array([-1, 3])).tolist()
        [[1, 1, 1, 1], [0, 0, 1, 1]]
        """
        return self.raw_codec.encode(self.check(raw))

    def decode(self, bits: Any) -> np.ndarray:
        """Inverse of :meth:`encode`: ``(..., p)`` bits -> int64 raws."""
        return self.raw_codec.decode(bits)

    # -- conversions and checks ---------------------------------------------
    def _fail(self, raw: np.ndarray, bad: np.ndarray, what: str, lo: int, hi: int, width: int) -> None:
        v = raw[bad].flat[0]
        label = f"FixedPoint(p={self.p}, f={self.f})" if width == self.p else f"{width}-bit accumulator of {self!r}"
        raise FixedPointOverflow(
            f"{what} {int(v) * self.eps!r} (raw {int(v)}) does not fit {label}: "
            f"range {lo * self.eps!r} .. {hi * self.eps!r}"
        )

    def _fit(self, raw: np.ndarray, saturate: bool, what: str, lo: int | None = None, hi: int | None = None,
             width: int | None = None) -> np.ndarray:
        lo = self.lo if lo is None else lo
        hi = self.hi if hi is None else hi
        if raw.dtype == object:
            if saturate:
                raw = np.minimum(np.maximum(raw, lo), hi)
            else:
                bad = (raw < lo) | (raw > hi)
                if np.any(bad):
                    self._fail(raw, bad, what, lo, hi, width or self.p)
            return raw.astype(np.int64)
        if saturate:
            return np.clip(raw, lo, hi)
        if raw.size:
            mn, mx = raw.min(), raw.max()
            if mn < lo or mx > hi:
                self._fail(raw, (raw < lo) | (raw > hi), what, lo, hi, width or self.p)
        return raw

    def check(self, raw: Any, what: str = "value") -> np.ndarray:
        """Return ``raw`` as int64 after checking it fits p bits (else :class:`FixedPointOverflow`).

        Examples
        --------
        >>> FixedPoint(4, 0).check(np.array([7, -8])).tolist()
        [7, -8]
        """
        return self._fit(_as_int(raw), False, what)

    def clip(self, raw: Any) -> np.ndarray:
        """Saturate raws to ``lo..hi`` (for quantities a model defines as saturating).

        Examples
        --------
        >>> FixedPoint(4, 0).clip(np.array([9, -9, 3])).tolist()
        [7, -8, 3]
        """
        return self._fit(_as_int(raw), True, "value")

    def check_acc(self, raw: Any, what: str = "accumulator") -> np.ndarray:
        """Check raws fit the ``acc_bits``-wide accumulator (else :class:`FixedPointOverflow`)."""
        return self._fit(_as_int(raw), False, what, self.acc_lo, self.acc_hi, self.acc_bits)

    def narrow(self, acc: Any, saturate: bool = False) -> np.ndarray:
        """An accumulator (scale 2**-f) back to p bits: range-checked (or saturated)."""
        return self._fit(_as_int(acc), saturate, "accumulator value")

    def quantize(self, x: Any, saturate: bool = False, what: str = "value") -> np.ndarray:
        """Float -> raw: ``round_half_even(x * 2**f)``, range-checked (or saturated).

        Examples
        --------
        >>> FixedPoint(8, 1).quantize(np.array([0.25, 0.75, -0.25, 1.2])).tolist()
        [0, 2, 0, 2]
        """
        x = np.asarray(x, dtype=np.float64)
        if x.size and not np.isfinite(x).all():
            raise FixedPointError(f"{what} {x[~np.isfinite(x)].flat[0]} is not finite; fixed point holds finite reals")
        scaled = np.rint(np.ldexp(x, self.f))  # ldexp is exact; rint rounds half to even
        top = 2.0 ** (self.p - 1)  # hi + 1, exact in float64 (hi itself is not when p > 53)
        bad = (scaled < -top) | (scaled >= top)
        if not saturate and bad.any():
            v = x[bad].flat[0]
            raise FixedPointOverflow(
                f"{what} {float(v)!r} does not fit FixedPoint(p={self.p}, f={self.f}): "
                f"range {self.min_value!r} .. {self.max_value!r}"
            )
        out = np.clip(scaled, -top, np.nextafter(top, 0.0)).astype(np.int64)
        if saturate and self.p > 53:
            out[scaled >= top] = self.hi  # the float just below 2**(p-1) is not hi
        return out

    def to_float(self, raw: Any) -> np.ndarray:
        """Raw -> float64 real value (exact for p <= 53; wider raws are rounded to nearest).

        Examples
        --------
        >>> FixedPoint(8, 2).to_float(np.array([5, -3])).tolist()
        [1.25, -0.75]
        """
        return np.ldexp(np.asarray(raw).astype(np.float64), -self.f)

    # -- arithmetic -----------------------------------------------------------
    def _wide(self, x: np.ndarray) -> np.ndarray:
        # p = 64: a sum or negation of two raws may leave int64; Python ints never wrap (cold path).
        return x.astype(object) if self.p == 64 and x.dtype != object else x

    def add(self, a: Any, b: Any, saturate: bool = False) -> np.ndarray:
        """Exact sum, range-checked (or saturated)."""
        return self._fit(self._wide(_as_int(a)) + self._wide(_as_int(b)), saturate, "sum")

    def sub(self, a: Any, b: Any, saturate: bool = False) -> np.ndarray:
        """Exact difference, range-checked (or saturated)."""
        return self._fit(self._wide(_as_int(a)) - self._wide(_as_int(b)), saturate, "difference")

    def neg(self, a: Any, saturate: bool = False) -> np.ndarray:
        """Exact negation, range-checked (or saturated)."""
        return self._fit(-self._wide(_as_int(a)), saturate, "negation")

    def mul(self, a: Any, b: Any, saturate: bool = False) -> np.ndarray:
        """``a * b``: exact product, rounded half to even to scale 2**-f, range-checked.

        For p <= 32 the product is an int64; wider formats recover the rounded
        product exactly from its float64 value and its residue mod 2**64, or
        with Python integers where that cannot be proven.

        Examples
        --------
        >>> fmt = FixedPoint(8, 2)          # step 0.25
        >>> fmt.to_float(fmt.mul(fmt.quantize([1.5, 0.5]), fmt.quantize([0.25, 0.75]))).tolist()
        [0.5, 0.5]
        """
        a, b = _as_int(a), _as_int(b)
        if self.p > 32 and a.dtype != object and b.dtype != object:
            y = rounded_quotient(*product_residues(a, b), 2**self.f) if self.f < 52 else None
            if y is not None:
                return self._fit(y, saturate, "product")
            a = a.astype(object)
        return self._fit(round_shift(a * b, self.f), saturate, "product")

    def rescale(self, raw: Any, from_f: int, saturate: bool = False) -> np.ndarray:
        """Raws at scale ``2**-from_f`` -> this format's scale, rounded half to even, range-checked."""
        return self._fit(round_shift(_as_int(raw), from_f - self.f), saturate, "rescaled value")

    def dot_exact(self, a: Any, w: Any) -> np.ndarray:
        """Exact ``a @ w`` of raws (scale 2**-2f): int64, or an object array of Python ints.

        Integer sums are associative, so the result does not depend on the
        order of accumulation; the path (float64 BLAS, int64, Python ints) is
        chosen by a bound that proves it exact.

        Examples
        --------
        >>> fmt = FixedPoint(32, 0)
        >>> big = np.full((1, 4), 2**31 - 1)
        >>> fmt.dot_exact(big, big.T)[0, 0] == 4 * (2**31 - 1) ** 2
        True
        """
        a, w = _as_int(a, "left operand"), _as_int(w, "right operand")
        if a.dtype == object or w.dtype == object:
            return a.astype(object) @ w.astype(object)
        n = a.shape[-1] if a.ndim else 1
        if a.size == 0 or w.size == 0:
            return (a @ w).astype(np.int64)
        bound = float(n) * _maxabs(a) * _maxabs(w)
        if bound < _F53:
            return (a.astype(np.float64) @ w.astype(np.float64)).astype(np.int64)
        if bound <= _I63:
            return a @ w
        return a.astype(object) @ w.astype(object)

    def matmul(self, a: Any, w: Any, bias: Any = None, saturate: bool = False,
               what: str = "matmul result") -> np.ndarray:
        """``a @ w + bias`` with exact integer accumulation and ONE rounding (half to even).

        ``a`` (..., n) and ``w`` (n, m) are raws at scale 2**-f; ``bias`` (m,) too.
        For a weight used many times, :meth:`linear` prepares it once (faster, same result).

        Examples
        --------
        >>> fmt = FixedPoint(12, 4)
        >>> a, w = fmt.quantize([[0.5, 1.0]]), fmt.quantize([[0.25], [-0.125]])
        >>> fmt.to_float(fmt.matmul(a, w, bias=fmt.quantize([1.0]))).tolist()
        [[1.0]]
        """
        return Linear(self, w, bias)(a, saturate=saturate, what=what)

    def linear(self, w: Any, bias: Any = None) -> Linear:
        """A prepared map ``a -> a @ w + bias`` (see :class:`Linear`); same results as :meth:`matmul`.

        Examples
        --------
        >>> fmt = FixedPoint(12, 4)
        >>> lin = fmt.linear(fmt.quantize([[0.25], [-0.125]]), fmt.quantize([1.0]))
        >>> fmt.to_float(lin(fmt.quantize([[0.5, 1.0]]))).tolist()
        [[1.0]]
        """
        return Linear(self, w, bias)

    def _matmul_exact(self, a: np.ndarray, w: np.ndarray, bias: np.ndarray | None, saturate: bool,
                      what: str) -> np.ndarray:
        if self._int64_overflows(a, w, bias):
            # wider than int64: the rounded sum from its float64 value and its residue mod 2**64
            extra = None if bias is None else round_shift(bias, -self.f)
            y = None if extra is not None and extra.dtype == object else rounded_quotient(
                *matmul_residues(a, w, extra), 2**self.f)
            if y is not None:
                return self._fit(y, saturate, what)
        acc = self.dot_exact(a, w)
        if bias is not None:
            scaled = round_shift(bias, -self.f)  # Python ints if bias * 2**f leaves int64
            if acc.dtype == object or scaled.dtype == object or (
                    acc.size and _maxabs(acc) + _maxabs(scaled) >= 2.0**63):
                acc, scaled = acc.astype(object), scaled.astype(object)
            acc = acc + scaled
        return self._fit(round_shift(acc, self.f), saturate, what)

    def _int64_overflows(self, a: np.ndarray, w: np.ndarray, bias: np.ndarray | None) -> bool:
        """Whether ``a @ w + bias·2**f`` may leave int64 (and the residue path applies: f < 52)."""
        if a.dtype == object or w.dtype == object or (bias is not None and bias.dtype == object):
            return False
        if not a.size or not w.size or self.f >= 52:
            return False
        n = a.shape[-1] if a.ndim else 1
        bound = float(n) * _maxabs(a) * _maxabs(w)
        if bias is not None and bias.size:
            bound += _maxabs(bias) * 2.0**self.f
        return bound > _I63

    def sum(self, raw: Any, axis: int | tuple[int, ...] | None = None, what: str = "sum") -> np.ndarray:
        """Exact sum along ``axis`` at scale 2**-f, checked against ``acc_bits``.

        Examples
        --------
        >>> fmt = FixedPoint(4, 0, acc_bits=6)
        >>> fmt.sum(np.array([[7, 7, 7], [-8, -8, -8]]), axis=1).tolist()
        [21, -24]
        """
        x = _as_int(raw)
        if x.dtype != object and x.size:
            terms = x.size if axis is None else int(np.prod([x.shape[i] for i in np.atleast_1d(axis)]))
            if float(terms) * _maxabs(x) > _I63:
                x = x.astype(object)
        return self.check_acc(np.sum(x, axis=axis), what)

    def div(self, num: Any, den: Any, saturate: bool = False) -> np.ndarray:
        """``num / den`` rounded half to even to scale 2**-f (raws at any common scale).

        Examples
        --------
        >>> fmt = FixedPoint(8, 4)
        >>> fmt.to_float(fmt.div(np.array([1, 2]), np.array([3, -3]))).tolist()
        [0.3125, -0.6875]
        """
        n, d = _as_int(num, "numerator"), _as_int(den, "denominator")
        if n.dtype != object and n.size and _maxabs(n) * 2.0**self.f > _I63:
            n = n.astype(object)
        scaled = n * (2**self.f)
        return self._fit(round_div(scaled, d), saturate, "quotient")

    # -- nonlinearities -------------------------------------------------------
    def _table(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        key = (self.p, self.f, name)
        if key not in _TABLES:
            xs = np.arange(self.lo, self.hi + 1, dtype=np.int64)
            y = np.ldexp(NONLINEARITIES[name](self.to_float(xs)), self.f)
            with np.errstate(invalid="ignore"):
                scaled = np.rint(y)
            over = ~np.isfinite(scaled) | (scaled < self.lo) | (scaled > self.hi)
            table = np.clip(np.nan_to_num(scaled, posinf=self.hi, neginf=self.lo), self.lo, self.hi).astype(np.int64)
            table.flags.writeable = False
            over.flags.writeable = False
            _TABLES[key] = (table, over)
        return _TABLES[key]

    def apply(self, name: str, raw: Any, saturate: bool = False) -> np.ndarray:
        """The named nonlinearity: ``quantize(fn(to_float(raw)))``, round half to even.

        Examples
        --------
        >>> fmt = FixedPoint(10, 6)
        >>> fmt.to_float(fmt.apply("tanh", fmt.quantize([0.0, 1.0, -7.0]))).tolist()
        [0.0, 0.765625, -1.0]
        """
        if name not in NONLINEARITIES:
            raise FixedPointError(f"unknown nonlinearity {name!r}; known: {sorted(NONLINEARITIES)}")
        x = self.check(raw, f"input of {name}")
        if self.p <= TABLE_MAX_BITS:
            table, over = self._table(name)
            idx = x - self.lo
            if not saturate and over[idx].any():
                v = x[over[idx]].flat[0]
                raise FixedPointOverflow(
                    f"{name}({int(v) * self.eps!r}) does not fit FixedPoint(p={self.p}, f={self.f}): "
                    f"range {self.min_value!r} .. {self.max_value!r}"
                )
            return table[idx]
        return self.apply_fn(NONLINEARITIES[name], x, saturate, what=f"{name} output")

    def apply_fn(self, fn: Callable[[np.ndarray], np.ndarray], raw: Any, saturate: bool = False,
                 what: str = "function output") -> np.ndarray:
        """Any float64 function as a fixed-point map: ``quantize(fn(to_float(raw)))``."""
        with np.errstate(over="ignore"):
            y = np.asarray(fn(self.to_float(self.check(raw))), dtype=np.float64)
        if saturate:
            y = np.nan_to_num(y, posinf=self.max_value, neginf=self.min_value)
        return self.quantize(y, saturate=saturate, what=what)

    def tanh(self, raw: Any) -> np.ndarray:
        """Fixed-point tanh (never overflows when f < p-1; saturates at ±1 otherwise)."""
        return self.apply("tanh", raw, saturate=True)

    def sigmoid(self, raw: Any) -> np.ndarray:
        """Fixed-point logistic sigmoid (saturates only when 1.0 is not representable)."""
        return self.apply("sigmoid", raw, saturate=True)

    def exp(self, raw: Any, saturate: bool = False) -> np.ndarray:
        """Fixed-point exp; raises above the range unless ``saturate``."""
        return self.apply("exp", raw, saturate)

    def softplus(self, raw: Any, saturate: bool = False) -> np.ndarray:
        """Fixed-point softplus ``log(1 + e^x)``; raises above the range unless ``saturate``."""
        return self.apply("softplus", raw, saturate)

    def silu(self, raw: Any, saturate: bool = False) -> np.ndarray:
        """Fixed-point SiLU ``x * sigmoid(x)``."""
        return self.apply("silu", raw, saturate)


class Linear:
    """``a -> a @ w + bias`` in a :class:`FixedPoint` format, with ``w`` prepared once.

    Exact integer accumulation and one rounding (half to even), exactly as
    :meth:`FixedPoint.matmul`.  When ``n * max|a| * max|w| + max|bias| * 2**f <
    2**53`` every partial sum is an exact integer in float64, so the product
    runs in float64 BLAS and ``rint(acc * 2**-f)`` (an exact scaling) rounds
    half to even; otherwise it falls back to exact int64/Python-int
    accumulation.  ``w`` is ``(n, m)`` raws, ``bias`` ``(m,)`` raws or None.

    Examples
    --------
    >>> fmt = FixedPoint(8, 2)
    >>> lin = Linear(fmt, np.array([[4], [2]]), np.array([1]))    # 1.0, 0.5; bias 0.25
    >>> lin(np.array([[1, 1]])).tolist()                          # 0.25*1 + 0.25*0.5 + 0.25 = 0.625 -> 0.5
    [[2]]
    """

    __slots__ = ("fmt", "w", "bias", "_wf", "_bf", "_wmax", "_bmax")

    def __init__(self, fmt: FixedPoint, w: Any, bias: Any = None) -> None:
        self.fmt = fmt
        self.w = _as_int(w, "weight")
        self.bias = None if bias is None else _as_int(bias, "bias")
        exactf = self.w.dtype != object and (self.bias is None or self.bias.dtype != object)
        self._wmax = _maxabs(self.w) if exactf and self.w.size else 0.0
        has_bias = exactf and self.bias is not None and self.bias.size
        self._bmax = _maxabs(self.bias) * 2.0**fmt.f if has_bias else 0.0
        if exactf and self._wmax * max(1, self.w.shape[0] if self.w.ndim else 1) < _F53 and self._bmax < _F53:
            self._wf = self.w.astype(np.float64)
            self._bf = None if self.bias is None else np.ldexp(self.bias.astype(np.float64), fmt.f)
        else:
            self._wf = self._bf = None

    def __call__(self, a: Any, saturate: bool = False, what: str = "matmul result") -> np.ndarray:
        fmt = self.fmt
        a = _as_int(a, "left operand")
        if self._wf is not None and a.dtype != object and a.size:
            n = a.shape[-1] if a.ndim else 1
            if float(n) * _maxabs(a) * self._wmax + self._bmax < _F53:
                acc = a.astype(np.float64) @ self._wf
                if self._bf is not None:
                    acc += self._bf
                y = np.rint(np.ldexp(acc, -fmt.f))
                if saturate:
                    np.clip(y, fmt.lo, fmt.hi, out=y)
                    return y.astype(np.int64)
                return fmt._fit(y.astype(np.int64), False, what)
        return fmt._matmul_exact(a, self.w, self.bias, saturate, what)
