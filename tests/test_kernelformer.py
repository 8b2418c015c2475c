"""KernelFormer (kernel attention) and its protocol: exact arithmetic, model == protocol, formulas (issue 5)."""

from __future__ import annotations

from fractions import Fraction
from math import ceil, floor, log2

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocols import PointerChasing, audit_locality, run
from reductions.arithmetic.fixed_point import FixedPointError, FixedPointOverflow
from reductions.arithmetic.wide_int import Wide, exact_matmul_int64, exact_matmul_terms, magnitude_bits, round_div_wide
from reductions.compilers.kernelformer_to_protocol import KernelProtocol, message_record, reference
from reductions.compilers.registry import bits_formula, rounds_formula, to_protocol
from reductions.compilers.splits import split_tokens
from reductions.khop.instance import canonical_boundaries
from reductions.khop.pointer_chasing_to_hop import EncodedPointerChasing
from reductions.models.base import ModelError
from reductions.models.kernelformer import (
    CustomFeatures,
    KernelFormer,
    causal_kernel_attention,
    global_kernel_attention,
    kernel_acc_bits,
    kernel_message_bits,
    kernel_sums,
)
from reductions.verify import pointer_chasing_success, random_tokens, verify, verify_random_splits


def oracle_round(x: Fraction) -> int:
    """Nearest integer, ties to even (obviously correct, slow)."""
    fl = floor(x)
    d = x - fl
    if d != Fraction(1, 2):
        return fl + (d > Fraction(1, 2))
    return fl if fl % 2 == 0 else fl + 1


# -- wide integers ------------------------------------------------------------------------------
big = st.integers(-(2**62), 2**62)


@given(st.lists(st.tuples(st.integers(-(2**52), 2**52), st.integers(0, 38)), min_size=1, max_size=6))
def test_wide_from_terms_is_the_exact_sum(terms):
    w = Wide.from_terms([(np.array([t]), s) for t, s in terms])
    assert int(w.to_object()[0]) == sum(t * 2**s for t, s in terms)
    assert 0 <= int(w.lo[0]) < 2**32


@given(st.lists(st.tuples(big, st.integers(0, 28), big.filter(bool), st.integers(0, 28)), min_size=1, max_size=20))
def test_round_div_wide_matches_fraction_oracle(rows):
    nums = [a * 2**s for a, s, _, _ in rows]
    dens = [b * 2**t for _, _, b, t in rows]
    want = [oracle_round(Fraction(a, b)) for a, b in zip(nums, dens, strict=True)]
    keep = [i for i, w in enumerate(want) if abs(w) < 2**29]
    if not keep:
        return
    n = _wide([nums[i] for i in keep])
    d = _wide([dens[i] for i in keep])
    assert round_div_wide(n, d).tolist() == [want[i] for i in keep]


def _wide(values: list[int]) -> Wide:
    """A Wide from Python ints via 30-bit pieces (independent of the code under test's splitting)."""
    terms = []
    for j in range(4):
        piece = [(v >> (30 * j)) & (2**30 - 1) if j < 3 else v >> 90 for v in values]
        terms.append((np.array(piece, dtype=np.int64), 30 * j))
    return Wide.from_terms(terms)


def test_round_div_wide_ties_signs_and_zero():
    nums = [5, 7, -5, -7, 3, -3, 1, 0, 3 * 2**80 + 2**79]
    dens = [2, 2, 2, 2, -2, -2, 0, 5, 2**80]
    got = round_div_wide(_wide(nums), _wide(dens), zero=-9).tolist()
    assert got[:6] == [2, 4, -2, -4, -2, 2] and got[6] == -9 and got[7] == 0 and got[8] == 4
    with pytest.raises(FixedPointOverflow):
        round_div_wide(_wide([10**20]), _wide([1]))
    with pytest.raises(FixedPointError, match="division by zero"):
        round_div_wide(_wide([1]), _wide([0]))


@settings(max_examples=60)
@given(st.integers(1, 40), st.integers(0, 40), st.integers(0, 40), st.integers(0, 2**32 - 1))
def test_exact_matmul_terms_match_python_ints(n, abits, bbits, seed):
    rng = np.random.default_rng(seed)
    a = rng.integers(-(2**abits), 2**abits + 1, (3, n), dtype=np.int64)
    b = rng.integers(-(2**bbits), 2**bbits + 1, (n, 2), dtype=np.int64)
    want = a.astype(object) @ b.astype(object)
    got = Wide.from_terms(exact_matmul_terms(a, b)).to_object()
    assert (got == want).all()
    for t, _ in exact_matmul_terms(a, b):
        assert magnitude_bits(t) <= 53
    if n * 2 ** (abits + bbits) < 2**62:
        assert (exact_matmul_int64(a, b).astype(object) == want).all()


