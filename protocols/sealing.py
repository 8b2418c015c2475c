"""Sealed data and per-speaker protocol states: what in-process isolation is built from (docs/definitions.md §1.1).

Two tools keep players apart inside one Python process.

*Sealed arrays.*  A sealed array is backed by an immutable ``bytes`` object:
its ``WRITEABLE`` flag cannot be turned back on, and its ``.base`` chain ends
at those bytes, so no reference reaches a writable array.  The engine hands
speakers their inputs, the public data and every board message as sealed
arrays; an array that is already sealed is passed on without a copy.
The board is sealed memory the engine alone can write (:func:`sealed_buffer`):
two mappings of one zeroed memory file, a writable one the engine keeps and a
read-only one speakers see, so a message is written once and never copied.

*Per-speaker states.*  :func:`fresh_states` copies a protocol object once per
speaker (and once for :meth:`~protocols.Protocol.output`) by pickling it once
and unpickling it n times.  Whatever a speaker keeps in ``self`` stays in its
own copy.  Arrays the protocol holds read-only (model weights, tables) are
sealed once and *shared* by all copies instead of being copied n times:
sealed, they cannot carry anything from one speaker to another.  Writable
arrays are copied, since a speaker may legitimately scribble on its own.
Code is shared, not copied: functions (with their closures and globals),
classes and modules are the same objects in every copy — in one process that
is where isolation ends, and why process isolation exists.  For a speaker's
own process (:func:`protocol_bytes`) :mod:`cloudpickle` sends everything,
code defined in a notebook or a test function included.

Examples
--------
>>> a = seal(np.arange(4))
>>> is_sealed(a), seal(a) is a
(True, True)
>>> a.flags.writeable = True
Traceback (most recent call last):
...
ValueError: cannot set WRITEABLE flag to True of this array
"""

from __future__ import annotations

import io
import mmap
import operator
import os
import pickle
import sys
import tempfile
import threading
import types
from typing import Any, TypeVar

import cloudpickle
import numpy as np

from .errors import ProtocolError, TamperingError

__all__ = [
    "seal", "is_sealed", "sealed_buffer", "fresh_states", "protocol_bytes", "UnforkableProtocol", "NamespaceGuard",
]

T = TypeVar("T")


class UnforkableProtocol(ProtocolError):
    """A protocol object that cannot be copied per speaker (it does not pickle)."""


class _ReadOnlyMap(mmap.mmap):
    """A memory map opened with ``ACCESS_READ`` (only :func:`sealed_buffer` makes them)."""


def is_sealed(a: Any) -> bool:
    """Whether ``a`` is an ndarray whose memory nothing it leads to can write.

    Its ``.base`` chain ends at an immutable ``bytes`` object (:func:`seal`) or
    at the read-only map of a :func:`sealed_buffer`.

    Examples
    --------
    >>> is_sealed(np.zeros(3)), is_sealed(seal(np.zeros(3)))
    (False, True)
    """
    if type(a) is not np.ndarray or a.flags.writeable:
        return False
    base = a.base
    while type(base) is np.ndarray:
        base = base.base
    if type(base) is memoryview:  # np.frombuffer keeps a memoryview of a map
        base = base.obj
    return type(base) is bytes or type(base) is _ReadOnlyMap


def seal(a: Any) -> np.ndarray:
    """An immutable copy of ``a`` (``a`` itself if it is already sealed).

    The copy's memory is a ``bytes`` object, so ``flags.writeable = True``
    raises and ``.base`` leads to nothing writable.  Shape and dtype are kept;
    the copy is C-contiguous.

    Examples
    --------
    >>> s = seal(np.array([[1, 2], [3, 4]], np.uint8))
    >>> s.tolist(), s.base.__class__.__name__
    ([[1, 2], [3, 4]], 'ndarray')
    >>> s[0, 0] = 9
    Traceback (most recent call last):
    ...
    ValueError: assignment destination is read-only
    """
    if is_sealed(a):
        return a
    a = np.asarray(a)
    if a.dtype.hasobject:
        raise ProtocolError(f"cannot seal an array of dtype {a.dtype}: objects are references, not data")
    return np.frombuffer(a.tobytes(), dtype=a.dtype).reshape(a.shape)


#: The last few maps made, in use or free: a free one (nothing refers to it any more) is recycled
#: for the next buffer of its size, since fresh pages cost a page fault each (~5 us on a VM, more
#: than a small run's whole work) and recycled ones a memset.  A free map is held until a buffer
#: of another size is asked for, which drops every free one.
_SPARE_MAPS: list[tuple[int, mmap.mmap, _ReadOnlyMap]] = []
_SPARE_COUNT = 8
_SPARE_LOCK = threading.Lock()


