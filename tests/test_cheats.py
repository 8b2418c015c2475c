"""A catalogue of cheating protocols: each is impossible (a named error) or caught (docs/definitions.md §1.1).

Pointer chasing with q = 16, k = 3, one round of one bit (R = 1 < k): an honest
protocol cannot beat 1/2 by much, but every cheat below reached 1.0 on the
engine of version 0.1.  Each test shows the cheat either raises a named
:class:`~protocols.ProtocolError` during the run, or is flagged by
:func:`~protocols.audit_locality` with the reason — and that with process
isolation its success is back at chance.  The cheats are module-level classes
so that speaker processes can import them.
"""

from __future__ import annotations

import gc
import os
import sys

import numpy as np
import pytest

import protocols.engine as engine
from protocols import (
    Coins,
    PointerChasing,
    Protocol,
    SealedWriteError,
    SpeakerError,
    TamperingError,
    audit_locality,
    estimate_success,
    run,
)

Q, K = 16, 3
PC = PointerChasing(q=Q, k=K)
TRIALS = 200


def chase(layers: dict[int, np.ndarray], start: np.ndarray) -> np.ndarray:
    """The class of v_{k+1} from ``{layer j: (B, q) array}`` (needs all k layers)."""
    v = start.astype(np.int64)
    rows = np.arange(len(v))
    for j in range(1, K + 1):
        v = layers[j][rows, v].astype(np.int64)
    return PC.class_array[v].astype(np.uint8)[:, None]


def guess(board) -> np.ndarray:
    return np.zeros((board.batch, 1), np.uint8)


class Cheat(Protocol):
    """R = 1, s = 1; only the last speaker writes (the answer bit), unless a cheat says otherwise."""

    def __init__(self) -> None:
        super().__init__(K, 1, 1, type(self).__name__)

    def output(self, last):
        return last[:, 0].astype(np.int64)


def at_chance(isolation: str, protocol: Protocol) -> bool:
    est = estimate_success(protocol, PC, TRIALS, seed=5, isolation=isolation)
    return est.ci_low < 0.5 < est.ci_high or est.rate < 0.5


def flagged(protocol: Protocol, isolation: str = "in-process") -> set[str]:
    report = audit_locality(protocol, PC, trials=64, seed=2, isolation=isolation)
    assert report.ok is not bool(report.violations)
    return {v.check for v in report.violations}


# ----------------------------------------------------------------- 1. the instance
class TamperInstance(Cheat):
    """Speaker 0 holds E_k: point every vertex at vertex q-1 (class 1), then answer 1."""

    def message(self, round, speaker, board, own, coins):
        if speaker == 0:
            own[...] = Q - 1
        return np.ones((board.batch, 1), np.uint8)


class UnsealInput(Cheat):
    """The same through the back door: make the array writable again, or write its .base."""

    def message(self, round, speaker, board, own, coins):
        base = own
        while isinstance(base.base, np.ndarray):
            base = base.base
        base.flags.writeable = True
        base[...] = Q - 1
        return np.ones((board.batch, 1), np.uint8)


@pytest.mark.parametrize("isolation", ["in-process", "process"])
@pytest.mark.parametrize("cheat", [TamperInstance, UnsealInput])
def test_writing_the_instance_is_impossible(cheat, isolation):
    inst = PC.sample(32, seed=0)
    before = [layer.copy() for layer in inst.layers]
    error = SealedWriteError if isolation == "in-process" else SpeakerError
    with pytest.raises(error, match=r"speaker 0.*round 0.*(read-only|WRITEABLE)"):
        run(cheat(), PC.inputs(inst), seed=1, public=PC.public(inst), isolation=isolation)
    assert all((a == b).all() for a, b in zip(before, inst.layers, strict=True))


def test_a_users_writable_inputs_are_copied_not_handed_over():
    inst = PC.sample(8, seed=0)
    mine = [np.array(x) for x in PC.inputs(inst)]  # writable
    with pytest.raises(SealedWriteError):
        run(TamperInstance(), mine, seed=1, public=PC.public(inst))
    assert all((a == b).all() for a, b in zip(mine, PC.inputs(inst), strict=True))


# ------------------------------------------------------------- 2. stash in self
class StashInSelf(Cheat):
    """Every speaker copies its input into self; the last chases the whole graph from the copies."""

    def __init__(self) -> None:
        super().__init__()
        self.stash: dict[int, np.ndarray] = {}

    def message(self, round, speaker, board, own, coins):
        self.stash[PC.layer_of(speaker)] = np.array(own)
        if len(self.stash) == K:
            return chase(self.stash, board.public["start"])
        return guess(board)


