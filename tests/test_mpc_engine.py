"""The MPC engine (docs/definitions.md §9): every limit of Def. 2.3 enforced by name, with tests that try to cheat."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocols.errors import ProtocolError
from protocols.mpc import (
    AddressError,
    IsolationError,
    MachineProgram,
    MemoryLimitExceeded,
    Messages,
    MPCConfigError,
    MPCProgram,
    OutputPlacementError,
    ReceiveLimitExceeded,
    Records,
    RoundLimitExceeded,
    SendLimitExceeded,
    Step,
    WordError,
    collect_output,
    distribute,
    local_slots,
    run_mpc,
)


class Send(MachineProgram):
    """Round 1: machine ``a`` sends ``w`` words to machine ``b`` and keeps ``keep`` words; then halts."""

    name = "send"

    def __init__(self, a, b, w, keep=0):
        self.a, self.b, self.w, self.keep = a, b, w, keep

    def compute(self, ctx, machine, memory):
        send, keep = {}, {}
        if machine == self.a:
            send["m"] = Messages.of(np.full(self.w, machine), self.b, v=np.arange(self.w))
            keep["k"] = Records.of(np.full(self.keep, machine), v=np.zeros(self.keep, np.int64))
        return Step(keep=keep, send=send, halt=True)


class FanIn(MachineProgram):
    """Every machine sends ``w`` words to machine 0."""

    name = "fan-in"

    def __init__(self, w):
        self.w = w

    def compute(self, ctx, machine, memory):
        return Step(send={"m": Messages.of(np.full(self.w, machine), 0, v=np.ones(self.w, np.int64))}, halt=True)


@settings(max_examples=60, deadline=None)
@given(M=st.integers(2, 6), s=st.integers(1, 12), w=st.integers(0, 20), data=st.data())
def test_send_limit_is_exactly_s(M, s, w, data):
    a = data.draw(st.integers(0, M - 1))
    b = data.draw(st.integers(0, M - 1))
    if w <= s:
        r = run_mpc(Send(a, b, w), {}, machines=M, s=s, audit="all")
        assert r.summary()["max_words_sent"] == w == r.summary()["max_words_received"]
        assert len(r.memory["m"]) == w and bool((r.memory["m"].at == b).all())
    else:
        with pytest.raises(SendLimitExceeded) as e:
            run_mpc(Send(a, b, w), {}, machines=M, s=s)
        assert (e.value.round, e.value.machine, e.value.words, e.value.limit) == (1, a, w, s)
        assert f"round 1, machine {a}" in str(e.value)


@settings(max_examples=40, deadline=None)
@given(M=st.integers(2, 8), s=st.integers(1, 10), w=st.integers(1, 10))
def test_receive_limit_is_exactly_s(M, s, w):
    if w > s:
        with pytest.raises(SendLimitExceeded):
            run_mpc(FanIn(w), {}, machines=M, s=s)
    elif M * w > s:
        with pytest.raises(ReceiveLimitExceeded) as e:
            run_mpc(FanIn(w), {}, machines=M, s=s)
        assert (e.value.round, e.value.machine, e.value.words) == (1, 0, M * w)
    else:
        assert run_mpc(FanIn(w), {}, machines=M, s=s).summary()["max_words_received"] == M * w


@settings(max_examples=40, deadline=None)
@given(s=st.integers(1, 10), w=st.integers(0, 10), keep=st.integers(0, 10))
def test_memory_limit_counts_kept_plus_received(s, w, keep):
    prog = Send(0, 0, w, keep)  # a machine messaging itself: kept + received words
    if w > s:
        with pytest.raises(SendLimitExceeded):
            run_mpc(prog, {}, machines=1, s=s)
    elif w + keep > s:
        with pytest.raises(MemoryLimitExceeded) as e:
            run_mpc(prog, {}, machines=1, s=s)
        assert (e.value.round, e.value.machine, e.value.words) == (1, 0, w + keep)
    else:
        assert run_mpc(prog, {}, machines=1, s=s).summary()["max_words_held"] == w + keep


@settings(max_examples=30, deadline=None)
@given(n=st.integers(1, 40), s=st.integers(1, 8), extra=st.integers(0, 3))
def test_input_must_fit(n, s, extra):
    x = distribute(np.arange(n), s)
    assert collect_output(x, n, s).tolist() == list(range(n))  # Def. 2.3 layout round-trips
    wide = Records.of(x.at, a=x["x"], b=x["x"]) if extra else x  # two words per record
    if wide.words(n).max() > s:
        with pytest.raises(MemoryLimitExceeded) as e:
            run_mpc(Send(0, 0, 0), {"x": wide}, machines=-(-n // s), s=s)
        assert e.value.round == 0
    else:
        run_mpc(Send(0, 0, 0), {"x": wide}, machines=-(-n // s), s=s)


class Peek(MPCProgram):
    """Cheater: every machine sends the sum of ALL machines' values (reads memory it was not sent)."""

    name = "peek"

    def step(self, ctx, memory):
        x = memory["x"]
        live = np.unique(x.at)
        total = int(x["x"].sum())
        return Step(send={"y": Messages.of(live, live, y=np.full(live.shape, total))}, halt=True)


