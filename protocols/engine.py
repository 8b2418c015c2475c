"""The blackboard engine: run a (k, R, s) protocol on a batch (docs/definitions.md §1, [SHT24] Def. E.1).

k speakers, indexed ``0..k-1`` in speaking order, speak once each per round for
R rounds.  A speaker sees only the board so far (read-only), its own input and
its coins, and writes at most ``s`` bits; shorter messages are zero-padded to
``s`` (length never carries information).  After R rounds the protocol's
:meth:`Protocol.output` decodes the answer from the last message of the last
speaker — nothing else decides it.

The engine alone calls players, validates, pads and stores messages and counts
bits.  Everything is batched: inputs carry a leading batch axis ``B``.

Sealed players (docs/definitions.md §1.1).  ``run(..., isolation=...)`` keeps
speakers apart in one of two ways; an honest protocol gets the same outputs and
board from both, bit for bit.

``"in-process"`` (default; :class:`LocalSession`) — by construction, against
reference chains.  Inputs, public data and every board message reach a speaker
as *sealed* arrays (immutable memory: a write raises :class:`SealedWriteError`
naming speaker and round, and ``.base`` leads to nothing writable); the board
store is never handed out.  Every speaker that speaks gets its own copy of the
protocol object per run, and :meth:`Protocol.output` runs on a fresh copy that
has seen only the last message; read-only arrays (model weights) are shared
between the copies, sealed.  :class:`Coins` hold generator states, never the
seed.  A name rebound in this module or in the protocol's classes during a
turn raises :class:`TamperingError`.  Guaranteed: nothing reachable by
references from what a speaker is handed (input, board view, coins, its copy)
is another speaker's input, state or coins, the instance or the board store.
*Not* guaranteed in one process: module globals, closures, mutable class
attributes, the call stack, ``gc`` and ``ctypes`` stay reachable — the audit
(:func:`protocols.audit_locality`) catches protocols that use them.

``"process"`` (:class:`protocols.workers.ProcessSession`) — every speaker, and
the output, in its own OS process that receives only its input, its coins,
the public data and the board's bits, and returns only its message's bytes;
no protocol code runs in the caller's process.  This defeats globals, frames
and patching too.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np

from protocols.validation import check_int

from .errors import (
    BatchShapeError,
    InputCountError,
    IsolationError,
    MessageTooLong,
    NonBinaryMessage,
    ProtocolError,
    SealedWriteError,
    VisibilityError,
)
from .lazy_input import LazyInput
from .sealing import NamespaceGuard, fresh_states, seal, sealed_buffer
from .seeding import Seed, as_seed_sequence, child_seed
from .transcript import Transcript

__all__ = [
    "Protocol", "FunctionProtocol", "BoardView", "Coins", "Run", "run",
    "Session", "LocalSession", "ISOLATION", "open_session", "replay_speaker", "coin_states",
]


class Protocol(abc.ABC):
    """A k-party sequential blackboard protocol with R rounds of s-bit messages.

    Subclasses implement :meth:`message` and :meth:`output`; both are vectorised
    over the batch.  A protocol must be a pure function of what the engine
    hands it (board, own input, coins): :func:`protocols.audit_locality` checks.
    Every speaker runs on its own copy of the object and :meth:`output` on a
    fresh one (docs/definitions.md §1.1), so a protocol must pickle; what it
    keeps in ``self`` during a run is its speaker's alone, and arrays it holds
    read-only are shared between the copies instead of copied.

    Examples
    --------
    >>> import numpy as np
    >>> from protocols import run
    >>> class Parity(Protocol):
    ...     '''Each speaker adds its bit to the running parity on the board.'''
    ...     def __init__(self, k):
    ...         super().__init__(k=k, R=1, s=1, name="parity")
    ...     def message(self, round, speaker, board, own, coins):
    ...         prev = board.last() if board.written else np.zeros((board.batch, 1), np.uint8)
    ...         return prev ^ own[:, :1]
    ...     def output(self, last):
    ...         return last[:, 0]
    >>> x = [np.array([[1], [0]], np.uint8), np.array([[1], [1]], np.uint8)]
    >>> run(Parity(2), x, seed=0).outputs.tolist()
    [0, 1]
    """

    def __init__(self, k: int, R: int, s: int, name: str | None = None) -> None:
        self.k, self.R, self.s = (check_int(n, v, low=1, error=ProtocolError)
                                  for n, v in (("k", k), ("R", R), ("s", s)))
        self.name = name or type(self).__name__

    @abc.abstractmethod
    def message(self, round: int, speaker: int, board: BoardView, own: np.ndarray, coins: Coins) -> np.ndarray:
        """Bits ``(B, L)`` with ``L <= s`` that ``speaker`` writes in ``round`` (0-based)."""

    @abc.abstractmethod
    def output(self, last: np.ndarray) -> np.ndarray:
        """Decode the answer ``(B,)`` from the last speaker's last message ``(B, s)``."""

    def speaks(self, round: int, speaker: int) -> bool:
        """Whether ``speaker`` writes anything in ``round`` (default: always).

        A protocol whose silent turns are fixed in advance (they may depend on
        k, R and s only, never on inputs, board or coins) may say so; the engine
        then writes the empty message (s zeros) without calling :meth:`message`.
        """
        return True

    def __repr__(self) -> str:
        return f"{self.name}(k={self.k}, R={self.R}, s={self.s})"


