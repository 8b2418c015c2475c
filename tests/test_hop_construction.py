"""The log-depth k-hop construction ([SHT24] Thm 4.2; docs/definitions.md §3) against hop_k.

Every comparison is with :func:`reductions.hop` (itself tested against the
literal definition), on uniform and no-equal-neighbour sequences with
alphabets 2..N, positions whose answer is ⊥ included.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reductions import hop, random_sequences
from reductions.constructions.hop_construction import (
    SLOTS,
    WIDTH,
    ConstructionError,
    construction_depth,
    construction_precision,
    construction_reach,
    hop_construction,
)
from reductions.khop.task import hop_naive
from reductions.models.base import ModelError
from reductions.models.transformer import SoftmaxTransformer

LENGTHS = (1, 2, 3, 5, 8, 16, 31, 64, 100, 128, 200, 256)


def _mixed_sequences(count: int, n: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` sequences of length n, each with its own alphabet in 2..max(2, n); half distinct-neighbour."""
    out = np.empty((count, n), np.int64)
    for b in range(count):
        a = int(rng.integers(2, max(2, n) + 1))
        out[b] = random_sequences(1, n, a, distinct_neighbours=bool(b % 2), seed=rng)[0]
    return out


def _pairs(max_layers: int) -> list[tuple[int, int]]:
    """Every (k, L) with 1 <= L <= max_layers and 0 <= k <= 2^(L-2) (k = 0 for L = 1)."""
    return [(k, L) for L in range(1, max_layers + 1) for k in range(construction_reach(L) + 1)]


def _check_against_hop(total: int, seed: int) -> dict[str, int]:
    """Run ``total`` mixed sequences spread over all (k, L) pairs with L <= 7; count what was compared."""
    rng = np.random.default_rng(seed)
    pairs = _pairs(7)
    built = {}
    stats = {"sequences": 0, "positions": 0, "bottom": 0}
    per_pair = np.bincount(rng.integers(0, len(pairs), total), minlength=len(pairs))
    for (k, L), count in zip(pairs, per_pair, strict=False):
        if not count:
            continue
        lengths = rng.choice(LENGTHS, count)
        for n in np.unique(lengths):
            x = _mixed_sequences(int((lengths == n).sum()), int(n), rng)
            key = (k, L)
            if key not in built:
                built[key] = hop_construction(k, max_len=256, alphabet=256, layers=L)
            c = built[key]
            want = hop(x, k)
            got = c(x)
            bad = np.argwhere(got != want)
            assert bad.size == 0, (
                f"k={k}, L={L}, N={n}: sequence {x[bad[0][0]].tolist()} position {bad[0][1]}: "
                f"construction {got[tuple(bad[0])]}, hop {want[tuple(bad[0])]}"
            )
            stats["sequences"] += x.shape[0]
            stats["positions"] += x.size
            stats["bottom"] += int((want == -1).sum())
    return stats


def test_depth_and_reach_formulas():
    for k in range(1, 200):
        assert construction_depth(k) == math.ceil(math.log2(k)) + 2
        assert construction_reach(construction_depth(k)) >= k
        assert construction_reach(construction_depth(k) - 1) < k  # least such depth
    assert construction_depth(0) == 1 and construction_reach(1) == 0


@pytest.mark.parametrize("k", [0, 1, 2, 3, 4, 5, 7, 8, 9, 16, 17, 31, 32, 33, 64, 100])
@pytest.mark.parametrize("n, alphabet", [(1, 1), (20, 3), (100, 4), (256, 256)])
def test_size_is_as_claimed(k, n, alphabet):
    c = hop_construction(k, max_len=n, alphabet=alphabet)
    m = c.model
    assert c.layers == m.layers == construction_depth(k)
    assert m.heads == 1 and m.params()["wq"].shape[1] == 1  # one head in every layer
    assert m.width == WIDTH == len(SLOTS) == 16  # independent of N and k
    assert m.head_dim == 4 and m.d_ff == 16
    assert c.exact and c.reached == k
    p, f, beta = construction_precision(n, alphabet)
    assert (c.precision, c.frac, c.temperature) == (p, f, beta) == (m.fmt.p, m.fmt.f, f + 1)


