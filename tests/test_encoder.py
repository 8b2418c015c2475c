"""Pointer chasing <-> k-hop encoding (docs/definitions.md §4), HopInstance, and TokenChase."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocols import PointerChasing, PointerChasingInstances, audit_locality, estimate_success, run
from protocols.library import OneHopPerRound
from reductions import (
    EncodedPointerChasing,
    EncodingError,
    HopInstance,
    TokenChase,
    answer_from_hop,
    decode,
    decode_class_map,
    encode,
    hop,
)
from reductions.khop.instance import canonical_boundaries
from reductions.khop.task import hop_naive


# ------------------------------------------------------------------ oracle
def naive_encode(q, k, layers, start, classes, pad=0):
    """docs/definitions.md §4 written out literally, one instance."""
    lab = lambda j, u: u if j % 2 == 1 else q + u  # noqa: E731
    seq = [2 * q + 2] * pad
    for j in range(k, 0, -1):
        for u in range(q):
            seq.append(lab(j, u))
            seq.append(lab(j + 1, layers[j - 1][u]) if j < k else 2 * q + classes[layers[k - 1][u]])
    seq.append(lab(1, start))
    return seq


def naive_chase(layers, start):
    v = start
    for layer in layers:
        v = layer[v]
    return v


# ------------------------------------------------ 10^4 random instances
def test_ten_thousand_instances_claim_roundtrip_and_layout():
    rng = np.random.default_rng(404)
    total = 0
    seen_q, seen_k = set(), set()
    cells = [(2, 1), (64, 10), (2, 10), (64, 1)] + [
        (int(rng.integers(2, 65)), int(rng.integers(1, 11))) for _ in range(246)
    ]
    for c, (q, k) in enumerate(cells):
        pc = PointerChasing(q=q, k=k, start=None)
        inst = pc.sample(40, seed=c)
        pad = int(rng.integers(1, 20)) if c % 3 == 0 else 0
        h = encode(inst, None if pad == 0 else 2 * k * q + 1 + pad)
        N = 2 * k * q + 1 + pad
        # N, alphabet, boundaries
        assert h.tokens.shape == (40, N) and (h.q, h.k, h.pad) == (q, k, pad)
        assert h.alphabet == 2 * q + 2 + (pad > 0)
        assert h.tokens.max() < h.alphabet
        assert h.boundaries.tolist() == [0] + [pad + 2 * q * i for i in range(1, k)] + [N]
        # speaker i holds exactly the block of layer k-i (the last also the final token)
        chunks = h.chunks()
        for i in range(k):
            block = h.block(k - i)
            body = chunks[i][:, pad:] if i == 0 else chunks[i]
            assert (body[:, : 2 * q] == block).all()
            assert body.shape[1] == 2 * q + (1 if i == k - 1 else 0)
        assert (chunks[-1][:, -1] == inst.start).all()
        # the claim: hop_k(x)[N-1] = 2q + answer
        assert (hop(h.tokens, k)[:, -1] == 2 * q + pc.answer(inst)).all()
        assert (h.hop_answer() == pc.answer(inst)).all()
        # the round trip: everything the sequence carries comes back
        back = decode(h)
        for j in range(k - 1):
            assert (back.layers[j] == inst.layers[j]).all()
        assert (back.start == inst.start).all()
        assert (back.class_map() == inst.class_map()).all()
        assert (decode_class_map(h) == inst.class_map()).all()
        assert (back.decision() == inst.decision()).all()
        assert all((np.sort(layer, axis=1) == np.arange(q)).all() for layer in back.layers)
        # the literal encoder agrees on a few instances
        for b in range(2):
            want = naive_encode(
                q,
                k,
                [layer[b].tolist() for layer in inst.layers],
                int(inst.start[b]),
                inst.classes.tolist(),
                pad,
            )
            assert h.tokens[b].tolist() == want
        total += 40
        seen_q.add(q)
        seen_k.add(k)
    assert total >= 10_000
    assert {2, 64} <= seen_q and {1, 10} <= seen_k


def test_claim_with_the_naive_hop_oracle():
    for q, k in [(2, 1), (3, 2), (4, 3), (5, 4)]:
        pc = PointerChasing(q=q, k=k, start=None)
        inst = pc.sample(5, seed=q)
        h = encode(inst, 2 * k * q + 4)
        for b in range(5):
            assert hop_naive(h.tokens[b].tolist(), k)[-1] == 2 * q + pc.answer(inst)[b]


def test_decode_recovers_instances_whose_last_layer_is_already_canonical():
    q, k = 6, 3
    pc = PointerChasing(q=q, k=k, start=None)
    inst = pc.sample(10, seed=2)
    canon = decode(encode(inst))
    again = decode(encode(canon))  # decode ∘ encode is the identity on decoded instances
    for a, b in zip(canon.layers, again.layers, strict=True):
        assert (a == b).all()
    assert (again.start == canon.start).all()


def test_custom_classes_roundtrip():
    classes = (1, 0, 1, 0, 0, 1)
    pc = PointerChasing(q=6, k=2, start=None, classes=classes)
    inst = pc.sample(30, seed=9)
    h = encode(inst)
    assert (h.hop_answer() == pc.answer(inst)).all()
    back = decode(h, classes=classes)
    assert (back.classes == np.array(classes)).all()
    assert (back.decision() == pc.answer(inst)).all()
    assert (back.class_map() == inst.class_map()).all()


@settings(max_examples=60, deadline=None)
@given(st.integers(2, 9), st.integers(1, 5), st.integers(0, 10), st.integers(0, 2**32 - 1))
def test_hypothesis_small_instances(q, k, pad, seed):
    pc = PointerChasing(q=q, k=k, start=None)
    inst = pc.sample(3, seed=seed)
    h = encode(inst, 2 * k * q + 1 + pad)
    assert (hop(h.tokens, k)[:, -1] == 2 * q + pc.answer(inst)).all()
    for b in range(3):
        assert hop_naive(h.tokens[b].tolist(), k)[-1] == 2 * q + pc.answer(inst)[b]


def test_padding_never_changes_the_answer_and_uses_its_own_token():
    pc = PointerChasing(q=5, k=3, start=None)
    inst = pc.sample(20, seed=1)
    base = encode(inst)
    for extra in (1, 7, 100):
        h = encode(inst, base.length + extra)
        assert (h.tokens[:, :extra] == 12).all() and h.pad_token == 12
        assert (h.tokens[:, extra:] == base.tokens).all()
        assert (h.hop_answer() == base.hop_answer()).all()


def test_token_dtype_is_small():
    assert encode(PointerChasing(q=100, k=2).sample(2, seed=0)).tokens.dtype == np.uint8
    assert encode(PointerChasing(q=200, k=2).sample(2, seed=0)).tokens.dtype == np.uint16


# -------------------------------------------------------------- validation
def _inst(q, k, layers, start, classes=None):
    cls = (2 * np.arange(q) >= q).astype(np.uint8) if classes is None else np.asarray(classes)
    return PointerChasingInstances(
        q, k, tuple(np.asarray(a) for a in layers), np.asarray(start), cls
    )


def test_rejects_non_matchings_naming_layer_and_value():
    layers = [np.array([[0, 1, 2], [1, 1, 0]]), np.array([[0, 1, 2], [2, 1, 0]])]
    with pytest.raises(EncodingError, match=r"layer E_1 of instance 1 is not a matching: vertex 1"):
        encode(_inst(3, 2, layers, [0, 0]))
    layers = [np.array([[0, 1, 2]]), np.array([[0, 2, 2]]), np.array([[2, 1, 0]])]
    with pytest.raises(EncodingError, match=r"layer E_2 of instance 0 is not a matching: vertex 2"):
        encode(_inst(3, 3, layers, [0]))


@pytest.mark.parametrize("k", [2, 4])
def test_rejects_the_arbitrary_function_variant(k):
    pc = PointerChasing(q=16, k=k, functions=True)
    with pytest.raises(EncodingError, match="not a matching"):
        encode(pc.sample(50, seed=0))
    with pytest.raises(EncodingError, match="functions=True"):
        EncodedPointerChasing(pc)


@pytest.mark.parametrize("k", [1, 2, 3, 6])
def test_last_layer_may_be_any_function(k):
    """docs/definitions.md §4 needs matchings only in E_1..E_(k-1): the claim holds for any E_k."""
    q, B = 7, 400
    rng = np.random.default_rng(k)
    inst = PointerChasing(q=q, k=k, start=None).sample(B, seed=k)
    last = rng.integers(0, q, (B, q)).astype(inst.layers[-1].dtype)  # arbitrary, mostly not matchings
    inst = PointerChasingInstances(q, k, inst.layers[:-1] + (last,), inst.start, inst.classes)
    h = encode(inst)
    assert (hop(h.tokens, k)[:, -1] == 2 * q + inst.decision()).all()
    back = decode(h)
    assert (back.class_map() == inst.class_map()).all() and (back.decision() == inst.decision()).all()
    assert all((a == b).all() for a, b in zip(back.layers[:-1], inst.layers[:-1], strict=True))


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: _inst(1, 1, [np.array([[0]])], [0]), "q = 1"),
        (lambda: _inst(3, 0, [], [0]), "k = 0"),
        (lambda: _inst(3, 2, [np.array([[0, 1, 2]])], [0]), "got 1 edge layers; k = 2"),
        (lambda: _inst(3, 1, [np.array([0, 1, 2])], [0]), r"E_1 has shape \(3,\)"),
        (
            lambda: _inst(3, 2, [np.array([[0, 1, 2]]), np.array([[0, 1]])], [0]),
            r"E_2 has shape \(1, 2\)",
        ),
        (lambda: _inst(3, 1, [np.array([[0.0, 1, 2]])], [0]), "dtype float64"),
        (lambda: _inst(3, 1, [np.array([[0, 1, 3]])], [0]), "vertex 3, outside V_2"),
        (lambda: _inst(3, 1, [np.array([[0, 1, 2]])], [0, 1]), r"start has shape \(2,\)"),
        (lambda: _inst(3, 1, [np.array([[0, 1, 2]])], [5]), "start vertex 5"),
        (lambda: _inst(3, 1, [np.array([[0, 1, 2]])], [0], classes=[0, 2, 1]), "classes must be"),
    ],
)
def test_encode_validation(make, match):
    with pytest.raises(EncodingError, match=match):
        encode(make())


def test_encode_length_too_short():
    inst = PointerChasing(q=3, k=2).sample(1, seed=0)
    with pytest.raises(EncodingError, match="length = 12 is shorter than 2kq \\+ 1 = 13"):
        encode(inst, 12)


def _tampered(h: HopInstance, b: int, pos: int, value: int) -> HopInstance:
    t = h.tokens.copy()
    t[b, pos] = value
    return HopInstance(t, h.boundaries, h.q, h.k, h.pad)


def test_decode_rejects_malformed_sequences():
    q, k = 4, 3
    inst = PointerChasing(q=q, k=k).sample(3, seed=0)
    h = encode(inst, 2 * k * q + 1 + 2)
    with pytest.raises(EncodingError, match="position 1: token 0 in the padding"):
        decode(_tampered(h, 1, 1, 0))
    with pytest.raises(
        EncodingError, match=r"position 4: token 0 where the block of layer 3 has label_3\(1\) = 1"
    ):
        decode(_tampered(h, 0, 4, 0))
    with pytest.raises(EncodingError, match="is not a class token"):
        decode(_tampered(h, 0, 3, 2))
    blk2 = 2 + 2 * q  # block of layer 2 starts after the pad and block 3
    with pytest.raises(EncodingError, match="not a vertex of V_3"):
        decode(_tampered(h, 2, blk2 + 1, 7))
    same = h.tokens[0, blk2 + 3]
    with pytest.raises(EncodingError, match="layer E_2 of instance 0 is not a matching"):
        decode(_tampered(h, 0, blk2 + 1, same))
    with pytest.raises(EncodingError, match="final token 9 is not a vertex of V_1"):
        decode(_tampered(h, 0, h.length - 1, 9))
    unbalanced = h.tokens.copy()
    unbalanced[0, 2 + 1 : 2 + 2 * q : 2] = 2 * q  # every vertex of V_k to class 0: E_k was a function
    back = decode(HopInstance(unbalanced, h.boundaries, q, k, 2))
    assert (back.class_map()[0] == 0).all() and (back.layers[-1][0] == 0).all()
    with pytest.raises(EncodingError, match="which classes does not contain"):
        decode(h, classes=[0] * q)
    with pytest.raises(EncodingError, match="classes must be"):
        decode(h, classes=[0, 1])
    with pytest.raises(EncodingError, match="HopInstance"):
        decode(h.tokens)


def test_answer_from_hop():
    assert answer_from_hop(np.array([[8, 9]]), 4).tolist() == [[0, 1]]
    with pytest.raises(EncodingError, match="is -1"):
        answer_from_hop([8, -1], 4)
    with pytest.raises(EncodingError, match="is 3"):
        answer_from_hop([3], 4)


def test_hop_instance_validation_and_helpers():
    inst = PointerChasing(q=3, k=3).sample(4, seed=0)
    h = encode(inst)
    assert h.canonical and h.owners().tolist() == [0] * 6 + [1] * 6 + [2] * 7
    assert [h.layer_of(i) for i in range(3)] == [3, 2, 1]
    other = h.with_boundaries([0, 1, 10, 19])
    assert not other.canonical and [c.shape[1] for c in other.chunks()] == [1, 9, 9]
    sub = h[1:3]
    assert sub.batch == 2 and (sub.tokens == h.tokens[1:3]).all()
    chunks = h.chunks()
    chunks[0][:] = 0  # chunks are copies
    assert h.tokens[:, :6].max() > 0
    with pytest.raises(EncodingError, match="must rise from 0 to N = 19"):
        h.with_boundaries([0, 12, 6, 19])
    with pytest.raises(EncodingError, match="expected k\\+1 = 4"):
        h.with_boundaries([0, 19])
    with pytest.raises(EncodingError, match="length 18"):
        HopInstance(h.tokens[:, 1:], h.boundaries, 3, 3)
    with pytest.raises(EncodingError, match="speaker 3 outside"):
        h.layer_of(3)
    with pytest.raises(EncodingError, match="layer 0 outside"):
        h.block(0)
    assert canonical_boundaries(3, 3, pad=4).tolist() == [0, 10, 16, 23]


# ----------------------------------------------- running protocols on tokens
def test_encoded_problem_adapter():
    pc = PointerChasing(q=8, k=3, start=None)
    enc = EncodedPointerChasing(pc, length=60)
    h = enc.sample(50, seed=3)
    assert h.length == 60 and enc.k == 3 and enc.public(h) == {}
    assert [x.shape[1] for x in enc.inputs(h)] == [16 + 11, 16, 17]
    inst = pc.sample(50, seed=3)
    assert (enc.answer(h) == 16 + pc.answer(inst)).all()
    assert (enc.answer(h) == hop(h.tokens, 3)[:, -1]).all()
    for bad, match in [
        (PointerChasing(q=8, k=3, version="search"), "'search'"),
        (PointerChasing(q=8, k=3, order="easy"), "'easy'"),
    ]:
        with pytest.raises(EncodingError, match=match):
            EncodedPointerChasing(bad)
    with pytest.raises(EncodingError, match="shorter"):
        EncodedPointerChasing(pc, length=10)


@pytest.mark.parametrize(
    "q, k, pad", [(2, 1, 0), (5, 1, 3), (7, 3, 0), (16, 4, 5), (64, 5, 0), (3, 2, 1)]
)
def test_token_chase_agrees_with_one_hop_per_round(q, k, pad):
    """Same instances and seed: token output = 2q + the graph protocol's output, for every R."""
    pc = PointerChasing(q=q, k=k, start=None)
    enc = EncodedPointerChasing(pc, length=2 * k * q + 1 + pad)
    inst = pc.sample(300, seed=q + k)
    h = encode(inst, enc.length)
    for R in range(1, k + 3):
        graph = run(OneHopPerRound(pc, R=R), pc.inputs(inst), seed=R, public=pc.public(inst))
        tokens = run(TokenChase(enc, R=R), h.inputs(), seed=R)
        assert (tokens.outputs == 2 * q + graph.outputs).all()
        assert tokens.s == graph.s and tokens.bits_written == graph.bits_written
        # the boards agree bit for bit, except where the holder of E_k writes v_{k+1}
        # (graph) or its class (tokens): message (k-1)*k, unless it is the last one
        keep = np.ones(R * k, dtype=bool)
        if R >= k and (k - 1) * k != R * k - 1:
            keep[(k - 1) * k] = False
        flat_t = tokens.board.reshape(300, R * k, -1)[:, keep]
        flat_g = graph.board.reshape(300, R * k, -1)[:, keep]
        assert (flat_t == flat_g).all()
        assert (tokens.used == graph.used).all()
        if R >= k:
            assert (tokens.outputs == enc.answer(h)).all()


def test_token_chase_success_rates():
    pc = PointerChasing(q=32, k=4, start=None)
    enc = EncodedPointerChasing(pc)
    assert estimate_success(TokenChase(enc), enc, 400, seed=0).rate == 1.0
    est = estimate_success(TokenChase(enc, R=3), enc, 2000, seed=1)
    assert est.ci_low < 0.5 < est.ci_high
    assert audit_locality(TokenChase(enc), enc, trials=32, seed=2).ok


def test_token_chase_checks_chunks_and_budget():
    pc = PointerChasing(q=4, k=2)
    enc = EncodedPointerChasing(pc)
    h = enc.sample(3, seed=0)
    with pytest.raises(EncodingError, match="speaker 1 holds 8 tokens"):
        run(TokenChase(enc), h.with_boundaries([0, 9, 17]).inputs(), seed=0)
    with pytest.raises(ValueError, match="s >= ceil\\(log2 q\\) = 2"):
        TokenChase(enc, s=1)
    assert TokenChase(pc).R == 2  # a bare PointerChasing is wrapped
