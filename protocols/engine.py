"""The blackboard engine: run a (k, R, s) protocol on a batch (docs/definitions.md §1, [SHT24] Def. E.1).

k speakers, indexed ``0..k-1`` in speaking order, speak once each per round for
R rounds.  A speaker sees only the board so far (read-only), its own input and
its coins, and writes at most ``s`` bits; shorter messages are zero-padded to
``s`` (length never carries information).  After R rounds the protocol's
:meth:`Protocol.output` decodes the answer from the last message of the last
speaker — nothing else decides it.

The engine alone calls players, validates, pads and stores messages and counts
bits.  Everything is batched: inputs carry a leading batch axis ``B``.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import (
    BatchShapeError,
    InputCountError,
    MessageTooLong,
    NonBinaryMessage,
    ProtocolError,
    VisibilityError,
)
from .lazy_input import LazyInput
from .seeding import Seed, as_seed_sequence, child_seed

if TYPE_CHECKING:  # transcript.py imports this module
    from .transcript import Transcript

__all__ = ["Protocol", "FunctionProtocol", "BoardView", "Coins", "Run", "run"]


class Protocol(abc.ABC):
    """A k-party sequential blackboard protocol with R rounds of s-bit messages.

    Subclasses implement :meth:`message` and :meth:`output`; both are vectorised
    over the batch.  A protocol must be a pure function of what the engine
    hands it (board, own input, coins): :func:`protocols.audit_locality` checks.

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
        for label, v in (("k", k), ("R", R), ("s", s)):
            if not isinstance(v, (int, np.integer)) or v < 1:
                raise ProtocolError(f"{label} = {v!r} is invalid; {label} must be a positive integer")
        self.k, self.R, self.s = int(k), int(R), int(s)
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
    """

    __slots__ = ("_root", "_public", "_private", "speaker")

    def __init__(self, root: np.random.SeedSequence, speaker: int):
        # Children are derived on first use: most messages never touch their coins.
        self._root, self.speaker = root, speaker
        self._public: np.random.SeedSequence | None = None
        self._private: np.random.SeedSequence | None = None

    @property
    def public(self) -> np.random.Generator:
        if self._public is None:
            self._public = child_seed(self._root, 0)
        return np.random.default_rng(self._public)

    @property
    def private(self) -> np.random.Generator:
        if self._private is None:
            self._private = child_seed(self._root, 1, self.speaker)
        return np.random.default_rng(self._private)


def _coins(seed: np.random.SeedSequence, k: int) -> list[Coins]:
    return [Coins(seed, i) for i in range(k)]


def _readonly(a: np.ndarray) -> np.ndarray:
    v = a.view()
    v.flags.writeable = False
    return v


class _Store:
    """The board's bytes, message-major ``(R*k, B, s)``: one message is one contiguous block.

    The array is allocated uninitialised and only ever handed out as read-only
    views of blocks that hold messages: a silent (0-bit) message's block is
    zero-filled the first time anyone looks at it.  Most messages of a typical
    protocol are silent, so this saves writing the whole board.
    """

    __slots__ = ("array", "pending")

    def __init__(self, array: np.ndarray, pending: set[int] | None = None) -> None:
        self.array, self.pending = array, set() if pending is None else pending

    def _zero(self, stop: int) -> None:
        for m in [m for m in self.pending if m < stop]:
            self.array[m] = 0
            self.pending.discard(m)

    # Players read bool views: the engine checked every byte is 0/1 when it was written,
    # so codecs need not check again (a zero-copy view of the same memory).
    def block(self, m: int) -> np.ndarray:
        if m in self.pending:
            self._zero(m + 1)
        return _readonly(self.array[m]).view(np.bool_)

    def prefix(self, stop: int) -> np.ndarray:
        if self.pending:
            self._zero(stop)
        return _readonly(self.array[:stop]).view(np.bool_)


class BoardView:
    """Read-only view of the board before one speaker's turn.

    Messages come as read-only ``bool`` arrays ``(B, s)``: the engine checked
    every bit when it was written, so codecs decode them without re-checking.

    Messages are numbered in speaking order ``m = round * k + speaker``; only
    ``m < written`` are visible.  ``public`` holds data known to every player
    before the protocol starts (e.g. the pointer-chasing start vertex).
    """

    __slots__ = ("_store", "written", "k", "R", "s", "public")

    def __init__(self, store: _Store, written: int, k: int, R: int, s: int, public: Mapping[str, np.ndarray]):
        self._store, self.written, self.k, self.R, self.s, self.public = store, written, k, R, s, public

    @property
    def batch(self) -> int:
        return self._store.array.shape[1]

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
        return self._store.block(m)

    def messages(self) -> np.ndarray:
        """All visible messages, ``(B, written, s)``, in speaking order."""
        return self._store.prefix(self.written).transpose(1, 0, 2)

    def last(self) -> np.ndarray:
        """The most recent message ``(B, s)``."""
        if not self.written:
            raise VisibilityError("the board is empty; there is no last message")
        return self._store.block(self.written - 1)


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


def _check_inputs(inputs: Sequence[Any], k: int) -> tuple[list[np.ndarray], int]:
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
    # A view into a shared buffer would let a player reach others' data via .base.
    own = [x if isinstance(x, LazyInput) else _readonly(x if x.base is None else x.copy()) for x in arrays]
    return own, arrays[0].shape[0]


def _check_public(public: Mapping[str, Any] | None, batch: int) -> dict[str, np.ndarray]:
    out = {}
    for key, value in (public or {}).items():
        v = np.asarray(value)
        if v.ndim and v.shape[0] != batch:
            raise BatchShapeError(f"public field {key!r} has batch size {v.shape[0]}; inputs have {batch}")
        out[key] = _readonly(v)
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
        a view of the message-major ``store``, so ``board[:, r, i]`` is contiguous).
    used : (R, k) int — bits each speaker actually wrote before padding.
    """

    name: str
    k: int
    R: int
    s: int
    outputs: np.ndarray
    store: _Store = field(repr=False)
    used: np.ndarray
    seed: dict = field(repr=False)

    @property
    def board(self) -> np.ndarray:
        R, k = self.R, self.k
        return self.store.prefix(R * k).view(np.uint8).reshape(R, k, self.batch, self.s).transpose(2, 0, 1, 3)

    @property
    def batch(self) -> int:
        return self.store.array.shape[1]

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
        return self.store.block(round * self.k + speaker).view(np.uint8)

    def transcript(self, b: int) -> Transcript:
        """The transcript of instance ``b`` (see :class:`protocols.Transcript`)."""
        from .transcript import Transcript

        return Transcript.from_run(self, b)


