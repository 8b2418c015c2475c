"""One-layer chain-of-thought transformer and its protocol: oracle, every CoT token, formulas (issue 5)."""

from __future__ import annotations

from fractions import Fraction
from math import ceil, floor, log2

import numpy as np
import pytest

from protocols import PointerChasing, audit_locality, run
from reductions.compilers.cot_to_protocol import CoTProtocol, message_record, reference
from reductions.compilers.registry import CompileError, bits_formula, rounds_formula, to_protocol
from reductions.compilers.splits import random_boundaries, split_tokens
from reductions.khop.instance import canonical_boundaries
from reductions.khop.pointer_chasing_to_hop import EncodedPointerChasing
from reductions.models.attention_base import exp_nonpositive
from reductions.models.base import ModelError
from reductions.models.cot import ChainOfThought, cot_acc_bits, cot_message_bits
from reductions.verify import pointer_chasing_success, random_tokens, verify, verify_random_splits


def oracle_round(x: Fraction) -> int:
    fl = floor(x)
    d = x - fl
    if d != Fraction(1, 2):
        return fl + (d > Fraction(1, 2))
    return fl if fl % 2 == 0 else fl + 1


def naive_generate(model: ChainOfThought, x: np.ndarray) -> list[int]:
    """The docstring's definition, one position at a time with Python ints (one sequence)."""
    fmt, H, m = model.fmt, model.heads, model.width
    seq = [int(t) for t in x] + [model.sep]
    out = []
    for _ in range(model.cot_steps + 1):
        pos = len(seq) - 1
        xq = model._embed(np.array([[seq[-1]]]), pos, False)
        q = model._project(0, xq, "q", False)[0, 0]                     # (H, m)
        heads = np.zeros((H, m), dtype=np.int64)
        for h in range(H):
            qh = q[h]

            def dot(a, qh=qh):
                return sum(int(qh[c]) * int(a[c]) for c in range(m))

            bound = max(dot(model._ke[u, h]) for u in range(model.vocab + 1)) \
                + max(dot(model._kp[i, h]) for i in range(pos + 1))
            c0 = oracle_round(Fraction(bound, 2**fmt.f))
            num, den = [0] * m, 0
            for j, tok in enumerate(seq):
                k = model._ke[tok, h] + model._kp[j, h]
                v = model._ve[tok, h] + model._vp[j, h]
                s = oracle_round(Fraction(dot(k), 2**fmt.f))
                assert s <= c0  # the public offset bounds every score
                e = int(exp_nonpositive(fmt, np.array([s - c0]))[0])
                den += e
                num = [a + e * int(v[c]) for c, a in enumerate(num)]
            heads[h] = [0 if den == 0 else oracle_round(Fraction(a, den)) for a in num]
        y = model._readout(model._finish_layer(0, xq, heads[None, None], False), False)[0, 0]
        out.append(int(y))
        seq.append(int(y))
    return out


def _model(**kw):
    base = dict(vocab=6, width=4, heads=2, cot_steps=3, precision=16, max_len=40, seed=3)
    base.update(kw)
    seed = base.pop("seed")
    return ChainOfThought.random(seed=seed, **base)


@pytest.mark.parametrize("p", [10, 16, 24])
def test_generation_equals_naive_definition(p):
    model = _model(precision=p, cot_steps=2, heads=2, width=3)
    x = random_tokens(6, 25, 9, seed=p)
    got = model.forward(x)
    assert got.tolist() == [naive_generate(model, row) for row in x]


def test_partial_sums_split_exactly_and_weights_are_at_most_one():
    model = _model()
    x = random_tokens(6, 200, 30, seed=1)
    k, v = model.keys_values(x, 0)
    st = model.step(np.full(200, model.sep), 30)
    num, den = model.partial_sums(st, k, v)
    for b in (random_boundaries(30, 5, seed=s) for s in range(5)):
        parts = [model.partial_sums(st, k[:, b[i]:b[i + 1]], v[:, b[i]:b[i + 1]]) for i in range(5)]
        assert (sum(p[0] for p in parts) == num).all() and (sum(p[1] for p in parts) == den).all()
    raw = np.einsum("bhm,bnhm->bhn", st.q, k)
    assert ((raw >> model.fmt.f) <= st.offset).all()  # floor(score) <= offset, so exp(score - offset) <= 1
    assert (den <= 30 * 2**model.fmt.f).all() and (den > 0).any()


@pytest.mark.parametrize("seed", [1, 2])
def test_fixed_point_agrees_with_float64_at_p24(seed):
    model = ChainOfThought.random(vocab=8, width=16, heads=2, cot_steps=4, precision=24, max_len=80, seed=seed)
    x = random_tokens(8, 400, 48, seed=seed)
    fixed, flt = model.forward(x), model.forward_float(x)
    assert float((fixed == flt).mean()) >= 0.99
    # the tokens depend on the input (a constant model would agree trivially)
    assert len({tuple(r) for r in fixed.tolist()}) >= 5


