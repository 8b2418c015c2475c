"""Protocols near the threshold (docs/definitions.md §10): closed forms against simulation, claims, best()."""

from __future__ import annotations

import math

import numpy as np
import pytest

from protocols import PointerChasing, audit_locality, clopper_pearson, estimate_success, run
from protocols.bits import bits_for
from protocols.library import (
    LIBRARY,
    PREDICTIONS,
    BackwardCollapse,
    LastLayerTable,
    NWSampling,
    Sampling,
    best,
    predict_success,
)
from protocols.library.disclosure_chase import guess_success, predict_disclosure_chase

NEW = [Sampling, NWSampling, LastLayerTable, BackwardCollapse]


@pytest.mark.parametrize("cls", NEW)
@pytest.mark.parametrize(
    "kw", [dict(q=16, k=5, hard=True), dict(q=16, k=4, start=None), dict(q=8, k=3, version="search")]
)
@pytest.mark.parametrize("R", [1, 2, "k-1", "k"])
def test_new_protocols_pass_the_locality_audit(cls, kw, R):
    pc = PointerChasing(**kw)
    R = {"k-1": pc.k - 1, "k": pc.k}.get(R, R)
    p = cls(pc, R=R, s=12)
    assert audit_locality(p, pc, trials=32, seed=3).ok


# (q, k, R, s): a grid across the regimes (free hops, class table, guessing, floors, straddling items)
GRID = [(64, 4, 3, 7), (64, 4, 3, 13), (256, 8, 7, 10), (256, 8, 7, 9), (256, 8, 6, 24), (1024, 16, 15, 16),
        (1024, 6, 5, 60), (128, 3, 2, 30), (128, 5, 1, 40)]


@pytest.mark.parametrize("cls", NEW)
@pytest.mark.parametrize("q, k, R, s", GRID)
def test_measured_success_matches_the_closed_form(cls, q, k, R, s):
    pc = PointerChasing.hard_distribution(q, k)
    try:
        p = cls(pc, R=R, s=s)
    except ValueError:
        pytest.skip("not buildable at this budget")
    est = estimate_success(p, pc, 2000, seed=q + k + s)
    lo, hi = clopper_pearson(est.successes, est.trials, 0.999)
    assert lo <= p.predict() <= hi, (est.rate, p.predict())
    assert p.predict() == pytest.approx(PREDICTIONS[p.name](q, k, R, s))


def test_closed_form_also_holds_with_per_instance_orders_and_random_starts():
    pc = PointerChasing(q=256, k=6, start=None)  # not declared hard: one public order per instance
    p = Sampling(pc, s=20)
    est = estimate_success(p, pc, 3000, seed=1)
    assert clopper_pearson(est.successes, est.trials, 0.999)[0] <= p.predict() <= est.ci_high + 0.02


