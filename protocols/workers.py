"""Process isolation: every speaker in its own OS process (``isolation="process"``, docs/definitions.md §1.1).

A :class:`ProcessSession` starts k + 1 worker processes, never as forks of the
caller (which would inherit every input in its memory): a clean ``forkserver``
starts a *zygote* that unpickles the protocol once — importing what it needs —
and forks the workers from itself.  Worker ``i`` is speaker ``i`` and the last
one decodes the output.  They live as long as the session — all the chunks of
an estimate — not one message.  Each worker receives only

- the protocol, pickled whole by :mod:`cloudpickle` when the session opens
  (before any instance exists), unpickled afresh for every run;
- per run, its own input, its public and private coin states and the public
  data — a speaker that never speaks receives nothing;
- per turn, the board's new messages as packed bits;

and sends back only raw bytes: its message (dtype, shape, data) or an error
text.  The coordinating process never unpickles anything a worker sends, runs
no protocol code, and checks every message with the same rules as in-process.
The output worker sees the last message and nothing else.

Workers never import the caller's ``__main__`` (cloudpickle sends protocols
defined there by value), so scripts, notebooks and ``python -c`` work as they
are.
"""

from __future__ import annotations

import multiprocessing
import pickle
import re
import struct
import sys
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from multiprocessing.connection import Connection
from types import MappingProxyType, SimpleNamespace
from typing import Any

import numpy as np

from .engine import ISOLATION, BoardView, Coins, Protocol, Session, coin_states
from .errors import IsolationError, SpeakerError
from .sealing import protocol_bytes, seal, sealed_buffer

__all__ = ["ProcessSession"]

_CTX = multiprocessing.get_context("forkserver")
# scipy.special: the heaviest import of model protocols; loaded once in the server, not per session.
_CTX.set_forkserver_preload(["numpy", "scipy.special", "protocols"])

#: dtypes a worker may send: booleans and plain numbers (never objects).
_DTYPE = re.compile(r"[<>|=][biuf][1248]")
_HEAD = struct.Struct("<c8sB")
_MAX_NDIM = 8


def _array_frame(kind: bytes, value: Any) -> bytes:
    a = np.ascontiguousarray(np.asarray(value))
    if not _DTYPE.fullmatch(a.dtype.str) or a.ndim > _MAX_NDIM:
        raise TypeError(f"returned an array of dtype {a.dtype} and {a.ndim} dimensions; expected numbers")
    return _HEAD.pack(kind, a.dtype.str.encode(), a.ndim) + struct.pack(f"<{a.ndim}q", *a.shape) + a.tobytes()


def _read_frame(frame: bytes, who: str) -> np.ndarray:
    """Parse a worker's reply without trusting it: only numbers, and the byte count must match."""
    if len(frame) < _HEAD.size:
        raise SpeakerError(f"{who} sent a malformed reply of {len(frame)} bytes")
    kind, dtype, ndim = _HEAD.unpack_from(frame)
    if kind == b"E":
        raise SpeakerError(f"{who} raised {frame[_HEAD.size:].decode('utf-8', 'replace')}")
    dtype = dtype.rstrip(b"\0").decode("ascii", "replace")
    if kind not in (b"M", b"O") or not _DTYPE.fullmatch(dtype) or ndim > _MAX_NDIM:
        raise SpeakerError(f"{who} sent a malformed reply (kind {kind!r}, dtype {dtype!r}, {ndim} dimensions)")
    end = _HEAD.size + 8 * ndim
    shape = struct.unpack_from(f"<{ndim}q", frame, _HEAD.size)
    dt = np.dtype(dtype)
    if min(shape, default=0) < 0 or int(np.prod(shape, dtype=np.int64)) * dt.itemsize != len(frame) - end:
        raise SpeakerError(f"{who} sent {len(frame) - end} bytes for an array of shape {shape} and dtype {dtype}")
    return np.frombuffer(frame, dtype=dt, offset=end).reshape(shape)


@contextmanager
def _main_left_alone() -> Iterator[None]:
    """While workers start, name ``__main__``'s spec ``"__main__"``: multiprocessing then skips re-running it."""
    main = sys.modules["__main__"]
    had, spec = hasattr(main, "__spec__"), getattr(main, "__spec__", None)
    main.__spec__ = SimpleNamespace(name="__main__")
    try:
        yield
    finally:
        if had:
            main.__spec__ = spec
        else:
            del main.__spec__


def _serve(conn: Connection) -> None:
    """A worker's loop: one speaker (or the output), one request at a time."""
    data: bytes = b""
    state: Any = None
    own = coins = public = None
    store = sealed = None
    written = 0
    while True:
        try:
            request = conn.recv()
        except EOFError:
            return
        op = request[0]
        try:
            if op == "stop":
                return
            if op == "load":
                data, speaker = request[1], request[2]
                p = pickle.loads(data)
                silent = b"" if speaker is None else bytes(not p.speaks(r, speaker) for r in range(p.R))
                conn.send_bytes(_array_frame(b"O", np.frombuffer(silent, np.uint8)))
            elif op == "begin":
                _, own, public_state, private_state, speaker, pub = request
                state = pickle.loads(data)  # a fresh state for every run
                own, written = seal(own), 0
                store, sealed = sealed_buffer((state.R * state.k, own.shape[0], state.s))
                coins = Coins(public_state, private_state, speaker)
                public = MappingProxyType({key: seal(v) for key, v in pub.items()})
                conn.send_bytes(_array_frame(b"O", np.zeros(0, np.uint8)))
            elif op == "turn":
                _, r, i, now, packed = request
                if packed is not None:
                    new = np.unpackbits(packed, axis=-1, count=state.s)
                    store[written : written + len(new)] = new
                    written += len(new)
                if written != now:
                    raise RuntimeError(f"board out of step: {written} messages here, {now} written")
                board = BoardView(sealed.view(np.bool_), written, state.k, state.R, state.s, public, own.shape[0])
                conn.send_bytes(_array_frame(b"M", state.message(r, i, board, own, coins)))
            elif op == "output":
                conn.send_bytes(_array_frame(b"O", pickle.loads(data).output(seal(request[1]))))
        except Exception as e:  # reported to the coordinator as text, never as a pickled object
            tb = traceback.format_exc(limit=-3)
            text = f"{type(e).__name__}: {e}\n(in its own process; the end of its traceback:)\n{tb}"
            conn.send_bytes(_HEAD.pack(b"E", b"", 0) + text.encode("utf-8", "replace"))