def test_precision_is_logarithmic():
    ps = {n: construction_precision(n, n)[0] for n in (2, 4, 16, 64, 256)}
    for n, p in ps.items():
        assert p <= 3 * math.log2(n) + 8
    assert construction_precision(100, 4)[0] == 22
    with pytest.raises(ConstructionError, match="need p = 67 bits"):
        hop_construction(2, max_len=10**6, alphabet=10**6)
    with pytest.raises(ConstructionError, match="need p = 66 bits"):
        hop_construction(2, max_len=2**21 + 1, alphabet=4)
    # beyond the old 32-bit cap: p = O(log N) as the theorem says
    assert hop_construction(3, max_len=6145, alphabet=2050).precision == 43
    assert hop_construction(16, max_len=10**5, alphabet=4).precision == 52


def test_worked_example():
    s = "baebcabebdea"
    ids = {ch: i for i, ch in enumerate(sorted(set(s)))}
    x = np.array([[ids[ch] for ch in s]])
    inv = {i: ch for ch, i in ids.items()}
    for k, want in ((1, "b"), (2, "c")):
        out = hop_construction(k, max_len=12, alphabet=len(ids))(x)
        assert inv[int(out[0, -1])] == want
        assert out.tolist() == hop(x, k).tolist()


def test_fixed_point_equals_exact_hardmax_reference():
    rng = np.random.default_rng(5)
    for k in (1, 3, 6, 16):
        c = hop_construction(k, max_len=64, alphabet=64)
        x = _mixed_sequences(60, 64, rng)
        assert (c(x) == c.reference(x)).all()


def test_all_k_up_to_32_on_mixed_sequences():
    stats = _check_against_hop(total=600, seed=11)
    assert stats["sequences"] == 600 and stats["bottom"] > 600


@pytest.mark.slow
def test_zero_errors_on_ten_thousand_sequences():
    """Done-when: every k <= 2^(L-2), L <= 7, 10^4 sequences, N <= 256, alphabets 2..N, ⊥ included."""
    stats = _check_against_hop(total=10_000, seed=2024)
    assert stats["sequences"] == 10_000
    assert stats["bottom"] > 10_000 and stats["positions"] - stats["bottom"] > 10_000


def test_truncated_construction_computes_the_farthest_reachable_hop():
    rng = np.random.default_rng(3)
    x = _mixed_sequences(40, 50, rng)
    for k in (0, 1, 3, 5, 9, 20, 40):
        for L in range(1, 8):
            c = hop_construction(k, max_len=50, alphabet=50, layers=L)
            assert c.reached == min(k, construction_reach(L))
            assert c.exact == (k <= construction_reach(L))
            assert (c(x) == hop(x, c.reached)).all(), (k, L)


def test_deeper_than_needed_is_still_exact():
    rng = np.random.default_rng(8)
    x = _mixed_sequences(30, 40, rng)
    for k in (1, 2, 3, 4, 6):
        for L in range(construction_depth(k), 9):
            assert (hop_construction(k, max_len=40, alphabet=40, layers=L)(x) == hop(x, k)).all()


@settings(max_examples=150, deadline=None)
@given(
    st.integers(0, 10).flatmap(
        lambda k: st.tuples(
            st.just(k),
            st.integers(1, 14).flatmap(lambda n: st.lists(st.integers(0, n - 1), min_size=n, max_size=n)),
        )
    )
)
def test_edge_cases_against_the_literal_definition(case):
    k, seq = case
    n = len(seq)
    alphabet = max(seq) + 1
    c = hop_construction(k, max_len=n, alphabet=alphabet)
    assert c(np.array([seq])).tolist() == [hop_naive(seq, k)]