# -- exact kernel attention ---------------------------------------------------------------------
def naive_attention(fq, fk, v, causal):
    """Per position, Python-int sums and one round-half-even division (0 where the denominator is 0)."""
    B, n, mf = fq.shape
    out = np.zeros((B, n, v.shape[-1]), dtype=np.int64)
    for b in range(B):
        for i in range(n):
            js = range(i + 1) if causal else range(fk.shape[1])
            den = sum(int(fq[b, i, a]) * int(fk[b, j, a]) for j in js for a in range(mf))
            for c in range(v.shape[-1]):
                num = sum(int(fq[b, i, a]) * int(fk[b, j, a]) * int(v[b, j, c]) for j in js for a in range(mf))
                out[b, i, c] = 0 if den == 0 else oracle_round(Fraction(num, den))
    return out


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 24), st.integers(1, 6), st.integers(1, 3), st.sampled_from([8, 16, 24]),
       st.booleans(), st.integers(0, 2**32 - 1))
def test_kernel_attention_equals_naive_oracle_for_every_block_and_split(n, mf, m, p, causal, seed):
    rng = np.random.default_rng(seed)
    P = p - 1
    fq = rng.integers(0, 2**P, (2, n, mf))
    fk = rng.integers(0, 2**P, (2, n, mf))
    v = rng.integers(-(2**P), 2**P, (2, n, m))
    fq[:, rng.random(n) < 0.2] = 0  # zero denominators happen
    fk[:, rng.random(n) < 0.3] = 0
    want = naive_attention(fq, fk, v, causal)
    if causal:
        for block in (1, 3, 64):
            assert (causal_kernel_attention(fq, fk, v, block=block) == want).all()
        cut = int(rng.integers(0, n + 1))
        S0, z0 = kernel_sums(fk[:, :cut], v[:, :cut])
        got = causal_kernel_attention(fq[:, cut:], fk[:, cut:], v[:, cut:], S0, z0, block=5)
        assert (got == want[:, cut:]).all()
    else:
        S, z = kernel_sums(fk, v)
        assert (global_kernel_attention(fq, S, z) == want).all()
        # sums of chunk sums are the global sums (what the unmasked protocol relies on)
        cut = int(rng.integers(0, n + 1))
        S1, z1 = kernel_sums(fk[:, :cut], v[:, :cut])
        S2, z2 = kernel_sums(fk[:, cut:], v[:, cut:])
        assert (global_kernel_attention(fq, S1 + S2, z1 + z2) == want).all()


def test_kernel_attention_is_exact_beyond_int64_at_p24():
    """Worst-case magnitudes: φ(q)ᵀS needs ~3·23 + log2(N·m′) bits, far past int64."""
    n, mf, m = 200, 16, 2
    fq = np.full((1, n, mf), 2**23 - 1)
    fk = np.full((1, n, mf), 2**23 - 1)
    v = np.random.default_rng(0).integers(-(2**23), 2**23, (1, n, m))
    want = naive_attention(fq[:, -3:], fk, v, causal=False)  # global: any query row
    S, z = kernel_sums(fk, v)
    assert (global_kernel_attention(fq[:, -3:], S, z) == want).all()
    causal = causal_kernel_attention(fq, fk, v)
    assert (causal[:, -1] == want[:, -1]).all()


# -- the model ------------------------------------------------------------------------------------
def _model(**kw):
    base = dict(vocab=6, layers=2, width=4, heads=2, precision=16, max_len=32, seed=3)
    base.update(kw)
    seed = base.pop("seed")
    return KernelFormer.random(seed=seed, **base)


@pytest.mark.parametrize("fmap", ["performer", "elu1"])
@pytest.mark.parametrize("causal", [True, False])
def test_fixed_point_agrees_with_float64_at_p24(fmap, causal):
    model = KernelFormer.random(vocab=8, layers=2, width=16, heads=2, features=32 if fmap == "performer" else None,
                                precision=24, max_len=64, feature_map=fmap, causal=causal, seed=1)
    x = random_tokens(8, 300, 64, seed=2)
    agree = float((model.forward(x) == model.forward_float(x)).mean())
    assert agree >= 0.99, agree


def test_formula_is_one_place_and_matches_the_layout():
    model = _model(precision=12, max_len=100, width=3, heads=2, features=7)
    a = 2 * 12 - 1 + ceil(log2(101))
    assert kernel_acc_bits(12, 100) == a == model.acc_bits
    want = 2 * (7 * 3 + 7) * a
    assert kernel_message_bits(3, 7, 2, a) == want == model.state_bits() == bits_formula(model)
    assert message_record(model).width == want
    assert rounds_formula(model) == model.layers
    # accumulators really are wide enough: the largest possible chunk sum fits, one more does not
    extreme = 100 * (2**11) ** 2
    assert extreme <= 2 ** (a - 1) - 1 < 2 * extreme


CONFIGS = [
    dict(features=5),
    dict(features=5, causal=False),
    dict(feature_map="elu1", layers=3, width=3, heads=1),
    dict(feature_map="elu1", causal=False, layers=1, precision=10),
    dict(layers=3, heads=3, width=2, features=8, precision=20),
    dict(feature_map=CustomFeatures(lambda u: np.concatenate([u * u, np.abs(u), np.ones_like(u[..., :1])], axis=-1), 9),
         causal=False, width=4),
]