def test_closed_form_against_a_direct_simulation_of_the_process():
    """Oracle: simulate the free-hop process itself (uniform vertices vs disclosed sets), R = k-1."""
    q, k, s, L = 128, 6, 9, bits_for(128)
    rng = np.random.default_rng(0)
    n = 200_000
    free = np.zeros(n, dtype=bool)
    for j in range(2, k):
        free |= rng.integers(0, q, n) < min(q, (j - 1) * s // L)
    nk = min(q, (k - 1) * (s - 1))
    at_k = rng.integers(0, q, n) < nk
    # the guess: majority of the q - nk undisclosed classes, drawn as a random subset of the balanced classes
    m = q - nk
    ones = rng.hypergeometric(q // 2, q - q // 2, m, n)
    guess_right = rng.random(n) < np.maximum(ones, m - ones) / m
    sim = (free | at_k | guess_right).mean()
    assert sim == pytest.approx(Sampling.predict_success(q, k, k - 1, s), abs=4 / math.sqrt(n))


def test_guess_success_by_enumeration():
    q, ones = 6, 3
    for n in range(q + 1):
        m = q - n
        if m == 0:
            continue
        # every undisclosed set of size m equally likely: average the majority share over all subsets
        from itertools import combinations

        classes = [0, 0, 0, 1, 1, 1]
        shares = [max(sum(c), m - sum(c)) / m for c in (tuple(classes[i] for i in sub)
                                                        for sub in combinations(range(q), m))]
        assert guess_success(q, ones, n) == pytest.approx(np.mean(shares))


def test_last_layer_table_claim_certain_at_its_budget_and_not_one_bit_below():
    for q, k in ((1024, 8), (1024, 40), (256, 2), (4096, 100)):
        s = max(math.ceil(q / (k - 1)), bits_for(q)) if k >= 3 else q
        assert LastLayerTable.certain_budget(q, k, k - 1) == s
        pc = PointerChasing.hard_distribution(q, k)
        assert estimate_success(LastLayerTable(pc, R=k - 1, s=s), pc, 300, seed=0).rate == 1.0
        assert LastLayerTable.predict_success(q, k, k - 1, s) == 1.0
        if s > bits_for(q) or k < 3:  # the table binds: one bit less leaves classes to guess
            assert LastLayerTable.predict_success(q, k, k - 1, s - 1) < 1.0


def test_backward_collapse_one_round_with_q_bits_and_certain_budgets():
    pc = PointerChasing.hard_distribution(64, 6)
    assert estimate_success(BackwardCollapse(pc, R=1, s=64), pc, 300, seed=0).rate == 1.0
    # c = 2 messages per table: T_j completes in round 2 + (k - j); meeting j* = R+1 needs R >= (k+1)/2
    assert BackwardCollapse.predict_success(64, 6, 4, 32) == 1.0
    assert BackwardCollapse.predict_success(64, 6, 3, 32) < 1.0


def test_the_back_of_envelope_formula_is_a_close_approximation_not_the_exact_value():
    q, k, L = 4096, 16, 12
    for s in (24, 48, 96):
        rough = 1 - 0.5 * math.exp(-s * (k**2 / (2 * q * L) + k / q))
        assert abs(rough - Sampling.predict_success(q, k, k - 1, s)) < 0.05


def test_predict_disclosure_chase_generalises_to_every_R():
    assert predict_disclosure_chase(256, 8, 8, 8) == 1.0  # R = k: certain
    one = Sampling.predict_success(256, 8, 1, 40)
    assert 0.5 <= one < Sampling.predict_success(256, 8, 7, 40)


def test_best_picks_the_highest_closed_form():
    for q, k, R, s in ((4096, 16, 15, 60), (4096, 16, 15, 300), (1024, 8, 1, 1024), (1024, 8, 8, 10), (64, 4, 3, 2)):
        b = best(q, k, R, s)
        scores = [predict_success(n, q, k, R, s) for n in PREDICTIONS]
        assert b.predicted == max(x for x in scores if x == x)
        pc = PointerChasing.hard_distribution(q, k)
        p = b.build(pc)
        assert (p.R, p.s, p.name) == (R, s, b.name)
    assert best(1024, 8, 1, 1024).predicted == 1.0  # backward collapse or full information in one round


def test_unknown_closed_form_is_refused():
    with pytest.raises(ValueError, match="no closed form for 'nope'"):
        predict_success("nope", 64, 4, 3, 8)


def test_every_library_protocol_has_a_closed_form():
    assert set(PREDICTIONS) == set(LIBRARY)


@pytest.mark.parametrize("q, k, R, s", [(9, 4, 3, 6), (100, 5, 4, 9), (1000, 3, 2, 40)])
def test_search_with_q_not_a_power_of_two_guesses_only_from_real_items(q, k, R, s):
    """Regression (CI, q = 9): rows where P_k already hopped carry its hop field, not items, whose
    bits may decode to values >= q; the guess must not read them."""
    pc = PointerChasing(q=q, k=k, version="search", start=None)
    p = Sampling(pc, R=R, s=s)
    est = estimate_success(p, pc, 3000, seed=q)
    lo, hi = clopper_pearson(est.successes, est.trials, 0.999)
    assert lo <= p.predict() <= hi, (est.rate, p.predict())


def test_order_seeds_are_drawn_per_run_and_never_carried_by_a_copy():
    """Sampling draws its layers' order seeds once per speaker and run; a seed list left on the
    caller's object (as direct use of message() would leave it) must not reach any copy."""
    pc = PointerChasing(q=64, k=4, start=None)  # not hard: public orders drawn from the coins
    p = Sampling(pc, s=12)
    inst = pc.sample(50, seed=3)
    a = run(p, pc.inputs(inst), seed=4, public=pc.public(inst))
    p._seeds, p._seeded_by = [0] * pc.k, None
    b = run(p, pc.inputs(inst), seed=4, public=pc.public(inst))
    c = run(Sampling(pc, s=12), pc.inputs(inst), seed=5, public=pc.public(inst))
    assert (a.board == b.board).all() and (a.outputs == b.outputs).all()
    assert (a.board != c.board).any()  # other coins, other orders
