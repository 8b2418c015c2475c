"""Depth table of the k-hop construction: measured least exact depth and per-depth errors."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lowerbounds.depth_table import DepthTable, DepthTableError, depth_table
from reductions import hop, random_sequences
from reductions.constructions.hop_construction import construction_reach, hop_construction


@pytest.fixture(scope="module")
def table() -> DepthTable:
    # the paper's setting: alphabet 4, N = 100, no equal neighbours
    return depth_table(trials=40, seed=7)


def test_least_exact_depth_is_ceil_log2_k_plus_2(table):
    assert table.ks == tuple(range(1, 33))
    assert table.least_exact_depth == tuple(math.ceil(math.log2(k)) + 2 for k in range(1, 33))
    assert table.least_exact_depth == table.formula_depth


def test_zero_error_exactly_where_the_depth_suffices(table):
    assert {c.layers for c in table.cells} == set(range(2, 7))
    assert {c.k for c in table.cells} == set(range(0, 33))
    for c in table.cells:
        assert c.reached == min(c.k, construction_reach(c.layers))
        assert c.positions + c.bottom_positions == 40 * 100
        if c.k <= 2 ** (c.layers - 2):
            assert c.exact and c.error == 0.0, c
        else:
            # hop_{k'} and hop_k differ at most positions: far from exact
            assert c.error > 0.3 and not c.exact, c


def test_cells_match_an_independent_recount():
    t = depth_table(ks=[3, 5], depths=[2, 3, 4], error_ks=[0, 3, 4, 6, 9], n=60, trials=25, seed=3)
    x = random_sequences(25, 60, 4, distinct_neighbours=True, seed=np.random.SeedSequence(3)).astype(np.int64)
    for c in t.cells:
        got = hop_construction(c.k, max_len=60, alphabet=4, layers=c.layers)(x)
        want = hop(x, c.k)
        nb = want != -1
        assert c.errors == int((got != want)[nb].sum()) and c.positions == int(nb.sum())
        assert c.bottom_errors == int((got != want)[~nb].sum())
    assert t.least_exact_depth == (4, 5)


def test_truncated_weights_depend_on_k_only_through_reached():
    a = hop_construction(9, max_len=30, alphabet=4, layers=4).model.params()
    b = hop_construction(4, max_len=30, alphabet=4, layers=4).model.params()
    assert all(np.array_equal(a[name], b[name]) for name in a)


def test_rows_are_plain_data(table):
    rows = table.depth_rows()
    assert rows[0] == {"k": 1, "least_exact_depth": 2, "formula_depth": 2}
    er = table.error_rows()
    assert len(er) == 5 * 33
    assert set(er[0]) >= {"layers", "k", "reached", "error", "exact", "positions", "errors"}
    assert table.setting() == {"n": 100, "alphabet": 4, "trials": 40, "distinct_neighbours": True,
                               "seed": 7, "max_layers": 9}
    with pytest.raises(DepthTableError, match="no cell at layers = 9"):
        table.cell(9, 1)


def test_uniform_sequences_and_reproducibility():
    a = depth_table(ks=range(1, 9), depths=[3], error_ks=range(0, 5), alphabet=3, n=80, trials=30,
                    distinct_neighbours=False, seed=5)
    assert a.least_exact_depth == tuple(math.ceil(math.log2(k)) + 2 for k in range(1, 9))
    b = depth_table(ks=range(1, 9), depths=[3], error_ks=range(0, 5), alphabet=3, n=80, trials=30,
                    distinct_neighbours=False, seed=5)
    assert a == b


def test_search_cap_reports_none_when_no_depth_is_exact():
    t = depth_table(ks=[8], depths=[2], error_ks=[1], n=50, trials=10, seed=0, max_layers=4)
    assert t.least_exact_depth == (None,)


@pytest.mark.parametrize(
    "kwargs, match",
    [({"ks": [0]}, "ks entry = 0"), ({"depths": [0]}, "depths entry = 0"), ({"trials": 0}, "trials = 0"),
     ({"alphabet": 1}, "need >= 2 symbols"), ({"ks": "ab"}, "ks entry = 'a'; ks entry must be an integer"),
     ({"ks": 3}, "not a sequence of integers"), ({"depths": [True]}, "not a bool"),
     ({"max_layers": 0}, "max_layers = 0")],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(DepthTableError, match=match):
        depth_table(**kwargs)