class FunctionProtocol(Protocol):
    """A protocol from two plain functions (handy for one-off or teaching protocols).

    Examples
    --------
    >>> import numpy as np
    >>> p = FunctionProtocol(1, 1, 2, lambda r, i, board, own, coins: own,
    ...                      lambda last: last[:, 0] * 2 + last[:, 1])
    >>> run(p, [np.array([[1, 0]], np.uint8)], seed=0).outputs.tolist()
    [2]
    """

    def __init__(
        self,
        k: int,
        R: int,
        s: int,
        message: Callable[..., np.ndarray],
        output: Callable[[np.ndarray], np.ndarray],
        name: str | None = None,
    ) -> None:
        super().__init__(k, R, s, name or getattr(message, "__name__", "function"))
        self._message, self._output = message, output

    def message(self, round, speaker, board, own, coins):
        return self._message(round, speaker, board, own, coins)

    def output(self, last):
        return self._output(last)


class Coins:
    """Public and private randomness of one speaker, derived from the run's seed.

    ``public`` is the one random string every player sees; ``private`` is this
    speaker's own string.  Each access returns a *new* generator positioned at
    the start of the same string, so two players drawing the same way from
    ``public`` draw the same values.

    A Coins object holds only the two generator states (plain integers), never
    the run's seed: from it no one can rebuild another speaker's private coins.
    """

    __slots__ = ("_public", "_private", "speaker")

    def __init__(self, public: tuple[int, int], private: tuple[int, int], speaker: int):
        self._public, self._private, self.speaker = public, private, speaker

    @property
    def public(self) -> np.random.Generator:
        return _generator(self._public)

    @property
    def private(self) -> np.random.Generator:
        return _generator(self._private)


#: Seeds the throw-away bit generator whose state :func:`_generator` then overwrites.
_BLANK = np.random.SeedSequence(0)


def _generator(state: tuple[int, int]) -> np.random.Generator:
    bg = np.random.PCG64(_BLANK)
    bg.state = {"bit_generator": "PCG64", "state": {"state": state[0], "inc": state[1]}, "has_uint32": 0, "uinteger": 0}
    return np.random.Generator(bg)


_PCG_MULT, _MASK128 = 0x2360ED051FC65DA44385DF649FCCF645, (1 << 128) - 1


def _pcg_state(seed: np.random.SeedSequence) -> tuple[int, int]:
    """``PCG64(seed).state`` as ``(state, inc)``, without building the bit generator.

    PCG64 seeds from four words of ``seed.generate_state`` (initstate, initseq,
    high word first) by O'Neill's ``pcg_setseq_128_srandom_r``; this is that
    arithmetic, checked against numpy in tests/test_isolation.py.
    """
    w = [int(x) for x in seed.generate_state(4, np.uint64)]
    initstate, initseq = (w[0] << 64) | w[1], (w[2] << 64) | w[3]
    inc = ((initseq << 1) | 1) & _MASK128
    state = (inc + initstate) & _MASK128  # step from 0: state = 0 * mult + inc; then += initstate
    return (state * _PCG_MULT + inc) & _MASK128, inc