@pytest.mark.parametrize("cfg", range(len(CONFIGS)))
def test_protocol_equals_model_on_1000_inputs_under_random_splits(cfg):
    model = _model(**CONFIGS[cfg])
    n = 13 + 3 * cfg
    x = random_tokens(model.vocab, 1000, n, seed=cfg)
    k = 2 + cfg % 4
    reports = verify_random_splits(model, x, k=k, splits=3, seed=cfg)
    reports += (verify(model, x[:200], tuple(range(n + 1))),)  # every chunk of length 1
    for rep in reports:
        assert rep.ok and rep.board_checked and rep.exact_bits, rep
        assert rep.agree == rep.trials and rep.rounds == model.layers
        assert rep.bits == model.state_bits() == rep.bits_formula


def test_protocol_board_holds_the_chunk_sums():
    model = _model(layers=2)
    x = random_tokens(6, 50, 11, seed=4)
    b = (0, 4, 5, 11)
    r = run(to_protocol(model, b), split_tokens(x, b), seed=0)
    outs, board = reference(model, x, b)
    assert (r.board == board).all() and (r.outputs == outs[:, -1]).all()
    # message (round 0, speaker 1) decodes to the layer-0 sums over position 4 alone
    rec = message_record(model)
    d = rec.decode(r.board[:, 0, 1])
    q, k, v = model.qkv_features(0, model._embed(x[:, 4:5], 4, False))
    S, z = kernel_sums(k, v)
    assert (d["kv"] == S).all() and (d["z"] == z).all()


def test_speakers_use_only_their_chunk_and_the_board():
    pc = PointerChasing(q=3, k=3)
    enc = EncodedPointerChasing(pc)
    for causal in (True, False):
        model = _model(vocab=8, max_len=19, causal=causal)
        protocol = to_protocol(model, tuple(int(v) for v in canonical_boundaries(3, 3)))
        report = audit_locality(protocol, enc, trials=40, seed=1)
        assert report.ok, report.violations


def test_runs_on_encoded_pointer_chasing_with_success_reported():
    model = _model(vocab=8, max_len=19, layers=3)
    rep = pointer_chasing_success(model, PointerChasing(q=3, k=3), trials=300, seed=5)
    assert rep.trials == rep.agree == 300 and rep.rounds == 3 and rep.bits == model.state_bits()
    assert 0 <= rep.ci_low <= rep.success <= rep.ci_high <= 1


def test_save_load_round_trip(tmp_path):
    model = _model(causal=False, feature_map="elu1")
    model.save(tmp_path / "k.npz")
    again = KernelFormer.load(tmp_path / "k.npz")
    x = random_tokens(6, 20, 9, seed=0)
    assert (again.forward(x) == model.forward(x)).all() and not again.causal
    custom = _model(feature_map=CustomFeatures(np.exp, 4))
    with pytest.raises(ModelError, match="cannot be saved"):
        custom.save(tmp_path / "c.npz")


def test_bad_input_raises_named_errors():
    with pytest.raises(ModelError, match="feature_map"):
        _model(feature_map="softmax")
    with pytest.raises(ModelError, match="m' = 4"):
        _model(feature_map="elu1", features=5)
    with pytest.raises(ModelError, match="accumulators"):
        _model(precision=32, max_len=4096)
    with pytest.raises(ModelError, match="max_len"):
        _model(max_len=8).forward(np.zeros((1, 9), dtype=np.int64))
    with pytest.raises(ModelError, match="vocabulary"):
        _model().forward(np.array([[0, 6]]))
    with pytest.raises(ValueError, match="max_len"):
        KernelProtocol(_model(max_len=8), (0, 4, 9))


def test_verify_cli_kernel_family(capsys):
    import json

    from protocols.cli_support import run_commands
    from reductions.__main__ import COMMANDS

    def cli(*argv):
        code = run_commands("python -m reductions", "test", "reductions.cli", COMMANDS, list(argv))
        return code, capsys.readouterr()

    code, out = cli("verify", "--model", "kernel", "--width", "4", "--features", "6", "--heads", "2", "--k", "3",
                    "--trials", "200", "--seed", "1", "--json")
    data = json.loads(out.out)
    assert code == 0 and data["agree"] == 200 and data["rounds"] == 2 and data["board_checked"]
    assert data["bits"] == data["bits_formula"] == data["max_bits_used"] == 2 * (6 * 4 + 6) * kernel_acc_bits(16, 4096)
    code, out = cli("verify", "--model", "kernel", "--feature-map", "elu1", "--causal", "0", "--k", "3", "--q", "3",
                    "--trials", "100", "--json")
    data = json.loads(out.out)
    assert code == 0 and data["agree"] == 100 and 0 <= data["ci_low"] <= data["success"] <= data["ci_high"] <= 1
    code, out = cli("verify", "--model", "kernel", "--window", "2", "--trials", "5")
    assert code == 2 and "--window does not apply" in out.err
    with pytest.raises(SystemExit) as exc:
        cli("verify", "--model", "kernel", "--causal", "maybe", "--trials", "5")
    assert exc.value.code == 2 and "--causal" in capsys.readouterr().err
