"""Transformer -> MPC ([SHT24] Thm 3.4; docs/definitions.md §9): bit-exact outputs, R = 4·D·L + 2 = O(L)."""

from __future__ import annotations

import numpy as np
import pytest

from reductions.compilers.registry import CompileError
from reductions.compilers.transformer_to_mpc import MPCPlan, plan, run_transformer_mpc, theorem_formulas
from reductions.constructions.hop_construction import hop_construction
from reductions.khop.task import hop
from reductions.models.rnn import ElmanRNN
from reductions.models.transformer import SoftmaxTransformer


def test_log_depth_construction_agrees_for_every_k_up_to_16():
    rng = np.random.default_rng(0)
    for k in range(17):
        c = hop_construction(k, max_len=40, alphabet=4)
        for t in range(3):
            x = rng.integers(0, 4, int(rng.integers(1, 41)))
            r = run_transformer_mpc(c.model, x, seed=t, audit=1)
            assert np.array_equal(r.output, c(x[None])[0]), (k, x.tolist())
            assert np.array_equal(r.output, hop(x, k))
            assert r.run.rounds == 4 * r.plan.depth * c.layers + 2


def test_random_softmax_transformers_agree_bit_for_bit():
    rng = np.random.default_rng(1)
    for t in range(25):
        L, H, m = int(rng.integers(1, 4)), int(rng.integers(1, 4)), int(rng.integers(1, 9))
        model = SoftmaxTransformer.random(vocab=6, layers=L, width=m, heads=H, head_dim=int(rng.integers(1, 6)),
                                          precision=int(rng.integers(8, 22)), max_len=40, seed=t)
        n = int(rng.integers(1, 33))
        x = rng.integers(0, 6, n)
        b = int(rng.integers(2, 8))
        r = run_transformer_mpc(model, x, branching=b, seed=t, audit="all" if n < 8 else 2)
        assert np.array_equal(r.output, model.forward(x[None])[0])
        sm = r.run.summary()
        assert max(sm["max_words_held"], sm["max_words_sent"], sm["max_words_received"]) <= r.plan.s
        assert r.run.machines == r.plan.machines


def test_rounds_are_linear_in_layers():
    x = np.random.default_rng(2).integers(0, 4, 30)
    rounds = []
    for L in range(1, 6):
        model = SoftmaxTransformer.random(vocab=4, layers=L, width=4, precision=14, max_len=30, seed=L)
        r = run_transformer_mpc(model, x, branching=4)
        assert np.array_equal(r.output, model.forward(x[None])[0])
        rounds.append(r.run.rounds)
    assert np.diff(rounds).tolist() == [4 * 3] * 4  # D = ceil(log_4 30) = 3: 4D rounds per layer


def test_plan_counts_roles_and_formulas():
    p = MPCPlan(n=30, layers=2, width=4, heads=1, head_dim=4, branching=4)
    assert p.depth == 3 and p.pairs == 465
    # per token and family: levels 1, 2 have ceil(30/4) = 8 and ceil(30/16) = 2 node slots
    assert p.tree_machines == 30 * (8 + 2) and p.machines == 30 + 465 + 2 * 300
    ids = np.arange(p.ip_base, p.q_base)
    i, j = p.decode("q", 0, ids)
    assert bool((j <= i).all()) and np.array_equal(p.node_id("q", 0, i, j), ids)
    f = theorem_formulas(p)
    assert f["rounds_formula"] == 4 * 3 * 2 + 2 and f["paper_rounds"] == 2 * (2 * 3 + 3)
    assert f["paper_s"] == 4 * 4 * 1 * 4
    assert MPCPlan(5, 1, 2, 1, 2, 8).depth == 1  # b >= N: the token machine feeds the leaves directly


def test_bad_models_are_refused():
    with pytest.raises(CompileError):
        plan(ElmanRNN.random(vocab=3, layers=1, width=4, precision=12, seed=0), 10)
    m = SoftmaxTransformer.random(vocab=3, layers=1, width=4, max_len=8, seed=0)
    with pytest.raises(CompileError):
        plan(m, 9)
    with pytest.raises(CompileError):
        plan(m, 8, branching=1)