def coin_states(root: np.random.SeedSequence, speakers: Sequence[int]) -> tuple[tuple[int, int], dict]:
    """Generator states of the public string and of ``speakers``' private strings.

    The strings are those of ``default_rng(child_seed(root, 0))`` (public) and
    ``default_rng(child_seed(root, 1, i))`` (speaker i), derived eagerly so that
    no speaker ever holds ``root``.
    """
    return _pcg_state(child_seed(root, 0)), {i: _pcg_state(child_seed(root, 1, i)) for i in speakers}


class BoardView:
    """The board as one speaker sees it before its turn.

    Messages come as sealed ``bool`` arrays ``(B, s)`` (views of the board's
    read-only memory, see :func:`protocols.sealing.sealed_buffer`): the engine
    checked every bit when it was written, so codecs decode them without
    re-checking, and nothing a speaker does to them changes the board.

    Messages are numbered in speaking order ``m = round * k + speaker``; only
    ``m < written`` are visible.  ``public`` holds data known to every player
    before the protocol starts (e.g. the pointer-chasing start vertex), as a
    read-only mapping of sealed arrays.  Every view costs O(1): ``board`` is the
    whole sealed board ``(R*k, B, s)``, whose messages from ``written`` on are
    still zeros.
    """

    __slots__ = ("_board", "written", "k", "R", "s", "public", "batch")

    def __init__(self, board: np.ndarray, written: int, k: int, R: int, s: int,
                 public: Mapping[str, np.ndarray], batch: int):
        self._board, self.written, self.k, self.R, self.s = board, written, k, R, s
        self.public, self.batch = public, batch

    def message(self, round: int, speaker: int) -> np.ndarray:
        """The ``(B, s)`` bits ``speaker`` wrote in ``round``; raises if not yet written."""
        if not (0 <= speaker < self.k and 0 <= round < self.R):
            raise VisibilityError(
                f"no message (round {round}, speaker {speaker}) in a protocol with R={self.R}, k={self.k}"
            )
        m = round * self.k + speaker
        if m >= self.written:
            raise VisibilityError(
                f"message of speaker {speaker} in round {round} is not on the board yet "
                f"({self.written} messages written); speakers see only earlier messages"
            )
        return self._board[m]

    def messages(self) -> np.ndarray:
        """All visible messages, ``(B, written, s)``, in speaking order (a sealed view, not a copy)."""
        return self._board[: self.written].transpose(1, 0, 2)

    def last(self) -> np.ndarray:
        """The most recent message ``(B, s)``."""
        if not self.written:
            raise VisibilityError("the board is empty; there is no last message")
        return self._board[self.written - 1]


def _check_message(msg: Any, round: int, speaker: int, batch: int, s: int) -> np.ndarray:
    if type(msg) is not np.ndarray:
        msg = np.asarray(msg)
    if msg.ndim != 2 or msg.shape[0] != batch:
        raise BatchShapeError(
            f"speaker {speaker} in round {round} returned shape {msg.shape}; expected (B={batch}, L <= s={s})"
        )
    if msg.shape[1] > s:
        raise MessageTooLong(f"speaker {speaker} in round {round} wrote {msg.shape[1]} bits; s = {s}")
    if msg.size == 0 or msg.dtype == np.bool_:
        return msg
    if msg.dtype.kind == "u":
        ok = msg.max() <= 1  # one pass instead of two comparisons for the common dtype
    else:
        ok = not ((msg != 0) & (msg != 1)).any()
    if not ok:
        bad = (msg != 0) & (msg != 1)
        b, j = np.argwhere(bad)[0]
        raise NonBinaryMessage(
            f"speaker {speaker} in round {round} wrote value {msg[b, j].item()!r} at instance {b}, "
            f"bit {j}; messages are bits (0 or 1)"
        )
    return msg


def _readonly(a: np.ndarray) -> np.ndarray:
    v = a.view()
    v.flags.writeable = False
    return v


