"""Threshold search (lowerbounds.threshold): exact answers, trial economy, reproducibility, errors."""

from __future__ import annotations

import numpy as np
import pytest

from lowerbounds.errors import ThresholdError
from lowerbounds.threshold import find_threshold, scan_threshold
from protocols import PointerChasing, Protocol
from protocols.bits import bits_for


class Knows(Protocol):
    """k = 1: the only speaker holds E_1 and the public start, so it knows the class bit.

    It writes the truth with probability ``p(s)`` and a fair coin otherwise, so
    success is exactly (1 + p(s)) / 2: a family with a known success curve.
    """

    def __init__(self, problem: PointerChasing, R: int = 1, s: int = 1, p=None):
        super().__init__(problem.k, R, s, "knows")
        self.pc, self.p = problem, p

    def message(self, round, speaker, board, own, coins):
        B = board.batch
        v = board.public["start"].astype(np.int64)
        truth = self.pc.class_array[own[np.arange(B), v]]
        rng = coins.private
        honest = rng.random(B) < self.p(self.s)
        return np.where(honest, truth, rng.integers(0, 2, B)).astype(np.uint8)[:, None]

    def output(self, last):
        return last[:, 0]


def step_family(problem, R=1, s=1):
    """Success 1/2 below s = 40, 1 from s = 40 on."""
    return Knows(problem, R, s, lambda s: float(s >= 40))


def smooth_family(problem, R=1, s=1):
    """Success (1 + min(1, s/300)) / 2: exactly 2/3 at s = 100."""
    return Knows(problem, R, s, lambda s: min(1.0, s / 300))


def test_step_family_threshold_is_exact():
    r = find_threshold(step_family, q=8, k=1, R=1, seed=0, s_max=1000)
    assert r.threshold == 40 and r.bracket == (39, 40)
    lo, hi = r.deciding
    assert lo.s == 39 and not lo.reaches and lo.decided and lo.rate < 2 / 3
    assert hi.s == 40 and hi.reaches and hi.decided and hi.rate == 1.0
    # every test here is clear-cut: success 1 takes one batch of 64, success 1/2 a few
    assert all(st.trials == 64 for st in r.steps if st.reaches)
    assert all(st.trials <= 8 * 64 for st in r.steps)
    assert r.trials == sum(st.trials for st in r.steps)
    # the search is monotone: all tested s below 40 fall short, all from 40 on reach
    assert all(st.reaches == (st.s >= 40) for st in r.steps)


def test_one_hop_threshold_is_ceil_log2_q():
    for q in (16, 100, 1024):
        r = find_threshold("one-hop-per-round", q=q, k=3, R=3, seed=1)
        w = bits_for(q)
        assert r.threshold == w and r.bracket == (w - 1, w)
        # s below ceil(log2 q) cannot even be built: no trials are spent there
        assert all(st.trials == 0 and not st.buildable for st in r.steps if st.s < w)


def test_guess_never_reaches_two_thirds():
    r = find_threshold("guess", q=16, k=2, R=1, s_max=64, seed=0)
    assert r.threshold is None and r.bracket == (64, None)
    assert all(not st.reaches for st in r.steps)


def test_smooth_family_spends_trials_near_the_threshold():
    r = find_threshold(smooth_family, q=8, k=1, R=1, seed=3, s_max=300, max_trials=2048)
    assert 85 <= r.threshold <= 118
    assert r.bracket[1] - r.bracket[0] == 1
    gap = {st.s: abs((1 + min(1, st.s / 300)) / 2 - 2 / 3) for st in r.steps}
    far = [st for st in r.steps if gap[st.s] > 0.15]
    assert far and all(st.trials <= 512 for st in far)  # far from the target: settled in a few batches
    busiest = max(r.steps, key=lambda st: st.trials)
    assert gap[busiest.s] < 0.03 and busiest.trials >= 4 * max(st.trials for st in far)
    assert any(not st.decided and st.trials == 2048 for st in r.steps)  # too close to call: capped


def test_resolution_stops_bisection_early():
    fine = find_threshold(smooth_family, q=8, k=1, R=1, seed=3, s_max=300, max_trials=1024)
    coarse = find_threshold(smooth_family, q=8, k=1, R=1, seed=3, s_max=300, max_trials=1024, resolution=1.25)
    lo, hi = coarse.bracket
    assert hi / lo <= 1.25 and coarse.trials < fine.trials
    assert lo < fine.threshold <= hi * 1.25


