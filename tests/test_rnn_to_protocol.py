"""Compiled RNN-family protocols equal their models bit for bit (docs/definitions.md §5, [SHT24] Cor. 5.2)."""

from __future__ import annotations

import zlib

import pytest

from protocols import audit_locality, run
from protocols.seeding import child_seed
from reductions.compilers import rnn_to_protocol
from reductions.compilers.registry import CompileError, bits_formula, to_protocol
from reductions.compilers.splits import even_boundaries, random_boundaries, split_tokens
from reductions.models import GRU, LSTM, MODELS, ElmanRNN, FiniteStateRNN, SelectiveSSM
from reductions.verify import BoardMismatch, FormulaMismatch, OutputMismatch, random_tokens, verify

FAMILIES = ("fsm", "elman", "gru", "lstm", "ssm")
N = 10
TRIALS = 1000


def make(family: str, layers: int, width: int, precision: int, seed: int, **kw):
    return MODELS[family].random(vocab=5, layers=layers, width=width, precision=precision, seed=seed, **kw)


def formula(family: str, m: int, p: int, n: int = 1) -> int:
    """docs/definitions.md §5 written out by hand: m, m·p, m·p, 2·m·p, m·n·p."""
    return {"fsm": m, "elman": m * p, "gru": m * p, "lstm": 2 * m * p, "ssm": m * n * p}[family]


def splits(seed: int) -> list[tuple[int, ...]]:
    """Several random splits plus the extremes: one chunk, and every chunk of length 1."""
    return [
        random_boundaries(N, 2, seed=child_seed(seed, 0)),
        random_boundaries(N, 4, seed=child_seed(seed, 1)),
        random_boundaries(N, 7, seed=child_seed(seed, 2)),
        (0, N),
        tuple(range(N + 1)),
    ]


CASES = [(fam, L, m, p) for fam in FAMILIES for L in (1, 2, 3) for (m, p) in ((3, 8), (6, 16))]
CASES += [("gru", 2, 4, 24), ("lstm", 2, 2, 32), ("elman", 1, 3, 32), ("ssm", 2, 2, 24), ("fsm", 2, 12, 0)]


@pytest.mark.parametrize("family, layers, width, precision", CASES)
def test_protocol_equals_model_on_1000_inputs(family, layers, width, precision):
    seed = zlib.crc32(repr((family, layers, width, precision)).encode())
    model = make(family, layers, width, precision, seed)
    x = random_tokens(5, TRIALS, N, seed=seed + 1)
    n_state = getattr(model, "state_size", 1)
    want_bits = formula(family, width, precision, n_state)
    for b in splits(seed):
        rep = verify(model, x, b, seed=seed)   # raises on the first differing instance or message
        assert rep.agree == rep.trials == TRIALS
        assert rep.rounds == layers == rep.rounds_formula
        assert rep.bits == model.state_bits() == want_bits == rep.bits_formula
        assert rep.exact_bits and rep.max_bits_used == rep.min_bits_used == want_bits
        assert rep.board_checked and rep.k == len(b) - 1


def test_protocol_matches_independent_model_forward():
    """Outputs via the engine equal model.forward (not only the compiler's own reference)."""
    model = GRU.random(vocab=6, layers=3, width=5, precision=12, seed=4)
    x = random_tokens(6, 300, 17, seed=5)
    b = random_boundaries(17, 5, seed=6)
    r = run(to_protocol(model, b), split_tokens(x, b), seed=0)
    assert (r.outputs == model.forward(x)[:, -1]).all()
    assert r.board.shape == (300, 3, 5, model.state_bits())
    assert (r.used == model.state_bits()).all()


def test_messages_are_boundary_states():
    """Message (round l, speaker i) decodes to layer l's state after b_{i+1} positions."""
    model = LSTM.random(vocab=4, layers=2, width=3, precision=10, seed=1)
    x = random_tokens(4, 50, 9, seed=2)
    b = (0, 2, 3, 9)
    r = run(to_protocol(model, b), split_tokens(x, b), seed=0)
    for i, end in enumerate(b[1:-1]):
        direct = model.run(x[:, :end])
        for li in range(2):
            got = model.decode_state(li, r.message(li, i))
            assert all((got[name] == direct.states[li][name]).all() for name in ("h", "c"))


def test_compiled_protocol_is_local():
    """audit_locality: each speaker's message depends only on the board and its own chunk."""

    class Tokens:
        k = 3

        def sample(self, batch, seed=None):
            return random_tokens(5, batch, 8, seed=seed)

        def inputs(self, x):
            return split_tokens(x, (0, 3, 4, 8))

        def public(self, x):
            return {}

        def answer(self, x):
            return model.forward(x)[:, -1]

    model = ElmanRNN.random(vocab=5, layers=2, width=3, precision=10, seed=0)
    assert audit_locality(to_protocol(model, (0, 3, 4, 8)), Tokens(), trials=32, seed=1).ok


