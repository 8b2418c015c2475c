"""Isolation modes (docs/definitions.md §1.1): what each guarantees; honest protocols cannot tell them apart."""

from __future__ import annotations

import gc
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from protocols import (
    IsolationError,
    PointerChasing,
    Protocol,
    audit_locality,
    estimate_success,
    run,
)
from protocols.engine import _pcg_state
from protocols.library import LIBRARY
from protocols.sealing import fresh_states, is_sealed, seal
from reductions.compilers.registry import to_protocol
from reductions.compilers.splits import random_boundaries, split_tokens
from reductions.models import MODELS
from reductions.verify import random_tokens

N, VOCAB = 8, 5


def compiled(family: str, seed: int, k: int = 3) -> tuple[Protocol, tuple[int, ...]]:
    layers = 1 if family == "cot" else 2  # the chain-of-thought model has exactly one attention layer
    model = MODELS[family].random(vocab=VOCAB, layers=layers, width=4, precision=10, seed=seed)
    b = random_boundaries(N, k, seed=seed)
    return to_protocol(model, b), b


class Tokens:
    """Random token sequences split for a compiled model; the answer is the model's last output token."""

    def __init__(self, protocol: Protocol, boundaries: tuple[int, ...]) -> None:
        self.k, self.model, self.b = protocol.k, protocol.model, boundaries

    def sample(self, batch, seed=None):
        return random_tokens(VOCAB, batch, N, seed=seed)

    def inputs(self, x):
        return split_tokens(x, self.b)

    def public(self, x):
        return {}

    def answer(self, x):
        return self.model.forward(x)[:, -1]


def same_runs(protocol: Protocol, inputs, seed: int, public=None) -> None:
    a = run(protocol, inputs, seed=seed, public=public)
    b = run(protocol, inputs, seed=seed, public=public, isolation="process")
    assert (a.board == b.board).all() and (a.used == b.used).all()
    assert a.outputs.dtype.kind == b.outputs.dtype.kind and (a.outputs == b.outputs).all()
    assert a.seed == b.seed and (a.k, a.R, a.s, a.name) == (b.k, b.R, b.s, b.name)


# ------------------------------------------------------------- honest protocols
@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=st.sampled_from(sorted(LIBRARY)),
    q=st.sampled_from([4, 9, 16]),
    k=st.integers(2, 4),
    version=st.sampled_from(["decision", "search"]),
    seed=st.integers(0, 2**32),
)
def test_library_protocols_run_identically_in_both_modes(name, q, k, version, seed):
    pc = PointerChasing(q=q, k=k, version=version, start=None)
    inst = pc.sample(24, seed=seed)
    same_runs(LIBRARY[name](pc), pc.inputs(inst), seed, pc.public(inst))


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(family=st.sampled_from(sorted(MODELS)), seed=st.integers(0, 2**16))
def test_compiled_models_run_identically_in_both_modes(family, seed):
    p, b = compiled(family, seed)
    same_runs(p, split_tokens(random_tokens(VOCAB, 16, N, seed=seed + 1), b), seed)


def test_estimates_do_not_depend_on_the_isolation():
    pc = PointerChasing(q=16, k=3)
    p = LIBRARY["sampling"](pc, R=1, s=8)
    a = estimate_success(p, pc, 300, seed=3, batch_size=100)
    b = estimate_success(p, pc, 300, seed=3, batch_size=100, isolation="process")
    assert a == b and 0 < a.successes < 300


@pytest.mark.parametrize("isolation", ["in-process", "process"])
@pytest.mark.parametrize("name", sorted(LIBRARY))
def test_every_library_protocol_passes_the_audit(name, isolation):
    pc = PointerChasing(q=16, k=3)
    report = audit_locality(LIBRARY[name](pc), pc, trials=32, seed=1, isolation=isolation)
    assert report.ok, [str(v) for v in report.violations]
    assert report.isolation == isolation and ("process" in report.checks) == (isolation == "process")