def _forget_spares() -> None:
    # Before a fork: a child shares MAP_SHARED memory with its parent, so neither may recycle
    # maps that existed at the fork (a recycled board would show through the other's old arrays).
    with _SPARE_LOCK:
        _SPARE_MAPS.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(before=_forget_spares)


def _free(entry: tuple[int, mmap.mmap, _ReadOnlyMap]) -> bool:
    # Every array or memoryview over a map holds a reference to it; when none is left, the pool's
    # tuple and getrefcount's own argument are the only two.
    return sys.getrefcount(entry[1]) == 2 and sys.getrefcount(entry[2]) == 2


def _maps(nbytes: int) -> tuple[mmap.mmap, _ReadOnlyMap]:
    """A (writable, read-only) pair of maps of one zeroed memory file: recycled if one is free, else new."""
    with _SPARE_LOCK:
        for i, entry in enumerate(_SPARE_MAPS):
            if entry[0] == nbytes and _free(entry):
                _SPARE_MAPS.append(_SPARE_MAPS.pop(i))  # most recently used last
                np.frombuffer(entry[1], np.uint8)[:] = 0
                return entry[1], entry[2]
        # no free map of this size: drop the free ones (memory bounded by what is in use) and map anew
        _SPARE_MAPS[:] = [e for e in _SPARE_MAPS if not _free(e)]
    if hasattr(os, "memfd_create"):  # Linux: memory only, never a file on disk
        fd = os.memfd_create("kparty-board", os.MFD_CLOEXEC)
    else:
        with tempfile.TemporaryFile() as f:
            fd = os.dup(f.fileno())
    try:
        os.ftruncate(fd, nbytes)  # a new file reads as zeros
        wmap = mmap.mmap(fd, nbytes, access=mmap.ACCESS_WRITE)
        rmap = _ReadOnlyMap(fd, nbytes, access=mmap.ACCESS_READ)
    finally:
        os.close(fd)  # each map holds its own reference to the memory
    with _SPARE_LOCK:
        _SPARE_MAPS.append((nbytes, wmap, rmap))
        del _SPARE_MAPS[:-_SPARE_COUNT]
    return wmap, rmap


def sealed_buffer(shape: tuple[int, ...], dtype: Any = np.uint8) -> tuple[np.ndarray, np.ndarray]:
    """``(writer, reader)``: two arrays over the same zero-filled memory; ``reader`` is sealed.

    The memory is an anonymous file mapped twice, writable and read-only
    (``ACCESS_READ``).  Whoever holds ``writer`` fills it in; what it writes
    shows through ``reader`` at once, without a copy, and ``reader``'s
    ``WRITEABLE`` flag cannot be turned on, nor does its ``.base`` (the
    read-only map) lead to ``writer``.  The engine keeps the writer of the board
    and hands speakers views of the reader, so a message costs one write, not a
    sealed copy per message plus a stacked copy per reader.  Memory is recycled
    (zeroed) only once nothing refers to either map any more — no array, view
    or memoryview of it anywhere — and never across a fork.

    Examples
    --------
    >>> w, r = sealed_buffer((2, 3))
    >>> w[1] = 7
    >>> r.tolist(), is_sealed(r), is_sealed(w)
    ([[0, 0, 0], [7, 7, 7]], True, False)
    >>> r.flags.writeable = True
    Traceback (most recent call last):
    ...
    ValueError: cannot set WRITEABLE flag to True of this array
    """
    dtype = np.dtype(dtype)
    nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if nbytes == 0:  # nothing to map (and mmap refuses length 0)
        writer = np.zeros(shape, dtype)
        return writer, seal(writer)
    wmap, rmap = _maps(nbytes)
    return np.frombuffer(wmap, dtype).reshape(shape), np.frombuffer(rmap, dtype).reshape(shape)


#: Shared by every copy as the same object (code; see the module docstring).
_CODE = (types.FunctionType, types.BuiltinFunctionType, types.MethodType, types.ModuleType, type)


class _SharingPickler(pickle.Pickler):
    """Pickles code and read-only arrays as references into a table shared by all copies."""

    def __init__(self, file: io.BytesIO) -> None:
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self.shared: list[Any] = []
        self._index: dict[int, int] = {}
        self._keep: list[Any] = []  # keeps every indexed object alive, so no id is reused while pickling

    # reducer_override, unlike persistent_id, is not called for ints, floats and the like: far fewer calls.
    def reducer_override(self, obj: Any) -> Any:
        if type(obj) is np.ndarray:
            if obj.flags.writeable or obj.dtype.hasobject:
                return NotImplemented
        elif not isinstance(obj, _CODE) or obj is _shared:
            return NotImplemented
        key = id(obj)
        if key not in self._index:
            self._index[key] = len(self.shared)
            self.shared.append(seal(obj) if type(obj) is np.ndarray else obj)
            self._keep.append(obj)
        return _shared, (self._index[key],)