def test_last_message_holds_token_or_state():
    model = FiniteStateRNN.random(vocab=16, layers=2, width=2, seed=3)   # s = 2 < 4 token bits
    p = to_protocol(model, (0, 3, 6))
    assert p.tokens is None
    x = random_tokens(16, 200, 6, seed=0)
    assert verify(model, x, (0, 3, 6)).agree == 200
    big = FiniteStateRNN.random(vocab=3, layers=1, width=4, seed=3)
    assert to_protocol(big, (0, 6)).tokens.width == 4


def test_ssm_whose_token_does_not_fit_is_refused():
    tiny = SelectiveSSM.random(vocab=9, layers=1, width=1, precision=2, frac=0, state_size=1, seed=0)
    with pytest.raises(CompileError, match="cannot hold a token"):
        to_protocol(tiny, (0, 2, 4))


def test_fsm_from_functions_compiles():
    parity = FiniteStateRNN.from_functions(vocab=2, width=1, transitions=[lambda h, x: h ^ x, lambda h, x: x],
                                           readout=lambda h: h)
    x = random_tokens(2, 400, 11, seed=0)
    rep = verify(parity, x, random_boundaries(11, 4, seed=1))
    assert rep.agree == 400 and rep.bits == 1
    assert (parity.forward(x)[:, -1] == x.sum(axis=1) % 2).all()


def test_output_mismatch_names_instance_and_position(monkeypatch):
    model = GRU.random(vocab=4, layers=1, width=3, precision=10, seed=0)
    x = random_tokens(4, 20, 6, seed=0)
    real = rnn_to_protocol.reference

    def wrong(model, tokens, boundaries):
        out, board = real(model, tokens, boundaries)
        out = out.copy()
        out[7, -1] = (out[7, -1] + 1) % 4
        return out, board

    monkeypatch.setattr(rnn_to_protocol, "reference", wrong)
    with pytest.raises(OutputMismatch, match=r"instance 7 at position 5"):
        verify(model, x, (0, 2, 6))
    rep = verify(model, x, (0, 2, 6), raise_on_mismatch=False)
    assert rep.agree == 19 and not rep.ok


def test_board_mismatch_names_round_and_speaker(monkeypatch):
    model = GRU.random(vocab=4, layers=2, width=3, precision=10, seed=0)
    x = random_tokens(4, 20, 6, seed=0)
    real = rnn_to_protocol.reference

    def wrong(model, tokens, boundaries):
        out, board = real(model, tokens, boundaries)
        board = board.copy()
        board[3, 0, 1, 5] ^= 1
        return out, board

    monkeypatch.setattr(rnn_to_protocol, "reference", wrong)
    with pytest.raises(BoardMismatch, match=r"speaker 1 in round 0 .* instance 3 at bit 5"):
        verify(model, x, (0, 2, 4, 6))


def test_formula_mismatch_raises(monkeypatch):
    model = ElmanRNN.random(vocab=4, layers=1, width=3, precision=10, seed=0)
    monkeypatch.setattr(rnn_to_protocol, "bits_formula", lambda m: 31)
    with pytest.raises(FormulaMismatch, match="s = 31"):
        verify(model, random_tokens(4, 5, 4, seed=0), (0, 2, 4))


@pytest.mark.parametrize("bad", [(0, 3), (1, 6), (0, 3, 3, 6), (0, 7)])
def test_bad_boundaries_raise(bad):
    model = GRU.random(vocab=4, layers=1, width=3, precision=10, seed=0)
    with pytest.raises(ValueError, match="boundaries"):
        verify(model, random_tokens(4, 5, 6, seed=0), bad)


def test_wrong_chunk_length_raises():
    model = GRU.random(vocab=4, layers=1, width=3, precision=10, seed=0)
    p = to_protocol(model, (0, 2, 6))
    x = random_tokens(4, 5, 6, seed=0)
    with pytest.raises(CompileError, match="speaker 0 got a chunk of shape"):
        run(p, split_tokens(x, (0, 3, 6)))


def test_bits_formula_by_family():
    assert bits_formula(GRU.random(vocab=3, layers=1, width=7, precision=11, seed=0)) == 77
    assert bits_formula(LSTM.random(vocab=3, layers=1, width=7, precision=11, seed=0)) == 154
    assert bits_formula(SelectiveSSM.random(vocab=3, layers=1, width=7, precision=11, state_size=3, seed=0)) == 231
    assert bits_formula(FiniteStateRNN.random(vocab=3, layers=1, width=7, seed=0)) == 7
    assert to_protocol(GRU.random(vocab=3, layers=4, width=2, precision=9, seed=0), even_boundaries(8, 4)).R == 4