def _check_inputs(inputs: Sequence[Any], k: int) -> tuple[list[np.ndarray], int]:
    """Validate the k inputs and seal each one (arrays already sealed, e.g. sampled instances, are not copied)."""
    if isinstance(inputs, np.ndarray) or len(inputs) != k:
        n = "an array" if isinstance(inputs, np.ndarray) else f"{len(inputs)} inputs"
        raise InputCountError(f"expected {k} inputs (one per speaker, a list of arrays), got {n}")
    # A lazy input (drawn on first read, docs/definitions.md §2.1) is its holder's own object: passed as is.
    arrays = [x if isinstance(x, LazyInput) else np.asarray(x) for x in inputs]
    for i, x in enumerate(arrays):
        if x.ndim < 1:
            raise BatchShapeError(f"input of speaker {i} has shape {x.shape}; inputs need a leading batch axis")
        if x.shape[0] != arrays[0].shape[0]:
            raise BatchShapeError(
                f"input of speaker {i} has batch size {x.shape[0]}; speaker 0 has {arrays[0].shape[0]}"
            )
    # Sealed: no write reaches the caller's arrays, and .base leads to nothing writable or shared.
    # A lazy input (docs/definitions.md §2.1) goes to its holder unchanged: it is that holder's alone.
    return [x if isinstance(x, LazyInput) else seal(x) for x in arrays], arrays[0].shape[0]


def _check_public(public: Mapping[str, Any] | None, batch: int) -> dict[str, np.ndarray]:
    out = {}
    for key, value in (public or {}).items():
        v = np.asarray(value)
        if v.ndim and v.shape[0] != batch:
            raise BatchShapeError(f"public field {key!r} has batch size {v.shape[0]}; inputs have {batch}")
        out[key] = seal(v)
    return out


def _seed_record(seed: np.random.SeedSequence) -> dict[str, Any]:
    return {"entropy": str(seed.entropy), "spawn_key": [int(x) for x in seed.spawn_key]}


def _seed_from_record(rec: Mapping[str, Any]) -> np.random.SeedSequence:
    return np.random.SeedSequence(int(rec["entropy"]), spawn_key=tuple(rec["spawn_key"]))


@dataclass(frozen=True, eq=False)
class Run:
    """The result of :func:`run` on a batch.

    Attributes
    ----------
    outputs : (B,) array — the protocol's answers.
    board : (B, R, k, s) uint8 — every message, padded to s, read-only (a property:
        a view of the message-major ``store`` ``(R*k, B, s)``, so ``board[:, r, i]``
        is contiguous).
    used : (R, k) int — bits each speaker actually wrote before padding.
    """

    name: str
    k: int
    R: int
    s: int
    outputs: np.ndarray
    store: np.ndarray = field(repr=False)
    used: np.ndarray
    seed: dict = field(repr=False)

    @property
    def board(self) -> np.ndarray:
        R, k = self.R, self.k
        return _readonly(self.store).reshape(R, k, self.batch, self.s).transpose(2, 0, 1, 3)

    @property
    def batch(self) -> int:
        return self.store.shape[1]

    @property
    def bits_written(self) -> int:
        """Bits on the board per instance: ``k * R * s``."""
        return self.k * self.R * self.s

    @property
    def bits_used(self) -> int:
        """Bits per instance that speakers wrote before padding."""
        return int(self.used.sum())

    @property
    def max_bits_used(self) -> int:
        """The longest message any speaker wrote before padding."""
        return int(self.used.max())

    def message(self, round: int, speaker: int) -> np.ndarray:
        """``(B, s)`` bits of one message."""
        if not (0 <= round < self.R and 0 <= speaker < self.k):
            raise IndexError(f"no message (round {round}, speaker {speaker}) in a run with R={self.R}, k={self.k}")
        return _readonly(self.store[round * self.k + speaker])

    def transcript(self, b: int) -> Transcript:
        """The transcript of instance ``b`` (see :class:`protocols.Transcript`)."""
        return Transcript.from_run(self, b)


