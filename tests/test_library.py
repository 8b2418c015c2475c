"""The pointer-chasing protocol library against the issue's acceptance criteria (docs/definitions.md §2)."""

from __future__ import annotations

from itertools import pairwise
from math import ceil, log2

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st
from scipy.stats import binom

from protocols import PointerChasing, audit_locality, estimate_success, run
from protocols.library import LIBRARY, FullDump, Guess, OneHopPerRound, Sampling

TRIALS = 10_000


def within_99_around_half(successes: int, trials: int) -> bool:
    """Is the count inside the central 99% interval of Binomial(trials, 1/2)?"""
    lo, hi = binom.ppf(0.005, trials, 0.5), binom.ppf(0.995, trials, 0.5)
    return lo <= successes <= hi


# ------------------------------------------------------- one hop per round
@pytest.mark.parametrize("q", [2, 3, 64, 1000])
@pytest.mark.parametrize("k", [1, 2, 3, 5, 8])
def test_one_hop_k_rounds_solve_every_instance_and_k_minus_1_is_a_coin_flip(k, q):
    pc = PointerChasing(q=q, k=k)
    p = OneHopPerRound(pc)
    assert (p.R, p.s) == (k, max(1, ceil(log2(q))))
    inst = pc.sample(TRIALS, seed=1000 * k + q)
    r = run(p, pc.inputs(inst), seed=k * q, public=pc.public(inst))
    assert (r.outputs == pc.answer(inst)).all()
    # In round r (1-based) P_r writes v_{r+1}: exactly one hop per round, read off the board.
    path = inst.path()
    for rnd in range(k - 1):
        speaker = pc.speaker_of(rnd + 1)
        assert (p.codec.decode(r.board[:, rnd, speaker, : p.codec.width]) == path[:, rnd + 1]).all()
    if k >= 2:  # one round fewer, same instances: the last speaker can only flip a coin
        short = run(OneHopPerRound(pc, R=k - 1), pc.inputs(inst), seed=k * q, public=pc.public(inst))
        assert within_99_around_half(int((short.outputs == pc.answer(inst)).sum()), TRIALS)


@pytest.mark.parametrize("version", ["decision", "search"])
def test_one_hop_search_version_and_random_starts(version):
    pc = PointerChasing(q=100, k=4, version=version, start=None)
    assert estimate_success(OneHopPerRound(pc), pc, 3000, seed=1).rate == 1.0


# --------------------------------------------------------------- the order
@pytest.mark.parametrize("version", ["decision", "search"])
@pytest.mark.parametrize("q, k", [(2, 1), (3, 2), (64, 3), (1000, 5), (1024, 8)])
def test_easy_order_needs_one_round_of_log_q_bits(q, k, version):
    pc = PointerChasing(q=q, k=k, order="easy", version=version)
    p = OneHopPerRound(pc, R=1)
    assert (p.R, p.s) == (1, ceil(log2(q)))
    est = estimate_success(p, pc, 3000, seed=q + k)
    assert est.successes == est.trials


def test_order_matters_one_round_in_the_hard_order_is_a_guess():
    pc = PointerChasing(q=64, k=3)
    est = estimate_success(OneHopPerRound(pc, R=1), pc, TRIALS, seed=0)
    assert within_99_around_half(est.successes, TRIALS)


# ---------------------------------------------------------------- full dump
@pytest.mark.parametrize("version", ["decision", "search"])
@pytest.mark.parametrize("q, k", [(2, 1), (3, 2), (64, 3), (1000, 5), (128, 8)])
def test_full_dump_one_round_always_succeeds(q, k, version):
    pc = PointerChasing(q=q, k=k, version=version, start=None)
    p = FullDump(pc)
    assert (p.R, p.s) == (1, q * ceil(log2(q)))
    assert estimate_success(p, pc, 2000, seed=q).rate == 1.0


def test_full_dump_works_on_functions_too():
    pc = PointerChasing(q=30, k=4, functions=True)
    assert estimate_success(FullDump(pc), pc, 2000, seed=0).rate == 1.0
    assert estimate_success(OneHopPerRound(pc), pc, 2000, seed=0).rate == 1.0


# -------------------------------------------------------------------- guess
@pytest.mark.parametrize("version, p_true", [("decision", 0.5), ("search", 1 / 16)])
def test_guess_lands_in_its_interval(version, p_true):
    pc = PointerChasing(q=16, k=3, version=version)
    est = estimate_success(Guess(pc), pc, TRIALS, seed=3, confidence=0.99)
    lo, hi = binom.ppf(0.005, TRIALS, p_true), binom.ppf(0.995, TRIALS, p_true)
    assert lo <= est.successes <= hi
    assert est.ci_low < p_true < est.ci_high


# ----------------------------------------------------------------- sampling
def natural_sampling_s(q: int, k: int) -> int:
    return ceil(q / (k - 1)) * ceil(log2(q))