class Honest(MPCProgram):
    """Every machine sends the sum of its own values to itself."""

    name = "honest"

    def step(self, ctx, memory):
        x = memory["x"]
        sums = np.bincount(x.at, weights=x["x"], minlength=ctx.machines).astype(np.int64)
        live = np.unique(x.at)
        return Step(send={"y": Messages.of(live, live, y=sums[live])}, halt=True)


class Forge(MPCProgram):
    """Cheater: machine 0 sends its first value in the name of every machine that holds something."""

    name = "forge"

    def step(self, ctx, memory):
        x = memory["x"]
        live = np.unique(x.at)
        v0 = x["x"][x.at == 0]
        return Step(send={"y": Messages.of(live, live, y=np.full(live.shape, int(v0[0]) if v0.size else -1))},
                    halt=True)


class Plant(MPCProgram):
    """Cheater: machine 0's value is planted in every machine's memory without a message."""

    name = "plant"

    def step(self, ctx, memory):
        x = memory["x"]
        v0 = x["x"][x.at == 0]
        live = np.unique(x.at)
        return Step(keep={"y": Records.of(live, y=np.full(live.shape, int(v0[0]) if v0.size else -1))},
                    halt=True)


@settings(max_examples=30, deadline=None)
@given(n=st.integers(4, 30), s=st.integers(1, 5), seed=st.integers(0, 100))
def test_reading_others_memory_is_refused(n, s, seed):
    x = np.random.default_rng(seed).integers(1, 9, n)
    M = -(-n // s)
    mem = {"x": distribute(x, s)}
    r = run_mpc(Honest(), mem, machines=M, s=s, audit="all", seed=seed)
    assert r.memory["y"]["y"].sum() == x.sum()
    if M > 1:
        for cheat in (Peek(), Plant(), Forge()):
            with pytest.raises(IsolationError, match="round 1, machine"):
                run_mpc(cheat, mem, machines=M, s=s, audit="all", seed=seed)


def test_sampled_audit_catches_a_cheater_and_is_deterministic():
    mem = {"x": distribute(np.arange(1, 41), 4)}
    with pytest.raises(IsolationError):
        run_mpc(Peek(), mem, machines=10, s=4, audit=1, seed=3)
    a = run_mpc(Honest(), mem, machines=10, s=4, audit=2, seed=5).summary()
    b = run_mpc(Honest(), mem, machines=10, s=4, audit=2, seed=5).summary()
    assert a == b and a["audited_machine_rounds"] == 2


class ForgeOne(MachineProgram):
    name = "forge-one"

    def __init__(self, what):
        self.what = what

    def compute(self, ctx, machine, memory):
        if self.what == "send":
            return Step(send={"m": Messages.of([machine + 1], 0, v=[1])}, halt=True)
        return Step(keep={"m": Records.of([machine + 1], v=[1])}, halt=True)


@pytest.mark.parametrize("what", ["send", "keep"])
def test_machine_program_cannot_act_for_another_machine(what):
    with pytest.raises(AddressError, match="round 1, machine 0"):
        run_mpc(ForgeOne(what), {}, machines=3, s=4)


class Bad(MPCProgram):
    name = "bad"

    def __init__(self, kind):
        self.kind = kind

    def step(self, ctx, memory):
        if self.kind == "dst":
            return Step(send={"m": Messages.of([0], [ctx.machines], v=[1])}, halt=True)
        if self.kind == "float":
            return Step(send={"m": Messages.of([0], [0], v=np.array([0.5]))}, halt=True)
        if self.kind == "wide":
            return Step(keep={"m": Records.of([0], v=[2**40])}, halt=True)
        return Step()  # never halts


@pytest.mark.parametrize("kind, err", [("dst", AddressError), ("float", WordError), ("wide", WordError),
                                        ("forever", RoundLimitExceeded)])
def test_malformed_steps_are_named(kind, err):
    with pytest.raises(err):
        run_mpc(Bad(kind), {}, machines=2, s=4, word_bits=32, max_rounds=5)
    assert issubclass(err, ProtocolError)


@pytest.mark.parametrize("kw", [dict(machines=0, s=1), dict(machines=1, s=0), dict(machines=1, s=1, word_bits=65),
                                dict(machines=True, s=1), dict(machines=1, s=1, audit=-1)])
def test_bad_configuration(kw):
    with pytest.raises(MPCConfigError):
        run_mpc(Honest(), {}, **kw)


def test_output_placement():
    good = Records.of([0, 0, 1], y=[1, 2, 3])
    assert collect_output(good, 3, 2).tolist() == [1, 2, 3]
    for bad in (Records.of([0, 1, 1], y=[1, 2, 3]), Records.of([0, 0], y=[1, 2]), Records.of([2, 0, 0], y=[1, 2, 3])):
        with pytest.raises(OutputPlacementError):
            collect_output(bad, 3, 2)


def test_per_round_summary_counts_exactly():
    class TwoRounds(MachineProgram):
        name = "two"

        def compute(self, ctx, machine, memory):
            if ctx.round == 1:  # machine i sends i+1 words to machine 0
                return Step(send={"m": Messages.of(np.full(machine + 1, machine), 0, v=np.zeros(machine + 1,
                                                                                                    np.int64))})
            return Step(keep=dict(memory), halt=True)

    r = run_mpc(TwoRounds(), {}, machines=3, s=6, audit="all")
    pr = r.summary()["per_round"]
    assert [p["max_sent"] for p in pr] == [0, 3, 0]
    assert [p["words_sent"] for p in pr] == [0, 6, 0]
    assert [p["max_received"] for p in pr] == [0, 6, 0]
    assert [p["max_held"] for p in pr] == [0, 6, 6]
    assert r.rounds == 2 and r.summary()["total_messages"] == 6


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(0, 5), max_size=40))
def test_local_slots_is_rank_within_machine(at):
    a = np.array(at, dtype=np.int64)
    got = local_slots(a).tolist()
    want = [sum(1 for j in range(i) if at[j] == at[i]) for i in range(len(at))]
    assert got == want


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(-2, 7), max_size=40), st.booleans(), st.sampled_from([np.int32, np.int64]))
def test_counts_and_rows_agree_with_a_full_pass(at, grouped, dtype):
    # the engine's binary-search path for addresses grouped by machine must count exactly as
    # bincount does, and refuse the same addresses with the same message
    from protocols.mpc.engine import _counts, _rows

    a = np.array(sorted(at) if grouped else at, dtype=dtype)
    M = 6
    bad = [v for v in a.tolist() if v < 0 or v >= M]
    if bad:
        with pytest.raises(AddressError, match=f"sender {bad[0]} is not a machine"):
            _counts("sender", 1, a, M)
    else:
        assert _counts("sender", 1, a, M).tolist() == np.bincount(a.astype(np.int64), minlength=M).tolist()
    for i in range(-1, M + 1):
        assert _rows(a, i).tolist() == [j for j, v in enumerate(a.tolist()) if v == i]
