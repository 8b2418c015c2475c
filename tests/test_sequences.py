"""Sequence samplers and the multi-task hop batch format (docs/definitions.md §3)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import chisquare

from reductions import HopVocab, hop, hop_task_batch, random_sequences
from reductions.khop.sequences import SequenceError
from reductions.khop.task import hop_naive


def test_shapes_dtypes_and_seeds():
    x = random_sequences(5, 12, 4, seed=1)
    assert x.shape == (5, 12) and x.dtype == np.uint8
    assert (x == random_sequences(5, 12, 4, seed=1)).all()
    assert not (x == random_sequences(5, 12, 4, seed=2)).all()
    assert random_sequences(2, 3, 300).dtype == np.uint16
    assert random_sequences(2, 3, 70_000).dtype == np.uint32
    assert random_sequences(2, 3, 2**40).dtype == np.uint64
    assert random_sequences(2, 3, 4, dtype=np.int32).dtype == np.int32
    assert random_sequences(0, 3, 4).shape == (0, 3) and random_sequences(3, 0, 4).shape == (3, 0)
    big = random_sequences(3, 1000, 2**40, distinct_neighbours=True, seed=0)
    assert big.max() < 2**40 and (big[:, 1:] != big[:, :-1]).all()


def test_generator_seed_is_used_as_is():
    g1, g2 = np.random.default_rng(5), np.random.default_rng(5)
    a = random_sequences(3, 7, 9, seed=g1)
    b = random_sequences(3, 7, 9, seed=g2)
    assert (a == b).all()
    assert not (random_sequences(3, 7, 9, seed=g1) == a).all()  # the generator advanced


@pytest.mark.parametrize("A", [1, 2, 3, 5, 256])
def test_uniform_is_uniform(A):
    x = random_sequences(400, 250, A, seed=A)
    counts = np.bincount(x.ravel().astype(np.int64), minlength=A)
    assert counts.sum() == 100_000 and x.max() < A
    if A > 1:
        assert chisquare(counts).pvalue > 1e-4


@pytest.mark.parametrize("A", [2, 3, 4, 7])
def test_distinct_neighbours_is_uniform_over_allowed_pairs(A):
    x = random_sequences(500, 200, A, distinct_neighbours=True, seed=10 + A).astype(np.int64)
    assert (x[:, 1:] != x[:, :-1]).all()
    assert chisquare(np.bincount(x[:, 0], minlength=A)).pvalue > 1e-4
    pairs = x[:, :-1] * A + x[:, 1:]
    counts = np.bincount(pairs.ravel(), minlength=A * A).reshape(A, A)
    assert (np.diag(counts) == 0).all()
    off = counts[~np.eye(A, dtype=bool)]
    assert chisquare(off).pvalue > 1e-4
    if A == 2:  # forced alternation
        assert ((x[:, 1:] + x[:, :-1]) == 1).all()


def test_distinct_neighbours_has_no_fixed_points():
    """find(i) = i exactly at equal neighbours; without them every hop moves strictly left."""
    from reductions import find

    x = random_sequences(50, 100, 4, distinct_neighbours=True, seed=3)
    i = np.arange(100)
    for k in (1, 2, 5):
        f = find(x, k)
        assert ((f == -1) | (f < i)).all()
    u = random_sequences(50, 100, 4, seed=3)
    assert (find(u, 1) == i).any()  # the uniform sampler does produce fixed points


def test_long_distinct_sequences_with_block_carry():
    x = random_sequences(2, 200_000, 3, distinct_neighbours=True, seed=4)
    assert (x[:, 1:] != x[:, :-1]).all() and x.max() == 2


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(batch=-1, length=3, alphabet=2), "batch"),
        (dict(batch=1, length=-3, alphabet=2), "length"),
        (dict(batch=1, length=3, alphabet=0), "alphabet"),
        (dict(batch=1, length=3, alphabet=1, distinct_neighbours=True), "distinct neighbours"),
        (dict(batch=1, length=3, alphabet=300, dtype=np.uint8), "cannot hold"),
        (dict(batch=1.5, length=3, alphabet=2), "batch"),
    ],
)
def test_sampler_errors(kwargs, match):
    with pytest.raises(SequenceError, match=match):
        random_sequences(**kwargs)


def test_length_one_distinct_alphabet_one_is_fine():
    assert random_sequences(2, 1, 1, distinct_neighbours=True).tolist() == [[0], [0]]


# --------------------------------------------------------- the task format
def test_vocab_layout():
    v = HopVocab(alphabet=4, min_hops=0, max_hops=16)
    assert (v.none, v.blank, v.size) == (4, 5, 23)
    assert v.hop_token(0) == 6 and v.hop_token(16) == 22
    assert v.hops_of(v.hop_token(np.arange(17))).tolist() == list(range(17))
    w = HopVocab(alphabet=3, min_hops=2, max_hops=4)
    assert [w.hop_token(k) for k in (2, 3, 4)] == [5, 6, 7] and w.size == 8
    with pytest.raises(SequenceError, match="outside 2..4"):
        w.hop_token(1)
    with pytest.raises(SequenceError, match="not a hop-count token"):
        w.hops_of(3)
    with pytest.raises(SequenceError, match="max_hops"):
        HopVocab(4, 5, 2)


def test_task_batch_matches_hop_per_row():
    tb = hop_task_batch(64, 30, 4, min_hops=0, max_hops=16, seed=11)
    v = tb.vocab
    assert tb.inputs.shape == tb.targets.shape == (64, 31)
    assert tb.inputs.dtype == tb.targets.dtype == np.int64
    assert set(tb.hops.tolist()) <= set(range(17)) and len(set(tb.hops.tolist())) > 5
    assert (tb.inputs[:, 1:] == tb.sequences).all()
    assert (tb.targets[:, 0] == v.blank).all()
    for b in range(64):
        k = int(tb.hops[b])
        assert tb.inputs[b, 0] == v.hop_token(k)
        want = [v.none if t == -1 else t for t in hop_naive(tb.sequences[b].tolist(), k)]
        assert tb.targets[b, 1:].tolist() == want
    # the paper's distribution: no equal neighbours, symbols below the special tokens
    assert (tb.sequences[:, 1:] != tb.sequences[:, :-1]).all()
    assert tb.inputs[:, 1:].max() < v.none and tb.inputs[:, 0].min() >= v.hop_token(0)


def test_task_batch_hops_and_seeds():
    a = hop_task_batch(8, 10, hops=3, seed=0)
    assert a.hops.tolist() == [3] * 8
    b = hop_task_batch(3, 10, hops=[0, 1, 2], seed=0, distinct_neighbours=False)
    assert b.hops.tolist() == [0, 1, 2]
    assert (b.targets[0, 1:] == b.sequences[0]).all()  # hop_0 is the identity
    c = hop_task_batch(8, 10, seed=5)
    assert (c.inputs == hop_task_batch(8, 10, seed=5).inputs).all()
    with pytest.raises(SequenceError, match="hop count 17"):
        hop_task_batch(2, 5, hops=17)
    with pytest.raises(SequenceError, match="3 ints"):
        hop_task_batch(3, 5, hops=[1, 2])


def test_targets_of_a_prefix_are_a_prefix():
    """Why trimming the paper's sequences is harmless: hop_k looks only backwards."""
    x = random_sequences(20, 100, 4, distinct_neighbours=True, seed=8)
    for k in (1, 4, 16):
        assert (hop(x[:, :98], k) == hop(x, k)[:, :98]).all()
