"""Bit codecs (protocols.bits) against plain-Python oracles, with hypothesis for the edges."""

from __future__ import annotations

import numpy as np
import pytest
from bitarray import bitarray
from hypothesis import given, settings
from hypothesis import strategies as st

from protocols import CodecError, Fixed, Record, SInt, UInt, as_bitarray, bits_for, pack, unpack

widths = st.integers(min_value=0, max_value=64)
shapes = st.sampled_from([(), (1,), (5,), (3, 4), (2, 1, 3), (0,), (0, 2)])


def oracle_bits(value: int, width: int) -> list[int]:
    """Big-endian bits of a non-negative int, by string formatting."""
    return [int(c) for c in format(value, f"0{width}b")] if width else []


def oracle_value(bits) -> int:
    return int("".join(str(int(b)) for b in bits) or "0", 2)


# ------------------------------------------------------------------- UInt
@settings(max_examples=80, deadline=None)
@given(width=widths, shape=shapes, data=st.data())
def test_uint_matches_oracle_and_round_trips(width, shape, data):
    n = int(np.prod(shape, dtype=np.int64))
    hi = 2**width - 1
    values = data.draw(st.lists(st.integers(0, hi), min_size=n, max_size=n))
    v = np.array(values, dtype=np.uint64).reshape(shape)
    bits = UInt(width).encode(v)
    assert bits.shape == (*shape, width) and bits.dtype == np.uint8
    assert bits.flags.c_contiguous
    flat = bits.reshape(n, width)
    for x, row in zip(values, flat, strict=True):
        assert row.tolist() == oracle_bits(x, width)
    back = UInt(width).decode(bits)
    assert back.shape == shape
    assert back.dtype == (np.uint64 if width == 64 else np.int64)
    assert [int(x) for x in back.reshape(-1)] == values


@settings(max_examples=50, deadline=None)
@given(width=st.integers(1, 62), data=st.data())
def test_uint_range_errors_name_the_value(width, data):
    bad = data.draw(st.one_of(st.integers(2**width, 2**63 - 1), st.integers(-(2**63), -1)))
    with pytest.raises(CodecError, match=rf"value {bad} does not fit UInt\({width}\)"):
        UInt(width).encode(np.array([0, bad], dtype=np.int64))


def test_uint_range_error_at_width_63():
    with pytest.raises(CodecError, match=f"value {2**63} does not fit UInt\\(63\\)"):
        UInt(63).encode(np.array([1, 2**63], dtype=np.uint64))


@pytest.mark.parametrize("dtype", [np.uint8, np.int16, np.int64, np.uint64, bool])
def test_uint_accepts_integer_dtypes(dtype):
    v = np.array([0, 1, 1, 0], dtype=dtype)
    assert UInt(3).decode(UInt(3).encode(v)).tolist() == [0, 1, 1, 0]


def test_uint_bad_widths_and_decoding_errors():
    for w in (-1, 65):
        with pytest.raises(CodecError, match=r"UInt width = -?\d+; UInt width must be an integer in \[0, 64\]"):
            UInt(w)
    with pytest.raises(CodecError, match="expected 4 bits on the last axis, got 3"):
        UInt(4).decode(np.zeros((2, 3), np.uint8))
    with pytest.raises(CodecError, match="cannot decode value 2"):
        UInt(3).decode(np.array([[0, 2, 1]], np.uint8))
    with pytest.raises(CodecError, match="cannot decode value -1"):
        UInt(2).decode(np.array([[0, -1]]))


@pytest.mark.parametrize("width", [1, 7, 8, 9, 10, 12, 13, 16, 17, 33, 57, 63, 64])
def test_codec_on_non_contiguous_and_bool_bits(width):
    rng = np.random.default_rng(width)
    v = rng.integers(0, 2 ** min(width, 63), 50, dtype=np.uint64)
    bits = UInt(width).encode(v)
    wide = np.zeros((50, width + 3), np.uint8)
    wide[:, 2 : 2 + width] = bits
    view = wide[:, 2 : 2 + width]  # a strided view, as a protocol slicing a message gets
    assert not view.flags.c_contiguous
    assert (UInt(width).decode(view).astype(np.uint64) == v).all()
    assert (UInt(width).decode(bits.astype(bool)).astype(np.uint64) == v).all()
    assert (UInt(width).decode(np.asfortranarray(bits.reshape(5, 10, width))).reshape(-1).astype(np.uint64) == v).all()


