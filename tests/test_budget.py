"""protocols.budget: a memory budget that chunks work and refuses what cannot fit (issue 12)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocols import PointerChasing, audit_locality, estimate_success
from protocols.budget import (
    CHUNK_BYTES,
    DEFAULT_BUDGET,
    ENV_VAR,
    BudgetError,
    budget_scope,
    chunk_size,
    chunks,
    footprint,
    memory_budget,
    parse_size,
)
from protocols.library import FullDump, Guess, OneHopPerRound, Sampling


@pytest.mark.parametrize("text, n", [("512M", 2**29), ("2G", 2**31), ("2g", 2**31), ("1.5GiB", 3 * 2**29),
                                     ("64 MB", 2**26), ("4096", 4096), (" 1T ", 2**40), (".5K", 512)])
def test_sizes_parse_in_binary_units(text, n):
    assert parse_size(text) == n


@pytest.mark.parametrize("bad", ["", "lots", "-1G", "1Q", "nan", "inf", "1e9", "0", "0.1", True, 0, -5, 1.5, None,
                                 "9" * 30 + "P"])
def test_bad_sizes_are_refused_by_name(bad):
    with pytest.raises(BudgetError, match="memory budget"):
        parse_size(bad)


def test_budget_precedence_argument_scope_environment_default(monkeypatch):
    monkeypatch.delenv(ENV_VAR, raising=False)
    assert memory_budget() == DEFAULT_BUDGET == 2**30
    monkeypatch.setenv(ENV_VAR, "512M")
    assert memory_budget() == 2**29
    with budget_scope("2G"):
        assert memory_budget() == 2**31
        assert memory_budget("1K") == 1024
    assert memory_budget() == 2**29
    monkeypatch.setenv(ENV_VAR, "plenty")
    with pytest.raises(BudgetError, match=f"\\${ENV_VAR} 'plenty' is not a size"):
        memory_budget()


@settings(max_examples=200, deadline=None)
@given(per=st.integers(1, 2**34), trials=st.integers(1, 10**5), budget=st.integers(1, 2**36))
def test_chunks_fit_the_budget_cover_all_trials_and_refuse_only_a_lone_misfit(per, trials, budget):
    if per > budget:
        with pytest.raises(BudgetError, match="needs .*; the memory budget is"):
            chunk_size(per, trials, budget=budget)
        return
    size = chunk_size(per, trials, budget=budget)
    assert 1 <= size <= trials
    assert size * per <= budget  # the budget bounds every chunk
    assert size * per <= max(CHUNK_BYTES, per)  # and so does the canonical chunk
    parts = list(chunks(trials, size))
    assert sum(n for _, _, n in parts) == trials and [s for _, s, _ in parts] == list(range(0, trials, size))
    # the same chunk for every budget that holds a canonical chunk: results cannot depend on it
    if budget >= CHUNK_BYTES:
        assert size == chunk_size(per, trials, budget=2**40)


def test_footprint_counts_inputs_board_answers_and_declared_scratch():
    pc = PointerChasing(q=256, k=5)
    one, sampling, dump = (footprint(p, pc) for p in (OneHopPerRound(pc), Sampling(pc), FullDump(pc)))
    assert one.inputs == 5 * 256 + 8 + 8 * 6 + 8
    assert one.board == 5 * 5 * 8 and one.scratch == 0
    assert sampling.board == 5 * 4 * sampling_s(pc)
    assert sampling.scratch == 5 * 256 * (1 + 4)  # per-instance public orders (one-byte labels) and int32 ranks
    assert dump.scratch > 8 * 256 * 5  # the last speaker decodes every layer as int64
    assert one.total == one.inputs + one.board + one.answers + one.scratch
    assert one.run == 256 * 5 + 8 * 5 * 5  # per run: k speakers' coins, R·k message lengths


def sampling_s(pc):
    return Sampling(pc).s


@pytest.mark.parametrize("budget", ["300M", "1G", "16G"])
def test_estimates_are_identical_for_every_budget_above_the_canonical_chunk(budget):
    pc = PointerChasing(q=64, k=4)
    ref = estimate_success(Sampling(pc, R=2), pc, 3000, seed=3, budget="64G", batch_size=None)
    assert estimate_success(Sampling(pc, R=2), pc, 3000, seed=3, budget=budget) == ref


def test_a_small_budget_cuts_trials_into_more_chunks_and_bounds_each(monkeypatch):
    pc = PointerChasing(q=4096, k=4)
    p = OneHopPerRound(pc)
    fp = footprint(p, pc)
    seen = []
    real = pc.sample

    def spy(batch, seed=None):
        seen.append(batch)
        return real(batch, seed=seed)

    monkeypatch.setattr(type(pc), "sample", lambda self, batch, seed=None: spy(batch, seed))
    est = estimate_success(p, pc, 100, seed=0, budget=10 * fp.total + fp.run)
    assert est.successes == est.trials == 100
    assert max(seen) == 10 and sum(seen) == 100


def test_one_instance_larger_than_the_budget_is_refused_before_sampling():
    pc = PointerChasing(q=2**20, k=8)
    with pytest.raises(BudgetError, match=r"one instance \(inputs 32.0 MiB.*; the memory budget is 1.0 MiB"):
        estimate_success(OneHopPerRound(pc), pc, 10, seed=0, budget="1M")
    with pytest.raises(BudgetError, match="needs"):
        audit_locality(OneHopPerRound(pc), pc, trials=4, seed=0, budget="1M")


def test_sampling_refuses_a_batch_that_cannot_fit():
    with pytest.raises(BudgetError, match=r"3 pointer-chasing instance\(s\) with q = 1000000000, k = 3 needs 33"):
        PointerChasing(q=10**9, k=3).sample(3, seed=0)
    with budget_scope("64K"):
        with pytest.raises(BudgetError, match="64.0 KiB"):
            PointerChasing(q=1024, k=8).sample(16, seed=0)
        assert PointerChasing(q=1024, k=8).sample(3, seed=0).batch == 3


def test_a_huge_board_is_refused_before_the_schedule_is_built():
    pc = PointerChasing(q=256, k=10**6)
    with pytest.raises(BudgetError, match=r"board \(k·R·s = 1000000·1000000·8 bytes\) needs 7.3 TiB"):
        OneHopPerRound(pc)


def test_audit_chunks_sum_violations_across_chunks():
    pc = PointerChasing(q=64, k=3)
    p = Guess(pc)
    fp = footprint(p, pc)
    per = 3 * fp.inputs + 2 * fp.board + fp.answers + fp.scratch
    small = audit_locality(p, pc, trials=50, seed=1, budget=7 * per + fp.run)
    assert small.ok and small.trials == 50


def test_batch_size_must_fit_and_be_an_integer():
    pc = PointerChasing(q=16, k=3)
    with pytest.raises(ValueError, match="batch_size = True"):
        estimate_success(OneHopPerRound(pc), pc, 10, batch_size=True)
    with pytest.raises(BudgetError, match="a chunk of 1000000 instances"):
        estimate_success(OneHopPerRound(pc), pc, 10, batch_size=10**6, budget="1M")
    with pytest.raises(ValueError, match="trials = True"):
        estimate_success(OneHopPerRound(pc), pc, True)
    assert np.isclose(estimate_success(OneHopPerRound(pc), pc, 10, seed=0, batch_size=3).rate, 1.0)