def test_constant_and_alternating_sequences():
    # equal neighbours everywhere (fixed points) and period-2 sequences (long chains)
    n = 64
    xs = np.array([[0] * n, [1] * n, [0, 1] * (n // 2), [2, 0, 1] * (n // 3) + [2]])
    for k in (0, 1, 2, 5, 17, 32):
        c = hop_construction(k, max_len=n, alphabet=3)
        assert (c(xs) == hop(xs, k)).all()


def test_worst_case_magnitudes_fit_the_format():
    # largest tokens and positions at the largest supported size: overflow would raise
    c = hop_construction(32, max_len=256, alphabet=256)
    x = np.full((3, 256), 255)
    x[1, ::2] = 0
    x[2] = np.arange(256)
    assert (c(x) == hop(x, 32)).all()


def test_bad_input_raises_specific_errors():
    with pytest.raises(ConstructionError, match="k = -1"):
        hop_construction(-1, max_len=5, alphabet=2)
    with pytest.raises(ConstructionError, match="layers = 0"):
        hop_construction(1, max_len=5, alphabet=2, layers=0)
    with pytest.raises(ConstructionError, match="alphabet = 0"):
        hop_construction(1, max_len=5, alphabet=0)
    c = hop_construction(2, max_len=5, alphabet=3)
    with pytest.raises(ModelError, match="token 3 is outside"):
        c(np.array([[0, 1, 3]]))
    with pytest.raises(ModelError, match="exceed max_len = 5"):
        c(np.zeros((1, 6), int))
    assert isinstance(c.model, SoftmaxTransformer) and c.model.family == "transformer"


# ----------------------------------------------------------------- CLI
def _cli(capsys, *argv):
    from protocols.cli_support import run_commands
    from reductions.__main__ import COMMANDS

    code = run_commands("python -m reductions", "test", "reductions.cli", COMMANDS, list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_construct_hop_cli_json(capsys):
    import json

    from reductions.compilers.splits import even_boundaries
    from reductions.compilers.transformer_to_protocol import message_bits

    code, out, err = _cli(capsys, "construct-hop", "--k", "6", "--trials", "200", "--verify-protocol", "10", "--json")
    data = json.loads(out)
    assert code == 0 and err == ""
    assert (data["layers"], data["heads"], data["width"], data["precision"]) == (5, 1, 16, 22)
    assert data["errors"] == 0 and data["token_error"] == 0.0 and data["positions"] == 200 * 100
    assert data["rounds"] == 5 and data["rounds_below_k"] and data["parties"] == 6
    c = hop_construction(6, max_len=100, alphabet=4)
    assert data["bits_per_message"] == message_bits(c.model, even_boundaries(100, 6)) == 17 * 2 * 4 * 22
    assert data["bound_bits"] == pytest.approx(100 / 6**6) and data["bits_over_bound"] > 1e5
    assert data["protocol_agree"] == 10


def test_construct_hop_cli_text_and_truncation(capsys):
    code, out, _ = _cli(capsys, "construct-hop", "--k", "9", "--layers", "4", "--n", "50", "--trials", "20")
    assert code == 0
    assert "L = 4 layers (truncated: reaches 4 hops)" in out and "R = 4 rounds" in out
    assert "lower bound c·N/k^6" in out


@pytest.mark.parametrize(
    "argv, match",
    [(["--k", "-2"], "--k -2"), (["--k", "3", "--parties", "500"], "--parties 500"),
     (["--k", "3", "--n", "1000000", "--alphabet", "1000000"], "need p = 67"),
     (["--k", "3", "--alphabet", "1"], "at least 2 symbols")],
)
def test_construct_hop_cli_misuse(capsys, argv, match):
    code, out, err = _cli(capsys, "construct-hop", *argv)
    assert code == 2 and out == "" and match in err and len(err.strip().splitlines()) == 1


def test_every_softmax_row_is_exactly_one_hot(monkeypatch):
    """β = f + 1 makes every non-maximal weight round to 0 and the maximal one exactly 1."""
    import reductions.models.transformer as tr

    rows = []
    real = tr.softmax_weights

    def spy(z, frac):
        e = real(z, frac)
        rows.append((e, frac))
        return e

    monkeypatch.setattr(tr, "softmax_weights", spy)
    rng = np.random.default_rng(4)
    c = hop_construction(13, max_len=80, alphabet=80)
    x = _mixed_sequences(30, 80, rng)
    assert (c(x) == hop(x, 13)).all()
    assert len(rows) == c.layers
    for e, f in rows:
        assert ((e != 0).sum(axis=-1) == 1).all() and set(np.unique(e)) == {0.0, 2.0**f}


def test_beyond_32_bit_fixed_point_at_pointer_chasing_scale():
    """q = 1024, k = 3: N = 6145 over 2050 symbols needs p = 43; exact on sampled and encoded inputs.

    The >= 1000-sequence runs (and N = 10^5, k = 16) are tests/benchmarks/test_construction_bench.py.
    """
    from protocols import PointerChasing
    from reductions.verify import pointer_chasing_success

    c = hop_construction(3, max_len=6145, alphabet=2050)
    assert (c.precision, c.frac) == (43, 13)
    x = random_sequences(1, 6145, 2050, seed=5)
    assert (c(x) == hop(x, 3)).all()
    rep = pointer_chasing_success(c.model, PointerChasing(q=1024, k=3), trials=1, seed=0)
    assert rep.agree == 1 and rep.success == 1.0 and rep.board_checked


def test_the_n_1e5_construction_is_exact_on_a_prefix():
    """The N = 10^5, k = 16 construction (p = 52) on shorter inputs: same weights, the wide arithmetic path."""
    c = hop_construction(16, max_len=10**5, alphabet=4)
    assert (c.precision, c.layers) == (52, 6)
    x = random_sequences(2, 1500, 4, seed=6)
    assert (c(x) == hop(x, 16)).all()



@pytest.mark.parametrize(
    "k, max_len, alphabet, n, count",
    [(3, 12, 5, 12, 30), (16, 200, 4, 200, 30), (7, 64, 64, 64, 40), (3, 6145, 2050, 300, 6), (16, 10**5, 4, 160, 6)],
)
def test_fast_path_equals_dense_forward(k, max_len, alphabet, n, count):
    """The argmax shortcut gives the dense fixed-point forward's numbers, also beyond 32 bits (p = 43, 52)."""
    c = hop_construction(k, max_len=max_len, alphabet=alphabet)
    rng = np.random.default_rng(k + n)
    x = np.concatenate([
        random_sequences(count // 2, n, alphabet, seed=rng),
        random_sequences(count - count // 2, n, min(alphabet, 3), seed=rng),  # many repeats, few ⊥
    ])
    fast = c.fast(x)
    assert (fast == c(x)).all()
    assert (fast == hop(x, k)).all()


def test_fast_path_refuses_weights_outside_its_proof():
    """A model whose queries are not of the proven form is refused, not evaluated approximately."""
    c = hop_construction(3, max_len=20, alphabet=4)
    x = random_sequences(3, 20, 4, seed=0)
    params = c.model.params()
    params["wq"] = params["wq"].copy()
    params["wq"][1, 0, 0, 3] = 0.5  # the induction query gains a stray component
    m = SoftmaxTransformer(
        vocab=4, layers=c.layers, width=WIDTH, heads=1, head_dim=4, d_ff=16, max_len=20,
        precision=c.precision, frac=c.frac, params=params, output_tokens=c.model.output_tokens,
    )
    broken = type(c)(c.k, c.layers, c.reached, c.max_len, c.alphabet, c.precision, c.frac, c.temperature, m)
    with pytest.raises(ConstructionError, match="layer 1"):
        broken.fast(x)