def test_bits_for():
    assert [bits_for(n) for n in (1, 2, 3, 4, 5, 1000, 1024, 1025)] == [0, 1, 2, 2, 3, 10, 10, 11]
    with pytest.raises(CodecError, match="cannot count bits for 0 values"):
        bits_for(0)
    assert UInt.for_values(1000).width == 10


# ------------------------------------------------------------------- SInt
@settings(max_examples=80, deadline=None)
@given(width=st.integers(1, 64), data=st.data())
def test_sint_twos_complement_round_trip(width, data):
    lo, hi = -(2 ** (width - 1)), 2 ** (width - 1) - 1
    values = data.draw(st.lists(st.integers(lo, hi), min_size=1, max_size=20))
    bits = SInt(width).encode(np.array(values, dtype=np.int64))
    for x, row in zip(values, bits, strict=True):
        assert row.tolist() == oracle_bits(x % 2**width, width)  # two's complement
    back = SInt(width).decode(bits)
    assert back.dtype == np.int64 and back.tolist() == values


@settings(max_examples=50, deadline=None)
@given(width=st.integers(1, 62), data=st.data())
def test_sint_range_errors(width, data):
    lo, hi = -(2 ** (width - 1)), 2 ** (width - 1) - 1
    bad = data.draw(st.one_of(st.integers(hi + 1, 2**62), st.integers(-(2**62), lo - 1)))
    with pytest.raises(CodecError, match=rf"value {bad} does not fit SInt\({width}\): range {lo}..{hi}"):
        SInt(width).encode(np.array([bad]))


def test_sint_rejects_floats_and_bad_widths():
    with pytest.raises(CodecError, match="encodes integers"):
        SInt(8).encode(np.array([1.5]))
    with pytest.raises(CodecError, match=r"SInt width = 0; SInt width must be an integer in \[1, 64\]"):
        SInt(0)


# ------------------------------------------------------------------ Fixed
@settings(max_examples=80, deadline=None)
@given(width=st.integers(2, 40), frac=st.integers(0, 20), data=st.data())
def test_fixed_round_trip_on_representable_values(width, frac, data):
    raw = data.draw(st.lists(st.integers(-(2 ** (width - 1)), 2 ** (width - 1) - 1), min_size=1, max_size=10))
    x = np.array(raw, dtype=np.float64) / 2.0**frac
    c = Fixed(width, frac)
    assert c.decode(c.encode(x)).tolist() == x.tolist()
    assert c.decode_raw(c.encode(x)).tolist() == raw
    assert c.encode_raw(np.array(raw)).tolist() == c.encode(x).tolist()


def test_fixed_rounds_half_to_even_and_never_wraps():
    c = Fixed(8, 1)  # step 1/2, range -64 .. 63.5
    assert c.decode(c.encode(np.array([0.25, 0.75, -0.25, 1.3]))).tolist() == [0.0, 1.0, -0.0, 1.5]
    with pytest.raises(CodecError, match=r"value 64.0 does not fit Fixed\(8, 1\): range -64.0..63.5"):
        c.encode(np.array([64.0]))
    with pytest.raises(CodecError, match="not finite"):
        c.encode(np.array([np.nan]))
    with pytest.raises(CodecError, match="not finite"):
        c.encode(np.array([np.inf]))