def _worker(conns: list[Connection], slot: int) -> None:
    """A forked worker keeps only its own connection, so a dead worker's pipe closes for the coordinator."""
    for j, conn in enumerate(conns):
        if j != slot:
            conn.close()
    _serve(conns[slot])


def _zygote(data: bytes, conns: list[Connection]) -> None:
    """Import what the protocol needs once, then fork one worker per connection.

    The zygote has seen the protocol and nothing else, so forking it hands each
    worker no one's data, and k + 1 workers cost one import instead of k + 1.
    """
    pickle.loads(data)
    fork = multiprocessing.get_context("fork")
    workers = [fork.Process(target=_worker, args=(conns, slot), daemon=True) for slot in range(len(conns))]
    for w in workers:
        w.start()
    for conn in conns:
        conn.close()
    for w in workers:
        w.join()


class ProcessSession(Session):
    """Speakers in their own processes (``isolation="process"``; see the module docstring)."""

    def __init__(self, protocol: Protocol) -> None:
        super().__init__(protocol)
        data = protocol_bytes(protocol)  # before any worker starts: an unpicklable protocol fails first
        k, R = protocol.k, protocol.R
        self._conns: list[Connection] = []
        theirs: list[Connection] = []
        try:
            for _ in range(k + 1):
                mine, other = _CTX.Pipe()
                self._conns.append(mine)
                theirs.append(other)
            with _main_left_alone():
                self._zygote = _CTX.Process(target=_zygote, args=(data, theirs), name="kparty-speakers")
                self._zygote.start()
        except Exception as e:  # e.g. started from a daemonic process, or out of processes
            self.close()
            raise IsolationError(f"could not start {k + 1} speaker processes for process isolation: {e}") from e
        finally:
            for other in theirs:
                other.close()
        try:
            for slot in range(k + 1):
                self._send(slot, ("load", data, slot if slot < k else None), "loading the protocol")
            silent = [self._recv(slot, "loading the protocol") for slot in range(k + 1)][:k]
            for i, s in enumerate(silent):
                if s.shape != (R,):
                    raise SpeakerError(f"speaker {i} sent a speaking schedule of shape {s.shape}; expected ({R},)")
        except BaseException:  # no session object reaches the caller: stop the processes here
            self.close()
            raise
        self.silent = [bool(silent[m % k][m // k]) for m in range(R * k)]

    def _who(self, slot: int) -> str:
        return "the output" if slot == self.protocol.k else f"speaker {slot}"

    def _send(self, slot: int, request: tuple, when: str) -> None:
        try:
            self._conns[slot].send(request)
        except (OSError, EOFError) as e:
            raise self._died(slot, when) from e

    def _recv(self, slot: int, when: str) -> np.ndarray:
        try:
            frame = self._conns[slot].recv_bytes()
        except (OSError, EOFError) as e:
            raise self._died(slot, when) from e
        return _read_frame(frame, f"{self._who(slot)} {when}")

    def _died(self, slot: int, when: str) -> SpeakerError:
        return SpeakerError(f"{self._who(slot)}'s process died {when} (its connection closed)")

    def _begin(self, own, public, root, batch):
        p = self.protocol
        k = p.k
        if not self._conns:
            raise IsolationError("this process-isolation session is closed; open a new one")
        talkers = sorted({m % k for m, quiet in enumerate(self.silent) if not quiet})
        public_state, private = coin_states(root, talkers)
        for i in talkers:
            self._send(i, ("begin", own[i], public_state, private[i], i, dict(public)), "starting a run")
        for i in talkers:
            self._recv(i, "starting a run")
        sent = dict.fromkeys(talkers, 0)

        def message(r: int, i: int, board: np.ndarray, written: int) -> np.ndarray:
            packed = np.packbits(board[sent[i] : written], axis=-1) if written > sent[i] else None
            sent[i] = written
            when = f"in round {r}"
            self._send(i, ("turn", r, i, written, packed), when)
            return self._recv(i, when)

        def output(last: np.ndarray) -> np.ndarray:
            self._send(k, ("output", np.array(last)), "decoding the output")
            return self._recv(k, "decoding the output")

        return self.silent, message, output

    def close(self) -> None:
        for conn in self._conns:
            try:
                conn.send(("stop",))
            except (OSError, EOFError):
                pass  # already gone
            conn.close()  # a worker still busy sees the pipe close and exits
        self._conns = []
        zygote, self._zygote = getattr(self, "_zygote", None), None
        if zygote is not None:
            zygote.join(timeout=5)
            if zygote.is_alive():
                zygote.kill()
                zygote.join()


ISOLATION["process"] = ProcessSession