@pytest.mark.parametrize("isolation", ["in-process", "process"])
@pytest.mark.parametrize("family", sorted(MODELS))
def test_every_compiled_model_passes_the_audit(family, isolation):
    p, b = compiled(family, seed=3)
    report = audit_locality(p, Tokens(p, b), trials=16, seed=2, isolation=isolation)
    assert report.ok, [str(v) for v in report.violations]


# ------------------------------------------- what the default engine guarantees
_SEEN: list[tuple] = []


class Recorder(Protocol):
    """Keeps what each speaker is handed (in a global: the test reads it afterwards)."""

    def __init__(self, k: int) -> None:
        super().__init__(k, 2, 3, "recorder")
        self.scratch = np.zeros(4)  # writable: copied per speaker
        self.table = seal(np.arange(1000))  # sealed: shared by every speaker's copy

    def message(self, round, speaker, board, own, coins):
        _SEEN.append((speaker, self, board, own, coins))
        return own[:, :3] & 1

    def output(self, last):
        _SEEN.append(("output", self, last))
        return last[:, 0]


def reachable(roots, depth=8):
    """Objects reachable by references from ``roots``, not entering classes or modules (which are shared)."""
    seen = {id(r): r for r in roots}
    frontier = list(roots)
    for _ in range(depth):
        nxt = []
        for o in frontier:
            refs = gc.get_referents(o)
            if isinstance(o, np.ndarray) and o.base is not None:  # arrays are not gc-tracked: follow .base by hand
                refs.append(o.base)
            for r in refs:
                if id(r) not in seen and not isinstance(r, type | type(sys)) and not callable(r):
                    seen[id(r)] = r
                    nxt.append(r)
        frontier = nxt
    return seen