def test_reproducible_and_seeded_per_s_and_batch():
    a = find_threshold(smooth_family, q=8, k=1, R=1, seed=11, s_max=300, resolution=1.1, max_trials=1024)
    b = find_threshold(smooth_family, q=8, k=1, R=1, seed=11, s_max=300, resolution=1.1, max_trials=1024)
    c = find_threshold(smooth_family, q=8, k=1, R=1, seed=12, s_max=300, resolution=1.1, max_trials=1024)
    assert a == b
    assert [st.successes for st in a.steps] != [st.successes for st in c.steps]
    # the scan shares the seeds of (s, batch): at the same s with the same trials it sees the same data
    st = next(st for st in a.steps if st.trials > 64)
    sc = scan_threshold(smooth_family, 8, 1, 1, [st.s], trials=st.trials, seed=11)
    assert sc.steps[0].successes == st.successes


def test_report_as_dict_round_trips_the_numbers():
    r = find_threshold("one-hop-per-round", q=64, k=3, R=3, seed=0)
    d = r.as_dict()
    assert d["threshold"] == 6 and d["bracket"] == [5, 6] and d["trials"] == r.trials
    assert [s["s"] for s in d["steps"]] == [st.s for st in r.steps]


def _geom(lo: int, hi: int, ratio: float) -> list[int]:
    out, x = [], float(lo)
    while x < hi:
        if not out or round(x) > out[-1]:
            out.append(int(round(x)))
        x *= ratio
    return out + [hi]


@pytest.mark.slow
@pytest.mark.parametrize("k", [3, 4, 8])
def test_sampling_threshold_agrees_with_brute_force(k):
    """Done-when: q = 1024, R = k-1; bracket within 1.25, agrees with a scan, half the trials or fewer."""
    q, seed, trials, s_max = 1024, 2024, 1024, 512
    r = find_threshold("sampling", q, k, k - 1, seed=seed, resolution=1.25, max_trials=trials, s_max=s_max)
    lo, hi = r.bracket
    assert lo is not None and hi is not None and hi / lo <= 1.25
    assert r.deciding[0].rate is None or r.deciding[0].rate < 2 / 3 + 0.05
    assert r.deciding[1].rate > 2 / 3 - 0.05
    # brute force: the same number of trials at every s of a 1.25-geometric grid over the same range
    scan = scan_threshold("sampling", q, k, k - 1, _geom(1, s_max, 1.25), trials=trials, seed=seed)
    s_lo, s_hi = scan.bracket
    assert s_hi is not None
    assert max(lo, s_lo) < min(hi, s_hi), (r.bracket, scan.bracket)  # the brackets overlap
    assert max(hi, s_hi) / min(hi, s_hi) <= 1.25
    assert r.trials <= scan.trials / 2, (r.trials, scan.trials)
    print(f"k={k}: adaptive {r.bracket} in {r.trials} trials; brute force {scan.bracket} in {scan.trials}")


@pytest.mark.parametrize(
    "kwargs, needle",
    [
        (dict(target=1.0), "target = 1.0"),
        (dict(target=0), "target = 0"),
        (dict(confidence=1.5), "confidence = 1.5"),
        (dict(batch=0), "batch = 0"),
        (dict(max_trials=-5), "max_trials = -5"),
        (dict(s_min=0), "s_min = 0"),
        (dict(s_min=10, s_max=5), "s_max = 5"),
        (dict(resolution=0.5), "resolution = 0.5"),
        (dict(growth=1.0), "growth = 1.0"),
    ],
)
def test_bad_arguments_raise_threshold_error(kwargs, needle):
    with pytest.raises(ThresholdError, match=needle):
        find_threshold("guess", q=16, k=2, R=1, **kwargs)


def test_a_protocol_never_buildable_is_an_error_not_a_missing_threshold():
    never = r"could not be built at any tested s \(1, 2, 4, 8\).*needs s >= ceil\(log2 q\) = 10"
    with pytest.raises(ThresholdError, match=never):
        find_threshold("one-hop-per-round", q=1024, k=3, R=3, s_max=8)
    with pytest.raises(ThresholdError, match="could not be built"):
        scan_threshold("one-hop-per-round", 1024, 3, 3, [1, 2], trials=10)


def test_unknown_protocol_and_bad_rounds():
    with pytest.raises(ThresholdError, match="unknown protocol 'nope'"):
        find_threshold("nope", q=16, k=2, R=1)
    with pytest.raises(ThresholdError, match="R = 0"):
        find_threshold("guess", q=16, k=2, R=0)
    with pytest.raises(ThresholdError, match="s_values"):
        scan_threshold("guess", 16, 2, 1, [], trials=10)
