"""Sparse (window + global) attention and its protocol: oracle, model == protocol, formulas (issue 5)."""

from __future__ import annotations

from fractions import Fraction
from math import floor

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocols import PointerChasing, audit_locality, run
from reductions.arithmetic.fixed_point import FixedPoint
from reductions.compilers.registry import CompileError, bits_formula, rounds_formula, to_protocol
from reductions.compilers.sparse_attention_to_protocol import SparseProtocol, reference, slot_positions
from reductions.compilers.splits import random_boundaries, split_tokens
from reductions.khop.instance import canonical_boundaries
from reductions.khop.pointer_chasing_to_hop import EncodedPointerChasing
from reductions.models.attention_base import exp_nonpositive
from reductions.models.base import ModelError
from reductions.models.sparse_attention import (
    SparseAttention,
    global_positions,
    globals_per_chunk,
    sparse_attention,
    sparse_message_bits,
)
from reductions.verify import pointer_chasing_success, random_tokens, verify, verify_random_splits


def oracle_round(x: Fraction) -> int:
    fl = floor(x)
    d = x - fl
    if d != Fraction(1, 2):
        return fl + (d > Fraction(1, 2))
    return fl if fl % 2 == 0 else fl + 1


def naive_sparse(fmt, q, k, v, w, g):
    """Per query: the attended set by definition, Python-int scores, one division (docs/definitions.md §5)."""
    n, m = q.shape
    out = np.zeros_like(v)
    for i in range(n):
        keys = sorted({j for j in range(n) if abs(i - j) <= w} | {j for j in range(0, n, g)})
        s = [oracle_round(Fraction(sum(int(q[i, c]) * int(k[j, c]) for c in range(m)), 2**fmt.f)) for j in keys]
        top = max(s)
        e = [int(exp_nonpositive(fmt, np.array([x - top]))[0]) for x in s]
        den = sum(e)
        for c in range(m):
            out[i, c] = oracle_round(Fraction(sum(ej * int(v[j, c]) for ej, j in zip(e, keys, strict=True)), den))
    return out


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 20), st.integers(0, 5), st.integers(1, 7), st.sampled_from([(8, 4), (16, 12), (24, 20)]),
       st.integers(0, 2**32 - 1))
def test_sparse_attention_equals_naive_oracle_on_any_segment(n, w, g, pf, seed):
    fmt = FixedPoint(*pf)
    rng = np.random.default_rng(seed)
    q, k, v = (rng.integers(fmt.lo, fmt.hi + 1, (n, 2)) for _ in range(3))
    want = naive_sparse(fmt, q, k, v, w, g)
    gp = global_positions(n, g)
    assert (sparse_attention(fmt, q, k, v, 0, k[gp], v[gp], 0, n, w, g) == want).all()
    # a segment [a, b) with keys only on [a-w, b+w) (what a speaker holds) gives the same rows
    a = int(rng.integers(0, n))
    b = int(rng.integers(a + 1, n + 1))
    lo, hi = max(0, a - w), min(n, b + w)
    got = sparse_attention(fmt, q[a:b], k[lo:hi], v[lo:hi], lo, k[gp], v[gp], a, n, w, g)
    assert (got == want[a:b]).all()


def test_slots_cover_every_window_and_global_token():
    rng = np.random.default_rng(0)
    for _ in range(200):
        n = int(rng.integers(1, 40))
        k = int(rng.integers(1, n + 1))
        w, g = int(rng.integers(0, 6)), int(rng.integers(1, 9))
        b = random_boundaries(n, k, seed=rng)
        slots = slot_positions(b, w, g)
        assert slots.shape == (k, 2 * w + max(globals_per_chunk(b, g)))
        for i in range(k):
            others = {int(p) for j in range(k) if j != i for p in slots[j]} - {-1}
            outside = {p for p in range(max(0, b[i] - w), min(n, b[i + 1] + w)) if not b[i] <= p < b[i + 1]}
            outside |= {p for p in range(0, n, g) if not b[i] <= p < b[i + 1]}
            assert outside <= others
            assert set(slots[i].tolist()) - {-1} <= set(range(b[i], b[i + 1]))


def test_formula_is_one_place_and_matches_the_layout():
    model = SparseAttention.random(vocab=5, layers=2, width=3, heads=2, window=2, global_every=4, precision=10,
                                   seed=0, max_len=64)
    b = (0, 9, 10, 30)
    G = max(globals_per_chunk(b, 4))
    assert globals_per_chunk(b, 4) == [3, 0, 5] and G == 5
    want = (2 * 2 + 5) * 2 * 2 * 3 * 10
    assert sparse_message_bits(2, G, 2, 3, 10) == want == bits_formula(model, b) == model.state_bits(b)
    assert SparseProtocol(model, b).record.width == want == SparseProtocol(model, b).s
    assert rounds_formula(model) == 2
    with pytest.raises(CompileError, match="depends on the split"):
        bits_formula(model)


CONFIGS = [
    dict(window=2, global_every=5),
    dict(window=0, global_every=3, layers=3, heads=1),
    dict(window=4, global_every=100),
    dict(window=1, global_every=1, precision=12),
    dict(window=3, global_every=4, layers=3, heads=3, width=2, precision=20),
]