def run(
    protocol: Protocol,
    inputs: Sequence[np.ndarray],
    seed: Seed = None,
    public: Mapping[str, Any] | None = None,
) -> Run:
    """Run ``protocol`` on a batch of inputs (docs/definitions.md §1).

    Parameters
    ----------
    protocol : Protocol
    inputs : sequence of k arrays, each with leading batch axis B; ``inputs[i]``
        is speaker i's input (speaking order).
    seed : seed for the public and private coins; same seed, same transcript.
    public : optional mapping of arrays (leading axis B) known to every player.

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
    k, R, s = protocol.k, protocol.R, protocol.s
    own, batch = _check_inputs(inputs, k)
    pub = _check_public(public, batch)
    root = as_seed_sequence(seed)
    coins = _coins(root, k)
    store = _Store(np.empty((R * k, batch, s), dtype=np.uint8))
    used = np.zeros((R, k), dtype=np.int64)
    message = protocol.message
    speaks = protocol.speaks
    for r in range(R):
        for i in range(k):
            m = r * k + i
            if not speaks(r, i):  # declared silent: an empty message, padded to s zeros
                store.pending.add(m)
                continue
            view = BoardView(store, m, k, R, s, pub)
            msg = _check_message(message(r, i, view, own[i], coins[i]), r, i, batch, s)
            n = used[r, i] = msg.shape[1]
            if n == 0:
                store.pending.add(m)
                continue
            block = store.array[m]
            if n < s:
                block.fill(0)
            block[:, :n] = msg
    outputs = np.asarray(protocol.output(store.block(R * k - 1).view(np.uint8)))
    if outputs.ndim < 1 or outputs.shape[0] != batch:
        raise BatchShapeError(f"{protocol.name}.output returned shape {outputs.shape}; expected ({batch},)")
    return Run(protocol.name, k, R, s, outputs, store, used, _seed_record(root))


def speak(
    protocol: Protocol,
    round: int,
    speaker: int,
    board: np.ndarray,
    own: np.ndarray,
    seed: Mapping[str, Any],
    public: Mapping[str, Any] | None = None,
) -> np.ndarray:
    """Re-run one speaker on a recorded board prefix; returns its padded ``(B, s)`` message.

    ``board`` is a run's ``(B, R, k, s)`` board; ``seed`` its seed record.  Used
    by :func:`protocols.audit_locality`.
    """
    batch, R, k, s = board.shape
    if not protocol.speaks(round, speaker):
        return np.zeros((batch, s), np.uint8)
    store = _Store(np.ascontiguousarray(board.transpose(1, 2, 0, 3)).reshape(R * k, batch, s))
    view = BoardView(store, round * k + speaker, k, R, s, _check_public(public, batch))
    coins = _coins(_seed_from_record(seed), k)[speaker]
    msg = _check_message(protocol.message(round, speaker, view, _readonly(own), coins), round, speaker, batch, s)
    out = np.zeros((batch, s), np.uint8)
    out[:, : msg.shape[1]] = msg
    return out
