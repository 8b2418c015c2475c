"""The blackboard engine (docs/definitions.md §1): every rule enforced, with tests that try to break it."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocols import (
    BatchShapeError,
    FunctionProtocol,
    InputCountError,
    MessageTooLong,
    NonBinaryMessage,
    PointerChasing,
    ProtocolError,
    VisibilityError,
    run,
)
from protocols.library import LIBRARY

B, K, R, S = 6, 3, 2, 4


def inputs(batch=B, k=K, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 2, (batch, S)).astype(np.uint8) for _ in range(k)]


def proto(message, output=lambda last: last[:, 0], k=K, R=R, s=S, name="test"):
    return FunctionProtocol(k, R, s, message, output, name=name)


def echo(r, i, board, own, coins):
    """Speaker writes its own input bits, shortened by its index (exercises padding)."""
    return own[:, : S - i]


# ------------------------------------------------------------- the board
def test_board_holds_every_message_padded_in_speaking_order():
    x = inputs()
    res = run(proto(echo), x, seed=0)
    assert res.board.shape == (B, R, K, S) and res.board.dtype == np.uint8
    assert not res.board.flags.writeable
    for r in range(R):
        for i in range(K):
            msg = res.board[:, r, i]
            assert (msg[:, : S - i] == x[i][:, : S - i]).all()
            assert (msg[:, S - i :] == 0).all()  # zero padding: length carries no information
            assert (res.message(r, i) == msg).all()
    assert res.used.tolist() == [[S - i for i in range(K)]] * R
    assert res.bits_written == K * R * S and res.bits_used == R * sum(S - i for i in range(K))
    assert res.max_bits_used == S and res.batch == B
    assert res.outputs.tolist() == x[K - 1][:, 0].tolist()  # the last speaker's last message decides


def test_silent_messages_are_zero_on_the_board_and_to_later_speakers():
    seen = {}

    def msg(r, i, board, own, coins):
        if board.written:
            seen[(r, i)] = board.messages().copy()
        if i == 1:
            return np.zeros((board.batch, 0), np.uint8)
        return np.ones((board.batch, S), np.uint8)

    res = run(proto(msg), inputs(), seed=0)
    assert (res.board[:, :, 1] == 0).all() and (res.board[:, :, [0, 2]] == 1).all()
    assert res.used[:, 1].tolist() == [0] * R
    last = seen[(R - 1, K - 1)]
    assert last.shape == (B, R * K - 1, S)
    assert (last[:, 1] == 0).all() and (last[:, K + 1] == 0).all() and (last[:, 0] == 1).all()


def test_speakers_see_only_earlier_messages_through_read_only_views():
    log = []

    def msg(r, i, board, own, coins):
        m = r * K + i
        assert board.written == m and board.batch == B and (board.k, board.R, board.s) == (K, R, S)
        assert board.messages().shape == (B, m, S)
        with pytest.raises(VisibilityError, match=f"message of speaker {i} in round {r} is not on the board yet"):
            board.message(r, i)
        if m:
            prev = board.last()
            assert (prev == board.message((m - 1) // K, (m - 1) % K)).all()
            with pytest.raises(ValueError, match="read-only"):
                prev[0, 0] = 1
        else:
            with pytest.raises(VisibilityError, match="board is empty"):
                board.last()
        with pytest.raises(VisibilityError, match="no message"):
            board.message(R, 0)
        with pytest.raises(ValueError, match="read-only"):
            own[0, 0] = 1  # a speaker cannot scribble on its input either
        log.append(m)
        return own

    run(proto(msg), inputs(), seed=0)
    assert log == list(range(R * K))


def test_inputs_that_are_views_of_one_buffer_are_copied():
    shared = np.zeros((B, K * S), np.uint8)
    views = [shared[:, i * S : (i + 1) * S] for i in range(K)]

    def msg(r, i, board, own, coins):
        # own.base would otherwise be the whole buffer: every player's input.
        assert not np.shares_memory(own, shared) and own.base.size == own.size
        return own

    run(proto(msg), views, seed=0)


def test_public_data_reaches_every_speaker_read_only():
    start = np.arange(B)

    def msg(r, i, board, own, coins):
        assert (board.public["start"] == start).all() and not board.public["start"].flags.writeable
        return own

    run(proto(msg), inputs(), seed=0, public={"start": start})
    with pytest.raises(BatchShapeError, match="public field 'start' has batch size 5; inputs have 6"):
        run(proto(msg), inputs(), seed=0, public={"start": np.arange(5)})


# ------------------------------------------------------------- rejections
def test_rejects_a_message_of_s_plus_one_bits():
    def msg(r, i, board, own, coins):
        return np.zeros((board.batch, S + 1 if (r, i) == (1, 2) else S), np.uint8)

    with pytest.raises(MessageTooLong, match=rf"^speaker 2 in round 1 wrote {S + 1} bits; s = {S}$"):
        run(proto(msg), inputs(), seed=0)


@pytest.mark.parametrize("bad, shown", [(2, "2"), (-1, "-1"), (0.5, "0.5"), (255, "255")])
def test_rejects_a_non_binary_value(bad, shown):
    def msg(r, i, board, own, coins):
        out = own.astype(np.float64 if isinstance(bad, float) else np.int64)
        if (r, i) == (0, 1):
            out[3, 2] = bad
        return out

    with pytest.raises(NonBinaryMessage, match=rf"^speaker 1 in round 0 wrote value {shown} at instance 3, bit 2"):
        run(proto(msg), inputs(), seed=0)


def test_uint8_non_binary_value_is_caught_too():
    def msg(r, i, board, own, coins):
        out = own.copy()
        out[-1, -1] = 7
        return out

    with pytest.raises(NonBinaryMessage, match="speaker 0 in round 0 wrote value 7 at instance 5, bit 3"):
        run(proto(msg), inputs(), seed=0)


def test_bool_messages_are_accepted():
    res = run(proto(lambda r, i, board, own, coins: own.astype(bool)), inputs(), seed=0)
    assert res.board.dtype == np.uint8 and set(np.unique(res.board)) <= {0, 1}


@pytest.mark.parametrize(
    "shape, label",
    [((B - 1, S), r"\(5, 4\)"), ((B + 1, S), r"\(7, 4\)"), ((B,), r"\(6,\)"), ((B, S, 1), r"\(6, 4, 1\)")],
)
def test_rejects_a_wrong_batch_size_or_shape(shape, label):
    def msg(r, i, board, own, coins):
        return np.zeros(shape if (r, i) == (1, 0) else (board.batch, S), np.uint8)

    with pytest.raises(
        BatchShapeError, match=rf"^speaker 0 in round 1 returned shape {label}; expected \(B=6, L <= s=4\)"
    ):
        run(proto(msg), inputs(), seed=0)


def test_rejects_missing_or_extra_inputs_and_mismatched_batches():
    p = proto(echo)
    with pytest.raises(InputCountError, match="expected 3 inputs .* got 2 inputs"):
        run(p, inputs()[:2], seed=0)
    with pytest.raises(InputCountError, match="got 4 inputs"):
        run(p, inputs(k=4), seed=0)
    with pytest.raises(InputCountError, match="got an array"):
        run(p, np.zeros((K, B, S), np.uint8), seed=0)
    x = inputs()
    x[2] = x[2][:4]
    with pytest.raises(BatchShapeError, match="input of speaker 2 has batch size 4; speaker 0 has 6"):
        run(p, x, seed=0)
    x = inputs()
    x[1] = np.uint8(1)
    with pytest.raises(BatchShapeError, match="input of speaker 1 has shape \\(\\); inputs need a leading batch axis"):
        run(p, x, seed=0)


def test_rejects_a_bad_output_shape_and_bad_parameters():
    with pytest.raises(BatchShapeError, match=r"test.output returned shape \(\); expected \(6,\)"):
        run(proto(echo, output=lambda last: 0), inputs(), seed=0)
    for kw, label in (({"k": 0}, "k = 0"), ({"R": -1}, "R = -1"), ({"s": 0}, "s = 0"), ({"s": 2.5}, "s = 2.5")):
        args = {"k": K, "R": R, "s": S, **kw}
        with pytest.raises(ProtocolError, match=label):
            FunctionProtocol(args["k"], args["R"], args["s"], echo, lambda last: last[:, 0])


def test_errors_are_value_errors():
    for cls in (MessageTooLong, NonBinaryMessage, BatchShapeError, InputCountError, VisibilityError):
        assert issubclass(cls, ProtocolError) and issubclass(cls, ValueError)


# ------------------------------------------------------------------ coins
def test_public_coins_are_shared_private_coins_are_not():
    def msg(r, i, board, own, coins):
        pub = coins.public.integers(0, 2, (board.batch, 2))
        assert (pub == coins.public.integers(0, 2, (board.batch, 2))).all()  # same string each access
        priv = coins.private.integers(0, 2, (board.batch, 2))
        return np.concatenate([pub, priv], axis=1).astype(np.uint8)

    res = run(proto(msg, R=1), inputs(batch=200), seed=7)
    pub = res.board[:, 0, :, :2]
    priv = res.board[:, 0, :, 2:]
    assert all((pub[:, i] == pub[:, 0]).all() for i in range(K))
    assert not (priv[:, 1] == priv[:, 0]).all() and not (priv[:, 2] == priv[:, 1]).all()
    again = run(proto(msg, R=1), inputs(batch=200), seed=7)
    other = run(proto(msg, R=1), inputs(batch=200), seed=8)
    assert (again.board == res.board).all()
    assert not (other.board == res.board).all()


@pytest.mark.parametrize("name", sorted(LIBRARY))
@pytest.mark.parametrize("version", ["decision", "search"])
def test_same_seed_same_outputs_and_transcripts(name, version):
    pc = PointerChasing(q=16, k=4, version=version, start=None)
    inst = pc.sample(300, seed=3)
    p = LIBRARY[name](pc)
    a = run(p, pc.inputs(inst), seed=11, public=pc.public(inst))
    b = run(p, pc.inputs(inst), seed=11, public=pc.public(inst))
    assert (a.outputs == b.outputs).all() and (a.board == b.board).all() and (a.used == b.used).all()
    assert a.transcript(17) == b.transcript(17) and a.seed == b.seed
    seeded = [run(p, pc.inputs(inst), seed=np.random.SeedSequence(5), public=pc.public(inst)) for _ in range(2)]
    assert (seeded[0].board == seeded[1].board).all()


def test_guess_depends_on_the_seed():
    pc = PointerChasing(q=16, k=3)
    inst = pc.sample(500, seed=0)
    p = LIBRARY["guess"](pc)
    a = run(p, pc.inputs(inst), seed=1, public=pc.public(inst))
    b = run(p, pc.inputs(inst), seed=2, public=pc.public(inst))
    assert not (a.outputs == b.outputs).all()


def test_negative_seed_is_refused():
    with pytest.raises(ValueError, match="seed -1 is negative"):
        run(proto(echo), inputs(), seed=-1)


@settings(max_examples=60, deadline=None)
@given(
    k=st.integers(1, 4),
    R=st.integers(1, 3),
    s=st.integers(1, 12),
    batch=st.integers(1, 5),
    data=st.data(),
)
def test_board_equals_the_padded_messages_for_random_lengths(k, R, s, batch, data):
    """Any mix of silent, short and full messages: every view equals the zero-padded messages."""
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    lengths = data.draw(st.lists(st.integers(0, s), min_size=R * k, max_size=R * k))
    msgs = [rng.integers(0, 2, (batch, n)).astype(np.uint8) for n in lengths]
    padded = np.zeros((batch, R * k, s), np.uint8)
    for m, msg in enumerate(msgs):
        padded[:, m, : lengths[m]] = msg

    def message(r, i, board, own, coins):
        m = r * k + i
        assert (board.messages() == padded[:, :m]).all()
        if m:
            assert (board.last() == padded[:, m - 1]).all()
            j = data.draw(st.integers(0, m - 1))
            assert (board.message(j // k, j % k) == padded[:, j]).all()
        return msgs[m]

    p = FunctionProtocol(k, R, s, message, lambda last: last[:, 0])
    res = run(p, [np.zeros((batch, 1), np.uint8)] * k, seed=0)
    assert (res.board.reshape(batch, R * k, s) == padded).all()
    assert res.used.reshape(-1).tolist() == lengths
    assert (res.outputs == padded[:, -1, 0]).all()
    assert res.max_bits_used == max(lengths) and res.bits_used == sum(lengths)