@pytest.mark.parametrize("cfg", range(len(CONFIGS)))
def test_protocol_equals_model_on_1000_inputs_under_random_splits(cfg):
    kw = dict(vocab=6, layers=2, width=4, heads=2, precision=16, max_len=40, seed=cfg)
    kw.update(CONFIGS[cfg])
    model = SparseAttention.random(**kw)
    n = 12 + 3 * cfg
    x = random_tokens(6, 1000, n, seed=cfg)
    reports = verify_random_splits(model, x, k=2 + cfg % 3, splits=3, seed=cfg)
    reports += (verify(model, x[:200], tuple(range(n + 1))),)  # every chunk of length 1
    for rep in reports:
        assert rep.ok and rep.board_checked and rep.exact_bits, rep
        assert rep.agree == rep.trials and rep.rounds == model.layers
        assert rep.bits == bits_formula(model, rep.boundaries) == model.state_bits(rep.boundaries)


def test_fixed_point_agrees_with_float64_at_p24():
    model = SparseAttention.random(vocab=8, layers=2, width=16, heads=2, window=3, global_every=8, precision=24,
                                   seed=1, max_len=64)
    x = random_tokens(8, 300, 64, seed=2)
    assert float((model.forward(x) == model.forward_float(x)).mean()) >= 0.99


def test_board_holds_keys_and_values_at_the_slots():
    model = SparseAttention.random(vocab=6, layers=2, width=3, heads=2, window=1, global_every=4, precision=12,
                                   seed=2, max_len=16)
    x = random_tokens(6, 30, 10, seed=3)
    b = (0, 3, 4, 10)
    p = to_protocol(model, b)
    r = run(p, split_tokens(x, b))
    outs, board = reference(model, x, b)
    assert (r.board == board).all() and (r.outputs == outs[:, -1]).all()
    # speaker 2 (positions 4..9), round 0: first slot = position 4, last = 9, globals 4, 8
    assert slot_positions(b, 1, 4)[2].tolist() == [4, 9, 4, 8]
    k, v = model.keys_values(0, model._embed(x, 0, False))
    d = p.record.decode(r.board[:, 0, 2])
    assert (d["k"] == k[..., [4, 9, 4, 8], :]).all() and (d["v"] == v[..., [4, 9, 4, 8], :]).all()


def test_speakers_use_only_their_chunk_and_the_board():
    enc = EncodedPointerChasing(PointerChasing(q=3, k=3))
    model = SparseAttention.random(vocab=8, layers=2, width=4, heads=2, window=2, global_every=4, seed=1, max_len=19)
    protocol = to_protocol(model, tuple(int(v) for v in canonical_boundaries(3, 3)))
    report = audit_locality(protocol, enc, trials=40, seed=1)
    assert report.ok, report.violations


def test_runs_on_encoded_pointer_chasing_with_success_reported():
    model = SparseAttention.random(vocab=8, layers=3, width=4, heads=2, window=2, global_every=6, seed=1, max_len=19)
    rep = pointer_chasing_success(model, PointerChasing(q=3, k=3), trials=300, seed=5)
    assert rep.trials == rep.agree == 300 and rep.rounds == 3
    assert 0 <= rep.ci_low <= rep.success <= rep.ci_high <= 1


def test_save_load_and_bad_input(tmp_path):
    model = SparseAttention.random(vocab=4, layers=1, width=2, window=1, global_every=3, seed=0, max_len=8)
    model.save(tmp_path / "s.npz")
    again = SparseAttention.load(tmp_path / "s.npz")
    x = random_tokens(4, 10, 8, seed=0)
    assert (again.forward(x) == model.forward(x)).all() and again.window == 1 and again.global_every == 3
    with pytest.raises(ModelError, match="window"):
        SparseAttention.random(vocab=4, layers=1, width=2, window=-1, seed=0)
    with pytest.raises(ModelError, match="global_every"):
        SparseAttention.random(vocab=4, layers=1, width=2, global_every=0, seed=0)
    with pytest.raises(ModelError, match="max_len"):
        model.forward(np.zeros((1, 9), dtype=np.int64))
    tiny = SparseAttention.random(vocab=300, layers=1, width=1, heads=1, window=0, global_every=50, precision=4, seed=0)
    with pytest.raises(CompileError, match="too few"):
        to_protocol(tiny, (0, 1, 2))


def test_verify_cli_sparse_family(capsys):
    import json

    from protocols.cli_support import run_commands
    from reductions.__main__ import COMMANDS

    argv = ["verify", "--model", "sparse", "--width", "4", "--heads", "2", "--window", "2", "--global-every", "3",
            "--precision", "12", "--k", "3", "--n", "14", "--trials", "200", "--seed", "2", "--json"]
    assert run_commands("python -m reductions", "test", "reductions.cli", COMMANDS, argv) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["agree"] == 200 and data["rounds"] == 2 and data["board_checked"] and data["exact_bits"]
    G = max(globals_per_chunk(data["splits"][0], 3))
    assert data["bits"] == data["bits_formula"] == (2 * 2 + G) * 2 * 2 * 4 * 12
    argv = ["verify", "--model", "sparse", "--window", "1", "--q", "3", "--k", "3", "--trials", "100", "--json"]
    assert run_commands("python -m reductions", "test", "reductions.cli", COMMANDS, argv) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["agree"] == 100 and data["success"] is not None


@pytest.mark.parametrize("precision", [40, 64])
def test_wide_precision_protocol_agrees(precision):
    """p > 32: window and global scores leave int64 before rounding; exact sums keep model = protocol."""
    from reductions.verify import random_tokens, verify

    m = SparseAttention.random(vocab=4, layers=2, width=4, precision=precision, seed=0, max_len=40)
    x = random_tokens(4, 20, 30, seed=1)
    rep = verify(m, x, (0, 10, 30), seed=0)
    assert rep.agree == 20 and rep.board_checked