def _drive(
    name: str,
    shape: tuple[int, int, int, int],
    silent: Sequence[bool],
    message: Callable[[int, int, np.ndarray, int], Any],
    output: Callable[[np.ndarray], Any],
    root: np.random.SeedSequence,
) -> Run:
    """The engine proper: ask each speaker in turn, check, pad and store its message, then decode.

    ``message(round, speaker, board, written)`` returns what the speaker wrote
    given the sealed board ``(R*k, B, s)`` (bool) of which the first ``written``
    messages are on it so far; ``output(last)`` what the protocol decodes from
    a sealed copy of the last message.  Whatever runs the speakers (this process
    or others), the rules are enforced here.
    """
    k, R, s, batch = shape
    # message-major: one message is one contiguous block; the memory starts zeroed, so a
    # silent or short message needs no padding write, and each block is written once
    store, sealed = sealed_buffer((R * k, batch, s))
    board = sealed.view(np.bool_)
    used = np.zeros((R, k), dtype=np.int64)
    for r in range(R):
        for i in range(k):
            m = r * k + i
            if silent[m]:  # declared silent: an empty message, padded to s zeros
                continue
            msg = _check_message(message(r, i, board, m), r, i, batch, s)
            n = used[r, i] = msg.shape[1]
            if n:
                store[m, :, :n] = msg
    # a copy: the output's copy of the protocol must not reach the rest of the board
    outputs = np.array(output(seal(store[R * k - 1])))
    if outputs.ndim < 1 or outputs.shape[0] != batch:
        raise BatchShapeError(f"{name}.output returned shape {outputs.shape}; expected ({batch},)")
    return Run(name, k, R, s, outputs, store, used, _seed_record(root))


def _silent_schedule(protocol: Protocol) -> list[bool]:
    return [not protocol.speaks(r, i) for r in range(protocol.R) for i in range(protocol.k)]


class Session(abc.ABC):
    """Runs one protocol on batch after batch under one isolation mode (a context manager).

    :func:`run` opens a session for one batch; :func:`protocols.estimate_success`
    keeps one open for all its chunks, so process isolation starts its speaker
    processes once.  Subclasses say how speakers are run (:meth:`_begin`).
    """

    def __init__(self, protocol: Protocol) -> None:
        if not isinstance(protocol, Protocol):
            raise ProtocolError(f"{protocol!r} is not a Protocol")
        self.protocol = protocol

    def run(self, inputs: Sequence[np.ndarray], seed: Seed = None, public: Mapping[str, Any] | None = None) -> Run:
        """Run the protocol on one batch (see :func:`run`)."""
        p = self.protocol
        own, batch = _check_inputs(inputs, p.k)
        pub = _check_public(public, batch)
        root = as_seed_sequence(seed)
        silent, message, output = self._begin(own, pub, root, batch)
        return _drive(p.name, (p.k, p.R, p.s, batch), silent, message, output, root)

    @abc.abstractmethod
    def _begin(self, own: list[np.ndarray], public: dict[str, np.ndarray], root: np.random.SeedSequence, batch: int):
        """Set up one run; return ``(silent, message, output)`` for :func:`_drive`."""

    def close(self) -> None:  # noqa: B027 (most sessions hold nothing to release)
        """Release what the session holds (processes); a closed session cannot run."""

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_READ_ONLY = ("read-only", "WRITEABLE")


class LocalSession(Session):
    """Isolation in this process (the default, ``isolation="in-process"``): see the module docstring.

    Per run: a fresh copy of the protocol for every speaker that speaks and one
    for :meth:`Protocol.output` (:func:`protocols.sealing.fresh_states`), sealed
    inputs and messages, coins that hold no seed, and a guard against
    monkey-patching.
    """

    def __init__(self, protocol: Protocol) -> None:
        super().__init__(protocol)
        # Once per session: speaks() may depend on k, R and s only.
        self.silent = _silent_schedule(protocol)
        self.talkers = sorted({m % protocol.k for m, quiet in enumerate(self.silent) if not quiet})

    def _begin(self, own, public, root, batch):
        p = self.protocol
        k, R, s = p.k, p.R, p.s
        silent, talkers = self.silent, self.talkers
        states = dict(zip([*talkers, k], fresh_states(p, len(talkers) + 1), strict=True))
        public_state, private = coin_states(root, talkers)
        coins = {i: Coins(public_state, private[i], i) for i in talkers}
        views = {i: MappingProxyType(dict(public)) for i in talkers}
        # The protocol's classes (shared by every copy) and the engine; speakers never hold the original object.
        guard = NamespaceGuard.of(type(p), ("protocols.engine", globals()))

        def message(r: int, i: int, sealed: np.ndarray, written: int) -> Any:
            board = BoardView(sealed, written, k, R, s, views[i], batch)
            try:
                msg = states[i].message(r, i, board, own[i], coins[i])
            except ValueError as e:
                if any(t in str(e) for t in _READ_ONLY):
                    raise SealedWriteError(
                        f"speaker {i} in round {r} tried to write read-only data (its input, a board message "
                        f"or public data): {e}"
                    ) from e
                raise
            guard.check(f"speaker {i} in round {r}")
            return msg

        def output(last: np.ndarray) -> Any:
            out = states[k].output(last)
            guard.check(f"{p.name}.output")
            return out

        return silent, message, output