@pytest.mark.parametrize("isolation", ["in-process", "process"])
def test_stash_in_self_stays_with_each_speaker(isolation):
    assert at_chance(isolation, StashInSelf())


# ------------------------------------------- 3. an output that ignores the message
class OutputFromSelf(StashInSelf):
    """Speakers stash their inputs in self, and output() chases from the stash."""

    def output(self, last):
        if len(self.stash) < K:
            return np.zeros(len(last), np.int64)
        return chase(self.stash, self.start)[:, 0].astype(np.int64)

    def message(self, round, speaker, board, own, coins):
        self.start = board.public["start"]
        self.stash[PC.layer_of(speaker)] = np.array(own)
        return guess(board)


@pytest.mark.parametrize("isolation", ["in-process", "process"])
def test_output_runs_on_a_state_that_saw_only_the_last_message(isolation):
    assert at_chance(isolation, OutputFromSelf())


_OUTPUT_STASH: dict[int, np.ndarray] = {}


class OutputFromGlobal(Cheat):
    """Speakers leave their inputs in a module global; output() chases from there."""

    def message(self, round, speaker, board, own, coins):
        _OUTPUT_STASH[PC.layer_of(speaker)] = np.array(own)
        _OUTPUT_STASH[0] = np.array(board.public["start"])
        return guess(board)

    def output(self, last):
        if len(_OUTPUT_STASH) < K + 1:
            return np.zeros(len(last), np.int64)
        return chase(_OUTPUT_STASH, _OUTPUT_STASH[0])[:, 0].astype(np.int64)


def test_an_output_from_a_global_is_flagged_and_fails_in_processes():
    assert flagged(OutputFromGlobal()) == {"output"}
    assert "process" in flagged(OutputFromGlobal(), "process")
    assert at_chance("process", OutputFromGlobal())


# ------------------------------------------------------------ 4. rewriting history
class RewriteHistory(Cheat):
    """Speaker 1 overwrites speaker 0's message (more than s bits per turn)."""

    def message(self, round, speaker, board, own, coins):
        if speaker == 1:
            board.message(0, 0)[:, 0] = True
        return guess(board)


class RewriteThroughMessages(Cheat):
    """... or through the stacked board, after turning its WRITEABLE flag back on."""

    def message(self, round, speaker, board, own, coins):
        if speaker == 2:
            m = board.messages()
            m.flags.writeable = True
            m[...] = True
            blocks = object.__getattribute__(board, "_blocks")
            blocks[0][...] = True
        return guess(board)


@pytest.mark.parametrize("isolation", ["in-process", "process"])
def test_the_board_cannot_be_rewritten(isolation):
    inst = PC.sample(16, seed=0)
    error = SealedWriteError if isolation == "in-process" else SpeakerError
    with pytest.raises(error, match=r"speaker 1 in round 0"):
        run(RewriteHistory(), PC.inputs(inst), seed=1, public=PC.public(inst), isolation=isolation)
    with pytest.raises(error, match=r"speaker 2 in round 0"):
        run(RewriteThroughMessages(), PC.inputs(inst), seed=1, public=PC.public(inst), isolation=isolation)


# ---------------------------------------------------------- 5. others' private coins
def reachable(obj, depth=6):
    """Objects reachable from ``obj`` through references (not through classes or modules)."""
    seen, frontier = {id(obj): obj}, [obj]
    for _ in range(depth):
        nxt = []
        for o in frontier:
            for r in gc.get_referents(o):
                if id(r) not in seen and not isinstance(r, type | type(sys)):
                    seen[id(r)] = r
                    nxt.append(r)
        frontier = nxt
    return list(seen.values())


class OthersCoins(Cheat):
    """Speaker 0 writes its input bit XOR a private coin; the last speaker rebuilds speaker 0's
    private coins from the seed it digs out of its own Coins object, and unmasks it."""

    def message(self, round, speaker, board, own, coins):
        v = board.public["start"].astype(np.int64)
        pad = coins.private.integers(0, 2, board.batch).astype(np.uint8)
        if speaker == 0:
            return ((own[np.arange(board.batch), v] & 1) ^ pad)[:, None].astype(np.uint8)
        seeds = [o for o in reachable(coins) if isinstance(o, np.random.SeedSequence)]
        if speaker == K - 1 and seeds:
            root = seeds[0]
            theirs = np.random.default_rng(np.random.SeedSequence(root.entropy, spawn_key=(1, 0)))
            return board.message(0, 0).astype(np.uint8) ^ theirs.integers(0, 2, board.batch)[:, None]
        return guess(board)


