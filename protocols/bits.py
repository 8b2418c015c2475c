"""Bit codecs shared by every protocol and compiler (ARCHITECTURE idea 3).

Messages are arrays of bits with a leading batch axis: shape ``(B, n)``,
dtype ``uint8``, values 0/1, most significant bit first (big-endian).  Codecs
turn batched numbers into such bit rows and back:

- :class:`UInt` — unsigned integers of width ``w``;
- :class:`SInt` — signed two's-complement integers of width ``w``;
- :class:`Fixed` — signed fixed point: ``w`` bits, ``frac`` of them fractional;
- :class:`Record` — a fixed layout of named fields, each a codec and a shape.

Packed storage uses :func:`numpy.packbits` (big-endian); :func:`as_bitarray`
gives a zero-copy :class:`bitarray.bitarray` view of packed bytes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from math import ceil, log2, prod
from typing import Any

import numpy as np
from bitarray import bitarray

from .errors import CodecError
from .validation import check_int

__all__ = [
    "UInt",
    "SInt",
    "Fixed",
    "Record",
    "bits_for",
    "pack",
    "unpack",
    "as_bitarray",
]


def bits_for(n: int) -> int:
    """Bits needed to write any of ``n`` values: ``ceil(log2 n)`` (0 for ``n <= 1``).

    Examples
    --------
    >>> [bits_for(n) for n in (1, 2, 3, 4, 1000, 1024)]
    [0, 1, 2, 2, 10, 10]
    """
    n = check_int("n", n, error=CodecError)
    if n < 1:
        raise CodecError(f"cannot count bits for {n} values; need at least 1")
    return 0 if n == 1 else int(ceil(log2(n)))


def _shifts(width: int) -> np.ndarray:
    return np.arange(width - 1, -1, -1, dtype=np.uint64)


# Messages are many short rows (B instances x a few bits), so every path below
# works on flat arrays: a numpy loop per row would cost more than the data.

#: Widths up to this encode by one table lookup per value (table: 2**w rows).
_TABLE_WIDTH = 12


def _item_bytes(width: int) -> int:
    """Smallest item size numpy copies fast (1, 2, 4, 8 or 16 bytes) holding ``width`` bytes."""
    return next(n for n in (1, 2, 4, 8, 16) if n >= width)


@cache
def _bit_table(width: int) -> np.ndarray:
    """Read-only ``(2**width,)`` void items: item ``v`` holds the bits of ``v``, zero-padded."""
    v = np.arange(2**width, dtype=np.uint64)
    rows = np.zeros((2**width, _item_bytes(width)), dtype=np.uint8)
    rows[:, :width] = (v[:, None] >> _shifts(width)) & np.uint64(1)
    table = rows.view(f"V{rows.shape[1]}").reshape(-1)
    table.flags.writeable = False
    return table


def _table_bits(index: np.ndarray, width: int) -> np.ndarray:
    """Bits of integers ``index`` known to lie in ``0 .. 2**width - 1``, shape ``(..., width)``.

    Each value's bits are copied as one item of a size numpy moves fast, written
    at a stride of ``width`` bytes: an item longer than ``width`` spills zero
    padding into the next row, which the next write then overwrites (a 1-D copy
    runs in index order), so the final bytes are exactly the rows.
    """
    n, item = index.size, _item_bytes(width)
    rows = np.take(_bit_table(width), index.reshape(-1))
    buf = np.empty(n * width + item - width, dtype=np.uint8)
    np.ndarray((n,), dtype=rows.dtype, buffer=buf, strides=(width,))[...] = rows
    return buf[: n * width].reshape(*index.shape, width)


def _to_bits(values: np.ndarray, width: int) -> np.ndarray:
    """Low ``width`` bits of non-negative uint64 ``values``, MSB first."""
    shape = values.shape
    if width == 0:
        return np.zeros((*shape, 0), dtype=np.uint8)
    if width <= _TABLE_WIDTH:
        return _table_bits((values & np.uint64(2**width - 1)).astype(np.intp), width)
    n = next(n for n in (1, 2, 4, 8) if 8 * n >= width)
    # Big-endian words unpacked in one flat pass (the narrowing cast keeps the low bits).
    bits = np.unpackbits(values.reshape(-1).astype(f">u{n}").view(np.uint8)).reshape(-1, 8 * n)
    if 8 * n != width:
        bits = np.ascontiguousarray(bits[:, 8 * n - width :])
    return bits.reshape(*shape, width)


def _binary_bytes(bits: Any, action: str = "decode") -> np.ndarray:
    """``bits`` as a C-contiguous uint8 array, checking every value is 0 or 1."""
    b = np.asarray(bits)
    if b.dtype == np.bool_:  # 0/1 by type: reinterpret, no check, no copy
        return np.ascontiguousarray(b).view(np.uint8)
    if b.size:
        bad = b.max() > 1 if b.dtype.kind == "u" else ((b != 0) & (b != 1)).any()
        if bad:
            value = b[(b != 0) & (b != 1)].flat[0]
            raise CodecError(f"cannot {action} value {value}: bits are 0 or 1")
    return np.ascontiguousarray(b, dtype=np.uint8)


@cache
def _window_magic(first: int, count: int) -> np.uint64:
    """Multiplier gathering bytes ``first .. first+count-1`` of a little-endian word of 0/1
    bytes into its top byte, byte ``i`` at bit ``63 - i``: product terms sit at bits
    ``63 + 8i - 9j``, which is in the top byte only for ``i == j``, and never carry."""
    return np.uint64(sum(1 << (63 - 9 * i) for i in range(first, first + count)))


def _from_bits(bits: np.ndarray, width: int) -> np.ndarray:
    """Inverse of :func:`_to_bits`, as uint64."""
    if bits.shape[-1] != width:
        raise CodecError(f"expected {width} bits on the last axis, got {bits.shape[-1]}")
    b = _binary_bytes(bits)
    lead = b.shape[:-1]
    n = prod(lead)
    if width == 0 or n == 0:
        return np.zeros(lead, dtype=np.uint64)
    # Each row's bit-bytes are read eight at a time as one word and gathered by a
    # multiply.  Windows: (byte offset in the row, first byte used, bytes used).
    if width < 8:
        flat = np.zeros(n * width + 8, dtype=np.uint8)  # the last row's window runs past it
        flat[: n * width] = b.reshape(-1)
        windows = [(0, 0, width)]
    else:
        flat = b.reshape(-1)
        windows = [(off, 0, 8) for off in range(0, width - 7, 8)]
        if width % 8:  # a last window ending at the row's end, using only its new bytes
            windows.append((width - 8, 8 - width % 8, width % 8))
    out = None
    for off, first, count in windows:
        word = np.ndarray((n,), dtype="<u8", buffer=flat, offset=off, strides=(width,))
        part = np.multiply(word, _window_magic(first, count), dtype=np.uint64)
        part >>= np.uint64(64 - first - count)
        if out is None:
            out = part
        else:
            out <<= np.uint64(count)
            out |= part
    return out.reshape(lead)

def _integers(values: Any, codec: str, low: int, high: int) -> np.ndarray:
    """``values`` as integers in ``[low, high]``, as their two's-complement bit patterns (uint64).

    Accepts integer and bool arrays, floats that are whole numbers, and Python ints of
    any size (object arrays); anything non-integral, non-finite, non-numeric or out of
    range raises :class:`CodecError` naming the value (never wraps, never truncates).
    """
    v = np.asarray(values)
    kind = v.dtype.kind
    if kind == "O":
        items = v.reshape(-1).tolist()
        for x in items:
            if isinstance(x, float) and np.isfinite(x) and x == int(x):
                continue
            if not isinstance(x, (int, np.integer)):
                what = "not finite" if isinstance(x, float) and not np.isfinite(x) else "not an integer"
                raise CodecError(f"value {x!r} is {what}; {codec} encodes integers")
        ints = [int(x) for x in items]
        bad = next((x for x in ints if not low <= x <= high), None)
        if bad is not None:
            raise CodecError(f"value {bad} does not fit {codec}: range {low}..{high}")
        return np.array([x % 2**64 for x in ints], dtype=np.uint64).reshape(v.shape)
    if kind == "f":
        if not np.isfinite(v).all():
            raise CodecError(f"value {v[~np.isfinite(v)].flat[0]} is not finite; {codec} encodes integers")
        frac = v != np.floor(v)
        if frac.any():
            raise CodecError(f"value {v[frac].flat[0].item()!r} is not an integer; {codec} encodes integers")
        # low and high + 1 are 0 or powers of two, so these float comparisons are exact.
        out = (v < float(low)) | (v >= float(high) + 1.0)
        if out.any():
            raise CodecError(f"value {int(v[out].flat[0])} does not fit {codec}: range {low}..{high}")
        return v.astype(np.int64).view(np.uint64) if low < 0 else v.astype(np.uint64)
    if kind not in "iub":
        raise CodecError(f"{codec} encodes integers, got dtype {v.dtype}")
    if v.size and (int(v.min()) < low or int(v.max()) > high):
        bad = next(x for x in v.flat if not low <= int(x) <= high)
        raise CodecError(f"value {int(bad)} does not fit {codec}: range {low}..{high}")
    return v.astype(np.int64).view(np.uint64) if kind == "i" else v.astype(np.uint64)


@dataclass(frozen=True)
class UInt:
    """Unsigned integers in ``width`` bits, big-endian.

    Examples
    --------
    >>> c = UInt(4)
    >>> c.encode(np.array([5, 12])).tolist()
    [[0, 1, 0, 1], [1, 1, 0, 0]]
    >>> c.decode(c.encode(np.array([5, 12]))).tolist()
    [5, 12]
    """

    width: int

    def __post_init__(self) -> None:
        check_int("UInt width", self.width, low=0, high=64, error=CodecError)

    @classmethod
    def for_values(cls, n: int) -> UInt:
        """The narrowest codec for the values ``0..n-1``."""
        return cls(bits_for(n))

    def encode(self, values: Any) -> np.ndarray:
        """``(...,)`` integers -> ``(..., width)`` bits; out-of-range, non-integral or non-finite raises."""
        v = np.asarray(values)
        if v.dtype.kind in "iub" and 0 < self.width <= _TABLE_WIDTH:  # the common case: one table lookup
            if v.size and ((v.dtype.kind == "i" and v.min() < 0) or int(v.max()) >= 2**self.width):
                _integers(v, f"UInt({self.width})", 0, 2**self.width - 1)  # raises, naming the value
            return _table_bits(v.astype(np.intp, copy=False), self.width)
        return _to_bits(_integers(v, f"UInt({self.width})", 0, 2**self.width - 1), self.width)

    def decode(self, bits: Any) -> np.ndarray:
        """``(..., width)`` bits -> ``(...,)`` int64 (uint64 for width 64)."""
        out = _from_bits(np.asarray(bits), self.width)
        # Below 64 bits every value fits int64, so a view is exact (and saves a copy).
        return out if self.width == 64 else out.view(np.int64)


@dataclass(frozen=True)
class SInt:
    """Signed two's-complement integers in ``width`` bits.

    Examples
    --------
    >>> c = SInt(4)
    >>> c.decode(c.encode(np.array([-8, -1, 0, 7]))).tolist()
    [-8, -1, 0, 7]
    """

    width: int

    def __post_init__(self) -> None:
        check_int("SInt width", self.width, low=1, high=64, error=CodecError)

    @property
    def low(self) -> int:
        return -(2 ** (self.width - 1))

    @property
    def high(self) -> int:
        return 2 ** (self.width - 1) - 1

    def encode(self, values: Any) -> np.ndarray:
        """``(...,)`` integers -> ``(..., width)`` bits; out-of-range, non-integral or non-finite raises."""
        return _to_bits(_integers(values, f"SInt({self.width})", self.low, self.high), self.width)

    def decode(self, bits: Any) -> np.ndarray:
        u = _from_bits(np.asarray(bits), self.width)
        # Sign-extend: move the sign bit to bit 63, then shift back arithmetically.
        shift = 64 - self.width
        return (u << np.uint64(shift)).view(np.int64) >> shift


@dataclass(frozen=True)
class Fixed:
    """Signed fixed point: ``width`` bits of which ``frac`` are fractional.

    A real ``x`` is stored as the integer ``rint(x * 2**frac)`` (round half to
    even) in two's complement; values that do not fit raise (no wrap-around).
    :meth:`encode_raw`/:meth:`decode_raw` work on the stored integers directly.

    Examples
    --------
    >>> c = Fixed(8, 4)
    >>> c.decode(c.encode(np.array([1.5, -0.25]))).tolist()
    [1.5, -0.25]
    >>> c.encode_raw(np.array([24])).tolist() == c.encode(np.array([1.5])).tolist()
    True
    """

    width: int
    frac: int = 0

    def __post_init__(self) -> None:
        check_int("Fixed width", self.width, error=CodecError)
        check_int("Fixed frac", self.frac, error=CodecError)
        if not 1 <= self.width <= 64 or not 0 <= self.frac < 64:
            raise CodecError(f"Fixed({self.width}, {self.frac}): need 1 <= width <= 64, 0 <= frac < 64")

    def encode(self, values: Any) -> np.ndarray:
        """``(...,)`` reals -> ``(..., width)`` bits; non-finite or out-of-range values raise."""
        try:
            x = np.asarray(values, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise CodecError(f"Fixed({self.width}, {self.frac}) encodes real numbers: {exc}") from exc
        if not np.isfinite(x).all():
            raise CodecError(f"value {x[~np.isfinite(x)].flat[0]} is not finite; Fixed encodes finite reals")
        with np.errstate(over="ignore"):  # an overflow is inf, refused just below
            raw = np.rint(x * 2.0**self.frac)
        # Range-check the scaled value as a float, before any cast could wrap it.
        half = 2.0 ** (self.width - 1)
        out = (raw < -half) | (raw >= half)
        if out.any():
            bad = x[out].flat[0]
            lo, hi = -half / 2.0**self.frac, (half - 1) / 2.0**self.frac
            raise CodecError(f"value {bad} does not fit Fixed({self.width}, {self.frac}): range {lo}..{hi}")
        return self.encode_raw(raw.astype(np.int64))

    def decode(self, bits: Any) -> np.ndarray:
        return self.decode_raw(bits) / 2.0**self.frac

    def encode_raw(self, raw: Any) -> np.ndarray:
        return SInt(self.width).encode(raw)

    def decode_raw(self, bits: Any) -> np.ndarray:
        return SInt(self.width).decode(bits)


@dataclass(frozen=True)
class Record:
    """A fixed layout of named fields: ``(name, codec)`` or ``(name, codec, shape)``.

    Fields are laid out in order, each element in C order.  ``encode`` takes a
    mapping ``name -> array of shape (..., *shape)``; ``decode`` returns a dict.

    Examples
    --------
    >>> r = Record((("v", UInt(3)), ("xs", SInt(4), (2,))))
    >>> r.width
    11
    >>> bits = r.encode({"v": np.array([5]), "xs": np.array([[-1, 3]])})
    >>> out = r.decode(bits)
    >>> out["v"].tolist(), out["xs"].tolist()
    ([5], [[-1, 3]])
    """

    fields: tuple[tuple, ...]

    def __post_init__(self) -> None:
        names = [f[0] for f in self.fields]
        if len(set(names)) != len(names):
            raise CodecError(f"Record field names repeat: {names}")

    def _layout(self):
        start = 0
        for f in self.fields:
            name, codec = f[0], f[1]
            shape = tuple(f[2]) if len(f) > 2 else ()
            n = int(np.prod(shape, dtype=np.int64)) * codec.width
            yield name, codec, shape, start, start + n
            start += n

    @property
    def width(self) -> int:
        return sum(stop - start for *_, start, stop in self._layout())

    def encode(self, values: Mapping[str, Any]) -> np.ndarray:
        missing = [f[0] for f in self.fields if f[0] not in values]
        if missing:
            raise CodecError(f"Record.encode is missing fields {missing}")
        parts = []
        for name, codec, shape, _, _ in self._layout():
            v = np.asarray(values[name])
            lead = v.shape[: v.ndim - len(shape)]
            if v.shape[v.ndim - len(shape):] != shape:
                raise CodecError(f"field {name!r} has shape {v.shape}; expected (..., {shape})")
            parts.append(codec.encode(v).reshape(*lead, -1))
        return np.concatenate(parts, axis=-1) if parts else np.zeros((0,), np.uint8)

    def decode(self, bits: Any) -> dict[str, np.ndarray]:
        b = np.asarray(bits)
        if b.shape[-1] != self.width:
            raise CodecError(f"Record of width {self.width} got {b.shape[-1]} bits")
        out = {}
        for name, codec, shape, start, stop in self._layout():
            part = b[..., start:stop].reshape(*b.shape[:-1], *shape, codec.width)
            out[name] = codec.decode(part)
        return out


def pack(bits: Any) -> np.ndarray:
    """Pack ``(..., n)`` bits into ``(..., ceil(n/8))`` bytes, big-endian, zero-padded.

    Examples
    --------
    >>> pack(np.array([[1, 0, 1]])).tolist()
    [[160]]
    """
    return np.packbits(_binary_bytes(bits, "pack"), axis=-1)


def unpack(packed: Any, n: int) -> np.ndarray:
    """Inverse of :func:`pack`: the first ``n`` bits of each row.

    Examples
    --------
    >>> unpack(np.array([[160]], dtype=np.uint8), 3).tolist()
    [[1, 0, 1]]
    """
    p = np.asarray(packed)
    if p.dtype != np.uint8:
        raise CodecError(f"unpack takes bytes (uint8), got dtype {p.dtype}")
    have = 8 * p.shape[-1] if p.ndim else 0
    n = check_int("n", n, low=0, high=have, error=CodecError)
    return np.unpackbits(p, axis=-1, count=n)


def as_bitarray(packed: np.ndarray) -> bitarray:
    """Zero-copy big-endian :class:`bitarray.bitarray` view of a 1-D byte buffer.

    The view shares memory with ``packed`` (read-only if ``packed`` is) and has
    ``8 * len(packed)`` bits; the pad bits after the payload are zero.

    Examples
    --------
    >>> buf = pack(np.array([1, 0, 1, 1]))
    >>> view = as_bitarray(buf)
    >>> view.to01()
    '10110000'
    """
    arr = np.asarray(packed)
    if arr.dtype != np.uint8 or arr.ndim != 1 or not arr.flags.c_contiguous:
        raise CodecError(f"as_bitarray needs a 1-D contiguous uint8 buffer, got {arr.dtype}{arr.shape}")
    return bitarray(buffer=arr, endian="big")
