"""The full softmax transformer compiled into a (k, L, s) protocol (docs/definitions.md §5, last bullet)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from protocols import PointerChasing, audit_locality, run
from reductions import hop
from reductions.compilers.registry import CompileError, bits_formula, rounds_formula, to_protocol
from reductions.compilers.splits import even_boundaries, random_boundaries, split_tokens
from reductions.compilers.transformer_to_protocol import TransformerProtocol, message_bits
from reductions.constructions.hop_construction import hop_construction
from reductions.khop.pointer_chasing_to_hop import EncodedPointerChasing
from reductions.models import GRU, SoftmaxTransformer
from reductions.verify import pointer_chasing_success, random_tokens, verify


def _splits(n: int, seed: int) -> list[tuple[int, ...]]:
    return [(0, n), tuple(range(n + 1)), random_boundaries(n, 4, seed=seed), (0, 1, n)]


@pytest.mark.parametrize(
    "layers, width, heads, head_dim, precision",
    [(1, 4, 1, None, 12), (2, 6, 2, 3, 16), (3, 8, 2, None, 20)],
)
def test_random_transformers_agree_on_a_thousand_inputs_under_several_splits(layers, width, heads, head_dim, precision):
    m = SoftmaxTransformer.random(vocab=6, layers=layers, width=width, precision=precision, heads=heads,
                                  head_dim=head_dim, seed=layers)
    n = 13
    x = random_tokens(6, 1000, n, seed=layers)
    for b in _splits(n, seed=layers):
        rep = verify(m, x, b, seed=0)
        assert rep.agree == rep.trials == 1000 and rep.board_checked and rep.ok, rep
        assert rep.rounds == rep.rounds_formula == layers
        assert rep.bits == rep.bits_formula == message_bits(m, b)
        longest = max(y - a for a, y in zip(b, b[1:], strict=False))
        assert rep.bits == longest * 2 * heads * m.head_dim * precision
        # the longest chunk's keys and values fill s exactly (unless its only message is the output)
        lengths = [y - a for a, y in zip(b, b[1:], strict=False)]
        writes_kv = layers > 1 or lengths[:-1] and max(lengths[:-1]) == longest
        assert rep.max_bits_used == rep.bits if writes_kv else rep.max_bits_used < rep.bits


def test_message_size_is_definitions_formula_on_even_splits():
    # [SHT24] convention: head_dim = m, so s = ceil(N/k)·2·m·H·p
    for width, heads, p, n, k in [(4, 1, 12, 40, 4), (8, 2, 16, 100, 7), (6, 3, 10, 33, 33)]:
        m = SoftmaxTransformer.random(vocab=3, layers=2, width=width, precision=p, heads=heads, seed=0)
        b = even_boundaries(n, k)
        assert bits_formula(m, b) == math.ceil(n / k) * 2 * width * heads * p
        assert to_protocol(m, b).s == bits_formula(m, b) and rounds_formula(m) == 2


@pytest.mark.parametrize("k", [1, 3, 8])
def test_compiled_construction_computes_hop_k(k):
    n = 24
    c = hop_construction(k, max_len=n, alphabet=5)
    x = random_tokens(5, 400, n, seed=k)
    for b in (random_boundaries(n, 5, seed=k), (0, 23, 24)):
        rep = verify(c.model, x, b, seed=1)
        assert rep.agree == 400 and rep.board_checked
        assert rep.rounds == c.layers == math.ceil(math.log2(k)) + 2
        assert rep.bits == max(y - a for a, y in zip(b, b[1:], strict=False)) * 2 * 1 * 4 * c.precision
    p = to_protocol(c.model, (0, 12, 24))
    assert (run(p, split_tokens(x, (0, 12, 24))).outputs == hop(x, k)[:, -1]).all()


def test_construction_solves_pointer_chasing_in_fewer_than_k_rounds():
    q, k = 3, 8
    n = 2 * k * q + 1
    c = hop_construction(k, max_len=n, alphabet=2 * q + 2)
    rep = pointer_chasing_success(c.model, PointerChasing(q=q, k=k), trials=300, seed=4)
    assert rep.success == 1.0 and rep.agree == 300 and rep.board_checked
    assert rep.rounds == 5 < k  # R = ceil(log2 8) + 2
    n_over_k6 = n / k**6
    assert rep.bits == (2 * q + 1) * 2 * 4 * c.precision and rep.bits > 1000 * n_over_k6


def test_protocol_is_local():
    q, k = 3, 4
    c = hop_construction(k, max_len=2 * k * q + 1, alphabet=2 * q + 2)
    enc = EncodedPointerChasing(PointerChasing(q=q, k=k))
    from reductions.khop.instance import canonical_boundaries

    p = TransformerProtocol(c.model, canonical_boundaries(q, k, 0))
    assert audit_locality(p, enc, trials=16, seed=0).ok


def test_key_value_codec_round_trip():
    m = SoftmaxTransformer.random(vocab=4, layers=1, width=5, precision=11, heads=2, head_dim=3, seed=0)
    p = TransformerProtocol(m, (0, 4, 9))
    rng = np.random.default_rng(0)
    K = rng.integers(m.fmt.lo, m.fmt.hi + 1, (7, 2, 5, 3))
    V = rng.integers(m.fmt.lo, m.fmt.hi + 1, (7, 2, 5, 3))
    bits = p.encode_kv(K, V)
    assert bits.shape == (7, 5 * m.kv_bits_per_position())
    K2, V2 = p.decode_kv(np.concatenate([bits, np.zeros((7, 9), np.uint8)], 1), 5)
    assert (K2 == K).all() and (V2 == V).all()


def test_compile_errors():
    m = SoftmaxTransformer.random(vocab=4, layers=1, width=4, precision=10, max_len=8, seed=0)
    with pytest.raises(CompileError, match="depends on the split"):
        bits_formula(m)
    with pytest.raises(CompileError, match="max_len = 8"):
        to_protocol(m, (0, 4, 9))
    with pytest.raises(CompileError, match="is not a SoftmaxTransformer"):
        TransformerProtocol(GRU.random(vocab=2, layers=1, width=2, precision=8, seed=0), (0, 2))


def test_verify_cli_with_the_transformer_family(capsys):
    import json

    from protocols.cli_support import run_commands
    from reductions.__main__ import COMMANDS

    argv = ["verify", "--model", "transformer", "--layers", "2", "--width", "6", "--heads", "2", "--head-dim", "3",
            "--precision", "16", "--k", "3", "--n", "10", "--trials", "300", "--json"]
    code = run_commands("python -m reductions", "test", "reductions.cli", COMMANDS, argv)
    data = json.loads(capsys.readouterr().out)
    assert code == 0 and data["model"] == "transformer" and data["agree"] == 300 and data["board_checked"]
    assert data["rounds"] == 2 and data["bits"] == data["bits_formula"]
    code = run_commands("python -m reductions", "test", "reductions.cli", COMMANDS,
                        ["verify", "--model", "transformer", "--q", "2", "--k", "3", "--trials", "50", "--json"])
    data = json.loads(capsys.readouterr().out)
    assert code == 0 and data["agree"] == 50 and data["success"] is not None