def test_coins_hold_no_seed_and_no_one_elses_coins():
    public_state, private = engine.coin_states(np.random.SeedSequence(7), [0, 1])
    coins = Coins(public_state, private[0], 0)
    found = reachable(coins)
    assert not any(isinstance(o, np.random.SeedSequence | np.random.BitGenerator) for o in found)
    assert all(o is not private[1] for o in found)
    # the same strings as before sealing: public from child_seed(root, 0), private from (root, 1, i)
    root = np.random.SeedSequence(7)
    want = np.random.default_rng(np.random.SeedSequence(root.entropy, spawn_key=(1, 0))).integers(0, 9, 5)
    assert (coins.private.integers(0, 9, 5) == want).all()


def test_rebuilding_another_speakers_coins_fails():
    inst = PC.sample(256, seed=0)
    r = run(OthersCoins(), PC.inputs(inst), seed=1, public=PC.public(inst))
    assert (r.board[:, 0, K - 1] == 0).all()  # it found no seed and fell back to its guess


# ----------------------------------------------------------------- 6. a global
_STASH: dict[int, np.ndarray] = {}


class GlobalStash(Cheat):
    """Speakers leave their inputs in a module global; the last speaker chases from it."""

    def message(self, round, speaker, board, own, coins):
        if speaker == 0:  # a new run
            _STASH.clear()
        _STASH[PC.layer_of(speaker)] = np.array(own)
        if len(_STASH) == K:
            return chase(_STASH, board.public["start"])
        return guess(board)


def test_a_global_is_flagged_in_process_and_useless_in_processes():
    assert estimate_success(GlobalStash(), PC, TRIALS, seed=5).rate == 1.0  # the in-process leak is real
    assert flagged(GlobalStash()) == {"state"}
    assert {"process", "state"} <= flagged(GlobalStash(), "process")
    assert at_chance("process", GlobalStash())


# ------------------------------------------------------------- 7. frame walking
class FrameWalker(Cheat):
    """The last speaker walks up the call stack to the engine's list of every speaker's input."""

    def message(self, round, speaker, board, own, coins):
        if speaker == K - 1:
            frame = sys._getframe()
            while frame is not None:
                inputs = frame.f_locals.get("own")
                if isinstance(inputs, list) and len(inputs) == K:
                    layers = {PC.layer_of(i): x for i, x in enumerate(inputs)}
                    return chase(layers, board.public["start"])
                frame = frame.f_back
        return guess(board)


def test_frame_walking_is_flagged_and_fails_in_processes():
    assert estimate_success(FrameWalker(), PC, TRIALS, seed=5).rate == 1.0
    assert "input" in flagged(FrameWalker())
    assert at_chance("process", FrameWalker())


# ------------------------------------------------------ 8. monkey-patching the engine
class PatchEngine(Cheat):
    """Speaker 0 disables the message check, then speaker 1 writes its whole input."""

    def message(self, round, speaker, board, own, coins):
        if speaker == 0:
            engine._check_message = lambda msg, *rest: np.asarray(msg)
            return guess(board)
        return (own[:, :8] & 1).astype(np.uint8)


@pytest.mark.parametrize("isolation", ["in-process", "process"])
def test_patching_the_engine_is_stopped(isolation, monkeypatch):
    monkeypatch.setattr(engine, "_check_message", engine._check_message)  # restored after the test
    inst = PC.sample(16, seed=0)
    if isolation == "in-process":
        with pytest.raises(TamperingError, match=r"speaker 0 in round 0 rebound protocols.engine._check_message"):
            run(PatchEngine(), PC.inputs(inst), seed=1, public=PC.public(inst))
    else:  # the patch lands in speaker 0's process; the coordinator's check is intact
        with pytest.raises(engine.MessageTooLong, match="speaker 1 in round 0 wrote 8 bits"):
            run(PatchEngine(), PC.inputs(inst), seed=1, public=PC.public(inst), isolation="process")


class PatchClass(Cheat):
    """A class attribute as a channel: speaker 0 hangs its input on the protocol's class."""

    def message(self, round, speaker, board, own, coins):
        if speaker == 0:
            type(self).loot = np.array(own)
        return guess(board)


