"""1-vs-2 cycles and connectivity by MPC pointer doubling (docs/definitions.md §9): correct, O(log N) rounds."""

from __future__ import annotations

import math

import numpy as np
import pytest

from protocols.mpc import MPCConfigError
from protocols.mpc.cycles import (
    components_naive,
    cycle_instance,
    cycles_layout,
    cycles_rounds,
    mpc_connectivity,
    mpc_cycles,
)


def within_s(res):
    sm = res.run.summary()
    return max(sm["max_words_held"], sm["max_words_sent"], sm["max_words_received"]) <= res.layout.s


def test_random_one_and_two_cycles_small():
    rng = np.random.default_rng(0)
    for t in range(60):
        n = 2 * int(rng.integers(3, 150))
        cycles = int(rng.integers(1, 3))
        delta = float(rng.uniform(0.1, 0.9))
        e = cycle_instance(n, cycles, seed=t)
        r = mpc_cycles(e, n, delta, seed=t, audit="all" if n < 60 else 2)
        assert r.components == cycles
        assert r.run.rounds == cycles_rounds(n, delta) == math.ceil(math.log2(n)) + r.layout.tree.depth + 3
        assert within_s(r)


@pytest.mark.parametrize("cycles", [1, 2])
def test_cycles_at_n_1e5(cycles):
    n = 10**5
    r = mpc_cycles(cycle_instance(n, cycles, seed=cycles), n, 0.5, seed=1)
    assert r.components == cycles and within_s(r)
    assert r.run.rounds == math.ceil(math.log2(n)) + r.layout.tree.depth + 3 == 21


def test_rounds_grow_like_log_n():
    rows = [(n, cycles_rounds(n, 0.5)) for n in (2**6, 2**10, 2**14, 2**17)]
    for n, R in rows:
        assert R - math.log2(n) <= 3 + cycles_layout(n, n, 0.5).tree.depth
    assert [R for _, R in rows] == sorted(R for _, R in rows)


def test_connectivity_labels_on_paths_and_cycles():
    rng = np.random.default_rng(5)
    for t in range(50):
        n = int(rng.integers(1, 120))
        perm = rng.permutation(n)
        cuts = np.sort(rng.choice(np.arange(1, n), size=min(max(n - 1, 0), int(rng.integers(0, 6))),
                                  replace=False)) if n > 1 else []
        edges = []
        for part in np.split(perm, cuts):
            edges += [[part[i], part[i + 1]] for i in range(len(part) - 1)]
            if len(part) >= 3 and rng.random() < 0.5:
                edges.append([part[-1], part[0]])
        e = np.array(edges, dtype=np.int64).reshape(-1, 2)
        r = mpc_connectivity(e, n, float(rng.uniform(0.1, 0.9)), seed=t, audit="all" if n < 50 else 2)
        assert np.array_equal(r.labels, components_naive(e, n))
        assert r.run.rounds == r.layout.rounds and within_s(r)


@pytest.mark.parametrize("edges, n", [([[0, 1], [0, 2], [0, 3]], 4), ([[0, 5]], 3), ([[1, 1]], 2),
                                      ([[0.5, 1]], 3), ([0, 1], 2)])
def test_bad_graphs_are_named(edges, n):
    with pytest.raises(MPCConfigError):
        mpc_cycles(np.array(edges), n)


def test_instance_generator():
    for c in (1, 2):
        e = cycle_instance(20, c, seed=3)
        assert len(set(components_naive(e, 20).tolist())) == c
        assert np.bincount(e.reshape(-1), minlength=20).tolist() == [2] * 20
    with pytest.raises(MPCConfigError):
        cycle_instance(7, 2)
