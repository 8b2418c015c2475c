"""Lazy uniform matchings (docs/definitions.md §2.1): consistent, exact in distribution, cheap."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import chisquare, fisher_exact

from protocols import InvalidInstance, PointerChasing, clopper_pearson, estimate_success, run
from protocols.lazy_input import gather
from protocols.library import LastLayerTable, OneHopPerRound, Sampling
from protocols.problems.lazy_matching import LazyMatching


@settings(max_examples=40, deadline=None)
@given(q=st.integers(2, 40), batch=st.integers(1, 5), seed=st.integers(0, 10**6), reads=st.integers(1, 6),
       data=st.data())
def test_reads_are_consistent_and_complete_to_a_matching(q, batch, seed, reads, data):
    e = LazyMatching(batch, q, seed=seed)
    seen = []
    for _ in range(reads):
        shared = data.draw(st.booleans())
        t = data.draw(st.integers(1, q))
        if shared:
            cols = np.broadcast_to(np.array(data.draw(st.lists(st.integers(0, q - 1), min_size=t, max_size=t))),
                                   (batch, t))
        else:
            cols = np.array(data.draw(st.lists(st.lists(st.integers(0, q - 1), min_size=t, max_size=t),
                                               min_size=batch, max_size=batch)))
        got = e.rows(cols)
        assert got.shape == cols.shape
        for b in range(batch):  # within a row: equal points equal images, distinct points distinct images
            pairs = dict()
            for u, v in zip(cols[b].tolist(), got[b].tolist(), strict=True):
                assert pairs.setdefault(u, v) == v
            assert len(set(pairs.values())) == len(pairs)
        seen.append((np.array(cols), got))
    full = np.asarray(e)
    for b in range(batch):
        assert sorted(full[b].tolist()) == list(range(q))
    for cols, got in seen:  # everything read before agrees with the completed table
        assert (np.take_along_axis(full, cols, axis=1) == got).all()


@pytest.mark.parametrize("shared", [True, False])
def test_first_two_entries_are_a_uniform_ordered_pair(shared):
    """q = 3: (E(0), E(2)) takes each of the 6 ordered pairs of distinct images w.p. 1/6 (chi-square)."""
    B = 30000
    e = LazyMatching(B, 3, seed=7)
    pick = (lambda u: np.broadcast_to([u], (B, 1))) if shared else (lambda u: np.full((B, 1), u))
    a = e.rows(pick(0))[:, 0]
    b = e.rows(pick(2))[:, 0]
    counts = np.bincount(a * 3 + b, minlength=9)
    assert counts[[0, 4, 8]].sum() == 0  # never the same image twice
    assert chisquare(counts[[1, 2, 3, 5, 6, 7]]).pvalue > 1e-3


def test_adaptive_reads_still_give_uniform_permutations():
    """q = 3, reads chosen from earlier answers: the completed rows are uniform over the 6 permutations."""
    B = 30000
    e = LazyMatching(B, 3, seed=3)
    first = e.rows(np.zeros(B, dtype=np.int64))
    e.rows(first % 3)  # which point is read next depends on what was drawn
    full = np.asarray(e)
    index = {p: i for i, p in enumerate(itertools.permutations(range(3)))}
    counts = np.bincount([index[tuple(r)] for r in full.tolist()], minlength=6)
    assert chisquare(counts).pvalue > 1e-3


def test_reading_most_of_a_row_materialises_it_once():
    e = LazyMatching(4, 64, seed=0)
    part = e.rows(np.broadcast_to(np.arange(20), (4, 20)))
    assert e.drawn == 80
    more = e.rows(np.broadcast_to(np.arange(40), (4, 40)))  # past half a row: the whole layer is drawn
    assert e.drawn == 4 * 64 and (more[:, :20] == part).all()


def test_functions_mode_draws_independent_images():
    e = LazyMatching(20000, 4, seed=1, functions=True)
    a, b = e.rows(np.zeros(20000, dtype=np.int64)), e.rows(np.ones(20000, dtype=np.int64))
    assert (a == b).mean() == pytest.approx(0.25, abs=0.02)


def test_bad_reads_are_refused():
    e = LazyMatching(2, 8, seed=0)
    with pytest.raises(IndexError, match="outside 0..7"):
        e.rows(np.array([0, 8]))
    with pytest.raises(ValueError, match="expected"):
        e.rows(np.array([0, 1, 2]))


def test_gather_agrees_on_plain_and_lazy_tables():
    e = LazyMatching(3, 10, seed=2)
    cols = np.array([[1, 2], [3, 4], [5, 6]])
    lazy = gather(e, cols)
    assert (gather(np.asarray(e), cols) == lazy).all()


# ------------------------------------------------------------- the problem option
def test_hard_and_lazy_options_are_validated():
    with pytest.raises(InvalidInstance, match="lazy=True needs hard=True"):
        PointerChasing(q=8, k=3, lazy=True)
    with pytest.raises(InvalidInstance, match="hard=True declares"):
        PointerChasing(q=8, k=3, hard=True, start=None)
    with pytest.raises(InvalidInstance, match="hard=True declares"):
        PointerChasing(q=8, k=3, hard=True, order="easy")
    pc = PointerChasing.hard_distribution(8, 3, lazy=True)
    with pytest.raises(InvalidInstance, match="cannot be sliced"):
        pc.sample(4, seed=0)[1:]


def test_lazy_answers_are_those_of_the_completed_layers():
    pc = PointerChasing.hard_distribution(32, 4, lazy=True)
    inst = pc.sample(50, seed=3)
    answer = pc.answer(inst)
    full = [np.asarray(layer) for layer in inst.layers]
    dense = PointerChasing(q=32, k=4).instances(full, inst.start)
    assert (PointerChasing(q=32, k=4).answer(dense) == answer).all()


def test_lazy_layers_share_no_state():
    inst = PointerChasing.hard_distribution(16, 3, lazy=True).sample(4, seed=0)
    a, b = inst.layers[0], inst.layers[1]
    assert a._rng is not b._rng and a._table is not b._table and a._column is not b._column


def test_engine_hands_each_holder_its_own_lazy_layer():
    pc = PointerChasing.hard_distribution(64, 4, lazy=True)
    inst = pc.sample(200, seed=1)
    r = run(OneHopPerRound(pc), pc.inputs(inst), seed=2, public=pc.public(inst))
    assert (r.outputs == pc.answer(inst)).all()


@pytest.mark.parametrize(
    "build, q, k, s",
    [(Sampling, 256, 8, 10), (Sampling, 1024, 16, 16), (LastLayerTable, 256, 8, 20)],
)
def test_two_sample_success_lazy_equals_materialised(build, q, k, s):
    """Fisher's exact test: success counts on lazy and materialised hard instances do not differ."""
    lazy, dense = PointerChasing.hard_distribution(q, k, lazy=True), PointerChasing.hard_distribution(q, k)
    p = build(dense, R=k - 1, s=s)
    n = 3000
    a = estimate_success(p, lazy, n, seed=10).successes
    b = estimate_success(p, dense, n, seed=11).successes
    assert fisher_exact([[a, n - a], [b, n - b]]).pvalue > 1e-3
    for x in (a, b):  # and both agree with the exact success
        lo, hi = clopper_pearson(x, n, 0.999)
        assert lo <= p.predict() <= hi