class _SharingUnpickler(pickle.Unpickler):
    def __init__(self, data: bytes, shared: list[Any]) -> None:
        super().__init__(io.BytesIO(data))
        self.shared = shared

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == (__name__, "_shared"):
            return self._lookup
        return super().find_class(module, name)

    def _lookup(self, index: int) -> Any:
        return self.shared[index]


def _shared(index: int) -> Any:
    """Stands for a shared object in a fork's pickle; :class:`_SharingUnpickler` resolves it."""
    raise ProtocolError(f"shared object {index} outside fresh_states")


def fresh_states(protocol: T, n: int) -> list[T]:
    """``n`` independent copies of ``protocol`` that share only code and sealed read-only arrays.

    Raises :class:`UnforkableProtocol` if the protocol does not pickle (it holds
    a lock, an open file, a generator...); define ``__getstate__`` to say what a
    copy needs.

    Examples
    --------
    >>> from protocols import PointerChasing
    >>> from protocols.library import OneHopPerRound
    >>> p = OneHopPerRound(PointerChasing(q=8, k=2))
    >>> a, b = fresh_states(p, 2)
    >>> a is not b and a.pc == b.pc, a.advances is b.advances
    (True, False)
    """
    buf = io.BytesIO()
    pickler = _SharingPickler(buf)
    try:
        pickler.dump(protocol)
    except Exception as e:  # pickling raises many types (TypeError, PicklingError, AttributeError...)
        raise UnforkableProtocol(
            f"{protocol!r} cannot be copied per speaker ({type(e).__name__}: {e}); "
            "every speaker needs its own state — make the protocol picklable (e.g. define __getstate__)"
        ) from e
    # One unpickler reads n back-to-back copies of the stream (each stream memoizes what it reuses).
    unpickler = _SharingUnpickler(buf.getvalue() * n, pickler.shared)
    return [unpickler.load() for _ in range(n)]


def protocol_bytes(protocol: Any) -> bytes:
    """The protocol pickled whole (arrays included) for a speaker's own process.

    Examples
    --------
    >>> import pickle
    >>> from protocols import PointerChasing
    >>> from protocols.library import Guess
    >>> pickle.loads(protocol_bytes(Guess(PointerChasing(q=4, k=2))))
    guess(k=2, R=1, s=1)
    """
    try:
        return cloudpickle.dumps(protocol, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as e:  # see fresh_states
        raise UnforkableProtocol(
            f"{protocol!r} cannot be sent to a speaker's process ({type(e).__name__}: {e}); "
            "make the protocol picklable (e.g. define __getstate__)"
        ) from e


#: Names Python itself caches in class dicts (copyreg stores ``__slotnames__`` on a class's first pickle).
_CACHES = frozenset({"__slotnames__"})


class NamespaceGuard:
    """Notices monkey-patching: a name rebound in any of some namespaces since the guard was made.

    In one process a protocol can rebind anything; the engine guards its own
    globals and the protocol's classes (a class attribute is a channel between
    speakers), and :func:`protocols.estimate_success` the problem's class and
    attributes (e.g. ``answer``).  :meth:`check` raises :class:`TamperingError`.

    Examples
    --------
    >>> class P:
    ...     x = 1
    >>> g = NamespaceGuard.of(P)
    >>> P.x = 2
    >>> g.check("speaker 0 in round 0")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    protocols.errors.TamperingError: speaker 0 in round 0 rebound P.x during the run; ...
    """

    def __init__(self, spaces: list[tuple[str, Any]]) -> None:
        self.spaces = [(label, d, list(d), list(d.values())) for label, d in spaces]

    @classmethod
    def of(cls, obj: Any, *extra: tuple[str, Any]) -> NamespaceGuard:
        """A guard over ``obj``'s classes (``obj`` itself if it is a class) and its instance dict, plus ``extra``."""
        kind = obj if isinstance(obj, type) else type(obj)
        spaces = [(c.__qualname__, c.__dict__) for c in kind.__mro__ if c is not object]
        if not isinstance(obj, type) and hasattr(obj, "__dict__"):
            spaces.append((f"{kind.__qualname__} instance", obj.__dict__))
        return cls([*spaces, *extra])

    def check(self, who: str) -> None:
        for j, (label, d, keys, values) in enumerate(self.spaces):
            # One C-level pass in the common case; the slow search only names what changed.
            if len(d) != len(keys) or not all(map(operator.is_, map(d.get, keys), values)):
                old = dict(zip(keys, values, strict=True))
                names = [n for n in [*keys, *d] if n not in d or n not in old or d[n] is not old[n]]
                names = [n for n in names if n not in _CACHES]
                if names:
                    raise TamperingError(
                        f"{who} rebound {label}.{names[0]} during the run; protocols may not patch the engine, "
                        "their classes or the problem (docs/definitions.md §1.1)"
                    )
                self.spaces[j] = (label, d, list(d), list(d.values()))