def test_formula_is_one_place_and_matches_the_layout():
    model = _model(precision=12, width=3, heads=2, max_len=100)
    f = model.fmt.f
    a = f + 12 + ceil(log2(101))
    assert cot_acc_bits(12, f, 100) == a == model.acc_bits
    want = 2 * (3 + 1) * a
    assert cot_message_bits(3, 2, a) == want == model.state_bits() == bits_formula(model)
    assert message_record(model).width == want == CoTProtocol(model, (0, 5, 9)).s
    assert rounds_formula(model) == model.cot_steps + 1 == CoTProtocol(model, (0, 5, 9)).R
    # the widest possible chunk sum fits the accumulator
    assert 100 * 2**f * 2 ** (12 - 1) <= 2 ** (a - 1) - 1


CONFIGS = [dict(cot_steps=0), dict(), dict(cot_steps=4, heads=3, width=3), dict(cot_steps=2, precision=24, heads=1)]


@pytest.mark.parametrize("cfg", range(len(CONFIGS)))
def test_protocol_equals_model_every_cot_token_on_1000_inputs(cfg):
    model = _model(**CONFIGS[cfg])
    n = 10 + 3 * cfg
    x = random_tokens(6, 1000, n, seed=cfg)
    want = model.forward(x)
    reports = verify_random_splits(model, x, k=2 + cfg % 3, splits=3, seed=cfg)
    reports += (verify(model, x[:100], tuple(range(n + 1))),)  # every chunk of length 1
    for rep in reports:
        assert rep.ok and rep.board_checked and rep.exact_bits, rep
        assert rep.rounds == model.cot_steps + 1 and rep.bits == model.state_bits()
        b = rep.boundaries
        xs = x[: rep.trials]
        p = to_protocol(model, b)
        r = run(p, split_tokens(xs, b))
        assert (p.chain_of_thought(r.board) == want[: rep.trials, :-1]).all()
        assert (r.outputs == want[: rep.trials, -1]).all()


def test_board_holds_partial_sums():
    model = _model(cot_steps=1)
    x = random_tokens(6, 40, 8, seed=0)
    b = (0, 3, 8)
    p = to_protocol(model, b)
    r = run(p, split_tokens(x, b))
    outs, board = reference(model, x, b)
    assert (r.board == board).all() and (outs == model.forward(x)).all()
    # round 0, speaker 0: the partial sums over positions 0..2 for the separator's query
    st = model.step(np.full(40, model.sep), 8)
    k, v = model.keys_values(x[:, :3], 0)
    num, den = model.partial_sums(st, k, v)
    d = p.record.decode(r.board[:, 0, 0])
    assert (d["num"] == num).all() and (d["den"] == den).all()


def test_speakers_use_only_their_chunk_and_the_board():
    enc = EncodedPointerChasing(PointerChasing(q=3, k=3))
    model = _model(vocab=8, max_len=24, cot_steps=2)
    protocol = to_protocol(model, tuple(int(v) for v in canonical_boundaries(3, 3)))
    report = audit_locality(protocol, enc, trials=40, seed=1)
    assert report.ok, report.violations


def test_runs_on_encoded_pointer_chasing_with_success_reported():
    model = _model(vocab=8, max_len=24, cot_steps=2)
    rep = pointer_chasing_success(model, PointerChasing(q=3, k=3), trials=300, seed=5)
    assert rep.trials == rep.agree == 300 and rep.rounds == 3
    assert 0 <= rep.ci_low <= rep.success <= rep.ci_high <= 1


def test_save_load_and_bad_input(tmp_path):
    model = _model()
    model.save(tmp_path / "c.npz")
    again = ChainOfThought.load(tmp_path / "c.npz")
    x = random_tokens(6, 10, 7, seed=0)
    assert (again.forward(x) == model.forward(x)).all() and again.cot_steps == 3
    with pytest.raises(ModelError, match="one attention layer"):
        ChainOfThought.random(vocab=4, layers=2, seed=0)
    with pytest.raises(ModelError, match="cot_steps"):
        _model(cot_steps=-1)
    with pytest.raises(ModelError, match="max_len"):
        _model(max_len=10).forward(np.zeros((1, 7), dtype=np.int64))   # 7 + 3 + 1 > 10
    with pytest.raises(CompileError, match="max_len"):
        to_protocol(_model(max_len=10), (0, 3, 7))
    with pytest.raises(ModelError, match="f <= p - 2"):
        _model(precision=8, frac=7)


def test_verify_cli_cot_family(capsys):
    import json

    from protocols.cli_support import run_commands
    from reductions.__main__ import COMMANDS

    def cli(*argv):
        return run_commands("python -m reductions", "test", "reductions.cli", COMMANDS, list(argv))

    assert cli("verify", "--model", "cot", "--cot-steps", "3", "--heads", "2", "--width", "4", "--k", "3",
               "--trials", "200", "--json") == 0
    data = json.loads(capsys.readouterr().out)
    assert data["layers"] == 1 and data["rounds"] == 4 and data["agree"] == 200 and data["board_checked"]
    assert data["bits"] == data["bits_formula"] == 2 * (4 + 1) * cot_acc_bits(16, 12, 4096)
    assert cli("verify", "--model", "cot", "--cot-steps", "1", "--q", "3", "--k", "3", "--trials", "100", "--json") == 0
    data = json.loads(capsys.readouterr().out)
    assert data["agree"] == 100 and data["rounds"] == 2 and data["success"] is not None
    assert cli("verify", "--model", "cot", "--layers", "2", "--trials", "5") == 2
    assert "one attention layer" in capsys.readouterr().err