# ----------------------------------------------------------------- Record
@settings(max_examples=50, deadline=None)
@given(
    fields=st.lists(
        st.tuples(st.sampled_from(["u", "s", "f"]), st.integers(1, 20), st.sampled_from([(), (2,), (2, 3)])),
        min_size=1,
        max_size=4,
    ),
    batch=st.integers(1, 4),
    seed=st.integers(0, 2**32 - 1),
)
def test_record_layout_is_fields_in_order(fields, batch, seed):
    rng = np.random.default_rng(seed)
    spec, values, parts = [], {}, []
    for n, (kind, width, shape) in enumerate(fields):
        name = f"f{n}"
        codec = {"u": UInt(width), "s": SInt(width), "f": Fixed(width, width // 2)}[kind]
        if kind == "u":
            v = rng.integers(0, 2**width, (batch, *shape))
        else:
            v = rng.integers(-(2 ** (width - 1)), 2 ** (width - 1), (batch, *shape))
            if kind == "f":
                v = v / 2.0 ** (width // 2)
        spec.append((name, codec, shape) if shape else (name, codec))
        values[name] = v
        parts.append(codec.encode(v).reshape(batch, -1))  # each element in C order
    rec = Record(tuple(spec))
    bits = rec.encode(values)
    assert rec.width == sum(p.shape[1] for p in parts)
    assert bits.tolist() == np.concatenate(parts, axis=1).tolist()
    out = rec.decode(bits)
    for name, v in values.items():
        assert out[name].shape == v.shape and out[name].tolist() == v.tolist()


def test_record_errors():
    with pytest.raises(CodecError, match="names repeat"):
        Record((("a", UInt(2)), ("a", UInt(3))))
    r = Record((("v", UInt(3)), ("xs", SInt(4), (2,))))
    with pytest.raises(CodecError, match=r"missing fields \['xs'\]"):
        r.encode({"v": np.array([1])})
    with pytest.raises(CodecError, match="field 'xs' has shape"):
        r.encode({"v": np.array([1]), "xs": np.array([[1, 2, 3]])})
    with pytest.raises(CodecError, match="Record of width 11 got 10 bits"):
        r.decode(np.zeros((1, 10), np.uint8))


# ---------------------------------------------------- packing and bitarray
@settings(max_examples=50, deadline=None)
@given(n=st.integers(0, 70), rows=st.integers(1, 3), seed=st.integers(0, 2**32 - 1))
def test_pack_unpack_round_trip(n, rows, seed):
    bits = np.random.default_rng(seed).integers(0, 2, (rows, n)).astype(np.uint8)
    packed = pack(bits)
    assert packed.shape == (rows, (n + 7) // 8)
    assert unpack(packed, n).tolist() == bits.tolist()
    for row, p in zip(bits, packed, strict=True):  # big-endian: first bit is the MSB of byte 0
        assert as_bitarray(p.copy()).to01()[:n] == "".join(map(str, row))


def test_as_bitarray_is_a_zero_copy_view():
    buf = pack(np.array([1, 0, 1, 1, 0, 0, 0, 0, 1]))
    view = as_bitarray(buf)
    assert view.to01() == "1011000010000000"
    assert view.buffer_info()[0] == buf.ctypes.data  # same address: no copy
    buf[0] = 0b01000000  # writing the array shows through the view ...
    assert view.to01()[:8] == "01000000"
    view[0] = 1  # ... and writing the view shows in the array
    assert buf[0] == 0b11000000


def test_as_bitarray_of_read_only_buffer_is_read_only_and_rejects_bad_buffers():
    buf = pack(np.array([1, 1]))
    buf.flags.writeable = False
    view = as_bitarray(buf)
    assert isinstance(view, bitarray) and view.readonly
    with pytest.raises(TypeError):
        view[0] = 0
    with pytest.raises(CodecError, match="1-D contiguous uint8"):
        as_bitarray(np.zeros(4, np.uint16))
    with pytest.raises(CodecError, match="1-D contiguous uint8"):
        as_bitarray(np.zeros((2, 2), np.uint8))


# ------------------------------------------------- codecs refuse, never wrap (issue 12)
def test_issue_cases_are_refused_with_codec_errors():
    with pytest.raises(CodecError, match=f"value {2**63} does not fit SInt\\(64\\)"):
        SInt(64).encode([2**63])
    with pytest.raises(CodecError, match=r"value 100.0 does not fit Fixed\(64, 60\)"):
        Fixed(64, 60).encode([100.0])
    with pytest.raises(CodecError, match=r"value 1.7 is not an integer; UInt\(4\)"):
        UInt(4).encode([1.7])
    with pytest.raises(CodecError, match="cannot pack value 2: bits are 0 or 1"):
        pack([2, 0, 1])
    with pytest.raises(CodecError, match=r"n = -1; n must be an integer in \[0, 8\]"):
        unpack(np.array([[160]], np.uint8), -1)
    with pytest.raises(CodecError, match="not finite"):
        UInt(8).encode(float("nan"))
    with pytest.raises(CodecError, match="not finite"):
        SInt(8).encode([float("inf")])
    with pytest.raises(CodecError, match=f"value {2**64} does not fit UInt\\(64\\)"):
        UInt(64).encode(2**64)


@pytest.mark.parametrize("make", [lambda: UInt(True), lambda: SInt(True), lambda: Fixed(True, 0),
                                  lambda: Fixed(8, False), lambda: UInt(4.0), lambda: bits_for(True)])
def test_booleans_and_floats_are_not_sizes(make):
    with pytest.raises(CodecError, match="must be an integer"):
        make()


def test_unpack_refuses_more_bits_than_given_and_non_bytes():
    with pytest.raises(CodecError, match=r"n = 9; n must be an integer in \[0, 8\]"):
        unpack(np.array([[160]], np.uint8), 9)
    with pytest.raises(CodecError, match="uint8"):
        unpack(np.array([[160]], np.int64), 3)


@settings(max_examples=100, deadline=None)
@given(width=st.integers(1, 64), signed=st.booleans(), data=st.data())
def test_integers_round_trip_or_are_refused_never_wrapped(width, signed, data):
    # Any Python int, in range or far outside it: the codec returns exactly it or refuses.
    codec = SInt(width) if signed else UInt(width)
    lo, hi = (codec.low, codec.high) if signed else (0, 2**width - 1)
    x = data.draw(st.one_of(st.integers(lo, hi), st.integers(-(2**80), 2**80)))
    if lo <= x <= hi:
        assert int(codec.decode(codec.encode([x]))[0]) == x
    else:
        with pytest.raises(CodecError, match=f"value {x} does not fit"):
            codec.encode([x])


@settings(max_examples=100, deadline=None)
@given(width=st.integers(1, 64), data=st.data())
def test_floats_round_trip_only_when_whole_and_in_range(width, data):
    x = data.draw(st.floats(allow_nan=True, allow_infinity=True, width=64))
    codec = UInt(width)
    ok = np.isfinite(x) and x == int(x) and 0 <= x < 2.0**width
    if ok:
        assert int(codec.decode(codec.encode([x]))[0]) == int(x)
    else:
        with pytest.raises(CodecError):
            codec.encode([x])


@settings(max_examples=100, deadline=None)
@given(width=st.integers(2, 64), frac=st.integers(0, 62),
       x=st.floats(allow_nan=True, allow_infinity=True, width=64))
def test_fixed_encodes_exactly_what_fits_and_refuses_the_rest(width, frac, x):
    codec = Fixed(width, min(frac, width - 1))
    scaled = x * 2.0**codec.frac if np.isfinite(x) else x
    raw = float(np.rint(scaled)) if np.isfinite(scaled) else scaled
    if np.isfinite(raw) and -(2.0 ** (width - 1)) <= raw < 2.0 ** (width - 1):
        assert codec.decode_raw(codec.encode([x]))[0] == int(raw)
    else:
        with pytest.raises(CodecError):
            codec.encode([x])


@settings(max_examples=60, deadline=None)
@given(bits=st.lists(st.one_of(st.integers(-3, 3), st.floats(-2, 2)), min_size=1, max_size=20))
def test_pack_accepts_exactly_binary_values(bits):
    if all(b in (0, 1) for b in bits):
        assert unpack(pack(bits), len(bits)).tolist() == [int(b) for b in bits]
    else:
        with pytest.raises(CodecError, match="bits are 0 or 1"):
            pack(bits)