def test_a_class_attribute_channel_is_stopped():
    inst = PC.sample(16, seed=0)
    try:
        with pytest.raises(TamperingError, match=r"speaker 0 in round 0 rebound PatchClass.loot"):
            run(PatchClass(), PC.inputs(inst), seed=1, public=PC.public(inst))
    finally:
        if "loot" in vars(PatchClass):
            del PatchClass.loot


# ------------------------------------------------------- 9. monkey-patching the problem
class PatchProblem(Cheat):
    """Make the problem's answer always 0, and answer 0."""

    def message(self, round, speaker, board, own, coins):
        PointerChasing.answer = lambda self, inst: np.zeros(inst.batch, np.int64)
        return guess(board)


def test_patching_the_problem_is_stopped(monkeypatch):
    original = PointerChasing.answer
    monkeypatch.setattr(PointerChasing, "answer", original)  # restored after the test, whatever happens
    with pytest.raises(TamperingError, match=r"chunk 0 rebound PointerChasing.answer"):
        estimate_success(PatchProblem(), PC, TRIALS, seed=5, batch_size=50)
    PointerChasing.answer = original
    assert at_chance("process", PatchProblem())  # the patch lands in a speaker's process only


# ----------------------------------------------- 10. references held from run to run
_HELD: list = []


class HoldOn(Cheat):
    """Speaker 2 keeps the board and its input of one run, and writes into them during the next."""

    def message(self, round, speaker, board, own, coins):
        if speaker == K - 1:
            if _HELD:
                old_board, old_own = _HELD.pop()
                old_board.last()[...] = True
                old_own[...] = 0
            _HELD.append((board, own))
        return guess(board)


class Counter(Cheat):
    """A message that depends on how often the protocol ran before (state carried between runs)."""

    calls = [0]

    def message(self, round, speaker, board, own, coins):
        self.calls[0] += 1
        return np.full((board.batch, 1), self.calls[0] % 2, np.uint8)


def test_references_from_an_earlier_run_are_read_only():
    inst = PC.sample(16, seed=0)
    _HELD.clear()
    run(HoldOn(), PC.inputs(inst), seed=1, public=PC.public(inst))
    assert len(_HELD) == 1
    with pytest.raises(SealedWriteError, match="speaker 2 in round 0"):
        run(HoldOn(), PC.inputs(inst), seed=2, public=PC.public(inst))
    _HELD.clear()


def test_state_carried_between_runs_is_flagged():
    assert "state" in flagged(Counter())


# ------------------------------------------------------------- 11. pickling tricks
_ONE: dict = {}


class SharedCopies(StashInSelf):
    """Every 'copy' unpickles to one shared object, so self is shared after all."""

    def __reduce__(self):
        return (_the_one, ())


def _the_one() -> SharedCopies:
    if "p" not in _ONE:
        _ONE["p"] = object.__new__(SharedCopies)
        Protocol.__init__(_ONE["p"], K, 1, 1, "SharedCopies")
        _ONE["p"].stash = {}
    _ONE["p"].stash.clear() if len(_ONE["p"].stash) == K else None
    return _ONE["p"]


def test_a_protocol_that_unpickles_to_one_shared_object_is_flagged():
    p = SharedCopies()
    assert estimate_success(p, PC, TRIALS, seed=5).rate > 0.9  # the trick works in one process...
    assert "state" in flagged(p)  # ...and the audit sees it
    assert at_chance("process", p)  # separate processes defeat it


class PoisonedReply(Cheat):
    """In its own process, a speaker returns an object whose unpickling would run code."""

    def message(self, round, speaker, board, own, coins):
        class Boom:
            def __reduce__(self):
                return (os.system, ("echo pwned",))

        return np.array([[Boom()]] * board.batch, dtype=object)


def test_a_worker_cannot_send_back_anything_but_numbers():
    inst = PC.sample(4, seed=0)
    with pytest.raises(SpeakerError, match=r"speaker 0 in round 0 raised TypeError.*dtype object"):
        run(PoisonedReply(), PC.inputs(inst), seed=1, public=PC.public(inst), isolation="process")


class Suicide(Cheat):
    def message(self, round, speaker, board, own, coins):
        if speaker == 1:
            os._exit(3)
        return guess(board)


def test_a_speaker_process_that_dies_is_a_named_error():
    inst = PC.sample(4, seed=0)
    with pytest.raises(SpeakerError, match=r"speaker 1's process died in round 0"):
        run(Suicide(), PC.inputs(inst), seed=1, public=PC.public(inst), isolation="process")
