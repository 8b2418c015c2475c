"""The fixed-point causal softmax transformer (docs/definitions.md §5): exactness, chunking, float64 agreement."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reductions.arithmetic.fixed_point import FixedPoint, FixedPointOverflow
from reductions.models import load_model
from reductions.models.base import ModelError
from reductions.models.transformer import (
    PARAM_NAMES,
    SoftmaxTransformer,
    _Affine,
    softmax_weights,
)


def _half_even(q: Fraction) -> int:
    fl = math.floor(q)
    r = q - fl
    return fl + (1 if r > Fraction(1, 2) or (r == Fraction(1, 2) and fl % 2) else 0)


def _attention_oracle(q, K, V, start, f):
    """The definition, one query at a time, with Python integers and Fractions."""
    B, H, c, d = q.shape
    out = np.zeros_like(q)
    for b in range(B):
        for h in range(H):
            for i in range(c):
                js = range(start + i + 1)
                s = [_half_even(Fraction(sum(int(q[b, h, i, t]) * int(K[b, h, j, t]) for t in range(d)), 2**f))
                     for j in js]
                mx = max(s)
                e = [int(np.rint(np.exp((sj - mx) * 2.0**-f) * 2.0**f)) for sj in s]
                den = sum(e)
                for t in range(d):
                    num = sum(ej * int(V[b, h, j, t]) for ej, j in zip(e, js, strict=False))
                    out[b, h, i, t] = _half_even(Fraction(num, den))
    return out


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**31), st.integers(1, 3), st.integers(1, 5), st.integers(0, 4), st.integers(0, 10))
def test_attention_equals_the_integer_definition(seed, heads, c, start, f):
    rng = np.random.default_rng(seed)
    m = SoftmaxTransformer.random(vocab=3, layers=1, width=4, precision=f + 8, heads=heads, head_dim=2,
                                  frac=f, seed=0)
    span = 2 ** (f + 5)
    q = rng.integers(-span, span, (2, heads, c, 2))
    K = rng.integers(-span, span, (2, heads, start + c, 2))
    V = rng.integers(-span, span, (2, heads, start + c, 2))
    assert (m._attend(q, K, V, start) == _attention_oracle(q, K, V, start, f)).all()


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**31), st.sampled_from([(40, 12), (48, 16), (56, 20), (64, 30), (64, 56)]),
       st.integers(1, 4), st.integers(0, 4), st.sampled_from(["wide", "close", "huge"]))
def test_wide_attention_equals_the_integer_definition(seed, pf, c, start, scale):
    """p > 26: products leave float64's exact range; the candidate path gives the definition's numbers."""
    p, f = pf
    rng = np.random.default_rng(seed)
    m = SoftmaxTransformer.random(vocab=3, layers=1, width=4, precision=p, heads=2, head_dim=2, frac=f, seed=0)
    # far-apart scores, near-tied ones, or scores beyond int64 (2^(2p-4-f))
    span = 2 ** {"wide": (p - 3) // 2, "close": f // 2 + 2, "huge": p - 2}[scale]
    q = rng.integers(-span, span, (2, 2, c, 2))
    K = rng.integers(-span, span, (2, 2, start + c, 2))
    V = rng.integers(-(2 ** (p - 2)), 2 ** (p - 2), (2, 2, start + c, 2))
    assert (m._attend(q, K, V, start) == _attention_oracle(q, K, V, start, f)).all()


@pytest.mark.parametrize("p, f", [(8, 3), (12, 6), (16, 10), (20, 12), (24, 18)])
def test_softmax_weights_are_fixed_point_exp(p, f):
    fmt = FixedPoint(p, f)
    z = np.arange(fmt.lo, 1, max(1, (-fmt.lo) // 5000), dtype=np.int64)
    want = fmt.exp(z)
    got = softmax_weights(z.astype(np.float64), f)
    assert (got.astype(np.int64) == want).all()
    assert (softmax_weights(np.array([-(2.0**40), -np.inf]), f) == 0).all()


def test_affine_equals_fixed_point_matmul_on_both_paths():
    rng = np.random.default_rng(0)
    fmt = FixedPoint(32, 8)
    w = rng.integers(-2**20, 2**20, (16, 5))
    b = rng.integers(-2**10, 2**10, 5)
    lin = _Affine(fmt, w, b, "test")
    for scale in (2**4, 2**12, 2**15):  # the largest forces the exact (non-float) fallback
        a = rng.integers(-scale, scale, (3, 7, 16))
        try:
            want = fmt.matmul(a, w, bias=b)
        except FixedPointOverflow:
            with pytest.raises(FixedPointOverflow):
                lin(a)
            continue
        assert (lin(a) == want).all()


@pytest.mark.parametrize("layers, heads, width, head_dim", [(1, 1, 4, None), (2, 2, 8, 3), (3, 4, 6, None)])
def test_chunked_runs_reproduce_the_forward_pass(layers, heads, width, head_dim):
    m = SoftmaxTransformer.random(vocab=7, layers=layers, width=width, precision=18, heads=heads,
                                  head_dim=head_dim, seed=layers)
    rng = np.random.default_rng(1)
    x = rng.integers(0, 7, (40, 23))
    full = m.forward(x)
    for cuts in ([1], [5, 6, 20], list(range(1, 23))):
        bounds = [0, *cuts, 23]
        kv = None
        for a, b in zip(bounds, bounds[1:], strict=False):
            r = m.run_chunk(x[:, a:b], start=a, prefix=kv or ())
            assert (r.outputs == full[:, a:b]).all()
            new = r.kv
            kv = new if kv is None else [(np.concatenate([K, k], 2), np.concatenate([V, v], 2))
                                         for (K, V), (k, v) in zip(kv, new, strict=False)]


def test_batch_slicing_does_not_change_results(monkeypatch):
    m = SoftmaxTransformer.random(vocab=5, layers=2, width=6, precision=16, heads=2, seed=4)
    x = np.random.default_rng(2).integers(0, 5, (33, 17))
    whole = m.forward(x)
    import reductions.models.transformer as tr

    monkeypatch.setattr(tr, "SCORE_ELEMENTS", 17 * 17 * 2 * 4)  # 4 instances per slice
    assert (m.forward(x) == whole).all()
    assert (m.forward(x[5:9]) == whole[5:9]).all()


def test_fixed_point_is_a_faithful_model_of_float64():
    agree = []
    for seed in range(3):
        m = SoftmaxTransformer.random(vocab=8, layers=2, width=16, precision=24, heads=2, seed=seed)
        x = np.random.default_rng(seed).integers(0, 8, (200, 32))
        agree.append((m.forward(x) == m.forward_float(x)).mean())
    assert min(agree) >= 0.99, agree


def test_hard_attention_reference_on_integer_weights():
    # one layer that copies the previous token with integer weights: hard attention is exact
    from reductions.constructions.hop_construction import hop_construction

    c = hop_construction(1, max_len=20, alphabet=5)
    x = np.random.default_rng(0).integers(0, 5, (50, 20))
    assert (c.model.forward_float(x, attention="hard") == c(x)).all()
    with pytest.raises(ModelError, match="attention = 'linear'"):
        c.model.forward_float(x, attention="linear")


def test_save_and_load_round_trip(tmp_path):
    m = SoftmaxTransformer.random(vocab=6, layers=2, width=5, precision=14, heads=3, head_dim=2, seed=9)
    path = tmp_path / "t.npz"
    m.save(path)
    for loaded in (SoftmaxTransformer.load(path), load_model(path)):
        assert isinstance(loaded, SoftmaxTransformer) and loaded.hyper() == m.hyper()
        x = np.random.default_rng(0).integers(0, 6, (10, 9))
        assert (loaded.forward(x) == m.forward(x)).all()


def test_sizes_and_message_unit():
    m = SoftmaxTransformer.random(vocab=4, layers=3, width=8, precision=20, heads=2, seed=0)
    assert (m.layers, m.width, m.heads, m.head_dim, m.d_ff) == (3, 8, 2, 8, 32)
    assert m.state_bits() == m.kv_bits_per_position() == 2 * 2 * 8 * 20
    assert m.family == "transformer" and set(m.params()) == set(PARAM_NAMES)


def test_errors_are_specific():
    m = SoftmaxTransformer.random(vocab=4, layers=1, width=4, precision=10, max_len=6, seed=0)
    with pytest.raises(ModelError, match="token 4 is outside"):
        m.forward(np.array([[0, 4]]))
    with pytest.raises(ModelError, match="exceed max_len = 6"):
        m.forward(np.zeros((1, 7), int))
    with pytest.raises(ModelError, match="frac = 9"):
        SoftmaxTransformer.random(vocab=4, layers=1, width=4, precision=10, frac=9)
    params = m.params()
    params["wq"] = params["wq"][:, :, :2]
    with pytest.raises(ModelError, match="SoftmaxTransformer weight wq has shape"):
        SoftmaxTransformer(4, 1, 4, 1, 4, 16, 6, 10, params)
    with pytest.raises(ModelError, match="prefix holds keys/values of 0 layers"):
        m.run_chunk(np.zeros((1, 2), int), start=2)
    big = SoftmaxTransformer.random(vocab=4, layers=1, width=4, precision=10, frac=4, seed=0).params()
    big["w1"] = big["w1"] * 20
    with pytest.raises(FixedPointOverflow):
        SoftmaxTransformer(4, 1, 4, 1, 4, 16, 4096, 10, big, frac=4).forward(np.array([[0, 1, 2, 3] * 4]))