@pytest.mark.parametrize("k", [3, 4, 8])
def test_sampling_acceptance_with_one_round_fewer(k):
    """R = k-1, q = 1024: success >= 0.95 at s = ceil(q/(k-1))*ceil(log2 q), >= 0.65 at a quarter."""
    q = 1024
    pc = PointerChasing(q=q, k=k)
    full = natural_sampling_s(q, k)
    p = Sampling(pc)
    assert (p.R, p.s) == (k - 1, full)
    for s, floor in ((full, 0.95), (full // 4, 0.65)):
        est = estimate_success(Sampling(pc, R=k - 1, s=s), pc, 1000, seed=k)
        assert est.ci_low >= floor, (s, est)  # the whole 95% interval clears the bar


@pytest.mark.slow
@pytest.mark.parametrize("k", [3, 4, 8])
def test_sampling_success_does_not_fall_as_s_grows(k):
    q, trials = 1024, 1000
    pc = PointerChasing(q=q, k=k)
    full = natural_sampling_s(q, k)
    grid = [p for p in (16, 60, 150, full // 4, full) if p >= ceil(log2(q)) + 1]
    rates = [estimate_success(Sampling(pc, R=k - 1, s=s), pc, trials, seed=s).rate for s in sorted(set(grid))]
    noise = 3 * np.sqrt(2 * 0.25 / trials)  # 3 sd of a difference of two independent rates
    assert all(b >= a - noise for a, b in pairwise(rates)), rates
    assert rates[-1] > rates[0] + noise  # and it does grow: from near 1/2 to near 1


def test_sampling_with_k_rounds_and_easy_order_and_search():
    pc = PointerChasing(q=64, k=4)
    assert estimate_success(Sampling(pc, R=4), pc, 2000, seed=0).rate == 1.0
    easy = PointerChasing(q=64, k=4, order="easy")
    assert estimate_success(Sampling(easy, R=1, s=20), easy, 2000, seed=0).rate == 1.0
    search = PointerChasing(q=64, k=4, version="search")
    assert estimate_success(Sampling(search), search, 2000, seed=0).rate >= 0.95


# ------------------------------------------------------- locality and budgets
@pytest.mark.parametrize("name", sorted(LIBRARY))
@pytest.mark.parametrize(
    "kwargs",
    [{"q": 16, "k": 4}, {"q": 9, "k": 3, "order": "easy", "start": None}, {"q": 32, "k": 2, "version": "search"}],
)
def test_every_library_protocol_passes_the_locality_audit(name, kwargs):
    pc = PointerChasing(**kwargs)
    for R in (None, 1, pc.k + 1):
        report = audit_locality(LIBRARY[name](pc, R=R), pc, trials=64, seed=1)
        assert report.ok, report.violations
        assert report.checked == LIBRARY[name](pc, R=R).R * pc.k


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=st.sampled_from(sorted(LIBRARY)),
    q=st.sampled_from([3, 5, 9, 17, 100]),
    k=st.integers(2, 6),
    version=st.sampled_from(["decision", "search"]),
    R=st.integers(1, 7),
    s=st.integers(1, 80),
    seed=st.integers(0, 2**16),
)
@example(name="sampling", q=9, k=4, version="search", R=3, s=6, seed=1)
@example(name="backward-collapse", q=100, k=2, version="decision", R=2, s=6, seed=0)
def test_every_buildable_protocol_runs_within_its_budget_and_answers_in_range(name, q, k, version, R, s, seed):
    """Regressions: sampling's search guess read hop fields as items (q = 9), and backward-collapse
    wrote a needless 7-bit hop at s = 6 (q = 100, k = R = 2). Whatever a constructor accepts must run."""
    pc = PointerChasing(q=q, k=k, version=version, start=None)
    try:
        p = LIBRARY[name](pc, R=R, s=s)
    except ValueError:
        assume(False)
    inst = pc.sample(32, seed=seed)
    out = run(p, pc.inputs(inst), seed=seed, public=pc.public(inst)).outputs
    assert ((0 <= out) & (out < (q if version == "search" else 2))).all()


@pytest.mark.parametrize(
    "cls, kwargs, message",
    [
        (OneHopPerRound, {"s": 9}, r"one-hop-per-round needs s >= ceil\(log2 q\) = 10 bits; got s = 9"),
        (FullDump, {"s": 10239}, r"full-dump needs s >= q\*ceil\(log2 q\) = 10240 bits; got s = 10239"),
        (Guess, {"s": 0}, r"s = 0; s must be an integer >= 1"),
        (Sampling, {"s": 3}, r"sampling needs s >= \d+ bits"),
        (OneHopPerRound, {"R": 0}, r"R = 0; R must be an integer >= 1"),
    ],
)
def test_constructors_refuse_budgets_too_small_with_value_errors(cls, kwargs, message):
    with pytest.raises(ValueError, match=message):
        cls(PointerChasing(q=1024, k=8), **kwargs)


def test_natural_budgets_and_explicit_budgets():
    pc = PointerChasing(q=100, k=5)
    assert [(LIBRARY[n](pc).R, LIBRARY[n](pc).s) for n in ("one-hop-per-round", "full-dump", "sampling", "guess")] == [
        (5, 7),
        (1, 700),
        (4, 175),
        (1, 1),
    ]
    p = OneHopPerRound(pc, R=7, s=12)  # more rounds and bits than needed: still exact
    assert (p.R, p.s) == (7, 12) and estimate_success(p, pc, 500, seed=0).rate == 1.0