def test_no_speaker_can_reach_anothers_input_state_coins_or_the_board_store():
    k = 3
    inputs = [np.full((5, 4), i, np.uint8) for i in range(k)]
    p = Recorder(k)
    _SEEN.clear()
    r = run(p, inputs, seed=0)
    (_, out_state, last), = [s for s in _SEEN if s[0] == "output"]
    _SEEN.remove(("output", out_state, last))
    states = {id(s[1]) for s in _SEEN}
    assert len(states) == k and id(p) not in states  # one state per speaker, never the caller's object
    # the output's copy holds the last message alone: nothing it reaches is more of the board
    assert is_sealed(last) and (last == r.message(1, k - 1)).all()
    arrays = [a for a in reachable([out_state, last]).values() if isinstance(a, np.ndarray)]
    assert max(a.size for a in arrays if a.size != p.table.size) == last.size  # the board holds 2 * k * 15 bits
    for speaker, state, board, own, coins in _SEEN:
        assert is_sealed(own) and (own == speaker).all()
        assert all(is_sealed(board.message(m // k, m % k)) for m in range(board.written))
        found = reachable([state, board, own, coins])
        others = [obj for j, *objs in _SEEN if j != speaker for obj in objs]
        forbidden = [r.store, r.store.base, *inputs, p, *others]
        assert not any(id(f) in found for f in forbidden)
        # every array a speaker can reach is sealed, except its own scratch copy (and that copy's base)
        mine = {id(state.scratch), id(state.scratch.base)}
        assert all(is_sealed(a) or id(a) in mine for a in found.values() if isinstance(a, np.ndarray))
        assert state.table is p.table  # read-only data is shared, not copied
        assert state.scratch is not p.scratch


def test_fresh_states_copy_writable_data_and_share_sealed_and_read_only_data():
    p = Recorder(2)
    ro = np.arange(5)
    ro.flags.writeable = False
    p.ro = ro
    a, b = fresh_states(p, 2)
    assert a.table is b.table is p.table and a.scratch is not b.scratch
    assert a.ro is b.ro and is_sealed(a.ro) and (a.ro == ro).all()  # sealed once, shared


@settings(max_examples=50, deadline=None)
@given(entropy=st.integers(0, 2**128 - 1), key=st.lists(st.integers(0, 2**32), max_size=3))
def test_coin_states_are_numpys_pcg64_seeding(entropy, key):
    seq = np.random.SeedSequence(entropy, spawn_key=tuple(key))
    want = np.random.PCG64(seq).state["state"]
    assert _pcg_state(seq) == (want["state"], want["inc"])


# --------------------------------------------------------------- bad input
def test_an_unknown_isolation_is_a_one_line_error():
    pc = PointerChasing(q=4, k=2)
    inst = pc.sample(2, seed=0)
    for call in (
        lambda: run(LIBRARY["guess"](pc), pc.inputs(inst), isolation="thread"),
        lambda: estimate_success(LIBRARY["guess"](pc), pc, 10, isolation="thread"),
        lambda: audit_locality(LIBRARY["guess"](pc), pc, isolation=None),
    ):
        with pytest.raises(IsolationError, match=r"isolation .* is unknown; use one of: in-process, process$"):
            call()


@pytest.mark.parametrize("command", ["run", "audit"])
def test_cli_rejects_an_unknown_isolation_with_exit_2(command):
    res = subprocess.run(
        [sys.executable, "-m", "protocols", command, "--protocol", "guess", "--q", "4", "--k", "2",
         "--isolation", "threads"],
        capture_output=True, text=True, timeout=120,
    )
    assert res.returncode == 2 and len(res.stderr.strip().splitlines()) == 1
    assert "--isolation" in res.stderr and "threads" in res.stderr


def test_cli_runs_and_audits_in_processes():
    res = subprocess.run(
        [sys.executable, "-m", "protocols", "audit", "--protocol", "one-hop-per-round", "--q", "8", "--k", "3",
         "--trials", "8", "--isolation", "process", "--json"],
        capture_output=True, text=True, timeout=300,
    )
    assert res.returncode == 0, res.stderr
    assert '"isolation": "process"' in res.stdout and '"process"' in res.stdout


# ------------------------------------------- recycled board memory (protocols.sealing)
_STASH: list = []


class Stasher(Protocol):
    """Keeps the board view it is handed (a cheat the guarantee does not cover: a global)."""

    def __init__(self) -> None:
        super().__init__(2, 1, 4, "stasher")

    def message(self, round, speaker, board, own, coins):
        _STASH.append(board.messages())
        return own

    def output(self, last):
        return last[:, 0]


def test_board_memory_is_recycled_only_when_nothing_refers_to_it():
    import protocols.sealing as sealing

    inputs = [np.full((3, 4), 1, np.uint8), np.zeros((3, 4), np.uint8)]
    kept = run(Stasher(), inputs, seed=0)  # a Run the caller keeps
    board = kept.board.copy()
    seen = _STASH[-1].copy()  # what speaker 1 saw: speaker 0's ones
    zeros = [np.zeros((3, 4), np.uint8)] * 2
    for _ in range(5):  # same shape again and again: free maps are recycled, these two are not
        run(Stasher(), zeros, seed=0)
    assert (kept.board == board).all() and (_STASH[1] == seen).all() and seen.any()
    n = len(sealing._SPARE_MAPS)
    _STASH.clear()
    del kept
    run(Stasher(), zeros, seed=0)
    assert len(sealing._SPARE_MAPS) <= n  # recycled, not mapped anew
    w, r = sealing.sealed_buffer((3, 2, 4))
    assert not w.any() and not r.any()  # recycled memory reads as zeros


def test_no_map_is_recycled_across_a_fork():
    import multiprocessing

    import protocols.sealing as sealing

    run(Stasher(), [np.zeros((3, 4), np.uint8)] * 2, seed=0)
    _STASH.clear()
    assert sealing._SPARE_MAPS
    p = multiprocessing.get_context("fork").Process(target=int)
    p.start()
    p.join()
    assert sealing._SPARE_MAPS == []  # parent and child share MAP_SHARED memory from here on
