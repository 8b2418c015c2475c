"""Monte-Carlo success estimates with known answers, and the locality audit catching a cheat."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import beta, binom, binomtest

from protocols import (
    FunctionProtocol,
    PointerChasing,
    ProtocolError,
    audit_locality,
    clopper_pearson,
    estimate_success,
)
from protocols.library import LIBRARY, Guess, OneHopPerRound


# --------------------------------------------------------------- estimates
def test_always_right_protocol_succeeds_on_every_trial():
    pc = PointerChasing(q=32, k=4, start=None)
    est = estimate_success(OneHopPerRound(pc), pc, 5000, seed=0)
    assert est.successes == est.trials == 5000 and est.rate == 1.0
    assert est.ci_high == 1.0 and est.ci_low == pytest.approx(0.025 ** (1 / 5000))  # exact CP bound at x = n
    assert (est.k, est.R, est.s, est.bits_written, est.max_bits_used) == (4, 4, 5, 80, 5)


def test_always_wrong_protocol_never_succeeds():
    pc = PointerChasing(q=8, k=1)  # one speaker holds E_1 and writes the wrong class

    def message(r, i, board, own, coins):
        v = own[np.arange(board.batch), board.public["start"]]
        return (1 - pc.class_array[v]).astype(np.uint8)[:, None]

    p = FunctionProtocol(1, 1, 1, message, lambda last: last[:, 0], name="contrarian")
    est = estimate_success(p, pc, 2000, seed=1)
    assert est.successes == 0 and est.ci_low == 0.0 and est.ci_high == pytest.approx(1 - 0.025 ** (1 / 2000))


@pytest.mark.parametrize("version, p_true", [("decision", 0.5), ("search", 1 / 8)])
def test_guess_rate_is_inside_its_interval(version, p_true):
    pc = PointerChasing(q=8, k=3, version=version)
    est = estimate_success(Guess(pc), pc, 20_000, seed=2, confidence=0.99)
    assert binom.ppf(0.005, 20_000, p_true) <= est.successes <= binom.ppf(0.995, 20_000, p_true)
    assert est.ci_low < p_true < est.ci_high


def test_estimates_are_seeded_and_chunking_does_not_change_exact_protocols():
    pc = PointerChasing(q=16, k=3)
    a = estimate_success(Guess(pc), pc, 3000, seed=5)
    b = estimate_success(Guess(pc), pc, 3000, seed=5)
    c = estimate_success(Guess(pc), pc, 3000, seed=6)
    assert a == b and a.successes != c.successes
    chunked = estimate_success(OneHopPerRound(pc), pc, 3001, seed=5, batch_size=250)
    assert chunked.successes == chunked.trials == 3001


def test_as_dict_has_the_cli_fields():
    pc = PointerChasing(q=16, k=3)
    d = estimate_success(Guess(pc), pc, 100, seed=0).as_dict()
    assert set(d) >= {
        "protocol",
        "k",
        "rounds",
        "bits",
        "trials",
        "successes",
        "success",
        "ci_low",
        "ci_high",
        "confidence",
        "bits_written",
        "max_bits_used",
    }
    assert d["success"] == d["successes"] / d["trials"] and d["ci_low"] <= d["success"] <= d["ci_high"]


def test_estimate_rejects_bad_arguments():
    pc = PointerChasing(q=16, k=3)
    with pytest.raises(ProtocolError, match="trials = 0"):
        estimate_success(Guess(pc), pc, 0)
    with pytest.raises(ProtocolError, match="protocol has k = 3 speakers; problem has k = 4"):
        estimate_success(Guess(pc), PointerChasing(q=16, k=4), 10)


@settings(max_examples=150, deadline=None)
@given(n=st.integers(1, 5000), data=st.data(), confidence=st.sampled_from([0.8, 0.9, 0.95, 0.99]))
def test_clopper_pearson_equals_scipy_and_the_beta_quantiles(n, data, confidence):
    x = data.draw(st.integers(0, n))
    lo, hi = clopper_pearson(x, n, confidence)
    ci = binomtest(x, n).proportion_ci(confidence_level=confidence, method="exact")
    assert (lo, hi) == (ci.low, ci.high)
    a = 1 - confidence  # the textbook definition, independently
    assert lo == pytest.approx(0.0 if x == 0 else beta.ppf(a / 2, x, n - x + 1), abs=1e-9)
    assert hi == pytest.approx(1.0 if x == n else beta.ppf(1 - a / 2, x + 1, n - x), abs=1e-9)


def test_clopper_pearson_rejects_impossible_counts():
    for x, n in ((3, 2), (-1, 5), (0, 0)):
        with pytest.raises(ProtocolError, match="need 0 <= successes <= trials"):
            clopper_pearson(x, n)


# ------------------------------------------------------------------- audit
def peeking_protocol(pc: PointerChasing, world: list[np.ndarray]) -> FunctionProtocol:
    """Speaker 0 (holds E_k) writes E_1(start) — which only speaker k-1 holds — read via a closure."""
    k = pc.k

    def message(r, i, board, own, coins):
        rows = np.arange(board.batch)
        if i == 0:
            stolen = world[k - 1][rows, board.public["start"]]  # another player's input!
            return (stolen & 1).astype(np.uint8)[:, None]
        return np.zeros((board.batch, 0), np.uint8)

    return FunctionProtocol(k, 2, 1, message, lambda last: last[:, 0], name="peeker")


def test_audit_flags_a_protocol_that_reads_another_players_input_through_a_closure():
    pc = PointerChasing(q=16, k=3)
    inst = pc.sample(128, seed=0)
    world = [np.array(x) for x in pc.inputs(inst)]  # writable: the audit overwrites captured arrays in place
    report = audit_locality(peeking_protocol(pc, world), pc, seed=1, inputs=world)
    assert not report.ok and report.checked == 6
    assert {(v.round, v.speaker) for v in report.violations} == {(0, 0), (1, 0)}
    v = report.violations[0]
    assert 0 < v.instances <= 128 and 0 <= v.first_instance < 128
    assert "speaker 0 in round 0: message changed on" in str(v)
    d = report.as_dict()
    assert d["ok"] is False and d["violations"][0]["speaker"] == 0 and d["protocol"] == "peeker"
    # the audit put the arrays back exactly as they were
    assert all((w == x).all() for w, x in zip(world, pc.inputs(inst), strict=True))
    assert all(
        (w == layer).all() for w, layer in zip(world, [inst.layers[pc.layer_of(i) - 1] for i in range(3)], strict=True)
    )


def test_audit_flags_a_protocol_that_reads_a_global():
    pc = PointerChasing(q=16, k=2)
    inst = pc.sample(64, seed=3)
    world = [np.array(x) for x in pc.inputs(inst)]
    shared = {"x": world[0]}

    def message(r, i, board, own, coins):  # the last speaker copies speaker 0's first entry
        return (shared["x"][:, :1] & 1).astype(np.uint8) if i == 1 else own[:, :1] & 1

    p = FunctionProtocol(2, 1, 1, message, lambda last: last[:, 0], name="global-reader")
    report = audit_locality(p, pc, seed=0, inputs=world)
    assert [(v.round, v.speaker) for v in report.violations] == [(0, 1)]


def test_audit_passes_honest_protocols_that_use_coins_and_the_board():
    pc = PointerChasing(q=16, k=3)
    for name in LIBRARY:
        report = audit_locality(LIBRARY[name](pc), pc, trials=32, seed=4)
        assert report.ok and report.trials == 32 and report.as_dict()["violations"] == []


def test_audit_rejects_the_wrong_number_of_inputs():
    pc = PointerChasing(q=8, k=3)
    with pytest.raises(ProtocolError, match="audit got 2 inputs; protocol has k = 3"):
        audit_locality(OneHopPerRound(pc), pc, inputs=pc.inputs(pc.sample(4, seed=0))[:2])