#: isolation name -> :class:`Session` subclass (:mod:`protocols.workers` registers ``"process"``).
ISOLATION: dict[str, type[Session]] = {"in-process": LocalSession}


def open_session(protocol: Protocol, isolation: str = "in-process") -> Session:
    """A :class:`Session` running ``protocol`` under ``isolation`` (one of :data:`ISOLATION`).

    Examples
    --------
    >>> open_session(FunctionProtocol(1, 1, 1, lambda *a: a[3], lambda last: last[:, 0]), "threads")
    Traceback (most recent call last):
    ...
    protocols.errors.IsolationError: isolation 'threads' is unknown; use one of: in-process, process
    """
    if not isinstance(isolation, str) or isolation not in ISOLATION:
        raise IsolationError(f"isolation {isolation!r} is unknown; use one of: {', '.join(ISOLATION)}")
    return ISOLATION[isolation](protocol)


def run(
    protocol: Protocol,
    inputs: Sequence[np.ndarray],
    seed: Seed = None,
    public: Mapping[str, Any] | None = None,
    isolation: str = "in-process",
) -> Run:
    """Run ``protocol`` on a batch of inputs (docs/definitions.md §1).

    Parameters
    ----------
    protocol : Protocol
    inputs : sequence of k arrays, each with leading batch axis B; ``inputs[i]``
        is speaker i's input (speaking order).
    seed : seed for the public and private coins; same seed, same transcript.
    public : optional mapping of arrays (leading axis B) known to every player.
    isolation : ``"in-process"`` (default) or ``"process"`` (every speaker in its
        own OS process); what each guarantees: docs/definitions.md §1.1.  For an
        honest protocol both give the same outputs and board, bit for bit.

    Examples
    --------
    >>> import numpy as np
    >>> from protocols import PointerChasing
    >>> from protocols.library import OneHopPerRound
    >>> pc = PointerChasing(q=8, k=3)
    >>> inst = pc.sample(5, seed=1)
    >>> r = run(OneHopPerRound(pc), pc.inputs(inst), seed=2, public=pc.public(inst))
    >>> bool((r.outputs == pc.answer(inst)).all()), r.bits_written
    (True, 27)
    """
    own, batch = _check_inputs(inputs, protocol.k)  # bad input fails before any speaker starts
    pub = _check_public(public, batch)
    with open_session(protocol, isolation) as session:
        return session.run(own, seed, pub)


def replay_speaker(
    protocol: Protocol,
    speaker: int,
    board: np.ndarray,
    own: np.ndarray,
    seed: Mapping[str, Any],
    public: Mapping[str, Any] | None = None,
) -> np.ndarray:
    """One speaker alone, on a fresh copy of the protocol, against a recorded board.

    Returns its padded messages ``(B, R, s)`` of every round (zeros where it is
    silent), each computed from the recorded board prefix before it, its own
    input and its coins from the seed record ``seed``.  An honest speaker
    reproduces the recorded messages exactly; :func:`protocols.audit_locality`
    compares.
    """
    batch, R, k, s = board.shape
    state = fresh_states(protocol, 1)[0]
    public_state, private = coin_states(_seed_from_record(seed), [speaker])
    coins = Coins(public_state, private[speaker], speaker)
    pub = MappingProxyType(_check_public(public, batch))
    own = seal(own)
    # the recorded prefix is copied in turn by turn, so later messages read as zeros, as they did live
    recorded = board.reshape(batch, R * k, s)
    store, sealed = sealed_buffer((R * k, batch, s))
    filled = 0
    out = np.zeros((batch, R, s), np.uint8)
    for r in range(R):
        if protocol.speaks(r, speaker):
            m = r * k + speaker
            store[filled:m] = recorded[:, filled:m].transpose(1, 0, 2)
            filled = m
            view = BoardView(sealed.view(np.bool_), m, k, R, s, pub, batch)
            msg = _check_message(state.message(r, speaker, view, own, coins), r, speaker, batch, s)
            out[:, r, : msg.shape[1]] = msg
    return out
